/* The server (server.h): configuration, the listener, the modules the
 * actors share, and the orderly stop. */
#include "server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "../core/limits.h"
#include "../core/log.h"
#include "../net/proxy.h"
#include "../net/tls.h"
#include "../net/access.h"
#include "../net/ws.h"
#include "actor.h"
#include "cluster.h"
#include "conn.h"
#include "embed.h"
#include "files_disk.h"
#include "hasher.h"
#include "limiter.h"
#include "notifier.h"
#include "apicache.h"
#include "pacer.h"
#include "static_cache.h"
#include "webhook.h"
#include "presence.h"
#include "registry.h"
#include "roomdir.h"
#include "services.h"
#include "storage.h"

typedef enum { SRV_NEW, SRV_RUNNING, SRV_STOPPING, SRV_STOPPED } srv_state_t;

struct chat_server_s {
  uv_loop_t *loop;
  srv_state_t state;
  /* configuration (strings owned) */
  char *listen_host;
  int listen_port;
  char *store_url;
  char *files_dir;             /* files: limits.files_dir */
  char *redis_url;
  char *public_dir;
  char *vendor_dir;
  char *redirect_host;          /* NULL: no plain HTTP redirect */
  int redirect_port;
  char *metrics_token;          /* NULL: none; wiped when freed */
  chat_limits_t limits;
  uint64_t ping_ms;             /* keepalive interval; 0: off */
  uint64_t drain_ms;            /* the stop's bound for closing connections */
  chat_tls_t *tls;              /* NULL: plain HTTP */
  int tls_reloads;              /* certificate reloads reading their files */
  chat_proxies_t proxies;

  chat_sched_t sched;
  chat_store_t *store;
  chat_metrics_t metrics;
  chat_health_t health;         /* /healthz's cached answer */
  chat_services_t svc;          /* points at the modules below and the fields above */
  uv_tcp_t listener;
  int listening;
  int port;
  uv_tcp_t redirect;            /* the plain HTTP redirect's listener */
  int redirecting;
  int redirect_bound;           /* its port, or -1 */

  /* stopping */
  int presence_closed;
  int aux_closing;              /* the last to close: notifier, hasher, presence,
                                   the directory's and the registry's timers */
  chat_server_stop_cb stop_cb;
  void *stop_ud;
  /* embed: the mount point (owned; "" for none) and the host's hooks */
  char *url_prefix;
  chat_embed_t embed;
};

/* embed: for embed.c */
chat_embed_t *chat_embed_of(chat_server_t *srv) { return &srv->embed; }
chat_services_t *chat_embed_services(chat_server_t *srv) { return &srv->svc; }

void chat_config_init(chat_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->listen_host = "127.0.0.1";
  cfg->listen_port = 8080;
  cfg->store_url = "sqlite:./data/chat.db";
  cfg->public_dir = "./public";
  cfg->vendor_dir = "/usr/share/bootstrap-html";
  cfg->store_pool = 4;
  cfg->ws_max_message = CHAT_WS_MAX_MESSAGE;
  cfg->ws_out_cap = CHAT_WS_OUT_CAP;
  cfg->session_days = 30;
  cfg->ws_rate = CHAT_WS_RATE;
  cfg->ws_burst = CHAT_WS_BURST;
  cfg->hash_threads = CHAT_HASH_THREADS;
  cfg->hash_queue = CHAT_HASH_QUEUE;
  cfg->register_limit = CHAT_REGISTER_LIMIT;
  cfg->register_period_s = CHAT_REGISTER_PERIOD_S;
  cfg->login_ip_limit = CHAT_LOGIN_IP_LIMIT;
  cfg->login_ip_period_s = CHAT_LOGIN_IP_PERIOD_S;
  cfg->login_free_fails = CHAT_LOGIN_FREE_FAILS;
  cfg->login_delay_s = CHAT_LOGIN_DELAY_S;
  cfg->login_delay_max_s = CHAT_LOGIN_DELAY_MAX_S;
  cfg->max_conns = CHAT_MAX_CONNS;
  cfg->max_conns_ip = CHAT_MAX_CONNS_IP;
  cfg->max_ws_user = CHAT_MAX_WS_USER;
  cfg->http_out_cap = CHAT_HTTP_OUT_CAP;
  cfg->ws_ping_interval_s = CHAT_WS_PING_INTERVAL_S;
  cfg->shutdown_drain_s = CHAT_SHUTDOWN_DRAIN_S;
  cfg->ws_pace_max_ms = CHAT_WS_PACE_MAX_MS;
}

