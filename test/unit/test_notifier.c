/* The mail notifier against a tiny SMTP sink written here.
 *
 * The sink is a thread with a listening socket on 127.0.0.1 (any free
 * port) that speaks just enough SMTP for libcurl (greeting, EHLO/HELO, MAIL
 * FROM, RCPT TO, DATA up to CRLF.CRLF, RSET, NOOP, QUIT) and records each
 * mail's envelope and data.  It serves one connection at a time; the
 * notifier sends one mail at a time by default anyway.
 *
 * Every test runs on its own loop: waits are bounded by a watchdog deadline
 * (a failed check when it passes), and each test ends with the notifier and
 * every handle closed: uv_loop_close() must return 0.  Intervals are short
 * (gather 200 ms, interval 1 s).  TZ is UTC so item times are predictable. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "actors/notifier.h"
#include "store/redis.h"
#include "core/common.h"
#include "t.h"

#define GATHER_MS 200
#define INTERVAL_MS 1000
#define MAX_MAILS 16

/* ---- the SMTP sink ---------------------------------------------------- */

typedef struct {
  char from[256];
  char rcpt[256];
  char *data;          /* dot-unstuffed, CRLF lines, without the final "." */
  size_t len;
  int bare_lf;         /* lines that did not end in CRLF */
} sink_mail_t;

typedef struct {
  int fd;
  int port;
  pthread_t thread;
  atomic_int stop;
  int delay_ms;        /* waits this long before accepting a mail's data */
  int reject_rcpt;     /* answers RCPT TO with 550 */
  int fail_data;       /* answers this many mails' data with 451 */
  pthread_mutex_t mu;  /* guards the fields below */
  sink_mail_t mails[MAX_MAILS];
  int nmails;
  int sessions;
} sink_t;

typedef struct {
  int fd;
  char buf[16384];
  size_t len;
} reader_t;

/* The next line without its line end, in line (NUL-terminated, cap bytes);
 * *crlf says whether it ended in CRLF.  -1 at EOF, error or timeout. */
static int read_line(reader_t *r, char *line, size_t cap, int *crlf) {
  for (;;) {
    char *nl = memchr(r->buf, '\n', r->len);
    if (nl) {
      size_t n = (size_t)(nl - r->buf);
      *crlf = n > 0 && r->buf[n - 1] == '\r';
      size_t keep = *crlf ? n - 1 : n;
      if (keep >= cap) keep = cap - 1;
      memcpy(line, r->buf, keep);
      line[keep] = '\0';
      memmove(r->buf, nl + 1, r->len - n - 1);
      r->len -= n + 1;
      return 0;
    }
    if (r->len == sizeof(r->buf)) return -1;
    ssize_t k = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
    if (k <= 0) return -1;
    r->len += (size_t)k;
  }
}

static void reply(int fd, const char *s) { (void)!send(fd, s, strlen(s), MSG_NOSIGNAL); }

static int starts_with_ci(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Copies the address after "MAIL FROM:" / "RCPT TO:" up to a space. */
static void copy_arg(char *dst, size_t cap, const char *src) {
  size_t n = strcspn(src, " ");
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static void sink_session(sink_t *s, int fd) {
  static char line[8192];  /* one session at a time */
  reader_t *r = calloc(1, sizeof(*r));
  sink_mail_t m;
  int crlf;

  r->fd = fd;
  memset(&m, 0, sizeof(m));
  reply(fd, "220 sink ESMTP\r\n");
  while (read_line(r, line, sizeof line, &crlf) == 0) {
    if (starts_with_ci(line, "EHLO") || starts_with_ci(line, "HELO")) {
      reply(fd, "250 sink\r\n");
    } else if (starts_with_ci(line, "MAIL FROM:")) {
      copy_arg(m.from, sizeof m.from, line + 10);
      reply(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "RCPT TO:")) {
      if (s->reject_rcpt) {
        reply(fd, "550 no such user\r\n");
      } else {
        copy_arg(m.rcpt, sizeof m.rcpt, line + 8);
        reply(fd, "250 OK\r\n");
      }
    } else if (starts_with_ci(line, "DATA")) {
      size_t cap = 4096;
      m.data = malloc(cap);
      m.len = 0;
      reply(fd, "354 go ahead\r\n");
      int ended = 0;
      while (read_line(r, line, sizeof line, &crlf) == 0) {
        if (strcmp(line, ".") == 0) {
          ended = 1;
          break;
        }
        if (!crlf) m.bare_lf++;
        const char *p = line[0] == '.' ? line + 1 : line;  /* dot-unstuffing */
        size_t n = strlen(p);
        while (m.len + n + 3 > cap) m.data = realloc(m.data, cap *= 2);
        memcpy(m.data + m.len, p, n);
        memcpy(m.data + m.len + n, "\r\n", 3);
        m.len += n + 2;
      }
      if (!ended) break;
      if (s->delay_ms) usleep((useconds_t)s->delay_ms * 1000);
      pthread_mutex_lock(&s->mu);
      if (s->fail_data > 0) {
        s->fail_data--;
        pthread_mutex_unlock(&s->mu);
        free(m.data);
        memset(&m, 0, sizeof(m));
        reply(fd, "451 try again later\r\n");
        continue;
      }
      if (s->nmails < MAX_MAILS) {
        s->mails[s->nmails++] = m;
      } else {
        free(m.data);
      }
      pthread_mutex_unlock(&s->mu);
      memset(&m, 0, sizeof(m));
      reply(fd, "250 queued\r\n");
    } else if (starts_with_ci(line, "RSET") || starts_with_ci(line, "NOOP")) {
      reply(fd, "250 OK\r\n");
    } else if (starts_with_ci(line, "QUIT")) {
      reply(fd, "221 bye\r\n");
      break;
    } else {
      reply(fd, "502 unknown command\r\n");
    }
  }
  free(m.data);
  free(r);
}

static void *sink_main(void *arg) {
  sink_t *s = arg;
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 20) <= 0) continue;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) continue;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&s->mu);
    s->sessions++;
    pthread_mutex_unlock(&s->mu);
    sink_session(s, c);
    close(c);
  }
  return NULL;
}

