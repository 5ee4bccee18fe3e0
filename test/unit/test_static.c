#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/common.h"
#include "net/static.h"
#include "t.h"

/* Resolves a NUL-terminated path under "/srv/pub" into a static buffer;
 * returns NULL when refused. */
static const char *res(const char *path) {
  static char buf[512];
  int rc = chat_static_resolve("/srv/pub", path, strlen(path), buf,
                               sizeof(buf));
  if (rc != 0) {
    /* A refused path must leave no half-written name behind. */
    T_EQ_STR(buf, "");
    return NULL;
  }
  return buf;
}

static int refused(const char *path) {
  char buf[512];
  return chat_static_resolve("/srv/pub", path, strlen(path), buf,
                             sizeof(buf)) == CHAT_EINVAL;
}

static void test_resolve_good(void) {
  T_EQ_STR(res("/"), "/srv/pub/index.html");
  T_EQ_STR(res("/app.js"), "/srv/pub/app.js");
  T_EQ_STR(res("/css/x.css"), "/srv/pub/css/x.css");
  T_EQ_STR(res("/a/"), "/srv/pub/a/index.html");
  T_EQ_STR(res("/a/b/"), "/srv/pub/a/b/index.html");
  T_EQ_STR(res("/\xe4\xb8\xad\xe6\x96\x87.html"),
           "/srv/pub/\xe4\xb8\xad\xe6\x96\x87.html");
  T_EQ_STR(res("/%E4%B8%AD%E6%96%87.html"),
           "/srv/pub/\xe4\xb8\xad\xe6\x96\x87.html");
  T_EQ_STR(res("/%e4%b8%ad%e6%96%87.html"),
           "/srv/pub/\xe4\xb8\xad\xe6\x96\x87.html");
  T_EQ_STR(res("/hello%20world.txt"), "/srv/pub/hello world.txt");
  T_EQ_STR(res("/a%2fb.txt"), "/srv/pub/a/b.txt");
  /* Dots inside a name, or more than two, are ordinary names. */
  T_EQ_STR(res("/.well-known/x"), "/srv/pub/.well-known/x");
  T_EQ_STR(res("/a..b"), "/srv/pub/a..b");
  T_EQ_STR(res("/..."), "/srv/pub/...");
  T_EQ_STR(res("/a/..b/c."), "/srv/pub/a/..b/c.");
  T_EQ_STR(res("/a+b"), "/srv/pub/a+b");
  /* Only len bytes are read. */
  char buf[64];
  T_EQ_INT(chat_static_resolve("/srv/pub", "/app.js?x=1", 7, buf,
                               sizeof(buf)), 0);
  T_EQ_STR(buf, "/srv/pub/app.js");
}

static void test_resolve_root(void) {
  char buf[64];
  T_EQ_INT(chat_static_resolve("pub/", "/a", 2, buf, sizeof(buf)), 0);
  T_EQ_STR(buf, "pub/a");
  T_EQ_INT(chat_static_resolve("pub//", "/", 1, buf, sizeof(buf)), 0);
  T_EQ_STR(buf, "pub/index.html");
  T_EQ_INT(chat_static_resolve("/", "/a", 2, buf, sizeof(buf)), 0);
  T_EQ_STR(buf, "/a");
  T_EQ_INT(chat_static_resolve("", "/a", 2, buf, sizeof(buf)), CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve(NULL, "/a", 2, buf, sizeof(buf)),
           CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve("pub", NULL, 0, buf, sizeof(buf)),
           CHAT_EINVAL);
}

