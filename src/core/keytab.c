#include "keytab.h"

#include <assert.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct entry_s {
  struct entry_s *chain;         /* next in the bucket */
  struct entry_s *prev, *next;   /* the list, least recently written first */
  uint64_t hash;
  int64_t written;               /* when it was last written */
  alignas(16) unsigned char val[];  /* val_size bytes, then the key and its NUL */
} entry_t;

struct chat_keytab_s {
  size_t val_size;               /* rounded up to keep the key after it */
  size_t max_entries;
  int64_t ttl_ms;
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

static const char *entry_key(const chat_keytab_t *t, const entry_t *e) {
  return (const char *)e->val + t->val_size;
}

chat_keytab_t *chat_keytab_new(size_t val_size, size_t max_entries, int64_t ttl_ms) {
  assert(val_size <= 256);
  chat_keytab_t *t = chat_xcalloc(1, sizeof(*t));
  t->val_size = (val_size + 15) & ~(size_t)15;
  t->max_entries = max_entries;
  t->ttl_ms = ttl_ms;
  t->nbuckets = 64;
  t->buckets = chat_xcalloc(t->nbuckets, sizeof(*t->buckets));
  return t;
}

void chat_keytab_free(chat_keytab_t *t) {
  if (t == NULL) return;
  while (t->oldest) {
    entry_t *e = t->oldest;
    t->oldest = e->next;
    free(e);
  }
  free(t->buckets);
  free(t);
}

static void list_unlink(chat_keytab_t *t, entry_t *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    t->oldest = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    t->newest = e->prev;
  e->prev = e->next = NULL;
}

static void list_append(chat_keytab_t *t, entry_t *e) {
  e->prev = t->newest;
  e->next = NULL;
  if (t->newest)
    t->newest->next = e;
  else
    t->oldest = e;
  t->newest = e;
}

static void entry_remove(chat_keytab_t *t, entry_t *e) {
  entry_t **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
  while (*pp != e) pp = &(*pp)->chain;
  *pp = e->chain;
  list_unlink(t, e);
  t->n--;
  free(e);
}

static int expired(const chat_keytab_t *t, const entry_t *e, int64_t now) {
  return t->ttl_ms > 0 && now - e->written >= t->ttl_ms;
}

void chat_keytab_expire(chat_keytab_t *t, int64_t now) {
  /* The list is in the order of writing, so the front expires first. */
  while (t->oldest && expired(t, t->oldest, now)) entry_remove(t, t->oldest);
}

static entry_t *find(const chat_keytab_t *t, const char *key, uint64_t h) {
  for (entry_t *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->chain)
    if (e->hash == h && strcmp(entry_key(t, e), key) == 0) return e;
  return NULL;
}

void *chat_keytab_get(chat_keytab_t *t, const char *key, int64_t now) {
  chat_keytab_expire(t, now);
  entry_t *e = find(t, key, hash_key(key));
  return e ? e->val : NULL;
}

static void grow(chat_keytab_t *t) {
  size_t nb = t->nbuckets * 2;
  entry_t **b = chat_xcalloc(nb, sizeof(*b));
  for (entry_t *e = t->oldest; e; e = e->next) {
    e->chain = b[e->hash & (nb - 1)];
    b[e->hash & (nb - 1)] = e;
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = nb;
}

void *chat_keytab_put(chat_keytab_t *t, const char *key, int64_t now, int *created) {
  chat_keytab_expire(t, now);
  uint64_t h = hash_key(key);
  entry_t *e = find(t, key, h);
  if (created) *created = e == NULL;
  if (e) {
    list_unlink(t, e);
  } else {
    /* Full: the least recently written entry makes room. */
    if (t->max_entries && t->n >= t->max_entries) entry_remove(t, t->oldest);
    size_t klen = strlen(key);
    e = chat_xcalloc(1, sizeof(*e) + t->val_size + klen + 1);
    memcpy(e->val + t->val_size, key, klen + 1);
    e->hash = h;
    if (t->n >= t->nbuckets) grow(t);
    entry_t **bucket = &t->buckets[h & (t->nbuckets - 1)];
    e->chain = *bucket;
    *bucket = e;
    t->n++;
  }
  e->written = now;
  list_append(t, e);
  return e->val;
}

void chat_keytab_del(chat_keytab_t *t, const char *key) {
  entry_t *e = find(t, key, hash_key(key));
  if (e) entry_remove(t, e);
}

size_t chat_keytab_size(const chat_keytab_t *t) { return t->n; }
