-- 013: no index on (room_id, seq).
--
-- Within a room, ids follow seq (005: a batch takes its numbers in the
-- transaction that inserts it, and commits follow seq order), so the index
-- on (room_id, id) finds a range of seqs too: gap fetches look for the first
-- id at or after a seq by bisection over that index (sqlite_ops.c,
-- msg_by_seq).  The second index cost every stored message a B-tree insert
-- and, at every commit, the last leaf of each room written to the WAL again
-- (bench/sqlite_indexes.py: about a fifth of the WAL bytes of a message).

DROP INDEX messages_room_seq;
