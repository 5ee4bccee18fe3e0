-- 011: notification channels (MySQL / MariaDB).
--
-- The same columns as schema/sqlite/011_notify_channels.sql: phone in
-- E.164 form ("+" and at most 15 digits, checked by the API), '' for none;
-- webhook_notify as email_notify (002) for the webhook.
--
-- As in 002 every statement can run again.

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN phone VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT ''''',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'phone');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN webhook_notify TINYINT NOT NULL DEFAULT 1',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'webhook_notify');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;
