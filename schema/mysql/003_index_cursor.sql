-- 003: the search index is written behind the messages, not with them
-- (MySQL / MariaDB).
--
-- The same table as schema/sqlite/003_index_cursor.sql: per kind (0 room
-- messages, 1 direct messages) the highest id indexed.  Every message with
-- id <= last_id has its search rows; a higher one has none yet and a search
-- checks it directly (store.c).  chat_store_index_pending moves a cursor in
-- the transaction that writes the rows (src/store/mysql_search.c, index_step).
--
-- Up to 002 every message was indexed with its insert, so both cursors
-- start at the highest id stored.  Every statement can run again (see
-- 001_init.sql): INSERT IGNORE keeps a cursor set by an earlier run, which
-- may have moved on since.

CREATE TABLE IF NOT EXISTS search_cursor (
  kind    TINYINT NOT NULL PRIMARY KEY,
  last_id BIGINT  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO search_cursor (kind, last_id)
  SELECT 0, COALESCE(MAX(id), 0) FROM messages;
INSERT IGNORE INTO search_cursor (kind, last_id)
  SELECT 1, COALESCE(MAX(id), 0) FROM direct_messages;
