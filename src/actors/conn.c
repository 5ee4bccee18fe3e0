/* The connection actor (conn.h): the socket, the output, closing, the
 * mails, and HTTP.  The WebSocket half is in conn_ws.c, TLS in
 * conn_tls.c. */
#include <assert.h>
#include <sodium.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/common.h"
#include "../core/limits.h"
#include "../core/log.h"
#include "../core/pct.h"
#include "../core/sb.h"
#include "../net/http.h"
#include "../net/proto.h"
#include "../net/proxy.h"
#include "../net/route.h"
#include "../net/static.h"
#include "api.h"
#include "conn_int.h"
#include "pacer.h"
#include "static_cache.h"
#include "storage.h"

#define REQUEST_TIMEOUT_MS 30000  /* a whole request must arrive in this */
#define LINGER_MS 2000            /* wait for the peer's close after ours */
#define CLOSING_MS 10000          /* most time to write out a closing answer */

/* The texts of conn_respond_bad_http name the limits. */
_Static_assert(CHAT_HTTP_MAX_BODY == 1024 * 1024, "the 413 message says 1 MiB");
_Static_assert(CHAT_HTTP_MAX_HEADER == 16 * 1024, "the 431 message says 16 KiB");

typedef struct {
  uv_write_t req;
  chat_conn_t *c;
  size_t n, bytes;
  chat_rbuf_t *bufs[];
} wreq_t;

static void conn_process_input(chat_conn_t *c);

/* 1 if the log name is the one made at the accept, in the peer's
 * allocation (after the peer's NUL); a name set later has its own. */
static int conn_name_in_peer(const chat_conn_t *c) {
  return c->name == c->peer + strlen(c->peer) + 1;
}

/* The limiter's key of the peer (computed again at the close rather than
 * kept): "" for a trusted proxy, which brings many clients and counts only
 * in the total. */
static void conn_addr_key(const chat_conn_t *c, char key[CHAT_ADDR_KEY_MAX]) {
  const chat_services_t *svc = c->svc;
  if (svc->proxies && chat_proxies_trusts(svc->proxies, c->peer, strlen(c->peer)))
    key[0] = '\0';
  else
    chat_limiter_addr_key(c->peer, key);
}

chat_actor_t *chat_conn_actor(chat_conn_t *c) { return &c->actor; }
chat_conn_t *chat_conn_from_actor(chat_actor_t *a) {
  return container_of(a, chat_conn_t, actor);
}
const chat_http_req_t *chat_conn_req(const chat_conn_t *c) { return c->req; }
const char *chat_conn_peer(const chat_conn_t *c) { return c->client; }
int chat_conn_secure(const chat_conn_t *c) { return c->secure; }
int chat_conn_is_open(const chat_conn_t *c) {
  return c->state == CONN_HTTP || c->state == CONN_WS;
}
const chat_services_t *chat_conn_services(const chat_conn_t *c) { return c->svc; }

/* ---- lifetime ---------------------------------------------------------- */

static void conn_free_cb(chat_actor_t *a) {
  chat_conn_t *c = chat_conn_from_actor(a);
  assert(c->state == CONN_CLOSED && c->handles == 0);
  for (size_t i = 0; i < c->outq_len; i++) chat_rbuf_unref(c->outq[i]);
  free(c->outq);
  chat_conn_ws_free(c);
  chat_conn_tls_free(c);
  if (c->client != c->peer) free(c->client);
  if (!conn_name_in_peer(c)) free(c->name);
  free(c->peer);
  if (c->req) {
    char *rest;
    size_t rest_len;
    chat_conn_http_free(c, &rest, &rest_len);
    free(rest);
  }
  free(c);
}

void chat_conn_http_free(chat_conn_t *c, char **rest, size_t *rest_len) {
  conn_http_t *h = conn_http(c);
  *rest = h->in;
  *rest_len = h->in_len;
  chat_http_req_free(&h->req);
  free(h);
  c->req = NULL;
}

/* One of the connection's handles is closed; after the last, it leaves. */
static void conn_handle_gone(chat_conn_t *c) {
  if (--c->handles > 0) return;
  if (c->user_id)
    chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: closed (WebSocket of %s)", c->name, c->username);
  else
    chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: closed", c->name);
  /* Leave every room (the others see the user go) and go offline. */
  chat_conn_ws_release(c);
  for (size_t i = 0; i < c->outq_len; i++) chat_rbuf_unref(c->outq[i]);
  c->outq_len = 0;
  if (c->conn_counted) {
    char key[CHAT_ADDR_KEY_MAX];
    conn_addr_key(c, key);
    chat_limiter_conn_close(c->svc->limiter, key);
  }
  c->conn_counted = 0;
  chat_registry_remove(c->svc->registry, &c->reg);  /* drops the creator's reference */
}

static void handle_closed_cb(uv_handle_t *h) { conn_handle_gone(h->data); }

static void timer_closed_cb(uv_handle_t *h) {
  chat_conn_t *c = h->data;
  free(h);
  conn_handle_gone(c);
}

uv_timer_t *chat_conn_timer(chat_conn_t *c) {
  assert(c->state != CONN_CLOSED);
  if (c->timer == NULL) {
    c->timer = chat_xmalloc(sizeof(*c->timer));
    uv_timer_init(c->svc->loop, c->timer);
    c->timer->data = c;
    c->handles++;
  }
  return c->timer;
}

void chat_conn_timer_drop(chat_conn_t *c) {
  if (c->timer == NULL) return;
  uv_close((uv_handle_t *)c->timer, timer_closed_cb);
  c->timer = NULL;
}

/* Leaves the state it is in; a WebSocket leaves the users' index. */
static void conn_set_state(chat_conn_t *c, conn_state_t state) {
  if (c->state == CONN_WS && state != CONN_WS) chat_registry_clear_user(c->svc->registry, &c->reg);
  c->state = state;
}

void chat_conn_hard_close(chat_conn_t *c) {
  if (c->state == CONN_CLOSED) return;
  conn_set_state(c, CONN_CLOSED);
  uv_close((uv_handle_t *)&c->tcp, handle_closed_cb);
  chat_conn_timer_drop(c);
}

static void linger_timer_cb(uv_timer_t *t) {
  chat_conn_t *c = t->data;
  chat_conn_hard_close(c);
}

static void request_timer_cb(uv_timer_t *t) {
  chat_conn_t *c = t->data;
  if (c->state == CONN_HTTP && !c->busy) chat_conn_hard_close(c);
}

void chat_conn_request_timer(chat_conn_t *c) {
  uv_timer_start(chat_conn_timer(c), request_timer_cb, REQUEST_TIMEOUT_MS, 0);
}

/* Runs before the handles' close callbacks (with UV_ECANCELED if the
 * connection is closed first), so c is still there. */
static void shutdown_cb(uv_shutdown_t *req, int status) {
  chat_conn_t *c = req->data;
  free(req);
  c->shutdown_req = NULL;
  if (status < 0) chat_conn_hard_close(c);
}

/* A peer that does not read the last frame or answer in CLOSING_MS is cut
 * off. */
