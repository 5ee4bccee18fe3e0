/* The store: durable users, sessions, rooms and messages.
 *
 * One interface, several backends (SQLite now; MySQL later).  Every function
 * here is synchronous and may block on disk or network, so it is called only
 * from worker threads (the storage actor in src/actors/storage.c does that);
 * never from the event loop.  All functions are thread-safe: a backend keeps
 * a pool of connections and each call borrows one for its duration.
 *
 * Return values: 0 (CHAT_OK) or a negative CHAT_E* code from core/common.h.
 *   CHAT_ENOTFOUND  the row does not exist
 *   CHAT_EEXIST     a unique name is taken
 *   CHAT_EUNAVAIL   the database failed or is unreachable (retry later)
 * Output structs are filled only on success.  Strings in records are fixed
 * arrays (no ownership questions) except message texts, which are owned by
 * the list that holds them and freed with chat_store_msgs_free().
 */
#ifndef CHAT_STORE_STORE_H
#define CHAT_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/auth.h"   /* CHAT_HASH_MAX, CHAT_TOKEN_HASH_LEN */
#include "../core/common.h"
#include "../core/limits.h" /* CHAT_NAME_MAX, CHAT_EMAIL_MAX, CHAT_TOPIC_MAX, CHAT_CID_MAX */

typedef enum { CHAT_ROLE_USER = 0, CHAT_ROLE_ADMIN = 1 } chat_role_t;

typedef struct chat_store chat_store_t;

typedef struct {
  int64_t id;
  char username[CHAT_NAME_MAX + 1];
  char email[CHAT_EMAIL_MAX];
  char pwhash[CHAT_HASH_MAX];
  chat_role_t role;
  int banned;
  int email_notify;                 /* 1: e-mail about missed DMs/mentions */
  int64_t created_ms;
  /* The name shown (schema 007): the one the user chose, else the
   * username (so never ""). */
  char display_name[CHAT_DISPLAY_NAME_MAX];
  /* files (schema 008): the avatar's file id, 0 for none. */
  int64_t avatar_file;
  /* notification channels (schema 011): the phone number in E.164 form
   * ("+" and 8 to 15 digits), "" for none; 1: missed DMs/mentions go to
   * the webhook. */
  char phone[CHAT_PHONE_MAX];
  int webhook_notify;
} chat_user_rec_t;

typedef struct {
  int64_t id;
  char name[CHAT_NAME_MAX + 1];
  char topic[CHAT_TOPIC_MAX];
} chat_room_rec_t;

typedef struct {
  int64_t id;
  int64_t room;                     /* room id; 0 for a direct message */
  char sender[CHAT_NAME_MAX + 1];   /* sender's username */
  char to[CHAT_NAME_MAX + 1];       /* a direct message's receiver; "" else */
  char *text;                       /* owned by the list; NUL-terminated */
  int64_t ts;                       /* ms since the epoch */
  int64_t seq;                      /* the message's number in its room
                                       (1, 2, 3...); 0 for a direct message
                                       and in search results */
  /* extras (schema 009), filled by every read that returns a list */
  int deleted;                      /* 1: a tombstone (text is "") */
  char *extra;                      /* NULL, or the extra members of its
                                       message object (",\"reply_to\":...",
                                       net/proto.h); owned by the list */
  /* files (schema 008): the files the message carries, in id order, owned
   * by the list (chat_store_msgs_free); NULL with nfiles 0 for none. */
  struct chat_file_rec_s *files;
  size_t nfiles;
} chat_msg_rec_t;

/* A room's sequence: the highest seq handed out (0: none yet). */
typedef struct {
  int64_t id;
  int64_t last_seq;
} chat_room_seq_t;

/* One room message to insert as part of a batch.  The caller fills the
 * inputs; chat_store_msg_insert_batch fills the outputs. */
