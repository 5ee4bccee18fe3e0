/* The files API (docs/PROTOCOL.md, "Files"): uploads and downloads.
 *
 *   POST /api/files?name=NAME   the body is the file's bytes (any
 *                               Content-Type; its own size limit, conn.c)
 *   GET  /files/{id}/{name}     the bytes, for those who may read them
 *   GET  /files/thumb/{id}      the thumbnail of an image
 *
 * Everything that blocks runs in the run steps on worker threads: the
 * session and the store, libmagic (the type comes from the content, never
 * from the name), writing the bytes (temporary name, then rename), the
 * thumbnail (libvips), reading the bytes back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/utf8.h"
#include "../net/proto.h"
#include "api_int.h"
#include "files.h"
#include "files_disk.h"

/* ---- POST /api/files --------------------------------------------------- */

typedef struct {
  chat_api_job_t super;
  char name[CHAT_FILE_NAME_MAX];
  int64_t quota;
} upload_job_t;

/* The name as stored and shown: 1 to 255 bytes of UTF-8 without control
 * characters; '/' and '\' become '_' (it is never a path, but a saved
 * download should not be one either).  NULL if acceptable, else why not. */
static const char *name_check(const char *in, char *out, size_t cap) {
  size_t n = strlen(in);
  if (n == 0) return "name is empty";
  if (n >= cap) return "name is over 255 bytes";
  if (!chat_utf8_valid(in, n)) return "name must be UTF-8";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c < 0x20 || c == 0x7f) return "name has control characters";
    out[i] = (c == '/' || c == '\\') ? '_' : (char)c;
  }
  out[n] = '\0';
  if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0) return "name is not a file name";
  return NULL;
}

static int upload_prepare(chat_api_job_t *j, const chat_services_t *svc, chat_conn_t *c) {
  upload_job_t *u = container_of(j, upload_job_t, super);
  char *name = chat_api_query_text(c, "name");
  const char *why = name ? name_check(name, u->name, sizeof(u->name)) : "give ?name=FILENAME";
  free(name);
  if (why) {
    chat_api_set_error(j, 400, "bad_request", why);
    return -1;
  }
  if (j->body_len == 0) {
    chat_api_set_error(j, 400, "bad_request", "the body (the file's bytes) is empty");
    return -1;
  }
  u->quota = (int64_t)svc->limits->file_quota;
  return 0;
}

static void upload_run(chat_api_job_t *j, chat_store_t *store) {
  upload_job_t *u = container_of(j, upload_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  chat_file_rec_t rec;
  memset(&rec, 0, sizeof(rec));
  rec.owner_id = j->user.id;
  snprintf(rec.name, sizeof(rec.name), "%s", u->name);
  rec.size = (int64_t)j->body_len;
  rec.created_ms = chat_now_ms();
  chat_files_detect(j->body, j->body_len, rec.type, sizeof(rec.type));
  if (chat_files_write(j->files_dir, j->body, j->body_len, rec.path, sizeof(rec.path)) != 0) {
    chat_api_set_error(j, 503, "store_unavailable", "the file could not be stored; try again");
    return;
  }
  if (chat_files_is_image(rec.type) &&
      chat_files_thumb(j->files_dir, j->body, j->body_len, rec.thumb, sizeof(rec.thumb)) != 0)
    rec.thumb[0] = '\0';  /* an image libvips cannot read is kept as a plain file */
  int rc = chat_store_file_create(store, &rec, u->quota);
  if (rc != 0) {
    chat_files_unlink(j->files_dir, rec.path);
    chat_files_unlink(j->files_dir, rec.thumb);
    if (rc == CHAT_STORE_EQUOTA)
      chat_api_set_error(j, 429, "quota_exceeded", "your files would exceed your storage quota");
    else
      chat_api_set_store_error(j);
    return;
  }
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"file\":");
  chat_proto_file_obj(&sb, rec.id, rec.name, rec.size, rec.type, rec.thumb[0] != '\0');
  chat_sb_puts(&sb, "}");
  j->status = 201;
  free(j->json);
  j->json = sb.buf;
}

