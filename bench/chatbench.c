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
 *
 * Two more modes.  Open loop (--rate R): every ready client sends, in turn,
 * on a fixed schedule of R messages a second in all (message k is due at
 * t0 + k/R), whatever the acks; each delivery's latency is its arrival
 * minus the time the message was DUE, so a client that falls behind shows
 * as latency rather than hiding it, and every member of the room must get
 * every acknowledged message.  Latencies go to histograms (no per-delivery
 * allocation).  Idle (--idle): connect everybody, hold, report the server's
 * memory per connection.  With --sessions FILE the clients skip register
 * and login and use provisioned session tokens (chatd user bulk).
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

#define PASSWORD "chatbench-password-1"

enum { PH_SETUP, PH_SEND, PH_DRAIN, PH_GAP, PH_DONE }; /* PH_GAP: between ladder steps */
enum { F_SENT = 1, F_ACKED = 2, F_ECHOED = 4, F_FAILED = 8 };

/* The open-loop run (--rate). */
typedef struct {
  uint64_t t0, win_start, win_end; /* t0: message 0 is due; the window is measured */
  uint64_t t_drain;                /* when the last message was sent */
  uint64_t total, next;            /* messages in the schedule; the next one to send */
  int *senders;                    /* indexes of the clients ready at the start */
  int cap;                         /* seqs per client */
  int cpu0_done, cpu1_done;
  int reported;                    /* this step's report is out */
  int fails;                       /* consecutive steps that were not ok */
  int timers;                      /* pace and gap initialised */
  uv_timer_t pace, gap;
  uint64_t paced_ns;               /* when pace_send last ran */
  rate_figures_t f;
  hist_t deliver, ack, lag;
  char *sendbuf, *textbuf; /* one send's JSON and its text, sendcap bytes each */
  size_t sendcap;
} rate_t;

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
  int cap;           /* seqs per client: --messages, or the open-loop share */
  char **tokens;     /* --sessions: one token per user */
  size_t n_tokens;
  rate_t *rt;        /* --rate */
  int step;          /* --rate R1,R2,...: the step running */
  uv_timer_t hold;   /* --idle */
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
  if (cl->cookie[0]) {
    ws_connect(cl); /* a provisioned session */
    return;
  }
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
    if (!g.o.rate) g.fig.abandoned += (uint64_t)(g.o.messages - cl->done);
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

static void client_ready(client_t *cl);