typedef struct {
  /* in */
  int64_t room;         /* the room, or 0 for a direct message */
  int64_t to_id;        /* a direct message's receiver, or 0 */
  int64_t sender_id;
  const char *text;     /* valid UTF-8, already trimmed and checked */
  size_t text_len;      /* strlen(text), or 0: not known (the store measures) */
  const char *cid;      /* NULL or the client's id, at most CHAT_CID_MAX-1 bytes */
  int64_t ts;           /* the time to record */
  /* out */
  int64_t id;           /* the new message id, or the id stored earlier */
  int64_t stored_ts;    /* ts of the stored row (the earlier one if dup) */
  int64_t seq;          /* a new room message's number in its room; 0 for a
                           dup (which takes no number) and a direct message */
  int dup;              /* 1: (sender_id, cid) was stored before; nothing new */
  int status;           /* 0, or CHAT_ENOTFOUND if the room no longer exists */
  /* extras (schema 009), in: what the sender's checks found */
  int64_t reply_to;              /* the message replied to (same room or
                                    conversation), or 0 */
  const char *mentions;          /* NULL, or the JSON array of the
                                    usernames mentioned */
  const int64_t *mention_ids;    /* users whose mention counts it */
  size_t nmention_ids;
  /* files (schema 008), in: the ids of files to attach to the new message
   * (the sender's own, checked beforehand: chat_store_files_claimable); a
   * file already attached elsewhere meanwhile is left where it is. */
  const int64_t *files;
  size_t nfiles;
} chat_msg_insert_t;

/* Opens the store named by url: "sqlite:PATH" (or a bare PATH) for SQLite.
 * Creates the database (and its parent folder) if needed and applies the
 * schema migrations that are missing.  pool_size is the number of
 * connections (>= 1).  On failure returns a negative code and, if err is
 * not NULL, writes a message into err (errlen bytes). */
int chat_store_open(const char *url, int pool_size, chat_store_t **out,
                    char *err, size_t errlen);
/* Closes every connection and frees the store.  NULL is a no-op. */
void chat_store_close(chat_store_t *s);
/* "sqlite" or "mysql". */
const char *chat_store_kind(const chat_store_t *s);
/* A cheap round trip to the database: 0 if it answers. */
int chat_store_ping(chat_store_t *s);
/* What a backend that syncs and checkpoints its own files (SQLite,
 * sqlite_sync.c) has done so far: have 0 and the counts 0 for the others.
 * Any thread; it takes the backend's lock for a moment. */
typedef struct {
  int have;
  uint64_t syncs;        /* fdatasyncs of the WAL, each covering every commit before it */
  uint64_t checkpoints;  /* checkpoints run by the checkpoint thread */
  uint64_t wal_waits;    /* commits that waited for a checkpoint: the WAL was full */
  uint64_t wal_cap_pages; /* the WAL pages at which that happens */
} chat_store_sync_stats_t;
void chat_store_sync_stats(chat_store_t *s, chat_store_sync_stats_t *out);

/* Users.  A username is stored as given (callers pass the NFKC form that
 * chat_username_check wrote) and is unique by its identity key
 * (core/ident.h): no two users have names that differ only in case,
 * compatibility forms, invisible characters or letters that look alike
 * (bob, BOB, ｂｏｂ, bоb with a Cyrillic о, 𝐛𝐨𝐛 are one name), and, as
 * before keys, none differ only in ASCII case.  CHAT_EEXIST if taken;
 * CHAT_EINVAL if the name has no key (not UTF-8, or its key is over
 * CHAT_IDENT_KEY_MAX). */
int chat_store_user_create(chat_store_t *s, const char *username,
                           const char *email, const char *pwhash,
                           chat_role_t role, int64_t now_ms,
                           chat_user_rec_t *out);
/* The user a typed name means: the one whose stored name it is (ASCII case
 * aside), else the one with the same identity key, so ＢＯＢ finds bob.
 * CHAT_ENOTFOUND if none. */
int chat_store_user_by_name(chat_store_t *s, const char *username,
                            chat_user_rec_t *out);
