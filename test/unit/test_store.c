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

static void dm_item(chat_msg_insert_t *it, int64_t from, int64_t to,
                    const char *text, const char *cid, int64_t ts) {
  msg_item(it, 0, from, text, cid, ts);
  it->to_id = to;
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

/* Batches larger than a multi-row statement (MySQL writes them BATCH_ROWS
 * rows at a time), room messages and DMs mixed, with every kind of item:
 * new, repeated cids within the batch and from before, a cid whose first
 * use fails, missing rooms, senders and receivers.  The answers follow
 * the rules item by item. */
static void test_insert_batch_large(void) {
  enum { N = 203 };
  static chat_msg_insert_t it[N];
  static char texts[N][32], cids[N][16];
  chat_msg_insert_t pre[2];
  chat_msg_rec_t *m = NULL;
  size_t n = 0, i, j;
  int64_t room = make_room("large-batch"), a = make_user("large-a"),
          b = make_user("large-b"), c = make_user("large-c");
  int64_t last_room = 0, last_dm = 0, pre_id;
  int rooms_new = 0;

  /* Stored before: (a, "old-r") in a room, (b, "old-d") as a DM. */
  msg_item(&pre[0], room, a, "before", "old-r", 1);
  dm_item(&pre[1], b, a, "before dm", "old-d", 2);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, pre, 2), 0);
  pre_id = pre[0].id;

  for (i = 0; i < N; i++) {
    int64_t sender = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
    const char *cid = NULL;

    snprintf(texts[i], sizeof(texts[i]), "large %zu", i);
    if (i % 4 != 3) {
      /* Every 10th cid repeats the one 5 items back. */
      snprintf(cids[i], sizeof(cids[i]), "L%zu", i % 10 == 7 ? i - 5 : i);
      cid = cids[i];
    }
    if (i % 5 == 4)
      dm_item(&it[i], sender, sender == a ? b : a, texts[i], cid, 100 + i);
    else
      msg_item(&it[i], room, sender, texts[i], cid, 100 + i);
  }
  /* Repeats of the pairs stored before; missing parents. */
  msg_item(&it[10], room, a, "dup of before", "old-r", 110);
  dm_item(&it[11], b, a, "dup of before dm", "old-d", 111);
  msg_item(&it[20], 999999, a, "no room", "first-fails", 120);
  msg_item(&it[21], room, a, "takes the cid", "first-fails", 121);
  msg_item(&it[22], 999999, a, "no room, cid taken", "first-fails", 122);
  dm_item(&it[30], a, 999999, "no receiver", NULL, 130);
  msg_item(&it[31], room, 999999, "no sender", "ghost", 131);
  msg_item(&it[32], room, a, "cid of a ghost is free", "ghost", 132);
  /* The same cid in both kinds is two messages. */
  msg_item(&it[40], room, c, "both kinds", "both", 140);
  dm_item(&it[41], c, a, "both kinds dm", "both", 141);

  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, N), 0);

  T_EQ_INT(it[10].dup, 1);
  T_EQ_INT(it[10].id, pre_id);
  T_EQ_INT(it[10].stored_ts, 1);
  T_EQ_INT(it[11].dup, 1);
  T_EQ_INT(it[11].id, pre[1].id);
  T_EQ_INT(it[11].stored_ts, 2);
  T_EQ_INT(it[20].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[20].dup, 0);
  T_EQ_INT(it[20].id, 0);
  T_EQ_INT(it[21].status, 0);
  T_EQ_INT(it[21].dup, 0);
  T_EQ_INT(it[22].status, 0);
  T_EQ_INT(it[22].dup, 1);
  T_EQ_INT(it[22].id, it[21].id);
  T_EQ_INT(it[22].stored_ts, 121);
  T_EQ_INT(it[30].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[31].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[32].status, 0);
  T_EQ_INT(it[32].dup, 0);
  T_EQ_INT(it[40].dup, 0);
  T_EQ_INT(it[41].dup, 0);

  /* The repeats within the batch, and the ids in item order per kind. */
  for (i = 0; i < N; i++) {
    int dm = it[i].to_id != 0;
    if (it[i].status != 0) {
      T_EQ_INT(it[i].id, 0);
      continue;
    }
    T_CHECK(it[i].id > 0);
    if (it[i].dup) {
      if (i == 10 || i == 11 || i == 22) continue;
      /* The first earlier item of the same kind, sender and cid. */
      for (j = 0; j < i; j++)
        if (it[j].cid != NULL && it[j].status == 0 && !it[j].dup &&
            (it[j].to_id != 0) == dm && it[j].sender_id == it[i].sender_id &&
            strcmp(it[j].cid, it[i].cid) == 0)
          break;
      T_CHECK(j < i);
      if (j < i) {
        T_EQ_INT(it[i].id, it[j].id);
        T_EQ_INT(it[i].stored_ts, it[j].ts);
      }
      continue;
    }
    T_EQ_INT(it[i].stored_ts, it[i].ts);
    for (j = 0; j < i; j++)
      if (it[j].cid != NULL && it[i].cid != NULL && it[j].status == 0 &&
          (it[j].to_id != 0) == dm && it[j].sender_id == it[i].sender_id &&
          strcmp(it[j].cid, it[i].cid) == 0)
        T_CHECK(0); /* a repeat stored as new */
    if (dm) {
      T_CHECK(it[i].id > last_dm);
      last_dm = it[i].id;
    } else {
      T_CHECK(it[i].id > last_room);
      last_room = it[i].id;
      rooms_new++;
    }
  }

  /* The room's history holds exactly the new room messages, in order. */
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 1000, &m, &n), 0);
  T_EQ_INT(n, (size_t)rooms_new + 1);
  for (i = 0, j = 1; i < N && j < n; i++) {
    if (it[i].to_id != 0 || it[i].status != 0 || it[i].dup) continue;
    T_EQ_INT(m[j].id, it[i].id);
    T_EQ_STR(m[j].text, it[i].text);
    T_EQ_INT(m[j].ts, it[i].ts);
    j++;
  }
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_history(g_store, a, c, 0, 1000, &m, &n), 0);
  for (i = 0; i < n; i++) T_CHECK(m[i].id <= last_dm);
  chat_store_msgs_free(m, n);

  /* The same batch again: every stored item is a dup of itself. */
  {
    static chat_msg_insert_t again[N];
    memcpy(again, it, sizeof(again));
    T_EQ_INT(chat_store_msg_insert_batch(g_store, again, N), 0);
    for (i = 0; i < N; i++) {
      if (it[i].cid == NULL || it[i].status != 0) continue;
      T_EQ_INT(again[i].dup, 1);
      T_EQ_INT(again[i].id, it[i].id);
      T_EQ_INT(again[i].stored_ts, it[i].stored_ts);
    }
  }

  /* A failing statement rolls the whole batch back; a foreign key that
   * fails although its parent was there (another writer deleted it
   * meanwhile; here a trigger says so) costs only that item. */
  if (g_mysql) {
    chat_msg_insert_t f[6];
    size_t before;
    T_EQ_INT(chat_store_msg_history(g_store, room, 0, 1000, &m, &n), 0);
    chat_store_msgs_free(m, n);
    before = n;
    raw_exec("CREATE TRIGGER boom2 BEFORE INSERT ON messages FOR EACH ROW "
             "BEGIN IF NEW.text = 'boom' THEN "
             "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; "
             "IF NEW.text = 'fk' THEN SIGNAL SQLSTATE '23000' "
             "SET MYSQL_ERRNO = 1452, MESSAGE_TEXT = 'gone'; END IF; END");
    for (i = 0; i < 6; i++)
      msg_item(&f[i], room, a, i == 3 ? "boom" : "fine", NULL, 900);
    fprintf(stderr, "(an error line from the store is expected here)\n");
    T_EQ_INT(chat_store_msg_insert_batch(g_store, f, 6), CHAT_EUNAVAIL);
    for (i = 0; i < 6; i++) T_EQ_INT(f[i].id, 0);
    for (i = 0; i < 6; i++)
      msg_item(&f[i], room, a, i == 2 ? "fk" : "fine", i == 2 ? "fk1" : NULL,
               901 + (int64_t)i);
    T_EQ_INT(chat_store_msg_insert_batch(g_store, f, 6), 0);
    for (i = 0; i < 6; i++) {
      T_EQ_INT(f[i].status, i == 2 ? CHAT_ENOTFOUND : 0);
      if (i > 3) T_CHECK(f[i].id > f[i - 1].id);
    }
    raw_exec("DROP TRIGGER boom2");
    T_EQ_INT(chat_store_msg_history(g_store, room, 0, 1000, &m, &n), 0);
    T_EQ_INT(n, before + 5);
    chat_store_msgs_free(m, n);
  }
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

/* --- direct messages ------------------------------------------------------ */

