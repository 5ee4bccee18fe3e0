/* The MySQL backend (see mysql_int.h): users, sessions, rooms, messages,
 * direct messages, friends, moderation and read markers, the transaction
 * primitives of backend.h, and the ops table.  Each operation binds its
 * statement of chat_mysql_sql[] and reads the rows; a write of several
 * statements runs as a step of chat_mysql_tx. */
#include <stdlib.h>
#include <string.h>

#include "files_int.h"
#include "../core/common.h"
#include "../core/log.h"
#include "mysql_int.h"

/* --- records -------------------------------------------------------------- */

typedef struct {
  cols_t cols;
  chat_user_rec_t rec;
  int64_t role, banned, notify;
  int64_t webhook;   /* schema 011 */
} user_row_t;

/* Binds the columns USER_COLS into r. */
static cols_t *user_cols(user_row_t *r) {
  memset(r, 0, sizeof(*r));
  c_i64(&r->cols, &r->rec.id);
  c_str(&r->cols, r->rec.username, sizeof(r->rec.username));
  c_str(&r->cols, r->rec.email, sizeof(r->rec.email));
  c_str(&r->cols, r->rec.pwhash, sizeof(r->rec.pwhash));
  c_i64(&r->cols, &r->role);
  c_i64(&r->cols, &r->banned);
  c_i64(&r->cols, &r->rec.created_ms);
  c_i64(&r->cols, &r->notify);
  c_str(&r->cols, r->rec.display_name, sizeof(r->rec.display_name));
  c_i64(&r->cols, &r->rec.avatar_file);  /* files (schema 008) */
  c_str(&r->cols, r->rec.phone, sizeof(r->rec.phone));  /* schema 011 */
  c_i64(&r->cols, &r->webhook);
  return &r->cols;
}

/* Turns the integer columns of a fetched row into the record's fields. */
static void user_row_done(user_row_t *r) {
  r->rec.role = r->role == CHAT_ROLE_ADMIN ? CHAT_ROLE_ADMIN : CHAT_ROLE_USER;
  r->rec.banned = r->banned != 0;
  r->rec.email_notify = r->notify != 0;
  r->rec.webhook_notify = r->webhook != 0;
}

/* Runs a query expected to return at most one user row into out (which may
 * be NULL). */
static int query_user(conn_t *c, int id, params_t *p, const char *what,
                      chat_user_rec_t *out) {
  user_row_t r;
  int rc, res;

  if (chat_mysql_run(c, id, p, user_cols(&r))) return chat_mysql_fail(c, what);
  rc = chat_mysql_fetch(c, id);
  if (rc < 0) {
    res = chat_mysql_fail(c, what);
  } else if (rc == 0) {
    res = CHAT_ENOTFOUND;
  } else if (cols_ok(&r.cols)) {
    chat_log_error("store(mysql): user %lld: bad field", (long long)r.rec.id);
    res = CHAT_EUNAVAIL;
  } else {
    user_row_done(&r);
    if (out != NULL) *out = r.rec;
    res = 0;
  }
  st_done(c, id);
  return res;
}

typedef struct {
  cols_t cols;
  chat_room_rec_t rec;
} room_row_t;

static cols_t *room_cols(room_row_t *r) {
  memset(r, 0, sizeof(*r));
  c_i64(&r->cols, &r->rec.id);
  c_str(&r->cols, r->rec.name, sizeof(r->rec.name));
  c_str(&r->cols, r->rec.topic, sizeof(r->rec.topic));
  return &r->cols;
}

static int room_row_ok(room_row_t *r) {
  if (cols_ok(&r->cols) == 0) return 0;
  chat_log_error("store(mysql): room %lld: bad field", (long long)r->rec.id);
  return CHAT_EUNAVAIL;
}

/* The lookup key of a user or room name: the name with A-Z mapped to a-z,
 * byte for byte, as the generated columns username_key and name_key of
 * schema/mysql/001_init.sql compute it. */
static void name_key(const char *name, char key[CHAT_NAME_MAX + 1]) {
  size_t i;

  for (i = 0; name[i] != '\0' && i < CHAT_NAME_MAX; i++)
    key[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
  key[i] = '\0';
}

static int my_ping(chat_store_t *s) {
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  if (mysql_ping(c->db) != 0) {
    chat_mysql_save_err(c, mysql_errno(c->db), mysql_error(c->db));
    r = chat_mysql_fail(c, "ping");
  }
  chat_mysql_put(s, c);
  return r;
}

/* --- users ---------------------------------------------------------------- */

static int my_user_create(chat_store_t *s, const char *username,
                          const char *key, const char *email,
                          const char *pwhash, chat_role_t role, int64_t now_ms,
                          chat_user_rec_t *out) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_str(&p, username);
  p_bytes(&p, MYSQL_TYPE_BLOB, key, strlen(key));
  p_str(&p, email);
  p_str(&p, pwhash);
  p_i64(&p, (int64_t)role);
  p_i64(&p, now_ms);
  if (chat_mysql_run(c, ST_USER_INSERT, &p, NULL)) {
    r = chat_mysql_write_err(c, "user create");
  } else if (out != NULL) {
    memset(out, 0, sizeof(*out));
    out->id = (int64_t)mysql_stmt_insert_id(c->st[ST_USER_INSERT]);
    strcpy(out->username, username);
    strcpy(out->email, email);
    strcpy(out->pwhash, pwhash);
    out->role = role;
    out->banned = 0;
    out->email_notify = 1;
    out->webhook_notify = 1;
    out->created_ms = now_ms;
  }
  chat_mysql_put(s, c);
  return r;
}

