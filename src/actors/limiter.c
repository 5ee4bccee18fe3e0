#include "limiter.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

typedef struct entry_s {
  struct entry_s *chain;         /* next in the bucket */
  struct entry_s *prev, *next;   /* the list in order of creation */
  uint64_t hash;
  int64_t first_ms;              /* when the window opened */
  int count;
  char key[];
} entry_t;

struct chat_limiter_s {
  int max_fails;
  int64_t window_ms;
  int64_t (*clock)(void);
  entry_t **buckets;
  size_t nbuckets;               /* a power of two */
  size_t n;
  entry_t *oldest, *newest;
};

static uint64_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

chat_limiter_t *chat_limiter_new(int max_fails, int64_t window_ms, int64_t (*clock)(void)) {
  chat_limiter_t *l = chat_xcalloc(1, sizeof(*l));
  l->max_fails = max_fails;
  l->window_ms = window_ms;
  l->clock = clock ? clock : chat_now_ms;
  l->nbuckets = 64;
  l->buckets = chat_xcalloc(l->nbuckets, sizeof(*l->buckets));
  return l;
}

static void entry_remove(chat_limiter_t *l, entry_t *e) {
  entry_t **pp = &l->buckets[e->hash & (l->nbuckets - 1)];
  while (*pp != e) pp = &(*pp)->chain;
  *pp = e->chain;
  if (e->prev)
    e->prev->next = e->next;
  else
    l->oldest = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    l->newest = e->prev;
  l->n--;
  free(e);
}

static int expired(const chat_limiter_t *l, const entry_t *e, int64_t now) {
  return now - e->first_ms >= l->window_ms;
}

/* Drops the expired entries at the front of the list.  Windows open in
 * the order entries are made, so the front expires first (should the clock
 * step back, a lookup still checks the entry it finds). */
static void expire(chat_limiter_t *l, int64_t now) {
  while (l->oldest && expired(l, l->oldest, now)) entry_remove(l, l->oldest);
}

static entry_t *find(chat_limiter_t *l, const char *key, uint64_t h) {
  for (entry_t *e = l->buckets[h & (l->nbuckets - 1)]; e; e = e->chain)
    if (e->hash == h && strcmp(e->key, key) == 0) return e;
  return NULL;
}

/* The live entry of key, or NULL (an expired one is dropped). */
static entry_t *lookup(chat_limiter_t *l, const char *key, int64_t now) {
  expire(l, now);
  entry_t *e = find(l, key, hash_key(key));
  if (e && expired(l, e, now)) {
    entry_remove(l, e);
    e = NULL;
  }
  return e;
}

static void grow(chat_limiter_t *l) {
  size_t nb = l->nbuckets * 2;
  entry_t **b = chat_xcalloc(nb, sizeof(*b));
  for (entry_t *e = l->oldest; e; e = e->next) {
    e->chain = b[e->hash & (nb - 1)];
    b[e->hash & (nb - 1)] = e;
  }
  free(l->buckets);
  l->buckets = b;
  l->nbuckets = nb;
}

int chat_limiter_blocked(chat_limiter_t *l, const char *key, int *retry_after) {
  int64_t now = l->clock();
  entry_t *e = lookup(l, key, now);
  if (e == NULL || e->count < l->max_fails) return 0;
  *retry_after = (int)((e->first_ms + l->window_ms - now + 999) / 1000);
  if (*retry_after < 1) *retry_after = 1;
  return 1;
}

void chat_limiter_failed(chat_limiter_t *l, const char *key) {
  int64_t now = l->clock();
  entry_t *e = lookup(l, key, now);
  if (e == NULL) {
    size_t klen = strlen(key);
    e = chat_xcalloc(1, sizeof(*e) + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->hash = hash_key(key);
    e->first_ms = now;
    if (l->n >= l->nbuckets) grow(l);
    entry_t **bucket = &l->buckets[e->hash & (l->nbuckets - 1)];
    e->chain = *bucket;
    *bucket = e;
    e->prev = l->newest;
    if (l->newest)
      l->newest->next = e;
    else
      l->oldest = e;
    l->newest = e;
    l->n++;
  }
  e->count++;
}

void chat_limiter_uncount(chat_limiter_t *l, const char *key) {
  entry_t *e = lookup(l, key, l->clock());
  if (e && e->count > 0) e->count--;
}

void chat_limiter_ok(chat_limiter_t *l, const char *key) {
  expire(l, l->clock());
  entry_t *e = find(l, key, hash_key(key));
  if (e) entry_remove(l, e);
}

size_t chat_limiter_size(const chat_limiter_t *l) { return l->n; }

void chat_limiter_free(chat_limiter_t *l) {
  if (l == NULL) return;
  while (l->oldest) {
    entry_t *e = l->oldest;
    l->oldest = e->next;
    free(e);
  }
  free(l->buckets);
  free(l);
}
