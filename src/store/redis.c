/* Asynchronous Redis client: two hiredis async contexts on a libuv loop.
 *
 * States (one per client):
 *
 *   IDLE --start--> (timer 0 ms) --> CONNECTING --handshake done--> UP
 *                                        |  ^                         |
 *                     failure, deadline  |  | backoff timer           | loss of
 *                                        v  |                         | either
 *                                      BACKOFF <----------------------+
 *
 *   any state --chat_redis_close--> CLOSING --last handle closed--> freed
 *
 * One timer serves every state: the first attempt (0 ms), the deadline of
 * an attempt in CONNECTING (2 s for resolve, connect, AUTH, SELECT and the
 * subscription confirmations) and the retry delay in BACKOFF.
 *
 * hiredis 0.14 rules this file follows:
 * - A context is freed by hiredis itself when its connection fails or
 *   closes: from redisAsyncHandleRead/Write, with the connect callback
 *   called beforehand outside its "in callback" guard.  So the client never
 *   frees a context from its connect or disconnect path; it learns that the
 *   context is going away from the event-library cleanup hook, which
 *   __redisAsyncFree calls for every context (connected or not) after the
 *   pending reply callbacks have run with NULL and before the memory goes.
 * - The client frees a context only with redisAsyncFree, and clears its own
 *   pointer first.  Outside hiredis callbacks that frees at once (pending
 *   callbacks run with NULL); inside a reply callback of that context
 *   hiredis only marks it and frees it when the callback returns, which is
 *   why chat_redis_close may be called from any callback.
 * - redisAsyncDisconnect is not used: it waits for the replies still due,
 *   and the client wants pending callbacks completed now.
 *
 * Event library: a small adapter of our own, shaped like hiredis'
 * adapters/libuv.h, rather than that header, because the stock adapter
 * (a) leaks its struct when uv_poll_init fails, (b) ignores poll errors
 * (libuv reports a refused non-blocking connect as UV_EBADF and stops the
 * handle, so hiredis would never learn of the failure), and (c) frees its
 * handle with no notice, while closing must wait for every handle.  Each
 * context gets one redis_io_t (uv_poll_t on the socket); the client counts
 * open handles and requests and finishes closing when the count is 0.
 */
#include "redis.h"

#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <hiredis/async.h>

#include "../core/common.h"
#include "../core/log.h"

#define REDIS_CONNECT_TIMEOUT_MS 2000
#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
#define REDIS_DEFAULT_PORT 6379

typedef enum {
  REDIS_IDLE,       /* made, not started */
  REDIS_CONNECTING, /* an attempt: resolving, connecting or handshaking */
  REDIS_UP,         /* both connections ready */
  REDIS_BACKOFF,    /* waiting for the timer to try again */
  REDIS_CLOSING,    /* chat_redis_close called; waiting for handles */
} redis_state_t;

/* A remembered subscription. */
typedef struct {
  char *name;
  int pattern; /* 1: PSUBSCRIBE, 0: SUBSCRIBE */
} redis_sub_t;

struct chat_redis {
  uv_loop_t *loop;
  redis_state_t state;
  chat_redis_events_t ev;
  void *ud;
  chat_redis_closed_cb closed_cb;

  /* From the URL.  pass is binary (passlen bytes); NULL: no AUTH. */
  char *host;
  int host_is_ip; /* 1: connect to host directly, 0: resolve it first */
  int port;
  int db;
  char *user; /* NULL: AUTH with the password only */
  char *pass;
  size_t passlen;
  char addr[INET6_ADDRSTRLEN]; /* the address of the current attempt */

  /* The pair; NULL when absent or handed back to hiredis for freeing. */
  redisAsyncContext *cmd;
  redisAsyncContext *sub;
  int cmd_ready;   /* AUTH and SELECT answered OK on cmd */
  int sub_hello;   /* AUTH (or PING) answered OK on sub */
  int sub_pending; /* (P)SUBSCRIBE confirmations still due on sub */

  uv_timer_t timer;
  uv_getaddrinfo_t *gai; /* the current resolution, or NULL */
  unsigned open;         /* handles not yet closed + requests not done */

  unsigned failures; /* consecutive failed attempts (sets the backoff) */
  uint64_t attempts;
  uint64_t rng;

  redis_sub_t *subs;
  size_t nsubs, subs_cap;
};

