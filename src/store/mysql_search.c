/* The MySQL backend (see mysql_int.h): search queries and the upkeep of
 * the search index, the Mroonga tables search_fts_room and search_fts_dm
 * (schema/mysql/012_mroonga.sql).
 *
 * Rows are written behind the messages: a message batch only stores
 * messages, and chat_store_index_pending (index_step) indexes the messages
 * above the cursor of their kind (search_cursor,
 * schema/mysql/003_index_cursor.sql) and moves the cursor in the same
 * transaction.  Rows go with their message (chat_mysql_search_unindex:
 * edits and tombstones through extras.c, a message delete through ops.c;
 * mysql_ops.c, room delete); a message not indexed yet has none.
 *
 * Mroonga does not take part in InnoDB transactions: its writes stay when
 * the transaction around them rolls back.  Rows are written with REPLACE,
 * so a rolled-back indexer that runs again writes the same rows; an edit
 * or a delete that rolls back after its index write leaves the index with
 * the text it did not keep, which only matters to what the index proposes:
 * the text check of store.c decides on the stored text.  The search itself
 * (tail, pages, the text check) is in store.c. */
#include <errmsg.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/log.h"
#include "mysql_int.h"

/* --- search --------------------------------------------------------------- */

/* The boolean-mode expression of q[0..qlen): the whole query as one phrase
 * ("..." with '"' and '\\' escaped), so none of it is operator syntax; a
 * phrase of bigrams is a substring (tokenizer and normalizer: schema 012). */
static char *match_expr(const char *q, size_t qlen, size_t *len) {
  char *e = chat_xmalloc(2 * qlen + 3), *p = e;

  *p++ = '"';
  for (size_t i = 0; i < qlen; i++) {
    if (q[i] == '"' || q[i] == '\\') *p++ = '\\';
    *p++ = q[i];
  }
  *p++ = '"';
  *p = '\0';
  *len = (size_t)(p - e);
  return e;
}

/* The LIKE pattern of the messages that contain q[0..qlen): %q% with '%',
 * '_' and the escape character '!' (ESCAPE '!', whatever the SQL mode says
 * of backslashes) escaped. */
static char *like_pattern(const char *q, size_t qlen, size_t *len) {
  char *e = chat_xmalloc(2 * qlen + 3), *p = e;

  *p++ = '%';
  for (size_t i = 0; i < qlen; i++) {
    if (q[i] == '%' || q[i] == '_' || q[i] == '!') *p++ = '!';
    *p++ = q[i];
  }
  *p++ = '%';
  *p = '\0';
  *len = (size_t)(p - e);
  return e;
}

/* The direct reading of a search (see chat_mysql_search_match): the newest
 * SCAN_ROWS ids below the bound, then more while the matches so far say the
 * rest of the page is within SCAN_BUDGET ids in all.  Reading a message
 * costs about 1 us (a million messages, MariaDB 10.11); the newest ones
 * are the ones the buffer pool holds. */
#define SCAN_ROWS 4096
#define SCAN_BUDGET 32768
/* Rows asked of Mroonga at least: its cost is the posting lists it walks,
 * whatever it returns, so it is asked for enough at once. */
#define MATCH_ROWS_MIN 64
#define MATCH_ROWS_MAX 1024

typedef struct {
  chat_msg_rec_t *v;
  size_t n;
  const char *q, *like; /* the query, its LIKE pattern */
  size_t qlen, likelen;
  const int64_t *hide; /* ascending */
  size_t nhide;
} found_t;

static void rec_free(chat_msg_rec_t *m) {
  free(m->text);
  free(m->extra);
  free(m->files);
}

/* Moves the rows of v[0..k) that the searcher may read and that contain
 * the query (the store's text check) to f, frees the others and v. */
static void keep(found_t *f, chat_msg_rec_t *v, size_t k) {
  size_t i, m = f->n;

  if (k > 0) f->v = chat_xrealloc(f->v, (f->n + k) * sizeof(*f->v));
  for (i = 0; i < k; i++) {
    if (!(v[i].room && chat_store_room_in(f->hide, f->nhide, v[i].room)) &&
        chat_tokens_match(v[i].text, strlen(v[i].text), f->q, f->qlen))
      f->v[m++] = v[i];
    else
      rec_free(&v[i]);
  }
  f->n = m;
  free(v);
}

