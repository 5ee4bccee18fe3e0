/* Routes for operators: /healthz and /metrics (Prometheus text format).
 * See api.h for the steps of a handler. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../net/access.h"
#include "api_int.h"

/* ---- GET /healthz ------------------------------------------------------ */

typedef struct {
  chat_api_job_t super;
  int store_ok;
} health_job_t;

static void healthz_run(chat_api_job_t *j, chat_store_t *store) {
  container_of(j, health_job_t, super)->store_ok = chat_store_ping(store) == 0;
}

/* The answer, with the state of the presence backend (Redis). */
static void healthz_done(chat_api_job_t *j, const chat_services_t *svc) {
  int store_ok = container_of(j, health_job_t, super)->store_ok;
  chat_presence_t *p = svc->presence;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "status", store_ok ? "ok" : "degraded");
  cJSON_AddStringToObject(root, "store", store_ok ? "ok" : "down");
  cJSON_AddStringToObject(root, "redis", p->ops->backend_state(p));
  chat_api_set_json(j, store_ok ? 200 : 503, root);
}

/* ---- GET /metrics ------------------------------------------------------ */

/* Answers on the loop, with no worker step: the figures are the server's
 * own and the storage actor's counters.  Only for loopback clients or the
 * token's holders, as configured (net/access.h); others get 403. */
static int metrics_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  const chat_limits_t *lim = svc->limits;
  if (!chat_access_allowed(chat_conn_req(c), chat_conn_peer(c),
                           (chat_access_mode_t)lim->metrics_access, lim->metrics_token)) {
    chat_conn_respond_error(c, 403, "forbidden",
                            "metrics are for local clients or with the metrics token", NULL);
    return -1;
  }
  chat_api_stats_t st;
  chat_api_stats(svc, &st);
  char body[4096];
  snprintf(body, sizeof(body),
           "# HELP chat_connections Open TCP connections.\n"
           "# TYPE chat_connections gauge\n"
           "chat_connections %zu\n"
           "# HELP chat_websockets Open WebSocket connections.\n"
           "# TYPE chat_websockets gauge\n"
           "chat_websockets %zu\n"
           "# HELP chat_rooms Rooms.\n"
           "# TYPE chat_rooms gauge\n"
           "chat_rooms %zu\n"
           "# HELP chat_connections_total Connections accepted.\n"
           "# TYPE chat_connections_total counter\n"
           "chat_connections_total %" PRIu64 "\n"
           "# HELP chat_http_requests_total HTTP requests.\n"
           "# TYPE chat_http_requests_total counter\n"
           "chat_http_requests_total %" PRIu64 "\n"
           "# HELP chat_ws_frames_in_total WebSocket messages received.\n"
           "# TYPE chat_ws_frames_in_total counter\n"
           "chat_ws_frames_in_total %" PRIu64 "\n"
           "# HELP chat_messages_total Room messages stored and broadcast.\n"
           "# TYPE chat_messages_total counter\n"
           "chat_messages_total %" PRIu64 "\n"
           "# HELP chat_store_batches_total Message batches committed.\n"
           "# TYPE chat_store_batches_total counter\n"
           "chat_store_batches_total %" PRIu64 "\n"
           "# HELP chat_store_write_seconds_total Time spent committing batches.\n"
           "# TYPE chat_store_write_seconds_total counter\n"
           "chat_store_write_seconds_total %.6f\n"
           "# HELP chat_hash_pending Password hashes waiting or running.\n"
           "# TYPE chat_hash_pending gauge\n"
           "chat_hash_pending %zu\n"
           "# HELP chat_hash_refused_total Logins and registrations answered busy.\n"
           "# TYPE chat_hash_refused_total counter\n"
           "chat_hash_refused_total %" PRIu64 "\n"
           "# HELP chat_connections_refused_total Connections refused: too many.\n"
           "# TYPE chat_connections_refused_total counter\n"
           "chat_connections_refused_total %" PRIu64 "\n"
           "# HELP chat_ws_refused_total WebSockets closed at once: too many for the user.\n"
           "# TYPE chat_ws_refused_total counter\n"
           "chat_ws_refused_total %" PRIu64 "\n"
           "# HELP chat_ws_frames_limited_total WebSocket frames refused by flood control.\n"
           "# TYPE chat_ws_frames_limited_total counter\n"
           "chat_ws_frames_limited_total %" PRIu64 "\n",
           st.conns, st.websockets, st.rooms, st.conns_total, st.http_requests, st.ws_frames_in,
           st.messages_sent, st.store_batches, (double)st.store_write_ns / 1e9, st.hash_pending,
           st.hash_refused, st.conns_refused, st.ws_refused, st.frames_limited);
  size_t used = strlen(body);
  snprintf(body + used, sizeof(body) - used,
           "# HELP chat_ws_dead_peers_total WebSockets closed as dead peers (nothing received "
           "for two ping intervals).\n"
           "# TYPE chat_ws_dead_peers_total counter\n"
           "chat_ws_dead_peers_total %" PRIu64 "\n",
           svc->metrics->ws_dead_peers);
  chat_conn_respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8", body);
  return -1;
}

static const chat_api_route_t routes[] = {
    {HTTP_GET, "/healthz", CHAT_ROUTE_HEALTHZ, sizeof(health_job_t), NULL, healthz_run,
     healthz_done},
    {HTTP_GET, "/metrics", CHAT_ROUTE_METRICS, sizeof(chat_api_job_t), metrics_prepare, NULL,
     NULL},
};

const chat_api_table_t chat_api_ops = {routes, CHAT_ARRAY_SIZE(routes)};