/* One queued command: the caller's callback, until it has been called. */
typedef struct {
  chat_redis_t *r;
  chat_redis_reply_cb cb;
  void *ud;
} redis_req_t;

/* The event-library side of one context: a poll handle on its socket.
 * Freed in the handle's close callback, which may come after the context
 * itself is gone. */
typedef struct {
  uv_poll_t poll;
  chat_redis_t *r;
  redisAsyncContext *ac; /* NULL once hiredis has called cleanup */
  int events;
} redis_io_t;

static void redis_timer_cb(uv_timer_t *t);
static void redis_drop(chat_redis_t *r, const char *why);

/* ---- helpers ------------------------------------------------------------ */

static uint64_t redis_rand(chat_redis_t *r) {
  /* xorshift64: jitter only, no need for quality. */
  uint64_t x = r->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  r->rng = x;
  return x;
}

/* Delay before the next attempt: 100 ms doubling per consecutive failure up
 * to 5 s, then a uniform pick in [d/2, d] so that many instances that lost
 * the same server do not come back in lockstep. */
static uint64_t redis_backoff_ms(chat_redis_t *r) {
  unsigned shift = r->failures < 10 ? r->failures : 10;
  uint64_t d = (uint64_t)REDIS_BACKOFF_MIN_MS << shift;
  if (d > REDIS_BACKOFF_MAX_MS) d = REDIS_BACKOFF_MAX_MS;
  return d / 2 + redis_rand(r) % (d / 2 + 1);
}

static void redis_set_err(char *err, size_t errlen, const char *msg) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "bad Redis URL: %s", msg);
}

static int redis_hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into a new NUL-terminated string; *outlen gets
 * its length (it may hold NUL bytes).  NULL for a malformed escape. */
static char *redis_pct_decode(const char *s, size_t n, size_t *outlen) {
  char *out = chat_xmalloc(n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (n - i < 3) goto bad;
      int h = redis_hex((unsigned char)s[i + 1]);
      int l = redis_hex((unsigned char)s[i + 2]);
      if (h < 0 || l < 0) goto bad;
      out[j++] = (char)(h * 16 + l);
      i += 2;
    } else {
      out[j++] = s[i];
    }
  }
  out[j] = '\0';
  if (outlen) *outlen = j;
  return out;
bad:
  explicit_bzero(out, n + 1);
  free(out);
  return NULL;
}

/* Parses url into r's settings.  On failure returns -1 with err filled;
 * whatever was set is freed by the caller (redis_free). */
static int redis_parse_url(chat_redis_t *r, const char *url, char *err,
                           size_t errlen) {
  static const char scheme[] = "redis://";
  const size_t slen = sizeof(scheme) - 1;
  if (url == NULL || strncasecmp(url, scheme, slen) != 0) {
    redis_set_err(err, errlen, "expected redis://[[user]:password@]host[:port][/db]");
    return -1;
  }
  const char *p = url + slen;
  if (strpbrk(p, "?#") != NULL) {
    redis_set_err(err, errlen, "query and fragment are not supported");
    return -1;
  }
  const char *slash = strchr(p, '/');
  const char *end = slash ? slash : p + strlen(p);

  /* userinfo: up to the last '@' before the path (the password may hold
   * a raw '@'). */
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@') at = q;
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = p;
    if (colon != NULL) {
      if (colon > p) {
        r->user = redis_pct_decode(p, (size_t)(colon - p), NULL);
        if (r->user == NULL) {
          redis_set_err(err, errlen, "bad %-escape in the user name");
          return -1;
        }
      }
      pw = colon + 1;
    }
    if (at > pw) {
      r->pass = redis_pct_decode(pw, (size_t)(at - pw), &r->passlen);
      if (r->pass == NULL) {
        redis_set_err(err, errlen, "bad %-escape in the password");
        return -1;
      }
    }
    p = at + 1;
  }

  /* host: [v6] or up to ':' */
  const char *after;
  if (*p == '[') {
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (close == NULL) {
      redis_set_err(err, errlen, "unterminated [IPv6 address]");
      return -1;
    }
    r->host = chat_xstrndup(p + 1, (size_t)(close - p - 1));
    after = close + 1;
  } else {
    after = memchr(p, ':', (size_t)(end - p));
    if (after == NULL) after = end;
    r->host = chat_xstrndup(p, (size_t)(after - p));
  }
  if (r->host[0] == '\0') {
    redis_set_err(err, errlen, "missing host");
    return -1;
  }

  r->port = REDIS_DEFAULT_PORT;
  if (after < end) {
    if (*after != ':' || after + 1 == end) {
      redis_set_err(err, errlen, "bad port");
      return -1;
    }
    long port = 0;
    for (const char *q = after + 1; q < end; q++) {
      if (*q < '0' || *q > '9' || port > 65535) {
        redis_set_err(err, errlen, "bad port");
        return -1;
      }
      port = port * 10 + (*q - '0');
    }
    if (port < 1 || port > 65535) {
      redis_set_err(err, errlen, "port out of range");
      return -1;
    }
    r->port = (int)port;
  }

  r->db = 0;
  if (slash != NULL && slash[1] != '\0') {
    long db = 0;
    for (const char *q = slash + 1; *q; q++) {
      if (*q < '0' || *q > '9') {
        redis_set_err(err, errlen, "the database must be a number");
        return -1;
      }
      db = db * 10 + (*q - '0');
      if (db > 1000000) {
        redis_set_err(err, errlen, "database number out of range");
        return -1;
      }
    }
    r->db = (int)db;
  }

  unsigned char buf[sizeof(struct in6_addr)];
  r->host_is_ip = inet_pton(AF_INET, r->host, buf) == 1 ||
                  inet_pton(AF_INET6, r->host, buf) == 1;
  if (r->host_is_ip) snprintf(r->addr, sizeof(r->addr), "%s", r->host);
  return 0;
}

