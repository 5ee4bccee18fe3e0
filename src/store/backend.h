/* Private to src/store: what a store backend provides.
 *
 * store.c implements the public chat_store_* functions of store.h: it checks
 * the arguments every backend would check (NULLs, lengths against the record
 * sizes), picks the backend from the url and forwards each call through the
 * backend's ops table.  The operations that are only a sequence of
 * statements in one transaction (a password change, a new session, a
 * friend request, a ban, a message delete) are written once, in ops.c, as a
 * step that tx_run runs on top of the transaction primitives (tx_*) below.
 * A backend's handle starts with a chat_store_t `super` member, so the
 * backend gets its own struct back with container_of(s, backend_t,
 * super).
 *
 * An op is called with arguments already checked: non-NULL pointers where
 * store.h requires them, strings that fit their record fields, n >= 1 for a
 * batch and limit >= 1 for history; list outputs start as NULL and 0.  Ops
 * follow the contracts of store.h, except the search ops: store.c runs the
 * search (tail, candidates, the text check) and the backends only answer
 * its queries; each builds its full-text engine's query itself (SQLite:
 * FTS5, sqlite_fts.h; MySQL: Mroonga, mysql_search.c).
 *
 * The search index lags behind the messages: per kind, a cursor (table
 * search_cursor, schema/<backend>/003_index_cursor.sql) is the highest id
 * indexed.  Messages with higher ids have no search rows yet; index_pending
 * writes them and moves the cursor in one transaction, and a search checks
 * them directly (search_tail).  A backend must make sure that no message
 * with an id at or below a cursor can appear after the cursor has moved
 * (SQLite: one writer at a time; MySQL: see mysql_search.c, index_step). */
#ifndef CHAT_STORE_BACKEND_H
#define CHAT_STORE_BACKEND_H

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tokens.h"

/* Byte limits of the audit log's strings, including the NUL (store.c
 * refuses longer ones with CHAT_EINVAL). */
#define CHAT_AUDIT_ACTION_MAX 64
#define CHAT_AUDIT_TARGET_MAX 256
#define CHAT_AUDIT_DETAIL_MAX 4096

/* Search kinds: the kind column of search_cursor. */
enum { CHAT_SEARCH_ROOM = 0, CHAT_SEARCH_DM = 1 };

/* ---- transactions -----------------------------------------------------
 *
 * tx_run borrows a connection (for SQLite: and the writer lock), begins a
 * transaction, calls the step with a handle of it and commits if the step
 * returned 0; anything else rolls back.  A step (or its commit) that lost a
 * lock conflict (MySQL: a deadlock or a lock wait timeout; SQLite:
 * SQLITE_BUSY) runs again from the start, up to CHAT_STORE_TX_TRIES times
 * in all; then tx_run logs the last error under its `what` and returns
 * CHAT_EUNAVAIL.  A lost connection is CHAT_EUNAVAIL at once (the next call
 * connects again).  So a step may run more than once: it must set its
 * outputs afresh each time, and only rely on them after tx_run returned 0.
 *
 * A backend's handle of a transaction starts with a chat_store_tx_t `super`
 * member (as its store handle does); the handle is valid only during the
 * step it was passed to, and only the tx_* primitives take it. */
typedef struct chat_store_tx {
  chat_store_t *store;
} chat_store_tx_t;

/* Returned by a primitive or a step, besides 0 and the negative CHAT_E*
 * codes: the transaction lost a lock conflict; roll back and run again. */
#define CHAT_STORE_RETRY 1
/* Runs of one transaction, the first included. */
#define CHAT_STORE_TX_TRIES 3

/* A transaction's body: 0 to commit, CHAT_STORE_RETRY to run again, any
 * other value to roll back and have tx_run return it. */
typedef int (*chat_store_step_cb)(chat_store_tx_t *tx, void *arg);

