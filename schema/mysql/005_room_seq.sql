-- 005: a dense sequence of messages per room (MySQL / MariaDB).
--
-- The same columns as schema/sqlite/005_room_seq.sql: rooms.last_seq, the
-- highest seq handed out in the room, and messages.seq, the message's
-- number in its room (1, 2, 3...).  The backend raises last_seq first in
-- the transaction of a batch (src/store/mysql_batch.c), which locks the
-- room's row until the commit: numbers are dense (a rolled-back batch gives
-- them back), commits follow seq order within a room and so do ids.  A
-- deleted message leaves a hole.  Direct messages have no seq.
--
-- As in 001_init.sql every statement can run again (see 002_community.sql
-- for the ADD COLUMN pattern): the backfill numbers every message again,
-- in id order per room, which gives the same numbers each time.  Stop every
-- older chatd before upgrading: it would write messages without numbers.

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE rooms ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'rooms'
    AND column_name = 'last_seq');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE messages ADD COLUMN seq BIGINT NOT NULL DEFAULT 0',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'messages'
    AND column_name = 'seq');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

UPDATE messages m
JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS rn
      FROM messages) t ON t.id = m.id
SET m.seq = t.rn;

UPDATE rooms r
SET r.last_seq = (SELECT COALESCE(MAX(m.seq), 0) FROM messages m
                  WHERE m.room_id = r.id);

-- Gap fetches: WHERE room_id = ? AND seq >= ? AND seq < ? ORDER BY seq.
SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq)',
            'DO 0')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'messages'
    AND index_name = 'messages_room_seq');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;
