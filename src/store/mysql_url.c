/* The url of the MySQL backend (see mysql_int.h and
 * chat_store_mysql_parse_url in backend.h):
 * [mysql://][user[:password]@]host[:port]/db[?socket=PATH]. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/pct.h"
#include "mysql_int.h"

/* Percent-decodes the len bytes at p into dst (cap bytes, NUL-terminated).
 * -1 on a malformed escape, an encoded NUL or no room. */
static int pct_decode(const char *p, size_t len, char *dst, size_t cap) {
  return chat_pct_decode(p, len, dst, cap, CHAT_PCT_NO_NUL) < 0 ? -1 : 0;
}

int chat_store_mysql_parse_url(const char *target, chat_mysql_url_t *u,
                               char *err, size_t errlen) {
  const char *slash, *at, *host, *hend, *q, *db;
  char port[8];
  size_t n;

  memset(u, 0, sizeof(*u));
  u->port = DEFAULT_PORT;
  if (strncmp(target, "mysql://", 8) == 0) target += 8;

  /* Authority: up to the first '/'; its userinfo up to the last '@' (a
   * password may hold a raw '@', not a raw '/'). */
  slash = strchr(target, '/');
  if (slash == NULL)
    return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                              "mysql url: no /database after the host");
  at = NULL;
  for (q = target; q < slash; q++)
    if (*q == '@') at = q;
  if (at != NULL) {
    const char *colon = memchr(target, ':', (size_t)(at - target));
    const char *uend = colon ? colon : at;
    if (pct_decode(target, (size_t)(uend - target), u->user, sizeof(u->user)))
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad user name");
    if (colon != NULL && pct_decode(colon + 1, (size_t)(at - colon - 1),
                                    u->password, sizeof(u->password)))
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad password encoding");
    host = at + 1;
  } else {
    host = target;
  }

  /* host, [v6] or either with :port */
  if (*host == '[') {
    hend = memchr(host, ']', (size_t)(slash - host));
    if (hend == NULL)
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad [host]");
    n = (size_t)(hend - host - 1);
    if (n >= sizeof(u->host))
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: host too long");
    memcpy(u->host, host + 1, n);
    u->host[n] = '\0';
    hend++;
    if (hend < slash && *hend != ':')
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad [host]");
  } else {
    hend = memchr(host, ':', (size_t)(slash - host));
    if (hend == NULL) hend = slash;
    if (pct_decode(host, (size_t)(hend - host), u->host, sizeof(u->host)))
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad host");
  }
  if (hend < slash) { /* ":port" */
    unsigned long v;
    char *end;
    n = (size_t)(slash - hend - 1);
    if (n == 0 || n >= sizeof(port))
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad port");
    memcpy(port, hend + 1, n);
    port[n] = '\0';
    if (port[0] < '0' || port[0] > '9')
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad port");
    errno = 0;
    v = strtoul(port, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                "mysql url: bad port");
    u->port = (unsigned)v;
  }

  /* /db[?socket=PATH] */
  db = slash + 1;
  q = strchr(db, '?');
  n = q ? (size_t)(q - db) : strlen(db);
  if (pct_decode(db, n, u->db, sizeof(u->db)) || u->db[0] == '\0' ||
      strchr(u->db, '/') != NULL)
    return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                              "mysql url: missing or bad database name");
  while (q != NULL && q[1] != '\0') {
    const char *p = q + 1, *amp = strchr(p, '&');
    n = amp ? (size_t)(amp - p) : strlen(p);
    if (n > 7 && strncmp(p, "socket=", 7) == 0) {
      if (pct_decode(p + 7, n - 7, u->socket, sizeof(u->socket)))
        return chat_mysql_set_err(err, errlen, CHAT_EINVAL,
                                  "mysql url: bad socket");
    } else {
      return chat_mysql_set_err(
          err, errlen, CHAT_EINVAL,
          "mysql url: unknown parameter (only socket=PATH)");
    }
    q = amp;
  }
  if (u->host[0] == '\0') {
    if (u->socket[0] == '\0')
      return chat_mysql_set_err(err, errlen, CHAT_EINVAL, "mysql url: no host");
    strcpy(u->host, "localhost");
  }
  return 0;
}
