#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "t.h"

/* Trims s and returns the rest as a NUL-terminated copy in a static buffer. */
static const char *trimmed(const char *s) {
  static char out[256];
  size_t start = 99, len = 99;
  chat_text_trim(s, strlen(s), &start, &len);
  memcpy(out, s + start, len);
  out[len] = '\0';
  return out;
}

static void test_trim(void) {
  size_t start, len;

  T_EQ_STR(trimmed(""), "");
  T_EQ_STR(trimmed("abc"), "abc");
  T_EQ_STR(trimmed("  abc  "), "abc");
  T_EQ_STR(trimmed("\t\r\n\v\f a b \n"), "a b");
  T_EQ_STR(trimmed("   "), "");
  T_EQ_STR(trimmed("\xe3\x80\x80\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x80"),
           "\xe4\xbd\xa0\xe5\xa5\xbd");  /* U+3000 你好 U+3000 */
  T_EQ_STR(trimmed("\xe3\x80\x80 \xe3\x80\x80"), "");
  T_EQ_STR(trimmed("\xc2\xa0x\xc2\x85"), "x");            /* U+00A0, U+0085 */
  T_EQ_STR(trimmed("\xe2\x80\x8a\xe2\x80\xafx\xef\xbb\xbf"), "x");
  T_EQ_STR(trimmed("\xe2\x80\xa8x\xe2\x80\xa9"), "x");    /* U+2028/9 */
  T_EQ_STR(trimmed("\xe1\x9a\x80x\xe2\x81\x9f"), "x");    /* U+1680, 205F */
  /* Not white space: ZWSP (U+200B), ideographic full stop (U+3002). */
  T_EQ_STR(trimmed("\xe2\x80\x8bx"), "\xe2\x80\x8bx");
  T_EQ_STR(trimmed("x\xe3\x80\x82"), "x\xe3\x80\x82");
  /* Inner space stays; emoji at the edge stays. */
  T_EQ_STR(trimmed(" \xf0\x9f\x98\x80 \xf0\x9f\x98\x80 "),
           "\xf0\x9f\x98\x80 \xf0\x9f\x98\x80");

  chat_text_trim("  ab ", 5, &start, &len);
  T_EQ_INT(start, 2);
  T_EQ_INT(len, 2);
  chat_text_trim("    ", 4, &start, &len);
  T_EQ_INT(len, 0);
  chat_text_trim(NULL, 0, &start, &len);
  T_EQ_INT(start, 0);
  T_EQ_INT(len, 0);
  /* Invalid UTF-8 is not white space and is kept. */
  T_EQ_STR(trimmed(" \x80 "), "\x80");
  T_EQ_STR(trimmed(" \xe3\x80"), "\xe3\x80");
}

