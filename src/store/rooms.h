/* The store, room membership (schema 010): who belongs to which room,
 * private rooms and group conversations, owners, the announcement, pins and
 * per-room mute.  Same rules as store.h: synchronous, thread-safe, called
 * from worker threads only; 0 or a negative CHAT_E* code (CHAT_ENOTFOUND:
 * no such room / member / message; CHAT_EEXIST: a public room name is
 * taken; CHAT_EUNAVAIL: the database failed).  Written once over both
 * backends (rooms.c over rooms_int.h).
 *
 * Membership also keeps the user's read marker of the room (store.h,
 * chat_store_read_mark): a new member gets one at the room's newest message
 * and a member who leaves loses it, so GET /api/unread (every room with a
 * marker) covers exactly the rooms the user is a member of. */
#ifndef CHAT_STORE_ROOMS_H
#define CHAT_STORE_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CHAT_ROOM_PINS_MAX 20          /* pinned messages per room */
#define CHAT_ANNOUNCE_MAX_CHARS 500    /* characters of an announcement */
#define CHAT_ANNOUNCE_MAX 2004         /* bytes, with the NUL */
#define CHAT_ROOM_TITLE_MAX 260        /* bytes of a shown room name, NUL */
#define CHAT_GROUP_NAMES_MAX 5         /* members named for a group */
#define CHAT_GROUP_CREATE_MAX 50       /* members given at creation */

typedef struct {
  int64_t id;
  char name[CHAT_ROOM_TITLE_MAX];      /* "" for a group conversation */
  char topic[CHAT_TOPIC_MAX];
  int priv;                            /* 1: private */
  int64_t owner_id;                    /* 0: none */
  char owner[CHAT_NAME_MAX + 1];       /* "" when none */
  char announcement[CHAT_ANNOUNCE_MAX];
  int member, muted;                   /* the viewer's */
  size_t npinned;
  int64_t pinned[CHAT_ROOM_PINS_MAX];  /* in pinning order */
  /* A group conversation: the first members' usernames (join order). */
  size_t nnames;
  char names[CHAT_GROUP_NAMES_MAX][CHAT_NAME_MAX + 1];
} chat_room_info_t;

typedef struct {
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  char display_name[CHAT_DISPLAY_NAME_MAX];
  int owner;
} chat_room_member_t;

/* What user_id may do with room id: *priv, *member, *muted, *owner_id.
 * CHAT_ENOTFOUND if there is no such room. */
int chat_store_room_access(chat_store_t *s, int64_t room, int64_t user_id, int *priv,
                           int *member, int *muted, int64_t *owner_id);
/* The room as viewer_id sees it (member, muted are the viewer's).  Does not
 * check access: callers check with chat_store_room_access first. */
int chat_store_room_info(chat_store_t *s, int64_t room, int64_t viewer_id,
                         chat_room_info_t *out);
/* Every public room and the private rooms user_id is a member of, by id
 * (malloc'ed array, free(); *n may be 0). */
int chat_store_room_list_for(chat_store_t *s, int64_t user_id, chat_room_info_t **out,
                             size_t *n);
/* Creates a room owned by owner_id (a member), with the members
 * member_ids[0..nmembers) (unknown ids and the owner are skipped), in one
 * transaction.  A public room needs a valid name (CHAT_EEXIST if taken); a
 * private one may have name "" (a group conversation).  *id_out: the new
 * room's id. */
int chat_store_room_create_owned(chat_store_t *s, const char *name, const char *topic,
                                 int priv, int64_t owner_id, const int64_t *member_ids,
                                 size_t nmembers, int64_t now_ms, int64_t *id_out);
/* Sets what is not NULL: the shown name (a public room's unique name, or a
 * private room's title), the topic, the announcement.  CHAT_ENOTFOUND,
 * CHAT_EEXIST. */
int chat_store_room_patch(chat_store_t *s, int64_t room, const char *name, const char *topic,
                          const char *announcement);
/* Makes user_id a member (its marker at the room's newest message).
 * *added: 1 if it was not one before.  CHAT_ENOTFOUND: no such room. */
int chat_store_room_member_add(chat_store_t *s, int64_t room, int64_t user_id,
                               int64_t now_ms, int *added);
/* Ends user_id's membership (and its read marker); if it owned the room,
 * the oldest remaining member takes over (nobody if none).
 * CHAT_ENOTFOUND if it was not a member. */
int chat_store_room_member_remove(chat_store_t *s, int64_t room, int64_t user_id);
/* The members, oldest first (malloc'ed array, free()). */
int chat_store_room_members(chat_store_t *s, int64_t room, chat_room_member_t **out,
                            size_t *n);
/* A join frame: for a public room makes user_id a member (if not yet) and
 * *allowed 1; for a private one *allowed is 1 for members and, with
 * is_admin, for administrators.  *priv as chat_store_room_access.
 * CHAT_ENOTFOUND if there is no such room. */
int chat_store_room_join_check(chat_store_t *s, int64_t room, int64_t user_id, int is_admin,
                               int64_t now_ms, int *allowed, int *priv);
/* Pins message msg of room (CHAT_ENOTFOUND: not a message of the room;
 * CHAT_EAGAIN: CHAT_ROOM_PINS_MAX pinned already; pinning it again is 0). */
int chat_store_room_pin(chat_store_t *s, int64_t room, int64_t msg, int64_t now_ms);
/* CHAT_ENOTFOUND if msg is not pinned in room. */
int chat_store_room_unpin(chat_store_t *s, int64_t room, int64_t msg);
/* Sets user_id's mute of room; CHAT_ENOTFOUND if not a member. */
int chat_store_room_set_muted(chat_store_t *s, int64_t room, int64_t user_id, int muted);
/* The private rooms user_id is not a member of, ascending (malloc'ed,
 * free(); *n may be 0): what search must never show. */
int chat_store_room_hidden(chat_store_t *s, int64_t user_id, int64_t **out, size_t *n);

#endif
