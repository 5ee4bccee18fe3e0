/* Unit tests of the store on SQLite: a database in a fresh temporary
 * folder, removed at the end.  The cases shared with MySQL are in
 * store_cases_a.h and store_cases_b.h. */
#define _GNU_SOURCE
#include <sys/resource.h>

#include "store_cases_b.h"
#include "store/sqlite_int.h" /* CHAT_SQLITE_WAL_MAX_PAGES */

static char g_dir[64]; /* the temporary folder; g_path is two folders below */

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* --- open, schema, migrations --------------------------------------------- */

static void test_open_schema(void) {
  chat_store_t *s = NULL;
  chat_room_rec_t *rooms = NULL;
  chat_user_rec_t u;
  char err[256], url[300];
  size_t n = 0;
  int64_t uid;

  /* "sqlite:" url; both folders above the file are missing. */
  snprintf(url, sizeof(url), "sqlite:%s", g_path);
  T_EQ_INT(chat_store_open(url, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) return;
  T_EQ_STR(chat_store_kind(s), "sqlite");
  T_EQ_INT(chat_store_ping(s), 0);
  T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
  T_EQ_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name IN "
                   "('users', 'sessions', 'rooms', 'messages')"),
           4);
  T_EQ_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name = "
                   "'messages_cid_sender'"),
           1);
  T_EQ_INT(raw_int("SELECT count(*) FROM pragma_journal_mode "
                   "WHERE journal_mode = 'wal'"),
           1);

  T_EQ_INT(chat_store_room_list(s, &rooms, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_STR(rooms[0].name, "lobby");
    T_CHECK(strstr(rooms[0].topic, "Lobby") != NULL);
    T_CHECK(strstr(rooms[0].topic, "大厅") != NULL);
  }
  free(rooms);

  T_EQ_INT(chat_store_user_create(s, "persist", "p@example.org", "$h$",
                                  CHAT_ROLE_ADMIN, 42, &u),
           0);
  uid = u.id;
  chat_store_close(s);

  /* Reopen with a bare path: no migration runs again (CREATE TABLE would
   * fail, the lobby would be inserted twice) and the data is there. */
  s = NULL;
  T_EQ_INT(chat_store_open(g_path, 1, &s, err, sizeof(err)), 0);
  if (s == NULL) return;
  T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
  T_EQ_INT(chat_store_room_list(s, &rooms, &n), 0);
  T_EQ_INT(n, 1);
  free(rooms);
  memset(&u, 0, sizeof(u));
  T_EQ_INT(chat_store_user_by_id(s, uid, &u), 0);
  T_EQ_STR(u.username, "persist");
  T_EQ_STR(u.email, "p@example.org");
  T_EQ_INT(u.role, CHAT_ROLE_ADMIN);
  T_EQ_INT(u.created_ms, 42);
  chat_store_close(s);

  /* A database from a newer build is refused, and left alone. */
  raw_exec("PRAGMA user_version = 99");
  s = NULL;
  err[0] = '\0';
  T_EQ_INT(chat_store_open(g_path, 1, &s, err, sizeof(err)), CHAT_EINVAL);
  T_CHECK(s == NULL);
  T_CHECK(strstr(err, "newer") != NULL);
  T_EQ_INT(raw_int("PRAGMA user_version"), 99);
  {
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", schema_files());
    raw_exec(sql);
  }

  chat_store_close(NULL);
}

static void test_open_errors(void) {
  chat_store_t *s = NULL;
  char err[256], path[300];
  FILE *f;

  T_EQ_INT(chat_store_open(g_path, 0, &s, err, sizeof(err)), CHAT_EINVAL);
  T_EQ_INT(chat_store_open("sqlite:", 1, &s, err, sizeof(err)), CHAT_EINVAL);
  T_EQ_INT(chat_store_open("mysql:u@h/db", 1, &s, err, sizeof(err)),
           CHAT_EINVAL);
  T_EQ_INT(chat_store_open("mysql://u@h", 1, &s, err, sizeof(err)),
           CHAT_EINVAL);
  T_CHECK(s == NULL);

  /* A file where a parent folder should be. */
  snprintf(path, sizeof(path), "%s/plainfile", g_dir);
  f = fopen(path, "w");
  T_CHECK(f != NULL);
  if (f) fclose(f);
  snprintf(path, sizeof(path), "%s/plainfile/sub/chat.db", g_dir);
  err[0] = '\0';
  T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), CHAT_EIO);
  T_CHECK(s == NULL);
  T_CHECK(err[0] != '\0');
  /* err may be NULL. */
  T_EQ_INT(chat_store_open(path, 1, &s, NULL, 0), CHAT_EIO);
}


