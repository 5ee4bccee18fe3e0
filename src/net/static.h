/* Static files: safe mapping of URL paths to files under a root folder,
 * content types and validators. */
#ifndef CHAT_NET_STATIC_H
#define CHAT_NET_STATIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Maps the path part of a request target (percent-encoded, no query string,
 * len bytes, not NUL-terminated) to a file name under root: "/" and any path
 * ending in "/" get "index.html" appended.  Percent-escapes are decoded
 * first, then the path is refused (CHAT_EINVAL) if it does not start with
 * '/', has a bad escape, a NUL byte (raw or %00), a backslash, a control
 * character, invalid UTF-8, or any "." or ".." segment (raw or encoded, e.g.
 * %2e%2e); empty segments ("//") are refused too.  On success writes
 * "root/decoded-path" (NUL-terminated) into out and returns 0; returns
 * CHAT_EINVAL if it does not fit in outlen bytes. */
int chat_static_resolve(const char *root, const char *path, size_t len,
                        char *out, size_t outlen);

/* The Content-Type for a file name, from its extension (text types with
 * "; charset=utf-8"); "application/octet-stream" when unknown. */
const char *chat_static_mime(const char *filename);

/* A strong ETag (with the double quotes) from a file's size and
 * modification time in nanoseconds; out must hold 64 bytes. */
void chat_static_etag(char out[64], uint64_t size, int64_t mtime_ns);

/* A file read into memory. */
typedef struct {
  uint8_t *data;      /* malloc'ed; NULL when size is 0 */
  size_t size;
  int64_t mtime_ns;
} chat_static_file_t;

/* Blocking (call it on a worker thread): opens name, refuses anything that
 * is not a regular file (CHAT_ENOTFOUND, also for missing files and
 * folders) or is over max_size bytes (CHAT_EINVAL), and reads it whole into
 * out.  Returns 0 or a negative CHAT_E* code. */
int chat_static_load(const char *name, size_t max_size,
                     chat_static_file_t *out);
/* Frees out->data. */
void chat_static_file_free(chat_static_file_t *f);

#endif
