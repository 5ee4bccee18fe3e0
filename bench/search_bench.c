/* search_bench: the search index at scale (bench/README.md, "Search").
 *
 * Fills a fresh store with N messages of mixed Chinese/ASCII chat text
 * through the store's own insert path (chat_store_msg_insert_batch, as the
 * storage actor does), then indexes them with chat_store_index_pending in
 * the storage actor's chunks, then times each kind of query through
 * chat_store_search (the whole path: index, text check, records).  Prints
 * the database size before and after indexing, the indexing time per
 * message, and per query kind the results and the median and worst of a
 * few runs.  --old-index also builds the search_tokens table the store used
 * before FTS5 (one row per distinct token, tokens.h) in a side file, to
 * compare sizes on the same data.  Nothing is asserted.
 *
 *   search_bench --url sqlite:/tmp/sb.db [--messages 1000000] [--old-index]
 *   search_bench --url mysql://user@host/db ...   (the database must be empty)
 *   search_bench --url ... --queries-only        (a database an earlier run
 *                                                  filled: the queries only) */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/rooms.h"
#include "store/sqlite_fts.h"
#include "store/store.h"
#include "store/tokens.h"

enum { USERS = 1000, ROOMS = 50, BATCH = 500, RUNS = 5 };
static int INDEX_CHUNK = 200; /* the storage actor's (src/actors/storage.c) */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of the process so far (every thread). */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t g_rnd = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
  g_rnd ^= g_rnd << 13;
  g_rnd ^= g_rnd >> 7;
  g_rnd ^= g_rnd << 17;
  return (uint32_t)(g_rnd % n);
}
/* Roughly Zipf: small values much more often. */
static uint32_t zipf(uint32_t n) {
  double u = (double)(rnd(1u << 30) + 1) / (double)(1u << 30);
  uint32_t v = (uint32_t)((double)n * u * u * u);
  return v < n ? v : n - 1;
}

/* Common Chinese characters, most frequent first. */
static const char kHan[] =
    "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家"
    "学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经"
    "头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者"
    "向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气"
    "信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活"
    "难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清"
    "物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功"
    "指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强"
    "步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版";
static const char *const kEnglish[] = {
    "ok", "the", "meeting", "tomorrow", "lol", "thanks", "please", "check", "this", "link",
    "https://example.com/x", "release", "build", "test", "failed", "fixed", "deploy", "server",
    "hi", "hello", "yes", "no", "maybe", "later", "lunch", "coffee", "bug", "PR", "merge",
    "review", "v2.3.1", "API", "json", "error", "timeout", "Beijing", "Shanghai", "WeChat", "iPhone",
    "update", "docs", "weekend", "team", "project", "sprint", "issue", "#42", "doc", "call",
    "zoom", "slides", "report", "data", "query", "index", "cache", "redis", "mysql", "sqlite"};
enum { NENG = sizeof(kEnglish) / sizeof(kEnglish[0]) };

/* The UTF-8 of the k-th character of kHan (three bytes each). */
static const char *han(size_t k) { return kHan + 3 * (k % (sizeof(kHan) / 3)); }

/* A vocabulary of Chinese words of two to four characters. */
enum { VOCAB = 4000 };
static char g_words[VOCAB][16];

static void make_vocab(void) {
  size_t nhan = (sizeof(kHan) - 1) / 3;
  for (int i = 0; i < VOCAB; i++) {
    int len = 2 + (int)rnd(3);
    char *p = g_words[i];
    for (int j = 0; j < len; j++) {
      memcpy(p, han(zipf((uint32_t)nhan)), 3);
      p += 3;
    }
    *p = '\0';
  }
}

/* Fills buf with one message; seq is its number (0-based). */
static void make_text(char *buf, size_t cap, long seq, int dm) {
  char *p = buf, *end = buf + cap - 64;
  int words = 3 + (int)rnd(12);
  for (int j = 0; j < words && p < end; j++) {
    const char *w = rnd(3) ? g_words[zipf(VOCAB)] : kEnglish[zipf(NENG)];
    if (j > 0 && (rnd(2) || (w[0] & 0x80) == 0)) *p++ = ' ';
    size_t n = strlen(w);
    if (p + n >= end) break;
    memcpy(p, w, n);
    p += n;
  }
  /* Planted phrases: 2-char and 4-char Chinese, a rare word, an ASCII
   * phrase, a word only direct messages have (half of them the
   * searcher's: see the fill). */
  if (seq % 5000 == 17) p += sprintf(p, " 我家在上海东边");
  if (seq % 50000 == 123) p += sprintf(p, " 罕见的词语");
  if (seq % 700 == 3) p += sprintf(p, " say Hello World");
  if (dm && seq % 400 == 0) p += sprintf(p, " 悄悄话");
  *p = '\0';
}

