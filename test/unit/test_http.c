/* The HTTP request parser (net/http.h): requests fed at every split and
 * byte by byte, its limits, and its strict rules (Host, Transfer-Encoding,
 * chunk framing and extensions, Expect, JSON bodies). */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "net/http.h"
#include "t.h"

/* ---- helpers ---------------------------------------------------------- */

/* chat_http_req_t holds a 16 KiB head: keep it off the stack. */
static chat_http_req_t *req_new(void) {
  chat_http_req_t *r = chat_xmalloc(sizeof(*r));
  chat_http_req_init(r);
  return r;
}

static void req_delete(chat_http_req_t *r) {
  chat_http_req_free(r);
  free(r);
}

/* Feeds a NUL-terminated string; returns the feed result. */
static int feed_str(chat_http_req_t *r, const char *s, size_t *consumed) {
  return chat_http_req_feed(r, s, strlen(s), consumed);
}

/* 1 if the header value equals want exactly. */
static int header_is(const chat_http_req_t *r, const char *name,
                     const char *want) {
  size_t len = 0;
  const char *v = chat_http_header(r, name, &len);
  return v != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

static int span_is(const char *p, size_t len, const char *want) {
  return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}

/* A copy of the url's path, NUL-terminated, in buf. */
static const char *path_of(const chat_http_req_t *r, char *buf, size_t cap) {
  const char *path, *query;
  size_t plen, qlen;
  chat_http_url(r, &path, &plen, &query, &qlen);
  if (plen >= cap) plen = cap - 1;
  memcpy(buf, path, plen);
  buf[plen] = '\0';
  return buf;
}

/* A growable byte string. */
typedef struct {
  char *p;
  size_t len, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *data, size_t len) {
  if (b->len + len + 1 > b->cap) {
    b->cap = (b->len + len + 1) * 2 + 64;
    b->p = chat_xrealloc(b->p, b->cap);
  }
  if (len > 0) memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
}

static void bytes_puts(bytes_t *b, const char *s) { bytes_add(b, s, strlen(s)); }

static void bytes_free(bytes_t *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* ---- parsing ---------------------------------------------------------- */

static void test_simple_get(void) {
  chat_http_req_t *r = req_new();
  const char *in =
      "GET /api/rooms?limit=10&before=99 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: t\r\n"
      "\r\n";
  size_t consumed = 12345;
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(in));
  T_EQ_INT(r->method, HTTP_GET);
  T_EQ_INT(r->keep_alive, 1);
  T_EQ_INT(r->body_len, 0);
  T_EQ_INT(r->nheaders, 2);

  const char *path, *query;
  size_t plen, qlen;
  chat_http_url(r, &path, &plen, &query, &qlen);
  T_CHECK(span_is(path, plen, "/api/rooms"));
  T_CHECK(span_is(query, qlen, "limit=10&before=99"));

  /* Header names are looked up in any case. */
  T_CHECK(header_is(r, "Host", "example.com"));
  T_CHECK(header_is(r, "host", "example.com"));
  T_CHECK(header_is(r, "HOST", "example.com"));
  T_CHECK(header_is(r, "user-agent", "t"));
  size_t len = 99;
  T_CHECK(chat_http_header(r, "Hos", &len) == NULL);
  T_EQ_INT(len, 0);
  T_CHECK(chat_http_header(r, "Hostx", &len) == NULL);
  T_CHECK(chat_http_header(r, "Cookie", &len) == NULL);
  req_delete(r);
}

static void test_url_without_query(void) {
  chat_http_req_t *r = req_new();
  size_t consumed;
  T_EQ_INT(feed_str(r, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &consumed),
           CHAT_HTTP_REQUEST);
  const char *path, *query;
  size_t plen, qlen = 99;
  chat_http_url(r, &path, &plen, &query, &qlen);
  T_CHECK(span_is(path, plen, "/healthz"));
  T_EQ_INT(qlen, 0);
  T_CHECK(query != NULL);
  req_delete(r);

  /* An empty query after "?". */
  r = req_new();
  T_EQ_INT(feed_str(r, "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n", &consumed),
           CHAT_HTTP_REQUEST);
  chat_http_url(r, &path, &plen, &query, &qlen);
  T_CHECK(span_is(path, plen, "/x"));
  T_EQ_INT(qlen, 0);
  req_delete(r);
}

static void test_query_param(void) {
  const char *q = "a=1&bb=two&empty=&flag&c=x%20y&a=second";
  size_t qlen = strlen(q), len = 99;
  const char *v;

  v = chat_http_query_param(q, qlen, "a", &len);
  T_CHECK(span_is(v, len, "1"));  /* the first of repeated keys */
  v = chat_http_query_param(q, qlen, "bb", &len);
  T_CHECK(span_is(v, len, "two"));
  v = chat_http_query_param(q, qlen, "empty", &len);
  T_CHECK(v != NULL);
  T_EQ_INT(len, 0);
  v = chat_http_query_param(q, qlen, "flag", &len);
  T_CHECK(v != NULL);
  T_EQ_INT(len, 0);
  v = chat_http_query_param(q, qlen, "c", &len);
  T_CHECK(span_is(v, len, "x%20y"));  /* raw, not decoded */

  len = 99;
  T_CHECK(chat_http_query_param(q, qlen, "b", &len) == NULL);  /* prefix */
  T_EQ_INT(len, 0);
  T_CHECK(chat_http_query_param(q, qlen, "bbb", &len) == NULL);
  T_CHECK(chat_http_query_param(q, qlen, "1", &len) == NULL);  /* a value */
  T_CHECK(chat_http_query_param(q, qlen, "missing", &len) == NULL);
  T_CHECK(chat_http_query_param("", 0, "a", &len) == NULL);

  /* The query length bounds the search: nothing past it is seen. */
  v = chat_http_query_param("a=1&b=2", 3, "a", &len);
  T_CHECK(span_is(v, len, "1"));
  T_CHECK(chat_http_query_param("a=1&b=2", 3, "b", &len) == NULL);
  v = chat_http_query_param("a=12345", 4, "a", &len);
  T_CHECK(span_is(v, len, "12"));
}

static void test_cookie(void) {
  chat_http_req_t *r = req_new();
  size_t consumed;
  const char *in =
      "GET / HTTP/1.1\r\n"
      "Host: a\r\n"
      "Cookie: theme=dark;sid=abc123 ;  lang=\"zh-CN\"; x=; sidx=no\r\n"
      "cookie: other=1\r\n"
      "\r\n";
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_REQUEST);
  size_t len = 99;
  const char *v;

  v = chat_http_cookie(r, "theme", &len);
  T_CHECK(span_is(v, len, "dark"));
  v = chat_http_cookie(r, "sid", &len);
  T_CHECK(span_is(v, len, "abc123"));  /* trailing space trimmed */
  v = chat_http_cookie(r, "lang", &len);
  T_CHECK(span_is(v, len, "zh-CN"));   /* quotes removed */
  v = chat_http_cookie(r, "x", &len);
  T_CHECK(v != NULL);
  T_EQ_INT(len, 0);
  v = chat_http_cookie(r, "sidx", &len);
  T_CHECK(span_is(v, len, "no"));
  v = chat_http_cookie(r, "other", &len);  /* a second Cookie header */
  T_CHECK(span_is(v, len, "1"));

  len = 99;
  T_CHECK(chat_http_cookie(r, "si", &len) == NULL);
  T_EQ_INT(len, 0);
  T_CHECK(chat_http_cookie(r, "dark", &len) == NULL);
  T_CHECK(chat_http_cookie(r, "missing", &len) == NULL);
  T_CHECK(chat_http_cookie(r, "SID", &len) == NULL);  /* names are exact */
  req_delete(r);

  /* No Cookie header at all. */
  r = req_new();
  T_EQ_INT(feed_str(r, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", &consumed),
           CHAT_HTTP_REQUEST);
  len = 99;
  T_CHECK(chat_http_cookie(r, "sid", &len) == NULL);
  T_EQ_INT(len, 0);
  req_delete(r);
}

static void test_header_has_token(void) {
  chat_http_req_t *r = req_new();
  size_t consumed;
  const char *in =
      "GET /ws HTTP/1.1\r\n"
      "Host: a\r\n"
      "Connection: keep-alive, Upgrade\r\n"
      "Accept-Encoding: gzip,deflate ,  br\r\n"
      "\r\n";
  /* "Connection: Upgrade" without an Upgrade header is a plain request. */
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_REQUEST);
  T_CHECK(chat_http_header_has_token(r, "Connection", "upgrade"));
  T_CHECK(chat_http_header_has_token(r, "connection", "Upgrade"));
  T_CHECK(chat_http_header_has_token(r, "CONNECTION", "keep-alive"));
  T_CHECK(chat_http_header_has_token(r, "Connection", "KEEP-ALIVE"));
  T_CHECK(!chat_http_header_has_token(r, "Connection", "keep"));
  T_CHECK(!chat_http_header_has_token(r, "Connection", "alive"));
  T_CHECK(!chat_http_header_has_token(r, "Connection", "close"));
  T_CHECK(!chat_http_header_has_token(r, "Connection", "keep-alive, Upgrade"));
  T_CHECK(!chat_http_header_has_token(r, "Connection", ""));
  T_CHECK(chat_http_header_has_token(r, "Accept-Encoding", "gzip"));
  T_CHECK(chat_http_header_has_token(r, "Accept-Encoding", "deflate"));
  T_CHECK(chat_http_header_has_token(r, "Accept-Encoding", "br"));
  T_CHECK(!chat_http_header_has_token(r, "Upgrade", "websocket"));
  req_delete(r);
}

