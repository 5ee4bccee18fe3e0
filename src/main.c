/* chatd: the command line around the chat server library. */
#include <chat.h>
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "core/common.h"
#include "core/config.h"
#include "core/log.h"
#include "net/sdnotify.h"

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
    "  --webhook-url URL   POST missed DMs and @mentions as signed JSON here\n"
    "                      (README \"Notifications\") [CHAT_WEBHOOK_URL]\n"
    "  --webhook-secret S  the HMAC-SHA256 key of those POSTs [CHAT_WEBHOOK_SECRET]\n"
    "  --webhook-events L  dm,mention (default), join, or all [CHAT_WEBHOOK_EVENTS]\n"
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
    "  --ws-pace-max MS    under load, write a WebSocket at most once per interval\n"
    "                      growing with the loop's busy share up to MS\n"
    "                      milliseconds, so writes carry more frames\n"
    "                      [CHAT_WS_PACE_MAX] (default 16; 0: never wait)\n"
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
    "  --log-level L       debug, info (default), warn or error [CHAT_LOG_LEVEL]\n"
    "  --log-format F      text (default) or json, one object a line\n"
    "                      [CHAT_LOG_FORMAT]\n"
    "  --access-log        one log line per HTTP request answered (method, path\n"
    "                      without the query, status, bytes, ms, request id, peer)\n"
    "                      [CHAT_ACCESS_LOG=on|off] (default off)\n"
    "  --config FILE       read settings from FILE [CHAT_CONFIG]: INI lines\n"
    "                      \"key = value\", each key an option above without its\n"
    "                      dashes (deploy/chatd.conf); the environment overrides\n"
    "                      the file, and options override both\n"
    "  --check-config      print the settings in effect and where each comes from\n"
    "                      (secrets masked), then exit: 0, or 2 with the error\n"
    "  --help              this text\n"
    "  --version           the version\n"
    "\n"
    "When it is ready, chatd prints \"chatd listening on http://HOST:PORT\"\n"
    "(https:// with TLS).  SIGINT or SIGTERM stops it cleanly (WebSockets are\n"
    "closed with 1001, within --shutdown-drain).  SIGHUP reads the settings again\n"
    "and applies the log level and format, the access log, --ws-rate and the TLS\n"
    "certificate and key (from the same files); the others need a restart.\n"
    "\n";

/* Every setting: its key (the flag without its dashes, and the
 * configuration file's key), its field in opts_t, its environment variable,
 * whether it is a secret, and its default as --check-config shows it.  A
 * new option is one row here (flag, file key, variable and --check-config
 * all follow), its line in usage, and its use in config_from_opts. */
