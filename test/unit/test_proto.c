/* The protocol module (net/proto.h): every frame and event encoded and
 * decoded, checked against the examples in docs/PROTOCOL.md, and bad input
 * refused with the right error. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/sb.h"
#include "net/proto.h"
#include "net/ws.h"
#include "req_same.h"
#include "t.h"

#ifndef CHAT_SOURCE_DIR
#error "CHAT_SOURCE_DIR must name the repository (CMake sets it)"
#endif

/* ---- docs/PROTOCOL.md ------------------------------------------------- */

static char *doc;                 /* the whole file */
static char *doc_lines[256];      /* the example lines: code-block lines starting with '{' */
static int doc_seen[256];
static size_t ndoc_lines;

static void load_doc(void) {
  FILE *f = fopen(CHAT_SOURCE_DIR "/docs/PROTOCOL.md", "rb");
  T_CHECK(f != NULL);
  if (f == NULL) return;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  doc = chat_xmalloc((size_t)n + 1);
  T_EQ_INT(fread(doc, 1, (size_t)n, f), n);
  doc[n] = '\0';
  fclose(f);
  int in_block = 0;
  for (char *line = doc; line && *line;) {
    char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (len >= 3 && memcmp(line, "```", 3) == 0)
      in_block = !in_block;
    else if (in_block && len > 0 && line[0] == '{' && ndoc_lines < 256)
      doc_lines[ndoc_lines++] = chat_xstrndup(line, len);
    line = nl ? nl + 1 : NULL;
  }
}

/* Checks that s[0..len) is one of the document's example lines. */
static void check_doc_example(const char *s, size_t len, const char *what) {
  int found = 0;
  for (size_t i = 0; i < ndoc_lines; i++) {
    if (strlen(doc_lines[i]) == len && memcmp(doc_lines[i], s, len) == 0) {
      doc_seen[i] = 1;
      found = 1;
    }
  }
  if (found) return;
  t_checks++;
  t_failures++;
  fprintf(stderr, "%s: not an example in docs/PROTOCOL.md: %.*s\n", what, (int)len, s);
}

/* Encodes with fn-like code into sb, checks against the doc, resets sb. */
#define DOC(sb, what)                              \
  do {                                             \
    check_doc_example((sb)->buf, (sb)->len, what); \
    (sb)->len = 0;                                 \
    (sb)->buf[0] = '\0';                           \
  } while (0)

/* ---- helpers ------------------------------------------------------------ */

static int decode(const char *json, chat_proto_req_t *req, chat_proto_error_t *err) {
  memset(err, 0, sizeof(*err));
  return chat_proto_req_decode(json, strlen(json), req, err);
}

/* Decodes json, expects a refusal with code, and frees. */
static void expect_refused(const char *json, chat_proto_code_t code, const char *cid) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  int rc = decode(json, &req, &err);
  T_EQ_INT(rc, -1);
  if (rc == -1) {
    T_EQ_STR(chat_proto_code_name(err.code), chat_proto_code_name(code));
    T_CHECK(err.message != NULL && err.message[0] != '\0');
    if (cid)
      T_EQ_STR(err.cid, cid);
    else
      T_CHECK(err.cid == NULL);
  } else {
    fprintf(stderr, "  accepted: %s\n", json);
  }
  chat_proto_req_free(&req);
}

/* The payload of a frame as a NUL-terminated copy (static buffer). */
static const char *payload(const chat_rbuf_t *b) {
  static char out[1 << 17];
  size_t len;
  const char *p = chat_proto_frame_json(b, &len);
  if (len >= sizeof(out)) return "(too long)";
  memcpy(out, p, len);
  out[len] = '\0';
  return out;
}

/* ---- client to server ---------------------------------------------------- */

