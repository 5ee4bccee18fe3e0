/* The TLS engine (net/tls.h) against an OpenSSL client in the same
 * process, the two talking through memory: handshakes with the bytes cut
 * at every place, records split everywhere, scatter writes of shared
 * frames, ALPN, old protocol versions and weak ciphers refused,
 * close_notify both ways, a certificate reload under a live session.
 * Certificates are made when the test runs (scripts/make-cert.sh). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "net/tls.h"
#include "t.h"

static char dir[64];
static char cert_a[128], key_a[128], cert_b[128], key_b[128], cert_cur[128], key_cur[128];
static char bundle[128];

/* ---- helpers ---------------------------------------------------------- */

typedef struct {
  uint8_t *p;
  size_t len, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    b->cap = (b->len + len) * 2 + 64;
    b->p = chat_xrealloc(b->p, b->cap);
  }
  if (len > 0) memcpy(b->p + b->len, data, len);
  b->len += len;
}

static void bytes_free(bytes_t *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static int run(const char *cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
  return rc;
}

static void copy_file(const char *from, const char *to) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && mv '%s.tmp' '%s'", from, to, to, to);
  run(cmd);
}

/* A client SSL with two memory BIOs. */
typedef struct {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out;
  bytes_t got;   /* plaintext read */
} client_t;

typedef struct {
  int min_version, max_version;   /* 0: OpenSSL's */
  const char *ciphers;            /* TLS 1.2 list, NULL: default */
  const unsigned char *alpn;      /* wire format, NULL: none */
  unsigned alpn_len;
  int seclevel0;                  /* allow what the system refuses */
} client_opts_t;

static void client_init(client_t *cl, const client_opts_t *o) {
  memset(cl, 0, sizeof(*cl));
  cl->ctx = SSL_CTX_new(TLS_client_method());
  if (o && o->seclevel0) SSL_CTX_set_security_level(cl->ctx, 0);
  if (o && o->min_version) SSL_CTX_set_min_proto_version(cl->ctx, o->min_version);
  if (o && o->max_version) SSL_CTX_set_max_proto_version(cl->ctx, o->max_version);
  if (o && o->ciphers) SSL_CTX_set_cipher_list(cl->ctx, o->ciphers);
  T_CHECK(SSL_CTX_load_verify_locations(cl->ctx, bundle, NULL) == 1);
  SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);
  cl->ssl = SSL_new(cl->ctx);
  SSL_set1_host(cl->ssl, "localhost");
  SSL_set_tlsext_host_name(cl->ssl, "localhost");
  if (o && o->alpn) SSL_set_alpn_protos(cl->ssl, o->alpn, o->alpn_len);
  cl->in = BIO_new(BIO_s_mem());
  cl->out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(cl->in, -1);
  BIO_set_mem_eof_return(cl->out, -1);
  SSL_set_bio(cl->ssl, cl->in, cl->out);
  SSL_set_connect_state(cl->ssl);
}

static void client_free(client_t *cl) {
  SSL_free(cl->ssl);
  SSL_CTX_free(cl->ctx);
  bytes_free(&cl->got);
}

/* What the client has written, taken out. */
static void client_take(client_t *cl, bytes_t *to) {
  char buf[4096];
  int n;
  while ((n = BIO_read(cl->out, buf, sizeof(buf))) > 0) bytes_add(to, buf, (size_t)n);
}

/* Feeds data to the server in pieces of `step` bytes, reading after each;
 * returns the last status and appends the plaintext to got. */
static chat_tls_status_t server_feed(chat_tls_conn_t *s, const uint8_t *data, size_t len,
                                     size_t step, bytes_t *got) {
  chat_tls_status_t st = CHAT_TLS_WANT_INPUT;
  size_t off = 0;
  do {
    size_t k = len - off < step ? len - off : step;
    chat_tls_conn_feed(s, data + off, k);
    off += k;
    char buf[1000];
    size_t n;
    while ((st = chat_tls_conn_read(s, buf, sizeof(buf), &n)) == CHAT_TLS_OK)
      bytes_add(got, buf, n);
    if (st != CHAT_TLS_WANT_INPUT) return st;
  } while (off < len);
  return st;
}