static void test_migrate_002(void) {
  char path[sizeof(g_path)], saved[sizeof(g_path)], err[256];
  chat_store_t *s = NULL;
  sqlite3 *db = NULL;
  long long tokens;

  snprintf(path, sizeof(path), "%s/old001.db", g_dir);
  T_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                                          SQLITE_OPEN_CREATE, NULL),
           SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, chat_schema_sqlite_files[0][1], NULL, NULL, NULL),
           SQLITE_OK);
  T_EQ_INT(sqlite3_exec(
               db,
               "PRAGMA user_version = 1;"
               "INSERT INTO users (id, username, email, pwhash, role, banned,"
               " created_ms) VALUES (7, 'old-timer', 'o@example.org', '$h$',"
               " 0, 0, 5);"
               "INSERT INTO messages (room_id, sender_id, text, cid, ts)"
               " VALUES (1, 7, '旧消息 from before', 'oc1', 6),"
               " (1, 7, 'Second OLD one', NULL, 7);",
               NULL, NULL, NULL),
           SQLITE_OK);
  sqlite3_close(db);

  memcpy(saved, g_path, sizeof(saved));
  snprintf(g_path, sizeof(g_path), "%s", path);
  T_EQ_INT(raw_int("PRAGMA user_version"), 1);
  T_EQ_INT(chat_store_open(path, 2, &s, err, sizeof(err)), 0);
  if (s != NULL) {
    T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
    T_EQ_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name IN"
                     " ('direct_messages', 'friendships', 'search_room',"
                     " 'audit_log', 'read_markers', 'search_tokens')"),
             5);
    /* 012 indexed both old messages (every row has a room tag). */
    tokens = raw_int("SELECT count(*) FROM search_room"
                     " WHERE search_room MATCH '\"\x01r\"*'");
    T_EQ_INT(tokens, 2);
    check_upgraded(s);
    chat_store_close(s);
    /* Reopen: nothing runs again. */
    s = NULL;
    T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), 0);
    T_EQ_INT(raw_int("SELECT count(*) FROM search_room"
                     " WHERE search_room MATCH '\"\x01r\"*'"),
             tokens);
    chat_store_close(s);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  memcpy(g_path, saved, sizeof(g_path));
}


static void test_migrate_003(void) {
  char path[sizeof(g_path)], saved[sizeof(g_path)], err[256];
  chat_store_t *s = NULL;
  sqlite3 *db = NULL;

  snprintf(path, sizeof(path), "%s/old002.db", g_dir);
  T_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                                          SQLITE_OPEN_CREATE, NULL),
           SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, chat_schema_sqlite_files[0][1], NULL, NULL, NULL),
           SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, chat_schema_sqlite_files[1][1], NULL, NULL, NULL),
           SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL),
           SQLITE_OK);
  sqlite3_close(db);

  memcpy(saved, g_path, sizeof(saved));
  snprintf(g_path, sizeof(g_path), "%s", path);
  fill_002();
  T_EQ_INT(raw_int("PRAGMA user_version"), 2);
  T_EQ_INT(chat_store_open(path, 2, &s, err, sizeof(err)), 0);
  if (s != NULL) {
    T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
    check_upgraded_003(s);
    chat_store_close(s);
    /* Reopen: nothing runs again. */
    s = NULL;
    T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), 0);
    T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), 3);
    chat_store_close(s);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  memcpy(g_path, saved, sizeof(g_path));
}


