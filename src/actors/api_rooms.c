/* API routes of rooms: the list, creating, renaming and deleting rooms (by
 * administrators), a room's history and deleting one of its messages.  See
 * api.h for the steps of a handler. */
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
} room_job_t;

static void set_room(chat_api_job_t *j, int status, const chat_room_rec_t *r) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "room", chat_api_room_json(r));
  chat_api_set_json(j, status, root);
}

/* ---- GET /api/rooms ---------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_room_rec_t *rooms;  /* owned */
  size_t nrooms;
} rooms_list_job_t;

static void rooms_list_run(chat_api_job_t *j, chat_store_t *store) {
  rooms_list_job_t *l = container_of(j, rooms_list_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  if (chat_store_room_list(store, &l->rooms, &l->nrooms) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

/* The answer, with how many are in each room now. */
static void rooms_list_done(chat_api_job_t *j, const chat_services_t *svc) {
  rooms_list_job_t *l = container_of(j, rooms_list_job_t, super);
  if (j->ok) {
    chat_presence_t *p = svc->presence;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "rooms");
    for (size_t i = 0; i < l->nrooms; i++) {
      cJSON *o = chat_api_room_json(&l->rooms[i]);
      cJSON_AddNumberToObject(o, "online", (double)p->ops->room_count(p, l->rooms[i].id));
      cJSON_AddItemToArray(arr, o);
    }
    chat_api_set_json(j, 200, root);
  }
  free(l->rooms);
}

/* ---- POST /api/rooms, PATCH /api/rooms/{id} ---------------------------- */

/* Reads name and topic from a room body; for_create requires the name. */
static int room_fields(chat_api_job_t *j, cJSON *o, int for_create, const char **name,
                       const char **topic) {
  int bad = 0;
  *name = chat_api_str_field(o, "name", &bad);
  *topic = chat_api_str_field(o, "topic", &bad);
  if (bad) {
    chat_api_set_error(j, 400, "bad_request", "name and topic are strings");
    return -1;
  }
  if ((for_create && !*name) || (*name && !chat_room_name_valid(*name))) {
    chat_api_set_error(j, 400, "invalid_name", "a room name has 1 to 64 characters");
    return -1;
  }
  if (*topic &&
      (strlen(*topic) > CHAT_TOPIC_MAX_BYTES || !chat_utf8_valid(*topic, strlen(*topic)))) {
    chat_api_set_error(j, 400, "bad_request",
                       "a topic has at most " STR(CHAT_TOPIC_MAX_BYTES) " bytes");
    return -1;
  }
  return 0;
}

static void room_create_run(chat_api_job_t *j, chat_store_t *store) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (chat_api_require_admin(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const char *name, *topic;
  if (room_fields(j, o, 1, &name, &topic) == 0) {
    int rc = chat_store_room_create(store, name, topic ? topic : "", &r->room);
    if (rc == CHAT_EEXIST) {
      chat_api_set_error(j, 409, "room_exists", "a room with that name exists");
    } else if (rc != 0) {
      chat_api_set_store_error(j);
    } else {
      j->ok = 1;
      chat_store_audit(store, j->user.id, "room_create", r->room.name, NULL, chat_now_ms());
      set_room(j, 201, &r->room);
    }
  }
  cJSON_Delete(o);
}

/* Starts the room's actor if there is none yet; every instance's clients
 * are told. */
static void room_create_done(chat_api_job_t *j, const chat_services_t *svc) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (j->ok) chat_cluster_room_created(svc->cluster, r->room.id, r->room.name);
}

static void room_update_run(chat_api_job_t *j, chat_store_t *store) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (chat_api_require_admin(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const char *name, *topic;
  if (room_fields(j, o, 0, &name, &topic) == 0) {
    int rc = chat_store_room_update(store, j->ids[0], name, topic, &r->room);
    if (rc == CHAT_ENOTFOUND) {
      chat_api_set_error(j, 404, "no_such_room", "no such room");
    } else if (rc == CHAT_EEXIST) {
      chat_api_set_error(j, 409, "room_exists", "a room with that name exists");
    } else if (rc != 0) {
      chat_api_set_store_error(j);
    } else {
      j->ok = 1;
      chat_store_audit(store, j->user.id, "room_update", r->room.name, NULL, chat_now_ms());
      set_room(j, 200, &r->room);
    }
  }
  cJSON_Delete(o);
}

/* The room actor's name appears in notification mails. */
static void room_update_done(chat_api_job_t *j, const chat_services_t *svc) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (!j->ok) return;
  chat_room_t *room = chat_roomdir_get(svc->rooms, r->room.id);
  if (room) chat_room_post_rename(room, r->room.name);
}

/* ---- DELETE /api/rooms/{id} -------------------------------------------- */

static void room_delete_run(chat_api_job_t *j, chat_store_t *store) {
  room_job_t *r = container_of(j, room_job_t, super);
  if (chat_api_require_admin(j, store)) return;
  int rc = chat_store_room_get(store, j->ids[0], &r->room);
  if (rc == 0 && strcasecmp(r->room.name, "lobby") == 0) {
    chat_api_set_error(j, 400, "bad_request", "the lobby cannot be deleted");
    return;
  }
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
  if (j->ok) chat_cluster_room_deleted(svc->cluster, j->ids[0]);
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
  chat_room_rec_t room;
  int rc = chat_store_room_get(store, j->ids[0], &room);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
    return;
  }
  if (rc != 0) {
    chat_api_set_store_error(j);
    return;
  }
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  rc = chat_store_msg_history(store, j->ids[0], h->page.before, h->page.limit, &msgs, &n);
  chat_api_set_messages(j, rc, msgs, n);
}

/* ---- DELETE /api/rooms/{id}/messages/{id} ------------------------------ */

/* The sender may delete a message, and so may an administrator (audited). */
static void message_delete_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  chat_room_rec_t room;
  int rc = chat_store_room_get(store, j->ids[0], &room);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
    return;
  }
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
  if (!own && j->user.role != CHAT_ROLE_ADMIN) {
    free(msg.text);
    chat_api_set_error(j, 403, "forbidden", "only the sender or an administrator may delete it");
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
    {HTTP_GET, "/api/rooms", CHAT_ROUTE_ROOMS_LIST, sizeof(rooms_list_job_t), NULL,
     rooms_list_run, rooms_list_done},
    {HTTP_POST, "/api/rooms", CHAT_ROUTE_ROOMS_CREATE, sizeof(room_job_t), NULL,
     room_create_run, room_create_done},
    {HTTP_PATCH, "/api/rooms/{id}", CHAT_ROUTE_ROOM_UPDATE, sizeof(room_job_t), NULL,
     room_update_run, room_update_done},
    {HTTP_DELETE, "/api/rooms/{id}", CHAT_ROUTE_ROOM_DELETE, sizeof(room_job_t), NULL,
     room_delete_run, room_delete_done},
    {HTTP_GET, "/api/rooms/{id}/messages", CHAT_ROUTE_ROOM_MESSAGES, sizeof(history_job_t),
     history_prepare, history_run, NULL},
    {HTTP_DELETE, "/api/rooms/{id}/messages/{id}", CHAT_ROUTE_MESSAGE_DELETE,
     sizeof(chat_api_job_t), NULL, message_delete_run, message_delete_done},
};

const chat_api_table_t chat_api_rooms = {routes, CHAT_ARRAY_SIZE(routes)};
