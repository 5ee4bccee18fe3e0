/* The public store interface: argument checks shared by every backend, the
 * choice of backend by url, forwarding through the backend's ops table (see
 * backend.h) or, for the operations that are a sequence of statements, to
 * ops.c, and the search, which is the same for every backend. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ident.h"
#include "../core/text.h"
#include "../core/utf8.h"
#include "backend.h"
#include "files_int.h"
#include "rooms.h"
#include "tokens.h"

/* 1 if s is a string of fewer than cap bytes. */
static int fits(const char *s, size_t cap) {
  return s != NULL && strnlen(s, cap) < cap;
}

/* A user record as the API shows it: the username where no display name
 * was chosen (the backends read "" then). */
static int shown(int rc, chat_user_rec_t *u) {
  if (rc == 0 && u != NULL && u->display_name[0] == '\0')
    snprintf(u->display_name, sizeof(u->display_name), "%s", u->username);
  return rc;
}

static int open_err(char *err, size_t errlen, int rc, const char *msg,
                    const char *arg) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s%s", msg, arg);
  return rc;
}

int chat_store_open(const char *url, int pool_size, chat_store_t **out,
                    char *err, size_t errlen) {
  const char *target;

  if (err != NULL && errlen > 0) err[0] = '\0';
  if (url == NULL || out == NULL || pool_size < 1)
    return open_err(err, errlen, CHAT_EINVAL, "bad store arguments", "");
  *out = NULL;
  /* The url holds a password: never copied into err. */
  if (strncmp(url, "mysql://", 8) == 0)
    return chat_store_mysql_open(url + 8, pool_size, out, err, errlen);
  if (strncmp(url, "mysql:", 6) == 0)
    return open_err(err, errlen, CHAT_EINVAL,
                    "a MySQL url starts with mysql://", "");
  /* "sqlite:PATH" or a bare PATH. */
  target = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
  if (target[0] == '\0')
    return open_err(err, errlen, CHAT_EINVAL, "empty database path in ", url);
  return chat_store_sqlite_open(target, pool_size, out, err, errlen);
}

void chat_store_close(chat_store_t *s) {
  if (s != NULL) s->ops->close(s);
}

const char *chat_store_kind(const chat_store_t *s) { return s->ops->kind; }

int chat_store_ping(chat_store_t *s) { return s->ops->ping(s); }
int chat_store_write_probe(chat_store_t *s) { return s->ops->write_probe(s); }

int chat_store_user_create(chat_store_t *s, const char *username,
                           const char *email, const char *pwhash,
                           chat_role_t role, int64_t now_ms,
                           chat_user_rec_t *out) {
  char key[CHAT_IDENT_KEY_MAX];

  if (email == NULL) email = "";
  if (!fits(username, CHAT_NAME_MAX + 1) || !fits(email, CHAT_EMAIL_MAX) ||
      !fits(pwhash, CHAT_HASH_MAX) ||
      (role != CHAT_ROLE_USER && role != CHAT_ROLE_ADMIN))
    return CHAT_EINVAL;
  if (chat_ident_key(username, strlen(username), key, sizeof(key)) < 0)
    return CHAT_EINVAL;
  if (out != NULL) out->display_name[0] = '\0';
  return shown(s->ops->user_create(s, username, key, email, pwhash, role,
                                   now_ms, out),
               out);
}

int chat_store_user_by_name(chat_store_t *s, const char *username,
                            chat_user_rec_t *out) {
  char key[CHAT_IDENT_KEY_MAX];

  /* A name too long to store cannot name a user. */
  if (!fits(username, CHAT_NAME_MAX + 1)) return CHAT_ENOTFOUND;
  /* A name without a key (not UTF-8) can still match a name exactly. */
  return shown(
      s->ops->user_find(s, username,
                        chat_ident_key(username, strlen(username), key,
                                       sizeof(key)) < 0
                            ? NULL
                            : key,
                        out),
      out);
}

