/* Settings from a configuration file, the environment and the command line.
 *
 * A settings table (chat_settings_t) lists every setting once: its key (the
 * flag without its dashes, and the file's key), its environment variable,
 * whether it is a secret, and the text --check-config shows for its default.
 * The caller fills values in order of rising precedence: the file
 * (chat_settings_load_file), the environment (chat_settings_load_env), then
 * the flags (chat_settings_set), each replacing what came before, and
 * remembers where each value came from, so that an error can name the file
 * and line (or the variable, or the flag) of a bad value.
 *
 * The file is INI, read by libinih (Debian's libinih-dev): "key = value" lines,
 * comments starting with ';' or '#', sections ("[chatd]") allowed for grouping
 * and otherwise ignored.  An unknown key is an error naming FILE:LINE.
 *
 * Not thread-safe: used by the main thread before and between loop runs.
 * Values from the file are owned by the table (freed by
 * chat_settings_clear); values from the environment and argv are borrowed. */
#ifndef CHAT_CORE_CONFIG_H
#define CHAT_CORE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { CHAT_SET_DEFAULT, CHAT_SET_FILE, CHAT_SET_ENV, CHAT_SET_FLAG } chat_set_src_t;

/* How --check-config shows a value: as is, "***", or a URL with its
 * password replaced by "***". */
typedef enum { CHAT_SECRET_NONE, CHAT_SECRET_ALL, CHAT_SECRET_URL } chat_secret_t;

typedef struct {
  const char *key;       /* "ws-rate": the flag --ws-rate and the file's key */
  const char *env;       /* "CHAT_WS_RATE", or NULL */
  chat_secret_t secret;
  const char *def;       /* the default as --check-config shows it */
  /* filled in: */
  const char *value;     /* NULL: not set (the default applies) */
  chat_set_src_t src;
  int line;              /* of the file, when src is CHAT_SET_FILE */
  char *owned;           /* value when it came from the file */
} chat_setting_t;

typedef struct {
  chat_setting_t *v;
  size_t n;
  const char *file;      /* the configuration file read, or NULL (borrowed) */
} chat_settings_t;

/* The setting of key, or NULL. */
chat_setting_t *chat_settings_find(chat_settings_t *s, const char *key);
/* Sets a value (borrowed: it must outlive the table's use) from src. */
void chat_settings_set(chat_setting_t *e, const char *value, chat_set_src_t src);
/* Forgets every value (back to the defaults) and frees those it owned. */
void chat_settings_clear(chat_settings_t *s);
/* Reads path into the table.  0, or -1 with err set to "PATH:LINE: why"
 * (an unknown key, a line that is not "key = value") or "PATH: why" (it
 * cannot be opened).  Values already read stay on error. */
int chat_settings_load_file(chat_settings_t *s, const char *path, char *err, size_t errlen);
/* Takes each setting's variable, when it is set, over what is there. */
void chat_settings_load_env(chat_settings_t *s);
/* Where e's value came from, for an error: "FILE:LINE", "CHAT_X" (the
 * variable), "--key", or "default". */
const char *chat_settings_where(const chat_settings_t *s, const chat_setting_t *e, char *buf,
                                size_t len);
/* Prints "key = value    (source)" per setting, secrets masked. */
void chat_settings_print(const chat_settings_t *s, FILE *out);
/* Writes to out (len bytes) url with the password of its userinfo
 * ("scheme://user:PASSWORD@host") replaced by "***". */
void chat_settings_mask_url(const char *url, char *out, size_t len);

#endif
