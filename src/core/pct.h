/* Hex digits and percent-encoding: the one decoder every layer uses for URL
 * paths, query values, store URLs and hex-encoded hashes.
 *
 * Pure functions on caller-owned buffers (chat_pct_decode_dup allocates);
 * safe from any thread. */
#ifndef CHAT_CORE_PCT_H
#define CHAT_CORE_PCT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int chat_hex_digit(int c);
/* Writes n bytes as 2n lowercase hex digits plus a NUL into out (2n + 1
 * bytes). */
void chat_hex_encode(char *out, const void *in, size_t n);
/* Decodes exactly 2n hex digits (either case) from s[0..len) into out[0..n).
 * Returns 0, or -1 if len != 2n or a character is not a hex digit (out may
 * then be partly written). */
int chat_hex_decode(void *out, size_t n, const char *s, size_t len);

/* Flags for chat_pct_decode. */
enum {
  CHAT_PCT_PLUS = 1,    /* '+' is a space (form-encoded query values) */
  CHAT_PCT_NO_NUL = 2,  /* refuse a NUL byte, raw or as %00 */
  CHAT_PCT_UTF8 = 4,    /* refuse a result that is not valid UTF-8 */
};

/* Decodes the percent-escapes ("%XY", hex of either case) in s[0..len) into
 * out, which has room for outcap bytes; the result is NUL-terminated.
 * Returns its length (without the NUL), or -1 if an escape is cut short
 * ("%", "%4" at the end) or not hex ("%zz"), if a flag refuses the result,
 * or if it does not fit (it needs at most len + 1 bytes: decoding never
 * lengthens).  On -1, out holds a NUL-terminated prefix or nothing useful. */
ssize_t chat_pct_decode(const char *s, size_t len, char *out, size_t outcap,
                        unsigned flags);
/* The same into a new NUL-terminated string (free it with free()), or NULL
 * where chat_pct_decode would return -1.  *out_len (if not NULL) gets its
 * length. */
char *chat_pct_decode_dup(const char *s, size_t len, unsigned flags,
                          size_t *out_len);

#endif
