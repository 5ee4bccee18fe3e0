#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/imap.h"
#include "core/sb.h"
#include "t.h"

/* ---- imap ------------------------------------------------------------- */

/* Distinct non-NULL values to store: the address of vals[i]. */
static char vals[4096];

static void *val_of(int64_t key) {
  uint64_t k = (uint64_t)key;
  return &vals[(k ^ (k >> 17)) % sizeof(vals)];
}

/* A deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rng_state;

static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Counts the keys found by iterating over the slots. */
static size_t count_slots(const chat_imap_t *m) {
  size_t n = 0;
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key) n++;
  return n;
}

static void test_imap_empty(void) {
  chat_imap_t m;
  chat_imap_init(&m);
  T_EQ_INT(m.len, 0);
  T_EQ_INT(m.cap, 0);
  T_CHECK(chat_imap_get(&m, 1) == NULL);
  T_CHECK(chat_imap_get(&m, -1) == NULL);
  T_CHECK(chat_imap_del(&m, 1) == NULL);
  T_EQ_INT(m.len, 0);
  chat_imap_free(&m);
  T_CHECK(m.slots == NULL);
  T_EQ_INT(m.len, 0);
  /* Freeing twice (or an initialised map) is harmless. */
  chat_imap_free(&m);
}

static void test_imap_basic(void) {
  chat_imap_t m;
  int a, b, c;
  chat_imap_init(&m);

  T_CHECK(chat_imap_put(&m, 42, &a) == NULL);
  T_EQ_INT(m.len, 1);
  T_CHECK(chat_imap_get(&m, 42) == &a);
  T_CHECK(chat_imap_get(&m, 43) == NULL);
  T_CHECK(chat_imap_get(&m, -42) == NULL);

  /* Overwrite: the old value comes back, the count does not change. */
  T_CHECK(chat_imap_put(&m, 42, &b) == &a);
  T_EQ_INT(m.len, 1);
  T_CHECK(chat_imap_get(&m, 42) == &b);

  T_CHECK(chat_imap_put(&m, 7, &c) == NULL);
  T_EQ_INT(m.len, 2);
  T_CHECK(chat_imap_del(&m, 42) == &b);
  T_EQ_INT(m.len, 1);
  T_CHECK(chat_imap_get(&m, 42) == NULL);
  T_CHECK(chat_imap_del(&m, 42) == NULL);  /* already gone */
  T_EQ_INT(m.len, 1);
  T_CHECK(chat_imap_get(&m, 7) == &c);

  /* Put back after delete. */
  T_CHECK(chat_imap_put(&m, 42, &a) == NULL);
  T_CHECK(chat_imap_get(&m, 42) == &a);
  T_EQ_INT(m.len, 2);
  T_EQ_INT(count_slots(&m), 2);
  chat_imap_free(&m);
}

static void test_imap_negative_keys(void) {
  chat_imap_t m;
  chat_imap_init(&m);
  static const int64_t keys[] = {-1, 1, -2, 2, INT64_MIN, INT64_MAX,
                                 INT64_MIN + 1, -1000000007LL,
                                 -((int64_t)1 << 40), (int64_t)1 << 40};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(keys); i++)
    T_CHECK(chat_imap_put(&m, keys[i], val_of(keys[i])) == NULL);
  T_EQ_INT(m.len, CHAT_ARRAY_SIZE(keys));
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(keys); i++)
    T_CHECK(chat_imap_get(&m, keys[i]) == val_of(keys[i]));
  /* -k and k are different keys. */
  T_CHECK(chat_imap_del(&m, -1) == val_of(-1));
  T_CHECK(chat_imap_get(&m, 1) == val_of(1));
  T_CHECK(chat_imap_get(&m, -1) == NULL);
  T_CHECK(chat_imap_del(&m, INT64_MIN) == val_of(INT64_MIN));
  T_CHECK(chat_imap_get(&m, INT64_MIN) == NULL);
  T_CHECK(chat_imap_get(&m, INT64_MIN + 1) == val_of(INT64_MIN + 1));
  T_CHECK(chat_imap_get(&m, INT64_MAX) == val_of(INT64_MAX));
  T_EQ_INT(m.len, CHAT_ARRAY_SIZE(keys) - 2);
  chat_imap_free(&m);
}

