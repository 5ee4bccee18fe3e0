/* Message batches of the MySQL backend (see mysql_int.h): row by row, or
 * with multi-row statements. */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "mysql_int.h"

static void batch_reset(chat_msg_insert_t *items, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    items[i].id = 0;
    items[i].stored_ts = 0;
    items[i].seq = 0;
    items[i].dup = 0;
    items[i].status = 0;
  }
}

/* Looks up the message of (sender, cid) with st (ST_MSG_BY_CID or
 * ST_DM_BY_CID): 1 found (id and ts set), 0 not found, -1 error (saved). */
static int msg_by_cid(conn_t *c, int st, int64_t sender, const char *cid,
                      int64_t *id, int64_t *ts) {
  cols_t cols;
  params_t p;
  int64_t rid = 0, rts = 0;
  int rc;

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, sender);
  p_bytes(&p, MYSQL_TYPE_BLOB, cid, strlen(cid));
  c_i64(&cols, &rid);
  c_i64(&cols, &rts);
  if (chat_mysql_run(c, st, &p, &cols)) return -1;
  rc = chat_mysql_fetch(c, st);
  st_done(c, st);
  if (rc == 1) {
    *id = rid;
    *ts = rts;
  }
  return rc;
}

/* Takes the numbers of each room of the batch (store.h, sequences), in
 * ascending room order: one UPDATE per room, which locks the room's row
 * until the commit (so another writer of the same room waits here, before
 * it inserts anything, and two writers never wait on each other in a
 * cycle).  A room that does not exist is marked missing.  0, or -1 with
 * the error saved. */
static int seq_take(conn_t *c, chat_store_seq_room_t *v, size_t nrooms) {
  params_t p;
  size_t i;

  for (i = 0; i < nrooms; i++) {
    memset(&p, 0, sizeof(p));
    p_i64(&p, v[i].k);
    p_i64(&p, v[i].room);
    if (chat_mysql_run(c, ST_ROOM_SEQ_TAKE, &p, NULL)) return -1;
    if (st_affected(c, ST_ROOM_SEQ_TAKE) == 0) {
      v[i].missing = 1;
      continue;
    }
    v[i].base =
        (int64_t)mysql_stmt_insert_id(c->st[ST_ROOM_SEQ_TAKE]) - v[i].k;
  }
  return 0;
}

/* Gives back the numbers taken but not used (dups, failed items), so the
 * counter ends at the last number stored.  0, or -1 with the error
 * saved. */
static int seq_give_back(conn_t *c, chat_store_seq_room_t *v, size_t nrooms) {
  params_t p;
  size_t i;

  for (i = 0; i < nrooms; i++) {
    if (v[i].missing || v[i].used == v[i].k) continue;
    memset(&p, 0, sizeof(p));
    p_i64(&p, v[i].base + v[i].used);
    p_i64(&p, v[i].room);
    if (chat_mysql_run(c, ST_ROOM_SEQ_SET, &p, NULL)) return -1;
  }
  return 0;
}

/* What a try of a batch works on. */
typedef struct batch_scratch batch_scratch_t;
typedef struct {
  chat_msg_insert_t *items;
  size_t n;
  batch_scratch_t *b; /* for batch_multi_step */
} batch_t;

/* The whole batch, row by row (small batches, a server whose
 * auto-increment lock mode does not give consecutive ids, and the fallback
 * of batch_multi_step).  First the numbers of every room item are taken
 * (seq_take; those a dup or a failed item did not use are given back at
 * the end), then the items are inserted in order in one transaction; the
 * unique index on (sender_id, cid) finds a repeated cid, which is then
 * looked up (one round trip per new message, two per duplicate).  The transaction sees its own
 * rows, so a cid repeated within the batch is a dup of its first
 * occurrence; a row of another writer's open transaction makes the insert
 * wait for its commit, and READ COMMITTED then sees it.  Room messages and
 * direct messages have their own tables and cids.  No search rows:
 * chat_store_index_pending writes them later (mysql_search.c). */
