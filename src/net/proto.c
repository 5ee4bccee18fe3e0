/* The chat protocol's frames and events (see proto.h and docs/PROTOCOL.md).
 *
 * Hot frames are written by hand with the string builder: a DOM would cost
 * an allocation per field, and the `message` broadcast is built straight
 * into its frame buffer.  The builder escapes strings exactly as cJSON's
 * printer does, so frames built either way look the same. */
#include "proto.h"

#include <assert.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/json.h"
#include "../core/pct.h"
#include "../core/text.h"
#include "../core/utf8.h"
#include "ws.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The largest integer a JSON number (a double) carries exactly. */
#define ID_LIMIT 9007199254740992.0 /* 2^53 */

_Static_assert(CHAT_CID_MAX == 128, "the cid error message names 127 bytes");

static const char MESSAGE_PREFIX[] = "{\"type\":\"message\",";

const char *chat_proto_code_name(chat_proto_code_t code) {
  switch (code) {
    case CHAT_PROTO_BAD_JSON: return "bad_json";
    case CHAT_PROTO_UNKNOWN_TYPE: return "unknown_type";
    case CHAT_PROTO_BAD_REQUEST: return "bad_request";
    case CHAT_PROTO_NO_SUCH_ROOM: return "no_such_room";
    case CHAT_PROTO_NOT_MEMBER: return "not_member";
    case CHAT_PROTO_EMPTY_TEXT: return "empty_text";
    case CHAT_PROTO_TEXT_TOO_LONG: return "text_too_long";
    case CHAT_PROTO_NOT_FRIENDS: return "not_friends";
    case CHAT_PROTO_RATE_LIMITED: return "rate_limited";
    case CHAT_PROTO_STORE_UNAVAILABLE: return "store_unavailable";
    case CHAT_PROTO_NOT_FOUND: return "not_found";
    case CHAT_PROTO_FORBIDDEN: return "forbidden";
    case CHAT_PROTO_TOO_MANY_REACTIONS: return "too_many_reactions";
  }
  return "internal";
}

/* ---- small writers ------------------------------------------------------- */

static void put_str(chat_sb_t *sb, const char *s) { chat_sb_json_str(sb, s, strlen(s)); }

/* ,"name":VALUE pieces: name includes its quotes and colon. */
static void put_int_field(chat_sb_t *sb, const char *name, int64_t v) {
  chat_sb_puts(sb, name);
  chat_sb_int(sb, v);
}

static void put_str_field(chat_sb_t *sb, const char *name, const char *s) {
  chat_sb_puts(sb, name);
  put_str(sb, s);
}

/* Frames json and frees the builder. */
static chat_rbuf_t *frame_of(chat_sb_t *sb) {
  chat_rbuf_t *b = chat_ws_frame_new(CHAT_WS_OP_TEXT, sb->buf, sb->len);
  chat_sb_free(sb);
  return b;
}

/* ---- decoding helpers ---------------------------------------------------- */

/* A positive integer id (1 to 2^53 - 1) from a field, or 0. */
static int64_t json_id(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v)) return 0;
  double d = v->valuedouble;
  if (d < 1 || d >= ID_LIMIT || d != (double)(int64_t)d) return 0;
  return (int64_t)d;
}

static const char *json_str(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int fail(chat_proto_error_t *err, chat_proto_code_t code, const char *message,
                const char *cid) {
  err->code = code;
  err->message = message;
  err->cid = cid;
  return -1;
}

/* ---- client to server ---------------------------------------------------- */

/* A frame with a string that held U+0000 (core/json.h) is refused whole
 * rather than read with that string missing; after the cid, so the error
 * of a send or dm carries it. */
static int check_nul(const chat_proto_req_t *req, chat_proto_error_t *err) {
  if (!chat_json_has_nul(req->root)) return 0;
  return fail(err, CHAT_PROTO_BAD_REQUEST, CHAT_JSON_NUL_MESSAGE, req->cid);
}

/* The optional cid of send and dm: absent, null, or a string shorter than
 * CHAT_CID_MAX bytes. */
static int decode_cid(const cJSON *o, const char **cid, chat_proto_error_t *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "cid");
  *cid = NULL;
  if (v == NULL || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= CHAT_CID_MAX)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "cid must be a string of at most 127 bytes", NULL);
  *cid = v->valuestring;
  return 0;
}

static int decode_join(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  if (check_nul(req, err)) return -1;
  req->room = json_id(o, "room");
  if (req->room == 0) return fail(err, CHAT_PROTO_BAD_REQUEST, "join needs a room id", NULL);
  const cJSON *since = cJSON_GetObjectItemCaseSensitive(o, "since");
  if (since == NULL || cJSON_IsNull(since)) return 0;
  if (!cJSON_IsNumber(since) || since->valuedouble < 0 || since->valuedouble >= ID_LIMIT ||
      since->valuedouble != (double)(int64_t)since->valuedouble)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "since must be a message id", NULL);
  req->since = (int64_t)since->valuedouble;
  req->has_since = 1;
  return 0;
}

/* extras: the optional reply_to of send and dm (absent, null or an id). */
static int decode_reply_to(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "reply_to");
  if (v == NULL || cJSON_IsNull(v)) return 0;
  req->reply_to = json_id(o, "reply_to");
  if (req->reply_to == 0)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "reply_to must be a message id", req->cid);
  return 0;
}

