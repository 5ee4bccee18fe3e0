/* MySQL's xq ops (backend.h, "extras"): one statement of store/extras.c,
 * prepared for the call on a borrowed connection and closed after it.
 * Every result column is fetched as text of any length (integers come as
 * their decimal digits), so one function serves every query. */
#include <errmsg.h>
#include <stdlib.h>

#include "../core/common.h"
#include "mysql_int.h"

#define XQ_COLS 8
#define XQ_ARGS 160

void *chat_mysql_xq_get(chat_store_t *s, int write) {
  conn_t *c;
  (void)write;
  return chat_mysql_get(s, &c) == 0 ? c : NULL;
}

void chat_mysql_xq_put(chat_store_t *s, void *conn, int write) {
  (void)write;
  chat_mysql_put(s, conn);
}

int chat_mysql_xq_tx(chat_store_t *s, const char *what, int (*step)(void *conn, void *arg),
                     void *arg) {
  return chat_mysql_tx(s, what, (chat_mysql_step_fn)step, arg);
}

static int st_fail(conn_t *c, MYSQL_STMT *st) {
  chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
  return chat_mysql_write_err(c, "extras");
}

int chat_mysql_xq(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
                  chat_xq_row_cb cb, void *ud, int64_t *changes) {
  conn_t *c = conn;
  MYSQL_BIND *pb = NULL;
  unsigned long *plen = NULL;
  long long *pi = NULL;
  MYSQL_RES *meta = NULL;
  int r = 0;

  if (c == NULL || c->db == NULL || nargs > XQ_ARGS) return CHAT_EUNAVAIL;
  MYSQL_STMT *st = mysql_stmt_init(c->db);
  if (st == NULL) {
    chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
    return chat_mysql_fail(c, "extras");
  }
  if (mysql_stmt_prepare(st, sql, strlen(sql))) {
    r = st_fail(c, st);
    goto out;
  }
  if (nargs > 0) {
    pb = chat_xcalloc((size_t)nargs, sizeof(*pb));
    plen = chat_xcalloc((size_t)nargs, sizeof(*plen));
    pi = chat_xcalloc((size_t)nargs, sizeof(*pi));
    for (int i = 0; i < nargs; i++) {
      const chat_xq_arg_t *a = &args[i];
      switch (a->type) {
        case CHAT_XQ_INT:
          pi[i] = a->i;
          pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
          pb[i].buffer = &pi[i];
          break;
        case CHAT_XQ_TEXT:
        case CHAT_XQ_BLOB:
          plen[i] = (unsigned long)a->len;
          pb[i].buffer_type = a->type == CHAT_XQ_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
          pb[i].buffer = (void *)(a->p ? a->p : "");
          pb[i].buffer_length = plen[i];
          pb[i].length = &plen[i];
          break;
        case CHAT_XQ_NULL: pb[i].buffer_type = MYSQL_TYPE_NULL; break;
      }
    }
    if (mysql_stmt_bind_param(st, pb)) {
      r = st_fail(c, st);
      goto out;
    }
  }
  if (mysql_stmt_execute(st)) {
    r = st_fail(c, st);
    goto out;
  }
  if (changes) *changes = (int64_t)mysql_stmt_affected_rows(st);
  meta = mysql_stmt_result_metadata(st);
  if (meta == NULL) goto out;
  {
    int n = (int)mysql_num_fields(meta);
    if (n > XQ_COLS) n = XQ_COLS;
    MYSQL_BIND rb[XQ_COLS];
    unsigned long rlen[XQ_COLS];
    flag_t rnul[XQ_COLS], rerr[XQ_COLS];
    memset(rb, 0, sizeof(rb));
    for (int i = 0; i < n; i++) {
      rb[i].buffer_type = MYSQL_TYPE_STRING;
      rb[i].length = &rlen[i];
      rb[i].is_null = &rnul[i];
      rb[i].error = &rerr[i];
    }
    if (mysql_stmt_bind_result(st, rb) || mysql_stmt_store_result(st)) {
      r = st_fail(c, st);
      goto out;
    }
    for (;;) {
      int fr = mysql_stmt_fetch(st);
      if (fr == MYSQL_NO_DATA) break;
      if (fr == 1) {
        r = st_fail(c, st);
        break;
      }
      chat_xq_col_t cols[XQ_COLS];
      char *bufs[XQ_COLS] = {0};
      for (int i = 0; i < n && r == 0; i++) {
        if (rnul[i]) {
          cols[i].p = NULL;
          cols[i].len = 0;
          continue;
        }
        bufs[i] = chat_xmalloc(rlen[i] + 1);
        if (rlen[i] > 0) {
          MYSQL_BIND one;
          unsigned long got = 0;
          memset(&one, 0, sizeof(one));
          one.buffer_type = MYSQL_TYPE_STRING;
          one.buffer = bufs[i];
          one.buffer_length = rlen[i] + 1;
          one.length = &got;
          if (mysql_stmt_fetch_column(st, &one, (unsigned)i, 0)) r = st_fail(c, st);
        }
        bufs[i][rlen[i]] = '\0';
        cols[i].p = bufs[i];
        cols[i].len = rlen[i];
      }
      if (r == 0 && cb) r = cb(ud, cols, n);
      for (int i = 0; i < n; i++) free(bufs[i]);
      if (r) break;
    }
    mysql_stmt_free_result(st);
  }
out:
  if (meta) mysql_free_result(meta);
  mysql_stmt_close(st);
  free(pb);
  free(plen);
  free(pi);
  return r;
}
