/* Files on disk: see files_disk.h. */
#include "files_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "../core/common.h"
#include "../core/log.h"
#include "../core/pct.h"

int chat_files_dir_make(const char *dir) {
  char path[4096];
  size_t len = strlen(dir);
  if (len == 0 || len >= sizeof(path)) return -1;
  memcpy(path, dir, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char c = path[i];
    path[i] = '\0';
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
      chat_log_error("files: cannot make %s: %s", path, strerror(errno));
      return -1;
    }
    path[i] = c;
  }
  return 0;
}

/* ---- types ---------------------------------------------------------------- */

static pthread_mutex_t magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t magic;      /* opened on first use; lives as long as the process */
static int magic_failed;

void chat_files_detect(const void *data, size_t len, char *type, size_t cap) {
  const char *t = NULL;
  pthread_mutex_lock(&magic_lock);
  if (magic == NULL && !magic_failed) {
    magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
    if (magic == NULL || magic_load(magic, NULL) != 0) {
      chat_log_error("files: libmagic cannot load its database: %s",
                     magic ? magic_error(magic) : "out of memory");
      if (magic) magic_close(magic);
      magic = NULL;
      magic_failed = 1;
    }
  }
  if (magic != NULL) t = magic_buffer(magic, data, len);
  /* Only a plain token/token: the type goes into a header. */
  size_t n = 0;
  if (t != NULL) {
    for (; t[n] && n + 1 < cap; n++) {
      char c = t[n];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '/' || c == '.' || c == '+' || c == '-'))
        break;
    }
    if (t[n] != '\0' || strchr(t, '/') == NULL) n = 0;
  }
  if (n > 0)
    memcpy(type, t, n);
  else
    n = (size_t)snprintf(type, cap, "application/octet-stream");
  type[n < cap ? n : cap - 1] = '\0';
  pthread_mutex_unlock(&magic_lock);
}

int chat_files_is_image(const char *type) {
  return strcmp(type, "image/jpeg") == 0 || strcmp(type, "image/png") == 0 ||
         strcmp(type, "image/webp") == 0 || strcmp(type, "image/gif") == 0;
}

/* ---- bytes ---------------------------------------------------------------- */

static void random_name(char *rel, size_t cap, const char *prefix, const char *suffix) {
  unsigned char b[16];
  char hex[33];
  randombytes_buf(b, sizeof(b));
  chat_hex_encode(hex, b, sizeof(b));
  hex[32] = '\0';
  snprintf(rel, cap, "%s%s%s", prefix, hex, suffix);
}

/* Writes data to dir/rel through a temporary name and a rename. */
static int write_as(const char *dir, const char *rel, const void *data, size_t len) {
  char tmp[4096], path[4096];
  if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path) ||
      (size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, rel) >= sizeof(tmp))
    return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) {
    chat_log_error("files: cannot create %s: %s", tmp, strerror(errno));
    return -1;
  }
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      chat_log_error("files: cannot write %s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      return -1;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
    chat_log_error("files: cannot store %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int chat_files_write(const char *dir, const void *data, size_t len, char *rel, size_t cap) {
  random_name(rel, cap, "f-", "");
  return write_as(dir, rel, data, len);
}

int chat_files_read(const char *dir, const char *rel, char **out, size_t *len) {
  char path[4096];
  struct stat st;
  if (rel[0] == '\0' || strchr(rel, '/') != NULL ||
      (size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
    return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *buf = chat_xmalloc(n ? n : 1);
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != n) {
    free(buf);
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

void chat_files_unlink(const char *dir, const char *rel) {
  char path[4096];
  if (rel == NULL || rel[0] == '\0' || strchr(rel, '/') != NULL ||
      (size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
    return;
  if (unlink(path) != 0 && errno != ENOENT)
    chat_log_warn("files: cannot remove %s: %s", path, strerror(errno));
}

/* ---- thumbnails ----------------------------------------------------------- */

static pthread_once_t vips_once = PTHREAD_ONCE_INIT;
static int vips_ok;

static void vips_start(void) {
  if (VIPS_INIT("chatd") != 0) {
    chat_log_error("files: libvips does not start: %s", vips_error_buffer());
    return;
  }
  vips_cache_set_max(0);   /* no operation cache: every upload is new */
  vips_concurrency_set(1); /* the thread pool is the parallelism */
  vips_ok = 1;
}

int chat_files_thumb(const char *dir, const void *data, size_t len, char *rel, size_t cap) {
  pthread_once(&vips_once, vips_start);
  if (!vips_ok) return -1;
  int rc = -1;
  VipsImage *head = NULL, *thumb = NULL;
  void *out = NULL;
  size_t out_len = 0;
  /* The header only (libvips loads lazily): the size check comes before
   * any pixel is decoded. */
  head = vips_image_new_from_buffer(data, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
  if (head == NULL) goto done;
  if ((int64_t)vips_image_get_width(head) * vips_image_get_height(head) >
      CHAT_THUMB_MAX_PIXELS)
    goto done;
  if (vips_thumbnail_buffer((void *)data, len, &thumb, CHAT_THUMB_SIZE, "height",
                            CHAT_THUMB_SIZE, "size", VIPS_SIZE_DOWN, NULL) != 0)
    goto done;
  if (vips_image_write_to_buffer(thumb, ".webp", &out, &out_len, "Q", 80, "strip", TRUE,
                                 NULL) != 0)
    goto done;
  random_name(rel, cap, "t-", ".webp");
  rc = write_as(dir, rel, out, out_len);
done:
  if (rc != 0) {
    chat_log_info("files: no thumbnail: %s", vips_error_buffer());
    vips_error_clear();
  }
  if (head) g_object_unref(head);
  if (thumb) g_object_unref(thumb);
  g_free(out);
  vips_thread_shutdown();
  return rc;
}
