#define _GNU_SOURCE  /* memmem */
#include "cluster.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "../net/ws.h"
#include "actor.h"
#include "files.h"
#include "notifier.h"
#include "webhook.h"
#include "presence.h"
#include "registry.h"
#include "room.h"
#include "roomdir.h"
#include "storage.h"

/* The DM catch-up after a Redis outage (cluster.h, docs/PROTOCOL.md
 * section 7). */
#define RING_N 256                /* recent DM deliveries remembered */
#define GRACE_MS 5000             /* deliveries this recent may hide lost ones */
#define SET_MAX 65536             /* DM ids remembered during one outage */
#define SETTLE_MS 2000            /* Redis back: wait for the subscription */
#define FRESH_MS 1000             /* rows this fresh come through Redis */
#define LINGER_MS 10000           /* the set still dedupes Redis deliveries */
#define PAGE_N 256                /* rows per store read */

typedef enum {
  CU_NONE = 0,    /* nothing to catch up */
  CU_DOWN,        /* Redis is down: recording */
  CU_SETTLE,      /* Redis is back: waiting SETTLE_MS */
  CU_READ,        /* reading pages from the store */
  CU_LINGER,      /* done; the set dedupes until the timer */
} cu_state_t;

typedef struct {
  int64_t id, uid;
  uint64_t at;                    /* loop time */
} ring_ent_t;

/* A DM id's entry in the set: the users it went to here (0: free). */
typedef struct {
  int64_t uid[2];
  int more;                       /* a third user (never for a DM): 1 */
} seen_t;

/* Where the store reads come back: a small actor (the cluster is not one)
 * that outlives the cluster while a read is in flight; cl is NULL once the
 * cluster stopped. */
typedef struct {
  chat_actor_t actor;
  chat_cluster_t *cl;
} cu_actor_t;

struct chat_cluster_s {
  const chat_services_t *svc;
  ring_ent_t ring[RING_N];
  size_t ring_n, ring_at;
  cu_state_t cu;
  int64_t wm;                     /* catch up the DMs with id > wm */
  int wm_pending;                 /* the store's last id is being read */
  int overflow;                   /* the set passed SET_MAX */
  chat_imap_t set;                /* DM id -> seen_t* */
  int64_t first_bus_id;           /* lowest DM id heard through Redis since it
                                     came back (0: none yet) */
  int reading;                    /* a read is on the storage actor */
  uv_timer_t timer;
  int timer_init;
  cu_actor_t *actor;              /* a reference */
  void (*stopped_cb)(void *ud);
  void *stopped_ud;
  /* Rooms v2: room_online frames, coalesced per room over ONLINE_MS (a
   * burst of joins is one frame per room, not one per join); rooms whose
   * count changed since the last frames (id -> (void *)1). */
  chat_imap_t online_dirty;
  uv_timer_t online_timer;
  int online_timer_init;
  int closing;                    /* handles still closing at stop */
};

#define ONLINE_MS 200

static void cu_actor_free_cb(chat_actor_t *a) { free(container_of(a, cu_actor_t, actor)); }

chat_cluster_t *chat_cluster_new(const chat_services_t *svc) {
  chat_cluster_t *cl = chat_xcalloc(1, sizeof(*cl));
  cl->svc = svc;
  chat_imap_init(&cl->set);
  chat_imap_init(&cl->online_dirty);
  return cl;
}

static void set_clear(chat_cluster_t *cl) {
  for (size_t i = 0; i < cl->set.cap; i++)
    if (cl->set.slots[i].key) free(cl->set.slots[i].val);
  chat_imap_free(&cl->set);
  chat_imap_init(&cl->set);
}

void chat_cluster_free(chat_cluster_t *cl) {
  if (cl == NULL) return;
  set_clear(cl);
  chat_imap_free(&cl->online_dirty);
  if (cl->actor) {
    cl->actor->cl = NULL;
    chat_actor_unref(&cl->actor->actor);
  }
  free(cl);
}

/* ---- DM catch-up ------------------------------------------------------- */

/* 1 if the DM id already went to uid here during the outage. */
static int set_has(const chat_cluster_t *cl, int64_t id, int64_t uid) {
  seen_t *s = chat_imap_get(&cl->set, id);
  return s && (s->uid[0] == uid || s->uid[1] == uid);
}

