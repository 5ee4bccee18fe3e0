/* Embedding (embed.h, include/chat.h): the host's hooks and posts. */
#include "embed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../core/common.h"
#include "../core/text.h"
#include "../net/proto.h"
#include "actor.h"
#include "conn.h"
#include "room.h"
#include "roomdir.h"
#include "storage.h"

int chat_embed_prefix_check(const char *p, char *err, size_t errlen) {
  if (p == NULL || *p == '\0') return 0;
  size_t n = strlen(p);
  int ok = p[0] == '/' && n > 1 && n < 256 && p[n - 1] != '/' && strstr(p, "..") == NULL &&
           strstr(p, "//") == NULL;
  for (size_t i = 0; ok && i < n; i++)
    if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f || strchr("?#%\\\"'<>", p[i]))
      ok = 0;
  if (!ok) snprintf(err, errlen, "bad url_prefix (e.g. \"/chat\": one leading /, no trailing /)");
  return ok ? 0 : -1;
}

/* ---- hooks ------------------------------------------------------------ */

void chat_server_on_message(chat_server_t *srv, chat_message_cb cb, void *ud) {
  chat_embed_t *e = chat_embed_of(srv);
  e->on_message = cb;
  e->message_ud = ud;
}

void chat_server_set_auth(chat_server_t *srv, chat_auth_cb cb, void *ud) {
  chat_embed_t *e = chat_embed_of(srv);
  e->auth = cb;
  e->auth_ud = ud;
}

void chat_embed_message(const chat_services_t *svc, int64_t id, int64_t room_id,
                        const char *to, const char *sender, const char *text, size_t text_len,
                        int64_t ts, const char *json, size_t json_len) {
  chat_embed_t *e = svc->embed;
  if (e == NULL || e->on_message == NULL) return;
  /* json is not NUL-terminated where it comes from (a buffer being
   * built): the host gets a terminated copy. */
  char *j = chat_xstrndup(json, json_len);
  chat_message_t m = {id, room_id, to, sender, text, text_len, ts, j, json_len};
  e->on_message(e->srv, &m, e->message_ud);
  free(j);
}

int chat_embed_auth(const chat_services_t *svc, const chat_http_req_t *req,
                    char name[CHAT_NAME_MAX + 1]) {
  chat_embed_t *e = svc->embed;
  name[0] = '\0';
  if (e == NULL || e->auth == NULL) return 0;
  size_t clen = 0, alen = 0;
  const char *cookie = chat_http_header(req, "cookie", &clen);
  const char *auth = chat_http_header(req, "authorization", &alen);
  /* One byte more than a name may have: a longer name (cut short by the
   * host's snprintf, say) is refused rather than taken as its prefix. */
  char got[CHAT_NAME_MAX + 2];
  memset(got, 0, sizeof(got));
  if (!e->auth(e->srv, cookie, clen, auth, alen, got, sizeof(got), e->auth_ud)) return 0;
  got[sizeof(got) - 1] = '\0';
  if (strlen(got) > CHAT_NAME_MAX || chat_username_check(got, name) != CHAT_USERNAME_OK) {
    name[0] = '\0';
    return 0;
  }
  return 1;
}

int chat_embed_user(chat_store_t *store, const char *name, chat_user_rec_t *out) {
  int rc = chat_store_user_by_name(store, name, out);
  if (rc != CHAT_ENOTFOUND) return rc;
  /* "!" is no password hash: nobody logs in as this user with a password. */
  rc = chat_store_user_create(store, name, "", "!", CHAT_ROLE_USER, chat_now_ms(), out);
  if (rc == CHAT_EEXIST) rc = chat_store_user_by_name(store, name, out);  /* a race */
  return rc;
}

/* ---- posts ------------------------------------------------------------ */

/* One post: the bot's member actor (it gets the room's ack or error), the
 * worker step that finds the user and the room, and the answer. */
typedef struct {
  chat_actor_t actor;
  chat_job_t job;
  chat_server_t *srv;
  chat_services_t *svc;
  char room_name[CHAT_NAME_MAX + 1];
  char name[CHAT_NAME_MAX + 1];
  char *text;
  size_t text_len;
  chat_post_cb cb;
  void *ud;
  /* the worker's results */
  int rc;
  chat_user_rec_t user;
  int64_t room_id;
  int answered;
} post_t;

typedef struct {
  chat_mail_t mail;
  chat_rbuf_t *frame;
} post_frame_t;

static void post_free_cb(chat_actor_t *self) {
  post_t *p = container_of(self, post_t, actor);
  free(p->text);
  free(p);
}

/* Calls the host once, then lets go of the creator's reference. */
static void post_answer(post_t *p, int rc, int64_t id) {
  if (p->answered) return;
  p->answered = 1;
  if (p->cb) p->cb(p->srv, rc, id, p->ud);
  chat_actor_unref(&p->actor);
}