/* extras: react, edit and delete name a message of a room or of a
 * conversation. */
static int decode_on_msg(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  if (check_nul(req, err)) return -1;
  req->room = json_id(o, "room");
  req->to = json_str(o, "to");
  req->id = json_id(o, "id");
  if ((req->room != 0) == (req->to != NULL) || req->id == 0)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "name a room or a user (to) and a message id", NULL);
  if (req->type == CHAT_PROTO_REACT) {
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "on");
    req->emoji = json_str(o, "emoji");
    if (req->emoji == NULL || !cJSON_IsBool(on))
      return fail(err, CHAT_PROTO_BAD_REQUEST, "react needs an emoji and on (true or false)",
                  NULL);
    req->on = cJSON_IsTrue(on);
  } else if (req->type == CHAT_PROTO_EDIT) {
    req->text = json_str(o, "text");
    if (req->text == NULL) return fail(err, CHAT_PROTO_BAD_REQUEST, "edit needs a text", NULL);
  }
  return 0;
}

static int decode_send(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  if (decode_cid(o, &req->cid, err) || check_nul(req, err)) return -1;
  if (decode_reply_to(o, req, err)) return -1;
  req->room = json_id(o, "room");
  req->text = json_str(o, "text");
  if (chat_proto_files_decode(o, req, err)) return -1;  /* files */
  if (req->room == 0 || req->text == NULL)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "send needs a room id and a text", req->cid);
  return 0;
}

static int decode_dm(const cJSON *o, chat_proto_req_t *req, chat_proto_error_t *err) {
  if (decode_cid(o, &req->cid, err) || check_nul(req, err)) return -1;
  if (decode_reply_to(o, req, err)) return -1;
  req->to = json_str(o, "to");
  req->text = json_str(o, "text");
  if (chat_proto_files_decode(o, req, err)) return -1;  /* files */
  if (req->to == NULL || req->text == NULL)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "dm needs to and text", req->cid);
  return 0;
}

/* Frames that name just a room. */
static int decode_room_only(const cJSON *o, chat_proto_req_t *req, const char *message,
                            chat_proto_error_t *err) {
  if (check_nul(req, err)) return -1;
  req->room = json_id(o, "room");
  return req->room ? 0 : fail(err, CHAT_PROTO_BAD_REQUEST, message, NULL);
}

/* ---- flat frames without cJSON -------------------------------------------
 *
 * Most frames are small and flat: {"type":"send","room":3,"text":"你好",
 * "cid":"c17..."}.  cJSON spends a dozen allocations on one (each item, each
 * member name, each string).  flat_parse builds the same tree in the
 * request itself: items in flat_nodes, strings copied NUL-terminated into
 * flat_buf, so the decoders below read it as they read cJSON's.  It takes
 * only what it reads exactly as cJSON does and leaves everything else to
 * cJSON: no escapes (no backslash anywhere), no control characters in
 * strings, integers of at most 15 digits without sign, fraction or exponent,
 * no nested objects or arrays, white space only where JSON allows it.  The
 * checks of chat_json_parse that apply to such text (valid UTF-8, no NUL
 * byte, nothing after the value) run first.  Duplicate names stay in order,
 * as cJSON keeps them, so a lookup finds the first either way.
 * test_proto and the fuzz target fuzz.proto check that both paths decode
 * every frame alike. */

typedef struct {
  const char *s;
  size_t len, i;
  chat_proto_req_t *req;
  size_t nodes, used;
} flat_t;

static void flat_ws(flat_t *f) {
  while (f->i < f->len && (f->s[f->i] == ' ' || f->s[f->i] == '\t' || f->s[f->i] == '\n' ||
                           f->s[f->i] == '\r'))
    f->i++;
}

/* The string at s[i] (its opening quote), copied into flat_buf; NULL if
 * it is not one flat_parse takes.  flat_buf always has room: the copies
 * (a NUL for two quotes) are shorter than the text. */
static char *flat_string(flat_t *f) {
  size_t start = ++f->i;
  while (f->i < f->len && f->s[f->i] != '"') {
    if ((unsigned char)f->s[f->i] < 0x20) return NULL;
    f->i++;
  }
  if (f->i >= f->len) return NULL;
  size_t n = f->i - start;
  char *out = f->req->flat_buf + f->used;
  memcpy(out, f->s + start, n);
  out[n] = '\0';
  f->used += n + 1;
  f->i++;
  return out;
}

static int flat_literal(flat_t *f, const char *word, int type, cJSON *v) {
  size_t n = strlen(word);
  if (f->len - f->i < n || memcmp(f->s + f->i, word, n) != 0) return -1;
  f->i += n;
  v->type = type;
  v->valueint = type == cJSON_True;
  return 0;
}

