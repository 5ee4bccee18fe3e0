#include "hasher.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "../core/common.h"

/* How much less CPU priority the hashing threads have than the loop. */
#define HASHER_NICE 10

/* States: OPEN (accepting jobs), CLOSING (threads told to stop, the async
 * handle closing), CLOSED (close_cb has run). */
typedef enum { HASHER_OPEN, HASHER_CLOSING, HASHER_CLOSED } hasher_state_t;

struct chat_hasher_s {
  uv_loop_t *loop;
  hasher_state_t state;
  chat_hasher_fns_t fns;
  size_t max_pending;
  size_t pending;               /* loop thread: submitted, not yet posted back */
  uint64_t refused;
  double avg_ms;                /* recent time per job (moving average) */

  /* shared with the threads, under lock */
  uv_mutex_t lock;
  uv_cond_t cond;
  chat_hash_job_t *todo_head, *todo_tail;
  chat_hash_job_t *done_head, *done_tail;
  int stop;

  /* What VERIFY with no hash checks against, made once on a thread. */
  uv_mutex_t dummy_lock;
  char dummy[CHAT_HASH_MAX];
  int dummy_ready;

  uv_async_t async;
  uv_thread_t *threads;
  int nthreads;

  void (*drain_cb)(void *ud);
  void *drain_ud;
  void (*close_cb)(void *ud);
  void *close_ud;
};

static int argon_verify(const char *hash, const char *password, size_t len) {
  return chat_auth_verify_password(hash, password, len);
}
static int argon_make(const char *password, size_t len, char *out) {
  return chat_auth_hash_password(password, len, out);
}
static const chat_hasher_fns_t argon_fns = {argon_verify, argon_make};

/* ---- the threads -------------------------------------------------------- */

static const char *dummy_hash(chat_hasher_t *h) {
  uv_mutex_lock(&h->dummy_lock);
  if (!h->dummy_ready) {
    h->dummy_ready = h->fns.make("not a password", 14, h->dummy) == 0;
  }
  uv_mutex_unlock(&h->dummy_lock);
  return h->dummy_ready ? h->dummy : NULL;
}

static void job_run(chat_hasher_t *h, chat_hash_job_t *job) {
  const chat_hasher_fns_t *fns = &h->fns;
  uint64_t t0 = uv_hrtime();
  job->verified = 0;
  job->made = 0;
  int go_on = 1;
  if (job->ops & CHAT_HASH_VERIFY) {
    if (job->hash[0]) {
      job->verified = fns->verify(job->hash, job->password, job->password_len) == 1;
    } else {
      const char *dummy = dummy_hash(h);
      if (dummy) fns->verify(dummy, job->password, job->password_len);
    }
    go_on = job->verified;
  }
  if ((job->ops & CHAT_HASH_MAKE) && go_on) {
    char out[CHAT_HASH_MAX];
    if (fns->make(job->new_password, job->new_password_len, out) == 0) {
      memcpy(job->hash, out, sizeof(out));
      job->made = 1;
    }
    memset(out, 0, sizeof(out));
  }
  job->ns = uv_hrtime() - t0;
}

static void thread_main(void *arg) {
  chat_hasher_t *h = arg;
#ifdef __linux__
  /* Best effort: a thread's nice value is its own on Linux. */
  (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HASHER_NICE);
#endif
  uv_mutex_lock(&h->lock);
  for (;;) {
    while (h->todo_head == NULL && !h->stop) uv_cond_wait(&h->cond, &h->lock);
    chat_hash_job_t *job = h->todo_head;
    if (job == NULL) break;  /* stopping, and nothing left */
    h->todo_head = job->next;
    if (h->todo_head == NULL) h->todo_tail = NULL;
    uv_mutex_unlock(&h->lock);

    job_run(h, job);

    uv_mutex_lock(&h->lock);
    job->next = NULL;
    int was_empty = h->done_head == NULL;
    if (h->done_tail)
      h->done_tail->next = job;
    else
      h->done_head = job;
    h->done_tail = job;
    if (was_empty) uv_async_send(&h->async);
  }
  uv_mutex_unlock(&h->lock);
}

/* ---- the loop side ------------------------------------------------------ */

static void maybe_drained(chat_hasher_t *h) {
  if (h->drain_cb && h->pending == 0) {
    void (*cb)(void *) = h->drain_cb;
    h->drain_cb = NULL;
    cb(h->drain_ud);
  }
}

static void async_cb(uv_async_t *a) {
  chat_hasher_t *h = a->data;
  uv_mutex_lock(&h->lock);
  chat_hash_job_t *job = h->done_head;
  h->done_head = h->done_tail = NULL;
  uv_mutex_unlock(&h->lock);
  while (job) {
    chat_hash_job_t *next = job->next;
    double ms = (double)job->ns / 1e6;
    h->avg_ms = h->avg_ms > 0 ? h->avg_ms * 0.8 + ms * 0.2 : ms;
    h->pending--;
    chat_actor_t *to = job->reply_to;
    job->reply_to = NULL;
    job->next = NULL;
    chat_actor_post(to, &job->mail);
    chat_actor_unref(to);
    job = next;
  }
  maybe_drained(h);
}

