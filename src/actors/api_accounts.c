/* API routes of accounts: register, log in and out, the user's own record
 * and password.  See api.h for the steps of a handler. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../core/ident.h"
#include "../core/json.h"
#include "../core/limits.h"
#include "../core/text.h"
#include "../net/proto.h"
#include "api_int.h"
#include "webhook.h"

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

/* prepare checks the request (a small body, parsed on the loop) and counts
 * the registration against the address; run makes sure the name is free
 * before the hasher makes the password's hash; register_create stores the
 * user; done gives the count back unless an account was made. */
typedef struct {
  chat_api_job_t super;
  char addr[CHAT_ADDR_KEY_MAX];
  char username[CHAT_NAME_MAX + 1];   /* its NFKC form */
  char email[CHAT_EMAIL_MAX];
  char password[CHAT_PASSWORD_MAX_BYTES + 1];
  int counted;
} register_job_t;

static int register_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  register_job_t *r = container_of(j, register_job_t, super);
  if (chat_api_body_max(j, CHAT_AUTH_BODY_MAX) || chat_api_hasher_busy(j, svc)) return -1;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return -1;
  int bad = 0;
  const char *username = chat_api_str_field(o, "username", &bad);
  const char *password = chat_api_str_field(o, "password", &bad);
  const char *email = chat_api_str_field(o, "email", &bad);
  char name[CHAT_NAME_MAX + 1];  /* the NFKC form: stored and shown */
  chat_username_rc_t urc = CHAT_USERNAME_BAD;
  int rc = -1;
  if (bad) {
    chat_api_set_error(j, 400, "bad_request", "username, password and email are strings");
  } else if (!username || (urc = chat_username_check(username, name)) != CHAT_USERNAME_OK) {
    chat_api_set_error(j, 400, "invalid_username", chat_username_message(urc));
  } else if (!password || !password_ok(password)) {
    chat_api_set_error(j, 400, "weak_password", WEAK_PASSWORD);
  } else if (email && *email && !chat_email_valid(email)) {
    /* Optional: absent, null or "" is no address (and no mail). */
    chat_api_set_error(j, 400, "invalid_email", "that is not an e-mail address");
  } else {
    snprintf(r->username, sizeof(r->username), "%s", name);
    snprintf(r->email, sizeof(r->email), "%s", email ? email : "");
    snprintf(r->password, sizeof(r->password), "%s", password);
    rc = 0;
  }
  cJSON_Delete(o);
  if (rc != 0) return -1;
  chat_api_client_addr(c, r->addr);
  int wait = svc->limiter ? chat_limiter_register_begin(svc->limiter, r->addr) : 0;
  if (wait) {
    chat_api_set_rate_limited(j, wait, "too many registrations from this address; wait a while");
    return -1;
  }
  r->counted = 1;
  return 0;
}

static void register_create(chat_api_job_t *j, chat_store_t *store) {
  register_job_t *r = container_of(j, register_job_t, super);
  chat_user_rec_t u;
  int rc = chat_store_user_create(store, r->username, r->email, j->hash.hash, CHAT_ROLE_USER,
                                  chat_now_ms(), &u);
  if (rc == CHAT_EEXIST)
    chat_api_set_error(j, 409, "username_taken", "that username is taken");
  else if (rc != 0)
    chat_api_set_store_error(j);
  else
    set_user(j, 201, &u);
}

static void register_run(chat_api_job_t *j, chat_store_t *store) {
  register_job_t *r = container_of(j, register_job_t, super);
  chat_user_rec_t u;
  int rc = chat_store_user_by_name(store, r->username, &u);
  if (rc == 0) {
    chat_api_set_error(j, 409, "username_taken", "that username is taken");
    return;
  }
  if (rc != CHAT_ENOTFOUND) {
    chat_api_set_store_error(j);
    return;
  }
  chat_api_set_error(j, 500, "internal", "could not hash the password");
  j->hash.ops = CHAT_HASH_MAKE;
  j->hash.new_password = r->password;
  j->hash.new_password_len = strlen(r->password);
  j->then = register_create;
}

static void register_done(chat_api_job_t *j, const chat_services_t *svc) {
  register_job_t *r = container_of(j, register_job_t, super);
  if (r->counted && j->status != 201) chat_limiter_register_undo(svc->limiter, r->addr);
}

/* ---- POST /api/login --------------------------------------------------- */

/* prepare reads the small body on the loop and asks the limiter (failures
 * per account and per address; the attempt counts as a failure as soon as
 * it arrives, so parallel guesses cannot get past a limit); run finds the
 * user and hands the password to the hasher, against the stored hash or,
 * for no such user, a dummy of the same cost; login_session makes the
 * session if it matched; done tells the limiter how it ended. */