static long long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* SQLite: the database file and its WAL, after a checkpoint. */
static long long db_size(const char *path) {
  sqlite3 *db = NULL;
  char wal[600];
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
    /* A connection knows the file is in WAL mode once it has read it.  A
     * checkpoint fails at once while the store's checkpointer runs one:
     * try again for up to 30 s. */
    sqlite3_busy_timeout(db, 30000);
    sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    int log = 0, done = 0, rc;
    for (int i = 0; i < 600; i++) {
      rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
      if ((rc & 0xff) != SQLITE_BUSY) break;
      usleep(50 * 1000);
    }
    if (rc != SQLITE_OK)
      fprintf(stderr, "search_bench: checkpoint: %s, %d of %d pages (the size includes the WAL)\n",
              sqlite3_errmsg(db), done, log);
  }
  sqlite3_close(db);
  snprintf(wal, sizeof(wal), "%s-wal", path);
  return file_size(path) + file_size(wal);
}

/* The search_tokens table of migrations 002-011, rebuilt in a side file
 * from the messages of the database at path: its size in bytes. */
static long long old_index_size(const char *path) {
  char side[600];
  sqlite3 *src = NULL, *dst = NULL;
  sqlite3_stmt *sel = NULL, *ins = NULL;
  chat_token_t *toks = malloc(CHAT_TOKENS_MAX * sizeof(*toks));
  long long rows = 0;
  double t0 = now_s();

  snprintf(side, sizeof(side), "%s.old-tokens", path);
  unlink(side);
  if (toks == NULL || sqlite3_open(path, &src) != SQLITE_OK || sqlite3_open(side, &dst) != SQLITE_OK)
    return -1;
  sqlite3_exec(dst,
               "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-2000000;"
               "CREATE TABLE search_tokens (token BLOB NOT NULL, kind INTEGER NOT NULL,"
               " msg_id INTEGER NOT NULL, PRIMARY KEY (token, kind, msg_id)) WITHOUT ROWID;"
               "CREATE INDEX search_tokens_msg ON search_tokens(kind, msg_id); BEGIN",
               NULL, NULL, NULL);
  sqlite3_prepare_v2(dst, "INSERT OR IGNORE INTO search_tokens VALUES (?1, ?2, ?3)", -1, &ins,
                     NULL);
  for (int kind = 0; kind < 2; kind++) {
    sqlite3_prepare_v2(src,
                       kind ? "SELECT id, text FROM direct_messages ORDER BY id"
                            : "SELECT id, text FROM messages ORDER BY id",
                       -1, &sel, NULL);
    while (sqlite3_step(sel) == SQLITE_ROW) {
      const char *text = (const char *)sqlite3_column_text(sel, 1);
      size_t n = chat_tokens_text(text ? text : "", (size_t)sqlite3_column_bytes(sel, 1), toks,
                                  CHAT_TOKENS_MAX);
      for (size_t i = 0; i < n; i++) {
        sqlite3_bind_blob(ins, 1, toks[i].b, toks[i].len, SQLITE_STATIC);
        sqlite3_bind_int(ins, 2, kind);
        sqlite3_bind_int64(ins, 3, sqlite3_column_int64(sel, 0));
        sqlite3_step(ins);
        sqlite3_reset(ins);
        rows++;
      }
    }
    sqlite3_finalize(sel);
  }
  sqlite3_finalize(ins);
  sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL);
  sqlite3_close(dst);
  sqlite3_close(src);
  free(toks);
  printf("old index: %lld search_tokens rows, built in %.1f s\n", rows, now_s() - t0);
  long long size = file_size(side);
  unlink(side);
  return size;
}

typedef struct {
  const char *kind;
  const char *q;
  int64_t user, room;
} query_t;

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Fills a fresh store with total messages and indexes them, printing what
 * it measures; users and rooms get the ids of the fill's users and rooms:
 * users, public rooms, one private room the searcher (user 0) is not in,
 * which gets a fifth of the room messages. */
