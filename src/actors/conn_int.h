/* Private to the connection actor (conn.h): its state, shared by its
 * parts.  conn.c has the socket, the output, the closing, the mails and
 * HTTP; conn_ws.c has the WebSocket (the upgrade, frames from the client,
 * joined rooms, direct messages); conn_tls.c has TLS between the socket and
 * the rest.  Nothing else includes this header. */
#ifndef CHAT_ACTORS_CONN_INT_H
#define CHAT_ACTORS_CONN_INT_H

#include "../net/tls.h"
#include "../net/ws.h"
#include "../store/store.h"
#include "conn.h"
#include "limiter.h"
#include "registry.h"
#include "room.h"

typedef struct chat_room_s chat_room_t;
typedef struct chat_dm_s chat_dm_t;

/* HTTP until an upgrade; WS; CLOSING once the last frame or answer is
 * queued; CLOSED once the handles are being closed. */
typedef enum { CONN_HTTP, CONN_WS, CONN_CLOSING, CONN_CLOSED } conn_state_t;

typedef struct {
  int64_t room_id;
  chat_room_t *room;   /* a reference on the room's actor */
} conn_joined_t;

/* The layout is kept small: an idle WebSocket is this struct and little
 * else (a room member entry, a registry slot, its rooms).  Strings are
 * allocated to size, flags are bits, and what only a request or a close
 * needs (the HTTP parser, the input buffer, the shutdown request, the
 * response headers) exists only while it is needed. */
struct chat_conn_s {
  chat_actor_t actor;
  const chat_services_t *svc;
  conn_state_t state;
  chat_conn_kind_t kind;
  uv_tcp_t tcp;
  uv_timer_t *timer;            /* requests, TLS handshake, closing; none while an open
                                   WebSocket waits (chat_conn_timer) */
  uv_shutdown_t *shutdown_req;  /* while our side shuts down (linger) */
  chat_registry_entry_t reg;    /* the registry's (registry.h) */
  uint64_t id;                  /* the connection id of the log, unique in the process */
  char *peer;                   /* the peer's address (allocated; the first log name
                                   follows it in the same allocation) */
  char *client;                 /* the client's: peer itself, or (allocated) a trusted
                                   proxy's word */
  char *name;                   /* who it is, for the log: "ADDR:PORT",
                                   "[V6]:PORT", or "CLIENT via ADDR:PORT" when a trusted
                                   proxy names the client */
  int handles;                  /* open libuv handles of this connection */
  uint16_t peer_port;
  unsigned secure : 1;          /* the request came over HTTPS (TLS or a proxy's word) */
  unsigned conn_counted : 1;    /* counted by the limiter's connection caps (its key:
                                   conn_addr_key) */
  unsigned tls_bye : 1;         /* TLS: close_notify sent */
  unsigned busy : 1;            /* HTTP: answering a request */
  unsigned reading : 1;
  unsigned keep_alive : 1;      /* of the request being answered */
  unsigned upgrade_pending : 1; /* the parser stopped at an Upgrade */
  unsigned processing : 1;      /* inside conn_process_input */
  unsigned out_paused : 1;      /* a peer that does not read its answers */
  unsigned presence_on : 1;     /* reported to presence as connected */
  unsigned close_queued : 1;    /* a close frame or final response is queued */
  unsigned linger : 1;          /* shut down and draining input */
  unsigned slow : 1;            /* over ws_out_cap: closed with 1013 at the flush */
  unsigned paced : 1;           /* the pacer will flush it (pacer.h) */
  unsigned uname : 1;           /* username is the text of a chat_rbuf_t (conn_uname) */
  char req_id[24];              /* the request id being answered, "" between requests */

  /* TLS (conn_tls.c) */
  chat_tls_conn_t *tls;         /* NULL: plain */

  /* HTTP */
  chat_http_req_t *req;         /* in a conn_http_t (conn_http); NULL once a WebSocket */

  /* WebSocket */
  chat_ws_parser_t *ws;         /* only while a frame or message is in pieces
                                   (chat_conn_ws_feed) */
  int64_t user_id;
  const char *username;          /* "" until a WebSocket; then the text of a buffer
                                   shared by the user's sockets (chat_registry_user_name) */
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  conn_joined_t *rooms;
  uint32_t nrooms, rooms_cap;
  chat_dm_t *dm;                /* its DM actor (a reference), made on the first dm */

