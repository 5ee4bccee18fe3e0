-- 002: e-mail notification setting, direct messages, friendships, the
-- search index, the audit log and read markers.
--
-- Runs in one transaction like every migration (see 001_init.sql).  (Up to
-- 011 the backend then filled search_tokens with the messages stored
-- before; since 012 replaced that table, 012 indexes every message up to
-- the search cursors instead, so a database upgraded from 001 still finds
-- its old messages.)

ALTER TABLE users ADD COLUMN email_notify INTEGER NOT NULL DEFAULT 1;

-- The original design's chat_record: a message from sender to receiver.
-- Ids come from their own sequence (AUTOINCREMENT, never reused, as for
-- room messages).  user_lo and user_hi are the pair without direction
-- (written by the backend; the CHECK keeps them honest), so one index pages
-- a conversation in both directions:
--   WHERE user_lo = ? AND user_hi = ? AND id < ? ORDER BY id DESC.
CREATE TABLE direct_messages (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  sender_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  receiver_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  user_lo     INTEGER NOT NULL,
  user_hi     INTEGER NOT NULL,
  text        TEXT    NOT NULL,
  cid         TEXT    NULL,      -- the client's id, for de-duplication
  ts          INTEGER NOT NULL,
  CHECK (user_lo = min(sender_id, receiver_id) AND
         user_hi = max(sender_id, receiver_id))
);

CREATE INDEX direct_messages_pair ON direct_messages(user_lo, user_hi, id);

-- Unread counts per peer: WHERE receiver_id = ? AND sender_id = ? AND
-- id > ?.  Also the index of the receiver foreign key.
CREATE INDEX direct_messages_receiver
  ON direct_messages(receiver_id, sender_id, id);

-- A resent cid gets its first message back.  NULLs never collide in a
-- UNIQUE index, so messages without cid are many, as with "WHERE cid IS
-- NOT NULL"; the full index also serves the sender foreign key.
CREATE UNIQUE INDEX direct_messages_sender_cid
  ON direct_messages(sender_id, cid);

-- A friend request (accepted = 0) or a friendship (accepted = 1) between
-- user_lo < user_hi; requester_id is the one of the two who asked.  One row
-- per pair, whoever asked: a request the other user also makes is
-- accepted, not doubled.  Both users are foreign keys (user_lo through the
-- primary key, user_hi through friendships_hi).
CREATE TABLE friendships (
  user_lo      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  user_hi      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  requester_id INTEGER NOT NULL,
  accepted     INTEGER NOT NULL DEFAULT 0,
  created_ms   INTEGER NOT NULL,
  PRIMARY KEY (user_lo, user_hi),
  CHECK (user_lo < user_hi AND requester_id IN (user_lo, user_hi))
) WITHOUT ROWID;

CREATE INDEX friendships_hi ON friendships(user_hi);

-- The search index: one row per distinct token of a message (unigrams and
-- bigrams of its code points, ASCII folded: src/store/tokens.h), as bytes.
-- kind 0: msg_id is a room message (messages.id); kind 1: a direct message
-- (direct_messages.id).  The primary key makes "the newest messages with
-- this token" a range scan read backwards:
--   WHERE token = ? AND kind = ? AND msg_id < ? ORDER BY msg_id DESC.
-- No foreign key (msg_id points into two tables): the backend deletes a
-- message's rows with the message (msg_delete, room_delete, through
-- search_tokens_msg); nothing else deletes messages.
CREATE TABLE search_tokens (
  token  BLOB    NOT NULL,
  kind   INTEGER NOT NULL,
  msg_id INTEGER NOT NULL,
  PRIMARY KEY (token, kind, msg_id)
) WITHOUT ROWID;

CREATE INDEX search_tokens_msg ON search_tokens(kind, msg_id);

-- Who did what (bans, deletions, ...).  actor_id is kept as a plain number:
-- the log outlives what it names.
CREATE TABLE audit_log (
  id       INTEGER PRIMARY KEY,
  actor_id INTEGER NOT NULL,
  action   TEXT    NOT NULL,
  target   TEXT    NOT NULL DEFAULT '',
  detail   TEXT    NOT NULL DEFAULT '',
  ts       INTEGER NOT NULL
);

-- A user's last-read message of a room (peer_id 0) or of the direct
-- messages with a peer (room_id 0).  Markers only move forward.  A room's
-- markers are deleted with the room (by the backend: room_id 0 cannot be a
-- foreign key; that delete scans the table, which is fine for a rare
-- admin action, while an index on room_id would cost every mark).
CREATE TABLE read_markers (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  room_id INTEGER NOT NULL DEFAULT 0,
  peer_id INTEGER NOT NULL DEFAULT 0,
  last_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, peer_id)
) WITHOUT ROWID;
