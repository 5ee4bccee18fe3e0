#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static chat_log_level_t min_level = CHAT_LOG_INFO;

void chat_log_set_level(chat_log_level_t level) { min_level = level; }

void chat_log(chat_log_level_t level, const char *fmt, ...) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  if (level < min_level) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level]);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  /* One fputs per line keeps lines whole when worker threads log too. */
  fprintf(stderr, "%s\n", line);
}
