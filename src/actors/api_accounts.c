/* API routes of accounts: register, log in and out, the user's own record
 * and password.  See api.h for the steps of a handler. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../core/ident.h"
#include "../core/json.h"
#include "../core/limits.h"
#include "../core/text.h"
#include "api_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)
/* The weak_password message. */
#define WEAK_PASSWORD \
  "a password has " STR(CHAT_PASSWORD_MIN_BYTES) " to " STR(CHAT_PASSWORD_MAX_BYTES) " bytes"

static int password_ok(const char *p) {
  size_t n = strlen(p);
  return n >= CHAT_PASSWORD_MIN_BYTES && n <= CHAT_PASSWORD_MAX_BYTES;
}

/* Answers {"user": {...}} with the e-mail fields. */
static void set_user(chat_api_job_t *j, int status, const chat_user_rec_t *u) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "user", chat_api_user_json(u, 1));
  chat_api_set_json(j, status, root);
}

/* ---- POST /api/register ------------------------------------------------ */

static void register_run(chat_api_job_t *j, chat_store_t *store) {
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *username = chat_api_str_field(o, "username", &bad);
  const char *password = chat_api_str_field(o, "password", &bad);
  const char *email = chat_api_str_field(o, "email", &bad);
  char name[CHAT_NAME_MAX + 1];  /* the NFKC form: stored and shown */
  chat_username_rc_t urc = CHAT_USERNAME_BAD;
  if (bad) {
    chat_api_set_error(j, 400, "bad_request", "username, password and email are strings");
  } else if (!username || (urc = chat_username_check(username, name)) != CHAT_USERNAME_OK) {
    chat_api_set_error(j, 400, "invalid_username", chat_username_message(urc));
  } else if (!password || !password_ok(password)) {
    chat_api_set_error(j, 400, "weak_password", WEAK_PASSWORD);
  } else if (!email || !chat_email_valid(email)) {
    chat_api_set_error(j, 400, "invalid_email", "that is not an e-mail address");
  } else {
    char hash[CHAT_HASH_MAX];
    if (chat_auth_hash_password(password, strlen(password), hash) != 0) {
      chat_api_set_error(j, 500, "internal", "could not hash the password");
    } else {
      chat_user_rec_t u;
      int rc = chat_store_user_create(store, name, email, hash, CHAT_ROLE_USER,
                                      chat_now_ms(), &u);
      if (rc == CHAT_EEXIST)
        chat_api_set_error(j, 409, "username_taken", "that username is taken");
      else if (rc != 0)
        chat_api_set_store_error(j);
      else
        set_user(j, 201, &u);
    }
  }
  cJSON_Delete(o);
}

/* ---- POST /api/login --------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  char rate_key[80 + CHAT_IDENT_KEY_MAX];  /* client address + "\n" + the username's identity key */
  int64_t session_ms;
  int login_ok;
} login_job_t;

/* Rate limiting is keyed by client address and the username asked for.  The
 * attempt counts as a failure as soon as it arrives, so parallel guesses
 * cannot get past the limit; done takes it back if it was not one. */
static int login_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  login_job_t *l = container_of(j, login_job_t, super);
  l->session_ms = svc->limits->session_ms;
  cJSON *o = chat_json_parse(j->body, j->body_len);
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "username");
  /* Every spelling that finds the same user (ＢＯＢ, bоb) shares a key. */
  char key[CHAT_IDENT_KEY_MAX] = "";
  if (cJSON_IsString(u) && strlen(u->valuestring) <= CHAT_NAME_MAX)
    chat_ident_key(u->valuestring, strlen(u->valuestring), key, sizeof(key));
  cJSON_Delete(o);
  snprintf(l->rate_key, sizeof(l->rate_key), "%s\n%s", chat_conn_peer(c), key);
  int retry_after;
  if (chat_limiter_blocked(svc->limiter, l->rate_key, &retry_after)) {
    snprintf(j->headers, sizeof(j->headers), "Retry-After: %d\r\n", retry_after);
    chat_api_set_error(j, 429, "rate_limited", "too many failed logins; wait a little");
    return -1;
  }
  chat_limiter_failed(svc->limiter, l->rate_key);
  return 0;
}

/* Verifying against this when the user does not exist makes both failures
 * cost the same time. */
static char dummy_hash[CHAT_HASH_MAX];
static uv_once_t dummy_once = UV_ONCE_INIT;
static void make_dummy_hash(void) {
  chat_auth_hash_password("not a password", 14, dummy_hash);
}

