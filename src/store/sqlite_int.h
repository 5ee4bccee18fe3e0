/* Private to the SQLite backend (sqlite*.c): its handle, its connections,
 * its statements and the helpers its files share.
 *
 * Files: sqlite.c (open and close, the pool, migrations, errors, the
 * transaction helper), sqlite_sql.c (the statement table), sqlite_ops.c
 * (users, sessions, rooms, messages, friends, moderation, read markers and
 * the transaction primitives of backend.h), sqlite_search.c (search and the
 * search index upkeep).
 *
 * Pool: pool_size connections, each opened with SQLITE_OPEN_NOMUTEX and used
 * by one thread at a time: a call borrows a connection (waiting on a
 * condition variable while all are busy) and returns it before it returns.
 *
 * Statements: every statement the backend runs is in chat_sqlite_sql[] and
 * is prepared once per connection, when the connection opens, with
 * SQLITE_PREPARE_PERSISTENT; a call resets it and clears its bindings when
 * done.  User data only ever reaches SQLite through bindings.
 *
 * Durability: WAL with synchronous=FULL, so a COMMIT that returned is on
 * disk, even across a power loss ("an ack never names a message that a
 * restart can lose").  The caller batches messages, which amortises the
 * fsync of each commit.
 *
 * Writers: SQLite admits one writer at a time and makes the others wait in
 * its busy handler, which polls with sleeps of up to 100 ms.  Writers of
 * this process take write_lock instead, so the next one starts as soon as
 * the previous one commits; busy_timeout (BUSY_TIMEOUT_MS) still covers
 * other processes.  A transaction (chat_sqlite_tx) that gets SQLITE_BUSY
 * all the same runs again, up to CHAT_STORE_TX_TRIES times in all.
 *
 * Errors: constraint violations map to CHAT_EEXIST (unique) or
 * CHAT_ENOTFOUND (foreign key: the parent row is gone); anything else is
 * logged with sqlite3_errmsg (which never contains bound values) and
 * becomes CHAT_EUNAVAIL. */
#ifndef CHAT_STORE_SQLITE_INT_H
#define CHAT_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "backend.h"
#include "store.h"
#include "tokens.h"

#define BUSY_TIMEOUT_MS 5000

enum {
  ST_BEGIN,
  ST_COMMIT,
  ST_ROLLBACK,
  ST_PING,
  ST_USER_INSERT,
  ST_USER_FIND,
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
  ST_MSG_SEQ_PROBE,
  ST_MSG_ROOM_END,
  ST_USER_LIST,
  ST_USER_SET_BANNED,
  ST_USER_SET_NOTIFY,
  ST_USER_SET_PHONE,    /* notification channels (schema 011) */
  ST_USER_SET_WEBHOOK,
  ST_DM_BY_CID,
  ST_DM_INSERT,
  ST_DM_BEFORE,
  ST_FTS_INSERT_ROOM,  /* search (sqlite_fts.h) */
  ST_FTS_INSERT_DM,
  ST_CURSOR_GET,
  ST_CURSOR_SET,
  ST_PENDING_ROOM,
  ST_PENDING_DM,
  ST_BOUNDS_ROOM,
  ST_BOUNDS_DM,
  ST_TAIL_ROOM,
  ST_TAIL_DM,
  ST_FTS_DELETE_ROOM_MSG,
  ST_FTS_DELETE_DM_MSG,
  ST_FTS_REINSERT_ROOM_MSG,
  ST_FTS_REINSERT_DM_MSG,
  ST_FTS_DELETE_ROOM,
  ST_MARKERS_DELETE_ROOM,
  ST_MSG_GET,
  ST_MSG_DELETE,
  ST_FRIEND_GET,
  ST_FRIEND_INSERT,
  ST_FRIEND_ACCEPT,
  ST_FRIEND_DELETE,
  ST_FRIEND_LIST,
  ST_SEARCH_ROOM,
  ST_SEARCH_DM,
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

/* sqlite_sql.c: the text of each statement. */
extern const char *const chat_sqlite_sql[ST_COUNT];

/* sqlite_extras.c: statements of chat_sqlite_xq kept prepared. */
typedef struct {
  const char *sql;     /* the caller's string (its address is the key) */
  sqlite3_stmt *st;
} xq_slot_t;

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *st[ST_COUNT];
  xq_slot_t *xq;       /* CHAT_SQLITE_XQ_SLOTS, made at the first use */
  int in_tx; /* inside chat_sqlite_tx's step: SQLITE_BUSY is a retry */
} conn_t;

