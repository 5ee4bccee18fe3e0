/* Fakes for driving actors without a server, a database or Redis:
 *
 * - fake_store_t: a chat_store_t in memory (through the store's ops
 *   table, store/backend.h) with the few calls the actors' jobs make:
 *   session lookup, users by name, friend state, room lookup, history,
 *   rooms' last_seq and messages by seq.
 * - fake_storage_t: a storage (storage.h's ops table) that queues jobs and
 *   inserts; the test runs the jobs (against a fake_store_t) and completes
 *   the inserts with the result it wants: an id, a duplicate, a failure.
 * - fake_presence_t: a presence (presence.h) that logs what actors report
 *   and answers recent_load with a list the test sets, at once or when the
 *   test says.
 * - fake services: a chat_services_t over those, on a loop of its own.
 *
 * Everything is loop-thread only, like the real modules. */
#ifndef CHAT_TEST_FAKES_H
#define CHAT_TEST_FAKES_H

/* A test uses some of these helpers, not all. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/actor.h"
#include "actors/presence.h"
#include "actors/services.h"
#include "actors/storage.h"
#include "core/common.h"
#include "core/rbuf.h"
#include "store/backend.h"

/* ---- a store in memory ------------------------------------------------ */

#define FAKE_MAX 64

typedef struct {
  chat_store_t super;
  int unavailable;                      /* every call: CHAT_EUNAVAIL */
  chat_user_rec_t users[FAKE_MAX];
  uint8_t sessions[FAKE_MAX][CHAT_TOKEN_HASH_LEN];  /* users[i]'s session */
  size_t nusers;
  int64_t friends[FAKE_MAX][2];         /* accepted pairs */
  size_t nfriends;
  int64_t rooms[FAKE_MAX];
  int64_t room_last[FAKE_MAX];          /* rooms[i]'s last_seq, at least */
  size_t nrooms;
  chat_msg_rec_t msgs[FAKE_MAX];        /* text owned */
  size_t nmsgs;
} fake_store_t;

static fake_store_t *fake_store_of(chat_store_t *s) {
  return container_of(s, fake_store_t, super);
}

static int fs_session_lookup(chat_store_t *s, const uint8_t *th, int64_t now,
                             chat_user_rec_t *out) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  for (size_t i = 0; i < f->nusers; i++) {
    if (memcmp(f->sessions[i], th, CHAT_TOKEN_HASH_LEN) != 0) continue;
    *out = f->users[i];
    return 0;
  }
  return CHAT_ENOTFOUND;
}

static int fs_user_find(chat_store_t *s, const char *name, const char *key,
                        chat_user_rec_t *out) {
  (void)key;
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  for (size_t i = 0; i < f->nusers; i++) {
    if (strcmp(f->users[i].username, name) != 0) continue;
    *out = f->users[i];
    return 0;
  }
  return CHAT_ENOTFOUND;
}

static int fs_friend_state(chat_store_t *s, int64_t a, int64_t b, chat_friend_state_t *out) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  *out = CHAT_FRIEND_NONE;
  for (size_t i = 0; i < f->nfriends; i++)
    if ((f->friends[i][0] == a && f->friends[i][1] == b) ||
        (f->friends[i][0] == b && f->friends[i][1] == a))
      *out = CHAT_FRIEND_ACCEPTED;
  return 0;
}

static int fs_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  for (size_t i = 0; i < f->nrooms; i++) {
    if (f->rooms[i] != id) continue;
    memset(out, 0, sizeof(*out));
    out->id = id;
    snprintf(out->name, sizeof(out->name), "room%lld", (long long)id);
    return 0;
  }
  return CHAT_ENOTFOUND;
}

/* rooms[i]'s last_seq: room_last[i] or the highest seq of its messages. */
static int64_t fs_last_seq(fake_store_t *f, size_t i) {
  int64_t last = f->room_last[i];
  for (size_t k = 0; k < f->nmsgs; k++)
    if (f->msgs[k].room == f->rooms[i] && f->msgs[k].seq > last) last = f->msgs[k].seq;
  return last;
}

