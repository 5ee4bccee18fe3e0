/* TLS over memory (tls.h).
 *
 * Each session's SSL reads from a memory BIO the caller fills
 * (chat_tls_conn_feed) and writes into a BIO of our own that appends every
 * record to the session's output buffer, a chat_rbuf_t handed whole to the
 * caller by chat_tls_conn_take: ciphertext is produced straight into the
 * buffer that goes to the socket, with no copy in between.
 *
 * The rules of OpenSSL this relies on:
 * - a memory BIO with eof_return -1 makes an empty input a "retry"
 *   (SSL_ERROR_WANT_READ), not an end of stream;
 * - a write BIO that always takes everything means SSL_write never asks to
 *   be retried (no SSL_ERROR_WANT_WRITE), and without
 *   SSL_MODE_ENABLE_PARTIAL_WRITE it writes everything it is given;
 * - SSL_new takes a reference on its SSL_CTX, which is what lets a reload
 *   drop ours while older sessions go on with theirs;
 * - after SSL_ERROR_SSL or SSL_ERROR_SYSCALL no more I/O is done on the SSL;
 * - OpenSSL's error queue is per thread and shared with whatever else uses
 *   OpenSSL on it (libcurl, libcrypto elsewhere), so it is cleared before
 *   every call whose errors we read. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"

/* TLS 1.2: forward secrecy and AEAD only, AES-128-GCM first (fast with
 * AES-NI), ChaCha20 for machines without it.  TLS 1.3: its three AEAD
 * suites in the same spirit. */
#define TLS12_CIPHERS                                                   \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"          \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"          \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

#define RECORD_MAX 16384      /* plaintext in one TLS record */
#define DIRECT_MIN 4096       /* pieces at least this long are not gathered */
#define RECORD_OVERHEAD 64    /* header, tag and content type, rounded up */

struct chat_tls_s {
  char *cert_file, *key_file;
  SSL_CTX *ctx;               /* for new sessions; ours is one reference */
  unsigned generation;
};

struct chat_tls_conn_s {
  SSL *ssl;
  BIO *in;                    /* memory BIO: ciphertext fed, not yet read */
  chat_rbuf_t *out;           /* ciphertext to take (NULL: none yet) */
  int established;
  int failed;
  int peer_closed;            /* close_notify received */
  int close_sent;             /* close_notify queued */
  const char *error;          /* a static string from OpenSSL, or "" */
  char alpn[32];
};

/* ---- the output BIO ------------------------------------------------------ */

static BIO_METHOD *out_method;
static pthread_once_t out_once = PTHREAD_ONCE_INIT;

/* Room for len more bytes in s->out. */
static void out_reserve(chat_tls_conn_t *s, size_t len) {
  size_t used = s->out ? s->out->len : 0;
  size_t cap = s->out ? s->out->cap : 0;
  if (used + len <= cap) return;
  size_t want = cap ? cap * 2 : 1024;
  while (want < used + len) want *= 2;
  chat_rbuf_t *b = chat_xrealloc(s->out, sizeof(*b) + want);
  if (s->out == NULL) {
    b->refs = 1;
    b->len = 0;
  }
  b->cap = want;
  s->out = b;
}

static int out_write(BIO *b, const char *data, int len) {
  chat_tls_conn_t *s = BIO_get_data(b);
  if (len <= 0) return 0;
  out_reserve(s, (size_t)len);
  memcpy(s->out->data + s->out->len, data, (size_t)len);
  s->out->len += (size_t)len;
  return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
  /* libssl flushes after every handshake flight; nothing else is needed
   * (no kTLS, no datagrams). */
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int out_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void out_method_init(void) {
  out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "chat_tls_out");
  if (out_method == NULL) {
    fprintf(stderr, "out of memory (OpenSSL BIO method)\n");
    abort();
  }
  BIO_meth_set_write(out_method, out_write);
  BIO_meth_set_ctrl(out_method, out_ctrl);
  BIO_meth_set_create(out_method, out_create);
}

/* ---- the context ---------------------------------------------------------- */

