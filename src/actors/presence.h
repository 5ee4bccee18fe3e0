/* Presence and fan-out: who is online, who is in which room, and the events
 * other chatd instances must hear about.
 *
 * An interface with two implementations: in-process (a single chatd,
 * chat_presence_local_new) and Redis (several chatd instances sharing one
 * Redis, chat_presence_redis_new).  The server and the room actors report
 * their own users' comings and goings; presence answers with events:
 *
 * - on_online(user, online): a user went online or offline (anywhere).
 * - on_event(room, json): a frame for the local members of a room (room 0:
 *   a server-wide event).  Room presence frames ({"type":"presence",...})
 *   always come this way, also in a single instance, because only presence
 *   knows whether a user's join is the first anywhere (or a leave the
 *   last).  Frames another instance published with publish() come this way
 *   too; an instance never gets its own publish() back.
 *
 * Queries answer from what this process knows (for Redis: a mirror of the
 * shared state kept by pub/sub and a periodic resync).  While Redis is
 * unreachable the Redis implementation serves local presence and catches
 * up when Redis is back.  Loop thread only; events are delivered from
 * within the calls or later, never from another thread. */
#ifndef CHAT_ACTORS_PRESENCE_H
#define CHAT_ACTORS_PRESENCE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../core/imap.h"

typedef struct chat_presence_s chat_presence_t;

typedef void (*chat_presence_online_cb)(void *ud, int64_t user_id,
                                        const char *username, int online);
typedef void (*chat_presence_event_cb)(void *ud, int64_t room_id,
                                       const char *json, size_t len);
typedef void (*chat_presence_each_cb)(void *ud, int64_t user_id,
                                      const char *username);
/* The newest messages of a room as JSON objects, oldest first; n == 0 and
 * ok == 0 when the shared list cannot answer (then ask the store).  members
 * are the usernames present in the room on any instance (nmembers may be 0
 * when unknown). */
typedef void (*chat_presence_recent_cb)(void *ud, int ok, char **objs,
                                        size_t *lens, size_t n, char **members,
                                        size_t nmembers);

typedef struct {
  /* A connection of the user opened / closed on this instance. */
  void (*connect)(chat_presence_t *p, int64_t user_id, const char *username);
  void (*disconnect)(chat_presence_t *p, int64_t user_id);
  /* The user's first connection on this instance joined the room / its
   * last one here left. */
  void (*room_join)(chat_presence_t *p, int64_t room_id, int64_t user_id,
                    const char *username);
  void (*room_leave)(chat_presence_t *p, int64_t room_id, int64_t user_id,
                     const char *username);
  /* Users in the room now. */
  size_t (*room_count)(chat_presence_t *p, int64_t room_id);
  /* 1 if the user has a connection on any instance. */
  int (*is_online)(chat_presence_t *p, int64_t user_id);
  /* Calls each for every online user, ordered by username. */
  void (*online_users)(chat_presence_t *p, chat_presence_each_cb each, void *ud);
  /* Sends a frame to the other instances (room 0: server-wide). */
  void (*publish)(chat_presence_t *p, int64_t room_id, const char *json, size_t len);
  /* Adds a stored message (its JSON object) to the room's shared list. */
  void (*recent_push)(chat_presence_t *p, int64_t room_id, const char *obj, size_t len);
  /* Asks the shared list for the newest messages; cb runs exactly once
   * (maybe later).  seed: the store's newest messages, to fill the shared
   * list when it could not answer. */
  void (*recent_load)(chat_presence_t *p, int64_t room_id, chat_presence_recent_cb cb,
                      void *ud);
  void (*recent_seed)(chat_presence_t *p, int64_t room_id, char **objs, size_t *lens,
                      size_t n);
  /* The room was deleted: forget what is shared about it. */
  void (*room_forget)(chat_presence_t *p, int64_t room_id);
  /* A message of the room was deleted: the shared list may hold it. */
  void (*recent_doubt)(chat_presence_t *p, int64_t room_id);
  /* 1 if several instances share this presence (messages committed
   * elsewhere arrive through it, and a publish can be lost with its
   * instance: the room directory then checks rooms' last_seq, roomdir.h). */
  int (*shared)(chat_presence_t *p);
  /* "off", "ok" or "down": the state of a shared backend. */
  const char *(*backend_state)(chat_presence_t *p);
  /* Closes what it opened, then calls done (maybe at once) and frees p. */
  void (*close)(chat_presence_t *p, void (*done)(void *ud), void *ud);
} chat_presence_ops_t;

struct chat_presence_s {
  const chat_presence_ops_t *ops;
  chat_presence_online_cb on_online;
  chat_presence_event_cb on_event;
  void *ud;
  /* Optional (NULL: none), set by the owner after creation: the shared
   * backend went down (up 0) or answers again (up 1), called with ud from
   * within the state change (Redis implementation only). */
  void (*on_backend)(void *ud, int up);
};

/* In-process presence for a single chatd. */
chat_presence_t *chat_presence_local_new(chat_presence_online_cb on_online,
                                         chat_presence_event_cb on_event, void *ud);

/* Redis presence shared by several chatd instances (url redis://host:port/db).
 * Returns NULL with err set for a bad URL; otherwise connects in the
 * background (and keeps serving local presence until Redis answers). */
chat_presence_t *chat_presence_redis_new(uv_loop_t *loop, const char *url,
                                         chat_presence_online_cb on_online,
                                         chat_presence_event_cb on_event, void *ud,
                                         char *err, size_t errlen);

/* For the implementations. */

/* Calls each for every entry of users (user id -> value), ordered by the
 * name that name_of finds in the value. */
void chat_presence_each_by_name(const chat_imap_t *users, const char *(*name_of)(void *val),
                                chat_presence_each_cb each, void *ud);
/* Hands p->on_event the room presence frame of username's join (join 1) or
 * leave (join 0) in room_id (net/proto.h's chat_proto_presence). */
void chat_presence_emit_room(chat_presence_t *p, int64_t room_id, const char *username,
                             int join);

#endif