static void set_add(chat_cluster_t *cl, int64_t id, int64_t uid) {
  if (cl->overflow) return;
  seen_t *s = chat_imap_get(&cl->set, id);
  if (s == NULL) {
    if (cl->set.len >= SET_MAX) {
      cl->overflow = 1;
      chat_log_warn("cluster: more than %d DMs during the Redis outage; clients will reload",
                    SET_MAX);
      set_clear(cl);
      return;
    }
    s = chat_xcalloc(1, sizeof(*s));
    chat_imap_put(&cl->set, id, s);
  }
  if (s->uid[0] == uid || s->uid[1] == uid) return;
  if (s->uid[0] == 0)
    s->uid[0] = uid;
  else if (s->uid[1] == 0)
    s->uid[1] = uid;
}

static void cu_clear(chat_cluster_t *cl) {
  cl->cu = CU_NONE;
  cl->overflow = 0;
  cl->wm_pending = 0;
  cl->first_bus_id = 0;
  set_clear(cl);
}

/* A DM (id) for uid, from this instance (bus 0) or through Redis: 1 if it
 * goes to uid's sockets here, 0 if it already did (catch-up). */
static int dm_note(chat_cluster_t *cl, int64_t id, int64_t uid, int bus) {
  chat_cluster_t *c = cl;
  uint64_t now = uv_now(c->svc->loop);
  ring_ent_t *r = &c->ring[c->ring_at];
  r->id = id;
  r->uid = uid;
  r->at = now;
  c->ring_at = (c->ring_at + 1) % RING_N;
  if (c->ring_n < RING_N) c->ring_n++;
  if (c->cu == CU_NONE) return 1;
  if (bus && c->cu != CU_DOWN && (c->first_bus_id == 0 || id < c->first_bus_id))
    c->first_bus_id = id;
  if (set_has(c, id, uid)) return 0;
  set_add(c, id, uid);
  return 1;
}

typedef struct {
  chat_job_t job;
  int kind;                       /* 0: last id, 1: a page */
  int64_t after;
  chat_msg_rec_t *rows;
  size_t n;
  int64_t *ids;                   /* 2 per row: sender, receiver (0: gone) */
  int64_t last_id;
  int rc;
} cu_job_t;

static int64_t name_id(chat_store_t *store, const char *name, char (*names)[CHAT_NAME_MAX + 1],
                       int64_t *ids, size_t *nn) {
  for (size_t i = 0; i < *nn; i++)
    if (strcmp(names[i], name) == 0) return ids[i];
  chat_user_rec_t u;
  int64_t id = chat_store_user_by_name(store, name, &u) == 0 ? u.id : 0;
  if (*nn < 32) {
    snprintf(names[*nn], CHAT_NAME_MAX + 1, "%s", name);
    ids[(*nn)++] = id;
  }
  return id;
}

static void cu_run(chat_job_t *job, chat_store_t *store) {
  cu_job_t *j = container_of(job, cu_job_t, job);
  if (j->kind == 0) {
    j->rc = chat_store_dm_last_id(store, &j->last_id);
    return;
  }
  j->rc = chat_store_dm_since(store, j->after, PAGE_N, &j->rows, &j->n);
  if (j->rc != 0 || j->n == 0) return;
  char names[32][CHAT_NAME_MAX + 1];
  int64_t ids[32];
  size_t nn = 0;
  j->ids = chat_xcalloc(2 * j->n, sizeof(int64_t));
  for (size_t i = 0; i < j->n; i++) {
    j->ids[2 * i] = name_id(store, j->rows[i].sender, names, ids, &nn);
    j->ids[2 * i + 1] = name_id(store, j->rows[i].to, names, ids, &nn);
  }
}

static void cu_submit(chat_cluster_t *cl, int kind, int64_t after);
static void cu_arm(chat_cluster_t *cl, uint64_t ms);

/* A catch-up row for uid: to uid's sockets here unless it went there. */
static void cu_deliver(chat_cluster_t *cl, const chat_msg_rec_t *m, int64_t uid,
                       const char *json, size_t len) {
  if (uid == 0 || chat_registry_user_ws_count(cl->svc->registry, uid) == 0) return;
  if (set_has(cl, m->id, uid)) return;
  set_add(cl, m->id, uid);
  cl->svc->metrics->deliveries += chat_registry_deliver(cl->svc->registry, uid, json, len);
}

