#include "rate.h"


/* ceil for the non-negative values here (no libm). */
static int64_t ceil_ms(double x) {
  int64_t i = (int64_t)x;
  return (double)i < x ? i + 1 : i;
}

/* The bucket keeps the tokens spent rather than those left, so a zeroed
 * bucket (fresh from a table) is a full one whatever the burst. */
static void bucket_refill(chat_bucket_t *b, int64_t now, double rate) {
  if (b->tokens > 0 && now > b->at_ms) {
    b->tokens -= (double)(now - b->at_ms) * rate / 1000.0;
    if (b->tokens < 0) b->tokens = 0;
  }
  b->at_ms = now;
}

int64_t chat_bucket_take(chat_bucket_t *b, int64_t now, double rate, double burst) {
  if (rate <= 0) return 0;
  if (burst < 1) burst = 1;
  bucket_refill(b, now, rate);
  if (b->tokens + 1 <= burst) {
    b->tokens += 1;
    return 0;
  }
  /* Wait until spent falls to burst - 1. */
  double wait = (b->tokens + 1 - burst) * 1000.0 / rate;
  int64_t ms = ceil_ms(wait);
  return ms < 1 ? 1 : ms;
}

void chat_bucket_refund(chat_bucket_t *b) {
  b->tokens -= 1;
  if (b->tokens < 0) b->tokens = 0;
}

int64_t chat_bucket_full_ms(double rate, double burst) {
  if (rate <= 0) return 1;
  int64_t ms = ceil_ms((burst < 1 ? 1 : burst) * 1000.0 / rate);
  return ms < 1 ? 1 : ms;
}

int64_t chat_backoff_wait(const chat_backoff_t *b, int64_t now, int free_fails,
                          int64_t base_ms, int64_t max_ms) {
  if (b->fails < free_fails || base_ms <= 0) return 0;
  int64_t delay = base_ms;
  for (int32_t i = free_fails; i < b->fails && delay < max_ms; i++) delay *= 2;
  if (delay > max_ms) delay = max_ms;
  int64_t until = b->last_ms + delay;
  return until > now ? until - now : 0;
}

void chat_backoff_fail(chat_backoff_t *b, int64_t now) {
  if (b->fails < INT32_MAX) b->fails++;
  b->prev_ms = b->last_ms;
  b->last_ms = now;
}

void chat_backoff_settle(chat_backoff_t *b, int64_t now) {
  if (now > b->last_ms) b->last_ms = now;
}

void chat_backoff_unfail(chat_backoff_t *b) {
  if (b->fails > 0) b->fails--;
  b->last_ms = b->prev_ms;
}

int chat_rate_retry_after(int64_t ms) {
  int64_t s = (ms + 999) / 1000;
  if (s < 1) s = 1;
  if (s > 86400) s = 86400;
  return (int)s;
}
