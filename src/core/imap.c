#include "imap.h"

#include <assert.h>
#include <stdlib.h>

#include "common.h"

static size_t hash(int64_t k) {
  uint64_t x = (uint64_t)k;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}

void chat_imap_init(chat_imap_t *m) {
  m->slots = NULL;
  m->cap = m->len = 0;
}

void chat_imap_free(chat_imap_t *m) {
  free(m->slots);
  chat_imap_init(m);
}

void *chat_imap_get(const chat_imap_t *m, int64_t key) {
  if (m->cap == 0) return NULL;
  for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key) return m->slots[i].val;
    if (m->slots[i].key == 0) return NULL;
  }
}

static void grow(chat_imap_t *m) {
  size_t old_cap = m->cap;
  chat_imap_slot_t *old = m->slots;
  m->cap = old_cap ? old_cap * 2 : 16;
  m->slots = chat_xcalloc(m->cap, sizeof(*m->slots));
  m->len = 0;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key) chat_imap_put(m, old[i].key, old[i].val);
  free(old);
}

void *chat_imap_put(chat_imap_t *m, int64_t key, void *val) {
  assert(key != 0 && val != NULL);
  if ((m->len + 1) * 4 > m->cap * 3) grow(m);
  for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->slots[i].key == key) {
      void *old = m->slots[i].val;
      m->slots[i].val = val;
      return old;
    }
    if (m->slots[i].key == 0) {
      m->slots[i].key = key;
      m->slots[i].val = val;
      m->len++;
      return NULL;
    }
  }
}

void *chat_imap_del(chat_imap_t *m, int64_t key) {
  if (m->cap == 0) return NULL;
  size_t mask = m->cap - 1, i = hash(key) & mask;
  while (m->slots[i].key != key) {
    if (m->slots[i].key == 0) return NULL;
    i = (i + 1) & mask;
  }
  void *val = m->slots[i].val;
  /* Backward-shift: move later entries of the probe run into the hole. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->slots[j].key == 0) break;
    size_t home = hash(m->slots[j].key) & mask;
    /* Move j to i if home is not cyclically in (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].key = 0;
  m->slots[i].val = NULL;
  m->len--;
  return val;
}
