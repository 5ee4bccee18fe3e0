/* API routes of rooms v2 (docs/PROTOCOL.md, "Rooms: membership, private
 * rooms, groups"): the room list as the caller sees it, rooms any user
 * creates (private rooms, group conversations), a room's members, its
 * announcement and pins, and the caller's mute.  See api.h for the steps of
 * a handler.
 *
 * Who may do what: a private room exists only for its members and for
 * administrators (everyone else gets 404 no_such_room); its owner and the
 * administrators manage it (members, announcement, pins, name, topic).  A
 * public room is seen by everyone; administrators manage it, and so does
 * its owner if it has one.
 *
 * What the others are told (done steps, on every instance through the
 * cluster): a public room's room_added / room_updated / room_removed go to
 * every WebSocket; a private room's to its members' sockets.  Those frames
 * carry the room object without `muted` (each receiver's own setting), and
 * a public broadcast without `member` either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/limits.h"
#include "../core/text.h"
#include "../core/utf8.h"
#include "../store/rooms.h"
#include "api_int.h"
#include "apicache.h"

/* ---- room objects ------------------------------------------------------ */

/* what: 0 the caller's view (member, muted); 1 a frame for members
 * (member true, no muted); 2 a broadcast (neither). */
static cJSON *room_obj(const chat_room_info_t *ri, int what, const chat_services_t *svc) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)ri->id);
  cJSON_AddStringToObject(o, "name", ri->name);
  cJSON_AddStringToObject(o, "topic", ri->topic);
  cJSON_AddStringToObject(o, "visibility", ri->priv ? "private" : "public");
  if (ri->owner[0])
    cJSON_AddStringToObject(o, "owner", ri->owner);
  else
    cJSON_AddNullToObject(o, "owner");
  if (what == 0) {
    cJSON_AddBoolToObject(o, "member", ri->member != 0);
    cJSON_AddBoolToObject(o, "muted", ri->muted != 0);
  } else if (what == 1) {
    cJSON_AddBoolToObject(o, "member", 1);
  }
  cJSON_AddStringToObject(o, "announcement", ri->announcement);
  cJSON *pins = cJSON_AddArrayToObject(o, "pinned");
  for (size_t i = 0; i < ri->npinned; i++)
    cJSON_AddItemToArray(pins, cJSON_CreateNumber((double)ri->pinned[i]));
  if (ri->priv && ri->name[0] == '\0') {
    /* A group conversation is shown by its members' names. */
    cJSON *names = cJSON_AddArrayToObject(o, "member_names");
    for (size_t i = 0; i < ri->nnames; i++)
      cJSON_AddItemToArray(names, cJSON_CreateString(ri->names[i]));
  }
  if (svc) {
    chat_presence_t *p = svc->presence;
    cJSON_AddNumberToObject(o, "online", (double)p->ops->room_count(p, ri->id));
  }
  return o;
}

/* Sends {"type":type,"room":{room}} (or "room":ID for room_removed when ri
 * is NULL) to everyone (a public room) or to the users uids. */
static void room_frame(const chat_services_t *svc, const char *type, const chat_room_info_t *ri,
                       int64_t room_id, int everyone, const int64_t *uids, size_t n) {
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "type", type);
  if (ri)
    cJSON_AddItemToObject(f, "room", room_obj(ri, everyone ? 2 : 1, svc));
  else
    cJSON_AddNumberToObject(f, "room", (double)room_id);
  char *json = cJSON_PrintUnformatted(f);
  cJSON_Delete(f);
  if (json == NULL) return;
  size_t len = strlen(json);
  if (everyone)
    chat_cluster_broadcast(svc->cluster, json, len);
  else
    for (size_t i = 0; i < n; i++) chat_cluster_deliver_to_user(svc->cluster, uids[i], json, len);
  free(json);
}

