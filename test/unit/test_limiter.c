/* The login limiter: windows, blocking, taking back, expiry, many keys. */
#include <stdio.h>

#include "actors/limiter.h"
#include "t.h"

static int64_t now_ms;
static int64_t clock_fn(void) { return now_ms; }

static void test_window(void) {
  now_ms = 1000000;
  chat_limiter_t *l = chat_limiter_new(5, 60000, clock_fn);
  int retry = 0;
  for (int i = 0; i < 4; i++) chat_limiter_failed(l, "1.2.3.4\nalice");
  T_EQ_INT(chat_limiter_blocked(l, "1.2.3.4\nalice", &retry), 0);
  chat_limiter_failed(l, "1.2.3.4\nalice");
  T_EQ_INT(chat_limiter_blocked(l, "1.2.3.4\nalice", &retry), 1);
  T_EQ_INT(retry, 60);
  /* Another key, or the same name from another address, is not blocked. */
  T_EQ_INT(chat_limiter_blocked(l, "1.2.3.4\nbob", &retry), 0);
  T_EQ_INT(chat_limiter_blocked(l, "5.6.7.8\nalice", &retry), 0);
  /* Retry-After counts down in whole seconds, at least 1. */
  now_ms += 59500;
  T_EQ_INT(chat_limiter_blocked(l, "1.2.3.4\nalice", &retry), 1);
  T_EQ_INT(retry, 1);
  /* The window ends: forgotten. */
  now_ms += 500;
  T_EQ_INT(chat_limiter_blocked(l, "1.2.3.4\nalice", &retry), 0);
  T_EQ_INT(chat_limiter_size(l), 0);
  chat_limiter_free(l);
}

static void test_uncount_and_ok(void) {
  now_ms = 5000;
  chat_limiter_t *l = chat_limiter_new(2, 1000, clock_fn);
  int retry;
  chat_limiter_failed(l, "k");
  chat_limiter_failed(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 1);
  chat_limiter_uncount(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 0);
  chat_limiter_uncount(l, "k");
  chat_limiter_uncount(l, "k");  /* never below zero */
  chat_limiter_failed(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 0);
  chat_limiter_failed(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 1);
  chat_limiter_ok(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 0);
  T_EQ_INT(chat_limiter_size(l), 0);
  /* A window opens at the first failure, not the last. */
  chat_limiter_failed(l, "k");
  now_ms += 900;
  chat_limiter_failed(l, "k");
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 1);
  now_ms += 100;
  T_EQ_INT(chat_limiter_blocked(l, "k", &retry), 0);
  chat_limiter_free(l);
}

static void test_many_keys_expire(void) {
  now_ms = 0;
  chat_limiter_t *l = chat_limiter_new(5, 60000, clock_fn);
  char key[64];
  for (int i = 0; i < 10000; i++) {
    snprintf(key, sizeof(key), "10.0.%d.%d\nuser%d", i / 256, i % 256, i);
    chat_limiter_failed(l, key);
    if (i % 100 == 0) now_ms += 100;
  }
  T_EQ_INT(chat_limiter_size(l), 10000);
  int retry;
  for (int f = 0; f < 4; f++) chat_limiter_failed(l, "10.0.0.7\nuser7");
  T_EQ_INT(chat_limiter_blocked(l, "10.0.0.7\nuser7", &retry), 1);
  /* Time passes: any call drops what expired, oldest first. */
  now_ms = 60000 + 5000;
  T_EQ_INT(chat_limiter_blocked(l, "nobody", &retry), 0);
  T_CHECK(chat_limiter_size(l) < 10000);
  T_CHECK(chat_limiter_size(l) > 0);
  now_ms += 60000;
  T_EQ_INT(chat_limiter_blocked(l, "nobody", &retry), 0);
  T_EQ_INT(chat_limiter_size(l), 0);
  chat_limiter_free(l);
}

int main(void) {
  T_RUN(test_window);
  T_RUN(test_uncount_and_ok);
  T_RUN(test_many_keys_expire);
  return T_DONE();
}
