#include "pacer.h"

#include <stdlib.h>

#include "../core/common.h"
#include "conn.h"

#define PACER_TICK_MS 100
/* The busy shares where pacing starts and where it is at its maximum
 * (-D at build time to measure others).  Pacing from 0.45 cost latency at
 * moderate rates for CPU nobody needed: p50 4.4-5.6 ms at 2 000 msgs/s in
 * the 10x50 bench against 1.5-1.8 ms from 0.70, and no better at higher
 * rates (bench/README.md, "Where pacing starts"). */
#ifndef PACER_BUSY_LO
#define PACER_BUSY_LO 0.70
#endif
#ifndef PACER_BUSY_HI
#define PACER_BUSY_HI 0.90
#endif

typedef struct {
  chat_conn_t *c;
  uint64_t due;
} deferred_t;

struct chat_pacer_s {
  uv_loop_t *loop;
  uv_timer_t tick;             /* measures the busy share */
  uv_timer_t due;              /* the next deferred connection */
  int handles;                 /* open timers */
  uint64_t max_ns;
  uint64_t interval_ns;
  double busy;
  uint64_t last_idle_ns, last_wall_ns;
  deferred_t *v;
  size_t n, cap;
  uint64_t armed;              /* when `due` fires, 0: not armed */
  double forced_busy;          /* > 0: CHAT_TEST_LOOP_BUSY, for tests */
};

static void arm(chat_pacer_t *p, uint64_t due);

static void tick_cb(uv_timer_t *t) {
  chat_pacer_t *p = t->data;
  uint64_t wall = uv_hrtime(), idle = uv_metrics_idle_time(p->loop);
  uint64_t dw = wall - p->last_wall_ns, di = idle - p->last_idle_ns;
  p->last_wall_ns = wall;
  p->last_idle_ns = idle;
  if (dw == 0) return;
  double busy = di >= dw ? 0.0 : 1.0 - (double)di / (double)dw;
  if (p->forced_busy > 0) busy = p->forced_busy;
  p->busy = busy;
  double share = (busy - PACER_BUSY_LO) / (PACER_BUSY_HI - PACER_BUSY_LO);
  if (share < 0) share = 0;
  if (share > 1) share = 1;
  /* Half the way to the target each tick: no swing with every tick. */
  double target = share * (double)p->max_ns;
  double next = ((double)p->interval_ns + target) / 2;
  p->interval_ns = next < 100 * 1000 ? 0 : (uint64_t)next;
}

/* The deferred connections are a binary heap on their due time: a timer
 * callback costs what it flushes, not what waits (thousands of connections
 * may wait at once). */
static void heap_swap(deferred_t *v, size_t a, size_t b) {
  deferred_t t = v[a];
  v[a] = v[b];
  v[b] = t;
}

static void heap_push(chat_pacer_t *p, deferred_t d) {
  if (p->n == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 64;
    p->v = chat_xrealloc(p->v, p->cap * sizeof(*p->v));
  }
  size_t i = p->n++;
  p->v[i] = d;
  while (i > 0 && p->v[(i - 1) / 2].due > p->v[i].due) {
    heap_swap(p->v, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static deferred_t heap_pop(chat_pacer_t *p) {
  deferred_t top = p->v[0];
  p->v[0] = p->v[--p->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < p->n && p->v[l].due < p->v[m].due) m = l;
    if (r < p->n && p->v[r].due < p->v[m].due) m = r;
    if (m == i) break;
    heap_swap(p->v, i, m);
    i = m;
  }
  return top;
}

/* Flushes every deferred connection that is due by now (plus a little:
 * the timer has millisecond steps). */
static void due_cb(uv_timer_t *t) {
  chat_pacer_t *p = t->data;
  uint64_t now = uv_hrtime() + 500 * 1000;
  p->armed = 0;
  while (p->n > 0 && p->v[0].due <= now) {
    deferred_t d = heap_pop(p);
    chat_conn_flush_now(d.c);
    chat_actor_unref(chat_conn_actor(d.c));
  }
  if (p->n > 0) arm(p, p->v[0].due);
}

static void arm(chat_pacer_t *p, uint64_t due) {
  if (p->armed && p->armed <= due) return;
  uint64_t now = uv_hrtime();
  uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
  p->armed = due;
  uv_timer_start(&p->due, due_cb, ms, 0);
}

void chat_pacer_defer(chat_pacer_t *p, chat_conn_t *c, uint64_t due) {
  chat_actor_ref(chat_conn_actor(c));
  heap_push(p, (deferred_t){c, due});
  arm(p, due);
}

uint64_t chat_pacer_interval(const chat_pacer_t *p) { return p ? p->interval_ns : 0; }
double chat_pacer_busy(const chat_pacer_t *p) { return p ? p->busy : 0; }

chat_pacer_t *chat_pacer_new(uv_loop_t *loop, double max_ms) {
  chat_pacer_t *p = chat_xcalloc(1, sizeof(*p));
  p->loop = loop;
  p->max_ns = max_ms > 0 ? (uint64_t)(max_ms * 1e6) : 0;
  uv_timer_init(loop, &p->tick);
  uv_timer_init(loop, &p->due);
  p->tick.data = p->due.data = p;
  p->handles = 2;
  /* Tests make the loop look busy to exercise the waiting writes. */
  const char *fb = getenv("CHAT_TEST_LOOP_BUSY");
  if (fb && *fb) p->forced_busy = atof(fb);
  if (p->max_ns > 0 && uv_loop_configure(loop, UV_METRICS_IDLE_TIME) == 0) {
    p->last_wall_ns = uv_hrtime();
    p->last_idle_ns = uv_metrics_idle_time(loop);
    uv_timer_start(&p->tick, tick_cb, PACER_TICK_MS, PACER_TICK_MS);
    uv_unref((uv_handle_t *)&p->tick);  /* measuring alone keeps no loop alive */
  }
  return p;
}

static void closed_cb(uv_handle_t *h) {
  chat_pacer_t *p = h->data;
  if (--p->handles == 0) {
    free(p->v);
    free(p);
  }
}

void chat_pacer_close(chat_pacer_t *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->n; i++) {
    chat_conn_flush_now(p->v[i].c);
    chat_actor_unref(chat_conn_actor(p->v[i].c));
  }
  p->n = 0;
  uv_close((uv_handle_t *)&p->tick, closed_cb);
  uv_close((uv_handle_t *)&p->due, closed_cb);
}