static void test_post_content_length(void) {
  chat_http_req_t *r = req_new();
  size_t consumed;
  const char *in =
      "POST /api/login HTTP/1.1\r\n"
      "Host: a\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 27\r\n"
      "\r\n"
      "{\"name\":\"a\",\"password\":\"b\"}";
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(in));
  T_EQ_INT(r->method, HTTP_POST);
  T_EQ_INT(r->body_len, 27);
  T_CHECK(r->body != NULL);
  if (r->body) T_EQ_STR(r->body, "{\"name\":\"a\",\"password\":\"b\"}");
  T_CHECK(header_is(r, "content-type", "application/json"));
  req_delete(r);
}

static void test_post_chunked(void) {
  chat_http_req_t *r = req_new();
  size_t consumed;
  const char *in =
      "POST /api/rooms HTTP/1.1\r\n"
      "Host: a\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5\r\nhello\r\n"
      "1;ext=1\r\n,\r\n"
      "6\r\n world\r\n"
      "0\r\n"
      "\r\n";
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(in));
  T_EQ_INT(r->method, HTTP_POST);
  T_EQ_INT(r->body_len, 12);
  if (r->body) T_EQ_STR(r->body, "hello, world");
  T_CHECK(r->body != NULL);
  req_delete(r);
}

static void test_pipelined(void) {
  chat_http_req_t *r = req_new();
  const char *first =
      "POST /api/logout HTTP/1.1\r\n"
      "Host: a\r\n"
      "Content-Length: 3\r\n"
      "\r\n"
      "abc";
  const char *second =
      "GET /api/me HTTP/1.1\r\n"
      "Host: b\r\n"
      "\r\n";
  const char *third =
      "GET /metrics HTTP/1.1\r\n"
      "Host: c\r\n"
      "Connection: close\r\n"
      "\r\n";
  bytes_t in = {0};
  bytes_puts(&in, first);
  bytes_puts(&in, second);
  bytes_puts(&in, third);
  char buf[64];

  size_t consumed = 0;
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(first));
  T_EQ_INT(r->method, HTTP_POST);
  T_EQ_INT(r->body_len, 3);
  if (r->body) T_EQ_STR(r->body, "abc");
  T_CHECK(header_is(r, "Host", "a"));
  T_EQ_INT(r->keep_alive, 1);
  T_EQ_STR(path_of(r, buf, sizeof(buf)), "/api/logout");

  chat_http_req_next(r);
  size_t off = consumed;
  T_EQ_INT(chat_http_req_feed(r, in.p + off, in.len - off, &consumed),
           CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(second));
  T_EQ_INT(r->method, HTTP_GET);
  T_EQ_INT(r->body_len, 0);
  T_EQ_INT(r->nheaders, 1);
  T_CHECK(header_is(r, "Host", "b"));
  size_t len;
  T_CHECK(chat_http_header(r, "Content-Length", &len) == NULL);
  T_EQ_INT(r->keep_alive, 1);
  T_EQ_STR(path_of(r, buf, sizeof(buf)), "/api/me");

  chat_http_req_next(r);
  off += consumed;
  T_EQ_INT(chat_http_req_feed(r, in.p + off, in.len - off, &consumed),
           CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, strlen(third));
  T_EQ_INT(off + consumed, in.len);
  T_EQ_INT(r->method, HTTP_GET);
  T_CHECK(header_is(r, "Host", "c"));
  T_EQ_INT(r->keep_alive, 0);
  T_EQ_STR(path_of(r, buf, sizeof(buf)), "/metrics");

  bytes_free(&in);
  req_delete(r);

  /* HTTP/1.0 without keep-alive does not keep the connection. */
  r = req_new();
  T_EQ_INT(feed_str(r, "GET / HTTP/1.0\r\n\r\n", &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(r->keep_alive, 0);
  req_delete(r);
}

/* The request used for split feeding: several headers and a body. */
static const char split_req[] =
    "PATCH /api/rooms/42?x=1 HTTP/1.1\r\n"
    "Host: chat.example\r\n"
    "Cookie: sid=s3cr3t; theme=dark\r\n"
    "Content-Type: application/json\r\n"
    "X-Long-Header-Name: some value with spaces\r\n"
    "Content-Length: 20\r\n"
    "\r\n"
    "{\"name\":\"new-room\"}\n";

/* Checks that r holds split_req, parsed completely. */
static int split_req_ok(const chat_http_req_t *r) {
  size_t len;
  const char *path, *query, *v;
  size_t plen, qlen;
  int ok = r->method == HTTP_PATCH && r->nheaders == 5 && r->body_len == 20 &&
           r->body != NULL && memcmp(r->body, "{\"name\":\"new-room\"}\n", 20) == 0 &&
           r->keep_alive == 1;
  chat_http_url(r, &path, &plen, &query, &qlen);
  ok = ok && span_is(path, plen, "/api/rooms/42") && span_is(query, qlen, "x=1");
  ok = ok && header_is(r, "host", "chat.example") &&
       header_is(r, "content-type", "application/json") &&
       header_is(r, "x-long-header-name", "some value with spaces") &&
       header_is(r, "content-length", "20");
  v = chat_http_cookie(r, "theme", &len);
  ok = ok && span_is(v, len, "dark");
  v = chat_http_cookie(r, "sid", &len);
  ok = ok && span_is(v, len, "s3cr3t");
  return ok;
}

static void test_every_split(void) {
  size_t n = sizeof(split_req) - 1;
  chat_http_req_t *r = req_new();
  int failures = 0;
  for (size_t cut = 0; cut <= n; cut++) {
    chat_http_req_init(r);
    size_t c1 = 0, c2 = 0;
    int rc1 = chat_http_req_feed(r, split_req, cut, &c1);
    int rc2 = CHAT_HTTP_MORE;
    if (cut < n) {
      if (rc1 != CHAT_HTTP_MORE || c1 != cut) {
        failures++;
        fprintf(stderr, "split %zu: first piece rc %d consumed %zu\n", cut, rc1, c1);
        chat_http_req_free(r);
        continue;
      }
      rc2 = chat_http_req_feed(r, split_req + cut, n - cut, &c2);
    } else {
      rc2 = rc1;
      c2 = c1;
    }
    if (rc2 != CHAT_HTTP_REQUEST || c2 != n - (cut < n ? cut : 0) ||
        !split_req_ok(r)) {
      failures++;
      fprintf(stderr, "split %zu: rc %d consumed %zu\n", cut, rc2, c2);
    }
    chat_http_req_free(r);
  }
  T_EQ_INT(failures, 0);
  req_delete(r);
}

static void test_byte_by_byte(void) {
  size_t n = sizeof(split_req) - 1;
  chat_http_req_t *r = req_new();
  int rc = CHAT_HTTP_MORE, early = 0;
  for (size_t i = 0; i < n; i++) {
    size_t c = 0;
    rc = chat_http_req_feed(r, split_req + i, 1, &c);
    if (c != 1) early++;
    if (rc != CHAT_HTTP_MORE && i + 1 < n) {
      early++;
      break;
    }
  }
  T_EQ_INT(early, 0);
  T_EQ_INT(rc, CHAT_HTTP_REQUEST);
  T_CHECK(split_req_ok(r));

  /* Byte by byte again on the same parser after next. */
  chat_http_req_next(r);
  rc = CHAT_HTTP_MORE;
  for (size_t i = 0; i < n && rc == CHAT_HTTP_MORE; i++) {
    size_t c = 0;
    rc = chat_http_req_feed(r, split_req + i, 1, &c);
  }
  T_EQ_INT(rc, CHAT_HTTP_REQUEST);
  T_CHECK(split_req_ok(r));
  req_delete(r);
}

/* A chunked request split at every point gives the same body. */
static void test_every_split_chunked(void) {
  static const char in[] =
      "POST /api/rooms HTTP/1.1\r\n"
      "Host: a\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "a\r\n0123456789\r\n"
      "3\r\nabc\r\n"
      "0\r\n\r\n";
  size_t n = sizeof(in) - 1;
  chat_http_req_t *r = req_new();
  int failures = 0;
  for (size_t cut = 1; cut < n; cut++) {
    chat_http_req_init(r);
    size_t c1, c2;
    int rc1 = chat_http_req_feed(r, in, cut, &c1);
    int rc2 = chat_http_req_feed(r, in + cut, n - cut, &c2);
    if (rc1 != CHAT_HTTP_MORE || c1 != cut || rc2 != CHAT_HTTP_REQUEST ||
        c2 != n - cut || r->body_len != 13 || r->body == NULL ||
        strcmp(r->body, "0123456789abc") != 0) {
      failures++;
      fprintf(stderr, "chunked split %zu: rc %d/%d\n", cut, rc1, rc2);
    }
    chat_http_req_free(r);
  }
  T_EQ_INT(failures, 0);
  req_delete(r);
}

/* ---- limits and errors ------------------------------------------------ */

static void test_headers_too_large(void) {
  chat_http_req_t *r = req_new();
  bytes_t in = {0};
  bytes_puts(&in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
  for (int i = 0; i < CHAT_HTTP_MAX_HEADER; i++) bytes_add(&in, "a", 1);
  bytes_puts(&in, "\r\n\r\n");
  size_t consumed;
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 431);
  req_delete(r);

  /* A far bigger header fed in small pieces: the error comes as soon as
   * the limit is passed, long before the end. */
  r = req_new();
  bytes_free(&in);
  bytes_puts(&in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
  for (int i = 0; i < 4 * CHAT_HTTP_MAX_HEADER; i++) bytes_add(&in, "a", 1);
  bytes_puts(&in, "\r\n\r\n");
  int rc = CHAT_HTTP_MORE;
  size_t off = 0;
  while (off < in.len && rc == CHAT_HTTP_MORE) {
    size_t piece = in.len - off < 1000 ? in.len - off : 1000;
    rc = chat_http_req_feed(r, in.p + off, piece, &consumed);
    off += piece;
  }
  T_EQ_INT(rc, CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 431);
  T_CHECK(off <= (size_t)CHAT_HTTP_MAX_HEADER + 1000);
  req_delete(r);

  /* A very long url counts too. */
  r = req_new();
  bytes_free(&in);
  bytes_puts(&in, "GET /");
  for (int i = 0; i < CHAT_HTTP_MAX_HEADER + 10; i++) bytes_add(&in, "u", 1);
  bytes_puts(&in, " HTTP/1.1\r\nHost: a\r\n\r\n");
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 431);
  req_delete(r);

  /* Many small headers adding up past the limit. */
  r = req_new();
  bytes_free(&in);
  bytes_puts(&in, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < 40; i++) {
    char line[600];
    memset(line, 'v', sizeof(line));
    int n = snprintf(line, sizeof(line), "X-H%d: ", i);
    line[n] = 'v';
    memcpy(line + sizeof(line) - 2, "\r\n", 2);
    bytes_add(&in, line, sizeof(line));
  }
  bytes_puts(&in, "\r\n");
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 431);
  req_delete(r);

  /* Headers just under the limit are fine. */
  r = req_new();
  bytes_free(&in);
  bytes_puts(&in, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
  /* head holds "/", "Host", "a", "X-Big" and the value: 1 + 5 + 5 + value. */
  for (int i = 0; i < CHAT_HTTP_MAX_HEADER - 11; i++) bytes_add(&in, "a", 1);
  bytes_puts(&in, "\r\n\r\n");
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_REQUEST);
  size_t len = 0;
  T_CHECK(chat_http_header(r, "x-big", &len) != NULL);
  T_EQ_INT(len, CHAT_HTTP_MAX_HEADER - 11);
  req_delete(r);
  bytes_free(&in);
}

