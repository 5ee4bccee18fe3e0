/* The batcher (actors/batcher.h), batching here only (no Redis): a user's
 * items go out as one job once gathered, capped with the rest counted; at
 * most max_sending jobs run at once; the interval holds between two jobs;
 * putback keeps a failed job's items for the next one; forget marks the
 * running job; the close drops what waits, waits for running and held
 * jobs, and calls done on a later turn. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/batcher.h"
#include "core/common.h"
#include "t.h"

#define GATHER_MS 20
#define INTERVAL_MS 150

typedef struct {
  chat_batch_item_t base;
  int value;
} item_t;

typedef struct {
  chat_batch_job_t base;
  chat_batch_list_t items;
  int fail;               /* set by the worker from the first item's value */
} job_t;

static uv_loop_t loop;
static chat_batcher_t *b;
static int items_alive, jobs_started, jobs_finished, jobs_running, max_running;
static int fail_next;       /* the next finished job fails and is put back */
static int hold_next;       /* the next finished job is held, not ended */
static job_t *held_job;
static int64_t last_uid;
static uint64_t last_total, last_forgotten;
static int closed_token;

static void item_free(chat_batch_item_t *it) {
  items_alive--;
  free(it);
}

static chat_batch_item_t *item_new(int value) {
  item_t *it = chat_xcalloc(1, sizeof(*it));
  it->value = value;
  items_alive++;
  return &it->base;
}

static chat_batch_job_t *start_cb(void *ud, chat_batch_user_t *u, chat_batch_list_t *items) {
  (void)ud;
  (void)u;
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->items = *items;
  memset(items, 0, sizeof(*items));
  jobs_started++;
  jobs_running++;
  if (jobs_running > max_running) max_running = jobs_running;
  return &job->base;
}

/* Jobs wait on the worker while the gate is shut. */
static uv_mutex_t gate_lock;
static uv_cond_t gate_cond;
static int gate_shut;

static void work_cb(chat_work_t *w) {
  (void)w;
  uv_mutex_lock(&gate_lock);
  while (gate_shut) uv_cond_wait(&gate_cond, &gate_lock);
  uv_mutex_unlock(&gate_lock);
}

static void gate_set(int shut) {
  uv_mutex_lock(&gate_lock);
  gate_shut = shut;
  uv_cond_broadcast(&gate_cond);
  uv_mutex_unlock(&gate_lock);
}

static void end_job(job_t *job) {
  chat_batch_user_t *u = job->base.user;
  if (fail_next && u && chat_batcher_open(b)) {
    fail_next = 0;
    chat_batcher_putback(b, u, &job->items, uv_now(&loop));
  }
  chat_batch_list_clear(b, &job->items);
  free(job);
  if (u) chat_batcher_user_done(b, u);
}

static void finished_cb(void *ud, chat_batch_job_t *base) {
  (void)ud;
  job_t *job = container_of(base, job_t, base);
  jobs_running--;
  jobs_finished++;
  last_uid = base->uid;
  last_total = chat_batch_list_total(&job->items);
  last_forgotten = (uint64_t)base->forgotten;
  if (hold_next) {
    hold_next = 0;
    held_job = job;
    chat_batcher_hold(b);
    return;
  }
  end_job(job);
}

static void closing_cb(void *ud) {
  (void)ud;
  if (held_job == NULL) return;
  end_job(held_job);
  held_job = NULL;
  chat_batcher_release(b);
}

static char *item_encode(const chat_batch_item_t *it) {
  (void)it;
  return NULL;
}

static chat_batch_item_t *item_decode(const char *p, size_t len) {
  (void)p;
  (void)len;
  return NULL;
}

static void claimed_cb(void *ud, const chat_mailq_mail_t *m) {
  (void)ud;
  (void)m;
}

static const chat_batcher_ops_t ops = {
    .item_free = item_free,
    .item_encode = item_encode,
    .item_decode = item_decode,
    .start = start_cb,
    .claimed = claimed_cb,
    .work = work_cb,
    .finished = finished_cb,
    .closing = closing_cb,
};

static void closed_cb(void *ud) { closed_token = *(int *)ud; }

static void watchdog_cb(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "watchdog: the test took too long\n");
  abort();
}

/* Runs the loop until *counter reaches want. */
static void run_until(int *counter, int want) {
  while (*counter < want) uv_run(&loop, UV_RUN_ONCE);
}

static void open_batcher(size_t max_items, size_t max_sending) {
  chat_batcher_config_t cfg = {
      .gather_ms = GATHER_MS,
      .interval_ms = INTERVAL_MS,
      .max_items = max_items,
      .max_sending = max_sending,
      .thread_name = "chatd-test",
      .seed = 1,
  };
  char err[128] = "";
  b = chat_batcher_new(&loop, &cfg, &ops, NULL, err, sizeof(err));
  T_CHECK(b != NULL);
  jobs_started = jobs_finished = jobs_running = max_running = 0;
}