/* ---- GET /files/{id}/{name}, /files/thumb/{id} -------------------------- */

/* Appends filename="ASCII" (others as _) and filename*=UTF-8''pct (RFC
 * 6266, RFC 5987) for name. */
static void put_filename(chat_sb_t *sb, const char *name) {
  static const char hex[] = "0123456789ABCDEF";
  chat_sb_puts(sb, "; filename=\"");
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    char c = (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') ? '_' : (char)*p;
    chat_sb_append(sb, &c, 1);
  }
  chat_sb_puts(sb, "\"; filename*=UTF-8''");
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("!#$&+-.^_`|~", c)) {
      chat_sb_append(sb, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      chat_sb_append(sb, e, 3);
    }
  }
}

typedef struct {
  chat_api_job_t super;
  char type[CHAT_FILE_TYPE_MAX];  /* the answer's Content-Type */
} get_job_t;

/* Reads the file (or its thumbnail) for the user, or answers 404. */
static void serve(chat_api_job_t *j, chat_store_t *store, int thumb) {
  get_job_t *g = container_of(j, get_job_t, super);
  if (chat_api_authenticate(j, store)) return;
  chat_file_rec_t rec;
  int rc = chat_store_file_get_readable(store, j->ids[0], j->user.id, &rec);
  if (rc == 0 && thumb && rec.thumb[0] == '\0') rc = CHAT_ENOTFOUND;
  if (rc == CHAT_ENOTFOUND) {
    chat_api_set_error(j, 404, "not_found", "no such file");
    return;
  }
  if (rc != 0) {
    chat_api_set_store_error(j);
    return;
  }
  if (chat_files_read(j->files_dir, thumb ? rec.thumb : rec.path, &j->raw, &j->raw_len) != 0) {
    chat_log_warn("files: file %lld is missing on disk", (long long)rec.id);
    chat_api_set_error(j, 404, "not_found", "no such file");
    return;
  }
  int inline_ok = thumb || chat_files_is_image(rec.type);
  chat_sb_t sb;
  chat_sb_init(&sb);
  /* Nothing served here may run script or load anything, even opened as a
   * page; non-images are downloads; the bytes never change (only
   * disappear), but they are the reader's own (private). */
  chat_sb_puts(&sb,
               "Content-Security-Policy: sandbox; default-src 'none'; img-src 'self'; "
               "style-src 'unsafe-inline'\r\n"
               "Cache-Control: private, max-age=86400\r\n"
               "Cross-Origin-Resource-Policy: same-origin\r\n"
               "Content-Disposition: ");
  chat_sb_puts(&sb, inline_ok ? "inline" : "attachment");
  put_filename(&sb, thumb ? "thumb.webp" : rec.name);
  chat_sb_puts(&sb, "\r\n");
  j->raw_headers = sb.buf;
  /* The type libmagic found (a plain type/subtype, files_disk.c). */
  snprintf(g->type, sizeof(g->type), "%s", thumb ? "image/webp" : rec.type);
  j->raw_type = g->type;
  j->status = 200;
}

static void file_get_run(chat_api_job_t *j, chat_store_t *store) { serve(j, store, 0); }
static void file_thumb_run(chat_api_job_t *j, chat_store_t *store) { serve(j, store, 1); }

static const chat_api_route_t routes[] = {
    {HTTP_POST, "/api/files", CHAT_ROUTE_FILES_UPLOAD, sizeof(upload_job_t), upload_prepare,
     upload_run, NULL},
    {HTTP_GET, "/files/{id}/{name}", CHAT_ROUTE_FILE_GET, sizeof(get_job_t), NULL,
     file_get_run, NULL},
    {HTTP_GET, "/files/thumb/{id}", CHAT_ROUTE_FILE_THUMB, sizeof(get_job_t), NULL,
     file_thumb_run, NULL},
};

const chat_api_table_t chat_api_files = {routes, CHAT_ARRAY_SIZE(routes)};
