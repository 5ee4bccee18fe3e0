/* A keyed table with expiry: string keys mapped to a small fixed-size value
 * (a token bucket, a failure count, a connection count), each forgotten
 * ttl_ms after it was last written, and at most max_entries of them.
 *
 * The abuse limits (registrations per address, failed logins per account
 * and per address, flood buckets per user, connections per address) are
 * each one such table.  Entries sit in a hash map and in a list in the
 * order they were last written, so the expired ones are dropped from the
 * list's front as time goes on and, when the table is full, the least
 * recently written one makes room: every call is O(1) on average however
 * many keys a peer invents, and the memory is bounded.
 *
 * Time is whatever monotonic milliseconds the caller passes as now (the
 * loop's uv_now, or a test's own clock); it must not go backwards.
 *
 * Ownership: keys are copied; values live in the table, zeroed when made,
 * and a pointer to one is valid until the next call that may add, drop or
 * expire entries (put, del, expire, free).  Not thread-safe: one thread
 * (the loop) uses a table. */
#ifndef CHAT_CORE_KEYTAB_H
#define CHAT_CORE_KEYTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct chat_keytab_s chat_keytab_t;

/* A table of values of val_size bytes (at most 256).  ttl_ms 0: entries
 * never expire (the owner deletes them); max_entries 0: no bound. */
chat_keytab_t *chat_keytab_new(size_t val_size, size_t max_entries, int64_t ttl_ms);
void chat_keytab_free(chat_keytab_t *t);

/* The live value of key, or NULL.  Reading does not count as writing: the
 * entry's expiry does not move. */
void *chat_keytab_get(chat_keytab_t *t, const char *key, int64_t now);
/* The value of key for writing: made (zeroed, *created = 1) if it is
 * absent or expired, else the live one (*created = 0; created may be
 * NULL).  Its expiry moves to now + ttl_ms.  Never NULL. */
void *chat_keytab_put(chat_keytab_t *t, const char *key, int64_t now, int *created);
/* Forgets key (nothing if absent). */
void chat_keytab_del(chat_keytab_t *t, const char *key);
/* Drops the entries that expired by now (the other calls do it too). */
void chat_keytab_expire(chat_keytab_t *t, int64_t now);

/* Entries held now (expired ones may linger until the next call). */
size_t chat_keytab_size(const chat_keytab_t *t);

#endif