static int flat_value(flat_t *f, cJSON *v) {
  if (f->i >= f->len) return -1;
  char ch = f->s[f->i];
  if (ch == '"') {
    v->valuestring = flat_string(f);
    v->type = cJSON_String;
    return v->valuestring ? 0 : -1;
  }
  if (ch == 'n') return flat_literal(f, "null", cJSON_NULL, v);
  if (ch == 't') return flat_literal(f, "true", cJSON_True, v);
  if (ch == 'f') return flat_literal(f, "false", cJSON_False, v);
  if (ch < '0' || ch > '9') return -1;  /* signs, objects, arrays: cJSON's */
  size_t start = f->i;
  int64_t n = 0;
  while (f->i < f->len && f->s[f->i] >= '0' && f->s[f->i] <= '9') {
    if (f->i - start == 15) return -1;
    n = n * 10 + (f->s[f->i++] - '0');
  }
  if (f->i - start > 1 && f->s[start] == '0') return -1;
  if (f->i < f->len && (f->s[f->i] == '.' || f->s[f->i] == 'e' || f->s[f->i] == 'E'))
    return -1;
  /* As cJSON sets them: the double (exact below 2^53), the int clamped. */
  v->type = cJSON_Number;
  v->valuedouble = (double)n;
  v->valueint = n >= INT_MAX ? INT_MAX : (int)n;
  return 0;
}

/* The tree of s[0..len) in req, or NULL to leave the text to cJSON. */
static cJSON *flat_parse(const char *s, size_t len, chat_proto_req_t *req) {
  if (len > CHAT_PROTO_FLAT_BYTES || memchr(s, '\\', len) != NULL) return NULL;
  if (!chat_utf8_valid(s, len) || memchr(s, '\0', len) != NULL) return NULL;
  flat_t f = {s, len, 0, req, 1, 0};
  cJSON *root = &req->flat_nodes[0], *last = NULL;
  memset(root, 0, sizeof(*root));
  root->type = cJSON_Object;
  flat_ws(&f);
  if (f.i >= len || s[f.i++] != '{') return NULL;
  flat_ws(&f);
  if (f.i < len && s[f.i] == '}') {
    f.i++;
  } else {
    for (;;) {
      if (f.nodes == CHAT_PROTO_FLAT_NODES || f.i >= len || s[f.i] != '"') return NULL;
      cJSON *v = &req->flat_nodes[f.nodes++];
      memset(v, 0, sizeof(*v));
      if ((v->string = flat_string(&f)) == NULL) return NULL;
      flat_ws(&f);
      if (f.i >= len || s[f.i++] != ':') return NULL;
      flat_ws(&f);
      if (flat_value(&f, v) != 0) return NULL;
      if (last == NULL) {
        root->child = v;
      } else {
        last->next = v;
        v->prev = last;
      }
      last = v;
      root->child->prev = last;  /* cJSON's own: the first's prev is the last */
      flat_ws(&f);
      if (f.i >= len) return NULL;
      if (s[f.i] == '}') {
        f.i++;
        break;
      }
      if (s[f.i++] != ',') return NULL;
      flat_ws(&f);
    }
  }
  flat_ws(&f);
  return f.i == len ? root : NULL;
}

static int decode(const void *data, size_t len, chat_proto_req_t *req, chat_proto_error_t *err,
                  int flat) {
  memset(req, 0, offsetof(chat_proto_req_t, flat_nodes));
  if (flat && data != NULL) req->root = flat_parse(data, len, req);
  if (req->root == NULL) req->root = chat_json_parse(data, len);
  if (req->root == NULL)
    return fail(err, CHAT_PROTO_BAD_JSON, "the frame is not valid JSON", NULL);
  const cJSON *o = req->root;
  const char *type = json_str(o, "type");
  if (!cJSON_IsObject(o) || type == NULL)
    return fail(err, CHAT_PROTO_BAD_REQUEST, "a frame is a JSON object with a type", NULL);
  if (strcmp(type, "send") == 0) {
    req->type = CHAT_PROTO_SEND;
    return decode_send(o, req, err);
  }
  if (strcmp(type, "join") == 0) {
    req->type = CHAT_PROTO_JOIN;
    return decode_join(o, req, err);
  }
  if (strcmp(type, "leave") == 0) {
    req->type = CHAT_PROTO_LEAVE;
    return decode_room_only(o, req, "leave needs a room id", err);
  }
  if (strcmp(type, "typing") == 0) {
    req->type = CHAT_PROTO_TYPING;
    return decode_room_only(o, req, "typing needs a room id", err);
  }
  if (strcmp(type, "dm") == 0) {
    req->type = CHAT_PROTO_DM;
    return decode_dm(o, req, err);
  }
  if (strcmp(type, "ping") == 0) {
    req->type = CHAT_PROTO_PING;
    return check_nul(req, err);
  }
  /* extras */
  if (strcmp(type, "react") == 0 || strcmp(type, "edit") == 0 || strcmp(type, "delete") == 0) {
    req->type = type[0] == 'r' ? CHAT_PROTO_REACT : type[0] == 'e' ? CHAT_PROTO_EDIT
                                                                   : CHAT_PROTO_DELETE;
    return decode_on_msg(o, req, err);
  }
  return fail(err, CHAT_PROTO_UNKNOWN_TYPE, "unknown frame type", NULL);
}

int chat_proto_req_decode(const void *data, size_t len, chat_proto_req_t *req,
                          chat_proto_error_t *err) {
  return decode(data, len, req, err, 1);
}

int chat_proto_req_decode_tree(const void *data, size_t len, chat_proto_req_t *req,
                               chat_proto_error_t *err) {
  return decode(data, len, req, err, 0);
}

void chat_proto_req_free(chat_proto_req_t *req) {
  if (req->root != &req->flat_nodes[0]) cJSON_Delete(req->root);
  memset(req, 0, offsetof(chat_proto_req_t, flat_nodes));
}

