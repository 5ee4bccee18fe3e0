#include "config.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

chat_setting_t *chat_settings_find(chat_settings_t *s, const char *key) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i].key, key) == 0) return &s->v[i];
  return NULL;
}

void chat_settings_set(chat_setting_t *e, const char *value, chat_set_src_t src) {
  free(e->owned);
  e->owned = NULL;
  e->value = value;
  e->src = src;
  e->line = 0;
}

void chat_settings_clear(chat_settings_t *s) {
  for (size_t i = 0; i < s->n; i++) chat_settings_set(&s->v[i], NULL, CHAT_SET_DEFAULT);
}

typedef struct {
  chat_settings_t *s;
  char *err;
  size_t errlen;
  int line;
} load_t;

/* libinih calls this per "key = value"; 0 stops the parse, and ini_parse
 * then returns the line's number. */
static int ini_cb(void *user, const char *section, const char *name, const char *value,
                  int lineno) {
  load_t *l = user;
  (void)section;
  if (l->line) return 0;  /* libinih goes on after an error; the first one counts */
  l->line = lineno;
  chat_setting_t *e = chat_settings_find(l->s, name);
  if (e == NULL || strcmp(name, "config") == 0) {
    snprintf(l->err, l->errlen, "unknown key '%s'", name);
    return 0;
  }
  char *copy = strdup(value);
  if (copy == NULL) {
    snprintf(l->err, l->errlen, "out of memory");  /* l->line stays: stop */
    return 0;
  }
  l->line = 0;
  chat_settings_set(e, copy, CHAT_SET_FILE);
  e->owned = copy;
  e->line = lineno;
  return 1;
}

/* libinih's INI_HANDLER_LINENO is a build option Debian's package does not
 * set; the line of a good key is counted here from ini_parse_stream. */
typedef struct {
  FILE *f;
  int line;
} reader_t;

static char *reader_cb(char *str, int num, void *stream) {
  reader_t *r = stream;
  char *p = fgets(str, num, r->f);
  if (p) r->line++;
  return p;
}

typedef struct {
  load_t *l;
  reader_t *r;
} both_t;

static int ini_cb_plain(void *user, const char *section, const char *name,
                        const char *value) {
  both_t *b = user;
  return ini_cb(b->l, section, name, value, b->r->line);
}

int chat_settings_load_file(chat_settings_t *s, const char *path, char *err, size_t errlen) {
  char why[256] = "";
  load_t l = {s, why, sizeof(why), 0};
  reader_t r = {fopen(path, "r"), 0};
  if (r.f == NULL) {
    snprintf(err, errlen, "%s: cannot read: %m", path);
    return -1;
  }
  both_t b = {&l, &r};
  int rc = ini_parse_stream(reader_cb, &r, ini_cb_plain, &b);
  fclose(r.f);
  if (rc == 0) return 0;
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot read", path);
    return -1;
  }
  snprintf(err, errlen, "%s:%d: %s", path, rc,
           why[0] && l.line == rc ? why : "not a 'key = value' line or a [section]");
  return -1;
}

void chat_settings_load_env(chat_settings_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    const char *v = s->v[i].env ? getenv(s->v[i].env) : NULL;
    if (v) chat_settings_set(&s->v[i], v, CHAT_SET_ENV);
  }
}

const char *chat_settings_where(const chat_settings_t *s, const chat_setting_t *e, char *buf,
                                size_t len) {
  switch (e->src) {
    case CHAT_SET_FILE:
      snprintf(buf, len, "%s:%d", s->file ? s->file : "?", e->line);
      break;
    case CHAT_SET_ENV:
      snprintf(buf, len, "%s", e->env);
      break;
    case CHAT_SET_FLAG:
      snprintf(buf, len, "--%s", e->key);
      break;
    default:
      snprintf(buf, len, "default");
  }
  return buf;
}

void chat_settings_mask_url(const char *url, char *out, size_t len) {
  const char *scheme = strstr(url, "://");
  const char *start = scheme ? scheme + 3 : url;
  size_t auth_len = strcspn(start, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < auth_len; i++)
    if (start[i] == '@') at = start + i;  /* the last '@' of the authority */
  const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
  if (colon == NULL) {
    snprintf(out, len, "%s", url);
    return;
  }
  snprintf(out, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

void chat_settings_print(const chat_settings_t *s, FILE *out) {
  static const char *const src_names[] = {"default", "file", "env", "flag"};
  for (size_t i = 0; i < s->n; i++) {
    const chat_setting_t *e = &s->v[i];
    char shown[1024], where[512];
    const char *v = e->value;
    if (v == NULL) {
      snprintf(shown, sizeof(shown), "%s", e->def ? e->def : "");
    } else if (e->secret == CHAT_SECRET_ALL) {
      snprintf(shown, sizeof(shown), "%s", *v ? "***" : "");
    } else if (e->secret == CHAT_SECRET_URL) {
      chat_settings_mask_url(v, shown, sizeof(shown));
    } else {
      snprintf(shown, sizeof(shown), "%s", v);
    }
    if (e->src == CHAT_SET_DEFAULT)
      fprintf(out, "%s = %s    (default)\n", e->key, shown);
    else
      fprintf(out, "%s = %s    (%s %s)\n", e->key, shown, src_names[e->src],
              chat_settings_where(s, e, where, sizeof(where)));
  }
}
