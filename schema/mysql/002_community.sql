-- 002: e-mail notification setting, direct messages, friendships, the
-- search index, the audit log and read markers (MySQL / MariaDB).
--
-- The same tables as schema/sqlite/002_community.sql.  As in 001_init.sql,
-- every statement can run again: a file interrupted half-way is completed
-- by the next open.  (Up to 011 the backend then filled search_tokens with
-- the messages stored before; since 012 replaced that table, 012 indexes
-- every message up to the search cursors instead.)
--
-- No triggers: creating one needs the TRIGGER privilege and, with binary
-- logging on, SUPER or log_bin_trust_function_creators.  The backend deletes
-- search rows itself.  No CHECK constraints on the user columns either:
-- MySQL refuses them on columns with ON DELETE CASCADE.

-- MySQL has no ADD COLUMN IF NOT EXISTS (MariaDB has): the statement to run
-- is chosen from information_schema and run with PREPARE.  Constant text;
-- the user variable lives in this session only.
SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN email_notify TINYINT NOT NULL DEFAULT 1',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'email_notify');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

-- The original design's chat_record: a message from sender to receiver,
-- ids from their own sequence.  user_lo and user_hi are the pair without
-- direction (LEAST and GREATEST of the two ids, written by the backend), so
-- one index pages a conversation in both directions.  The cid index also
-- serves the sender foreign key; the receiver index the receiver's, and
-- unread counts per peer.
CREATE TABLE IF NOT EXISTS direct_messages (
  id          BIGINT         NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sender_id   BIGINT         NOT NULL,
  receiver_id BIGINT         NOT NULL,
  user_lo     BIGINT         NOT NULL,
  user_hi     BIGINT         NOT NULL,
  text        MEDIUMTEXT     NOT NULL,
  cid         VARBINARY(127) NULL,      -- the client's id, for de-duplication
  ts          BIGINT         NOT NULL,
  KEY direct_messages_pair (user_lo, user_hi, id),
  KEY direct_messages_receiver (receiver_id, sender_id, id),
  UNIQUE KEY direct_messages_sender_cid (sender_id, cid),
  CONSTRAINT direct_messages_sender_fk FOREIGN KEY (sender_id)
    REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT direct_messages_receiver_fk FOREIGN KEY (receiver_id)
    REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A friend request (accepted = 0) or a friendship (accepted = 1) between
-- user_lo < user_hi; requester_id is the one of the two who asked.  One row
-- per pair, whoever asked.
CREATE TABLE IF NOT EXISTS friendships (
  user_lo      BIGINT  NOT NULL,
  user_hi      BIGINT  NOT NULL,
  requester_id BIGINT  NOT NULL,
  accepted     TINYINT NOT NULL DEFAULT 0,
  created_ms   BIGINT  NOT NULL,
  PRIMARY KEY (user_lo, user_hi),
  KEY friendships_hi (user_hi),
  CONSTRAINT friendships_lo_fk FOREIGN KEY (user_lo) REFERENCES users (id)
    ON DELETE CASCADE,
  CONSTRAINT friendships_hi_fk FOREIGN KEY (user_hi) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The search index: one row per distinct token of a message (src/store/
-- tokens.h), as bytes: VARBINARY compares byte for byte, with no collation
-- and no padding.  kind 0: a room message, kind 1: a direct message.  The
-- primary key makes "the newest messages with this token" a range scan read
-- backwards; search_tokens_msg finds a message's rows when it is deleted.
CREATE TABLE IF NOT EXISTS search_tokens (
  token  VARBINARY(8) NOT NULL,
  kind   TINYINT      NOT NULL,
  msg_id BIGINT       NOT NULL,
  PRIMARY KEY (token, kind, msg_id),
  KEY search_tokens_msg (kind, msg_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Who did what.  Byte limits of src/store/backend.h: action 63, target 255,
-- detail 4095 (VARCHAR counts characters, so they always fit).
CREATE TABLE IF NOT EXISTS audit_log (
  id       BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  actor_id BIGINT        NOT NULL,
  action   VARCHAR(63)   NOT NULL,
  target   VARCHAR(255)  NOT NULL DEFAULT '',
  detail   VARCHAR(4095) NOT NULL DEFAULT '',
  ts       BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A user's last-read message of a room (peer_id 0) or of the direct
-- messages with a peer (room_id 0); only moves forward.
CREATE TABLE IF NOT EXISTS read_markers (
  user_id BIGINT NOT NULL,
  room_id BIGINT NOT NULL DEFAULT 0,
  peer_id BIGINT NOT NULL DEFAULT 0,
  last_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, peer_id),
  CONSTRAINT read_markers_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