static void test_too_many_headers(void) {
  chat_http_req_t *r = req_new();
  bytes_t in = {0};
  bytes_puts(&in, "GET / HTTP/1.1\r\n");
  for (int i = 0; i < CHAT_HTTP_MAX_HEADERS + 1; i++) {
    char line[32];
    snprintf(line, sizeof(line), "X-%d: v\r\n", i);
    bytes_puts(&in, line);
  }
  bytes_puts(&in, "\r\n");
  size_t consumed;
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 431);
  req_delete(r);
  bytes_free(&in);
}

static void test_body_too_large(void) {
  /* Content-Length past the limit: 413 as soon as the headers end, before
   * any body byte arrives. */
  chat_http_req_t *r = req_new();
  char in[256];
  snprintf(in, sizeof(in),
           "POST /api/rooms HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
           CHAT_HTTP_MAX_BODY + 1);
  size_t consumed;
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 413);
  T_CHECK(r->body == NULL);
  req_delete(r);

  /* Exactly the limit is accepted. */
  r = req_new();
  snprintf(in, sizeof(in),
           "POST /api/rooms HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
           CHAT_HTTP_MAX_BODY);
  T_EQ_INT(feed_str(r, in, &consumed), CHAT_HTTP_MORE);
  char *body = chat_xmalloc(CHAT_HTTP_MAX_BODY);
  memset(body, 'b', CHAT_HTTP_MAX_BODY);
  T_EQ_INT(chat_http_req_feed(r, body, CHAT_HTTP_MAX_BODY, &consumed),
           CHAT_HTTP_REQUEST);
  T_EQ_INT(r->body_len, CHAT_HTTP_MAX_BODY);
  req_delete(r);

  /* A huge Content-Length. */
  r = req_new();
  T_EQ_INT(feed_str(r,
                    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999\r\n\r\n",
                    &consumed),
           CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 413);
  req_delete(r);

  /* A chunked body growing past the limit: 413. */
  r = req_new();
  T_EQ_INT(feed_str(r,
                    "POST /api/rooms HTTP/1.1\r\nHost: a\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n",
                    &consumed),
           CHAT_HTTP_MORE);
  int rc = CHAT_HTTP_MORE;
  size_t sent = 0;
  char size_line[32];
  int n = snprintf(size_line, sizeof(size_line), "%x\r\n", 64 * 1024);
  while (rc == CHAT_HTTP_MORE && sent <= (size_t)CHAT_HTTP_MAX_BODY) {
    rc = chat_http_req_feed(r, size_line, (size_t)n, &consumed);
    if (rc != CHAT_HTTP_MORE) break;
    rc = chat_http_req_feed(r, body, 64 * 1024, &consumed);
    if (rc != CHAT_HTTP_MORE) break;
    sent += 64 * 1024;
    rc = chat_http_req_feed(r, "\r\n", 2, &consumed);
  }
  T_EQ_INT(rc, CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 413);
  T_CHECK(sent <= (size_t)CHAT_HTTP_MAX_BODY);
  T_CHECK(r->body_len <= (size_t)CHAT_HTTP_MAX_BODY);
  req_delete(r);

  /* One chunk declaring more than the limit. */
  r = req_new();
  snprintf(in, sizeof(in),
           "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
           CHAT_HTTP_MAX_BODY + 10);
  rc = feed_str(r, in, &consumed);
  if (rc == CHAT_HTTP_MORE) rc = chat_http_req_feed(r, body, CHAT_HTTP_MAX_BODY, &consumed);
  if (rc == CHAT_HTTP_MORE) rc = chat_http_req_feed(r, body, 10, &consumed);
  T_EQ_INT(rc, CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 413);
  req_delete(r);
  free(body);
}

