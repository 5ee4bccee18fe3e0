/* A hash map from int64 keys (never 0) to pointers: open addressing with
 * linear probing and backward-shift deletion.  The map owns neither keys
 * nor values. */
#ifndef CHAT_CORE_IMAP_H
#define CHAT_CORE_IMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int64_t key;   /* 0: empty slot */
  void *val;
} chat_imap_slot_t;

typedef struct {
  chat_imap_slot_t *slots;
  size_t cap;    /* a power of two, or 0 */
  size_t len;
} chat_imap_t;

void chat_imap_init(chat_imap_t *m);
void chat_imap_free(chat_imap_t *m);
/* The value for key, or NULL. */
void *chat_imap_get(const chat_imap_t *m, int64_t key);
/* Sets key to val (key != 0, val != NULL); returns the old value or NULL. */
void *chat_imap_put(chat_imap_t *m, int64_t key, void *val);
/* Removes key; returns its value or NULL. */
void *chat_imap_del(chat_imap_t *m, int64_t key);

/* Iterates: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].key) ... */

#endif
