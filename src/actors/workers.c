#include "workers.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "../core/common.h"

struct chat_workers_s {
  uv_loop_t *loop;
  size_t pending;              /* loop thread: queued, after not yet run */
  char name[16];
  int nice;

  /* shared with the threads, under lock */
  uv_mutex_t lock;
  uv_cond_t cond;
  chat_work_t *todo_head, *todo_tail;
  chat_work_t *done_head, *done_tail;
  int stop;

  uv_async_t async;
  uv_thread_t *threads;
  int nthreads;

  void (*close_cb)(void *ud);
  void *close_ud;
};

static void push(chat_work_t **head, chat_work_t **tail, chat_work_t *w) {
  w->next = NULL;
  if (*tail)
    (*tail)->next = w;
  else
    *head = w;
  *tail = w;
}

static void thread_main(void *arg) {
  chat_workers_t *ws = arg;
#ifdef __linux__
  (void)prctl(PR_SET_NAME, ws->name, 0, 0, 0);
  /* A thread's nice value is its own on Linux. */
  if (ws->nice) (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ws->nice);
#endif
  uv_mutex_lock(&ws->lock);
  for (;;) {
    while (ws->todo_head == NULL && !ws->stop) uv_cond_wait(&ws->cond, &ws->lock);
    chat_work_t *w = ws->todo_head;
    if (w == NULL) break;  /* stopping, and nothing left */
    ws->todo_head = w->next;
    if (ws->todo_head == NULL) ws->todo_tail = NULL;
    uv_mutex_unlock(&ws->lock);

    w->work(w);

    uv_mutex_lock(&ws->lock);
    int was_empty = ws->done_head == NULL;
    push(&ws->done_head, &ws->done_tail, w);
    if (was_empty) uv_async_send(&ws->async);
  }
  uv_mutex_unlock(&ws->lock);
}

static void async_cb(uv_async_t *a) {
  chat_workers_t *ws = a->data;
  uv_mutex_lock(&ws->lock);
  chat_work_t *w = ws->done_head;
  ws->done_head = ws->done_tail = NULL;
  uv_mutex_unlock(&ws->lock);
  while (w) {
    chat_work_t *next = w->next;
    w->next = NULL;
    ws->pending--;
    w->after(w);  /* may free w */
    w = next;
  }
}

static void stop_threads(chat_workers_t *ws) {
  uv_mutex_lock(&ws->lock);
  ws->stop = 1;
  uv_cond_broadcast(&ws->cond);
  uv_mutex_unlock(&ws->lock);
  for (int i = 0; i < ws->nthreads; i++) uv_thread_join(&ws->threads[i]);
  ws->nthreads = 0;
}

static void free_all(chat_workers_t *ws) {
  uv_cond_destroy(&ws->cond);
  uv_mutex_destroy(&ws->lock);
  free(ws->threads);
  free(ws);
}

static void async_closed_cb(uv_handle_t *h) {
  chat_workers_t *ws = h->data;
  void (*cb)(void *) = ws->close_cb;
  void *ud = ws->close_ud;
  free_all(ws);
  if (cb) cb(ud);
}

chat_workers_t *chat_workers_new(uv_loop_t *loop, int threads, const char *name, int nice,
                                 char *err, size_t errlen) {
  chat_workers_t *ws = chat_xcalloc(1, sizeof(*ws));
  ws->loop = loop;
  ws->nice = nice;
  snprintf(ws->name, sizeof(ws->name), "%s", name ? name : "chatd-work");
  int n = threads > 0 ? threads : 1;
  ws->threads = chat_xcalloc((size_t)n, sizeof(*ws->threads));
  int rc = uv_mutex_init(&ws->lock);
  if (rc == 0) {
    rc = uv_cond_init(&ws->cond);
    if (rc != 0) uv_mutex_destroy(&ws->lock);
  }
  if (rc == 0) {
    rc = uv_async_init(loop, &ws->async, async_cb);
    if (rc != 0) {
      uv_cond_destroy(&ws->cond);
      uv_mutex_destroy(&ws->lock);
    }
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", ws->name, uv_strerror(rc));
    free(ws->threads);
    free(ws);
    return NULL;
  }
  ws->async.data = ws;
  for (int i = 0; i < n; i++) {
    rc = uv_thread_create(&ws->threads[i], thread_main, ws);
    if (rc != 0) {
      snprintf(err, errlen, "%s: cannot start a thread: %s", ws->name, uv_strerror(rc));
      stop_threads(ws);
      uv_close((uv_handle_t *)&ws->async, async_closed_cb);
      return NULL;
    }
    ws->nthreads = i + 1;
  }
  return ws;
}

void chat_workers_queue(chat_workers_t *ws, chat_work_t *w, chat_work_cb work,
                        chat_work_after_cb after) {
  assert(work != NULL && after != NULL);
  w->work = work;
  w->after = after;
  ws->pending++;
  uv_mutex_lock(&ws->lock);
  push(&ws->todo_head, &ws->todo_tail, w);
  uv_cond_signal(&ws->cond);
  uv_mutex_unlock(&ws->lock);
}

size_t chat_workers_pending(const chat_workers_t *ws) { return ws->pending; }

void chat_workers_close(chat_workers_t *ws, void (*done)(void *ud), void *ud) {
  ws->close_cb = done;
  ws->close_ud = ud;
  stop_threads(ws);     /* they run what is queued first */
  async_cb(&ws->async); /* what they finished after the last wake-up */
  uv_close((uv_handle_t *)&ws->async, async_closed_cb);
}