void bench_client_ws_open(client_t *cl) {
  if (g.o.no_join) {
    client_ready(cl);
    return;
  }
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
  if (g.rt) {
    rate_t *rt = g.rt;
    if (ok) {
      rt->f.acked++;
      rt->f.expected += (uint64_t)g.room_members[cl->room_idx];
      uint64_t due = cl->sent_ns[seq];
      if (due >= rt->win_start && due < rt->win_end)
        bench_hist_add(&rt->ack, now > due ? (now - due) / 1000 : 0);
    } else {
      rt->f.refused++;
    }
    g.t_last_rx = now;
    check_progress();
    return;
  }
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

/* Our cids are "<run tag>-<seq, 8 digits>-<client>": like the front end's
 * (time first), they grow as the run goes on; returns the seq or -1. */
static int64_t seq_of_cid(const client_t *cl, const span_t *cid) {
  size_t tl = strlen(g.run_tag);
  if (!cid->present || cid->n <= tl + 1 || memcmp(cid->p, g.run_tag, tl) != 0 || cid->p[tl] != '-')
    return -1;
  uint64_t idx, seq;
  const char *p = cid->p + tl + 1;
  size_t n = cid->n - tl - 1;
  size_t d = bench_json_uint(p, n, &seq);
  if (d == 0 || d >= n || p[d] != '-' || seq >= (uint64_t)g.cap) return -1;
  size_t d2 = bench_json_uint(p + d + 1, n - d - 1, &idx);
  if (d2 == 0 || d2 != n - d - 1 || idx != (uint64_t)cl->idx) return -1;
  return (int64_t)seq;
}

/* Open loop: any member's copy of any of our messages.  The text starts with
 * "<run tag>:<client>:<seq> "; its due time is the sender's sent_ns[seq]. */
static void on_rate_message(const char *text, size_t tn, uint64_t now) {
  rate_t *rt = g.rt;
  size_t tl = strlen(g.run_tag);
  g.t_last_rx = now;
  if (tn <= tl + 1 || memcmp(text, g.run_tag, tl) != 0 || text[tl] != ':') return;
  uint64_t idx, seq;
  const char *p = text + tl + 1;
  size_t n = tn - tl - 1;
  size_t d = bench_json_uint(p, n, &idx);
  if (d == 0 || d >= n || p[d] != ':' || idx >= (uint64_t)g.o.clients ||
      bench_json_uint(p + d + 1, n - d - 1, &seq) == 0 || seq >= (uint64_t)rt->cap)
    return;
  client_t *snd = &g.clients[idx];
  if (!(snd->flags[seq] & F_SENT)) return;
  if (snd->recv[seq] < UINT16_MAX) snd->recv[seq]++;
  rt->f.deliveries++;
  if (now >= rt->win_start && now < rt->win_end) rt->f.deliveries_window++;
  uint64_t due = snd->sent_ns[seq];
  if (due >= rt->win_start && due < rt->win_end)
    bench_hist_add(&rt->deliver, now > due ? (now - due) / 1000 : 0);
  if (g.phase == PH_DRAIN) check_progress();
}

static void on_message_frame(client_t *cl, const fields_t *f, uint64_t now) {
  if (g.phase != PH_SEND && g.phase != PH_DRAIN) return;
  if (g.rt) {
    if (f->text.present) on_rate_message(f->text.p, f->text.n, now);
    return;
  }
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

/* 1 for the frames nobody counts (online, presence, typing), told by the
 * first key, without parsing: they arrive by the million while thousands
 * of clients connect. */
static int uncounted(const char *p, size_t n) {
  static const char pre[] = "{\"type\":\"";
  if (n < 20 || memcmp(p, pre, 9) != 0) return 0;
  p += 9;
  return memcmp(p, "online\"", 7) == 0 || memcmp(p, "presence\"", 9) == 0 ||
         memcmp(p, "typing\"", 7) == 0;
}

void bench_client_text(client_t *cl, const char *p, size_t n, uint64_t now) {
  fields_t f;
  if (uncounted(p, n)) return;
  if (g.rt && bench_json_message_text(p, n, &f.text) == 0) {
    if (g.phase == PH_SEND || g.phase == PH_DRAIN) on_rate_message(f.text.p, f.text.n, now);
    return;
  }
  if (bench_json_fields(p, n, &f) != 0 || !f.type.present) {
    bench_error_add("frame: not a JSON object with a type");
    return;
  }
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
  int n = snprintf(payload, pcap, "{\"type\":\"send\",\"room\":%d,\"text\":\"%s\",\"cid\":\"%s-%08d-%d\"}",
                   cl->room_id, text, g.run_tag, seq, cl->idx);
  cl->flags[seq] |= F_SENT;
  cl->sent_ns[seq] = uv_hrtime();
  int rc = bench_ws_send_text(cl->conn, payload, (size_t)n);
  free(payload);
  free(text);
  if (rc != 0) bench_client_fail(cl, "ws: write: %s", uv_err_name(rc));
}

/* ---------------------------------------------------------------------- */
/* the open loop (--rate)                                                 */

static void rate_send(rate_t *rt, uint64_t k, uint64_t now) {
  client_t *cl = &g.clients[rt->senders[k % (uint64_t)rt->f.senders]];
  if (cl->state != CS_READY || !cl->conn || cl->next_seq >= rt->cap) {
    rt->f.unsent++;
    return;
  }
  int seq = cl->next_seq++;
  char *text = rt->textbuf, *payload = rt->sendbuf;
  make_text(cl, seq, text, rt->sendcap);
  int n = snprintf(payload, rt->sendcap,
                   "{\"type\":\"send\",\"room\":%d,\"text\":\"%s\",\"cid\":\"%s-%08d-%d\"}",
                   cl->room_id, text, g.run_tag, seq, cl->idx);
  cl->flags[seq] |= F_SENT;
  uint64_t due = rt->t0 + (uint64_t)((double)k * 1e9 / g.o.rate);
  cl->sent_ns[seq] = due; /* when it was due, not when it went */
  /* The achieved rate: messages due in the window that went out before it
   * ended (a backlog sent late does not make up for the time lost). */
  if (due >= rt->win_start && due < rt->win_end && now < rt->win_end) rt->f.sent_window++;
  bench_hist_add(&rt->lag, now > due ? (now - due) / 1000 : 0);
  rt->f.sent++;

  int rc = bench_ws_send_text(cl->conn, payload, (size_t)n);
  if (rc != 0) bench_client_fail(cl, "ws: write: %s", uv_err_name(rc));
}

/* Sends what is due by now (all of it, however late). */
static void pace_send(rate_t *rt, uint64_t now) {
  rt->paced_ns = now;
  if (now >= rt->t0) {
    uint64_t due = (uint64_t)((double)(now - rt->t0) * g.o.rate / 1e9) + 1;
    if (due > rt->total) due = rt->total;
    while (rt->next < due && g.phase == PH_SEND) {
      rate_send(rt, rt->next, now);
      rt->next++;
      rt->f.scheduled++;
    }
  }
}

void bench_client_read_done(uint64_t now) {
  rate_t *rt = g.rt;
  if (rt && g.phase == PH_SEND && now >= rt->paced_ns + 1000000) pace_send(rt, now);
}

/* Every millisecond: sends what is due, and the window's bounds. */
static void on_pace(uv_timer_t *t) {
  rate_t *rt = t->data;
  uint64_t now = uv_hrtime();
  if (!rt->cpu0_done && now >= rt->win_start) {
    rt->cpu0_done = 1;
    g.fig.srv_cpu0 = bench_stats_server_cpu(g.o.pid);
    g.fig.cli_cpu0 = bench_stats_self_cpu();
  }
  pace_send(rt, now);
  if (!rt->cpu1_done && now >= rt->win_end) {
    rt->cpu1_done = 1;
    g.fig.srv_cpu1 = bench_stats_server_cpu(g.o.pid);
    g.fig.cli_cpu1 = bench_stats_self_cpu();
  }
  if (rt->next >= rt->total && rt->cpu1_done) {
    uv_timer_stop(&rt->pace);
    if (g.phase == PH_SEND) {
      g.phase = PH_DRAIN;
      g.t_last_rx = rt->t_drain = now;
    }
    check_progress();
  }
}

/* The per-client arrays of one step, for cap seqs each (sent_ns: when due). */
static void rate_arrays(int cap) {
  for (int i = 0; i < g.o.clients; i++) {
    client_t *cl = &g.clients[i];
    free(cl->sent_ns);
    free(cl->flags);
    free(cl->recv);
    cl->sent_ns = bench_xcalloc((size_t)cap, sizeof(uint64_t));
    cl->flags = bench_xcalloc((size_t)cap, 1);
    cl->recv = bench_xcalloc((size_t)cap, sizeof(uint16_t));
    cl->next_seq = 0;
  }
}

/* Starts step g.step of the ladder (--rate R1,R2,...): a fresh run tag, so
 * that late frames of the step before are not counted, fresh counters and
 * histograms, and the schedule from 50 ms from now. */
static void rate_step_start(void) {
  rate_t *rt = g.rt;
  g.o.rate = g.o.rates[g.step];
  if (g.step > 0) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 8; i++) g.run_tag[i] = alnum[bench_rng_next() % 36];
    bench_errors_reset();
  }
  memset(&rt->f, 0, sizeof(rt->f));
  memset(&rt->deliver, 0, sizeof(rt->deliver));
  memset(&rt->ack, 0, sizeof(rt->ack));
  memset(&rt->lag, 0, sizeof(rt->lag));
  rt->f.deliver = &rt->deliver;
  rt->f.ack = &rt->ack;
  rt->f.lag = &rt->lag;
  rt->next = 0;
  rt->cpu0_done = rt->cpu1_done = 0;
  rt->reported = 0;
  for (int i = 0; i < g.o.clients; i++)
    if (g.clients[i].state == CS_READY) rt->senders[rt->f.senders++] = i;
  if (rt->f.senders == 0) {
    finish();
    return;
  }
  rt->total = (uint64_t)((g.o.warmup_s + g.o.duration_s) * g.o.rate + 0.5);
  if (rt->total == 0) rt->total = 1;
  rt->cap = (int)(rt->total / (uint64_t)rt->f.senders + 2);
  g.cap = rt->cap;
  rate_arrays(rt->cap);
  uint64_t now = uv_hrtime();
  rt->t0 = now + 50000000ull; /* 50 ms from now: the timer is running by then */
  rt->win_start = rt->t0 + (uint64_t)(g.o.warmup_s * 1e9);
  rt->win_end = rt->win_start + (uint64_t)(g.o.duration_s * 1e9);
  rt->f.window_s = g.o.duration_s;
  g.fig.srv_cpu0 = g.fig.cli_cpu0 = -1; /* sampled when the window starts */
  g.fig.srv_cpu1 = g.fig.cli_cpu1 = -1;
  g.phase = PH_SEND;
  g.t_last_rx = now;
  uv_timer_start(&rt->pace, on_pace, 1, 1);
}

