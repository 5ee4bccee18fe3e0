/* Text rules.  Strings are decoded with chat_utf8_decode (core/utf8.h),
 * which refuses overlongs, surrogates and code points above U+10FFFF.
 *
 * Letters and digits of every script are recognised with iswalnum_l() in a
 * private C.UTF-8 locale object: the process-wide locale is never changed,
 * which keeps the checks thread-safe and independent of the environment.
 * Should the C library lack a UTF-8 locale, only ASCII letters and digits
 * are accepted in usernames (failing closed). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "text.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <wctype.h>

#include "limits.h"
#include "utf8.h"

static pthread_once_t ctype_once = PTHREAD_ONCE_INIT;
static locale_t ctype_locale;  /* (locale_t)0 if no UTF-8 locale exists */

static void ctype_init(void) {
  ctype_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  if (ctype_locale == (locale_t)0)
    ctype_locale = newlocale(LC_CTYPE_MASK, "C.utf8", (locale_t)0);
}

/* The white space listed in text.h. */
static int is_space(uint32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x0085: case 0x00A0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return 1;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

/* C0 and C1 controls and DEL (general category Cc). */
static int is_control(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/* East Asian Wide and Fullwidth blocks that hold letters or digits: these
 * characters take two columns. */
static int is_wide(uint32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
         (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xA960 && c <= 0xA97F) || (c >= 0xAC00 && c <= 0xD7A3) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x16FE0 && c <= 0x18CFF) ||
         (c >= 0x1B000 && c <= 0x1B2FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

void chat_text_trim(const char *s, size_t len, size_t *start,
                    size_t *out_len) {
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, j = len, n;
  uint32_t c;

  while (i < len && (n = chat_utf8_decode(u + i, len - i, &c)) != 0 && is_space(c))
    i += n;
  while (j > i) {
    /* Step back to the lead byte of the last character. */
    size_t k = j - 1;
    while (k > i && j - k < 4 && (u[k] & 0xC0) == 0x80) k--;
    if (chat_utf8_decode(u + k, j - k, &c) != j - k || !is_space(c)) break;
    j = k;
  }
  *start = i;
  *out_len = j - i;
}

/* Usernames allow letters and digits of any script plus '_', '.' and '-',
 * from 3 to 32 characters.  For the minimum, a wide East Asian character
 * counts as two: a two-character Chinese, Japanese or Korean name such as
 * 张三 carries as much as a five-letter Latin one and must be accepted,
 * while "ab" stays too short.  The maximum counts code points. */
int chat_username_valid(const char *s) {
  const uint8_t *u = (const uint8_t *)s;
  size_t len = strlen(s), i = 0, n, chars = 0, width = 0;
  uint32_t c;

  pthread_once(&ctype_once, ctype_init);
  while (i < len) {
    if ((n = chat_utf8_decode(u + i, len - i, &c)) == 0) return 0;
    i += n;
    if (++chars > CHAT_USERNAME_MAX_CHARS) return 0;
    width += is_wide(c) ? 2 : 1;
    if (c < 0x80) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
        return 0;
    } else if (ctype_locale == (locale_t)0 ||
               !iswalnum_l((wint_t)c, ctype_locale)) {
      return 0;
    }
  }
  return width >= CHAT_USERNAME_MIN_WIDTH;
}

int chat_email_valid(const char *s) {
  const uint8_t *u = (const uint8_t *)s;
  size_t len = strlen(s), i = 0, n, at = len;
  uint32_t c;

  if (len > CHAT_EMAIL_MAX_BYTES) return 0;
  while (i < len) {
    if ((n = chat_utf8_decode(u + i, len - i, &c)) == 0) return 0;
    if (is_space(c) || is_control(c)) return 0;
    if (c == '@') {
      if (at != len) return 0;  /* a second '@' */
      at = i;
    }
    i += n;
  }
  if (at == len || at == 0) return 0;
  /* The domain needs a dot with something on both sides of it. */
  const char *domain = s + at + 1;
  size_t dlen = len - at - 1;
  const char *dot = memchr(domain, '.', dlen);
  return dot != NULL && dot != domain && domain[dlen - 1] != '.';
}

int chat_room_name_valid(const char *s) {
  const uint8_t *u = (const uint8_t *)s;
  size_t len = strlen(s), i = 0, n, chars = 0;
  uint32_t c = 0;

  while (i < len) {
    if ((n = chat_utf8_decode(u + i, len - i, &c)) == 0) return 0;
    if (is_control(c)) return 0;
    if (i == 0 && is_space(c)) return 0;
    i += n;
    if (++chars > CHAT_ROOM_NAME_MAX_CHARS) return 0;
  }
  /* c is the last character here. */
  return chars > 0 && !is_space(c);
}
