/* Unit tests of core/ident: NFKC, identity keys (UTS #39 skeletons of the
 * NFKC_Casefold form) and the character classes of the username rules. */
#include <pthread.h>
#include <string.h>

#include "core/ident.h"
#include "core/limits.h"
#include "core/text.h"
#include "core/utf8.h"
#include "t.h"

/* NFKC of s as a string in a static buffer ("(fail)" on -1). */
static const char *nfkc(const char *s) {
  static char out[256];
  return chat_ident_nfkc(s, strlen(s), out, sizeof(out)) < 0 ? "(fail)" : out;
}

/* 1 if a and b have the same key (and both have one). */
static int same_key(const char *a, const char *b) {
  char ka[CHAT_IDENT_KEY_MAX], kb[CHAT_IDENT_KEY_MAX];
  return chat_ident_key(a, strlen(a), ka, sizeof(ka)) >= 0 &&
         chat_ident_key(b, strlen(b), kb, sizeof(kb)) >= 0 && strcmp(ka, kb) == 0;
}

static void test_nfkc(void) {
  char out[8];

  T_EQ_STR(nfkc("bob"), "bob");
  T_EQ_STR(nfkc("Bob_99"), "Bob_99");                            /* case kept */
  T_EQ_STR(nfkc("\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82"), "bob");  /* ｂｏｂ */
  T_EQ_STR(nfkc("\xef\xbc\xa2\xef\xbc\xaf\xef\xbc\xa2"), "BOB");  /* ＢＯＢ */
  T_EQ_STR(nfkc("\xf0\x9d\x90\x9b\xf0\x9d\x90\xa8\xf0\x9d\x90\x9b"), "bob");  /* 𝐛𝐨𝐛 */
  T_EQ_STR(nfkc("\xe2\x93\x91\xe2\x93\x9e\xe2\x93\x91"), "bob");  /* ⓑⓞⓑ */
  T_EQ_STR(nfkc("\xc5\xbf" "am"), "sam");                          /* ſam */
  T_EQ_STR(nfkc("e\xcc\x81"), "\xc3\xa9");                         /* e + U+0301 */
  T_EQ_STR(nfkc("\xef\xac\x81"), "fi");                            /* ﬁ ligature */
  /* What NFKC leaves alone: other scripts, look-alikes, fillers. */
  T_EQ_STR(nfkc("\xe5\xbc\xa0\xe4\xb8\x89"), "\xe5\xbc\xa0\xe4\xb8\x89");  /* 张三 */
  T_EQ_STR(nfkc("b\xd0\xbe" "b"), "b\xd0\xbe" "b");                 /* Cyrillic о */
  T_EQ_STR(nfkc("\xef\xbe\xa0"), "\xe1\x85\xa0");                   /* U+FFA0 -> U+1160 */
  T_EQ_STR(nfkc(""), "");
  /* Refused: invalid UTF-8, a NUL byte, no room. */
  T_EQ_INT(chat_ident_nfkc("ab\xff", 3, out, sizeof(out)), -1);
  T_EQ_INT(chat_ident_nfkc("ab\xed\xa0\x80", 5, out, sizeof(out)), -1);  /* surrogate */
  T_EQ_INT(chat_ident_nfkc("a\0b", 3, out, sizeof(out)), -1);
  T_EQ_STR(out, "");
  T_EQ_INT(chat_ident_nfkc("abcdefgh", 8, out, sizeof(out)), -1);  /* 8 + NUL > 8 */
  T_EQ_INT(chat_ident_nfkc("abcdefg", 7, out, sizeof(out)), 7);
  T_EQ_INT(chat_ident_nfkc("\xef\xac\x83", 3, out, 3), -1);         /* ﬃ -> "ffi" */
  T_EQ_INT(chat_ident_nfkc("\xef\xac\x83", 3, out, 4), 3);
}

