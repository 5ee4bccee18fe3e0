/* Room membership, private rooms, owners, announcement, pins and mute
 * (rooms.h), written once over the query interface of rooms_int.h. */
#include "rooms.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "rooms_int.h"

/* extras (schema 009): a deleted message stays as a tombstone row; it is
 * no message for pins.  m is the messages table. */
#define NOT_DELETED                                                                  \
  " AND NOT EXISTS (SELECT 1 FROM msg_extras e WHERE e.kind = 0 AND e.msg_id = m.id" \
  " AND e.deleted = 1)"

void chat_rq_rows_add(chat_rq_rows_t *r, int ncols) {
  size_t cells = (r->nrows + 1) * (size_t)ncols;
  r->i = chat_xrealloc(r->i, cells * sizeof(*r->i));
  r->s = chat_xrealloc(r->s, cells * sizeof(*r->s));
  memset(r->i + r->nrows * (size_t)ncols, 0, (size_t)ncols * sizeof(*r->i));
  memset(r->s + r->nrows * (size_t)ncols, 0, (size_t)ncols * sizeof(*r->s));
  r->ncols = ncols;
  r->nrows++;
}

void chat_rq_rows_free(chat_rq_rows_t *r) {
  if (r->s)
    for (size_t k = 0; k < r->nrows * (size_t)r->ncols; k++) free(r->s[k]);
  free(r->i);
  free(r->s);
  memset(r, 0, sizeof(*r));
}

/* NULL for a store that is neither (the unit tests' fake stores). */
static const chat_rq_ops_t *ops_of(chat_store_t *s) {
  const char *kind = chat_store_kind(s);
  if (strcmp(kind, "mysql") == 0) return &chat_mysql_rq_ops;
  if (strcmp(kind, "sqlite") == 0) return &chat_sqlite_rq_ops;
  return NULL;
}

/* run on s's backend; CHAT_EUNAVAIL for a store without membership. */
static int run_on(chat_store_t *s, int write, const char *what, chat_rq_step_cb step,
                  void *arg) {
  const chat_rq_ops_t *ops = ops_of(s);
  return ops ? ops->run(s, write, what, step, arg) : CHAT_EUNAVAIL;
}

static int exec(chat_rq_t *q, const char *sql, const chat_rq_arg_t *args, int nargs,
                const char *cols, chat_rq_rows_t *rows, int64_t *changes) {
  return q->ops->exec(q, "rooms", sql, args, nargs, cols, rows, changes);
}

/* One integer (0 when there is no row). */
static int exec_int(chat_rq_t *q, const char *sql, const chat_rq_arg_t *args, int nargs,
                    int64_t *v, int *found) {
  chat_rq_rows_t r = {0};
  int rc = exec(q, sql, args, nargs, "i", &r, NULL);
  if (rc == 0) {
    *v = r.nrows ? r.i[0] : 0;
    if (found) *found = r.nrows > 0;
  }
  chat_rq_rows_free(&r);
  return rc;
}

static void copy(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }

/* ---- access ------------------------------------------------------------ */

typedef struct {
  int64_t room, user;
  int priv, member, muted;
  int64_t owner;
} access_t;

static int access_step(chat_rq_t *q, void *arg) {
  access_t *a = arg;
  chat_rq_rows_t r = {0};
  chat_rq_arg_t args[] = {RQ_I(a->user), RQ_I(a->user), RQ_I(a->room)};
  int rc = exec(q,
                "SELECT r.visibility, r.owner_id,"
                " (SELECT count(*) FROM room_members m WHERE m.room_id = r.id AND m.user_id = ?),"
                " (SELECT max(m.muted) FROM room_members m WHERE m.room_id = r.id"
                "  AND m.user_id = ?)"
                " FROM rooms r WHERE r.id = ?",
                args, 3, "iiii", &r, NULL);
  if (rc == 0 && r.nrows == 0) rc = CHAT_ENOTFOUND;
  if (rc == 0) {
    a->priv = r.i[0] != 0;
    a->owner = r.i[1];
    a->member = r.i[2] > 0;
    a->muted = r.i[3] != 0;
  }
  chat_rq_rows_free(&r);
  return rc;
}