static int my_user_find(chat_store_t *s, const char *username,
                        const char *key, chat_user_rec_t *out) {
  char folded[CHAT_NAME_MAX + 1];
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  name_key(username, folded);
  memset(&p, 0, sizeof(p));
  p_bytes(&p, MYSQL_TYPE_BLOB, folded, strlen(folded));
  p_bytes(&p, MYSQL_TYPE_BLOB, key, key ? strlen(key) : 0);
  p_bytes(&p, MYSQL_TYPE_BLOB, folded, strlen(folded));
  r = query_user(c, ST_USER_FIND, &p, "user by name", out);
  chat_mysql_put(s, c);
  return r;
}

static int my_user_by_id(chat_store_t *s, int64_t id, chat_user_rec_t *out) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, id);
  r = query_user(c, ST_USER_BY_ID, &p, "user by id", out);
  chat_mysql_put(s, c);
  return r;
}

static int my_session_lookup(chat_store_t *s, const uint8_t *token_hash,
                             int64_t now_ms, chat_user_rec_t *user_out) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_hash(&p, token_hash);
  p_i64(&p, now_ms);
  r = query_user(c, ST_SESSION_LOOKUP, &p, "session lookup", user_out);
  chat_mysql_put(s, c);
  return r;
}

static int my_session_delete(chat_store_t *s, const uint8_t *token_hash) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_hash(&p, token_hash);
  if (chat_mysql_run(c, ST_SESSION_DELETE, &p, NULL))
    r = chat_mysql_fail(c, "session delete");
  chat_mysql_put(s, c);
  return r;
}

/* --- rooms ---------------------------------------------------------------- */

static int my_room_create(chat_store_t *s, const char *name, const char *topic,
                          chat_room_rec_t *out) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_str(&p, name);
  p_str(&p, topic);
  p_i64(&p, chat_now_ms());
  if (chat_mysql_run(c, ST_ROOM_INSERT, &p, NULL)) {
    r = chat_mysql_write_err(c, "room create");
  } else if (out != NULL) {
    memset(out, 0, sizeof(*out));
    out->id = (int64_t)mysql_stmt_insert_id(c->st[ST_ROOM_INSERT]);
    strcpy(out->name, name);
    strcpy(out->topic, topic);
  }
  chat_mysql_put(s, c);
  return r;
}

/* Reads room id into *rec: 0, CHAT_ENOTFOUND or CHAT_EUNAVAIL. */
static int room_read(conn_t *c, int64_t id, chat_room_rec_t *rec) {
  room_row_t row;
  params_t p;
  int rc, r;

  memset(&p, 0, sizeof(p));
  p_i64(&p, id);
  if (chat_mysql_run(c, ST_ROOM_GET, &p, room_cols(&row)))
    return chat_mysql_fail(c, "room get");
  rc = chat_mysql_fetch(c, ST_ROOM_GET);
  if (rc < 0)
    r = chat_mysql_fail(c, "room get");
  else if (rc == 0)
    r = CHAT_ENOTFOUND;
  else
    r = room_row_ok(&row);
  st_done(c, ST_ROOM_GET);
  if (r == 0) *rec = row.rec;
  return r;
}

typedef struct {
  int64_t id;
  const char *name, *topic;
  chat_room_rec_t rec; /* out */
} room_update_t;

/* UPDATE and the read of the row in one transaction, so the answer is the
 * row as updated. */
static int room_update_step(conn_t *c, void *arg) {
  room_update_t *a = arg;
  params_t p;

  memset(&p, 0, sizeof(p));
  p_str(&p, a->name);
  p_str(&p, a->topic);
  p_i64(&p, a->id);
  if (chat_mysql_run(c, ST_ROOM_UPDATE, &p, NULL))
    return chat_mysql_write_err(c, "room update");
  if (st_affected(c, ST_ROOM_UPDATE) == 0) return CHAT_ENOTFOUND;
  return room_read(c, a->id, &a->rec);
}

static int my_room_update(chat_store_t *s, int64_t id, const char *name,
                          const char *topic, chat_room_rec_t *out) {
  room_update_t a = {id, name, topic, {0}};
  int r = chat_mysql_tx(s, "room update", room_update_step, &a);

  if (r == 0 && out != NULL) *out = a.rec;
  return r;
}

/* The messages go with the room (ON DELETE CASCADE); their search rows and
 * the room's read markers first, in the same transaction (a cascade fires
 * no triggers in MySQL, and search rows have no foreign key).  The room
 * messages' index cursor is locked first: an indexer that has read some of
 * the room's messages commits their rows before the delete looks for them,
 * and the next one starts after the messages are gone. */
