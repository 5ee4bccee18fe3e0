#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/actor.h"
#include "core/common.h"
#include "t.h"

/* ---- fixtures --------------------------------------------------------- */

/* Every delivery and every free is logged here, in the order it happens:
 * a delivery as actor_tag * 1000 + seq, a free as -actor_tag. */
#define LOG_MAX 4096
static int event_log[LOG_MAX];
static int nevents;

static void log_event(int e) {
  if (nevents < LOG_MAX) event_log[nevents++] = e;
}

/* The last event logged, or 0 if none. */
static int last_event(void) { return nevents > 0 ? event_log[nevents - 1] : 0; }

typedef struct {
  chat_actor_t super;
  int tag;
  int received;
} test_actor_t;

/* A mail that logs itself and may post follow-ups. */
typedef struct {
  chat_mail_t super;
  int seq;
  int hops;                   /* follow-ups still to post */
  test_actor_t *next_target;  /* where follow-ups go; NULL: to self.  The
                                 mail holds a reference on it. */
} test_mail_t;

static void test_mail_cb(chat_actor_t *self, chat_mail_t *m);

static void post_seq(test_actor_t *to, int seq, int hops,
                     test_actor_t *next_target) {
  test_mail_t *m = chat_xcalloc(1, sizeof(*m));
  m->super.handle = test_mail_cb;
  m->seq = seq;
  m->hops = hops;
  m->next_target = next_target;
  if (next_target) chat_actor_ref(&next_target->super);
  chat_actor_post(&to->super, &m->super);
}

static void test_mail_cb(chat_actor_t *self, chat_mail_t *mail) {
  test_actor_t *a = container_of(self, test_actor_t, super);
  test_mail_t *m = container_of(mail, test_mail_t, super);
  /* The mail's own reference keeps the actor alive while it is handled. */
  T_CHECK(self->refs >= 1);
  a->received++;
  log_event(a->tag * 1000 + m->seq);
  if (m->hops > 0) {
    test_actor_t *to = m->next_target ? m->next_target : a;
    /* Ping-pong: the follow-up's follow-up comes back here. */
    post_seq(to, m->seq + 1, m->hops - 1, to == a ? NULL : a);
  }
  if (m->next_target) chat_actor_unref(&m->next_target->super);
  free(m);
}

static void actor_init(test_actor_t *a, chat_sched_t *s, int tag,
                       void (*free_cb)(chat_actor_t *)) {
  memset(a, 0, sizeof(*a));
  chat_actor_init(&a->super, s, free_cb);
  a->tag = tag;
}

/* Logs the free; the actor is not heap-allocated. */
static void logged_free_cb(chat_actor_t *self) {
  test_actor_t *a = container_of(self, test_actor_t, super);
  log_event(-a->tag);
}

static int sched_closed;

static void sched_close_cb(chat_sched_t *s) {
  (void)s;
  sched_closed++;
}

static void setup(uv_loop_t *loop, chat_sched_t *s) {
  nevents = 0;
  sched_closed = 0;
  T_EQ_INT(uv_loop_init(loop), 0);
  T_EQ_INT(chat_sched_init(s, loop), 0);
}

/* Closes the scheduler, runs the loop until its handles are closed and
 * checks that nothing is left open. */
static void teardown(uv_loop_t *loop, chat_sched_t *s) {
  chat_sched_close(s, sched_close_cb);
  T_EQ_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(sched_closed, 1);
  T_EQ_INT(uv_loop_close(loop), 0);
}

/* ---- tests ------------------------------------------------------------ */

/* With nothing posted the loop has nothing to wait for: the scheduler's
 * handles alone do not keep it running. */
static void test_idle_loop_exits(void) {
  uv_loop_t loop;
  chat_sched_t s;
  setup(&loop, &s);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(s.delivered, 0);
  teardown(&loop, &s);
}

static void test_posting_order(void) {
  uv_loop_t loop;
  chat_sched_t s;
  test_actor_t a, b;
  setup(&loop, &s);
  actor_init(&a, &s, 1, NULL);
  actor_init(&b, &s, 2, NULL);

  for (int i = 0; i < 100; i++) {
    post_seq(&a, i, 0, NULL);
    if (i % 3 == 0) post_seq(&b, i, 0, NULL);
  }
  T_EQ_INT(a.super.refs, 101);
  T_EQ_INT(nevents, 0);  /* nothing runs before the loop does */

  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(a.received, 100);
  T_EQ_INT(b.received, 34);
  T_EQ_INT(s.delivered, 134);
  /* Per actor, the order of posting. */
  int next_a = 0, next_b = 0, bad = 0;
  for (int i = 0; i < nevents; i++) {
    int tag = event_log[i] / 1000, seq = event_log[i] % 1000;
    if (tag == 1) {
      if (seq != next_a) bad++;
      next_a = seq + 1;
    } else if (tag == 2) {
      if (seq != next_b) bad++;
      next_b = seq + 3;
    } else {
      bad++;
    }
  }
  T_EQ_INT(bad, 0);
  T_EQ_INT(a.super.refs, 1);
  T_EQ_INT(b.super.refs, 1);
  T_CHECK(a.super.head == NULL && b.super.head == NULL);
  chat_actor_unref(&a.super);
  chat_actor_unref(&b.super);
  teardown(&loop, &s);
}

