/* The server: the listener, the directory of room actors, the set of
 * connections and the services every actor may use (storage, presence).
 * Internal to the actors layer. */
#ifndef CHAT_ACTORS_SERVER_H
#define CHAT_ACTORS_SERVER_H

#include <chat.h>
#include <uv.h>

#include "../core/imap.h"
#include "../core/rbuf.h"
#include "actor.h"
#include "presence.h"
#include "storage.h"

typedef struct chat_conn_s chat_conn_t;
typedef struct chat_room_s chat_room_t;

typedef enum { SRV_NEW, SRV_RUNNING, SRV_STOPPING, SRV_STOPPED } chat_srv_state_t;

/* The open WebSockets of one user (the server's index; no references: a
 * connection leaves the index before it is freed). */
typedef struct {
  chat_conn_t **v;
  size_t n, cap;
} user_conns_t;

/* Failed logins per (client address, username) in a sliding window. */
typedef struct login_fail_s {
  struct login_fail_s *next;
  char key[200];
  int count;
  int64_t first_ms;
} login_fail_t;

struct chat_server_s {
  uv_loop_t *loop;
  chat_srv_state_t state;
  /* configuration (strings owned) */
  char *listen_host;
  int listen_port;
  char *store_url;
  char *redis_url;
  char *public_dir;
  char *vendor_dir;
  size_t ws_max_message;
  size_t ws_out_cap;
  int64_t session_ms;
  double ws_rate, ws_burst;     /* flood control per connection (0: off) */

  chat_sched_t sched;
  uv_tcp_t listener;
  int listening;
  int port;
  chat_store_t *store;
  chat_storage_t *storage;
  chat_presence_t *presence;
  struct chat_notifier_s *notifier;   /* NULL: no mail */
  chat_imap_t rooms;            /* room id -> chat_room_t* (live rooms) */
  chat_imap_t user_conns;       /* user id -> user_conns_t*: their WebSockets */
  chat_conn_t *conns;           /* every open connection (a list) */
  size_t nconns;
  chat_conn_t *flush_head;      /* connections with output to write */
  login_fail_t *login_fails;
  uv_timer_t tick_timer;        /* releases held messages of rooms */
  chat_room_t **tick_rooms;     /* rooms waiting for a tick (references) */
  size_t ntick, tick_cap;
  int presence_closed;
  int aux_closing;              /* presence and the tick timer, closing */
  char readbuf[64 * 1024];      /* shared by all reads (one at a time) */

  /* stopping */
  int handles_open;             /* handles of the server's own */
  chat_server_stop_cb stop_cb;
  void *stop_ud;

  /* metrics */
  uint64_t http_requests, ws_frames_in, messages_sent, conns_total;
};

/* rooms */
chat_room_t *chat_room_new(chat_server_t *srv, int64_t id, const char *name);
chat_actor_t *chat_room_actor(chat_room_t *r);
/* Tells the room it was deleted: members get room_deleted and are let go;
 * the server has already dropped it from the directory. */
void chat_room_post_delete(chat_room_t *r);
void chat_room_post_join(chat_room_t *r, chat_conn_t *c, int64_t user_id,
                         const char *username, int64_t since, int has_since);
void chat_room_post_leave(chat_room_t *r, chat_conn_t *c, int quiet);
void chat_room_post_send(chat_room_t *r, chat_conn_t *c, int64_t user_id,
                         const char *username, const char *text, size_t len,
                         const char *cid);
void chat_room_post_typing(chat_room_t *r, chat_conn_t *c, const char *username);
/* Renames (the name appears in notification mails). */
void chat_room_post_rename(chat_room_t *r, const char *name);
/* Message id was deleted: members are told, the cache forgets it; local: 1
 * if deleted through this instance (then other instances are told too). */
void chat_room_post_msg_deleted(chat_room_t *r, int64_t id, int local);
/* A frame from presence or another instance for this room's members. */
void chat_room_post_event(chat_room_t *r, const char *json, size_t len);
/* Time to release held messages (see chat_server_room_tick). */
void chat_room_post_tick(chat_room_t *r);

