/* Batcher: the per-user batching that the mail notifier (notifier.c) and
 * the webhook (webhook.c) share.  Items for a user are gathered, and one
 * job (a mail, a POST) sends them all when the user is due:
 *
 *   due = max(first pending item + gather_ms, previous job + interval_ms)
 *
 * with at most max_items items listed per user (the rest counted) and at
 * most max_sending jobs on the workers (workers.h) at once.  Users are kept
 * in a map by id and, while they have no job, in a min-heap by due time
 * under one timer.  With a Redis URL the batching is shared between
 * instances through a mail queue (mailq_redis.h): items go to Redis, and a
 * poll timer claims the batches that are due; while Redis is unreachable
 * items are batched here ("fallback") rather than lost.
 *
 * What differs between the channels is an ops table (chat_batcher_ops_t):
 * how an item is freed and encoded for Redis, how a job is built from a
 * batch and run on a worker thread, and what a finished job means (the
 * notifier puts failed items back for one retry; the webhook retries the
 * same job after a backoff, holding it outside the workers meanwhile).
 *
 * Items and jobs: the caller's item and job structs embed
 * chat_batch_item_t and chat_batch_job_t (container_of).  Items are owned
 * by the list that holds them; lists free them with ops->item_free.  A job
 * is owned by its module; the batcher only counts it while it runs.
 *
 * Lifetime: chat_batcher_new .. chat_batcher_close.  The close drops what
 * is pending, gives ops->closing the chance to end the jobs it holds, then
 * waits for the jobs on the workers (their ops->finished runs as usual,
 * with chat_batcher_open() false) and for held jobs, closes the shared
 * queue (its reports get their chance to reach Redis), stops the workers,
 * frees itself and calls done.
 *
 * Threads: every chat_batcher_* function and every op but ops->work runs
 * on the loop thread; ops->work runs on a worker thread and touches only
 * its job.  Memory: out of memory aborts. */
#ifndef CHAT_ACTORS_BATCHER_H
#define CHAT_ACTORS_BATCHER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "mailq_redis.h"
#include "workers.h"

typedef struct chat_batcher_s chat_batcher_t;

/* The head of a caller's item (its first member). */
typedef struct chat_batch_item_s {
  struct chat_batch_item_s *next;
  int tries;            /* failed attempts so far (the caller's to use) */
} chat_batch_item_t;

/* A user's items: a list of at most max_items, and counts of the rest. */
typedef struct {
  chat_batch_item_t *head, *tail;
  size_t n;
  uint64_t more;        /* counted, not listed, not tried yet */
  uint64_t more_tried;  /* counted, not listed, failed once already */
} chat_batch_list_t;

typedef struct chat_batch_job_s chat_batch_job_t;

/* A user batched here.  The caller may read every field; it writes none
 * but through chat_batcher_putback. */
typedef struct {
  int64_t id;
  char *username;       /* as last added */
  char *address;        /* as last added: the channel's (e-mail, phone) */
  chat_batch_list_t pending;
  uint64_t first_ms;    /* loop time of the oldest pending item */
  uint64_t last_ms;     /* loop time the previous job was started */
  int started;          /* last_ms is set */
  chat_batch_job_t *job;  /* the job under way, or NULL */
  size_t heap_idx;      /* private */
  uint64_t due_ms;      /* private */
} chat_batch_user_t;

/* The head of a caller's job.  user: the user batched here, or NULL for a
 * batch claimed from Redis (then claim is its token).  forgotten: the
 * user's items were forgotten while the job ran (chat_batcher_forget). */
struct chat_batch_job_s {
  chat_work_t work;     /* private */
  chat_batcher_t *b;    /* private */
  chat_batch_user_t *user;
  int64_t uid;
  int64_t claim;
  int forgotten;
};

typedef struct {
  /* Frees an item (its own struct, of which it is the head). */
  void (*item_free)(chat_batch_item_t *it);
  /* The item as stored in Redis (malloc'd text); NULL if it cannot be
   * encoded (the item is then batched here). */
  char *(*item_encode)(const chat_batch_item_t *it);
  /* An item back from Redis (what is there is not trusted); NULL if
   * malformed. */
  chat_batch_item_t *(*item_decode)(const char *payload, size_t len);
  /* A local batch is due: returns a job for user u ready to run, taking
   * items (the batch; u->pending is empty meanwhile).  The batcher sets
   * its user, uid and u->job and runs it. */
  chat_batch_job_t *(*start)(void *ud, chat_batch_user_t *u, chat_batch_list_t *items);
  /* A batch claimed from Redis (m is only valid during the call): the
   * caller either runs a job for it (chat_batcher_run) or reports it. */
  void (*claimed)(void *ud, const chat_mailq_mail_t *m);
  /* On a worker thread: the blocking work of the job whose work is w. */
  chat_work_cb work;
  /* A job's work is done (also while closing).  The caller either runs it
   * again (now or after chat_batcher_hold), or ends it: for a local job,
   * chat_batcher_user_done once its items are dealt with. */
  void (*finished)(void *ud, chat_batch_job_t *job);
  /* NULL or: the close began; end the jobs held (chat_batcher_hold). */
  void (*closing)(void *ud);
} chat_batcher_ops_t;

