/* Cases of the store's unit tests for files (schema 008): rows and the
 * quota, attaching in a message batch (both of MySQL's batch paths: row by
 * row and multi-row), the files of history, who may read a file, taking a
 * message's files, avatars.  Included by store_cases_b.h. */
#ifndef CHAT_TEST_STORE_CASES_FILES_H
#define CHAT_TEST_STORE_CASES_FILES_H

#include "store_t.h"

static int64_t make_file(int64_t owner, const char *name, int64_t size, int thumb) {
  chat_file_rec_t f;
  memset(&f, 0, sizeof(f));
  f.owner_id = owner;
  snprintf(f.name, sizeof(f.name), "%s", name);
  f.size = size;
  snprintf(f.type, sizeof(f.type), "%s", thumb ? "image/png" : "text/plain");
  snprintf(f.path, sizeof(f.path), "f-%s", name);
  if (thumb) snprintf(f.thumb, sizeof(f.thumb), "t-%s.webp", name);
  f.created_ms = 5;
  int rc = chat_store_file_create(g_store, &f, 1000);
  T_EQ_INT(rc, 0);
  return rc == 0 ? f.id : -1;
}

static void test_files(void) {
  int64_t a = make_user("fileAnn"), b = make_user("fileBob"), o = make_user("fileOtto");
  int64_t room = make_room("files-room");
  int64_t f1 = make_file(a, "照片.png", 100, 1), f2 = make_file(a, "b.txt", 200, 0);
  int64_t f3 = make_file(a, "c.txt", 10, 0), f4 = make_file(b, "d.png", 10, 1);
  chat_file_rec_t recs[CHAT_FILES_PER_MSG], r, *taken = NULL;
  chat_msg_rec_t *m = NULL;
  chat_user_rec_t u;
  size_t n = 0, i;

  /* The quota counts the owner's files: 310 of 1000 used. */
  chat_file_rec_t big;
  memset(&big, 0, sizeof(big));
  big.owner_id = a;
  snprintf(big.name, sizeof(big.name), "big");
  snprintf(big.type, sizeof(big.type), "text/plain");
  snprintf(big.path, sizeof(big.path), "f-big");
  big.size = 691;
  T_EQ_INT(chat_store_file_create(g_store, &big, 1000), CHAT_STORE_EQUOTA);
  big.size = 690;
  T_EQ_INT(chat_store_file_create(g_store, &big, 1000), 0);
  big.size = 0;
  T_EQ_INT(chat_store_file_create(g_store, &big, 1000), CHAT_EINVAL);

  /* Claimable: the owner's, unattached, each once. */
  int64_t ids[] = {f1, f2};
  T_EQ_INT(chat_store_files_claimable(g_store, a, ids, 2, recs), 0);
  T_EQ_STR(recs[0].name, "照片.png");
  T_EQ_INT(chat_store_files_claimable(g_store, b, ids, 2, recs), CHAT_ENOTFOUND);
  int64_t twice[] = {f1, f1};
  T_EQ_INT(chat_store_files_claimable(g_store, a, twice, 2, recs), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_file_get_readable(g_store, f1, b, &r), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_file_get_readable(g_store, f1, a, &r), 0);

  /* Attached in a batch: five items (MySQL's multi-row path), then one. */
  chat_msg_insert_t it[5];
  for (i = 0; i < 5; i++) msg_item(&it[i], room, a, "file msg", NULL, 10 + (int64_t)i);
  it[1].files = ids;
  it[1].nfiles = 2;
  dm_item(&it[3], a, b, "dm file", NULL, 20);
  it[3].files = &f3;
  it[3].nfiles = 1;
  T_EQ_INT(chat_store_msg_insert_batch(g_store, it, 5), 0);
  T_EQ_INT(chat_store_files_claimable(g_store, a, ids, 1, recs), CHAT_ENOTFOUND);
  /* Somebody else's file named in a message stays where it is. */
  chat_msg_insert_t one;
  msg_item(&one, room, a, "not mine", NULL, 30);
  one.files = &f4;
  one.nfiles = 1;
  T_EQ_INT(chat_store_msg_insert_batch(g_store, &one, 1), 0);
  T_EQ_INT(chat_store_files_claimable(g_store, b, &f4, 1, recs), 0);

  /* History carries them, in id order, only on their message. */
  T_EQ_INT(chat_store_msg_history(g_store, room, 0, 50, &m, &n), 0);
  int seen = 0;
  for (i = 0; i < n; i++) {
    if (m[i].id == it[1].id) {
      T_EQ_INT(m[i].nfiles, 2);
      if (m[i].nfiles == 2) {
        T_EQ_INT(m[i].files[0].id, f1);
        T_EQ_INT(m[i].files[1].id, f2);
        T_EQ_STR(m[i].files[0].thumb, "t-照片.png.webp");
      }
      seen = 1;
    } else {
      T_EQ_INT(m[i].nfiles, 0);
    }
  }
  T_CHECK(seen);
  chat_store_msgs_free(m, n);
  m = NULL;
  T_EQ_INT(chat_store_dm_history(g_store, a, b, 0, 50, &m, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) {
    T_EQ_INT(m[0].nfiles, 1);
    if (m[0].nfiles == 1) T_EQ_INT(m[0].files[0].id, f3);
  }
  chat_store_msgs_free(m, n);

  /* Readers: anyone for a room message; only the two sides for a DM. */
  T_EQ_INT(chat_store_file_get_readable(g_store, f1, o, &r), 0);
  T_EQ_INT(r.msg_kind, CHAT_FILE_ROOM);
  T_EQ_INT(r.msg_id, it[1].id);
  T_EQ_INT(chat_store_file_get_readable(g_store, f3, b, &r), 0);
  T_EQ_INT(chat_store_file_get_readable(g_store, f3, o, &r), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_file_get_readable(g_store, 999999, a, &r), CHAT_ENOTFOUND);

  /* Taking a message's files removes their rows. */
  T_EQ_INT(chat_store_files_take(g_store, CHAT_FILE_ROOM, it[1].id, &taken, &n), 0);
  T_EQ_INT(n, 2);
  if (n == 2) T_EQ_STR(taken[1].path, "f-b.txt");
  free(taken);
  T_EQ_INT(chat_store_file_get_readable(g_store, f1, a, &r), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_files_take(g_store, CHAT_FILE_ROOM, it[1].id, &taken, &n), 0);
  T_EQ_INT(n, 0);

  /* A deleted room's messages leave their files orphaned: taken once. */
  int64_t gone = make_room("files-gone");
  int64_t f5 = make_file(a, "e.png", 5, 1);
  chat_msg_insert_t g;
  msg_item(&g, gone, a, "in a room to delete", NULL, 40);
  g.files = &f5;
  g.nfiles = 1;
  T_EQ_INT(chat_store_msg_insert_batch(g_store, &g, 1), 0);
  T_EQ_INT(chat_store_files_take_orphans(g_store, &taken, &n), 0);
  T_EQ_INT(n, 0);
  free(taken);
  T_EQ_INT(chat_store_room_delete(g_store, gone), 0);
  T_EQ_INT(chat_store_files_take_orphans(g_store, &taken, &n), 0);
  T_EQ_INT(n, 1);
  if (n == 1) T_EQ_INT(taken[0].id, f5);
  free(taken);
  T_EQ_INT(chat_store_files_take_orphans(g_store, &taken, &n), 0);
  T_EQ_INT(n, 0);
  free(taken);

  /* Avatars: one's own image; anyone may read it; 0 removes it. */
  T_EQ_INT(chat_store_user_set_avatar(g_store, b, f3), CHAT_ENOTFOUND);
  T_EQ_INT(chat_store_user_set_avatar(g_store, a, f3), CHAT_ENOTFOUND);  /* no thumbnail */
  T_EQ_INT(chat_store_user_set_avatar(g_store, b, f4), 0);
  T_EQ_INT(chat_store_user_set_avatar(g_store, b, f4), 0);  /* again: still found */
  T_EQ_INT(chat_store_user_by_id(g_store, b, &u), 0);
  T_EQ_INT(u.avatar_file, f4);
  T_EQ_INT(chat_store_file_get_readable(g_store, f4, o, &r), 0);
  T_EQ_INT(chat_store_user_set_avatar(g_store, b, 0), 0);
  T_EQ_INT(chat_store_user_by_name(g_store, "fileBob", &u), 0);
  T_EQ_INT(u.avatar_file, 0);
  T_EQ_INT(chat_store_file_get_readable(g_store, f4, o, &r), CHAT_ENOTFOUND);
}

#endif
