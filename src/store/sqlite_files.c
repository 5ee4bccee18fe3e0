/* The SQLite backend's file operations (files_int.h, schema 008).
 *
 * Their statements are prepared on the borrowed connection for each call
 * (sqlite3_prepare_v3, bound parameters only): files are uploaded and read
 * far less often than messages, and the backend's statement table stays as
 * it is.  Writes take the writer lock like every write of the backend. */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "files_int.h"
#include "sqlite_int.h"

#define FILE_COLS \
  "id, owner_id, name, size, type, path, thumb, created_ms, msg_kind, msg_id"

static int prep(conn_t *c, const char *sql, sqlite3_stmt **st) {
  int rc = sqlite3_prepare_v3(c->db, sql, -1, 0, st, NULL);
  if (rc != SQLITE_OK) return chat_sqlite_fail(c, "file statement", rc);
  return 0;
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *p = sqlite3_column_text(st, col);
  size_t len = (size_t)sqlite3_column_bytes(st, col);
  if (p == NULL || len >= cap) len = 0;
  if (len) memcpy(dst, p, len);
  dst[len] = '\0';
}

static void read_file(sqlite3_stmt *st, chat_file_rec_t *f) {
  memset(f, 0, sizeof(*f));
  f->id = sqlite3_column_int64(st, 0);
  f->owner_id = sqlite3_column_int64(st, 1);
  copy_col(st, 2, f->name, sizeof(f->name));
  f->size = sqlite3_column_int64(st, 3);
  copy_col(st, 4, f->type, sizeof(f->type));
  copy_col(st, 5, f->path, sizeof(f->path));
  copy_col(st, 6, f->thumb, sizeof(f->thumb));
  f->created_ms = sqlite3_column_int64(st, 7);
  f->msg_kind = sqlite3_column_int(st, 8);
  f->msg_id = sqlite3_column_int64(st, 9);
}

/* The quota is checked by the INSERT itself: one statement under the
 * writer lock, so two uploads of one user cannot both pass it. */
static int sq_create(chat_store_t *s, chat_file_rec_t *rec, int64_t quota) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = NULL;
  int r = prep(c,
               "INSERT INTO files (owner_id, name, size, type, path, thumb, created_ms)"
               " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7"
               " WHERE (SELECT coalesce(sum(size), 0) FROM files WHERE owner_id = ?1)"
               "  + ?3 <= ?8",
               &st);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, rec->owner_id);
    sqlite3_bind_text(st, 2, rec->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, rec->size);
    sqlite3_bind_text(st, 4, rec->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, rec->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, rec->thumb, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, rec->created_ms);
    sqlite3_bind_int64(st, 8, quota);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
      r = chat_sqlite_write_err(c, "file insert", rc);
    else if (sqlite3_changes(c->db) == 0)
      r = CHAT_STORE_EQUOTA;
    else
      rec->id = sqlite3_last_insert_rowid(c->db);
  }
  sqlite3_finalize(st);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_get(chat_store_t *s, int64_t id, chat_file_rec_t *out) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = NULL;
  int r = prep(c, "SELECT " FILE_COLS " FROM files WHERE id = ?1", &st);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      read_file(st, out);
    else if (rc == SQLITE_DONE)
      r = CHAT_ENOTFOUND;
    else
      r = chat_sqlite_fail(c, "file get", rc);
  }
  sqlite3_finalize(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_readable(chat_store_t *s, int64_t id, int64_t user_id, int *ok) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = NULL;
  *ok = 0;
  int r = prep(c,
               "SELECT 1 FROM files f WHERE f.id = ?1 AND (f.owner_id = ?2"
               " OR (f.msg_kind = 1 AND EXISTS (SELECT 1 FROM messages m"
               "     JOIN rooms r ON r.id = m.room_id WHERE m.id = f.msg_id"
               "     AND (r.visibility = 0"
               "       OR EXISTS (SELECT 1 FROM room_members rm"
               "                  WHERE rm.room_id = r.id AND rm.user_id = ?2)"
               "       OR EXISTS (SELECT 1 FROM users a WHERE a.id = ?2 AND a.role = 1))))"
               " OR (f.msg_kind = 2 AND EXISTS (SELECT 1 FROM direct_messages d"
               "     WHERE d.id = f.msg_id AND (d.sender_id = ?2 OR d.receiver_id = ?2)))"
               " OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_file = f.id))",
               &st);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, user_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
      *ok = 1;
    else if (rc != SQLITE_DONE)
      r = chat_sqlite_fail(c, "file access", rc);
  }
  sqlite3_finalize(st);
  chat_sqlite_put(s, c, 0);
  return r;
}