static void on_gap(uv_timer_t *t) {
  (void)t;
  if (!g.finished) rate_step_start();
}

static void begin_rate_phase(void) {
  rate_t *rt = g.rt;
  rt->senders = bench_xcalloc((size_t)g.o.clients, sizeof(int));
  rt->sendcap = (size_t)g.o.size + 512;
  rt->sendbuf = bench_xmalloc(rt->sendcap);
  rt->textbuf = bench_xmalloc(rt->sendcap);
  uv_timer_init(g.loop, &rt->pace);
  rt->pace.data = rt;
  uv_timer_init(g.loop, &rt->gap);
  rt->timers = 1;
  rate_step_start();
}

/* After a step: every member of the room must have got every acked message. */
static void rate_count_missing(void) {
  rate_t *rt = g.rt;
  for (int i = 0; i < g.o.clients; i++) {
    client_t *cl = &g.clients[i];
    if (!cl->flags) continue;
    uint64_t want = (uint64_t)g.room_members[cl->room_idx];
    for (int s = 0; s < cl->next_seq && s < rt->cap; s++) {
      if (!(cl->flags[s] & F_ACKED)) continue;
      uint64_t got = cl->recv[s];
      if (got < want) rt->f.missing += want - got;
      if (got > want) rt->f.extra += got - want;
    }
  }
}

