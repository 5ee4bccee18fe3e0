/* Internal to the API handlers (api*.c): the job every handler's job starts
 * with, the helpers they share (api.c), and each resource file's rows.
 *
 * A handler's job is its own struct whose first member is the base:
 *
 *   typedef struct { chat_api_job_t super; chat_room_rec_t room; } room_job_t;
 *
 * and the row says sizeof(room_job_t).  chat_api_handle allocates it zeroed,
 * fills the base from the request and frees it after done; the handler gets
 * its struct back with container_of(j, room_job_t, super).
 *
 * Threading: helpers taking a chat_store_t run on the worker; those taking a
 * the services or chat_conn_t run on the loop; the JSON builders on either. */
#ifndef CHAT_ACTORS_API_INT_H
#define CHAT_ACTORS_API_INT_H

#include <cJSON.h>
#include <stdint.h>

#include "../core/auth.h"
#include "../core/common.h"
#include "api.h"
#include "cluster.h"
#include "hasher.h"
#include "limiter.h"
#include "presence.h"
#include "registry.h"
#include "room.h"
#include "roomdir.h"
#include "storage.h"

struct chat_api_job_s {
  chat_job_t super;            /* the storage job; its mail comes back here */
  const chat_api_route_t *route;
  /* the request */
  int64_t ids[2];              /* the route's {id} parameters */
  char name[CHAT_ROUTE_NAME_MAX]; /* its decoded {name} parameter, or "" */
  char *body;                  /* NUL-terminated copy, NULL if empty; wiped
                                  and freed once run returns */
  size_t body_len;
  int has_token;               /* a session cookie of the right length came */
  int secure;                  /* over HTTPS (chat_conn_secure): cookies are Secure */
  uint8_t token_hash[CHAT_TOKEN_HASH_LEN];
  chat_user_rec_t user;        /* set by chat_api_authenticate */
  char host_user[CHAT_NAME_MAX + 1]; /* embed: the user the host vouched for, or "" */
  /* A password hash (hasher.h) to do after prepare or run: set hash.ops and
   * its strings (kept in the handler's job, which is wiped when freed) and
   * then, the worker step that follows if the hash succeeds (the password
   * matched / a new hash was made).  If it does not, the answer set before
   * stands; if the hasher is full, the answer is 503 busy.  done runs in
   * every case. */
  chat_hash_job_t hash;
  chat_api_run_cb then;
  chat_api_run_cb step;        /* private: the worker step queued */
  uint64_t cache_gen;          /* apicache.h: the generation at the request */
  int changes;                 /* not a GET: the caches are cleared when it is done */
  /* the answer */
  int ok;                      /* run succeeded: done may tell the server */
  int status;
  char *json;                  /* owned, malloc'ed (free): by cJSON's printer,
                                  whose allocator is malloc, or a chat_sb_t's
                                  buffer; NULL: no body */
  char headers[512];           /* extra header lines, "" if none */
  /* files: the folder of uploaded files (limits->files_dir; the server's);
   * an answer whose body is not JSON: raw (malloc'ed, raw_len bytes, of
   * type raw_type) with raw_headers (malloc'ed extra header lines, or
   * NULL), sent instead of json when raw_type is set. */
  const char *files_dir;
  const char *raw_type;
  char *raw;
  size_t raw_len;
  char *raw_headers;
};

/* Each resource file's rows. */
typedef struct {
  const chat_api_route_t *v;
  size_t n;
} chat_api_table_t;

extern const chat_api_table_t chat_api_accounts;
extern const chat_api_table_t chat_api_rooms;
extern const chat_api_table_t chat_api_social;
extern const chat_api_table_t chat_api_admin;
extern const chat_api_table_t chat_api_ops;
extern const chat_api_table_t chat_api_files;  /* files: api_files.c */
/* Rooms v2 (api_members.c). */
extern const chat_api_table_t chat_api_members;

/* ---- answers ---------------------------------------------------------- */

/* Sets the answer (replacing one set before); takes root (NULL: no body). */
void chat_api_set_json(chat_api_job_t *j, int status, cJSON *root);
/* {"error":{"code":...,"message":...}} (chat_proto_http_error) */
void chat_api_set_error(chat_api_job_t *j, int status, const char *code, const char *message);
/* 503 store_unavailable. */
void chat_api_set_store_error(chat_api_job_t *j);
/* Answers {"messages":[...]} (message objects of net/proto.h) from a store
 * call's result (an empty page for CHAT_ENOTFOUND, 503 for other failures)
 * and frees the list. */
