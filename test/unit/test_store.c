/* Unit tests of the store.  Every case runs against SQLite (a database in
 * a fresh temporary folder, removed at the end) and, when the environment
 * variable CHAT_TEST_MYSQL_URL names a MySQL / MariaDB server
 * (mysql://user:pass@host:port/db, e.g. from scripts/mariadb-temp.sh),
 * against a fresh database created there for this run (chat_test_ and a
 * random suffix, so the user needs rights on chat_test%) and dropped at the
 * end. */
#define _GNU_SOURCE
#include <ftw.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/backend.h"
#include "store/store.h"
#include "t.h"

extern const char *const chat_schema_sqlite_files[][2];
extern const char *const chat_schema_mysql_files[][2];

static char g_dir[64];     /* the temporary folder */
static char g_path[256];   /* the SQLite database, two folders below g_dir */
static chat_store_t *g_store;
static int g_mysql;        /* the backend under test is MySQL */
static char g_url[1200];   /* MySQL: the url of this run's database */
static MYSQL *g_raw;       /* MySQL: a plain connection to that database */

/* --- helpers -------------------------------------------------------------- */

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int schema_files(void) {
  int n = 0;
  if (g_mysql)
    while (chat_schema_mysql_files[n][0] != NULL) n++;
  else
    while (chat_schema_sqlite_files[n][0] != NULL) n++;
  return n;
}

static long long mysql_raw_int(const char *sql) {
  MYSQL_RES *res;
  MYSQL_ROW row;
  long long v = -1;

  if (mysql_query(g_raw, sql) != 0) {
    fprintf(stderr, "raw query: %s: %s\n", sql, mysql_error(g_raw));
    return -1;
  }
  res = mysql_store_result(g_raw);
  if (res == NULL) return -1;
  row = mysql_fetch_row(res);
  if (row != NULL && row[0] != NULL) v = strtoll(row[0], NULL, 10);
  mysql_free_result(res);
  return v;
}

/* Runs sql on a separate plain connection and returns the integer in the
 * first column of the first row (-1 if none). */