static int hook_calls;
static int hook_saw_mail;
static test_actor_t *hook_actors[2];

/* Checks that every mailbox is empty when the hook runs. */
static void counting_hook(void *ud) {
  chat_sched_t *s = ud;
  hook_calls++;
  if (s->ready_head != NULL) hook_saw_mail++;
  for (int i = 0; i < 2; i++)
    if (hook_actors[i] && hook_actors[i]->super.head != NULL) hook_saw_mail++;
  log_event(-100);
}

/* Mail posted while a drain runs (to self and to another actor) is handled
 * in the same drain, in one loop turn. */
static void test_post_during_drain(void) {
  uv_loop_t loop;
  chat_sched_t s;
  test_actor_t a, b;
  setup(&loop, &s);
  actor_init(&a, &s, 1, NULL);
  actor_init(&b, &s, 2, NULL);
  hook_calls = hook_saw_mail = 0;
  hook_actors[0] = &a;
  hook_actors[1] = &b;
  chat_sched_add_hook(&s, counting_hook, &s);

  post_seq(&a, 0, 10, NULL);  /* a -> a -> ... ten follow-ups to itself */
  post_seq(&b, 100, 9, &a);   /* b -> a -> b -> a ... */

  /* One turn of the loop delivers the whole cascade. */
  uv_run(&loop, UV_RUN_NOWAIT);
  T_EQ_INT(a.received + b.received, 11 + 10);
  T_EQ_INT(a.received, 11 + 5);
  T_EQ_INT(b.received, 5);
  T_EQ_INT(s.delivered, 21);
  T_EQ_INT(hook_calls, 1);
  T_EQ_INT(hook_saw_mail, 0);
  T_EQ_INT(last_event(), -100);  /* the hook came last */

  /* The ping-pong alternated and each chain kept its order. */
  int last_a_self = -1, last_pp = 99, bad = 0;
  for (int i = 0; i < nevents - 1; i++) {
    int e = event_log[i], seq = e % 1000;
    if (seq < 100) {
      if (e / 1000 != 1 || seq != last_a_self + 1) bad++;
      last_a_self = seq;
    } else {
      int want_tag = (seq - 100) % 2 == 0 ? 2 : 1;
      if (e / 1000 != want_tag || seq != last_pp + 1) bad++;
      last_pp = seq;
    }
  }
  T_EQ_INT(bad, 0);
  T_EQ_INT(last_a_self, 10);
  T_EQ_INT(last_pp, 109);

  /* chat_sched_drain called directly does the same. */
  nevents = 0;
  post_seq(&b, 0, 4, &a);
  chat_sched_drain(&s);
  T_EQ_INT(nevents, 5 + 1);
  T_EQ_INT(hook_calls, 2);
  T_EQ_INT(a.super.refs, 1);
  T_EQ_INT(b.super.refs, 1);

  hook_actors[0] = hook_actors[1] = NULL;
  chat_actor_unref(&a.super);
  chat_actor_unref(&b.super);
  teardown(&loop, &s);
}

/* A hook that posts mail once: the mail is delivered in the same drain and
 * the hooks run again after it. */
static test_actor_t *hook_target;
static int posting_hook_calls;

static void posting_hook(void *ud) {
  (void)ud;
  posting_hook_calls++;
  log_event(-200 - posting_hook_calls);
  if (posting_hook_calls == 1) post_seq(hook_target, 7, 0, NULL);
}

static void second_hook(void *ud) {
  int *n = ud;
  (*n)++;
  log_event(-300);
}

static void test_hooks(void) {
  uv_loop_t loop;
  chat_sched_t s;
  test_actor_t a;
  int second_calls = 0;
  setup(&loop, &s);
  actor_init(&a, &s, 1, NULL);
  hook_target = &a;
  posting_hook_calls = 0;
  chat_sched_add_hook(&s, posting_hook, NULL);
  chat_sched_add_hook(&s, second_hook, &second_calls);

  post_seq(&a, 1, 0, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  /* mail 1, hooks, mail 7 (posted by a hook), hooks again. */
  static const int want[] = {1001, -201, -300, 1007, -202, -300};
  T_EQ_INT(nevents, CHAT_ARRAY_SIZE(want));
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(want) && (int)i < nevents; i++)
    T_EQ_INT(event_log[i], want[i]);
  T_EQ_INT(posting_hook_calls, 2);
  T_EQ_INT(second_calls, 2);

  /* The loop then has nothing left to do. */
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(posting_hook_calls, 2);

  chat_actor_unref(&a.super);
  teardown(&loop, &s);
}

