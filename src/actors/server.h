/* The server (chat.h's chat_server_t): the listener, and the owner of every
 * module the actors share.  chat_server_t is opaque outside server.c.
 *
 * What it owns and makes in chat_server_new, in this order: the TLS
 * settings (net/tls.h) when a certificate is given, the trusted proxy list
 * (net/proxy.h), the store, the scheduler (actor.h), the hasher and its
 * threads (hasher.h), the cluster module (cluster.h) and presence (with
 * Redis or in-process, presence.h), the storage actor (storage.h), the
 * connection registry (registry.h), the limiter (limiter.h), the room
 * directory with a room actor for every stored room (roomdir.h), the
 * notifier when mail is configured (notifier.h), and the services struct
 * that hands all of these to the actors (services.h).  Nothing of it is
 * shared with another server: several servers may run on several loops.
 *
 * The listener accepts connections while running; each becomes a
 * connection actor (conn.h) that the registry holds, speaking TLS when the
 * server has a certificate.  With TLS a second, optional listener takes
 * plain HTTP and its connections only redirect to https://.
 * chat_server_reload_tls reads the certificate on a worker thread and swaps
 * it for new connections.
 *
 * Stopping (chat_server_stop): services.running drops to 0, the listeners
 * close and every connection is asked to close (WebSockets with 1001).
 * Once the registry is empty: the mail still queued is delivered, the
 * hasher and the storage actor finish what is in flight (a login goes from
 * one to the other and back), then the hasher's threads, the notifier, the
 * room directory's timer and presence close (presence says goodbye to the other
 * instances), the directory lets go of the rooms, and the scheduler's
 * handles close; then the stop callback runs.  chat_server_free frees the
 * rest.
 *
 * Threads: the loop thread, except for the store, which storage jobs use
 * from libuv's worker threads, and password hashing on the hasher's. */
#ifndef CHAT_ACTORS_SERVER_H
#define CHAT_ACTORS_SERVER_H

#include <chat.h>

#endif
