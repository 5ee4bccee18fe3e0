/* Replies, mentions, reactions, edits and tombstones (store.h "extras",
 * schema 009), written once over the backends' xq ops (backend.h).
 *
 * The SQL is portable (SQLite and MySQL/MariaDB): no upserts, no
 * dialect-specific functions; the only difference is the row lock MySQL
 * needs (" FOR UPDATE") where two writers could both pass a check (the
 * emoji cap, a recall racing an edit); SQLite has one writer at a time.
 * Statement texts are built from constants only (table names and the
 * number of placeholders of an IN list); values are always bound. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/mention.h"
#include "../core/sb.h"
#include "backend.h"

/* Ids per IN list. */
#define FILL_CHUNK 100
/* Characters of the quoted text of a reply. */
#define REPLY_CHARS 100

static const char *tbl(int dm) { return dm ? "direct_messages" : "messages"; }

static int is_mysql(const chat_store_ops_t *ops) { return strcmp(ops->kind, "mysql") == 0; }

static int64_t col_i64(const chat_xq_col_t *c) {
  return c->p ? strtoll(c->p, NULL, 10) : 0;
}

/* A row callback that keeps the first column of the first row as an
 * integer (ud: int64_t, set to -1 before the query: no row). */
/* ---- new messages (inside the batch transaction) ------------------------ */

int chat_store_extras_batch(const chat_store_ops_t *ops, void *conn,
                            const chat_msg_insert_t *items, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const chat_msg_insert_t *it = &items[i];
    if (it->id <= 0 || it->dup || it->status != 0) continue;
    if (it->reply_to == 0 && it->mentions == NULL) continue;
    int dm = it->to_id != 0;
    chat_xq_arg_t a[4] = {chat_xq_int(dm), chat_xq_int(it->id),
                          it->reply_to ? chat_xq_int(it->reply_to) : chat_xq_text(NULL),
                          chat_xq_text(it->mentions)};
    int r = ops->xq(conn,
                    "INSERT INTO msg_extras (kind, msg_id, reply_to, mentions)"
                    " VALUES (?, ?, ?, ?)",
                    a, 4, NULL, NULL, NULL);
    if (r) return r;
    for (size_t k = 0; k < it->nmention_ids; k++) {
      int64_t uid = it->mention_ids[k];
      /* Only a reader of the message counts it: the receiver of a DM. */
      if (uid == it->sender_id || (dm && uid != it->to_id)) continue;
      chat_xq_arg_t m[4] = {chat_xq_int(uid), chat_xq_int(dm ? 0 : it->room),
                            chat_xq_int(dm ? it->sender_id : 0), chat_xq_int(it->id)};
      r = ops->xq(conn,
                  "INSERT INTO mentions (user_id, room_id, peer_id, msg_id)"
                  " VALUES (?, ?, ?, ?)",
                  m, 4, NULL, NULL, NULL);
      if (r && r != CHAT_EEXIST) return r;
    }
  }
  return 0;
}

/* ---- reading: the extras of a list of messages -------------------------- */

typedef struct {
  char emoji[CHAT_EMOJI_MAX + 1];
  chat_sb_t users;              /* "a","b" */
} emo_t;

typedef struct {
  int has;                      /* a msg_extras row */
  int64_t reply_to, edited_ts;
  int deleted;
  char *mentions;
  int reply_found, reply_deleted;
  char *reply_sender, *reply_text;
  emo_t *emo;
  size_t nemo;
} fill_t;

typedef struct {
  chat_msg_rec_t *v;
  fill_t *f;
  const size_t *idx;            /* the chunk's records: indexes into v */
  size_t n;
} fill_ctx_t;

static fill_t *fill_of(fill_ctx_t *x, const chat_xq_col_t *c) {
  int64_t id = col_i64(c);
  for (size_t i = 0; i < x->n; i++)
    if (x->v[x->idx[i]].id == id) return &x->f[x->idx[i]];
  return NULL;
}

