/* The chat protocol: every JSON frame a WebSocket client and the server
 * exchange, and every event chatd instances exchange through Redis, encoded
 * and decoded in one place.  docs/PROTOCOL.md describes the same frames in
 * prose; test/unit/test_proto.c checks that its examples are what this file
 * produces.
 *
 * Encoders append JSON text to a string builder (core/sb.h) the caller has
 * initialised, so one builder can gather several pieces (a Redis batch, a
 * list of message objects); the *_frame functions return a WebSocket text
 * frame in a new reference-counted buffer (one reference, the caller's).
 * Strings passed to encoders must be valid UTF-8 (they are escaped as JSON,
 * never checked).  Field order and spelling are part of the contract:
 * clients and tests see these bytes.
 *
 * Decoders parse with cJSON.  What they return points into the parsed
 * value, which the caller frees with the matching *_free function (also
 * after a failed decode).
 *
 * Pure functions: no state, no I/O; any thread.  Out of memory aborts
 * (core/common.h). */
#ifndef CHAT_NET_PROTO_H
#define CHAT_NET_PROTO_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/auth.h"
#include "../core/limits.h"
#include "../core/rbuf.h"
#include "../core/sb.h"

/* ---- error codes of `error` frames ------------------------------------- */

typedef enum {
  CHAT_PROTO_BAD_JSON = 1,      /* the frame is not one JSON value in UTF-8 */
  CHAT_PROTO_UNKNOWN_TYPE,      /* a "type" this server does not know */
  CHAT_PROTO_BAD_REQUEST,       /* fields missing, of the wrong type or out of range */
  CHAT_PROTO_NO_SUCH_ROOM,
  CHAT_PROTO_NOT_MEMBER,        /* send, typing or leave without join */
  CHAT_PROTO_EMPTY_TEXT,        /* nothing left after trimming */
  CHAT_PROTO_TEXT_TOO_LONG,     /* over CHAT_TEXT_MAX_CHARS characters */
  CHAT_PROTO_NOT_FRIENDS,
  CHAT_PROTO_RATE_LIMITED,
  CHAT_PROTO_STORE_UNAVAILABLE,
  /* extras: react, edit, delete and reply_to */
  CHAT_PROTO_NOT_FOUND,         /* no such message there (or deleted) */
  CHAT_PROTO_FORBIDDEN,         /* not the sender's message */
  CHAT_PROTO_TOO_MANY_REACTIONS,/* the message has CHAT_REACTIONS_MAX emoji */
} chat_proto_code_t;

/* The wire name of a code ("bad_json", ...); "internal" for anything else. */
const char *chat_proto_code_name(chat_proto_code_t code);

/* Why a client frame was refused: what the `error` frame says. */
typedef struct {
  chat_proto_code_t code;
  const char *message;   /* static English text */
  const char *cid;       /* the frame's cid when the error carries it, else
                            NULL; points into the request */
} chat_proto_error_t;

/* ---- client to server ---------------------------------------------------- */

typedef enum {
  CHAT_PROTO_JOIN = 1,
  CHAT_PROTO_LEAVE,
  CHAT_PROTO_SEND,
  CHAT_PROTO_TYPING,
  CHAT_PROTO_DM,
  CHAT_PROTO_PING,       /* {"type":"ping"}: answered {"type":"pong"}, a
                            heartbeat a page can see (WebSocket pings it
                            cannot) */
  /* extras: on a message of a room ("room") or of a conversation ("to") */
  CHAT_PROTO_REACT,      /* {"type":"react",...,"id","emoji","on"} */
  CHAT_PROTO_EDIT,       /* {"type":"edit",...,"id","text"} */
  CHAT_PROTO_DELETE,     /* {"type":"delete",...,"id"}: the recall */
} chat_proto_req_type_t;

/* The flat frames chat_proto_req_decode reads without cJSON: at most this
 * many bytes and members (the root included). */
#define CHAT_PROTO_FLAT_BYTES 1024
#define CHAT_PROTO_FLAT_NODES 12

