#include "pct.h"

#include <stdlib.h>

#include "common.h"
#include "utf8.h"

int chat_hex_digit(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void chat_hex_encode(char *out, const void *in, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *p = in;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

int chat_hex_decode(void *out, size_t n, const char *s, size_t len) {
  uint8_t *o = out;
  if (len / 2 != n || len % 2 != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    int hi = chat_hex_digit((unsigned char)s[2 * i]);
    int lo = chat_hex_digit((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    o[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

ssize_t chat_pct_decode(const char *s, size_t len, char *out, size_t outcap,
                        unsigned flags) {
  size_t o = 0;
  if (outcap == 0) return -1;
  out[0] = '\0';
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (len - i < 3) return -1;
      int hi = chat_hex_digit((unsigned char)s[i + 1]);
      int lo = chat_hex_digit((unsigned char)s[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = hi << 4 | lo;
      i += 2;
    } else if (c == '+' && (flags & CHAT_PCT_PLUS)) {
      c = ' ';
    }
    if (c == 0 && (flags & CHAT_PCT_NO_NUL)) return -1;
    if (o + 1 >= outcap) return -1;
    out[o++] = (char)c;
  }
  out[o] = '\0';
  if ((flags & CHAT_PCT_UTF8) && !chat_utf8_valid(out, o)) return -1;
  return (ssize_t)o;
}

char *chat_pct_decode_dup(const char *s, size_t len, unsigned flags,
                          size_t *out_len) {
  char *out = chat_xmalloc(len + 1);
  ssize_t n = chat_pct_decode(s, len, out, len + 1, flags);
  if (n < 0) {
    free(out);
    return NULL;
  }
  if (out_len) *out_len = (size_t)n;
  return out;
}
