#include "registry.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/log.h"
#include "../net/proto.h"
#include "../net/ws.h"
#include "actor.h"
#include "conn.h"

/* The open WebSockets of one user. */
typedef struct {
  chat_registry_entry_t **v;
  size_t n, cap;
  chat_rbuf_t *name;             /* a reference, or NULL (chat_registry_user_name) */
} user_conns_t;

struct chat_registry_s {
  chat_sched_t *sched;
  chat_registry_entry_t *head;   /* every connection */
  size_t n;
  chat_imap_t users;             /* user id -> user_conns_t */
  size_t nws;
  chat_registry_entry_t *flush_head;
  void (*on_removed)(void *ud);
  void *ud;
  /* keepalive and the drain */
  uv_timer_t timer;
  int timer_state;               /* 0 never started, 1 open, 2 closing or closed */
  uint64_t ping_ms;              /* 0: no keepalive */
  uint64_t tick_ms;              /* the walk's period: a quarter of ping_ms */
  uint64_t last_tick;            /* loop time of the last walk */
  uint64_t drain_ms;
  int draining;
  chat_rbuf_t *ping;             /* one ping frame for every connection */
  void (*close_cb)(void *ud);
  void *close_ud;
  char readbuf[64 * 1024];
};

static void flush_hook(void *ud);

chat_registry_t *chat_registry_new(chat_sched_t *sched, void (*on_removed)(void *ud),
                                   void *ud) {
  chat_registry_t *reg = chat_xcalloc(1, sizeof(*reg));
  reg->sched = sched;
  reg->on_removed = on_removed;
  reg->ud = ud;
  chat_imap_init(&reg->users);
  chat_sched_add_hook(sched, flush_hook, reg);
  return reg;
}

void chat_registry_free(chat_registry_t *reg) {
  if (reg == NULL) return;
  assert(reg->timer_state != 1);
  chat_imap_free(&reg->users);  /* empty: every connection left it */
  if (reg->ping) chat_rbuf_unref(reg->ping);
  free(reg);
}

void chat_registry_add(chat_registry_t *reg, chat_registry_entry_t *e, chat_conn_t *c) {
  e->conn = c;
  e->user_id = 0;
  e->prev = NULL;
  e->next = reg->head;
  if (reg->head) reg->head->prev = e;
  reg->head = e;
  reg->n++;
}

void chat_registry_remove(chat_registry_t *reg, chat_registry_entry_t *e) {
  chat_registry_clear_user(reg, e);
  if (e->prev)
    e->prev->next = e->next;
  else
    reg->head = e->next;
  if (e->next) e->next->prev = e->prev;
  e->prev = e->next = NULL;
  reg->n--;
  if (reg->on_removed) reg->on_removed(reg->ud);
  chat_actor_unref(chat_conn_actor(e->conn));  /* the creator's reference */
}

void chat_registry_set_user(chat_registry_t *reg, chat_registry_entry_t *e, int64_t user_id) {
  chat_registry_touch(reg, e);
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    chat_imap_put(&reg->users, user_id, u);
  }
  if (u->n == u->cap) {
    u->cap = u->cap ? u->cap * 2 : 4;
    u->v = chat_xrealloc(u->v, u->cap * sizeof(*u->v));
  }
  u->v[u->n++] = e;
  e->user_id = user_id;
  reg->nws++;
}

void chat_registry_clear_user(chat_registry_t *reg, chat_registry_entry_t *e) {
  if (e->user_id == 0) return;
  user_conns_t *u = chat_imap_get(&reg->users, e->user_id);
  for (size_t i = 0; u && i < u->n; i++) {
    if (u->v[i] != e) continue;
    u->v[i] = u->v[--u->n];
    reg->nws--;
    break;
  }
  if (u && u->n == 0) {
    chat_imap_del(&reg->users, e->user_id);
    if (u->name) chat_rbuf_unref(u->name);
    free(u->v);
    free(u);
  }
  e->user_id = 0;
}

void chat_registry_want_flush(chat_registry_t *reg, chat_registry_entry_t *e) {
  if (e->in_flush) return;
  e->in_flush = 1;
  e->flush_next = reg->flush_head;
  reg->flush_head = e;
  chat_actor_ref(chat_conn_actor(e->conn));
  chat_sched_wake(reg->sched);
}

static void flush_hook(void *ud) {
  chat_registry_t *reg = ud;
  while (reg->flush_head) {
    chat_registry_entry_t *e = reg->flush_head;
    reg->flush_head = e->flush_next;
    e->flush_next = NULL;
    e->in_flush = 0;
    chat_conn_flush(e->conn);
    chat_actor_unref(chat_conn_actor(e->conn));
  }
}

chat_rbuf_t *chat_registry_user_name(chat_registry_t *reg, int64_t user_id, const char *name) {
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  if (u && u->name && strcmp((const char *)u->name->data, name) == 0)
    return chat_rbuf_ref(u->name);
  size_t len = strlen(name) + 1;
  chat_rbuf_t *b = chat_rbuf_new(len);
  memcpy(b->data, name, len);
  b->len = len;
  if (u) {
    if (u->name) chat_rbuf_unref(u->name);
    u->name = chat_rbuf_ref(b);
  }
  return b;
}

size_t chat_registry_count(const chat_registry_t *reg) { return reg->n; }
size_t chat_registry_ws_count(const chat_registry_t *reg) { return reg->nws; }

size_t chat_registry_user_ws_count(const chat_registry_t *reg, int64_t user_id) {
  const user_conns_t *u = chat_imap_get(&reg->users, user_id);
  return u ? u->n : 0;
}

