/* Trusted proxies: who the client is, and whether it came over HTTPS, when
 * chatd sits behind a reverse proxy that terminates TLS.
 *
 * A list of networks (CIDR: "10.0.0.0/8", "::1", "fd00::/8") is trusted to
 * tell the truth in X-Forwarded-For and X-Forwarded-Proto.  A request from
 * any other peer has those headers ignored: the client is the peer and the
 * scheme is the connection's own.  From a trusted peer, X-Forwarded-For (all
 * such headers, in order, as one comma-separated list) is read from the
 * right: each proxy appends the address it got the request from, so the
 * first address from the right that is not trusted is the client (a client
 * can put anything it likes on the left, never on the right).  If every
 * address is trusted, the leftmost one is the client; an entry that is not
 * an address ends the walk at the last good one.  X-Forwarded-Proto's last
 * value (the one the nearest proxy set) says the scheme.
 *
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1) count as their IPv4
 * address, so "127.0.0.1" covers a dual-stack listener's view of loopback.
 *
 * Pure functions over the caller's memory; any thread. */
#ifndef CHAT_NET_PROXY_H
#define CHAT_NET_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

typedef struct {
  uint8_t addr[16];   /* network address, IPv4 in the first 4 bytes */
  int v6;             /* 0: IPv4 */
  int bits;           /* prefix length */
} chat_cidr_t;

typedef struct chat_proxies_s {
  chat_cidr_t *nets;  /* owned (chat_proxies_free) */
  size_t n;
} chat_proxies_t;

/* Parses "CIDR[,CIDR...]" (spaces around entries allowed; an address
 * without /N is one host) into *out.  Returns 0, or CHAT_EINVAL with err
 * naming the bad entry (then *out is empty).  An empty or NULL spec is an
 * empty list: nobody is trusted. */
int chat_proxies_parse(const char *spec, chat_proxies_t *out, char *err, size_t errlen);
void chat_proxies_free(chat_proxies_t *p);

/* 1 if the textual address (IPv4 or IPv6, len bytes, no port) is in one
 * of the networks; 0 if not, or if it is not an address. */
int chat_proxies_trusts(const chat_proxies_t *p, const char *addr, size_t len);

/* The client of request r that arrived from peer (an address as text):
 * writes its address into client (NUL-terminated, at most clen - 1 bytes)
 * and sets *https to 1 if a trusted proxy says the client used HTTPS
 * (else 0; the caller ORs in its own TLS).  Returns 1 if the headers were
 * used, 0 if the peer is not trusted (client is then the peer). */
int chat_proxies_client(const chat_proxies_t *p, const char *peer, const chat_http_req_t *r,
                        char *client, size_t clen, int *https);

#endif
