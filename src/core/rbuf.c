#include "rbuf.h"

#include <assert.h>
#include <stdlib.h>

#include "common.h"

chat_rbuf_t *chat_rbuf_new(size_t cap) {
  chat_rbuf_t *b = chat_xmalloc(sizeof(*b) + cap);
  b->refs = 1;
  b->len = 0;
  b->cap = cap;
  return b;
}

void chat_rbuf_unref(chat_rbuf_t *b) {
  if (b == NULL) return;
  assert(b->refs > 0);
  if (--b->refs == 0) free(b);
}
