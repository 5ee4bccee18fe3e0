#include "log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

static volatile chat_log_level_t min_level = CHAT_LOG_INFO;
static volatile chat_log_format_t log_format = CHAT_LOG_TEXT;
static volatile int access_on;
static _Thread_local uint64_t ctx_conn;
static _Thread_local const char *ctx_req;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void chat_log_set_level(chat_log_level_t level) { min_level = level; }
void chat_log_set_format(chat_log_format_t format) { log_format = format; }
void chat_log_set_access(int on) { access_on = on; }
int chat_log_access_on(void) { return access_on; }

void chat_log_context_set(uint64_t conn_id, const char *req_id) {
  ctx_conn = conn_id;
  ctx_req = req_id;
}

typedef struct {
  char buf[8192];  /* room for a 1 KiB message or a 512-byte path escaped */
  size_t n;
  int full;        /* something did not fit: the line is cut */
} line_t;

static void put(line_t *l, const char *s, size_t len) {
  if (len > sizeof(l->buf) - 1 - l->n) {
    len = sizeof(l->buf) - 1 - l->n;
    l->full = 1;
  }
  memcpy(l->buf + l->n, s, len);
  l->n += len;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

static void putf(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(line_t *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(l->buf + l->n, sizeof(l->buf) - l->n, fmt, ap);
  va_end(ap);
  if (k > 0 && (size_t)k >= sizeof(l->buf) - 1 - l->n) l->full = 1;
  if (k > 0) l->n += (size_t)k < sizeof(l->buf) - 1 - l->n ? (size_t)k : sizeof(l->buf) - 1 - l->n;
}

/* s as a JSON string (quotes included): control characters escaped, bytes
 * that are not UTF-8 replaced by U+FFFD, so that every line parses.  In
 * text, control characters become spaces (one event, one line). */
#define FIELD_MAX 512  /* bytes of an access-log field or a request id kept */

static void put_str(line_t *l, const char *s, int json) {
  size_t len = strlen(s);
  if (len > 1024) len = 1024;  /* a message is at most 1023; fields are cut before */
  if (json) puts_(l, "\"");
  for (size_t i = 0; i < len;) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x80) {
      if (!json)
        put(l, ch < 0x20 || ch == 0x7f ? " " : (const char *)&s[i], 1);
      else if (ch == '"' || ch == '\\')
        putf(l, "\\%c", ch);
      else if (ch < 0x20 || ch == 0x7f)
        putf(l, "\\u%04x", ch);
      else
        put(l, &s[i], 1);
      i++;
      continue;
    }
    uint32_t cp;
    size_t k = chat_utf8_decode(s + i, len - i, &cp);
    if (k == 0) {
      puts_(l, "\xef\xbf\xbd");
      i++;
    } else {
      put(l, s + i, k);
      i += k;
    }
  }
  if (json) puts_(l, "\"");
}

/* The start of a line: time, level, and the connection and request. */
static void put_head(line_t *l, chat_log_level_t level, uint64_t conn, const char *req) {
  if (req && *req == '\0') req = NULL;  /* between requests */
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char when[64];
  snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  if (log_format == CHAT_LOG_JSON) {
    putf(l, "{\"ts\":\"%s\",\"level\":\"%s\"", when, level_names[level]);
    if (conn) putf(l, ",\"conn\":%" PRIu64, conn);
    if (req) {
      puts_(l, ",\"req\":");
      put_str(l, req, 1);
    }
  } else {
    putf(l, "%s %s", when, level_names[level]);
    if (conn) putf(l, " conn=%" PRIu64, conn);
    if (req) {
      puts_(l, " req=");
      put_str(l, req, 0);
    }
  }
}

static void emit(line_t *l) {
  /* A cut JSON line would not parse: say so in one that does. */
  if (l->full && log_format == CHAT_LOG_JSON) {
    l->n = 0;
    l->full = 0;
    put_head(l, CHAT_LOG_ERROR, 0, NULL);
    puts_(l, ",\"msg\":\"(a log line too long to write)\"}");
  }
  l->buf[l->n] = '\0';
  /* One write per line keeps lines whole when worker threads log too. */
  fprintf(stderr, "%s\n", l->buf);
}

static void vlog(chat_log_level_t level, uint64_t conn, const char *req, const char *fmt,
                 va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  line_t l = {.n = 0};
  put_head(&l, level, conn, req);
  if (log_format == CHAT_LOG_JSON) {
    /* Leave room for the closing brace however long the message is. */
    size_t keep = sizeof(l.buf) - 3;
    line_t m = {.n = 0};
    put_str(&m, msg, 1);
    if (l.n + 7 + m.n > keep) {
      /* cut the message, not the JSON: put a shorter one */
      msg[(keep > l.n + 16 ? (keep - l.n - 16) / 6 : 0)] = '\0';
      m.n = 0;
      put_str(&m, msg, 1);
    }
    puts_(&l, ",\"msg\":");
    put(&l, m.buf, m.n);
    puts_(&l, "}");
  } else {
    puts_(&l, " ");
    put_str(&l, msg, 0);
  }
  emit(&l);
}

void chat_log(chat_log_level_t level, const char *fmt, ...) {
  if (level < min_level) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, ctx_conn, ctx_req, fmt, ap);
  va_end(ap);
}

void chat_log_conn(chat_log_level_t level, uint64_t conn_id, const char *req_id,
                   const char *fmt, ...) {
  if (level < min_level) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, conn_id, req_id && *req_id ? req_id : NULL, fmt, ap);
  va_end(ap);
}

/* s cut to FIELD_MAX bytes (a cut character becomes U+FFFD). */
static const char *field(const char *s, char buf[FIELD_MAX + 1]) {
  snprintf(buf, FIELD_MAX + 1, "%s", s ? s : "");
  return buf;
}

void chat_log_access(const chat_log_access_t *a) {
  if (!access_on || CHAT_LOG_INFO < min_level) return;
  char method[FIELD_MAX + 1], path[FIELD_MAX + 1], peer[FIELD_MAX + 1];
  line_t l = {.n = 0};
  put_head(&l, CHAT_LOG_INFO, a->conn_id, a->req_id);
  if (log_format == CHAT_LOG_JSON) {
    puts_(&l, ",\"kind\":\"access\",\"method\":");
    put_str(&l, field(a->method, method), 1);
    puts_(&l, ",\"path\":");
    put_str(&l, field(a->path, path), 1);
    putf(&l, ",\"status\":%d,\"bytes\":%" PRIu64 ",\"ms\":%.3f,\"peer\":", a->status, a->bytes,
         a->ms);
    put_str(&l, field(a->peer, peer), 1);
    puts_(&l, "}");
  } else {
    puts_(&l, " access ");
    put_str(&l, field(a->method, method), 0);
    puts_(&l, " ");
    put_str(&l, field(a->path, path), 0);
    putf(&l, " %d %" PRIu64 " %.3fms peer=", a->status, a->bytes, a->ms);
    put_str(&l, field(a->peer, peer), 0);
  }
  emit(&l);
}