/* A bound socket on 127.0.0.1 with a free port; listening if listen_too. */
static int bind_any(int *port, int listen_too) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0 || (listen_too && listen(fd, 16) != 0))
    abort();
  *port = ntohs(a.sin_port);
  return fd;
}

static void sink_start(sink_t *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  s->fd = bind_any(&s->port, 1);
  if (pthread_create(&s->thread, NULL, sink_main, s) != 0) abort();
}

static void sink_stop(sink_t *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  close(s->fd);
  for (int i = 0; i < s->nmails; i++) free(s->mails[i].data);
  pthread_mutex_destroy(&s->mu);
}

static int sink_count(sink_t *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->nmails;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* ---- mail parsing ----------------------------------------------------- */

static int b64_val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes base64 (white space ignored) and appends to out (NUL-terminated,
 * cap bytes).  -1 on a bad character. */
static int b64_decode(const char *s, size_t len, char *out, size_t cap) {
  size_t o = strlen(out);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)s[i];
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    if (c == '=') break;
    int v = b64_val(c);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o + 1 < cap) out[o++] = (char)((acc >> bits) & 0xFF);
    }
  }
  out[o] = '\0';
  return 0;
}

/* The unfolded value of header name in the mail's header section, or "". */
static void header(const sink_mail_t *m, const char *name, char *out, size_t cap) {
  const char *end = strstr(m->data, "\r\n\r\n");
  size_t nlen = strlen(name);
  out[0] = '\0';
  if (end == NULL) return;
  for (const char *p = m->data; p < end;) {
    const char *eol = strstr(p, "\r\n");
    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      const char *v = p + nlen + 1;
      size_t o = 0;
      while (*v == ' ') v++;
      for (;;) {
        eol = strstr(v, "\r\n");
        size_t n = (size_t)(eol - v);
        if (o + n + 1 > cap) n = cap - o - 1;
        memcpy(out + o, v, n);
        o += n;
        if (eol[2] != ' ' && eol[2] != '\t') break;
        v = eol + 2;  /* unfolding: drop the CRLF, keep the white space */
      }
      out[o] = '\0';
      return;
    }
    p = eol + 2;
  }
}

/* Decodes a header value made of RFC 2047 B encoded-words (and plain text
 * between them; white space between two encoded-words is dropped). */
static void decode_words(const char *v, char *out, size_t cap) {
  out[0] = '\0';
  int prev_word = 0;
  while (*v) {
    if (strncmp(v, "=?UTF-8?B?", 10) == 0) {
      const char *end = strstr(v + 10, "?=");
      if (end == NULL) break;
      b64_decode(v + 10, (size_t)(end - v - 10), out, cap);
      v = end + 2;
      prev_word = 1;
      continue;
    }
    size_t ws = strspn(v, " \t");
    if (ws > 0 && prev_word && strncmp(v + ws, "=?UTF-8?B?", 10) == 0) {
      v += ws;
      continue;
    }
    size_t o = strlen(out);
    if (o + 1 < cap) {
      out[o] = *v;
      out[o + 1] = '\0';
    }
    v++;
    prev_word = 0;
  }
}

/* The decoded body (Content-Transfer-Encoding: base64). */
static void body(const sink_mail_t *m, char *out, size_t cap) {
  const char *start = strstr(m->data, "\r\n\r\n");
  out[0] = '\0';
  if (start) b64_decode(start + 4, strlen(start + 4), out, cap);
}

static int count_substr(const char *s, const char *sub) {
  int n = 0;
  for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
  return n;
}

/* ---- fixture ---------------------------------------------------------- */

typedef struct fx fx_t;
typedef int (*cond_fn)(fx_t *f);

struct fx {
  uv_loop_t loop;
  uv_timer_t watchdog;  /* checks the condition; ends a wait at its deadline */
  cond_fn cond;
  uint64_t deadline;
  int expired;
  chat_notifier_t *n;
  chat_notifier_t *n2;  /* a second instance (shared batching) */
  sink_t sink;
  int have_sink;
  int closed;           /* done callbacks */
  int want;             /* for the conditions */
};

static void watchdog_cb(uv_timer_t *t) {
  fx_t *f = container_of(t, fx_t, watchdog);
  if (f->cond && f->cond(f)) {
    uv_timer_stop(t);
    uv_stop(&f->loop);
  } else if (uv_now(&f->loop) >= f->deadline) {
    f->expired = 1;
    uv_timer_stop(t);
    uv_stop(&f->loop);
  }
}

/* Runs the loop until cond holds (1) or timeout_ms pass (0). */
static int run_until(fx_t *f, cond_fn cond, uint64_t timeout_ms) {
  f->cond = cond;
  f->expired = 0;
  uv_update_time(&f->loop);
  f->deadline = uv_now(&f->loop) + timeout_ms;
  uv_timer_start(&f->watchdog, watchdog_cb, 5, 5);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  f->cond = NULL;
  return !f->expired;
}

