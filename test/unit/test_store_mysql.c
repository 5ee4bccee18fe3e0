/* Unit tests of the store on MySQL / MariaDB: the url and connection
 * cases, and, when the environment variable CHAT_TEST_MYSQL_URL names a
 * server (mysql://user:pass@host:port/db, e.g. from
 * scripts/mariadb-temp.sh), every case against a fresh database created
 * there for this run (chat_test_ and a random suffix, so the user needs
 * rights on chat_test%) and dropped at the end.  The cases shared with
 * SQLite are in store_cases_a.h and store_cases_b.h. */
#define _GNU_SOURCE
#include "store_cases_b.h"

/* --- migrations ----------------------------------------------------------- */

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
                     " ('direct_messages', 'friendships', 'search_cursor',"
                     " 'audit_log', 'read_markers', 'search_tokens')"),
             5);
    /* 012 indexed both old messages (Mroonga). */
    tokens = raw_int("SELECT COUNT(*) FROM search_fts_room");
    T_EQ_INT(tokens, 2);
    check_upgraded(s);
    /* Every statement of 002 can run again (a migration interrupted
     * half-way is run again whole), and changes nothing. */
    T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[1][1]), 0);
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.columns"
                     " WHERE table_schema = DATABASE()"
                     " AND table_name = 'users'"
                     " AND column_name = 'email_notify'"),
             1);
    T_EQ_INT(raw_int("SELECT COUNT(*) FROM search_fts_room"), tokens);
    g_raw = saved;
  }
  chat_store_close(s);

out:
  explicit_bzero(&u, sizeof(u));
  if (c != NULL) mysql_close(c);
  snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", db);
  raw_exec(sql);
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

static void test_migrate_004_mysql(void) {
  chat_mysql_url_t u;
  chat_store_t *s = NULL;
  MYSQL *c = NULL, *saved = g_raw;
  char db[80], url[1300], sql[200], err[512];
  const char *slash, *q;

  /* A third database, at 003. */
  snprintf(db, sizeof(db), "%s_v3", g_db);
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
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[2][1]), 0);
  T_EQ_INT(
      mysql_multi(
          c,
          "CREATE TABLE schema_version (version INT NOT NULL PRIMARY KEY,"
          " name VARCHAR(255) NOT NULL, applied_ms BIGINT NOT NULL)"
          " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"
          "INSERT INTO schema_version VALUES (1, '001_init.sql', 0),"
          " (2, '002_community.sql', 0), (3, '003_index_cursor.sql', 0);"),
      0);
  g_raw = c;
  fill_003();

  T_EQ_INT(chat_store_open(url, 2, &s, err, sizeof(err)), 0);
  if (s == NULL) {
    fprintf(stderr, "open: %s\n", err);
    goto out;
  }
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM schema_version"), schema_files());
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM information_schema.statistics"
                   " WHERE table_schema = DATABASE() AND table_name = 'users'"
                   " AND index_name = 'users_ident_key' AND non_unique = 0"),
           1);
  check_upgraded_004(s);
  /* Every statement of 004 can run again and keeps the keys. */
  T_EQ_INT(mysql_multi(c, chat_schema_mysql_files[3][1]), 0);
  T_EQ_INT(raw_int("SELECT id FROM users WHERE ident_key = 'bob'"), 7);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM users WHERE ident_key IS NULL"), 2);
  chat_store_close(s);

out:
  g_raw = saved;
  explicit_bzero(&u, sizeof(u));
  if (c != NULL) mysql_close(c);
  snprintf(sql, sizeof(sql), "DROP DATABASE `%s`", db);
  raw_exec(sql);
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


/* --- MySQL only: the transaction helper and lock waits ------------------- */

/* Commits g_raw's transaction after longer than one lock wait of the store
 * (LOCK_WAIT_S of mysql_int.h, 5 s). */
static void *commit_later(void *arg) {
  struct timespec ts = {6, 0};

  (void)arg;
  nanosleep(&ts, NULL);
  if (mysql_query(g_raw, "COMMIT") != 0)
    fprintf(stderr, "raw commit: %s\n", mysql_error(g_raw));
  return NULL;
}

static void test_tx_lock_wait(void) {
  chat_user_rec_t u;
  int64_t uid = make_user("lock-user");
  char sql[128];
  pthread_t th;
  double t0, dt;
  int rc;

  /* Another connection holds the user's row. */
  raw_exec("START TRANSACTION");
  snprintf(sql, sizeof(sql), "SELECT id FROM users WHERE id = %lld FOR UPDATE",
           (long long)uid);
  T_EQ_INT(mysql_raw_int(sql), uid);
  T_EQ_INT(pthread_create(&th, NULL, commit_later, NULL), 0);
  t0 = now_s();
  rc = chat_store_user_set_password(g_store, uid, "$after-wait$", NULL);
  dt = now_s() - t0;
  pthread_join(th, NULL);
  /* The first try's lock wait timed out after 5 s; the transaction ran
   * again and got the row once it was let go, after 6 s. */
  T_EQ_INT(rc, 0);
  T_CHECK(dt > 5.5);
  T_EQ_INT(chat_store_user_by_id(g_store, uid, &u), 0);
  T_EQ_STR(u.pwhash, "$after-wait$");
}

/* --- the write probe (GET /healthz) --------------------------------------- */

/* The probe commits a write: its counter moves.  (Its failures are the
 * transaction helper's, tested with test_tx_lock_wait.) */
static void test_write_probe_mysql(void) {
  T_EQ_INT(chat_store_write_probe(g_store), 0);
  long long n0 = mysql_raw_int("SELECT n FROM health_probe WHERE id = 1");
  T_CHECK(n0 >= 1);
  T_EQ_INT(chat_store_write_probe(g_store), 0);
  T_EQ_INT(mysql_raw_int("SELECT n FROM health_probe WHERE id = 1"), n0 + 1);
}

/* --- runs ----------------------------------------------------------------- */

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
  T_RUN(test_migrate_004_mysql);
  rc = chat_store_open(g_url, 4, &g_store, err, sizeof(err));
  T_EQ_INT(rc, 0);
  if (rc == 0) {
    run_common();
    T_RUN(test_write_probe_mysql);
    T_RUN(test_tx_lock_wait);
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

  run_mysql(getenv("CHAT_TEST_MYSQL_URL"));
  return T_DONE();
}
