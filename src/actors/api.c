/* The HTTP API (../shared/API.md): accounts, rooms, history, health.
 *
 * Each request becomes one job.  Its run function executes on a worker
 * thread and does everything that blocks, in order: find the session,
 * check the role, read and check the body, call the store, hash passwords,
 * and build the JSON answer.  Its done function runs on the loop, in the
 * connection actor, and does what only the loop may do: answer, add live
 * figures (who is online), and tell other actors what changed (a new room,
 * a deleted room, sessions to close). */
#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/text.h"
#include "../net/utf8.h"
#include "api.h"
#include "cluster.h"
#include "limiter.h"
#include "presence.h"
#include "registry.h"
#include "room.h"
#include "roomdir.h"
#include "storage.h"

#define TOPIC_MAX_BYTES 1000

typedef enum {
  FX_NONE,
  FX_LOGIN,          /* login_ok says how it went */
  FX_LOGOUT,         /* close WebSockets of token_hash */
  FX_PASSWORD,       /* close the user's other WebSockets */
  FX_ROOM_CREATED,
  FX_ROOM_DELETED,
  FX_ROOMS_LIST,     /* add online counts */
  FX_USERS_ONLINE,   /* answer from presence */
  FX_HEALTH,
  FX_ROOM_RENAMED,
  FX_FRIEND,         /* tell both users' connections */
  FX_FRIENDS_LIST,   /* add online flags */
  FX_ADMIN_USERS,    /* add online flags */
  FX_BAN,            /* close the user's WebSockets everywhere */
  FX_MSG_DELETED,    /* tell the room */
} effect_t;

typedef struct {
  chat_job_t job;
  /* the request */
  chat_route_id_t route;
  int64_t ids[2];
  char *body;
  size_t body_len;
  int has_token;
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  int64_t before;
  int limit;
  int64_t session_ms;
  char rate_key[200];
  /* the answer */
  int status;
  char *json;              /* malloc'ed (cJSON_free) */
  char headers[512];
  /* what the loop must do */
  effect_t effect;
  int login_ok;
  chat_user_rec_t user;    /* the authenticated user */
  chat_room_rec_t room;
  chat_room_rec_t *rooms;
  size_t nrooms;
  int store_ok;
  /* community */
  char name[400];              /* the {name} of the route */
  chat_user_rec_t target;      /* the user it names */
  chat_friend_state_t fstate;  /* the actor's view after a friend change */
  chat_friend_rec_t *friends;
  size_t nfriends;
  chat_user_rec_t *users;
  size_t nusers;
  char *query;                 /* the decoded q of a search */
  int64_t search_room;
} api_job_t;

/* ---- helpers for run functions (worker thread) ----------------------- */

static void set_json(api_job_t *j, int status, cJSON *root) {
  j->status = status;
  if (root) {
    j->json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
  }
}

static void set_error(api_job_t *j, int status, const char *code, const char *message) {
  cJSON *root = cJSON_CreateObject();
  cJSON *err = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(err, "code", code);
  cJSON_AddStringToObject(err, "message", message);
  set_json(j, status, root);
}

static void set_store_error(api_job_t *j) {
  set_error(j, 503, "store_unavailable", "the store is unavailable; try again");
}

static cJSON *user_json(const chat_user_rec_t *u, int with_email) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)u->id);
  cJSON_AddStringToObject(o, "username", u->username);
  if (with_email) cJSON_AddStringToObject(o, "email", u->email);
  cJSON_AddStringToObject(o, "role", u->role == CHAT_ROLE_ADMIN ? "admin" : "user");
  if (with_email) cJSON_AddBoolToObject(o, "email_notify", u->email_notify != 0);
  return o;
}

static cJSON *room_json(const chat_room_rec_t *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)r->id);
  cJSON_AddStringToObject(o, "name", r->name);
  cJSON_AddStringToObject(o, "topic", r->topic);
  return o;
}

/* Finds the session's user.  On failure sets the answer and returns -1. */
static int authenticate(api_job_t *j, chat_store_t *store) {
  if (!j->has_token) {
    set_error(j, 401, "unauthenticated", "log in first");
    return -1;
  }
  int rc = chat_store_session_lookup(store, j->token_hash, chat_now_ms(), &j->user);
  if (rc == CHAT_EUNAVAIL) {
    set_store_error(j);
    return -1;
  }
  if (rc != 0 || j->user.banned) {
    set_error(j, 401, "unauthenticated", "log in first");
    return -1;
  }
  return 0;
}

static int require_admin(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return -1;
  if (j->user.role != CHAT_ROLE_ADMIN) {
    set_error(j, 403, "forbidden", "administrators only");
    return -1;
  }
  return 0;
}

/* Parses the body as a JSON object; on failure sets 400 and returns NULL. */
static cJSON *parse_body(api_job_t *j) {
  cJSON *o = chat_json_parse(j->body, j->body_len);
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    set_error(j, 400, "bad_request", "the body must be a JSON object");
    return NULL;
  }
  return o;
}

