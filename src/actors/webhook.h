/* The webhook notifier: POSTs what a user missed while offline (direct
 * messages and @mentions; optionally room joins) to one configured URL as
 * JSON, for SMS gateways, chat bridges and push services.  README.md
 * ("Notifications") documents the payload and how a receiver verifies it.
 *
 * Batching is the mail notifier's (notifier.h): items are kept per user
 * and go out as ONE POST per user when the user's time comes,
 *
 *   due = max(first pending item + gather_ms, previous POST + interval_ms)
 *
 * with at most max_items items listed per POST (the rest counted in
 * "more").  Items waiting in this process are bounded by max_queue in all:
 * an item that finds the queue full is dropped, counted (stats.dropped,
 * stats.overflow) and logged (the first drop, then every 1000th).
 *
 * The body is built on the loop thread and signed there:
 *   X-Chat-Timestamp: UNIX_SECONDS
 *   X-Chat-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP "." BODY))
 *   X-Chat-Delivery:  a random id, the same on every attempt of one POST
 * and sent with libcurl on max_sending threads of the webhook's own
 * (workers.h: a slow receiver holds those, never the store's threads; one
 * job per attempt, the worker touches only its job).
 *
 * Failures: a connection error, a timeout, a 5xx, 408 or 429 answer is
 * retried after backoff_ms, 2 x backoff_ms, 4 x ... (at most 60 s), each
 * delay with jitter (a random 50 to 100 % of it), up to max_attempts
 * attempts in all; then its items are dropped (counted).  Any other
 * answer (a 4xx, 3xx) is not retried: its items are dropped at once.  The
 * log names the user id, the HTTP status and curl's error; never the
 * body, the URL (it may hold credentials) or the secret.  A timestamp is
 * made afresh for each attempt (so it is signed afresh).
 *
 * Several instances (redis_url set): the items and each user's timing
 * live in Redis through the mail queue's scripts (mailq_redis.h) under
 * their own prefix ("chat:webhook:" by default), so every item is handed
 * to exactly one instance by the atomic claim, and N instances on one
 * Redis POST each batch once.  The claiming instance does all the attempts
 * itself within the claim's lease (max_attempts x the timeouts plus the
 * backoff, plus a margin) and reports the batch sent or dropped.  A batch
 * goes out twice only when its sender lost Redis for longer than the lease
 * after sending (or died between the POST and its report).  While Redis is
 * unreachable items are batched here as with one instance (logged once per
 * outage).
 *
 * Threads: loop thread only (chat_webhook_phone_valid: any thread).  The
 * first chat_webhook_new sets up libcurl's global state (as notifier.h).
 * Memory: out of memory aborts. */
#ifndef CHAT_ACTORS_WEBHOOK_H
#define CHAT_ACTORS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct chat_webhook_s chat_webhook_t;

/* Events (chat_webhook_config_t.events, chat_webhook_add). */
enum {
  CHAT_WEBHOOK_DM = 1,       /* "dm": a direct message to an offline user */
  CHAT_WEBHOOK_MENTION = 2,  /* "mention": an @mention of an offline user */
  CHAT_WEBHOOK_JOIN = 4,     /* "join": a user joined a room (off by default) */
};

typedef struct {
  const char *url;         /* http:// or https://; required */
  const char *secret;      /* the HMAC key; required, never logged */
  /* "dm,mention,join" in any order and subset, or "all"; NULL or "":
   * "dm,mention". */
  const char *events;
  const char *site_name;   /* "site" in the payload; NULL: "chatd" */
  uint64_t interval_ms;    /* 0: 60 s.  Least time between two POSTs for a user. */
  uint64_t gather_ms;      /* 0: 10 s.  How long a user's first item waits for more. */
  unsigned max_items;      /* 0: 20.  Items listed per POST; the rest are counted. */
  unsigned max_queue;      /* 0: 10000.  Items waiting here in all. */
  unsigned max_sending;    /* 0: 2.  POSTs at once (its threads). */
  unsigned max_attempts;   /* 0: 5.  Attempts per POST, the first included. */
  uint64_t backoff_ms;     /* 0: 1 s.  The first retry's delay. */
  uint64_t connect_timeout_ms;  /* 0: 5 s */
  uint64_t timeout_ms;          /* 0: 10 s, the whole request */
  const char *redis_url;   /* NULL or "": batching in this process only */
  const char *redis_prefix;/* NULL: "chat:webhook:" */
  uint64_t poll_ms;        /* 0: 1 s */
} chat_webhook_config_t;

typedef struct {
  uint64_t sent;       /* POSTs answered 2xx */
  uint64_t failed;     /* attempts that failed (each retry counts again) */
  uint64_t retried;    /* attempts made after a failure */
  uint64_t dropped;    /* items never delivered: refused (4xx), out of
                          attempts, queue full, invalid, pending at close */
  uint64_t overflow;   /* of those, items dropped because the queue was full */
  uint64_t forgotten;  /* items dropped by chat_webhook_forget */
  uint64_t pending;    /* items waiting here now */
  uint64_t sending;    /* POSTs being sent or waiting to retry */
  uint64_t shared;     /* items handed to Redis */
  uint64_t local;      /* items batched here because Redis was unreachable */
} chat_webhook_stats_t;

void chat_webhook_config_init(chat_webhook_config_t *cfg);

/* Parses an events list as cfg->events; the mask, or -1 if malformed. */
int chat_webhook_events_parse(const char *s);

/* 1 if s is a phone number in E.164 form: "+", then 8 to 15 digits, the
 * first not 0 (e.g. "+8613800138000").  Nothing else (no spaces). */
int chat_webhook_phone_valid(const char *s);

/* A new webhook notifier on loop; cfg and its strings are copied.  NULL with
 * a message in err when cfg is invalid (no URL or secret, a URL that is not
 * http(s)://, bad events, control characters). */
chat_webhook_t *chat_webhook_new(uv_loop_t *loop, const chat_webhook_config_t *cfg, char *err,
                                 size_t errlen);

/* 1 if event (CHAT_WEBHOOK_*) is among the configured ones; w may be NULL. */
int chat_webhook_wants(const chat_webhook_t *w, int event);

/* Queues one item for user_id (non-zero); every string is copied:
 *   username  the user the item is for (for "join": who joined)
 *   phone     the user's E.164 number, "" or NULL for none
 *   event     CHAT_WEBHOOK_DM, _MENTION or _JOIN (dropped if not wanted)
 *   from      who wrote it (for "join": the user again)
 *   room      the room's name; NULL for a direct message
 *   text      the message, cut to 200 characters (NULL: "")
 *   ts_ms     when it happened, ms since the Unix epoch
 * Invalid arguments (NULL or non-UTF-8 strings, an invalid phone) drop the
 * item (counted). */
void chat_webhook_add(chat_webhook_t *w, int64_t user_id, const char *username,
                      const char *phone, int event, const char *from, const char *room,
                      const char *text, int64_t ts_ms);

/* Drops the user's pending items (the user came online and saw them); a
 * POST already out is not stopped. */
void chat_webhook_forget(chat_webhook_t *w, int64_t user_id);

void chat_webhook_stats(const chat_webhook_t *w, chat_webhook_stats_t *out);

/* Stops the timers, drops the pending items (counted; items in Redis stay
 * for the other instances), cancels the retries that wait (shared batches
 * go back to Redis for another instance), waits for the POSTs being
 * sent, stops its threads, frees w and calls done(ud) on the loop (never from within
 * this call). */
void chat_webhook_close(chat_webhook_t *w, void (*done)(void *ud), void *ud);

#endif