/* Statement scan (ST_SCAN_*) over ids [lo, hi): up to max messages that
 * contain the query, newest first, into f.  *next is the bound of what is
 * left below: lo, or the last row's id when the statement stopped at max
 * rows. */
static int scan_range(conn_t *c, int scan, int64_t room_id, int64_t user_id,
                      found_t *f, int64_t lo, int64_t hi, int max,
                      int64_t *next) {
  size_t k = 0;
  chat_msg_rec_t *v = NULL;
  params_t p;
  int r;

  memset(&p, 0, sizeof(p));
  p_i64(&p, lo);
  p_i64(&p, hi);
  if (scan == ST_SCAN_ROOM) p_i64(&p, room_id);
  if (scan == ST_SCAN_DM) {
    p_i64(&p, user_id);
    p_i64(&p, user_id);
  }
  p_bytes(&p, MYSQL_TYPE_STRING, f->like, f->likelen);
  p_i64(&p, max);
  r = chat_mysql_msg6_rows(c, scan, &p, "search scan", max, &v, &k);
  if (r) return r;
  *next = k == (size_t)max ? v[k - 1].id : lo;
  keep(f, v, k);
  return 0;
}

/* Mroonga walks the whole posting list of every token of the query and
 * collects each match before it orders them: a common word costs what its
 * hundreds of thousands of matches cost (0.1-0.3 s at a million messages),
 * whatever range of ids or number of rows is asked for.  So a search first
 * reads the newest messages below before_id directly, on the primary key
 * (the room's or the user's among them), and keeps those that contain the
 * query: a query that recent messages often contain is answered there in a
 * few milliseconds.  Mroonga is asked, for everything below what was read,
 * only for a query that recent messages rarely contain, and for plenty of
 * rows at once: its cost is then that of the query's tokens.  What comes
 * back are matches the searcher may read (the store's text check and the
 * hidden rooms applied here), so the store does not come back for more
 * because some candidates failed. */