void chat_conn_begin_closing(chat_conn_t *c) {
  conn_set_state(c, CONN_CLOSING);
  uv_timer_start(chat_conn_timer(c), linger_timer_cb, CLOSING_MS, 0);
}

/* Everything we meant to send is written: shut down our side and wait a
 * little for the peer to close. */
void chat_conn_maybe_linger(chat_conn_t *c) {
  if (c->state != CONN_CLOSING || c->linger || c->writes || c->outq_len) return;
  if (c->tls && chat_conn_tls_close_notify(c)) return;   /* once that is written */
  c->linger = 1;
  c->shutdown_req = chat_xmalloc(sizeof(*c->shutdown_req));
  c->shutdown_req->data = c;
  if (uv_shutdown(c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
    free(c->shutdown_req);
    c->shutdown_req = NULL;
    chat_conn_hard_close(c);
    return;
  }
  chat_conn_read_start(c);
  uv_timer_start(chat_conn_timer(c), linger_timer_cb, LINGER_MS, 0);
}

/* ---- output ------------------------------------------------------------ */

void chat_conn_queue(chat_conn_t *c, chat_rbuf_t *b) {
  if (c->state == CONN_CLOSED || c->close_queued || c->slow) {
    chat_rbuf_unref(b);
    return;
  }
  if (c->outq_len == c->outq_cap) {
    c->outq_cap = c->outq_cap ? c->outq_cap * 2 : 8;
    c->outq = chat_xrealloc(c->outq, c->outq_cap * sizeof(*c->outq));
  }
  c->outq[c->outq_len++] = b;
  c->out_bytes += b->len;
  chat_registry_want_flush(c->svc->registry, &c->reg);
  if (c->state == CONN_WS && c->out_bytes > c->svc->limits->ws_out_cap) {
    chat_conn_log(c, CHAT_LOG_WARN, "conn %s: slow consumer (%zu bytes queued), closing", c->name,
                  c->out_bytes);
    /* The backlog is dropped and so is every later frame; the close goes
     * out at the flush (chat_conn_flush), not here: this may run inside a
     * room's or the registry's loop over its members, which the close
     * changes. */
    for (size_t i = 0; i < c->outq_len; i++) {
      c->out_bytes -= c->outq[i]->len;
      chat_rbuf_unref(c->outq[i]);
    }
    c->outq_len = 0;
    c->slow = 1;
    c->svc->metrics->slow_closes++;
  }
}

/* After queued bytes went out: the last ones let a closing connection shut
 * down, and an HTTP client paused for not reading its answers goes on. */
static void written(chat_conn_t *c) {
  chat_conn_maybe_linger(c);
  if (c->out_paused && c->out_bytes <= c->svc->limits->http_out_cap / 2 &&
      c->state == CONN_HTTP) {
    c->out_paused = 0;
    conn_process_input(c);
    if (c->state == CONN_HTTP && !c->busy) chat_conn_read_start(c);
  }
}

static void write_cb(uv_write_t *w, int status) {
  wreq_t *wr = container_of(w, wreq_t, req);
  chat_conn_t *c = wr->c;
  for (size_t i = 0; i < wr->n; i++) chat_rbuf_unref(wr->bufs[i]);
  c->out_bytes -= wr->bytes;
  c->writes--;
  free(wr);
  if (status < 0) {
    if (status != UV_ECANCELED) chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: write: %s", c->name, uv_strerror(status));
    chat_conn_hard_close(c);
  } else {
    written(c);
  }
  chat_actor_unref(&c->actor);
}

/* Small frames are copied into one buffer before the write: the kernel
 * spends more on each iovec than a copy of a small frame costs here. */
#define COALESCE_BYTES 16384
#define COALESCE_FRAME 1024

/* The iovecs for a write of in[0..n) (at most n of them) in bufs, small
 * neighbours copied together into scratch; how many. */
static size_t coalesce(chat_rbuf_t **in, size_t n, uv_buf_t *bufs, char *scratch) {
  size_t nb = 0, used = 0;
  char *run = NULL;  /* the open run in scratch, if any */
  for (size_t i = 0; i < n; i++) {
    size_t len = in[i]->len;
    if (len <= COALESCE_FRAME && used + len <= COALESCE_BYTES) {
      if (run == NULL) {
        run = scratch + used;
        bufs[nb++] = uv_buf_init(run, 0);
      }
      memcpy(scratch + used, in[i]->data, len);
      used += len;
      bufs[nb - 1].len += (unsigned)len;
    } else {
      run = NULL;
      bufs[nb++] = uv_buf_init((char *)in[i]->data, (unsigned)len);
    }
  }
  return nb;
}

void chat_conn_write(chat_conn_t *c, chat_rbuf_t **in, size_t n) {
  uv_buf_t stackbufs[64];
  uv_buf_t *bufs = n <= 64 ? stackbufs : chat_xmalloc(n * sizeof(uv_buf_t));
  char scratch[COALESCE_BYTES];
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += in[i]->len;
  /* Most writes go out at once: written now, they need no request and no
   * callback, and libuv does not touch the socket's epoll registration
   * (which it does at every finished request).  What the socket does not
   * take now is queued with uv_write, in order (uv_try_write refuses while
   * earlier requests wait); its buffers are the frames themselves. */
  size_t nb = 1;
  if (n == 1)
    bufs[0] = uv_buf_init((char *)in[0]->data, (unsigned)in[0]->len);
  else
    nb = coalesce(in, n, bufs, scratch);
  /* Timed for /metrics: on a busy server most of its time goes here, and
   * what one write costs decides how often every connection can be
   * written (pacer.h).  Two clock reads against a few microseconds. */
  chat_metrics_t *m = c->svc->metrics;
  uint64_t t0 = uv_hrtime();
  int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)nb);
  m->socket_write_ns += uv_hrtime() - t0;
  m->socket_writes++;
  if (rc < 0 && rc != UV_EAGAIN) goto fail;
  size_t done = rc > 0 ? (size_t)rc : 0;
  if (done == total) {
    for (size_t i = 0; i < n; i++) chat_rbuf_unref(in[i]);
    c->out_bytes -= total;
    if (bufs != stackbufs) free(bufs);
    written(c);
    return;
  }
  for (size_t i = 0; i < n; i++) bufs[i] = uv_buf_init((char *)in[i]->data, (unsigned)in[i]->len);
  size_t k = 0;
  while (done >= bufs[k].len) done -= bufs[k++].len;
  bufs[k].base += done;
  bufs[k].len -= (unsigned)done;
  wreq_t *wr = chat_xmalloc(sizeof(*wr) + n * sizeof(chat_rbuf_t *));
  wr->c = c;
  wr->n = n;
  wr->bytes = total;
  memcpy(wr->bufs, in, n * sizeof(*in));
  rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs + k, (unsigned)(n - k), write_cb);
  if (rc < 0) {
    free(wr);
    goto fail;
  }
  if (bufs != stackbufs) free(bufs);
  c->writes++;
  chat_actor_ref(&c->actor);
  return;
fail:
  chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: write: %s", c->name, uv_strerror(rc));
  for (size_t i = 0; i < n; i++) chat_rbuf_unref(in[i]);
  c->out_bytes -= total;
  if (bufs != stackbufs) free(bufs);
  chat_conn_hard_close(c);
}

