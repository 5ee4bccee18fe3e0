/* The file operations of store.h (schema 008), checked once here above
 * the backends (files_int.h), and the files of message lists. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "files_int.h"

static int fits(const char *s, size_t cap) { return s != NULL && strlen(s) < cap; }

static const struct chat_store_files_ops_s *fops(chat_store_t *s) { return s->ops->files; }

int chat_store_file_create(chat_store_t *s, chat_file_rec_t *rec, int64_t quota) {
  if (rec == NULL || rec->owner_id <= 0 || rec->size <= 0 || quota < 0 ||
      !fits(rec->name, sizeof(rec->name)) || rec->name[0] == '\0' ||
      !fits(rec->type, sizeof(rec->type)) || !fits(rec->path, sizeof(rec->path)) ||
      rec->path[0] == '\0' || !fits(rec->thumb, sizeof(rec->thumb)))
    return CHAT_EINVAL;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  rec->msg_kind = CHAT_FILE_NONE;
  rec->msg_id = 0;
  return fops(s)->create(s, rec, quota);
}

int chat_store_file_get_readable(chat_store_t *s, int64_t id, int64_t user_id,
                                 chat_file_rec_t *out) {
  int ok = 0, rc;

  if (out == NULL || id <= 0) return CHAT_ENOTFOUND;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  rc = fops(s)->readable(s, id, user_id, &ok);
  if (rc) return rc;
  if (!ok) return CHAT_ENOTFOUND;
  return fops(s)->get(s, id, out);
}

int chat_store_files_claimable(chat_store_t *s, int64_t owner_id,
                               const int64_t *ids, size_t n,
                               chat_file_rec_t *out) {
  size_t i, k;
  int rc;

  if (n > CHAT_FILES_PER_MSG || (n > 0 && (ids == NULL || out == NULL))) return CHAT_EINVAL;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  for (i = 0; i < n; i++) {
    for (k = 0; k < i; k++)
      if (ids[k] == ids[i]) return CHAT_ENOTFOUND; /* named twice */
    rc = ids[i] > 0 ? fops(s)->get(s, ids[i], &out[i]) : CHAT_ENOTFOUND;
    if (rc) return rc;
    if (out[i].owner_id != owner_id || out[i].msg_kind != CHAT_FILE_NONE)
      return CHAT_ENOTFOUND;
  }
  return 0;
}

int chat_store_files_take(chat_store_t *s, int kind, int64_t msg_id,
                          chat_file_rec_t **out, size_t *n) {
  int rc;

  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  if (kind != CHAT_FILE_ROOM && kind != CHAT_FILE_DM) return CHAT_EINVAL;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  rc = fops(s)->range(s, kind, msg_id, msg_id, out, n);
  if (rc) return rc;
  if (*n == 0) return 0;
  rc = fops(s)->delete_msg(s, kind, msg_id);
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

int chat_store_files_take_orphans(chat_store_t *s, chat_file_rec_t **out, size_t *n) {
  chat_file_rec_t *v = NULL;
  size_t nv = 0, i = 0, done = 0;
  int rc;

  if (out == NULL || n == NULL) return CHAT_EINVAL;
  *out = NULL;
  *n = 0;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  rc = fops(s)->orphans(s, &v, &nv);
  if (rc) return rc;
  /* One delete per message (the rows come ordered by message); v[0..done)
   * are the files whose rows are gone. */
  while (i < nv) {
    size_t j = i + 1;
    while (j < nv && v[j].msg_kind == v[i].msg_kind && v[j].msg_id == v[i].msg_id) j++;
    rc = fops(s)->delete_msg(s, v[i].msg_kind, v[i].msg_id);
    if (rc) break;
    done = i = j;
  }
  if (done == 0) {
    free(v);
    return rc;
  }
  *out = v;
  *n = done;
  return 0;
}

int chat_store_user_set_avatar(chat_store_t *s, int64_t user_id, int64_t file_id) {
  if (user_id <= 0 || file_id < 0) return CHAT_EINVAL;
  if (fops(s) == NULL) return CHAT_EUNAVAIL;
  return fops(s)->set_avatar(s, user_id, file_id);
}

/* Fills one kind's messages from one range read: the files of messages
 * with lo <= id <= hi, matched to the list by id. */
static int fill_kind(chat_store_t *s, chat_msg_rec_t *msgs, size_t n, int room) {
  int64_t lo = 0, hi = 0;
  chat_file_rec_t *v = NULL;
  size_t nv = 0, i, k;
  int rc;

  for (i = 0; i < n; i++) {
    if ((msgs[i].room != 0) != room) continue;
    if (lo == 0 || msgs[i].id < lo) lo = msgs[i].id;
    if (msgs[i].id > hi) hi = msgs[i].id;
  }
  if (lo == 0) return 0;
  rc = fops(s)->range(s, room ? CHAT_FILE_ROOM : CHAT_FILE_DM, lo, hi, &v, &nv);
  if (rc) return rc;
  for (i = 0; i < n && nv > 0; i++) {
    chat_msg_rec_t *m = &msgs[i];
    if ((m->room != 0) != room) continue;
    for (k = 0; k < nv; k++) {
      if (v[k].msg_id != m->id) continue;
      m->files = chat_xrealloc(m->files, (m->nfiles + 1) * sizeof(*m->files));
      m->files[m->nfiles++] = v[k];
    }
  }
  free(v);
  return 0;
}

int chat_store_files_fill(chat_store_t *s, chat_msg_rec_t *msgs, size_t n) {
  size_t i;
  int rc;

  for (i = 0; i < n; i++) {
    msgs[i].files = NULL;
    msgs[i].nfiles = 0;
  }
  if (n == 0 || fops(s) == NULL) return 0;
  rc = fill_kind(s, msgs, n, 1);
  if (rc == 0) rc = fill_kind(s, msgs, n, 0);
  return rc;
}