#define CHAT_SETTINGS(X)                                                                  \
  X("listen", listen, "CHAT_LISTEN", NONE, "127.0.0.1:8080")                              \
  X("db", db, "CHAT_DB", NONE, "./data/chat.db")                                          \
  X("store", store, "CHAT_STORE", URL, "sqlite:<db>")                                     \
  X("redis", redis, "CHAT_REDIS", URL, "(none)")                                          \
  X("public", public_dir, "CHAT_PUBLIC", NONE, "./public or " CHAT_DEFAULT_PUBLIC)        \
  X("vendor", vendor_dir, "CHAT_VENDOR", NONE, "/usr/share/bootstrap-html")               \
  X("smtp", smtp, "CHAT_SMTP", URL, "(none)")                                             \
  X("mail-from", mail_from, "CHAT_MAIL_FROM", NONE, "chatd@localhost.localdomain")        \
  X("public-url", public_url, "CHAT_PUBLIC_URL", NONE, "(none)")                          \
  X("webhook-url", webhook_url, "CHAT_WEBHOOK_URL", URL, "(none)")                       \
  X("webhook-secret", webhook_secret, "CHAT_WEBHOOK_SECRET", ALL, "(none)")               \
  X("webhook-events", webhook_events, "CHAT_WEBHOOK_EVENTS", NONE, "dm,mention")          \
  X("ws-rate", ws_rate, "CHAT_WS_RATE", NONE, "20:200")                                   \
  X("register-limit", register_limit, "CHAT_REGISTER_LIMIT", NONE, "10/3600")             \
  X("login-ip-limit", login_ip_limit, "CHAT_LOGIN_IP_LIMIT", NONE, "30/600")              \
  X("login-backoff", login_backoff, "CHAT_LOGIN_BACKOFF", NONE, "5:1:60")                 \
  X("max-conns", max_conns, "CHAT_MAX_CONNS", NONE, "10000")                              \
  X("max-conns-ip", max_conns_ip, "CHAT_MAX_CONNS_IP", NONE, "256")                       \
  X("max-ws-user", max_ws_user, "CHAT_MAX_WS_USER", NONE, "20")                           \
  X("http-out-cap", http_out_cap, "CHAT_HTTP_OUT_CAP", NONE, "262144")                    \
  X("files-dir", files_dir, "CHAT_FILES_DIR", NONE, "(next to the database)")             \
  X("file-max", file_max, "CHAT_FILE_MAX", NONE, "10485760")                              \
  X("file-quota", file_quota, "CHAT_FILE_QUOTA", NONE, "209715200")                       \
  X("ws-ping-interval", ws_ping_interval, "CHAT_WS_PING_INTERVAL", NONE, "30")            \
  X("ws-pace-max", ws_pace_max, "CHAT_WS_PACE_MAX", NONE, "16")                           \
  X("shutdown-drain", shutdown_drain, "CHAT_SHUTDOWN_DRAIN", NONE, "5")                   \
  X("hash-threads", hash_threads, "CHAT_HASH_THREADS", NONE, "1")                         \
  X("hash-queue", hash_queue, "CHAT_HASH_QUEUE", NONE, "64")                              \
  X("tls-cert", tls_cert, "CHAT_TLS_CERT", NONE, "(none)")                                \
  X("tls-key", tls_key, "CHAT_TLS_KEY", NONE, "(none)")                                   \
  X("redirect-http", redirect_http, "CHAT_REDIRECT_HTTP", NONE, "(none)")                 \
  X("trusted-proxy", trusted_proxies, "CHAT_TRUSTED_PROXIES", NONE, "(none)")             \
  X("metrics-token", metrics_token, "CHAT_METRICS_TOKEN", ALL, "(none)")                  \
  X("metrics-access", metrics_access, "CHAT_METRICS_ACCESS", NONE, "local")               \
  X("log-level", log_level, "CHAT_LOG_LEVEL", NONE, "info")                               \
  X("log-format", log_format, "CHAT_LOG_FORMAT", NONE, "text")                            \
  X("access-log", access_log, "CHAT_ACCESS_LOG", NONE, "off")                           \
  X("url-prefix", url_prefix, "CHAT_URL_PREFIX", NONE, "(none: the root)")

typedef struct {
#define X(key, field, env, secret, def) const char *field;
  CHAT_SETTINGS(X)
#undef X
} opts_t;

static const chat_setting_t setting_defs[] = {
#define X(key, field, env, secret, def) {key, env, CHAT_SECRET_##secret, def, NULL, 0, 0, NULL},
    CHAT_SETTINGS(X)
#undef X
};
#define NSETTINGS (sizeof(setting_defs) / sizeof(setting_defs[0]))

static const size_t setting_offsets[] = {
#define X(key, field, env, secret, def) offsetof(opts_t, field),
    CHAT_SETTINGS(X)
#undef X
};

/* The settings in effect (for error messages: where a value came from). */
static chat_settings_t *cur_settings;

/* The store URL from --store, else --db, else the default (in buf). */
static const char *store_url(const opts_t *o, char *buf, size_t len) {
  if (o->store) return o->store;
  snprintf(buf, len, "sqlite:%s", o->db ? o->db : "./data/chat.db");
  return buf;
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

/* Takes argv[*i] if it is a setting's flag: 1, or 0 if it is none.
 * "--access-log" alone means on. */
static int parse_flag(int argc, char **argv, int *i, chat_settings_t *set) {
  if (strcmp(argv[*i], "--access-log") == 0) {
    chat_settings_set(chat_settings_find(set, "access-log"), "on", CHAT_SET_FLAG);
    return 1;
  }
  for (size_t k = 0; k < set->n; k++) {
    char name[64];
    snprintf(name, sizeof(name), "--%s", set->v[k].key);
    const char *v = opt_value(argc, argv, i, name);
    if (v) {
      chat_settings_set(&set->v[k], v, CHAT_SET_FLAG);
      return 1;
    }
  }
  return 0;
}

/* Fills set from the file (if any), the environment, then the flags of
 * argv (already checked by main).  0, or -1 with err set. */
static int settings_gather(chat_settings_t *set, const char *config, int argc, char **argv,
                           char *err, size_t errlen) {
  chat_settings_clear(set);
  set->file = config;
  if (config && chat_settings_load_file(set, config, err, errlen) != 0) return -1;
  chat_settings_load_env(set);
  /* CHAT_LOG: the older name of CHAT_LOG_LEVEL. */
  chat_setting_t *lvl = chat_settings_find(set, "log-level");
  if (getenv("CHAT_LOG") && !getenv("CHAT_LOG_LEVEL"))
    chat_settings_set(lvl, getenv("CHAT_LOG"), CHAT_SET_ENV), lvl->env = "CHAT_LOG";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--check-config") == 0) continue;
    if (opt_value(argc, argv, &i, "--config")) continue;
    parse_flag(argc, argv, &i, set);
  }
  return 0;
}

