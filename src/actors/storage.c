#include "storage.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/histo.h"
#include "../core/log.h"

/* The largest group commit; more inserts wait for the next batch. */
#define MAX_BATCH 512
/* Batches in flight when the store commits without waiting for the disk
 * (chat_store_can_pipeline): one waits for its sync while the next one
 * writes.  The second starts only once the first has been out this long:
 * with a quick disk a batch is back sooner, and one batch at a time makes
 * the largest batches (the fewest commits for the same messages); with a
 * slow disk, the next batch need not wait for the sync as well. */
#define PIPELINE 2
#define PIPELINE_AFTER_NS (1000 * 1000)

typedef struct storage_s storage_t;

typedef struct batch_s batch_t;
struct batch_s {
  uv_work_t work;
  storage_t *st;
  chat_insert_t **ins;
  chat_msg_insert_t *recs;
  size_t n;
  int rc;
  uint64_t ns;
  uint64_t turn;               /* its place in the commit order */
  uint64_t t_start;            /* when it went out (uv_hrtime) */
  int done;                    /* back from the worker */
  batch_t *next;               /* in flight, in commit order */
};

typedef struct {
  uv_work_t work;
  storage_t *st;
  int chunk;
  int done;
  int rc;
  uint64_t t0;
} index_job_t;

struct storage_s {
  chat_storage_t super;
  chat_sched_t *sched;
  chat_store_t *store;
  int indexing;                /* an index job is on a worker thread */
  int index_more;              /* the last one did not catch up */
  uint64_t last_batch_ns;      /* when the latest batch went out */
  uint64_t index_next_ns;      /* while messages flow, no index job before this */
  uv_timer_t index_timer;      /* starts a job held back by INDEX_DUTY */
  int timer_open;
  int stopping;
  chat_insert_t **pending;     /* inserts waiting for the next batch */
  size_t npending, cap;
  int writing;                 /* batches on worker threads */
  int depth;                   /* how many may be: 1, or PIPELINE */
  batch_t *fly_head, *fly_tail;  /* those batches, in commit order */
  /* Pipelined batches commit in turn: a worker waits for its batch's turn,
   * commits, and passes the turn on before it waits for the disk. */
  uv_mutex_t turn_mu;
  uv_cond_t turn_cv;
  uint64_t turn_next;          /* the next batch's turn (loop thread) */
  uint64_t turn_now;           /* whose turn it is (under turn_mu) */
  size_t jobs;                 /* jobs in flight */
  void (*drain_cb)(void *ud);
  void *drain_ud;
  uint64_t batches, messages, write_ns;
  chat_histo_t commit_seconds, batch_size;  /* committed batches (metrics) */
};

static void flush(void *ud);
static void maybe_index(storage_t *st);

/* Search indexing runs behind the messages (store.h,
 * chat_store_index_pending; a search reads the newest messages not indexed
 * yet directly).  While messages flow (a batch out or waiting, or one less
 * than INDEX_QUIET_NS ago) a job indexes INDEX_CHUNK_BUSY messages, so
 * that a batch waiting for the writer waits little, and after a job of
 * T the next may start only T * INDEX_DUTY later: indexing takes at most
 * a tenth of the time, and under a load it cannot follow the index lags
 * and catches up once the load drops.  With nothing else to do, jobs of
 * INDEX_CHUNK_IDLE messages (larger is cheaper per message) follow each
 * other. */
#define INDEX_CHUNK_BUSY 50
#define INDEX_CHUNK_IDLE 1000
#define INDEX_DUTY 9
#define INDEX_QUIET_NS (50 * 1000 * 1000)

static void storage_submit(chat_storage_t *pub, chat_job_t *job, chat_actor_t *reply_to);
static void storage_insert(chat_storage_t *pub, chat_insert_t *ins);

static const chat_storage_ops_t storage_ops = {
    .submit = storage_submit,
    .insert = storage_insert,
};

static storage_t *storage_of(const chat_storage_t *pub) {
  return container_of(pub, storage_t, super);
}

chat_storage_t *chat_storage_new(chat_sched_t *sched, chat_store_t *store) {
  storage_t *st = chat_xcalloc(1, sizeof(*st));
  st->super.ops = &storage_ops;
  st->sched = sched;
  st->store = store;
  st->index_more = 1;  /* whatever a previous run left unindexed */
  st->depth = chat_store_can_pipeline(store) ? PIPELINE : 1;
  uv_timer_init(sched->loop, &st->index_timer);
  st->index_timer.data = st;
  uv_unref((uv_handle_t *)&st->index_timer);  /* it keeps no loop alive */
  st->timer_open = 1;
  uv_mutex_init(&st->turn_mu);
  uv_cond_init(&st->turn_cv);
  chat_sched_add_hook(sched, flush, st);
  return &st->super;
}

static void maybe_drained(storage_t *st) {
  if (st->drain_cb && chat_storage_pending(&st->super) == 0) {
    void (*cb)(void *) = st->drain_cb;
    st->drain_cb = NULL;
    cb(st->drain_ud);
  }
}