static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg) {
  static const unsigned char http11[] = "http/1.1";
  for (unsigned i = 0; i < inlen;) {
    unsigned n = in[i++];
    if (n > inlen - i) break;
    if (n == sizeof(http11) - 1 && memcmp(in + i, http11, n) == 0) {
      *out = http11;
      *outlen = (unsigned char)n;
      return SSL_TLSEXT_ERR_OK;
    }
    i += n;
  }
  /* RFC 7301: no protocol in common is a no_application_protocol alert. */
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* An encrypted key would make OpenSSL ask on the terminal: refuse instead. */
static int no_password_cb(char *buf, int size, int rwflag, void *ud) { return 0; }

static void ssl_err(char *err, size_t errlen, const char *what, const char *file) {
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  snprintf(err, errlen, "%s %s: %s", what, file, why ? why : "unknown error");
  ERR_clear_error();
}

static SSL_CTX *ctx_load(const char *cert_file, const char *key_file, char *err,
                         size_t errlen) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    ssl_err(err, errlen, "cannot make a TLS context for", cert_file);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
  /* Idle sessions give their 16 KiB read and write buffers back: a chat
   * server has many connections that are mostly quiet. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
      SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
    ssl_err(err, errlen, "cannot set the TLS ciphers for", cert_file);
    goto fail;
  }
  static const unsigned char sid_ctx[] = "chatd";
  SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
  SSL_CTX_set_default_passwd_cb(ctx, no_password_cb);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    ssl_err(err, errlen, "cannot load the certificate", cert_file);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    ssl_err(err, errlen, "cannot load the private key", key_file);
    goto fail;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ssl_err(err, errlen, "the private key does not match the certificate", cert_file);
    goto fail;
  }
  return ctx;

fail:
  SSL_CTX_free(ctx);
  return NULL;
}

int chat_tls_new(const char *cert_file, const char *key_file, chat_tls_t **out, char *err,
                 size_t errlen) {
  pthread_once(&out_once, out_method_init);
  SSL_CTX *ctx = ctx_load(cert_file, key_file, err, errlen);
  if (ctx == NULL) return CHAT_EINVAL;
  chat_tls_t *t = chat_xcalloc(1, sizeof(*t));
  t->cert_file = chat_xstrdup(cert_file);
  t->key_file = chat_xstrdup(key_file);
  t->ctx = ctx;
  t->generation = 1;
  *out = t;
  return 0;
}

void *chat_tls_load(const chat_tls_t *t, char *err, size_t errlen) {
  return ctx_load(t->cert_file, t->key_file, err, errlen);
}

void chat_tls_install(chat_tls_t *t, void *ctx) {
  SSL_CTX_free(t->ctx);   /* sessions made with it hold their own reference */
  t->ctx = ctx;
  t->generation++;
}

int chat_tls_reload(chat_tls_t *t, char *err, size_t errlen) {
  void *ctx = chat_tls_load(t, err, errlen);
  if (ctx == NULL) return CHAT_EINVAL;
  chat_tls_install(t, ctx);
  return 0;
}

unsigned chat_tls_generation(const chat_tls_t *t) { return t->generation; }

void chat_tls_free(chat_tls_t *t) {
  if (t == NULL) return;
  SSL_CTX_free(t->ctx);
  free(t->cert_file);
  free(t->key_file);
  free(t);
}

/* ---- a session -------------------------------------------------------------- */

static void conn_fail(chat_tls_conn_t *s) {
  unsigned long e = ERR_peek_last_error();
  const char *why = e ? ERR_reason_error_string(e) : NULL;
  s->failed = 1;
  s->error = why ? why : "connection error";
  ERR_clear_error();
}

chat_tls_conn_t *chat_tls_conn_new(chat_tls_t *t) {
  chat_tls_conn_t *s = chat_xcalloc(1, sizeof(*s));
  s->error = "";
  s->ssl = SSL_new(t->ctx);
  s->in = BIO_new(BIO_s_mem());
  BIO *out = BIO_new(out_method);
  if (s->ssl == NULL || s->in == NULL || out == NULL) {
    fprintf(stderr, "out of memory (OpenSSL session)\n");
    abort();
  }
  BIO_set_mem_eof_return(s->in, -1);
  BIO_set_data(out, s);
  SSL_set_bio(s->ssl, s->in, out);   /* the SSL owns both BIOs now */
  SSL_set_accept_state(s->ssl);
  return s;
}

void chat_tls_conn_free(chat_tls_conn_t *s) {
  if (s == NULL) return;
  SSL_free(s->ssl);
  chat_rbuf_unref(s->out);
  free(s);
}

void chat_tls_conn_feed(chat_tls_conn_t *s, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    int n = len > (1u << 30) ? (1 << 30) : (int)len;
    if (BIO_write(s->in, p, n) != n) {
      fprintf(stderr, "out of memory (OpenSSL memory BIO)\n");
      abort();
    }
    p += n;
    len -= (size_t)n;
  }
}

