#include "dm.h"
#include "embed.h"
#include "extras.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "cluster.h"
#include "conn.h"
#include "files.h"
#include "notifier.h"
#include "webhook.h"
#include "presence.h"
#include "storage.h"

typedef struct dm_req_s {
  chat_mail_t mail;           /* the request, from the connection */
  struct dm_req_s *next;      /* waiting for the check */
  chat_conn_t *from;          /* a reference */
  chat_job_t job;             /* the check */
  char to[CHAT_NAME_MAX + 1];
  char *text;
  char *cid;
  chat_user_rec_t rcpt;
  int rc;                     /* of the check */
  chat_friend_state_t state;
  chat_insert_t ins;          /* then the insert */
  chat_extras_prep_t prep;    /* extras: reply_to and mentions (extras.h) */
  /* files: ids to check with the receiver, then the JSON of their objects */
  int64_t files[CHAT_FILES_PER_MSG];
  size_t nfiles;
  int files_rc;
  char *files_json;
} dm_req_t;

struct chat_dm_s {
  chat_actor_t actor;
  const chat_services_t *svc;
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  dm_req_t *head, *tail;      /* waiting for a check */
  int busy;                   /* a check is running */
};

static chat_dm_t *dm_of(chat_actor_t *a) { return container_of(a, chat_dm_t, actor); }

static void req_free(dm_req_t *q) {
  chat_actor_unref(chat_conn_actor(q->from));
  free(q->text);
  free(q->cid);
  chat_extras_prep_free(&q->prep);
  free(q->files_json);
  free(q);
}

static void dm_free_cb(chat_actor_t *a) {
  chat_dm_t *d = dm_of(a);
  /* Every queued DM's mail or job holds the actor: none is left. */
  free(d);
}

chat_dm_t *chat_dm_new(const chat_services_t *svc, int64_t user_id, const char *username) {
  chat_dm_t *d = chat_xcalloc(1, sizeof(*d));
  chat_actor_init(&d->actor, svc->sched, dm_free_cb);
  d->svc = svc;
  d->user_id = user_id;
  snprintf(d->username, sizeof(d->username), "%s", username);
  return d;
}

chat_actor_t *chat_dm_actor(chat_dm_t *d) { return &d->actor; }

static void check_run(chat_job_t *job, chat_store_t *store) {
  dm_req_t *q = container_of(job, dm_req_t, job);
  q->rc = chat_store_user_by_name(store, q->to, &q->rcpt);
  if (q->rc == 0)
    q->rc = chat_store_friend_state(store, q->ins.rec.sender_id, q->rcpt.id, &q->state);
  /* extras: the reply and the mentions, when the text has any */
  if (q->rc == 0 && q->state == CHAT_FRIEND_ACCEPTED &&
      chat_extras_needed(q->prep.reply_to, q->text, strlen(q->text))) {
    q->prep.a = q->ins.rec.sender_id;
    q->prep.b = q->rcpt.id;
    q->prep.text = chat_xstrdup(q->text);
    chat_extras_prep_run(store, &q->prep);
  }
  if (q->rc == 0 && q->nfiles > 0) {  /* files */
    chat_file_rec_t recs[CHAT_FILES_PER_MSG];
    q->files_rc = chat_store_files_claimable(store, q->ins.rec.sender_id, q->files, q->nfiles,
                                             recs);
    if (q->files_rc == 0) q->files_json = chat_files_json(recs, q->nfiles);
  }
}

static void dm_next(chat_dm_t *d);

/* Answers the sender's connection: an `ack`, or an `error` with the cid. */
static void reply(dm_req_t *q, chat_rbuf_t *frame) {
  chat_conn_post_frame(q->from, frame);
  chat_rbuf_unref(frame);
}

static void reply_error(dm_req_t *q, chat_proto_code_t code, const char *message) {
  reply(q, chat_proto_error_frame(code, message, q->cid));
}

static void on_stored(chat_actor_t *self, chat_mail_t *m) {
  chat_dm_t *d = dm_of(self);
  dm_req_t *q = container_of(m, dm_req_t, ins.mail);
  const chat_services_t *svc = d->svc;
  if (q->ins.failed) {
    reply_error(q, CHAT_PROTO_STORE_UNAVAILABLE, "the message was not stored; send it again");
  } else if (q->ins.rec.status != 0) {
    reply_error(q, CHAT_PROTO_NOT_FRIENDS, "direct messages are only between friends");
  } else {
    reply(q, chat_proto_ack_frame(q->cid, q->ins.rec.id));
    if (!q->ins.rec.dup) {
      svc->metrics->dms_in++;
      chat_proto_msg_t msg = {
          .id = q->ins.rec.id,
          .to = q->rcpt.username,
          .sender = d->username,
          .text = q->text,
          .text_len = strlen(q->text),
          .ts = q->ins.rec.stored_ts,
          .extra = q->prep.extra, /* extras */
          .files_json = q->files_json,
      };
      chat_sb_t sb;
      chat_sb_init(&sb);
      chat_proto_dm(&sb, &msg);
      /* embed: the host hears of the stored DM */
      chat_embed_message(svc, q->ins.rec.id, 0, q->rcpt.username, d->username, q->text,
                         strlen(q->text), q->ins.rec.stored_ts, sb.buf, sb.len);
      chat_cluster_deliver_dm(svc->cluster, q->ins.rec.id, q->ins.rec.sender_id, sb.buf, sb.len);
      if (q->rcpt.id != q->ins.rec.sender_id)
        chat_cluster_deliver_dm(svc->cluster, q->ins.rec.id, q->rcpt.id, sb.buf, sb.len);
      chat_sb_free(&sb);
      chat_presence_t *pr = svc->presence;
      if (svc->notifier && q->rcpt.email_notify && !q->rcpt.banned &&
          !pr->ops->is_online(pr, q->rcpt.id))
        chat_notifier_add(svc->notifier, q->rcpt.id, q->rcpt.username, q->rcpt.email, "dm",
                          d->username, NULL, q->text, q->ins.rec.stored_ts);
      if (svc->webhook && q->rcpt.webhook_notify && !q->rcpt.banned &&
          q->rcpt.id != q->ins.rec.sender_id && !pr->ops->is_online(pr, q->rcpt.id))
        chat_webhook_add(svc->webhook, q->rcpt.id, q->rcpt.username, q->rcpt.phone,
                         CHAT_WEBHOOK_DM, d->username, NULL, q->text, q->ins.rec.stored_ts);
    }
  }
  req_free(q);
}

