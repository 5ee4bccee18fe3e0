/*
 * chatbench: a load generator for the chat HTTP/WebSocket contract (API.md).
 *
 * One libuv loop drives N simulated users: each registers (POST /api/register),
 * logs in (POST /api/login, keeps the sid cookie), opens a WebSocket to /ws,
 * joins a room and then sends M messages keeping W of them unacknowledged.
 * The HTTP/1.1 client, the WebSocket client (handshake with SHA-1 check,
 * masked client frames, server frame parser) and the JSON scanning are all
 * here, independent of the server's code.
 *
 * Figures: acknowledged messages per second, "message" frames received by
 * all clients per second (fan-out deliveries), latency from a send to the
 * sender receiving its own "message" frame (or the ack when the server does
 * not echo), the server's VmRSS/VmHWM before and after, and every error.
 * The last line of output is machine readable and starts with "RESULT ".
 */
#define _GNU_SOURCE
#include <uv.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ROOMS 256
#define MAX_ERROR_KINDS 32
#define MAX_FRAME (16u << 20)  /* larger server frames are treated as a protocol error */
#define MAX_HTTP_RESPONSE (1u << 20)
#define READ_BUF_SIZE (256u << 10)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define QUIET_NS (3ull * 1000000000ull) /* drain ends after this long without a frame */
#define PASSWORD "chatbench-password-1"

/* ---------------------------------------------------------------------- */
/* small helpers                                                          */

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "chatbench: out of memory\n");
    exit(3);
  }
  return p;
}

/* xorshift64*: masks, WebSocket keys and name suffixes (not for secrets). */
static uint64_t rng_state;

static uint64_t rng_next(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

static void rng_bytes(unsigned char *out, size_t n) {
  while (n > 0) {
    uint64_t r = rng_next();
    for (int i = 0; i < 8 && n > 0; i++, n--) *out++ = (unsigned char)(r >> (8 * i));
  }
}

/* A growable byte buffer. */
typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

static void buf_append(buf_t *b, const char *data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, data, n);
  b->len += n;
}

