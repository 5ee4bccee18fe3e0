/*
 * chatbench: a load generator for the chat HTTP/WebSocket contract (API.md).
 *
 * One libuv loop drives N simulated users: each registers (POST /api/register),
 * logs in (POST /api/login, keeps the sid cookie), opens a WebSocket to /ws,
 * joins a room and then sends M messages keeping W of them unacknowledged.
 * This file holds the options, the scenario (each client's setup steps, the
 * send window, the drain) and main; the HTTP/1.1 and WebSocket clients are in
 * bench_net.c, the JSON scanning in bench_json.c and the figures and report in
 * bench_stats.c (bench.h), all independent of the server's code.
 *
 * Figures: acknowledged messages per second, "message" frames received by
 * all clients per second (fan-out deliveries), latency from a send to the
 * sender receiving its own "message" frame (or the ack when the server does
 * not echo), the server's VmRSS/VmHWM before and after, and every error.
 * The last line of output is machine readable and starts with "RESULT ".
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define QUIET_NS (3ull * 1000000000ull) /* drain ends after this long without a frame */
#define PASSWORD "chatbench-password-1"

enum { PH_SETUP, PH_SEND, PH_DRAIN, PH_DONE };
enum { F_SENT = 1, F_ACKED = 2, F_ECHOED = 4, F_FAILED = 8 };

static struct {
  opts_t o;
  uv_loop_t *loop;
  char run_tag[12];
  client_t *clients;
  int setup_next, setup_active, setup_done;
  int phase;
  uint64_t t_last_rx, echoes;
  int room_members[MAX_ROOMS];
  uint64_t room_acked[MAX_ROOMS];
  figures_t fig;
  uv_timer_t timeout, tick, close_timer;
  uv_signal_t sigint, sigterm;
  int finished;
  char *pattern;
  size_t pattern_len;
} g;

static void finish(void);
static void check_progress(void);
static void begin_send_phase(void);
static void setup_pump(void);

/* ---------------------------------------------------------------------- */
/* clients: setup (register, login, WebSocket, join)                      */

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
  bench_http_post(cl, op, path, body);
}

