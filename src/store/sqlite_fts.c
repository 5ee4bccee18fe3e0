/* The SQLite backend's full-text search: tokenizer "chat" and the MATCH
 * expressions (see sqlite_fts.h). */
#include "sqlite_fts.h"

#include <stdio.h>
#include <string.h>

#include "tokens.h"

/* The tokenizer has no state: one static handle serves every table. */
static int fts_handle;

static int tok_create(void *ctx, const char **argv, int argc,
                      Fts5Tokenizer **out) {
  (void)ctx;
  (void)argv;
  (void)argc;
  *out = (Fts5Tokenizer *)&fts_handle;
  return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *t) { (void)t; }

typedef int (*xtoken_fn)(void *, int, const char *, int, int, int);

typedef struct {
  void *ctx;
  xtoken_fn xtoken;
} emit_t;

static int emit_cb(void *ud, const uint8_t *tok, int len, int start, int end) {
  emit_t *e = ud;
  return e->xtoken(e->ctx, 0, (const char *)tok, len, start, end);
}

/* Bytes of the longest tag: "\x01u" and 19 digits. */
#define TAG_MAX 24

/* 1 if t[0..n) is a tag list: "\x01" [ru] digits, separated by single
 * spaces (sqlite_fts.h). */
static int is_tags(const char *t, int n) {
  int i = 0;

  for (;;) {
    int d = 0;
    if (n - i < 3 || t[i] != '\x01' || (t[i + 1] != 'r' && t[i + 1] != 'u'))
      return 0;
    i += 2;
    while (i < n && t[i] >= '0' && t[i] <= '9') i++, d++;
    if (d == 0 || d > TAG_MAX - 2) return 0;
    if (i == n) return 1;
    if (t[i++] != ' ') return 0;
  }
}

static int tok_tokenize(Fts5Tokenizer *t, void *ctx, int flags,
                        const char *text, int len, xtoken_fn xtoken) {
  (void)t;
  if (len <= 0) return SQLITE_OK;
  if (flags & FTS5_TOKENIZE_QUERY) {
    /* One quoted string of chat_sqlite_fts_expr: one token, ASCII folded
     * (the expression is already folded; this keeps a hand-written query
     * in the shell honest). */
    char buf[TAG_MAX + CHAT_SEARCH_TOKEN_BYTES];
    if ((size_t)len > sizeof(buf)) return SQLITE_OK;  /* no such token */
    for (int i = 0; i < len; i++)
      buf[i] = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] + 32) : text[i];
    return xtoken(ctx, 0, buf, len, 0, len);
  }
  if (text[0] == '\x01' && is_tags(text, len)) {
    int i = 0;
    while (i < len) {
      int j = i;
      while (j < len && text[j] != ' ') j++;
      int rc = xtoken(ctx, 0, text + i, j - i, i, j);
      if (rc != SQLITE_OK) return rc;
      i = j + 1;
    }
    return SQLITE_OK;
  }
  emit_t e = {ctx, xtoken};
  return chat_tokens_each(text, (size_t)len, emit_cb, &e);
}

static fts5_tokenizer tokenizer = {tok_create, tok_delete, tok_tokenize};

int chat_sqlite_fts_register(sqlite3 *db) {
  fts5_api *api = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL);

  if (rc == SQLITE_OK) {
    sqlite3_bind_pointer(st, 1, (void *)&api, "fts5_api_ptr", NULL);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK) return rc;
  if (api == NULL || api->iVersion < 2) return SQLITE_ERROR;
  return api->xCreateTokenizer(api, "chat", NULL, &tokenizer, NULL);
}

/* Appends "s" with '"' doubled (FTS5 string syntax). */
static void put_string(chat_sb_t *sb, const uint8_t *s, size_t len) {
  chat_sb_append(sb, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    chat_sb_append(sb, (const char *)&s[i], 1);
    if (s[i] == '"') chat_sb_append(sb, "\"", 1);
  }
  chat_sb_append(sb, "\"", 1);
}

static void put_tag(chat_sb_t *sb, char kind, int64_t id) {
  char tag[TAG_MAX + 1];
  int n = snprintf(tag, sizeof(tag), "\x01%c%lld", kind, (long long)id);
  put_string(sb, (const uint8_t *)tag, (size_t)n);
}

/* Hidden rooms named in the expression; more are left to store.c. */
#define HIDE_MAX 64

int chat_sqlite_fts_expr(chat_sb_t *sb, const char *q, size_t qlen, int dm,
                         int64_t room_id, int64_t user_id,
                         const int64_t *hide, size_t nhide) {
  chat_token_t toks[CHAT_QUERY_TOKENS_MAX];
  int n = (int)chat_tokens_query(q, qlen, toks, CHAT_QUERY_TOKENS_MAX);

  if (n == 0) return 0;
  for (int i = 0; i < n; i++) {
    if (i) chat_sb_puts(sb, " AND ");
    put_string(sb, toks[i].b, toks[i].len);
  }
  if (dm) {
    chat_sb_puts(sb, " AND ");
    put_tag(sb, 'u', user_id);
  } else if (room_id != 0) {
    chat_sb_puts(sb, " AND ");
    put_tag(sb, 'r', room_id);
  } else if (nhide > 0 && nhide <= HIDE_MAX) {
    chat_sb_puts(sb, " NOT (");
    for (size_t i = 0; i < nhide; i++) {
      if (i) chat_sb_puts(sb, " OR ");
      put_tag(sb, 'r', hide[i]);
    }
    chat_sb_puts(sb, ")");
  }
  return n;
}