int chat_proto_text_check(const char *text, const char *cid, size_t *start,
                          size_t *len, chat_proto_error_t *err) {
  chat_text_trim(text, strlen(text), start, len);
  const char *t = text + *start;
  if (*len == 0) return fail(err, CHAT_PROTO_EMPTY_TEXT, "the message is empty", cid);
  /* The byte bound first: counting a huge text is not needed to refuse it. */
  if (*len > (size_t)CHAT_TEXT_MAX_CHARS * 4 || chat_utf8_count(t, *len) > CHAT_TEXT_MAX_CHARS)
    return fail(err, CHAT_PROTO_TEXT_TOO_LONG,
                "a message has at most " STR(CHAT_TEXT_MAX_CHARS) " characters", cid);
  if (!chat_utf8_valid(t, *len) || memchr(t, '\0', *len))
    return fail(err, CHAT_PROTO_BAD_REQUEST, "text must be valid UTF-8", cid);
  return 0;
}

/* ---- server to client ---------------------------------------------------- */

/* extras: a tombstone, or the members after the v1 fields. */
static int put_extras(chat_sb_t *sb, const chat_proto_msg_t *m) {
  if (m->deleted) {
    put_str_field(sb, ",\"sender\":", m->sender);
    put_int_field(sb, ",\"ts\":", m->ts);
    chat_sb_puts(sb, ",\"deleted\":true}");
    return 1;
  }
  if (m->extra) chat_sb_puts(sb, m->extra);
  return 0;
}

void chat_proto_msg_obj(chat_sb_t *sb, const chat_proto_msg_t *m) {
  put_int_field(sb, "{\"id\":", m->id);
  if (m->to != NULL && m->to[0] != '\0') {
    put_str_field(sb, ",\"to\":", m->to);
  } else {
    put_int_field(sb, ",\"room\":", m->room);
    if (m->seq > 0) put_int_field(sb, ",\"seq\":", m->seq);
  }
  if (m->deleted && put_extras(sb, m)) return;
  put_str_field(sb, ",\"sender\":", m->sender);
  chat_sb_puts(sb, ",\"text\":");
  chat_sb_json_str(sb, m->text, m->text_len);
  put_int_field(sb, ",\"ts\":", m->ts);
  put_extras(sb, m);
  chat_proto_msg_files(sb, m);  /* files */
  chat_sb_append(sb, "}", 1);
}

int64_t chat_proto_msg_obj_id(const char *obj, size_t len) {
  int64_t seq;
  return chat_proto_msg_obj_id_seq(obj, len, &seq);
}

int64_t chat_proto_msg_obj_id_seq(const char *obj, size_t len, int64_t *seq) {
  cJSON *o = cJSON_ParseWithLength(obj, len);
  int64_t id = cJSON_IsObject(o) ? json_id(o, "id") : 0;
  *seq = id ? json_id(o, "seq") : 0;
  cJSON_Delete(o);
  return id;
}

void chat_proto_list_add(chat_sb_t *list, const char *obj, size_t len) {
  if (list->len) chat_sb_append(list, ",", 1);
  chat_sb_append(list, obj, len);
}

void chat_proto_message(chat_sb_t *sb, const char *obj, size_t len) {
  assert(len >= 2 && obj[0] == '{');
  chat_sb_append(sb, MESSAGE_PREFIX, sizeof(MESSAGE_PREFIX) - 1);
  chat_sb_append(sb, obj + 1, len - 1);
}

chat_rbuf_t *chat_proto_message_frame(const char *obj, size_t len) {
  assert(len >= 2 && obj[0] == '{');
  size_t plen = sizeof(MESSAGE_PREFIX) - 1 + len - 1;
  size_t hs = chat_ws_header_size(plen);
  chat_rbuf_t *b = chat_rbuf_new(hs + plen);
  uint8_t *p = b->data + chat_ws_write_header(b->data, CHAT_WS_OP_TEXT, plen);
  memcpy(p, MESSAGE_PREFIX, sizeof(MESSAGE_PREFIX) - 1);
  memcpy(p + sizeof(MESSAGE_PREFIX) - 1, obj + 1, len - 1);
  b->len = hs + plen;
  return b;
}

void chat_proto_dm(chat_sb_t *sb, const chat_proto_msg_t *m) {
  put_int_field(sb, "{\"type\":\"dm\",\"id\":", m->id);
  put_str_field(sb, ",\"sender\":", m->sender);
  put_str_field(sb, ",\"to\":", m->to);
  if (m->deleted) {  /* extras: a recalled one (the DM catch-up) */
    put_int_field(sb, ",\"ts\":", m->ts);
    chat_sb_puts(sb, ",\"deleted\":true}");
    return;
  }
  chat_sb_puts(sb, ",\"text\":");
  chat_sb_json_str(sb, m->text, m->text_len);
  put_int_field(sb, ",\"ts\":", m->ts);
  if (m->extra) chat_sb_puts(sb, m->extra);  /* extras */
  chat_proto_msg_files(sb, m);  /* files */
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ack(chat_sb_t *sb, const char *cid, int64_t id) {
  chat_sb_puts(sb, "{\"type\":\"ack\",");
  if (cid) {
    put_str_field(sb, "\"cid\":", cid);
    chat_sb_append(sb, ",", 1);
  }
  put_int_field(sb, "\"id\":", id);
  chat_sb_append(sb, "}", 1);
}

chat_rbuf_t *chat_proto_ack_frame(const char *cid, int64_t id) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ack(&sb, cid, id);
  return frame_of(&sb);
}