static void close_batcher(void) {
  int token = 5;
  closed_token = 0;
  chat_batcher_close(b, closed_cb, &token);
  T_EQ_INT(closed_token, 0);  /* not from within the call */
  while (closed_token == 0) uv_run(&loop, UV_RUN_ONCE);
  T_EQ_INT(closed_token, 5);
  T_EQ_INT(items_alive, 0);
  b = NULL;
}

static void test_gather_and_cap(void) {
  open_batcher(3, 1);
  uint64_t t0 = uv_now(&loop);
  for (int i = 0; i < 5; i++) chat_batcher_add(b, 7, "ann", "a@example.org", item_new(i));
  chat_batcher_stats_t st;
  chat_batcher_stats(b, &st);
  T_EQ_INT(st.pending, 5);
  T_EQ_INT(st.queued, 3);
  T_EQ_INT(chat_batcher_queued(b), 3);
  T_EQ_INT(items_alive, 3);  /* the rest are counted */
  run_until(&jobs_finished, 1);
  T_CHECK(uv_now(&loop) - t0 >= GATHER_MS);
  T_EQ_INT(jobs_started, 1);
  T_EQ_INT(last_uid, 7);
  T_EQ_INT(last_total, 5);
  chat_batcher_stats(b, &st);
  T_EQ_INT(st.pending, 0);
  T_EQ_INT(st.queued, 0);

  /* The interval holds: the next item waits for it. */
  chat_batcher_add(b, 7, "ann", "a@example.org", item_new(9));
  run_until(&jobs_finished, 2);
  T_CHECK(uv_now(&loop) - t0 >= INTERVAL_MS);
  T_EQ_INT(last_total, 1);
  close_batcher();
}

static void test_sending_slots(void) {
  open_batcher(10, 2);
  for (int64_t uid = 1; uid <= 5; uid++) chat_batcher_add(b, uid, "u", "u@example.org", item_new(1));
  run_until(&jobs_finished, 5);
  T_EQ_INT(jobs_started, 5);
  T_EQ_INT(max_running, 2);
  close_batcher();
}

static void test_putback(void) {
  open_batcher(2, 1);
  fail_next = 1;
  chat_batcher_add(b, 3, "cy", "c@example.org", item_new(1));
  chat_batcher_add(b, 3, "cy", "c@example.org", item_new(2));
  run_until(&jobs_finished, 1);
  T_EQ_INT(last_total, 2);
  /* Put back: waiting again, and sent with the user's next job. */
  chat_batcher_stats_t st;
  chat_batcher_stats(b, &st);
  T_EQ_INT(st.pending, 2);
  T_EQ_INT(st.queued, 2);
  run_until(&jobs_finished, 2);
  T_EQ_INT(last_total, 2);
  close_batcher();
}

static void test_forget_and_close(void) {
  open_batcher(5, 1);
  /* Forgotten while its job runs: the job is told. */
  gate_set(1);
  chat_batcher_add(b, 4, "di", "d@example.org", item_new(1));
  run_until(&jobs_started, 1);
  chat_batcher_forget(b, 4);
  hold_next = 1;
  gate_set(0);
  run_until(&jobs_finished, 1);
  T_EQ_INT(last_forgotten, 1);
  T_CHECK(held_job != NULL);
  /* What waits is forgotten, and counted. */
  chat_batcher_add(b, 5, "ed", "e@example.org", item_new(1));
  chat_batcher_add(b, 6, "fi", "f@example.org", item_new(1));
  chat_batcher_forget(b, 6);
  chat_batcher_stats_t st;
  chat_batcher_stats(b, &st);
  T_EQ_INT(st.forgotten, 1);
  T_EQ_INT(st.pending, 1);
  /* The close drops user 5's item, ends the held job through
   * ops->closing, and waits for it. */
  close_batcher();
  T_CHECK(held_job == NULL);
}

int main(void) {
  uv_loop_init(&loop);
  uv_mutex_init(&gate_lock);
  uv_cond_init(&gate_cond);
  uv_timer_t watchdog;
  uv_timer_init(&loop, &watchdog);
  uv_timer_start(&watchdog, watchdog_cb, 10000, 0);
  uv_unref((uv_handle_t *)&watchdog);
  T_RUN(test_gather_and_cap);
  T_RUN(test_sending_slots);
  T_RUN(test_putback);
  T_RUN(test_forget_and_close);
  uv_close((uv_handle_t *)&watchdog, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  T_EQ_INT(uv_loop_close(&loop), 0);
  uv_cond_destroy(&gate_cond);
  uv_mutex_destroy(&gate_lock);
  return T_DONE();
}
