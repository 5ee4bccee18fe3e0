/* The room actor (room.h).
 *
 * A message: a connection posts `send`; the room hands an insert to the
 * storage actor (group commit); when the insert comes back committed, the
 * room acks the sender, encodes the `message` frame once into a shared
 * buffer and posts that buffer to every member.  Nothing is acked or
 * broadcast before the store has it.
 *
 * Order: every room message has seq, its number in the room, given in the
 * transaction that stores it (store.h), so commits of a room follow seq.
 * The room keeps next_seq, the number its members get next.  A message
 * (committed here, or published by another instance) with seq == next_seq
 * goes out at once, followed by the held ones that follow it; a lower seq
 * was delivered already and is dropped; a higher one is held, and if the
 * gap is still open after gap_ms (limits.order_gap_ms) the missing numbers
 * are read from the store and delivered in order (numbers the store does
 * not have were deleted: skipped).  The directory's periodic check
 * (roomdir.h) tells the room its store last_seq, which finds a gap that no
 * later message shows: the message of an instance that died between its
 * commit and its publish.  With one instance commits come back in order and
 * nothing waits.  docs/PROTOCOL.md, "Ordering", has the failure cases.
 *
 * Joining: the first join loads the newest messages from the store; later
 * joins answer from that cache, unless `since` reaches back further than the
 * cache, in which case the store is asked. */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/common.h"
#include "../core/limits.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "extras.h"
#include "notifier.h"
#include "webhook.h"
#include "files.h"
#include "presence.h"
#include "room.h"

#include "apicache.h"
#include "embed.h"
#include "roomdir.h"
#include "storage.h"
#include "../store/rooms.h"

typedef struct {
  chat_member_t m;         /* a reference on m.actor */
  int64_t user_id;
} member_t;

typedef struct {
  int64_t user_id;
  char *name;
  int conns;               /* this user's connections in the room */
} ruser_t;

typedef struct {
  int64_t id;
  char *json;              /* the message object: {"id":..,"room":..,...} */
  size_t len;
} cached_t;

typedef enum { LOAD_NONE, LOAD_RUNNING, LOAD_DONE } load_state_t;

/* A message that came before the ones it follows. */
typedef struct {
  int64_t seq, id;
  char *json;              /* the message object (owned) */
  size_t len;
  chat_rbuf_t *frame;      /* its `message` frame if already built (a
                              reference), else NULL */
} held_t;

/* Defaults of limits.order_gap_ms; how many missing messages one store
 * read fetches (a longer gap takes several reads, in order). */
#define GAP_MS_DEFAULT 25
#define GAP_FETCH_MAX 200
/* After a failed gap read, the next try waits this long. */
#define GAP_RETRY_MS 500

typedef struct join_mail_s {
  chat_mail_t mail;
  chat_member_t m;         /* a reference on m.actor */
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  int64_t since;
  int has_since;
  /* Rooms v2: ask the store first whether the user may join (and make a
   * public room's joiner a member); 0 once asked or for trusted callers. */
  int check;
} join_mail_t;

struct chat_room_s {
  chat_actor_t actor;
  const chat_services_t *svc;
  int64_t id;
  char *name;                    /* for notification mails */
  int deleted;
  member_t *members;
  size_t nmembers, members_cap;
  ruser_t *users;
  size_t nusers, users_cap;
  cached_t recent[CHAT_RECENT_MAX];  /* a ring, oldest at rstart */
  size_t rstart, rlen;
  int complete;                  /* the cache holds every message */
  load_state_t load;
  /* While the room waits for a store read (the first load, or history for
   * a join with an old `since`), the mails that arrive wait here and are
   * handled afterwards in the order they came, so a `send` right after a
   * `join` finds the sender a member. */
  int reading;
  chat_mail_t *deferred_head, *deferred_tail;
  int load_failed;               /* answering deferred joins after a failure */
  /* Users in the room anywhere, as presence reports them (for `joined`). */
  char **present;
  size_t npresent, present_cap;
  /* Sequencing (see the top of this file).  next_seq: the seq members get
   * next (set by the first load).  held: messages with a higher seq,
   * sorted by seq, waiting for the gap before them.  known_seq: the
   * store's last_seq as the periodic check last saw it.  gap_since: loop
   * time when the open gap was first seen (0: none). */
  int64_t next_seq;
  held_t *held;
  size_t nheld, held_cap;
  int64_t known_seq;
  uint64_t gap_since;
  int gap_reading;               /* a gap read is on the storage actor */
  int tick_wanted;
  /* extras: sends waiting in order behind one whose reply or mentions are
   * being looked up (the head); empty on the usual path. */
  struct send_mail_s *prep_head, *prep_tail;
  /* Rooms v2: users the store said may join (members; administrators of a
   * private room), so that each is asked once; a kick forgets one. */
  int64_t *allowed;
  size_t nallowed, allowed_cap;
};

chat_actor_t *chat_room_actor(chat_room_t *r) { return &r->actor; }

static chat_room_t *room_of(chat_actor_t *a) { return container_of(a, chat_room_t, actor); }

/* Keeps m for later if the room is waiting for a read; 1 if kept.  The
 * room stays alive meanwhile: the read in flight holds a reference. */
static int room_defer(chat_room_t *r, chat_mail_t *m) {
  if (!r->reading) return 0;
  m->next = NULL;
  if (r->deferred_tail)
    r->deferred_tail->next = m;
  else
    r->deferred_head = m;
  r->deferred_tail = m;
  return 1;
}

/* After a read: handles the kept mails until one starts another read. */
static void room_replay(chat_room_t *r) {
  while (!r->reading && r->deferred_head) {
    chat_mail_t *m = r->deferred_head;
    r->deferred_head = m->next;
    if (r->deferred_head == NULL) r->deferred_tail = NULL;
    m->next = NULL;
    m->handle(&r->actor, m);
  }
}

static void cache_clear(chat_room_t *r) {
  for (size_t i = 0; i < r->rlen; i++) free(r->recent[(r->rstart + i) % CHAT_RECENT_MAX].json);
  r->rstart = r->rlen = 0;
}

static void room_free_cb(chat_actor_t *a) {
  chat_room_t *r = room_of(a);
  assert(r->nmembers == 0 && r->deferred_head == NULL);
  cache_clear(r);
  for (size_t i = 0; i < r->npresent; i++) free(r->present[i]);
  free(r->present);
  for (size_t i = 0; i < r->nheld; i++) {
    free(r->held[i].json);
    chat_rbuf_unref(r->held[i].frame);
  }
  free(r->held);
  free(r->name);
  for (size_t i = 0; i < r->nusers; i++) free(r->users[i].name);
  free(r->users);
  free(r->members);
  free(r->allowed);
  free(r);
}

chat_room_t *chat_room_new(const chat_services_t *svc, int64_t id, const char *name) {
  chat_room_t *r = chat_xcalloc(1, sizeof(*r));
  chat_actor_init(&r->actor, svc->sched, room_free_cb);
  r->svc = svc;
  r->id = id;
  r->name = chat_xstrdup(name ? name : "");
  return r;
}

/* ---- frames ------------------------------------------------------------ */

/* Posts b to one member and drops the caller's reference. */
static void post_frame_once(chat_member_t m, chat_rbuf_t *b) {
  m.ops->post_frame(m.actor, b);
  chat_rbuf_unref(b);
}

/* Posts b to every member connection except those of user skip_user (0:
 * none).  One buffer, many references. */
static void room_broadcast(chat_room_t *r, chat_rbuf_t *b, int64_t skip_user) {
  for (size_t i = 0; i < r->nmembers; i++)
    if (r->members[i].user_id != skip_user)
      r->members[i].m.ops->post_frame(r->members[i].m.actor, b);
}

static void send_error(chat_member_t m, chat_proto_code_t code, const char *message,
                       const char *cid) {
  post_frame_once(m, chat_proto_error_frame(code, message, cid));
}

