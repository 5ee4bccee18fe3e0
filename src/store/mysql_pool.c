/* The MySQL backend (see mysql_int.h): connections, the pool and its
 * reconnects, errors, statement helpers, the transaction helper, opening
 * and closing. */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/common.h"
#include "../core/log.h"
#include "mysql_int.h"

static int64_t mono_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int chat_mysql_set_err(char *err, size_t errlen, int rc, const char *fmt, ...) {
  va_list ap;

  if (err != NULL && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* --- errors and statements ------------------------------------------------ */

/* 1 if error number e means the connection itself is gone or unusable:
 * client-side errors (2000-2999, and MariaDB's own 5000-5999) and the
 * server closing the session. */
static int conn_lost(unsigned e) {
  return (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR) || (e >= 5000 && e <= 5999) ||
         e == ER_SERVER_SHUTDOWN || e == ER_CONNECTION_KILLED ||
         e == ER_NET_READ_ERROR || e == ER_NET_READ_INTERRUPTED ||
         e == ER_NET_ERROR_ON_WRITE;
}

/* 1 if the transaction lost a lock conflict and may simply run again. */
static int tx_retryable(unsigned e) {
  return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT;
}

void chat_mysql_save_err(conn_t *c, unsigned e, const char *msg) {
  c->err = e ? e : CR_UNKNOWN_ERROR;
  snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg && *msg ? msg : "?");
}

int chat_mysql_fail(conn_t *c, const char *what) {
  if (c->in_tx && tx_retryable(c->err)) return CHAT_STORE_RETRY;
  chat_log_error("store(mysql): %s: %s (%u)", what, c->errmsg, c->err);
  if (conn_lost(c->err)) c->broken = 1;
  return CHAT_EUNAVAIL;
}

int chat_mysql_write_err(conn_t *c, const char *what) {
  switch (c->err) {
    case ER_DUP_ENTRY:
    case ER_DUP_KEY:
      return CHAT_EEXIST;
    case ER_NO_REFERENCED_ROW:
    case ER_NO_REFERENCED_ROW_2:
      return CHAT_ENOTFOUND;
    default:
      return chat_mysql_fail(c, what);
  }
}

int chat_mysql_query(conn_t *c, const char *sql) {
  if (mysql_real_query(c->db, sql, (unsigned long)strlen(sql)) == 0) return 0;
  chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
  return -1;
}

int chat_mysql_run(conn_t *c, int id, params_t *p, cols_t *cols) {
  MYSQL_STMT *st = c->st[id];

  assert(p == NULL || (unsigned)p->n == mysql_stmt_param_count(st));
  if ((p != NULL && mysql_stmt_bind_param(st, p->b)) || mysql_stmt_execute(st))
    goto err;
  if (mysql_stmt_field_count(st) == 0) return 0;
  assert(cols != NULL && (unsigned)cols->n == mysql_stmt_field_count(st));
  if (mysql_stmt_bind_result(st, cols->b) || mysql_stmt_store_result(st))
    goto err;
  return 0;

err:
  chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
  mysql_stmt_free_result(st);
  return -1;
}

int chat_mysql_fetch(conn_t *c, int id) {
  MYSQL_STMT *st = c->st[id];
  int rc = mysql_stmt_fetch(st);

  if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) return 1;
  if (rc == MYSQL_NO_DATA) return 0;
  chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
  return -1;
}

char *chat_mysql_col_text(conn_t *c, int id, cols_t *cols, int col) {
  unsigned long len = cols->len[col], got = 0;
  char *s = chat_xmalloc((size_t)len + 1);
  MYSQL_BIND b;

  memset(&b, 0, sizeof(b));
  b.buffer_type = MYSQL_TYPE_STRING;
  b.buffer = s;
  b.buffer_length = len + 1;
  b.length = &got;
  if (len > 0 &&
      mysql_stmt_fetch_column(c->st[id], &b, (unsigned)col, 0) != 0) {
    chat_mysql_save_err(c, mysql_stmt_errno(c->st[id]),
                        mysql_stmt_error(c->st[id]));
    free(s);
    return NULL;
  }
  s[len] = '\0';
  return s;
}

void chat_mysql_rollback(conn_t *c) {
  unsigned e = c->err;
  char msg[sizeof(c->errmsg)];

  if (c->broken) return; /* closing the connection rolls back */
  memcpy(msg, c->errmsg, sizeof(msg));
  if (chat_mysql_query(c, "ROLLBACK") != 0) {
    chat_mysql_fail(c, "rollback");
    c->broken = 1;
  }
  c->err = e; /* the caller still reports the first error */
  memcpy(c->errmsg, msg, sizeof(msg));
}