/* A string field: NULL if absent; *bad set if present but not a string. */
static const char *str_field(const cJSON *o, const char *name, int *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (v == NULL || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsString(v)) {
    *bad = 1;
    return NULL;
  }
  return v->valuestring;
}

static int password_ok(const char *p) {
  size_t n = strlen(p);
  return n >= 8 && n <= 128;
}

/* ---- handlers (worker thread) ----------------------------------------- */

static void run_register(api_job_t *j, chat_store_t *store) {
  cJSON *o = parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *username = str_field(o, "username", &bad);
  const char *password = str_field(o, "password", &bad);
  const char *email = str_field(o, "email", &bad);
  if (bad) {
    set_error(j, 400, "bad_request", "username, password and email are strings");
  } else if (!username || !chat_username_valid(username)) {
    set_error(j, 400, "invalid_username",
              "3-32 characters: letters, digits, '_', '.' or '-'");
  } else if (!password || !password_ok(password)) {
    set_error(j, 400, "weak_password", "a password has 8 to 128 bytes");
  } else if (!email || !chat_email_valid(email)) {
    set_error(j, 400, "invalid_email", "that is not an e-mail address");
  } else {
    char hash[CHAT_HASH_MAX];
    if (chat_auth_hash_password(password, strlen(password), hash) != 0) {
      set_error(j, 500, "internal", "could not hash the password");
    } else {
      chat_user_rec_t u;
      int rc = chat_store_user_create(store, username, email, hash, CHAT_ROLE_USER,
                                      chat_now_ms(), &u);
      if (rc == CHAT_EEXIST) {
        set_error(j, 409, "username_taken", "that username is taken");
      } else if (rc != 0) {
        set_store_error(j);
      } else {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "user", user_json(&u, 1));
        set_json(j, 201, root);
      }
    }
  }
  cJSON_Delete(o);
}

/* Verifying against this when the user does not exist makes both failures
 * cost the same time. */
static char dummy_hash[CHAT_HASH_MAX];
static uv_once_t dummy_once = UV_ONCE_INIT;
static void make_dummy_hash(void) {
  chat_auth_hash_password("not a password", 14, dummy_hash);
}

static void run_login(api_job_t *j, chat_store_t *store) {
  j->effect = FX_LOGIN;
  cJSON *o = parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *username = str_field(o, "username", &bad);
  const char *password = str_field(o, "password", &bad);
  if (bad || !username || !password) {
    set_error(j, 400, "bad_request", "username and password are needed");
    cJSON_Delete(o);
    return;
  }
  chat_user_rec_t u;
  int rc = strlen(username) <= CHAT_NAME_MAX ? chat_store_user_by_name(store, username, &u)
                                             : CHAT_ENOTFOUND;
  if (rc == CHAT_EUNAVAIL) {
    set_store_error(j);
    cJSON_Delete(o);
    return;
  }
  int ok;
  if (rc == 0) {
    ok = chat_auth_verify_password(u.pwhash, password, strlen(password));
  } else {
    uv_once(&dummy_once, make_dummy_hash);
    chat_auth_verify_password(dummy_hash, password, strlen(password));
    ok = 0;
  }
  cJSON_Delete(o);
  if (!ok) {
    set_error(j, 401, "invalid_credentials", "wrong username or password");
    return;
  }
  if (u.banned) {
    set_error(j, 403, "banned", "this account is banned");
    return;
  }
  char token[CHAT_TOKEN_CHARS + 1];
  uint8_t th[CHAT_TOKEN_HASH_LEN];
  chat_auth_new_token(token);
  chat_auth_token_hash(token, CHAT_TOKEN_CHARS, th);
  int64_t now = chat_now_ms();
  if (chat_store_session_create(store, th, u.id, now, now + j->session_ms) != 0) {
    set_store_error(j);
    return;
  }
  j->login_ok = 1;
  snprintf(j->headers, sizeof(j->headers),
           "Set-Cookie: sid=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%" PRId64 "\r\n",
           token, j->session_ms / 1000);
  memset(token, 0, sizeof(token));
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "user", user_json(&u, 1));
  set_json(j, 200, root);
}

static void run_logout(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  if (chat_store_session_delete(store, j->token_hash) != 0) {
    set_store_error(j);
    return;
  }
  j->effect = FX_LOGOUT;
  snprintf(j->headers, sizeof(j->headers),
           "Set-Cookie: sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0\r\n");
  set_json(j, 204, NULL);
}

static void run_me(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "user", user_json(&j->user, 1));
  set_json(j, 200, root);
}

static void run_password(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  cJSON *o = parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *old_pw = str_field(o, "old_password", &bad);
  const char *new_pw = str_field(o, "new_password", &bad);
  if (bad || !old_pw || !new_pw) {
    set_error(j, 400, "bad_request", "old_password and new_password are needed");
  } else if (!chat_auth_verify_password(j->user.pwhash, old_pw, strlen(old_pw))) {
    set_error(j, 403, "wrong_password", "the current password is wrong");
  } else if (!password_ok(new_pw)) {
    set_error(j, 400, "weak_password", "a password has 8 to 128 bytes");
  } else {
    char hash[CHAT_HASH_MAX];
    if (chat_auth_hash_password(new_pw, strlen(new_pw), hash) != 0) {
      set_error(j, 500, "internal", "could not hash the password");
    } else if (chat_store_user_set_password(store, j->user.id, hash, j->token_hash) != 0) {
      set_store_error(j);
    } else {
      j->effect = FX_PASSWORD;
      set_json(j, 204, NULL);
    }
  }
  cJSON_Delete(o);
}