static int room_delete_step(conn_t *c, void *arg) {
  static const int steps[] = {ST_FTS_DELETE_ROOM, ST_MARKERS_DELETE_ROOM,
                              ST_ROOM_DELETE};
  int64_t id = *(const int64_t *)arg, kind = 0, last = 0;
  cols_t cols;
  params_t p;
  size_t i;

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, CHAT_SEARCH_ROOM);
  c_i64(&cols, &kind);
  c_i64(&cols, &last);
  if (chat_mysql_run(c, ST_CURSOR_LOCK, &p, &cols))
    return chat_mysql_fail(c, "room delete");
  st_done(c, ST_CURSOR_LOCK);
  for (i = 0; i < CHAT_ARRAY_SIZE(steps); i++) {
    memset(&p, 0, sizeof(p));
    p_i64(&p, id);
    if (chat_mysql_run(c, steps[i], &p, NULL))
      return chat_mysql_fail(c, "room delete");
    if (steps[i] == ST_ROOM_DELETE && st_affected(c, ST_ROOM_DELETE) == 0)
      return CHAT_ENOTFOUND;
  }
  return 0;
}

static int my_room_delete(chat_store_t *s, int64_t id) {
  return chat_mysql_tx(s, "room delete", room_delete_step, &id);
}

static int my_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out) {
  chat_room_rec_t rec;
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  r = room_read(c, id, &rec);
  chat_mysql_put(s, c);
  if (r == 0 && out != NULL) *out = rec;
  return r;
}

static int my_room_list(chat_store_t *s, chat_room_rec_t **out, size_t *n) {
  chat_room_rec_t *v = NULL;
  room_row_t row;
  size_t len = 0, cap = 0;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  if (chat_mysql_run(c, ST_ROOM_LIST, NULL, room_cols(&row))) {
    r = chat_mysql_fail(c, "room list");
    goto out;
  }
  while ((rc = chat_mysql_fetch(c, ST_ROOM_LIST)) == 1) {
    r = room_row_ok(&row);
    if (r) break;
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len++] = row.rec;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, "room list");
  st_done(c, ST_ROOM_LIST);
out:
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static void msgs_reverse(chat_msg_rec_t *v, size_t n) {
  chat_msg_rec_t tmp;
  size_t i;

  for (i = 0; i < n / 2; i++) {
    tmp = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = tmp;
  }
}

/* Runs ST_MSG_BEFORE or ST_MSG_SINCE (newest first; bound2 unused) or
 * ST_MSG_BY_SEQ (oldest first, seq from bound to bound2) and returns the
 * rows in ascending order.  An empty answer for a room that does not exist
 * is CHAT_ENOTFOUND (not for ST_MSG_BY_SEQ: an empty list). */
static int msg_query(chat_store_t *s, int id, int64_t room, int64_t bound,
                     int64_t bound2, int limit, chat_msg_rec_t **out,
                     size_t *n) {
  chat_msg_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  cols_t cols;
  params_t p;
  int64_t mid = 0, mroom = 0, mts = 0, mseq = 0;
  int by_seq = id == ST_MSG_BY_SEQ;
  char sender[CHAT_NAME_MAX + 1];
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, room);
  p_i64(&p, bound);
  if (by_seq) p_i64(&p, bound2);
  p_i64(&p, limit);
  c_i64(&cols, &mid);
  c_i64(&cols, &mroom);
  c_str(&cols, sender, sizeof(sender));
  c_text(&cols);
  c_i64(&cols, &mts);
  c_i64(&cols, &mseq);
  if (chat_mysql_run(c, id, &p, &cols)) {
    r = chat_mysql_fail(c, "message history");
    goto out;
  }
  while ((rc = chat_mysql_fetch(c, id)) == 1) {
    chat_msg_rec_t *m;
    char *text;

    if (cols_ok(&cols)) {
      chat_log_error("store(mysql): message %lld: bad field", (long long)mid);
      r = CHAT_EUNAVAIL;
      break;
    }
    text = chat_mysql_col_text(c, id, &cols, 3);
    if (text == NULL) {
      r = chat_mysql_fail(c, "message text");
      break;
    }
    if (len == cap) {
      cap = cap ? cap * 2 : (limit < 64 ? (size_t)limit : 64);
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    m = &v[len++];
    m->files = NULL; /* files (schema 008): store.c fills them */
    m->nfiles = 0;
    m->id = mid;
    m->room = mroom;
    m->ts = mts;
    m->seq = mseq;
    memcpy(m->sender, sender, sizeof(m->sender));
    m->to[0] = '\0';
    m->text = text;
    m->deleted = 0; /* extras (schema 009): filled by store.c */
    m->extra = NULL;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, "message history");
  st_done(c, id);

  if (r == 0 && len == 0 && !by_seq) {
    cols_t one;
    int64_t dummy;

    memset(&p, 0, sizeof(p));
    memset(&one, 0, sizeof(one));
    p_i64(&p, room);
    c_i64(&one, &dummy);
    if (chat_mysql_run(c, ST_ROOM_EXISTS, &p, &one)) {
      r = chat_mysql_fail(c, "room exists");
    } else {
      rc = chat_mysql_fetch(c, ST_ROOM_EXISTS);
      if (rc == 0)
        r = CHAT_ENOTFOUND;
      else if (rc < 0)
        r = chat_mysql_fail(c, "room exists");
      st_done(c, ST_ROOM_EXISTS);
    }
  }
out:
  chat_mysql_put(s, c);

  if (r) {
    chat_store_msgs_free(v, len);
    return r;
  }
  if (!by_seq) msgs_reverse(v, len);
  *out = v;
  *n = len;
  return 0;
}

