/* The storage actor: the only way actors reach the store.
 *
 * Blocking store calls run on libuv's worker threads.  Two kinds of work:
 *
 * - Jobs: a request with a run function that executes on a worker thread
 *   (it may call any chat_store_* function and do other blocking work such
 *   as password hashing; it touches only its own job).  When it is done the
 *   job's mail is posted to the actor that asked, on the loop thread.
 *
 * - Message inserts: posted by room actors.  All inserts that arrive in the
 *   same loop turn, and all that arrive while a batch is being written, are
 *   committed together in one transaction (group commit).  Each insert mail
 *   then goes back to the room that sent it, with its id (or an error).
 *
 * While the store is failing, jobs get CHAT_EUNAVAIL from the store
 * functions themselves; an insert batch that fails is reported back as
 * failed for every insert in it (nothing is acknowledged). */
#ifndef CHAT_ACTORS_STORAGE_H
#define CHAT_ACTORS_STORAGE_H

#include <uv.h>

#include "../core/histo.h"
#include "../store/store.h"
#include "actor.h"

typedef struct chat_storage_s chat_storage_t;
typedef struct chat_job_s chat_job_t;

/* Runs on a worker thread. */
typedef void (*chat_job_run_cb)(chat_job_t *job, chat_store_t *store);

struct chat_job_s {
  chat_mail_t mail;        /* posted to reply_to when done; set mail.handle */
  chat_job_run_cb run;
  /* private to the storage that runs it */
  uv_work_t work;
  chat_storage_t *storage;
  chat_actor_t *reply_to;
};

/* A room message on its way to the store and back. */
typedef struct {
  chat_mail_t mail;        /* handled by the room once stored (or failed) */
  chat_actor_t *room;      /* where the result goes */
  chat_msg_insert_t rec;   /* in: room, sender, text, cid, ts; out: id... */
  int failed;              /* 1: the batch did not commit */
} chat_insert_t;

/* What actors ask of a storage: an ops table, so a test can plug in a fake
 * that answers jobs and inserts itself (same contracts as the functions
 * below: the result is always posted back as the job's or the insert's
 * mail, never handled inside the call). */
typedef struct {
  void (*submit)(chat_storage_t *st, chat_job_t *job, chat_actor_t *reply_to);
  void (*insert)(chat_storage_t *st, chat_insert_t *ins);
} chat_storage_ops_t;

struct chat_storage_s {
  const chat_storage_ops_t *ops;
};

/* The storage actor on sched's loop over store (which it does not own). */
chat_storage_t *chat_storage_new(chat_sched_t *sched, chat_store_t *store);

/* Queues job on the thread pool; its mail goes to reply_to (which is kept
 * alive until then) when job->run returns. */
static inline void chat_storage_submit(chat_storage_t *st, chat_job_t *job,
                                       chat_actor_t *reply_to) {
  st->ops->submit(st, job, reply_to);
}
/* Queues an insert for the next batch. ins->room is referenced until the
 * result is posted back. */
static inline void chat_storage_insert(chat_storage_t *st, chat_insert_t *ins) {
  st->ops->insert(st, ins);
}

/* The rest is for the server, on the storage chat_storage_new made. */
/* Jobs and inserts not finished yet. */
size_t chat_storage_pending(const chat_storage_t *st);
/* Batches committed and messages in them, for metrics. */
void chat_storage_stats(const chat_storage_t *st, uint64_t *batches,
                        uint64_t *messages, uint64_t *write_ns);
/* The histograms of committed batches: commit time in seconds and messages
 * per batch.  Owned by the storage; read on the loop thread only. */
void chat_storage_histos(const chat_storage_t *st, const chat_histo_t **commit_seconds,
                         const chat_histo_t **batch_size);
/* The store's own syncs and checkpoints (store.h, chat_store_sync_stats;
 * have 0 for a store without them).  Loop thread; a moment's lock. */
void chat_storage_sync_stats(const chat_storage_t *st, chat_store_sync_stats_t *out);
/* Calls cb once everything pending is finished (at once if nothing is). */
void chat_storage_drain(chat_storage_t *st, void (*cb)(void *ud), void *ud);
/* Frees the actor (not the store).  Nothing may be pending. */
void chat_storage_free(chat_storage_t *st);

#endif
