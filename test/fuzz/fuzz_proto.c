/* libFuzzer target for the protocol decoders (built by
 * test/fuzz/CMakeLists.txt; run as the test fuzz.proto).
 *
 * The input is read three ways: as a client's text message (decoded, its
 * text checked, and what the server would send back encoded; decoded both
 * without cJSON where the frame allows and with it, alike), as an event
 * line from another instance, and as a Redis payload of event lines.  The
 * decoders must refuse or accept without tripping the sanitizers, and what
 * the encoders write from decoded values must be JSON that reads back to
 * the same values. */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/sb.h"
#include "core/utf8.h"
#include "net/proto.h"
#include "../unit/req_same.h"

/* The error frame an error turns into parses back to the same fields. */
static void check_error_frame(const chat_proto_error_t *err) {
  chat_rbuf_t *b = chat_proto_error_frame_of(err);
  size_t len;
  const char *json = chat_proto_frame_json(b, &len);
  cJSON *o = cJSON_ParseWithLength(json, len);
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(o, "cid");
  if (!cJSON_IsString(code) || strcmp(code->valuestring, chat_proto_code_name(err->code)) != 0)
    abort();
  if (err->cid ? !cJSON_IsString(cid) || strcmp(cid->valuestring, err->cid) != 0 : cid != NULL)
    abort();
  cJSON_Delete(o);
  chat_rbuf_unref(b);
}

/* A stored message built from a decoded send or dm reads back intact. */
static void check_message(const chat_proto_req_t *req, size_t start, size_t len) {
  chat_proto_msg_t m = {1, req->room, req->to, "sender", req->text + start, len, 2, 3, 0, NULL, NULL};
  chat_sb_t obj, sb;
  chat_sb_init(&obj);
  chat_sb_init(&sb);
  chat_proto_msg_obj(&obj, &m);
  if (req->type == CHAT_PROTO_SEND)
    chat_proto_message(&sb, obj.buf, obj.len);
  else
    chat_proto_dm(&sb, &m);
  cJSON *o = cJSON_ParseWithLength(sb.buf, sb.len);
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(o, "text");
  if (!cJSON_IsString(text) || strlen(text->valuestring) != len ||
      memcmp(text->valuestring, req->text + start, len) != 0)
    abort();
  cJSON_Delete(o);
  if (req->type == CHAT_PROTO_SEND) {
    /* And comes out of an instance's event with the same object. */
    chat_proto_ev_t ev;
    chat_proto_ev_decode(sb.buf, sb.len, &ev);
    if (ev.type != CHAT_PROTO_EV_MESSAGE || ev.obj_len != obj.len ||
        memcmp(ev.obj, obj.buf, obj.len) != 0)
      abort();
    chat_proto_ev_free(&ev);
  }
  chat_rbuf_t *ack = chat_proto_ack_frame(req->cid, 1);
  chat_rbuf_unref(ack);
  chat_sb_free(&obj);
  chat_sb_free(&sb);
}

static void client_message(const uint8_t *data, size_t size) {
  chat_proto_req_t req, tree;
  chat_proto_error_t err, terr;
  int rc = chat_proto_req_decode(data, size, &req, &err);
  /* The flat path (no cJSON) and cJSON's read every frame alike. */
  int trc = chat_proto_req_decode_tree(data, size, &tree, &terr);
  if (!req_same(rc, &req, &err, trc, &tree, &terr)) abort();
  chat_proto_req_free(&tree);
  if (rc != 0) {
    if (!chat_utf8_valid(err.message, strlen(err.message))) abort();
    check_error_frame(&err);
    chat_proto_req_free(&req);
    return;
  }
  switch (req.type) {
    case CHAT_PROTO_JOIN:
      if (req.room < 1 || (req.has_since && req.since < 0)) abort();
      break;
    case CHAT_PROTO_LEAVE:
    case CHAT_PROTO_TYPING:
      if (req.room < 1) abort();
      break;
    case CHAT_PROTO_PING: {
      chat_rbuf_t *pong = chat_proto_pong_frame();
      chat_rbuf_unref(pong);
      break;
    }
    case CHAT_PROTO_SEND:
    case CHAT_PROTO_DM: {
      if (req.text == NULL || (req.type == CHAT_PROTO_SEND ? req.room < 1 : req.to == NULL))
        abort();
      if (req.cid && strlen(req.cid) >= CHAT_CID_MAX) abort();
      size_t start, len;
      if (chat_proto_text_check(req.text, req.cid, &start, &len, &err) == 0) {
        if (len == 0 || start + len > strlen(req.text) ||
            !chat_utf8_valid(req.text + start, len) ||
            chat_utf8_count(req.text + start, len) > CHAT_TEXT_MAX_CHARS)
          abort();
        check_message(&req, start, len);
      } else {
        check_error_frame(&err);
      }
      break;
    }
    case CHAT_PROTO_REACT:
    case CHAT_PROTO_EDIT:
    case CHAT_PROTO_DELETE:
      /* extras: exactly one of a room and a user, and a message id */
      if ((req.room > 0) == (req.to != NULL) || req.room < 0 || req.id < 1) abort();
      if (req.type == CHAT_PROTO_REACT && req.emoji == NULL) abort();
      if (req.type == CHAT_PROTO_EDIT && req.text == NULL) abort();
      break;
    default:
      abort();
  }
  chat_proto_req_free(&req);
}

static void event_line(const char *json, size_t len) {
  chat_proto_ev_t ev;
  chat_proto_ev_decode(json, len, &ev);
  switch (ev.type) {
    case CHAT_PROTO_EV_MESSAGE:
      if (ev.obj == NULL || ev.obj[0] != '{' || strlen(ev.obj) > ev.obj_len || ev.id < 1)
        abort();
      break;
    case CHAT_PROTO_EV_DELIVER:
      if (ev.frame == NULL || strlen(ev.frame) != ev.frame_len || ev.frame[0] != '{') abort();
      break;
    case CHAT_PROTO_EV_REVOKE:
      if (!ev.has_keep && !ev.has_only) abort();
      if (strcmp(ev.reason, "logged out") != 0 && strcmp(ev.reason, "password changed") != 0)
        abort();
      break;
    case CHAT_PROTO_EV_ONLINE:
    case CHAT_PROTO_EV_PRESENCE:
    case CHAT_PROTO_EV_TYPING:
      if (ev.user == NULL) abort();
      break;
    default:
      break;
  }
  chat_proto_ev_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  client_message(data, size);
  event_line((const char *)data, size);
  chat_proto_bus_t it;
  if (chat_proto_bus_open(&it, (const char *)data, size) == 0) {
    const char *json;
    size_t len;
    int n = 0;
    while (chat_proto_bus_next(&it, &json, &len) == 1) {
      if (len == 0 || memchr(json, '\n', len) || json + len > (const char *)data + size) abort();
      if (++n <= 4) event_line(json, len);
    }
  }
  return 0;
}