static void test_requests_from_doc(void) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  static const char *const examples[] = {
      "{\"type\":\"join\",\"room\":1}",
      "{\"type\":\"join\",\"room\":1,\"since\":41}",
      "{\"type\":\"leave\",\"room\":1}",
      "{\"type\":\"send\",\"room\":1,\"text\":\"\xe4\xbd\xa0\xe5\xa5\xbd\",\"cid\":\"c1\"}",
      "{\"type\":\"typing\",\"room\":1}",
      "{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"hi\",\"cid\":\"c2\"}",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(examples); i++)
    check_doc_example(examples[i], strlen(examples[i]), "request");

  T_EQ_INT(decode(examples[0], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_JOIN);
  T_EQ_INT(req.room, 1);
  T_EQ_INT(req.has_since, 0);
  chat_proto_req_free(&req);

  T_EQ_INT(decode(examples[1], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_JOIN);
  T_EQ_INT(req.since, 41);
  T_EQ_INT(req.has_since, 1);
  chat_proto_req_free(&req);

  T_EQ_INT(decode(examples[2], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_LEAVE);
  T_EQ_INT(req.room, 1);
  chat_proto_req_free(&req);

  T_EQ_INT(decode(examples[3], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_SEND);
  T_EQ_INT(req.room, 1);
  T_EQ_STR(req.text, "\xe4\xbd\xa0\xe5\xa5\xbd");
  T_EQ_STR(req.cid, "c1");
  chat_proto_req_free(&req);
  T_CHECK(req.root == NULL);

  T_EQ_INT(decode(examples[4], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_TYPING);
  T_EQ_INT(req.room, 1);
  chat_proto_req_free(&req);

  T_EQ_INT(decode(examples[5], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_DM);
  T_EQ_STR(req.to, "bob");
  T_EQ_STR(req.text, "hi");
  T_EQ_STR(req.cid, "c2");
  chat_proto_req_free(&req);
}

static void test_request_details(void) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  /* Optional fields: since 0 and null, cid null and absent, extra fields. */
  T_EQ_INT(decode("{\"type\":\"join\",\"room\":7,\"since\":0}", &req, &err), 0);
  T_EQ_INT(req.has_since, 1);
  T_EQ_INT(req.since, 0);
  chat_proto_req_free(&req);
  T_EQ_INT(decode("{\"type\":\"join\",\"room\":7,\"since\":null}", &req, &err), 0);
  T_EQ_INT(req.has_since, 0);
  chat_proto_req_free(&req);
  T_EQ_INT(decode("{\"room\":9007199254740991,\"type\":\"send\",\"text\":\"\",\"cid\":null,"
                  "\"x\":[1]}",
                  &req, &err),
           0);
  T_EQ_INT(req.room, 9007199254740991LL);
  T_CHECK(req.cid == NULL);
  T_EQ_STR(req.text, "");  /* the text rules are chat_proto_text_check's */
  chat_proto_req_free(&req);
  T_EQ_INT(decode(" {\"type\":\"typing\",\"room\":1.0} \n", &req, &err), 0);
  T_EQ_INT(req.room, 1);
  chat_proto_req_free(&req);
  /* A cid of 127 bytes is fine. */
  char json[400];
  char cid[200];
  memset(cid, 'x', 127);
  cid[127] = '\0';
  snprintf(json, sizeof(json), "{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"cid\":\"%s\"}", cid);
  T_EQ_INT(decode(json, &req, &err), 0);
  T_EQ_INT(strlen(req.cid), 127);
  chat_proto_req_free(&req);
  /* The receiver's name is not judged here. */
  T_EQ_INT(decode("{\"type\":\"dm\",\"to\":\"\",\"text\":\"a\"}", &req, &err), 0);
  T_EQ_STR(req.to, "");
  chat_proto_req_free(&req);
}

/* Decodes json both ways (the flat path and cJSON's) and checks they agree;
 * returns whether the flat path read it. */
static int decode_both(const char *json, size_t len) {
  chat_proto_req_t a, b;
  chat_proto_error_t ea, eb;
  memset(&ea, 0, sizeof(ea));
  memset(&eb, 0, sizeof(eb));
  int rca = chat_proto_req_decode(json, len, &a, &ea);
  int flat = a.root == &a.flat_nodes[0];
  int rcb = chat_proto_req_decode_tree(json, len, &b, &eb);
  T_CHECK(b.root != &b.flat_nodes[0]);
  if (!req_same(rca, &a, &ea, rcb, &b, &eb)) {
    fprintf(stderr, "  decoded differently: %.*s\n", (int)len, json);
    T_CHECK(0);
  }
  chat_proto_req_free(&a);
  chat_proto_req_free(&b);
  return flat;
}

static void test_flat_frames(void) {
  /* Read without cJSON, and read the same. */
  static const char *const flat[] = {
      "{\"type\":\"send\",\"room\":3,\"text\":\"\xe4\xbd\xa0\xe5\xa5\xbd \xe4\xb8\x8a\xe6\xb5\xb7\",\"cid\":\"c1765\"}",
      " {\"cid\" : null ,\"text\":\"hi\", \"room\" :\t12,\"type\":\"send\"}\r\n",
      "{\"type\":\"dm\",\"to\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"text\":\"hi\",\"cid\":\"c2\",\"reply_to\":77}",
      "{\"type\":\"join\",\"room\":1,\"since\":0}",
      "{\"type\":\"react\",\"room\":1,\"id\":5,\"emoji\":\"\xf0\x9f\x91\x8d\",\"on\":true}",
      "{\"type\":\"react\",\"to\":\"bob\",\"id\":5,\"emoji\":\"x\",\"on\":false}",
      "{\"type\":\"ping\"}",
      "{}",
      "{\"type\":\"send\",\"type\":\"join\",\"room\":1,\"text\":\"first wins\"}",
      "{\"type\":\"send\",\"room\":999999999999999,\"text\":\"a\"}",
      "{\"type\":\"send\",\"room\":0,\"text\":\"a\",\"cid\":\"c3\"}",
      "{\"type\":\"send\",\"room\":2147483648,\"text\":\"\",\"cid\":7}",
      "{\"type\":\"dance\"}",
      "{\"type\":5}",
      "{\"\":\"\",\"type\":\"typing\",\"room\":4}",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(flat); i++) {
    if (!decode_both(flat[i], strlen(flat[i]))) {
      fprintf(stderr, "  not read flat: %s\n", flat[i]);
      T_CHECK(0);
    }
  }
  /* A cid too long is refused alike. */
  char cid128[300];
  snprintf(cid128, sizeof(cid128), "{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"cid\":\"%0128d\"}", 0);
  T_CHECK(decode_both(cid128, strlen(cid128)));
  /* Left to cJSON (and still read the same, or refused the same). */
  const char *const other[] = {
      "{\"type\":\"send\",\"room\":1,\"text\":\"a\\\"b\"}",          /* an escape */
      "{\"type\":\"send\",\"room\":1,\"text\":\"a\\u0000b\"}",        /* U+0000 */
      "{\"type\":\"send\",\"room\":1,\"text\":\"a\\u00zz\"}",         /* broken */
      "{\"type\":\"send\",\"room\":1.0,\"text\":\"a\"}",            /* a fraction */
      "{\"type\":\"send\",\"room\":1e0,\"text\":\"a\"}",
      "{\"type\":\"send\",\"room\":-1,\"text\":\"a\"}",
      "{\"type\":\"send\",\"room\":01,\"text\":\"a\"}",             /* cJSON reads 1 */
      "{\"type\":\"send\",\"room\":9007199254740993,\"text\":\"a\"}",
      "{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"files\":[1,2]}", /* nested */
      "{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"x\":{}}",
      "{\"type\":\"send\",\"room\":1,\"text\":\"tab\there\"}",     /* a control character */
      "\x01{\"type\":\"ping\"}",                                    /* cJSON's white space */
      "\xef\xbb\xbf{\"type\":\"ping\"}",                              /* a byte order mark */
      "{\"type\":\"ping\",}",
      "{\"type\":\"ping\"} x",
      "{\"type\":\"ping\"",
      "{\"type\":nul}",
      "{\"type\":\"ping\",\"a\":truex}",
      "{\"type\":\"send\",\"room\":1,\"text\":\"\xff\"}",
      "[1]",
      "\"send\"",
      "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,"
      "\"type\":\"ping\"}",                                         /* too many members */
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(other); i++) {
    if (decode_both(other[i], strlen(other[i]))) {
      fprintf(stderr, "  read flat: %s\n", other[i]);
      T_CHECK(0);
    }
  }
  /* A raw NUL byte, and a frame longer than CHAT_PROTO_FLAT_BYTES. */
  T_CHECK(!decode_both("{\"type\":\"ping\",\"a\":\"\0\"}", 21));
  char big[CHAT_PROTO_FLAT_BYTES + 64];
  int n = snprintf(big, sizeof(big), "{\"type\":\"send\",\"room\":1,\"text\":\"");
  memset(big + n, 'a', CHAT_PROTO_FLAT_BYTES);
  memcpy(big + n + CHAT_PROTO_FLAT_BYTES, "\"}", 3);
  T_CHECK(!decode_both(big, strlen(big)));
  /* Just at the limit: flat. */
  size_t at = CHAT_PROTO_FLAT_BYTES - (size_t)n - 2;
  memcpy(big + n + at, "\"}", 3);
  T_EQ_INT(strlen(big), CHAT_PROTO_FLAT_BYTES);
  T_CHECK(decode_both(big, strlen(big)));
}

static void test_request_errors(void) {
  /* Not JSON, or not one value in UTF-8 without NUL. */
  expect_refused("", CHAT_PROTO_BAD_JSON, NULL);
  expect_refused("{", CHAT_PROTO_BAD_JSON, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1} x", CHAT_PROTO_BAD_JSON, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1}{}", CHAT_PROTO_BAD_JSON, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"\xff\"}", CHAT_PROTO_BAD_JSON, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"\xed\xa0\x80\"}", CHAT_PROTO_BAD_JSON,
                 NULL);
  {
    chat_proto_req_t req;
    chat_proto_error_t err;
    static const char nul[] = "{\"type\":\"join\",\"room\":1}\0";
    T_EQ_INT(chat_proto_req_decode(nul, sizeof(nul) - 1, &req, &err), -1);
    T_EQ_INT(err.code, CHAT_PROTO_BAD_JSON);
    chat_proto_req_free(&req);
    static const char nul2[] = "{\"type\":\"send\",\"room\":1,\"text\":\"a\0b\"}";
    T_EQ_INT(chat_proto_req_decode(nul2, sizeof(nul2) - 1, &req, &err), -1);
    T_EQ_INT(err.code, CHAT_PROTO_BAD_JSON);
    chat_proto_req_free(&req);
  }
  /* Not an object with a string type. */
  expect_refused("[]", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("[{\"type\":\"join\"}]", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("\"join\"", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("null", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":1}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":null}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"Type\":\"join\",\"room\":1}", CHAT_PROTO_BAD_REQUEST, NULL);
  /* Unknown types, including the contract's unimplemented ones. */
  expect_refused("{\"type\":\"JOIN\",\"room\":1}", CHAT_PROTO_UNKNOWN_TYPE, NULL);
  expect_refused("{\"type\":\"dance\",\"room\":1}", CHAT_PROTO_UNKNOWN_TYPE, NULL);
  expect_refused("{\"type\":\"\"}", CHAT_PROTO_UNKNOWN_TYPE, NULL);
  /* Room ids: missing, wrong type, out of range, not integers. */
  static const char *const bad_rooms[] = {
      "", ",\"room\":null", ",\"room\":\"1\"", ",\"room\":0", ",\"room\":-1", ",\"room\":1.5",
      ",\"room\":9007199254740992", ",\"room\":1e300", ",\"room\":true", ",\"room\":[1]",
  };
  static const char *const room_types[] = {"join", "leave", "typing"};
  for (size_t t = 0; t < CHAT_ARRAY_SIZE(room_types); t++) {
    for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad_rooms); i++) {
      char json[200];
      snprintf(json, sizeof(json), "{\"type\":\"%s\"%s}", room_types[t], bad_rooms[i]);
      expect_refused(json, CHAT_PROTO_BAD_REQUEST, NULL);
    }
  }
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad_rooms); i++) {
    char json[200];
    snprintf(json, sizeof(json), "{\"type\":\"send\",\"text\":\"hi\",\"cid\":\"k\"%s}",
             bad_rooms[i]);
    expect_refused(json, CHAT_PROTO_BAD_REQUEST, "k");  /* after the cid: carries it */
  }
  /* since: wrong type, negative, fraction, too big. */
  expect_refused("{\"type\":\"join\",\"room\":1,\"since\":\"5\"}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1,\"since\":-1}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1,\"since\":0.5}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1,\"since\":9007199254740992}",
                 CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"join\",\"room\":1,\"since\":false}", CHAT_PROTO_BAD_REQUEST, NULL);
  /* cid: wrong type or 128 bytes; refused without a cid. */
  char json[400], cid[200];
  memset(cid, 'x', 128);
  cid[128] = '\0';
  snprintf(json, sizeof(json), "{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"cid\":\"%s\"}", cid);
  expect_refused(json, CHAT_PROTO_BAD_REQUEST, NULL);
  snprintf(json, sizeof(json), "{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"a\",\"cid\":\"%s\"}", cid);
  expect_refused(json, CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"cid\":5}", CHAT_PROTO_BAD_REQUEST,
                 NULL);
  expect_refused("{\"type\":\"dm\",\"to\":\"b\",\"text\":\"a\",\"cid\":{}}", CHAT_PROTO_BAD_REQUEST,
                 NULL);
  /* Missing or mistyped text and to: with the cid. */
  expect_refused("{\"type\":\"send\",\"room\":1,\"cid\":\"c\"}", CHAT_PROTO_BAD_REQUEST, "c");
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":5,\"cid\":\"c\"}", CHAT_PROTO_BAD_REQUEST,
                 "c");
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":null}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"dm\",\"text\":\"a\",\"cid\":\"d\"}", CHAT_PROTO_BAD_REQUEST, "d");
  expect_refused("{\"type\":\"dm\",\"to\":7,\"text\":\"a\",\"cid\":\"d\"}", CHAT_PROTO_BAD_REQUEST,
                 "d");
  expect_refused("{\"type\":\"dm\",\"to\":\"bob\",\"cid\":\"d\"}", CHAT_PROTO_BAD_REQUEST, "d");
  expect_refused("{\"type\":\"dm\",\"to\":\"bob\",\"text\":[]}", CHAT_PROTO_BAD_REQUEST, NULL);
  /* A \u0000 escape in any string: refused, never read as the end of it. */
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"a\\u0000b\",\"cid\":\"n\"}",
                 CHAT_PROTO_BAD_REQUEST, "n");
  expect_refused("{\"type\":\"dm\",\"to\":\"bob\\u0000x\",\"text\":\"a\",\"cid\":\"n\"}",
                 CHAT_PROTO_BAD_REQUEST, "n");
  expect_refused("{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"\\u0000\"}", CHAT_PROTO_BAD_REQUEST,
                 NULL);
  expect_refused("{\"type\":\"join\",\"room\":1,\"x\":\"\\u0000\"}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\\u0000\",\"room\":1,\"text\":\"a\"}", CHAT_PROTO_BAD_REQUEST,
                 NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"a\",\"cid\":\"c\\u0000\"}",
                 CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"te\\u0000xt\":\"a\"}", CHAT_PROTO_BAD_JSON,
                 NULL);
}