static void test_dm(void) {
  enum { N = 12 };
  chat_msg_insert_t it[N], one;
  chat_msg_rec_t *m = NULL;
  char texts[N][32];
  int64_t ids[N];
  size_t n = 0, i;
  int64_t ann = make_user("dm-ann"), ben = make_user("dm-ben"),
          cat = make_user("dm-cat"), room = make_room("dm-room");

  /* Alternating directions; a third user's messages in between. */
  for (i = 0; i < N; i++) {
    snprintf(texts[i], sizeof(texts[i]), "dm %zu 你好", i);
    if (i % 2 == 0)
      dm_item(&it[i], ann, ben, texts[i], NULL, 2000 + (int64_t)i);
    else
      dm_item(&it[i], ben, ann, texts[i], NULL, 2000 + (int64_t)i);
  }
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 5), 0);
  dm_item(&one, cat, ann, "from cat", NULL, 1);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, &one, 1), 0);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it + 5, N - 5), 0);
  for (i = 0; i < N; i++) {
    T_EQ_INT(it[i].status, 0);
    T_EQ_INT(it[i].dup, 0);
    ids[i] = it[i].id;
    if (i > 0) T_CHECK(ids[i] > ids[i - 1]);
  }

  /* The newest page, ascending, the same from both sides. */
  T_EQ_INT(chat_store_dm_history(g_store, ann, ben, 0, 5, &m, &n), 0);
  T_EQ_INT(n, 5);
  for (i = 0; i < n; i++) {
    T_EQ_INT(m[i].id, ids[N - 5 + i]);
    T_EQ_STR(m[i].text, texts[N - 5 + i]);
    T_EQ_INT(m[i].room, 0);
    T_EQ_INT(m[i].ts, 2000 + (int64_t)(N - 5 + i));
    if ((N - 5 + i) % 2 == 0) {
      T_EQ_STR(m[i].sender, "dm-ann");
      T_EQ_STR(m[i].to, "dm-ben");
    } else {
      T_EQ_STR(m[i].sender, "dm-ben");
      T_EQ_STR(m[i].to, "dm-ann");
    }
  }
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_history(g_store, ben, ann, 0, 5, &m, &n), 0);
  T_EQ_INT(n, 5);
  if (n == 5) T_EQ_INT(m[0].id, ids[N - 5]);
  chat_store_msgs_free(m, n);

  /* Paging back. */
  T_EQ_INT(chat_store_dm_history(g_store, ben, ann, ids[N - 5], 5, &m, &n), 0);
  T_EQ_INT(n, 5);
  for (i = 0; i < n; i++) T_EQ_INT(m[i].id, ids[N - 10 + i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_history(g_store, ann, ben, ids[N - 10], 5, &m, &n),
           0);
  T_EQ_INT(n, 2);
  for (i = 0; i < n; i++) T_EQ_INT(m[i].id, ids[i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_history(g_store, ann, ben, ids[0], 5, &m, &n), 0);
  T_EQ_INT(n, 0);

  /* The other conversation of ann. */
  T_EQ_INT(chat_store_dm_history(g_store, ann, cat, 0, 50, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_STR(m[0].text, "from cat");
    T_EQ_STR(m[0].sender, "dm-cat");
    T_EQ_STR(m[0].to, "dm-ann");
  }
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_history(g_store, ben, cat, 0, 50, &m, &n), 0);
  T_EQ_INT(n, 0);
  T_EQ_INT(chat_store_dm_history(g_store, ann, ben, 0, 0, &m, &n),
           CHAT_EINVAL);

  /* De-duplication by (sender, cid), within and across batches; the same
   * cid in a room and in a DM, or from the other user, is new. */
  dm_item(&it[0], ann, ben, "first", "dc1", 10);
  dm_item(&it[1], ann, ben, "first again", "dc1", 11);
  dm_item(&it[2], ben, ann, "other sender", "dc1", 12);
  msg_item(&it[3], room, ann, "room, same cid", "dc1", 13);
  dm_item(&it[4], ann, 999999, "nobody", "dc2", 14);
  dm_item(&it[5], 999999, ann, "ghost", "dc3", 15);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 6), 0);
  T_EQ_INT(it[0].dup, 0);
  T_EQ_INT(it[1].dup, 1);
  T_EQ_INT(it[1].id, it[0].id);
  T_EQ_INT(it[1].stored_ts, 10);
  T_EQ_INT(it[2].dup, 0);
  T_EQ_INT(it[2].status, 0);
  T_EQ_INT(it[3].dup, 0);
  T_EQ_INT(it[3].status, 0);
  T_EQ_INT(it[4].status, CHAT_ENOTFOUND); /* no such receiver */
  T_EQ_INT(it[4].id, 0);
  T_EQ_INT(it[5].status, CHAT_ENOTFOUND); /* no such sender */
  dm_item(&it[0], ann, ben, "resent", "dc1", 20);
  dm_item(&it[1], ann, ben, "now stored", "dc2", 21);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  T_EQ_INT(it[0].dup, 1);
  T_EQ_INT(it[0].stored_ts, 10);
  T_EQ_INT(it[1].dup, 0);
  T_EQ_INT(it[1].status, 0);

  /* Room messages keep their own history, with no receiver. */
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_STR(m[0].to, "");
    T_EQ_INT(m[0].room, room);
  }
  chat_store_msgs_free(m, n);

  /* A room and a receiver at once is not a message. */
  msg_item(&it[0], room, ann, "both", NULL, 1);
  it[0].to_id = ben;
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), CHAT_EINVAL);
}

/* --- friends -------------------------------------------------------------- */

static chat_friend_state_t fstate(int64_t a, int64_t b) {
  chat_friend_state_t st = (chat_friend_state_t)-1;
  T_EQ_INT(chat_store_friend_state(g_store, a, b, &st), 0);
  return st;
}

static void test_friends(void) {
  chat_friend_rec_t *f = NULL;
  chat_friend_state_t st;
  size_t n = 0;
  int64_t a = make_user("fr-alice"), b = make_user("Fr-Bob"),
          c = make_user("fr-carl"), d = make_user("FR-dan"),
          e = make_user("fr-eve");

  T_EQ_INT(fstate(a, b), CHAT_FRIEND_NONE);
  /* A asks B. */
  T_EQ_INT(chat_store_friend_request(g_store, a, b, 100, &st), 0);
  T_EQ_INT(st, CHAT_FRIEND_OUTGOING);
  T_EQ_INT(fstate(a, b), CHAT_FRIEND_OUTGOING);
  T_EQ_INT(fstate(b, a), CHAT_FRIEND_INCOMING);
  /* Asking again changes nothing. */
  T_EQ_INT(chat_store_friend_request(g_store, a, b, 101, &st), 0);
  T_EQ_INT(st, CHAT_FRIEND_OUTGOING);
  T_EQ_INT(fstate(b, a), CHAT_FRIEND_INCOMING);
  /* B asks A: accepted. */
  T_EQ_INT(chat_store_friend_request(g_store, b, a, 102, &st), 0);
  T_EQ_INT(st, CHAT_FRIEND_ACCEPTED);
  T_EQ_INT(fstate(a, b), CHAT_FRIEND_ACCEPTED);
  T_EQ_INT(fstate(b, a), CHAT_FRIEND_ACCEPTED);
  T_EQ_INT(chat_store_friend_request(g_store, a, b, 103, NULL), 0);
  T_EQ_INT(fstate(b, a), CHAT_FRIEND_ACCEPTED);

  /* C asks A (incoming for A); A asks D (outgoing); E nothing. */
  T_EQ_INT(chat_store_friend_request(g_store, c, a, 104, &st), 0);
  T_EQ_INT(chat_store_friend_request(g_store, a, d, 105, &st), 0);
  T_EQ_INT(chat_store_friend_list(g_store, a, &f, &n), 0);
  T_EQ_INT(n, 3);
  if (n == 3) { /* by username, ASCII case folded */
    T_EQ_STR(f[0].username, "Fr-Bob");
    T_EQ_INT(f[0].user_id, b);
    T_EQ_INT(f[0].state, CHAT_FRIEND_ACCEPTED);
    T_EQ_STR(f[1].username, "fr-carl");
    T_EQ_INT(f[1].state, CHAT_FRIEND_INCOMING);
    T_EQ_STR(f[2].username, "FR-dan");
    T_EQ_INT(f[2].state, CHAT_FRIEND_OUTGOING);
  }
  free(f);
  T_EQ_INT(chat_store_friend_list(g_store, c, &f, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_STR(f[0].username, "fr-alice");
    T_EQ_INT(f[0].state, CHAT_FRIEND_OUTGOING);
  }
  free(f);
  T_EQ_INT(chat_store_friend_list(g_store, e, &f, &n), 0);
  T_EQ_INT(n, 0);
  T_CHECK(f == NULL);

  /* Errors. */
  T_EQ_INT(chat_store_friend_request(g_store, a, a, 1, &st), CHAT_EINVAL);
  T_EQ_INT(chat_store_friend_request(g_store, a, 999999, 1, &st),
           CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_friend_request(g_store, 999999, a, 1, &st),
           CHAT_ENOTFOUND);
  T_EQ_INT(fstate(a, a), CHAT_FRIEND_NONE);

  /* Remove: a friendship by either side; decline (by the one asked);
   * cancel (by the one who asked); nothing to remove. */
  T_EQ_INT(chat_store_friend_remove(g_store, b, a), 0);
  T_EQ_INT(fstate(a, b), CHAT_FRIEND_NONE);
  T_EQ_INT(fstate(b, a), CHAT_FRIEND_NONE);
  T_EQ_INT(chat_store_friend_remove(g_store, a, c), 0);
  T_EQ_INT(fstate(c, a), CHAT_FRIEND_NONE);
  T_EQ_INT(chat_store_friend_remove(g_store, a, d), 0);
  T_EQ_INT(fstate(d, a), CHAT_FRIEND_NONE);
  T_EQ_INT(chat_store_friend_remove(g_store, a, e), 0);
  T_EQ_INT(chat_store_friend_list(g_store, a, &f, &n), 0);
  T_EQ_INT(n, 0);
  free(f);

  /* After a removal, asking starts again; the other side's answer makes
   * them friends again. */
  T_EQ_INT(chat_store_friend_request(g_store, b, a, 200, &st), 0);
  T_EQ_INT(st, CHAT_FRIEND_OUTGOING);
  T_EQ_INT(fstate(a, b), CHAT_FRIEND_INCOMING);
  T_EQ_INT(chat_store_friend_request(g_store, a, b, 201, &st), 0);
  T_EQ_INT(st, CHAT_FRIEND_ACCEPTED);
}

/* --- search --------------------------------------------------------------- */

/* How many results searching q (as user, in room) has, and whether one of
 * them is the text want (NULL: none asked). */
static size_t search_n(int64_t user, const char *q, int64_t room,
                       const char *want, int *found) {
  chat_msg_rec_t *m = NULL;
  size_t n = 0, i;
  int rc = chat_store_search(g_store, user, q, room, 50, &m, &n);

  T_EQ_INT(rc, 0);
  if (found != NULL) *found = 0;
  for (i = 0; i < n; i++) {
    if (want != NULL && strcmp(m[i].text, want) == 0 && found != NULL)
      *found = 1;
  }
  chat_store_msgs_free(m, n);
  return n;
}

/* 1 if searching q finds the text want. */
static int finds(int64_t user, const char *q, int64_t room, const char *want) {
  int found = 0;
  search_n(user, q, room, want, &found);
  return found;
}

/* The state of the search index a search test runs with. */
enum { IDX_NONE, IDX_HALF, IDX_ALL };

/* Indexes everything stored so far, chunk messages per call; returns how
 * many were indexed. */
static int index_by(int chunk) {
  int total = 0, done = 0, rc;

  do {
    rc = chat_store_index_pending(g_store, chunk, &done);
    T_EQ_INT(rc, 0);
    T_CHECK(done >= 0 && done <= chunk);
    total += done;
  } while (rc == 0 && done > 0);
  return total;
}

static int index_all(void) { return index_by(7); }

/* Called before a test stores n messages (before = 1) and after: brings
 * the index to the state of mode.  IDX_HALF: up to date before, then the
 * older half of the n messages. */
static void index_for(int mode, int before, size_t n) {
  int done = -1;

  if (mode == IDX_ALL && !before) index_all();
  if (mode != IDX_HALF) return;
  if (before) {
    index_all();
  } else if (n / 2 > 0) {
    T_EQ_INT(chat_store_index_pending(g_store, (int)(n / 2), &done), 0);
    T_EQ_INT(done, (int)(n / 2));
  }
}

/* Stores n items (all must succeed) with the index brought to mode. */
static void store_for(int mode, chat_msg_insert_t *it, size_t n) {
  size_t i;

  index_for(mode, 1, n);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, n), 0);
  for (i = 0; i < n; i++) T_EQ_INT(it[i].status, 0);
  index_for(mode, 0, n);
}