static void test_username(void) {
  T_CHECK(chat_username_valid("alice"));
  T_CHECK(chat_username_valid("Bob_99"));
  T_CHECK(chat_username_valid("a_b-c"));
  T_CHECK(chat_username_valid("a.b"));
  T_CHECK(chat_username_valid("\xe5\xbc\xa0\xe4\xb8\x89"));  /* 张三 */
  T_CHECK(chat_username_valid("\xe6\x9d\x8e\xe5\x9b\x9b\xe4\xba\x94"));  /* 李四五 */
  T_CHECK(chat_username_valid(
      "\xe5\xb1\xb1\xe7\x94\xb0.\xe5\xa4\xaa\xe9\x83\x8e"));  /* 山田.太郎 */
  T_CHECK(chat_username_valid("\xea\xb9\x80\xec\xb2\xa0"));  /* 김철 */
  T_CHECK(chat_username_valid("\xe3\x81\x95\xe3\x81\x8f\xe3\x82\x89"));  /* さくら */
  T_CHECK(chat_username_valid("Jos\xc3\xa9"));  /* José */
  T_CHECK(chat_username_valid(
      "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"));  /* Иван */
  T_CHECK(chat_username_valid(
      "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf"));  /* محمد */
  T_CHECK(chat_username_valid(
      "\xe0\xa4\xb0\xe0\xa4\xbe\xe0\xa4\x9c"));  /* राज */
  T_CHECK(chat_username_valid("user\xd9\xa1\xd9\xa2"));  /* Arabic-Indic digits */
  T_CHECK(chat_username_valid("abc"));
  T_CHECK(chat_username_valid("a2c"));
  T_CHECK(chat_username_valid("12345678901234567890123456789012"));  /* 32 */

  T_CHECK(!chat_username_valid(""));
  T_CHECK(!chat_username_valid("ab"));
  T_CHECK(!chat_username_valid("\xe5\xbc\xa0"));  /* 张: one wide character */
  T_CHECK(!chat_username_valid("123456789012345678901234567890123"));  /* 33 */
  /* 33 Chinese characters. */
  {
    char s[33 * 3 + 1];
    for (int i = 0; i < 33; i++) memcpy(s + 3 * i, "\xe5\xbc\xa0", 3);
    s[33 * 3] = '\0';
    T_CHECK(!chat_username_valid(s));
    s[32 * 3] = '\0';
    T_CHECK(chat_username_valid(s));
  }
  T_CHECK(!chat_username_valid("a b"));
  T_CHECK(!chat_username_valid("a@b"));
  T_CHECK(!chat_username_valid("a/b"));
  T_CHECK(!chat_username_valid("a+b"));
  T_CHECK(!chat_username_valid("abc\n"));
  T_CHECK(!chat_username_valid("ab\xe3\x80\x80"));  /* U+3000 */
  T_CHECK(!chat_username_valid("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"));
  T_CHECK(!chat_username_valid("bob\xf0\x9f\x98\x80"));
  T_CHECK(!chat_username_valid("a\xe2\x80\x8d" "bc"));  /* ZWJ */
  T_CHECK(!chat_username_valid("abc\xe2\x80\xae"));  /* RTL override */
  T_CHECK(!chat_username_valid("abc\x80"));  /* invalid UTF-8 */
  T_CHECK(!chat_username_valid("ab\xc0\xae"));  /* overlong '.' */
  T_CHECK(!chat_username_valid("ab\xed\xa0\x80"));  /* surrogate */
  T_CHECK(!chat_username_valid("\xe5\xbc"));  /* truncated */
}

/* chat_username_check's result and normalised name, as "rc:name". */
static const char *checked(const char *s) {
  static char buf[CHAT_NAME_MAX + 8];
  char out[CHAT_NAME_MAX + 1];
  chat_username_rc_t rc = chat_username_check(s, out);
  snprintf(buf, sizeof(buf), "%d:%s", (int)rc, out);
  return buf;
}