static void test_migrate_004(void) {
  char path[sizeof(g_path)], saved[sizeof(g_path)], err[256];
  chat_store_t *s = NULL;
  sqlite3 *db = NULL;
  int i;

  snprintf(path, sizeof(path), "%s/old003.db", g_dir);
  T_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
                                          SQLITE_OPEN_CREATE, NULL),
           SQLITE_OK);
  for (i = 0; i < 3; i++)
    T_EQ_INT(sqlite3_exec(db, chat_schema_sqlite_files[i][1], NULL, NULL, NULL),
             SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL),
           SQLITE_OK);
  sqlite3_close(db);

  memcpy(saved, g_path, sizeof(saved));
  snprintf(g_path, sizeof(g_path), "%s", path);
  fill_003();
  T_EQ_INT(chat_store_open(path, 2, &s, err, sizeof(err)), 0);
  if (s != NULL) {
    T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
    check_upgraded_004(s);
    chat_store_close(s);
    /* Reopen: nothing runs again. */
    s = NULL;
    T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), 0);
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM users WHERE ident_key IS NULL"), 2);
    chat_store_close(s);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  memcpy(g_path, saved, sizeof(g_path));
}


/* --- migration 012 (FTS5) on a database of 011 with messages ------------- */

static void test_migrate_012(void) {
  char path[sizeof(g_path)], saved[sizeof(g_path)], err[256];
  chat_store_t *s = NULL;
  sqlite3 *db = NULL;
  int i, done = -1;

  snprintf(path, sizeof(path), "%s/old011.db", g_dir);
  T_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
           SQLITE_OK);
  for (i = 0; i < 11; i++)
    T_EQ_INT(sqlite3_exec(db, chat_schema_sqlite_files[i][1], NULL, NULL, NULL), SQLITE_OK);
  T_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 11", NULL, NULL, NULL), SQLITE_OK);
  /* Room messages 1-4 (3 a tombstone, 4 not indexed yet), direct
   * messages 1-2 (2 not indexed yet); search_tokens as 011 left it. */
  T_EQ_INT(sqlite3_exec(
               db,
               "INSERT INTO users (id, username, email, pwhash, role, banned, created_ms)"
               " VALUES (7, 'old-seven', '', '$h$', 0, 0, 5), (8, 'old-eight', '', '$h$', 0, 0, 5),"
               " (9, 'old-nine', '', '$h$', 0, 0, 5);"
               "INSERT INTO messages (id, room_id, sender_id, text, cid, ts, seq) VALUES"
               " (1, 1, 7, '我家在上海东边', NULL, 6, 1),"
               " (2, 1, 8, 'Say HELLO to old friends', NULL, 7, 2),"
               " (3, 1, 8, '', NULL, 8, 3),"
               " (4, 1, 7, '上海 after the cursor', NULL, 9, 4);"
               "INSERT INTO msg_extras (kind, msg_id, deleted) VALUES (0, 3, 1);"
               "INSERT INTO direct_messages (id, sender_id, receiver_id, user_lo, user_hi, text,"
               " cid, ts) VALUES (1, 7, 8, 7, 8, '上海 secret between us', NULL, 10),"
               " (2, 8, 7, 7, 8, '上海 reply later', NULL, 11);"
               "UPDATE search_cursor SET last_id = 3 WHERE kind = 0;"
               "UPDATE search_cursor SET last_id = 1 WHERE kind = 1;"
               "INSERT INTO search_tokens (token, kind, msg_id) VALUES (X'e4b88a', 0, 1);",
               NULL, NULL, NULL),
           SQLITE_OK);
  if (sqlite3_errcode(db) != SQLITE_OK) fprintf(stderr, "setup: %s\n", sqlite3_errmsg(db));
  sqlite3_close(db);

  memcpy(saved, g_path, sizeof(saved));
  snprintf(g_path, sizeof(g_path), "%s", path);
  T_EQ_INT(chat_store_open(path, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) {
    fprintf(stderr, "open: %s\n", err);
    memcpy(g_path, saved, sizeof(g_path));
    return;
  }
  chat_store_t *keep = g_store;
  g_store = s;
  T_EQ_INT(raw_int("PRAGMA user_version"), schema_files());
  T_EQ_INT(raw_int("SELECT count(*) FROM sqlite_master WHERE name = 'search_tokens'"), 0);
  /* 012 indexed what the cursors covered, not the tombstone. */
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 1), 1);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 2), 1);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 3), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 4), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_DM, 1), 1);
  T_EQ_INT(token_rows(CHAT_SEARCH_DM, 2), 0);
  /* The old messages are found through the index, the others directly. */
  T_CHECK(finds(9, "上海", 0, "我家在上海东边"));
  T_CHECK(finds(9, "hello", 0, "Say HELLO to old friends"));
  T_CHECK(finds(9, "上海", 1, "上海 after the cursor"));
  T_CHECK(finds(7, "上海", 0, "上海 secret between us"));
  T_CHECK(finds(8, "上海", 0, "上海 reply later"));
  T_CHECK(!finds(9, "上海", 0, "上海 secret between us"));
  T_EQ_INT(search_n(9, "上海", 0, NULL, NULL), 2);
  T_EQ_INT(search_n(7, "上海", 0, NULL, NULL), 4);
  T_EQ_INT(chat_store_index_pending(s, 10, &done), 0);
  T_EQ_INT(done, 2);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 4), 1);
  T_EQ_INT(search_n(7, "上海", 0, NULL, NULL), 4);
  /* Rows written by the migration go with their messages: an edit, a
   * delete, the room. */
  T_EQ_INT(chat_store_msg_edit(s, 0, 2, 8, "Say goodbye instead", 12), 0);
  T_CHECK(!finds(9, "hello", 0, "Say HELLO to old friends"));
  T_CHECK(finds(9, "GOODBYE", 0, "Say goodbye instead"));
  T_EQ_INT(chat_store_msg_delete(s, 1, 1), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 1), 0);
  T_EQ_INT(search_n(9, "上海", 0, NULL, NULL), 1);
  T_EQ_INT(chat_store_dm_delete(s, 1), 0);
  T_EQ_INT(search_n(7, "上海", 0, NULL, NULL), 2);
  T_EQ_INT(raw_int("SELECT count(*) FROM search_room WHERE search_room MATCH '\"\x01r\"*'"), 2);
  T_EQ_INT(chat_store_room_delete(s, 1), 0);
  T_EQ_INT(raw_int("SELECT count(*) FROM search_room WHERE search_room MATCH '\"\x01r\"*'"), 0);
  T_EQ_INT(search_n(7, "上海", 0, NULL, NULL), 1);
  /* The index is sound after all of it. */
  T_EQ_INT(raw_int("SELECT count(*) FROM (SELECT 1 FROM pragma_quick_check"
                   " WHERE quick_check <> 'ok')"),
           0);
  raw_exec("INSERT INTO search_room (search_room, rank) VALUES ('integrity-check', 0)");
  raw_exec("INSERT INTO search_dm (search_dm, rank) VALUES ('integrity-check', 0)");
  g_store = keep;
  chat_store_close(s);
  /* Reopen: nothing runs again. */
  s = NULL;
  T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), 0);
  chat_store_close(s);
  memcpy(g_path, saved, sizeof(g_path));
}