static long long token_rows(int kind, int64_t id) {
  char sql[160];

  snprintf(sql, sizeof(sql),
           "SELECT COUNT(*) FROM search_tokens WHERE kind = %d AND msg_id = %lld",
           kind, (long long)id);
  return raw_int(sql);
}

static long long cursor_of(int kind) {
  char sql[96];

  snprintf(sql, sizeof(sql),
           "SELECT last_id FROM search_cursor WHERE kind = %d", kind);
  return raw_int(sql);
}

/* The search cases, with every message indexed (IDX_ALL), none (IDX_NONE:
 * everything is found through the unindexed tail) or the older half of each
 * batch (IDX_HALF). */
static void search_cases(int mode) {
  static const char *const texts[] = {
      "我家在上海东边",
      "say hello to the world",
      "きょうはいいてんきですね",
      "カタカナで書く",
      "MiXeD CaSe Words",
      "北京欢迎你 Beijing",
      "emoji 😀👍 party",
  };
  enum { NT = sizeof(texts) / sizeof(texts[0]) };
  static const char *const modes[] = {"none", "half", "all"};
  chat_msg_insert_t it[NT + 4];
  chat_msg_rec_t *m = NULL;
  size_t n = 0, i;
  char name[5][32];
  int64_t u, v, w, r1, r2;

  snprintf(name[0], sizeof(name[0]), "searcher-%s", modes[mode]);
  snprintf(name[1], sizeof(name[1]), "searcher2-%s", modes[mode]);
  snprintf(name[2], sizeof(name[2]), "outsider-%s", modes[mode]);
  snprintf(name[3], sizeof(name[3]), "search-1-%s", modes[mode]);
  snprintf(name[4], sizeof(name[4]), "search-2-%s", modes[mode]);
  u = make_user(name[0]);
  v = make_user(name[1]);
  w = make_user(name[2]);
  r1 = make_room(name[3]);
  r2 = make_room(name[4]);

  for (i = 0; i < NT; i++) msg_item(&it[i], r1, u, texts[i], NULL, 3000);
  msg_item(&it[NT], r2, v, "共同词 in the second room", NULL, 3001);
  msg_item(&it[NT + 1], r1, v, "共同词 in the first room", NULL, 3002);
  dm_item(&it[NT + 2], u, v, "秘密的话 secretword", NULL, 3003);
  dm_item(&it[NT + 3], v, u, "回复秘密 SecretWord too", NULL, 3004);
  store_for(mode, it, NT + 4);
  if (mode == IDX_ALL) {
    T_CHECK(token_rows(CHAT_SEARCH_ROOM, it[0].id) > 0);
    T_CHECK(token_rows(CHAT_SEARCH_DM, it[NT + 3].id) > 0);
    T_EQ_INT(cursor_of(CHAT_SEARCH_DM), it[NT + 3].id);
  } else if (mode == IDX_NONE) {
    T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[0].id), 0);
    T_EQ_INT(token_rows(CHAT_SEARCH_DM, it[NT + 2].id), 0);
  } else { /* the 5 oldest of 11: room messages only */
    T_CHECK(token_rows(CHAT_SEARCH_ROOM, it[4].id) > 0);
    T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[5].id), 0);
    T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), it[4].id);
    T_EQ_INT(token_rows(CHAT_SEARCH_DM, it[NT + 2].id), 0);
  }

  /* Chinese: a two-character word, one across a word boundary, one
   * character, three and more; not a sequence the text lacks. */
  T_CHECK(finds(w, "上海", 0, texts[0]));
  T_CHECK(finds(w, "海东", 0, texts[0]));
  T_CHECK(finds(w, "上", 0, texts[0]));
  T_CHECK(finds(w, "边", 0, texts[0]));
  T_CHECK(finds(w, "上海东", 0, texts[0]));
  T_CHECK(finds(w, "在上海东边", 0, texts[0]));
  T_CHECK(finds(w, "我家在上海东边", 0, texts[0]));
  T_CHECK(!finds(w, "上海西", 0, texts[0]));
  T_CHECK(!finds(w, "东上", 0, texts[0]));
  T_CHECK(!finds(w, "家上", 0, texts[0]));
  T_CHECK(finds(w, "欢迎你", 0, texts[5]));
  T_CHECK(finds(w, "你 bei", 0, texts[5]));
  /* Japanese kana. */
  T_CHECK(finds(w, "てんき", 0, texts[2]));
  T_CHECK(finds(w, "いい", 0, texts[2]));
  T_CHECK(finds(w, "カタカナ", 0, texts[3]));
  T_CHECK(finds(w, "カナで書", 0, texts[3]));
  T_CHECK(!finds(w, "ひらがな", 0, texts[2]));
  /* English without regard to ASCII case, within and across words. */
  T_CHECK(finds(w, "HELLO", 0, texts[1]));
  T_CHECK(finds(w, "Hello", 0, texts[1]));
  T_CHECK(finds(w, "say hello", 0, texts[1]));
  T_CHECK(finds(w, "o t", 0, texts[1]));
  T_CHECK(!finds(w, "o w", 0, texts[1]));
  T_CHECK(finds(w, "mixed case", 0, texts[4]));
  T_CHECK(finds(w, "D CASE W", 0, texts[4]));
  T_CHECK(!finds(w, "mixedcase", 0, texts[4]));
  T_CHECK(!finds(w, "hello  to", 0, texts[1])); /* two spaces */
  T_CHECK(finds(w, "😀👍", 0, texts[6]));
  T_CHECK(finds(w, "👍", 0, texts[6]));
  /* The query is trimmed (U+3000 too); nothing left is an error. */
  T_CHECK(finds(w, "\xe3\x80\x80 上海 \n", 0, texts[0]));
  T_EQ_INT(chat_store_search(g_store, w, "", 0, 10, &m, &n), CHAT_EINVAL);
  T_EQ_INT(chat_store_search(g_store, w, " \t\xe3\x80\x80 ", 0, 10, &m, &n),
           CHAT_EINVAL);
  T_EQ_INT(chat_store_search(g_store, w, "x", 0, 0, &m, &n), CHAT_EINVAL);
  T_EQ_INT(chat_store_search(g_store, w, NULL, 0, 10, &m, &n), CHAT_EINVAL);

  /* Room filter. */
  T_EQ_INT(search_n(w, "共同词", 0, NULL, NULL), 2);
  T_EQ_INT(search_n(w, "共同词", r1, NULL, NULL), 1);
  T_CHECK(finds(w, "共同词", r2, "共同词 in the second room"));
  T_CHECK(!finds(w, "上海", r2, texts[0]));
  T_CHECK(finds(w, "上海", r1, texts[0]));

  /* Direct messages: only their sender and receiver, and only without a
   * room filter; fields as in DM history. */
  T_CHECK(finds(u, "秘密", 0, "秘密的话 secretword"));
  T_CHECK(finds(v, "秘密", 0, "秘密的话 secretword"));
  T_CHECK(!finds(w, "秘密", 0, "秘密的话 secretword"));
  T_CHECK(!finds(u, "秘密", r1, "秘密的话 secretword"));
  T_EQ_INT(search_n(w, "secretword", 0, NULL, NULL), 0);
  T_EQ_INT(chat_store_search(g_store, v, "SECRETWORD", 0, 10, &m, &n), 0);
  T_EQ_INT(n, 2);
  if (n == 2) { /* newest first */
    T_EQ_STR(m[0].text, "回复秘密 SecretWord too");
    T_EQ_INT(m[0].room, 0);
    T_EQ_STR(m[0].sender, name[1]);
    T_EQ_STR(m[0].to, name[0]);
    T_EQ_INT(m[0].ts, 3004);
    T_EQ_STR(m[1].sender, name[0]);
    T_EQ_STR(m[1].to, name[1]);
  }
  chat_store_msgs_free(m, n);
  /* A room message's record. */
  T_EQ_INT(chat_store_search(g_store, w, "海东", r1, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_INT(m[0].id, it[0].id);
    T_EQ_INT(m[0].room, r1);
    T_EQ_STR(m[0].sender, name[0]);
    T_EQ_STR(m[0].to, "");
    T_EQ_INT(m[0].ts, 3000);
  }
  chat_store_msgs_free(m, n);

  /* Newest first and limit: room messages and DMs merged by time.  With
   * IDX_HALF the three older ones are indexed: the results come from both
   * the tail and the index, of both kinds. */
  {
    chat_msg_insert_t r[6];
    int64_t rid[6];
    msg_item(&r[0], r1, u, "排序词 1", NULL, 4000);
    dm_item(&r[1], v, u, "排序词 2", NULL, 4001);
    msg_item(&r[2], r2, v, "排序词 3", NULL, 4002);
    msg_item(&r[3], r1, v, "排序词 4", NULL, 4003);
    dm_item(&r[4], u, v, "排序词 5", NULL, 4004);
    msg_item(&r[5], r2, u, "排序词 6", NULL, 4005);
    store_for(mode, r, 6);
    for (i = 0; i < 6; i++) rid[i] = r[i].id;
    if (mode == IDX_HALF) {
      T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), rid[2]);
      T_EQ_INT(cursor_of(CHAT_SEARCH_DM), rid[1]);
    }
    T_EQ_INT(chat_store_search(g_store, u, "排序词", 0, 4, &m, &n), 0);
    T_EQ_INT(n, 4);
    if (n == 4) {
      T_EQ_STR(m[0].text, "排序词 6");
      T_EQ_INT(m[0].id, rid[5]);
      T_EQ_STR(m[1].text, "排序词 5");
      T_EQ_INT(m[1].id, rid[4]);
      T_EQ_STR(m[2].text, "排序词 4");
      T_EQ_STR(m[3].text, "排序词 3");
    }
    chat_store_msgs_free(m, n);
    T_EQ_INT(chat_store_search(g_store, u, "排序词", 0, 50, &m, &n), 0);
    T_EQ_INT(n, 6);
    for (i = 0; i < n; i++) {
      char want[32];
      snprintf(want, sizeof(want), "排序词 %d", (int)(6 - i));
      T_EQ_STR(m[i].text, want);
    }
    chat_store_msgs_free(m, n);
    T_EQ_INT(search_n(w, "排序词", 0, NULL, NULL), 4); /* not the DMs */
    T_EQ_INT(search_n(w, "排序词", r2, NULL, NULL), 2);
  }

  /* Many candidates that fail the text check (every token, not the text),
   * newer than the one match: the search pages through them. */
  {
    enum { DECOYS = 150 };
    chat_msg_insert_t d[DECOYS + 1];
    msg_item(&d[0], r2, u, "zqx wvy", NULL, 5000);
    for (i = 1; i <= DECOYS; i++)
      msg_item(&d[i], r2, u, "wvy-zqx zqx-wvy", NULL, 5000 + (int64_t)i);
    store_for(mode, d, DECOYS + 1);
    T_EQ_INT(chat_store_search(g_store, w, "ZQX WVY", 0, 10, &m, &n), 0);
    T_EQ_INT(n, 1);
    if (n == 1) T_EQ_INT(m[0].id, d[0].id);
    chat_store_msgs_free(m, n);
    T_EQ_INT(search_n(w, "zqx-wvy", 0, NULL, NULL), 50); /* limit */
  }

  /* A deleted message is not found any more, and its index rows are gone
   * (IDX_NONE: it never had any, and indexing later skips it); so are
   * those of a deleted room's messages. */
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[0].id) > 0, mode != IDX_NONE);
  T_EQ_INT(chat_store_msg_delete(g_store, r1, it[0].id), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[0].id), 0);
  T_CHECK(!finds(w, "上海", 0, texts[0]));
  T_CHECK(finds(w, "欢迎", 0, texts[5]));
  T_EQ_INT(search_n(w, "共同词", 0, NULL, NULL), 2);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[NT].id) > 0, mode != IDX_NONE);
  T_EQ_INT(chat_store_room_delete(g_store, r2), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[NT].id), 0);
  T_EQ_INT(search_n(w, "共同词", 0, NULL, NULL), 1);
  T_EQ_INT(search_n(w, "zqx", 0, NULL, NULL), 0);
  T_EQ_INT(search_n(w, "共同词", r2, NULL, NULL), 0);

  /* Deleted before indexing: indexing passes over them, the others get
   * their rows, and the answers stay the same. */
  index_all();
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[0].id), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[NT].id), 0);
  T_CHECK(token_rows(CHAT_SEARCH_ROOM, it[NT + 1].id) > 0);
  T_CHECK(token_rows(CHAT_SEARCH_DM, it[NT + 2].id) > 0);
  T_CHECK(!finds(w, "上海", 0, texts[0]));
  T_EQ_INT(search_n(w, "共同词", 0, NULL, NULL), 1);
  T_EQ_INT(search_n(w, "zqx", 0, NULL, NULL), 0);
  T_EQ_INT(search_n(u, "排序词", 0, NULL, NULL), 4);
  T_EQ_INT(search_n(v, "秘密", 0, NULL, NULL), 2);

  /* Deleted after indexing. */
  T_CHECK(token_rows(CHAT_SEARCH_ROOM, it[5].id) > 0);
  T_EQ_INT(chat_store_msg_delete(g_store, r1, it[5].id), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[5].id), 0);
  T_CHECK(!finds(w, "欢迎", 0, texts[5]));
  T_EQ_INT(chat_store_room_delete(g_store, r1), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[NT + 1].id), 0);
  T_EQ_INT(search_n(w, "共同词", 0, NULL, NULL), 0);
  T_EQ_INT(search_n(u, "排序词", 0, NULL, NULL), 2); /* the DMs */
  T_EQ_INT(index_all(), 0);
}

