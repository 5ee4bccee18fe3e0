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
    "       chatd user add NAME [--admin] [--email ADDR] [--db PATH | --store URL]\n"
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
    "  --ws-rate N[:B]     messages (send and dm) a connection may send a second,\n"
    "                      with bursts of B [CHAT_WS_RATE] (default 20:200; 0: no\n"
    "                      limit); past it the frame is refused with rate_limited\n"
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
    "  --metrics-access local|token|open  who else may read /metrics\n"
    "                      [CHAT_METRICS_ACCESS]: local (default) loopback\n"
    "                      clients; token only the token's holders (behind a\n"
    "                      reverse proxy on the same host); open anyone\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "When it is ready, chatd prints \"chatd listening on http://HOST:PORT\"\n"
    "(https:// with TLS).  SIGINT or SIGTERM stops it cleanly (WebSockets are\n"
    "closed with 1001).\n"
    "\n"
    "`chatd user add` reads the password from standard input (one line), or\n"
    "asks for it when standard input is a terminal.\n";

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
  const char *tls_cert;
  const char *tls_key;
  const char *redirect_http;
  const char *trusted_proxies;
  const char *metrics_token;
  const char *metrics_access;
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
  else if ((v = opt_value(argc, argv, i, "--tls-cert"))) o->tls_cert = v;
  else if ((v = opt_value(argc, argv, i, "--tls-key"))) o->tls_key = v;
  else if ((v = opt_value(argc, argv, i, "--redirect-http"))) o->redirect_http = v;
  else if ((v = opt_value(argc, argv, i, "--trusted-proxy"))) o->trusted_proxies = v;
  else if ((v = opt_value(argc, argv, i, "--metrics-token"))) o->metrics_token = v;
  else if ((v = opt_value(argc, argv, i, "--metrics-access"))) o->metrics_access = v;
  else return 0;
  return 1;
}

static int cmd_user_add(int argc, char **argv, opts_t *o) {
  const char *name = NULL, *email = NULL;
  int admin = 0;
  for (int i = 3; i < argc; i++) {
    const char *v;
    if (strcmp(argv[i], "--admin") == 0) admin = 1;
    else if ((v = opt_value(argc, argv, &i, "--email"))) email = v;
    else if (parse_common(argc, argv, &i, o)) continue;
    else if (argv[i][0] != '-' && name == NULL) name = argv[i];
    else {
      fprintf(stderr, "chatd: unexpected argument %s\n%s", argv[i], usage);
      return 2;
    }
  }
  if (name == NULL) {
    fprintf(stderr, "chatd: user add needs a NAME\n");
    return 2;
  }
  if (email == NULL) {
    /* The field is required; a local placeholder keeps it valid until the
     * user sets a real one. */
    email = "admin@localhost.localdomain";
  }
  return chat_admin_user_add(store_url(o), name, email, admin);
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
  o.tls_cert = getenv("CHAT_TLS_CERT");
  o.tls_key = getenv("CHAT_TLS_KEY");
  o.redirect_http = getenv("CHAT_REDIRECT_HTTP");
  o.trusted_proxies = getenv("CHAT_TRUSTED_PROXIES");
  o.metrics_token = getenv("CHAT_METRICS_TOKEN");
  o.metrics_access = getenv("CHAT_METRICS_ACCESS");
  const char *lvl = getenv("CHAT_LOG");
  if (lvl && strcmp(lvl, "debug") == 0) chat_log_set_level(CHAT_LOG_DEBUG);
  if (lvl && strcmp(lvl, "warn") == 0) chat_log_set_level(CHAT_LOG_WARN);
  if (lvl && strcmp(lvl, "error") == 0) chat_log_set_level(CHAT_LOG_ERROR);

  if (argc >= 3 && strcmp(argv[1], "user") == 0 && strcmp(argv[2], "add") == 0)
    return cmd_user_add(argc, argv, &o);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
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

  /* A peer that goes away mid-write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);

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