/* Growth through many resizes, then deleting every other key. */
static void test_imap_growth(void) {
  enum { N = 10000 };
  chat_imap_t m;
  chat_imap_init(&m);
  int resizes = 0, missing = 0;
  size_t last_cap = 0;
  for (int64_t i = 1; i <= N; i++) {
    /* Keys spread out and of both signs. */
    int64_t key = (i % 2 ? i : -i) * 1000003;
    T_CHECK(chat_imap_put(&m, key, val_of(key)) == NULL);
    if (m.cap != last_cap) {
      resizes++;
      last_cap = m.cap;
      /* Everything put so far survived the rehash. */
      for (int64_t j = 1; j <= i; j++) {
        int64_t k = (j % 2 ? j : -j) * 1000003;
        if (chat_imap_get(&m, k) != val_of(k)) missing++;
      }
    }
  }
  T_EQ_INT(missing, 0);
  T_EQ_INT(m.len, N);
  T_CHECK(resizes >= 10);
  T_CHECK((m.cap & (m.cap - 1)) == 0);   /* a power of two */
  T_CHECK(m.len * 4 <= m.cap * 3);       /* load stays at most 3/4 */
  T_EQ_INT(count_slots(&m), N);
  for (int64_t i = 1; i <= N; i++) {
    int64_t key = (i % 2 ? i : -i) * 1000003;
    if (chat_imap_get(&m, key) != val_of(key)) missing++;
  }
  T_EQ_INT(missing, 0);

  /* Delete every other key; the rest stay findable. */
  int wrong = 0;
  for (int64_t i = 1; i <= N; i += 2) {
    int64_t key = i * 1000003;
    if (chat_imap_del(&m, key) != val_of(key)) wrong++;
  }
  T_EQ_INT(wrong, 0);
  T_EQ_INT(m.len, N / 2);
  T_EQ_INT(count_slots(&m), N / 2);
  for (int64_t i = 1; i <= N; i++) {
    int64_t key = (i % 2 ? i : -i) * 1000003;
    void *want = i % 2 ? NULL : val_of(key);
    if (chat_imap_get(&m, key) != want) wrong++;
  }
  T_EQ_INT(wrong, 0);

  /* Consecutive keys too (a hash that keeps order would cluster them). */
  chat_imap_free(&m);
  for (int64_t i = 1; i <= N; i++) chat_imap_put(&m, i, val_of(i));
  for (int64_t i = 2; i <= N; i += 2) chat_imap_del(&m, i);
  for (int64_t i = 1; i <= N; i++)
    if (chat_imap_get(&m, i) != (i % 2 ? val_of(i) : NULL)) wrong++;
  T_EQ_INT(wrong, 0);
  T_EQ_INT(m.len, N / 2);
  chat_imap_free(&m);
}

/* Random puts and deletes checked against a plain array: the result of
 * every step, and every key's value each check_every steps.  Keys come from
 * [-range, range] without 0. */
static void imap_random_run(int range, int steps, int check_every,
                            uint64_t seed) {
  chat_imap_t m;
  chat_imap_init(&m);
  size_t n = (size_t)(2 * range + 1);
  void **ref = chat_xcalloc(n, sizeof(*ref));  /* ref[key + range] */
  size_t ref_len = 0;
  int wrong = 0;
  rng_state = seed;
  for (int step = 0; step < steps && wrong == 0; step++) {
    int64_t key = (int64_t)(rng() % n) - range;
    if (key == 0) continue;
    void **slot = &ref[key + range];
    /* Deletes a little less often than puts, so the map swings through
     * sizes. */
    if (rng() % 5 < 3) {
      void *v = &vals[rng() % sizeof(vals)];
      void *old = chat_imap_put(&m, key, v);
      if (old != *slot) wrong++;
      if (*slot == NULL) ref_len++;
      *slot = v;
    } else {
      void *old = chat_imap_del(&m, key);
      if (old != *slot) wrong++;
      if (*slot != NULL) ref_len--;
      *slot = NULL;
    }
    if (m.len != ref_len) wrong++;
    if (chat_imap_get(&m, key) != *slot) wrong++;
    if (step % check_every == 0)
      for (int64_t k = -range; k <= range; k++)
        if (k != 0 && chat_imap_get(&m, k) != ref[k + range]) wrong++;
    if (wrong) fprintf(stderr, "imap random (range %d): step %d key %lld\n",
                       range, step, (long long)key);
  }
  T_EQ_INT(wrong, 0);
  T_EQ_INT(count_slots(&m), ref_len);

  /* Empty it completely in random order. */
  for (int64_t k = -range; k <= range; k++) {
    int64_t key = (int64_t)((uint64_t)(k + range) * 7919 % n) - range;
    if (key == 0) continue;
    if (chat_imap_del(&m, key) != ref[key + range]) wrong++;
    ref[key + range] = NULL;
  }
  T_EQ_INT(wrong, 0);
  T_EQ_INT(m.len, 0);
  T_EQ_INT(count_slots(&m), 0);
  free(ref);
  chat_imap_free(&m);
}

