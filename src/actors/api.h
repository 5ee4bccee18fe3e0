/* The HTTP API (../shared/API.md): accounts, rooms, history, community,
 * health and metrics.
 *
 * Runs as the connection that received the request: chat_api_handle is
 * called by the connection actor with a matched route, and answers through
 * chat_conn_respond_* (conn.h), at once or from the mail of the job it
 * submits (with the connection's actor as reply_to).  Effects on other
 * actors go through the services: the room directory, the cluster module
 * (revocations, deliveries, rooms created or deleted, bans), the login
 * limiter, presence.  Loop thread only; the jobs' run functions run on
 * worker threads and touch only their job and the store. */
#ifndef CHAT_ACTORS_API_H
#define CHAT_ACTORS_API_H

#include "../net/route.h"
#include "conn.h"
#include "services.h"

/* Handles an API request; the connection waits for its answer. */
void chat_api_handle(const chat_services_t *svc, chat_conn_t *c, const chat_route_match_t *m);

#endif
