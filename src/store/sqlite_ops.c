/* The SQLite backend (sqlite_int.h): users, sessions, rooms, messages,
 * direct messages, friends, moderation and read markers, the transaction
 * primitives of backend.h, and the ops table.  Each operation binds its
 * statement of chat_sqlite_sql[] and reads the rows; a write of several
 * statements runs as a step of chat_sqlite_tx. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "files_int.h"
#include "../core/common.h"
#include "../core/log.h"
#include "sqlite_int.h"

/* --- statements ----------------------------------------------------------- */

/* Flags of finish(). */
enum {
  ONE_ROW = 1, /* changing no row is CHAT_ENOTFOUND */
  WRITE = 2,   /* map constraint violations (chat_sqlite_write_err) */
};

/* Runs st (bound, no rows), resets it and returns 0 or the error. */
static int finish(conn_t *c, sqlite3_stmt *st, const char *what, int flags) {
  int rc = run(st), r = 0;

  if (rc)
    r = flags & WRITE ? chat_sqlite_write_err(c, what, rc)
                      : chat_sqlite_fail(c, what, rc);
  else if ((flags & ONE_ROW) && sqlite3_changes(c->db) == 0)
    r = CHAT_ENOTFOUND;
  done(st);
  return r;
}

static void bind_hash(sqlite3_stmt *st, int i, const uint8_t *h) {
  if (h == NULL)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_blob(st, i, h, CHAT_TOKEN_HASH_LEN, SQLITE_STATIC);
}

/* Copies text column col into dst (cap bytes): 0, or -1 if it is NULL or
 * does not fit (neither happens with rows written through this backend). */
static int col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *p = sqlite3_column_text(st, col);
  size_t len = (size_t)sqlite3_column_bytes(st, col);

  if (p == NULL || len >= cap) return -1;
  memcpy(dst, p, len);
  dst[len] = '\0';
  return 0;
}

/* Reads the row USER_COLS into out (which may be NULL). */
static int read_user(sqlite3_stmt *st, chat_user_rec_t *out) {
  if (out == NULL) return 0;
  out->id = sqlite3_column_int64(st, 0);
  if (col_copy(st, 1, out->username, sizeof(out->username)) ||
      col_copy(st, 2, out->email, sizeof(out->email)) ||
      col_copy(st, 3, out->pwhash, sizeof(out->pwhash))) {
    chat_log_error("store(sqlite): user %lld: bad field", (long long)out->id);
    return CHAT_EUNAVAIL;
  }
  out->role = sqlite3_column_int(st, 4) == CHAT_ROLE_ADMIN ? CHAT_ROLE_ADMIN
                                                           : CHAT_ROLE_USER;
  out->banned = sqlite3_column_int(st, 5) != 0;
  out->created_ms = sqlite3_column_int64(st, 6);
  out->email_notify = sqlite3_column_int(st, 7) != 0;
  if (col_copy(st, 8, out->display_name, sizeof(out->display_name))) {
    chat_log_error("store(sqlite): user %lld: bad field", (long long)out->id);
    return CHAT_EUNAVAIL;
  }
  /* files (schema 008) */
  out->avatar_file = sqlite3_column_int64(st, 9);
  /* notification channels (schema 011) */
  if (col_copy(st, 10, out->phone, sizeof(out->phone))) {
    chat_log_error("store(sqlite): user %lld: bad field", (long long)out->id);
    return CHAT_EUNAVAIL;
  }
  out->webhook_notify = sqlite3_column_int(st, 11) != 0;
  return 0;
}

/* Reads the row (id, name, topic) into out (which may be NULL). */
static int read_room(sqlite3_stmt *st, chat_room_rec_t *out) {
  if (out == NULL) return 0;
  out->id = sqlite3_column_int64(st, 0);
  if (col_copy(st, 1, out->name, sizeof(out->name)) ||
      col_copy(st, 2, out->topic, sizeof(out->topic))) {
    chat_log_error("store(sqlite): room %lld: bad field", (long long)out->id);
    return CHAT_EUNAVAIL;
  }
  return 0;
}

/* Steps a query expected to return at most one user row. */
static int query_user(conn_t *c, sqlite3_stmt *st, const char *what,
                      chat_user_rec_t *out) {
  int rc = sqlite3_step(st);
  int r;

  if (rc == SQLITE_ROW)
    r = read_user(st, out);
  else if (rc == SQLITE_DONE)
    r = CHAT_ENOTFOUND;
  else
    r = chat_sqlite_fail(c, what, rc);
  done(st);
  return r;
}

