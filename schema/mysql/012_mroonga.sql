-- 012: the search index moves to Mroonga, MariaDB's full-text engine for
-- CJK text (Debian: mariadb-plugin-mroonga; the server must load it, e.g.
-- plugin-load-add = ha_mroonga.so, or INSTALL SONAME 'ha_mroonga').
--
-- search_tokens held an InnoDB row per distinct token of every message
-- (about fifty per message).  search_fts holds one row per message (two for
-- a direct message: one per participant), with the text and a FULLTEXT
-- index of its bigrams:
--   kind 0: scope = the room,              msg_id = messages.id
--   kind 1: scope = the sender or receiver, msg_id = direct_messages.id
-- TokenBigramSplitSymbolAlphaDigit makes bigrams of every script, letters
-- and digits included, so any substring of two or more characters is a
-- phrase of bigrams (and one character a prefix of them); NormalizerAuto
-- folds case and width.  Mroonga finds candidates, the store's text check
-- (ASCII case aside, byte for byte otherwise) keeps the matches.
--
-- search_cursor keeps its meaning: the messages with ids up to a cursor that
-- are not tombstones (text '') have their rows.  Mroonga is not
-- transactional: its rows are written with REPLACE, so running a statement
-- again (or a rolled-back indexer running again) changes nothing.  Every
-- statement can run again (see 001_init.sql).

CREATE TABLE IF NOT EXISTS search_fts (
  kind   TINYINT NOT NULL,
  scope  BIGINT  NOT NULL,
  msg_id BIGINT  NOT NULL,
  body   TEXT    NOT NULL,
  PRIMARY KEY (kind, scope, msg_id),
  KEY search_fts_msg (msg_id),
  KEY search_fts_scope (scope),
  FULLTEXT INDEX search_fts_body (body)
    COMMENT 'tokenizer "TokenBigramSplitSymbolAlphaDigit", normalizer "NormalizerAuto"'
) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

REPLACE INTO search_fts (kind, scope, msg_id, body)
  SELECT 0, room_id, id, text FROM messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 0) AND text <> '';
REPLACE INTO search_fts (kind, scope, msg_id, body)
  SELECT 1, sender_id, id, text FROM direct_messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 1) AND text <> '';
REPLACE INTO search_fts (kind, scope, msg_id, body)
  SELECT 1, receiver_id, id, text FROM direct_messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 1) AND text <> '';

DROP TABLE IF EXISTS search_tokens;