/* A WebSocket with this many frames queued is written at once, paced or
 * not. */
#define PACE_FRAMES_MAX 64

static void flush_out(chat_conn_t *c) {
  if (c->tls) {
    chat_conn_tls_flush(c);
    return;
  }
  if (c->outq_len == 0) return;
  size_t n = c->outq_len;
  c->outq_len = 0;
  chat_conn_write(c, c->outq, n);
}

void chat_conn_flush(chat_conn_t *c) {
  if (c->state == CONN_CLOSED) return;
  if (c->slow) {  /* chat_conn_queue: a slow consumer */
    c->slow = 0;
    chat_conn_ws_close(c, CHAT_WS_CLOSE_TRY_AGAIN, NULL);
  }
  if (c->close_queued || c->state != CONN_WS) {
    flush_out(c);
    return;
  }
  /* The pacer writes it when due, unless enough piled up meanwhile. */
  if (c->paced && c->outq_len < PACE_FRAMES_MAX) return;
  uint64_t iv = chat_pacer_interval(c->svc->pacer), now = 0;
  if (iv && !c->paced && c->outq_len < PACE_FRAMES_MAX) {
    now = uv_hrtime();
    if (now - c->last_write_ns < iv) {
      c->paced = 1;
      chat_pacer_defer(c->svc->pacer, c, c->last_write_ns + iv);
      return;
    }
  }
  if (c->outq_len) c->last_write_ns = now ? now : uv_hrtime();
  flush_out(c);
}

void chat_conn_flush_now(chat_conn_t *c) {
  c->paced = 0;
  if (c->state == CONN_CLOSED) return;
  if (c->outq_len) c->last_write_ns = uv_hrtime();
  flush_out(c);
}

/* ---- mails from other actors ----------------------------------------- */

/* Frames skip the mailbox: every actor lives on this loop thread, so a
 * frame goes straight onto the output queue, in the order frames are
 * posted, and the writes happen at the end of the loop turn (the
 * registry's flush hook).  Nothing else of the connection runs here. */
void chat_conn_post_frame(chat_conn_t *c, chat_rbuf_t *b) {
  if (c->state == CONN_WS) chat_conn_queue(c, chat_rbuf_ref(b));
}

typedef struct {
  chat_mail_t mail;
  int64_t value;
} int_mail_t;

static void on_left_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  int64_t room_id = ((int_mail_t *)m)->value;
  free(m);
  chat_conn_ws_left(c, room_id);
}

static void post_left(chat_conn_t *c, int64_t room_id) {
  int_mail_t *m = chat_xmalloc(sizeof(*m));
  m->mail.handle = on_left_mail;
  m->value = room_id;
  chat_actor_post(&c->actor, &m->mail);
}

/* What rooms see of a connection (room.h). */
static void member_post_frame(chat_actor_t *a, chat_rbuf_t *b) {
  chat_conn_post_frame(chat_conn_from_actor(a), b);
}
static void member_post_left(chat_actor_t *a, int64_t room_id) {
  post_left(chat_conn_from_actor(a), room_id);
}
const chat_member_ops_t chat_conn_member_ops = {
    .post_frame = member_post_frame,
    .post_left = member_post_left,
};

/* A close asked for by another actor (a stop, a revoked session). */
static void conn_close_requested(chat_conn_t *c, int code, const char *reason) {
  if (c->state == CONN_WS) {
    chat_conn_ws_close(c, code, reason);
  } else if (c->state == CONN_HTTP) {
    if (c->busy)
      c->keep_alive = 0;  /* close after the answer in progress */
    else
      chat_conn_hard_close(c);
  }
}

typedef struct {
  chat_mail_t mail;
  int code;
  const char *reason;   /* a static string, or NULL for the code's own */
} close_mail_t;

static void on_close_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  close_mail_t *cm = (close_mail_t *)m;
  int code = cm->code;
  const char *reason = cm->reason;
  free(cm);
  conn_close_requested(c, code, reason);
}

void chat_conn_post_close(chat_conn_t *c, int code, const char *reason) {
  close_mail_t *m = chat_xmalloc(sizeof(*m));
  m->mail.handle = on_close_mail;
  m->code = code;
  m->reason = reason;
  chat_actor_post(&c->actor, &m->mail);
}

typedef struct {
  chat_mail_t mail;
  int has_keep, has_only;
  uint8_t keep[CHAT_TOKEN_HASH_LEN];
  uint8_t only[CHAT_TOKEN_HASH_LEN];
  const char *reason;   /* a static string */
} revoke_mail_t;

static void on_revoke_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  revoke_mail_t *rm = (revoke_mail_t *)m;
  int mine_kept = rm->has_keep && memcmp(c->token_hash, rm->keep, CHAT_TOKEN_HASH_LEN) == 0;
  int mine_only = !rm->has_only || memcmp(c->token_hash, rm->only, CHAT_TOKEN_HASH_LEN) == 0;
  if (!mine_kept && mine_only) conn_close_requested(c, CHAT_WS_CLOSE_POLICY, rm->reason);
  free(rm);
}

void chat_conn_post_revoke(chat_conn_t *c, const uint8_t *keep, const uint8_t *only_session,
                           const char *reason) {
  revoke_mail_t *m = chat_xcalloc(1, sizeof(*m));
  m->mail.handle = on_revoke_mail;
  if (keep) {
    m->has_keep = 1;
    memcpy(m->keep, keep, CHAT_TOKEN_HASH_LEN);
  }
  if (only_session) {
    m->has_only = 1;
    memcpy(m->only, only_session, CHAT_TOKEN_HASH_LEN);
  }
  m->reason = reason;
  chat_actor_post(&c->actor, &m->mail);
}

static void on_dead_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  int64_t silent_ms = ((int_mail_t *)m)->value;
  free(m);
  if (c->state != CONN_WS) return;
  c->svc->metrics->ws_dead_peers++;
  chat_conn_log(c, CHAT_LOG_WARN, "conn %s: dead peer (WebSocket of %s): nothing received for %.1f s, closed",
                c->name, c->username, (double)silent_ms / 1000);
  chat_conn_hard_close(c);
}

void chat_conn_post_dead(chat_conn_t *c, uint64_t silent_ms) {
  int_mail_t *m = chat_xmalloc(sizeof(*m));
  m->mail.handle = on_dead_mail;
  m->value = (int64_t)silent_ms;
  chat_actor_post(&c->actor, &m->mail);
}

static void on_abort_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  free(m);
  if (c->state == CONN_CLOSED) return;
  chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: still open at the end of the drain, cut off (%zu bytes unwritten)",
                 c->name, c->out_bytes);
  chat_conn_hard_close(c);
}

void chat_conn_post_abort(chat_conn_t *c) {
  chat_mail_t *m = chat_xmalloc(sizeof(*m));
  m->handle = on_abort_mail;
  chat_actor_post(&c->actor, m);
}

/* ---- HTTP answers ---------------------------------------------------- */

#define COMMON_HEADERS                  \
  "X-Content-Type-Options: nosniff\r\n" \
  "Referrer-Policy: same-origin\r\n"

/* Connection ids of the log: unique in the process (servers on other
 * loops draw from the same counter). */