/* Moves the server's output to the client in pieces of `step` bytes. */
static void server_to_client(chat_tls_conn_t *s, client_t *cl, size_t step) {
  chat_rbuf_t *b = chat_tls_conn_take(s);
  if (b == NULL) return;
  T_EQ_INT(chat_tls_conn_pending(s), 0);
  for (size_t off = 0; off < b->len;) {
    size_t k = b->len - off < step ? b->len - off : step;
    BIO_write(cl->in, b->data + off, (int)k);
    off += k;
  }
  chat_rbuf_unref(b);
}

/* Lets the client read what reached it. */
static int client_pump_read(client_t *cl) {
  char buf[4096];
  for (;;) {
    int n = SSL_read(cl->ssl, buf, sizeof(buf));
    if (n > 0) {
      bytes_add(&cl->got, buf, (size_t)n);
      continue;
    }
    return SSL_get_error(cl->ssl, n);
  }
}

/* Runs a handshake with the bytes cut into pieces of `step` both ways.
 * 0 when both sides finished, -1 when either failed. */
static int handshake(client_t *cl, chat_tls_conn_t *s, size_t step) {
  bytes_t got = {0};
  for (int round = 0; round < 10; round++) {
    int rc = SSL_do_handshake(cl->ssl);
    int cerr = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(cl->ssl, rc);
    bytes_t wire = {0};
    client_take(cl, &wire);
    chat_tls_status_t st = CHAT_TLS_WANT_INPUT;
    if (wire.len) st = server_feed(s, wire.p, wire.len, step, &got);
    bytes_free(&wire);
    server_to_client(s, cl, step);
    if (st == CHAT_TLS_FAILED) {
      SSL_do_handshake(cl->ssl);  /* let the client see the alert */
      bytes_free(&got);
      return -1;
    }
    if (cerr != SSL_ERROR_NONE && cerr != SSL_ERROR_WANT_READ) {
      bytes_free(&got);
      return -1;
    }
    if (rc == 1 && chat_tls_conn_established(s)) {
      T_EQ_INT(got.len, 0);
      bytes_free(&got);
      return 0;
    }
  }
  bytes_free(&got);
  return -1;
}

/* Sends text from the client and checks the server reads exactly it. */
static void check_client_to_server(client_t *cl, chat_tls_conn_t *s, const char *text,
                                   size_t step) {
  bytes_t wire = {0}, got = {0};
  T_EQ_INT(SSL_write(cl->ssl, text, (int)strlen(text)), (int)strlen(text));
  client_take(cl, &wire);
  T_EQ_INT(server_feed(s, wire.p, wire.len, step, &got), CHAT_TLS_WANT_INPUT);
  T_CHECK(got.len == strlen(text) && memcmp(got.p, text, got.len) == 0);
  server_to_client(s, cl, 1 << 20);   /* e.g. a KeyUpdate answer */
  bytes_free(&wire);
  bytes_free(&got);
}

static void check_server_to_client(client_t *cl, chat_tls_conn_t *s, const char *text,
                                   size_t step) {
  chat_tls_iov_t iov = {text, strlen(text)};
  cl->got.len = 0;
  T_EQ_INT(chat_tls_conn_write(s, &iov, 1), CHAT_TLS_OK);
  server_to_client(s, cl, step);
  T_EQ_INT(client_pump_read(cl), SSL_ERROR_WANT_READ);
  T_CHECK(cl->got.len == strlen(text) && memcmp(cl->got.p, text, cl->got.len) == 0);
}

/* The common name of the certificate the client was shown. */
static void peer_cn(client_t *cl, char *cn, size_t len) {
  X509 *x = SSL_get1_peer_certificate(cl->ssl);
  cn[0] = '\0';
  if (x == NULL) return;
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)len);
  X509_free(x);
}

/* ---- tests -------------------------------------------------------------- */