static void test_username_normalised(void) {
  /* Taken names come back in NFKC, the form that is stored and shown. */
  T_EQ_STR(checked("Bob_99"), "0:Bob_99");
  T_EQ_STR(checked("\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82"), "0:bob");  /* ｂｏｂ */
  T_EQ_STR(checked("\xf0\x9d\x90\x9b\xf0\x9d\x90\xa8\xf0\x9d\x90\x9b"), "0:bob");
  T_EQ_STR(checked("\xe2\x93\x91\xe2\x93\x9e\xe2\x93\x91"), "0:bob");  /* ⓑⓞⓑ */
  T_EQ_STR(checked("\xc5\xbf" "am"), "0:sam");                            /* ſam */
  T_EQ_STR(checked("Jose\xcc\x81"), "0:Jos\xc3\xa9");                     /* composed */
  T_EQ_STR(checked("b\xd0\xbe" "b"), "0:b\xd0\xbe" "b");  /* kept; the store's key catches it */
  T_EQ_STR(checked("\xe5\xbc\xa0\xe4\xb8\x89"), "0:\xe5\xbc\xa0\xe4\xb8\x89");  /* 张三 */
  T_EQ_STR(checked("\xe5\xb1\xb1\xe7\x94\xb0.\xe5\xa4\xaa\xe9\x83\x8e"),
           "0:\xe5\xb1\xb1\xe7\x94\xb0.\xe5\xa4\xaa\xe9\x83\x8e");  /* 山田.太郎 */
  T_EQ_STR(checked("\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x99"),
           "0:\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x99");  /* 李小龙 */
  /* Length is counted after NFKC: ﷺ is one character but 18 after. */
  T_EQ_STR(checked("\xef\xb7\xba"), "1:");
  /* Full-width letters are wide, but "ｂｏ" is "bo" once normalised. */
  T_EQ_STR(checked("\xef\xbd\x82\xef\xbd\x8f"), "1:");

  /* Invisible characters, anywhere, before or after NFKC. */
  T_EQ_STR(checked("bob\xe3\x85\xa4"), "2:");          /* U+3164 */
  T_EQ_STR(checked("\xef\xbe\xa0" "bob"), "2:");        /* U+FFA0 */
  T_EQ_STR(checked("bo\xe1\x85\x9f" "b"), "2:");        /* U+115F */
  T_EQ_STR(checked("bob\xe1\x85\xa0"), "2:");          /* U+1160 */
  T_EQ_STR(checked("\xe3\x85\xa4\xe3\x85\xa4\xe3\x85\xa4"), "2:");  /* only fillers */
  T_EQ_STR(checked("b\xe2\x80\x8b" "ob"), "2:");        /* ZWSP */
  T_EQ_STR(checked("bo\xc2\xad" "b"), "2:");             /* soft hyphen */
  T_EQ_STR(checked("bob\xef\xb8\x8f"), "2:");          /* VS16 */
  T_EQ_STR(checked("\xe2\x80\xae" "bob"), "2:");        /* RTL override */
  T_EQ_STR(checked("bob\x7f"), "2:");
  T_EQ_STR(checked("bob\xee\x80\x80"), "2:");          /* private use */
  /* Everything else refused is "bad". */
  T_EQ_STR(checked("a b"), "1:");
  T_EQ_STR(checked("bob\xff"), "1:");
  T_EQ_STR(checked(""), "1:");
  {
    char longname[CHAT_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    T_EQ_STR(checked(longname), "1:");
  }
  T_CHECK(strstr(chat_username_message(CHAT_USERNAME_INVISIBLE), "invisible") != NULL);
  T_CHECK(strstr(chat_username_message(CHAT_USERNAME_BAD), "3-32") != NULL);
}

static void test_email(void) {
  T_CHECK(chat_email_valid("a@example.org"));
  T_CHECK(chat_email_valid("first.last+tag@sub.example.co.uk"));
  T_CHECK(chat_email_valid("\xe5\xbc\xa0\xe4\xb8\x89@\xe4\xbe\x8b\xe5\xad\x90.\xe4\xb8\xad\xe5\x9b\xbd"));
  T_CHECK(chat_email_valid("x@b.c"));

  T_CHECK(!chat_email_valid(""));
  T_CHECK(!chat_email_valid("alice"));
  T_CHECK(!chat_email_valid("@example.org"));
  T_CHECK(!chat_email_valid("a@"));
  T_CHECK(!chat_email_valid("a@localhost"));
  T_CHECK(!chat_email_valid("a@.org"));
  T_CHECK(!chat_email_valid("a@example."));
  T_CHECK(!chat_email_valid("a@b@example.org"));
  T_CHECK(!chat_email_valid("a b@example.org"));
  T_CHECK(!chat_email_valid("a@example.org "));
  T_CHECK(!chat_email_valid("a\t@example.org"));
  T_CHECK(!chat_email_valid("a\x7f@example.org"));
  T_CHECK(!chat_email_valid("a\xc2\x85@example.org"));  /* U+0085 */
  T_CHECK(!chat_email_valid("a\xe3\x80\x80@example.org"));  /* U+3000 */
  T_CHECK(!chat_email_valid("a\xff@example.org"));

  /* 254 bytes is the limit. */
  {
    char s[300];
    memset(s, 'a', sizeof(s));
    memcpy(s + 254 - 12, "@example.org", 12);
    s[254] = '\0';
    T_CHECK(chat_email_valid(s));
    memset(s, 'a', sizeof(s));
    memcpy(s + 255 - 12, "@example.org", 12);
    s[255] = '\0';
    T_CHECK(!chat_email_valid(s));
  }
}

static void test_room_name(void) {
  T_CHECK(chat_room_name_valid("lobby"));
  T_CHECK(chat_room_name_valid("x"));
  T_CHECK(chat_room_name_valid("\xe5\xa4\xa7\xe5\x8e\x85"));  /* 大厅 */
  T_CHECK(chat_room_name_valid("Rust & C, daily"));
  T_CHECK(chat_room_name_valid("\xf0\x9f\x8e\x89 party"));
  T_CHECK(chat_room_name_valid("a \xe3\x80\x80 b"));  /* inner spaces */

  T_CHECK(!chat_room_name_valid(""));
  T_CHECK(!chat_room_name_valid(" lobby"));
  T_CHECK(!chat_room_name_valid("lobby "));
  T_CHECK(!chat_room_name_valid(" "));
  T_CHECK(!chat_room_name_valid("\xe3\x80\x80lobby"));
  T_CHECK(!chat_room_name_valid("lobby\xc2\xa0"));
  T_CHECK(!chat_room_name_valid("lob\nby"));
  T_CHECK(!chat_room_name_valid("lob\x1b" "by"));
  T_CHECK(!chat_room_name_valid("lob\x7f" "by"));
  T_CHECK(!chat_room_name_valid("lob\xc2\x9b" "by"));  /* C1 CSI */
  T_CHECK(!chat_room_name_valid("lob\xff" "by"));
  {
    char s[65 * 3 + 1];
    for (int i = 0; i < 65; i++) memcpy(s + 3 * i, "\xe5\xa4\xa7", 3);
    s[65 * 3] = '\0';
    T_CHECK(!chat_room_name_valid(s));
    s[64 * 3] = '\0';
    T_CHECK(chat_room_name_valid(s));
  }
}

/* Username checks from several threads at once (ICU's shared objects are
 * made by the first). */
static void *username_thread(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 1000; i++) {
    if (!chat_username_valid("\xe5\xbc\xa0\xe4\xb8\x89") ||
        chat_username_valid("a b"))
      *ok = 0;
  }
  return NULL;
}