static uint64_t conn_ids;
static uint32_t req_ids, req_id_prefix;

/* A request begins: its id (always made here; an X-Request-Id from the
 * client is not taken, so that an id in the log is always ours and
 * unique), its start time, and the log context of the handling. */
static void conn_begin_request(chat_conn_t *c) {
  if (c->req_id[0] == '\0') {
    uint32_t prefix = __atomic_load_n(&req_id_prefix, __ATOMIC_RELAXED);
    if (prefix == 0) {
      prefix = randombytes_random() | 1u;
      __atomic_store_n(&req_id_prefix, prefix, __ATOMIC_RELAXED);
    }
    uint64_t id = (uint64_t)prefix << 32 | __atomic_add_fetch(&req_ids, 1, __ATOMIC_RELAXED);
    uint8_t be[8]; /* the prefix's digits first, as "%08x%08x" wrote them */
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(id >> (56 - 8 * i));
    chat_hex_encode(c->req_id, be, sizeof(be));
  }
  if (c->req) conn_http(c)->req_start_ns = uv_hrtime();
  chat_log_context_set(c->id, c->req_id);
}

/* The headers of every answer: the request id; over HTTPS, HSTS too (a
 * year).  The text is in a buffer of the thread, valid until the next
 * call (each caller copies it at once). */
static const char *conn_headers(chat_conn_t *c) {
  static const char id_name[] = COMMON_HEADERS "X-Request-Id: ";
  static const char hsts[] = "Strict-Transport-Security: max-age=31536000\r\n";
  static _Thread_local char hdrs[sizeof(id_name) + sizeof(c->req_id) + sizeof(hsts) + 2];
  if (c->req_id[0] == '\0') conn_begin_request(c);
  size_t n = sizeof(id_name) - 1, id_len = strlen(c->req_id);
  memcpy(hdrs, id_name, n);
  memcpy(hdrs + n, c->req_id, id_len);
  memcpy(hdrs + n + id_len, "\r\n", 2);
  n += id_len + 2;
  if (c->secure) {
    memcpy(hdrs + n, hsts, sizeof(hsts) - 1);
    n += sizeof(hsts) - 1;
  }
  hdrs[n] = '\0';
  return hdrs;
}

void chat_conn_log_enter(const chat_conn_t *c) { chat_log_context_set(c->id, c->req_id); }
void chat_conn_log_leave(void) { chat_log_context_set(0, NULL); }

void chat_conn_access_log(chat_conn_t *c, int status, size_t bytes) {
  uint64_t start_ns = c->req ? conn_http(c)->req_start_ns : 0;
  if (chat_log_access_on() && c->req) {
    const char *path, *query;
    size_t plen, qlen;
    chat_http_url(c->req, &path, &plen, &query, &qlen);
    /* The path only: a query string may carry a secret. */
    char p[512];
    snprintf(p, sizeof(p), "%.*s", (int)(plen < sizeof(p) ? plen : sizeof(p) - 1), path);
    chat_log_access_t a = {
        .method = llhttp_method_name((llhttp_method_t)c->req->method),
        .path = p,
        .req_id = c->req_id[0] ? c->req_id : NULL,
        .peer = c->name,
        .status = status,
        .bytes = bytes,
        .ms = start_ns ? (double)(uv_hrtime() - start_ns) / 1e6 : 0,
        .conn_id = c->id,
    };
    chat_log_access(&a);
  }
  c->req_id[0] = '\0';
  if (c->req) conn_http(c)->req_start_ns = 0;
}

/* Sends a response to the request being answered and moves on to the next
 * request (or closes). */
/* Queues the answer resp, then body (NULL: none; the caller's reference
 * goes to the queue) after it, and goes on to the next request. */
/* A new buffer with the last n bytes of b. */
static chat_rbuf_t *rbuf_tail(const chat_rbuf_t *b, size_t n) {
  chat_rbuf_t *t = chat_rbuf_new(n ? n : 1);
  memcpy(t->data, b->data + b->len - n, n);
  t->len = n;
  return t;
}

/* Writes resp and then body, whose bytes fd holds too, now: resp with
 * uv_try_write, body with sendfile(2), which hands the kernel fd's pages
 * without copying them (fd is a memfd: it never waits for a disk).  Only
 * when nothing else is queued or being written on c.  What the socket does
 * not take now is queued (copied) as usual.  Takes both references. */
