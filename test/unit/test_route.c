/* The route table (net/route.h): method + path -> route, 405 with Allow,
 * 404 for everything else, {id} and {name} parameters. */
#include <llhttp.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "net/route.h"
#include "t.h"

typedef struct {
  int method;
  const char *path;
  chat_route_id_t id;
  int64_t id0, id1;
} route_case_t;

static int route(int method, const char *path, chat_route_match_t *m) {
  return chat_route_match(method, path, strlen(path), m);
}

static void test_route_table(void) {
  static const route_case_t cases[] = {
      {HTTP_POST, "/api/register", CHAT_ROUTE_REGISTER, 0, 0},
      {HTTP_POST, "/api/login", CHAT_ROUTE_LOGIN, 0, 0},
      {HTTP_POST, "/api/logout", CHAT_ROUTE_LOGOUT, 0, 0},
      {HTTP_GET, "/api/me", CHAT_ROUTE_ME, 0, 0},
      {HTTP_POST, "/api/password", CHAT_ROUTE_PASSWORD, 0, 0},
      {HTTP_GET, "/api/rooms", CHAT_ROUTE_ROOMS_LIST, 0, 0},
      {HTTP_POST, "/api/rooms", CHAT_ROUTE_ROOMS_CREATE, 0, 0},
      {HTTP_PATCH, "/api/rooms/7", CHAT_ROUTE_ROOM_UPDATE, 7, 0},
      {HTTP_DELETE, "/api/rooms/123456", CHAT_ROUTE_ROOM_DELETE, 123456, 0},
      {HTTP_GET, "/api/rooms/99/messages", CHAT_ROUTE_ROOM_MESSAGES, 99, 0},
      {HTTP_GET, "/api/users/online", CHAT_ROUTE_USERS_ONLINE, 0, 0},
      {HTTP_GET, "/healthz", CHAT_ROUTE_HEALTHZ, 0, 0},
      {HTTP_GET, "/metrics", CHAT_ROUTE_METRICS, 0, 0},
      {HTTP_GET, "/ws", CHAT_ROUTE_WS, 0, 0},
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(cases); i++) {
    const route_case_t *c = &cases[i];
    chat_route_match_t m;
    int st = route(c->method, c->path, &m);
    if (st != 200 || m.id != c->id)
      fprintf(stderr, "route %s: status %d id %d\n", c->path, st, (int)m.id);
    T_EQ_INT(st, 200);
    T_EQ_INT(m.id, c->id);
    T_EQ_INT(m.ids[0], c->id0);
    T_EQ_INT(m.ids[1], c->id1);

    /* HEAD takes GET routes and only those. */
    st = route(HTTP_HEAD, c->path, &m);
    if (c->method == HTTP_GET) {
      T_EQ_INT(st, 200);
      T_EQ_INT(m.id, c->id);
      T_EQ_INT(m.ids[0], c->id0);
    } else if (strcmp(c->path, "/api/rooms") != 0 && c->id != CHAT_ROUTE_ROOM_UPDATE &&
               c->id != CHAT_ROUTE_ROOM_DELETE) {
      /* (/api/rooms/{id} has GET too: rooms v2) */
      T_EQ_INT(st, 405);
    }
  }

  /* The path length bounds the match, not a NUL. */
  chat_route_match_t m;
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/meX", 7, &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ME);
  /* "/api/rooms/12" and "/api/rooms/1": GET /api/rooms/{id} (rooms v2). */
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 13, &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ROOM_GET);
  T_EQ_INT(m.ids[0], 12);
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 12, &m), 200);
  T_EQ_INT(m.ids[0], 1);
  T_EQ_INT(chat_route_match(HTTP_GET, "/api/rooms/12/messages", 11, &m), 404);

  /* The biggest id that fits the 18-digit limit. */
  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/999999999999999999", &m), 200);
  T_EQ_INT(m.ids[0], 999999999999999999LL);
  /* Leading zeros still denote a positive integer. */
  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/007", &m), 200);
  T_EQ_INT(m.ids[0], 7);
}

/* 1 if the comma-separated allow list holds exactly the methods in want
 * (NULL-terminated), in any order. */
