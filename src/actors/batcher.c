#include "batcher.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/log.h"

#define NOT_IN_HEAP SIZE_MAX

typedef enum { BATCHER_OPEN, BATCHER_CLOSING } batcher_state_t;

struct chat_batcher_s {
  uv_loop_t *loop;
  const chat_batcher_ops_t *ops;
  void *ud;
  batcher_state_t state;
  uv_timer_t timer;     /* the next due user */
  int timer_closed;
  uint64_t interval_ms, gather_ms;
  size_t max_items, max_sending;
  chat_imap_t users;    /* id -> chat_batch_user_t */
  chat_batch_user_t **heap;  /* users without a job, by due_ms */
  size_t heap_len, heap_cap;
  size_t queued;        /* listed items waiting here */
  size_t sending;       /* jobs on the workers */
  size_t held;          /* jobs held outside the workers */
  chat_workers_t *workers;
  int workers_closing;
  chat_batcher_stats_t stats;  /* the counters; the rest is computed */
  const char *log_fallback, *log_back, *log_shared;
  void (*done)(void *ud);
  void *done_ud;
  /* shared batching (mailq_redis.h); mailq NULL: batching is only here */
  chat_mailq_t *mailq;
  int mailq_closing;
  uv_timer_t poll;      /* the next claim */
  int poll_open;        /* poll was initialised and is not closed yet */
  uint64_t poll_ms;
  uint64_t poll_at;     /* loop time poll fires, when active */
  int claiming;         /* a claim is in flight */
  int fallback_logged;  /* "batching here" said for this outage */
  int backlog;          /* the last claim left batches due now */
  int shared_seen;      /* Redis was up once */
  uint64_t rng;
};

/* ---- item lists ------------------------------------------------------- */

uint64_t chat_batch_list_total(const chat_batch_list_t *l) {
  return l->n + l->more + l->more_tried;
}

void chat_batch_list_append(chat_batch_list_t *l, chat_batch_item_t *it) {
  it->next = NULL;
  if (l->tail)
    l->tail->next = it;
  else
    l->head = it;
  l->tail = it;
  l->n++;
}

uint64_t chat_batch_list_clear(chat_batcher_t *b, chat_batch_list_t *l) {
  uint64_t total = chat_batch_list_total(l);
  chat_batch_item_t *it = l->head;
  while (it) {
    chat_batch_item_t *next = it->next;
    b->ops->item_free(it);
    it = next;
  }
  memset(l, 0, sizeof(*l));
  return total;
}

/* Keeps the first max items listed; the rest become counts. */
static void list_cap(chat_batcher_t *b, chat_batch_list_t *l, size_t max) {
  if (l->n <= max) return;
  chat_batch_item_t *it = l->head, *last = NULL;
  for (size_t i = 0; i < max; i++) last = it, it = it->next;
  if (last)
    last->next = NULL;
  else
    l->head = NULL;
  l->tail = last;
  l->n = max;
  while (it) {
    chat_batch_item_t *next = it->next;
    if (it->tries > 0)
      l->more_tried++;
    else
      l->more++;
    b->ops->item_free(it);
    it = next;
  }
}

/* ---- the due-time heap ------------------------------------------------ */

static void heap_set(chat_batcher_t *b, size_t i, chat_batch_user_t *u) {
  b->heap[i] = u;
  u->heap_idx = i;
}

static void heap_up(chat_batcher_t *b, size_t i) {
  chat_batch_user_t *u = b->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (b->heap[p]->due_ms <= u->due_ms) break;
    heap_set(b, i, b->heap[p]);
    i = p;
  }
  heap_set(b, i, u);
}

static void heap_down(chat_batcher_t *b, size_t i) {
  chat_batch_user_t *u = b->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= b->heap_len) break;
    if (c + 1 < b->heap_len && b->heap[c + 1]->due_ms < b->heap[c]->due_ms) c++;
    if (u->due_ms <= b->heap[c]->due_ms) break;
    heap_set(b, i, b->heap[c]);
    i = c;
  }
  heap_set(b, i, u);
}