static void test_text_check(void) {
  chat_proto_error_t err;
  size_t start, len;
  T_EQ_INT(chat_proto_text_check("  hi \xe3\x80\x80", "c", &start, &len, &err), 0);
  T_EQ_INT(start, 2);
  T_EQ_INT(len, 2);
  T_EQ_INT(chat_proto_text_check("\xe4\xbd\xa0\xe5\xa5\xbd", NULL, &start, &len, &err), 0);
  T_EQ_INT(len, 6);

  memset(&err, 0, sizeof(err));
  T_EQ_INT(chat_proto_text_check("", "c", &start, &len, &err), -1);
  T_EQ_INT(err.code, CHAT_PROTO_EMPTY_TEXT);
  T_EQ_STR(err.cid, "c");
  T_EQ_INT(chat_proto_text_check(" \t\n\xe3\x80\x80\xc2\xa0", NULL, &start, &len, &err), -1);
  T_EQ_INT(err.code, CHAT_PROTO_EMPTY_TEXT);
  T_CHECK(err.cid == NULL);

  /* 4000 characters, three bytes each, with space around: fine; one more
   * is too long. */
  char *s = chat_xmalloc(3 * 4001 + 3);
  size_t n = 0;
  s[n++] = ' ';
  for (int i = 0; i < 4000; i++) {
    memcpy(s + n, "\xe5\xbc\xa0", 3);
    n += 3;
  }
  s[n++] = ' ';
  s[n] = '\0';
  T_EQ_INT(chat_proto_text_check(s, NULL, &start, &len, &err), 0);
  T_EQ_INT(len, 12000);
  memcpy(s + n - 1, "\xe5\xbc\xa0", 3);
  s[n + 2] = '\0';
  T_EQ_INT(chat_proto_text_check(s, "c9", &start, &len, &err), -1);
  T_EQ_INT(err.code, CHAT_PROTO_TEXT_TOO_LONG);
  T_EQ_STR(err.message, "a message has at most 4000 characters");
  T_EQ_STR(err.cid, "c9");
  free(s);
  /* Refused by bytes before counting. */
  s = chat_xmalloc(16002);
  memset(s, 'a', 16001);
  s[16001] = '\0';
  T_EQ_INT(chat_proto_text_check(s, NULL, &start, &len, &err), -1);
  T_EQ_INT(err.code, CHAT_PROTO_TEXT_TOO_LONG);
  s[4000] = '\0';
  T_EQ_INT(chat_proto_text_check(s, NULL, &start, &len, &err), 0);
  s[4000] = 'a';
  s[4001] = '\0';
  T_EQ_INT(chat_proto_text_check(s, NULL, &start, &len, &err), -1);
  free(s);
  /* Invalid UTF-8 (only reachable for callers that did not go through
   * chat_proto_req_decode). */
  T_EQ_INT(chat_proto_text_check("a\xff", "x", &start, &len, &err), -1);
  T_EQ_INT(err.code, CHAT_PROTO_BAD_REQUEST);
  T_EQ_STR(err.cid, "x");
}