int chat_store_room_access(chat_store_t *s, int64_t room, int64_t user_id, int *priv,
                           int *member, int *muted, int64_t *owner_id) {
  access_t a = {room, user_id, 0, 0, 0, 0};
  int rc = run_on(s, 0, "room access", access_step, &a);
  if (rc) return rc;
  if (priv) *priv = a.priv;
  if (member) *member = a.member;
  if (muted) *muted = a.muted;
  if (owner_id) *owner_id = a.owner;
  return 0;
}

/* ---- a room as a viewer sees it ---------------------------------------- */

static int info_on(chat_rq_t *q, int64_t room, int64_t viewer, chat_room_info_t *out) {
  chat_rq_rows_t r = {0};
  chat_rq_arg_t args[] = {RQ_I(viewer), RQ_I(viewer), RQ_I(room)};
  int rc = exec(q,
                "SELECT r.id, CASE WHEN r.visibility = 1 THEN r.title ELSE r.name END,"
                " r.topic, r.visibility, r.owner_id, coalesce(u.username, ''), r.announcement,"
                " (SELECT count(*) FROM room_members m WHERE m.room_id = r.id AND m.user_id = ?),"
                " (SELECT max(m.muted) FROM room_members m WHERE m.room_id = r.id"
                "  AND m.user_id = ?)"
                " FROM rooms r LEFT JOIN users u ON u.id = r.owner_id WHERE r.id = ?",
                args, 3, "issiissii", &r, NULL);
  if (rc == 0 && r.nrows == 0) rc = CHAT_ENOTFOUND;
  if (rc) {
    chat_rq_rows_free(&r);
    return rc;
  }
  memset(out, 0, sizeof(*out));
  out->id = r.i[0];
  copy(out->name, sizeof(out->name), r.s[1]);
  copy(out->topic, sizeof(out->topic), r.s[2]);
  out->priv = r.i[3] != 0;
  out->owner_id = r.i[4];
  copy(out->owner, sizeof(out->owner), r.s[5]);
  copy(out->announcement, sizeof(out->announcement), r.s[6]);
  out->member = r.i[7] > 0;
  out->muted = r.i[8] != 0;
  chat_rq_rows_free(&r);

  chat_rq_arg_t pa[] = {RQ_I(room)};
  rc = exec(q,
            "SELECT p.msg_id FROM room_pins p JOIN messages m ON m.id = p.msg_id"
            " AND m.room_id = p.room_id WHERE p.room_id = ?" NOT_DELETED
            " ORDER BY p.pinned_ms, p.msg_id",
            pa, 1, "i", &r, NULL);
  if (rc) return rc;
  for (size_t k = 0; k < r.nrows && out->npinned < CHAT_ROOM_PINS_MAX; k++)
    out->pinned[out->npinned++] = r.i[k];
  chat_rq_rows_free(&r);

  if (out->priv && out->name[0] == '\0') {
    rc = exec(q,
              "SELECT u.username FROM room_members m JOIN users u ON u.id = m.user_id"
              " WHERE m.room_id = ? ORDER BY m.joined_ms, m.user_id LIMIT 5",
              pa, 1, "s", &r, NULL);
    if (rc) return rc;
    for (size_t k = 0; k < r.nrows && out->nnames < CHAT_GROUP_NAMES_MAX; k++)
      copy(out->names[out->nnames++], sizeof(out->names[0]), r.s[k]);
    chat_rq_rows_free(&r);
  }
  return 0;
}

typedef struct {
  int64_t room, viewer;
  chat_room_info_t *out;
} info_t;

static int info_step(chat_rq_t *q, void *arg) {
  info_t *a = arg;
  return info_on(q, a->room, a->viewer, a->out);
}

int chat_store_room_info(chat_store_t *s, int64_t room, int64_t viewer_id,
                         chat_room_info_t *out) {
  info_t a = {room, viewer_id, out};
  return run_on(s, 0, "room info", info_step, &a);
}

typedef struct {
  int64_t user;
  chat_room_info_t *v;
  size_t n;
} list_t;