typedef struct {
  chat_proto_req_type_t type;
  int64_t room;          /* join, leave, send, typing: 1 to 2^53 - 1 */
  int64_t since;         /* join: when has_since, 0 to 2^53 - 1 */
  int has_since;
  const char *to;        /* dm: the receiver as sent (any length) */
  const char *text;      /* send, dm: as sent, untrimmed; chat_proto_text_check */
  const char *cid;       /* send, dm: NULL or at most CHAT_CID_MAX - 1 bytes */
  cJSON *root;           /* owns the strings above */
  /* extras.  send, dm: reply_to (0: none).  react, edit, delete: exactly
   * one of room (> 0) and to (non-NULL), and id; react: emoji (any
   * string, checked by the caller) and on; edit: text, as for send. */
  int64_t reply_to;
  int64_t id;
  const char *emoji;
  int on;
  /* files: send, dm: the file ids of "files" (1 to 10 of them, or none);
   * with files, an absent text is "". */
  int64_t files[10];
  size_t nfiles;
  /* A small flat frame (every value a string without escapes, an integer,
   * true, false or null) is read without cJSON's allocations: root then
   * points at flat_nodes, its strings in flat_buf (proto.c, flat_parse). */
  cJSON flat_nodes[CHAT_PROTO_FLAT_NODES];
  char flat_buf[CHAT_PROTO_FLAT_BYTES];
} chat_proto_req_t;

/* Decodes one text message from a client.  Returns 0 with req filled, or -1
 * with err set (the frame is answered with that error and otherwise
 * ignored).  Checks only the frame itself, in this order: JSON (bad_json),
 * an object with a string "type" (bad_request), a known type
 * (unknown_type), then per type: send and dm a cid that is absent, null or
 * a short string (bad_request without cid), then no string holding U+0000
 * anywhere in the frame (bad_request, core/json.h: a "\u0000" escape is
 * refused, never read as the end of the string), then the required fields
 * (bad_request; both with the cid for send and dm).  Membership, text rules,
 * flood control and the receiver's name are the caller's, in its own order.
 * Call chat_proto_req_free afterwards in both cases. */
int chat_proto_req_decode(const void *data, size_t len, chat_proto_req_t *req,
                          chat_proto_error_t *err);
/* The same, always through cJSON: what the flat path must agree with, for
 * the tests and the fuzzer. */
int chat_proto_req_decode_tree(const void *data, size_t len, chat_proto_req_t *req,
                               chat_proto_error_t *err);
void chat_proto_req_free(chat_proto_req_t *req);

/* The text rules of send and dm: finds text (NUL-terminated) without white
 * space at both ends (core/text.h) in *start and *len, and returns 0 if that
 * is 1 to CHAT_TEXT_MAX_CHARS characters of valid UTF-8; else -1 with err
 * set (empty_text, text_too_long or bad_request) carrying cid.  A text that
 * held U+0000 never gets here: chat_proto_req_decode refused its frame. */
int chat_proto_text_check(const char *text, const char *cid, size_t *start,
                          size_t *len, chat_proto_error_t *err);

/* ---- server to client ---------------------------------------------------- */

/* A stored message, as the encoders read it. */
typedef struct {
  int64_t id;
  int64_t room;          /* a room message's room */
  const char *to;        /* a direct message's receiver; NULL or "" for a
                            room message */
  const char *sender;
  const char *text;      /* text_len bytes */
  size_t text_len;
  int64_t ts;            /* ms since the epoch, as stored */
  int64_t seq;           /* a room message's number in its room; 0: none
                            (a direct message, or not known) */
  /* extras */
  int deleted;           /* 1: a tombstone (no text) */
  const char *extra;     /* NULL, or the extra members (chat_msg_rec_t's
                            extra: ",\"reply_to\":...") written before
                            the closing brace */
  const char *files_json; /* files: a JSON array of file objects, or NULL
                             for none (then no "files" key) */
} chat_proto_msg_t;

/* A message object: {"id":ID,"room":R,"seq":N,"sender":S,"text":T,"ts":TS}
 * ("seq" only when m->seq > 0), or for a direct message
 * {"id":ID,"to":U,"sender":S,"text":T,"ts":TS}.  The same object is in
 * `joined` history, HTTP message lists, the `message` frame and Redis's
 * room:ID:recent lists. */
void chat_proto_msg_obj(chat_sb_t *sb, const chat_proto_msg_t *m);
/* The "id" of a message object (one chat_proto_msg_obj wrote, e.g. read back
 * from Redis's room:ID:recent, whatever its key order): 1 to 2^53 - 1, or 0
 * if obj[0..len) is not a JSON object with such an id. */
int64_t chat_proto_msg_obj_id(const char *obj, size_t len);
/* The same, and its "seq" in *seq (0 when absent or not an integer from 1
 * to 2^53 - 1). */