static void test_load_errors(void) {
  chat_tls_t *t = NULL;
  char err[256] = "";
  T_EQ_INT(chat_tls_new("/nonexistent/cert.pem", key_a, &t, err, sizeof(err)), CHAT_EINVAL);
  T_CHECK(t == NULL && strstr(err, "/nonexistent/cert.pem") != NULL);
  err[0] = '\0';
  T_EQ_INT(chat_tls_new(cert_a, key_b, &t, err, sizeof(err)), CHAT_EINVAL);
  T_CHECK(strstr(err, key_b) != NULL && strstr(err, "mismatch") != NULL);
  T_EQ_INT(chat_tls_new(cert_a, key_a, &t, err, sizeof(err)), 0);
  T_EQ_INT(chat_tls_generation(t), 1);
  chat_tls_free(t);
  chat_tls_free(NULL);
}

/* Whole handshakes and application data with every piece size from one
 * byte up, both ways. */
static void test_handshake_steps(chat_tls_t *t) {
  static const size_t steps[] = {1, 2, 3, 5, 7, 13, 64, 100, 517, 4096, 1 << 20};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(steps); i++) {
    client_t cl;
    client_init(&cl, NULL);
    chat_tls_conn_t *s = chat_tls_conn_new(t);
    T_EQ_INT(chat_tls_conn_established(s), 0);
    T_EQ_INT(handshake(&cl, s, steps[i]), 0);
    T_EQ_STR(chat_tls_conn_version(s), "TLSv1.3");
    T_EQ_STR(chat_tls_conn_cipher(s), "TLS_AES_128_GCM_SHA256");
    T_EQ_STR(chat_tls_conn_alpn(s), "");
    T_EQ_STR(chat_tls_conn_error(s), "");
    T_EQ_INT(chat_tls_conn_failed(s), 0);
    check_client_to_server(&cl, s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", steps[i]);
    check_server_to_client(&cl, s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", steps[i]);
    chat_tls_conn_free(s);
    client_free(&cl);
  }
}

/* The ClientHello cut in two at every byte: the first part alone gives
 * nothing, the second completes it, and the handshake finishes. */
static void test_client_hello_every_split(chat_tls_t *t) {
  int bad = 0;
  size_t hello_len = 0;
  for (size_t k = 1;; k++) {
    client_t cl;
    client_init(&cl, NULL);
    SSL_do_handshake(cl.ssl);
    bytes_t hello = {0}, got = {0};
    client_take(&cl, &hello);
    hello_len = hello.len;
    if (k >= hello.len) {
      bytes_free(&hello);
      client_free(&cl);
      break;
    }
    chat_tls_conn_t *s = chat_tls_conn_new(t);
    if (server_feed(s, hello.p, k, k, &got) != CHAT_TLS_WANT_INPUT ||
        chat_tls_conn_pending(s) != 0)
      bad++;
    if (server_feed(s, hello.p + k, hello.len - k, hello.len, &got) != CHAT_TLS_WANT_INPUT ||
        chat_tls_conn_pending(s) == 0)
      bad++;
    server_to_client(s, &cl, 1 << 20);
    if (handshake(&cl, s, 1 << 20) != 0) bad++;
    chat_tls_conn_free(s);
    bytes_free(&hello);
    bytes_free(&got);
    client_free(&cl);
  }
  T_CHECK(hello_len > 100);
  T_EQ_INT(bad, 0);
}

/* Two application records cut at every byte, each half fed on its own. */
static void test_records_every_split(chat_tls_t *t) {
  client_t cl;
  client_init(&cl, NULL);
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  const char *a = "{\"type\":\"send\",\"room\":1,\"text\":\"\xe4\xbd\xa0\xe5\xa5\xbd\"}";
  const char *b = "{\"type\":\"typing\",\"room\":1}";
  int bad = 0;
  size_t len = 0;
  for (size_t k = 0;; k++) {
    bytes_t wire = {0}, got = {0};
    SSL_write(cl.ssl, a, (int)strlen(a));
    SSL_write(cl.ssl, b, (int)strlen(b));
    client_take(&cl, &wire);
    len = wire.len;
    if (k > wire.len) {
      /* Still fed, so the session's sequence numbers stay in step. */
      server_feed(s, wire.p, wire.len, wire.len, &got);
      bytes_free(&wire);
      bytes_free(&got);
      break;
    }
    if (server_feed(s, wire.p, k, k ? k : 1, &got) != CHAT_TLS_WANT_INPUT) bad++;
    if (k < strlen(a) + 5 + 17 && got.len != 0) bad++;   /* nothing before record one's tag */
    if (server_feed(s, wire.p + k, wire.len - k, wire.len, &got) != CHAT_TLS_WANT_INPUT) bad++;
    if (got.len != strlen(a) + strlen(b) || memcmp(got.p, a, strlen(a)) != 0 ||
        memcmp(got.p + strlen(a), b, strlen(b)) != 0)
      bad++;
    bytes_free(&wire);
    bytes_free(&got);
  }
  T_CHECK(len > strlen(a) + strlen(b) + 2 * 21);
  T_EQ_INT(bad, 0);
  chat_tls_conn_free(s);
  client_free(&cl);
}

/* One shared frame list written to two sessions: each client reads exactly
 * the frames, and small frames share records. */
static void test_scatter_shared_frames(chat_tls_t *t) {
  client_t c1, c2;
  client_init(&c1, NULL);
  client_init(&c2, NULL);
  chat_tls_conn_t *s1 = chat_tls_conn_new(t), *s2 = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&c1, s1, 1 << 20), 0);
  T_EQ_INT(handshake(&c2, s2, 1 << 20), 0);

  enum { SMALL = 120 };
  chat_rbuf_t *frames[SMALL + 2];
  chat_tls_iov_t iov[SMALL + 2];
  bytes_t want = {0};
  size_t total = 0;
  for (size_t i = 0; i < SMALL + 2; i++) {
    size_t len = i == SMALL / 2 ? 40000 : i == SMALL + 1 ? 5000 : 30 + i % 40;
    frames[i] = chat_rbuf_new(len);
    for (size_t j = 0; j < len; j++) frames[i]->data[j] = (uint8_t)('a' + (i + j) % 26);
    frames[i]->len = len;
    iov[i].base = frames[i]->data;
    iov[i].len = len;
    bytes_add(&want, frames[i]->data, len);
    total += len;
  }
  client_t *cls[2] = {&c1, &c2};
  chat_tls_conn_t *ss[2] = {s1, s2};
  for (int k = 0; k < 2; k++) {
    T_EQ_INT(chat_tls_conn_write(ss[k], iov, CHAT_ARRAY_SIZE(iov)), CHAT_TLS_OK);
    size_t wire = chat_tls_conn_pending(ss[k]);
    /* Records: 16 KiB of gathered frames at most, so a handful here, not
     * one per frame (which would cost 22 bytes each in TLS 1.3). */
    T_CHECK(wire > total && wire < total + 12 * 22);
    server_to_client(ss[k], cls[k], 1 << 20);
    T_EQ_INT(client_pump_read(cls[k]), SSL_ERROR_WANT_READ);
    T_CHECK(cls[k]->got.len == want.len && memcmp(cls[k]->got.p, want.p, want.len) == 0);
  }
  /* The same bytes, encrypted per session: different on the wire. */
  chat_tls_iov_t one = {frames[0]->data, frames[0]->len};
  chat_tls_conn_write(s1, &one, 1);
  chat_tls_conn_write(s2, &one, 1);
  chat_rbuf_t *w1 = chat_tls_conn_take(s1), *w2 = chat_tls_conn_take(s2);
  T_CHECK(w1 && w2 && w1->len == w2->len && memcmp(w1->data, w2->data, w1->len) != 0);
  chat_rbuf_unref(w1);
  chat_rbuf_unref(w2);
  T_CHECK(chat_tls_conn_take(s1) == NULL);
  T_EQ_INT(chat_tls_conn_write(s1, iov, 0), CHAT_TLS_OK);
  T_CHECK(chat_tls_conn_take(s1) == NULL);

  for (size_t i = 0; i < CHAT_ARRAY_SIZE(frames); i++) chat_rbuf_unref(frames[i]);
  bytes_free(&want);
  chat_tls_conn_free(s1);
  chat_tls_conn_free(s2);
  client_free(&c1);
  client_free(&c2);
}