static void job_work_cb(uv_work_t *w) {
  chat_job_t *job = container_of(w, chat_job_t, work);
  job->run(job, storage_of(job->storage)->store);
}

static void job_after_cb(uv_work_t *w, int status) {
  chat_job_t *job = container_of(w, chat_job_t, work);
  storage_t *st = storage_of(job->storage);
  /* Jobs are never cancelled (a started write must finish), so status is 0. */
  assert(status == 0);
  (void)status;
  st->jobs--;
  chat_actor_t *to = job->reply_to;
  chat_actor_post(to, &job->mail);
  chat_actor_unref(to);
  maybe_drained(st);
}

static void storage_submit(chat_storage_t *pub, chat_job_t *job, chat_actor_t *reply_to) {
  storage_t *st = storage_of(pub);
  job->storage = pub;
  job->reply_to = reply_to;
  chat_actor_ref(reply_to);
  st->jobs++;
  int rc = uv_queue_work(st->sched->loop, &job->work, job_work_cb, job_after_cb);
  assert(rc == 0);
  (void)rc;
}

static void storage_insert(chat_storage_t *pub, chat_insert_t *ins) {
  storage_t *st = storage_of(pub);
  chat_actor_ref(ins->room);
  if (st->npending == st->cap) {
    st->cap = st->cap ? st->cap * 2 : 64;
    st->pending = chat_xrealloc(st->pending, st->cap * sizeof(*st->pending));
  }
  st->pending[st->npending++] = ins;
  /* The batch goes out at the scheduler's next drain (flush is its hook,
   * run in the loop's check phase).  A room posting from a mail handler is
   * inside a drain; a caller after it in the same loop turn (a close
   * callback, or a timer in UV_RUN_ONCE's second timer pass, as a loop
   * that embeds the server may run) would otherwise wait for the next
   * event to wake the loop, or see it end with the insert still queued. */
  chat_sched_wake(st->sched);
}

static void batch_work_cb(uv_work_t *w) {
  batch_t *b = container_of(w, batch_t, work);
  storage_t *st = b->st;
  uint64_t t0 = uv_hrtime();
  if (st->depth == 1) {
    b->rc = chat_store_msg_insert_batch(st->store, b->recs, b->n);
  } else {
    uint64_t ticket = 0;
    uv_mutex_lock(&st->turn_mu);
    while (st->turn_now != b->turn) uv_cond_wait(&st->turn_cv, &st->turn_mu);
    uv_mutex_unlock(&st->turn_mu);
    b->rc = chat_store_msg_insert_batch_nowait(st->store, b->recs, b->n, &ticket);
    uv_mutex_lock(&st->turn_mu);
    st->turn_now++;
    uv_cond_broadcast(&st->turn_cv);
    uv_mutex_unlock(&st->turn_mu);
    if (b->rc == 0) b->rc = chat_store_durable_wait(st->store, ticket);
  }
  b->ns = uv_hrtime() - t0;
}

/* Hands a finished batch's results to the rooms. */
static void batch_deliver(storage_t *st, batch_t *b) {
  if (b->rc == 0) {
    st->batches++;
    st->messages += b->n;
    st->write_ns += b->ns;
    chat_histo_observe(&st->commit_seconds, (double)b->ns / 1e9);
    if (st->batch_size.bounds == NULL)
      chat_histo_init(&st->batch_size, chat_histo_sizes, chat_histo_sizes_n);
    chat_histo_observe(&st->batch_size, (double)b->n);
  } else {
    chat_log_warn("store: a batch of %zu messages failed to commit", b->n);
  }
  for (size_t i = 0; i < b->n; i++) {
    chat_insert_t *ins = b->ins[i];
    ins->rec = b->recs[i];
    ins->failed = b->rc != 0;
    chat_actor_t *room = ins->room;
    chat_actor_post(room, &ins->mail);
    chat_actor_unref(room);
  }
  free(b->ins);
  free(b->recs);
  free(b);
}

static void batch_after_cb(uv_work_t *w, int status) {
  batch_t *b = container_of(w, batch_t, work);
  storage_t *st = b->st;
  (void)status;
  b->done = 1;
  /* In commit order: a later batch's sync covers the earlier ones, but
   * their workers may wake later. */
  while (st->fly_head && st->fly_head->done) {
    batch_t *h = st->fly_head;
    st->fly_head = h->next;
    if (st->fly_head == NULL) st->fly_tail = NULL;
    st->writing--;
    st->index_more = 1;
    batch_deliver(st, h);
  }
  /* Inserts that queued up during the write go out at once; the index
   * catches up when nothing waits (or every few batches under load). */
  flush(st);
  maybe_index(st);
  maybe_drained(st);
}

/* Runs after every scheduler drain: sends what queued up in this loop turn
 * as one batch, unless a batch is already being written (then the next one
 * starts when it finishes). */