/* ---- mail from a timer ------------------------------------------------ */

typedef struct {
  uv_timer_t timer;
  uv_timer_t watchdog;
  test_actor_t actor;
  int timer_calls;
  int watchdog_calls;
  int handled;
  int closed;
  uint64_t posted_at;
  uint64_t handled_at;
} timer_fixture_t;

static void handle_closed_cb(uv_handle_t *h) {
  timer_fixture_t *f = h->data;
  f->closed++;
}

static void fixture_close(timer_fixture_t *f) {
  if (!uv_is_closing((uv_handle_t *)&f->timer))
    uv_close((uv_handle_t *)&f->timer, handle_closed_cb);
  if (!uv_is_closing((uv_handle_t *)&f->watchdog))
    uv_close((uv_handle_t *)&f->watchdog, handle_closed_cb);
}

static void timer_mail_cb(chat_actor_t *self, chat_mail_t *m) {
  test_actor_t *a = container_of(self, test_actor_t, super);
  timer_fixture_t *f = container_of(a, timer_fixture_t, actor);
  f->handled++;
  f->handled_at = uv_now(f->timer.loop);
  free(m);
  if (f->handled == 3) fixture_close(f);
}

static void timer_cb(uv_timer_t *t) {
  timer_fixture_t *f = container_of(t, timer_fixture_t, timer);
  /* The mail of the previous call was handled before this call. */
  T_EQ_INT(f->handled, f->timer_calls);
  f->timer_calls++;
  f->posted_at = uv_now(t->loop);
  chat_mail_t *m = chat_xcalloc(1, sizeof(*m));
  m->handle = timer_mail_cb;
  chat_actor_post(&f->actor.super, m);
  if (f->timer_calls == 3) uv_timer_stop(t);
}

static void watchdog_cb(uv_timer_t *t) {
  timer_fixture_t *f = container_of(t, timer_fixture_t, watchdog);
  f->watchdog_calls++;
  fixture_close(f);
}

/* A mail posted from a timer callback is delivered in that loop turn: the
 * loop must not block in poll while mail waits.  After the third call the
 * timer stops, so the watchdog, 5 s away, is the only other thing the loop
 * could wait for. */
static void test_post_from_timer(void) {
  uv_loop_t loop;
  chat_sched_t s;
  timer_fixture_t f;
  memset(&f, 0, sizeof(f));
  setup(&loop, &s);
  actor_init(&f.actor, &s, 1, NULL);
  T_EQ_INT(uv_timer_init(&loop, &f.timer), 0);
  T_EQ_INT(uv_timer_init(&loop, &f.watchdog), 0);
  f.timer.data = f.watchdog.data = &f;
  T_EQ_INT(uv_timer_start(&f.timer, timer_cb, 1, 20), 0);
  T_EQ_INT(uv_timer_start(&f.watchdog, watchdog_cb, 5000, 0), 0);

  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(f.watchdog_calls, 0);
  T_EQ_INT(f.timer_calls, 3);
  T_EQ_INT(f.handled, 3);
  T_EQ_INT(f.closed, 2);
  T_EQ_INT(s.delivered, 3);
  /* Delivered in the turn it was posted in, not after a poll timeout. */
  T_CHECK(f.handled_at - f.posted_at < 1000);
  T_EQ_INT(f.actor.super.refs, 1);

  chat_actor_unref(&f.actor.super);
  teardown(&loop, &s);
}

/* ---- reference counting ----------------------------------------------- */

static int heap_frees;

static void heap_free_cb(chat_actor_t *self) {
  test_actor_t *a = container_of(self, test_actor_t, super);
  T_EQ_INT(self->refs, 0);
  T_CHECK(self->head == NULL);
  log_event(-a->tag);
  heap_frees++;
  free(a);
}

