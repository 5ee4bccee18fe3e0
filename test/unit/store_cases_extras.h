/* Store cases of replies, mentions, reactions, edits and tombstones
 * (store.h "extras", schema 009), run on every backend by
 * store_cases_b.h's run_common. */
#ifndef CHAT_TEST_STORE_CASES_EXTRAS_H
#define CHAT_TEST_STORE_CASES_EXTRAS_H

#include "store_cases_a.h"
#include "core/mention.h" /* CHAT_REACTIONS_MAX */

/* The record of message id in list v[0..n), or NULL. */
static chat_msg_rec_t *rec_of(chat_msg_rec_t *v, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (v[i].id == id) return &v[i];
  return NULL;
}

/* The extra members of room message id as history shows them ("" for
 * none, "DELETED" for a tombstone), in buf. */
static const char *extra_of(int64_t room, int64_t id, char *buf, size_t cap) {
  chat_msg_rec_t *v = NULL;
  size_t n = 0;
  snprintf(buf, cap, "?");
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 50, &v, &n), 0);
  chat_msg_rec_t *m = rec_of(v, n, id);
  if (m) snprintf(buf, cap, "%s", m->deleted ? "DELETED" : m->extra ? m->extra : "");
  chat_store_msgs_free(v, n);
  return buf;
}

/* 1 if a search for q by user finds message id. */
static int found_by(int64_t user, const char *q, int64_t id) {
  chat_msg_rec_t *v = NULL;
  size_t n = 0;
  int hit = 0;
  T_EQ_INT(chat_store_search(g_store, user, q, 0, 50, &v, &n), 0);
  hit = rec_of(v, n, id) != NULL;
  chat_store_msgs_free(v, n);
  return hit;
}

static void index_all_extras(void) {
  int done = 1;
  for (int i = 0; i < 100 && done; i++) T_EQ_INT(chat_store_index_pending(g_store, 500, &done), 0);
}

