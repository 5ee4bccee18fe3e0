/* The server: configuration, the listener, the room directory, the list of
 * connections, and the orderly stop. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/text.h"
#include "../net/ws.h"
#include "notifier.h"
#include "server.h"

#define LOGIN_MAX_FAILS 5
#define LOGIN_WINDOW_MS 60000

void chat_conn_unlink(chat_server_t *srv, chat_conn_t *c);

void chat_config_init(chat_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->listen_host = "127.0.0.1";
  cfg->listen_port = 8080;
  cfg->store_url = "sqlite:./data/chat.db";
  cfg->public_dir = "./public";
  cfg->vendor_dir = "/usr/share/bootstrap-html";
  cfg->store_pool = 4;
  cfg->ws_max_message = 64 * 1024;
  cfg->ws_out_cap = 4 * 1024 * 1024;
  cfg->session_days = 30;
  cfg->ws_rate = 20;
  cfg->ws_burst = 200;
}

/* ---- presence events -------------------------------------------------- */

static void on_online(void *ud, int64_t user_id, const char *username, int online) {
  chat_server_t *srv = ud;
  if (srv->state != SRV_RUNNING) return;
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"online\",\"user\":");
  chat_sb_json_str(&sb, username, strlen(username));
  chat_sb_puts(&sb, online ? ",\"online\":true}" : ",\"online\":false}");
  chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, sb.buf, sb.len);
  chat_sb_free(&sb);
  /* Everyone else connected hears of it; the user's own tabs know. */
  for (chat_conn_t *c = srv->conns; c; c = chat_conn_next(c))
    if (chat_conn_is_ws(c) && !chat_conn_is_ws_of(c, user_id)) chat_conn_post_frame(c, b);
  chat_rbuf_unref(b);
}

static int unhex32(uint8_t out[32], const char *s);

/* Frames from presence: room frames go to the room's actor; server-wide
 * ones (from other instances) change the room directory. */
static void on_event(void *ud, int64_t room_id, const char *json, size_t len) {
  chat_server_t *srv = ud;
  if (srv->state != SRV_RUNNING) return;
  if (room_id) {
    chat_room_t *r = chat_server_room(srv, room_id);
    if (r) chat_room_post_event(r, json, len);
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
      chat_server_deliver_local(srv, (int64_t)uid->valuedouble, f, strlen(f));
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
      chat_server_revoke(srv, (int64_t)uid->valuedouble, has_keep ? kh : NULL,
                         has_only ? oh : NULL, reason);
  } else if (cJSON_IsString(type) && strcmp(type->valuestring, "ban") == 0) {
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(o, "user_id");
    if (cJSON_IsNumber(uid))
      chat_server_revoke(srv, (int64_t)uid->valuedouble, NULL, NULL, "banned");
  } else if (cJSON_IsString(type) && cJSON_IsNumber(room) && room->valuedouble >= 1) {
    int64_t id = (int64_t)room->valuedouble;
    if (strcmp(type->valuestring, "room_created") == 0 && chat_server_room(srv, id) == NULL) {
      chat_server_room_add(srv, chat_room_new(srv, id, ""), id);
    } else if (strcmp(type->valuestring, "room_deleted") == 0) {
      chat_room_t *r = chat_server_room(srv, id);
      if (r) {
        chat_room_post_delete(r);
        chat_server_room_remove(srv, id);
      }
    }
  }
  cJSON_Delete(o);
}

static void tick_cb(uv_timer_t *t) {
  chat_server_t *srv = t->data;
  size_t n = srv->ntick;
  chat_room_t **rooms = srv->tick_rooms;
  srv->tick_rooms = NULL;
  srv->ntick = srv->tick_cap = 0;
  for (size_t i = 0; i < n; i++) {
    chat_room_post_tick(rooms[i]);
    chat_actor_unref(chat_room_actor(rooms[i]));
  }
  free(rooms);
  if (srv->ntick == 0) uv_timer_stop(&srv->tick_timer);
}

void chat_server_room_tick(chat_server_t *srv, chat_room_t *r) {
  if (srv->ntick == srv->tick_cap) {
    srv->tick_cap = srv->tick_cap ? srv->tick_cap * 2 : 8;
    srv->tick_rooms = chat_xrealloc(srv->tick_rooms, srv->tick_cap * sizeof(*srv->tick_rooms));
  }
  chat_actor_ref(chat_room_actor(r));
  srv->tick_rooms[srv->ntick++] = r;
  if (!uv_is_active((uv_handle_t *)&srv->tick_timer) &&
      !uv_is_closing((uv_handle_t *)&srv->tick_timer))
    uv_timer_start(&srv->tick_timer, tick_cb, 20, 20);
}

