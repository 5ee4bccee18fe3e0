/* core/mention.h: @mention parsing and reaction emoji; and the cached
 * message patcher of net/proto.h (chat_proto_obj_apply) the rooms use for
 * reactions, edits and recalls. */
#include <stdlib.h>
#include <string.h>

#include "core/mention.h"
#include "net/proto.h"
#include "t.h"

/* The names found in text, joined by '|'. */
static const char *names(const char *text) {
  static char out[512];
  chat_mention_t m[CHAT_MSG_MENTIONS_MAX];
  size_t n = chat_mention_scan(text, strlen(text), m, CHAT_MSG_MENTIONS_MAX);
  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i) strcat(out, "|");
    strncat(out, m[i].name, m[i].len);
  }
  return out;
}

static void test_scan(void) {
  T_EQ_STR(names("hi @bob"), "bob");
  T_EQ_STR(names("@bob, @alice."), "bob|alice");
  T_EQ_STR(names("(@bob)"), "bob");
  T_EQ_STR(names("@bob.smith-jr- x"), "bob.smith-jr");
  T_EQ_STR(names("@张三 你好"), "张三");
  T_EQ_STR(names("@张三，你好"), "张三");
  T_EQ_STR(names("@张三。"), "张三");
  T_EQ_STR(names("「@张三」"), "张三");
  T_EQ_STR(names("@张三你好"), "张三你好");  /* shortened by the lookup */
  T_EQ_STR(names("@bob @bob @BOB"), "bob|BOB");
  T_EQ_STR(names("mail a@b.c"), "b.c");
  T_EQ_STR(names("@ @@ @. @- @😀"), "");
  T_EQ_STR(names("@bob😀"), "bob");
  T_EQ_STR(names("no mentions"), "");
  T_EQ_STR(names("@x@y"), "x|y");
  /* A name is cut at CHAT_NAME_MAX bytes, on a character boundary. */
  char longname[300] = "@";
  for (int i = 0; i < 60; i++) strcat(longname, "张");
  const char *got = names(longname);
  T_EQ_INT(strlen(got), 126);
  /* At most max. */
  chat_mention_t m[2];
  T_EQ_INT(chat_mention_scan("@a @b @c", 8, m, 2), 2);
}

static void test_prefix(void) {
  const char *s = "张三你好";
  T_EQ_INT(chat_mention_prefix(s, strlen(s), 2), 6);
  T_EQ_INT(chat_mention_prefix(s, strlen(s), 9), strlen(s));
  T_EQ_INT(chat_mention_prefix("abc", 3, 1), 1);
}

static int emoji(const char *s) { return chat_emoji_check(s, strlen(s)); }

static void test_emoji(void) {
  const char *good[] = {"👍", "❤", "❤️", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "🇨🇳", "1️⃣", "#⃣",
                        "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🎉", "☕", "©️", "👩🏻‍💻", "🫠"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if (!emoji(good[i])) fprintf(stderr, "refused: %s\n", good[i]);
    T_CHECK(emoji(good[i]));
  }
  const char *bad[] = {"",     "a",      "ok",       "👍👍",     "👍 ",     " 👍",   "\n",
                       "\t👍", "a👍",    "👍a",      "\u200d",   "👍\u200d", "🇨",    "🇨🇳🇺",
                       "1",    "1\u20e3x", "\u20e3", "🏽",       "\xff",   "张",     "👍\x01",
                       "🏴󠁧󠁢󠁳󠁣󠁴"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (emoji(bad[i])) fprintf(stderr, "taken: %s\n", bad[i]);
    T_CHECK(!emoji(bad[i]));
  }
  /* 32 bytes at most: eight joined four-byte pictographs are 60. */
  T_CHECK(!emoji("👨‍👩‍👧‍👦‍👨‍👩‍👧‍👦"));
  T_CHECK(emoji("👨‍👩‍👧‍👦"));  /* 25 bytes */
}

/* Applies frame to obj; returns the new object (static) or "-". */
static const char *apply(const char *obj, const char *frame) {
  static char out[1024];
  char *p;
  size_t n;
  chat_proto_obj_apply(obj, strlen(obj), frame, strlen(frame), &p, &n);
  if (p == NULL) return "-";
  snprintf(out, sizeof(out), "%s", p);
  T_EQ_INT(strlen(p), n);
  free(p);
  return out;
}