/* Waits for cond; a failed check when the watchdog deadline passes first. */
#define WAIT(f, cond, timeout_ms)                                       \
  do {                                                                  \
    int ok_ = run_until((f), (cond), (timeout_ms));                     \
    if (!ok_) fprintf(stderr, "watchdog: %s not reached\n", #cond);     \
    T_CHECK(ok_);                                                       \
  } while (0)

static void run_for(fx_t *f, uint64_t ms) { run_until(f, NULL, ms); }

static chat_notifier_stats_t stats(fx_t *f) {
  chat_notifier_stats_t s;
  chat_notifier_stats(f->n, &s);
  return s;
}

static int cond_sent(fx_t *f) { return (int)stats(f).sent >= f->want; }
static int cond_failed(fx_t *f) { return (int)stats(f).failed >= f->want; }
static int cond_sending(fx_t *f) { return stats(f).sending > 0; }
static int cond_closed(fx_t *f) { return f->closed > 0; }

static void cfg_default(fx_t *f, chat_notifier_config_t *cfg, char *url, size_t urlcap) {
  chat_notifier_config_init(cfg);
  snprintf(url, urlcap, "smtp://127.0.0.1:%d", f->have_sink ? f->sink.port : 1);
  cfg->smtp_url = url;
  cfg->mail_from = "bot@chat.example.org";
  cfg->site_name = "chatd";
  cfg->base_url = "http://localhost:8080/";
  cfg->gather_ms = GATHER_MS;
  cfg->interval_ms = INTERVAL_MS;
  cfg->connect_timeout_ms = 2000;
  cfg->timeout_ms = 5000;
}

static void fx_init(fx_t *f, int with_sink) {
  memset(f, 0, sizeof(*f));
  T_EQ_INT(uv_loop_init(&f->loop), 0);
  T_EQ_INT(uv_timer_init(&f->loop, &f->watchdog), 0);
  if (with_sink) {
    sink_start(&f->sink);
    f->have_sink = 1;
  }
}

static void fx_open(fx_t *f, const chat_notifier_config_t *cfg) {
  char err[256] = "";
  f->n = chat_notifier_new(&f->loop, cfg, err, sizeof err);
  if (f->n == NULL) fprintf(stderr, "chat_notifier_new: %s\n", err);
  T_CHECK(f->n != NULL);
}

static void done_cb(void *ud) {
  fx_t *f = ud;
  f->closed++;
}

/* Closes the notifier (if open) and every handle; the loop must close. */
static void fx_finish(fx_t *f) {
  if (f->n2) {
    f->closed = 0;
    chat_notifier_close(f->n2, done_cb, f);
    WAIT(f, cond_closed, 10000);
    f->closed = 0;
    f->n2 = NULL;
  }
  if (f->n) {
    chat_notifier_close(f->n, done_cb, f);
    T_EQ_INT(f->closed, 0);  /* never from within the call */
    WAIT(f, cond_closed, 10000);
    T_EQ_INT(f->closed, 1);
    f->n = NULL;
  }
  uv_close((uv_handle_t *)&f->watchdog, NULL);
  T_EQ_INT(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(uv_loop_close(&f->loop), 0);
  if (f->have_sink) sink_stop(&f->sink);
}

/* Today at 10:42 UTC, in ms. */
static int64_t at_1042(void) {
  int64_t day = chat_now_ms() / 86400000 * 86400000;
  return day + (10 * 3600 + 42 * 60) * 1000;
}

/* ---- tests ------------------------------------------------------------ */

static void test_one_item(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "李四", "大厅",
                    "你好，张三！今天开会吗？", at_1042());
  T_EQ_INT(stats(&f).pending, 1);
  run_for(&f, GATHER_MS / 2);
  T_EQ_INT(sink_count(&f.sink), 0);  /* still gathering */
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  uint64_t elapsed = uv_now(&f.loop) - t0;
  T_CHECK(elapsed >= GATHER_MS);
  T_CHECK(elapsed < GATHER_MS + 2000);
  T_EQ_INT(sink_count(&f.sink), 1);

  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.sent, 1);
  T_EQ_INT(s.failed, 0);
  T_EQ_INT(s.dropped, 0);
  T_EQ_INT(s.pending, 0);

  sink_mail_t *m = &f.sink.mails[0];
  T_EQ_STR(m->from, "<bot@chat.example.org>");
  T_EQ_STR(m->rcpt, "<zhang@example.org>");
  T_EQ_INT(m->bare_lf, 0);

  header(m, "Subject", buf, sizeof buf);
  T_CHECK(strncmp(buf, "=?UTF-8?B?", 10) == 0);
  char subject[1024];
  decode_words(buf, subject, sizeof subject);
  T_EQ_STR(subject, "chatd: 李四 mentioned you in 大厅");

  header(m, "From", buf, sizeof buf);
  T_EQ_STR(buf, "chatd <bot@chat.example.org>");
  header(m, "To", buf, sizeof buf);
  char to[256];
  decode_words(buf, to, sizeof to);
  T_EQ_STR(to, "张三 <zhang@example.org>");
  header(m, "Date", buf, sizeof buf);
  {
    char wd[8], mon[8], zone[8];
    int d, y, hh, mm, ss;
    T_EQ_INT(sscanf(buf, "%3s, %d %3s %d %d:%d:%d %5s", wd, &d, mon, &y, &hh, &mm, &ss, zone),
             8);
    T_EQ_STR(zone, "+0000");
    T_CHECK(y >= 2024);
  }
  header(m, "Message-ID", buf, sizeof buf);
  T_CHECK(buf[0] == '<' && strstr(buf, "@chat.example.org>") != NULL);
  header(m, "MIME-Version", buf, sizeof buf);
  T_EQ_STR(buf, "1.0");
  header(m, "Content-Type", buf, sizeof buf);
  T_EQ_STR(buf, "text/plain; charset=utf-8");
  header(m, "Content-Transfer-Encoding", buf, sizeof buf);
  T_EQ_STR(buf, "base64");

  body(m, buf, sizeof buf);
  T_CHECK(strstr(buf, "Hello 张三,\r\n") == buf);
  T_CHECK(strstr(buf, "\r\n李四 in 大厅, 10:42: 你好，张三！今天开会吗？\r\n") != NULL);
  T_CHECK(strstr(buf, "http://localhost:8080/\r\n") != NULL);
  T_CHECK(strstr(buf, "<") == NULL);  /* text only */
  fx_finish(&f);
}

