/* The statements of the SQLite backend (see sqlite_int.h), by ST_* id.
 * Parameters are numbered (?1, ?2, ...) as the calls in sqlite_ops.c and
 * sqlite_search.c bind them. */
#include "sqlite_int.h"

#define USER_COLS \
  "id, username, email, pwhash, role, banned, created_ms, email_notify," \
  " display_name, avatar_file, phone, webhook_notify"
#define MSG_COLS "m.id, m.room_id, u.username, m.text, m.ts, m.seq"
/* The rows of the message lists added with direct messages
 * (chat_sqlite_read_msg). */
#define MSG6_ROOM_COLS "m.id, m.room_id, u.username, '', m.text, m.ts"
#define MSG6_DM_COLS "d.id, 0, su.username, ru.username, d.text, d.ts"

/* The tag column of the search tables (sqlite_fts.h). */
#define TAG_ROOM(room) "char(1) || 'r' || " room
#define TAG_DM(snd, rcv) \
  "char(1) || 'u' || " snd " || ' ' || char(1) || 'u' || " rcv
#define CURSOR(kind) "(SELECT last_id FROM search_cursor WHERE kind = " kind ")"

const char *const chat_sqlite_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PING] = "SELECT 1",
    [ST_USER_INSERT] =
        "INSERT INTO users"
        " (username, ident_key, email, pwhash, role, banned, created_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    /* ?1 the name, ?2 its key (backend.h, user_find): the exact name
     * (username has COLLATE NOCASE) before the key. */
    [ST_USER_FIND] = "SELECT " USER_COLS " FROM users"
                     " WHERE username = ?1 OR ident_key = ?2"
                     " ORDER BY username = ?1 DESC LIMIT 1",
    [ST_USER_BY_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [ST_USER_SET_PWHASH] = "UPDATE users SET pwhash = ?2 WHERE id = ?1",
    /* ?2 NULL: "token_hash IS NOT NULL", every session. */
    [ST_SESSION_DELETE_OTHERS] =
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
    [ST_SESSION_PURGE_EXPIRED] =
        "DELETE FROM sessions WHERE user_id = ?1 AND expires_ms <= ?2",
    [ST_SESSION_INSERT] =
        "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms)"
        " VALUES (?1, ?2, ?3, ?4)",
    [ST_SESSION_LOOKUP] =
        "SELECT u.id, u.username, u.email, u.pwhash, u.role, u.banned,"
        " u.created_ms, u.email_notify, u.display_name, u.avatar_file,"
        " u.phone, u.webhook_notify"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ?1 AND s.expires_ms > ?2",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE token_hash = ?1",
    [ST_ROOM_INSERT] =
        "INSERT INTO rooms (name, topic, created_ms) VALUES (?1, ?2, ?3)",
    [ST_ROOM_UPDATE] =
        "UPDATE rooms SET name = coalesce(?2, name), topic = coalesce(?3, topic)"
        " WHERE id = ?1 RETURNING id, name, topic",
    [ST_ROOM_DELETE] = "DELETE FROM rooms WHERE id = ?1",
    [ST_ROOM_GET] = "SELECT id, name, topic FROM rooms WHERE id = ?1",
    [ST_ROOM_EXISTS] = "SELECT 1 FROM rooms WHERE id = ?1",
    [ST_ROOM_LIST] = "SELECT id, name, topic FROM rooms ORDER BY id",
    /* ?1 the room, ?2 the numbers a batch takes (store.h, sequences). */
    [ST_ROOM_SEQ_TAKE] = "UPDATE rooms SET last_seq = last_seq + ?2"
                         " WHERE id = ?1 RETURNING last_seq",
    [ST_ROOM_SEQ_SET] = "UPDATE rooms SET last_seq = ?2 WHERE id = ?1",
    [ST_ROOM_LAST_SEQ] = "SELECT last_seq FROM rooms WHERE id = ?1",
    [ST_ROOM_SEQS] = "SELECT id, last_seq FROM rooms ORDER BY id",
    [ST_DM_SINCE] = "SELECT " MSG6_DM_COLS
                    " FROM direct_messages d"
                    " JOIN users su ON su.id = d.sender_id"
                    " JOIN users ru ON ru.id = d.receiver_id"
                    " WHERE d.id > ?1 ORDER BY d.id LIMIT ?2",
    [ST_DM_LAST_ID] = "SELECT COALESCE(MAX(id), 0) FROM direct_messages",
    [ST_MSG_BY_CID] =
        "SELECT id, ts FROM messages WHERE sender_id = ?1 AND cid = ?2",
    /* The room is known to exist (the batch took its numbers in this
     * transaction).  A cid stored before inserts nothing. */
    [ST_MSG_INSERT] =
        "INSERT INTO messages (room_id, sender_id, text, cid, ts, seq)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (cid, sender_id) WHERE cid IS NOT NULL DO NOTHING",
    /* Newest first, so LIMIT keeps the newest; the caller reverses. */
    [ST_MSG_BEFORE] = "SELECT " MSG_COLS
                      " FROM messages m JOIN users u ON u.id = m.sender_id"
                      " WHERE m.room_id = ?1 AND m.id < ?2"
                      " ORDER BY m.id DESC LIMIT ?3",
    [ST_MSG_SINCE] = "SELECT " MSG_COLS
                     " FROM messages m JOIN users u ON u.id = m.sender_id"
                     " WHERE m.room_id = ?1 AND m.id > ?2"
                     " ORDER BY m.id DESC LIMIT ?3",
    /* Oldest first (a gap is delivered from its start).  ?5 .. ?6: the ids
     * that hold seqs ?2 .. ?3 (ids follow seqs in a room: 013). */
    [ST_MSG_BY_SEQ] = "SELECT " MSG_COLS
                      " FROM messages m JOIN users u ON u.id = m.sender_id"
                      " WHERE m.room_id = ?1 AND m.id >= ?5 AND m.id < ?6"
                      " AND m.seq >= ?2 AND m.seq < ?3"
                      " ORDER BY m.id LIMIT ?4",
    /* The room's first message at or after id ?2: its id and seq. */
    [ST_MSG_SEQ_PROBE] = "SELECT id, seq FROM messages WHERE room_id = ?1 AND id >= ?2"
                         " ORDER BY id LIMIT 1",
    /* One past the room's last message id (1 if it has none). */
    [ST_MSG_ROOM_END] = "SELECT coalesce(max(id), 0) + 1 FROM messages WHERE room_id = ?1",
    /* username has COLLATE NOCASE: the order of ASCII-folded bytes, as
     * mysql_sql.c's ORDER BY username_key. */
    [ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
    [ST_USER_SET_BANNED] = "UPDATE users SET banned = ?2 WHERE id = ?1",
    [ST_USER_SET_NOTIFY] = "UPDATE users SET email_notify = ?2 WHERE id = ?1",
    [ST_USER_SET_PHONE] = "UPDATE users SET phone = ?2 WHERE id = ?1",
    [ST_USER_SET_WEBHOOK] = "UPDATE users SET webhook_notify = ?2 WHERE id = ?1",
    [ST_DM_BY_CID] =
        "SELECT id, ts FROM direct_messages WHERE sender_id = ?1 AND cid = ?2",
    /* A missing sender or receiver fails the foreign key. */
    [ST_DM_INSERT] =
        "INSERT INTO direct_messages"
        " (sender_id, receiver_id, user_lo, user_hi, text, cid, ts)"
        " VALUES (?1, ?2, min(?1, ?2), max(?1, ?2), ?3, ?4, ?5)"
        " ON CONFLICT (cid, sender_id) DO NOTHING",
    /* ?1 < ?2 (or equal: notes to oneself); newest first. */
    [ST_DM_BEFORE] = "SELECT " MSG6_DM_COLS
                     " FROM direct_messages d"
                     " JOIN users su ON su.id = d.sender_id"
                     " JOIN users ru ON ru.id = d.receiver_id"
                     " WHERE d.user_lo = ?1 AND d.user_hi = ?2 AND d.id < ?3"
                     " ORDER BY d.id DESC LIMIT ?4",
    /* A message the indexer reached: ?1 its id, ?2 its text, ?3 its room
     * (DM: ?3 sender, ?4 receiver).  Not for an empty text (a tombstone
     * has no row: sqlite_fts.h). */
    [ST_FTS_INSERT_ROOM] = "INSERT INTO search_room (rowid, body, tag)"
                           " VALUES (?1, ?2, " TAG_ROOM("?3") ")",
    [ST_FTS_INSERT_DM] = "INSERT INTO search_dm (rowid, body, tag)"
                         " VALUES (?1, ?2, " TAG_DM("?3", "?4") ")",
    [ST_CURSOR_GET] = "SELECT last_id FROM search_cursor WHERE kind = ?1",
    [ST_CURSOR_SET] = "UPDATE search_cursor SET last_id = max(last_id, ?2)"
                      " WHERE kind = ?1",
    /* The next messages to index, oldest first. */
    [ST_PENDING_ROOM] = "SELECT id, ts, text, room_id FROM messages"
                        " WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_PENDING_DM] = "SELECT id, ts, text, sender_id, receiver_id"
                      " FROM direct_messages WHERE id > ?1 ORDER BY id LIMIT ?2",
    /* The cursor, and the id below the newest ?1 messages above it (or the
     * cursor when there are no more than ?1). */
    [ST_BOUNDS_ROOM] =
        "SELECT c.last_id, coalesce((SELECT m.id FROM messages m"
        " WHERE m.id > c.last_id ORDER BY m.id DESC LIMIT 1 OFFSET ?1),"
        " c.last_id) FROM search_cursor c WHERE c.kind = 0",
    [ST_BOUNDS_DM] =
        "SELECT c.last_id, coalesce((SELECT d.id FROM direct_messages d"
        " WHERE d.id > c.last_id ORDER BY d.id DESC LIMIT 1 OFFSET ?1),"
        " c.last_id) FROM search_cursor c WHERE c.kind = 1",
    /* The messages not indexed yet: ?1 < id < ?2, ?3 the room (0: any) or
     * the user, ?4 the limit.  The unary + keeps the planner on the id
     * range (bounded by search_bounds) rather than an index of the room or
     * of the users, which may hold far more rows. */
    [ST_TAIL_ROOM] = "SELECT " MSG6_ROOM_COLS
                     " FROM messages m CROSS JOIN users u"
                     " WHERE m.id > ?1 AND m.id < ?2"
                     " AND (?3 = 0 OR +m.room_id = ?3) AND u.id = m.sender_id"
                     " ORDER BY m.id DESC LIMIT ?4",
    [ST_TAIL_DM] = "SELECT " MSG6_DM_COLS
                   " FROM direct_messages d CROSS JOIN users su"
                   " CROSS JOIN users ru"
                   " WHERE d.id > ?1 AND d.id < ?2"
                   " AND (+d.sender_id = ?3 OR +d.receiver_id = ?3)"
                   " AND su.id = d.sender_id AND ru.id = d.receiver_id"
                   " ORDER BY d.id DESC LIMIT ?4",
    /* Removes the row of message ?1 (if the indexer has reached it) with
     * the values it was indexed with: the stored text and the tag. */
    [ST_FTS_DELETE_ROOM_MSG] =
        "INSERT INTO search_room (search_room, rowid, body, tag)"
        " SELECT 'delete', id, text, " TAG_ROOM("room_id") " FROM messages"
        " WHERE id = ?1 AND id <= " CURSOR("0") " AND text <> ''",
    [ST_FTS_DELETE_DM_MSG] =
        "INSERT INTO search_dm (search_dm, rowid, body, tag)"
        " SELECT 'delete', id, text, " TAG_DM("sender_id", "receiver_id")
        " FROM direct_messages WHERE id = ?1 AND id <= " CURSOR("1")
        " AND text <> ''",
    /* The row of message ?1 with the text ?2 (after the delete above; the
     * caller does not call it for an empty text). */
    [ST_FTS_REINSERT_ROOM_MSG] =
        "INSERT INTO search_room (rowid, body, tag)"
        " SELECT id, ?2, " TAG_ROOM("room_id") " FROM messages"
        " WHERE id = ?1 AND id <= " CURSOR("0") " AND text <> ''",
    [ST_FTS_REINSERT_DM_MSG] =
        "INSERT INTO search_dm (rowid, body, tag)"
        " SELECT id, ?2, " TAG_DM("sender_id", "receiver_id")
        " FROM direct_messages WHERE id = ?1 AND id <= " CURSOR("1")
        " AND text <> ''",
    /* Every row of room ?1's messages. */
    [ST_FTS_DELETE_ROOM] =
        "INSERT INTO search_room (search_room, rowid, body, tag)"
        " SELECT 'delete', id, text, " TAG_ROOM("room_id") " FROM messages"
        " WHERE room_id = ?1 AND id <= " CURSOR("0") " AND text <> ''",
    [ST_MARKERS_DELETE_ROOM] = "DELETE FROM read_markers WHERE room_id = ?1",
    [ST_MSG_GET] = "SELECT " MSG6_ROOM_COLS ", m.sender_id"
                   " FROM messages m JOIN users u ON u.id = m.sender_id"
                   " WHERE m.id = ?1",
    [ST_MSG_DELETE] = "DELETE FROM messages WHERE id = ?2 AND room_id = ?1",
    [ST_FRIEND_GET] = "SELECT requester_id, accepted FROM friendships"
                      " WHERE user_lo = ?1 AND user_hi = ?2",
    [ST_FRIEND_INSERT] =
        "INSERT INTO friendships"
        " (user_lo, user_hi, requester_id, accepted, created_ms)"
        " VALUES (?1, ?2, ?3, 0, ?4)",
    [ST_FRIEND_ACCEPT] = "UPDATE friendships SET accepted = 1"
                         " WHERE user_lo = ?1 AND user_hi = ?2",
    [ST_FRIEND_DELETE] =
        "DELETE FROM friendships WHERE user_lo = ?1 AND user_hi = ?2",
    /* Each half through its own index. */
    [ST_FRIEND_LIST] =
        "SELECT u.id, u.username, x.mine, x.accepted, u.display_name FROM ("
        " SELECT user_hi AS other, requester_id = ?1 AS mine, accepted"
        " FROM friendships WHERE user_lo = ?1"
        " UNION ALL"
        " SELECT user_lo, requester_id = ?1, accepted"
        " FROM friendships WHERE user_hi = ?1"
        ") x JOIN users u ON u.id = x.other ORDER BY u.username",
    /* Candidates (backend.h, search_match): ?1 the MATCH expression, ?2
     * the id bound, ?3 the room (0: any) or the user, ?4 the limit.  The
     * FTS table drives (CROSS JOIN), read newest first on its rowids; the
     * filters repeat what the tags in ?1 already ask. */
    [ST_SEARCH_ROOM] =
        "SELECT " MSG6_ROOM_COLS " FROM search_room"
        " CROSS JOIN messages m CROSS JOIN users u"
        " WHERE search_room MATCH ?1 AND search_room.rowid < ?2"
        " AND m.id = search_room.rowid AND (?3 = 0 OR m.room_id = ?3)"
        " AND u.id = m.sender_id ORDER BY search_room.rowid DESC LIMIT ?4",
    [ST_SEARCH_DM] =
        "SELECT " MSG6_DM_COLS " FROM search_dm"
        " CROSS JOIN direct_messages d CROSS JOIN users su CROSS JOIN users ru"
        " WHERE search_dm MATCH ?1 AND search_dm.rowid < ?2"
        " AND d.id = search_dm.rowid"
        " AND (d.sender_id = ?3 OR d.receiver_id = ?3)"
        " AND su.id = d.sender_id AND ru.id = d.receiver_id"
        " ORDER BY search_dm.rowid DESC LIMIT ?4",
    [ST_AUDIT_INSERT] =
        "INSERT INTO audit_log (actor_id, action, target, detail, ts)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* A room or peer that does not exist inserts nothing (no row changed:
     * CHAT_ENOTFOUND); a missing user fails the foreign key.  The SELECT
     * needs its WHERE for SQLite to parse the upsert. */
    [ST_READ_MARK] =
        "INSERT INTO read_markers (user_id, room_id, peer_id, last_id)"
        " SELECT ?1, ?2, ?3, ?4"
        " WHERE (?2 = 0 OR EXISTS (SELECT 1 FROM rooms WHERE id = ?2))"
        " AND (?3 = 0 OR EXISTS (SELECT 1 FROM users WHERE id = ?3))"
        " ON CONFLICT (user_id, room_id, peer_id)"
        " DO UPDATE SET last_id = max(last_id, excluded.last_id)",
    /* Per marker, a range of messages_room_id. */
    [ST_UNREAD_ROOMS] =
        "SELECT r.room_id, r.last_id,"
        " (SELECT count(*) FROM messages m WHERE m.room_id = r.room_id"
        "  AND m.id > r.last_id AND m.sender_id <> ?1)"
        " FROM read_markers r WHERE r.user_id = ?1 AND r.room_id <> 0"
        " ORDER BY r.room_id",
    /* Per peer, a range of direct_messages_receiver. */
    [ST_UNREAD_DMS] =
        "SELECT p.sender_id, u.username, coalesce(rm.last_id, 0),"
        " (SELECT count(*) FROM direct_messages d WHERE d.receiver_id = ?1"
        "  AND d.sender_id = p.sender_id AND d.id > coalesce(rm.last_id, 0))"
        " FROM (SELECT DISTINCT sender_id FROM direct_messages"
        "       WHERE receiver_id = ?1 AND sender_id <> ?1) p"
        " JOIN users u ON u.id = p.sender_id"
        " LEFT JOIN read_markers rm ON rm.user_id = ?1 AND rm.room_id = 0"
        "  AND rm.peer_id = p.sender_id"
        " ORDER BY u.username",
    /* ?2/?3 NULL: keep the display name (and its key); ?4 NULL: the
     * e-mail. */
    [ST_USER_SET_PROFILE] =
        "UPDATE users SET display_name = coalesce(?2, display_name),"
        " display_key = coalesce(?3, display_key),"
        " email = coalesce(?4, email) WHERE id = ?1",
    /* Prefix scans (backend.h, user_range): a range of the unique NOCASE
     * index of usernames, of users_display_key (007). */
    [ST_USER_RANGE_NAME] = "SELECT " USER_COLS " FROM users"
                           " WHERE username >= ?1 AND username < ?2"
                           " AND banned = 0 ORDER BY username LIMIT ?3",
    [ST_USER_RANGE_DISPLAY] = "SELECT " USER_COLS " FROM users"
                              " WHERE display_key >= ?1 AND display_key < ?2"
                              " AND banned = 0 ORDER BY display_key LIMIT ?3",
};
