/* Replies, mentions, reactions, edits and recall (extras.h). */
#include "extras.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/mention.h"
#include "../core/sb.h"
#include "../core/utf8.h"
#include "cluster.h"
#include "conn_int.h"
#include "files.h"
#include "room.h"
#include "roomdir.h"
#include "storage.h"

/* Shorter forms of one glued name tried, at most. */
#define PREFIX_TRIES 8

/* ---- new messages -------------------------------------------------------- */

int chat_extras_needed(int64_t reply_to, const char *text, size_t len) {
  return reply_to != 0 || memchr(text, '@', len) != NULL;
}

/* The user a mention names: name as written, else (letters glued after
 * it) its shorter forms, longest first, down to two characters. */
static int mention_user(chat_store_t *store, const chat_mention_t *m, chat_user_rec_t *u) {
  char name[CHAT_NAME_MAX + 1];
  size_t chars = chat_utf8_count(m->name, m->len);
  for (size_t n = chars, tries = 0; n >= 1 && tries <= PREFIX_TRIES; n--, tries++) {
    if (n < chars && n < 2) break;
    size_t len = chat_mention_prefix(m->name, m->len, n);
    memcpy(name, m->name, len);
    name[len] = '\0';
    int rc = chat_store_user_by_name(store, name, u);
    if (rc == 0) return u->banned ? CHAT_ENOTFOUND : 0;
    if (rc != CHAT_ENOTFOUND) return rc;
    /* Only letters of other scripts are cut: "@bobby" never means bob. */
    if ((unsigned char)m->name[len - 1] < 0x80) break;
  }
  return CHAT_ENOTFOUND;
}

void chat_extras_prep_run(chat_store_t *store, chat_extras_prep_t *p) {
  chat_msg_ref_t ref;
  int have_ref = 0;
  p->rc = 0;
  if (p->reply_to) {
    int rc = chat_store_msg_ref(store, p->room == 0, p->reply_to, &ref);
    if (rc) {
      p->rc = rc;
      return;
    }
    have_ref = 1;
    int here = p->room ? ref.room == p->room
                       : ((ref.sender_id == p->a && ref.to_id == p->b) ||
                          (ref.sender_id == p->b && ref.to_id == p->a));
    if (!here || ref.deleted) {
      free(ref.text);
      p->rc = CHAT_ENOTFOUND;
      return;
    }
  }
  chat_mention_t ms[CHAT_MSG_MENTIONS_MAX];
  size_t nm = chat_mention_scan(p->text, strlen(p->text), ms, CHAT_MSG_MENTIONS_MAX);
  chat_sb_t names;
  chat_sb_init(&names);
  for (size_t i = 0; i < nm; i++) {
    chat_user_rec_t u;
    int rc = mention_user(store, &ms[i], &u);
    if (rc == CHAT_EUNAVAIL) {
      p->rc = rc;
      break;
    }
    if (rc) continue;
    int dup = 0;
    for (size_t k = 0; k < p->nids && !dup; k++) dup = p->ids[k] == u.id;
    if (dup) continue;
    p->ids = chat_xrealloc(p->ids, (p->nids + 1) * sizeof(*p->ids));
    p->ids[p->nids++] = u.id;
    chat_sb_append(&names, names.len ? "," : "[", 1);
    chat_sb_json_str(&names, u.username, strlen(u.username));
  }
  if (p->rc == 0 && p->nids) {
    chat_sb_append(&names, "]", 1);
    p->mentions = names.buf;
  } else {
    chat_sb_free(&names);
  }
  if (p->rc == 0) {
    chat_sb_t extra;
    chat_sb_init(&extra);
    chat_proto_extra_new(&extra, have_ref ? p->reply_to : 0, have_ref ? ref.sender : NULL,
                         have_ref ? ref.text : NULL, 0, p->mentions);
    if (extra.len)
      p->extra = extra.buf;
    else
      chat_sb_free(&extra);
  }
  if (have_ref) free(ref.text);
}

void chat_extras_prep_insert(const chat_extras_prep_t *p, chat_msg_insert_t *ins) {
  ins->reply_to = p->reply_to;
  ins->mentions = p->mentions;
  ins->mention_ids = p->ids;
  ins->nmention_ids = p->nids;
}