static long long raw_int(const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  long long v = -1;

  if (g_mysql) return mysql_raw_int(sql);
  if (sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

static void raw_exec(const char *sql) {
  sqlite3 *db;

  if (g_mysql) {
    if (mysql_query(g_raw, sql) != 0)
      fprintf(stderr, "raw exec: %s: %s\n", sql, mysql_error(g_raw));
    T_EQ_INT(mysql_errno(g_raw), 0);
    return;
  }
  if (sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
    T_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

static void hash_of(uint8_t h[CHAT_TOKEN_HASH_LEN], int seed) {
  int i;
  for (i = 0; i < CHAT_TOKEN_HASH_LEN; i++) h[i] = (uint8_t)(seed * 31 + i);
}

static int64_t make_user(const char *name) {
  chat_user_rec_t u;
  int rc = chat_store_user_create(g_store, name, "x@example.org", "$argon2id$x",
                                  CHAT_ROLE_USER, 1000, &u);
  T_EQ_INT(rc, 0);
  return rc == 0 ? u.id : -1;
}

static int64_t make_room(const char *name) {
  chat_room_rec_t r;
  int rc = chat_store_room_create(g_store, name, "", &r);
  T_EQ_INT(rc, 0);
  return rc == 0 ? r.id : -1;
}

static void msg_item(chat_msg_insert_t *it, int64_t room, int64_t sender,
                     const char *text, const char *cid, int64_t ts) {
  memset(it, 0, sizeof(*it));
  it->room = room;
  it->sender_id = sender;
  it->text = text;
  it->cid = cid;
  it->ts = ts;
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
                   "'messages_sender_cid'"),
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

/* --- users and sessions --------------------------------------------------- */

static void test_users(void) {
  chat_user_rec_t u, v;
  char longname[CHAT_NAME_MAX + 2];
  int64_t alice;

  T_EQ_INT(chat_store_user_create(g_store, "Alice", "alice@example.org",
                                  "$argon2id$v=19$alice", CHAT_ROLE_USER, 1234,
                                  &u),
           0);
  alice = u.id;
  T_CHECK(alice > 0);
  T_EQ_STR(u.username, "Alice");
  T_EQ_INT(u.banned, 0);

  /* Unique without regard to ASCII case. */
  T_EQ_INT(chat_store_user_create(g_store, "alice", "", "$h$", CHAT_ROLE_USER,
                                  1, &v),
           CHAT_EEXIST);
  T_EQ_INT(chat_store_user_create(g_store, "ALICE", "", "$h$", CHAT_ROLE_USER,
                                  1, NULL),
           CHAT_EEXIST);

  memset(&v, 0, sizeof(v));
  T_EQ_INT(chat_store_user_by_name(g_store, "aLiCe", &v), 0);
  T_EQ_INT(v.id, alice);
  T_EQ_STR(v.username, "Alice");
  T_EQ_STR(v.email, "alice@example.org");
  T_EQ_STR(v.pwhash, "$argon2id$v=19$alice");
  T_EQ_INT(v.role, CHAT_ROLE_USER);
  T_EQ_INT(v.created_ms, 1234);
  T_EQ_INT(chat_store_user_by_id(g_store, alice, &v), 0);
  T_EQ_STR(v.username, "Alice");

  /* Chinese names: byte-exact, unique, found by name and id. */
  T_EQ_INT(chat_store_user_create(g_store, "张三", "zs@example.org", "$h$",
                                  CHAT_ROLE_ADMIN, 5, &u),
           0);
  T_EQ_INT(chat_store_user_create(g_store, "张三", NULL, "$h$", CHAT_ROLE_USER,
                                  5, NULL),
           CHAT_EEXIST);
  memset(&v, 0, sizeof(v));
  T_EQ_INT(chat_store_user_by_name(g_store, "张三", &v), 0);
  T_EQ_INT(v.id, u.id);
  T_EQ_STR(v.username, "张三");
  T_EQ_INT(v.role, CHAT_ROLE_ADMIN);
  memset(&v, 0, sizeof(v));
  T_EQ_INT(chat_store_user_by_id(g_store, u.id, &v), 0);
  T_EQ_STR(v.username, "张三");
  T_EQ_INT(chat_store_user_by_name(g_store, "张", &v), CHAT_ENOTFOUND);

  /* Only ASCII folds: Greek capital and small omega are two names. */
  T_EQ_INT(make_user("Ωmega") > 0, 1);
  T_EQ_INT(make_user("ωmega") > 0, 1);

  /* A NULL e-mail is stored as "". */
  T_EQ_INT(chat_store_user_create(g_store, "noemail", NULL, "$h$",
                                  CHAT_ROLE_USER, 5, NULL),
           0);
  T_EQ_INT(chat_store_user_by_name(g_store, "NOEMAIL", &v), 0);
  T_EQ_STR(v.email, "");

  T_EQ_INT(chat_store_user_by_name(g_store, "nobody", &v), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_user_by_id(g_store, 999999, &v), CHAT_ENOTFOUND);

  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  T_EQ_INT(chat_store_user_create(g_store, longname, "", "$h$", CHAT_ROLE_USER,
                                  1, NULL),
           CHAT_EINVAL);
  T_EQ_INT(chat_store_user_by_name(g_store, longname, &v), CHAT_ENOTFOUND);
}

static void test_sessions(void) {
  uint8_t h1[CHAT_TOKEN_HASH_LEN], h2[CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t u;
  int64_t carol = make_user("carol");
  char sql[128];

  hash_of(h1, 1);
  hash_of(h2, 2);
  T_EQ_INT(chat_store_session_create(g_store, h1, carol, 1000, 2000), 0);
  T_EQ_INT(chat_store_session_create(g_store, h1, carol, 1000, 2000),
           CHAT_EEXIST);
  T_EQ_INT(chat_store_session_create(g_store, h2, 999999, 1000, 2000),
           CHAT_ENOTFOUND);

  memset(&u, 0, sizeof(u));
  T_EQ_INT(chat_store_session_lookup(g_store, h1, 1999, &u), 0);
  T_EQ_INT(u.id, carol);
  T_EQ_STR(u.username, "carol");
  T_EQ_STR(u.pwhash, "$argon2id$x");
  /* Expired at expires_ms. */
  T_EQ_INT(chat_store_session_lookup(g_store, h1, 2000, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_session_lookup(g_store, h2, 1500, &u), CHAT_ENOTFOUND);

  /* A new session of the user drops the user's expired ones. */
  T_EQ_INT(chat_store_session_create(g_store, h2, carol, 3000, 9000), 0);
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FROM sessions WHERE user_id = %lld",
           (long long)carol);
  T_EQ_INT(raw_int(sql), 1);

  T_EQ_INT(chat_store_session_lookup(g_store, h2, 3000, NULL), 0);
  T_EQ_INT(chat_store_session_delete(g_store, h2), 0);
  T_EQ_INT(chat_store_session_lookup(g_store, h2, 3000, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_session_delete(g_store, h2), 0); /* absent: fine */
}

static void test_set_password(void) {
  uint8_t h[4][CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t u;
  int64_t bob = make_user("bob"), dave = make_user("dave");
  int i;

  for (i = 0; i < 4; i++) hash_of(h[i], 10 + i);
  for (i = 0; i < 3; i++)
    T_EQ_INT(chat_store_session_create(g_store, h[i], bob, 100, 10000), 0);
  T_EQ_INT(chat_store_session_create(g_store, h[3], dave, 100, 10000), 0);

  T_EQ_INT(chat_store_user_set_password(g_store, bob, "$new$", h[1]), 0);
  T_EQ_INT(chat_store_session_lookup(g_store, h[0], 200, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_session_lookup(g_store, h[2], 200, &u), CHAT_ENOTFOUND);
  memset(&u, 0, sizeof(u));
  T_EQ_INT(chat_store_session_lookup(g_store, h[1], 200, &u), 0);
  T_EQ_INT(u.id, bob);
  T_EQ_STR(u.pwhash, "$new$");
  /* Another user's sessions are untouched. */
  T_EQ_INT(chat_store_session_lookup(g_store, h[3], 200, &u), 0);
  T_EQ_INT(u.id, dave);

  /* NULL keeps none. */
  T_EQ_INT(chat_store_user_set_password(g_store, bob, "$newer$", NULL), 0);
  T_EQ_INT(chat_store_session_lookup(g_store, h[1], 200, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_user_by_id(g_store, bob, &u), 0);
  T_EQ_STR(u.pwhash, "$newer$");

  T_EQ_INT(chat_store_user_set_password(g_store, 999999, "$x$", NULL),
           CHAT_ENOTFOUND);
}

/* --- rooms ---------------------------------------------------------------- */

static void test_rooms(void) {
  chat_room_rec_t r, q, *list = NULL;
  chat_msg_insert_t it;
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0, i;
  int64_t general, tech, sender = make_user("roomtester");
  char sql[128];

  T_EQ_INT(chat_store_room_create(g_store, "General", "talk", &r), 0);
  general = r.id;
  T_CHECK(general > 0);
  T_EQ_STR(r.name, "General");
  T_EQ_STR(r.topic, "talk");
  T_EQ_INT(chat_store_room_create(g_store, "general", "", &q), CHAT_EEXIST);
  T_EQ_INT(chat_store_room_create(g_store, "LOBBY", "", NULL), CHAT_EEXIST);

  T_EQ_INT(chat_store_room_create(g_store, "技术讨论", "C 语言 🛠", &r), 0);
  tech = r.id;
  memset(&q, 0, sizeof(q));
  T_EQ_INT(chat_store_room_get(g_store, tech, &q), 0);
  T_EQ_STR(q.name, "技术讨论");
  T_EQ_STR(q.topic, "C 语言 🛠");

  /* Update: NULL keeps a field. */
  T_EQ_INT(chat_store_room_update(g_store, general, NULL, "new topic", &q), 0);
  T_EQ_INT(q.id, general);
  T_EQ_STR(q.name, "General");
  T_EQ_STR(q.topic, "new topic");
  T_EQ_INT(chat_store_room_update(g_store, general, "Random", NULL, &q), 0);
  T_EQ_STR(q.name, "Random");
  T_EQ_STR(q.topic, "new topic");
  /* Renaming to a different case of its own name is allowed. */
  T_EQ_INT(chat_store_room_update(g_store, general, "RANDOM", NULL, NULL), 0);
  T_EQ_INT(chat_store_room_update(g_store, general, "Lobby", NULL, &q),
           CHAT_EEXIST);
  T_EQ_INT(chat_store_room_get(g_store, general, &q), 0);
  T_EQ_STR(q.name, "RANDOM");
  T_EQ_INT(chat_store_room_update(g_store, 999999, "x", NULL, &q),
           CHAT_ENOTFOUND);

  T_EQ_INT(chat_store_room_list(g_store, &list, &n), 0);
  T_CHECK(n >= 3);
  for (i = 1; i < n; i++) T_CHECK(list[i - 1].id < list[i].id);
  if (n >= 3) {
    T_EQ_STR(list[0].name, "lobby");
    T_EQ_STR(list[n - 2].name, "RANDOM");
    T_EQ_STR(list[n - 1].name, "技术讨论");
  }
  free(list);

  /* Deleting a room deletes its messages. */
  msg_item(&it, general, sender, "doomed", NULL, 1);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, &it, 1), 0);
  T_EQ_INT(it.status, 0);
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FROM messages WHERE room_id = %lld",
           (long long)general);
  T_EQ_INT(raw_int(sql), 1);
  T_EQ_INT(chat_store_room_delete(g_store, general), 0);
  T_EQ_INT(raw_int(sql), 0);
  T_EQ_INT(chat_store_room_get(g_store, general, &q), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_room_delete(g_store, general), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_history(g_store, general, 0, 10, &msgs, &n),
           CHAT_ENOTFOUND);
  T_CHECK(msgs == NULL);
  T_EQ_INT(chat_store_msg_since(g_store, general, 0, 10, &msgs, &n),
           CHAT_ENOTFOUND);

  /* The name is free again. */
  T_EQ_INT(chat_store_room_create(g_store, "random", NULL, &r), 0);
  T_CHECK(r.id > tech);
  T_EQ_STR(r.topic, "");
}

/* --- messages ------------------------------------------------------------- */

static void test_insert_batch(void) {
  chat_msg_insert_t it[6];
  chat_msg_rec_t *msgs = NULL;
  size_t n = 0;
  int64_t room = make_room("batch"), u1 = make_user("sender1"),
          u2 = make_user("sender2");
  int i;

  msg_item(&it[0], room, u1, "one", "c1", 100);
  msg_item(&it[1], room, u1, "two", "c2", 101);
  msg_item(&it[2], room, u1, "three", NULL, 102);
  msg_item(&it[3], room, u2, "four", "c1", 103); /* other sender: not dup */
  msg_item(&it[4], room, u1, "five", NULL, 104);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 5), 0);
  for (i = 0; i < 5; i++) {
    T_EQ_INT(it[i].status, 0);
    T_EQ_INT(it[i].dup, 0);
    T_EQ_INT(it[i].stored_ts, 100 + i);
    if (i > 0) T_CHECK(it[i].id > it[i - 1].id);
  }
  int64_t c1_id = it[0].id, last = it[4].id;

  /* Across batches: a resent cid gets the first id and ts back; within a
   * batch: the second c6 is a dup of the first; an unknown room fails only
   * its own item. */
  msg_item(&it[0], room, u1, "one again", "c1", 500);
  msg_item(&it[1], room, u1, "six", "c6", 501);
  msg_item(&it[2], room, u1, "six again", "c6", 502);
  msg_item(&it[3], 999999, u1, "nowhere", "c7", 503);
  msg_item(&it[4], room, u1, "eight", "c8", 504);
  msg_item(&it[5], room, 999999, "ghost", NULL, 505);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 6), 0);
  T_EQ_INT(it[0].dup, 1);
  T_EQ_INT(it[0].id, c1_id);
  T_EQ_INT(it[0].stored_ts, 100);
  T_EQ_INT(it[0].status, 0);
  T_EQ_INT(it[1].dup, 0);
  T_CHECK(it[1].id > last);
  T_EQ_INT(it[1].stored_ts, 501);
  T_EQ_INT(it[2].dup, 1);
  T_EQ_INT(it[2].id, it[1].id);
  T_EQ_INT(it[2].stored_ts, 501);
  T_EQ_INT(it[3].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[3].dup, 0);
  T_EQ_INT(it[4].status, 0);
  T_EQ_INT(it[4].dup, 0);
  T_CHECK(it[4].id > it[1].id);
  T_EQ_INT(it[5].status, CHAT_ENOTFOUND); /* unknown sender */

  /* c7 was not stored, so it is new now. */
  msg_item(&it[0], room, u1, "seven", "c7", 600);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
  T_EQ_INT(it[0].dup, 0);
  T_EQ_INT(it[0].status, 0);
  T_CHECK(it[0].id > 0);

  T_EQ_INT(chat_store_msg_insert_batch(g_store, NULL, 0), 0);

  /* A failing insert rolls the whole batch back: a trigger (added by
   * another connection, so the cached statements must also survive a
   * schema change) rejects one text. */
  if (g_mysql)
    raw_exec("CREATE TRIGGER boom BEFORE INSERT ON messages FOR EACH ROW "
             "BEGIN IF NEW.text = 'boom' THEN "
             "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END");
  else
    raw_exec("CREATE TRIGGER boom BEFORE INSERT ON messages "
             "WHEN NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  msg_item(&it[0], room, u1, "before boom", "c9", 700);
  msg_item(&it[1], room, u1, "boom", "c10", 701);
  fprintf(stderr, "(an error line from the store is expected here)\n");
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), CHAT_EUNAVAIL);
  T_EQ_INT(it[0].id, 0);
  raw_exec("DROP TRIGGER boom");
  msg_item(&it[0], room, u2, "c9 by someone else", "c9", 800);
  msg_item(&it[1], room, u1, "c9 again", "c9", 801);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  T_EQ_INT(it[1].dup, 0); /* the rolled-back c9 left no trace */
  T_EQ_INT(it[1].stored_ts, 801);

  /* one two three four five six eight seven, then the two c9 */
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 100, &msgs, &n), 0);
  T_EQ_INT(n, 10);
  if (n == 10) {
    T_EQ_STR(msgs[0].text, "one");
    T_EQ_STR(msgs[0].sender, "sender1");
    T_EQ_INT(msgs[0].room, room);
    T_EQ_INT(msgs[0].ts, 100);
    T_EQ_STR(msgs[3].sender, "sender2");
    T_EQ_STR(msgs[5].text, "six");
    T_EQ_STR(msgs[6].text, "eight");
    T_EQ_STR(msgs[7].text, "seven");
  }
  chat_store_msgs_free(msgs, n);
  chat_store_msgs_free(NULL, 0);
}