static int fs_room_last_seq(chat_store_t *s, int64_t id, int64_t *out) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  for (size_t i = 0; i < f->nrooms; i++) {
    if (f->rooms[i] != id) continue;
    *out = fs_last_seq(f, i);
    return 0;
  }
  return CHAT_ENOTFOUND;
}

static int fs_room_seqs(chat_store_t *s, chat_room_seq_t **out, size_t *n) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  chat_room_seq_t *v = chat_xcalloc(f->nrooms + 1, sizeof(*v));
  for (size_t i = 0; i < f->nrooms; i++) {
    v[i].id = f->rooms[i];
    v[i].last_seq = fs_last_seq(f, i);
  }
  *out = v;
  *n = f->nrooms;
  return 0;
}

static int fs_msg_by_seq(chat_store_t *s, int64_t room, int64_t from, int64_t to, int limit,
                         chat_msg_rec_t **out, size_t *n) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  /* Messages are added in seq order. */
  size_t k = 0;
  chat_msg_rec_t *v = chat_xcalloc(f->nmsgs + 1, sizeof(*v));
  for (size_t i = 0; i < f->nmsgs && k < (size_t)limit; i++) {
    const chat_msg_rec_t *m = &f->msgs[i];
    if (m->room != room || m->seq < from || m->seq >= to) continue;
    v[k] = *m;
    v[k].text = chat_xstrdup(m->text);
    k++;
  }
  *out = v;
  *n = k;
  return 0;
}

/* Copies the messages of room with lo < id < hi, the newest `limit`. */
static int fs_copy_msgs(fake_store_t *f, int64_t room, int64_t lo, int64_t hi, int limit,
                        chat_msg_rec_t **out, size_t *n) {
  size_t k = 0, first = 0;
  chat_msg_rec_t *v = chat_xcalloc(f->nmsgs + 1, sizeof(*v));
  for (size_t i = 0; i < f->nmsgs; i++) {
    const chat_msg_rec_t *m = &f->msgs[i];
    if (m->room != room || m->id <= lo || m->id >= hi) continue;
    v[k] = *m;
    v[k].text = chat_xstrdup(m->text);
    k++;
  }
  if (k > (size_t)limit) {
    first = k - (size_t)limit;
    for (size_t i = 0; i < first; i++) free(v[i].text);
    memmove(v, v + first, (k - first) * sizeof(*v));
    k -= first;
  }
  *out = v;
  *n = k;
  return 0;
}

static int fs_msg_history(chat_store_t *s, int64_t room, int64_t before, int limit,
                          chat_msg_rec_t **out, size_t *n) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  return fs_copy_msgs(f, room, 0, before > 0 ? before : INT64_MAX, limit, out, n);
}

static int fs_msg_since(chat_store_t *s, int64_t room, int64_t since, int limit,
                        chat_msg_rec_t **out, size_t *n) {
  fake_store_t *f = fake_store_of(s);
  if (f->unavailable) return CHAT_EUNAVAIL;
  return fs_copy_msgs(f, room, since, INT64_MAX, limit, out, n);
}

static const chat_store_ops_t fake_store_ops = {
    .kind = "fake",
    .session_lookup = fs_session_lookup,
    .user_find = fs_user_find,
    .friend_state = fs_friend_state,
    .room_get = fs_room_get,
    .room_last_seq = fs_room_last_seq,
    .room_seqs = fs_room_seqs,
    .msg_history = fs_msg_history,
    .msg_since = fs_msg_since,
    .msg_by_seq = fs_msg_by_seq,
};

static void fake_store_init(fake_store_t *f) {
  memset(f, 0, sizeof(*f));
  f->super.ops = &fake_store_ops;
}

/* Adds a message with the next seq of its room (after every message the
 * store has of that room). */
