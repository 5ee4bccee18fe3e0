/* A fixed-bucket histogram for /metrics: an observation is a short walk
 * over a static array of upper bounds and an increment, with no allocation,
 * so it can sit on hot paths.  Not thread-safe: each histogram is written
 * by one thread (the loop) and read by the same thread when rendered. */
#ifndef CHAT_CORE_HISTO_H
#define CHAT_CORE_HISTO_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_HISTO_MAX 16  /* finite buckets at most (+Inf is count) */

typedef struct {
  const double *bounds;  /* ascending upper bounds (static storage); NULL: unset */
  size_t nbounds;        /* at most CHAT_HISTO_MAX */
  uint64_t buckets[CHAT_HISTO_MAX];  /* per bucket, not cumulative */
  uint64_t count;
  double sum;
} chat_histo_t;

/* Bounds for latencies in seconds (100 us to 10 s) and for sizes (1 to 1024). */
extern const double chat_histo_seconds[];
extern const size_t chat_histo_seconds_n;
extern const double chat_histo_sizes[];
extern const size_t chat_histo_sizes_n;

/* Sets h empty over the given bounds (static storage, ascending). */
void chat_histo_init(chat_histo_t *h, const double *bounds, size_t n);
/* Counts one observation v.  An unset histogram (bounds NULL, e.g. zeroed
 * memory) is set to the seconds bounds first. */
void chat_histo_observe(chat_histo_t *h, double v);

#endif
