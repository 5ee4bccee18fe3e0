/*
 * chatbench internals: what the files of the load client share.
 *
 *   chatbench.c    options, the scenario (setup, send window, drain) and main
 *   bench_net.c    connections: the HTTP/1.1 client and the WebSocket client
 *   bench_json.c   scanning the top-level fields of one JSON object
 *   bench_stats.c  errors, server memory and CPU samples, the report
 *   bench_util.c   allocation, the random generator, growable buffers
 *
 * Everything runs on the one libuv loop thread; nothing here is thread-safe.
 * chatbench shares no code with chatd on purpose: it checks the contract
 * (API.md) from the outside.
 */
#ifndef CHATBENCH_BENCH_H
#define CHATBENCH_BENCH_H

#include <uv.h>

#include <stddef.h>
#include <stdint.h>

#define MAX_ROOMS 20000
#define MAX_RATES 32

/* ---------------------------------------------------------------------- */
/* bench_util.c                                                           */

/* malloc, calloc and realloc that never return NULL: out of memory prints a
 * line and exits with status 3 (the one policy for the whole tool).  A size of
 * 0 still returns a unique pointer.  The caller frees. */
void *bench_xmalloc(size_t n);
void *bench_xcalloc(size_t n, size_t sz);
void *bench_xrealloc(void *p, size_t n);

/* xorshift64*: masks, WebSocket keys and name suffixes (not for secrets).
 * bench_rng_seed must run first; a seed of 0 is replaced by 1. */
void bench_rng_seed(uint64_t seed);
uint64_t bench_rng_next(void);
void bench_rng_bytes(unsigned char *out, size_t n);

/* A growable byte buffer; zero-initialised it is empty.  It owns p. */
typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

void bench_buf_append(buf_t *b, const char *data, size_t n);
void bench_buf_consume(buf_t *b, size_t n); /* drops the first n bytes */
void bench_buf_free(buf_t *b);              /* back to empty */

/* ---------------------------------------------------------------------- */
/* bench_json.c                                                           */

typedef struct {
  const char *p; /* raw bytes: for a string, between the quotes, escapes kept */
  size_t n;
  int present;
} span_t;

typedef struct {
  span_t type, cid, text, code, room;
} fields_t;

/* Fills f with the top-level fields of interest of the object in p[0..n); the
 * spans point into p.  Returns 0 on a well-formed object, -1 otherwise. */
int bench_json_fields(const char *p, size_t n, fields_t *f);

/* The fast path for the frames that come by the million: if p[0..n) is a
 * `message` frame with no nested object, sets text to its top-level text
 * and returns 0; otherwise -1 (then use bench_json_fields).  Does not check
 * the rest of the object. */
int bench_json_message_text(const char *p, size_t n, span_t *text);

/* Whether s is present and its raw bytes are exactly want. */
int bench_json_span_is(const span_t *s, const char *want);

/* Parses a non-negative decimal (at most 19 digits) from p[0..n); returns the
 * number of digits read, 0 when there is none. */
size_t bench_json_uint(const char *p, size_t n, uint64_t *out);

/* Copies the string value of the first "code" key of an error body into out
 * (truncated to outn - 1 bytes, always NUL-terminated; "" when none). */
void bench_json_error_code(const char *body, size_t n, char *out, size_t outn);

/* ---------------------------------------------------------------------- */
/* chatbench.c: the simulated users                                       */

enum { OP_REGISTER, OP_LOGIN };
enum { CS_IDLE, CS_REGISTER, CS_LOGIN, CS_WS, CS_JOINING, CS_READY, CS_FAILED, CS_DEAD };

typedef struct bench_conn bench_conn_t;

typedef struct client {
  int idx;
  int room_idx;
  int room_id;
  int state; /* CS_* */
  char user[48];
  char cookie[512];    /* "sid=..." once logged in */
  bench_conn_t *conn;  /* the open connection (HTTP or WebSocket) or NULL; set by bench_net */
  int next_seq;
  int inflight;
  int done; /* acked + failed */
  uint64_t *sent_ns;   /* per seq: when it was sent (closed loop) or scheduled (--rate) */
  uint8_t *flags;      /* per seq: F_* of chatbench.c */
  uint16_t *recv;      /* --rate: per seq, message frames of it received by anyone */
} client_t;

/* What bench_net reports about a client's connection.  cl is never NULL. */

/* The client's run ends with an error (counted once, as the formatted text);
 * its connection, if any, is closed.  Ignored once the client has failed. */
