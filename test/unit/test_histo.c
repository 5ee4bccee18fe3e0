/* core/histo.h: observations land in the first bucket whose bound they do
 * not exceed; over the last bound they count only towards count and sum. */
#include "core/histo.h"
#include "t.h"

static void test_buckets(void) {
  static const double bounds[] = {1, 2, 4};
  chat_histo_t h;
  chat_histo_init(&h, bounds, 3);
  chat_histo_observe(&h, 0.5);
  chat_histo_observe(&h, 1);    /* le="1" includes 1 */
  chat_histo_observe(&h, 1.5);
  chat_histo_observe(&h, 4);
  chat_histo_observe(&h, 9);    /* +Inf only */
  T_EQ_INT(h.buckets[0], 2);
  T_EQ_INT(h.buckets[1], 1);
  T_EQ_INT(h.buckets[2], 1);
  T_EQ_INT(h.count, 5);
  T_CHECK(h.sum > 15.99 && h.sum < 16.01);
}

static void test_zeroed_is_seconds(void) {
  chat_histo_t h = {0};
  chat_histo_observe(&h, 0.003);
  T_CHECK(h.bounds == chat_histo_seconds);
  T_EQ_INT(h.nbounds, chat_histo_seconds_n);
  /* 0.003 s: over 0.0025, within 0.005 (the sixth bound) */
  T_EQ_INT(h.buckets[5], 1);
  T_EQ_INT(h.count, 1);
}

static void test_sizes(void) {
  chat_histo_t h;
  chat_histo_init(&h, chat_histo_sizes, chat_histo_sizes_n);
  chat_histo_observe(&h, 1);
  chat_histo_observe(&h, 3);
  chat_histo_observe(&h, 5000);
  T_EQ_INT(h.buckets[0], 1);
  T_EQ_INT(h.buckets[2], 1);
  T_EQ_INT(h.count, 3);
}

int main(void) {
  T_RUN(test_buckets);
  T_RUN(test_zeroed_is_seconds);
  T_RUN(test_sizes);
  return T_DONE();
}
