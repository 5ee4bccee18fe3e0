#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/utf8.h"
#include "t.h"

typedef struct {
  const char *s;
  size_t len;
} vec_t;

#define V(lit) {lit, sizeof(lit) - 1}

static const vec_t valid_vecs[] = {
  V(""),
  V("hello, world"),
  V("\x7f"),
  V("\xc2\x80"),                  /* U+0080, smallest two-byte */
  V("\xdf\xbf"),                  /* U+07FF */
  V("\xe0\xa0\x80"),              /* U+0800, smallest three-byte */
  V("\xed\x9f\xbf"),              /* U+D7FF, just below the surrogates */
  V("\xee\x80\x80"),              /* U+E000, just above them */
  V("\xef\xbf\xbf"),              /* U+FFFF */
  V("\xef\xbb\xbf"),              /* BOM */
  V("\xf0\x90\x80\x80"),          /* U+10000, smallest four-byte */
  V("\xf4\x8f\xbf\xbf"),          /* U+10FFFF, the last code point */
  V("\xe4\xbd\xa0\xe5\xa5\xbd"),  /* 你好 */
  V("\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e"),  /* 山田太郎 */
  V("\xf0\x9f\x98\x80"),          /* 😀 */
  V("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"),  /* 👨‍👩 (ZWJ) */
  V("caf\xc3\xa9 \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"),
  V("a\0b"),                      /* NUL is a character */
  V("0123456789abcdef0123456789abcdef\xc3\xa9"),  /* ASCII fast path */
};

static const vec_t invalid_vecs[] = {
  V("\x80"),                      /* lone continuation bytes */
  V("\xbf"),
  V("a\x80z"),
  V("\xc0\x80"),                  /* overlong NUL */
  V("\xc1\xbf"),                  /* overlong U+007F */
  V("\xe0\x80\x80"),              /* overlong three-byte */
  V("\xe0\x9f\xbf"),              /* overlong U+07FF */
  V("\xf0\x80\x80\x80"),          /* overlong four-byte */
  V("\xf0\x8f\xbf\xbf"),          /* overlong U+FFFF */
  V("\xed\xa0\x80"),              /* U+D800 */
  V("\xed\xbf\xbf"),              /* U+DFFF */
  V("\xed\xa0\xbd\xed\xb8\x80"),  /* a surrogate pair encoded (CESU-8) */
  V("\xf4\x90\x80\x80"),          /* U+110000 */
  V("\xf5\x80\x80\x80"),
  V("\xf7\xbf\xbf\xbf"),
  V("\xf8\x88\x80\x80\x80"),      /* five-byte form */
  V("\xfc\x84\x80\x80\x80\x80"),  /* six-byte form */
  V("\xfe"),
  V("\xff"),
  V("\xc3"),                      /* truncated */
  V("\xe4\xbd"),
  V("\xf0\x9f\x98"),
  V("\xc3\x28"),                  /* lead followed by a non-continuation */
  V("\xe4\x28\xa0"),
  V("\xf0\x9f\x28\x80"),
  V("\xe4\xbd\xa0\xa0"),          /* one continuation too many */
  V("0123456789abcdef0123456789abcdef\xff"),
};

/* Feeds the vector split at every point into two chunks, then byte by
 * byte, and checks the verdict each time. */
static void check_splits(const vec_t *v, int expect_valid) {
  for (size_t cut = 0; cut <= v->len; cut++) {
    chat_utf8_t u;
    int r1, r2;
    chat_utf8_init(&u);
    r1 = chat_utf8_feed(&u, (const uint8_t *)v->s, cut);
    r2 = chat_utf8_feed(&u, (const uint8_t *)v->s + cut, v->len - cut);
    if (expect_valid) {
      T_CHECK(r1 != CHAT_UTF8_BAD);
      T_EQ_INT(r2, CHAT_UTF8_OK);
    } else {
      T_CHECK(r2 != CHAT_UTF8_OK);
    }
  }
  /* Byte by byte. */
  {
    chat_utf8_t u;
    int r = CHAT_UTF8_OK;
    chat_utf8_init(&u);
    for (size_t i = 0; i < v->len; i++)
      r = chat_utf8_feed(&u, (const uint8_t *)v->s + i, 1);
    if (expect_valid)
      T_EQ_INT(r, CHAT_UTF8_OK);
    else
      T_CHECK(r != CHAT_UTF8_OK);
  }
}

