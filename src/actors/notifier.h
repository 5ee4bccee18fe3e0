/* The notifier: e-mails users about what they missed while offline (direct
 * messages and @mentions).
 *
 * The host reports each missed item with chat_notifier_add.  Items are kept
 * per user and go out as ONE mail per user when the user's time comes:
 *
 *   due = max(first pending item + gather_ms, previous mail + interval_ms)
 *
 * so a burst of items becomes one mail, and a user gets at most one mail per
 * interval_ms.  Items that arrive after a mail was started wait for the next
 * slot.  At most max_items items are listed in a mail; the others are
 * counted ("and N more") and not kept in memory, so a user's pending state is
 * bounded.
 *
 * The message is built on the loop thread (RFC 5322 headers, the subject as
 * RFC 2047 encoded-words, a base64 text/plain UTF-8 body, CRLF lines) and
 * sent with libcurl on max_sending threads of the notifier's own
 * (workers.h), one job per mail; the worker touches only its job.  A slow
 * SMTP server holds those threads, never the store's; the mails beyond
 * max_sending wait, due, until one finishes.
 *
 * Failures: a mail that fails is logged (the user id, curl's error and the
 * SMTP reply code; never the body, the address or the SMTP URL, which may
 * hold credentials) and counted.  Its items are retried once, in the user's next
 * slot (interval_ms after the failed attempt), merged with whatever arrived
 * meanwhile; an item that fails a second time, or whose mail the server
 * refused permanently (a 5xx reply), is dropped and counted.
 *
 * Several instances (redis_url set): the pending items and each user's
 * timing live in Redis instead (mailq_redis.h, which lists the keys), so
 * that N instances on one Redis send ONE summary per user per interval
 * with the rules above, timed by Redis' clock.  An item goes to Redis as it
 * comes; each instance polls every poll_ms (with jitter; sooner when an
 * item it added is due sooner) and claims due users with one atomic
 * script, which hands each user's mail to exactly one instance together
 * with its items and leases it; the sender reports the outcome (sent; or
 * failed: the items once more in the next slot; or refused: dropped).  A
 * lease that runs out (the sender died, or lost Redis for longer than the
 * lease) counts as a failed attempt, so a mail is at least attempted once
 * more by someone; only then can a mail go out twice.  Every instance must
 * run with the same interval, gather time and max_items.
 *
 * Redis unreachable (not connected yet, down, or an item's answer lost):
 * items are batched here, in this instance, as with a single instance,
 * and the log says so once per outage ("mail is batched in this instance")
 * and again when sharing resumes; nothing is dropped and the process never
 * waits for Redis.  Those items stay here until mailed, so during and just
 * after an outage a user may get one mail from each instance that batched
 * items.  The stats count such items in local.
 *
 * Threads: every function is for the loop thread only.  libcurl's global
 * state is set up once per process (curl_global_init under a uv_once) by the
 * first chat_notifier_new; the host calls chat_notifier_new before it starts
 * other threads that use libcurl, as curl_global_init requires.
 *
 * Memory: out of memory aborts (the chat_x* policy, core/common.h). */
#ifndef CHAT_ACTORS_NOTIFIER_H
#define CHAT_ACTORS_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct chat_notifier_s chat_notifier_t;

typedef struct {
  /* "smtp://host:port" or "smtps://host:port" (user and password may be in
   * the URL; they are never logged).  NULL or "": mail is off, items are
   * accepted and dropped (counted). */
  const char *smtp_url;
  /* The envelope sender and From address, e.g. "chat@example.org";
   * required when mail is on. */
  const char *mail_from;
  /* Shown in the From name, the subject and the body; NULL: "chatd". */
  const char *site_name;
  /* The link at the end of each mail; NULL or "": no link. */
  const char *base_url;
  uint64_t interval_ms;    /* 0: 10 minutes.  Least time between two mails to a user. */
  uint64_t gather_ms;      /* 0: 30 s.  How long a user's first item waits for more. */
  unsigned max_items;      /* 0: 20.  Items listed per mail; the rest are counted. */
  unsigned max_sending;    /* 0: 1.  Mails at once (its threads). */
  uint64_t connect_timeout_ms;  /* 0: 10 s */
  uint64_t timeout_ms;          /* 0: 60 s, the whole SMTP session */
  /* Shared batching: "redis://..." (store/redis.h); NULL or "": batching in
   * this process only.  Only used when mail is on. */
  const char *redis_url;
  const char *redis_prefix;     /* key prefix; NULL: "chat:mail:" (tests) */
  uint64_t poll_ms;             /* 0: 1 s.  How often due users are claimed. */
  uint64_t lease_ms;            /* 0: connect_timeout + timeout + 30 s */
} chat_notifier_config_t;