static void send_now(chat_conn_t *c, chat_rbuf_t *resp, chat_rbuf_t *body, int fd) {
  uv_os_fd_t sock;
  size_t done = 0;
  if (uv_fileno((uv_handle_t *)&c->tcp, &sock) == 0) {
    /* MSG_MORE: the head waits for the body's first bytes, one segment. */
    ssize_t n = send(sock, resp->data, resp->len, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
    done = n > 0 ? (size_t)n : 0;
  }
  if (done < resp->len) {  /* the socket is full: the usual queue */
    chat_conn_queue(c, done ? rbuf_tail(resp, resp->len - done) : chat_rbuf_ref(resp));
    chat_conn_queue(c, body);
    chat_rbuf_unref(resp);
    return;
  }
  chat_rbuf_unref(resp);
  off_t off = 0;
  while ((size_t)off < body->len) {
    ssize_t n = sendfile(sock, fd, &off, body->len - (size_t)off);
    if (n <= 0) break;  /* full (EAGAIN), or an error the queued write meets */
  }
  if ((size_t)off < body->len) chat_conn_queue(c, rbuf_tail(body, body->len - (size_t)off));
  chat_rbuf_unref(body);
}

static void conn_respond_body_fd(chat_conn_t *c, chat_rbuf_t *resp, chat_rbuf_t *body, int fd) {
  int status = resp->len > 12 ? atoi((const char *)resp->data + 9) : 0;
  size_t bytes = resp->len + (body ? body->len : 0);
  if (body && fd >= 0 && !c->tls && c->outq_len == 0 && c->writes == 0 &&
      c->state == CONN_HTTP) {
    send_now(c, resp, body, fd);
  } else {
    chat_conn_queue(c, resp);
    if (body) chat_conn_queue(c, body);
  }
  chat_conn_access_log(c, status, bytes);
  if (c->state != CONN_HTTP) return;
  if (!c->keep_alive || c->upgrade_pending) {
    c->close_queued = 1;
    chat_conn_begin_closing(c);
    chat_conn_maybe_linger(c);
    return;
  }
  c->busy = 0;
  chat_http_req_next(c->req);
  uv_timer_start(chat_conn_timer(c), request_timer_cb, REQUEST_TIMEOUT_MS, 0);
  /* Pipelined requests wait (unread, so TCP holds them back) while earlier
   * answers are not being read. */
  if (c->out_bytes > c->svc->limits->http_out_cap) {
    c->out_paused = 1;
    return;
  }
  conn_process_input(c);
  if (c->state == CONN_HTTP && !c->busy) chat_conn_read_start(c);
}

static void conn_respond_body(chat_conn_t *c, chat_rbuf_t *resp, chat_rbuf_t *body) {
  conn_respond_body_fd(c, resp, body, -1);
}

static void conn_respond(chat_conn_t *c, chat_rbuf_t *resp) { conn_respond_body(c, resp, NULL); }

void chat_conn_respond_json(chat_conn_t *c, int status, const char *json,
                            const char *extra_headers) {
  if (c->state != CONN_HTTP || !c->busy) return;
  char headers[2048];
  snprintf(headers, sizeof(headers), "%sCache-Control: no-store\r\n%s",
           conn_headers(c), extra_headers ? extra_headers : "");
  int head_only = c->req->method == HTTP_HEAD;
  chat_rbuf_t *b = chat_http_response(
      status, json ? "application/json; charset=utf-8" : NULL, headers, json,
      json ? strlen(json) : 0, c->keep_alive, head_only);
  conn_respond(c, b);
}

void chat_conn_respond_error(chat_conn_t *c, int status, const char *code,
                             const char *message, const char *extra_headers) {
  chat_sb_t json;
  chat_sb_init(&json);
  chat_proto_http_error(&json, code, message);
  chat_conn_respond_json(c, status, json.buf, extra_headers);
  chat_sb_free(&json);
}

/* Answers a request the parser refused, then closes. */
/* files: 1 if the request is an upload (POST /api/files), whose body is the
 * file's bytes, not JSON, and has its own limit (limits->file_max). */
static int conn_unprefix(const chat_conn_t *c, const char **path, size_t *len);

static int conn_is_upload(const chat_conn_t *c, const chat_http_req_t *r) {
  const char *path, *query;
  size_t plen, qlen;
  chat_http_url(r, &path, &plen, &query, &qlen);
  if (conn_unprefix(c, &path, &plen) != 0) return 0;  /* embed */
  return r->method == HTTP_POST && plen == 10 && memcmp(path, "/api/files", 10) == 0;
}

static size_t conn_body_limit(const chat_http_req_t *r, void *data) {
  const chat_conn_t *c = data;
  return conn_is_upload(c, r) ? c->svc->limits->file_max : CHAT_HTTP_MAX_BODY;
}

static void conn_respond_bad_http(chat_conn_t *c, int status) {
  if (status == 413 && conn_is_upload(c, c->req)) {  /* files */
    char msg[96];
    snprintf(msg, sizeof(msg), "files are at most %zu bytes", c->svc->limits->file_max);
    c->busy = 1;
    c->keep_alive = 0;
    c->req->method = HTTP_GET;
    chat_conn_respond_error(c, 413, "file_too_large", msg, NULL);
    return;
  }
  const char *code = status == 413   ? "payload_too_large"
                     : status == 431 ? "headers_too_large"
                     : status == 417 ? "expectation_failed"
                                     : "bad_request";
  const char *msg = status == 413   ? "request body over 1 MiB"
                    : status == 431 ? "request headers over 16 KiB"
                    : status == 417 ? "only Expect: 100-continue is understood"
                                    : "malformed HTTP request";
  c->busy = 1;
  c->keep_alive = 0;
  c->req->method = HTTP_GET;
  chat_conn_respond_error(c, status, code, msg, NULL);
}

int chat_conn_origin_ok(const chat_conn_t *c) {
  size_t olen, hlen;
  const char *origin = chat_http_header(c->req, "origin", &olen);
  if (origin == NULL) return 1;
  const char *host = chat_http_header(c->req, "host", &hlen);
  if (host == NULL) return 0;
  if (olen > 7 && strncmp(origin, "http://", 7) == 0)
    origin += 7, olen -= 7;
  else if (olen > 8 && strncmp(origin, "https://", 8) == 0)
    origin += 8, olen -= 8;
  else
    return 0;
  return olen == hlen && strncasecmp(origin, host, hlen) == 0;
}

void chat_conn_respond_body(chat_conn_t *c, int status, const char *content_type,
                            const char *extra_headers, const void *body, size_t len) {
  if (c->state != CONN_HTTP || !c->busy) return;
  size_t cap = strlen(conn_headers(c)) + (extra_headers ? strlen(extra_headers) : 0) + 1;
  char *headers = chat_xmalloc(cap);
  snprintf(headers, cap, "%s%s", conn_headers(c), extra_headers ? extra_headers : "");
  conn_respond(c, chat_http_response(status, content_type, headers, body, len, c->keep_alive,
                                     c->req->method == HTTP_HEAD));
  free(headers);
}

void chat_conn_respond_text(chat_conn_t *c, int status, const char *content_type,
                            const char *body) {
  if (c->state != CONN_HTTP || !c->busy) return;
  char headers[256 + sizeof("Cache-Control: no-store\r\n")]; /* conn_headers' and ours */
  snprintf(headers, sizeof(headers), "%sCache-Control: no-store\r\n", conn_headers(c));
  conn_respond(c, chat_http_response(status, content_type, headers, body, strlen(body),
                                     c->keep_alive, c->req->method == HTTP_HEAD));
}

/* ---- static files ---------------------------------------------------- */

typedef struct {
  chat_job_t job;
  char path[4096];
  chat_static_file_t file;
  int rc;
} static_job_t;

static void static_run(chat_job_t *job, chat_store_t *store) {
  static_job_t *sj = (static_job_t *)job;
  sj->rc = chat_static_load(sj->path, CHAT_STATIC_MAX, &sj->file);
}

/* Answers the request with a static file's bytes (body: the caller's
 * reference), written as they are. */
static void static_answer(chat_conn_t *c, const char *mime, const char *etag, chat_rbuf_t *body,
                          int fd) {
  static const char html_headers[] =
      "Content-Security-Policy: default-src 'self'; script-src 'self'; "
      "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
      "form-action 'self'\r\nX-Frame-Options: DENY\r\n";
  char headers[1024];
  size_t inm_len;
  const char *inm = chat_http_header(c->req, "if-none-match", &inm_len);
  int html = strncmp(mime, "text/html", 9) == 0;
  int head_only = c->req->method == HTTP_HEAD;
  /* Pieces of known size (conn_headers under 256 bytes, an ETag under 64):
   * copied, not formatted, for every static answer. */
  const char *common = conn_headers(c);
  size_t n = strlen(common), etag_len = strlen(etag);
  assert(n + etag_len + sizeof(html_headers) + 64 < sizeof(headers));
  memcpy(headers, common, n);
  memcpy(headers + n, "ETag: ", sizeof("ETag: ") - 1);
  n += sizeof("ETag: ") - 1;
  memcpy(headers + n, etag, etag_len);
  n += etag_len;
  static const char cache[] = "\r\nCache-Control: no-cache\r\n";
  memcpy(headers + n, cache, sizeof(cache) - 1);
  n += sizeof(cache) - 1;
  if (html) {
    memcpy(headers + n, html_headers, sizeof(html_headers) - 1);
    n += sizeof(html_headers) - 1;
  }
  headers[n] = '\0';
  int not_modified = inm && inm_len == strlen(etag) && memcmp(inm, etag, inm_len) == 0;
  chat_rbuf_t *head = chat_http_response(not_modified ? 304 : 200, not_modified ? NULL : mime,
                                         headers, NULL, body->len, c->keep_alive, 1);
  if (head_only || not_modified) {
    chat_rbuf_unref(body);
    body = NULL;
  }
  conn_respond_body_fd(c, head, body, fd);
}

static void static_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  static_job_t *sj = container_of(m, static_job_t, job.mail);
  chat_rbuf_t *body = NULL;
  if (sj->rc == 0) {
    body = chat_rbuf_new(sj->file.size ? sj->file.size : 1);
    if (sj->file.size) memcpy(body->data, sj->file.data, sj->file.size);
    body->len = sj->file.size;
    chat_static_cache_put(c->svc->static_cache, sj->path, body, sj->file.mtime_ns, uv_hrtime());
  } else {
    chat_static_cache_drop(c->svc->static_cache, sj->path);
  }
  if (c->state == CONN_HTTP && c->busy) {
    if (sj->rc != 0) {
      const char *text = "Not Found\n";
      char headers[512];
      snprintf(headers, sizeof(headers), "%s", conn_headers(c));
      conn_respond(c, chat_http_response(404, "text/plain; charset=utf-8", headers,
                                         text, strlen(text), c->keep_alive,
                                         c->req->method == HTTP_HEAD));
    } else {
      char etag[64];
      chat_static_etag(etag, sj->file.size, sj->file.mtime_ns);
      static_answer(c, chat_static_mime(sj->path), etag, body, -1);
      body = NULL;
    }
  }
  chat_rbuf_unref(body);
  chat_static_file_free(&sj->file);
  free(sj);
}

