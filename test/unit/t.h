/* A minimal unit-test harness: each test file defines test functions and a
 * main() that runs them with T_RUN.  A failed check prints where and why and
 * marks the test failed; main returns non-zero if any check failed. */
#ifndef CHAT_TEST_T_H
#define CHAT_TEST_T_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int t_failures;
static int t_checks;

#define T_CHECK(cond)                                                   \
  do {                                                                  \
    t_checks++;                                                         \
    if (!(cond)) {                                                      \
      t_failures++;                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                   \
    }                                                                   \
  } while (0)

#define T_EQ_INT(a, b)                                                  \
  do {                                                                  \
    long long t_a_ = (long long)(a), t_b_ = (long long)(b);             \
    t_checks++;                                                         \
    if (t_a_ != t_b_) {                                                 \
      t_failures++;                                                     \
      fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",       \
              __FILE__, __LINE__, #a, t_a_, #b, t_b_);                  \
    }                                                                   \
  } while (0)

#define T_EQ_STR(a, b)                                                  \
  do {                                                                  \
    const char *t_a_ = (a), *t_b_ = (b);                                \
    t_checks++;                                                         \
    if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) {      \
      t_failures++;                                                     \
      fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",         \
              __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)",           \
              t_b_ ? t_b_ : "(null)");                                  \
    }                                                                   \
  } while (0)

#define T_RUN(fn)                                        \
  do {                                                   \
    int t_before_ = t_failures;                          \
    fn();                                                \
    fprintf(stderr, "%s %s\n",                           \
            t_failures == t_before_ ? "ok  " : "FAIL", #fn); \
  } while (0)

#define T_DONE()                                                     \
  (fprintf(stderr, "%d checks, %d failed\n", t_checks, t_failures), \
   t_failures ? 1 : 0)

#endif
