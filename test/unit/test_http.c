#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rbuf.h"
#include "net/http.h"
#include "net/route.h"
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

/* A response buffer as a NUL-terminated string (bodies used here hold no
 * NUL). */
static char *rbuf_str(const chat_rbuf_t *b) {
  char *s = chat_xmalloc(b->len + 1);
  memcpy(s, b->data, b->len);
  s[b->len] = '\0';
  return s;
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
  bytes_puts(&in, "GET / HTTP/1.1\r\nX-Big: ");
  /* head holds "/", "X-Big" and the value: 1 + 5 + value. */
  for (int i = 0; i < CHAT_HTTP_MAX_HEADER - 6; i++) bytes_add(&in, "a", 1);
  bytes_puts(&in, "\r\n\r\n");
  T_EQ_INT(chat_http_req_feed(r, in.p, in.len, &consumed), CHAT_HTTP_REQUEST);
  size_t len = 0;
  T_CHECK(chat_http_header(r, "x-big", &len) != NULL);
  T_EQ_INT(len, CHAT_HTTP_MAX_HEADER - 6);
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
                    "POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n",
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
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
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
      "GET / HTTP/1.1\r\nContent-Length : 0\r\n\r\n",  /* space before ':' */
      "GET / HTTP/1.1\r\nHost\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
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
      "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
      "GET / HTTP/1.1\r\n: novalue\r\n\r\n",
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

/* ---- responses -------------------------------------------------------- */

/* What llhttp, as a client, reads from a response. */
typedef struct {
  int complete;
  int status;
  size_t body_len;
} parsed_resp_t;

static int resp_body_cb(llhttp_t *p, const char *at, size_t len) {
  (void)at;
  ((parsed_resp_t *)p->data)->body_len += len;
  return 0;
}

static int resp_complete_cb(llhttp_t *p) {
  parsed_resp_t *pr = p->data;
  pr->complete++;
  pr->status = llhttp_get_status_code(p);
  return 0;
}

/* Parses a whole response; returns llhttp's error code. */
static int parse_response(const chat_rbuf_t *b, parsed_resp_t *pr) {
  llhttp_t p;
  llhttp_settings_t st;
  memset(pr, 0, sizeof(*pr));
  llhttp_settings_init(&st);
  st.on_body = resp_body_cb;
  st.on_message_complete = resp_complete_cb;
  llhttp_init(&p, HTTP_RESPONSE, &st);
  p.data = pr;
  return (int)llhttp_execute(&p, (const char *)b->data, b->len);
}

static void test_response(void) {
  const char *body = "{\"ok\":true}";
  chat_rbuf_t *b = chat_http_response(200, "application/json",
                                      "X-A: 1\r\nSet-Cookie: sid=x; HttpOnly\r\n",
                                      body, strlen(body), 1, 0);
  char *s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 11\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nConnection: keep-alive\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nContent-Type: application/json\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nX-A: 1\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nSet-Cookie: sid=x; HttpOnly\r\n") != NULL);
  char *end = strstr(s, "\r\n\r\n");
  T_CHECK(end != NULL);
  if (end) T_EQ_STR(end + 4, body);
  T_EQ_INT(b->len, strlen(s));
  parsed_resp_t pr;
  T_EQ_INT(parse_response(b, &pr), HPE_OK);
  T_EQ_INT(pr.complete, 1);
  T_EQ_INT(pr.status, 200);
  T_EQ_INT(pr.body_len, strlen(body));
  free(s);
  chat_rbuf_unref(b);

  /* The response parses back with llhttp as one whole response. */
  b = chat_http_response(404, "text/plain", NULL, "nope", 4, 0, 0);
  s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
  T_CHECK(strstr(s, "\r\nConnection: close\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nContent-Length: 4\r\n") != NULL);
  end = strstr(s, "\r\n\r\n");
  if (end) T_EQ_STR(end + 4, "nope");
  T_EQ_INT(parse_response(b, &pr), HPE_OK);
  T_EQ_INT(pr.complete, 1);
  T_EQ_INT(pr.status, 404);
  T_EQ_INT(pr.body_len, 4);
  free(s);
  chat_rbuf_unref(b);

  /* No content type, no extra headers, empty body. */
  b = chat_http_response(201, NULL, NULL, NULL, 0, 1, 0);
  s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 201 Created\r\n", 22) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 0\r\n") != NULL);
  T_CHECK(strstr(s, "Content-Type") == NULL);
  T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
  free(s);
  chat_rbuf_unref(b);
}

