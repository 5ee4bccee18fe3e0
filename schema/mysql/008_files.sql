-- 008: files and images, avatars (MySQL / MariaDB).
--
-- The same tables as schema/sqlite/008_files.sql (see there).  name holds
-- up to 255 characters; path and thumb are ASCII names (utf8mb4 like every
-- column) relative to the files directory.  As in 004 every statement can run again.

CREATE TABLE IF NOT EXISTS files (
  id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  owner_id   BIGINT NOT NULL,
  name       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  size       BIGINT NOT NULL,
  type       VARCHAR(127) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  path       VARCHAR(127) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  thumb      VARCHAR(127) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  created_ms BIGINT NOT NULL,
  msg_kind   TINYINT NOT NULL DEFAULT 0,
  msg_id     BIGINT NOT NULL DEFAULT 0,
  KEY files_msg (msg_kind, msg_id),
  KEY files_owner (owner_id),
  CONSTRAINT files_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN avatar_file BIGINT NOT NULL DEFAULT 0',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'avatar_file');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;
