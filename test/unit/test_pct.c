/* Hex digits and percent-decoding (core/pct.h). */
#include <stdlib.h>
#include <string.h>

#include "core/pct.h"
#include "t.h"

/* Decodes the NUL-terminated s with flags; the result in a static buffer,
 * or "(error)". */
static const char *dec(const char *s, unsigned flags) {
  static char out[256];
  ssize_t n = chat_pct_decode(s, strlen(s), out, sizeof(out), flags);
  if (n < 0) return "(error)";
  if ((size_t)n != strlen(out)) return "(length differs)";
  return out;
}

static void test_hex_digit(void) {
  int bad = 0;
  for (int c = 0; c < 256; c++) {
    int want = c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    if (chat_hex_digit(c) != want) bad++;
  }
  T_EQ_INT(bad, 0);
  T_EQ_INT(chat_hex_digit(-1), -1);
}

static void test_hex_codec(void) {
  uint8_t in[32], out[32];
  char hex[65];
  for (int i = 0; i < 32; i++) in[i] = (uint8_t)(i * 37 + 5);
  chat_hex_encode(hex, in, 32);
  T_EQ_INT(strlen(hex), 64);
  T_EQ_STR(hex, "052a4f7499bee3082d52779cc1e60b30557a9fc4e90e33587da2c7ec11365b80");
  T_EQ_INT(chat_hex_decode(out, 32, hex, 64), 0);
  T_CHECK(memcmp(in, out, 32) == 0);
  /* Either case. */
  T_EQ_INT(chat_hex_decode(out, 2, "aBcD", 4), 0);
  T_EQ_INT(out[0], 0xAB);
  T_EQ_INT(out[1], 0xCD);
  /* Wrong length, odd length, a non-digit anywhere. */
  T_EQ_INT(chat_hex_decode(out, 32, hex, 63), -1);
  T_EQ_INT(chat_hex_decode(out, 32, hex, 62), -1);
  T_EQ_INT(chat_hex_decode(out, 1, "abc", 3), -1);
  T_EQ_INT(chat_hex_decode(out, 2, "ab c", 4), -1);
  T_EQ_INT(chat_hex_decode(out, 2, "abcg", 4), -1);
  T_EQ_INT(chat_hex_decode(out, 0, "", 0), 0);
  chat_hex_encode(hex, in, 0);
  T_EQ_STR(hex, "");
}

static void test_pct_basics(void) {
  T_EQ_STR(dec("", 0), "");
  T_EQ_STR(dec("abc", 0), "abc");
  T_EQ_STR(dec("a%20b", 0), "a b");
  T_EQ_STR(dec("%41%62%7a%5A", 0), "AbzZ");
  T_EQ_STR(dec("100%25", 0), "100%");
  T_EQ_STR(dec("%e5%bc%a0%E4%B8%89", 0), "\xe5\xbc\xa0\xe4\xb8\x89");  /* 张三 */
  T_EQ_STR(dec("%2e%2E/%2f", 0), "../\x2f");
  /* Escapes are decoded once: "%2541" is "%41", not "A". */
  T_EQ_STR(dec("%2541", 0), "%41");
}

static void test_pct_bad_escapes(void) {
  static const char *const bad[] = {
      "%", "%4", "a%", "a%4", "%%41", "%g1", "%1g", "%zz", "% 41", "%-1", "%+1", "%4 ",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    T_EQ_STR(dec(bad[i], 0), "(error)");
    T_EQ_STR(dec(bad[i], CHAT_PCT_PLUS | CHAT_PCT_NO_NUL), "(error)");
  }
}

/* Every prefix of an encoded string either decodes to the matching prefix
 * of the text or, when it ends inside an escape, is refused. */
static void test_pct_truncated_prefixes(void) {
  const char *enc = "a%20%E5%BC%A0+b%2B%25";
  const char *full = "a \xe5\xbc\xa0 b+%";
  size_t len = strlen(enc);
  for (size_t cut = 0; cut <= len; cut++) {
    char out[64];
    ssize_t n = chat_pct_decode(enc, cut, out, sizeof(out), CHAT_PCT_PLUS);
    /* Inside an escape: the last '%' is fewer than three bytes back. */
    const char *pct = NULL;
    for (size_t i = 0; i < cut; i++)
      if (enc[i] == '%') pct = enc + i;
    int inside = pct != NULL && (size_t)(enc + cut - pct) < 3;
    if (inside) {
      T_EQ_INT(n, -1);
      continue;
    }
    T_CHECK(n >= 0);
    if (n >= 0) {
      T_EQ_INT(strlen(out), (size_t)n);
      T_CHECK(memcmp(out, full, (size_t)n) == 0);
    }
  }
  /* The same, as the query decoder runs it (UTF-8 required): a prefix that
   * cuts 张 in the middle of its bytes is refused too. */
  T_EQ_INT(chat_pct_decode(enc, 7, (char[64]){0}, 64, CHAT_PCT_UTF8), -1);   /* a %E5 */
  T_EQ_INT(chat_pct_decode(enc, 13, (char[64]){0}, 64, CHAT_PCT_UTF8), 5);   /* a 张 */
}

