/* The SQLite backend (sqlite_int.h): durability shared by concurrent
 * writers, and checkpoints off the writers' path.
 *
 * Connections run with synchronous=NORMAL, so a COMMIT writes its WAL
 * frames without syncing them.  A writer that gives its connection back
 * (chat_sqlite_put with write set) first takes a ticket, in commit order
 * since it still holds the writer lock, then lets the next writer in and
 * waits until a sync of the WAL file that started after its commit has
 * finished.  One fdatasync covers every commit before it, so writers that
 * finish while a sync runs share the next one, and the next transaction
 * writes while this one's sync runs.  Nothing returns before its commit is
 * on disk: the promise of synchronous=FULL, at a fraction of the syncs.
 *
 * The WAL file is synced through a descriptor of our own (fsync acts on
 * the file, not the descriptor); it is opened at the first sync and again
 * if the file was replaced.  The WAL's folder is synced once, when the
 * descriptor is opened, so that the file itself survives a crash.
 *
 * Checkpoints: wal_autocheckpoint is off on the pool's connections (a
 * checkpoint inside a commit would stall that commit and every writer
 * behind it).  A WAL hook on each connection wakes a thread of ours once
 * the WAL holds CHECKPOINT_PAGES pages; it runs a PASSIVE checkpoint on a
 * connection of its own, which never blocks a writer or a reader.  With
 * synchronous=NORMAL a checkpoint syncs the WAL before copying and the
 * database after.  The WAL restarts from its beginning at the first write
 * after a complete checkpoint.
 *
 * A checkpoint completes only if no write lands while it copies.  Under
 * chat traffic there are such moments (a batch waits for its sync), but
 * work that writes back to back (the search indexer catching up, a bulk
 * fill) gave the checkpointer none: the WAL grew by everything written,
 * gigabytes for a million messages.  So a commit that leaves the WAL at
 * CHAT_SQLITE_WAL_MAX_PAGES or more waits, still holding the store's
 * writer lock, until a checkpoint that started after it has finished: no
 * writer appends meanwhile, the checkpoint copies everything, and the
 * next write starts the WAL again from its beginning.  The WAL file stays
 * within about that size plus one transaction. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "../core/common.h"
#include "../core/log.h"
#include "sqlite_int.h"

/* WAL pages (4 KiB) after a commit that start a checkpoint. */
#define CHECKPOINT_PAGES 2000

/* Opens (or reopens) the WAL file; 0 or -1 with errno.  Called by the one
 * thread that set sy->syncing, without sy->mu: the folder's fsync below may
 * take a while, and sy->mu is taken by every commit and by /metrics. */
static int wal_fd(chat_sqlite_sync_t *sy) {
  struct stat st;
  if (sy->fd >= 0 && fstat(sy->fd, &st) == 0 && st.st_nlink > 0) return 0;
  if (sy->fd >= 0) close(sy->fd);
  sy->fd = open(sy->wal_path, O_RDONLY | O_CLOEXEC);
  if (sy->fd < 0) return -1;
  /* The folder's entry for the WAL file, once per file. */
  char *copy = chat_xstrdup(sy->wal_path);
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(copy);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

uint64_t chat_sqlite_sync_ticket(chat_sqlite_sync_t *sy) {
  pthread_mutex_lock(&sy->mu);
  uint64_t t = ++sy->committed;
  pthread_mutex_unlock(&sy->mu);
  return t;
}

int chat_sqlite_sync_wait(chat_sqlite_sync_t *sy, uint64_t ticket) {
  int r = 0;
  pthread_mutex_lock(&sy->mu);
  while (sy->synced < ticket && r == 0) {
    if (sy->syncing) {
      pthread_cond_wait(&sy->cv, &sy->mu);
      continue;
    }
    /* Every ticket up to target belongs to a finished COMMIT. */
    uint64_t target = sy->committed;
    sy->syncing = 1;
    pthread_mutex_unlock(&sy->mu);
    int rc = wal_fd(sy);
    if (rc == 0) rc = fdatasync(sy->fd);
    int e = errno;
    pthread_mutex_lock(&sy->mu);
    sy->syncing = 0;
    if (rc == 0) {
      sy->synced = target;
      sy->syncs++;
    } else {
      chat_log_error("store(sqlite): cannot sync %s: %s", sy->wal_path, strerror(e));
      r = CHAT_EUNAVAIL;
    }
    pthread_cond_broadcast(&sy->cv);
  }
  pthread_mutex_unlock(&sy->mu);
  return r;
}

/* ---- checkpoints ---------------------------------------------------------- */

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages) {
  chat_sqlite_sync_t *sy = arg;
  (void)db;
  (void)name;
  if (pages < CHECKPOINT_PAGES) return SQLITE_OK;
  pthread_mutex_lock(&sy->mu);
  if (!sy->ckpt_want) {
    sy->ckpt_want = 1;
    pthread_cond_broadcast(&sy->ckpt_cv);
  }
  if (pages >= CHAT_SQLITE_WAL_MAX_PAGES && sy->running) {
    /* One that starts after this commit: the next, or the one after the
     * one copying now. */
    uint64_t goal = sy->checkpoints + (sy->ckpt_busy ? 2 : 1);
    sy->wal_waits++;
    while (sy->checkpoints < goal && !sy->stop) pthread_cond_wait(&sy->ckpt_done_cv, &sy->mu);
  }
  pthread_mutex_unlock(&sy->mu);
  return SQLITE_OK;
}