static void fake_store_add_msg(fake_store_t *f, int64_t id, int64_t room, const char *sender,
                               const char *text) {
  int64_t seq = 0;
  for (size_t i = 0; i < f->nmsgs; i++)
    if (f->msgs[i].room == room && f->msgs[i].seq > seq) seq = f->msgs[i].seq;
  for (size_t i = 0; i < f->nrooms; i++)
    if (f->rooms[i] == room && f->room_last[i] > seq) seq = f->room_last[i];
  chat_msg_rec_t *m = &f->msgs[f->nmsgs++];
  memset(m, 0, sizeof(*m));
  m->id = id;
  m->room = room;
  m->seq = seq + 1;
  snprintf(m->sender, sizeof(m->sender), "%s", sender);
  m->text = chat_xstrdup(text);
  m->ts = 1000 * id;
}

/* Adds a message with the given seq (messages must be added in seq order
 * per room). */
static void fake_store_add_msg_seq(fake_store_t *f, int64_t id, int64_t room, int64_t seq,
                                   const char *sender, const char *text) {
  fake_store_add_msg(f, id, room, sender, text);
  f->msgs[f->nmsgs - 1].seq = seq;
}

static void fake_store_free(fake_store_t *f) {
  for (size_t i = 0; i < f->nmsgs; i++) free(f->msgs[i].text);
  f->nmsgs = 0;
}

/* ---- a storage that queues ------------------------------------------- */

typedef struct {
  chat_storage_t super;
  chat_store_t *store;          /* what queued jobs run against */
  int run_at_once;              /* 1: a job runs (and posts) when submitted */
  chat_job_t *jobs[FAKE_MAX];
  size_t njobs;
  chat_insert_t *ins[FAKE_MAX]; /* waiting for fake_storage_complete */
  size_t nins;
  size_t submitted, inserted;   /* in all */
  int64_t seq_room[FAKE_MAX];   /* the rooms it numbered messages of */
  int64_t seq_last[FAKE_MAX];   /* and the last number given */
  size_t nseq;
} fake_storage_t;

static void fake_run_job(fake_storage_t *fs, chat_job_t *job) {
  job->run(job, fs->store);
  chat_actor_post(job->reply_to, &job->mail);
  chat_actor_unref(job->reply_to);
}

static void fake_submit(chat_storage_t *st, chat_job_t *job, chat_actor_t *reply_to) {
  fake_storage_t *fs = container_of(st, fake_storage_t, super);
  job->storage = st;
  job->reply_to = reply_to;
  chat_actor_ref(reply_to);
  fs->submitted++;
  if (fs->run_at_once) {
    fake_run_job(fs, job);
    return;
  }
  fs->jobs[fs->njobs++] = job;
}

static void fake_insert(chat_storage_t *st, chat_insert_t *ins) {
  fake_storage_t *fs = container_of(st, fake_storage_t, super);
  chat_actor_ref(ins->room);
  fs->ins[fs->nins++] = ins;
  fs->inserted++;
}

static const chat_storage_ops_t fake_storage_ops = {
    .submit = fake_submit,
    .insert = fake_insert,
};

static void fake_storage_init(fake_storage_t *fs, chat_store_t *store) {
  memset(fs, 0, sizeof(*fs));
  fs->super.ops = &fake_storage_ops;
  fs->store = store;
}

/* Runs the queued jobs (in order) and posts their answers. */
static void fake_storage_run_jobs(fake_storage_t *fs) {
  size_t n = fs->njobs;
  chat_job_t *jobs[FAKE_MAX];
  memcpy(jobs, fs->jobs, n * sizeof(*jobs));
  fs->njobs = 0;
  for (size_t i = 0; i < n; i++) fake_run_job(fs, jobs[i]);
}

/* Completes the oldest waiting insert: stored as id (dup: stored before),
 * or status (CHAT_ENOTFOUND: no such room), or failed (the batch did not
 * commit).  0, or -1 if none waits. */