void chat_proto_error(chat_sb_t *sb, chat_proto_code_t code, const char *message,
                      const char *cid) {
  put_str_field(sb, "{\"type\":\"error\",\"code\":", chat_proto_code_name(code));
  put_str_field(sb, ",\"message\":", message);
  if (cid) put_str_field(sb, ",\"cid\":", cid);
  chat_sb_append(sb, "}", 1);
}

chat_rbuf_t *chat_proto_error_frame(chat_proto_code_t code, const char *message,
                                    const char *cid) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_error(&sb, code, message, cid);
  return frame_of(&sb);
}

chat_rbuf_t *chat_proto_error_frame_of(const chat_proto_error_t *err) {
  return chat_proto_error_frame(err->code, err->message, err->cid);
}

void chat_proto_joined(chat_sb_t *sb, int64_t room, const char *const *members,
                       size_t nmembers, const char *history, size_t history_len,
                       int partial) {
  put_int_field(sb, "{\"type\":\"joined\",\"room\":", room);
  chat_sb_puts(sb, ",\"members\":[");
  for (size_t i = 0; i < nmembers; i++) {
    if (i) chat_sb_append(sb, ",", 1);
    put_str(sb, members[i]);
  }
  chat_sb_puts(sb, "],\"history\":[");
  chat_sb_append(sb, history, history_len);
  chat_sb_puts(sb, partial ? "],\"partial\":true}" : "]}");
}

chat_rbuf_t *chat_proto_joined_frame(int64_t room, const char *const *members,
                                     size_t nmembers, const char *history,
                                     size_t history_len, int partial) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_sb_reserve(&sb, history_len + 64 + 40 * nmembers);
  chat_proto_joined(&sb, room, members, nmembers, history, history_len, partial);
  return frame_of(&sb);
}

void chat_proto_presence(chat_sb_t *sb, int64_t room, const char *user, int join) {
  put_int_field(sb, "{\"type\":\"presence\",\"room\":", room);
  put_str_field(sb, ",\"user\":", user);
  chat_sb_puts(sb, join ? ",\"event\":\"join\"}" : ",\"event\":\"leave\"}");
}

void chat_proto_typing(chat_sb_t *sb, int64_t room, const char *user) {
  put_int_field(sb, "{\"type\":\"typing\",\"room\":", room);
  put_str_field(sb, ",\"user\":", user);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_online(chat_sb_t *sb, const char *user, int online) {
  put_str_field(sb, "{\"type\":\"online\",\"user\":", user);
  chat_sb_puts(sb, online ? ",\"online\":true}" : ",\"online\":false}");
}

chat_rbuf_t *chat_proto_online_frame(const char *user, int online) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_online(&sb, user, online);
  return frame_of(&sb);
}

void chat_proto_pong(chat_sb_t *sb) { chat_sb_puts(sb, "{\"type\":\"pong\"}"); }

chat_rbuf_t *chat_proto_pong_frame(void) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_pong(&sb);
  return frame_of(&sb);
}

void chat_proto_room_deleted(chat_sb_t *sb, int64_t room) {
  put_int_field(sb, "{\"type\":\"room_deleted\",\"room\":", room);
  chat_sb_append(sb, "}", 1);
}

chat_rbuf_t *chat_proto_room_deleted_frame(int64_t room) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_room_deleted(&sb, room);
  return frame_of(&sb);
}

