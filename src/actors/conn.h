/* The connection actor: one per TCP connection.
 *
 * It starts as HTTP/1.1 (keep-alive, one request answered at a time),
 * serves static files and hands API requests to api.h; a GET /ws with a
 * valid session becomes a WebSocket, whose frames become mails to room
 * actors (join, leave, send, typing) and to the connection's DM actor (dm),
 * and which writes the frames other actors post to it.
 *
 * State (conn_int.h; only the connection's own code touches it): the
 * socket and its timer, the HTTP parser or the WebSocket parser, the user
 * and session of a WebSocket, the rooms it joined (a reference each), its
 * flood-control bucket, and its output: a queue of reference-counted
 * buffers written with one uv_write per loop turn.  The bytes queued and in
 * flight are capped at limits->ws_out_cap: past it a WebSocket peer is a
 * slow consumer and is closed with 1013.
 *
 * TLS (conn_tls.c): a connection accepted as CHAT_CONN_TLS has a session
 * (net/tls.h) between the socket and the parsers, and its queue is
 * encrypted on the way out; the rest of the actor sees plaintext only.  A
 * CHAT_CONN_REDIRECT connection answers every request with a 301 to the
 * same path on https://.  Behind trusted proxies (services->proxies) each
 * request's client address and scheme come from X-Forwarded-For and
 * X-Forwarded-Proto (net/proxy.h); under HTTPS the responses carry HSTS.
 *
 * Mailbox: the chat_conn_post_* functions below, from rooms, the DM actor,
 * the registry and the cluster module.  Jobs it submits (static files, the
 * session check, API requests) answer as mails too.
 *
 * Teardown: a close frame (or the last HTTP answer) is written, then the
 * write side is shut down and the input drained until the peer closes or a
 * linger timer fires, so the peer reads what was sent instead of a reset.
 * When its handles are closed the connection leaves its rooms, goes offline
 * in presence and leaves the registry (registry.h), which drops the
 * creator's reference; the actor is freed when the last reference (rooms,
 * pending jobs, mails) goes.
 *
 * Services (services.h): loop, sched, storage, presence, limits, rooms,
 * registry, metrics and `running`; the API handlers reach the rest.
 *
 * Threads: loop thread only. */
#ifndef CHAT_ACTORS_CONN_H
#define CHAT_ACTORS_CONN_H

#include <stdint.h>
#include <uv.h>

#include "../core/rbuf.h"
#include "../net/http.h"
#include "actor.h"
#include "services.h"

typedef struct chat_conn_s chat_conn_t;

typedef enum {
  CHAT_CONN_PLAIN,      /* HTTP and WebSocket */
  CHAT_CONN_TLS,        /* the same inside TLS with svc->tls */
  CHAT_CONN_REDIRECT,   /* plain HTTP answered with 301 to https:// */
} chat_conn_kind_t;

/* Accepts the connection waiting on listener (a listening uv_tcp_t) and
 * serves it as kind; the registry (svc->registry) holds it from then on.
 * A failed accept leaves nothing behind. */
void chat_conn_accept(const chat_services_t *svc, uv_stream_t *listener,
                      chat_conn_kind_t kind);
/* embed: serves the connected socket fd (taken over, closed by the
 * connection) as plain HTTP, data/len (copied) read before it first.  0. */
int chat_conn_adopt(const chat_services_t *svc, int fd, const char *data, size_t len);

chat_actor_t *chat_conn_actor(chat_conn_t *c);
/* Writes what is queued on c now, even if the pacer (pacer.h) would have it
 * wait; for the pacer. */
void chat_conn_flush_now(chat_conn_t *c);
chat_conn_t *chat_conn_from_actor(chat_actor_t *a);

/* ---- mailbox ---- */

/* Queues a frame for a WebSocket at once, not through the mailbox (the
 * connection takes a new reference on b; dropped if it is not a WebSocket).
 * It runs none of the connection's logic and never closes it on the spot
 * (a slow consumer is closed at the end of the loop turn), so it is safe
 * inside any loop over connections.  Frames are built by net/proto.h: an
 * `error` or `ack` for one request goes this way too. */
void chat_conn_post_frame(chat_conn_t *c, chat_rbuf_t *b);
/* Closes a WebSocket with code and reason (a static string; NULL: the
 * code's usual one), or an HTTP connection once its answer in progress is
 * written. */
void chat_conn_post_close(chat_conn_t *c, int code, const char *reason);
/* A WebSocket closes with 1008 and reason (a static string) if its
 * session is not keep (keep NULL: any session), or, with only_session, if
 * it is that one.  Hashes (CHAT_TOKEN_HASH_LEN bytes) are copied. */
void chat_conn_post_revoke(chat_conn_t *c, const uint8_t *keep, const uint8_t *only_session,
                           const char *reason);

/* Keepalive (registry.h): the WebSocket has received nothing for
 * silent_ms, two ping intervals.  It is closed at once, without a close
 * handshake (the peer answers nothing), logged as a dead peer with its
 * address and port, and counted (metrics->ws_dead_peers); its user leaves
 * its rooms and, with its last connection, goes offline, as on any close.
 * Nothing for a connection that is no longer an open WebSocket. */
void chat_conn_post_dead(chat_conn_t *c, uint64_t silent_ms);
/* The stop's drain time is over (registry.h): the connection is closed at
 * once, whatever is still unwritten. */
void chat_conn_post_abort(chat_conn_t *c);

/* Writes the queued output: the registry's hook calls it for connections
 * that asked (chat_registry_want_flush), once per loop turn. */
void chat_conn_flush(chat_conn_t *c);

/* ---- answering an HTTP request ----
 * For the API (api.h) only, from code running as this connection: within
 * chat_api_handle, or in a mail of a job it submitted with the connection's
 * actor as reply_to.  The connection goes on with its next request after
 * an answer (or closes, if the request asked to). */

const chat_http_req_t *chat_conn_req(const chat_conn_t *c);
/* The client's address, as text: the peer's, or the one a trusted proxy
 * gave for this request. */
const char *chat_conn_peer(const chat_conn_t *c);
/* 1 if the request came over HTTPS: this connection's TLS, or a trusted
 * proxy's X-Forwarded-Proto (cookies are then Secure). */
int chat_conn_secure(const chat_conn_t *c);
/* 1 while the connection can still be answered. */
int chat_conn_is_open(const chat_conn_t *c);
const chat_services_t *chat_conn_services(const chat_conn_t *c);
/* Log lines from here on (this thread) carry c's connection id and the id
 * of the request it is answering, until chat_conn_log_leave (core/log.h).
 * For work that finishes a request later, e.g. a store job's answer. */
void chat_conn_log_enter(const chat_conn_t *c);
void chat_conn_log_leave(void);
/* 1 if the request's Origin (if any) is this server's own. */
int chat_conn_origin_ok(const chat_conn_t *c);
/* status + JSON body (NULL for none) + extra header lines. */
void chat_conn_respond_json(chat_conn_t *c, int status, const char *json,
                            const char *extra_headers);
/* status + the API's error body (chat_proto_http_error) + extra header
 * lines. */
void chat_conn_respond_error(chat_conn_t *c, int status, const char *code,
                             const char *message, const char *extra_headers);
/* files: status + a body of len bytes of the given type + extra header
 * lines (which say how to cache it; none are added). */
void chat_conn_respond_body(chat_conn_t *c, int status, const char *content_type,
                            const char *extra_headers, const void *body, size_t len);
/* status + a text body of the given type. */
void chat_conn_respond_text(chat_conn_t *c, int status, const char *content_type,
                            const char *body);

#endif