static int fill_and_index(chat_store_t *s, const char *path, long total,
                          int old_index, int64_t *users, int64_t *rooms) {
  for (int i = 0; i < USERS; i++) {
    char name[32];
    chat_user_rec_t u;
    snprintf(name, sizeof(name), "sb%d", i);
    if (chat_store_user_create(s, name, NULL, "$bench$", CHAT_ROLE_USER, 1, &u) != 0) {
      fprintf(stderr, "search_bench: user create failed (is the database empty?)\n");
      return -1;
    }
    users[i] = u.id;
  }
  for (int i = 0; i < ROOMS; i++) {
    char name[32];
    chat_room_rec_t r;
    snprintf(name, sizeof(name), "bench-%d", i);
    if (chat_store_room_create(s, name, "", &r) != 0) return -1;
    rooms[i] = r.id;
  }
  if (chat_store_room_create_owned(s, "secret", "", 1, users[1], users + 2, 20, 1,
                                   &rooms[ROOMS]) != 0)
    return -1;

  /* Fill: a tenth direct messages, the rest in rooms. */
  chat_msg_insert_t *it = calloc(BATCH, sizeof(*it));
  char *texts = malloc((size_t)BATCH * 512);
  long done = 0;
  double t0 = now_s(), c0 = cpu_s();
  while (done < total) {
    int nb = total - done < BATCH ? (int)(total - done) : BATCH;
    for (int k = 0; k < nb; k++) {
      long seq = done + k;
      int dm = seq % 10 == 0;
      char *text = texts + (size_t)k * 512;
      make_text(text, 512, seq, dm);
      memset(&it[k], 0, sizeof(it[k]));
      it[k].text = text;
      it[k].ts = 1700000000000 + seq;
      it[k].sender_id = users[1 + rnd(USERS - 1)];
      if (dm) {
        /* The searcher is in one direct message in fifty. */
        it[k].to_id = rnd(50) == 0 || seq % 800 == 0 ? users[0] : users[1 + rnd(USERS - 1)];
        if (it[k].to_id == it[k].sender_id) it[k].to_id = users[0];
      } else {
        it[k].room = rnd(5) == 0 ? rooms[ROOMS] : rooms[zipf(ROOMS)];
      }
    }
    if (chat_store_msg_insert_batch(s, it, (size_t)nb) != 0) {
      fprintf(stderr, "search_bench: insert failed\n");
      return -1;
    }
    done += nb;
  }
  double t_fill = now_s() - t0, c_fill = cpu_s() - c0;
  printf("backend %s, %ld messages (a tenth direct), %d users, %d rooms + 1 private\n",
         chat_store_kind(s), total, USERS, ROOMS);
  printf("fill (store inserts, batches of %d): %.1f s, %.0f messages/s, %.1f us CPU/message\n",
         BATCH, t_fill, (double)total / t_fill, c_fill * 1e6 / (double)total);
  long long size0 = path ? db_size(path) : 0;

  /* Index, as the storage actor does: chunks of INDEX_CHUNK. */
  t0 = now_s();
  c0 = cpu_s();
  long indexed = 0;
  for (;;) {
    int d = 0;
    if (chat_store_index_pending(s, INDEX_CHUNK, &d) != 0) {
      fprintf(stderr, "search_bench: indexing failed\n");
      return -1;
    }
    indexed += d;
    if (d == 0) break;
  }
  double t_index = now_s() - t0, c_index = cpu_s() - c0;
  printf("index (chunks of %d): %ld messages in %.1f s, %.0f messages/s, %.1f us CPU/message;"
         " index CPU over fill CPU: %.2f\n",
         INDEX_CHUNK, indexed, t_index, (double)indexed / t_index,
         c_index * 1e6 / (double)indexed, c_index / c_fill);
  printf("at 30,000 messages/s the index costs %.0f%% of one core\n",
         30000.0 * c_index / (double)indexed * 100.0);
  if (path) {
    long long size1 = db_size(path);
    printf("database: %.1f MB without the index, %.1f MB with it (index %.1f MB, %.0f bytes"
           "/message)\n",
           size0 / 1e6, size1 / 1e6, (size1 - size0) / 1e6,
           (double)(size1 - size0) / (double)total);
    if (old_index) {
      long long old = old_index_size(path);
      printf("old search_tokens on the same messages: %.1f MB; database before %.1f MB, now"
             " %.1f MB: %.2f of the size\n",
             old / 1e6, (size0 + old) / 1e6, size1 / 1e6,
             (double)size1 / (double)(size0 + old));
    }
  }
  free(it);
  free(texts);
  return 0;
}