/* --- transactions --------------------------------------------------------- */

int chat_mysql_tx_on(conn_t *c, const char *what, chat_mysql_step_fn step,
                     void *arg) {
  int i, r = CHAT_STORE_RETRY;

  for (i = 0; i < CHAT_STORE_TX_TRIES && r == CHAT_STORE_RETRY; i++) {
    if (chat_mysql_query(c, "START TRANSACTION"))
      return chat_mysql_fail(c, "begin");
    c->in_tx = 1;
    r = step(c, arg);
    if (r == 0 && chat_mysql_query(c, "COMMIT"))
      r = chat_mysql_fail(c, "commit");
    c->in_tx = 0;
    if (r) chat_mysql_rollback(c);
  }
  if (r == CHAT_STORE_RETRY) r = chat_mysql_fail(c, what);
  return r;
}

int chat_mysql_tx(chat_store_t *s, const char *what, chat_mysql_step_fn step,
                  void *arg) {
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  r = chat_mysql_tx_on(c, what, step, arg);
  chat_mysql_put(s, c);
  return r;
}

/* --- connections ---------------------------------------------------------- */

/* Closes c's statements and connection (after mysql_close the statements
 * only free their memory: nothing more is sent to a dead server). */
static void conn_close(conn_t *c) {
  int i;

  if (c->db != NULL) mysql_close(c->db);
  c->db = NULL;
  for (i = 0; i < ST_COUNT; i++) {
    if (c->st[i] != NULL) mysql_stmt_close(c->st[i]);
    c->st[i] = NULL;
  }
  c->broken = 0;
}

/* Connects c and applies the session settings.  multi: allow several
 * statements per query (only for the migrations). */
