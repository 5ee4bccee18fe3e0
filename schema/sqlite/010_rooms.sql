-- 010: stored room membership, private rooms and group conversations,
-- owners, the announcement, pinned messages and per-room mute.
--
-- visibility: 0 public (listed for everyone, a join makes the user a
-- member), 1 private (only members see it).  A private room's `name`
-- column holds an internal key ("\x01p" and random hex, never a valid room
-- name, so it never collides with a public room's unique name and never
-- reveals that a private room exists); its shown name is `title` ('' for a
-- group conversation, which is shown by its members' names).
-- owner_id: the user who owns the room (0: nobody, the rooms made before
-- 010 and by `chatd` itself).  announcement: the room's notice, '' if none.
ALTER TABLE rooms ADD COLUMN visibility INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN owner_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN announcement TEXT NOT NULL DEFAULT '';

-- A user's rooms, the same on every device.  muted: no mail and no browser
-- notification for the room (unread still counts).  joined_ms orders the
-- members (the oldest member takes over a room whose owner left).
CREATE TABLE room_members (
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  muted     INTEGER NOT NULL DEFAULT 0,
  joined_ms INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

CREATE INDEX room_members_user ON room_members(user_id);

-- Pinned messages of a room (a bounded number, checked by the backend).
-- msg_id is not a foreign key (a deleted message's pin is left behind and
-- never shown: readers join messages).
CREATE TABLE room_pins (
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  msg_id    INTEGER NOT NULL,
  pinned_ms INTEGER NOT NULL,
  PRIMARY KEY (room_id, msg_id)
) WITHOUT ROWID;

-- Before 010 a user's rooms were what each browser remembered; a read
-- marker is the trace the server has of them, so those users are members.
INSERT OR IGNORE INTO room_members (room_id, user_id, muted, joined_ms)
  SELECT rm.room_id, rm.user_id, 0, 0
  FROM read_markers rm JOIN rooms r ON r.id = rm.room_id
  WHERE rm.room_id <> 0;
