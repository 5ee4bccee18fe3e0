-- 012: the search index moves to Mroonga, MariaDB's full-text engine for
-- CJK text (Debian: mariadb-plugin-mroonga; the server must load it, e.g.
-- plugin-load-add = ha_mroonga.so, or INSTALL SONAME 'ha_mroonga').
--
-- search_tokens held an InnoDB row per distinct token of every message
-- (about fifty per message).  Now a message has one row (a direct message
-- one per participant) with its text under a FULLTEXT index of bigrams:
--   search_fts_room: msg_id = messages.id, room_id
--   search_fts_dm:   k = 2 * direct_messages.id (+ 1 for the receiver's
--                    row), user_id = the sender (k even) or the receiver
-- TokenBigramSplitSymbolAlphaDigit makes bigrams of every script, letters
-- and digits included, so any substring of two or more characters is a
-- phrase of bigrams (and one character a prefix of them); NormalizerAuto
-- folds case and width.  Mroonga finds candidates, the store's text check
-- (ASCII case aside, byte for byte otherwise) keeps the matches.  The
-- primary key is one integer, the order of the results: Mroonga then reads
-- "newest matches below an id" from its index ("fast order limit"); a
-- range over a secondary column would cost a scan of the table.
--
-- search_cursor keeps its meaning: the messages with ids up to a cursor that
-- are not tombstones (text '') have their rows.  Mroonga is not
-- transactional: its rows are written with REPLACE, so running a statement
-- again (or a rolled-back indexer running again) changes nothing.  Every
-- statement can run again (see 001_init.sql).

CREATE TABLE IF NOT EXISTS search_fts_room (
  msg_id  BIGINT NOT NULL PRIMARY KEY,
  room_id BIGINT NOT NULL,
  body    TEXT   NOT NULL,
  KEY search_fts_room_room (room_id),
  FULLTEXT INDEX search_fts_room_body (body)
    COMMENT 'tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "NormalizerAuto"'
) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS search_fts_dm (
  k       BIGINT NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  body    TEXT   NOT NULL,
  KEY search_fts_dm_user (user_id),
  FULLTEXT INDEX search_fts_dm_body (body)
    COMMENT 'tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "NormalizerAuto"'
) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

REPLACE INTO search_fts_room (msg_id, room_id, body)
  SELECT id, room_id, text FROM messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 0) AND text <> '';
REPLACE INTO search_fts_dm (k, user_id, body)
  SELECT 2 * id, sender_id, text FROM direct_messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 1) AND text <> '';
REPLACE INTO search_fts_dm (k, user_id, body)
  SELECT 2 * id + 1, receiver_id, text FROM direct_messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 1) AND text <> '';

DROP TABLE IF EXISTS search_tokens;