static chat_settings_t *settings_new(void) {
  chat_settings_t *set = chat_xmalloc(sizeof(*set));
  set->n = NSETTINGS;
  set->v = chat_xmalloc(sizeof(setting_defs));
  memcpy(set->v, setting_defs, sizeof(setting_defs));
  set->file = NULL;
  return set;
}

static void settings_free(chat_settings_t *set) {
  if (set == NULL) return;
  chat_settings_clear(set);
  free(set->v);
  free(set);
}

/* The settings of the command line (their values outlive the server). */
static chat_settings_t *main_settings;
static void main_settings_free(void) { settings_free(main_settings); }

static void settings_to_opts(const chat_settings_t *set, opts_t *o) {
  for (size_t k = 0; k < set->n; k++)
    *(const char **)((char *)o + setting_offsets[k]) = set->v[k].value;
}

/* The log's level, format and access log from o.  0, or -1 (reported). */
static int parse_log(const opts_t *o, chat_log_level_t *level, chat_log_format_t *format,
                     int *access);

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

static int reloading;  /* errors go to the log, not to stderr as at start */

/* Reports a bad value of the setting name ("--key"), naming where it came
 * from: "FILE:LINE: bad key VALUE", "bad CHAT_KEY=VALUE", "bad --key VALUE". */
static int bad_option(const char *name, const char *value, const char *want) {
  const char *key = strncmp(name, "--", 2) == 0 ? name + 2 : name;
  chat_setting_t *e = cur_settings ? chat_settings_find(cur_settings, key) : NULL;
  char where[512], msg[1024];
  if (e && e->src == CHAT_SET_FILE)
    snprintf(msg, sizeof(msg), "%s: bad %s %s (want %s)",
             chat_settings_where(cur_settings, e, where, sizeof(where)), key, value, want);
  else if (e && e->src == CHAT_SET_ENV)
    snprintf(msg, sizeof(msg), "bad %s=%s (want %s)", e->env, value, want);
  else
    snprintf(msg, sizeof(msg), "bad --%s %s (want %s)", key, value, want);
  if (reloading)
    chat_log_error("reload: %s; the settings stay as they were", msg);
  else
    fprintf(stderr, "chatd: %s\n", msg);
  return -1;
}

static int parse_log(const opts_t *o, chat_log_level_t *level, chat_log_format_t *format,
                     int *access) {
  static const char *const levels[] = {"debug", "info", "warn", "error"};
  *level = CHAT_LOG_INFO;
  *format = CHAT_LOG_TEXT;
  *access = 0;
  if (o->log_level) {
    size_t k = 0;
    while (k < 4 && strcmp(o->log_level, levels[k]) != 0) k++;
    if (k == 4) return bad_option("--log-level", o->log_level, "debug, info, warn or error");
    *level = (chat_log_level_t)k;
  }
  if (o->log_format) {
    if (strcmp(o->log_format, "json") == 0)
      *format = CHAT_LOG_JSON;
    else if (strcmp(o->log_format, "text") != 0)
      return bad_option("--log-format", o->log_format, "text or json");
  }
  if (o->access_log) {
    const char *v = o->access_log;
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
      *access = 1;
    else if (strcmp(v, "off") && strcmp(v, "no") && strcmp(v, "false") && strcmp(v, "0"))
      return bad_option("--access-log", v, "on or off");
  }
  return 0;
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
  if (o->ws_pace_max) {
    if (parse_count(o->ws_pace_max, 1000, &v) != 0)
      return bad_option("--ws-pace-max", o->ws_pace_max, "milliseconds, 0 to 1000");
    cfg->ws_pace_max_ms = v;
  }
  if (o->shutdown_drain) {
    if (parse_count(o->shutdown_drain, 3600, &v) != 0)
      return bad_option("--shutdown-drain", o->shutdown_drain, "seconds, 0 to 3600");
    cfg->shutdown_drain_s = v;
  }
  return 0;
}