/* sqlite_sync.c: durability shared by writers, checkpoints on a thread. */
typedef struct {
  pthread_mutex_t mu;       /* guards everything below but the thread */
  pthread_cond_t cv;        /* a sync finished */
  pthread_cond_t ckpt_cv;   /* ckpt_want or stop */
  pthread_cond_t ckpt_done_cv; /* a checkpoint finished, or the thread ended */
  uint64_t committed;       /* tickets given out: commits so far */
  uint64_t synced;          /* every ticket up to this one is on disk */
  int syncing;              /* a thread is in fdatasync */
  int fd;                   /* the WAL file, -1 until the first sync */
  char *wal_path;
  uint64_t syncs, checkpoints;
  uint64_t wal_waits;       /* commits that waited for a checkpoint */
  sqlite3 *ckdb;            /* the checkpoint thread's connection */
  pthread_t thread;
  int ckpt_want, ckpt_busy, stop, running, inited;
} chat_sqlite_sync_t;

/* store.h, chat_store_sync_stats. */
void chat_sqlite_sync_stats(chat_store_t *s, chat_store_sync_stats_t *out);

/* WAL pages (4 KiB) after a commit at which its writer waits for a
 * checkpoint (sqlite_sync.c): the WAL file stays within about 32 MiB plus
 * one transaction. */
#define CHAT_SQLITE_WAL_MAX_PAGES 8000

/* Sets synchronous=NORMAL and the WAL hook on the n connections dbs, opens
 * the checkpoint connection on path and starts its thread.  0, or
 * CHAT_EUNAVAIL with a message in err (then call chat_sqlite_sync_stop). */
int chat_sqlite_sync_start(chat_sqlite_sync_t *sy, const char *path, sqlite3 **dbs, int n,
                           char *err, size_t errlen);
/* Stops the thread and frees everything (after the last writer). */
void chat_sqlite_sync_stop(chat_sqlite_sync_t *sy);
/* A commit's place in line; call right after it, before another writer can
 * commit (under the writer lock). */
uint64_t chat_sqlite_sync_ticket(chat_sqlite_sync_t *sy);
/* Returns once every commit up to ticket is on disk (a sync of its own or
 * one shared with other writers): 0, or CHAT_EUNAVAIL if the sync failed
 * (logged). */
int chat_sqlite_sync_wait(chat_sqlite_sync_t *sy, uint64_t ticket);

typedef struct {
  chat_store_t super;
  pthread_mutex_t lock; /* guards idle, nidle */
  pthread_cond_t cond;  /* signalled when a connection comes back */
  pthread_mutex_t write_lock;
  conn_t *conns; /* pool_size of them */
  conn_t **idle; /* stack of connections not borrowed */
  int nidle;
  int size;
  int writer_own; /* conns[0] is the writers' alone (pool of 2 or more) */
  chat_sqlite_sync_t sync; /* started once the schema is current */
} sq_store_t;

/* sqlite_ops.c: the ops table. */
extern const chat_store_ops_t chat_sqlite_ops;

/* ---- sqlite.c ------------------------------------------------------------ */

/* Borrows a connection, waiting until one is free.  write: first take the
 * process-wide writer lock ("Writers" above); taking it before the
 * connection keeps queued writers from holding idle connections that
 * readers could use.  Give it back with chat_sqlite_put and the same
 * write. */
conn_t *chat_sqlite_get(chat_store_t *s, int write);
/* With write set, also waits until what the writer committed is on disk
 * (sqlite_sync.c), after letting the next writer in; then 0, or
 * CHAT_EUNAVAIL if the sync failed.  Writers that report success must
 * return this. */
int chat_sqlite_put(chat_store_t *s, conn_t *c, int write);
/* chat_sqlite_put for a writer whose outcome is r: r, or the sync's
 * failure when r is 0 (a change that may not be on disk is no success). */
static inline int chat_sqlite_put_write(chat_store_t *s, conn_t *c, int r) {
  int sr = chat_sqlite_put(s, c, 1);
  return r ? r : sr;
}

/* The result rc of a failed statement on c: inside a transaction step,
 * CHAT_STORE_RETRY for SQLITE_BUSY; else logs it under what and returns
 * CHAT_EUNAVAIL.  Call before resetting the statement, which would clear
 * the message. */
int chat_sqlite_fail(conn_t *c, const char *what, int rc);
/* chat_sqlite_fail for a write: constraint violations map to CHAT_EEXIST
 * (unique, primary key) or CHAT_ENOTFOUND (foreign key). */
int chat_sqlite_write_err(conn_t *c, const char *what, int rc);

/* The body of a transaction: 0 to commit, CHAT_STORE_RETRY to run again,
 * anything else to roll back and return it.  Statement failures go through
 * chat_sqlite_fail. */
typedef int (*chat_sqlite_step_fn)(conn_t *c, void *arg);
/* Borrows a writer connection and runs step(c, arg) in a transaction
 * (BEGIN IMMEDIATE ... COMMIT), again after SQLITE_BUSY, up to
 * CHAT_STORE_TX_TRIES times in all; then logs under what and returns
 * CHAT_EUNAVAIL.  0, or the step's code after a rollback. */
