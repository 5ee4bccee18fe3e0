-- 009: replies, mentions, reactions, edits and tombstones.
--
-- kind is the search kind of the message (0 a room message in messages,
-- 1 a direct message in direct_messages), as in search_tokens.
--
-- msg_extras holds a row only for a message that has something besides
-- the v1 fields (a reply, mentions, an edit, a deletion), so reading a
-- page of history costs one indexed lookup of its ids.  A deleted message
-- keeps its row in messages / direct_messages with the text emptied (a
-- tombstone) and deleted = 1 here.  mentions is a JSON array of usernames.
CREATE TABLE msg_extras (
  kind      INTEGER NOT NULL,
  msg_id    INTEGER NOT NULL,
  reply_to  INTEGER NULL,
  edited_ts INTEGER NULL,
  deleted   INTEGER NOT NULL DEFAULT 0,
  mentions  TEXT    NULL,
  PRIMARY KEY (kind, msg_id)
) WITHOUT ROWID;

-- One row per (mentioned user, message): GET /api/unread counts those
-- after the user's read marker by a range of this key.  room_id 0 and
-- peer_id the sender for a direct message.
CREATE TABLE mentions (
  user_id INTEGER NOT NULL,
  room_id INTEGER NOT NULL,
  peer_id INTEGER NOT NULL,
  msg_id  INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, peer_id, msg_id)
) WITHOUT ROWID;

-- Reactions: one row per (message, emoji, user).
CREATE TABLE reactions (
  kind    INTEGER NOT NULL,
  msg_id  INTEGER NOT NULL,
  emoji   BLOB    NOT NULL,
  user_id INTEGER NOT NULL,
  ts      INTEGER NOT NULL,
  PRIMARY KEY (kind, msg_id, emoji, user_id)
) WITHOUT ROWID;

-- A recall removes the mention rows of its message.
CREATE INDEX mentions_msg ON mentions(room_id, msg_id);
