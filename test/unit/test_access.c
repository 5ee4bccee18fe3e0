/* Who may read /metrics (net/access.h), with made-up client addresses: the
 * integration tests can only connect from loopback. */
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/common.h"
#include "net/access.h"
#include "net/http.h"
#include "t.h"

#define TOKEN "s3cret-metrics-token"

/* A parsed GET /metrics with the given header lines. */
static chat_http_req_t *metrics_req(const char *headers) {
  char in[1024];
  snprintf(in, sizeof(in), "GET /metrics HTTP/1.1\r\nHost: chat.example\r\n%s\r\n", headers);
  chat_http_req_t *r = chat_xmalloc(sizeof(*r));
  chat_http_req_init(r);
  size_t consumed;
  if (chat_http_req_feed(r, in, strlen(in), &consumed) != CHAT_HTTP_REQUEST) {
    fprintf(stderr, "did not parse: %s\n", in);
    abort();
  }
  return r;
}

static void req_delete(chat_http_req_t *r) {
  chat_http_req_free(r);
  free(r);
}

static void test_loopback(void) {
  static const char *const yes[] = {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1",
                                    "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:127.1.2.3"};
  static const char *const no[] = {"", "10.0.0.1", "192.168.1.1", "128.0.0.1", "126.255.255.255",
                                   "0.0.0.0", "::", "::2", "::ffff:10.0.0.1", "fe80::1",
                                   "2001:db8::1", "localhost", "127.0.0.1 ", " 127.0.0.1",
                                   "127.0.0.1:80", "127.1", "::127.0.0.1"};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(yes); i++) {
    if (!chat_access_is_loopback(yes[i])) fprintf(stderr, "not loopback: %s\n", yes[i]);
    T_CHECK(chat_access_is_loopback(yes[i]));
  }
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(no); i++) {
    if (chat_access_is_loopback(no[i])) fprintf(stderr, "loopback: %s\n", no[i]);
    T_CHECK(!chat_access_is_loopback(no[i]));
  }
  T_CHECK(!chat_access_is_loopback(NULL));
}

static void test_bearer(void) {
  static const char *const yes[] = {
      "Authorization: Bearer " TOKEN "\r\n",
      "authorization: bearer " TOKEN "\r\n",
      "AUTHORIZATION: BEARER   " TOKEN "  \r\n",
      "X-Other: 1\r\nAuthorization: Bearer " TOKEN "\r\n",
  };
  static const char *const no[] = {
      "",
      "Authorization: Bearer\r\n",
      "Authorization: Bearer \r\n",
      "Authorization: Bearer wrong\r\n",
      "Authorization: Bearer " TOKEN "x\r\n",
      "Authorization: Bearer " TOKEN " x\r\n",
      "Authorization: Bearer s3cret-metrics-toke\r\n",
      "Authorization: Bearer S3CRET-METRICS-TOKEN\r\n",
      "Authorization: Basic " TOKEN "\r\n",
      "Authorization: " TOKEN "\r\n",
      "Authorization: Bearer" TOKEN "\r\n",
      "X-Authorization: Bearer " TOKEN "\r\n",
      "Authorization: Bearer " TOKEN "\r\nAuthorization: Bearer " TOKEN "\r\n",
      "Authorization: Bearer wrong\r\nAuthorization: Bearer " TOKEN "\r\n",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(yes); i++) {
    chat_http_req_t *r = metrics_req(yes[i]);
    T_CHECK(chat_access_bearer_ok(r, TOKEN));
    /* No token configured: nothing matches, not even an empty one. */
    T_CHECK(!chat_access_bearer_ok(r, NULL));
    T_CHECK(!chat_access_bearer_ok(r, ""));
    req_delete(r);
  }
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(no); i++) {
    chat_http_req_t *r = metrics_req(no[i]);
    if (chat_access_bearer_ok(r, TOKEN)) fprintf(stderr, "accepted: %s\n", no[i]);
    T_CHECK(!chat_access_bearer_ok(r, TOKEN));
    req_delete(r);
  }
  chat_http_req_t *r = metrics_req("Authorization: Bearer \r\n");
  T_CHECK(!chat_access_bearer_ok(r, ""));
  req_delete(r);
}

typedef struct {
  const char *peer;
  int with_token;      /* the request carries the right token */
  chat_access_mode_t mode;
  const char *token;   /* configured */
  int allowed;
} access_case_t;

static void test_policy(void) {
  static const access_case_t cases[] = {
      /* local (default): loopback, or the token from anywhere */
      {"127.0.0.1", 0, CHAT_ACCESS_LOCAL, NULL, 1},
      {"::1", 0, CHAT_ACCESS_LOCAL, NULL, 1},
      {"::ffff:127.0.0.1", 0, CHAT_ACCESS_LOCAL, TOKEN, 1},
      {"203.0.113.7", 0, CHAT_ACCESS_LOCAL, NULL, 0},
      {"203.0.113.7", 1, CHAT_ACCESS_LOCAL, NULL, 0},   /* no token set */
      {"203.0.113.7", 0, CHAT_ACCESS_LOCAL, TOKEN, 0},
      {"203.0.113.7", 1, CHAT_ACCESS_LOCAL, TOKEN, 1},
      {"2001:db8::7", 1, CHAT_ACCESS_LOCAL, TOKEN, 1},
      {"2001:db8::7", 0, CHAT_ACCESS_LOCAL, TOKEN, 0},
      {"::ffff:10.0.0.1", 0, CHAT_ACCESS_LOCAL, NULL, 0},
      {"", 0, CHAT_ACCESS_LOCAL, NULL, 0},               /* address unknown */
      {NULL, 0, CHAT_ACCESS_LOCAL, NULL, 0},
      /* token: loopback is not trusted */
      {"127.0.0.1", 0, CHAT_ACCESS_TOKEN, TOKEN, 0},
      {"127.0.0.1", 1, CHAT_ACCESS_TOKEN, TOKEN, 1},
      {"203.0.113.7", 1, CHAT_ACCESS_TOKEN, TOKEN, 1},
      {"203.0.113.7", 0, CHAT_ACCESS_TOKEN, TOKEN, 0},
      {"127.0.0.1", 1, CHAT_ACCESS_TOKEN, NULL, 0},
      /* open */
      {"203.0.113.7", 0, CHAT_ACCESS_OPEN, NULL, 1},
      {"", 0, CHAT_ACCESS_OPEN, TOKEN, 1},
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(cases); i++) {
    const access_case_t *c = &cases[i];
    chat_http_req_t *r = metrics_req(c->with_token ? "Authorization: Bearer " TOKEN "\r\n" : "");
    int got = chat_access_allowed(r, c->peer, c->mode, c->token);
    if (got != c->allowed)
      fprintf(stderr, "case %zu (%s, token %d, mode %d): %d\n", i, c->peer ? c->peer : "NULL",
              c->with_token, (int)c->mode, got);
    T_EQ_INT(got, c->allowed);
    req_delete(r);
  }
}

int main(void) {
  if (chat_auth_init() != 0) return 1;
  T_RUN(test_loopback);
  T_RUN(test_bearer);
  T_RUN(test_policy);
  return T_DONE();
}