static void run_rooms_list(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  if (chat_store_room_list(store, &j->rooms, &j->nrooms) != 0) {
    set_store_error(j);
    return;
  }
  j->effect = FX_ROOMS_LIST;
  j->status = 200;
}

/* Reads name and topic from a room body; for_create requires the name. */
static int room_fields(api_job_t *j, cJSON *o, int for_create, const char **name,
                       const char **topic) {
  int bad = 0;
  *name = str_field(o, "name", &bad);
  *topic = str_field(o, "topic", &bad);
  if (bad) {
    set_error(j, 400, "bad_request", "name and topic are strings");
    return -1;
  }
  if ((for_create && !*name) || (*name && !chat_room_name_valid(*name))) {
    set_error(j, 400, "invalid_name", "a room name has 1 to 64 characters");
    return -1;
  }
  if (*topic && (strlen(*topic) > TOPIC_MAX_BYTES || !chat_utf8_valid(*topic, strlen(*topic)))) {
    set_error(j, 400, "bad_request", "a topic has at most 1000 bytes");
    return -1;
  }
  return 0;
}

static void run_rooms_create(api_job_t *j, chat_store_t *store) {
  if (require_admin(j, store)) return;
  cJSON *o = parse_body(j);
  if (!o) return;
  const char *name, *topic;
  if (room_fields(j, o, 1, &name, &topic) == 0) {
    int rc = chat_store_room_create(store, name, topic ? topic : "", &j->room);
    if (rc == CHAT_EEXIST) {
      set_error(j, 409, "room_exists", "a room with that name exists");
    } else if (rc != 0) {
      set_store_error(j);
    } else {
      j->effect = FX_ROOM_CREATED;
      chat_store_audit(store, j->user.id, "room_create", j->room.name, NULL, chat_now_ms());
      cJSON *root = cJSON_CreateObject();
      cJSON_AddItemToObject(root, "room", room_json(&j->room));
      set_json(j, 201, root);
    }
  }
  cJSON_Delete(o);
}

static void run_room_update(api_job_t *j, chat_store_t *store) {
  if (require_admin(j, store)) return;
  cJSON *o = parse_body(j);
  if (!o) return;
  const char *name, *topic;
  if (room_fields(j, o, 0, &name, &topic) == 0) {
    int rc = chat_store_room_update(store, j->ids[0], name, topic, &j->room);
    if (rc == CHAT_ENOTFOUND) {
      set_error(j, 404, "no_such_room", "no such room");
    } else if (rc == CHAT_EEXIST) {
      set_error(j, 409, "room_exists", "a room with that name exists");
    } else if (rc != 0) {
      set_store_error(j);
    } else {
      j->effect = FX_ROOM_RENAMED;
      chat_store_audit(store, j->user.id, "room_update", j->room.name, NULL, chat_now_ms());
      cJSON *root = cJSON_CreateObject();
      cJSON_AddItemToObject(root, "room", room_json(&j->room));
      set_json(j, 200, root);
    }
  }
  cJSON_Delete(o);
}

static void run_room_delete(api_job_t *j, chat_store_t *store) {
  if (require_admin(j, store)) return;
  int rc = chat_store_room_get(store, j->ids[0], &j->room);
  if (rc == 0 && strcasecmp(j->room.name, "lobby") == 0) {
    set_error(j, 400, "bad_request", "the lobby cannot be deleted");
    return;
  }
  if (rc == 0) rc = chat_store_room_delete(store, j->ids[0]);
  if (rc == CHAT_ENOTFOUND) {
    set_error(j, 404, "no_such_room", "no such room");
  } else if (rc != 0) {
    set_store_error(j);
  } else {
    j->effect = FX_ROOM_DELETED;
    chat_store_audit(store, j->user.id, "room_delete", j->room.name, NULL, chat_now_ms());
    set_json(j, 204, NULL);
  }
}

static cJSON *messages_json(const chat_msg_rec_t *m, size_t n) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)m[i].id);
    if (m[i].to[0])
      cJSON_AddStringToObject(o, "to", m[i].to);
    else
      cJSON_AddNumberToObject(o, "room", (double)m[i].room);
    cJSON_AddStringToObject(o, "sender", m[i].sender);
    cJSON_AddStringToObject(o, "text", m[i].text);
    cJSON_AddNumberToObject(o, "ts", (double)m[i].ts);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* Answers {"messages": [...]} from a store call's result (an empty page for
 * CHAT_ENOTFOUND) and frees the list. */
