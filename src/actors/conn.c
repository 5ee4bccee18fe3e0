/* The connection actor: one per TCP connection.
 *
 * It starts as HTTP/1.1 (keep-alive, one request answered at a time), serves
 * static files and hands API requests to api.c; a GET /ws with a valid
 * session becomes a WebSocket.  As a WebSocket it turns client frames into
 * mails to room actors and writes the frames other actors post to it.
 *
 * Output: a queue of reference-counted buffers (a broadcast frame is shared
 * by every recipient), written with one uv_write per loop turn.  The bytes
 * queued and in flight are capped: past ws_out_cap the peer is a slow
 * consumer and is closed with 1013.
 *
 * Closing: a close frame (or the last HTTP response) is written, then the
 * write side is shut down and the input drained until the peer closes or a
 * linger timer fires, so the peer reads what we sent instead of a reset.
 * The handle is closed once; the actor is freed when its last reference
 * (rooms, pending jobs, mails) goes. */
#include <assert.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/text.h"
#include "../net/http.h"
#include "../net/static.h"
#include "../net/ws.h"
#include "notifier.h"
#include "server.h"

#define REQUEST_TIMEOUT_MS 30000  /* a whole request must arrive in this */
#define LINGER_MS 2000            /* wait for the peer's close after ours */
#define CLOSING_MS 10000          /* most time to write out a closing answer */
#define HTTP_OUT_MAX (1024 * 1024) /* answers queued before reading more requests */
#define STATIC_MAX (8 * 1024 * 1024)
#define TEXT_MAX_CHARS 4000

typedef enum { CONN_HTTP, CONN_WS, CONN_CLOSING, CONN_CLOSED } conn_state_t;

typedef struct {
  int64_t room_id;
  chat_room_t *room;   /* a reference on the room's actor */
} joined_t;

struct chat_conn_s {
  chat_actor_t actor;
  chat_server_t *srv;
  conn_state_t state;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown_req;
  int handles;                  /* open libuv handles of this connection */
  chat_conn_t *prev, *next;     /* the server's list */
  chat_conn_t *flush_next;      /* the server's list of pending output */
  int in_flush;
  char peer[64];

  /* HTTP */
  chat_http_req_t *req;
  char *in;                     /* input not parsed yet */
  size_t in_len, in_cap;
  int busy;                     /* answering a request */
  int reading;
  int keep_alive;               /* of the request being answered */
  int upgrade_pending;          /* the parser stopped at an Upgrade */
  int processing;               /* inside conn_process_input */
  int out_paused;               /* a peer that does not read its answers */

  /* WebSocket */
  chat_ws_parser_t ws;
  int ws_inited;
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  int presence_on;
  joined_t *rooms;
  size_t nrooms, rooms_cap;
  struct dm_req_s *dm_head, *dm_tail;  /* direct messages waiting for a check */
  double tokens;                /* flood control: messages it may send now */
  uint64_t tokens_at;           /* loop time of the last refill */
  int dm_busy;

  /* output */
  chat_rbuf_t **outq;
  size_t outq_len, outq_cap;
  size_t out_bytes;             /* queued plus in flight */
  int writes;                   /* uv_write requests in flight */
  int close_queued;             /* a close frame or final response is queued */
  int linger;                   /* shut down and draining input */
};

typedef struct {
  uv_write_t req;
  chat_conn_t *c;
  size_t n, bytes;
  chat_rbuf_t *bufs[];
} wreq_t;

static void conn_process_input(chat_conn_t *c);
static void conn_ws_close(chat_conn_t *c, int code);
static void conn_ws_close_reason(chat_conn_t *c, int code, const char *why);
static void conn_hard_close(chat_conn_t *c);
static void conn_maybe_linger(chat_conn_t *c);
static void conn_read_start(chat_conn_t *c);

chat_actor_t *chat_conn_actor(chat_conn_t *c) { return &c->actor; }
chat_conn_t *chat_conn_from_actor(chat_actor_t *a) {
  return container_of(a, chat_conn_t, actor);
}
chat_conn_t *chat_conn_next(const chat_conn_t *c) { return c->next; }
const chat_http_req_t *chat_conn_req(const chat_conn_t *c) { return c->req; }
const char *chat_conn_peer(const chat_conn_t *c) { return c->peer; }
int chat_conn_is_open(const chat_conn_t *c) {
  return c->state == CONN_HTTP || c->state == CONN_WS;
}
int chat_conn_is_ws_of(const chat_conn_t *c, int64_t user_id) {
  return c->state == CONN_WS && c->user_id == user_id;
}
int chat_conn_has_session(const chat_conn_t *c, const uint8_t *token_hash) {
  return memcmp(c->token_hash, token_hash, CHAT_TOKEN_HASH_LEN) == 0;
}

/* ---- lifetime ---------------------------------------------------------- */

static void dm_free_queue(chat_conn_t *c);

static void conn_free_cb(chat_actor_t *a) {
  chat_conn_t *c = chat_conn_from_actor(a);
  assert(c->state == CONN_CLOSED && c->handles == 0);
  for (size_t i = 0; i < c->outq_len; i++) chat_rbuf_unref(c->outq[i]);
  free(c->outq);
  free(c->rooms);
  dm_free_queue(c);
  free(c->in);
  if (c->req) {
    chat_http_req_free(c->req);
    free(c->req);
  }
  if (c->ws_inited) chat_ws_parser_free(&c->ws);
  free(c);
}

