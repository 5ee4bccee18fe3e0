#include "roomdir.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "actor.h"
#include "room.h"

struct chat_roomdir_s {
  const chat_services_t *svc;
  chat_imap_t rooms;            /* room id -> chat_room_t* (a reference) */
  uv_timer_t tick_timer;        /* releases held messages of rooms */
  chat_room_t **tick_rooms;     /* rooms waiting for a tick (references) */
  size_t ntick, tick_cap;
  int stopping;
  void (*stopped_cb)(void *ud);
  void *stopped_ud;
};

chat_roomdir_t *chat_roomdir_new(const chat_services_t *svc) {
  chat_roomdir_t *dir = chat_xcalloc(1, sizeof(*dir));
  dir->svc = svc;
  chat_imap_init(&dir->rooms);
  uv_timer_init(svc->loop, &dir->tick_timer);
  dir->tick_timer.data = dir;
  return dir;
}

chat_room_t *chat_roomdir_get(chat_roomdir_t *dir, int64_t id) {
  return chat_imap_get(&dir->rooms, id);
}

chat_room_t *chat_roomdir_open(chat_roomdir_t *dir, int64_t id) {
  chat_room_t *r = chat_imap_get(&dir->rooms, id);
  if (r == NULL) {
    r = chat_room_new(dir->svc, id, "");
    chat_imap_put(&dir->rooms, id, r);  /* the creator's reference */
  }
  return r;
}

void chat_roomdir_add(chat_roomdir_t *dir, int64_t id, const char *name) {
  if (chat_imap_get(&dir->rooms, id) == NULL)
    chat_imap_put(&dir->rooms, id, chat_room_new(dir->svc, id, name));
}

void chat_roomdir_delete(chat_roomdir_t *dir, int64_t id) {
  chat_room_t *r = chat_imap_del(&dir->rooms, id);
  if (r == NULL) return;
  chat_room_post_delete(r);
  chat_actor_unref(chat_room_actor(r));
}

void chat_roomdir_forget(chat_roomdir_t *dir, chat_room_t *r, int64_t id) {
  if (chat_imap_get(&dir->rooms, id) != r) return;
  chat_imap_del(&dir->rooms, id);
  chat_actor_unref(chat_room_actor(r));
}

size_t chat_roomdir_count(const chat_roomdir_t *dir) { return dir->rooms.len; }

static void tick_cb(uv_timer_t *t) {
  chat_roomdir_t *dir = t->data;
  size_t n = dir->ntick;
  chat_room_t **rooms = dir->tick_rooms;
  dir->tick_rooms = NULL;
  dir->ntick = dir->tick_cap = 0;
  for (size_t i = 0; i < n; i++) {
    chat_room_post_tick(rooms[i]);
    chat_actor_unref(chat_room_actor(rooms[i]));
  }
  free(rooms);
  if (dir->ntick == 0) uv_timer_stop(&dir->tick_timer);
}

void chat_roomdir_want_tick(chat_roomdir_t *dir, chat_room_t *r) {
  if (dir->stopping) return;
  if (dir->ntick == dir->tick_cap) {
    dir->tick_cap = dir->tick_cap ? dir->tick_cap * 2 : 8;
    dir->tick_rooms = chat_xrealloc(dir->tick_rooms, dir->tick_cap * sizeof(*dir->tick_rooms));
  }
  chat_actor_ref(chat_room_actor(r));
  dir->tick_rooms[dir->ntick++] = r;
  if (!uv_is_active((uv_handle_t *)&dir->tick_timer))
    uv_timer_start(&dir->tick_timer, tick_cb, 20, 20);
}

static void timer_closed_cb(uv_handle_t *h) {
  chat_roomdir_t *dir = h->data;
  if (dir->stopped_cb) dir->stopped_cb(dir->stopped_ud);
}

void chat_roomdir_stop(chat_roomdir_t *dir, void (*done)(void *ud), void *ud) {
  dir->stopping = 1;
  dir->stopped_cb = done;
  dir->stopped_ud = ud;
  for (size_t i = 0; i < dir->ntick; i++) chat_actor_unref(chat_room_actor(dir->tick_rooms[i]));
  free(dir->tick_rooms);
  dir->tick_rooms = NULL;
  dir->ntick = dir->tick_cap = 0;
  uv_close((uv_handle_t *)&dir->tick_timer, timer_closed_cb);
}

void chat_roomdir_clear(chat_roomdir_t *dir) {
  for (size_t i = 0; i < dir->rooms.cap; i++) {
    if (dir->rooms.slots[i].key == 0) continue;
    chat_actor_unref(chat_room_actor(dir->rooms.slots[i].val));
  }
  chat_imap_free(&dir->rooms);
  chat_imap_init(&dir->rooms);
}

void chat_roomdir_free(chat_roomdir_t *dir) {
  if (dir == NULL) return;
  chat_imap_free(&dir->rooms);
  free(dir);
}