static void test_malformed(void) {
  static const char *const bad[] = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET / FOO/1.1\r\n\r\n",
      "GET / HTTP/1.1 extra\r\n\r\n",
      "get / HTTP/1.1\r\n\r\n",
      "GET  HTTP/1.1\r\n\r\n",
      "\x01\x02\x03 / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n",  /* space before ':' */
      "GET / HTTP/1.1\r\nHost\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    chat_http_req_t *r = req_new();
    size_t consumed;
    int rc = feed_str(r, bad[i], &consumed);
    if (rc != CHAT_HTTP_ERROR || r->error_status != 400)
      fprintf(stderr, "malformed #%zu: rc %d status %d\n", i, rc, r->error_status);
    T_EQ_INT(rc, CHAT_HTTP_ERROR);
    T_EQ_INT(r->error_status, 400);
    req_delete(r);
  }
}

/* A header name must be a token (RFC 9110, 5.1): not empty, no spaces. */
static void test_malformed_header_name(void) {
  static const char *const bad[] = {
      "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    chat_http_req_t *r = req_new();
    size_t consumed;
    int rc = feed_str(r, bad[i], &consumed);
    if (rc != CHAT_HTTP_ERROR || r->error_status != 400)
      fprintf(stderr, "bad header name #%zu: rc %d status %d\n", i, rc,
              r->error_status);
    T_EQ_INT(rc, CHAT_HTTP_ERROR);
    T_EQ_INT(r->error_status, 400);
    req_delete(r);
  }
}

