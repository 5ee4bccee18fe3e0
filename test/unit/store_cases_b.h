/* Cases of the store's unit tests, part 2 (see store_t.h): search and its
 * index, moderation, read markers, the checks of migrated databases,
 * concurrency and the search figures; run_common runs every case of both
 * parts on g_store. */
#ifndef CHAT_TEST_STORE_CASES_B_H
#define CHAT_TEST_STORE_CASES_B_H

#include "store_cases_a.h"
#include "store_cases_extras.h"
#include "store_cases_files.h"  /* files */
#include "store/rooms.h"       /* private rooms */

/* --- search --------------------------------------------------------------- */

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

/* Whether message id of kind has index rows: 0 or 1 (MySQL: its Mroonga
 * rows, one per participant of a direct message; SQLite: its FTS5 row,
 * which has a tag, "\x01r..." or "\x01u...", that a prefix query finds). */
static long long token_rows(int kind, int64_t id) {
  char sql[200];
  const char *t = kind == CHAT_SEARCH_DM ? "search_dm" : "search_room";

  if (g_mysql && kind == CHAT_SEARCH_DM)
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) > 0 FROM search_fts_dm WHERE k IN (2 * %lld, 2 * %lld + 1)",
             (long long)id, (long long)id);
  else if (g_mysql)
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM search_fts_room WHERE msg_id = %lld",
             (long long)id);
  else
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM %s WHERE %s MATCH '\"\x01%c\"*'"
             " AND rowid = %lld",
             t, t, kind == CHAT_SEARCH_DM ? 'u' : 'r', (long long)id);
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

  T_EQ_INT(token_rows(CHAT_SEARCH_ROOM, it[5].id), 1);
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

/* Search over thousands of indexed messages, past what a backend may read
 * directly before its engine (MySQL: the newest 4 096 ids, then more while
 * the matches say it pays, mysql_search.c): newest first without a gap or a
 * repeat where the two meet, every match found wherever it lies, LIKE's
 * special characters taken as text, candidates that fail the text check
 * and messages of hidden private rooms skipped without losing a match. */
