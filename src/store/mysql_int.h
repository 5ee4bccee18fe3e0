/* Private to the MySQL / MariaDB backend (mysql*.c): its handle, its
 * connections, its statements and the helpers its files share.
 *
 * Files: mysql_url.c (the url), mysql_pool.c (connections, the pool,
 * reconnects, errors, statements, the transaction helper, open and close),
 * mysql_sql.c (the statement table), mysql_migrate.c (migrations and
 * their steps in C),
 * mysql_ops.c (users, sessions, rooms, messages, friends, moderation, read
 * markers, the transaction primitives of backend.h, the ops table),
 * mysql_batch.c (message batches), mysql_search.c (search and the search
 * index upkeep).
 *
 * Url: mysql://[user[:password]@]host[:port]/db[?socket=PATH], user,
 * password, db and PATH percent-decoded.  With a socket the connection goes
 * through it (the host is then only a name).  Neither the url nor the
 * password is ever written to a log or an error message; logs name the
 * server as user@host:port/db.
 *
 * Pool: pool_size connections, each used by one thread at a time: a call
 * borrows one (waiting on a condition variable while all are busy) and
 * returns it before it returns, as the SQLite backend does.  The
 * connections use utf8mb4, strict SQL mode, READ COMMITTED and
 * CLIENT_FOUND_ROWS (an UPDATE counts the rows it matched, so setting a
 * value to what it was is not "no such row").
 *
 * Statements: every statement that carries data is in chat_mysql_sql[] and
 * is prepared once per connection (again after a reconnect); values only
 * reach the server as bound parameters.  The few statements without data
 * (START TRANSACTION, COMMIT, ROLLBACK, session settings, the migration
 * files) are constant text sent with mysql_real_query: older MySQL servers
 * refuse to prepare transaction control.
 *
 * Connection loss: nothing blocks for long.  Connecting gives up after
 * CONNECT_TIMEOUT_S, a read or write after IO_TIMEOUT_S, and a row lock wait
 * after LOCK_WAIT_S (shorter, so a lock wait ends as a server error, not as
 * a lost connection).  A call that fails with a client-side error (the
 * server went away, a timeout) marks its connection broken and returns
 * CHAT_EUNAVAIL; the connection is closed when it comes back to the pool.
 * The next call that borrows it connects again and prepares the statements
 * again.  If that fails, the server counts as down: no connection of the
 * store tries again before a backoff of BACKOFF_MIN_MS, doubled after each
 * failed attempt up to BACKOFF_MAX_MS, and calls meanwhile fail at once
 * with CHAT_EUNAVAIL.  The first success ends the backoff.  A connection
 * found dead also makes the others check themselves (mysql_ping) before
 * their next use, as does an idle time over IDLE_CHECK_MS, so a server
 * restart costs at most the calls that were in flight.
 *
 * Transactions (chat_mysql_tx): a deadlock or lock wait timeout rolls back
 * and runs the whole transaction again (up to CHAT_STORE_TX_TRIES times).
 * If the connection is lost during COMMIT the outcome is unknown and the
 * call says CHAT_EUNAVAIL; a message batch resent with the same cids is
 * then de-duplicated.
 *
 * Errors: a duplicate key maps to CHAT_EEXIST, a missing parent row
 * (foreign key) to CHAT_ENOTFOUND; anything else is logged with the
 * server's message and becomes CHAT_EUNAVAIL.  A server message may quote a
 * value: duplicate keys (the usual case) are mapped, not logged; the rest
 * are texts and names, never a password (the store only sees hashes). */
#ifndef CHAT_STORE_MYSQL_INT_H
#define CHAT_STORE_MYSQL_INT_H

#include <assert.h>
#include <mysql.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "backend.h"
#include "store.h"
#include "tokens.h"

#define CONNECT_TIMEOUT_S 3
#define IO_TIMEOUT_S 8
#define LOCK_WAIT_S 5
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 5000
#define IDLE_CHECK_MS 10000
#define MIGRATE_LOCK_S 30
#define DEFAULT_PORT 3306