static void test_write_before_handshake(chat_tls_t *t) {
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  chat_tls_iov_t iov = {"x", 1};
  T_EQ_INT(chat_tls_conn_write(s, &iov, 1), CHAT_TLS_WANT_INPUT);
  T_EQ_INT(chat_tls_conn_pending(s), 0);
  chat_tls_conn_close_notify(s);   /* nothing to close yet */
  T_EQ_INT(chat_tls_conn_pending(s), 0);
  size_t n;
  char buf[16];
  T_EQ_INT(chat_tls_conn_read(s, buf, sizeof(buf), &n), CHAT_TLS_WANT_INPUT);
  chat_tls_conn_free(s);
}

static void test_alpn(chat_tls_t *t) {
  static const unsigned char h2_http11[] = "\x02h2\x08http/1.1";
  static const unsigned char h2[] = "\x02h2";
  client_opts_t o = {0};
  o.alpn = h2_http11;
  o.alpn_len = sizeof(h2_http11) - 1;
  client_t cl;
  client_init(&cl, &o);
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  T_EQ_STR(chat_tls_conn_alpn(s), "http/1.1");
  const unsigned char *p;
  unsigned len;
  SSL_get0_alpn_selected(cl.ssl, &p, &len);
  T_CHECK(len == 8 && memcmp(p, "http/1.1", 8) == 0);
  chat_tls_conn_free(s);
  client_free(&cl);

  o.alpn = h2;
  o.alpn_len = sizeof(h2) - 1;
  client_init(&cl, &o);
  s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), -1);
  T_EQ_INT(chat_tls_conn_established(s), 0);
  T_CHECK(strstr(chat_tls_conn_error(s), "application protocol") != NULL);
  chat_tls_conn_free(s);
  client_free(&cl);
}