/* The limiter's configuration from the server's. */
static void limiter_config(const chat_config_t *cfg, chat_limiter_config_t *lc) {
  memset(lc, 0, sizeof(*lc));
  lc->registrations.n = cfg->register_limit;
  lc->registrations.period_s = cfg->register_period_s;
  lc->login_fails_addr.n = cfg->login_ip_limit;
  lc->login_fails_addr.period_s = cfg->login_ip_period_s;
  lc->login_free_fails = cfg->login_free_fails;
  lc->login_base_ms = (int64_t)(cfg->login_delay_s * 1000);
  lc->login_max_ms = (int64_t)(cfg->login_delay_max_s * 1000);
  if (lc->login_max_ms < lc->login_base_ms) lc->login_max_ms = lc->login_base_ms;
  lc->frame_rate = cfg->ws_rate;
  lc->frame_burst = cfg->ws_burst > 1 ? cfg->ws_burst : 1;
  lc->max_conns = cfg->max_conns > 0 ? (size_t)cfg->max_conns : 0;
  lc->max_conns_addr = cfg->max_conns_ip > 0 ? (size_t)cfg->max_conns_ip : 0;
}

/* Seconds of the configuration as milliseconds: 0 for none or less, at
 * most a day. */
static uint64_t seconds_ms(double s) {
  if (!(s > 0)) return 0;
  return s >= 86400 ? 86400000 : (uint64_t)(s * 1000 + 0.5);
}

/* ---- life cycle ------------------------------------------------------- */

static void free_secret(char *s) {
  if (s == NULL) return;
  volatile char *p = s;
  while (*p) *p++ = '\0';
  free(s);
}

static void maybe_stopped(chat_server_t *srv);

static void conn_removed_cb(void *ud) { maybe_stopped(ud); }

/* files: the folder of uploaded files (malloc'ed): the configured one, else
 * "files" next to the SQLite database, else ./data/files. */
static char *files_dir_of(const chat_config_t *cfg) {
  if (cfg->files_dir && cfg->files_dir[0]) return chat_xstrdup(cfg->files_dir);
  const char *url = cfg->store_url ? cfg->store_url : "";
  if (strncmp(url, "mysql:", 6) == 0) return chat_xstrdup("./data/files");
  if (strncmp(url, "sqlite:", 7) == 0) url += 7;
  const char *slash = strrchr(url, '/');
  size_t n = slash ? (size_t)(slash - url) : 0;
  size_t cap = n + 16;
  char *d = chat_xmalloc(cap);
  if (slash == NULL)
    snprintf(d, cap, "files");
  else
    snprintf(d, cap, "%.*s/files", (int)(slash == url ? 0 : n), url);
  return d;
}