static int sq_ping(chat_store_t *s) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_PING);
  int rc = sqlite3_step(st);
  int r = rc == SQLITE_ROW ? 0 : chat_sqlite_fail(c, "ping", rc);

  done(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

/* --- users ---------------------------------------------------------------- */

static int sq_user_create(chat_store_t *s, const char *username,
                          const char *key, const char *email,
                          const char *pwhash, chat_role_t role, int64_t now_ms,
                          chat_user_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_USER_INSERT);
  int rc, r = 0;

  bind_text(st, 1, username);
  bind_text(st, 2, key);
  bind_text(st, 3, email);
  bind_text(st, 4, pwhash);
  sqlite3_bind_int(st, 5, (int)role);
  sqlite3_bind_int64(st, 6, now_ms);
  rc = run(st);
  if (rc) {
    r = chat_sqlite_write_err(c, "user create", rc);
  } else if (out != NULL) {
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_last_insert_rowid(c->db);
    strcpy(out->username, username);
    strcpy(out->email, email);
    strcpy(out->pwhash, pwhash);
    out->role = role;
    out->banned = 0;
    out->email_notify = 1;
    out->webhook_notify = 1;
    out->created_ms = now_ms;
  }
  done(st);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_user_find(chat_store_t *s, const char *username,
                        const char *key, chat_user_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_USER_FIND);
  int r;

  bind_text(st, 1, username);
  bind_text(st, 2, key);
  r = query_user(c, st, "user by name", out);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_user_by_id(chat_store_t *s, int64_t id, chat_user_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_USER_BY_ID);
  int r;

  sqlite3_bind_int64(st, 1, id);
  r = query_user(c, st, "user by id", out);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_session_lookup(chat_store_t *s, const uint8_t *token_hash,
                             int64_t now_ms, chat_user_rec_t *user_out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_SESSION_LOOKUP);
  int r;

  bind_hash(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, now_ms);
  r = query_user(c, st, "session lookup", user_out);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_session_delete(chat_store_t *s, const uint8_t *token_hash) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_SESSION_DELETE);
  int r;

  bind_hash(st, 1, token_hash);
  r = finish(c, st, "session delete", 0);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

/* --- rooms ---------------------------------------------------------------- */

static int sq_room_create(chat_store_t *s, const char *name, const char *topic,
                          chat_room_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_ROOM_INSERT);
  int rc, r = 0;

  bind_text(st, 1, name);
  bind_text(st, 2, topic);
  sqlite3_bind_int64(st, 3, chat_now_ms());
  rc = run(st);
  if (rc) {
    r = chat_sqlite_write_err(c, "room create", rc);
  } else if (out != NULL) {
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_last_insert_rowid(c->db);
    strcpy(out->name, name);
    strcpy(out->topic, topic);
  }
  done(st);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_room_update(chat_store_t *s, int64_t id, const char *name,
                          const char *topic, chat_room_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_ROOM_UPDATE);
  chat_room_rec_t rec;
  int rc, r;

  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, name);
  bind_text(st, 3, topic);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    r = read_room(st, &rec);
    /* Step to the end: the autocommit transaction commits there, and a
     * failed commit must not pass for success. */
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "room update", rc);
  } else if (rc == SQLITE_DONE) {
    r = CHAT_ENOTFOUND;
  } else {
    r = chat_sqlite_write_err(c, "room update", rc);
  }
  done(st);
  r = chat_sqlite_put_write(s, c, r);
  if (r == 0 && out != NULL) *out = rec;
  return r;
}

/* The messages go with the room (ON DELETE CASCADE); their search rows and
 * the room's read markers are deleted first, in the same transaction. */
static int room_delete_step(conn_t *c, void *arg) {
  static const int steps[] = {ST_FTS_DELETE_ROOM, ST_MARKERS_DELETE_ROOM,
                              ST_ROOM_DELETE};
  int64_t id = *(const int64_t *)arg;
  sqlite3_stmt *st;
  size_t i;
  int rc, r = 0;

  for (i = 0; i < CHAT_ARRAY_SIZE(steps) && r == 0; i++) {
    st = stmt(c, steps[i]);
    sqlite3_bind_int64(st, 1, id);
    rc = run(st);
    if (rc)
      r = chat_sqlite_fail(c, "room delete", rc);
    else if (steps[i] == ST_ROOM_DELETE && sqlite3_changes(c->db) == 0)
      r = CHAT_ENOTFOUND;
    done(st);
  }
  return r;
}

static int sq_room_delete(chat_store_t *s, int64_t id) {
  return chat_sqlite_tx(s, "room delete", room_delete_step, &id);
}

static int sq_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_ROOM_GET);
  int rc, r;

  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    r = read_room(st, out);
  else if (rc == SQLITE_DONE)
    r = CHAT_ENOTFOUND;
  else
    r = chat_sqlite_fail(c, "room get", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_room_list(chat_store_t *s, chat_room_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_ROOM_LIST);
  chat_room_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    r = read_room(st, &v[len]);
    if (r) break;
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, "room list", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int sq_room_last_seq(chat_store_t *s, int64_t id, int64_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_ROOM_LAST_SEQ);
  int rc, r = 0;

  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64(st, 0);
  else if (rc == SQLITE_DONE)
    r = CHAT_ENOTFOUND;
  else
    r = chat_sqlite_fail(c, "room last seq", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_room_seqs(chat_store_t *s, chat_room_seq_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_ROOM_SEQS);
  chat_room_seq_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len].id = sqlite3_column_int64(st, 0);
    v[len].last_seq = sqlite3_column_int64(st, 1);
    len++;
  }
  if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "room seqs", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- messages ------------------------------------------------------------- */