static void test_valid(void) {
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(valid_vecs); i++) {
    const vec_t *v = &valid_vecs[i];
    if (!chat_utf8_valid(v->s, v->len))
      fprintf(stderr, "  valid vector %zu refused\n", i);
    T_CHECK(chat_utf8_valid(v->s, v->len));
    check_splits(v, 1);
  }
}

static void test_invalid(void) {
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(invalid_vecs); i++) {
    const vec_t *v = &invalid_vecs[i];
    if (chat_utf8_valid(v->s, v->len))
      fprintf(stderr, "  invalid vector %zu accepted\n", i);
    T_CHECK(!chat_utf8_valid(v->s, v->len));
    check_splits(v, 0);
  }
}

static void test_partial_and_sticky(void) {
  chat_utf8_t u;
  const uint8_t zh[] = {0xe5, 0xbc, 0xa0};  /* 张 */
  const uint8_t emoji[] = {0xf0, 0x9f, 0x98, 0x80};

  chat_utf8_init(&u);
  T_EQ_INT(chat_utf8_feed(&u, zh, 1), CHAT_UTF8_PARTIAL);
  T_CHECK(u.state != 0);
  T_EQ_INT(chat_utf8_feed(&u, zh + 1, 1), CHAT_UTF8_PARTIAL);
  T_EQ_INT(chat_utf8_feed(&u, zh + 2, 1), CHAT_UTF8_OK);
  T_EQ_INT(u.state, 0);
  T_EQ_INT(chat_utf8_feed(&u, emoji, 3), CHAT_UTF8_PARTIAL);
  T_EQ_INT(chat_utf8_feed(&u, NULL, 0), CHAT_UTF8_PARTIAL);
  T_EQ_INT(chat_utf8_feed(&u, emoji + 3, 1), CHAT_UTF8_OK);

  /* Bad at the first impossible byte, and bad for good. */
  chat_utf8_init(&u);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"\xed", 1), CHAT_UTF8_PARTIAL);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"\xa0", 1), CHAT_UTF8_BAD);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"abc", 3), CHAT_UTF8_BAD);
  T_EQ_INT(chat_utf8_feed(&u, NULL, 0), CHAT_UTF8_BAD);

  chat_utf8_init(&u);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"\xe0\x80", 2), CHAT_UTF8_BAD);
  chat_utf8_init(&u);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"\xf4\x90", 2), CHAT_UTF8_BAD);
  chat_utf8_init(&u);
  T_EQ_INT(chat_utf8_feed(&u, (const uint8_t *)"\xf0\x8f", 2), CHAT_UTF8_BAD);
}

/* Every code point, encoded by a straightforward reference encoder, is
 * accepted; every surrogate is refused. */