int chat_store_user_by_id(chat_store_t *s, int64_t id, chat_user_rec_t *out);
/* Sets a new password hash and deletes every session of the user except the
 * one whose hash is keep_token_hash (NULL: delete them all). */
int chat_store_user_set_password(chat_store_t *s, int64_t user_id,
                                 const char *pwhash,
                                 const uint8_t *keep_token_hash);

/* Sessions are keyed by the SHA-256 of the token; the token itself is never
 * stored. */
int chat_store_session_create(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t user_id, int64_t now_ms,
                              int64_t expires_ms);
/* Finds an unexpired session (expires_ms > now_ms) and its user.
 * CHAT_ENOTFOUND if absent or expired. */
int chat_store_session_lookup(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN],
                              int64_t now_ms, chat_user_rec_t *user_out);
/* Deletes one session; deleting an absent one is not an error. */
int chat_store_session_delete(chat_store_t *s,
                              const uint8_t token_hash[CHAT_TOKEN_HASH_LEN]);

/* Rooms.  Names are unique without regard to ASCII case. */
int chat_store_room_create(chat_store_t *s, const char *name,
                           const char *topic, chat_room_rec_t *out);
/* name or topic may be NULL to keep the current value. */
int chat_store_room_update(chat_store_t *s, int64_t id, const char *name,
                           const char *topic, chat_room_rec_t *out);
/* Deletes the room and its messages. */
int chat_store_room_delete(chat_store_t *s, int64_t id);
int chat_store_room_get(chat_store_t *s, int64_t id, chat_room_rec_t *out);
/* All rooms ordered by id.  *out is a malloc'ed array the caller frees with
 * free(); *n its length. */
int chat_store_room_list(chat_store_t *s, chat_room_rec_t **out, size_t *n);
/* The highest message seq handed out in room id (0: none); CHAT_ENOTFOUND
 * if there is no such room. */
int chat_store_room_last_seq(chat_store_t *s, int64_t id, int64_t *out);
/* Every room's last_seq, ordered by id (malloc'ed array; free()). */
int chat_store_room_seqs(chat_store_t *s, chat_room_seq_t **out, size_t *n);

/* Inserts n messages in one transaction, in array order (ids increase in
 * that order).  A message whose (sender_id, cid) pair was stored before is
 * not stored again: its item gets dup=1 and the earlier id and ts.  An item
 * whose room does not exist gets status CHAT_ENOTFOUND and the others still
 * commit.  Returns CHAT_EUNAVAIL (nothing committed) if the transaction
 * fails.
 *
 * Room sequences: each new room message gets seq, its number in its room,
 * from the room's counter (rooms.last_seq) raised in the same transaction,
 * before the inserts and for the batch's rooms in ascending id order (so
 * two writers never wait on each other's rooms in a cycle).  The counter's
 * row stays locked until the commit, so per room: numbers are dense (a
 * rolled-back batch gives them back; dups and failed items take none),
 * commits happen in seq order, and ids grow with seq. */
int chat_store_msg_insert_batch(chat_store_t *s, chat_msg_insert_t *items,
                                size_t n);
/* Group commit in a pipeline: chat_store_msg_insert_batch, but it returns
 * once the batch is committed, perhaps before the commit is on disk, with
 * *ticket for chat_store_durable_wait (0: already on disk).  Batches commit
 * in the order of the calls, so the caller may start the next one as soon
 * as this returns and wait for the disk meanwhile.  Backends that cannot
 * commit without syncing (MySQL: the server syncs) always give 0.  The
 * outputs are final when it returns; they are promises until the wait. */
int chat_store_msg_insert_batch_nowait(chat_store_t *s, chat_msg_insert_t *items,
                                       size_t n, uint64_t *ticket);
/* Returns once the commit of ticket is on disk: 0, or CHAT_EUNAVAIL if the
 * sync failed (the batch must then count as failed). */