static void test_apply(void) {
  const char *m = "{\"id\":5,\"room\":1,\"seq\":3,\"sender\":\"a\",\"text\":\"hi\",\"ts\":1700000000000}";
  const char *r1 = apply(m, "{\"type\":\"reaction\",\"room\":1,\"id\":5,\"emoji\":\"👍\",\"user\":\"b\",\"on\":true}");
  T_EQ_STR(r1, "{\"id\":5,\"room\":1,\"seq\":3,\"sender\":\"a\",\"text\":\"hi\",\"ts\":1700000000000,"
               "\"reactions\":[{\"emoji\":\"👍\",\"users\":[\"b\"]}]}");
  char one[1024];
  snprintf(one, sizeof(one), "%s", r1);
  /* On twice: one. */
  T_EQ_STR(apply(one, "{\"type\":\"reaction\",\"room\":1,\"id\":5,\"emoji\":\"👍\",\"user\":\"b\",\"on\":true}"),
           one);
  /* Off: gone, and the empty list with it. */
  T_EQ_STR(apply(one, "{\"type\":\"reaction\",\"room\":1,\"id\":5,\"emoji\":\"👍\",\"user\":\"b\",\"on\":false}"),
           m);
  /* Another message: nothing. */
  T_EQ_STR(apply(m, "{\"type\":\"reaction\",\"room\":1,\"id\":6,\"emoji\":\"👍\",\"user\":\"b\",\"on\":true}"),
           "-");
  T_EQ_STR(apply(m, "{\"type\":\"message_edited\",\"room\":1,\"id\":5,\"text\":\"new\",\"edited_ts\":1700000000001}"),
           "{\"id\":5,\"room\":1,\"seq\":3,\"sender\":\"a\",\"text\":\"new\",\"ts\":1700000000000,"
           "\"edited_ts\":1700000000001}");
  T_EQ_STR(apply(one, "{\"type\":\"message_deleted\",\"room\":1,\"id\":5}"),
           "{\"id\":5,\"room\":1,\"seq\":3,\"sender\":\"a\",\"ts\":1700000000000,\"deleted\":true}");
  /* A reply to it follows the quoted text. */
  const char *rep = "{\"id\":7,\"room\":1,\"seq\":4,\"sender\":\"b\",\"text\":\"re\",\"ts\":1,"
                    "\"reply_to\":{\"id\":5,\"sender\":\"a\",\"text\":\"hi\"}}";
  T_EQ_STR(apply(rep, "{\"type\":\"message_deleted\",\"room\":1,\"id\":5}"),
           "{\"id\":7,\"room\":1,\"seq\":4,\"sender\":\"b\",\"text\":\"re\",\"ts\":1,"
           "\"reply_to\":{\"id\":5,\"sender\":\"a\",\"text\":null}}");
  T_EQ_STR(apply(rep, "{\"type\":\"message_edited\",\"room\":1,\"id\":5,\"text\":\"new\",\"edited_ts\":2}"),
           "{\"id\":7,\"room\":1,\"seq\":4,\"sender\":\"b\",\"text\":\"re\",\"ts\":1,"
           "\"reply_to\":{\"id\":5,\"sender\":\"a\",\"text\":\"new\"}}");
  /* A tombstone stays one; garbage changes nothing. */
  T_EQ_STR(apply("{\"id\":5,\"room\":1,\"sender\":\"a\",\"ts\":1,\"deleted\":true}",
                 "{\"type\":\"message_edited\",\"room\":1,\"id\":5,\"text\":\"x\",\"edited_ts\":2}"),
           "-");
  T_EQ_STR(apply(m, "nonsense"), "-");
  T_EQ_STR(apply("nonsense", "{\"type\":\"message_deleted\",\"room\":1,\"id\":5}"), "-");
}

static void test_msg_obj(void) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_msg_t t = {.id = 9, .room = 2, .sender = "a", .text = "", .ts = 5, .seq = 4,
                        .deleted = 1};
  chat_proto_msg_obj(&sb, &t);
  T_EQ_STR(sb.buf, "{\"id\":9,\"room\":2,\"seq\":4,\"sender\":\"a\",\"ts\":5,\"deleted\":true}");
  sb.len = 0;
  chat_proto_extra_new(&sb, 3, "b", "引用的文字", 0, "[\"c\"]");
  T_EQ_STR(sb.buf, ",\"reply_to\":{\"id\":3,\"sender\":\"b\",\"text\":\"引用的文字\"},\"mentions\":[\"c\"]");
  chat_proto_msg_t m = {.id = 9, .room = 2, .sender = "a", .text = "x", .text_len = 1, .ts = 5,
                        .extra = ",\"edited_ts\":6"};
  sb.len = 0;
  chat_proto_msg_obj(&sb, &m);
  T_EQ_STR(sb.buf, "{\"id\":9,\"room\":2,\"sender\":\"a\",\"text\":\"x\",\"ts\":5,\"edited_ts\":6}");
  chat_sb_free(&sb);
}

int main(void) {
  T_RUN(test_scan);
  T_RUN(test_prefix);
  T_RUN(test_emoji);
  T_RUN(test_apply);
  T_RUN(test_msg_obj);
  return T_DONE();
}
