/* The DM actor: sends one connection's direct messages, one per connection
 * that has sent any (made by the connection on its first `dm`).
 *
 * State: the direct messages waiting for their check (the receiver exists,
 * the two are friends) and whether a check is running.  Checks run one at
 * a time, so one connection's DMs are stored in the order they were sent.
 * A checked DM goes to the storage actor like a room message (group
 * commit) and comes back here: the sender's connection gets the `ack` (or
 * an `error` with the cid), then the `dm` frame goes to every WebSocket of
 * both users on every instance (cluster.h), and an offline receiver may get
 * a mail (the notifier).
 *
 * Mailbox: chat_dm_post_send.  Replies to the sender go as mail to its
 * connection (conn.h).
 *
 * Teardown: the connection holds the creator's reference and drops it when
 * it closes; each queued DM holds a reference on the sender's connection,
 * and jobs in flight hold the actor, so DMs already sent are stored and
 * delivered even if the sender goes.
 *
 * Threads: loop thread only. */
#ifndef CHAT_ACTORS_DM_H
#define CHAT_ACTORS_DM_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "services.h"

typedef struct chat_dm_s chat_dm_t;
typedef struct chat_conn_s chat_conn_t;

/* The DM actor of user_id (username) with one reference (the caller's). */
chat_dm_t *chat_dm_new(const chat_services_t *svc, int64_t user_id, const char *username);
chat_actor_t *chat_dm_actor(chat_dm_t *d);

/* A dm from connection `from` to the user named `to` (at most
 * CHAT_NAME_MAX bytes): text (len bytes) is trimmed and checked, cid is
 * NULL or a short string.  Strings are copied. */
void chat_dm_post_send(chat_dm_t *d, chat_conn_t *from, const char *to, const char *text,
                       size_t len, const char *cid);
/* The same with reply_to and files.  extras: reply_to (0: none) is a
 * message of the two users' conversation; a bad one is an `error`
 * not_found.  files: the sender's uploads (at most CHAT_FILES_PER_MSG,
 * copied; NULL with nfiles 0 for none; text may then be ""), checked with
 * the receiver. */
void chat_dm_post_send_ex(chat_dm_t *d, chat_conn_t *from, const char *to, const char *text,
                          size_t len, const char *cid, int64_t reply_to, const int64_t *files,
                          size_t nfiles);

#endif
