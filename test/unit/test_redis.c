/* The asynchronous Redis client against real servers.
 *
 * CHAT_TEST_REDIS_URL names a disposable server (scripts/redis-temp.sh); the
 * tests write only keys under "chat:test:<pid>:".  Without it only the URL
 * checks run and the rest prints "redis tests skipped".  The loss and
 * recovery tests start a second, private redis-server of their own
 * (fork/exec on a free port, with a password), kill it with SIGKILL and
 * start it again on the same port.  CHAT_TEST_REDIS_DEBUG=1 logs the
 * client's debug lines.
 *
 * Every test runs on its own loop with a watchdog timer and ends with every
 * handle closed: uv_loop_close() must return 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/common.h"
#include "core/log.h"
#include "store/redis.h"
#include "t.h"

static const char *g_url;   /* CHAT_TEST_REDIS_URL */
static int g_debug;         /* CHAT_TEST_REDIS_DEBUG set: log at debug level */
static char g_prefix[64];   /* key and channel prefix of this run */

/* ---- fixture ---------------------------------------------------------- */

typedef struct fx fx_t;
struct fx {
  uv_loop_t loop;
  uv_timer_t watchdog;
  uv_timer_t step;    /* a delay inside a test */
  uv_prepare_t iter;  /* counts loop iterations while active */
  int iter_on;
  unsigned long iterations;
  chat_redis_t *r;
  int closing;
  int closed;
  int ups, downs;
  int watchdog_fired;
  /* messages */
  int nmsg;
  char msg_channel[256];
  char msg_data[256];
  size_t msg_len;
  /* replies */
  int next;           /* index of the reply expected next */
  int replies;        /* replies (non-NULL) received */
  int nulls;          /* NULL completions received */
  int calls[1100];    /* callback calls per request index */
  /* test hooks */
  void (*on_up)(fx_t *f);
  void (*on_down)(fx_t *f);
  void (*on_msg)(fx_t *f);
  void (*on_step)(fx_t *f);
  int phase;
};

static fx_t F;

static void fx_closed_cb(chat_redis_t *r, void *ud) {
  fx_t *f = ud;
  T_CHECK(r == f->r);
  f->closed++;
  f->r = NULL;
}

static void fx_handle_closed(uv_handle_t *h) { (void)h; }

/* Closes the client and the fixture's handles; the loop then ends. */
static void fx_finish(fx_t *f) {
  if (f->r != NULL && !f->closing) {
    f->closing = 1;
    chat_redis_close(f->r, fx_closed_cb);
  }
  if (!uv_is_closing((uv_handle_t *)&f->step))
    uv_close((uv_handle_t *)&f->step, fx_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&f->iter))
    uv_close((uv_handle_t *)&f->iter, fx_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&f->watchdog))
    uv_close((uv_handle_t *)&f->watchdog, fx_handle_closed);
}

static void fx_watchdog_cb(uv_timer_t *t) {
  fx_t *f = t->data;
  f->watchdog_fired = 1;
  fprintf(stderr, "watchdog fired (phase %d, ups %d, downs %d)\n", f->phase,
          f->ups, f->downs);
  T_CHECK(!"watchdog fired");
  fx_finish(f);
}

static void fx_step_cb(uv_timer_t *t) {
  fx_t *f = t->data;
  if (f->on_step) f->on_step(f);
}

static void fx_iter_cb(uv_prepare_t *p) {
  fx_t *f = p->data;
  if (f->iter_on) f->iterations++;
}

/* Delay ms, then call on_step. */
static void fx_after(fx_t *f, uint64_t ms, void (*cb)(fx_t *)) {
  f->on_step = cb;
  uv_timer_start(&f->step, fx_step_cb, ms, 0);
}

static void ev_state(chat_redis_t *r, int up, void *ud) {
  fx_t *f = ud;
  T_CHECK(r == f->r);
  T_CHECK(!f->closing);
  T_EQ_INT(chat_redis_is_up(r), up);
  if (up) {
    f->ups++;
    T_EQ_INT(f->ups, f->downs + 1);
    if (f->on_up) f->on_up(f);
  } else {
    f->downs++;
    T_EQ_INT(f->downs, f->ups);
    if (f->on_down) f->on_down(f);
  }
}

static void ev_message(chat_redis_t *r, const char *channel, const char *data,
                       size_t len, void *ud) {
  fx_t *f = ud;
  T_CHECK(!f->closing);
  f->nmsg++;
  snprintf(f->msg_channel, sizeof(f->msg_channel), "%s", channel);
  f->msg_len = len < sizeof(f->msg_data) ? len : sizeof(f->msg_data);
  memcpy(f->msg_data, data, f->msg_len);
  if (f->on_msg) f->on_msg(f);
}

static const chat_redis_events_t fx_events = {ev_state, ev_message};

