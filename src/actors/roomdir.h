/* The room directory: room id -> room actor, for the rooms this server
 * knows; the timer that wakes rooms waiting for a missing message; and,
 * with several instances (presence shared), the periodic check: every
 * order_check_ms (services.h) one store read of every room's last_seq,
 * posted to the rooms here (chat_room_post_seq_check), which finds a
 * message whose instance died between its commit and its publish even when
 * nothing more is said in the room.
 *
 * Ownership: the directory holds one reference on each room actor in it
 * (the one the room was created with) and one on each room waiting for a
 * tick.  chat_roomdir_delete and chat_roomdir_forget drop a room from the
 * directory; the room lives on while mails or members still hold it.
 *
 * Not an actor: a table on the loop thread, owned by the server; rooms,
 * connections, the API and the cluster module look rooms up here and then
 * talk to them by mail (room.h). */
#ifndef CHAT_ACTORS_ROOMDIR_H
#define CHAT_ACTORS_ROOMDIR_H

#include <stddef.h>
#include <stdint.h>

#include "services.h"

typedef struct chat_room_s chat_room_t;

/* An empty directory whose rooms get svc (the directory keeps the pointer,
 * svc->loop must be set). */
chat_roomdir_t *chat_roomdir_new(const chat_services_t *svc);

/* The room, or NULL if the directory has none with that id. */
chat_room_t *chat_roomdir_get(chat_roomdir_t *dir, int64_t id);
/* The room, made on the spot if the directory has none: a room created a
 * moment ago on another instance.  Such a room checks the store on its
 * first load and leaves the directory (chat_roomdir_forget) if there is no
 * such room. */
chat_room_t *chat_roomdir_open(chat_roomdir_t *dir, int64_t id);
/* A room that exists (loaded at start, or just created): adds an actor for
 * it unless there is one. */
void chat_roomdir_add(chat_roomdir_t *dir, int64_t id, const char *name);
/* The room was deleted: it is told (members get room_deleted) and leaves
 * the directory.  Nothing if there is no such room here. */
void chat_roomdir_delete(chat_roomdir_t *dir, int64_t id);
/* Drops r from the directory if it is the actor listed for its id. */
void chat_roomdir_forget(chat_roomdir_t *dir, chat_room_t *r, int64_t id);
/* Rooms in the directory. */
size_t chat_roomdir_count(const chat_roomdir_t *dir);

/* r waits for a missing message: chat_room_post_tick reaches it in
 * delay_ms (a room asks again only after its tick came). */
void chat_roomdir_want_tick(chat_roomdir_t *dir, chat_room_t *r, uint64_t delay_ms);

/* Stopping, step 1: no more ticks or checks; the timers close and
 * done(ud) runs (a check still reading answers nobody). */
void chat_roomdir_stop(chat_roomdir_t *dir, void (*done)(void *ud), void *ud);
/* Stopping, step 2: lets go of every room (their last mails may still
 * run). */
void chat_roomdir_clear(chat_roomdir_t *dir);
/* Frees a stopped, cleared directory. */
void chat_roomdir_free(chat_roomdir_t *dir);

#endif
