/* Store calls that only the command-line administration needs (chatd user,
 * room, db; src/admin_cli.c), besides those of store.h.
 *
 * Like store.h: synchronous, may block on disk or network, never called
 * from the event loop; 0 or a negative CHAT_E* code (core/common.h).  err,
 * where a function takes one, receives a message in English (errlen bytes;
 * may be NULL) that never holds a password of the url. */
#ifndef CHAT_STORE_STORE_ADMIN_H
#define CHAT_STORE_STORE_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Makes user_id an administrator or a plain user.  Sessions stay: the
 * server reads the role with the session at each API request.  CHAT_ENOTFOUND if there
 * is no such user, CHAT_EINVAL for another role. */
int chat_store_user_set_role(chat_store_t *s, int64_t user_id, chat_role_t role);

/* The schema version of the database at url (as chat_store_open takes it)
 * without changing anything: *version, the number of migrations applied (0
 * for a SQLite file that does not exist yet or a MySQL database without
 * tables), and *known, the number this build has.  CHAT_EUNAVAIL if the
 * database cannot be read. */
int chat_store_schema_peek(const char *url, int *version, int *known, char *err,
                           size_t errlen);

/* Copies the SQLite database at url ("sqlite:PATH" or PATH) to dest with
 * SQLite's online backup API, in one read transaction (a consistent
 * snapshot; in WAL mode writers of other processes, such as a running
 * chatd, go on meanwhile).  The copy is written to a temporary file next
 * to dest, turned into a single file (journal_mode DELETE), checked
 * (PRAGMA quick_check), made readable by its owner only (mode 0600),
 * synced and renamed over dest, so dest is either
 * the old file or a whole new copy.  *pages (may be NULL) receives the
 * page count.  CHAT_ENOTFOUND if there is no database at url, CHAT_EEXIST
 * if dest exists and replace is 0, CHAT_EINVAL for a MySQL url,
 * CHAT_EUNAVAIL or CHAT_EIO if the copy fails (dest is then untouched). */
int chat_store_sqlite_backup(const char *url, const char *dest, int replace, int *pages,
                             char *err, size_t errlen);

/* For a MySQL url: "mariadb-dump" arguments that name the same server,
 * account and database (never the password), e.g. "-h HOST -P 3306 -u USER
 * DB", into buf.  0, or CHAT_EINVAL if url is not a valid MySQL url. */
int chat_store_mysql_dump_args(const char *url, char *buf, size_t len);

/* ---- bulk provisioning (bulk.c), for load tests ---------------------------
 * One user of chat_store_users_bulk: username (the NFKC form
 * chat_username_check wrote) and email are the caller's (checked, not
 * NULL); with sessions, token_hash is the SHA-256 of the token the caller
 * minted.  id and created are outputs. */
typedef struct {
  const char *username;
  const char *email;
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  int64_t id;  /* out: the user's id */
  int created; /* out: 1 new, 0 it existed (left as it was) */
} chat_bulk_user_t;

/* Creates the users of v[0..n) that do not exist (by identity key, as
 * chat_store_user_create compares names) as plain users with the one
 * password hash pwhash, and with sessions (1) adds one session per user
 * (token_hash, valid from now_ms until expires_ms), new or existing, all in
 * ONE transaction: everything or nothing.  *created (may be NULL): the
 * users that were new.  CHAT_EINVAL (a field too long, a name without an
 * identity key), CHAT_EEXIST (a token hash taken), CHAT_EUNAVAIL. */
int chat_store_users_bulk(chat_store_t *s, chat_bulk_user_t *v, size_t n, const char *pwhash,
                          int64_t now_ms, int sessions, int64_t expires_ms, size_t *created);

/* One public room of chat_store_rooms_bulk: name (valid as
 * chat_room_name_valid says) is the caller's; id and created are outputs. */
typedef struct {
  const char *name;
  int64_t id;  /* out */
  int created; /* out: 1 new, 0 a room of that name existed */
} chat_bulk_room_t;

/* Creates the public rooms of v[0..n) whose names are not taken (ASCII
 * case aside), with topic (NULL: ""), in one transaction, and reports
 * every room's id.  *created (may be NULL): the rooms that were new.
 * CHAT_EINVAL, CHAT_EUNAVAIL. */
int chat_store_rooms_bulk(chat_store_t *s, chat_bulk_room_t *v, size_t n, const char *topic,
                          int64_t now_ms, size_t *created);

#endif