/* A client that allows at most `max` (and anything older) is refused by the
 * server after it sent its hello, with an alert. */
static void check_refused(chat_tls_t *t, int max, const char *ciphers) {
  client_opts_t o = {0};
  o.seclevel0 = 1;
  o.min_version = TLS1_VERSION;
  o.max_version = max;
  o.ciphers = ciphers;
  client_t cl;
  client_init(&cl, &o);
  SSL_do_handshake(cl.ssl);
  bytes_t hello = {0}, got = {0};
  client_take(&cl, &hello);
  T_CHECK(hello.len > 0);   /* the client did ask; the server says no */
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  T_EQ_INT(server_feed(s, hello.p, hello.len, hello.len, &got), CHAT_TLS_FAILED);
  T_CHECK(chat_tls_conn_pending(s) > 0);   /* the alert */
  T_CHECK(strlen(chat_tls_conn_error(s)) > 0);
  T_EQ_INT(chat_tls_conn_failed(s), 1);
  server_to_client(s, &cl, 1 << 20);
  ERR_clear_error();
  T_CHECK(SSL_do_handshake(cl.ssl) <= 0);
  T_EQ_INT(SSL_get_error(cl.ssl, -1), SSL_ERROR_SSL);
  char buf[8];
  size_t n;
  T_EQ_INT(chat_tls_conn_read(s, buf, sizeof(buf), &n), CHAT_TLS_FAILED);
  chat_tls_iov_t iov = {"x", 1};
  T_EQ_INT(chat_tls_conn_write(s, &iov, 1), CHAT_TLS_FAILED);
  chat_tls_conn_free(s);
  bytes_free(&hello);
  bytes_free(&got);
  client_free(&cl);
  ERR_clear_error();
}