static void handle_closed_cb(uv_handle_t *h) {
  chat_conn_t *c = h->data;
  if (--c->handles > 0) return;
  chat_server_t *srv = c->srv;
  /* Leave every room (the others see the user go) and go offline. */
  for (size_t i = 0; i < c->nrooms; i++) {
    chat_room_post_leave(c->rooms[i].room, c, 0);
    chat_actor_unref(chat_room_actor(c->rooms[i].room));
  }
  c->nrooms = 0;
  if (c->presence_on) {
    c->presence_on = 0;
    chat_server_user_conn_remove(srv, c->user_id, c);
    srv->presence->ops->disconnect(srv->presence, c->user_id);
  }
  for (size_t i = 0; i < c->outq_len; i++) chat_rbuf_unref(c->outq[i]);
  c->outq_len = 0;
  chat_server_conn_closed(srv, c);
  chat_actor_unref(&c->actor);  /* the server's reference */
}

static void conn_hard_close(chat_conn_t *c) {
  if (c->state == CONN_CLOSED) return;
  c->state = CONN_CLOSED;
  uv_close((uv_handle_t *)&c->tcp, handle_closed_cb);
  uv_close((uv_handle_t *)&c->timer, handle_closed_cb);
}

static void linger_timer_cb(uv_timer_t *t) {
  chat_conn_t *c = t->data;
  conn_hard_close(c);
}

static void request_timer_cb(uv_timer_t *t) {
  chat_conn_t *c = t->data;
  if (c->state == CONN_HTTP && !c->busy) conn_hard_close(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  chat_conn_t *c = req->data;
  if (status < 0) conn_hard_close(c);
}

/* Enters CLOSING: the last frame or answer is queued; a peer that does
 * not read it in CLOSING_MS is cut off. */
static void conn_begin_closing(chat_conn_t *c) {
  c->state = CONN_CLOSING;
  uv_timer_start(&c->timer, linger_timer_cb, CLOSING_MS, 0);
}

/* Everything we meant to send is written: shut down our side and wait a
 * little for the peer to close. */
static void conn_maybe_linger(chat_conn_t *c) {
  if (c->state != CONN_CLOSING || c->linger || c->writes || c->outq_len) return;
  c->linger = 1;
  c->shutdown_req.data = c;
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
    conn_hard_close(c);
    return;
  }
  conn_read_start(c);
  uv_timer_start(&c->timer, linger_timer_cb, LINGER_MS, 0);
}

/* ---- output ------------------------------------------------------------ */

static void idle_noop(uv_idle_t *h) { (void)h; }

/* Queues b (taking the caller's reference) and schedules a write. */
static void conn_queue(chat_conn_t *c, chat_rbuf_t *b) {
  if (c->state == CONN_CLOSED || c->close_queued) {
    chat_rbuf_unref(b);
    return;
  }
  if (c->outq_len == c->outq_cap) {
    c->outq_cap = c->outq_cap ? c->outq_cap * 2 : 8;
    c->outq = chat_xrealloc(c->outq, c->outq_cap * sizeof(*c->outq));
  }
  c->outq[c->outq_len++] = b;
  c->out_bytes += b->len;
  if (!c->in_flush) {
    c->in_flush = 1;
    c->flush_next = c->srv->flush_head;
    c->srv->flush_head = c;
    chat_actor_ref(&c->actor);
    chat_sched_t *s = &c->srv->sched;
    if (!uv_is_active((uv_handle_t *)&s->idle) && !uv_is_closing((uv_handle_t *)&s->idle))
      uv_idle_start(&s->idle, idle_noop);
  }
  if (c->state == CONN_WS && c->out_bytes > c->srv->ws_out_cap) {
    chat_log_warn("conn %s: slow consumer (%zu bytes queued), closing", c->peer,
                  c->out_bytes);
    conn_ws_close(c, CHAT_WS_CLOSE_TRY_AGAIN);
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
    conn_hard_close(c);
  } else {
    conn_maybe_linger(c);
    if (c->out_paused && c->out_bytes <= HTTP_OUT_MAX / 2 && c->state == CONN_HTTP) {
      c->out_paused = 0;
      conn_process_input(c);
      if (c->state == CONN_HTTP && !c->busy) conn_read_start(c);
    }
  }
  chat_actor_unref(&c->actor);
}

static void conn_flush(chat_conn_t *c) {
  if (c->state == CONN_CLOSED || c->outq_len == 0) return;
  size_t n = c->outq_len;
  wreq_t *wr = chat_xmalloc(sizeof(*wr) + n * sizeof(chat_rbuf_t *));
  uv_buf_t stackbufs[64];
  uv_buf_t *bufs = n <= 64 ? stackbufs : chat_xmalloc(n * sizeof(uv_buf_t));
  wr->c = c;
  wr->n = n;
  wr->bytes = 0;
  for (size_t i = 0; i < n; i++) {
    wr->bufs[i] = c->outq[i];
    bufs[i] = uv_buf_init((char *)c->outq[i]->data, (unsigned)c->outq[i]->len);
    wr->bytes += c->outq[i]->len;
  }
  c->outq_len = 0;
  int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, bufs, (unsigned)n, write_cb);
  if (bufs != stackbufs) free(bufs);
  if (rc < 0) {
    for (size_t i = 0; i < n; i++) chat_rbuf_unref(wr->bufs[i]);
    c->out_bytes -= wr->bytes;
    free(wr);
    conn_hard_close(c);
    return;
  }
  c->writes++;
  chat_actor_ref(&c->actor);
}

void chat_conn_flush_all(void *ud) {
  chat_server_t *srv = ud;
  while (srv->flush_head) {
    chat_conn_t *c = srv->flush_head;
    srv->flush_head = c->flush_next;
    c->flush_next = NULL;
    c->in_flush = 0;
    conn_flush(c);
    chat_actor_unref(&c->actor);
  }
}

/* ---- mails from other actors ----------------------------------------- */

typedef struct {
  chat_mail_t mail;
  chat_rbuf_t *buf;
} frame_mail_t;

