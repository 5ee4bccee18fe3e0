-- 003: the search index is written behind the messages, not with them.
--
-- A message insert no longer writes search_tokens; chat_store_index_pending
-- indexes the stored messages a chunk at a time, oldest first, and moves
-- the cursor of their kind in the same transaction.  last_id is the highest
-- id of that kind that is indexed: every message with id <= last_id has its
-- search rows, a message with a higher id has none yet (a search checks
-- those directly, see store.c).  kind as in search_tokens: 0 room messages
-- (messages.id), 1 direct messages (direct_messages.id).
--
-- Up to 002 every message was indexed in its insert's transaction (and 002
-- indexed the older ones), so both cursors start at the highest id stored.
-- Ids are never reused (AUTOINCREMENT), so no later message can get an id
-- at or below them.

CREATE TABLE search_cursor (
  kind    INTEGER PRIMARY KEY,
  last_id INTEGER NOT NULL
);

INSERT INTO search_cursor (kind, last_id)
  SELECT 0, coalesce(max(id), 0) FROM messages;
INSERT INTO search_cursor (kind, last_id)
  SELECT 1, coalesce(max(id), 0) FROM direct_messages;