static int my_msg_history(chat_store_t *s, int64_t room, int64_t before_id,
                          int limit, chat_msg_rec_t **out, size_t *n) {
  return msg_query(s, ST_MSG_BEFORE, room,
                   before_id <= 0 ? INT64_MAX : before_id, 0, limit, out, n);
}

static int my_msg_since(chat_store_t *s, int64_t room, int64_t since_id,
                        int limit, chat_msg_rec_t **out, size_t *n) {
  return msg_query(s, ST_MSG_SINCE, room, since_id, 0, limit, out, n);
}

static int my_msg_by_seq(chat_store_t *s, int64_t room, int64_t from_seq,
                         int64_t to_seq, int limit, chat_msg_rec_t **out,
                         size_t *n) {
  return msg_query(s, ST_MSG_BY_SEQ, room, from_seq, to_seq, limit, out, n);
}

static int my_room_last_seq(chat_store_t *s, int64_t id, int64_t *out) {
  cols_t cols;
  params_t p;
  int64_t last = 0;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, id);
  c_i64(&cols, &last);
  if (chat_mysql_run(c, ST_ROOM_LAST_SEQ, &p, &cols)) {
    r = chat_mysql_fail(c, "room last seq");
  } else {
    rc = chat_mysql_fetch(c, ST_ROOM_LAST_SEQ);
    if (rc < 0)
      r = chat_mysql_fail(c, "room last seq");
    else if (rc == 0)
      r = CHAT_ENOTFOUND;
    st_done(c, ST_ROOM_LAST_SEQ);
  }
  chat_mysql_put(s, c);
  if (r == 0) *out = last;
  return r;
}

static int my_room_seqs(chat_store_t *s, chat_room_seq_t **out, size_t *n) {
  chat_room_seq_t *v = NULL;
  size_t len = 0, cap = 0;
  int64_t id = 0, last = 0;
  cols_t cols;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&cols, 0, sizeof(cols));
  c_i64(&cols, &id);
  c_i64(&cols, &last);
  if (chat_mysql_run(c, ST_ROOM_SEQS, NULL, &cols)) {
    r = chat_mysql_fail(c, "room seqs");
  } else {
    while ((rc = chat_mysql_fetch(c, ST_ROOM_SEQS)) == 1) {
      if (len == cap) {
        cap = cap ? cap * 2 : 16;
        v = chat_xrealloc(v, cap * sizeof(*v));
      }
      v[len].id = id;
      v[len].last_seq = last;
      len++;
    }
    if (rc < 0) r = chat_mysql_fail(c, "room seqs");
    st_done(c, ST_ROOM_SEQS);
  }
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- message lists of the MSG6 layout ------------------------------------ */

typedef struct {
  cols_t cols;
  chat_msg_rec_t rec;
  int64_t sender_id; /* bound only by msg_get */
} msg_row_t;

/* Binds the columns of the MSG6 layout (id, room, sender, to, text, ts)
 * into r; text is read with col_text (column 4). */
static cols_t *msg6_cols(msg_row_t *r) {
  memset(r, 0, sizeof(*r));
  c_i64(&r->cols, &r->rec.id);
  c_i64(&r->cols, &r->rec.room);
  c_str(&r->cols, r->rec.sender, sizeof(r->rec.sender));
  c_str(&r->cols, r->rec.to, sizeof(r->rec.to));
  c_text(&r->cols);
  c_i64(&r->cols, &r->rec.ts);
  return &r->cols;
}

/* After a fetch: the record of r with its text read (a new string).  0 or
 * CHAT_EUNAVAIL. */
static int msg6_read(conn_t *c, int id, msg_row_t *r, const char *what) {
  if (cols_ok(&r->cols)) {
    chat_log_error("store(mysql): message %lld: bad field",
                   (long long)r->rec.id);
    return CHAT_EUNAVAIL;
  }
  r->rec.text = chat_mysql_col_text(c, id, &r->cols, 4);
  return r->rec.text != NULL ? 0 : chat_mysql_fail(c, what);
}