int chat_server_new(uv_loop_t *loop, const chat_config_t *cfg, chat_server_t **out,
                    char *err, size_t errlen) {
  if (chat_auth_init() != 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return CHAT_EIO;
  }
  int has_token = cfg->metrics_token && *cfg->metrics_token;
  chat_access_mode_t metrics_access;
  switch (cfg->metrics_access) {
    case CHAT_METRICS_LOCAL: metrics_access = CHAT_ACCESS_LOCAL; break;
    case CHAT_METRICS_TOKEN: metrics_access = CHAT_ACCESS_TOKEN; break;
    case CHAT_METRICS_OPEN: metrics_access = CHAT_ACCESS_OPEN; break;
    default:
      snprintf(err, errlen, "unknown metrics_access %d", cfg->metrics_access);
      return CHAT_EINVAL;
  }
  if (metrics_access == CHAT_ACCESS_TOKEN && !has_token) {
    snprintf(err, errlen, "metrics for token holders only, but no metrics token is set");
    return CHAT_EINVAL;
  }
  chat_server_t *srv = chat_xcalloc(1, sizeof(*srv));
  srv->loop = loop;
  srv->state = SRV_NEW;
  srv->listen_host = chat_xstrdup(cfg->listen_host);
  srv->listen_port = cfg->listen_port;
  srv->store_url = chat_xstrdup(cfg->store_url);
  srv->redis_url = cfg->redis_url ? chat_xstrdup(cfg->redis_url) : NULL;
  srv->public_dir = chat_xstrdup(cfg->public_dir);
  srv->vendor_dir = chat_xstrdup(cfg->vendor_dir);
  srv->limits.ws_max_message = cfg->ws_max_message;
  srv->limits.ws_out_cap = cfg->ws_out_cap;
  srv->limits.session_ms = (int64_t)cfg->session_days * 24 * 3600 * 1000;
  srv->limits.http_out_cap = cfg->http_out_cap ? cfg->http_out_cap : CHAT_HTTP_OUT_CAP;
  srv->limits.max_ws_user = cfg->max_ws_user > 0 ? (size_t)cfg->max_ws_user : 0;
  srv->limits.order_gap_ms = cfg->order_gap_ms > 0 && cfg->order_gap_ms < 60000
                                 ? (int)cfg->order_gap_ms : 0;
  srv->limits.order_check_ms = cfg->order_check_ms > 0 && cfg->order_check_ms < 3600000
                                   ? (int)cfg->order_check_ms : 0;
  srv->ping_ms = seconds_ms(cfg->ws_ping_interval_s);
  srv->drain_ms = seconds_ms(cfg->shutdown_drain_s);
  srv->limits.public_dir = srv->public_dir;
  srv->limits.vendor_dir = srv->vendor_dir;
  srv->metrics_token = has_token ? chat_xstrdup(cfg->metrics_token) : NULL;
  srv->limits.metrics_access = metrics_access;
  srv->limits.metrics_token = srv->metrics_token;
  /* files: the folder (made at start), the size limits */
  srv->files_dir = files_dir_of(cfg);
  srv->limits.files_dir = srv->files_dir;
  srv->limits.file_max = cfg->file_max ? cfg->file_max : CHAT_FILE_MAX_DEFAULT;
  srv->limits.file_quota = cfg->file_quota ? cfg->file_quota : CHAT_FILE_QUOTA_DEFAULT;
  srv->port = -1;
  srv->redirect_bound = -1;

  int rc = CHAT_EINVAL;
  /* embed: the mount point */
  if (chat_embed_prefix_check(cfg->url_prefix, err, errlen) != 0) goto fail_tls;
  srv->url_prefix = chat_xstrdup(cfg->url_prefix ? cfg->url_prefix : "");
  srv->limits.url_prefix = srv->url_prefix;
  srv->limits.url_prefix_len = strlen(srv->url_prefix);
  srv->embed.srv = srv;
  if (!cfg->tls_cert != !cfg->tls_key) {
    snprintf(err, errlen, "TLS needs both a certificate and a key");
    goto fail_tls;
  }
  if (cfg->redirect_host && !cfg->tls_cert) {
    snprintf(err, errlen, "the HTTP redirect needs TLS (a certificate and a key)");
    goto fail_tls;
  }
  if (cfg->tls_cert && (rc = chat_tls_new(cfg->tls_cert, cfg->tls_key, &srv->tls, err,
                                          errlen)) != 0)
    goto fail_tls;
  if ((rc = chat_proxies_parse(cfg->trusted_proxies, &srv->proxies, err, errlen)) != 0)
    goto fail_proxies;
  if (cfg->redirect_host) {
    srv->redirect_host = chat_xstrdup(cfg->redirect_host);
    srv->redirect_port = cfg->redirect_port;
  }

  rc = chat_store_open(srv->store_url, cfg->store_pool > 0 ? cfg->store_pool : 1,
                           &srv->store, err, errlen);
  if (rc != 0) goto fail_store;
  if (chat_files_dir_make(srv->files_dir) != 0) {  /* files */
    snprintf(err, errlen, "cannot make the files folder %s", srv->files_dir);
    rc = CHAT_EIO;
    goto fail_rooms;
  }
  chat_room_rec_t *rooms = NULL;
  size_t nrooms = 0;
  rc = chat_store_room_list(srv->store, &rooms, &nrooms);
  if (rc != 0) {
    snprintf(err, errlen, "could not read the rooms from the store");
    goto fail_rooms;
  }
  rc = chat_sched_init(&srv->sched, loop);
  if (rc != 0) {
    snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
    goto fail_sched;
  }
  chat_services_t *svc = &srv->svc;
  svc->loop = loop;
  svc->sched = &srv->sched;
  svc->limits = &srv->limits;
  svc->metrics = &srv->metrics;
  svc->health = &srv->health;
  svc->tls = srv->tls;
  svc->proxies = &srv->proxies;
  svc->embed = &srv->embed;
  /* Password hashing on threads of its own, so that it never holds up the
   * store's thread pool. */
  size_t hash_queue = cfg->hash_queue > 0 ? (size_t)cfg->hash_queue : 1;
  svc->hasher = chat_hasher_new(loop, cfg->hash_threads, hash_queue, NULL, err, errlen);
  if (svc->hasher == NULL) {
    rc = CHAT_EIO;
    goto fail_hasher;
  }
  svc->cluster = chat_cluster_new(svc);
  if (srv->redis_url) {
    svc->presence = chat_presence_redis_new(loop, srv->redis_url, chat_cluster_online_cb,
                                            chat_cluster_event_cb, svc->cluster, err, errlen);
    if (svc->presence == NULL) {
      /* Only a malformed URL gets here: nothing has started yet but the
       * scheduler, whose handles must close before the memory goes. */
      rc = CHAT_EINVAL;
      goto fail_presence;
    }
    svc->presence->on_backend = chat_cluster_backend_cb;
  } else {
    svc->presence = chat_presence_local_new(chat_cluster_online_cb, chat_cluster_event_cb,
                                            svc->cluster);
  }
  /* The scheduler's hooks run in this order: store writes, then output. */
  svc->storage = chat_storage_new(&srv->sched, srv->store);
  svc->registry = chat_registry_new(&srv->sched, conn_removed_cb, srv);
  svc->pacer = chat_pacer_new(loop, cfg->ws_pace_max_ms);
  svc->static_cache = chat_static_cache_new();
  svc->apicache = chat_apicache_new();
  chat_limiter_config_t lc;
  limiter_config(cfg, &lc);
  svc->limiter = chat_limiter_new(&lc, NULL);
  svc->rooms = chat_roomdir_new(svc);
  if (cfg->smtp_url && *cfg->smtp_url) {
    chat_notifier_config_t ncfg;
    chat_notifier_config_init(&ncfg);
    ncfg.smtp_url = cfg->smtp_url;
    ncfg.mail_from = cfg->mail_from;
    ncfg.site_name = "chatd";
    ncfg.base_url = cfg->public_url;
    ncfg.interval_ms = cfg->mail_interval_ms;
    ncfg.gather_ms = cfg->mail_gather_ms;
    /* With Redis, the instances batch mail together (notifier.h). */
    ncfg.redis_url = srv->redis_url;
    /* A bad mail setting is reported, and chatd runs without mail. */
    char nerr[256];
    svc->notifier = chat_notifier_new(loop, &ncfg, nerr, sizeof(nerr));
    if (svc->notifier == NULL) chat_log_error("mail is off: %s", nerr);
  }
  if (cfg->webhook_url && *cfg->webhook_url) {  /* webhook.h */
    chat_webhook_config_t wcfg;
    chat_webhook_config_init(&wcfg);
    wcfg.url = cfg->webhook_url;
    wcfg.secret = cfg->webhook_secret;
    wcfg.events = cfg->webhook_events;
    wcfg.interval_ms = cfg->webhook_interval_ms;
    wcfg.gather_ms = cfg->webhook_gather_ms;
    wcfg.backoff_ms = cfg->webhook_backoff_ms;
    wcfg.redis_url = srv->redis_url;  /* shared batching, as mail */
    char werr[256];
    svc->webhook = chat_webhook_new(loop, &wcfg, werr, sizeof(werr));
    if (svc->webhook == NULL) chat_log_error("the webhook is off: %s", werr);
  }
  for (size_t i = 0; i < nrooms; i++) chat_roomdir_add(svc->rooms, rooms[i].id, rooms[i].name);
  free(rooms);
  *out = srv;
  return 0;

fail_presence:
  chat_cluster_free(svc->cluster);
  chat_hasher_close(svc->hasher, NULL, NULL);
fail_hasher:
  chat_sched_close(&srv->sched, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  chat_hasher_free(svc->hasher);
fail_sched:
  free(rooms);
fail_rooms:
  chat_store_close(srv->store);
fail_store:
  chat_proxies_free(&srv->proxies);
fail_proxies:
  chat_tls_free(srv->tls);
fail_tls:
  free(srv->url_prefix);
  free(srv->redirect_host);
  free(srv->listen_host);
  free(srv->store_url);
  free(srv->files_dir);
  free(srv->redis_url);
  free(srv->public_dir);
  free(srv->vendor_dir);
  free_secret(srv->metrics_token);
  free(srv);
  return rc ? rc : CHAT_EIO;
}

static void on_connection(uv_stream_t *listener, int status) {
  chat_server_t *srv = listener->data;
  if (status < 0) {
    chat_log_warn("accept: %s", uv_strerror(status));
    return;
  }
  if (srv->state != SRV_RUNNING) return;
  chat_conn_accept(&srv->svc, listener, srv->tls ? CHAT_CONN_TLS : CHAT_CONN_PLAIN);
}

static void on_redirect_connection(uv_stream_t *listener, int status) {
  chat_server_t *srv = listener->data;
  if (status < 0) {
    chat_log_warn("accept: %s", uv_strerror(status));
    return;
  }
  if (srv->state != SRV_RUNNING) return;
  chat_conn_accept(&srv->svc, listener, CHAT_CONN_REDIRECT);
}

/* Binds and listens on host:port; *bound is the port.  The handle is open
 * (to be closed by the caller) whatever happens. */
static int listen_on(chat_server_t *srv, uv_tcp_t *h, const char *host, int port,
                     uv_connection_cb cb, int *bound, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  uv_tcp_init(srv->loop, h);
  h->data = srv;
  int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (rc != 0) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
  if (rc != 0) {
    snprintf(err, errlen, "bad listen address %s", host);
    return rc;
  }
  rc = uv_tcp_bind(h, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)h, 511, cb);
  if (rc != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
    return rc;
  }
  struct sockaddr_storage got;
  int len = sizeof(got);
  uv_tcp_getsockname(h, (struct sockaddr *)&got, &len);
  *bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                           : ((struct sockaddr_in *)&got)->sin_port);
  return 0;
}

