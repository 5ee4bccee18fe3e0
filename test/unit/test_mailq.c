/* The shared mail queue (actors/mailq_redis.h) against a real Redis: the
 * Lua scripts that add, claim, report and forget, driven by two queues on
 * one loop that stand for two chatd instances.
 *
 * CHAT_TEST_REDIS_URL names a disposable server (scripts/redis-temp.sh);
 * each test writes only keys under its own prefix "chat:test:mailq:PID:N:"
 * and deletes them at the end.  Without it the tests print "skipped" (only
 * the configuration checks run).  Times are short (gather 150 ms, interval
 * 800 ms); waits are bounded by a watchdog deadline, and each test ends with
 * the queues and every handle closed: uv_loop_close() must return 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "actors/mailq_redis.h"
#include "core/common.h"
#include "store/redis.h"
#include "t.h"

#define GATHER_MS 150
#define INTERVAL_MS 800
#define MAX_CLAIMED 8
#define MAX_ITEMS_HELD 16

static const char *g_url;
static int g_seq;

/* ---- fixture ---------------------------------------------------------- */

/* What one claim brought back (copied out of the callback). */
typedef struct {
  int done;
  int ok;
  int64_t next_in;
  size_t n;
  struct {
    int64_t uid, claim;
    char username[64], email[128];
    uint64_t more, more_tried;
    size_t nitems;
    char items[MAX_ITEMS_HELD][64];
    int tries[MAX_ITEMS_HELD];
  } m[MAX_CLAIMED];
} claim_t;

typedef struct fx fx_t;
typedef int (*cond_fn)(fx_t *f);

struct fx {
  uv_loop_t loop;
  uv_timer_t watchdog;
  cond_fn cond;
  uint64_t deadline;
  int expired;
  char prefix[96];
  chat_mailq_t *a, *b;  /* two "instances" */
  int ups;
  int closed;
  int added, add_ok;
  int64_t due_in;
  claim_t ca, cb;       /* the last claim of a and of b */
  chat_redis_t *raw;    /* cleans up the keys */
  int raw_up, raw_done, raw_closed;
};

static void watchdog_cb(uv_timer_t *t) {
  fx_t *f = container_of(t, fx_t, watchdog);
  if (f->cond && f->cond(f)) {
    uv_timer_stop(t);
    uv_stop(&f->loop);
  } else if (uv_now(&f->loop) >= f->deadline) {
    f->expired = 1;
    uv_timer_stop(t);
    uv_stop(&f->loop);
  }
}

static int run_until(fx_t *f, cond_fn cond, uint64_t timeout_ms) {
  f->cond = cond;
  f->expired = 0;
  uv_update_time(&f->loop);
  f->deadline = uv_now(&f->loop) + timeout_ms;
  uv_timer_start(&f->watchdog, watchdog_cb, 2, 2);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  f->cond = NULL;
  return !f->expired;
}

#define WAIT(f, cond, timeout_ms)                                   \
  do {                                                              \
    int ok_ = run_until((f), (cond), (timeout_ms));                 \
    if (!ok_) fprintf(stderr, "watchdog: %s not reached\n", #cond); \
    T_CHECK(ok_);                                                   \
  } while (0)

static void run_for(fx_t *f, uint64_t ms) { run_until(f, NULL, ms); }

static void state_cb(void *ud, int up) {
  fx_t *f = ud;
  if (up) f->ups++;
}

static int cond_up(fx_t *f) { return f->ups >= 2 && f->raw_up; }
static int cond_added(fx_t *f) { return f->added > 0; }
static int cond_claimed_a(fx_t *f) { return f->ca.done; }
static int cond_claimed_both(fx_t *f) { return f->ca.done && f->cb.done; }
static int cond_closed(fx_t *f) { return f->closed >= 2 && f->raw_closed; }
static int cond_raw(fx_t *f) { return f->raw_done; }

static void raw_state(chat_redis_t *r, int up, void *ud) {
  fx_t *f = ud;
  f->raw_up = up;
}

static chat_mailq_t *open_queue(fx_t *f, uint64_t lease_ms) {
  chat_mailq_config_t cfg = {f->prefix, GATHER_MS, INTERVAL_MS, 3, lease_ms};
  char err[256] = "";
  chat_mailq_t *q = chat_mailq_new(&f->loop, g_url, &cfg, state_cb, f, err, sizeof err);
  if (q == NULL) fprintf(stderr, "chat_mailq_new: %s\n", err);
  T_CHECK(q != NULL);
  return q;
}

static void fx_init(fx_t *f, uint64_t lease_ms) {
  memset(f, 0, sizeof(*f));
  T_EQ_INT(uv_loop_init(&f->loop), 0);
  T_EQ_INT(uv_timer_init(&f->loop, &f->watchdog), 0);
  snprintf(f->prefix, sizeof f->prefix, "chat:test:mailq:%d:%d:", (int)getpid(), ++g_seq);
  f->a = open_queue(f, lease_ms);
  f->b = open_queue(f, lease_ms);
  static const chat_redis_events_t ev = {raw_state, NULL};
  f->raw = chat_redis_new(&f->loop, g_url, &ev, f, NULL, 0);
  chat_redis_start(f->raw);
  WAIT(f, cond_up, 10000);
}

static void queue_closed(void *ud) { ((fx_t *)ud)->closed++; }
static void queue_closed_count(void *ud) { (*(int *)ud)++; }
static void raw_closed(chat_redis_t *r, void *ud) { ((fx_t *)ud)->raw_closed = 1; }

static void raw_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  ((fx_t *)ud)->raw_done = 1;
}