static char *col_dup(const chat_xq_col_t *c) {
  return c->p ? chat_xstrndup(c->p, c->len) : NULL;
}

/* msg_id, reply_to, edited_ts, deleted, mentions, reply's sender, reply's
 * text, reply's deleted. */
static int extras_row(void *ud, const chat_xq_col_t *c, int n) {
  fill_t *f = n >= 8 ? fill_of(ud, &c[0]) : NULL;
  if (f == NULL || f->has) return 0;
  f->has = 1;
  f->reply_to = col_i64(&c[1]);
  f->edited_ts = col_i64(&c[2]);
  f->deleted = col_i64(&c[3]) != 0;
  f->mentions = col_dup(&c[4]);
  f->reply_found = c[5].p != NULL;
  f->reply_sender = col_dup(&c[5]);
  f->reply_text = col_dup(&c[6]);
  f->reply_deleted = col_i64(&c[7]) != 0;
  return 0;
}

/* msg_id, emoji, username: ordered by message, then time. */
static int reaction_row(void *ud, const chat_xq_col_t *c, int n) {
  fill_t *f = n >= 3 ? fill_of(ud, &c[0]) : NULL;
  if (f == NULL || c[1].p == NULL || c[2].p == NULL || c[1].len > CHAT_EMOJI_MAX) return 0;
  emo_t *e = NULL;
  for (size_t i = 0; i < f->nemo && !e; i++)
    if (strlen(f->emo[i].emoji) == c[1].len && memcmp(f->emo[i].emoji, c[1].p, c[1].len) == 0)
      e = &f->emo[i];
  if (e == NULL) {
    if (f->nemo == CHAT_REACTIONS_MAX) return 0;
    if (f->emo == NULL) f->emo = chat_xcalloc(CHAT_REACTIONS_MAX, sizeof(*f->emo));
    e = &f->emo[f->nemo++];
    memcpy(e->emoji, c[1].p, c[1].len);
    e->emoji[c[1].len] = '\0';
    chat_sb_init(&e->users);
  }
  if (e->users.len) chat_sb_append(&e->users, ",", 1);
  chat_sb_json_str(&e->users, c[2].p, c[2].len);
  return 0;
}

/* The first REPLY_CHARS characters of s (valid UTF-8). */
static size_t cut_chars(const char *s, size_t len) {
  return chat_mention_prefix(s, len, REPLY_CHARS);
}

static char *build_extra(const fill_t *f) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  if (f->has && f->reply_to) {
    chat_sb_puts(&sb, ",\"reply_to\":{\"id\":");
    chat_sb_int(&sb, f->reply_to);
    chat_sb_puts(&sb, ",\"sender\":");
    if (f->reply_sender)
      chat_sb_json_str(&sb, f->reply_sender, strlen(f->reply_sender));
    else
      chat_sb_puts(&sb, "null");
    chat_sb_puts(&sb, ",\"text\":");
    if (f->reply_found && !f->reply_deleted && f->reply_text)
      chat_sb_json_str(&sb, f->reply_text, cut_chars(f->reply_text, strlen(f->reply_text)));
    else
      chat_sb_puts(&sb, "null");
    chat_sb_puts(&sb, "}");
  }
  if (f->has && f->mentions && f->mentions[0] == '[' && strcmp(f->mentions, "[]") != 0) {
    chat_sb_puts(&sb, ",\"mentions\":");
    chat_sb_puts(&sb, f->mentions);
  }
  if (f->nemo) {
    chat_sb_puts(&sb, ",\"reactions\":[");
    for (size_t i = 0; i < f->nemo; i++) {
      chat_sb_puts(&sb, i ? ",{\"emoji\":" : "{\"emoji\":");
      chat_sb_json_str(&sb, f->emo[i].emoji, strlen(f->emo[i].emoji));
      chat_sb_puts(&sb, ",\"users\":[");
      chat_sb_append(&sb, f->emo[i].users.buf, f->emo[i].users.len);
      chat_sb_puts(&sb, "]}");
    }
    chat_sb_puts(&sb, "]");
  }
  if (f->has && f->edited_ts) {
    chat_sb_puts(&sb, ",\"edited_ts\":");
    chat_sb_int(&sb, f->edited_ts);
  }
  if (sb.len == 0) {
    chat_sb_free(&sb);
    return NULL;
  }
  return sb.buf;
}