typedef struct {
  chat_api_job_t super;
  char addr[CHAT_ADDR_KEY_MAX];
  char account[CHAT_IDENT_KEY_MAX];   /* the limiter's key: the username's
                                         identity key (ＢＯＢ and bоb are bob) */
  char username[CHAT_NAME_MAX + 1];   /* "" if too long to be anyone's */
  char password[CHAT_PASSWORD_MAX_BYTES + 1];
  int password_too_long;              /* nobody's password is that long */
  int64_t session_ms;
  int counted;
  int login_ok;
} login_job_t;

static int login_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  login_job_t *l = container_of(j, login_job_t, super);
  l->session_ms = svc->limits->session_ms;
  if (chat_api_body_max(j, CHAT_AUTH_BODY_MAX) || chat_api_hasher_busy(j, svc)) return -1;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return -1;
  int bad = 0;
  const char *username = chat_api_str_field(o, "username", &bad);
  const char *password = chat_api_str_field(o, "password", &bad);
  if (bad || !username || !password) {
    chat_api_set_error(j, 400, "bad_request", "username and password are needed");
    cJSON_Delete(o);
    return -1;
  }
  if (strlen(username) <= CHAT_NAME_MAX) {
    snprintf(l->username, sizeof(l->username), "%s", username);
    chat_ident_key(username, strlen(username), l->account, sizeof(l->account));
  }
  if (strlen(password) <= CHAT_PASSWORD_MAX_BYTES)
    snprintf(l->password, sizeof(l->password), "%s", password);
  else
    l->password_too_long = 1;
  cJSON_Delete(o);
  chat_api_client_addr(c, l->addr);
  int wait = svc->limiter ? chat_limiter_login_begin(svc->limiter, l->addr, l->account) : 0;
  if (wait) {
    chat_api_set_rate_limited(j, wait, "too many failed logins; wait a little");
    return -1;
  }
  l->counted = 1;
  return 0;
}

static void login_session(chat_api_job_t *j, chat_store_t *store) {
  login_job_t *l = container_of(j, login_job_t, super);
  const chat_user_rec_t *u = &j->user;
  if (u->banned) {
    chat_api_set_error(j, 403, "banned", "this account is banned");
    return;
  }
  char token[CHAT_TOKEN_CHARS + 1];
  uint8_t th[CHAT_TOKEN_HASH_LEN];
  chat_auth_new_token(token);
  chat_auth_token_hash(token, CHAT_TOKEN_CHARS, th);
  int64_t now = chat_now_ms();
  if (chat_store_session_create(store, th, u->id, now, now + l->session_ms) != 0) {
    chat_api_set_store_error(j);
    chat_auth_wipe(token, sizeof(token));
    return;
  }
  l->login_ok = 1;
  snprintf(j->headers, sizeof(j->headers),
           "Set-Cookie: sid=%s; HttpOnly; SameSite=Lax; Path=/; Max-Age=%" PRId64 "%s\r\n",
           token, l->session_ms / 1000, j->secure ? "; Secure" : "");
  chat_auth_wipe(token, sizeof(token));
  set_user(j, 200, u);
}

static void login_run(chat_api_job_t *j, chat_store_t *store) {
  login_job_t *l = container_of(j, login_job_t, super);
  int rc = l->username[0] ? chat_store_user_by_name(store, l->username, &j->user)
                          : CHAT_ENOTFOUND;
  if (rc == CHAT_EUNAVAIL) {
    chat_api_set_store_error(j);
    return;
  }
  /* What stands unless the password matches. */
  chat_api_set_error(j, 401, "invalid_credentials", "wrong username or password");
  if (l->password_too_long) return;
  j->hash.ops = CHAT_HASH_VERIFY;
  j->hash.password = l->password;
  j->hash.password_len = strlen(l->password);
  if (rc == 0) {
    snprintf(j->hash.hash, sizeof(j->hash.hash), "%s", j->user.pwhash);
    j->then = login_session;
  } else {
    j->hash.hash[0] = '\0';  /* the hasher's dummy: the same cost, never a match */
  }
}