static void ws_connect(client_t *cl) {
  cl->state = CS_WS;
  bench_ws_open(cl);
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

void bench_client_fail(client_t *cl, const char *fmt, ...) {
  char what[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (cl->state == CS_FAILED || cl->state == CS_DEAD) return;
  if (!g.finished) bench_error_add("%s", what);
  if (cl->conn) bench_conn_close(cl->conn);
  int was = cl->state;
  if (was == CS_READY && g.phase != PH_SETUP) {
    /* During the run: what this client still had to send will never complete. */
    cl->state = CS_DEAD;
    g.fig.abandoned += (uint64_t)(g.o.messages - cl->done);
    check_progress();
  } else if (was == CS_READY) {
    cl->state = CS_DEAD;
    g.fig.ready--;
  } else {
    cl->state = CS_FAILED;
    setup_finished_one();
  }
}

void bench_client_http_done(client_t *cl, int op, int status, const char *sid, size_t sid_len,
                            const char *code) {
  if (op == OP_REGISTER) {
    if (status == 201) {
      g.fig.registered++;
    } else if (status == 409) {
      g.fig.existed++;
    } else {
      bench_client_fail(cl, "register: HTTP %d %s", status, code);
      return;
    }
    http_request(cl, OP_LOGIN);
    return;
  }
  if (status != 200) {
    bench_client_fail(cl, "login: HTTP %d %s", status, code);
    return;
  }
  if (!sid || sid_len + 1 > sizeof(cl->cookie)) {
    bench_client_fail(cl, "login: no sid cookie");
    return;
  }
  memcpy(cl->cookie, sid, sid_len);
  cl->cookie[sid_len] = '\0';
  g.fig.logged_in++;
  ws_connect(cl);
}

/* ---------------------------------------------------------------------- */
/* WebSocket: join, then count acks and message frames                    */

void bench_client_ws_open(client_t *cl) {
  cl->state = CS_JOINING;
  char join[64];
  int n = snprintf(join, sizeof(join), "{\"type\":\"join\",\"room\":%d}", cl->room_id);
  int rc = bench_ws_send_text(cl->conn, join, (size_t)n);
  if (rc != 0) bench_client_fail(cl, "ws: write: %s", uv_err_name(rc));
}

static void client_ready(client_t *cl) {
  cl->state = CS_READY;
  g.fig.ready++;
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
  g.fig.t_last = now;
  if (ok) {
    g.fig.acked++;
    g.room_acked[cl->room_idx]++;
    g.fig.expected += (uint64_t)g.room_members[cl->room_idx];
    g.fig.lat_ack[g.fig.n_lat_ack++] = (uint32_t)((now - cl->sent_ns[seq]) / 1000);
  } else {
    g.fig.failed++;
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
  size_t d = bench_json_uint(p, n, &idx);
  if (d == 0 || d >= n || p[d] != '-' || idx != (uint64_t)cl->idx) return -1;
  size_t d2 = bench_json_uint(p + d + 1, n - d - 1, &seq);
  if (d2 == 0 || d2 != n - d - 1 || seq >= (uint64_t)g.o.messages) return -1;
  return (int64_t)seq;
}

static void on_message_frame(client_t *cl, const fields_t *f, uint64_t now) {
  if (g.phase != PH_SEND && g.phase != PH_DRAIN) return;
  g.fig.deliveries++;
  g.fig.t_last = g.t_last_rx = now;
  /* The text starts with "<run tag>:<client>:<seq> ": is this our own message? */
  const span_t *t = &f->text;
  size_t tl = strlen(g.run_tag);
  if (t->present && t->n > tl + 1 && memcmp(t->p, g.run_tag, tl) == 0 && t->p[tl] == ':') {
    uint64_t idx, seq;
    const char *p = t->p + tl + 1;
    size_t n = t->n - tl - 1;
    size_t d = bench_json_uint(p, n, &idx);
    if (d > 0 && d < n && p[d] == ':' && idx == (uint64_t)cl->idx &&
        bench_json_uint(p + d + 1, n - d - 1, &seq) > 0 && seq < (uint64_t)g.o.messages) {
      uint8_t *fl = &cl->flags[seq];
      if ((*fl & F_SENT) && !(*fl & F_ECHOED)) {
        *fl |= F_ECHOED;
        g.echoes++;
        g.fig.lat_echo[g.fig.n_lat_echo++] = (uint32_t)((now - cl->sent_ns[seq]) / 1000);
      }
    }
  }
  if (g.phase == PH_DRAIN) check_progress();
}

void bench_client_text(client_t *cl, const char *p, size_t n) {
  fields_t f;
  if (bench_json_fields(p, n, &f) != 0 || !f.type.present) {
    bench_error_add("frame: not a JSON object with a type");
    return;
  }
  uint64_t now = uv_hrtime();
  if (bench_json_span_is(&f.type, "message")) {
    on_message_frame(cl, &f, now);
  } else if (bench_json_span_is(&f.type, "ack")) {
    int64_t seq = seq_of_cid(cl, &f.cid);
    if (seq >= 0) send_finished(cl, (uint64_t)seq, 1, now);
  } else if (bench_json_span_is(&f.type, "joined")) {
    uint64_t room;
    if (cl->state == CS_JOINING && f.room.present &&
        bench_json_uint(f.room.p, f.room.n, &room) > 0 && room == (uint64_t)cl->room_id)
      client_ready(cl);
  } else if (bench_json_span_is(&f.type, "error")) {
    char code[48];
    size_t cn = f.code.present ? f.code.n : 0;
    if (cn >= sizeof(code)) cn = sizeof(code) - 1;
    memcpy(code, f.code.present ? f.code.p : "", cn);
    code[cn] = '\0';
    if (cl->state == CS_JOINING) {
      bench_client_fail(cl, "join: error frame %s", code);
      return;
    }
    bench_error_add("error frame %s", code);
    int64_t seq = seq_of_cid(cl, &f.cid);
    if (seq >= 0) send_finished(cl, (uint64_t)seq, 0, now);
  }
  /* online, presence, typing and others are not counted */
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
  char *text = bench_xmalloc(cap);
  make_text(cl, seq, text, cap);
  size_t pcap = cap + 160;
  char *payload = bench_xmalloc(pcap);
  int n = snprintf(payload, pcap, "{\"type\":\"send\",\"room\":%d,\"text\":\"%s\",\"cid\":\"%s-%d-%d\"}",
                   cl->room_id, text, g.run_tag, cl->idx, seq);
  cl->flags[seq] |= F_SENT;
  cl->sent_ns[seq] = uv_hrtime();
  int rc = bench_ws_send_text(cl->conn, payload, (size_t)n);
  free(payload);
  free(text);
  if (rc != 0) bench_client_fail(cl, "ws: write: %s", uv_err_name(rc));
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
  g.fig.t_setup_done = uv_hrtime();
  if (g.fig.ready == 0) {
    finish();
    return;
  }
  g.fig.ready_at_start = g.fig.ready;
  for (int i = 0; i < g.o.clients; i++)
    if (g.clients[i].state == CS_READY) g.room_members[g.clients[i].room_idx]++;
  g.fig.rss_joined = bench_stats_rss(g.o.pid);
  g.fig.srv_cpu0 = bench_stats_server_cpu(g.o.pid);
  g.fig.cli_cpu0 = bench_stats_self_cpu();
  g.phase = PH_SEND;
  g.fig.t_send0 = g.fig.t_last = g.t_last_rx = uv_hrtime();
  for (int i = 0; i < g.o.clients && g.phase == PH_SEND; i++) client_fill(&g.clients[i]);
  check_progress();
}

static void check_progress(void) {
  if (g.finished) return;
  if (g.phase == PH_SEND &&
      g.fig.acked + g.fig.failed + g.fig.abandoned >=
          (uint64_t)g.fig.ready_at_start * (uint64_t)g.o.messages)
    g.phase = PH_DRAIN;
  if (g.phase == PH_DRAIN && g.fig.deliveries >= g.fig.expected) finish();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  if (g.phase == PH_DRAIN && now - g.t_last_rx > QUIET_NS) finish();
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
  g.fig.timed_out = 1;
  fprintf(stderr, "chatbench: timeout after %.0f s, reporting what completed\n", g.o.timeout_s);
  finish();
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  g.fig.interrupted = 1;
  fprintf(stderr, "chatbench: signal %d, reporting what completed\n", signum);
  finish();
}

/* Every TCP handle on the loop is a connection of bench_net. */
static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  if (h->type == UV_TCP) {
    bench_conn_close(h->data);
    return;
  }
  uv_close(h, NULL);
}

static void on_close_timer(uv_timer_t *t) {
  (void)t;
  uv_walk(g.loop, close_any, NULL);
}

static void finish(void) {
  if (g.finished) return;
  g.finished = 1;
  if (!g.fig.t_setup_done) g.fig.t_setup_done = uv_hrtime();
  g.fig.rss_after = bench_stats_rss(g.o.pid); /* connections still open */
  if (g.fig.t_send0) {
    g.fig.srv_cpu1 = bench_stats_server_cpu(g.o.pid);
    g.fig.cli_cpu1 = bench_stats_self_cpu();
  } else {
    g.fig.srv_cpu0 = g.fig.srv_cpu1 = g.fig.cli_cpu0 = -1;
  }
  g.phase = PH_DONE;
  bench_report(&g.o, &g.fig);
  uv_timer_stop(&g.timeout);
  uv_timer_stop(&g.tick);
  uv_close((uv_handle_t *)&g.timeout, NULL);
  uv_close((uv_handle_t *)&g.tick, NULL);
  uv_close((uv_handle_t *)&g.sigint, NULL);
  uv_close((uv_handle_t *)&g.sigterm, NULL);
  for (int i = 0; i < g.o.clients; i++)
    if (g.clients[i].conn) bench_conn_goodbye(g.clients[i].conn);
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
  g.pattern = bench_xmalloc(want + ul + 1);
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
  bench_rng_seed(uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull);
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int i = 0; i < 8; i++) g.run_tag[i] = alnum[bench_rng_next() % 36];
  g.run_tag[8] = '\0';
  if (!g.o.prefix[0]) snprintf(g.o.prefix, sizeof(g.o.prefix), "cb%.6s", g.run_tag);

  raise_nofile();
  g.loop = uv_default_loop();
  if (bench_net_init(g.loop, g.o.host, g.o.port, g.o.hostport) != 0) return 2;
  make_pattern();

  size_t total = (size_t)g.o.clients * (size_t)g.o.messages;
  g.fig.lat_echo = bench_xmalloc(total * sizeof(uint32_t));
  g.fig.lat_ack = bench_xmalloc(total * sizeof(uint32_t));
  g.clients = bench_xcalloc((size_t)g.o.clients, sizeof(client_t));
  for (int i = 0; i < g.o.clients; i++) {
    client_t *cl = &g.clients[i];
    cl->idx = i;
    cl->room_idx = i % g.o.rooms;
    cl->room_id = g.o.room_ids[cl->room_idx];
    snprintf(cl->user, sizeof(cl->user), "%s_%d", g.o.prefix, i);
    cl->sent_ns = bench_xcalloc((size_t)g.o.messages, sizeof(uint64_t));
    cl->flags = bench_xcalloc((size_t)g.o.messages, 1);
  }

  g.fig.rss_joined.rss_kb = g.fig.rss_joined.hwm_kb = -1;
  g.fig.rss_after = g.fig.rss_joined;
  g.fig.rss_before = bench_stats_rss(g.o.pid);
  if (g.o.pid > 0 && g.fig.rss_before.rss_kb < 0)
    fprintf(stderr, "chatbench: warning: cannot read /proc/%d/status\n", g.o.pid);
  g.fig.t_start = uv_hrtime();
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

  int rc = g.fig.acked > 0 ? 0 : 1;
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
  free(g.fig.lat_echo);
  free(g.fig.lat_ack);
  free(g.pattern);
  uv_loop_close(g.loop);
  return rc;
}