static void test_versions_and_ciphers(chat_tls_t *t) {
  check_refused(t, TLS1_VERSION, "DEFAULT@SECLEVEL=0");
  check_refused(t, TLS1_1_VERSION, "DEFAULT@SECLEVEL=0");
  /* TLS 1.2 with only CBC or non-forward-secret suites. */
  check_refused(t, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384");
  check_refused(t, TLS1_2_VERSION, "AES128-GCM-SHA256:AES256-SHA");

  /* TLS 1.2 with modern suites: the server's first choice, whatever the
   * client prefers. */
  client_opts_t o = {0};
  o.max_version = TLS1_2_VERSION;
  o.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256";
  client_t cl;
  client_init(&cl, &o);
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  T_EQ_STR(chat_tls_conn_version(s), "TLSv1.2");
  T_EQ_STR(chat_tls_conn_cipher(s), "ECDHE-ECDSA-AES128-GCM-SHA256");
  check_client_to_server(&cl, s, "over TLS 1.2", 7);
  check_server_to_client(&cl, s, "and back", 3);
  chat_tls_conn_free(s);
  client_free(&cl);
}

static void test_close_notify(chat_tls_t *t) {
  /* The server closes. */
  client_t cl;
  client_init(&cl, NULL);
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  check_server_to_client(&cl, s, "bye", 1 << 20);
  chat_tls_conn_close_notify(s);
  size_t alert = chat_tls_conn_pending(s);
  T_CHECK(alert > 0);
  chat_tls_conn_close_notify(s);   /* once */
  T_EQ_INT(chat_tls_conn_pending(s), alert);
  chat_tls_iov_t iov = {"late", 4};
  T_EQ_INT(chat_tls_conn_write(s, &iov, 1), CHAT_TLS_FAILED);
  server_to_client(s, &cl, 1 << 20);
  T_EQ_INT(client_pump_read(&cl), SSL_ERROR_ZERO_RETURN);
  chat_tls_conn_free(s);
  client_free(&cl);

  /* The client closes. */
  client_init(&cl, NULL);
  s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  T_EQ_INT(SSL_shutdown(cl.ssl), 0);
  bytes_t wire = {0}, got = {0};
  client_take(&cl, &wire);
  T_EQ_INT(server_feed(s, wire.p, wire.len, 1, &got), CHAT_TLS_CLOSED);
  char buf[8];
  size_t n;
  T_EQ_INT(chat_tls_conn_read(s, buf, sizeof(buf), &n), CHAT_TLS_CLOSED);
  chat_tls_conn_close_notify(s);   /* the answer */
  T_CHECK(chat_tls_conn_pending(s) > 0);
  server_to_client(s, &cl, 1 << 20);
  T_EQ_INT(SSL_shutdown(cl.ssl), 1);
  bytes_free(&wire);
  bytes_free(&got);
  chat_tls_conn_free(s);
  client_free(&cl);
}

static void test_garbage(chat_tls_t *t) {
  chat_tls_conn_t *s = chat_tls_conn_new(t);
  const char *http = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  bytes_t got = {0};
  T_EQ_INT(server_feed(s, (const uint8_t *)http, strlen(http), 1, &got), CHAT_TLS_FAILED);
  T_EQ_INT(got.len, 0);
  T_CHECK(strlen(chat_tls_conn_error(s)) > 0);
  chat_tls_conn_free(s);
  bytes_free(&got);

  /* A flipped bit in a record after the handshake. */
  client_t cl;
  client_init(&cl, NULL);
  s = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&cl, s, 1 << 20), 0);
  bytes_t wire = {0};
  SSL_write(cl.ssl, "hello", 5);
  client_take(&cl, &wire);
  wire.p[wire.len - 3] ^= 1;
  T_EQ_INT(server_feed(s, wire.p, wire.len, wire.len, &got), CHAT_TLS_FAILED);
  T_EQ_INT(got.len, 0);
  T_CHECK(strstr(chat_tls_conn_error(s), "decrypt") != NULL ||
          strstr(chat_tls_conn_error(s), "mac") != NULL);
  bytes_free(&wire);
  bytes_free(&got);
  chat_tls_conn_free(s);
  client_free(&cl);
}

/* A reload: sessions made before keep working with the old certificate,
 * new ones get the new one; a reload that fails changes nothing; the
 * settings can go while a session lives on. */
