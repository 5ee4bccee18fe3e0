/* API routes between users: who is online, friends, direct-message history,
 * search, and read markers.  See api.h for the steps of a handler. */
#include <stdlib.h>
#include <string.h>

#include "../core/limits.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "../store/rooms.h"
#include "api_int.h"

/* ---- GET /api/users/online --------------------------------------------- */

static void users_online_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  j->ok = 1;
}

static void add_online_user(void *ud, int64_t user_id, const char *username) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)user_id);
  cJSON_AddStringToObject(o, "username", username);
  cJSON_AddItemToArray((cJSON *)ud, o);
}

/* The answer comes from presence. */
static void users_online_done(chat_api_job_t *j, const chat_services_t *svc) {
  if (!j->ok) return;
  chat_presence_t *p = svc->presence;
  cJSON *root = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(root, "users");
  p->ops->online_users(p, add_online_user, arr);
  chat_api_set_json(j, 200, root);
}

/* ---- GET /api/users?q=TEXT --------------------------------------------- */

/* People by name prefix (chat_store_user_search: username or display name,
 * ASCII case aside, banned users left out), at most CHAT_USER_SEARCH_MAX,
 * with whether each is online now (presence, on the loop).  prepare only
 * takes q; run authenticates first, so a caller without a session gets 401
 * whatever q is, and then 400 bad_request for a missing or blank q. */
typedef struct {
  chat_api_job_t super;
  char *query;               /* the decoded q (owned), NULL if absent/bad */
  chat_user_rec_t *users;    /* owned */
  size_t nusers;
} user_search_job_t;

static int user_search_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  (void)svc;
  container_of(j, user_search_job_t, super)->query = chat_api_query_text(c, "q");
  return 0;
}