static void flush(void *ud) {
  storage_t *st = ud;
  if (st->writing >= st->depth) return;
  if (st->writing > 0 && uv_hrtime() - st->fly_tail->t_start < PIPELINE_AFTER_NS) return;
  if (st->npending == 0) {
    maybe_index(st);
    return;
  }
  size_t n = st->npending < MAX_BATCH ? st->npending : MAX_BATCH;
  batch_t *b = chat_xcalloc(1, sizeof(*b));
  b->st = st;
  b->n = n;
  b->ins = chat_xmalloc(n * sizeof(*b->ins));
  b->recs = chat_xmalloc(n * sizeof(*b->recs));
  memcpy(b->ins, st->pending, n * sizeof(*b->ins));
  for (size_t i = 0; i < n; i++) b->recs[i] = b->ins[i]->rec;
  memmove(st->pending, st->pending + n, (st->npending - n) * sizeof(*st->pending));
  st->npending -= n;
  st->writing++;
  b->turn = st->turn_next++;
  b->t_start = st->last_batch_ns = uv_hrtime();
  if (st->fly_tail)
    st->fly_tail->next = b;
  else
    st->fly_head = b;
  st->fly_tail = b;
  int rc = uv_queue_work(st->sched->loop, &b->work, batch_work_cb, batch_after_cb);
  assert(rc == 0);
  (void)rc;
}

/* ---- search indexing: behind the messages, when the writer is idle ---- */

static void index_work_cb(uv_work_t *w) {
  index_job_t *ij = container_of(w, index_job_t, work);
  ij->rc = chat_store_index_pending(ij->st->store, ij->chunk, &ij->done);
}

static void index_after_cb(uv_work_t *w, int status) {
  index_job_t *ij = container_of(w, index_job_t, work);
  storage_t *st = ij->st;
  st->indexing = 0;
  uint64_t now = uv_hrtime();
  st->index_next_ns = now + (now - ij->t0) * INDEX_DUTY;
  /* Go on while there is more, unless the store fails (the next batch
   * tries again). */
  st->index_more = ij->rc == 0 && ij->done == ij->chunk;
  free(ij);
  maybe_index(st);
  maybe_drained(st);
}

static void index_timer_cb(uv_timer_t *t) { maybe_index(t->data); }

/* Starts an index job if there may be work and its share of the time
 * allows (INDEX_DUTY above). */
static void maybe_index(storage_t *st) {
  if (st->indexing || !st->index_more || st->stopping) return;
  uint64_t now = uv_hrtime();
  int flowing = st->writing || st->npending || now - st->last_batch_ns < INDEX_QUIET_NS;
  if (flowing && now < st->index_next_ns) {
    if (st->timer_open)
      uv_timer_start(&st->index_timer, index_timer_cb,
                     (st->index_next_ns - now) / 1000000 + 1, 0);
    return;
  }
  if (st->timer_open) uv_timer_stop(&st->index_timer);
  index_job_t *ij = chat_xcalloc(1, sizeof(*ij));
  ij->st = st;
  ij->chunk = flowing ? INDEX_CHUNK_BUSY : INDEX_CHUNK_IDLE;
  ij->t0 = now;
  st->indexing = 1;
  int rc = uv_queue_work(st->sched->loop, &ij->work, index_work_cb, index_after_cb);
  assert(rc == 0);
  (void)rc;
}

size_t chat_storage_pending(const chat_storage_t *pub) {
  const storage_t *st = storage_of(pub);
  return st->jobs + st->npending + (size_t)st->writing + (st->indexing ? 1 : 0);
}

void chat_storage_stats(const chat_storage_t *pub, uint64_t *batches,
                        uint64_t *messages, uint64_t *write_ns) {
  const storage_t *st = storage_of(pub);
  *batches = st->batches;
  *messages = st->messages;
  *write_ns = st->write_ns;
}

void chat_storage_histos(const chat_storage_t *pub, const chat_histo_t **commit_seconds,
                         const chat_histo_t **batch_size) {
  const storage_t *st = storage_of(pub);
  *commit_seconds = &st->commit_seconds;
  *batch_size = &st->batch_size;
}

void chat_storage_sync_stats(const chat_storage_t *pub, chat_store_sync_stats_t *out) {
  chat_store_sync_stats(storage_of(pub)->store, out);
}

void chat_storage_drain(chat_storage_t *pub, void (*cb)(void *ud), void *ud) {
  storage_t *st = storage_of(pub);
  st->stopping = 1;  /* no new index work; what runs finishes */
  if (st->timer_open) {
    st->timer_open = 0;
    uv_close((uv_handle_t *)&st->index_timer, NULL);
  }
  st->drain_cb = cb;
  st->drain_ud = ud;
  flush(st);
  maybe_drained(st);
}

static void timer_closed_free(uv_handle_t *h) { free(h->data); }

void chat_storage_free(chat_storage_t *pub) {
  if (pub == NULL) return;
  storage_t *st = storage_of(pub);
  assert(chat_storage_pending(pub) == 0);
  uv_cond_destroy(&st->turn_cv);
  uv_mutex_destroy(&st->turn_mu);
  free(st->pending);
  st->pending = NULL;
  if (st->timer_open) {  /* never drained: the rest goes once the timer is closed */
    st->timer_open = 0;
    uv_close((uv_handle_t *)&st->index_timer, timer_closed_free);
    return;
  }
  free(st);
}
