/*
 * chatbench: connections to the server (bench.h).  Each client holds one at a
 * time: an HTTP/1.1 request with "Connection: close" (register, login), then
 * its WebSocket.  The HTTP client reads the status, Content-Length and the sid
 * cookie; the WebSocket client checks Sec-WebSocket-Accept (SHA-1, base64),
 * masks its frames and parses the server's (fragmented messages, pings, 16- and
 * 64-bit lengths).  Outcomes go to the bench_client_* callbacks.
 *
 * A connection is freed in its close callback, after bench_conn_close has
 * detached it from its client; callbacks of a closing connection do nothing.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FRAME (16u << 20)  /* larger server frames are treated as a protocol error */
#define MAX_HTTP_RESPONSE (1u << 20)
#define READ_BUF_SIZE (256u << 10)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { K_HTTP, K_WS };

struct bench_conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  client_t *cl;
  int kind;
  int http_op;
  int ws_open;  /* handshake completed */
  int closing;  /* uv_close called */
  int goodbye;  /* close frame sent, reading stopped */
  char *out;    /* request written once connected */
  size_t out_len;
  char ws_key[32];
  buf_t in;     /* bytes not yet parsed */
  buf_t msg;    /* a fragmented message being assembled */
  int msg_active;
  uint64_t rx_ns;  /* when the latest read returned (uv_hrtime) */
};

typedef struct bench_conn conn_t;

typedef struct write_req {
  uv_write_t req;
  char data[];
} write_req_t;

static struct {
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  char hostport[300];
  char read_buf[READ_BUF_SIZE];
  int read_buf_busy;
} g;


/* ---------------------------------------------------------------------- */
/* SHA-1 and base64 for the WebSocket handshake (RFC 3174, RFC 4648)       */

typedef struct {
  uint32_t h[5];
  uint64_t bytes;
  unsigned char block[64];
  size_t used;
} sha1_t;

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(sha1_t *s, const unsigned char *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           (uint32_t)p[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    uint32_t t = rol32(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol32(b, 30);
    b = a;
    a = t;
  }
  s->h[0] += a;
  s->h[1] += b;
  s->h[2] += c;
  s->h[3] += d;
  s->h[4] += e;
}

static void sha1_init(sha1_t *s) {
  static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  memcpy(s->h, iv, sizeof(iv));
  s->bytes = 0;
  s->used = 0;
}

static void sha1_update(sha1_t *s, const void *data, size_t n) {
  const unsigned char *p = data;
  s->bytes += n;
  while (n > 0) {
    size_t take = 64 - s->used;
    if (take > n) take = n;
    memcpy(s->block + s->used, p, take);
    s->used += take;
    p += take;
    n -= take;
    if (s->used == 64) {
      sha1_block(s, s->block);
      s->used = 0;
    }
  }
}

static void sha1_final(sha1_t *s, unsigned char out[20]) {
  uint64_t bits = s->bytes * 8;
  unsigned char pad = 0x80;
  sha1_update(s, &pad, 1);
  pad = 0;
  while (s->used != 56) sha1_update(s, &pad, 1);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
  sha1_update(s, len, 8);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

/* Writes the padded base64 of in[0..n) and a NUL; out needs 4*ceil(n/3)+1. */
static void base64_encode(const unsigned char *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    *out++ = tbl[v >> 18];
    *out++ = tbl[(v >> 12) & 63];
    *out++ = tbl[(v >> 6) & 63];
    *out++ = tbl[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
    *out++ = tbl[v >> 18];
    *out++ = tbl[(v >> 12) & 63];
    *out++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    *out++ = '=';
  }
  *out = '\0';
}

/* ---------------------------------------------------------------------- */
/* connections                                                            */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

int bench_net_init(uv_loop_t *loop, const char *host, int port, const char *hostport) {
  g.loop = loop;
  snprintf(g.hostport, sizeof(g.hostport), "%s", hostport);
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  char portstr[16];
  snprintf(portstr, sizeof(portstr), "%d", port);
  int rc = uv_getaddrinfo(loop, &req, NULL, host, portstr, &hints);
  if (rc != 0) {
    fprintf(stderr, "chatbench: cannot resolve %s: %s\n", host, uv_strerror(rc));
    return -1;
  }
  memcpy(&g.addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  free(c->out);
  bench_buf_free(&c->in);
  bench_buf_free(&c->msg);
  free(c);
}

static conn_t *conn_new(client_t *cl, int kind) {
  conn_t *c = bench_xcalloc(1, sizeof(*c));
  c->cl = cl;
  c->kind = kind;
  uv_tcp_init(g.loop, &c->tcp);
  c->tcp.data = c;
  cl->conn = c;
  return c;
}

void bench_conn_close(conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->cl && c->cl->conn == c) c->cl->conn = NULL;
  c->cl = NULL;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_write(uv_write_t *req, int status) {
  (void)status; /* a broken connection is reported by its read side */
  free(req->data);
}

/* Queues len bytes; the data is copied. Returns 0 or a libuv error. */
static int conn_write(conn_t *c, const char *data, size_t len) {
  write_req_t *w = bench_xmalloc(sizeof(*w) + len);
  memcpy(w->data, data, len);
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc != 0) free(w);
  return rc;
}

/* Builds one masked client frame around payload (RFC 6455 5.2, 5.3). */
static int ws_send(conn_t *c, int opcode, const char *payload, size_t len) {
  size_t hdr = 2 + (len < 126 ? 0 : len <= 0xFFFF ? 2 : 8) + 4;
  write_req_t *w = bench_xmalloc(sizeof(*w) + hdr + len);
  unsigned char *p = (unsigned char *)w->data;
  p[0] = (unsigned char)(0x80 | opcode);
  size_t i = 2;
  if (len < 126) {
    p[1] = (unsigned char)(0x80 | len);
  } else if (len <= 0xFFFF) {
    p[1] = 0x80 | 126;
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    i = 4;
  } else {
    p[1] = 0x80 | 127;
    for (int k = 0; k < 8; k++) p[2 + k] = (unsigned char)((uint64_t)len >> (56 - 8 * k));
    i = 10;
  }
  uint32_t m = (uint32_t)bench_rng_next();
  unsigned char mask[4] = {(unsigned char)m, (unsigned char)(m >> 8), (unsigned char)(m >> 16),
                           (unsigned char)(m >> 24)};
  memcpy(p + i, mask, 4);
  i += 4;
  for (size_t k = 0; k < len; k++) p[i + k] = (unsigned char)payload[k] ^ mask[k & 3];
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(hdr + len));
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc != 0) free(w);
  return rc;
}

