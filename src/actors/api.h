/* The HTTP API (../shared/API.md): a table of route handlers.
 *
 * src/net/route.c turns method + path into a route id; this module maps the
 * id to its handler, one row per route, the way h2o registers handlers.  A
 * handler is up to three steps around one job of its own (a struct whose
 * first member is chat_api_job_t, see api_int.h):
 *
 *   prepare  on the loop, before the job is queued: reads what only the loop
 *            may read (query string, client address, the limiter) and may
 *            answer at once (a bad query, too many logins);
 *   run      on a worker thread (chat_storage_submit): everything that blocks
 *            or touches the store; it builds the answer;
 *   done     on the loop, in the connection actor, whether or not the client
 *            is still there: what only the loop may do (live figures, tell
 *            rooms and connections what changed, settle the limiter).
 *
 * Password hashing is not done in run: prepare or run asks for a hash in
 * the job (api_int.h: hash and then), the hasher (hasher.h) does it on its
 * own threads, and the step named `then` goes on on a worker afterwards.
 *
 * Effects on other actors go through the services (services.h): the room
 * directory, the cluster module (revocations, deliveries, rooms created or
 * deleted, bans), the limiter, presence.
 *
 * Adding a route: its id and pattern in src/net/route.c, then one row and
 * its functions in the resource's file (api_accounts.c, api_rooms.c,
 * api_social.c, api_admin.c, api_ops.c).  Internal to the actors layer. */
#ifndef CHAT_ACTORS_API_H
#define CHAT_ACTORS_API_H

#include <stddef.h>

#include "../net/route.h"
#include "../store/store.h"
#include "conn.h"
#include "services.h"

typedef struct chat_api_job_s chat_api_job_t;

/* On the loop.  Returns 0 to queue the job, or -1 when the request is
 * answered now: with what the job holds (chat_api_set_error), or by prepare
 * itself through chat_conn_respond_* (leaving the job's status 0).  It frees
 * what it allocated into the job before returning -1. */
typedef int (*chat_api_prepare_cb)(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c);
/* On a worker thread: touches only the job and the store. */
typedef void (*chat_api_run_cb)(chat_api_job_t *j, chat_store_t *store);
/* On the loop, once per queued job, before the answer goes out; frees what
 * the handler allocated into the job. */
typedef void (*chat_api_done_cb)(chat_api_job_t *j, const chat_services_t *svc);

typedef struct {
  int method;                  /* llhttp's HTTP_GET, ... (HEAD takes GET rows) */
  const char *path;            /* its pattern in src/net/route.c */
  chat_route_id_t id;
  size_t job_size;             /* sizeof the handler's job */
  chat_api_prepare_cb prepare; /* NULL: nothing to check on the loop */
  chat_api_run_cb run;         /* NULL: prepare answers every request */
  chat_api_done_cb done;       /* NULL: nothing to do on the loop */
} chat_api_route_t;

/* Handles a request that matched route m->id (not CHAT_ROUTE_WS).  The
 * connection waits for its answer through chat_conn_respond_*; it is given
 * at once or when the job comes back from the worker. */
void chat_api_handle(const chat_services_t *svc, chat_conn_t *c, const chat_route_match_t *m);

/* The handler of route id; NULL if the API has none. */
const chat_api_route_t *chat_api_route(chat_route_id_t id);
/* The i-th row of the table, for walking it; NULL past the end. */
const chat_api_route_t *chat_api_route_at(size_t i);

#endif
