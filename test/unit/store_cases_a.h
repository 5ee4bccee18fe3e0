/* Cases of the store's unit tests, part 1 (see store_t.h): users,
 * sessions, rooms, message batches and history, direct messages, friends
 * and the transaction helper. */
#ifndef CHAT_TEST_STORE_CASES_A_H
#define CHAT_TEST_STORE_CASES_A_H

#include "store_t.h"

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

  /* Names are unique by identity key (core/ident.h), which folds every
   * case: Greek capital and small omega are one name. */
  T_EQ_INT(make_user("Ωmega") > 0, 1);
  T_EQ_INT(chat_store_user_create(g_store, "ωmega", "", "$h$", CHAT_ROLE_USER,
                                  1, NULL),
           CHAT_EEXIST);

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

/* Look-alike names: one identity per key, found by any spelling. */
static void test_user_keys(void) {
  static const char *const taken[] = {
      "KIM",                                    /* ASCII case */
      "\xef\xbd\x8b\xef\xbd\x89\xef\xbd\x8d",    /* ｋｉｍ full-width */
      "k\xd1\x96m",                             /* kіm, Cyrillic і */
      "\xf0\x9d\x90\xa4\xf0\x9d\x90\xa2\xf0\x9d\x90\xa6", /* 𝐤𝐢𝐦 */
      "\xe2\x93\x9a\xe2\x93\x98\xe2\x93\x9c",    /* ⓚⓘⓜ */
      "kim\xe3\x85\xa4",                        /* kim + U+3164 */
      "\xef\xbe\xa0kim",                        /* U+FFA0 + kim */
      "k\xe2\x80\x8dim",                        /* zero-width joiner */
  };
  chat_user_rec_t u, v;
  int64_t kim, sue;
  size_t i;
  char key[CHAT_IDENT_KEY_MAX], sql[CHAT_IDENT_KEY_MAX + 64];

  T_EQ_INT(chat_store_user_create(g_store, "kim", "k@example.org", "$h$",
                                  CHAT_ROLE_USER, 1, &u),
           0);
  kim = u.id;
  for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
    T_EQ_INT(chat_store_user_create(g_store, taken[i], "", "$h$",
                                    CHAT_ROLE_USER, 1, NULL),
             CHAT_EEXIST);
    memset(&v, 0, sizeof(v));
    T_EQ_INT(chat_store_user_by_name(g_store, taken[i], &v), 0);
    T_EQ_INT(v.id, kim);
    T_EQ_STR(v.username, "kim");
  }
  /* ſ (long s) is s. */
  sue = make_user("sue");
  T_EQ_INT(chat_store_user_create(g_store, "\xc5\xbfue", "", "$h$",
                                  CHAT_ROLE_USER, 1, NULL),
           CHAT_EEXIST);
  T_EQ_INT(chat_store_user_by_name(g_store, "\xc5\xbfUE", &v), 0);
  T_EQ_INT(v.id, sue);
  /* The key is stored with the user. */
  T_CHECK(chat_ident_key("kim", 3, key, sizeof(key)) > 0);
  snprintf(sql, sizeof(sql),
           "SELECT id FROM users WHERE ident_key = '%s'", key);
  T_EQ_INT(raw_int(sql), kim);
  /* Names that only share letters stay apart. */
  T_CHECK(make_user("kimberly") > 0);
  T_CHECK(make_user("\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0") > 0); /* 张三丰 */
  T_EQ_INT(chat_store_user_by_name(g_store, "ki", &v), CHAT_ENOTFOUND);
  /* Not UTF-8: no key, so no user is made, and none is found. */
  T_EQ_INT(chat_store_user_create(g_store, "kim\xff", "", "$h$",
                                  CHAT_ROLE_USER, 1, NULL),
           CHAT_EINVAL);
  T_EQ_INT(chat_store_user_by_name(g_store, "kim\xff", &v), CHAT_ENOTFOUND);
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

  /* Everybody's DMs above an id, ascending (cat's between it[4] and
   * it[5]), and the highest id. */
  int64_t last = 0;
  T_EQ_INT(chat_store_dm_last_id(g_store, &last), 0);
  T_EQ_INT(last, ids[N - 1]);
  T_EQ_INT(chat_store_dm_since(g_store, ids[3], 3, &m, &n), 0);
  T_EQ_INT(n, 3);
  if (n == 3) {
    T_EQ_INT(m[0].id, ids[4]);
    T_EQ_STR(m[0].sender, "dm-ann");
    T_EQ_STR(m[0].to, "dm-ben");
    T_EQ_STR(m[0].text, texts[4]);
    T_EQ_INT(m[0].ts, 2004);
    T_CHECK(m[1].id > ids[4] && m[1].id < ids[5]);
    T_EQ_STR(m[1].sender, "dm-cat");
    T_EQ_STR(m[1].to, "dm-ann");
    T_EQ_INT(m[2].id, ids[5]);
    T_EQ_STR(m[2].sender, "dm-ben");
  }
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_dm_since(g_store, ids[N - 1], 10, &m, &n), 0);
  T_EQ_INT(n, 0);
  T_EQ_INT(chat_store_dm_since(g_store, 0, 0, &m, &n), CHAT_EINVAL);

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