static void conn_serve_static(chat_conn_t *c, const char *path, size_t len) {
  const chat_services_t *svc = c->svc;
  static_job_t *sj = chat_xcalloc(1, sizeof(*sj));
  int rc;
  static const char vendor[] = "/vendor/bootstrap/";
  if (len >= sizeof(vendor) - 1 && memcmp(path, vendor, sizeof(vendor) - 1) == 0)
    rc = chat_static_resolve(svc->limits->vendor_dir, path + sizeof(vendor) - 2,
                             len - (sizeof(vendor) - 2), sj->path, sizeof(sj->path));
  else
    rc = chat_static_resolve(svc->limits->public_dir, path, len, sj->path, sizeof(sj->path));
  if (rc != 0) {
    free(sj);
    const char *body = "Bad path\n";
    conn_respond(c, chat_http_response(400, "text/plain; charset=utf-8", conn_headers(c),
                                       body, strlen(body), c->keep_alive,
                                       c->req->method == HTTP_HEAD));
    return;
  }
  /* Read less than a second ago: answered from memory (static_cache.h). */
  chat_static_hit_t hit;
  if (svc->static_cache && chat_static_cache_get(svc->static_cache, sj->path, uv_hrtime(), &hit)) {
    free(sj);
    static_answer(c, hit.mime, hit.etag, hit.body, hit.fd);
    return;
  }
  sj->job.mail.handle = static_done;
  sj->job.run = static_run;
  chat_storage_submit(svc->storage, &sj->job, &c->actor);
}

/* ---- HTTP: requests -------------------------------------------------- */

/* The name in the log: the peer's address and port, and the client a
 * trusted proxy named, if it named another. */
static void conn_format_name(const char *peer, unsigned port, const char *client,
                             char name[160]) {
  char peer_name[80];
  if (peer[0] == '\0')
    snprintf(peer_name, sizeof(peer_name), "?");
  else
    snprintf(peer_name, sizeof(peer_name), strchr(peer, ':') ? "[%s]:%u" : "%s:%u", peer, port);
  if (strcmp(client, peer) == 0)
    snprintf(name, 160, "%s", peer_name);
  else
    snprintf(name, 160, "%s via %s", client, peer_name);
}

static void conn_set_name(chat_conn_t *c) {
  char name[160];
  conn_format_name(c->peer, c->peer_port, c->client, name);
  if (strcmp(c->name, name) == 0) return;
  if (!conn_name_in_peer(c)) free(c->name);
  c->name = chat_xstrdup(name);
}

/* Who sent this request, and over HTTPS or not: the peer and the
 * connection's own TLS, unless a trusted proxy says otherwise. */
static void conn_client(chat_conn_t *c) {
  int https = 0;
  if (c->svc->proxies && c->svc->proxies->n) {
    char client[64];
    chat_proxies_client(c->svc->proxies, c->peer, c->req, client, sizeof(client), &https);
    if (strcmp(client, c->client) != 0) {
      if (c->client != c->peer) free(c->client);
      c->client = strcmp(client, c->peer) == 0 ? c->peer : chat_xstrdup(client);
    }
    conn_set_name(c);
  }
  c->secure = c->kind == CHAT_CONN_TLS || https;
}

/* The length of the host name at the start of a Host value ("[v6]" with
 * its brackets), if the rest is nothing or ":PORT"; 0 if the value is not
 * a host. */
static size_t host_name_len(const char *h, size_t len) {
  size_t n = 0;
  if (len > 0 && h[0] == '[') {
    while (++n < len && h[n] != ']')
      if (!strchr("0123456789abcdefABCDEF:.", h[n])) return 0;
    if (n >= len || n == 1) return 0;
    n++;
  } else {
    while (n < len && (isalnum((unsigned char)h[n]) || h[n] == '.' || h[n] == '-')) n++;
    if (n == 0) return 0;
  }
  if (n < len && h[n] != ':') return 0;
  for (size_t i = n + 1; i < len; i++)
    if (!isdigit((unsigned char)h[i])) return 0;
  return n;
}

/* The redirect listener's answer to every request: 301 to the same target
 * on https://, at the request's host and the TLS listener's port. */
static void conn_redirect(chat_conn_t *c) {
  size_t hlen;
  const char *host = chat_http_header(c->req, "host", &hlen);
  size_t name = host ? host_name_len(host, hlen) : 0;
  const char *target = c->req->head;
  size_t target_len = c->req->url_len;
  if (name == 0 || target_len == 0 || target[0] != '/') {
    chat_conn_respond_error(c, 400, "bad_request", "a Host header and a path are needed", NULL);
    return;
  }
  char port[16] = "";
  if (c->svc->limits->https_port != 443)
    snprintf(port, sizeof(port), ":%d", c->svc->limits->https_port);
  size_t cap = strlen(conn_headers(c)) + name + target_len + 64;
  char *headers = chat_xmalloc(cap);
  snprintf(headers, cap, "%sLocation: https://%.*s%s%.*s\r\n", conn_headers(c), (int)name, host,
           port, (int)target_len, target);
  const char *body = "Moved to HTTPS\n";
  conn_respond(c, chat_http_response(301, "text/plain; charset=utf-8", headers, body,
                                     strlen(body), c->keep_alive, c->req->method == HTTP_HEAD));
  free(headers);
}

/* embed: the request's path without the mount point (limits->url_prefix).
 * 0: under it, *path and *len now name the route; 1: the mount point
 * itself, without its "/"; -1: outside it. */
static int conn_unprefix(const chat_conn_t *c, const char **path, size_t *len) {
  const chat_limits_t *l = c->svc->limits;
  size_t n = l->url_prefix_len;
  if (n == 0) return 0;
  if (*len < n || memcmp(*path, l->url_prefix, n) != 0) return -1;
  if (*len == n) return 1;
  if ((*path)[n] != '/') return -1;
  *path += n;
  *len -= n;
  return 0;
}

