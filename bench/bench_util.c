/*
 * chatbench: allocation that never fails, the xorshift64* generator and the
 * growable byte buffer (bench.h).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *bench_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

void *bench_xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

void *bench_xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

static uint64_t rng_state;

void bench_rng_seed(uint64_t seed) { rng_state = seed ? seed : 1; }

uint64_t bench_rng_next(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

void bench_rng_bytes(unsigned char *out, size_t n) {
  while (n > 0) {
    uint64_t r = bench_rng_next();
    for (int i = 0; i < 8 && n > 0; i++, n--) *out++ = (unsigned char)(r >> (8 * i));
  }
}

void bench_buf_append(buf_t *b, const char *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n) cap *= 2;
    b->p = bench_xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

void bench_buf_consume(buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

void bench_buf_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