static void post_on_frame(chat_actor_t *self, chat_mail_t *m) {
  post_t *p = container_of(self, post_t, actor);
  post_frame_t *f = (post_frame_t *)m;
  size_t len;
  const char *json = chat_proto_frame_json(f->frame, &len);
  cJSON *o = cJSON_ParseWithLength(json, len);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "ack") == 0) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    post_answer(p, 0, cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0);
  } else if (cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) {
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
    int rc = CHAT_POST_EUNAVAIL;
    if (cJSON_IsString(code) && strcmp(code->valuestring, "no_such_room") == 0)
      rc = CHAT_POST_ENOROOM;
    else if (cJSON_IsString(code) && strcmp(code->valuestring, "store_unavailable") != 0)
      rc = CHAT_POST_EINVAL;
    post_answer(p, rc, 0);
  }
  cJSON_Delete(o);
  chat_rbuf_unref(f->frame);
  free(f);
}

static void bot_post_frame(chat_actor_t *member, chat_rbuf_t *b) {
  post_frame_t *f = chat_xcalloc(1, sizeof(*f));
  f->mail.handle = post_on_frame;
  f->frame = chat_rbuf_ref(b);
  chat_actor_post(member, &f->mail);
}

static void bot_post_left(chat_actor_t *member, int64_t room_id) {}

static const chat_member_ops_t bot_ops = {bot_post_frame, bot_post_left};

/* Worker: the bot user (made if missing) and the room's id. */
static void post_run(chat_job_t *job, chat_store_t *store) {
  post_t *p = container_of(job, post_t, job);
  p->rc = chat_embed_user(store, p->name, &p->user);
  if (p->rc != 0) return;
  chat_room_rec_t *rooms = NULL;
  size_t n = 0;
  p->rc = chat_store_room_list(store, &rooms, &n);
  if (p->rc != 0) return;
  p->rc = CHAT_ENOTFOUND;
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(rooms[i].name, p->room_name) == 0) {
      p->room_id = rooms[i].id;
      p->rc = 0;
      break;
    }
  free(rooms);
}

static void post_found(chat_actor_t *self, chat_mail_t *m) {
  post_t *p = container_of(self, post_t, actor);
  if (p->rc == CHAT_ENOTFOUND) {
    post_answer(p, CHAT_POST_ENOROOM, 0);
  } else if (p->rc != 0 || !p->svc->running || p->user.banned) {
    post_answer(p, p->rc == 0 && p->user.banned ? CHAT_POST_EINVAL : CHAT_POST_EUNAVAIL, 0);
  } else {
    chat_room_t *r = chat_roomdir_open(p->svc->rooms, p->room_id);
    chat_member_t mem = {&p->actor, &bot_ops};
    chat_room_post_send_bot(r, mem, p->user.id, p->user.username, p->text, p->text_len);
  }
}

int chat_server_post(chat_server_t *srv, const char *room, const char *bot_username,
                     const char *text, chat_post_cb cb, void *ud) {
  chat_services_t *svc = chat_embed_services(srv);
  if (!svc->running) return CHAT_POST_EUNAVAIL;
  if (room == NULL || bot_username == NULL || text == NULL || strlen(room) > CHAT_NAME_MAX)
    return CHAT_POST_EINVAL;
  char name[CHAT_NAME_MAX + 1];
  if (chat_username_check(bot_username, name) != CHAT_USERNAME_OK) return CHAT_POST_EINVAL;
  size_t start, len;
  chat_proto_error_t perr;
  if (chat_proto_text_check(text, NULL, &start, &len, &perr) != 0) return CHAT_POST_EINVAL;
  post_t *p = chat_xcalloc(1, sizeof(*p));
  chat_actor_init(&p->actor, svc->sched, post_free_cb);
  p->srv = srv;
  p->svc = svc;
  snprintf(p->room_name, sizeof(p->room_name), "%s", room);
  memcpy(p->name, name, sizeof(name));
  p->text = chat_xstrndup(text + start, len);
  p->text_len = len;
  p->cb = cb;
  p->ud = ud;
  p->job.mail.handle = post_found;
  p->job.run = post_run;
  chat_storage_submit(svc->storage, &p->job, &p->actor);
  return 0;
}

/* ---- adopted connections ---------------------------------------------- */

int chat_server_adopt(chat_server_t *srv, uv_tcp_t *accepted, const char *data, size_t len) {
  chat_services_t *svc = chat_embed_services(srv);
  if (!svc->running) return UV_ECANCELED;
  uv_os_fd_t fd;
  int rc = uv_fileno((uv_handle_t *)accepted, &fd);
  if (rc != 0) return rc;
  int dupfd = dup(fd);
  if (dupfd < 0) return uv_translate_sys_error(errno);
  return chat_conn_adopt(svc, dupfd, data, len);
}
