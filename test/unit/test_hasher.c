/* The hasher (actors/hasher.h): results come back as mails, the bound on
 * pending jobs refuses at once, verify-then-make, drain and close, and one
 * real argon2id round trip. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/actor.h"
#include "actors/hasher.h"
#include "core/common.h"
#include "t.h"

/* ---- a fake hash that waits for the test to let it go ------------------ */

static uv_mutex_t gate_lock;
static uv_cond_t gate_cond;
static int gate_open;          /* jobs the threads may still finish */
static int started;            /* jobs a thread has begun */

static void gate_wait(void) {
  uv_mutex_lock(&gate_lock);
  started++;
  uv_cond_broadcast(&gate_cond);
  while (gate_open == 0) uv_cond_wait(&gate_cond, &gate_lock);
  gate_open--;
  uv_mutex_unlock(&gate_lock);
}

static void gate_release(int n) {
  uv_mutex_lock(&gate_lock);
  gate_open += n;
  uv_cond_broadcast(&gate_cond);
  uv_mutex_unlock(&gate_lock);
}

static void wait_started(int n) {
  uv_mutex_lock(&gate_lock);
  while (started < n) uv_cond_wait(&gate_cond, &gate_lock);
  uv_mutex_unlock(&gate_lock);
}

/* "hash:" + the password is the hash of a password. */
static int fake_verify(const char *hash, const char *password, size_t len) {
  gate_wait();
  return strncmp(hash, "hash:", 5) == 0 && strlen(hash + 5) == len &&
         memcmp(hash + 5, password, len) == 0;
}

static int fake_make(const char *password, size_t len, char *out) {
  gate_wait();
  if (len == 0) return -1;
  snprintf(out, CHAT_HASH_MAX, "hash:%.*s", (int)len, password);
  return 0;
}

static const chat_hasher_fns_t fake_fns = {fake_verify, fake_make};

/* ---- an actor that collects the answers ------------------------------- */

typedef struct {
  chat_actor_t super;
  int answers;
  chat_hash_job_t *order[64];
} sink_t;

static void sink_free_cb(chat_actor_t *self) { (void)self; }

static void on_hashed(chat_actor_t *self, chat_mail_t *m) {
  sink_t *s = container_of(self, sink_t, super);
  chat_hash_job_t *job = container_of(m, chat_hash_job_t, mail);
  if (s->answers < 64) s->order[s->answers] = job;
  s->answers++;
}

static chat_hash_job_t *job_new(int ops, const char *pw, const char *hash, const char *new_pw) {
  chat_hash_job_t *j = chat_xcalloc(1, sizeof(*j));
  j->mail.handle = on_hashed;
  j->ops = ops;
  j->password = pw;
  j->password_len = pw ? strlen(pw) : 0;
  j->new_password = new_pw;
  j->new_password_len = new_pw ? strlen(new_pw) : 0;
  if (hash) snprintf(j->hash, sizeof(j->hash), "%s", hash);
  return j;
}

static uv_loop_t loop;
static chat_sched_t sched;

static void run_until(sink_t *s, int answers) {
  uint64_t deadline = uv_hrtime() + 20ull * 1000000000ull;
  while (s->answers < answers && uv_hrtime() < deadline) uv_run(&loop, UV_RUN_ONCE);
  T_EQ_INT(s->answers, answers);
}

static int closed;
static void closed_cb(void *ud) { closed++; }
static int drained;
static void drained_cb(void *ud) { drained++; }

static void finish(chat_hasher_t *h) {
  int before = closed;
  chat_hasher_close(h, closed_cb, NULL);
  while (closed == before) uv_run(&loop, UV_RUN_ONCE);
  chat_hasher_free(h);
}

static void test_answers_and_bound(void) {
  char err[128];
  started = 0;
  gate_open = 0;
  chat_hasher_t *h = chat_hasher_new(&loop, 1, 3, &fake_fns, err, sizeof(err));
  T_CHECK(h != NULL);
  sink_t sink;
  memset(&sink, 0, sizeof(sink));
  chat_actor_init(&sink.super, &sched, sink_free_cb);

  chat_hash_job_t *a = job_new(CHAT_HASH_VERIFY, "right", "hash:right", NULL);
  chat_hash_job_t *b = job_new(CHAT_HASH_VERIFY, "wrong", "hash:right", NULL);
  chat_hash_job_t *c = job_new(CHAT_HASH_MAKE, NULL, NULL, "new one");
  chat_hash_job_t *d = job_new(CHAT_HASH_VERIFY, "x", "hash:x", NULL);
  T_EQ_INT(chat_hasher_submit(h, a, &sink.super), 0);
  T_EQ_INT(chat_hasher_submit(h, b, &sink.super), 0);
  T_EQ_INT(chat_hasher_submit(h, c, &sink.super), 0);
  /* Full: refused at once, nothing posted, the actor not held. */
  unsigned refs = sink.super.refs;
  T_EQ_INT(chat_hasher_submit(h, d, &sink.super), CHAT_EAGAIN);
  T_EQ_INT(sink.super.refs, refs);
  T_EQ_INT(chat_hasher_pending(h), 3);
  T_EQ_INT(chat_hasher_refused(h), 1);
  T_CHECK(chat_hasher_retry_after(h) >= 1);
  /* Nothing comes back while the hash runs. */
  wait_started(1);
  uv_run(&loop, UV_RUN_NOWAIT);
  T_EQ_INT(sink.answers, 0);
  /* One done: room for one more. */
  gate_release(1);
  run_until(&sink, 1);
  T_CHECK(sink.order[0] == a);
  T_EQ_INT(a->verified, 1);
  T_EQ_INT(chat_hasher_pending(h), 2);
  T_EQ_INT(chat_hasher_submit(h, d, &sink.super), 0);
  gate_release(3);
  run_until(&sink, 4);
  /* One thread: in order. */
  T_CHECK(sink.order[1] == b && sink.order[2] == c && sink.order[3] == d);
  T_EQ_INT(b->verified, 0);
  T_EQ_INT(c->made, 1);
  T_EQ_STR(c->hash, "hash:new one");
  T_EQ_INT(d->verified, 1);
  T_EQ_INT(chat_hasher_pending(h), 0);
  T_EQ_INT(sink.super.refs, 1);
  free(a), free(b), free(c), free(d);
  finish(h);
}

