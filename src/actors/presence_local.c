/* In-process presence: counts of connections per user and of users per
 * room, in hash maps.  With one instance every join and leave reported here
 * is the first or last anywhere, so room presence frames go out at once. */
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/sb.h"
#include "../net/proto.h"
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

void chat_presence_emit_room(chat_presence_t *p, int64_t room_id, const char *username,
                             int join) {
  if (p->on_event == NULL) return;
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_presence(&sb, room_id, username, join);
  p->on_event(p->ud, room_id, sb.buf, sb.len);
  chat_sb_free(&sb);
}

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

static void lp_room_join(chat_presence_t *p, int64_t room, int64_t uid, const char *name) {
  local_t *l = (local_t *)p;
  uintptr_t n = (uintptr_t)chat_imap_get(&l->rooms, room);
  chat_imap_put(&l->rooms, room, (void *)(n + 1));
  chat_presence_emit_room(p, room, name, 1);
}

static void lp_room_leave(chat_presence_t *p, int64_t room, int64_t uid, const char *name) {
  local_t *l = (local_t *)p;
  uintptr_t n = (uintptr_t)chat_imap_get(&l->rooms, room);
  if (n <= 1)
    chat_imap_del(&l->rooms, room);
  else
    chat_imap_put(&l->rooms, room, (void *)(n - 1));
  chat_presence_emit_room(p, room, name, 0);
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

void chat_presence_each_by_name(const chat_imap_t *users, const char *(*name_of)(void *val),
                                chat_presence_each_cb each, void *ud) {
  entry_t *v = chat_xmalloc((users->len + 1) * sizeof(*v));
  size_t n = 0;
  for (size_t i = 0; i < users->cap; i++) {
    if (users->slots[i].key == 0) continue;
    v[n].id = users->slots[i].key;
    v[n].name = name_of(users->slots[i].val);
    n++;
  }
  qsort(v, n, sizeof(*v), by_name);
  for (size_t i = 0; i < n; i++) each(ud, v[i].id, v[i].name);
  free(v);
}

static const char *user_name(void *val) { return ((user_t *)val)->username; }

static void lp_online_users(chat_presence_t *p, chat_presence_each_cb each, void *ud) {
  chat_presence_each_by_name(&((local_t *)p)->users, user_name, each, ud);
}

static void lp_publish(chat_presence_t *p, int64_t room, const char *json, size_t len) {}
static void lp_recent_push(chat_presence_t *p, int64_t room, const char *obj, size_t len) {}
static void lp_recent_load(chat_presence_t *p, int64_t room, chat_presence_recent_cb cb,
                           void *ud) {
  cb(ud, 0, NULL, NULL, 0, NULL, 0);
}
static void lp_recent_seed(chat_presence_t *p, int64_t room, char **objs, size_t *lens,
                           size_t n) {}
static void lp_room_forget(chat_presence_t *p, int64_t room) {}
static void lp_recent_doubt(chat_presence_t *p, int64_t room) {}
static int lp_is_online(chat_presence_t *p, int64_t uid) {
  return chat_imap_get(&((local_t *)p)->users, uid) != NULL;
}
static int lp_shared(chat_presence_t *p) { return 0; }
static const char *lp_backend_state(chat_presence_t *p) { return "off"; }

static void lp_close(chat_presence_t *p, void (*done)(void *ud), void *ud) {
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
  if (done) done(ud);
}

static const chat_presence_ops_t local_ops = {
    .connect = lp_connect,
    .disconnect = lp_disconnect,
    .room_join = lp_room_join,
    .room_leave = lp_room_leave,
    .room_count = lp_room_count,
    .online_users = lp_online_users,
    .publish = lp_publish,
    .recent_push = lp_recent_push,
    .recent_load = lp_recent_load,
    .recent_seed = lp_recent_seed,
    .room_forget = lp_room_forget,
    .recent_doubt = lp_recent_doubt,
    .is_online = lp_is_online,
    .shared = lp_shared,
    .backend_state = lp_backend_state,
    .close = lp_close,
};

chat_presence_t *chat_presence_local_new(chat_presence_online_cb on_online,
                                         chat_presence_event_cb on_event, void *ud) {
  local_t *l = chat_xcalloc(1, sizeof(*l));
  l->super.ops = &local_ops;
  l->super.on_online = on_online;
  l->super.on_event = on_event;
  l->super.ud = ud;
  chat_imap_init(&l->users);
  chat_imap_init(&l->rooms);
  return &l->super;
}
