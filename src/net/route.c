#include "route.h"

#include <llhttp.h>
#include <string.h>

#include "../core/pct.h"

typedef struct {
  int method;
  const char *pattern;
  chat_route_id_t id;
} route_t;

static const route_t routes[] = {
    {HTTP_POST, "/api/register", CHAT_ROUTE_REGISTER},
    {HTTP_POST, "/api/login", CHAT_ROUTE_LOGIN},
    {HTTP_POST, "/api/logout", CHAT_ROUTE_LOGOUT},
    {HTTP_GET, "/api/me", CHAT_ROUTE_ME},
    {HTTP_POST, "/api/password", CHAT_ROUTE_PASSWORD},
    {HTTP_GET, "/api/rooms", CHAT_ROUTE_ROOMS_LIST},
    {HTTP_POST, "/api/rooms", CHAT_ROUTE_ROOMS_CREATE},
    {HTTP_PATCH, "/api/rooms/{id}", CHAT_ROUTE_ROOM_UPDATE},
    {HTTP_DELETE, "/api/rooms/{id}", CHAT_ROUTE_ROOM_DELETE},
    {HTTP_GET, "/api/rooms/{id}/messages", CHAT_ROUTE_ROOM_MESSAGES},
    {HTTP_GET, "/api/users/online", CHAT_ROUTE_USERS_ONLINE},
    {HTTP_GET, "/api/users", CHAT_ROUTE_USERS_SEARCH},
    {HTTP_PATCH, "/api/me", CHAT_ROUTE_ME_UPDATE},
    {HTTP_GET, "/api/friends", CHAT_ROUTE_FRIENDS_LIST},
    {HTTP_POST, "/api/friends", CHAT_ROUTE_FRIENDS_ADD},
    {HTTP_DELETE, "/api/friends/{name}", CHAT_ROUTE_FRIEND_REMOVE},
    {HTTP_GET, "/api/dm/{name}/messages", CHAT_ROUTE_DM_MESSAGES},
    {HTTP_GET, "/api/search", CHAT_ROUTE_SEARCH},
    {HTTP_GET, "/api/admin/users", CHAT_ROUTE_ADMIN_USERS},
    {HTTP_POST, "/api/admin/users/{name}/ban", CHAT_ROUTE_ADMIN_BAN},
    {HTTP_POST, "/api/admin/users/{name}/unban", CHAT_ROUTE_ADMIN_UNBAN},
    {HTTP_DELETE, "/api/rooms/{id}/messages/{id}", CHAT_ROUTE_MESSAGE_DELETE},
    {HTTP_POST, "/api/read", CHAT_ROUTE_READ},
    {HTTP_GET, "/api/unread", CHAT_ROUTE_UNREAD},
    {HTTP_GET, "/healthz", CHAT_ROUTE_HEALTHZ},
    {HTTP_GET, "/metrics", CHAT_ROUTE_METRICS},
    /* Rooms: membership, private rooms, groups (docs/PROTOCOL.md). */
    {HTTP_GET, "/api/rooms/{id}/members", CHAT_ROUTE_ROOM_MEMBERS},
    {HTTP_POST, "/api/rooms/{id}/members", CHAT_ROUTE_ROOM_MEMBER_ADD},
    {HTTP_DELETE, "/api/rooms/{id}/members/{name}", CHAT_ROUTE_ROOM_MEMBER_REMOVE},
    {HTTP_POST, "/api/rooms/{id}/pins", CHAT_ROUTE_ROOM_PIN},
    {HTTP_DELETE, "/api/rooms/{id}/pins/{id}", CHAT_ROUTE_ROOM_UNPIN},
    {HTTP_PATCH, "/api/rooms/{id}/settings", CHAT_ROUTE_ROOM_SETTINGS},
    {HTTP_GET, "/api/rooms/{id}", CHAT_ROUTE_ROOM_GET},
    {HTTP_GET, "/ws", CHAT_ROUTE_WS},
    /* files: the name in a file's URL is only for people and downloads */
    {HTTP_POST, "/api/files", CHAT_ROUTE_FILES_UPLOAD},
    {HTTP_GET, "/files/thumb/{id}", CHAT_ROUTE_FILE_THUMB},
    {HTTP_GET, "/files/{id}/{name}", CHAT_ROUTE_FILE_GET},
};

/* Matches one segment s[0..n) against a pattern segment p[0..pn). */
static int match_segment(const char *p, size_t pn, const char *s, size_t n,
                         chat_route_match_t *m, int *nids) {
  if (pn == 4 && memcmp(p, "{id}", 4) == 0) {
    if (n == 0 || n > 18) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
      if (s[i] < '0' || s[i] > '9') return 0;
      v = v * 10 + (s[i] - '0');
    }
    if (v <= 0 || *nids >= 2) return 0;
    m->ids[(*nids)++] = v;
    return 1;
  }
  if (pn == 6 && memcmp(p, "{name}", 6) == 0)
    return n > 0 && chat_pct_decode(s, n, m->name, sizeof(m->name), CHAT_PCT_NO_NUL) >= 0;
  return pn == n && memcmp(p, s, n) == 0;
}

static int match_path(const char *pattern, const char *path, size_t len,
                      chat_route_match_t *m) {
  const char *p = pattern, *s = path, *se = path + len;
  int nids = 0;
  while (*p && s < se) {
    if (*p != '/' || *s != '/') return 0;
    p++, s++;
    const char *pe = strchr(p, '/');
    if (pe == NULL) pe = p + strlen(p);
    const char *ss = memchr(s, '/', (size_t)(se - s));
    if (ss == NULL) ss = se;
    if (!match_segment(p, (size_t)(pe - p), s, (size_t)(ss - s), m, &nids)) return 0;
    p = pe;
    s = ss;
  }
  return *p == '\0' && s == se;
}

int chat_route_match(int method, const char *path, size_t len,
                     chat_route_match_t *m) {
  memset(m, 0, sizeof(*m));
  int path_known = 0;
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    const route_t *r = &routes[i];
    chat_route_match_t tmp;
    /* Every pattern starts with a literal: its first two bytes after the
     * slash must be the path's before anything else is compared. */
    if (len < 3 || path[1] != r->pattern[1] || path[2] != r->pattern[2]) continue;
    tmp.ids[0] = tmp.ids[1] = 0;  /* what match_path fills; m was zeroed */
    tmp.name[0] = '\0';
    if (!match_path(r->pattern, path, len, &tmp)) continue;
    int want = method == HTTP_HEAD ? HTTP_GET : method;
    if (r->method == want) {
      memcpy(m->ids, tmp.ids, sizeof(m->ids));
      memcpy(m->name, tmp.name, sizeof(m->name));
      m->id = r->id;
      return 200;
    }
    /* Collect the methods this path takes for the Allow header. */
    const char *name = llhttp_method_name((llhttp_method_t)r->method);
    size_t al = strlen(m->allow);
    if (al + strlen(name) + 8 < sizeof(m->allow)) {
      if (al) strcat(m->allow, ", ");
      strcat(m->allow, name);
      if (r->method == HTTP_GET) strcat(m->allow, ", HEAD");
    }
    path_known = 1;
  }
  return path_known ? 405 : 404;
}

int chat_route_is_api(const char *path, size_t len) {
  return (len == 4 && memcmp(path, "/api", 4) == 0) ||
         (len >= 5 && memcmp(path, "/api/", 5) == 0);
}