static void login_done(chat_api_job_t *j, const chat_services_t *svc) {
  login_job_t *l = container_of(j, login_job_t, super);
  if (j->status == 401) svc->metrics->logins_failed++;
  if (!l->counted) return;
  /* Banned: the password was right, so it was no guess. */
  chat_login_outcome_t how = l->login_ok || j->status == 403 ? CHAT_LOGIN_OK
                             : j->status == 401              ? CHAT_LOGIN_FAILED
                                                             : CHAT_LOGIN_UNCOUNTED;
  chat_limiter_login_end(svc->limiter, l->addr, l->account, how);
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

/* PATCH /api/me: {display_name?, avatar?, email?, email_notify?, phone?,
 * webhook_notify?}, at least one of them.  Every field is checked before anything is stored.
 *   display_name  a string chat_display_name_check takes (trimmed, NFC), or
 *                 null to show the username again; else 400
 *                 invalid_display_name
 *   avatar        the id of an image the user uploaded (it has a
 *                 thumbnail: the avatar is that), or null for none; else
 *                 400 bad_request
 * A change of display name or avatar reaches every connected client as a
 * user_updated frame (me_update_done).
 *   email         an address chat_email_valid takes, or "" / null for none
 *                 (no mail then); else 400 invalid_email
 *   email_notify  true or false; else 400 bad_request
 *   phone         an E.164 number ("+" and 8 to 15 digits, the first not 0;
 *                 chat_webhook_phone_valid), or "" / null for none; else 400
 *                 invalid_phone
 *   webhook_notify  true or false; else 400 bad_request */
static void me_update_run(chat_api_job_t *j, chat_store_t *store) {
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  const cJSON *dn = cJSON_GetObjectItemCaseSensitive(o, "display_name");
  const cJSON *av = cJSON_GetObjectItemCaseSensitive(o, "avatar");
  const cJSON *em = cJSON_GetObjectItemCaseSensitive(o, "email");
  const cJSON *nt = cJSON_GetObjectItemCaseSensitive(o, "email_notify");
  const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "phone");           /* schema 011 */
  const cJSON *wn = cJSON_GetObjectItemCaseSensitive(o, "webhook_notify");
  char name[CHAT_DISPLAY_NAME_MAX];
  const char *why, *set_name = NULL, *set_email = NULL, *set_phone = NULL;

  if (!dn && !av && !em && !nt && !ph && !wn) {
    chat_api_set_error(j, 400, "bad_request",
                       "give display_name, avatar, email, email_notify, phone or webhook_notify");
    goto out;
  }
  if (dn && cJSON_IsNull(dn)) {
    set_name = "";
  } else if (dn) {
    if (!cJSON_IsString(dn)) {
      chat_api_set_error(j, 400, "invalid_display_name", "display_name must be a string or null");
      goto out;
    }
    if ((why = chat_display_name_check(dn->valuestring, name)) != NULL) {
      chat_api_set_error(j, 400, "invalid_display_name", why);
      goto out;
    }
    /* The username itself is stored as "no display name". */
    set_name = strcmp(name, j->user.username) == 0 ? "" : name;
  }
  int64_t set_avatar = -1;  /* files: -1 keeps it */
  if (av && cJSON_IsNull(av)) {
    set_avatar = 0;
  } else if (av) {
    if (!cJSON_IsNumber(av) || av->valuedouble < 1 || av->valuedouble > 9007199254740991.0 ||
        av->valuedouble != (double)(int64_t)av->valuedouble) {
      chat_api_set_error(j, 400, "bad_request", "avatar must be a file id or null");
      goto out;
    }
    set_avatar = (int64_t)av->valuedouble;
  }
  if (em && cJSON_IsNull(em)) {
    set_email = "";
  } else if (em) {
    if (!cJSON_IsString(em) || (*em->valuestring && !chat_email_valid(em->valuestring))) {
      chat_api_set_error(j, 400, "invalid_email", "that is not an e-mail address");
      goto out;
    }
    set_email = em->valuestring;
  }
  if (nt && !cJSON_IsBool(nt)) {
    chat_api_set_error(j, 400, "bad_request", "email_notify must be true or false");
    goto out;
  }
  if (ph && cJSON_IsNull(ph)) {
    set_phone = "";
  } else if (ph) {
    if (!cJSON_IsString(ph) || (*ph->valuestring && !chat_webhook_phone_valid(ph->valuestring))) {
      chat_api_set_error(j, 400, "invalid_phone",
                         "a phone number is + and 8 to 15 digits (E.164), e.g. +8613800138000");
      goto out;
    }
    set_phone = ph->valuestring;
  }
  if (wn && !cJSON_IsBool(wn)) {
    chat_api_set_error(j, 400, "bad_request", "webhook_notify must be true or false");
    goto out;
  }
  /* files: the avatar first, the one field the store checks. */
  if (set_avatar >= 0) {
    int rc = chat_store_user_set_avatar(store, j->user.id, set_avatar);
    if (rc == CHAT_ENOTFOUND) {
      chat_api_set_error(j, 400, "bad_request", "avatar must be an image you uploaded");
      goto out;
    }
    if (rc != 0) {
      chat_api_set_store_error(j);
      goto out;
    }
    j->user.avatar_file = set_avatar;
  }
  if ((set_name || set_email) &&
      chat_store_user_set_profile(store, j->user.id, set_name, set_email) != 0) {
    chat_api_set_store_error(j);
    goto out;
  }
  if (nt && chat_store_user_set_notify(store, j->user.id, cJSON_IsTrue(nt)) != 0) {
    chat_api_set_store_error(j);
    goto out;
  }
  if ((set_phone && chat_store_user_set_phone(store, j->user.id, set_phone) != 0) ||
      (wn && chat_store_user_set_webhook_notify(store, j->user.id, cJSON_IsTrue(wn)) != 0)) {
    chat_api_set_store_error(j);
    goto out;
  }
  if (set_phone) snprintf(j->user.phone, sizeof(j->user.phone), "%s", set_phone);
  if (wn) j->user.webhook_notify = cJSON_IsTrue(wn);
  if (set_name)
    snprintf(j->user.display_name, sizeof(j->user.display_name), "%s",
             *set_name ? set_name : j->user.username);
  if (set_email) snprintf(j->user.email, sizeof(j->user.email), "%s", set_email);
  if (nt) j->user.email_notify = cJSON_IsTrue(nt);
  j->ok = set_name != NULL || set_avatar >= 0;  /* files: others hear of it */
  set_user(j, 200, &j->user);
out:
  cJSON_Delete(o);
}

