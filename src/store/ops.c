/* The store operations that are only a sequence of statements in one
 * transaction, written once for every backend: each is a step (see
 * "transactions" in backend.h) over the backend's tx_* primitives, run by
 * its tx_run, which also runs it again after a lost lock conflict.
 * Arguments are checked by store.c. */
#include <stdlib.h>

#include "backend.h"

#define OPS(tx) ((tx)->store->ops)

/* ---- password change ---------------------------------------------------- */

typedef struct {
  int64_t user_id;
  const char *pwhash;
  const uint8_t *keep;
} set_password_t;

static int set_password_step(chat_store_tx_t *tx, void *arg) {
  set_password_t *a = arg;
  int r = OPS(tx)->tx_user_set_pwhash(tx, a->user_id, a->pwhash);

  return r ? r : OPS(tx)->tx_sessions_delete(tx, a->user_id, a->keep);
}

int chat_store_op_user_set_password(chat_store_t *s, int64_t user_id,
                                    const char *pwhash,
                                    const uint8_t *keep_token_hash) {
  set_password_t a = {user_id, pwhash, keep_token_hash};

  return s->ops->tx_run(s, "set password", set_password_step, &a);
}

/* ---- sessions ----------------------------------------------------------- */

typedef struct {
  const uint8_t *token_hash;
  int64_t user_id, now_ms, expires_ms;
} session_create_t;

/* Also drops the user's expired sessions, which nothing else removes: a
 * user's login keeps their own rows bounded. */
static int session_create_step(chat_store_tx_t *tx, void *arg) {
  session_create_t *a = arg;
  int r = OPS(tx)->tx_sessions_purge(tx, a->user_id, a->now_ms);

  return r ? r
           : OPS(tx)->tx_session_insert(tx, a->token_hash, a->user_id,
                                        a->now_ms, a->expires_ms);
}

int chat_store_op_session_create(chat_store_t *s, const uint8_t *token_hash,
                                 int64_t user_id, int64_t now_ms,
                                 int64_t expires_ms) {
  session_create_t a = {token_hash, user_id, now_ms, expires_ms};

  return s->ops->tx_run(s, "session create", session_create_step, &a);
}

/* ---- friend requests ---------------------------------------------------- */

typedef struct {
  int64_t from_id, to_id, now_ms;
  chat_friend_state_t state; /* out */
} friend_request_t;

/* The state machine of a pair: no row, a request (by requester), or
 * friends.  A request to someone who had asked accepts; a repeated request
 * or one between friends changes nothing.  The row is read locked
 * (tx_friend_get), so two requests between the same users take turns; when
 * there is no row yet both may try to insert it, and the second, finding
 * it taken, runs again and reads it.  A missing user fails the insert (a
 * row only exists while both users do). */
static int friend_request_step(chat_store_tx_t *tx, void *arg) {
  friend_request_t *a = arg;
  int64_t lo = a->from_id < a->to_id ? a->from_id : a->to_id;
  int64_t hi = a->from_id < a->to_id ? a->to_id : a->from_id;
  int64_t requester = 0;
  int found = 0, accepted = 0, r;

  r = OPS(tx)->tx_friend_get(tx, lo, hi, &found, &requester, &accepted);
  if (r) return r;
  if (!found) {
    r = OPS(tx)->tx_friend_insert(tx, lo, hi, a->from_id, a->now_ms);
    if (r == CHAT_EEXIST) return CHAT_STORE_RETRY;
    a->state = CHAT_FRIEND_OUTGOING;
  } else if (!accepted && requester == a->to_id) {
    r = OPS(tx)->tx_friend_accept(tx, lo, hi);
    a->state = CHAT_FRIEND_ACCEPTED;
  } else { /* already asked, or already friends */
    a->state = accepted                  ? CHAT_FRIEND_ACCEPTED
               : requester == a->from_id ? CHAT_FRIEND_OUTGOING
                                         : CHAT_FRIEND_INCOMING;
  }
  return r;
}

int chat_store_op_friend_request(chat_store_t *s, int64_t from_id,
                                 int64_t to_id, int64_t now_ms,
                                 chat_friend_state_t *state_out) {
  friend_request_t a = {from_id, to_id, now_ms, CHAT_FRIEND_NONE};
  int r = s->ops->tx_run(s, "friend request", friend_request_step, &a);

  if (r == 0) *state_out = a.state;
  return r;
}

/* ---- moderation --------------------------------------------------------- */

typedef struct {
  int64_t user_id;
  int banned;
} set_banned_t;

/* A ban ends every session of the user with it. */
static int set_banned_step(chat_store_tx_t *tx, void *arg) {
  set_banned_t *a = arg;
  int r = OPS(tx)->tx_user_set_banned(tx, a->user_id, a->banned);

  if (r || !a->banned) return r;
  return OPS(tx)->tx_sessions_delete(tx, a->user_id, NULL);
}

int chat_store_op_user_set_banned(chat_store_t *s, int64_t user_id,
                                  int banned) {
  set_banned_t a = {user_id, banned};

  return s->ops->tx_run(s, "set banned", set_banned_step, &a);
}

typedef struct {
  int64_t room_id, id;
} msg_delete_t;

/* The message's search rows (none if it was not indexed yet), then the
 * message: an index may need its text to remove them. */
static int msg_delete_step(chat_store_tx_t *tx, void *arg) {
  msg_delete_t *a = arg;
  int r = OPS(tx)->tx_tokens_delete(tx, CHAT_SEARCH_ROOM, a->id);

  return r ? r : OPS(tx)->tx_msg_delete(tx, a->room_id, a->id);
}

int chat_store_op_msg_delete(chat_store_t *s, int64_t room_id, int64_t id) {
  msg_delete_t a = {room_id, id};

  return s->ops->tx_run(s, "message delete", msg_delete_step, &a);
}

/* ---- per-room sequences of a message batch ------------------------------ */

static int cmp_seq_room(const void *a, const void *b) {
  int64_t x = ((const chat_store_seq_room_t *)a)->room;
  int64_t y = ((const chat_store_seq_room_t *)b)->room;

  return x < y ? -1 : x > y;
}

chat_store_seq_room_t *chat_store_seq_plan(const chat_msg_insert_t *items,
                                           size_t n, const uint8_t *want,
                                           size_t *nrooms) {
  chat_store_seq_room_t *v = NULL;
  size_t i, len = 0, k = 0;

  for (i = 0; i < n; i++) {
    if (items[i].to_id != 0 || (want != NULL && !want[i])) continue;
    if (v == NULL) v = chat_xcalloc(n, sizeof(*v));
    v[len].room = items[i].room;
    v[len].k = 1;
    len++;
  }
  if (len > 1) qsort(v, len, sizeof(*v), cmp_seq_room);
  /* Merge the repeats, adding up their counts. */
  for (i = 0; i < len; i++) {
    if (k > 0 && v[k - 1].room == v[i].room)
      v[k - 1].k += v[i].k;
    else
      v[k++] = v[i];
  }
  *nrooms = k;
  return v;
}

chat_store_seq_room_t *chat_store_seq_find(chat_store_seq_room_t *v, size_t n,
                                           int64_t room) {
  chat_store_seq_room_t key = {.room = room};

  return n ? bsearch(&key, v, n, sizeof(*v), cmp_seq_room) : NULL;
}
