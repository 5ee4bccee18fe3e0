/* The connection actor (conn.h), its WebSocket half: the upgrade and the
 * session check, frames from the client, the rooms joined, and the
 * handing of direct messages to the connection's DM actor (dm.h). */
#define _GNU_SOURCE  /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../net/proto.h"
#include "apicache.h"
#include "conn_int.h"
#include "embed.h"
#include "dm.h"
#include "extras.h"
#include "presence.h"
#include "roomdir.h"
#include "storage.h"

static chat_member_t conn_member(chat_conn_t *c) {
  chat_member_t m = {&c->actor, &chat_conn_member_ops};
  return m;
}

/* ---- life cycle ---------------------------------------------------------- */

void chat_conn_ws_release(chat_conn_t *c) {
  for (size_t i = 0; i < c->nrooms; i++) {
    chat_room_post_leave(c->rooms[i].room, &c->actor);
    chat_actor_unref(chat_room_actor(c->rooms[i].room));
  }
  c->nrooms = 0;
  if (c->presence_on) {
    chat_presence_t *p = c->svc->presence;
    c->presence_on = 0;
    p->ops->disconnect(p, c->user_id);
  }
}

void chat_conn_ws_free(chat_conn_t *c) {
  if (c->uname)  /* the buffer whose data username is */
    chat_rbuf_unref((chat_rbuf_t *)(c->username - offsetof(chat_rbuf_t, data)));
  free(c->rooms);
  if (c->dm) chat_actor_unref(chat_dm_actor(c->dm));
  if (c->ws) {
    chat_ws_parser_free(c->ws);
    free(c->ws);
  }
}

void chat_conn_ws_left(chat_conn_t *c, int64_t room_id) {
  for (size_t i = 0; i < c->nrooms; i++) {
    if (c->rooms[i].room_id == room_id) {
      chat_actor_unref(chat_room_actor(c->rooms[i].room));
      c->rooms[i] = c->rooms[--c->nrooms];
      break;
    }
  }
}

/* ---- WebSocket: upgrade ---------------------------------------------- */

typedef struct {
  chat_job_t job;
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t user;
  int rc;
  char accept[29];
  char host_user[CHAT_NAME_MAX + 1];  /* embed: the user the host vouched for, or "" */
} ws_auth_job_t;

static void ws_auth_run(chat_job_t *job, chat_store_t *store) {
  ws_auth_job_t *j = (ws_auth_job_t *)job;
  if (j->host_user[0])  /* embed */
    j->rc = chat_embed_user(store, j->host_user, &j->user);
  else
    j->rc = chat_store_session_lookup(store, j->token_hash, chat_now_ms(), &j->user);
  if (j->rc == 0 && j->user.banned) j->rc = CHAT_ENOTFOUND;
}

static int ws_message_cb(void *ud, int opcode, const uint8_t *data, size_t len);

void chat_conn_ws_feed(chat_conn_t *c, const uint8_t *data, size_t len) {
  /* Anything from the peer shows it is alive: a pong, a frame, a part of
   * one. */
  chat_registry_touch(c->svc->registry, &c->reg);
  /* Input is nearly always whole frames, parsed by a parser on the stack;
   * the connection keeps one only while a frame or a message is in pieces
   * (or the stream broke), and drops it when it is idle again. */
  chat_ws_parser_t local, *p = c->ws;
  if (p == NULL) {
    chat_ws_parser_init(&local, c->svc->limits->ws_max_message);
    p = &local;
  }
  int rc = chat_ws_parser_feed(p, data, len, ws_message_cb, c);
  if (p == &local) {
    if (!chat_ws_parser_idle(p)) {
      c->ws = chat_xmalloc(sizeof(*c->ws));
      *c->ws = local;
    }
  } else if (chat_ws_parser_idle(p)) {
    chat_ws_parser_free(p);
    free(p);
    c->ws = NULL;
  }
  if (rc > 0) chat_conn_ws_close(c, rc, NULL);
}

static void conn_set_username(chat_conn_t *c, const char *name) {
  chat_rbuf_t *b = chat_registry_user_name(c->svc->registry, c->user_id, name);
  c->username = (const char *)b->data;
  c->uname = 1;
}