int chat_server_start(chat_server_t *srv, char *err, size_t errlen) {
  srv->listening = 1;
  int rc = listen_on(srv, &srv->listener, srv->listen_host, srv->listen_port, on_connection,
                     &srv->port, err, errlen);
  if (rc != 0) return rc;
  srv->limits.https_port = srv->port;
  if (srv->redirect_host) {
    srv->redirecting = 1;
    rc = listen_on(srv, &srv->redirect, srv->redirect_host, srv->redirect_port,
                   on_redirect_connection, &srv->redirect_bound, err, errlen);
    if (rc != 0) return rc;
  }
  srv->state = SRV_RUNNING;
  srv->svc.running = 1;
  chat_registry_start(srv->svc.registry, srv->ping_ms);
  return 0;
}

/* embed: a server without a listener, for adopted connections */
int chat_server_start_adopted(chat_server_t *srv) {
  srv->state = SRV_RUNNING;
  srv->svc.running = 1;
  chat_registry_start(srv->svc.registry, srv->ping_ms);
  return 0;
}

int chat_server_port(const chat_server_t *srv) { return srv->port; }
int chat_server_redirect_port(const chat_server_t *srv) { return srv->redirect_bound; }

/* A certificate reload: the files are read and checked on a worker thread,
 * the new context is installed on the loop. */
