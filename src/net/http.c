#include "http.h"

#include <assert.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/common.h"
#include "../core/sb.h"

/* The first sizes of the growing head and header arrays: enough for most
 * requests (a browser's WebSocket handshake with its cookie is under 1 KiB,
 * in about 15 lines). */
#define HEAD_MIN 1024
#define HEADERS_MIN 16
/* After a request, arrays larger than these are freed; smaller ones are
 * kept for the next request of the connection. */
#define HEAD_KEEP 4096
#define HEADERS_KEEP 32

static chat_http_req_t *req_of(llhttp_t *p) {
  return container_of(p, chat_http_req_t, parser);
}

/* Copies a piece of the request line or headers into head, failing with 431
 * when the head grows past its limit. */
static int head_append(chat_http_req_t *r, const char *at, size_t len) {
  if (r->head_len + len > CHAT_HTTP_MAX_HEADER) {
    r->error_status = 431;
    return -1;
  }
  if (r->head_len + len > r->head_cap) {
    size_t cap = r->head_cap ? r->head_cap : HEAD_MIN;
    while (cap < r->head_len + len) cap *= 2;
    if (cap > CHAT_HTTP_MAX_HEADER) cap = CHAT_HTTP_MAX_HEADER;
    r->head = chat_xrealloc(r->head, cap);
    r->head_cap = cap;
  }
  memcpy(r->head + r->head_len, at, len);
  r->head_len += len;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  chat_http_req_t *r = req_of(p);
  if (head_append(r, at, len)) return -1;
  r->url_len += len;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  chat_http_req_t *r = req_of(p);
  /* Trailer fields after a chunked body are refused, not kept with the
   * headers (the chunk check refuses them too). */
  if (r->headers_done) return -1;
  if (!r->in_field) {
    /* A new header begins. */
    if (r->nheaders == CHAT_HTTP_MAX_HEADERS) {
      r->error_status = 431;
      return -1;
    }
    if (r->nheaders == r->headers_cap) {
      int cap = r->headers_cap ? r->headers_cap * 2 : HEADERS_MIN;
      if (cap > CHAT_HTTP_MAX_HEADERS) cap = CHAT_HTTP_MAX_HEADERS;
      r->headers = chat_xrealloc(r->headers, (size_t)cap * sizeof(*r->headers));
      r->headers_cap = cap;
    }
    chat_http_header_t *h = &r->headers[r->nheaders++];
    h->name_off = (uint32_t)r->head_len;
    h->name_len = 0;
    h->val_off = (uint32_t)r->head_len;
    h->val_len = 0;
    r->in_field = 1;
  }
  if (head_append(r, at, len)) return -1;
  r->headers[r->nheaders - 1].name_len += (uint32_t)len;
  return 0;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int on_header_field_complete(llhttp_t *p) {
  chat_http_req_t *r = req_of(p);
  chat_http_header_t *h = &r->headers[r->nheaders - 1];
  if (h->name_len == 0) return -1;
  for (uint32_t i = 0; i < h->name_len; i++)
    if (!is_tchar((unsigned char)r->head[h->name_off + i])) return -1;
  if (h->name_len == 4 && strncasecmp(r->head + h->name_off, "host", 4) == 0) r->nhost++;
  r->in_field = 0;
  r->headers[r->nheaders - 1].val_off = (uint32_t)r->head_len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  chat_http_req_t *r = req_of(p);
  chat_http_header_t *h = &r->headers[r->nheaders - 1];
  if (head_append(r, at, len)) return -1;
  h->val_len += (uint32_t)len;
  return 0;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* The value of header i without trailing white space. */
static void header_value(const chat_http_req_t *r, int i, const char **v, size_t *n) {
  *v = r->head + r->headers[i].val_off;
  *n = r->headers[i].val_len;
  while (*n > 0 && is_ows((*v)[*n - 1])) (*n)--;
}

static int header_named(const chat_http_req_t *r, int i, const char *name) {
  size_t nlen = strlen(name);
  return r->headers[i].name_len == nlen &&
         strncasecmp(r->head + r->headers[i].name_off, name, nlen) == 0;
}

/* RFC 3986 reg-name characters (unreserved, sub-delims, '%'). */
static int is_host_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("-._~%!$&'()*+,;=", c) != NULL);
}

