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

/* Ids per window of the first query of a search; each next window is
 * WINDOW_GROWTH times wider. */
#define WINDOW_IDS 4096
#define WINDOW_GROWTH 4

/* Mroonga collects every match of the expression in the key range before
 * it orders them, so one query over the whole table costs as much as the
 * matches of a common word (tens of thousands).  The search asks for the
 * newest window of ids first and widens the window while it needs more
 * rows: a common word fills its page in the first window, a rare one
 * covers the table in a few queries. */
int chat_mysql_search_match(chat_store_t *s, int kind, const char *q,
                            size_t qlen, int64_t before_id, int64_t room_id,
                            int64_t user_id, const int64_t *hide,
                            size_t nhide, int limit, chat_msg_rec_t **out,
                            size_t *n) {
  int dm = kind == CHAT_SEARCH_DM;
  int id = dm ? ST_MATCH_DM : room_id ? ST_MATCH_ROOM : ST_MATCH_ALL;
  int64_t hi = before_id, width = WINDOW_IDS;
  chat_msg_rec_t *all = NULL;
  size_t nall = 0, elen = 0;
  char *expr;
  conn_t *c;
  int r;

  (void)hide; /* store.c drops them */
  (void)nhide;
  /* The keys of search_fts_dm are twice the ids. */
  if (hi > INT64_MAX / 2) hi = INT64_MAX / 2;
  r = chat_mysql_get(s, &c);
  if (r) return r;
  expr = match_expr(q, qlen, &elen);
  while (r == 0 && nall < (size_t)limit && hi > 0) {
    int64_t lo = hi > width ? hi - width : 0;
    chat_msg_rec_t *v = NULL;
    size_t k = 0;
    params_t p;

    memset(&p, 0, sizeof(p));
    p_bytes(&p, MYSQL_TYPE_STRING, expr, elen);
    p_i64(&p, dm ? 2 * hi : hi);
    p_i64(&p, dm ? 2 * lo : lo);
    if (id != ST_MATCH_ALL) p_i64(&p, dm ? user_id : room_id);
    p_i64(&p, limit - (int)nall);
    r = chat_mysql_msg6_rows(c, id, &p, "search", limit - (int)nall, &v, &k);
    if (r == 0 && k > 0) {
      all = chat_xrealloc(all, (nall + k) * sizeof(*all));
      memcpy(all + nall, v, k * sizeof(*v));
      nall += k;
    }
    free(v);
    hi = lo;
    if (width < INT64_MAX / WINDOW_GROWTH) width *= WINDOW_GROWTH;
  }
  chat_mysql_put(s, c);
  free(expr);
  if (r) {
    chat_store_msgs_free(all, nall);
    return r;
  }
  *out = all;
  *n = nall;
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
