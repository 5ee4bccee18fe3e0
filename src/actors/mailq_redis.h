/* The shared mail queue: the notifier's pending items and per-user mail
 * timing kept in Redis, so that several chatd instances on one Redis send
 * each user ONE summary per interval, whichever instances saw the items.
 *
 * The rules are the notifier's (notifier.h), applied by Lua scripts that
 * Redis runs atomically, with Redis' own clock (TIME) so that the
 * instances' clocks do not matter:
 *
 *   due = max(first pending item + gather_ms, previous mail + interval_ms)
 *
 * at most max_items items listed per user (the rest counted), one retry
 * for a failed mail's items in the next slot, a 5xx refusal dropped.
 *
 * Keys (P is the prefix, "chat:mail:" by default):
 *   P due             sorted set  user id -> due time (ms): users with items
 *                                 waiting, or whose interval still runs
 *   P lease           sorted set  user id -> lease end (ms): users whose
 *                                 mail an instance is sending
 *   P claims          string      counter: each claim's token
 *   P u:UID           hash        name, email (as last added), first (ms of
 *                                 the oldest waiting item), last (ms of the
 *                                 previous mail), more, more_tried (counted,
 *                                 not listed), and while a mail is out:
 *                                 claim (its token), s_more, s_more_tried,
 *                                 noretry (forgotten meanwhile)
 *   P u:UID:q         list        waiting items, oldest first
 *   P u:UID:s         list        the items of the mail being sent
 * An item is one character of failed attempts ('0' or '1') followed by the
 * caller's payload (opaque here; the notifier stores a small JSON object
 * carrying the item's kind).  A user is in at most one of due and lease.
 *
 * Claiming: chat_mailq_claim runs one script that first takes back the
 * mails whose lease ran out (their sender died or lost Redis: they count
 * as failed, so their items get their one retry), then, for up to max
 * users whose due time has passed, moves the waiting items to the mail's
 * list, sets last = now and leases the user for lease_ms, and returns
 * them: exactly one instance gets each mail.  Users whose interval ran out
 * with nothing waiting are removed by the same pass.  The sender reports
 * the outcome (chat_mailq_report); a report whose claim token no longer
 * matches (the lease ran out and the mail was taken back) changes nothing.
 * So a mail is sent at least once: twice only when its sender was cut off
 * from Redis for longer than the lease after sending it.
 *
 * Failures: commands are refused (-1) while Redis is not usable, and the
 * caller falls back (notifier.h).  A report is kept until Redis has
 * answered it and sent again after a reconnect, so a sent mail's report
 * survives a short outage; reports still unanswered when the queue closes
 * are given up (their leases run out: the mails count as failed).
 *
 * The scripts take no KEYS (they build key names from the prefix), like
 * presence's (presence_redis.c): one Redis server, not a cluster.  They
 * use effects replication (Redis 5 and later by default).
 *
 * Threads: loop thread only; callbacks run on the loop, never from within
 * the call that queued them.  Memory: out of memory aborts. */
#ifndef CHAT_ACTORS_MAILQ_REDIS_H
#define CHAT_ACTORS_MAILQ_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct chat_mailq_s chat_mailq_t;

typedef struct {
  const char *prefix;      /* key prefix (copied); NULL or "": "chat:mail:" */
  uint64_t gather_ms;      /* as notifier.h; required (non-zero) */
  uint64_t interval_ms;
  unsigned max_items;
  uint64_t lease_ms;       /* how long a claimed mail may take */
} chat_mailq_config_t;

/* One claimed mail, valid during the callback only.  Strings are what was
 * stored (NUL-terminated; not checked here: the caller checks them). */
typedef struct {
  int64_t user_id;
  int64_t claim;            /* the token for chat_mailq_report */
  const char *username;
  const char *email;
  uint64_t more;            /* counted, not listed, not tried yet */
  uint64_t more_tried;      /* counted, not listed, failed once */
  size_t n;                 /* listed items, oldest first */
  const char *const *items; /* payloads */
  const size_t *lens;
  const int *tries;         /* failed attempts of each (0 or 1) */
} chat_mailq_mail_t;

typedef enum {
  CHAT_MAILQ_SENT,     /* the mail went out */
  CHAT_MAILQ_RETRY,    /* it failed: its items once more in the next slot */
  CHAT_MAILQ_DROP,     /* it failed for good (5xx, closing): items dropped */
} chat_mailq_outcome_t;

typedef struct {
  uint64_t reaped;     /* mails taken back when their lease ran out */
  uint64_t dropped;    /* items given up by reports and take-backs from here */
  uint64_t forgotten;  /* items dropped by chat_mailq_forget from here */
  uint64_t stale;      /* reports that came after their lease ran out */
  uint64_t lost;       /* reports never answered (given up at close) */
} chat_mailq_stats_t;

/* up: 1 once Redis is usable, 0 once it is lost (alternating, from 1). */
typedef void (*chat_mailq_state_cb)(void *ud, int up);
/* The item is stored (ok 1; due_in_ms: when the user's mail is due from
 * now, or -1 if a mail of theirs is out), or it is not known whether it was
 * (ok 0: the connection was lost first, or an error reply). */
typedef void (*chat_mailq_added_cb)(void *ud, int ok, int64_t due_in_ms);
/* The claimed mails (ok 1), or none and ok 0 when no answer came (any mail
 * claimed then is taken back when its lease runs out).  next_in_ms: when
 * the next user is due or lease ends (0: now), -1: nobody waits. */
typedef void (*chat_mailq_claimed_cb)(void *ud, int ok, const chat_mailq_mail_t *mails,
                                      size_t n, int64_t next_in_ms);

/* A queue on url (redis://..., as store/redis.h); cfg is copied.  Connects
 * in the background.  NULL with err set for a malformed URL or config. */
chat_mailq_t *chat_mailq_new(uv_loop_t *loop, const char *url, const chat_mailq_config_t *cfg,
                             chat_mailq_state_cb on_state, void *ud, char *err, size_t errlen);

/* 1 while Redis is usable. */
int chat_mailq_is_up(const chat_mailq_t *q);

/* Adds one item (payload, len bytes, no NUL needed) for user_id, with the
 * username and email its mail will use.  0: queued, cb (may be NULL) runs
 * once; -1: Redis is not usable now, cb never runs. */
int chat_mailq_add(chat_mailq_t *q, int64_t user_id, const char *username, const char *email,
                   const char *payload, size_t len, chat_mailq_added_cb cb, void *cb_ud);

/* Claims up to max (>= 1) due mails.  0: queued, cb runs once; -1: Redis
 * is not usable now, cb never runs. */
int chat_mailq_claim(chat_mailq_t *q, unsigned max, chat_mailq_claimed_cb cb, void *cb_ud);

/* Reports the outcome of a claimed mail.  Never fails: the report is kept
 * until Redis answers it (sent again after a reconnect). */
void chat_mailq_report(chat_mailq_t *q, int64_t user_id, int64_t claim,
                       chat_mailq_outcome_t outcome);

/* Drops the user's waiting items; a mail being sent is not retried if it
 * fails.  The interval still holds.  Fire and forget: -1 if Redis is not
 * usable now. */
int chat_mailq_forget(chat_mailq_t *q, int64_t user_id);

void chat_mailq_stats(const chat_mailq_t *q, chat_mailq_stats_t *out);

/* Waits up to a second for the reports in flight, then closes the Redis
 * client (pending callbacks run with ok 0), frees q and calls done(ud) on
 * the loop (never from within this call).  Call once. */
void chat_mailq_close(chat_mailq_t *q, void (*done)(void *ud), void *ud);

#endif