static int batch_step(conn_t *c, void *arg) {
  batch_t *a = arg;
  chat_store_seq_room_t *rooms, *sr;
  size_t nrooms = 0;
  params_t p;
  size_t i;
  int rc;

  batch_reset(a->items, a->n);
  rooms = chat_store_seq_plan(a->items, a->n, NULL, &nrooms);
  if (seq_take(c, rooms, nrooms)) goto failed;
  for (i = 0; i < a->n; i++) {
    chat_msg_insert_t *it = &a->items[i];
    int dm = it->to_id != 0;
    int id = dm ? ST_DM_INSERT : ST_MSG_INSERT;

    sr = dm ? NULL : chat_store_seq_find(rooms, nrooms, it->room);
    memset(&p, 0, sizeof(p));
    if (dm) {
      p_i64(&p, it->sender_id);
      p_i64(&p, it->to_id);
      p_i64(&p, it->sender_id < it->to_id ? it->sender_id : it->to_id);
      p_i64(&p, it->sender_id < it->to_id ? it->to_id : it->sender_id);
    } else {
      p_i64(&p, it->room);
      p_i64(&p, it->sender_id);
    }
    p_str(&p, it->text);
    p_bytes(&p, MYSQL_TYPE_BLOB, it->cid, it->cid ? strlen(it->cid) : 0);
    p_i64(&p, it->ts);
    if (!dm) p_i64(&p, sr->base + sr->used + 1);
    /* A missing room (no row to number) is a failed foreign key below,
     * without running the insert. */
    if ((sr == NULL || !sr->missing) && chat_mysql_run(c, id, &p, NULL) == 0) {
      it->id = (int64_t)mysql_stmt_insert_id(c->st[id]);
      it->stored_ts = it->ts;
      if (!dm) it->seq = sr->base + ++sr->used;
      continue;
    }
    /* InnoDB undid that statement only; the transaction goes on.  No such
     * room, sender or receiver: CHAT_ENOTFOUND, unless the cid names a
     * message stored before (checked first, as sqlite_ops.c does). */
    if ((sr != NULL && sr->missing) || c->err == ER_NO_REFERENCED_ROW_2 ||
        c->err == ER_NO_REFERENCED_ROW) {
      rc = it->cid == NULL
               ? 0
               : msg_by_cid(c, dm ? ST_DM_BY_CID : ST_MSG_BY_CID, it->sender_id,
                            it->cid, &it->id, &it->stored_ts);
      if (rc < 0) goto failed;
      if (rc == 1)
        it->dup = 1;
      else
        it->status = CHAT_ENOTFOUND;
      continue;
    }
    if (c->err == ER_DUP_ENTRY && it->cid != NULL) {
      rc = msg_by_cid(c, dm ? ST_DM_BY_CID : ST_MSG_BY_CID, it->sender_id,
                      it->cid, &it->id, &it->stored_ts);
      if (rc == 1) {
        it->dup = 1;
        continue;
      }
      if (rc == 0)
        chat_mysql_save_err(c, CR_UNKNOWN_ERROR, "duplicate cid not found");
    }
    goto failed;
  }
  if (chat_mysql_files_attach(c, a->items, a->n)) goto failed;  /* files (schema 008) */
  if (seq_give_back(c, rooms, nrooms)) goto failed;
  free(rooms);
  /* extras (schema 009): reply and mention rows */
  return chat_store_extras_batch(&chat_mysql_ops, c, a->items, a->n);

failed:
  free(rooms);
  return chat_mysql_fail(c, "message insert");
}

/* --- message batches with multi-row statements ---------------------------
 *
 * batch_step costs a round trip per message.  batch_multi_step gives the same
 * answers with a few statements per batch:
 *   1. one query tells which of the batch's rooms and users exist;
 *   2. one query per kind (and per BATCH_ROWS distinct cids) finds the
 *      (sender, cid) pairs stored before;
 *   3. in C, in item order: an item whose pair was stored before, or taken
 *      by an earlier item of the batch, is a dup of that message; else an
 *      item whose room, sender or receiver is missing gets CHAT_ENOTFOUND;
 *      else it is new (and takes its pair);
 *   4. the new items of each kind go in item order into multi-row INSERTs,
 *      whose ids are consecutive (conn_prepare checks the lock mode), so
 *      each item's id is the statement's first id plus its position times
 *      the step.
 * Another writer may change what steps 1 and 2 saw before step 4 (a room
 * deleted, the same cid stored by another process): the INSERT then fails
 * on a foreign or unique key, and the batch runs again row by row. */

/* batch_multi_step: the batch must run row by row. */
#define BATCH_ROW_BY_ROW 2
/* Smaller batches run row by row: no fewer round trips with the other. */
#define BATCH_MULTI_MIN 4

/* Parameters of a statement with many of them (values copied in, as with
 * params_t). */
typedef struct {
  MYSQL_BIND *b;
  unsigned long *len;
  int64_t *i64;
  size_t n, cap;
} binds_t;

