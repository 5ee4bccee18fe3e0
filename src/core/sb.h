/* A growing string buffer for building JSON text by hand on hot paths
 * (message frames, history), where a DOM would cost an allocation per
 * field.  The buffer is always NUL-terminated. */
#ifndef CHAT_CORE_SB_H
#define CHAT_CORE_SB_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *buf;   /* malloc'ed; owned by the builder until taken */
  size_t len, cap;
} chat_sb_t;

void chat_sb_init(chat_sb_t *sb);
void chat_sb_free(chat_sb_t *sb);
void chat_sb_reserve(chat_sb_t *sb, size_t more);
void chat_sb_append(chat_sb_t *sb, const char *s, size_t len);
void chat_sb_puts(chat_sb_t *sb, const char *s);
void chat_sb_int(chat_sb_t *sb, int64_t v);
/* The most bytes chat_fmt_int writes. */
#define CHAT_INT_CHARS 20
/* Writes v in decimal at out (CHAT_INT_CHARS bytes of room, no NUL) and
 * returns how many bytes it wrote: the digits of chat_sb_int, for callers
 * that write into a buffer of their own. */
size_t chat_fmt_int(char *out, int64_t v);
/* Appends s (valid UTF-8, len bytes) as a quoted JSON string. */
void chat_sb_json_str(chat_sb_t *sb, const char *s, size_t len);

#endif
