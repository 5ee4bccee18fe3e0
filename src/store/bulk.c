/* Bulk provisioning for load tests (store_admin.h, chat_store_users_bulk
 * and chat_store_rooms_bulk): many users, sessions or rooms written in one
 * transaction, as portable SQL over the backend's xq primitives (backend.h,
 * "extras"), so SQLite and MySQL share it.  Every statement has its
 * parameters bound; nothing is formatted into SQL. */
#include <string.h>

#include "../core/ident.h"
#include "backend.h"
#include "store_admin.h"

typedef struct {
  chat_store_t *s;
  chat_bulk_user_t *v;
  size_t n;
  const char *pwhash;
  int64_t now_ms, expires_ms;
  int sessions;
  size_t created; /* out */
} users_t;

static const char *last_id_sql(chat_store_t *s) {
  return strcmp(chat_store_kind(s), "mysql") == 0 ? "SELECT LAST_INSERT_ID()"
                                                  : "SELECT last_insert_rowid()";
}

static int users_step(void *conn, void *arg) {
  users_t *a = arg;
  const chat_store_ops_t *ops = a->s->ops;
  const char *last_id = last_id_sql(a->s);
  a->created = 0;
  for (size_t i = 0; i < a->n; i++) {
    chat_bulk_user_t *u = &a->v[i];
    char key[CHAT_IDENT_KEY_MAX];
    int r;
    u->id = 0;
    u->created = 0;
    if (chat_ident_key(u->username, strlen(u->username), key, sizeof(key)) < 0)
      return CHAT_EINVAL;
    chat_xq_arg_t k[1] = {chat_xq_text(key)};
    r = ops->xq(conn, "SELECT id FROM users WHERE ident_key = ?", k, 1, chat_xq_first_int, &u->id, NULL);
    if (r) return r;
    if (u->id == 0) {
      chat_xq_arg_t ins[6] = {chat_xq_text(u->username), chat_xq_text(key), chat_xq_text(u->email),
                              chat_xq_text(a->pwhash), chat_xq_int(CHAT_ROLE_USER), chat_xq_int(a->now_ms)};
      r = ops->xq(conn,
                  "INSERT INTO users (username, ident_key, email, pwhash, role, banned,"
                  " created_ms) VALUES (?, ?, ?, ?, ?, 0, ?)",
                  ins, 6, NULL, NULL, NULL);
      if (r == CHAT_EEXIST) {
        /* A user from before identity keys holds the name (case aside). */
        chat_xq_arg_t nm[1] = {chat_xq_text(u->username)};
        r = ops->xq(conn, "SELECT id FROM users WHERE username = ?", nm, 1, chat_xq_first_int, &u->id,
                    NULL);
        if (r) return r;
        if (u->id == 0) return CHAT_EEXIST;
      } else if (r) {
        return r;
      } else {
        r = ops->xq(conn, last_id, NULL, 0, chat_xq_first_int, &u->id, NULL);
        if (r) return r;
        if (u->id == 0) return CHAT_EUNAVAIL;
        u->created = 1;
        a->created++;
      }
    }
    if (a->sessions) {
      chat_xq_arg_t ses[4] = {chat_xq_blob(u->token_hash, CHAT_TOKEN_HASH_LEN), chat_xq_int(u->id),
                              chat_xq_int(a->now_ms), chat_xq_int(a->expires_ms)};
      r = ops->xq(conn,
                  "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms)"
                  " VALUES (?, ?, ?, ?)",
                  ses, 4, NULL, NULL, NULL);
      if (r) return r;
    }
  }
  return 0;
}

int chat_store_users_bulk(chat_store_t *s, chat_bulk_user_t *v, size_t n, const char *pwhash,
                          int64_t now_ms, int sessions, int64_t expires_ms, size_t *created) {
  if (s == NULL || (v == NULL && n > 0) || pwhash == NULL || strlen(pwhash) >= CHAT_HASH_MAX)
    return CHAT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (strlen(v[i].username) > CHAT_NAME_MAX || strlen(v[i].email) >= CHAT_EMAIL_MAX)
      return CHAT_EINVAL;
  users_t a = {s, v, n, pwhash, now_ms, expires_ms, sessions, 0};
  if (created) *created = 0;
  if (n == 0) return 0;
  int r = s->ops->xq_tx(s, "users bulk", users_step, &a);
  if (r == 0 && created) *created = a.created;
  return r;
}

typedef struct {
  chat_store_t *s;
  chat_bulk_room_t *v;
  size_t n;
  const char *topic;
  int64_t now_ms;
  size_t created; /* out */
} rooms_t;

static int rooms_step(void *conn, void *arg) {
  rooms_t *a = arg;
  const chat_store_ops_t *ops = a->s->ops;
  const char *last_id = last_id_sql(a->s);
  a->created = 0;
  for (size_t i = 0; i < a->n; i++) {
    chat_bulk_room_t *rm = &a->v[i];
    int r;
    rm->id = 0;
    rm->created = 0;
    chat_xq_arg_t nm[1] = {chat_xq_text(rm->name)};
    r = ops->xq(conn, "SELECT id FROM rooms WHERE name = ?", nm, 1, chat_xq_first_int, &rm->id, NULL);
    if (r) return r;
    if (rm->id != 0) continue;
    chat_xq_arg_t ins[3] = {chat_xq_text(rm->name), chat_xq_text(a->topic), chat_xq_int(a->now_ms)};
    r = ops->xq(conn, "INSERT INTO rooms (name, topic, created_ms) VALUES (?, ?, ?)", ins, 3,
                NULL, NULL, NULL);
    if (r) return r;
    r = ops->xq(conn, last_id, NULL, 0, chat_xq_first_int, &rm->id, NULL);
    if (r) return r;
    if (rm->id == 0) return CHAT_EUNAVAIL;
    rm->created = 1;
    a->created++;
  }
  return 0;
}

int chat_store_rooms_bulk(chat_store_t *s, chat_bulk_room_t *v, size_t n, const char *topic,
                          int64_t now_ms, size_t *created) {
  if (s == NULL || (v == NULL && n > 0)) return CHAT_EINVAL;
  if (topic == NULL) topic = "";
  if (strlen(topic) >= CHAT_TOPIC_MAX) return CHAT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (strlen(v[i].name) > CHAT_NAME_MAX) return CHAT_EINVAL;
  rooms_t a = {s, v, n, topic, now_ms, 0};
  if (created) *created = 0;
  if (n == 0) return 0;
  int r = s->ops->xq_tx(s, "rooms bulk", rooms_step, &a);
  if (r == 0 && created) *created = a.created;
  return r;
}