/* The list of users present anywhere, kept from presence frames. */
static void present_set(chat_room_t *r, const char *name, int here) {
  for (size_t i = 0; i < r->npresent; i++) {
    if (strcmp(r->present[i], name) != 0) continue;
    if (!here) {
      free(r->present[i]);
      r->present[i] = r->present[--r->npresent];
    }
    return;
  }
  if (!here) return;
  if (r->npresent == r->present_cap) {
    r->present_cap = r->present_cap ? r->present_cap * 2 : 8;
    r->present = chat_xrealloc(r->present, r->present_cap * sizeof(*r->present));
  }
  r->present[r->npresent++] = chat_xstrdup(name);
}

/* Appends the message object of a stored message of this room. */
static void msg_obj(chat_room_t *r, chat_sb_t *sb, const chat_msg_rec_t *rec) {
  char *files = chat_files_json(rec->files, rec->nfiles);  /* files */
  chat_proto_msg_t m = {rec->id, r->id, NULL, rec->sender, rec->text, strlen(rec->text),
                        rec->ts, rec->seq, rec->deleted, rec->extra, files};
  chat_proto_msg_obj(sb, &m);
  free(files);
}

/* Adds a message object to the cache (messages arrive in id order). */
static void cache_add(chat_room_t *r, int64_t id, char *json, size_t len) {
  if (r->rlen == CHAT_RECENT_MAX) {
    free(r->recent[r->rstart].json);
    r->rstart = (r->rstart + 1) % CHAT_RECENT_MAX;
    r->rlen--;
    r->complete = 0;
  }
  cached_t *c = &r->recent[(r->rstart + r->rlen) % CHAT_RECENT_MAX];
  c->id = id;
  c->json = json;
  c->len = len;
  r->rlen++;
}

static cached_t *cache_at(chat_room_t *r, size_t i) {
  return &r->recent[(r->rstart + i) % CHAT_RECENT_MAX];
}

/* ---- members ----------------------------------------------------------- */

static ruser_t *find_user(chat_room_t *r, int64_t user_id) {
  for (size_t i = 0; i < r->nusers; i++)
    if (r->users[i].user_id == user_id) return &r->users[i];
  return NULL;
}

static int is_member(chat_room_t *r, chat_actor_t *a) {
  for (size_t i = 0; i < r->nmembers; i++)
    if (r->members[i].m.actor == a) return 1;
  return 0;
}

/* Adds m; returns 1 if its user was not in the room before. */
static int add_member(chat_room_t *r, chat_member_t m, int64_t user_id, const char *name) {
  if (r->nmembers == r->members_cap) {
    r->members_cap = r->members_cap ? r->members_cap * 2 : 8;
    r->members = chat_xrealloc(r->members, r->members_cap * sizeof(*r->members));
  }
  chat_actor_ref(m.actor);
  r->members[r->nmembers].m = m;
  r->members[r->nmembers].user_id = user_id;
  r->nmembers++;
  ruser_t *u = find_user(r, user_id);
  if (u) {
    u->conns++;
    return 0;
  }
  if (r->nusers == r->users_cap) {
    r->users_cap = r->users_cap ? r->users_cap * 2 : 8;
    r->users = chat_xrealloc(r->users, r->users_cap * sizeof(*r->users));
  }
  u = &r->users[r->nusers++];
  u->user_id = user_id;
  u->name = chat_xstrdup(name);
  u->conns = 1;
  return 1;
}

/* Removes a; if that was its user's last connection, tells the others. */
static void remove_member(chat_room_t *r, chat_actor_t *a) {
  for (size_t i = 0; i < r->nmembers; i++) {
    if (r->members[i].m.actor != a) continue;
    int64_t user_id = r->members[i].user_id;
    r->members[i] = r->members[--r->nmembers];
    ruser_t *u = find_user(r, user_id);
    if (u && --u->conns == 0) {
      char *name = u->name;
      *u = r->users[--r->nusers];
      /* Presence answers with the leave frame for the others. */
      r->svc->presence->ops->room_leave(r->svc->presence, r->id, user_id, name);
      free(name);
    }
    chat_actor_unref(a);
    return;
  }
}

/* ---- join ------------------------------------------------------------- */

static void free_join(join_mail_t *j) {
  chat_actor_unref(j->m.actor);
  free(j);
}

/* Answers a join that cannot be served.  A connection already in the room
 * (a re-join) stays in it; one that is not is told it is not in the room. */
static void refuse_join(chat_room_t *r, join_mail_t *j, chat_proto_code_t code,
                        const char *msg) {
  send_error(j->m, code, msg, NULL);
  if (!is_member(r, j->m.actor)) j->m.ops->post_left(j->m.actor, r->id);
}

/* Completes a join: history is a list of message objects (JSON,
 * chat_proto_list_add) chosen by the caller. */
static void finish_join(chat_room_t *r, join_mail_t *j, chat_sb_t *history, int partial) {
  if (!is_member(r, j->m.actor)) {
    if (add_member(r, j->m, j->user_id, j->username)) {
      r->svc->presence->ops->room_join(r->svc->presence, r->id, j->user_id, j->username);
      /* webhook.h: "join" items, when configured (about the user who joined). */
      if (chat_webhook_wants(r->svc->webhook, CHAT_WEBHOOK_JOIN))
        chat_webhook_add(r->svc->webhook, j->user_id, j->username, NULL, CHAT_WEBHOOK_JOIN,
                         j->username, r->name[0] ? r->name : NULL, NULL, chat_now_ms());
    }
  }
  /* The local users, then those present only through other instances. */
  const char **names = chat_xmalloc((r->nusers + r->npresent + 1) * sizeof(*names));
  size_t n = 0;
  for (size_t i = 0; i < r->nusers; i++) names[n++] = r->users[i].name;
  for (size_t i = 0; i < r->npresent; i++) {
    int local = 0;
    for (size_t k = 0; k < r->nusers && !local; k++)
      local = strcmp(r->users[k].name, r->present[i]) == 0;
    if (!local) names[n++] = r->present[i];
  }
  post_frame_once(j->m, chat_proto_joined_frame(r->id, names, n, history->buf, history->len,
                                                partial));
  free(names);
}

/* History from the cache: messages with id > since (the newest limit). */
static void cache_history(chat_room_t *r, int64_t since, size_t limit, chat_sb_t *out) {
  size_t first = r->rlen;
  while (first > 0 && cache_at(r, first - 1)->id > since && r->rlen - first < limit) first--;
  for (size_t i = first; i < r->rlen; i++)
    chat_proto_list_add(out, cache_at(r, i)->json, cache_at(r, i)->len);
}

typedef struct {
  chat_job_t job;
  join_mail_t *join;       /* NULL for the first load */
  int64_t room_id;
  int64_t since;
  int missing;             /* the first load found no such room */
  int64_t last_seq;        /* the first load: the room's last_seq */
  chat_msg_rec_t *msgs;
  size_t n;
  int rc;
} history_job_t;

static void history_run(chat_job_t *job, chat_store_t *store) {
  history_job_t *h = (history_job_t *)job;
  if (h->join) {
    /* One more than a reply holds tells whether the reply is partial. */
    h->rc = chat_store_msg_since(store, h->room_id, h->since, CHAT_JOIN_SINCE_MAX + 1,
                                 &h->msgs, &h->n);
  } else {
    /* The first load also proves the room exists: a room actor may have
     * been made for an id only another instance knew.  last_seq is read
     * before the history: every number up to it is committed (or deleted)
     * by then, so the history holds whatever of them is newest. */
    h->rc = chat_store_room_last_seq(store, h->room_id, &h->last_seq);
    if (h->rc == CHAT_ENOTFOUND) {
      h->missing = 1;
      return;
    }
    if (h->rc == 0)
      h->rc = chat_store_msg_history(store, h->room_id, 0, CHAT_RECENT_MAX, &h->msgs, &h->n);
  }
  if (h->rc == CHAT_ENOTFOUND) {
    h->rc = 0;
    h->n = 0;
  }
}

static void answer_join(chat_room_t *r, join_mail_t *j);