/* ---- server to client ---------------------------------------------------- */

static void test_frames_from_doc(void) {
  chat_sb_t sb, obj, hist;
  chat_sb_init(&sb);
  chat_sb_init(&obj);
  chat_sb_init(&hist);

  chat_proto_msg_t m = {42, 1, NULL, "alice", "hi", 2, 1764400000000LL, 7, 0, NULL, NULL};
  chat_proto_msg_obj(&obj, &m);
  T_EQ_STR(obj.buf, "{\"id\":42,\"room\":1,\"seq\":7,\"sender\":\"alice\",\"text\":\"hi\","
                    "\"ts\":1764400000000}");
  chat_proto_list_add(&hist, obj.buf, obj.len);
  const char *members[] = {"alice", "bob"};
  chat_proto_joined(&sb, 1, members, 2, hist.buf, hist.len, 0);
  DOC(&sb, "joined");
  chat_rbuf_t *b = chat_proto_joined_frame(1, members, 2, hist.buf, hist.len, 0);
  check_doc_example(payload(b), strlen(payload(b)), "joined frame");
  chat_rbuf_unref(b);

  chat_proto_msg_t m2 = {43, 1, "", "alice", "\xe4\xbd\xa0\xe5\xa5\xbd", 6, 1764400001000LL, 8, 0, NULL, NULL};
  obj.len = 0;
  chat_proto_msg_obj(&obj, &m2);
  chat_proto_message(&sb, obj.buf, obj.len);
  DOC(&sb, "message");
  b = chat_proto_message_frame(obj.buf, obj.len);
  check_doc_example(payload(b), strlen(payload(b)), "message frame");
  chat_rbuf_unref(b);

  chat_proto_ack(&sb, "c1", 43);
  DOC(&sb, "ack");
  chat_proto_ack(&sb, NULL, 44);
  DOC(&sb, "ack without cid");
  b = chat_proto_ack_frame("c1", 43);
  T_EQ_STR(payload(b), "{\"type\":\"ack\",\"cid\":\"c1\",\"id\":43}");
  chat_rbuf_unref(b);

  chat_proto_msg_t dm = {7, 0, "bob", "alice", "hi", 2, 1764400002000LL, 0, 0, NULL, NULL};
  chat_proto_dm(&sb, &dm);
  DOC(&sb, "dm");

  chat_proto_presence(&sb, 1, "bob", 1);
  DOC(&sb, "presence join");
  chat_proto_presence(&sb, 1, "bob", 0);
  DOC(&sb, "presence leave");
  chat_proto_typing(&sb, 1, "alice");
  DOC(&sb, "typing");
  chat_proto_online(&sb, "bob", 1);
  DOC(&sb, "online");
  b = chat_proto_online_frame("bob", 0);
  T_EQ_STR(payload(b), "{\"type\":\"online\",\"user\":\"bob\",\"online\":false}");
  chat_rbuf_unref(b);
  chat_proto_room_deleted(&sb, 3);
  DOC(&sb, "room_deleted");
  b = chat_proto_room_deleted_frame(3);
  check_doc_example(payload(b), strlen(payload(b)), "room_deleted frame");
  chat_rbuf_unref(b);
  chat_proto_message_deleted(&sb, 1, 42);
  DOC(&sb, "message_deleted");
  chat_proto_friend(&sb, "bob", CHAT_PROTO_FRIEND_INCOMING);
  DOC(&sb, "friend");

  chat_proto_error(&sb, CHAT_PROTO_TEXT_TOO_LONG, "a message has at most 4000 characters", "c1");
  DOC(&sb, "error");
  chat_proto_http_error(&sb, "unauthenticated", "log in first");
  DOC(&sb, "http error");

  chat_sb_free(&sb);
  chat_sb_free(&obj);
  chat_sb_free(&hist);
}

