/*
 * chatbench: minimal JSON scanning, enough to read the top-level fields of
 * the server's frames and error bodies (bench.h).  Nothing is decoded: spans
 * point into the input, string escapes kept.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <string.h>

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* p points at the opening quote; returns the byte after the closing one.
 * memchr finds each candidate quote (most strings have no escapes); a
 * quote after an odd run of backslashes is escaped. */
static const char *skip_string(const char *p, const char *e) {
  const char *s = p + 1;
  for (const char *q = s; q < e; q++) {
    q = memchr(q, '"', (size_t)(e - q));
    if (!q) return NULL;
    size_t bs = 0;
    while (q - bs > s && q[-1 - (ptrdiff_t)bs] == '\\') bs++;
    if (bs % 2 == 0) return q + 1;
  }
  return NULL;
}

static const char *skip_value(const char *p, const char *e) {
  if (p >= e) return NULL;
  if (*p == '"') return skip_string(p, e);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (p < e) {
      char ch = *p;
      if (ch == '"') {
        p = skip_string(p, e);
        if (!p) return NULL;
        continue;
      }
      if (ch == '{' || ch == '[') depth++;
      if (ch == '}' || ch == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return NULL;
  }
  while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' &&
         *p != '\r')
    p++;
  return p;
}

static int key_is(const char *k, size_t kn, const char *want) {
  size_t wn = strlen(want);
  return kn == wn && memcmp(k, want, wn) == 0;
}

/* Fills the fields of interest; returns 0 on a well-formed object, -1 otherwise. */
int bench_json_fields(const char *p, size_t n, fields_t *f) {
  memset(f, 0, sizeof(*f));
  const char *e = p + n;
  p = skip_ws(p, e);
  if (p >= e || *p != '{') return -1;
  p = skip_ws(p + 1, e);
  if (p < e && *p == '}') return 0;
  while (p < e) {
    if (*p != '"') return -1;
    const char *k = p + 1;
    const char *ke = skip_string(p, e);
    if (!ke) return -1;
    size_t kn = (size_t)(ke - 1 - k);
    p = skip_ws(ke, e);
    if (p >= e || *p != ':') return -1;
    p = skip_ws(p + 1, e);
    const char *v = p;
    const char *ve = skip_value(p, e);
    if (!ve || ve == v) return -1;
    span_t *dst = NULL;
    if (key_is(k, kn, "type"))
      dst = &f->type;
    else if (key_is(k, kn, "cid"))
      dst = &f->cid;
    else if (key_is(k, kn, "text"))
      dst = &f->text;
    else if (key_is(k, kn, "code"))
      dst = &f->code;
    else if (key_is(k, kn, "room"))
      dst = &f->room;
    if (dst) {
      dst->present = 1;
      if (*v == '"') {
        dst->p = v + 1;
        dst->n = (size_t)(ve - v - 2);
      } else {
        dst->p = v;
        dst->n = (size_t)(ve - v);
      }
    }
    p = skip_ws(ve, e);
    if (p < e && *p == ',') {
      p = skip_ws(p + 1, e);
      continue;
    }
    if (p < e && *p == '}') return 0;
    return -1;
  }
  return -1;
}

int bench_json_message_text(const char *p, size_t n, span_t *text) {
  static const char pre[] = "{\"type\":\"message\",";
  static const char key[] = ",\"text\":\"";
  const size_t pn = sizeof(pre) - 1, kn = sizeof(key) - 1;
  text->present = 0;
  /* Without a nested object, the only unescaped `,"text":"` is the
   * top-level key: inside a string its quotes would be escaped. */
  if (n < pn + 2 || memcmp(p, pre, pn) != 0 || p[n - 1] != '}' ||
      memchr(p + 1, '{', n - 1) != NULL)
    return -1;
  /* memmem's setup costs more than this walk over the few commas before
   * the text (id, room, seq, sender). */
  const char *k = p + pn - 1, *end = p + n;
  for (;;) {
    k = memchr(k, ',', (size_t)(end - k));
    if (k == NULL || (size_t)(end - k) < kn) return -1;
    if (memcmp(k, key, kn) == 0) break;
    k++;
  }
  const char *v = k + kn - 1, *e = p + n - 1;
  const char *ve = skip_string(v, e);
  if (ve == NULL) return -1;
  text->p = v + 1;
  text->n = (size_t)(ve - v - 2);
  text->present = 1;
  return 0;
}

int bench_json_span_is(const span_t *s, const char *want) {
  return s->present && key_is(s->p, s->n, want);
}

/* Parses a non-negative decimal; returns the number of digits read (0: none). */
size_t bench_json_uint(const char *p, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9' && i < 19) v = v * 10 + (uint64_t)(p[i++] - '0');
  *out = v;
  return i;
}

void bench_json_error_code(const char *body, size_t n, char *out, size_t outn) {
  out[0] = '\0';
  const char *k = memmem(body, n, "\"code\"", 6);
  if (!k) return;
  const char *e = body + n;
  const char *p = skip_ws(k + 6, e);
  if (p >= e || *p != ':') return;
  p = skip_ws(p + 1, e);
  if (p >= e || *p != '"') return;
  const char *q = ++p;
  while (q < e && *q != '"' && (size_t)(q - p) + 1 < outn) q++;
  memcpy(out, p, (size_t)(q - p));
  out[q - p] = '\0';
}
