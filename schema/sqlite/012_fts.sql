-- 012: the search index moves to FTS5 (src/store/sqlite_fts.h).
--
-- search_tokens held a B-tree row per distinct token of every message
-- (about fifty per message); two FTS5 tables hold the same tokens as
-- compressed lists of message ids:
--   search_room: rowid = messages.id,        tag "\x01r<room_id>"
--   search_dm:   rowid = direct_messages.id, tag "\x01u<sender> \x01u<receiver>"
-- body is the message text, tokenized by "chat" (our tokenizer, which the
-- backend registers on every connection before the migrations run):
-- unigrams and bigrams of the code points, ASCII folded, as tokens.h.
-- Contentless (content=''): the text stays in messages only; detail=none:
-- no positions (the text check confirms every candidate); columnsize=0: no
-- per-row sizes (nothing is ranked, results are newest first).
--
-- search_cursor keeps its meaning: every message with an id at or below
-- its kind's cursor has its row here, indexed with its current text and
-- tag; messages above it are indexed later by chat_store_index_pending.
-- Messages with an empty text (tombstones) have no row: a row is removed
-- with the values it was indexed with, so which messages have one must
-- follow from the stored data alone.

DROP TABLE search_tokens;

CREATE VIRTUAL TABLE search_room USING fts5(
  body, tag, content='', detail=none, columnsize=0, tokenize='chat');
CREATE VIRTUAL TABLE search_dm USING fts5(
  body, tag, content='', detail=none, columnsize=0, tokenize='chat');

INSERT INTO search_room (rowid, body, tag)
  SELECT id, text, char(1) || 'r' || room_id FROM messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 0)
    AND text <> ''
  ORDER BY id;
INSERT INTO search_dm (rowid, body, tag)
  SELECT id, text,
         char(1) || 'u' || sender_id || ' ' || char(1) || 'u' || receiver_id
  FROM direct_messages
  WHERE id <= (SELECT last_id FROM search_cursor WHERE kind = 1)
    AND text <> ''
  ORDER BY id;

-- One b-tree per table after the bulk load: smallest and fastest to read.
INSERT INTO search_room (search_room) VALUES ('optimize');
INSERT INTO search_dm (search_dm) VALUES ('optimize');
