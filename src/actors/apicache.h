/* Answers of GET /api/rooms kept for a moment.
 *
 * The room list is read often (every page load, every reconnect) and
 * changes seldom; reading it takes a store job (the session, then each
 * room).  An answer is kept here, keyed by the SHA-256 of the session
 * cookie that asked, and given again on the loop thread, without the
 * store, for at most CHAT_APICACHE_TTL_MS.  Everything kept is forgotten
 * (chat_apicache_clear) at every request that may change something (any
 * API request but a GET, before it runs and once it is answered) and at
 * every WebSocket join, leave or recall, so an answer never lags what
 * this instance did; what other instances do (a room made elsewhere, a
 * session ended elsewhere) and online counts are at most the TTL old.
 * An answer read while a change was under way is not kept (a generation
 * count).  At most CHAT_APICACHE_MAX answers; when full, all go.  Loop
 * thread only.  Every function takes NULL (no cache: nothing kept). */
#ifndef CHAT_ACTORS_APICACHE_H
#define CHAT_ACTORS_APICACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/auth.h"

#define CHAT_APICACHE_TTL_MS 1000
#define CHAT_APICACHE_MAX 4096

typedef struct chat_apicache_s chat_apicache_t;

chat_apicache_t *chat_apicache_new(void);
void chat_apicache_free(chat_apicache_t *c);
/* Forgets every answer; what is being read now will not be kept. */
void chat_apicache_clear(chat_apicache_t *c);
/* The generation now: give it back to chat_apicache_put. */
uint64_t chat_apicache_gen(const chat_apicache_t *c);
/* The kept answer for the session token_hash, or NULL (not kept, or older
 * than the TTL at now_ns).  Valid until the next call of this module. */
const char *chat_apicache_get(chat_apicache_t *c, const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              uint64_t now_ns);
/* Keeps json (copied) for token_hash, read at generation gen, unless
 * there was a clear since. */
void chat_apicache_put(chat_apicache_t *c, const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                       uint64_t gen, const char *json, uint64_t now_ns);

#endif