typedef struct {
  uv_work_t work;
  chat_server_t *srv;
  void *ctx;
  char err[256];
} tls_reload_t;

static void tls_reload_work_cb(uv_work_t *w) {
  tls_reload_t *r = container_of(w, tls_reload_t, work);
  r->ctx = chat_tls_load(r->srv->tls, r->err, sizeof(r->err));
}

static void tls_reload_after_cb(uv_work_t *w, int status) {
  tls_reload_t *r = container_of(w, tls_reload_t, work);
  chat_server_t *srv = r->srv;
  srv->tls_reloads--;
  if (r->ctx) {
    chat_tls_install(srv->tls, r->ctx);
    chat_log_info("TLS certificate reloaded (generation %u)", chat_tls_generation(srv->tls));
  } else {
    chat_log_error("TLS certificate not reloaded, the old one stays: %s", r->err);
  }
  free(r);
  maybe_stopped(srv);
}

int chat_server_reload_tls(chat_server_t *srv, char *err, size_t errlen) {
  if (srv->tls == NULL) {
    snprintf(err, errlen, "TLS is not on");
    return CHAT_EINVAL;
  }
  tls_reload_t *r = chat_xcalloc(1, sizeof(*r));
  r->srv = srv;
  int rc = uv_queue_work(srv->loop, &r->work, tls_reload_work_cb, tls_reload_after_cb);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the reload: %s", uv_strerror(rc));
    chat_log_error("TLS certificate not reloaded, the old one stays: %s", err);
    free(r);
    return CHAT_EINVAL;
  }
  srv->tls_reloads++;
  return 0;
}