void chat_proto_message_deleted(chat_sb_t *sb, int64_t room, int64_t id) {
  put_int_field(sb, "{\"type\":\"message_deleted\",\"room\":", room);
  put_int_field(sb, ",\"id\":", id);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_friend(chat_sb_t *sb, const char *user, chat_proto_friend_t state) {
  static const char *const names[] = {"none", "incoming", "outgoing", "friends"};
  put_str_field(sb, "{\"type\":\"friend\",\"user\":", user);
  put_str_field(sb, ",\"state\":",
                (unsigned)state < CHAT_ARRAY_SIZE(names) ? names[state] : "none");
  chat_sb_append(sb, "}", 1);
}

chat_rbuf_t *chat_proto_frame(const char *json, size_t len) {
  return chat_ws_frame_new(CHAT_WS_OP_TEXT, json, len);
}

const char *chat_proto_frame_json(const chat_rbuf_t *frame, size_t *len) {
  return (const char *)chat_ws_frame_payload(frame, len);
}

void chat_proto_http_error(chat_sb_t *sb, const char *code, const char *message) {
  put_str_field(sb, "{\"error\":{\"code\":", code);
  put_str_field(sb, ",\"message\":", message);
  chat_sb_puts(sb, "}}");
}

/* ---- between instances --------------------------------------------------- */

void chat_proto_bus_add(chat_sb_t *batch, const char *sender, const char *json,
                        size_t len) {
  if (batch->len == 0) {
    chat_sb_puts(batch, sender);
    chat_sb_append(batch, "\n", 1);
  }
  chat_sb_append(batch, json, len);
  chat_sb_append(batch, "\n", 1);
}

size_t chat_proto_bus_len(const chat_sb_t *batch) {
  return batch->len ? batch->len - 1 : 0;
}

int chat_proto_bus_open(chat_proto_bus_t *it, const char *data, size_t len) {
  const char *nl = memchr(data, '\n', len);
  if (nl == NULL) return -1;
  it->sender = data;
  it->sender_len = (size_t)(nl - data);
  it->p = nl + 1;
  it->end = data + len;
  return 0;
}

int chat_proto_bus_next(chat_proto_bus_t *it, const char **json, size_t *len) {
  while (it->p < it->end) {
    const char *eol = memchr(it->p, '\n', (size_t)(it->end - it->p));
    size_t n = eol ? (size_t)(eol - it->p) : (size_t)(it->end - it->p);
    const char *line = it->p;
    it->p += n + 1;
    if (n > 0) {
      *json = line;
      *len = n;
      return 1;
    }
  }
  return 0;
}

void chat_proto_ev_deliver(chat_sb_t *sb, int64_t user_id, const char *frame,
                           size_t len) {
  put_int_field(sb, "{\"type\":\"deliver\",\"user_id\":", user_id);
  chat_sb_puts(sb, ",\"frame\":");
  chat_sb_append(sb, frame, len);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_broadcast(chat_sb_t *sb, const char *frame, size_t len) {
  chat_sb_puts(sb, "{\"type\":\"broadcast\",\"frame\":");
  chat_sb_append(sb, frame, len);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_room_kick(chat_sb_t *sb, int64_t room, int64_t user_id) {
  put_int_field(sb, "{\"type\":\"room_kick\",\"room\":", room);
  put_int_field(sb, ",\"user_id\":", user_id);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_revoke(chat_sb_t *sb, int64_t user_id, const uint8_t *keep,
                          const uint8_t *only, const char *reason) {
  char hex[2 * CHAT_TOKEN_HASH_LEN + 1];
  put_int_field(sb, "{\"type\":\"revoke\",\"user_id\":", user_id);
  if (keep) {
    chat_hex_encode(hex, keep, CHAT_TOKEN_HASH_LEN);
    put_str_field(sb, ",\"keep\":", hex);
  }
  if (only) {
    chat_hex_encode(hex, only, CHAT_TOKEN_HASH_LEN);
    put_str_field(sb, ",\"only\":", hex);
  }
  put_str_field(sb, ",\"reason\":", reason);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_ban(chat_sb_t *sb, int64_t user_id) {
  put_int_field(sb, "{\"type\":\"ban\",\"user_id\":", user_id);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_room_created(chat_sb_t *sb, int64_t room) {
  put_int_field(sb, "{\"type\":\"room_created\",\"room\":", room);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_ev_online(chat_sb_t *sb, int64_t user_id, const char *user, int online) {
  put_int_field(sb, "{\"type\":\"online\",\"id\":", user_id);
  put_str_field(sb, ",\"user\":", user);
  chat_sb_puts(sb, online ? ",\"online\":true}" : ",\"online\":false}");
}

/* A token hash in hex, as revoke events carry it. */
static int hash_field(const cJSON *o, const char *name, uint8_t out[CHAT_TOKEN_HASH_LEN]) {
  const char *s = json_str(o, name);
  return s != NULL && chat_hex_decode(out, CHAT_TOKEN_HASH_LEN, s, strlen(s)) == 0;
}

static void decode_revoke(const cJSON *o, chat_proto_ev_t *ev) {
  ev->user_id = json_id(o, "user_id");
  ev->has_keep = hash_field(o, "keep", ev->keep);
  ev->has_only = hash_field(o, "only", ev->only);
  /* Reasons go into close frames: only the known ones, as static text. */
  const char *why = json_str(o, "reason");
  ev->reason = why && strcmp(why, "logged out") == 0 ? "logged out" : "password changed";
  if (ev->user_id && (ev->has_keep || ev->has_only)) ev->type = CHAT_PROTO_EV_REVOKE;
}

static void decode_deliver(const cJSON *o, chat_proto_ev_t *ev) {
  const cJSON *frame = cJSON_GetObjectItemCaseSensitive(o, "frame");
  ev->user_id = json_id(o, "user_id");
  if (ev->user_id == 0 || !cJSON_IsObject(frame)) return;
  ev->frame = cJSON_PrintUnformatted(frame);
  if (ev->frame == NULL) return;
  ev->frame_len = strlen(ev->frame);
  ev->type = CHAT_PROTO_EV_DELIVER;
}

/* A message frame: its object is the frame without "type". */
static void decode_message(const char *json, size_t len, chat_proto_ev_t *ev) {
  size_t plen = sizeof(MESSAGE_PREFIX) - 1;
  ev->id = json_id(ev->root, "id");
  ev->room = json_id(ev->root, "room");
  ev->seq = json_id(ev->root, "seq");
  if (ev->id == 0) return;
  ev->obj_len = len - plen + 1;
  ev->obj = chat_xmalloc(ev->obj_len + 1);
  ev->obj[0] = '{';
  memcpy(ev->obj + 1, json + plen, len - plen);
  ev->obj[ev->obj_len] = '\0';
  ev->type = CHAT_PROTO_EV_MESSAGE;
}

void chat_proto_ev_decode(const char *json, size_t len, chat_proto_ev_t *ev) {
  memset(ev, 0, sizeof(*ev));
  ev->root = cJSON_ParseWithLength(json, len);
  const cJSON *o = ev->root;
  const char *type = json_str(o, "type");
  if (!cJSON_IsObject(o) || type == NULL) return;
  size_t plen = sizeof(MESSAGE_PREFIX) - 1;
  if (len > plen && memcmp(json, MESSAGE_PREFIX, plen) == 0) {
    decode_message(json, len, ev);
  } else if (strcmp(type, "deliver") == 0) {
    decode_deliver(o, ev);
  } else if (strcmp(type, "revoke") == 0) {
    decode_revoke(o, ev);
  } else if (strcmp(type, "ban") == 0) {
    ev->user_id = json_id(o, "user_id");
    if (ev->user_id) ev->type = CHAT_PROTO_EV_BAN;
  } else if (strcmp(type, "room_created") == 0 || strcmp(type, "room_deleted") == 0) {
    ev->room = json_id(o, "room");
    if (ev->room)
      ev->type = type[5] == 'c' ? CHAT_PROTO_EV_ROOM_CREATED : CHAT_PROTO_EV_ROOM_DELETED;
  } else if (strcmp(type, "online") == 0) {
    ev->user_id = json_id(o, "id");
    ev->user = json_str(o, "user");
    ev->online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "online"));
    if (ev->user_id && ev->user) ev->type = CHAT_PROTO_EV_ONLINE;
  } else if (strcmp(type, "message_deleted") == 0) {
    ev->room = json_id(o, "room");
    ev->id = json_id(o, "id");
    if (ev->id) ev->type = CHAT_PROTO_EV_MESSAGE_DELETED;
  } else if (strcmp(type, "reaction") == 0 || strcmp(type, "message_edited") == 0) {
    ev->room = json_id(o, "room");  /* extras */
    ev->id = json_id(o, "id");
    if (ev->id) ev->type = CHAT_PROTO_EV_MESSAGE_CHANGE;
  } else if (strcmp(type, "broadcast") == 0) {
    /* Rooms v2: a frame for every WebSocket. */
    const cJSON *frame = cJSON_GetObjectItemCaseSensitive(o, "frame");
    if (cJSON_IsObject(frame) && (ev->frame = cJSON_PrintUnformatted(frame)) != NULL) {
      ev->frame_len = strlen(ev->frame);
      ev->type = CHAT_PROTO_EV_BROADCAST;
    }
  } else if (strcmp(type, "room_kick") == 0) {
    ev->room = json_id(o, "room");
    ev->user_id = json_id(o, "user_id");
    if (ev->room && ev->user_id) ev->type = CHAT_PROTO_EV_ROOM_KICK;
  } else if (strcmp(type, "presence") == 0 || strcmp(type, "typing") == 0) {
    ev->room = json_id(o, "room");
    ev->user = json_str(o, "user");
    const char *event = json_str(o, "event");
    ev->join = event != NULL && strcmp(event, "join") == 0;
    if (ev->user) ev->type = type[0] == 'p' ? CHAT_PROTO_EV_PRESENCE : CHAT_PROTO_EV_TYPING;
  }
}

void chat_proto_ev_free(chat_proto_ev_t *ev) {
  cJSON_Delete(ev->root);
  cJSON_free(ev->frame);
  free(ev->obj);
  memset(ev, 0, sizeof(*ev));
}

/* ---- extras: replies, reactions, edits, recall ---------------------------- */

/* The conversation or room a frame is about. */
static void put_where(chat_sb_t *sb, int64_t room, const char *to) {
  if (to != NULL)
    put_str_field(sb, ",\"to\":", to);
  else
    put_int_field(sb, ",\"room\":", room);
}

void chat_proto_reaction(chat_sb_t *sb, int64_t room, const char *to, int64_t id,
                         const char *emoji, const char *user, int on) {
  chat_sb_puts(sb, "{\"type\":\"reaction\"");
  put_where(sb, room, to);
  put_int_field(sb, ",\"id\":", id);
  put_str_field(sb, ",\"emoji\":", emoji);
  put_str_field(sb, ",\"user\":", user);
  chat_sb_puts(sb, on ? ",\"on\":true}" : ",\"on\":false}");
}

void chat_proto_message_edited(chat_sb_t *sb, int64_t room, const char *to, int64_t id,
                               const char *text, size_t len, int64_t edited_ts) {
  chat_sb_puts(sb, "{\"type\":\"message_edited\"");
  put_where(sb, room, to);
  put_int_field(sb, ",\"id\":", id);
  chat_sb_puts(sb, ",\"text\":");
  chat_sb_json_str(sb, text, len);
  put_int_field(sb, ",\"edited_ts\":", edited_ts);
  chat_sb_append(sb, "}", 1);
}

void chat_proto_dm_deleted(chat_sb_t *sb, const char *to, int64_t id) {
  put_str_field(sb, "{\"type\":\"message_deleted\",\"to\":", to);
  put_int_field(sb, ",\"id\":", id);
  chat_sb_append(sb, "}", 1);
}

/* The byte length of the first 100 characters of s. */
static size_t reply_cut(const char *s, size_t len) {
  size_t i = 0, n = 0;
  while (i < len && n < 100) {
    uint32_t cp;
    i += chat_utf8_next(s + i, len - i, &cp);
    n++;
  }
  return i;
}

void chat_proto_extra_new(chat_sb_t *sb, int64_t reply_id, const char *reply_sender,
                          const char *reply_text, int reply_deleted, const char *mentions) {
  if (reply_id > 0) {
    put_int_field(sb, ",\"reply_to\":{\"id\":", reply_id);
    put_str_field(sb, ",\"sender\":", reply_sender ? reply_sender : "");
    chat_sb_puts(sb, ",\"text\":");
    if (reply_deleted || reply_text == NULL)
      chat_sb_puts(sb, "null");
    else
      chat_sb_json_str(sb, reply_text, reply_cut(reply_text, strlen(reply_text)));
    chat_sb_append(sb, "}", 1);
  }
  if (mentions != NULL && strcmp(mentions, "[]") != 0) {
    chat_sb_puts(sb, ",\"mentions\":");
    chat_sb_puts(sb, mentions);
  }
}

/* Sets o[name] to v (replacing it in place, else added at the end). */
static void obj_set(cJSON *o, const char *name, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(o, name))
    cJSON_ReplaceItemInObjectCaseSensitive(o, name, v);
  else
    cJSON_AddItemToObject(o, name, v);
}

static void apply_reaction(cJSON *o, const cJSON *f) {
  const char *emoji = json_str(f, "emoji"), *user = json_str(f, "user");
  int on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "on"));
  if (emoji == NULL || user == NULL) return;
  cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "reactions");
  if (!cJSON_IsArray(list)) {
    if (!on) return;
    list = cJSON_CreateArray();
    /* Before edited_ts, as the store writes it. */
    cJSON *ed = cJSON_DetachItemFromObjectCaseSensitive(o, "edited_ts");
    cJSON_AddItemToObject(o, "reactions", list);
    if (ed) cJSON_AddItemToObject(o, "edited_ts", ed);
  }
  cJSON *entry = NULL, *it;
  int idx = 0, at = -1;
  cJSON_ArrayForEach(it, list) {
    const char *e = json_str(it, "emoji");
    if (e && strcmp(e, emoji) == 0) {
      entry = it;
      at = idx;
    }
    idx++;
  }
  if (entry == NULL) {
    if (!on) return;
    entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "emoji", emoji);
    cJSON_AddItemToObject(entry, "users", cJSON_CreateArray());
    cJSON_AddItemToArray(list, entry);
    at = idx;
  }
  cJSON *users = cJSON_GetObjectItemCaseSensitive(entry, "users");
  if (!cJSON_IsArray(users)) return;
  int uidx = 0, found = -1;
  cJSON_ArrayForEach(it, users) {
    if (cJSON_IsString(it) && strcmp(it->valuestring, user) == 0) found = uidx;
    uidx++;
  }
  if (on && found < 0) cJSON_AddItemToArray(users, cJSON_CreateString(user));
  if (!on && found >= 0) cJSON_DeleteItemFromArray(users, found);
  if (cJSON_GetArraySize(users) == 0) cJSON_DeleteItemFromArray(list, at);
  if (cJSON_GetArraySize(list) == 0) cJSON_DeleteItemFromObjectCaseSensitive(o, "reactions");
}