/* Five items in a burst: one mail listing all five. */
static void test_burst(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], subject[512];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "李四", "大厅", "一", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "二", ts);
  run_for(&f, 50);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "李四", "大厅", "三", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "四", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "赵六", "技术", "五", ts);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  run_for(&f, GATHER_MS + 100);
  T_EQ_INT(sink_count(&f.sink), 1);
  sink_mail_t *m = &f.sink.mails[0];
  header(m, "Subject", buf, sizeof buf);
  decode_words(buf, subject, sizeof subject);
  T_EQ_STR(subject, "chatd: 5 new messages while you were away");
  body(m, buf, sizeof buf);
  T_CHECK(strstr(buf, "\r\n李四 in 大厅, 10:42: 一\r\n") != NULL);
  T_CHECK(strstr(buf, "\r\n王五 sent you a direct message, 10:42: 二\r\n") != NULL);
  T_CHECK(strstr(buf, "\r\n李四 in 大厅, 10:42: 三\r\n") != NULL);
  T_CHECK(strstr(buf, "\r\n王五 sent you a direct message, 10:42: 四\r\n") != NULL);
  T_CHECK(strstr(buf, "\r\n赵六 in 技术, 10:42: 五\r\n") != NULL);
  T_EQ_INT(count_substr(buf, ", 10:42: "), 5);
  /* In the order they came. */
  T_CHECK(strstr(buf, ": 一") < strstr(buf, ": 二"));
  T_CHECK(strstr(buf, ": 四") < strstr(buf, ": 五"));
  T_CHECK(strstr(buf, "more") == NULL);
  T_EQ_INT(stats(&f).sent, 1);
  fx_finish(&f);
}

/* Items that arrive after a mail wait for interval_ms since it, then go
 * out together, without the ones already mailed. */
static void test_interval(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "李四", NULL, "first", ts);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "李四", NULL, "second", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "王五", "大厅", "third",
                    ts);
  T_EQ_INT(stats(&f).pending, 2);
  run_for(&f, GATHER_MS + 200);  /* a gather is not enough after a mail */
  T_EQ_INT(sink_count(&f.sink), 1);
  f.want = 2;
  WAIT(&f, cond_sent, 5000);
  T_CHECK(uv_now(&f.loop) - t0 >= GATHER_MS + INTERVAL_MS);
  T_EQ_INT(sink_count(&f.sink), 2);
  body(&f.sink.mails[0], buf, sizeof buf);
  T_CHECK(strstr(buf, ": first\r\n") != NULL);
  T_CHECK(strstr(buf, "second") == NULL);
  body(&f.sink.mails[1], buf, sizeof buf);
  T_CHECK(strstr(buf, "first") == NULL);
  T_CHECK(strstr(buf, "李四 sent you a direct message, 10:42: second\r\n") != NULL);
  T_CHECK(strstr(buf, "王五 in 大厅, 10:42: third\r\n") != NULL);
  T_EQ_INT(stats(&f).pending, 0);
  fx_finish(&f);
}

static void test_two_users(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "for zhang", ts);
  chat_notifier_add(f.n, 8, "李四", "li@example.org", "dm", "王五", NULL, "for li", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "for zhang 2", ts);
  f.want = 2;
  WAIT(&f, cond_sent, 5000);
  run_for(&f, 100);
  T_EQ_INT(sink_count(&f.sink), 2);
  int zhang = strcmp(f.sink.mails[0].rcpt, "<zhang@example.org>") == 0 ? 0 : 1;
  T_EQ_STR(f.sink.mails[zhang].rcpt, "<zhang@example.org>");
  T_EQ_STR(f.sink.mails[1 - zhang].rcpt, "<li@example.org>");
  body(&f.sink.mails[zhang], buf, sizeof buf);
  T_CHECK(strstr(buf, "Hello 张三,") != NULL);
  T_CHECK(strstr(buf, ": for zhang\r\n") != NULL);
  T_CHECK(strstr(buf, ": for zhang 2\r\n") != NULL);
  T_CHECK(strstr(buf, "for li") == NULL);
  body(&f.sink.mails[1 - zhang], buf, sizeof buf);
  T_CHECK(strstr(buf, "Hello 李四,") != NULL);
  T_CHECK(strstr(buf, ": for li\r\n") != NULL);
  T_CHECK(strstr(buf, "zhang") == NULL);
  fx_finish(&f);
}

