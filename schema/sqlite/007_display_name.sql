-- 007: display names.
--
-- display_name is the name a user chose to be shown (PATCH /api/me): at
-- most 32 characters of any script, trimmed, NFC (core/text.h,
-- chat_display_name_check).  '' means none chosen: the API shows the
-- username then, so existing users need no backfill.
--
-- display_key is the display name with ASCII A-Z folded to a-z (written by
-- the backend with display_name, '' when there is none): GET /api/users
-- finds names by prefix with a range scan of this index
-- (display_key >= prefix AND display_key < prefix || x'FF'), compared byte
-- for byte (BINARY).  Usernames are found the same way through their
-- unique COLLATE NOCASE index (001).

ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN display_key TEXT NOT NULL DEFAULT '';

CREATE INDEX users_display_key ON users(display_key);