void chat_server_set_ws_rate(chat_server_t *srv, double rate, double burst) {
  chat_limiter_set_frame_rate(srv->svc.limiter, rate, burst > 1 ? burst : 1);
}

static void sched_closed(chat_sched_t *s) {
  chat_server_t *srv = container_of(s, chat_server_t, sched);
  srv->state = SRV_STOPPED;
  if (srv->stop_cb) srv->stop_cb(srv, srv->stop_ud);
}

static void drained_cb(void *ud) { maybe_stopped(ud); }
static void aux_closed_cb(void *ud);
static void presence_closed_cb(void *ud);
static void notifier_closed_cb(void *ud);
static void webhook_closed_cb(void *ud);

/* The last steps of a stop, once no connection is left: deliver the mail
 * still queued, wait for the store, close what presence, the notifier and
 * the directory opened, let go of the rooms, close the scheduler. */
static void maybe_stopped(chat_server_t *srv) {
  chat_services_t *svc = &srv->svc;
  if (srv->state != SRV_STOPPING || chat_registry_count(svc->registry) || srv->listening ||
      srv->redirecting || srv->tls_reloads ||
      srv->sched.closing)
    return;
  chat_sched_drain(&srv->sched);
  /* A login goes from the store to the hasher and back: both must be idle
   * (each drain comes back here to check the other). */
  if (chat_hasher_pending(svc->hasher) > 0) {
    chat_hasher_drain(svc->hasher, drained_cb, srv);
    return;
  }
  if (chat_storage_pending(svc->storage) > 0) {
    chat_storage_drain(svc->storage, drained_cb, srv);
    return;
  }
  if (!srv->presence_closed) {
    if (srv->aux_closing == 0) {
      /* Presence says goodbye (with Redis: this instance's users leave
       * at once) and closes its handles; the tick timer and the hashing
       * threads go too. */
      srv->aux_closing = svc->notifier ? 6 : 5;
      if (svc->webhook) srv->aux_closing++;
      chat_cluster_stop(svc->cluster, aux_closed_cb, srv);
      if (svc->notifier) chat_notifier_close(svc->notifier, notifier_closed_cb, srv);
      if (svc->webhook) chat_webhook_close(svc->webhook, webhook_closed_cb, srv);
      chat_pacer_close(svc->pacer);  /* frees itself */
      svc->pacer = NULL;
      chat_registry_close(svc->registry, aux_closed_cb, srv);
      chat_hasher_close(svc->hasher, aux_closed_cb, srv);
      chat_roomdir_stop(svc->rooms, aux_closed_cb, srv);
      svc->presence->ops->close(svc->presence, presence_closed_cb, srv);
    }
    return;
  }
  chat_roomdir_clear(svc->rooms);
  chat_sched_drain(&srv->sched);
  chat_sched_close(&srv->sched, sched_closed);
}