static void test_history(void) {
  enum { N = 25 };
  chat_msg_insert_t it[N];
  chat_msg_rec_t *m = NULL;
  char texts[N][16];
  int64_t ids[N];
  size_t n = 0, i;
  int64_t room = make_room("history"), other = make_room("history-other"),
          u = make_user("historian");

  for (i = 0; i < N; i++) {
    snprintf(texts[i], sizeof(texts[i]), "m%zu", i);
    msg_item(&it[i], room, u, texts[i], NULL, 1000 + (int64_t)i);
  }
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 10), 0);
  /* Interleave another room so a room's ids are not contiguous. */
  {
    chat_msg_insert_t o;
    msg_item(&o, other, u, "elsewhere", NULL, 1);
    T_EQ_INT(chat_store_msg_insert_batch(g_store, &o, 1), 0);
  }
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it + 10, N - 10), 0);
  for (i = 0; i < N; i++) ids[i] = it[i].id;

  /* The newest page. */
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 10);
  for (i = 0; i < n; i++) {
    T_EQ_INT(m[i].id, ids[15 + i]);
    T_EQ_STR(m[i].text, texts[15 + i]);
  }
  chat_store_msgs_free(m, n);

  /* Paging back with before = the first id of the page. */
  T_EQ_INT(chat_store_msg_history(g_store, room, ids[15], 10, &m, &n), 0);
  T_EQ_INT(n, 10);
  for (i = 0; i < n; i++) T_EQ_INT(m[i].id, ids[5 + i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_msg_history(g_store, room, ids[5], 10, &m, &n), 0);
  T_EQ_INT(n, 5);
  for (i = 0; i < n; i++) T_EQ_INT(m[i].id, ids[i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_msg_history(g_store, room, ids[0], 10, &m, &n), 0);
  T_EQ_INT(n, 0);
  chat_store_msgs_free(m, n);
  /* before between two ids of the room. */
  T_EQ_INT(chat_store_msg_history(g_store, room, ids[10], 3, &m, &n), 0);
  T_EQ_INT(n, 3);
  if (n == 3) {
    T_EQ_INT(m[0].id, ids[7]);
    T_EQ_INT(m[2].id, ids[9]);
  }
  chat_store_msgs_free(m, n);

  /* since: the newest up to limit after since_id, ascending. */
  T_EQ_INT(chat_store_msg_since(g_store, room, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 10);
  for (i = 0; i < n; i++) T_EQ_INT(m[i].id, ids[15 + i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_msg_since(g_store, room, ids[19], 50, &m, &n), 0);
  T_EQ_INT(n, 5);
  for (i = 0; i < n; i++) {
    T_EQ_INT(m[i].id, ids[20 + i]);
    T_EQ_INT(m[i].ts, 1020 + (int64_t)i);
  }
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_msg_since(g_store, room, ids[N - 1], 50, &m, &n), 0);
  T_EQ_INT(n, 0);
  T_CHECK(m == NULL);

  /* An empty room is not an unknown room. */
  T_EQ_INT(chat_store_msg_history(g_store, make_room("empty"), 0, 10, &m, &n),
           0);
  T_EQ_INT(n, 0);
  T_EQ_INT(chat_store_msg_history(g_store, 999999, 0, 10, &m, &n),
           CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 0, &m, &n), CHAT_EINVAL);
}

static void test_text_roundtrip(void) {
  static const char *const texts[] = {
      "你好，世界！",
      "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇨🇳",
      "日本語 한국어 العربية עברית",
      "e\xcc\x81 combining, \xef\xbb\xbf BOM, \xe2\x80\x8b ZWSP",
      "line1\nline2\ttab \"quotes\" 'single' %s %d \\",
      "",
  };
  enum { NT = sizeof(texts) / sizeof(texts[0]) };
  chat_msg_insert_t it[NT + 1];
  chat_msg_rec_t *m = NULL;
  char *big;
  size_t n = 0, i, blen;
  int64_t room = make_room("文字 🌏"), u = make_user("李四");

  /* 4000 characters of 3 bytes each. */
  blen = 4000 * strlen("汉");
  big = malloc(blen + 1);
  T_CHECK(big != NULL);
  if (big == NULL) return;
  for (i = 0; i < 4000; i++) memcpy(big + 3 * i, "汉", 3);
  big[blen] = '\0';

  for (i = 0; i < NT; i++) msg_item(&it[i], room, u, texts[i], texts[i], 1);
  msg_item(&it[NT], room, u, big, "大", 2);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, NT + 1), 0);
  for (i = 0; i <= NT; i++) T_EQ_INT(it[i].status, 0);

  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 100, &m, &n), 0);
  T_EQ_INT(n, NT + 1);
  if (n == NT + 1) {
    for (i = 0; i < NT; i++) {
      T_EQ_INT(strlen(m[i].text), strlen(texts[i]));
      T_EQ_STR(m[i].text, texts[i]);
      T_EQ_STR(m[i].sender, "李四");
    }
    T_EQ_INT(strlen(m[NT].text), blen);
    T_CHECK(memcmp(m[NT].text, big, blen + 1) == 0);
  }
  chat_store_msgs_free(m, n);

  /* An emoji cid de-duplicates like any other. */
  msg_item(&it[0], room, u, "again", texts[1], 3);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
  T_EQ_INT(it[0].dup, 1);
  free(big);
}