static void ws_auth_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  ws_auth_job_t *j = container_of(m, ws_auth_job_t, job.mail);
  const chat_services_t *svc = c->svc;
  if (c->state != CONN_HTTP || !c->busy || !svc->running) {
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
  chat_conn_queue(c, b);
  chat_conn_access_log(c, 101, (size_t)n);
  c->state = CONN_WS;
  c->busy = 0;
  c->user_id = j->user.id;
  char username[CHAT_NAME_MAX + 1];
  snprintf(username, sizeof(username), "%s", j->user.username);
  memcpy(c->token_hash, j->token_hash, sizeof(c->token_hash));
  free(j);
  chat_conn_timer_drop(c);  /* an open WebSocket needs none until it closes */
  char *rest;
  size_t rest_len;
  chat_conn_http_free(c, &rest, &rest_len);
  /* One socket too many for the user (here): the handshake completes, so
   * that a browser sees the code and reason, then the socket closes with
   * 1013 "try again later" (a client reconnects after a pause). */
  size_t max_ws = svc->limits->max_ws_user;
  if (max_ws && chat_registry_user_ws_count(svc->registry, c->user_id) >= max_ws) {
    svc->metrics->ws_refused++;
    conn_set_username(c, username);
    free(rest);
    chat_conn_ws_close(c, CHAT_WS_CLOSE_TRY_AGAIN, "too many connections for this user");
    return;
  }
  c->presence_on = 1;
  chat_registry_set_user(svc->registry, &c->reg, c->user_id);
  conn_set_username(c, username);  /* after: shared with the user's other sockets */
  chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: WebSocket of %s", c->name, c->username);
  svc->presence->ops->connect(svc->presence, c->user_id, c->username);
  /* Bytes that came after the handshake are the first frames; from now on
   * input goes straight to the frame parser, without this buffer. */
  if (rest_len) chat_conn_ws_feed(c, (const uint8_t *)rest, rest_len);
  free(rest);
  if (c->state == CONN_WS) chat_conn_read_start(c);
}

void chat_conn_ws_upgrade(chat_conn_t *c) {
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
  if (chat_embed_auth(c->svc, r, j->host_user)) {  /* embed: the host's user */
  } else if (sid == NULL || slen != CHAT_TOKEN_CHARS) {
    free(j);
    chat_conn_respond_error(c, 401, "unauthenticated", "log in first", NULL);
    return;
  } else {
    chat_auth_token_hash(sid, slen, j->token_hash);
  }
  j->job.mail.handle = ws_auth_done;
  j->job.run = ws_auth_run;
  chat_storage_submit(c->svc->storage, &j->job, &c->actor);
}

/* ---- WebSocket: frames from the client ------------------------------- */

/* Queues an `error` frame (net/proto.h). */
static void ws_error(chat_conn_t *c, chat_proto_code_t code, const char *message,
                     const char *cid) {
  chat_conn_queue(c, chat_proto_error_frame(code, message, cid));
}

/* Queues the `error` frame of a refused request. */
static void ws_refuse(chat_conn_t *c, const chat_proto_error_t *err) {
  chat_conn_queue(c, chat_proto_error_frame_of(err));
}

static conn_joined_t *conn_joined(chat_conn_t *c, int64_t room_id) {
  for (size_t i = 0; i < c->nrooms; i++)
    if (c->rooms[i].room_id == room_id) return &c->rooms[i];
  return NULL;
}

/* The checks after decoding (chat_proto_req_decode checked the frame
 * itself), in the order clients see them: membership, the text, then the
 * receiver's name.  Flood control came first, before the frame was
 * parsed (ws_message_cb). */