int64_t chat_proto_msg_obj_id_seq(const char *obj, size_t len, int64_t *seq);
/* Appends an object to a comma-separated list (a ',' first unless list is
 * empty): history arrays are built with it. */
void chat_proto_list_add(chat_sb_t *list, const char *obj, size_t len);

/* {"type":"message",...}: a message object (obj[0] == '{', len >= 2) with
 * the type in front. */
void chat_proto_message(chat_sb_t *sb, const char *obj, size_t len);
/* The same as a WebSocket frame, built straight from obj: one allocation,
 * one copy.  This is the broadcast of every room message: encode it once and
 * queue the buffer on every member. */
chat_rbuf_t *chat_proto_message_frame(const char *obj, size_t len);

/* {"type":"dm","id":ID,"sender":S,"to":U,"text":T,"ts":TS} (m->room is
 * ignored, m->to is required), with m->extra before the closing brace;
 * a tombstone (m->deleted) is {"type":"dm","id","sender","to","ts",
 * "deleted":true}. */
void chat_proto_dm(chat_sb_t *sb, const chat_proto_msg_t *m);

/* {"type":"ack","cid":C,"id":ID}; without "cid" when cid is NULL. */
void chat_proto_ack(chat_sb_t *sb, const char *cid, int64_t id);
chat_rbuf_t *chat_proto_ack_frame(const char *cid, int64_t id);

/* {"type":"error","code":C,"message":M,"cid":X}; without "cid" when cid is
 * NULL.  The one builder of error frames. */
void chat_proto_error(chat_sb_t *sb, chat_proto_code_t code, const char *message,
                      const char *cid);
chat_rbuf_t *chat_proto_error_frame(chat_proto_code_t code, const char *message,
                                    const char *cid);
/* The same for an error a decoder reported. */
chat_rbuf_t *chat_proto_error_frame_of(const chat_proto_error_t *err);

/* {"type":"joined","room":R,"members":[names],"history":[history]}: history
 * is the comma-separated message objects (chat_proto_list_add), oldest
 * first, history_len bytes (may be 0).  partial: 1 adds "partial":true at
 * the end (the history holds only the newest part of what was asked). */
void chat_proto_joined(chat_sb_t *sb, int64_t room, const char *const *members,
                       size_t nmembers, const char *history, size_t history_len,
                       int partial);
chat_rbuf_t *chat_proto_joined_frame(int64_t room, const char *const *members,
                                     size_t nmembers, const char *history,
                                     size_t history_len, int partial);

/* {"type":"presence","room":R,"user":U,"event":"join"|"leave"}. */
void chat_proto_presence(chat_sb_t *sb, int64_t room, const char *user, int join);
/* {"type":"typing","room":R,"user":U}. */
void chat_proto_typing(chat_sb_t *sb, int64_t room, const char *user);
/* {"type":"online","user":U,"online":true|false}. */
void chat_proto_online(chat_sb_t *sb, const char *user, int online);
chat_rbuf_t *chat_proto_online_frame(const char *user, int online);
/* {"type":"room_deleted","room":R}: to the room's members, and the same
 * JSON as the event on chat:global. */
void chat_proto_room_deleted(chat_sb_t *sb, int64_t room);
chat_rbuf_t *chat_proto_room_deleted_frame(int64_t room);
/* {"type":"message_deleted","room":R,"id":M}. */
void chat_proto_message_deleted(chat_sb_t *sb, int64_t room, int64_t id);

/* ---- extras: replies, reactions, edits, recall ---------------------------
 * Frames about one message of a room (room > 0, to NULL) or of a
 * conversation (room 0, to: the other user as the receiving side sees it). */
/* {"type":"reaction","room":R|"to":U,"id":M,"emoji":E,"user":U,"on":B}. */
void chat_proto_reaction(chat_sb_t *sb, int64_t room, const char *to, int64_t id,
                         const char *emoji, const char *user, int on);
/* {"type":"message_edited","room":R|"to":U,"id":M,"text":T,"edited_ts":TS}. */
void chat_proto_message_edited(chat_sb_t *sb, int64_t room, const char *to, int64_t id,
                               const char *text, size_t len, int64_t edited_ts);
/* {"type":"message_deleted","to":U,"id":M}: a recalled direct message. */
void chat_proto_dm_deleted(chat_sb_t *sb, const char *to, int64_t id);
/* The extra members of a new message: ,"reply_to":{"id","sender","text"}
 * (text cut to 100 characters, or null) and ,"mentions":[names] (names: a
 * JSON array, or NULL for none).  reply_id 0: no reply. */