int chat_sqlite_tx(chat_store_t *s, const char *what, chat_sqlite_step_fn step,
                   void *arg);
/* chat_sqlite_tx without waiting for the disk: *ticket for
 * chat_sqlite_durable_wait (0 when nothing was committed). */
int chat_sqlite_tx_nowait(chat_store_t *s, const char *what, chat_sqlite_step_fn step,
                          void *arg, uint64_t *ticket);
/* The ops table's durable_wait (store.h, chat_store_durable_wait). */
int chat_sqlite_durable_wait(chat_store_t *s, uint64_t ticket);

/* The ops table's close. */
void chat_sqlite_close(chat_store_t *s);

/* ---- sqlite_ops.c -------------------------------------------------------- */

/* Reads a row of the MSG6 layout (id, room, sender, to, text, ts) into m;
 * m->text is a new string.  0 or CHAT_EUNAVAIL (a NULL or oversized field,
 * which rows written through this backend never have). */
int chat_sqlite_read_msg(sqlite3_stmt *st, chat_msg_rec_t *m);
/* Steps st (bound, MSG6 layout) to the end and returns its rows in *out and
 * *n (in the order of the query); resets st. */
int chat_sqlite_msg_rows(conn_t *c, sqlite3_stmt *st, const char *what,
                         int limit, chat_msg_rec_t **out, size_t *n);

/* ---- sqlite_search.c: the ops of the same names (backend.h) ------------- */

int chat_sqlite_search_match(chat_store_t *s, int kind, const char *q,
                             size_t qlen, int64_t before_id, int64_t room_id,
                             int64_t user_id, const int64_t *hide,
                             size_t nhide, int limit, chat_msg_rec_t **out,
                             size_t *n);
int chat_sqlite_search_bounds(chat_store_t *s, int kind, int tail_max,
                              int64_t *cursor, int64_t *floor);
int chat_sqlite_search_tail(chat_store_t *s, int kind, int64_t floor,
                            int64_t before_id, int64_t room_id,
                            int64_t user_id, int limit, chat_msg_rec_t **out,
                            size_t *n);
int chat_sqlite_index_pending(chat_store_t *s, int max, int *done);
int chat_sqlite_search_unindex(void *conn, int dm, int64_t id,
                               const char *text);

/* ---- small statement helpers --------------------------------------------- */

/* The prepared statement id of c, reset and without bindings. */
static inline sqlite3_stmt *stmt(conn_t *c, int id) { return c->st[id]; }

/* Resets st and clears its bindings. */
static inline void done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows: 0 or its SQLite error code. */
static inline int run(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  return rc == SQLITE_DONE ? 0 : rc;
}

static inline void bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s == NULL)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* The same with s's length, if known (0: not known). */
static inline void bind_text_n(sqlite3_stmt *st, int i, const char *s, size_t len) {
  if (s == NULL)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, s, len ? (int)len : -1, SQLITE_STATIC);
}

/* ---- sqlite_extras.c: the xq ops (backend.h, "extras") ------------------ */

void *chat_sqlite_xq_get(chat_store_t *s, int write);
void chat_sqlite_xq_put(chat_store_t *s, void *conn, int write);
int chat_sqlite_xq_tx(chat_store_t *s, const char *what, int (*step)(void *conn, void *arg),
                      void *arg);
/* A prepared statement for sql on c.  The SQL of extras.c, rooms.c and
 * the like is a few dozen constant strings: each is prepared once per
 * connection and kept (parsing and planning cost more than running most
 * of them), keyed by the string's address and checked against its text,
 * so a caller's buffer with new text is prepared anew.  *kept says how to
 * give it back with chat_sqlite_kept_done (after the last step; the
 * bindings are cleared there).  NULL with *rc on failure. */
sqlite3_stmt *chat_sqlite_kept(conn_t *c, const char *sql, int *kept, int *rc);
void chat_sqlite_kept_done(sqlite3_stmt *st, int kept);
/* Finalizes the statements kept on c. */
void chat_sqlite_xq_cache_free(conn_t *c);
int chat_sqlite_xq(void *conn, const char *sql, const chat_xq_arg_t *args, int nargs,
                   chat_xq_row_cb cb, void *ud, int64_t *changes);

/* ---- sqlite_probe.c ------------------------------------------------------ */

/* The ops table's write_probe (store.h, chat_store_write_probe). */
int chat_sqlite_write_probe(chat_store_t *s);

/* files (schema 008), sqlite_files.c: inside a message batch's transaction,
 * attaches the files of its new items (chat_msg_insert_t.files) that are
 * still the sender's and unattached.  0 or the failure. */
int chat_sqlite_files_attach(conn_t *c, const chat_msg_insert_t *items, size_t n);

#endif
