/* Presence: who is online and how many users each room has.
 *
 * An interface with one implementation now (in-process, this file's
 * chat_presence_local_new) and room for another (Redis, shared by several
 * chatd instances) behind the same operations.  The server reports its own
 * users' comings and goings; presence tells it, through on_online, when a
 * user goes online or offline anywhere, so it can send `online` frames.
 * Queries answer from what this process knows (for a shared backend: its
 * mirror of the shared state).  Loop thread only. */
#ifndef CHAT_ACTORS_PRESENCE_H
#define CHAT_ACTORS_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

typedef struct chat_presence_s chat_presence_t;

typedef void (*chat_presence_online_cb)(void *ud, int64_t user_id,
                                        const char *username, int online);
typedef void (*chat_presence_each_cb)(void *ud, int64_t user_id,
                                      const char *username);

typedef struct {
  /* A connection of the user opened / closed on this instance. */
  void (*connect)(chat_presence_t *p, int64_t user_id, const char *username);
  void (*disconnect)(chat_presence_t *p, int64_t user_id);
  /* The user's first connection joined the room / its last one left. */
  void (*room_join)(chat_presence_t *p, int64_t room_id, int64_t user_id);
  void (*room_leave)(chat_presence_t *p, int64_t room_id, int64_t user_id);
  /* Users in the room now. */
  size_t (*room_count)(chat_presence_t *p, int64_t room_id);
  /* Calls each for every online user, ordered by username. */
  void (*online_users)(chat_presence_t *p, chat_presence_each_cb each, void *ud);
  /* "off", "ok" or "down": the state of a shared backend. */
  const char *(*backend_state)(chat_presence_t *p);
  void (*free)(chat_presence_t *p);
} chat_presence_ops_t;

struct chat_presence_s {
  const chat_presence_ops_t *ops;
  chat_presence_online_cb on_online;
  void *ud;
};

/* In-process presence for a single chatd. */
chat_presence_t *chat_presence_local_new(chat_presence_online_cb on_online, void *ud);

#endif
