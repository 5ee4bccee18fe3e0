#include "cluster.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../core/common.h"
#include "../core/sb.h"
#include "../net/ws.h"
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

static void publish(chat_cluster_t *cl, const char *json, size_t len) {
  chat_presence_t *p = cl->svc->presence;
  p->ops->publish(p, 0, json, len);
}

/* ---- hashes of session tokens ----------------------------------------- */

static void hex32(char out[65], const uint8_t *h) {
  static const char d[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = d[h[i] >> 4];
    out[2 * i + 1] = d[h[i] & 15];
  }
  out[64] = '\0';
}

static int unhex32(uint8_t out[32], const char *s) {
  if (s == NULL || strlen(s) != 64) return -1;
  for (int i = 0; i < 64; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return -1;
    if (i % 2 == 0)
      out[i / 2] = (uint8_t)(v << 4);
    else
      out[i / 2] |= (uint8_t)v;
  }
  return 0;
}

/* ---- outgoing ------------------------------------------------------------ */

void chat_cluster_deliver_to_user(chat_cluster_t *cl, int64_t user_id, const char *json,
                                  size_t len) {
  chat_registry_deliver(cl->svc->registry, user_id, json, len);
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"deliver\",\"user_id\":");
  chat_sb_int(&sb, user_id);
  chat_sb_puts(&sb, ",\"frame\":");
  chat_sb_append(&sb, json, len);
  chat_sb_puts(&sb, "}");
  publish(cl, sb.buf, sb.len);
  chat_sb_free(&sb);
}

void chat_cluster_revoke(chat_cluster_t *cl, int64_t user_id, const uint8_t *keep,
                         const uint8_t *only_session, const char *reason) {
  chat_registry_revoke(cl->svc->registry, user_id, keep, only_session, reason);
  char k[65], o[65];
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"revoke\",\"user_id\":");
  chat_sb_int(&sb, user_id);
  if (keep) {
    hex32(k, keep);
    chat_sb_puts(&sb, ",\"keep\":\"");
    chat_sb_puts(&sb, k);
    chat_sb_puts(&sb, "\"");
  }
  if (only_session) {
    hex32(o, only_session);
    chat_sb_puts(&sb, ",\"only\":\"");
    chat_sb_puts(&sb, o);
    chat_sb_puts(&sb, "\"");
  }
  chat_sb_puts(&sb, ",\"reason\":");
  chat_sb_json_str(&sb, reason, strlen(reason));
  chat_sb_puts(&sb, "}");
  publish(cl, sb.buf, sb.len);
  chat_sb_free(&sb);
}

void chat_cluster_ban(chat_cluster_t *cl, int64_t user_id) {
  chat_registry_revoke(cl->svc->registry, user_id, NULL, NULL, "banned");
  char ev[96];
  int n = snprintf(ev, sizeof(ev), "{\"type\":\"ban\",\"user_id\":%" PRId64 "}", user_id);
  publish(cl, ev, (size_t)n);
}

void chat_cluster_room_created(chat_cluster_t *cl, int64_t room_id, const char *name) {
  chat_roomdir_add(cl->svc->rooms, room_id, name);
  char ev[96];
  int n = snprintf(ev, sizeof(ev), "{\"type\":\"room_created\",\"room\":%" PRId64 "}", room_id);
  publish(cl, ev, (size_t)n);
}

void chat_cluster_room_deleted(chat_cluster_t *cl, int64_t room_id) {
  chat_presence_t *p = cl->svc->presence;
  chat_roomdir_delete(cl->svc->rooms, room_id);
  char ev[96];
  int n = snprintf(ev, sizeof(ev), "{\"type\":\"room_deleted\",\"room\":%" PRId64 "}", room_id);
  p->ops->publish(p, 0, ev, (size_t)n);
  p->ops->room_forget(p, room_id);
}

/* ---- incoming ------------------------------------------------------------ */

void chat_cluster_online_cb(void *ud, int64_t user_id, const char *username, int online) {
  chat_cluster_t *cl = ud;
  if (!cl->svc->running) return;
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"online\",\"user\":");
  chat_sb_json_str(&sb, username, strlen(username));
  chat_sb_puts(&sb, online ? ",\"online\":true}" : ",\"online\":false}");
  chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, sb.buf, sb.len);
  chat_sb_free(&sb);
  /* Everyone else connected hears of it; the user's own tabs know. */
  chat_registry_broadcast(cl->svc->registry, b, user_id);
  chat_rbuf_unref(b);
}

