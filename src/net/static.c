#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "core/pct.h"
#include "core/utf8.h"

static const char index_name[] = "index.html";

/* Checks a decoded path: leading '/', no forbidden bytes, valid UTF-8, and
 * every segment non-empty and neither "." nor "..", except that the last
 * segment may be empty (a trailing '/'). */
static int path_ok(const unsigned char *p, size_t n) {
  if (n == 0 || p[0] != '/') return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c < 0x20 || c == 0x7f || c == '\\') return 0;
  }
  if (!chat_utf8_valid(p, n)) return 0;
  size_t start = 1; /* first byte of the current segment */
  for (size_t i = 1; i <= n; i++) {
    if (i < n && p[i] != '/') continue;
    size_t seg = i - start;
    if (seg == 0 && i < n) return 0; /* "//" */
    if (seg == 1 && p[start] == '.') return 0;
    if (seg == 2 && p[start] == '.' && p[start + 1] == '.') return 0;
    start = i + 1;
  }
  return 1;
}

int chat_static_resolve(const char *root, const char *path, size_t len,
                        char *out, size_t outlen) {
  if (out != NULL && outlen > 0) out[0] = '\0';
  if (root == NULL || path == NULL || out == NULL || outlen == 0)
    return CHAT_EINVAL;
  /* The raw target must already start with '/': "%2f..." is not an
   * origin-form path even though it decodes to one. */
  if (len == 0 || path[0] != '/') return CHAT_EINVAL;

  /* "public/" and "public" name the same folder; dropping the trailing
   * slashes keeps the output free of "//".  A root of "/" becomes "". */
  size_t rootlen = strlen(root);
  if (rootlen == 0) return CHAT_EINVAL;
  while (rootlen > 0 && root[rootlen - 1] == '/') rootlen--;
  if (rootlen >= outlen) return CHAT_EINVAL;

  /* Decode straight into out after the root: decoding never lengthens the
   * path, and every write is bounds-checked. */
  unsigned char *dec = (unsigned char *)out + rootlen;
  size_t room = outlen - rootlen - 1; /* keep one byte for the NUL */
  ssize_t dn = chat_pct_decode(path, len, (char *)dec, room + 1, 0);
  if (dn < 0) return CHAT_EINVAL;
  size_t n = (size_t)dn;
  if (!path_ok(dec, n)) return CHAT_EINVAL;

  if (dec[n - 1] == '/') {
    if (room - n < sizeof(index_name) - 1) return CHAT_EINVAL;
    memcpy(dec + n, index_name, sizeof(index_name) - 1);
    n += sizeof(index_name) - 1;
  }
  dec[n] = '\0';
  memcpy(out, root, rootlen);
  return 0;
}

const char *chat_static_mime(const char *filename) {
  static const struct {
    const char *ext;
    const char *type;
  } types[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json; charset=utf-8"},
      {"map", "application/json; charset=utf-8"},
      {"svg", "image/svg+xml; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"wasm", "application/wasm"},
  };
  static const char fallback[] = "application/octet-stream";
  if (filename == NULL) return fallback;
  /* Only the last path component counts: "/a.d/file" has no extension. */
  const char *base = strrchr(filename, '/');
  base = base ? base + 1 : filename;
  const char *dot = strrchr(base, '.');
  if (dot == NULL || dot[1] == '\0') return fallback;
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(types); i++)
    if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
  return fallback;
}

void chat_static_etag(char out[64], uint64_t size, int64_t mtime_ns) {
  /* At most 2 + 16 + 1 + 16 + 1 bytes: always fits. */
  snprintf(out, 64, "\"%" PRIx64 "-%" PRIx64 "\"", size, (uint64_t)mtime_ns);
}

static int errno_to_chat(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
      return CHAT_ENOTFOUND;
    default:
      return CHAT_EIO;
  }
}

int chat_static_load(const char *name, size_t max_size,
                     chat_static_file_t *out) {
  out->data = NULL;
  out->size = 0;
  out->mtime_ns = 0;
  if (name == NULL) return CHAT_EINVAL;

  /* O_NONBLOCK so a FIFO planted under the root cannot block the worker in
   * open(); it changes nothing for regular files, which are all we read.
   * No O_NOFOLLOW: symlinks inside the root may be deliberate, and the
   * fstat below judges whatever the name finally points at. */
  int fd;
  do {
    fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno_to_chat(errno);

  int rc;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = CHAT_EIO;
    goto out_close;
  }
  if (!S_ISREG(st.st_mode)) {
    rc = CHAT_ENOTFOUND;
    goto out_close;
  }
  if (st.st_size < 0 || (uintmax_t)st.st_size > max_size) {
    rc = CHAT_EINVAL;
    goto out_close;
  }

  size_t size = (size_t)st.st_size;
  uint8_t *data = NULL;
  size_t got = 0;
  if (size > 0) {
    data = chat_xmalloc(size);
    while (got < size) {
      ssize_t r = read(fd, data + got, size - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        free(data);
        rc = CHAT_EIO;
        goto out_close;
      }
      /* The file shrank after fstat: keep what is there. */
      if (r == 0) break;
      got += (size_t)r;
    }
    if (got == 0) {
      free(data);
      data = NULL;
    }
  }

  out->data = data;
  out->size = got;
  out->mtime_ns =
      (int64_t)st.st_mtim.tv_sec * 1000000000 + (int64_t)st.st_mtim.tv_nsec;
  rc = 0;

out_close:
  close(fd);
  return rc;
}

void chat_static_file_free(chat_static_file_t *f) {
  if (f == NULL) return;
  free(f->data);
  f->data = NULL;
  f->size = 0;
}
