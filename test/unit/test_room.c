/* The room actor driven with fake services (test/unit/fakes.h): members
 * are test actors, the storage is a queue the test answers, presence a
 * log.  No socket, no store. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "actors/room.h"
#include "actors/roomdir.h"
#include "fakes.h"
#include "t.h"

/* ---- fixtures --------------------------------------------------------- */

static uv_loop_t loop;
static chat_sched_t sched;
static fake_store_t store;
static fake_storage_t storage;
static fake_presence_t presence;
static chat_limits_t limits;
static chat_metrics_t metrics;
static chat_services_t svc;

#define FRAMES_MAX 64

/* A member: keeps the frames it gets, in order. */
typedef struct {
  chat_actor_t actor;
  char *frames[FRAMES_MAX];
  int nframes, next;        /* received; first not yet checked */
  int64_t left[8];
  int nleft;
  int freed;
} member_t;

static void member_frame(chat_actor_t *a, chat_rbuf_t *b) {
  member_t *m = container_of(a, member_t, actor);
  size_t len;
  int op;
  const char *p = fake_frame_payload(b->data, b->len, &len, &op, NULL);
  T_CHECK(p != NULL && op == 1);
  if (p && m->nframes < FRAMES_MAX) m->frames[m->nframes++] = chat_xstrndup(p, len);
}

static void member_left(chat_actor_t *a, int64_t room_id) {
  member_t *m = container_of(a, member_t, actor);
  m->left[m->nleft++] = room_id;
}

static const chat_member_ops_t member_ops = {member_frame, member_left};

static void member_free_cb(chat_actor_t *a) { container_of(a, member_t, actor)->freed = 1; }

static void member_init(member_t *m) {
  memset(m, 0, sizeof(*m));
  chat_actor_init(&m->actor, &sched, member_free_cb);
}

static chat_member_t as_member(member_t *m) {
  chat_member_t cm = {&m->actor, &member_ops};
  return cm;
}

/* The next frame m got that was not checked yet, or "" if none. */
static const char *next_frame(member_t *m) {
  return m->next < m->nframes ? m->frames[m->next++] : "";
}

static int unchecked(member_t *m) { return m->nframes - m->next; }

static void member_done(member_t *m) {
  for (int i = 0; i < m->nframes; i++) free(m->frames[i]);
  m->nframes = m->next = 0;
  chat_actor_unref(&m->actor);
}

static void setup(void) {
  uv_loop_init(&loop);
  chat_sched_init(&sched, &loop);
  fake_store_init(&store);
  fake_storage_init(&storage, &store.super);
  storage.run_at_once = 1;
  fake_presence_init(&presence);
  memset(&limits, 0, sizeof(limits));
  limits.order_check_ms = 20;  /* the periodic check, when presence is shared */
  memset(&metrics, 0, sizeof(metrics));
  memset(&svc, 0, sizeof(svc));
  svc.loop = &loop;
  svc.sched = &sched;
  svc.storage = &storage.super;
  svc.presence = &presence.super;
  svc.limits = &limits;
  svc.metrics = &metrics;
  svc.running = 1;
  svc.rooms = chat_roomdir_new(&svc);
}