static void test_frame_details(void) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  /* A direct message object in HTTP lists: "to" where a room message has
   * "room", before "sender". */
  chat_proto_msg_t dm = {7, 0, "bob", "alice", "hi", 2, 5, 3, 0, NULL, NULL};  /* a DM has no seq */
  chat_proto_msg_obj(&sb, &dm);
  T_EQ_STR(sb.buf, "{\"id\":7,\"to\":\"bob\",\"sender\":\"alice\",\"text\":\"hi\",\"ts\":5}");
  sb.len = 0;
  /* text_len bytes, not up to a NUL. */
  chat_proto_msg_t m = {1, 2, NULL, "a", "abcdef", 3, 0, 0, 0, NULL, NULL};  /* seq 0: left out */
  chat_proto_msg_obj(&sb, &m);
  T_EQ_STR(sb.buf, "{\"id\":1,\"room\":2,\"sender\":\"a\",\"text\":\"abc\",\"ts\":0}");
  sb.len = 0;
  /* Empty lists. */
  chat_proto_joined(&sb, 9, NULL, 0, "", 0, 0);
  T_EQ_STR(sb.buf, "{\"type\":\"joined\",\"room\":9,\"members\":[],\"history\":[]}");
  sb.len = 0;
  /* A reply holding only the newest part of a resume. */
  chat_proto_joined(&sb, 9, NULL, 0, "{\"id\":5}", 8, 1);
  T_EQ_STR(sb.buf, "{\"type\":\"joined\",\"room\":9,\"members\":[],\"history\":[{\"id\":5}],"
                   "\"partial\":true}");
  sb.len = 0;
  chat_proto_list_add(&sb, "{\"id\":1}", 8);
  chat_proto_list_add(&sb, "{\"id\":2}", 8);
  T_EQ_STR(sb.buf, "{\"id\":1},{\"id\":2}");
  sb.len = 0;
  /* Every friend state; out of range reads as none. */
  chat_proto_friend(&sb, "z", CHAT_PROTO_FRIEND_NONE);
  chat_proto_friend(&sb, "z", CHAT_PROTO_FRIEND_OUTGOING);
  chat_proto_friend(&sb, "z", CHAT_PROTO_FRIEND_FRIENDS);
  chat_proto_friend(&sb, "z", (chat_proto_friend_t)99);
  T_EQ_STR(sb.buf,
           "{\"type\":\"friend\",\"user\":\"z\",\"state\":\"none\"}"
           "{\"type\":\"friend\",\"user\":\"z\",\"state\":\"outgoing\"}"
           "{\"type\":\"friend\",\"user\":\"z\",\"state\":\"friends\"}"
           "{\"type\":\"friend\",\"user\":\"z\",\"state\":\"none\"}");
  sb.len = 0;
  /* Every code has its name. */
  static const char *const names[] = {"bad_json",   "unknown_type", "bad_request",
                                      "no_such_room", "not_member", "empty_text",
                                      "text_too_long", "not_friends", "rate_limited",
                                      "store_unavailable"};
  for (int c = CHAT_PROTO_BAD_JSON; c <= CHAT_PROTO_STORE_UNAVAILABLE; c++)
    T_EQ_STR(chat_proto_code_name((chat_proto_code_t)c), names[c - 1]);
  T_EQ_STR(chat_proto_code_name((chat_proto_code_t)0), "internal");
  chat_sb_free(&sb);
}

/* The hand-built frames escape strings as cJSON does: frames that were
 * built with cJSON before look the same. */
static void test_escaping_matches_cjson(void) {
  static const char *const tricky[] = {
      "plain", "quote \" and \\ backslash", "tab\tnewline\nreturn\r", "\x01\x1f\x7f",
      "\xe4\xbd\xa0 / </script>", "\b\f", "",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(tricky); i++) {
    const char *s = tricky[i];
    chat_sb_t sb;
    chat_sb_init(&sb);
    chat_proto_error(&sb, CHAT_PROTO_BAD_REQUEST, s, s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", "bad_request");
    cJSON_AddStringToObject(o, "message", s);
    cJSON_AddStringToObject(o, "cid", s);
    char *want = cJSON_PrintUnformatted(o);
    T_EQ_STR(sb.buf, want);
    cJSON_free(want);
    cJSON_Delete(o);

    sb.len = 0;
    chat_proto_friend(&sb, s, CHAT_PROTO_FRIEND_FRIENDS);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "friend");
    cJSON_AddStringToObject(o, "user", s);
    cJSON_AddStringToObject(o, "state", "friends");
    want = cJSON_PrintUnformatted(o);
    T_EQ_STR(sb.buf, want);
    cJSON_free(want);
    cJSON_Delete(o);

    sb.len = 0;
    chat_proto_http_error(&sb, "not_found", s);
    o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", "not_found");
    cJSON_AddStringToObject(e, "message", s);
    want = cJSON_PrintUnformatted(o);
    T_EQ_STR(sb.buf, want);
    cJSON_free(want);
    cJSON_Delete(o);
    chat_sb_free(&sb);
  }
}

/* The message broadcast frame: the same bytes chat_ws_frame_new makes of
 * the message JSON, at every header size. */
static void test_message_frame(void) {
  static const size_t text_lens[] = {1, 60, 200, 70000};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(text_lens); i++) {
    size_t tl = text_lens[i];
    char *text = chat_xmalloc(tl);
    memset(text, 'q', tl);
    chat_sb_t obj, json;
    chat_sb_init(&obj);
    chat_sb_init(&json);
    chat_proto_msg_t m = {5, 6, NULL, "u", text, tl, 7, 9, 0, NULL, NULL};
    chat_proto_msg_obj(&obj, &m);
    chat_proto_message(&json, obj.buf, obj.len);
    chat_rbuf_t *want = chat_ws_frame_new(CHAT_WS_OP_TEXT, json.buf, json.len);
    chat_rbuf_t *got = chat_proto_message_frame(obj.buf, obj.len);
    T_EQ_INT(got->len, want->len);
    T_CHECK(got->len == want->len && memcmp(got->data, want->data, got->len) == 0);
    T_EQ_INT(got->refs, 1);
    size_t n;
    const char *p = chat_proto_frame_json(got, &n);
    T_EQ_INT(n, json.len);
    T_CHECK(n == json.len && memcmp(p, json.buf, n) == 0);
    chat_rbuf_unref(got);
    chat_rbuf_unref(want);
    chat_sb_free(&obj);
    chat_sb_free(&json);
    free(text);
  }
  chat_rbuf_t *b = chat_proto_frame("{}", 2);
  T_EQ_INT(b->len, 4);
  T_EQ_INT(b->data[0], 0x81);
  T_EQ_INT(b->data[1], 2);
  T_EQ_STR(payload(b), "{}");
  chat_rbuf_unref(b);
}

/* ---- between instances --------------------------------------------------- */

static void test_bus_envelope(void) {
  chat_sb_t batch;
  chat_sb_init(&batch);
  T_EQ_INT(chat_proto_bus_len(&batch), 0);
  chat_proto_bus_add(&batch, "0123456789abcdef", "{\"a\":1}", 7);
  chat_proto_bus_add(&batch, "ignored", "{\"b\":2}", 7);
  T_EQ_STR(batch.buf, "0123456789abcdef\n{\"a\":1}\n{\"b\":2}\n");
  T_EQ_INT(chat_proto_bus_len(&batch), batch.len - 1);

  chat_proto_bus_t it;
  const char *json;
  size_t len;
  T_EQ_INT(chat_proto_bus_open(&it, batch.buf, chat_proto_bus_len(&batch)), 0);
  T_EQ_INT(it.sender_len, 16);
  T_CHECK(memcmp(it.sender, "0123456789abcdef", 16) == 0);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 1);
  T_CHECK(len == 7 && memcmp(json, "{\"a\":1}", 7) == 0);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 1);
  T_CHECK(len == 7 && memcmp(json, "{\"b\":2}", 7) == 0);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 0);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 0);
  chat_sb_free(&batch);

  /* Empty lines are skipped; a script's payload has the sender "-". */
  static const char p[] = "-\n\n{\"x\":1}\n\n";
  T_EQ_INT(chat_proto_bus_open(&it, p, sizeof(p) - 1), 0);
  T_EQ_INT(it.sender_len, 1);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 1);
  T_EQ_INT(len, 7);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 0);
  /* No sender line. */
  T_EQ_INT(chat_proto_bus_open(&it, "{\"x\":1}", 7), -1);
  T_EQ_INT(chat_proto_bus_open(&it, "", 0), -1);
  /* The sender only. */
  T_EQ_INT(chat_proto_bus_open(&it, "abc\n", 4), 0);
  T_EQ_INT(chat_proto_bus_next(&it, &json, &len), 0);
}