static void test_pct_plus(void) {
  /* Query values: '+' is a space, "%2B" a plus. */
  T_EQ_STR(dec("a+b", CHAT_PCT_PLUS), "a b");
  T_EQ_STR(dec("+++", CHAT_PCT_PLUS), "   ");
  T_EQ_STR(dec("1%2B1", CHAT_PCT_PLUS), "1+1");
  /* Paths: '+' is itself. */
  T_EQ_STR(dec("a+b", 0), "a+b");
  T_EQ_STR(dec("a+b", CHAT_PCT_NO_NUL), "a+b");
}

static void test_pct_nul(void) {
  char out[16];
  /* Without CHAT_PCT_NO_NUL an encoded NUL is a byte like any other. */
  T_EQ_INT(chat_pct_decode("a%00b", 5, out, sizeof(out), 0), 3);
  T_CHECK(memcmp(out, "a\0b", 4) == 0);
  T_EQ_STR(dec("a%00b", CHAT_PCT_NO_NUL), "(error)");
  T_EQ_STR(dec("%00", CHAT_PCT_NO_NUL | CHAT_PCT_PLUS), "(error)");
  T_EQ_INT(chat_pct_decode("a\0b", 3, out, sizeof(out), CHAT_PCT_NO_NUL), -1);
  T_EQ_INT(chat_pct_decode("a\0b", 3, out, sizeof(out), 0), 3);
}

static void test_pct_utf8(void) {
  T_EQ_STR(dec("%e4%bd%a0", CHAT_PCT_UTF8), "\xe4\xbd\xa0");
  T_EQ_STR(dec("%e4%bd", CHAT_PCT_UTF8), "(error)");
  T_EQ_STR(dec("%ff", CHAT_PCT_UTF8), "(error)");
  T_EQ_STR(dec("%c0%80", CHAT_PCT_UTF8), "(error)");      /* overlong NUL */
  T_EQ_STR(dec("%ed%a0%80", CHAT_PCT_UTF8), "(error)");   /* a surrogate */
  T_EQ_STR(dec("%ff", 0), "\xff");                        /* bytes allowed */
}

static void test_pct_room(void) {
  char out[8];
  /* Fits exactly: 7 bytes and the NUL. */
  T_EQ_INT(chat_pct_decode("abcdefg", 7, out, sizeof(out), 0), 7);
  T_EQ_STR(out, "abcdefg");
  T_EQ_INT(chat_pct_decode("abcdefgh", 8, out, sizeof(out), 0), -1);
  /* Escapes shrink the input: 8 escapes of 3 bytes need 9 bytes. */
  T_EQ_INT(chat_pct_decode("%41%41%41%41%41%41%41", 21, out, sizeof(out), 0), 7);
  T_EQ_INT(chat_pct_decode("%41%41%41%41%41%41%41%41", 24, out, sizeof(out), 0), -1);
  T_EQ_INT(chat_pct_decode("", 0, out, 1, 0), 0);
  T_EQ_STR(out, "");
  T_EQ_INT(chat_pct_decode("a", 1, out, 1, 0), -1);
  T_EQ_INT(chat_pct_decode("", 0, out, 0, 0), -1);
}

static void test_pct_dup(void) {
  size_t n = 99;
  char *s = chat_pct_decode_dup("caf%C3%A9+au+lait", 17,
                                CHAT_PCT_PLUS | CHAT_PCT_NO_NUL | CHAT_PCT_UTF8, &n);
  T_EQ_STR(s, "caf\xc3\xa9 au lait");
  T_EQ_INT(n, 13);
  free(s);
  s = chat_pct_decode_dup("", 0, CHAT_PCT_UTF8, NULL);
  T_EQ_STR(s, "");
  free(s);
  T_CHECK(chat_pct_decode_dup("%4", 2, 0, NULL) == NULL);
  T_CHECK(chat_pct_decode_dup("%00", 3, CHAT_PCT_NO_NUL, NULL) == NULL);
  T_CHECK(chat_pct_decode_dup("%ff", 3, CHAT_PCT_UTF8, NULL) == NULL);
  /* Not NUL-terminated input: only len bytes are read. */
  s = chat_pct_decode_dup("ab%41zz", 5, 0, &n);
  T_EQ_STR(s, "abA");
  T_EQ_INT(n, 3);
  free(s);
}

int main(void) {
  T_RUN(test_hex_digit);
  T_RUN(test_hex_codec);
  T_RUN(test_pct_basics);
  T_RUN(test_pct_bad_escapes);
  T_RUN(test_pct_truncated_prefixes);
  T_RUN(test_pct_plus);
  T_RUN(test_pct_nul);
  T_RUN(test_pct_utf8);
  T_RUN(test_pct_room);
  T_RUN(test_pct_dup);
  return T_DONE();
}