static void test_search_unindexed(void) { search_cases(IDX_NONE); }
static void test_search_half(void) { search_cases(IDX_HALF); }
static void test_search_indexed(void) { search_cases(IDX_ALL); }

/* chat_store_index_pending itself: chunks, the order of the two kinds,
 * the cursors, the rows written. */
static void test_index_pending(void) {
  chat_msg_insert_t it[6];
  chat_token_t toks[64];
  int64_t a = make_user("indexer-a"), b = make_user("indexer-b");
  int64_t room = make_room("indexing"), gone = make_room("indexing-gone");
  long long before_room, before_dm;
  int done = -1;

  T_EQ_INT(chat_store_index_pending(g_store, 0, &done), CHAT_EINVAL);
  T_EQ_INT(chat_store_index_pending(g_store, 5, NULL), CHAT_EINVAL);
  index_all();
  T_EQ_INT(chat_store_index_pending(g_store, 5, &done), 0);
  T_EQ_INT(done, 0);
  before_room = cursor_of(CHAT_SEARCH_ROOM);
  before_dm = cursor_of(CHAT_SEARCH_DM);
  T_CHECK(before_room > 0);
  T_CHECK(before_dm > 0);

  /* Oldest first across the kinds: by ts, not by id. */
  msg_item(&it[0], room, a, "first room", NULL, 9001);
  dm_item(&it[1], a, b, "second dm", NULL, 9002);
  msg_item(&it[2], gone, b, "deleted before indexing", NULL, 9003);
  msg_item(&it[3], room, b, "fourth room", NULL, 9004);
  dm_item(&it[4], b, a, "fifth dm", NULL, 9005);
  msg_item(&it[5], room, a, "Sixth Room 六", NULL, 9006);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 6), 0);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), before_room);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[0].id), 0);
  T_EQ_INT(chat_store_room_delete(g_store, gone), 0);

  T_EQ_INT(chat_store_index_pending(g_store, 2, &done), 0);
  T_EQ_INT(done, 2);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), it[0].id);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), it[1].id);
  T_CHECK(token_rows(CHAT_SEARCH_DM, it[1].id) > 0);
  T_EQ_INT(chat_store_index_pending(g_store, 1, &done), 0);
  T_EQ_INT(done, 1);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), it[3].id);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), it[1].id);
  T_EQ_INT(chat_store_index_pending(g_store, 100, &done), 0);
  T_EQ_INT(done, 2);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), it[5].id);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), it[4].id);
  T_EQ_INT(chat_store_index_pending(g_store, 100, &done), 0);
  T_EQ_INT(done, 0);

  /* One row per distinct token, as tokens.h makes them. */
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[5].id),
           (long long)chat_tokens_text(it[5].text, strlen(it[5].text), toks,
                                       64));
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[2].id), 0);
  T_CHECK(finds(a, "sixth room", 0, "Sixth Room 六"));
  T_CHECK(finds(a, "fifth", 0, "fifth dm"));
  T_CHECK(!finds(a, "deleted", 0, "deleted before indexing"));
}