/* --- concurrency ---------------------------------------------------------- */

enum { CT_THREADS = 4, CT_BATCHES = 40, CT_BATCH = 8 };

typedef struct {
  chat_store_t *store;
  int64_t room, user;
  int k;
  int errors;
} ct_arg_t;

static void *ct_main(void *p) {
  ct_arg_t *a = p;
  chat_msg_insert_t it[CT_BATCH];
  char text[CT_BATCH][32], cid[CT_BATCH][32];
  chat_msg_rec_t *m;
  chat_user_rec_t u;
  size_t n, i;
  int b, j;

  for (b = 0; b < CT_BATCHES; b++) {
    for (j = 0; j < CT_BATCH; j++) {
      snprintf(text[j], sizeof(text[j]), "t%d-%d 线程", a->k, b * CT_BATCH + j);
      snprintf(cid[j], sizeof(cid[j]), "t%d-%d", a->k, b * CT_BATCH + j);
      msg_item(&it[j], a->room, a->user, text[j], cid[j], b);
    }
    if (chat_store_msg_insert_batch(a->store, it, CT_BATCH) != 0) a->errors++;
    for (j = 0; j < CT_BATCH; j++) {
      if (it[j].status != 0 || it[j].dup != 0) a->errors++;
      if (j > 0 && it[j].id <= it[j - 1].id) a->errors++;
    }
    /* Readers at the same time as the other threads' writers. */
    if (chat_store_msg_history(a->store, a->room, 0, 20, &m, &n) != 0 ||
        n == 0)
      a->errors++;
    for (i = 1; i < n; i++)
      if (m[i].id <= m[i - 1].id) a->errors++;
    chat_store_msgs_free(m, n);
    if (chat_store_user_by_id(a->store, a->user, &u) != 0) a->errors++;
  }
  /* Resending the first batch stores nothing. */
  for (j = 0; j < CT_BATCH; j++) {
    snprintf(cid[j], sizeof(cid[j]), "t%d-%d", a->k, j);
    msg_item(&it[j], a->room, a->user, "resent", cid[j], 9999);
  }
  if (chat_store_msg_insert_batch(a->store, it, CT_BATCH) != 0) a->errors++;
  for (j = 0; j < CT_BATCH; j++)
    if (it[j].dup != 1 || it[j].stored_ts != 0) a->errors++;
  return NULL;
}

