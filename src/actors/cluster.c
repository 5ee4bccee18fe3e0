#include "cluster.h"

#include <stdlib.h>

#include "../core/common.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "notifier.h"
#include "presence.h"
#include "registry.h"
#include "room.h"
#include "roomdir.h"

struct chat_cluster_s {
  const chat_services_t *svc;
};

chat_cluster_t *chat_cluster_new(const chat_services_t *svc) {
  chat_cluster_t *cl = chat_xcalloc(1, sizeof(*cl));
  cl->svc = svc;
  return cl;
}

void chat_cluster_free(chat_cluster_t *cl) { free(cl); }

/* Publishes the event in sb server-wide and frees the builder. */
static void publish(chat_cluster_t *cl, chat_sb_t *sb) {
  chat_presence_t *p = cl->svc->presence;
  p->ops->publish(p, 0, sb->buf, sb->len);
  chat_sb_free(sb);
}

/* ---- outgoing ------------------------------------------------------------ */

void chat_cluster_deliver_to_user(chat_cluster_t *cl, int64_t user_id, const char *json,
                                  size_t len) {
  chat_registry_deliver(cl->svc->registry, user_id, json, len);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_deliver(&sb, user_id, json, len);
  publish(cl, &sb);
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
  if (room_id) {
    chat_room_t *r = chat_roomdir_get(svc->rooms, room_id);
    if (r) room_event(r, json, len);
    return;
  }
  chat_proto_ev_t ev;
  chat_proto_ev_decode(json, len, &ev);
  switch (ev.type) {
    case CHAT_PROTO_EV_DELIVER:
      chat_registry_deliver(svc->registry, ev.user_id, ev.frame, ev.frame_len);
      break;
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
    default:
      break;
  }
  chat_proto_ev_free(&ev);
}
