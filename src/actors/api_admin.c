/* API routes for administrators: the user list, banning and unbanning.
 * (Rooms and messages are in api_rooms.c.)  See api.h for the steps of a
 * handler. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_int.h"

/* ---- GET /api/admin/users ---------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  chat_user_rec_t *users;  /* owned */
  size_t nusers;
} users_job_t;

static void users_run(chat_api_job_t *j, chat_store_t *store) {
  users_job_t *l = container_of(j, users_job_t, super);
  if (chat_api_require_admin(j, store)) return;
  if (chat_store_user_list(store, &l->users, &l->nusers) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
}

/* The answer, with whether each user is online now. */
static void users_done(chat_api_job_t *j, const chat_services_t *svc) {
  users_job_t *l = container_of(j, users_job_t, super);
  if (j->ok) {
    chat_presence_t *p = svc->presence;
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "users");
    for (size_t i = 0; i < l->nusers; i++) {
      cJSON *o = chat_api_user_json(&l->users[i], 1);
      cJSON_DeleteItemFromObject(o, "email_notify");
      cJSON_DeleteItemFromObject(o, "webhook_notify");
      cJSON_AddBoolToObject(o, "banned", l->users[i].banned != 0);
      cJSON_AddBoolToObject(o, "online", p->ops->is_online(p, l->users[i].id));
      cJSON_AddItemToArray(arr, o);
    }
    chat_api_set_json(j, 200, root);
  }
  free(l->users);
}

/* ---- POST /api/admin/users/{name}/ban, .../unban ----------------------- */

typedef struct {
  chat_api_job_t super;
  chat_user_rec_t target;
} ban_job_t;

static void set_banned(chat_api_job_t *j, chat_store_t *store, int ban) {
  ban_job_t *b = container_of(j, ban_job_t, super);
  if (chat_api_require_admin(j, store) || chat_api_find_user(j, store, j->name, &b->target))
    return;
  if (ban && b->target.id == j->user.id) {
    chat_api_set_error(j, 400, "bad_request", "you cannot ban yourself");
    return;
  }
  if (chat_store_user_set_banned(store, b->target.id, ban) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  chat_store_audit(store, j->user.id, ban ? "ban" : "unban", b->target.username, NULL,
                   chat_now_ms());
  j->ok = 1;
  chat_api_set_json(j, 204, NULL);
}

static void ban_run(chat_api_job_t *j, chat_store_t *store) {
  set_banned(j, store, 1);
}

static void unban_run(chat_api_job_t *j, chat_store_t *store) {
  set_banned(j, store, 0);
}

/* Closes the user's WebSockets here; other instances are told to. */
static void ban_done(chat_api_job_t *j, const chat_services_t *svc) {
  ban_job_t *b = container_of(j, ban_job_t, super);
  if (j->ok) chat_cluster_ban(svc->cluster, b->target.id);
}

static const chat_api_route_t routes[] = {
    {HTTP_GET, "/api/admin/users", CHAT_ROUTE_ADMIN_USERS, sizeof(users_job_t), NULL, users_run,
     users_done},
    {HTTP_POST, "/api/admin/users/{name}/ban", CHAT_ROUTE_ADMIN_BAN, sizeof(ban_job_t), NULL,
     ban_run, ban_done},
    {HTTP_POST, "/api/admin/users/{name}/unban", CHAT_ROUTE_ADMIN_UNBAN, sizeof(ban_job_t), NULL,
     unban_run, NULL},
};

const chat_api_table_t chat_api_admin = {routes, CHAT_ARRAY_SIZE(routes)};