#define STR_(x) #x
#define STR(x) STR_(x)

/* The is_null and error flags of MYSQL_BIND are my_bool in MariaDB's
 * library and bool in MySQL 8's, which has no my_bool. */
typedef __typeof__(*((MYSQL_BIND *)0)->is_null) flag_t;

/* Message batches (mysql_batch.c) are written with multi-row INSERTs of
 * 2^k rows (k < BATCH_SIZES; k = 0 is the one-row ST_MSG_INSERT or
 * ST_DM_INSERT), as for search rows; their cids are looked up and their
 * rooms and users checked BATCH_ROWS at a time. */
#define BATCH_SIZES 7
#define BATCH_ROWS 64

enum {
  ST_USER_INSERT,
  ST_USER_FIND,
  ST_USER_KEY_SCAN,
  ST_USER_KEY_SET,
  ST_USER_BY_ID,
  ST_USER_SET_PWHASH,
  ST_SESSION_DELETE_OTHERS,
  ST_SESSION_PURGE_EXPIRED,
  ST_SESSION_INSERT,
  ST_SESSION_LOOKUP,
  ST_SESSION_DELETE,
  ST_ROOM_INSERT,
  ST_ROOM_UPDATE,
  ST_ROOM_DELETE,
  ST_ROOM_GET,
  ST_ROOM_EXISTS,
  ST_ROOM_LIST,
  ST_ROOM_SEQ_TAKE,
  ST_ROOM_SEQ_SET,
  ST_ROOM_LAST_SEQ,
  ST_ROOM_SEQS,
  ST_MSG_BY_CID,
  ST_MSG_INSERT,
  ST_MSG_BEFORE,
  ST_MSG_SINCE,
  ST_MSG_BY_SEQ,
  ST_MSG_SCAN,
  ST_USER_LIST,
  ST_USER_SET_BANNED,
  ST_USER_SET_NOTIFY,
  ST_USER_SET_PHONE,    /* notification channels (schema 011) */
  ST_USER_SET_WEBHOOK,
  ST_DM_BY_CID,
  ST_DM_INSERT,
  ST_DM_BEFORE,
  ST_MSG_INSERT_2, /* 2, 4, ... BATCH_ROWS rows: BATCH_SIZES - 1 of them */
  ST_DM_INSERT_2 = ST_MSG_INSERT_2 + BATCH_SIZES - 1,
  ST_MSG_CIDS = ST_DM_INSERT_2 + BATCH_SIZES - 1,
  ST_DM_CIDS,
  ST_BATCH_PARENTS,
  ST_FTS_PUT,           /* search (schema 012, mysql_search.c) */
  ST_FTS_PUT_DM,
  ST_FTS_DELETE_MSG,
  ST_FTS_DELETE_DM_MSG,
  ST_FTS_REPUT_ROOM_MSG,
  ST_FTS_REPUT_DM_MSG,
  ST_CURSOR_GET_LOCK,
  ST_CURSOR_LOCK,
  ST_CURSOR_SET,
  ST_PENDING_ROOM,
  ST_PENDING_DM,
  ST_BOUNDS_ROOM,
  ST_BOUNDS_DM,
  ST_TAIL_ROOM,
  ST_TAIL_DM,
  ST_FTS_DELETE_ROOM,
  ST_MARKERS_DELETE_ROOM,
  ST_MSG_GET,
  ST_MSG_DELETE,
  ST_FRIEND_GET,
  ST_FRIEND_LOCK,
  ST_FRIEND_INSERT,
  ST_FRIEND_ACCEPT,
  ST_FRIEND_DELETE,
  ST_FRIEND_LIST,
  ST_MATCH_ALL,
  ST_MATCH_ROOM,
  ST_MATCH_DM,
  ST_SCAN_ALL,
  ST_SCAN_ROOM,
  ST_SCAN_DM,
  ST_AUDIT_INSERT,
  ST_READ_MARK,
  ST_UNREAD_ROOMS,
  ST_UNREAD_DMS,
  ST_USER_SET_PROFILE,
  ST_USER_RANGE_NAME,
  ST_USER_RANGE_DISPLAY,
  ST_DM_SINCE,
  ST_DM_LAST_ID,
  ST_COUNT
};