static void test_forget(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "b", ts);
  chat_notifier_add(f.n, 8, "李四", "li@example.org", "dm", "王五", NULL, "c", ts);
  chat_notifier_forget(f.n, 7);
  chat_notifier_forget(f.n, 99);  /* unknown: nothing */
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.forgotten, 2);
  T_EQ_INT(s.pending, 1);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  run_for(&f, GATHER_MS + 200);
  T_EQ_INT(sink_count(&f.sink), 1);
  T_EQ_STR(f.sink.mails[0].rcpt, "<li@example.org>");
  s = stats(&f);
  T_EQ_INT(s.sent, 1);
  T_EQ_INT(s.dropped, 0);
  T_EQ_INT(s.pending, 0);
  fx_finish(&f);
}

/* max_items listed, the rest as "and N more"; previews are cut. */
static void test_max_items(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], subject[512], text[1024];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  cfg.max_items = 3;
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  /* 250 characters of 3 bytes each: cut to 200 plus "…". */
  text[0] = '\0';
  for (int i = 0; i < 250; i++) strcat(text, "字");
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, text, ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "two\nlines", ts);
  for (int i = 0; i < 5; i++)
    chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "x", ts);
  T_EQ_INT(stats(&f).pending, 7);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  T_EQ_INT(sink_count(&f.sink), 1);
  header(&f.sink.mails[0], "Subject", buf, sizeof buf);
  decode_words(buf, subject, sizeof subject);
  T_EQ_STR(subject, "chatd: 7 new messages while you were away");
  body(&f.sink.mails[0], buf, sizeof buf);
  T_EQ_INT(count_substr(buf, "sent you a direct message"), 3);
  T_CHECK(strstr(buf, "\r\nand 4 more\r\n") != NULL);
  char want[1024] = ", 10:42: ";
  for (int i = 0; i < 200; i++) strcat(want, "字");
  strcat(want, "…\r\n");
  T_CHECK(strstr(buf, want) != NULL);
  T_CHECK(strstr(buf, ": two lines\r\n") != NULL);
  fx_finish(&f);
}

/* Addresses that could inject headers or envelope commands are refused;
 * names are cleaned so they cannot either. */
static void test_bad_address(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org\r\nBcc: evil@example.org", "dm", "王五",
                    NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org\n", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org>, <evil@example.org", "dm", "王五",
                    NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang @example.org", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "no-at-sign", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", NULL, "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "other", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "\xff\xfe", ts);
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.dropped, 8);
  T_EQ_INT(s.pending, 0);

  /* A name with CR/LF is only shown, never a header of its own. */
  chat_notifier_add(f.n, 8, "Eve\r\nBcc: evil@example.org", "eve@example.org", "dm",
                    "Mallory\r\nBcc: evil@example.org", NULL, "hi", ts);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  T_EQ_INT(sink_count(&f.sink), 1);
  sink_mail_t *m = &f.sink.mails[0];
  T_EQ_STR(m->rcpt, "<eve@example.org>");
  T_CHECK(strstr(m->data, "\r\nBcc:") == NULL);
  T_EQ_INT(m->bare_lf, 0);
  header(m, "To", buf, sizeof buf);
  char to[256];
  decode_words(buf, to, sizeof to);
  T_EQ_STR(to, "Eve Bcc: evil@example.org <eve@example.org>");
  fx_finish(&f);
}

/* No SMTP server: the failure is counted, the items are retried once
 * after interval_ms, then dropped. */
static void test_server_down(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];
  int port;

  fx_init(&f, 0);
  int fd = bind_any(&port, 0);  /* bound, not listening: connections are refused */
  cfg_default(&f, &cfg, url, sizeof url);
  snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
  fx_open(&f, &cfg);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", at_1042());
  f.want = 1;
  WAIT(&f, cond_failed, 5000);
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.sent, 0);
  T_EQ_INT(s.failed, 1);
  T_EQ_INT(s.pending, 1);   /* kept for one retry */
  T_EQ_INT(s.dropped, 0);
  f.want = 2;
  WAIT(&f, cond_failed, 5000);
  T_CHECK(uv_now(&f.loop) - t0 >= GATHER_MS + INTERVAL_MS);
  s = stats(&f);
  T_EQ_INT(s.failed, 2);
  T_EQ_INT(s.pending, 0);
  T_EQ_INT(s.dropped, 1);
  run_for(&f, INTERVAL_MS + 200);  /* no third attempt */
  T_EQ_INT(stats(&f).failed, 2);
  fx_finish(&f);
  close(fd);
}

/* A permanent refusal (5xx) is not retried. */
static void test_rejected(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];

  fx_init(&f, 1);
  f.sink.reject_rcpt = 1;
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", at_1042());
  f.want = 1;
  WAIT(&f, cond_failed, 5000);
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.failed, 1);
  T_EQ_INT(s.dropped, 1);
  T_EQ_INT(s.pending, 0);
  T_EQ_INT(sink_count(&f.sink), 0);
  fx_finish(&f);
}

/* A transient failure (4xx): the items go out again in the next slot,
 * together with those that arrived meanwhile. */
