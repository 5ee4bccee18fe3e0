-- 006: a table for the write probe of GET /healthz.
--
-- chat_store_write_probe (src/store/sqlite_probe.c) adds one to n of the
-- single row (id 1) in a transaction of its own, which proves that the
-- database can still commit a write: a store whose reads work while its
-- writes fail (a file system gone read-only, a full disk, a file size
-- limit, a lock another process keeps) answers /healthz with 503 and
-- "store":"read_only".  /healthz probes at most once a second, so the row
-- costs nothing; nothing else reads it.  The probe writes the row if it is
-- missing, so this file only creates the table.

CREATE TABLE IF NOT EXISTS health_probe (
  id INTEGER PRIMARY KEY,
  n  INTEGER NOT NULL
);