/* "?, ?, ..." with n placeholders into buf. */
static void placeholders(char *buf, size_t cap, size_t n) {
  size_t off = 0;
  for (size_t i = 0; i < n && off + 4 < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, i ? ", ?" : "?");
}

static int fill_chunk(const chat_store_ops_t *ops, void *conn, int dm, fill_ctx_t *x) {
  char ph[FILL_CHUNK * 3 + 8], sql[1600];
  chat_xq_arg_t args[FILL_CHUNK + 1];
  placeholders(ph, sizeof(ph), x->n);
  args[0] = chat_xq_int(dm);
  for (size_t i = 0; i < x->n; i++) args[i + 1] = chat_xq_int(x->v[x->idx[i]].id);
  snprintf(sql, sizeof(sql),
           "SELECT e.msg_id, e.reply_to, e.edited_ts, e.deleted, e.mentions, u.username,"
           " o.text, oe.deleted FROM msg_extras e"
           " LEFT JOIN %s o ON o.id = e.reply_to"
           " LEFT JOIN users u ON u.id = o.sender_id"
           " LEFT JOIN msg_extras oe ON oe.kind = e.kind AND oe.msg_id = e.reply_to"
           " WHERE e.kind = ? AND e.msg_id IN (%s)",
           tbl(dm), ph);
  int r = ops->xq(conn, sql, args, (int)x->n + 1, extras_row, x, NULL);
  if (r) return r;
  snprintf(sql, sizeof(sql),
           "SELECT r.msg_id, r.emoji, u.username FROM reactions r"
           " JOIN users u ON u.id = r.user_id"
           " WHERE r.kind = ? AND r.msg_id IN (%s) ORDER BY r.msg_id, r.ts, r.user_id",
           ph);
  return ops->xq(conn, sql, args, (int)x->n + 1, reaction_row, x, NULL);
}

int chat_store_extras_fill(chat_store_t *s, chat_msg_rec_t *v, size_t n) {
  const chat_store_ops_t *ops = s->ops;
  if (n == 0 || ops->xq == NULL) return 0;
  void *conn = ops->xq_get(s, 0);
  if (conn == NULL) return CHAT_EUNAVAIL;
  fill_t *f = chat_xcalloc(n, sizeof(*f));
  size_t *idx = chat_xmalloc(n * sizeof(*idx));
  int r = 0;
  for (int dm = 0; dm < 2 && r == 0; dm++) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if ((v[i].room == 0) == dm) idx[k++] = i;
    for (size_t at = 0; at < k && r == 0; at += FILL_CHUNK) {
      fill_ctx_t x = {v, f, idx + at, k - at < FILL_CHUNK ? k - at : FILL_CHUNK};
      r = fill_chunk(ops, conn, dm, &x);
    }
  }
  ops->xq_put(s, conn, 0);
  for (size_t i = 0; i < n; i++) {
    if (r == 0) {
      v[i].deleted = f[i].deleted;
      free(v[i].extra);
      v[i].extra = f[i].deleted ? NULL : build_extra(&f[i]);
    }
    free(f[i].mentions);
    free(f[i].reply_sender);
    free(f[i].reply_text);
    for (size_t e = 0; e < f[i].nemo; e++) chat_sb_free(&f[i].emo[e].users);
    free(f[i].emo);
  }
  free(f);
  free(idx);
  return r;
}