void chat_registry_broadcast(chat_registry_t *reg, chat_rbuf_t *b, int64_t skip_user) {
  for (size_t i = 0; i < reg->users.cap; i++) {
    if (reg->users.slots[i].key == 0 || reg->users.slots[i].key == skip_user) continue;
    user_conns_t *u = reg->users.slots[i].val;
    for (size_t k = 0; k < u->n; k++) chat_conn_post_frame(u->v[k]->conn, b);
  }
}

size_t chat_registry_deliver(chat_registry_t *reg, int64_t user_id, const char *json,
                             size_t len) {
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  if (u == NULL) return 0;
  chat_rbuf_t *b = chat_proto_frame(json, len);
  for (size_t i = 0; i < u->n; i++) chat_conn_post_frame(u->v[i]->conn, b);
  chat_rbuf_unref(b);
  return u->n;
}

void chat_registry_revoke(chat_registry_t *reg, int64_t user_id, const uint8_t *keep,
                          const uint8_t *only_session, const char *reason) {
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  for (size_t i = 0; u && i < u->n; i++)
    chat_conn_post_revoke(u->v[i]->conn, keep, only_session, reason);
}

/* ---- keepalive and the drain ------------------------------------------- */

void chat_registry_touch(chat_registry_t *reg, chat_registry_entry_t *e) {
  e->last_rx = uv_now(reg->sched->loop);
  e->ping_sent = 0;
}

/* The keepalive's walk over the WebSockets.  It only posts mail (pings,
 * dead peers), so the index does not change under it.  A tick that comes
 * late means the loop itself stalled (a stopped process, a paused VM, a
 * long turn): what peers sent meanwhile is still unread, because timers
 * run before the loop reads, so that tick pings but declares nobody dead;
 * the next one judges on what was read in between. */
static void keepalive_walk(chat_registry_t *reg) {
  uint64_t now = uv_now(reg->sched->loop), ping_ms = reg->ping_ms;
  int stalled = now - reg->last_tick > 2 * reg->tick_ms;
  reg->last_tick = now;
  for (size_t i = 0; i < reg->users.cap; i++) {
    if (reg->users.slots[i].key == 0) continue;
    user_conns_t *u = reg->users.slots[i].val;
    for (size_t k = 0; k < u->n; k++) {
      chat_registry_entry_t *e = u->v[k];
      uint64_t silent = now - e->last_rx;
      if (silent >= 2 * ping_ms && !stalled) {
        if (!e->dead_posted) {
          e->dead_posted = 1;
          chat_conn_post_dead(e->conn, silent);
        }
      } else if (silent >= ping_ms && !e->ping_sent && !e->dead_posted) {
        e->ping_sent = 1;
        chat_conn_post_frame(e->conn, reg->ping);
      }
    }
  }
}

/* The drain is over: whatever is still open is cut off. */
static void drain_over(chat_registry_t *reg) {
  if (reg->n == 0) return;
  chat_log_warn("stopping: %zu connections still open after the %.1f s drain; cutting them off",
                reg->n, (double)reg->drain_ms / 1000);
  for (chat_registry_entry_t *e = reg->head; e; e = e->next) chat_conn_post_abort(e->conn);
}

static void timer_cb(uv_timer_t *t) {
  chat_registry_t *reg = container_of(t, chat_registry_t, timer);
  if (reg->draining)
    drain_over(reg);
  else
    keepalive_walk(reg);
}

void chat_registry_start(chat_registry_t *reg, uint64_t ping_ms) {
  assert(reg->timer_state == 0);
  uv_timer_init(reg->sched->loop, &reg->timer);
  reg->timer_state = 1;
  reg->ping_ms = ping_ms;
  if (ping_ms == 0) return;
  reg->ping = chat_ws_frame_new(CHAT_WS_OP_PING, NULL, 0);
  /* A quarter of the interval: a silent peer is pinged within 1.25
   * intervals and dropped within 2.25. */
  reg->tick_ms = ping_ms / 4 ? ping_ms / 4 : 1;
  reg->last_tick = uv_now(reg->sched->loop);
  uv_timer_start(&reg->timer, timer_cb, reg->tick_ms, reg->tick_ms);
}

void chat_registry_shutdown(chat_registry_t *reg, int code, uint64_t drain_ms) {
  reg->draining = 1;
  reg->drain_ms = drain_ms;
  chat_registry_close_all(reg, code);
  if (reg->timer_state == 1) uv_timer_start(&reg->timer, timer_cb, drain_ms, 0);
}

static void timer_closed_cb(uv_handle_t *h) {
  chat_registry_t *reg = container_of((uv_timer_t *)h, chat_registry_t, timer);
  if (reg->close_cb) reg->close_cb(reg->close_ud);
}

void chat_registry_close(chat_registry_t *reg, void (*cb)(void *ud), void *ud) {
  if (reg->timer_state != 1) {
    reg->timer_state = 2;
    if (cb) cb(ud);
    return;
  }
  reg->timer_state = 2;
  reg->close_cb = cb;
  reg->close_ud = ud;
  uv_close((uv_handle_t *)&reg->timer, timer_closed_cb);
}

void chat_registry_close_all(chat_registry_t *reg, int code) {
  for (chat_registry_entry_t *e = reg->head; e; e = e->next)
    chat_conn_post_close(e->conn, code, NULL);
}

char *chat_registry_readbuf(chat_registry_t *reg, size_t *len) {
  *len = sizeof(reg->readbuf);
  return reg->readbuf;
}
