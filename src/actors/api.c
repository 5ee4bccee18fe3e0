/* The HTTP API's dispatch and the helpers its handlers share (api_int.h).
 *
 * chat_api_handle finds the route's row, checks the Origin of requests that
 * change something, allocates the handler's job and fills its base from the
 * request, lets prepare check the rest on the loop, and queues the job on
 * the storage actor.  The job's mail comes back to the connection actor
 * (api_done).  A step may ask for a password hash: the job then goes to
 * the hasher, whose mail comes back to api_hashed, and from there to the
 * step after the hash (on a worker again) or to done.  done runs even if
 * the client has gone, since the store changed; then the answer goes out
 * if the connection is still open.
 *
 * This file is also the only one of the API that reads the server's fields
 * (the accessors at the end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/limits.h"
#include "../core/pct.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "api_int.h"
#include "apicache.h"
#include "embed.h"
#include "files.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* chat_api_paging reads limit as at most 3 digits. */
_Static_assert(CHAT_PAGE_MAX < 1000, "limit has at most 3 digits");

static const chat_api_table_t *const tables[] = {
    &chat_api_accounts, &chat_api_rooms, &chat_api_social, &chat_api_admin, &chat_api_ops,
    &chat_api_files,
    &chat_api_members,
};

const chat_api_route_t *chat_api_route_at(size_t i) {
  for (size_t t = 0; t < CHAT_ARRAY_SIZE(tables); t++) {
    if (i < tables[t]->n) return &tables[t]->v[i];
    i -= tables[t]->n;
  }
  return NULL;
}

const chat_api_route_t *chat_api_route(chat_route_id_t id) {
  const chat_api_route_t *r;
  for (size_t i = 0; (r = chat_api_route_at(i)) != NULL; i++)
    if (r->id == id) return r;
  return NULL;
}

/* ---- answers ---------------------------------------------------------- */

void chat_api_set_json(chat_api_job_t *j, int status, cJSON *root) {
  j->status = status;
  free(j->json);  /* an answer set before, that stood unless this one came */
  j->json = NULL;
  if (root) {
    j->json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
  }
}

/* Sets the answer to what sb holds (taking its buffer). */
static void set_sb(chat_api_job_t *j, int status, chat_sb_t *sb) {
  j->status = status;
  free(j->json);
  j->json = sb->buf;
  sb->buf = NULL;
  sb->len = sb->cap = 0;
}

void chat_api_set_error(chat_api_job_t *j, int status, const char *code, const char *message) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_http_error(&sb, code, message);
  set_sb(j, status, &sb);
}

void chat_api_set_store_error(chat_api_job_t *j) {
  chat_api_set_error(j, 503, "store_unavailable", "the store is unavailable; try again");
}

cJSON *chat_api_user_json(const chat_user_rec_t *u, int with_email) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)u->id);
  cJSON_AddStringToObject(o, "username", u->username);
  cJSON_AddStringToObject(o, "display_name", u->display_name[0] ? u->display_name : u->username);
  if (u->avatar_file > 0) {  /* files: the avatar's thumbnail */
    char url[64];
    chat_proto_thumb_url(url, sizeof(url), u->avatar_file);
    cJSON_AddStringToObject(o, "avatar", url);
  } else {
    cJSON_AddNullToObject(o, "avatar");
  }
  if (with_email) cJSON_AddStringToObject(o, "email", u->email);
  cJSON_AddStringToObject(o, "role", u->role == CHAT_ROLE_ADMIN ? "admin" : "user");
  if (with_email) cJSON_AddBoolToObject(o, "email_notify", u->email_notify != 0);
  if (with_email) {  /* notification channels (schema 011) */
    if (u->phone[0]) cJSON_AddStringToObject(o, "phone", u->phone);
    else cJSON_AddNullToObject(o, "phone");
    cJSON_AddBoolToObject(o, "webhook_notify", u->webhook_notify != 0);
  }
  return o;
}

cJSON *chat_api_room_json(const chat_room_rec_t *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)r->id);
  cJSON_AddStringToObject(o, "name", r->name);
  cJSON_AddStringToObject(o, "topic", r->topic);
  return o;
}

