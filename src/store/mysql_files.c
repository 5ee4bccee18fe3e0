/* The MySQL backend's file operations (files_int.h, schema 008).
 *
 * Their statements are prepared on the borrowed connection for each call
 * (server-side prepared statements, bound parameters only), so the
 * backend's statement table stays as it is; files are uploaded and read
 * far less often than messages.  Outside a transaction each statement
 * commits on its own (autocommit). */
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "files_int.h"
#include "mysql_int.h"

#define FILE_COLS \
  "id, owner_id, name, size, type, path, thumb, created_ms, msg_kind, msg_id"

typedef struct {
  cols_t cols;
  chat_file_rec_t rec;
  int64_t kind;
} file_row_t;

static cols_t *file_cols(file_row_t *r) {
  memset(r, 0, sizeof(*r));
  c_i64(&r->cols, &r->rec.id);
  c_i64(&r->cols, &r->rec.owner_id);
  c_str(&r->cols, r->rec.name, sizeof(r->rec.name));
  c_i64(&r->cols, &r->rec.size);
  c_str(&r->cols, r->rec.type, sizeof(r->rec.type));
  c_str(&r->cols, r->rec.path, sizeof(r->rec.path));
  c_str(&r->cols, r->rec.thumb, sizeof(r->rec.thumb));
  c_i64(&r->cols, &r->rec.created_ms);
  c_i64(&r->cols, &r->kind);
  c_i64(&r->cols, &r->rec.msg_id);
  return &r->cols;
}

/* Prepares sql on c and runs it with p (may be NULL) and cols (for a
 * statement with rows).  *out is the statement (close it with
 * mysql_stmt_close, also after a failure); 0 or -1 with the error saved. */
static int run(conn_t *c, const char *sql, params_t *p, cols_t *cols, MYSQL_STMT **out) {
  MYSQL_STMT *st = mysql_stmt_init(c->db);
  *out = st;
  if (st == NULL) {
    chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
    return -1;
  }
  if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) ||
      (p != NULL && mysql_stmt_bind_param(st, p->b)) || mysql_stmt_execute(st))
    goto err;
  if (mysql_stmt_field_count(st) == 0) return 0;
  if (cols == NULL || mysql_stmt_bind_result(st, cols->b) || mysql_stmt_store_result(st))
    goto err;
  return 0;
err:
  chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
  return -1;
}

static void close_st(MYSQL_STMT *st) {
  if (st != NULL) mysql_stmt_close(st);
}

/* The quota is checked by the INSERT itself (one statement). */
static int my_create(chat_store_t *s, chat_file_rec_t *rec, int64_t quota) {
  MYSQL_STMT *st = NULL;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);
  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, rec->owner_id);
  p_str(&p, rec->name);
  p_i64(&p, rec->size);
  p_str(&p, rec->type);
  p_str(&p, rec->path);
  p_str(&p, rec->thumb);
  p_i64(&p, rec->created_ms);
  p_i64(&p, rec->owner_id);
  p_i64(&p, rec->size);
  p_i64(&p, quota);
  if (run(c,
          "INSERT INTO files (owner_id, name, size, type, path, thumb, created_ms)"
          " SELECT ?, ?, ?, ?, ?, ?, ? FROM DUAL"
          " WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = ?) + ? <= ?",
          &p, NULL, &st)) {
    r = chat_mysql_write_err(c, "file insert");
  } else if (mysql_stmt_affected_rows(st) == 0) {
    r = CHAT_STORE_EQUOTA;
  } else {
    rec->id = (int64_t)mysql_stmt_insert_id(st);
  }
  close_st(st);
  chat_mysql_put(s, c);
  return r;
}

static int my_get(chat_store_t *s, int64_t id, chat_file_rec_t *out) {
  MYSQL_STMT *st = NULL;
  file_row_t row;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);
  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, id);
  if (run(c, "SELECT " FILE_COLS " FROM files WHERE id = ?", &p, file_cols(&row), &st)) {
    r = chat_mysql_fail(c, "file get");
  } else {
    int rc = mysql_stmt_fetch(st);
    if (rc == MYSQL_NO_DATA) {
      r = CHAT_ENOTFOUND;
    } else if ((rc != 0 && rc != MYSQL_DATA_TRUNCATED) || cols_ok(&row.cols)) {
      chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
      r = chat_mysql_fail(c, "file get");
    } else {
      row.rec.msg_kind = (int)row.kind;
      *out = row.rec;
    }
  }
  close_st(st);
  chat_mysql_put(s, c);
  return r;
}

