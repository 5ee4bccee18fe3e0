#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/common.h"

static chat_http_req_t *req_of(llhttp_t *p) {
  return container_of(p, chat_http_req_t, parser);
}

/* Copies a piece of the request line or headers into head, failing with 431
 * when the head grows past its limit. */
static int head_append(chat_http_req_t *r, const char *at, size_t len) {
  if (r->head_len + len > sizeof(r->head)) {
    r->error_status = 431;
    return -1;
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
  if (!r->in_field) {
    /* A new header begins. */
    if (r->nheaders == CHAT_HTTP_MAX_HEADERS) {
      r->error_status = 431;
      return -1;
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

static int on_headers_complete(llhttp_t *p) {
  chat_http_req_t *r = req_of(p);
  r->method = llhttp_get_method(p);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > CHAT_HTTP_MAX_BODY) {
    r->error_status = 413;
    return -1;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  chat_http_req_t *r = req_of(p);
  if (r->body_len + len > CHAT_HTTP_MAX_BODY) {
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

static llhttp_settings_t settings;
static int settings_ready;

void chat_http_req_init(chat_http_req_t *r) {
  if (!settings_ready) {
    /* Filled once on the loop thread; only read afterwards. */
    llhttp_settings_init(&settings);
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    settings_ready = 1;
  }
  memset(r, 0, offsetof(chat_http_req_t, head));
  r->head_len = 0;
  r->url_len = 0;
  r->nheaders = 0;
  r->in_field = 0;
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  r->complete = 0;
  r->keep_alive = 0;
  r->error_status = 0;
  llhttp_init(&r->parser, HTTP_REQUEST, &settings);
}

void chat_http_req_free(chat_http_req_t *r) {
  free(r->body);
  r->body = NULL;
  r->body_len = r->body_cap = 0;
}

void chat_http_req_next(chat_http_req_t *r) {
  r->head_len = 0;
  r->url_len = 0;
  r->nheaders = 0;
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
  llhttp_resume(&r->parser);
}

int chat_http_req_feed(chat_http_req_t *r, const char *data, size_t len,
                       size_t *consumed) {
  llhttp_errno_t err = llhttp_execute(&r->parser, data, len);
  if (err == HPE_OK) {
    *consumed = len;
    return CHAT_HTTP_MORE;
  }
  const char *pos = llhttp_get_error_pos(&r->parser);
  *consumed = pos ? (size_t)(pos - data) : len;
  /* The pause at the end of each message comes before llhttp's own check
   * for an Upgrade, so look at the flag here. */
  if (err == HPE_PAUSED && r->complete)
    return r->parser.upgrade ? CHAT_HTTP_UPGRADE : CHAT_HTTP_REQUEST;
  if (err == HPE_PAUSED_UPGRADE) {
    r->complete = 1;
    return CHAT_HTTP_UPGRADE;
  }
  if (r->error_status == 0) r->error_status = 400;
  return CHAT_HTTP_ERROR;
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
  const char *url = r->head;
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

static int is_ows(char c) { return c == ' ' || c == '\t'; }

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
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

chat_rbuf_t *chat_http_response(int status, const char *content_type,
                                const char *extra_headers, const void *body,
                                size_t body_len, int keep_alive,
                                int head_only) {
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\n"
                   "Connection: %s\r\n",
                   status, chat_http_reason(status),
                   keep_alive ? "keep-alive" : "close");
  if (status != 204 && status != 304)
    n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", body_len);
  if (content_type)
    n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n", content_type);
  size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
  size_t send_body = (head_only || status == 204 || status == 304) ? 0 : body_len;
  chat_rbuf_t *b = chat_rbuf_new((size_t)n + extra_len + 2 + send_body);
  memcpy(b->data, head, (size_t)n);
  b->len = (size_t)n;
  if (extra_len) {
    memcpy(b->data + b->len, extra_headers, extra_len);
    b->len += extra_len;
  }
  memcpy(b->data + b->len, "\r\n", 2);
  b->len += 2;
  if (send_body) {
    memcpy(b->data + b->len, body, send_body);
    b->len += send_body;
  }
  return b;
}
