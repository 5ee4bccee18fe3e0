/* Trusted proxies (net/proxy.h): the list, and the client and scheme read
 * from X-Forwarded-For and X-Forwarded-Proto. */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "net/proxy.h"
#include "t.h"

static void test_parse(void) {
  chat_proxies_t p;
  char err[128] = "";
  T_EQ_INT(chat_proxies_parse(NULL, &p, err, sizeof(err)), 0);
  T_EQ_INT(p.n, 0);
  T_EQ_INT(chat_proxies_trusts(&p, "127.0.0.1", 9), 0);
  T_EQ_INT(chat_proxies_parse("", &p, err, sizeof(err)), 0);
  T_EQ_INT(p.n, 0);
  T_EQ_INT(chat_proxies_parse(" 10.0.0.0/8, 192.168.1.7 ,::1,fd00::/8,,::ffff:172.16.0.0/108",
                              &p, err, sizeof(err)),
           0);
  T_EQ_INT(p.n, 5);
  static const struct {
    const char *addr;
    int trusted;
  } cases[] = {
      {"10.1.2.3", 1},       {"10.255.255.255", 1}, {"11.0.0.1", 0},
      {"192.168.1.7", 1},    {"192.168.1.8", 0},    {"::1", 1},
      {"::2", 0},            {"fd12:3456::1", 1},   {"fe80::1", 0},
      {"::ffff:10.9.9.9", 1}, {"172.16.5.5", 1},     {"172.32.0.1", 0},
      {"not an address", 0}, {"", 0},               {"10.0.0.1:80", 0},
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(cases); i++) {
    int got = chat_proxies_trusts(&p, cases[i].addr, strlen(cases[i].addr));
    if (got != cases[i].trusted) fprintf(stderr, "  %s\n", cases[i].addr);
    T_EQ_INT(got, cases[i].trusted);
  }
  chat_proxies_free(&p);

  /* Host bits are dropped; /0 trusts a whole family. */
  T_EQ_INT(chat_proxies_parse("10.1.2.3/8,::/0", &p, err, sizeof(err)), 0);
  T_EQ_INT(chat_proxies_trusts(&p, "10.200.0.1", 10), 1);
  T_EQ_INT(chat_proxies_trusts(&p, "2001:db8::1", 11), 1);
  T_EQ_INT(chat_proxies_trusts(&p, "192.0.2.1", 9), 0);
  chat_proxies_free(&p);

  static const char *const bad[] = {"10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x",
                                    "localhost", "10.0.0.0/8,300.1.1.1", "::ffff:1.2.3.4/95",
                                    "10.0.0.0/-1"};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    err[0] = '\0';
    T_EQ_INT(chat_proxies_parse(bad[i], &p, err, sizeof(err)), CHAT_EINVAL);
    T_CHECK(strstr(err, "bad trusted proxy") != NULL);
    T_CHECK(p.n == 0 && p.nets == NULL);
  }
}

/* Parses a request with the given header lines. */
static void req(chat_http_req_t *r, const char *headers) {
  char buf[2048];
  snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: chat.example\r\n%s\r\n", headers);
  size_t used;
  chat_http_req_init(r);
  T_EQ_INT(chat_http_req_feed(r, buf, strlen(buf), &used), CHAT_HTTP_REQUEST);
}

static void check(const chat_proxies_t *p, const char *peer, const char *headers,
                  int used_want, const char *client_want, int https_want) {
  chat_http_req_t r;
  req(&r, headers);
  char client[64];
  int https = -1;
  int used = chat_proxies_client(p, peer, &r, client, sizeof(client), &https);
  if (used != used_want || strcmp(client, client_want) != 0 || https != https_want)
    fprintf(stderr, "  peer %s, headers %s-> %d %s %d\n", peer, headers, used, client, https);
  T_EQ_INT(used, used_want);
  T_EQ_STR(client, client_want);
  T_EQ_INT(https, https_want);
  chat_http_req_free(&r);
}

