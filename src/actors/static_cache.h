/* Static files kept in memory for a moment.
 *
 * A file of the front end is read on a worker thread (conn.c) and kept
 * here, its bytes in a reference-counted buffer that every answer writes
 * as it is (no copy per request), for CHAT_STATIC_TTL_MS after it was
 * read: requests in that time are answered on the loop thread at once;
 * the first one after it reads the file again, and the others get the
 * kept copy until that read is back (one read, not one per request; a
 * changed file is served soon after the TTL).  At most CHAT_STATIC_CACHE_FILES files of at most
 * CHAT_STATIC_CACHE_FILE_MAX bytes, CHAT_STATIC_CACHE_BYTES in all; the
 * oldest goes first.  Each kept file's bytes are also in a memfd, which
 * the answer hands to sendfile(2) (no copy into the socket; the memfd's
 * pages are memory, so it never waits for a disk).  Loop thread only;
 * put and drop take NULL (no cache). */
#ifndef CHAT_ACTORS_STATIC_CACHE_H
#define CHAT_ACTORS_STATIC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/rbuf.h"

#define CHAT_STATIC_TTL_MS 1000
#define CHAT_STATIC_CACHE_FILES 256
#define CHAT_STATIC_CACHE_FILE_MAX (1024 * 1024)
#define CHAT_STATIC_CACHE_BYTES (32 * 1024 * 1024)

typedef struct chat_static_cache_s chat_static_cache_t;

typedef struct {
  chat_rbuf_t *body;     /* a new reference for the caller */
  const char *mime;      /* a static string */
  int fd;                /* a memfd with the same bytes (for sendfile), or -1;
                            valid until the next call of this module */
  char etag[64];
} chat_static_hit_t;

chat_static_cache_t *chat_static_cache_new(void);
void chat_static_cache_free(chat_static_cache_t *c);
/* 1 and *hit when path (as resolved) was read less than the TTL before
 * now_ns (uv_hrtime), or is being read again; else 0: the caller reads it
 * and gives the outcome to chat_static_cache_put or _drop. */
int chat_static_cache_get(chat_static_cache_t *c, const char *path, uint64_t now_ns,
                          chat_static_hit_t *hit);
/* Keeps body, the bytes of the file at path just read, as of now_ns, in
 * place of an older copy (taking a new reference); too big a file is not
 * kept. */
void chat_static_cache_put(chat_static_cache_t *c, const char *path, chat_rbuf_t *body,
                           int64_t mtime_ns, uint64_t now_ns);

/* Forgets path (it could not be read). */
void chat_static_cache_drop(chat_static_cache_t *c, const char *path);

#endif