static int list_step(chat_rq_t *q, void *arg) {
  list_t *a = arg;
  chat_rq_rows_t r = {0};
  chat_rq_arg_t args[] = {RQ_I(a->user)};
  free(a->v);
  a->v = NULL;
  a->n = 0;
  int rc = exec(q,
                "SELECT r.id FROM rooms r WHERE r.visibility = 0 OR EXISTS"
                " (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = ?)"
                " ORDER BY r.id",
                args, 1, "i", &r, NULL);
  if (rc) return rc;
  a->v = chat_xcalloc(r.nrows + 1, sizeof(*a->v));
  for (size_t k = 0; k < r.nrows; k++) {
    rc = info_on(q, r.i[k], a->user, &a->v[a->n]);
    if (rc == CHAT_ENOTFOUND) continue; /* deleted meanwhile */
    if (rc) break;
    a->n++;
  }
  chat_rq_rows_free(&r);
  return rc;
}

int chat_store_room_list_for(chat_store_t *s, int64_t user_id, chat_room_info_t **out,
                             size_t *n) {
  list_t a = {user_id, NULL, 0};
  int rc = run_on(s, 0, "room list", list_step, &a);
  if (rc) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return 0;
}

/* ---- membership -------------------------------------------------------- */

/* Makes user a member of room (with its read marker); *added 1 if new. */
static int member_add_on(chat_rq_t *q, int64_t room, int64_t user, int64_t now, int *added) {
  int64_t ch = 0;
  chat_rq_arg_t args[] = {RQ_I(room), RQ_I(user), RQ_I(now)};
  int rc = exec(q,
                chat_rq_mysql(q) ? "INSERT IGNORE INTO room_members (room_id, user_id, muted,"
                                   " joined_ms) VALUES (?, ?, 0, ?)"
                                 : "INSERT OR IGNORE INTO room_members (room_id, user_id, muted,"
                                   " joined_ms) VALUES (?, ?, 0, ?)",
                args, 3, NULL, NULL, &ch);
  if (rc) return rc;
  *added = ch > 0;
  if (!*added) return 0;
  int64_t last = 0;
  chat_rq_arg_t la[] = {RQ_I(room)};
  rc = exec_int(q, "SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?", la, 1, &last,
                NULL);
  if (rc) return rc;
  chat_rq_arg_t ma[] = {RQ_I(user), RQ_I(room), RQ_I(last)};
  return exec(q,
              chat_rq_mysql(q) ? "INSERT IGNORE INTO read_markers (user_id, room_id, peer_id,"
                                 " last_id) VALUES (?, ?, 0, ?)"
                               : "INSERT OR IGNORE INTO read_markers (user_id, room_id, peer_id,"
                                 " last_id) VALUES (?, ?, 0, ?)",
              ma, 3, NULL, NULL, NULL);
}

static int room_exists_on(chat_rq_t *q, int64_t room, int *priv) {
  int64_t v = 0;
  int found = 0;
  chat_rq_arg_t a[] = {RQ_I(room)};
  int rc = exec_int(q, "SELECT visibility FROM rooms WHERE id = ?", a, 1, &v, &found);
  if (rc) return rc;
  if (!found) return CHAT_ENOTFOUND;
  if (priv) *priv = v != 0;
  return 0;
}

typedef struct {
  int64_t room, user, now;
  int added, is_admin, allowed, priv;
} member_t;

static int member_add_step(chat_rq_t *q, void *arg) {
  member_t *a = arg;
  int rc = room_exists_on(q, a->room, NULL);
  if (rc) return rc;
  return member_add_on(q, a->room, a->user, a->now, &a->added);
}

int chat_store_room_member_add(chat_store_t *s, int64_t room, int64_t user_id,
                               int64_t now_ms, int *added) {
  member_t a = {room, user_id, now_ms, 0, 0, 0, 0};
  int rc = run_on(s, 1, "room member add", member_add_step, &a);
  if (rc == 0 && added) *added = a.added;
  return rc;
}

static int member_remove_step(chat_rq_t *q, void *arg) {
  member_t *a = arg;
  int64_t ch = 0;
  chat_rq_arg_t args[] = {RQ_I(a->room), RQ_I(a->user)};
  int rc = exec(q, "DELETE FROM room_members WHERE room_id = ? AND user_id = ?", args, 2, NULL,
                NULL, &ch);
  if (rc) return rc;
  if (ch == 0) return CHAT_ENOTFOUND;
  chat_rq_arg_t ma[] = {RQ_I(a->user), RQ_I(a->room)};
  rc = exec(q, "DELETE FROM read_markers WHERE user_id = ? AND room_id = ? AND peer_id = 0", ma,
            2, NULL, NULL, NULL);
  if (rc) return rc;
  int64_t next = 0;
  chat_rq_arg_t na[] = {RQ_I(a->room)};
  rc = exec_int(q,
                "SELECT user_id FROM room_members WHERE room_id = ?"
                " ORDER BY joined_ms, user_id LIMIT 1",
                na, 1, &next, NULL);
  if (rc) return rc;
  chat_rq_arg_t oa[] = {RQ_I(next), RQ_I(a->room), RQ_I(a->user)};
  return exec(q, "UPDATE rooms SET owner_id = ? WHERE id = ? AND owner_id = ?", oa, 3, NULL,
              NULL, NULL);
}