static void test_resolve_traversal(void) {
  T_CHECK(refused("/../etc/passwd"));
  T_CHECK(refused("/.."));
  T_CHECK(refused("/../"));
  T_CHECK(refused("/%2e%2e/etc/passwd"));
  T_CHECK(refused("/%2E%2E/etc/passwd"));
  T_CHECK(refused("/%2E%2e/x"));
  T_CHECK(refused("/%2E./x"));
  T_CHECK(refused("/.%2e/x"));
  T_CHECK(refused("/a/../../b"));
  T_CHECK(refused("/a/.."));
  T_CHECK(refused("/a/../"));
  T_CHECK(refused("/./a"));
  T_CHECK(refused("/%2e/a"));
  T_CHECK(refused("/a/."));
  T_CHECK(refused("/a/./"));
  T_CHECK(refused("/."));
  T_CHECK(refused("//etc/passwd"));
  T_CHECK(refused("//"));
  T_CHECK(refused("/a//b"));
  T_CHECK(refused("/a%2f%2fb"));
  T_CHECK(refused("/%2f"));
  /* %2f decodes to '/', so these carry ".." segments once decoded. */
  T_CHECK(refused("/a%2f..%2f..%2fb"));
  T_CHECK(refused("/a%2F..%2F..%2Fetc%2Fpasswd"));
  T_CHECK(refused("/a%2f%2e%2e"));
  /* Backslashes, raw and encoded. */
  T_CHECK(refused("/..\\..\\etc\\passwd"));
  T_CHECK(refused("/a\\b"));
  T_CHECK(refused("/..%5c..%5cetc%5cpasswd"));
  T_CHECK(refused("/a%5Cb"));
  /* Not starting with '/'. */
  T_CHECK(refused("etc/passwd"));
  T_CHECK(refused("../etc/passwd"));
  T_CHECK(refused("%2fetc/passwd"));
  T_CHECK(refused("%2e%2e/etc/passwd"));
  T_CHECK(refused("\\etc\\passwd"));
  T_CHECK(refused("http://x/a"));
  T_CHECK(refused(""));
}

static void test_resolve_bytes(void) {
  /* NUL: encoded, and raw (the length counts past it). */
  T_CHECK(refused("/a%00.html"));
  T_CHECK(refused("/a%00"));
  char buf[64];
  T_EQ_INT(chat_static_resolve("/srv/pub", "/a\0.html", 8, buf, sizeof(buf)),
           CHAT_EINVAL);
  /* Bad or truncated escapes. */
  T_CHECK(refused("/%zz"));
  T_CHECK(refused("/a%2"));
  T_CHECK(refused("/a%"));
  T_CHECK(refused("/%g0"));
  T_CHECK(refused("/%0g"));
  T_CHECK(refused("/%%30"));
  T_CHECK(refused("/%-1"));
  T_CHECK(refused("/% 1"));
  /* An escape split by len is truncated, even if more bytes follow. */
  T_EQ_INT(chat_static_resolve("/srv/pub", "/a%2e", 4, buf, sizeof(buf)),
           CHAT_EINVAL);
  /* Control characters. */
  T_CHECK(refused("/a\nb"));
  T_CHECK(refused("/a\rb"));
  T_CHECK(refused("/a\tb"));
  T_CHECK(refused("/a%0ab"));
  T_CHECK(refused("/a%0D%0Ab"));
  T_CHECK(refused("/a%1fb"));
  T_CHECK(refused("/a%7fb"));
  T_CHECK(refused("/a\x7f"));
  /* Invalid UTF-8. */
  T_CHECK(refused("/%ff"));
  T_CHECK(refused("/a\xff"));
  T_CHECK(refused("/%c0%af"));         /* overlong '/' */
  T_CHECK(refused("/%c0%ae%c0%ae/x")); /* overlong ".." */
  T_CHECK(refused("/%e0%80%af"));      /* overlong, 3 bytes */
  T_CHECK(refused("/%f0%80%80%af"));   /* overlong, 4 bytes */
  T_CHECK(refused("/%ed%a0%80"));      /* surrogate */
  T_CHECK(refused("/%f4%90%80%80"));   /* above U+10FFFF */
  T_CHECK(refused("/%e4%b8"));         /* truncated character */
  T_CHECK(refused("/%e4%b8.html"));
  T_CHECK(refused("/%80"));            /* lone continuation */
  T_CHECK(res("/%c2%a9") != NULL);     /* U+00A9 */
  T_CHECK(res("/%f0%9f%98%80") != NULL); /* U+1F600 */
  T_CHECK(res("/%f4%8f%bf%bf") != NULL); /* U+10FFFF */
}