int chat_store_extras_unread(chat_store_t *s, int64_t user_id, chat_unread_rec_t *v,
                             size_t n) {
  const chat_store_ops_t *ops = s->ops;
  if (n == 0 || ops->xq == NULL) return 0;
  void *conn = ops->xq_get(s, 0);
  if (conn == NULL) return CHAT_EUNAVAIL;
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++) {
    int64_t count = 0;
    chat_xq_arg_t a[4] = {chat_xq_int(user_id), chat_xq_int(v[i].room_id),
                          chat_xq_int(v[i].room_id ? 0 : v[i].peer_id), chat_xq_int(v[i].last_read)};
    r = ops->xq(conn,
                "SELECT count(*) FROM mentions WHERE user_id = ? AND room_id = ?"
                " AND peer_id = ? AND msg_id > ?",
                a, 4, chat_xq_first_int, &count, NULL);
    v[i].mentions = r == 0 ? count : 0;
  }
  ops->xq_put(s, conn, 0);
  return r;
}

/* ---- one message -------------------------------------------------------- */

static int ref_row(void *ud, const chat_xq_col_t *c, int n) {
  chat_msg_ref_t *m = ud;
  if (n < 7) return 0;
  m->id = col_i64(&c[0]);
  m->room = col_i64(&c[1]);
  m->sender_id = col_i64(&c[2]);
  m->to_id = col_i64(&c[3]);
  snprintf(m->sender, sizeof(m->sender), "%.*s", (int)(c[4].p ? c[4].len : 0),
           c[4].p ? c[4].p : "");
  free(m->text);
  m->text = chat_xstrndup(c[5].p ? c[5].p : "", c[5].p ? c[5].len : 0);
  m->deleted = col_i64(&c[6]) != 0;
  return 0;
}

/* Reads message id of kind dm into *m (m->id 0: none) on conn; lock: MySQL
 * locks the row until the transaction ends. */
static int ref_read(const chat_store_ops_t *ops, void *conn, int dm, int64_t id,
                    chat_msg_ref_t *m, int lock) {
  char sql[600];
  chat_xq_arg_t a[2] = {chat_xq_int(dm), chat_xq_int(id)};
  m->id = 0;
  if (lock && is_mysql(ops)) {
    /* The message's row only (a FOR UPDATE on the join below would lock
     * its sender's row too). */
    snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE id = ? FOR UPDATE", tbl(dm));
    int r = ops->xq(conn, sql, a + 1, 1, NULL, NULL, NULL);
    if (r) return r;
  }
  snprintf(sql, sizeof(sql),
           "SELECT m.id, %s, m.sender_id, %s, u.username, m.text,"
           " coalesce((SELECT e.deleted FROM msg_extras e WHERE e.kind = ? AND e.msg_id = m.id), 0)"
           " FROM %s m JOIN users u ON u.id = m.sender_id WHERE m.id = ?",
           dm ? "0" : "m.room_id", dm ? "m.receiver_id" : "0", tbl(dm));
  return ops->xq(conn, sql, a, 2, ref_row, m, NULL);
}

int chat_store_msg_ref(chat_store_t *s, int dm, int64_t id, chat_msg_ref_t *out) {
  const chat_store_ops_t *ops = s->ops;
  if (out == NULL || id <= 0) return CHAT_EINVAL;
  if (ops->xq == NULL) return CHAT_EUNAVAIL;
  void *conn = ops->xq_get(s, 0);
  if (conn == NULL) return CHAT_EUNAVAIL;
  chat_msg_ref_t m;
  memset(&m, 0, sizeof(m));
  int r = ref_read(ops, conn, dm != 0, id, &m, 0);
  ops->xq_put(s, conn, 0);
  if (r == 0 && m.id == 0) r = CHAT_ENOTFOUND;
  if (r) {
    free(m.text);
    return r;
  }
  *out = m;
  return 0;
}

/* Sets a column of the message's msg_extras row, making the row if it has
 * none.  col is a constant. */
