/* Logging to stderr, one line per event.  Secrets (passwords, tokens,
 * cookies, hashes) are never passed to these functions. */
#ifndef CHAT_CORE_LOG_H
#define CHAT_CORE_LOG_H

typedef enum { CHAT_LOG_DEBUG, CHAT_LOG_INFO, CHAT_LOG_WARN, CHAT_LOG_ERROR } chat_log_level_t;

/* Messages below level are dropped (default INFO; CHAT_LOG=debug|info|warn|error). */
void chat_log_set_level(chat_log_level_t level);
void chat_log(chat_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define chat_log_debug(...) chat_log(CHAT_LOG_DEBUG, __VA_ARGS__)
#define chat_log_info(...) chat_log(CHAT_LOG_INFO, __VA_ARGS__)
#define chat_log_warn(...) chat_log(CHAT_LOG_WARN, __VA_ARGS__)
#define chat_log_error(...) chat_log(CHAT_LOG_ERROR, __VA_ARGS__)

#endif
