#include "apicache.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

#define BUCKETS 8192  /* a power of two, twice the answers */

typedef struct entry_s entry_t;
struct entry_s {
  entry_t *next;
  uint8_t key[CHAT_TOKEN_HASH_LEN];
  uint64_t at_ns;
  char json[];
};

struct chat_apicache_s {
  entry_t *buckets[BUCKETS];
  size_t n;
  uint64_t gen;
};

chat_apicache_t *chat_apicache_new(void) { return chat_xcalloc(1, sizeof(chat_apicache_t)); }

void chat_apicache_clear(chat_apicache_t *c) {
  if (c == NULL) return;
  c->gen++;
  if (c->n == 0) return;
  for (size_t i = 0; i < BUCKETS; i++) {
    while (c->buckets[i]) {
      entry_t *e = c->buckets[i];
      c->buckets[i] = e->next;
      free(e);
    }
  }
  c->n = 0;
}

void chat_apicache_free(chat_apicache_t *c) {
  if (c == NULL) return;
  chat_apicache_clear(c);
  free(c);
}

uint64_t chat_apicache_gen(const chat_apicache_t *c) { return c ? c->gen : 0; }

/* The key is a SHA-256: its first bytes are as good as any hash. */
static entry_t **slot(chat_apicache_t *c, const uint8_t *key) {
  uint32_t h;
  memcpy(&h, key, sizeof(h));
  entry_t **l = &c->buckets[h & (BUCKETS - 1)];
  while (*l && memcmp((*l)->key, key, CHAT_TOKEN_HASH_LEN) != 0) l = &(*l)->next;
  return l;
}

const char *chat_apicache_get(chat_apicache_t *c, const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              uint64_t now_ns) {
  if (c == NULL) return NULL;
  entry_t **l = slot(c, token_hash);
  if (*l == NULL) return NULL;
  if (now_ns - (*l)->at_ns >= (uint64_t)CHAT_APICACHE_TTL_MS * 1000000) {
    entry_t *e = *l;
    *l = e->next;
    free(e);
    c->n--;
    return NULL;
  }
  return (*l)->json;
}

void chat_apicache_put(chat_apicache_t *c, const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                       uint64_t gen, const char *json, uint64_t now_ns) {
  if (c == NULL || gen != c->gen || json == NULL) return;
  entry_t **l = slot(c, token_hash);
  if (*l) {
    entry_t *old = *l;
    *l = old->next;
    free(old);
    c->n--;
  }
  if (c->n >= CHAT_APICACHE_MAX) {
    chat_apicache_clear(c);  /* a new generation: this answer is still good */
    gen = c->gen;
    l = slot(c, token_hash);
  }
  size_t len = strlen(json);
  entry_t *e = chat_xmalloc(sizeof(*e) + len + 1);
  memcpy(e->key, token_hash, CHAT_TOKEN_HASH_LEN);
  e->at_ns = now_ns;
  memcpy(e->json, json, len + 1);
  e->next = *l;
  *l = e;
  c->n++;
  (void)gen;
}
