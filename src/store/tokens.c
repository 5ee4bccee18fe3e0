/* Search tokens (see tokens.h). */
#include "tokens.h"

#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/utf8.h"

/* The code point at s[*i] (i < len), advancing *i; bytes that are not a
 * valid character are U+FFFD and consume one byte. */
static uint32_t next_cp(const uint8_t *s, size_t len, size_t *i) {
  uint32_t c;
  *i += chat_utf8_next(s + *i, len - *i, &c);
  return c;
}

static uint32_t fold(uint32_t c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The white space of chat_text_trim (core/text.h). */
static int is_space(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 ||
         c == 0xFEFF;
}

/* Appends the UTF-8 of c (a valid code point) to t. */
static void put_cp(chat_token_t *t, uint32_t c) {
  t->len += (uint8_t)chat_utf8_encode(c, t->b + t->len);
}

static chat_token_t make_token(uint32_t a, uint32_t b, int bigram) {
  chat_token_t t;

  memset(&t, 0, sizeof(t));
  put_cp(&t, a);
  if (bigram) put_cp(&t, b);
  return t;
}

/* --- a set of tokens: open addressing over indexes into the output ------- */

typedef struct {
  uint32_t *slot; /* index + 1 into toks; 0: empty */
  size_t mask;
  chat_token_t *toks;
  size_t n, max;
} tokset_t;

static uint32_t tok_hash(const chat_token_t *t) {
  uint32_t h = 2166136261u;
  int i;

  for (i = 0; i < t->len; i++) h = (h ^ t->b[i]) * 16777619u;
  return h;
}

static void set_init(tokset_t *s, chat_token_t *out, size_t max) {
  size_t cap = 16;

  while (cap < 2 * max) cap *= 2;
  s->slot = chat_xcalloc(cap, sizeof(*s->slot));
  s->mask = cap - 1;
  s->toks = out;
  s->n = 0;
  s->max = max;
}

/* Adds t unless present.  Returns 0, or -1 once the set holds max. */
static int set_add(tokset_t *s, const chat_token_t *t) {
  size_t i = tok_hash(t) & s->mask;

  while (s->slot[i] != 0) {
    const chat_token_t *o = &s->toks[s->slot[i] - 1];
    if (o->len == t->len && memcmp(o->b, t->b, t->len) == 0) return 0;
    i = (i + 1) & s->mask;
  }
  if (s->n == s->max) return -1;
  s->toks[s->n] = *t;
  s->slot[i] = (uint32_t)++s->n;
  return 0;
}

/* --- public --------------------------------------------------------------- */

size_t chat_tokens_text(const char *text, size_t len, chat_token_t *out,
                        size_t max) {
  const uint8_t *s = (const uint8_t *)text;
  size_t i = 0;
  uint32_t c, next;
  chat_token_t t;
  tokset_t set;
  int have_next;

  if (max == 0 || len == 0) return 0;
  set_init(&set, out, max);
  if (i < len) {
    c = fold(next_cp(s, len, &i));
    for (;;) {
      have_next = i < len;
      next = have_next ? fold(next_cp(s, len, &i)) : 0;
      if (!is_space(c)) {
        t = make_token(c, 0, 0);
        if (set_add(&set, &t)) break;
        if (have_next && !is_space(next)) {
          t = make_token(c, next, 1);
          if (set_add(&set, &t)) break;
        }
      }
      if (!have_next) break;
      c = next;
    }
  }
  free(set.slot);
  return set.n;
}

size_t chat_tokens_query(const char *q, size_t len, chat_token_t *out,
                         size_t max) {
  const uint8_t *s = (const uint8_t *)q;
  uint32_t *cp;
  uint8_t *covered;
  chat_token_t *all, t;
  tokset_t set;
  size_t ncp = 0, i = 0, k, n;

  if (max == 0 || len == 0) return 0;
  /* At most one code point per byte. */
  cp = chat_xmalloc(len * sizeof(*cp));
  covered = chat_xcalloc(len, 1);
  while (i < len) cp[ncp++] = fold(next_cp(s, len, &i));

  /* Every distinct token first (at most one bigram and one unigram per
   * code point), then the spread choice. */
  all = chat_xmalloc(2 * ncp * sizeof(*all));
  set_init(&set, all, 2 * ncp);
  for (k = 0; k + 1 < ncp; k++) {
    if (is_space(cp[k]) || is_space(cp[k + 1])) continue;
    t = make_token(cp[k], cp[k + 1], 1);
    set_add(&set, &t);
    covered[k] = covered[k + 1] = 1;
  }
  for (k = 0; k < ncp; k++) {
    if (covered[k] || is_space(cp[k])) continue;
    t = make_token(cp[k], 0, 0);
    set_add(&set, &t);
  }
  n = set.n;
  if (n <= max) {
    memcpy(out, all, n * sizeof(*out));
  } else if (max == 1) {
    out[0] = all[0];
    n = 1;
  } else {
    /* Indexes round(j * (n - 1) / (max - 1)): the first, the last and
     * evenly between; distinct because n > max. */
    for (k = 0; k < max; k++)
      out[k] = all[(k * (n - 1) + (max - 1) / 2) / (max - 1)];
    n = max;
  }
  free(set.slot);
  free(all);
  free(covered);
  free(cp);
  return n;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

int chat_tokens_match(const char *text, size_t tlen, const char *q,
                      size_t qlen) {
  const unsigned char *h = (const unsigned char *)text;
  const unsigned char *n = (const unsigned char *)q;
  size_t i, j;
  int first;

  if (qlen == 0) return 1;
  if (qlen > tlen) return 0;
  first = lower(n[0]);
  for (i = 0; i + qlen <= tlen; i++) {
    if (lower(h[i]) != first) continue;
    for (j = 1; j < qlen && lower(h[i + j]) == lower(n[j]); j++) {
    }
    if (j == qlen) return 1;
  }
  return 0;
}

int chat_tokens_each(const char *text, size_t len, chat_tokens_cb cb,
                     void *ud) {
  const uint8_t *s = (const uint8_t *)text;
  uint8_t tok[CHAT_SEARCH_TOKEN_BYTES];
  size_t i = 0, at, next_at;
  uint32_t c, next;
  int n1, n2, r;

  if (len == 0) return 0;
  at = 0;
  c = fold(next_cp(s, len, &i));
  for (;;) {
    int have_next = i < len;
    next_at = i;
    next = have_next ? fold(next_cp(s, len, &i)) : 0;
    if (!is_space(c)) {
      n1 = (int)chat_utf8_encode(c, tok);
      r = cb(ud, tok, n1, (int)at, (int)next_at);
      if (r) return r;
      if (have_next && !is_space(next)) {
        n2 = (int)chat_utf8_encode(next, tok + n1);
        r = cb(ud, tok, n1 + n2, (int)at, (int)i);
        if (r) return r;
      }
    }
    if (!have_next) return 0;
    c = next;
    at = next_at;
  }
}