/* ---- the job ----------------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_room_info_t info;          /* the room after the change */
  int64_t *uids;                  /* its members (malloc'ed), for frames */
  size_t nuids;
  int64_t target;                 /* a member added or removed */
  int changed;                    /* 1: tell the others */
  int added;
} rjob_t;

static void rjob_free(rjob_t *r) {
  free(r->uids);
  r->uids = NULL;
}

/* Reads the room for the caller into r->info; checks that the caller may
 * see it (a public room; a private one's member; an administrator) and,
 * with manage, that they may change it (its owner; an administrator).  On
 * failure sets the answer and returns -1. */
static int load_room(rjob_t *r, chat_store_t *store, int manage) {
  chat_api_job_t *j = &r->super;
  int rc = chat_store_room_info(store, j->ids[0], j->user.id, &r->info);
  if (rc == CHAT_ENOTFOUND ||
      (rc == 0 && r->info.priv && !r->info.member && j->user.role != CHAT_ROLE_ADMIN)) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
    return -1;
  }
  if (rc) {
    chat_api_set_store_error(j);
    return -1;
  }
  if (manage && j->user.role != CHAT_ROLE_ADMIN &&
      (r->info.owner_id == 0 || r->info.owner_id != j->user.id)) {
    chat_api_set_error(j, 403, "forbidden", "only the room's owner or an administrator may");
    return -1;
  }
  return 0;
}

/* After a change: the room again and, for a private room, its members. */
static int reload_room(rjob_t *r, chat_store_t *store) {
  chat_api_job_t *j = &r->super;
  if (chat_store_room_info(store, j->ids[0], j->user.id, &r->info) != 0) {
    chat_api_set_store_error(j);
    return -1;
  }
  if (r->info.priv) {
    chat_room_member_t *m = NULL;
    size_t n = 0;
    if (chat_store_room_members(store, j->ids[0], &m, &n) != 0) {
      chat_api_set_store_error(j);
      return -1;
    }
    free(r->uids);
    r->uids = chat_xcalloc(n + 1, sizeof(*r->uids));
    for (size_t i = 0; i < n; i++) r->uids[i] = m[i].user_id;
    r->nuids = n;
    free(m);
  }
  return 0;
}

/* room_updated to those who see the room. */
static void tell_updated(rjob_t *r, const chat_services_t *svc) {
  room_frame(svc, "room_updated", &r->info, r->info.id, !r->info.priv, r->uids, r->nuids);
}

/* The answer {"room":{...}} in the caller's view. */
static void answer_room(rjob_t *r, int status, const chat_services_t *svc) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "room", room_obj(&r->info, 0, svc));
  chat_api_set_json(&r->super, status, root);
}

/* Most answers are built on the loop (they show online counts). */
static void room_answer_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok) {
    answer_room(r, j->status ? j->status : 200, svc);
    if (r->changed) tell_updated(r, svc);
  }
  rjob_free(r);
}

/* ---- GET /api/rooms ---------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_room_info_t *rooms;
  size_t n;
} list_job_t;

static void list_run(chat_api_job_t *j, chat_store_t *store) {
  list_job_t *l = container_of(j, list_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  if (chat_store_room_list_for(store, j->user.id, &l->rooms, &l->n) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

static void list_done(chat_api_job_t *j, const chat_services_t *svc) {
  list_job_t *l = container_of(j, list_job_t, super);
  if (j->ok) {
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "rooms");
    for (size_t i = 0; i < l->n; i++) cJSON_AddItemToArray(arr, room_obj(&l->rooms[i], 0, svc));
    chat_api_set_json(j, 200, root);
    if (j->has_token && !j->host_user[0])  /* kept a moment (apicache.h) */
      chat_apicache_put(svc->apicache, j->token_hash, j->cache_gen, j->json, uv_hrtime());
  }
  free(l->rooms);
}

/* ---- GET /api/rooms/{id} ----------------------------------------------- */

static void get_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 0)) return;
  j->ok = 1;
}

