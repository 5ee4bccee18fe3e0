/* GET /metrics's body: every figure of the server in the Prometheus text
 * exposition format (version 0.0.4), each family with HELP and TYPE lines.
 * The figures are read from the counters the actors bump on the loop thread
 * (services.h's chat_metrics_t, the storage's histograms, the notifier's
 * and the hasher's counters), so rendering is for the loop thread only and
 * costs no store work. */
#ifndef CHAT_ACTORS_METRICS_H
#define CHAT_ACTORS_METRICS_H

#include "../core/sb.h"
#include "services.h"

/* Appends the whole exposition to out (owned by the caller). */
void chat_metrics_render(const chat_services_t *svc, chat_sb_t *out);

#endif
