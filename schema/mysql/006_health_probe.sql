-- 006: a table for the write probe of GET /healthz (MySQL / MariaDB).
--
-- The same table as schema/sqlite/006_health_probe.sql:
-- chat_store_write_probe (src/store/mysql_probe.c) adds one to n of the
-- single row (id 1) in a transaction of its own, which proves that the
-- server still commits writes (not read_only, not out of space, not stuck
-- on a lock).  The probe writes the row if it is missing.  Every statement
-- can run again (see 001_init.sql).

CREATE TABLE IF NOT EXISTS health_probe (
  id INT    NOT NULL PRIMARY KEY,
  n  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
