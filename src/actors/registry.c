#include "registry.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../net/proto.h"
#include "actor.h"
#include "conn.h"

/* The open WebSockets of one user. */
typedef struct {
  chat_registry_entry_t **v;
  size_t n, cap;
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
  chat_imap_free(&reg->users);  /* empty: every connection left it */
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

size_t chat_registry_count(const chat_registry_t *reg) { return reg->n; }
size_t chat_registry_ws_count(const chat_registry_t *reg) { return reg->nws; }

void chat_registry_broadcast(chat_registry_t *reg, chat_rbuf_t *b, int64_t skip_user) {
  for (size_t i = 0; i < reg->users.cap; i++) {
    if (reg->users.slots[i].key == 0 || reg->users.slots[i].key == skip_user) continue;
    user_conns_t *u = reg->users.slots[i].val;
    for (size_t k = 0; k < u->n; k++) chat_conn_post_frame(u->v[k]->conn, b);
  }
}

void chat_registry_deliver(chat_registry_t *reg, int64_t user_id, const char *json,
                           size_t len) {
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  if (u == NULL) return;
  chat_rbuf_t *b = chat_proto_frame(json, len);
  for (size_t i = 0; i < u->n; i++) chat_conn_post_frame(u->v[i]->conn, b);
  chat_rbuf_unref(b);
}

void chat_registry_revoke(chat_registry_t *reg, int64_t user_id, const uint8_t *keep,
                          const uint8_t *only_session, const char *reason) {
  user_conns_t *u = chat_imap_get(&reg->users, user_id);
  for (size_t i = 0; u && i < u->n; i++)
    chat_conn_post_revoke(u->v[i]->conn, keep, only_session, reason);
}

void chat_registry_close_all(chat_registry_t *reg, int code) {
  for (chat_registry_entry_t *e = reg->head; e; e = e->next)
    chat_conn_post_close(e->conn, code, NULL);
}

char *chat_registry_readbuf(chat_registry_t *reg, size_t *len) {
  *len = sizeof(reg->readbuf);
  return reg->readbuf;
}