static void redis_free(chat_redis_t *r) {
  for (size_t i = 0; i < r->nsubs; i++) free(r->subs[i].name);
  free(r->subs);
  if (r->pass != NULL) {
    explicit_bzero(r->pass, r->passlen);
    free(r->pass);
  }
  free(r->user);
  free(r->host);
  free(r);
}

/* Frees r once closing has nothing left to wait for. */
static void redis_maybe_finish(chat_redis_t *r) {
  if (r->state != REDIS_CLOSING || r->open > 0) return;
  if (r->closed_cb != NULL) r->closed_cb(r, r->ud);
  redis_free(r);
}

static void redis_handle_close_cb(uv_handle_t *h) {
  chat_redis_t *r = h->data;
  r->open--;
  redis_maybe_finish(r);
}

/* ---- event-library adapter ---------------------------------------------- */

static void redis_io_cb(uv_poll_t *h, int status, int events);

static void redis_io_update(redis_io_t *io) {
  if (io->ac == NULL) return;
  int rc = io->events ? uv_poll_start(&io->poll, io->events, redis_io_cb)
                      : uv_poll_stop(&io->poll);
  if (rc != 0)
    chat_log_warn("redis %s:%d: poll: %s", io->r->host, io->r->port,
                  uv_strerror(rc));
}

static void redis_io_add_read(void *privdata) {
  redis_io_t *io = privdata;
  io->events |= UV_READABLE;
  redis_io_update(io);
}

static void redis_io_del_read(void *privdata) {
  redis_io_t *io = privdata;
  io->events &= ~UV_READABLE;
  redis_io_update(io);
}

static void redis_io_add_write(void *privdata) {
  redis_io_t *io = privdata;
  io->events |= UV_WRITABLE;
  redis_io_update(io);
}

static void redis_io_del_write(void *privdata) {
  redis_io_t *io = privdata;
  io->events &= ~UV_WRITABLE;
  redis_io_update(io);
}

static void redis_io_close_cb(uv_handle_t *h) {
  redis_io_t *io = container_of((uv_poll_t *)h, redis_io_t, poll);
  chat_redis_t *r = io->r;
  free(io);
  r->open--;
  redis_maybe_finish(r);
}

/* A context of ours is about to be freed by hiredis (or by us). */
static void redis_ctx_gone(chat_redis_t *r, redisAsyncContext *ac) {
  if (ac == r->cmd)
    r->cmd = NULL;
  else if (ac == r->sub)
    r->sub = NULL;
  else
    return; /* already detached by redis_drop or chat_redis_close */
  redis_drop(r, ac->err ? ac->errstr : "connection closed");
}