int chat_store_durable_wait(chat_store_t *s, uint64_t ticket);
/* 1 if chat_store_msg_insert_batch_nowait can give tickets (a pipeline of
 * batches pays off), else 0. */
int chat_store_can_pipeline(const chat_store_t *s);

/* Up to limit messages of a room with id < before_id (before_id <= 0: the
 * newest), in ascending id order. */
int chat_store_msg_history(chat_store_t *s, int64_t room, int64_t before_id,
                           int limit, chat_msg_rec_t **out, size_t *n);
/* The newest up to limit messages of a room with id > since_id, in ascending
 * id order. */
int chat_store_msg_since(chat_store_t *s, int64_t room, int64_t since_id,
                         int limit, chat_msg_rec_t **out, size_t *n);
/* The messages of a room with from_seq <= seq < to_seq, in ascending seq
 * order, the lowest up to limit of them (holes, i.e. deleted messages, are
 * simply absent).  No such room: an empty list. */
int chat_store_msg_by_seq(chat_store_t *s, int64_t room, int64_t from_seq,
                          int64_t to_seq, int limit, chat_msg_rec_t **out,
                          size_t *n);
/* Frees a list returned by the three functions above.  NULL is a no-op. */
void chat_store_msgs_free(chat_msg_rec_t *msgs, size_t n);

/* ---- direct messages --------------------------------------------------
 * Stored by chat_store_msg_insert_batch too (items with to_id != 0 and
 * room 0), in their own table with sender and receiver, ids from their own
 * sequence; (sender_id, cid) de-duplicates them as for rooms.  A DM item
 * whose receiver does not exist gets status CHAT_ENOTFOUND. */

/* Up to limit direct messages between users a and b (both directions) with
 * id < before_id (before_id <= 0: the newest), ascending by id. */
int chat_store_dm_history(chat_store_t *s, int64_t a, int64_t b, int64_t before_id,
                          int limit, chat_msg_rec_t **out, size_t *n);
/* Up to limit direct messages of anybody with id > after_id, ascending by
 * id (the cluster's catch-up after a Redis outage, cluster.h). */
int chat_store_dm_since(chat_store_t *s, int64_t after_id, int limit,
                        chat_msg_rec_t **out, size_t *n);
/* The highest direct message id (0: none). */
int chat_store_dm_last_id(chat_store_t *s, int64_t *out);

/* ---- friends ---------------------------------------------------------- */

typedef enum {
  CHAT_FRIEND_NONE = 0,
  CHAT_FRIEND_OUTGOING = 1,   /* I asked, no answer yet */
  CHAT_FRIEND_INCOMING = 2,   /* they asked me */
  CHAT_FRIEND_ACCEPTED = 3,   /* friends */
} chat_friend_state_t;

typedef struct {
  int64_t user_id;
  char username[CHAT_NAME_MAX + 1];
  char display_name[CHAT_DISPLAY_NAME_MAX];  /* as chat_user_rec_t's */
  chat_friend_state_t state;  /* as seen by the user the list belongs to */
} chat_friend_rec_t;

/* from_id asks to_id; if to_id had asked from_id, they become friends.
 * Already friends or already asked: nothing changes.  *state_out: the
 * state from from_id's side afterwards (OUTGOING or ACCEPTED).
 * CHAT_ENOTFOUND if to_id does not exist; CHAT_EINVAL if from_id == to_id. */
int chat_store_friend_request(chat_store_t *s, int64_t from_id, int64_t to_id,
                              int64_t now_ms, chat_friend_state_t *state_out);
/* Ends a friendship, or declines / cancels a request, in either direction;
 * 0 also when there was nothing. */
int chat_store_friend_remove(chat_store_t *s, int64_t a, int64_t b);
/* The state between a and b as seen by a. */
int chat_store_friend_state(chat_store_t *s, int64_t a, int64_t b,
                            chat_friend_state_t *out);
/* Friends and requests of user_id, ordered by username (malloc'ed array;
 * free()). */