static void run_threads(chat_store_t *s, const char *room_name) {
  pthread_t th[CT_THREADS];
  ct_arg_t args[CT_THREADS];
  chat_msg_rec_t *m = NULL;
  size_t n = 0, i;
  int64_t room = make_room(room_name);
  char name[32];
  int k, total = CT_THREADS * CT_BATCHES * CT_BATCH;
  unsigned char *seen = calloc((size_t)total, 1);

  T_CHECK(seen != NULL);
  if (seen == NULL) return;
  for (k = 0; k < CT_THREADS; k++) {
    snprintf(name, sizeof(name), "%s-%d", room_name, k);
    args[k] = (ct_arg_t){.store = s, .room = room, .user = make_user(name),
                         .k = k};
    T_EQ_INT(pthread_create(&th[k], NULL, ct_main, &args[k]), 0);
  }
  for (k = 0; k < CT_THREADS; k++) {
    pthread_join(th[k], NULL);
    T_EQ_INT(args[k].errors, 0);
  }

  T_EQ_INT(chat_store_msg_since(s, room, 0, total + 10, &m, &n), 0);
  T_EQ_INT(n, total);
  for (i = 0; i < n; i++) {
    int tk, idx;
    if (i > 0) T_CHECK(m[i].id > m[i - 1].id);
    if (sscanf(m[i].text, "t%d-%d", &tk, &idx) == 2 && tk >= 0 &&
        tk < CT_THREADS && idx >= 0 && idx < CT_BATCHES * CT_BATCH)
      seen[tk * CT_BATCHES * CT_BATCH + idx]++;
  }
  for (k = 0; k < total; k++)
    if (seen[k] != 1) {
      T_EQ_INT(seen[k], 1);
      break;
    }
  chat_store_msgs_free(m, n);
  free(seen);
}