/* Room for the texts a chat_config_t points to. */
typedef struct {
  char host[256], redirect_host[256];
  char store[4096];
} cfg_bufs_t;

/* The server's configuration from the settings: 0, or -1 with the bad
 * value reported.  cfg points into o's strings and b. */
static int config_from_opts(const opts_t *o, chat_config_t *cfg, cfg_bufs_t *b) {
  chat_config_init(cfg);
  char *host = b->host;
  int port = 8080;
  snprintf(host, sizeof(b->host), "127.0.0.1");
  if (o->listen && parse_listen(o->listen, host, sizeof(b->host), &port) != 0) {
    bad_option("--listen", o->listen, "ADDR:PORT");
    return -1;
  }
  cfg->listen_host = host;
  cfg->listen_port = port;
  cfg->store_url = store_url(o, b->store, sizeof(b->store));
  if (o->public_dir)
    cfg->public_dir = o->public_dir;
  else if (access("./public/index.html", R_OK) == 0)
    cfg->public_dir = "./public";
  else
    cfg->public_dir = CHAT_DEFAULT_PUBLIC;
  if (o->vendor_dir) cfg->vendor_dir = o->vendor_dir;
  if (o->redis && *o->redis) cfg->redis_url = o->redis;
  cfg->smtp_url = o->smtp;
  cfg->mail_from = o->mail_from ? o->mail_from : "chatd@localhost.localdomain";
  cfg->public_url = o->public_url;
  cfg->webhook_url = o->webhook_url;
  cfg->webhook_secret = o->webhook_secret;
  cfg->webhook_events = o->webhook_events;
  cfg->url_prefix = o->url_prefix;  /* embed */
  if (o->ws_rate) {
    char *end;
    cfg->ws_rate = strtod(o->ws_rate, &end);
    if (*end == ':') cfg->ws_burst = strtod(end + 1, &end);
    if (*end || end == o->ws_rate || cfg->ws_rate < 0 || cfg->ws_burst < 1) {
      bad_option("--ws-rate", o->ws_rate, "N or N:BURST");
      return -1;
    }
  }
  if (parse_limits(o, cfg) != 0) return -1;
  if (o->tls_cert && *o->tls_cert) cfg->tls_cert = o->tls_cert;
  if (o->tls_key && *o->tls_key) cfg->tls_key = o->tls_key;
  char *redirect_host = b->redirect_host;
  if (o->redirect_http && *o->redirect_http) {
    if (parse_listen(o->redirect_http, redirect_host, sizeof(b->redirect_host),
                     &cfg->redirect_port) != 0) {
      bad_option("--redirect-http", o->redirect_http, "ADDR:PORT");
      return -1;
    }
    cfg->redirect_host = redirect_host;
  }
  cfg->trusted_proxies = o->trusted_proxies;
  cfg->metrics_token = o->metrics_token;
  if (o->metrics_access) {
    if (strcmp(o->metrics_access, "local") == 0) {
      cfg->metrics_access = CHAT_METRICS_LOCAL;
    } else if (strcmp(o->metrics_access, "token") == 0) {
      cfg->metrics_access = CHAT_METRICS_TOKEN;
    } else if (strcmp(o->metrics_access, "open") == 0) {
      cfg->metrics_access = CHAT_METRICS_OPEN;
    } else {
      bad_option("--metrics-access", o->metrics_access, "local, token or open");
      return -1;
    }
  }
  return 0;
}

typedef struct {
  uv_signal_t sigint, sigterm, sighup;
  int tls_on;                   /* serving TLS: SIGHUP reloads the certificate */
  chat_server_t *srv;
  int signals;
  const char *config;           /* the configuration file, or NULL */
  int argc;                     /* the command line, read again at a reload */
  char **argv;
  chat_sdnotify_t *sd;          /* systemd notification; NULL: none */
  int reload_busy;              /* a reload is reading the files */
  int reload_again;             /* SIGHUP came meanwhile: one more after it */
} app_t;

static void stopped_cb(chat_server_t *srv, void *ud) {
  app_t *app = ud;
  uv_close((uv_handle_t *)&app->sigint, NULL);
  uv_close((uv_handle_t *)&app->sigterm, NULL);
  uv_close((uv_handle_t *)&app->sighup, NULL);
  chat_sdnotify_close(app->sd);
  app->sd = NULL;
  chat_log_info("stopped");
}