static void teardown(void) {
  chat_sched_drain(&sched);
  T_EQ_INT(storage.nins, 0);
  T_EQ_INT(storage.njobs, 0);
  chat_roomdir_stop(svc.rooms, NULL, NULL);
  chat_roomdir_clear(svc.rooms);
  chat_sched_drain(&sched);
  chat_sched_close(&sched, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  chat_roomdir_free(svc.rooms);
  fake_store_free(&store);
  T_EQ_INT(uv_loop_close(&loop), 0);
}

/* Runs the loop until cond() or ms pass. */
static void pump_until(int (*cond)(void), int ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
  while (!cond() && uv_hrtime() < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_sleep(1);
  }
}

static int never_true(void) { return 0; }

static const char OLD_MSG[] =
    "{\"id\":1,\"room\":1,\"seq\":1,\"sender\":\"bob\",\"text\":\"old\",\"ts\":1000}";

/* Room id in the fake store, its last_seq at least last. */
static void store_room(int64_t id, int64_t last) {
  store.room_last[store.nrooms] = last;
  store.rooms[store.nrooms++] = id;
}

/* ---- tests ------------------------------------------------------------- */

static void test_join_send_ack_broadcast(void) {
  setup();
  member_t a, b;
  member_init(&a);
  member_init(&b);
  presence.recent[0] = OLD_MSG;
  presence.nrecent = 1;
  store_room(1, 1);  /* where the fake storage numbers new messages from */
  chat_roomdir_add(svc.rooms, 1, "lobby");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 1);
  T_CHECK(r != NULL);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_room_post_join(r, as_member(&b), 2, "bob", 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"joined\",\"room\":1,\"members\":[\"alice\"],\"history\":[{\"id\":1,"
           "\"room\":1,\"seq\":1,\"sender\":\"bob\",\"text\":\"old\",\"ts\":1000}]}");
  T_EQ_STR(next_frame(&b),
           "{\"type\":\"joined\",\"room\":1,\"members\":[\"alice\",\"bob\"],\"history\":[{"
           "\"id\":1,\"room\":1,\"seq\":1,\"sender\":\"bob\",\"text\":\"old\",\"ts\":1000}]}");
  T_CHECK(fake_presence_saw(&presence, "load 1"));
  T_CHECK(fake_presence_saw(&presence, "join 1 alice"));
  T_CHECK(fake_presence_saw(&presence, "join 1 bob"));

  /* A send is stored first; nothing goes out before. */
  chat_room_post_send(r, as_member(&a), 1, "alice", "hi", 2, "c1");
  chat_sched_drain(&sched);
  T_EQ_INT(storage.nins, 1);
  T_EQ_INT(storage.ins[0]->rec.room, 1);
  T_EQ_INT(storage.ins[0]->rec.sender_id, 1);
  T_EQ_STR(storage.ins[0]->rec.text, "hi");
  T_EQ_STR(storage.ins[0]->rec.cid, "c1");
  T_EQ_INT(unchecked(&a), 0);
  T_EQ_INT(unchecked(&b), 0);
  fake_storage_complete(&storage, 2, 0, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"ack\",\"cid\":\"c1\",\"id\":2}");
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"message\",\"id\":2,\"room\":1,\"seq\":2,\"sender\":\"alice\","
           "\"text\":\"hi\",\"ts\":2000}");
  T_EQ_STR(next_frame(&b),
           "{\"type\":\"message\",\"id\":2,\"room\":1,\"seq\":2,\"sender\":\"alice\","
           "\"text\":\"hi\",\"ts\":2000}");
  T_CHECK(fake_presence_saw(&presence,
                            "push 1 {\"id\":2,\"room\":1,\"seq\":2,\"sender\":\"alice\","
                            "\"text\":\"hi\",\"ts\":2000}"));
  T_CHECK(fake_presence_saw(&presence,
                            "publish 1 {\"type\":\"message\",\"id\":2,\"room\":1,\"seq\":2,"
                            "\"sender\":\"alice\",\"text\":\"hi\",\"ts\":2000}"));
  T_EQ_INT(metrics.messages_sent, 1);

  /* Two sends in one batch: acks and messages in order; no cid, no cid. */
  chat_room_post_send(r, as_member(&b), 2, "bob", "one", 3, NULL);
  chat_room_post_send(r, as_member(&b), 2, "bob", "two", 3, NULL);
  chat_sched_drain(&sched);
  T_EQ_INT(storage.nins, 2);
  fake_storage_complete(&storage, 3, 0, 0, 0);
  fake_storage_complete(&storage, 4, 0, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&b), "{\"type\":\"ack\",\"id\":3}");
  T_CHECK(strstr(next_frame(&b), "\"id\":3,") != NULL);
  T_EQ_STR(next_frame(&b), "{\"type\":\"ack\",\"id\":4}");
  T_CHECK(strstr(next_frame(&b), "\"id\":4,") != NULL);
  T_CHECK(strstr(next_frame(&a), "\"text\":\"one\"") != NULL);
  T_CHECK(strstr(next_frame(&a), "\"text\":\"two\"") != NULL);

  /* A later join answers from the cache: all four, or those after since. */
  member_t c;
  member_init(&c);
  chat_room_post_join(r, as_member(&c), 3, "carol", 2, 1);
  chat_sched_drain(&sched);
  const char *joined = next_frame(&c);
  T_CHECK(strstr(joined, "\"members\":[\"alice\",\"bob\",\"carol\"]") != NULL);
  T_CHECK(strstr(joined, "\"history\":[{\"id\":3,") != NULL);
  T_CHECK(strstr(joined, "\"id\":2,") == NULL);
  T_CHECK(strstr(joined, "\"id\":4,") != NULL);
  T_EQ_INT(storage.submitted, 0);  /* no store read */

  /* Typing goes to the others, here and elsewhere. */
  chat_room_post_typing(r, &a.actor, "alice");
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&b), "{\"type\":\"typing\",\"room\":1,\"user\":\"alice\"}");
  T_EQ_STR(next_frame(&c), "{\"type\":\"typing\",\"room\":1,\"user\":\"alice\"}");
  T_EQ_INT(unchecked(&a), 0);
  T_CHECK(fake_presence_saw(&presence, "publish 1 {\"type\":\"typing\",\"room\":1,\"user\":\"alice\"}"));

  /* Leaving: the user's last connection here; no more frames for it. */
  chat_room_post_leave(r, &c.actor);
  chat_room_post_typing(r, &a.actor, "alice");
  chat_sched_drain(&sched);
  T_CHECK(fake_presence_saw(&presence, "leave 1 carol"));
  T_EQ_INT(unchecked(&c), 0);
  T_EQ_INT(unchecked(&b), 1);
  next_frame(&b);

  chat_room_post_leave(r, &a.actor);
  chat_room_post_leave(r, &b.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  member_done(&b);
  member_done(&c);
  teardown();
  T_CHECK(a.freed && b.freed && c.freed);
}

