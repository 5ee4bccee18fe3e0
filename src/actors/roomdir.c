#include "roomdir.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "actor.h"
#include "presence.h"
#include "room.h"
#include "storage.h"

#define CHECK_MS_DEFAULT 1000

typedef struct {
  chat_room_t *room;            /* a reference */
  uint64_t due;                 /* loop time */
} tick_t;

/* Where the periodic check's store reads come back: a small actor of its
 * own (the directory is not one), which outlives the directory while a
 * read is in flight; dir is NULL once the directory stopped. */
typedef struct {
  chat_actor_t actor;
  chat_roomdir_t *dir;
} checker_t;

struct chat_roomdir_s {
  const chat_services_t *svc;
  chat_imap_t rooms;            /* room id -> chat_room_t* (a reference) */
  uv_timer_t tick_timer;        /* wakes rooms at their due time */
  tick_t *ticks;                /* rooms waiting for a tick */
  size_t ntick, tick_cap;
  uv_timer_t check_timer;       /* the periodic last_seq check */
  checker_t *checker;           /* a reference */
  int checking;                 /* a check read is on the storage actor */
  int closing;                  /* timers not closed yet */
  int stopping;
  void (*stopped_cb)(void *ud);
  void *stopped_ud;
};

static void check_cb(uv_timer_t *t);
static void tick_cb_fwd(uv_timer_t *t);

static void checker_free_cb(chat_actor_t *a) { free(container_of(a, checker_t, actor)); }

chat_roomdir_t *chat_roomdir_new(const chat_services_t *svc) {
  chat_roomdir_t *dir = chat_xcalloc(1, sizeof(*dir));
  dir->svc = svc;
  chat_imap_init(&dir->rooms);
  uv_timer_init(svc->loop, &dir->tick_timer);
  dir->tick_timer.data = dir;
  uv_timer_init(svc->loop, &dir->check_timer);
  dir->check_timer.data = dir;
  dir->checker = chat_xcalloc(1, sizeof(*dir->checker));
  chat_actor_init(&dir->checker->actor, svc->sched, checker_free_cb);
  dir->checker->dir = dir;
  /* Every instance runs it; it reads the store only while presence is
   * shared (a single instance's commits come back in order). */
  int ms = svc->limits && svc->limits->order_check_ms > 0 ? svc->limits->order_check_ms
                                                          : CHECK_MS_DEFAULT;
  uv_timer_start(&dir->check_timer, check_cb, (uint64_t)ms, (uint64_t)ms);
  uv_unref((uv_handle_t *)&dir->check_timer);
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

/* (Re)arms the tick timer for the earliest due tick. */
static void arm_ticks(chat_roomdir_t *dir) {
  if (dir->ntick == 0) {
    uv_timer_stop(&dir->tick_timer);
    return;
  }
  uint64_t first = dir->ticks[0].due, now = uv_now(dir->svc->loop);
  for (size_t i = 1; i < dir->ntick; i++)
    if (dir->ticks[i].due < first) first = dir->ticks[i].due;
  uv_timer_start(&dir->tick_timer, tick_cb_fwd, first > now ? first - now : 0, 0);
}

static void tick_cb(uv_timer_t *t) {
  chat_roomdir_t *dir = t->data;
  uint64_t now = uv_now(dir->svc->loop);
  size_t k = 0;
  /* Due rooms get their tick (the mail holds the room from here on). */
  for (size_t i = 0; i < dir->ntick; i++) {
    tick_t tk = dir->ticks[i];
    if (tk.due <= now) {
      chat_room_post_tick(tk.room);
      chat_actor_unref(chat_room_actor(tk.room));
    } else {
      dir->ticks[k++] = tk;
    }
  }
  dir->ntick = k;
  arm_ticks(dir);
}

static void tick_cb_fwd(uv_timer_t *t) { tick_cb(t); }

void chat_roomdir_want_tick(chat_roomdir_t *dir, chat_room_t *r, uint64_t delay_ms) {
  if (dir->stopping) return;
  if (dir->ntick == dir->tick_cap) {
    dir->tick_cap = dir->tick_cap ? dir->tick_cap * 2 : 8;
    dir->ticks = chat_xrealloc(dir->ticks, dir->tick_cap * sizeof(*dir->ticks));
  }
  chat_actor_ref(chat_room_actor(r));
  dir->ticks[dir->ntick].room = r;
  dir->ticks[dir->ntick].due = uv_now(dir->svc->loop) + delay_ms;
  dir->ntick++;
  arm_ticks(dir);
}

/* ---- the periodic check --------------------------------------------------- */

typedef struct {
  chat_job_t job;
  chat_room_seq_t *seqs;
  size_t n;
  int rc;
} check_job_t;

static void check_run(chat_job_t *job, chat_store_t *store) {
  check_job_t *cj = (check_job_t *)job;
  cj->rc = chat_store_room_seqs(store, &cj->seqs, &cj->n);
}

static void check_done(chat_actor_t *self, chat_mail_t *m) {
  checker_t *ck = container_of(self, checker_t, actor);
  check_job_t *cj = container_of(m, check_job_t, job.mail);
  chat_roomdir_t *dir = ck->dir;
  if (dir != NULL) {
    dir->checking = 0;
    for (size_t i = 0; cj->rc == 0 && !dir->stopping && i < cj->n; i++) {
      chat_room_t *r = chat_imap_get(&dir->rooms, cj->seqs[i].id);
      if (r != NULL && cj->seqs[i].last_seq > 0)
        chat_room_post_seq_check(r, cj->seqs[i].last_seq);
    }
  }
  free(cj->seqs);
  free(cj);
}

static void check_cb(uv_timer_t *t) {
  chat_roomdir_t *dir = t->data;
  const chat_services_t *svc = dir->svc;
  if (dir->stopping || dir->checking || !svc->running || svc->presence == NULL ||
      !svc->presence->ops->shared(svc->presence) || dir->rooms.len == 0)
    return;
  check_job_t *cj = chat_xcalloc(1, sizeof(*cj));
  cj->job.mail.handle = check_done;
  cj->job.run = check_run;
  dir->checking = 1;
  chat_storage_submit(svc->storage, &cj->job, &dir->checker->actor);
}

static void timer_closed_cb(uv_handle_t *h) {
  chat_roomdir_t *dir = h->data;
  if (--dir->closing == 0 && dir->stopped_cb) dir->stopped_cb(dir->stopped_ud);
}

void chat_roomdir_stop(chat_roomdir_t *dir, void (*done)(void *ud), void *ud) {
  dir->stopping = 1;
  dir->stopped_cb = done;
  dir->stopped_ud = ud;
  for (size_t i = 0; i < dir->ntick; i++) chat_actor_unref(chat_room_actor(dir->ticks[i].room));
  free(dir->ticks);
  dir->ticks = NULL;
  dir->ntick = dir->tick_cap = 0;
  dir->checker->dir = NULL;
  chat_actor_unref(&dir->checker->actor);
  dir->checker = NULL;
  dir->closing = 2;
  uv_close((uv_handle_t *)&dir->tick_timer, timer_closed_cb);
  uv_close((uv_handle_t *)&dir->check_timer, timer_closed_cb);
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
