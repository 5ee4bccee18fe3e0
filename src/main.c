/* chatd: the command line around the chat server library. */
#include <chat.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "core/log.h"

#ifndef CHAT_VERSION
#define CHAT_VERSION "dev"
#endif
#ifndef CHAT_DEFAULT_PUBLIC
#define CHAT_DEFAULT_PUBLIC "./public"
#endif

static const char usage[] =
    "usage: chatd [options]\n"
    "       chatd user|room|db|export ... (the administration commands, below)\n"
    "\n"
    "Runs the chat server (HTTP, WebSocket and the web front end).\n"
    "\n"
    "options (environment variable in brackets):\n"
    "  --listen ADDR:PORT  where to listen [CHAT_LISTEN] (default 127.0.0.1:8080;\n"
    "                      port 0 picks a free one)\n"
    "  --db PATH           SQLite database, created with its folder [CHAT_DB]\n"
    "                      (default ./data/chat.db)\n"
    "  --store URL         the store as a URL [CHAT_STORE]: sqlite:PATH, or\n"
    "                      mysql://USER:PASS@HOST:PORT/DB (MySQL/MariaDB), or\n"
    "                      mysql://USER:PASS@localhost/DB?socket=PATH\n"
    "  --redis URL         share presence and room events with the other chatd\n"
    "                      instances on this Redis: redis://HOST:PORT/DB\n"
    "                      [CHAT_REDIS] (default: none, presence in-process)\n"
    "  --public DIR        the front end's files [CHAT_PUBLIC]\n"
    "  --smtp URL          e-mail offline users about missed DMs and @mentions\n"
    "                      through this server: smtp://HOST:PORT [CHAT_SMTP]\n"
    "  --mail-from ADDR    the sender of those mails [CHAT_MAIL_FROM]\n"
    "  --public-url URL    the chat's address, linked in mails [CHAT_PUBLIC_URL]\n"
    "  --ws-rate N[:B]     frames (of any kind) a user may send a second over all\n"
    "                      its WebSockets, with bursts of B [CHAT_WS_RATE]\n"
    "                      (default 20:200; 0: no limit); past it a frame is\n"
    "                      refused with rate_limited\n"
    "  --register-limit N[/S]  registrations per address per S seconds\n"
    "                      [CHAT_REGISTER_LIMIT] (default 10/3600; 0: no limit)\n"
    "  --login-ip-limit N[/S]  failed logins per address, over all accounts, per\n"
    "                      S seconds [CHAT_LOGIN_IP_LIMIT] (default 30/600; 0: none)\n"
    "  --login-backoff F:D:M   failed logins of one account, from anywhere, before\n"
    "                      it waits D seconds, doubled at each failure up to M\n"
    "                      [CHAT_LOGIN_BACKOFF] (default 5:1:60; D 0: no delay)\n"
    "  --max-conns N       open connections in all [CHAT_MAX_CONNS] (default 10000)\n"
    "  --max-conns-ip N    open connections per address [CHAT_MAX_CONNS_IP]\n"
    "                      (default 256); past either, 503 and close (0: no limit)\n"
    "  --max-ws-user N     WebSockets per user; the next is closed with 1013\n"
    "                      [CHAT_MAX_WS_USER] (default 20; 0: no limit)\n"
    "  --http-out-cap B    bytes of HTTP answers queued on a connection before its\n"
    "                      next request is read [CHAT_HTTP_OUT_CAP] (default 262144)\n"
    "  --files-dir DIR     where uploaded files are kept [CHAT_FILES_DIR] (default\n"
    "                      a files folder next to the SQLite database; ./data/files\n"
    "                      with MySQL; instances of one store share it)\n"
    "  --file-max B        the largest upload in bytes [CHAT_FILE_MAX] (default\n"
    "                      10485760, 10 MiB)\n"
    "  --file-quota B      bytes one user's files may add up to [CHAT_FILE_QUOTA]\n"
    "                      (default 209715200, 200 MiB)\n"
    "  --ws-ping-interval S  ping a WebSocket silent for S seconds; one silent for\n"
    "                      2*S is closed as a dead peer [CHAT_WS_PING_INTERVAL]\n"
    "                      (default 30; 0: no pings; fractions allowed)\n"
    "  --shutdown-drain S  at SIGINT/SIGTERM, wait at most S seconds for close\n"
    "                      handshakes and queued output, then cut off what is\n"
    "                      left [CHAT_SHUTDOWN_DRAIN] (default 5)\n"
    "  --hash-threads N    password-hashing threads [CHAT_HASH_THREADS] (default 1)\n"
    "  --hash-queue N      password hashes waiting or running before logins and\n"
    "                      registrations get 503 busy [CHAT_HASH_QUEUE] (default 64)\n"
    "  --vendor DIR        Bootstrap 5 files served under /vendor/bootstrap/\n"
    "                      [CHAT_VENDOR] (default /usr/share/bootstrap-html)\n"
    "  --tls-cert FILE     serve HTTPS and WSS with this certificate chain (PEM,\n"
    "                      the leaf first) [CHAT_TLS_CERT]; SIGHUP reloads it\n"
    "  --tls-key FILE      its private key (PEM, not encrypted) [CHAT_TLS_KEY]\n"
    "  --redirect-http ADDR:PORT  with TLS, also listen for plain HTTP there and\n"
    "                      redirect every request to https:// [CHAT_REDIRECT_HTTP]\n"
    "  --trusted-proxy CIDR[,CIDR...]  reverse proxies whose X-Forwarded-For and\n"
    "                      X-Forwarded-Proto are believed [CHAT_TRUSTED_PROXIES]\n"
    "  --metrics-token TOKEN  GET /metrics answers requests with\n"
    "                      \"Authorization: Bearer TOKEN\" from anywhere\n"
    "                      [CHAT_METRICS_TOKEN] (prefer the variable: arguments\n"
    "                      are visible to other users of the machine)\n"
    "  --url-prefix /PATH  serve everything under /PATH/ (e.g. /chat) [CHAT_URL_PREFIX]\n"
    "  --metrics-access local|token|open  who else may read /metrics\n"
    "                      [CHAT_METRICS_ACCESS]: local (default) loopback\n"
    "                      clients; token only the token's holders (behind a\n"
    "                      reverse proxy on the same host); open anyone\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "When it is ready, chatd prints \"chatd listening on http://HOST:PORT\"\n"
    "(https:// with TLS).  SIGINT or SIGTERM stops it cleanly (WebSockets are\n"
    "closed with 1001, within --shutdown-drain).\n"
    "\n";

