-- 007: display names (MySQL / MariaDB).
--
-- The same columns as schema/sqlite/007_display_name.sql.  display_name is
-- utf8mb4 (any script, emoji): 32 characters, so VARCHAR(32) holds it;
-- '' means none chosen (the API shows the username).  display_key is the
-- display name with ASCII A-Z folded to a-z, written by the backend,
-- VARBINARY so that the prefix range scan of GET /api/users
-- (display_key >= ? AND display_key < ?) compares bytes, as username_key
-- (001) does for usernames.  At most 128 bytes (32 characters of 4 bytes).
--
-- As in 004 every statement can run again.

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN display_name VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''''',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'display_name');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN display_key VARBINARY(128) NOT NULL DEFAULT ''''',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'display_key');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'CREATE INDEX users_display_key ON users (display_key)',
            'DO 0')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND index_name = 'users_display_key');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;