/* Inserts u or moves it to its place after its due_ms changed. */
static void heap_put(chat_batcher_t *b, chat_batch_user_t *u) {
  if (u->heap_idx == NOT_IN_HEAP) {
    if (b->heap_len == b->heap_cap) {
      b->heap_cap = b->heap_cap ? b->heap_cap * 2 : 16;
      b->heap = chat_xrealloc(b->heap, b->heap_cap * sizeof(*b->heap));
    }
    heap_set(b, b->heap_len++, u);
  }
  heap_up(b, u->heap_idx);
  heap_down(b, u->heap_idx);
}

static void heap_remove(chat_batcher_t *b, chat_batch_user_t *u) {
  size_t i = u->heap_idx;
  if (i == NOT_IN_HEAP) return;
  u->heap_idx = NOT_IN_HEAP;
  chat_batch_user_t *last = b->heap[--b->heap_len];
  if (i == b->heap_len) return;
  heap_set(b, i, last);
  heap_up(b, i);
  heap_down(b, last->heap_idx);
}

/* ---- users ------------------------------------------------------------ */

/* Frees u and its items; it is in neither the map nor the heap. */
static void user_release(chat_batcher_t *b, chat_batch_user_t *u) {
  chat_batch_list_clear(b, &u->pending);
  free(u->username);
  free(u->address);
  free(u);
}

static void user_free(chat_batcher_t *b, chat_batch_user_t *u) {
  assert(u->job == NULL);
  heap_remove(b, u);
  chat_imap_del(&b->users, u->id);
  b->queued -= u->pending.n;
  user_release(b, u);
}

/* Puts a user without a job where it belongs: in the heap at its due time
 * while it has items or its interval still runs (so the interval holds),
 * otherwise nowhere (freed). */
static void user_settle(chat_batcher_t *b, chat_batch_user_t *u) {
  uint64_t now = uv_now(b->loop);
  if (u->job != NULL) return;
  if (chat_batch_list_total(&u->pending) > 0) {
    uint64_t due = u->first_ms + b->gather_ms;
    if (u->started && u->last_ms + b->interval_ms > due) due = u->last_ms + b->interval_ms;
    u->due_ms = due;
  } else if (u->started && u->last_ms + b->interval_ms > now) {
    u->due_ms = u->last_ms + b->interval_ms;
  } else {
    user_free(b, u);
    return;
  }
  heap_put(b, u);
}

static void replace_str(char **dst, const char *src) {
  if (*dst != NULL && strcmp(*dst, src) == 0) return;
  free(*dst);
  *dst = chat_xstrdup(src);
}

/* ---- the close -------------------------------------------------------- */

static void mailq_closed_cb(void *ud);
static void workers_closed_cb(void *ud);

/* The last steps of a close: once the timers are closed and no job is on
 * the threads or held, the shared queue closes (its reports get their
 * chance to reach Redis), the threads stop, then b goes. */
static void maybe_finish(chat_batcher_t *b) {
  if (b->state != BATCHER_CLOSING || !b->timer_closed || b->poll_open || b->sending > 0 ||
      b->held > 0)
    return;
  if (b->mailq) {
    if (!b->mailq_closing) {
      b->mailq_closing = 1;
      chat_mailq_close(b->mailq, mailq_closed_cb, b);
    }
    return;
  }
  if (b->workers) {
    if (!b->workers_closing) {
      b->workers_closing = 1;
      chat_workers_close(b->workers, workers_closed_cb, b);
    }
    return;
  }
  void (*done)(void *) = b->done;
  void *ud = b->done_ud;
  free(b->heap);
  free(b);
  if (done) done(ud);
}

static void mailq_closed_cb(void *ud) {
  chat_batcher_t *b = ud;
  b->mailq = NULL;
  maybe_finish(b);
}

static void workers_closed_cb(void *ud) {
  chat_batcher_t *b = ud;
  b->workers = NULL;
  maybe_finish(b);
}

