/* Files on disk (schema 008's bytes): what a file is, from its content,
 * its bytes and its thumbnail under the files directory.
 *
 * Every function here blocks (disk, libmagic, libvips) and is called only
 * on worker threads (the API's run steps), never on the loop.  They are
 * thread-safe: libmagic's one handle is used under a mutex (magic_t is not
 * thread-safe), libvips is started once (pthread_once) with its operation
 * cache off and one thread per operation.
 *
 * Names on disk are made here from random bytes ("f-<32 hex>" for a file,
 * "t-<32 hex>.webp" for a thumbnail), never from the name a user gave, and
 * are relative to the directory passed in (several instances may share
 * one).  A file is written to a temporary name in the same directory and
 * renamed into place, so a reader never sees half of it. */
#ifndef CHAT_ACTORS_FILES_DISK_H
#define CHAT_ACTORS_FILES_DISK_H

#include <stddef.h>
#include <stdint.h>

/* The longest side of a thumbnail, in pixels. */
#define CHAT_THUMB_SIZE 320
/* Images with more pixels than this get no thumbnail (a decompression bomb
 * costs nothing: only the header is read before the check). */
#define CHAT_THUMB_MAX_PIXELS (50 * 1000 * 1000)

/* Creates dir (and its parents) if missing.  0, or -1 (logged). */
int chat_files_dir_make(const char *dir);
/* The MIME type of data[0..len), from its content (libmagic), into type
 * (cap bytes): e.g. "image/png", "text/plain", "application/pdf";
 * "application/octet-stream" when libmagic cannot tell. */
void chat_files_detect(const void *data, size_t len, char *type, size_t cap);
/* 1 if type is an image the server makes thumbnails of (JPEG, PNG, WebP,
 * GIF) and shows inline. */
int chat_files_is_image(const char *type);
/* Writes data under dir with a new random name (into rel, cap bytes).
 * 0, or -1 (logged; nothing left behind). */
int chat_files_write(const char *dir, const void *data, size_t len, char *rel, size_t cap);
/* Makes a WebP thumbnail of the image data (at most CHAT_THUMB_SIZE on its
 * longer side, never enlarged) under dir (its name into rel).  0, or -1
 * when the image cannot be read, is too large (CHAT_THUMB_MAX_PIXELS) or
 * cannot be written. */
int chat_files_thumb(const char *dir, const void *data, size_t len, char *rel, size_t cap);
/* Reads dir/rel whole into *out (malloc'ed, the caller frees) and *len.
 * 0, or -1 if it cannot be read. */
int chat_files_read(const char *dir, const char *rel, char **out, size_t *len);
/* Removes dir/rel; a missing file is not an error.  rel "" is a no-op. */
void chat_files_unlink(const char *dir, const char *rel);

#endif