static void test_send_errors(void) {
  setup();
  member_t a, b;
  member_init(&a);
  member_init(&b);
  chat_roomdir_add(svc.rooms, 1, "lobby");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 1);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"joined\",\"room\":1,\"members\":[\"alice\"],\"history\":[]}");

  /* Not a member: refused before the store. */
  chat_room_post_send(r, as_member(&b), 2, "bob", "x", 1, "c9");
  chat_sched_drain(&sched);
  T_EQ_INT(storage.nins, 0);
  T_EQ_STR(next_frame(&b),
           "{\"type\":\"error\",\"code\":\"not_member\",\"message\":\"join the room first\","
           "\"cid\":\"c9\"}");

  /* A store failure: the sender hears of it, nobody else. */
  chat_room_post_send(r, as_member(&a), 1, "alice", "lost", 4, "c1");
  chat_sched_drain(&sched);
  fake_storage_complete(&storage, 0, 0, 0, 1);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"error\",\"code\":\"store_unavailable\",\"message\":\"the message was "
           "not stored; send it again\",\"cid\":\"c1\"}");
  T_EQ_INT(unchecked(&a), 0);
  T_EQ_INT(metrics.messages_sent, 0);

  /* Stored, then the same cid again: acked with the first id, not sent. */
  chat_room_post_send(r, as_member(&a), 1, "alice", "once", 4, "c2");
  chat_sched_drain(&sched);
  fake_storage_complete(&storage, 7, 0, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"ack\",\"cid\":\"c2\",\"id\":7}");
  T_CHECK(strstr(next_frame(&a), "\"id\":7,") != NULL);
  chat_room_post_send(r, as_member(&a), 1, "alice", "once", 4, "c2");
  chat_sched_drain(&sched);
  fake_storage_complete(&storage, 7, 1, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"ack\",\"cid\":\"c2\",\"id\":7}");
  T_EQ_INT(unchecked(&a), 0);
  T_EQ_INT(metrics.messages_sent, 1);

  /* The store says the room is gone. */
  chat_room_post_send(r, as_member(&a), 1, "alice", "late", 4, NULL);
  chat_sched_drain(&sched);
  fake_storage_complete(&storage, 0, 0, CHAT_ENOTFOUND, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"error\",\"code\":\"no_such_room\",\"message\":\"no such room\"}");

  chat_room_post_leave(r, &a.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  member_done(&b);
  teardown();
}

