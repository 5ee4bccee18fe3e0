/* The MySQL backend (see mysql_int.h): search queries, search rows and the
 * upkeep of the search index.
 *
 * Search rows (search_tokens, see tokens.h) are written behind the
 * messages: a message batch only stores messages, and
 * chat_store_index_pending (index_step) indexes the messages above the
 * cursor of their kind (search_cursor, schema/mysql/003_index_cursor.sql)
 * with multi-row INSERTs and moves the cursor in the same transaction.
 * Rows are deleted with their message (ops.c, message delete; mysql_ops.c,
 * room delete: a cascade fires no trigger in MySQL, and this backend uses
 * none); a message not indexed yet has none.  The search itself is in
 * store.c. */
#include <errmsg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/log.h"
#include "mysql_int.h"

/* --- search rows ---------------------------------------------------------- */

/* --- search rows ------------------------------------------------------- */

void chat_mysql_tokrows_add(tokrows_t *r, int kind, int64_t id,
                            const char *text, size_t len, chat_token_t *toks) {
  size_t k = chat_tokens_text(text, len, toks, CHAT_TOKENS_MAX), i;

  if (r->n + k > r->cap) {
    r->cap = r->n + k > 2 * r->cap ? r->n + k : 2 * r->cap;
    r->v = chat_xrealloc(r->v, r->cap * sizeof(*r->v));
  }
  for (i = 0; i < k; i++) {
    r->v[r->n].tok = toks[i];
    r->v[r->n].kind = kind;
    r->v[r->n].id = id;
    r->n++;
  }
}

/* Writes the 2^k rows at rows with ST_TOKENS_INSERT_1 + k: 0, or -1 with
 * the error saved. */
static int tokrows_insert(conn_t *c, int k, tokrow_t *rows) {
  MYSQL_STMT *st = c->st[ST_TOKENS_INSERT_1 + k];
  size_t n = (size_t)1 << k, i;
  MYSQL_BIND *b = chat_xcalloc(3 * n, sizeof(*b));
  unsigned long *len = chat_xcalloc(n, sizeof(*len));
  int rc = 0;

  assert(mysql_stmt_param_count(st) == 3 * n);
  for (i = 0; i < n; i++) {
    len[i] = rows[i].tok.len;
    b[3 * i].buffer_type = MYSQL_TYPE_BLOB;
    b[3 * i].buffer = rows[i].tok.b;
    b[3 * i].buffer_length = len[i];
    b[3 * i].length = &len[i];
    b[3 * i + 1].buffer_type = MYSQL_TYPE_LONGLONG;
    b[3 * i + 1].buffer = &rows[i].kind;
    b[3 * i + 2].buffer_type = MYSQL_TYPE_LONGLONG;
    b[3 * i + 2].buffer = &rows[i].id;
  }
  if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st)) {
    chat_mysql_save_err(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    rc = -1;
  }
  free(len);
  free(b);
  return rc;
}

int chat_mysql_tokrows_flush(conn_t *c, tokrows_t *r) {
  size_t off = 0;
  int k;

  while (off < r->n) {
    for (k = TOKEN_INSERT_SIZES - 1; ((size_t)1 << k) > r->n - off; k--) {
    }
    if (tokrows_insert(c, k, r->v + off)) return -1;
    off += (size_t)1 << k;
  }
  r->n = 0;
  return 0;
}

/* --- search --------------------------------------------------------------- */

int chat_mysql_search_count(chat_store_t *s, int kind, const chat_token_t *toks,
                            int ntoks, int cap, int *counts) {
  int64_t count = 0;
  cols_t cols;
  params_t p;
  conn_t *c;
  int i, rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  for (i = 0; i < ntoks && r == 0; i++) {
    memset(&p, 0, sizeof(p));
    memset(&cols, 0, sizeof(cols));
    p_bytes(&p, MYSQL_TYPE_BLOB, toks[i].b, toks[i].len);
    p_i64(&p, kind);
    p_i64(&p, cap);
    c_i64(&cols, &count);
    if (chat_mysql_run(c, ST_SEARCH_COUNT, &p, &cols)) {
      r = chat_mysql_fail(c, "search count");
      break;
    }
    rc = chat_mysql_fetch(c, ST_SEARCH_COUNT);
    if (rc == 1)
      counts[i] = (int)count;
    else
      r = rc < 0 ? chat_mysql_fail(c, "search count") : CHAT_EUNAVAIL;
    st_done(c, ST_SEARCH_COUNT);
  }
  chat_mysql_put(s, c);
  return r;
}