/* --- SQLite only: the transaction helper and SQLITE_BUSY ----------------- */

typedef struct {
  sqlite3 *holder; /* a plain connection holding the write lock */
  int calls;       /* busy handler calls */
  int release_at;  /* on this call the holder commits (0: never) */
} busy_t;

/* Gives up at once (so the store sees SQLITE_BUSY); on call release_at
 * the holder lets go of the lock first. */
static int busy_cb(void *arg, int n) {
  busy_t *b = arg;

  (void)n;
  if (++b->calls == b->release_at)
    T_EQ_INT(sqlite3_exec(b->holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  return 0;
}

static void test_tx_busy(void) {
  busy_t b;
  chat_user_rec_t u;
  int64_t uid = make_user("busy-user");

  memset(&b, 0, sizeof(b));
  T_EQ_INT(sqlite3_open_v2(g_path, &b.holder, SQLITE_OPEN_READWRITE, NULL),
           SQLITE_OK);
  chat_store_sqlite_busy_handler(g_store, busy_cb, &b);

  /* Another process holds the write lock throughout: every try gets
   * SQLITE_BUSY, and the ban fails after CHAT_STORE_TX_TRIES of them. */
  T_EQ_INT(sqlite3_exec(b.holder, "BEGIN IMMEDIATE", NULL, NULL, NULL),
           SQLITE_OK);
  fprintf(stderr, "(an error line from the store is expected here)\n");
  T_EQ_INT(chat_store_user_set_banned(g_store, uid, 1), CHAT_EUNAVAIL);
  T_EQ_INT(b.calls, CHAT_STORE_TX_TRIES);
  T_EQ_INT(chat_store_user_by_id(g_store, uid, &u), 0); /* reads go on */
  T_EQ_INT(u.banned, 0);

  /* It lets go after the first try: the second one bans. */
  b.calls = 0;
  b.release_at = 1;
  T_EQ_INT(chat_store_user_set_banned(g_store, uid, 1), 0);
  T_EQ_INT(b.calls, 1);
  T_EQ_INT(chat_store_user_by_id(g_store, uid, &u), 0);
  T_EQ_INT(u.banned, 1);

  chat_store_sqlite_busy_handler(g_store, NULL, NULL);
  T_EQ_INT(sqlite3_get_autocommit(b.holder), 1);
  sqlite3_close(b.holder);
  T_EQ_INT(chat_store_user_set_banned(g_store, uid, 0), 0);
}

/* --- the write probe (GET /healthz) --------------------------------------- */

static long long probe_n(void) {
  sqlite3 *raw;
  sqlite3_stmt *st;
  long long n = -1;

  T_EQ_INT(sqlite3_open_v2(g_path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(raw, "SELECT n FROM health_probe WHERE id = 1", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return n;
}

/* The probe commits a write.  It fails, while reads go on, when the files
 * cannot be written (RLIMIT_FSIZE: writes past it fail with EFBIG, as a
 * full disk or a read-only file system fails them) and when another
 * process keeps the write lock; it works again when that ends. */
static void test_write_probe(void) {
  struct rlimit old, tiny;
  busy_t b;
  chat_user_rec_t u;
  int64_t uid = make_user("probe-user");

  T_EQ_INT(chat_store_write_probe(g_store), 0);
  long long n0 = probe_n();
  T_CHECK(n0 >= 1);
  T_EQ_INT(chat_store_write_probe(g_store), 0);
  T_EQ_INT(probe_n(), n0 + 1);

  T_EQ_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_IGN);
  tiny = old;
  tiny.rlim_cur = 1;
  T_EQ_INT(setrlimit(RLIMIT_FSIZE, &tiny), 0);
  fprintf(stderr, "(error lines from the store are expected here)\n");
  T_EQ_INT(chat_store_write_probe(g_store), CHAT_EUNAVAIL);
  T_EQ_INT(chat_store_ping(g_store), 0);
  T_EQ_INT(chat_store_user_by_id(g_store, uid, &u), 0);
  T_EQ_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, SIG_DFL);
  T_EQ_INT(chat_store_write_probe(g_store), 0);
  T_EQ_INT(probe_n(), n0 + 2);

  memset(&b, 0, sizeof(b));
  T_EQ_INT(sqlite3_open_v2(g_path, &b.holder, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  chat_store_sqlite_busy_handler(g_store, busy_cb, &b);
  T_EQ_INT(sqlite3_exec(b.holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  T_EQ_INT(chat_store_write_probe(g_store), CHAT_EUNAVAIL);
  T_EQ_INT(b.calls, CHAT_STORE_TX_TRIES);
  T_EQ_INT(chat_store_ping(g_store), 0);
  T_EQ_INT(sqlite3_exec(b.holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  chat_store_sqlite_busy_handler(g_store, NULL, NULL);
  sqlite3_close(b.holder);
  T_EQ_INT(chat_store_write_probe(g_store), 0);
  T_EQ_INT(probe_n(), n0 + 3);
}

/* --- the WAL's size ------------------------------------------------------- */

static long long wal_size(void) {
  char wal[sizeof(g_path) + 8];
  struct stat sb;
  snprintf(wal, sizeof(wal), "%s-wal", g_path);
  return stat(wal, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Transactions back to back, as the search indexer writes when it catches
 * up: the checkpointer never finds a moment without a writer, yet the WAL
 * file stays within CHAT_SQLITE_WAL_MAX_PAGES pages and a transaction
 * (sqlite_sync.c), and every row is there.  Before, the WAL grew by
 * everything written. */
static void test_wal_bounded(void) {
  enum { BATCH = 100, TEXT = 3000 };
  const long long frame = 4096 + 24;               /* page and frame header */
  const long long rounds = 4LL * CHAT_SQLITE_WAL_MAX_PAGES / BATCH;
  const long long cap = (CHAT_SQLITE_WAL_MAX_PAGES + 4 * BATCH) * frame;
  int64_t uid = make_user("wal-writer"), room = make_room("wal-room");
  chat_msg_insert_t items[BATCH];
  static char text[TEXT + 1], cids[BATCH][32];
  long long biggest = 0;
  chat_store_sync_stats_t before, after;

  chat_store_sync_stats(g_store, &before);
  T_EQ_INT(before.have, 1);
  for (int i = 0; i < TEXT; i++) text[i] = (char)('a' + i % 26);
  for (long long r = 0; r < rounds; r++) {
    for (int i = 0; i < BATCH; i++) {
      snprintf(cids[i], sizeof(cids[i]), "wal-%lld-%d", r, i);
      msg_item(&items[i], room, uid, text, cids[i], 1000 + r);
    }
    T_EQ_INT(chat_store_msg_insert_batch(g_store, items, BATCH), 0);
    for (int i = 0; i < BATCH; i++) T_EQ_INT(items[i].status, 0);
    long long w = wal_size();
    if (w > biggest) biggest = w;
  }
  fprintf(stderr, "  %lld pages written, the WAL at most %lld pages (cap %lld)\n",
          rounds * BATCH * TEXT / 4096, biggest / frame, cap / frame);
  T_CHECK(biggest > 0);
  T_CHECK(biggest <= cap);
  /* Commits waited for checkpoints, and each batch was synced. */
  chat_store_sync_stats(g_store, &after);
  T_CHECK(after.wal_waits > before.wal_waits);
  T_CHECK(after.checkpoints > before.checkpoints);
  T_CHECK(after.syncs >= before.syncs + (uint64_t)rounds);

  sqlite3 *raw;
  sqlite3_stmt *st;
  T_EQ_INT(sqlite3_open_v2(g_path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  T_EQ_INT(sqlite3_prepare_v2(raw, "SELECT count(*), sum(length(text)) FROM messages"
                              " WHERE room_id = ?", -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_int64(st, 1, room);
  T_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  T_CHECK(sqlite3_column_int64(st, 0) == rounds * BATCH);
  T_CHECK(sqlite3_column_int64(st, 1) == rounds * BATCH * TEXT);
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

/* --- runs ----------------------------------------------------------------- */

static void run_sqlite(void) {
  char err[256];
  int rc;

  fprintf(stderr, "== sqlite\n");
  g_mysql = 0;
  T_RUN(test_open_schema);
  T_RUN(test_open_errors);
  T_RUN(test_migrate_002);
  T_RUN(test_migrate_003);
  T_RUN(test_migrate_004);
  T_RUN(test_migrate_012);

  rc = chat_store_open(g_path, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_tx_busy);
    T_RUN(test_write_probe);
    T_RUN(test_concurrency);
    T_RUN(test_wal_bounded);
    T_RUN(test_search_bench);
    T_EQ_INT(chat_store_ping(g_store), 0);
    chat_store_close(g_store);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  g_store = NULL;
}

int main(void) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/chat_test_store_XXXXXX");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(g_path, sizeof(g_path), "%s/data/db/chat.db", g_dir);

  run_sqlite();

  nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  T_CHECK(access(g_dir, F_OK) != 0);
  return T_DONE();
}
