/* API routes of rooms: deleting rooms (by administrators), a room's
 * history and deleting one of its messages (the sender, the room's owner,
 * an administrator).  The list, creating and changing rooms, members, pins
 * and mute are in api_members.c.  See api.h for the steps of a handler. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/limits.h"
#include "../core/text.h"
#include "../core/utf8.h"
#include "api_int.h"
#include "files.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* A job about one room. */
typedef struct {
  chat_api_job_t super;
  chat_room_rec_t room;
  /* Rooms v2: who sees the room (a private room's members), told when it
   * goes. */
  int priv;
  int64_t *uids;
  size_t nuids;
} room_job_t;

/* GET /api/rooms, POST /api/rooms and PATCH /api/rooms/{id} answer as
 * rooms v2 has them (membership, private rooms): api_members.c. */

/* ---- DELETE /api/rooms/{id} -------------------------------------------- */

static void room_delete_run(chat_api_job_t *j, chat_store_t *store) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (chat_api_require_admin(j, store)) return;
  int rc = chat_store_room_get(store, j->ids[0], &r->room);
  if (rc == 0 && strcasecmp(r->room.name, "lobby") == 0) {
    chat_api_set_error(j, 400, "bad_request", "the lobby cannot be deleted");
    return;
  }
  /* Rooms v2: who must see it vanish from their list. */
  if (rc == 0) rc = chat_api_room_audience(store, j->ids[0], &r->priv, &r->uids, &r->nuids);
  if (rc == 0) rc = chat_store_room_delete(store, j->ids[0]);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
  } else if (rc != 0) {
    chat_api_set_store_error(j);
  } else {
    j->ok = 1;
    chat_files_drop_orphans(store, j->files_dir);  /* files: the room's messages' files */
    chat_store_audit(store, j->user.id, "room_delete", r->room.name, NULL, chat_now_ms());
    chat_api_set_json(j, 204, NULL);
  }
}

/* The room's actor lets its members go; other instances are told. */
static void room_delete_done(chat_api_job_t *j, const chat_services_t *svc) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (j->ok) {
    chat_cluster_room_deleted(svc->cluster, j->ids[0]);
    /* Rooms v2: every list showing it drops it (room_removed). */
    chat_api_room_removed(svc, j->ids[0], r->priv, r->uids, r->nuids);
  }
  free(r->uids);
}

/* ---- GET /api/rooms/{id}/messages -------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_api_page_t page;
} history_job_t;

static int history_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  return chat_api_paging(j, c, &container_of(j, history_job_t, super)->page);
}

static void history_run(chat_api_job_t *j, chat_store_t *store) {
  history_job_t *h = container_of(j, history_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  /* Rooms v2: a private room's history is for its members (and admins). */
  if (chat_api_room_readable(j, store, NULL)) return;
  int rc;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  rc = chat_store_msg_history(store, j->ids[0], h->page.before, h->page.limit, &msgs, &n);
  chat_api_set_messages(j, rc, msgs, n);
}

/* ---- DELETE /api/rooms/{id}/messages/{id} ------------------------------ */

/* The sender may delete a message, and so may an administrator (audited). */
static void message_delete_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  /* Rooms v2: the room's owner moderates it too. */
  int64_t owner_id = 0;
  if (chat_api_room_readable(j, store, &owner_id)) return;
  int rc = 0;
  chat_msg_rec_t msg;
  int64_t sender_id = 0;
  memset(&msg, 0, sizeof(msg));
  if (rc == 0) rc = chat_store_msg_get(store, j->ids[1], &msg, &sender_id);
  if (rc == 0 && msg.room != j->ids[0]) rc = CHAT_ENOTFOUND;
  if (rc == CHAT_ENOTFOUND) {
    free(msg.text);
    chat_api_set_error(j, 404, "not_found", "no such message in this room");
    return;
  }
  if (rc != 0) {
    free(msg.text);
    chat_api_set_store_error(j);
    return;
  }
  int own = sender_id == j->user.id;
  if (!own && j->user.role != CHAT_ROLE_ADMIN && (owner_id == 0 || owner_id != j->user.id)) {
    free(msg.text);
    chat_api_set_error(j, 403, "forbidden",
                       "only the sender, the room's owner or an administrator may delete it");
    return;
  }
  rc = chat_store_msg_delete(store, j->ids[0], j->ids[1]);
  if (rc == 0) chat_files_drop_msg(store, j->files_dir, CHAT_FILE_ROOM, j->ids[1]);  /* files */
  if (rc == 0 && !own) {
    char detail[64];
    snprintf(detail, sizeof(detail), "room %" PRId64 " message %" PRId64, j->ids[0], j->ids[1]);
    chat_store_audit(store, j->user.id, "message_delete", msg.sender, detail, chat_now_ms());
  }
  free(msg.text);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "not_found", "no such message in this room");
  } else if (rc != 0) {
    chat_api_set_store_error(j);
  } else {
    j->ok = 1;
    chat_api_set_json(j, 204, NULL);
  }
}

/* The room tells its members (and other instances) and forgets it. */
static void message_delete_done(chat_api_job_t *j, const chat_services_t *svc) {
  if (!j->ok) return;
  chat_room_t *room = chat_roomdir_get(svc->rooms, j->ids[0]);
  if (room) chat_room_post_msg_deleted(room, j->ids[1], 1);
}

static const chat_api_route_t routes[] = {
    {HTTP_DELETE, "/api/rooms/{id}", CHAT_ROUTE_ROOM_DELETE, sizeof(room_job_t), NULL,
     room_delete_run, room_delete_done},
    {HTTP_GET, "/api/rooms/{id}/messages", CHAT_ROUTE_ROOM_MESSAGES, sizeof(history_job_t),
     history_prepare, history_run, NULL},
    {HTTP_DELETE, "/api/rooms/{id}/messages/{id}", CHAT_ROUTE_MESSAGE_DELETE,
     sizeof(chat_api_job_t), NULL, message_delete_run, message_delete_done},
};

const chat_api_table_t chat_api_rooms = {routes, CHAT_ARRAY_SIZE(routes)};