/* embed: the answer to a path that conn_unprefix did not take: 301 from
 * the mount point to its "/" (the query kept), 404 elsewhere. */
static void conn_outside_prefix(chat_conn_t *c, int pre, const char *query, size_t qlen) {
  if (pre < 0) {
    chat_conn_respond_error(c, 404, "not_found", "not here", NULL);
    return;
  }
  const chat_limits_t *l = c->svc->limits;
  size_t cap = strlen(conn_headers(c)) + l->url_prefix_len + qlen + 32;
  char *headers = chat_xmalloc(cap);
  snprintf(headers, cap, "%sLocation: %s/%s%.*s\r\n", conn_headers(c), l->url_prefix,
           qlen ? "?" : "", (int)qlen, query);
  const char *body = "Moved\n";
  conn_respond(c, chat_http_response(301, "text/plain; charset=utf-8", headers, body,
                                     strlen(body), c->keep_alive, c->req->method == HTTP_HEAD));
  free(headers);
}

/* 1 if the request sends the API a body that does not say it is JSON
 * (answered 415). */
static int conn_body_not_json(const chat_conn_t *c, const char *path, size_t len) {
  int m = c->req->method;
  return (m == HTTP_POST || m == HTTP_PATCH || m == HTTP_PUT || m == HTTP_DELETE) &&
         chat_route_is_api(path, len) && chat_http_req_has_body(c->req) &&
         !chat_http_body_is_json(c->req) && !conn_is_upload(c, c->req);
}

static void conn_dispatch_request(chat_conn_t *c);

/* Answers the request, with its id in the log lines of the handling. */
static void conn_dispatch(chat_conn_t *c) {
  conn_begin_request(c);
  conn_dispatch_request(c);
  chat_log_context_set(0, NULL);
}

static void conn_dispatch_request(chat_conn_t *c) {
  const chat_services_t *svc = c->svc;
  const char *path, *query;
  size_t path_len, query_len;
  svc->metrics->http_requests++;
  chat_http_url(c->req, &path, &path_len, &query, &query_len);
  if (!svc->running) c->keep_alive = 0;
  conn_client(c);
  if (c->kind == CHAT_CONN_REDIRECT) {
    conn_redirect(c);
    return;
  }
  if (path_len == 0 || path[0] != '/') {
    chat_conn_respond_error(c, 400, "bad_request", "the request target must be a path", NULL);
    return;
  }
  int pre = conn_unprefix(c, &path, &path_len);  /* embed: the mount point */
  if (pre != 0) {
    conn_outside_prefix(c, pre, query, query_len);
    return;
  }
  chat_route_match_t m;
  int rc = chat_route_match(c->req->method, path, path_len, &m);
  if (rc == 200 && m.id == CHAT_ROUTE_WS) {
    chat_conn_ws_upgrade(c);
    return;
  }
  if (rc == 200) {
    if (conn_body_not_json(c, path, path_len))
      chat_conn_respond_error(c, 415, "unsupported_media_type",
                              "the body must be JSON (Content-Type: application/json)", NULL);
    else
      chat_api_handle(svc, c, &m);
    return;
  }
  if (rc == 405) {
    char allow[128];
    snprintf(allow, sizeof(allow), "Allow: %s\r\n", m.allow);
    chat_conn_respond_error(c, 405, "method_not_allowed", "method not allowed", allow);
    return;
  }
  if (chat_route_is_api(path, path_len) || (path_len == 3 && memcmp(path, "/ws", 3) == 0)) {
    chat_conn_respond_error(c, 404, "not_found", "no such API route", NULL);
    return;
  }
  if (c->req->method != HTTP_GET && c->req->method != HTTP_HEAD) {
    chat_conn_respond_error(c, 405, "method_not_allowed", "method not allowed",
                            "Allow: GET, HEAD\r\n");
    return;
  }
  conn_serve_static(c, path, path_len);
}

/* The head of a request with "Expect: 100-continue" is in; its body waits
 * for our word.  A request that a route takes, with a body it may take,
 * gets "100 Continue"; any other is answered now as it would be after its
 * body (404, 405, 415, ...), and the connection closes, since the body is
 * not read.  (Too long a Content-Length never gets here: the parser answers
 * 413 at once.) */
static void conn_expect_continue(chat_conn_t *c) {
  const char *path, *query;
  size_t path_len, query_len;
  chat_route_match_t m;
  chat_http_url(c->req, &path, &path_len, &query, &query_len);
  if (c->kind != CHAT_CONN_REDIRECT && path_len > 0 && path[0] == '/' &&
      conn_unprefix(c, &path, &path_len) == 0 &&
      chat_route_match(c->req->method, path, path_len, &m) == 200 &&
      !conn_body_not_json(c, path, path_len)) {
    static const char cont[] = CHAT_HTTP_100_CONTINUE;
    chat_rbuf_t *b = chat_rbuf_new(sizeof(cont) - 1);
    memcpy(b->data, cont, sizeof(cont) - 1);
    b->len = sizeof(cont) - 1;
    chat_conn_queue(c, b);
    return;
  }
  c->busy = 1;
  c->keep_alive = 0;
  if (c->timer) uv_timer_stop(c->timer);
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  conn_dispatch(c);
}

/* Parses buffered input and answers the requests in it, one at a time.  An
 * answer given at once (an error, say) lets the loop go on to the next
 * pipelined request; a nested call (from that answer) returns at once, so
 * the stack does not grow with the number of requests. */
static void conn_process_input(chat_conn_t *c) {
  if (c->processing) return;
  c->processing = 1;
  conn_http_t *h = conn_http(c);  /* an HTTP connection has one */
  size_t off = 0;
  while (c->state == CONN_HTTP && !c->busy && off < h->in_len) {
    size_t consumed = 0;
    int rc = chat_http_req_feed(c->req, h->in + off, h->in_len - off, &consumed);
    off += consumed;
    if (rc == CHAT_HTTP_MORE) break;
    if (rc == CHAT_HTTP_CONTINUE) {
      conn_expect_continue(c);
      continue;
    }
    if (rc == CHAT_HTTP_ERROR) {
      off = h->in_len;
      conn_respond_bad_http(c, c->req->error_status);
      break;
    }
    c->busy = 1;
    c->keep_alive = !!c->req->keep_alive;
    c->upgrade_pending = rc == CHAT_HTTP_UPGRADE;
    if (c->timer) uv_timer_stop(c->timer);
    /* Keep what follows for later; answering may be asynchronous. */
    memmove(h->in, h->in + off, h->in_len - off);
    h->in_len -= off;
    off = 0;
    conn_dispatch(c);
    /* An answer still to come (a job): read nothing more until then.
     * One given at once (a file from memory, say) keeps reading on, which
     * spares two epoll changes per request. */
    if (c->busy && c->reading && c->state == CONN_HTTP) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
    }
  }
  if (off) {
    memmove(h->in, h->in + off, h->in_len - off);
    h->in_len -= off;
  }
  /* Nothing left to parse (the parser keeps what it needs): an idle
   * connection holds no input buffer. */
  if (h->in_len == 0 && h->in) {
    free(h->in);
    h->in = NULL;
    h->in_cap = 0;
  }
  c->processing = 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  chat_conn_t *c = h->data;
  size_t len;
  buf->base = chat_registry_readbuf(c->svc->registry, &len);
  buf->len = len;
}

