/* The connection registry: every open connection of a server, the index of
 * each user's WebSockets, and the list of connections with output to write.
 *
 * Ownership: the registry holds each connection's first reference (the one
 * it was created with) from chat_registry_add until chat_registry_remove;
 * the flush list holds one more reference per listed connection.  Each
 * connection embeds a chat_registry_entry_t, whose fields only the registry
 * reads or writes.
 *
 * Talking to connections: everything that reaches a connection from here
 * is a mail (a frame, a close, a revocation); the registry never reads a
 * connection's state.  The one direct call is chat_conn_flush, from the
 * scheduler hook, for connections that asked for it.
 *
 * Keepalive and the drain at a stop (chat_registry_start, _touch,
 * _shutdown): one timer for every connection, not one per connection.
 * Each entry keeps when its connection last received anything; the timer
 * ticks every quarter of the ping interval and walks the WebSockets (the
 * users' index): one that has received nothing for an interval gets a ping
 * (one shared frame, a mail), one that has received nothing for two
 * intervals is a dead peer and is told so (chat_conn_post_dead).  A walk
 * is a few loads per WebSocket and posts mail only to the silent ones: for
 * 20 000 WebSockets about 0.2 ms (measured with -O2, the entries spread
 * over the heap as connections are), every 7.5 s at the default interval.
 * At a stop the same timer bounds the drain.
 *
 * Not an actor: a table on the loop thread, owned by the server; the
 * connection actors add and remove themselves. */
#ifndef CHAT_ACTORS_REGISTRY_H
#define CHAT_ACTORS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/rbuf.h"

typedef struct chat_registry_s chat_registry_t;
typedef struct chat_conn_s chat_conn_t;
typedef struct chat_sched_s chat_sched_t;

typedef struct chat_registry_entry_s {
  /* private to the registry */
  struct chat_registry_entry_s *prev, *next;  /* every connection */
  struct chat_registry_entry_s *flush_next;   /* output to write */
  chat_conn_t *conn;
  int64_t user_id;                            /* in the users' index (0: not) */
  uint64_t last_rx;                           /* loop time (ms) it last received */
  uint8_t in_flush;
  uint8_t ping_sent;                          /* a ping went out since then */
  uint8_t dead_posted;                        /* told it is a dead peer */
} chat_registry_entry_t;

/* A registry on sched: adds the hook that writes queued output after every
 * drain.  on_removed(ud) runs after each chat_registry_remove (the server
 * uses it to finish a stop once the last connection is gone). */
chat_registry_t *chat_registry_new(chat_sched_t *sched, void (*on_removed)(void *ud),
                                   void *ud);
/* Frees an empty registry whose timer is closed (chat_registry_close), or
 * was never started. */
void chat_registry_free(chat_registry_t *reg);

/* Starts the registry's timer on the scheduler's loop.  With ping_ms > 0,
 * a WebSocket that has received nothing for ping_ms gets a ping frame
 * (chat_conn_post_frame), and one that has received nothing for 2 * ping_ms
 * is a dead peer (chat_conn_post_dead, once).  ping_ms 0: no keepalive;
 * the timer still serves chat_registry_shutdown.  Call once. */
void chat_registry_start(chat_registry_t *reg, uint64_t ping_ms);
/* The connection received bytes: it is alive (for the keepalive). */
void chat_registry_touch(chat_registry_t *reg, chat_registry_entry_t *e);
/* The stop: keepalive ends, every connection is asked to close (WebSockets
 * with code, chat_conn_post_close), and those still open drain_ms later are
 * cut off (chat_conn_post_abort), however far their close handshake or
 * their output got.  Without chat_registry_start, only the asking. */
void chat_registry_shutdown(chat_registry_t *reg, int code, uint64_t drain_ms);
/* Closes the timer; cb(ud) runs once it is closed (at once if it was never
 * started).  cb may be NULL. */
void chat_registry_close(chat_registry_t *reg, void (*cb)(void *ud), void *ud);

/* A new connection: the registry takes the caller's reference on c. */
void chat_registry_add(chat_registry_t *reg, chat_registry_entry_t *e, chat_conn_t *c);
/* The connection closed: out of the list and the index; its reference is
 * dropped (after on_removed). */
void chat_registry_remove(chat_registry_t *reg, chat_registry_entry_t *e);

/* The connection became a WebSocket of user_id / stopped being one. */
void chat_registry_set_user(chat_registry_t *reg, chat_registry_entry_t *e, int64_t user_id);
void chat_registry_clear_user(chat_registry_t *reg, chat_registry_entry_t *e);

/* The connection has output queued: chat_conn_flush runs for it at the end
 * of this loop turn (once, however often it asks). */
void chat_registry_want_flush(chat_registry_t *reg, chat_registry_entry_t *e);

/* The name of user_id as the connections here share it: a reference on a
 * buffer holding name and its NUL (the caller unrefs it).  While the user
 * has WebSockets in the index (chat_registry_set_user), one buffer serves
 * them all, so a user with many sockets keeps its name once; a name that
 * differs from the kept one (a rename) becomes the kept one. */
chat_rbuf_t *chat_registry_user_name(chat_registry_t *reg, int64_t user_id, const char *name);

/* Open connections, and the WebSockets among them. */
size_t chat_registry_count(const chat_registry_t *reg);
size_t chat_registry_ws_count(const chat_registry_t *reg);
/* The WebSockets of user_id here. */
size_t chat_registry_user_ws_count(const chat_registry_t *reg, int64_t user_id);

/* Posts b to every WebSocket except those of skip_user (0: none). */
void chat_registry_broadcast(chat_registry_t *reg, chat_rbuf_t *b, int64_t skip_user);
/* Posts a text frame with json (a frame of net/proto.h) to every WebSocket
 * of user_id here; returns how many. */
size_t chat_registry_deliver(chat_registry_t *reg, int64_t user_id, const char *json,
                             size_t len);
/* Asks every WebSocket of user_id to close with 1008 and reason (a static
 * string) if its session is not keep (keep NULL: all of them), or, with
 * only_session, if it is that session.  Each connection compares its own
 * session (chat_conn_post_revoke). */
void chat_registry_revoke(chat_registry_t *reg, int64_t user_id, const uint8_t *keep,
                          const uint8_t *only_session, const char *reason);
/* Asks every connection to close (WebSockets with code). */
void chat_registry_close_all(chat_registry_t *reg, int code);

/* The buffer every connection reads into (one read at a time on a loop). */
char *chat_registry_readbuf(chat_registry_t *reg, size_t *len);

#endif