static void test_client(void) {
  chat_proxies_t p;
  char err[128];
  T_EQ_INT(chat_proxies_parse("127.0.0.1,10.0.0.0/8", &p, err, sizeof(err)), 0);

  /* An untrusted peer: headers ignored. */
  check(&p, "192.0.2.9", "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n", 0,
        "192.0.2.9", 0);
  /* A trusted peer without headers: the peer, plain. */
  check(&p, "127.0.0.1", "", 1, "127.0.0.1", 0);
  check(&p, "::ffff:127.0.0.1", "X-Forwarded-Proto: https\r\n", 1, "::ffff:127.0.0.1", 1);
  /* The rightmost untrusted address, whatever the client wrote before it. */
  check(&p, "127.0.0.1", "X-Forwarded-For: 203.0.113.5\r\n", 1, "203.0.113.5", 0);
  check(&p, "127.0.0.1", "X-Forwarded-For: 6.6.6.6, 203.0.113.5, 10.1.1.1\r\n", 1,
        "203.0.113.5", 0);
  check(&p, "127.0.0.1",
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.5,10.1.1.1\r\n", 1,
        "203.0.113.5", 0);
  check(&p, "127.0.0.1", "x-forwarded-for: 10.2.2.2, 2001:db8::7\r\n", 1, "2001:db8::7", 0);
  /* Ports and brackets. */
  check(&p, "127.0.0.1", "X-Forwarded-For: [2001:db8::7]:4711, 10.1.1.1:80\r\n", 1,
        "2001:db8::7", 0);
  check(&p, "127.0.0.1", "X-Forwarded-For: 198.51.100.1:5000\r\n", 1, "198.51.100.1", 0);
  /* All trusted: the leftmost. */
  check(&p, "127.0.0.1", "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", 1, "10.0.0.1", 0);
  /* Garbage stops the walk at the last good address. */
  check(&p, "127.0.0.1", "X-Forwarded-For: 203.0.113.5, unknown, 10.0.0.2\r\n", 1,
        "10.0.0.2", 0);
  check(&p, "127.0.0.1", "X-Forwarded-For: <script>\r\n", 1, "127.0.0.1", 0);
  check(&p, "127.0.0.1", "X-Forwarded-For: , ,\r\n", 1, "127.0.0.1", 0);
  /* The scheme: the last value, any case. */
  check(&p, "10.9.9.9", "X-Forwarded-Proto: HTTPS\r\n", 1, "10.9.9.9", 1);
  check(&p, "10.9.9.9", "X-Forwarded-Proto: http\r\n", 1, "10.9.9.9", 0);
  check(&p, "10.9.9.9", "X-Forwarded-Proto: http, https\r\n", 1, "10.9.9.9", 1);
  check(&p, "10.9.9.9", "X-Forwarded-Proto: https, http\r\n", 1, "10.9.9.9", 0);
  check(&p, "10.9.9.9", "X-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n", 1,
        "10.9.9.9", 0);
  check(&p, "10.9.9.9", "X-Forwarded-Proto: httpsx\r\n", 1, "10.9.9.9", 0);

  /* A client address longer than the buffer is cut, still terminated. */
  chat_http_req_t r;
  req(&r, "X-Forwarded-For: 2001:0db8:0000:0000:0000:0000:0000:0007\r\n");
  char small[8];
  int https;
  T_EQ_INT(chat_proxies_client(&p, "127.0.0.1", &r, small, sizeof(small), &https), 1);
  T_EQ_STR(small, "2001:0d");
  chat_http_req_free(&r);
  chat_proxies_free(&p);

  /* No list: nobody is trusted. */
  chat_proxies_t none = {0};
  check(&none, "127.0.0.1", "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n", 0,
        "127.0.0.1", 0);
}

int main(void) {
  T_RUN(test_parse);
  T_RUN(test_client);
  return T_DONE();
}