static void on_frame_mail(chat_actor_t *self, chat_mail_t *m) {
  frame_mail_t *fm = (frame_mail_t *)m;
  chat_conn_t *c = chat_conn_from_actor(self);
  if (c->state == CONN_WS) {
    conn_queue(c, fm->buf);
  } else {
    chat_rbuf_unref(fm->buf);
  }
  free(fm);
}

void chat_conn_post_frame(chat_conn_t *c, chat_rbuf_t *b) {
  frame_mail_t *fm = chat_xmalloc(sizeof(*fm));
  fm->mail.handle = on_frame_mail;
  fm->buf = chat_rbuf_ref(b);
  chat_actor_post(&c->actor, &fm->mail);
}

typedef struct {
  chat_mail_t mail;
  int64_t value;
} int_mail_t;

static void on_left_mail(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  int64_t room_id = ((int_mail_t *)m)->value;
  free(m);
  for (size_t i = 0; i < c->nrooms; i++) {
    if (c->rooms[i].room_id == room_id) {
      chat_actor_unref(chat_room_actor(c->rooms[i].room));
      c->rooms[i] = c->rooms[--c->nrooms];
      break;
    }
  }
}

void chat_conn_post_left(chat_conn_t *c, int64_t room_id) {
  int_mail_t *m = chat_xmalloc(sizeof(*m));
  m->mail.handle = on_left_mail;
  m->value = room_id;
  chat_actor_post(&c->actor, &m->mail);
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
  if (c->state == CONN_WS) {
    conn_ws_close_reason(c, code, reason);
  } else if (c->state == CONN_HTTP) {
    if (c->busy)
      c->keep_alive = 0;  /* close after the answer in progress */
    else
      conn_hard_close(c);
  }
}

void chat_conn_post_close(chat_conn_t *c, int code, const char *reason) {
  close_mail_t *m = chat_xmalloc(sizeof(*m));
  m->mail.handle = on_close_mail;
  m->code = code;
  m->reason = reason;
  chat_actor_post(&c->actor, &m->mail);
}

/* ---- HTTP answers ---------------------------------------------------- */

static const char *const common_headers =
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: same-origin\r\n";

/* Sends a response to the request being answered and moves on to the next
 * request (or closes). */
static void conn_respond(chat_conn_t *c, chat_rbuf_t *resp) {
  conn_queue(c, resp);
  if (c->state != CONN_HTTP) return;
  if (!c->keep_alive || c->upgrade_pending) {
    c->close_queued = 1;
    conn_begin_closing(c);
    conn_maybe_linger(c);
    return;
  }
  c->busy = 0;
  chat_http_req_next(c->req);
  uv_timer_start(&c->timer, request_timer_cb, REQUEST_TIMEOUT_MS, 0);
  /* Pipelined requests wait while earlier answers are not being read. */
  if (c->out_bytes > HTTP_OUT_MAX) {
    c->out_paused = 1;
    return;
  }
  conn_process_input(c);
  if (c->state == CONN_HTTP && !c->busy) conn_read_start(c);
}

void chat_conn_respond_json(chat_conn_t *c, int status, const char *json,
                            const char *extra_headers) {
  if (c->state != CONN_HTTP || !c->busy) return;
  char headers[2048];
  snprintf(headers, sizeof(headers), "%sCache-Control: no-store\r\n%s",
           common_headers, extra_headers ? extra_headers : "");
  int head_only = c->req->method == HTTP_HEAD;
  chat_rbuf_t *b = chat_http_response(
      status, json ? "application/json; charset=utf-8" : NULL, headers, json,
      json ? strlen(json) : 0, c->keep_alive, head_only);
  conn_respond(c, b);
}

void chat_conn_respond_error(chat_conn_t *c, int status, const char *code,
                             const char *message, const char *extra_headers) {
  cJSON *root = cJSON_CreateObject();
  cJSON *err = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(err, "code", code);
  cJSON_AddStringToObject(err, "message", message);
  char *json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  chat_conn_respond_json(c, status, json, extra_headers);
  cJSON_free(json);
}

/* Answers a request the parser refused, then closes. */
static void conn_respond_bad_http(chat_conn_t *c, int status) {
  const char *code = status == 413   ? "payload_too_large"
                     : status == 431 ? "headers_too_large"
                                     : "bad_request";
  const char *msg = status == 413   ? "request body over 1 MiB"
                    : status == 431 ? "request headers over 16 KiB"
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

/* ---- static files ---------------------------------------------------- */

typedef struct {
  chat_job_t job;
  char path[4096];
  chat_static_file_t file;
  int rc;
} static_job_t;

static void static_run(chat_job_t *job, chat_store_t *store) {
  static_job_t *sj = (static_job_t *)job;
  sj->rc = chat_static_load(sj->path, STATIC_MAX, &sj->file);
}

static void static_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  static_job_t *sj = container_of(m, static_job_t, job.mail);
  if (c->state == CONN_HTTP && c->busy) {
    int head_only = c->req->method == HTTP_HEAD;
    if (sj->rc != 0) {
      const char *body = "Not Found\n";
      char headers[512];
      snprintf(headers, sizeof(headers), "%s", common_headers);
      conn_respond(c, chat_http_response(404, "text/plain; charset=utf-8", headers,
                                         body, strlen(body), c->keep_alive, head_only));
    } else {
      char etag[64], headers[1024];
      chat_static_etag(etag, sj->file.size, sj->file.mtime_ns);
      size_t inm_len;
      const char *inm = chat_http_header(c->req, "if-none-match", &inm_len);
      const char *mime = chat_static_mime(sj->path);
      int html = strncmp(mime, "text/html", 9) == 0;
      snprintf(headers, sizeof(headers),
               "%sETag: %s\r\nCache-Control: no-cache\r\n%s", common_headers, etag,
               html ? "Content-Security-Policy: default-src 'self'; script-src 'self'; "
                      "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                      "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                      "form-action 'self'\r\nX-Frame-Options: DENY\r\n"
                    : "");
      int not_modified = inm && inm_len == strlen(etag) && memcmp(inm, etag, inm_len) == 0;
      conn_respond(c, chat_http_response(not_modified ? 304 : 200, not_modified ? NULL : mime,
                                         headers, sj->file.data, sj->file.size,
                                         c->keep_alive, head_only));
    }
  }
  chat_static_file_free(&sj->file);
  free(sj);
}