/* Reports the current step (once); the CPU window ends now if it has not. */
static int rate_step_report(void) {
  rate_t *rt = g.rt;
  if (rt->reported || !rt->f.senders) return 1;
  rt->reported = 1;
  uv_timer_stop(&rt->pace);
  g.fig.rss_after = bench_stats_rss(g.o.pid); /* connections still open */
  if (!rt->cpu1_done) {
    rt->cpu1_done = 1;
    g.fig.srv_cpu1 = bench_stats_server_cpu(g.o.pid);
    g.fig.cli_cpu1 = bench_stats_self_cpu();
    uint64_t now = uv_hrtime();
    rt->f.window_s = rt->cpu0_done && now > rt->win_start ? (now - rt->win_start) / 1e9 : 0;
  }
  if (!rt->cpu0_done) g.fig.srv_cpu0 = g.fig.cli_cpu0 = -1;
  rate_count_missing();
  return bench_report_rate(&g.o, &g.fig, &rt->f);
}

/* The step is over (drained, or quiet for QUIET_NS): report it, then the
 * next step after a second, unless the ladder ends (last step, or
 * --stop-after consecutive steps that were not ok). */
static void rate_step_done(void) {
  rate_t *rt = g.rt;
  if (rt->reported || g.finished) return;
  g.phase = PH_GAP;
  int ok = rate_step_report();
  rt->fails = ok ? 0 : rt->fails + 1;
  if (g.step + 1 < g.o.n_rates && !(g.o.stop_after > 0 && rt->fails >= g.o.stop_after)) {
    g.step++;
    uv_timer_start(&rt->gap, on_gap, 1000, 0);
    return;
  }
  if (g.step + 1 < g.o.n_rates)
    printf("chatbench: ladder stopped after %d steps that were not ok\n", rt->fails);
  finish();
}

static void on_hold(uv_timer_t *t) {
  (void)t;
  finish();
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
  if (g.o.idle) {
    /* Hold the connections, then sample again and report. */
    uv_timer_init(g.loop, &g.hold);
    uv_timer_start(&g.hold, on_hold, (uint64_t)(g.o.duration_s * 1000), 0);
    return;
  }
  if (g.rt) {
    begin_rate_phase();
    return;
  }
  for (int i = 0; i < g.o.clients && g.phase == PH_SEND; i++) client_fill(&g.clients[i]);
  check_progress();
}