int chat_store_room_member_remove(chat_store_t *s, int64_t room, int64_t user_id) {
  member_t a = {room, user_id, 0, 0, 0, 0, 0};
  return run_on(s, 1, "room member remove", member_remove_step, &a);
}

static int join_step(chat_rq_t *q, void *arg) {
  member_t *a = arg;
  int rc = room_exists_on(q, a->room, &a->priv);
  if (rc) return rc;
  a->added = 0;
  if (!a->priv) {
    a->allowed = 1;
    return member_add_on(q, a->room, a->user, a->now, &a->added);
  }
  int64_t n = 0;
  chat_rq_arg_t args[] = {RQ_I(a->room), RQ_I(a->user)};
  rc = exec_int(q, "SELECT count(*) FROM room_members WHERE room_id = ? AND user_id = ?", args, 2,
                &n, NULL);
  if (rc) return rc;
  a->allowed = n > 0 || a->is_admin;
  return 0;
}

int chat_store_room_join_check(chat_store_t *s, int64_t room, int64_t user_id, int is_admin,
                               int64_t now_ms, int *allowed, int *priv) {
  member_t a = {room, user_id, now_ms, 0, is_admin, 0, 0};
  if (ops_of(s) == NULL) {
    /* A store without membership (a unit test's fake): every room is a
     * public room that everyone may join. */
    *allowed = 1;
    if (priv) *priv = 0;
    return 0;
  }
  int rc = run_on(s, 1, "room join", join_step, &a);
  if (rc) return rc;
  *allowed = a.allowed;
  if (priv) *priv = a.priv;
  return 0;
}

typedef struct {
  int64_t room;
  chat_room_member_t *v;
  size_t n;
} members_t;

static int members_step(chat_rq_t *q, void *arg) {
  members_t *a = arg;
  chat_rq_rows_t r = {0};
  chat_rq_arg_t args[] = {RQ_I(a->room)};
  int rc = exec(q,
                "SELECT u.id, u.username, u.display_name,"
                " CASE WHEN r.owner_id = u.id THEN 1 ELSE 0 END"
                " FROM room_members m JOIN users u ON u.id = m.user_id"
                " JOIN rooms r ON r.id = m.room_id"
                " WHERE m.room_id = ? ORDER BY m.joined_ms, m.user_id",
                args, 1, "issi", &r, NULL);
  if (rc) return rc;
  free(a->v);
  a->v = chat_xcalloc(r.nrows + 1, sizeof(*a->v));
  a->n = r.nrows;
  for (size_t k = 0; k < r.nrows; k++) {
    a->v[k].user_id = r.i[k * 4];
    copy(a->v[k].username, sizeof(a->v[k].username), r.s[k * 4 + 1]);
    copy(a->v[k].display_name, sizeof(a->v[k].display_name),
         r.s[k * 4 + 2][0] ? r.s[k * 4 + 2] : r.s[k * 4 + 1]);
    a->v[k].owner = r.i[k * 4 + 3] != 0;
  }
  chat_rq_rows_free(&r);
  return 0;
}

int chat_store_room_members(chat_store_t *s, int64_t room, chat_room_member_t **out,
                            size_t *n) {
  members_t a = {room, NULL, 0};
  int rc = run_on(s, 0, "room members", members_step, &a);
  if (rc) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return 0;
}

/* ---- creating and changing rooms --------------------------------------- */

typedef struct {
  const char *name, *topic;
  int priv;
  int64_t owner;
  const int64_t *members;
  size_t nmembers;
  int64_t now, id;
} create_t;

