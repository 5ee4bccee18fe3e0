-- 008: files and images (POST /api/files), avatars.
--
-- A file belongs to its uploader (owner_id) and, once a message carries it,
-- to that message: msg_kind 1 a room message (messages.id), 2 a direct
-- message (direct_messages.id), 0 none yet (msg_id 0).  A file is attached
-- to at most one message.  path and thumb are names relative to the files
-- directory (never derived from the user's name); thumb is '' when the file
-- has no thumbnail (not an image).  type is what libmagic found in the
-- content.  size counts towards the owner's quota until the file is
-- removed (with its message).
--
-- users.avatar_file: the file (an image its user uploaded) shown as the
-- user's avatar, 0 for none.

CREATE TABLE files (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  size       INTEGER NOT NULL,
  type       TEXT    NOT NULL,
  path       TEXT    NOT NULL,
  thumb      TEXT    NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  msg_kind   INTEGER NOT NULL DEFAULT 0,
  msg_id     INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX files_msg ON files(msg_kind, msg_id);
CREATE INDEX files_owner ON files(owner_id);

ALTER TABLE users ADD COLUMN avatar_file INTEGER NOT NULL DEFAULT 0;
