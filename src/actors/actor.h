/* Actors and their mailboxes on one libuv loop.
 *
 * An actor is a struct with its own state and a mailbox.  Other code never
 * touches an actor's state: it posts a mail, and the scheduler delivers the
 * mails of every actor with mail, in batches, at the end of the loop turn
 * (a uv_check handle; a uv_idle handle keeps the loop from blocking while
 * mail waits).  Each mail carries the function that handles it, so a mail is
 * a message plus its meaning; the handler owns the mail and frees it.
 *
 * Lifetime: an actor is reference counted.  A posted mail holds a reference
 * on its target until it has been handled, so a mail never reaches a freed
 * actor.  Whoever keeps an actor pointer for later (a room's member list, a
 * pending job) holds a reference too.  When the count drops to zero the
 * actor's free callback runs.  Actors live on the loop thread only; worker
 * threads hand results back through the storage actor (storage.h). */
#ifndef CHAT_ACTORS_ACTOR_H
#define CHAT_ACTORS_ACTOR_H

#include <uv.h>

typedef struct chat_actor_s chat_actor_t;
typedef struct chat_mail_s chat_mail_t;
typedef struct chat_sched_s chat_sched_t;

/* Handles mail m sent to self; must free m (or hand it on). */
typedef void (*chat_mail_cb)(chat_actor_t *self, chat_mail_t *m);

struct chat_mail_s {
  chat_mail_t *next;
  chat_mail_cb handle;
};

struct chat_actor_s {
  chat_sched_t *sched;
  chat_mail_t *head, *tail;    /* mailbox */
  chat_actor_t *next_ready;    /* link in the scheduler's ready list */
  int ready;                   /* on the ready list */
  unsigned refs;
  void (*free_cb)(chat_actor_t *self);
};

typedef void (*chat_sched_hook_cb)(void *ud);

struct chat_sched_s {
  uv_loop_t *loop;
  uv_check_t check;
  uv_idle_t idle;
  chat_actor_t *ready_head, *ready_tail;
  /* Called after each drain, when every mailbox is empty: flushes batched
   * work (store writes, socket writes). */
  struct {
    chat_sched_hook_cb cb;
    void *ud;
  } hooks[4];
  int nhooks;
  int closing;
  void (*close_cb)(chat_sched_t *s);
  uint64_t delivered;          /* mails handled, for metrics */
};

int chat_sched_init(chat_sched_t *s, uv_loop_t *loop);
/* Adds a hook run after every drain. */
void chat_sched_add_hook(chat_sched_t *s, chat_sched_hook_cb cb, void *ud);
/* Delivers all mail now (also called by the check handle). */
void chat_sched_drain(chat_sched_t *s);
/* Keeps the loop from blocking until the next drain, so the hooks run at the
 * end of this loop turn even if no mail is posted (for work queued outside
 * a mail handler, such as output written from a libuv callback). */
void chat_sched_wake(chat_sched_t *s);
/* Closes the scheduler's handles; close_cb (may be NULL) runs once both
 * are closed.  Mail still queued is delivered first. */
void chat_sched_close(chat_sched_t *s, void (*close_cb)(chat_sched_t *s));

/* Initialises an actor with one reference (its creator's). */
void chat_actor_init(chat_actor_t *a, chat_sched_t *s,
                     void (*free_cb)(chat_actor_t *self));
void chat_actor_ref(chat_actor_t *a);
void chat_actor_unref(chat_actor_t *a);
/* Queues m (whose handle field must be set) for a; takes a reference on a
 * until m is handled. */
void chat_actor_post(chat_actor_t *a, chat_mail_t *m);

#endif