static void conn_serve_static(chat_conn_t *c, const char *path, size_t len) {
  chat_server_t *srv = c->srv;
  static_job_t *sj = chat_xcalloc(1, sizeof(*sj));
  int rc;
  static const char vendor[] = "/vendor/bootstrap/";
  if (len >= sizeof(vendor) - 1 && memcmp(path, vendor, sizeof(vendor) - 1) == 0)
    rc = chat_static_resolve(srv->vendor_dir, path + sizeof(vendor) - 2,
                             len - (sizeof(vendor) - 2), sj->path, sizeof(sj->path));
  else
    rc = chat_static_resolve(srv->public_dir, path, len, sj->path, sizeof(sj->path));
  if (rc != 0) {
    free(sj);
    const char *body = "Bad path\n";
    conn_respond(c, chat_http_response(400, "text/plain; charset=utf-8", common_headers,
                                       body, strlen(body), c->keep_alive,
                                       c->req->method == HTTP_HEAD));
    return;
  }
  sj->job.mail.handle = static_done;
  sj->job.run = static_run;
  chat_storage_submit(srv->storage, &sj->job, &c->actor);
}

/* ---- WebSocket: upgrade ---------------------------------------------- */

typedef struct {
  chat_job_t job;
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t user;
  int rc;
  char accept[29];
} ws_auth_job_t;

static void ws_auth_run(chat_job_t *job, chat_store_t *store) {
  ws_auth_job_t *j = (ws_auth_job_t *)job;
  j->rc = chat_store_session_lookup(store, j->token_hash, chat_now_ms(), &j->user);
  if (j->rc == 0 && j->user.banned) j->rc = CHAT_ENOTFOUND;
}

static int ws_message_cb(void *ud, int opcode, const uint8_t *data, size_t len);

static void conn_ws_feed(chat_conn_t *c, const uint8_t *data, size_t len) {
  int rc = chat_ws_parser_feed(&c->ws, data, len, ws_message_cb, c);
  if (rc > 0) conn_ws_close(c, rc);
}

static void ws_auth_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  ws_auth_job_t *j = container_of(m, ws_auth_job_t, job.mail);
  chat_server_t *srv = c->srv;
  if (c->state != CONN_HTTP || !c->busy || srv->state != SRV_RUNNING) {
    if (c->state == CONN_HTTP && c->busy)
      chat_conn_respond_error(c, 503, "shutting_down", "server is shutting down", NULL);
    free(j);
    return;
  }
  if (j->rc == CHAT_EUNAVAIL) {
    chat_conn_respond_error(c, 503, "store_unavailable", "the store is unavailable", NULL);
    free(j);
    return;
  }
  if (j->rc != 0) {
    chat_conn_respond_error(c, 401, "unauthenticated", "log in first", NULL);
    free(j);
    return;
  }
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 101 Switching Protocols\r\n"
                   "Upgrade: websocket\r\n"
                   "Connection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n\r\n",
                   j->accept);
  chat_rbuf_t *b = chat_rbuf_new((size_t)n);
  memcpy(b->data, head, (size_t)n);
  b->len = (size_t)n;
  conn_queue(c, b);
  c->state = CONN_WS;
  c->busy = 0;
  c->user_id = j->user.id;
  snprintf(c->username, sizeof(c->username), "%s", j->user.username);
  memcpy(c->token_hash, j->token_hash, sizeof(c->token_hash));
  free(j);
  uv_timer_stop(&c->timer);
  chat_http_req_free(c->req);
  free(c->req);
  c->req = NULL;
  chat_ws_parser_init(&c->ws, srv->ws_max_message);
  c->ws_inited = 1;
  c->presence_on = 1;
  c->tokens = srv->ws_burst;
  c->tokens_at = uv_now(srv->loop);
  chat_server_user_conn_add(srv, c->user_id, c);
  srv->presence->ops->connect(srv->presence, c->user_id, c->username);
  /* Bytes that came after the handshake are the first frames. */
  if (c->in_len) {
    uint8_t *rest = (uint8_t *)c->in;
    size_t rest_len = c->in_len;
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    conn_ws_feed(c, rest, rest_len);
    free(rest);
  }
  if (c->state == CONN_WS) conn_read_start(c);
}

static void conn_upgrade(chat_conn_t *c) {
  chat_server_t *srv = c->srv;
  const chat_http_req_t *r = c->req;
  size_t klen, vlen, slen;
  const char *key = chat_http_header(r, "sec-websocket-key", &klen);
  const char *ver = chat_http_header(r, "sec-websocket-version", &vlen);
  c->keep_alive = 0;
  if (r->method != HTTP_GET || !chat_http_header_has_token(r, "upgrade", "websocket") ||
      key == NULL) {
    chat_conn_respond_error(c, 400, "bad_request", "a WebSocket handshake is expected", NULL);
    return;
  }
  if (ver == NULL || vlen != 2 || memcmp(ver, "13", 2) != 0) {
    chat_conn_respond_error(c, 426, "bad_request", "WebSocket version 13 is required",
                            "Sec-WebSocket-Version: 13\r\n");
    return;
  }
  if (!chat_conn_origin_ok(c)) {
    chat_conn_respond_error(c, 403, "bad_origin", "cross-origin WebSocket refused", NULL);
    return;
  }
  ws_auth_job_t *j = chat_xcalloc(1, sizeof(*j));
  if (chat_ws_accept_key(key, klen, j->accept) != 0) {
    free(j);
    chat_conn_respond_error(c, 400, "bad_request", "bad Sec-WebSocket-Key", NULL);
    return;
  }
  const char *sid = chat_http_cookie(r, "sid", &slen);
  if (sid == NULL || slen != CHAT_TOKEN_CHARS) {
    free(j);
    chat_conn_respond_error(c, 401, "unauthenticated", "log in first", NULL);
    return;
  }
  chat_auth_token_hash(sid, slen, j->token_hash);
  j->job.mail.handle = ws_auth_done;
  j->job.run = ws_auth_run;
  chat_storage_submit(srv->storage, &j->job, &c->actor);
}