static void check_progress(void) {
  if (g.finished) return;
  if (g.rt) {
    rate_t *rt = g.rt;
    if (g.phase == PH_DRAIN && rt->f.acked + rt->f.refused >= rt->f.sent &&
        rt->f.deliveries >= rt->f.expected)
      rate_step_done();
    return;
  }
  if (g.o.idle) return;
  if (g.phase == PH_SEND &&
      g.fig.acked + g.fig.failed + g.fig.abandoned >=
          (uint64_t)g.fig.ready_at_start * (uint64_t)g.o.messages)
    g.phase = PH_DRAIN;
  if (g.phase == PH_DRAIN && g.fig.deliveries >= g.fig.expected) finish();
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  if (g.rt && g.phase == PH_DRAIN && g.o.drain_max_s > 0 &&
      now - g.rt->t_drain > (uint64_t)(g.o.drain_max_s * 1e9)) {
    /* Far past the knee the backlog takes minutes to drain: stop waiting. */
    g.rt->f.drain_cut = 1;
    rate_step_done();
    return;
  }
  if (g.phase == PH_DRAIN && now - g.t_last_rx > (uint64_t)(g.o.quiet_s * 1e9)) {
    if (g.rt)
      rate_step_done();
    else
      finish();
  }
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
  if (g.rt) {
    /* A step cut short (timeout, signal) is reported as it stands. */
    if (g.phase == PH_SEND || g.phase == PH_DRAIN) rate_step_report();
    if (g.rt->timers) {
      uv_close((uv_handle_t *)&g.rt->pace, NULL);
      uv_close((uv_handle_t *)&g.rt->gap, NULL);
    }
    if (!g.fig.t_send0) bench_report_rate(&g.o, &g.fig, &g.rt->f); /* setup never ended */
  } else if (g.fig.t_send0) {
    g.fig.srv_cpu1 = bench_stats_server_cpu(g.o.pid);
    g.fig.cli_cpu1 = bench_stats_self_cpu();
  } else {
    g.fig.srv_cpu0 = g.fig.srv_cpu1 = g.fig.cli_cpu0 = -1;
  }
  g.phase = PH_DONE;
  if (g.rt) {
    /* reported above, step by step */
  } else if (g.o.idle) {
    if (g.fig.t_send0) uv_close((uv_handle_t *)&g.hold, NULL);
    bench_report_rate(&g.o, &g.fig, NULL);
  } else {
    bench_report(&g.o, &g.fig);
  }
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
        "  --concurrency C    clients in setup (register/login/connect) at once (default 32)\n"
        "  --quiet S          after the sends, wait for missing frames until none came for S\n"
        "                     seconds (default 3)\n"
        "open loop (fixed rate):\n"
        "  --rate R[,R2,...]  R messages a second in all, every ready client sending in turn\n"
        "                     on a fixed schedule; latency counts from when a message was due.\n"
        "                     Several rates: a ladder over the same connections, one report each\n"
        "  --drain-max S      --rate: stop waiting for late frames S seconds after the last\n"
        "                     send (default 0: no limit); what has not arrived is missing\n"
        "  --stop-after N     end the ladder after N consecutive steps that are not ok\n"
        "                     (default 2; 0: run every step)\n"
        "  --duration S       seconds measured (default 10; with --idle: seconds held, default 3)\n"
        "  --warmup S         seconds sent at the rate before the measured window (default 2)\n"
        "provisioned users and many connections:\n"
        "  --sessions FILE    \"NAME TOKEN\" lines (chatd user bulk --sessions): no register or\n"
        "                     login; connection i uses line i mod U (U = clients / K)\n"
        "  --conns-per-user K WebSockets per user (default 1); the server's per-user limit\n"
        "                     (chatd --max-ws-user) must allow K\n"
        "  --idle             connect (and join) everybody, hold, report memory per connection\n"
        "  --no-join          do not join a room (authenticated WebSockets only)\n"
        "--room-ids also takes ranges (2-2001) and @FILE (the first number of each line,\n"
        "as chatd room bulk prints them)\n",
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

/* One room id or a range A-B into o->room_ids; 0 or -1. */
static int add_room_ids(opts_t *o, const char *tok) {
  char *end;
  long lo = strtol(tok, &end, 10), hi = lo;
  if (end != tok && *end == '-') {
    const char *h = end + 1;
    hi = strtol(h, &end, 10);
    if (end == h) hi = -1;
  }
  if (end == tok || *end || lo < 1 || hi < lo || hi > 0x7fffffff) {
    fprintf(stderr, "chatbench: bad room id or range '%s'\n", tok);
    return -1;
  }
  for (long id = lo; id <= hi; id++) {
    if (o->n_room_ids >= MAX_ROOMS) {
      fprintf(stderr, "chatbench: at most %d room ids\n", MAX_ROOMS);
      return -1;
    }
    o->room_ids[o->n_room_ids++] = (int)id;
  }
  return 0;
}

/* --room-ids: "1,2,3", ranges "2-2001", or "@FILE" with the first number of
 * each line (chatd room bulk prints "ID NAME"). */
static int parse_room_ids(opts_t *o, const char *v) {
  o->n_room_ids = 0;
  if (v[0] == '@') {
    FILE *f = fopen(v + 1, "r");
    if (!f) {
      fprintf(stderr, "chatbench: cannot read %s\n", v + 1);
      return -1;
    }
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
      char *sp = line + strcspn(line, " \t\r\n");
      *sp = '\0';
      if (line[0]) rc = add_room_ids(o, line);
    }
    fclose(f);
    if (rc) return -1;
  } else {
    size_t n = strlen(v);
    char *tmp = bench_xmalloc(n + 1);
    memcpy(tmp, v, n + 1);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save))
      rc = add_room_ids(o, tok);
    free(tmp);
    if (rc) return -1;
  }
  if (o->n_room_ids == 0) {
    fprintf(stderr, "chatbench: --room-ids names no room\n");
    return -1;
  }
  return 0;
}

