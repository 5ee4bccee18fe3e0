/* The statements of the MySQL backend (see mysql_int.h), by ST_* id, and
 * the session settings of its connections.  Parameters are bound in order
 * (?) by the calls in mysql_ops.c, mysql_batch.c, mysql_search.c and
 * mysql_migrate.c. */
#include "../core/common.h"
#include "mysql_int.h"

#define USER_COLS \
  "id, username, email, pwhash, role, banned, created_ms, email_notify," \
  " display_name, avatar_file, phone, webhook_notify"
/* The sender's name by a subquery rather than a join: the page is then read
 * from one table in index order (messages_room_id backwards, LIMIT rows and
 * no sort), whatever the optimizer's statistics say about the join. */
#define MSG_COLS                                                 \
  "m.id, m.room_id,"                                             \
  " (SELECT u.username FROM users u WHERE u.id = m.sender_id)," \
  " m.text, m.ts, m.seq"
#define MSG_FROM " FROM messages m FORCE INDEX (messages_room_id)"
/* The rows of the message lists added with direct messages
 * (chat_mysql_msg6_rows): id, room, sender, receiver, text, ts. */
#define MSG6_ROOM_COLS                                           \
  "m.id, m.room_id,"                                             \
  " (SELECT u.username FROM users u WHERE u.id = m.sender_id)," \
  " '', m.text, m.ts"
#define MSG6_DM_COLS                                                    \
  "d.id, 0,"                                                            \
  " (SELECT u.username FROM users u WHERE u.id = d.sender_id),"        \
  " (SELECT u.username FROM users u WHERE u.id = d.receiver_id),"      \
  " d.text, d.ts"

#define MR1 "(?, ?, ?, ?, ?, ?)"
#define MR2 MR1 ", " MR1
#define MR4 MR2 ", " MR2
#define MR8 MR4 ", " MR4
#define MR16 MR8 ", " MR8
#define MR32 MR16 ", " MR16
#define MR64 MR32 ", " MR32
#define MSGS_INSERT(rows) \
  "INSERT INTO messages (room_id, sender_id, text, cid, ts, seq) VALUES " rows
#define DR1 "(?, ?, ?, ?, ?, ?, ?)"
#define DR2 DR1 ", " DR1
#define DR4 DR2 ", " DR2
#define DR8 DR4 ", " DR4
#define DR16 DR8 ", " DR8
#define DR32 DR16 ", " DR16
#define DR64 DR32 ", " DR32
#define DMS_INSERT(rows)                                               \
  "INSERT INTO direct_messages"                                         \
  " (sender_id, receiver_id, user_lo, user_hi, text, cid, ts) VALUES " rows
/* BATCH_ROWS (sender, cid) pairs; a lookup of fewer repeats one. */
#define CP1 "(sender_id = ? AND cid = ?)"
#define CP2 CP1 " OR " CP1
#define CP4 CP2 " OR " CP2
#define CP8 CP4 " OR " CP4
#define CP16 CP8 " OR " CP8
#define CP32 CP16 " OR " CP16
#define CP64 CP32 " OR " CP32
/* BATCH_ROWS ids; a list of fewer repeats one. */
#define Q1 "?"
#define Q2 Q1 ", " Q1
#define Q4 Q2 ", " Q2
#define Q8 Q4 ", " Q4
#define Q16 Q8 ", " Q8
#define Q32 Q16 ", " Q16
#define Q64 Q32 ", " Q32

/* Search candidates (backend.h, search_match; schema 012).  The inner
 * SELECT reads one Mroonga table alone, with only the full-text match and
 * comparisons of its own columns ANDed, ordered by its primary key with a
 * LIMIT: the form Mroonga answers from its index without sorting every
 * match ("fast order limit").  It still walks the posting lists of the
 * query's tokens whole, so chat_mysql_search_match asks it only below what
 * it read directly.  Parameters: the match expression, the key bound
 * (direct messages: twice the id), the room or the user (unless ALL), the
 * limit. */
#define FTS_ROOM_IDS(scope)                                                  \
  "(SELECT msg_id FROM search_fts_room WHERE MATCH (body) AGAINST (? IN"      \
  " BOOLEAN MODE) AND msg_id < ?" scope                                      \
  " ORDER BY msg_id DESC LIMIT ?) f"
