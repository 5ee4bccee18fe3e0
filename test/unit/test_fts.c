/* Unit tests of the FTS5 tokenizer "chat" and the MATCH expressions
 * (src/store/sqlite_fts.h), on an in-memory SQLite database with a table
 * made as schema/sqlite/012_fts.sql makes search_room. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_fts.h"
#include "store/tokens.h"
#include "t.h"

static sqlite3 *g_db;

static void exec(const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(g_db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
  sqlite3_free(msg);
  T_EQ_INT(rc, SQLITE_OK);
}

static void open_db(void) {
  T_EQ_INT(sqlite3_open(":memory:", &g_db), SQLITE_OK);
  T_EQ_INT(chat_sqlite_fts_register(g_db), SQLITE_OK);
  exec("CREATE VIRTUAL TABLE f USING fts5(body, tag, content='', detail=none,"
       " columnsize=0, tokenize='chat')");
  exec("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'row')");
}

static void close_db(void) {
  sqlite3_close(g_db);
  g_db = NULL;
}

/* Indexes body (len bytes, may hold any byte) and tag as row id. */
static void put(int64_t id, const char *body, size_t len, const char *tag) {
  sqlite3_stmt *st = NULL;
  T_EQ_INT(sqlite3_prepare_v2(g_db, "INSERT INTO f (rowid, body, tag) VALUES (?1, ?2, ?3)",
                              -1, &st, NULL),
           SQLITE_OK);
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_text(st, 2, body, (int)len, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, tag, -1, SQLITE_STATIC);
  T_EQ_INT(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
}

/* The index's terms, sorted, as "t|t|..." (control bytes shown as ^A). */
static const char *terms(void) {
  static char buf[4096];
  sqlite3_stmt *st = NULL;
  size_t o = 0;

  buf[0] = '\0';
  T_EQ_INT(sqlite3_prepare_v2(g_db, "SELECT term FROM v ORDER BY term", -1, &st, NULL),
           SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    if (o + (size_t)n * 2 + 2 >= sizeof(buf)) break;
    if (o) buf[o++] = '|';
    for (int i = 0; i < n; i++) {
      if (t[i] < 0x20) {
        buf[o++] = '^';
        buf[o++] = (char)('@' + t[i]);
      } else {
        buf[o++] = (char)t[i];
      }
    }
  }
  buf[o] = '\0';
  sqlite3_finalize(st);
  return buf;
}

/* The terms of one body (no tag), in a fresh index. */
static const char *terms_of(const char *body, size_t len) {
  close_db();
  open_db();
  put(1, body, len, "");
  return terms();
}

/* The rowids (descending, "1,2") that match q as chat_sqlite_fts_expr
 * builds it; "none" if q has no tokens; "error" if SQLite refused it. */
static const char *search(const char *q, int dm, int64_t room, int64_t user,
                          const int64_t *hide, size_t nhide) {
  static char buf[256];
  chat_sb_t sb;
  sqlite3_stmt *st = NULL;
  size_t o = 0;
  int rc;

  chat_sb_init(&sb);
  if (chat_sqlite_fts_expr(&sb, q, strlen(q), dm, room, user, hide, nhide) == 0) {
    chat_sb_free(&sb);
    return "none";
  }
  buf[0] = '\0';
  T_EQ_INT(sqlite3_prepare_v2(g_db, "SELECT rowid FROM f WHERE f MATCH ?1 ORDER BY rowid DESC",
                              -1, &st, NULL),
           SQLITE_OK);
  sqlite3_bind_text(st, 1, sb.buf, (int)sb.len, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && o + 24 < sizeof(buf))
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%lld", o ? "," : "",
                          (long long)sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  chat_sb_free(&sb);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return "error";
  return buf;
}

#define TERMS(s) terms_of((s), strlen(s))

static void test_tokens(void) {
  /* Chinese: unigrams and bigrams, repeats once. */
  T_EQ_STR(TERMS("上海东"), "上|上海|东|海|海东");
  T_EQ_STR(TERMS("哈哈哈"), "哈|哈哈");
  /* ASCII folded; white space (ASCII, U+3000, NBSP) splits. */
  T_EQ_STR(TERMS("HeLLo"), "e|el|h|he|l|ll|lo|o");
  T_EQ_STR(TERMS("a B\xe3\x80\x80" "c\xc2\xa0" "d"), "a|b|c|d");
  /* Mixed text: the bigram across scripts too. */
  T_EQ_STR(TERMS("ab上"), "a|ab|b|b上|上");
  /* Other scripts: code points, nothing folded but ASCII. */
  T_EQ_STR(TERMS("ÄΩ"), "Ä|ÄΩ|Ω");
  /* Emoji: four-byte code points, an eight-byte bigram. */
  T_EQ_STR(TERMS("😀👍"), "👍|😀|😀👍");
  /* Invalid UTF-8: each bad byte is U+FFFD; never a crash. */
  T_EQ_STR(terms_of("a\xff", 2), "a|a\xef\xbf\xbd|\xef\xbf\xbd");
  T_EQ_STR(terms_of("\xe4\xb8", 2), "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
  T_EQ_STR(terms_of("\xf0\x9f\x98", 3), "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd");
  {
    /* Every byte value, and a truncated four-byte sequence at the end. */
    char all[260];
    for (int i = 0; i < 256; i++) all[i] = (char)(i ? i : 'x');
    memcpy(all + 256, "\xf0\x9f\x98", 3);
    T_CHECK(strlen(terms_of(all, 259)) > 0);
  }
  /* Tags: exactly "\x01[ru]digits" words; anything else is text. */
  close_db();
  open_db();
  put(1, "", 0, "\x01r12");
  put(2, "", 0, "\x01u5 \x01u9");
  T_EQ_STR(terms(), "^Ar12|^Au5|^Au9");
  T_EQ_STR(TERMS("\x01r1x"), "^A|^Ar|1|1x|r|r1|x");
}

static void test_search(void) {
  static const char *const docs[] = {
      "我家在上海东边",           /* 1 */
      "say Hello to the world",   /* 2 */
      "emoji 😀👍 party",         /* 3 */
      "a \"quoted\" OR NEAR(x y)", /* 4 */
      "上海 in room 8",           /* 5 */
  };
  char tag[32];
  int64_t hide[2] = {7, 8};

  close_db();
  open_db();
  for (int i = 0; i < 5; i++) {
    snprintf(tag, sizeof(tag), "\x01r%d", i == 4 ? 8 : 7);
    put(i + 1, docs[i], strlen(docs[i]), tag);
  }
  put(6, "上海 dm", strlen("上海 dm"), "\x01u3 \x01u4");
  /* 上海 finds 我家在上海东边; a word across the boundary; one char. */
  T_EQ_STR(search("上海", 0, 0, 0, NULL, 0), "6,5,1");
  T_EQ_STR(search("海东", 0, 0, 0, NULL, 0), "1");
  T_EQ_STR(search("边", 0, 0, 0, NULL, 0), "1");
  T_EQ_STR(search("我家在上海东边", 0, 0, 0, NULL, 0), "1");
  T_EQ_STR(search("上海西", 0, 0, 0, NULL, 0), "");
  /* Two letters, case folded, a suffix within a word. */
  T_EQ_STR(search("HE", 0, 0, 0, NULL, 0), "2");
  T_EQ_STR(search("lo", 0, 0, 0, NULL, 0), "2");
  /* Candidates: every message with all tokens (here the unigrams o and
   * t); store.c's text check keeps the one with "o t". */
  T_EQ_STR(search("o t", 0, 0, 0, NULL, 0), "4,3,2");
  T_EQ_STR(search("👍", 0, 0, 0, NULL, 0), "3");
  /* FTS5 syntax in the query is text, never syntax. */
  T_EQ_STR(search("\"quoted\"", 0, 0, 0, NULL, 0), "4");
  T_EQ_STR(search("OR NEAR(", 0, 0, 0, NULL, 0), "4");
  T_EQ_STR(search("*", 0, 0, 0, NULL, 0), "");
  T_EQ_STR(search("\"", 0, 0, 0, NULL, 0), "4");
  T_EQ_STR(search("a\" OR \"b", 0, 0, 0, NULL, 0), "");
  T_EQ_STR(search("(", 0, 0, 0, NULL, 0), "4");
  T_EQ_STR(search("-", 0, 0, 0, NULL, 0), "");
  T_EQ_STR(search("^x", 0, 0, 0, NULL, 0), "");
  /* A user's query never reaches the tags. */
  T_EQ_STR(search("\x01r7", 0, 0, 0, NULL, 0), "");
  T_EQ_STR(search("r7", 0, 0, 0, NULL, 0), "");
  T_EQ_STR(search("   ", 0, 0, 0, NULL, 0), "none");
  /* Filters: a room, hidden rooms, a direct message's users. */
  T_EQ_STR(search("上海", 0, 7, 0, NULL, 0), "1");
  T_EQ_STR(search("上海", 0, 8, 0, NULL, 0), "5");
  T_EQ_STR(search("上海", 0, 0, 0, hide + 1, 1), "6,1");
  T_EQ_STR(search("上海", 0, 0, 0, hide, 2), "6");
  T_EQ_STR(search("上海", 1, 0, 4, NULL, 0), "6");
  T_EQ_STR(search("上海", 1, 0, 5, NULL, 0), "");
}

static void test_register(void) {
  /* Twice on one connection is fine; a fresh connection needs it. */
  sqlite3 *db = NULL;
  T_EQ_INT(chat_sqlite_fts_register(g_db), SQLITE_OK);
  T_EQ_INT(sqlite3_open(":memory:", &db), SQLITE_OK);
  T_CHECK(sqlite3_exec(db, "CREATE VIRTUAL TABLE f USING fts5(b, tokenize='chat')", NULL, NULL,
                       NULL) != SQLITE_OK);
  T_EQ_INT(chat_sqlite_fts_register(db), SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, "CREATE VIRTUAL TABLE f USING fts5(b, tokenize='chat')", NULL, NULL,
                        NULL),
           SQLITE_OK);
  sqlite3_close(db);
}

int main(void) {
  open_db();
  T_RUN(test_tokens);
  T_RUN(test_search);
  T_RUN(test_register);
  close_db();
  return T_DONE();
}