void chat_extras_prep_free(chat_extras_prep_t *p) {
  if (p == NULL) return;
  free(p->text);
  free(p->mentions);
  free(p->ids);
  free(p->extra);
  p->text = p->mentions = p->extra = NULL;
  p->ids = NULL;
  p->nids = 0;
}

/* ---- react, edit, delete ------------------------------------------------- */

typedef struct chat_extras_job_s {
  chat_job_t job;
  struct chat_extras_job_s *next;  /* the socket's queue */
  chat_conn_t *conn;           /* a reference while queued or running */
  chat_proto_req_type_t type;
  int64_t room;                /* or 0 */
  chat_room_t *room_actor;     /* a reference while the job runs, or NULL */
  char to[CHAT_NAME_MAX + 1];  /* the peer as the frame named it */
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  int64_t id;
  char emoji[CHAT_EMOJI_MAX + 1];
  int on;
  char *text;                  /* edit: trimmed and checked */
  /* out */
  int rc;                      /* 0 or a chat_proto_code_t */
  const char *message;
  chat_user_rec_t peer;        /* a direct message's other user */
  int64_t now;
} xjob_t;

static void xjob_fail(xjob_t *x, chat_proto_code_t code, const char *message) {
  x->rc = code;
  x->message = message;
}

/* The error of a store result rc (not 0). */
static void xjob_fail_rc(xjob_t *x, int rc) {
  if (rc == CHAT_ENOTFOUND)
    xjob_fail(x, CHAT_PROTO_NOT_FOUND, "no such message");
  else if (rc == CHAT_EAGAIN)
    xjob_fail(x, CHAT_PROTO_TOO_MANY_REACTIONS, "a message has at most 20 different emoji");
  else
    xjob_fail(x, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
}

/* Worker: the message is where the frame says (and the caller's, for edit
 * and delete), then the write. */
static void xjob_run(chat_job_t *job, chat_store_t *store) {
  xjob_t *x = (xjob_t *)job;
  int dm = x->room == 0, rc = 0;
  chat_msg_ref_t ref;
  if (dm) rc = chat_store_user_by_name(store, x->to, &x->peer);
  if (rc == 0) rc = chat_store_msg_ref(store, dm, x->id, &ref);
  if (rc) {
    xjob_fail_rc(x, rc);
    return;
  }
  int here = dm ? ((ref.sender_id == x->user_id && ref.to_id == x->peer.id) ||
                   (ref.sender_id == x->peer.id && ref.to_id == x->user_id))
                : ref.room == x->room;
  int deleted = ref.deleted, own = ref.sender_id == x->user_id;
  free(ref.text);
  if (!here || deleted) {
    xjob_fail_rc(x, CHAT_ENOTFOUND);
    return;
  }
  if (x->type != CHAT_PROTO_REACT && !own) {
    xjob_fail(x, CHAT_PROTO_FORBIDDEN, "only the sender may do that");
    return;
  }
  x->now = chat_now_ms();
  if (x->type == CHAT_PROTO_REACT)
    rc = chat_store_msg_react(store, dm, x->id, x->user_id, x->emoji, x->on, x->now);
  else if (x->type == CHAT_PROTO_EDIT)
    rc = chat_store_msg_edit(store, dm, x->id, x->user_id, x->text, x->now);
  else if (dm)
    rc = chat_store_dm_delete(store, x->id);
  else
    rc = chat_store_msg_delete(store, x->room, x->id);
  if (rc == 0 && x->type == CHAT_PROTO_DELETE)  /* files: they go with their message */
    chat_files_drop_msg(store, x->conn->svc->limits->files_dir, dm ? CHAT_FILE_DM : CHAT_FILE_ROOM, x->id);
  if (rc) xjob_fail_rc(x, rc);
}

/* The frame about the message, "to" naming other (a conversation) or the
 * room. */
static void xjob_frame(const xjob_t *x, const char *other, chat_sb_t *sb) {
  if (x->type == CHAT_PROTO_REACT)
    chat_proto_reaction(sb, x->room, other, x->id, x->emoji, x->username, x->on);
  else if (x->type == CHAT_PROTO_EDIT)
    chat_proto_message_edited(sb, x->room, other, x->id, x->text, strlen(x->text), x->now);
  else if (other)
    chat_proto_dm_deleted(sb, other, x->id);
  else
    chat_proto_message_deleted(sb, x->room, x->id);
}

static void xjob_start(chat_conn_t *c) {
  xjob_t *x = c->xq_head;
  if (x) chat_storage_submit(c->svc->storage, &x->job, &c->actor);
}

static void xjob_done(chat_actor_t *self, chat_mail_t *m) {
  (void)self;
  xjob_t *x = container_of(m, xjob_t, job.mail);
  const chat_services_t *svc = x->conn->svc;
  chat_conn_t *c = x->conn;
  c->xq_head = x->next;
  if (c->xq_head == NULL) c->xq_tail = NULL;
  xjob_start(c);
  if (x->rc) {
    chat_rbuf_t *b = chat_proto_error_frame((chat_proto_code_t)x->rc, x->message, NULL);
    chat_conn_post_frame(x->conn, b);
    chat_rbuf_unref(b);
  } else if (x->room) {
    if (x->type == CHAT_PROTO_DELETE) {
      chat_room_post_msg_deleted(x->room_actor, x->id, 1);
    } else {
      chat_sb_t sb;
      chat_sb_init(&sb);
      xjob_frame(x, NULL, &sb);
      chat_room_post_msg_change(x->room_actor, sb.buf, sb.len, 1);
      chat_sb_free(&sb);
    }
  } else {
    chat_sb_t mine, theirs;
    chat_sb_init(&mine);
    chat_sb_init(&theirs);
    xjob_frame(x, x->peer.username, &mine);
    xjob_frame(x, x->username, &theirs);
    chat_cluster_deliver_to_user(svc->cluster, x->user_id, mine.buf, mine.len);
    if (x->peer.id != x->user_id)
      chat_cluster_deliver_to_user(svc->cluster, x->peer.id, theirs.buf, theirs.len);
    chat_sb_free(&mine);
    chat_sb_free(&theirs);
  }
  if (x->room_actor) chat_actor_unref(chat_room_actor(x->room_actor));
  free(x->text);
  free(x);
  chat_actor_unref(&c->actor);
}

static void refuse(chat_conn_t *c, chat_proto_code_t code, const char *message) {
  chat_conn_queue(c, chat_proto_error_frame(code, message, NULL));
}

void chat_extras_handle(chat_conn_t *c, const chat_proto_req_t *req) {
  xjob_t *x;
  chat_room_t *room = NULL;
  if (req->room) {
    for (size_t i = 0; i < c->nrooms && !room; i++)
      if (c->rooms[i].room_id == req->room) room = c->rooms[i].room;
    if (room == NULL) {
      refuse(c, CHAT_PROTO_NOT_MEMBER, "join the room first");
      return;
    }
  } else if (strlen(req->to) > CHAT_NAME_MAX) {
    refuse(c, CHAT_PROTO_NOT_FOUND, "no such message");
    return;
  }
  if (req->type == CHAT_PROTO_REACT && !chat_emoji_check(req->emoji, strlen(req->emoji))) {
    refuse(c, CHAT_PROTO_BAD_REQUEST, "emoji must be one emoji of at most 32 bytes");
    return;
  }
  size_t start = 0, len = 0;
  if (req->type == CHAT_PROTO_EDIT) {
    chat_proto_error_t err;
    if (chat_proto_text_check(req->text, NULL, &start, &len, &err)) {
      chat_conn_queue(c, chat_proto_error_frame_of(&err));
      return;
    }
  }
  x = chat_xcalloc(1, sizeof(*x));
  x->conn = c;
  x->type = req->type;
  x->room = req->room;
  if (room) {
    x->room_actor = room;
    chat_actor_ref(chat_room_actor(room));
  } else {
    snprintf(x->to, sizeof(x->to), "%s", req->to);
  }
  x->user_id = c->user_id;
  snprintf(x->username, sizeof(x->username), "%s", c->username);
  x->id = req->id;
  if (req->emoji) snprintf(x->emoji, sizeof(x->emoji), "%s", req->emoji);
  x->on = req->on;
  if (req->type == CHAT_PROTO_EDIT) x->text = chat_xstrndup(req->text + start, len);
  x->job.mail.handle = xjob_done;
  x->job.run = xjob_run;
  chat_actor_ref(&c->actor);
  int idle = c->xq_head == NULL;
  if (c->xq_tail)
    c->xq_tail->next = x;
  else
    c->xq_head = x;
  c->xq_tail = x;
  if (idle) xjob_start(c);
}