static void buf_consume(buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

static void buf_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

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
/* minimal JSON scanning: top-level fields of one object                  */

typedef struct {
  const char *p; /* raw bytes: for a string, between the quotes, escapes kept */
  size_t n;
  int present;
} span_t;

typedef struct {
  span_t type, cid, text, code, room;
} fields_t;

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* p points at the opening quote; returns the byte after the closing one. */
static const char *skip_string(const char *p, const char *e) {
  for (p++; p < e; p++) {
    if (*p == '\\') {
      p++;
      continue;
    }
    if (*p == '"') return p + 1;
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
static int scan_fields(const char *p, size_t n, fields_t *f) {
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

static int span_is(const span_t *s, const char *want) {
  return s->present && key_is(s->p, s->n, want);
}

/* Parses a non-negative decimal; returns the number of digits read (0: none). */
static size_t parse_uint(const char *p, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9' && i < 19) v = v * 10 + (uint64_t)(p[i++] - '0');
  *out = v;
  return i;
}

/* ---------------------------------------------------------------------- */
/* state                                                                  */

enum { K_HTTP, K_WS };
enum { OP_REGISTER, OP_LOGIN };
enum { CS_IDLE, CS_REGISTER, CS_LOGIN, CS_WS, CS_JOINING, CS_READY, CS_FAILED, CS_DEAD };
enum { PH_SETUP, PH_SEND, PH_DRAIN, PH_DONE };
enum { F_SENT = 1, F_ACKED = 2, F_ECHOED = 4, F_FAILED = 8 };

typedef struct client client_t;

typedef struct conn {
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
} conn_t;

struct client {
  int idx;
  int room_idx;
  int room_id;
  int state;
  char user[48];
  char cookie[512];
  conn_t *conn;
  int next_seq;
  int inflight;
  int done; /* acked + failed */
  uint64_t *sent_ns;
  uint8_t *flags;
};

typedef struct {
  char url[256];
  char host[256];
  int port;
  char hostport[300];
  int clients, rooms, messages, window, size, concurrency;
  int room_ids[MAX_ROOMS];
  int n_room_ids;
  char prefix[32];
  char label[64];
  int pid;
  double timeout_s;
} opts_t;

typedef struct {
  long rss_kb, hwm_kb; /* -1: unknown */
} rss_t;

typedef struct {
  char what[96];
  uint64_t n;
} error_kind_t;

typedef struct write_req {
  uv_write_t req;
  char data[];
} write_req_t;

static struct {
  opts_t o;
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  char run_tag[12];
  client_t *clients;
  int setup_next, setup_active, setup_done, ready, ready_at_start;
  int phase;
  uint64_t t_start, t_setup_done, t_send0, t_last, t_last_rx;
  uint64_t acked, failed, abandoned, deliveries, expected, echoes;
  uint64_t registered, existed, logged_in;
  uint32_t *lat_echo, *lat_ack; /* microseconds */
  size_t n_lat_echo, n_lat_ack;
  int room_members[MAX_ROOMS];
  uint64_t room_acked[MAX_ROOMS];
  uint64_t errors;
  error_kind_t kinds[MAX_ERROR_KINDS];
  int n_kinds;
  rss_t rss_before, rss_joined, rss_after;
  double srv_cpu0, srv_cpu1, cli_cpu0, cli_cpu1; /* seconds; server -1 when unknown */
  uv_timer_t timeout, tick, close_timer;
  uv_signal_t sigint, sigterm;
  int finished, timed_out, interrupted;
  char *pattern;
  size_t pattern_len;
  char read_buf[READ_BUF_SIZE];
  int read_buf_busy;
} g;

/* ---------------------------------------------------------------------- */
/* errors and server memory                                               */

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void add_error(const char *fmt, ...) {
  char what[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  g.errors++;
  for (int i = 0; i < g.n_kinds; i++)
    if (strcmp(g.kinds[i].what, what) == 0) {
      g.kinds[i].n++;
      return;
    }
  /* The last slot collects whatever does not fit. */
  int i = g.n_kinds < MAX_ERROR_KINDS - 1 ? g.n_kinds++ : MAX_ERROR_KINDS - 1;
  if (i == MAX_ERROR_KINDS - 1) {
    if (g.n_kinds < MAX_ERROR_KINDS) g.n_kinds = MAX_ERROR_KINDS;
    snprintf(g.kinds[i].what, sizeof(g.kinds[i].what), "other kinds");
    g.kinds[i].n++;
    return;
  }
  snprintf(g.kinds[i].what, sizeof(g.kinds[i].what), "%s", what);
  g.kinds[i].n = 1;
}

static rss_t read_rss(void) {
  rss_t r = {-1, -1};
  if (g.o.pid <= 0) return r;
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", g.o.pid);
  FILE *f = fopen(path, "r");
  if (!f) return r;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) r.rss_kb = strtol(line + 6, NULL, 10);
    if (strncmp(line, "VmHWM:", 6) == 0) r.hwm_kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  return r;
}

/* User + system CPU seconds of the server process (all threads), or -1. */
static double server_cpu_s(void) {
  if (g.o.pid <= 0) return -1;
  char path[64], line[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", g.o.pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(line, 1, sizeof(line) - 1, f);
  fclose(f);
  line[n] = '\0';
  /* Fields after the parenthesised command name: state is field 3, utime 14, stime 15. */
  char *p = strrchr(line, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  long tck = sysconf(_SC_CLK_TCK);
  return tck > 0 ? (double)(ut + st) / (double)tck : -1;
}

static double self_cpu_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static const char *cpu_str(double a, double b, char *out, size_t n) {
  if (a < 0 || b < 0)
    snprintf(out, n, "na");
  else
    snprintf(out, n, "%.2f", b - a);
  return out;
}

static const char *kb_str(long kb, char *out, size_t n) {
  if (kb < 0)
    snprintf(out, n, "na");
  else
    snprintf(out, n, "%ld", kb);
  return out;
}

/* ---------------------------------------------------------------------- */
/* connections                                                            */

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void client_fail(client_t *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(void);
static void check_progress(void);
static void begin_send_phase(void);
static void setup_pump(void);

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  free(c->out);
  buf_free(&c->in);
  buf_free(&c->msg);
  free(c);
}

static conn_t *conn_new(client_t *cl, int kind) {
  conn_t *c = xcalloc(1, sizeof(*c));
  c->cl = cl;
  c->kind = kind;
  uv_tcp_init(g.loop, &c->tcp);
  c->tcp.data = c;
  cl->conn = c;
  return c;
}

static void conn_close(conn_t *c) {
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
  write_req_t *w = xmalloc(sizeof(*w) + len);
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
  write_req_t *w = xmalloc(sizeof(*w) + hdr + len);
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
  uint32_t m = (uint32_t)rng_next();
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
  conn_close(c);
}

/* Sends a close frame (1000) and closes after the queued writes are out. */
static void conn_goodbye(conn_t *c) {
  if (c->closing || c->goodbye) return;
  c->goodbye = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (c->kind == K_WS && c->ws_open) {
    const char code[2] = {(char)0x03, (char)0xE8};
    ws_send(c, 0x8, code, 2);
  }
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c);
}

/* ---------------------------------------------------------------------- */
/* clients: setup (register, login, WebSocket, join)                      */

static void http_request(client_t *cl, int op);
static void ws_connect(client_t *cl);

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  if (c->closing || !c->cl) return;
  client_t *cl = c->cl;
  if (status < 0) {
    client_fail(cl, "%s connect: %s", c->kind == K_WS ? "ws" : "http", uv_err_name(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = conn_write(c, c->out, c->out_len);
  if (rc == 0) rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc != 0) client_fail(cl, "write: %s", uv_err_name(rc));
}

static void conn_connect(conn_t *c) {
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&g.addr, on_connect);
  if (rc != 0) client_fail(c->cl, "connect: %s", uv_err_name(rc));
}

static void http_request(client_t *cl, int op) {
  char body[512];
  const char *path;
  if (op == OP_REGISTER) {
    path = "/api/register";
    cl->state = CS_REGISTER;
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\",\"email\":\"%s@example.org\"}",
             cl->user, PASSWORD, cl->user);
  } else {
    path = "/api/login";
    cl->state = CS_LOGIN;
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", cl->user, PASSWORD);
  }
  conn_t *c = conn_new(cl, K_HTTP);
  c->http_op = op;
  size_t cap = strlen(body) + strlen(path) + strlen(g.o.hostport) + 256;
  c->out = xmalloc(cap);
  int n = snprintf(c->out, cap,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatbench\r\n"
                   "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   path, g.o.hostport, strlen(body), body);
  c->out_len = (size_t)n;
  conn_connect(c);
}

static void ws_connect(client_t *cl) {
  cl->state = CS_WS;
  conn_t *c = conn_new(cl, K_WS);
  unsigned char raw[16];
  rng_bytes(raw, sizeof(raw));
  base64_encode(raw, sizeof(raw), c->ws_key);
  size_t cap = strlen(cl->cookie) + strlen(c->ws_key) + strlen(g.o.hostport) + 256;
  c->out = xmalloc(cap);
  int n = snprintf(c->out, cap,
                   "GET /ws HTTP/1.1\r\nHost: %s\r\nUser-Agent: chatbench\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Cookie: %s\r\n\r\n",
                   g.o.hostport, c->ws_key, cl->cookie);
  c->out_len = (size_t)n;
  conn_connect(c);
}

static void client_start(client_t *cl) {
  g.setup_active++;
  http_request(cl, OP_REGISTER);
}

/* The client left setup (ready or failed): start the next one. */
static void setup_finished_one(void) {
  g.setup_active--;
  g.setup_done++;
  setup_pump();
}

static void setup_pump(void) {
  if (g.phase != PH_SETUP || g.finished) return;
  while (g.setup_active < g.o.concurrency && g.setup_next < g.o.clients)
    client_start(&g.clients[g.setup_next++]);
  if (g.setup_done == g.o.clients) begin_send_phase();
}

static void client_fail(client_t *cl, const char *fmt, ...) {
  char what[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (cl->state == CS_FAILED || cl->state == CS_DEAD) return;
  if (!g.finished) add_error("%s", what);
  if (cl->conn) conn_close(cl->conn);
  int was = cl->state;
  if (was == CS_READY && g.phase != PH_SETUP) {
    /* During the run: what this client still had to send will never complete. */
    cl->state = CS_DEAD;
    g.abandoned += (uint64_t)(g.o.messages - cl->done);
    check_progress();
  } else if (was == CS_READY) {
    cl->state = CS_DEAD;
    g.ready--;
  } else {
    cl->state = CS_FAILED;
    setup_finished_one();
  }
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

static void error_code_of(const char *body, size_t n, char *out, size_t outn) {
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

static void http_done(client_t *cl, int op, int status, const char *sid, size_t sid_len,
                      const char *code) {
  if (op == OP_REGISTER) {
    if (status == 201) {
      g.registered++;
    } else if (status == 409) {
      g.existed++;
    } else {
      client_fail(cl, "register: HTTP %d %s", status, code);
      return;
    }
    http_request(cl, OP_LOGIN);
    return;
  }
  if (status != 200) {
    client_fail(cl, "login: HTTP %d %s", status, code);
    return;
  }
  if (!sid || sid_len + 1 > sizeof(cl->cookie)) {
    client_fail(cl, "login: no sid cookie");
    return;
  }
  memcpy(cl->cookie, sid, sid_len);
  cl->cookie[sid_len] = '\0';
  g.logged_in++;
  ws_connect(cl);
}

/* Returns 1 when the response is complete (and handled), 0 when more bytes are needed. */
static int http_try_complete(conn_t *c, int eof) {
  client_t *cl = c->cl;
  const char *p = c->in.p;
  const char *end = p ? memmem(p, c->in.len, "\r\n\r\n", 4) : NULL;
  if (!end) {
    if (eof) client_fail(cl, "http: connection closed before the response");
    else if (c->in.len > MAX_HTTP_RESPONSE) client_fail(cl, "http: response headers too large");
    return eof || c->in.len > MAX_HTTP_RESPONSE;
  }
  int status = 0;
  if (c->in.len < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
      sscanf(p + 9, "%3d", &status) != 1) {
    client_fail(cl, "http: malformed status line");
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
    client_fail(cl, "http: response body too large");
    return 1;
  }
  if (!eof && (clen < 0 || have < (size_t)clen)) return 0;
  if (clen >= 0 && have < (size_t)clen) {
    client_fail(cl, "http: response body cut short");
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
  error_code_of(body, have, code, sizeof(code));
  char cookie[512];
  if (sid && sid_len < sizeof(cookie)) {
    memcpy(cookie, sid, sid_len);
    cookie[sid_len] = '\0';
  }
  int op = c->http_op;
  conn_close(c);
  http_done(cl, op, status, sid && sid_len < sizeof(cookie) ? cookie : NULL, sid_len, code);
  return 1;
}

/* ---------------------------------------------------------------------- */
/* WebSocket                                                              */

static void client_ready(client_t *cl) {
  cl->state = CS_READY;
  g.ready++;
  setup_finished_one();
}

static void client_fill(client_t *cl);

/* A send finished (acked or refused): free its window slot. */
static void send_finished(client_t *cl, uint64_t seq, int ok, uint64_t now) {
  uint8_t *f = &cl->flags[seq];
  if (!(*f & F_SENT) || (*f & (F_ACKED | F_FAILED))) return;
  *f |= ok ? F_ACKED : F_FAILED;
  cl->inflight--;
  cl->done++;
  g.t_last = now;
  if (ok) {
    g.acked++;
    g.room_acked[cl->room_idx]++;
    g.expected += (uint64_t)g.room_members[cl->room_idx];
    g.lat_ack[g.n_lat_ack++] = (uint32_t)((now - cl->sent_ns[seq]) / 1000);
  } else {
    g.failed++;
  }
  client_fill(cl);
  check_progress();
}

/* Our cids are "<run tag>-<client>-<seq>"; returns the seq or -1. */
static int64_t seq_of_cid(const client_t *cl, const span_t *cid) {
  size_t tl = strlen(g.run_tag);
  if (!cid->present || cid->n <= tl + 1 || memcmp(cid->p, g.run_tag, tl) != 0 || cid->p[tl] != '-')
    return -1;
  uint64_t idx, seq;
  const char *p = cid->p + tl + 1;
  size_t n = cid->n - tl - 1;
  size_t d = parse_uint(p, n, &idx);
  if (d == 0 || d >= n || p[d] != '-' || idx != (uint64_t)cl->idx) return -1;
  size_t d2 = parse_uint(p + d + 1, n - d - 1, &seq);
  if (d2 == 0 || d2 != n - d - 1 || seq >= (uint64_t)g.o.messages) return -1;
  return (int64_t)seq;
}

static void on_message_frame(client_t *cl, const fields_t *f, uint64_t now) {
  if (g.phase != PH_SEND && g.phase != PH_DRAIN) return;
  g.deliveries++;
  g.t_last = g.t_last_rx = now;
  /* The text starts with "<run tag>:<client>:<seq> ": is this our own message? */
  const span_t *t = &f->text;
  size_t tl = strlen(g.run_tag);
  if (t->present && t->n > tl + 1 && memcmp(t->p, g.run_tag, tl) == 0 && t->p[tl] == ':') {
    uint64_t idx, seq;
    const char *p = t->p + tl + 1;
    size_t n = t->n - tl - 1;
    size_t d = parse_uint(p, n, &idx);
    if (d > 0 && d < n && p[d] == ':' && idx == (uint64_t)cl->idx &&
        parse_uint(p + d + 1, n - d - 1, &seq) > 0 && seq < (uint64_t)g.o.messages) {
      uint8_t *fl = &cl->flags[seq];
      if ((*fl & F_SENT) && !(*fl & F_ECHOED)) {
        *fl |= F_ECHOED;
        g.echoes++;
        g.lat_echo[g.n_lat_echo++] = (uint32_t)((now - cl->sent_ns[seq]) / 1000);
      }
    }
  }
  if (g.phase == PH_DRAIN) check_progress();
}

static void on_text(conn_t *c, const char *p, size_t n) {
  client_t *cl = c->cl;
  if (!cl) return;
  fields_t f;
  if (scan_fields(p, n, &f) != 0 || !f.type.present) {
    add_error("frame: not a JSON object with a type");
    return;
  }
  uint64_t now = uv_hrtime();
  if (span_is(&f.type, "message")) {
    on_message_frame(cl, &f, now);
  } else if (span_is(&f.type, "ack")) {
    int64_t seq = seq_of_cid(cl, &f.cid);
    if (seq >= 0) send_finished(cl, (uint64_t)seq, 1, now);
  } else if (span_is(&f.type, "joined")) {
    uint64_t room;
    if (cl->state == CS_JOINING && f.room.present && parse_uint(f.room.p, f.room.n, &room) > 0 &&
        room == (uint64_t)cl->room_id)
      client_ready(cl);
  } else if (span_is(&f.type, "error")) {
    char code[48];
    size_t cn = f.code.present ? f.code.n : 0;
    if (cn >= sizeof(code)) cn = sizeof(code) - 1;
    memcpy(code, f.code.present ? f.code.p : "", cn);
    code[cn] = '\0';
    if (cl->state == CS_JOINING) {
      client_fail(cl, "join: error frame %s", code);
      return;
    }
    add_error("error frame %s", code);
    int64_t seq = seq_of_cid(cl, &f.cid);
    if (seq >= 0) send_finished(cl, (uint64_t)seq, 0, now);
  }
  /* online, presence, typing and others are not counted */
}

/* Handles one complete frame. */
static void on_frame(conn_t *c, int fin, int op, const char *p, size_t n) {
  if (op >= 0x8) {
    if (!fin || n > 125) {
      client_fail(c->cl, "ws: bad control frame");
      return;
    }
    if (op == 0x8) {
      int code = n >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 1005;
      client_fail(c->cl, "ws: server closed with %d", code);
    } else if (op == 0x9) {
      ws_send(c, 0xA, p, n);
    } else if (op != 0xA) {
      client_fail(c->cl, "ws: unknown opcode %d", op);
    }
    return;
  }
  if (op == 0x0) {
    if (!c->msg_active) {
      client_fail(c->cl, "ws: continuation without a start");
      return;
    }
    buf_append(&c->msg, p, n);
    if (c->msg.len > MAX_FRAME) {
      client_fail(c->cl, "ws: message too large");
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
    client_fail(c->cl, "ws: unknown opcode %d", op);
    return;
  }
  if (c->msg_active) {
    client_fail(c->cl, "ws: new message inside a fragmented one");
    return;
  }
  if (fin) {
    on_text(c, p, n);
  } else {
    c->msg_active = 1;
    c->msg.len = 0;
    buf_append(&c->msg, p, n);
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
      client_fail(c->cl, "ws: reserved bits set");
      break;
    }
    if (h[1] & 0x80) {
      client_fail(c->cl, "ws: masked server frame");
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
      client_fail(c->cl, "ws: frame too large");
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
      client_fail(c->cl, "ws: handshake response too large");
      return -1;
    }
    return 0;
  }
  int status = 0;
  if (c->in.len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || sscanf(p + 9, "%3d", &status) != 1) {
    client_fail(c->cl, "ws: malformed handshake response");
    return -1;
  }
  if (status != 101) {
    client_fail(c->cl, "ws: upgrade refused with HTTP %d", status);
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
    client_fail(c->cl, "ws: bad Sec-WebSocket-Accept");
    return -1;
  }
  return (long)(end + 4 - p);
}

static void ws_opened(conn_t *c) {
  client_t *cl = c->cl;
  c->ws_open = 1;
  cl->state = CS_JOINING;
  char join[64];
  int n = snprintf(join, sizeof(join), "{\"type\":\"join\",\"room\":%d}", cl->room_id);
  int rc = ws_send(c, 0x1, join, (size_t)n);
  if (rc != 0) client_fail(cl, "ws: write: %s", uv_err_name(rc));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  conn_t *c = s->data;
  if (b->base == g.read_buf) g.read_buf_busy = 0;
  if (nread == 0 || c->closing || c->goodbye || !c->cl) return;
  if (nread < 0) {
    if (c->kind == K_HTTP) {
      http_try_complete(c, 1);
    } else if (nread == UV_EOF) {
      client_fail(c->cl, "ws: connection closed by the server");
    } else {
      client_fail(c->cl, "ws: read: %s", uv_err_name((int)nread));
    }
    return;
  }
  if (c->kind == K_HTTP) {
    buf_append(&c->in, b->base, (size_t)nread);
    http_try_complete(c, 0);
    return;
  }
  if (!c->ws_open) {
    buf_append(&c->in, b->base, (size_t)nread);
    long used = ws_handshake(c);
    if (used <= 0) return;
    buf_consume(&c->in, (size_t)used);
    ws_opened(c);
    if (c->closing) return;
    size_t k = ws_parse(c, c->in.p, c->in.len);
    if (!c->closing) buf_consume(&c->in, k);
    return;
  }
  if (c->in.len == 0) {
    /* Common case: parse straight from the read buffer, keep only a partial frame. */
    size_t k = ws_parse(c, b->base, (size_t)nread);
    if (!c->closing && !c->goodbye && k < (size_t)nread) buf_append(&c->in, b->base + k, (size_t)nread - k);
  } else {
    buf_append(&c->in, b->base, (size_t)nread);
    size_t k = ws_parse(c, c->in.p, c->in.len);
    if (!c->closing) buf_consume(&c->in, k);
  }
}

/* ---------------------------------------------------------------------- */
/* the run                                                                */

/* Writes the message text for (client, seq): a tag, then mixed ASCII and Chinese
 * filler up to size bytes, never splitting a UTF-8 sequence, never ending in space. */
static size_t make_text(client_t *cl, int seq, char *out, size_t cap) {
  int n = snprintf(out, cap, "%s:%d:%d ", g.run_tag, cl->idx, seq);
  size_t len = (size_t)n;
  if ((size_t)g.o.size <= len) {
    out[--len] = '\0'; /* tag only, without its trailing space */
    return len;
  }
  size_t want = (size_t)g.o.size - len;
  size_t start = (size_t)seq % 7 * 2; /* a little variety; the pattern starts with 16 ASCII bytes */
  size_t k = want;
  if (start + k > g.pattern_len) k = g.pattern_len - start;
  while (k > 0 && ((unsigned char)g.pattern[start + k] & 0xC0) == 0x80) k--;
  memcpy(out + len, g.pattern + start, k);
  len += k;
  while (len < (size_t)g.o.size) out[len++] = '.';
  if (out[len - 1] == ' ') out[len - 1] = '.';
  out[len] = '\0';
  return len;
}

static void send_message(client_t *cl, int seq) {
  size_t cap = (size_t)g.o.size + 256;
  char *text = xmalloc(cap);
  make_text(cl, seq, text, cap);
  size_t pcap = cap + 160;
  char *payload = xmalloc(pcap);
  int n = snprintf(payload, pcap, "{\"type\":\"send\",\"room\":%d,\"text\":\"%s\",\"cid\":\"%s-%d-%d\"}",
                   cl->room_id, text, g.run_tag, cl->idx, seq);
  cl->flags[seq] |= F_SENT;
  cl->sent_ns[seq] = uv_hrtime();
  int rc = ws_send(cl->conn, 0x1, payload, (size_t)n);
  free(payload);
  free(text);
  if (rc != 0) client_fail(cl, "ws: write: %s", uv_err_name(rc));
}

static void client_fill(client_t *cl) {
  while (g.phase == PH_SEND && cl->state == CS_READY && cl->conn && cl->inflight < g.o.window &&
         cl->next_seq < g.o.messages) {
    int seq = cl->next_seq++;
    cl->inflight++;
    send_message(cl, seq);
  }
}

static void begin_send_phase(void) {
  if (g.phase != PH_SETUP) return;
  g.t_setup_done = uv_hrtime();
  if (g.ready == 0) {
    finish();
    return;
  }
  g.ready_at_start = g.ready;
  for (int i = 0; i < g.o.clients; i++)
    if (g.clients[i].state == CS_READY) g.room_members[g.clients[i].room_idx]++;
  g.rss_joined = read_rss();
  g.srv_cpu0 = server_cpu_s();
  g.cli_cpu0 = self_cpu_s();
  g.phase = PH_SEND;
  g.t_send0 = g.t_last = g.t_last_rx = uv_hrtime();
  for (int i = 0; i < g.o.clients && g.phase == PH_SEND; i++) client_fill(&g.clients[i]);
  check_progress();
}

static void check_progress(void) {
  if (g.finished) return;
  if (g.phase == PH_SEND &&
      g.acked + g.failed + g.abandoned >= (uint64_t)g.ready_at_start * (uint64_t)g.o.messages)
    g.phase = PH_DRAIN;
  if (g.phase == PH_DRAIN && g.deliveries >= g.expected) finish();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  if (g.phase == PH_DRAIN && now - g.t_last_rx > QUIET_NS) finish();
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
  g.timed_out = 1;
  fprintf(stderr, "chatbench: timeout after %.0f s, reporting what completed\n", g.o.timeout_s);
  finish();
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  g.interrupted = 1;
  fprintf(stderr, "chatbench: signal %d, reporting what completed\n", signum);
  finish();
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  if (h->type == UV_TCP) {
    conn_close(h->data);
    return;
  }
  uv_close(h, NULL);
}

static void on_close_timer(uv_timer_t *t) {
  (void)t;
  uv_walk(g.loop, close_any, NULL);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double pct_ms(const uint32_t *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)(p * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1] / 1000.0;
}

static void report(void) {
  uint64_t now = uv_hrtime();
  double setup_s = ((g.t_setup_done ? g.t_setup_done : now) - g.t_start) / 1e9;
  double secs = g.t_send0 && g.t_last > g.t_send0 ? (g.t_last - g.t_send0) / 1e9 : 0;
  double mps = secs > 0 ? g.acked / secs : 0;
  double dps = secs > 0 ? g.deliveries / secs : 0;
  qsort(g.lat_echo, g.n_lat_echo, sizeof(uint32_t), cmp_u32);
  qsort(g.lat_ack, g.n_lat_ack, sizeof(uint32_t), cmp_u32);
  int echo = g.n_lat_echo > 0;
  const uint32_t *lat = echo ? g.lat_echo : g.lat_ack;
  size_t nlat = echo ? g.n_lat_echo : g.n_lat_ack;
  double p50 = pct_ms(lat, nlat, 0.50), p90 = pct_ms(lat, nlat, 0.90);
  double p99 = pct_ms(lat, nlat, 0.99), pmax = nlat ? lat[nlat - 1] / 1000.0 : 0;
  uint64_t total = (uint64_t)g.ready_at_start * (uint64_t)g.o.messages;
  uint64_t missing = g.expected > g.deliveries ? g.expected - g.deliveries : 0;
  char a[24], b[24], c[24], d[24], e[24], f[24], sc[24], cc[24];
  cpu_str(g.srv_cpu0, g.srv_cpu1, sc, sizeof sc);
  cpu_str(g.cli_cpu0, g.cli_cpu1, cc, sizeof cc);

  printf("chatbench %s: %s, %d clients, %d room(s), %d msgs/client, window %d, %d-byte texts\n",
         g.o.label, g.o.url, g.o.clients, g.o.rooms, g.o.messages, g.o.window, g.o.size);
  printf("  setup    %d/%d clients joined in %.2f s (registered %" PRIu64 ", existing %" PRIu64
         ", logged in %" PRIu64 ")\n",
         g.ready_at_start ? g.ready_at_start : g.ready, g.o.clients, setup_s, g.registered, g.existed,
         g.logged_in);
  printf("  sends    %" PRIu64 "/%" PRIu64 " acked, %" PRIu64 " refused, %" PRIu64
         " abandoned in %.3f s: %.0f msgs/s\n",
         g.acked, total, g.failed, g.abandoned, secs, mps);
  printf("  fan-out  %" PRIu64 " message frames received (expected %" PRIu64 ", missing %" PRIu64
         "): %.0f deliveries/s\n",
         g.deliveries, g.expected, missing, dps);
  if (nlat)
    printf("  latency  %s, ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%zu)\n",
           echo ? "send -> own message frame" : "send -> ack (no echo seen)", p50, p90, p99, pmax,
           nlat);
  else
    printf("  latency  no samples\n");
  if (echo)
    printf("  ack      ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%zu)\n",
           pct_ms(g.lat_ack, g.n_lat_ack, 0.5), pct_ms(g.lat_ack, g.n_lat_ack, 0.9),
           pct_ms(g.lat_ack, g.n_lat_ack, 0.99),
           g.n_lat_ack ? g.lat_ack[g.n_lat_ack - 1] / 1000.0 : 0, g.n_lat_ack);
  if (g.o.pid > 0)
    printf("  server   pid %d VmRSS kB: before %s, joined %s, after %s; VmHWM kB: before %s, after %s\n",
           g.o.pid, kb_str(g.rss_before.rss_kb, a, sizeof a), kb_str(g.rss_joined.rss_kb, b, sizeof b),
           kb_str(g.rss_after.rss_kb, c, sizeof c), kb_str(g.rss_before.hwm_kb, d, sizeof d),
           kb_str(g.rss_after.hwm_kb, e, sizeof e));
  if (g.t_send0) {
    double wall = (g.t_last > g.t_send0 ? g.t_last - g.t_send0 : 0) / 1e9;
    printf("  cpu      send phase (%.3f s): server %s s, chatbench %s s\n", wall, sc, cc);
  }
  printf("  errors   %" PRIu64 "%s\n", g.errors,
         g.timed_out ? " (timed out)" : g.interrupted ? " (interrupted)" : "");
  for (int i = 0; i < g.n_kinds; i++) printf("           %6" PRIu64 "  %s\n", g.kinds[i].n, g.kinds[i].what);
  printf("RESULT server=%s clients=%d rooms=%d messages=%" PRIu64
         " seconds=%.3f msgs_per_s=%.0f deliveries_per_s=%.0f p50_ms=%.2f p99_ms=%.2f"
         " rss_before_kb=%s rss_after_kb=%s errors=%" PRIu64
         " p90_ms=%.2f max_ms=%.2f latency=%s deliveries=%" PRIu64 " missing_deliveries=%" PRIu64
         " ready=%d rss_joined_kb=%s hwm_after_kb=%s setup_s=%.2f server_cpu_s=%s client_cpu_s=%s"
         " timed_out=%d\n",
         g.o.label, g.o.clients, g.o.rooms, g.acked, secs, mps, dps, p50, p99,
         kb_str(g.rss_before.rss_kb, a, sizeof a), kb_str(g.rss_after.rss_kb, c, sizeof c), g.errors,
         p90, pmax, echo ? "echo" : "ack", g.deliveries, missing, g.ready_at_start,
         kb_str(g.rss_joined.rss_kb, b, sizeof b), kb_str(g.rss_after.hwm_kb, f, sizeof f), setup_s,
         sc, cc, g.timed_out);
  fflush(stdout);
}

static void finish(void) {
  if (g.finished) return;
  g.finished = 1;
  if (!g.t_setup_done) g.t_setup_done = uv_hrtime();
  g.rss_after = read_rss(); /* connections still open */
  if (g.t_send0) {
    g.srv_cpu1 = server_cpu_s();
    g.cli_cpu1 = self_cpu_s();
  } else {
    g.srv_cpu0 = g.srv_cpu1 = g.cli_cpu0 = -1;
  }
  g.phase = PH_DONE;
  report();
  uv_timer_stop(&g.timeout);
  uv_timer_stop(&g.tick);
  uv_close((uv_handle_t *)&g.timeout, NULL);
  uv_close((uv_handle_t *)&g.tick, NULL);
  uv_close((uv_handle_t *)&g.sigint, NULL);
  uv_close((uv_handle_t *)&g.sigterm, NULL);
  for (int i = 0; i < g.o.clients; i++)
    if (g.clients[i].conn) conn_goodbye(g.clients[i].conn);
  /* Whatever has not closed within 2 s is closed without waiting. */
  uv_timer_init(g.loop, &g.close_timer);
  uv_timer_start(&g.close_timer, on_close_timer, 2000, 0);
  uv_unref((uv_handle_t *)&g.close_timer);
}

/* ---------------------------------------------------------------------- */
/* options                                                                */

static void usage(FILE *out) {
  fputs("usage: chatbench --url http://HOST:PORT [options]\n"
        "  --clients N        simulated users (default 50)\n"
        "  --rooms R          rooms the clients are spread over (default 1)\n"
        "  --room-ids 1,2,3   room ids to use (default 1, the lobby); rooms must exist\n"
        "  --messages M       messages each client sends (default 200)\n"
        "  --window W         unacknowledged sends in flight per client (default 8)\n"
        "  --size BYTES       bytes of message text, mixed ASCII and Chinese (default 64)\n"
        "  --prefix NAME      username prefix (default random, so reruns do not collide)\n"
        "  --pid PID          server process to sample VmRSS/VmHWM from\n"
        "  --label NAME       server label for the RESULT line (default server)\n"
        "  --timeout SECONDS  stop and report after this long (default 120)\n"
        "  --concurrency C    clients in setup (register/login/connect) at once (default 32)\n",
        out);
}

static int parse_int_opt(const char *name, const char *v, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) {
    fprintf(stderr, "chatbench: %s wants an integer in %ld..%ld, got '%s'\n", name, lo, hi, v);
    return -1;
  }
  *out = (int)x;
  return 0;
}

static int parse_url(opts_t *o, const char *url) {
  if (strlen(url) >= sizeof(o->url) || strncmp(url, "http://", 7) != 0) {
    fprintf(stderr, "chatbench: --url must look like http://HOST:PORT\n");
    return -1;
  }
  snprintf(o->url, sizeof(o->url), "%s", url);
  const char *h = url + 7;
  const char *slash = strchr(h, '/');
  size_t hl = slash ? (size_t)(slash - h) : strlen(h);
  char hp[256];
  if (hl == 0 || hl >= sizeof(hp)) return -1;
  memcpy(hp, h, hl);
  hp[hl] = '\0';
  snprintf(o->hostport, sizeof(o->hostport), "%s", hp);
  char *colon = strrchr(hp, ':');
  o->port = 80;
  if (colon && !strchr(colon, ']')) {
    *colon = '\0';
    if (parse_int_opt("--url port", colon + 1, 1, 65535, &o->port) != 0) return -1;
  }
  char *host = hp;
  if (host[0] == '[') {
    host++;
    char *rb = strchr(host, ']');
    if (rb) *rb = '\0';
  }
  snprintf(o->host, sizeof(o->host), "%s", host);
  return 0;
}

static int parse_args(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->clients = 50;
  o->rooms = 1;
  o->messages = 200;
  o->window = 8;
  o->size = 64;
  o->concurrency = 32;
  o->timeout_s = 120;
  o->room_ids[0] = 1;
  o->n_room_ids = 1;
  snprintf(o->label, sizeof(o->label), "server");
  int have_url = 0, have_ids = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "chatbench: %s needs a value (or is unknown)\n", a);
      return -1;
    }
    const char *v = argv[++i];
    if (strcmp(a, "--url") == 0) {
      if (parse_url(o, v) != 0) return -1;
      have_url = 1;
    } else if (strcmp(a, "--clients") == 0) {
      if (parse_int_opt(a, v, 1, 100000, &o->clients)) return -1;
    } else if (strcmp(a, "--rooms") == 0) {
      if (parse_int_opt(a, v, 1, MAX_ROOMS, &o->rooms)) return -1;
    } else if (strcmp(a, "--messages") == 0) {
      if (parse_int_opt(a, v, 1, 10000000, &o->messages)) return -1;
    } else if (strcmp(a, "--window") == 0) {
      if (parse_int_opt(a, v, 1, 100000, &o->window)) return -1;
    } else if (strcmp(a, "--size") == 0) {
      if (parse_int_opt(a, v, 1, 60000, &o->size)) return -1;
    } else if (strcmp(a, "--concurrency") == 0) {
      if (parse_int_opt(a, v, 1, 100000, &o->concurrency)) return -1;
    } else if (strcmp(a, "--pid") == 0) {
      if (parse_int_opt(a, v, 1, 0x7fffffff, &o->pid)) return -1;
    } else if (strcmp(a, "--timeout") == 0) {
      char *end;
      o->timeout_s = strtod(v, &end);
      if (*end || end == v || !(o->timeout_s > 0) || o->timeout_s > 86400) {
        fprintf(stderr, "chatbench: --timeout wants seconds in (0, 86400]\n");
        return -1;
      }
    } else if (strcmp(a, "--label") == 0) {
      snprintf(o->label, sizeof(o->label), "%s", v);
      for (char *p = o->label; *p; p++)
        if (*p == ' ' || *p == '=' || *p == '\t') *p = '_';
    } else if (strcmp(a, "--prefix") == 0) {
      if (strlen(v) < 1 || strlen(v) > 20) {
        fprintf(stderr, "chatbench: --prefix wants 1-20 characters\n");
        return -1;
      }
      for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-')) {
          fprintf(stderr, "chatbench: --prefix may hold letters, digits, _ . - only\n");
          return -1;
        }
      snprintf(o->prefix, sizeof(o->prefix), "%s", v);
    } else if (strcmp(a, "--room-ids") == 0) {
      o->n_room_ids = 0;
      char tmp[2048];
      snprintf(tmp, sizeof(tmp), "%s", v);
      for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_room_ids >= MAX_ROOMS) {
          fprintf(stderr, "chatbench: at most %d room ids\n", MAX_ROOMS);
          return -1;
        }
        if (parse_int_opt("--room-ids", tok, 1, 0x7fffffff, &o->room_ids[o->n_room_ids])) return -1;
        o->n_room_ids++;
      }
      if (o->n_room_ids == 0) return -1;
      have_ids = 1;
    } else {
      fprintf(stderr, "chatbench: unknown option %s\n", a);
      return -1;
    }
  }
  if (!have_url) {
    fprintf(stderr, "chatbench: --url is required\n");
    return -1;
  }
  int rooms_given = 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--rooms") == 0) rooms_given = 1;
  if (have_ids && !rooms_given) o->rooms = o->n_room_ids;
  if (o->rooms > o->n_room_ids) {
    fprintf(stderr,
            "chatbench: --rooms %d needs %d room ids (--room-ids 1,2,...); rooms other than the "
            "lobby must exist on the server\n",
            o->rooms, o->rooms);
    return -1;
  }
  if (o->rooms > o->clients) o->rooms = o->clients;
  return 0;
}

static int resolve(void) {
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  char port[16];
  snprintf(port, sizeof(port), "%d", g.o.port);
  int rc = uv_getaddrinfo(g.loop, &req, NULL, g.o.host, port, &hints);
  if (rc != 0) {
    fprintf(stderr, "chatbench: cannot resolve %s: %s\n", g.o.host, uv_strerror(rc));
    return -1;
  }
  memcpy(&g.addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Each client holds one socket at a time. */
  if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)g.o.clients + 32 > rl.rlim_cur)
    fprintf(stderr, "chatbench: warning: %d clients but only %llu file descriptors\n", g.o.clients,
            (unsigned long long)rl.rlim_cur);
}

static void make_pattern(void) {
  static const char unit[] = "chat bench text 你好，世界 hello 消息 測試 ok 聊天室 123 ";
  size_t ul = strlen(unit);
  size_t want = (size_t)g.o.size + 64;
  g.pattern_len = 0;
  g.pattern = xmalloc(want + ul + 1);
  while (g.pattern_len < want) {
    memcpy(g.pattern + g.pattern_len, unit, ul);
    g.pattern_len += ul;
  }
  g.pattern[g.pattern_len] = '\0';
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (parse_args(argc, argv, &g.o) != 0) {
    usage(stderr);
    return 2;
  }
  rng_state = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
  if (rng_state == 0) rng_state = 1;
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 8; i++) g.run_tag[i] = alnum[rng_next() % 36];
  g.run_tag[8] = '\0';
  if (!g.o.prefix[0]) snprintf(g.o.prefix, sizeof(g.o.prefix), "cb%.6s", g.run_tag);

  raise_nofile();
  g.loop = uv_default_loop();
  if (resolve() != 0) return 2;
  make_pattern();

  size_t total = (size_t)g.o.clients * (size_t)g.o.messages;
  g.lat_echo = xmalloc(total * sizeof(uint32_t));
  g.lat_ack = xmalloc(total * sizeof(uint32_t));
  g.clients = xcalloc((size_t)g.o.clients, sizeof(client_t));
  for (int i = 0; i < g.o.clients; i++) {
    client_t *cl = &g.clients[i];
    cl->idx = i;
    cl->room_idx = i % g.o.rooms;
    cl->room_id = g.o.room_ids[cl->room_idx];
    snprintf(cl->user, sizeof(cl->user), "%s_%d", g.o.prefix, i);
    cl->sent_ns = xcalloc((size_t)g.o.messages, sizeof(uint64_t));
    cl->flags = xcalloc((size_t)g.o.messages, 1);
  }

  g.rss_joined.rss_kb = g.rss_joined.hwm_kb = -1;
  g.rss_after = g.rss_joined;
  g.rss_before = read_rss();
  if (g.o.pid > 0 && g.rss_before.rss_kb < 0)
    fprintf(stderr, "chatbench: warning: cannot read /proc/%d/status\n", g.o.pid);
  g.t_start = uv_hrtime();
  uv_timer_init(g.loop, &g.timeout);
  uv_timer_start(&g.timeout, on_timeout, (uint64_t)(g.o.timeout_s * 1000), 0);
  uv_timer_init(g.loop, &g.tick);
  uv_timer_start(&g.tick, on_tick, 100, 100);
  uv_signal_init(g.loop, &g.sigint);
  uv_signal_start(&g.sigint, on_signal, SIGINT);
  uv_signal_init(g.loop, &g.sigterm);
  uv_signal_start(&g.sigterm, on_signal, SIGTERM);

  setup_pump();
  uv_run(g.loop, UV_RUN_DEFAULT);

  int rc = g.acked > 0 ? 0 : 1;
  if (rc != 0) fprintf(stderr, "chatbench: no message completed\n");
  /* close_timer is unreferenced: close it if the loop ended before it fired. */
  if (!uv_is_closing((uv_handle_t *)&g.close_timer)) {
    uv_close((uv_handle_t *)&g.close_timer, NULL);
    uv_run(g.loop, UV_RUN_DEFAULT);
  }
  for (int i = 0; i < g.o.clients; i++) {
    free(g.clients[i].sent_ns);
    free(g.clients[i].flags);
  }
  free(g.clients);
  free(g.lat_echo);
  free(g.lat_ack);
  free(g.pattern);
  uv_loop_close(g.loop);
  return rc;
}
