/* The workers (actors/workers.h): jobs run on the module's own threads, at
 * most as many at once as it has threads, while the loop goes on; after
 * callbacks run on the loop thread; close stops the threads and calls done
 * on a later loop turn. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/workers.h"
#include "core/common.h"
#include "t.h"

typedef struct {
  chat_work_t work;
  int held;                 /* waits for the gate */
  uv_thread_t ran_on;
  int done_on_loop;
} job_t;

static uv_mutex_t lock;
static uv_cond_t cond;
static int gate_open, running, max_running;
static uv_thread_t loop_thread;
static int afters;

static void work_cb(chat_work_t *w) {
  job_t *j = container_of(w, job_t, work);
  j->ran_on = uv_thread_self();
  uv_mutex_lock(&lock);
  running++;
  if (running > max_running) max_running = running;
  uv_cond_broadcast(&cond);
  while (j->held && !gate_open) uv_cond_wait(&cond, &lock);
  running--;
  uv_mutex_unlock(&lock);
}

static void after_cb(chat_work_t *w) {
  job_t *j = container_of(w, job_t, work);
  uv_thread_t self = uv_thread_self();
  j->done_on_loop = uv_thread_equal(&self, &loop_thread);
  afters++;
}

static int closed;
static void closed_cb(void *ud) { closed = *(int *)ud; }

static void test_jobs_off_the_loop(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  loop_thread = uv_thread_self();
  uv_mutex_init(&lock);
  uv_cond_init(&cond);
  char err[128] = "";
  chat_workers_t *ws = chat_workers_new(&loop, 2, "chatd-test", 0, err, sizeof(err));
  T_CHECK(ws != NULL);
  if (ws == NULL) return;

  /* Two held jobs take both threads; a third waits; the loop is free. */
  job_t jobs[3];
  memset(jobs, 0, sizeof(jobs));
  for (int i = 0; i < 3; i++) {
    jobs[i].held = 1;
    chat_workers_queue(ws, &jobs[i].work, work_cb, after_cb);
  }
  T_EQ_INT(chat_workers_pending(ws), 3);
  uv_mutex_lock(&lock);
  while (running < 2) uv_cond_wait(&cond, &lock);
  uv_mutex_unlock(&lock);
  uv_run(&loop, UV_RUN_NOWAIT);  /* returns: nothing blocks the loop */
  T_EQ_INT(afters, 0);
  T_EQ_INT(max_running, 2);

  uv_mutex_lock(&lock);
  gate_open = 1;
  uv_cond_broadcast(&cond);
  uv_mutex_unlock(&lock);
  while (afters < 3) uv_run(&loop, UV_RUN_ONCE);
  T_EQ_INT(chat_workers_pending(ws), 0);
  T_EQ_INT(max_running, 2);
  for (int i = 0; i < 3; i++) {
    T_CHECK(!uv_thread_equal(&jobs[i].ran_on, &loop_thread));
    T_CHECK(jobs[i].done_on_loop);
  }

  /* Many quick jobs: each after callback once. */
  afters = 0;
  enum { N = 500 };
  job_t *many = chat_xcalloc(N, sizeof(*many));
  for (int i = 0; i < N; i++) chat_workers_queue(ws, &many[i].work, work_cb, after_cb);
  while (afters < N) uv_run(&loop, UV_RUN_ONCE);
  T_EQ_INT(afters, N);
  free(many);

  int token = 7;
  chat_workers_close(ws, closed_cb, &token);
  T_EQ_INT(closed, 0);  /* not from within the call */
  uv_run(&loop, UV_RUN_DEFAULT);
  T_EQ_INT(closed, 7);
  T_EQ_INT(uv_loop_close(&loop), 0);
  uv_cond_destroy(&cond);
  uv_mutex_destroy(&lock);
}

int main(void) {
  T_RUN(test_jobs_off_the_loop);
  return T_DONE();
}