/* mysql_sql.c: the text of each statement, and the session settings of
 * every connection (constant text, chat_mysql_session_sql_n of them). */
extern const char *const chat_mysql_sql[ST_COUNT];
extern const char *const chat_mysql_session_sql[];
extern const size_t chat_mysql_session_sql_n;

typedef struct {
  MYSQL *db;            /* NULL: not connected (never was, or broken) */
  MYSQL_STMT *st[ST_COUNT];
  int broken;           /* a call lost the connection; close on return */
  int in_tx;            /* inside chat_mysql_tx's step: conflicts retry */
  int multi_insert;     /* a multi-row INSERT gets consecutive ids */
  int64_t autoinc_step; /* @@auto_increment_increment */
  unsigned epoch;       /* the store's epoch when last known alive */
  int64_t used_ms;      /* monotonic time of the last return to the pool */
  unsigned err;         /* the last error: its number and message */
  char errmsg[256];
} conn_t;

typedef struct {
  chat_store_t super;
  chat_mysql_url_t url;
  char label[4 * CHAT_MYSQL_URL_FIELD + 32]; /* user@host:port/db */
  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t cond;  /* signalled when a connection comes back */
  conn_t *conns;        /* size of them */
  conn_t **idle;        /* stack of connections not borrowed */
  int nidle;
  int size;
  unsigned epoch;       /* bumped whenever a connection is found dead */
  int backoff_ms;       /* 0: the last connection attempt succeeded */
  int64_t retry_at_ms;  /* monotonic: no connection attempt before this */
} my_store_t;

/* ---- mysql_pool.c: errors ------------------------------------------------ */

/* Writes the open error for chat_store_open's caller (err may be NULL);
 * returns rc. */
int chat_mysql_set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Saves error e (0: an unknown one) and its message as c's last error. */
void chat_mysql_save_err(conn_t *c, unsigned e, const char *msg);
/* The last error of c as a result: inside a transaction step,
 * CHAT_STORE_RETRY if it lost a lock conflict; else logs it under what,
 * marks c broken if the connection is gone, and returns CHAT_EUNAVAIL. */
int chat_mysql_fail(conn_t *c, const char *what);
/* chat_mysql_fail for a failed write: a duplicate key is CHAT_EEXIST, a
 * missing parent row CHAT_ENOTFOUND. */
int chat_mysql_write_err(conn_t *c, const char *what);

/* ---- mysql_pool.c: statements -------------------------------------------- */

/* Runs constant SQL that returns no rows: 0, or -1 with the error saved. */
int chat_mysql_query(conn_t *c, const char *sql);
/* Runs constant SQL that returns one integer: 0 and *v, or -1 with the
 * error saved. */
int chat_mysql_query_int(conn_t *c, const char *sql, long long *v);
/* Rolls back the open transaction, keeping c's last error.  A connection
 * that cannot roll back is not trusted again. */
void chat_mysql_rollback(conn_t *c);

/* Parameters of one statement: values are copied in, so a params_t lives
 * (in place) until the statement has run. */
#define MAX_PARAMS 10
typedef struct {
  MYSQL_BIND b[MAX_PARAMS];
  int64_t i64[MAX_PARAMS];
  unsigned long len[MAX_PARAMS];
  int n;
} params_t;

static inline MYSQL_BIND *p_next(params_t *p) {
  MYSQL_BIND *b;

  assert(p->n < MAX_PARAMS);
  b = &p->b[p->n++];
  memset(b, 0, sizeof(*b));
  return b;
}

static inline void p_i64(params_t *p, int64_t v) {
  MYSQL_BIND *b = p_next(p);

  p->i64[p->n - 1] = v;
  b->buffer_type = MYSQL_TYPE_LONGLONG;
  b->buffer = &p->i64[p->n - 1];
}