static void test_retry_merges(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], subject[512];
  static char buf[65536];

  fx_init(&f, 1);
  f.sink.fail_data = 1;
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "old", ts);
  f.want = 1;
  WAIT(&f, cond_failed, 5000);
  T_EQ_INT(stats(&f).pending, 1);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "new", ts);
  WAIT(&f, cond_sent, 5000);
  T_CHECK(uv_now(&f.loop) - t0 >= GATHER_MS + INTERVAL_MS);
  T_EQ_INT(sink_count(&f.sink), 1);
  header(&f.sink.mails[0], "Subject", buf, sizeof buf);
  decode_words(buf, subject, sizeof subject);
  T_EQ_STR(subject, "chatd: 2 new messages while you were away");
  body(&f.sink.mails[0], buf, sizeof buf);
  T_CHECK(strstr(buf, ": old\r\n") != NULL);
  T_CHECK(strstr(buf, ": new\r\n") != NULL);
  T_CHECK(strstr(buf, ": old") < strstr(buf, ": new"));
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.sent, 1);
  T_EQ_INT(s.failed, 1);
  T_EQ_INT(s.dropped, 0);
  T_EQ_INT(s.pending, 0);
  fx_finish(&f);
}

/* Forgetting a user while a mail to it is in flight: a failure is not
 * retried. */
static void test_forget_in_flight(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];

  fx_init(&f, 1);
  f.sink.fail_data = 1;
  f.sink.delay_ms = 300;
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", ts);
  WAIT(&f, cond_sending, 5000);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "b", ts);
  chat_notifier_forget(f.n, 7);
  T_EQ_INT(stats(&f).forgotten, 1);
  f.want = 1;
  WAIT(&f, cond_failed, 5000);
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.forgotten, 2);
  T_EQ_INT(s.pending, 0);
  T_EQ_INT(s.dropped, 0);
  run_for(&f, INTERVAL_MS + 300);
  s = stats(&f);
  T_EQ_INT(s.failed, 1);
  T_EQ_INT(s.sent, 0);
  fx_finish(&f);
}

/* Closing while a mail is on the thread pool: the mail completes, pending
 * items are dropped, done runs once, nothing is left open. */
static void test_close_in_flight(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64];

  fx_init(&f, 1);
  f.sink.delay_ms = 500;
  cfg_default(&f, &cfg, url, sizeof url);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "in flight", ts);
  WAIT(&f, cond_sending, 5000);
  chat_notifier_add(f.n, 8, "李四", "li@example.org", "dm", "王五", NULL, "pending", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "later", ts);
  run_for(&f, 100);  /* the worker is talking to the sink now */
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.sending, 1);
  T_EQ_INT(s.pending, 2);
  T_EQ_INT(sink_count(&f.sink), 0);
  fx_finish(&f);
  /* The mail in flight was finished before done. */
  T_EQ_INT(f.sink.nmails, 1);
}

/* No SMTP URL: items are accepted and dropped, counted. */
static void test_disabled(void) {
  fx_t f;
  chat_notifier_config_t cfg;

  fx_init(&f, 0);
  chat_notifier_config_init(&cfg);
  fx_open(&f, &cfg);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "mention", "王五", "大厅", "b", ts);
  chat_notifier_forget(f.n, 7);
  chat_notifier_stats_t s = stats(&f);
  T_EQ_INT(s.dropped, 2);
  T_EQ_INT(s.pending, 0);
  T_EQ_INT(s.sent + s.failed, 0);
  fx_finish(&f);

  fx_init(&f, 0);
  cfg.smtp_url = "";
  fx_open(&f, &cfg);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", ts);
  T_EQ_INT(stats(&f).dropped, 1);
  fx_finish(&f);
}

static void test_config_errors(void) {
  uv_loop_t loop;
  chat_notifier_config_t cfg;
  char err[256];

  T_EQ_INT(uv_loop_init(&loop), 0);
  chat_notifier_config_init(&cfg);
  cfg.smtp_url = "http://127.0.0.1:25";
  cfg.mail_from = "bot@example.org";
  err[0] = '\0';
  T_CHECK(chat_notifier_new(&loop, &cfg, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "SMTP URL") != NULL);
  cfg.smtp_url = "smtp://127.0.0.1:25";
  cfg.mail_from = NULL;
  T_CHECK(chat_notifier_new(&loop, &cfg, err, sizeof err) == NULL);
  cfg.mail_from = "bot@example.org\r\nBcc: x@example.org";
  T_CHECK(chat_notifier_new(&loop, &cfg, err, sizeof err) == NULL);
  T_CHECK(strstr(err, "mail_from") != NULL);
  cfg.mail_from = "bot@example.org";
  cfg.site_name = "chat\r\nX-Evil: 1";
  T_CHECK(chat_notifier_new(&loop, &cfg, err, sizeof err) == NULL);
  T_CHECK(chat_notifier_new(&loop, &cfg, NULL, 0) == NULL);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- shared batching (CHAT_TEST_REDIS_URL) ---------------------------- */

static const char *g_redis;  /* CHAT_TEST_REDIS_URL, or NULL: skipped */
static int g_shared_seq;

/* Two notifiers on one prefix stand for two instances on one Redis. */
static void cfg_shared(fx_t *f, chat_notifier_config_t *cfg, char *url, size_t urlcap,
                       char *prefix, size_t pcap) {
  cfg_default(f, cfg, url, urlcap);
  snprintf(prefix, pcap, "chat:test:notifier:%d:%d:", (int)getpid(), ++g_shared_seq);
  cfg->redis_url = g_redis;
  cfg->redis_prefix = prefix;
  cfg->poll_ms = 100;
}

static chat_notifier_t *open_n(fx_t *f, const chat_notifier_config_t *cfg) {
  char err[256] = "";
  chat_notifier_t *n = chat_notifier_new(&f->loop, cfg, err, sizeof err);
  if (n == NULL) fprintf(stderr, "chat_notifier_new: %s\n", err);
  T_CHECK(n != NULL);
  return n;
}

static chat_notifier_stats_t stats2(fx_t *f) {
  chat_notifier_stats_t a, b;
  chat_notifier_stats(f->n, &a);
  if (f->n2 == NULL) return a;
  chat_notifier_stats(f->n2, &b);
  a.sent += b.sent;
  a.failed += b.failed;
  a.dropped += b.dropped;
  a.forgotten += b.forgotten;
  a.shared += b.shared;
  a.local += b.local;
  return a;
}

static int cond_sent2(fx_t *f) { return (int)stats2(f).sent >= f->want; }
static int cond_shared2(fx_t *f) { return (int)stats2(f).shared >= f->want; }

/* Both instances have their Redis connection. */
static int cond_both_up(fx_t *f) {
  chat_notifier_stats_t a, b;
  chat_notifier_stats(f->n, &a);
  if (f->n2 == NULL) return a.shared_up == 1;
  chat_notifier_stats(f->n2, &b);
  return a.shared_up == 1 && b.shared_up == 1;
}

/* Deletes the keys of this run's shared tests (a private loop and client). */
typedef struct {
  int up, done, closed;
} cleanup_t;

static void cleanup_state(chat_redis_t *r, int up, void *ud) { ((cleanup_t *)ud)->up = up; }
static void cleanup_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  ((cleanup_t *)ud)->done = 1;
}
static void cleanup_closed(chat_redis_t *r, void *ud) { ((cleanup_t *)ud)->closed = 1; }