void bench_client_fail(client_t *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An HTTP request of bench_http_post finished: op as given there, the status,
 * the sid cookie ("sid=...", NUL-terminated, borrowed) or NULL, and the error
 * code from the body ("" when none).  The connection is already closed. */
void bench_client_http_done(client_t *cl, int op, int status, const char *sid, size_t sid_len,
                            const char *code);

/* The WebSocket handshake succeeded; cl->conn is the open WebSocket. */
void bench_client_ws_open(client_t *cl);

/* One complete text (or binary) message p[0..n) arrived at now (uv_hrtime of
 * the read that completed it); p is borrowed. */
void bench_client_text(client_t *cl, const char *p, size_t n, uint64_t now);

/* A WebSocket read was handled at now (uv_hrtime): sends that fell due
 * meanwhile go out now instead of at the next timer, which waits for the
 * rest of a loop turn that may read hundreds of sockets. */
void bench_client_read_done(uint64_t now);

/* ---------------------------------------------------------------------- */
/* bench_net.c                                                            */

/* Resolves host:port (printing why on failure) and remembers the loop and
 * hostport (the Host header) for every later connection.  Returns 0 or -1. */
int bench_net_init(uv_loop_t *loop, const char *host, int port, const char *hostport);

/* Opens a connection for cl (cl->conn) and POSTs body as JSON to path with
 * "Connection: close"; the outcome arrives as bench_client_http_done or
 * bench_client_fail.  path and body are copied. */
void bench_http_post(client_t *cl, int op, const char *path, const char *body);

/* Opens a WebSocket to /ws for cl (cl->conn) with cl->cookie; the outcome
 * arrives as bench_client_ws_open or bench_client_fail, then every message as
 * bench_client_text. */
void bench_ws_open(client_t *cl);

/* Queues one masked text frame with payload p[0..n) (copied).  Returns 0 or a
 * libuv error. */
int bench_ws_send_text(bench_conn_t *c, const char *p, size_t n);

/* Closes the connection now and detaches it from its client; its memory is
 * freed in the close callback.  Safe to call twice. */
void bench_conn_close(bench_conn_t *c);

/* Stops reading, sends a close frame (1000) on an open WebSocket and closes
 * once the queued writes are out. */
void bench_conn_goodbye(bench_conn_t *c);

/* ---------------------------------------------------------------------- */
/* bench_stats.c: options and figures, as reported                        */

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
  double quiet_s;     /* the drain ends after this long without a frame */
  double drain_max_s; /* --rate: and at the latest this long after the last send (0: never) */
  /* open loop (--rate): total sends per second over every ready client on
   * a fixed schedule; 0 is the closed loop above */
  int rate;                  /* the step running */
  int rates[MAX_RATES];      /* --rate R1,R2,...: a ladder over the same connections */
  int n_rates;
  int stop_after;            /* end the ladder after this many steps not ok (0: never) */
  double duration_s, warmup_s;
  /* provisioning: "NAME TOKEN" lines (chatd user bulk --sessions) instead
   * of register + login; connections per user */
  char sessions[1024];
  int conns_per_user;
  int idle;    /* connect (and join), report memory and setup time, no sends */
  int no_join; /* do not join a room: an authenticated WebSocket only */
} opts_t;

/* A latency histogram in microseconds: exact below 2048 us, then 1024
 * sub-buckets per power of two (0.1% resolution).  Zeroed it is empty. */
#define HIST_BUCKETS (2048 + 40 * 1024)
typedef struct {
  uint64_t n, max_us;
  uint32_t b[HIST_BUCKETS];
} hist_t;

void bench_hist_add(hist_t *h, uint64_t us);
/* The nearest-rank percentile p (0..1) in ms; 0 when empty. */
double bench_hist_pct_ms(const hist_t *h, double p);

/* The figures of an open-loop run (--rate), measured over the window
 * [warm-up end, warm-up end + duration]; "scheduled" latency is the arrival
 * minus the time the message was due to be sent. */
typedef struct {
  uint64_t scheduled, sent, acked, refused, unsent; /* all messages of the run */
  uint64_t sent_window;      /* due in the window and sent before it ended */
  uint64_t deliveries_window; /* received within the window */
  uint64_t deliveries, expected, missing, extra;    /* extra: more copies than members */
  double window_s;
  int drain_cut;                                    /* --drain-max ended the wait */
  hist_t *deliver, *ack;                            /* messages scheduled in the window */
  hist_t *lag;                                      /* actual send minus due, every send */
  int senders;
} rate_figures_t;

typedef struct {
  long rss_kb, hwm_kb; /* -1: unknown */
} rss_t;

/* The measured figures of a run (times from uv_hrtime, in ns; 0: not yet). */
typedef struct {
  int ready, ready_at_start;
  uint64_t t_start, t_setup_done, t_send0, t_last;
  uint64_t acked, failed, abandoned, deliveries, expected;
  uint64_t registered, existed, logged_in;
  uint32_t *lat_echo, *lat_ack; /* microseconds, owned by the caller */
  size_t n_lat_echo, n_lat_ack;
  rss_t rss_before, rss_joined, rss_after;
  double srv_cpu0, srv_cpu1, cli_cpu0, cli_cpu1; /* seconds; -1 when unknown */
  int timed_out, interrupted;
} figures_t;

/* Counts one error of the kind given by the formatted text (at most 95 bytes);
 * 31 distinct kinds are listed, the rest as "other kinds". */
void bench_error_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* VmRSS/VmHWM of process pid ({-1, -1} when pid <= 0 or unreadable). */
rss_t bench_stats_rss(int pid);

/* User + system CPU seconds of process pid (all threads), or -1. */
double bench_stats_server_cpu(int pid);

/* User + system CPU seconds of this process. */
double bench_stats_self_cpu(void);

/* Prints the human-readable summary and the RESULT line to stdout; sorts the
 * latency arrays in place. */
void bench_report(const opts_t *o, figures_t *fig);

/* The same for one step of an open-loop run (--rate) or an idle run (--idle,
 * rf NULL).  Returns 1 if the step was ok (see the verdict line), else 0. */
int bench_report_rate(const opts_t *o, figures_t *fig, const rate_figures_t *rf);

/* Forgets the errors counted so far (a new ladder step). */
void bench_errors_reset(void);

#endif
