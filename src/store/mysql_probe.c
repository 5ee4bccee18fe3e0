/* The MySQL backend's write probe (store.h, chat_store_write_probe): one
 * row of health_probe (schema/mysql/006) changed and committed through
 * chat_mysql_tx, the helper every write uses, so a server that answers
 * pings but refuses or cannot complete writes (read_only, a full disk, a
 * lock held past LOCK_WAIT_S) fails it.  Constant text without values, so
 * it goes through chat_mysql_query like the transaction control statements
 * rather than the prepared statement table. */
#include "mysql_int.h"

static const char PROBE_SQL[] =
    "INSERT INTO health_probe (id, n) VALUES (1, 1)"
    " ON DUPLICATE KEY UPDATE n = n + 1";

static int probe_step(conn_t *c, void *arg) {
  (void)arg;
  return chat_mysql_query(c, PROBE_SQL) == 0 ? 0 : chat_mysql_fail(c, "write probe");
}

int chat_mysql_write_probe(chat_store_t *s) {
  return chat_mysql_tx(s, "write probe", probe_step, NULL);
}