/* SIGHUP: reads the settings again (file, environment, flags) and applies
 * what can change while running: the log's level and format, the access
 * log, and the TLS certificate and key (read again from their files; the
 * server logs how it went and keeps the old ones on failure).  A file or
 * value in error changes nothing.  The other settings need a restart
 * (README, "Operators").  The files are read on a worker thread (libuv's
 * pool), never on the loop; a SIGHUP during a reload is one more reload
 * after it. */
typedef struct {
  uv_work_t work;
  app_t *app;
  chat_settings_t *set;
  int rc;
  char err[512];
} reload_job_t;

static void reload_work_cb(uv_work_t *w) {
  reload_job_t *j = container_of(w, reload_job_t, work);
  app_t *app = j->app;
  j->rc = settings_gather(j->set, app->config, app->argc, app->argv, j->err, sizeof(j->err));
}

/* Checks and applies the settings read (loop thread). */
static void reload_apply(app_t *app, chat_settings_t *set) {
  chat_settings_t *prev = cur_settings;
  opts_t o;
  settings_to_opts(set, &o);
  chat_log_level_t level;
  chat_log_format_t format;
  int access;
  reloading = 1;
  cur_settings = set;
  int rc = parse_log(&o, &level, &format, &access);
  /* Every value must be good, even those that need a restart to apply. */
  chat_config_t cfg;
  cfg_bufs_t *bufs = chat_xmalloc(sizeof(*bufs));
  if (rc == 0) rc = config_from_opts(&o, &cfg, bufs);
  free(bufs);
  cur_settings = prev;
  reloading = 0;
  if (rc != 0) return;
  chat_server_set_ws_rate(app->srv, cfg.ws_rate, cfg.ws_burst);
  chat_log_set_level(level);
  chat_log_set_format(format);
  chat_log_set_access(access);
  chat_log_info("reload: log level %s, format %s, access log %s, ws-rate %g:%g",
                o.log_level ? o.log_level : "info", o.log_format ? o.log_format : "text",
                access ? "on" : "off", cfg.ws_rate, cfg.ws_burst > 1 ? cfg.ws_burst : 1);
  char err[512];
  if (app->tls_on) chat_server_reload_tls(app->srv, err, sizeof(err));
}

static void reload_start(app_t *app);

static void reload_after_cb(uv_work_t *w, int status) {
  reload_job_t *j = container_of(w, reload_job_t, work);
  app_t *app = j->app;
  app->reload_busy = 0;
  if (app->signals == 0 && status == 0) {  /* not while stopping */
    if (j->rc != 0)
      chat_log_error("reload: %s; the settings stay as they were", j->err);
    else
      reload_apply(app, j->set);
  }
  settings_free(j->set);  /* the options' strings were its */
  free(j);
  if (app->reload_again && app->signals == 0) {
    app->reload_again = 0;
    reload_start(app);
  }
}

static void reload_start(app_t *app) {
  reload_job_t *j = chat_xcalloc(1, sizeof(*j));
  j->app = app;
  j->set = settings_new();
  app->reload_busy = 1;
  if (uv_queue_work(app->sighup.loop, &j->work, reload_work_cb, reload_after_cb) != 0) {
    app->reload_busy = 0;
    settings_free(j->set);
    free(j);
    chat_log_error("reload: cannot start; the settings stay as they were");
  }
}

static void reload_cb(uv_signal_t *h, int signum) {
  app_t *app = h->data;
  if (app->reload_busy)
    app->reload_again = 1;
  else
    reload_start(app);
}

static void signal_cb(uv_signal_t *h, int signum) {
  app_t *app = h->data;
  if (app->signals++ > 0) {
    chat_log_warn("second signal: exiting at once");
    _exit(1);
  }
  chat_log_info("signal %d: stopping", signum);
  chat_sdnotify_stopping(app->sd);
  chat_server_stop(app->srv, stopped_cb, app);
}