/* ---- WebSocket: frames from the client ------------------------------- */

static void ws_send_error(chat_conn_t *c, const char *code, const char *message,
                          const char *cid) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", "error");
  cJSON_AddStringToObject(o, "code", code);
  cJSON_AddStringToObject(o, "message", message);
  if (cid) cJSON_AddStringToObject(o, "cid", cid);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_TEXT, s, strlen(s)));
  cJSON_free(s);
}

/* A positive integer id from a JSON field, or 0. */
static int64_t json_id(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (d < 1 || d > 9007199254740991.0 || d != (double)(int64_t)d) return 0;
  return (int64_t)d;
}

static joined_t *conn_joined(chat_conn_t *c, int64_t room_id) {
  for (size_t i = 0; i < c->nrooms; i++)
    if (c->rooms[i].room_id == room_id) return &c->rooms[i];
  return NULL;
}

static int frame_rate(chat_conn_t *c, const char *cid);

static void ws_join(chat_conn_t *c, cJSON *o) {
  int64_t room_id = json_id(o, "room");
  const cJSON *since_v = cJSON_GetObjectItemCaseSensitive(o, "since");
  int64_t since = 0;
  int has_since = 0;
  if (room_id == 0) {
    ws_send_error(c, "bad_request", "join needs a room id", NULL);
    return;
  }
  if (since_v && !cJSON_IsNull(since_v)) {
    if (!cJSON_IsNumber(since_v) || since_v->valuedouble < 0 ||
        since_v->valuedouble >= 9007199254740992.0 ||
        since_v->valuedouble != (double)(int64_t)since_v->valuedouble) {
      ws_send_error(c, "bad_request", "since must be a message id", NULL);
      return;
    }
    since = (int64_t)since_v->valuedouble;
    has_since = 1;
  }
  if (frame_rate(c, NULL)) return;
  chat_room_t *room = chat_server_room(c->srv, room_id);
  if (room == NULL) {
    /* Perhaps created a moment ago on another instance: a room actor for
     * the id checks the store on its first load and answers no_such_room
     * (and goes away) if there is no such room. */
    room = chat_room_new(c->srv, room_id, "");
    chat_server_room_add(c->srv, room, room_id);
  }
  if (conn_joined(c, room_id) == NULL) {
    if (c->nrooms == c->rooms_cap) {
      c->rooms_cap = c->rooms_cap ? c->rooms_cap * 2 : 4;
      c->rooms = chat_xrealloc(c->rooms, c->rooms_cap * sizeof(*c->rooms));
    }
    chat_actor_ref(chat_room_actor(room));
    c->rooms[c->nrooms].room_id = room_id;
    c->rooms[c->nrooms].room = room;
    c->nrooms++;
  }
  chat_room_post_join(room, c, c->user_id, c->username, since, has_since);
}

static void ws_leave(chat_conn_t *c, cJSON *o) {
  int64_t room_id = json_id(o, "room");
  if (room_id == 0) {
    ws_send_error(c, "bad_request", "leave needs a room id", NULL);
    return;
  }
  joined_t *j = conn_joined(c, room_id);
  if (j == NULL) {
    ws_send_error(c, "not_member", "you are not in this room", NULL);
    return;
  }
  chat_room_t *room = j->room;
  *j = c->rooms[--c->nrooms];
  chat_room_post_leave(room, c, 0);
  chat_actor_unref(chat_room_actor(room));
}

/* Reads a frame's optional cid; -1 (error sent) if it is not a short string. */
static int frame_cid(chat_conn_t *c, cJSON *o, const char **cid) {
  const cJSON *cid_v = cJSON_GetObjectItemCaseSensitive(o, "cid");
  *cid = NULL;
  if (cid_v && !cJSON_IsNull(cid_v)) {
    if (!cJSON_IsString(cid_v) || strlen(cid_v->valuestring) >= CHAT_CID_MAX) {
      ws_send_error(c, "bad_request", "cid must be a string of at most 127 bytes", NULL);
      return -1;
    }
    *cid = cid_v->valuestring;
  }
  return 0;
}

/* Trims and checks a message text; -1 (error sent) if it is not fit. */
static int frame_text(chat_conn_t *c, const char *text, const char *cid, size_t *start,
                      size_t *len) {
  chat_text_trim(text, strlen(text), start, len);
  if (*len == 0) {
    ws_send_error(c, "empty_text", "the message is empty", cid);
    return -1;
  }
  if (*len > TEXT_MAX_CHARS * 4 || chat_utf8_count(text + *start, *len) > TEXT_MAX_CHARS) {
    ws_send_error(c, "text_too_long", "a message has at most 4000 characters", cid);
    return -1;
  }
  if (!chat_utf8_valid(text + *start, *len) || memchr(text + *start, '\0', *len)) {
    ws_send_error(c, "bad_request", "text must be valid UTF-8", cid);
    return -1;
  }
  return 0;
}

/* Takes one message from the connection's bucket; -1 (error sent) if it is
 * empty.  The bucket refills at ws_rate a second up to ws_burst. */