int chat_mysql_msg6_rows(conn_t *c, int id, params_t *p, const char *what,
                         int limit, chat_msg_rec_t **out, size_t *n) {
  chat_msg_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  msg_row_t row;
  int rc, r = 0;

  if (chat_mysql_run(c, id, p, msg6_cols(&row)))
    return chat_mysql_fail(c, what);
  while ((rc = chat_mysql_fetch(c, id)) == 1) {
    r = msg6_read(c, id, &row, what);
    if (r) break;
    if (len == cap) {
      cap = cap ? cap * 2 : (limit < 64 ? (size_t)limit : 64);
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len++] = row.rec;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, what);
  st_done(c, id);
  if (r) {
    chat_store_msgs_free(v, len);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* Flags of change(). */
enum {
  ONE_ROW = 1, /* matching no row is CHAT_ENOTFOUND */
  WRITE = 2,   /* map key violations (chat_mysql_write_err) */
};

/* Runs statement id (p bound, no rows) on c: 0 or the error.  ONE_ROW:
 * CLIENT_FOUND_ROWS counts a row set to what it was. */
static int change(conn_t *c, int id, params_t *p, const char *what, int flags) {
  if (chat_mysql_run(c, id, p, NULL))
    return flags & WRITE ? chat_mysql_write_err(c, what)
                         : chat_mysql_fail(c, what);
  if ((flags & ONE_ROW) && st_affected(c, id) == 0) return CHAT_ENOTFOUND;
  return 0;
}

/* change() on a connection borrowed for it, outside a transaction. */
static int change_one(chat_store_t *s, int id, params_t *p, const char *what,
                      int flags) {
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  r = change(c, id, p, what, flags);
  chat_mysql_put(s, c);
  return r;
}

/* --- direct messages ------------------------------------------------------ */

static int my_dm_history(chat_store_t *s, int64_t a, int64_t b,
                         int64_t before_id, int limit, chat_msg_rec_t **out,
                         size_t *n) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, a < b ? a : b);
  p_i64(&p, a < b ? b : a);
  p_i64(&p, before_id <= 0 ? INT64_MAX : before_id);
  p_i64(&p, limit);
  r = chat_mysql_msg6_rows(c, ST_DM_BEFORE, &p, "dm history", limit, out, n);
  chat_mysql_put(s, c);
  if (r == 0) msgs_reverse(*out, *n);
  return r;
}

static int my_dm_since(chat_store_t *s, int64_t after_id, int limit,
                       chat_msg_rec_t **out, size_t *n) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, after_id);
  p_i64(&p, limit);
  r = chat_mysql_msg6_rows(c, ST_DM_SINCE, &p, "dm since", limit, out, n);
  chat_mysql_put(s, c);
  return r;
}

static int my_dm_last_id(chat_store_t *s, int64_t *out) {
  cols_t cols;
  int64_t last = 0;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&cols, 0, sizeof(cols));
  c_i64(&cols, &last);
  if (chat_mysql_run(c, ST_DM_LAST_ID, NULL, &cols)) {
    r = chat_mysql_fail(c, "dm last id");
  } else {
    rc = chat_mysql_fetch(c, ST_DM_LAST_ID);
    if (rc < 0) r = chat_mysql_fail(c, "dm last id");
    st_done(c, ST_DM_LAST_ID);
  }
  chat_mysql_put(s, c);
  if (r == 0) *out = last;
  return r;
}

/* --- friends -------------------------------------------------------------- */

/* The row of the pair (lo, hi) with statement id (ST_FRIEND_GET or
 * ST_FRIEND_LOCK): 1 found, 0 none, -1 error (saved). */
static int friend_get(conn_t *c, int id, int64_t lo, int64_t hi,
                      int64_t *requester, int *accepted) {
  int64_t req = 0, acc = 0;
  cols_t cols;
  params_t p;
  int rc;

  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  p_i64(&p, lo);
  p_i64(&p, hi);
  c_i64(&cols, &req);
  c_i64(&cols, &acc);
  if (chat_mysql_run(c, id, &p, &cols)) return -1;
  rc = chat_mysql_fetch(c, id);
  st_done(c, id);
  if (rc == 1) {
    *requester = req;
    *accepted = acc != 0;
  }
  return rc;
}

static chat_friend_state_t friend_state_of(int64_t me, int64_t requester,
                                           int accepted) {
  if (accepted) return CHAT_FRIEND_ACCEPTED;
  return requester == me ? CHAT_FRIEND_OUTGOING : CHAT_FRIEND_INCOMING;
}

static int my_friend_remove(chat_store_t *s, int64_t a, int64_t b) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, a < b ? a : b);
  p_i64(&p, a < b ? b : a);
  if (chat_mysql_run(c, ST_FRIEND_DELETE, &p, NULL))
    r = chat_mysql_fail(c, "friend remove");
  chat_mysql_put(s, c);
  return r;
}

static int my_friend_state(chat_store_t *s, int64_t a, int64_t b,
                           chat_friend_state_t *out) {
  int64_t requester = 0;
  int accepted = 0, rc;
  conn_t *c;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  rc = friend_get(c, ST_FRIEND_GET, a < b ? a : b, a < b ? b : a, &requester,
                  &accepted);
  if (rc < 0)
    r = chat_mysql_fail(c, "friend state");
  else
    *out = rc ? friend_state_of(a, requester, accepted) : CHAT_FRIEND_NONE;
  chat_mysql_put(s, c);
  return r;
}