static void *checkpointer(void *arg) {
  chat_sqlite_sync_t *sy = arg;
#ifdef __linux__
  (void)prctl(PR_SET_NAME, "chatd-ckpt", 0, 0, 0); /* as top -H and perf show it */
#endif
  pthread_mutex_lock(&sy->mu);
  for (;;) {
    while (!sy->ckpt_want && !sy->stop) pthread_cond_wait(&sy->ckpt_cv, &sy->mu);
    if (sy->stop) break;
    sy->ckpt_want = 0;
    sy->ckpt_busy = 1;
    pthread_mutex_unlock(&sy->mu);
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(sy->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
      chat_log_warn("store(sqlite): checkpoint: %s", sqlite3_errmsg(sy->ckdb));
    pthread_mutex_lock(&sy->mu);
    sy->ckpt_busy = 0;
    sy->checkpoints++;
    pthread_cond_broadcast(&sy->ckpt_done_cv);
  }
  /* A writer still waiting gives up: the store is closing. */
  pthread_cond_broadcast(&sy->ckpt_done_cv);
  pthread_mutex_unlock(&sy->mu);
  return NULL;
}

int chat_sqlite_sync_start(chat_sqlite_sync_t *sy, const char *path, sqlite3 **dbs, int n,
                           char *err, size_t errlen) {
  sy->fd = -1;
  size_t len = strlen(path);
  sy->wal_path = chat_xmalloc(len + 5);
  memcpy(sy->wal_path, path, len);
  memcpy(sy->wal_path + len, "-wal", 5);
  pthread_mutex_init(&sy->mu, NULL);
  pthread_cond_init(&sy->cv, NULL);
  pthread_cond_init(&sy->ckpt_cv, NULL);
  pthread_cond_init(&sy->ckpt_done_cv, NULL);
  sy->inited = 1;
  for (int i = 0; i < n; i++) {
    if (sqlite3_exec(dbs[i], "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
      snprintf(err, errlen, "sqlite: PRAGMA synchronous=NORMAL: %s", sqlite3_errmsg(dbs[i]));
      return CHAT_EUNAVAIL;
    }
    sqlite3_wal_hook(dbs[i], wal_hook, sy);
  }
  int rc = sqlite3_open_v2(path, &sy->ckdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(sy->ckdb, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(sy->ckdb, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  }
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "cannot open %s for checkpoints: %s", path,
             sy->ckdb ? sqlite3_errmsg(sy->ckdb) : sqlite3_errstr(rc));
    return CHAT_EUNAVAIL;
  }
  /* No hook on this one: its own checkpoints need no second one. */
  sqlite3_wal_autocheckpoint(sy->ckdb, 0);
  if (pthread_create(&sy->thread, NULL, checkpointer, sy) != 0) {
    snprintf(err, errlen, "cannot start the checkpoint thread");
    return CHAT_EUNAVAIL;
  }
  sy->running = 1;
  return 0;
}

void chat_sqlite_sync_stop(chat_sqlite_sync_t *sy) {
  if (!sy->inited) return;
  if (sy->running) {
    pthread_mutex_lock(&sy->mu);
    sy->stop = 1;
    pthread_cond_broadcast(&sy->ckpt_cv);
    pthread_mutex_unlock(&sy->mu);
    pthread_join(sy->thread, NULL);
    sy->running = 0;
  }
  if (sy->ckdb) sqlite3_close(sy->ckdb);
  sy->ckdb = NULL;
  if (sy->fd >= 0) close(sy->fd);
  sy->fd = -1;
  pthread_cond_destroy(&sy->ckpt_done_cv);
  pthread_cond_destroy(&sy->ckpt_cv);
  pthread_cond_destroy(&sy->cv);
  pthread_mutex_destroy(&sy->mu);
  free(sy->wal_path);
  sy->wal_path = NULL;
  sy->inited = 0;
}
