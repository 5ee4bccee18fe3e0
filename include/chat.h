/* chatd as a library: a multi-user chat server (HTTP API, WebSocket, static
 * front end) that runs on a libuv loop the embedding program owns.
 *
 *   chat_config_t cfg;
 *   chat_config_init(&cfg);
 *   cfg.listen_port = 8080;
 *   chat_server_t *srv;
 *   if (chat_server_new(loop, &cfg, &srv, err, sizeof(err)) == 0 &&
 *       chat_server_start(srv, err, sizeof(err)) == 0) {
 *     ... uv_run(loop, UV_RUN_DEFAULT) ...
 *   }
 *   chat_server_stop(srv, stopped_cb, ud);   // later, e.g. on SIGTERM
 *   // in stopped_cb (or after uv_run returns): chat_server_free(srv);
 *
 * All functions are called on the loop's thread.  The server uses libuv's
 * thread pool for blocking work (store, password hashing, disk). */
#ifndef CHAT_H
#define CHAT_H

#include <stddef.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chat_server_s chat_server_t;

typedef struct {
  const char *listen_host;   /* default "127.0.0.1" */
  int listen_port;           /* default 8080; 0 picks a free port */
  const char *store_url;     /* default "sqlite:./data/chat.db"; or
                                "mysql://user:pass@host:port/db" */
  const char *redis_url;     /* NULL (default): presence in this process;
                                "redis://host:port/db": shared by every
                                chatd using that Redis */
  const char *public_dir;    /* the front end; default "./public" */
  const char *vendor_dir;    /* served under /vendor/bootstrap/; default
                                "/usr/share/bootstrap-html" (libjs-bootstrap5) */
  int store_pool;            /* store connections; default 4 */
  size_t ws_max_message;     /* default 64 KiB */
  size_t ws_out_cap;         /* bytes queued per connection before 1013;
                                default 4 MiB */
  int session_days;          /* session lifetime; default 30 */
  /* Flood control, per user over all its WebSockets: every frame takes one
   * from a bucket of ws_burst refilled at ws_rate a second; past it the
   * frame gets an `error` rate_limited (nothing stored).  ws_rate 0: no
   * limit.  Defaults 20 a second and a burst of 200. */
  double ws_rate;
  double ws_burst;
  /* Abuse limits (the README's "Choices" says what each answers); 0 turns
   * a limit off. */
  int hash_threads;          /* password-hashing threads; default 1 */
  int hash_queue;            /* hashes waiting or running before logins and
                                registrations get 503 busy; default 64 */
  double register_limit;     /* registrations per address per register_period_s; */
  double register_period_s;  /* default 10 an hour */
  double login_ip_limit;     /* failed logins per address (any accounts) per */
  double login_ip_period_s;  /* login_ip_period_s; default 30 per 10 minutes */
  int login_free_fails;      /* failed logins of an account before a delay; default 5 */
  double login_delay_s;      /* the first delay, doubled at each failure; default 1 */
  double login_delay_max_s;  /* ... up to this; default 60 */
  int max_conns;             /* open connections in all; default 10000 */
  int max_conns_ip;          /* open connections per address; default 256 */
  int max_ws_user;           /* WebSockets per user (on this instance); default 20 */
  size_t http_out_cap;       /* HTTP answers queued before a connection's next
                                request is read; default 256 KiB */
  /* Keepalive: a WebSocket that has sent nothing for this many seconds gets
   * a ping; one that has sent nothing for twice as long is closed as a
   * dead peer (its user leaves rooms and the online list at once).
   * Default 30; 0: no pings. */
  double ws_ping_interval_s;
  /* At a stop, how long WebSockets get to finish their close handshake and
   * every connection its queued output; then what is left is cut off.
   * Default 5 seconds; 0: cut off at once.  Both at most a day. */
  double shutdown_drain_s;
  /* E-mail about missed DMs and @mentions for offline users (NULL: off). */
  const char *smtp_url;      /* "smtp://host:port" */
  const char *mail_from;     /* the sender address */
  const char *public_url;    /* the link in mails, e.g. "https://chat.example.org/" */
  unsigned long mail_interval_ms;  /* at most one mail per user per this; 0: 10 min */
  unsigned long mail_gather_ms;    /* a first item waits this for more; 0: 30 s */
  /* Message order (docs/PROTOCOL.md, "Ordering"): a room waits order_gap_ms
   * for a missing message before reading it from the store (0: 25 ms);
   * with Redis, every room's last_seq is read every order_check_ms (0:
   * 1000 ms), which finds a message whose instance died before publishing
   * it. */
  unsigned long order_gap_ms;
  unsigned long order_check_ms;
  /* TLS: the certificate chain (PEM, the leaf first) and its private key
   * (PEM, not encrypted).  Both NULL (default): plain HTTP.  With TLS the
   * session cookie is Secure and responses carry Strict-Transport-Security;
   * chat_server_reload_tls reads the files again. */
  const char *tls_cert;
  const char *tls_key;
  /* With TLS, also listen for plain HTTP here and answer every request
   * with a 301 to the same path on https:// (redirect_host NULL: no such
   * listener; redirect_port 0 picks a free port). */
  const char *redirect_host;
  int redirect_port;
  /* Peers (reverse proxies) whose X-Forwarded-For and X-Forwarded-Proto are
   * believed: "CIDR[,CIDR...]", e.g. "127.0.0.1,10.0.0.0/8".  Their
   * client address is then the one rate limits and logs use, and
   * X-Forwarded-Proto: https makes the cookie Secure and adds HSTS.
   * NULL or "" (default): nobody. */
  const char *trusted_proxies;
  /* Who may read GET /metrics (others get 403 forbidden):
   * CHAT_METRICS_LOCAL (default) clients on a loopback address, and anyone
   * sending "Authorization: Bearer TOKEN" when metrics_token is set;
   * CHAT_METRICS_TOKEN only requests with the token (needs metrics_token;
   * use it behind a reverse proxy on the same host, through which every
   * client looks local, unless trusted_proxies names the proxy);
   * CHAT_METRICS_OPEN anyone. */
  int metrics_access;
  const char *metrics_token; /* NULL or "": none; never logged */
  /* Files (POST /api/files): where their bytes go (NULL: a "files" folder
   * next to the SQLite database, or ./data/files with MySQL; instances
   * sharing a store share this folder), the largest file in bytes (0:
   * 10 MiB) and what one user's files may add up to (0: 200 MiB). */
  const char *files_dir;
  size_t file_max;
  size_t file_quota;
  /* Webhook notifications (README.md, "Notifications"): missed DMs and
   * @mentions (and, if chosen, room joins) POSTed as signed JSON to
   * webhook_url (NULL or "": off).  webhook_secret is the HMAC-SHA256 key
   * (required with a URL; never logged).  webhook_events: "dm,mention"
   * (default), any subset of dm, mention, join, or "all".  The timing
   * fields are as for mail; 0: 60 s interval, 10 s gather, 1 s first
   * retry delay. */
  const char *webhook_url;
  const char *webhook_secret;
  const char *webhook_events;
  unsigned long webhook_interval_ms;
  unsigned long webhook_gather_ms;
  unsigned long webhook_backoff_ms;
} chat_config_t;

