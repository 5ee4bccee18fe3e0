/* Workers: a few threads of their own for blocking work that may be slow
 * for reasons outside this process (an HTTP POST to a webhook receiver, a
 * mail to an SMTP server, each with timeouts of seconds).
 *
 * Why not libuv's thread pool: it runs the store's group commits and
 * reads (storage.c) and is shared by the whole process (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), so a receiver that answers slowly
 * would hold threads the chat's messages wait for.  A module that does such
 * work makes one of these with as many threads as it runs jobs at once; a
 * slow receiver then only slows that module.
 *
 * A job is a chat_work_t embedded in the caller's struct (container_of):
 * work runs on one of the threads, touching only the job; after runs on the
 * loop thread once work is done, in the order jobs finish.  Results come
 * back through one uv_async_t, drained as a batch.
 *
 * Threads: chat_workers_* are called on the loop thread.
 *
 * Lifetime: chat_workers_new starts the threads (named for ps/top, e.g.
 * "chatd-webhook"); chat_workers_close stops them, closes the async handle
 * and frees everything, then calls done.
 *
 * The password hasher (hasher.h) runs on workers of its own, at a lower
 * CPU priority; the webhook and the mail notifier each on theirs. */
#ifndef CHAT_ACTORS_WORKERS_H
#define CHAT_ACTORS_WORKERS_H

#include <uv.h>

typedef struct chat_workers_s chat_workers_t;
typedef struct chat_work_s chat_work_t;

typedef void (*chat_work_cb)(chat_work_t *w);        /* on a worker thread */
typedef void (*chat_work_after_cb)(chat_work_t *w);  /* on the loop thread */

struct chat_work_s {
  /* private to the workers */
  chat_work_cb work;
  chat_work_after_cb after;
  chat_work_t *next;
};

/* threads: at least 1.  name: at most 15 bytes, given to the threads.
 * nice: how much less CPU priority than the loop they take (0: the same;
 * best effort, Linux).  NULL with err set if a thread could not start. */
chat_workers_t *chat_workers_new(uv_loop_t *loop, int threads, const char *name, int nice,
                                 char *err, size_t errlen);

/* Queues w: work(w) on a thread, then after(w) on the loop. */
void chat_workers_queue(chat_workers_t *ws, chat_work_t *w, chat_work_cb work,
                        chat_work_after_cb after);

/* Jobs queued and not yet given to their after callback. */
size_t chat_workers_pending(const chat_workers_t *ws);

/* Stops and frees ws; done(ud) (may be NULL) runs once it is gone, on a
 * later loop turn.  Jobs still queued are run first and their after
 * callbacks called within this call (which waits for them: close when
 * nothing is pending, and it does not block). */
void chat_workers_close(chat_workers_t *ws, void (*done)(void *ud), void *ud);

#endif