/* How many results searching q (as user, in room) has, and whether one of
 * them is the text want (NULL: none asked). */

/* --- the transaction helper (backend.h, tx_run) -------------------------- */

typedef struct {
  int calls;        /* runs of the step */
  int retries;      /* ask for another run this many times */
  int result;       /* what the last run returns */
  int64_t user;     /* whose session each run inserts */
  uint8_t hash[CHAT_TOKEN_HASH_LEN];
  int insert_rc;    /* what the last insert returned */
} tx_case_t;

/* Inserts a session, then asks for another run (retries times), then
 * returns result. */
static int tx_case_step(chat_store_tx_t *tx, void *arg) {
  tx_case_t *a = arg;

  a->calls++;
  a->insert_rc = tx->store->ops->tx_session_insert(tx, a->hash, a->user, 100,
                                                   100000);
  if (a->insert_rc) return a->insert_rc;
  if (a->calls <= a->retries) return CHAT_STORE_RETRY;
  return a->result;
}

static void test_tx(void) {
  const chat_store_ops_t *ops = g_store->ops;
  tx_case_t a;
  chat_user_rec_t u;

  /* A step that fails rolls back what it wrote and its code comes back. */
  memset(&a, 0, sizeof(a));
  a.user = make_user("tx-user");
  hash_of(a.hash, 61);
  a.result = CHAT_EINVAL;
  T_EQ_INT(ops->tx_run(g_store, "test", tx_case_step, &a), CHAT_EINVAL);
  T_EQ_INT(a.calls, 1);
  T_EQ_INT(chat_store_session_lookup(g_store, a.hash, 200, &u),
           CHAT_ENOTFOUND);

  /* A step that asks for another run runs again from a rolled-back start:
   * its first insert is gone (else the second would be CHAT_EEXIST). */
  a.calls = 0;
  a.retries = 1;
  a.result = 0;
  T_EQ_INT(ops->tx_run(g_store, "test", tx_case_step, &a), 0);
  T_EQ_INT(a.calls, 2);
  T_EQ_INT(a.insert_rc, 0);
  T_EQ_INT(chat_store_session_lookup(g_store, a.hash, 200, &u), 0);
  T_EQ_INT(u.id, a.user);

  /* Bounded: CHAT_STORE_TX_TRIES runs, then CHAT_EUNAVAIL, nothing
   * written. */
  fprintf(stderr, "(an error line from the store is expected here)\n");
  a.calls = 0;
  a.retries = 100;
  hash_of(a.hash, 62);
  T_EQ_INT(ops->tx_run(g_store, "test", tx_case_step, &a), CHAT_EUNAVAIL);
  T_EQ_INT(a.calls, CHAT_STORE_TX_TRIES);
  T_EQ_INT(chat_store_session_lookup(g_store, a.hash, 200, &u),
           CHAT_ENOTFOUND);

  /* A primitive's own error (no such user) ends the transaction. */
  a.calls = 0;
  a.retries = 0;
  a.user = 999999;
  T_EQ_INT(ops->tx_run(g_store, "test", tx_case_step, &a), CHAT_ENOTFOUND);
  T_EQ_INT(a.calls, 1);

  /* The store still works. */
  T_EQ_INT(chat_store_ping(g_store), 0);
}

#endif
