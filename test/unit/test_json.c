/* Unit tests of core/json: strict parsing and strings that hold U+0000. */
#include <string.h>

#include "core/json.h"
#include "t.h"

static cJSON *parse(const char *s) { return chat_json_parse(s, strlen(s)); }

static const cJSON *field(const cJSON *o, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void test_strict(void) {
  cJSON *v;

  v = parse("{\"a\":\"x\",\"b\":[1,2]}  \r\n");
  T_CHECK(cJSON_IsObject(v));
  T_CHECK(!chat_json_has_nul(v));
  T_EQ_STR(field(v, "a")->valuestring, "x");
  cJSON_Delete(v);
  T_CHECK(parse("") == NULL);
  T_CHECK(parse("{} {}") == NULL);
  T_CHECK(parse("{\"a\":1} x") == NULL);
  T_CHECK(parse("{\"a\":\"\xff\"}") == NULL);
  T_CHECK(chat_json_parse("{\"a\":\"x\0\"}", 9) == NULL);  /* a raw NUL byte */
  T_CHECK(chat_json_parse(NULL, 0) == NULL);
  T_CHECK(!chat_json_has_nul(NULL));
}

static void test_nul_strings(void) {
  cJSON *v;
  const cJSON *t;

  /* A string value holding U+0000 is not a string any more: never cut. */
  v = parse("{\"type\":\"send\",\"room\":1,\"text\":\"pass\\u0000word\",\"cid\":\"c1\"}");
  T_CHECK(cJSON_IsObject(v));
  T_CHECK(chat_json_has_nul(v));
  t = field(v, "text");
  T_CHECK(t != NULL && !cJSON_IsString(t) && cJSON_IsInvalid(t));
  T_CHECK(chat_json_has_nul(t));
  T_CHECK(cJSON_GetStringValue(t) == NULL);
  /* Its neighbours are untouched. */
  T_CHECK(cJSON_IsString(field(v, "type")) && !chat_json_has_nul(field(v, "type")));
  T_EQ_STR(field(v, "cid")->valuestring, "c1");
  T_CHECK(cJSON_IsNumber(field(v, "room")));
  cJSON_Delete(v);

  /* At the start, at the end, alone, several, nested in arrays. */
  v = parse("[\"\\u0000a\",\"ok\",{\"k\":[\"b\\u0000\",\"\\u0000\"]},\"\\u0000\\u0000\",\"x\"]");
  T_CHECK(chat_json_has_nul(v));
  T_CHECK(cJSON_IsInvalid(cJSON_GetArrayItem(v, 0)));
  T_EQ_STR(cJSON_GetArrayItem(v, 1)->valuestring, "ok");
  t = field(cJSON_GetArrayItem(v, 2), "k");
  T_CHECK(cJSON_IsInvalid(cJSON_GetArrayItem(t, 0)));
  T_CHECK(cJSON_IsInvalid(cJSON_GetArrayItem(t, 1)));
  T_CHECK(cJSON_IsInvalid(cJSON_GetArrayItem(v, 3)));
  T_EQ_STR(cJSON_GetArrayItem(v, 4)->valuestring, "x");
  cJSON_Delete(v);

  /* The root itself. */
  v = parse("\"\\u0000\"");
  T_CHECK(v != NULL && cJSON_IsInvalid(v) && chat_json_has_nul(v));
  cJSON_Delete(v);

  /* Not U+0000: an escaped backslash before "u0000", other escapes. */
  v = parse("{\"a\":\"\\\\u0000\",\"b\":\"\\u0001\\u00000\",\"c\":\"\\u0100\"}");
  T_CHECK(v != NULL);
  T_CHECK(cJSON_IsString(field(v, "a")));
  T_EQ_STR(field(v, "a")->valuestring, "\\u0000");
  T_CHECK(cJSON_IsInvalid(field(v, "b")));  /* \u0000 then a '0' */
  T_CHECK(cJSON_IsString(field(v, "c")));
  cJSON_Delete(v);

  /* Strings with escaped quotes before the marked one keep the count. */
  v = parse("{\"q\\\"x\":\"a\\\"b\",\"n\":\"\\u0000\",\"z\":\"\\\\\"}");
  T_CHECK(v != NULL);
  T_EQ_STR(field(v, "q\"x")->valuestring, "a\"b");
  T_CHECK(cJSON_IsInvalid(field(v, "n")));
  T_EQ_STR(field(v, "z")->valuestring, "\\");
  cJSON_Delete(v);
}

static void test_bad_u_escapes(void) {
  /* cJSON reads a \u escape with digits that are not hex as U+0000 and
   * cuts the string there: "bob\u000z" would be "bob".  Not JSON. */
  T_CHECK(parse("{\"to\":\"bob\\u000z\"}") == NULL);
  T_CHECK(parse("{\"to\":\"bob\\uZZZZ\"}") == NULL);
  T_CHECK(parse("{\"to\":\"bob\\u000\xe4\xbd\xa0\xe5\xa5\xbd\"}") == NULL);  /* \u000你好 */
  T_CHECK(parse("{\"to\":\"bob\\u12\"}") == NULL);
  T_CHECK(parse("{\"a\\u00g0\":1}") == NULL);  /* in a member name too */
  T_CHECK(parse("[\"ok\",\"\\ud83d\\uzzzz\"]") == NULL);
  /* Good escapes, upper and lower case, and a backslash before "u". */
  cJSON *v = parse("{\"a\":\"\\u4E0A\\u6d77\",\"b\":\"\\\\uZZZZ\",\"c\":\"\\ud83d\\ude00\"}");
  T_CHECK(v != NULL);
  T_EQ_STR(field(v, "a")->valuestring, "\xe4\xb8\x8a\xe6\xb5\xb7");  /* 上海 */
  T_EQ_STR(field(v, "b")->valuestring, "\\uZZZZ");
  T_EQ_STR(field(v, "c")->valuestring, "\xf0\x9f\x98\x80");
  cJSON_Delete(v);
}

static void test_nul_names(void) {
  /* A member name with U+0000 would pose as another member: refused. */
  T_CHECK(parse("{\"text\\u0000x\":\"hi\"}") == NULL);
  T_CHECK(parse("[{\"a\":1},{\"b\\u0000\":2}]") == NULL);
  T_CHECK(parse("{\"\\u0000\":\"\\u0000\"}") == NULL);
}

int main(void) {
  T_RUN(test_strict);
  T_RUN(test_nul_strings);
  T_RUN(test_nul_names);
  T_RUN(test_bad_u_escapes);
  return T_DONE();
}