/* files: an upload may take longer than REQUEST_TIMEOUT_MS as a whole; its
 * timer starts again after each 256 KiB of body (at least 8.7 KiB/s, so a
 * trickle still times out). */
static void conn_upload_progress(chat_conn_t *c, size_t len) {
  conn_http_t *h = conn_http(c);
  if (c->busy || !c->req->headers_done || !conn_is_upload(c, c->req)) {
    h->upload_bytes = 0;
    return;
  }
  h->upload_bytes += len;
  if (h->upload_bytes < 256 * 1024) return;
  h->upload_bytes = 0;
  chat_conn_request_timer(c);
}

void chat_conn_input(chat_conn_t *c, const char *data, size_t len) {
  switch (c->state) {
    case CONN_WS:
      chat_conn_ws_feed(c, (const uint8_t *)data, len);
      break;
    case CONN_HTTP: {
      conn_http_t *h = conn_http(c);
      if (h->in_len + len > h->in_cap) {
        size_t cap = h->in_cap ? h->in_cap : 1024;
        while (cap < h->in_len + len) cap *= 2;
        h->in = chat_xrealloc(h->in, cap);
        h->in_cap = cap;
      }
      memcpy(h->in + h->in_len, data, len);
      h->in_len += len;
      conn_upload_progress(c, len);  /* files */
      if (!c->busy) conn_process_input(c);
      break;
    }
    default:
      break;  /* closing: discard */
  }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  chat_conn_t *c = s->data;
  if (nread < 0) {
    if (nread != UV_EOF) chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: read: %s", c->name, uv_strerror((int)nread));
    chat_conn_hard_close(c);
    return;
  }
  if (nread == 0) return;
  if (c->tls && (c->state == CONN_HTTP || c->state == CONN_WS))
    chat_conn_tls_input(c, (const uint8_t *)buf->base, (size_t)nread);
  else
    chat_conn_input(c, buf->base, (size_t)nread);
}

void chat_conn_read_start(chat_conn_t *c) {
  if (c->reading || c->state == CONN_CLOSED) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) c->reading = 1;
}

/* Too many connections (from the peer's address, or in all): a 503 before
 * any request is read, then the usual close (the answer written, our side
 * shut down, the peer's input drained a moment), so that the peer reads
 * the answer rather than a reset. */
static void conn_refuse(chat_conn_t *c) {
  c->busy = 1;
  c->keep_alive = 0;
  c->req->method = HTTP_GET;
  chat_conn_respond_error(c, 503, "too_many_connections",
                          "too many connections; try again later", "Retry-After: 10\r\n");
}

static void accept_failed_closed_cb(uv_handle_t *h) {
  chat_conn_t *c = h->data;
  if (h != (uv_handle_t *)&c->tcp) free(h);  /* the timer */
  if (--c->handles == 0) free(c);
}

/* Serves a new connection: accepted from listener, or (listener NULL)
 * the socket fd (taken over; closed here if it cannot be used).  The
 * connection if it is being served, NULL if it failed or was refused. */
static chat_conn_t *conn_open(const chat_services_t *svc, uv_stream_t *listener, int fd,
                              chat_conn_kind_t kind) {
  chat_conn_t *c = chat_xcalloc(1, sizeof(*c));
  c->id = __atomic_add_fetch(&conn_ids, 1, __ATOMIC_RELAXED);
  c->username = "";
  c->svc = svc;
  c->kind = kind == CHAT_CONN_TLS && svc->tls == NULL ? CHAT_CONN_PLAIN : kind;
  chat_actor_init(&c->actor, svc->sched, conn_free_cb);
  uv_tcp_init(svc->loop, &c->tcp);
  c->tcp.data = c;
  c->handles = 1;
  c->state = CONN_HTTP;
  chat_conn_timer(c);
  if ((listener ? uv_accept(listener, (uv_stream_t *)&c->tcp)
                : uv_tcp_open(&c->tcp, (uv_os_sock_t)fd)) != 0) {
    if (listener == NULL) close(fd);
    c->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, accept_failed_closed_cb);
    uv_close((uv_handle_t *)c->timer, accept_failed_closed_cb);
    return NULL;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  /* A peer that vanished without a FIN is noticed eventually. */
  uv_tcp_keepalive(&c->tcp, 1, 60);
  struct sockaddr_storage ss;
  int sslen = sizeof(ss);
  char peer[64] = "";
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
    if (ss.ss_family == AF_INET) {
      const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
      uv_ip4_name(a, peer, sizeof(peer));
      c->peer_port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
      uv_ip6_name(a, peer, sizeof(peer));
      c->peer_port = ntohs(a->sin6_port);
    }
  }
  /* The peer and its name in one allocation (conn_name_in_peer). */
  char name[160];
  conn_format_name(peer, c->peer_port, peer, name);
  size_t plen = strlen(peer) + 1, nlen = strlen(name) + 1;
  c->peer = chat_xmalloc(plen + nlen);
  memcpy(c->peer, peer, plen);
  c->name = c->peer + plen;
  memcpy(c->name, name, nlen);
  c->client = c->peer;
  chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: accepted%s", c->name,
                 c->kind == CHAT_CONN_TLS ? " (TLS)" : c->kind == CHAT_CONN_REDIRECT ? " (redirect)" : "");
  c->secure = c->kind == CHAT_CONN_TLS;
  conn_http_t *h = chat_xcalloc(1, sizeof(*h));
  c->req = &h->req;
  chat_http_req_init(c->req);
  c->req->body_limit = conn_body_limit;  /* files: uploads have their own */
  c->req->body_limit_data = c;
  chat_registry_add(svc->registry, &c->reg, c);  /* takes the creator's reference */
  svc->metrics->conns_total++;
  /* A trusted proxy brings many clients: only the total counts for it. */
  char key[CHAT_ADDR_KEY_MAX];
  conn_addr_key(c, key);
  if (svc->limiter && chat_limiter_conn_open(svc->limiter, key) != 0) {
    svc->metrics->conns_refused++;
    /* Plain HTTP gets a 503; a TLS peer, which could not read one before
     * a handshake, is simply closed. */
    if (c->kind == CHAT_CONN_TLS)
      chat_conn_hard_close(c);
    else
      conn_refuse(c);
    return NULL;
  }
  c->conn_counted = svc->limiter != NULL;
  if (c->kind == CHAT_CONN_TLS)
    chat_conn_tls_start(c, svc->tls);   /* the handshake's own timer */
  else
    chat_conn_request_timer(c);
  chat_conn_read_start(c);
  return c;
}

void chat_conn_accept(const chat_services_t *svc, uv_stream_t *listener,
                      chat_conn_kind_t kind) {
  conn_open(svc, listener, -1, kind);
}

int chat_conn_adopt(const chat_services_t *svc, int fd, const char *data, size_t len) {
  chat_conn_t *c = conn_open(svc, NULL, fd, CHAT_CONN_PLAIN);
  if (c && len > 0) chat_conn_input(c, data, len);
  return 0;
}