int chat_mysql_search_page(chat_store_t *s, int kind, const chat_token_t *toks,
                           int ntoks, int64_t before_id, int64_t room_id,
                           int64_t user_id, int limit, chat_msg_rec_t **out,
                           size_t *n) {
  int dm = kind == CHAT_SEARCH_DM;
  int id = (dm ? ST_SEARCH_DM_1 : ST_SEARCH_ROOM_1) + ntoks - 1;
  params_t p;
  conn_t *c;
  int i, r;

  assert(ntoks >= 1 && ntoks <= CHAT_QUERY_TOKENS_MAX);
  r = chat_mysql_get(s, &c);
  if (r) return r;
  memset(&p, 0, sizeof(p));
  for (i = 0; i < ntoks; i++)
    p_bytes(&p, MYSQL_TYPE_BLOB, toks[i].b, toks[i].len);
  p_i64(&p, before_id);
  p_i64(&p, dm ? user_id : room_id);
  p_i64(&p, dm ? user_id : room_id);
  p_i64(&p, limit);
  r = chat_mysql_msg6_rows(c, id, &p, "search", limit, out, n);
  chat_mysql_put(s, c);
  return r;
}

int chat_mysql_search_bounds(chat_store_t *s, int kind, int tail_max,
                             int64_t *cursor, int64_t *floor) {
  int id = kind == CHAT_SEARCH_DM ? ST_BOUNDS_DM : ST_BOUNDS_ROOM;
  int64_t cur = 0, flo = 0;
  cols_t cols;
  params_t p;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, tail_max);
  c_i64(&cols, &cur);
  c_i64(&cols, &flo);
  if (chat_mysql_run(c, id, &p, &cols)) {
    r = chat_mysql_fail(c, "search bounds");
  } else {
    rc = chat_mysql_fetch(c, id);
    if (rc < 0) {
      r = chat_mysql_fail(c, "search bounds");
    } else if (rc == 0 || cols_ok(&cols)) {
      chat_log_error("store(mysql): search cursor %d missing", kind);
      r = CHAT_EUNAVAIL;
    } else {
      *cursor = cur;
      *floor = flo;
    }
    st_done(c, id);
  }
  chat_mysql_put(s, c);
  return r;
}

int chat_mysql_search_tail(chat_store_t *s, int kind, int64_t floor,
                           int64_t before_id, int64_t room_id, int64_t user_id,
                           int limit, chat_msg_rec_t **out, size_t *n) {
  int dm = kind == CHAT_SEARCH_DM;
  int id = dm ? ST_TAIL_DM : ST_TAIL_ROOM;
  params_t p;
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, floor);
  p_i64(&p, before_id);
  p_i64(&p, dm ? user_id : room_id);
  p_i64(&p, dm ? user_id : room_id);
  p_i64(&p, limit);
  r = chat_mysql_msg6_rows(c, id, &p, "search tail", limit, out, n);
  chat_mysql_put(s, c);
  return r;
}

/* --- search index upkeep -------------------------------------------------- */

/* A message to index. */
typedef struct {
  int64_t id, ts;
  char *text;
} pending_t;

typedef struct {
  pending_t *v;
  size_t n, cap;
} pendings_t;

static void pendings_clear(pendings_t *l) {
  size_t i;

  for (i = 0; i < l->n; i++) free(l->v[i].text);
  l->n = 0;
}

/* Appends the messages above cursor that statement id (ST_PENDING_*)
 * returns, up to max, to l: 0, or -1 with the error saved. */