static void binds_start(binds_t *x, size_t cap) {
  if (cap > x->cap) {
    x->b = chat_xrealloc(x->b, cap * sizeof(*x->b));
    x->len = chat_xrealloc(x->len, cap * sizeof(*x->len));
    x->i64 = chat_xrealloc(x->i64, cap * sizeof(*x->i64));
    x->cap = cap;
  }
  memset(x->b, 0, cap * sizeof(*x->b));
  x->n = 0;
}

static void binds_free(binds_t *x) {
  free(x->b);
  free(x->len);
  free(x->i64);
}

static void binds_i64(binds_t *x, int64_t v) {
  MYSQL_BIND *b = &x->b[x->n];

  assert(x->n < x->cap);
  x->i64[x->n] = v;
  b->buffer_type = MYSQL_TYPE_LONGLONG;
  b->buffer = &x->i64[x->n];
  x->n++;
}

/* s NULL: SQL NULL. */
static void binds_bytes(binds_t *x, enum enum_field_types type, const char *s,
                        size_t len) {
  MYSQL_BIND *b = &x->b[x->n];

  assert(x->n < x->cap);
  if (s != NULL) {
    x->len[x->n] = (unsigned long)len;
    b->buffer_type = type;
    b->buffer = (void *)s;
    b->buffer_length = (unsigned long)len;
    b->length = &x->len[x->n];
  } else {
    b->buffer_type = MYSQL_TYPE_NULL;
  }
  x->n++;
}