static void set_messages(api_job_t *j, int rc, chat_msg_rec_t *msgs, size_t n) {
  if (rc == CHAT_ENOTFOUND) rc = 0, n = 0;
  if (rc != 0) {
    chat_store_msgs_free(msgs, n);
    set_store_error(j);
    return;
  }
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "messages", messages_json(msgs, n));
  chat_store_msgs_free(msgs, n);
  set_json(j, 200, root);
}

static void run_room_messages(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  chat_room_rec_t room;
  int rc = chat_store_room_get(store, j->ids[0], &room);
  if (rc == CHAT_ENOTFOUND) {
    set_error(j, 404, "no_such_room", "no such room");
    return;
  }
  if (rc != 0) {
    set_store_error(j);
    return;
  }
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  rc = chat_store_msg_history(store, j->ids[0], j->before, j->limit, &msgs, &n);
  set_messages(j, rc, msgs, n);
}

static void run_users_online(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  j->effect = FX_USERS_ONLINE;
  j->status = 200;
}

static void run_healthz(api_job_t *j, chat_store_t *store) {
  j->store_ok = chat_store_ping(store) == 0;
  j->effect = FX_HEALTH;
  j->status = j->store_ok ? 200 : 503;
}

/* ---- community (worker thread) ----------------------------------------- */

/* Finds the user the route names; on failure sets 404 and returns -1. */
static int find_target(api_job_t *j, chat_store_t *store) {
  int rc = strlen(j->name) <= CHAT_NAME_MAX ? chat_store_user_by_name(store, j->name, &j->target)
                                            : CHAT_ENOTFOUND;
  if (rc == CHAT_ENOTFOUND) {
    set_error(j, 404, "no_such_user", "no such user");
    return -1;
  }
  if (rc != 0) {
    set_store_error(j);
    return -1;
  }
  return 0;
}

static void run_me_update(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  cJSON *o = parse_body(j);
  if (!o) return;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "email_notify");
  if (!cJSON_IsBool(v)) {
    set_error(j, 400, "bad_request", "email_notify must be true or false");
  } else if (chat_store_user_set_notify(store, j->user.id, cJSON_IsTrue(v)) != 0) {
    set_store_error(j);
  } else {
    j->user.email_notify = cJSON_IsTrue(v);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "user", user_json(&j->user, 1));
    set_json(j, 200, root);
  }
  cJSON_Delete(o);
}

static void run_friends_list(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  if (chat_store_friend_list(store, j->user.id, &j->friends, &j->nfriends) != 0) {
    set_store_error(j);
    return;
  }
  j->effect = FX_FRIENDS_LIST;
  j->status = 200;
}

static void run_friends_add(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  cJSON *o = parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *name = str_field(o, "username", &bad);
  if (bad || !name || !*name) {
    set_error(j, 400, "bad_request", "username is needed");
    cJSON_Delete(o);
    return;
  }
  snprintf(j->name, sizeof(j->name), "%s", name);
  cJSON_Delete(o);
  if (find_target(j, store)) return;
  if (j->target.id == j->user.id) {
    set_error(j, 400, "bad_request", "you cannot befriend yourself");
    return;
  }
  int rc = chat_store_friend_request(store, j->user.id, j->target.id, chat_now_ms(), &j->fstate);
  if (rc != 0) {
    set_store_error(j);
    return;
  }
  j->effect = FX_FRIEND;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "username", j->target.username);
  cJSON_AddStringToObject(root, "state",
                          j->fstate == CHAT_FRIEND_ACCEPTED ? "friends" : "outgoing");
  set_json(j, 200, root);
}

static void run_friend_remove(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store) || find_target(j, store)) return;
  if (chat_store_friend_remove(store, j->user.id, j->target.id) != 0) {
    set_store_error(j);
    return;
  }
  j->fstate = CHAT_FRIEND_NONE;
  j->effect = FX_FRIEND;
  set_json(j, 204, NULL);
}

static void run_dm_messages(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store) || find_target(j, store)) return;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  int rc = chat_store_dm_history(store, j->user.id, j->target.id, j->before, j->limit, &msgs, &n);
  set_messages(j, rc, msgs, n);
}

static void run_search(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  int rc = chat_store_search(store, j->user.id, j->query, j->search_room, 50, &msgs, &n);
  if (rc == CHAT_EINVAL) {
    set_error(j, 400, "bad_request", "q must not be empty");
    return;
  }
  set_messages(j, rc, msgs, n);
}

static void run_admin_users(api_job_t *j, chat_store_t *store) {
  if (require_admin(j, store)) return;
  if (chat_store_user_list(store, &j->users, &j->nusers) != 0) {
    set_store_error(j);
    return;
  }
  j->effect = FX_ADMIN_USERS;
  j->status = 200;
}

static void run_admin_ban(api_job_t *j, chat_store_t *store, int ban) {
  if (require_admin(j, store) || find_target(j, store)) return;
  if (ban && j->target.id == j->user.id) {
    set_error(j, 400, "bad_request", "you cannot ban yourself");
    return;
  }
  if (chat_store_user_set_banned(store, j->target.id, ban) != 0) {
    set_store_error(j);
    return;
  }
  chat_store_audit(store, j->user.id, ban ? "ban" : "unban", j->target.username, NULL,
                   chat_now_ms());
  if (ban) j->effect = FX_BAN;
  set_json(j, 204, NULL);
}

