#include "hasher.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

/* How much less CPU priority the hashing threads have than the loop. */
#define HASHER_NICE 10

/* States: OPEN (accepting jobs), CLOSING (the workers closing), CLOSED
 * (they are gone). */
typedef enum { HASHER_OPEN, HASHER_CLOSING, HASHER_CLOSED } hasher_state_t;

struct chat_hasher_s {
  uv_loop_t *loop;
  hasher_state_t state;
  chat_hasher_fns_t fns;
  size_t max_pending;
  size_t pending;               /* submitted, not yet posted back */
  uint64_t refused;
  double avg_ms;                /* recent time per job (moving average) */
  chat_workers_t *workers;
  int nthreads;

  /* What VERIFY with no hash checks against, made once on a thread. */
  uv_mutex_t dummy_lock;
  char dummy[CHAT_HASH_MAX];
  int dummy_ready;

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

static void work_cb(chat_work_t *w) {
  chat_hash_job_t *job = container_of(w, chat_hash_job_t, work);
  job_run(job->hasher, job);
}

/* ---- the loop side ------------------------------------------------------ */

static void maybe_drained(chat_hasher_t *h) {
  if (h->drain_cb && h->pending == 0) {
    void (*cb)(void *) = h->drain_cb;
    h->drain_cb = NULL;
    cb(h->drain_ud);
  }
}

static void after_cb(chat_work_t *w) {
  chat_hash_job_t *job = container_of(w, chat_hash_job_t, work);
  chat_hasher_t *h = job->hasher;
  double ms = (double)job->ns / 1e6;
  h->avg_ms = h->avg_ms > 0 ? h->avg_ms * 0.8 + ms * 0.2 : ms;
  h->pending--;
  chat_actor_t *to = job->reply_to;
  job->reply_to = NULL;
  job->hasher = NULL;
  chat_actor_post(to, &job->mail);
  chat_actor_unref(to);
  maybe_drained(h);
}

chat_hasher_t *chat_hasher_new(uv_loop_t *loop, int threads, size_t max_pending,
                               const chat_hasher_fns_t *fns, char *err, size_t errlen) {
  chat_hasher_t *h = chat_xcalloc(1, sizeof(*h));
  h->loop = loop;
  h->fns = fns ? *fns : argon_fns;
  h->max_pending = max_pending > 0 ? max_pending : 1;
  h->nthreads = threads > 0 ? threads : 1;
  int rc = uv_mutex_init(&h->dummy_lock);
  if (rc != 0) {
    snprintf(err, errlen, "hasher: %s", uv_strerror(rc));
    free(h);
    return NULL;
  }
  h->workers = chat_workers_new(loop, h->nthreads, "chatd-hash", HASHER_NICE, err, errlen);
  if (h->workers == NULL) {
    uv_mutex_destroy(&h->dummy_lock);
    free(h);
    return NULL;
  }
  h->state = HASHER_OPEN;
  return h;
}

int chat_hasher_submit(chat_hasher_t *h, chat_hash_job_t *job, chat_actor_t *reply_to) {
  if (h->state != HASHER_OPEN) return CHAT_EINVAL;
  if (h->pending >= h->max_pending) {
    h->refused++;
    return CHAT_EAGAIN;
  }
  h->pending++;
  job->reply_to = reply_to;
  job->hasher = h;
  chat_actor_ref(reply_to);
  chat_workers_queue(h->workers, &job->work, work_cb, after_cb);
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

static void workers_closed_cb(void *ud) {
  chat_hasher_t *h = ud;
  h->workers = NULL;
  h->state = HASHER_CLOSED;
  if (h->close_cb) h->close_cb(h->close_ud);
}

void chat_hasher_close(chat_hasher_t *h, void (*cb)(void *ud), void *ud) {
  assert(h->state != HASHER_CLOSING && h->state != HASHER_CLOSED);
  h->state = HASHER_CLOSING;
  h->close_cb = cb;
  h->close_ud = ud;
  /* Jobs still queued run first; their results are posted now. */
  chat_workers_close(h->workers, workers_closed_cb, h);
}

void chat_hasher_free(chat_hasher_t *h) {
  if (h == NULL) return;
  assert(h->state == HASHER_CLOSED && h->pending == 0);
  uv_mutex_destroy(&h->dummy_lock);
  memset(h->dummy, 0, sizeof(h->dummy));
  free(h);
}
