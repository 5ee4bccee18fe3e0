-- 010: stored room membership, private rooms and group conversations,
-- owners, the announcement, pinned messages and per-room mute (MySQL /
-- MariaDB).  The same tables and columns as schema/sqlite/010_rooms.sql,
-- which explains them.  As in 004 every statement can run again.

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE rooms ADD COLUMN visibility TINYINT NOT NULL DEFAULT 0',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rooms'
    AND column_name = 'visibility');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE rooms ADD COLUMN owner_id BIGINT NOT NULL DEFAULT 0',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rooms'
    AND column_name = 'owner_id');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE rooms ADD COLUMN title VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''''',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rooms'
    AND column_name = 'title');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE rooms ADD COLUMN announcement VARCHAR(500) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''''',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rooms'
    AND column_name = 'announcement');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

CREATE TABLE IF NOT EXISTS room_members (
  room_id   BIGINT  NOT NULL,
  user_id   BIGINT  NOT NULL,
  muted     TINYINT NOT NULL DEFAULT 0,
  joined_ms BIGINT  NOT NULL,
  PRIMARY KEY (room_id, user_id),
  KEY room_members_user (user_id),
  CONSTRAINT room_members_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
    ON DELETE CASCADE,
  CONSTRAINT room_members_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS room_pins (
  room_id   BIGINT NOT NULL,
  msg_id    BIGINT NOT NULL,
  pinned_ms BIGINT NOT NULL,
  PRIMARY KEY (room_id, msg_id),
  CONSTRAINT room_pins_room_fk FOREIGN KEY (room_id) REFERENCES rooms (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO room_members (room_id, user_id, muted, joined_ms)
  SELECT rm.room_id, rm.user_id, 0, 0
  FROM read_markers rm JOIN rooms r ON r.id = rm.room_id
  WHERE rm.room_id <> 0;