static void run_message_delete(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  int rc = chat_store_room_get(store, j->ids[0], &j->room);
  if (rc == CHAT_ENOTFOUND) {
    set_error(j, 404, "no_such_room", "no such room");
    return;
  }
  chat_msg_rec_t msg;
  int64_t sender_id = 0;
  memset(&msg, 0, sizeof(msg));
  if (rc == 0) rc = chat_store_msg_get(store, j->ids[1], &msg, &sender_id);
  if (rc == 0 && msg.room != j->ids[0]) rc = CHAT_ENOTFOUND;
  if (rc == CHAT_ENOTFOUND) {
    free(msg.text);
    set_error(j, 404, "not_found", "no such message in this room");
    return;
  }
  if (rc != 0) {
    free(msg.text);
    set_store_error(j);
    return;
  }
  int own = sender_id == j->user.id;
  if (!own && j->user.role != CHAT_ROLE_ADMIN) {
    free(msg.text);
    set_error(j, 403, "forbidden", "only the sender or an administrator may delete it");
    return;
  }
  rc = chat_store_msg_delete(store, j->ids[0], j->ids[1]);
  if (rc == 0 && !own) {
    char detail[64];
    snprintf(detail, sizeof(detail), "room %" PRId64 " message %" PRId64, j->ids[0], j->ids[1]);
    chat_store_audit(store, j->user.id, "message_delete", msg.sender, detail, chat_now_ms());
  }
  free(msg.text);
  if (rc == CHAT_ENOTFOUND) {
    set_error(j, 404, "not_found", "no such message in this room");
  } else if (rc != 0) {
    set_store_error(j);
  } else {
    j->effect = FX_MSG_DELETED;
    set_json(j, 204, NULL);
  }
}

static void run_read(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  cJSON *o = parse_body(j);
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
    set_error(j, 400, "bad_request", "give a room or a dm, and the id read up to");
    cJSON_Delete(o);
    return;
  }
  int64_t room_id = 0, peer_id = 0;
  int rc = 0;
  if (room_ok) {
    room_id = (int64_t)room->valuedouble;
    rc = chat_store_room_get(store, room_id, &j->room);
    if (rc == CHAT_ENOTFOUND) {
      set_error(j, 404, "no_such_room", "no such room");
      cJSON_Delete(o);
      return;
    }
  } else {
    snprintf(j->name, sizeof(j->name), "%s", dm->valuestring);
    if (find_target(j, store)) {
      cJSON_Delete(o);
      return;
    }
    peer_id = j->target.id;
  }
  if (rc == 0)
    rc = chat_store_read_mark(store, j->user.id, room_id, peer_id, (int64_t)id->valuedouble);
  cJSON_Delete(o);
  if (rc != 0)
    set_store_error(j);
  else
    set_json(j, 204, NULL);
}

static void run_unread(api_job_t *j, chat_store_t *store) {
  if (authenticate(j, store)) return;
  chat_unread_rec_t *u = NULL;
  size_t n = 0;
  if (chat_store_unread(store, j->user.id, &u, &n) != 0) {
    set_store_error(j);
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
  }
  free(u);
  set_json(j, 200, root);
}

static void api_run(chat_job_t *job, chat_store_t *store) {
  api_job_t *j = (api_job_t *)job;
  switch (j->route) {
    case CHAT_ROUTE_REGISTER: run_register(j, store); break;
    case CHAT_ROUTE_LOGIN: run_login(j, store); break;
    case CHAT_ROUTE_LOGOUT: run_logout(j, store); break;
    case CHAT_ROUTE_ME: run_me(j, store); break;
    case CHAT_ROUTE_PASSWORD: run_password(j, store); break;
    case CHAT_ROUTE_ROOMS_LIST: run_rooms_list(j, store); break;
    case CHAT_ROUTE_ROOMS_CREATE: run_rooms_create(j, store); break;
    case CHAT_ROUTE_ROOM_UPDATE: run_room_update(j, store); break;
    case CHAT_ROUTE_ROOM_DELETE: run_room_delete(j, store); break;
    case CHAT_ROUTE_ROOM_MESSAGES: run_room_messages(j, store); break;
    case CHAT_ROUTE_USERS_ONLINE: run_users_online(j, store); break;
    case CHAT_ROUTE_HEALTHZ: run_healthz(j, store); break;
    case CHAT_ROUTE_ME_UPDATE: run_me_update(j, store); break;
    case CHAT_ROUTE_FRIENDS_LIST: run_friends_list(j, store); break;
    case CHAT_ROUTE_FRIENDS_ADD: run_friends_add(j, store); break;
    case CHAT_ROUTE_FRIEND_REMOVE: run_friend_remove(j, store); break;
    case CHAT_ROUTE_DM_MESSAGES: run_dm_messages(j, store); break;
    case CHAT_ROUTE_SEARCH: run_search(j, store); break;
    case CHAT_ROUTE_ADMIN_USERS: run_admin_users(j, store); break;
    case CHAT_ROUTE_ADMIN_BAN: run_admin_ban(j, store, 1); break;
    case CHAT_ROUTE_ADMIN_UNBAN: run_admin_ban(j, store, 0); break;
    case CHAT_ROUTE_MESSAGE_DELETE: run_message_delete(j, store); break;
    case CHAT_ROUTE_READ: run_read(j, store); break;
    case CHAT_ROUTE_UNREAD: run_unread(j, store); break;
    default: set_error(j, 404, "not_found", "no such API route"); break;
  }
  /* Nothing secret outlives the job. */
  if (j->body) memset(j->body, 0, j->body_len);
}