typedef struct {
  uint64_t gather_ms, interval_ms;
  size_t max_items;     /* listed per user */
  size_t max_sending;   /* jobs on the workers at once, and their threads */
  const char *thread_name;  /* NULL: no workers (the channel is off) */
  uint64_t seed;        /* for the jitter (chat_batcher_random) */
  /* shared batching: redis_url NULL or "": only here */
  const char *redis_url;
  const chat_mailq_config_t *mailq;
  uint64_t poll_ms;
  /* logged once per outage, when Redis is back, when first shared */
  const char *log_fallback, *log_back, *log_shared;
} chat_batcher_config_t;

typedef struct {
  uint64_t dropped;     /* items given up here (closing, malformed from Redis) */
  uint64_t forgotten;   /* items forgotten here */
  uint64_t local;       /* items batched here while Redis is configured */
  uint64_t shared;      /* items handed to Redis */
  uint64_t pending;     /* items waiting here */
  size_t queued;        /* of them, listed */
  size_t sending;       /* jobs on the workers */
} chat_batcher_stats_t;

/* cfg and ops are used during the call; ops must outlive b.  ud is given
 * to every op.  NULL with err set if the workers or the queue could not be
 * made. */
chat_batcher_t *chat_batcher_new(uv_loop_t *loop, const chat_batcher_config_t *cfg,
                                 const chat_batcher_ops_t *ops, void *ud, char *err,
                                 size_t errlen);

/* 1 until chat_batcher_close. */
int chat_batcher_open(const chat_batcher_t *b);

/* The shared queue, or NULL. */
chat_mailq_t *chat_batcher_mailq(const chat_batcher_t *b);

/* Batches it (taken) for the user: through Redis when it is up, else
 * here.  username and address are copied. */
void chat_batcher_add(chat_batcher_t *b, int64_t user_id, const char *username,
                      const char *address, chat_batch_item_t *it);

/* Forgets the user's pending items (here and in Redis, best effort). */
void chat_batcher_forget(chat_batcher_t *b, int64_t user_id);

/* Runs job (its head zeroed or set by start/claimed) on the workers. */
void chat_batcher_run(chat_batcher_t *b, chat_batch_job_t *job);

/* A job kept outside the workers (a backoff, a closing timer) holds the
 * close until released. */
void chat_batcher_hold(chat_batcher_t *b);
void chat_batcher_release(chat_batcher_t *b);

/* A local job has ended: u is due again at its next slot (or freed while
 * closing). */
void chat_batcher_user_done(chat_batcher_t *b, chat_batch_user_t *u);

/* Puts keep (taken) in front of u's pending items, capped to max_items
 * (the rest counted, as tried or not by their tries), and makes first_ms
 * the oldest item's time.  For a retry, before chat_batcher_user_done. */
void chat_batcher_putback(chat_batcher_t *b, chat_batch_user_t *u, chat_batch_list_t *keep,
                          uint64_t first_ms);

/* A random delay of up to max ms, or a random number (max UINT64_MAX). */
uint64_t chat_batcher_jitter(chat_batcher_t *b, uint64_t max);
uint64_t chat_batcher_random(chat_batcher_t *b);

/* Decodes m's items into out (appended; counts as m's, tries as stored);
 * malformed ones are dropped and counted. */
void chat_batcher_decode(chat_batcher_t *b, const chat_mailq_mail_t *m, chat_batch_list_t *out);

void chat_batcher_stats(const chat_batcher_t *b, chat_batcher_stats_t *out);

/* Listed items waiting here (stats' queued, without counting the rest). */
size_t chat_batcher_queued(const chat_batcher_t *b);

/* Begins the close; done(ud) runs once b is freed (never within). */
void chat_batcher_close(chat_batcher_t *b, void (*done)(void *ud), void *ud);

/* Item lists. */
uint64_t chat_batch_list_total(const chat_batch_list_t *l);
void chat_batch_list_append(chat_batch_list_t *l, chat_batch_item_t *it);
/* Frees every item; returns how many there were (listed and counted). */
uint64_t chat_batch_list_clear(chat_batcher_t *b, chat_batch_list_t *l);

#endif