int chat_store_friend_list(chat_store_t *s, int64_t user_id, chat_friend_rec_t **out,
                           size_t *n);

/* ---- search -----------------------------------------------------------
 * Every stored message (room or direct) is indexed by the unigrams and
 * bigrams of its text (code points, ASCII folded to lower case), written
 * shortly after the message by chat_store_index_pending.  A query finds
 * candidates through the index (its bigrams, or its one character), checks
 * the messages the index has not reached yet directly, and keeps those
 * whose text really contains the query, so two-character Chinese words
 * match. */

/* Messages containing q (ignoring ASCII case) that user_id may read: room
 * messages of every room (room_id 0) or of room_id, and direct messages
 * user_id sent or received (only when room_id is 0); newest first, at most
 * limit.  CHAT_EINVAL if q is empty after trimming. */
int chat_store_search(chat_store_t *s, int64_t user_id, const char *q, int64_t room_id,
                      int limit, chat_msg_rec_t **out, size_t *n);

/* Brings the search index up to date, a little at a time: indexes up to
 * max stored messages (room and direct) that are not indexed yet, oldest
 * first, in one transaction, and writes their count into *done (0: the
 * index is up to date).  Message inserts do not index (so they stay
 * cheap); the storage actor calls this when the writer is idle.  Search
 * also finds messages the index has not reached yet, by checking them
 * directly, so results are complete whatever the lag. */
int chat_store_index_pending(chat_store_t *s, int max, int *done);

/* ---- moderation ------------------------------------------------------- */

/* Every user ordered by username (malloc'ed array; free()). */
int chat_store_user_list(chat_store_t *s, chat_user_rec_t **out, size_t *n);
/* Bans (deleting every session of the user) or unbans; CHAT_ENOTFOUND. */
int chat_store_user_set_banned(chat_store_t *s, int64_t user_id, int banned);
/* ---- people (schema 007) ----------------------------------------------- */

/* Sets the user's display name and/or e-mail; NULL keeps a value.
 * display_name is one chat_display_name_check (core/text.h) took (its
 * output), or "" to go back to showing the username; email is "" (none:
 * no mail) or one chat_email_valid took.  CHAT_ENOTFOUND if there is no
 * such user; CHAT_EINVAL if a string does not fit its record field. */
int chat_store_user_set_profile(chat_store_t *s, int64_t user_id,
                                const char *display_name, const char *email);
/* Users who are not banned whose username or display name starts with
 * prefix, ASCII letters compared without case and everything else byte for
 * byte (after NFC of prefix: 张 finds 张三), at most limit (1..100) of
 * them, ordered by username (ASCII case aside).  Each name is found by a
 * range scan of its index, at most limit rows each, so the cost is bounded
 * whatever the prefix.  *out is a malloc'ed array (free()), possibly NULL
 * with *n 0.  CHAT_EINVAL if prefix is empty after trimming or not UTF-8. */
int chat_store_user_search(chat_store_t *s, const char *prefix, int limit,
                           chat_user_rec_t **out, size_t *n);

/* Turns e-mail notifications on or off; CHAT_ENOTFOUND. */
int chat_store_user_set_notify(chat_store_t *s, int64_t user_id, int on);
/* notification channels (schema 011): sets the phone number (an E.164
 * number checked by the caller, or "" for none); turns the webhook on or
 * off for the user.  CHAT_ENOTFOUND. */
int chat_store_user_set_phone(chat_store_t *s, int64_t user_id, const char *phone);
int chat_store_user_set_webhook_notify(chat_store_t *s, int64_t user_id, int on);
/* A room message by id with its sender's id; out->text is malloc'ed (free
 * it with free()).  CHAT_ENOTFOUND. */
int chat_store_msg_get(chat_store_t *s, int64_t id, chat_msg_rec_t *out,
                       int64_t *sender_id);