/* ---- POST /api/rooms --------------------------------------------------- */

static void create_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0, admin = j->user.role == CHAT_ROLE_ADMIN;
  const char *name = chat_api_str_field(o, "name", &bad);
  const char *topic = chat_api_str_field(o, "topic", &bad);
  const char *vis = chat_api_str_field(o, "visibility", &bad);
  const cJSON *members = cJSON_GetObjectItemCaseSensitive(o, "members");
  int64_t *ids = NULL;
  size_t nids = 0;
  int priv = vis ? strcmp(vis, "private") == 0 : !admin;
  if (bad || (vis && strcmp(vis, "private") != 0 && strcmp(vis, "public") != 0) ||
      (members && !cJSON_IsNull(members) && !cJSON_IsArray(members))) {
    chat_api_set_error(j, 400, "bad_request",
                       "name and topic are strings, visibility public or private, members a list");
    goto out;
  }
  if (!priv && !admin) {
    chat_api_set_error(j, 403, "forbidden", "only administrators create public rooms");
    goto out;
  }
  if (name && !priv && !chat_room_name_valid(name)) name = NULL;
  if ((!priv && !name) || (name && name[0] && !chat_room_name_valid(name))) {
    chat_api_set_error(j, 400, "invalid_name", "a room name has 1 to 64 characters");
    goto out;
  }
  if (topic &&
      (strlen(topic) > CHAT_TOPIC_MAX_BYTES || !chat_utf8_valid(topic, strlen(topic)))) {
    chat_api_set_error(j, 400, "bad_request", "a topic has at most 1000 bytes");
    goto out;
  }
  if (cJSON_IsArray(members)) {
    int n = cJSON_GetArraySize(members);
    if (n > CHAT_GROUP_CREATE_MAX) {
      chat_api_set_error(j, 400, "bad_request", "at most 50 members at creation");
      goto out;
    }
    ids = chat_xcalloc((size_t)n + 1, sizeof(*ids));
    const cJSON *it;
    cJSON_ArrayForEach(it, members) {
      chat_user_rec_t u;
      if (!cJSON_IsString(it)) {
        chat_api_set_error(j, 400, "bad_request", "members are usernames");
        goto out;
      }
      if (chat_api_find_user(j, store, it->valuestring, &u)) goto out;
      ids[nids++] = u.id;
    }
  }
  int64_t id = 0;
  int rc = chat_store_room_create_owned(store, name ? name : "", topic ? topic : "", priv,
                                        j->user.id, ids, nids, chat_now_ms(), &id);
  if (rc == CHAT_EEXIST) {
    chat_api_set_error(j, 409, "room_exists", "a room with that name exists");
    goto out;
  }
  if (rc) {
    chat_api_set_store_error(j);
    goto out;
  }
  j->ids[0] = id;
  if (reload_room(r, store)) goto out;
  chat_store_audit(store, j->user.id, "room_create", name && name[0] ? name : "(group)",
                   priv ? "private" : "public", chat_now_ms());
  j->ok = 1;
  j->status = 201;
out:
  free(ids);
  cJSON_Delete(o);
}

/* The room's actor starts here and elsewhere; a public room appears in
 * every open lobby, a private one in its members'. */
static void create_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok) {
    chat_cluster_room_created(svc->cluster, r->info.id, r->info.name);
    answer_room(r, 201, svc);
    room_frame(svc, "room_added", &r->info, r->info.id, !r->info.priv, r->uids, r->nuids);
  }
  rjob_free(r);
}

/* ---- PATCH /api/rooms/{id} --------------------------------------------- */