/* Only the newest 20000 unindexed messages of a kind are checked directly
 * (store.c, SEARCH_TAIL_MAX): an older one is found once it is indexed. */
static void test_search_tail_bound(void) {
  enum { TAIL = 20000, BATCH = 500 };
  chat_msg_insert_t *it = calloc(BATCH, sizeof(*it));
  int64_t u = make_user("tail-user"), room = make_room("tail-room");
  int i, k;

  if (it == NULL) return;
  index_all();
  msg_item(&it[0], room, u, "the oldest 老消息", NULL, 1);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
  for (i = 0; i < TAIL - 1; i += BATCH) {
    int nb = TAIL - 1 - i < BATCH ? TAIL - 1 - i : BATCH;
    for (k = 0; k < nb; k++) msg_item(&it[k], room, u, ".", NULL, 2);
    T_EQ_INT(chat_store_msg_insert_batch(g_store, it, (size_t)nb), 0);
  }
  /* 20000 unindexed: the oldest is the last one checked. */
  T_CHECK(finds(u, "老消息", 0, "the oldest 老消息"));
  T_CHECK(finds(u, "老消息", room, "the oldest 老消息"));
  msg_item(&it[0], room, u, "one more", NULL, 3);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
  T_CHECK(!finds(u, "老消息", 0, "the oldest 老消息"));
  T_CHECK(finds(u, "one more", 0, "one more"));
  T_EQ_INT(index_by(1000), TAIL + 1);
  T_CHECK(finds(u, "老消息", 0, "the oldest 老消息"));
  free(it);
}

/* --- moderation ----------------------------------------------------------- */

/* The ASCII-folded byte order of names. */
static int name_cmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int x = (unsigned char)*a, y = (unsigned char)*b;
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y || x == 0) return x - y;
  }
}

static void test_moderation(void) {
  uint8_t h[3][CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t u, *list = NULL;
  chat_msg_insert_t it[2];
  chat_msg_rec_t m, *ml = NULL;
  size_t n = 0, i;
  int64_t sender_id = 0, count0;
  int64_t mal = make_user("mod-mallory"), ok = make_user("Mod-Oscar"),
          room = make_room("mod-room");
  int seen = 0;
  int i2;

  /* Users by name, ASCII case folded; the new field is there. */
  T_EQ_INT(chat_store_user_list(g_store, &list, &n), 0);
  T_CHECK(n >= 2);
  for (i = 0; i < n; i++) {
    if (i > 0) T_CHECK(name_cmp(list[i - 1].username, list[i].username) < 0);
    if (list[i].id == mal) {
      seen++;
      T_EQ_STR(list[i].username, "mod-mallory");
      T_EQ_STR(list[i].email, "x@example.org");
      T_EQ_INT(list[i].banned, 0);
      T_EQ_INT(list[i].email_notify, 1);
    }
  }
  T_EQ_INT(seen, 1);
  free(list);

  /* A ban deletes every session of the user, and only theirs. */
  for (i2 = 0; i2 < 3; i2++) hash_of(h[i2], 40 + i2);
  T_EQ_INT(chat_store_session_create(g_store, h[0], mal, 100, 100000), 0);
  T_EQ_INT(chat_store_session_create(g_store, h[1], mal, 100, 100000), 0);
  T_EQ_INT(chat_store_session_create(g_store, h[2], ok, 100, 100000), 0);
  T_EQ_INT(chat_store_user_set_banned(g_store, mal, 1), 0);
  T_EQ_INT(chat_store_session_lookup(g_store, h[0], 200, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_session_lookup(g_store, h[1], 200, &u), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_session_lookup(g_store, h[2], 200, &u), 0);
  T_EQ_INT(chat_store_user_by_id(g_store, mal, &u), 0);
  T_EQ_INT(u.banned, 1);
  T_EQ_INT(chat_store_user_set_banned(g_store, mal, 1), 0); /* again */
  T_EQ_INT(chat_store_user_set_banned(g_store, mal, 0), 0);
  T_EQ_INT(chat_store_user_by_name(g_store, "MOD-MALLORY", &u), 0);
  T_EQ_INT(u.banned, 0);
  T_EQ_INT(chat_store_user_set_banned(g_store, 999999, 1), CHAT_ENOTFOUND);

  /* E-mail notifications: on by default, off and on again. */
  T_EQ_INT(chat_store_user_by_id(g_store, ok, &u), 0);
  T_EQ_INT(u.email_notify, 1);
  T_EQ_INT(chat_store_user_set_notify(g_store, ok, 0), 0);
  T_EQ_INT(chat_store_user_by_id(g_store, ok, &u), 0);
  T_EQ_INT(u.email_notify, 0);
  T_EQ_INT(chat_store_session_lookup(g_store, h[2], 200, &u), 0);
  T_EQ_INT(u.email_notify, 0);
  T_EQ_INT(chat_store_user_set_notify(g_store, ok, 0), 0); /* unchanged */
  T_EQ_INT(chat_store_user_set_notify(g_store, ok, 7), 0);
  T_EQ_INT(chat_store_user_by_name(g_store, "mod-oscar", &u), 0);
  T_EQ_INT(u.email_notify, 1);
  T_EQ_INT(chat_store_user_set_notify(g_store, 999999, 1), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_user_create(g_store, "mod-new", NULL, "$h$",
                                  CHAT_ROLE_USER, 1, &u),
           0);
  T_EQ_INT(u.email_notify, 1);

  /* A message by id; deleting it. */
  msg_item(&it[0], room, mal, "bad words", NULL, 700);
  msg_item(&it[1], room, ok, "good words", NULL, 701);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  memset(&m, 0, sizeof(m));
  T_EQ_INT(chat_store_msg_get(g_store, it[0].id, &m, &sender_id), 0);
  T_EQ_INT(m.id, it[0].id);
  T_EQ_INT(m.room, room);
  T_EQ_STR(m.sender, "mod-mallory");
  T_EQ_STR(m.to, "");
  T_EQ_STR(m.text, "bad words");
  T_EQ_INT(m.ts, 700);
  T_EQ_INT(sender_id, mal);
  free(m.text);
  T_EQ_INT(chat_store_msg_get(g_store, it[1].id, &m, NULL), 0);
  T_EQ_STR(m.text, "good words");
  free(m.text);
  T_EQ_INT(chat_store_msg_get(g_store, 999999, &m, &sender_id),
           CHAT_ENOTFOUND);

  T_EQ_INT(chat_store_msg_delete(g_store, room + 1000, it[0].id),
           CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_delete(g_store, room, it[0].id), 0);
  T_EQ_INT(chat_store_msg_delete(g_store, room, it[0].id), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_get(g_store, it[0].id, &m, &sender_id),
           CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 10, &ml, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_STR(ml[0].text, "good words");
  chat_store_msgs_free(ml, n);

  /* The audit log. */
  count0 = raw_int("SELECT COUNT(*) FROM audit_log");
  T_EQ_INT(chat_store_audit(g_store, ok, "ban", "mod-mallory", "spam 垃圾",
                            800),
           0);
  T_EQ_INT(chat_store_audit(g_store, ok, "unban", NULL, NULL, 801), 0);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM audit_log"), count0 + 2);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM audit_log WHERE action = 'ban'"
                   " AND target = 'mod-mallory' AND ts = 800"),
           1);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM audit_log WHERE action = 'unban'"
                   " AND target = '' AND detail = ''"),
           1);
  T_EQ_INT(chat_store_audit(g_store, ok, "", "x", "y", 1), CHAT_EINVAL);
  T_EQ_INT(chat_store_audit(g_store, ok, NULL, "x", "y", 1), CHAT_EINVAL);
  {
    char big[CHAT_AUDIT_DETAIL_MAX + 1];
    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    T_EQ_INT(chat_store_audit(g_store, ok, "x", "y", big, 1), CHAT_EINVAL);
    big[CHAT_AUDIT_DETAIL_MAX - 1] = '\0'; /* the longest that fits */
    T_EQ_INT(chat_store_audit(g_store, ok, "x", "y", big, 1), 0);
  }
}

