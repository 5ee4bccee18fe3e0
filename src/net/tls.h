/* TLS for the server's connections: OpenSSL driven through memory, with no
 * socket and no event loop of its own, so the connection actor decides when
 * bytes move and the engine can be tested by talking to a client in memory.
 *
 * Two objects:
 *
 * - chat_tls_t, the server's settings: the certificate chain and key files
 *   and the OpenSSL context made from them (TLS 1.2 at least; for TLS 1.2
 *   only ECDHE with AES-GCM or ChaCha20-Poly1305, in the server's order;
 *   TLS 1.3's suites, all AEAD; no renegotiation, no compression; session
 *   tickets; ALPN: http/1.1, and a client that offers ALPN without it is
 *   refused).  chat_tls_reload reads the files again and swaps the context
 *   for sessions made afterwards.  Sessions made before keep the context
 *   they were made with (OpenSSL counts the references: each session holds
 *   one), so a reload drops no connection and a failed reload changes
 *   nothing.
 *
 * - chat_tls_conn_t, one server-side session per connection.  Ciphertext
 *   from the peer goes in with chat_tls_conn_feed; chat_tls_conn_read then
 *   drives the handshake and yields plaintext.  Plaintext to send goes in
 *   with chat_tls_conn_write, a list of pieces (the same shared frame can
 *   go to many sessions: it is encoded once and encrypted per session); the
 *   ciphertext the session produced (handshake flights, records, alerts,
 *   close_notify, session tickets) waits in the session until the caller
 *   takes it with chat_tls_conn_take, as one reference-counted buffer to
 *   write to the socket.  After a call that can produce output (feed+read,
 *   write, close_notify), the caller takes it.
 *
 * Ownership: chat_tls_new's result is the caller's (chat_tls_free); it may
 * be freed while sessions made from it live on.  A session is its
 * creator's (chat_tls_conn_free).  Buffers passed in are only read during
 * the call.
 *
 * Threads: an object is used by one thread at a time (a server's loop
 * thread); different servers may use different threads.  Out of memory
 * aborts (core/common.h). */
#ifndef CHAT_NET_TLS_H
#define CHAT_NET_TLS_H

#include <stddef.h>

#include "../core/rbuf.h"

typedef struct chat_tls_s chat_tls_t;
typedef struct chat_tls_conn_s chat_tls_conn_t;

/* ---- the server's settings ------------------------------------------- */

/* Loads the certificate chain (PEM, the leaf first) and the private key
 * (PEM) into a new context.  Returns 0 with *out set, or CHAT_EINVAL with
 * a message in err (a file missing or unreadable, a key that does not
 * match the certificate). */
int chat_tls_new(const char *cert_file, const char *key_file, chat_tls_t **out, char *err,
                 size_t errlen);
/* Reads the same two files again into a new context used by the sessions
 * made from now on.  On failure (CHAT_EINVAL, err set) the old context
 * stays. */
int chat_tls_reload(chat_tls_t *t, char *err, size_t errlen);
/* chat_tls_reload in two halves, for a caller that reads the files on
 * another thread: chat_tls_load reads them into a new context (any thread:
 * it only reads t's file names, which never change), NULL with err set on
 * failure; chat_tls_install makes it t's context (the thread that uses t). */
void *chat_tls_load(const chat_tls_t *t, char *err, size_t errlen);
void chat_tls_install(chat_tls_t *t, void *ctx);
/* How many contexts were loaded (1 after chat_tls_new, +1 per reload that
 * worked). */
unsigned chat_tls_generation(const chat_tls_t *t);
/* Frees the settings; live sessions keep their own context.  NULL: no-op. */
void chat_tls_free(chat_tls_t *t);

/* ---- a session --------------------------------------------------------- */

typedef enum {
  CHAT_TLS_OK = 0,        /* done (read: *n bytes of plaintext, at least 1) */
  CHAT_TLS_WANT_INPUT,    /* needs more ciphertext from the peer; for write:
                             the handshake has not finished, nothing taken */
  CHAT_TLS_CLOSED,        /* the peer sent close_notify: no more input */
  CHAT_TLS_FAILED,        /* fatal (a bad record, a refused handshake); an
                             alert may wait in the output: take it, send it,
                             then close */
} chat_tls_status_t;

/* A piece of plaintext for chat_tls_conn_write. */
typedef struct {
  const void *base;
  size_t len;
} chat_tls_iov_t;

/* A server-side session with t's current context. */
chat_tls_conn_t *chat_tls_conn_new(chat_tls_t *t);
void chat_tls_conn_free(chat_tls_conn_t *s);

/* Hands ciphertext from the peer to the session (copied; it is decrypted by
 * the next chat_tls_conn_read). */
void chat_tls_conn_feed(chat_tls_conn_t *s, const void *data, size_t len);
/* Advances the handshake with what was fed and decrypts up to cap bytes of
 * plaintext into buf.  Call it until it returns something other than
 * CHAT_TLS_OK: only then is everything fed used up. */
chat_tls_status_t chat_tls_conn_read(chat_tls_conn_t *s, void *buf, size_t cap, size_t *n);

/* Encrypts the n pieces in order.  Small pieces are gathered into records
 * of up to 16 KiB, so many small frames cost few records.  CHAT_TLS_OK,
 * CHAT_TLS_WANT_INPUT before the handshake has finished (nothing is taken),
 * or CHAT_TLS_FAILED (the session is unusable, or closed). */
chat_tls_status_t chat_tls_conn_write(chat_tls_conn_t *s, const chat_tls_iov_t *iov, size_t n);
/* Queues a close_notify alert (once; later writes fail).  No-op before
 * the handshake finished or after a failure. */
void chat_tls_conn_close_notify(chat_tls_conn_t *s);

/* Bytes of ciphertext waiting to be taken. */
size_t chat_tls_conn_pending(const chat_tls_conn_t *s);
/* All the ciphertext waiting, as a new buffer (one reference, the
 * caller's), or NULL if there is none. */
chat_rbuf_t *chat_tls_conn_take(chat_tls_conn_t *s);

/* 1 once the handshake has finished. */
int chat_tls_conn_established(const chat_tls_conn_t *s);
/* 1 after CHAT_TLS_FAILED: the session is of no more use (but for taking
 * the alert it left). */
int chat_tls_conn_failed(const chat_tls_conn_t *s);
/* What was agreed, for logs and tests: "TLSv1.3", "TLS_AES_128_GCM_SHA256",
 * "http/1.1" (ALPN; "" when the client offered none). */
const char *chat_tls_conn_version(const chat_tls_conn_t *s);
const char *chat_tls_conn_cipher(const chat_tls_conn_t *s);
const char *chat_tls_conn_alpn(const chat_tls_conn_t *s);
/* Why the session failed (OpenSSL's reason), or "" if it did not. */
const char *chat_tls_conn_error(const chat_tls_conn_t *s);

#endif
