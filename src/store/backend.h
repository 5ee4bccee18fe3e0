/* Private to src/store: what a store backend provides.
 *
 * store.c implements the public chat_store_* functions of store.h: it checks
 * the arguments every backend would check (NULLs, lengths against the record
 * sizes), picks the backend from the url and forwards each call through the
 * backend's ops table.  A backend's handle starts with a chat_store_t
 * `super` member, so the backend gets its own struct back with
 * container_of(s, backend_t, super).
 *
 * An op is called with arguments already checked: non-NULL pointers where
 * store.h requires them, strings that fit their record fields, n >= 1 for a
 * batch and limit >= 1 for history; list outputs start as NULL and 0.  Ops
 * follow the contracts of store.h, except the search ops: store.c runs the
 * search (tokens, candidates, the text check) and the backends only answer
 * its queries.
 *
 * The search index lags behind the messages: per kind, a cursor (table
 * search_cursor, schema/<backend>/003_index_cursor.sql) is the highest id
 * indexed.  Messages with higher ids have no search rows yet; index_pending
 * writes them and moves the cursor in one transaction, and a search checks
 * them directly (search_tail).  A backend must make sure that no message
 * with an id at or below a cursor can appear after the cursor has moved
 * (SQLite: one writer at a time; MySQL: see mysql.c, index_tx). */
#ifndef CHAT_STORE_BACKEND_H
#define CHAT_STORE_BACKEND_H

#include "store.h"
#include "tokens.h"

/* Byte limits of the audit log's strings, including the NUL (store.c
 * refuses longer ones with CHAT_EINVAL). */
#define CHAT_AUDIT_ACTION_MAX 64
#define CHAT_AUDIT_TARGET_MAX 256
#define CHAT_AUDIT_DETAIL_MAX 4096

/* Search kinds: the kind column of search_tokens. */
enum { CHAT_SEARCH_ROOM = 0, CHAT_SEARCH_DM = 1 };