static int frame_rate(chat_conn_t *c, const char *cid) {
  chat_server_t *srv = c->srv;
  if (srv->ws_rate <= 0) return 0;
  uint64_t now = uv_now(srv->loop);
  c->tokens += (double)(now - c->tokens_at) / 1000.0 * srv->ws_rate;
  if (c->tokens > srv->ws_burst) c->tokens = srv->ws_burst;
  c->tokens_at = now;
  if (c->tokens < 1) {
    ws_send_error(c, "rate_limited", "too many messages; wait a moment", cid);
    return -1;
  }
  c->tokens -= 1;
  return 0;
}

static void ws_send(chat_conn_t *c, cJSON *o) {
  const char *cid;
  if (frame_cid(c, o, &cid)) return;
  int64_t room_id = json_id(o, "room");
  const cJSON *text_v = cJSON_GetObjectItemCaseSensitive(o, "text");
  if (room_id == 0 || !cJSON_IsString(text_v)) {
    ws_send_error(c, "bad_request", "send needs a room id and a text", cid);
    return;
  }
  joined_t *j = conn_joined(c, room_id);
  if (j == NULL) {
    ws_send_error(c, "not_member", "join the room first", cid);
    return;
  }
  size_t start, len;
  if (frame_text(c, text_v->valuestring, cid, &start, &len)) return;
  if (frame_rate(c, cid)) return;
  chat_room_post_send(j->room, c, c->user_id, c->username, text_v->valuestring + start, len,
                      cid);
}

static void ws_typing(chat_conn_t *c, cJSON *o) {
  int64_t room_id = json_id(o, "room");
  if (room_id == 0) {
    ws_send_error(c, "bad_request", "typing needs a room id", NULL);
    return;
  }
  if (frame_rate(c, NULL)) return;
  joined_t *j = conn_joined(c, room_id);
  if (j == NULL) {
    ws_send_error(c, "not_member", "join the room first", NULL);
    return;
  }
  chat_room_post_typing(j->room, c, c->username);
}

/* ---- direct messages ---------------------------------------------------
 * A dm is checked (the receiver exists, they are friends) by a job, then
 * goes to the storage actor like a room message (group commit), and comes
 * back here: ack, then the `dm` frame to every connection of both users.
 * Checks run one at a time per connection, so DMs keep their order. */

typedef struct dm_req_s {
  struct dm_req_s *next;
  chat_job_t job;
  char to[CHAT_NAME_MAX + 1];
  char *text;
  char *cid;
  chat_user_rec_t rcpt;
  int rc;                     /* of the check */
  chat_friend_state_t state;
  chat_insert_t ins;          /* then the insert */
  char sender[CHAT_NAME_MAX + 1];
} dm_req_t;

static void dm_free(dm_req_t *d) {
  free(d->text);
  free(d->cid);
  free(d);
}

static void dm_free_queue(chat_conn_t *c) {
  while (c->dm_head) {
    dm_req_t *d = c->dm_head;
    c->dm_head = d->next;
    dm_free(d);
  }
  c->dm_tail = NULL;
}

static void dm_check_run(chat_job_t *job, chat_store_t *store) {
  dm_req_t *d = container_of(job, dm_req_t, job);
  d->rc = chat_store_user_by_name(store, d->to, &d->rcpt);
  if (d->rc == 0) d->rc = chat_store_friend_state(store, d->ins.rec.sender_id, d->rcpt.id, &d->state);
}

static void dm_next(chat_conn_t *c);

static void dm_stored(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  dm_req_t *d = container_of(m, dm_req_t, ins.mail);
  chat_server_t *srv = c->srv;
  if (d->ins.failed) {
    ws_send_error(c, "store_unavailable", "the message was not stored; send it again", d->cid);
  } else if (d->ins.rec.status != 0) {
    ws_send_error(c, "not_friends", "direct messages are only between friends", d->cid);
  } else {
    chat_sb_t ack;
    chat_sb_init(&ack);
    chat_sb_puts(&ack, "{\"type\":\"ack\",");
    if (d->cid) {
      chat_sb_puts(&ack, "\"cid\":");
      chat_sb_json_str(&ack, d->cid, strlen(d->cid));
      chat_sb_puts(&ack, ",");
    }
    chat_sb_puts(&ack, "\"id\":");
    chat_sb_int(&ack, d->ins.rec.id);
    chat_sb_puts(&ack, "}");
    if (c->state == CONN_WS) conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_TEXT, ack.buf, ack.len));
    chat_sb_free(&ack);
    if (!d->ins.rec.dup) {
      chat_sb_t sb;
      chat_sb_init(&sb);
      chat_sb_puts(&sb, "{\"type\":\"dm\",\"id\":");
      chat_sb_int(&sb, d->ins.rec.id);
      chat_sb_puts(&sb, ",\"sender\":");
      chat_sb_json_str(&sb, d->sender, strlen(d->sender));
      chat_sb_puts(&sb, ",\"to\":");
      chat_sb_json_str(&sb, d->rcpt.username, strlen(d->rcpt.username));
      chat_sb_puts(&sb, ",\"text\":");
      chat_sb_json_str(&sb, d->text, strlen(d->text));
      chat_sb_puts(&sb, ",\"ts\":");
      chat_sb_int(&sb, d->ins.rec.stored_ts);
      chat_sb_puts(&sb, "}");
      chat_server_deliver_to_user(srv, d->ins.rec.sender_id, sb.buf, sb.len);
      if (d->rcpt.id != d->ins.rec.sender_id)
        chat_server_deliver_to_user(srv, d->rcpt.id, sb.buf, sb.len);
      chat_sb_free(&sb);
      chat_presence_t *pr = srv->presence;
      if (srv->notifier && d->rcpt.email_notify && !d->rcpt.banned &&
          !pr->ops->is_online(pr, d->rcpt.id))
        chat_notifier_add(srv->notifier, d->rcpt.id, d->rcpt.username, d->rcpt.email, "dm",
                          d->sender, NULL, d->text, d->ins.rec.stored_ts);
    }
  }
  dm_free(d);
}