static void test_resolve_outlen(void) {
  char buf[64];
  const char *p = "/app.js";
  size_t need = strlen("pub/app.js") + 1;
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, need), 0);
  T_EQ_STR(buf, "pub/app.js");
  memset(buf, 'x', sizeof(buf));
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, need - 1),
           CHAT_EINVAL);
  T_EQ_STR(buf, "");
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, 1), CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, 0), CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, 3), CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, 4), CHAT_EINVAL);

  /* The appended index.html counts too. */
  need = strlen("pub/a/index.html") + 1;
  T_EQ_INT(chat_static_resolve("pub", "/a/", 3, buf, need), 0);
  T_EQ_STR(buf, "pub/a/index.html");
  T_EQ_INT(chat_static_resolve("pub", "/a/", 3, buf, need - 1), CHAT_EINVAL);
  T_EQ_INT(chat_static_resolve("pub", "/a/", 3, buf, strlen("pub/a/") + 1),
           CHAT_EINVAL);

  /* Encoded input longer than the buffer but decoding to something that
   * fits. */
  p = "/%E4%B8%AD";
  need = strlen("pub/\xe4\xb8\xad") + 1;
  T_CHECK(need < strlen("pub") + strlen(p) + 1);
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, need), 0);
  T_EQ_STR(buf, "pub/\xe4\xb8\xad");
  T_EQ_INT(chat_static_resolve("pub", p, strlen(p), buf, need - 1),
           CHAT_EINVAL);
}

static void test_mime(void) {
  T_EQ_STR(chat_static_mime("index.html"), "text/html; charset=utf-8");
  T_EQ_STR(chat_static_mime("/srv/pub/INDEX.HTML"),
           "text/html; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.css"), "text/css; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.js"), "text/javascript; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.mjs"), "text/javascript; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.Js"), "text/javascript; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.json"), "application/json; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.js.map"), "application/json; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.svg"), "image/svg+xml; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.txt"), "text/plain; charset=utf-8");
  T_EQ_STR(chat_static_mime("a.png"), "image/png");
  T_EQ_STR(chat_static_mime("a.PNG"), "image/png");
  T_EQ_STR(chat_static_mime("a.jpg"), "image/jpeg");
  T_EQ_STR(chat_static_mime("a.jpeg"), "image/jpeg");
  T_EQ_STR(chat_static_mime("a.JPEG"), "image/jpeg");
  T_EQ_STR(chat_static_mime("a.gif"), "image/gif");
  T_EQ_STR(chat_static_mime("a.webp"), "image/webp");
  T_EQ_STR(chat_static_mime("favicon.ico"), "image/x-icon");
  T_EQ_STR(chat_static_mime("f.woff"), "font/woff");
  T_EQ_STR(chat_static_mime("f.woff2"), "font/woff2");
  T_EQ_STR(chat_static_mime("m.wasm"), "application/wasm");
  T_EQ_STR(chat_static_mime("\xe4\xb8\xad\xe6\x96\x87.html"),
           "text/html; charset=utf-8");
  /* Unknown, missing or misplaced extensions. */
  T_EQ_STR(chat_static_mime("a.exe"), "application/octet-stream");
  T_EQ_STR(chat_static_mime("README"), "application/octet-stream");
  T_EQ_STR(chat_static_mime("a."), "application/octet-stream");
  T_EQ_STR(chat_static_mime(""), "application/octet-stream");
  T_EQ_STR(chat_static_mime("/srv/x.html/file"), "application/octet-stream");
  T_EQ_STR(chat_static_mime("a.htmlx"), "application/octet-stream");
  T_EQ_STR(chat_static_mime("a.html.gz"), "application/octet-stream");
  T_EQ_STR(chat_static_mime(NULL), "application/octet-stream");
  /* A dotfile's whole name is its "extension". */
  T_EQ_STR(chat_static_mime(".js"), "text/javascript; charset=utf-8");
}

static void test_etag(void) {
  char a[64], b[64];
  chat_static_etag(a, 0x1234, 0x5678);
  T_EQ_STR(a, "\"1234-5678\"");
  chat_static_etag(a, 0, 0);
  T_EQ_STR(a, "\"0-0\"");

  chat_static_etag(a, 100, 1700000000123456789LL);
  chat_static_etag(b, 100, 1700000000123456789LL);
  T_EQ_STR(a, b);
  chat_static_etag(b, 101, 1700000000123456789LL);
  T_CHECK(strcmp(a, b) != 0);
  chat_static_etag(b, 100, 1700000000123456790LL);
  T_CHECK(strcmp(a, b) != 0);

  /* Extremes stay quoted and within the buffer. */
  chat_static_etag(a, UINT64_MAX, INT64_MIN);
  T_EQ_STR(a, "\"ffffffffffffffff-8000000000000000\"");
  T_CHECK(strlen(a) < 64);
  chat_static_etag(a, 1, -1);
  T_EQ_STR(a, "\"1-ffffffffffffffff\"");
}

