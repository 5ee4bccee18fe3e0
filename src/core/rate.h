/* Rate-limit arithmetic: a token bucket and a growing delay, as plain
 * values a caller keeps (in a chat_keytab_t, say).  A zeroed value is a
 * fresh one: a full bucket, no failures.  No clock of their own: every
 * call takes now in monotonic milliseconds.
 *
 * Token bucket: burst tokens at most, refilled at rate a second; each
 * event takes one.  "N per hour" is a bucket of burst N refilled at N an
 * hour: N at once, then one every hour/N.  A bucket left alone for
 * chat_bucket_full_ms is full again, so a table of buckets can forget an
 * entry after that long (its ttl) without changing any answer.
 *
 * Growing delay (backoff): after `free_fails` failures, the next attempt
 * must wait base_ms after the last failure, then twice that after the
 * next failure, and so on up to max_ms (from when the failure was known:
 * chat_backoff_settle).  It never locks out: whoever waits
 * the delay is let through.  Failures are counted when an attempt arrives
 * (so parallel attempts cannot slip past the delay) and taken back
 * (chat_backoff_unfail) when it turns out not to be one. */
#ifndef CHAT_CORE_RATE_H
#define CHAT_CORE_RATE_H

#include <stdint.h>

typedef struct {
  double tokens;      /* spent tokens, so that a zeroed bucket is full */
  int64_t at_ms;      /* when tokens was last brought up to date */
} chat_bucket_t;

/* Takes one token: 0 if there was one, else the milliseconds until there
 * will be (>= 1; nothing is taken).  rate <= 0: no limit (always 0). */
int64_t chat_bucket_take(chat_bucket_t *b, int64_t now, double rate, double burst);
/* Gives back one token taken by chat_bucket_take (the event turned out not
 * to count). */
void chat_bucket_refund(chat_bucket_t *b);
/* How long an empty bucket takes to fill (ms, at least 1). */
int64_t chat_bucket_full_ms(double rate, double burst);

typedef struct {
  int32_t fails;      /* failures counted */
  int64_t last_ms;    /* when the last one was counted */
  int64_t prev_ms;    /* the one before (what a take-back restores) */
} chat_backoff_t;

/* The milliseconds the next attempt must still wait (0: it may go now). */
int64_t chat_backoff_wait(const chat_backoff_t *b, int64_t now, int free_fails,
                          int64_t base_ms, int64_t max_ms);
/* Counts a failure at now. */
void chat_backoff_fail(chat_backoff_t *b, int64_t now);
/* The failure counted last (when its attempt arrived) is known now: the
 * delay runs from now, however long the attempt took. */
void chat_backoff_settle(chat_backoff_t *b, int64_t now);
/* Takes back the last counted failure (never below zero). */
void chat_backoff_unfail(chat_backoff_t *b);

/* Milliseconds as the whole seconds of a Retry-After header (>= 1). */
int chat_rate_retry_after(int64_t ms);

#endif