static void test_concurrency(void) {
  chat_store_t *small = NULL;
  char err[256];

  /* As many threads as connections. */
  run_threads(g_store, "concurrent");
  /* More threads than connections: calls wait for a free one; and a second
   * store on the same database writes at the same time as if it were
   * another process. */
  T_EQ_INT(chat_store_open(g_mysql ? g_url : g_path, 2, &small, err,
                           sizeof(err)),
           0);
  if (small == NULL) return;
  run_threads(small, "concurrent-small");
  chat_store_close(small);
}

/* --- MySQL only ---------------------------------------------------------- */

static void test_mysql_url(void) {
  chat_mysql_url_t u;
  char err[256];

  T_EQ_INT(chat_store_mysql_parse_url("chat:pw@db.example.org:3307/chat", &u,
                                      err, sizeof(err)),
           0);
  T_EQ_STR(u.user, "chat");
  T_EQ_STR(u.password, "pw");
  T_EQ_STR(u.host, "db.example.org");
  T_EQ_INT(u.port, 3307);
  T_EQ_STR(u.db, "chat");
  T_EQ_STR(u.socket, "");

  /* Percent-decoding; a raw '@' in the password; the default port. */
  T_EQ_INT(chat_store_mysql_parse_url(
               "mysql://ch%40t:p%3Aw%2F%25x@y@127.0.0.1/%E8%81%8A%E5%A4%A9",
               &u, err, sizeof(err)),
           0);
  T_EQ_STR(u.user, "ch@t");
  T_EQ_STR(u.password, "p:w/%x@y");
  T_EQ_STR(u.host, "127.0.0.1");
  T_EQ_INT(u.port, 3306);
  T_EQ_STR(u.db, "聊天");

  /* The socket form; an IPv6 host; no password; no user. */
  T_EQ_INT(chat_store_mysql_parse_url(
               "u:p@localhost/db?socket=/run/mysqld/mysqld.sock", &u, err,
               sizeof(err)),
           0);
  T_EQ_STR(u.host, "localhost");
  T_EQ_STR(u.socket, "/run/mysqld/mysqld.sock");
  T_EQ_INT(chat_store_mysql_parse_url("u:p@/db?socket=%2Ftmp%2Fm.sock", &u,
                                      err, sizeof(err)),
           0);
  T_EQ_STR(u.host, "localhost");
  T_EQ_STR(u.socket, "/tmp/m.sock");
  T_EQ_INT(chat_store_mysql_parse_url("u@[::1]:3310/db", &u, err, sizeof(err)),
           0);
  T_EQ_STR(u.host, "::1");
  T_EQ_INT(u.port, 3310);
  T_EQ_STR(u.user, "u");
  T_EQ_STR(u.password, "");
  T_EQ_INT(chat_store_mysql_parse_url("h/db", &u, err, sizeof(err)), 0);
  T_EQ_STR(u.user, "");
  T_EQ_STR(u.host, "h");

  /* Malformed: never echoes the password. */
  static const char *const bad[] = {
      "u:secret@h",              /* no database */
      "u:secret@h/",             /* empty database */
      "u:secret@/db",            /* no host, no socket */
      "u:secret@h:0/db",         /* port out of range */
      "u:secret@h:65536/db",
      "u:secret@h:33x/db",
      "u:secret@h:/db",
      "u:secret%zz@h/db",        /* bad escape */
      "u:secret%0@h/db",
      "u:secret%00@h/db",        /* encoded NUL */
      "u:secret@h/db?user=x",    /* unknown parameter */
      "u:secret@h/db?socket=",
      "u:secret@h/d/b",          /* a '/' in the database */
      "u:secret@[::1/db",
  };
  size_t i;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    if (chat_store_mysql_parse_url(bad[i], &u, err, sizeof(err)) !=
        CHAT_EINVAL) {
      fprintf(stderr, "accepted: %s\n", bad[i]);
      T_CHECK(0);
    }
    T_CHECK(err[0] != '\0');
    T_CHECK(strstr(err, "secret") == NULL);
  }
}

/* A server that does not answer: the open fails soon, with a message that
 * names the server but not the password. */
