/* store_admin.h: the checks shared by the backends and the choice of
 * backend (by the store's kind, or by the url where there is no store). */
#include "store_admin.h"

#include <stdio.h>
#include <string.h>

#include "../core/common.h"
#include "admin_int.h"

static int is_mysql_url(const char *url) { return strncmp(url, "mysql://", 8) == 0; }

/* The SQLite path of url, as chat_store_open reads it. */
static const char *sqlite_path(const char *url) {
  return strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
}

int chat_store_user_set_role(chat_store_t *s, int64_t user_id, chat_role_t role) {
  if (role != CHAT_ROLE_USER && role != CHAT_ROLE_ADMIN) return CHAT_EINVAL;
  if (strcmp(chat_store_kind(s), "mysql") == 0)
    return chat_mysql_admin_set_role(s, user_id, (int)role);
  return chat_sqlite_admin_set_role(s, user_id, (int)role);
}

int chat_store_schema_peek(const char *url, int *version, int *known, char *err,
                           size_t errlen) {
  if (err != NULL && errlen > 0) err[0] = '\0';
  if (url == NULL || version == NULL || known == NULL) return CHAT_EINVAL;
  if (is_mysql_url(url)) {
    *known = chat_mysql_admin_known();
    return chat_mysql_admin_schema_peek(url + 8, version, err, errlen);
  }
  *known = chat_sqlite_admin_known();
  if (sqlite_path(url)[0] == '\0') {
    if (err != NULL && errlen > 0) snprintf(err, errlen, "empty database path");
    return CHAT_EINVAL;
  }
  return chat_sqlite_admin_schema_peek(sqlite_path(url), version, err, errlen);
}

int chat_store_mysql_dump_args(const char *url, char *buf, size_t len) {
  if (url == NULL || !is_mysql_url(url)) return CHAT_EINVAL;
  return chat_mysql_admin_dump_args(url + 8, buf, len);
}