typedef struct {
  const char *kind; /* "sqlite", "mysql" */
  /* Closes every connection and frees the handle (never NULL here). */
  void (*close)(chat_store_t *s);
  int (*ping)(chat_store_t *s);

  int (*user_create)(chat_store_t *s, const char *username, const char *email,
                     const char *pwhash, chat_role_t role, int64_t now_ms,
                     chat_user_rec_t *out);
  int (*user_by_name)(chat_store_t *s, const char *username,
                      chat_user_rec_t *out);
  int (*user_by_id)(chat_store_t *s, int64_t id, chat_user_rec_t *out);
  int (*user_set_password)(chat_store_t *s, int64_t user_id,
                           const char *pwhash,
                           const uint8_t *keep_token_hash);

  int (*session_create)(chat_store_t *s, const uint8_t *token_hash,
                        int64_t user_id, int64_t now_ms, int64_t expires_ms);
  int (*session_lookup)(chat_store_t *s, const uint8_t *token_hash,
                        int64_t now_ms, chat_user_rec_t *user_out);
  int (*session_delete)(chat_store_t *s, const uint8_t *token_hash);

  int (*room_create)(chat_store_t *s, const char *name, const char *topic,
                     chat_room_rec_t *out);
  int (*room_update)(chat_store_t *s, int64_t id, const char *name,
                     const char *topic, chat_room_rec_t *out);
  int (*room_delete)(chat_store_t *s, int64_t id);
  int (*room_get)(chat_store_t *s, int64_t id, chat_room_rec_t *out);
  int (*room_list)(chat_store_t *s, chat_room_rec_t **out, size_t *n);

  int (*msg_insert_batch)(chat_store_t *s, chat_msg_insert_t *items,
                          size_t n);
  int (*msg_history)(chat_store_t *s, int64_t room, int64_t before_id,
                     int limit, chat_msg_rec_t **out, size_t *n);
  int (*msg_since)(chat_store_t *s, int64_t room, int64_t since_id, int limit,
                   chat_msg_rec_t **out, size_t *n);

  int (*dm_history)(chat_store_t *s, int64_t a, int64_t b, int64_t before_id,
                    int limit, chat_msg_rec_t **out, size_t *n);

  /* from_id != to_id; state_out is never NULL. */
  int (*friend_request)(chat_store_t *s, int64_t from_id, int64_t to_id,
                        int64_t now_ms, chat_friend_state_t *state_out);
  int (*friend_remove)(chat_store_t *s, int64_t a, int64_t b);
  /* a != b. */
  int (*friend_state)(chat_store_t *s, int64_t a, int64_t b,
                      chat_friend_state_t *out);
  int (*friend_list)(chat_store_t *s, int64_t user_id,
                     chat_friend_rec_t **out, size_t *n);

  /* Search, part 1: for each of the ntoks tokens, how many messages of kind
   * (CHAT_SEARCH_*) have it, counting at most cap (a bound on the work: it
   * only has to tell rare tokens from common ones). */
  int (*search_count)(chat_store_t *s, int kind, const chat_token_t *toks,
                      int ntoks, int cap, int *counts);
  /* Search, part 2: up to limit messages of kind that have all ntoks
   * (1..CHAT_QUERY_TOKENS_MAX) tokens, with id < before_id, newest (highest
   * id) first; for CHAT_SEARCH_ROOM of room_id (0: every room), for
   * CHAT_SEARCH_DM sent or received by user_id.  Full records, as history
   * returns them.  The scan runs through the index of toks[0] and looks the
   * others up per message: the rarest token goes first. */
  int (*search_page)(chat_store_t *s, int kind, const chat_token_t *toks,
                     int ntoks, int64_t before_id, int64_t room_id,
                     int64_t user_id, int limit, chat_msg_rec_t **out,
                     size_t *n);
  /* Search, the bounds of kind: *cursor, the highest id indexed, and
   * *floor, the id above which the messages not indexed yet are checked
   * directly: the cursor, or, when more than tail_max messages of kind have
   * higher ids, the id just below the newest tail_max of them. */
  int (*search_bounds)(chat_store_t *s, int kind, int tail_max,
                       int64_t *cursor, int64_t *floor);
  /* Search, the messages not indexed yet: up to limit messages of kind with
   * floor < id < before_id, newest first, with the filters of search_page
   * (room_id for rooms, user_id for direct messages).  Full records. */
  int (*search_tail)(chat_store_t *s, int kind, int64_t floor,
                     int64_t before_id, int64_t room_id, int64_t user_id,
                     int limit, chat_msg_rec_t **out, size_t *n);
  /* store.h, chat_store_index_pending; max >= 1, done never NULL. */
  int (*index_pending)(chat_store_t *s, int max, int *done);

  int (*user_list)(chat_store_t *s, chat_user_rec_t **out, size_t *n);
  /* banned and on are 0 or 1. */
  int (*user_set_banned)(chat_store_t *s, int64_t user_id, int banned);
  int (*user_set_notify)(chat_store_t *s, int64_t user_id, int on);
  /* sender_id is never NULL. */
  int (*msg_get)(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                 int64_t *sender_id);
  int (*msg_delete)(chat_store_t *s, int64_t room_id, int64_t id);
  /* Strings never NULL, within the CHAT_AUDIT_* limits. */
  int (*audit)(chat_store_t *s, int64_t actor_id, const char *action,
               const char *target, const char *detail, int64_t now_ms);

  /* Exactly one of room_id and peer_id is 0; last_id >= 0. */
  int (*read_mark)(chat_store_t *s, int64_t user_id, int64_t room_id,
                   int64_t peer_id, int64_t last_id);
  int (*unread)(chat_store_t *s, int64_t user_id, chat_unread_rec_t **out,
                size_t *n);
} chat_store_ops_t;

struct chat_store {
  const chat_store_ops_t *ops;
};

/* Backend constructors.  target is the url without its scheme (for SQLite:
 * the file path).  Same contract as chat_store_open; on success the backend
 * has set (*out)->ops. */
int chat_store_sqlite_open(const char *target, int pool_size,
                           chat_store_t **out, char *err, size_t errlen);
/* target: "[user[:password]@]host[:port]/db[?socket=PATH]" (the url after
 * "mysql://"). */
int chat_store_mysql_open(const char *target, int pool_size,
                          chat_store_t **out, char *err, size_t errlen);

/* The parts of a MySQL url, percent-decoded (each a NUL-terminated string;
 * "" when absent).  Holds the password: wipe it when done. */
#define CHAT_MYSQL_URL_FIELD 256
typedef struct {
  char user[CHAT_MYSQL_URL_FIELD];
  char password[CHAT_MYSQL_URL_FIELD];
  char host[CHAT_MYSQL_URL_FIELD];  /* without the brackets of [v6] */
  char db[CHAT_MYSQL_URL_FIELD];
  char socket[CHAT_MYSQL_URL_FIELD];
  unsigned port;                     /* 3306 if absent */
} chat_mysql_url_t;

/* Parses target as chat_store_mysql_open describes.  0, or CHAT_EINVAL with
 * a message in err that never contains the password. */
int chat_store_mysql_parse_url(const char *target, chat_mysql_url_t *out,
                               char *err, size_t errlen);

#endif