/* st_run with the parameters of x. */
static int binds_run(conn_t *c, int id, binds_t *x, cols_t *cols) {
  MYSQL_STMT *st = c->st[id];

  assert(x->n == mysql_stmt_param_count(st));
  if (mysql_stmt_bind_param(st, x->b) || mysql_stmt_execute(st)) goto err;
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

/* What batch_multi_step works out per item. */
enum { BI_NEW = 1, BI_DUP_OF = 2 };

struct batch_scratch {
  binds_t x;
  int64_t *rooms, *users; /* the distinct ids, sorted */
  uint8_t *room_ok, *user_ok;
  size_t nrooms, nusers;
  size_t *order; /* items with a cid, sorted by key */
  size_t norder;
  size_t *src;   /* per item: the item it is a dup of */
  uint8_t *what; /* per item: BI_* or 0 */
};

static void scratch_free(batch_scratch_t *b) {
  binds_free(&b->x);
  free(b->rooms);
  free(b->users);
  free(b->room_ok);
  free(b->user_ok);
  free(b->order);
  free(b->src);
  free(b->what);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and drops repeats; returns the new length. */
static size_t uniq_i64(int64_t *v, size_t n) {
  size_t i, k = 0;

  qsort(v, n, sizeof(*v), cmp_i64);
  for (i = 0; i < n; i++)
    if (k == 0 || v[k - 1] != v[i]) v[k++] = v[i];
  return k;
}

/* The items cmp_order sorts (qsort passes no context; per thread, as
 * batches run on several). */
static _Thread_local const chat_msg_insert_t *t_sort_items;

/* The order of cid keys: kind (rooms first), sender, cid bytes. */
static int key_cmp(const chat_msg_insert_t *a, const chat_msg_insert_t *b) {
  int ka = a->to_id != 0, kb = b->to_id != 0;

  if (ka != kb) return ka - kb;
  if (a->sender_id != b->sender_id) return a->sender_id < b->sender_id ? -1 : 1;
  return strcmp(a->cid, b->cid);
}

/* key_cmp, then item order. */
static int cmp_order(const void *a, const void *b) {
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  int r = key_cmp(&t_sort_items[i], &t_sort_items[j]);

  return r ? r : (i > j) - (i < j);
}

/* Step 1: which rooms and users of the batch exist.  0, or -1 with the
 * error saved. */
static int batch_parents(conn_t *c, const chat_msg_insert_t *items, size_t n,
                         batch_scratch_t *b) {
  int64_t kind = 0, id = 0;
  size_t i, w, *pos;
  cols_t cols;
  int rc;

  b->rooms = chat_xrealloc(b->rooms, n * sizeof(*b->rooms));
  b->users = chat_xrealloc(b->users, 2 * n * sizeof(*b->users));
  b->nrooms = b->nusers = 0;
  for (i = 0; i < n; i++) {
    if (items[i].to_id != 0)
      b->users[b->nusers++] = items[i].to_id;
    else
      b->rooms[b->nrooms++] = items[i].room;
    b->users[b->nusers++] = items[i].sender_id;
  }
  b->nrooms = uniq_i64(b->rooms, b->nrooms);
  b->nusers = uniq_i64(b->users, b->nusers);
  b->room_ok = chat_xrealloc(b->room_ok, n + 1);
  b->user_ok = chat_xrealloc(b->user_ok, 2 * n + 1);
  memset(b->room_ok, 0, n + 1);
  memset(b->user_ok, 0, 2 * n + 1);

  for (w = 0; w < b->nrooms || w < b->nusers; w += BATCH_ROWS) {
    binds_start(&b->x, 2 * BATCH_ROWS);
    /* Each list padded with its first id (or 0, which names no row). */
    for (i = 0; i < BATCH_ROWS; i++)
      binds_i64(&b->x, w + i < b->nrooms ? b->rooms[w + i]
                       : b->nrooms > 0   ? b->rooms[0]
                                         : 0);
    for (i = 0; i < BATCH_ROWS; i++)
      binds_i64(&b->x, w + i < b->nusers ? b->users[w + i]
                       : b->nusers > 0   ? b->users[0]
                                         : 0);
    memset(&cols, 0, sizeof(cols));
    c_i64(&cols, &kind);
    c_i64(&cols, &id);
    if (binds_run(c, ST_BATCH_PARENTS, &b->x, &cols)) return -1;
    while ((rc = chat_mysql_fetch(c, ST_BATCH_PARENTS)) == 1) {
      int user = kind == 1;
      pos = bsearch(&id, user ? b->users : b->rooms,
                    user ? b->nusers : b->nrooms, sizeof(int64_t), cmp_i64);
      if (pos != NULL)
        (user ? b->user_ok
              : b->room_ok)[(int64_t *)pos - (user ? b->users : b->rooms)] = 1;
    }
    st_done(c, ST_BATCH_PARENTS);
    if (rc < 0) return -1;
  }
  return 0;
}

/* 1 if the room, sender and receiver of it exist (after batch_parents). */
static int parents_ok(const batch_scratch_t *b, const chat_msg_insert_t *it) {
  const int64_t *p;

  p = bsearch(&it->sender_id, b->users, b->nusers, sizeof(int64_t), cmp_i64);
  if (p == NULL || !b->user_ok[p - b->users]) return 0;
  if (it->to_id != 0) {
    p = bsearch(&it->to_id, b->users, b->nusers, sizeof(int64_t), cmp_i64);
    return p != NULL && b->user_ok[p - b->users];
  }
  p = bsearch(&it->room, b->rooms, b->nrooms, sizeof(int64_t), cmp_i64);
  return p != NULL && b->room_ok[p - b->rooms];
}

/* Step 2, for the keys order[lo..hi) of one kind: marks the items whose
 * (sender, cid) was stored before as dups of that message.  0, or -1 with
 * the error saved. */
static int batch_stored(conn_t *c, chat_msg_insert_t *items, size_t lo,
                        size_t hi, batch_scratch_t *b) {
  int dm = items[b->order[lo]].to_id != 0;
  int id = dm ? ST_DM_CIDS : ST_MSG_CIDS;
  char cid[CHAT_CID_MAX];
  chat_msg_insert_t key;
  int64_t sender = 0, mid = 0, mts = 0;
  size_t *first = chat_xmalloc((hi - lo) * sizeof(*first));
  size_t nfirst = 0, i, w, a, z, m;
  cols_t cols;
  int rc = 0;

  /* The first item of each key. */
  for (i = lo; i < hi; i++)
    if (i == lo || key_cmp(&items[b->order[i - 1]], &items[b->order[i]]) != 0)
      first[nfirst++] = i;

  for (w = 0; w < nfirst && rc >= 0; w += BATCH_ROWS) {
    binds_start(&b->x, 2 * BATCH_ROWS);
    for (i = 0; i < BATCH_ROWS; i++) {
      const chat_msg_insert_t *it =
          &items[b->order[first[w + i < nfirst ? w + i : w]]];
      binds_i64(&b->x, it->sender_id);
      binds_bytes(&b->x, MYSQL_TYPE_BLOB, it->cid, strlen(it->cid));
    }
    memset(&cols, 0, sizeof(cols));
    c_i64(&cols, &sender);
    c_str(&cols, cid, sizeof(cid));
    c_i64(&cols, &mid);
    c_i64(&cols, &mts);
    if (binds_run(c, id, &b->x, &cols)) {
      rc = -1;
      break;
    }
    while ((rc = chat_mysql_fetch(c, id)) == 1) {
      if (cols_ok(&cols)) continue; /* a cid this batch cannot have */
      memset(&key, 0, sizeof(key));
      key.to_id = dm;
      key.sender_id = sender;
      key.cid = cid;
      /* Binary search over the first items of the keys. */
      a = 0;
      z = nfirst;
      while (a < z) {
        m = (a + z) / 2;
        if (key_cmp(&items[b->order[first[m]]], &key) < 0)
          a = m + 1;
        else
          z = m;
      }
      if (a == nfirst || key_cmp(&items[b->order[first[a]]], &key) != 0)
        continue;
      for (i = first[a]; i < hi; i++) {
        chat_msg_insert_t *it = &items[b->order[i]];
        if (i > first[a] && key_cmp(&items[b->order[i - 1]], it) != 0) break;
        it->dup = 1;
        it->id = mid;
        it->stored_ts = mts;
      }
    }
    st_done(c, id);
  }
  free(first);
  return rc < 0 ? -1 : 0;
}

/* Step 4: inserts the items of kind dm marked BI_NEW, in item order, with
 * the largest statements that fit.  0, or -1 with the error saved. */
static int batch_insert(conn_t *c, chat_msg_insert_t *items, size_t n, int dm,
                        batch_scratch_t *b) {
  size_t i = 0, rows, j, k, left = 0;
  int st, size;

  for (j = 0; j < n; j++)
    if (b->what[j] == BI_NEW && (items[j].to_id != 0) == dm) left++;
  while (left > 0) {
    for (size = BATCH_SIZES - 1; ((size_t)1 << size) > left; size--) {
    }
    rows = (size_t)1 << size;
    st = size == 0 ? (dm ? ST_DM_INSERT : ST_MSG_INSERT)
                   : (dm ? ST_DM_INSERT_2 : ST_MSG_INSERT_2) + size - 1;
    binds_start(&b->x, rows * 7); /* 7 columns of a DM, 6 of a message */
    {
      size_t start = i;
      for (k = 0; k < rows; i++) {
        chat_msg_insert_t *it = &items[i];
        if (b->what[i] != BI_NEW || (it->to_id != 0) != dm) continue;
        if (dm) {
          binds_i64(&b->x, it->sender_id);
          binds_i64(&b->x, it->to_id);
          binds_i64(&b->x,
                    it->sender_id < it->to_id ? it->sender_id : it->to_id);
          binds_i64(&b->x,
                    it->sender_id < it->to_id ? it->to_id : it->sender_id);
        } else {
          binds_i64(&b->x, it->room);
          binds_i64(&b->x, it->sender_id);
        }
        binds_bytes(&b->x, MYSQL_TYPE_STRING, it->text, strlen(it->text));
        binds_bytes(&b->x, MYSQL_TYPE_BLOB, it->cid,
                    it->cid ? strlen(it->cid) : 0);
        binds_i64(&b->x, it->ts);
        if (!dm) binds_i64(&b->x, it->seq);
        k++;
      }
      if (binds_run(c, st, &b->x, NULL)) return -1;
      if (st_affected(c, st) != rows) {
        chat_mysql_save_err(c, CR_UNKNOWN_ERROR,
                            "multi-row insert: short count");
        return -1;
      }
      {
        int64_t id = (int64_t)mysql_stmt_insert_id(c->st[st]);
        for (j = start, k = 0; k < rows; j++) {
          chat_msg_insert_t *it = &items[j];
          if (b->what[j] != BI_NEW || (it->to_id != 0) != dm) continue;
          it->id = id + (int64_t)k * c->autoinc_step;
          it->stored_ts = it->ts;
          k++;
        }
      }
    }
    left -= rows;
  }
  return 0;
}

/* The whole batch with multi-row statements (see above); BATCH_ROW_BY_ROW:
 * run it with batch_step. */
static int batch_multi_step(conn_t *c, void *arg) {
  batch_t *a = arg;
  chat_msg_insert_t *items = a->items;
  size_t i, lo, n = a->n;
  batch_scratch_t *b = a->b;

  batch_reset(items, n);
  if (batch_parents(c, items, n, b)) goto failed;

  /* Step 2: the keys, grouped, with the pairs stored before. */
  b->order = chat_xrealloc(b->order, n * sizeof(*b->order));
  b->src = chat_xrealloc(b->src, n * sizeof(*b->src));
  b->what = chat_xrealloc(b->what, n);
  memset(b->what, 0, n);
  b->norder = 0;
  for (i = 0; i < n; i++)
    if (items[i].cid != NULL) b->order[b->norder++] = i;
  t_sort_items = items;
  qsort(b->order, b->norder, sizeof(*b->order), cmp_order);
  for (lo = 0; lo < b->norder; lo = i) {
    /* Room messages sort before direct messages. */
    for (i = lo; i < b->norder && (items[b->order[i]].to_id != 0) ==
                                      (items[b->order[lo]].to_id != 0);
         i++) {
    }
    if (batch_stored(c, items, lo, i, b)) goto failed;
  }

  /* Step 3, in item order per key (the keys sort by item last). */
  for (i = 0; i < b->norder; i++) {
    size_t j = b->order[i];
    int same = i > 0 && key_cmp(&items[b->order[i - 1]], &items[j]) == 0;

    if (items[j].dup) continue; /* stored before */
    if (same && (b->what[b->order[i - 1]] == BI_NEW ||
                 b->what[b->order[i - 1]] == BI_DUP_OF)) {
      b->what[j] = BI_DUP_OF;
      b->src[j] = b->what[b->order[i - 1]] == BI_NEW ? b->order[i - 1]
                                                     : b->src[b->order[i - 1]];
    } else if (!parents_ok(b, &items[j])) {
      items[j].status = CHAT_ENOTFOUND;
    } else {
      b->what[j] = BI_NEW;
    }
  }
  for (i = 0; i < n; i++) {
    if (items[i].cid != NULL) continue;
    if (parents_ok(b, &items[i]))
      b->what[i] = BI_NEW;
    else
      items[i].status = CHAT_ENOTFOUND;
  }

  /* Step 3b: the numbers of the new room items, exactly as many per room
   * (see seq_take); a room deleted since step 1 sends the batch row by
   * row. */
  {
    chat_store_seq_room_t *rooms;
    size_t nrooms = 0, missing = 0;
    uint8_t *want = chat_xmalloc(n);

    for (i = 0; i < n; i++) want[i] = b->what[i] == BI_NEW;
    rooms = chat_store_seq_plan(items, n, want, &nrooms);
    free(want);
    if (seq_take(c, rooms, nrooms)) {
      free(rooms);
      goto failed;
    }
    for (i = 0; i < nrooms; i++) missing += rooms[i].missing;
    for (i = 0; i < n && missing == 0; i++) {
      chat_store_seq_room_t *sr;
      if (b->what[i] != BI_NEW || items[i].to_id != 0) continue;
      sr = chat_store_seq_find(rooms, nrooms, items[i].room);
      items[i].seq = sr->base + ++sr->used;
    }
    free(rooms);
    if (missing) return BATCH_ROW_BY_ROW;
  }

  if (batch_insert(c, items, n, 0, b) || batch_insert(c, items, n, 1, b))
    goto failed;
  for (i = 0; i < n; i++) {
    if (b->what[i] != BI_DUP_OF) continue;
    items[i].dup = 1;
    items[i].id = items[b->src[i]].id;
    items[i].stored_ts = items[b->src[i]].stored_ts;
  }
  if (chat_mysql_files_attach(c, items, n)) goto failed;  /* files (schema 008) */
  /* extras (schema 009): reply and mention rows */
  return chat_store_extras_batch(&chat_mysql_ops, c, items, n);

failed:
  if (c->err == ER_NO_REFERENCED_ROW_2 || c->err == ER_NO_REFERENCED_ROW ||
      c->err == ER_DUP_ENTRY)
    return BATCH_ROW_BY_ROW; /* another writer got in between */
  return chat_mysql_fail(c, "message insert");
}

int chat_mysql_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                                size_t n) {
  batch_scratch_t b;
  batch_t a = {items, n, &b};
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&b, 0, sizeof(b));
  if (c->multi_insert && n >= BATCH_MULTI_MIN)
    r = chat_mysql_tx_on(c, "message batch", batch_multi_step, &a);
  else
    r = BATCH_ROW_BY_ROW;
  /* The row-by-row run gets its own tries. */
  if (r == BATCH_ROW_BY_ROW)
    r = chat_mysql_tx_on(c, "message batch", batch_step, &a);
  if (r) batch_reset(items, n);
  chat_mysql_put(s, c);
  scratch_free(&b);
  return r;
}