static void ws_join(chat_conn_t *c, const chat_proto_req_t *req) {
  /* Perhaps created a moment ago on another instance: a room actor made
   * for the id checks the store on its first load and answers no_such_room
   * (and goes away) if there is no such room. */
  chat_room_t *room = chat_roomdir_open(c->svc->rooms, req->room);
  if (conn_joined(c, req->room) == NULL) {
    if (c->nrooms == c->rooms_cap) {
      c->rooms_cap = c->rooms_cap ? c->rooms_cap * 2 : 1;  /* most join one or two */
      c->rooms = chat_xrealloc(c->rooms, c->rooms_cap * sizeof(*c->rooms));
    }
    chat_actor_ref(chat_room_actor(room));
    c->rooms[c->nrooms].room_id = req->room;
    c->rooms[c->nrooms].room = room;
    c->nrooms++;
  }
  chat_room_post_join_checked(room, conn_member(c), c->user_id, c->username, req->since,
                              req->has_since);
}

static void ws_leave(chat_conn_t *c, const chat_proto_req_t *req) {
  conn_joined_t *j = conn_joined(c, req->room);
  if (j == NULL) {
    ws_error(c, CHAT_PROTO_NOT_MEMBER, "you are not in this room", NULL);
    return;
  }
  chat_room_t *room = j->room;
  *j = c->rooms[--c->nrooms];
  chat_room_post_leave(room, &c->actor);
  chat_actor_unref(chat_room_actor(room));
}

/* files: the text rules of chat_proto_text_check, except that a message
 * with files may have no text (only white space: stored as ""). */
static int ws_text_check(const chat_proto_req_t *req, size_t *start, size_t *len,
                         chat_proto_error_t *err) {
  if (chat_proto_text_check(req->text, req->cid, start, len, err) == 0) return 0;
  if (req->nfiles == 0 || err->code != CHAT_PROTO_EMPTY_TEXT) return -1;
  *start = 0;
  *len = 0;
  return 0;
}

static void ws_send(chat_conn_t *c, const chat_proto_req_t *req) {
  conn_joined_t *j = conn_joined(c, req->room);
  if (j == NULL) {
    ws_error(c, CHAT_PROTO_NOT_MEMBER, "join the room first", req->cid);
    return;
  }
  size_t start, len;
  chat_proto_error_t err;
  if (ws_text_check(req, &start, &len, &err)) {
    ws_refuse(c, &err);
    return;
  }
  chat_room_post_send_ex(j->room, conn_member(c), c->user_id, c->username, req->text + start,
                         len, req->cid, req->reply_to, req->files, req->nfiles);
}

static void ws_typing(chat_conn_t *c, const chat_proto_req_t *req) {
  conn_joined_t *j = conn_joined(c, req->room);
  if (j == NULL) {
    ws_error(c, CHAT_PROTO_NOT_MEMBER, "join the room first", NULL);
    return;
  }
  chat_room_post_typing(j->room, &c->actor, c->username);
}

static void ws_dm(chat_conn_t *c, const chat_proto_req_t *req) {
  size_t start, len;
  chat_proto_error_t err;
  if (ws_text_check(req, &start, &len, &err)) {
    ws_refuse(c, &err);
    return;
  }
  if (strlen(req->to) > CHAT_NAME_MAX) {
    ws_error(c, CHAT_PROTO_NOT_FRIENDS, "direct messages are only between friends", req->cid);
    return;
  }
  if (c->dm == NULL) c->dm = chat_dm_new(c->svc, c->user_id, c->username);
  chat_dm_post_send_ex(c->dm, c, req->to, req->text + start, len, req->cid, req->reply_to,
                       req->files, req->nfiles);
}

static void ws_handle_text(chat_conn_t *c, const uint8_t *data, size_t len) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  if (chat_proto_req_decode(data, len, &req, &err) != 0) {
    ws_refuse(c, &err);
  } else {
    switch (req.type) {
      case CHAT_PROTO_SEND: ws_send(c, &req); break;
      case CHAT_PROTO_JOIN:
        chat_apicache_clear(c->svc->apicache);  /* membership may change (apicache.h) */
        ws_join(c, &req);
        break;
      case CHAT_PROTO_LEAVE:
        chat_apicache_clear(c->svc->apicache);
        ws_leave(c, &req);
        break;
      case CHAT_PROTO_TYPING: ws_typing(c, &req); break;
      case CHAT_PROTO_DM: ws_dm(c, &req); break;
      case CHAT_PROTO_PING: chat_conn_queue(c, chat_proto_pong_frame()); break;
      case CHAT_PROTO_REACT:  /* extras */
      case CHAT_PROTO_EDIT:
      case CHAT_PROTO_DELETE:
        if (req.type == CHAT_PROTO_DELETE) chat_apicache_clear(c->svc->apicache);  /* pins */
        chat_extras_handle(c, &req);
        break;
    }
  }
  chat_proto_req_free(&req);
}

