/* The keyed table with expiry (core/keytab.h) and the rate arithmetic on
 * top of it (core/rate.h): token buckets and growing delays. */
#include <stdio.h>

#include "core/keytab.h"
#include "core/rate.h"
#include "t.h"

typedef struct {
  int64_t a, b;
} val_t;

static void test_put_get_del(void) {
  chat_keytab_t *t = chat_keytab_new(sizeof(val_t), 0, 1000);
  int created = -1;
  val_t *v = chat_keytab_put(t, "1.2.3.4", 0, &created);
  T_EQ_INT(created, 1);
  T_EQ_INT(v->a, 0);  /* zeroed */
  v->a = 7;
  v = chat_keytab_put(t, "1.2.3.4", 10, &created);
  T_EQ_INT(created, 0);
  T_EQ_INT(v->a, 7);
  T_CHECK(chat_keytab_get(t, "5.6.7.8", 10) == NULL);
  T_CHECK(chat_keytab_get(t, "1.2.3.", 10) == NULL);
  T_EQ_INT(chat_keytab_size(t), 1);
  chat_keytab_del(t, "1.2.3.4");
  chat_keytab_del(t, "1.2.3.4");  /* absent: nothing */
  T_CHECK(chat_keytab_get(t, "1.2.3.4", 10) == NULL);
  T_EQ_INT(chat_keytab_size(t), 0);
  /* Keys of any length, an empty one too. */
  char big[600];
  memset(big, 'k', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ((val_t *)chat_keytab_put(t, big, 20, NULL))->b = 3;
  ((val_t *)chat_keytab_put(t, "", 20, NULL))->b = 4;
  T_EQ_INT(((val_t *)chat_keytab_get(t, big, 20))->b, 3);
  T_EQ_INT(((val_t *)chat_keytab_get(t, "", 20))->b, 4);
  chat_keytab_free(t);
}

static void test_expiry_follows_writes(void) {
  chat_keytab_t *t = chat_keytab_new(sizeof(val_t), 0, 1000);
  chat_keytab_put(t, "a", 0, NULL);
  chat_keytab_put(t, "b", 500, NULL);
  /* Reading does not keep an entry alive; writing does. */
  T_CHECK(chat_keytab_get(t, "a", 999) != NULL);
  chat_keytab_put(t, "b", 900, NULL);
  T_CHECK(chat_keytab_get(t, "a", 1000) == NULL);
  T_CHECK(chat_keytab_get(t, "b", 1899) != NULL);
  T_CHECK(chat_keytab_get(t, "b", 1900) == NULL);
  T_EQ_INT(chat_keytab_size(t), 0);
  /* An expired entry comes back zeroed. */
  val_t *v = chat_keytab_put(t, "c", 2000, NULL);
  v->a = 9;
  int created = 0;
  v = chat_keytab_put(t, "c", 3000, &created);
  T_EQ_INT(created, 1);
  T_EQ_INT(v->a, 0);
  chat_keytab_free(t);

  /* ttl 0: never expires. */
  t = chat_keytab_new(sizeof(int), 0, 0);
  chat_keytab_put(t, "x", 0, NULL);
  T_CHECK(chat_keytab_get(t, "x", INT64_MAX / 2) != NULL);
  chat_keytab_free(t);
}

static void test_bounded(void) {
  chat_keytab_t *t = chat_keytab_new(sizeof(val_t), 100, 0);
  char key[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    ((val_t *)chat_keytab_put(t, key, i, NULL))->a = i;
    if (i == 950) chat_keytab_put(t, "k905", i, NULL);  /* rewritten: kept */
  }
  T_EQ_INT(chat_keytab_size(t), 100);
  T_CHECK(chat_keytab_get(t, "k899", 1000) == NULL);  /* the oldest made room */
  T_CHECK(chat_keytab_get(t, "k905", 1000) != NULL);
  T_CHECK(chat_keytab_get(t, "k999", 1000) != NULL);
  T_EQ_INT(((val_t *)chat_keytab_get(t, "k950", 1000))->a, 950);
  chat_keytab_free(t);
}

static void test_many_keys(void) {
  chat_keytab_t *t = chat_keytab_new(sizeof(val_t), 0, 60000);
  char key[64];
  int64_t now = 0;
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
    ((val_t *)chat_keytab_put(t, key, now, NULL))->a = i;
    if (i % 100 == 0) now += 100;
  }
  T_EQ_INT(chat_keytab_size(t), 20000);
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
    val_t *v = chat_keytab_get(t, key, now);
    if (v == NULL || v->a != i) bad++;
  }
  T_EQ_INT(bad, 0);
  /* Time passes: the oldest go first, then all. */
  chat_keytab_expire(t, 60000 + 5000);
  T_CHECK(chat_keytab_size(t) < 20000 && chat_keytab_size(t) > 0);
  chat_keytab_expire(t, 200000);
  T_EQ_INT(chat_keytab_size(t), 0);
  chat_keytab_free(t);
}