static int conn_connect(my_store_t *s, conn_t *c, int multi, char *err,
                        size_t errlen) {
  const chat_mysql_url_t *u = &s->url;
  unsigned int ct = CONNECT_TIMEOUT_S, io = IO_TIMEOUT_S;
  unsigned int proto = MYSQL_PROTOCOL_SOCKET;
  flag_t off = 0;
  unsigned long flags = CLIENT_FOUND_ROWS;
  const char *cs;
  size_t i;

  assert(c->db == NULL);
  c->db = mysql_init(NULL);
  if (c->db == NULL)
    return chat_mysql_set_err(err, errlen, CHAT_EUNAVAIL, "mysql_init failed");
  mysql_options(c->db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_options(c->db, MYSQL_OPT_READ_TIMEOUT, &io);
  mysql_options(c->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
  mysql_options(c->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  /* A silent reconnect would lose the prepared statements. */
  mysql_options(c->db, MYSQL_OPT_RECONNECT, &off);
  if (u->socket[0] != '\0') mysql_options(c->db, MYSQL_OPT_PROTOCOL, &proto);
  if (multi) flags |= CLIENT_MULTI_STATEMENTS;

  if (mysql_real_connect(c->db, u->host, u->user[0] ? u->user : NULL,
                         u->password, u->db, u->port,
                         u->socket[0] ? u->socket : NULL, flags) == NULL) {
    chat_mysql_set_err(err, errlen, CHAT_EUNAVAIL,
                       "cannot connect to %s: %s (%u)", s->label,
                       mysql_error(c->db), mysql_errno(c->db));
    conn_close(c);
    return CHAT_EUNAVAIL;
  }
  cs = mysql_character_set_name(c->db);
  if (cs == NULL || strcmp(cs, "utf8mb4") != 0) {
    chat_mysql_set_err(err, errlen, CHAT_EUNAVAIL, "%s: no utf8mb4 (got %s)",
                       s->label, cs ? cs : "?");
    conn_close(c);
    return CHAT_EUNAVAIL;
  }
  for (i = 0; i < chat_mysql_session_sql_n; i++) {
    if (chat_mysql_query(c, chat_mysql_session_sql[i])) {
      chat_mysql_set_err(err, errlen, CHAT_EUNAVAIL, "%s: %s: %s", s->label,
                         chat_mysql_session_sql[i], c->errmsg);
      conn_close(c);
      return CHAT_EUNAVAIL;
    }
  }
  return 0;
}

static int conn_prepare(my_store_t *s, conn_t *c, char *err, size_t errlen) {
  long long mode = -1, step = 1;
  int i;

  /* A multi-row INSERT (a "simple insert": its rows are known in advance)
   * gets consecutive auto-increment values, step apart, with the
   * traditional (0) or consecutive (1) lock mode; with the interleaved one
   * (2) other statements may take values in between, and message batches
   * go row by row.  A server that does not answer the question gets row
   * by row too. */
  c->multi_insert = 0;
  c->autoinc_step = 1;
  if (chat_mysql_query_int(c, "SELECT @@innodb_autoinc_lock_mode", &mode) ==
          0 &&
      chat_mysql_query_int(c, "SELECT @@auto_increment_increment", &step) ==
          0 &&
      mode >= 0 && mode <= 1 && step >= 1) {
    c->multi_insert = 1;
    c->autoinc_step = step;
  }

  for (i = 0; i < ST_COUNT; i++) {
    c->st[i] = mysql_stmt_init(c->db);
    if (c->st[i] == NULL ||
        mysql_stmt_prepare(c->st[i], chat_mysql_sql[i],
                           (unsigned long)strlen(chat_mysql_sql[i])) != 0) {
      chat_mysql_set_err(
          err, errlen, CHAT_EUNAVAIL, "%s: prepare %s: %s", s->label,
          chat_mysql_sql[i],
          c->st[i] ? mysql_stmt_error(c->st[i]) : mysql_error(c->db));
      conn_close(c);
      return CHAT_EUNAVAIL;
    }
  }
  return 0;
}

/* Connects a borrowed connection that has none, unless the server is in
 * its backoff (see mysql_int.h).  0 or CHAT_EUNAVAIL. */
static int conn_reconnect(my_store_t *s, conn_t *c) {
  char err[512];
  int64_t now = mono_ms();
  int rc, was_down;

  pthread_mutex_lock(&s->lock);
  was_down = s->backoff_ms > 0;
  if (was_down) {
    if (now < s->retry_at_ms) {
      pthread_mutex_unlock(&s->lock);
      return CHAT_EUNAVAIL;
    }
    /* This attempt is the one of this period: the others fail fast. */
    s->retry_at_ms = now + s->backoff_ms;
  }
  pthread_mutex_unlock(&s->lock);

  rc = conn_connect(s, c, 0, err, sizeof(err));
  if (rc == 0) rc = conn_prepare(s, c, err, sizeof(err));

  pthread_mutex_lock(&s->lock);
  if (rc == 0) {
    s->backoff_ms = 0;
    s->retry_at_ms = 0;
  } else {
    s->backoff_ms *= 2;
    if (s->backoff_ms < BACKOFF_MIN_MS) s->backoff_ms = BACKOFF_MIN_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS) s->backoff_ms = BACKOFF_MAX_MS;
    s->retry_at_ms = mono_ms() + s->backoff_ms;
  }
  pthread_mutex_unlock(&s->lock);

  /* One line when the server goes away and one when it is back, not one
   * per attempt. */
  if (rc == 0 && was_down)
    chat_log_info("store(mysql): %s reachable again", s->label);
  else if (rc != 0 && !was_down)
    chat_log_error("store(mysql): %s; retrying every %d-%d ms", err,
                   BACKOFF_MIN_MS, BACKOFF_MAX_MS);
  return rc;
}

/* --- pool ----------------------------------------------------------------- */

static void pool_push(my_store_t *s, conn_t *c) {
  pthread_mutex_lock(&s->lock);
  assert(s->nidle < s->size);
  s->idle[s->nidle++] = c;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

int chat_mysql_get(chat_store_t *s_, conn_t **out) {
  my_store_t *s = container_of(s_, my_store_t, super);
  conn_t *c;
  unsigned epoch;

  pthread_mutex_lock(&s->lock);
  while (s->nidle == 0) pthread_cond_wait(&s->cond, &s->lock);
  c = s->idle[--s->nidle];
  epoch = s->epoch;
  pthread_mutex_unlock(&s->lock);

  /* Per-thread state of the client library: a no-op once done (and always
   * with MariaDB's library). */
  mysql_thread_init();
  /* Check a connection that may have died unseen. */
  if (c->db != NULL &&
      (c->epoch != epoch || mono_ms() - c->used_ms >= IDLE_CHECK_MS) &&
      mysql_ping(c->db) != 0) {
    conn_close(c);
    pthread_mutex_lock(&s->lock);
    epoch = ++s->epoch;
    pthread_mutex_unlock(&s->lock);
  }
  c->epoch = epoch;
  if (c->db == NULL && conn_reconnect(s, c) != 0) {
    pool_push(s, c);
    return CHAT_EUNAVAIL;
  }
  *out = c;
  return 0;
}

void chat_mysql_put(chat_store_t *s_, conn_t *c) {
  my_store_t *s = container_of(s_, my_store_t, super);

  if (c->broken) {
    conn_close(c);
    pthread_mutex_lock(&s->lock);
    s->epoch++; /* the others check themselves before their next use */
    pthread_mutex_unlock(&s->lock);
  } else {
    /* no transaction left open */
    assert(!(c->db->server_status & SERVER_STATUS_IN_TRANS));
  }
  c->used_ms = mono_ms();
  pool_push(s, c);
}

int chat_mysql_query_int(conn_t *c, const char *sql, long long *v) {
  MYSQL_RES *res;
  MYSQL_ROW row;
  int rc = -1;

  if (chat_mysql_query(c, sql)) return -1;
  res = mysql_store_result(c->db);
  if (res == NULL) {
    chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
    return -1;
  }
  row = mysql_fetch_row(res);
  if (row != NULL && row[0] != NULL) {
    *v = strtoll(row[0], NULL, 10);
    rc = 0;
  } else {
    chat_mysql_save_err(c, CR_UNKNOWN_ERROR, "no value");
  }
  mysql_free_result(res);
  return rc;
}

/* --- open and close ------------------------------------------------------- */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

/* mysql_library_init is not thread-safe: once per process. */
static void lib_init(void) { lib_rc = mysql_library_init(0, NULL, NULL); }

void chat_mysql_close(chat_store_t *s_) {
  my_store_t *s = container_of(s_, my_store_t, super);
  int i;

  /* Closing with a call in flight would pull a connection from under it. */
  assert(s->nidle == s->size);
  for (i = 0; i < s->size; i++) conn_close(&s->conns[i]);
  pthread_cond_destroy(&s->cond);
  pthread_mutex_destroy(&s->lock);
  free(s->idle);
  free(s->conns);
  explicit_bzero(&s->url, sizeof(s->url));
  free(s);
}

int chat_store_mysql_open(const char *target, int pool_size, chat_store_t **out,
                          char *err, size_t errlen) {
  my_store_t *s;
  int i, rc;

  pthread_once(&lib_once, lib_init);
  if (lib_rc != 0)
    return chat_mysql_set_err(err, errlen, CHAT_EUNAVAIL,
                              "the MySQL client library failed to initialise");

  s = chat_xcalloc(1, sizeof(*s));
  rc = chat_store_mysql_parse_url(target, &s->url, err, errlen);
  if (rc) {
    explicit_bzero(&s->url, sizeof(s->url));
    free(s);
    return rc;
  }
  if (s->url.socket[0] != '\0')
    snprintf(s->label, sizeof(s->label), "%s@%s/%s (socket %s)", s->url.user,
             s->url.host, s->url.db, s->url.socket);
  else
    snprintf(s->label, sizeof(s->label), "%s@%s:%u/%s", s->url.user,
             s->url.host, s->url.port, s->url.db);
  s->super.ops = &chat_mysql_ops;
  s->size = pool_size;
  s->conns = chat_xcalloc((size_t)pool_size, sizeof(*s->conns));
  s->idle = chat_xcalloc((size_t)pool_size, sizeof(*s->idle));
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);

  /* The first connection brings the schema up to date (on a connection of
   * its own, the only one that allows several statements per query) before
   * the pool prepares statements against it. */
  {
    conn_t mig;
    memset(&mig, 0, sizeof(mig));
    rc = conn_connect(s, &mig, 1, err, errlen);
    if (rc == 0) {
      rc = chat_mysql_migrate(s, &mig, err, errlen);
      conn_close(&mig);
    }
  }
  for (i = 0; i < pool_size && rc == 0; i++) {
    rc = conn_connect(s, &s->conns[i], 0, err, errlen);
    if (rc == 0) rc = conn_prepare(s, &s->conns[i], err, errlen);
  }
  if (rc == 0 && !s->conns[0].multi_insert)
    chat_log_warn(
        "store(mysql): %s: innodb_autoinc_lock_mode is not 0 or 1;"
        " message batches are written row by row",
        s->label);
  for (i = 0; i < pool_size; i++) {
    s->idle[i] = &s->conns[i];
    s->conns[i].used_ms = mono_ms();
  }
  /* A full idle stack, whether for use or for chat_mysql_close, which closes
   * the connections that were opened. */
  s->nidle = pool_size;
  if (rc) {
    chat_mysql_close(&s->super);
    return rc;
  }
  *out = &s->super;
  return 0;
}
