/* The limiter: the server's answers to abuse, each a table of keys with
 * expiry (core/keytab.h) and rate arithmetic (core/rate.h).
 *
 *   what                         key                 how
 *   registrations                client address      token bucket (N per period)
 *   failed logins                account (username)  growing delay: free ones, then
 *                                                    base, 2 x base, ... up to max
 *   failed logins                client address      token bucket (N per period)
 *   frames of a user's sockets   user id             token bucket (rate a second, burst)
 *   connections                  client address      count, and one total
 *
 * A client address is its IPv4 address, or the /64 an IPv6 address is in
 * (one host's share of a network); chat_limiter_addr_key makes the key.
 *
 * Attempts are counted when they arrive (so parallel ones cannot slip past
 * a limit) and settled when their answer is known: a success or an
 * attempt that was not the client's failure (the store down, the server
 * busy, bad input) gives its count back.  A login's per-account delay is
 * never a lockout: whoever waits it out is let through, so an attacker can
 * slow a victim's login down by at most max, never stop it.  The delay
 * runs from the failed attempt's answer.
 *
 * Tables are bounded (CHAT_LIMITER_MAX_KEYS keys each; past that the least
 * recently used key is forgotten) and forget a key once its state would be
 * back to fresh (a bucket full again, an account an hour after its last
 * failure).  Connection counts are exact and never forgotten while open.
 *
 * Not an actor: tables the connection actors and the API call on the loop
 * thread.  The server owns it.  Strings passed in are copied. */
#ifndef CHAT_ACTORS_LIMITER_H
#define CHAT_ACTORS_LIMITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct chat_limiter_s chat_limiter_t;

/* Keys each table keeps at most. */
#define CHAT_LIMITER_MAX_KEYS 100000
/* An account's failures are forgotten this long after the last one. */
#define CHAT_LIMITER_ACCOUNT_FORGET_MS (3600 * 1000)
/* Room for an address key ("a.b.c.d", or the first four groups of an IPv6
 * address and "::/64"), with the NUL. */
#define CHAT_ADDR_KEY_MAX 48

/* n events per period_s seconds (n 0: no limit). */
typedef struct {
  double n;
  double period_s;
} chat_rate_cfg_t;

typedef struct {
  chat_rate_cfg_t registrations;      /* per address */
  chat_rate_cfg_t login_fails_addr;   /* per address, over all accounts */
  int login_free_fails;               /* per account: failures before a delay */
  int64_t login_base_ms;              /* the first delay (0: no delay) */
  int64_t login_max_ms;               /* the longest */
  double frame_rate, frame_burst;     /* per user, every frame (rate 0: no limit) */
  size_t max_conns;                   /* in all (0: no limit) */
  size_t max_conns_addr;              /* per address (0: no limit) */
} chat_limiter_config_t;

/* clock: monotonic milliseconds (NULL: the loop-independent uv_hrtime). */
chat_limiter_t *chat_limiter_new(const chat_limiter_config_t *cfg, int64_t (*clock)(void));
void chat_limiter_free(chat_limiter_t *l);

/* Writes the key of the address written as text in peer (IPv4 or IPv6;
 * anything else is its own key, cut to fit). */
void chat_limiter_addr_key(const char *peer, char out[CHAT_ADDR_KEY_MAX]);

/* ---- connections ---- */

/* A connection from addr (an address key; "": a peer counted only in the
 * total, such as a trusted proxy) wants in: 0 and counted, or -1 if addr
 * or the server has its most. */
int chat_limiter_conn_open(chat_limiter_t *l, const char *addr);
/* A counted connection from addr closed. */
void chat_limiter_conn_close(chat_limiter_t *l, const char *addr);
/* Connections counted now. */
size_t chat_limiter_conns(const chat_limiter_t *l);

/* ---- registrations ---- */

/* 0 (counted) or the seconds to wait (> 0) for a registration from addr. */
int chat_limiter_register_begin(chat_limiter_t *l, const char *addr);
/* The registration counted by _begin did not create an account. */
void chat_limiter_register_undo(chat_limiter_t *l, const char *addr);

/* ---- logins ---- */

/* How a login counted by _begin ended. */
typedef enum {
  CHAT_LOGIN_OK,          /* logged in: the account starts afresh */
  CHAT_LOGIN_FAILED,      /* a wrong password (or no such user): stays counted */
  CHAT_LOGIN_UNCOUNTED,   /* not a guess (bad request, store down, busy) */
} chat_login_outcome_t;

/* 0 (counted as a failure for now) or the seconds to wait (> 0) before a
 * login to account (a canonical username) from addr. */
int chat_limiter_login_begin(chat_limiter_t *l, const char *addr, const char *account);
void chat_limiter_login_end(chat_limiter_t *l, const char *addr, const char *account,
                            chat_login_outcome_t outcome);

/* ---- frames ---- */

/* 0 if user_id may have one more WebSocket frame handled now, else the
 * milliseconds until it may (the frame is refused). */
int64_t chat_limiter_frame(chat_limiter_t *l, int64_t user_id);
/* Changes the frame limit (a reload); the users' buckets start full. */
void chat_limiter_set_frame_rate(chat_limiter_t *l, double rate, double burst);

/* Keys held in all tables (for tests and metrics). */
size_t chat_limiter_size(const chat_limiter_t *l);

#endif