static void patch_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 1)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *name = chat_api_str_field(o, "name", &bad);
  const char *topic = chat_api_str_field(o, "topic", &bad);
  const char *ann = chat_api_str_field(o, "announcement", &bad);
  if (bad) {
    chat_api_set_error(j, 400, "bad_request", "name, topic and announcement are strings");
    goto out;
  }
  if (name && !chat_room_name_valid(name) && !(r->info.priv && name[0] == '\0')) {
    chat_api_set_error(j, 400, "invalid_name", "a room name has 1 to 64 characters");
    goto out;
  }
  if (topic &&
      (strlen(topic) > CHAT_TOPIC_MAX_BYTES || !chat_utf8_valid(topic, strlen(topic)))) {
    chat_api_set_error(j, 400, "bad_request", "a topic has at most 1000 bytes");
    goto out;
  }
  if (ann && (!chat_utf8_valid(ann, strlen(ann)) ||
              chat_utf8_count(ann, strlen(ann)) > CHAT_ANNOUNCE_MAX_CHARS ||
              strlen(ann) >= CHAT_ANNOUNCE_MAX)) {
    chat_api_set_error(j, 400, "announcement_too_long",
                       "an announcement has at most 500 characters");
    goto out;
  }
  int rc = chat_store_room_patch(store, j->ids[0], name, topic, ann);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
  } else if (rc == CHAT_EEXIST) {
    chat_api_set_error(j, 409, "room_exists", "a room with that name exists");
  } else if (rc) {
    chat_api_set_store_error(j);
  } else if (reload_room(r, store) == 0) {
    chat_store_audit(store, j->user.id, "room_update", r->info.name, NULL, chat_now_ms());
    j->ok = 1;
    r->changed = 1;
  }
out:
  cJSON_Delete(o);
}

/* The room actor's name appears in notification mails. */
static void patch_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok) {
    chat_room_t *room = chat_roomdir_get(svc->rooms, r->info.id);
    if (room) chat_room_post_rename(room, r->info.name);
  }
  room_answer_done(j, svc);
}

/* ---- GET /api/rooms/{id}/members --------------------------------------- */

typedef struct {
  rjob_t r;
  chat_room_member_t *m;
  size_t n;
} members_job_t;

static void members_run(chat_api_job_t *j, chat_store_t *store) {
  members_job_t *mj = container_of(j, members_job_t, r.super);
  if (chat_api_authenticate(j, store) || load_room(&mj->r, store, 0)) return;
  if (chat_store_room_members(store, j->ids[0], &mj->m, &mj->n) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

static void members_done(chat_api_job_t *j, const chat_services_t *svc) {
  members_job_t *mj = container_of(j, members_job_t, r.super);
  if (j->ok) {
    chat_presence_t *p = svc->presence;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "members");
    for (size_t i = 0; i < mj->n; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "username", mj->m[i].username);
      cJSON_AddStringToObject(o, "display_name", mj->m[i].display_name);
      cJSON_AddStringToObject(o, "role", mj->m[i].owner ? "owner" : "member");
      cJSON_AddBoolToObject(o, "online", p->ops->is_online(p, mj->m[i].user_id));
      cJSON_AddItemToArray(arr, o);
    }
    chat_api_set_json(j, 200, root);
  }
  free(mj->m);
}

/* ---- POST /api/rooms/{id}/members, DELETE .../members/{name} ----------- */

static void member_add_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 1)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *name = chat_api_str_field(o, "username", &bad);
  chat_user_rec_t u;
  if (bad || !name) {
    chat_api_set_error(j, 400, "bad_request", "username is a string");
  } else if (chat_api_find_user(j, store, name, &u) == 0) {
    int rc = chat_store_room_member_add(store, j->ids[0], u.id, chat_now_ms(), &r->added);
    if (rc == CHAT_ENOTFOUND) {
      chat_api_set_error(j, 404, "no_such_room", "no such room");
    } else if (rc) {
      chat_api_set_store_error(j);
    } else if (reload_room(r, store) == 0) {
      r->target = u.id;
      j->ok = 1;
      chat_api_set_json(j, 204, NULL);
    }
  }
  cJSON_Delete(o);
}