static void test_refcount_free_after_mail(void) {
  uv_loop_t loop;
  chat_sched_t s;
  setup(&loop, &s);
  heap_frees = 0;
  test_actor_t *a = chat_xmalloc(sizeof(*a));
  actor_init(a, &s, 5, heap_free_cb);
  T_EQ_INT(a->super.refs, 1);

  post_seq(a, 1, 0, NULL);
  post_seq(a, 2, 0, NULL);
  post_seq(a, 3, 2, NULL);   /* and two follow-ups to itself */
  T_EQ_INT(a->super.refs, 4);
  chat_actor_unref(&a->super);  /* the creator lets go */
  T_EQ_INT(heap_frees, 0);      /* queued mail keeps it */

  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(heap_frees, 1);
  static const int want[] = {5001, 5002, 5003, 5004, 5005, -5};
  T_EQ_INT(nevents, CHAT_ARRAY_SIZE(want));
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(want) && (int)i < nevents; i++)
    T_EQ_INT(event_log[i], want[i]);
  teardown(&loop, &s);
}

static void test_refcount_holders(void) {
  uv_loop_t loop;
  chat_sched_t s;
  setup(&loop, &s);
  heap_frees = 0;
  test_actor_t *a = chat_xmalloc(sizeof(*a));
  actor_init(a, &s, 6, heap_free_cb);

  /* Two other holders (a member list, a pending job). */
  chat_actor_ref(&a->super);
  chat_actor_ref(&a->super);
  T_EQ_INT(a->super.refs, 3);
  chat_actor_unref(&a->super);
  chat_actor_unref(&a->super);
  T_EQ_INT(heap_frees, 0);
  post_seq(a, 1, 0, NULL);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(heap_frees, 0);   /* the creator still holds it */
  T_EQ_INT(a->super.refs, 1);
  T_EQ_INT(nevents, 1);
  chat_actor_unref(&a->super);
  T_EQ_INT(heap_frees, 1);
  T_EQ_INT(nevents, 2);
  T_EQ_INT(last_event(), -6);

  /* An actor never posted to is freed at once by its last unref. */
  a = chat_xmalloc(sizeof(*a));
  actor_init(a, &s, 7, heap_free_cb);
  chat_actor_unref(&a->super);
  T_EQ_INT(heap_frees, 2);
  teardown(&loop, &s);
}

/* One actor's free callback runs in the middle of a drain while another
 * actor still has mail: the others are unaffected. */
static void test_free_mid_drain(void) {
  uv_loop_t loop;
  chat_sched_t s;
  test_actor_t b;
  setup(&loop, &s);
  heap_frees = 0;
  test_actor_t *a = chat_xmalloc(sizeof(*a));
  actor_init(a, &s, 1, heap_free_cb);
  actor_init(&b, &s, 2, logged_free_cb);

  post_seq(a, 1, 0, NULL);
  post_seq(&b, 1, 0, NULL);
  post_seq(a, 2, 3, &b);     /* a -> b -> a -> b */
  chat_actor_unref(&a->super);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(heap_frees, 1);
  T_EQ_INT(b.received, 3);
  /* a's free comes after a's last mail. */
  int last_a = -1, free_at = -1;
  for (int i = 0; i < nevents; i++) {
    if (event_log[i] / 1000 == 1) last_a = i;
    if (event_log[i] == -1) free_at = i;
  }
  T_CHECK(free_at > last_a);
  T_CHECK(last_a >= 0);
  chat_actor_unref(&b.super);
  T_EQ_INT(last_event(), -2);
  teardown(&loop, &s);
}

/* ---- closing ---------------------------------------------------------- */

/* Mail still queued when the scheduler closes is delivered first. */
static void test_close_delivers_queued(void) {
  uv_loop_t loop;
  chat_sched_t s;
  setup(&loop, &s);
  heap_frees = 0;
  test_actor_t *a = chat_xmalloc(sizeof(*a));
  actor_init(a, &s, 3, heap_free_cb);
  post_seq(a, 1, 0, NULL);
  post_seq(a, 2, 1, NULL);
  chat_actor_unref(&a->super);

  chat_sched_close(&s, sched_close_cb);
  T_EQ_INT(heap_frees, 1);
  static const int want[] = {3001, 3002, 3003, -3};
  T_EQ_INT(nevents, CHAT_ARRAY_SIZE(want));
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(want) && (int)i < nevents; i++)
    T_EQ_INT(event_log[i], want[i]);
  T_EQ_INT(sched_closed, 0);  /* the close callback waits for libuv */
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(sched_closed, 1);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* A NULL close callback is allowed. */
static void test_close_null_cb(void) {
  uv_loop_t loop;
  chat_sched_t s;
  setup(&loop, &s);
  chat_sched_close(&s, NULL);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  T_RUN(test_idle_loop_exits);
  T_RUN(test_posting_order);
  T_RUN(test_post_during_drain);
  T_RUN(test_hooks);
  T_RUN(test_post_from_timer);
  T_RUN(test_refcount_free_after_mail);
  T_RUN(test_refcount_holders);
  T_RUN(test_free_mid_drain);
  T_RUN(test_close_delivers_queued);
  T_RUN(test_close_null_cb);
  return T_DONE();
}