void chat_server_user_conn_add(chat_server_t *srv, int64_t user_id, chat_conn_t *c) {
  user_conns_t *u = chat_imap_get(&srv->user_conns, user_id);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    chat_imap_put(&srv->user_conns, user_id, u);
  }
  if (u->n == u->cap) {
    u->cap = u->cap ? u->cap * 2 : 4;
    u->v = chat_xrealloc(u->v, u->cap * sizeof(*u->v));
  }
  u->v[u->n++] = c;
}

void chat_server_user_conn_remove(chat_server_t *srv, int64_t user_id, chat_conn_t *c) {
  user_conns_t *u = chat_imap_get(&srv->user_conns, user_id);
  if (u == NULL) return;
  for (size_t i = 0; i < u->n; i++) {
    if (u->v[i] != c) continue;
    u->v[i] = u->v[--u->n];
    break;
  }
  if (u->n == 0) {
    chat_imap_del(&srv->user_conns, user_id);
    free(u->v);
    free(u);
  }
}

void chat_server_deliver_local(chat_server_t *srv, int64_t user_id, const char *json,
                               size_t len) {
  user_conns_t *u = chat_imap_get(&srv->user_conns, user_id);
  if (u == NULL) return;
  chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, json, len);
  for (size_t i = 0; i < u->n; i++) chat_conn_post_frame(u->v[i], b);
  chat_rbuf_unref(b);
}

void chat_server_deliver_to_user(chat_server_t *srv, int64_t user_id, const char *json,
                                 size_t len) {
  chat_server_deliver_local(srv, user_id, json, len);
  /* Other instances: {"type":"deliver","user_id":ID,"frame":FRAME}. */
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"deliver\",\"user_id\":");
  chat_sb_int(&sb, user_id);
  chat_sb_puts(&sb, ",\"frame\":");
  chat_sb_append(&sb, json, len);
  chat_sb_puts(&sb, "}");
  srv->presence->ops->publish(srv->presence, 0, sb.buf, sb.len);
  chat_sb_free(&sb);
}

void chat_server_broadcast(chat_server_t *srv, chat_rbuf_t *b) {
  for (chat_conn_t *c = srv->conns; c; c = chat_conn_next(c))
    if (chat_conn_is_ws(c)) chat_conn_post_frame(c, b);
}

void chat_server_revoke(chat_server_t *srv, int64_t user_id, const uint8_t *keep,
                        const uint8_t *only_session, const char *reason) {
  user_conns_t *u = chat_imap_get(&srv->user_conns, user_id);
  for (size_t i = 0; u && i < u->n; i++) {
    chat_conn_t *c = u->v[i];
    if (keep && chat_conn_has_session(c, keep)) continue;
    if (only_session && !chat_conn_has_session(c, only_session)) continue;
    chat_conn_post_close(c, CHAT_WS_CLOSE_POLICY, reason);
  }
}

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

void chat_server_revoke_everywhere(chat_server_t *srv, int64_t user_id, const uint8_t *keep,
                                   const uint8_t *only_session, const char *reason) {
  chat_server_revoke(srv, user_id, keep, only_session, reason);
  /* {"type":"revoke","user_id":ID,"keep":HASH?,"only":HASH?,"reason":R}: the
   * SHA-256 of a session token, never the token. */
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
  srv->presence->ops->publish(srv->presence, 0, sb.buf, sb.len);
  chat_sb_free(&sb);
}

/* ---- rooms ------------------------------------------------------------ */

chat_room_t *chat_server_room(chat_server_t *srv, int64_t id) {
  return chat_imap_get(&srv->rooms, id);
}

void chat_server_room_add(chat_server_t *srv, chat_room_t *r, int64_t id) {
  /* The directory holds the creator's reference. */
  chat_imap_put(&srv->rooms, id, r);
}

void chat_server_room_remove(chat_server_t *srv, int64_t id) {
  chat_room_t *r = chat_imap_del(&srv->rooms, id);
  if (r) chat_actor_unref(chat_room_actor(r));
}

/* ---- login rate limiting ---------------------------------------------- */

