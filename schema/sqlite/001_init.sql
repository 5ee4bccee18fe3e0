-- 001: users, sessions, rooms and room messages.
--
-- Migrations run in file-name order, each in one transaction; PRAGMA
-- user_version counts the files applied.  A file never changes once
-- released: later changes go into 002_*.sql and so on.
--
-- Names compare with COLLATE NOCASE, which folds ASCII letters only, as
-- store.h promises ("unique without regard to ASCII case").

-- Users are banned, never deleted.  (Deleting one would scan messages for
-- its sender_id; a migration that adds deletion adds that index too.)
CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  username   TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  email      TEXT    NOT NULL DEFAULT '',
  pwhash     TEXT    NOT NULL,
  role       INTEGER NOT NULL DEFAULT 0,   -- chat_role_t
  banned     INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);

-- Keyed by the SHA-256 of the token; the token itself is never stored.
CREATE TABLE sessions (
  token_hash BLOB    PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE rooms (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  topic      TEXT    NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL
);

-- AUTOINCREMENT: an id is never handed out twice, even after the newest
-- rows are deleted, so a client's "since" or "before" never names a
-- different message than it saw.
CREATE TABLE messages (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  sender_id INTEGER NOT NULL REFERENCES users(id),
  text      TEXT    NOT NULL,
  cid       TEXT    NULL,      -- the client's id, for de-duplication
  ts        INTEGER NOT NULL
);

-- History pages: WHERE room_id = ? AND id < ? ORDER BY id DESC.
CREATE INDEX messages_room_id ON messages(room_id, id);

-- A client that resends after a lost ack gets its first message back.
CREATE UNIQUE INDEX messages_sender_cid ON messages(sender_id, cid)
  WHERE cid IS NOT NULL;

INSERT INTO rooms (name, topic, created_ms)
VALUES ('lobby', '大厅 / Lobby',
        CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