int chat_store_user_by_id(chat_store_t *s, int64_t id, chat_user_rec_t *out) {
  return shown(s->ops->user_by_id(s, id, out), out);
}

int chat_store_user_set_password(chat_store_t *s, int64_t user_id,
                                 const char *pwhash,
                                 const uint8_t *keep_token_hash) {
  if (!fits(pwhash, CHAT_HASH_MAX)) return CHAT_EINVAL;
  return chat_store_op_user_set_password(s, user_id, pwhash, keep_token_hash);
}

int chat_store_session_create(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t user_id, int64_t now_ms,
                              int64_t expires_ms) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return chat_store_op_session_create(s, token_hash, user_id, now_ms,
                                      expires_ms);
}

int chat_store_session_lookup(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t now_ms, chat_user_rec_t *user_out) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return shown(s->ops->session_lookup(s, token_hash, now_ms, user_out),
               user_out);
}

int chat_store_session_delete(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN]) {
  if (token_hash == NULL) return CHAT_EINVAL;
  return s->ops->session_delete(s, token_hash);
}

int chat_store_room_create(chat_store_t *s, const char *name,
                           const char *topic, chat_room_rec_t *out) {
  if (topic == NULL) topic = "";
  if (!fits(name, CHAT_NAME_MAX + 1) || !fits(topic, CHAT_TOPIC_MAX))
    return CHAT_EINVAL;
  return s->ops->room_create(s, name, topic, out);
}

int chat_store_room_update(chat_store_t *s, int64_t id, const char *name,
                           const char *topic, chat_room_rec_t *out) {
  if ((name != NULL && !fits(name, CHAT_NAME_MAX + 1)) ||
      (topic != NULL && !fits(topic, CHAT_TOPIC_MAX)))
    return CHAT_EINVAL;
  return s->ops->room_update(s, id, name, topic, out);
}

int chat_store_room_delete(chat_store_t *s, int64_t id) {
  return s->ops->room_delete(s, id);
}

int chat_store_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out) {
  return s->ops->room_get(s, id, out);
}

int chat_store_room_list(chat_store_t *s, chat_room_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  return s->ops->room_list(s, out, n);
}

int chat_store_room_last_seq(chat_store_t *s, int64_t id, int64_t *out) {
  if (out == NULL) return CHAT_EINVAL;
  return s->ops->room_last_seq(s, id, out);
}

int chat_store_room_seqs(chat_store_t *s, chat_room_seq_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  return s->ops->room_seqs(s, out, n);
}

static int batch_valid(const chat_msg_insert_t *items, size_t n) {
  size_t i;

  if (items == NULL) return 0;
  for (i = 0; i < n; i++) {
    if (items[i].text == NULL ||
        (items[i].cid != NULL && !fits(items[i].cid, CHAT_CID_MAX)) ||
        (items[i].to_id != 0 && items[i].room != 0))
      return 0;
  }
  return 1;
}

int chat_store_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                                size_t n) {
  if (n == 0) return CHAT_OK;
  if (!batch_valid(items, n)) return CHAT_EINVAL;
  return s->ops->msg_insert_batch(s, items, n);
}

int chat_store_msg_insert_batch_nowait(chat_store_t *s, chat_msg_insert_t *items,
                                       size_t n, uint64_t *ticket) {
  *ticket = 0;
  if (n == 0) return CHAT_OK;
  if (!batch_valid(items, n)) return CHAT_EINVAL;
  if (s->ops->msg_insert_batch_nowait == NULL) return s->ops->msg_insert_batch(s, items, n);
  return s->ops->msg_insert_batch_nowait(s, items, n, ticket);
}

int chat_store_durable_wait(chat_store_t *s, uint64_t ticket) {
  return ticket == 0 || s->ops->durable_wait == NULL ? 0 : s->ops->durable_wait(s, ticket);
}