static const char MESSAGE_PREFIX[] = "{\"type\":\"message\",";

/* A frame on a room's channel: a message stored elsewhere, a deletion, a
 * presence or typing frame. */
static void room_event(chat_room_t *r, const char *json, size_t len) {
  size_t plen = sizeof(MESSAGE_PREFIX) - 1;
  if (len > plen && memcmp(json, MESSAGE_PREFIX, plen) == 0) {
    /* The message object is the frame without its "type". */
    cJSON *o = cJSON_ParseWithLength(json, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsNumber(id) && id->valuedouble >= 1) {
      size_t olen = len - plen + 1;
      char *obj = chat_xmalloc(olen + 1);
      obj[0] = '{';
      memcpy(obj + 1, json + plen, len - plen);
      obj[olen] = '\0';
      chat_room_post_message(r, (int64_t)id->valuedouble, obj, olen);  /* takes obj */
    }
    cJSON_Delete(o);
    return;
  }
  cJSON *o = cJSON_ParseWithLength(json, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  const cJSON *user = cJSON_GetObjectItemCaseSensitive(o, "user");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "message_deleted") == 0) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsNumber(id)) chat_room_post_msg_deleted(r, (int64_t)id->valuedouble, 0);
  } else if (cJSON_IsString(type) && cJSON_IsString(user)) {
    if (strcmp(type->valuestring, "presence") == 0) {
      const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
      int join = cJSON_IsString(ev) && strcmp(ev->valuestring, "join") == 0;
      chat_room_post_user_event(r, user->valuestring, 1, join, json, len);
    } else if (strcmp(type->valuestring, "typing") == 0) {
      chat_room_post_user_event(r, user->valuestring, 0, 0, json, len);
    }
  }
  cJSON_Delete(o);
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
  cJSON *o = cJSON_ParseWithLength(json, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  const cJSON *room = cJSON_GetObjectItemCaseSensitive(o, "room");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "deliver") == 0) {
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(o, "user_id");
    const cJSON *frame = cJSON_GetObjectItemCaseSensitive(o, "frame");
    if (cJSON_IsNumber(uid) && cJSON_IsObject(frame)) {
      char *f = cJSON_PrintUnformatted(frame);
      chat_registry_deliver(svc->registry, (int64_t)uid->valuedouble, f, strlen(f));
      cJSON_free(f);
    }
  } else if (cJSON_IsString(type) && strcmp(type->valuestring, "revoke") == 0) {
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(o, "user_id");
    const cJSON *keep = cJSON_GetObjectItemCaseSensitive(o, "keep");
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(o, "only");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(o, "reason");
    uint8_t kh[32], oh[32];
    int has_keep = cJSON_IsString(keep) && unhex32(kh, keep->valuestring) == 0;
    int has_only = cJSON_IsString(only) && unhex32(oh, only->valuestring) == 0;
    /* Reasons are static strings: map the known ones. */
    const char *reason = cJSON_IsString(why) && strcmp(why->valuestring, "logged out") == 0
                             ? "logged out"
                             : "password changed";
    if (cJSON_IsNumber(uid) && (has_keep || has_only))
      chat_registry_revoke(svc->registry, (int64_t)uid->valuedouble, has_keep ? kh : NULL,
                           has_only ? oh : NULL, reason);
  } else if (cJSON_IsString(type) && strcmp(type->valuestring, "ban") == 0) {
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(o, "user_id");
    if (cJSON_IsNumber(uid))
      chat_registry_revoke(svc->registry, (int64_t)uid->valuedouble, NULL, NULL, "banned");
  } else if (cJSON_IsString(type) && cJSON_IsNumber(room) && room->valuedouble >= 1) {
    int64_t id = (int64_t)room->valuedouble;
    if (strcmp(type->valuestring, "room_created") == 0)
      chat_roomdir_add(svc->rooms, id, "");
    else if (strcmp(type->valuestring, "room_deleted") == 0)
      chat_roomdir_delete(svc->rooms, id);
  }
  cJSON_Delete(o);
}