static void test_response_head(void) {
  const char *body = "hello world";
  chat_rbuf_t *b = chat_http_response(200, "text/plain", NULL, body,
                                      strlen(body), 1, 1);
  char *s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 11\r\n") != NULL);
  T_CHECK(strstr(s, "hello") == NULL);
  T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
  free(s);
  chat_rbuf_unref(b);
}

static void test_response_no_body_statuses(void) {
  static const int statuses[] = {204, 304};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(statuses); i++) {
    chat_rbuf_t *b = chat_http_response(statuses[i], NULL, "ETag: \"x\"\r\n",
                                        "zzz", 3, 1, 0);
    char *s = rbuf_str(b);
    char want[64];
    snprintf(want, sizeof(want), "HTTP/1.1 %d %s\r\n", statuses[i],
             chat_http_reason(statuses[i]));
    T_CHECK(strncmp(s, want, strlen(want)) == 0);
    T_CHECK(strstr(s, "Content-Length") == NULL);
    T_CHECK(strstr(s, "zzz") == NULL);
    T_CHECK(strstr(s, "\r\nETag: \"x\"\r\n") != NULL);
    T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
    parsed_resp_t pr;
    T_EQ_INT(parse_response(b, &pr), HPE_OK);
    T_EQ_INT(pr.complete, 1);
    T_EQ_INT(pr.status, statuses[i]);
    T_EQ_INT(pr.body_len, 0);
    free(s);
    chat_rbuf_unref(b);
  }
  T_EQ_STR(chat_http_reason(204), "No Content");
  T_EQ_STR(chat_http_reason(304), "Not Modified");
  T_EQ_STR(chat_http_reason(413), "Content Too Large");
  T_EQ_STR(chat_http_reason(431), "Request Header Fields Too Large");
}

/* ---- routes ----------------------------------------------------------- */

typedef struct {
  int method;
  const char *path;
  chat_route_id_t id;
  int64_t id0, id1;
} route_case_t;

static int route(int method, const char *path, chat_route_match_t *m) {
  return chat_route_match(method, path, strlen(path), m);
}

static void test_route_table(void) {
  static const route_case_t cases[] = {
      {HTTP_POST, "/api/register", CHAT_ROUTE_REGISTER, 0, 0},
      {HTTP_POST, "/api/login", CHAT_ROUTE_LOGIN, 0, 0},
      {HTTP_POST, "/api/logout", CHAT_ROUTE_LOGOUT, 0, 0},
      {HTTP_GET, "/api/me", CHAT_ROUTE_ME, 0, 0},
      {HTTP_POST, "/api/password", CHAT_ROUTE_PASSWORD, 0, 0},
      {HTTP_GET, "/api/rooms", CHAT_ROUTE_ROOMS_LIST, 0, 0},
      {HTTP_POST, "/api/rooms", CHAT_ROUTE_ROOMS_CREATE, 0, 0},
      {HTTP_PATCH, "/api/rooms/7", CHAT_ROUTE_ROOM_UPDATE, 7, 0},
      {HTTP_DELETE, "/api/rooms/123456", CHAT_ROUTE_ROOM_DELETE, 123456, 0},
      {HTTP_GET, "/api/rooms/99/messages", CHAT_ROUTE_ROOM_MESSAGES, 99, 0},
      {HTTP_GET, "/api/users/online", CHAT_ROUTE_USERS_ONLINE, 0, 0},
      {HTTP_GET, "/healthz", CHAT_ROUTE_HEALTHZ, 0, 0},
      {HTTP_GET, "/metrics", CHAT_ROUTE_METRICS, 0, 0},
      {HTTP_GET, "/ws", CHAT_ROUTE_WS, 0, 0},
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(cases); i++) {
    const route_case_t *c = &cases[i];
    chat_route_match_t m;
    int st = route(c->method, c->path, &m);
    if (st != 200 || m.id != c->id)
      fprintf(stderr, "route %s: status %d id %d\n", c->path, st, (int)m.id);
    T_EQ_INT(st, 200);
    T_EQ_INT(m.id, c->id);
    T_EQ_INT(m.ids[0], c->id0);
    T_EQ_INT(m.ids[1], c->id1);

    /* HEAD takes GET routes and only those. */
    st = route(HTTP_HEAD, c->path, &m);
    if (c->method == HTTP_GET) {
      T_EQ_INT(st, 200);
      T_EQ_INT(m.id, c->id);
      T_EQ_INT(m.ids[0], c->id0);
    } else if (strcmp(c->path, "/api/rooms") != 0) {
      T_EQ_INT(st, 405);
    }
  }

  /* The path length bounds the match, not a NUL. */
  chat_route_match_t m;
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/meX", 7, &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ME);
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 13, &m), 405);
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 12, &m), 405);
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 11, &m), 404);

  /* The biggest id that fits the 18-digit limit. */
  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/999999999999999999", &m), 200);
  T_EQ_INT(m.ids[0], 999999999999999999LL);
  /* Leading zeros still denote a positive integer. */
  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/007", &m), 200);
  T_EQ_INT(m.ids[0], 7);
}