static void login_run(chat_api_job_t *j, chat_store_t *store) {
  login_job_t *l = container_of(j, login_job_t, super);
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *username = chat_api_str_field(o, "username", &bad);
  const char *password = chat_api_str_field(o, "password", &bad);
  if (bad || !username || !password) {
    chat_api_set_error(j, 400, "bad_request", "username and password are needed");
    cJSON_Delete(o);
    return;
  }
  chat_user_rec_t u;
  int rc = strlen(username) <= CHAT_NAME_MAX ? chat_store_user_by_name(store, username, &u)
                                             : CHAT_ENOTFOUND;
  if (rc == CHAT_EUNAVAIL) {
    chat_api_set_store_error(j);
    cJSON_Delete(o);
    return;
  }
  int ok;
  if (rc == 0) {
    ok = chat_auth_verify_password(u.pwhash, password, strlen(password));
  } else {
    uv_once(&dummy_once, make_dummy_hash);
    chat_auth_verify_password(dummy_hash, password, strlen(password));
    ok = 0;
  }
  cJSON_Delete(o);
  if (!ok) {
    chat_api_set_error(j, 401, "invalid_credentials", "wrong username or password");
    return;
  }
  if (u.banned) {
    chat_api_set_error(j, 403, "banned", "this account is banned");
    return;
  }
  char token[CHAT_TOKEN_CHARS + 1];
  uint8_t th[CHAT_TOKEN_HASH_LEN];
  chat_auth_new_token(token);
  chat_auth_token_hash(token, CHAT_TOKEN_CHARS, th);
  int64_t now = chat_now_ms();
  if (chat_store_session_create(store, th, u.id, now, now + l->session_ms) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  l->login_ok = 1;
  snprintf(j->headers, sizeof(j->headers),
           "Set-Cookie: sid=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%" PRId64 "%s\r\n",
           token, l->session_ms / 1000, j->secure ? "; Secure" : "");
  memset(token, 0, sizeof(token));
  set_user(j, 200, &u);
}

static void login_done(chat_api_job_t *j, const chat_services_t *svc) {
  login_job_t *l = container_of(j, login_job_t, super);
  if (l->login_ok)
    chat_limiter_ok(svc->limiter, l->rate_key);
  else if (j->status != 401)
    chat_limiter_uncount(svc->limiter, l->rate_key);  /* not a wrong password */
}

/* ---- POST /api/logout -------------------------------------------------- */

static void logout_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  if (chat_store_session_delete(store, j->token_hash) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
  snprintf(j->headers, sizeof(j->headers),
           "Set-Cookie: sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0%s\r\n",
           j->secure ? "; Secure" : "");
  chat_api_set_json(j, 204, NULL);
}

/* Closes the session's WebSockets, here and on other instances. */
static void logout_done(chat_api_job_t *j, const chat_services_t *svc) {
  if (j->ok) chat_cluster_revoke(svc->cluster, j->user.id, NULL, j->token_hash, "logged out");
}

/* ---- GET /api/me, PATCH /api/me ---------------------------------------- */

static void me_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  set_user(j, 200, &j->user);
}

static void me_update_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "email_notify");
  if (!cJSON_IsBool(v)) {
    chat_api_set_error(j, 400, "bad_request", "email_notify must be true or false");
  } else if (chat_store_user_set_notify(store, j->user.id, cJSON_IsTrue(v)) != 0) {
    chat_api_set_store_error(j);
  } else {
    j->user.email_notify = cJSON_IsTrue(v);
    set_user(j, 200, &j->user);
  }
  cJSON_Delete(o);
}

/* ---- POST /api/password ------------------------------------------------ */

static void password_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *old_pw = chat_api_str_field(o, "old_password", &bad);
  const char *new_pw = chat_api_str_field(o, "new_password", &bad);
  if (bad || !old_pw || !new_pw) {
    chat_api_set_error(j, 400, "bad_request", "old_password and new_password are needed");
  } else if (!chat_auth_verify_password(j->user.pwhash, old_pw, strlen(old_pw))) {
    chat_api_set_error(j, 403, "wrong_password", "the current password is wrong");
  } else if (!password_ok(new_pw)) {
    chat_api_set_error(j, 400, "weak_password", WEAK_PASSWORD);
  } else {
    char hash[CHAT_HASH_MAX];
    if (chat_auth_hash_password(new_pw, strlen(new_pw), hash) != 0) {
      chat_api_set_error(j, 500, "internal", "could not hash the password");
    } else if (chat_store_user_set_password(store, j->user.id, hash, j->token_hash) != 0) {
      chat_api_set_store_error(j);
    } else {
      j->ok = 1;
      chat_api_set_json(j, 204, NULL);
    }
  }
  cJSON_Delete(o);
}

/* Closes the user's other sessions' WebSockets, here and elsewhere. */
static void password_done(chat_api_job_t *j, const chat_services_t *svc) {
  if (j->ok)
    chat_cluster_revoke(svc->cluster, j->user.id, j->token_hash, NULL, "password changed");
}

static const chat_api_route_t routes[] = {
    {HTTP_POST, "/api/register", CHAT_ROUTE_REGISTER, sizeof(chat_api_job_t), NULL,
     register_run, NULL},
    {HTTP_POST, "/api/login", CHAT_ROUTE_LOGIN, sizeof(login_job_t), login_prepare, login_run,
     login_done},
    {HTTP_POST, "/api/logout", CHAT_ROUTE_LOGOUT, sizeof(chat_api_job_t), NULL, logout_run,
     logout_done},
    {HTTP_GET, "/api/me", CHAT_ROUTE_ME, sizeof(chat_api_job_t), NULL, me_run, NULL},
    {HTTP_PATCH, "/api/me", CHAT_ROUTE_ME_UPDATE, sizeof(chat_api_job_t), NULL, me_update_run,
     NULL},
    {HTTP_POST, "/api/password", CHAT_ROUTE_PASSWORD, sizeof(chat_api_job_t), NULL,
     password_run, password_done},
};

const chat_api_table_t chat_api_accounts = {routes, CHAT_ARRAY_SIZE(routes)};
