/* The MySQL side of the room membership queries (rooms_int.h): each
 * statement is prepared on the borrowed connection for its call and closed
 * after it. */
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "mysql_int.h"
#include "rooms_int.h"

typedef struct {
  chat_rq_step_cb step;
  void *arg;
} my_step_t;

static int my_step(conn_t *c, void *arg) {
  my_step_t *a = arg;
  chat_rq_t q = {&chat_mysql_rq_ops, 1, c};
  return a->step(&q, a->arg);
}

static int my_run(chat_store_t *s, int write, const char *what, chat_rq_step_cb step,
                  void *arg) {
  if (write) {
    my_step_t a = {step, arg};
    return chat_mysql_tx(s, what, my_step, &a);
  }
  conn_t *c;
  int rc = chat_mysql_get(s, &c);
  if (rc) return rc;
  chat_rq_t q = {&chat_mysql_rq_ops, 1, c};
  rc = step(&q, arg);
  chat_mysql_put(s, c);
  return rc;
}

#define RQ_COLS_MAX 10

static int my_exec(chat_rq_t *q, const char *what, const char *sql, const chat_rq_arg_t *args,
                   int nargs, const char *cols, chat_rq_rows_t *rows, int64_t *changes) {
  conn_t *c = q->conn;
  MYSQL_STMT *st = mysql_stmt_init(c->db);
  params_t p;
  MYSQL_BIND rb[RQ_COLS_MAX];
  int64_t iv[RQ_COLS_MAX];
  unsigned long len[RQ_COLS_MAX];
  flag_t nul[RQ_COLS_MAX], err[RQ_COLS_MAX];
  int ncols = cols ? (int)strlen(cols) : 0;
  int r = 0;

  if (st == NULL) {
    chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
    return chat_mysql_fail(c, what);
  }
  memset(&p, 0, sizeof(p));
  for (int k = 0; k < nargs; k++) {
    if (args[k].text)
      p_str(&p, args[k].s);
    else
      p_i64(&p, args[k].i);
  }
  if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) ||
      (nargs && mysql_stmt_bind_param(st, p.b)) || mysql_stmt_execute(st))
    goto fail;
  if (changes) *changes = (int64_t)mysql_stmt_affected_rows(st);
  if (mysql_stmt_field_count(st) == 0) goto out;
  if (ncols > RQ_COLS_MAX || (unsigned)ncols != mysql_stmt_field_count(st)) {
    chat_mysql_save_err(c, 0, "column count mismatch");
    goto fail;
  }
  memset(rb, 0, sizeof(rb));
  for (int k = 0; k < ncols; k++) {
    rb[k].length = &len[k];
    rb[k].is_null = &nul[k];
    rb[k].error = &err[k];
    if (cols[k] == 'i') {
      rb[k].buffer_type = MYSQL_TYPE_LONGLONG;
      rb[k].buffer = &iv[k];
    } else {
      rb[k].buffer_type = MYSQL_TYPE_STRING; /* measured; read below */
    }
  }
  if (mysql_stmt_bind_result(st, rb) || mysql_stmt_store_result(st)) goto fail;
  for (;;) {
    int f = mysql_stmt_fetch(st);
    if (f == MYSQL_NO_DATA) break;
    if (f != 0 && f != MYSQL_DATA_TRUNCATED) goto fail;
    if (rows == NULL) continue;
    chat_rq_rows_add(rows, ncols);
    size_t base = (rows->nrows - 1) * (size_t)ncols;
    for (int k = 0; k < ncols; k++) {
      if (cols[k] == 'i') {
        rows->i[base + k] = nul[k] ? 0 : iv[k];
        continue;
      }
      unsigned long n = nul[k] ? 0 : len[k], got = 0;
      char *s = chat_xmalloc((size_t)n + 1);
      if (n > 0) {
        MYSQL_BIND b;
        memset(&b, 0, sizeof(b));
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = s;
        b.buffer_length = n + 1;
        b.length = &got;
        if (mysql_stmt_fetch_column(st, &b, (unsigned)k, 0) != 0) {
          free(s);
          goto fail;
        }
      }
      s[n] = '\0';
      rows->s[base + k] = s;
    }
  }
out:
  mysql_stmt_free_result(st);
  mysql_stmt_close(st);
  return r;
fail:
  chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
  r = chat_mysql_write_err(c, what);
  mysql_stmt_free_result(st);
  mysql_stmt_close(st);
  return r;
}

const chat_rq_ops_t chat_mysql_rq_ops = {my_run, my_exec};