/* A fresh loop, a watchdog of timeout_ms and, if url is not NULL, a client
 * (not started). */
static void fx_init(fx_t *f, const char *url, uint64_t timeout_ms) {
  memset(f, 0, sizeof(*f));
  T_EQ_INT(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->watchdog);
  uv_timer_init(&f->loop, &f->step);
  uv_prepare_init(&f->loop, &f->iter);
  f->watchdog.data = f->step.data = f->iter.data = f;
  uv_timer_start(&f->watchdog, fx_watchdog_cb, timeout_ms, 0);
  uv_prepare_start(&f->iter, fx_iter_cb);
  if (url != NULL) {
    char err[256];
    f->r = chat_redis_new(&f->loop, url, &fx_events, f, err, sizeof(err));
    T_CHECK(f->r != NULL);
    if (f->r == NULL) fprintf(stderr, "chat_redis_new: %s\n", err);
  }
}

/* Runs the loop to its end and checks that nothing was left open. */
static void fx_run(fx_t *f) {
  uv_run(&f->loop, UV_RUN_DEFAULT);
  T_EQ_INT(f->closed, 1);
  T_EQ_INT(uv_loop_close(&f->loop), 0);
}

/* "<prefix><name>" in a static buffer (one of four, reused in turn). */
static const char *key(const char *name) {
  static char bufs[4][256];
  static int n;
  char *b = bufs[n++ % 4];
  snprintf(b, sizeof(bufs[0]), "%s%s", g_prefix, name);
  return b;
}

/* ---- URLs (no server) ------------------------------------------------- */

static void url_closed_cb(chat_redis_t *r, void *ud) { (*(int *)ud)++; }

static void test_url(void) {
  static const char *const bad[] = {
      "http://127.0.0.1:6379",
      "redis://",
      "redis://:pw@",
      "redis://host:0",
      "redis://host:65536",
      "redis://host:12ab",
      "redis://host:",
      "redis://host/abc",
      "redis://host:6379/1?timeout=3",
      "redis://[::1",
      "redis://:bad%zzs3cretpw@host",
      "redis://:s3cretpw@host:99999/0",
      "redis://user:s3cretpw@host/x",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    chat_redis_t *r = chat_redis_new(&loop, bad[i], NULL, NULL, err, sizeof(err));
    T_CHECK(r == NULL);
    T_CHECK(err[0] != '\0');
    T_CHECK(strstr(err, "s3cret") == NULL);
    T_CHECK(strstr(err, "pw") == NULL);
    T_EQ_INT(uv_loop_close(&loop), 0);
  }

  static const char *const good[] = {
      "redis://127.0.0.1:6379",
      "redis://127.0.0.1:6379/0",
      "redis://127.0.0.1:6379/",
      "REDIS://localhost/3",
      "redis://:p%40ss@[::1]:6380/2",
      "redis://user:pw@example.org",
      "redis://pa@ss@host:1/15",
  };
  uv_loop_t loop;
  uv_loop_init(&loop);
  int closed = 0;
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(good); i++) {
    char err[256] = "";
    chat_redis_t *r =
        chat_redis_new(&loop, good[i], NULL, &closed, err, sizeof(err));
    T_CHECK(r != NULL);
    if (r == NULL) {
      fprintf(stderr, "%s: %s\n", good[i], err);
      continue;
    }
    T_EQ_INT(chat_redis_is_up(r), 0);
    T_EQ_INT(chat_redis_attempts(r), 0);
    const char *argv[1] = {"PING"};
    T_EQ_INT(chat_redis_command(r, NULL, NULL, 1, argv, NULL), -1);
    /* A client never started is closed like any other. */
    chat_redis_close(r, url_closed_cb);
  }
  /* closed_cb comes from the loop, never from close itself. */
  T_EQ_INT(closed, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  T_EQ_INT(closed, (int)CHAT_ARRAY_SIZE(good));
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- connect ---------------------------------------------------------- */

static void connect_up(fx_t *f) {
  T_CHECK(chat_redis_attempts(f->r) >= 1);
  /* Closing from inside a callback is allowed. */
  fx_finish(f);
}

static void test_connect(void) {
  fx_init(&F, g_url, 5000);
  F.on_up = connect_up;
  T_EQ_INT(chat_redis_start(F.r), 0);
  fx_run(&F);
  T_EQ_INT(F.ups, 1);
  T_EQ_INT(F.downs, 0);
  T_EQ_INT(F.watchdog_fired, 0);
}

/* ---- binary-safe values ----------------------------------------------- */

typedef struct {
  int type;
  long long integer;
  const char *str;
  size_t len;
} expect_t;

static const char zh[] = "你好，世界！聊天室";
static const char bin[] = "a\0b\0\xe4\xb8\xad\xe6\x96\x87\0z";
static const char bin_key[] = "bin\0key\xe9\x94\xae";

static expect_t g_expect[16];
static int g_nexpect;

static void expect_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  int i = (int)(intptr_t)ud;
  F.calls[i]++;
  T_EQ_INT(i, F.next);
  F.next++;
  T_CHECK(reply != NULL);
  if (reply == NULL) return;
  F.replies++;
  const expect_t *e = &g_expect[i];
  T_EQ_INT(reply->type, e->type);
  if (e->type == REDIS_REPLY_INTEGER) T_EQ_INT(reply->integer, e->integer);
  if (e->str != NULL) {
    T_EQ_INT(reply->len, e->len);
    T_CHECK(reply->len == e->len && memcmp(reply->str, e->str, e->len) == 0);
  }
  if (F.next == g_nexpect) fx_finish(&F);
}