static void test_key(void) {
  static const char *const bob[] = {
      "bob",
      "BOB",
      "Bob",
      "\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82",              /* ｂｏｂ */
      "\xef\xbc\xa2\xef\xbc\xaf\xef\xbc\xa2",              /* ＢＯＢ */
      "b\xd0\xbe" "b",                                     /* bоb, Cyrillic о */
      "\xf0\x9d\x90\x9b\xf0\x9d\x90\xa8\xf0\x9d\x90\x9b",  /* 𝐛𝐨𝐛 */
      "\xe2\x93\x91\xe2\x93\x9e\xe2\x93\x91",              /* ⓑⓞⓑ */
      "bob\xe3\x85\xa4",                                   /* U+3164 */
      "\xef\xbe\xa0" "bob",                                /* U+FFA0 */
      "b\xe1\x85\x9f" "ob\xe1\x85\xa0",                    /* U+115F, U+1160 */
      "b\xe2\x80\x8b" "o\xe2\x80\x8d" "b",                 /* ZWSP, ZWJ */
      "bo\xc2\xad" "b",                                    /* soft hyphen */
  };
  char key[CHAT_IDENT_KEY_MAX], small[3];

  for (size_t i = 0; i < sizeof(bob) / sizeof(bob[0]); i++) {
    T_CHECK(same_key(bob[i], "bob"));
    if (!same_key(bob[i], "bob")) fprintf(stderr, "  key differs: %s\n", bob[i]);
  }
  T_CHECK(same_key("\xc5\xbf" "am", "sam"));  /* ſam */
  T_CHECK(same_key("\xc5\xbf" "AM", "Sam"));
  T_CHECK(same_key("\xce\xa9mega", "\xcf\x89mega"));  /* Ω and ω */
  T_CHECK(same_key("stra\xc3\x9f" "e", "STRASSE"));   /* ß folds to ss */
  T_CHECK(same_key("l", "1"));                        /* confusable digit */
  T_CHECK(same_key("rn", "m"));
  T_CHECK(same_key("caf\xc3\xa9", "cafe\xcc\x81"));   /* composed or not */
  /* Different names stay different. */
  T_CHECK(!same_key("bob", "bobby"));
  T_CHECK(!same_key("bob", "bo"));
  T_CHECK(!same_key("bob", "rob"));
  T_CHECK(!same_key("\xe5\xbc\xa0\xe4\xb8\x89", "\xe5\xbc\xa0\xe5\xb1\xb1"));  /* 张三, 张山 */
  T_CHECK(!same_key("caf\xc3\xa9", "cafe"));
  /* The key of bob, and the failures. */
  T_EQ_INT(chat_ident_key("BOB", 3, key, sizeof(key)), 3);
  T_EQ_STR(key, "bob");
  T_EQ_INT(chat_ident_key("\xe2\x80\x8b", 3, key, sizeof(key)), 0);  /* only ZWSP */
  T_EQ_STR(key, "");
  T_EQ_INT(chat_ident_key("bob\xff", 4, key, sizeof(key)), -1);
  T_EQ_INT(chat_ident_key("b\0b", 3, key, sizeof(key)), -1);
  T_EQ_INT(chat_ident_key("bob", 3, small, sizeof(small)), -1);
  T_EQ_STR(small, "");
}

/* CHAT_IDENT_KEY_MAX holds the key of any valid username: no letter or
 * digit has a key of more than (CHAT_IDENT_KEY_MAX - 1) / 32 bytes per
 * character of its NFKC form, and 32 of the longest make a valid name. */
static void test_key_bound(void) {
  size_t worst = 0;
  uint32_t worst_c = 0;
  for (uint32_t c = 0x80; c <= 0x10FFFF; c++) {
    uint8_t u8[4];
    char norm[64], key[CHAT_IDENT_KEY_MAX];
    size_t n = chat_utf8_encode(c, u8);
    if (n == 0 || !chat_ident_alnum(c) || chat_ident_invisible(c)) continue;
    int nl = chat_ident_nfkc((const char *)u8, n, norm, sizeof(norm));
    if (nl <= 0) continue;
    int kl = chat_ident_key(norm, (size_t)nl, key, sizeof(key));
    T_CHECK(kl >= 0);
    size_t per = (size_t)kl / chat_utf8_count(norm, (size_t)nl);
    if (per > worst) worst = per, worst_c = c;
  }
  fprintf(stderr, "  longest key per character: %zu bytes (U+%04X)\n", worst, (unsigned)worst_c);
  T_CHECK(worst * CHAT_USERNAME_MAX_CHARS < CHAT_IDENT_KEY_MAX);
  /* 32 of them: a valid name, with a key. */
  uint8_t u8[4];
  size_t n = chat_utf8_encode(worst_c, u8);
  char name[CHAT_NAME_MAX + 1], out[CHAT_NAME_MAX + 1];
  for (int i = 0; i < CHAT_USERNAME_MAX_CHARS; i++) memcpy(name + i * n, u8, n);
  name[CHAT_USERNAME_MAX_CHARS * n] = '\0';
  T_EQ_INT(chat_username_check(name, out), CHAT_USERNAME_OK);
}