/* ---- on the loop ------------------------------------------------------ */

static void add_online_user(void *ud, int64_t user_id, const char *username) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)user_id);
  cJSON_AddStringToObject(o, "username", username);
  cJSON_AddItemToArray((cJSON *)ud, o);
}

static void respond_metrics(const chat_services_t *svc, chat_conn_t *c) {
  uint64_t batches, messages, write_ns;
  chat_storage_stats(svc->storage, &batches, &messages, &write_ns);
  const chat_metrics_t *mt = svc->metrics;
  char body[2048];
  snprintf(body, sizeof(body),
           "# HELP chat_connections Open TCP connections.\n"
           "# TYPE chat_connections gauge\n"
           "chat_connections %zu\n"
           "# HELP chat_websockets Open WebSocket connections.\n"
           "# TYPE chat_websockets gauge\n"
           "chat_websockets %zu\n"
           "# HELP chat_rooms Rooms.\n"
           "# TYPE chat_rooms gauge\n"
           "chat_rooms %zu\n"
           "# HELP chat_connections_total Connections accepted.\n"
           "# TYPE chat_connections_total counter\n"
           "chat_connections_total %" PRIu64 "\n"
           "# HELP chat_http_requests_total HTTP requests.\n"
           "# TYPE chat_http_requests_total counter\n"
           "chat_http_requests_total %" PRIu64 "\n"
           "# HELP chat_ws_frames_in_total WebSocket messages received.\n"
           "# TYPE chat_ws_frames_in_total counter\n"
           "chat_ws_frames_in_total %" PRIu64 "\n"
           "# HELP chat_messages_total Room messages stored and broadcast.\n"
           "# TYPE chat_messages_total counter\n"
           "chat_messages_total %" PRIu64 "\n"
           "# HELP chat_store_batches_total Message batches committed.\n"
           "# TYPE chat_store_batches_total counter\n"
           "chat_store_batches_total %" PRIu64 "\n"
           "# HELP chat_store_write_seconds_total Time spent committing batches.\n"
           "# TYPE chat_store_write_seconds_total counter\n"
           "chat_store_write_seconds_total %.6f\n",
           chat_registry_count(svc->registry), chat_registry_ws_count(svc->registry),
           chat_roomdir_count(svc->rooms), mt->conns_total, mt->http_requests,
           mt->ws_frames_in, mt->messages_sent, batches, (double)write_ns / 1e9);
  chat_conn_respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

static void api_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  api_job_t *j = container_of(m, api_job_t, job.mail);
  const chat_services_t *svc = chat_conn_services(c);
  /* Effects happen even if the client has gone: the store changed. */
  switch (j->effect) {
    case FX_LOGIN:
      /* The attempt was counted as a failure when it came in (so parallel
       * attempts cannot get past the limit); a success clears the count. */
      if (j->login_ok)
        chat_limiter_ok(svc->limiter, j->rate_key);
      else if (j->status != 401)
        chat_limiter_uncount(svc->limiter, j->rate_key);  /* not a wrong password */
      break;
    case FX_LOGOUT:
      chat_cluster_revoke(svc->cluster, j->user.id, NULL, j->token_hash, "logged out");
      break;
    case FX_PASSWORD:
      chat_cluster_revoke(svc->cluster, j->user.id, j->token_hash, NULL, "password changed");
      break;
    case FX_ROOM_CREATED:
      chat_cluster_room_created(svc->cluster, j->room.id, j->room.name);
      break;
    case FX_ROOM_DELETED:
      chat_cluster_room_deleted(svc->cluster, j->ids[0]);
      break;
    case FX_ROOMS_LIST: {
      cJSON *root = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(root, "rooms");
      for (size_t i = 0; i < j->nrooms; i++) {
        cJSON *o = room_json(&j->rooms[i]);
        cJSON_AddNumberToObject(
            o, "online", (double)svc->presence->ops->room_count(svc->presence, j->rooms[i].id));
        cJSON_AddItemToArray(arr, o);
      }
      set_json(j, 200, root);
      break;
    }
    case FX_USERS_ONLINE: {
      cJSON *root = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(root, "users");
      svc->presence->ops->online_users(svc->presence, add_online_user, arr);
      set_json(j, 200, root);
      break;
    }
    case FX_HEALTH: {
      cJSON *root = cJSON_CreateObject();
      cJSON_AddStringToObject(root, "status", j->store_ok ? "ok" : "degraded");
      cJSON_AddStringToObject(root, "store", j->store_ok ? "ok" : "down");
      cJSON_AddStringToObject(root, "redis", svc->presence->ops->backend_state(svc->presence));
      set_json(j, j->store_ok ? 200 : 503, root);
      break;
    }
    case FX_ROOM_RENAMED: {
      chat_room_t *r = chat_roomdir_get(svc->rooms, j->room.id);
      if (r) chat_room_post_rename(r, j->room.name);
      break;
    }
    case FX_FRIEND: {
      const char *mine = j->fstate == CHAT_FRIEND_ACCEPTED   ? "friends"
                         : j->fstate == CHAT_FRIEND_OUTGOING ? "outgoing"
                                                             : "none";
      const char *theirs = j->fstate == CHAT_FRIEND_ACCEPTED   ? "friends"
                           : j->fstate == CHAT_FRIEND_OUTGOING ? "incoming"
                                                               : "none";
      char frame[512];
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "type", "friend");
      cJSON_AddStringToObject(o, "user", j->user.username);
      cJSON_AddStringToObject(o, "state", theirs);
      if (cJSON_PrintPreallocated(o, frame, sizeof(frame), 0))
        chat_cluster_deliver_to_user(svc->cluster, j->target.id, frame, strlen(frame));
      cJSON_Delete(o);
      o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "type", "friend");
      cJSON_AddStringToObject(o, "user", j->target.username);
      cJSON_AddStringToObject(o, "state", mine);
      if (cJSON_PrintPreallocated(o, frame, sizeof(frame), 0))
        chat_cluster_deliver_to_user(svc->cluster, j->user.id, frame, strlen(frame));
      cJSON_Delete(o);
      break;
    }
    case FX_FRIENDS_LIST: {
      cJSON *root = cJSON_CreateObject();
      cJSON *friends = cJSON_AddArrayToObject(root, "friends");
      cJSON *incoming = cJSON_AddArrayToObject(root, "incoming");
      cJSON *outgoing = cJSON_AddArrayToObject(root, "outgoing");
      for (size_t i = 0; i < j->nfriends; i++) {
        const chat_friend_rec_t *f = &j->friends[i];
        if (f->state == CHAT_FRIEND_ACCEPTED) {
          cJSON *o = cJSON_CreateObject();
          cJSON_AddStringToObject(o, "username", f->username);
          cJSON_AddBoolToObject(o, "online",
                                svc->presence->ops->is_online(svc->presence, f->user_id));
          cJSON_AddItemToArray(friends, o);
        } else if (f->state == CHAT_FRIEND_INCOMING) {
          cJSON_AddItemToArray(incoming, cJSON_CreateString(f->username));
        } else if (f->state == CHAT_FRIEND_OUTGOING) {
          cJSON_AddItemToArray(outgoing, cJSON_CreateString(f->username));
        }
      }
      set_json(j, 200, root);
      break;
    }
    case FX_ADMIN_USERS: {
      cJSON *root = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(root, "users");
      for (size_t i = 0; i < j->nusers; i++) {
        cJSON *o = user_json(&j->users[i], 1);
        cJSON_DeleteItemFromObject(o, "email_notify");
        cJSON_AddBoolToObject(o, "banned", j->users[i].banned != 0);
        cJSON_AddBoolToObject(o, "online",
                              svc->presence->ops->is_online(svc->presence, j->users[i].id));
        cJSON_AddItemToArray(arr, o);
      }
      set_json(j, 200, root);
      break;
    }
    case FX_BAN:
      chat_cluster_ban(svc->cluster, j->target.id);
      break;
    case FX_MSG_DELETED: {
      chat_room_t *r = chat_roomdir_get(svc->rooms, j->ids[0]);
      if (r) chat_room_post_msg_deleted(r, j->ids[1], 1);
      break;
    }
    case FX_NONE:
      break;
  }
  if (chat_conn_is_open(c))
    chat_conn_respond_json(c, j->status, j->json, j->headers[0] ? j->headers : NULL);
  cJSON_free(j->json);
  free(j->rooms);
  free(j->friends);
  free(j->users);
  free(j->query);
  if (j->body) free(j->body);
  free(j);
}