static void note_established(chat_tls_conn_t *s) {
  if (s->established || !SSL_is_init_finished(s->ssl)) return;
  s->established = 1;
  const unsigned char *p;
  unsigned len;
  SSL_get0_alpn_selected(s->ssl, &p, &len);
  if (len >= sizeof(s->alpn)) len = 0;
  if (len) memcpy(s->alpn, p, len);
  s->alpn[len] = '\0';
}

chat_tls_status_t chat_tls_conn_read(chat_tls_conn_t *s, void *buf, size_t cap, size_t *n) {
  *n = 0;
  if (s->failed) return CHAT_TLS_FAILED;
  if (s->peer_closed) return CHAT_TLS_CLOSED;
  if (cap == 0) return CHAT_TLS_OK;
  ERR_clear_error();
  size_t got = 0;
  int rc = SSL_read_ex(s->ssl, buf, cap, &got);
  note_established(s);
  if (rc == 1) {
    *n = got;
    return CHAT_TLS_OK;
  }
  switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return CHAT_TLS_WANT_INPUT;
    case SSL_ERROR_ZERO_RETURN:
      s->peer_closed = 1;
      return CHAT_TLS_CLOSED;
    default:
      conn_fail(s);
      return CHAT_TLS_FAILED;
  }
}

static int write_all(chat_tls_conn_t *s, const void *p, size_t len) {
  size_t done = 0;
  ERR_clear_error();
  if (SSL_write_ex(s->ssl, p, len, &done) == 1 && done == len) return 0;
  conn_fail(s);
  return -1;
}

chat_tls_status_t chat_tls_conn_write(chat_tls_conn_t *s, const chat_tls_iov_t *iov, size_t n) {
  if (s->failed || s->close_sent) return CHAT_TLS_FAILED;
  if (!s->established) return CHAT_TLS_WANT_INPUT;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += iov[i].len;
  if (total == 0) return CHAT_TLS_OK;
  /* One allocation for the whole batch (records of up to 16 KiB, and one
   * more for each piece written on its own). */
  out_reserve(s, total + (total / RECORD_MAX + 2 + n / 4) * RECORD_OVERHEAD);
  unsigned char stage[RECORD_MAX];
  size_t staged = 0;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = iov[i].base;
    size_t len = iov[i].len;
    if (len >= DIRECT_MIN) {
      if (staged && write_all(s, stage, staged) != 0) return CHAT_TLS_FAILED;
      staged = 0;
      if (write_all(s, p, len) != 0) return CHAT_TLS_FAILED;
      continue;
    }
    while (len > 0) {
      size_t k = len < RECORD_MAX - staged ? len : RECORD_MAX - staged;
      memcpy(stage + staged, p, k);
      staged += k;
      p += k;
      len -= k;
      if (staged == RECORD_MAX) {
        if (write_all(s, stage, staged) != 0) return CHAT_TLS_FAILED;
        staged = 0;
      }
    }
  }
  if (staged && write_all(s, stage, staged) != 0) return CHAT_TLS_FAILED;
  return CHAT_TLS_OK;
}

void chat_tls_conn_close_notify(chat_tls_conn_t *s) {
  if (s->failed || s->close_sent || !s->established) return;
  s->close_sent = 1;
  ERR_clear_error();
  /* 0: ours is sent, the peer's not seen yet; 1: both.  Either is fine:
   * the connection does not wait for the peer's. */
  if (SSL_shutdown(s->ssl) < 0) conn_fail(s);
}

size_t chat_tls_conn_pending(const chat_tls_conn_t *s) { return s->out ? s->out->len : 0; }

chat_rbuf_t *chat_tls_conn_take(chat_tls_conn_t *s) {
  chat_rbuf_t *b = s->out;
  if (b == NULL || b->len == 0) return NULL;
  s->out = NULL;
  return b;
}

int chat_tls_conn_established(const chat_tls_conn_t *s) { return s->established; }

int chat_tls_conn_failed(const chat_tls_conn_t *s) { return s->failed; }

const char *chat_tls_conn_version(const chat_tls_conn_t *s) {
  return s->established ? SSL_get_version(s->ssl) : "";
}

const char *chat_tls_conn_cipher(const chat_tls_conn_t *s) {
  const SSL_CIPHER *c = s->established ? SSL_get_current_cipher(s->ssl) : NULL;
  return c ? SSL_CIPHER_get_name(c) : "";
}

const char *chat_tls_conn_alpn(const chat_tls_conn_t *s) { return s->alpn; }

const char *chat_tls_conn_error(const chat_tls_conn_t *s) { return s->error; }