static void cu_page(chat_cluster_t *cl, cu_job_t *j) {
  uint64_t fresh = (uint64_t)chat_now_ms() - FRESH_MS;
  int last = j->n < PAGE_N;
  for (size_t i = 0; i < j->n; i++) {
    const chat_msg_rec_t *m = &j->rows[i];
    /* Past what Redis delivered since it came back, or too fresh to have
     * been missed: Redis delivers it. */
    if ((cl->first_bus_id && m->id >= cl->first_bus_id) || (uint64_t)m->ts > fresh) {
      last = 1;
      break;
    }
    char *files = chat_files_json(m->files, m->nfiles);  /* files */
    chat_proto_msg_t msg = {
        .id = m->id,
        .to = m->to,
        .sender = m->sender,
        .text = m->text,
        .text_len = strlen(m->text),
        .ts = m->ts,
        .deleted = m->deleted, /* extras */
        .extra = m->extra,
        .files_json = files,
    };
    chat_sb_t sb;
    chat_sb_init(&sb);
    chat_proto_dm(&sb, &msg);
    free(files);
    cu_deliver(cl, m, j->ids[2 * i], sb.buf, sb.len);
    if (j->ids[2 * i + 1] != j->ids[2 * i]) cu_deliver(cl, m, j->ids[2 * i + 1], sb.buf, sb.len);
    chat_sb_free(&sb);
    cl->wm = m->id;
  }
  if (!last)
    cu_submit(cl, 1, cl->wm);
  else {
    cl->cu = CU_LINGER;
    cu_arm(cl, LINGER_MS);
  }
}

static void cu_done(chat_actor_t *self, chat_mail_t *m) {
  cu_actor_t *a = container_of(self, cu_actor_t, actor);
  cu_job_t *j = container_of(m, cu_job_t, job.mail);
  chat_cluster_t *cl = a->cl;
  if (cl != NULL && cl->svc->running) {
    cl->reading = 0;
    if (j->kind == 0) {
      if (cl->wm_pending) {
        cl->wm_pending = 0;
        cl->wm = j->rc == 0 ? j->last_id : 0;
        if (j->rc != 0) {
          /* Without a watermark nothing can be caught up exactly: the
           * sockets here reload once Redis is back. */
          chat_log_warn("cluster: no DM watermark (the store failed); clients will reload");
          cl->overflow = 1;
          set_clear(cl);
        }
      }
      if (cl->cu == CU_READ) cu_submit(cl, 1, cl->wm);
    } else if (cl->cu == CU_READ) {
      if (j->rc != 0) {
        cu_arm(cl, SETTLE_MS);  /* the store failed: again later */
        cl->cu = CU_SETTLE;
      } else {
        cu_page(cl, j);
      }
    }
  }
  chat_store_msgs_free(j->rows, j->n);
  free(j->ids);
  free(j);
}

static void cu_submit(chat_cluster_t *cl, int kind, int64_t after) {
  if (cl->actor == NULL) {
    cl->actor = chat_xcalloc(1, sizeof(*cl->actor));
    chat_actor_init(&cl->actor->actor, cl->svc->sched, cu_actor_free_cb);
    cl->actor->cl = cl;
  }
  cu_job_t *j = chat_xcalloc(1, sizeof(*j));
  j->job.mail.handle = cu_done;
  j->job.run = cu_run;
  j->kind = kind;
  j->after = after;
  cl->reading = 1;
  chat_storage_submit(cl->svc->storage, &j->job, &cl->actor->actor);
}

static void cu_timer_cb(uv_timer_t *t) {
  chat_cluster_t *cl = t->data;
  if (!cl->svc->running) return;
  if (cl->cu == CU_LINGER) {
    cu_clear(cl);
  } else if (cl->cu == CU_SETTLE && !cl->reading) {
    cl->cu = CU_READ;
    if (cl->overflow) {
      /* Not known which DMs the sockets here got: they reconnect and
       * reload (1012, "service restart"). */
      chat_registry_close_all(cl->svc->registry, 1012);
      cu_clear(cl);
    } else if (!cl->wm_pending) {
      cu_submit(cl, 1, cl->wm);
    }
  } else if (cl->cu == CU_SETTLE) {
    cu_arm(cl, SETTLE_MS);
  }
}

static void cu_arm(chat_cluster_t *cl, uint64_t ms) {
  if (!cl->timer_init) {
    uv_timer_init(cl->svc->loop, &cl->timer);
    cl->timer.data = cl;
    cl->timer_init = 1;
  }
  uv_timer_start(&cl->timer, cu_timer_cb, ms, 0);
}

/* Redis went down: the watermark is the highest DM id delivered here at
 * least GRACE_MS ago, below every more recent one (their publishes may
 * have been lost with ones before them); none remembered: the store's. */