/* Host = uri-host [ ":" port ] (RFC 9112, 3.2); empty is allowed. */
static int host_valid(const char *s, size_t n) {
  size_t i = 0;
  if (n > 0 && s[0] == '[') {
    /* An IP literal. */
    for (i = 1; i < n && s[i] != ']'; i++)
      if (!is_host_char((unsigned char)s[i]) && s[i] != ':') return 0;
    if (i == n) return 0;
    i++;
  } else {
    for (; i < n && s[i] != ':'; i++)
      if (!is_host_char((unsigned char)s[i])) return 0;
  }
  if (i == n) return 1;
  if (s[i] != ':') return 0;
  for (i++; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* 1 if the request's Transfer-Encoding is exactly one "chunked". */
static int te_is_chunked(const chat_http_req_t *r) {
  int seen = 0;
  for (int i = 0; i < r->nheaders; i++) {
    if (!header_named(r, i, "transfer-encoding")) continue;
    const char *v;
    size_t n;
    header_value(r, i, &v, &n);
    if (seen++ || n != 7 || strncasecmp(v, "chunked", 7) != 0) return 0;
  }
  return seen == 1;
}

/* Reads the Expect headers: 1 for "100-continue", 0 for none, -1 for any
 * other expectation. */
static int expectation(const chat_http_req_t *r) {
  int cont = 0;
  for (int i = 0; i < r->nheaders; i++) {
    if (!header_named(r, i, "expect")) continue;
    const char *s, *end;
    size_t n;
    header_value(r, i, &s, &n);
    end = s + n;
    while (s < end) {
      while (s < end && (is_ows(*s) || *s == ',')) s++;
      const char *t = s;
      while (s < end && *s != ',') s++;
      const char *te = s;
      while (te > t && is_ows(te[-1])) te--;
      if (te == t) continue;
      if (te - t != 12 || strncasecmp(t, "100-continue", 12) != 0) return -1;
      cont = 1;
    }
  }
  return cont;
}

static int refuse(chat_http_req_t *r, int status) {
  r->error_status = status;
  return -1;
}

/* The checks llhttp leaves to us (see http.h), in the order listed there;
 * then pauses where the caller or the chunk check needs to know where the
 * head ends. */
static int on_headers_complete(llhttp_t *p) {
  chat_http_req_t *r = req_of(p);
  r->method = llhttp_get_method(p);
  r->headers_done = 1;
  r->in_field = 0;
  int http11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
  if (r->nhost > 1 || (http11 && r->nhost == 0)) return refuse(r, 400);
  for (int i = 0; i < r->nheaders && r->nhost; i++) {
    const char *v;
    size_t n;
    if (!header_named(r, i, "host")) continue;
    header_value(r, i, &v, &n);
    if (!host_valid(v, n)) return refuse(r, 400);
  }
  if ((p->flags & F_TRANSFER_ENCODING) && (!http11 || !te_is_chunked(r)))
    return refuse(r, 400);
  r->max_body = r->body_limit ? r->body_limit(r, r->body_limit_data) : CHAT_HTTP_MAX_BODY;
  r->chunks.max = r->max_body;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->max_body)
    return refuse(r, 413);
  r->body_expected = (p->flags & F_CHUNKED) ||
                     ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  /* An HTTP/1.0 client cannot expect anything (RFC 9110, 10.1.1). */
  int expect = http11 ? expectation(r) : 0;
  if (expect < 0) return refuse(r, 417);
  r->expect_continue = expect && r->body_expected;
  if ((p->flags & F_CHUNKED) || r->expect_continue) {
    r->head_paused = 1;
    return HPE_PAUSED;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  chat_http_req_t *r = req_of(p);
  if (r->body_len + len > r->max_body) {
    r->error_status = 413;
    return -1;
  }
  if (r->body_len + len + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 1024;
    while (cap < r->body_len + len + 1) cap *= 2;
    r->body = chat_xrealloc(r->body, cap);
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  chat_http_req_t *r = req_of(p);
  r->complete = 1;
  r->keep_alive = llhttp_should_keep_alive(p);
  /* One request at a time: the connection answers it before reading on. */
  return HPE_PAUSED;
}

/* The parser's callbacks: filled once per process (pthread_once, so servers on
 * loops of several threads may start together), only read afterwards. */
static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void settings_init(void) {
  llhttp_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_header_field_complete = on_header_field_complete;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

/* Forgets what the checks of one request found. */
static void reset_checks(chat_http_req_t *r) {
  r->nhost = 0;
  r->headers_done = 0;
  r->head_paused = 0;
  r->body_expected = 0;
  r->expect_continue = 0;
  memset(&r->chunks, 0, sizeof(r->chunks));
}

void chat_http_req_init(chat_http_req_t *r) {
  pthread_once(&settings_once, settings_init);
  memset(r, 0, sizeof(*r));
  r->head = NULL;
  r->headers = NULL;
  r->head_len = r->head_cap = 0;
  r->headers_cap = 0;
  r->url_len = 0;
  r->nheaders = 0;
  r->in_field = 0;
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  r->complete = 0;
  r->keep_alive = 0;
  r->error_status = 0;
  r->body_limit = NULL;
  r->body_limit_data = NULL;
  r->max_body = CHAT_HTTP_MAX_BODY;
  reset_checks(r);
  llhttp_init(&r->parser, HTTP_REQUEST, &settings);
}

void chat_http_req_free(chat_http_req_t *r) {
  free(r->body);
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  free(r->head);
  r->head = NULL;
  r->head_len = r->head_cap = 0;
  free(r->headers);
  r->headers = NULL;
  r->nheaders = r->headers_cap = 0;
}

void chat_http_req_next(chat_http_req_t *r) {
  r->head_len = 0;
  r->url_len = 0;
  r->nheaders = 0;
  if (r->head_cap > HEAD_KEEP) {
    free(r->head);
    r->head = NULL;
    r->head_cap = 0;
  }
  if (r->headers_cap > HEADERS_KEEP) {
    free(r->headers);
    r->headers = NULL;
    r->headers_cap = 0;
  }
  r->in_field = 0;
  r->body_len = 0;
  if (r->body_cap > 64 * 1024) {
    free(r->body);
    r->body = NULL;
    r->body_cap = 0;
  }
  r->complete = 0;
  r->keep_alive = 0;
  r->error_status = 0;
  reset_checks(r);
  llhttp_resume(&r->parser);
}

/* ---- chunked framing ------------------------------------------------------
 *
 * llhttp 8.1 outside its strict mode skips the byte after the CR of a chunk
 * size line and the two bytes after a chunk's data without looking at them,
 * so "5\r\nhelloXY0\r\n\r\n" passes as a chunk.  A second reading of the
 * bytes of every chunked body checks the framing exactly:
 *
 *   chunk      = 1*HEXDIG [ ";" extensions ] CRLF data CRLF
 *   last-chunk = 1*"0" [ ";" extensions ] CRLF CRLF   (no trailer fields)
 *
 * llhttp still checks the characters of sizes and extensions; this adds the
 * line ends, the limit on extension bytes, and a 413 as soon as the sizes
 * add up past the body limit.  It reads ahead of llhttp: llhttp is given
 * only the bytes before the first one this check refuses, so the first
 * fault in the stream decides the answer however the input was split. */

enum {
  CK_SIZE,       /* the first digit of a chunk size */
  CK_SIZE_MORE,  /* more digits, ';' or CR */
  CK_EXT,        /* extensions, up to CR */
  CK_SIZE_LF,
  CK_DATA,
  CK_DATA_CR,
  CK_DATA_LF,
  CK_END_CR,     /* after the last chunk's line: CRLF, no trailers */
  CK_END_LF,
  CK_DONE,
};

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads data[0..len) of a chunked body and returns how many bytes are
 * well-framed: all of them, or up to the end of the body (CK_DONE), or up
 * to the first bad byte, with *status set to 400 or 413. */
static size_t chunks_check(chat_http_chunks_t *k, const char *data, size_t len, int *status) {
  size_t i = 0;
  *status = 0;
  while (i < len && k->state != CK_DONE) {
    char c = data[i];
    int d;
    switch (k->state) {
      case CK_SIZE:
      case CK_SIZE_MORE:
        if ((d = hex_digit(c)) >= 0) {
          k->size = k->size * 16 + (uint64_t)d;
          if (k->declared + k->size > (k->max ? k->max : CHAT_HTTP_MAX_BODY)) {
            *status = 413;
            return i;
          }
          k->state = CK_SIZE_MORE;
        } else if (k->state == CK_SIZE_MORE && (c == ';' || c == '\r')) {
          k->state = c == ';' ? CK_EXT : CK_SIZE_LF;
          if (c == ';' && ++k->ext_bytes > CHAT_HTTP_MAX_CHUNK_EXT) goto bad;
        } else {
          goto bad;
        }
        break;
      case CK_EXT:
        if (c == '\r') {
          k->state = CK_SIZE_LF;
        } else if (c == '\n' || ++k->ext_bytes > CHAT_HTTP_MAX_CHUNK_EXT) {
          goto bad;
        }
        break;
      case CK_SIZE_LF:
        if (c != '\n') goto bad;
        k->declared += k->size;
        k->state = k->size ? CK_DATA : CK_END_CR;
        break;
      case CK_DATA: {
        size_t take = len - i;
        if (take > k->size) take = (size_t)k->size;
        k->size -= take;
        i += take;
        if (k->size == 0) k->state = CK_DATA_CR;
        continue;
      }
      case CK_DATA_CR:
      case CK_END_CR:
        if (c != '\r') goto bad;
        k->state = k->state == CK_DATA_CR ? CK_DATA_LF : CK_END_LF;
        break;
      case CK_DATA_LF:
        if (c != '\n') goto bad;
        k->state = CK_SIZE;
        k->size = 0;
        break;
      case CK_END_LF:
        if (c != '\n') goto bad;
        k->state = CK_DONE;
        break;
    }
    i++;
  }
  return i;
bad:
  *status = 400;
  return i;
}

int chat_http_req_feed(chat_http_req_t *r, const char *data, size_t len,
                       size_t *consumed) {
  size_t off = 0;
  for (;;) {
    /* What llhttp may read: with a chunked body, only what is well-framed. */
    size_t limit = len;
    int chunk_status = 0;
    int chunked = r->chunks.active;
    if (chunked) limit = off + chunks_check(&r->chunks, data + off, len - off, &chunk_status);
    llhttp_errno_t err = HPE_OK;
    size_t end = limit;
    if (limit > off) err = llhttp_execute(&r->parser, data + off, limit - off);
    if (err != HPE_OK) {
      const char *pos = llhttp_get_error_pos(&r->parser);
      if (pos) end = (size_t)(pos - data);
    }
    off = end;
    *consumed = off;
    if (err == HPE_OK) {
      if (chunk_status) {
        r->error_status = chunk_status;
        return CHAT_HTTP_ERROR;
      }
      if (chunked && r->chunks.state == CK_DONE) break;  /* llhttp did not end there */
      *consumed = len;
      return CHAT_HTTP_MORE;
    }
    if (err == HPE_PAUSED && r->head_paused) {
      r->head_paused = 0;
      llhttp_resume(&r->parser);
      if (r->parser.flags & F_CHUNKED) r->chunks.active = 1;
      if (r->expect_continue) return CHAT_HTTP_CONTINUE;
      continue;
    }
    if (err == HPE_PAUSED && r->complete) {
      /* Both readings must end the body at the same byte. */
      if (chunked && (r->chunks.state != CK_DONE || end != limit)) break;
      r->chunks.active = 0;
      /* The pause at the end of each message comes before llhttp's own
       * check for an Upgrade, so look at the flag here. */
      return r->parser.upgrade ? CHAT_HTTP_UPGRADE : CHAT_HTTP_REQUEST;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      r->complete = 1;
      return CHAT_HTTP_UPGRADE;
    }
    if (r->error_status == 0) r->error_status = 400;
    return CHAT_HTTP_ERROR;
  }
  r->error_status = 400;
  return CHAT_HTTP_ERROR;
}

int chat_http_req_has_body(const chat_http_req_t *r) {
  return r->body_len > 0 || (!r->complete && r->body_expected);
}

/* Skips optional white space. */
static const char *skip_ows(const char *s, const char *end) {
  while (s < end && is_ows(*s)) s++;
  return s;
}

/* Reads a token or a quoted string from s; returns its end, or NULL. */
static const char *param_value(const char *s, const char *end) {
  if (s < end && *s == '"') {
    for (s++; s < end && *s != '"'; s++)
      if (*s == '\\' && ++s == end) return NULL;
    return s < end ? s + 1 : NULL;
  }
  const char *t = s;
  while (s < end && is_tchar((unsigned char)*s)) s++;
  return s > t ? s : NULL;
}

int chat_http_body_is_json(const chat_http_req_t *r) {
  int found = -1;
  for (int i = 0; i < r->nheaders; i++) {
    if (!header_named(r, i, "content-type")) continue;
    if (found >= 0) return 0;
    found = i;
  }
  if (found < 0) return 0;
  const char *s, *end;
  size_t n;
  header_value(r, found, &s, &n);
  end = s + n;
  static const char json[] = "application/json";
  size_t jl = sizeof(json) - 1;
  if (n < jl || strncasecmp(s, json, jl) != 0) return 0;
  s += jl;
  /* Parameters: *( OWS ";" OWS [ name "=" value ] ) (RFC 9110, 8.3.1). */
  for (;;) {
    s = skip_ows(s, end);
    if (s == end) return 1;
    if (*s++ != ';') return 0;
    s = skip_ows(s, end);
    if (s == end || *s == ';') continue;
    const char *name = s;
    while (s < end && is_tchar((unsigned char)*s)) s++;
    size_t name_len = (size_t)(s - name);
    if (name_len == 0 || s == end || *s++ != '=') return 0;
    const char *v = s;
    s = param_value(s, end);
    if (s == NULL) return 0;
    if (name_len == 7 && strncasecmp(name, "charset", 7) == 0) {
      size_t vl = (size_t)(s - v);
      if (*v == '"') v++, vl -= 2;
      if (vl != 5 || strncasecmp(v, "utf-8", 5) != 0) return 0;
    }
  }
}

const char *chat_http_header(const chat_http_req_t *r, const char *name,
                             size_t *len) {
  size_t nlen = strlen(name);
  for (int i = 0; i < r->nheaders; i++) {
    const chat_http_header_t *h = &r->headers[i];
    if (h->name_len == nlen && strncasecmp(r->head + h->name_off, name, nlen) == 0) {
      *len = h->val_len;
      return r->head + h->val_off;
    }
  }
  *len = 0;
  return NULL;
}

void chat_http_url(const chat_http_req_t *r, const char **path,
                   size_t *path_len, const char **query, size_t *query_len) {
  const char *url = r->head ? r->head : "";  /* nothing read yet */
  const char *q = memchr(url, '?', r->url_len);
  *path = url;
  if (q) {
    *path_len = (size_t)(q - url);
    *query = q + 1;
    *query_len = r->url_len - *path_len - 1;
  } else {
    *path_len = r->url_len;
    *query = "";
    *query_len = 0;
  }
}

const char *chat_http_cookie(const chat_http_req_t *r, const char *name,
                             size_t *len) {
  size_t nlen = strlen(name);
  for (int i = 0; i < r->nheaders; i++) {
    const chat_http_header_t *h = &r->headers[i];
    if (h->name_len != 6 || strncasecmp(r->head + h->name_off, "cookie", 6) != 0)
      continue;
    const char *s = r->head + h->val_off, *end = s + h->val_len;
    while (s < end) {
      while (s < end && (is_ows(*s) || *s == ';')) s++;
      const char *eq = memchr(s, '=', (size_t)(end - s));
      const char *semi = memchr(s, ';', (size_t)(end - s));
      if (semi == NULL) semi = end;
      if (eq && eq < semi && (size_t)(eq - s) == nlen && memcmp(s, name, nlen) == 0) {
        const char *v = eq + 1, *ve = semi;
        while (ve > v && is_ows(ve[-1])) ve--;
        if (ve - v >= 2 && *v == '"' && ve[-1] == '"') v++, ve--;
        *len = (size_t)(ve - v);
        return v;
      }
      s = semi;
    }
  }
  *len = 0;
  return NULL;
}

const char *chat_http_query_param(const char *query, size_t query_len,
                                  const char *name, size_t *len) {
  size_t nlen = strlen(name);
  const char *s = query, *end = query + query_len;
  while (s < end) {
    const char *amp = memchr(s, '&', (size_t)(end - s));
    if (amp == NULL) amp = end;
    const char *eq = memchr(s, '=', (size_t)(amp - s));
    const char *key_end = eq ? eq : amp;
    if ((size_t)(key_end - s) == nlen && memcmp(s, name, nlen) == 0) {
      *len = eq ? (size_t)(amp - eq - 1) : 0;
      return eq ? eq + 1 : amp;
    }
    s = amp + 1;
  }
  *len = 0;
  return NULL;
}

int chat_http_header_has_token(const chat_http_req_t *r, const char *name,
                               const char *token) {
  size_t tlen = strlen(token), nlen = strlen(name);
  for (int i = 0; i < r->nheaders; i++) {
    const chat_http_header_t *h = &r->headers[i];
    if (h->name_len != nlen || strncasecmp(r->head + h->name_off, name, nlen) != 0)
      continue;
    const char *s = r->head + h->val_off, *end = s + h->val_len;
    while (s < end) {
      while (s < end && (is_ows(*s) || *s == ',')) s++;
      const char *t = s;
      while (s < end && *s != ',') s++;
      const char *te = s;
      while (te > t && is_ows(te[-1])) te--;
      if ((size_t)(te - t) == tlen && strncasecmp(t, token, tlen) == 0) return 1;
    }
  }
  return 0;
}

const char *chat_http_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

static char *put(char *p, const char *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Written with memcpy, not printf: the static files and the room list are
 * answered tens of thousands of times a second, and formatting was a
 * twentieth of that. */
chat_rbuf_t *chat_http_response(int status, const char *content_type,
                                const char *extra_headers, const void *body,
                                size_t body_len, int keep_alive,
                                int head_only) {
  const char *reason = chat_http_reason(status);
  size_t reason_len = strlen(reason);
  size_t type_len = content_type ? strlen(content_type) : 0;
  size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
  size_t send_body = (head_only || status == 204 || status == 304) ? 0 : body_len;
  /* "HTTP/1.1 NNN " reason, the Connection, Content-Length and
   * Content-Type lines with their longest values, the extra headers, the
   * blank line and the body. */
  size_t cap = 13 + reason_len + 2 + sizeof("Connection: keep-alive\r\n") +
               sizeof("Content-Length: \r\n") + CHAT_INT_CHARS + sizeof("Content-Type: \r\n") +
               type_len + extra_len + 2 + send_body;
  chat_rbuf_t *b = chat_rbuf_new(cap);
  char *p = (char *)b->data;
  p = PUT_LIT(p, "HTTP/1.1 ");
  p += chat_fmt_int(p, status >= 100 && status <= 999 ? status : 500);
  *p++ = ' ';
  p = put(p, reason, reason_len);
  p = keep_alive ? PUT_LIT(p, "\r\nConnection: keep-alive\r\n")
                 : PUT_LIT(p, "\r\nConnection: close\r\n");
  if (status != 204 && status != 304) {
    p = PUT_LIT(p, "Content-Length: ");
    p += chat_fmt_int(p, (int64_t)body_len);
    p = PUT_LIT(p, "\r\n");
  }
  if (content_type) {
    p = PUT_LIT(p, "Content-Type: ");
    p = put(p, content_type, type_len);
    p = PUT_LIT(p, "\r\n");
  }
  if (extra_len) p = put(p, extra_headers, extra_len);
  p = PUT_LIT(p, "\r\n");
  if (send_body) p = put(p, body, send_body);
  b->len = (size_t)(p - (char *)b->data);
  assert(b->len <= cap);
  return b;
}