static int allow_is(const char *allow, const char *const *want) {
  size_t nwant = 0;
  unsigned seen = 0;  /* bit i: want[i] was listed */
  while (want[nwant]) nwant++;
  const char *s = allow;
  while (*s) {
    while (*s == ',' || *s == ' ') s++;
    if (*s == '\0') break;
    const char *t = s;
    while (*s && *s != ',' && *s != ' ') s++;
    size_t tlen = (size_t)(s - t);
    int hit = -1;
    for (size_t i = 0; i < nwant; i++)
      if (strlen(want[i]) == tlen && memcmp(t, want[i], tlen) == 0) hit = (int)i;
    if (hit < 0 || (seen & (1u << hit))) return 0;  /* unknown or repeated */
    seen |= 1u << hit;
  }
  return seen == (1u << nwant) - 1;
}

static void test_route_405(void) {
  chat_route_match_t m;
  static const char *const rooms[] = {"GET", "HEAD", "POST", NULL};
  static const char *const room[] = {"GET", "HEAD", "PATCH", "DELETE", NULL};
  static const char *const get_only[] = {"GET", "HEAD", NULL};
  static const char *const post_only[] = {"POST", NULL};

  T_EQ_INT(route(HTTP_DELETE, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));
  T_EQ_INT(m.id, CHAT_ROUTE_NONE);
  T_EQ_INT(route(HTTP_PUT, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));
  T_EQ_INT(route(HTTP_PATCH, "/api/rooms", &m), 405);
  T_CHECK(allow_is(m.allow, rooms));

  T_EQ_INT(route(HTTP_GET, "/api/rooms/5", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ROOM_GET);
  T_EQ_INT(route(HTTP_POST, "/api/rooms/5", &m), 405);
  T_CHECK(allow_is(m.allow, room));
  T_EQ_INT(route(HTTP_HEAD, "/api/rooms/5", &m), 200);

  T_EQ_INT(route(HTTP_POST, "/api/rooms/5/messages", &m), 405);
  T_CHECK(allow_is(m.allow, get_only));
  static const char *const me[] = {"GET", "HEAD", "PATCH", NULL};
  T_EQ_INT(route(HTTP_POST, "/api/me", &m), 405);
  T_CHECK(allow_is(m.allow, me));
  T_EQ_INT(route(HTTP_GET, "/api/friends/bob", &m), 405);
  T_CHECK(allow_is(m.allow, (const char *const[]){"DELETE", NULL}));
  T_EQ_INT(route(HTTP_GET, "/api/admin/users/bob/ban", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));
  T_EQ_INT(route(HTTP_DELETE, "/healthz", &m), 405);
  T_CHECK(allow_is(m.allow, get_only));

  T_EQ_INT(route(HTTP_DELETE, "/api/rooms/5/messages/7", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_MESSAGE_DELETE);
  T_EQ_INT(m.ids[0], 5);
  T_EQ_INT(m.ids[1], 7);
  T_EQ_INT(route(HTTP_GET, "/api/dm/%E5%BC%A0%E4%B8%89/messages", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_DM_MESSAGES);
  T_EQ_STR(m.name, "张三");
  T_EQ_INT(route(HTTP_POST, "/api/admin/users/alice/unban", &m), 200);
  T_EQ_INT(m.id, CHAT_ROUTE_ADMIN_UNBAN);
  T_EQ_STR(m.name, "alice");
  T_EQ_INT(route(HTTP_GET, "/api/login", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));
  T_EQ_INT(route(HTTP_HEAD, "/api/register", &m), 405);
  T_CHECK(allow_is(m.allow, post_only));

  /* The self-check of allow_is itself. */
  T_CHECK(!allow_is("GET, HEAD", rooms));
  T_CHECK(!allow_is("GET, HEAD, POST, PUT", rooms));
  T_CHECK(allow_is("POST, GET, HEAD", rooms));
  T_CHECK(!allow_is("GET, GET, HEAD", rooms));
  T_CHECK(!allow_is("", rooms));
}

static void test_route_404(void) {
  static const char *const paths[] = {
      "",
      "/",
      "/api",
      "/api/",
      "/apii/me",
      "/api/mee",
      "/api/m",
      "/API/me",
      "/index.html",
      "/api/rooms/",          /* trailing slash */
      "/api/me/",
      "/healthz/",
      "//api/rooms",          /* double slashes */
      "/api//rooms",
      "/api/rooms//5",
      "/api/rooms/5//messages",
      "/api/rooms/5/messages/",
      "/api/rooms/0",         /* bad ids */
      "/api/rooms/00",
      "/api/rooms/-1",
      "/api/rooms/+1",
      "/api/rooms/1a",
      "/api/rooms/a1",
      "/api/rooms/abc",
      "/api/rooms/1.5",
      "/api/rooms/%31",
      "/api/rooms/ 1",
      "/api/rooms/1234567890123456789",   /* 19 digits */
      "/api/rooms/99999999999999999999999999",
      "/api/rooms/0/messages",
      "/api/rooms//messages",
      "/api/rooms/x/messages",
      "/api/rooms/1/messagesx",
      "/api/rooms/1/2",
      "/api/users/online/x",
      "/api/users/x",
      "api/me",
      "/ws?x",
  };
  static const int methods[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PATCH,
                                HTTP_DELETE};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(paths); i++) {
    for (size_t j = 0; j < CHAT_ARRAY_SIZE(methods); j++) {
      chat_route_match_t m;
      int st = route(methods[j], paths[i], &m);
      if (st != 404)
        fprintf(stderr, "path \"%s\" method %d: status %d\n", paths[i],
                methods[j], st);
      T_EQ_INT(st, 404);
      T_EQ_INT(m.id, CHAT_ROUTE_NONE);
    }
  }
}

/* {name} segments are percent-decoded by core/pct.h's decoder: bad or cut
 * escapes and NUL make the path no route; '+' stays a plus. */
static void test_route_names(void) {
  chat_route_match_t m;
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/a+b", &m), 200);
  T_EQ_STR(m.name, "a+b");
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/a%2Fb%2b", &m), 200);
  T_EQ_STR(m.name, "a/b+");
  T_EQ_INT(route(HTTP_DELETE, "/api/friends/%41", &m), 200);
  T_EQ_STR(m.name, "A");
  static const char *const bad[] = {
      "/api/friends/%", "/api/friends/%4", "/api/friends/a%4", "/api/friends/%zz",
      "/api/friends/%00", "/api/friends/a%00b", "/api/friends/%%41",
      "/api/dm/%E5%BC%A/messages", "/api/dm/%/messages",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    int st = route(HTTP_DELETE, bad[i], &m);
    if (st != 404) fprintf(stderr, "name path \"%s\": status %d\n", bad[i], st);
    T_EQ_INT(st, 404);
    T_CHECK(m.id == CHAT_ROUTE_NONE);
  }
  /* The decoded name fits CHAT_ROUTE_NAME_MAX with its NUL. */
  char path[1400];
  size_t n = (size_t)snprintf(path, sizeof(path), "/api/friends/");
  for (size_t i = 0; i < CHAT_ROUTE_NAME_MAX - 1; i++) path[n++] = 'x';
  path[n] = '\0';
  T_EQ_INT(route(HTTP_DELETE, path, &m), 200);
  T_EQ_INT(strlen(m.name), CHAT_ROUTE_NAME_MAX - 1);
  path[n++] = 'x';
  path[n] = '\0';
  T_EQ_INT(route(HTTP_DELETE, path, &m), 404);
  /* Escapes count once decoded: 399 escaped bytes fit. */
  n = (size_t)snprintf(path, sizeof(path), "/api/friends/");
  for (size_t i = 0; i < CHAT_ROUTE_NAME_MAX - 1; i++) n += (size_t)snprintf(path + n, 4, "%%%02X", 'a');
  T_EQ_INT(route(HTTP_DELETE, path, &m), 200);
  T_EQ_INT(strlen(m.name), CHAT_ROUTE_NAME_MAX - 1);
}

static void test_route_is_api(void) {
  static const char *const api[] = {"/api", "/api/", "/api/me", "/api/x/y"};
  static const char *const not_api[] = {"", "/", "/ap", "/apix", "/api.html",
                                        "api/me", "/API/me", "/static/api/"};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(api); i++)
    T_EQ_INT(chat_route_is_api(api[i], strlen(api[i])), 1);
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(not_api); i++)
    T_EQ_INT(chat_route_is_api(not_api[i], strlen(not_api[i])), 0);
  /* The length bounds the check. */
  T_EQ_INT(chat_route_is_api("/api/me", 4), 1);
  T_EQ_INT(chat_route_is_api("/api/me", 3), 0);
}

int main(void) {
  T_RUN(test_route_table);
  T_RUN(test_route_405);
  T_RUN(test_route_404);
  T_RUN(test_route_names);
  T_RUN(test_route_is_api);
  return T_DONE();
}
