/* Reference-counted byte buffers.
 *
 * A broadcast frame is encoded once into an rbuf and every recipient's
 * outbound queue holds a reference; the last chat_rbuf_unref frees it.
 * All references live on the loop thread (the count is not atomic). */
#ifndef CHAT_CORE_RBUF_H
#define CHAT_CORE_RBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t refs;
  size_t len;    /* bytes used in data */
  size_t cap;    /* bytes allocated for data */
  uint8_t data[];
} chat_rbuf_t;

/* A new buffer with room for cap bytes, len 0, one reference (the caller's). */
chat_rbuf_t *chat_rbuf_new(size_t cap);
static inline chat_rbuf_t *chat_rbuf_ref(chat_rbuf_t *b) {
  b->refs++;
  return b;
}
/* Drops one reference; frees the buffer when it was the last.  NULL is a no-op. */
void chat_rbuf_unref(chat_rbuf_t *b);

#endif
