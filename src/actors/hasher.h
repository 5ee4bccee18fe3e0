/* The hasher: password hashing (argon2id) on a few threads of its own.
 *
 * Why its own threads: an argon2id hash takes tens of milliseconds and 64
 * MiB.  On libuv's thread pool, which also runs the store's group commits,
 * a flood of logins made every chat message wait behind it.  Here hashing
 * has a fixed number of threads (run at a lower priority, so the loop and
 * the store win the CPU), a bounded queue, and a memory bound of threads x
 * 64 MiB.  A job that would go past the bound is refused at once
 * (CHAT_EAGAIN): a login flood costs logins, never message latency.
 *
 * A hash job is one request, made by an actor (an API job, on behalf of a
 * connection): it verifies a password against a stored hash, makes a new
 * hash, or both in turn (a password change: the new one is hashed only if
 * the old one verified).  When it is done its mail is posted to the actor
 * that asked, on the loop thread, like a storage job's (storage.h).
 *
 * Threads: chat_hasher_* are called on the loop thread.  The threads are
 * workers (workers.h) named chatd-hash; they touch only the job they run
 * (and the dummy hash, under its lock).
 *
 * Lifetime: chat_hasher_new starts the threads; chat_hasher_drain waits
 * (without blocking the loop) until every job submitted has been answered;
 * chat_hasher_close stops the threads (they are idle by then); and
 * chat_hasher_free frees it after close_cb. */
#ifndef CHAT_ACTORS_HASHER_H
#define CHAT_ACTORS_HASHER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../core/auth.h"
#include "actor.h"
#include "workers.h"

typedef struct chat_hasher_s chat_hasher_t;
typedef struct chat_hash_job_s chat_hash_job_t;

enum {
  CHAT_HASH_VERIFY = 1,   /* password against hash */
  CHAT_HASH_MAKE = 2,     /* new_password into hash (after a VERIFY: only if it matched) */
};

struct chat_hash_job_s {
  chat_mail_t mail;            /* posted to reply_to when done; set mail.handle */
  int ops;                     /* CHAT_HASH_VERIFY, CHAT_HASH_MAKE or both */
  /* in: the submitter's strings, alive (and later wiped) by the submitter */
  const char *password;        /* VERIFY */
  size_t password_len;
  const char *new_password;    /* MAKE */
  size_t new_password_len;
  char hash[CHAT_HASH_MAX];    /* VERIFY: in (the stored hash; "": a dummy
                                  that never matches, so that an unknown user
                                  costs what a wrong password costs); MAKE: out */
  /* out */
  int verified;                /* VERIFY: 1 if the password matched */
  int made;                    /* MAKE: 1 if hash holds the new hash */
  /* private to the hasher */
  chat_work_t work;
  chat_hasher_t *hasher;
  chat_actor_t *reply_to;
  uint64_t ns;                 /* time the work took */
};

/* What the threads call: argon2id (core/auth.h) unless a test passes its
 * own.  Both run on a hasher thread. */
typedef struct {
  int (*verify)(const char *hash, const char *password, size_t len);  /* 1 match */
  int (*make)(const char *password, size_t len, char *out);          /* 0 or -1 */
} chat_hasher_fns_t;

/* A hasher on loop with threads threads (at least 1) taking at most
 * max_pending jobs at a time (waiting or running; at least 1).  fns NULL:
 * argon2id.  NULL with err set if a thread could not start. */
chat_hasher_t *chat_hasher_new(uv_loop_t *loop, int threads, size_t max_pending,
                               const chat_hasher_fns_t *fns, char *err, size_t errlen);

/* Queues job; its mail goes to reply_to (kept alive until then) once done.
 * CHAT_EAGAIN if max_pending jobs are in the hasher (nothing is queued or
 * posted: answer "busy"); CHAT_EINVAL once the hasher is closing. */
int chat_hasher_submit(chat_hasher_t *h, chat_hash_job_t *job, chat_actor_t *reply_to);

/* Jobs submitted and not yet answered. */
size_t chat_hasher_pending(const chat_hasher_t *h);
/* 1 if a job submitted now would be refused (counted as refused: the
 * caller answers busy without submitting). */
int chat_hasher_full(chat_hasher_t *h);
/* Jobs refused because the hasher was full, since it started. */
uint64_t chat_hasher_refused(const chat_hasher_t *h);
/* Seconds until the queue has room again, as a client should be told in
 * Retry-After (from the recent time per hash; at least 1). */
int chat_hasher_retry_after(const chat_hasher_t *h);

/* Calls cb once nothing is pending (at once if nothing is). */
void chat_hasher_drain(chat_hasher_t *h, void (*cb)(void *ud), void *ud);
/* Refuses new jobs, lets the threads finish what is queued (the results
 * are posted within this call) and stops them, then calls cb (may be
 * NULL) on a later loop turn.  Call it
 * when nothing is pending (after chat_hasher_drain), or the join waits
 * for the queued hashes. */
void chat_hasher_close(chat_hasher_t *h, void (*cb)(void *ud), void *ud);
/* Frees a closed hasher (NULL: nothing). */
void chat_hasher_free(chat_hasher_t *h);

#endif