/* extras (schema 009): a parameter and a result column of xq below. */
typedef enum { CHAT_XQ_INT, CHAT_XQ_TEXT, CHAT_XQ_BLOB, CHAT_XQ_NULL } chat_xq_type_t;
typedef struct {
  chat_xq_type_t type;
  int64_t i;          /* CHAT_XQ_INT */
  const void *p;      /* CHAT_XQ_TEXT, CHAT_XQ_BLOB: len bytes */
  size_t len;
} chat_xq_arg_t;

/* Search (search_match's hide): 1 if room is in the ascending
 * hide[0..n), the private rooms a searcher may not read. */
static inline int chat_store_room_in(const int64_t *hide, size_t n, int64_t room) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (hide[mid] == room) return 1;
    if (hide[mid] < room) lo = mid + 1; else hi = mid;
  }
  return 0;
}

/* Parameters of xq, by type (a NULL string is SQL NULL). */
static inline chat_xq_arg_t chat_xq_int(int64_t v) {
  chat_xq_arg_t a = {CHAT_XQ_INT, v, NULL, 0};
  return a;
}
static inline chat_xq_arg_t chat_xq_text(const char *s) {
  chat_xq_arg_t a = {s ? CHAT_XQ_TEXT : CHAT_XQ_NULL, 0, s, s ? strlen(s) : 0};
  return a;
}
static inline chat_xq_arg_t chat_xq_blob(const void *p, size_t len) {
  chat_xq_arg_t a = {CHAT_XQ_BLOB, 0, p, len};
  return a;
}
typedef struct {
  const char *p;      /* the value as text (integers in decimal); NULL: SQL NULL */
  size_t len;
} chat_xq_col_t;

/* A row callback of xq: the first column as an integer into *(int64_t *)ud. */
static inline int chat_xq_first_int(void *ud, const chat_xq_col_t *cols, int n) {
  *(int64_t *)ud = n > 0 && cols[0].p ? strtoll(cols[0].p, NULL, 10) : 0;
  return 0;
}
typedef int (*chat_xq_row_cb)(void *ud, const chat_xq_col_t *cols, int ncols);