/* --- read markers --------------------------------------------------------- */

/* The entry of room (or peer) in user's unread counts: its count, or 0 if
 * it is not listed; *last the marker it reports. */
static int64_t unread_of(int64_t user, int64_t room, int64_t peer,
                         int64_t *last) {
  chat_unread_rec_t *v = NULL;
  size_t n = 0, i;
  int64_t count = 0;

  T_EQ_INT(chat_store_unread(g_store, user, &v, &n), 0);
  for (i = 0; i < n; i++) {
    T_CHECK(v[i].count > 0);
    T_CHECK((v[i].room_id == 0) != (v[i].peer_id == 0));
    if (v[i].room_id == room && v[i].peer_id == peer) {
      count = v[i].count;
      if (last != NULL) *last = v[i].last_read;
    }
  }
  free(v);
  return count;
}

static void test_unread(void) {
  chat_msg_insert_t it[8];
  chat_unread_rec_t *v = NULL;
  size_t n = 0, i;
  int64_t last = -1;
  int64_t me = make_user("ur-me"), pal = make_user("ur-pal"),
          other = make_user("ur-other"), room = make_room("ur-room"),
          quiet = make_room("ur-quiet");

  /* Nothing yet. */
  T_EQ_INT(chat_store_unread(g_store, me, &v, &n), 0);
  T_EQ_INT(n, 0);
  T_CHECK(v == NULL);

  msg_item(&it[0], room, pal, "r1", NULL, 1);
  msg_item(&it[1], room, me, "mine", NULL, 2);
  msg_item(&it[2], room, other, "r2", NULL, 3);
  msg_item(&it[3], room, pal, "r3", NULL, 4);
  dm_item(&it[4], pal, me, "d1", NULL, 5);
  dm_item(&it[5], pal, me, "d2", NULL, 6);
  dm_item(&it[6], me, pal, "my reply", NULL, 7);
  dm_item(&it[7], other, me, "d3", NULL, 8);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 8), 0);

  /* A room counts only with a marker; direct messages without one. */
  T_EQ_INT(unread_of(me, room, 0, NULL), 0);
  T_EQ_INT(unread_of(me, 0, pal, &last), 2);
  T_EQ_INT(last, 0);
  T_EQ_INT(unread_of(me, 0, other, NULL), 1);
  T_EQ_INT(unread_of(pal, 0, me, NULL), 1);

  /* Markers: messages of others after it; never backwards. */
  T_EQ_INT(chat_store_read_mark(g_store, me, room, 0, it[0].id), 0);
  T_EQ_INT(unread_of(me, room, 0, &last), 2); /* r2, r3; not mine */
  T_EQ_INT(last, it[0].id);
  T_EQ_INT(chat_store_read_mark(g_store, me, room, 0, it[2].id), 0);
  T_EQ_INT(unread_of(me, room, 0, NULL), 1);
  T_EQ_INT(chat_store_read_mark(g_store, me, room, 0, it[0].id), 0);
  T_EQ_INT(unread_of(me, room, 0, &last), 1);
  T_EQ_INT(last, it[2].id);
  T_EQ_INT(chat_store_read_mark(g_store, me, room, 0, it[3].id), 0);
  T_EQ_INT(unread_of(me, room, 0, NULL), 0); /* count 0: left out */
  T_EQ_INT(chat_store_read_mark(g_store, me, quiet, 0, 0), 0);
  T_EQ_INT(unread_of(me, quiet, 0, NULL), 0);

  T_EQ_INT(chat_store_read_mark(g_store, me, 0, pal, it[4].id), 0);
  T_EQ_INT(unread_of(me, 0, pal, &last), 1);
  T_EQ_INT(last, it[4].id);
  T_EQ_INT(chat_store_read_mark(g_store, me, 0, pal, 1), 0);
  T_EQ_INT(unread_of(me, 0, pal, NULL), 1);
  T_EQ_INT(chat_store_read_mark(g_store, me, 0, pal, it[6].id), 0);
  T_EQ_INT(unread_of(me, 0, pal, NULL), 0);
  T_EQ_INT(unread_of(me, 0, other, NULL), 1);

  /* A new message counts again. */
  msg_item(&it[0], room, other, "r4", NULL, 9);
  dm_item(&it[1], pal, me, "d4", NULL, 10);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  T_EQ_INT(unread_of(me, room, 0, NULL), 1);
  T_EQ_INT(unread_of(me, 0, pal, NULL), 1);
  T_EQ_INT(chat_store_unread(g_store, me, &v, &n), 0);
  T_EQ_INT(n, 3);
  for (i = 0; i < n; i++)
    if (v[i].peer_id == pal) T_EQ_STR(v[i].peer, "ur-pal");
  free(v);

  /* Errors. */
  T_EQ_INT(chat_store_read_mark(g_store, me, 0, 0, 1), CHAT_EINVAL);
  T_EQ_INT(chat_store_read_mark(g_store, me, room, pal, 1), CHAT_EINVAL);
  T_EQ_INT(chat_store_read_mark(g_store, me, room, 0, -1), CHAT_EINVAL);
  T_EQ_INT(chat_store_read_mark(g_store, me, 999999, 0, 1), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_read_mark(g_store, me, 0, 999999, 1), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_read_mark(g_store, 999999, room, 0, 1), CHAT_ENOTFOUND);

  /* A deleted room takes its markers along. */
  T_EQ_INT(chat_store_room_delete(g_store, quiet), 0);
  {
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM read_markers WHERE room_id = %lld",
             (long long)quiet);
    T_EQ_INT(raw_int(sql), 0);
  }
}

/* --- migration 002 on a database of 001 ----------------------------------- */

/* Checks a store opened on a database that had only 001 (user 7
 * "old-timer" with two room messages in room 1) and has just been brought
 * up to date. */