static void test_extras_store(void) {
  char buf[1024], want[1024];
  int64_t a = make_user("xs-ann"), b = make_user("xs-ben"), room = make_room("xs-room"),
          other = make_room("xs-other");
  int64_t mention_a[1] = {a};
  chat_msg_insert_t it[4];

  msg_item(&it[0], room, a, "hello there", NULL, 1000);
  msg_item(&it[1], other, a, "elsewhere", NULL, 1001);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  int64_t m1 = it[0].id, mo = it[1].id;
  /* A reply with a mention (the checks are the caller's: extras.h). */
  msg_item(&it[0], room, b, "@xs-ann 同意", NULL, 1002);
  it[0].reply_to = m1;
  it[0].mentions = "[\"xs-ann\"]";
  it[0].mention_ids = mention_a;
  it[0].nmention_ids = 1;
  dm_item(&it[1], a, b, "dm one", NULL, 1003);
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 2), 0);
  int64_t m2 = it[0].id, d1 = it[1].id;
  dm_item(&it[0], b, a, "re @xs-ann", NULL, 1004);
  it[0].reply_to = d1;
  it[0].mentions = "[\"xs-ann\"]";
  it[0].mention_ids = mention_a;
  it[0].nmention_ids = 1;
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 1), 0);
  int64_t d2 = it[0].id;

  snprintf(want, sizeof(want),
           ",\"reply_to\":{\"id\":%lld,\"sender\":\"xs-ann\",\"text\":\"hello there\"},"
           "\"mentions\":[\"xs-ann\"]",
           (long long)m1);
  T_EQ_STR(extra_of(room, m2, buf, sizeof(buf)), want);
  T_EQ_STR(extra_of(room, m1, buf, sizeof(buf)), "");

  /* msg_ref: where a message is. */
  chat_msg_ref_t ref;
  T_EQ_INT(chat_store_msg_ref(g_store, 0, m2, &ref), 0);
  T_EQ_INT(ref.room, room);
  T_EQ_INT(ref.sender_id, b);
  T_EQ_STR(ref.sender, "xs-ben");
  T_EQ_STR(ref.text, "@xs-ann 同意");
  T_EQ_INT(ref.deleted, 0);
  free(ref.text);
  T_EQ_INT(chat_store_msg_ref(g_store, 1, d1, &ref), 0);
  T_EQ_INT(ref.room, 0);
  T_EQ_INT(ref.to_id, b);
  free(ref.text);
  T_EQ_INT(chat_store_msg_ref(g_store, 0, 987654321, &ref), CHAT_ENOTFOUND);

  /* Reactions: idempotent, in order, at most CHAT_REACTIONS_MAX emoji. */
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, b, "👍", 1, 2000), 0);
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, b, "👍", 1, 2001), 0);
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, a, "👍", 1, 2002), 0);
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, a, "🎉", 1, 2003), 0);
  T_EQ_STR(extra_of(room, m1, buf, sizeof(buf)),
           ",\"reactions\":[{\"emoji\":\"👍\",\"users\":[\"xs-ben\",\"xs-ann\"]},"
           "{\"emoji\":\"🎉\",\"users\":[\"xs-ann\"]}]");
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, b, "👍", 0, 2004), 0);
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, b, "👍", 0, 2005), 0);
  T_EQ_STR(extra_of(room, m1, buf, sizeof(buf)),
           ",\"reactions\":[{\"emoji\":\"👍\",\"users\":[\"xs-ann\"]},"
           "{\"emoji\":\"🎉\",\"users\":[\"xs-ann\"]}]");
  for (int i = 0; i < CHAT_REACTIONS_MAX; i++) {
    char e[8];
    snprintf(e, sizeof(e), "%s", "😀");  /* U+1F600 + i */
    e[3] = (char)(0x80 + i);
    T_EQ_INT(chat_store_msg_react(g_store, 0, m2, a, e, 1, 3000 + i), 0);
  }
  T_EQ_INT(chat_store_msg_react(g_store, 0, m2, a, "🐢", 1, 3100), CHAT_EAGAIN);
  T_EQ_INT(chat_store_msg_react(g_store, 0, m2, b, "😀", 1, 3101), 0);  /* one there already */
  T_EQ_INT(chat_store_msg_react(g_store, 0, 987654321, b, "😀", 1, 3102), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_react(g_store, 1, d1, b, "😀", 1, 3103), 0);

  /* Edits: the sender only; the text, edited_ts, the quote and search follow. */
  index_all_extras();
  T_CHECK(found_by(a, "hello", m1));
  T_EQ_INT(chat_store_msg_edit(g_store, 0, m1, b, "stolen", 4000), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_edit(g_store, 0, m1, a, "goodbye 世界", 4001), 0);
  snprintf(want, sizeof(want),
           ",\"reactions\":[{\"emoji\":\"👍\",\"users\":[\"xs-ann\"]},"
           "{\"emoji\":\"🎉\",\"users\":[\"xs-ann\"]}],\"edited_ts\":4001");
  T_EQ_STR(extra_of(room, m1, buf, sizeof(buf)), want);
  snprintf(want, sizeof(want),
           ",\"reply_to\":{\"id\":%lld,\"sender\":\"xs-ann\",\"text\":\"goodbye 世界\"}", (long long)m1);
  T_CHECK(strncmp(extra_of(room, m2, buf, sizeof(buf)), want, strlen(want)) == 0);
  T_CHECK(!found_by(a, "hello", m1));
  T_CHECK(found_by(a, "世界", m1));
  T_CHECK(found_by(a, "goodbye", m1));
  T_EQ_INT(chat_store_msg_edit(g_store, 1, d1, a, "dm edited", 4002), 0);
  T_CHECK(found_by(b, "edited", d1));

  /* Mention counts after the read markers. */
  T_EQ_INT(chat_store_read_mark(g_store, a, room, 0, m1), 0);
  chat_unread_rec_t *u = NULL;
  size_t nu = 0;
  T_EQ_INT(chat_store_unread(g_store, a, &u, &nu), 0);
  int rooms_seen = 0, dms_seen = 0;
  for (size_t i = 0; i < nu; i++) {
    if (u[i].room_id == room) {
      rooms_seen++;
      T_EQ_INT(u[i].count, 1);
      T_EQ_INT(u[i].mentions, 1);
    } else if (u[i].peer_id == b) {
      dms_seen++;
      T_EQ_INT(u[i].mentions, 1);
    }
  }
  free(u);
  T_EQ_INT(rooms_seen, 1);
  T_EQ_INT(dms_seen, 1);

  /* Deletion: a tombstone; the quote, reactions, mentions and search go. */
  T_EQ_INT(chat_store_msg_delete(g_store, other, m1), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_delete(g_store, room, m1), 0);
  T_EQ_INT(chat_store_msg_delete(g_store, room, m1), CHAT_ENOTFOUND);
  T_EQ_STR(extra_of(room, m1, buf, sizeof(buf)), "DELETED");
  snprintf(want, sizeof(want), ",\"reply_to\":{\"id\":%lld,\"sender\":\"xs-ann\",\"text\":null}",
           (long long)m1);
  T_CHECK(strncmp(extra_of(room, m2, buf, sizeof(buf)), want, strlen(want)) == 0);
  T_CHECK(!found_by(a, "goodbye", m1));
  T_EQ_INT(chat_store_msg_react(g_store, 0, m1, b, "👍", 1, 5000), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_edit(g_store, 0, m1, a, "back", 5001), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_msg_ref(g_store, 0, m1, &ref), 0);
  T_EQ_INT(ref.deleted, 1);
  T_EQ_STR(ref.text, "");
  free(ref.text);
  T_EQ_INT(chat_store_msg_delete(g_store, room, m2), 0);  /* its mention goes */
  T_EQ_INT(chat_store_unread(g_store, a, &u, &nu), 0);
  for (size_t i = 0; i < nu; i++)
    if (u[i].room_id == room) T_EQ_INT(u[i].mentions, 0);
  free(u);

  /* A direct message's recall. */
  T_EQ_INT(chat_store_dm_delete(g_store, d1), 0);
  T_EQ_INT(chat_store_dm_delete(g_store, d1), CHAT_ENOTFOUND);
  chat_msg_rec_t *v = NULL;
  size_t n = 0;
  T_EQ_INT(chat_store_dm_history(g_store, a, b, 0, 10, &v, &n), 0);
  chat_msg_rec_t *r1 = rec_of(v, n, d1), *r2 = rec_of(v, n, d2);
  T_CHECK(r1 != NULL && r1->deleted && r1->extra == NULL && r1->text[0] == '\0');
  snprintf(want, sizeof(want), ",\"reply_to\":{\"id\":%lld,\"sender\":\"xs-ann\",\"text\":null}",
           (long long)d1);
  T_CHECK(r2 != NULL && r2->extra != NULL && strncmp(r2->extra, want, strlen(want)) == 0);
  chat_store_msgs_free(v, n);
  T_CHECK(!found_by(b, "edited", d1));
  (void)mo;
}

#endif