static int my_friend_list(chat_store_t *s, int64_t user_id,
                          chat_friend_rec_t **out, size_t *n) {
  chat_friend_rec_t *v = NULL, rec;
  size_t len = 0, cap = 0;
  int64_t mine = 0, accepted = 0;
  cols_t cols;
  params_t p;
  conn_t *c;
  int i, rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  memset(&cols, 0, sizeof(cols));
  memset(&rec, 0, sizeof(rec));
  for (i = 0; i < 4; i++) p_i64(&p, user_id);
  c_i64(&cols, &rec.user_id);
  c_str(&cols, rec.username, sizeof(rec.username));
  c_i64(&cols, &mine);
  c_i64(&cols, &accepted);
  c_str(&cols, rec.display_name, sizeof(rec.display_name));
  if (chat_mysql_run(c, ST_FRIEND_LIST, &p, &cols)) {
    r = chat_mysql_fail(c, "friend list");
    goto out;
  }
  while ((rc = chat_mysql_fetch(c, ST_FRIEND_LIST)) == 1) {
    if (cols_ok(&cols)) {
      chat_log_error("store(mysql): user %lld: bad field",
                     (long long)rec.user_id);
      r = CHAT_EUNAVAIL;
      break;
    }
    rec.state = accepted ? CHAT_FRIEND_ACCEPTED
                : mine   ? CHAT_FRIEND_OUTGOING
                         : CHAT_FRIEND_INCOMING;
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len++] = rec;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, "friend list");
  st_done(c, ST_FRIEND_LIST);
out:
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- moderation ----------------------------------------------------------- */

static int my_user_list(chat_store_t *s, chat_user_rec_t **out, size_t *n) {
  chat_user_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  user_row_t row;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  if (chat_mysql_run(c, ST_USER_LIST, NULL, user_cols(&row))) {
    r = chat_mysql_fail(c, "user list");
    goto out;
  }
  while ((rc = chat_mysql_fetch(c, ST_USER_LIST)) == 1) {
    if (cols_ok(&row.cols)) {
      chat_log_error("store(mysql): user %lld: bad field",
                     (long long)row.rec.id);
      r = CHAT_EUNAVAIL;
      break;
    }
    user_row_done(&row);
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len++] = row.rec;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, "user list");
  st_done(c, ST_USER_LIST);
out:
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int my_user_set_profile(chat_store_t *s, int64_t user_id,
                               const char *display_name,
                               const char *display_key, const char *email) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_str(&p, display_name);
  p_bytes(&p, MYSQL_TYPE_BLOB, display_key, display_key ? strlen(display_key) : 0);
  p_str(&p, email);
  p_i64(&p, user_id);
  return change_one(s, ST_USER_SET_PROFILE, &p, "set profile", WRITE | ONE_ROW);
}

static int my_user_range(chat_store_t *s, int by_display, const char *lo,
                         const char *hi, int limit, chat_user_rec_t **out,
                         size_t *n) {
  int id = by_display ? ST_USER_RANGE_DISPLAY : ST_USER_RANGE_NAME;
  chat_user_rec_t *v = NULL;
  size_t len = 0, cap = 0;
  user_row_t row;
  params_t p;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_bytes(&p, MYSQL_TYPE_BLOB, lo, strlen(lo));
  p_bytes(&p, MYSQL_TYPE_BLOB, hi, strlen(hi));
  p_i64(&p, limit);
  if (chat_mysql_run(c, id, &p, user_cols(&row))) {
    r = chat_mysql_fail(c, "user range");
    goto out;
  }
  while ((rc = chat_mysql_fetch(c, id)) == 1) {
    if (cols_ok(&row.cols)) {
      chat_log_error("store(mysql): user %lld: bad field",
                     (long long)row.rec.id);
      r = CHAT_EUNAVAIL;
      break;
    }
    user_row_done(&row);
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      v = chat_xrealloc(v, cap * sizeof(*v));
    }
    v[len++] = row.rec;
  }
  if (r == 0 && rc < 0) r = chat_mysql_fail(c, "user range");
  st_done(c, id);
out:
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

static int my_user_set_notify(chat_store_t *s, int64_t user_id, int on) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, on);
  p_i64(&p, user_id);
  return change_one(s, ST_USER_SET_NOTIFY, &p, "set notify", WRITE | ONE_ROW);
}

static int my_user_set_phone(chat_store_t *s, int64_t user_id, const char *phone) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_str(&p, phone);
  p_i64(&p, user_id);
  return change_one(s, ST_USER_SET_PHONE, &p, "set phone", WRITE | ONE_ROW);
}

static int my_user_set_webhook_notify(chat_store_t *s, int64_t user_id, int on) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, on);
  p_i64(&p, user_id);
  return change_one(s, ST_USER_SET_WEBHOOK, &p, "set webhook notify", WRITE | ONE_ROW);
}

static int my_msg_get(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                      int64_t *sender_id) {
  msg_row_t row;
  params_t p;
  conn_t *c;
  int rc, r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, id);
  msg6_cols(&row);
  c_i64(&row.cols, &row.sender_id);
  if (chat_mysql_run(c, ST_MSG_GET, &p, &row.cols)) {
    r = chat_mysql_fail(c, "message get");
  } else {
    rc = chat_mysql_fetch(c, ST_MSG_GET);
    if (rc < 0)
      r = chat_mysql_fail(c, "message get");
    else if (rc == 0)
      r = CHAT_ENOTFOUND;
    else
      r = msg6_read(c, ST_MSG_GET, &row, "message get");
    st_done(c, ST_MSG_GET);
  }
  chat_mysql_put(s, c);
  if (r == 0) {
    *out = row.rec;
    *sender_id = row.sender_id;
  }
  return r;
}