/* hiredis' cleanup hook, called from __redisAsyncFree for every context
 * with the adapter attached, after its pending callbacks have run. */
static void redis_io_cleanup(void *privdata) {
  redis_io_t *io = privdata;
  redisAsyncContext *ac = io->ac;
  if (ac == NULL) return;
  io->ac = NULL;
  /* No more calls into io from this context: io outlives it only until
   * its close callback. */
  ac->ev.data = NULL;
  ac->ev.addRead = ac->ev.delRead = NULL;
  ac->ev.addWrite = ac->ev.delWrite = NULL;
  ac->ev.cleanup = NULL;
  uv_close((uv_handle_t *)&io->poll, redis_io_close_cb);
  redis_ctx_gone(io->r, ac);
}

static void redis_io_cb(uv_poll_t *h, int status, int events) {
  redis_io_t *io = container_of(h, redis_io_t, poll);
  if (status < 0) {
    /* libuv has stopped the handle (a refused or reset connection shows up
     * here as UV_EBADF).  Let hiredis read the socket error so it frees the
     * context with a real reason; if it keeps the context, drop it. */
    chat_log_debug("redis %s:%d: poll: %s", io->r->host, io->r->port,
                   uv_strerror(status));
    if (io->ac != NULL) {
      if (!(io->ac->c.flags & REDIS_CONNECTED))
        redisAsyncHandleWrite(io->ac);
      else
        redisAsyncHandleRead(io->ac);
    }
    if (io->ac != NULL) {
      redisAsyncContext *ac = io->ac;
      chat_redis_t *r = io->r;
      if (ac == r->cmd || ac == r->sub)
        redis_drop(r, uv_strerror(status));
      else
        redisAsyncFree(ac);
    }
    return;
  }
  if (io->ac != NULL && (events & UV_READABLE)) redisAsyncHandleRead(io->ac);
  if (io->ac != NULL && (events & UV_WRITABLE)) redisAsyncHandleWrite(io->ac);
}

/* Attaches a poll handle to ac.  On failure nothing is attached and the
 * caller frees ac. */
static int redis_io_attach(chat_redis_t *r, redisAsyncContext *ac) {
  redis_io_t *io = chat_xcalloc(1, sizeof(*io));
  int rc = uv_poll_init(r->loop, &io->poll, ac->c.fd);
  if (rc != 0) {
    free(io);
    return rc;
  }
  io->r = r;
  io->ac = ac;
  r->open++;
  ac->ev.data = io;
  ac->ev.addRead = redis_io_add_read;
  ac->ev.delRead = redis_io_del_read;
  ac->ev.addWrite = redis_io_add_write;
  ac->ev.delWrite = redis_io_del_write;
  ac->ev.cleanup = redis_io_cleanup;
  return 0;
}

/* ---- connection pair ------------------------------------------------------ */

/* Takes both contexts (and the resolution) away from r and frees them.
 * Pending command callbacks run with NULL, possibly re-entering the API:
 * r's pointers are cleared first so that nothing reaches a dying context. */
static void redis_detach_all(chat_redis_t *r) {
  redisAsyncContext *cmd = r->cmd, *sub = r->sub;
  if (r->gai != NULL) {
    /* Its callback still comes (UV_ECANCELED or a result that is ignored)
     * and frees the request. */
    uv_cancel((uv_req_t *)r->gai);
    r->gai = NULL;
  }
  r->cmd = r->sub = NULL;
  r->cmd_ready = r->sub_hello = 0;
  r->sub_pending = 0;
  if (sub != NULL) redisAsyncFree(sub);
  if (cmd != NULL) redisAsyncFree(cmd);
}

/* The pair failed or was lost: tear it down, retry later, tell the user if
 * it had been up.  Does nothing outside CONNECTING and UP, so every path
 * that notices a failure may call it. */