static void test_delete(void) {
  setup();
  member_t a, b;
  member_init(&a);
  member_init(&b);
  chat_roomdir_add(svc.rooms, 5, "doomed");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 5);
  chat_actor_ref(chat_room_actor(r));  /* the test's, to post after the delete */
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  next_frame(&a);
  chat_room_post_send(r, as_member(&a), 1, "alice", "in flight", 9, NULL);
  chat_sched_drain(&sched);

  chat_roomdir_delete(svc.rooms, 5);
  T_CHECK(chat_roomdir_get(svc.rooms, 5) == NULL);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"room_deleted\",\"room\":5}");
  T_EQ_INT(a.nleft, 1);
  T_EQ_INT(a.left[0], 5);
  T_CHECK(fake_presence_saw(&presence, "leave 5 alice"));

  /* What was in flight, and what comes after, is refused. */
  fake_storage_complete(&storage, 3, 0, 0, 0);
  chat_room_post_join(r, as_member(&b), 2, "bob", 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"error\",\"code\":\"no_such_room\",\"message\":\"no such room\"}");
  T_EQ_STR(next_frame(&b),
           "{\"type\":\"error\",\"code\":\"no_such_room\",\"message\":\"no such room\"}");
  T_EQ_INT(b.nleft, 1);
  T_EQ_INT(metrics.messages_sent, 0);

  chat_actor_unref(chat_room_actor(r));
  member_done(&a);
  member_done(&b);
  teardown();
}

static void test_load_and_deferred_mail(void) {
  setup();
  member_t a;
  member_init(&a);
  /* The shared list answers later: a send right after the join waits. */
  presence.hold = 1;
  chat_roomdir_add(svc.rooms, 2, "slow");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 2);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_room_post_send(r, as_member(&a), 1, "alice", "first", 5, "c1");
  chat_sched_drain(&sched);
  T_EQ_INT(unchecked(&a), 0);
  T_EQ_INT(storage.nins, 0);
  fake_presence_answer(&presence);
  chat_sched_drain(&sched);
  T_CHECK(strncmp(next_frame(&a), "{\"type\":\"joined\",\"room\":2,", 26) == 0);
  T_EQ_INT(storage.nins, 1);
  fake_storage_complete(&storage, 1, 0, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"ack\",\"cid\":\"c1\",\"id\":1}");
  next_frame(&a);
  chat_room_post_leave(r, &a.actor);

  /* The shared list cannot answer: the store does, and seeds it. */
  presence.hold = 0;
  presence.recent_ok = 0;
  store.rooms[store.nrooms++] = 3;
  fake_store_add_msg(&store, 10, 3, "bob", "stored");
  fake_store_add_msg(&store, 11, 3, "carol", "too");
  r = chat_roomdir_get(svc.rooms, 3);
  T_CHECK(r == NULL);
  r = chat_roomdir_open(svc.rooms, 3);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  const char *joined = next_frame(&a);
  T_CHECK(strstr(joined, "\"history\":[{\"id\":10,\"room\":3,\"seq\":1,\"sender\":\"bob\","
                         "\"text\":\"stored\",\"ts\":10000},{\"id\":11,\"room\":3,\"seq\":2,") != NULL);
  T_CHECK(fake_presence_saw(&presence, "seed 3 2"));
  chat_room_post_leave(r, &a.actor);

  /* A room only another instance knew, which the store does not have. */
  r = chat_roomdir_open(svc.rooms, 99);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"error\",\"code\":\"no_such_room\",\"message\":\"no such room\"}");
  T_EQ_INT(a.left[a.nleft - 1], 99);
  T_CHECK(chat_roomdir_get(svc.rooms, 99) == NULL);

  /* The store is down: the join is refused, a later one tries again. */
  store.unavailable = 1;
  store.rooms[store.nrooms++] = 4;
  r = chat_roomdir_open(svc.rooms, 4);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a),
           "{\"type\":\"error\",\"code\":\"store_unavailable\",\"message\":\"the store is "
           "unavailable\"}");
  store.unavailable = 0;
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  T_CHECK(strncmp(next_frame(&a), "{\"type\":\"joined\",\"room\":4,", 26) == 0);
  chat_room_post_leave(r, &a.actor);

  chat_sched_drain(&sched);
  member_done(&a);
  teardown();
}