static void decode_ev(const char *json, chat_proto_ev_t *ev) {
  chat_proto_ev_decode(json, strlen(json), ev);
}

static void test_events_from_doc(void) {
  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_ev_t ev;

  chat_proto_ev_online(&sb, 2, "bob", 0);
  DOC(&sb, "online event");

  chat_sb_t frame;
  chat_sb_init(&frame);
  chat_proto_friend(&frame, "alice", CHAT_PROTO_FRIEND_INCOMING);
  chat_proto_ev_deliver(&sb, 2, frame.buf, frame.len);
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_DELIVER);
  T_EQ_INT(ev.user_id, 2);
  T_EQ_STR(ev.frame, frame.buf);
  T_EQ_INT(ev.frame_len, frame.len);
  chat_proto_ev_free(&ev);
  DOC(&sb, "deliver");
  chat_sb_free(&frame);

  uint8_t keep[32], only[32];
  for (int i = 0; i < 32; i++) keep[i] = (uint8_t)i, only[i] = (uint8_t)(255 - i);
  chat_proto_ev_revoke(&sb, 2, keep, NULL, "password changed");
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_REVOKE);
  T_EQ_INT(ev.user_id, 2);
  T_EQ_INT(ev.has_keep, 1);
  T_EQ_INT(ev.has_only, 0);
  T_CHECK(memcmp(ev.keep, keep, 32) == 0);
  T_EQ_STR(ev.reason, "password changed");
  chat_proto_ev_free(&ev);
  DOC(&sb, "revoke");

  chat_proto_ev_revoke(&sb, 3, NULL, only, "logged out");
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_REVOKE);
  T_EQ_INT(ev.has_keep, 0);
  T_EQ_INT(ev.has_only, 1);
  T_CHECK(memcmp(ev.only, only, 32) == 0);
  T_EQ_STR(ev.reason, "logged out");
  chat_proto_ev_free(&ev);
  sb.len = 0;

  chat_proto_ev_ban(&sb, 5);
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_BAN);
  T_EQ_INT(ev.user_id, 5);
  chat_proto_ev_free(&ev);
  DOC(&sb, "ban");

  chat_proto_ev_room_created(&sb, 4);
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_ROOM_CREATED);
  T_EQ_INT(ev.room, 4);
  chat_proto_ev_free(&ev);
  DOC(&sb, "room_created");

  chat_proto_room_deleted(&sb, 3);
  decode_ev(sb.buf, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_ROOM_DELETED);
  T_EQ_INT(ev.room, 3);
  chat_proto_ev_free(&ev);
  DOC(&sb, "room_deleted event");
  chat_sb_free(&sb);
}

static void test_event_decoding(void) {
  chat_proto_ev_t ev;
  /* online as a Redis script writes it: keys in any order, '/' escaped. */
  decode_ev("{\"online\":true,\"user\":\"a\\/b\",\"id\":9,\"type\":\"online\"}", &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_ONLINE);
  T_EQ_INT(ev.user_id, 9);
  T_EQ_STR(ev.user, "a/b");
  T_EQ_INT(ev.online, 1);
  chat_proto_ev_free(&ev);
  decode_ev("{\"type\":\"online\",\"id\":9,\"user\":\"a\"}", &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_ONLINE);
  T_EQ_INT(ev.online, 0);
  chat_proto_ev_free(&ev);

  /* Room frames. */
  chat_sb_t sb, obj;
  chat_sb_init(&sb);
  chat_sb_init(&obj);
  chat_proto_msg_t m = {43, 1, NULL, "alice", "\"hi\"", 4, 99, 12, 0, NULL, NULL};
  chat_proto_msg_obj(&obj, &m);
  chat_proto_message(&sb, obj.buf, obj.len);
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_MESSAGE);
  T_EQ_INT(ev.id, 43);
  T_EQ_INT(ev.room, 1);
  T_EQ_INT(ev.seq, 12);
  T_EQ_STR(ev.obj, obj.buf);
  T_EQ_INT(ev.obj_len, obj.len);
  char *taken = ev.obj;  /* the caller may keep the object */
  ev.obj = NULL;
  chat_proto_ev_free(&ev);
  free(taken);
  sb.len = 0;
  chat_proto_presence(&sb, 1, "bob", 1);
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_PRESENCE);
  T_EQ_STR(ev.user, "bob");
  T_EQ_INT(ev.join, 1);
  T_EQ_INT(ev.room, 1);
  chat_proto_ev_free(&ev);
  decode_ev("{\"event\":\"leave\",\"user\":\"bob\",\"room\":1,\"type\":\"presence\"}", &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_PRESENCE);
  T_EQ_INT(ev.join, 0);
  chat_proto_ev_free(&ev);
  sb.len = 0;
  chat_proto_typing(&sb, 1, "alice");
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_TYPING);
  T_EQ_STR(ev.user, "alice");
  chat_proto_ev_free(&ev);
  sb.len = 0;
  chat_proto_message_deleted(&sb, 1, 42);
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_MESSAGE_DELETED);
  T_EQ_INT(ev.room, 1);
  T_EQ_INT(ev.id, 42);
  chat_proto_ev_free(&ev);
  chat_sb_free(&sb);
  chat_sb_free(&obj);

  /* Hashes: upper case accepted; wrong length or digits refused. */
  decode_ev("{\"type\":\"revoke\",\"user_id\":1,\"only\":"
            "\"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\","
            "\"reason\":\"anything\"}",
            &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_REVOKE);
  T_EQ_INT(ev.only[31], 0x1f);
  T_EQ_STR(ev.reason, "password changed");  /* unknown reasons read as this */
  chat_proto_ev_free(&ev);

  /* Ignored: not JSON, not an object, unknown types, missing or bad fields. */
  static const char *const ignored[] = {
      "",
      "nonsense",
      "[1,2]",
      "{\"type\":7}",
      "{\"type\":\"hello\",\"room\":1}",
      "{\"id\":5,\"type\":\"message\",\"room\":1}",  /* not the exact prefix */
      "{\"type\":\"message\",\"room\":1}",         /* the prefix, but no id */
      "{\"type\":\"message\",\"id\":0,\"room\":1}",
      "{\"type\":\"deliver\",\"user_id\":1}",
      "{\"type\":\"deliver\",\"user_id\":1,\"frame\":\"{}\"}",
      "{\"type\":\"deliver\",\"user_id\":0,\"frame\":{}}",
      "{\"type\":\"revoke\",\"user_id\":1,\"reason\":\"logged out\"}",
      "{\"type\":\"revoke\",\"user_id\":1,\"keep\":\"00\"}",
      "{\"type\":\"revoke\",\"user_id\":1,\"keep\":"
      "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\"}",
      "{\"type\":\"revoke\",\"keep\":"
      "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"}",
      "{\"type\":\"ban\"}",
      "{\"type\":\"ban\",\"user_id\":\"5\"}",
      "{\"type\":\"ban\",\"user_id\":-5}",
      "{\"type\":\"ban\",\"user_id\":1e300}",
      "{\"type\":\"room_created\",\"room\":0}",
      "{\"type\":\"room_deleted\"}",
      "{\"type\":\"online\",\"id\":1}",
      "{\"type\":\"online\",\"user\":\"a\",\"online\":true}",
      "{\"type\":\"message_deleted\",\"room\":1}",
      "{\"type\":\"presence\",\"room\":1,\"event\":\"join\"}",
      "{\"type\":\"typing\",\"room\":1,\"user\":5}",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(ignored); i++) {
    decode_ev(ignored[i], &ev);
    if (ev.type != CHAT_PROTO_EV_OTHER) fprintf(stderr, "  not ignored: %s\n", ignored[i]);
    T_EQ_INT(ev.type, CHAT_PROTO_EV_OTHER);
    T_CHECK(ev.obj == NULL && ev.frame == NULL);
    chat_proto_ev_free(&ev);
  }
}