void chat_api_set_messages(chat_api_job_t *j, int rc, chat_msg_rec_t *msgs, size_t n);
/* New objects (the caller owns them). */
cJSON *chat_api_user_json(const chat_user_rec_t *u, int with_email);
cJSON *chat_api_room_json(const chat_room_rec_t *r);

/* ---- the request, on the worker --------------------------------------- */

/* Finds the session's user into j->user.  On failure (no session, banned,
 * store down) sets the answer and returns -1. */
int chat_api_authenticate(chat_api_job_t *j, chat_store_t *store);
/* chat_api_authenticate, then 403 unless the user is an administrator. */
int chat_api_require_admin(chat_api_job_t *j, chat_store_t *store);
/* Parses the body as a JSON object (the caller deletes it); on failure sets
 * 400 and returns NULL. */
cJSON *chat_api_parse_body(chat_api_job_t *j);
/* A string field: NULL if absent or null; *bad set if present but not a
 * string. */
const char *chat_api_str_field(const cJSON *o, const char *name, int *bad);
/* Finds the user called name into out; on failure sets 404 (or 503) and
 * returns -1. */
int chat_api_find_user(chat_api_job_t *j, chat_store_t *store, const char *name,
                       chat_user_rec_t *out);

/* Rooms v2 (api_members.c), on the worker: the caller may read room
 * j->ids[0] (a public room; a private room's member; an administrator),
 * *owner_id (may be NULL) its owner; else sets 404 no_such_room (or 503)
 * and returns -1.  And who sees a room: *priv, and for a private room its
 * members' ids (*uids malloc'ed, free(); NULL for a public room). */
int chat_api_room_readable(chat_api_job_t *j, chat_store_t *store, int64_t *owner_id);
int chat_api_room_audience(chat_store_t *store, int64_t room, int *priv, int64_t **uids,
                           size_t *n);
/* On the loop: {"type":"room_removed","room":ID} to everyone (a public
 * room) or to uids. */
void chat_api_room_removed(const chat_services_t *svc, int64_t room, int priv,
                           const int64_t *uids, size_t n);

/* ---- the request, on the loop ----------------------------------------- */

/* The client's address key (limiter.h) into out. */
void chat_api_client_addr(chat_conn_t *c, char out[CHAT_ADDR_KEY_MAX]);
/* For prepare: 413 (and -1) if the body is over max bytes, else 0. */
int chat_api_body_max(chat_api_job_t *j, size_t max);
/* For prepare of a route that will hash a password: if the hasher is full
 * now, sets 503 busy with Retry-After and returns -1 (so that a flood of
 * logins costs no store lookups), else 0. */
int chat_api_hasher_busy(chat_api_job_t *j, const chat_services_t *svc);
/* Sets 429 rate_limited with Retry-After: seconds. */
void chat_api_set_rate_limited(chat_api_job_t *j, int seconds, const char *message);

/* A page of history: messages before id before (0: the newest), at most
 * limit of them. */
typedef struct {
  int64_t before;
  int limit;
} chat_api_page_t;

/* Reads before and limit from the query (defaults 0 and CHAT_PAGE_DEFAULT,
 * limit at most CHAT_PAGE_MAX); on a bad one sets 400 and returns -1. */
int chat_api_paging(chat_api_job_t *j, chat_conn_t *c, chat_api_page_t *page);
/* The query parameter name, percent-decoded ('+' is a space, core/pct.h):
 * malloc'ed, NULL if absent, malformed, holding a NUL or not UTF-8. */
char *chat_api_query_text(chat_conn_t *c, const char *name);
/* The query parameter name as a positive id of 1 to 18 digits: 1 and *id
 * set, 0 if absent (*id = 0), -1 if malformed. */
int chat_api_query_id(chat_conn_t *c, const char *name, int64_t *id);

/* ---- live figures, on the loop ----------------------------------------- */

/* The figures /metrics shows. */
typedef struct {
  size_t conns, websockets, rooms;
  uint64_t conns_total, http_requests, ws_frames_in, messages_sent;
  uint64_t store_batches, store_write_ns;
  size_t hash_pending;
  uint64_t hash_refused, conns_refused, frames_limited, ws_refused;
} chat_api_stats_t;
void chat_api_stats(const chat_services_t *svc, chat_api_stats_t *st);

#endif