int bench_ws_send_text(conn_t *c, const char *p, size_t n) { return ws_send(c, 0x1, p, n); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  (void)suggested;
  /* One shared buffer: read callbacks run one at a time and never keep it. */
  if (g.read_buf_busy) {
    *b = uv_buf_init(NULL, 0);
    return;
  }
  g.read_buf_busy = 1;
  *b = uv_buf_init(g.read_buf, sizeof(g.read_buf));
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  conn_t *c = req->data;
  bench_conn_close(c);
}

void bench_conn_goodbye(conn_t *c) {
  if (c->closing || c->goodbye) return;
  c->goodbye = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (c->kind == K_WS && c->ws_open) {
    const char code[2] = {(char)0x03, (char)0xE8};
    ws_send(c, 0x8, code, 2);
  }
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) bench_conn_close(c);
}

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  if (c->closing || !c->cl) return;
  client_t *cl = c->cl;
  if (status < 0) {
    bench_client_fail(cl, "%s connect: %s", c->kind == K_WS ? "ws" : "http", uv_err_name(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = conn_write(c, c->out, c->out_len);
  if (rc == 0) rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc != 0) bench_client_fail(cl, "write: %s", uv_err_name(rc));
}

static void conn_connect(conn_t *c) {
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&g.addr, on_connect);
  if (rc != 0) bench_client_fail(c->cl, "connect: %s", uv_err_name(rc));
}

void bench_http_post(client_t *cl, int op, const char *path, const char *body) {
  conn_t *c = conn_new(cl, K_HTTP);
  c->http_op = op;
  size_t cap = strlen(body) + strlen(path) + strlen(g.hostport) + 256;
  c->out = bench_xmalloc(cap);
  int n = snprintf(c->out, cap,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatbench\r\n"
                   "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   path, g.hostport, strlen(body), body);
  c->out_len = (size_t)n;
  conn_connect(c);
}

void bench_ws_open(client_t *cl) {
  conn_t *c = conn_new(cl, K_WS);
  unsigned char raw[16];
  bench_rng_bytes(raw, sizeof(raw));
  base64_encode(raw, sizeof(raw), c->ws_key);
  size_t cap = strlen(cl->cookie) + strlen(c->ws_key) + strlen(g.hostport) + 256;
  c->out = bench_xmalloc(cap);
  int n = snprintf(c->out, cap,
                   "GET /ws HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatbench\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Cookie: %s\r\n\r\n",
                   g.hostport, c->ws_key, cl->cookie);
  c->out_len = (size_t)n;
  conn_connect(c);
}

/* ---------------------------------------------------------------------- */
/* HTTP responses                                                         */

/* Finds a header's value in the header block [p, e); returns its length or -1.
 * *next (if not NULL) is set to the line after the match, to look for repeated
 * headers such as Set-Cookie. */
static long find_header(const char *p, const char *e, const char *name, const char **val,
                        const char **next) {
  size_t nl = strlen(name);
  while (p < e) {
    const char *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
    if (!eol) eol = e;
    if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      *val = v;
      if (next) *next = eol < e ? eol + 2 : e;
      return (long)(ve - v);
    }
    p = eol < e ? eol + 2 : e;
  }
  return -1;
}