static void batch_reset(chat_msg_insert_t *items, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    items[i].id = 0;
    items[i].stored_ts = 0;
    items[i].seq = 0;
    items[i].dup = 0;
    items[i].status = 0;
  }
}

typedef struct {
  chat_msg_insert_t *items;
  size_t n;
} batch_t;

/* Takes the numbers of each room of the batch (store.h, sequences): k per
 * room, rooms in ascending order.  SQLite has one writer at a time, so the
 * order only matters for MySQL; it is kept the same here. */
static int seq_take(conn_t *c, chat_store_seq_room_t *v, size_t nrooms) {
  size_t i;
  int rc, r = 0;

  for (i = 0; i < nrooms && r == 0; i++) {
    sqlite3_stmt *st = stmt(c, ST_ROOM_SEQ_TAKE);

    sqlite3_bind_int64(st, 1, v[i].room);
    sqlite3_bind_int64(st, 2, v[i].k);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      v[i].base = sqlite3_column_int64(st, 0) - v[i].k;
      rc = sqlite3_step(st);
      if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "room seq", rc);
    } else if (rc == SQLITE_DONE) {
      v[i].missing = 1;
    } else {
      r = chat_sqlite_fail(c, "room seq", rc);
    }
    done(st);
  }
  return r;
}

/* Gives back the numbers taken but not used (dups, failed items): the
 * counter ends at the last number stored, so the sequence stays dense. */
static int seq_give_back(conn_t *c, chat_store_seq_room_t *v, size_t nrooms) {
  size_t i;
  int r = 0;

  for (i = 0; i < nrooms && r == 0; i++) {
    sqlite3_stmt *st;

    if (v[i].missing || v[i].used == v[i].k) continue;
    st = stmt(c, ST_ROOM_SEQ_SET);
    sqlite3_bind_int64(st, 1, v[i].room);
    sqlite3_bind_int64(st, 2, v[i].base + v[i].used);
    r = finish(c, st, "room seq", 0);
  }
  return r;
}

/* A message of it->sender_id with it->cid stored before (in an earlier
 * batch, or earlier in this one): it->dup with its id and ts.  0, or a
 * failure. */
static int cid_lookup(conn_t *c, chat_msg_insert_t *it, int dm) {
  sqlite3_stmt *st;
  int rc, r = 0;

  if (it->cid == NULL) return 0;
  st = stmt(c, dm ? ST_DM_BY_CID : ST_MSG_BY_CID);
  sqlite3_bind_int64(st, 1, it->sender_id);
  bind_text(st, 2, it->cid);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    it->dup = 1;
    it->id = sqlite3_column_int64(st, 0);
    it->stored_ts = sqlite3_column_int64(st, 1);
  } else if (rc != SQLITE_DONE) {
    r = chat_sqlite_fail(c, "message cid lookup", rc);
  }
  done(st);
  return r;
}

/* Takes the numbers of the batch's rooms, then looks up and inserts each
 * item in one write transaction, so an item sees the rows of the items
 * before it: a cid repeated within the batch is a dup of its first
 * occurrence.  Room messages and direct messages have their own tables
 * and cids.  No search rows: chat_sqlite_index_pending writes them
 * later. */
static int batch_step(conn_t *c, void *arg) {
  batch_t *b = arg;
  chat_store_seq_room_t *rooms, *sr;
  size_t nrooms = 0;
  sqlite3_stmt *st;
  size_t i;
  int rc, r = 0;

  batch_reset(b->items, b->n);
  rooms = chat_store_seq_plan(b->items, b->n, NULL, &nrooms);
  r = seq_take(c, rooms, nrooms);
  for (i = 0; i < b->n && r == 0; i++) {
    chat_msg_insert_t *it = &b->items[i];
    int dm = it->to_id != 0;

    sr = dm ? NULL : chat_store_seq_find(rooms, nrooms, it->room);
    if (sr != NULL && sr->missing) {
      /* No such room (seq_take looked, inside this transaction): a resent
       * cid still gets its first message. */
      r = cid_lookup(c, it, dm);
      if (r == 0 && !it->dup) it->status = CHAT_ENOTFOUND;
      continue;
    }

    /* One statement: a cid stored before is a conflict that inserts
     * nothing (then looked up), instead of a lookup before every insert. */
    st = stmt(c, dm ? ST_DM_INSERT : ST_MSG_INSERT);
    sqlite3_bind_int64(st, 1, dm ? it->sender_id : it->room);
    sqlite3_bind_int64(st, 2, dm ? it->to_id : it->sender_id);
    bind_text_n(st, 3, it->text, it->text_len);
    bind_text(st, 4, it->cid);
    sqlite3_bind_int64(st, 5, it->ts);
    if (!dm) sqlite3_bind_int64(st, 6, sr->base + sr->used + 1);
    rc = run(st);
    if (rc == 0 && sqlite3_changes(c->db) == 0) {
      done(st);
      r = it->cid != NULL ? cid_lookup(c, it, dm) : 0;
      if (r == 0 && !it->dup) it->status = CHAT_ENOTFOUND;
      continue;
    } else if (rc == 0) {
      it->id = sqlite3_last_insert_rowid(c->db);
      it->stored_ts = it->ts;
      if (!dm) it->seq = sr->base + ++sr->used;
    } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      /* No such sender (or receiver).  SQLite undid this statement only;
       * the transaction goes on. */
      it->status = CHAT_ENOTFOUND;
    } else {
      r = chat_sqlite_fail(c, "message insert", rc);
    }
    done(st);
  }
  if (r == 0) r = chat_sqlite_files_attach(c, b->items, b->n);  /* files (schema 008) */
  if (r == 0) r = seq_give_back(c, rooms, nrooms);
  /* extras (schema 009): reply and mention rows */
  if (r == 0) r = chat_store_extras_batch(&chat_sqlite_ops, c, b->items, b->n);
  free(rooms);
  return r;
}

