/* The server's route table: request method + path -> what to do.
 *
 * Paths are matched segment by segment against patterns in which "{id}"
 * stands for a positive decimal integer and "{name}" for any non-empty
 * percent-encoded segment (decoded into the match).  HEAD matches GET
 * routes. */
#ifndef CHAT_NET_ROUTE_H
#define CHAT_NET_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/limits.h"

typedef enum {
  CHAT_ROUTE_NONE = 0,
  CHAT_ROUTE_REGISTER,
  CHAT_ROUTE_LOGIN,
  CHAT_ROUTE_LOGOUT,
  CHAT_ROUTE_ME,
  CHAT_ROUTE_PASSWORD,
  CHAT_ROUTE_ROOMS_LIST,
  CHAT_ROUTE_ROOMS_CREATE,
  CHAT_ROUTE_ROOM_UPDATE,
  CHAT_ROUTE_ROOM_DELETE,
  CHAT_ROUTE_ROOM_MESSAGES,
  CHAT_ROUTE_USERS_ONLINE,
  CHAT_ROUTE_ME_UPDATE,
  CHAT_ROUTE_FRIENDS_LIST,
  CHAT_ROUTE_FRIENDS_ADD,
  CHAT_ROUTE_FRIEND_REMOVE,
  CHAT_ROUTE_DM_MESSAGES,
  CHAT_ROUTE_SEARCH,
  CHAT_ROUTE_ADMIN_USERS,
  CHAT_ROUTE_ADMIN_BAN,
  CHAT_ROUTE_ADMIN_UNBAN,
  CHAT_ROUTE_MESSAGE_DELETE,
  CHAT_ROUTE_READ,
  CHAT_ROUTE_UNREAD,
  CHAT_ROUTE_HEALTHZ,
  CHAT_ROUTE_METRICS,
  CHAT_ROUTE_USERS_SEARCH,
  /* files */
  CHAT_ROUTE_FILES_UPLOAD,
  CHAT_ROUTE_FILE_THUMB,
  CHAT_ROUTE_FILE_GET,
  /* Rooms: membership, private rooms, groups. */
  CHAT_ROUTE_ROOM_MEMBERS,
  CHAT_ROUTE_ROOM_MEMBER_ADD,
  CHAT_ROUTE_ROOM_MEMBER_REMOVE,
  CHAT_ROUTE_ROOM_PIN,
  CHAT_ROUTE_ROOM_UNPIN,
  CHAT_ROUTE_ROOM_SETTINGS,
  CHAT_ROUTE_ROOM_GET,
  CHAT_ROUTE_WS,            /* the last: the one route without an API row */
} chat_route_id_t;

typedef struct {
  chat_route_id_t id;
  int64_t ids[2];        /* the {id} parameters in order */
  char name[CHAT_ROUTE_NAME_MAX]; /* the decoded {name} parameter, NUL-terminated */
  char allow[64];        /* for 405: the methods the path takes */
} chat_route_match_t;

/* Returns 200 with m->id set when a route matches; 404 when the path is not
 * a route (the caller may then try static files for non-API paths); 405
 * with m->allow set when the path is a route but not for this method. */
int chat_route_match(int method, const char *path, size_t len,
                     chat_route_match_t *m);

/* 1 if path starts with "/api/" or is "/api". */
int chat_route_is_api(const char *path, size_t len);

#endif