static void redis_drop(chat_redis_t *r, const char *why) {
  if (r->state != REDIS_CONNECTING && r->state != REDIS_UP) return;
  int was_up = r->state == REDIS_UP;
  r->state = REDIS_BACKOFF;
  uv_timer_stop(&r->timer);
  if (was_up)
    chat_log_warn("redis %s:%d: connection lost: %s; reconnecting", r->host,
                  r->port, why);
  else if (r->failures == 0)
    chat_log_warn("redis %s:%d: cannot connect: %s; retrying", r->host,
                  r->port, why);
  else if (r->failures % 60 == 0)
    chat_log_warn("redis %s:%d: still cannot connect after %u attempts: %s",
                  r->host, r->port, r->failures + 1, why);
  else
    chat_log_debug("redis %s:%d: attempt %llu failed: %s", r->host, r->port,
                   (unsigned long long)r->attempts, why);
  redis_detach_all(r);
  if (r->state != REDIS_BACKOFF) return; /* closed by a callback */
  uint64_t delay = redis_backoff_ms(r);
  if (r->failures < UINT32_MAX) r->failures++;
  uv_timer_start(&r->timer, redis_timer_cb, delay, 0);
  if (was_up && r->ev.on_state != NULL) r->ev.on_state(r, 0, r->ud);
}

static void redis_maybe_up(chat_redis_t *r) {
  if (r->state != REDIS_CONNECTING || !r->cmd_ready || !r->sub_hello ||
      r->sub_pending > 0)
    return;
  r->state = REDIS_UP;
  r->failures = 0;
  uv_timer_stop(&r->timer);
  chat_log_info("redis %s:%d: connected (db %d)", r->host, r->port, r->db);
  if (r->ev.on_state != NULL) r->ev.on_state(r, 1, r->ud);
}

/* An error reply to a handshake command: drop with Redis' message (which
 * never contains the password). */
static int redis_hs_failed(chat_redis_t *r, const char *what,
                           const redisReply *reply) {
  if (reply->type != REDIS_REPLY_ERROR) return 0;
  char why[256];
  snprintf(why, sizeof(why), "%s: %.200s", what, reply->str ? reply->str : "");
  redis_drop(r, why);
  return 1;
}

static void redis_auth_cb(redisAsyncContext *ac, void *rep, void *privdata) {
  chat_redis_t *r = privdata;
  /* NULL: the context is going away; its cleanup reports why. */
  if (rep == NULL || (ac != r->cmd && ac != r->sub)) return;
  redis_hs_failed(r, "AUTH failed", rep);
}

static void redis_select_cb(redisAsyncContext *ac, void *rep, void *privdata) {
  chat_redis_t *r = privdata;
  if (rep == NULL || ac != r->cmd) return;
  if (redis_hs_failed(r, "SELECT failed", rep)) return;
  r->cmd_ready = 1;
  redis_maybe_up(r);
}

static void redis_sub_cb(redisAsyncContext *ac, void *rep, void *privdata);

static int redis_sub_send(chat_redis_t *r, const redis_sub_t *s) {
  const char *argv[2] = {s->pattern ? "PSUBSCRIBE" : "SUBSCRIBE", s->name};
  if (redisAsyncCommandArgv(r->sub, redis_sub_cb, r, 2, argv, NULL) != REDIS_OK)
    return -1;
  r->sub_pending++;
  return 0;
}

/* The subscription connection answered AUTH or PING: (re)subscribe.  Only
 * then, because hiredis files replies in subscribed mode differently and an
 * error to a pipelined AUTH would be lost among them. */
static void redis_sub_hello_cb(redisAsyncContext *ac, void *rep,
                               void *privdata) {
  chat_redis_t *r = privdata;
  if (rep == NULL || ac != r->sub || r->sub_hello) return;
  if (redis_hs_failed(r, r->pass ? "AUTH failed" : "PING failed", rep)) return;
  r->sub_hello = 1;
  for (size_t i = 0; i < r->nsubs; i++) {
    if (redis_sub_send(r, &r->subs[i]) != 0) {
      redis_drop(r, "cannot queue SUBSCRIBE");
      return;
    }
  }
  redis_maybe_up(r);
}

static int redis_is_str(const redisReply *e) {
  return e != NULL && e->type == REDIS_REPLY_STRING && e->str != NULL;
}

/* Every reply on the subscription connection after the hello: confirmations
 * and messages. */
