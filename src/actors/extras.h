/* Replies, mentions, reactions, edits and recall for rooms and direct
 * messages (docs/PROTOCOL.md, "Replies, mentions, reactions, edits,
 * recall").
 *
 * Two parts:
 *
 * - The preparation of a new message that has a reply_to or an '@' in its
 *   text (chat_extras_needed): on a worker thread (chat_extras_prep_run),
 *   the message replied to is checked (the same room or conversation, not
 *   deleted) and the @names are looked up (core/mention.h; a name glued to
 *   more letters, as in "@张三你好", is tried shorter, down to two
 *   characters).  The result goes into the insert (chat_msg_insert_t's
 *   extras) and into the new message object (extra).  A message without
 *   either costs nothing more.
 *
 * - The frames react, edit and delete of a WebSocket (chat_extras_handle):
 *   checked on the loop (the emoji, the text, the room joined), then a job
 *   on the storage actor (the message is where the frame says, the sender
 *   for edit and delete, then the write), then the frames: for a room the
 *   room actor (room.h) tells its members, every instance and fixes its
 *   cache; for a conversation both users' sockets on every instance get
 *   it (cluster.h), each with "to" naming the other user.
 *
 * Threads: chat_extras_prep_run on a worker; the rest on the loop. */
#ifndef CHAT_ACTORS_EXTRAS_H
#define CHAT_ACTORS_EXTRAS_H

#include <stddef.h>
#include <stdint.h>

#include "../net/proto.h"
#include "../store/store.h"

typedef struct chat_conn_s chat_conn_t;

typedef struct {
  /* in */
  int64_t reply_to;        /* 0: none */
  int64_t room;            /* a room message's room, or 0 */
  int64_t a, b;            /* a direct message's sender and receiver */
  char *text;              /* owned (freed by chat_extras_prep_free) */
  /* out */
  int rc;                  /* 0; CHAT_ENOTFOUND: reply_to is not a message
                              there; CHAT_EUNAVAIL */
  char *mentions;          /* NULL or the JSON array of the names found */
  int64_t *ids;            /* their users */
  size_t nids;
  char *extra;             /* NULL or the extra members of the new
                              message object (net/proto.h) */
} chat_extras_prep_t;

/* 1 if a new message needs chat_extras_prep_run. */
int chat_extras_needed(int64_t reply_to, const char *text, size_t len);
/* Worker thread: fills the outputs of p. */
void chat_extras_prep_run(chat_store_t *store, chat_extras_prep_t *p);
/* Points the insert's extras at p's outputs (p outlives the insert). */
void chat_extras_prep_insert(const chat_extras_prep_t *p, chat_msg_insert_t *ins);
/* Frees what p owns (not p).  NULL-safe. */
void chat_extras_prep_free(chat_extras_prep_t *p);

/* A react, edit or delete frame from connection c (decoded, any field
 * value): answered with an `error` to c, or done and told. */
void chat_extras_handle(chat_conn_t *c, const chat_proto_req_t *req);

#endif