static login_fail_t *login_find(chat_server_t *srv, const char *key, int64_t now) {
  login_fail_t **pp = &srv->login_fails;
  while (*pp) {
    login_fail_t *f = *pp;
    if (now - f->first_ms >= LOGIN_WINDOW_MS) {  /* expired: drop it */
      *pp = f->next;
      free(f);
      continue;
    }
    if (strcmp(f->key, key) == 0) return f;
    pp = &f->next;
  }
  return NULL;
}

int chat_server_login_blocked(chat_server_t *srv, const char *key, int *retry_after) {
  int64_t now = chat_now_ms();
  login_fail_t *f = login_find(srv, key, now);
  if (f == NULL || f->count < LOGIN_MAX_FAILS) return 0;
  *retry_after = (int)((f->first_ms + LOGIN_WINDOW_MS - now + 999) / 1000);
  if (*retry_after < 1) *retry_after = 1;
  return 1;
}

void chat_server_login_failed(chat_server_t *srv, const char *key) {
  int64_t now = chat_now_ms();
  login_fail_t *f = login_find(srv, key, now);
  if (f == NULL) {
    f = chat_xcalloc(1, sizeof(*f));
    snprintf(f->key, sizeof(f->key), "%s", key);
    f->first_ms = now;
    f->next = srv->login_fails;
    srv->login_fails = f;
  }
  f->count++;
}

void chat_server_login_uncount(chat_server_t *srv, const char *key) {
  login_fail_t *f = login_find(srv, key, chat_now_ms());
  if (f && f->count > 0) f->count--;
}

void chat_server_login_ok(chat_server_t *srv, const char *key) {
  login_fail_t **pp = &srv->login_fails;
  while (*pp) {
    if (strcmp((*pp)->key, key) == 0) {
      login_fail_t *f = *pp;
      *pp = f->next;
      free(f);
      return;
    }
    pp = &(*pp)->next;
  }
}

/* ---- life cycle ------------------------------------------------------- */

int chat_server_new(uv_loop_t *loop, const chat_config_t *cfg, chat_server_t **out,
                    char *err, size_t errlen) {
  if (chat_auth_init() != 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return CHAT_EIO;
  }
  chat_server_t *srv = chat_xcalloc(1, sizeof(*srv));
  srv->loop = loop;
  srv->state = SRV_NEW;
  srv->listen_host = chat_xstrdup(cfg->listen_host);
  srv->listen_port = cfg->listen_port;
  srv->store_url = chat_xstrdup(cfg->store_url);
  srv->redis_url = cfg->redis_url ? chat_xstrdup(cfg->redis_url) : NULL;
  srv->public_dir = chat_xstrdup(cfg->public_dir);
  srv->vendor_dir = chat_xstrdup(cfg->vendor_dir);
  srv->ws_max_message = cfg->ws_max_message;
  srv->ws_out_cap = cfg->ws_out_cap;
  srv->session_ms = (int64_t)cfg->session_days * 24 * 3600 * 1000;
  srv->ws_rate = cfg->ws_rate;
  srv->ws_burst = cfg->ws_burst > 1 ? cfg->ws_burst : 1;
  srv->port = -1;
  chat_imap_init(&srv->rooms);
  chat_imap_init(&srv->user_conns);

  int rc = chat_store_open(srv->store_url, cfg->store_pool > 0 ? cfg->store_pool : 1,
                           &srv->store, err, errlen);
  if (rc != 0) goto fail_store;
  chat_room_rec_t *rooms = NULL;
  size_t nrooms = 0;
  rc = chat_store_room_list(srv->store, &rooms, &nrooms);
  if (rc != 0) {
    snprintf(err, errlen, "could not read the rooms from the store");
    goto fail_rooms;
  }
  rc = chat_sched_init(&srv->sched, loop);
  if (rc != 0) {
    snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
    free(rooms);
    goto fail_rooms;
  }
  srv->handles_open = 0;
  srv->storage = chat_storage_new(&srv->sched, srv->store);
  chat_sched_add_hook(&srv->sched, chat_conn_flush_all, srv);
  if (srv->redis_url) {
    srv->presence = chat_presence_redis_new(loop, srv->redis_url, on_online, on_event, srv,
                                            err, errlen);
    if (srv->presence == NULL) {
      /* Only a malformed URL gets here: nothing has started yet but the
       * scheduler, whose handles must close before the memory goes. */
      rc = CHAT_EINVAL;
      chat_storage_free(srv->storage);
      chat_sched_close(&srv->sched, NULL);
      uv_run(loop, UV_RUN_NOWAIT);
      free(rooms);
      goto fail_rooms;
    }
  } else {
    srv->presence = chat_presence_local_new(on_online, on_event, srv);
  }
  uv_timer_init(loop, &srv->tick_timer);
  srv->tick_timer.data = srv;
  if (cfg->smtp_url && *cfg->smtp_url) {
    chat_notifier_config_t ncfg;
    chat_notifier_config_init(&ncfg);
    ncfg.smtp_url = cfg->smtp_url;
    ncfg.mail_from = cfg->mail_from;
    ncfg.site_name = "chatd";
    ncfg.base_url = cfg->public_url;
    ncfg.interval_ms = cfg->mail_interval_ms;
    ncfg.gather_ms = cfg->mail_gather_ms;
    /* A bad mail setting is reported, and chatd runs without mail. */
    char nerr[256];
    srv->notifier = chat_notifier_new(loop, &ncfg, nerr, sizeof(nerr));
    if (srv->notifier == NULL) chat_log_error("mail is off: %s", nerr);
  }
  for (size_t i = 0; i < nrooms; i++)
    chat_server_room_add(srv, chat_room_new(srv, rooms[i].id, rooms[i].name), rooms[i].id);
  free(rooms);
  *out = srv;
  return 0;

fail_rooms:
  chat_store_close(srv->store);
fail_store:
  free(srv->listen_host);
  free(srv->store_url);
  free(srv->redis_url);
  free(srv->public_dir);
  free(srv->vendor_dir);
  free(srv);
  return rc ? rc : CHAT_EIO;
}

