#define _GNU_SOURCE  /* memfd_create */
#include "static_cache.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "../core/common.h"
#include "../net/static.h"

#define BUCKETS 512  /* a power of two, twice the files */

typedef struct entry_s entry_t;
struct entry_s {
  entry_t *next;         /* in its bucket */
  char *path;
  uint32_t hash;
  chat_rbuf_t *body;
  int fd;                /* memfd with body's bytes, or -1 */
  const char *mime;
  char etag[64];
  uint64_t loaded_ns;
  int refreshing;        /* older than the TTL, read again on a worker now */
};

struct chat_static_cache_s {
  entry_t *buckets[BUCKETS];
  size_t n, bytes;
};

static uint32_t hash_of(const char *s) {
  uint32_t h = 2166136261u;  /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

chat_static_cache_t *chat_static_cache_new(void) { return chat_xcalloc(1, sizeof(chat_static_cache_t)); }

static void entry_free(chat_static_cache_t *c, entry_t *e) {
  c->n--;
  c->bytes -= e->body->len;
  chat_rbuf_unref(e->body);
  if (e->fd >= 0) close(e->fd);
  free(e->path);
  free(e);
}

/* Unlinks and frees the entry *link points at. */
static void drop(chat_static_cache_t *c, entry_t **link) {
  entry_t *e = *link;
  *link = e->next;
  entry_free(c, e);
}

void chat_static_cache_free(chat_static_cache_t *c) {
  if (c == NULL) return;
  for (size_t i = 0; i < BUCKETS; i++)
    while (c->buckets[i]) drop(c, &c->buckets[i]);
  free(c);
}

static entry_t **find(chat_static_cache_t *c, const char *path, uint32_t h) {
  entry_t **link = &c->buckets[h & (BUCKETS - 1)];
  while (*link && ((*link)->hash != h || strcmp((*link)->path, path) != 0)) link = &(*link)->next;
  return link;
}

int chat_static_cache_get(chat_static_cache_t *c, const char *path, uint64_t now_ns,
                          chat_static_hit_t *hit) {
  entry_t *e = *find(c, path, hash_of(path));
  if (e == NULL) return 0;
  if (now_ns - e->loaded_ns >= (uint64_t)CHAT_STATIC_TTL_MS * 1000000 && !e->refreshing) {
    e->refreshing = 1;  /* this caller reads it again; the others meanwhile get this copy */
    return 0;
  }
  hit->body = chat_rbuf_ref(e->body);
  hit->fd = e->fd;
  hit->mime = e->mime;
  memcpy(hit->etag, e->etag, sizeof(hit->etag));
  return 1;
}

/* Drops the entry read longest ago. */
static void drop_oldest(chat_static_cache_t *c) {
  entry_t **oldest = NULL;
  for (size_t i = 0; i < BUCKETS; i++)
    for (entry_t **l = &c->buckets[i]; *l; l = &(*l)->next)
      if (oldest == NULL || (*l)->loaded_ns < (*oldest)->loaded_ns) oldest = l;
  if (oldest) drop(c, oldest);
}

void chat_static_cache_drop(chat_static_cache_t *c, const char *path) {
  if (c == NULL) return;
  entry_t **link = find(c, path, hash_of(path));
  if (*link) drop(c, link);
}

void chat_static_cache_put(chat_static_cache_t *c, const char *path, chat_rbuf_t *body,
                           int64_t mtime_ns, uint64_t now_ns) {
  if (c == NULL) return;
  size_t size = body->len;
  uint32_t h = hash_of(path);
  entry_t **link = find(c, path, h);
  if (*link) drop(c, link);
  if (size > CHAT_STATIC_CACHE_FILE_MAX) return;
  while (c->n > 0 && (c->n >= CHAT_STATIC_CACHE_FILES || c->bytes + size > CHAT_STATIC_CACHE_BYTES))
    drop_oldest(c);
  entry_t *e = chat_xcalloc(1, sizeof(*e));
  e->path = chat_xstrdup(path);
  e->hash = h;
  e->body = chat_rbuf_ref(body);
  e->fd = memfd_create("chat-static", MFD_CLOEXEC);
  if (e->fd >= 0) {
    size_t off = 0;
    while (off < size) {  /* memory: it does not block */
      ssize_t n = write(e->fd, body->data + off, size - off);
      if (n <= 0) break;
      off += (size_t)n;
    }
    if (off < size) {
      close(e->fd);
      e->fd = -1;
    }
  }
  e->mime = chat_static_mime(path);
  chat_static_etag(e->etag, size, mtime_ns);
  e->loaded_ns = now_ns;
  entry_t **head = &c->buckets[h & (BUCKETS - 1)];
  e->next = *head;
  *head = e;
  c->n++;
  c->bytes += size;
}