static void cu_down(chat_cluster_t *cl) {
  if (cl->cu == CU_DOWN) return;
  if (cl->timer_init) uv_timer_stop(&cl->timer);
  if (cl->cu != CU_NONE) {
    /* Down again before the catch-up ended: keep the watermark and the
     * set, read again once it is back. */
    cl->cu = CU_DOWN;
    cl->first_bus_id = 0;
    return;
  }
  cl->cu = CU_DOWN;
  uint64_t now = uv_now(cl->svc->loop);
  int64_t old = 0, recent = INT64_MAX;
  for (size_t i = 0; i < cl->ring_n; i++) {
    const ring_ent_t *r = &cl->ring[i];
    if (r->at + GRACE_MS <= now) {
      if (r->id > old) old = r->id;
    } else if (r->id < recent) {
      recent = r->id;
    }
  }
  if (cl->ring_n == 0) {
    cl->wm_pending = 1;
    cu_submit(cl, 0, 0);
  } else {
    cl->wm = recent != INT64_MAX && recent - 1 < old ? recent - 1 : old;
    if (old == 0 && recent != INT64_MAX) cl->wm = recent - 1;
    /* The deliveries after it are in the set. */
    for (size_t i = 0; i < cl->ring_n; i++)
      if (cl->ring[i].id > cl->wm) set_add(cl, cl->ring[i].id, cl->ring[i].uid);
  }
  chat_log_info("cluster: Redis down; DMs after id %" PRId64 " are caught up when it is back",
                cl->wm);
}

void chat_cluster_backend_cb(void *ud, int up) {
  chat_cluster_t *cl = ud;
  if (!cl->svc->running) return;
  if (!up) {
    cu_down(cl);
  } else if (cl->cu == CU_DOWN) {
    cl->cu = CU_SETTLE;
    cl->first_bus_id = 0;
    cu_arm(cl, SETTLE_MS);
  }
}

static void timer_closed_cb(uv_handle_t *h) {
  chat_cluster_t *cl = h->data;
  if (--cl->closing > 0) return;
  if (cl->stopped_cb) cl->stopped_cb(cl->stopped_ud);
}

void chat_cluster_stop(chat_cluster_t *cl, void (*done)(void *ud), void *ud) {
  cl->stopped_cb = done;
  cl->stopped_ud = ud;
  if (cl->actor) {
    cl->actor->cl = NULL;
    chat_actor_unref(&cl->actor->actor);
    cl->actor = NULL;
  }
  if (!cl->timer_init) {
    uv_timer_init(cl->svc->loop, &cl->timer);
    cl->timer.data = cl;
    cl->timer_init = 1;
  }
  cl->closing = 1 + cl->online_timer_init;
  if (cl->online_timer_init) uv_close((uv_handle_t *)&cl->online_timer, timer_closed_cb);
  uv_close((uv_handle_t *)&cl->timer, timer_closed_cb);
}

/* Publishes the event in sb server-wide and frees the builder. */
static void publish(chat_cluster_t *cl, chat_sb_t *sb) {
  chat_presence_t *p = cl->svc->presence;
  p->ops->publish(p, 0, sb->buf, sb->len);
  chat_sb_free(sb);
}

/* ---- outgoing ------------------------------------------------------------ */

/* files: the start of every user_updated frame (net/proto_files.c). */
#define USER_UPDATED "{\"type\":\"user_updated\","

void chat_cluster_user_updated(chat_cluster_t *cl, chat_rbuf_t *frame) {
  chat_registry_broadcast(cl->svc->registry, frame, 0);
  size_t len;
  const char *json = chat_proto_frame_json(frame, &len);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_append(&sb, json, len);
  publish(cl, &sb);
}

void chat_cluster_deliver_to_user(chat_cluster_t *cl, int64_t user_id, const char *json,
                                  size_t len) {
  chat_registry_deliver(cl->svc->registry, user_id, json, len);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_deliver(&sb, user_id, json, len);
  publish(cl, &sb);
}

void chat_cluster_deliver_dm(chat_cluster_t *cl, int64_t dm_id, int64_t user_id,
                             const char *json, size_t len) {
  if (dm_note(cl, dm_id, user_id, 0))
    cl->svc->metrics->deliveries += chat_registry_deliver(cl->svc->registry, user_id, json, len);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_deliver(&sb, user_id, json, len);
  publish(cl, &sb);
}

