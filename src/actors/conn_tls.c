/* The connection actor (conn.h), its TLS layer: on a TLS connection the
 * bytes read go through the session (net/tls.h) before the HTTP parser or
 * the WebSocket parser sees them, and the output queue (plaintext, often
 * frames shared with every member of a room) is encrypted for this
 * connection on its way to the socket, in one batch per loop turn: a frame
 * is still encoded once, and only encrypted per connection.
 *
 * Accounting: out_bytes counts the plaintext queued, then, once it is
 * encrypted, the ciphertext being written, so the output cap (1013) holds
 * whatever the overhead.
 *
 * Life: the session is made at accept; a handshake that does not finish in
 * HANDSHAKE_TIMEOUT_MS ends the connection; a failed handshake or a bad
 * record sends OpenSSL's alert and closes; a close that lingers (conn.c)
 * first sends close_notify; the peer's close_notify is its end of input.
 * The session is freed with the actor. */
#include <stdlib.h>

#include "../core/common.h"
#include "../core/log.h"
#include "../net/tls.h"
#include "conn_int.h"

#define HANDSHAKE_TIMEOUT_MS 10000

static void handshake_timer_cb(uv_timer_t *t) {
  chat_conn_t *c = t->data;
  if (!chat_tls_conn_established(c->tls)) {
    chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: TLS handshake timed out", c->name);
    chat_conn_hard_close(c);
  }
}

void chat_conn_tls_start(chat_conn_t *c, chat_tls_t *tls) {
  c->tls = chat_tls_conn_new(tls);
  uv_timer_start(chat_conn_timer(c), handshake_timer_cb, HANDSHAKE_TIMEOUT_MS, 0);
}

void chat_conn_tls_free(chat_conn_t *c) {
  chat_tls_conn_free(c->tls);
  c->tls = NULL;
}

/* The session failed: what is queued cannot be sent any more; the alert
 * (if any) is written and the connection closes. */
static void conn_tls_failed(chat_conn_t *c) {
  chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: TLS: %s", c->name, chat_tls_conn_error(c->tls));
  if (c->state != CONN_HTTP && c->state != CONN_WS) return;
  c->close_queued = 1;
  chat_conn_begin_closing(c);
  chat_registry_want_flush(c->svc->registry, &c->reg);
}

void chat_conn_tls_input(chat_conn_t *c, const uint8_t *data, size_t len) {
  chat_tls_conn_feed(c->tls, data, len);
  for (;;) {
    size_t cap, n;
    /* The ciphertext was copied into the session: the shared read buffer
     * is free for the plaintext. */
    char *buf = chat_registry_readbuf(c->svc->registry, &cap);
    int was_up = chat_tls_conn_established(c->tls);
    chat_tls_status_t st = chat_tls_conn_read(c->tls, buf, cap, &n);
    if (!was_up && chat_tls_conn_established(c->tls)) {
      chat_conn_log(c, CHAT_LOG_DEBUG, "conn %s: %s %s%s%s", c->name, chat_tls_conn_version(c->tls),
                     chat_tls_conn_cipher(c->tls), *chat_tls_conn_alpn(c->tls) ? " " : "",
                     chat_tls_conn_alpn(c->tls));
      chat_conn_request_timer(c);
    }
    if (st == CHAT_TLS_OK) {
      chat_conn_input(c, buf, n);
      if (c->state != CONN_HTTP && c->state != CONN_WS) return;   /* the rest is not read */
      continue;
    }
    /* Handshake flights, alerts, answers to key updates. */
    if (chat_tls_conn_pending(c->tls)) chat_registry_want_flush(c->svc->registry, &c->reg);
    if (st == CHAT_TLS_CLOSED)
      chat_conn_hard_close(c);   /* the peer's close_notify: its end of input */
    else if (st == CHAT_TLS_FAILED)
      conn_tls_failed(c);
    return;
  }
}

/* Writes what the session has produced. */
static void conn_tls_write_out(chat_conn_t *c) {
  chat_rbuf_t *b = chat_tls_conn_take(c->tls);
  if (b == NULL) return;
  c->out_bytes += b->len;
  chat_conn_write(c, &b, 1);
}

void chat_conn_tls_flush(chat_conn_t *c) {
  size_t n = c->outq_len;
  if (n > 0 && chat_tls_conn_established(c->tls)) {
    chat_tls_iov_t stackiov[64];
    chat_tls_iov_t *iov = n <= 64 ? stackiov : chat_xmalloc(n * sizeof(*iov));
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
      iov[i].base = c->outq[i]->data;
      iov[i].len = c->outq[i]->len;
      bytes += c->outq[i]->len;
    }
    chat_tls_status_t st = chat_tls_conn_write(c->tls, iov, n);
    if (iov != stackiov) free(iov);
    for (size_t i = 0; i < n; i++) chat_rbuf_unref(c->outq[i]);
    c->outq_len = 0;
    c->out_bytes -= bytes;
    if (st == CHAT_TLS_FAILED) conn_tls_failed(c);
  } else if (n > 0 && chat_tls_conn_failed(c->tls)) {
    /* Failed before or after the handshake: nothing more goes out but the
     * alert. */
    for (size_t i = 0; i < n; i++) {
      c->out_bytes -= c->outq[i]->len;
      chat_rbuf_unref(c->outq[i]);
    }
    c->outq_len = 0;
  }
  conn_tls_write_out(c);
  chat_conn_maybe_linger(c);
}

int chat_conn_tls_close_notify(chat_conn_t *c) {
  if (c->tls_bye) return 0;
  c->tls_bye = 1;
  chat_tls_conn_close_notify(c->tls);
  if (chat_tls_conn_pending(c->tls) == 0) return 0;
  conn_tls_write_out(c);
  return c->state != CONN_CLOSED;
}