static void test_mysql_unreachable(void) {
  chat_store_t *s = NULL;
  char err[512];
  struct timespec t0, t1;
  double secs;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  err[0] = '\0';
  T_EQ_INT(chat_store_open("mysql://chat:s3cr%21t@127.0.0.1:1/chat", 1, &s,
                           err, sizeof(err)),
           CHAT_EUNAVAIL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  T_CHECK(s == NULL);
  T_CHECK(secs < 5.0);
  T_CHECK(strstr(err, "127.0.0.1:1") != NULL);
  T_CHECK(strstr(err, "s3cr") == NULL);
}

/* A wrong password: refused at open, and the message does not carry the
 * password that was tried. */
static void test_mysql_bad_password(void) {
  chat_mysql_url_t u;
  chat_store_t *s = NULL;
  char err[512], url[1200];

  T_EQ_INT(chat_store_mysql_parse_url(g_url, &u, err, sizeof(err)), 0);
  if (u.socket[0] != '\0')
    snprintf(url, sizeof(url), "mysql://%s:Wr0ng%%21pw@localhost/%s?socket=%s",
             u.user, u.db, u.socket);
  else if (strchr(u.host, ':') != NULL)
    snprintf(url, sizeof(url), "mysql://%s:Wr0ng%%21pw@[%s]:%u/%s", u.user,
             u.host, u.port, u.db);
  else
    snprintf(url, sizeof(url), "mysql://%s:Wr0ng%%21pw@%s:%u/%s", u.user,
             u.host, u.port, u.db);
  explicit_bzero(&u, sizeof(u));
  err[0] = '\0';
  T_EQ_INT(chat_store_open(url, 1, &s, err, sizeof(err)), CHAT_EUNAVAIL);
  T_CHECK(s == NULL);
  T_CHECK(strstr(err, "Access denied") != NULL);
  T_CHECK(strstr(err, "Wr0ng") == NULL);
}

static void test_open_schema_mysql(void) {
  chat_store_t *s = NULL;
  chat_room_rec_t *rooms = NULL;
  chat_user_rec_t u;
  char err[512];
  size_t n = 0;
  int64_t uid;

  T_EQ_INT(chat_store_open(g_url, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  T_EQ_STR(chat_store_kind(s), "mysql");
  T_EQ_INT(chat_store_ping(s), 0);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM schema_version"), schema_files());
  T_EQ_INT(raw_int("SELECT MAX(version) FROM schema_version"),
           schema_files());
  /* InnoDB and utf8mb4 everywhere. */
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.tables"
                   " WHERE table_schema = DATABASE() AND engine = 'InnoDB'"
                   " AND table_collation LIKE 'utf8mb4%' AND table_name IN"
                   " ('users', 'sessions', 'rooms', 'messages',"
                   " 'schema_version')"),
           5);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.columns"
                   " WHERE table_schema = DATABASE()"
                   " AND character_set_name <> 'utf8mb4'"),
           0);
  T_EQ_INT(raw_int("SELECT COUNT(DISTINCT index_name)"
                   " FROM information_schema.statistics"
                   " WHERE table_schema = DATABASE()"
                   " AND table_name = 'messages' AND index_name IN"
                   " ('messages_sender_cid', 'messages_room_id')"),
           2);

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

  /* Reopen: no migration runs again and the data is there. */
  s = NULL;
  T_EQ_INT(chat_store_open(g_url, 1, &s, err, sizeof(err)), 0);
  if (s == NULL) return;
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM schema_version"), schema_files());
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM rooms"), 1);
  memset(&u, 0, sizeof(u));
  T_EQ_INT(chat_store_user_by_id(s, uid, &u), 0);
  T_EQ_STR(u.username, "persist");
  T_EQ_STR(u.email, "p@example.org");
  T_EQ_INT(u.role, CHAT_ROLE_ADMIN);
  T_EQ_INT(u.created_ms, 42);
  chat_store_close(s);

  /* A database from a newer build is refused, and left alone. */
  raw_exec("INSERT INTO schema_version (version, name, applied_ms)"
           " VALUES (99, '099_future.sql', 0)");
  s = NULL;
  err[0] = '\0';
  T_EQ_INT(chat_store_open(g_url, 1, &s, err, sizeof(err)), CHAT_EINVAL);
  T_CHECK(s == NULL);
  T_CHECK(strstr(err, "newer") != NULL);
  T_EQ_INT(raw_int("SELECT MAX(version) FROM schema_version"), 99);
  raw_exec("DELETE FROM schema_version WHERE version = 99");
}

/* The socket form of the url, when the server is on this machine. */
static void test_mysql_socket(void) {
  chat_store_t *s = NULL;
  char err[512], sock[512] = "", url[2048], *q;
  MYSQL_RES *res;
  MYSQL_ROW row;
  int rc;

  if (mysql_query(g_raw, "SELECT @@socket") == 0 &&
      (res = mysql_store_result(g_raw)) != NULL) {
    row = mysql_fetch_row(res);
    if (row != NULL && row[0] != NULL)
      snprintf(sock, sizeof(sock), "%s", row[0]);
    mysql_free_result(res);
  }
  if (sock[0] == '\0' || access(sock, F_OK) != 0) {
    fprintf(stderr, "(the server's socket is not here: socket url skipped)\n");
    return;
  }
  /* Same credentials and database, through the socket. */
  if (strstr(g_url, "?socket=") != NULL) return; /* already the socket form */
  q = strrchr(g_url, '@');
  T_CHECK(q != NULL);
  if (q == NULL) return;
  snprintf(url, sizeof(url), "%.*s@localhost%s?socket=%s",
           (int)(q - g_url), g_url, strchr(q, '/'), sock);
  rc = chat_store_open(url, 1, &s, err, sizeof(err));
  if (rc != 0 && strstr(err, "Access denied") != NULL) {
    fprintf(stderr, "(no account for socket logins: socket url skipped)\n");
    return;
  }
  T_EQ_INT(rc, 0);
  if (s == NULL) return;
  T_EQ_STR(chat_store_kind(s), "mysql");
  T_EQ_INT(chat_store_ping(s), 0);
  T_EQ_INT(chat_store_room_get(s, 1, NULL), 0);
  chat_store_close(s);
}

/* The server drops every connection of the store: the call in flight fails
 * with CHAT_EUNAVAIL, the connections come back by themselves, with their
 * prepared statements. */
