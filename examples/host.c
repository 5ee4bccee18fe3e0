/* A host program that embeds the chat (README.md, "Embedding").
 *
 * On one libuv loop it runs:
 *   - the chat, mounted under /chat/, on its own listener (--chat-port);
 *   - its own tiny HTTP server (--http-port) with its own accounts:
 *       GET /hello             "hello from the host" and the timer's count
 *       GET /login?name=NAME   a host session (cookie host_sid) for NAME,
 *                              which the chat accepts through its host
 *                              authentication hook: no second login
 *       /chat/...              handed to the chat (chat_server_adopt), so
 *                              the chat is reachable through this port too
 *   - a timer that posts "bot tick N" into the room --room as the user
 *     --bot every --every seconds (chat_server_post);
 *   - a callback that prints every stored message ("stored ...");
 *   - with --second-port, a second chat server (its own store, no prefix)
 *     in the same process.
 * SIGINT or SIGTERM stops everything in order.
 *
 *   host --store sqlite:/tmp/a.db [--chat-port 0] [--http-port 0]
 *        [--public DIR] [--every 2] [--room lobby] [--bot bot]
 *        [--second-port 0 --second-store sqlite:/tmp/b.db]
 *
 * Once ready it prints "host ready chat=P http=P second=P" (-1: none). */
#include <chat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifndef CHAT_PUBLIC_DIR
#define CHAT_PUBLIC_DIR "/usr/local/share/chat/public"
#endif

#define MAX_SESSIONS 64
#define HEAD_MAX 8192

typedef struct {
  char token[33];
  char name[64];
} session_t;

typedef struct {
  uv_loop_t *loop;
  chat_server_t *chat;
  chat_server_t *second;       /* NULL: none */
  int servers_running;         /* servers whose stop has not completed */
  uv_tcp_t http;               /* the host's own listener */
  int http_port;
  uv_timer_t timer;
  unsigned long every_ms;
  unsigned ticks;
  const char *room;
  const char *bot;
  uv_signal_t sigint, sigterm;
  session_t sessions[MAX_SESSIONS];
  size_t nsessions;
  int stopping;
} host_t;

/* One connection to the host's HTTP server: read up to the end of the
 * request head, then answer (or hand it to the chat). */
typedef struct {
  uv_tcp_t tcp;
  host_t *host;
  char buf[HEAD_MAX];
  size_t len;
} hconn_t;

/* ---- the chat's hooks -------------------------------------------------- */

static void on_message(chat_server_t *srv, const chat_message_t *m, void *ud) {
  host_t *h = ud;
  printf("stored %s message %lld room %lld from %s%s%s: %.*s\n",
         srv == h->chat ? "chat" : "second", m->id, m->room_id, m->sender, m->to ? " to " : "",
         m->to ? m->to : "", (int)m->text_len, m->text);
  fflush(stdout);
}

/* Host authentication: the cookie host_sid names one of our sessions. */
static int on_auth(chat_server_t *srv, const char *cookie, size_t cookie_len,
                   const char *authorization, size_t authorization_len, char *username,
                   size_t cap, void *ud) {
  host_t *h = ud;
  if (cookie == NULL) return 0;
  const char *key = "host_sid=";
  size_t klen = strlen(key);
  for (size_t i = 0; i + klen <= cookie_len; i++) {
    if ((i == 0 || cookie[i - 1] == ' ' || cookie[i - 1] == ';') &&
        memcmp(cookie + i, key, klen) == 0) {
      const char *v = cookie + i + klen;
      size_t n = 0;
      while (i + klen + n < cookie_len && v[n] != ';') n++;
      for (size_t s = 0; s < h->nsessions; s++)
        if (strlen(h->sessions[s].token) == n && memcmp(h->sessions[s].token, v, n) == 0) {
          snprintf(username, cap, "%s", h->sessions[s].name);
          return 1;
        }
      return 0;
    }
  }
  return 0;
}

static void on_posted(chat_server_t *srv, int rc, long long id, void *ud) {
  if (rc == 0)
    printf("posted bot message %lld\n", id);
  else
    printf("bot post failed: %d\n", rc);
  fflush(stdout);
}