static int sq_range(chat_store_t *s, int kind, int64_t lo, int64_t hi,
                    chat_file_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = NULL;
  chat_file_rec_t *v = NULL;
  size_t len = 0;
  int rc, r = prep(c,
                   "SELECT " FILE_COLS " FROM files"
                   " WHERE msg_kind = ?1 AND msg_id BETWEEN ?2 AND ?3"
                   " ORDER BY msg_id, id",
                   &st);
  if (r == 0) {
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      v = chat_xrealloc(v, (len + 1) * sizeof(*v));
      read_file(st, &v[len++]);
    }
    if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "file list", rc);
  }
  sqlite3_finalize(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int sq_delete_msg(chat_store_t *s, int kind, int64_t msg_id) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = NULL;
  int r = prep(c, "DELETE FROM files WHERE msg_kind = ?1 AND msg_id = ?2", &st);
  if (r == 0) {
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_int64(st, 2, msg_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) r = chat_sqlite_write_err(c, "file delete", rc);
  }
  sqlite3_finalize(st);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

static int sq_set_avatar(chat_store_t *s, int64_t user_id, int64_t file_id) {
  conn_t *c = chat_sqlite_get(s, 1);
  sqlite3_stmt *st = NULL;
  int r = prep(c,
               "UPDATE users SET avatar_file = ?2 WHERE id = ?1 AND (?2 = 0 OR EXISTS"
               " (SELECT 1 FROM files f WHERE f.id = ?2 AND f.owner_id = ?1"
               "  AND f.thumb <> ''))",
               &st);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int64(st, 2, file_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
      r = chat_sqlite_write_err(c, "avatar set", rc);
    else if (sqlite3_changes(c->db) == 0)
      r = CHAT_ENOTFOUND;
  }
  sqlite3_finalize(st);
  r = chat_sqlite_put_write(s, c, r);
  return r;
}

int chat_sqlite_files_attach(conn_t *c, const chat_msg_insert_t *items, size_t n) {
  sqlite3_stmt *st = NULL;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    const chat_msg_insert_t *it = &items[i];
    if (it->nfiles == 0 || it->dup || it->status != 0 || it->id <= 0) continue;
    if (st == NULL &&
        (r = prep(c,
                  "UPDATE files SET msg_kind = ?1, msg_id = ?2"
                  " WHERE id = ?3 AND owner_id = ?4 AND msg_kind = 0",
                  &st)) != 0)
      break;
    for (size_t k = 0; k < it->nfiles && r == 0; k++) {
      sqlite3_bind_int(st, 1, it->to_id != 0 ? CHAT_FILE_DM : CHAT_FILE_ROOM);
      sqlite3_bind_int64(st, 2, it->id);
      sqlite3_bind_int64(st, 3, it->files[k]);
      sqlite3_bind_int64(st, 4, it->sender_id);
      int rc = sqlite3_step(st);
      if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "file attach", rc);
      sqlite3_reset(st);
    }
  }
  sqlite3_finalize(st);
  return r;
}

static int sq_orphans(chat_store_t *s, chat_file_rec_t **out, size_t *n) {
  conn_t *c = chat_sqlite_get(s, 0);
  sqlite3_stmt *st = NULL;
  chat_file_rec_t *v = NULL;
  size_t len = 0;
  int rc, r = prep(c,
                   "SELECT " FILE_COLS " FROM files f WHERE"
                   " (f.msg_kind = 1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = f.msg_id))"
                   " OR (f.msg_kind = 2 AND NOT EXISTS"
                   "     (SELECT 1 FROM direct_messages d WHERE d.id = f.msg_id))"
                   " ORDER BY f.msg_kind, f.msg_id, f.id",
                   &st);
  if (r == 0) {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      v = chat_xrealloc(v, (len + 1) * sizeof(*v));
      read_file(st, &v[len++]);
    }
    if (rc != SQLITE_DONE) r = chat_sqlite_fail(c, "file orphans", rc);
  }
  sqlite3_finalize(st);
  chat_sqlite_put(s, c, 0);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

const struct chat_store_files_ops_s chat_sqlite_files_ops = {
    .create = sq_create,
    .get = sq_get,
    .readable = sq_readable,
    .range = sq_range,
    .delete_msg = sq_delete_msg,
    .set_avatar = sq_set_avatar,
    .orphans = sq_orphans,
};