static void test_threads(void) {
  pthread_t th[4];
  int ok[4] = {1, 1, 1, 1};
  for (int i = 0; i < 4; i++)
    T_EQ_INT(pthread_create(&th[i], NULL, username_thread, &ok[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    T_CHECK(ok[i]);
  }
}

static void test_one_line(void) {
  char *t = chat_text_one_line("a\r\n\tb\xE2\x80\xA8" "c", 64);  /* a run of controls, U+2028 */
  T_EQ_STR(t, "a b c");
  free(t);
  t = chat_text_one_line("\xE2\x80\xAE张三\xE2\x81\xA6上海", 64);  /* bidi controls dropped */
  T_EQ_STR(t, "张三上海");
  free(t);
  t = chat_text_one_line("我家在上海东边", 4);  /* cut by characters, not bytes */
  T_EQ_STR(t, "我家在上\xE2\x80\xA6");
  free(t);
  t = chat_text_one_line("abcd", 4);
  T_EQ_STR(t, "abcd");
  free(t);
  t = chat_text_one_line("", 4);
  T_EQ_STR(t, "");
  free(t);
}

static void test_has_control(void) {
  T_EQ_INT(chat_text_has_control("张三 ok"), 0);
  T_EQ_INT(chat_text_has_control(""), 0);
  T_EQ_INT(chat_text_has_control("a\tb"), 1);
  T_EQ_INT(chat_text_has_control("a\x7f"), 1);
  T_EQ_INT(chat_text_has_control("a\xC2\x85"), 1);  /* U+0085, a C1 control */
  T_EQ_INT(chat_text_has_control("a\xC3"), 1);       /* not UTF-8 */
}

int main(void) {
  /* Runs first so ICU's objects are made by concurrent threads. */
  T_RUN(test_threads);
  T_RUN(test_trim);
  T_RUN(test_username);
  T_RUN(test_username_normalised);
  T_RUN(test_email);
  T_RUN(test_room_name);
  T_RUN(test_one_line);
  T_RUN(test_has_control);
  return T_DONE();
}