#define FTS_DM_IDS                                                           \
  "(SELECT k DIV 2 AS msg_id FROM search_fts_dm WHERE MATCH (body) AGAINST"  \
  " (? IN BOOLEAN MODE) AND k < ? AND user_id = ?"                           \
  " ORDER BY k DESC LIMIT ?) f"

const char *const chat_mysql_sql[ST_COUNT] = {
    [ST_USER_INSERT] =
        "INSERT INTO users"
        " (username, ident_key, email, pwhash, role, banned, created_ms)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
    /* backend.h, user_find: the exact name before the identity key.  The
     * first and third ? are the name with ASCII folded (name_key() of
     * mysql_ops.c, as the generated column username_key is), the second the
     * identity key. */
    [ST_USER_FIND] =
        "SELECT " USER_COLS " FROM users"
        " WHERE username_key = ? OR ident_key = ?"
        " ORDER BY username_key = ? DESC LIMIT 1",
    /* Migration 004 (mysql_migrate.c, backfill_keys). */
    [ST_USER_KEY_SCAN] =
        "SELECT id, username FROM users WHERE id > ? AND ident_key IS NULL"
        " ORDER BY id LIMIT ?",
    [ST_USER_KEY_SET] = "UPDATE users SET ident_key = ? WHERE id = ?",
    [ST_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?",
    [ST_USER_SET_PWHASH] = "UPDATE users SET pwhash = ? WHERE id = ?",
    /* A NULL hash matches no row with <=>: every session goes. */
    [ST_SESSION_DELETE_OTHERS] =
        "DELETE FROM sessions WHERE user_id = ? AND NOT (token_hash <=> ?)",
    [ST_SESSION_PURGE_EXPIRED] =
        "DELETE FROM sessions WHERE user_id = ? AND expires_ms <= ?",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms)"
        " VALUES (?, ?, ?, ?)",
    [ST_SESSION_LOOKUP] =
        "SELECT u.id, u.username, u.email, u.pwhash, u.role, u.banned,"
        " u.created_ms, u.email_notify, u.display_name, u.avatar_file,"
        " u.phone, u.webhook_notify"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_ms > ?",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?",
    [ST_ROOM_INSERT] =
        "INSERT INTO rooms (name, topic, created_ms) VALUES (?, ?, ?)",
    [ST_ROOM_UPDATE] =
        "UPDATE rooms SET name = COALESCE(?, name), topic = COALESCE(?, topic)"
        " WHERE id = ?",
    [ST_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?",
    [ST_ROOM_GET] = "SELECT id, name, topic FROM rooms WHERE id = ?",
    [ST_ROOM_EXISTS] = "SELECT 1 FROM rooms WHERE id = ?",
    [ST_ROOM_LIST] = "SELECT id, name, topic FROM rooms ORDER BY id",
    /* Parameters: the numbers a batch takes, the room (store.h,
     * sequences).  The new last_seq comes back as the statement's insert
     * id (LAST_INSERT_ID(expr)), so one round trip takes the numbers and
     * locks the row until the commit. */
    [ST_ROOM_SEQ_TAKE] = "UPDATE rooms SET last_seq = LAST_INSERT_ID(last_seq + ?)"
                         " WHERE id = ?",
    [ST_ROOM_SEQ_SET] = "UPDATE rooms SET last_seq = ? WHERE id = ?",
    [ST_ROOM_LAST_SEQ] = "SELECT last_seq FROM rooms WHERE id = ?",
    [ST_ROOM_SEQS] = "SELECT id, last_seq FROM rooms ORDER BY id",
    [ST_DM_SINCE] = "SELECT " MSG6_DM_COLS
                    " FROM direct_messages d"
                    " WHERE d.id > ? ORDER BY d.id LIMIT ?",
    [ST_DM_LAST_ID] = "SELECT COALESCE(MAX(id), 0) FROM direct_messages",
    [ST_MSG_BY_CID] =
        "SELECT id, ts FROM messages WHERE sender_id = ? AND cid = ?",
    /* A missing room or sender fails the foreign key: CHAT_ENOTFOUND for
     * the item, and InnoDB undoes that statement only. */
    [ST_MSG_INSERT] =
        "INSERT INTO messages (room_id, sender_id, text, cid, ts, seq)"
        " VALUES (?, ?, ?, ?, ?, ?)",
    /* Newest first, so LIMIT keeps the newest; the caller reverses. */
    [ST_MSG_BEFORE] = "SELECT " MSG_COLS MSG_FROM
                      " WHERE m.room_id = ? AND m.id < ?"
                      " ORDER BY m.id DESC LIMIT ?",
    [ST_MSG_SINCE] = "SELECT " MSG_COLS MSG_FROM
                     " WHERE m.room_id = ? AND m.id > ?"
                     " ORDER BY m.id DESC LIMIT ?",
    /* Oldest first (a gap is delivered from its start). */
    [ST_MSG_BY_SEQ] = "SELECT " MSG_COLS
                      " FROM messages m FORCE INDEX (messages_room_seq)"
                      " WHERE m.room_id = ? AND m.seq >= ? AND m.seq < ?"
                      " ORDER BY m.seq LIMIT ?",
    /* The backfill of migration 002, in id order. */
    [ST_MSG_SCAN] =
        "SELECT id, text FROM messages WHERE id > ? ORDER BY id LIMIT ?",
    /* username_key: the order of ASCII-folded bytes, as sqlite_sql.c's
     * ORDER BY username (COLLATE NOCASE). */
    [ST_USER_LIST] =
        "SELECT " USER_COLS " FROM users ORDER BY username_key",
    [ST_USER_SET_BANNED] = "UPDATE users SET banned = ? WHERE id = ?",
    [ST_USER_SET_NOTIFY] = "UPDATE users SET email_notify = ? WHERE id = ?",
    [ST_USER_SET_PHONE] = "UPDATE users SET phone = ? WHERE id = ?",
    [ST_USER_SET_WEBHOOK] = "UPDATE users SET webhook_notify = ? WHERE id = ?",
    [ST_DM_BY_CID] =
        "SELECT id, ts FROM direct_messages WHERE sender_id = ? AND cid = ?",
    /* A missing sender or receiver fails its foreign key. */
    [ST_DM_INSERT] =
        "INSERT INTO direct_messages"
        " (sender_id, receiver_id, user_lo, user_hi, text, cid, ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
    /* The pair (lo, hi); newest first. */
    [ST_DM_BEFORE] = "SELECT " MSG6_DM_COLS
                     " FROM direct_messages d"
                     " FORCE INDEX (direct_messages_pair)"
                     " WHERE d.user_lo = ? AND d.user_hi = ? AND d.id < ?"
                     " ORDER BY d.id DESC LIMIT ?",
    /* A missing room or user fails the statement (batch_multi_step checks
     * them first). */
    [ST_MSG_INSERT_2] = MSGS_INSERT(MR2),
    [ST_MSG_INSERT_2 + 1] = MSGS_INSERT(MR4),
    [ST_MSG_INSERT_2 + 2] = MSGS_INSERT(MR8),
    [ST_MSG_INSERT_2 + 3] = MSGS_INSERT(MR16),
    [ST_MSG_INSERT_2 + 4] = MSGS_INSERT(MR32),
    [ST_MSG_INSERT_2 + 5] = MSGS_INSERT(MR64),
    [ST_DM_INSERT_2] = DMS_INSERT(DR2),
    [ST_DM_INSERT_2 + 1] = DMS_INSERT(DR4),
    [ST_DM_INSERT_2 + 2] = DMS_INSERT(DR8),
    [ST_DM_INSERT_2 + 3] = DMS_INSERT(DR16),
    [ST_DM_INSERT_2 + 4] = DMS_INSERT(DR32),
    [ST_DM_INSERT_2 + 5] = DMS_INSERT(DR64),
    /* The stored messages of up to BATCH_ROWS (sender, cid) pairs: one
     * point of the unique index each. */
    [ST_MSG_CIDS] = "SELECT sender_id, cid, id, ts FROM messages"
                    " FORCE INDEX (messages_sender_cid) WHERE " CP64,
    [ST_DM_CIDS] = "SELECT sender_id, cid, id, ts FROM direct_messages"
                   " FORCE INDEX (direct_messages_sender_cid) WHERE " CP64,
    /* Which of up to BATCH_ROWS rooms and BATCH_ROWS users exist: (0, id)
     * per room, (1, id) per user. */
    [ST_BATCH_PARENTS] = "SELECT 0, id FROM rooms WHERE id IN (" Q64 ")"
                         " UNION ALL"
                         " SELECT 1, id FROM users WHERE id IN (" Q64 ")",
    /* A message's row: (msg_id, room_id, body); a direct message's row of
     * one participant: (k, user_id, body).  REPLACE: Mroonga does not roll
     * back, so an indexer that ran before and rolled back may have written
     * it already. */
    [ST_FTS_PUT] = "REPLACE INTO search_fts_room (msg_id, room_id, body)"
                   " VALUES (?, ?, ?)",
    [ST_FTS_PUT_DM] = "REPLACE INTO search_fts_dm (k, user_id, body)"
                      " VALUES (?, ?, ?)",
    [ST_FTS_DELETE_MSG] = "DELETE FROM search_fts_room WHERE msg_id = ?",
    /* Parameters: 2 * id, 2 * id + 1. */
    [ST_FTS_DELETE_DM_MSG] = "DELETE FROM search_fts_dm WHERE k IN (?, ?)",
    /* A message's rows with a new text: parameters the text and the id
     * (twice for a direct message: one row per participant). */
    [ST_FTS_REPUT_ROOM_MSG] =
        "REPLACE INTO search_fts_room (msg_id, room_id, body)"
        " SELECT id, room_id, ? FROM messages WHERE id = ?",
    [ST_FTS_REPUT_DM_MSG] =
        "REPLACE INTO search_fts_dm (k, user_id, body)"
        " SELECT 2 * id, sender_id, ? FROM direct_messages WHERE id = ?"
        " UNION ALL"
        " SELECT 2 * id + 1, receiver_id, ? FROM direct_messages WHERE id = ?",
    [ST_CURSOR_GET_LOCK] = "SELECT last_id FROM search_cursor WHERE kind = ?"
                           " FOR UPDATE",
    /* Parameter: the highest kind to lock (1: both cursors, for the
     * indexer; 0: the room messages' one, for a room delete).  In kind
     * order, so lockers never wait on each other in a cycle. */
    [ST_CURSOR_LOCK] = "SELECT kind, last_id FROM search_cursor"
                       " WHERE kind <= ? ORDER BY kind FOR UPDATE",
    [ST_CURSOR_SET] = "UPDATE search_cursor SET last_id = GREATEST(last_id, ?)"
                      " WHERE kind = ?",
    /* The next messages to index, oldest first.  A locking read: it waits
     * for the rows of transactions still open (see index_step). */
    [ST_PENDING_ROOM] = "SELECT id, ts, text, room_id, 0 FROM messages"
                        " WHERE id > ? ORDER BY id LIMIT ? LOCK IN SHARE MODE",
    [ST_PENDING_DM] = "SELECT id, ts, text, sender_id, receiver_id"
                      " FROM direct_messages WHERE id > ?"
                      " ORDER BY id LIMIT ? LOCK IN SHARE MODE",
    /* Parameter: the tail's size.  The cursor, and the id below the newest
     * that many messages above it (or the cursor when there are fewer). */
    [ST_BOUNDS_ROOM] =
        "SELECT c.last_id, COALESCE((SELECT m.id FROM messages m"
        " WHERE m.id > c.last_id ORDER BY m.id DESC LIMIT ?, 1),"
        " c.last_id) FROM search_cursor c WHERE c.kind = 0",
    [ST_BOUNDS_DM] =
        "SELECT c.last_id, COALESCE((SELECT d.id FROM direct_messages d"
        " WHERE d.id > c.last_id ORDER BY d.id DESC LIMIT ?, 1),"
        " c.last_id) FROM search_cursor c WHERE c.kind = 1",
    /* The messages not indexed yet.  Parameters: the floor, the id bound,
     * the room twice (0: any) or the user twice, the limit.  Read backwards
     * on the primary key: the range is bounded (search_bounds), while the
     * room's or the users' indexes may hold far more rows. */
    [ST_TAIL_ROOM] = "SELECT " MSG6_ROOM_COLS
                     " FROM messages m FORCE INDEX (PRIMARY)"
                     " WHERE m.id > ? AND m.id < ? AND (? = 0 OR m.room_id = ?)"
                     " ORDER BY m.id DESC LIMIT ?",
    [ST_TAIL_DM] = "SELECT " MSG6_DM_COLS
                   " FROM direct_messages d FORCE INDEX (PRIMARY)"
                   " WHERE d.id > ? AND d.id < ?"
                   " AND (d.sender_id = ? OR d.receiver_id = ?)"
                   " ORDER BY d.id DESC LIMIT ?",
    [ST_FTS_DELETE_ROOM] = "DELETE FROM search_fts_room WHERE room_id = ?",
    [ST_MARKERS_DELETE_ROOM] = "DELETE FROM read_markers WHERE room_id = ?",
    [ST_MSG_GET] = "SELECT " MSG6_ROOM_COLS ", m.sender_id"
                   " FROM messages m WHERE m.id = ?",
    [ST_MSG_DELETE] = "DELETE FROM messages WHERE room_id = ? AND id = ?",
    [ST_FRIEND_GET] = "SELECT requester_id, accepted FROM friendships"
                      " WHERE user_lo = ? AND user_hi = ?",
    [ST_FRIEND_LOCK] = "SELECT requester_id, accepted FROM friendships"
                       " WHERE user_lo = ? AND user_hi = ? FOR UPDATE",
    [ST_FRIEND_INSERT] =
        "INSERT INTO friendships"
        " (user_lo, user_hi, requester_id, accepted, created_ms)"
        " VALUES (?, ?, ?, 0, ?)",
    [ST_FRIEND_ACCEPT] = "UPDATE friendships SET accepted = 1"
                         " WHERE user_lo = ? AND user_hi = ?",
    [ST_FRIEND_DELETE] =
        "DELETE FROM friendships WHERE user_lo = ? AND user_hi = ?",
    /* Parameters: the user four times.  Each half through its own index. */
    [ST_FRIEND_LIST] =
        "SELECT u.id, u.username, x.mine, x.accepted, u.display_name FROM ("
        " SELECT user_hi AS other, requester_id = ? AS mine, accepted"
        " FROM friendships WHERE user_lo = ?"
        " UNION ALL"
        " SELECT user_lo, requester_id = ?, accepted"
        " FROM friendships WHERE user_hi = ?"
        ") x JOIN users u ON u.id = x.other ORDER BY u.username_key",
    [ST_MATCH_ALL] = "SELECT " MSG6_ROOM_COLS " FROM " FTS_ROOM_IDS("")
                     " JOIN messages m ON m.id = f.msg_id ORDER BY m.id DESC",
    [ST_MATCH_ROOM] = "SELECT " MSG6_ROOM_COLS " FROM " FTS_ROOM_IDS(" AND room_id = ?")
                      " JOIN messages m ON m.id = f.msg_id ORDER BY m.id DESC",
    [ST_MATCH_DM] = "SELECT " MSG6_DM_COLS " FROM " FTS_DM_IDS
                    " JOIN direct_messages d ON d.id = f.msg_id ORDER BY d.id DESC",
    /* The direct reading before Mroonga (chat_mysql_search_match): the
     * messages of an id range [?, ?) (of the room, of the user) that
     * contain the query (LIKE '%query%' with ESCAPE '!', under the column's
     * collation, utf8mb4_unicode_ci, finds everything the store's text
     * check keeps, and more; twice as fast as INSTR), newest first, up to
     * the last ?.  On the primary key: the
     * newest rows are the ones in the buffer pool, and a room's rows reached
     * through its index may be anywhere on disk. */
    [ST_SCAN_ALL] = "SELECT " MSG6_ROOM_COLS " FROM messages m FORCE INDEX (PRIMARY)"
                    " WHERE m.id >= ? AND m.id < ? AND m.text LIKE ? ESCAPE '!'"
                    " ORDER BY m.id DESC LIMIT ?",
    [ST_SCAN_ROOM] = "SELECT " MSG6_ROOM_COLS " FROM messages m FORCE INDEX (PRIMARY)"
                     " WHERE m.id >= ? AND m.id < ? AND m.room_id = ?"
                     " AND m.text LIKE ? ESCAPE '!' ORDER BY m.id DESC LIMIT ?",
    [ST_SCAN_DM] = "SELECT " MSG6_DM_COLS " FROM direct_messages d FORCE INDEX (PRIMARY)"
                   " WHERE d.id >= ? AND d.id < ? AND (d.sender_id = ? OR d.receiver_id = ?)"
                   " AND d.text LIKE ? ESCAPE '!' ORDER BY d.id DESC LIMIT ?",
    [ST_AUDIT_INSERT] =
        "INSERT INTO audit_log (actor_id, action, target, detail, ts)"
        " VALUES (?, ?, ?, ?, ?)",
    /* Parameters: user, room, peer, last_id, room twice, peer twice.  A
     * room or peer that does not exist inserts nothing (0 rows: CHAT_
     * ENOTFOUND); a missing user fails the foreign key.  With
     * CLIENT_FOUND_ROWS an existing row counts 1 even when last_id stays. */
    [ST_READ_MARK] =
        "INSERT INTO read_markers (user_id, room_id, peer_id, last_id)"
        " SELECT ?, ?, ?, ? FROM DUAL"
        " WHERE (? = 0 OR EXISTS (SELECT 1 FROM rooms WHERE id = ?))"
        " AND (? = 0 OR EXISTS (SELECT 1 FROM users WHERE id = ?))"
        " ON DUPLICATE KEY UPDATE last_id = GREATEST(last_id, VALUES(last_id))",
    /* Parameters: the user twice.  Per marker, a range of
     * messages_room_id. */
    [ST_UNREAD_ROOMS] =
        "SELECT r.room_id, r.last_id,"
        " (SELECT COUNT(*) FROM messages m WHERE m.room_id = r.room_id"
        "  AND m.id > r.last_id AND m.sender_id <> ?)"
        " FROM read_markers r WHERE r.user_id = ? AND r.room_id <> 0"
        " ORDER BY r.room_id",
    /* Parameters: the user four times.  Per peer, a range of
     * direct_messages_receiver. */
    [ST_UNREAD_DMS] =
        "SELECT p.sender_id, u.username, COALESCE(rm.last_id, 0),"
        " (SELECT COUNT(*) FROM direct_messages d WHERE d.receiver_id = ?"
        "  AND d.sender_id = p.sender_id AND d.id > COALESCE(rm.last_id, 0))"
        " FROM (SELECT DISTINCT sender_id FROM direct_messages"
        "       WHERE receiver_id = ? AND sender_id <> ?) p"
        " JOIN users u ON u.id = p.sender_id"
        " LEFT JOIN read_markers rm ON rm.user_id = ? AND rm.room_id = 0"
        "  AND rm.peer_id = p.sender_id"
        " ORDER BY u.username_key",
    /* NULL keeps a value: display_name and display_key go together. */
    [ST_USER_SET_PROFILE] =
        "UPDATE users SET display_name = COALESCE(?, display_name),"
        " display_key = COALESCE(?, display_key),"
        " email = COALESCE(?, email) WHERE id = ?",
    /* Prefix scans (backend.h, user_range): ranges of the unique index of
     * username_key (001) and of users_display_key (007), bytes compared. */
    [ST_USER_RANGE_NAME] = "SELECT " USER_COLS " FROM users"
                           " WHERE username_key >= ? AND username_key < ?"
                           " AND banned = 0 ORDER BY username_key LIMIT ?",
    [ST_USER_RANGE_DISPLAY] = "SELECT " USER_COLS " FROM users"
                              " WHERE display_key >= ? AND display_key < ?"
                              " AND banned = 0 ORDER BY display_key LIMIT ?",
};

/* Session settings of every connection (constant text). */
const char *const chat_mysql_session_sql[] = {
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    "SET SESSION innodb_lock_wait_timeout = " STR(LOCK_WAIT_S),
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
};

const size_t chat_mysql_session_sql_n = CHAT_ARRAY_SIZE(chat_mysql_session_sql);