/* Percent-decodes a query value ('+' is a space); NULL if malformed or not
 * UTF-8.  The result is malloc'ed. */
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static char *url_decode(const char *s, size_t len) {
  char *out = chat_xmalloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int ch = (unsigned char)s[i];
    if (ch == '+') {
      ch = ' ';
    } else if (ch == '%') {
      int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
      int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        free(out);
        return NULL;
      }
      ch = hi * 16 + lo;
      i += 2;
    }
    if (ch == 0) {
      free(out);
      return NULL;
    }
    out[o++] = (char)ch;
  }
  out[o] = '\0';
  if (!chat_utf8_valid(out, o)) {
    free(out);
    return NULL;
  }
  return out;
}

/* Reads before and limit from the query; -1 if either is bad. */
static int paging(const char *query, size_t qlen, int64_t *before, int *limit) {
  size_t n;
  const char *v = chat_http_query_param(query, qlen, "before", &n);
  *before = 0;
  *limit = 50;
  if (v) {
    if (n == 0 || n > 18) return -1;
    int64_t b = 0;
    for (size_t i = 0; i < n; i++) {
      if (v[i] < '0' || v[i] > '9') return -1;
      b = b * 10 + (v[i] - '0');
    }
    if (b <= 0) return -1;
    *before = b;
  }
  v = chat_http_query_param(query, qlen, "limit", &n);
  if (v) {
    if (n == 0 || n > 3) return -1;
    int l = 0;
    for (size_t i = 0; i < n; i++) {
      if (v[i] < '0' || v[i] > '9') return -1;
      l = l * 10 + (v[i] - '0');
    }
    if (l < 1 || l > 200) return -1;
    *limit = l;
  }
  return 0;
}

