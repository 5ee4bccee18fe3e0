#include "histo.h"

#include <string.h>

const double chat_histo_seconds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                     5,      10};
const size_t chat_histo_seconds_n = sizeof(chat_histo_seconds) / sizeof(chat_histo_seconds[0]);
const double chat_histo_sizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
const size_t chat_histo_sizes_n = sizeof(chat_histo_sizes) / sizeof(chat_histo_sizes[0]);

void chat_histo_init(chat_histo_t *h, const double *bounds, size_t n) {
  memset(h, 0, sizeof(*h));
  h->bounds = bounds;
  h->nbounds = n < CHAT_HISTO_MAX ? n : CHAT_HISTO_MAX;
}

void chat_histo_observe(chat_histo_t *h, double v) {
  if (h->bounds == NULL) chat_histo_init(h, chat_histo_seconds, chat_histo_seconds_n);
  size_t i = 0;
  while (i < h->nbounds && v > h->bounds[i]) i++;
  if (i < h->nbounds) h->buckets[i]++;
  h->count++;
  h->sum += v;
}
