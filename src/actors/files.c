/* Files as actors and handlers see them: see files.h. */
#include "files.h"

#include <stdlib.h>

#include "../core/log.h"
#include "../core/sb.h"
#include "../net/proto.h"
#include "files_disk.h"

char *chat_files_json(const chat_file_rec_t *v, size_t n) {
  if (n == 0) return NULL;
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_puts(&sb, "[");
  for (size_t i = 0; i < n; i++) {
    if (i) chat_sb_puts(&sb, ",");
    chat_proto_file_obj(&sb, v[i].id, v[i].name, v[i].size, v[i].type, v[i].thumb[0] != '\0');
  }
  chat_sb_puts(&sb, "]");
  return sb.buf;
}

void chat_files_drop_orphans(chat_store_t *store, const char *dir) {
  chat_file_rec_t *v = NULL;
  size_t n = 0;
  int rc = chat_store_files_take_orphans(store, &v, &n);
  if (rc != 0) chat_log_warn("files: orphaned files stay (store error %d)", rc);
  for (size_t i = 0; i < n && dir; i++) {
    chat_files_unlink(dir, v[i].path);
    chat_files_unlink(dir, v[i].thumb);
  }
  free(v);
}

void chat_files_drop_msg(chat_store_t *store, const char *dir, int kind, int64_t msg_id) {
  chat_file_rec_t *v = NULL;
  size_t n = 0;
  int rc = chat_store_files_take(store, kind, msg_id, &v, &n);
  if (rc != 0) {
    chat_log_warn("files: the files of message %lld stay (store error %d)", (long long)msg_id,
                  rc);
    return;
  }
  for (size_t i = 0; i < n && dir; i++) {
    chat_files_unlink(dir, v[i].path);
    chat_files_unlink(dir, v[i].thumb);
  }
  free(v);
}
