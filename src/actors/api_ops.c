/* Routes for operators: /healthz and /metrics (Prometheus text format).
 * See api.h for the steps of a handler. */
#include <stdio.h>
#include <string.h>

#include "../net/access.h"
#include "api_int.h"
#include "metrics.h"

/* ---- GET /healthz ------------------------------------------------------
 *
 * The answer: 200 {"status":"ok","store":"ok","redis":R} when the store
 * answers and commits a write; otherwise 503 with "status":"degraded" and
 * "store" saying why:
 *   "down"       the store does not answer (chat_store_ping fails), or a
 *                probe has been in flight for over HEALTH_STUCK_MS;
 *   "read_only"  it answers, but a write does not commit
 *                (chat_store_write_probe: a read-only or full disk, a file
 *                size limit, a lock held elsewhere past the retries).
 * R is presence's backend state ("off", "ok", "down"), read at answer time.
 *
 * The write probe costs the store a transaction, so the result is kept for
 * HEALTH_FRESH_MS in svc->health and at most one probe is in flight: a
 * request that finds a fresh result, or a probe already running, is
 * answered on the loop from the last result, with no store work at all.
 * Only requests that come before the first probe has come back go to the
 * store each (there is nothing to answer them from). */

#define HEALTH_FRESH_MS 1000
#define HEALTH_STUCK_MS 10000

typedef enum { HEALTH_OK, HEALTH_READ_ONLY, HEALTH_DOWN } health_t;

typedef struct {
  chat_api_job_t super;
  int probe;        /* this job is svc->health's probe in flight */
  health_t store;
} health_job_t;

static void health_answer(chat_api_job_t *j, const chat_services_t *svc, health_t store) {
  static const char *const names[] = {"ok", "read_only", "down"};
  chat_presence_t *p = svc->presence;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "status", store == HEALTH_OK ? "ok" : "degraded");
  cJSON_AddStringToObject(root, "store", names[store]);
  cJSON_AddStringToObject(root, "redis", p->ops->backend_state(p));
  chat_api_set_json(j, store == HEALTH_OK ? 200 : 503, root);
}

static int healthz_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  chat_health_t *h = svc->health;
  if (h == NULL) return 0;
  uint64_t now = uv_now(svc->loop);
  if (h->have && now - h->at_ms < HEALTH_FRESH_MS) {
    health_answer(j, svc, (health_t)h->store);
    return -1;
  }
  if (h->probing) {
    if (now - h->probe_ms >= HEALTH_STUCK_MS) {
      health_answer(j, svc, HEALTH_DOWN);
      return -1;
    }
    if (h->have) {
      health_answer(j, svc, (health_t)h->store);
      return -1;
    }
    return 0;  /* nothing to answer from yet: a probe of its own */
  }
  h->probing = 1;
  h->probe_ms = now;
  container_of(j, health_job_t, super)->probe = 1;
  return 0;
}

static void healthz_run(chat_api_job_t *j, chat_store_t *store) {
  health_job_t *hj = container_of(j, health_job_t, super);
  if (chat_store_ping(store) != 0)
    hj->store = HEALTH_DOWN;
  else if (chat_store_write_probe(store) != 0)
    hj->store = HEALTH_READ_ONLY;
  else
    hj->store = HEALTH_OK;
}

static void healthz_done(chat_api_job_t *j, const chat_services_t *svc) {
  health_job_t *hj = container_of(j, health_job_t, super);
  chat_health_t *h = svc->health;
  if (h) {
    h->have = 1;
    h->store = (int)hj->store;
    h->at_ms = uv_now(svc->loop);
    if (hj->probe) h->probing = 0;
  }
  health_answer(j, svc, hj->store);
}

/* ---- GET /metrics ------------------------------------------------------ */

/* Answers on the loop, with no worker step: the figures are the server's
 * own and the storage actor's counters, rendered by metrics.c.  Only for
 * loopback clients or the token's holders, as configured (net/access.h);
 * others get 403. */
static int metrics_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  const chat_limits_t *lim = svc->limits;
  if (!chat_access_allowed(chat_conn_req(c), chat_conn_peer(c),
                           (chat_access_mode_t)lim->metrics_access, lim->metrics_token)) {
    chat_conn_respond_error(c, 403, "forbidden",
                            "metrics are for local clients or with the metrics token", NULL);
    return -1;
  }
  chat_sb_t body;
  chat_sb_init(&body);
  chat_metrics_render(svc, &body);
  chat_conn_respond_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                         body.buf ? body.buf : "");
  chat_sb_free(&body);
  return -1;
}

static const chat_api_route_t routes[] = {
    {HTTP_GET, "/healthz", CHAT_ROUTE_HEALTHZ, sizeof(health_job_t), healthz_prepare,
     healthz_run, healthz_done},
    {HTTP_GET, "/metrics", CHAT_ROUTE_METRICS, sizeof(chat_api_job_t), metrics_prepare, NULL,
     NULL},
};

const chat_api_table_t chat_api_ops = {routes, CHAT_ARRAY_SIZE(routes)};