/* Deletes room message id of room_id: it stays as a tombstone (schema
 * 009: text emptied, marked deleted, its reactions, mentions and index
 * entries gone); CHAT_ENOTFOUND if there is no such message in that room
 * or it is deleted already. */
int chat_store_msg_delete(chat_store_t *s, int64_t room_id, int64_t id);
/* Appends to the audit log. */
int chat_store_audit(chat_store_t *s, int64_t actor_id, const char *action,
                     const char *target, const char *detail, int64_t now_ms);

/* ---- read markers ----------------------------------------------------- */

/* Moves user_id's last-read marker of a room (peer_id 0) or of the direct
 * messages with peer_id (room_id 0) forward to last_id (never back). */
int chat_store_read_mark(chat_store_t *s, int64_t user_id, int64_t room_id,
                         int64_t peer_id, int64_t last_id);

typedef struct {
  int64_t room_id;                  /* or 0 */
  int64_t peer_id;                  /* or 0 */
  char peer[CHAT_NAME_MAX + 1];     /* the peer's username for DMs */
  int64_t last_read;                /* the marker (0: none) */
  int64_t count;                    /* messages after it (from others) */
  /* extras (schema 009) */
  int64_t mentions;                 /* those of them that mention the user */
} chat_unread_rec_t;

/* Unread counts of user_id: for each room with a marker, the messages of
 * others after it; for each peer who sent user_id direct messages, those
 * after the marker (all of them without one).  Entries with count 0 are
 * left out.  malloc'ed array; free(). */
int chat_store_unread(chat_store_t *s, int64_t user_id, chat_unread_rec_t **out,
                      size_t *n);

/* ---- extras: replies, mentions, reactions, edits, tombstones ----------
 * (schema 009, store/extras.c).  dm: 0 for a room message, 1 for a direct
 * message.  Reads that return message lists fill each record's deleted
 * and extra (reply_to, mentions, reactions, edited_ts), with two more
 * queries per list whatever its length. */

/* A message as the checks of a reply, edit, reaction or recall see it. */
typedef struct {
  int64_t id;
  int64_t room;                     /* 0 for a direct message */
  int64_t sender_id, to_id;         /* to_id: a direct message's receiver */
  char sender[CHAT_NAME_MAX + 1];
  char *text;                       /* malloc'ed (free()); "" if deleted */
  int deleted;
} chat_msg_ref_t;

/* Message id of that kind; CHAT_ENOTFOUND if there is none. */
int chat_store_msg_ref(chat_store_t *s, int dm, int64_t id, chat_msg_ref_t *out);
/* Replaces the text of message id (not deleted) by sender_id's new text
 * (checked as for send) and marks it edited at now_ms; its search rows
 * follow the new text.  CHAT_ENOTFOUND: no such message of that sender,
 * or deleted. */
int chat_store_msg_edit(chat_store_t *s, int dm, int64_t id, int64_t sender_id,
                        const char *text, int64_t now_ms);
/* Adds (on 1) or removes user_id's reaction emoji (chat_emoji_check took
 * it) on message id; doing it twice changes nothing.  CHAT_ENOTFOUND: no
 * such message, or deleted; CHAT_EAGAIN: the message has
 * CHAT_REACTIONS_MAX distinct emoji and this would be one more. */
int chat_store_msg_react(chat_store_t *s, int dm, int64_t id, int64_t user_id,
                         const char *emoji, int on, int64_t now_ms);
/* Turns a direct message into a tombstone (as chat_store_msg_delete does a
 * room message): the text emptied, its reactions, mentions and search rows
 * gone.  CHAT_ENOTFOUND if there is no such message or it is deleted. */
int chat_store_dm_delete(chat_store_t *s, int64_t id);

/* ---- health ----------------------------------------------------------- */

