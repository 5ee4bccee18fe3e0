/* UTF-8 validation with a small deterministic automaton.
 *
 * Each byte is first mapped to one of twelve classes; the class and the
 * current state select the next state.  The states encode how many
 * continuation bytes are still expected and, right after the lead bytes that
 * need one, which narrower range the next byte must fall in:
 *
 *   E0 -> A0..BF   (refuses overlong three-byte forms)
 *   ED -> 80..9F   (refuses the surrogates U+D800..U+DFFF)
 *   F0 -> 90..BF   (refuses overlong four-byte forms)
 *   F4 -> 80..8F   (refuses everything above U+10FFFF)
 *
 * C0, C1 and F5..FF can never appear.  A refused input moves the automaton
 * to S_BAD, which it never leaves, so the verdict is known at the first byte
 * that makes the input impossible.
 *
 * chat_utf8_decode, for code that needs the code points themselves, decodes
 * by arithmetic under the same rules; the unit test checks that the two
 * agree on every input it tries. */
#include "utf8.h"

#include <string.h>

enum {
  C_ASCII,  /* 00..7F */
  C_80,     /* 80..8F: continuation */
  C_90,     /* 90..9F: continuation */
  C_A0,     /* A0..BF: continuation */
  C_BAD,    /* C0, C1, F5..FF */
  C_L2,     /* C2..DF: lead of two */
  C_E0,     /* E0 */
  C_L3,     /* E1..EC, EE, EF: lead of three */
  C_ED,     /* ED */
  C_F0,     /* F0 */
  C_L4,     /* F1..F3: lead of four */
  C_F4,     /* F4 */
  C_COUNT
};

enum {
  S_OK,   /* at a character boundary; must stay 0 (see chat_utf8_t) */
  S_BAD,  /* refused, for good */
  S_1,    /* one continuation byte to go */
  S_2,    /* two to go */
  S_E0,   /* after E0 */
  S_ED,   /* after ED */
  S_3,    /* three to go */
  S_F0,   /* after F0 */
  S_F4,   /* after F4 */
  S_COUNT
};

static const uint8_t byte_class[256] = {
  /* 00..7F */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 80..8F */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  /* 90..9F */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* A0..BF */
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  /* C0..DF */
  4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
  5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
  /* E0..EF */
  6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
  /* F0..FF */
  9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

#define X S_BAD
static const uint8_t next_state[S_COUNT][C_COUNT] = {
  /*        ASCII 80    90    A0    BAD L2   E0    L3   ED    F0    L4   F4 */
  [S_OK] =  {S_OK, X,    X,    X,    X, S_1, S_E0, S_2, S_ED, S_F0, S_3, S_F4},
  [S_BAD] = {X,    X,    X,    X,    X, X,   X,    X,   X,    X,    X,   X},
  [S_1] =   {X,    S_OK, S_OK, S_OK, X, X,   X,    X,   X,    X,    X,   X},
  [S_2] =   {X,    S_1,  S_1,  S_1,  X, X,   X,    X,   X,    X,    X,   X},
  [S_E0] =  {X,    X,    X,    S_1,  X, X,   X,    X,   X,    X,    X,   X},
  [S_ED] =  {X,    S_1,  S_1,  X,    X, X,   X,    X,   X,    X,    X,   X},
  [S_3] =   {X,    S_2,  S_2,  S_2,  X, X,   X,    X,   X,    X,    X,   X},
  [S_F0] =  {X,    X,    S_2,  S_2,  X, X,   X,    X,   X,    X,    X,   X},
  [S_F4] =  {X,    S_2,  X,    X,    X, X,   X,    X,   X,    X,    X,   X},
};
#undef X

#define HIGH_BITS 0x8080808080808080ull

int chat_utf8_feed(chat_utf8_t *u, const uint8_t *s, size_t len) {
  uint32_t st = u->state;
  size_t i = 0;

  if (st == S_BAD) return CHAT_UTF8_BAD;
  while (i < len) {
    /* Runs of ASCII (most chat text) are skipped eight bytes at a time. */
    if (st == S_OK && s[i] < 0x80) {
      uint64_t w;
      while (len - i >= 8) {
        memcpy(&w, s + i, 8);
        if (w & HIGH_BITS) break;
        i += 8;
      }
      while (i < len && s[i] < 0x80) i++;
      if (i == len) break;
    }
    st = next_state[st][byte_class[s[i++]]];
    if (st == S_BAD) break;
  }
  u->state = st;
  if (st == S_BAD) return CHAT_UTF8_BAD;
  return st == S_OK ? CHAT_UTF8_OK : CHAT_UTF8_PARTIAL;
}

int chat_utf8_valid(const void *s, size_t len) {
  chat_utf8_t u;
  chat_utf8_init(&u);
  return chat_utf8_feed(&u, s, len) == CHAT_UTF8_OK;
}

size_t chat_utf8_count(const void *s, size_t len) {
  /* In valid UTF-8 every character has exactly one byte that is not a
   * continuation byte (10xxxxxx). */
  const uint8_t *p = s;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += (p[i] & 0xC0) != 0x80;
  return n;
}

size_t chat_utf8_decode(const void *s, size_t len, uint32_t *cp) {
  const uint8_t *p = s;
  uint32_t c, min;
  size_t n;

  if (len == 0) return 0;
  c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c < 0xC2) return 0;  /* a continuation byte, or C0/C1 (overlong) */
  if (c < 0xE0) {
    n = 2;
    c &= 0x1F;
    min = 0x80;
  } else if (c < 0xF0) {
    n = 3;
    c &= 0x0F;
    min = 0x800;
  } else if (c < 0xF5) {
    n = 4;
    c &= 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (len < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    c = c << 6 | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return n;
}

size_t chat_utf8_next(const void *s, size_t len, uint32_t *cp) {
  size_t n = chat_utf8_decode(s, len, cp);
  if (n == 0) {
    *cp = 0xFFFD;
    n = 1;
  }
  return n;
}

size_t chat_utf8_encode(uint32_t cp, uint8_t out[4]) {
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (cp > 0x10FFFF) return 0;
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}