/* Queues argv (lengths given) expecting e. */
static void send_expect(fx_t *f, int argc, const char **argv,
                        const size_t *lens, expect_t e) {
  int i = g_nexpect++;
  g_expect[i] = e;
  T_EQ_INT(chat_redis_command(f->r, expect_cb, (void *)(intptr_t)i, argc,
                              argv, lens),
           0);
}

static void binary_up(fx_t *f) {
  char k1[128], k2[128], ctr[128];
  size_t k1len, k2len, ctrlen;
  k1len = (size_t)snprintf(k1, sizeof(k1), "%s中文键", g_prefix);
  size_t plen = strlen(g_prefix);
  memcpy(k2, g_prefix, plen);
  memcpy(k2 + plen, bin_key, sizeof(bin_key) - 1);
  k2len = plen + sizeof(bin_key) - 1;
  ctrlen = (size_t)snprintf(ctr, sizeof(ctr), "%sctr", g_prefix);

  const char *del[4] = {"DEL", k1, k2, ctr};
  size_t del_l[4] = {3, k1len, k2len, ctrlen};
  send_expect(f, 4, del, del_l, (expect_t){REDIS_REPLY_INTEGER, 0, NULL, 0});

  const char *set1[3] = {"SET", k1, zh};
  size_t set1_l[3] = {3, k1len, sizeof(zh) - 1};
  send_expect(f, 3, set1, set1_l, (expect_t){REDIS_REPLY_STATUS, 0, "OK", 2});
  const char *get1[2] = {"GET", k1};
  size_t get1_l[2] = {3, k1len};
  send_expect(f, 2, get1, get1_l,
              (expect_t){REDIS_REPLY_STRING, 0, zh, sizeof(zh) - 1});

  const char *set2[3] = {"SET", k2, bin};
  size_t set2_l[3] = {3, k2len, sizeof(bin) - 1};
  send_expect(f, 3, set2, set2_l, (expect_t){REDIS_REPLY_STATUS, 0, "OK", 2});
  const char *get2[2] = {"GET", k2};
  size_t get2_l[2] = {3, k2len};
  send_expect(f, 2, get2, get2_l,
              (expect_t){REDIS_REPLY_STRING, 0, bin, sizeof(bin) - 1});
  const char *strlen2[2] = {"STRLEN", k2};
  size_t strlen2_l[2] = {6, k2len};
  send_expect(f, 2, strlen2, strlen2_l,
              (expect_t){REDIS_REPLY_INTEGER, (long long)sizeof(bin) - 1, NULL, 0});

  const char *incr[2] = {"INCR", ctr};
  size_t incr_l[2] = {4, ctrlen};
  send_expect(f, 2, incr, incr_l, (expect_t){REDIS_REPLY_INTEGER, 1, NULL, 0});
  send_expect(f, 2, incr, incr_l, (expect_t){REDIS_REPLY_INTEGER, 2, NULL, 0});
  const char *incrby[3] = {"INCRBY", ctr, "40"};
  send_expect(f, 3, incrby, NULL, (expect_t){REDIS_REPLY_INTEGER, 42, NULL, 0});

  /* NUL-terminated arguments (argvlen NULL). */
  const char *get_missing[2] = {"GET", key("missing")};
  send_expect(f, 2, get_missing, NULL, (expect_t){REDIS_REPLY_NIL, 0, NULL, 0});
  /* An error answer is a reply, not NULL. */
  const char *bad_incr[2] = {"INCR", k1};
  size_t bad_incr_l[2] = {4, k1len};
  send_expect(f, 2, bad_incr, bad_incr_l, (expect_t){REDIS_REPLY_ERROR, 0, NULL, 0});
  const char *del2[4] = {"DEL", k1, k2, ctr};
  send_expect(f, 4, del2, del_l, (expect_t){REDIS_REPLY_INTEGER, 3, NULL, 0});

  /* Commands that would change the shared connection are refused. */
  const char *sel[2] = {"select", "1"};
  T_EQ_INT(chat_redis_command(f->r, expect_cb, NULL, 2, sel, NULL), -1);
  const char *sub[2] = {"SUBSCRIBE", "x"};
  T_EQ_INT(chat_redis_command(f->r, expect_cb, NULL, 2, sub, NULL), -1);
  const char *cr[3] = {"client", "REPLY", "OFF"};
  T_EQ_INT(chat_redis_command(f->r, expect_cb, NULL, 3, cr, NULL), -1);
  T_EQ_INT(chat_redis_command(f->r, expect_cb, NULL, 0, cr, NULL), -1);
}