typedef struct {
  const char *listen;
  const char *db;
  const char *store;
  const char *public_dir;
  const char *vendor_dir;
  const char *redis;
  const char *smtp;
  const char *mail_from;
  const char *public_url;
  const char *ws_rate;
  const char *register_limit, *login_ip_limit, *login_backoff;
  const char *max_conns, *max_conns_ip, *max_ws_user, *http_out_cap;
  const char *hash_threads, *hash_queue;
  const char *ws_ping_interval, *shutdown_drain;
  const char *tls_cert;
  const char *tls_key;
  const char *redirect_http;
  const char *trusted_proxies;
  const char *metrics_token;
  const char *metrics_access;
  const char *files_dir, *file_max, *file_quota;  /* files */
  const char *url_prefix;  /* embed */
} opts_t;

static char store_buf[4096];

/* The store URL from --store, else --db, else the default. */
static const char *store_url(const opts_t *o) {
  if (o->store) return o->store;
  snprintf(store_buf, sizeof(store_buf), "sqlite:%s", o->db ? o->db : "./data/chat.db");
  return store_buf;
}

static int parse_listen(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':');
  if (colon == NULL) return -1;
  size_t hl = (size_t)(colon - s);
  if (hl >= hostlen) return -1;
  if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
    memcpy(host, s + 1, hl - 2);
    host[hl - 2] = '\0';
  } else {
    memcpy(host, s, hl);
    host[hl] = '\0';
  }
  if (host[0] == '\0') snprintf(host, hostlen, "0.0.0.0");
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (errno || *end || colon[1] == '\0' || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

/* Takes the value of option argv[*i] ("--x VALUE" or "--x=VALUE"). */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] != '\0') return NULL;
  if (*i + 1 >= argc) {
    fprintf(stderr, "chatd: %s needs a value\n", name);
    exit(2);
  }
  return argv[++*i];
}