void chat_store_sync_stats(chat_store_t *s, chat_store_sync_stats_t *out) {
  memset(out, 0, sizeof(*out));
  if (s->ops->sync_stats) s->ops->sync_stats(s, out);
}

int chat_store_can_pipeline(const chat_store_t *s) {
  return s->ops->msg_insert_batch_nowait != NULL;
}

/* extras (schema 009) and files (schema 008): a backend's message list
 * read with rc gets each message's extras and files; a failed read of
 * them fails the list (freed, *out NULL). */
static int with_extras(chat_store_t *s, int rc, chat_msg_rec_t **out, size_t *n) {
  if (rc != 0 || *out == NULL) return rc;
  rc = chat_store_extras_fill(s, *out, *n);
  if (rc == 0) rc = chat_store_files_fill(s, *out, *n);
  if (rc != 0) {
    chat_store_msgs_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int chat_store_msg_history(chat_store_t *s, int64_t room, int64_t before_id,
                           int limit, chat_msg_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->msg_history(s, room, before_id, limit, out, n);
  return with_extras(s, rc, out, n);
}

int chat_store_msg_since(chat_store_t *s, int64_t room, int64_t since_id,
                         int limit, chat_msg_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->msg_since(s, room, since_id, limit, out, n);
  return with_extras(s, rc, out, n);
}

int chat_store_msg_by_seq(chat_store_t *s, int64_t room, int64_t from_seq,
                          int64_t to_seq, int limit, chat_msg_rec_t **out,
                          size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  if (from_seq < 1) from_seq = 1;
  if (to_seq <= from_seq) return 0;
  int rc = s->ops->msg_by_seq(s, room, from_seq, to_seq, limit, out, n);
  return with_extras(s, rc, out, n);
}

void chat_store_msgs_free(chat_msg_rec_t *msgs, size_t n) {
  size_t i;

  if (msgs == NULL) return;
  for (i = 0; i < n; i++) {
    free(msgs[i].text);
    free(msgs[i].extra);  /* extras (schema 009) */
    free(msgs[i].files);  /* files (schema 008) */
  }
  free(msgs);
}

/* ---- direct messages ---------------------------------------------------- */

int chat_store_dm_history(chat_store_t *s, int64_t a, int64_t b,
                          int64_t before_id, int limit, chat_msg_rec_t **out,
                          size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->dm_history(s, a, b, before_id, limit, out, n);
  return with_extras(s, rc, out, n);
}

int chat_store_dm_since(chat_store_t *s, int64_t after_id, int limit,
                        chat_msg_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL || limit < 1) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  if (s->ops->dm_since == NULL) return CHAT_EUNAVAIL;
  int rc = s->ops->dm_since(s, after_id, limit, out, n);
  return with_extras(s, rc, out, n);
}

int chat_store_dm_last_id(chat_store_t *s, int64_t *out) {
  if (out == NULL) return CHAT_EINVAL;
  *out = 0;
  if (s->ops->dm_last_id == NULL) return CHAT_EUNAVAIL;
  return s->ops->dm_last_id(s, out);
}

/* ---- friends ------------------------------------------------------------ */

int chat_store_friend_request(chat_store_t *s, int64_t from_id, int64_t to_id,
                              int64_t now_ms, chat_friend_state_t *state_out) {
  chat_friend_state_t st;
  int rc;

  if (from_id == to_id) return CHAT_EINVAL;
  rc = chat_store_op_friend_request(s, from_id, to_id, now_ms, &st);
  if (rc == 0 && state_out != NULL) *state_out = st;
  return rc;
}

int chat_store_friend_remove(chat_store_t *s, int64_t a, int64_t b) {
  if (a == b) return CHAT_OK; /* there is never such a pair */
  return s->ops->friend_remove(s, a, b);
}

int chat_store_friend_state(chat_store_t *s, int64_t a, int64_t b,
                            chat_friend_state_t *out) {
  if (out == NULL) return CHAT_EINVAL;
  if (a == b) {
    *out = CHAT_FRIEND_NONE;
    return CHAT_OK;
  }
  return s->ops->friend_state(s, a, b, out);
}

int chat_store_friend_list(chat_store_t *s, int64_t user_id,
                           chat_friend_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->friend_list(s, user_id, out, n);
  for (size_t i = 0; rc == 0 && i < *n; i++) {
    chat_friend_rec_t *f = &(*out)[i];
    if (f->display_name[0] == '\0')
      snprintf(f->display_name, sizeof(f->display_name), "%s", f->username);
  }
  return rc;
}

/* ---- search --------------------------------------------------------------
 *
 * 1. The query (trimmed) gives up to CHAT_QUERY_TOKENS_MAX tokens
 *    (tokens.h).
 * 2. Per kind (room messages; direct messages when no room is given) the
 *    backend gives the kind's index cursor (the highest id indexed) and the
 *    floor of its tail (backend.h, search_bounds).
 * 3. The tail first: the messages with ids above the cursor have no search
 *    rows yet, so the backend hands them over newest first, in growing
 *    pages, and the text check keeps those that contain the query.  Only
 *    the newest SEARCH_TAIL_MAX of them are checked: when the index lags
 *    further behind (a long burst of messages while the storage actor had
 *    no idle moment to index), older unindexed messages are found once
 *    chat_store_index_pending has reached them.
 * 4. Then the index, for ids up to the cursor: the backend's full-text
 *    engine (SQLite FTS5, sqlite_fts.h; MySQL Mroonga, mysql_search.c)
 *    gives pages of candidates, newest first, straight from the query;
 *    the text check keeps the messages that really contain the query.
 *    Pages grow, so a query whose candidates rarely match (one that ends
 *    up with unigrams, or a long one) still gets through them in few round
 *    trips; the scan ends at limit matches or with the candidates.
 *    Every tail message is newer than every indexed one of its kind, so the
 *    list of a kind is newest first.  Search rows are written in the
 *    transaction that moves the cursor, so the rows of every message up to
 *    the cursor read in step 2 are there, whatever the indexer does
 *    meanwhile.
 * 5. The two kinds have their own id sequences: their lists are merged by
 *    time, newest first. */

#define SEARCH_PAGE_MIN 32
#define SEARCH_PAGE_MAX 1024
#define SEARCH_TAIL_MAX 20000

typedef struct {
  chat_msg_rec_t *v;
  size_t n, cap;
  /* Private rooms (schema 010): room ids the searcher may not read,
   * ascending; their messages are never kept. */
  const int64_t *hide;
  size_t nhide;
} msg_list_t;

/* Moves the messages of v[0..n) that contain q into res, up to limit in
 * all, frees the others and v. */
static void keep_matches(msg_list_t *res, chat_msg_rec_t *v, size_t n,
                         const char *q, size_t qlen, int limit) {
  size_t k;

  for (k = 0; k < n; k++) {
    if (res->n < (size_t)limit &&
        !(v[k].room && chat_store_room_in(res->hide, res->nhide, v[k].room)) &&
        chat_tokens_match(v[k].text, strlen(v[k].text), q, qlen)) {
      if (res->n == res->cap) {
        res->cap = res->cap ? 2 * res->cap : 16;
        res->v = chat_xrealloc(res->v, res->cap * sizeof(*res->v));
      }
      res->v[res->n++] = v[k];
    } else {
      free(v[k].text);
    }
  }
  free(v);
}

/* Step 3: the messages of kind above floor. */
static int search_tail(chat_store_t *s, int kind, int64_t floor,
                       const char *q, size_t qlen, int64_t room_id,
                       int64_t user_id, int limit, msg_list_t *res) {
  int64_t before = INT64_MAX;
  int page = limit < SEARCH_PAGE_MIN ? SEARCH_PAGE_MIN : limit;
  int rc;

  for (;;) {
    chat_msg_rec_t *v = NULL;
    size_t n = 0;

    rc = s->ops->search_tail(s, kind, floor, before, room_id, user_id, page,
                             &v, &n);
    if (rc) return rc;
    if (n > 0) before = v[n - 1].id;
    keep_matches(res, v, n, q, qlen, limit);
    if (res->n == (size_t)limit || n < (size_t)page) return CHAT_OK;
    if (page < SEARCH_PAGE_MAX) page *= 2;
  }
}

static int search_kind(chat_store_t *s, int kind, const char *q, size_t qlen,
                       int64_t room_id, int64_t user_id, int limit,
                       msg_list_t *res) {
  int64_t before, cursor = 0, floor = 0;
  int page = limit < SEARCH_PAGE_MIN ? SEARCH_PAGE_MIN : limit;
  int rc;

  rc = s->ops->search_bounds(s, kind, SEARCH_TAIL_MAX, &cursor, &floor);
  if (rc) return rc;
  rc = search_tail(s, kind, floor, q, qlen, room_id, user_id, limit, res);
  if (rc || res->n == (size_t)limit || cursor <= 0) return rc;
  before = cursor == INT64_MAX ? INT64_MAX : cursor + 1;

  for (;;) {
    chat_msg_rec_t *v = NULL;
    size_t n = 0;

    rc = s->ops->search_match(s, kind, q, qlen, before, room_id, user_id,
                              res->hide, res->nhide, page, &v, &n);
    if (rc) return rc;
    if (n > 0) before = v[n - 1].id;
    keep_matches(res, v, n, q, qlen, limit);
    if (res->n == (size_t)limit || n < (size_t)page) return CHAT_OK;
    if (page < SEARCH_PAGE_MAX) page *= 2;
  }
}

int chat_store_search(chat_store_t *s, int64_t user_id, const char *q,
                      int64_t room_id, int limit, chat_msg_rec_t **out,
                      size_t *n) {
  chat_token_t toks[1];
  msg_list_t rooms = {NULL, 0, 0, NULL, 0}, dms = {NULL, 0, 0, NULL, 0};
  chat_msg_rec_t *v;
  size_t start, qlen, a = 0, b = 0, k = 0;
  int rc;

  if (q == NULL || out == NULL || n == NULL || limit < 1 || room_id < 0)
    return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  chat_text_trim(q, strlen(q), &start, &qlen);
  q += start;
  /* Nothing but white space. */
  if (chat_tokens_query(q, qlen, toks, 1) == 0) return CHAT_EINVAL;

  /* Private rooms (schema 010): never the messages of one the user is not
   * a member of. */
  int64_t *hide = NULL;
  size_t nhide = 0;
  rc = chat_store_room_hidden(s, user_id, &hide, &nhide);
  if (rc) return rc;
  if (room_id && chat_store_room_in(hide, nhide, room_id)) {
    free(hide);
    return CHAT_OK;
  }
  rooms.hide = hide;
  rooms.nhide = nhide;
  rc = search_kind(s, CHAT_SEARCH_ROOM, q, qlen, room_id, user_id, limit,
                   &rooms);
  free(hide);
  if (rc == 0 && room_id == 0)
    rc = search_kind(s, CHAT_SEARCH_DM, q, qlen, 0, user_id, limit, &dms);
  if (rc) {
    chat_store_msgs_free(rooms.v, rooms.n);
    chat_store_msgs_free(dms.v, dms.n);
    return rc;
  }

  /* Each list is newest first; take the newer head (by time, then room
   * messages first) until limit. */
  v = rooms.n + dms.n > 0
          ? chat_xmalloc((rooms.n + dms.n) * sizeof(*v))
          : NULL;
  while (k < (size_t)limit && (a < rooms.n || b < dms.n)) {
    if (b == dms.n || (a < rooms.n && rooms.v[a].ts >= dms.v[b].ts))
      v[k++] = rooms.v[a++];
    else
      v[k++] = dms.v[b++];
  }
  while (a < rooms.n) free(rooms.v[a++].text);
  while (b < dms.n) free(dms.v[b++].text);
  free(rooms.v);
  free(dms.v);
  if (k == 0) {
    free(v);
    v = NULL;
  }
  *out = v;
  *n = k;
  return with_extras(s, CHAT_OK, out, n);  /* extras and files */
}

int chat_store_index_pending(chat_store_t *s, int max, int *done) {
  int d = 0, rc;

  if (done == NULL || max < 1) return CHAT_EINVAL;
  rc = s->ops->index_pending(s, max, &d);
  *done = rc == 0 ? d : 0;
  return rc;
}

/* ---- moderation --------------------------------------------------------- */

int chat_store_user_list(chat_store_t *s, chat_user_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->user_list(s, out, n);
  for (size_t i = 0; rc == 0 && i < *n; i++) shown(0, &(*out)[i]);
  return rc;
}

/* ---- people --------------------------------------------------------------- */

/* s with ASCII A-Z folded to a-z into out (cap bytes); 0, or -1 if it does
 * not fit. */
static int fold_ascii(const char *s, char *out, size_t cap) {
  size_t len = strlen(s);
  if (len >= cap) return -1;
  for (size_t i = 0; i <= len; i++)
    out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
  return 0;
}

int chat_store_user_set_profile(chat_store_t *s, int64_t user_id,
                                const char *display_name, const char *email) {
  char key[CHAT_DISPLAY_NAME_MAX];

  if (display_name != NULL &&
      (!fits(display_name, CHAT_DISPLAY_NAME_MAX) ||
       fold_ascii(display_name, key, sizeof(key)) != 0))
    return CHAT_EINVAL;
  if (email != NULL && !fits(email, CHAT_EMAIL_MAX)) return CHAT_EINVAL;
  if (display_name == NULL && email == NULL) return CHAT_OK;
  return s->ops->user_set_profile(s, user_id, display_name,
                                  display_name ? key : NULL, email);
}

/* Orders by username, ASCII case aside (as the index of names does). */
static int by_username(const void *a, const void *b) {
  const unsigned char *x = (const unsigned char *)((const chat_user_rec_t *)a)->username;
  const unsigned char *y = (const unsigned char *)((const chat_user_rec_t *)b)->username;
  for (;; x++, y++) {
    int cx = (*x >= 'A' && *x <= 'Z') ? *x - 'A' + 'a' : *x;
    int cy = (*y >= 'A' && *y <= 'Z') ? *y - 'A' + 'a' : *y;
    if (cx != cy || cx == 0) return cx - cy;
  }
}

int chat_store_user_search(chat_store_t *s, const char *prefix, int limit,
                           chat_user_rec_t **out, size_t *n) {
  char norm[CHAT_NAME_MAX + 1], lo[CHAT_NAME_MAX + 1], hi[CHAT_NAME_MAX + 2];
  chat_user_rec_t *a = NULL, *b = NULL;
  size_t na = 0, nb = 0, start, len;
  int rc;

  if (prefix == NULL || out == NULL || n == NULL || limit < 1 || limit > 100)
    return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  len = strlen(prefix);
  chat_text_trim(prefix, len, &start, &len);
  if (len == 0 || len > CHAT_NAME_MAX) return len == 0 ? CHAT_EINVAL : CHAT_OK;
  /* No name is longer than CHAT_NAME_MAX bytes: a longer prefix finds
   * nobody (above); one whose NFC form does not fit neither. */
  if (chat_ident_nfc(prefix + start, len, norm, sizeof(norm)) < 0)
    return chat_utf8_valid(prefix, strlen(prefix)) ? CHAT_OK : CHAT_EINVAL;
  fold_ascii(norm, lo, sizeof(lo));
  snprintf(hi, sizeof(hi), "%s\xff", lo);
  rc = s->ops->user_range(s, 0, lo, hi, limit, &a, &na);
  if (rc == 0) rc = s->ops->user_range(s, 1, lo, hi, limit, &b, &nb);
  if (rc != 0) {
    free(a);
    free(b);
    return rc;
  }
  /* The union, without the users both scans found, in username order. */
  a = chat_xrealloc(a, (na + nb + 1) * sizeof(*a));
  for (size_t i = 0; i < nb; i++) {
    size_t k = 0;
    while (k < na && a[k].id != b[i].id) k++;
    if (k == na) a[na++] = b[i];
  }
  free(b);
  for (size_t i = 0; i < na; i++) shown(0, &a[i]);
  qsort(a, na, sizeof(*a), by_username);
  if (na > (size_t)limit) na = (size_t)limit;
  if (na == 0) {
    free(a);
    a = NULL;
  }
  *out = a;
  *n = na;
  return CHAT_OK;
}

int chat_store_user_set_banned(chat_store_t *s, int64_t user_id, int banned) {
  return chat_store_op_user_set_banned(s, user_id, banned != 0);
}

int chat_store_user_set_notify(chat_store_t *s, int64_t user_id, int on) {
  return s->ops->user_set_notify(s, user_id, on != 0);
}

int chat_store_user_set_phone(chat_store_t *s, int64_t user_id, const char *phone) {
  if (phone == NULL || strlen(phone) >= CHAT_PHONE_MAX) return CHAT_EINVAL;
  return s->ops->user_set_phone(s, user_id, phone);
}

int chat_store_user_set_webhook_notify(chat_store_t *s, int64_t user_id, int on) {
  return s->ops->user_set_webhook_notify(s, user_id, on != 0);
}

int chat_store_msg_get(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                       int64_t *sender_id) {
  int64_t sid;
  int rc;

  if (out == NULL) return CHAT_EINVAL;
  rc = s->ops->msg_get(s, id, out, &sid);
  /* extras (schema 009): a tombstone is no message here */
  if (rc == 0) {
    int xr = chat_store_extras_fill(s, out, 1);
    free(out->extra);
    out->extra = NULL;
    if (xr || out->deleted) {
      free(out->text);
      out->text = NULL;
      return xr ? xr : CHAT_ENOTFOUND;
    }
  }
  if (rc == 0 && sender_id != NULL) *sender_id = sid;
  out->files = NULL;  /* files (schema 008): not read here */
  out->nfiles = 0;
  return rc;
}

int chat_store_msg_delete(chat_store_t *s, int64_t room_id, int64_t id) {
  /* extras (schema 009): a tombstone stays */
  return chat_store_extras_tombstone(s, 0, room_id, id);
}

int chat_store_audit(chat_store_t *s, int64_t actor_id, const char *action,
                     const char *target, const char *detail, int64_t now_ms) {
  if (target == NULL) target = "";
  if (detail == NULL) detail = "";
  if (!fits(action, CHAT_AUDIT_ACTION_MAX) || action[0] == '\0' ||
      !fits(target, CHAT_AUDIT_TARGET_MAX) ||
      !fits(detail, CHAT_AUDIT_DETAIL_MAX))
    return CHAT_EINVAL;
  return s->ops->audit(s, actor_id, action, target, detail, now_ms);
}

/* ---- read markers ------------------------------------------------------- */

int chat_store_read_mark(chat_store_t *s, int64_t user_id, int64_t room_id,
                         int64_t peer_id, int64_t last_id) {
  if ((room_id == 0) == (peer_id == 0) || room_id < 0 || peer_id < 0 ||
      last_id < 0)
    return CHAT_EINVAL;
  return s->ops->read_mark(s, user_id, room_id, peer_id, last_id);
}

int chat_store_unread(chat_store_t *s, int64_t user_id,
                      chat_unread_rec_t **out, size_t *n) {
  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  int rc = s->ops->unread(s, user_id, out, n);
  /* extras (schema 009): the mention counts */
  if (rc == 0) rc = chat_store_extras_unread(s, user_id, *out, *n);
  return rc;
}