void chat_proto_extra_new(chat_sb_t *sb, int64_t reply_id, const char *reply_sender,
                          const char *reply_text, int reply_deleted, const char *mentions);
/* A cached message object (obj[0..len)) changed by a frame of the room
 * (json: reaction, message_edited or message_deleted, as members get
 * it): a new malloc'ed object in *out (NUL-terminated, *out_len), or NULL
 * when nothing changes.  A deletion makes the tombstone; a reply to the
 * message changed gets its quoted text (null once deleted). */
void chat_proto_obj_apply(const char *obj, size_t len, const char *json, size_t jlen,
                          char **out, size_t *out_len);

/* A friendship as one of its two users sees it. */
typedef enum {
  CHAT_PROTO_FRIEND_NONE,
  CHAT_PROTO_FRIEND_INCOMING,   /* the other user asked */
  CHAT_PROTO_FRIEND_OUTGOING,   /* this user asked */
  CHAT_PROTO_FRIEND_FRIENDS,
} chat_proto_friend_t;
/* {"type":"friend","user":U,"state":"none"|"incoming"|"outgoing"|"friends"}. */
void chat_proto_friend(chat_sb_t *sb, const char *user, chat_proto_friend_t state);

/* {"type":"pong"}: the answer to a client's {"type":"ping"}. */
void chat_proto_pong(chat_sb_t *sb);
chat_rbuf_t *chat_proto_pong_frame(void);

/* A WebSocket text frame carrying json[0..len): how the JSON built by the
 * encoders above goes to a connection. */
chat_rbuf_t *chat_proto_frame(const char *json, size_t len);
/* The JSON a frame made by this module carries (a pointer into frame). */
const char *chat_proto_frame_json(const chat_rbuf_t *frame, size_t *len);

/* The HTTP API's error body {"error":{"code":C,"message":M}}. */
void chat_proto_http_error(chat_sb_t *sb, const char *code, const char *message);

/* ---- between instances (Redis pub/sub) ------------------------------------
 *
 * A published payload is "SENDER\nJSON\nJSON...": the sending instance's id,
 * then one event a line.  Room channels (chat:room:ID) carry the room's
 * client frames as they are (message, typing, presence, message_deleted);
 * chat:global carries the events below plus "online" (written by the Redis
 * scripts in presence_redis.c). */

/* Appends json as the next line of a batch for one channel, starting the
 * batch with "SENDER\n" when it is empty.  Publish chat_proto_bus_len bytes
 * of it (the batch without its last newline). */
void chat_proto_bus_add(chat_sb_t *batch, const char *sender, const char *json,
                        size_t len);
size_t chat_proto_bus_len(const chat_sb_t *batch);

/* Reads a received payload. */
typedef struct {
  const char *sender;    /* not NUL-terminated */
  size_t sender_len;
  const char *p, *end;   /* the events not read yet */
} chat_proto_bus_t;
/* 0, or -1 if the payload has no sender line. */
int chat_proto_bus_open(chat_proto_bus_t *it, const char *data, size_t len);
/* 1 with the next non-empty line in *json, *len; 0 at the end. */
int chat_proto_bus_next(chat_proto_bus_t *it, const char **json, size_t *len);

/* {"type":"deliver","user_id":U,"frame":FRAME}: a frame (a JSON object) for
 * every connection of user U on the other instances. */
void chat_proto_ev_deliver(chat_sb_t *sb, int64_t user_id, const char *frame,
                           size_t len);
/* {"type":"revoke","user_id":U,"keep":HEX,"only":HEX,"reason":R}: close user
 * U's sockets (1008, reason R) except the session whose token hash is keep,
 * or only the one whose hash is only.  Hashes are SHA-256 of the token
 * (CHAT_TOKEN_HASH_LEN bytes, as 64 lowercase hex digits), never tokens;
 * each is left out when NULL. */
void chat_proto_ev_revoke(chat_sb_t *sb, int64_t user_id, const uint8_t *keep,
                          const uint8_t *only, const char *reason);
/* {"type":"ban","user_id":U}. */
void chat_proto_ev_ban(chat_sb_t *sb, int64_t user_id);
/* {"type":"room_created","room":R}. */
void chat_proto_ev_room_created(chat_sb_t *sb, int64_t room);
/* Rooms v2: {"type":"broadcast","frame":FRAME} (frame: a JSON object) and
 * {"type":"room_kick","room":ID,"user_id":ID}. */
