/* SQLite's xq ops (backend.h, "extras"): one statement of store/extras.c,
 * on a connection of the pool, its statement kept prepared there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Statements kept per connection (sqlite_int.h, chat_sqlite_kept). */
#define XQ_SLOTS 256 /* a power of two */

static size_t slot_of(const char *sql) { return ((uintptr_t)sql >> 3) * 2654435761u; }

sqlite3_stmt *chat_sqlite_kept(conn_t *c, const char *sql, int *kept, int *rc) {
  *kept = 0;
  if (c->xq == NULL) c->xq = chat_xcalloc(XQ_SLOTS, sizeof(*c->xq));
  size_t h = slot_of(sql);
  for (size_t k = 0; k < 8; k++) {
    xq_slot_t *sl = &c->xq[(h + k) & (XQ_SLOTS - 1)];
    if (sl->sql == sql && strcmp(sqlite3_sql(sl->st), sql) == 0) {
      if (sqlite3_stmt_busy(sl->st)) break;  /* in use further up: a fresh one */
      *kept = 1;
      return sl->st;
    }
    if (sl->sql == sql || sl->sql == NULL) {  /* new text at that address, or free */
      sqlite3_finalize(sl->st);
      sl->sql = NULL;
      sl->st = NULL;
      *rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &sl->st, NULL);
      if (*rc != SQLITE_OK) return NULL;
      sl->sql = sql;
      *kept = 1;
      return sl->st;
    }
  }
  /* In use, or a full neighbourhood: prepared for this call only. */
  sqlite3_stmt *st = NULL;
  *rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
  return *rc == SQLITE_OK ? st : NULL;
}

void chat_sqlite_kept_done(sqlite3_stmt *st, int kept) {
  if (kept) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);  /* the bound strings are the caller's */
  } else {
    sqlite3_finalize(st);
  }
}

void chat_sqlite_xq_cache_free(conn_t *c) {
  if (c->xq == NULL) return;
  for (size_t i = 0; i < XQ_SLOTS; i++) sqlite3_finalize(c->xq[i].st);
  free(c->xq);
  c->xq = NULL;
}

int chat_sqlite_xq(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
                 chat_xq_row_cb cb, void *ud, int64_t *changes) {
  conn_t *c = conn;
  int kept, rc = SQLITE_OK, r = 0;
  sqlite3_stmt *st = chat_sqlite_kept(c, sql, &kept, &rc);

  if (st == NULL) return chat_sqlite_fail(c, "extras prepare", rc);
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
  chat_sqlite_kept_done(st, kept);
  return r;
}