static void on_tick(uv_timer_t *t) {
  host_t *h = t->data;
  char text[64];
  snprintf(text, sizeof(text), "bot tick %u", ++h->ticks);
  int rc = chat_server_post(h->chat, h->room, h->bot, text, on_posted, h);
  if (rc != 0) printf("bot post refused: %d\n", rc);
  fflush(stdout);
}

/* ---- the host's own HTTP server --------------------------------------- */

static void hconn_closed(uv_handle_t *hd) { free(hd->data); }

static void hconn_written(uv_write_t *w, int status) {
  hconn_t *c = w->data;
  free(w);
  uv_close((uv_handle_t *)&c->tcp, hconn_closed);
}

static void hconn_answer(hconn_t *c, const char *status, const char *extra, const char *body) {
  size_t cap = strlen(body) + (extra ? strlen(extra) : 0) + 256;
  uv_write_t *w = malloc(sizeof(*w) + cap);
  char *out = (char *)(w + 1);
  int n = snprintf(out, cap,
                   "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                   status, strlen(body), extra ? extra : "", body);
  uv_buf_t b = uv_buf_init(out, (unsigned)n);
  w->data = c;
  if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, hconn_written) != 0) {
    free(w);
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
  }
}

static void hconn_route(hconn_t *c) {
  host_t *h = c->host;
  char method[8], path[1024];
  if (sscanf(c->buf, "%7s %1023s", method, path) != 2) {
    hconn_answer(c, "400 Bad Request", NULL, "bad request\n");
    return;
  }
  if (strcmp(path, "/chat") == 0 || strncmp(path, "/chat/", 6) == 0) {
    /* The chat's: it takes the socket and the bytes read so far. */
    uv_read_stop((uv_stream_t *)&c->tcp);
    int rc = chat_server_adopt(h->chat, &c->tcp, c->buf, c->len);
    if (rc != 0) fprintf(stderr, "adopt: %s\n", uv_strerror(rc));
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
    return;
  }
  if (strcmp(path, "/hello") == 0) {
    char body[128];
    snprintf(body, sizeof(body), "hello from the host, %u ticks\n", h->ticks);
    hconn_answer(c, "200 OK", NULL, body);
    return;
  }
  if (strncmp(path, "/login?name=", 12) == 0 && h->nsessions < MAX_SESSIONS) {
    session_t *s = &h->sessions[h->nsessions++];
    snprintf(s->name, sizeof(s->name), "%s", path + 12);
    /* A real host would use a random token (e.g. uv_random). */
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) memset(rnd, 7, sizeof(rnd));
    for (int i = 0; i < 16; i++) snprintf(s->token + 2 * i, 3, "%02x", rnd[i]);
    char extra[128];
    snprintf(extra, sizeof(extra), "Set-Cookie: host_sid=%s; Path=/; HttpOnly\r\n", s->token);
    hconn_answer(c, "200 OK", extra, "logged in\n");
    return;
  }
  hconn_answer(c, "404 Not Found", NULL, "not found\n");
}

static void hconn_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b) {
  hconn_t *c = hd->data;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void hconn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  hconn_t *c = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (strstr(c->buf, "\r\n\r\n")) {
    uv_read_stop(s);
    hconn_route(c);
  } else if (c->len >= sizeof(c->buf) - 1) {
    uv_read_stop(s);
    hconn_answer(c, "431 Request Header Fields Too Large", NULL, "too large\n");
  }
}

static void on_http_connection(uv_stream_t *l, int status) {
  host_t *h = l->data;
  if (status < 0) return;
  hconn_t *c = calloc(1, sizeof(*c));
  c->host = h;
  uv_tcp_init(h->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, hconn_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, hconn_alloc, hconn_read);
}

/* ---- start and stop ---------------------------------------------------- */

static void server_stopped(chat_server_t *srv, void *ud) {
  host_t *h = ud;
  h->servers_running--;
}