/* The users and rooms of an earlier fill (their names are the fill's). */
static int find_filled(chat_store_t *s, int64_t *users, int64_t *rooms) {
  chat_room_rec_t *all = NULL;
  size_t n = 0, found = 0;

  for (int i = 0; i < USERS; i++) {
    char name[32];
    chat_user_rec_t u;
    snprintf(name, sizeof(name), "sb%d", i);
    if (chat_store_user_by_name(s, name, &u) != 0) return -1;
    users[i] = u.id;
  }
  if (chat_store_room_list(s, &all, &n) != 0) return -1;
  /* The private room has a made-up name; it came after the public ones. */
  rooms[ROOMS] = 0;
  for (size_t k = 0; k < n; k++) {
    int i = -1;
    if (sscanf(all[k].name, "bench-%d", &i) == 1 && i >= 0 && i < ROOMS) {
      rooms[i] = all[k].id;
      found++;
    } else if (found == ROOMS && rooms[ROOMS] == 0) {
      rooms[ROOMS] = all[k].id;
      found++;
    }
  }
  free(all);
  return found == ROOMS + 1 ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *url = NULL;
  long total = 1000000;
  int old_index = 0, queries_only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
      url = argv[++i];
    else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
      total = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--index-chunk") == 0 && i + 1 < argc)
      INDEX_CHUNK = atoi(argv[++i]);
    else if (strcmp(argv[i], "--old-index") == 0)
      old_index = 1;
    else if (strcmp(argv[i], "--queries-only") == 0)
      queries_only = 1;
    else {
      fprintf(stderr, "usage: %s --url sqlite:PATH|mysql://... [--messages N] [--index-chunk N] [--old-index] [--queries-only]\n",
              argv[0]);
      return 2;
    }
  }
  if (url == NULL || total < 1000) {
    fprintf(stderr, "search_bench: --url is required, --messages at least 1000\n");
    return 2;
  }
  const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : NULL;
  if (path && !queries_only) {
    char p2[600];
    unlink(path);
    snprintf(p2, sizeof(p2), "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof(p2), "%s-shm", path);
    unlink(p2);
  }

  chat_store_t *s = NULL;
  char err[256];
  if (chat_store_open(url, 4, &s, err, sizeof(err)) != 0) {
    fprintf(stderr, "search_bench: %s\n", err);
    return 1;
  }
  make_vocab();
  if (path && getenv("SEARCH_BENCH_SQL")) { /* experiments: FTS5 settings */
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    chat_sqlite_fts_register(db);
    if (sqlite3_exec(db, getenv("SEARCH_BENCH_SQL"), NULL, NULL, NULL) != SQLITE_OK)
      fprintf(stderr, "SEARCH_BENCH_SQL: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
  }

  int64_t *users = malloc(USERS * sizeof(*users));
  int64_t rooms[ROOMS + 1];
  if (queries_only) {
    if (find_filled(s, users, rooms) != 0) {
      fprintf(stderr, "search_bench: no filled database at %s\n", url);
      return 1;
    }
  }
  if (!queries_only && fill_and_index(s, path, total, old_index, users, rooms) != 0) return 1;

  const query_t qs[] = {
      {"common word", g_words[0], users[0], 0},
      {"common English word", "ok", users[0], 0},
      {"rare word", "罕见的词语", users[0], 0},
      {"2-char CJK", "上海", users[0], 0},
      {"1 char", "海", users[0], 0},
      {"1 char, rare", "敝", users[0], 0},
      {"ASCII 2 letters", "he", users[0], 0},
      {"ASCII word, mixed case", "HELLO world", users[0], 0},
      {"4 CJK chars", "上海东边", users[0], 0},
      {"no hit (CJK)", "上海西边", users[0], 0},
      {"no hit (ASCII)", "zqxjv", users[0], 0},
      {"deep: candidates fail check", "上 ok", users[0], 0},
      {"deep: old and rare", "罕见", users[0], 0},
      {"room filter, common", g_words[1], users[0], rooms[3]},
      {"room filter, rare", "我家在", users[0], rooms[40]},
      {"DM word (searcher's DMs)", "悄悄话", users[0], 0},
      {"private room (member)", "上海东", users[2], rooms[ROOMS]},
      {"private room hidden", g_words[2], users[0], 0},
  };
  printf("%-30s %-14s %7s %9s %9s\n", "query", "text", "results", "median ms", "max ms");
  double worst = 0;
  for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
    double t[RUNS];
    size_t n = 0;
    for (int r = 0; r < RUNS; r++) {
      chat_msg_rec_t *m = NULL;
      double a = now_s();
      int rc = chat_store_search(s, qs[i].user, qs[i].q, qs[i].room, 50, &m, &n);
      t[r] = (now_s() - a) * 1000;
      if (rc != 0) printf("  search failed: %d\n", rc);
      chat_store_msgs_free(m, n);
    }
    qsort(t, RUNS, sizeof(t[0]), cmp_d);
    if (t[RUNS - 1] > worst) worst = t[RUNS - 1];
    printf("%-30s %-14s %7zu %9.2f %9.2f\n", qs[i].kind, qs[i].q, n, t[RUNS / 2], t[RUNS - 1]);
  }
  printf("slowest query: %.2f ms\n", worst);
  chat_store_close(s);
  free(users);
  return 0;
}