static void check_upgraded(chat_store_t *s) {
  chat_user_rec_t u;
  chat_msg_rec_t *m = NULL;
  chat_msg_insert_t it;
  size_t n = 0;
  int64_t other;

  T_EQ_INT(chat_store_user_by_name(s, "OLD-timer", &u), 0);
  T_EQ_INT(u.id, 7);
  T_EQ_STR(u.email, "o@example.org");
  T_EQ_INT(u.created_ms, 5);
  T_EQ_INT(u.email_notify, 1);
  T_EQ_INT(chat_store_msg_history(s, 1, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 2);
  if (n == 2) {
    T_EQ_STR(m[0].text, "旧消息 from before");
    T_EQ_STR(m[0].sender, "old-timer");
    T_EQ_STR(m[1].text, "Second OLD one");
  }
  chat_store_msgs_free(m, n);
  /* The old cid still de-duplicates. */
  msg_item(&it, 1, 7, "again", "oc1", 9);
  T_EQ_INT(chat_store_msg_insert_batch(s, &it, 1), 0);
  T_EQ_INT(it.dup, 1);
  /* The old messages were indexed by the migration. */
  T_EQ_INT(chat_store_search(s, 7, "旧消息", 0, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_search(s, 7, "old one", 1, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  chat_store_msgs_free(m, n);
  /* And the new tables work. */
  T_EQ_INT(chat_store_user_create(s, "newcomer", NULL, "$h$", CHAT_ROLE_USER,
                                  1, &u),
           0);
  other = u.id;
  T_EQ_INT(chat_store_friend_request(s, other, 7, 1, NULL), 0);
  T_EQ_INT(chat_store_friend_request(s, 7, other, 2, NULL), 0);
  dm_item(&it, 7, other, "hello newcomer", "oc1", 10);
  T_EQ_INT(chat_store_msg_insert_batch(s, &it, 1), 0);
  T_EQ_INT(it.dup, 0);
  T_EQ_INT(chat_store_dm_history(s, other, 7, 0, 10, &m, &n), 0);
  T_EQ_INT(n, 1);
  chat_store_msgs_free(m, n);
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
                     " ('direct_messages', 'friendships', 'search_tokens',"
                     " 'audit_log', 'read_markers')"),
             5);
    tokens = raw_int("SELECT count(*) FROM search_tokens");
    T_CHECK(tokens > 20);
    check_upgraded(s);
    chat_store_close(s);
    /* Reopen: nothing runs again. */
    s = NULL;
    T_EQ_INT(chat_store_open(path, 1, &s, err, sizeof(err)), 0);
    T_EQ_INT(raw_int("SELECT count(*) FROM search_tokens WHERE kind = 0"),
             tokens);
    chat_store_close(s);
  } else {
    fprintf(stderr, "open: %s\n", err);
  }
  memcpy(g_path, saved, sizeof(g_path));
}

static char g_db[64]; /* MySQL: this run's database */

/* Runs a file of several statements on c (which allows them). */
static int mysql_multi(MYSQL *c, const char *sql) {
  MYSQL_RES *res;
  int st;

  if (mysql_query(c, sql) != 0) {
    fprintf(stderr, "multi: %s\n", mysql_error(c));
    return -1;
  }
  do {
    res = mysql_store_result(c);
    if (res != NULL) mysql_free_result(res);
    st = mysql_next_result(c);
  } while (st == 0);
  if (st > 0) fprintf(stderr, "multi: %s\n", mysql_error(c));
  return st > 0 ? -1 : 0;
}

static void test_migrate_002_mysql(void) {
  chat_mysql_url_t u;
  chat_store_t *s = NULL;
  MYSQL *c = NULL;
  char db[80], url[1300], sql[200], err[512];
  const char *slash, *q;
  long long tokens;

  /* A second database, of 001 only. */
  snprintf(db, sizeof(db), "%s_old", g_db);
  snprintf(sql, sizeof(sql),
           "CREATE DATABASE `%s` CHARACTER SET utf8mb4"
           " COLLATE utf8mb4_unicode_ci",
           db);
  raw_exec(sql);
  slash = strrchr(g_url, '/');
  q = strchr(slash, '?');
  snprintf(url, sizeof(url), "%.*s/%s%s", (int)(slash - g_url), g_url, db,
           q ? q : "");
  T_EQ_INT(chat_store_mysql_parse_url(url, &u, err, sizeof(err)), 0);
  c = mysql_init(NULL);
  mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (u.socket[0] != '\0') {
    unsigned proto = MYSQL_PROTOCOL_SOCKET;
    mysql_options(c, MYSQL_OPT_PROTOCOL, &proto);
  }
  if (mysql_real_connect(c, u.host, u.user, u.password, u.db, u.port,
                         u.socket[0] ? u.socket : NULL,
                         CLIENT_MULTI_STATEMENTS) == NULL) {
    fprintf(stderr, "connect: %s\n", mysql_error(c));
    T_CHECK(0);
    goto out;
  }
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[0][1]), 0);
  T_EQ_INT(
      mysql_multi(
          c,
          "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY,"
          " name VARCHAR(255) NOT NULL, applied_ms BIGINT NOT NULL)"
          " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
          "INSERT INTO schema_version VALUES (1, '001_init.sql', 0);"
          "INSERT INTO users (id, username, email, pwhash, role, banned,"
          " created_ms) VALUES (7, 'old-timer', 'o@example.org', '$h$',"
          " 0, 0, 5);"
          "INSERT INTO messages (room_id, sender_id, text, cid, ts)"
          " VALUES (1, 7, '旧消息 from before', 'oc1', 6),"
          " (1, 7, 'Second OLD one', NULL, 7);"),
      0);

  T_EQ_INT(chat_store_open(url, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) {
    fprintf(stderr, "open: %s\n", err);
    goto out;
  }
  {
    MYSQL *saved = g_raw;
    g_raw = c;
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM schema_version"), schema_files());
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.tables"
                     " WHERE table_schema = DATABASE() AND engine = 'InnoDB'"
                     " AND table_collation LIKE 'utf8mb4%' AND table_name IN"
                     " ('direct_messages', 'friendships', 'search_tokens',"
                     " 'audit_log', 'read_markers')"),
             5);
    tokens = raw_int("SELECT COUNT(*) FROM search_tokens");
    T_CHECK(tokens > 20);
    check_upgraded(s);
    /* Every statement of 002 can run again (a migration interrupted
     * half-way is run again whole), and changes nothing. */
    T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[1][1]), 0);
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.columns"
                     " WHERE table_schema = DATABASE()"
                     " AND table_name = 'users'"
                     " AND column_name = 'email_notify'"),
             1);
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM search_tokens WHERE kind = 0"),
             tokens);
    g_raw = saved;
  }
  chat_store_close(s);

out:
  explicit_bzero(&u, sizeof(u));
  if (c != NULL) mysql_close(c);
  snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", db);
  raw_exec(sql);
}

/* --- migration 003 on a database of 002 ----------------------------------- */

/* Writes the search rows of message id of kind by plain SQL, as the code
 * of 002 did with each message. */
static void raw_index(int kind, long long id, const char *text) {
  chat_token_t toks[64];
  size_t n = chat_tokens_text(text, strlen(text), toks, 64), i, j;
  char sql[200], hex[2 * CHAT_TOKEN_BYTES + 1];

  for (i = 0; i < n; i++) {
    for (j = 0; j < toks[i].len; j++)
      snprintf(hex + 2 * j, 3, "%02x", toks[i].b[j]);
    snprintf(sql, sizeof(sql),
             "INSERT INTO search_tokens (token, kind, msg_id)"
             " VALUES (X'%s', %d, %lld)",
             hex, kind, id);
    raw_exec(sql);
  }
}

/* The rows of a database at 002 (raw_exec on it): users 7 and 8, room
 * messages 1 and 2 of the lobby (room 1) and direct message 1, indexed. */
static void fill_002(void) {
  raw_exec("INSERT INTO users (id, username, email, pwhash, role, banned,"
           " created_ms) VALUES (7, 'old-timer', 'o@example.org', '$h$',"
           " 0, 0, 5), (8, 'old-friend', '', '$h$', 0, 0, 5)");
  raw_exec("INSERT INTO messages (id, room_id, sender_id, text, cid, ts)"
           " VALUES (1, 1, 7, '旧消息 from before', 'oc1', 6),"
           " (2, 1, 8, 'Second OLD one', NULL, 7)");
  raw_exec("INSERT INTO direct_messages (id, sender_id, receiver_id, user_lo,"
           " user_hi, text, cid, ts)"
           " VALUES (1, 7, 8, 7, 8, '老朋友 direct words', 'od1', 8)");
  raw_index(CHAT_SEARCH_ROOM, 1, "旧消息 from before");
  raw_index(CHAT_SEARCH_ROOM, 2, "Second OLD one");
  raw_index(CHAT_SEARCH_DM, 1, "老朋友 direct words");
}

/* Checks a store just brought from 002 (fill_002) up to date. */
static void check_upgraded_003(chat_store_t *s) {
  chat_store_t *saved = g_store;
  chat_msg_insert_t it;
  int done = -1;

  g_store = s;
  /* Everything 002 stored counts as indexed. */
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), 2);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), 1);
  T_EQ_INT(chat_store_index_pending(s, 10, &done), 0);
  T_EQ_INT(done, 0);
  /* Found through the index (nothing is above the cursors). */
  T_CHECK(finds(7, "旧消息", 0, "旧消息 from before"));
  T_CHECK(finds(7, "old one", 1, "Second OLD one"));
  T_CHECK(finds(8, "老朋友", 0, "老朋友 direct words"));
  T_CHECK(!finds(9, "老朋友", 0, "老朋友 direct words"));
  /* A new message: found directly, then through the index. */
  msg_item(&it, 1, 8, "新消息 after 003", "nc1", 9);
  T_EQ_INT(chat_store_msg_insert_batch(s, &it, 1), 0);
  T_EQ_INT(it.id, 3);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 3), 0);
  T_CHECK(finds(7, "新消息", 0, "新消息 after 003"));
  T_EQ_INT(chat_store_index_pending(s, 10, &done), 0);
  T_EQ_INT(done, 1);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), 3);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), 1);
  T_CHECK(token_rows(CHAT_SEARCH_ROOM, 3) > 0);
  T_CHECK(finds(7, "新消息", 0, "新消息 after 003"));
  T_CHECK(finds(7, "旧消息", 0, "旧消息 from before"));
  /* An old message deleted: its rows go, the cursor stays. */
  T_EQ_INT(chat_store_msg_delete(s, 1, 1), 0);
  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, 1), 0);
  T_CHECK(!finds(7, "旧消息", 0, "旧消息 from before"));
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), 3);
  g_store = saved;
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

