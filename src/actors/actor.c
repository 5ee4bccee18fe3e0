#include "actor.h"

#include <assert.h>
#include <stddef.h>

#include "../core/common.h"

static void check_cb(uv_check_t *h) {
  chat_sched_t *s = container_of(h, chat_sched_t, check);
  chat_sched_drain(s);
}

static void idle_cb(uv_idle_t *h) { (void)h; /* only keeps poll from blocking */ }

int chat_sched_init(chat_sched_t *s, uv_loop_t *loop) {
  s->loop = loop;
  s->ready_head = s->ready_tail = NULL;
  s->nhooks = 0;
  s->closing = 0;
  s->delivered = 0;
  int rc = uv_check_init(loop, &s->check);
  if (rc) return rc;
  rc = uv_idle_init(loop, &s->idle);
  if (rc) {
    uv_close((uv_handle_t *)&s->check, NULL);
    return rc;
  }
  uv_check_start(&s->check, check_cb);
  /* The check handle alone must not keep a loop alive. */
  uv_unref((uv_handle_t *)&s->check);
  return 0;
}

void chat_sched_wake(chat_sched_t *s) {
  if (!uv_is_active((uv_handle_t *)&s->idle) && !uv_is_closing((uv_handle_t *)&s->idle))
    uv_idle_start(&s->idle, idle_cb);
}

void chat_sched_add_hook(chat_sched_t *s, chat_sched_hook_cb cb, void *ud) {
  assert(s->nhooks < (int)CHAT_ARRAY_SIZE(s->hooks));
  s->hooks[s->nhooks].cb = cb;
  s->hooks[s->nhooks].ud = ud;
  s->nhooks++;
}

void chat_sched_drain(chat_sched_t *s) {
  for (;;) {
    while (s->ready_head) {
      chat_actor_t *a = s->ready_head;
      s->ready_head = a->next_ready;
      if (s->ready_head == NULL) s->ready_tail = NULL;
      a->ready = 0;
      a->next_ready = NULL;
      /* Take the whole mailbox as one batch; mail posted while handling it
       * puts the actor back on the ready list. */
      chat_mail_t *m = a->head;
      a->head = a->tail = NULL;
      while (m) {
        chat_mail_t *next = m->next;
        m->next = NULL;
        s->delivered++;
        m->handle(a, m);
        chat_actor_unref(a);  /* the reference the mail held */
        m = next;
      }
    }
    for (int i = 0; i < s->nhooks; i++) s->hooks[i].cb(s->hooks[i].ud);
    if (s->ready_head == NULL) break;  /* hooks may post mail */
  }
  if (uv_is_active((uv_handle_t *)&s->idle)) uv_idle_stop(&s->idle);
}

static void sched_closed_cb(uv_handle_t *h) {
  chat_sched_t *s = h->data;
  if (--s->closing == 0 && s->close_cb) s->close_cb(s);
}

void chat_sched_close(chat_sched_t *s, void (*close_cb)(chat_sched_t *s)) {
  chat_sched_drain(s);
  s->closing = 2;
  s->close_cb = close_cb;
  s->check.data = s;
  s->idle.data = s;
  uv_close((uv_handle_t *)&s->check, sched_closed_cb);
  uv_close((uv_handle_t *)&s->idle, sched_closed_cb);
}

void chat_actor_init(chat_actor_t *a, chat_sched_t *s,
                     void (*free_cb)(chat_actor_t *self)) {
  a->sched = s;
  a->head = a->tail = NULL;
  a->next_ready = NULL;
  a->ready = 0;
  a->refs = 1;
  a->free_cb = free_cb;
}

void chat_actor_ref(chat_actor_t *a) { a->refs++; }

void chat_actor_unref(chat_actor_t *a) {
  assert(a->refs > 0);
  if (--a->refs == 0) {
    assert(a->head == NULL && !a->ready);
    if (a->free_cb) a->free_cb(a);
  }
}

void chat_actor_post(chat_actor_t *a, chat_mail_t *m) {
  assert(m->handle != NULL);
  chat_actor_ref(a);
  m->next = NULL;
  if (a->tail)
    a->tail->next = m;
  else
    a->head = m;
  a->tail = m;
  if (!a->ready) {
    chat_sched_t *s = a->sched;
    a->ready = 1;
    if (s->ready_tail)
      s->ready_tail->next_ready = a;
    else
      s->ready_head = a;
    s->ready_tail = a;
    chat_sched_wake(s);
  }
}