static void user_search_run(chat_api_job_t *j, chat_store_t *store) {
  user_search_job_t *u = container_of(j, user_search_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  int rc = u->query ? chat_store_user_search(store, u->query, CHAT_USER_SEARCH_MAX, &u->users,
                                             &u->nusers)
                    : CHAT_EINVAL;
  if (rc == CHAT_EINVAL) {
    chat_api_set_error(j, 400, "bad_request", "q is the start of a name");
    return;
  }
  if (rc != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

static void user_search_done(chat_api_job_t *j, const chat_services_t *svc) {
  user_search_job_t *u = container_of(j, user_search_job_t, super);
  if (j->ok) {
    chat_presence_t *p = svc->presence;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "users");
    for (size_t i = 0; i < u->nusers; i++) {
      const chat_user_rec_t *r = &u->users[i];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddNumberToObject(o, "id", (double)r->id);
      cJSON_AddStringToObject(o, "username", r->username);
      cJSON_AddStringToObject(o, "display_name", r->display_name);
      if (r->avatar_file > 0) {  /* files: the avatar's thumbnail */
        char url[64];
        chat_proto_thumb_url(url, sizeof(url), r->avatar_file);
        cJSON_AddStringToObject(o, "avatar", url);
      } else {
        cJSON_AddNullToObject(o, "avatar");
      }
      cJSON_AddBoolToObject(o, "online", p->ops->is_online(p, r->id));
      cJSON_AddItemToArray(arr, o);
    }
    chat_api_set_json(j, 200, root);
  }
  free(u->users);
  free(u->query);
}

/* ---- GET /api/friends -------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_friend_rec_t *friends;  /* owned */
  size_t nfriends;
} friends_list_job_t;

static void friends_list_run(chat_api_job_t *j, chat_store_t *store) {
  friends_list_job_t *l = container_of(j, friends_list_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  if (chat_store_friend_list(store, j->user.id, &l->friends, &l->nfriends) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

/* The answer, with whether each friend is online now. */
static void friends_list_done(chat_api_job_t *j, const chat_services_t *svc) {
  friends_list_job_t *l = container_of(j, friends_list_job_t, super);
  if (j->ok) {
    chat_presence_t *p = svc->presence;
    cJSON *root = cJSON_CreateObject();
    cJSON *friends = cJSON_AddArrayToObject(root, "friends");
    cJSON *incoming = cJSON_AddArrayToObject(root, "incoming");
    cJSON *outgoing = cJSON_AddArrayToObject(root, "outgoing");
    for (size_t i = 0; i < l->nfriends; i++) {
      const chat_friend_rec_t *f = &l->friends[i];
      if (f->state == CHAT_FRIEND_ACCEPTED) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "username", f->username);
        cJSON_AddStringToObject(o, "display_name", f->display_name);
        cJSON_AddNullToObject(o, "avatar");
        cJSON_AddBoolToObject(o, "online", p->ops->is_online(p, f->user_id));
        cJSON_AddItemToArray(friends, o);
      } else if (f->state == CHAT_FRIEND_INCOMING) {
        cJSON_AddItemToArray(incoming, cJSON_CreateString(f->username));
      } else if (f->state == CHAT_FRIEND_OUTGOING) {
        cJSON_AddItemToArray(outgoing, cJSON_CreateString(f->username));
      }
    }
    chat_api_set_json(j, 200, root);
  }
  free(l->friends);
}

/* ---- POST /api/friends, DELETE /api/friends/{name} --------------------- */

typedef struct {
  chat_api_job_t super;
  chat_user_rec_t target;      /* the other user */
  chat_friend_state_t fstate;  /* the asking user's view after the change */
} friend_job_t;

static void friends_add_run(chat_api_job_t *j, chat_store_t *store) {
  friend_job_t *f = container_of(j, friend_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *name = chat_api_str_field(o, "username", &bad);
  if (bad || !name || !*name) {
    chat_api_set_error(j, 400, "bad_request", "username is needed");
    cJSON_Delete(o);
    return;
  }
  int rc = chat_api_find_user(j, store, name, &f->target);
  cJSON_Delete(o);
  if (rc) return;
  if (f->target.id == j->user.id) {
    chat_api_set_error(j, 400, "bad_request", "you cannot befriend yourself");
    return;
  }
  rc = chat_store_friend_request(store, j->user.id, f->target.id, chat_now_ms(), &f->fstate);
  if (rc != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "username", f->target.username);
  cJSON_AddStringToObject(root, "state",
                          f->fstate == CHAT_FRIEND_ACCEPTED ? "friends" : "outgoing");
  chat_api_set_json(j, 200, root);
}

static void friend_remove_run(chat_api_job_t *j, chat_store_t *store) {
  friend_job_t *f = container_of(j, friend_job_t, super);
  if (chat_api_authenticate(j, store) || chat_api_find_user(j, store, j->name, &f->target))
    return;
  if (chat_store_friend_remove(store, j->user.id, f->target.id) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  f->fstate = CHAT_FRIEND_NONE;
  j->ok = 1;
  chat_api_set_json(j, 204, NULL);
}

/* Sends the `friend` frame (net/proto.h) about user to every WebSocket of
 * user_id, on every instance. */
static void deliver_friend(const chat_services_t *svc, int64_t user_id, const char *user,
                           chat_proto_friend_t state) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_friend(&sb, user, state);
  chat_cluster_deliver_to_user(svc->cluster, user_id, sb.buf, sb.len);
  chat_sb_free(&sb);
}

/* Both users' connections learn the new state, each from their side. */
static void friend_done(chat_api_job_t *j, const chat_services_t *svc) {
  friend_job_t *f = container_of(j, friend_job_t, super);
  if (!j->ok) return;
  chat_proto_friend_t mine = f->fstate == CHAT_FRIEND_ACCEPTED   ? CHAT_PROTO_FRIEND_FRIENDS
                             : f->fstate == CHAT_FRIEND_OUTGOING ? CHAT_PROTO_FRIEND_OUTGOING
                                                                 : CHAT_PROTO_FRIEND_NONE;
  chat_proto_friend_t theirs = f->fstate == CHAT_FRIEND_ACCEPTED ? CHAT_PROTO_FRIEND_FRIENDS
                               : f->fstate == CHAT_FRIEND_OUTGOING
                                   ? CHAT_PROTO_FRIEND_INCOMING
                                   : CHAT_PROTO_FRIEND_NONE;
  deliver_friend(svc, f->target.id, j->user.username, theirs);
  deliver_friend(svc, j->user.id, f->target.username, mine);
}

/* ---- GET /api/dm/{name}/messages --------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_api_page_t page;
} dm_history_job_t;

static int dm_history_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  return chat_api_paging(j, c, &container_of(j, dm_history_job_t, super)->page);
}

static void dm_history_run(chat_api_job_t *j, chat_store_t *store) {
  dm_history_job_t *h = container_of(j, dm_history_job_t, super);
  chat_user_rec_t peer;
  if (chat_api_authenticate(j, store) || chat_api_find_user(j, store, j->name, &peer)) return;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  int rc = chat_store_dm_history(store, j->user.id, peer.id, h->page.before, h->page.limit,
                                 &msgs, &n);
  chat_api_set_messages(j, rc, msgs, n);
}

/* ---- GET /api/search --------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  char *query;       /* the decoded q (owned) */
  int64_t room;      /* 0: every room and DM the user may read */
} search_job_t;

static int search_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  search_job_t *s = container_of(j, search_job_t, super);
  s->query = chat_api_query_text(c, "q");
  if (s->query == NULL || s->query[0] == '\0' || chat_api_query_id(c, "room", &s->room) < 0) {
    free(s->query);
    chat_api_set_error(j, 400, "bad_request", "q is the text to find; room a room id");
    return -1;
  }
  return 0;
}

static void search_run(chat_api_job_t *j, chat_store_t *store) {
  search_job_t *s = container_of(j, search_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  int rc = chat_store_search(store, j->user.id, s->query, s->room, CHAT_SEARCH_MAX, &msgs,
                             &n);
  if (rc == CHAT_EINVAL) {
    chat_api_set_error(j, 400, "bad_request", "q must not be empty");
    return;
  }
  chat_api_set_messages(j, rc, msgs, n);
}

static void search_done(chat_api_job_t *j, const chat_services_t *svc) {
  free(container_of(j, search_job_t, super)->query);
}

/* ---- POST /api/read, GET /api/unread ----------------------------------- */

static void read_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
  const cJSON *dm = cJSON_GetObjectItemCaseSensitive(o, "dm");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
  int room_ok = cJSON_IsNumber(room) && room->valuedouble >= 1 &&
                room->valuedouble == (double)(int64_t)room->valuedouble;
  int id_ok = cJSON_IsNumber(id) && id->valuedouble >= 0 &&
              id->valuedouble == (double)(int64_t)id->valuedouble &&
              id->valuedouble < 9007199254740992.0;
  if (!id_ok || (room_ok == cJSON_IsString(dm)) || (room && !room_ok)) {
    chat_api_set_error(j, 400, "bad_request", "give a room or a dm, and the id read up to");
    cJSON_Delete(o);
    return;
  }
  int64_t room_id = 0, peer_id = 0;
  int rc = 0;
  if (room_ok) {
    /* Rooms v2: a marker only for a room the user is a member of (the
     * unread rooms are the member rooms); a private one is not there for
     * others. */
    int priv = 0, member = 0;
    room_id = (int64_t)room->valuedouble;
    rc = chat_store_room_access(store, room_id, j->user.id, &priv, &member, NULL, NULL);
    if (rc == CHAT_ENOTFOUND || (rc == 0 && priv && !member)) {
      chat_api_set_error(j, 404, "no_such_room", "no such room");
      cJSON_Delete(o);
      return;
    }
    if (rc == 0 && !member) {
      cJSON_Delete(o);
      chat_api_set_json(j, 204, NULL);
      return;
    }
  } else {
    chat_user_rec_t peer;
    if (chat_api_find_user(j, store, dm->valuestring, &peer)) {
      cJSON_Delete(o);
      return;
    }
    peer_id = peer.id;
  }
  if (rc == 0)
    rc = chat_store_read_mark(store, j->user.id, room_id, peer_id, (int64_t)id->valuedouble);
  cJSON_Delete(o);
  if (rc != 0)
    chat_api_set_store_error(j);
  else
    chat_api_set_json(j, 204, NULL);
}

static void unread_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  chat_unread_rec_t *u = NULL;
  size_t n = 0;
  if (chat_store_unread(store, j->user.id, &u, &n) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  cJSON *root = cJSON_CreateObject();
  cJSON *rooms = cJSON_AddArrayToObject(root, "rooms");
  cJSON *dms = cJSON_AddArrayToObject(root, "dms");
  for (size_t i = 0; i < n; i++) {
    cJSON *e = cJSON_CreateObject();
    if (u[i].room_id) {
      cJSON_AddNumberToObject(e, "room", (double)u[i].room_id);
      cJSON_AddNumberToObject(e, "count", (double)u[i].count);
      cJSON_AddItemToArray(rooms, e);
    } else {
      cJSON_AddStringToObject(e, "user", u[i].peer);
      cJSON_AddNumberToObject(e, "count", (double)u[i].count);
      cJSON_AddItemToArray(dms, e);
    }
    cJSON_AddNumberToObject(e, "mentions", (double)u[i].mentions);  /* extras */
  }
  free(u);
  chat_api_set_json(j, 200, root);
}

static const chat_api_route_t routes[] = {
    {HTTP_GET, "/api/users/online", CHAT_ROUTE_USERS_ONLINE, sizeof(chat_api_job_t), NULL,
     users_online_run, users_online_done},
    {HTTP_GET, "/api/users", CHAT_ROUTE_USERS_SEARCH, sizeof(user_search_job_t),
     user_search_prepare, user_search_run, user_search_done},
    {HTTP_GET, "/api/friends", CHAT_ROUTE_FRIENDS_LIST, sizeof(friends_list_job_t), NULL,
     friends_list_run, friends_list_done},
    {HTTP_POST, "/api/friends", CHAT_ROUTE_FRIENDS_ADD, sizeof(friend_job_t), NULL,
     friends_add_run, friend_done},
    {HTTP_DELETE, "/api/friends/{name}", CHAT_ROUTE_FRIEND_REMOVE, sizeof(friend_job_t), NULL,
     friend_remove_run, friend_done},
    {HTTP_GET, "/api/dm/{name}/messages", CHAT_ROUTE_DM_MESSAGES, sizeof(dm_history_job_t),
     dm_history_prepare, dm_history_run, NULL},
    {HTTP_GET, "/api/search", CHAT_ROUTE_SEARCH, sizeof(search_job_t), search_prepare,
     search_run, search_done},
    {HTTP_POST, "/api/read", CHAT_ROUTE_READ, sizeof(chat_api_job_t), NULL, read_run, NULL},
    {HTTP_GET, "/api/unread", CHAT_ROUTE_UNREAD, sizeof(chat_api_job_t), NULL, unread_run, NULL},
};

const chat_api_table_t chat_api_social = {routes, CHAT_ARRAY_SIZE(routes)};