static int my_audit(chat_store_t *s, int64_t actor_id, const char *action,
                    const char *target, const char *detail, int64_t now_ms) {
  conn_t *c;
  params_t p;
  int r = chat_mysql_get(s, &c);

  if (r) return r;
  memset(&p, 0, sizeof(p));
  p_i64(&p, actor_id);
  p_str(&p, action);
  p_str(&p, target);
  p_str(&p, detail);
  p_i64(&p, now_ms);
  if (chat_mysql_run(c, ST_AUDIT_INSERT, &p, NULL))
    r = chat_mysql_fail(c, "audit");
  chat_mysql_put(s, c);
  return r;
}

/* --- read markers --------------------------------------------------------- */

static int my_read_mark(chat_store_t *s, int64_t user_id, int64_t room_id,
                        int64_t peer_id, int64_t last_id) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, user_id);
  p_i64(&p, room_id);
  p_i64(&p, peer_id);
  p_i64(&p, last_id);
  p_i64(&p, room_id);
  p_i64(&p, room_id);
  p_i64(&p, peer_id);
  p_i64(&p, peer_id);
  return change_one(s, ST_READ_MARK, &p, "read mark", WRITE | ONE_ROW);
}

static int my_unread(chat_store_t *s, int64_t user_id, chat_unread_rec_t **out,
                     size_t *n) {
  chat_unread_rec_t *v = NULL, e;
  size_t len = 0, cap = 0;
  cols_t cols;
  params_t p;
  conn_t *c;
  int pass, i, rc = 0, r = chat_mysql_get(s, &c);

  if (r) return r;
  /* Rooms (id, marker, count), then peers (id, name, marker, count). */
  for (pass = 0; pass < 2 && r == 0; pass++) {
    int dm = pass == 1, id = dm ? ST_UNREAD_DMS : ST_UNREAD_ROOMS;

    memset(&p, 0, sizeof(p));
    memset(&cols, 0, sizeof(cols));
    memset(&e, 0, sizeof(e));
    for (i = 0; i < (dm ? 4 : 2); i++) p_i64(&p, user_id);
    if (dm) {
      c_i64(&cols, &e.peer_id);
      c_str(&cols, e.peer, sizeof(e.peer));
    } else {
      c_i64(&cols, &e.room_id);
    }
    c_i64(&cols, &e.last_read);
    c_i64(&cols, &e.count);
    if (chat_mysql_run(c, id, &p, &cols)) {
      r = chat_mysql_fail(c, "unread");
      break;
    }
    while ((rc = chat_mysql_fetch(c, id)) == 1) {
      if (cols_ok(&cols)) {
        chat_log_error("store(mysql): unread: bad field");
        r = CHAT_EUNAVAIL;
        break;
      }
      if (e.count == 0) continue;
      if (len == cap) {
        cap = cap ? cap * 2 : 16;
        v = chat_xrealloc(v, cap * sizeof(*v));
      }
      v[len++] = e;
    }
    if (r == 0 && rc < 0) r = chat_mysql_fail(c, "unread");
    st_done(c, id);
  }
  chat_mysql_put(s, c);
  if (r) {
    free(v);
    return r;
  }
  *out = v;
  *n = len;
  return 0;
}

/* --- transaction primitives (backend.h) ---------------------------------- */

typedef struct {
  chat_store_tx_t super;
  conn_t *c;
} my_tx_t;

static conn_t *tx_conn(chat_store_tx_t *tx) {
  return container_of(tx, my_tx_t, super)->c;
}

typedef struct {
  chat_store_t *s;
  chat_store_step_cb step;
  void *arg;
} run_t;

static int run_step(conn_t *c, void *arg) {
  run_t *a = arg;
  my_tx_t tx;

  tx.super.store = a->s;
  tx.c = c;
  return a->step(&tx.super, a->arg);
}

static int my_tx_run(chat_store_t *s, const char *what, chat_store_step_cb step,
                     void *arg) {
  run_t a = {s, step, arg};

  return chat_mysql_tx(s, what, run_step, &a);
}

static int my_tx_user_set_pwhash(chat_store_tx_t *tx, int64_t user_id,
                                 const char *pwhash) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_str(&p, pwhash);
  p_i64(&p, user_id);
  return change(tx_conn(tx), ST_USER_SET_PWHASH, &p, "set password", ONE_ROW);
}

static int my_tx_user_set_banned(chat_store_tx_t *tx, int64_t user_id,
                                 int banned) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, banned);
  p_i64(&p, user_id);
  return change(tx_conn(tx), ST_USER_SET_BANNED, &p, "set banned", ONE_ROW);
}

static int my_tx_sessions_delete(chat_store_tx_t *tx, int64_t user_id,
                                 const uint8_t *keep_token_hash) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, user_id);
  p_hash(&p, keep_token_hash); /* NULL keeps none */
  return change(tx_conn(tx), ST_SESSION_DELETE_OTHERS, &p, "delete sessions",
                0);
}

static int my_tx_sessions_purge(chat_store_tx_t *tx, int64_t user_id,
                                int64_t now_ms) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, user_id);
  p_i64(&p, now_ms);
  return change(tx_conn(tx), ST_SESSION_PURGE_EXPIRED, &p, "purge sessions", 0);
}

