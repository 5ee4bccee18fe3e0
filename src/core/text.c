/* Text rules.  Strings are decoded with chat_utf8_decode (core/utf8.h),
 * which refuses overlongs, surrogates and code points above U+10FFFF.
 *
 * Usernames take their Unicode knowledge (normalisation, letters and
 * digits of every script, East Asian width, invisible characters) from ICU
 * through core/ident.h: no process-wide locale is read or changed, so the
 * checks are thread-safe and the same on every machine. */
#include "text.h"

#include <stdint.h>
#include <string.h>

#include "ident.h"
#include "limits.h"
#include "sb.h"
#include "utf8.h"

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

/* 1 if every character of s[0..len) (valid UTF-8) is visible. */
static int all_visible(const uint8_t *u, size_t len) {
  size_t i = 0;
  uint32_t c;
  while (i < len) {
    i += chat_utf8_next(u + i, len - i, &c);
    if (chat_ident_invisible(c)) return 0;
  }
  return 1;
}

/* Usernames allow letters and digits of any script plus '_', '.' and '-',
 * from 3 to 32 characters, counted on the NFKC form that is stored.  For
 * the minimum, a wide East Asian character counts as two: a two-character
 * Chinese, Japanese or Korean name such as 张三 carries as much as a
 * five-letter Latin one and must be accepted, while "ab" stays too short.
 * The maximum counts code points.  Invisible characters are looked for in
 * the name as typed and again after NFKC, which maps some characters to
 * others (U+FFA0 to U+1160). */
chat_username_rc_t chat_username_check(const char *s, char *out) {
  const uint8_t *u = (const uint8_t *)s;
  size_t len = strlen(s), i = 0, n, chars = 0, width = 0;
  char key[CHAT_IDENT_KEY_MAX];
  uint32_t c;
  int nlen;

  out[0] = '\0';
  if (len > CHAT_NAME_MAX || !chat_utf8_valid(s, len)) return CHAT_USERNAME_BAD;
  if (!all_visible(u, len)) return CHAT_USERNAME_INVISIBLE;
  nlen = chat_ident_nfkc(s, len, out, CHAT_NAME_MAX + 1);
  if (nlen < 0) return CHAT_USERNAME_BAD;
  u = (const uint8_t *)out;
  len = (size_t)nlen;
  if (!all_visible(u, len)) goto invisible;
  while (i < len) {
    if ((n = chat_utf8_decode(u + i, len - i, &c)) == 0) goto bad;
    i += n;
    if (++chars > CHAT_USERNAME_MAX_CHARS) goto bad;
    width += chat_ident_wide(c) ? 2 : 1;
    if (c < 0x80) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
        goto bad;
    } else if (!chat_ident_alnum(c)) {
      goto bad;
    }
  }
  if (width < CHAT_USERNAME_MIN_WIDTH) goto bad;
  if (chat_ident_key(out, len, key, sizeof(key)) < 0) goto bad;
  return CHAT_USERNAME_OK;

invisible:
  out[0] = '\0';
  return CHAT_USERNAME_INVISIBLE;
bad:
  out[0] = '\0';
  return CHAT_USERNAME_BAD;
}

const char *chat_username_message(chat_username_rc_t rc) {
  switch (rc) {
    case CHAT_USERNAME_OK:
      return "a valid username";
    case CHAT_USERNAME_INVISIBLE:
      return "a username cannot contain invisible or formatting characters";
    case CHAT_USERNAME_BAD:
      break;
  }
  return "3-32 characters: letters, digits, '_', '.' or '-'";
}

int chat_username_valid(const char *s) {
  char out[CHAT_NAME_MAX + 1];
  return chat_username_check(s, out) == CHAT_USERNAME_OK;
}

const char *chat_display_name_check(const char *s, char *out) {
  size_t len = strlen(s), start, tlen, i = 0, n, chars = 0;
  int visible = 0, nlen;
  uint32_t c;
  const uint8_t *u;

  out[0] = '\0';
  if (len > 1024 || !chat_utf8_valid(s, len)) return "a display name is valid UTF-8 text";
  chat_text_trim(s, len, &start, &tlen);
  if (tlen == 0) return "a display name cannot be empty";
  nlen = chat_ident_nfc(s + start, tlen, out, CHAT_DISPLAY_NAME_MAX);
  if (nlen < 0) goto too_long;
  u = (const uint8_t *)out;
  while (i < (size_t)nlen) {
    if ((n = chat_utf8_decode(u + i, (size_t)nlen - i, &c)) == 0) goto bad;
    i += n;
    if (++chars > CHAT_DISPLAY_NAME_MAX_CHARS) goto too_long;
    if (chat_ident_display_forbidden(c)) {
      out[0] = '\0';
      return "a display name cannot contain control characters or line breaks";
    }
    if (!is_space(c) && !chat_ident_invisible(c)) visible = 1;
  }
  if (!visible) {
    out[0] = '\0';
    return "a display name needs a visible character";
  }
  return NULL;

too_long:
  out[0] = '\0';
  return "a display name has 1 to 32 characters";
bad:
  out[0] = '\0';
  return "a display name is valid UTF-8 text";
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

int chat_text_has_control(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0;
  if (!chat_utf8_valid(s, len)) return 1;
  while (i < len) {
    uint32_t c;
    i += chat_utf8_next(u + i, len - i, &c);
    if (is_control(c)) return 1;
  }
  return 0;
}

/* Characters that would break a line or reorder what is shown. */
static int is_line_breaker(uint32_t c) { return is_control(c) || c == 0x2028 || c == 0x2029; }

static int is_bidi_control(uint32_t c) {
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

char *chat_text_one_line(const char *s, size_t max_chars) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0, chars = 0;
  chat_sb_t sb;
  int in_space = 0;

  chat_sb_init(&sb);
  while (i < len) {
    uint32_t c;
    size_t k = chat_utf8_next(u + i, len - i, &c);
    if (chars == max_chars) {
      chat_sb_puts(&sb, "\xE2\x80\xA6"); /* … */
      break;
    }
    if (is_line_breaker(c)) {
      if (!in_space) {
        chat_sb_append(&sb, " ", 1);
        chars++;
      }
      in_space = 1;
    } else if (!is_bidi_control(c)) {
      chat_sb_append(&sb, s + i, k);
      chars++;
      in_space = 0;
    }
    i += k;
  }
  return sb.buf; /* taken from the builder */
}