void chat_proto_obj_apply(const char *obj, size_t len, const char *json, size_t jlen,
                          char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  cJSON *o = cJSON_ParseWithLength(obj, len);
  cJSON *f = cJSON_ParseWithLength(json, jlen);
  const char *type = json_str(f, "type");
  int64_t id = cJSON_IsObject(o) ? json_id(o, "id") : 0, fid = json_id(f, "id");
  int changed = 0;
  if (id == 0 || type == NULL || fid == 0 ||
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted")))
    goto done;
  if (id == fid) {
    if (strcmp(type, "reaction") == 0) {
      apply_reaction(o, f);
      changed = 1;
    } else if (strcmp(type, "message_edited") == 0) {
      const char *text = json_str(f, "text");
      const cJSON *ts = cJSON_GetObjectItemCaseSensitive(f, "edited_ts");
      if (text == NULL || !cJSON_IsNumber(ts)) goto done;
      obj_set(o, "text", cJSON_CreateString(text));
      obj_set(o, "edited_ts", cJSON_CreateNumber(ts->valuedouble));
      changed = 1;
    } else if (strcmp(type, "message_deleted") == 0) {
      cJSON *t = cJSON_CreateObject();
      static const char *const keep[] = {"id", "room", "seq", "to", "sender", "ts"};
      for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keep[i]);
        if (v) cJSON_AddItemToObject(t, keep[i], cJSON_Duplicate(v, 1));
      }
      cJSON_AddTrueToObject(t, "deleted");
      cJSON_Delete(o);
      o = t;
      changed = 1;
    }
  } else {
    cJSON *reply = cJSON_GetObjectItemCaseSensitive(o, "reply_to");
    if (cJSON_IsObject(reply) && json_id(reply, "id") == fid) {
      if (strcmp(type, "message_deleted") == 0) {
        obj_set(reply, "text", cJSON_CreateNull());
        changed = 1;
      } else if (strcmp(type, "message_edited") == 0 && json_str(f, "text")) {
        const char *text = json_str(f, "text");
        char *cut = chat_xstrndup(text, reply_cut(text, strlen(text)));
        obj_set(reply, "text", cJSON_CreateString(cut));
        free(cut);
        changed = 1;
      }
    }
  }
  if (changed) {
    char *p = cJSON_PrintUnformatted(o);
    if (p) {
      *out_len = strlen(p);
      *out = chat_xstrndup(p, *out_len);
      cJSON_free(p);
    }
  }
done:
  cJSON_Delete(o);
  cJSON_Delete(f);
}