static void poll_close_cb(uv_handle_t *h) {
  chat_batcher_t *b = container_of((uv_timer_t *)h, chat_batcher_t, poll);
  b->poll_open = 0;
  maybe_finish(b);
}

static void timer_close_cb(uv_handle_t *h) {
  chat_batcher_t *b = container_of((uv_timer_t *)h, chat_batcher_t, timer);
  b->timer_closed = 1;
  maybe_finish(b);
}

/* ---- local batching --------------------------------------------------- */

static void process(chat_batcher_t *b);
static void poll_arm(chat_batcher_t *b, uint64_t delay);

static void timer_cb(uv_timer_t *t) { process(container_of(t, chat_batcher_t, timer)); }

/* Starts the timer for the next due user, or stops it when there is none
 * or the next one waits for a sending slot (a finishing job calls
 * process). */
static void arm(chat_batcher_t *b) {
  if (b->state != BATCHER_OPEN) return;
  if (b->heap_len == 0) {
    uv_timer_stop(&b->timer);
    return;
  }
  chat_batch_user_t *u = b->heap[0];
  uint64_t now = uv_now(b->loop), timeout = 0;
  if (u->due_ms > now)
    timeout = u->due_ms - now;
  else if (chat_batch_list_total(&u->pending) > 0 && b->sending >= b->max_sending) {
    uv_timer_stop(&b->timer);
    return;
  }
  uv_timer_start(&b->timer, timer_cb, timeout, 0);
}

static void after_cb(chat_work_t *w) {
  chat_batch_job_t *job = container_of(w, chat_batch_job_t, work);
  chat_batcher_t *b = job->b;
  assert(b->sending > 0);
  b->sending--;
  b->ops->finished(b->ud, job);
  if (b->state != BATCHER_OPEN) {
    maybe_finish(b);
    return;
  }
  process(b);
  if (b->backlog) poll_arm(b, 0);  /* more shared batches were due: a slot is free */
}

void chat_batcher_run(chat_batcher_t *b, chat_batch_job_t *job) {
  job->b = b;
  b->sending++;
  chat_workers_queue(b->workers, &job->work, b->ops->work, after_cb);
}

/* Takes u's pending items into a job and runs it. */
static void dispatch(chat_batcher_t *b, chat_batch_user_t *u) {
  chat_batch_list_t items = u->pending;
  heap_remove(b, u);
  memset(&u->pending, 0, sizeof(u->pending));
  b->queued -= items.n;
  u->last_ms = uv_now(b->loop);
  u->started = 1;
  chat_batch_job_t *job = b->ops->start(b->ud, u, &items);
  job->user = u;
  job->uid = u->id;
  u->job = job;
  chat_batcher_run(b, job);
}

/* Starts a job for every due user while there are sending slots, frees
 * users whose interval is over, and re-arms the timer. */
static void process(chat_batcher_t *b) {
  if (b->state != BATCHER_OPEN) return;
  uint64_t now = uv_now(b->loop);
  while (b->heap_len > 0 && b->heap[0]->due_ms <= now) {
    chat_batch_user_t *u = b->heap[0];
    if (chat_batch_list_total(&u->pending) == 0)
      user_free(b, u);
    else if (b->sending < b->max_sending)
      dispatch(b, u);
    else
      break;
  }
  arm(b);
}

/* Batches it (taken) here, in this instance. */
static void local_add(chat_batcher_t *b, int64_t user_id, const char *username,
                      const char *address, chat_batch_item_t *it) {
  chat_batch_user_t *u = chat_imap_get(&b->users, user_id);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    u->id = user_id;
    u->heap_idx = NOT_IN_HEAP;
    chat_imap_put(&b->users, user_id, u);
  }
  replace_str(&u->username, username);
  replace_str(&u->address, address);

  if (chat_batch_list_total(&u->pending) == 0) u->first_ms = uv_now(b->loop);
  if (u->pending.n < b->max_items) {
    chat_batch_list_append(&u->pending, it);
    b->queued++;
  } else {
    u->pending.more++;
    b->ops->item_free(it);
  }
  if (u->job == NULL) {
    user_settle(b, u);
    arm(b);
  }
}