int chat_mysql_search_match(chat_store_t *s, int kind, const char *q,
                            size_t qlen, int64_t before_id, int64_t room_id,
                            int64_t user_id, const int64_t *hide,
                            size_t nhide, int limit, chat_msg_rec_t **out,
                            size_t *n) {
  int dm = kind == CHAT_SEARCH_DM;
  int id = dm ? ST_MATCH_DM : room_id ? ST_MATCH_ROOM : ST_MATCH_ALL;
  int scan = dm ? ST_SCAN_DM : room_id ? ST_SCAN_ROOM : ST_SCAN_ALL;
  int64_t hi = before_id, rows = SCAN_ROWS, scanned = 0;
  found_t f = {NULL, 0, q, NULL, qlen, 0, hide, nhide};
  char *expr = NULL;
  size_t elen = 0;
  conn_t *c;
  int r;

  /* The keys of search_fts_dm are twice the ids. */
  if (hi > INT64_MAX / 2) hi = INT64_MAX / 2;
  *out = NULL;
  *n = 0;
  if (hi <= 0) return 0;
  r = chat_mysql_get(s, &c);
  if (r) return r;
  f.like = like_pattern(q, qlen, &f.likelen);

  /* Read directly while it pays. */
  while (r == 0 && hi > 0 && f.n < (size_t)limit) {
    int64_t lo = hi > rows ? hi - rows : 0, next = lo;

    r = scan_range(c, scan, room_id, user_id, &f, lo, hi, limit - (int)f.n,
                   &next);
    scanned += hi - next;
    hi = next;
    if (r || f.n == 0 || f.n >= (size_t)limit) break;
    /* The ids the rest of the page needs at the density so far. */
    rows = ((int64_t)limit - (int64_t)f.n) * scanned / (int64_t)f.n + 1;
    if (scanned + rows > SCAN_BUDGET) break;
  }

  /* Then Mroonga for everything below, plenty of rows a query. */
  while (r == 0 && hi > 0 && f.n < (size_t)limit) {
    int want = 4 * (limit - (int)f.n);
    chat_msg_rec_t *v = NULL;
    size_t k = 0;
    params_t p;

    if (want < MATCH_ROWS_MIN) want = MATCH_ROWS_MIN;
    if (want > MATCH_ROWS_MAX) want = MATCH_ROWS_MAX;
    if (expr == NULL) expr = match_expr(q, qlen, &elen);
    memset(&p, 0, sizeof(p));
    p_bytes(&p, MYSQL_TYPE_STRING, expr, elen);
    p_i64(&p, dm ? 2 * hi : hi);
    if (id != ST_MATCH_ALL) p_i64(&p, dm ? user_id : room_id);
    p_i64(&p, want);
    r = chat_mysql_msg6_rows(c, id, &p, "search", want, &v, &k);
    if (r) break;
    hi = k > 0 ? v[k - 1].id : 0;
    keep(&f, v, k);
    if (k < (size_t)want) break; /* no more */
  }
  chat_mysql_put(s, c);
  free(expr);
  free((char *)f.like);
  if (r) {
    chat_store_msgs_free(f.v, f.n);
    return r;
  }
  /* The newest limit; the store asks below the last for more. */
  while (f.n > (size_t)limit) rec_free(&f.v[--f.n]);
  if (f.n == 0) {
    free(f.v);
    f.v = NULL;
  }
  *out = f.v;
  *n = f.n;
  return 0;
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

/* A message to index: for a room message a is the room (b 0), for a
 * direct message a and b are the sender and the receiver. */
typedef struct {
  int64_t id, ts, a, b;
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
  c_i64(&cols, &m.a);
  c_i64(&cols, &m.b);
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
  int count;          /* out: messages indexed */
} index_t;

/* Writes row key of scope (the room; a participant of a direct message)
 * with m's text: 0, or -1 with the error saved. */
static int fts_put(conn_t *c, int id, int64_t key, int64_t scope, const pending_t *m) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, key);
  p_i64(&p, scope);
  p_str(&p, m->text);
  return chat_mysql_run(c, id, &p, NULL);
}

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
    /* A tombstone (text '') has no row; a direct message one per
     * participant. */
    if (m->text[0] != '\0' &&
        (k == CHAT_SEARCH_DM
             ? fts_put(c, ST_FTS_PUT_DM, 2 * m->id, m->a, m) ||
                   fts_put(c, ST_FTS_PUT_DM, 2 * m->id + 1, m->b, m)
             : fts_put(c, ST_FTS_PUT, m->id, m->a, m)))
      goto failed;
    last[k] = m->id;
    a->count++;
  }

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
  r = chat_mysql_tx(s, "search index", index_step, &a);
  for (i = 0; i < 2; i++) {
    pendings_clear(&a.l[i]);
    free(a.l[i].v);
  }
  if (r == 0) *done = a.count;
  return r;
}

/* Locks the cursor of the message's kind (the indexer cannot pass the
 * message meanwhile); if the indexer has reached the message, deletes its
 * rows and writes them again with text. */
int chat_mysql_search_unindex(void *conn, int dm, int64_t id, const char *text) {
  conn_t *c = conn;
  int64_t cursor = -1;
  cols_t cols;
  params_t p;
  int rc;

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, dm ? CHAT_SEARCH_DM : CHAT_SEARCH_ROOM);
  c_i64(&cols, &cursor);
  if (chat_mysql_run(c, ST_CURSOR_GET_LOCK, &p, &cols))
    return chat_mysql_fail(c, "search index");
  rc = chat_mysql_fetch(c, ST_CURSOR_GET_LOCK);
  st_done(c, ST_CURSOR_GET_LOCK);
  if (rc < 0) return chat_mysql_fail(c, "search index");
  if (cursor < id) return 0;  /* the indexer reads the new text */
  memset(&p, 0, sizeof(p));
  p_i64(&p, dm ? 2 * id : id);
  if (dm) p_i64(&p, 2 * id + 1);
  if (chat_mysql_run(c, dm ? ST_FTS_DELETE_DM_MSG : ST_FTS_DELETE_MSG, &p, NULL))
    return chat_mysql_fail(c, "search index delete");
  if (text == NULL || text[0] == '\0') return 0;
  memset(&p, 0, sizeof(p));
  p_str(&p, text);
  p_i64(&p, id);
  if (dm) {
    p_str(&p, text);
    p_i64(&p, id);
  }
  if (chat_mysql_run(c, dm ? ST_FTS_REPUT_DM_MSG : ST_FTS_REPUT_ROOM_MSG, &p, NULL))
    return chat_mysql_fail(c, "search index");
  return 0;
}
