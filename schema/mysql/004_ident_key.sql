-- 004: usernames are unique by their identity key (MySQL / MariaDB).
--
-- The same column as schema/sqlite/004_ident_key.sql: ident_key, the UTS #39
-- skeleton of the name's NFKC_Casefold form (src/core/ident.h), so that bob,
-- BOB, ｂｏｂ, bоb (Cyrillic о), 𝐛𝐨𝐛, ⓑⓞⓑ and bob followed by a Hangul filler
-- are one name.  The backend writes it with every new user and finds users
-- by it.  VARBINARY: compared byte for byte with no pad (a utf8mb4_bin
-- VARCHAR would ignore trailing spaces and, counting 4 bytes a character,
-- could not be indexed at the key's length); the key is valid UTF-8 and
-- already folded.  At most 767 bytes (CHAT_IDENT_KEY_MAX - 1), which every
-- InnoDB row format can index.  The old rule, names unique without regard to
-- ASCII case (username_key, 001), stays.
--
-- As in 001_init.sql every statement can run again (MySQL has no ADD COLUMN
-- IF NOT EXISTS: see 002_community.sql).  After this file, and before the
-- version is recorded, the backend computes the key of every user stored
-- before (src/store/mysql_migrate.c, backfill_keys), oldest (lowest id)
-- first; it only fills keys that are NULL, so it can run again too.  Two old
-- users may share a key (bob and bоb): the younger one keeps a NULL key (NULLs
-- never collide in a UNIQUE index) and a warning names it in the log.  Nobody
-- is renamed or locked out: such a user is still found by its exact name
-- (ASCII case aside, as before 004), any other spelling finds the older user,
-- and no new user can take any spelling of the name.

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'ALTER TABLE users ADD COLUMN ident_key VARBINARY(767) NULL',
            'DO 0')
  FROM information_schema.columns
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND column_name = 'ident_key');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;

SET @chat_sql = (
  SELECT IF(COUNT(*) = 0,
            'CREATE UNIQUE INDEX users_ident_key ON users (ident_key)',
            'DO 0')
  FROM information_schema.statistics
  WHERE table_schema = DATABASE() AND table_name = 'users'
    AND index_name = 'users_ident_key');
PREPARE chat_stmt FROM @chat_sql;
EXECUTE chat_stmt;
DEALLOCATE PREPARE chat_stmt;