static void test_classes(void) {
  static const uint32_t invisible[] = {
      0x3164, 0xFFA0, 0x115F, 0x1160,          /* Hangul fillers */
      0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF,  /* zero-width */
      0x00AD, 0x034F, 0x180E, 0xFE0F,          /* soft hyphen, CGJ, MVS, VS16 */
      0x202E, 0x2066, 0x061C,                  /* bidi controls */
      0xE0001, 0xE0041,                        /* tags */
      0x0000, 0x000A, 0x001B, 0x007F, 0x0085,  /* controls */
      0x2028, 0x2029,                          /* separators */
      0xE000, 0xF8FF, 0x10FFFD,                /* private use */
      0x0378, 0xD800, 0x110000,                /* unassigned, surrogate, too big */
  };
  static const uint32_t visible[] = {'a', 'Z', '0', '_', ' ', 0x00E9, 0x0416, 0x5F20,
                                     0x3000, 0x1F600, 0x30FC, 0xAC00};
  for (size_t i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++) {
    T_CHECK(chat_ident_invisible(invisible[i]));
    if (!chat_ident_invisible(invisible[i])) fprintf(stderr, "  U+%04X\n", (unsigned)invisible[i]);
  }
  for (size_t i = 0; i < sizeof(visible) / sizeof(visible[0]); i++)
    T_CHECK(!chat_ident_invisible(visible[i]));

  T_CHECK(chat_ident_alnum('a'));
  T_CHECK(chat_ident_alnum('Z'));
  T_CHECK(chat_ident_alnum('7'));
  T_CHECK(chat_ident_alnum(0x00E9));   /* é */
  T_CHECK(chat_ident_alnum(0x0416));   /* Ж */
  T_CHECK(chat_ident_alnum(0x5F20));   /* 张 */
  T_CHECK(chat_ident_alnum(0x0663));   /* Arabic-Indic three */
  T_CHECK(chat_ident_alnum(0x093E));   /* Devanagari vowel sign aa */
  T_CHECK(!chat_ident_alnum('_'));
  T_CHECK(!chat_ident_alnum(' '));
  T_CHECK(!chat_ident_alnum(0x3000));
  T_CHECK(!chat_ident_alnum(0x1F600));  /* 😀 */
  T_CHECK(!chat_ident_alnum(0x0301));   /* combining acute */
  T_CHECK(!chat_ident_alnum(0x110000));

  T_CHECK(chat_ident_wide(0x5F20));     /* 张 */
  T_CHECK(chat_ident_wide(0xAC00));     /* 가 */
  T_CHECK(chat_ident_wide(0x3055));     /* さ */
  T_CHECK(chat_ident_wide(0xFF42));     /* ｂ */
  T_CHECK(chat_ident_wide(0x20000));    /* CJK extension B */
  T_CHECK(!chat_ident_wide('a'));
  T_CHECK(!chat_ident_wide(0x00E9));
  T_CHECK(!chat_ident_wide(0xFF71));    /* half-width katakana */
  T_CHECK(!chat_ident_wide(0x110000));
}

/* The first key builds the spoof checker once, from any thread. */
static void *key_thread(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 200; i++)
    if (!same_key("b\xd0\xbe" "b", "BOB") || same_key("bob", "bobby")) *ok = 0;
  return NULL;
}

static void test_threads(void) {
  pthread_t th[4];
  int ok[4] = {1, 1, 1, 1};
  for (int i = 0; i < 4; i++) T_EQ_INT(pthread_create(&th[i], NULL, key_thread, &ok[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    T_CHECK(ok[i]);
  }
}

int main(void) {
  /* Runs first so the spoof checker is made by concurrent threads. */
  T_RUN(test_threads);
  T_RUN(test_nfkc);
  T_RUN(test_key);
  T_RUN(test_classes);
  T_RUN(test_key_bound);
  return T_DONE();
}