void chat_api_set_messages(chat_api_job_t *j, int rc, chat_msg_rec_t *msgs, size_t n) {
  if (rc == CHAT_ENOTFOUND) rc = 0, n = 0;
  if (rc != 0) {
    chat_store_msgs_free(msgs, n);
    chat_api_set_store_error(j);
    return;
  }
  /* {"messages":[...]}: the message objects of net/proto.h. */
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"messages\":[");
  for (size_t i = 0; i < n; i++) {
    char *files = chat_files_json(msgs[i].files, msgs[i].nfiles);  /* files */
    chat_proto_msg_t msg = {
        .id = msgs[i].id,
        .room = msgs[i].room,
        .to = msgs[i].to,
        .sender = msgs[i].sender,
        .text = msgs[i].text,
        .text_len = strlen(msgs[i].text),
        .ts = msgs[i].ts,
        .seq = msgs[i].seq,
        .deleted = msgs[i].deleted, /* extras */
        .extra = msgs[i].extra,
        .files_json = files,
    };
    if (i) chat_sb_append(&sb, ",", 1);
    chat_proto_msg_obj(&sb, &msg);
    free(files);
  }
  chat_sb_puts(&sb, "]}");
  chat_store_msgs_free(msgs, n);
  set_sb(j, 200, &sb);
}

/* ---- the request, on the worker --------------------------------------- */

int chat_api_authenticate(chat_api_job_t *j, chat_store_t *store) {
  if (j->host_user[0]) {  /* embed: the host authenticated the request */
    int hrc = chat_embed_user(store, j->host_user, &j->user);
    if (hrc == 0 && !j->user.banned) return 0;
    if (hrc == CHAT_EUNAVAIL)
      chat_api_set_store_error(j);
    else
      chat_api_set_error(j, 401, "unauthenticated", "log in first");
    return -1;
  }
  if (!j->has_token) {
    chat_api_set_error(j, 401, "unauthenticated", "log in first");
    return -1;
  }
  int rc = chat_store_session_lookup(store, j->token_hash, chat_now_ms(), &j->user);
  if (rc == CHAT_EUNAVAIL) {
    chat_api_set_store_error(j);
    return -1;
  }
  if (rc != 0 || j->user.banned) {
    chat_api_set_error(j, 401, "unauthenticated", "log in first");
    return -1;
  }
  return 0;
}

int chat_api_require_admin(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return -1;
  if (j->user.role != CHAT_ROLE_ADMIN) {
    chat_api_set_error(j, 403, "forbidden", "administrators only");
    return -1;
  }
  return 0;
}

cJSON *chat_api_parse_body(chat_api_job_t *j) {
  cJSON *o = chat_json_parse(j->body, j->body_len);
  if (!cJSON_IsObject(o) || chat_json_has_nul(o)) {
    const char *why = chat_json_has_nul(o) ? CHAT_JSON_NUL_MESSAGE : "the body must be a JSON object";
    cJSON_Delete(o);
    chat_api_set_error(j, 400, "bad_request", why);
    return NULL;
  }
  return o;
}

const char *chat_api_str_field(const cJSON *o, const char *name, int *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (v == NULL || cJSON_IsNull(v)) return NULL;
  if (!cJSON_IsString(v)) {
    *bad = 1;
    return NULL;
  }
  return v->valuestring;
}

int chat_api_find_user(chat_api_job_t *j, chat_store_t *store, const char *name,
                       chat_user_rec_t *out) {
  int rc = strlen(name) <= CHAT_NAME_MAX ? chat_store_user_by_name(store, name, out)
                                         : CHAT_ENOTFOUND;
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "no_such_user", "no such user");
    return -1;
  }
  if (rc != 0) {
    chat_api_set_store_error(j);
    return -1;
  }
  return 0;
}

/* ---- the request, on the loop ----------------------------------------- */

static const char *query_param(chat_conn_t *c, const char *name, size_t *len) {
  const char *path, *query;
  size_t plen, qlen;
  chat_http_url(chat_conn_req(c), &path, &plen, &query, &qlen);
  return chat_http_query_param(query, qlen, name, len);
}