void chat_proto_ev_broadcast(chat_sb_t *sb, const char *frame, size_t len);
void chat_proto_ev_room_kick(chat_sb_t *sb, int64_t room, int64_t user_id);
/* {"type":"online","id":U,"user":NAME,"online":BOOL}, as the Redis scripts
 * write it (they may order the keys differently). */
void chat_proto_ev_online(chat_sb_t *sb, int64_t user_id, const char *user, int online);

typedef enum {
  CHAT_PROTO_EV_OTHER = 0,        /* unknown type or missing fields: ignore */
  CHAT_PROTO_EV_ONLINE,
  CHAT_PROTO_EV_DELIVER,
  CHAT_PROTO_EV_REVOKE,
  CHAT_PROTO_EV_BAN,
  CHAT_PROTO_EV_ROOM_CREATED,
  CHAT_PROTO_EV_ROOM_DELETED,
  CHAT_PROTO_EV_MESSAGE,
  CHAT_PROTO_EV_MESSAGE_DELETED,
  CHAT_PROTO_EV_PRESENCE,
  CHAT_PROTO_EV_TYPING,
  CHAT_PROTO_EV_MESSAGE_CHANGE,   /* extras: reaction, message_edited (id) */
  /* Rooms v2: a frame for every WebSocket (frame); a member removed from
   * a room (room, user_id): that user's subscriptions of the room end. */
  CHAT_PROTO_EV_BROADCAST,
  CHAT_PROTO_EV_ROOM_KICK,
} chat_proto_ev_type_t;

typedef struct {
  chat_proto_ev_type_t type;
  int64_t user_id;       /* online ("id"), deliver, revoke, ban */
  int64_t room;          /* room_created, room_deleted; 0 where absent */
  int64_t id;            /* message, message_deleted */
  int64_t seq;           /* message: its "seq", 0 when absent */
  const char *user;      /* online, presence, typing */
  int online;            /* online: "online" is true */
  int join;              /* presence: "event" is "join" (else a leave) */
  char *frame;           /* deliver: the frame, re-encoded compactly by cJSON */
  size_t frame_len;
  char *obj;             /* message: its message object (malloc'ed) */
  size_t obj_len;
  const char *reason;    /* revoke: "logged out" or "password changed" */
  int has_keep, has_only;
  uint8_t keep[CHAT_TOKEN_HASH_LEN];
  uint8_t only[CHAT_TOKEN_HASH_LEN];
  cJSON *root;
} chat_proto_ev_t;

/* Decodes one event line.  Always fills ev (type CHAT_PROTO_EV_OTHER when
 * json is not an event this version acts on: not JSON, an unknown type, or
 * a known type without its fields: ids must be integers from 1 to 2^53 - 1,
 * a revoke needs keep or only).  A message is recognised by the exact start
 * {"type":"message", (as chat_proto_message writes it), so its object can
 * be cut out without re-encoding.  The caller may take ev->obj (set it to
 * NULL); chat_proto_ev_free frees the rest. */
void chat_proto_ev_decode(const char *json, size_t len, chat_proto_ev_t *ev);
void chat_proto_ev_free(chat_proto_ev_t *ev);

/* ---- files (proto_files.c) ------------------------------------------------ */

/* Reads the optional "files" of a send or dm frame into req (files,
 * nfiles): absent or null is none; else an array of 1 to 10 distinct
 * positive integer ids (bad_request with the cid otherwise).  With files,
 * an absent "text" becomes "". */
int chat_proto_files_decode(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err);
/* Appends ,"files":[...] to a message object when m->files_json is set. */
void chat_proto_msg_files(chat_sb_t *sb, const chat_proto_msg_t *m);
/* A file object: {"id","name","size","type","url","thumb_url"}: url is
 * /files/ID/NAME (NAME percent-encoded), thumb_url /files/thumb/ID or null
 * without a thumbnail. */
void chat_proto_file_obj(chat_sb_t *sb, int64_t id, const char *name, int64_t size,
                         const char *type, int has_thumb);
/* The URL path of file id's thumbnail (an avatar), into out. */
void chat_proto_thumb_url(char *out, size_t cap, int64_t id);
/* {"type":"user_updated","user":{"id","username","display_name","avatar"}}
 * (avatar: a URL path or null). */
chat_rbuf_t *chat_proto_user_updated_frame(int64_t id, const char *username,
                                           const char *display_name, const char *avatar);

#endif
