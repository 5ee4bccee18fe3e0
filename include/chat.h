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
 * thread pool for blocking work (store, password hashing, disk).
 *
 * Stability: everything declared in this header is the library's stable
 * interface (soname libchat.so.1): within one soname, functions keep their
 * signatures and meaning, and chat_config_t only grows at its end (always
 * fill it with chat_config_init first).  The shared library exports
 * nothing else (cmake/libchat.map); the static one holds internal chat_*
 * names too, which are not part of it.  Several servers may run in one
 * process, on one loop or on several (one loop per thread); a server and
 * its callbacks belong to the thread that runs its loop.
 *
 * Ownership: strings handed to the library are copied unless a comment
 * says otherwise; strings the library hands to a callback are valid only
 * during the call (copy what you keep). */
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
  /* Mounting under a prefix: NULL or "" (default) serves every route at
   * the root; "/chat" serves them under /chat/ (the API at /chat/api/...,
   * the WebSocket at /chat/ws, the front end at /chat/, files at
   * /chat/files/...), answers 301 from /chat to /chat/ and 404 to paths
   * outside.  Paths inside answers (a file's url, an avatar) stay relative
   * to the mount ("/files/..." means PREFIX/files/...): a client joins the
   * prefix, as the front end does from its page's location.  One leading
   * "/", no trailing "/", no "?", "#", "%" or "..". */
  const char *url_prefix;
  /* Output pacing (src/actors/pacer.h): while the loop is busy, a
   * WebSocket is written at most once per interval, which grows with the
   * loop's busy share up to this many milliseconds, so that each write
   * carries more frames.  Default 8; 0: every frame batch is written at the
   * end of its loop turn. */
  double ws_pace_max_ms;
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
 * renewal), on a worker thread (libuv's pool), never blocking the loop:
 * once they are loaded, connections made from then on use the new ones;
 * open connections keep theirs.  If they do not load, the old ones stay.
 * The outcome is logged ("TLS certificate reloaded (generation N)" or
 * "TLS certificate not reloaded, the old one stays: WHY").  0: the reload
 * started; CHAT_EINVAL-style negative code with err set if TLS is off.  A
 * stop waits for a reload under way. */
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

/* ---- Hooks for the host ---------------------------------------------
 * Every callback runs on the loop thread, from the server's own handling
 * (never from inside the function that set it); it must not block, and it
 * may call the functions of this header (e.g. chat_server_post) but not
 * chat_server_free. */

/* A stored message, as the callbacks see it.  Every pointer is valid only
 * during the call. */
typedef struct {
  long long id;            /* the message id (unique per store) */
  long long room_id;       /* a room message's room; 0 for a DM */
  const char *to;          /* a DM's receiver (username); NULL in a room */
  const char *sender;      /* the sender's username */
  const char *text;        /* UTF-8, text_len bytes, NUL-terminated */
  size_t text_len;
  long long ts;            /* stored time, milliseconds since the epoch */
  const char *json;        /* the message object clients get (docs/PROTOCOL.md:
                              the `message` / `dm` frame's contents), json_len
                              bytes, NUL-terminated */
  size_t json_len;
} chat_message_t;

/* Called once for each room message and DM stored through this server,
 * after its transaction committed (the message is durable) and before or
 * while it is delivered; a resent duplicate (same cid) is not reported
 * again.  Messages stored by other instances sharing a Redis are reported
 * by their own servers only.  cb NULL: none.  Replaces the previous one. */
typedef void (*chat_message_cb)(chat_server_t *srv, const chat_message_t *msg, void *ud);
void chat_server_on_message(chat_server_t *srv, chat_message_cb cb, void *ud);

/* Host authentication: called for every HTTP API request and WebSocket
 * upgrade with the request's Cookie and Authorization header values (NULL
 * when absent; *_len bytes, not NUL-terminated).  To vouch for the request,
 * write the user's name (NUL-terminated, at most cap - 1 bytes; the rules
 * of registration: 1 to 32 letters, digits, "_" or "-") into username and
 * return 1: the request is that user's, who is created in the store
 * (without a password, so only the host can log them in) on first use.
 * Return 0 to leave the request to the chat's own session cookie (its
 * /api/login); a name the rules refuse counts as 0.  Must not block: look
 * the session up in memory.  cb NULL: none.  Replaces the previous one. */
typedef int (*chat_auth_cb)(chat_server_t *srv, const char *cookie, size_t cookie_len,
                            const char *authorization, size_t authorization_len,
                            char *username, size_t cap, void *ud);
void chat_server_set_auth(chat_server_t *srv, chat_auth_cb cb, void *ud);

/* Posts text (UTF-8; the rules of a client's send) into the room named
 * room as the user bot_username (a system or bot account, created without
 * a password if missing).  The message is stored and delivered to the
 * room's members like any other; the bot need not be a member.  cb (may be
 * NULL) runs once, later, on the loop: rc 0 and the stored message's id
 * once it is durable, or a negative code (CHAT_POST_*).  Returns 0 if
 * queued, or a negative code at once (bad arguments, server not running;
 * cb is then not called).  Strings are copied. */
enum {
  CHAT_POST_EINVAL = -4,    /* bad name, text or room name */
  CHAT_POST_ENOROOM = -1,   /* no such room */
  CHAT_POST_EUNAVAIL = -3,  /* the store is unavailable, or the server stopped */
};
typedef void (*chat_post_cb)(chat_server_t *srv, int rc, long long id, void *ud);
int chat_server_post(chat_server_t *srv, const char *room, const char *bot_username,
                     const char *text, chat_post_cb cb, void *ud);

/* Adopting a connection: a host with its own listener (and perhaps its
 * own HTTP server) hands the chat an accepted TCP connection, which is
 * then served exactly like one from the chat's own listener (plain HTTP;
 * TLS, if any, is the host's business).  accepted must be an initialised,
 * connected uv_tcp_t on the server's loop that the host has not started
 * reading, or has stopped reading; data/len (may be NULL/0) are bytes the
 * host already read from it (e.g. a request head it looked at to choose
 * the chat), handled as if they came first.  The server takes the socket
 * over (a duplicate of its descriptor): whatever the result, the host then
 * closes its handle with uv_close and keeps nothing else.  Returns 0, or a
 * negative libuv code (server not running, dup failed).  The server must be
 * running: chat_server_start, or chat_server_start_adopted for one that
 * has no listener of its own. */
int chat_server_adopt(chat_server_t *srv, uv_tcp_t *accepted, const char *data, size_t len);
/* Starts a server that serves adopted connections only: nothing is bound
 * (listen_*, redirect_* are unused; chat_server_port says -1).  0. */
int chat_server_start_adopted(chat_server_t *srv);

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