static int create_step(chat_rq_t *q, void *arg) {
  create_t *a = arg;
  char key[CHAT_TOKEN_CHARS + 3];
  if (a->priv) {
    /* An internal unique name (see schema 010): never a valid room name. */
    char tok[CHAT_TOKEN_CHARS + 1];
    chat_auth_new_token(tok);
    snprintf(key, sizeof(key), "\x01p%.24s", tok);
  }
  chat_rq_arg_t args[] = {RQ_S(a->priv ? key : a->name), RQ_S(a->topic), RQ_I(a->now),
                          RQ_I(a->priv), RQ_I(a->owner), RQ_S(a->priv ? a->name : "")};
  int rc = exec(q,
                "INSERT INTO rooms (name, topic, created_ms, visibility, owner_id, title,"
                " announcement) VALUES (?, ?, ?, ?, ?, ?, '')",
                args, 6, NULL, NULL, NULL);
  if (rc) return rc;
  rc = exec_int(q, chat_rq_mysql(q) ? "SELECT LAST_INSERT_ID()" : "SELECT last_insert_rowid()",
                NULL, 0, &a->id, NULL);
  if (rc) return rc;
  int added;
  if (a->owner) {
    rc = member_add_on(q, a->id, a->owner, a->now, &added);
    if (rc) return rc;
  }
  for (size_t i = 0; i < a->nmembers; i++) {
    if (a->members[i] == a->owner) continue;
    /* Later than the owner: the owner stays the oldest member. */
    rc = member_add_on(q, a->id, a->members[i], a->now + 1, &added);
    if (rc == CHAT_ENOTFOUND) rc = 0;
    if (rc) return rc;
  }
  return 0;
}

int chat_store_room_create_owned(chat_store_t *s, const char *name, const char *topic,
                                 int priv, int64_t owner_id, const int64_t *member_ids,
                                 size_t nmembers, int64_t now_ms, int64_t *id_out) {
  if (name == NULL || topic == NULL || (!priv && name[0] == '\0')) return CHAT_EINVAL;
  create_t a = {name, topic, priv, owner_id, member_ids, nmembers, now_ms, 0};
  int rc = run_on(s, 1, "room create", create_step, &a);
  if (rc == 0) *id_out = a.id;
  return rc;
}

typedef struct {
  int64_t room;
  const char *name, *topic, *announcement;
} patch_t;

static int patch_step(chat_rq_t *q, void *arg) {
  patch_t *a = arg;
  int priv = 0;
  int rc = room_exists_on(q, a->room, &priv);
  if (rc) return rc;
  if (a->name) {
    chat_rq_arg_t args[] = {RQ_S(a->name), RQ_I(a->room)};
    rc = exec(q,
              priv ? "UPDATE rooms SET title = ? WHERE id = ?"
                   : "UPDATE rooms SET name = ? WHERE id = ?",
              args, 2, NULL, NULL, NULL);
    if (rc) return rc;
  }
  if (a->topic) {
    chat_rq_arg_t args[] = {RQ_S(a->topic), RQ_I(a->room)};
    rc = exec(q, "UPDATE rooms SET topic = ? WHERE id = ?", args, 2, NULL, NULL, NULL);
    if (rc) return rc;
  }
  if (a->announcement) {
    chat_rq_arg_t args[] = {RQ_S(a->announcement), RQ_I(a->room)};
    rc = exec(q, "UPDATE rooms SET announcement = ? WHERE id = ?", args, 2, NULL, NULL, NULL);
  }
  return rc;
}

int chat_store_room_patch(chat_store_t *s, int64_t room, const char *name, const char *topic,
                          const char *announcement) {
  patch_t a = {room, name, topic, announcement};
  return run_on(s, 1, "room patch", patch_step, &a);
}

/* ---- pins, mute, search ------------------------------------------------ */

typedef struct {
  int64_t room, msg, now;
} pin_t;