static int fake_storage_complete(fake_storage_t *fs, int64_t id, int dup, int status,
                                 int failed) {
  if (fs->nins == 0) return -1;
  chat_insert_t *ins = fs->ins[0];
  memmove(fs->ins, fs->ins + 1, (fs->nins - 1) * sizeof(*fs->ins));
  fs->nins--;
  ins->rec.id = id;
  ins->rec.stored_ts = 1000 * id;
  ins->rec.seq = 0;
  if (!dup && !status && !failed && ins->rec.room) {
    /* The next number of the room: after what the store (if it is a
     * fake_store_t that knows the room) and earlier completions gave. */
    size_t k = 0;
    while (k < fs->nseq && fs->seq_room[k] != ins->rec.room) k++;
    if (k == fs->nseq) {
      fs->seq_room[fs->nseq++] = ins->rec.room;
      fs->seq_last[k] = 0;
      if (fs->store && fs->store->ops->room_last_seq == fs_room_last_seq)
        fs_room_last_seq(fs->store, ins->rec.room, &fs->seq_last[k]);
    }
    ins->rec.seq = ++fs->seq_last[k];
  }
  ins->rec.dup = dup;
  ins->rec.status = status;
  ins->failed = failed;
  chat_actor_t *to = ins->room;
  chat_actor_post(to, &ins->mail);
  chat_actor_unref(to);
  return 0;
}

/* ---- a presence that logs --------------------------------------------- */

typedef struct {
  chat_presence_t super;
  int shared;
  char log[16384];              /* one line per call reported */
  /* recent_load */
  int hold;                     /* 1: keep the callback for fake_presence_answer */
  int recent_ok;                /* what it answers */
  const char *recent[8];
  size_t nrecent;
  chat_presence_recent_cb held_cb;
  void *held_ud;
  int64_t online[FAKE_MAX];
  size_t nonline;
} fake_presence_t;

static void fp_log(chat_presence_t *p, const char *fmt, ...) {
  fake_presence_t *f = (fake_presence_t *)p;
  size_t used = strlen(f->log);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->log + used, sizeof(f->log) - used, fmt, ap);
  va_end(ap);
}

static void fp_connect(chat_presence_t *p, int64_t uid, const char *name) {
  fake_presence_t *f = (fake_presence_t *)p;
  f->online[f->nonline++] = uid;
  fp_log(p, "connect %lld %s\n", (long long)uid, name);
}
static void fp_disconnect(chat_presence_t *p, int64_t uid) {
  fake_presence_t *f = (fake_presence_t *)p;
  for (size_t i = 0; i < f->nonline; i++)
    if (f->online[i] == uid) {
      f->online[i] = f->online[--f->nonline];
      break;
    }
  fp_log(p, "disconnect %lld\n", (long long)uid);
}
static void fp_room_join(chat_presence_t *p, int64_t room, int64_t uid, const char *name) {
  fp_log(p, "join %lld %s\n", (long long)room, name);
}
static void fp_room_leave(chat_presence_t *p, int64_t room, int64_t uid, const char *name) {
  fp_log(p, "leave %lld %s\n", (long long)room, name);
}
static size_t fp_room_count(chat_presence_t *p, int64_t room) { return 0; }
static int fp_is_online(chat_presence_t *p, int64_t uid) {
  fake_presence_t *f = (fake_presence_t *)p;
  for (size_t i = 0; i < f->nonline; i++)
    if (f->online[i] == uid) return 1;
  return 0;
}
static void fp_online_users(chat_presence_t *p, chat_presence_each_cb each, void *ud) {}
static void fp_publish(chat_presence_t *p, int64_t room, const char *json, size_t len) {
  fp_log(p, "publish %lld %.*s\n", (long long)room, (int)len, json);
}
static void fp_recent_push(chat_presence_t *p, int64_t room, const char *obj, size_t len) {
  fp_log(p, "push %lld %.*s\n", (long long)room, (int)len, obj);
}