/* A decimal of 1 to max_digits digits; -1 if v[0..n) is not one. */
static int64_t decimal(const char *v, size_t n, size_t max_digits) {
  if (n == 0 || n > max_digits) return -1;
  int64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

int chat_api_query_id(chat_conn_t *c, const char *name, int64_t *id) {
  size_t n;
  const char *v = query_param(c, name, &n);
  *id = 0;
  if (v == NULL) return 0;
  int64_t x = decimal(v, n, 18);
  if (x <= 0) return -1;
  *id = x;
  return 1;
}

int chat_api_paging(chat_api_job_t *j, chat_conn_t *c, chat_api_page_t *page) {
  page->limit = CHAT_PAGE_DEFAULT;
  int bad = chat_api_query_id(c, "before", &page->before) < 0;
  size_t n;
  const char *v = query_param(c, "limit", &n);
  if (v && !bad) {
    int64_t l = decimal(v, n, 3);
    if (l < 1 || l > CHAT_PAGE_MAX)
      bad = 1;
    else
      page->limit = (int)l;
  }
  if (bad) {
    chat_api_set_error(j, 400, "bad_request",
                       "before is a message id, limit is 1 to " STR(CHAT_PAGE_MAX));
    return -1;
  }
  return 0;
}

char *chat_api_query_text(chat_conn_t *c, const char *name) {
  size_t n;
  const char *v = query_param(c, name, &n);
  return v ? chat_pct_decode_dup(v, n, CHAT_PCT_PLUS | CHAT_PCT_NO_NUL | CHAT_PCT_UTF8, NULL)
           : NULL;
}

/* ---- live figures ------------------------------------------------------ */

void chat_api_stats(const chat_services_t *svc, chat_api_stats_t *st) {
  uint64_t messages;
  memset(st, 0, sizeof(*st));
  chat_storage_stats(svc->storage, &st->store_batches, &messages, &st->store_write_ns);
  st->websockets = chat_registry_ws_count(svc->registry);
  st->conns = chat_registry_count(svc->registry);
  st->rooms = chat_roomdir_count(svc->rooms);
  st->conns_total = svc->metrics->conns_total;
  st->http_requests = svc->metrics->http_requests;
  st->ws_frames_in = svc->metrics->ws_frames_in;
  st->messages_sent = svc->metrics->messages_sent;
  st->conns_refused = svc->metrics->conns_refused;
  st->frames_limited = svc->metrics->frames_limited;
  st->ws_refused = svc->metrics->ws_refused;
  if (svc->hasher) {
    st->hash_pending = chat_hasher_pending(svc->hasher);
    st->hash_refused = chat_hasher_refused(svc->hasher);
  }
}

/* ---- limits ------------------------------------------------------------ */

void chat_api_client_addr(chat_conn_t *c, char out[CHAT_ADDR_KEY_MAX]) {
  chat_limiter_addr_key(chat_conn_peer(c), out);
}

int chat_api_body_max(chat_api_job_t *j, size_t max) {
  if (j->body_len <= max) return 0;
  chat_api_set_error(j, 413, "payload_too_large", "the request body is too large");
  return -1;
}

static void set_busy(chat_api_job_t *j, const chat_services_t *svc) {
  snprintf(j->headers, sizeof(j->headers), "Retry-After: %d\r\n",
           svc->hasher ? chat_hasher_retry_after(svc->hasher) : 1);
  chat_api_set_error(j, 503, "busy", "the server is busy; try again in a moment");
}

int chat_api_hasher_busy(chat_api_job_t *j, const chat_services_t *svc) {
  if (svc->hasher && !chat_hasher_full(svc->hasher)) return 0;
  set_busy(j, svc);
  return -1;
}

void chat_api_set_rate_limited(chat_api_job_t *j, int seconds, const char *message) {
  snprintf(j->headers, sizeof(j->headers), "Retry-After: %d\r\n", seconds);
  chat_api_set_error(j, 429, "rate_limited", message);
}

/* ---- dispatch ---------------------------------------------------------- */

static chat_api_job_t *job_new(const chat_api_route_t *route, chat_conn_t *c,
                               const chat_route_match_t *m) {
  const chat_http_req_t *req = chat_conn_req(c);
  chat_api_job_t *j = chat_xcalloc(1, route->job_size);
  j->route = route;
  j->ids[0] = m->ids[0];
  j->ids[1] = m->ids[1];
  snprintf(j->name, sizeof(j->name), "%s", m->name);
  j->secure = chat_conn_secure(c);
  j->files_dir = chat_conn_services(c)->limits->files_dir;  /* files */
  size_t slen;
  chat_embed_auth(chat_conn_services(c), req, j->host_user);  /* embed */
  const char *sid = chat_http_cookie(req, "sid", &slen);
  if (sid && slen == CHAT_TOKEN_CHARS) {
    j->has_token = 1;
    chat_auth_token_hash(sid, slen, j->token_hash);
  }
  if (req->body_len) {
    j->body = chat_xmalloc(req->body_len + 1);
    memcpy(j->body, req->body, req->body_len);
    j->body[req->body_len] = '\0';
    j->body_len = req->body_len;
  }
  return j;
}

/* Nothing secret outlives the job: the body (passwords) is wiped. */
static void job_free_body(chat_api_job_t *j) {
  if (!j->body) return;
  memset(j->body, 0, j->body_len);
  free(j->body);
  j->body = NULL;
}

/* Sends the answer (if the client is still there) and frees the job,
 * wiped: a handler's job may hold passwords. */
static void job_finish(chat_api_job_t *j, chat_conn_t *c) {
  if (j->changes) chat_apicache_clear(chat_conn_services(c)->apicache);  /* apicache.h */
  if (j->status && chat_conn_is_open(c) && j->raw_type)  /* files */
    chat_conn_respond_body(c, j->status, j->raw_type, j->raw_headers, j->raw, j->raw_len);
  else if (j->status && chat_conn_is_open(c))
    chat_conn_respond_json(c, j->status, j->json, j->headers[0] ? j->headers : NULL);
  free(j->raw);
  free(j->raw_headers);
  free(j->json);
  job_free_body(j);
  chat_auth_wipe(j, j->route->job_size);
  free(j);
}

static void api_run(chat_job_t *job, chat_store_t *store) {
  chat_api_job_t *j = container_of(job, chat_api_job_t, super);
  j->step(j, store);
  job_free_body(j);
}

static void api_done(chat_actor_t *self, chat_mail_t *m);
static void api_hashed(chat_actor_t *self, chat_mail_t *m);

/* Queues step on a worker; its mail comes back to api_done. */
static void job_queue(chat_api_job_t *j, chat_api_run_cb step, const chat_services_t *svc,
                      chat_conn_t *c) {
  j->step = step;
  j->super.mail.handle = api_done;
  j->super.run = api_run;
  chat_storage_submit(svc->storage, &j->super, chat_conn_actor(c));
}

/* After prepare or a worker step, on the loop: a hash asked for goes to
 * the hasher (or the answer is busy); otherwise the job is done. */
static void job_next(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  if (j->hash.ops) {
    j->hash.mail.handle = api_hashed;
    int rc = svc->hasher ? chat_hasher_submit(svc->hasher, &j->hash, chat_conn_actor(c))
                         : CHAT_EAGAIN;
    if (rc == 0) return;
    j->hash.ops = 0;
    j->then = NULL;
    set_busy(j, svc);
  }
  if (j->route->done) j->route->done(j, svc);
  job_finish(j, c);
}

static void api_done(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  chat_api_job_t *j = container_of(m, chat_api_job_t, super.mail);
  chat_conn_log_enter(c);
  job_next(j, chat_conn_services(c), c);
  chat_conn_log_leave();
}

/* The hash is done: on to the step after it if it succeeded. */
static void api_hashed(chat_actor_t *self, chat_mail_t *m) {
  chat_conn_t *c = chat_conn_from_actor(self);
  chat_api_job_t *j = container_of(m, chat_api_job_t, hash.mail);
  const chat_services_t *svc = chat_conn_services(c);
  int ok = (j->hash.ops & CHAT_HASH_MAKE) ? j->hash.made : j->hash.verified;
  chat_api_run_cb then = j->then;
  j->hash.ops = 0;
  j->then = NULL;
  chat_conn_log_enter(c);
  if (ok && then)
    job_queue(j, then, svc, c);
  else
    job_next(j, svc, c);
  chat_conn_log_leave();
}

void chat_api_handle(const chat_services_t *svc, chat_conn_t *c, const chat_route_match_t *m) {
  const chat_api_route_t *route = chat_api_route(m->id);
  if (route == NULL) {
    chat_conn_respond_error(c, 404, "not_found", "no such API route", NULL);
    return;
  }
  int method = chat_conn_req(c)->method;
  if ((method == HTTP_POST || method == HTTP_PATCH || method == HTTP_DELETE ||
       method == HTTP_PUT) &&
      !chat_conn_origin_ok(c)) {
    chat_conn_respond_error(c, 403, "bad_origin", "cross-origin request refused", NULL);
    return;
  }
  chat_api_job_t *j = job_new(route, c, m);
  /* apicache.h: a request that may change something forgets the answers
   * kept (now and once it is answered); the room list may be one. */
  j->changes = method != HTTP_GET && method != HTTP_HEAD;
  if (j->changes) chat_apicache_clear(svc->apicache);
  j->cache_gen = chat_apicache_gen(svc->apicache);
  if (m->id == CHAT_ROUTE_ROOMS_LIST && j->has_token && !j->host_user[0]) {
    const char *kept = chat_apicache_get(svc->apicache, j->token_hash, uv_hrtime());
    if (kept) {
      chat_conn_respond_json(c, 200, kept, NULL);
      job_finish(j, c);
      return;
    }
  }
  if (route->prepare && route->prepare(j, svc, c) != 0) {
    job_finish(j, c);
    return;
  }
  if (j->hash.ops) {
    /* prepare asked for a hash first; run (if it is then) comes after. */
    job_next(j, svc, c);
  } else if (route->run) {
    job_queue(j, route->run, svc, c);
  } else {
    job_finish(j, c);
  }
}
