/* Private to src/store: the small query interface that the room membership
 * operations (rooms.c) are written against, once for both backends.
 *
 * A backend provides two calls (sqlite_rooms.c, mysql_rooms.c):
 *
 *   run   runs step(q, arg) on a connection of the store: with write 1 in one
 *         write transaction (the backend's transaction helper: committed if
 *         the step returns 0, rolled back and run again after a lost lock
 *         conflict, see backend.h "transactions"); with write 0 on a
 *         borrowed connection outside a transaction (reads only).
 *   exec  runs one statement on q: sql is constant text with `?`
 *         placeholders, prepared for this call (values only ever reach the
 *         database as bound parameters).  cols describes the result
 *         columns, one letter each: 'i' a 64-bit integer (NULL reads as 0),
 *         's' a text (NULL reads as "").  Rows land in *rows (NULL: the
 *         statement returns none); *changes (NULL: not wanted) gets the rows
 *         an INSERT/UPDATE/DELETE changed.  Returns 0, CHAT_EEXIST (a unique
 *         key), CHAT_ENOTFOUND (a foreign key: the parent row is gone),
 *         CHAT_STORE_RETRY (inside a write step: a lost lock conflict) or
 *         CHAT_EUNAVAIL (logged under what).
 *
 * The two dialects differ in little: rooms.c picks the statement text by
 * chat_rq_mysql() where they do (INSERT OR IGNORE / INSERT IGNORE). */
#ifndef CHAT_STORE_ROOMS_INT_H
#define CHAT_STORE_ROOMS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

typedef struct chat_rq chat_rq_t;

/* A bound value: an integer, or a text (s, never NULL for a text). */
typedef struct {
  int text;
  int64_t i;
  const char *s;
} chat_rq_arg_t;

#define RQ_I(v) ((chat_rq_arg_t){0, (int64_t)(v), NULL})
#define RQ_S(v) ((chat_rq_arg_t){1, 0, (v)})

/* Result rows: cell (r, c) is i[r * ncols + c] for an 'i' column and
 * s[r * ncols + c] (malloc'ed) for an 's' column.  Free with
 * chat_rq_rows_free. */
typedef struct {
  size_t nrows;
  int ncols;
  int64_t *i;
  char **s;
} chat_rq_rows_t;

void chat_rq_rows_free(chat_rq_rows_t *r);

typedef int (*chat_rq_step_cb)(chat_rq_t *q, void *arg);

typedef struct {
  int (*run)(chat_store_t *s, int write, const char *what, chat_rq_step_cb step,
             void *arg);
  int (*exec)(chat_rq_t *q, const char *what, const char *sql,
              const chat_rq_arg_t *args, int nargs, const char *cols,
              chat_rq_rows_t *rows, int64_t *changes);
} chat_rq_ops_t;

/* What run hands the step: the backend's connection behind it. */
struct chat_rq {
  const chat_rq_ops_t *ops;
  int mysql;
  void *conn;
};

static inline int chat_rq_mysql(const chat_rq_t *q) { return q->mysql; }

extern const chat_rq_ops_t chat_sqlite_rq_ops;
extern const chat_rq_ops_t chat_mysql_rq_ops;

/* Appends a row of ncols cells to r (growing it); for the backends. */
void chat_rq_rows_add(chat_rq_rows_t *r, int ncols);

#endif
