/* The protocol's file pieces (proto.h, "files"): the "files" of send and dm
 * frames, file objects in message objects, the user_updated frame. */
#include <stdio.h>
#include <string.h>

#include "../core/sb.h"
#include "proto.h"
#include "ws.h"

#define ID_LIMIT 9007199254740992.0 /* 2^53 */

int chat_proto_files_decode(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "files");
  req->nfiles = 0;
  if (v == NULL || cJSON_IsNull(v)) return 0;
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
  int ok = n >= 0 && n <= 10;
  for (int i = 0; ok && i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(v, i);
    if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble >= ID_LIMIT ||
        e->valuedouble != (double)(int64_t)e->valuedouble) {
      ok = 0;
      break;
    }
    int64_t id = (int64_t)e->valuedouble;
    for (size_t k = 0; k < req->nfiles; k++)
      if (req->files[k] == id) ok = 0;
    req->files[req->nfiles++] = id;
  }
  if (!ok) {
    req->nfiles = 0;
    err->code = CHAT_PROTO_BAD_REQUEST;
    err->message = "files must be a list of at most 10 different file ids";
    err->cid = req->cid;
    return -1;
  }
  if (req->nfiles > 0 && req->text == NULL) req->text = "";
  return 0;
}

void chat_proto_msg_files(chat_sb_t *sb, const chat_proto_msg_t *m) {
  if (m->files_json == NULL) return;
  chat_sb_puts(sb, ",\"files\":");
  chat_sb_puts(sb, m->files_json);
}

/* Percent-encodes s for one path segment (RFC 3986 unreserved kept). */
static void put_segment(chat_sb_t *sb, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      chat_sb_append(sb, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      chat_sb_append(sb, e, 3);
    }
  }
}

void chat_proto_thumb_url(char *out, size_t cap, int64_t id) {
  snprintf(out, cap, "/files/thumb/%lld", (long long)id);
}

void chat_proto_file_obj(chat_sb_t *sb, int64_t id, const char *name, int64_t size,
                         const char *type, int has_thumb) {
  chat_sb_puts(sb, "{\"id\":");
  chat_sb_int(sb, id);
  chat_sb_puts(sb, ",\"name\":");
  chat_sb_json_str(sb, name, strlen(name));
  chat_sb_puts(sb, ",\"size\":");
  chat_sb_int(sb, size);
  chat_sb_puts(sb, ",\"type\":");
  chat_sb_json_str(sb, type, strlen(type));
  /* The URL holds only ASCII: no escaping needed in JSON. */
  chat_sb_puts(sb, ",\"url\":\"/files/");
  chat_sb_int(sb, id);
  chat_sb_puts(sb, "/");
  put_segment(sb, name);
  chat_sb_puts(sb, "\",\"thumb_url\":");
  if (has_thumb) {
    char url[64];
    chat_proto_thumb_url(url, sizeof(url), id);
    chat_sb_json_str(sb, url, strlen(url));
  } else {
    chat_sb_puts(sb, "null");
  }
  chat_sb_puts(sb, "}");
}

chat_rbuf_t *chat_proto_user_updated_frame(int64_t id, const char *username,
                                           const char *display_name, const char *avatar) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "{\"type\":\"user_updated\",\"user\":{\"id\":");
  chat_sb_int(&sb, id);
  chat_sb_puts(&sb, ",\"username\":");
  chat_sb_json_str(&sb, username, strlen(username));
  chat_sb_puts(&sb, ",\"display_name\":");
  chat_sb_json_str(&sb, display_name, strlen(display_name));
  chat_sb_puts(&sb, ",\"avatar\":");
  if (avatar && avatar[0])
    chat_sb_json_str(&sb, avatar, strlen(avatar));
  else
    chat_sb_puts(&sb, "null");
  chat_sb_puts(&sb, "}}");
  chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, sb.buf, sb.len);
  chat_sb_free(&sb);
  return b;
}