/* Proves that the store can commit a write, not only answer: one tiny
 * write (a counter in the one-row table health_probe, schema 006) in a
 * transaction of its own, committed as durably as a message.  0, or
 * CHAT_EUNAVAIL (logged by the backend) when the write or its commit fails:
 * a database or file system gone read-only, a full disk, a file size limit,
 * a lock held elsewhere past the transaction retries.  It blocks like every
 * call here (a busy lock can take the retries' whole time); callers run it
 * on a worker and rate-limit it (GET /healthz: at most once a second). */
int chat_store_write_probe(chat_store_t *s);

/* ---- files (schema 008) ------------------------------------------------
 * A file's row: who uploaded it, what it is, where its bytes are (names
 * relative to the files directory, made by the server, never from the
 * user's name) and which message carries it, if any. */
#define CHAT_FILE_NAME_MAX 256   /* bytes of a file's name, with the NUL */
#define CHAT_FILE_TYPE_MAX 128   /* bytes of a MIME type, with the NUL */
#define CHAT_FILE_PATH_MAX 128   /* bytes of a relative path, with the NUL */
#define CHAT_FILES_PER_MSG 10    /* files one message may carry */
#define CHAT_STORE_EQUOTA (-40)  /* chat_store_file_create: over the quota */

enum { CHAT_FILE_NONE = 0, CHAT_FILE_ROOM = 1, CHAT_FILE_DM = 2 };

typedef struct chat_file_rec_s {
  int64_t id;
  int64_t owner_id;
  char name[CHAT_FILE_NAME_MAX];
  int64_t size;
  char type[CHAT_FILE_TYPE_MAX];
  char path[CHAT_FILE_PATH_MAX];
  char thumb[CHAT_FILE_PATH_MAX];   /* "" when there is no thumbnail */
  int64_t created_ms;
  int msg_kind;                     /* CHAT_FILE_NONE, _ROOM or _DM */
  int64_t msg_id;                   /* 0 with CHAT_FILE_NONE */
} chat_file_rec_t;

/* Stores a new file row from rec (owner_id, name, size, type, path, thumb,
 * created_ms; not attached) if the owner's files then add up to at most
 * quota bytes; rec->id is set.  CHAT_ELIMIT when over the quota,
 * CHAT_EINVAL when a string does not fit. */
int chat_store_file_create(chat_store_t *s, chat_file_rec_t *rec, int64_t quota);
/* The row of file id into out, if user_id may read it: its uploader, a
 * reader of the message carrying it (any user for a public room's message,
 * its members and administrators for a private room's, the two
 * sides of a direct message), or anyone when it is somebody's avatar.
 * CHAT_ENOTFOUND otherwise (and when there is no such file). */
int chat_store_file_get_readable(chat_store_t *s, int64_t id, int64_t user_id,
                                 chat_file_rec_t *out);
/* The rows of files ids[0..n) into out (n records) if each is owner_id's
 * and not attached to a message; CHAT_ENOTFOUND if one is not. */
int chat_store_files_claimable(chat_store_t *s, int64_t owner_id,
                               const int64_t *ids, size_t n,
                               chat_file_rec_t *out);
/* Removes the rows of the files carried by message msg_id of kind
 * (CHAT_FILE_ROOM or _DM) and hands them to the caller (*out malloc'ed,
 * free(); NULL with *n 0 for none), who removes their bytes. */
int chat_store_files_take(chat_store_t *s, int kind, int64_t msg_id,
                          chat_file_rec_t **out, size_t *n);
/* Removes the rows of the files whose message is gone (a deleted room
 * takes its messages with it) and hands them to the caller (*out malloc'ed,
 * free(); NULL with *n 0 for none), who removes their bytes.  After a
 * failure part way, the files handed over are those whose rows are gone. */
int chat_store_files_take_orphans(chat_store_t *s, chat_file_rec_t **out, size_t *n);
/* Sets the user's avatar to file_id (0: none).  With a file, it must be
 * the user's own image with a thumbnail: CHAT_ENOTFOUND otherwise. */
int chat_store_user_set_avatar(chat_store_t *s, int64_t user_id,
                               int64_t file_id);

#endif