/* The id of a dm frame (exactly as chat_proto_dm writes it), or 0. */
static int64_t dm_frame_id(const char *json, size_t len) {
  static const char pre[] = "{\"type\":\"dm\",\"id\":";
  if (len < sizeof(pre) || memcmp(json, pre, sizeof(pre) - 1) != 0) return 0;
  return strtoll(json + sizeof(pre) - 1, NULL, 10);
}

void chat_cluster_revoke(chat_cluster_t *cl, int64_t user_id, const uint8_t *keep,
                         const uint8_t *only_session, const char *reason) {
  chat_registry_revoke(cl->svc->registry, user_id, keep, only_session, reason);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_revoke(&sb, user_id, keep, only_session, reason);
  publish(cl, &sb);
}

void chat_cluster_ban(chat_cluster_t *cl, int64_t user_id) {
  chat_registry_revoke(cl->svc->registry, user_id, NULL, NULL, "banned");
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_ban(&sb, user_id);
  publish(cl, &sb);
}

void chat_cluster_room_created(chat_cluster_t *cl, int64_t room_id, const char *name) {
  chat_roomdir_add(cl->svc->rooms, room_id, name);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_room_created(&sb, room_id);
  publish(cl, &sb);
}

void chat_cluster_room_deleted(chat_cluster_t *cl, int64_t room_id) {
  chat_presence_t *p = cl->svc->presence;
  chat_roomdir_delete(cl->svc->rooms, room_id);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_room_deleted(&sb, room_id);
  publish(cl, &sb);
  p->ops->room_forget(p, room_id);
}

/* Rooms v2 ------------------------------------------------------------------ */

void chat_cluster_broadcast(chat_cluster_t *cl, const char *json, size_t len) {
  chat_rbuf_t *b = chat_proto_frame(json, len);
  chat_registry_broadcast(cl->svc->registry, b, 0);
  chat_rbuf_unref(b);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_broadcast(&sb, json, len);
  publish(cl, &sb);
}

void chat_cluster_room_kick(chat_cluster_t *cl, int64_t room_id, int64_t user_id) {
  chat_room_t *r = chat_roomdir_get(cl->svc->rooms, room_id);
  if (r) chat_room_post_kick(r, user_id);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_room_kick(&sb, room_id, user_id);
  publish(cl, &sb);
}

/* Every socket here hears the current count of each room marked dirty
 * (each instance tells its own, from its mirror of presence). */
static void online_flush_cb(uv_timer_t *t) {
  chat_cluster_t *cl = t->data;
  chat_presence_t *p = cl->svc->presence;
  for (size_t i = 0; i < cl->online_dirty.cap; i++) {
    int64_t room_id = cl->online_dirty.slots[i].key;
    if (room_id == 0 || !cl->svc->running) continue;
    char json[96];
    int n = snprintf(json, sizeof(json), "{\"type\":\"room_online\",\"room\":%" PRId64
                     ",\"online\":%zu}", room_id, p->ops->room_count(p, room_id));
    chat_rbuf_t *b = chat_proto_frame(json, (size_t)n);
    chat_registry_broadcast(cl->svc->registry, b, 0);
    chat_rbuf_unref(b);
  }
  chat_imap_free(&cl->online_dirty);
  chat_imap_init(&cl->online_dirty);
}

/* A room presence frame changed how many are in the room: its count goes
 * out within ONLINE_MS. */
static void room_online(chat_cluster_t *cl, int64_t room_id) {
  if (cl->closing) return;
  chat_imap_put(&cl->online_dirty, room_id, (void *)1);
  if (!cl->online_timer_init) {
    uv_timer_init(cl->svc->loop, &cl->online_timer);
    cl->online_timer.data = cl;
    cl->online_timer_init = 1;
  }
  if (!uv_is_active((uv_handle_t *)&cl->online_timer))
    uv_timer_start(&cl->online_timer, online_flush_cb, ONLINE_MS, 0);
}

/* ---- incoming ------------------------------------------------------------ */

void chat_cluster_online_cb(void *ud, int64_t user_id, const char *username, int online) {
  chat_cluster_t *cl = ud;
  if (!cl->svc->running) return;
  chat_rbuf_t *b = chat_proto_online_frame(username, online);
  /* Everyone else connected hears of it; the user's own tabs know. */
  chat_registry_broadcast(cl->svc->registry, b, user_id);
  chat_rbuf_unref(b);
  /* Back online, the user sees what they missed (unread counts, the DMs):
   * no mail about it.  Done by the instance they connected to (the others
   * hear of it too), which also clears the shared queue (notifier.h). */
  if (online && cl->svc->notifier && chat_registry_user_ws_count(cl->svc->registry, user_id) > 0)
    chat_notifier_forget(cl->svc->notifier, user_id);
  if (online && cl->svc->webhook && chat_registry_user_ws_count(cl->svc->registry, user_id) > 0)
    chat_webhook_forget(cl->svc->webhook, user_id);
}