static void test_verify_then_make(void) {
  char err[128];
  started = 0;
  gate_open = 100;
  chat_hasher_t *h = chat_hasher_new(&loop, 2, 8, &fake_fns, err, sizeof(err));
  sink_t sink;
  memset(&sink, 0, sizeof(sink));
  chat_actor_init(&sink.super, &sched, sink_free_cb);
  int ops = CHAT_HASH_VERIFY | CHAT_HASH_MAKE;
  chat_hash_job_t *ok = job_new(ops, "old", "hash:old", "newer");
  chat_hash_job_t *bad = job_new(ops, "nope", "hash:old", "newer");
  /* No stored hash: checked against a dummy, never a match, even for the
   * dummy's own password. */
  chat_hash_job_t *none = job_new(CHAT_HASH_VERIFY, "not a password", "", NULL);
  chat_hasher_submit(h, ok, &sink.super);
  chat_hasher_submit(h, bad, &sink.super);
  chat_hasher_submit(h, none, &sink.super);
  run_until(&sink, 3);
  T_EQ_INT(none->verified, 0);
  free(none);
  T_EQ_INT(ok->verified, 1);
  T_EQ_INT(ok->made, 1);
  T_EQ_STR(ok->hash, "hash:newer");
  /* The old password did not match: no new hash is made. */
  T_EQ_INT(bad->verified, 0);
  T_EQ_INT(bad->made, 0);
  T_EQ_STR(bad->hash, "hash:old");
  /* Drain: at once when nothing is pending. */
  drained = 0;
  chat_hasher_drain(h, drained_cb, NULL);
  T_EQ_INT(drained, 1);
  free(ok), free(bad);
  finish(h);
}

static void test_drain_and_close_with_work(void) {
  char err[128];
  started = 0;
  gate_open = 0;
  chat_hasher_t *h = chat_hasher_new(&loop, 2, 16, &fake_fns, err, sizeof(err));
  sink_t sink;
  memset(&sink, 0, sizeof(sink));
  chat_actor_init(&sink.super, &sched, sink_free_cb);
  chat_hash_job_t *jobs[6];
  for (int i = 0; i < 6; i++) {
    jobs[i] = job_new(CHAT_HASH_MAKE, NULL, NULL, "pw");
    chat_hasher_submit(h, jobs[i], &sink.super);
  }
  drained = 0;
  chat_hasher_drain(h, drained_cb, NULL);
  T_EQ_INT(drained, 0);
  gate_release(6);
  run_until(&sink, 6);
  T_EQ_INT(drained, 1);
  /* Closing with jobs queued: they are finished and answered first. */
  for (int i = 0; i < 2; i++) chat_hasher_submit(h, jobs[i], &sink.super);
  gate_release(2);
  int before = closed;
  chat_hasher_close(h, closed_cb, NULL);
  T_EQ_INT(chat_hasher_submit(h, jobs[2], &sink.super), CHAT_EINVAL);
  while (closed == before) uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_NOWAIT);
  chat_sched_drain(&sched);
  T_EQ_INT(sink.answers, 8);
  chat_hasher_free(h);
  for (int i = 0; i < 6; i++) free(jobs[i]);
}

static void test_argon2id(void) {
  char err[128];
  T_EQ_INT(chat_auth_init(), 0);
  chat_hasher_t *h = chat_hasher_new(&loop, 1, 4, NULL, err, sizeof(err));
  sink_t sink;
  memset(&sink, 0, sizeof(sink));
  chat_actor_init(&sink.super, &sched, sink_free_cb);
  chat_hash_job_t *mk = job_new(CHAT_HASH_MAKE, NULL, NULL, "correct horse");
  chat_hasher_submit(h, mk, &sink.super);
  run_until(&sink, 1);
  T_EQ_INT(mk->made, 1);
  T_CHECK(strncmp(mk->hash, "$argon2id$", 10) == 0);
  chat_hash_job_t *good = job_new(CHAT_HASH_VERIFY, "correct horse", mk->hash, NULL);
  chat_hash_job_t *bad = job_new(CHAT_HASH_VERIFY, "correct hors", mk->hash, NULL);
  chat_hasher_submit(h, good, &sink.super);
  chat_hasher_submit(h, bad, &sink.super);
  run_until(&sink, 3);
  T_EQ_INT(good->verified, 1);
  T_EQ_INT(bad->verified, 0);
  T_CHECK(chat_hasher_retry_after(h) >= 1);
  free(mk), free(good), free(bad);
  finish(h);
}

int main(void) {
  uv_mutex_init(&gate_lock);
  uv_cond_init(&gate_cond);
  uv_loop_init(&loop);
  chat_sched_init(&sched, &loop);
  T_RUN(test_answers_and_bound);
  T_RUN(test_verify_then_make);
  T_RUN(test_drain_and_close_with_work);
  T_RUN(test_argon2id);
  int done = 0;
  chat_sched_close(&sched, NULL);
  while (uv_run(&loop, UV_RUN_NOWAIT)) done++;
  T_EQ_INT(uv_loop_close(&loop), 0);
  uv_cond_destroy(&gate_cond);
  uv_mutex_destroy(&gate_lock);
  return T_DONE();
}
