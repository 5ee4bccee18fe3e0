-- 009: replies, mentions, reactions, edits and tombstones (MySQL / MariaDB).
--
-- The same tables as schema/sqlite/009_extras.sql (see there).  emoji is
-- VARBINARY so that two different emoji never compare equal under a
-- collation.  Every statement can run again.

CREATE TABLE IF NOT EXISTS msg_extras (
  kind      TINYINT NOT NULL,
  msg_id    BIGINT  NOT NULL,
  reply_to  BIGINT  NULL,
  edited_ts BIGINT  NULL,
  deleted   TINYINT NOT NULL DEFAULT 0,
  mentions  TEXT    NULL,
  PRIMARY KEY (kind, msg_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS mentions (
  user_id BIGINT NOT NULL,
  room_id BIGINT NOT NULL,
  peer_id BIGINT NOT NULL,
  msg_id  BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, peer_id, msg_id),
  KEY mentions_msg (room_id, msg_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS reactions (
  kind    TINYINT       NOT NULL,
  msg_id  BIGINT        NOT NULL,
  emoji   VARBINARY(32) NOT NULL,
  user_id BIGINT        NOT NULL,
  ts      BIGINT        NOT NULL,
  PRIMARY KEY (kind, msg_id, emoji, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
