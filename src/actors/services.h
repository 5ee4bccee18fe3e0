/* The services: what a room, a connection or a DM actor may use besides its
 * own state, handed to it (const) when it is created.
 *
 * The server fills one chat_services_t, owns every module it points to and
 * keeps them alive until the last actor is gone.  A test fills its own: a
 * storage or a presence of its own (both are ops tables), and NULL for the
 * modules the actors under test do not reach.  Actors never write the
 * struct; they call the modules it points to.
 *
 * Threads: everything here belongs to the loop thread. */
#ifndef CHAT_ACTORS_SERVICES_H
#define CHAT_ACTORS_SERVICES_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../core/histo.h"

typedef struct chat_sched_s chat_sched_t;
typedef struct chat_storage_s chat_storage_t;
typedef struct chat_presence_s chat_presence_t;
typedef struct chat_notifier_s chat_notifier_t;
typedef struct chat_roomdir_s chat_roomdir_t;
typedef struct chat_registry_s chat_registry_t;
typedef struct chat_cluster_s chat_cluster_t;
typedef struct chat_limiter_s chat_limiter_t;
typedef struct chat_hasher_s chat_hasher_t;
typedef struct chat_tls_s chat_tls_t;
typedef struct chat_proxies_s chat_proxies_t;
typedef struct chat_embed_s chat_embed_t;

/* The configuration the actors read (strings owned by whoever fills it). */
typedef struct {
  size_t ws_max_message;     /* the largest WebSocket message accepted */
  size_t ws_out_cap;         /* bytes queued and in flight per connection before 1013 */
  int64_t session_ms;        /* a new session's lifetime */
  size_t http_out_cap;       /* HTTP answers queued before the next request is read */
  size_t max_ws_user;        /* WebSockets per user here (0: no limit) */
  const char *public_dir;    /* the front end's static files */
  const char *vendor_dir;    /* served under /vendor/bootstrap/ */
  int https_port;            /* the TLS listener's port: where the plain HTTP
                                redirect sends browsers (443: left out) */
  int metrics_access;        /* who may read /metrics: a chat_access_mode_t (net/access.h) */
  const char *metrics_token; /* its bearer token, or NULL */
  int order_gap_ms;          /* a room waits this for a missing message
                                before reading it from the store (0: 25) */
  int order_check_ms;        /* with several instances, every room's last_seq
                                is checked this often (0: 1000) */
  /* files: the folder of their bytes, the largest file, one user's total */
  const char *files_dir;
  size_t file_max;
  size_t file_quota;
  /* embed: the mount point ("" or "/chat": no trailing "/") */
  const char *url_prefix;
  size_t url_prefix_len;
} chat_limits_t;

/* Counters for /metrics, bumped by the actors that see the events. */
typedef struct {
  uint64_t conns_total;      /* connections accepted */
  uint64_t http_requests;
  uint64_t ws_frames_in;     /* WebSocket messages received */
  uint64_t messages_sent;    /* room messages stored and broadcast */
  uint64_t conns_refused;    /* connections refused at accept (too many) */
  uint64_t frames_limited;   /* WebSocket frames refused by flood control */
  uint64_t ws_refused;       /* WebSockets closed at once: too many for the user */
  uint64_t ws_dead_peers;    /* WebSockets closed: nothing received for two ping intervals */
  /* operations (net/metrics.c renders them) */
  uint64_t dms_in;           /* direct messages stored */
  uint64_t deliveries;       /* message and DM frames posted to WebSockets here */
  uint64_t slow_closes;      /* WebSockets closed with 1013: output over ws_out_cap */
  uint64_t socket_writes;    /* writes of queued output to sockets (conn.c) */
  uint64_t socket_write_ns;  /* time in them: the kernel's send path, the reader's wakeup */
  uint64_t logins_failed;    /* logins answered 401 */
  chat_histo_t delivery_latency;  /* seconds from a room message's arrival at its
                                     room to its frames posted to the members */
} chat_metrics_t;

/* GET /healthz's last look at the store (api_ops.c), kept so that a flood of
 * probes costs the store at most one write probe a second.  Owned by the
 * server; loop thread only. */
typedef struct {
  int have;                  /* a probe has come back */
  int store;                 /* its result (api_ops.c's health_t) */
  uint64_t at_ms;            /* loop time it came back */
  int probing;               /* a probe is in flight */
  uint64_t probe_ms;         /* loop time it was queued */
} chat_health_t;

typedef struct chat_services_s {
  uv_loop_t *loop;
  chat_sched_t *sched;         /* every actor's scheduler */
  chat_storage_t *storage;     /* the only way to the store (storage.h) */
  chat_presence_t *presence;   /* who is online; publishing to other instances */
  chat_notifier_t *notifier;   /* NULL: no mail */
  struct chat_webhook_s *webhook; /* NULL: no webhook (webhook.h) */
  const chat_limits_t *limits;
  chat_roomdir_t *rooms;       /* room id -> room actor (roomdir.h) */
  chat_registry_t *registry;   /* every connection; users' WebSockets (registry.h) */
  struct chat_pacer_s *pacer;  /* output pacing under load (pacer.h); NULL: none */
  struct chat_static_cache_s *static_cache;  /* front-end files in memory (static_cache.h) */
  struct chat_apicache_s *apicache;  /* GET /api/rooms answers for a moment (apicache.h) */
  chat_cluster_t *cluster;     /* events for and from other instances (cluster.h) */
  chat_limiter_t *limiter;     /* abuse limits (limiter.h); NULL: none */
  chat_hasher_t *hasher;       /* password hashing (hasher.h); NULL: logins
                                  and registrations are answered busy */
  chat_tls_t *tls;             /* TLS settings (net/tls.h); NULL: plain HTTP */
  const chat_proxies_t *proxies; /* peers believed in X-Forwarded-For and
                                    -Proto (net/proxy.h); NULL: none */
  chat_metrics_t *metrics;
  chat_health_t *health;       /* NULL: /healthz probes the store every time */
  /* embed: the host's hooks (embed.h); NULL: none */
  chat_embed_t *embed;
  /* 1 between chat_server_start and chat_server_stop: while 0, no new
   * work is started (joins are refused, requests are not kept alive). */
  int running;
} chat_services_t;

#endif
