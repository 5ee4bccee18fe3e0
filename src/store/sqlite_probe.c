/* The SQLite backend's write probe (store.h, chat_store_write_probe).
 *
 * Why a real write and not BEGIN IMMEDIATE and a rollback: taking the write
 * lock only touches the -shm index (memory mapped), so it succeeds on a
 * database whose file can no longer be written (a full disk, a file system
 * remounted read-only, RLIMIT_FSIZE); only a commit appends to the WAL and
 * syncs it, as every message insert does.  So the probe changes one row of
 * health_probe (schema/sqlite/006) and commits through chat_sqlite_tx, the
 * helper every write uses: same writer lock, same BUSY retries, same
 * durability.  The statement is constant text (no bound values), run with
 * sqlite3_exec: the probe runs at most once a second, so it has no place in
 * the prepared statement table. */
#include "sqlite_int.h"

static const char PROBE_SQL[] =
    "INSERT INTO health_probe (id, n) VALUES (1, 1)"
    " ON CONFLICT (id) DO UPDATE SET n = n + 1";

static int probe_step(conn_t *c, void *arg) {
  (void)arg;
  int rc = sqlite3_exec(c->db, PROBE_SQL, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : chat_sqlite_fail(c, "write probe", rc);
}

int chat_sqlite_write_probe(chat_store_t *s) {
  return chat_sqlite_tx(s, "write probe", probe_step, NULL);
}