static size_t encode(uint32_t c, uint8_t out[4]) {
  if (c < 0x80) {
    out[0] = (uint8_t)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (uint8_t)(0xC0 | c >> 6);
    out[1] = (uint8_t)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (uint8_t)(0xE0 | c >> 12);
    out[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
    out[2] = (uint8_t)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | c >> 18);
  out[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
  out[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
  out[3] = (uint8_t)(0x80 | (c & 0x3F));
  return 4;
}

static void test_all_code_points(void) {
  int bad_accepts = 0, good_refusals = 0;
  uint8_t b[4];
  for (uint32_t c = 0; c <= 0x10FFFF; c++) {
    size_t n = encode(c, b);
    int ok = chat_utf8_valid(b, n);
    int surrogate = c >= 0xD800 && c <= 0xDFFF;
    if (surrogate && ok) bad_accepts++;
    if (!surrogate && !ok) good_refusals++;
    if (!surrogate && chat_utf8_count(b, n) != 1) good_refusals++;
  }
  T_EQ_INT(bad_accepts, 0);
  T_EQ_INT(good_refusals, 0);
  /* Above U+10FFFF with the four-byte pattern. */
  for (uint32_t c = 0x110000; c < 0x200000; c += 0x1001) {
    encode(c, b);
    T_CHECK(!chat_utf8_valid(b, 4));
  }
}

/* All two-byte inputs agree with a reference classification by decoding. */
static int ref_valid(const uint8_t *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    uint32_t c = s[i], min;
    size_t n;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xC2 && c <= 0xDF) { n = 2; c &= 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; c &= 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; c &= 0x07; min = 0x10000; }
    else return 0;
    if (len - i < n) return 0;
    for (size_t k = 1; k < n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      c = c << 6 | (s[i + k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    i += n;
  }
  return 1;
}

static void test_against_reference(void) {
  int mismatches = 0;
  uint8_t b[3];
  for (unsigned x = 0; x < 0x10000; x++) {
    b[0] = (uint8_t)(x >> 8);
    b[1] = (uint8_t)x;
    if (chat_utf8_valid(b, 2) != ref_valid(b, 2)) mismatches++;
  }
  /* Three-byte inputs starting with every lead from E0 to F4. */
  for (unsigned lead = 0xE0; lead <= 0xF4; lead++) {
    for (unsigned x = 0; x < 0x10000; x++) {
      b[0] = (uint8_t)lead;
      b[1] = (uint8_t)(x >> 8);
      b[2] = (uint8_t)x;
      if (chat_utf8_valid(b, 3) != ref_valid(b, 3)) mismatches++;
    }
  }
  /* Random strings built mostly from valid pieces. */
  srand(12345);
  for (int round = 0; round < 20000; round++) {
    uint8_t s[40];
    size_t len = 0;
    while (len < 36) {
      int r = rand() % 10;
      if (r < 7) {
        len += encode((uint32_t)rand() % 0x110000, s + len);
      } else {
        s[len++] = (uint8_t)rand();
      }
    }
    if (chat_utf8_valid(s, len) != ref_valid(s, len)) mismatches++;
    chat_utf8_t u;
    chat_utf8_init(&u);
    size_t cut = (size_t)rand() % (len + 1);
    chat_utf8_feed(&u, s, cut);
    int r = chat_utf8_feed(&u, s + cut, len - cut);
    if ((r == CHAT_UTF8_OK) != ref_valid(s, len)) mismatches++;
  }
  T_EQ_INT(mismatches, 0);
}

static void test_count(void) {
  T_EQ_INT(chat_utf8_count("", 0), 0);
  T_EQ_INT(chat_utf8_count("alice", 5), 5);
  T_EQ_INT(chat_utf8_count("\xe5\xbc\xa0\xe4\xb8\x89", 6), 2);  /* 张三 */
  T_EQ_INT(chat_utf8_count("a\xf0\x9f\x98\x80z", 6), 3);
  T_EQ_INT(chat_utf8_count("caf\xc3\xa9", 5), 4);
}

/* 1 if s[0..len) decodes character by character with chat_utf8_decode. */
static int decodes(const void *s, size_t len) {
  const uint8_t *p = s;
  size_t i = 0;
  uint32_t c;
  while (i < len) {
    size_t n = chat_utf8_decode(p + i, len - i, &c);
    if (n == 0) return 0;
    i += n;
  }
  return 1;
}

static void test_decode(void) {
  uint32_t c = 7;
  uint8_t b[4];
  int mismatches = 0;

  T_EQ_INT(chat_utf8_decode("", 0, &c), 0);
  T_EQ_INT(c, 7);  /* untouched */
  T_EQ_INT(chat_utf8_decode("A", 1, &c), 1);
  T_EQ_INT(c, 'A');
  T_EQ_INT(chat_utf8_decode("\xe5\xbc\xa0\xe4\xb8\x89", 6, &c), 3);  /* 张 */
  T_EQ_INT(c, 0x5F20);
  T_EQ_INT(chat_utf8_decode("\xf0\x9f\x98\x80", 4, &c), 4);
  T_EQ_INT(c, 0x1F600);
  /* Cut short by len, though the bytes after would complete it. */
  T_EQ_INT(chat_utf8_decode("\xf0\x9f\x98\x80", 3, &c), 0);

  /* Every code point round-trips; surrogates are refused. */
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    size_t n = encode(cp, b);
    uint32_t got = 0;
    size_t k = chat_utf8_decode(b, n, &got);
    int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (surrogate ? k != 0 : (k != n || got != cp)) mismatches++;
  }
  T_EQ_INT(mismatches, 0);

  /* The decoder and the validator agree on every vector and every prefix. */
  for (size_t i = 0; i < sizeof(valid_vecs) / sizeof(valid_vecs[0]); i++)
    T_CHECK(decodes(valid_vecs[i].s, valid_vecs[i].len));
  for (size_t i = 0; i < sizeof(invalid_vecs) / sizeof(invalid_vecs[0]); i++) {
    T_CHECK(!decodes(invalid_vecs[i].s, invalid_vecs[i].len));
    for (size_t cut = 0; cut <= invalid_vecs[i].len; cut++)
      if (decodes(invalid_vecs[i].s, cut) != chat_utf8_valid(invalid_vecs[i].s, cut))
        mismatches++;
  }
  /* And on all two- and three-byte inputs. */
  for (unsigned x = 0; x < 0x1000000; x += (x < 0x10000 ? 1 : 7)) {
    b[0] = (uint8_t)(x >> 16);
    b[1] = (uint8_t)(x >> 8);
    b[2] = (uint8_t)x;
    size_t len = x < 0x10000 ? 2 : 3;
    const uint8_t *s = x < 0x10000 ? b + 1 : b;
    if (decodes(s, len) != chat_utf8_valid(s, len)) mismatches++;
  }
  T_EQ_INT(mismatches, 0);
}

static void test_next(void) {
  uint32_t c;
  const char *s = "a\xff\xe4\xbd\xa0\xc3";
  size_t len = 6, i = 0, n;
  uint32_t want[] = {'a', 0xFFFD, 0x4F60, 0xFFFD};
  size_t k = 0;
  while (i < len) {
    n = chat_utf8_next(s + i, len - i, &c);
    T_CHECK(n >= 1);
    T_CHECK(k < 4);
    if (k < 4) T_EQ_INT(c, want[k]);
    k++;
    i += n;
  }
  T_EQ_INT(k, 4);
  /* A truncated character yields U+FFFD for its lead byte alone. */
  T_EQ_INT(chat_utf8_next("\xe4\xbd", 2, &c), 1);
  T_EQ_INT(c, 0xFFFD);
}

static void test_encode(void) {
  uint8_t a[4], b[4];
  int mismatches = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    size_t n = chat_utf8_encode(cp, a);
    if (surrogate) {
      if (n != 0) mismatches++;
      continue;
    }
    size_t m = encode(cp, b);
    uint32_t back;
    if (n != m || memcmp(a, b, n) != 0 || chat_utf8_decode(a, n, &back) != n || back != cp)
      mismatches++;
  }
  T_EQ_INT(mismatches, 0);
  T_EQ_INT(chat_utf8_encode(0x110000, a), 0);
  T_EQ_INT(chat_utf8_encode(0xFFFFFFFF, a), 0);
}

int main(void) {
  T_RUN(test_valid);
  T_RUN(test_invalid);
  T_RUN(test_partial_and_sticky);
  T_RUN(test_all_code_points);
  T_RUN(test_against_reference);
  T_RUN(test_count);
  T_RUN(test_decode);
  T_RUN(test_next);
  T_RUN(test_encode);
  return T_DONE();
}