static int parse_common(int argc, char **argv, int *i, opts_t *o) {
  const char *v;
  if ((v = opt_value(argc, argv, i, "--listen"))) o->listen = v;
  else if ((v = opt_value(argc, argv, i, "--db"))) o->db = v;
  else if ((v = opt_value(argc, argv, i, "--store"))) o->store = v;
  else if ((v = opt_value(argc, argv, i, "--public"))) o->public_dir = v;
  else if ((v = opt_value(argc, argv, i, "--vendor"))) o->vendor_dir = v;
  else if ((v = opt_value(argc, argv, i, "--redis"))) o->redis = v;
  else if ((v = opt_value(argc, argv, i, "--smtp"))) o->smtp = v;
  else if ((v = opt_value(argc, argv, i, "--mail-from"))) o->mail_from = v;
  else if ((v = opt_value(argc, argv, i, "--public-url"))) o->public_url = v;
  else if ((v = opt_value(argc, argv, i, "--ws-rate"))) o->ws_rate = v;
  else if ((v = opt_value(argc, argv, i, "--register-limit"))) o->register_limit = v;
  else if ((v = opt_value(argc, argv, i, "--login-ip-limit"))) o->login_ip_limit = v;
  else if ((v = opt_value(argc, argv, i, "--login-backoff"))) o->login_backoff = v;
  else if ((v = opt_value(argc, argv, i, "--max-conns"))) o->max_conns = v;
  else if ((v = opt_value(argc, argv, i, "--max-conns-ip"))) o->max_conns_ip = v;
  else if ((v = opt_value(argc, argv, i, "--max-ws-user"))) o->max_ws_user = v;
  else if ((v = opt_value(argc, argv, i, "--http-out-cap"))) o->http_out_cap = v;
  else if ((v = opt_value(argc, argv, i, "--files-dir"))) o->files_dir = v;
  else if ((v = opt_value(argc, argv, i, "--file-max"))) o->file_max = v;
  else if ((v = opt_value(argc, argv, i, "--file-quota"))) o->file_quota = v;
  else if ((v = opt_value(argc, argv, i, "--hash-threads"))) o->hash_threads = v;
  else if ((v = opt_value(argc, argv, i, "--hash-queue"))) o->hash_queue = v;
  else if ((v = opt_value(argc, argv, i, "--ws-ping-interval"))) o->ws_ping_interval = v;
  else if ((v = opt_value(argc, argv, i, "--shutdown-drain"))) o->shutdown_drain = v;
  else if ((v = opt_value(argc, argv, i, "--tls-cert"))) o->tls_cert = v;
  else if ((v = opt_value(argc, argv, i, "--tls-key"))) o->tls_key = v;
  else if ((v = opt_value(argc, argv, i, "--redirect-http"))) o->redirect_http = v;
  else if ((v = opt_value(argc, argv, i, "--trusted-proxy"))) o->trusted_proxies = v;
  else if ((v = opt_value(argc, argv, i, "--metrics-token"))) o->metrics_token = v;
  else if ((v = opt_value(argc, argv, i, "--metrics-access"))) o->metrics_access = v;
  else if ((v = opt_value(argc, argv, i, "--url-prefix"))) o->url_prefix = v;  /* embed */
  else return 0;
  return 1;
}