static void test_mysql_reconnect(void) {
  MYSQL_RES *res;
  MYSQL_ROW row;
  chat_room_rec_t r;
  chat_user_rec_t u;
  chat_msg_insert_t it;
  chat_msg_rec_t *m = NULL;
  size_t n = 0;
  char sql[128];
  int killed = 0, failures = 0, i, rc;
  int64_t room = make_room("reconnect"), user = make_user("reconnecter");

  if (mysql_query(g_raw, "SELECT id FROM information_schema.processlist"
                         " WHERE db = DATABASE() AND id <> CONNECTION_ID()") ||
      (res = mysql_store_result(g_raw)) == NULL) {
    T_CHECK(0);
    return;
  }
  while ((row = mysql_fetch_row(res)) != NULL) {
    snprintf(sql, sizeof(sql), "KILL CONNECTION %lld",
             strtoll(row[0], NULL, 10));
    if (mysql_query(g_raw, sql) == 0) killed++;
  }
  mysql_free_result(res);
  T_EQ_INT(killed, 4); /* the pool */

  fprintf(stderr, "(a lost-connection line from the store is expected)\n");
  for (i = 0; i < 10; i++) {
    rc = chat_store_room_get(g_store, room, &r);
    if (rc == CHAT_EUNAVAIL)
      failures++;
    else
      T_EQ_INT(rc, 0);
  }
  /* Only the call that found the first dead connection; the others were
   * checked before use. */
  T_CHECK(failures <= 1);
  T_EQ_INT(chat_store_room_get(g_store, room, &r), 0);
  T_EQ_STR(r.name, "reconnect");

  msg_item(&it, room, user, "after the kill", "rc1", 5);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, &it, 1), 0);
  T_EQ_INT(it.status, 0);
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_STR(m[0].text, "after the kill");
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_user_by_name(g_store, "RECONNECTER", &u), 0);
}

/* --- runs ----------------------------------------------------------------- */

static void run_common(void) {
  T_RUN(test_users);
  T_RUN(test_sessions);
  T_RUN(test_set_password);
  T_RUN(test_rooms);
  T_RUN(test_insert_batch);
  T_RUN(test_history);
  T_RUN(test_text_roundtrip);
}

static void run_sqlite(void) {
  char err[256];
  int rc;

  fprintf(stderr, "== sqlite\n");
  g_mysql = 0;
  T_RUN(test_open_schema);
  T_RUN(test_open_errors);

  rc = chat_store_open(g_path, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_concurrency);
    T_EQ_INT(chat_store_ping(g_store), 0);
    chat_store_close(g_store);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  g_store = NULL;
}

static void run_mysql(const char *url) {
  chat_mysql_url_t u;
  char err[512], db[64], sql[160];
  const char *auth, *slash, *query;
  unsigned char rnd[6];
  FILE *f;
  int rc, i;

  fprintf(stderr, "== mysql\n");
  T_RUN(test_mysql_url);
  T_RUN(test_mysql_unreachable);
  if (url == NULL || url[0] == '\0') {
    fprintf(stderr, "MySQL skipped: CHAT_TEST_MYSQL_URL is not set\n");
    return;
  }
  rc = chat_store_mysql_parse_url(url, &u, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc) {
    fprintf(stderr, "CHAT_TEST_MYSQL_URL: %s\n", err);
    return;
  }

  /* A fresh database: chat_test_ and 12 random hex digits. */
  f = fopen("/dev/urandom", "rb");
  T_CHECK(f != NULL && fread(rnd, 1, sizeof(rnd), f) == sizeof(rnd));
  if (f) fclose(f);
  strcpy(db, "chat_test_");
  for (i = 0; i < (int)sizeof(rnd); i++)
    snprintf(db + strlen(db), 3, "%02x", rnd[i]);
  auth = strstr(url, "://");
  auth = auth ? auth + 3 : url;
  slash = strchr(auth, '/');
  query = strchr(slash, '?');
  snprintf(g_url, sizeof(g_url), "mysql://%.*s/%s%s", (int)(slash - auth),
           auth, db, query ? query : "");

  g_raw = mysql_init(NULL);
  mysql_options(g_raw, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (u.socket[0] != '\0') {
    unsigned proto = MYSQL_PROTOCOL_SOCKET;
    mysql_options(g_raw, MYSQL_OPT_PROTOCOL, &proto);
  }
  if (mysql_real_connect(g_raw, u.host, u.user[0] ? u.user : NULL,
                         u.password, u.db, u.port,
                         u.socket[0] ? u.socket : NULL, 0) == NULL) {
    fprintf(stderr, "cannot connect to the test server: %s\n",
            mysql_error(g_raw));
    T_CHECK(0);
    mysql_close(g_raw);
    g_raw = NULL;
    explicit_bzero(&u, sizeof(u));
    return;
  }
  explicit_bzero(&u, sizeof(u));
  snprintf(sql, sizeof(sql),
           "CREATE DATABASE `%s` CHARACTER SET utf8mb4"
           " COLLATE utf8mb4_unicode_ci",
           db);
  if (mysql_query(g_raw, sql) != 0 || mysql_select_db(g_raw, db) != 0) {
    fprintf(stderr, "cannot create database %s: %s\n", db,
            mysql_error(g_raw));
    T_CHECK(0);
    mysql_close(g_raw);
    g_raw = NULL;
    return;
  }
  fprintf(stderr, "(database %s)\n", db);

  g_mysql = 1;
  T_RUN(test_open_schema_mysql);
  T_RUN(test_mysql_bad_password);
  T_RUN(test_mysql_socket);
  rc = chat_store_open(g_url, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_mysql_reconnect);
    T_RUN(test_concurrency);
    T_EQ_INT(chat_store_ping(g_store), 0);
    chat_store_close(g_store);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  g_store = NULL;
  g_mysql = 0;

  snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", db);
  T_EQ_INT(mysql_query(g_raw, sql), 0);
  mysql_close(g_raw);
  g_raw = NULL;
}

int main(void) {
  /* A write to a server that went away must not kill the test. */
  signal(SIGPIPE, SIG_IGN);

  snprintf(g_dir, sizeof(g_dir), "/tmp/chat_test_store_XXXXXX");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(g_path, sizeof(g_path), "%s/data/db/chat.db", g_dir);

  run_sqlite();
  run_mysql(getenv("CHAT_TEST_MYSQL_URL"));

  nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  T_CHECK(access(g_dir, F_OK) != 0);
  return T_DONE();
}