static void on_signal(uv_signal_t *s, int signum) {
  host_t *h = s->data;
  if (h->stopping) return;
  h->stopping = 1;
  uv_close((uv_handle_t *)&h->timer, NULL);
  uv_close((uv_handle_t *)&h->http, NULL);
  uv_close((uv_handle_t *)&h->sigint, NULL);
  uv_close((uv_handle_t *)&h->sigterm, NULL);
  chat_server_stop(h->chat, server_stopped, h);
  if (h->second) chat_server_stop(h->second, server_stopped, h);
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

static chat_server_t *start_chat(uv_loop_t *loop, const char *store, int port,
                                 const char *prefix, const char *public_dir) {
  chat_config_t cfg;
  chat_config_init(&cfg);
  cfg.listen_port = port;
  cfg.store_url = store;
  cfg.public_dir = public_dir;
  cfg.url_prefix = prefix;
  cfg.ws_ping_interval_s = 0;
  cfg.shutdown_drain_s = 2;
  chat_server_t *srv = NULL;
  char err[256];
  if (chat_server_new(loop, &cfg, &srv, err, sizeof(err)) != 0) {
    fprintf(stderr, "host: chat: %s\n", err);
    return NULL;
  }
  if (chat_server_start(srv, err, sizeof(err)) != 0) {
    fprintf(stderr, "host: chat: %s\n", err);
    chat_server_stop(srv, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    chat_server_free(srv);
    return NULL;
  }
  return srv;
}

int main(int argc, char **argv) {
  static host_t host;  /* the program's one host; the library keeps no globals */
  host_t *h = &host;
  const char *store = arg(argc, argv, "--store", NULL);
  if (store == NULL) {
    fprintf(stderr, "usage: host --store URL [--chat-port P] [--http-port P] [--public DIR]\n"
                    "            [--every S] [--room NAME] [--bot NAME]\n"
                    "            [--second-port P --second-store URL]\n");
    return 2;
  }
  const char *public_dir = arg(argc, argv, "--public", CHAT_PUBLIC_DIR);
  h->loop = uv_default_loop();
  h->room = arg(argc, argv, "--room", "lobby");
  h->bot = arg(argc, argv, "--bot", "bot");
  h->every_ms = (unsigned long)(atof(arg(argc, argv, "--every", "2")) * 1000);
  if (h->every_ms == 0) h->every_ms = 1000;

  h->chat = start_chat(h->loop, store, atoi(arg(argc, argv, "--chat-port", "0")), "/chat",
                       public_dir);
  if (h->chat == NULL) return 1;
  h->servers_running = 1;
  chat_server_on_message(h->chat, on_message, h);
  chat_server_set_auth(h->chat, on_auth, h);

  const char *second_store = arg(argc, argv, "--second-store", NULL);
  if (second_store) {
    h->second = start_chat(h->loop, second_store,
                           atoi(arg(argc, argv, "--second-port", "0")), NULL, public_dir);
    if (h->second == NULL) return 1;
    h->servers_running++;
    chat_server_on_message(h->second, on_message, h);
  }

  /* The host's own listener. */
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", atoi(arg(argc, argv, "--http-port", "0")), &addr);
  uv_tcp_init(h->loop, &h->http);
  h->http.data = h;
  if (uv_tcp_bind(&h->http, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&h->http, 128, on_http_connection) != 0) {
    fprintf(stderr, "host: cannot listen\n");
    return 1;
  }
  struct sockaddr_in got;
  int len = sizeof(got);
  uv_tcp_getsockname(&h->http, (struct sockaddr *)&got, &len);
  h->http_port = ntohs(got.sin_port);

  uv_timer_init(h->loop, &h->timer);
  h->timer.data = h;
  uv_timer_start(&h->timer, on_tick, h->every_ms, h->every_ms);
  uv_signal_init(h->loop, &h->sigint);
  uv_signal_init(h->loop, &h->sigterm);
  h->sigint.data = h->sigterm.data = h;
  uv_signal_start(&h->sigint, on_signal, SIGINT);
  uv_signal_start(&h->sigterm, on_signal, SIGTERM);

  printf("host ready chat=%d http=%d second=%d\n", chat_server_port(h->chat), h->http_port,
         h->second ? chat_server_port(h->second) : -1);
  fflush(stdout);
  uv_run(h->loop, UV_RUN_DEFAULT);

  chat_server_free(h->chat);
  chat_server_free(h->second);
  uv_loop_close(h->loop);
  printf("host stopped\n");
  return 0;
}