/* A count of 0 or more ("N"), at most max. */
static int parse_count(const char *s, double max, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0) || v > max) return -1;
  *out = v;
  return 0;
}

/* "N" or "N/SECONDS" (SECONDS > 0). */
static int parse_per(const char *s, double *n, double *period) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !(v >= 0) || v > 1e9) return -1;
  *n = v;
  if (*end == '\0') return 0;
  if (*end != '/') return -1;
  const char *p = end + 1;
  double sec = strtod(p, &end);
  if (end == p || *end || !(sec > 0) || sec > 1e9) return -1;
  *period = sec;
  return 0;
}

/* "FREE:DELAY:MAX" (seconds, DELAY <= MAX). */
static int parse_backoff(const char *s, chat_config_t *cfg) {
  char *end;
  errno = 0;
  long f = strtol(s, &end, 10);
  if (errno || end == s || *end != ':' || f < 0 || f > 1000000) return -1;
  const char *p = end + 1;
  double d = strtod(p, &end);
  if (end == p || *end != ':' || !(d >= 0) || d > 86400) return -1;
  p = end + 1;
  double m = strtod(p, &end);
  if (end == p || *end || !(m >= d) || m > 86400) return -1;
  cfg->login_free_fails = (int)f;
  cfg->login_delay_s = d;
  cfg->login_delay_max_s = m;
  return 0;
}

static int bad_option(const char *name, const char *value, const char *want) {
  fprintf(stderr, "chatd: bad %s %s (want %s)\n", name, value, want);
  return -1;
}

/* The abuse limits and the connection timings from the options (each
 * already set from the environment if the option was not given). */
static int parse_limits(const opts_t *o, chat_config_t *cfg) {
  double v;
  if (o->register_limit &&
      parse_per(o->register_limit, &cfg->register_limit, &cfg->register_period_s) != 0)
    return bad_option("--register-limit", o->register_limit, "N or N/SECONDS");
  if (o->login_ip_limit &&
      parse_per(o->login_ip_limit, &cfg->login_ip_limit, &cfg->login_ip_period_s) != 0)
    return bad_option("--login-ip-limit", o->login_ip_limit, "N or N/SECONDS");
  if (o->login_backoff && parse_backoff(o->login_backoff, cfg) != 0)
    return bad_option("--login-backoff", o->login_backoff, "FREE:DELAY:MAX in seconds");
  if (o->max_conns) {
    if (parse_count(o->max_conns, 1e7, &v) != 0)
      return bad_option("--max-conns", o->max_conns, "a count");
    cfg->max_conns = (int)v;
  }
  if (o->max_conns_ip) {
    if (parse_count(o->max_conns_ip, 1e7, &v) != 0)
      return bad_option("--max-conns-ip", o->max_conns_ip, "a count");
    cfg->max_conns_ip = (int)v;
  }
  if (o->max_ws_user) {
    if (parse_count(o->max_ws_user, 1e6, &v) != 0)
      return bad_option("--max-ws-user", o->max_ws_user, "a count");
    cfg->max_ws_user = (int)v;
  }
  if (o->http_out_cap) {
    if (parse_count(o->http_out_cap, 1 << 30, &v) != 0 || v < 1024)
      return bad_option("--http-out-cap", o->http_out_cap, "bytes, at least 1024");
    cfg->http_out_cap = (size_t)v;
  }
  cfg->files_dir = o->files_dir;  /* files */
  if (o->file_max) {
    if (parse_count(o->file_max, 1024.0 * 1024 * 1024, &v) != 0 || v < 1)
      return bad_option("--file-max", o->file_max, "bytes, 1 to 1 GiB");
    cfg->file_max = (size_t)v;
  }
  if (o->file_quota) {
    if (parse_count(o->file_quota, 1e15, &v) != 0 || v < 1)
      return bad_option("--file-quota", o->file_quota, "bytes, at least 1");
    cfg->file_quota = (size_t)v;
  }
  if (o->hash_threads) {
    if (parse_count(o->hash_threads, 64, &v) != 0 || v < 1)
      return bad_option("--hash-threads", o->hash_threads, "1 to 64");
    cfg->hash_threads = (int)v;
  }
  if (o->hash_queue) {
    if (parse_count(o->hash_queue, 1e6, &v) != 0 || v < 1)
      return bad_option("--hash-queue", o->hash_queue, "a count of at least 1");
    cfg->hash_queue = (int)v;
  }
  if (o->ws_ping_interval) {
    if (parse_count(o->ws_ping_interval, 86400, &v) != 0 || (v > 0 && v < 0.01))
      return bad_option("--ws-ping-interval", o->ws_ping_interval,
                        "seconds, 0 or from 0.01 to 86400");
    cfg->ws_ping_interval_s = v;
  }
  if (o->shutdown_drain) {
    if (parse_count(o->shutdown_drain, 3600, &v) != 0)
      return bad_option("--shutdown-drain", o->shutdown_drain, "seconds, 0 to 3600");
    cfg->shutdown_drain_s = v;
  }
  return 0;
}

