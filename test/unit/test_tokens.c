/* Unit tests of the search tokens (src/store/tokens.h). */
#include <stdlib.h>
#include <string.h>

#include "store/tokens.h"
#include "t.h"

/* The tokens as one string "tok|tok|...", for comparisons. */
static const char *joined(const chat_token_t *t, size_t n) {
  static char buf[4096];
  size_t i, o = 0;

  buf[0] = '\0';
  for (i = 0; i < n && o + CHAT_SEARCH_TOKEN_BYTES + 2 < sizeof(buf); i++) {
    if (i > 0) buf[o++] = '|';
    memcpy(buf + o, t[i].b, t[i].len);
    o += t[i].len;
  }
  buf[o] = '\0';
  return buf;
}

static const char *text_tokens(const char *s) {
  chat_token_t t[64];
  size_t n = chat_tokens_text(s, strlen(s), t, 64);
  return joined(t, n);
}

static const char *query_tokens(const char *s, size_t max) {
  chat_token_t t[16];
  size_t n = chat_tokens_query(s, strlen(s), t, max);
  T_CHECK(n <= max);
  return joined(t, n);
}

static void test_text(void) {
  /* Each position: its unigram, then the bigram starting there. */
  T_EQ_STR(text_tokens("上海东"), "上|上海|海|海东|东");
  T_EQ_STR(text_tokens("我家在上海东边"),
           "我|我家|家|家在|在|在上|上|上海|海|海东|东|东边|边");
  /* ASCII folded; nothing else. */
  T_EQ_STR(text_tokens("HeLLo"), "h|he|e|el|l|ll|lo|o");
  T_EQ_STR(text_tokens("ÄΩ"), "Ä|ÄΩ|Ω");
  /* No token with white space (ASCII, U+3000, NBSP); repeats once. */
  T_EQ_STR(text_tokens("a b"), "a|b");
  T_EQ_STR(text_tokens(" ab  ab\t"), "a|ab|b");
  T_EQ_STR(text_tokens("你\xe3\x80\x80好"), "你|好");
  T_EQ_STR(text_tokens("x\xc2\xa0y"), "x|y");
  T_EQ_STR(text_tokens("哈哈哈"), "哈|哈哈");
  /* Four-byte code points: a bigram of two is 8 bytes. */
  T_EQ_STR(text_tokens("😀👍"), "😀|😀👍|👍");
  {
    chat_token_t t[4];
    T_EQ_INT(chat_tokens_text("😀👍", strlen("😀👍"), t, 4), 3);
    T_EQ_INT(t[1].len, 8);
  }
  /* Kana. */
  T_EQ_STR(text_tokens("てんき"), "て|てん|ん|んき|き");
  /* Empty and blank texts have none. */
  T_EQ_STR(text_tokens(""), "");
  T_EQ_STR(text_tokens(" \n "), "");
  /* Bytes that are not UTF-8 count as U+FFFD, one per byte. */
  T_EQ_STR(text_tokens("a\xff"), "a|a\xef\xbf\xbd|\xef\xbf\xbd");
  T_EQ_STR(text_tokens("\xe4\xb8"), "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
  T_EQ_STR(text_tokens("\xc0\x80"), "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
  T_EQ_STR(text_tokens("\xed\xa0\x80"), /* a surrogate */
           "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_cap(void) {
  /* 1500 distinct CJK characters: 1500 unigrams and 1499 bigrams, capped
   * at CHAT_TOKENS_MAX in text order. */
  enum { N = 1500 };
  char *s = malloc(3 * N + 1);
  chat_token_t *t = malloc(CHAT_TOKENS_MAX * sizeof(*t));
  size_t n, i;

  T_CHECK(s != NULL && t != NULL);
  if (s == NULL || t == NULL) {
    free(s);
    free(t);
    return;
  }
  for (i = 0; i < N; i++) {
    unsigned c = 0x4E00 + (unsigned)i;
    s[3 * i] = (char)(0xE0 | (c >> 12));
    s[3 * i + 1] = (char)(0x80 | ((c >> 6) & 0x3F));
    s[3 * i + 2] = (char)(0x80 | (c & 0x3F));
  }
  s[3 * N] = '\0';
  n = chat_tokens_text(s, 3 * N, t, CHAT_TOKENS_MAX);
  T_EQ_INT(n, CHAT_TOKENS_MAX);
  T_EQ_INT(t[0].len, 3);
  T_CHECK(memcmp(t[0].b, s, 3) == 0);
  T_EQ_INT(t[1].len, 6);
  T_CHECK(memcmp(t[1].b, s, 6) == 0);
  /* The last: the bigram of characters 999 and 1000. */
  T_EQ_INT(t[CHAT_TOKENS_MAX - 1].len, 6);
  T_CHECK(memcmp(t[CHAT_TOKENS_MAX - 1].b, s + 3 * 999, 6) == 0);
  /* A smaller max. */
  T_EQ_INT(chat_tokens_text(s, 3 * N, t, 5), 5);
  T_EQ_INT(chat_tokens_text(s, 3 * N, t, 0), 0);
  free(s);
  free(t);
}

static void test_query(void) {
  /* Bigrams; a single character is its unigram. */
  T_EQ_STR(query_tokens("上海", 6), "上海");
  T_EQ_STR(query_tokens("上", 6), "上");
  T_EQ_STR(query_tokens("上海东", 6), "上海|海东");
  T_EQ_STR(query_tokens("HELLO", 6), "he|el|ll|lo");
  T_EQ_STR(query_tokens("哈哈哈", 6), "哈哈");
  /* White space: bigrams within words, unigrams of lone characters. */
  T_EQ_STR(query_tokens("say hi", 6), "sa|ay|hi");
  T_EQ_STR(query_tokens("a b", 6), "a|b");
  T_EQ_STR(query_tokens("你 bei", 6), "be|ei|你");
  T_EQ_STR(query_tokens("   ", 6), "");
  T_EQ_STR(query_tokens("", 6), "");
  /* More than max: spread from the first to the last. */
  T_EQ_STR(query_tokens("abcdefghij", 6), "ab|cd|de|fg|gh|ij");
  T_EQ_STR(query_tokens("abcdefghij", 3), "ab|ef|ij");
  T_EQ_STR(query_tokens("abcdefghij", 1), "ab");
  T_EQ_STR(query_tokens("abcdefg", 6), "ab|bc|cd|de|ef|fg");
}

static void test_match(void) {
  const char *t = "Say Hello 我家在上海东边";

  T_CHECK(chat_tokens_match(t, strlen(t), "hello", 5));
  T_CHECK(chat_tokens_match(t, strlen(t), "SAY HELLO", 9));
  T_CHECK(chat_tokens_match(t, strlen(t), "上海", strlen("上海")));
  T_CHECK(chat_tokens_match(t, strlen(t), "o 我", strlen("o 我")));
  T_CHECK(chat_tokens_match(t, strlen(t), "边", strlen("边")));
  T_CHECK(!chat_tokens_match(t, strlen(t), "上海西", strlen("上海西")));
  T_CHECK(!chat_tokens_match(t, strlen(t), "hello  ", 7));
  T_CHECK(chat_tokens_match(t, strlen(t), "", 0));
  T_CHECK(!chat_tokens_match("ab", 2, "abc", 3));
  T_CHECK(chat_tokens_match("abc", 3, "abc", 3));
  /* Only ASCII folds. */
  T_CHECK(!chat_tokens_match("Ä", strlen("Ä"), "ä", strlen("ä")));
  /* Byte-wise: a bounded length, not NUL-terminated. */
  T_CHECK(!chat_tokens_match("abcdef", 3, "de", 2));
}

int main(void) {
  T_RUN(test_text);
  T_RUN(test_cap);
  T_RUN(test_query);
  T_RUN(test_match);
  return T_DONE();
}