  /* output */
  chat_rbuf_t **outq;
  size_t outq_len, outq_cap;
  size_t out_bytes;             /* queued plus in flight */
  int writes;                   /* uv_write requests in flight */
  uint64_t last_write_ns;       /* the last write of queued frames (uv_hrtime; pacer.h) */
  /* extras: react/edit/delete jobs of this socket, one at a time in order
   * (extras.c); the head is on the storage actor */
  struct chat_extras_job_s *xq_head, *xq_tail;
};

/* What only HTTP needs, allocated with the request parser at the accept
 * (c->req points at its req) and freed at the upgrade. */
typedef struct {
  chat_http_req_t req;
  char *in;                     /* input not parsed yet; NULL when there is none */
  size_t in_len, in_cap;
  uint64_t req_start_ns;        /* when the request being answered began (uv_hrtime) */
  size_t upload_bytes;          /* files: bytes of an upload's body since its request
                                   timer last restarted */
} conn_http_t;

/* The HTTP half of c, which must have one (c->req not NULL). */
static inline conn_http_t *conn_http(const chat_conn_t *c) {
  return (conn_http_t *)((char *)c->req - offsetof(conn_http_t, req));
}

/* conn.c */

/* What rooms see of a connection: its frame and left mails. */
extern const chat_member_ops_t chat_conn_member_ops;

/* Queues b (taking the caller's reference) for the next flush. */
void chat_conn_queue(chat_conn_t *c, chat_rbuf_t *b);
/* Enters CLOSING: the last frame or answer is queued. */
void chat_conn_begin_closing(chat_conn_t *c);
/* Shuts down the write side once everything queued is written. */
void chat_conn_maybe_linger(chat_conn_t *c);
void chat_conn_hard_close(chat_conn_t *c);
void chat_conn_read_start(chat_conn_t *c);
/* Plaintext from the peer, to HTTP or the WebSocket. */
void chat_conn_input(chat_conn_t *c, const char *data, size_t len);
/* Writes the n buffers (taking the caller's references) with one
 * uv_write; their bytes must be counted in out_bytes already.  A write
 * that cannot start closes the connection. */
void chat_conn_write(chat_conn_t *c, chat_rbuf_t **bufs, size_t n);
/* The connection's timer, made (a handle more) if it has none; not once
 * CLOSED. */
uv_timer_t *chat_conn_timer(chat_conn_t *c);
/* Closes the timer, if any (an open WebSocket keeps none). */
void chat_conn_timer_drop(chat_conn_t *c);
/* Frees the HTTP half (at the upgrade); the input not parsed yet is
 * handed to the caller (*rest, to free; NULL if none). */
void chat_conn_http_free(chat_conn_t *c, char **rest, size_t *rest_len);
/* (Re)starts the timer for the next request to arrive. */
void chat_conn_request_timer(chat_conn_t *c);

/* A log line about c, with its connection id and its request id if it is
 * answering a request. */
#define chat_conn_log(c, level, ...) \
  chat_log_conn(level, (c)->id, (c)->req_id[0] ? (c)->req_id : NULL, __VA_ARGS__)
/* The access-log line of the request being answered, with the response's
 * status and size (when the access log is on). */
void chat_conn_access_log(chat_conn_t *c, int status, size_t bytes);

/* conn_tls.c */

/* Makes the session and starts the handshake timer (at accept). */
void chat_conn_tls_start(chat_conn_t *c, chat_tls_t *tls);
/* Ciphertext from the peer: decrypted and given to chat_conn_input. */
void chat_conn_tls_input(chat_conn_t *c, const uint8_t *data, size_t len);
/* chat_conn_flush for a TLS connection: encrypts the queue and writes. */
void chat_conn_tls_flush(chat_conn_t *c);
/* Before the write side shuts down: sends close_notify once; 1 if that is
 * being written (the shutdown waits for it). */
int chat_conn_tls_close_notify(chat_conn_t *c);
void chat_conn_tls_free(chat_conn_t *c);

/* conn_ws.c */

/* Answers GET /ws: checks the handshake, then the session (a job). */
void chat_conn_ws_upgrade(chat_conn_t *c);
/* Bytes from the peer of a WebSocket. */
void chat_conn_ws_feed(chat_conn_t *c, const uint8_t *data, size_t len);
/* Sends a close frame (why: a static string, NULL: the code's usual
 * reason) and closes once it is written. */
void chat_conn_ws_close(chat_conn_t *c, int code, const char *why);
/* The room is gone: forgets it (a mail from the room). */
void chat_conn_ws_left(chat_conn_t *c, int64_t room_id);
/* The handles are closed: leaves the rooms, goes offline. */
void chat_conn_ws_release(chat_conn_t *c);
/* Frees what the WebSocket half allocated (from the actor's free). */
void chat_conn_ws_free(chat_conn_t *c);

#endif