typedef struct {
  const char *kind; /* "sqlite", "mysql" */
  /* Closes every connection and frees the handle (never NULL here). */
  void (*close)(chat_store_t *s);
  int (*ping)(chat_store_t *s);
  /* store.h, chat_store_write_probe. */
  int (*write_probe)(chat_store_t *s);

  /* key: the name's identity key (core/ident.h), computed by store.c.
   * CHAT_EEXIST if the name (ASCII case aside) or the key is taken. */
  int (*user_create)(chat_store_t *s, const char *username, const char *key,
                     const char *email, const char *pwhash, chat_role_t role,
                     int64_t now_ms, chat_user_rec_t *out);
  /* The user whose name is username as names compared before keys existed
   * (ASCII case aside, otherwise byte for byte), else the user whose key is
   * key (NULL: no key to look for).  The first rule only matters for a user
   * left without a key by migration 004 (a name that collided with an
   * older user's): that user keeps logging in by the exact name. */
  int (*user_find)(chat_store_t *s, const char *username, const char *key,
                   chat_user_rec_t *out);
  int (*user_by_id)(chat_store_t *s, int64_t id, chat_user_rec_t *out);

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
  int (*room_last_seq)(chat_store_t *s, int64_t id, int64_t *out);
  int (*room_seqs)(chat_store_t *s, chat_room_seq_t **out, size_t *n);

  int (*msg_insert_batch)(chat_store_t *s, chat_msg_insert_t *items,
                          size_t n);
  /* Optional (store.h, chat_store_msg_insert_batch_nowait and
   * chat_store_durable_wait): both or neither. */
  int (*msg_insert_batch_nowait)(chat_store_t *s, chat_msg_insert_t *items,
                                 size_t n, uint64_t *ticket);
  int (*durable_wait)(chat_store_t *s, uint64_t ticket);
  /* Optional (store.h, chat_store_sync_stats). */
  void (*sync_stats)(chat_store_t *s, chat_store_sync_stats_t *out);
  int (*msg_history)(chat_store_t *s, int64_t room, int64_t before_id,
                     int limit, chat_msg_rec_t **out, size_t *n);
  int (*msg_since)(chat_store_t *s, int64_t room, int64_t since_id, int limit,
                   chat_msg_rec_t **out, size_t *n);
  /* 1 <= from_seq < to_seq. */
  int (*msg_by_seq)(chat_store_t *s, int64_t room, int64_t from_seq,
                    int64_t to_seq, int limit, chat_msg_rec_t **out,
                    size_t *n);

  int (*dm_history)(chat_store_t *s, int64_t a, int64_t b, int64_t before_id,
                    int limit, chat_msg_rec_t **out, size_t *n);
  /* NULL in a backend without them: the wrappers answer CHAT_EUNAVAIL. */
  int (*dm_since)(chat_store_t *s, int64_t after_id, int limit,
                  chat_msg_rec_t **out, size_t *n);
  int (*dm_last_id)(chat_store_t *s, int64_t *out);

  int (*friend_remove)(chat_store_t *s, int64_t a, int64_t b);
  /* a != b. */
  int (*friend_state)(chat_store_t *s, int64_t a, int64_t b,
                      chat_friend_state_t *out);
  int (*friend_list)(chat_store_t *s, int64_t user_id,
                     chat_friend_rec_t **out, size_t *n);

  /* Search through the full-text engine: up to limit candidates of kind with id < before_id,
   * newest first, full records: every indexed message that has all the
   * query's tokens (tokens.h, chat_tokens_query of q[0..qlen), trimmed),
   * for CHAT_SEARCH_ROOM of room_id (0: every room; messages of the rooms
   * of the ascending hide[0..nhide) may be left out, store.c drops them
   * anyway), for CHAT_SEARCH_DM sent or received by user_id.  A query
   * without tokens has no candidates.  A backend may leave out candidates
   * that fail the store's text check (chat_tokens_match) too; fewer than
   * limit means there are no more. */
  int (*search_match)(chat_store_t *s, int kind, const char *q, size_t qlen,
                      int64_t before_id, int64_t room_id, int64_t user_id,
                      const int64_t *hide, size_t nhide, int limit,
                      chat_msg_rec_t **out, size_t *n);
  /* With search_match: on conn (an xq connection inside a write
   * transaction), removes message id's index row (dm 0: room message, 1:
   * direct message) if the indexer has reached it, and when text is not
   * NULL indexes text for it instead.  Called before the message's stored
   * text changes or the message goes (the engine may need the old text to
   * remove a row). */
  int (*search_unindex)(void *conn, int dm, int64_t id, const char *text);
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
  /* store.h, chat_store_user_set_profile; display_key (the display name
   * with A-Z folded, computed by store.c) is given with display_name and
   * NULL with it. */
  int (*user_set_profile)(chat_store_t *s, int64_t user_id,
                          const char *display_name, const char *display_key,
                          const char *email);
  /* Up to limit users, not banned, whose username (by_display 0: compared
   * as names are, ASCII case aside) or display_key (by_display 1: byte for
   * byte) is >= lo and < hi, in that column's order, through its index.
   * lo and hi may hold bytes that are not UTF-8 (hi ends in 0xFF).  *out
   * as user_list's. */
  int (*user_range)(chat_store_t *s, int by_display, const char *lo,
                    const char *hi, int limit, chat_user_rec_t **out,
                    size_t *n);
  /* on is 0 or 1. */
  int (*user_set_notify)(chat_store_t *s, int64_t user_id, int on);
  /* schema 011: phone never NULL (checked, < CHAT_PHONE_MAX bytes); on 0 or 1. */
  int (*user_set_phone)(chat_store_t *s, int64_t user_id, const char *phone);
  int (*user_set_webhook_notify)(chat_store_t *s, int64_t user_id, int on);
  /* sender_id is never NULL. */
  int (*msg_get)(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                 int64_t *sender_id);
  /* Strings never NULL, within the CHAT_AUDIT_* limits. */
  int (*audit)(chat_store_t *s, int64_t actor_id, const char *action,
               const char *target, const char *detail, int64_t now_ms);

  /* Exactly one of room_id and peer_id is 0; last_id >= 0. */
  int (*read_mark)(chat_store_t *s, int64_t user_id, int64_t room_id,
                   int64_t peer_id, int64_t last_id);
  int (*unread)(chat_store_t *s, int64_t user_id, chat_unread_rec_t **out,
                size_t *n);

  /* Runs step(tx, arg) in one write transaction (see "transactions"
   * above).  what names the operation in the log. */
  int (*tx_run)(chat_store_t *s, const char *what, chat_store_step_cb step,
                void *arg);

  /* Transaction primitives: one statement each, only inside a step, with
   * its tx.  Each returns 0, CHAT_STORE_RETRY, CHAT_EUNAVAIL (logged), or
   * the codes it names. */
  /* Sets the password hash; CHAT_ENOTFOUND. */
  int (*tx_user_set_pwhash)(chat_store_tx_t *tx, int64_t user_id,
                            const char *pwhash);
  /* banned is 0 or 1; CHAT_ENOTFOUND. */
  int (*tx_user_set_banned)(chat_store_tx_t *tx, int64_t user_id,
                            int banned);
  /* Deletes every session of the user except the one whose token hash is
   * keep_token_hash (NULL: all of them). */
  int (*tx_sessions_delete)(chat_store_tx_t *tx, int64_t user_id,
                            const uint8_t *keep_token_hash);
  /* Deletes the user's sessions with expires_ms <= now_ms. */
  int (*tx_sessions_purge)(chat_store_tx_t *tx, int64_t user_id,
                           int64_t now_ms);
  /* CHAT_EEXIST (the token hash is taken), CHAT_ENOTFOUND (no such user). */
  int (*tx_session_insert)(chat_store_tx_t *tx, const uint8_t *token_hash,
                           int64_t user_id, int64_t now_ms,
                           int64_t expires_ms);
  /* Deletes room message id of room_id; CHAT_ENOTFOUND. */
  int (*tx_msg_delete)(chat_store_tx_t *tx, int64_t room_id, int64_t id);
  /* Deletes the search rows of message msg_id of kind (CHAT_SEARCH_*).
   * Runs before the message is deleted (its text may be needed). */
  int (*tx_tokens_delete)(chat_store_tx_t *tx, int kind, int64_t msg_id);
  /* The friendship row of the pair lo < hi: *found 1 (and requester,
   * accepted 0 or 1) or 0.  The row stays locked until the transaction
   * ends (where the backend locks rows: MySQL). */
  int (*tx_friend_get)(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                       int *found, int64_t *requester, int *accepted);
  /* A request of requester (lo or hi) not accepted yet; CHAT_ENOTFOUND if
   * a user does not exist, CHAT_EEXIST if the row does. */
  int (*tx_friend_insert)(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                          int64_t requester, int64_t now_ms);
  /* Marks the row of the pair accepted. */
  int (*tx_friend_accept)(chat_store_tx_t *tx, int64_t lo, int64_t hi);

  /* ---- extras (schema 009) --------------------------------------------
   * Replies, mentions, reactions, edits and tombstones are written once,
   * in store/extras.c, as portable SQL over these four: xq runs one
   * statement (prepared for the call, parameters bound) on conn, a
   * connection the backend lent: from xq_get, or the one an xq_tx step or
   * a message batch step runs on.  Returns 0, CHAT_STORE_RETRY (inside a
   * transaction: a lost lock conflict), CHAT_EEXIST (a unique key) or
   * CHAT_EUNAVAIL (logged).  cb (may be NULL) gets each row; a non-zero
   * return stops the rows and becomes the result.  *changes (may be NULL):
   * the rows a write changed. */
  void *(*xq_get)(chat_store_t *s, int write);  /* NULL: unavailable */
  void (*xq_put)(chat_store_t *s, void *conn, int write);
  int (*xq_tx)(chat_store_t *s, const char *what, int (*step)(void *conn, void *arg),
               void *arg);
  int (*xq)(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
            chat_xq_row_cb cb, void *ud, int64_t *changes);
  /* files (schema 008): the backend's file operations (files_int.h). */
  const struct chat_store_files_ops_s *files;
} chat_store_ops_t;

