/* In-process presence: counts of connections per user and of users per
 * room, in hash maps. */
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "presence.h"

typedef struct {
  char *username;
  size_t conns;
} user_t;

typedef struct {
  chat_presence_t super;
  chat_imap_t users;       /* user id -> user_t */
  chat_imap_t rooms;       /* room id -> (void*)(uintptr_t)count */
} local_t;

static void lp_connect(chat_presence_t *p, int64_t uid, const char *name) {
  local_t *l = (local_t *)p;
  user_t *u = chat_imap_get(&l->users, uid);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    u->username = chat_xstrdup(name);
    chat_imap_put(&l->users, uid, u);
  }
  if (u->conns++ == 0 && p->on_online) p->on_online(p->ud, uid, name, 1);
}

static void lp_disconnect(chat_presence_t *p, int64_t uid) {
  local_t *l = (local_t *)p;
  user_t *u = chat_imap_get(&l->users, uid);
  if (u == NULL || --u->conns > 0) return;
  chat_imap_del(&l->users, uid);
  if (p->on_online) p->on_online(p->ud, uid, u->username, 0);
  free(u->username);
  free(u);
}

static void lp_room_join(chat_presence_t *p, int64_t room, int64_t uid) {
  local_t *l = (local_t *)p;
  uintptr_t n = (uintptr_t)chat_imap_get(&l->rooms, room);
  chat_imap_put(&l->rooms, room, (void *)(n + 1));
}

static void lp_room_leave(chat_presence_t *p, int64_t room, int64_t uid) {
  local_t *l = (local_t *)p;
  uintptr_t n = (uintptr_t)chat_imap_get(&l->rooms, room);
  if (n <= 1)
    chat_imap_del(&l->rooms, room);
  else
    chat_imap_put(&l->rooms, room, (void *)(n - 1));
}

static size_t lp_room_count(chat_presence_t *p, int64_t room) {
  local_t *l = (local_t *)p;
  return (size_t)(uintptr_t)chat_imap_get(&l->rooms, room);
}

typedef struct {
  int64_t id;
  const char *name;
} entry_t;

static int by_name(const void *a, const void *b) {
  return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static void lp_online_users(chat_presence_t *p, chat_presence_each_cb each, void *ud) {
  local_t *l = (local_t *)p;
  entry_t *v = chat_xmalloc((l->users.len + 1) * sizeof(*v));
  size_t n = 0;
  for (size_t i = 0; i < l->users.cap; i++) {
    if (l->users.slots[i].key == 0) continue;
    user_t *u = l->users.slots[i].val;
    v[n].id = l->users.slots[i].key;
    v[n].name = u->username;
    n++;
  }
  qsort(v, n, sizeof(*v), by_name);
  for (size_t i = 0; i < n; i++) each(ud, v[i].id, v[i].name);
  free(v);
}

static const char *lp_backend_state(chat_presence_t *p) { return "off"; }

static void lp_free(chat_presence_t *p) {
  local_t *l = (local_t *)p;
  for (size_t i = 0; i < l->users.cap; i++) {
    if (l->users.slots[i].key == 0) continue;
    user_t *u = l->users.slots[i].val;
    free(u->username);
    free(u);
  }
  chat_imap_free(&l->users);
  chat_imap_free(&l->rooms);
  free(l);
}

static const chat_presence_ops_t local_ops = {
    lp_connect, lp_disconnect, lp_room_join, lp_room_leave, lp_room_count,
    lp_online_users, lp_backend_state, lp_free,
};

chat_presence_t *chat_presence_local_new(chat_presence_online_cb on_online, void *ud) {
  local_t *l = chat_xcalloc(1, sizeof(*l));
  l->super.ops = &local_ops;
  l->super.on_online = on_online;
  l->super.ud = ud;
  chat_imap_init(&l->users);
  chat_imap_init(&l->rooms);
  return &l->super;
}