static int sq_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                               size_t n) {
  batch_t b = {items, n};
  int r = chat_sqlite_tx(s, "message batch", batch_step, &b);

  if (r) batch_reset(items, n);
  return r;
}

/* store.h, chat_store_msg_insert_batch_nowait.  A failed sync afterwards
 * (chat_sqlite_durable_wait) leaves the outputs set: the caller counts the
 * batch as failed; its rows may be stored, and a resend with the same cid
 * then gets their ids. */
static int sq_msg_insert_batch_nowait(chat_store_t *s, chat_msg_insert_t *items,
                                      size_t n, uint64_t *ticket) {
  batch_t b = {items, n};
  int r = chat_sqlite_tx_nowait(s, "message batch", batch_step, &b, ticket);

  if (r) batch_reset(items, n);
  return r;
}

static void msgs_reverse(chat_msg_rec_t *v, size_t n) {
  chat_msg_rec_t tmp;
  size_t i;

  for (i = 0; i < n / 2; i++) {
    tmp = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = tmp;
  }
}

/* Runs ST_MSG_BEFORE or ST_MSG_SINCE (newest first; bound2 unused) or
 * ST_MSG_BY_SEQ (oldest first, seq from bound to bound2) and returns the
 * rows in ascending order.  An empty answer for a room that does not exist
 * is CHAT_ENOTFOUND (not for ST_MSG_BY_SEQ: an empty list). */
/* The id of room's first message with a seq at least seq (end, one past
 * the room's last id, if none): ids follow seqs within a room (schema
 * 013), so a bisection over the (room_id, id) index finds it, each probe
 * one index seek.  -1 with the failure logged. */
static int64_t first_id_at_seq(conn_t *c, int64_t room, int64_t seq, int64_t end) {
  /* Rows below lo do not qualify; none in [hi, best) does. */
  int64_t best = end, lo = 0, hi = end;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    sqlite3_stmt *st = stmt(c, ST_MSG_SEQ_PROBE);
    sqlite3_bind_int64(st, 1, room);
    sqlite3_bind_int64(st, 2, mid);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      chat_sqlite_fail(c, "message by seq", rc);
      done(st);
      return -1;
    }
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : INT64_MAX;
    int64_t s = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    done(st);
    if (id >= hi) {
      hi = mid;       /* no row in [mid, hi) */
    } else if (s >= seq) {
      best = id;      /* no row in [mid, id): look below mid */
      hi = mid;
    } else {
      lo = id + 1;    /* it and every row before it are below seq */
    }
  }
  return best;
}