void chat_batcher_user_done(chat_batcher_t *b, chat_batch_user_t *u) {
  u->job = NULL;
  if (b->state != BATCHER_OPEN)
    user_release(b, u);  /* closing: the map is gone, the user stayed for its job */
  else
    user_settle(b, u);
}

void chat_batcher_putback(chat_batcher_t *b, chat_batch_user_t *u, chat_batch_list_t *keep,
                          uint64_t first_ms) {
  chat_batch_list_t l = *keep;
  memset(keep, 0, sizeof(*keep));
  b->queued -= u->pending.n;
  /* keep + the items that arrived meanwhile, capped again. */
  if (l.tail) {
    l.tail->next = u->pending.head;
    if (u->pending.tail) l.tail = u->pending.tail;
  } else {
    l.head = u->pending.head;
    l.tail = u->pending.tail;
  }
  l.n += u->pending.n;
  l.more += u->pending.more;
  l.more_tried += u->pending.more_tried;
  list_cap(b, &l, b->max_items);
  u->pending = l;
  b->queued += l.n;
  u->first_ms = first_ms;
}

/* ---- shared batching (mailq_redis.h) ----------------------------------- */

uint64_t chat_batcher_random(chat_batcher_t *b) {
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  return b->rng;
}

/* A random delay of up to max ms, so that instances do not poll Redis in
 * step. */
uint64_t chat_batcher_jitter(chat_batcher_t *b, uint64_t max) {
  return max ? chat_batcher_random(b) % (max + 1) : 0;
}

static void poll_cb(uv_timer_t *t);

/* The next claim within delay ms: sooner than planned, never later. */
static void poll_arm(chat_batcher_t *b, uint64_t delay) {
  if (b->mailq == NULL || b->state != BATCHER_OPEN) return;
  uint64_t at = uv_now(b->loop) + delay;
  if (uv_is_active((uv_handle_t *)&b->poll) && b->poll_at <= at) return;
  b->poll_at = at;
  uv_timer_start(&b->poll, poll_cb, delay, 0);
}

/* The next claim in delay ms, whatever was planned. */
static void poll_set(chat_batcher_t *b, uint64_t delay) {
  if (b->state != BATCHER_OPEN) return;
  b->poll_at = uv_now(b->loop) + delay;
  uv_timer_start(&b->poll, poll_cb, delay, 0);
}

/* "Batching here" is said once an outage. */
static void fallback_note(chat_batcher_t *b) {
  b->stats.local++;
  if (b->fallback_logged) return;
  b->fallback_logged = 1;
  chat_log_warn("%s", b->log_fallback);
}

static void mailq_state_cb(void *ud, int up) {
  chat_batcher_t *b = ud;
  if (!up || b->state != BATCHER_OPEN) return;
  if (b->fallback_logged)
    chat_log_info("%s", b->log_back);
  else if (!b->shared_seen)
    chat_log_info("%s", b->log_shared);
  b->shared_seen = 1;
  b->fallback_logged = 0;
  poll_arm(b, chat_batcher_jitter(b, b->poll_ms / 4));
}

void chat_batcher_decode(chat_batcher_t *b, const chat_mailq_mail_t *m, chat_batch_list_t *out) {
  for (size_t i = 0; i < m->n; i++) {
    chat_batch_item_t *it = b->ops->item_decode(m->items[i], m->lens[i]);
    if (it == NULL) {
      b->stats.dropped++;
      continue;
    }
    it->tries = m->tries[i];
    chat_batch_list_append(out, it);
  }
  out->more = m->more;
  out->more_tried = m->more_tried;
}