struct chat_store {
  const chat_store_ops_t *ops;
};

/* ops.c: the operations of store.h written once over the transaction
 * primitives, with arguments checked by store.c (pwhash fits, from_id !=
 * to_id, banned 0 or 1, state_out never NULL). */
int chat_store_op_user_set_password(chat_store_t *s, int64_t user_id,
                                    const char *pwhash,
                                    const uint8_t *keep_token_hash);
int chat_store_op_session_create(chat_store_t *s, const uint8_t *token_hash,
                                 int64_t user_id, int64_t now_ms,
                                 int64_t expires_ms);
int chat_store_op_friend_request(chat_store_t *s, int64_t from_id,
                                 int64_t to_id, int64_t now_ms,
                                 chat_friend_state_t *state_out);
int chat_store_op_user_set_banned(chat_store_t *s, int64_t user_id,
                                  int banned);
int chat_store_op_msg_delete(chat_store_t *s, int64_t room_id, int64_t id);

/* extras.c (schema 009).  The batch steps of msg_insert_batch call
 * chat_store_extras_batch on their connection before they commit: the
 * reply and mention rows of the items stored. */
int chat_store_extras_batch(const chat_store_ops_t *ops, void *conn,
                            const chat_msg_insert_t *items, size_t n);
/* Fills the extras of messages just read (deleted, extra), all kinds
 * mixed; 0 or CHAT_EUNAVAIL (then the list is left as read). */