static void test_bucket(void) {
  chat_bucket_t b = {0};
  /* A fresh bucket holds burst tokens. */
  for (int i = 0; i < 3; i++) T_EQ_INT(chat_bucket_take(&b, 1000, 1.0, 3), 0);
  T_EQ_INT(chat_bucket_take(&b, 1000, 1.0, 3), 1000);
  /* One a second comes back. */
  T_EQ_INT(chat_bucket_take(&b, 1600, 1.0, 3), 400);
  T_EQ_INT(chat_bucket_take(&b, 2000, 1.0, 3), 0);
  T_EQ_INT(chat_bucket_take(&b, 2000, 1.0, 3), 1000);
  /* A refund gives one back. */
  chat_bucket_refund(&b);
  T_EQ_INT(chat_bucket_take(&b, 2000, 1.0, 3), 0);
  /* Never more than burst, however long the wait. */
  int ok = 0;
  for (int i = 0; i < 10; i++) ok += chat_bucket_take(&b, 100000, 1.0, 3) == 0;
  T_EQ_INT(ok, 3);
  /* Rate 0: no limit. */
  chat_bucket_t u = {0};
  for (int i = 0; i < 100; i++) T_EQ_INT(chat_bucket_take(&u, 0, 0, 1), 0);
  /* "N an hour". */
  chat_bucket_t h = {0};
  for (int i = 0; i < 5; i++) T_EQ_INT(chat_bucket_take(&h, 0, 5 / 3600.0, 5), 0);
  T_EQ_INT(chat_bucket_take(&h, 0, 5 / 3600.0, 5), 720000);
  T_EQ_INT(chat_bucket_full_ms(5 / 3600.0, 5), 3600000);
  T_EQ_INT(chat_bucket_full_ms(20, 200), 10000);
}

static void test_buckets_in_a_table(void) {
  /* A table whose ttl is the time to refill forgets nothing that matters. */
  double rate = 2, burst = 4;
  chat_keytab_t *t = chat_keytab_new(sizeof(chat_bucket_t), 0, chat_bucket_full_ms(rate, burst));
  int taken = 0;
  for (int i = 0; i < 10; i++)
    taken += chat_bucket_take(chat_keytab_put(t, "u1", 0, NULL), 0, rate, burst) == 0;
  T_EQ_INT(taken, 4);
  T_CHECK(chat_bucket_take(chat_keytab_put(t, "u1", 1999, NULL), 1999, rate, burst) == 0);
  T_EQ_INT(chat_keytab_size(t), 1);
  chat_keytab_expire(t, 1999 + 2000);
  T_EQ_INT(chat_keytab_size(t), 0);
  chat_keytab_free(t);
}

static void test_backoff(void) {
  chat_backoff_t b = {0};
  /* Three free failures, then 1 s, 2 s, 4 s, at most 5 s. */
  for (int i = 0; i < 3; i++) {
    T_EQ_INT(chat_backoff_wait(&b, 100, 3, 1000, 5000), 0);
    chat_backoff_fail(&b, 100);
  }
  T_EQ_INT(chat_backoff_wait(&b, 100, 3, 1000, 5000), 1000);
  T_EQ_INT(chat_backoff_wait(&b, 600, 3, 1000, 5000), 500);
  T_EQ_INT(chat_backoff_wait(&b, 1100, 3, 1000, 5000), 0);
  chat_backoff_fail(&b, 1100);
  T_EQ_INT(chat_backoff_wait(&b, 1100, 3, 1000, 5000), 2000);
  chat_backoff_fail(&b, 3100);
  T_EQ_INT(chat_backoff_wait(&b, 3100, 3, 1000, 5000), 4000);
  chat_backoff_fail(&b, 7100);
  T_EQ_INT(chat_backoff_wait(&b, 7100, 3, 1000, 5000), 5000);
  for (int i = 0; i < 100; i++) chat_backoff_fail(&b, 7100);
  T_EQ_INT(chat_backoff_wait(&b, 7100, 3, 1000, 5000), 5000);  /* capped, no overflow */
  T_EQ_INT(chat_backoff_wait(&b, 12100, 3, 1000, 5000), 0);    /* never a lockout */
  /* Taking back. */
  chat_backoff_t c = {0};
  for (int i = 0; i < 3; i++) chat_backoff_fail(&c, 0);
  chat_backoff_unfail(&c);
  T_EQ_INT(chat_backoff_wait(&c, 0, 3, 1000, 5000), 0);
  chat_backoff_unfail(&c);
  chat_backoff_unfail(&c);
  chat_backoff_unfail(&c);
  T_EQ_INT(c.fails, 0);
  /* The delay runs from when the failure was known. */
  chat_backoff_t d = {0};
  for (int i = 0; i < 3; i++) chat_backoff_fail(&d, 0);
  chat_backoff_settle(&d, 700);
  T_EQ_INT(chat_backoff_wait(&d, 700, 3, 1000, 5000), 1000);
  chat_backoff_settle(&d, 100);  /* never back in time */
  T_EQ_INT(chat_backoff_wait(&d, 700, 3, 1000, 5000), 1000);
  /* base 0: off. */
  T_EQ_INT(chat_backoff_wait(&b, 0, 3, 0, 5000), 0);
}

static void test_retry_after(void) {
  T_EQ_INT(chat_rate_retry_after(0), 1);
  T_EQ_INT(chat_rate_retry_after(1), 1);
  T_EQ_INT(chat_rate_retry_after(1000), 1);
  T_EQ_INT(chat_rate_retry_after(1001), 2);
  T_EQ_INT(chat_rate_retry_after(720000), 720);
}

int main(void) {
  T_RUN(test_put_get_del);
  T_RUN(test_expiry_follows_writes);
  T_RUN(test_bounded);
  T_RUN(test_many_keys);
  T_RUN(test_bucket);
  T_RUN(test_buckets_in_a_table);
  T_RUN(test_backoff);
  T_RUN(test_retry_after);
  return T_DONE();
}