/* Answers a held recent_load (the room posts itself the result). */
static void fake_presence_answer(fake_presence_t *f) {
  chat_presence_recent_cb cb = f->held_cb;
  if (cb == NULL) return;
  f->held_cb = NULL;
  char *objs[8];
  size_t lens[8];
  for (size_t i = 0; i < f->nrecent; i++) {
    objs[i] = (char *)f->recent[i];
    lens[i] = strlen(f->recent[i]);
  }
  cb(f->held_ud, f->recent_ok, objs, lens, f->recent_ok ? f->nrecent : 0, NULL, 0);
}

static void fp_recent_load(chat_presence_t *p, int64_t room, chat_presence_recent_cb cb,
                           void *ud) {
  fake_presence_t *f = (fake_presence_t *)p;
  fp_log(p, "load %lld\n", (long long)room);
  f->held_cb = cb;
  f->held_ud = ud;
  if (!f->hold) fake_presence_answer(f);
}
static void fp_recent_seed(chat_presence_t *p, int64_t room, char **objs, size_t *lens,
                           size_t n) {
  fp_log(p, "seed %lld %zu\n", (long long)room, n);
}
static void fp_room_forget(chat_presence_t *p, int64_t room) {
  fp_log(p, "forget %lld\n", (long long)room);
}
static void fp_recent_doubt(chat_presence_t *p, int64_t room) {
  fp_log(p, "doubt %lld\n", (long long)room);
}
static int fp_shared(chat_presence_t *p) { return ((fake_presence_t *)p)->shared; }
static const char *fp_backend_state(chat_presence_t *p) { return "off"; }
static void fp_close(chat_presence_t *p, void (*done)(void *ud), void *ud) {
  if (done) done(ud);
}

static const chat_presence_ops_t fake_presence_ops = {
    .connect = fp_connect,
    .disconnect = fp_disconnect,
    .room_join = fp_room_join,
    .room_leave = fp_room_leave,
    .room_count = fp_room_count,
    .is_online = fp_is_online,
    .online_users = fp_online_users,
    .publish = fp_publish,
    .recent_push = fp_recent_push,
    .recent_load = fp_recent_load,
    .recent_seed = fp_recent_seed,
    .room_forget = fp_room_forget,
    .recent_doubt = fp_recent_doubt,
    .shared = fp_shared,
    .backend_state = fp_backend_state,
    .close = fp_close,
};

static void fake_presence_init(fake_presence_t *f) {
  memset(f, 0, sizeof(*f));
  f->super.ops = &fake_presence_ops;
  f->recent_ok = 1;
}

/* 1 if the log has line (without its newline); then the log is cut up to
 * and including it, so a later check finds only what came after. */
static int fake_presence_saw(fake_presence_t *f, const char *line) {
  char want[1024];
  snprintf(want, sizeof(want), "%s\n", line);
  char *at = strstr(f->log, want);
  if (at == NULL) return 0;
  memmove(f->log, at + strlen(want), strlen(at + strlen(want)) + 1);
  return 1;
}

/* ---- WebSocket frames as members get them ---------------------------- */

/* The payload of a server (unmasked, unfragmented) frame in b->data, and
 * its opcode; NULL if b is not one. */
static const char *fake_frame_payload(const uint8_t *d, size_t n, size_t *len, int *opcode,
                                      size_t *frame_len) {
  if (n < 2) return NULL;
  size_t hl = 2, pl = d[1] & 0x7f;
  if (pl == 126) {
    if (n < 4) return NULL;
    pl = (size_t)d[2] << 8 | d[3];
    hl = 4;
  } else if (pl == 127) {
    if (n < 10) return NULL;
    pl = 0;
    for (int i = 0; i < 8; i++) pl = pl << 8 | d[2 + i];
    hl = 10;
  }
  if (n < hl + pl) return NULL;
  *opcode = d[0] & 0x0f;
  *len = pl;
  if (frame_len) *frame_len = hl + pl;
  return (const char *)d + hl;
}

#endif