static void test_migrate_003_mysql(void) {
  chat_mysql_url_t u;
  chat_store_t *s = NULL;
  MYSQL *c = NULL, *saved = g_raw;
  char db[80], url[1300], sql[200], err[512];
  const char *slash, *q;

  /* A second database, at 002. */
  snprintf(db, sizeof(db), "%s_v2", g_db);
  snprintf(sql, sizeof(sql),
           "CREATE DATABASE `%s` CHARACTER SET utf8mb4"
           " COLLATE utf8mb4_unicode_ci",
           db);
  raw_exec(sql);
  slash = strrchr(g_url, '/');
  q = strchr(slash, '?');
  snprintf(url, sizeof(url), "%.*s/%s%s", (int)(slash - g_url), g_url, db,
           q ? q : "");
  T_EQ_INT(chat_store_mysql_parse_url(url, &u, err, sizeof(err)), 0);
  c = mysql_init(NULL);
  mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (u.socket[0] != '\0') {
    unsigned proto = MYSQL_PROTOCOL_SOCKET;
    mysql_options(c, MYSQL_OPT_PROTOCOL, &proto);
  }
  if (mysql_real_connect(c, u.host, u.user, u.password, u.db, u.port,
                         u.socket[0] ? u.socket : NULL,
                         CLIENT_MULTI_STATEMENTS) == NULL) {
    fprintf(stderr, "connect: %s\n", mysql_error(c));
    T_CHECK(0);
    goto out;
  }
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[0][1]), 0);
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[1][1]), 0);
  T_EQ_INT(
      mysql_multi(
          c,
          "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY,"
          " name VARCHAR(255) NOT NULL, applied_ms BIGINT NOT NULL)"
          " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
          "INSERT INTO schema_version VALUES (1, '001_init.sql', 0),"
          " (2, '002_community.sql', 0);"),
      0);
  g_raw = c;
  fill_002();

  T_EQ_INT(chat_store_open(url, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) {
    fprintf(stderr, "open: %s\n", err);
    goto out;
  }
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM schema_version"), schema_files());
  check_upgraded_003(s);
  /* Every statement of 003 can run again and keeps the cursors. */
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[2][1]), 0);
  T_EQ_INT(cursor_of(CHAT_SEARCH_ROOM), 3);
  T_EQ_INT(cursor_of(CHAT_SEARCH_DM), 1);
  chat_store_close(s);

out:
  g_raw = saved;
  explicit_bzero(&u, sizeof(u));
  if (c != NULL) mysql_close(c);
  snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", db);
  raw_exec(sql);
}

/* --- search figures (only with CHAT_TEST_SEARCH_BENCH=N) ------------------- */

static uint64_t g_rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng % n);
}

/* Word i of a vocabulary with a Zipf-like frequency: low indexes often. */
static uint32_t zipf(uint32_t n) {
  double r = (double)rnd(1000000) / 1000000.0;
  return (uint32_t)(n * r * r * r);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put_utf8(char **p, uint32_t c) {
  unsigned char *q = (unsigned char *)*p;
  if (c < 0x80) {
    *q++ = (unsigned char)c;
  } else if (c < 0x800) {
    *q++ = (unsigned char)(0xC0 | (c >> 6));
    *q++ = (unsigned char)(0x80 | (c & 0x3F));
  } else {
    *q++ = (unsigned char)(0xE0 | (c >> 12));
    *q++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    *q++ = (unsigned char)(0x80 | (c & 0x3F));
  }
  *p = (char *)q;
}

/* Inserts total messages of mixed Chinese and English (one in ten a direct
 * message) and prints how long a few searches take.  Nothing is asserted
 * about the times. */
static void bench_search(long total) {
  enum { VOCAB = 3000, BATCH = 500, USERS = 50 };
  static char zh[VOCAB][16], en[VOCAB][12];
  /* Rare words, common ones (the vocabulary's first), one common
   * character, and common tokens that rarely stand together (many
   * candidates fail the text check). */
  static const char *const fixed[] = {
      "上海", "海东", "上海东边", "我家在上海东边", "上", "HELLO", "hello world",
      "Hello World from the other side", "上海西", "q", "上 q", "q 上 q"};
  const char *queries[CHAT_ARRAY_SIZE(fixed) + 2];
  char common[2][64];
  chat_msg_insert_t *it = calloc(BATCH, sizeof(*it));
  char *texts = malloc((size_t)BATCH * 512);
  int64_t users[USERS], room, room2;
  chat_msg_rec_t *m;
  size_t n;
  double t0, t;
  long done = 0;
  int i, j, k;

  if (it == NULL || texts == NULL) return;
  for (i = 0; i < VOCAB; i++) {
    char *p = zh[i];
    int len = 2 + (int)rnd(2);
    for (j = 0; j < len; j++) put_utf8(&p, 0x4E00 + zipf(2500));
    *p = '\0';
    p = en[i];
    len = 3 + (int)rnd(6);
    for (j = 0; j < len; j++) *p++ = (char)('a' + zipf(26));
    *p = '\0';
  }
  for (i = 0; i < USERS; i++) {
    char name[32];
    snprintf(name, sizeof(name), "bench%d", i);
    users[i] = make_user(name);
  }
  room = make_room("bench");
  room2 = make_room("bench-2");

  t0 = now_s();
  while (done < total) {
    int nb = total - done < BATCH ? (int)(total - done) : BATCH;
    for (k = 0; k < nb; k++) {
      char *p = texts + (size_t)k * 512, *start = p;
      int words = 4 + (int)rnd(12);
      long seq = done + k;
      for (j = 0; j < words && p - start < 400; j++) {
        const char *w = rnd(3) ? zh[zipf(VOCAB)] : en[zipf(VOCAB)];
        if (j > 0 && rnd(2)) *p++ = ' ';
        p += sprintf(p, "%s", w);
      }
      if (seq % 5000 == 17) p += sprintf(p, " 我家在上海东边");
      if (seq % 700 == 3) p += sprintf(p, " say Hello World");
      *p = '\0';
      msg_item(&it[k], seq % 10 == 0 ? 0 : (seq % 3 ? room : room2),
               users[rnd(USERS)], start, NULL, 1000000 + seq);
      if (seq % 10 == 0) {
        it[k].to_id = users[rnd(USERS)];
        if (it[k].to_id == it[k].sender_id) it[k].to_id = users[0];
      }
    }
    T_EQ_INT(chat_store_msg_insert_batch(g_store, it, (size_t)nb), 0);
    done += nb;
  }
  t = now_s() - t0;
  fprintf(stderr, "bench: inserted %ld messages in %.1f s (%.0f/s)\n", total,
          t, total / t);
  fprintf(stderr, "bench: %lld search rows\n",
          raw_int("SELECT COUNT(*) FROM search_tokens"));
  if (g_mysql)
    fprintf(stderr, "bench: search_tokens %lld MB\n",
            raw_int("SELECT (data_length + index_length) >> 20"
                    " FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                    " AND table_name = 'search_tokens'"));
  else
    fprintf(stderr, "bench: database %lld MB\n",
            raw_int("SELECT (page_count * page_size) >> 20"
                    " FROM pragma_page_count, pragma_page_size"));

  memcpy(queries, fixed, sizeof(fixed));
  snprintf(common[0], sizeof(common[0]), "%s", zh[0]);
  snprintf(common[1], sizeof(common[1]), "%s %s", en[0], zh[1]);
  queries[CHAT_ARRAY_SIZE(fixed)] = common[0];
  queries[CHAT_ARRAY_SIZE(fixed) + 1] = common[1];
  for (i = 0; i < (int)CHAT_ARRAY_SIZE(queries); i++) {
    for (k = 0; k < 3; k++) {
      int64_t r = k == 2 ? room : 0;
      int rc;
      t0 = now_s();
      rc = chat_store_search(g_store, users[1], queries[i], r, 50, &m, &n);
      t = now_s() - t0;
      T_EQ_INT(rc, 0);
      if (k > 0 || i == 0)
        fprintf(stderr, "bench: search %-34s %s %3zu results %8.2f ms\n",
                queries[i], k == 2 ? "room " : "all  ", n, t * 1000);
      chat_store_msgs_free(m, n);
    }
  }
  free(texts);
  free(it);
}

static void test_search_bench(void) {
  const char *env = getenv("CHAT_TEST_SEARCH_BENCH");
  long total = env ? strtol(env, NULL, 10) : 0;

  if (total <= 0) return;
  fprintf(stderr, "bench: %s, %ld messages\n", chat_store_kind(g_store),
          total);
  bench_search(total);
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
  T_RUN(test_insert_batch_large);
  T_RUN(test_history);
  T_RUN(test_text_roundtrip);
  T_RUN(test_dm);
  T_RUN(test_friends);
  T_RUN(test_search_unindexed);
  T_RUN(test_search_half);
  T_RUN(test_search_indexed);
  T_RUN(test_index_pending);
  T_RUN(test_search_tail_bound);
  T_RUN(test_moderation);
  T_RUN(test_unread);
}

static void run_sqlite(void) {
  char err[256];
  int rc;

  fprintf(stderr, "== sqlite\n");
  g_mysql = 0;
  T_RUN(test_open_schema);
  T_RUN(test_open_errors);
  T_RUN(test_migrate_002);
  T_RUN(test_migrate_003);

  rc = chat_store_open(g_path, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_concurrency);
    T_RUN(test_search_bench);
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
  snprintf(g_db, sizeof(g_db), "%s", db);

  g_mysql = 1;
  T_RUN(test_open_schema_mysql);
  T_RUN(test_mysql_bad_password);
  T_RUN(test_mysql_socket);
  T_RUN(test_migrate_002_mysql);
  T_RUN(test_migrate_003_mysql);
  rc = chat_store_open(g_url, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_mysql_reconnect);
    T_RUN(test_concurrency);
    T_RUN(test_search_bench);
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