static void claimed_cb(void *ud, int ok, const chat_mailq_mail_t *mails, size_t nm,
                       int64_t next_in) {
  chat_batcher_t *b = ud;
  b->claiming = 0;
  for (size_t i = 0; i < nm; i++) {
    if (b->state == BATCHER_OPEN)
      b->ops->claimed(b->ud, &mails[i]);
    else  /* closing: another instance sends it (this costs it a try) */
      chat_mailq_report(b->mailq, mails[i].user_id, mails[i].claim, CHAT_MAILQ_RETRY);
  }
  if (b->state != BATCHER_OPEN) return;
  b->backlog = ok && next_in == 0;
  if (b->backlog && b->sending >= b->max_sending) {
    uv_timer_stop(&b->poll);  /* after_cb claims when a slot is free */
    return;
  }
  if (ok && next_in >= 0 && (uint64_t)next_in < b->poll_ms)
    poll_set(b, (uint64_t)next_in + chat_batcher_jitter(b, 20));
  else
    poll_set(b, b->poll_ms + chat_batcher_jitter(b, b->poll_ms / 4));
}

static void poll_cb(uv_timer_t *t) {
  chat_batcher_t *b = container_of(t, chat_batcher_t, poll);
  if (b->state != BATCHER_OPEN || b->claiming) return;
  if (b->sending >= b->max_sending) {
    b->backlog = 1;  /* after_cb claims when a slot is free */
    return;
  }
  if (chat_mailq_claim(b->mailq, (unsigned)(b->max_sending - b->sending), claimed_cb, b) == 0) {
    b->claiming = 1;
    return;
  }
  poll_set(b, b->poll_ms + chat_batcher_jitter(b, b->poll_ms / 4));  /* Redis is not usable now */
}

/* An item on its way to Redis, kept until Redis has it. */
typedef struct {
  chat_batcher_t *b;
  int64_t uid;
  char *username;
  char *address;
  chat_batch_item_t *it;
} add_req_t;

static void add_req_free(add_req_t *r) {
  if (r->it) r->b->ops->item_free(r->it);
  free(r->username);
  free(r->address);
  free(r);
}

static void added_cb(void *ud, int ok, int64_t due_in) {
  add_req_t *r = ud;
  chat_batcher_t *b = r->b;
  if (ok) {
    b->stats.shared++;
    /* This instance claims it when it is due (others within a poll). */
    if (due_in >= 0) poll_arm(b, (uint64_t)due_in + chat_batcher_jitter(b, 20));
  } else if (b->state != BATCHER_OPEN) {
    b->stats.dropped++;
  } else {
    /* Not known to be stored (the answer was lost): batched here rather
     * than lost; it may then be sent twice. */
    fallback_note(b);
    local_add(b, r->uid, r->username, r->address, r->it);
    r->it = NULL;
  }
  add_req_free(r);
}

/* ---- API -------------------------------------------------------------- */

chat_batcher_t *chat_batcher_new(uv_loop_t *loop, const chat_batcher_config_t *cfg,
                                 const chat_batcher_ops_t *ops, void *ud, char *err,
                                 size_t errlen) {
  chat_batcher_t *b = chat_xcalloc(1, sizeof(*b));
  b->loop = loop;
  b->ops = ops;
  b->ud = ud;
  b->state = BATCHER_OPEN;
  b->gather_ms = cfg->gather_ms;
  b->interval_ms = cfg->interval_ms;
  b->max_items = cfg->max_items;
  b->max_sending = cfg->max_sending;
  b->rng = cfg->seed | 1;  /* xorshift needs a non-zero state */
  b->log_fallback = cfg->log_fallback;
  b->log_back = cfg->log_back;
  b->log_shared = cfg->log_shared;
  chat_imap_init(&b->users);

  if (cfg->thread_name) {
    b->workers = chat_workers_new(loop, (int)b->max_sending, cfg->thread_name, 0, err, errlen);
    if (b->workers == NULL) goto fail;
  }
  if (cfg->redis_url && cfg->redis_url[0]) {
    b->mailq = chat_mailq_new(loop, cfg->redis_url, cfg->mailq, mailq_state_cb, b, err, errlen);
    if (b->mailq == NULL) {
      if (b->workers) chat_workers_close(b->workers, NULL, NULL);
      goto fail;
    }
    b->poll_ms = cfg->poll_ms;
    uv_timer_init(loop, &b->poll);
    b->poll_open = 1;
  }
  int rc = uv_timer_init(loop, &b->timer);
  assert(rc == 0);  /* cannot fail on a live loop */
  (void)rc;
  return b;

fail:
  chat_imap_free(&b->users);
  free(b);
  return NULL;
}

