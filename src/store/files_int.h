/* Internal to the store: each backend's file operations (schema 008),
 * reached through chat_store_ops_t.files, with arguments checked once above
 * them by files.c.  Synchronous and thread-safe like every store call.
 * Return values as in store.h. */
#ifndef CHAT_STORE_FILES_INT_H
#define CHAT_STORE_FILES_INT_H

#include "store.h"

struct chat_store_files_ops_s {
  /* Inserts rec (not attached) if the owner's sizes plus rec->size stay
   * within quota; sets rec->id.  CHAT_STORE_EQUOTA otherwise. */
  int (*create)(chat_store_t *s, chat_file_rec_t *rec, int64_t quota);
  /* The row of file id; CHAT_ENOTFOUND. */
  int (*get)(chat_store_t *s, int64_t id, chat_file_rec_t *out);
  /* *ok 1 if user_id may read file id (store.h,
   * chat_store_file_get_readable), else 0. */
  int (*readable)(chat_store_t *s, int64_t id, int64_t user_id, int *ok);
  /* The files attached to messages of kind with lo <= msg_id <= hi,
   * ordered by msg_id then id (*out malloc'ed, free(); may be NULL). */
  int (*range)(chat_store_t *s, int kind, int64_t lo, int64_t hi,
               chat_file_rec_t **out, size_t *n);
  /* Deletes the rows of the files of message msg_id of kind. */
  int (*delete_msg)(chat_store_t *s, int kind, int64_t msg_id);
  /* users.avatar_file = file_id (0: none); CHAT_ENOTFOUND if no such
   * user, or if file_id is not one of the user's files with a thumbnail. */
  int (*set_avatar)(chat_store_t *s, int64_t user_id, int64_t file_id);
  /* The files attached to room messages or direct messages that no longer
   * exist, ordered by msg_kind, msg_id, id (*out malloc'ed, free(); may be
   * NULL). */
  int (*orphans)(chat_store_t *s, chat_file_rec_t **out, size_t *n);
};

extern const struct chat_store_files_ops_s chat_sqlite_files_ops;
extern const struct chat_store_files_ops_s chat_mysql_files_ops;

/* Fills the files of each message of a list a backend returned (msgs[i]
 * .files and .nfiles; room messages have room != 0).  On failure the list
 * keeps what it had and the error is returned. */
int chat_store_files_fill(chat_store_t *s, chat_msg_rec_t *msgs, size_t n);

#endif
