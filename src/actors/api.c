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
#include "server.h"

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
    set_json(j, 204, NULL);
  }
}

static cJSON *messages_json(const chat_msg_rec_t *m, size_t n) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)m[i].id);
    cJSON_AddNumberToObject(o, "room", (double)m[i].room);
    cJSON_AddStringToObject(o, "sender", m[i].sender);
    cJSON_AddStringToObject(o, "text", m[i].text);
    cJSON_AddNumberToObject(o, "ts", (double)m[i].ts);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
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
  if (rc == CHAT_ENOTFOUND) {
    rc = 0;
    n = 0;
  }
  if (rc != 0) {
    set_store_error(j);
    return;
  }
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "messages", messages_json(msgs, n));
  chat_store_msgs_free(msgs, n);
  set_json(j, 200, root);
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

static void respond_metrics(chat_server_t *srv, chat_conn_t *c) {
  uint64_t batches, messages, write_ns;
  chat_storage_stats(srv->storage, &batches, &messages, &write_ns);
  size_t ws = 0;
  for (chat_conn_t *it = srv->conns; it; it = chat_conn_next(it))
    if (chat_conn_is_ws(it)) ws++;
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
           srv->nconns, ws, srv->rooms.len, srv->conns_total, srv->http_requests,
           srv->ws_frames_in, srv->messages_sent, batches, (double)write_ns / 1e9);
  chat_conn_respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

static void api_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  api_job_t *j = container_of(m, api_job_t, job.mail);
  chat_server_t *srv = chat_conn_server(c);
  /* Effects happen even if the client has gone: the store changed. */
  switch (j->effect) {
    case FX_LOGIN:
      if (j->login_ok)
        chat_server_login_ok(srv, j->rate_key);
      else if (j->status == 401)
        chat_server_login_failed(srv, j->rate_key);
      break;
    case FX_LOGOUT:
      chat_server_revoke(srv, j->user.id, NULL, j->token_hash);
      break;
    case FX_PASSWORD:
      chat_server_revoke(srv, j->user.id, j->token_hash, NULL);
      break;
    case FX_ROOM_CREATED: {
      if (chat_server_room(srv, j->room.id) == NULL)
        chat_server_room_add(srv, chat_room_new(srv, j->room.id, j->room.name), j->room.id);
      char ev[96];
      int n = snprintf(ev, sizeof(ev), "{\"type\":\"room_created\",\"room\":%" PRId64 "}",
                       j->room.id);
      srv->presence->ops->publish(srv->presence, 0, ev, (size_t)n);
      break;
    }
    case FX_ROOM_DELETED: {
      chat_room_t *r = chat_server_room(srv, j->ids[0]);
      if (r) {
        chat_room_post_delete(r);
        chat_server_room_remove(srv, j->ids[0]);
      }
      char ev[96];
      int n = snprintf(ev, sizeof(ev), "{\"type\":\"room_deleted\",\"room\":%" PRId64 "}",
                       j->ids[0]);
      srv->presence->ops->publish(srv->presence, 0, ev, (size_t)n);
      srv->presence->ops->room_forget(srv->presence, j->ids[0]);
      break;
    }
    case FX_ROOMS_LIST: {
      cJSON *root = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(root, "rooms");
      for (size_t i = 0; i < j->nrooms; i++) {
        cJSON *o = room_json(&j->rooms[i]);
        cJSON_AddNumberToObject(
            o, "online", (double)srv->presence->ops->room_count(srv->presence, j->rooms[i].id));
        cJSON_AddItemToArray(arr, o);
      }
      set_json(j, 200, root);
      break;
    }
    case FX_USERS_ONLINE: {
      cJSON *root = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(root, "users");
      srv->presence->ops->online_users(srv->presence, add_online_user, arr);
      set_json(j, 200, root);
      break;
    }
    case FX_HEALTH: {
      cJSON *root = cJSON_CreateObject();
      cJSON_AddStringToObject(root, "status", j->store_ok ? "ok" : "degraded");
      cJSON_AddStringToObject(root, "store", j->store_ok ? "ok" : "down");
      cJSON_AddStringToObject(root, "redis", srv->presence->ops->backend_state(srv->presence));
      set_json(j, j->store_ok ? 200 : 503, root);
      break;
    }
    case FX_NONE:
      break;
  }
  if (chat_conn_is_open(c))
    chat_conn_respond_json(c, j->status, j->json, j->headers[0] ? j->headers : NULL);
  cJSON_free(j->json);
  free(j->rooms);
  if (j->body) free(j->body);
  free(j);
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

void chat_api_handle(chat_server_t *srv, chat_conn_t *c, const chat_route_match_t *m) {
  const chat_http_req_t *req = chat_conn_req(c);
  int method = req->method;
  if (m->id == CHAT_ROUTE_METRICS) {
    respond_metrics(srv, c);
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
  j->session_ms = srv->session_ms;
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
  if (m->id == CHAT_ROUTE_ROOM_MESSAGES) {
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
    if (chat_server_login_blocked(srv, j->rate_key, &retry_after)) {
      char hdr[64];
      snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
      memset(j->body, 0, j->body_len);
      free(j->body);
      free(j);
      chat_conn_respond_error(c, 429, "rate_limited", "too many failed logins; wait a little",
                              hdr);
      return;
    }
  }
  j->job.mail.handle = api_done;
  j->job.run = api_run;
  chat_storage_submit(srv->storage, &j->job, chat_conn_actor(c));
}