static void test_reload(void) {
  copy_file(cert_a, cert_cur);
  copy_file(key_a, key_cur);
  chat_tls_t *t;
  char err[256];
  T_EQ_INT(chat_tls_new(cert_cur, key_cur, &t, err, sizeof(err)), 0);
  client_t old;
  client_init(&old, NULL);
  chat_tls_conn_t *s_old = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&old, s_old, 1 << 20), 0);
  char cn[64];
  peer_cn(&old, cn, sizeof(cn));
  T_EQ_STR(cn, "cert A");

  copy_file(cert_b, cert_cur);
  copy_file(key_b, key_cur);
  T_EQ_INT(chat_tls_reload(t, err, sizeof(err)), 0);
  T_EQ_INT(chat_tls_generation(t), 2);
  client_t young;
  client_init(&young, NULL);
  chat_tls_conn_t *s_young = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&young, s_young, 1 << 20), 0);
  peer_cn(&young, cn, sizeof(cn));
  T_EQ_STR(cn, "cert B");
  check_client_to_server(&old, s_old, "still here", 3);
  check_server_to_client(&old, s_old, "so am I", 3);

  /* A half-written key: refused, B stays. */
  FILE *f = fopen(key_cur, "w");
  fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n", f);
  fclose(f);
  T_EQ_INT(chat_tls_reload(t, err, sizeof(err)), CHAT_EINVAL);
  T_CHECK(strstr(err, key_cur) != NULL);
  T_EQ_INT(chat_tls_generation(t), 2);
  client_t third;
  client_init(&third, NULL);
  chat_tls_conn_t *s_third = chat_tls_conn_new(t);
  T_EQ_INT(handshake(&third, s_third, 1 << 20), 0);
  peer_cn(&third, cn, sizeof(cn));
  T_EQ_STR(cn, "cert B");

  chat_tls_free(t);
  check_client_to_server(&old, s_old, "after free", 1 << 20);
  check_server_to_client(&young, s_young, "also", 1 << 20);
  chat_tls_conn_free(s_old);
  chat_tls_conn_free(s_young);
  chat_tls_conn_free(s_third);
  client_free(&old);
  client_free(&young);
  client_free(&third);
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/chat-tls-XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "'%s/scripts/make-cert.sh' '%s/a' 'cert A' && '%s/scripts/make-cert.sh' '%s/b' "
           "'cert B' && mkdir '%s/cur' && cat '%s/a/cert.pem' '%s/b/cert.pem' > '%s/ca.pem'",
           CHAT_SOURCE_DIR, dir, CHAT_SOURCE_DIR, dir, dir, dir, dir, dir);
  if (run(cmd) != 0) return 1;
  snprintf(cert_a, sizeof(cert_a), "%s/a/cert.pem", dir);
  snprintf(key_a, sizeof(key_a), "%s/a/key.pem", dir);
  snprintf(cert_b, sizeof(cert_b), "%s/b/cert.pem", dir);
  snprintf(key_b, sizeof(key_b), "%s/b/key.pem", dir);
  snprintf(cert_cur, sizeof(cert_cur), "%s/cur/cert.pem", dir);
  snprintf(key_cur, sizeof(key_cur), "%s/cur/key.pem", dir);
  snprintf(bundle, sizeof(bundle), "%s/ca.pem", dir);

  chat_tls_t *t;
  char err[256];
  if (chat_tls_new(cert_a, key_a, &t, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  T_RUN(test_load_errors);
#define T_RUN_T(fn) T_RUN_WITH(fn, t)
#define T_RUN_WITH(fn, arg)                                               \
  do {                                                                    \
    int t_before_ = t_failures;                                           \
    fn(arg);                                                              \
    fprintf(stderr, "%s %s\n", t_failures == t_before_ ? "ok  " : "FAIL", #fn); \
  } while (0)
  T_RUN_T(test_handshake_steps);
  T_RUN_T(test_client_hello_every_split);
  T_RUN_T(test_records_every_split);
  T_RUN_T(test_scatter_shared_frames);
  T_RUN_T(test_write_before_handshake);
  T_RUN_T(test_alpn);
  T_RUN_T(test_versions_and_ciphers);
  T_RUN_T(test_close_notify);
  T_RUN_T(test_garbage);
  T_RUN(test_reload);
  chat_tls_free(t);

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  run(cmd);
  return T_DONE();
}