int chat_store_extras_fill(chat_store_t *s, chat_msg_rec_t *v, size_t n);
/* A room message (dm 0, of room_id) or a direct message (dm 1) becomes a
 * tombstone (store.h, chat_store_msg_delete). */
int chat_store_extras_tombstone(chat_store_t *s, int dm, int64_t room_id, int64_t id);
/* Fills the mention counts of unread entries. */
int chat_store_extras_unread(chat_store_t *s, int64_t user_id, chat_unread_rec_t *v, size_t n);

/* ops.c: the per-room sequences of a message batch (store.h,
 * chat_store_msg_insert_batch), for the backends' batch steps.  One entry
 * per distinct room of the batch's room items, in ascending room id order:
 * the order in which a step raises the counters. */
typedef struct {
  int64_t room;
  int64_t k;       /* numbers taken (the room items counted) */
  int64_t base;    /* last_seq before the batch: items get base + 1... */
  int64_t used;    /* numbers given to stored messages so far */
  int missing;     /* the room does not exist */
} chat_store_seq_room_t;

/* The rooms of the room items i of items[0..n) with want[i] != 0 (want
 * NULL: every room item), with k their count; base, used and missing 0.
 * A malloc'ed array (free()) of *nrooms entries; NULL when there are
 * none. */
chat_store_seq_room_t *chat_store_seq_plan(const chat_msg_insert_t *items,
                                           size_t n, const uint8_t *want,
                                           size_t *nrooms);
/* The entry of room in v[0..n) (sorted as above), or NULL. */
chat_store_seq_room_t *chat_store_seq_find(chat_store_seq_room_t *v, size_t n,
                                           int64_t room);

/* Backend constructors.  target is the url without its scheme (for SQLite:
 * the file path).  Same contract as chat_store_open; on success the backend
 * has set (*out)->ops. */
int chat_store_sqlite_open(const char *target, int pool_size,
                           chat_store_t **out, char *err, size_t errlen);
/* For tests: sets fn(arg, n) as the busy handler of every connection of
 * SQLite store s (see sqlite3_busy_handler); fn NULL restores the busy
 * timeout the store opened with.  No call may be in flight. */
void chat_store_sqlite_busy_handler(chat_store_t *s, int (*fn)(void *, int),
                                    void *arg);
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
