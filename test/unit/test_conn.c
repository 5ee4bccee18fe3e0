/* The connection actor with fake services (test/unit/fakes.h): a client
 * on a loopback socket speaks HTTP and WebSocket to it; the session check
 * and direct-message checks run against a store in memory, inserts are
 * answered by the test, presence is a log.  The registry, the room
 * directory, rooms and the cluster module are the real ones. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "actors/cluster.h"
#include "actors/conn.h"
#include "actors/limiter.h"
#include "actors/registry.h"
#include "actors/roomdir.h"
#include "core/auth.h"
#include "fakes.h"
#include "t.h"

/* ---- fixtures --------------------------------------------------------- */

static uv_loop_t loop;
static chat_sched_t sched;
static fake_store_t store;
static fake_storage_t storage;
static fake_presence_t presence;
static chat_limits_t limits;
static chat_metrics_t metrics;
static chat_services_t svc;
static uv_tcp_t listener;
static int port;

static const char ALICE_SID[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char BOB_SID[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void on_connection(uv_stream_t *server, int status) {
  T_EQ_INT(status, 0);
  chat_conn_accept(&svc, server, CHAT_CONN_PLAIN);
}

static void add_user(int64_t id, const char *name, const char *sid) {
  chat_user_rec_t *u = &store.users[store.nusers];
  memset(u, 0, sizeof(*u));
  u->id = id;
  snprintf(u->username, sizeof(u->username), "%s", name);
  chat_auth_token_hash(sid, strlen(sid), store.sessions[store.nusers]);
  store.nusers++;
}

static void setup(void) {
  uv_loop_init(&loop);
  chat_sched_init(&sched, &loop);
  fake_store_init(&store);
  add_user(1, "alice", ALICE_SID);
  add_user(2, "bob", BOB_SID);
  fake_storage_init(&storage, &store.super);
  storage.run_at_once = 1;
  fake_presence_init(&presence);
  memset(&limits, 0, sizeof(limits));
  limits.ws_max_message = 64 * 1024;
  limits.ws_out_cap = 4 * 1024 * 1024;
  limits.http_out_cap = 256 * 1024;
  limits.public_dir = "/nonexistent";
  limits.vendor_dir = "/nonexistent";
  memset(&metrics, 0, sizeof(metrics));
  memset(&svc, 0, sizeof(svc));
  svc.loop = &loop;
  svc.sched = &sched;
  svc.storage = &storage.super;
  svc.presence = &presence.super;
  svc.limits = &limits;
  svc.metrics = &metrics;
  svc.running = 1;
  svc.registry = chat_registry_new(&sched, NULL, NULL);
  svc.rooms = chat_roomdir_new(&svc);
  svc.cluster = chat_cluster_new(&svc);
  presence.super.on_online = chat_cluster_online_cb;
  presence.super.on_event = chat_cluster_event_cb;
  presence.super.ud = svc.cluster;

  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(&loop, &listener);
  T_EQ_INT(uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0), 0);
  T_EQ_INT(uv_listen((uv_stream_t *)&listener, 16, on_connection), 0);
  struct sockaddr_in bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
  port = ntohs(bound.sin_port);
}

static int no_conns(void) { return chat_registry_count(svc.registry) == 0; }
static int never(void) { return 0; }

static void pump_until(int (*cond)(void), int ms);

static void teardown(void) {
  pump_until(no_conns, 5000);
  T_EQ_INT(chat_registry_count(svc.registry), 0);
  T_EQ_INT(storage.nins, 0);
  uv_close((uv_handle_t *)&listener, NULL);
  chat_roomdir_stop(svc.rooms, NULL, NULL);
  chat_roomdir_clear(svc.rooms);
  chat_sched_drain(&sched);
  chat_sched_close(&sched, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  chat_cluster_free(svc.cluster);
  chat_roomdir_free(svc.rooms);
  chat_registry_free(svc.registry);
  fake_store_free(&store);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- a client on a plain socket --------------------------------------- */

typedef struct {
  int fd;
  char in[256 * 1024];
  size_t len, off;      /* bytes read; bytes consumed */
  int eof;
} client_t;

static client_t *active;  /* read by pump_until */

static void client_read(client_t *cl) {
  while (cl->fd >= 0 && cl->len < sizeof(cl->in)) {
    ssize_t n = recv(cl->fd, cl->in + cl->len, sizeof(cl->in) - cl->len, MSG_DONTWAIT);
    if (n > 0) {
      cl->len += (size_t)n;
      continue;
    }
    if (n == 0) cl->eof = 1;
    break;
  }
}

static void pump_until(int (*cond)(void), int ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  for (;;) {
    uv_run(&loop, UV_RUN_NOWAIT);
    if (active) client_read(active);
    if (cond() || uv_hrtime() > end) break;
    uv_sleep(1);
  }
}

static int client_connect(client_t *cl) {
  memset(cl, 0, sizeof(*cl));
  cl->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(cl->fd, (struct sockaddr *)&a, sizeof(a));
  fcntl(cl->fd, F_SETFL, fcntl(cl->fd, F_GETFL) | O_NONBLOCK);
  active = cl;
  return rc;
}

static void client_write(client_t *cl, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      uv_run(&loop, UV_RUN_NOWAIT);
      client_read(cl);
      continue;
    }
    T_CHECK(n > 0);
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

static void client_close(client_t *cl) {
  close(cl->fd);
  cl->fd = -1;
  if (active == cl) active = NULL;
}

/* A masked client frame. */
static void ws_send(client_t *cl, int opcode, const char *payload, size_t len) {
  uint8_t f[16 + 65536];
  size_t h = 0;
  f[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    f[h++] = (uint8_t)(0x80 | len);
  } else {
    f[h++] = 0x80 | 126;
    f[h++] = (uint8_t)(len >> 8);
    f[h++] = (uint8_t)len;
  }
  const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
  memcpy(f + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < len; i++) f[h + i] = (uint8_t)payload[i] ^ mask[i % 4];
  client_write(cl, f, h + len);
}

static void ws_text(client_t *cl, const char *json) { ws_send(cl, 1, json, strlen(json)); }

/* The next frame from the server (waiting up to a second): its payload
 * (NUL-terminated in a static buffer) and opcode; "" and -1 if none came. */
static int frame_op;
static char frame_buf[65536];
static size_t frame_len;

static int frame_ready(void) {
  size_t len, flen;
  int op;
  return fake_frame_payload((uint8_t *)active->in + active->off, active->len - active->off,
                            &len, &op, &flen) != NULL;
}

static const char *next_frame(client_t *cl) {
  active = cl;
  pump_until(frame_ready, 1000);
  size_t len, flen;
  const char *p = fake_frame_payload((uint8_t *)cl->in + cl->off, cl->len - cl->off, &len,
                                     &frame_op, &flen);
  if (p == NULL) {
    frame_op = -1;
    frame_len = 0;
    frame_buf[0] = '\0';
    return frame_buf;
  }
  memcpy(frame_buf, p, len);
  frame_buf[len] = '\0';
  frame_len = len;
  cl->off += flen;
  return frame_buf;
}

/* The close code of a close frame's payload. */
static int close_code(void) {
  return frame_len >= 2 ? ((uint8_t)frame_buf[0] << 8 | (uint8_t)frame_buf[1]) : 0;
}

static int head_ready(void) { return strstr(active->in, "\r\n\r\n") != NULL; }

/* Sends a WebSocket handshake with sid; returns the status line's code. */
static int handshake(client_t *cl, const char *sid) {
  T_EQ_INT(client_connect(cl), 0);
  char req[1024];
  snprintf(req, sizeof(req),
           "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\nCookie: sid=%s\r\n\r\n",
           sid);
  client_write(cl, req, strlen(req));
  pump_until(head_ready, 2000);
  char *end = strstr(cl->in, "\r\n\r\n");
  if (end == NULL) return -1;
  cl->off = (size_t)(end + 4 - cl->in);
  int code = 0;
  sscanf(cl->in, "HTTP/1.1 %d", &code);
  return code;
}

static client_t *closing_client;
static int client_eof(void) { return closing_client->eof; }

/* Expects a close frame with code, then the end of the stream. */
static void expect_close(client_t *cl, int code, const char *reason) {
  next_frame(cl);
  T_EQ_INT(frame_op, 8);
  T_EQ_INT(close_code(), code);
  if (reason) T_EQ_STR(frame_len >= 2 ? frame_buf + 2 : "", reason);
  client_close(cl);
}

/* ---- tests ------------------------------------------------------------- */

static void test_frames(void) {
  setup();
  client_t *cl = calloc(1, sizeof(*cl));
  T_EQ_INT(handshake(cl, ALICE_SID), 101);
  T_CHECK(fake_presence_saw(&presence, "connect 1 alice"));
  T_EQ_INT(chat_registry_ws_count(svc.registry), 1);

  ws_text(cl, "{not json");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"the frame is not valid JSON\"}");
  ws_text(cl, "{\"type\":\"dance\"}");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"unknown_type\",\"message\":\"unknown frame type\"}");
  ws_text(cl, "{\"type\":\"send\",\"room\":1,\"text\":\"hi\"}");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"not_member\",\"message\":\"join the room first\"}");

  ws_text(cl, "{\"type\":\"join\",\"room\":1}");
  T_EQ_STR(next_frame(cl), "{\"type\":\"joined\",\"room\":1,\"members\":[\"alice\"],\"history\":[]}");
  T_CHECK(fake_presence_saw(&presence, "join 1 alice"));

  ws_text(cl, "{\"type\":\"send\",\"room\":1,\"text\":\"  hi \",\"cid\":\"c1\"}");
  pump_until(never, 50);
  T_EQ_INT(storage.nins, 1);
  if (storage.nins == 1) T_EQ_STR(storage.ins[0]->rec.text, "hi");
  fake_storage_complete(&storage, 5, 0, 0, 0);
  T_EQ_STR(next_frame(cl), "{\"type\":\"ack\",\"cid\":\"c1\",\"id\":5}");
  T_CHECK(strncmp(next_frame(cl), "{\"type\":\"message\",\"id\":5,\"room\":1,", 34) == 0);

  /* A dm to nobody: the DM actor checks and refuses. */
  ws_text(cl, "{\"type\":\"dm\",\"to\":\"nobody\",\"text\":\"psst\",\"cid\":\"d1\"}");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"not_friends\",\"message\":\"direct messages are only "
           "between friends\",\"cid\":\"d1\"}");

  ws_send(cl, 9, "ping!", 5);
  T_EQ_STR(next_frame(cl), "ping!");
  T_EQ_INT(frame_op, 10);
  T_EQ_INT(metrics.ws_frames_in, 7);

  /* Revocation: the kept session stays, a ban closes it. */
  uint8_t th[CHAT_TOKEN_HASH_LEN];
  chat_auth_token_hash(ALICE_SID, strlen(ALICE_SID), th);
  chat_registry_revoke(svc.registry, 1, th, NULL, "password changed");
  chat_registry_revoke(svc.registry, 2, NULL, NULL, "banned");
  ws_send(cl, 9, "x", 1);
  T_EQ_STR(next_frame(cl), "x");
  chat_registry_revoke(svc.registry, 1, NULL, th, "logged out");
  expect_close(cl, 1008, "logged out");
  pump_until(no_conns, 5000);
  T_CHECK(fake_presence_saw(&presence, "disconnect 1"));
  chat_sched_drain(&sched);  /* the room's leave mail */
  T_CHECK(fake_presence_saw(&presence, "leave 1 alice"));
  free(cl);
  teardown();
}