static int msg_query(chat_store_t *s, int id, int64_t room, int64_t bound,
                     int64_t bound2, int limit, chat_msg_rec_t **out,
                     size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st;
  chat_msg_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int by_seq = id == ST_MSG_BY_SEQ;
  int64_t id_from = 0, id_to = 0;
  int rc, r = 0;

  if (by_seq) {
    int64_t end = -1;
    st = stmt(c, ST_MSG_ROOM_END);
    sqlite3_bind_int64(st, 1, room);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      end = sqlite3_column_int64(st, 0);
    else
      chat_sqlite_fail(c, "message by seq", rc);
    done(st);
    id_from = end < 0 ? -1 : first_id_at_seq(c, room, bound, end);
    id_to = id_from < 0 ? -1 : first_id_at_seq(c, room, bound2, end);
    if (id_to < 0) {
      chat_sqlite_put(s, c, 0);
      return CHAT_EUNAVAIL;
    }
  }
  st = stmt(c, id);
  sqlite3_bind_int64(st, 1, room);
  sqlite3_bind_int64(st, 2, bound);
  if (by_seq) {
    sqlite3_bind_int64(st, 3, bound2);
    sqlite3_bind_int(st, 4, limit);
    sqlite3_bind_int64(st, 5, id_from);
    sqlite3_bind_int64(st, 6, id_to);
  } else {
    sqlite3_bind_int(st, 3, limit);
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *text;
    chat_msg_rec_t *m;

    if (len == cap) {
      cap = cap ? cap * 2 : (limit < 64 ? (size_t)limit : 64);
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    m = &v[len];
    m->files = NULL; /* files (schema 008): store.c fills them */
    m->nfiles = 0;
    m->id = sqlite3_column_int64(st, 0);
    m->room = sqlite3_column_int64(st, 1);
    m->ts = sqlite3_column_int64(st, 4);
    m->seq = sqlite3_column_int64(st, 5);
    text = sqlite3_column_text(st, 3);
    if (text == NULL || col_copy(st, 2, m->sender, sizeof(m->sender))) {
      chat_log_error("store(sqlite): message %lld: bad field",
                     (long long)m->id);
      r = CHAT_EUNAVAIL;
      break;
    }
    m->to[0] = '\0';
    m->deleted = 0; /* extras (schema 009): filled by store.c */
    m->extra = NULL;
    m->text =
        chat_xstrndup((const char *)text, (size_t)sqlite3_column_bytes(st, 3));
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE)
    r = chat_sqlite_fail(c, "message history", rc);
  done(st);

  if (r == 0 && len == 0 && !by_seq) {
    st = stmt(c, ST_ROOM_EXISTS);
    sqlite3_bind_int64(st, 1, room);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
      r = CHAT_ENOTFOUND;
    else if (rc != SQLITE_ROW)
      r = chat_sqlite_fail(c, "room exists", rc);
    done(st);
  }
  chat_sqlite_put(s, c, 0);

  if (r) {
    chat_store_msgs_free(v, len);
    return r;
  }
  if (!by_seq) msgs_reverse(v, len);
  *out = v;
  *n = len;
  return 0;
}

static int sq_msg_history(chat_store_t *s, int64_t room, int64_t before_id,
                          int limit, chat_msg_rec_t **out, size_t *n) {
  return msg_query(s, ST_MSG_BEFORE, room,
                   before_id <= 0 ? INT64_MAX : before_id, 0, limit, out, n);
}

static int sq_msg_since(chat_store_t *s, int64_t room, int64_t since_id,
                        int limit, chat_msg_rec_t **out, size_t *n) {
  return msg_query(s, ST_MSG_SINCE, room, since_id, 0, limit, out, n);
}

static int sq_msg_by_seq(chat_store_t *s, int64_t room, int64_t from_seq,
                         int64_t to_seq, int limit, chat_msg_rec_t **out,
                         size_t *n) {
  return msg_query(s, ST_MSG_BY_SEQ, room, from_seq, to_seq, limit, out, n);
}

int chat_sqlite_read_msg(sqlite3_stmt *st, chat_msg_rec_t *m) {
  const unsigned char *text = sqlite3_column_text(st, 4);

  m->files = NULL; /* files (schema 008): store.c fills them */
  m->nfiles = 0;
  m->id = sqlite3_column_int64(st, 0);
  m->room = sqlite3_column_int64(st, 1);
  m->ts = sqlite3_column_int64(st, 5);
  m->seq = 0; /* not in this layout */
  m->deleted = 0; /* extras (schema 009): filled by store.c */
  m->extra = NULL;
  if (text == NULL || col_copy(st, 2, m->sender, sizeof(m->sender)) ||
      col_copy(st, 3, m->to, sizeof(m->to))) {
    chat_log_error("store(sqlite): message %lld: bad field", (long long)m->id);
    return CHAT_EUNAVAIL;
  }
  m->text =
      chat_xstrndup((const char *)text, (size_t)sqlite3_column_bytes(st, 4));
  return 0;
}

int chat_sqlite_msg_rows(conn_t *c, sqlite3_stmt *st, const char *what,
                         int limit, chat_msg_rec_t **out, size_t *n) {
  chat_msg_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : (limit < 64 ? (size_t)limit : 64);
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    r = chat_sqlite_read_msg(st, &v[len]);
    if (r) break;
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, what, rc);
  done(st);
  if (r) {
    chat_store_msgs_free(v, len);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- direct messages ------------------------------------------------------ */

static int sq_dm_history(chat_store_t *s, int64_t a, int64_t b,
                         int64_t before_id, int limit, chat_msg_rec_t **out,
                         size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_DM_BEFORE);
  int r;

  sqlite3_bind_int64(st, 1, a < b ? a : b);
  sqlite3_bind_int64(st, 2, a < b ? b : a);
  sqlite3_bind_int64(st, 3, before_id <= 0 ? INT64_MAX : before_id);
  sqlite3_bind_int(st, 4, limit);
  r = chat_sqlite_msg_rows(c, st, "dm history", limit, out, n);
  chat_sqlite_put(s, c, 0);
  if (r == 0) msgs_reverse(*out, *n);
  return r;
}

static int sq_dm_since(chat_store_t *s, int64_t after_id, int limit,
                       chat_msg_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_DM_SINCE);
  int r;

  sqlite3_bind_int64(st, 1, after_id);
  sqlite3_bind_int(st, 2, limit);
  r = chat_sqlite_msg_rows(c, st, "dm since", limit, out, n);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_dm_last_id(chat_store_t *s, int64_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_DM_LAST_ID);
  int rc, r = 0;

  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64(st, 0);
  else
    r = chat_sqlite_fail(c, "dm last id", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

/* --- friends -------------------------------------------------------------- */

/* The row of the pair (lo, hi): *found 1 (requester and accepted set) or
 * 0; returns 0 or an error (chat_sqlite_fail). */
static int friend_get(conn_t *c, int64_t lo, int64_t hi, int *found,
                      int64_t *requester, int *accepted) {
  sqlite3_stmt *st = stmt(c, ST_FRIEND_GET);
  int rc, r = 0;

  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    *requester = sqlite3_column_int64(st, 0);
    *accepted = sqlite3_column_int(st, 1) != 0;
  } else if (rc != SQLITE_DONE) {
    r = chat_sqlite_fail(c, "friend get", rc);
  }
  done(st);
  return r;
}

static chat_friend_state_t friend_state_of(int64_t me, int64_t requester,
                                           int accepted) {
  if (accepted) return CHAT_FRIEND_ACCEPTED;
  return requester == me ? CHAT_FRIEND_OUTGOING : CHAT_FRIEND_INCOMING;
}

static int sq_friend_remove(chat_store_t *s, int64_t a, int64_t b) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_FRIEND_DELETE);
  int r;

  sqlite3_bind_int64(st, 1, a < b ? a : b);
  sqlite3_bind_int64(st, 2, a < b ? b : a);
  r = finish(c, st, "friend remove", 0);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_friend_state(chat_store_t *s, int64_t a, int64_t b,
                           chat_friend_state_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  int64_t requester = 0;
  int found = 0, accepted = 0;
  int r = friend_get(c, a < b ? a : b, a < b ? b : a, &found, &requester,
                     &accepted);

  chat_sqlite_put(s, c, 0);
  if (r) return r;
  *out = found ? friend_state_of(a, requester, accepted) : CHAT_FRIEND_NONE;
  return 0;
}