/* Returns 1 when the response is complete (and handled), 0 when more bytes are needed. */
static int http_try_complete(conn_t *c, int eof) {
  client_t *cl = c->cl;
  const char *p = c->in.p;
  const char *end = p ? memmem(p, c->in.len, "\r\n\r\n", 4) : NULL;
  if (!end) {
    if (eof) bench_client_fail(cl, "http: connection closed before the response");
    else if (c->in.len > MAX_HTTP_RESPONSE)
      bench_client_fail(cl, "http: response headers too large");
    return eof || c->in.len > MAX_HTTP_RESPONSE;
  }
  int status = 0;
  if (c->in.len < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
      sscanf(p + 9, "%3d", &status) != 1) {
    bench_client_fail(cl, "http: malformed status line");
    return 1;
  }
  const char *hdr = memmem(p, (size_t)(end - p), "\r\n", 2);
  hdr = hdr ? hdr + 2 : end;
  const char *hend = end + 2; /* keep the last header's CRLF */
  const char *body = end + 4;
  size_t have = c->in.len - (size_t)(body - p);
  const char *v;
  long vl = find_header(hdr, hend, "Content-Length", &v, NULL);
  long clen = -1;
  if (vl > 0) clen = strtol(v, NULL, 10);
  if (clen >= 0 && (size_t)clen > MAX_HTTP_RESPONSE) {
    bench_client_fail(cl, "http: response body too large");
    return 1;
  }
  if (!eof && (clen < 0 || have < (size_t)clen)) return 0;
  if (clen >= 0 && have < (size_t)clen) {
    bench_client_fail(cl, "http: response body cut short");
    return 1;
  }
  /* The sid cookie, from one of possibly several Set-Cookie headers. */
  const char *sid = NULL;
  size_t sid_len = 0;
  const char *from = hdr;
  while (from < hend) {
    const char *next;
    vl = find_header(from, hend, "Set-Cookie", &v, &next);
    if (vl < 0) break;
    if (vl > 4 && strncmp(v, "sid=", 4) == 0) {
      const char *semi = memchr(v, ';', (size_t)vl);
      sid = v;
      sid_len = semi ? (size_t)(semi - v) : (size_t)vl;
      break;
    }
    from = next;
  }
  char code[48];
  bench_json_error_code(body, have, code, sizeof(code));
  char cookie[512];
  if (sid && sid_len < sizeof(cookie)) {
    memcpy(cookie, sid, sid_len);
    cookie[sid_len] = '\0';
  }
  int op = c->http_op;
  bench_conn_close(c);
  bench_client_http_done(cl, op, status, sid && sid_len < sizeof(cookie) ? cookie : NULL, sid_len,
                         code);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* WebSocket                                                              */

static void on_text(conn_t *c, const char *p, size_t n) {
  if (c->cl) bench_client_text(c->cl, p, n, c->rx_ns);
}

/* Handles one complete frame. */
static void on_frame(conn_t *c, int fin, int op, const char *p, size_t n) {
  if (op >= 0x8) {
    if (!fin || n > 125) {
      bench_client_fail(c->cl, "ws: bad control frame");
      return;
    }
    if (op == 0x8) {
      int code = n >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
      bench_client_fail(c->cl, "ws: server closed with %d", code);
    } else if (op == 0x9) {
      ws_send(c, 0xA, p, n);
    } else if (op != 0xA) {
      bench_client_fail(c->cl, "ws: unknown opcode %d", op);
    }
    return;
  }
  if (op == 0x0) {
    if (!c->msg_active) {
      bench_client_fail(c->cl, "ws: continuation without a start");
      return;
    }
    bench_buf_append(&c->msg, p, n);
    if (c->msg.len > MAX_FRAME) {
      bench_client_fail(c->cl, "ws: message too large");
      return;
    }
    if (fin) {
      c->msg_active = 0;
      on_text(c, c->msg.p, c->msg.len);
      c->msg.len = 0;
    }
    return;
  }
  if (op != 0x1 && op != 0x2) {
    bench_client_fail(c->cl, "ws: unknown opcode %d", op);
    return;
  }
  if (c->msg_active) {
    bench_client_fail(c->cl, "ws: new message inside a fragmented one");
    return;
  }
  if (fin) {
    on_text(c, p, n);
  } else {
    c->msg_active = 1;
    c->msg.len = 0;
    bench_buf_append(&c->msg, p, n);
  }
}

/* Parses complete frames from p[0..n); returns the bytes consumed. */
static size_t ws_parse(conn_t *c, const char *data, size_t n) {
  const unsigned char *p = (const unsigned char *)data;
  size_t off = 0;
  while (!c->closing && !c->goodbye && n - off >= 2) {
    const unsigned char *h = p + off;
    size_t avail = n - off;
    int fin = h[0] & 0x80, op = h[0] & 0x0F;
    if (h[0] & 0x70) {
      bench_client_fail(c->cl, "ws: reserved bits set");
      break;
    }
    if (h[1] & 0x80) {
      bench_client_fail(c->cl, "ws: masked server frame");
      break;
    }
    uint64_t len = h[1] & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (uint64_t)h[2] << 8 | h[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
      hdr = 10;
    }
    if (len > MAX_FRAME) {
      bench_client_fail(c->cl, "ws: frame too large");
      break;
    }
    if (avail < hdr + len) break;
    on_frame(c, fin != 0, op, (const char *)h + hdr, (size_t)len);
    off += hdr + (size_t)len;
  }
  return off;
}

/* Checks the 101 response; returns bytes consumed, 0 if incomplete, -1 on failure. */
static long ws_handshake(conn_t *c) {
  const char *p = c->in.p;
  const char *end = memmem(p, c->in.len, "\r\n\r\n", 4);
  if (!end) {
    if (c->in.len > MAX_HTTP_RESPONSE) {
      bench_client_fail(c->cl, "ws: handshake response too large");
      return -1;
    }
    return 0;
  }
  int status = 0;
  if (c->in.len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || sscanf(p + 9, "%3d", &status) != 1) {
    bench_client_fail(c->cl, "ws: malformed handshake response");
    return -1;
  }
  if (status != 101) {
    bench_client_fail(c->cl, "ws: upgrade refused with HTTP %d", status);
    return -1;
  }
  char want[64];
  unsigned char digest[20];
  sha1_t s;
  sha1_init(&s);
  sha1_update(&s, c->ws_key, strlen(c->ws_key));
  sha1_update(&s, WS_GUID, strlen(WS_GUID));
  sha1_final(&s, digest);
  base64_encode(digest, sizeof(digest), want);
  const char *v;
  long vl = find_header(p, end + 2, "Sec-WebSocket-Accept", &v, NULL);
  if (vl != (long)strlen(want) || memcmp(v, want, (size_t)vl) != 0) {
    bench_client_fail(c->cl, "ws: bad Sec-WebSocket-Accept");
    return -1;
  }
  return (long)(end + 4 - p);
}

static void ws_opened(conn_t *c) {
  c->ws_open = 1;
  bench_client_ws_open(c->cl);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  conn_t *c = s->data;
  if (b->base == g.read_buf) g.read_buf_busy = 0;
  if (nread == 0 || c->closing || c->goodbye || !c->cl) return;
  if (nread < 0) {
    if (c->kind == K_HTTP) {
      http_try_complete(c, 1);
    } else if (nread == UV_EOF) {
      bench_client_fail(c->cl, "ws: connection closed by the server");
    } else {
      bench_client_fail(c->cl, "ws: read: %s", uv_err_name((int)nread));
    }
    return;
  }
  if (c->kind == K_HTTP) {
    bench_buf_append(&c->in, b->base, (size_t)nread);
    http_try_complete(c, 0);
    return;
  }
  if (!c->ws_open) {
    bench_buf_append(&c->in, b->base, (size_t)nread);
    long used = ws_handshake(c);
    if (used <= 0) return;
    bench_buf_consume(&c->in, (size_t)used);
    ws_opened(c);
    if (c->closing) return;
    c->rx_ns = uv_hrtime();
    size_t k = ws_parse(c, c->in.p, c->in.len);
    if (!c->closing) bench_buf_consume(&c->in, k);
    return;
  }
  /* Every message completed by this read arrived now: one clock read for
   * all of them (a read carries dozens of frames under load). */
  c->rx_ns = uv_hrtime();
  if (c->in.len == 0) {
    /* Common case: parse straight from the read buffer, keep only a partial frame. */
    size_t k = ws_parse(c, b->base, (size_t)nread);
    if (!c->closing && !c->goodbye && k < (size_t)nread)
      bench_buf_append(&c->in, b->base + k, (size_t)nread - k);
  } else {
    bench_buf_append(&c->in, b->base, (size_t)nread);
    size_t k = ws_parse(c, c->in.p, c->in.len);
    if (!c->closing) bench_buf_consume(&c->in, k);
  }
  bench_client_read_done(c->rx_ns);
}