static void test_handshake_refused(void) {
  setup();
  client_t *cl = calloc(1, sizeof(*cl));
  T_EQ_INT(handshake(cl, "ccccccccccccccccccccccccccccccccccccccccccc"), 401);
  client_close(cl);
  store.unavailable = 1;
  T_EQ_INT(handshake(cl, ALICE_SID), 503);
  client_close(cl);
  free(cl);
  teardown();
}

static void test_flood_limit(void) {
  setup();
  /* One token in 1000 s: no refill to speak of. */
  chat_limiter_config_t lc = {.frame_rate = 0.001, .frame_burst = 3};
  svc.limiter = chat_limiter_new(&lc, NULL);
  client_t *cl = calloc(1, sizeof(*cl));
  T_EQ_INT(handshake(cl, BOB_SID), 101);
  ws_text(cl, "{\"type\":\"join\",\"room\":2}");
  next_frame(cl);
  ws_text(cl, "{\"type\":\"send\",\"room\":2,\"text\":\"1\",\"cid\":\"c1\"}");
  ws_text(cl, "{\"type\":\"send\",\"room\":2,\"text\":\"2\",\"cid\":\"c2\"}");
  ws_text(cl, "{\"type\":\"send\",\"room\":2,\"text\":\"3\",\"cid\":\"c3\"}");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"too many messages; wait "
           "a moment\",\"cid\":\"c3\"}");
  T_EQ_INT(storage.nins, 2);
  fake_storage_complete(&storage, 1, 0, 0, 0);
  fake_storage_complete(&storage, 2, 0, 0, 0);
  for (int i = 0; i < 4; i++) next_frame(cl);  /* two acks, two messages */
  /* Every frame counts, and a refused one is not even parsed: its cid is
   * found in the raw text. */
  ws_text(cl, "{\"type\":\"leave\",\"room\":2,\"cid\" : \"plain-cid\"}");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"too many messages; wait "
           "a moment\",\"cid\":\"plain-cid\"}");
  ws_text(cl, "not even JSON");
  T_EQ_STR(next_frame(cl),
           "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"too many messages; wait "
           "a moment\"}");
  T_EQ_INT(metrics.frames_limited, 3);
  client_close(cl);
  free(cl);
  teardown();
  chat_limiter_free(svc.limiter);
}