static void shared_cleanup(void) {
  uv_loop_t loop;
  cleanup_t c = {0};
  char pattern[96], script[256];
  static const chat_redis_events_t ev = {cleanup_state, NULL};
  T_EQ_INT(uv_loop_init(&loop), 0);
  chat_redis_t *r = chat_redis_new(&loop, g_redis, &ev, &c, NULL, 0);
  T_CHECK(r != NULL);
  chat_redis_start(r);
  uint64_t end = uv_now(&loop) + 5000;
  while (!c.up && uv_now(&loop) < end) uv_run(&loop, UV_RUN_ONCE);
  snprintf(pattern, sizeof pattern, "chat:test:notifier:%d:*", (int)getpid());
  snprintf(script, sizeof script,
           "for _,k in ipairs(redis.call('KEYS',ARGV[1])) do redis.call('DEL',k) end return 1");
  const char *argv[] = {"EVAL", script, "0", pattern};
  if (c.up && chat_redis_command(r, cleanup_reply, &c, 4, argv, NULL) == 0)
    while (!c.done && uv_now(&loop) < end) uv_run(&loop, UV_RUN_ONCE);
  T_CHECK(c.done);
  chat_redis_close(r, cleanup_closed);
  T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
  T_CHECK(c.closed);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* Items for one user through both instances: one mail listing them all;
 * a later item waits for the interval and goes in one more mail. */
static void test_shared_one_mail(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], prefix[96];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_shared(&f, &cfg, url, sizeof url, prefix, sizeof prefix);
  f.n = open_n(&f, &cfg);
  f.n2 = open_n(&f, &cfg);
  WAIT(&f, cond_both_up, 5000);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "李四", NULL, "甲", ts);
  chat_notifier_add(f.n2, 7, "张三", "zhang@example.org", "mention", "王五", "大厅", "乙", ts);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "赵六", NULL, "丙", ts);
  f.want = 3;
  WAIT(&f, cond_shared2, 5000);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  f.want = 1;
  WAIT(&f, cond_sent2, 5000);
  uint64_t first = uv_now(&f.loop);
  run_for(&f, 400);
  T_EQ_INT(sink_count(&f.sink), 1);
  body(&f.sink.mails[0], buf, sizeof buf);
  T_CHECK(strstr(buf, "李四 sent you a direct message, 10:42: 甲\r\n") != NULL);
  T_CHECK(strstr(buf, "王五 in 大厅, 10:42: 乙\r\n") != NULL);
  T_CHECK(strstr(buf, "赵六 sent you a direct message, 10:42: 丙\r\n") != NULL);
  T_CHECK(first - t0 < GATHER_MS + 1000);

  chat_notifier_add(f.n2, 7, "张三", "zhang@example.org", "dm", "李四", NULL, "丁", ts);
  run_for(&f, GATHER_MS + 200);
  T_EQ_INT(sink_count(&f.sink), 1);  /* the interval holds across instances */
  f.want = 2;
  WAIT(&f, cond_sent2, 5000);
  T_CHECK(uv_now(&f.loop) - first >= INTERVAL_MS - 100);
  run_for(&f, 300);
  T_EQ_INT(sink_count(&f.sink), 2);
  body(&f.sink.mails[1], buf, sizeof buf);
  T_CHECK(strstr(buf, ": 丁\r\n") != NULL);
  T_CHECK(strstr(buf, "甲") == NULL);
  chat_notifier_stats_t s = stats2(&f);
  T_EQ_INT(s.shared, 4);
  T_EQ_INT(s.local, 0);
  T_EQ_INT(s.failed, 0);
  T_EQ_INT(s.dropped, 0);
  fx_finish(&f);
}

/* A failed shared mail is retried once, in the next slot, by whichever
 * instance claims it, with what came meanwhile. */