static int sq_friend_list(chat_store_t *s, int64_t user_id,
                          chat_friend_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_FRIEND_LIST);
  chat_friend_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  sqlite3_bind_int64(st, 1, user_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    chat_friend_rec_t *f;

    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    f = &v[len];
    f->user_id = sqlite3_column_int64(st, 0);
    if (col_copy(st, 1, f->username, sizeof(f->username)) ||
        col_copy(st, 4, f->display_name, sizeof(f->display_name))) {
      chat_log_error("store(sqlite): user %lld: bad field",
                     (long long)f->user_id);
      r = CHAT_EUNAVAIL;
      break;
    }
    /* x.mine: user_id asked. */
    f->state = sqlite3_column_int(st, 3)   ? CHAT_FRIEND_ACCEPTED
               : sqlite3_column_int(st, 2) ? CHAT_FRIEND_OUTGOING
                                           : CHAT_FRIEND_INCOMING;
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, "friend list", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- moderation ----------------------------------------------------------- */

static int sq_user_list(chat_store_t *s, chat_user_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_USER_LIST);
  chat_user_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    r = read_user(st, &v[len]);
    if (r) break;
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, "user list", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int sq_user_set_profile(chat_store_t *s, int64_t user_id,
                               const char *display_name,
                               const char *display_key, const char *email) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_PROFILE);
  int r;

  sqlite3_bind_int64(st, 1, user_id);
  if (display_name != NULL) bind_text(st, 2, display_name);
  else sqlite3_bind_null(st, 2);
  if (display_key != NULL) bind_text(st, 3, display_key);
  else sqlite3_bind_null(st, 3);
  if (email != NULL) bind_text(st, 4, email);
  else sqlite3_bind_null(st, 4);
  r = finish(c, st, "set profile", ONE_ROW);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_user_range(chat_store_t *s, int by_display, const char *lo,
                         const char *hi, int limit, chat_user_rec_t **out,
                         size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st =
      stmt(c, by_display ? ST_USER_RANGE_DISPLAY : ST_USER_RANGE_NAME);
  chat_user_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  int rc, r = 0;

  bind_text(st, 1, lo);
  bind_text(st, 2, hi);
  sqlite3_bind_int(st, 3, limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    r = read_user(st, &v[len]);
    if (r) break;
    len++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, "user range", rc);
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int sq_user_set_notify(chat_store_t *s, int64_t user_id, int on) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_NOTIFY);
  int r;

  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int(st, 2, on);
  r = finish(c, st, "set notify", ONE_ROW);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_user_set_phone(chat_store_t *s, int64_t user_id, const char *phone) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_PHONE);
  int r;

  sqlite3_bind_int64(st, 1, user_id);
  bind_text(st, 2, phone);
  r = finish(c, st, "set phone", ONE_ROW);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_user_set_webhook_notify(chat_store_t *s, int64_t user_id, int on) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_WEBHOOK);
  int r;

  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int(st, 2, on);
  r = finish(c, st, "set webhook notify", ONE_ROW);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_msg_get(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                      int64_t *sender_id) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = stmt(c, ST_MSG_GET);
  chat_msg_rec_t m;
  int rc, r;

  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    r = chat_sqlite_read_msg(st, &m);
    if (r == 0) *sender_id = sqlite3_column_int64(st, 6);
  } else {
    r = rc == SQLITE_DONE ? CHAT_ENOTFOUND
                          : chat_sqlite_fail(c, "message get", rc);
  }
  done(st);
  chat_sqlite_put(s, c, 0);
  if (r == 0) *out = m;
  return r;
}

