/* Embedding (include/chat.h, "Hooks for the host"): the host's callbacks
 * as the actors reach them, and the host's posts into rooms.
 *
 * The server owns one chat_embed_t and points chat_services_t.embed at it
 * (NULL in tests that fill their own services: no hooks).  Everything here
 * runs on the loop thread except chat_embed_user, a worker step. */
#ifndef CHAT_ACTORS_EMBED_H
#define CHAT_ACTORS_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "../../include/chat.h"
#include "../core/limits.h"
#include "../net/http.h"
#include "../store/store.h"
#include "services.h"

struct chat_embed_s {
  chat_server_t *srv;
  chat_message_cb on_message;
  void *message_ud;
  chat_auth_cb auth;
  void *auth_ud;
};

/* A message was stored (committed) through this server: the host's
 * on_message callback, if any, sees it.  room_id 0 and to set: a DM. */
void chat_embed_message(const chat_services_t *svc, int64_t id, int64_t room_id,
                        const char *to, const char *sender, const char *text, size_t text_len,
                        int64_t ts, const char *json, size_t json_len);

/* Host authentication: 1 and the user's name (checked, NFKC, into name)
 * when the host's callback vouches for the request; 0 when there is no
 * callback or it does not (then the chat's own session cookie counts). */
int chat_embed_auth(const chat_services_t *svc, const chat_http_req_t *req,
                    char name[CHAT_NAME_MAX + 1]);

/* On a worker: the user named by a host, created (without a usable
 * password) if missing.  0, CHAT_EUNAVAIL, or another negative code. */
int chat_embed_user(chat_store_t *store, const char *name, chat_user_rec_t *out);



/* ---- the server's side (server.c, conn.c) ---- */
chat_embed_t *chat_embed_of(chat_server_t *srv);
chat_services_t *chat_embed_services(chat_server_t *srv);
/* 0 if p (NULL or "" for none) is a usable url_prefix, else -1 with err. */
int chat_embed_prefix_check(const char *p, char *err, size_t errlen);
#endif