static void on_connection(uv_stream_t *listener, int status) {
  chat_server_t *srv = listener->data;
  if (status < 0) {
    chat_log_warn("accept: %s", uv_strerror(status));
    return;
  }
  if (srv->state != SRV_RUNNING) return;
  chat_conn_accept(srv);
}

int chat_server_start(chat_server_t *srv, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(srv->listen_host, srv->listen_port, (struct sockaddr_in *)&addr);
  if (rc != 0)
    rc = uv_ip6_addr(srv->listen_host, srv->listen_port, (struct sockaddr_in6 *)&addr);
  if (rc != 0) {
    snprintf(err, errlen, "bad listen address %s", srv->listen_host);
    return rc;
  }
  uv_tcp_init(srv->loop, &srv->listener);
  srv->listener.data = srv;
  srv->listening = 1;
  rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
  if (rc != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", srv->listen_host, srv->listen_port,
             uv_strerror(rc));
    return rc;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
  srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
  srv->state = SRV_RUNNING;
  return 0;
}

int chat_server_port(const chat_server_t *srv) { return srv->port; }

static void maybe_stopped(chat_server_t *srv);

static void sched_closed(chat_sched_t *s) {
  chat_server_t *srv = container_of(s, chat_server_t, sched);
  srv->state = SRV_STOPPED;
  if (srv->stop_cb) srv->stop_cb(srv, srv->stop_ud);
}

static void storage_drained_cb(void *ud) { maybe_stopped(ud); }
static void aux_closed_cb(uv_handle_t *h);
static void presence_closed_cb(void *ud);
static void notifier_closed_cb(void *ud);

/* The last steps of a stop, once no connection is left: deliver the mail
 * still queued, wait for the store, let go of the rooms, close the
 * scheduler. */
static void maybe_stopped(chat_server_t *srv) {
  if (srv->state != SRV_STOPPING || srv->conns || srv->listening || srv->sched.closing)
    return;
  chat_sched_drain(&srv->sched);
  if (chat_storage_pending(srv->storage) > 0) {
    chat_storage_drain(srv->storage, storage_drained_cb, srv);
    return;
  }
  if (!srv->presence_closed) {
    if (srv->aux_closing == 0) {
      /* Presence says goodbye (with Redis: this instance's users leave
       * at once) and closes its handles; the tick timer goes too. */
      srv->aux_closing = srv->notifier ? 3 : 2;
      if (srv->notifier) chat_notifier_close(srv->notifier, notifier_closed_cb, srv);
      for (size_t i = 0; i < srv->ntick; i++) chat_actor_unref(chat_room_actor(srv->tick_rooms[i]));
      free(srv->tick_rooms);
      srv->tick_rooms = NULL;
      srv->ntick = srv->tick_cap = 0;
      uv_close((uv_handle_t *)&srv->tick_timer, aux_closed_cb);
      srv->presence->ops->close(srv->presence, presence_closed_cb, srv);
    }
    return;
  }
  for (size_t i = 0; i < srv->rooms.cap; i++) {
    if (srv->rooms.slots[i].key == 0) continue;
    chat_actor_unref(chat_room_actor(srv->rooms.slots[i].val));
  }
  chat_imap_free(&srv->rooms);
  chat_sched_drain(&srv->sched);
  chat_sched_close(&srv->sched, sched_closed);
}