static member_t *held_member;
static int held_want;
static int held_enough(void) { return held_member->nframes - held_member->next >= held_want; }

/* Runs the loop until m has n unchecked frames (or 5 s pass). */
static void pump_frames(member_t *m, int n) {
  held_member = m;
  held_want = n;
  pump_until(held_enough, 5000);
}

/* A message object of room 6 as another instance publishes it. */
static void post_remote(chat_room_t *r, int64_t id, int64_t seq, const char *text) {
  char obj[256];
  snprintf(obj, sizeof(obj),
           "{\"id\":%lld,\"room\":6,\"seq\":%lld,\"sender\":\"zed\",\"text\":\"%s\",\"ts\":%lld}",
           (long long)id, (long long)seq, text, (long long)id * 1000);
  chat_room_post_message(r, id, seq, chat_xstrdup(obj), strlen(obj));
}

/* The seq of a message frame, or -1. */
static long long frame_seq(const char *f) {
  const char *p = strstr(f, "\"seq\":");
  return strncmp(f, "{\"type\":\"message\",", 18) == 0 && p ? atoll(p + 6) : -1;
}

static void test_sequence(void) {
  setup();
  member_t a, b;
  member_init(&a);
  member_init(&b);
  presence.shared = 1;  /* several instances */
  presence.recent_ok = 0;  /* loaded from the store: last_seq 10 */
  store_room(6, 10);
  chat_roomdir_add(svc.rooms, 6, "busy");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 6);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_room_post_join(r, as_member(&b), 2, "bob", 0, 0);
  chat_sched_drain(&sched);
  next_frame(&a);
  next_frame(&b);
  size_t reads = storage.submitted;

  /* In order: a message committed here with the next seq goes out at once. */
  chat_room_post_send(r, as_member(&a), 1, "alice", "mine", 4, NULL);
  chat_sched_drain(&sched);
  fake_storage_complete(&storage, 12, 0, 0, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"ack\",\"id\":12}");
  T_EQ_INT(frame_seq(next_frame(&a)), 11);
  T_EQ_INT(frame_seq(next_frame(&b)), 11);

  /* Out of order: 13 waits for 12, then both go, in order. */
  post_remote(r, 14, 13, "second");
  chat_sched_drain(&sched);
  T_EQ_INT(unchecked(&b), 0);
  post_remote(r, 13, 12, "first");
  chat_sched_drain(&sched);
  T_EQ_INT(frame_seq(next_frame(&b)), 12);
  T_EQ_INT(frame_seq(next_frame(&b)), 13);
  T_EQ_INT(frame_seq(next_frame(&a)), 12);
  T_EQ_INT(frame_seq(next_frame(&a)), 13);

  /* Duplicates: a seq delivered already, or held already, is dropped. */
  post_remote(r, 13, 12, "first");
  post_remote(r, 12, 11, "mine");
  post_remote(r, 16, 15, "held");
  post_remote(r, 16, 15, "held");
  chat_sched_drain(&sched);
  T_EQ_INT(unchecked(&b), 0);
  T_EQ_INT(storage.submitted, reads);  /* nothing read yet */

  /* The gap before 15 stays open: after the gap wait the room reads 14
   * from the store and delivers 14, 15. */
  fake_store_add_msg_seq(&store, 15, 6, 14, "ghost", "from the store");
  pump_frames(&b, 2);
  const char *f = next_frame(&b);
  T_EQ_INT(frame_seq(f), 14);
  T_CHECK(strstr(f, "\"text\":\"from the store\"") != NULL);
  T_EQ_INT(frame_seq(next_frame(&b)), 15);
  T_EQ_INT(unchecked(&b), 0);
  /* The shared list may lack it: dropped, so the next load reads the store. */
  T_CHECK(fake_presence_saw(&presence, "doubt 6"));
  a.next = a.nframes;

  /* A deleted message is a hole the store does not fill: 16 and 17 are
   * not in the store, 18 goes out after the wait. */
  post_remote(r, 19, 18, "after a hole");
  pump_frames(&b, 1);
  T_EQ_INT(frame_seq(next_frame(&b)), 18);
  T_EQ_INT(unchecked(&b), 0);
  T_CHECK(!fake_presence_saw(&presence, "doubt 6"));

  /* A held message deleted before its turn keeps its place as a hole. */
  post_remote(r, 21, 20, "doomed");
  chat_room_post_msg_deleted(r, 21, 0);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&b), "{\"type\":\"message_deleted\",\"room\":6,\"id\":21}");
  post_remote(r, 20, 19, "kept");
  post_remote(r, 22, 21, "next");
  chat_sched_drain(&sched);
  T_EQ_INT(frame_seq(next_frame(&b)), 19);
  T_EQ_INT(frame_seq(next_frame(&b)), 21);
  T_EQ_INT(unchecked(&b), 0);

  /* Nothing more is said, but the store has 22 and 23 (their instance
   * died before publishing): the directory's periodic check finds them. */
  fake_store_add_msg_seq(&store, 23, 6, 22, "ghost", "lost one");
  fake_store_add_msg_seq(&store, 24, 6, 23, "ghost", "lost two");
  pump_frames(&b, 2);
  T_EQ_INT(frame_seq(next_frame(&b)), 22);
  T_EQ_INT(frame_seq(next_frame(&b)), 23);
  T_EQ_INT(unchecked(&b), 0);
  /* And the cache has them, in order, for the next join. */
  member_t c;
  member_init(&c);
  chat_room_post_join(r, as_member(&c), 3, "carol", 20, 1);  /* since: seq 19's id */
  chat_sched_drain(&sched);
  const char *joined = next_frame(&c);
  const char *p19 = strstr(joined, "\"seq\":19,"), *p22 = strstr(joined, "\"seq\":22,");
  T_CHECK(p19 == NULL);
  T_CHECK(p22 != NULL && strstr(joined, "\"seq\":21,") < p22 &&
          strstr(p22, "\"seq\":23,") != NULL);

  chat_room_post_leave(r, &a.actor);
  chat_room_post_leave(r, &b.actor);
  chat_room_post_leave(r, &c.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  member_done(&b);
  member_done(&c);
  teardown();
}