/* A frame on a room's channel: a message stored elsewhere, a deletion, a
 * presence or typing frame (json, as the members get it). */
static void room_event(chat_room_t *r, const char *json, size_t len) {
  chat_proto_ev_t ev;
  chat_proto_ev_decode(json, len, &ev);
  switch (ev.type) {
    case CHAT_PROTO_EV_MESSAGE:
      chat_room_post_message(r, ev.id, ev.seq, ev.obj, ev.obj_len);  /* takes obj */
      ev.obj = NULL;
      break;
    case CHAT_PROTO_EV_MESSAGE_DELETED:
      chat_room_post_msg_deleted(r, ev.id, 0);
      break;
    case CHAT_PROTO_EV_MESSAGE_CHANGE:  /* extras: a reaction or an edit */
      chat_room_post_msg_change(r, json, len, 0);
      break;
    case CHAT_PROTO_EV_PRESENCE:
      chat_room_post_user_event(r, ev.user, 1, ev.join, json, len);
      break;
    case CHAT_PROTO_EV_TYPING:
      chat_room_post_user_event(r, ev.user, 0, 0, json, len);
      break;
    default:
      break;
  }
  chat_proto_ev_free(&ev);
}

void chat_cluster_event_cb(void *ud, int64_t room_id, const char *json, size_t len) {
  chat_cluster_t *cl = ud;
  const chat_services_t *svc = cl->svc;
  if (!svc->running) return;
  if (room_id == 0 && len > sizeof(USER_UPDATED) - 1 &&  /* files: a profile changed */
      memcmp(json, USER_UPDATED, sizeof(USER_UPDATED) - 1) == 0) {
    chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, json, len);
    chat_registry_broadcast(svc->registry, b, 0);
    chat_rbuf_unref(b);
    return;
  }
  if (room_id) {
    chat_room_t *r = chat_roomdir_get(svc->rooms, room_id);
    if (r) room_event(r, json, len);
    if (memmem(json, len, "\"presence\"", 10)) {
      /* (key order varies: Redis' scripts encode presence frames too) */
      chat_proto_ev_t ev;
      chat_proto_ev_decode(json, len, &ev);
      if (ev.type == CHAT_PROTO_EV_PRESENCE) room_online(cl, room_id);
      chat_proto_ev_free(&ev);
    }
    return;
  }
  chat_proto_ev_t ev;
  chat_proto_ev_decode(json, len, &ev);
  switch (ev.type) {
    case CHAT_PROTO_EV_DELIVER: {
      int64_t dm = dm_frame_id(ev.frame, ev.frame_len);
      if (dm <= 0 || dm_note(cl, dm, ev.user_id, 1)) {
        size_t n = chat_registry_deliver(svc->registry, ev.user_id, ev.frame, ev.frame_len);
        if (dm > 0) svc->metrics->deliveries += n;
      }
      break;
    }
    case CHAT_PROTO_EV_REVOKE:
      chat_registry_revoke(svc->registry, ev.user_id, ev.has_keep ? ev.keep : NULL,
                           ev.has_only ? ev.only : NULL, ev.reason);
      break;
    case CHAT_PROTO_EV_BAN:
      chat_registry_revoke(svc->registry, ev.user_id, NULL, NULL, "banned");
      break;
    case CHAT_PROTO_EV_ROOM_CREATED:
      chat_roomdir_add(svc->rooms, ev.room, "");
      break;
    case CHAT_PROTO_EV_ROOM_DELETED:
      chat_roomdir_delete(svc->rooms, ev.room);
      break;
    case CHAT_PROTO_EV_BROADCAST: {
      chat_rbuf_t *b = chat_proto_frame(ev.frame, ev.frame_len);
      chat_registry_broadcast(svc->registry, b, 0);
      chat_rbuf_unref(b);
      break;
    }
    case CHAT_PROTO_EV_ROOM_KICK: {
      chat_room_t *r = chat_roomdir_get(svc->rooms, ev.room);
      if (r) chat_room_post_kick(r, ev.user_id);
      break;
    }
    default:
      break;
  }
  chat_proto_ev_free(&ev);
}
