/* Search tokens: what the store indexes for each message and looks up for a
 * query (see "search" in store.h).  Pure functions, no I/O, thread-safe.
 * The SQLite backend's FTS5 tokenizer indexes chat_tokens_each's tokens and
 * queries chat_tokens_query's (sqlite_fts.h); chat_tokens_text gives the
 * distinct tokens, as the search_tokens table of schema 002 to 011 held
 * them (tests and search_bench rebuild it for comparisons).  MySQL's
 * Mroonga tokenizes by itself; every backend's candidates go through
 * chat_tokens_match.
 *
 * Normalisation: the text is decoded from UTF-8 into code points (a byte
 * that does not start a valid sequence counts as U+FFFD) and ASCII A-Z is
 * folded to a-z; nothing else is folded.  A token is one code point (a
 * unigram) or two consecutive ones (a bigram), as the UTF-8 bytes of its
 * code points.  Tokens that contain white space (the set chat_text_trim of
 * core/text.h trims) are not tokens.  Bigrams make a two-character Chinese
 * word one exact lookup; unigrams make a one-character query possible.
 *
 * A candidate found through the tokens is only a candidate: the caller
 * confirms it with chat_tokens_match on the text.  Every message that
 * contains the query has all of the query's tokens, except in a message
 * with more than CHAT_TOKENS_MAX distinct tokens (see there). */
#ifndef CHAT_STORE_TOKENS_H
#define CHAT_STORE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the longest token: two code points of four bytes. */
#define CHAT_SEARCH_TOKEN_BYTES 8

/* Distinct tokens indexed per message.  A message has at most two tokens
 * per character, so texts of up to about 1000 characters are indexed
 * whole.  A longer message with more distinct tokens than this is indexed
 * by its first CHAT_TOKENS_MAX distinct tokens in text order: a query
 * whose tokens all occur earlier in it finds it, a query that needs a token
 * first seen after the cap does not.  This bounds the index rows a single
 * message writes (a 4000-character Chinese text would otherwise write
 * about 6000). */
#define CHAT_TOKENS_MAX 2000

/* Tokens looked up per query.  A longer query uses this many of its
 * tokens, spread over the query; the text check keeps the exact matches. */
#define CHAT_QUERY_TOKENS_MAX 6

typedef struct {
  uint8_t len;                  /* 1..CHAT_SEARCH_TOKEN_BYTES */
  uint8_t b[CHAT_SEARCH_TOKEN_BYTES];  /* UTF-8; bytes past len are zero */
} chat_token_t;

/* The distinct tokens of text[0..len), in the order of their first
 * occurrence (at each position the unigram, then the bigram that starts
 * there), at most max of them.  Writes them to out (room for max) and
 * returns how many. */
size_t chat_tokens_text(const char *text, size_t len, chat_token_t *out,
                        size_t max);

/* Every token of text[0..len) in text order, repeats included and without
 * the CHAT_TOKENS_MAX cap (for an engine that keeps each token once per
 * message itself): at each code point that is not white space its
 * unigram, then the bigram that starts there if the next code point is not
 * white space either.  cb gets the token's bytes (UTF-8 as above, at most
 * CHAT_SEARCH_TOKEN_BYTES) and the byte range [start, end) of text it
 * comes from; a non-zero return stops the scan and is returned.  0 once
 * every token was given. */
typedef int (*chat_tokens_cb)(void *ud, const uint8_t *tok, int len,
                              int start, int end);
int chat_tokens_each(const char *text, size_t len, chat_tokens_cb cb,
                     void *ud);

/* The tokens to look up for the query q[0..len) (already trimmed): its
 * distinct bigrams, plus the unigram of each character that is in no bigram
 * (a query of one character, or a character between white space).  If
 * there are more than max (>= 1), max of them spread evenly from the first
 * to the last.  Writes them to out (room for max) and returns how many: 0
 * only if q has no character that is not white space. */
size_t chat_tokens_query(const char *q, size_t len, chat_token_t *out,
                         size_t max);

/* 1 if text[0..tlen) contains q[0..qlen) with ASCII letters compared
 * without regard to case (byte-wise; for valid UTF-8 that is a match of
 * whole characters).  An empty q is contained in every text. */
int chat_tokens_match(const char *text, size_t tlen, const char *q,
                      size_t qlen);

#endif
