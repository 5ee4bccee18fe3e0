/* Output pacing: fewer, fuller writes when the loop is busy.
 *
 * A write to a socket costs a few microseconds whatever it carries (the
 * TCP stack, waking the reader), and a WebSocket in a busy room gets new
 * frames after nearly every group commit.  While the loop is mostly idle
 * every connection is written at the end of each loop turn, as before.
 * Once the loop is busy, a WebSocket written less than `interval` ago
 * waits until then (unless it has a lot queued), so each write carries
 * the frames of several commits and the writes per second stop growing
 * with the message rate.  The interval follows the loop's busy share,
 * measured every PACER_TICK_MS from libuv's idle time: 0 below
 * PACER_BUSY_LO, PACER_MAX_NS at PACER_BUSY_HI and above, in between
 * in proportion, smoothed.  What waits is bounded by the interval, and a
 * connection's queue is still capped (ws_out_cap).  The environment
 * variable CHAT_TEST_LOOP_BUSY (a share, 0..1) stands in for the measured
 * busy share: tests use it to make the loop look busy.
 *
 * Loop thread only.  The pacer holds a reference on every connection it
 * has deferred until it flushes it (chat_conn_flush_now) or is freed. */
#ifndef CHAT_ACTORS_PACER_H
#define CHAT_ACTORS_PACER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct chat_pacer_s chat_pacer_t;
typedef struct chat_conn_s chat_conn_t;

/* Starts measuring loop's busy share (it turns on libuv's idle-time
 * metrics for loop).  max_ms 0: never defer (always write at once). */
chat_pacer_t *chat_pacer_new(uv_loop_t *loop, double max_ms);
/* Flushes the deferred connections, then closes the timers; the pacer
 * frees itself once they are closed. */
void chat_pacer_close(chat_pacer_t *p);

/* The interval now, in nanoseconds (0: write every turn). */
uint64_t chat_pacer_interval(const chat_pacer_t *p);
/* The loop's busy share over the last tick, 0..1. */
double chat_pacer_busy(const chat_pacer_t *p);
/* Writes to c wait until due (uv_hrtime): the pacer calls
 * chat_conn_flush_now(c) then.  Once per connection until then (the
 * caller keeps a flag, see conn.c). */
void chat_pacer_defer(chat_pacer_t *p, chat_conn_t *c, uint64_t due);

#endif