static void test_binary(void) {
  fx_init(&F, g_url, 5000);
  g_nexpect = 0;
  F.on_up = binary_up;
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.next, g_nexpect);
  T_EQ_INT(F.replies, g_nexpect);
  for (int i = 0; i < g_nexpect; i++) T_EQ_INT(F.calls[i], 1);
}

/* ---- pipelining --------------------------------------------------------- */

#define PIPELINE_N 1000

static void pipeline_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  int i = (int)(intptr_t)ud;
  F.calls[i]++;
  T_EQ_INT(i, F.next);
  F.next++;
  T_CHECK(reply != NULL && reply->type == REDIS_REPLY_INTEGER);
  if (reply == NULL) return;
  F.replies++;
  /* Request 0 is the DEL; request i (>= 1) is the i-th INCR. */
  if (i > 0) T_EQ_INT(reply->integer, i);
  if (F.next == PIPELINE_N + 1) fx_finish(&F);
}

static void pipeline_up(fx_t *f) {
  const char *del[2] = {"DEL", key("pipe")};
  T_EQ_INT(chat_redis_command(f->r, pipeline_cb, (void *)0, 2, del, NULL), 0);
  int queued = 0;
  for (int i = 1; i <= PIPELINE_N; i++) {
    const char *incr[2] = {"INCR", key("pipe")};
    queued += chat_redis_command(f->r, pipeline_cb, (void *)(intptr_t)i, 2,
                                 incr, NULL) == 0;
  }
  /* All of them are in flight at once: none has been answered yet. */
  T_EQ_INT(queued, PIPELINE_N);
  T_EQ_INT(f->replies, 0);
}

static void test_pipeline(void) {
  fx_init(&F, g_url, 10000);
  F.on_up = pipeline_up;
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.replies, PIPELINE_N + 1);
  int once = 1;
  for (int i = 0; i <= PIPELINE_N; i++) once &= F.calls[i] == 1;
  T_CHECK(once);
}

/* ---- publish / subscribe ---------------------------------------------- */

static const char msg_data[] = "消息\0尾巴 tail";

static void pubsub_msg(fx_t *f) {
  T_EQ_STR(f->msg_channel, key("频道"));
  T_EQ_INT(f->msg_len, sizeof(msg_data) - 1);
  T_CHECK(memcmp(f->msg_data, msg_data, sizeof(msg_data) - 1) == 0);
  /* Closing from inside on_message. */
  fx_finish(f);
}

static void pubsub_up(fx_t *f) {
  /* The subscription was confirmed before on_state(1): a publish now, from
   * the same client, comes back. */
  T_EQ_INT(chat_redis_publish(f->r, key("频道"), msg_data, sizeof(msg_data) - 1),
           0);
}

static void test_pubsub(void) {
  fx_init(&F, g_url, 5000);
  F.on_up = pubsub_up;
  F.on_msg = pubsub_msg;
  chat_redis_subscribe(F.r, key("频道"));
  chat_redis_subscribe(F.r, key("频道")); /* twice: once */
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.nmsg, 1);
}

/* psubscribe before start; then a subscription made while up, published to
 * once PUBSUB NUMSUB shows the server has it. */
static void psub_poll(fx_t *f);

static void psub_numsub_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  fx_t *f = ud;
  T_CHECK(reply != NULL);
  if (reply == NULL) return;
  T_CHECK(reply->type == REDIS_REPLY_ARRAY && reply->elements == 2);
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[1]->integer >= 1) {
    f->phase = 2;
    T_EQ_INT(chat_redis_publish(r, key("late"), "late!", 5), 0);
  } else {
    fx_after(f, 10, psub_poll);
  }
}

static void psub_poll(fx_t *f) {
  const char *argv[3] = {"PUBSUB", "NUMSUB", key("late")};
  T_EQ_INT(chat_redis_command(f->r, psub_numsub_cb, f, 3, argv, NULL), 0);
}

static void psub_msg(fx_t *f) {
  if (f->phase == 1) {
    T_EQ_STR(f->msg_channel, key("room.42"));
    T_EQ_INT(f->msg_len, 2);
    T_CHECK(memcmp(f->msg_data, "hi", 2) == 0);
    chat_redis_subscribe(f->r, key("late"));
    psub_poll(f);
  } else if (f->phase == 2) {
    T_EQ_STR(f->msg_channel, key("late"));
    T_EQ_INT(f->msg_len, 5);
    fx_finish(f);
  } else {
    T_CHECK(!"unexpected message");
  }
}

