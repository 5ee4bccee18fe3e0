/* The SQLite backend (sqlite_int.h): search queries and the upkeep of the
 * search index, the FTS5 tables of sqlite_fts.h.
 *
 * Rows are written behind the messages: chat_store_msg_insert_batch only
 * stores messages, and chat_store_index_pending (chat_sqlite_index_pending)
 * indexes those above the cursor of their kind (search_cursor,
 * schema/sqlite/003_index_cursor.sql) and moves the cursor in the same
 * transaction.  Writers run one at a time and ids only grow
 * (AUTOINCREMENT), so no message can appear at or below a cursor once it
 * has moved.  A row is removed with the values it was indexed with before
 * its message changes text or goes (chat_sqlite_search_unindex: edits and
 * tombstones through extras.c, a message delete through ops.c; a room
 * delete in sqlite_ops.c); a message not indexed yet has none.  The search
 * itself (tail, pages, the text check) is in store.c. */
#include <assert.h>
#include <stdlib.h>

#include "../core/common.h"
#include "../core/log.h"
#include "sqlite_fts.h"
#include "sqlite_int.h"

/* --- search --------------------------------------------------------------- */

int chat_sqlite_search_match(chat_store_t *s, int kind, const char *q,
                             size_t qlen, int64_t before_id, int64_t room_id,
                             int64_t user_id, const int64_t *hide,
                             size_t nhide, int limit, chat_msg_rec_t **out,
                             size_t *n) {
  int dm = kind == CHAT_SEARCH_DM;
  chat_sb_t expr;
  int r;

  chat_sb_init(&expr);
  if (chat_sqlite_fts_expr(&expr, q, qlen, dm, room_id, user_id, hide,
                           nhide) == 0) {
    chat_sb_free(&expr);
    return 0;  /* nothing to look up: no candidates */
  }
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, dm ? ST_SEARCH_DM : ST_SEARCH_ROOM);
  sqlite3_bind_text(st, 1, expr.buf, (int)expr.len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, before_id);
  sqlite3_bind_int64(st, 3, dm ? user_id : room_id);
  sqlite3_bind_int(st, 4, limit);
  r = chat_sqlite_msg_rows(c, st, "search", limit, out, n);
  chat_sqlite_put(s, c, 0);
  chat_sb_free(&expr);
  return r;
}

