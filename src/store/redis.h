/* An asynchronous Redis client on a libuv loop, for presence and fan-out
 * between chatd instances.
 *
 * One client holds two connections to the same server, made and lost
 * together: one for commands (pipelined, many in flight) and one for
 * subscriptions (a subscribed Redis connection cannot run other commands).
 * The client connects in the background and reconnects by itself with
 * exponential backoff (100 ms doubling to 5 s, with jitter); a connection
 * attempt, including AUTH, SELECT and re-subscribing, is abandoned after 2 s.
 * The pair is "up" when both connections have finished that handshake.
 *
 * Threads: every function here, and every callback, runs on the loop's
 * thread.  Callbacks may call any chat_redis_* function, chat_redis_close
 * included.
 *
 * Lifetime: chat_redis_new -> chat_redis_start -> ... -> chat_redis_close.
 * Every client made by chat_redis_new must be closed, started or not (it
 * owns a timer).  chat_redis_close completes what is pending, closes every
 * handle the client opened, calls closed_cb and then frees the client
 * itself: the caller never frees it, and must not use it after closed_cb.
 *
 * Host requirements: the host ignores SIGPIPE (a write to a connection that
 * the server has just closed must fail with EPIPE, not kill the process).
 *
 * Secrets: the password from the URL is sent only in AUTH, is never logged
 * or put into an error message, and is wiped when the client is freed.
 *
 * Not covered: a server that keeps the TCP connection open but stops
 * answering while the pair is up (for example a stopped process) is noticed
 * only by TCP keepalive; commands sent to it wait until then.
 */
#ifndef CHAT_STORE_REDIS_H
#define CHAT_STORE_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct chat_redis chat_redis_t;

/* The answer to one chat_redis_command.  reply is NULL when no answer came:
 * the connection was lost before it, or the client is closing.  reply (and
 * everything it points to) belongs to the client and is freed when the
 * callback returns: copy what you keep.  An error answer from Redis is a
 * reply of type REDIS_REPLY_ERROR, not NULL. */
typedef void (*chat_redis_reply_cb)(chat_redis_t *r, const redisReply *reply,
                                    void *ud);

/* Called once, when chat_redis_close has finished; the client is freed when
 * it returns. */
typedef void (*chat_redis_closed_cb)(chat_redis_t *r, void *ud);

/* Events of a client; either pointer may be NULL. */
typedef struct {
  /* up = 1 once the pair is usable (connected, authenticated, database
   * selected, every subscription confirmed), up = 0 once when it is lost.
   * Calls alternate, starting with up = 1; none after chat_redis_close. */
  void (*on_state)(chat_redis_t *r, int up, void *ud);
  /* A message published on a subscribed channel, or on a channel matching a
   * subscribed pattern (channel is then the actual channel).  channel is
   * NUL-terminated; data is len bytes (binary, also NUL-terminated for
   * convenience).  Both are freed when the callback returns. */
  void (*on_message)(chat_redis_t *r, const char *channel, const char *data,
                     size_t len, void *ud);
} chat_redis_events_t;

/* Makes a client for url, without connecting:
 *   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 * PORT defaults to 6379 and DB to 0; HOST may be a name (resolved on the
 * thread pool, preferring IPv4), an IPv4 address or [IPv6].  USER and
 * PASSWORD may be percent-encoded; with a password the client sends AUTH
 * [USER] PASSWORD first on both connections.  ev is copied (NULL: no
 * events); ud is passed to every callback.  Returns NULL for a malformed
 * URL and, if err is not NULL, writes why into err (errlen bytes); the
 * message never contains the password. */
chat_redis_t *chat_redis_new(uv_loop_t *loop, const char *url,
                             const chat_redis_events_t *ev, void *ud,
                             char *err, size_t errlen);

/* Starts connecting (in the background: the first attempt runs on the next
 * loop iteration) and keeps the pair connected until chat_redis_close.
 * Never blocks and calls no callback itself.  Returns 0. */
int chat_redis_start(chat_redis_t *r);

/* 1 if the pair is up (commands are accepted), else 0. */
int chat_redis_is_up(const chat_redis_t *r);

/* Queues a command on the command connection: argc arguments, argv[i] of
 * argvlen[i] bytes (binary-safe; argvlen NULL: NUL-terminated strings).
 * Commands are sent in order and pipelined; cb (may be NULL) is called
 * exactly once with the reply, or with NULL if the connection is lost
 * first or the client is closed first.
 *
 * Returns 0 when queued.  Returns -1, and cb is never called, when Redis is
 * not usable right now (connecting, down, closing), so the caller can fall
 * back; and for commands that would change the shared connection's state
 * or reply stream (SELECT, AUTH, HELLO, RESET, QUIT, MONITOR, CLIENT REPLY,
 * the (UN)SUBSCRIBE family: use chat_redis_subscribe) or argc < 1.
 * A blocking command (BLPOP...) delays every command queued after it. */
int chat_redis_command(chat_redis_t *r, chat_redis_reply_cb cb, void *ud,
                       int argc, const char **argv, const size_t *argvlen);

/* Subscribes to channel (a NUL-terminated name), or to every channel that
 * matches pattern (Redis glob syntax).  Remembered for the client's life:
 * sent now if the subscription connection is ready, and again after every
 * reconnect (on_state(1) comes only after they are confirmed).  Subscribing
 * twice to the same name does nothing. */
void chat_redis_subscribe(chat_redis_t *r, const char *channel);
void chat_redis_psubscribe(chat_redis_t *r, const char *pattern);

/* PUBLISH channel data, fire and forget (an error reply is logged).
 * Returns 0 when queued, -1 when Redis is not usable right now. */
int chat_redis_publish(chat_redis_t *r, const char *channel, const char *data,
                       size_t len);

/* Connection attempts started so far (monitoring and tests). */
uint64_t chat_redis_attempts(const chat_redis_t *r);

/* Stops reconnecting, completes every pending command callback with NULL,
 * disconnects both connections and closes every handle and request of the
 * client; then calls closed_cb (may be NULL) from the loop and frees the
 * client.  No on_state or on_message call is made once close has begun.
 * Call once. */
void chat_redis_close(chat_redis_t *r, chat_redis_closed_cb closed_cb);

#endif