/* --sessions FILE: "NAME TOKEN" lines; keeps the tokens (g.tokens). */
static int load_sessions(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "chatbench: cannot read %s\n", path);
    return -1;
  }
  char line[1024];
  size_t cap = 0;
  while (fgets(line, sizeof(line), f)) {
    char *sp = strchr(line, ' ');
    if (!sp) continue;
    char *tok = sp + 1;
    tok[strcspn(tok, " \t\r\n")] = '\0';
    if (!tok[0] || strlen(tok) > 400) continue;
    if (g.n_tokens == cap) {
      cap = cap ? cap * 2 : 1024;
      g.tokens = bench_xrealloc(g.tokens, cap * sizeof(char *));
    }
    size_t tl = strlen(tok);
    g.tokens[g.n_tokens] = bench_xmalloc(tl + 1);
    memcpy(g.tokens[g.n_tokens++], tok, tl + 1);
  }
  fclose(f);
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
  int have_url = 0, have_ids = 0, have_duration = 0;
  o->conns_per_user = 1;
  o->warmup_s = 2;
  o->stop_after = 2;
  o->quiet_s = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strcmp(a, "--idle") == 0) {
      o->idle = 1;
      continue;
    }
    if (strcmp(a, "--no-join") == 0) {
      o->no_join = 1;
      continue;
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
    } else if (strcmp(a, "--rate") == 0) {
      char tmp[1024];
      snprintf(tmp, sizeof(tmp), "%s", v);
      o->n_rates = 0;
      for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_rates >= MAX_RATES) {
          fprintf(stderr, "chatbench: at most %d rates\n", MAX_RATES);
          return -1;
        }
        if (parse_int_opt(a, tok, 1, 10000000, &o->rates[o->n_rates])) return -1;
        o->n_rates++;
      }
      if (o->n_rates == 0) return -1;
      o->rate = o->rates[0];
    } else if (strcmp(a, "--quiet") == 0) {
      char *end;
      o->quiet_s = strtod(v, &end);
      if (*end || end == v || !(o->quiet_s > 0) || o->quiet_s > 3600) {
        fprintf(stderr, "chatbench: --quiet wants seconds in (0, 3600]\n");
        return -1;
      }
    } else if (strcmp(a, "--drain-max") == 0) {
      char *end;
      o->drain_max_s = strtod(v, &end);
      if (*end || end == v || !(o->drain_max_s >= 0) || o->drain_max_s > 86400) {
        fprintf(stderr, "chatbench: --drain-max wants seconds in [0, 86400]\n");
        return -1;
      }
    } else if (strcmp(a, "--stop-after") == 0) {
      if (parse_int_opt(a, v, 0, 1000, &o->stop_after)) return -1;
    } else if (strcmp(a, "--duration") == 0 || strcmp(a, "--warmup") == 0) {
      char *end;
      double x = strtod(v, &end);
      if (*end || end == v || !(x >= 0) || x > 86400) {
        fprintf(stderr, "chatbench: %s wants seconds in [0, 86400]\n", a);
        return -1;
      }
      if (a[2] == 'd') {
        o->duration_s = x;
        have_duration = 1;
      } else {
        o->warmup_s = x;
      }
    } else if (strcmp(a, "--sessions") == 0) {
      snprintf(o->sessions, sizeof(o->sessions), "%s", v);
    } else if (strcmp(a, "--conns-per-user") == 0) {
      if (parse_int_opt(a, v, 1, 100000, &o->conns_per_user)) return -1;
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
      if (parse_room_ids(o, v) != 0) return -1;
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
  if (!have_duration) o->duration_s = o->idle ? 3 : 10;
  if (o->rate && o->idle) {
    fprintf(stderr, "chatbench: --rate and --idle exclude each other\n");
    return -1;
  }
  if (o->rate && o->duration_s <= 0) {
    fprintf(stderr, "chatbench: --rate needs a --duration above 0\n");
    return -1;
  }
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
    fprintf(stderr,
            "chatbench: warning: %d clients but only %llu file descriptors (ulimit -n; the hard "
            "limit is %llu)\n",
            g.o.clients, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
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

  if (g.o.sessions[0]) {
    if (load_sessions(g.o.sessions) != 0) return 2;
    size_t users = ((size_t)g.o.clients + (size_t)g.o.conns_per_user - 1) / (size_t)g.o.conns_per_user;
    if (g.n_tokens < users) {
      fprintf(stderr, "chatbench: %s has %zu sessions; %d clients at %d per user need %zu\n",
              g.o.sessions, g.n_tokens, g.o.clients, g.o.conns_per_user, users);
      return 2;
    }
  }
  int n_users = (g.o.clients + g.o.conns_per_user - 1) / g.o.conns_per_user;
  int closed = !g.o.rate && !g.o.idle;
  if (g.o.rate) {
    g.rt = bench_xcalloc(1, sizeof(rate_t));
    g.rt->f.deliver = &g.rt->deliver;
    g.rt->f.ack = &g.rt->ack;
    g.rt->f.lag = &g.rt->lag;
  }
  size_t total = closed ? (size_t)g.o.clients * (size_t)g.o.messages : 0;
  g.cap = closed ? g.o.messages : 0;
  g.fig.lat_echo = bench_xmalloc(total * sizeof(uint32_t));
  g.fig.lat_ack = bench_xmalloc(total * sizeof(uint32_t));
  g.clients = bench_xcalloc((size_t)g.o.clients, sizeof(client_t));
  for (int i = 0; i < g.o.clients; i++) {
    client_t *cl = &g.clients[i];
    /* Users in turn (client i is user i mod U): the first U connections are
     * U distinct users, so each user comes online once, early. */
    int user = i % n_users;
    cl->idx = i;
    cl->room_idx = i % g.o.rooms;
    cl->room_id = g.o.room_ids[cl->room_idx];
    snprintf(cl->user, sizeof(cl->user), "%s_%d", g.o.prefix, user);
    if (g.tokens) snprintf(cl->cookie, sizeof(cl->cookie), "sid=%s", g.tokens[user]);
    if (closed) {
      cl->sent_ns = bench_xcalloc((size_t)g.o.messages, sizeof(uint64_t));
      cl->flags = bench_xcalloc((size_t)g.o.messages, 1);
    }
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
  if (g.rt) rc = g.rt->f.acked > 0 ? 0 : 1;
  if (g.o.idle) rc = g.fig.ready_at_start > 0 ? 0 : 1;
  if (rc != 0) fprintf(stderr, "chatbench: %s\n", g.o.idle ? "no client connected" : "no message completed");
  /* close_timer is unreferenced: close it if the loop ended before it fired. */
  if (!uv_is_closing((uv_handle_t *)&g.close_timer)) {
    uv_close((uv_handle_t *)&g.close_timer, NULL);
    uv_run(g.loop, UV_RUN_DEFAULT);
  }
  for (int i = 0; i < g.o.clients; i++) {
    free(g.clients[i].sent_ns);
    free(g.clients[i].flags);
    free(g.clients[i].recv);
  }
  free(g.clients);
  for (size_t i = 0; i < g.n_tokens; i++) free(g.tokens[i]);
  free(g.tokens);
  if (g.rt) {
    free(g.rt->senders);
    free(g.rt->sendbuf);
    free(g.rt->textbuf);
    free(g.rt);
  }
  free(g.fig.lat_echo);
  free(g.fig.lat_ack);
  free(g.pattern);
  uv_loop_close(g.loop);
  return rc;
}