/* One instance: the same code, always in order, no timer, no read. */
static void test_sequence_single(void) {
  setup();
  member_t a;
  member_init(&a);
  chat_roomdir_add(svc.rooms, 7, "quiet");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 7);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  next_frame(&a);
  for (int i = 0; i < 3; i++) chat_room_post_send(r, as_member(&a), 1, "alice", "x", 1, NULL);
  chat_sched_drain(&sched);
  for (int i = 0; i < 3; i++) fake_storage_complete(&storage, 30 + i, 0, 0, 0);
  chat_sched_drain(&sched);
  for (int i = 0; i < 3; i++) {
    next_frame(&a);  /* the ack */
    T_EQ_INT(frame_seq(next_frame(&a)), i + 1);
  }
  pump_until(never_true, 60);
  T_EQ_INT(unchecked(&a), 0);
  T_EQ_INT(storage.submitted, 0);
  chat_room_post_leave(r, &a.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  teardown();
}

/* Loading from the shared list: entries sorted by id, next_seq from the
 * newest; a list with an entry an older chatd pushed (no seq) is dropped
 * and the store answers. */
static void test_recent_list_seq(void) {
  setup();
  member_t a;
  member_init(&a);
  presence.shared = 1;
  presence.recent[0] = "{\"id\":5,\"room\":6,\"seq\":2,\"sender\":\"x\",\"text\":\"b\",\"ts\":5}";
  presence.recent[1] = "{\"id\":4,\"room\":6,\"seq\":1,\"sender\":\"x\",\"text\":\"a\",\"ts\":4}";
  presence.nrecent = 2;
  chat_roomdir_add(svc.rooms, 6, "listed");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 6);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  const char *joined = next_frame(&a);
  const char *p4 = strstr(joined, "\"id\":4,"), *p5 = strstr(joined, "\"id\":5,");
  T_CHECK(p4 != NULL && p5 != NULL && p4 < p5);
  post_remote(r, 6, 3, "next");
  chat_sched_drain(&sched);
  T_EQ_INT(frame_seq(next_frame(&a)), 3);
  chat_room_post_leave(r, &a.actor);

  presence.recent[0] = "{\"id\":8,\"room\":7,\"sender\":\"x\",\"text\":\"old\",\"ts\":8}";
  presence.nrecent = 1;
  store_room(7, 0);
  fake_store_add_msg(&store, 8, 7, "x", "old");
  chat_roomdir_add(svc.rooms, 7, "upgraded");
  r = chat_roomdir_get(svc.rooms, 7);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_sched_drain(&sched);
  T_CHECK(fake_presence_saw(&presence, "doubt 7"));
  T_CHECK(fake_presence_saw(&presence, "seed 7 1"));
  T_CHECK(strstr(next_frame(&a), "{\"id\":8,\"room\":7,\"seq\":1,") != NULL);
  chat_room_post_leave(r, &a.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  teardown();
}

