/* The room actor: one per room.
 *
 * State (only the room's own mail handlers touch it): the members (actors
 * with a reference each, and the distinct users behind them), the newest
 * 100 messages, the users present through other instances, the next
 * message number (seq) its members get, and the messages that came before
 * the ones they follow.  The room is the only way a message enters the
 * room, so message order, acks and broadcasts are decided here; nothing is
 * acked or broadcast before the store has it, and members get a room's
 * messages in seq order, each once (room.c explains how).
 *
 * Services (services.h): storage for history reads, inserts and the
 * messages of a gap, presence for room presence and the other instances,
 * the directory for ticks (and the periodic last_seq check), the
 * notifier for @mentions, metrics.  No socket and no server: a test can
 * drive a room with services and members of its own.
 *
 * Mailbox: the chat_room_post_* functions below.  While the room waits for
 * a store read, the mails that arrive wait and are handled afterwards in
 * order (a `send` right after a `join` finds the sender a member).
 *
 * Teardown: a room lives while anything holds a reference: the directory
 * (roomdir.h), its members' connections, mails and jobs in flight.  A
 * deleted room (chat_room_post_delete) lets its members go and refuses
 * everything after; it is freed once the last reference goes.
 *
 * Threads: loop thread only. */
#ifndef CHAT_ACTORS_ROOM_H
#define CHAT_ACTORS_ROOM_H

#include <stddef.h>
#include <stdint.h>

#include "../core/rbuf.h"
#include "actor.h"
#include "services.h"

typedef struct chat_room_s chat_room_t;

/* What a room needs of a member: an actor that takes frames.  The
 * connection actor is the real one (chat_conn_member); a test passes its
 * own.  post_frame queues the frame on the member's output (it runs none of
 * the member's logic and never changes the room); post_left posts mail. */
typedef struct {
  /* Queues frame b for the member (which takes its own reference on b). */
  void (*post_frame)(chat_actor_t *member, chat_rbuf_t *b);
  /* The member is not (or no longer) in room_id: a refused join, a
   * deleted room. */
  void (*post_left)(chat_actor_t *member, int64_t room_id);
} chat_member_ops_t;

typedef struct {
  chat_actor_t *actor;
  const chat_member_ops_t *ops;
} chat_member_t;

/* A room actor with one reference (the caller's). */
chat_room_t *chat_room_new(const chat_services_t *svc, int64_t id, const char *name);
chat_actor_t *chat_room_actor(chat_room_t *r);

/* ---- mailbox ---- */

/* m joins (or re-joins) as user_id: it gets `joined` with the members and
 * the history (without has_since the newest 50 messages; with it, up to
 * 200 with id > since, the newest of them, and "partial":true when there
 * were more), or an error and, if it was not a member, post_left.  The
 * mail holds a reference on m.actor. */
void chat_room_post_join(chat_room_t *r, chat_member_t m, int64_t user_id,
                         const char *username, int64_t since, int has_since);
/* Rooms v2: chat_room_post_join for a client's join frame: the store says
 * first whether user_id may join (a private room: members, and
 * administrators; a public room makes the user a member), else the join is
 * refused with no_such_room.  Asked once per user while the room lives. */
void chat_room_post_join_checked(chat_room_t *r, chat_member_t m, int64_t user_id,
                                 const char *username, int64_t since, int has_since);
/* Rooms v2: user_id is no longer a member: its connections here leave the
 * room (post_left) and its next join is checked again. */
void chat_room_post_kick(chat_room_t *r, int64_t user_id);
/* member leaves; if it was its user's last connection here, the others
 * are told (through presence). */
void chat_room_post_leave(chat_room_t *r, chat_actor_t *member);
/* A message from member m (text trimmed and checked, cid NULL or a short
 * string): stored, then acked to m and broadcast; or an `error` to m. */
void chat_room_post_send(chat_room_t *r, chat_member_t m, int64_t user_id,
                         const char *username, const char *text, size_t len,
                         const char *cid);
/* The same with reply_to and files.  extras: reply_to (0: none) is a
 * message of this room the new one replies to; it and the @mentions of the
 * text are looked up first (extras.h), in order with the other sends; a bad
 * reply_to is an `error` not_found.  files: ids of the sender's uploads (at
 * most CHAT_FILES_PER_MSG, copied; NULL with nfiles 0 for none; text may
 * then be ""), checked on a worker first; the message object carries their
 * file objects. */
void chat_room_post_send_ex(chat_room_t *r, chat_member_t m, int64_t user_id,
                            const char *username, const char *text, size_t len,
                            const char *cid, int64_t reply_to, const int64_t *files,
                            size_t nfiles);
/* embed: a post of the host (chat_server_post) as user_id, who need not
 * be a member: stored and broadcast like a send; m gets the ack or error. */
void chat_room_post_send_bot(chat_room_t *r, chat_member_t m, int64_t user_id,
                             const char *username, const char *text, size_t len);
/* extras: a reaction or message_edited frame (json, copied) about a
 * message of this room: members are told, the cached object changes;
 * local: 1 if done through this instance (then the other instances are
 * told too). */
void chat_room_post_msg_change(chat_room_t *r, const char *json, size_t len, int local);
/* member is typing: the others (here and elsewhere) are told. */
void chat_room_post_typing(chat_room_t *r, chat_actor_t *member, const char *username);
/* Renames (the name appears in notification mails). */
void chat_room_post_rename(chat_room_t *r, const char *name);
/* Message id was deleted: members are told, the cache forgets it; local: 1
 * if deleted through this instance (then other instances are told too). */
void chat_room_post_msg_deleted(chat_room_t *r, int64_t id, int local);
/* A message stored by another instance: obj is its JSON object
 * ({"id":..,"room":..,"seq":..,...}, NUL-terminated, malloc'ed), which the
 * room takes; seq its number in the room (0 if it has none: delivered as
 * it comes). */
void chat_room_post_message(chat_room_t *r, int64_t id, int64_t seq, char *obj, size_t len);
/* A presence or typing frame from presence or another instance (json, the
 * frame as members get it, is copied): it goes to the local members except
 * user's own connections.  presence: 1 for a presence frame, where join
 * says whether user came or went (kept for `joined`'s member list). */
void chat_room_post_user_event(chat_room_t *r, const char *user, int presence, int join,
                               const char *json, size_t len);
/* The tick the room asked for (chat_roomdir_want_tick): a gap that is
 * still open is read from the store. */
void chat_room_post_tick(chat_room_t *r);
/* The store's last_seq of the room (the directory's periodic check): a
 * loaded room whose members have not had every number up to it reads the
 * missing ones after the gap wait. */
void chat_room_post_seq_check(chat_room_t *r, int64_t last_seq);
/* The room was deleted: members get room_deleted and are let go (the
 * directory has already dropped it). */
void chat_room_post_delete(chat_room_t *r);

#endif