/* The cid of a text frame that is not parsed (flood control refused it):
 * the string after the first "cid": when it is a plain one (no escapes, at
 * most CHAT_CID_MAX - 1 bytes), so a client can tell which send was
 * refused.  Linear in the frame, no allocation.  "" if none. */
static void cheap_cid(const uint8_t *data, size_t len, char out[CHAT_CID_MAX]) {
  static const char key[] = "\"cid\"";
  out[0] = '\0';
  const uint8_t *p = memmem(data, len, key, sizeof(key) - 1);
  if (p == NULL) return;
  const uint8_t *end = data + len;
  p += sizeof(key) - 1;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  if (p >= end || *p++ != ':') return;
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
  if (p >= end || *p++ != '"') return;
  size_t n = 0;
  while (p + n < end && p[n] != '"' && p[n] != '\\' && p[n] >= 0x20 && n < CHAT_CID_MAX - 1) n++;
  if (p + n >= end || p[n] != '"') return;
  memcpy(out, p, n);
  out[n] = '\0';
}

/* Flood control, one bucket per user over all its sockets: every frame
 * but a close takes a token before it is looked at (a refused frame costs
 * no parsing).  0 to go on, -1 if refused (a text frame is told so). */
static int frame_rate(chat_conn_t *c, int opcode, const uint8_t *data, size_t len) {
  const chat_services_t *svc = c->svc;
  if (opcode == CHAT_WS_OP_CLOSE || svc->limiter == NULL) return 0;
  if (chat_limiter_frame(svc->limiter, c->user_id) == 0) return 0;
  svc->metrics->frames_limited++;
  if (opcode == CHAT_WS_OP_TEXT) {
    char cid[CHAT_CID_MAX];
    cheap_cid(data, len, cid);
    ws_error(c, CHAT_PROTO_RATE_LIMITED, "too many messages; wait a moment",
             cid[0] ? cid : NULL);
  }
  return -1;
}

static int ws_message_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  chat_conn_t *c = ud;
  if (c->state != CONN_WS) return 1;
  c->svc->metrics->ws_frames_in++;
  if (frame_rate(c, opcode, data, len)) return c->state == CONN_WS ? 0 : 1;
  switch (opcode) {
    case CHAT_WS_OP_TEXT:
      ws_handle_text(c, data, len);
      break;
    case CHAT_WS_OP_BINARY:
      ws_error(c, CHAT_PROTO_BAD_REQUEST, "binary frames are not used", NULL);
      break;
    case CHAT_WS_OP_PING:
      chat_conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_PONG, data, len));
      break;
    case CHAT_WS_OP_PONG:
      break;
    case CHAT_WS_OP_CLOSE: {
      /* Echo the peer's code, then wait for it to close the TCP stream. */
      int code = len >= 2 ? (data[0] << 8 | data[1]) : 0;
      if (code)
        chat_conn_ws_close(c, code, NULL);
      else {
        chat_conn_begin_closing(c);
        chat_conn_queue(c, chat_ws_frame_new(CHAT_WS_OP_CLOSE, NULL, 0));
        c->close_queued = 1;
        chat_conn_maybe_linger(c);
      }
      return 1;
    }
  }
  return c->state == CONN_WS ? 0 : 1;
}

void chat_conn_ws_close(chat_conn_t *c, int code, const char *why) {
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
  chat_conn_begin_closing(c);
  chat_conn_queue(c, chat_ws_close_frame_new((uint16_t)code, reason));
  c->close_queued = 1;
  chat_conn_maybe_linger(c);
}