static void test_output_cap(void) {
  setup();
  limits.ws_out_cap = 2048;
  client_t *cl = calloc(1, sizeof(*cl));
  T_EQ_INT(handshake(cl, ALICE_SID), 101);
  /* Many pings at once: their pongs pass the cap before a write. */
  uint8_t burst[40 * 110];
  size_t n = 0;
  for (int i = 0; i < 40; i++) {
    char payload[100];
    memset(payload, 'p', sizeof(payload));
    const uint8_t mask[4] = {1, 2, 3, 4};
    burst[n++] = 0x89;
    burst[n++] = 0x80 | 100;
    memcpy(burst + n, mask, 4);
    n += 4;
    for (int k = 0; k < 100; k++) burst[n + k] = (uint8_t)(payload[k] ^ mask[k % 4]);
    n += 100;
  }
  client_write(cl, burst, n);
  expect_close(cl, 1013, "too slow");
  free(cl);
  teardown();
}

static void test_close_and_stop(void) {
  setup();
  client_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
  T_EQ_INT(handshake(a, ALICE_SID), 101);
  /* The client closes: its code comes back. */
  char payload[2] = {0x03, (char)0xe8};
  ws_send(a, 8, payload, 2);
  expect_close(a, 1000, NULL);
  T_EQ_INT(handshake(b, BOB_SID), 101);
  /* The server stops: 1001 for everyone. */
  chat_registry_close_all(svc.registry, 1001);
  expect_close(b, 1001, "server shutting down");
  free(a);
  free(b);
  teardown();
}