static void test_search_deep(void) {
  enum { N = 7000, BATCH = 500, EVERY = 100 };
  chat_msg_insert_t *it = calloc(BATCH, sizeof(*it));
  char (*text)[48] = calloc(BATCH, sizeof(*text));
  int64_t u = make_user("deep-searcher"), o = make_user("deep-owner");
  int64_t pub = make_room("deep-public"), priv = 0, ids[1];
  int64_t deep[N / EVERY + 1];
  chat_msg_rec_t *m = NULL;
  size_t n = 0, ndeep = 0;
  int i, k;

  if (it == NULL || text == NULL) {
    free(it);
    free(text);
    return;
  }
  ids[0] = o;
  T_EQ_INT(chat_store_room_create_owned(g_store, "", "", 1, o, ids, 0, 1, &priv), 0);
  for (i = 0; i < N; i += BATCH) {
    for (k = 0; k < BATCH; k++) {
      int j = i + k; /* the message's place, oldest first */
      int64_t room = pub;

      if (j % EVERY == 50)
        snprintf(text[k], sizeof(text[k]), "深处词 %d", j);
      else if (j == 1 || j == N - 1)
        snprintf(text[k], sizeof(text[k]), "唯一旧词 %s", j == 1 ? "old" : "new");
      else if (j == N - 90)
        snprintf(text[k], sizeof(text[k]), "café 大");
      else if (j >= N - 80 && j < N - 20)
        snprintf(text[k], sizeof(text[k]), "CAFÉ 大 %d", j); /* not café */
      else if (j >= 20 && j < 23)
        snprintf(text[k], sizeof(text[k]), "藏词 public %d", j);
      else if (j >= N - 400 && j < N - 100) {
        snprintf(text[k], sizeof(text[k]), "藏词 private %d", j);
        room = priv;
      } else if (j >= N - 10 && j < N - 4) {
        static const char *const like[] = {"率 100% 确定", "率 1000 确定", "甲_乙",
                                           "甲x乙", "哇! ok", "哇 ok"};
        snprintf(text[k], sizeof(text[k]), "%s", like[j - (N - 10)]);
      } else {
        snprintf(text[k], sizeof(text[k]), "填充 %d", j);
      }
      msg_item(&it[k], room, u, text[k], NULL, 10000 + j);
      if (room == priv) it[k].sender_id = o;
    }
    T_EQ_INT(chat_store_msg_insert_batch(g_store, it, BATCH), 0);
    for (k = 0; k < BATCH; k++)
      if ((i + k) % EVERY == 50) deep[ndeep++] = it[k].id;
  }
  index_by(500);

  /* The newest 50 of 70, ids descending without a gap: the newest 4 096
   * hold 41 of them, the rest lie below. */
  T_EQ_INT(chat_store_search(g_store, u, "深处词", 0, 50, &m, &n), 0);
  T_EQ_INT(n, 50);
  for (i = 0; i < (int)n && i < 50; i++) T_EQ_INT(m[i].id, deep[ndeep - 1 - (size_t)i]);
  chat_store_msgs_free(m, n);
  T_EQ_INT(search_n(u, "深处词", pub, NULL, NULL), 50);

  /* One match among the newest, one at the bottom. */
  T_EQ_INT(chat_store_search(g_store, u, "唯一旧词", 0, 50, &m, &n), 0);
  T_EQ_INT(n, 2);
  if (n == 2) {
    T_EQ_STR(m[0].text, "唯一旧词 new");
    T_EQ_STR(m[1].text, "唯一旧词 old");
  }
  chat_store_msgs_free(m, n);
  T_CHECK(finds(u, "唯一旧词 OLD", pub, "唯一旧词 old"));

  /* LIKE's % and _ and an escape character are text. */
  T_CHECK(finds(u, "100%", 0, "率 100% 确定"));
  T_EQ_INT(search_n(u, "100%", pub, NULL, NULL), 1);
  T_EQ_INT(search_n(u, "0% 确", pub, NULL, NULL), 1);
  T_EQ_INT(search_n(u, "%", pub, NULL, NULL), 1);
  T_CHECK(finds(u, "甲_乙", 0, "甲_乙"));
  T_EQ_INT(search_n(u, "甲_乙", pub, NULL, NULL), 1);
  T_CHECK(finds(u, "哇! OK", 0, "哇! ok"));
  T_EQ_INT(search_n(u, "哇!", pub, NULL, NULL), 1);
  T_EQ_INT(search_n(u, "!", pub, NULL, NULL), 1);

  /* ASCII case aside, bytes decide: the 60 newer CAFÉ are not café. */
  T_EQ_INT(chat_store_search(g_store, u, "café 大", 0, 50, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_STR(m[0].text, "café 大");
  chat_store_msgs_free(m, n);
  T_CHECK(finds(u, "café", pub, "café 大"));
  T_EQ_INT(search_n(u, "CAFÉ 大", pub, NULL, NULL), 50);

  /* 300 newer matches in a private room the searcher is not in. */
  T_EQ_INT(chat_store_search(g_store, u, "藏词", 0, 50, &m, &n), 0);
  T_EQ_INT(n, 3);
  for (i = 0; i < (int)n; i++) T_EQ_INT(m[i].room, pub);
  chat_store_msgs_free(m, n);
  T_EQ_INT(search_n(o, "藏词", 0, NULL, NULL), 50);
  T_EQ_INT(search_n(o, "藏词 public", 0, NULL, NULL), 3);
  free(it);
  free(text);
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
  /* The deleted one stays as a tombstone (schema 009). */
  T_EQ_INT(n, 2);
  if (n == 2) {
    T_EQ_INT(ml[0].deleted, 1);
    T_EQ_STR(ml[0].text, "");
    T_EQ_INT(ml[1].deleted, 0);
    T_EQ_STR(ml[1].text, "good words");
  }
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
    /* Migration 005 numbered them in id order. */
    T_EQ_INT(m[0].seq, 1);
    T_EQ_INT(m[1].seq, 2);
  }
  chat_store_msgs_free(m, n);
  {
    int64_t last = -1;
    T_EQ_INT(chat_store_room_last_seq(s, 1, &last), 0);
    T_EQ_INT(last, 2);
    msg_item(&it, 1, 7, "after the upgrade", NULL, 8);
    T_EQ_INT(chat_store_msg_insert_batch(s, &it, 1), 0);
    T_EQ_INT(it.seq, 3);
  }
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


/* --- migration 003 on a database of 002 ----------------------------------- */

/* Writes the search rows of message id of kind by plain SQL, as the code
 * of 002 did with each message. */
static void raw_index(int kind, long long id, const char *text) {
  chat_token_t toks[64];
  size_t n = chat_tokens_text(text, strlen(text), toks, 64), i, j;
  char sql[200], hex[2 * CHAT_SEARCH_TOKEN_BYTES + 1];

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



/* --- migration 004 on a database of 003 ----------------------------------- */

/* The users of a database at 003 (raw_exec on it), stored before identity
 * keys: 7 "bob", then two younger look-alikes that 004 cannot give the
 * same key, 8 "bоb" (Cyrillic о) and 9 "ｂｏｂ" (full-width), and 10
 * "Carol". */
static void fill_003(void) {
  raw_exec("INSERT INTO users (id, username, email, pwhash, role, banned,"
           " created_ms) VALUES (7, 'bob', '', '$h7$', 0, 0, 5),"
           " (8, 'b\xd0\xbe" "b', '', '$h8$', 0, 0, 6),"
           " (9, '\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82', '', '$h9$', 0, 0, 7),"
           " (10, 'Carol', '', '$h10$', 0, 0, 8)");
}

/* The id of the user a name finds, or -1. */
static int64_t found_id(chat_store_t *s, const char *name) {
  chat_user_rec_t u;
  return chat_store_user_by_name(s, name, &u) == 0 ? u.id : -1;
}

/* Checks a store just brought from 003 (fill_003) up to date. */
static void check_upgraded_004(chat_store_t *s) {
  chat_store_t *saved = g_store;

  g_store = s;
  /* The oldest of the look-alikes has the key; the younger ones have none
   * (the migration did not fail). */
  T_EQ_INT(raw_int("SELECT id FROM users WHERE ident_key = 'bob'"), 7);
  T_EQ_INT(raw_int("SELECT id FROM users WHERE ident_key = 'carol'"), 10);
  T_EQ_INT(raw_int("SELECT COUNT(*) FROM users WHERE ident_key IS NULL"), 2);
  /* Nobody is locked out: the exact name finds each user, every other
   * spelling the one with the key. */
  T_EQ_INT(found_id(s, "bob"), 7);
  T_EQ_INT(found_id(s, "BOB"), 7);
  T_EQ_INT(found_id(s, "b\xd0\xbe" "b"), 8);
  T_EQ_INT(found_id(s, "\xef\xbd\x82\xef\xbd\x8f\xef\xbd\x82"), 9);
  T_EQ_INT(found_id(s, "\xef\xbc\xa2\xef\xbc\xaf\xef\xbc\xa2"), 7);  /* ＢＯＢ */
  T_EQ_INT(found_id(s, "\xf0\x9d\x90\x9b\xf0\x9d\x90\xa8\xf0\x9d\x90\x9b"), 7);
  T_EQ_INT(found_id(s, "cArOl"), 10);
  /* No new user takes any spelling of an old name. */
  T_EQ_INT(chat_store_user_create(s, "B\xd0\x9e" "B", "", "$h$", CHAT_ROLE_USER,
                                  1, NULL),
           CHAT_EEXIST);
  T_EQ_INT(chat_store_user_create(s, "caro\xe2\x85\xbc", "", "$h$", CHAT_ROLE_USER,
                                  1, NULL),
           CHAT_EEXIST);  /* Roman numeral ⅼ */
  T_CHECK(make_user("dave") > 10);
  g_store = saved;
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
  if (g_mysql)
    fprintf(stderr, "bench: search_fts_room %lld MB\n",
            raw_int("SELECT (data_length + index_length) >> 20"
                    " FROM information_schema.tables"
                    " WHERE table_schema = DATABASE()"
                    " AND table_name = 'search_fts_room'"));
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
    /* Writers of one room take turns: numbers dense, in id order. */
    if (m[i].seq != (int64_t)i + 1) {
      T_EQ_INT(m[i].seq, (int64_t)i + 1);
      break;
    }
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


/* --- per-room sequences ---------------------------------------------------- */

/* The seqs of room's messages with seq in [from, to), as history would
 * show them, must be want[0..nwant). */
static void check_by_seq(int64_t room, int64_t from, int64_t to, int limit,
                         const int64_t *want, size_t nwant) {
  chat_msg_rec_t *m = NULL;
  size_t n = 0, i;

  T_EQ_INT(chat_store_msg_by_seq(g_store, room, from, to, limit, &m, &n), 0);
  /* Deleted ones are tombstones (schema 009): the holes callers skip. */
  for (i = 0; i < n;) {
    if (m[i].deleted) {
      free(m[i].text);
      free(m[i].extra);
      memmove(&m[i], &m[i + 1], (n - i - 1) * sizeof(*m));
      n--;
    } else {
      i++;
    }
  }
  T_EQ_INT(n, nwant);
  for (i = 0; i < n && i < nwant; i++) {
    T_EQ_INT(m[i].seq, want[i]);
    T_EQ_INT(m[i].room, room);
    if (i > 0) T_CHECK(m[i].id > m[i - 1].id);
  }
  chat_store_msgs_free(m, n);
}

static void test_msg_seq(void) {
  chat_msg_insert_t it[12];
  chat_msg_rec_t *m = NULL;
  size_t n = 0;
  int64_t ra = make_room("seq-a"), rb = make_room("seq-b"), rc = make_room("seq-c");
  int64_t u = make_user("seq-user"), v = make_user("seq-friend"), last = -1;
  int i;

  T_EQ_INT(chat_store_room_last_seq(g_store, ra, &last), 0);
  T_EQ_INT(last, 0);
  T_EQ_INT(chat_store_room_last_seq(g_store, 999999, &last), CHAT_ENOTFOUND);

  /* One batch, rooms interleaved: each room's numbers follow item order;
   * a dup, a DM, a missing room and an unknown sender take none. */
  msg_item(&it[0], rb, u, "b1", "s1", 1);
  msg_item(&it[1], ra, u, "a1", NULL, 2);
  msg_item(&it[2], rb, u, "b2", NULL, 3);
  msg_item(&it[3], rb, u, "b1 again", "s1", 4);  /* a dup of item 0 */
  dm_item(&it[4], u, v, "a dm", NULL, 5);
  msg_item(&it[5], 999999, u, "nowhere", NULL, 6);
  msg_item(&it[6], ra, 999999, "ghost", NULL, 7);  /* fails: gives its number back */
  msg_item(&it[7], ra, u, "a2", NULL, 8);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 8), 0);
  T_EQ_INT(it[0].seq, 1);
  T_EQ_INT(it[1].seq, 1);
  T_EQ_INT(it[2].seq, 2);
  T_EQ_INT(it[3].dup, 1);
  T_EQ_INT(it[3].seq, 0);
  T_EQ_INT(it[4].seq, 0);
  T_EQ_INT(it[5].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[5].seq, 0);
  T_EQ_INT(it[6].status, CHAT_ENOTFOUND);
  T_EQ_INT(it[6].seq, 0);
  T_EQ_INT(it[7].seq, 2);
  T_EQ_INT(chat_store_room_last_seq(g_store, ra, &last), 0);
  T_EQ_INT(last, 2);
  T_EQ_INT(chat_store_room_last_seq(g_store, rb, &last), 0);
  T_EQ_INT(last, 2);

  /* A cid sent again in a later batch takes no number either. */
  msg_item(&it[0], rb, u, "b1 once more", "s1", 9);
  msg_item(&it[1], rb, u, "b3", NULL, 10);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  T_EQ_INT(it[0].dup, 1);
  T_EQ_INT(it[0].seq, 0);
  T_EQ_INT(it[1].seq, 3);

  /* A larger batch (MySQL: the multi-row statements) over three rooms. */
  {
    static char texts[12][16], cids[12][16];
    for (i = 0; i < 12; i++) {
      snprintf(texts[i], sizeof(texts[i]), "m%d", i);
      snprintf(cids[i], sizeof(cids[i]), "big%d", i % 10);  /* 10, 11 repeat 0, 1 */
      msg_item(&it[i], i % 3 == 0 ? ra : i % 3 == 1 ? rb : rc, u, texts[i], cids[i],
               100 + i);
    }
    T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 12), 0);
    int64_t want_a = 2, want_b = 3, want_c = 0;
    for (i = 0; i < 12; i++) {
      if (i >= 10) {
        T_EQ_INT(it[i].dup, 1);
        T_EQ_INT(it[i].seq, 0);
        continue;
      }
      int64_t *w = i % 3 == 0 ? &want_a : i % 3 == 1 ? &want_b : &want_c;
      T_EQ_INT(it[i].seq, ++*w);
      if (i > 0) T_CHECK(it[i].id > it[i - 1].id);
    }
    T_EQ_INT(chat_store_room_last_seq(g_store, ra, &last), 0);
    T_EQ_INT(last, want_a);
    T_EQ_INT(chat_store_room_last_seq(g_store, rc, &last), 0);
    T_EQ_INT(last, want_c);
  }

  /* History and resumes carry seq. */
  T_EQ_INT(chat_store_msg_history(g_store, rb, 0, 50, &m, &n), 0);
  T_EQ_INT(n, 6);
  for (i = 0; i < (int)n; i++) T_EQ_INT(m[i].seq, i + 1);
  chat_store_msgs_free(m, n);
  T_EQ_INT(chat_store_msg_since(g_store, ra, 0, 50, &m, &n), 0);
  T_EQ_INT(n, 6);
  for (i = 0; i < (int)n; i++) T_EQ_INT(m[i].seq, i + 1);
  int64_t a3_id = n > 2 ? m[2].id : 0;
  chat_store_msgs_free(m, n);

  /* Reads by seq: a range, a limit (the lowest first), and a deleted
   * message is a hole that stays (its number is not used again). */
  {
    static const int64_t all[] = {1, 2, 3, 4, 5, 6}, holed[] = {2, 4, 5}, low[] = {1, 2};
    check_by_seq(ra, 1, 7, 50, all, 6);
    check_by_seq(ra, 1, 100, 2, low, 2);
    T_EQ_INT(chat_store_msg_delete(g_store, ra, a3_id), 0);
    check_by_seq(ra, 2, 6, 50, holed, 3);
    check_by_seq(ra, 7, 9, 50, NULL, 0);
    check_by_seq(999999, 1, 9, 50, NULL, 0);
    msg_item(&it[0], ra, u, "a7", NULL, 200);
    T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
    T_EQ_INT(it[0].seq, 7);
  }

  /* Every room's last_seq in one read. */
  {
    chat_room_seq_t *seqs = NULL;
    size_t ns = 0, k, found = 0;
    T_EQ_INT(chat_store_room_seqs(g_store, &seqs, &ns), 0);
    for (k = 0; k < ns; k++) {
      if (k > 0) T_CHECK(seqs[k].id > seqs[k - 1].id);
      if (seqs[k].id == ra) found += seqs[k].last_seq == 7;
      if (seqs[k].id == rb) found += seqs[k].last_seq == 6;
      if (seqs[k].id == rc) found += seqs[k].last_seq == 3;
    }
    T_EQ_INT(found, 3);
    free(seqs);
  }

  /* Many messages, rooms interleaved, some deleted: every window by seq
   * (SQLite finds its ids by bisection, schema 013) is what the rows of
   * the room say. */
  {
    static char texts[300][16];
    chat_msg_insert_t *big = calloc(300, sizeof(*big));
    int64_t rooms3[3] = {ra, rb, rc};
    for (i = 0; i < 300; i++) {
      snprintf(texts[i], sizeof(texts[i]), "w%d", i);
      msg_item(&big[i], rooms3[(i * 7 + i / 13) % 3], u, texts[i], NULL, 300 + i);
    }
    for (i = 0; i < 300; i += 60) T_EQ_INT(chat_store_msg_insert_batch(g_store, big + i, 60), 0);
    for (i = 5; i < 300; i += 37) T_EQ_INT(chat_store_msg_delete(g_store, big[i].room, big[i].id), 0);
    for (int r = 0; r < 3; r++) {
      chat_msg_rec_t *h = NULL;
      size_t nh = 0;
      T_EQ_INT(chat_store_msg_history(g_store, rooms3[r], 0, 1000, &h, &nh), 0);
      int64_t seqs[400], want[400];
      int gone[400];
      size_t nr = 0;
      for (size_t k = 0; k < nh && nr < 400; k++, nr++) {
        seqs[nr] = h[k].seq;
        gone[nr] = h[k].deleted;  /* a tombstone: counted by the limit */
      }
      int64_t top = nh ? h[nh - 1].seq : 0;
      chat_store_msgs_free(h, nh);
      for (int64_t from = 0; from <= top + 1; from += 9) {
        for (int64_t to = from; to <= top + 2; to += 17) {
          int limit = (int)(1 + (from + to) % 40), taken = 0;
          size_t nw = 0;
          for (size_t k = 0; k < nr && taken < limit; k++) {
            if (seqs[k] < from || seqs[k] >= to) continue;
            taken++;
            if (!gone[k]) want[nw++] = seqs[k];
          }
          check_by_seq(rooms3[r], from, to, limit, want, nw);
        }
      }
    }
    free(big);
  }
}

