/* Shared by the store's unit tests (test_store_sqlite.c and
 * test_store_mysql.c): the state of a run and helpers.  Every case of
 * store_cases_a.h and store_cases_b.h runs against the backend of the file
 * that includes them: g_store, opened by its run, with g_mysql set for
 * MySQL.  Only included by those two files, once each. */
#ifndef CHAT_TEST_STORE_T_H
#define CHAT_TEST_STORE_T_H

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

#include "core/ident.h"
#include "store/backend.h"
#include "store/sqlite_fts.h"
#include "store/store.h"
#include "t.h"

extern const char *const chat_schema_sqlite_files[][2];
extern const char *const chat_schema_mysql_files[][2];

static char g_path[256];   /* SQLite: the database, in a temporary folder */
static chat_store_t *g_store;
static int g_mysql;        /* the backend under test is MySQL */
static char g_url[1200];   /* MySQL: the url of this run's database */
static MYSQL *g_raw;       /* MySQL: a plain connection to that database */

/* --- helpers -------------------------------------------------------------- */

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
  chat_sqlite_fts_register(db);  /* the search tables' tokenizer */
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
  if (sqlite3_open_v2(g_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
    chat_sqlite_fts_register(db);
    T_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  }
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
  it->text_len = strlen(text);  /* as the rooms give it */
  it->cid = cid;
  it->ts = ts;
}

static void dm_item(chat_msg_insert_t *it, int64_t from, int64_t to,
                    const char *text, const char *cid, int64_t ts) {
  msg_item(it, 0, from, text, cid, ts);
  it->text_len = 0;  /* as direct messages give it: the store measures */
  it->to_id = to;
}

/* --- open, schema, migrations --------------------------------------------- */

#endif