static int pendings_read(conn_t *c, int id, int64_t cursor, int max,
                         pendings_t *l) {
  pending_t m;
  cols_t cols;
  params_t p;
  int rc;

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  memset(&m, 0, sizeof(m));
  p_i64(&p, cursor);
  p_i64(&p, max);
  c_i64(&cols, &m.id);
  c_i64(&cols, &m.ts);
  c_text(&cols);
  if (chat_mysql_run(c, id, &p, &cols)) return -1;
  while ((rc = chat_mysql_fetch(c, id)) == 1) {
    m.text = chat_mysql_col_text(c, id, &cols, 2);
    if (m.text == NULL) {
      rc = -1;
      break;
    }
    if (l->n == l->cap) {
      l->cap = l->cap ? 2 * l->cap : 64;
      l->v = chat_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = m;
  }
  st_done(c, id);
  return rc < 0 ? -1 : 0;
}

typedef struct {
  int max;            /* in */
  pendings_t l[2];    /* scratch: the messages read, per kind */
  tokrows_t rows;     /* scratch: the search rows to write */
  chat_token_t *toks; /* scratch: room for CHAT_TOKENS_MAX */
  int count;          /* out: messages indexed */
} index_t;

/* Locks both cursors (so indexers run one at a time, and a room delete
 * waits for the one in progress), reads up to max messages of each kind
 * above its cursor, indexes the oldest max of them (by ts, the room message
 * on a tie; in id order within a kind, so each cursor moves over a prefix)
 * and moves the cursors.
 *
 * Ids are handed out at insert and transactions commit in any order, so
 * with several writers (several chatd processes) a message may commit
 * after a newer one.  The reads of the messages lock them (LOCK IN SHARE
 * MODE), which makes them wait for the rows of a transaction still open:
 * such a message is read, and indexed, once its transaction has committed
 * (or is gone with its rollback), so the cursor never passes a message
 * that appears later.  What remains is the instant between InnoDB handing
 * out an auto-increment id and writing the row, too short for another
 * writer to insert, commit and be indexed meanwhile in practice.  A
 * message deleted meanwhile is either read before the delete (which then
 * waits, and deletes its rows too) or not read at all. */
static int index_step(conn_t *c, void *arg) {
  static const int scans[2] = {ST_PENDING_ROOM, ST_PENDING_DM};
  index_t *a = arg;
  pendings_t *l = a->l;
  int64_t cursor[2] = {-1, -1}, last[2] = {0, 0}, kind = 0, cur = 0;
  size_t i[2], k;
  cols_t cols;
  params_t p;
  int rc;

  a->count = 0;
  a->rows.n = 0;
  pendings_clear(&l[0]);
  pendings_clear(&l[1]);

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, CHAT_SEARCH_DM);
  c_i64(&cols, &kind);
  c_i64(&cols, &cur);
  if (chat_mysql_run(c, ST_CURSOR_LOCK, &p, &cols)) goto failed;
  while ((rc = chat_mysql_fetch(c, ST_CURSOR_LOCK)) == 1)
    if (kind == CHAT_SEARCH_ROOM || kind == CHAT_SEARCH_DM) cursor[kind] = cur;
  st_done(c, ST_CURSOR_LOCK);
  if (rc < 0) goto failed;
  if (cursor[0] < 0 || cursor[1] < 0) {
    chat_mysql_save_err(c, CR_UNKNOWN_ERROR, "search cursor missing");
    goto failed;
  }

  for (k = 0; k < 2; k++)
    if (pendings_read(c, scans[k], cursor[k], a->max, &l[k])) goto failed;

  /* Merge the two lists, oldest first; the kinds are the list indexes. */
  i[0] = i[1] = 0;
  while (a->count < a->max && (i[0] < l[0].n || i[1] < l[1].n)) {
    pending_t *m;

    k = i[0] == l[0].n || (i[1] < l[1].n && l[1].v[i[1]].ts < l[0].v[i[0]].ts);
    m = &l[k].v[i[k]++];
    chat_mysql_tokrows_add(&a->rows, (int)k, m->id, m->text, strlen(m->text),
                           a->toks);
    last[k] = m->id;
    a->count++;
    /* Bounds the memory of a chunk of long messages. */
    if (a->rows.n >= 4096 && chat_mysql_tokrows_flush(c, &a->rows)) goto failed;
  }
  if (chat_mysql_tokrows_flush(c, &a->rows)) goto failed;

  for (k = 0; k < 2; k++) {
    if (last[k] == 0) continue;
    memset(&p, 0, sizeof(p));
    p_i64(&p, last[k]);
    p_i64(&p, (int64_t)k);
    if (chat_mysql_run(c, ST_CURSOR_SET, &p, NULL)) goto failed;
  }
  return 0;

failed:
  return chat_mysql_fail(c, "search index");
}

int chat_mysql_index_pending(chat_store_t *s, int max, int *done) {
  index_t a;
  int i, r;

  assert(CHAT_SEARCH_ROOM == 0 && CHAT_SEARCH_DM == 1);
  memset(&a, 0, sizeof(a));
  a.max = max;
  a.toks = chat_xmalloc(CHAT_TOKENS_MAX * sizeof(*a.toks));
  r = chat_mysql_tx(s, "search index", index_step, &a);
  for (i = 0; i < 2; i++) {
    pendings_clear(&a.l[i]);
    free(a.l[i].v);
  }
  free(a.rows.v);
  free(a.toks);
  if (r == 0) *done = a.count;
  return r;
}