static void test_upgrade(void) {
  const char *head =
      "GET /ws HTTP/1.1\r\n"
      "Host: a\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "\r\n";
  const char trailing[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  bytes_t in = {0};
  bytes_puts(&in, head);
  bytes_add(&in, trailing, sizeof(trailing) - 1);

  chat_http_req_t *r = req_new();
  size_t consumed = 0;
  int rc = chat_http_req_feed(r, in.p, in.len, &consumed);
  T_EQ_INT(rc, CHAT_HTTP_UPGRADE);
  T_EQ_INT(consumed, strlen(head));
  /* What follows *consumed is exactly the new protocol's bytes. */
  T_EQ_INT(in.len - consumed, sizeof(trailing) - 1);
  T_CHECK(memcmp(in.p + consumed, trailing, sizeof(trailing) - 1) == 0);
  T_EQ_INT(r->method, HTTP_GET);
  T_CHECK(header_is(r, "upgrade", "websocket"));
  T_CHECK(header_is(r, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
  T_CHECK(chat_http_header_has_token(r, "Connection", "upgrade"));
  req_delete(r);

  /* Only the head, nothing after it. */
  r = req_new();
  rc = feed_str(r, head, &consumed);
  T_EQ_INT(rc, CHAT_HTTP_UPGRADE);
  T_EQ_INT(consumed, strlen(head));
  req_delete(r);

  /* The head fed in two pieces, the second with the frame bytes. */
  r = req_new();
  size_t cut = 20;
  rc = chat_http_req_feed(r, in.p, cut, &consumed);
  T_EQ_INT(rc, CHAT_HTTP_MORE);
  rc = chat_http_req_feed(r, in.p + cut, in.len - cut, &consumed);
  T_EQ_INT(rc, CHAT_HTTP_UPGRADE);
  T_EQ_INT(consumed, strlen(head) - cut);
  req_delete(r);
  bytes_free(&in);
}

/* ---- strictness: Host, Transfer-Encoding, chunks, Expect -------------- */

/* What feeding one request gave: the final result, its error status, the
 * offset where "100 Continue" was asked for (0: never) and the body. */
typedef struct {
  int rc;
  int status;
  int continues;
  size_t continue_at;
  size_t end;
  size_t body_len;
  char body[64];
} outcome_t;

/* Feeds in[0..n) in pieces: two split at cut, or piece bytes at a time
 * when piece is not 0; goes on after CHAT_HTTP_CONTINUE as the connection
 * does. */
static outcome_t feed_pieces(const char *in, size_t n, size_t cut, size_t piece) {
  outcome_t o;
  memset(&o, 0, sizeof(o));
  o.rc = CHAT_HTTP_MORE;
  chat_http_req_t *r = req_new();
  size_t pos = 0;
  while (pos < n && o.rc == CHAT_HTTP_MORE) {
    size_t lim = piece ? (n - pos < piece ? n : pos + piece) : (pos < cut ? cut : n);
    while (pos < lim) {
      size_t c = 0;
      int rc = chat_http_req_feed(r, in + pos, lim - pos, &c);
      pos += c;
      if (rc == CHAT_HTTP_MORE) break;
      if (rc == CHAT_HTTP_CONTINUE) {
        o.continues++;
        o.continue_at = pos;
        T_CHECK(chat_http_req_has_body(r));
        continue;
      }
      o.rc = rc;
      o.status = r->error_status;
      o.end = pos;
      break;
    }
  }
  o.body_len = r->body_len;
  if (r->body) snprintf(o.body, sizeof(o.body), "%s", r->body);
  req_delete(r);
  return o;
}

/* Feeds in at every split and byte by byte; each must give want (for an
 * error, only rc and status are compared). */
static int check_splits(const char *in, outcome_t want) {
  size_t n = strlen(in);
  int failures = 0;
  for (size_t cut = 0; cut <= n + 1; cut++) {
    outcome_t o = cut <= n ? feed_pieces(in, n, cut, 0) : feed_pieces(in, n, 0, 1);
    int same = o.rc == want.rc && o.status == want.status;
    if (want.rc != CHAT_HTTP_ERROR)
      same = same && o.continues == want.continues && o.continue_at == want.continue_at &&
             o.end == n && o.body_len == want.body_len && strcmp(o.body, want.body) == 0;
    if (!same) {
      if (failures++ == 0)
        fprintf(stderr, "cut %zu of %s: rc %d status %d continues %d at %zu body %zu \"%s\"\n",
                cut, in, o.rc, o.status, o.continues, o.continue_at, o.body_len, o.body);
    }
  }
  return failures;
}

static outcome_t want_error(int status) {
  outcome_t o;
  memset(&o, 0, sizeof(o));
  o.rc = CHAT_HTTP_ERROR;
  o.status = status;
  return o;
}

static outcome_t want_request(const char *body) {
  outcome_t o;
  memset(&o, 0, sizeof(o));
  o.rc = CHAT_HTTP_REQUEST;
  o.body_len = strlen(body);
  snprintf(o.body, sizeof(o.body), "%s", body);
  return o;
}

static void test_host_rules(void) {
  static const char *const ok[] = {
      "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: xn--4gq.example:\r\n\r\n",
      "GET / HTTP/1.1\r\nHost:\r\n\r\n",              /* empty is allowed */
      "GET / HTTP/1.1\r\nHost: a  \r\n\r\n",          /* trailing white space */
      "GET / HTTP/1.0\r\n\r\n",                        /* 1.0 needs none */
      "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
  };
  static const char *const bad[] = {
      "GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nX-Host: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
      "GET / HTTP/1.1\r\nHOST: a\r\nX: 1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: \xe4\xbe\x8b.jp\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a?b\r\n\r\n",
  };
  int failures = 0;
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(ok); i++) failures += check_splits(ok[i], want_request(""));
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) failures += check_splits(bad[i], want_error(400));
  T_EQ_INT(failures, 0);

  /* The one Host is what chat_http_header finds (the Origin check's). */
  chat_http_req_t *r = req_new();
  size_t consumed;
  T_EQ_INT(feed_str(r, "GET / HTTP/1.1\r\nX: 1\r\nHost: chat.example:8080\r\n\r\n", &consumed),
           CHAT_HTTP_REQUEST);
  T_CHECK(header_is(r, "host", "chat.example:8080"));
  req_delete(r);
}

static void test_transfer_encoding_rules(void) {
  static const char *const bad[] = {
      /* HTTP/1.0 with Transfer-Encoding, kept alive or not. */
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      "POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      /* With Content-Length as well (llhttp's own check). */
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
      /* Anything but exactly "chunked". */
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
  };
  int failures = 0;
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) failures += check_splits(bad[i], want_error(400));
  failures += check_splits(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n2\r\nok\r\n0\r\n\r\n",
      want_request("ok"));
  T_EQ_INT(failures, 0);
}