/* The invitee's sockets get room_added; the members see the new list. */
static void member_add_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok && r->added) {
    room_frame(svc, "room_added", &r->info, r->info.id, 0, &r->target, 1);
    if (r->info.priv) tell_updated(r, svc);
  }
  rjob_free(r);
}

static void member_remove_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store)) return;
  chat_user_rec_t u;
  if (chat_api_find_user(j, store, j->name, &u)) return;
  /* Anyone may leave; removing someone else is managing the room. */
  if (load_room(r, store, u.id != j->user.id)) return;
  int rc = chat_store_room_member_remove(store, j->ids[0], u.id);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "not_member", "not a member of this room");
  } else if (rc) {
    chat_api_set_store_error(j);
  } else if (reload_room(r, store) == 0) {
    r->target = u.id;
    j->ok = 1;
    if (u.id != j->user.id) {
      char detail[64];
      snprintf(detail, sizeof(detail), "room %lld", (long long)j->ids[0]);
      chat_store_audit(store, j->user.id, "room_member_remove", u.username, detail,
                       chat_now_ms());
    }
    chat_api_set_json(j, 204, NULL);
  }
}

/* The user's subscriptions of the room end everywhere; their sockets get
 * room_removed; a private room's members see the new list. */
static void member_remove_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok) {
    chat_cluster_room_kick(svc->cluster, r->info.id, r->target);
    room_frame(svc, "room_removed", NULL, r->info.id, 0, &r->target, 1);
    if (r->info.priv) tell_updated(r, svc);
  }
  rjob_free(r);
}

/* ---- pins -------------------------------------------------------------- */

static void pin_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 1)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
  if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > 9e15 ||
      id->valuedouble != (double)(int64_t)id->valuedouble) {
    chat_api_set_error(j, 400, "bad_request", "id is a message id");
    cJSON_Delete(o);
    return;
  }
  int rc = chat_store_room_pin(store, j->ids[0], (int64_t)id->valuedouble, chat_now_ms());
  cJSON_Delete(o);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "not_found", "no such message in this room");
  } else if (rc == CHAT_EAGAIN) {
    chat_api_set_error(j, 409, "too_many_pins", "a room has at most 20 pinned messages");
  } else if (rc) {
    chat_api_set_store_error(j);
  } else if (reload_room(r, store) == 0) {
    j->ok = 1;
    r->changed = 1;
  }
}

static void unpin_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 1)) return;
  int rc = chat_store_room_unpin(store, j->ids[0], j->ids[1]);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "not_found", "that message is not pinned here");
  } else if (rc) {
    chat_api_set_store_error(j);
  } else if (reload_room(r, store) == 0) {
    j->ok = 1;
    r->changed = 1;
  }
}

/* ---- PATCH /api/rooms/{id}/settings ------------------------------------ */

static void settings_run(chat_api_job_t *j, chat_store_t *store) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (chat_api_authenticate(j, store) || load_room(r, store, 0)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const cJSON *muted = cJSON_GetObjectItemCaseSensitive(o, "muted");
  if (!cJSON_IsBool(muted)) {
    chat_api_set_error(j, 400, "bad_request", "muted is true or false");
    cJSON_Delete(o);
    return;
  }
  int rc = chat_store_room_set_muted(store, j->ids[0], j->user.id, cJSON_IsTrue(muted));
  cJSON_Delete(o);
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 403, "not_member", "join the room first");
  } else if (rc) {
    chat_api_set_store_error(j);
  } else if (chat_store_room_info(store, j->ids[0], j->user.id, &r->info) != 0) {
    chat_api_set_store_error(j);
  } else {
    j->ok = 1;
  }
}

/* The user's other devices follow: room_updated with their own setting. */
static void settings_done(chat_api_job_t *j, const chat_services_t *svc) {
  rjob_t *r = container_of(j, rjob_t, super);
  if (j->ok) {
    answer_room(r, 200, svc);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "type", "room_updated");
    cJSON_AddItemToObject(f, "room", room_obj(&r->info, 0, svc));
    char *json = cJSON_PrintUnformatted(f);
    cJSON_Delete(f);
    if (json) chat_cluster_deliver_to_user(svc->cluster, j->user.id, json, strlen(json));
    free(json);
  }
  rjob_free(r);
}

