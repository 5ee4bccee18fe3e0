/* Message extras in text: @mentions and reaction emoji.
 *
 * Pure functions on UTF-8 text: no state, no I/O, any thread. */
#ifndef CHAT_CORE_MENTION_H
#define CHAT_CORE_MENTION_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

/* Distinct @names of one message looked up (for its "mentions" and the
 * mention counts); the first ones in text order. */
#define CHAT_MSG_MENTIONS_MAX 20
/* Distinct emoji on one message. */
#define CHAT_REACTIONS_MAX 20
/* Bytes of one reaction emoji. */
#define CHAT_EMOJI_MAX 32

/* One "@name" found in a text: name[0..len) points into the text. */
typedef struct {
  const char *name;
  size_t len;
} chat_mention_t;

/* Finds the @names of text[0..len) (valid UTF-8), distinct (byte for
 * byte), at most max, in text order; returns how many.  A name starts
 * right after '@' and runs over the characters a username may hold:
 * ASCII letters and digits, '_', '.', '-', and any non-ASCII character
 * that is not white space, punctuation (U+00A0..U+00BF, U+2000..U+206F,
 * U+3000..U+303F, U+FE10..U+FE1F, U+FE30..U+FE4F, the fullwidth ASCII
 * punctuation U+FF01..U+FF0F, U+FF1A..U+FF20, U+FF3B..U+FF40,
 * U+FF5B..U+FF65) or a symbol (U+2190..U+2BFF, U+1F000 and above).  So
 * "@张三 你好", "@张三，你好" and "(@bob)" name 张三 and bob.  A trailing
 * '.' or '-' is punctuation, not part of the name.  A name longer than
 * CHAT_NAME_MAX bytes is cut there (at a character boundary).  The
 * caller decides which of them name users (chat_mention_prefix helps
 * with a name followed by more letters, as in "@张三你好"). */
size_t chat_mention_scan(const char *text, size_t len, chat_mention_t *out, size_t max);

/* The byte length of the first n characters of s[0..len) (valid UTF-8),
 * or len if it has fewer: the shorter candidates of a mention such as
 * "张三你好" (tried longest first, down to 2 characters). */
size_t chat_mention_prefix(const char *s, size_t len, size_t n);

/* 1 if s[0..len) is one emoji as a reaction takes it: valid UTF-8 of 1 to
 * CHAT_EMOJI_MAX bytes forming a single emoji grapheme cluster: a flag
 * (two regional indicators), a subdivision flag (U+1F3F4 and tag
 * characters ending in U+E007F), a keycap ([0-9#*] U+FE0F? U+20E3), or
 * pictographs (U+00A9, U+00AE, U+203C, U+2049, U+2122, U+2139,
 * U+2194..U+21AA, U+231A..U+23FF, U+24C2, U+25AA..U+25FE, U+2600..U+27BF,
 * U+2934, U+2935, U+2B05..U+2B55, U+3030, U+303D, U+3297, U+3299,
 * U+1F000..U+1FAFF) joined by U+200D, each optionally followed by U+FE0F
 * and a skin tone (U+1F3FB..U+1F3FF).  Plain text, several emoji, white
 * space and control characters are refused. */
int chat_emoji_check(const char *s, size_t len);

#endif