chat_hasher_t *chat_hasher_new(uv_loop_t *loop, int threads, size_t max_pending,
                               const chat_hasher_fns_t *fns, char *err, size_t errlen) {
  chat_hasher_t *h = chat_xcalloc(1, sizeof(*h));
  h->loop = loop;
  h->fns = fns ? *fns : argon_fns;
  h->max_pending = max_pending > 0 ? max_pending : 1;
  h->nthreads = threads > 0 ? threads : 1;
  h->threads = chat_xcalloc((size_t)h->nthreads, sizeof(*h->threads));
  int rc = uv_mutex_init(&h->lock);
  if (rc != 0) goto fail_mutex;
  rc = uv_cond_init(&h->cond);
  if (rc != 0) goto fail_cond;
  rc = uv_mutex_init(&h->dummy_lock);
  if (rc != 0) goto fail_dummy;
  rc = uv_async_init(loop, &h->async, async_cb);
  if (rc != 0) goto fail_async;
  h->async.data = h;
  for (int i = 0; i < h->nthreads; i++) {
    rc = uv_thread_create(&h->threads[i], thread_main, h);
    if (rc != 0) {
      /* Stop the ones that started; close the handle on the next loop
       * turn (the memory goes with it). */
      h->nthreads = i;
      snprintf(err, errlen, "hasher: cannot start a thread: %s", uv_strerror(rc));
      chat_hasher_close(h, NULL, NULL);
      uv_run(loop, UV_RUN_NOWAIT);
      chat_hasher_free(h);
      return NULL;
    }
  }
  h->state = HASHER_OPEN;
  return h;

fail_async:
  uv_mutex_destroy(&h->dummy_lock);
fail_dummy:
  uv_cond_destroy(&h->cond);
fail_cond:
  uv_mutex_destroy(&h->lock);
fail_mutex:
  snprintf(err, errlen, "hasher: %s", uv_strerror(rc));
  free(h->threads);
  free(h);
  return NULL;
}

int chat_hasher_submit(chat_hasher_t *h, chat_hash_job_t *job, chat_actor_t *reply_to) {
  if (h->state != HASHER_OPEN) return CHAT_EINVAL;
  if (h->pending >= h->max_pending) {
    h->refused++;
    return CHAT_EAGAIN;
  }
  h->pending++;
  job->reply_to = reply_to;
  job->next = NULL;
  chat_actor_ref(reply_to);
  uv_mutex_lock(&h->lock);
  if (h->todo_tail)
    h->todo_tail->next = job;
  else
    h->todo_head = job;
  h->todo_tail = job;
  uv_cond_signal(&h->cond);
  uv_mutex_unlock(&h->lock);
  return 0;
}

size_t chat_hasher_pending(const chat_hasher_t *h) { return h->pending; }

int chat_hasher_full(chat_hasher_t *h) {
  if (h->state == HASHER_OPEN && h->pending < h->max_pending) return 0;
  h->refused++;
  return 1;
}
uint64_t chat_hasher_refused(const chat_hasher_t *h) { return h->refused; }

int chat_hasher_retry_after(const chat_hasher_t *h) {
  /* The jobs ahead, shared by the threads, at the recent pace. */
  double ms = (double)h->pending * (h->avg_ms > 0 ? h->avg_ms : 100.0) / h->nthreads;
  int s = (int)(ms / 1000.0) + 1;
  return s < 1 ? 1 : s > 60 ? 60 : s;
}

void chat_hasher_drain(chat_hasher_t *h, void (*cb)(void *ud), void *ud) {
  h->drain_cb = cb;
  h->drain_ud = ud;
  maybe_drained(h);
}

static void async_closed_cb(uv_handle_t *handle) {
  chat_hasher_t *h = handle->data;
  h->state = HASHER_CLOSED;
  if (h->close_cb) h->close_cb(h->close_ud);
}

void chat_hasher_close(chat_hasher_t *h, void (*cb)(void *ud), void *ud) {
  assert(h->state != HASHER_CLOSING && h->state != HASHER_CLOSED);
  h->state = HASHER_CLOSING;
  h->close_cb = cb;
  h->close_ud = ud;
  uv_mutex_lock(&h->lock);
  h->stop = 1;
  uv_cond_broadcast(&h->cond);
  uv_mutex_unlock(&h->lock);
  for (int i = 0; i < h->nthreads; i++) uv_thread_join(&h->threads[i]);
  /* Results the threads left after the last wake-up are posted now. */
  async_cb(&h->async);
  uv_close((uv_handle_t *)&h->async, async_closed_cb);
}

void chat_hasher_free(chat_hasher_t *h) {
  if (h == NULL) return;
  assert(h->state == HASHER_CLOSED && h->pending == 0);
  uv_mutex_destroy(&h->dummy_lock);
  uv_cond_destroy(&h->cond);
  uv_mutex_destroy(&h->lock);
  memset(h->dummy, 0, sizeof(h->dummy));
  free(h->threads);
  free(h);
}