static void test_imap_random(void) {
  imap_random_run(6, 20000, 1, 0x9e3779b97f4a7c15ULL);  /* tiny tables */
  imap_random_run(40, 20000, 1, 0x0123456789abcdefULL);
  imap_random_run(1500, 40000, 25, 0xdeadbeefcafef00dULL);  /* resizes */
}

/* ---- sb --------------------------------------------------------------- */

static void test_sb_basics(void) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  T_EQ_INT(sb.len, 0);
  T_EQ_STR(sb.buf, "");
  chat_sb_puts(&sb, "a=");
  chat_sb_int(&sb, 0);
  chat_sb_puts(&sb, ",");
  chat_sb_int(&sb, -17);
  chat_sb_puts(&sb, ",");
  chat_sb_int(&sb, INT64_MIN);
  chat_sb_puts(&sb, ",");
  chat_sb_int(&sb, INT64_MAX);
  chat_sb_append(&sb, "xyz", 1);
  T_EQ_STR(sb.buf, "a=0,-17,-9223372036854775808,9223372036854775807x");
  T_EQ_INT(sb.len, strlen(sb.buf));

  /* Growing well past the first allocation. */
  size_t before = sb.len;
  for (int i = 0; i < 5000; i++) chat_sb_puts(&sb, "0123456789");
  T_EQ_INT(sb.len, before + 50000);
  T_CHECK(memcmp(sb.buf, "a=0,-17,", 8) == 0);
  T_EQ_INT(strlen(sb.buf), sb.len);
  T_CHECK(sb.cap > sb.len);
  chat_sb_free(&sb);
  T_CHECK(sb.buf == NULL);
}

/* chat_sb_json_str(s) as a new string. */
static char *json_of(const char *s, size_t len) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_json_str(&sb, s, len);
  T_EQ_INT(strlen(sb.buf), sb.len);
  return sb.buf;  /* taken from the builder */
}

/* 1 if json parses with cJSON into a string equal to s[0..len). */
static int parses_back(const char *json, const char *s, size_t len) {
  cJSON *v = cJSON_Parse(json);
  int ok = v != NULL && cJSON_IsString(v) && v->valuestring != NULL &&
           strlen(v->valuestring) == len && memcmp(v->valuestring, s, len) == 0;
  cJSON_Delete(v);
  return ok;
}

static void check_json_str(const char *in, const char *want) {
  char *out = json_of(in, strlen(in));
  T_EQ_STR(out, want);
  T_CHECK(parses_back(out, in, strlen(in)));
  free(out);
}

static void test_sb_json_escapes(void) {
  check_json_str("", "\"\"");
  check_json_str("plain text", "\"plain text\"");
  check_json_str("say \"hi\"", "\"say \\\"hi\\\"\"");
  check_json_str("a\\b", "\"a\\\\b\"");
  check_json_str("\\", "\"\\\\\"");
  check_json_str("\"", "\"\\\"\"");
  check_json_str("line1\nline2", "\"line1\\nline2\"");
  check_json_str("col1\tcol2", "\"col1\\tcol2\"");
  check_json_str("\r\n", "\"\\r\\n\"");
  check_json_str("\x01", "\"\\u0001\"");
  check_json_str("a\x1f" "b", "\"a\\u001fb\"");
  check_json_str("\x1b[31m", "\"\\u001b[31m\"");
  check_json_str("/ is fine", "\"/ is fine\"");
  check_json_str("\x7f", "\"\x7f\"");  /* DEL needs no escape */
  /* UTF-8 passes through untouched. */
  check_json_str("\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",
                 "\"\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\"");
  check_json_str("\xe8\x81\x8a\xe5\xa4\xa9\xe5\xae\xa4 \"\xe6\xb5\x8b\xe8\xaf\x95\"\n",
                 "\"\xe8\x81\x8a\xe5\xa4\xa9\xe5\xae\xa4 \\\"\xe6\xb5\x8b\xe8\xaf\x95\\\"\\n\"");
  check_json_str("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");  /* 4-byte */

  /* A NUL inside the input is escaped, not a terminator. */
  char *out = json_of("a\0b", 3);
  T_EQ_STR(out, "\"a\\u0000b\"");
  free(out);

  /* Only the given length is read. */
  out = json_of("abc\"def", 3);
  T_EQ_STR(out, "\"abc\"");
  free(out);
}