static int sq_audit(chat_store_t *s, int64_t actor_id, const char *action,
                    const char *target, const char *detail, int64_t now_ms) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_AUDIT_INSERT);
  int r;

  sqlite3_bind_int64(st, 1, actor_id);
  bind_text(st, 2, action);
  bind_text(st, 3, target);
  bind_text(st, 4, detail);
  sqlite3_bind_int64(st, 5, now_ms);
  r = finish(c, st, "audit", 0);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

/* --- read markers --------------------------------------------------------- */

static int sq_read_mark(chat_store_t *s, int64_t user_id, int64_t room_id,
                        int64_t peer_id, int64_t last_id) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = stmt(c, ST_READ_MARK);
  int r;

  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int64(st, 2, room_id);
  sqlite3_bind_int64(st, 3, peer_id);
  sqlite3_bind_int64(st, 4, last_id);
  r = finish(c, st, "read mark", WRITE | ONE_ROW);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_unread(chat_store_t *s, int64_t user_id, chat_unread_rec_t **out,
                     size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  chat_unread_rec_t *v = NULL, e;
  size_t len = 0, cap = 0;
  sqlite3_stmt *st;
  int rc = SQLITE_DONE, r = 0, pass;

  /* Rooms (id, marker, count), then peers (id, name, marker, count). */
  for (pass = 0; pass < 2 && r == 0; pass++) {
    int dm = pass == 1;

    st = stmt(c, dm ? ST_UNREAD_DMS : ST_UNREAD_ROOMS);
    sqlite3_bind_int64(st, 1, user_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      memset(&e, 0, sizeof(e));
      if (dm) {
        e.peer_id = sqlite3_column_int64(st, 0);
        if (col_copy(st, 1, e.peer, sizeof(e.peer))) {
          chat_log_error("store(sqlite): user %lld: bad field",
                         (long long)e.peer_id);
          r = CHAT_EUNAVAIL;
          break;
        }
      } else {
        e.room_id = sqlite3_column_int64(st, 0);
      }
      e.last_read = sqlite3_column_int64(st, dm ? 2 : 1);
      e.count = sqlite3_column_int64(st, dm ? 3 : 2);
      if (e.count == 0) continue;
      if (len == cap) {
        cap = cap ? cap * 2 : 16;
        v = chat_xrealloc(v, cap * sizeof(*v));
      }
      v[len++] = e;
    }
    if (r == 0 && rc != SQLITE_DONE) r = chat_sqlite_fail(c, "unread", rc);
    done(st);
  }
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- transaction primitives (backend.h) ---------------------------------- */

typedef struct {
  chat_store_tx_t super;
  conn_t *c;
} sq_tx_t;

static conn_t *tx_conn(chat_store_tx_t *tx) {
  return container_of(tx, sq_tx_t, super)->c;
}

typedef struct {
  chat_store_t *s;
  chat_store_step_cb step;
  void *arg;
} run_t;

static int run_step(conn_t *c, void *arg) {
  run_t *a = arg;
  sq_tx_t tx;

  tx.super.store = a->s;
  tx.c = c;
  return a->step(&tx.super, a->arg);
}

static int sq_tx_run(chat_store_t *s, const char *what, chat_store_step_cb step,
                     void *arg) {
  run_t a = {s, step, arg};

  return chat_sqlite_tx(s, what, run_step, &a);
}

static int sq_tx_user_set_pwhash(chat_store_tx_t *tx, int64_t user_id,
                                 const char *pwhash) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_PWHASH);

  sqlite3_bind_int64(st, 1, user_id);
  bind_text(st, 2, pwhash);
  return finish(c, st, "set password", ONE_ROW);
}

static int sq_tx_user_set_banned(chat_store_tx_t *tx, int64_t user_id,
                                 int banned) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_USER_SET_BANNED);

  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int(st, 2, banned);
  return finish(c, st, "set banned", ONE_ROW);
}

static int sq_tx_sessions_delete(chat_store_tx_t *tx, int64_t user_id,
                                 const uint8_t *keep_token_hash) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_SESSION_DELETE_OTHERS);

  sqlite3_bind_int64(st, 1, user_id);
  bind_hash(st, 2, keep_token_hash);
  return finish(c, st, "delete sessions", 0);
}

