/* Logging to stderr, one line per event.  Secrets (passwords, tokens,
 * cookies, hashes, Authorization) are never passed to these functions.
 *
 * Two formats: text ("TIME LEVEL [conn=N] [req=ID] message") and JSON (one
 * object a line: {"ts","level","msg"} and, when known, "conn" and "req").
 * The level, format and access-log switch are process-wide, set by main
 * before the loop runs and again at a SIGHUP reload (on the loop thread);
 * worker threads only read them.
 *
 * A line carries a connection id and a request id when the caller passes
 * them (chat_log_conn) or when the calling thread has a context set
 * (chat_log_context_set, done by a connection while it handles a request
 * synchronously). */
#ifndef CHAT_CORE_LOG_H
#define CHAT_CORE_LOG_H

#include <stdint.h>

typedef enum { CHAT_LOG_DEBUG, CHAT_LOG_INFO, CHAT_LOG_WARN, CHAT_LOG_ERROR } chat_log_level_t;
typedef enum { CHAT_LOG_TEXT, CHAT_LOG_JSON } chat_log_format_t;

/* Messages below level are dropped (default INFO; --log-level). */
void chat_log_set_level(chat_log_level_t level);
void chat_log_set_format(chat_log_format_t format);
/* The access log (one line per HTTP request answered): on or off. */
void chat_log_set_access(int on);
int chat_log_access_on(void);

void chat_log(chat_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line about connection conn_id (0: none) and request req_id (NULL: none). */
void chat_log_conn(chat_log_level_t level, uint64_t conn_id, const char *req_id,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sets this thread's context for chat_log lines (0 and NULL clear it);
 * req_id is borrowed until the context is cleared. */
void chat_log_context_set(uint64_t conn_id, const char *req_id);

/* One access-log line (level info, kind "access"), if the access log is on.
 * path must not carry the query string. */
typedef struct {
  const char *method, *path, *req_id, *peer;
  int status;
  uint64_t bytes;
  double ms;
  uint64_t conn_id;
} chat_log_access_t;
void chat_log_access(const chat_log_access_t *a);

#define chat_log_debug(...) chat_log(CHAT_LOG_DEBUG, __VA_ARGS__)
#define chat_log_info(...) chat_log(CHAT_LOG_INFO, __VA_ARGS__)
#define chat_log_warn(...) chat_log(CHAT_LOG_WARN, __VA_ARGS__)
#define chat_log_error(...) chat_log(CHAT_LOG_ERROR, __VA_ARGS__)

#endif
