/* The webhook notifier's pure parts and its bounded queue (webhook.h): the
 * E.164 check, the events list, configuration errors, and items beyond
 * max_queue dropped and counted (nothing is sent: the gathering delay is
 * long and the notifier is closed first).  Delivery, signatures, retries
 * and batching are tested through chatd (test/integration/test_webhook.py). */
#include <stdlib.h>
#include <uv.h>

#include "actors/webhook.h"
#include "t.h"

static void test_phone(void) {
  const char *good[] = {"+8613800138000", "+12025550123", "+12345678", "+123456789012345"};
  const char *bad[] = {"", "+", "8613800138000", "+0123456789", "+1234567", "+1234567890123456",
                       "+86 13800138000", "+86-1380013800", "++8613800138000", "+861380013800x",
                       "+８６１３８００１３８０００", " +8613800138000"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) T_EQ_INT(chat_webhook_phone_valid(good[i]), 1);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) T_EQ_INT(chat_webhook_phone_valid(bad[i]), 0);
  T_EQ_INT(chat_webhook_phone_valid(NULL), 0);
}

static void test_events(void) {
  T_EQ_INT(chat_webhook_events_parse(NULL), CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION);
  T_EQ_INT(chat_webhook_events_parse(""), CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION);
  T_EQ_INT(chat_webhook_events_parse("all"), CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION | CHAT_WEBHOOK_JOIN);
  T_EQ_INT(chat_webhook_events_parse("join"), CHAT_WEBHOOK_JOIN);
  T_EQ_INT(chat_webhook_events_parse("mention,dm"), CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION);
  T_EQ_INT(chat_webhook_events_parse("dm,"), CHAT_WEBHOOK_DM);
  T_EQ_INT(chat_webhook_events_parse("dm,,join"), -1);
  T_EQ_INT(chat_webhook_events_parse("sms"), -1);
  T_EQ_INT(chat_webhook_events_parse("DM"), -1);
}

static void test_config_errors(void) {
  uv_loop_t loop;
  char err[256];
  chat_webhook_config_t cfg;
  uv_loop_init(&loop);
  chat_webhook_config_init(&cfg);
  cfg.secret = "k";
  T_CHECK(chat_webhook_new(&loop, &cfg, err, sizeof err) == NULL);      /* no URL */
  cfg.url = "ftp://example.org/";
  T_CHECK(chat_webhook_new(&loop, &cfg, err, sizeof err) == NULL);
  cfg.url = "http://127.0.0.1:1/\r\nX: y";
  T_CHECK(chat_webhook_new(&loop, &cfg, err, sizeof err) == NULL);
  cfg.url = "http://127.0.0.1:1/";
  cfg.secret = "";
  T_CHECK(chat_webhook_new(&loop, &cfg, err, sizeof err) == NULL);      /* no secret */
  cfg.secret = "k";
  cfg.events = "dm,sms";
  T_CHECK(chat_webhook_new(&loop, &cfg, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "events") != NULL);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

static int closed;
static void done_cb(void *ud) { (void)ud; closed = 1; }

static void test_bounded_queue(void) {
  uv_loop_t loop;
  char err[256];
  chat_webhook_config_t cfg;
  chat_webhook_stats_t st;
  uv_loop_init(&loop);
  chat_webhook_config_init(&cfg);
  cfg.url = "http://127.0.0.1:1/hook";
  cfg.secret = "k";
  cfg.max_queue = 5;
  cfg.max_items = 2;
  cfg.gather_ms = 3600 * 1000;  /* nothing is due during the test */
  chat_webhook_t *w = chat_webhook_new(&loop, &cfg, err, sizeof err);
  T_CHECK(w != NULL);
  if (w == NULL) return;
  T_EQ_INT(chat_webhook_wants(w, CHAT_WEBHOOK_DM), 1);
  T_EQ_INT(chat_webhook_wants(w, CHAT_WEBHOOK_JOIN), 0);
  T_EQ_INT(chat_webhook_wants(NULL, CHAT_WEBHOOK_DM), 0);
  /* Join is not configured: not an item at all. */
  chat_webhook_add(w, 1, "u1", NULL, CHAT_WEBHOOK_JOIN, "u1", "lobby", NULL, 1);
  /* One user: 2 listed, the third counted in "more" (no memory). */
  for (int i = 0; i < 3; i++)
    chat_webhook_add(w, 1, "u1", "+8613800138000", CHAT_WEBHOOK_DM, "张伟", NULL, "你好", 1);
  /* Three more users fill the queue (5 listed items), then drops. */
  for (int u = 2; u <= 6; u++)
    chat_webhook_add(w, u, "u", "", CHAT_WEBHOOK_MENTION, "李", "大厅", "@u 看", 1);
  chat_webhook_stats(w, &st);
  T_EQ_INT(st.pending, 6);      /* 2 + 1 more for u1, then u2, u3, u4 */
  T_EQ_INT(st.overflow, 2);     /* u5, u6 */
  T_EQ_INT(st.dropped, 2);
  /* Invalid arguments are dropped and counted. */
  chat_webhook_add(w, 7, "u7", "12345", CHAT_WEBHOOK_DM, "a", NULL, "x", 1);     /* bad phone */
  chat_webhook_add(w, 0, "u0", NULL, CHAT_WEBHOOK_DM, "a", NULL, "x", 1);        /* no user */
  chat_webhook_add(w, 8, "u8", NULL, CHAT_WEBHOOK_DM, "a", NULL, "\xff\xfe", 1); /* not UTF-8 */
  chat_webhook_stats(w, &st);
  T_EQ_INT(st.dropped, 5);
  /* Forgetting frees a place. */
  chat_webhook_forget(w, 2);
  chat_webhook_add(w, 9, "u9", NULL, CHAT_WEBHOOK_DM, "a", NULL, "x", 1);
  chat_webhook_stats(w, &st);
  T_EQ_INT(st.forgotten, 1);
  T_EQ_INT(st.overflow, 2);
  T_EQ_INT(st.pending, 6);
  T_EQ_INT(st.sent, 0);
  closed = 0;
  chat_webhook_close(w, done_cb, NULL);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(closed, 1);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  T_RUN(test_phone);
  T_RUN(test_events);
  T_RUN(test_config_errors);
  T_RUN(test_bounded_queue);
  return T_DONE();
}