/* connections */
void chat_conn_accept(chat_server_t *srv);
chat_actor_t *chat_conn_actor(chat_conn_t *c);
/* Queues a frame (the connection takes a new reference on b). */
void chat_conn_post_frame(chat_conn_t *c, chat_rbuf_t *b);
/* Tells the connection it is no longer in room_id (the room went away). */
void chat_conn_post_left(chat_conn_t *c, int64_t room_id);
/* Closes a WebSocket with code and reason (a static string; NULL: the
 * code's usual one), or an HTTP connection when idle. */
void chat_conn_post_close(chat_conn_t *c, int code, const char *reason);
/* Used by the server for revocation: does c belong to user_id, and is its
 * session token_hash? */
int chat_conn_is_ws_of(const chat_conn_t *c, int64_t user_id);
int chat_conn_has_session(const chat_conn_t *c, const uint8_t *token_hash);
chat_conn_t *chat_conn_next(const chat_conn_t *c);
/* Writes queued output of every connection that has some. */
void chat_conn_flush_all(void *srv);

/* server services used by actors */
chat_room_t *chat_server_room(chat_server_t *srv, int64_t id);
void chat_server_room_add(chat_server_t *srv, chat_room_t *r, int64_t id);
void chat_server_room_remove(chat_server_t *srv, int64_t id);
/* Asks for chat_room_post_tick soon (rooms holding messages back). */
void chat_server_room_tick(chat_server_t *srv, chat_room_t *r);
void chat_server_conn_closed(chat_server_t *srv, chat_conn_t *c);
/* Sends b to every open WebSocket. */
void chat_server_broadcast(chat_server_t *srv, chat_rbuf_t *b);
/* Closes with 1008 the WebSockets of user_id whose session is not keep
 * (keep NULL: all of them), or, with only_session, those of that session. */
void chat_server_revoke(chat_server_t *srv, int64_t user_id, const uint8_t *keep,
                        const uint8_t *only_session, const char *reason);
/* chat_server_revoke here and on every other instance. */
void chat_server_revoke_everywhere(chat_server_t *srv, int64_t user_id, const uint8_t *keep,
                                   const uint8_t *only_session, const char *reason);
/* Sends a frame to every open WebSocket of the user, on every instance. */
void chat_server_deliver_to_user(chat_server_t *srv, int64_t user_id, const char *json,
                                 size_t len);
/* The same, on this instance only. */
void chat_server_deliver_local(chat_server_t *srv, int64_t user_id, const char *json,
                               size_t len);
/* The index of users' WebSockets. */
void chat_server_user_conn_add(chat_server_t *srv, int64_t user_id, chat_conn_t *c);
void chat_server_user_conn_remove(chat_server_t *srv, int64_t user_id, chat_conn_t *c);
/* Login rate limiting. */
int chat_server_login_blocked(chat_server_t *srv, const char *key, int *retry_after);
void chat_server_login_failed(chat_server_t *srv, const char *key);
void chat_server_login_ok(chat_server_t *srv, const char *key);
/* Takes back one counted attempt (it turned out not to be a failed login). */
void chat_server_login_uncount(chat_server_t *srv, const char *key);

/* Handles an HTTP API request (api.c); the connection waits for its answer
 * through chat_conn_respond. */
#include "../net/route.h"
void chat_api_handle(chat_server_t *srv, chat_conn_t *c, const chat_route_match_t *m);

#endif

/* HTTP answers from the API handlers (conn.c).  The connection goes on with
 * its next request afterwards (or closes, if the request asked to). */
#include "../net/http.h"
const chat_http_req_t *chat_conn_req(const chat_conn_t *c);
const char *chat_conn_peer(const chat_conn_t *c);
chat_conn_t *chat_conn_from_actor(chat_actor_t *a);
int chat_conn_is_open(const chat_conn_t *c);
/* status + JSON body (NULL for none) + extra header lines. */
void chat_conn_respond_json(chat_conn_t *c, int status, const char *json,
                            const char *extra_headers);
void chat_conn_respond_error(chat_conn_t *c, int status, const char *code,
                             const char *message, const char *extra_headers);
/* 1 if the request's Origin (if any) is this server's own. */
int chat_conn_origin_ok(const chat_conn_t *c);
chat_server_t *chat_conn_server(const chat_conn_t *c);
int chat_conn_is_ws(const chat_conn_t *c);
/* status + a text body of the given type. */
void chat_conn_respond_text(chat_conn_t *c, int status, const char *content_type,
                            const char *body);