static void on_checked(chat_actor_t *self, chat_mail_t *m) {
  chat_dm_t *d = dm_of(self);
  dm_req_t *q = container_of(m, dm_req_t, job.mail);
  d->busy = 0;
  if (q->rc == CHAT_EUNAVAIL) {
    reply_error(q, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
    req_free(q);
  } else if (q->rc != 0 || q->state != CHAT_FRIEND_ACCEPTED || q->rcpt.banned) {
    reply_error(q, CHAT_PROTO_NOT_FRIENDS, "direct messages are only between friends");
    req_free(q);
  } else if (q->prep.rc) {
    if (q->prep.rc == CHAT_ENOTFOUND)
      reply_error(q, CHAT_PROTO_NOT_FOUND, "reply_to is not a message of this conversation");
    else
      reply_error(q, CHAT_PROTO_STORE_UNAVAILABLE, "the store is unavailable");
    req_free(q);
  } else if (q->files_rc != 0) {  /* files */
    reply_error(q, q->files_rc == CHAT_EUNAVAIL ? CHAT_PROTO_STORE_UNAVAILABLE : CHAT_PROTO_BAD_REQUEST,
                q->files_rc == CHAT_EUNAVAIL
                    ? "the store is unavailable"
                    : "files must be your own uploads, not sent with another message");
    req_free(q);
  } else {
    chat_extras_prep_insert(&q->prep, &q->ins.rec);
    q->ins.rec.files = q->nfiles ? q->files : NULL;
    q->ins.rec.nfiles = q->nfiles;
    q->ins.mail.handle = on_stored;
    q->ins.room = &d->actor;
    q->ins.rec.room = 0;
    q->ins.rec.to_id = q->rcpt.id;
    q->ins.rec.text = q->text;
    q->ins.rec.cid = q->cid;
    q->ins.rec.ts = chat_now_ms();
    chat_storage_insert(d->svc->storage, &q->ins);
  }
  dm_next(d);
}

/* Starts the next queued check, if none is running. */
static void dm_next(chat_dm_t *d) {
  if (d->busy || d->head == NULL) return;
  dm_req_t *q = d->head;
  d->head = q->next;
  if (d->head == NULL) d->tail = NULL;
  d->busy = 1;
  q->job.mail.handle = on_checked;
  q->job.run = check_run;
  chat_storage_submit(d->svc->storage, &q->job, &d->actor);
}

static void on_send(chat_actor_t *self, chat_mail_t *m) {
  chat_dm_t *d = dm_of(self);
  dm_req_t *q = container_of(m, dm_req_t, mail);
  q->next = NULL;
  if (d->tail)
    d->tail->next = q;
  else
    d->head = q;
  d->tail = q;
  dm_next(d);
}

void chat_dm_post_send(chat_dm_t *d, chat_conn_t *from, const char *to, const char *text,
                       size_t len, const char *cid) {
  chat_dm_post_send_ex(d, from, to, text, len, cid, 0, NULL, 0);
}

void chat_dm_post_send_ex(chat_dm_t *d, chat_conn_t *from, const char *to, const char *text,
                          size_t len, const char *cid, int64_t reply_to, const int64_t *files,
                          size_t nfiles) {
  dm_req_t *q = chat_xcalloc(1, sizeof(*q));
  q->mail.handle = on_send;
  q->from = from;
  chat_actor_ref(chat_conn_actor(from));
  snprintf(q->to, sizeof(q->to), "%s", to);
  q->text = chat_xstrndup(text, len);
  q->cid = cid ? chat_xstrdup(cid) : NULL;
  q->ins.rec.sender_id = d->user_id;
  q->prep.reply_to = reply_to;
  if (nfiles > CHAT_FILES_PER_MSG) nfiles = CHAT_FILES_PER_MSG;
  if (nfiles > 0) memcpy(q->files, files, nfiles * sizeof(*files));
  q->nfiles = nfiles;
  chat_actor_post(&d->actor, &q->mail);
}