static int sq_tx_sessions_purge(chat_store_tx_t *tx, int64_t user_id,
                                int64_t now_ms) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_SESSION_PURGE_EXPIRED);

  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int64(st, 2, now_ms);
  return finish(c, st, "purge sessions", 0);
}

static int sq_tx_session_insert(chat_store_tx_t *tx, const uint8_t *token_hash,
                                int64_t user_id, int64_t now_ms,
                                int64_t expires_ms) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_SESSION_INSERT);

  bind_hash(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, user_id);
  sqlite3_bind_int64(st, 3, now_ms);
  sqlite3_bind_int64(st, 4, expires_ms);
  return finish(c, st, "session create", WRITE);
}

static int sq_tx_msg_delete(chat_store_tx_t *tx, int64_t room_id, int64_t id) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_MSG_DELETE);

  sqlite3_bind_int64(st, 1, room_id);
  sqlite3_bind_int64(st, 2, id);
  return finish(c, st, "message delete", ONE_ROW);
}

static int sq_tx_tokens_delete(chat_store_tx_t *tx, int kind, int64_t msg_id) {
  return chat_sqlite_search_unindex(tx_conn(tx), kind == CHAT_SEARCH_DM, msg_id, NULL);
}

/* One writer at a time: the row needs no lock of its own. */
static int sq_tx_friend_get(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                            int *found, int64_t *requester, int *accepted) {
  return friend_get(tx_conn(tx), lo, hi, found, requester, accepted);
}

static int sq_tx_friend_insert(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                               int64_t requester, int64_t now_ms) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_FRIEND_INSERT);

  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_int64(st, 3, requester);
  sqlite3_bind_int64(st, 4, now_ms);
  return finish(c, st, "friend request", WRITE);
}

static int sq_tx_friend_accept(chat_store_tx_t *tx, int64_t lo, int64_t hi) {
  conn_t *c = tx_conn(tx);
  sqlite3_stmt *st = stmt(c, ST_FRIEND_ACCEPT);

  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  return finish(c, st, "friend accept", 0);
}

const chat_store_ops_t chat_sqlite_ops = {
    .kind = "sqlite",
    .close = chat_sqlite_close,
    .ping = sq_ping,
    .write_probe = chat_sqlite_write_probe,
    .user_create = sq_user_create,
    .user_find = sq_user_find,
    .user_by_id = sq_user_by_id,
    .session_lookup = sq_session_lookup,
    .session_delete = sq_session_delete,
    .room_create = sq_room_create,
    .room_update = sq_room_update,
    .room_delete = sq_room_delete,
    .room_get = sq_room_get,
    .room_list = sq_room_list,
    .room_last_seq = sq_room_last_seq,
    .room_seqs = sq_room_seqs,
    .msg_insert_batch = sq_msg_insert_batch,
    .msg_insert_batch_nowait = sq_msg_insert_batch_nowait,
    .durable_wait = chat_sqlite_durable_wait,
    .sync_stats = chat_sqlite_sync_stats,
    .msg_by_seq = sq_msg_by_seq,
    .msg_history = sq_msg_history,
    .msg_since = sq_msg_since,
    .dm_history = sq_dm_history,
    .dm_since = sq_dm_since,
    .dm_last_id = sq_dm_last_id,
    .friend_remove = sq_friend_remove,
    .friend_state = sq_friend_state,
    .friend_list = sq_friend_list,
    .search_match = chat_sqlite_search_match,   /* FTS5 (sqlite_fts.h) */
    .search_unindex = chat_sqlite_search_unindex,
    .search_bounds = chat_sqlite_search_bounds,
    .search_tail = chat_sqlite_search_tail,
    .index_pending = chat_sqlite_index_pending,
    .user_list = sq_user_list,
    .user_set_notify = sq_user_set_notify,
    .user_set_phone = sq_user_set_phone,
    .user_set_webhook_notify = sq_user_set_webhook_notify,
    .user_set_profile = sq_user_set_profile,
    .user_range = sq_user_range,
    .msg_get = sq_msg_get,
    .audit = sq_audit,
    .read_mark = sq_read_mark,
    .unread = sq_unread,
    .tx_run = sq_tx_run,
    .tx_user_set_pwhash = sq_tx_user_set_pwhash,
    .tx_user_set_banned = sq_tx_user_set_banned,
    .tx_sessions_delete = sq_tx_sessions_delete,
    .tx_sessions_purge = sq_tx_sessions_purge,
    .tx_session_insert = sq_tx_session_insert,
    .tx_msg_delete = sq_tx_msg_delete,
    .tx_tokens_delete = sq_tx_tokens_delete,
    .tx_friend_get = sq_tx_friend_get,
    .tx_friend_insert = sq_tx_friend_insert,
    .tx_friend_accept = sq_tx_friend_accept,
    /* extras (schema 009) */
    .xq_get = chat_sqlite_xq_get,
    .xq_put = chat_sqlite_xq_put,
    .xq_tx = chat_sqlite_xq_tx,
    .xq = chat_sqlite_xq,
    .files = &chat_sqlite_files_ops, /* files (schema 008) */
};