int main(int argc, char **argv) {
  /* The administration commands (admin.h): user, room, db, export, help. */
  if (argc >= 2 && chat_admin_is_command(argv[1])) return chat_admin_main(argc, argv);

  const char *config = getenv("CHAT_CONFIG");
  if (config && !*config) config = NULL;
  int check_config = 0;
  chat_settings_t *set = main_settings = settings_new();
  atexit(main_settings_free);
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      chat_admin_help(stdout);
      return 0;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("chatd %s\n", CHAT_VERSION);
      return 0;
    }
    if (strcmp(argv[i], "--check-config") == 0) {
      check_config = 1;
      continue;
    }
    if ((v = opt_value(argc, argv, &i, "--config"))) {
      config = v;
      continue;
    }
    if (!parse_flag(argc, argv, &i, set)) {
      fprintf(stderr, "chatd: unknown argument %s\n%s", argv[i], usage);
      return 2;
    }
  }
  char err[512] = "";
  if (settings_gather(set, config, argc, argv, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err);
    return 2;
  }
  cur_settings = set;
  opts_t o;
  settings_to_opts(set, &o);
  chat_log_level_t log_level;
  chat_log_format_t log_format;
  int access_log;
  if (parse_log(&o, &log_level, &log_format, &access_log) != 0) return 2;
  chat_log_set_level(log_level);
  chat_log_set_format(log_format);
  chat_log_set_access(access_log);

  chat_config_t cfg;
  static cfg_bufs_t bufs;
  if (config_from_opts(&o, &cfg, &bufs) != 0) return 2;
  const char *host = bufs.host;
  /* Mail timing can be shortened for tests. */
  const char *iv = getenv("CHAT_MAIL_INTERVAL_MS"), *gv = getenv("CHAT_MAIL_GATHER_MS");
  if (iv) cfg.mail_interval_ms = strtoul(iv, NULL, 10);
  if (gv) cfg.mail_gather_ms = strtoul(gv, NULL, 10);
  /* Webhook timing too (webhook.h). */
  const char *wi = getenv("CHAT_WEBHOOK_INTERVAL_MS"), *wg = getenv("CHAT_WEBHOOK_GATHER_MS"),
             *wb = getenv("CHAT_WEBHOOK_BACKOFF_MS");
  if (wi) cfg.webhook_interval_ms = strtoul(wi, NULL, 10);
  if (wg) cfg.webhook_gather_ms = strtoul(wg, NULL, 10);
  if (wb) cfg.webhook_backoff_ms = strtoul(wb, NULL, 10);
  /* Message order across instances (docs/PROTOCOL.md, section 5). */
  const char *og = getenv("CHAT_ORDER_GAP_MS"), *oc = getenv("CHAT_ORDER_CHECK_MS");
  if (og) cfg.order_gap_ms = strtoul(og, NULL, 10);
  if (oc) cfg.order_check_ms = strtoul(oc, NULL, 10);
#ifdef CHAT_FAULT_HOOKS
  if (getenv("CHAT_FAULT_EXIT_AFTER_COMMIT"))
    fprintf(stderr, "chatd: test build: CHAT_FAULT_EXIT_AFTER_COMMIT is armed\n");
#endif
  if (check_config) {
    if (config) printf("# configuration file %s\n", config);
    chat_settings_print(set, stdout);
    return 0;
  }

  /* A peer that goes away mid-write must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  /* A file size limit (RLIMIT_FSIZE) reached by the store must fail that
   * write (EFBIG: the store answers unavailable, /healthz says read_only),
   * not kill the process. */
  signal(SIGXFSZ, SIG_IGN);

  uv_loop_t *loop = uv_default_loop();
  app_t app = {0};
  app.config = config;
  app.argc = argc;
  app.argv = argv;
  app.tls_on = cfg.tls_cert != NULL;
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
  uv_signal_init(loop, &app.sighup);
  app.sighup.data = &app;
  uv_signal_start(&app.sighup, reload_cb, SIGHUP);

  chat_log_info("chatd %s: store %s, front end %s", CHAT_VERSION,
                strncmp(cfg.store_url, "sqlite:", 7) == 0 ? cfg.store_url : "(configured)",
                cfg.public_dir);
  if (cfg.redirect_host)
    printf("chatd redirecting http://%s:%d to https\n", cfg.redirect_host,
           chat_server_redirect_port(app.srv));
  printf("chatd listening on %s://%s:%d\n", cfg.tls_cert ? "https" : "http", host,
         chat_server_port(app.srv));
  fflush(stdout);
  app.sd = chat_sdnotify_ready(loop);  /* listening, store open */

  uv_run(loop, UV_RUN_DEFAULT);
  chat_server_free(app.srv);
  int rc = uv_loop_close(loop);
  if (rc != 0) chat_log_warn("loop closed with handles open: %s", uv_strerror(rc));
  return 0;
}