/* Keepalive with a 100 ms interval: a client that answers nothing gets one
 * ping and is then dropped without a close frame, as a dead peer going
 * offline; one that answers pings, and one that talks, stay. */
/* Reads what came for cl, answers its pings; counts them, and the
 * {"type":"pong"} frames in *pongs (NULL: none may come). */
static int answer_pings(client_t *cl, int *pongs) {
  int pings = 0;
  size_t len, flen;
  int op;
  const char *p;
  client_read(cl);
  while ((p = fake_frame_payload((uint8_t *)cl->in + cl->off, cl->len - cl->off, &len, &op,
                                 &flen))) {
    cl->off += flen;
    if (op == 9) {
      pings++;
      ws_send(cl, 10, "", 0);
    } else {
      T_CHECK(pongs && op == 1 && len == 15 && memcmp(p, "{\"type\":\"pong\"}", 15) == 0);
      if (pongs) (*pongs)++;
    }
  }
  return pings;
}

static void test_keepalive(void) {
  setup();
  chat_registry_start(svc.registry, 100);
  client_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
  T_EQ_INT(handshake(a, ALICE_SID), 101);
  T_EQ_INT(handshake(b, BOB_SID), 101);
  uint64_t t0 = uv_hrtime(), dropped_ms = 0;
  int b_pings = 0;
  /* For eight intervals Bob answers every ping; Alice only reads. */
  while (uv_hrtime() - t0 < 800000000ull) {
    pump_until(never, 5);
    client_read(a);
    if (!dropped_ms && fake_presence_saw(&presence, "disconnect 1"))
      dropped_ms = (uv_hrtime() - t0) / 1000000;
    b_pings += answer_pings(b, NULL);
  }
  /* Alice: dropped after two intervals (ticks every 25 ms). */
  T_CHECK(dropped_ms >= 150 && dropped_ms < 600);
  T_EQ_INT(metrics.ws_dead_peers, 1);
  /* Alice got the one ping, then the end of the stream: no close frame. */
  size_t len, flen;
  int op;
  const char *p = fake_frame_payload((uint8_t *)a->in + a->off, a->len - a->off, &len, &op, &flen);
  T_CHECK(p != NULL && op == 9 && len == 0);
  if (p) a->off += flen;
  T_EQ_INT((int)(a->len - a->off), 0);
  T_CHECK(a->eof);
  client_close(a);
  /* Bob was pinged about once an interval and is still here; now he talks
   * instead of answering pings: any frame counts. */
  T_CHECK(b_pings >= 4);
  for (int i = 0; i < 8; i++) {
    ws_text(b, "{\"type\":\"ping\"}");
    T_EQ_STR(next_frame(b), "{\"type\":\"pong\"}");
    pump_until(never, 50);
  }
  T_EQ_INT(chat_registry_ws_count(svc.registry), 1);
  T_EQ_INT(metrics.ws_dead_peers, 1);
  /* A stalled loop (a stopped process, say) does not take its peers for
   * dead: what Bob sent meanwhile is read after the first, late, tick. */
  ws_text(b, "{\"type\":\"ping\"}");
  uv_sleep(500);
  int pongs = 0;
  t0 = uv_hrtime();
  while (uv_hrtime() - t0 < 400000000ull) {
    pump_until(never, 5);
    answer_pings(b, &pongs);
  }
  T_EQ_INT(pongs, 1);
  T_EQ_INT(chat_registry_ws_count(svc.registry), 1);
  T_EQ_INT(metrics.ws_dead_peers, 1);
  client_close(b);
  chat_registry_close(svc.registry, NULL, NULL);
  free(a);
  free(b);
  teardown();
}