static void test_chunk_framing(void) {
#define CHUNKED_HEAD "POST /api/read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
  static const char *const bad[] = {
      CHUNKED_HEAD "5\r\nhelloXY0\r\n\r\n",       /* no CRLF after the data */
      CHUNKED_HEAD "5\r\nhello\n0\r\n\r\n",
      CHUNKED_HEAD "5\r\nhello\rX0\r\n\r\n",
      CHUNKED_HEAD "5\r\nhello\r\r\n0\r\n\r\n",
      CHUNKED_HEAD "5\r\nhello  \r\n0\r\n\r\n",
      CHUNKED_HEAD "5\rXhello\r\n0\r\n\r\n",      /* no LF after the size's CR */
      CHUNKED_HEAD "5\nhello\r\n0\r\n\r\n",
      CHUNKED_HEAD "5\r\r\nhello\r\n0\r\n\r\n",
      CHUNKED_HEAD "5;a=1\rXhello\r\n0\r\n\r\n",
      CHUNKED_HEAD "5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",  /* trailers */
      CHUNKED_HEAD "5\r\nhello\r\n0\r\n\rX",
      CHUNKED_HEAD "5\r\nhello\r\n0\r\n\n",
      CHUNKED_HEAD "5\r\nhello\r\n0\rX\r\n",
      CHUNKED_HEAD "\r\nhello\r\n0\r\n\r\n",       /* no size */
      CHUNKED_HEAD ";a\r\nhello\r\n0\r\n\r\n",
      CHUNKED_HEAD "5 \r\nhello\r\n0\r\n\r\n",
      CHUNKED_HEAD "g\r\nhello\r\n0\r\n\r\n",
  };
  int failures = 0;
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) failures += check_splits(bad[i], want_error(400));
  failures += check_splits(CHUNKED_HEAD "5;a=b\r\nhello\r\n1;c=\"d e\"\r\n!\r\n000\r\n\r\n",
                           want_request("hello!"));
  failures += check_splits(CHUNKED_HEAD "0;x\r\n\r\n", want_request(""));
  /* Sizes adding up past the body limit: 413 at the size line. */
  char in[256];
  snprintf(in, sizeof(in), CHUNKED_HEAD "%x\r\n", CHAT_HTTP_MAX_BODY + 1);
  failures += check_splits(in, want_error(413));
  snprintf(in, sizeof(in), CHUNKED_HEAD "2\r\nok\r\n%x\r\n", CHAT_HTTP_MAX_BODY - 1);
  failures += check_splits(in, want_error(413));
  snprintf(in, sizeof(in), CHUNKED_HEAD "ffffffffffffffffffffff\r\n");
  failures += check_splits(in, want_error(413));
  T_EQ_INT(failures, 0);

  /* The first fault decides: bad framing before an over-long chunk is 400,
   * an over-long chunk size before bad framing 413. */
  snprintf(in, sizeof(in), CHUNKED_HEAD "2\r\nokXY%x\r\n", CHAT_HTTP_MAX_BODY);
  T_EQ_INT(check_splits(in, want_error(400)), 0);

  /* A pipelined request after a chunked one is read as usual. */
  chat_http_req_t *r = req_new();
  const char *two = CHUNKED_HEAD "2\r\nok\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  size_t consumed, first = strlen(CHUNKED_HEAD "2\r\nok\r\n0\r\n\r\n");
  T_EQ_INT(feed_str(r, two, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(consumed, first);
  chat_http_req_next(r);
  T_EQ_INT(feed_str(r, two + first, &consumed), CHAT_HTTP_REQUEST);
  T_EQ_INT(r->method, HTTP_GET);
  T_EQ_INT(r->body_len, 0);
  req_delete(r);
}

static void test_chunk_extensions(void) {
  /* At most CHAT_HTTP_MAX_CHUNK_EXT bytes (from each ';' to the CR) in a
   * request, all chunks together. */
  bytes_t in = {0};
  int failures = 0;
  for (int extra = 0; extra <= 1; extra++) {
    bytes_free(&in);
    bytes_puts(&in, CHUNKED_HEAD "2;");
    for (int i = 1; i < CHAT_HTTP_MAX_CHUNK_EXT + extra; i++) bytes_puts(&in, "e");
    bytes_puts(&in, "\r\nok\r\n0\r\n\r\n");
    failures += check_splits(in.p, extra ? want_error(400) : want_request("ok"));
  }
  for (int extra = 0; extra <= 1; extra++) {
    bytes_free(&in);
    bytes_puts(&in, CHUNKED_HEAD "1;a=");
    for (int i = 3; i < CHAT_HTTP_MAX_CHUNK_EXT / 2; i++) bytes_puts(&in, "v");
    bytes_puts(&in, "\r\no\r\n1;");
    for (int i = 1; i < CHAT_HTTP_MAX_CHUNK_EXT / 2 + extra; i++) bytes_puts(&in, "w");
    bytes_puts(&in, "\r\nk\r\n0\r\n\r\n");
    failures += check_splits(in.p, extra ? want_error(400) : want_request("ok"));
  }
  T_EQ_INT(failures, 0);

  /* A huge extension is refused as soon as it passes the limit. */
  chat_http_req_t *r = req_new();
  size_t consumed;
  T_EQ_INT(feed_str(r, CHUNKED_HEAD "2;x=", &consumed), CHAT_HTTP_MORE);
  char piece[100];
  memset(piece, 'v', sizeof(piece));
  int rc = CHAT_HTTP_MORE, pieces = 0;
  while (rc == CHAT_HTTP_MORE && pieces < 1000) {
    rc = chat_http_req_feed(r, piece, sizeof(piece), &consumed);
    pieces++;
  }
  T_EQ_INT(rc, CHAT_HTTP_ERROR);
  T_EQ_INT(r->error_status, 400);
  T_CHECK(pieces <= CHAT_HTTP_MAX_CHUNK_EXT / (int)sizeof(piece) + 1);
  req_delete(r);
  bytes_free(&in);
#undef CHUNKED_HEAD
}

static void test_expect_continue(void) {
  static const char head[] =
      "POST /api/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  char in[512];
  outcome_t want = want_request("hello");
  want.continues = 1;
  want.continue_at = strlen(head);
  snprintf(in, sizeof(in), "%shello", head);
  int failures = check_splits(in, want);

  /* Any case; several Expect lines; a chunked body. */
  static const char chunked_head[] =
      "POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nExpect: 100-CONTINUE\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  want = want_request("hello");
  want.continues = 1;
  want.continue_at = strlen(chunked_head);
  snprintf(in, sizeof(in), "%s5\r\nhello\r\n0\r\n\r\n", chunked_head);
  failures += check_splits(in, want);

  /* No body to come, or HTTP/1.0: no "100 Continue". */
  failures += check_splits("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
                           want_request(""));
  failures += check_splits(
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
      want_request(""));
  failures += check_splits(
      "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", want_request("ok"));
  failures += check_splits("POST / HTTP/1.0\r\nExpect: x-other\r\nContent-Length: 2\r\n\r\nok",
                           want_request("ok"));

  /* Any other expectation: 417. */
  static const char *const other[] = {
      "GET / HTTP/1.1\r\nHost: a\r\nExpect: x-other\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x-other\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: 200-ok\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continu\r\nContent-Length: 2\r\n\r\nok",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(other); i++) failures += check_splits(other[i], want_error(417));

  /* Too large a body: 413 at once, not "100 Continue". */
  snprintf(in, sizeof(in),
           "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n",
           CHAT_HTTP_MAX_BODY + 1);
  failures += check_splits(in, want_error(413));
  T_EQ_INT(failures, 0);

  /* The head is complete when "100 Continue" is asked for; the next
   * request on the connection starts afresh. */
  chat_http_req_t *r = req_new();
  size_t consumed;
  T_EQ_INT(feed_str(r, head, &consumed), CHAT_HTTP_CONTINUE);
  T_EQ_INT(consumed, strlen(head));
  T_EQ_INT(r->method, HTTP_POST);
  T_CHECK(header_is(r, "content-type", "application/json"));
  T_CHECK(chat_http_req_has_body(r));
  T_CHECK(chat_http_body_is_json(r));
  T_EQ_INT(feed_str(r, "hel", &consumed), CHAT_HTTP_MORE);
  T_EQ_INT(feed_str(r, "lo", &consumed), CHAT_HTTP_REQUEST);
  T_CHECK(chat_http_req_has_body(r));
  chat_http_req_next(r);
  T_EQ_INT(feed_str(r, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", &consumed), CHAT_HTTP_REQUEST);
  T_CHECK(!chat_http_req_has_body(r));
  req_delete(r);
}

/* chat_http_body_is_json on a request with the given header lines. */
static int json_with(const char *headers) {
  char in[512];
  snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nHost: a\r\n%sContent-Length: 2\r\n\r\n{}", headers);
  chat_http_req_t *r = req_new();
  size_t consumed;
  int ok = feed_str(r, in, &consumed) == CHAT_HTTP_REQUEST && chat_http_body_is_json(r);
  req_delete(r);
  return ok;
}

static void test_body_is_json(void) {
  static const char *const yes[] = {
      "Content-Type: application/json\r\n",
      "Content-Type: application/json; charset=utf-8\r\n",
      "Content-Type: Application/JSON;Charset=UTF-8\r\n",
      "Content-Type: application/json ; charset=\"utf-8\"\r\n",
      "Content-Type: application/json; v=1; charset=utf-8\r\n",
      "Content-Type: application/json;\r\n",
      "Content-Type: application/json ;; q=\"a;b\"\r\n",
      "Content-Type: application/json  \r\n",
  };
  static const char *const no[] = {
      "",
      "Content-Type: \r\n",
      "Content-Type: text/plain\r\n",
      "Content-Type: application/x-www-form-urlencoded\r\n",
      "Content-Type: multipart/form-data; boundary=x\r\n",
      "Content-Type: application/jsonp\r\n",
      "Content-Type: application/json-patch+json\r\n",
      "Content-Type: application/json, text/plain\r\n",
      "Content-Type: application/json; charset=iso-8859-1\r\n",
      "Content-Type: application/json; charset=\"utf-16\"\r\n",
      "Content-Type: application/json; charset\r\n",
      "Content-Type: application/json; charset=\r\n",
      "Content-Type: application/json; a=\"open\r\n",
      "Content-Type: application/json\r\nContent-Type: application/json\r\n",
      "Content-Type: application/json\r\nContent-type: text/plain\r\n",
      "X-Content-Type: application/json\r\n",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(yes); i++) {
    if (!json_with(yes[i])) fprintf(stderr, "not JSON: %s", yes[i]);
    T_CHECK(json_with(yes[i]));
  }
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(no); i++) {
    if (json_with(no[i])) fprintf(stderr, "JSON: %s\n", no[i]);
    T_CHECK(!json_with(no[i]));
  }
}

int main(void) {
  T_RUN(test_simple_get);
  T_RUN(test_url_without_query);
  T_RUN(test_query_param);
  T_RUN(test_cookie);
  T_RUN(test_header_has_token);
  T_RUN(test_post_content_length);
  T_RUN(test_post_chunked);
  T_RUN(test_pipelined);
  T_RUN(test_every_split);
  T_RUN(test_byte_by_byte);
  T_RUN(test_every_split_chunked);
  T_RUN(test_headers_too_large);
  T_RUN(test_too_many_headers);
  T_RUN(test_body_too_large);
  T_RUN(test_malformed);
  T_RUN(test_malformed_header_name);
  T_RUN(test_upgrade);
  T_RUN(test_host_rules);
  T_RUN(test_transfer_encoding_rules);
  T_RUN(test_chunk_framing);
  T_RUN(test_chunk_extensions);
  T_RUN(test_expect_continue);
  T_RUN(test_body_is_json);
  return T_DONE();
}