static int my_readable(chat_store_t *s, int64_t id, int64_t user_id, int *ok) {
  MYSQL_STMT *st = NULL;
  int64_t one = 0;
  cols_t cols;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);
  *ok = 0;
  if (r) return r;
  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, id);
  p_i64(&p, user_id);  /* the owner */
  p_i64(&p, user_id);  /* a member of a private room */
  p_i64(&p, user_id);  /* an administrator */
  p_i64(&p, user_id);  /* a direct message's sender */
  p_i64(&p, user_id);  /* or receiver */
  c_i64(&cols, &one);
  if (run(c,
          "SELECT 1 FROM files f WHERE f.id = ? AND (f.owner_id = ?"
          " OR (f.msg_kind = 1 AND EXISTS (SELECT 1 FROM messages m"
          "     JOIN rooms r ON r.id = m.room_id WHERE m.id = f.msg_id"
          "     AND (r.visibility = 0"
          "       OR EXISTS (SELECT 1 FROM room_members rm"
          "                  WHERE rm.room_id = r.id AND rm.user_id = ?)"
          "       OR EXISTS (SELECT 1 FROM users a WHERE a.id = ? AND a.role = 1))))"
          " OR (f.msg_kind = 2 AND EXISTS (SELECT 1 FROM direct_messages d"
          "     WHERE d.id = f.msg_id AND (d.sender_id = ? OR d.receiver_id = ?)))"
          " OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_file = f.id))",
          &p, &cols, &st)) {
    r = chat_mysql_fail(c, "file access");
  } else {
    int rc = mysql_stmt_fetch(st);
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
      *ok = 1;
    } else if (rc != MYSQL_NO_DATA) {
      chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
      r = chat_mysql_fail(c, "file access");
    }
  }
  close_st(st);
  chat_mysql_put(s, c);
  return r;
}

/* The rows sql (with p bound) returns. */
static int list(chat_store_t *s, const char *sql, params_t *p, chat_file_rec_t **out,
                size_t *n) {
  MYSQL_STMT *st = NULL;
  chat_file_rec_t *v = NULL;
  size_t len = 0;
  file_row_t row;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);
  if (r) return r;
  if (run(c, sql, p, file_cols(&row), &st)) {
    r = chat_mysql_fail(c, "file list");
  } else {
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
      if (cols_ok(&row.cols)) continue;
      row.rec.msg_kind = (int)row.kind;
      v = chat_xrealloc(v, (len + 1) * sizeof(*v));
      v[len++] = row.rec;
    }
    if (rc != MYSQL_NO_DATA) {
      chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
      r = chat_mysql_fail(c, "file list");
    }
  }
  close_st(st);
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int my_range(chat_store_t *s, int kind, int64_t lo, int64_t hi,
                    chat_file_rec_t **out, size_t *n) {
  params_t p;
  memset(&p, 0, sizeof(p));
  p_i64(&p, kind);
  p_i64(&p, lo);
  p_i64(&p, hi);
  return list(s,
              "SELECT " FILE_COLS " FROM files WHERE msg_kind = ? AND msg_id BETWEEN ? AND ?"
              " ORDER BY msg_id, id",
              &p, out, n);
}

static int my_orphans(chat_store_t *s, chat_file_rec_t **out, size_t *n) {
  return list(s,
              "SELECT " FILE_COLS " FROM files f WHERE"
              " (f.msg_kind = 1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = f.msg_id))"
              " OR (f.msg_kind = 2 AND NOT EXISTS"
              "     (SELECT 1 FROM direct_messages d WHERE d.id = f.msg_id))"
              " ORDER BY f.msg_kind, f.msg_id, f.id",
              NULL, out, n);
}

static int my_delete_msg(chat_store_t *s, int kind, int64_t msg_id) {
  MYSQL_STMT *st = NULL;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);
  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, kind);
  p_i64(&p, msg_id);
  if (run(c, "DELETE FROM files WHERE msg_kind = ? AND msg_id = ?", &p, NULL, &st))
    r = chat_mysql_fail(c, "file delete");
  close_st(st);
  chat_mysql_put(s, c);
  return r;
}

static int my_set_avatar(chat_store_t *s, int64_t user_id, int64_t file_id) {
  MYSQL_STMT *st = NULL;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);
  if (r) return r;
  memset(&p, 0, sizeof(p));
  /* CLIENT_FOUND_ROWS (the pool's connections): a row set to what it was
   * still counts. */
  p_i64(&p, file_id);
  p_i64(&p, user_id);
  p_i64(&p, file_id);
  p_i64(&p, file_id);
  p_i64(&p, user_id);
  if (run(c,
          "UPDATE users SET avatar_file = ? WHERE id = ? AND (? = 0 OR EXISTS"
          " (SELECT 1 FROM files f WHERE f.id = ? AND f.owner_id = ? AND f.thumb <> ''))",
          &p, NULL, &st))
    r = chat_mysql_fail(c, "avatar set");
  else if (mysql_stmt_affected_rows(st) == 0)
    r = CHAT_ENOTFOUND;
  close_st(st);
  chat_mysql_put(s, c);
  return r;
}

int chat_mysql_files_attach(conn_t *c, const chat_msg_insert_t *items, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const chat_msg_insert_t *it = &items[i];
    if (it->nfiles == 0 || it->dup || it->status != 0 || it->id <= 0) continue;
    for (size_t k = 0; k < it->nfiles; k++) {
      MYSQL_STMT *st = NULL;
      params_t p;
      memset(&p, 0, sizeof(p));
      p_i64(&p, it->to_id != 0 ? CHAT_FILE_DM : CHAT_FILE_ROOM);
      p_i64(&p, it->id);
      p_i64(&p, it->files[k]);
      p_i64(&p, it->sender_id);
      int rc = run(c,
                   "UPDATE files SET msg_kind = ?, msg_id = ?"
                   " WHERE id = ? AND owner_id = ? AND msg_kind = 0",
                   &p, NULL, &st);
      close_st(st);
      if (rc) return -1;
    }
  }
  return 0;
}

const struct chat_store_files_ops_s chat_mysql_files_ops = {
    .create = my_create,
    .get = my_get,
    .readable = my_readable,
    .range = my_range,
    .delete_msg = my_delete_msg,
    .set_avatar = my_set_avatar,
    .orphans = my_orphans,
};