/* s NULL: SQL NULL. */
static inline void p_bytes(params_t *p, enum enum_field_types type,
                           const void *s, size_t len) {
  MYSQL_BIND *b = p_next(p);

  if (s == NULL) {
    b->buffer_type = MYSQL_TYPE_NULL;
    return;
  }
  p->len[p->n - 1] = (unsigned long)len;
  b->buffer_type = type;
  b->buffer = (void *)s;
  b->buffer_length = (unsigned long)len;
  b->length = &p->len[p->n - 1];
}

static inline void p_str(params_t *p, const char *s) {
  p_bytes(p, MYSQL_TYPE_STRING, s, s ? strlen(s) : 0);
}

/* A token hash (CHAT_TOKEN_HASH_LEN bytes) or NULL. */
static inline void p_hash(params_t *p, const uint8_t *h) {
  p_bytes(p, MYSQL_TYPE_BLOB, h, CHAT_TOKEN_HASH_LEN);
}

/* Result columns of one row.  Strings land in caller buffers; a text of
 * any length (c_text) is read afterwards with col_text. */
#define MAX_COLS 12
typedef struct {
  MYSQL_BIND b[MAX_COLS];
  unsigned long len[MAX_COLS];
  flag_t nul[MAX_COLS];
  flag_t trunc[MAX_COLS];
  size_t cap[MAX_COLS];
  int n;
} cols_t;

static inline MYSQL_BIND *c_next(cols_t *c) {
  MYSQL_BIND *b;
  int i = c->n++;

  assert(i < MAX_COLS);
  b = &c->b[i];
  memset(b, 0, sizeof(*b));
  b->length = &c->len[i];
  b->is_null = &c->nul[i];
  b->error = &c->trunc[i];
  c->cap[i] = 0;
  return b;
}

static inline void c_i64(cols_t *c, int64_t *dst) {
  MYSQL_BIND *b = c_next(c);

  b->buffer_type = MYSQL_TYPE_LONGLONG;
  b->buffer = dst;
}

/* A string column into dst (cap bytes); checked by cols_ok. */
static inline void c_str(cols_t *c, char *dst, size_t cap) {
  MYSQL_BIND *b = c_next(c);

  b->buffer_type = MYSQL_TYPE_STRING;
  b->buffer = dst;
  b->buffer_length = (unsigned long)(cap - 1);
  c->cap[c->n - 1] = cap;
}

/* A text column only measured by the fetch; read it with col_text. */
static inline void c_text(cols_t *c) {
  MYSQL_BIND *b = c_next(c);

  b->buffer_type = MYSQL_TYPE_STRING;
}

/* After a fetch: 0 if no column is NULL and every string fit (then each is
 * NUL-terminated), else -1.  Rows written through this backend always
 * pass. */
static inline int cols_ok(cols_t *c) {
  int i;

  for (i = 0; i < c->n; i++) {
    if (c->nul[i]) return -1;
    if (c->cap[i] == 0) continue;
    if (c->len[i] >= c->cap[i]) return -1;
    ((char *)c->b[i].buffer)[c->len[i]] = '\0';
  }
  return 0;
}

/* Binds p (may be NULL) to statement id, executes it and, if it returns
 * rows, binds cols (may be NULL then) and buffers the rows on the client.
 * 0, or -1 with the error saved in c. */
int chat_mysql_run(conn_t *c, int id, params_t *p, cols_t *cols);
/* The next row of a statement run by chat_mysql_run: 1 a row, 0 no more,
 * -1 an error (saved).  A truncated column still counts as a row: cols_ok
 * and chat_mysql_col_text look at the lengths. */
int chat_mysql_fetch(conn_t *c, int id);
/* Column col (a c_text) of the current row as a new string; NULL with the
 * error saved if the library fails. */
char *chat_mysql_col_text(conn_t *c, int id, cols_t *cols, int col);

/* Ends a statement's result set. */
static inline void st_done(conn_t *c, int id) {
  mysql_stmt_free_result(c->st[id]);
}

static inline uint64_t st_affected(conn_t *c, int id) {
  return (uint64_t)mysql_stmt_affected_rows(c->st[id]);
}

/* ---- mysql_pool.c: the pool and transactions ----------------------------- */

