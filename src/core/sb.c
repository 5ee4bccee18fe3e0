#include "sb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void chat_sb_init(chat_sb_t *sb) {
  sb->cap = 256;
  sb->buf = chat_xmalloc(sb->cap);
  sb->buf[0] = '\0';
  sb->len = 0;
}

void chat_sb_free(chat_sb_t *sb) {
  free(sb->buf);
  sb->buf = NULL;
  sb->len = sb->cap = 0;
}

void chat_sb_reserve(chat_sb_t *sb, size_t more) {
  if (sb->len + more + 1 <= sb->cap) return;
  size_t cap = sb->cap ? sb->cap : 256;
  while (cap < sb->len + more + 1) cap *= 2;
  sb->buf = chat_xrealloc(sb->buf, cap);
  sb->cap = cap;
}

void chat_sb_append(chat_sb_t *sb, const char *s, size_t len) {
  chat_sb_reserve(sb, len);
  memcpy(sb->buf + sb->len, s, len);
  sb->len += len;
  sb->buf[sb->len] = '\0';
}

void chat_sb_puts(chat_sb_t *sb, const char *s) { chat_sb_append(sb, s, strlen(s)); }

/* By hand: every frame writes a few numbers (id, room, seq, ts), and
 * snprintf's format machinery cost more than the digits. */
size_t chat_fmt_int(char *out, int64_t v) {
  char tmp[CHAT_INT_CHARS], *p = tmp + sizeof(tmp);
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--p = '-';
  size_t n = (size_t)(tmp + sizeof(tmp) - p);
  memcpy(out, p, n);
  return n;
}

void chat_sb_int(chat_sb_t *sb, int64_t v) {
  char tmp[CHAT_INT_CHARS];
  chat_sb_append(sb, tmp, chat_fmt_int(tmp, v));
}

void chat_sb_json_str(chat_sb_t *sb, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  chat_sb_reserve(sb, len + 2);
  sb->buf[sb->len++] = '"';
  size_t run = 0;  /* bytes copied as they are, flushed in one go */
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') {
      run++;
      continue;
    }
    chat_sb_append(sb, s + i - run, run);
    run = 0;
    char esc[7];
    size_t n = 2;
    esc[0] = '\\';
    switch (ch) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[ch >> 4];
        esc[5] = hex[ch & 15];
        n = 6;
    }
    chat_sb_append(sb, esc, n);
  }
  chat_sb_append(sb, s + len - run, run);
  chat_sb_append(sb, "\"", 1);
}
