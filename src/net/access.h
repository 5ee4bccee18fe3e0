/* Who may read the operators' pages (GET /metrics): a decision from the
 * client's address, the request's Authorization header and the server's
 * setting, with no state of its own.
 *
 *   CHAT_ACCESS_LOCAL  loopback clients (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104),
 *                      and anyone with the bearer token when one is set;
 *   CHAT_ACCESS_TOKEN  only requests with the bearer token (for a reverse
 *                      proxy on the same host, through which every client
 *                      would look local);
 *   CHAT_ACCESS_OPEN   anyone.
 *
 * The token is compared in constant time (the SHA-256 of both sides) and
 * never copied or logged.  Any thread; nothing is kept. */
#ifndef CHAT_NET_ACCESS_H
#define CHAT_NET_ACCESS_H

#include "http.h"

typedef enum {
  CHAT_ACCESS_LOCAL = 0,
  CHAT_ACCESS_TOKEN = 1,
  CHAT_ACCESS_OPEN = 2,
} chat_access_mode_t;

/* 1 if the request may be answered.  peer: the client's address as text
 * (uv_ip4_name / uv_ip6_name; "" or NULL when unknown, never loopback);
 * token: the bearer token, NULL or "" for none. */
int chat_access_allowed(const chat_http_req_t *r, const char *peer, chat_access_mode_t mode,
                        const char *token);

/* 1 if addr is an IPv4 or IPv6 loopback address written as text. */
int chat_access_is_loopback(const char *addr);

/* 1 if the request has exactly one Authorization header, and it is
 * "Bearer " followed by token (the scheme in any case).  0 for an empty or
 * NULL token. */
int chat_access_bearer_ok(const chat_http_req_t *r, const char *token);

#endif