static void psub_up(fx_t *f) {
  f->phase = 1;
  T_EQ_INT(chat_redis_publish(f->r, key("room.42"), "hi", 2), 0);
}

static void test_psubscribe(void) {
  fx_init(&F, g_url, 5000);
  F.on_up = psub_up;
  F.on_msg = psub_msg;
  chat_redis_psubscribe(F.r, key("room.*"));
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.nmsg, 2);
  T_EQ_INT(F.phase, 2);
}

/* ---- close with commands in flight ----------------------------------- */

#define INFLIGHT_N 21

static void inflight_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  int i = (int)(intptr_t)ud;
  F.calls[i]++;
  if (reply == NULL)
    F.nulls++;
  else
    F.replies++;
  /* Completions come before the closed callback. */
  T_EQ_INT(F.closed, 0);
  /* Nothing can be queued any more. */
  const char *ping[1] = {"PING"};
  T_EQ_INT(chat_redis_command(r, inflight_cb, NULL, 1, ping, NULL), -1);
}

static void inflight_close(fx_t *f) {
  /* BLPOP holds the connection: every command is still waiting. */
  T_EQ_INT(f->nulls + f->replies, 0);
  fx_finish(f);
  T_EQ_INT(f->nulls, INFLIGHT_N);
}

static void inflight_up(fx_t *f) {
  const char *blpop[3] = {"BLPOP", key("never"), "0"};
  T_EQ_INT(chat_redis_command(f->r, inflight_cb, (void *)0, 3, blpop, NULL), 0);
  for (int i = 1; i < INFLIGHT_N; i++) {
    const char *ping[1] = {"PING"};
    T_EQ_INT(chat_redis_command(f->r, inflight_cb, (void *)(intptr_t)i, 1, ping,
                                NULL),
             0);
  }
  T_EQ_INT(chat_redis_publish(f->r, key("x"), "y", 1), 0);
  fx_after(f, 150, inflight_close);
}

static void test_close_in_flight(void) {
  fx_init(&F, g_url, 5000);
  F.on_up = inflight_up;
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.nulls, INFLIGHT_N);
  T_EQ_INT(F.replies, 0);
  int once = 1;
  for (int i = 0; i < INFLIGHT_N; i++) once &= F.calls[i] == 1;
  T_CHECK(once);
  T_EQ_INT(F.downs, 0); /* close is not reported as a loss */
}

/* ---- a host name: resolved on the thread pool ------------------------- */

static void hostname_up(fx_t *f) { fx_finish(f); }

static void hostname_close_early(fx_t *f) {
  /* The client's first attempt ran just before in the same timer pass
   * (equal due times fire in start order): the name is being resolved.
   * The request is cancelled, or its late result ignored, and close
   * completes only after its callback. */
  T_EQ_INT(chat_redis_attempts(f->r), 1);
  fx_finish(f);
}

static void test_hostname(void) {
  const char *colon = strrchr(g_url, ':');
  if (strstr(g_url, "//127.0.0.1:") == NULL || colon == NULL) {
    fprintf(stderr, "  (server not on 127.0.0.1: skipped)\n");
    return;
  }
  char url[128];
  snprintf(url, sizeof(url), "redis://localhost:%d", atoi(colon + 1));
  fx_init(&F, url, 5000);
  F.on_up = hostname_up;
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.ups, 1);

  fx_init(&F, url, 5000);
  chat_redis_start(F.r);
  fx_after(&F, 0, hostname_close_early);
  fx_run(&F);
  T_EQ_INT(F.ups, 0);
}

/* ---- nothing listening: bounded retries ------------------------------- */

/* A TCP port on 127.0.0.1 that nothing listens on (just freed). */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  int port = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static void down_check(fx_t *f) {
  uint64_t n = chat_redis_attempts(f->r);
  /* 0, ~50-100, ~150-300, ~350-700, ~750-1500 ms: about 4 or 5 attempts in
   * the first second; a busy retry would make thousands. */
  fprintf(stderr, "  attempts in 1 s: %llu, loop iterations: %lu\n",
          (unsigned long long)n, f->iterations);
  T_CHECK(n >= 3 && n <= 8);
  T_CHECK(f->iterations < 200);
  T_EQ_INT(chat_redis_is_up(f->r), 0);
  const char *ping[1] = {"PING"};
  T_EQ_INT(chat_redis_command(f->r, NULL, NULL, 1, ping, NULL), -1);
  T_EQ_INT(chat_redis_publish(f->r, "c", "d", 1), -1);
  /* Close while waiting for the next attempt. */
  fx_finish(f);
}