typedef struct {
  uv_signal_t sigint, sigterm, sighup;
  int tls;                      /* sighup is in use */
  chat_server_t *srv;
  int signals;
} app_t;

static void stopped_cb(chat_server_t *srv, void *ud) {
  app_t *app = ud;
  uv_close((uv_handle_t *)&app->sigint, NULL);
  uv_close((uv_handle_t *)&app->sigterm, NULL);
  if (app->tls) uv_close((uv_handle_t *)&app->sighup, NULL);
  chat_log_info("stopped");
}

/* SIGHUP: read the certificate and key again (the server logs how it went). */
static void reload_cb(uv_signal_t *h, int signum) {
  app_t *app = h->data;
  char err[512];
  chat_server_reload_tls(app->srv, err, sizeof(err));
}

static void signal_cb(uv_signal_t *h, int signum) {
  app_t *app = h->data;
  if (app->signals++ > 0) {
    chat_log_warn("second signal: exiting at once");
    _exit(1);
  }
  chat_log_info("signal %d: stopping", signum);
  chat_server_stop(app->srv, stopped_cb, app);
}

int main(int argc, char **argv) {
  opts_t o = {0};
  o.listen = getenv("CHAT_LISTEN");
  o.db = getenv("CHAT_DB");
  o.store = getenv("CHAT_STORE");
  o.public_dir = getenv("CHAT_PUBLIC");
  o.vendor_dir = getenv("CHAT_VENDOR");
  o.redis = getenv("CHAT_REDIS");
  o.smtp = getenv("CHAT_SMTP");
  o.mail_from = getenv("CHAT_MAIL_FROM");
  o.public_url = getenv("CHAT_PUBLIC_URL");
  o.ws_rate = getenv("CHAT_WS_RATE");
  o.register_limit = getenv("CHAT_REGISTER_LIMIT");
  o.login_ip_limit = getenv("CHAT_LOGIN_IP_LIMIT");
  o.login_backoff = getenv("CHAT_LOGIN_BACKOFF");
  o.max_conns = getenv("CHAT_MAX_CONNS");
  o.max_conns_ip = getenv("CHAT_MAX_CONNS_IP");
  o.max_ws_user = getenv("CHAT_MAX_WS_USER");
  o.http_out_cap = getenv("CHAT_HTTP_OUT_CAP");
  o.files_dir = getenv("CHAT_FILES_DIR");
  o.file_max = getenv("CHAT_FILE_MAX");
  o.file_quota = getenv("CHAT_FILE_QUOTA");
  o.hash_threads = getenv("CHAT_HASH_THREADS");
  o.hash_queue = getenv("CHAT_HASH_QUEUE");
  o.ws_ping_interval = getenv("CHAT_WS_PING_INTERVAL");
  o.shutdown_drain = getenv("CHAT_SHUTDOWN_DRAIN");
  o.tls_cert = getenv("CHAT_TLS_CERT");
  o.tls_key = getenv("CHAT_TLS_KEY");
  o.redirect_http = getenv("CHAT_REDIRECT_HTTP");
  o.trusted_proxies = getenv("CHAT_TRUSTED_PROXIES");
  o.metrics_token = getenv("CHAT_METRICS_TOKEN");
  o.metrics_access = getenv("CHAT_METRICS_ACCESS");
  o.url_prefix = getenv("CHAT_URL_PREFIX");  /* embed */
  const char *lvl = getenv("CHAT_LOG");
  if (lvl && strcmp(lvl, "debug") == 0) chat_log_set_level(CHAT_LOG_DEBUG);
  if (lvl && strcmp(lvl, "warn") == 0) chat_log_set_level(CHAT_LOG_WARN);
  if (lvl && strcmp(lvl, "error") == 0) chat_log_set_level(CHAT_LOG_ERROR);

  /* The administration commands (admin.h): user, room, db, export, help. */
  if (argc >= 2 && chat_admin_is_command(argv[1])) return chat_admin_main(argc, argv);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      chat_admin_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("chatd %s\n", CHAT_VERSION);
      return 0;
    }
    if (!parse_common(argc, argv, &i, &o)) {
      fprintf(stderr, "chatd: unknown argument %s\n%s", argv[i], usage);
      return 2;
    }
  }

  chat_config_t cfg;
  chat_config_init(&cfg);
  char host[256];
  int port = 8080;
  snprintf(host, sizeof(host), "127.0.0.1");
  if (o.listen && parse_listen(o.listen, host, sizeof(host), &port) != 0) {
    fprintf(stderr, "chatd: bad --listen %s (want ADDR:PORT)\n", o.listen);
    return 2;
  }
  cfg.listen_host = host;
  cfg.listen_port = port;
  cfg.store_url = store_url(&o);
  if (o.public_dir)
    cfg.public_dir = o.public_dir;
  else if (access("./public/index.html", R_OK) == 0)
    cfg.public_dir = "./public";
  else
    cfg.public_dir = CHAT_DEFAULT_PUBLIC;
  if (o.vendor_dir) cfg.vendor_dir = o.vendor_dir;
  if (o.redis && *o.redis) cfg.redis_url = o.redis;
  cfg.smtp_url = o.smtp;
  cfg.mail_from = o.mail_from ? o.mail_from : "chatd@localhost.localdomain";
  cfg.public_url = o.public_url;
  if (o.ws_rate) {
    char *end;
    cfg.ws_rate = strtod(o.ws_rate, &end);
    if (*end == ':') cfg.ws_burst = strtod(end + 1, &end);
    if (*end || cfg.ws_rate < 0 || cfg.ws_burst < 1) {
      fprintf(stderr, "chatd: bad --ws-rate %s (want N or N:BURST)\n", o.ws_rate);
      return 2;
    }
  }
  if (parse_limits(&o, &cfg) != 0) return 2;
  if (o.tls_cert && *o.tls_cert) cfg.tls_cert = o.tls_cert;
  if (o.tls_key && *o.tls_key) cfg.tls_key = o.tls_key;
  char redirect_host[256];
  if (o.redirect_http && *o.redirect_http) {
    if (parse_listen(o.redirect_http, redirect_host, sizeof(redirect_host),
                     &cfg.redirect_port) != 0) {
      fprintf(stderr, "chatd: bad --redirect-http %s (want ADDR:PORT)\n", o.redirect_http);
      return 2;
    }
    cfg.redirect_host = redirect_host;
  }
  cfg.trusted_proxies = o.trusted_proxies;
  cfg.url_prefix = o.url_prefix;  /* embed */
  cfg.metrics_token = o.metrics_token;
  if (o.metrics_access) {
    if (strcmp(o.metrics_access, "local") == 0) {
      cfg.metrics_access = CHAT_METRICS_LOCAL;
    } else if (strcmp(o.metrics_access, "token") == 0) {
      cfg.metrics_access = CHAT_METRICS_TOKEN;
    } else if (strcmp(o.metrics_access, "open") == 0) {
      cfg.metrics_access = CHAT_METRICS_OPEN;
    } else {
      fprintf(stderr, "chatd: bad --metrics-access %s (want local, token or open)\n",
              o.metrics_access);
      return 2;
    }
  }
  /* Mail timing can be shortened for tests. */
  const char *iv = getenv("CHAT_MAIL_INTERVAL_MS"), *gv = getenv("CHAT_MAIL_GATHER_MS");
  if (iv) cfg.mail_interval_ms = strtoul(iv, NULL, 10);
  if (gv) cfg.mail_gather_ms = strtoul(gv, NULL, 10);
  /* Message order across instances (docs/PROTOCOL.md, section 5). */
  const char *og = getenv("CHAT_ORDER_GAP_MS"), *oc = getenv("CHAT_ORDER_CHECK_MS");
  if (og) cfg.order_gap_ms = strtoul(og, NULL, 10);
  if (oc) cfg.order_check_ms = strtoul(oc, NULL, 10);