/* A fresh folder for the load tests; removed by cleanup(). */
static char tmpdir[] = "/tmp/chat_static_XXXXXX";

static void path_in(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *name, const void *data, size_t len) {
  char p[256];
  path_in(p, sizeof(p), name);
  FILE *f = fopen(p, "wb");
  T_CHECK(f != NULL);
  if (f == NULL) return;
  T_EQ_INT(fwrite(data, 1, len, f), len);
  T_EQ_INT(fclose(f), 0);
}

static void test_load(void) {
  char p[256];
  chat_static_file_t f;
  const char body[] = "<!doctype html>\n<title>chat</title>\n";

  write_file("index.html", body, sizeof(body) - 1);
  path_in(p, sizeof(p), "index.html");
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), 0);
  T_EQ_INT(f.size, sizeof(body) - 1);
  T_CHECK(f.data != NULL && memcmp(f.data, body, f.size) == 0);
  struct stat st;
  T_EQ_INT(stat(p, &st), 0);
  T_EQ_INT(f.mtime_ns,
           (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
  chat_static_file_free(&f);
  T_CHECK(f.data == NULL);
  T_EQ_INT(f.size, 0);
  chat_static_file_free(&f); /* twice is harmless */

  /* Exactly max_size is allowed, one byte less is not. */
  T_EQ_INT(chat_static_load(p, sizeof(body) - 1, &f), 0);
  T_EQ_INT(f.size, sizeof(body) - 1);
  chat_static_file_free(&f);
  T_EQ_INT(chat_static_load(p, sizeof(body) - 2, &f), CHAT_EINVAL);
  T_CHECK(f.data == NULL);
  T_EQ_INT(f.size, 0);

  /* The mtime follows the file, and so does the ETag. */
  struct timeval tv[2] = {{1600000000, 250000}, {1600000000, 250000}};
  T_EQ_INT(utimes(p, tv), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), 0);
  T_EQ_INT(f.mtime_ns, 1600000000LL * 1000000000 + 250000000);
  char e1[64], e2[64];
  chat_static_etag(e1, f.size, f.mtime_ns);
  chat_static_file_free(&f);
  tv[1].tv_sec++;
  T_EQ_INT(utimes(p, tv), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), 0);
  chat_static_etag(e2, f.size, f.mtime_ns);
  T_CHECK(strcmp(e1, e2) != 0);
  chat_static_file_free(&f);
  T_EQ_INT(unlink(p), 0);
}

static void test_load_binary_and_large(void) {
  char p[256];
  chat_static_file_t f;
  size_t n = 3 * 65536 + 17; /* more than one read() on most systems */
  uint8_t *big = chat_xmalloc(n);
  for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 131 + 7);
  big[5] = 0; /* embedded NUL bytes survive */
  write_file("big.bin", big, n);
  path_in(p, sizeof(p), "big.bin");
  T_EQ_INT(chat_static_load(p, n, &f), 0);
  T_EQ_INT(f.size, n);
  T_CHECK(f.data != NULL && memcmp(f.data, big, n) == 0);
  chat_static_file_free(&f);
  T_EQ_INT(chat_static_load(p, 1024, &f), CHAT_EINVAL);
  T_EQ_INT(chat_static_load(p, 0, &f), CHAT_EINVAL);
  free(big);
  T_EQ_INT(unlink(p), 0);
}

static void test_load_empty(void) {
  char p[256];
  chat_static_file_t f;
  write_file("empty.txt", "", 0);
  path_in(p, sizeof(p), "empty.txt");
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), 0);
  T_EQ_INT(f.size, 0);
  T_CHECK(f.data == NULL);
  T_CHECK(f.mtime_ns > 0);
  chat_static_file_free(&f);
  /* max_size 0 still admits an empty file. */
  T_EQ_INT(chat_static_load(p, 0, &f), 0);
  T_EQ_INT(f.size, 0);
  chat_static_file_free(&f);
  T_EQ_INT(unlink(p), 0);
}