/* 1 if the comma-separated allow list holds exactly the methods in want
 * (NULL-terminated), in any order. */
static int allow_is(const char *allow, const char *const *want) {
  size_t nwant = 0;
  unsigned seen = 0;  /* bit i: want[i] was listed */
  while (want[nwant]) nwant++;
  const char *s = allow;
  while (*s) {
    while (*s == ',' || *s == ' ') s++;
    if (*s == '\0') break;
    const char *t = s;
    while (*s && *s != ',' && *s != ' ') s++;
    size_t tlen = (size_t)(s - t);
    int hit = -1;
    for (size_t i = 0; i < nwant; i++)
      if (strlen(want[i]) == tlen && memcmp(t, want[i], tlen) == 0) hit = (int)i;
    if (hit < 0 || (seen & (1u << hit))) return 0;  /* unknown or repeated */
    seen |= 1u << hit;
  }
  return seen == (1u << nwant) - 1;
}

static void test_route_405(void) {
  chat_route_match_t m;
  static const char *const rooms[] = {"GET", "HEAD", "POST", NULL};
  static const char *const room[] = {"PATCH", "DELETE", NULL};
  static const char *const get_only[] = {"GET", "HEAD", NULL};
  static const char *const post_only[] = {"POST", NULL};

  T_EQ_INT(route(HTTP_DELETE, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));
  T_EQ_INT(m.id, CHAT_ROUTE_NONE);
  T_EQ_INT(route(HTTP_PUT, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));
  T_EQ_INT(route(HTTP_PATCH, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));

  T_EQ_INT(route(HTTP_GET, "/api/rooms/5", &m), 405);
  T_CHECK(allow_is(m.allow, room));
  T_EQ_INT(route(HTTP_POST, "/api/rooms/5", &m), 405);
  T_CHECK(allow_is(m.allow, room));
  T_EQ_INT(route(HTTP_HEAD, "/api/rooms/5", &m), 405);
  T_CHECK(allow_is(m.allow, room));

  T_EQ_INT(route(HTTP_POST, "/api/rooms/5/messages", &m), 405);
  T_CHECK(allow_is(m.allow, get_only));
  static const char *const me[] = {"GET", "HEAD", "PATCH", NULL};
  T_EQ_INT(route(HTTP_POST, "/api/me", &m), 405);
  T_CHECK(allow_is(m.allow, me));
  T_EQ_INT(route(HTTP_GET, "/api/friends/bob", &m), 405);
  T_CHECK(allow_is(m.allow, (const char *const[]){"DELETE", NULL}));
  T_EQ_INT(route(HTTP_GET, "/api/admin/users/bob/ban", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));
  T_EQ_INT(route(HTTP_DELETE, "/healthz", &m), 405);
  T_CHECK(allow_is(m.allow, get_only));

  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/5/messages/7", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_MESSAGE_DELETE);
  T_EQ_INT(m.ids[0], 5);
  T_EQ_INT(m.ids[1], 7);
  T_EQ_INT(route(HTTP_GET, "/api/dm/%E5%BC%A0%E4%B8%89/messages", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_DM_MESSAGES);
  T_EQ_STR(m.name, "张三");
  T_EQ_INT(route(HTTP_POST, "/api/admin/users/alice/unban", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ADMIN_UNBAN);
  T_EQ_STR(m.name, "alice");
  T_EQ_INT(route(HTTP_GET, "/api/login", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));
  T_EQ_INT(route(HTTP_HEAD, "/api/register", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));

  /* The self-check of allow_is itself. */
  T_CHECK(!allow_is("GET, HEAD", rooms));
  T_CHECK(!allow_is("GET, HEAD, POST, PUT", rooms));
  T_CHECK(allow_is("POST, GET, HEAD", rooms));
  T_CHECK(!allow_is("GET, GET, HEAD", rooms));
  T_CHECK(!allow_is("", rooms));
}

static void test_route_404(void) {
  static const char *const paths[] = {
      "",
      "/",
      "/api",
      "/api/",
      "/apii/me",
      "/api/mee",
      "/api/m",
      "/API/me",
      "/index.html",
      "/api/rooms/",          /* trailing slash */
      "/api/me/",
      "/healthz/",
      "//api/rooms",          /* double slashes */
      "/api//rooms",
      "/api/rooms//5",
      "/api/rooms/5//messages",
      "/api/rooms/5/messages/",
      "/api/rooms/0",         /* bad ids */
      "/api/rooms/00",
      "/api/rooms/-1",
      "/api/rooms/+1",
      "/api/rooms/1a",
      "/api/rooms/a1",
      "/api/rooms/abc",
      "/api/rooms/1.5",
      "/api/rooms/%31",
      "/api/rooms/ 1",
      "/api/rooms/1234567890123456789",   /* 19 digits */
      "/api/rooms/99999999999999999999999999",
      "/api/rooms/0/messages",
      "/api/rooms//messages",
      "/api/rooms/x/messages",
      "/api/rooms/1/messagesx",
      "/api/rooms/1/2",
      "/api/users",
      "/api/users/online/x",
      "api/me",
      "/ws?x",
  };
  static const int methods[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PATCH,
                                HTTP_DELETE};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(paths); i++) {
    for (size_t j = 0; j < CHAT_ARRAY_SIZE(methods); j++) {
      chat_route_match_t m;
      int st = route(methods[j], paths[i], &m);
      if (st != 404)
        fprintf(stderr, "path \"%s\" method %d: status %d\n", paths[i],
                methods[j], st);
      T_EQ_INT(st, 404);
      T_EQ_INT(m.id, CHAT_ROUTE_NONE);
    }
  }
}

/* {name} segments are percent-decoded by core/pct.h's decoder: bad or cut
 * escapes and NUL make the path no route; '+' stays a plus. */
static void test_route_names(void) {
  chat_route_match_t m;
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/a+b", &m), 200);
  T_EQ_STR(m.name, "a+b");
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/a%2Fb%2b", &m), 200);
  T_EQ_STR(m.name, "a/b+");
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/%41", &m), 200);
  T_EQ_STR(m.name, "A");
  static const char *const bad[] = {
      "/api/friends/%", "/api/friends/%4", "/api/friends/a%4", "/api/friends/%zz",
      "/api/friends/%00", "/api/friends/a%00b", "/api/friends/%%41",
      "/api/dm/%E5%BC%A/messages", "/api/dm/%/messages",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    int st = route(HTTP_DELETE, bad[i], &m);
    if (st != 404) fprintf(stderr, "name path \"%s\": status %d\n", bad[i], st);
    T_EQ_INT(st, 404);
    T_CHECK(m.id == CHAT_ROUTE_NONE);
  }
  /* The decoded name fits CHAT_ROUTE_NAME_MAX with its NUL. */
  char path[1400];
  size_t n = (size_t)snprintf(path, sizeof(path), "/api/friends/");
  for (size_t i = 0; i < CHAT_ROUTE_NAME_MAX - 1; i++) path[n++] = 'x';
  path[n] = '\0';
  T_EQ_INT(route(HTTP_DELETE, path, &m), 200);
  T_EQ_INT(strlen(m.name), CHAT_ROUTE_NAME_MAX - 1);
  path[n++] = 'x';
  path[n] = '\0';
  T_EQ_INT(route(HTTP_DELETE, path, &m), 404);
  /* Escapes count once decoded: 399 escaped bytes fit. */
  n = (size_t)snprintf(path, sizeof(path), "/api/friends/");
  for (size_t i = 0; i < CHAT_ROUTE_NAME_MAX - 1; i++) n += (size_t)snprintf(path + n, 4, "%%%02X", 'a');
  T_EQ_INT(route(HTTP_DELETE, path, &m), 200);
  T_EQ_INT(strlen(m.name), CHAT_ROUTE_NAME_MAX - 1);
}

static void test_route_is_api(void) {
  static const char *const api[] = {"/api", "/api/", "/api/me", "/api/x/y"};
  static const char *const not_api[] = {"", "/", "/ap", "/apix", "/api.html",
                                        "api/me", "/API/me", "/static/api/"};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(api); i++)
    T_EQ_INT(chat_route_is_api(api[i], strlen(api[i])), 1);
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(not_api); i++)
    T_EQ_INT(chat_route_is_api(not_api[i], strlen(not_api[i])), 0);
  /* The length bounds the check. */
  T_EQ_INT(chat_route_is_api("/api/me", 4), 1);
  T_EQ_INT(chat_route_is_api("/api/me", 3), 0);
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
  T_RUN(test_response);
  T_RUN(test_response_head);
  T_RUN(test_response_no_body_statuses);
  T_RUN(test_route_table);
  T_RUN(test_route_405);
  T_RUN(test_route_404);
  T_RUN(test_route_names);
  T_RUN(test_route_is_api);
  return T_DONE();
}
