/* Files as actors and handlers see them (schema 008): the JSON of a
 * message's files, and removing a message's files.  The HTTP side is in
 * api_files.c, the bytes on disk in files_disk.h. */
#ifndef CHAT_ACTORS_FILES_H
#define CHAT_ACTORS_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

/* The JSON array of the file objects of v[0..n) (net/proto.h,
 * chat_proto_file_obj), malloc'ed (the caller frees it); NULL when n is 0.
 * Any thread. */
char *chat_files_json(const chat_file_rec_t *v, size_t n);

/* On a worker: removes the files of message msg_id of kind (CHAT_FILE_ROOM
 * or CHAT_FILE_DM): their rows, then their bytes and thumbnails under dir.
 * Failures are logged; the message's deletion stands either way. */
void chat_files_drop_msg(chat_store_t *store, const char *dir, int kind, int64_t msg_id);

/* On a worker: removes the files whose message is gone (after a room was
 * deleted with its messages), rows then bytes.  Failures are logged. */
void chat_files_drop_orphans(chat_store_t *store, const char *dir);

#endif