static void dm_checked(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  dm_req_t *d = container_of(m, dm_req_t, job.mail);
  c->dm_busy = 0;
  if (d->rc == CHAT_EUNAVAIL) {
    ws_send_error(c, "store_unavailable", "the store is unavailable", d->cid);
    dm_free(d);
  } else if (d->rc != 0 || d->state != CHAT_FRIEND_ACCEPTED || d->rcpt.banned) {
    ws_send_error(c, "not_friends", "direct messages are only between friends", d->cid);
    dm_free(d);
  } else {
    d->ins.mail.handle = dm_stored;
    d->ins.room = &c->actor;
    d->ins.rec.room = 0;
    d->ins.rec.to_id = d->rcpt.id;
    d->ins.rec.text = d->text;
    d->ins.rec.cid = d->cid;
    d->ins.rec.ts = chat_now_ms();
    chat_storage_insert(c->srv->storage, &d->ins);
  }
  dm_next(c);
}

/* Starts the next queued check, if none is running. */
static void dm_next(chat_conn_t *c) {
  if (c->dm_busy || c->dm_head == NULL) return;
  dm_req_t *d = c->dm_head;
  c->dm_head = d->next;
  if (c->dm_head == NULL) c->dm_tail = NULL;
  c->dm_busy = 1;
  d->job.mail.handle = dm_checked;
  d->job.run = dm_check_run;
  chat_storage_submit(c->srv->storage, &d->job, &c->actor);
}

static void ws_dm(chat_conn_t *c, cJSON *o) {
  const char *cid;
  if (frame_cid(c, o, &cid)) return;
  const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "to");
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
  if (!cJSON_IsString(to) || !cJSON_IsString(text)) {
    ws_send_error(c, "bad_request", "dm needs to and text", cid);
    return;
  }
  size_t start, len;
  if (frame_text(c, text->valuestring, cid, &start, &len)) return;
  if (frame_rate(c, cid)) return;
  if (strlen(to->valuestring) > CHAT_NAME_MAX) {
    ws_send_error(c, "not_friends", "direct messages are only between friends", cid);
    return;
  }
  dm_req_t *d = chat_xcalloc(1, sizeof(*d));
  snprintf(d->to, sizeof(d->to), "%s", to->valuestring);
  snprintf(d->sender, sizeof(d->sender), "%s", c->username);
  d->text = chat_xstrndup(text->valuestring + start, len);
  d->cid = cid ? chat_xstrdup(cid) : NULL;
  d->ins.rec.sender_id = c->user_id;
  if (c->dm_tail)
    c->dm_tail->next = d;
  else
    c->dm_head = d;
  c->dm_tail = d;
  dm_next(c);
}

static void ws_handle_text(chat_conn_t *c, const uint8_t *data, size_t len) {
  cJSON *o = chat_json_parse((const char *)data, len);
  if (o == NULL) {
    ws_send_error(c, "bad_json", "the frame is not valid JSON", NULL);
    return;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  if (!cJSON_IsObject(o) || !cJSON_IsString(type)) {
    ws_send_error(c, "bad_request", "a frame is a JSON object with a type", NULL);
  } else if (strcmp(type->valuestring, "send") == 0) {
    ws_send(c, o);
  } else if (strcmp(type->valuestring, "join") == 0) {
    ws_join(c, o);
  } else if (strcmp(type->valuestring, "leave") == 0) {
    ws_leave(c, o);
  } else if (strcmp(type->valuestring, "typing") == 0) {
    ws_typing(c, o);
  } else if (strcmp(type->valuestring, "dm") == 0) {
    ws_dm(c, o);
  } else {
    ws_send_error(c, "unknown_type", "unknown frame type", NULL);
  }
  cJSON_Delete(o);
}

static int ws_message_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  chat_conn_t *c = ud;
  if (c->state != CONN_WS) return 1;
  c->srv->ws_frames_in++;
  switch (opcode) {
    case CHAT_WS_OP_TEXT:
      ws_handle_text(c, data, len);
      break;
    case CHAT_WS_OP_BINARY:
      ws_send_error(c, "bad_request", "binary frames are not used", NULL);
      break;
    case CHAT_WS_OP_PING:
      conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_PONG, data, len));
      break;
    case CHAT_WS_OP_PONG:
      break;
    case CHAT_WS_OP_CLOSE: {
      /* Echo the peer's code, then wait for it to close the TCP stream. */
      int code = len >= 2 ? (data[0] << 8 | data[1]) : 0;
      if (code)
        conn_ws_close(c, code);
      else {
        conn_begin_closing(c);
        conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_CLOSE, NULL, 0));
        c->close_queued = 1;
        conn_maybe_linger(c);
      }
      return 1;
    }
  }
  return c->state == CONN_WS ? 0 : 1;
}

/* Sends a close frame and closes once it is written. */
static void conn_ws_close(chat_conn_t *c, int code) { conn_ws_close_reason(c, code, NULL); }

static void conn_ws_close_reason(chat_conn_t *c, int code, const char *why) {
  if (c->state != CONN_WS) return;
  const char *reason = why                                ? why
                       : code == CHAT_WS_CLOSE_GOING_AWAY   ? "server shutting down"
                       : code == CHAT_WS_CLOSE_PROTOCOL   ? "protocol error"
                       : code == CHAT_WS_CLOSE_BAD_DATA   ? "invalid UTF-8"
                       : code == CHAT_WS_CLOSE_POLICY     ? "session ended"
                       : code == CHAT_WS_CLOSE_TOO_BIG    ? "message too big"
                       : code == CHAT_WS_CLOSE_TRY_AGAIN  ? "too slow"
                                                          : NULL;
  /* CLOSING first: the close frame itself is not subject to the cap. */
  conn_begin_closing(c);
  /* A slow consumer's backlog is dropped: the close goes out at once. */
  if (code == CHAT_WS_CLOSE_TRY_AGAIN) {
    for (size_t i = 0; i < c->outq_len; i++) {
      c->out_bytes -= c->outq[i]->len;
      chat_rbuf_unref(c->outq[i]);
    }
    c->outq_len = 0;
  }
  conn_queue(c, chat_ws_close_frame_new((uint16_t)code, reason));
  c->close_queued = 1;
  conn_maybe_linger(c);
}