/* A message object as room:ID:recent holds it, and its id read back. */
static void test_msg_obj_id(void) {
  chat_sb_t obj;
  chat_sb_init(&obj);
  chat_proto_msg_t m = {42, 1, NULL, "alice", "hi", 2, 1764400000000LL, 7, 0, NULL, NULL};
  chat_proto_msg_obj(&obj, &m);
  check_doc_example(obj.buf, obj.len, "recent entry");
  T_EQ_INT(chat_proto_msg_obj_id(obj.buf, obj.len), 42);
  int64_t seq = -1;
  T_EQ_INT(chat_proto_msg_obj_id_seq(obj.buf, obj.len, &seq), 42);
  T_EQ_INT(seq, 7);
  /* An entry an older chatd pushed has no seq; a bad seq counts as none. */
  T_EQ_INT(chat_proto_msg_obj_id_seq("{\"id\":4}", 8, &seq), 4);
  T_EQ_INT(seq, 0);
  T_EQ_INT(chat_proto_msg_obj_id_seq("{\"id\":4,\"seq\":-1}", 17, &seq), 4);
  T_EQ_INT(seq, 0);
  T_EQ_INT(chat_proto_msg_obj_id_seq("{\"seq\":4}", 9, &seq), 0);
  T_EQ_INT(seq, 0);
  chat_sb_free(&obj);
  static const char *const ok = "{\"ts\":1,\"text\":\"x\",\"id\":9007199254740991}";
  T_EQ_INT(chat_proto_msg_obj_id(ok, strlen(ok)), 9007199254740991LL);
  static const char *const bad[] = {
      "", "{", "[]", "{}", "{\"id\":0}", "{\"id\":-3}", "{\"id\":1.5}", "{\"id\":\"7\"}",
      "{\"id\":9007199254740992}", "{\"ID\":7}", "7",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++)
    T_EQ_INT(chat_proto_msg_obj_id(bad[i], strlen(bad[i])), 0);
  /* len bounds the object: a longer buffer is not read past it. */
  T_EQ_INT(chat_proto_msg_obj_id("{\"id\":5}trailing", 8), 5);
}