typedef struct {
  uint64_t sent;       /* mails the SMTP server accepted */
  uint64_t failed;     /* mail attempts that failed (a retry counts again) */
  uint64_t dropped;    /* items that will never be mailed: mail off, invalid
                          arguments, given up after failures, pending at close */
  uint64_t forgotten;  /* items dropped by chat_notifier_forget */
  uint64_t pending;    /* items waiting here now (listed or counted as "more");
                          items waiting in Redis are not counted */
  uint64_t sending;    /* mails being sent now */
  uint64_t shared;     /* items handed to Redis (shared batching) */
  uint64_t local;      /* items batched here although Redis is configured,
                          because it was unreachable */
  uint64_t shared_up;  /* 1 while shared batching is usable, else 0 */
} chat_notifier_stats_t;

/* Every field zero / NULL: the defaults above, mail off. */
void chat_notifier_config_init(chat_notifier_config_t *cfg);

/* A new notifier on loop; cfg and its strings are copied.  NULL with a
 * message in err (errlen bytes, may be 0) when cfg is invalid: an SMTP URL
 * that is not smtp:// or smtps://, a missing or invalid mail_from, or
 * control characters in any string. */
chat_notifier_t *chat_notifier_new(uv_loop_t *loop, const chat_notifier_config_t *cfg,
                                   char *err, size_t errlen);

/* Queues one missed item for user_id (non-zero).  Every string is copied:
 *   username   the recipient's name (greeting, To name)
 *   email      the recipient's address
 *   kind       "dm" or "mention"
 *   from_user  who wrote it
 *   where      the room's name for a mention; NULL for a direct message
 *   text       the message; cut to a preview of 200 characters (at a
 *              character boundary), control characters shown as spaces
 *   ts_ms      when it was written, ms since the Unix epoch
 * The newest username and email given for a user are the ones used.  The
 * item is dropped (counted) when mail is off, the notifier is closing, or an
 * argument is invalid: NULL strings, strings that are not UTF-8, an unknown
 * kind, or an address that is not a plain address (control characters such
 * as CR/LF, white space, or any of <>()[],;:"\ are refused, so nothing can be
 * injected into the headers or the SMTP envelope). */
void chat_notifier_add(chat_notifier_t *n, int64_t user_id, const char *username,
                       const char *email, const char *kind, const char *from_user,
                       const char *where, const char *text, int64_t ts_ms);

/* Drops the user's pending items (counted as forgotten), here and in Redis,
 * e.g. the user came online and saw them, or turned mail off.  A mail already being sent is not
 * stopped, but its items are not retried if it fails.  The time of the
 * user's previous mail is kept, so the interval still holds. */
void chat_notifier_forget(chat_notifier_t *n, int64_t user_id);

/* Copies the counters into out (pending is summed over the users known). */
void chat_notifier_stats(const chat_notifier_t *n, chat_notifier_stats_t *out);

/* Stops the timers, drops every item pending here (counted; items in Redis
 * stay there for the other instances or the next start), waits for the
 * mails being sent (they are never cancelled), stops its threads, gives their
 * reports up to a second to reach Redis, closes its handles, frees n and
 * then calls done(ud) on the loop thread (never from within this call).
 * n must not be used after this call. */
void chat_notifier_close(chat_notifier_t *n, void (*done)(void *ud), void *ud);

#endif