/* files: every connected client (here and on other instances) learns the
 * new name or avatar. */
static void me_update_done(chat_api_job_t *j, const chat_services_t *svc) {
  if (!j->ok || svc->cluster == NULL) return;
  char url[64] = "";
  if (j->user.avatar_file > 0) chat_proto_thumb_url(url, sizeof(url), j->user.avatar_file);
  chat_rbuf_t *b = chat_proto_user_updated_frame(j->user.id, j->user.username,
                                                 j->user.display_name, url);
  chat_cluster_user_updated(svc->cluster, b);
  chat_rbuf_unref(b);
}

/* ---- POST /api/password ------------------------------------------------ */

/* run checks the request and hands both passwords to the hasher, which
 * makes the new hash only if the old password matches; password_store
 * stores it; done closes the user's other sessions' sockets. */
typedef struct {
  chat_api_job_t super;
  char old_pw[CHAT_PASSWORD_MAX_BYTES + 1];
  char new_pw[CHAT_PASSWORD_MAX_BYTES + 1];
} password_job_t;

static void password_store(chat_api_job_t *j, chat_store_t *store) {
  if (chat_store_user_set_password(store, j->user.id, j->hash.hash, j->token_hash) != 0) {
    chat_api_set_store_error(j);
    return;
  }
  j->ok = 1;
  chat_api_set_json(j, 204, NULL);
}

static void password_run(chat_api_job_t *j, chat_store_t *store) {
  password_job_t *p = container_of(j, password_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  cJSON *o = chat_api_parse_body(j);
  if (!o) return;
  int bad = 0;
  const char *old_pw = chat_api_str_field(o, "old_password", &bad);
  const char *new_pw = chat_api_str_field(o, "new_password", &bad);
  if (bad || !old_pw || !new_pw) {
    chat_api_set_error(j, 400, "bad_request", "old_password and new_password are needed");
  } else if (!password_ok(new_pw)) {
    chat_api_set_error(j, 400, "weak_password", WEAK_PASSWORD);
  } else {
    /* What stands unless the old password matches. */
    chat_api_set_error(j, 403, "wrong_password", "the current password is wrong");
    if (strlen(old_pw) <= CHAT_PASSWORD_MAX_BYTES) {
      snprintf(p->old_pw, sizeof(p->old_pw), "%s", old_pw);
      snprintf(p->new_pw, sizeof(p->new_pw), "%s", new_pw);
      j->hash.ops = CHAT_HASH_VERIFY | CHAT_HASH_MAKE;
      snprintf(j->hash.hash, sizeof(j->hash.hash), "%s", j->user.pwhash);
      j->hash.password = p->old_pw;
      j->hash.password_len = strlen(p->old_pw);
      j->hash.new_password = p->new_pw;
      j->hash.new_password_len = strlen(p->new_pw);
      j->then = password_store;
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
    {HTTP_POST, "/api/register", CHAT_ROUTE_REGISTER, sizeof(register_job_t), register_prepare,
     register_run, register_done},
    {HTTP_POST, "/api/login", CHAT_ROUTE_LOGIN, sizeof(login_job_t), login_prepare, login_run,
     login_done},
    {HTTP_POST, "/api/logout", CHAT_ROUTE_LOGOUT, sizeof(chat_api_job_t), NULL, logout_run,
     logout_done},
    {HTTP_GET, "/api/me", CHAT_ROUTE_ME, sizeof(chat_api_job_t), NULL, me_run, NULL},
    {HTTP_PATCH, "/api/me", CHAT_ROUTE_ME_UPDATE, sizeof(chat_api_job_t), NULL, me_update_run,
     me_update_done},
    {HTTP_POST, "/api/password", CHAT_ROUTE_PASSWORD, sizeof(password_job_t), NULL,
     password_run, password_done},
};

const chat_api_table_t chat_api_accounts = {routes, CHAT_ARRAY_SIZE(routes)};
