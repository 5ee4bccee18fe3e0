/* Rules for user-supplied text: trimming, lengths, usernames, e-mails.
 * Every function takes valid UTF-8 unless it says otherwise. */
#ifndef CHAT_CORE_TEXT_H
#define CHAT_CORE_TEXT_H

#include <stddef.h>

/* Finds s[0..len) without leading and trailing white space (ASCII white
 * space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000, U+FEFF).  Writes the start offset and length of the rest. */
void chat_text_trim(const char *s, size_t len, size_t *start, size_t *out_len);

/* 1 if s (NUL-terminated, any bytes) is a valid username: valid UTF-8, 3 to
 * 32 code points, each a letter of any script, a digit (any script), '_',
 * '.' or '-'.  Thread-safe (does not touch the global locale). */
int chat_username_valid(const char *s);

/* 1 if s (NUL-terminated) looks like an e-mail address: valid UTF-8, at
 * most 254 bytes, one '@' with a non-empty local part and a domain that has
 * a dot, no white space or control characters. */
int chat_email_valid(const char *s);

/* 1 if s (NUL-terminated) is a valid room name: valid UTF-8, 1 to 64 code
 * points, no control characters, no leading or trailing white space. */
int chat_room_name_valid(const char *s);

#endif
