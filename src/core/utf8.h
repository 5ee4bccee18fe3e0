/* UTF-8, the one implementation every layer uses: validation (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), whole strings or
 * incrementally across chunk boundaries (the WebSocket parser), counting
 * code points, and decoding or encoding one code point at a time.
 *
 * Pure functions on caller-owned bytes: no allocation, no global state,
 * safe from any thread. */
#ifndef CHAT_CORE_UTF8_H
#define CHAT_CORE_UTF8_H

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
/* Number of code points in valid UTF-8 (for other input: the number of
 * bytes that are not continuation bytes). */
size_t chat_utf8_count(const void *s, size_t len);

/* Decodes the character at the start of s[0..len).  Returns its length in
 * bytes (1 to 4) and stores the code point in *cp; returns 0 (and leaves
 * *cp alone) if len is 0 or the bytes there are not a valid character
 * (same rules as chat_utf8_valid, including a character cut short by len). */
size_t chat_utf8_decode(const void *s, size_t len, uint32_t *cp);
/* Like chat_utf8_decode, but never stops: where the bytes are not a valid
 * character it consumes one byte and yields U+FFFD.  len must be > 0.  For
 * loops over text already known to be valid. */
size_t chat_utf8_next(const void *s, size_t len, uint32_t *cp);

/* Writes the UTF-8 of code point cp into out; returns its length (1 to 4),
 * or 0 (nothing written) for a surrogate or a value above U+10FFFF. */
size_t chat_utf8_encode(uint32_t cp, uint8_t out[4]);

#endif