/* A raw command on the cleanup connection, waited for. */
static void raw(fx_t *f, int argc, const char **argv) {
  f->raw_done = 0;
  T_EQ_INT(chat_redis_command(f->raw, raw_reply, f, argc, argv, NULL), 0);
  WAIT(f, cond_raw, 5000);
}

/* Deletes the test's keys, closes everything; the loop must close. */
static void fx_finish(fx_t *f) {
  char script[512];
  snprintf(script, sizeof script,
           "for _,k in ipairs(redis.call('KEYS',ARGV[1]..'*')) do redis.call('DEL',k) end "
           "return 1");
  const char *argv[] = {"EVAL", script, "0", f->prefix};
  raw(f, 4, argv);
  chat_mailq_close(f->a, queue_closed, f);
  chat_mailq_close(f->b, queue_closed, f);
  T_EQ_INT(f->closed, 0);  /* never from within the call */
  chat_redis_close(f->raw, raw_closed);
  WAIT(f, cond_closed, 5000);
  uv_close((uv_handle_t *)&f->watchdog, NULL);
  T_EQ_INT(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(uv_loop_close(&f->loop), 0);
}

static void added_cb(void *ud, int ok, int64_t due_in) {
  fx_t *f = ud;
  f->added++;
  f->add_ok = ok;
  f->due_in = due_in;
}

/* Adds an item through q and waits for Redis; returns due_in. */
static int64_t add(fx_t *f, chat_mailq_t *q, int64_t uid, const char *payload) {
  char email[64];
  snprintf(email, sizeof email, "u%lld@example.org", (long long)uid);
  f->added = 0;
  T_EQ_INT(chat_mailq_add(q, uid, "张三", email, payload, strlen(payload), added_cb, f), 0);
  WAIT(f, cond_added, 5000);
  T_EQ_INT(f->add_ok, 1);
  return f->due_in;
}

static void copy_claim(claim_t *c, int ok, const chat_mailq_mail_t *mails, size_t n,
                       int64_t next_in) {
  memset(c, 0, sizeof(*c));
  c->done = 1;
  c->ok = ok;
  c->next_in = next_in;
  c->n = n < MAX_CLAIMED ? n : MAX_CLAIMED;
  for (size_t i = 0; i < c->n; i++) {
    c->m[i].uid = mails[i].user_id;
    c->m[i].claim = mails[i].claim;
    snprintf(c->m[i].username, sizeof c->m[i].username, "%s", mails[i].username);
    snprintf(c->m[i].email, sizeof c->m[i].email, "%s", mails[i].email);
    c->m[i].more = mails[i].more;
    c->m[i].more_tried = mails[i].more_tried;
    c->m[i].nitems = mails[i].n < MAX_ITEMS_HELD ? mails[i].n : MAX_ITEMS_HELD;
    for (size_t k = 0; k < c->m[i].nitems; k++) {
      snprintf(c->m[i].items[k], sizeof c->m[i].items[k], "%.*s", (int)mails[i].lens[k],
               mails[i].items[k]);
      c->m[i].tries[k] = mails[i].tries[k];
    }
  }
}

static void claimed_a(void *ud, int ok, const chat_mailq_mail_t *mails, size_t n,
                      int64_t next_in) {
  copy_claim(&((fx_t *)ud)->ca, ok, mails, n, next_in);
}

static void claimed_b(void *ud, int ok, const chat_mailq_mail_t *mails, size_t n,
                      int64_t next_in) {
  copy_claim(&((fx_t *)ud)->cb, ok, mails, n, next_in);
}

static int cond_claimed_b(fx_t *f) { return f->cb.done; }

/* One claim through q (f->a or f->b), waited for. */
static claim_t *claim(fx_t *f, chat_mailq_t *q, unsigned max) {
  int is_a = q == f->a;
  claim_t *c = is_a ? &f->ca : &f->cb;
  c->done = 0;
  T_EQ_INT(chat_mailq_claim(q, max, is_a ? claimed_a : claimed_b, f), 0);
  WAIT(f, is_a ? cond_claimed_a : cond_claimed_b, 5000);
  T_EQ_INT(c->ok, 1);
  return c;
}

static claim_t *claim_a(fx_t *f, unsigned max) { return claim(f, f->a, max); }

/* Claims through q until a mail comes (or the deadline). */
static claim_t *claim_until_mail(fx_t *f, chat_mailq_t *q, uint64_t timeout_ms) {
  uv_update_time(&f->loop);
  uint64_t end = uv_now(&f->loop) + timeout_ms;
  for (;;) {
    claim_t *c = claim(f, q, 1);
    if (c->n > 0 || uv_now(&f->loop) >= end) return c;
    run_for(f, c->next_in > 0 && c->next_in < 50 ? (uint64_t)c->next_in : 20);
  }
}

static claim_t *claim_a_until_mail(fx_t *f, uint64_t timeout_ms) {
  return claim_until_mail(f, f->a, timeout_ms);
}

static void report(fx_t *f, chat_mailq_t *q, const claim_t *c, chat_mailq_outcome_t o) {
  chat_mailq_report(q, c->m[0].uid, c->m[0].claim, o);
  run_for(f, 100);  /* its answer */
}

/* ---- tests ------------------------------------------------------------ */

/* Items added through both instances become one mail, claimed by exactly
 * one of two claims made at once, not before the gather time. */
static void test_one_claim(void) {
  fx_t f;
  fx_init(&f, 10000);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  int64_t due = add(&f, f.a, 7, "{\"p\":\"one\"}");
  T_CHECK(due > GATHER_MS / 2 && due <= GATHER_MS);
  due = add(&f, f.b, 7, "{\"p\":\"two\"}");
  T_CHECK(due >= 0 && due <= GATHER_MS);
  claim_t *c = claim_a(&f, 4);
  if (uv_now(&f.loop) - t0 < GATHER_MS - 20) {
    T_EQ_INT(c->n, 0);  /* still gathering */
    T_CHECK(c->next_in > 0 && c->next_in <= GATHER_MS);
  }
  run_for(&f, GATHER_MS + 50);
  /* Both instances claim in the same loop turn. */
  f.ca.done = f.cb.done = 0;
  T_EQ_INT(chat_mailq_claim(f.a, 4, claimed_a, &f), 0);
  T_EQ_INT(chat_mailq_claim(f.b, 4, claimed_b, &f), 0);
  WAIT(&f, cond_claimed_both, 5000);
  T_EQ_INT(f.ca.n + f.cb.n, 1);
  claim_t *got = f.ca.n ? &f.ca : &f.cb;
  T_EQ_INT(got->m[0].uid, 7);
  T_EQ_STR(got->m[0].username, "张三");
  T_EQ_STR(got->m[0].email, "u7@example.org");
  T_EQ_INT(got->m[0].nitems, 2);
  T_EQ_STR(got->m[0].items[0], "{\"p\":\"one\"}");
  T_EQ_STR(got->m[0].items[1], "{\"p\":\"two\"}");
  T_EQ_INT(got->m[0].tries[0], 0);
  T_EQ_INT(got->m[0].more, 0);
  T_CHECK(uv_now(&f.loop) - t0 >= GATHER_MS);
  /* Leased now: nobody claims it again. */
  T_EQ_INT(claim_a(&f, 4)->n, 0);
  report(&f, f.ca.n ? f.a : f.b, got, CHAT_MAILQ_SENT);
  fx_finish(&f);
}

/* After a mail, the next one waits for the interval, and lists only what
 * came since. */
static void test_interval(void) {
  fx_t f;
  fx_init(&f, 10000);
  add(&f, f.a, 8, "first");
  claim_t *c = claim_a_until_mail(&f, 3000);
  T_EQ_INT(c->n, 1);
  uv_update_time(&f.loop);
  uint64_t mailed = uv_now(&f.loop);
  claim_t first = *c;
  report(&f, f.a, &first, CHAT_MAILQ_SENT);
  int64_t due = add(&f, f.b, 8, "second");
  /* due = previous mail + interval */
  T_CHECK(due > INTERVAL_MS - 400 && due <= INTERVAL_MS);
  add(&f, f.a, 8, "third");
  c = claim_a_until_mail(&f, 5000);
  T_EQ_INT(c->n, 1);
  T_CHECK(uv_now(&f.loop) - mailed >= INTERVAL_MS - 50);
  T_EQ_INT(c->m[0].nitems, 2);
  T_EQ_STR(c->m[0].items[0], "second");
  T_EQ_STR(c->m[0].items[1], "third");
  claim_t second = *c;
  report(&f, f.a, &second, CHAT_MAILQ_SENT);
  /* Nothing waits; once the interval is over the user's keys go. */
  run_for(&f, INTERVAL_MS + 100);
  T_EQ_INT(claim_a(&f, 4)->n, 0);
  T_EQ_INT(f.ca.next_in, -1);
  fx_finish(&f);
}

/* At most max_items (3) listed; the rest counted. */
static void test_max_items(void) {
  fx_t f;
  fx_init(&f, 10000);
  const char *items[] = {"i1", "i2", "i3", "i4", "i5"};
  for (int i = 0; i < 5; i++) add(&f, i % 2 ? f.b : f.a, 9, items[i]);
  claim_t *c = claim_a_until_mail(&f, 3000);
  T_EQ_INT(c->n, 1);
  T_EQ_INT(c->m[0].nitems, 3);
  T_EQ_STR(c->m[0].items[2], "i3");
  T_EQ_INT(c->m[0].more, 2);
  T_EQ_INT(c->m[0].more_tried, 0);
  claim_t got = *c;
  report(&f, f.a, &got, CHAT_MAILQ_SENT);
  fx_finish(&f);
}

/* A failed mail's items come back once, in the next slot, ahead of newer
 * ones; failing again drops them. */
static void test_retry(void) {
  fx_t f;
  fx_init(&f, 10000);
  add(&f, f.a, 10, "r1");
  add(&f, f.a, 10, "r2");
  claim_t *c = claim_a_until_mail(&f, 3000);
  T_EQ_INT(c->n, 1);
  uv_update_time(&f.loop);
  uint64_t t1 = uv_now(&f.loop);
  claim_t got = *c;
  add(&f, f.b, 10, "r3");  /* while the mail is out: due after the report */
  T_EQ_INT(f.due_in, -1);
  report(&f, f.a, &got, CHAT_MAILQ_RETRY);
  c = claim_a(&f, 4);
  T_EQ_INT(c->n, 0);  /* the next slot is an interval later */
  c = claim_a_until_mail(&f, 5000);
  T_EQ_INT(c->n, 1);
  T_CHECK(uv_now(&f.loop) - t1 >= INTERVAL_MS - 50);
  T_EQ_INT(c->m[0].nitems, 3);
  T_EQ_STR(c->m[0].items[0], "r1");
  T_EQ_INT(c->m[0].tries[0], 1);
  T_EQ_STR(c->m[0].items[1], "r2");
  T_EQ_INT(c->m[0].tries[1], 1);
  T_EQ_STR(c->m[0].items[2], "r3");
  T_EQ_INT(c->m[0].tries[2], 0);
  got = *c;
  report(&f, f.a, &got, CHAT_MAILQ_RETRY);
  chat_mailq_stats_t s;
  chat_mailq_stats(f.a, &s);
  T_EQ_INT(s.dropped, 2);  /* r1 and r2 failed twice */
  c = claim_a_until_mail(&f, 5000);
  T_EQ_INT(c->n, 1);
  T_EQ_INT(c->m[0].nitems, 1);
  T_EQ_STR(c->m[0].items[0], "r3");
  T_EQ_INT(c->m[0].tries[0], 1);
  got = *c;
  report(&f, f.a, &got, CHAT_MAILQ_DROP);
  chat_mailq_stats(f.a, &s);
  T_EQ_INT(s.dropped, 3);
  fx_finish(&f);
}

/* Forgotten items are not mailed; forgetting while a mail is out stops its
 * retry. */
static void test_forget(void) {
  fx_t f;
  fx_init(&f, 10000);
  add(&f, f.a, 11, "f1");
  add(&f, f.b, 11, "f2");
  add(&f, f.a, 12, "keep");
  T_EQ_INT(chat_mailq_forget(f.b, 11), 0);
  run_for(&f, GATHER_MS + 100);
  claim_t *c = claim_a(&f, 4);
  T_EQ_INT(c->n, 1);
  T_EQ_INT(c->m[0].uid, 12);
  claim_t got = *c;
  report(&f, f.a, &got, CHAT_MAILQ_SENT);
  chat_mailq_stats_t s;
  chat_mailq_stats(f.b, &s);
  T_EQ_INT(s.forgotten, 2);

  add(&f, f.a, 13, "g1");
  c = claim_a_until_mail(&f, 3000);
  T_EQ_INT(c->n, 1);
  got = *c;
  T_EQ_INT(chat_mailq_forget(f.b, 13), 0);
  run_for(&f, 100);
  report(&f, f.a, &got, CHAT_MAILQ_RETRY);
  chat_mailq_stats(f.a, &s);
  T_EQ_INT(s.forgotten, 1);  /* not retried */
  run_for(&f, INTERVAL_MS + 100);
  T_EQ_INT(claim_a(&f, 4)->n, 0);
  fx_finish(&f);
}

/* A claimed mail whose sender never reports is taken back when its lease
 * runs out, as a failed attempt; the late report changes nothing. */
static void test_lease(void) {
  fx_t f;
  fx_init(&f, 300);
  add(&f, f.a, 14, "l1");
  claim_t *c = claim_a_until_mail(&f, 3000);
  T_EQ_INT(c->n, 1);
  claim_t lost = *c;
  uv_update_time(&f.loop);
  uint64_t t1 = uv_now(&f.loop);
  /* b takes it back after the lease, then mails it an interval after
   * the first attempt. */
  claim_t *cb = claim_until_mail(&f, f.b, 5000);
  T_EQ_INT(cb->n, 1);
  T_CHECK(uv_now(&f.loop) - t1 >= INTERVAL_MS - 50);
  T_EQ_INT(cb->m[0].nitems, 1);
  T_EQ_STR(cb->m[0].items[0], "l1");
  T_EQ_INT(cb->m[0].tries[0], 1);
  chat_mailq_stats_t s;
  chat_mailq_stats(f.b, &s);
  T_EQ_INT(s.reaped, 1);
  /* a's report comes too late: stale, no effect on b's claim. */
  report(&f, f.a, &lost, CHAT_MAILQ_SENT);
  chat_mailq_stats(f.a, &s);
  T_EQ_INT(s.stale, 1);
  claim_t got = *cb;
  report(&f, f.b, &got, CHAT_MAILQ_SENT);
  chat_mailq_stats(f.b, &s);
  T_EQ_INT(s.stale, 0);
  fx_finish(&f);
}

/* Nothing is accepted from a queue whose Redis cannot be reached, and the
 * configuration is checked. */
static void test_unreachable(void) {
  uv_loop_t loop;
  char err[256] = "";
  int closed = 0;
  T_EQ_INT(uv_loop_init(&loop), 0);
  chat_mailq_config_t cfg = {NULL, GATHER_MS, INTERVAL_MS, 3, 1000};
  T_CHECK(chat_mailq_new(&loop, "http://x", &cfg, NULL, NULL, err, sizeof err) == NULL);
  T_CHECK(err[0] != '\0');
  cfg.max_items = 0;
  T_CHECK(chat_mailq_new(&loop, "redis://127.0.0.1:1/0", &cfg, NULL, NULL, err, sizeof err) ==
          NULL);
  cfg.max_items = 3;
  chat_mailq_t *q = chat_mailq_new(&loop, "redis://127.0.0.1:1/0", &cfg, NULL, NULL, err,
                                   sizeof err);
  T_CHECK(q != NULL);
  T_EQ_INT(chat_mailq_is_up(q), 0);
  T_EQ_INT(chat_mailq_add(q, 1, "a", "a@example.org", "x", 1, NULL, NULL), -1);
  T_EQ_INT(chat_mailq_forget(q, 1), -1);
  chat_mailq_report(q, 1, 1, CHAT_MAILQ_SENT);  /* kept, then given up at close */
  chat_mailq_close(q, queue_closed_count, &closed);
  T_EQ_INT(closed, 0);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(closed, 1);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  T_RUN(test_unreachable);
  g_url = getenv("CHAT_TEST_REDIS_URL");
  if (g_url == NULL || g_url[0] == '\0') {
    fprintf(stderr, "mail queue tests skipped: CHAT_TEST_REDIS_URL is not set\n");
    return T_DONE();
  }
  T_RUN(test_one_claim);
  T_RUN(test_interval);
  T_RUN(test_max_items);
  T_RUN(test_retry);
  T_RUN(test_forget);
  T_RUN(test_lease);
  return T_DONE();
}