int chat_sqlite_search_bounds(chat_store_t *s, int kind, int tail_max,
                              int64_t *cursor, int64_t *floor) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st =
      stmt(c, kind == CHAT_SEARCH_DM ? ST_BOUNDS_DM : ST_BOUNDS_ROOM);
  int rc, r = 0;

  sqlite3_bind_int(st, 1, tail_max);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *cursor = sqlite3_column_int64(st, 0);
    *floor = sqlite3_column_int64(st, 1);
  } else if (rc == SQLITE_DONE) {
    chat_log_error("store(sqlite): search cursor %d missing", kind);
    r = CHAT_EUNAVAIL;
  } else {
    r = chat_sqlite_fail(c, "search bounds", rc);
  }
  done(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

int chat_sqlite_search_tail(chat_store_t *s, int kind, int64_t floor,
                            int64_t before_id, int64_t room_id, int64_t user_id,
                            int limit, chat_msg_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  int dm = kind == CHAT_SEARCH_DM;
  sqlite3_stmt *st = stmt(c, dm ? ST_TAIL_DM : ST_TAIL_ROOM);
  int r;

  sqlite3_bind_int64(st, 1, floor);
  sqlite3_bind_int64(st, 2, before_id);
  sqlite3_bind_int64(st, 3, dm ? user_id : room_id);
  sqlite3_bind_int(st, 4, limit);
  r = chat_sqlite_msg_rows(c, st, "search tail", limit, out, n);
  chat_sqlite_put(s, c, 0);
  return r;
}

/* --- search index upkeep -------------------------------------------------- */

/* Steps the pending scan st: *have 1 on a row, 0 at the end; 0 or an
 * error (chat_sqlite_fail). */
static int pending_step(conn_t *c, sqlite3_stmt *st, int *have) {
  int rc = sqlite3_step(st);

  *have = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
  return chat_sqlite_fail(c, "index scan", rc);
}

typedef struct {
  int max;            /* in */
  int count;          /* out: messages indexed */
} index_t;

/* Inserts the row of the pending message at sel (ST_PENDING_ROOM/DM) of
 * kind k with ins (ST_FTS_INSERT_ROOM/DM), unless its text is empty: 0 or
 * the SQLite error, ins not reset yet (the caller resets it). */
static int index_one(sqlite3_stmt *sel, sqlite3_stmt *ins, int k) {
  if (sqlite3_column_bytes(sel, 2) == 0) return 0;  /* a tombstone */
  sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
  sqlite3_bind_value(ins, 2, sqlite3_column_value(sel, 2));
  sqlite3_bind_int64(ins, 3, sqlite3_column_int64(sel, 3));
  if (k == CHAT_SEARCH_DM) sqlite3_bind_int64(ins, 4, sqlite3_column_int64(sel, 4));
  return run(ins);
}

/* Reads both cursors, walks the messages above them (both scans open at
 * once, each in id order) and indexes the older of the two heads (by ts;
 * the room message on a tie) until max are done, then moves each cursor to
 * the last id indexed of its kind.  The cursor of a kind moves over a
 * prefix of its messages, so nothing is skipped. */
static int index_step(conn_t *c, void *arg) {
  static const int scans[2] = {ST_PENDING_ROOM, ST_PENDING_DM};
  index_t *a = arg;
  sqlite3_stmt *sel[2] = {NULL, NULL}, *st;
  int64_t cursor[2] = {0, 0}, last[2] = {0, 0};
  int have[2] = {0, 0};
  int k, rc, r = 0;

  /* The kinds are the indexes of the arrays above. */
  assert(CHAT_SEARCH_ROOM == 0 && CHAT_SEARCH_DM == 1);
  a->count = 0;
  for (k = 0; k < 2 && r == 0; k++) {
    st = stmt(c, ST_CURSOR_GET);
    sqlite3_bind_int(st, 1, k);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      cursor[k] = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
      chat_log_error("store(sqlite): search cursor %d missing", k);
      r = CHAT_EUNAVAIL;
    } else {
      r = chat_sqlite_fail(c, "index cursor", rc);
    }
    done(st);
  }
  if (r) return r;

  for (k = 0; k < 2 && r == 0; k++) {
    sel[k] = stmt(c, scans[k]);
    sqlite3_bind_int64(sel[k], 1, cursor[k]);
    sqlite3_bind_int(sel[k], 2, a->max);
    r = pending_step(c, sel[k], &have[k]);
  }
  if (r) goto out;

  while (a->count < a->max && (have[0] || have[1])) {
    int64_t id;

    k = !have[0] || (have[1] && sqlite3_column_int64(sel[1], 1) <
                                    sqlite3_column_int64(sel[0], 1));
    id = sqlite3_column_int64(sel[k], 0);
    st = stmt(c, k == CHAT_SEARCH_DM ? ST_FTS_INSERT_DM : ST_FTS_INSERT_ROOM);
    rc = index_one(sel[k], st, k);
    if (rc) r = chat_sqlite_fail(c, "search index", rc);
    done(st);
    if (r == 0) {
      last[k] = id;
      a->count++;
      r = pending_step(c, sel[k], &have[k]);
    }
    if (r) goto out;
  }
  done(sel[0]);
  done(sel[1]);
  sel[0] = sel[1] = NULL;

  for (k = 0; k < 2 && r == 0; k++) {
    if (last[k] == 0) continue;
    st = stmt(c, ST_CURSOR_SET);
    sqlite3_bind_int(st, 1, k);
    sqlite3_bind_int64(st, 2, last[k]);
    rc = run(st);
    if (rc) r = chat_sqlite_fail(c, "index cursor", rc);
    done(st);
  }

out:
  for (k = 0; k < 2; k++)
    if (sel[k] != NULL) done(sel[k]);
  return r;
}

int chat_sqlite_index_pending(chat_store_t *s, int max, int *done_out) {
  index_t a;
  int r;

  a.max = max;
  a.count = 0;
  r = chat_sqlite_tx(s, "search index", index_step, &a);
  if (r == 0) *done_out = a.count;
  return r;
}

int chat_sqlite_search_unindex(void *conn, int dm, int64_t id,
                               const char *text) {
  conn_t *c = conn;
  sqlite3_stmt *st = stmt(c, dm ? ST_FTS_DELETE_DM_MSG : ST_FTS_DELETE_ROOM_MSG);
  int rc, r = 0;

  sqlite3_bind_int64(st, 1, id);
  rc = run(st);
  if (rc) r = chat_sqlite_fail(c, "search index delete", rc);
  done(st);
  if (r || text == NULL || text[0] == '\0') return r;
  st = stmt(c, dm ? ST_FTS_REINSERT_DM_MSG : ST_FTS_REINSERT_ROOM_MSG);
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
  rc = run(st);
  if (rc) r = chat_sqlite_fail(c, "search index", rc);
  done(st);
  return r;
}