/* The heartbeat a page can see: {"type":"ping"} answered {"type":"pong"}. */
static void test_ping_pong(void) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  static const char ping[] = "{\"type\":\"ping\"}";
  check_doc_example(ping, strlen(ping), "ping");
  T_EQ_INT(decode(ping, &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_PING);
  chat_proto_req_free(&req);
  /* Unknown fields are ignored; a NUL escape is refused as everywhere. */
  T_EQ_INT(decode("{\"type\":\"ping\",\"n\":1}", &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_PING);
  chat_proto_req_free(&req);
  expect_refused("{\"type\":\"ping\",\"x\":\"a\\u0000\"}", CHAT_PROTO_BAD_REQUEST, NULL);

  chat_sb_t sb;
  chat_sb_init(&sb);
  chat_proto_pong(&sb);
  DOC(&sb, "pong");
  chat_sb_free(&sb);
  chat_rbuf_t *b = chat_proto_pong_frame();
  T_EQ_STR(payload(b), "{\"type\":\"pong\"}");
  chat_rbuf_unref(b);
}

/* Section 10: replies, mentions, reactions, edits, recall. */
static void test_extras_from_doc(void) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  chat_sb_t sb;
  chat_sb_init(&sb);
  const char *text = "同意 @alice";
  chat_proto_msg_t m = {.id = 7, .room = 1, .sender = "bob", .text = text, .text_len = strlen(text),
                        .ts = 1700000000500, .seq = 4,
                        .extra = ",\"reply_to\":{\"id\":5,\"sender\":\"alice\",\"text\":\"明天开会？\"},"
                                 "\"mentions\":[\"alice\"],\"reactions\":[{\"emoji\":\"👍\",\"users\":"
                                 "[\"alice\",\"carol\"]}],\"edited_ts\":1700000000900"};
  chat_proto_msg_obj(&sb, &m);
  DOC(&sb, "message object with extras");
  chat_proto_msg_t t = {.id = 9, .room = 1, .sender = "alice", .text = "", .ts = 1700000000000,
                        .seq = 6, .deleted = 1};
  chat_proto_msg_obj(&sb, &t);
  DOC(&sb, "tombstone");
  chat_proto_reaction(&sb, 1, NULL, 7, "👍", "alice", 1);
  DOC(&sb, "reaction");
  chat_proto_message_edited(&sb, 1, NULL, 7, "同意！", strlen("同意！"), 1700000000900);
  DOC(&sb, "message_edited");
  chat_proto_dm_deleted(&sb, "bob", 12);
  DOC(&sb, "message_deleted of a conversation");
  chat_sb_free(&sb);

  static const char *const reqs[] = {
      "{\"type\":\"send\",\"room\":1,\"text\":\"同意\",\"cid\":\"c3\",\"reply_to\":5}",
      "{\"type\":\"react\",\"room\":1,\"id\":7,\"emoji\":\"👍\",\"on\":true}",
      "{\"type\":\"edit\",\"room\":1,\"id\":7,\"text\":\"同意！\"}",
      "{\"type\":\"delete\",\"to\":\"bob\",\"id\":12}",
  };
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(reqs); i++) check_doc_example(reqs[i], strlen(reqs[i]), "request");
  T_EQ_INT(decode(reqs[0], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_SEND);
  T_EQ_INT(req.reply_to, 5);
  chat_proto_req_free(&req);
  T_EQ_INT(decode(reqs[1], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_REACT);
  T_EQ_INT(req.room, 1);
  T_EQ_INT(req.id, 7);
  T_EQ_STR(req.emoji, "👍");
  T_EQ_INT(req.on, 1);
  chat_proto_req_free(&req);
  T_EQ_INT(decode(reqs[2], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_EDIT);
  T_EQ_STR(req.text, "同意！");
  chat_proto_req_free(&req);
  T_EQ_INT(decode(reqs[3], &req, &err), 0);
  T_EQ_INT(req.type, CHAT_PROTO_DELETE);
  T_EQ_STR(req.to, "bob");
  T_EQ_INT(req.room, 0);
  chat_proto_req_free(&req);
  /* Bad ones. */
  expect_refused("{\"type\":\"react\",\"room\":1,\"to\":\"bob\",\"id\":7,\"emoji\":\"👍\",\"on\":true}",
                 CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"react\",\"room\":1,\"id\":7,\"emoji\":\"👍\"}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"react\",\"room\":1,\"id\":7,\"emoji\":5,\"on\":true}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"edit\",\"room\":1,\"id\":7}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"delete\",\"room\":1,\"id\":0}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"cid\":\"c9\",\"reply_to\":\"5\"}",
                 CHAT_PROTO_BAD_REQUEST, "c9");
  expect_refused("{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"x\",\"reply_to\":-1}", CHAT_PROTO_BAD_REQUEST, NULL);
}

/* files: the examples of docs/PROTOCOL.md section 11, and the "files" rules
 * of send and dm. */
static void test_files_from_doc(void) {
  chat_proto_req_t req;
  chat_proto_error_t err;
  static const char send[] = "{\"type\":\"send\",\"room\":1,\"text\":\"\",\"files\":[7],\"cid\":\"c9\"}";
  check_doc_example(send, strlen(send), "send with files");
  T_EQ_INT(decode(send, &req, &err), 0);
  T_EQ_INT(req.nfiles, 1);
  T_EQ_INT(req.files[0], 7);
  chat_proto_req_free(&req);
  /* No text at all is "" with files; files must be 1..10 distinct ids. */
  T_EQ_INT(decode("{\"type\":\"dm\",\"to\":\"bob\",\"files\":[1,2]}", &req, &err), 0);
  T_CHECK(req.text != NULL && req.text[0] == '\0');
  T_EQ_INT(req.nfiles, 2);
  chat_proto_req_free(&req);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"files\":[1,1],\"cid\":\"k\"}",
                 CHAT_PROTO_BAD_REQUEST, "k");
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"files\":[\"1\"]}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"files\":[0]}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"files\":7}", CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"text\":\"x\",\"files\":[1,2,3,4,5,6,7,8,9,10,11]}",
                 CHAT_PROTO_BAD_REQUEST, NULL);
  expect_refused("{\"type\":\"send\",\"room\":1,\"files\":[]}", CHAT_PROTO_BAD_REQUEST, NULL);

  chat_sb_t files, obj, sb;
  chat_sb_init(&files);
  chat_sb_init(&obj);
  chat_sb_init(&sb);
  chat_sb_puts(&files, "[");
  chat_proto_file_obj(&files, 7, "\xe7\x85\xa7\xe7\x89\x87.png", 1135, "image/png", 1);
  chat_sb_puts(&files, "]");
  chat_proto_msg_t m = {44, 1, NULL, "alice", "", 0, 1764400000000LL, 9, 0, NULL, files.buf};
  chat_proto_msg_obj(&obj, &m);
  chat_proto_message(&sb, obj.buf, obj.len);
  DOC(&sb, "message with files");
  chat_rbuf_t *u = chat_proto_user_updated_frame(3, "alice", "Alice", "/files/thumb/7");
  size_t n;
  const char *json = chat_proto_frame_json(u, &n);
  check_doc_example(json, n, "user_updated");
  chat_rbuf_unref(u);
  chat_sb_free(&files);
  chat_sb_free(&obj);
  chat_sb_free(&sb);
}

/* Every example line in the document was checked by some test above. */
/* Rooms v2: the broadcast and room_kick events between instances. */
static void test_rooms_events_from_doc(void) {
  chat_sb_t sb;
  chat_proto_ev_t ev;
  chat_sb_init(&sb);
  static const char frame[] = "{\"type\":\"room_removed\",\"room\":7}";
  chat_proto_ev_broadcast(&sb, frame, strlen(frame));
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_BROADCAST);
  T_EQ_STR(ev.frame, frame);
  chat_proto_ev_free(&ev);
  DOC(&sb, "broadcast");
  chat_proto_ev_room_kick(&sb, 7, 12);
  chat_proto_ev_decode(sb.buf, sb.len, &ev);
  T_EQ_INT(ev.type, CHAT_PROTO_EV_ROOM_KICK);
  T_EQ_INT(ev.room, 7);
  T_EQ_INT(ev.user_id, 12);
  chat_proto_ev_free(&ev);
  DOC(&sb, "room_kick");
  /* Missing fields: ignored. */
  static const char *const bad[] = {"{\"type\":\"room_kick\",\"room\":7}",
                                    "{\"type\":\"broadcast\",\"frame\":3}"};
  for (size_t i = 0; i < 2; i++) {
    chat_proto_ev_decode(bad[i], strlen(bad[i]), &ev);
    T_EQ_INT(ev.type, CHAT_PROTO_EV_OTHER);
    chat_proto_ev_free(&ev);
  }
  chat_sb_free(&sb);
}

static void test_doc_fully_covered(void) {
  T_CHECK(ndoc_lines >= 25);
  for (size_t i = 0; i < ndoc_lines; i++) {
    if (doc_seen[i]) continue;
    t_checks++;
    t_failures++;
    fprintf(stderr, "docs/PROTOCOL.md example not checked: %s\n", doc_lines[i]);
  }
}

int main(void) {
  load_doc();
  T_RUN(test_requests_from_doc);
  T_RUN(test_ping_pong);
  T_RUN(test_extras_from_doc);
  T_RUN(test_request_details);
  T_RUN(test_request_errors);
  T_RUN(test_flat_frames);
  T_RUN(test_text_check);
  T_RUN(test_frames_from_doc);
  T_RUN(test_frame_details);
  T_RUN(test_escaping_matches_cjson);
  T_RUN(test_message_frame);
  T_RUN(test_bus_envelope);
  T_RUN(test_events_from_doc);
  T_RUN(test_event_decoding);
  T_RUN(test_msg_obj_id);
  T_RUN(test_files_from_doc);
  T_RUN(test_rooms_events_from_doc);
  T_RUN(test_doc_fully_covered);
  for (size_t i = 0; i < ndoc_lines; i++) free(doc_lines[i]);
  free(doc);
  return T_DONE();
}