static int extras_set(const chat_store_ops_t *ops, void *conn, int dm, int64_t id,
                      const char *col, int64_t v) {
  char sql[200];
  int64_t changes = 0;
  chat_xq_arg_t a[3] = {chat_xq_int(v), chat_xq_int(dm), chat_xq_int(id)};
  snprintf(sql, sizeof(sql), "UPDATE msg_extras SET %s = ? WHERE kind = ? AND msg_id = ?", col);
  int r = ops->xq(conn, sql, a, 3, NULL, NULL, &changes);
  if (r || changes > 0) return r;
  snprintf(sql, sizeof(sql), "INSERT INTO msg_extras (%s, kind, msg_id) VALUES (?, ?, ?)", col);
  r = ops->xq(conn, sql, a, 3, NULL, NULL, NULL);
  /* MySQL counts an UPDATE that writes the same value as no change: the
   * row exists then. */
  return r == CHAT_EEXIST ? 0 : r;
}

/* The search rows of message id of kind dm follow text: dropped, and
 * written again if the indexer has passed the message (else it indexes
 * the new text when it gets there).  Runs before the stored text changes
 * (FTS5 removes a row with its old text: backend.h, search_unindex). */
static int reindex(const chat_store_ops_t *ops, void *conn, int dm, int64_t id,
                   const char *text) {
  return ops->search_unindex(conn, dm, id, text);
}

typedef struct {
  const chat_store_ops_t *ops;
  int dm;
  int64_t id, user_id, now_ms, room_id;
  const char *text;
  const char *emoji;
  int on;
} edit_t;

static int edit_step(void *conn, void *arg) {
  edit_t *e = arg;
  const chat_store_ops_t *ops = e->ops;
  chat_msg_ref_t m;
  memset(&m, 0, sizeof(m));
  int r = ref_read(ops, conn, e->dm, e->id, &m, 1);
  free(m.text);
  if (r) return r;
  if (m.id == 0 || m.deleted || m.sender_id != e->user_id) return CHAT_ENOTFOUND;
  char sql[120];
  snprintf(sql, sizeof(sql), "UPDATE %s SET text = ? WHERE id = ?", tbl(e->dm));
  chat_xq_arg_t a[2] = {chat_xq_text(e->text), chat_xq_int(e->id)};
  r = reindex(ops, conn, e->dm, e->id, e->text);
  if (r == 0) r = ops->xq(conn, sql, a, 2, NULL, NULL, NULL);
  if (r == 0) r = extras_set(ops, conn, e->dm, e->id, "edited_ts", e->now_ms);
  return r;
}

int chat_store_msg_edit(chat_store_t *s, int dm, int64_t id, int64_t sender_id,
                        const char *text, int64_t now_ms) {
  if (text == NULL || id <= 0) return CHAT_EINVAL;
  if (s->ops->xq_tx == NULL) return CHAT_EUNAVAIL;
  edit_t e = {s->ops, dm != 0, id, sender_id, now_ms, 0, text, NULL, 0};
  return s->ops->xq_tx(s, "message edit", edit_step, &e);
}

