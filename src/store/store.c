/* The public store interface: argument checks shared by every backend, the
 * choice of backend by url, and forwarding through the backend's ops table
 * (see backend.h). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* 1 if s is a string of fewer than cap bytes. */
static int fits(const char *s, size_t cap) {
  return s != NULL && strnlen(s, cap) < cap;
}

static int open_err(char *err, size_t errlen, int rc, const char *msg,
                    const char *arg) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s%s", msg, arg);
  return rc;
}

int chat_store_open(const char *url, int pool_size, chat_store_t **out,
                    char *err, size_t errlen) {
  const char *target;

  if (err != NULL && errlen > 0) err[0] = '\0';
  if (url == NULL || out == NULL || pool_size < 1)
    return open_err(err, errlen, CHAT_EINVAL, "bad store arguments", "");
  *out = NULL;
  /* The url holds a password: never copied into err. */
  if (strncmp(url, "mysql://", 8) == 0)
    return chat_store_mysql_open(url + 8, pool_size, out, err, errlen);
  if (strncmp(url, "mysql:", 6) == 0)
    return open_err(err, errlen, CHAT_EINVAL,
                    "a MySQL url starts with mysql://", "");
  /* "sqlite:PATH" or a bare PATH. */
  target = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
  if (target[0] == '\0')
    return open_err(err, errlen, CHAT_EINVAL, "empty database path in ", url);
  return chat_store_sqlite_open(target, pool_size, out, err, errlen);
}

void chat_store_close(chat_store_t *s) {
  if (s != NULL) s->ops->close(s);
}

const char *chat_store_kind(const chat_store_t *s) { return s->ops->kind; }

int chat_store_ping(chat_store_t *s) { return s->ops->ping(s); }

int chat_store_user_create(chat_store_t *s, const char *username,
                           const char *email, const char *pwhash,
                           chat_role_t role, int64_t now_ms,
                           chat_user_rec_t *out) {
  if (email == NULL) email = "";
  if (!fits(username, CHAT_NAME_MAX + 1) || !fits(email, CHAT_EMAIL_MAX) ||
      !fits(pwhash, CHAT_HASH_MAX) ||
      (role != CHAT_ROLE_USER && role != CHAT_ROLE_ADMIN))
    return CHAT_EINVAL;
  return s->ops->user_create(s, username, email, pwhash, role, now_ms, out);
}

int chat_store_user_by_name(chat_store_t *s, const char *username,
                            chat_user_rec_t *out) {
  /* A name too long to store cannot name a user. */
  if (!fits(username, CHAT_NAME_MAX + 1)) return CHAT_ENOTFOUND;
  return s->ops->user_by_name(s, username, out);
}

int chat_store_user_by_id(chat_store_t *s, int64_t id, chat_user_rec_t *out) {
  return s->ops->user_by_id(s, id, out);
}

int chat_store_user_set_password(chat_store_t *s, int64_t user_id,
                                 const char *pwhash,
                                 const uint8_t *keep_token_hash) {
  if (!fits(pwhash, CHAT_HASH_MAX)) return CHAT_EINVAL;
  return s->ops->user_set_password(s, user_id, pwhash, keep_token_hash);
}

int chat_store_session_create(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t user_id, int64_t now_ms,
                              int64_t expires_ms) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return s->ops->session_create(s, token_hash, user_id, now_ms, expires_ms);
}

int chat_store_session_lookup(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t now_ms, chat_user_rec_t *user_out) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return s->ops->session_lookup(s, token_hash, now_ms, user_out);
}

int chat_store_session_delete(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN]) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return s->ops->session_delete(s, token_hash);
}

int chat_store_room_create(chat_store_t *s, const char *name,
                           const char *topic, chat_room_rec_t *out) {
  if (topic == NULL) topic = "";
  if (!fits(name, CHAT_NAME_MAX + 1) || !fits(topic, CHAT_TOPIC_MAX))
    return CHAT_EINVAL;
  return s->ops->room_create(s, name, topic, out);
}

int chat_store_room_update(chat_store_t *s, int64_t id, const char *name,
                           const char *topic, chat_room_rec_t *out) {
  if ((name != NULL && !fits(name, CHAT_NAME_MAX + 1)) ||
      (topic != NULL && !fits(topic, CHAT_TOPIC_MAX)))
    return CHAT_EINVAL;
  return s->ops->room_update(s, id, name, topic, out);
}

int chat_store_room_delete(chat_store_t *s, int64_t id) {
  return s->ops->room_delete(s, id);
}

int chat_store_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out) {
  return s->ops->room_get(s, id, out);
}

int chat_store_room_list(chat_store_t *s, chat_room_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  return s->ops->room_list(s, out, n);
}

int chat_store_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                                size_t n) {
  size_t i;

  if (n == 0) return CHAT_OK;
  if (items == NULL) return CHAT_EINVAL;
  for (i = 0; i < n; i++) {
    if (items[i].text == NULL ||
        (items[i].cid != NULL && !fits(items[i].cid, CHAT_CID_MAX)))
      return CHAT_EINVAL;
  }
  return s->ops->msg_insert_batch(s, items, n);
}

int chat_store_msg_history(chat_store_t *s, int64_t room, int64_t before_id,
                           int limit, chat_msg_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  return s->ops->msg_history(s, room, before_id, limit, out, n);
}

int chat_store_msg_since(chat_store_t *s, int64_t room, int64_t since_id,
                         int limit, chat_msg_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  return s->ops->msg_since(s, room, since_id, limit, out, n);
}

void chat_store_msgs_free(chat_msg_rec_t *msgs, size_t n) {
  size_t i;

  if (msgs == NULL) return;
  for (i = 0; i < n; i++) free(msgs[i].text);
  free(msgs);
}