static void test_bad_port(void) {
  char url[64];
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", free_port());
  fx_init(&F, url, 5000);
  const char *ping[1] = {"PING"};
  T_EQ_INT(chat_redis_command(F.r, NULL, NULL, 1, ping, NULL), -1);
  T_EQ_INT(chat_redis_publish(F.r, "c", "d", 1), -1);
  chat_redis_subscribe(F.r, "kept-while-down");
  chat_redis_start(F.r);
  T_EQ_INT(chat_redis_command(F.r, NULL, NULL, 1, ping, NULL), -1);
  F.iter_on = 1;
  fx_after(&F, 1000, down_check);
  fx_run(&F);
  T_EQ_INT(F.ups, 0);
  T_EQ_INT(F.downs, 0);
}

/* ---- a server that accepts and never answers: the 2 s deadline ------- */

static void silent_check(fx_t *f) {
  uint64_t n = chat_redis_attempts(f->r);
  fprintf(stderr, "  attempts in 2.6 s: %llu\n", (unsigned long long)n);
  T_CHECK(n >= 2 && n <= 3);
  T_EQ_INT(f->ups, 0);
  fx_finish(f);
}

static void test_silent_server(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  T_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ_INT(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  T_EQ_INT(listen(fd, 64), 0); /* the kernel completes connects; no accept */
  char url[64];
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
  fx_init(&F, url, 6000);
  chat_redis_start(F.r);
  fx_after(&F, 2600, silent_check);
  fx_run(&F);
  close(fd);
}

/* ---- a server that accepts and resets every connection ---------------- */

/* The reset shows up as POLLERR, which libuv reports as a poll error
 * (UV_EBADF) with the handle stopped: the client must still notice. */
static uv_poll_t g_rst_poll;
static int g_rst_fd;
static int g_rst_accepted;

static void rst_accept_cb(uv_poll_t *p, int status, int events) {
  int c;
  while ((c = accept(g_rst_fd, NULL, NULL)) >= 0) {
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c);
    g_rst_accepted++;
  }
}

static void rst_check(fx_t *f) {
  uint64_t n = chat_redis_attempts(f->r);
  fprintf(stderr, "  attempts against resets in 1 s: %llu (%d accepted)\n",
          (unsigned long long)n, g_rst_accepted);
  T_CHECK(n >= 3 && n <= 8);
  T_CHECK(g_rst_accepted >= 2);
  T_EQ_INT(f->ups, 0);
  uv_close((uv_handle_t *)&g_rst_poll, fx_handle_closed);
  fx_finish(f);
}

static void test_reset_server(void) {
  g_rst_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  T_EQ_INT(bind(g_rst_fd, (struct sockaddr *)&a, sizeof(a)), 0);
  T_EQ_INT(getsockname(g_rst_fd, (struct sockaddr *)&a, &alen), 0);
  T_EQ_INT(listen(g_rst_fd, 64), 0);
  char url[64];
  snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ntohs(a.sin_port));
  g_rst_accepted = 0;
  fx_init(&F, url, 5000);
  T_EQ_INT(uv_poll_init(&F.loop, &g_rst_poll, g_rst_fd), 0);
  uv_poll_start(&g_rst_poll, UV_READABLE, rst_accept_cb);
  chat_redis_start(F.r);
  fx_after(&F, 1000, rst_check);
  fx_run(&F);
  close(g_rst_fd);
}

/* ---- a private server: AUTH, SELECT, loss and recovery ---------------- */

#define PRIV_PASS "pa:ss@w/rd密码"
#define PRIV_PASS_URL "pa%3Ass%40w%2Frd%E5%AF%86%E7%A0%81"

static char g_redis_bin[512];
static char g_priv_dir[64];
static int g_priv_port;
static pid_t g_priv_pid;

static int find_redis_server(void) {
  const char *env = getenv("CHAT_TEST_REDIS_SERVER");
  if (env != NULL && access(env, X_OK) == 0) {
    snprintf(g_redis_bin, sizeof(g_redis_bin), "%s", env);
    return 0;
  }
  const char *path = getenv("PATH");
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/sbin:/usr/local/bin",
           path ? path : "");
  for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir != NULL;
       dir = strtok_r(NULL, ":", &save)) {
    snprintf(g_redis_bin, sizeof(g_redis_bin), "%s/redis-server", dir);
    if (access(g_redis_bin, X_OK) == 0) return 0;
  }
  return -1;
}

/* Starts redis-server on g_priv_port, requiring PRIV_PASS.  The child dies
 * with the test (PR_SET_PDEATHSIG), so a crashed test leaves no server. */
static pid_t priv_spawn(void) {
  char port[16];
  snprintf(port, sizeof(port), "%d", g_priv_port);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    execl(g_redis_bin, g_redis_bin, "--port", port, "--bind", "127.0.0.1",
          "--dir", g_priv_dir, "--save", "", "--appendonly", "no",
          "--daemonize", "no", "--requirepass", PRIV_PASS, (char *)NULL);
    _exit(127);
  }
  T_CHECK(pid > 0);
  return pid;
}

