/* Unit tests of room membership in the store (store/rooms.h) on SQLite: a
 * database in a fresh temporary folder, removed at the end.  The same code
 * runs on MySQL (rooms.c is written once over rooms_int.h); the integration
 * test test_rooms_v2.py drives it there. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/rooms.h"
#include "store/store.h"
#include "t.h"

static char g_dir[64];
static chat_store_t *s;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int64_t user(const char *name) {
  chat_user_rec_t u;
  T_EQ_INT(chat_store_user_create(s, name, "", "$h$", CHAT_ROLE_USER, 1, &u), 0);
  return u.id;
}

static int64_t post(int64_t room, int64_t sender, const char *text) {
  chat_msg_insert_t it;
  memset(&it, 0, sizeof(it));
  it.room = room;
  it.sender_id = sender;
  it.text = text;
  it.ts = 5;
  T_EQ_INT(chat_store_msg_insert_batch(s, &it, 1), 0);
  T_EQ_INT(it.status, 0);
  return it.id;
}

static int64_t unread_of(int64_t uid, int64_t room, int *listed) {
  chat_unread_rec_t *u = NULL;
  size_t n = 0;
  int64_t c = 0;
  *listed = 0;
  T_EQ_INT(chat_store_unread(s, uid, &u, &n), 0);
  for (size_t i = 0; i < n; i++)
    if (u[i].room_id == room) c = u[i].count, *listed = 1;
  free(u);
  return c;
}

static void test_public_membership_and_unread(void) {
  int64_t a = user("pa"), b = user("pb");
  int64_t room = 0, allowed = 0;
  T_EQ_INT(chat_store_room_create_owned(s, "pub", "", 0, 0, NULL, 0, 10, &room), 0);
  T_EQ_INT(chat_store_room_create_owned(s, "PUB", "", 0, 0, NULL, 0, 10, &allowed), CHAT_EEXIST);
  post(room, b, "before a joined");
  int ok = 0, priv = 1, listed = 0;
  T_EQ_INT(chat_store_room_join_check(s, room, a, 0, 20, &ok, &priv), 0);
  T_EQ_INT(ok, 1);
  T_EQ_INT(priv, 0);
  /* A member from now on: unread counts from the join. */
  T_EQ_INT(unread_of(a, room, &listed), 0);
  post(room, b, "after");
  post(room, a, "own");
  T_EQ_INT(unread_of(a, room, &listed), 1);
  T_EQ_INT(listed, 1);
  chat_room_info_t ri;
  T_EQ_INT(chat_store_room_info(s, room, a, &ri), 0);
  T_EQ_INT(ri.member, 1);
  T_EQ_INT(ri.priv, 0);
  T_EQ_STR(ri.name, "pub");
  /* Leaving for good: no member, no unread entry; twice is not found. */
  T_EQ_INT(chat_store_room_member_remove(s, room, a), 0);
  T_EQ_INT(chat_store_room_member_remove(s, room, a), CHAT_ENOTFOUND);
  unread_of(a, room, &listed);
  T_EQ_INT(listed, 0);
  T_EQ_INT(chat_store_room_info(s, room, a, &ri), 0);
  T_EQ_INT(ri.member, 0);
  T_EQ_INT(chat_store_room_join_check(s, 999999, a, 0, 20, &ok, NULL), CHAT_ENOTFOUND);
}