static int pin_step(chat_rq_t *q, void *arg) {
  pin_t *a = arg;
  int64_t n = 0;
  chat_rq_arg_t ma[] = {RQ_I(a->msg), RQ_I(a->room)};
  int rc = exec_int(q, "SELECT count(*) FROM messages m WHERE m.id = ? AND m.room_id = ?" NOT_DELETED,
                    ma, 2, &n, NULL);
  if (rc) return rc;
  if (n == 0) return CHAT_ENOTFOUND;
  chat_rq_arg_t pa[] = {RQ_I(a->room), RQ_I(a->msg)};
  rc = exec_int(q, "SELECT count(*) FROM room_pins WHERE room_id = ? AND msg_id = ?", pa, 2, &n,
                NULL);
  if (rc || n > 0) return rc;
  chat_rq_arg_t ca[] = {RQ_I(a->room)};
  rc = exec_int(q,
                "SELECT count(*) FROM room_pins p JOIN messages m ON m.id = p.msg_id"
                " AND m.room_id = p.room_id WHERE p.room_id = ?" NOT_DELETED,
                ca, 1, &n, NULL);
  if (rc) return rc;
  if (n >= CHAT_ROOM_PINS_MAX) return CHAT_EAGAIN;
  /* A pin of a deleted message may be left over: it is replaced. */
  chat_rq_arg_t ia[] = {RQ_I(a->room), RQ_I(a->msg), RQ_I(a->now)};
  return exec(q, "INSERT INTO room_pins (room_id, msg_id, pinned_ms) VALUES (?, ?, ?)", ia, 3,
              NULL, NULL, NULL);
}

int chat_store_room_pin(chat_store_t *s, int64_t room, int64_t msg, int64_t now_ms) {
  pin_t a = {room, msg, now_ms};
  return run_on(s, 1, "room pin", pin_step, &a);
}

static int unpin_step(chat_rq_t *q, void *arg) {
  pin_t *a = arg;
  int64_t ch = 0;
  chat_rq_arg_t args[] = {RQ_I(a->room), RQ_I(a->msg)};
  int rc = exec(q, "DELETE FROM room_pins WHERE room_id = ? AND msg_id = ?", args, 2, NULL, NULL,
                &ch);
  if (rc == 0 && ch == 0) rc = CHAT_ENOTFOUND;
  return rc;
}

int chat_store_room_unpin(chat_store_t *s, int64_t room, int64_t msg) {
  pin_t a = {room, msg, 0};
  return run_on(s, 1, "room unpin", unpin_step, &a);
}

static int mute_step(chat_rq_t *q, void *arg) {
  member_t *a = arg;
  int64_t n = 0;
  chat_rq_arg_t ca[] = {RQ_I(a->room), RQ_I(a->user)};
  int rc = exec_int(q, "SELECT count(*) FROM room_members WHERE room_id = ? AND user_id = ?", ca,
                    2, &n, NULL);
  if (rc) return rc;
  if (n == 0) return CHAT_ENOTFOUND;
  chat_rq_arg_t args[] = {RQ_I(a->allowed), RQ_I(a->room), RQ_I(a->user)};
  return exec(q, "UPDATE room_members SET muted = ? WHERE room_id = ? AND user_id = ?", args, 3,
              NULL, NULL, NULL);
}

int chat_store_room_set_muted(chat_store_t *s, int64_t room, int64_t user_id, int muted) {
  member_t a = {room, user_id, 0, 0, 0, muted ? 1 : 0, 0};
  return run_on(s, 1, "room mute", mute_step, &a);
}

typedef struct {
  int64_t user;
  int64_t *v;
  size_t n;
} hidden_t;

static int hidden_step(chat_rq_t *q, void *arg) {
  hidden_t *a = arg;
  chat_rq_rows_t r = {0};
  chat_rq_arg_t args[] = {RQ_I(a->user)};
  int rc = exec(q,
                "SELECT r.id FROM rooms r WHERE r.visibility = 1 AND NOT EXISTS"
                " (SELECT 1 FROM room_members m WHERE m.room_id = r.id AND m.user_id = ?)"
                " ORDER BY r.id",
                args, 1, "i", &r, NULL);
  if (rc) return rc;
  free(a->v);
  a->v = chat_xcalloc(r.nrows + 1, sizeof(*a->v));
  a->n = r.nrows;
  for (size_t k = 0; k < r.nrows; k++) a->v[k] = r.i[k];
  chat_rq_rows_free(&r);
  return 0;
}

int chat_store_room_hidden(chat_store_t *s, int64_t user_id, int64_t **out, size_t *n) {
  hidden_t a = {user_id, NULL, 0};
  if (ops_of(s) == NULL) { /* a store without private rooms (a test fake) */
    *out = NULL;
    *n = 0;
    return 0;
  }
  int rc = run_on(s, 0, "room hidden", hidden_step, &a);
  if (rc) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return 0;
}