static void history_done(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  history_job_t *h = container_of(m, history_job_t, job.mail);
  r->reading = 0;
  if (h->join == NULL && h->missing) {
    /* No such room: the joins waiting get no_such_room (replayed below),
     * and the directory forgets this actor. */
    r->deleted = 1;
    r->load = LOAD_DONE;
    chat_roomdir_forget(r->svc->rooms, r, r->id);
  } else if (h->join == NULL) {
    /* The first load: nothing was stored meanwhile (sends waited). */
    if (h->rc != 0) {
      r->load = LOAD_NONE;
      r->load_failed = 1;
    } else {
      r->load = LOAD_DONE;
      cache_clear(r);
      r->complete = h->n < CHAT_RECENT_MAX;
      int64_t newest = h->n ? h->msgs[h->n - 1].seq : 0;
      r->next_seq = (h->last_seq > newest ? h->last_seq : newest) + 1;
      for (size_t i = 0; i < h->n; i++) {
        chat_sb_t sb;
        chat_sb_init(&sb);
        msg_obj(r, &sb, &h->msgs[i]);
        cache_add(r, h->msgs[i].id, sb.buf, sb.len);
      }
      if (h->n == CHAT_RECENT_MAX) r->complete = 0;
      /* Fill the shared list for the next instance that loads this room. */
      if (r->rlen) {
        char **objs = chat_xmalloc(r->rlen * sizeof(char *));
        size_t *lens = chat_xmalloc(r->rlen * sizeof(size_t));
        for (size_t i = 0; i < r->rlen; i++) {
          objs[i] = cache_at(r, i)->json;
          lens[i] = cache_at(r, i)->len;
        }
        r->svc->presence->ops->recent_seed(r->svc->presence, r->id, objs, lens, r->rlen);
        free(objs);
        free(lens);
      }
    }
  } else {
    join_mail_t *j = h->join;
    if (r->deleted) {
      refuse_join(r, j, CHAT_PROTO_NO_SUCH_ROOM, "no such room");
    } else if (h->rc != 0) {
      refuse_join(r, j, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
    } else {
      /* Sends wait during the read, but inserts already on their way may
       * have been committed after the read looked: those are in the cache,
       * so the answer is the store's rows plus newer cached ones (the
       * newest CHAT_JOIN_SINCE_MAX in all). */
      int64_t last = h->n ? h->msgs[h->n - 1].id : j->since;
      size_t from_cache = 0;
      for (size_t i = 0; i < r->rlen; i++)
        if (cache_at(r, i)->id > last) from_cache++;
      size_t total = h->n + from_cache;
      size_t skip = total > CHAT_JOIN_SINCE_MAX ? total - CHAT_JOIN_SINCE_MAX : 0;
      /* More than a reply holds: the client pages the rest (PROTOCOL.md). */
      int partial = total > CHAT_JOIN_SINCE_MAX;
      chat_sb_t hist;
      chat_sb_init(&hist);
      for (size_t i = skip; i < h->n; i++) {
        if (hist.len) chat_sb_append(&hist, ",", 1);  /* the list as chat_proto_list_add */
        msg_obj(r, &hist, &h->msgs[i]);
      }
      for (size_t i = 0; i < r->rlen; i++) {
        cached_t *c = cache_at(r, i);
        if (c->id > last) chat_proto_list_add(&hist, c->json, c->len);
      }
      finish_join(r, j, &hist, partial);
      chat_sb_free(&hist);
    }
    free_join(j);
  }
  chat_store_msgs_free(h->msgs, h->n);
  free(h);
  room_replay(r);
  r->load_failed = 0;
}

static void answer_join(chat_room_t *r, join_mail_t *j) {
  int need_store = j->has_since && !r->complete && r->rlen > 0 &&
                   j->since < cache_at(r, 0)->id;
  if (need_store) {
    history_job_t *h = chat_xcalloc(1, sizeof(*h));
    h->job.mail.handle = history_done;
    h->job.run = history_run;
    h->join = j;
    h->room_id = r->id;
    h->since = j->since;
    r->reading = 1;
    chat_storage_submit(r->svc->storage, &h->job, &r->actor);
    return;
  }
  chat_sb_t hist;
  chat_sb_init(&hist);
  if (j->has_since)
    cache_history(r, j->since, CHAT_JOIN_SINCE_MAX, &hist);
  else
    cache_history(r, 0, CHAT_JOIN_HISTORY, &hist);
  finish_join(r, j, &hist, 0);
  chat_sb_free(&hist);
  free_join(j);
}

typedef struct {
  chat_mail_t mail;
  int ok;
  size_t n;
  char **objs;
  size_t *lens;
  size_t nmembers;
  char **members;
} recent_mail_t;

/* The shared list can seed the room only if each entry has an id and a
 * seq (an entry an older chatd pushed has no seq: the store knows). */
static int recent_usable(const recent_mail_t *rm) {
  for (size_t i = 0; i < rm->n; i++) {
    int64_t seq;
    if (chat_proto_msg_obj_id_seq(rm->objs[i], rm->lens[i], &seq) == 0 || seq == 0) return 0;
  }
  return 1;
}

/* Sorts the list's entries by id (insertion sort: 100 at most, nearly in
 * order). */
static void recent_sort(recent_mail_t *rm) {
  int64_t *ids = chat_xmalloc((rm->n + 1) * sizeof(*ids));
  for (size_t i = 0; i < rm->n; i++) ids[i] = chat_proto_msg_obj_id(rm->objs[i], rm->lens[i]);
  for (size_t i = 1; i < rm->n; i++) {
    int64_t id = ids[i];
    char *obj = rm->objs[i];
    size_t len = rm->lens[i], k = i;
    for (; k > 0 && ids[k - 1] > id; k--) {
      ids[k] = ids[k - 1];
      rm->objs[k] = rm->objs[k - 1];
      rm->lens[k] = rm->lens[k - 1];
    }
    ids[k] = id;
    rm->objs[k] = obj;
    rm->lens[k] = len;
  }
  free(ids);
}

static void start_store_load(chat_room_t *r) {
  history_job_t *h = chat_xcalloc(1, sizeof(*h));
  h->job.mail.handle = history_done;
  h->job.run = history_run;
  h->room_id = r->id;
  chat_storage_submit(r->svc->storage, &h->job, &r->actor);
}

static void on_recent_loaded(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  recent_mail_t *rm = (recent_mail_t *)m;
  /* Who is in the room through other instances, before any frame said so. */
  for (size_t i = 0; i < rm->nmembers; i++) present_set(r, rm->members[i], 1);
  if (!r->svc->running) {
    /* Stopping: no new store work; the waiting joins are refused. */
    r->load = LOAD_NONE;
    r->load_failed = 1;
    r->reading = 0;
  } else if (!rm->ok) {
    start_store_load(r);  /* still reading */
  } else if (!recent_usable(rm)) {
    /* Entries without seq: dropped, so the store load seeds it afresh. */
    r->svc->presence->ops->recent_doubt(r->svc->presence, r->id);
    start_store_load(r);
  } else {
    /* Instances push in the order their commits come back, which may not
     * be seq order: sorted here (ids follow seq within a room). */
    recent_sort(rm);
    cache_clear(r);
    r->next_seq = 1;
    for (size_t i = 0; i < rm->n; i++) {
      int64_t seq, id = chat_proto_msg_obj_id_seq(rm->objs[i], rm->lens[i], &seq);
      if (id && (r->rlen == 0 || id > cache_at(r, r->rlen - 1)->id)) {
        cache_add(r, id, rm->objs[i], rm->lens[i]);
        rm->objs[i] = NULL;
        r->next_seq = seq + 1;
      }
    }
    r->complete = rm->n < CHAT_RECENT_MAX;
    r->load = LOAD_DONE;
    r->reading = 0;
  }
  for (size_t i = 0; i < rm->n; i++) free(rm->objs[i]);
  for (size_t i = 0; i < rm->nmembers; i++) free(rm->members[i]);
  free(rm->objs);
  free(rm->lens);
  free(rm->members);
  free(rm);
  room_replay(r);
  r->load_failed = 0;
}

/* Presence's answer, on the loop: becomes a mail to the room. */
static void recent_loaded_cb(void *ud, int ok, char **objs, size_t *lens, size_t n,
                             char **members, size_t nmembers) {
  chat_room_t *r = ud;
  recent_mail_t *rm = chat_xcalloc(1, sizeof(*rm));
  rm->nmembers = nmembers;
  rm->members = chat_xcalloc(nmembers + 1, sizeof(char *));
  for (size_t i = 0; i < nmembers; i++) rm->members[i] = chat_xstrdup(members[i]);
  rm->mail.handle = on_recent_loaded;
  rm->ok = ok;
  rm->n = ok ? n : 0;
  rm->objs = chat_xcalloc(rm->n + 1, sizeof(char *));
  rm->lens = chat_xcalloc(rm->n + 1, sizeof(size_t));
  for (size_t i = 0; i < rm->n; i++) {
    rm->objs[i] = chat_xstrndup(objs[i], lens[i]);
    rm->lens[i] = lens[i];
  }
  chat_actor_post(&r->actor, &rm->mail);
  chat_actor_unref(&r->actor);  /* the reference held for the answer */
}

/* ---- Rooms v2: who may join ------------------------------------------- */

static int allowed_has(chat_room_t *r, int64_t user_id) {
  for (size_t i = 0; i < r->nallowed; i++)
    if (r->allowed[i] == user_id) return 1;
  return 0;
}

static void allowed_add(chat_room_t *r, int64_t user_id) {
  if (allowed_has(r, user_id)) return;
  if (r->nallowed == r->allowed_cap) {
    r->allowed_cap = r->allowed_cap ? 2 * r->allowed_cap : 8;
    r->allowed = chat_xrealloc(r->allowed, r->allowed_cap * sizeof(*r->allowed));
  }
  r->allowed[r->nallowed++] = user_id;
}

typedef struct {
  chat_job_t job;
  join_mail_t *join;
  int64_t room_id;
  int rc, allowed;
} access_job_t;

static void access_run(chat_job_t *job, chat_store_t *store) {
  access_job_t *a = (access_job_t *)job;
  int priv = 0;
  a->rc = chat_store_room_join_check(store, a->room_id, a->join->user_id, 0, chat_now_ms(),
                                     &a->allowed, &priv);
  /* Administrators may enter any private room. */
  chat_user_rec_t u;
  if (a->rc == 0 && !a->allowed && priv &&
      chat_store_user_by_id(store, a->join->user_id, &u) == 0 && u.role == CHAT_ROLE_ADMIN)
    a->allowed = 1;
}

static void on_join(chat_actor_t *self, chat_mail_t *m);

static void access_done(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  access_job_t *a = container_of(m, access_job_t, job.mail);
  join_mail_t *j = a->join;
  r->reading = 0;
  /* The check may have made the user a member (a public room): room lists
   * kept for a moment (apicache.h) are out of date. */
  chat_apicache_clear(r->svc->apicache);
  if (a->rc == 0 && a->allowed) {
    allowed_add(r, j->user_id);
    j->check = 0;
    on_join(self, &j->mail);
  } else {
    /* A private room is not there for those outside it. */
    if (a->rc == 0 || a->rc == CHAT_ENOTFOUND)
      refuse_join(r, j, CHAT_PROTO_NO_SUCH_ROOM, "no such room");
    else
      refuse_join(r, j, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
    free_join(j);
  }
  free(a);
  room_replay(r);
}

static void on_join(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  join_mail_t *j = (join_mail_t *)m;
  if (room_defer(r, m)) return;
  if (r->deleted || !r->svc->running) {
    refuse_join(r, j, CHAT_PROTO_NO_SUCH_ROOM, "no such room");
    free_join(j);
    return;
  }
  if (j->check && !allowed_has(r, j->user_id)) {
    access_job_t *a = chat_xcalloc(1, sizeof(*a));
    a->job.mail.handle = access_done;
    a->job.run = access_run;
    a->join = j;
    a->room_id = r->id;
    r->reading = 1;
    chat_storage_submit(r->svc->storage, &a->job, &r->actor);
    return;
  }
  if (r->load != LOAD_DONE) {
    if (r->load_failed) {
      refuse_join(r, j, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
      free_join(j);
      return;
    }
    r->load = LOAD_RUNNING;
    r->reading = 1;
    /* The shared list first (no store round trip); the store if it cannot
     * answer. */
    chat_actor_ref(&r->actor);
    r->svc->presence->ops->recent_load(r->svc->presence, r->id, recent_loaded_cb, r);
    room_defer(r, m);  /* answered once the load is in */
    return;
  }
  answer_join(r, j);
}

void chat_room_post_join(chat_room_t *r, chat_member_t m, int64_t user_id,
                         const char *username, int64_t since, int has_since) {
  join_mail_t *j = chat_xcalloc(1, sizeof(*j));
  j->mail.handle = on_join;
  j->m = m;
  chat_actor_ref(m.actor);
  j->user_id = user_id;
  snprintf(j->username, sizeof(j->username), "%s", username);
  j->since = since;
  j->has_since = has_since;
  chat_actor_post(&r->actor, &j->mail);
}

void chat_room_post_join_checked(chat_room_t *r, chat_member_t m, int64_t user_id,
                                 const char *username, int64_t since, int has_since) {
  join_mail_t *j = chat_xcalloc(1, sizeof(*j));
  j->mail.handle = on_join;
  j->m = m;
  chat_actor_ref(m.actor);
  j->user_id = user_id;
  snprintf(j->username, sizeof(j->username), "%s", username);
  j->since = since;
  j->has_since = has_since;
  j->check = 1;
  chat_actor_post(&r->actor, &j->mail);
}

/* Rooms v2: a member removed from the room. */
typedef struct {
  chat_mail_t mail;
  int64_t user_id;
} kick_mail_t;

static void on_kick(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  kick_mail_t *k = (kick_mail_t *)m;
  if (room_defer(r, m)) return;
  for (size_t i = 0; i < r->nallowed; i++) {
    if (r->allowed[i] != k->user_id) continue;
    r->allowed[i] = r->allowed[--r->nallowed];
    break;
  }
  for (size_t i = r->nmembers; i-- > 0;) {
    if (i >= r->nmembers || r->members[i].user_id != k->user_id) continue;
    chat_member_t mm = r->members[i].m;
    mm.ops->post_left(mm.actor, r->id);
    remove_member(r, mm.actor);
  }
  free(k);
}

void chat_room_post_kick(chat_room_t *r, int64_t user_id) {
  kick_mail_t *k = chat_xcalloc(1, sizeof(*k));
  k->mail.handle = on_kick;
  k->user_id = user_id;
  chat_actor_post(&r->actor, &k->mail);
}

/* ---- leave, typing ---------------------------------------------------- */

typedef struct {
  chat_mail_t mail;
  chat_actor_t *member;    /* a reference */
  char username[CHAT_NAME_MAX + 1];
} member_mail_t;

static void on_leave(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  member_mail_t *mm = (member_mail_t *)m;
  if (room_defer(r, m)) return;
  remove_member(r, mm->member);
  chat_actor_unref(mm->member);
  free(mm);
}

void chat_room_post_leave(chat_room_t *r, chat_actor_t *member) {
  member_mail_t *mm = chat_xcalloc(1, sizeof(*mm));
  mm->mail.handle = on_leave;
  mm->member = member;
  chat_actor_ref(member);
  chat_actor_post(&r->actor, &mm->mail);
}

static void on_typing(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  member_mail_t *cm = (member_mail_t *)m;
  if (room_defer(r, m)) return;
  int64_t user_id = 0;
  for (size_t i = 0; i < r->nmembers; i++)
    if (r->members[i].m.actor == cm->member) user_id = r->members[i].user_id;
  if (user_id) {
    chat_sb_t sb;
    chat_sb_init(&sb);
    chat_proto_typing(&sb, r->id, cm->username);
    chat_presence_t *pr = r->svc->presence;
    pr->ops->publish(pr, r->id, sb.buf, sb.len);
    chat_rbuf_t *b = chat_proto_frame(sb.buf, sb.len);
    chat_sb_free(&sb);
    room_broadcast(r, b, user_id);
    chat_rbuf_unref(b);
  }
  chat_actor_unref(cm->member);
  free(cm);
}

void chat_room_post_typing(chat_room_t *r, chat_actor_t *member, const char *username) {
  member_mail_t *cm = chat_xcalloc(1, sizeof(*cm));
  cm->mail.handle = on_typing;
  cm->member = member;
  chat_actor_ref(member);
  snprintf(cm->username, sizeof(cm->username), "%s", username);
  chat_actor_post(&r->actor, &cm->mail);
}

/* ---- delivery of messages, in seq order ------------------------------ */

/* Sends a message (its object JSON, owned by the cache afterwards) to the
 * local members: the frame is encoded once and shared.  frame: the frame
 * if the caller built it already (the room takes that reference), or NULL
 * to build it here. */
static void broadcast_message(chat_room_t *r, int64_t id, char *obj, size_t len,
                              chat_rbuf_t *frame) {
  if (frame == NULL) frame = chat_proto_message_frame(obj, len);
  cache_add(r, id, obj, len);
  room_broadcast(r, frame, 0);
  r->svc->metrics->deliveries += r->nmembers;
  chat_rbuf_unref(frame);
}

static int cache_has(chat_room_t *r, int64_t id) {
  for (size_t i = r->rlen; i > 0; i--) {
    int64_t cid = cache_at(r, i - 1)->id;
    if (cid == id) return 1;
    if (cid < id) return 0;
  }
  return 0;
}

static uint64_t gap_ms(chat_room_t *r) {
  int ms = r->svc->limits ? r->svc->limits->order_gap_ms : 0;
  return ms > 0 ? (uint64_t)ms : GAP_MS_DEFAULT;
}

static void want_tick(chat_room_t *r, uint64_t delay_ms) {
  if (r->tick_wanted) return;
  r->tick_wanted = 1;
  chat_roomdir_want_tick(r->svc->rooms, r, delay_ms);
}

static void drop_held(held_t *h) {  /* json NULL: a deleted one */
  free(h->json);
  chat_rbuf_unref(h->frame);
}

/* Delivers the held messages that now follow in order. */
static void release_held(chat_room_t *r) {
  if (r->nheld == 0) return;
  size_t k = 0;
  while (k < r->nheld && r->held[k].seq <= r->next_seq) {
    held_t *h = &r->held[k++];
    if (h->seq < r->next_seq) {
      drop_held(h);
      continue;
    }
    if (h->json) broadcast_message(r, h->id, h->json, h->len, h->frame);  /* else deleted */
    r->next_seq++;
  }
  memmove(r->held, r->held + k, (r->nheld - k) * sizeof(*r->held));
  r->nheld -= k;
}

/* Is a number below the first held one (or up to known_seq) missing? */
static int gap_open(chat_room_t *r) {
  return r->nheld > 0 || r->known_seq >= r->next_seq;
}

/* After a change: starts the gap's clock, or stops it. */
static void watch_gap(chat_room_t *r) {
  if (!gap_open(r)) {
    r->gap_since = 0;
    return;
  }
  if (r->gap_since == 0) r->gap_since = uv_now(r->svc->loop);
  if (!r->gap_reading) want_tick(r, gap_ms(r));
}

/* A stored message of this room, from this instance or another: delivered
 * in seq order, each seq once (see the top of this file).  Takes obj and
 * the reference on frame (NULL: not built yet).  seq 0 (an instance that
 * numbers nothing): delivered at once unless the cache has it. */
static void deliver_message(chat_room_t *r, int64_t seq, int64_t id, char *obj, size_t len,
                            chat_rbuf_t *frame) {
  if (seq <= 0) {
    if (cache_has(r, id)) {
      free(obj);
      chat_rbuf_unref(frame);
    } else {
      broadcast_message(r, id, obj, len, frame);
    }
    return;
  }
  if (seq < r->next_seq) {  /* delivered already */
    free(obj);
    chat_rbuf_unref(frame);
    return;
  }
  if (seq == r->next_seq) {
    broadcast_message(r, id, obj, len, frame);
    r->next_seq++;
    release_held(r);
  } else {
    size_t at = r->nheld;
    while (at > 0 && r->held[at - 1].seq > seq) at--;
    if (at > 0 && r->held[at - 1].seq == seq) {  /* held already */
      free(obj);
      chat_rbuf_unref(frame);
      return;
    }
    if (r->nheld == r->held_cap) {
      r->held_cap = r->held_cap ? r->held_cap * 2 : 16;
      r->held = chat_xrealloc(r->held, r->held_cap * sizeof(*r->held));
    }
    memmove(r->held + at + 1, r->held + at, (r->nheld - at) * sizeof(*r->held));
    r->held[at] = (held_t){seq, id, obj, len, frame};
    r->nheld++;
  }
  watch_gap(r);
}

/* ---- gaps: the missing numbers from the store ------------------------- */

typedef struct {
  chat_job_t job;
  int64_t room_id, from, to;
  chat_msg_rec_t *msgs;
  size_t n;
  int rc;
} gap_job_t;

static void gap_run(chat_job_t *job, chat_store_t *store) {
  gap_job_t *g = (gap_job_t *)job;
  g->rc = chat_store_msg_by_seq(store, g->room_id, g->from, g->to, GAP_FETCH_MAX, &g->msgs,
                                &g->n);
}

static void start_gap_read(chat_room_t *r);

static void gap_done(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  gap_job_t *g = container_of(m, gap_job_t, job.mail);
  r->gap_reading = 0;
  if (r->deleted) {
    /* nothing to deliver to */
  } else if (g->rc != 0) {
    chat_log_warn("room %" PRId64 ": reading messages %" PRId64 "..%" PRId64
                  " failed; trying again",
                  r->id, g->from, g->to - 1);
    r->gap_since = uv_now(r->svc->loop) + GAP_RETRY_MS;  /* its clock starts later */
    want_tick(r, GAP_RETRY_MS + gap_ms(r));
  } else {
    size_t found = 0;
    for (size_t i = 0; i < g->n; i++) {
      if (g->msgs[i].seq < r->next_seq) continue;  /* it came meanwhile */
      if (g->msgs[i].deleted) {  /* extras: a tombstone is a hole here */
        r->next_seq = g->msgs[i].seq + 1;
        continue;
      }
      /* Every number below g->to was committed before the read (a higher
       * one was): one the store does not have was deleted. */
      r->next_seq = g->msgs[i].seq;
      chat_sb_t sb;
      chat_sb_init(&sb);
      msg_obj(r, &sb, &g->msgs[i]);
      broadcast_message(r, g->msgs[i].id, sb.buf, sb.len, NULL);
      r->next_seq++;
      found++;
    }
    /* A full answer covers up to its last row; a short one the range. */
    int64_t covered = g->n == GAP_FETCH_MAX ? g->msgs[g->n - 1].seq + 1 : g->to;
    if (r->next_seq < covered) r->next_seq = covered;
    release_held(r);
    /* What the store had and no instance delivered in time may be missing
     * from the shared list too (its instance died before pushing it): the
     * next load of the room reads the store instead. */
    if (found) r->svc->presence->ops->recent_doubt(r->svc->presence, r->id);
    if (gap_open(r)) {
      if (g->n == GAP_FETCH_MAX && r->svc->running)
        start_gap_read(r);  /* the rest of a long gap at once */
      else
        watch_gap(r);
    } else {
      r->gap_since = 0;
    }
  }
  chat_store_msgs_free(g->msgs, g->n);
  free(g);
}

static void start_gap_read(chat_room_t *r) {
  gap_job_t *g = chat_xcalloc(1, sizeof(*g));
  g->job.mail.handle = gap_done;
  g->job.run = gap_run;
  g->room_id = r->id;
  g->from = r->next_seq;
  g->to = r->nheld ? r->held[0].seq : r->known_seq + 1;
  r->gap_reading = 1;
  chat_storage_submit(r->svc->storage, &g->job, &r->actor);
}

static void on_tick(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  free(m);
  r->tick_wanted = 0;
  if (r->deleted || !r->svc->running || r->load != LOAD_DONE || r->gap_reading) return;
  if (!gap_open(r)) {
    r->gap_since = 0;
    return;
  }
  uint64_t now = uv_now(r->svc->loop), due = r->gap_since + gap_ms(r);
  if (now + 1 < due) {
    want_tick(r, due - now);
    return;
  }
  start_gap_read(r);
}

void chat_room_post_tick(chat_room_t *r) {
  chat_mail_t *m = chat_xcalloc(1, sizeof(*m));
  m->handle = on_tick;
  chat_actor_post(&r->actor, m);
}

typedef struct {
  chat_mail_t mail;
  int64_t last_seq;
} seq_check_mail_t;

static void on_seq_check(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  seq_check_mail_t *c = (seq_check_mail_t *)m;
  if (room_defer(r, m)) return;
  if (!r->deleted && r->load == LOAD_DONE && c->last_seq > r->known_seq) {
    r->known_seq = c->last_seq;
    watch_gap(r);
  }
  free(c);
}

void chat_room_post_seq_check(chat_room_t *r, int64_t last_seq) {
  seq_check_mail_t *c = chat_xcalloc(1, sizeof(*c));
  c->mail.handle = on_seq_check;
  c->last_seq = last_seq;
  chat_actor_post(&r->actor, &c->mail);
}

/* ---- events from presence (and other instances) ----------------------- */

typedef struct {
  chat_mail_t mail;
  int64_t id, seq;
  char *obj;               /* owned */
  size_t len;
} message_mail_t;

static void on_message(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  message_mail_t *mm = (message_mail_t *)m;
  if (room_defer(r, m)) return;
  /* Before the first load is in, the load reads it from the store. */
  if (!r->deleted && r->load == LOAD_DONE)
    deliver_message(r, mm->seq, mm->id, mm->obj, mm->len, NULL);  /* takes obj */
  else
    free(mm->obj);
  free(mm);
}

void chat_room_post_message(chat_room_t *r, int64_t id, int64_t seq, char *obj, size_t len) {
  message_mail_t *mm = chat_xmalloc(sizeof(*mm));
  mm->mail.handle = on_message;
  mm->id = id;
  mm->seq = seq;
  mm->obj = obj;
  mm->len = len;
  chat_actor_post(&r->actor, &mm->mail);
}

typedef struct {
  chat_mail_t mail;
  const char *user;        /* in buf, after json */
  int presence, join;
  size_t len;
  char json[];             /* json, NUL, user, NUL */
} user_event_mail_t;

static void on_user_event(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  user_event_mail_t *e = (user_event_mail_t *)m;
  if (room_defer(r, m)) return;
  if (!r->deleted) {
    if (e->presence) present_set(r, e->user, e->join);
    /* To the local members, except the user's own connections. */
    int64_t skip = 0;
    for (size_t i = 0; i < r->nusers; i++)
      if (strcmp(r->users[i].name, e->user) == 0) skip = r->users[i].user_id;
    chat_rbuf_t *b = chat_proto_frame(e->json, e->len);
    room_broadcast(r, b, skip);
    chat_rbuf_unref(b);
  }
  free(e);
}

void chat_room_post_user_event(chat_room_t *r, const char *user, int presence, int join,
                               const char *json, size_t len) {
  size_t ulen = strlen(user);
  user_event_mail_t *e = chat_xcalloc(1, sizeof(*e) + len + 1 + ulen + 1);
  e->mail.handle = on_user_event;
  e->presence = presence;
  e->join = join;
  e->len = len;
  memcpy(e->json, json, len);
  memcpy(e->json + len + 1, user, ulen);
  e->user = e->json + len + 1;
  chat_actor_post(&r->actor, &e->mail);
}

/* ---- @mentions: mail for users who are offline ----------------------- */

typedef struct {
  chat_job_t job;
  size_t n;
  int64_t ids[CHAT_MENTIONS_MAX];
  chat_user_rec_t users[CHAT_MENTIONS_MAX];
  int found[CHAT_MENTIONS_MAX];
  char sender[CHAT_NAME_MAX + 1];
  char *text;
  int64_t ts;
  /* Rooms v2: the room, for its members' mute and privacy. */
  int64_t room_id;
} mention_job_t;

static void mention_run(chat_job_t *job, chat_store_t *store) {
  mention_job_t *mj = (mention_job_t *)job;
  for (size_t i = 0; i < mj->n; i++) {
    mj->found[i] = chat_store_user_by_id(store, mj->ids[i], &mj->users[i]) == 0;
    /* Rooms v2: no mail about a room the user muted or may not read. */
    int priv = 0, member = 0, muted = 0;
    if (mj->found[i] &&
        chat_store_room_access(store, mj->room_id, mj->users[i].id, &priv, &member, &muted,
                               NULL) == 0 &&
        ((priv && !member) || muted))
      mj->found[i] = 0;
  }
}

static void mention_done(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  mention_job_t *mj = container_of(m, mention_job_t, job.mail);
  chat_presence_t *pr = r->svc->presence;
  for (size_t i = 0; i < mj->n; i++) {
    const chat_user_rec_t *u = &mj->users[i];
    if (mj->found[i] && !u->banned && u->webhook_notify && r->svc->webhook &&
        !pr->ops->is_online(pr, u->id) && strcmp(u->username, mj->sender) != 0)
      chat_webhook_add(r->svc->webhook, u->id, u->username, u->phone, CHAT_WEBHOOK_MENTION,
                       mj->sender, r->name[0] ? r->name : NULL, mj->text, mj->ts);
    if (!mj->found[i] || u->banned || !u->email_notify || pr->ops->is_online(pr, u->id) ||
        strcmp(u->username, mj->sender) == 0 || r->svc->notifier == NULL)
      continue;
    chat_notifier_add(r->svc->notifier, u->id, u->username, u->email, "mention", mj->sender,
                      r->name[0] ? r->name : NULL, mj->text, mj->ts);
  }
  free(mj->text);
  free(mj);
}

/* Mails (and hands the webhook) the offline users a stored message
 * mentions: ids[0..nids), the users of its "mentions" as the send's lookup
 * found them (extras.h), the first CHAT_MENTIONS_MAX of them. */
static void notify_mentions(chat_room_t *r, const char *sender, const int64_t *ids, size_t nids,
                            const char *text, size_t len, int64_t ts) {
  if ((r->svc->notifier == NULL && !chat_webhook_wants(r->svc->webhook, CHAT_WEBHOOK_MENTION)) ||
      nids == 0)
    return;
  mention_job_t *mj = chat_xcalloc(1, sizeof(*mj));
  mj->n = nids < CHAT_MENTIONS_MAX ? nids : CHAT_MENTIONS_MAX;
  memcpy(mj->ids, ids, mj->n * sizeof(*ids));
  snprintf(mj->sender, sizeof(mj->sender), "%s", sender);
  mj->text = chat_xstrndup(text, len);
  mj->ts = ts;
  mj->room_id = r->id;
  mj->job.mail.handle = mention_done;
  mj->job.run = mention_run;
  chat_storage_submit(r->svc->storage, &mj->job, &r->actor);
}

/* ---- deletion of one message, rename ---------------------------------- */

/* extras: applies a frame about message id (reaction, message_edited,
 * message_deleted) to the cached objects: the message itself and the
 * replies quoting it.  Held messages too (their frame is built again). */
static void cache_apply(chat_room_t *r, int64_t id, const char *json, size_t len, int deleting) {
  char needle[48];
  snprintf(needle, sizeof(needle), "\"reply_to\":{\"id\":%" PRId64 ",", id);
  for (size_t i = 0; i < r->rlen + r->nheld; i++) {
    int held = i >= r->rlen;
    int64_t cid = held ? r->held[i - r->rlen].id : cache_at(r, i)->id;
    char **json_p = held ? &r->held[i - r->rlen].json : &cache_at(r, i)->json;
    size_t *len_p = held ? &r->held[i - r->rlen].len : &cache_at(r, i)->len;
    if (*json_p == NULL || (cid != id && strstr(*json_p, needle) == NULL)) continue;
    if (held && cid == id && deleting) {
      /* Not delivered yet: it keeps its place in the sequence as a hole. */
      drop_held(&r->held[i - r->rlen]);
      r->held[i - r->rlen].json = NULL;
      r->held[i - r->rlen].frame = NULL;
      continue;
    }
    char *out;
    size_t out_len;
    chat_proto_obj_apply(*json_p, *len_p, json, len, &out, &out_len);
    if (out == NULL) continue;
    free(*json_p);
    *json_p = out;
    *len_p = out_len;
    if (held) {
      chat_rbuf_unref(r->held[i - r->rlen].frame);
      r->held[i - r->rlen].frame = NULL;
    }
  }
}

typedef struct {
  chat_mail_t mail;
  int64_t id;
  int local;
} msgdel_mail_t;

typedef struct {
  chat_mail_t mail;
  int64_t id;
  int local;
  size_t len;
  char json[];
} msgchange_mail_t;

static void on_msg_change(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  msgchange_mail_t *cm = (msgchange_mail_t *)m;
  if (room_defer(r, m)) return;
  if (!r->deleted) {
    cache_apply(r, cm->id, cm->json, cm->len, 0);
    chat_presence_t *pr = r->svc->presence;
    if (cm->local) {
      pr->ops->publish(pr, r->id, cm->json, cm->len);
      pr->ops->recent_doubt(pr, r->id);
    }
    chat_rbuf_t *b = chat_proto_frame(cm->json, cm->len);
    room_broadcast(r, b, 0);
    chat_rbuf_unref(b);
  }
  free(cm);
}

void chat_room_post_msg_change(chat_room_t *r, const char *json, size_t len, int local) {
  msgchange_mail_t *cm = chat_xmalloc(sizeof(*cm) + len + 1);
  memset(cm, 0, sizeof(*cm));
  cm->mail.handle = on_msg_change;
  cm->id = chat_proto_msg_obj_id(json, len);
  cm->local = local;
  cm->len = len;
  memcpy(cm->json, json, len);
  cm->json[len] = '\0';
  chat_actor_post(&r->actor, &cm->mail);
}

static void on_msg_deleted(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  msgdel_mail_t *dm = (msgdel_mail_t *)m;
  if (room_defer(r, m)) return;
  if (!r->deleted) {
    chat_sb_t sb;
    chat_sb_init(&sb);
    chat_proto_message_deleted(&sb, r->id, dm->id);
    /* extras: the message stays as a tombstone; replies lose its text */
    cache_apply(r, dm->id, sb.buf, sb.len, 1);
    chat_presence_t *pr = r->svc->presence;
    if (dm->local) {
      pr->ops->publish(pr, r->id, sb.buf, sb.len);
      pr->ops->recent_doubt(pr, r->id);
    }
    chat_rbuf_t *b = chat_proto_frame(sb.buf, sb.len);
    chat_sb_free(&sb);
    room_broadcast(r, b, 0);
    chat_rbuf_unref(b);
  }
  free(dm);
}

void chat_room_post_msg_deleted(chat_room_t *r, int64_t id, int local) {
  msgdel_mail_t *dm = chat_xcalloc(1, sizeof(*dm));
  dm->mail.handle = on_msg_deleted;
  dm->id = id;
  dm->local = local;
  chat_actor_post(&r->actor, &dm->mail);
}

typedef struct {
  chat_mail_t mail;
  char name[];
} rename_mail_t;

static void on_rename(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  rename_mail_t *rm = (rename_mail_t *)m;
  free(r->name);
  r->name = chat_xstrdup(rm->name);
  free(rm);
}

void chat_room_post_rename(chat_room_t *r, const char *name) {
  size_t n = strlen(name);
  rename_mail_t *rm = chat_xmalloc(sizeof(*rm) + n + 1);
  rm->mail.handle = on_rename;
  memcpy(rm->name, name, n + 1);
  chat_actor_post(&r->actor, &rm->mail);
}

/* ---- send ------------------------------------------------------------- */

typedef struct send_mail_s {
  chat_mail_t mail;        /* the send request */
  chat_insert_t ins;       /* then the insert, and its result */
  chat_member_t m;         /* the sender; a reference on m.actor */
  char sender[CHAT_NAME_MAX + 1];
  char *text;              /* text_len bytes and a NUL, after the struct */
  size_t text_len;
  char *cid;               /* NULL, or after the text */
  /* extras: the reply and mentions looked up first (extras.h) */
  chat_job_t prep_job;
  chat_extras_prep_t prep;
  struct send_mail_s *prep_next;
  /* files: the ids the send names, checked on a worker (fjob) before the
   * insert; the JSON of their file objects once checked */
  int64_t files[CHAT_FILES_PER_MSG];
  size_t nfiles;
  int files_checked;
  int files_rc;
  char *files_json;
  chat_job_t fjob;
  uint64_t recv_ns;        /* uv_hrtime() when the send arrived (metrics) */
  int bot;                 /* embed: the host's post (no membership needed) */
} send_mail_t;

static void free_send(send_mail_t *s) {
  chat_extras_prep_free(&s->prep);
  chat_actor_unref(s->m.actor);
  free(s->files_json);
  free(s);
}

#ifdef CHAT_FAULT_HOOKS
/* Test builds only (the CMake option CHAT_FAULT_HOOKS): when the variable
 * CHAT_FAULT_EXIT_AFTER_COMMIT holds exactly the text of a message just
 * committed, the process ends at once, before the ack, the shared list and
 * the publish: an instance dying between commit and publish. */
static void fault_exit_after_commit(const char *text) {
  static int read;
  static const char *want;
  if (!read) {
    want = getenv("CHAT_FAULT_EXIT_AFTER_COMMIT");
    read = 1;
  }
  if (want && want[0] && strcmp(want, text) == 0) {
    fprintf(stderr, "chatd: fault hook: exiting after the commit of a message\n");
    _exit(70);
  }
}
#endif

static void on_stored(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  send_mail_t *s = container_of(m, send_mail_t, ins.mail);
  if (s->ins.failed) {
    send_error(s->m, CHAT_PROTO_STORE_UNAVAILABLE,
               "the message was not stored; send it again", s->cid);
  } else if (s->ins.rec.status != 0 || r->deleted) {
    send_error(s->m, CHAT_PROTO_NO_SUCH_ROOM, "no such room", s->cid);
  } else if (s->ins.rec.dup) {
    post_frame_once(s->m, chat_proto_ack_frame(s->cid, s->ins.rec.id));
  } else {
#ifdef CHAT_FAULT_HOOKS
    fault_exit_after_commit(s->text);
#endif
    chat_proto_msg_t msg = {s->ins.rec.id, r->id, NULL, s->sender, s->text, s->text_len,
                            s->ins.rec.stored_ts, s->ins.rec.seq, 0, s->prep.extra,
                            s->files_json};
    chat_sb_t obj;
    chat_sb_init(&obj);
    chat_proto_msg_obj(&obj, &msg);
    post_frame_once(s->m, chat_proto_ack_frame(s->cid, s->ins.rec.id));
    chat_presence_t *pr = r->svc->presence;
    pr->ops->recent_push(pr, r->id, obj.buf, obj.len);
    /* One encoding of the `message` frame: its JSON is what the other
     * instances get, the frame itself what every member here gets. */
    chat_rbuf_t *frame = chat_proto_message_frame(obj.buf, obj.len);
    size_t flen;
    const char *fjson = chat_proto_frame_json(frame, &flen);
    pr->ops->publish(pr, r->id, fjson, flen);
    /* embed: the host hears of the stored message */
    chat_embed_message(r->svc, s->ins.rec.id, r->id, NULL, s->sender, s->text, s->text_len,
                       s->ins.rec.stored_ts, obj.buf, obj.len);
    deliver_message(r, s->ins.rec.seq, s->ins.rec.id, obj.buf, obj.len, frame);  /* takes both */
    notify_mentions(r, s->sender, s->prep.ids, s->prep.nids, s->text, s->text_len,
                    s->ins.rec.stored_ts);
    r->svc->metrics->messages_sent++;
    chat_histo_observe(&r->svc->metrics->delivery_latency,
                       (double)(uv_hrtime() - s->recv_ns) / 1e9);
  }
  free_send(s);
}

static void start_insert(chat_room_t *r, send_mail_t *s) {
  if (s->nfiles > 0) {  /* files */
    s->ins.rec.files = s->files;
    s->ins.rec.nfiles = s->nfiles;
  }
  s->ins.mail.handle = on_stored;
  s->ins.room = &r->actor;
  s->ins.rec.room = r->id;
  s->ins.rec.text = s->text;
  s->ins.rec.text_len = s->text_len;
  s->ins.rec.cid = s->cid;
  s->ins.rec.ts = chat_now_ms();
  chat_extras_prep_insert(&s->prep, &s->ins.rec);
  chat_storage_insert(r->svc->storage, &s->ins);
}

/* extras: the queue of sends behind a lookup (see prep_head). */
static void prep_run(chat_job_t *job, chat_store_t *store) {
  send_mail_t *s = container_of(job, send_mail_t, prep_job);
  chat_extras_prep_run(store, &s->prep);
}

static void prep_next(chat_room_t *r);

static void prep_done(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  send_mail_t *s = container_of(m, send_mail_t, prep_job.mail);
  r->prep_head = s->prep_next;
  if (r->prep_head == NULL) r->prep_tail = NULL;
  if (r->deleted) {
    send_error(s->m, CHAT_PROTO_NO_SUCH_ROOM, "no such room", s->cid);
    free_send(s);
  } else if (s->prep.rc == CHAT_ENOTFOUND) {
    send_error(s->m, CHAT_PROTO_NOT_FOUND, "reply_to is not a message of this room", s->cid);
    free_send(s);
  } else if (s->prep.rc) {
    send_error(s->m, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable", s->cid);
    free_send(s);
  } else {
    start_insert(r, s);
  }
  prep_next(r);
}

/* Starts the head's lookup; sends that need none go on at once. */
static void prep_next(chat_room_t *r) {
  while (r->prep_head) {
    send_mail_t *s = r->prep_head;
    if (chat_extras_needed(s->prep.reply_to, s->text, s->text_len) && !r->deleted) {
      s->prep.room = r->id;
      s->prep.text = chat_xstrndup(s->text, s->text_len);
      s->prep_job.mail.handle = prep_done;
      s->prep_job.run = prep_run;
      chat_storage_submit(r->svc->storage, &s->prep_job, &r->actor);
      return;
    }
    r->prep_head = s->prep_next;
    if (r->prep_head == NULL) r->prep_tail = NULL;
    if (r->deleted) {
      send_error(s->m, CHAT_PROTO_NO_SUCH_ROOM, "no such room", s->cid);
      free_send(s);
    } else {
      start_insert(r, s);
    }
  }
}

/* ---- files: a send naming files ----------------------------------------
 * The files are checked (the sender's own, attached nowhere) on a worker
 * before the insert.  Meanwhile the room waits as for a read (room_defer),
 * so messages keep the order in which they came. */

static void on_send(chat_actor_t *self, chat_mail_t *m);

static void files_check_run(chat_job_t *job, chat_store_t *store) {
  send_mail_t *s = container_of(job, send_mail_t, fjob);
  chat_file_rec_t recs[CHAT_FILES_PER_MSG];
  s->files_rc = chat_store_files_claimable(store, s->ins.rec.sender_id, s->files, s->nfiles, recs);
  if (s->files_rc == 0) s->files_json = chat_files_json(recs, s->nfiles);
}

static void files_checked(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  send_mail_t *s = container_of(m, send_mail_t, fjob.mail);
  r->reading = 0;
  s->files_checked = 1;
  if (s->files_rc == CHAT_EUNAVAIL) {
    send_error(s->m, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable", s->cid);
    free_send(s);
  } else if (s->files_rc != 0) {
    send_error(s->m, CHAT_PROTO_BAD_REQUEST,
               "files must be your own uploads, not sent with another message", s->cid);
    free_send(s);
  } else {
    on_send(self, &s->mail);
  }
  room_replay(r);
}

static void files_check(chat_room_t *r, send_mail_t *s) {
  r->reading = 1;
  s->fjob.mail.handle = files_checked;
  s->fjob.run = files_check_run;
  chat_storage_submit(r->svc->storage, &s->fjob, &r->actor);
}

static void on_send(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  send_mail_t *s = (send_mail_t *)m;
  if (room_defer(r, m)) return;
  if (r->deleted) {
    send_error(s->m, CHAT_PROTO_NO_SUCH_ROOM, "no such room", s->cid);
    free_send(s);
    return;
  }
  if (!s->bot && !is_member(r, s->m.actor)) {
    send_error(s->m, CHAT_PROTO_NOT_MEMBER, "join the room first", s->cid);
    free_send(s);
    return;
  }
  if (s->nfiles > 0 && !s->files_checked) {  /* files: checked first */
    files_check(r, s);
    return;
  }
  /* extras: in order behind any lookup; a lookup only if needed */
  if (r->prep_head || chat_extras_needed(s->prep.reply_to, s->text, s->text_len)) {
    s->prep_next = NULL;
    int idle = r->prep_head == NULL;
    if (r->prep_tail)
      r->prep_tail->prep_next = s;
    else
      r->prep_head = s;
    r->prep_tail = s;
    if (idle) prep_next(r);
    return;
  }
  start_insert(r, s);
}

void chat_room_post_send(chat_room_t *r, chat_member_t m, int64_t user_id,
                         const char *username, const char *text, size_t len,
                         const char *cid) {
  chat_room_post_send_ex(r, m, user_id, username, text, len, cid, 0, NULL, 0);
}

static send_mail_t *send_new(chat_member_t m, int64_t user_id, const char *username,
                             const char *text, size_t len, const char *cid, int64_t reply_to,
                             const int64_t *files, size_t nfiles) {
  /* One allocation: the mail, then its text and cid. */
  size_t cid_size = cid ? strlen(cid) + 1 : 0;
  send_mail_t *s = chat_xmalloc(sizeof(*s) + len + 1 + cid_size);
  memset(s, 0, sizeof(*s));
  s->text = (char *)(s + 1);
  memcpy(s->text, text, len);
  s->text[len] = '\0';
  s->text_len = len;
  if (cid) s->cid = memcpy(s->text + len + 1, cid, cid_size);
  s->recv_ns = uv_hrtime();
  s->mail.handle = on_send;
  s->m = m;
  chat_actor_ref(m.actor);
  snprintf(s->sender, sizeof(s->sender), "%s", username);
  s->ins.rec.sender_id = user_id;
  s->prep.reply_to = reply_to;
  if (nfiles > CHAT_FILES_PER_MSG) nfiles = CHAT_FILES_PER_MSG;
  if (nfiles > 0) memcpy(s->files, files, nfiles * sizeof(*files));
  s->nfiles = nfiles;
  return s;
}

void chat_room_post_send_ex(chat_room_t *r, chat_member_t m, int64_t user_id,
                            const char *username, const char *text, size_t len,
                            const char *cid, int64_t reply_to, const int64_t *files,
                            size_t nfiles) {
  send_mail_t *s = send_new(m, user_id, username, text, len, cid, reply_to, files, nfiles);
  chat_actor_post(&r->actor, &s->mail);
}

/* embed: the host's post (embed.c) as user_id, who need not be a member. */
void chat_room_post_send_bot(chat_room_t *r, chat_member_t m, int64_t user_id,
                             const char *username, const char *text, size_t len) {
  send_mail_t *s = send_new(m, user_id, username, text, len, NULL, 0, NULL, 0);
  s->bot = 1;
  chat_actor_post(&r->actor, &s->mail);
}

/* ---- delete ----------------------------------------------------------- */

static void on_delete(chat_actor_t *self, chat_mail_t *m) {
  chat_room_t *r = room_of(self);
  if (room_defer(r, m)) return;
  free(m);
  if (r->deleted) return;
  r->deleted = 1;
  chat_rbuf_t *b = chat_proto_room_deleted_frame(r->id);
  room_broadcast(r, b, 0);
  chat_rbuf_unref(b);
  for (size_t i = 0; i < r->nmembers; i++) {
    r->members[i].m.ops->post_left(r->members[i].m.actor, r->id);
    chat_actor_unref(r->members[i].m.actor);
  }
  r->nmembers = 0;
  for (size_t i = 0; i < r->nusers; i++) {
    r->svc->presence->ops->room_leave(r->svc->presence, r->id, r->users[i].user_id,
                                      r->users[i].name);
    free(r->users[i].name);
  }
  r->nusers = 0;
  cache_clear(r);
}

void chat_room_post_delete(chat_room_t *r) {
  chat_mail_t *m = chat_xcalloc(1, sizeof(*m));
  m->handle = on_delete;
  chat_actor_post(&r->actor, m);
}