static void redis_sub_cb(redisAsyncContext *ac, void *rep, void *privdata) {
  chat_redis_t *r = privdata;
  const redisReply *reply = rep;
  if (reply == NULL || ac != r->sub) return;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
      !redis_is_str(reply->element[0]))
    return;
  const char *kind = reply->element[0]->str;
  if (strcasecmp(kind, "message") == 0) {
    if (reply->elements == 3 && redis_is_str(reply->element[1]) &&
        redis_is_str(reply->element[2]) && r->ev.on_message != NULL)
      r->ev.on_message(r, reply->element[1]->str, reply->element[2]->str,
                       reply->element[2]->len, r->ud);
  } else if (strcasecmp(kind, "pmessage") == 0) {
    if (reply->elements == 4 && redis_is_str(reply->element[2]) &&
        redis_is_str(reply->element[3]) && r->ev.on_message != NULL)
      r->ev.on_message(r, reply->element[2]->str, reply->element[3]->str,
                       reply->element[3]->len, r->ud);
  } else if (strcasecmp(kind, "subscribe") == 0 ||
             strcasecmp(kind, "psubscribe") == 0) {
    if (r->sub_pending > 0) r->sub_pending--;
    redis_maybe_up(r);
  }
}

static void redis_connect_cb(const redisAsyncContext *ac, int status) {
  /* Called by hiredis 0.14 outside its callback guard: never free here.
   * On failure hiredis frees ac next and the cleanup hook reports it. */
  chat_redis_t *r = ac->data;
  if (status == REDIS_OK)
    chat_log_debug("redis %s:%d: TCP connected", r->host, r->port);
}

/* A new context to addr, with the adapter attached.  NULL on failure, with
 * the reason in why. */
static redisAsyncContext *redis_open(chat_redis_t *r, const char *addr,
                                     char *why, size_t whylen) {
  redisAsyncContext *ac = redisAsyncConnect(addr, r->port);
  if (ac == NULL) {
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  if (ac->err) {
    snprintf(why, whylen, "%s", ac->errstr);
    redisAsyncFree(ac);
    return NULL;
  }
  int rc = redis_io_attach(r, ac);
  if (rc != 0) {
    snprintf(why, whylen, "uv_poll_init: %s", uv_strerror(rc));
    redisAsyncFree(ac); /* nothing attached: no cleanup hook runs */
    return NULL;
  }
  ac->data = r;
  redisEnableKeepAlive(&ac->c);
  redisAsyncSetConnectCallback(ac, redis_connect_cb);
  return ac;
}

/* Queues a command on ac; 0 or -1. */
static int redis_send(chat_redis_t *r, redisAsyncContext *ac,
                      redisCallbackFn *fn, int argc, const char **argv,
                      const size_t *lens) {
  return redisAsyncCommandArgv(ac, fn, r, argc, argv, lens) == REDIS_OK ? 0
                                                                        : -1;
}

/* Queues AUTH [user] password on ac. */
static int redis_send_auth(chat_redis_t *r, redisAsyncContext *ac,
                           redisCallbackFn *fn) {
  const char *argv[3];
  size_t lens[3];
  int argc = 0;
  argv[argc] = "AUTH";
  lens[argc++] = 4;
  if (r->user != NULL) {
    argv[argc] = r->user;
    lens[argc++] = strlen(r->user);
  }
  argv[argc] = r->pass;
  lens[argc++] = r->passlen;
  return redis_send(r, ac, fn, argc, argv, lens);
}

/* Makes both connections to addr and queues their handshakes. */
static void redis_connect_pair(chat_redis_t *r, const char *addr) {
  char why[256];
  r->cmd = redis_open(r, addr, why, sizeof(why));
  if (r->cmd == NULL) {
    redis_drop(r, why);
    return;
  }
  r->sub = redis_open(r, addr, why, sizeof(why));
  if (r->sub == NULL) {
    redis_drop(r, why);
    return;
  }

  /* Command connection: AUTH and SELECT pipelined; an AUTH error fails the
   * attempt before SELECT's answer matters. */
  char db[16];
  snprintf(db, sizeof(db), "%d", r->db);
  const char *select[2] = {"SELECT", db};
  const char *ping[1] = {"PING"};
  int rc = 0;
  if (r->pass != NULL) rc |= redis_send_auth(r, r->cmd, redis_auth_cb);
  rc |= redis_send(r, r->cmd, redis_select_cb, 2, select, NULL);
  /* Subscription connection: AUTH or PING, then the subscriptions. */
  if (r->pass != NULL)
    rc |= redis_send_auth(r, r->sub, redis_sub_hello_cb);
  else
    rc |= redis_send(r, r->sub, redis_sub_hello_cb, 1, ping, NULL);
  if (rc != 0) redis_drop(r, "cannot queue the handshake");
}

static void redis_gai_cb(uv_getaddrinfo_t *req, int status,
                         struct addrinfo *res) {
  chat_redis_t *r = req->data;
  int current = req == r->gai;
  if (current) r->gai = NULL;
  if (current && r->state == REDIS_CONNECTING) {
    const struct addrinfo *pick = NULL;
    if (status == 0) {
      /* IPv4 first, as hiredis does, then IPv6. */
      for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
        if (a->ai_family == AF_INET) pick = a;
      for (const struct addrinfo *a = res; a && !pick; a = a->ai_next)
        if (a->ai_family == AF_INET6) pick = a;
    }
    int rc = UV_EAI_NONAME;
    if (pick != NULL && pick->ai_family == AF_INET)
      rc = uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, r->addr,
                       sizeof(r->addr));
    else if (pick != NULL)
      rc = uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, r->addr,
                       sizeof(r->addr));
    if (status != 0) rc = status;
    if (rc == 0) {
      redis_connect_pair(r, r->addr);
    } else {
      char why[128];
      snprintf(why, sizeof(why), "resolving the host: %s", uv_strerror(rc));
      redis_drop(r, why);
    }
  }
  uv_freeaddrinfo(res);
  free(req);
  r->open--;
  redis_maybe_finish(r);
}