static void test_shared_retry(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], prefix[96];
  static char buf[65536];

  fx_init(&f, 1);
  f.sink.fail_data = 1;
  cfg_shared(&f, &cfg, url, sizeof url, prefix, sizeof prefix);
  f.n = open_n(&f, &cfg);
  f.n2 = open_n(&f, &cfg);
  WAIT(&f, cond_both_up, 5000);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "old", ts);
  f.want = 1;
  WAIT(&f, cond_shared2, 5000);
  uv_update_time(&f.loop);
  uint64_t t0 = uv_now(&f.loop);
  while (stats2(&f).failed < 1 && uv_now(&f.loop) - t0 < 5000) run_for(&f, 20);
  T_EQ_INT(stats2(&f).failed, 1);
  chat_notifier_add(f.n2, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "new", ts);
  WAIT(&f, cond_sent2, 5000);
  T_CHECK(uv_now(&f.loop) - t0 >= INTERVAL_MS - 100);
  run_for(&f, 200);
  T_EQ_INT(sink_count(&f.sink), 1);
  body(&f.sink.mails[0], buf, sizeof buf);
  T_CHECK(strstr(buf, ": old\r\n") != NULL);
  T_CHECK(strstr(buf, ": new\r\n") != NULL);
  T_CHECK(strstr(buf, ": old") < strstr(buf, ": new"));
  chat_notifier_stats_t s = stats2(&f);
  T_EQ_INT(s.sent, 1);
  T_EQ_INT(s.failed, 1);
  T_EQ_INT(s.dropped, 0);
  fx_finish(&f);
}

/* Items in Redis outlive the instance that added them: after it closes,
 * another instance mails them. */
static void test_shared_survives_close(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], prefix[96];
  static char buf[65536];

  fx_init(&f, 1);
  cfg_shared(&f, &cfg, url, sizeof url, prefix, sizeof prefix);
  f.n = open_n(&f, &cfg);
  WAIT(&f, cond_both_up, 5000);
  chat_notifier_add(f.n, 8, "李四", "li@example.org", "dm", "王五", NULL, "kept", at_1042());
  f.want = 1;
  WAIT(&f, cond_shared2, 5000);
  f.closed = 0;
  chat_notifier_close(f.n, done_cb, &f);
  WAIT(&f, cond_closed, 5000);
  f.closed = 0;
  T_EQ_INT(sink_count(&f.sink), 0);
  f.n = open_n(&f, &cfg);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  T_EQ_INT(sink_count(&f.sink), 1);
  T_EQ_STR(f.sink.mails[0].rcpt, "<li@example.org>");
  body(&f.sink.mails[0], buf, sizeof buf);
  T_CHECK(strstr(buf, ": kept\r\n") != NULL);
  fx_finish(&f);
}

/* Forgetting a user drops their items in Redis, whichever instance added
 * them. */
static void test_shared_forget(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], prefix[96];

  fx_init(&f, 1);
  cfg_shared(&f, &cfg, url, sizeof url, prefix, sizeof prefix);
  f.n = open_n(&f, &cfg);
  f.n2 = open_n(&f, &cfg);
  WAIT(&f, cond_both_up, 5000);
  int64_t ts = at_1042();
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "a", ts);
  chat_notifier_add(f.n2, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "b", ts);
  chat_notifier_add(f.n2, 8, "李四", "li@example.org", "dm", "王五", NULL, "c", ts);
  f.want = 3;
  WAIT(&f, cond_shared2, 5000);
  chat_notifier_forget(f.n2, 7);
  f.want = 1;
  WAIT(&f, cond_sent2, 5000);
  run_for(&f, GATHER_MS + 400);
  T_EQ_INT(sink_count(&f.sink), 1);
  T_EQ_STR(f.sink.mails[0].rcpt, "<li@example.org>");
  T_EQ_INT(stats2(&f).forgotten, 2);
  fx_finish(&f);
}

/* Redis configured but unreachable: items are batched here and mailed, and
 * counted as local. */
static void test_shared_unreachable(void) {
  fx_t f;
  chat_notifier_config_t cfg;
  char url[64], prefix[96];

  fx_init(&f, 1);
  cfg_shared(&f, &cfg, url, sizeof url, prefix, sizeof prefix);
  cfg.redis_url = "redis://127.0.0.1:1/0";
  f.n = open_n(&f, &cfg);
  chat_notifier_add(f.n, 7, "张三", "zhang@example.org", "dm", "王五", NULL, "here", at_1042());
  T_EQ_INT(stats(&f).local, 1);
  T_EQ_INT(stats(&f).pending, 1);
  f.want = 1;
  WAIT(&f, cond_sent, 5000);
  T_EQ_INT(sink_count(&f.sink), 1);
  T_EQ_INT(stats(&f).shared, 0);
  fx_finish(&f);
}

int main(void) {
  setenv("TZ", "UTC", 1);
  tzset();
  T_RUN(test_config_errors);
  T_RUN(test_disabled);
  T_RUN(test_one_item);
  T_RUN(test_burst);
  T_RUN(test_interval);
  T_RUN(test_two_users);
  T_RUN(test_forget);
  T_RUN(test_max_items);
  T_RUN(test_bad_address);
  T_RUN(test_server_down);
  T_RUN(test_rejected);
  T_RUN(test_retry_merges);
  T_RUN(test_forget_in_flight);
  T_RUN(test_close_in_flight);
  T_RUN(test_shared_unreachable);
  g_redis = getenv("CHAT_TEST_REDIS_URL");
  if (g_redis == NULL || g_redis[0] == '\0') {
    fprintf(stderr, "shared batching tests skipped: CHAT_TEST_REDIS_URL is not set\n");
    return T_DONE();
  }
  T_RUN(test_shared_one_mail);
  T_RUN(test_shared_retry);
  T_RUN(test_shared_forget);
  T_RUN(test_shared_survives_close);
  shared_cleanup();
  return T_DONE();
}
