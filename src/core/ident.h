/* The identity of a username: Unicode normalisation, confusable skeletons
 * and the character properties of the username rules, from ICU (Debian's
 * libicu), so no Unicode table here is kept by hand and nothing depends on
 * the process's locale.
 *
 * Two names are the same identity when their keys are equal.  The key is
 * the UTS #39 skeleton of the name's NFKC_Casefold form: compatibility
 * forms (full-width ｂｏｂ, mathematical 𝐛𝐨𝐛, circled ⓑⓞⓑ, long s ſam),
 * case (BOB), default-ignorable characters (which NFKC_Casefold removes,
 * the Hangul fillers among them) and letters that look alike across
 * scripts (Cyrillic о and Latin o, digit 1 and letter l) all collapse.  A
 * key is for comparing only, never shown: a username is stored and shown
 * in its NFKC form (chat_ident_nfkc).
 *
 * The store keeps each user's key in a column with a unique index
 * (schema/<backend>/004_ident_key.sql) and finds users by it
 * (src/store/store.c computes it, the one place that does).
 *
 * Pure functions over caller buffers, safe from any thread: ICU's
 * normalisers are shared read-only objects, and the spoof checker that
 * computes skeletons is made once (the first call) and only read after.
 * Failure: -1, never a partial result; on ICU failure (its data missing)
 * every key fails, so nothing is stored or found by a wrong key. */
#ifndef CHAT_CORE_IDENT_H
#define CHAT_CORE_IDENT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a key including its NUL.  A valid username (at most 32
 * characters, core/text.h) has a key of at most 32 * 21 = 672 bytes (21:
 * the longest key of one allowed character, a Hangul syllable; checked by
 * test/unit/test_ident.c), and chat_username_check makes sure.  767 bytes
 * is also the longest key an index of every MySQL row format takes. */
#define CHAT_IDENT_KEY_MAX 768

/* Writes the NFKC form of s[0..len) into out (cap bytes, NUL-terminated).
 * Returns its length in bytes, or -1 if s is not valid UTF-8 (core/utf8.h;
 * a NUL byte counts as invalid here), ICU fails, or the result needs more
 * than cap bytes. */
int chat_ident_nfkc(const char *s, size_t len, char *out, size_t cap);

/* The same as chat_ident_nfkc with the NFC form (canonical composition
 * only: full-width letters, ligatures and the like stay as typed).  Display
 * names (core/text.h) are stored in this form. */
int chat_ident_nfc(const char *s, size_t len, char *out, size_t cap);

/* Writes the key of s[0..len) (UTF-8, NUL-terminated) into out (cap
 * bytes).  Returns its length in bytes (0 for a name made only of
 * default-ignorable characters), or -1 as chat_ident_nfkc. */
int chat_ident_key(const char *s, size_t len, char *out, size_t cap);

/* Character classes of the username rules (core/text.c). */

/* 1 if c is not visible text: a Default_Ignorable_Code_Point (zero-width
 * joiner and space, soft hyphen, variation selectors, the Hangul fillers
 * U+115F, U+1160, U+3164 and U+FFA0, ...), a format character (Cf), a
 * control (Cc), a line or paragraph separator, private use, a surrogate or
 * unassigned. */
int chat_ident_invisible(uint32_t c);
/* 1 if c is a letter or digit of any script: Alphabetic, or a decimal
 * digit (Nd). */
int chat_ident_alnum(uint32_t c);
/* 1 if c may not appear in a display name (core/text.c): a control (Cc:
 * tabs and line breaks among them), a line or paragraph separator, private
 * use, a surrogate, unassigned, or a bidirectional embedding, override,
 * isolate or mark (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069),
 * which could turn the text around it.  Other format characters (the
 * zero-width joiner of emoji sequences, variation selectors) are allowed. */
int chat_ident_display_forbidden(uint32_t c);
/* 1 if c takes two columns: East_Asian_Width Wide or Fullwidth. */
int chat_ident_wide(uint32_t c);

#endif