static void aux_closed(chat_server_t *srv) {
  if (--srv->aux_closing == 0) {
    srv->presence_closed = 1;
    maybe_stopped(srv);
  }
}

static void aux_closed_cb(uv_handle_t *h) { aux_closed(h->data); }

static void presence_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  srv->presence = NULL;
  aux_closed(srv);
}

static void notifier_closed_cb(void *ud) {
  chat_server_t *srv = ud;
  srv->notifier = NULL;
  aux_closed(srv);
}

void chat_server_conn_closed(chat_server_t *srv, chat_conn_t *c) {
  chat_conn_unlink(srv, c);
  maybe_stopped(srv);
}

static void listener_closed_cb(uv_handle_t *h) {
  chat_server_t *srv = h->data;
  srv->listening = 0;
  maybe_stopped(srv);
}

void chat_server_stop(chat_server_t *srv, chat_server_stop_cb cb, void *ud) {
  if (srv->state == SRV_STOPPING || srv->state == SRV_STOPPED) return;
  int was_running = srv->state == SRV_RUNNING;
  srv->state = SRV_STOPPING;
  srv->stop_cb = cb;
  srv->stop_ud = ud;
  chat_log_info("stopping: closing %zu connections", srv->nconns);
  for (chat_conn_t *c = srv->conns; c; c = chat_conn_next(c))
    chat_conn_post_close(c, CHAT_WS_CLOSE_GOING_AWAY, NULL);
  (void)was_running;
  if (srv->listening)
    uv_close((uv_handle_t *)&srv->listener, listener_closed_cb);
  else
    maybe_stopped(srv);
}

void chat_server_free(chat_server_t *srv) {
  if (srv == NULL) return;
  assert(srv->state == SRV_STOPPED && srv->presence == NULL);
  while (srv->login_fails) {
    login_fail_t *f = srv->login_fails;
    srv->login_fails = f->next;
    free(f);
  }
  chat_imap_free(&srv->user_conns);  /* empty: every connection left it */
  chat_storage_free(srv->storage);
  chat_store_close(srv->store);
  free(srv->listen_host);
  free(srv->store_url);
  free(srv->redis_url);
  free(srv->public_dir);
  free(srv->vendor_dir);
  free(srv);
}

int chat_admin_create_user(const char *store_url, const char *username, const char *email,
                           const char *password, int role_admin, char *err,
                           size_t errlen) {
  if (chat_auth_init() != 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return CHAT_EIO;
  }
  if (!chat_username_valid(username)) {
    snprintf(err, errlen, "invalid username: 3-32 letters, digits, '_', '.' or '-'");
    return CHAT_EINVAL;
  }
  size_t plen = strlen(password);
  if (plen < 8 || plen > 128) {
    snprintf(err, errlen, "a password has 8 to 128 bytes");
    return CHAT_EINVAL;
  }
  if (!chat_email_valid(email)) {
    snprintf(err, errlen, "invalid e-mail address");
    return CHAT_EINVAL;
  }
  chat_store_t *store;
  int rc = chat_store_open(store_url, 1, &store, err, errlen);
  if (rc != 0) return rc;
  char hash[CHAT_HASH_MAX];
  if (chat_auth_hash_password(password, plen, hash) != 0) {
    chat_store_close(store);
    snprintf(err, errlen, "could not hash the password");
    return CHAT_EIO;
  }
  chat_user_rec_t u;
  rc = chat_store_user_create(store, username, email, hash,
                              role_admin ? CHAT_ROLE_ADMIN : CHAT_ROLE_USER, chat_now_ms(), &u);
  chat_store_close(store);
  if (rc == CHAT_EEXIST)
    snprintf(err, errlen, "username taken");
  else if (rc != 0)
    snprintf(err, errlen, "the store failed");
  return rc;
}