/* ---- HTTP: requests -------------------------------------------------- */

static void conn_dispatch(chat_conn_t *c) {
  chat_server_t *srv = c->srv;
  const char *path, *query;
  size_t path_len, query_len;
  srv->http_requests++;
  chat_http_url(c->req, &path, &path_len, &query, &query_len);
  if (srv->state != SRV_RUNNING) c->keep_alive = 0;
  if (path_len == 0 || path[0] != '/') {
    chat_conn_respond_error(c, 400, "bad_request", "the request target must be a path", NULL);
    return;
  }
  chat_route_match_t m;
  int rc = chat_route_match(c->req->method, path, path_len, &m);
  if (rc == 200 && m.id == CHAT_ROUTE_WS) {
    conn_upgrade(c);
    return;
  }
  if (rc == 200) {
    chat_api_handle(srv, c, &m);
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

/* Parses buffered input and answers the requests in it, one at a time.  An
 * answer given at once (an error, say) lets the loop go on to the next
 * pipelined request; a nested call (from that answer) returns at once, so
 * the stack does not grow with the number of requests. */
static void conn_process_input(chat_conn_t *c) {
  if (c->processing) return;
  c->processing = 1;
  size_t off = 0;
  while (c->state == CONN_HTTP && !c->busy && off < c->in_len) {
    size_t consumed = 0;
    int rc = chat_http_req_feed(c->req, c->in + off, c->in_len - off, &consumed);
    off += consumed;
    if (rc == CHAT_HTTP_MORE) break;
    if (rc == CHAT_HTTP_ERROR) {
      off = c->in_len;
      conn_respond_bad_http(c, c->req->error_status);
      break;
    }
    c->busy = 1;
    c->keep_alive = c->req->keep_alive;
    c->upgrade_pending = rc == CHAT_HTTP_UPGRADE;
    uv_timer_stop(&c->timer);
    /* Keep what follows for later; answering may be asynchronous. */
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    off = 0;
    if (c->reading) {
      uv_read_stop((uv_stream_t *)&c->tcp);
      c->reading = 0;
    }
    conn_dispatch(c);
  }
  if (off) {
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
  }
  c->processing = 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  chat_conn_t *c = h->data;
  buf->base = c->srv->readbuf;
  buf->len = sizeof(c->srv->readbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  chat_conn_t *c = s->data;
  if (nread < 0) {
    conn_hard_close(c);
    return;
  }
  if (nread == 0) return;
  switch (c->state) {
    case CONN_WS:
      conn_ws_feed(c, (const uint8_t *)buf->base, (size_t)nread);
      break;
    case CONN_HTTP:
      if (c->in_len + (size_t)nread > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        while (cap < c->in_len + (size_t)nread) cap *= 2;
        c->in = chat_xrealloc(c->in, cap);
        c->in_cap = cap;
      }
      memcpy(c->in + c->in_len, buf->base, (size_t)nread);
      c->in_len += (size_t)nread;
      if (!c->busy) conn_process_input(c);
      break;
    default:
      break;  /* closing: discard */
  }
}

static void conn_read_start(chat_conn_t *c) {
  if (c->reading || c->state == CONN_CLOSED) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) c->reading = 1;
}

static void accept_failed_closed_cb(uv_handle_t *h) {
  chat_conn_t *c = h->data;
  if (--c->handles == 0) free(c);
}

void chat_conn_accept(chat_server_t *srv) {
  chat_conn_t *c = chat_xcalloc(1, sizeof(*c));
  c->srv = srv;
  chat_actor_init(&c->actor, &srv->sched, conn_free_cb);
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  uv_timer_init(srv->loop, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  c->state = CONN_HTTP;
  if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp) != 0) {
    c->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, accept_failed_closed_cb);
    uv_close((uv_handle_t *)&c->timer, accept_failed_closed_cb);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  /* A peer that vanished without a FIN is noticed eventually. */
  uv_tcp_keepalive(&c->tcp, 1, 60);
  struct sockaddr_storage ss;
  int sslen = sizeof(ss);
  c->peer[0] = '\0';
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0) {
    if (ss.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof(c->peer));
    else if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof(c->peer));
  }
  c->req = chat_xmalloc(sizeof(*c->req));
  chat_http_req_init(c->req);
  /* The server's list holds the creator's reference. */
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  srv->conns_total++;
  uv_timer_start(&c->timer, request_timer_cb, REQUEST_TIMEOUT_MS, 0);
  conn_read_start(c);
}

/* Unlinks c from the server's list (the server calls this back). */
void chat_conn_unlink(chat_server_t *srv, chat_conn_t *c);
void chat_conn_unlink(chat_server_t *srv, chat_conn_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  srv->nconns--;
}

chat_server_t *chat_conn_server(const chat_conn_t *c) { return c->srv; }
int chat_conn_is_ws(const chat_conn_t *c) { return c->state == CONN_WS; }

void chat_conn_respond_text(chat_conn_t *c, int status, const char *content_type,
                            const char *body) {
  if (c->state != CONN_HTTP || !c->busy) return;
  char headers[256];
  snprintf(headers, sizeof(headers), "%sCache-Control: no-store\r\n", common_headers);
  conn_respond(c, chat_http_response(status, content_type, headers, body, strlen(body),
                                     c->keep_alive, c->req->method == HTTP_HEAD));
}