/* Every control character: a short escape or \u00XX, and back. */
static void test_sb_json_controls(void) {
  int bad = 0;
  for (int c = 1; c < 0x20; c++) {
    char in[4] = {'x', (char)c, 'y', 0};
    char *out = json_of(in, 3);
    const char *e = out + 2;  /* after "\"x" */
    int ok = out[0] == '"' && out[1] == 'x' && e[0] == '\\';
    const char *after;
    switch (c) {
      case '\b': ok = ok && e[1] == 'b'; after = e + 2; break;
      case '\f': ok = ok && e[1] == 'f'; after = e + 2; break;
      case '\n': ok = ok && e[1] == 'n'; after = e + 2; break;
      case '\r': ok = ok && e[1] == 'r'; after = e + 2; break;
      case '\t': ok = ok && e[1] == 't'; after = e + 2; break;
      default: {
        char want[8];
        snprintf(want, sizeof(want), "\\u%04x", c);
        char want_up[8];
        snprintf(want_up, sizeof(want_up), "\\u%04X", c);
        ok = ok && (memcmp(e, want, 6) == 0 || memcmp(e, want_up, 6) == 0);
        after = e + 6;
      }
    }
    ok = ok && strcmp(after, "y\"") == 0 && parses_back(out, in, 3);
    /* No raw control byte is left in the output. */
    for (const char *p = out; *p; p++)
      if ((unsigned char)*p < 0x20) ok = 0;
    if (!ok) {
      fprintf(stderr, "control 0x%02x -> %s\n", c, out);
      bad++;
    }
    free(out);
  }
  T_EQ_INT(bad, 0);
}

/* A long mixed string, appended after other text, round-trips. */
static void test_sb_json_long(void) {
  static const char *const pieces[] = {
      "abc", "\"", "\\", "\n", "\t", "\x01", "\xe4\xb8\xad\xe6\x96\x87",
      " ", "\x1f", "{}[],:", "\xf0\x9f\x8e\x89",
  };
  chat_sb_t in;
  chat_sb_init(&in);
  rng_state = 42;
  for (int i = 0; i < 5000; i++)
    chat_sb_puts(&in, pieces[rng() % CHAT_ARRAY_SIZE(pieces)]);

  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"text\":");
  chat_sb_json_str(&sb, in.buf, in.len);
  chat_sb_puts(&sb, ",\"n\":");
  chat_sb_int(&sb, 5);
  chat_sb_puts(&sb, "}");
  T_EQ_INT(strlen(sb.buf), sb.len);

  cJSON *root = cJSON_Parse(sb.buf);
  T_CHECK(root != NULL);
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
  T_CHECK(cJSON_IsString(text));
  T_CHECK(cJSON_IsNumber(n) && n->valueint == 5);
  if (cJSON_IsString(text)) {
    T_EQ_INT(strlen(text->valuestring), in.len);
    T_CHECK(strcmp(text->valuestring, in.buf) == 0);
  }
  cJSON_Delete(root);
  chat_sb_free(&sb);
  chat_sb_free(&in);
}

int main(void) {
  T_RUN(test_imap_empty);
  T_RUN(test_imap_basic);
  T_RUN(test_imap_negative_keys);
  T_RUN(test_imap_growth);
  T_RUN(test_imap_random);
  T_RUN(test_sb_basics);
  T_RUN(test_sb_json_escapes);
  T_RUN(test_sb_json_controls);
  T_RUN(test_sb_json_long);
  return T_DONE();
}
