-- 014: the cid indexes lead with the cid.
--
-- A client's cids grow with time (the front end's start with the time:
-- public/js/ws.js, newCid), so keyed by cid first every new message adds
-- its entry at the end of the index, in the few pages written anyway at
-- each commit.  Keyed by sender first, each message took a leaf of its
-- sender's own: one more page written to the WAL (and again by the
-- checkpoint) per message (bench/sqlite_indexes.py).  The pair is unique
-- either way; a client whose cids are random only costs its own inserts
-- a page each, as before.

DROP INDEX messages_sender_cid;
CREATE UNIQUE INDEX messages_cid_sender ON messages(cid, sender_id)
  WHERE cid IS NOT NULL;

DROP INDEX direct_messages_sender_cid;
CREATE UNIQUE INDEX direct_messages_cid_sender ON direct_messages(cid, sender_id);