void chat_api_handle(const chat_services_t *svc, chat_conn_t *c, const chat_route_match_t *m) {
  const chat_http_req_t *req = chat_conn_req(c);
  int method = req->method;
  if (m->id == CHAT_ROUTE_METRICS) {
    respond_metrics(svc, c);
    return;
  }
  if ((method == HTTP_POST || method == HTTP_PATCH || method == HTTP_DELETE ||
       method == HTTP_PUT) &&
      !chat_conn_origin_ok(c)) {
    chat_conn_respond_error(c, 403, "bad_origin", "cross-origin request refused", NULL);
    return;
  }
  api_job_t *j = chat_xcalloc(1, sizeof(*j));
  j->route = m->id;
  j->ids[0] = m->ids[0];
  j->ids[1] = m->ids[1];
  j->session_ms = svc->limits->session_ms;
  size_t slen;
  const char *sid = chat_http_cookie(req, "sid", &slen);
  if (sid && slen == CHAT_TOKEN_CHARS) {
    j->has_token = 1;
    chat_auth_token_hash(sid, slen, j->token_hash);
  }
  if (req->body_len) {
    j->body = chat_xmalloc(req->body_len + 1);
    memcpy(j->body, req->body, req->body_len);
    j->body[req->body_len] = '\0';
    j->body_len = req->body_len;
  }
  snprintf(j->name, sizeof(j->name), "%s", m->name);
  if (m->id == CHAT_ROUTE_SEARCH) {
    const char *path, *query;
    size_t plen, qlen, vlen;
    chat_http_url(req, &path, &plen, &query, &qlen);
    const char *q = chat_http_query_param(query, qlen, "q", &vlen);
    j->query = q ? url_decode(q, vlen) : NULL;
    const char *room = chat_http_query_param(query, qlen, "room", &vlen);
    int64_t room_id = 0;
    int bad = j->query == NULL || j->query[0] == '\0';
    if (room && !bad) {
      bad = vlen == 0 || vlen > 18;
      for (size_t i = 0; i < vlen && !bad; i++) {
        if (room[i] < '0' || room[i] > '9') bad = 1;
        room_id = room_id * 10 + (room[i] - '0');
      }
      if (room_id <= 0) bad = 1;
    }
    if (bad) {
      free(j->query);
      free(j->body);
      free(j);
      chat_conn_respond_error(c, 400, "bad_request", "q is the text to find; room a room id",
                              NULL);
      return;
    }
    j->search_room = room_id;
  }
  if (m->id == CHAT_ROUTE_ROOM_MESSAGES || m->id == CHAT_ROUTE_DM_MESSAGES) {
    const char *path, *query;
    size_t plen, qlen;
    chat_http_url(req, &path, &plen, &query, &qlen);
    if (paging(query, qlen, &j->before, &j->limit) != 0) {
      free(j->body);
      free(j);
      chat_conn_respond_error(c, 400, "bad_request",
                              "before is a message id, limit is 1 to 200", NULL);
      return;
    }
  }
  if (m->id == CHAT_ROUTE_LOGIN) {
    /* Rate limiting is keyed by client address and the username asked for. */
    cJSON *o = chat_json_parse(j->body, j->body_len);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "username");
    char lower[CHAT_NAME_MAX + 1] = "";
    if (cJSON_IsString(u)) {
      size_t i = 0;
      for (; u->valuestring[i] && i < CHAT_NAME_MAX; i++) {
        char ch = u->valuestring[i];
        lower[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
      }
      lower[i] = '\0';
    }
    cJSON_Delete(o);
    snprintf(j->rate_key, sizeof(j->rate_key), "%s\n%s", chat_conn_peer(c), lower);
    int retry_after;
    if (chat_limiter_blocked(svc->limiter, j->rate_key, &retry_after)) {
      char hdr[64];
      snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
      memset(j->body, 0, j->body_len);
      free(j->body);
      free(j);
      chat_conn_respond_error(c, 429, "rate_limited", "too many failed logins; wait a little",
                              hdr);
      return;
    }
    chat_limiter_failed(svc->limiter, j->rate_key);
  }
  j->job.mail.handle = api_done;
  j->job.run = api_run;
  chat_storage_submit(svc->storage, &j->job, chat_conn_actor(c));
}
