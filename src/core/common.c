#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n) {
  fprintf(stderr, "chatd: out of memory allocating %zu bytes\n", n);
  abort();
}

void *chat_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) oom(n);
  return p;
}

void *chat_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL) oom(n * size);
  return p;
}

void *chat_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) oom(n);
  return q;
}

char *chat_xstrndup(const char *s, size_t n) {
  char *p = chat_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *chat_xstrdup(const char *s) { return chat_xstrndup(s, strlen(s)); }

int64_t chat_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
