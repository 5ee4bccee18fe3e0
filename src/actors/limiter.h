/* The login limiter: failed logins per key (the client's address and the
 * username asked for) in a fixed window.
 *
 * A key's window opens at its first counted failure and lasts window_ms;
 * once max_fails failures are counted in it, the key is blocked until the
 * window ends.  Entries are kept in a hash map and, in the order they were
 * made, in a list, so the expired ones are dropped from its front as time
 * goes on: every call is O(1) on average, however many keys there are.
 *
 * Not an actor: a table the connection actors call while answering a login,
 * on the loop thread only.  The server owns it.  Keys are copied. */
#ifndef CHAT_ACTORS_LIMITER_H
#define CHAT_ACTORS_LIMITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct chat_limiter_s chat_limiter_t;

/* A limiter of max_fails failures per window_ms.  clock gives the time in
 * ms (NULL: chat_now_ms, the wall clock; a test passes its own). */
chat_limiter_t *chat_limiter_new(int max_fails, int64_t window_ms, int64_t (*clock)(void));
void chat_limiter_free(chat_limiter_t *l);

/* 1 if key has used up its window, with the seconds until it ends (>= 1)
 * in *retry_after; 0 otherwise. */
int chat_limiter_blocked(chat_limiter_t *l, const char *key, int *retry_after);
/* Counts a failure for key (opening a window if it has none). */
void chat_limiter_failed(chat_limiter_t *l, const char *key);
/* Takes back one counted failure (the attempt turned out not to be a
 * failed login). */
void chat_limiter_uncount(chat_limiter_t *l, const char *key);
/* A successful login: forgets key. */
void chat_limiter_ok(chat_limiter_t *l, const char *key);

/* Keys tracked now (expired ones may linger until the next call). */
size_t chat_limiter_size(const chat_limiter_t *l);

#endif
