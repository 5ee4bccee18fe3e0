/* HTTP/1.1 request parsing on top of llhttp, and response framing.
 *
 * A chat_http_req_t reads one request at a time from a byte stream: feed it
 * what arrived; it says whether a whole request is ready, whether it asked
 * for an Upgrade, whether it waits for "100 Continue", or whether the peer
 * broke a rule (then error_status says which answer to give: 400, 413, 417
 * or 431).  Limits (core/limits.h): the request line and headers together at
 * most CHAT_HTTP_MAX_HEADER bytes in at most CHAT_HTTP_MAX_HEADERS lines, a
 * body at most CHAT_HTTP_MAX_BODY bytes, chunk extensions at most
 * CHAT_HTTP_MAX_CHUNK_EXT bytes per request.
 *
 * Besides llhttp's own checks (Debian's llhttp 8.1, not in strict mode),
 * these are refused with 400:
 *   - an HTTP/1.1 request without a Host header, any request with more than
 *     one, or a Host value that is not host[:port];
 *   - Transfer-Encoding in an HTTP/1.0 request, or any Transfer-Encoding but
 *     exactly "chunked" (llhttp refuses it together with Content-Length);
 *   - chunked framing that is not exact: each size line and each chunk's
 *     data must end in CRLF (llhttp 8.1 skips those two bytes unread), the
 *     last chunk must be followed by CRLF at once (no trailer fields), and
 *     chunk extensions must fit CHAT_HTTP_MAX_CHUNK_EXT;
 * an Expect other than "100-continue" gets 417, and chunk sizes adding up
 * past CHAT_HTTP_MAX_BODY get 413 as soon as the size line arrives. */
#ifndef CHAT_NET_HTTP_H
#define CHAT_NET_HTTP_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/limits.h"
#include "../core/rbuf.h"

enum {
  CHAT_HTTP_MORE = 0,     /* all input consumed, no complete request yet */
  CHAT_HTTP_REQUEST = 1,  /* a complete request is ready */
  CHAT_HTTP_UPGRADE = 2,  /* a complete request asking for an Upgrade; the
                             bytes after *consumed belong to the new protocol */
  CHAT_HTTP_CONTINUE = 3, /* the head of a request with "Expect:
                             100-continue" is complete and its body is yet
                             to come; *consumed ends at the head.  Either
                             send CHAT_HTTP_100_CONTINUE and feed on, or
                             answer now and close without reading the body */
  CHAT_HTTP_ERROR = -1,   /* bad input: answer error_status and close */
};

/* The interim answer that invites the body of an Expect: 100-continue
 * request. */
#define CHAT_HTTP_100_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/* The check of chunked framing, beside llhttp's (http.c). */
typedef struct {
  int active;                 /* reading a chunked body */
  int state;
  uint64_t size;              /* the chunk size being read, then the data
                                 bytes of the chunk still to come */
  uint64_t declared;          /* chunk sizes of this request so far */
  size_t ext_bytes;           /* chunk extension bytes of this request */
  uint64_t max;               /* files: the body limit (0: CHAT_HTTP_MAX_BODY) */
} chat_http_chunks_t;

typedef struct {
  uint32_t name_off, name_len, val_off, val_len;
} chat_http_header_t;

typedef struct chat_http_req_s {
  llhttp_t parser;
  int method;                 /* llhttp_method_t */
  /* Request line and headers, copied in as they arrive: url at offset 0.
   * Both arrays grow with what arrives (up to CHAT_HTTP_MAX_HEADER bytes and
   * CHAT_HTTP_MAX_HEADERS entries), so a small request costs little. */
  char *head;
  size_t head_len, head_cap;
  size_t url_len;
  chat_http_header_t *headers;
  int nheaders, headers_cap;
  int in_field;               /* inside a header name */
  char *body;                 /* malloc'ed, NUL-terminated, or NULL */
  size_t body_len;
  size_t body_cap;
  int complete;
  int keep_alive;
  int error_status;           /* 400, 413, 417 or 431 after CHAT_HTTP_ERROR */
  int nhost;                  /* Host header lines */
  int headers_done;           /* the head is complete */
  int head_paused;            /* llhttp paused at the end of the head */
  int body_expected;          /* the head announced a body (a Content-Length
                                 over 0, or chunked) */
  int expect_continue;        /* Expect: 100-continue with a body to come */
  chat_http_chunks_t chunks;
  /* files: a request's own body limit.  When the head is complete,
   * body_limit (if set; kept across requests) names the largest body this
   * request may have (e.g. uploads), else CHAT_HTTP_MAX_BODY; max_body is
   * that limit for the current request. */
  size_t (*body_limit)(const struct chat_http_req_s *r, void *data);
  void *body_limit_data;
  size_t max_body;
} chat_http_req_t;

void chat_http_req_init(chat_http_req_t *r);
/* Frees what the request allocated; it can be initialised again. */
void chat_http_req_free(chat_http_req_t *r);
/* Parses data[0..len).  *consumed is how many bytes belong to this request
 * (all of them for CHAT_HTTP_MORE; up to the end of the head for
 * CHAT_HTTP_CONTINUE, after which the method, url and headers are set and
 * the rest is fed as usual).  After CHAT_HTTP_REQUEST, handle the request,
 * then call chat_http_req_next and feed the remaining bytes. */
int chat_http_req_feed(chat_http_req_t *r, const char *data, size_t len,
                       size_t *consumed);
/* Forgets the current request and gets ready for the next one on the same
 * connection. */
void chat_http_req_next(chat_http_req_t *r);

/* The value of a header (case-insensitive name) or NULL; *len its length.
 * Points into the request; not NUL-terminated. */
const char *chat_http_header(const chat_http_req_t *r, const char *name,
                             size_t *len);
/* The url split into path and query (not NUL-terminated). */
void chat_http_url(const chat_http_req_t *r, const char **path,
                   size_t *path_len, const char **query, size_t *query_len);
/* Finds the value of cookie name in the Cookie header(s); NULL if absent. */
const char *chat_http_cookie(const chat_http_req_t *r, const char *name,
                             size_t *len);
/* Finds a query parameter's raw value; NULL if absent. */
const char *chat_http_query_param(const char *query, size_t query_len,
                                  const char *name, size_t *len);
/* 1 if the request has a body: one that arrived, or, before the request is
 * complete (CHAT_HTTP_CONTINUE), one its head announced. */
int chat_http_req_has_body(const chat_http_req_t *r);
/* 1 if the request has exactly one Content-Type header and it names
 * application/json (any case), with parameters or none, where a charset
 * parameter must be utf-8. */
int chat_http_body_is_json(const chat_http_req_t *r);
/* 1 if the header's comma-separated value list holds token (any case). */
int chat_http_header_has_token(const chat_http_req_t *r, const char *name,
                               const char *token);

/* The reason phrase for a status code. */
const char *chat_http_reason(int status);

/* Builds a whole response: status line, Content-Length, Connection (keep
 * alive or close), the extra header lines (each ending in "\r\n"; may be
 * NULL), Content-Type (if not NULL) and the body (omitted when head_only,
 * as for HEAD requests, while Content-Length still counts it). */
chat_rbuf_t *chat_http_response(int status, const char *content_type,
                                const char *extra_headers, const void *body,
                                size_t body_len, int keep_alive,
                                int head_only);

#endif