static int react_step(void *conn, void *arg) {
  edit_t *e = arg;
  const chat_store_ops_t *ops = e->ops;
  chat_msg_ref_t m;
  memset(&m, 0, sizeof(m));
  int r = ref_read(ops, conn, e->dm, e->id, &m, 1);
  free(m.text);
  if (r) return r;
  if (m.id == 0 || m.deleted) return CHAT_ENOTFOUND;
  size_t elen = strlen(e->emoji);
  chat_xq_arg_t a[5] = {chat_xq_int(e->dm), chat_xq_int(e->id), chat_xq_blob(e->emoji, elen), chat_xq_int(e->user_id),
                        chat_xq_int(e->now_ms)};
  if (!e->on)
    return ops->xq(conn,
                   "DELETE FROM reactions WHERE kind = ? AND msg_id = ? AND emoji = ?"
                   " AND user_id = ?",
                   a, 4, NULL, NULL, NULL);
  int64_t mine = -1, same = -1, distinct = -1;
  r = ops->xq(conn,
              "SELECT count(*) FROM reactions WHERE kind = ? AND msg_id = ? AND emoji = ?"
              " AND user_id = ?",
              a, 4, chat_xq_first_int, &mine, NULL);
  if (r || mine > 0) return r;
  r = ops->xq(conn, "SELECT count(*) FROM reactions WHERE kind = ? AND msg_id = ? AND emoji = ?",
              a, 3, chat_xq_first_int, &same, NULL);
  if (r == 0 && same == 0)
    r = ops->xq(conn,
                "SELECT count(DISTINCT emoji) FROM reactions WHERE kind = ? AND msg_id = ?", a,
                2, chat_xq_first_int, &distinct, NULL);
  if (r) return r;
  if (same == 0 && distinct >= CHAT_REACTIONS_MAX) return CHAT_EAGAIN;
  /* Reactions are listed by ts: two in one millisecond keep the order they
   * were stored in (ts one above the message's latest). */
  int64_t latest = 0;
  r = ops->xq(conn, "SELECT coalesce(max(ts), 0) FROM reactions WHERE kind = ? AND msg_id = ?",
              a, 2, chat_xq_first_int, &latest, NULL);
  if (r) return r;
  if (latest >= e->now_ms) a[4] = chat_xq_int(latest + 1);
  r = ops->xq(conn,
              "INSERT INTO reactions (kind, msg_id, emoji, user_id, ts) VALUES (?, ?, ?, ?, ?)",
              a, 5, NULL, NULL, NULL);
  return r == CHAT_EEXIST ? 0 : r;
}

int chat_store_msg_react(chat_store_t *s, int dm, int64_t id, int64_t user_id,
                         const char *emoji, int on, int64_t now_ms) {
  if (emoji == NULL || id <= 0) return CHAT_EINVAL;
  if (s->ops->xq_tx == NULL) return CHAT_EUNAVAIL;
  edit_t e = {s->ops, dm != 0, id, user_id, now_ms, 0, NULL, emoji, on != 0};
  return s->ops->xq_tx(s, "message reaction", react_step, &e);
}

static int tomb_step(void *conn, void *arg) {
  edit_t *e = arg;
  const chat_store_ops_t *ops = e->ops;
  chat_msg_ref_t m;
  memset(&m, 0, sizeof(m));
  int r = ref_read(ops, conn, e->dm, e->id, &m, 1);
  free(m.text);
  if (r) return r;
  if (m.id == 0 || m.deleted || (!e->dm && m.room != e->room_id)) return CHAT_ENOTFOUND;
  char sql[120];
  snprintf(sql, sizeof(sql), "UPDATE %s SET text = '' WHERE id = ?", tbl(e->dm));
  chat_xq_arg_t k[2] = {chat_xq_int(e->dm), chat_xq_int(e->id)};
  chat_xq_arg_t id1[1] = {chat_xq_int(e->id)};
  r = reindex(ops, conn, e->dm, e->id, NULL);
  if (r == 0) r = ops->xq(conn, sql, id1, 1, NULL, NULL, NULL);
  if (r == 0) r = extras_set(ops, conn, e->dm, e->id, "deleted", 1);
  if (r == 0)
    r = ops->xq(conn, "DELETE FROM reactions WHERE kind = ? AND msg_id = ?", k, 2, NULL, NULL,
                NULL);
  if (r == 0) {
    chat_xq_arg_t mk[2] = {chat_xq_int(e->dm ? 0 : m.room), chat_xq_int(e->id)};
    r = ops->xq(conn, "DELETE FROM mentions WHERE room_id = ? AND msg_id = ?", mk, 2, NULL,
                NULL, NULL);
  }
  return r;
}

int chat_store_extras_tombstone(chat_store_t *s, int dm, int64_t room_id, int64_t id) {
  if (id <= 0) return CHAT_EINVAL;
  if (s->ops->xq_tx == NULL) return CHAT_EUNAVAIL;
  edit_t e = {s->ops, dm != 0, id, 0, 0, room_id, NULL, NULL, 0};
  return s->ops->xq_tx(s, "message delete", tomb_step, &e);
}

int chat_store_dm_delete(chat_store_t *s, int64_t id) {
  return chat_store_extras_tombstone(s, 1, 0, id);
}
