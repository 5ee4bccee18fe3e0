/* Private to src/store: the backend halves of store_admin.h, which
 * store_admin.c picks by the store's kind. */
#ifndef CHAT_STORE_ADMIN_INT_H
#define CHAT_STORE_ADMIN_INT_H

#include "store_admin.h"

/* sqlite_admin.c.  role is CHAT_ROLE_USER or CHAT_ROLE_ADMIN. */
int chat_sqlite_admin_set_role(chat_store_t *s, int64_t user_id, int role);
/* path: the file; *known is set by the caller. */
int chat_sqlite_admin_schema_peek(const char *path, int *version, char *err, size_t errlen);
/* The number of migrations this build has. */
int chat_sqlite_admin_known(void);

/* mysql_admin.c. */
int chat_mysql_admin_set_role(chat_store_t *s, int64_t user_id, int role);
/* target: the url after "mysql://". */
int chat_mysql_admin_schema_peek(const char *target, int *version, char *err, size_t errlen);
int chat_mysql_admin_known(void);
int chat_mysql_admin_dump_args(const char *target, char *buf, size_t len);

#endif
