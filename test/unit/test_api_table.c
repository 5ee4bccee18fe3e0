/* The API's handler table against the router (src/net/route.c): every
 * route but the WebSocket upgrade has exactly one row, and each row's
 * method and path reach that row's route. */
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

#include "actors/api.h"
#include "actors/api_int.h"
#include "t.h"

/* The row's pattern with "{id}" as 7 and "{name}" as "bob". */
static void concrete_path(const char *pattern, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = pattern; *p && o + 8 < cap;) {
    if (strncmp(p, "{id}", 4) == 0) {
      memcpy(out + o, "7", 1), o += 1, p += 4;
    } else if (strncmp(p, "{name}", 6) == 0) {
      memcpy(out + o, "bob", 3), o += 3, p += 6;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
}

static void test_every_route_has_one_row(void) {
  for (int id = CHAT_ROUTE_NONE + 1; id <= CHAT_ROUTE_WS; id++) {
    int rows = 0;
    const chat_api_route_t *r;
    for (size_t i = 0; (r = chat_api_route_at(i)) != NULL; i++)
      if ((int)r->id == id) rows++;
    if (rows != (id == CHAT_ROUTE_WS ? 0 : 1))
      fprintf(stderr, "route id %d: %d rows\n", id, rows);
    /* The upgrade to WebSocket is the connection's, not the API's. */
    T_EQ_INT(rows, id == CHAT_ROUTE_WS ? 0 : 1);
    r = chat_api_route((chat_route_id_t)id);
    T_CHECK(id == CHAT_ROUTE_WS ? r == NULL : r != NULL && (int)r->id == id);
  }
  T_CHECK(chat_api_route(CHAT_ROUTE_NONE) == NULL);
}

static void test_rows_match_the_router(void) {
  const chat_api_route_t *r;
  size_t n = 0;
  for (size_t i = 0; (r = chat_api_route_at(i)) != NULL; i++, n++) {
    char path[256];
    concrete_path(r->path, path, sizeof(path));
    chat_route_match_t m;
    int st = chat_route_match(r->method, path, strlen(path), &m);
    if (st != 200 || m.id != r->id)
      fprintf(stderr, "%s %s: status %d, route %d, row's %d\n",
              llhttp_method_name((llhttp_method_t)r->method), path, st, (int)m.id, (int)r->id);
    T_EQ_INT(st, 200);
    T_EQ_INT(m.id, r->id);
    /* Every job starts with the base; a row without a worker step answers
     * in prepare. */
    T_CHECK(r->job_size >= sizeof(chat_api_job_t));
    T_CHECK(r->run != NULL || (r->prepare != NULL && r->done == NULL));
  }
  T_EQ_INT(n, CHAT_ROUTE_WS - 1);
}

int main(void) {
  T_RUN(test_every_route_has_one_row);
  T_RUN(test_rows_match_the_router);
  return T_DONE();
}