static const chat_api_route_t routes[] = {
    {HTTP_GET, "/api/rooms", CHAT_ROUTE_ROOMS_LIST, sizeof(list_job_t), NULL, list_run,
     list_done},
    {HTTP_POST, "/api/rooms", CHAT_ROUTE_ROOMS_CREATE, sizeof(rjob_t), NULL, create_run,
     create_done},
    {HTTP_GET, "/api/rooms/{id}", CHAT_ROUTE_ROOM_GET, sizeof(rjob_t), NULL, get_run,
     room_answer_done},
    {HTTP_PATCH, "/api/rooms/{id}", CHAT_ROUTE_ROOM_UPDATE, sizeof(rjob_t), NULL, patch_run,
     patch_done},
    {HTTP_GET, "/api/rooms/{id}/members", CHAT_ROUTE_ROOM_MEMBERS, sizeof(members_job_t), NULL,
     members_run, members_done},
    {HTTP_POST, "/api/rooms/{id}/members", CHAT_ROUTE_ROOM_MEMBER_ADD, sizeof(rjob_t), NULL,
     member_add_run, member_add_done},
    {HTTP_DELETE, "/api/rooms/{id}/members/{name}", CHAT_ROUTE_ROOM_MEMBER_REMOVE,
     sizeof(rjob_t), NULL, member_remove_run, member_remove_done},
    {HTTP_POST, "/api/rooms/{id}/pins", CHAT_ROUTE_ROOM_PIN, sizeof(rjob_t), NULL, pin_run,
     room_answer_done},
    {HTTP_DELETE, "/api/rooms/{id}/pins/{id}", CHAT_ROUTE_ROOM_UNPIN, sizeof(rjob_t), NULL,
     unpin_run, room_answer_done},
    {HTTP_PATCH, "/api/rooms/{id}/settings", CHAT_ROUTE_ROOM_SETTINGS, sizeof(rjob_t), NULL,
     settings_run, settings_done},
};

const chat_api_table_t chat_api_members = {routes, CHAT_ARRAY_SIZE(routes)};

/* ---- for api_rooms.c --------------------------------------------------- */

int chat_api_room_readable(chat_api_job_t *j, chat_store_t *store, int64_t *owner_id) {
  int priv = 0, member = 0;
  int rc = chat_store_room_access(store, j->ids[0], j->user.id, &priv, &member, NULL, owner_id);
  if (rc == CHAT_ENOTFOUND || (rc == 0 && priv && !member && j->user.role != CHAT_ROLE_ADMIN)) {
    chat_api_set_error(j, 404, "no_such_room", "no such room");
    return -1;
  }
  if (rc) {
    chat_api_set_store_error(j);
    return -1;
  }
  return 0;
}

int chat_api_room_audience(chat_store_t *store, int64_t room, int *priv, int64_t **uids,
                           size_t *n) {
  int rc = chat_store_room_access(store, room, 0, priv, NULL, NULL, NULL);
  *uids = NULL;
  *n = 0;
  if (rc || !*priv) return rc;
  chat_room_member_t *m = NULL;
  size_t k = 0;
  rc = chat_store_room_members(store, room, &m, &k);
  if (rc) return rc;
  *uids = chat_xcalloc(k + 1, sizeof(**uids));
  for (size_t i = 0; i < k; i++) (*uids)[i] = m[i].user_id;
  *n = k;
  free(m);
  return 0;
}

void chat_api_room_removed(const chat_services_t *svc, int64_t room, int priv,
                           const int64_t *uids, size_t n) {
  room_frame(svc, "room_removed", NULL, room, !priv, uids, n);
}
