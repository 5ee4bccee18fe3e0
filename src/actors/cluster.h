/* The cluster protocol: the events chatd instances exchange through
 * presence (with Redis: pub/sub), and what this instance does when one
 * arrives.  The events are encoded and decoded by net/proto.h (described
 * in docs/PROTOCOL.md, "Between instances").
 *
 * Outgoing, each function acts here and tells the other instances, so one
 * call does the whole job wherever the users are:
 *
 *   deliver   {"type":"deliver","user_id":ID,"frame":FRAME}
 *   revoke    {"type":"revoke","user_id":ID,"keep":HASH?,"only":HASH?,"reason":R}
 *             (HASH: the SHA-256 of a session token in hex, never a token)
 *   ban       {"type":"ban","user_id":ID}
 *   rooms     {"type":"room_created","room":ID}, {"type":"room_deleted","room":ID}
 *
 * all server-wide (room 0).  Room frames (message, message_deleted,
 * presence, typing) are the frames members get, published on the room's
 * channel by the room actor itself (room.c).
 *
 * Incoming, chat_cluster_online_cb and chat_cluster_event_cb are the
 * presence callbacks (their ud is the cluster): server-wide events change
 * the registry or the room directory; room frames are decoded here and
 * posted to the room actor as typed mails (room.h).  Nothing is done while
 * the server is not running.
 *
 * Not an actor: code on the loop thread, owned by the server, reaching the
 * registry, the directory and presence through the services. */
#ifndef CHAT_ACTORS_CLUSTER_H
#define CHAT_ACTORS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "../core/rbuf.h"
#include "services.h"

/* A cluster module over svc (kept; svc->presence, registry and rooms are
 * read when used). */
chat_cluster_t *chat_cluster_new(const chat_services_t *svc);
void chat_cluster_free(chat_cluster_t *cl);

/* presence.h's callbacks. */
void chat_cluster_online_cb(void *ud, int64_t user_id, const char *username, int online);
void chat_cluster_event_cb(void *ud, int64_t room_id, const char *json, size_t len);

/* Sends a frame (json) to every open WebSocket of the user, on every
 * instance. */
void chat_cluster_deliver_to_user(chat_cluster_t *cl, int64_t user_id, const char *json,
                                  size_t len);
/* The same for a dm frame (dm.c) with its id: remembered during a Redis
 * outage, so that the catch-up below does not send it twice. */
void chat_cluster_deliver_dm(chat_cluster_t *cl, int64_t dm_id, int64_t user_id,
                             const char *json, size_t len);
/* presence's on_backend: Redis went down (up 0) or came back (1).
 *
 * DM catch-up (docs/PROTOCOL.md section 7): a DM reaches the other
 * instances only through a Redis publish, lost while Redis is down.  When
 * it goes down, the cluster takes a watermark (the highest DM id delivered
 * here a few seconds before, below the more recent ones; none: the
 * store's highest id) and remembers which DM ids went to which user here
 * from then on (bounded: past it, the sockets here are closed with 1012
 * when Redis is back, and the clients reload).  Two seconds after Redis is
 * back it reads from the store, in pages on the storage actor, the DMs with
 * id > watermark, and sends each to the sockets here of its sender and
 * receiver that did not get it; then, for ten more seconds, DMs through
 * Redis are still checked against that memory, and it is dropped. */
void chat_cluster_backend_cb(void *ud, int up);
/* Closes the catch-up's timer; done runs once it is closed. */
void chat_cluster_stop(chat_cluster_t *cl, void (*done)(void *ud), void *ud);
/* Closes with 1008 the WebSockets of user_id whose session is not keep
 * (keep NULL: all of them), or, with only_session, those of that session,
 * on every instance.  reason: "logged out" or "password changed" (other
 * instances know only these two; a static string). */
void chat_cluster_revoke(chat_cluster_t *cl, int64_t user_id, const uint8_t *keep,
                         const uint8_t *only_session, const char *reason);
/* The user was banned: every WebSocket of theirs closes with 1008 "banned". */
void chat_cluster_ban(chat_cluster_t *cl, int64_t user_id);
/* A room was created / deleted here: the room directories of every
 * instance follow (a deleted room's members get room_deleted). */
void chat_cluster_room_created(chat_cluster_t *cl, int64_t room_id, const char *name);
void chat_cluster_room_deleted(chat_cluster_t *cl, int64_t room_id);
/* Rooms v2: sends a frame (json) to every open WebSocket on every instance
 * ({"type":"broadcast","frame":FRAME} between instances). */
void chat_cluster_broadcast(chat_cluster_t *cl, const char *json, size_t len);
/* Rooms v2: user_id is no longer a member of room_id: the user's
 * subscriptions of the room end on every instance
 * ({"type":"room_kick","room":ID,"user_id":ID}).  Room presence frames also
 * make every instance send its sockets {"type":"room_online","room":ID,
 * "online":N} (the room's count, one frame per room within 200 ms of the
 * first change: a burst of joins is one frame). */
void chat_cluster_room_kick(chat_cluster_t *cl, int64_t room_id, int64_t user_id);

/* files: a user's display name or avatar changed: frame (a user_updated
 * frame, net/proto.h; the caller keeps its reference) goes to every
 * WebSocket here and on the other instances. */
void chat_cluster_user_updated(chat_cluster_t *cl, chat_rbuf_t *frame);

#endif