/* Borrows a working connection, waiting until one is free.  CHAT_EUNAVAIL
 * (and nothing borrowed) if it has to be reconnected and cannot be. */
int chat_mysql_get(chat_store_t *s, conn_t **out);
/* Gives a borrowed connection back (closing it if it broke). */
void chat_mysql_put(chat_store_t *s, conn_t *c);

/* The body of a transaction: 0 to commit, CHAT_STORE_RETRY to run again,
 * anything else to roll back and return it.  Statement failures go through
 * chat_mysql_fail or chat_mysql_write_err. */
typedef int (*chat_mysql_step_fn)(conn_t *c, void *arg);
/* Runs step(c, arg) on the borrowed connection c in a transaction, again
 * after a lost lock conflict, up to CHAT_STORE_TX_TRIES times in all; then
 * logs the last error under what and returns CHAT_EUNAVAIL.  0, or the
 * step's code after a rollback. */
int chat_mysql_tx_on(conn_t *c, const char *what, chat_mysql_step_fn step,
                     void *arg);
/* chat_mysql_tx_on on a connection borrowed for it. */
int chat_mysql_tx(chat_store_t *s, const char *what, chat_mysql_step_fn step,
                  void *arg);

/* The ops table's close. */
void chat_mysql_close(chat_store_t *s);

/* ---- mysql_migrate.c ----------------------------------------------------- */

/* Brings the schema up to date on c (connected with multi-statements). */
int chat_mysql_migrate(my_store_t *s, conn_t *c, char *err, size_t errlen);

/* ---- mysql_search.c ------------------------------------------------------ */

/* The ops of the same names (backend.h). */
int chat_mysql_search_match(chat_store_t *s, int kind, const char *q,
                            size_t qlen, int64_t before_id, int64_t room_id,
                            int64_t user_id, const int64_t *hide,
                            size_t nhide, int limit, chat_msg_rec_t **out,
                            size_t *n);
int chat_mysql_search_unindex(void *conn, int dm, int64_t id,
                              const char *text);
int chat_mysql_search_bounds(chat_store_t *s, int kind, int tail_max,
                             int64_t *cursor, int64_t *floor);
int chat_mysql_search_tail(chat_store_t *s, int kind, int64_t floor,
                           int64_t before_id, int64_t room_id, int64_t user_id,
                           int limit, chat_msg_rec_t **out, size_t *n);
int chat_mysql_index_pending(chat_store_t *s, int max, int *done);

/* ---- mysql_batch.c ------------------------------------------------------- */

/* The op msg_insert_batch (backend.h). */
int chat_mysql_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                                size_t n);

/* ---- mysql_ops.c --------------------------------------------------------- */

extern const chat_store_ops_t chat_mysql_ops;

/* Runs statement id (the MSG6 layout: id, room, sender, to, text, ts) with
 * p and returns its rows in *out and *n, in the order of the query. */
int chat_mysql_msg6_rows(conn_t *c, int id, params_t *p, const char *what,
                         int limit, chat_msg_rec_t **out, size_t *n);

/* ---- mysql_extras.c: the xq ops (backend.h, "extras") ------------------- */

void *chat_mysql_xq_get(chat_store_t *s, int write);
void chat_mysql_xq_put(chat_store_t *s, void *conn, int write);
int chat_mysql_xq_tx(chat_store_t *s, const char *what, int (*step)(void *conn, void *arg),
                     void *arg);
int chat_mysql_xq(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
                  chat_xq_row_cb cb, void *ud, int64_t *changes);

/* ---- mysql_probe.c ------------------------------------------------------- */

/* The ops table's write_probe (store.h, chat_store_write_probe). */
int chat_mysql_write_probe(chat_store_t *s);

/* files (schema 008), mysql_files.c: inside a message batch's transaction,
 * attaches the files of its new items (chat_msg_insert_t.files) that are
 * still the sender's and unattached.  0, or -1 with the error saved. */
int chat_mysql_files_attach(conn_t *c, const chat_msg_insert_t *items, size_t n);

#endif
