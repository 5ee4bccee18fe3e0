-- 005: a dense sequence of messages per room.
--
-- rooms.last_seq is the highest seq handed out in the room; messages.seq is
-- the message's number in its room: 1, 2, 3...  The backend takes the
-- numbers of a batch by raising last_seq in the same transaction as the
-- inserts (src/store/sqlite_ops.c, batch_step), so a rolled-back batch gives
-- them back, commits follow seq order within a room, and ids (which only
-- grow) follow it too.  A deleted message leaves a hole.  Direct messages
-- have no seq.
--
-- Messages stored before get their numbers here, in id order per room.

ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET seq = t.rn
FROM (SELECT id, row_number() OVER (PARTITION BY room_id ORDER BY id) AS rn
      FROM messages) AS t
WHERE t.id = messages.id;

UPDATE rooms
SET last_seq = coalesce((SELECT max(seq) FROM messages WHERE room_id = rooms.id), 0);

-- Gap fetches: WHERE room_id = ? AND seq >= ? AND seq < ? ORDER BY seq.
CREATE UNIQUE INDEX messages_room_seq ON messages(room_id, seq);