/* Starts one attempt; its deadline is the timer. */
static void redis_attempt(chat_redis_t *r) {
  r->state = REDIS_CONNECTING;
  r->attempts++;
  r->cmd_ready = r->sub_hello = 0;
  r->sub_pending = 0;
  uv_timer_start(&r->timer, redis_timer_cb, REDIS_CONNECT_TIMEOUT_MS, 0);
  if (r->host_is_ip) {
    redis_connect_pair(r, r->host);
    return;
  }
  uv_getaddrinfo_t *req = chat_xcalloc(1, sizeof(*req));
  req->data = r;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(r->loop, req, redis_gai_cb, r->host, NULL, &hints);
  if (rc != 0) {
    free(req);
    char why[128];
    snprintf(why, sizeof(why), "resolving the host: %s", uv_strerror(rc));
    redis_drop(r, why);
    return;
  }
  r->gai = req;
  r->open++;
}

static void redis_timer_cb(uv_timer_t *t) {
  chat_redis_t *r = container_of(t, chat_redis_t, timer);
  switch (r->state) {
    case REDIS_IDLE:
    case REDIS_BACKOFF:
      redis_attempt(r);
      break;
    case REDIS_CONNECTING:
      redis_drop(r, "timed out");
      break;
    case REDIS_UP:
    case REDIS_CLOSING:
      break;
  }
}

/* ---- API ------------------------------------------------------------------ */

chat_redis_t *chat_redis_new(uv_loop_t *loop, const char *url,
                             const chat_redis_events_t *ev, void *ud,
                             char *err, size_t errlen) {
  chat_redis_t *r = chat_xcalloc(1, sizeof(*r));
  if (redis_parse_url(r, url, err, errlen) != 0) {
    redis_free(r);
    return NULL;
  }
  r->loop = loop;
  r->state = REDIS_IDLE;
  if (ev != NULL) r->ev = *ev;
  r->ud = ud;
  r->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)r ^ 0x9e3779b97f4a7c15ull;
  if (r->rng == 0) r->rng = 1;
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  r->open = 1;
  return r;
}

int chat_redis_start(chat_redis_t *r) {
  assert(r->state == REDIS_IDLE);
  if (r->state == REDIS_IDLE)
    uv_timer_start(&r->timer, redis_timer_cb, 0, 0);
  return 0;
}

int chat_redis_is_up(const chat_redis_t *r) { return r->state == REDIS_UP; }

uint64_t chat_redis_attempts(const chat_redis_t *r) { return r->attempts; }

/* The name of a command that must not run on the shared command connection
 * (it would change its state or its stream of replies), or NULL. */
