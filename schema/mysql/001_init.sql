-- 001: users, sessions, rooms and room messages (MySQL / MariaDB).
--
-- The same tables as schema/sqlite/001_init.sql.  Migrations run in
-- file-name order; the table schema_version (created by the backend) holds
-- one row per file applied.  A file never changes once released: later
-- changes go into 002_*.sql and so on.
--
-- DDL commits implicitly in MySQL, so a file cannot be one transaction.
-- Instead every statement here can run again (IF NOT EXISTS, INSERT IGNORE):
-- a file interrupted half-way is completed by the next open.
--
-- Text is utf8mb4 everywhere (Chinese, emoji).  Names are unique without
-- regard to ASCII case and byte-exact otherwise, as store.h promises and as
-- SQLite's NOCASE does: a _ci collation would also fold accents and
-- non-ASCII case (Ω = ω), would treat every emoji alike (utf8mb4_unicode_ci)
-- and would ignore trailing spaces (PAD SPACE).  So each name has a stored
-- generated key: its UTF-8 bytes with A-Z mapped to a-z (a byte-wise
-- REPLACE is safe, UTF-8 never uses bytes below 0x80 inside a multi-byte
-- character), in a VARBINARY column with the unique index.  The backend
-- looks names up by the same key, computed the same way.  cid is an opaque
-- client id compared byte for byte: VARBINARY too.
--
-- Lengths follow the record sizes of src/store/store.h: names up to 128
-- bytes, e-mail 255, topic 1023, cid 127.  VARCHAR counts characters, so the
-- byte limits always fit.

CREATE TABLE IF NOT EXISTS users (
  id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  username     VARCHAR(128) NOT NULL COLLATE utf8mb4_bin,
  username_key VARBINARY(512) AS (
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
      CAST(username AS BINARY),
      'A', 'a'), 'B', 'b'), 'C', 'c'), 'D', 'd'), 'E', 'e'), 'F', 'f'),
      'G', 'g'), 'H', 'h'), 'I', 'i'), 'J', 'j'), 'K', 'k'), 'L', 'l'),
      'M', 'm'), 'N', 'n'), 'O', 'o'), 'P', 'p'), 'Q', 'q'), 'R', 'r'),
      'S', 's'), 'T', 't'), 'U', 'u'), 'V', 'v'), 'W', 'w'), 'X', 'x'),
      'Y', 'y'), 'Z', 'z')) STORED,
  email        VARCHAR(255) NOT NULL DEFAULT '',
  pwhash       VARCHAR(159) NOT NULL COLLATE utf8mb4_bin,
  role         TINYINT      NOT NULL DEFAULT 0,  -- chat_role_t
  banned       TINYINT      NOT NULL DEFAULT 0,
  created_ms   BIGINT       NOT NULL,
  UNIQUE KEY users_username_key (username_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Keyed by the SHA-256 of the token; the token itself is never stored.
CREATE TABLE IF NOT EXISTS sessions (
  token_hash BINARY(32) NOT NULL PRIMARY KEY,
  user_id    BIGINT     NOT NULL,
  created_ms BIGINT     NOT NULL,
  expires_ms BIGINT     NOT NULL,
  KEY sessions_user (user_id),
  CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS rooms (
  id         BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name       VARCHAR(128)  NOT NULL COLLATE utf8mb4_bin,
  name_key   VARBINARY(512) AS (
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
    REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(
      CAST(name AS BINARY),
      'A', 'a'), 'B', 'b'), 'C', 'c'), 'D', 'd'), 'E', 'e'), 'F', 'f'),
      'G', 'g'), 'H', 'h'), 'I', 'i'), 'J', 'j'), 'K', 'k'), 'L', 'l'),
      'M', 'm'), 'N', 'n'), 'O', 'o'), 'P', 'p'), 'Q', 'q'), 'R', 'r'),
      'S', 's'), 'T', 't'), 'U', 'u'), 'V', 'v'), 'W', 'w'), 'X', 'x'),
      'Y', 'y'), 'Z', 'z')) STORED,
  topic      VARCHAR(1023) NOT NULL DEFAULT '',
  created_ms BIGINT        NOT NULL,
  UNIQUE KEY rooms_name_key (name_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- InnoDB keeps the AUTO_INCREMENT counter across restarts (MariaDB 10.2.4+,
-- MySQL 8.0), so, as with SQLite's AUTOINCREMENT, an id is never handed out
-- twice and a client's "since" or "before" never names a different message
-- than it saw.  Users are banned, never deleted: no cascade from users.
CREATE TABLE IF NOT EXISTS messages (
  id        BIGINT         NOT NULL AUTO_INCREMENT PRIMARY KEY,
  room_id   BIGINT         NOT NULL,
  sender_id BIGINT         NOT NULL,
  text      MEDIUMTEXT     NOT NULL,
  cid       VARBINARY(127) NULL,      -- the client's id, for de-duplication
  ts        BIGINT         NOT NULL,
  -- History pages: WHERE room_id = ? AND id < ? ORDER BY id DESC.
  KEY messages_room_id (room_id, id),
  -- A client that resends after a lost ack gets its first message back.
  -- NULLs never collide in a unique index: messages without cid are many.
  -- Also the index of the sender foreign key.
  UNIQUE KEY messages_sender_cid (sender_id, cid),
  CONSTRAINT messages_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
    ON DELETE CASCADE,
  CONSTRAINT messages_sender_fk FOREIGN KEY (sender_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO rooms (name, topic, created_ms)
VALUES ('lobby', '大厅 / Lobby',
        CAST(UNIX_TIMESTAMP(CURRENT_TIMESTAMP(3)) * 1000 AS SIGNED));