/* The stop's drain: a client that reads its 1001 but never closes is cut
 * off when the drain time is over, long before the 2 s linger. */
static void test_drain(void) {
  setup();
  chat_registry_start(svc.registry, 0);
  client_t *a = calloc(1, sizeof(*a));
  T_EQ_INT(handshake(a, ALICE_SID), 101);
  uint64_t t0 = uv_hrtime();
  chat_registry_shutdown(svc.registry, 1001, 200);
  T_EQ_STR(next_frame(a) + 2, "server shutting down");
  T_EQ_INT(frame_op, 8);
  T_EQ_INT(close_code(), 1001);
  pump_until(no_conns, 1500);
  uint64_t waited_ms = (uv_hrtime() - t0) / 1000000;
  T_CHECK(no_conns());
  T_CHECK(waited_ms >= 150 && waited_ms < 1500);
  client_close(a);
  chat_registry_close(svc.registry, NULL, NULL);
  free(a);
  teardown();
}

/* Users' names: one buffer for all of a user's sockets while the user has
 * some in the index; a rename makes the new name the shared one. */
static void test_user_name(void) {
  setup();
  chat_registry_t *reg = svc.registry;
  chat_registry_entry_t e1, e2;
  memset(&e1, 0, sizeof(e1));
  memset(&e2, 0, sizeof(e2));
  chat_rbuf_t *lone = chat_registry_user_name(reg, 1, "alice");  /* not in the index */
  T_EQ_STR((const char *)lone->data, "alice");
  chat_registry_set_user(reg, &e1, 1);
  chat_registry_set_user(reg, &e2, 1);
  chat_rbuf_t *a = chat_registry_user_name(reg, 1, "alice");
  chat_rbuf_t *b = chat_registry_user_name(reg, 1, "alice");
  T_CHECK(a == b);
  T_CHECK(a != lone);
  T_EQ_STR((const char *)a->data, "alice");
  chat_rbuf_t *r = chat_registry_user_name(reg, 1, "alicia");
  T_CHECK(r != a);
  chat_rbuf_t *r2 = chat_registry_user_name(reg, 1, "alicia");
  T_CHECK(r2 == r);
  T_EQ_STR((const char *)a->data, "alice");  /* still held by its sockets */
  chat_registry_clear_user(reg, &e1);
  chat_registry_clear_user(reg, &e2);
  T_EQ_INT(chat_registry_ws_count(reg), 0);
  chat_rbuf_t *bufs[] = {lone, a, b, r, r2};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) chat_rbuf_unref(bufs[i]);
  teardown();
}

int main(void) {
  chat_auth_init();
  T_RUN(test_user_name);
  T_RUN(test_frames);
  T_RUN(test_handshake_refused);
  T_RUN(test_flood_limit);
  T_RUN(test_output_cap);
  T_RUN(test_close_and_stop);
  T_RUN(test_keepalive);
  T_RUN(test_drain);
  return T_DONE();
}
