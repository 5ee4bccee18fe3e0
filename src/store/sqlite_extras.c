/* SQLite's xq ops (backend.h, "extras"): one statement of store/extras.c,
 * prepared for the call on a connection of the pool. */
#include "sqlite_int.h"

void *chat_sqlite_xq_get(chat_store_t *s, int write) { return chat_sqlite_get(s, write); }

void chat_sqlite_xq_put(chat_store_t *s, void *conn, int write) {
  chat_sqlite_put(s, conn, write);
}

int chat_sqlite_xq_tx(chat_store_t *s, const char *what, int (*step)(void *conn, void *arg),
                    void *arg) {
  return chat_sqlite_tx(s, what, (chat_sqlite_step_fn)step, arg);
}

#define XQ_COLS 8

int chat_sqlite_xq(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
                 chat_xq_row_cb cb, void *ud, int64_t *changes) {
  conn_t *c = conn;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL), r = 0;

  if (rc != SQLITE_OK) return chat_sqlite_fail(c, "extras prepare", rc);
  for (int i = 0; i < nargs; i++) {
    const chat_xq_arg_t *a = &args[i];
    switch (a->type) {
      case CHAT_XQ_INT: sqlite3_bind_int64(st, i + 1, a->i); break;
      case CHAT_XQ_TEXT: sqlite3_bind_text(st, i + 1, a->p, (int)a->len, SQLITE_STATIC); break;
      case CHAT_XQ_BLOB: sqlite3_bind_blob(st, i + 1, a->p, (int)a->len, SQLITE_STATIC); break;
      case CHAT_XQ_NULL: sqlite3_bind_null(st, i + 1); break;
    }
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    chat_xq_col_t cols[XQ_COLS];
    int n = sqlite3_column_count(st);
    if (n > XQ_COLS) n = XQ_COLS;
    for (int i = 0; i < n; i++) {
      int t = sqlite3_column_type(st, i);
      if (t == SQLITE_NULL) {
        cols[i].p = NULL;
        cols[i].len = 0;
      } else if (t == SQLITE_BLOB) {
        cols[i].p = sqlite3_column_blob(st, i);
        cols[i].len = (size_t)sqlite3_column_bytes(st, i);
        if (cols[i].p == NULL) cols[i].p = "";
      } else {
        cols[i].p = (const char *)sqlite3_column_text(st, i);
        cols[i].len = (size_t)sqlite3_column_bytes(st, i);
      }
    }
    if (cb && (r = cb(ud, cols, n)) != 0) break;
  }
  if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) r = chat_sqlite_write_err(c, "extras", rc);
  if (r == 0 && changes) *changes = sqlite3_changes(c->db);
  sqlite3_finalize(st);
  return r;
}