static const char *redis_refused(int argc, const char **argv,
                                 const size_t *argvlen) {
  static const char *const names[] = {
      "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
      "SUNSUBSCRIBE", "MONITOR", "SELECT", "AUTH", "HELLO", "RESET", "QUIT",
      "SYNC", "PSYNC", "REPLCONF",
  };
  size_t len = argvlen ? argvlen[0] : strlen(argv[0]);
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(names); i++)
    if (strlen(names[i]) == len && strncasecmp(argv[0], names[i], len) == 0)
      return names[i];
  if (len == 6 && strncasecmp(argv[0], "CLIENT", 6) == 0 && argc > 1) {
    size_t l1 = argvlen ? argvlen[1] : strlen(argv[1]);
    if (l1 == 5 && strncasecmp(argv[1], "REPLY", 5) == 0) return "CLIENT REPLY";
  }
  return NULL;
}

static void redis_reply_cb(redisAsyncContext *ac, void *rep, void *privdata) {
  redis_req_t *req = privdata;
  chat_redis_t *r = req->r;
  chat_redis_reply_cb cb = req->cb;
  void *ud = req->ud;
  free(req);
  if (cb != NULL) cb(r, rep, ud);
}

int chat_redis_command(chat_redis_t *r, chat_redis_reply_cb cb, void *ud,
                       int argc, const char **argv, const size_t *argvlen) {
  if (r->state != REDIS_UP || r->cmd == NULL) return -1;
  if (argc < 1 || argv == NULL || argv[0] == NULL) return -1;
  const char *refused = redis_refused(argc, argv, argvlen);
  if (refused != NULL) {
    chat_log_warn("redis: refused %s: it would change the shared connection",
                  refused);
    return -1;
  }
  redis_req_t *req = chat_xmalloc(sizeof(*req));
  req->r = r;
  req->cb = cb;
  req->ud = ud;
  if (redisAsyncCommandArgv(r->cmd, redis_reply_cb, req, argc, argv,
                            argvlen) != REDIS_OK) {
    free(req);
    return -1;
  }
  return 0;
}

static void redis_publish_cb(redisAsyncContext *ac, void *rep, void *privdata) {
  const redisReply *reply = rep;
  chat_redis_t *r = privdata;
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    chat_log_warn("redis %s:%d: PUBLISH failed: %.200s", r->host, r->port,
                  reply->str ? reply->str : "");
}

int chat_redis_publish(chat_redis_t *r, const char *channel, const char *data,
                       size_t len) {
  if (r->state != REDIS_UP || r->cmd == NULL) return -1;
  const char *argv[3] = {"PUBLISH", channel, data};
  size_t lens[3] = {7, strlen(channel), len};
  /* privdata r: a publish still pending at close is completed (with NULL)
   * before r is freed. */
  return redisAsyncCommandArgv(r->cmd, redis_publish_cb, r, 3, argv, lens) ==
                 REDIS_OK
             ? 0
             : -1;
}

static void redis_add_sub(chat_redis_t *r, const char *name, int pattern) {
  if (r->state == REDIS_CLOSING) return;
  for (size_t i = 0; i < r->nsubs; i++)
    if (r->subs[i].pattern == pattern && strcmp(r->subs[i].name, name) == 0)
      return;
  if (r->nsubs == r->subs_cap) {
    r->subs_cap = r->subs_cap ? r->subs_cap * 2 : 8;
    r->subs = chat_xrealloc(r->subs, r->subs_cap * sizeof(*r->subs));
  }
  redis_sub_t *s = &r->subs[r->nsubs++];
  s->name = chat_xstrdup(name);
  s->pattern = pattern;
  /* Before the hello is answered, the hello callback sends the whole list. */
  if (r->sub != NULL && r->sub_hello && redis_sub_send(r, s) != 0)
    redis_drop(r, "cannot queue SUBSCRIBE");
}

void chat_redis_subscribe(chat_redis_t *r, const char *channel) {
  redis_add_sub(r, channel, 0);
}

void chat_redis_psubscribe(chat_redis_t *r, const char *pattern) {
  redis_add_sub(r, pattern, 1);
}

void chat_redis_close(chat_redis_t *r, chat_redis_closed_cb closed_cb) {
  assert(r->state != REDIS_CLOSING);
  if (r->state == REDIS_CLOSING) return;
  r->state = REDIS_CLOSING;
  r->closed_cb = closed_cb;
  uv_close((uv_handle_t *)&r->timer, redis_handle_close_cb);
  redis_detach_all(r);
  /* Finishes in the close callbacks: at least the timer's is still due. */
}