/* --- runs ----------------------------------------------------------------- */

/* Display names and the name search (schema 007). */
static int has_user(const chat_user_rec_t *v, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (v[i].id == id) return 1;
  return 0;
}

static void test_people(void) {
  chat_user_rec_t u, *v = NULL, *fl_users = NULL;
  chat_friend_rec_t *fl = NULL;
  chat_friend_state_t st;
  size_t n = 0, i;
  int64_t a = make_user("pplAlice"), b = make_user("pplbob"), c = make_user("zzcarol"),
          d = make_user("张ppl"), e = make_user("ppl%x"), f = make_user("pplmaxa");
  (void)fl_users;

  /* No display name chosen: the username is shown. */
  T_EQ_INT(chat_store_user_by_id(g_store, a, &u), 0);
  T_EQ_STR(u.display_name, "pplAlice");
  /* Set, kept across reads, and the e-mail with it. */
  T_EQ_INT(chat_store_user_set_profile(g_store, c, "张三ppl Carol", NULL), 0);
  T_EQ_INT(chat_store_user_by_id(g_store, c, &u), 0);
  T_EQ_STR(u.display_name, "张三ppl Carol");
  T_EQ_STR(u.email, "x@example.org");
  T_EQ_INT(chat_store_user_set_profile(g_store, c, NULL, ""), 0);
  T_EQ_INT(chat_store_user_by_name(g_store, "ZZCAROL", &u), 0);
  T_EQ_STR(u.display_name, "张三ppl Carol");
  T_EQ_STR(u.email, "");
  /* The same value again is no "not found" (MySQL counts matched rows). */
  T_EQ_INT(chat_store_user_set_profile(g_store, c, "张三ppl Carol", ""), 0);
  T_EQ_INT(chat_store_user_set_profile(g_store, 999999, "x", NULL), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_user_set_profile(g_store, b, "PPL Bobby", NULL), 0);
  /* Friends lists carry it. */
  T_EQ_INT(chat_store_friend_request(g_store, a, c, 10, &st), 0);
  T_EQ_INT(chat_store_friend_list(g_store, a, &fl, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_STR(fl[0].display_name, "张三ppl Carol");
  free(fl);
  T_EQ_INT(chat_store_friend_list(g_store, c, &fl, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_STR(fl[0].display_name, "pplAlice");
  free(fl);

  /* Prefixes of usernames and display names, ASCII case aside, in
   * username order. */
  T_EQ_INT(chat_store_user_search(g_store, "PPL", 20, &v, &n), 0);
  T_EQ_INT(n, 4);  /* pplAlice, pplbob (by both names), ppl%x, pplmaxa */
  T_CHECK(has_user(v, n, a) && has_user(v, n, b) && has_user(v, n, e) && has_user(v, n, f));
  T_CHECK(!has_user(v, n, c) && !has_user(v, n, d));
  for (i = 1; i < n; i++) T_CHECK(name_cmp(v[i - 1].username, v[i].username) < 0);
  for (i = 0; i < n; i++)
    if (v[i].id == b) T_EQ_STR(v[i].display_name, "PPL Bobby");
  free(v);
  /* Chinese: 张 finds the username 张ppl and the display name 张三ppl Carol. */
  T_EQ_INT(chat_store_user_search(g_store, "张", 20, &v, &n), 0);
  T_CHECK(has_user(v, n, c) && has_user(v, n, d));
  free(v);
  T_EQ_INT(chat_store_user_search(g_store, "张三p", 20, &v, &n), 0);
  T_EQ_INT(n, 1);
  T_CHECK(has_user(v, n, c));
  free(v);
  /* % and _ are characters, not patterns. */
  T_EQ_INT(chat_store_user_search(g_store, "ppl%", 20, &v, &n), 0);
  T_EQ_INT(n, 1);
  T_CHECK(has_user(v, n, e));
  free(v);
  T_EQ_INT(chat_store_user_search(g_store, "ppl_", 20, &v, &n), 0);
  T_EQ_INT(n, 0);
  free(v);
  /* The limit; banned users are left out. */
  T_EQ_INT(chat_store_user_search(g_store, "ppl", 2, &v, &n), 0);
  T_EQ_INT(n, 2);
  free(v);
  T_EQ_INT(chat_store_user_set_banned(g_store, f, 1), 0);
  T_EQ_INT(chat_store_user_search(g_store, "pplm", 20, &v, &n), 0);
  T_EQ_INT(n, 0);
  free(v);
  T_EQ_INT(chat_store_user_set_banned(g_store, f, 0), 0);
  /* Bad arguments. */
  T_EQ_INT(chat_store_user_search(g_store, "  ", 20, &v, &n), CHAT_EINVAL);
  T_EQ_INT(chat_store_user_search(g_store, "ppl", 0, &v, &n), CHAT_EINVAL);
  T_EQ_INT(chat_store_user_search(g_store, "\xff", 20, &v, &n), CHAT_EINVAL);
}

static void run_common(void) {
  T_RUN(test_users);
  T_RUN(test_user_keys);
  T_RUN(test_sessions);
  T_RUN(test_set_password);
  T_RUN(test_rooms);
  T_RUN(test_insert_batch);
  T_RUN(test_insert_batch_large);
  T_RUN(test_msg_seq);
  T_RUN(test_history);
  T_RUN(test_text_roundtrip);
  T_RUN(test_dm);
  T_RUN(test_friends);
  T_RUN(test_tx);
  T_RUN(test_search_unindexed);
  T_RUN(test_search_half);
  T_RUN(test_search_indexed);
  T_RUN(test_index_pending);
  T_RUN(test_search_tail_bound);
  T_RUN(test_search_deep);
  T_RUN(test_moderation);
  T_RUN(test_unread);
  T_RUN(test_people);
  T_RUN(test_extras_store);
  T_RUN(test_files);
}

#endif