static void priv_kill(void) {
  if (g_priv_pid <= 0) return;
  kill(g_priv_pid, SIGKILL);
  while (waitpid(g_priv_pid, NULL, 0) < 0 && errno == EINTR) {
  }
  g_priv_pid = 0;
}

static void priv_url(char *url, size_t n, const char *pass_enc) {
  snprintf(url, n, "redis://:%s@127.0.0.1:%d/5", pass_enc, g_priv_port);
}

/* A wrong password: never up, retried with backoff. */
static void wrongpw_check(fx_t *f) {
  uint64_t n = chat_redis_attempts(f->r);
  fprintf(stderr, "  attempts with a wrong password in 1.5 s: %llu\n",
          (unsigned long long)n);
  T_CHECK(n >= 2 && n <= 8);
  T_EQ_INT(f->ups, 0);
  fx_finish(f);
}

#define WRONG_PASS "wr0ng-s3cret-PW"

static void test_wrong_password(void) {
  char url[256];
  priv_url(url, sizeof(url), WRONG_PASS);
  fx_init(&F, url, 5000);
  chat_redis_start(F.r);
  fx_after(&F, 1500, wrongpw_check);
  fx_run(&F);
}

/* Loss and recovery.  Phases:
 *   1  up the first time: check the database, queue commands that cannot
 *      be answered (BLPOP first), then kill the server
 *   2  down: pending callbacks completed with NULL, commands refused;
 *      restart the server a little later
 *   3  up again: one pair of connections, database selected again,
 *      subscriptions re-issued (a channel and a pattern message arrive) */
#define LOSS_PENDING 6

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* Phase 3 ends when both messages and the CLIENT LIST answer are in: they
 * come on two connections, in either order. */
static int g_loss_listed;

static void loss_maybe_finish(fx_t *f) {
  if (f->phase == 3 && f->nmsg == 2 && g_loss_listed) fx_finish(f);
}

static void loss_info_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  T_CHECK(reply != NULL && reply->type == REDIS_REPLY_STRING);
  if (reply && reply->type == REDIS_REPLY_STRING)
    T_CHECK(strstr(reply->str, " db=5 ") != NULL);
}

static void loss_list_cb(chat_redis_t *r, const redisReply *reply, void *ud) {
  fx_t *f = ud;
  T_CHECK(reply != NULL && reply->type == REDIS_REPLY_STRING);
  /* Exactly this client's two connections: none left from before. */
  if (reply && reply->type == REDIS_REPLY_STRING)
    T_EQ_INT(count_lines(reply->str), 2);
  g_loss_listed = 1;
  loss_maybe_finish(f);
}

static void loss_pending_cb(chat_redis_t *r, const redisReply *reply,
                            void *ud) {
  int i = (int)(intptr_t)ud;
  F.calls[i]++;
  T_CHECK(reply == NULL);
  if (reply == NULL) F.nulls++;
}

static void loss_kill(fx_t *f) {
  T_EQ_INT(f->nulls, 0);
  priv_kill();
}

static void loss_restart(fx_t *f) {
  T_EQ_INT(chat_redis_is_up(f->r), 0);
  g_priv_pid = priv_spawn();
}

static void loss_down(fx_t *f) {
  T_EQ_INT(f->phase, 1);
  f->phase = 2;
  /* Every pending command was completed before the loss was reported. */
  T_EQ_INT(f->nulls, LOSS_PENDING);
  for (int i = 0; i < LOSS_PENDING; i++) T_EQ_INT(f->calls[i], 1);
  const char *ping[1] = {"PING"};
  T_EQ_INT(chat_redis_command(f->r, NULL, NULL, 1, ping, NULL), -1);
  T_EQ_INT(chat_redis_publish(f->r, key("ch"), "x", 1), -1);
  fx_after(f, 400, loss_restart);
}

static void loss_up(fx_t *f) {
  const char *info[2] = {"CLIENT", "INFO"};
  T_EQ_INT(chat_redis_command(f->r, loss_info_cb, NULL, 2, info, NULL), 0);
  if (f->phase == 0) {
    f->phase = 1;
    const char *blpop[3] = {"BLPOP", key("never"), "0"};
    T_EQ_INT(chat_redis_command(f->r, loss_pending_cb, (void *)0, 3, blpop,
                                NULL),
             0);
    for (int i = 1; i < LOSS_PENDING; i++) {
      const char *get[2] = {"GET", key("k")};
      T_EQ_INT(chat_redis_command(f->r, loss_pending_cb, (void *)(intptr_t)i,
                                  2, get, NULL),
               0);
    }
    fx_after(f, 100, loss_kill);
  } else {
    T_EQ_INT(f->phase, 2);
    f->phase = 3;
    T_CHECK(chat_redis_attempts(f->r) >= 3);
    const char *list[2] = {"CLIENT", "LIST"};
    T_EQ_INT(chat_redis_command(f->r, loss_list_cb, f, 2, list, NULL), 0);
    T_EQ_INT(chat_redis_publish(f->r, key("ch"), "again", 5), 0);
    T_EQ_INT(chat_redis_publish(f->r, key("pat.7"), "pattern", 7), 0);
  }
}