static int my_tx_session_insert(chat_store_tx_t *tx, const uint8_t *token_hash,
                                int64_t user_id, int64_t now_ms,
                                int64_t expires_ms) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_hash(&p, token_hash);
  p_i64(&p, user_id);
  p_i64(&p, now_ms);
  p_i64(&p, expires_ms);
  return change(tx_conn(tx), ST_SESSION_INSERT, &p, "session create", WRITE);
}

static int my_tx_msg_delete(chat_store_tx_t *tx, int64_t room_id, int64_t id) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, room_id);
  p_i64(&p, id);
  return change(tx_conn(tx), ST_MSG_DELETE, &p, "message delete", ONE_ROW);
}

static int my_tx_tokens_delete(chat_store_tx_t *tx, int kind, int64_t msg_id) {
  params_t p;
  int dm = kind == CHAT_SEARCH_DM;

  memset(&p, 0, sizeof(p));
  p_i64(&p, dm ? 2 * msg_id : msg_id);
  if (dm) p_i64(&p, 2 * msg_id + 1);
  return change(tx_conn(tx), dm ? ST_FTS_DELETE_DM_MSG : ST_FTS_DELETE_MSG, &p,
                "search index delete", 0);
}

/* The row is read FOR UPDATE.  When there is none, two requests between
 * the same users may both insert: the second waits for the first's commit
 * and fails on the primary key (CHAT_EEXIST). */
static int my_tx_friend_get(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                            int *found, int64_t *requester, int *accepted) {
  conn_t *c = tx_conn(tx);
  int rc = friend_get(c, ST_FRIEND_LOCK, lo, hi, requester, accepted);

  if (rc < 0) return chat_mysql_fail(c, "friend get");
  *found = rc;
  return 0;
}

static int my_tx_friend_insert(chat_store_tx_t *tx, int64_t lo, int64_t hi,
                               int64_t requester, int64_t now_ms) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, lo);
  p_i64(&p, hi);
  p_i64(&p, requester);
  p_i64(&p, now_ms);
  return change(tx_conn(tx), ST_FRIEND_INSERT, &p, "friend request", WRITE);
}

static int my_tx_friend_accept(chat_store_tx_t *tx, int64_t lo, int64_t hi) {
  params_t p;

  memset(&p, 0, sizeof(p));
  p_i64(&p, lo);
  p_i64(&p, hi);
  return change(tx_conn(tx), ST_FRIEND_ACCEPT, &p, "friend accept", 0);
}

const chat_store_ops_t chat_mysql_ops = {
    .kind = "mysql",
    .close = chat_mysql_close,
    .ping = my_ping,
    .write_probe = chat_mysql_write_probe,
    .user_create = my_user_create,
    .user_find = my_user_find,
    .user_by_id = my_user_by_id,
    .session_lookup = my_session_lookup,
    .session_delete = my_session_delete,
    .room_create = my_room_create,
    .room_update = my_room_update,
    .room_delete = my_room_delete,
    .room_get = my_room_get,
    .room_list = my_room_list,
    .room_last_seq = my_room_last_seq,
    .room_seqs = my_room_seqs,
    .msg_insert_batch = chat_mysql_msg_insert_batch,
    .msg_by_seq = my_msg_by_seq,
    .msg_history = my_msg_history,
    .msg_since = my_msg_since,
    .dm_history = my_dm_history,
    .dm_since = my_dm_since,
    .dm_last_id = my_dm_last_id,
    .friend_remove = my_friend_remove,
    .friend_state = my_friend_state,
    .friend_list = my_friend_list,
    .search_match = chat_mysql_search_match,   /* Mroonga (schema 012) */
    .search_unindex = chat_mysql_search_unindex,
    .search_bounds = chat_mysql_search_bounds,
    .search_tail = chat_mysql_search_tail,
    .index_pending = chat_mysql_index_pending,
    .user_list = my_user_list,
    .user_set_notify = my_user_set_notify,
    .user_set_phone = my_user_set_phone,
    .user_set_webhook_notify = my_user_set_webhook_notify,
    .user_set_profile = my_user_set_profile,
    .user_range = my_user_range,
    .msg_get = my_msg_get,
    .audit = my_audit,
    .read_mark = my_read_mark,
    .unread = my_unread,
    .tx_run = my_tx_run,
    .tx_user_set_pwhash = my_tx_user_set_pwhash,
    .tx_user_set_banned = my_tx_user_set_banned,
    .tx_sessions_delete = my_tx_sessions_delete,
    .tx_sessions_purge = my_tx_sessions_purge,
    .tx_session_insert = my_tx_session_insert,
    .tx_msg_delete = my_tx_msg_delete,
    .tx_tokens_delete = my_tx_tokens_delete,
    .tx_friend_get = my_tx_friend_get,
    .tx_friend_insert = my_tx_friend_insert,
    .tx_friend_accept = my_tx_friend_accept,
    /* extras (schema 009) */
    .xq_get = chat_mysql_xq_get,
    .xq_put = chat_mysql_xq_put,
    .xq_tx = chat_mysql_xq_tx,
    .xq = chat_mysql_xq,
    .files = &chat_mysql_files_ops, /* files (schema 008) */
};
