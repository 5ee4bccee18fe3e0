/* The settings table (core/config.h): the INI file read by libinih, the
 * errors with their line, precedence, masking; and the log's JSON lines
 * (core/log.h): every line parses, whatever the message holds. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "t.h"

static chat_setting_t defs[] = {
    {"listen", "T_CFG_LISTEN", CHAT_SECRET_NONE, "127.0.0.1:8080", NULL, 0, 0, NULL},
    {"store", "T_CFG_STORE", CHAT_SECRET_URL, "sqlite:x", NULL, 0, 0, NULL},
    {"metrics-token", "T_CFG_TOKEN", CHAT_SECRET_ALL, "(none)", NULL, 0, 0, NULL},
};

static const char *write_file(const char *text) {
  static char path[64];
  snprintf(path, sizeof(path), "/tmp/chat-test-config-%d.conf", (int)getpid());
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_file_env_and_errors(void) {
  chat_settings_t s = {defs, sizeof(defs) / sizeof(defs[0]), NULL};
  char err[512];
  const char *p = write_file("; comment\n[server]\nlisten = 0.0.0.0:1 ; inline\n\n# c\nstore = mysql://u:pw@h/d\n");
  s.file = p;
  T_EQ_INT(chat_settings_load_file(&s, p, err, sizeof(err)), 0);
  chat_setting_t *e = chat_settings_find(&s, "listen");
  T_EQ_STR(e->value, "0.0.0.0:1");
  T_EQ_INT(e->src, CHAT_SET_FILE);
  T_EQ_INT(e->line, 3);
  T_EQ_INT(chat_settings_find(&s, "store")->line, 6);
  char where[256], want[256];
  snprintf(want, sizeof(want), "%s:3", p);
  T_EQ_STR(chat_settings_where(&s, e, where, sizeof(where)), want);
  setenv("T_CFG_LISTEN", "1.1.1.1:2", 1);
  chat_settings_load_env(&s);
  unsetenv("T_CFG_LISTEN");
  T_EQ_STR(e->value, "1.1.1.1:2");
  T_EQ_STR(chat_settings_where(&s, e, where, sizeof(where)), "T_CFG_LISTEN");
  chat_settings_set(e, "9.9.9.9:9", CHAT_SET_FLAG);
  T_EQ_STR(chat_settings_where(&s, e, where, sizeof(where)), "--listen");
  chat_settings_clear(&s);
  T_CHECK(e->value == NULL);

  /* The first error counts, with its line. */
  p = write_file("listen = a:1\nnope = 1\nbroken line\n");
  T_EQ_INT(chat_settings_load_file(&s, p, err, sizeof(err)), -1);
  snprintf(want, sizeof(want), "%s:2: unknown key 'nope'", p);
  T_EQ_STR(err, want);
  p = write_file("listen = a:1\nbroken line\nnope = 1\n");
  T_EQ_INT(chat_settings_load_file(&s, p, err, sizeof(err)), -1);
  snprintf(want, sizeof(want), "%s:2: not a 'key = value' line or a [section]", p);
  T_EQ_STR(err, want);
  chat_settings_clear(&s);
  unlink(p);
  T_EQ_INT(chat_settings_load_file(&s, "/nonexistent/x.conf", err, sizeof(err)), -1);
  T_CHECK(strstr(err, "/nonexistent/x.conf: cannot read") == err);
}

static void test_mask(void) {
  char out[256];
  chat_settings_mask_url("mysql://user:pa:ss@host:3306/db?socket=/x@y", out, sizeof(out));
  T_EQ_STR(out, "mysql://user:***@host:3306/db?socket=/x@y");
  chat_settings_mask_url("redis://:secret@127.0.0.1:6379/0", out, sizeof(out));
  T_EQ_STR(out, "redis://:***@127.0.0.1:6379/0");
  chat_settings_mask_url("smtp://127.0.0.1:25", out, sizeof(out));
  T_EQ_STR(out, "smtp://127.0.0.1:25");
  chat_settings_mask_url("smtp://user@h:25", out, sizeof(out));
  T_EQ_STR(out, "smtp://user@h:25");
  chat_settings_mask_url("sqlite:/var/lib/chat.db", out, sizeof(out));
  T_EQ_STR(out, "sqlite:/var/lib/chat.db");
}

/* Logs odd messages as JSON into a file; every line must parse and give
 * the message back (invalid UTF-8 as U+FFFD). */
static void test_json_lines(void) {
  char path[64];
  snprintf(path, sizeof(path), "/tmp/chat-test-log-%d.txt", (int)getpid());
  fflush(stderr);
  int saved = dup(2);
  FILE *f = freopen(path, "w", stderr);
  T_CHECK(f != NULL);
  chat_log_set_format(CHAT_LOG_JSON);
  chat_log_set_level(CHAT_LOG_DEBUG);
  chat_log_set_access(1);
  chat_log_info("quote \" backslash \\ newline \n tab \t bell \a del \x7f end");
  chat_log_warn("bad utf-8 \xff\xfe and \xc3 cut, good \xc3\xa9");
  char big[1100];
  memset(big, '"', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  chat_log_error("%s", big);
  chat_log_conn(CHAT_LOG_DEBUG, 42, "abc\"def", "conn line");
  chat_log_context_set(7, "r1");
  chat_log_info("in a request");
  chat_log_context_set(0, NULL);
  char path_big[3000];
  memset(path_big, '\x01', sizeof(path_big) - 1);
  path_big[sizeof(path_big) - 1] = '\0';
  chat_log_access_t a = {"GET", path_big, "rid", "1.2.3.4:5", 200, 12, 1.5, 3};
  chat_log_access(&a);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  chat_log_set_format(CHAT_LOG_TEXT);
  chat_log_set_access(0);

  FILE *in = fopen(path, "r");
  T_CHECK(in != NULL);
  static char line[65536];
  int n = 0;
  while (fgets(line, sizeof(line), in)) {
    cJSON *o = cJSON_Parse(line);
    T_CHECK(o != NULL);
    if (o == NULL) {
      fprintf(stdout, "not JSON: %s", line);
      continue;
    }
    T_CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "ts")));
    T_CHECK(cJSON_IsString(cJSON_GetObjectItem(o, "level")));
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(o, "msg"));
    if (n == 0) T_EQ_STR(msg, "quote \" backslash \\ newline \n tab \t bell \a del \x7f end");
    if (n == 1) T_EQ_STR(msg, "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd cut, good \xc3\xa9");
    if (n == 3) {
      T_EQ_INT(cJSON_GetObjectItem(o, "conn")->valueint, 42);
      T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "req")), "abc\"def");
    }
    if (n == 4) {
      T_EQ_INT(cJSON_GetObjectItem(o, "conn")->valueint, 7);
      T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "req")), "r1");
    }
    if (n == 5) {
      T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")), "access");
      T_EQ_INT(cJSON_GetObjectItem(o, "status")->valueint, 200);
      T_EQ_INT(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(o, "path"))), 512);
    }
    cJSON_Delete(o);
    n++;
  }
  fclose(in);
  unlink(path);
  T_EQ_INT(n, 6);
}

int main(void) {
  T_RUN(test_file_env_and_errors);
  T_RUN(test_mask);
  T_RUN(test_json_lines);
  return T_DONE();
}
