/* The SQLite side of the room membership queries (rooms_int.h): each
 * statement is kept prepared on the borrowed connection (chat_sqlite_kept). */
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "rooms_int.h"
#include "sqlite_int.h"

typedef struct {
  chat_rq_step_cb step;
  void *arg;
} sq_step_t;

static int sq_exec(chat_rq_t *q, const char *what, const char *sql, const chat_rq_arg_t *args,
                   int nargs, const char *cols, chat_rq_rows_t *rows, int64_t *changes);

static int sq_step(conn_t *c, void *arg) {
  sq_step_t *a = arg;
  chat_rq_t q = {&chat_sqlite_rq_ops, 0, c};
  return a->step(&q, a->arg);
}

static int sq_run(chat_store_t *s, int write, const char *what, chat_rq_step_cb step,
                  void *arg) {
  if (write) {
    sq_step_t a = {step, arg};
    return chat_sqlite_tx(s, what, sq_step, &a);
  }
  /* One read transaction for the whole step: the shared lock and the
   * check of the WAL are taken once, not for every statement. */
  conn_t *c = chat_sqlite_get(s, 0);
  chat_rq_t q = {&chat_sqlite_rq_ops, 0, c};
  int began = sq_exec(&q, what, "BEGIN", NULL, 0, NULL, NULL, NULL) == 0;
  int rc = step(&q, arg);
  if (began && sq_exec(&q, what, "COMMIT", NULL, 0, NULL, NULL, NULL) != 0)
    sq_exec(&q, what, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
  chat_sqlite_put(s, c, 0);
  return rc;
}

static int sq_exec(chat_rq_t *q, const char *what, const char *sql, const chat_rq_arg_t *args,
                   int nargs, const char *cols, chat_rq_rows_t *rows, int64_t *changes) {
  conn_t *c = q->conn;
  int kept, rc = SQLITE_OK;
  sqlite3_stmt *st = chat_sqlite_kept(c, sql, &kept, &rc);
  if (st == NULL) return chat_sqlite_fail(c, what, rc);
  for (int k = 0; k < nargs; k++) {
    if (args[k].text)
      sqlite3_bind_text(st, k + 1, args[k].s, -1, SQLITE_STATIC);
    else
      sqlite3_bind_int64(st, k + 1, args[k].i);
  }
  int ncols = cols ? (int)strlen(cols) : 0;
  int r = 0;
  for (;;) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      r = chat_sqlite_write_err(c, what, rc);
      break;
    }
    if (rows == NULL || ncols == 0) continue;
    chat_rq_rows_add(rows, ncols);
    size_t base = (rows->nrows - 1) * (size_t)ncols;
    for (int k = 0; k < ncols; k++) {
      if (cols[k] == 'i') {
        rows->i[base + k] = sqlite3_column_int64(st, k);
      } else {
        const unsigned char *t = sqlite3_column_text(st, k);
        rows->s[base + k] = chat_xstrdup(t ? (const char *)t : "");
      }
    }
  }
  if (r == 0 && changes) *changes = sqlite3_changes(c->db);
  chat_sqlite_kept_done(st, kept);
  return r;
}

const chat_rq_ops_t chat_sqlite_rq_ops = {sq_run, sq_exec};
