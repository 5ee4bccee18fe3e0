/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF), whole strings or incrementally across chunk boundaries. */
#ifndef CHAT_NET_UTF8_H
#define CHAT_NET_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t state;  /* 0: at a character boundary */
} chat_utf8_t;

enum { CHAT_UTF8_OK = 0, CHAT_UTF8_PARTIAL = 1, CHAT_UTF8_BAD = -1 };

static inline void chat_utf8_init(chat_utf8_t *u) { u->state = 0; }
/* Feeds the next chunk.  CHAT_UTF8_BAD as soon as the input cannot be valid
 * UTF-8 (and for every later call); otherwise CHAT_UTF8_OK when the input so
 * far ends on a character boundary, CHAT_UTF8_PARTIAL when it ends inside a
 * character. */
int chat_utf8_feed(chat_utf8_t *u, const uint8_t *s, size_t len);
/* 1 if s[0..len) is complete valid UTF-8, else 0. */
int chat_utf8_valid(const void *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t chat_utf8_count(const void *s, size_t len);

#endif