#ifdef CHAT_FAULT_HOOKS
  if (getenv("CHAT_FAULT_EXIT_AFTER_COMMIT"))
    fprintf(stderr, "chatd: test build: CHAT_FAULT_EXIT_AFTER_COMMIT is armed\n");
#endif

  /* A peer that goes away mid-write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  /* A file size limit (RLIMIT_FSIZE) reached by the store must fail that
   * write (EFBIG: the store answers unavailable, /healthz says read_only),
   * not kill the process. */
  signal(SIGXFSZ, SIG_IGN);

  uv_loop_t *loop = uv_default_loop();
  app_t app = {0};
  char err[512] = "";
  if (chat_server_new(loop, &cfg, &app.srv, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err);
    return 1;
  }
  if (chat_server_start(app.srv, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err);
    chat_server_stop(app.srv, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    chat_server_free(app.srv);
    uv_loop_close(loop);
    return 1;
  }
  uv_signal_init(loop, &app.sigint);
  uv_signal_init(loop, &app.sigterm);
  app.sigint.data = app.sigterm.data = &app;
  uv_signal_start(&app.sigint, signal_cb, SIGINT);
  uv_signal_start(&app.sigterm, signal_cb, SIGTERM);
  if (cfg.tls_cert) {
    /* Only with TLS: otherwise SIGHUP keeps its usual meaning. */
    app.tls = 1;
    uv_signal_init(loop, &app.sighup);
    app.sighup.data = &app;
    uv_signal_start(&app.sighup, reload_cb, SIGHUP);
  }

  chat_log_info("chatd %s: store %s, front end %s", CHAT_VERSION,
                strncmp(cfg.store_url, "sqlite:", 7) == 0 ? cfg.store_url : "(configured)",
                cfg.public_dir);
  if (cfg.redirect_host)
    printf("chatd redirecting http://%s:%d to https\n", cfg.redirect_host,
           chat_server_redirect_port(app.srv));
  printf("chatd listening on %s://%s:%d\n", cfg.tls_cert ? "https" : "http", host,
         chat_server_port(app.srv));
  fflush(stdout);

  uv_run(loop, UV_RUN_DEFAULT);
  chat_server_free(app.srv);
  int rc = uv_loop_close(loop);
  if (rc != 0) chat_log_warn("loop closed with handles open: %s", uv_strerror(rc));
  return 0;
}