static void test_presence_events(void) {
  setup();
  member_t a, b;
  member_init(&a);
  member_init(&b);
  presence.shared = 1;
  chat_roomdir_add(svc.rooms, 6, "busy");
  chat_room_t *r = chat_roomdir_get(svc.rooms, 6);
  chat_room_post_join(r, as_member(&a), 1, "alice", 0, 0);
  chat_room_post_join(r, as_member(&b), 2, "bob", 0, 0);
  chat_sched_drain(&sched);
  next_frame(&a);
  next_frame(&b);
  post_remote(r, 11, 1, "theirs");
  post_remote(r, 12, 2, "more");
  chat_sched_drain(&sched);
  T_CHECK(strstr(next_frame(&b), "\"id\":11,") != NULL);
  T_CHECK(strstr(next_frame(&b), "\"id\":12,") != NULL);
  a.next = a.nframes;

  /* A presence frame from elsewhere: to everyone but the user's own, and
   * the user counts as present in `joined`. */
  const char *pres = "{\"type\":\"presence\",\"room\":6,\"user\":\"zed\",\"event\":\"join\"}";
  chat_room_post_user_event(r, "zed", 1, 1, pres, strlen(pres));
  const char *own = "{\"type\":\"presence\",\"room\":6,\"user\":\"bob\",\"event\":\"join\"}";
  chat_room_post_user_event(r, "bob", 1, 1, own, strlen(own));
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), pres);
  T_EQ_STR(next_frame(&b), pres);
  T_EQ_STR(next_frame(&a), own);
  T_EQ_INT(unchecked(&b), 0);
  chat_room_post_join(r, as_member(&b), 2, "bob", 12, 1);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&b),
           "{\"type\":\"joined\",\"room\":6,\"members\":[\"alice\",\"bob\",\"zed\"],"
           "\"history\":[]}");

  /* A message deleted here: members, the cache and the other instances. */
  chat_room_post_msg_deleted(r, 11, 1);
  chat_sched_drain(&sched);
  T_EQ_STR(next_frame(&a), "{\"type\":\"message_deleted\",\"room\":6,\"id\":11}");
  T_CHECK(fake_presence_saw(&presence,
                            "publish 6 {\"type\":\"message_deleted\",\"room\":6,\"id\":11}"));
  T_CHECK(fake_presence_saw(&presence, "doubt 6"));
  chat_room_post_join(r, as_member(&b), 2, "bob", 0, 0);
  chat_sched_drain(&sched);
  next_frame(&b);  /* the deletion */
  const char *joined = next_frame(&b);
  /* It stays as a tombstone (the message object without its text). */
  T_CHECK(strstr(joined, "\"id\":11,") != NULL);
  T_CHECK(strstr(joined, "\"deleted\":true") != NULL);
  T_CHECK(strstr(joined, "\"id\":12,") != NULL);

  chat_room_post_leave(r, &a.actor);
  chat_room_post_leave(r, &b.actor);
  chat_sched_drain(&sched);
  member_done(&a);
  member_done(&b);
  teardown();
}

int main(void) {
  T_RUN(test_join_send_ack_broadcast);
  T_RUN(test_send_errors);
  T_RUN(test_delete);
  T_RUN(test_load_and_deferred_mail);
  T_RUN(test_sequence);
  T_RUN(test_sequence_single);
  T_RUN(test_recent_list_seq);
  T_RUN(test_presence_events);
  return T_DONE();
}
