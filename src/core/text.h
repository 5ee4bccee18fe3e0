/* Rules for user-supplied text: trimming, lengths, usernames, e-mails.
 * Every function takes valid UTF-8 unless it says otherwise. */
#ifndef CHAT_CORE_TEXT_H
#define CHAT_CORE_TEXT_H

#include <stddef.h>

#include "limits.h"

/* Finds s[0..len) without leading and trailing white space (ASCII white
 * space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000, U+FEFF).  Writes the start offset and length of the rest. */
void chat_text_trim(const char *s, size_t len, size_t *start, size_t *out_len);

/* 1 if s is not valid UTF-8 or holds a control character (C0, DEL or C1).
 * Takes any bytes. */
int chat_text_has_control(const char *s);

/* A copy of s fit for one line of text (the caller frees it): each run of
 * control characters and line separators (U+2028, U+2029) becomes one
 * space, bidi controls (U+202A..U+202E, U+2066..U+2069) are dropped, and
 * past max_chars characters it is cut to max_chars plus "…".  Mail
 * previews and webhook items are made with it. */
char *chat_text_one_line(const char *s, size_t max_chars);

/* The username rules, the one check of a new name (registration and
 * `chatd user add` both call it).  A name as typed is taken when:
 *   - it is valid UTF-8 of at most CHAT_NAME_MAX bytes;
 *   - it has no invisible character (core/ident.h, chat_ident_invisible:
 *     default-ignorable code points such as U+200B and U+200D, the Hangul
 *     fillers U+115F, U+1160, U+3164 and U+FFA0, format and control
 *     characters, unassigned code points), before or after normalising;
 *   - its NFKC form (what is stored and shown: ｂｏｂ becomes bob, 𝐛𝐨𝐛 and
 *     ⓑⓞⓑ too) has 1 to 32 characters (code points), each a letter of any
 *     script, a digit of any script, '_', '.' or '-', where the width for
 *     the minimum of 3 counts a wide East Asian character as two (张三 is
 *     long enough, "ab" is not);
 *   - it has an identity key (chat_ident_key) that fits
 *     CHAT_IDENT_KEY_MAX (every name that passes the rules above does).
 * Whether the name is free is the store's question: it compares keys. */
typedef enum {
  CHAT_USERNAME_OK = 0,
  CHAT_USERNAME_BAD,        /* length, characters or UTF-8 */
  CHAT_USERNAME_INVISIBLE,  /* an invisible or formatting character */
} chat_username_rc_t;

/* Checks s (NUL-terminated, any bytes) and, when it is taken, writes its
 * NFKC form into out (CHAT_NAME_MAX + 1 bytes; "" otherwise).  Thread-safe;
 * independent of the locale. */
chat_username_rc_t chat_username_check(const char *s, char *out);
/* What the API says about a refused name: static English text. */
const char *chat_username_message(chat_username_rc_t rc);
/* 1 if chat_username_check takes s. */
int chat_username_valid(const char *s);

/* The display-name rule (PATCH /api/me).  s (NUL-terminated, any bytes)
 * is taken when it is valid UTF-8 of at most 1024 bytes and, after
 * trimming white space (chat_text_trim) and NFC normalisation
 * (chat_ident_nfc), it has 1 to CHAT_DISPLAY_NAME_MAX_CHARS code points,
 * none of them forbidden (chat_ident_display_forbidden: controls, line
 * breaks, bidirectional controls, unassigned...), and at least one of them
 * visible (neither white space nor invisible).  Spaces inside are kept as
 * typed.  Writes the trimmed NFC form into out (CHAT_DISPLAY_NAME_MAX
 * bytes) and returns NULL when taken; else writes "" and returns a static
 * English message saying why not.  Thread-safe. */
const char *chat_display_name_check(const char *s, char *out);

/* 1 if s (NUL-terminated) looks like an e-mail address: valid UTF-8, at
 * most 254 bytes, one '@' with a non-empty local part and a domain that has
 * a dot, no white space or control characters. */
int chat_email_valid(const char *s);

/* 1 if s (NUL-terminated) is a valid room name: valid UTF-8, 1 to 64 code
 * points, no control characters, no leading or trailing white space. */
int chat_room_name_valid(const char *s);

#endif
