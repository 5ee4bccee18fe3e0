/* chatbench's JSON scanning (bench/bench_json.c): the fields of the
 * server's frames, strings with and without escapes, malformed input. */
#include "../../bench/bench_json.c"

#include "t.h"

static int fields(const char *s, fields_t *f) { return bench_json_fields(s, strlen(s), f); }

static int span_eq(const span_t *s, const char *want) {
  return s->present && s->n == strlen(want) && memcmp(s->p, want, s->n) == 0;
}

static void test_message_frame(void) {
  fields_t f;
  const char *s =
      "{\"type\":\"message\",\"id\":12,\"room\":3,\"user\":{\"id\":7,\"name\":\"张三\"},"
      "\"text\":\"t:1:2 上海 ok\",\"ts\":1700000000000,\"seq\":5,\"files\":[{\"a\":\"}\"}]}";
  T_EQ_INT(fields(s, &f), 0);
  T_CHECK(span_eq(&f.type, "message"));
  T_CHECK(span_eq(&f.text, "t:1:2 上海 ok"));
  T_CHECK(span_eq(&f.room, "3"));
  T_CHECK(!f.cid.present && !f.code.present);
}

static void test_escapes(void) {
  fields_t f;
  /* an escaped quote, an escaped backslash before the closing quote, and
   * three backslashes (an escaped backslash, then an escaped quote) */
  T_EQ_INT(fields("{\"type\":\"ack\",\"cid\":\"a\\\"b\",\"text\":\"c\\\\\",\"code\":\"d\\\\\\\"e\"}", &f), 0);
  T_CHECK(span_eq(&f.type, "ack"));
  T_CHECK(span_eq(&f.cid, "a\\\"b"));
  T_CHECK(span_eq(&f.text, "c\\\\"));
  T_CHECK(span_eq(&f.code, "d\\\\\\\"e"));
  /* a key with an escape is not one of ours */
  T_EQ_INT(fields("{\"ty\\\"pe\":\"x\",\"type\":\"y\"}", &f), 0);
  T_CHECK(span_eq(&f.type, "y"));
  T_EQ_INT(fields("{}", &f), 0);
  T_CHECK(!f.type.present);
}

static void test_malformed(void) {
  fields_t f;
  T_EQ_INT(fields("", &f), -1);
  T_EQ_INT(fields("[1]", &f), -1);
  T_EQ_INT(fields("{\"type\":\"message", &f), -1);    /* string never closed */
  T_EQ_INT(fields("{\"type\":\"a\\\"}", &f), -1);     /* the only quote after is escaped */
  T_EQ_INT(fields("{\"type\" \"a\"}", &f), -1);       /* no colon */
  T_EQ_INT(fields("{\"type\":\"a\",}", &f), -1);      /* a comma, then nothing */
  T_EQ_INT(fields("{\"type\":\"a\" \"b\":1}", &f), -1);
  T_EQ_INT(fields("{\"a\":{\"b\":\"}\"}", &f), -1);   /* the object is never closed */
}

static int fast_text(const char *s, span_t *t) { return bench_json_message_text(s, strlen(s), t); }

static void test_message_fast_path(void) {
  span_t t;
  T_EQ_INT(fast_text("{\"type\":\"message\",\"id\":1,\"room\":2,\"seq\":3,\"sender\":\"张三\","
                     "\"text\":\"t:1:2 上海\",\"ts\":4}", &t), 0);
  T_CHECK(span_eq(&t, "t:1:2 上海"));
  /* right after the type; an escaped key-like text inside another string */
  T_EQ_INT(fast_text("{\"type\":\"message\",\"text\":\"a\\\"b\"}", &t), 0);
  T_CHECK(span_eq(&t, "a\\\"b"));
  T_EQ_INT(fast_text("{\"type\":\"message\",\"sender\":\",\\\"text\\\":\\\"x\",\"text\":\"y\"}", &t), 0);
  T_CHECK(span_eq(&t, "y"));
  /* not for it: another type, a nested object, no text, a cut frame */
  T_EQ_INT(fast_text("{\"type\":\"ack\",\"text\":\"x\"}", &t), -1);
  T_EQ_INT(fast_text("{\"type\":\"message\",\"reply\":{\"text\":\"q\"},\"text\":\"x\"}", &t), -1);
  T_EQ_INT(fast_text("{\"type\":\"message\",\"id\":1}", &t), -1);
  T_EQ_INT(fast_text("{\"type\":\"message\",\"id\":1,\"room\":2,\"t\":\",\"}", &t), -1);
  T_EQ_INT(fast_text("{\"type\":\"message\",\"text\":\"x}", &t), -1);
  T_EQ_INT(fast_text("{\"type\":\"message\",\"text\":\"x\"", &t), -1);
  T_CHECK(!t.present);
}

int main(void) {
  T_RUN(test_message_frame);
  T_RUN(test_escapes);
  T_RUN(test_malformed);
  T_RUN(test_message_fast_path);
  return T_DONE();
}