static void aux_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  if (--srv->aux_closing == 0) {
    srv->presence_closed = 1;
    maybe_stopped(srv);
  }
}

static void presence_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  srv->svc.presence = NULL;
  aux_closed_cb(srv);
}

static void notifier_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  srv->svc.notifier = NULL;
  aux_closed_cb(srv);
}

static void webhook_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  srv->svc.webhook = NULL;
  aux_closed_cb(srv);
}

static void listener_closed_cb(uv_handle_t *h) {
  chat_server_t *srv = h->data;
  if (h == (uv_handle_t *)&srv->listener)
    srv->listening = 0;
  else
    srv->redirecting = 0;
  maybe_stopped(srv);
}

void chat_server_stop(chat_server_t *srv, chat_server_stop_cb cb, void *ud) {
  if (srv->state == SRV_STOPPING || srv->state == SRV_STOPPED) return;
  srv->state = SRV_STOPPING;
  srv->svc.running = 0;
  srv->stop_cb = cb;
  srv->stop_ud = ud;
  chat_log_info("stopping: closing %zu connections (at most %.1f s)",
                chat_registry_count(srv->svc.registry), (double)srv->drain_ms / 1000);
  chat_registry_shutdown(srv->svc.registry, CHAT_WS_CLOSE_GOING_AWAY, srv->drain_ms);
  int closing = srv->listening || srv->redirecting;
  if (srv->listening) uv_close((uv_handle_t *)&srv->listener, listener_closed_cb);
  if (srv->redirecting) uv_close((uv_handle_t *)&srv->redirect, listener_closed_cb);
  if (!closing) maybe_stopped(srv);
}

void chat_server_free(chat_server_t *srv) {
  if (srv == NULL) return;
  chat_services_t *svc = &srv->svc;
  assert(srv->state == SRV_STOPPED && svc->presence == NULL);
  chat_limiter_free(svc->limiter);
  chat_hasher_free(svc->hasher);
  chat_registry_free(svc->registry);
  chat_static_cache_free(svc->static_cache);
  chat_apicache_free(svc->apicache);
  chat_roomdir_free(svc->rooms);
  chat_cluster_free(svc->cluster);
  chat_storage_free(svc->storage);
  chat_store_close(srv->store);
  chat_tls_free(srv->tls);
  chat_proxies_free(&srv->proxies);
  free(srv->url_prefix);
  free(srv->redirect_host);
  free(srv->listen_host);
  free(srv->store_url);
  free(srv->files_dir);
  free(srv->redis_url);
  free(srv->public_dir);
  free(srv->vendor_dir);
  free_secret(srv->metrics_token);
  free(srv);
}