static void loss_msg(fx_t *f) {
  T_EQ_INT(f->phase, 3);
  if (f->nmsg == 1) {
    T_EQ_STR(f->msg_channel, key("ch"));
    T_CHECK(f->msg_len == 5 && memcmp(f->msg_data, "again", 5) == 0);
  } else {
    T_EQ_STR(f->msg_channel, key("pat.7"));
    T_CHECK(f->msg_len == 7 && memcmp(f->msg_data, "pattern", 7) == 0);
    loss_maybe_finish(f);
  }
}

static void test_loss_and_recovery(void) {
  char url[256];
  priv_url(url, sizeof(url), PRIV_PASS_URL);
  g_loss_listed = 0;
  fx_init(&F, url, 15000);
  F.on_up = loss_up;
  F.on_down = loss_down;
  F.on_msg = loss_msg;
  chat_redis_subscribe(F.r, key("ch"));
  chat_redis_psubscribe(F.r, key("pat.*"));
  chat_redis_start(F.r);
  fx_run(&F);
  T_EQ_INT(F.ups, 2);
  T_EQ_INT(F.downs, 1);
  T_EQ_INT(F.nmsg, 2);
  T_EQ_INT(F.phase, 3);
}

static void run_private(void) {
  if (find_redis_server() != 0) {
    fprintf(stderr, "redis-server not found: private server tests skipped\n");
    return;
  }
  snprintf(g_priv_dir, sizeof(g_priv_dir), "/tmp/chat_test_redis_XXXXXX");
  if (mkdtemp(g_priv_dir) == NULL) {
    perror("mkdtemp");
    T_CHECK(0);
    return;
  }
  g_priv_port = free_port();
  g_priv_pid = priv_spawn();

  /* Everything logged meanwhile, debug lines included, goes to a file that
   * must not contain a password in any form. */
  char logpath[128];
  snprintf(logpath, sizeof(logpath), "%s/client.log", g_priv_dir);
  fflush(stderr);
  int saved = dup(2);
  int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  T_CHECK(saved >= 0 && logfd >= 0);
  dup2(logfd, 2);
  close(logfd);
  chat_log_set_level(CHAT_LOG_DEBUG);

  /* The clients retry until the server listens: no wait needed here. */
  T_RUN(test_wrong_password);
  T_RUN(test_loss_and_recovery);
  priv_kill();

  chat_log_set_level(g_debug ? CHAT_LOG_DEBUG : CHAT_LOG_INFO);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *fp = fopen(logpath, "r");
  T_CHECK(fp != NULL);
  if (fp != NULL) {
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    text[n] = '\0';
    fclose(fp);
    fputs(text, stderr);
    T_CHECK(strstr(text, "AUTH failed") != NULL); /* the failure is logged */
    T_CHECK(strstr(text, WRONG_PASS) == NULL);
    T_CHECK(strstr(text, PRIV_PASS) == NULL);
    T_CHECK(strstr(text, PRIV_PASS_URL) == NULL);
    T_CHECK(strstr(text, "w/rd") == NULL);
  }
  unlink(logpath);
  /* Nothing is saved (--save ''), but remove whatever the server left. */
  char path[128];
  snprintf(path, sizeof(path), "%s/dump.rdb", g_priv_dir);
  unlink(path);
  T_EQ_INT(rmdir(g_priv_dir), 0);
}

int main(void) {
  /* A write to a server that went away must fail, not kill the test. */
  signal(SIGPIPE, SIG_IGN);
  snprintf(g_prefix, sizeof(g_prefix), "chat:test:%ld:", (long)getpid());
  g_debug = getenv("CHAT_TEST_REDIS_DEBUG") != NULL;
  if (g_debug) chat_log_set_level(CHAT_LOG_DEBUG);

  T_RUN(test_url);

  g_url = getenv("CHAT_TEST_REDIS_URL");
  if (g_url == NULL || g_url[0] == '\0') {
    fprintf(stderr, "redis tests skipped: CHAT_TEST_REDIS_URL is not set\n");
    return T_DONE();
  }
  T_RUN(test_connect);
  T_RUN(test_binary);
  T_RUN(test_pipeline);
  T_RUN(test_pubsub);
  T_RUN(test_psubscribe);
  T_RUN(test_close_in_flight);
  T_RUN(test_hostname);
  T_RUN(test_bad_port);
  T_RUN(test_silent_server);
  T_RUN(test_reset_server);
  run_private();
  return T_DONE();
}