/* Values of chat_config_t.metrics_access. */
enum { CHAT_METRICS_LOCAL = 0, CHAT_METRICS_TOKEN = 1, CHAT_METRICS_OPEN = 2 };

/* Fills cfg with the defaults. */
void chat_config_init(chat_config_t *cfg);

/* Creates a server on loop: opens the store (applying schema migrations)
 * and loads the rooms.  Strings in cfg are copied.  On failure returns a
 * negative code and writes a message into err. */
int chat_server_new(uv_loop_t *loop, const chat_config_t *cfg,
                    chat_server_t **out, char *err, size_t errlen);
/* Binds and listens.  0 or a negative code (err says why). */
int chat_server_start(chat_server_t *srv, char *err, size_t errlen);
/* The port listened on (useful with listen_port 0), or -1. */
int chat_server_port(const chat_server_t *srv);
/* The plain HTTP redirect's port, or -1 if there is none. */
int chat_server_redirect_port(const chat_server_t *srv);
/* Reads the TLS certificate and key files again (e.g. on SIGHUP, after a
 * renewal): connections made from now on use the new ones, open
 * connections keep theirs.  0; CHAT_EINVAL-style negative code with err set
 * if TLS is off or the files do not load (then the old ones stay). */
int chat_server_reload_tls(chat_server_t *srv, char *err, size_t errlen);
/* Changes the WebSocket frame rate limit (as chat_config_t's ws_rate and
 * ws_burst) while running; every user starts again with a full bucket.
 * On the loop's thread only. */
void chat_server_set_ws_rate(chat_server_t *srv, double rate, double burst);

typedef void (*chat_server_stop_cb)(chat_server_t *srv, void *ud);
/* Graceful stop: stops accepting, closes WebSockets with 1001, lets
 * responses and store writes in flight finish, closes every handle the
 * server opened, then calls cb (may be NULL).  Connections still open
 * shutdown_drain_s after the stop began are cut off.  After that the loop
 * has nothing of the server's left. */
void chat_server_stop(chat_server_t *srv, chat_server_stop_cb cb, void *ud);
/* Frees a server whose stop has completed (a server that failed to start
 * is stopped too: chat_server_stop, then run the loop until its callback). */
void chat_server_free(chat_server_t *srv);

/* Creates a user directly in the store named by store_url (blocking; for
 * command-line tools, not for use on a running loop).  role_admin: 0 or 1.
 * Returns 0, or a negative code with err set (e.g. "username taken"). */
int chat_admin_create_user(const char *store_url, const char *username,
                           const char *email, const char *password,
                           int role_admin, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
