-- 004: usernames are unique by their identity key.
--
-- ident_key is the UTS #39 skeleton of the name's NFKC_Casefold form
-- (src/core/ident.h): bob, BOB, ｂｏｂ (full-width), bоb (Cyrillic о),
-- 𝐛𝐨𝐛, ⓑⓞⓑ and bob followed by a Hangul filler all have the key "bob".  The
-- backend writes it with every new user and finds users by it.  Compared
-- byte for byte (TEXT with the BINARY collation): the key is folded already.
-- The old rule, names unique without regard to ASCII case (username
-- COLLATE NOCASE UNIQUE, 001), stays.
--
-- After this file, in the same transaction, the backend computes the key
-- of every user stored before (src/store/sqlite.c, backfill_keys), oldest
-- (lowest id) first.  Two old users may share a key (bob and bоb): the
-- younger one keeps a NULL key (NULLs never collide in a UNIQUE index) and
-- a warning names it in the log.  Nobody is renamed or locked out: such a
-- user is still found by its exact name (ASCII case aside, as before 004),
-- any other spelling finds the older user, and no new user can take any
-- spelling of the name.

ALTER TABLE users ADD COLUMN ident_key TEXT;

CREATE UNIQUE INDEX users_ident_key ON users(ident_key);
