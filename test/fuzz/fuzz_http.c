/* libFuzzer target for the HTTP request path (built by
 * test/fuzz/CMakeLists.txt; run as the test fuzz.http): the llhttp glue,
 * routing, the static file path rules and query decoding.
 *
 * The first input byte picks a split point; the rest is a byte stream of
 * pipelined requests, fed once whole and once in two chunks split there.
 * Both runs must see the same requests (method, url, headers, body, where
 * each ends, where each asks for "100 Continue") and the same final result.  Every complete request goes
 * through what the server does with one: its route, its static file name
 * and its query values, each checked against its contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/pct.h"
#include "core/rbuf.h"
#include "core/utf8.h"
#include "net/http.h"
#include "net/route.h"
#include "net/static.h"

#define MAX_REQUESTS 8
#define ROOT "/srv/www"

typedef struct {
  int n;
  int rc[MAX_REQUESTS + 1];
  size_t end[MAX_REQUESTS + 1];   /* absolute offset where each request ended */
  uint64_t hash[MAX_REQUESTS + 1];
} run_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static void check_static_path(const char *path, size_t len) {
  char out[4096], small[24];
  if (chat_static_resolve(ROOT, path, len, out, sizeof(out)) == 0) {
    size_t n = strlen(out);
    if (strncmp(out, ROOT "/", sizeof(ROOT)) != 0) abort();
    if (!chat_utf8_valid(out, n)) abort();
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)out[i];
      if (c < 0x20 || c == 0x7f || c == '\\') abort();
    }
    /* No empty, "." or ".." segment below the root. */
    const char *rel = out + sizeof(ROOT) - 1;
    if (strstr(rel, "//") || strstr(rel, "/./") || strstr(rel, "/../")) abort();
    size_t rl = strlen(rel);
    if ((rl >= 2 && strcmp(rel + rl - 2, "/.") == 0) ||
        (rl >= 3 && strcmp(rel + rl - 3, "/..") == 0) || rel[rl - 1] == '/')
      abort();
    /* A smaller buffer gives the same answer or refuses. */
    if (chat_static_resolve(ROOT, path, len, small, sizeof(small)) == 0 &&
        strcmp(small, out) != 0)
      abort();
  } else if (out[0] != '\0') {
    abort();  /* a refusal leaves an empty string */
  }
  (void)chat_static_mime(out);
}

static void check_query(const char *query, size_t qlen) {
  static const char *const names[] = {"q", "room", "before", "limit", "name"};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(names); i++) {
    size_t vlen;
    const char *v = chat_http_query_param(query, qlen, names[i], &vlen);
    if (v == NULL) continue;
    if (v < query || v + vlen > query + qlen) abort();
    size_t n;
    char *d = chat_pct_decode_dup(v, vlen, CHAT_PCT_PLUS | CHAT_PCT_NO_NUL | CHAT_PCT_UTF8, &n);
    if (d) {
      if (strlen(d) != n || n > vlen || !chat_utf8_valid(d, n)) abort();
      free(d);
    }
  }
}

/* What the server does with a complete request; returns a hash of it. */
static uint64_t examine(chat_http_req_t *r, int rc) {
  uint64_t h = 1469598103934665603ull;
  const char *path, *query;
  size_t plen, qlen;

  h = fnv(h, &r->method, sizeof(r->method));
  h = fnv(h, &r->keep_alive, sizeof(r->keep_alive));
  h = fnv(h, r->head, r->head_len);
  h = fnv(h, &r->url_len, sizeof(r->url_len));
  for (int i = 0; i < r->nheaders; i++) h = fnv(h, &r->headers[i], sizeof(r->headers[i]));
  if (r->body_len) h = fnv(h, r->body, r->body_len);
  if (r->body_len && (r->body == NULL || r->body[r->body_len] != '\0')) abort();

  chat_http_url(r, &path, &plen, &query, &qlen);
  if (plen > r->url_len || (qlen && plen + 1 + qlen != r->url_len)) abort();

  chat_route_match_t m;
  int st = chat_route_match(r->method, path, plen, &m);
  if (st == 200) {
    if (m.id == CHAT_ROUTE_NONE || strlen(m.name) >= sizeof(m.name)) abort();
  } else if (st == 405) {
    if (m.allow[0] == '\0') abort();
  } else if (st != 404) {
    abort();
  }
  (void)chat_route_is_api(path, plen);
  if (plen > 0) check_static_path(path, plen);
  check_query(query, qlen);

  size_t len;
  const char *v = chat_http_header(r, "host", &len);
  if (v && (v < r->head || v + len > r->head + r->head_len)) abort();
  v = chat_http_cookie(r, "sid", &len);
  if (v && (v < r->head || v + len > r->head + r->head_len)) abort();
  (void)chat_http_header_has_token(r, "connection", "upgrade");
  (void)chat_http_body_is_json(r);
  if (rc == CHAT_HTTP_CONTINUE && (!chat_http_req_has_body(r) || r->body_len != 0)) abort();

  chat_rbuf_t *resp = chat_http_response(rc == CHAT_HTTP_UPGRADE ? 400 : 200,
                                         "text/plain", NULL, r->body, r->body_len,
                                         r->keep_alive, r->method == HTTP_HEAD);
  chat_rbuf_unref(resp);
  return h;
}

/* Feeds data in two chunks split at cut (the second empty when cut is
 * len), handling each request as the connection does. */
static void run(run_t *out, const uint8_t *data, size_t len, size_t cut) {
  chat_http_req_t *r = chat_xmalloc(sizeof(*r));
  chat_http_req_init(r);
  size_t bounds[2] = {cut, len}, pos = 0;
  out->n = 0;
  for (int chunk = 0; chunk < 2 && out->n <= MAX_REQUESTS; chunk++) {
    while (pos < bounds[chunk] && out->n <= MAX_REQUESTS) {
      size_t consumed = 0;
      int rc = chat_http_req_feed(r, (const char *)data + pos, bounds[chunk] - pos, &consumed);
      if (consumed > bounds[chunk] - pos) abort();
      pos += consumed;
      if (rc == CHAT_HTTP_MORE) break;
      out->rc[out->n] = rc;
      out->end[out->n] = rc == CHAT_HTTP_ERROR ? 0 : pos;
      if (rc == CHAT_HTTP_ERROR) {
        if (r->error_status != 400 && r->error_status != 413 && r->error_status != 417 &&
            r->error_status != 431)
          abort();
        out->hash[out->n++] = (uint64_t)r->error_status;
        goto done;
      }
      out->hash[out->n++] = examine(r, rc);
      if (rc == CHAT_HTTP_UPGRADE) goto done;  /* the rest is WebSocket */
      /* After "100 Continue" the same request goes on with its body. */
      if (rc != CHAT_HTTP_CONTINUE) chat_http_req_next(r);
    }
  }
done:
  chat_http_req_free(r);
  free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run_t whole, split;
  if (size == 0) return 0;
  size_t cut = (size_t)data[0] * (size - 1) / 255;
  data++;
  size--;
  run(&whole, data, size, size);
  run(&split, data, size, cut);
  if (whole.n != split.n) abort();
  for (int i = 0; i < whole.n; i++) {
    if (whole.rc[i] != split.rc[i] || whole.end[i] != split.end[i] ||
        whole.hash[i] != split.hash[i])
      abort();
  }
  return 0;
}