static void test_load_not_found(void) {
  char p[256];
  chat_static_file_t f;

  /* Missing file, and a "folder" that is really a file. */
  path_in(p, sizeof(p), "missing.html");
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);
  T_CHECK(f.data == NULL);
  T_EQ_INT(f.size, 0);
  write_file("plain", "x", 1);
  path_in(p, sizeof(p), "plain/index.html");
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);

  /* A folder. */
  path_in(p, sizeof(p), "dir");
  T_EQ_INT(mkdir(p, 0700), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);
  T_EQ_INT(chat_static_load(tmpdir, 1 << 20, &f), CHAT_ENOTFOUND);

  /* A symlink to a regular file is followed; one to a folder is not a
   * file. */
  char target[256];
  path_in(target, sizeof(target), "plain");
  path_in(p, sizeof(p), "link");
  T_EQ_INT(symlink(target, p), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), 0);
  T_EQ_INT(f.size, 1);
  T_CHECK(f.data != NULL && f.data[0] == 'x');
  chat_static_file_free(&f);
  T_EQ_INT(unlink(p), 0);
  path_in(target, sizeof(target), "dir");
  T_EQ_INT(symlink(target, p), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);
  T_EQ_INT(unlink(p), 0);
  /* A dangling symlink. */
  T_EQ_INT(symlink("/nonexistent/chat_static", p), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);
  T_EQ_INT(unlink(p), 0);

  /* A FIFO with no writer must not block and is not a file. */
  path_in(p, sizeof(p), "fifo");
  T_EQ_INT(mkfifo(p, 0600), 0);
  T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_ENOTFOUND);
  T_EQ_INT(unlink(p), 0);

  /* A character device. */
  T_EQ_INT(chat_static_load("/dev/null", 1 << 20, &f), CHAT_ENOTFOUND);

  path_in(p, sizeof(p), "dir");
  T_EQ_INT(rmdir(p), 0);
  path_in(p, sizeof(p), "plain");
  T_EQ_INT(unlink(p), 0);
}

static void test_load_unreadable(void) {
  char p[256];
  chat_static_file_t f;
  write_file("secret.txt", "s", 1);
  path_in(p, sizeof(p), "secret.txt");
  T_EQ_INT(chmod(p, 0), 0);
  /* root ignores file modes, so only check the mapping when it applies. */
  if (access(p, R_OK) != 0) {
    T_EQ_INT(chat_static_load(p, 1 << 20, &f), CHAT_EIO);
    T_CHECK(f.data == NULL);
  }
  T_EQ_INT(unlink(p), 0);

  /* Any other open() failure is an I/O error, e.g. a name component longer
   * than NAME_MAX (ENAMETOOLONG), which holds for root too. */
  char longname[300];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  char lp[512];
  snprintf(lp, sizeof(lp), "%s/%s", tmpdir, longname);
  T_EQ_INT(chat_static_load(lp, 1 << 20, &f), CHAT_EIO);
  T_CHECK(f.data == NULL);
}

/* resolve and load together: a name under a real root. */
static void test_resolve_then_load(void) {
  char p[256], name[512];
  chat_static_file_t f;
  path_in(p, sizeof(p), "\xe4\xb8\xad\xe6\x96\x87.html");
  write_file("\xe4\xb8\xad\xe6\x96\x87.html", "zh", 2);
  const char *url = "/%E4%B8%AD%E6%96%87.html";
  T_EQ_INT(chat_static_resolve(tmpdir, url, strlen(url), name, sizeof(name)),
           0);
  T_EQ_STR(name, p);
  T_EQ_INT(chat_static_load(name, 1 << 20, &f), 0);
  T_EQ_INT(f.size, 2);
  T_CHECK(f.data != NULL && memcmp(f.data, "zh", 2) == 0);
  T_EQ_STR(chat_static_mime(name), "text/html; charset=utf-8");
  chat_static_file_free(&f);
  T_EQ_INT(unlink(p), 0);
}

int main(void) {
  T_RUN(test_resolve_good);
  T_RUN(test_resolve_root);
  T_RUN(test_resolve_traversal);
  T_RUN(test_resolve_bytes);
  T_RUN(test_resolve_outlen);
  T_RUN(test_mime);
  T_RUN(test_etag);

  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  T_RUN(test_load);
  T_RUN(test_load_binary_and_large);
  T_RUN(test_load_empty);
  T_RUN(test_load_not_found);
  T_RUN(test_load_unreadable);
  T_RUN(test_resolve_then_load);
  T_EQ_INT(rmdir(tmpdir), 0);
  return T_DONE();
}