int chat_batcher_open(const chat_batcher_t *b) { return b->state == BATCHER_OPEN; }

chat_mailq_t *chat_batcher_mailq(const chat_batcher_t *b) { return b->mailq; }

void chat_batcher_add(chat_batcher_t *b, int64_t user_id, const char *username,
                      const char *address, chat_batch_item_t *it) {
  if (b->mailq) {
    char *payload = chat_mailq_is_up(b->mailq) ? b->ops->item_encode(it) : NULL;
    if (payload) {
      add_req_t *r = chat_xcalloc(1, sizeof(*r));
      r->b = b;
      r->uid = user_id;
      r->username = chat_xstrdup(username);
      r->address = chat_xstrdup(address);
      r->it = it;
      int rc = chat_mailq_add(b->mailq, user_id, username, address, payload, strlen(payload),
                              added_cb, r);
      free(payload);
      if (rc == 0) return;
      r->it = NULL;
      add_req_free(r);
    }
    fallback_note(b);
  }
  local_add(b, user_id, username, address, it);
}

void chat_batcher_forget(chat_batcher_t *b, int64_t user_id) {
  if (b->state != BATCHER_OPEN) return;
  if (b->mailq) (void)chat_mailq_forget(b->mailq, user_id);  /* best effort */
  chat_batch_user_t *u = chat_imap_get(&b->users, user_id);
  if (u == NULL) return;
  b->queued -= u->pending.n;
  b->stats.forgotten += chat_batch_list_clear(b, &u->pending);
  if (u->job) {
    u->job->forgotten = 1;
    return;
  }
  user_settle(b, u);
  arm(b);
}

void chat_batcher_hold(chat_batcher_t *b) { b->held++; }

void chat_batcher_release(chat_batcher_t *b) {
  assert(b->held > 0);
  b->held--;
  maybe_finish(b);
}

void chat_batcher_stats(const chat_batcher_t *b, chat_batcher_stats_t *out) {
  *out = b->stats;
  out->pending = 0;
  for (size_t i = 0; i < b->users.cap; i++)
    if (b->users.slots[i].key)
      out->pending += chat_batch_list_total(&((chat_batch_user_t *)b->users.slots[i].val)->pending);
  out->queued = b->queued;
  out->sending = b->sending;
}

size_t chat_batcher_queued(const chat_batcher_t *b) { return b->queued; }

void chat_batcher_close(chat_batcher_t *b, void (*done)(void *ud), void *ud) {
  assert(b->state == BATCHER_OPEN);
  b->state = BATCHER_CLOSING;
  b->done = done;
  b->done_ud = ud;
  uv_timer_stop(&b->timer);
  /* Users with a job under way stay (the job points at them) and are
   * freed when it ends; the others go now. */
  for (size_t i = 0; i < b->users.cap; i++) {
    chat_batch_user_t *u = b->users.slots[i].val;
    if (b->users.slots[i].key == 0) continue;
    b->stats.dropped += chat_batch_list_clear(b, &u->pending);
    if (u->job == NULL) user_release(b, u);
  }
  chat_imap_free(&b->users);
  b->heap_len = 0;
  b->queued = 0;
  /* Hold the close while the caller ends its held jobs. */
  b->held++;
  if (b->ops->closing) b->ops->closing(b->ud);
  b->held--;
  uv_close((uv_handle_t *)&b->timer, timer_close_cb);
  if (b->poll_open) {
    uv_timer_stop(&b->poll);
    uv_close((uv_handle_t *)&b->poll, poll_close_cb);
  }
}