static void test_private_rooms_and_groups(void) {
  int64_t o = user("own"), m = user("mem"), x = user("out");
  int64_t ids[] = {m, 424242};
  int64_t room = 0, group = 0;
  T_EQ_INT(chat_store_room_create_owned(s, "secret", "t", 1, o, ids, 2, 30, &room), 0);
  /* Private names never collide (with each other or a public room). */
  T_EQ_INT(chat_store_room_create_owned(s, "secret", "", 1, x, NULL, 0, 30, &group), 0);
  T_EQ_INT(chat_store_room_create_owned(s, "", "", 1, o, ids, 1, 31, &group), 0);
  chat_room_info_t ri;
  T_EQ_INT(chat_store_room_info(s, group, m, &ri), 0);
  T_EQ_STR(ri.name, "");
  T_EQ_INT(ri.nnames, 2);
  T_EQ_STR(ri.names[0], "own");
  T_EQ_STR(ri.owner, "own");
  int ok = 1, priv = 0, member = 0, muted = 0;
  T_EQ_INT(chat_store_room_join_check(s, room, x, 0, 40, &ok, &priv), 0);
  T_EQ_INT(ok, 0);
  T_EQ_INT(priv, 1);
  T_EQ_INT(chat_store_room_join_check(s, room, x, 1, 40, &ok, NULL), 0);
  T_EQ_INT(ok, 1);   /* an administrator */
  T_EQ_INT(chat_store_room_access(s, room, x, &priv, &member, NULL, NULL), 0);
  T_EQ_INT(member, 0);   /* and still not a member */
  T_EQ_INT(chat_store_room_join_check(s, room, m, 0, 40, &ok, NULL), 0);
  T_EQ_INT(ok, 1);
  /* The list: public rooms and one's own private rooms. */
  chat_room_info_t *v = NULL;
  size_t n = 0, seen = 0;
  T_EQ_INT(chat_store_room_list_for(s, x, &v, &n), 0);
  for (size_t i = 0; i < n; i++) seen += v[i].id == room || v[i].id == group;
  T_EQ_INT(seen, 0);
  free(v);
  T_EQ_INT(chat_store_room_list_for(s, m, &v, &n), 0);
  seen = 0;
  for (size_t i = 0; i < n; i++) seen += v[i].id == room || v[i].id == group;
  T_EQ_INT(seen, 2);
  free(v);
  /* Hidden from search. */
  int64_t *hide = NULL;
  size_t nh = 0;
  T_EQ_INT(chat_store_room_hidden(s, x, &hide, &nh), 0);
  int hidden = 0;
  for (size_t i = 0; i < nh; i++) hidden += hide[i] == room || hide[i] == group;
  T_EQ_INT(hidden, 2);
  free(hide);
  post(room, o, "needle in a private room");
  chat_msg_rec_t *res = NULL;
  size_t nres = 0;
  T_EQ_INT(chat_store_search(s, x, "needle", 0, 10, &res, &nres), 0);
  T_EQ_INT(nres, 0);
  chat_store_msgs_free(res, nres);
  T_EQ_INT(chat_store_search(s, x, "needle", room, 10, &res, &nres), 0);
  T_EQ_INT(nres, 0);
  chat_store_msgs_free(res, nres);
  T_EQ_INT(chat_store_search(s, m, "needle", 0, 10, &res, &nres), 0);
  T_EQ_INT(nres, 1);
  chat_store_msgs_free(res, nres);
  /* Members, mute, the owner leaving. */
  chat_room_member_t *mem = NULL;
  T_EQ_INT(chat_store_room_members(s, room, &mem, &n), 0);
  T_EQ_INT(n, 2);
  if (n == 2) {
    T_EQ_STR(mem[0].username, "own");
    T_EQ_INT(mem[0].owner, 1);
    T_EQ_INT(mem[1].owner, 0);
  }
  free(mem);
  T_EQ_INT(chat_store_room_set_muted(s, room, m, 1), 0);
  T_EQ_INT(chat_store_room_set_muted(s, room, x, 1), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_room_access(s, room, m, NULL, NULL, &muted, NULL), 0);
  T_EQ_INT(muted, 1);
  T_EQ_INT(chat_store_room_member_remove(s, room, o), 0);
  int64_t owner = 0;
  T_EQ_INT(chat_store_room_access(s, room, m, NULL, NULL, NULL, &owner), 0);
  T_EQ_INT(owner, m);
  int added = 0;
  T_EQ_INT(chat_store_room_member_add(s, room, x, 50, &added), 0);
  T_EQ_INT(added, 1);
  T_EQ_INT(chat_store_room_member_add(s, room, x, 50, &added), 0);
  T_EQ_INT(added, 0);
}

static void test_announcement_and_pins(void) {
  int64_t o = user("pino");
  int64_t room = 0, other = 0;
  T_EQ_INT(chat_store_room_create_owned(s, "pins", "", 1, o, NULL, 0, 60, &room), 0);
  T_EQ_INT(chat_store_room_create_owned(s, "elsewhere", "", 1, o, NULL, 0, 60, &other), 0);
  T_EQ_INT(chat_store_room_patch(s, room, "renamed", NULL, "公告"), 0);
  T_EQ_INT(chat_store_room_patch(s, 999999, NULL, NULL, "x"), CHAT_ENOTFOUND);
  int64_t away = post(other, o, "not here");
  int64_t ids[CHAT_ROOM_PINS_MAX + 1];
  for (int i = 0; i <= CHAT_ROOM_PINS_MAX; i++) ids[i] = post(room, o, "pin");
  T_EQ_INT(chat_store_room_pin(s, room, away, 61), CHAT_ENOTFOUND);
  for (int i = 0; i < CHAT_ROOM_PINS_MAX; i++) T_EQ_INT(chat_store_room_pin(s, room, ids[i], 61 + i), 0);
  T_EQ_INT(chat_store_room_pin(s, room, ids[0], 99), 0);   /* again: nothing */
  T_EQ_INT(chat_store_room_pin(s, room, ids[CHAT_ROOM_PINS_MAX], 99), CHAT_EAGAIN);
  chat_room_info_t ri;
  T_EQ_INT(chat_store_room_info(s, room, o, &ri), 0);
  T_EQ_STR(ri.name, "renamed");
  T_EQ_STR(ri.announcement, "公告");
  T_EQ_INT(ri.npinned, CHAT_ROOM_PINS_MAX);
  T_EQ_INT(ri.pinned[0], ids[0]);
  /* A deleted message drops out of the pins (and frees its place). */
  T_EQ_INT(chat_store_msg_delete(s, room, ids[0]), 0);
  T_EQ_INT(chat_store_room_info(s, room, o, &ri), 0);
  T_EQ_INT(ri.npinned, CHAT_ROOM_PINS_MAX - 1);
  T_EQ_INT(chat_store_room_pin(s, room, ids[CHAT_ROOM_PINS_MAX], 99), 0);
  T_EQ_INT(chat_store_room_unpin(s, room, ids[1]), 0);
  T_EQ_INT(chat_store_room_unpin(s, room, ids[1]), CHAT_ENOTFOUND);
}

int main(void) {
  char path[128], err[256];
  snprintf(g_dir, sizeof(g_dir), "/tmp/chat_test_rooms_XXXXXX");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof(path), "sqlite:%s/chat.db", g_dir);
  T_EQ_INT(chat_store_open(path, 2, &s, err, sizeof(err)), 0);
  if (s) {
    T_RUN(test_public_membership_and_unread);
    T_RUN(test_private_rooms_and_groups);
    T_RUN(test_announcement_and_pins);
    chat_store_close(s);
  }
  nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return T_DONE();
}
