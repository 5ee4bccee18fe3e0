#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "net/ws.h"
#include "t.h"

/* ---- helpers ---------------------------------------------------------- */

/* A growable byte string. */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *data, size_t len) {
  if (b->len + len > b->cap) {
    b->cap = (b->len + len) * 2 + 64;
    b->p = chat_xrealloc(b->p, b->cap);
  }
  if (len > 0) memcpy(b->p + b->len, data, len);
  b->len += len;
}

static void bytes_free(bytes_t *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static const uint8_t key1[4] = {0x37, 0xfa, 0x21, 0x3d};
static const uint8_t key2[4] = {0xa5, 0x00, 0xff, 0x5a};

/* Appends a masked client frame with first byte b0 (FIN, RSV, opcode). */
static void client_frame_b0(bytes_t *out, uint8_t b0, const void *payload,
                            size_t len, const uint8_t key[4]) {
  uint8_t h[14];
  size_t n = 0;
  const uint8_t *src = payload;
  h[n++] = b0;
  if (len < 126) {
    h[n++] = (uint8_t)(0x80 | len);
  } else if (len <= 0xFFFF) {
    h[n++] = 0x80 | 126;
    h[n++] = (uint8_t)(len >> 8);
    h[n++] = (uint8_t)len;
  } else {
    h[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) h[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  memcpy(h + n, key, 4);
  n += 4;
  bytes_add(out, h, n);
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)(src[i] ^ key[i & 3]);
    bytes_add(out, &c, 1);
  }
}

static void client_frame(bytes_t *out, int fin, int opcode, const void *payload,
                         size_t len, const uint8_t key[4]) {
  client_frame_b0(out, (uint8_t)((fin ? 0x80 : 0) | opcode), payload, len, key);
}

/* Turns an unmasked server frame (as the encoder writes it) into the same
 * frame masked with key, as a client would send it. */
static void add_mask(bytes_t *out, const uint8_t *frame, size_t len,
                     const uint8_t key[4]) {
  size_t hs = 2, plen = frame[1] & 0x7F;
  T_CHECK(len >= 2 && (frame[1] & 0x80) == 0);
  if (plen == 126) hs = 4;
  if (plen == 127) hs = 10;
  uint8_t h[10];
  memcpy(h, frame, hs);
  h[1] |= 0x80;
  bytes_add(out, h, hs);
  bytes_add(out, key, 4);
  for (size_t i = hs; i < len; i++) {
    uint8_t c = (uint8_t)(frame[i] ^ key[(i - hs) & 3]);
    bytes_add(out, &c, 1);
  }
}

/* Records what the parser delivers. */
#define MAX_EVENTS 32
typedef struct {
  int n;
  int opcode[MAX_EVENTS];
  size_t len[MAX_EVENTS];
  uint8_t *data[MAX_EVENTS];
  int stop_at;  /* return non-zero from the callback for event stop_at - 1 */
} events_t;

static int record_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  events_t *ev = ud;
  T_CHECK(data != NULL);
  if (ev->n < MAX_EVENTS) {
    ev->opcode[ev->n] = opcode;
    ev->len[ev->n] = len;
    ev->data[ev->n] = chat_xmalloc(len);
    if (len > 0) memcpy(ev->data[ev->n], data, len);
  }
  ev->n++;
  return ev->stop_at != 0 && ev->n == ev->stop_at;
}

static void events_free(events_t *ev) {
  for (int i = 0; i < ev->n && i < MAX_EVENTS; i++) free(ev->data[i]);
  memset(ev, 0, sizeof(*ev));
}

static int events_equal(const events_t *a, const events_t *b) {
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n && i < MAX_EVENTS; i++) {
    if (a->opcode[i] != b->opcode[i] || a->len[i] != b->len[i]) return 0;
    if (a->len[i] && memcmp(a->data[i], b->data[i], a->len[i]) != 0) return 0;
  }
  return 1;
}

static int event_is(const events_t *ev, int i, int opcode, const void *data,
                    size_t len) {
  return i < ev->n && ev->opcode[i] == opcode && ev->len[i] == len &&
         (len == 0 || memcmp(ev->data[i], data, len) == 0);
}

/* Parses the whole input in one call with a fresh parser. */
static int parse_all(const uint8_t *data, size_t len, size_t max, events_t *ev) {
  chat_ws_parser_t p;
  int rc;
  chat_ws_parser_init(&p, max);
  rc = chat_ws_parser_feed(&p, data, len, record_cb, ev);
  chat_ws_parser_free(&p);
  return rc;
}

/* Parses the input cut at the given sorted points; stops at the first
 * non-zero return. */
static int parse_cuts(const uint8_t *data, size_t len, const size_t *cuts,
                      int ncuts, size_t max, events_t *ev) {
  chat_ws_parser_t p;
  size_t prev = 0;
  int rc = 0;
  chat_ws_parser_init(&p, max);
  for (int i = 0; i <= ncuts && rc == 0; i++) {
    size_t end = i < ncuts ? cuts[i] : len;
    rc = chat_ws_parser_feed(&p, data + prev, end - prev, record_cb, ev);
    prev = end;
  }
  chat_ws_parser_free(&p);
  return rc;
}

/* Expects the input to fail with code, whether fed whole or byte by byte. */
static void expect_error(const bytes_t *in, size_t max, int code) {
  events_t ev = {0};
  chat_ws_parser_t p;
  int rc = 0;

  T_EQ_INT(parse_all(in->p, in->len, max, &ev), code);
  events_free(&ev);
  chat_ws_parser_init(&p, max);
  for (size_t i = 0; i < in->len && rc == 0; i++)
    rc = chat_ws_parser_feed(&p, in->p + i, 1, record_cb, &ev);
  T_EQ_INT(rc, code);
  /* Broken for good. */
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\x81\x80", 2, record_cb,
                               &ev), code);
  T_EQ_INT(chat_ws_parser_feed(&p, NULL, 0, record_cb, &ev), code);
  chat_ws_parser_free(&p);
  events_free(&ev);
}

/* ---- RFC 6455 examples ------------------------------------------------ */

static void test_rfc_examples(void) {
  static const uint8_t hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                         0x7f, 0x9f, 0x4d, 0x51, 0x58};
  static const uint8_t hello_unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c,
                                           0x6c, 0x6f};
  static const uint8_t frag_unmasked[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                          0x80, 0x02, 0x6c, 0x6f};
  static const uint8_t pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                        0x7f, 0x9f, 0x4d, 0x51, 0x58};
  events_t ev = {0};
  bytes_t b = {0};

  /* A single-frame masked text message. */
  T_EQ_INT(parse_all(hello_masked, sizeof(hello_masked), 1024, &ev), 0);
  T_EQ_INT(ev.n, 1);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "Hello", 5));
  events_free(&ev);

  /* Unmasked client frames are refused. */
  T_EQ_INT(parse_all(hello_unmasked, sizeof(hello_unmasked), 1024, &ev),
           CHAT_WS_CLOSE_PROTOCOL);
  T_EQ_INT(ev.n, 0);
  events_free(&ev);
  T_EQ_INT(parse_all(frag_unmasked, sizeof(frag_unmasked), 1024, &ev),
           CHAT_WS_CLOSE_PROTOCOL);
  events_free(&ev);

  /* The fragmented example, masked. */
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "Hel", 3, key1);
  client_frame(&b, 1, CHAT_WS_OP_CONT, "lo", 2, key2);
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_EQ_INT(ev.n, 1);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "Hello", 5));
  events_free(&ev);
  bytes_free(&b);

  /* Ping (the unmasked example, masked) and the masked pong example. */
  client_frame(&b, 1, CHAT_WS_OP_PING, "Hello", 5, key2);
  bytes_add(&b, pong_masked, sizeof(pong_masked));
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_EQ_INT(ev.n, 2);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_PING, "Hello", 5));
  T_CHECK(event_is(&ev, 1, CHAT_WS_OP_PONG, "Hello", 5));
  events_free(&ev);
  bytes_free(&b);

  /* 256 bytes with a 16-bit length, 64 KiB with a 64-bit length. */
  {
    uint8_t *big = chat_xmalloc(65536);
    for (size_t i = 0; i < 65536; i++) big[i] = (uint8_t)(i * 7 + 3);
    client_frame(&b, 1, CHAT_WS_OP_BINARY, big, 256, key1);
    T_EQ_INT(b.p[1], 0x80 | 126);
    T_EQ_INT(b.p[2], 0x01);
    T_EQ_INT(b.p[3], 0x00);
    client_frame(&b, 1, CHAT_WS_OP_BINARY, big, 65536, key2);
    T_EQ_INT(b.p[4 + 4 + 256 + 1], 0x80 | 127);
    T_EQ_INT(parse_all(b.p, b.len, 65536, &ev), 0);
    T_EQ_INT(ev.n, 2);
    T_CHECK(event_is(&ev, 0, CHAT_WS_OP_BINARY, big, 256));
    T_CHECK(event_is(&ev, 1, CHAT_WS_OP_BINARY, big, 65536));
    events_free(&ev);
    bytes_free(&b);
    free(big);
  }
}

static void test_accept_key(void) {
  char out[29];
  memset(out, 'x', sizeof(out));
  /* RFC 6455 section 1.3 (also what Python's hashlib and base64 give). */
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
  T_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  /* Optional white space around the value is tolerated. */
  T_EQ_INT(chat_ws_accept_key(" dGhlIHNhbXBsZSBub25jZQ==\t", 26, out), 0);
  T_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  /* Only the first key_len bytes count. */
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==garbage", 24, out), 0);
  T_EQ_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  T_EQ_INT(chat_ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", 24, out), 0);
  T_EQ_INT((int)strlen(out), 28);

  T_EQ_INT(chat_ws_accept_key("", 0, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", 23, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", 22, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 23, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZ===", 24, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=A", 24, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25j*Q==", 24, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBu b25jZQ=", 24, out), -1);
  /* Low bits set in the last character: not the encoding of 16 bytes. */
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", 24, out), -1);
  /* 17 and 15 bytes. */
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25jZSE=", 24, out), -1);
  T_EQ_INT(chat_ws_accept_key("dGhlIHNhbXBsZSBub25j", 20, out), -1);
  /* 20 bytes. */
  T_EQ_INT(chat_ws_accept_key("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28, out), -1);
}

/* ---- incremental parsing ---------------------------------------------- */

/* Text, ping, a fragmented text message with 你 split across fragments and
 * a pong between them, a 16-bit binary frame, an empty text message and a
 * close frame. */
static void build_multi(bytes_t *b, uint8_t *bin, size_t bin_len) {
  for (size_t i = 0; i < bin_len; i++) bin[i] = (uint8_t)(i ^ 0x5c);
  client_frame(b, 1, CHAT_WS_OP_TEXT, "Hello", 5, key1);
  client_frame(b, 1, CHAT_WS_OP_PING, "p", 1, key2);
  client_frame(b, 0, CHAT_WS_OP_TEXT, "a\xe4", 2, key1);
  client_frame(b, 0, CHAT_WS_OP_CONT, "\xbd", 1, key2);
  client_frame(b, 1, CHAT_WS_OP_PONG, "", 0, key1);
  client_frame(b, 0, CHAT_WS_OP_CONT, "", 0, key1);
  client_frame(b, 1, CHAT_WS_OP_CONT, "\xa0z", 2, key2);
  client_frame(b, 1, CHAT_WS_OP_BINARY, bin, bin_len, key2);
  client_frame(b, 1, CHAT_WS_OP_TEXT, "", 0, key2);
  client_frame(b, 1, CHAT_WS_OP_CLOSE, "\x03\xe8" "bye", 5, key1);
}

static void check_multi(const events_t *ev, const uint8_t *bin, size_t bin_len) {
  T_EQ_INT(ev->n, 7);
  T_CHECK(event_is(ev, 0, CHAT_WS_OP_TEXT, "Hello", 5));
  T_CHECK(event_is(ev, 1, CHAT_WS_OP_PING, "p", 1));
  T_CHECK(event_is(ev, 2, CHAT_WS_OP_PONG, "", 0));
  T_CHECK(event_is(ev, 3, CHAT_WS_OP_TEXT, "a\xe4\xbd\xa0z", 5));
  T_CHECK(event_is(ev, 4, CHAT_WS_OP_BINARY, bin, bin_len));
  T_CHECK(event_is(ev, 5, CHAT_WS_OP_TEXT, "", 0));
  T_CHECK(event_is(ev, 6, CHAT_WS_OP_CLOSE, "\x03\xe8" "bye", 5));
}

static void test_every_split(void) {
  uint8_t bin[300];
  bytes_t b = {0};
  events_t whole = {0}, ev = {0};
  int bad = 0;

  build_multi(&b, bin, sizeof(bin));
  T_EQ_INT(parse_all(b.p, b.len, 4096, &whole), 0);
  check_multi(&whole, bin, sizeof(bin));

  /* Byte by byte. */
  {
    size_t *cuts = chat_xmalloc(b.len * sizeof(*cuts));
    for (size_t i = 0; i < b.len; i++) cuts[i] = i + 1;
    T_EQ_INT(parse_cuts(b.p, b.len, cuts, (int)b.len - 1, 4096, &ev), 0);
    check_multi(&ev, bin, sizeof(bin));
    events_free(&ev);
    free(cuts);
  }
  /* Every two-way split. */
  for (size_t c = 0; c <= b.len; c++) {
    int rc = parse_cuts(b.p, b.len, &c, 1, 4096, &ev);
    if (rc != 0 || !events_equal(&ev, &whole)) bad++;
    events_free(&ev);
  }
  T_EQ_INT(bad, 0);
  events_free(&whole);
  bytes_free(&b);

  /* Every three-way split of a shorter input. */
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "Hi\xe4\xbd\xa0", 5, key1);
  client_frame(&b, 0, CHAT_WS_OP_BINARY, "0123456789", 10, key2);
  client_frame(&b, 1, CHAT_WS_OP_PING, "x", 1, key1);
  client_frame(&b, 1, CHAT_WS_OP_CONT, "abcdefghijk", 11, key2);
  T_EQ_INT(parse_all(b.p, b.len, 4096, &whole), 0);
  T_EQ_INT(whole.n, 3);
  T_CHECK(event_is(&whole, 2, CHAT_WS_OP_BINARY, "0123456789abcdefghijk", 21));
  for (size_t c1 = 0; c1 <= b.len; c1++) {
    for (size_t c2 = c1; c2 <= b.len; c2++) {
      size_t cuts[2] = {c1, c2};
      int rc = parse_cuts(b.p, b.len, cuts, 2, 4096, &ev);
      if (rc != 0 || !events_equal(&ev, &whole)) bad++;
      events_free(&ev);
    }
  }
  T_EQ_INT(bad, 0);
  events_free(&whole);
  bytes_free(&b);
}

/* Large payloads exercise the word-at-a-time unmasking at every offset. */
static void test_large_payload(void) {
  size_t n = 1 << 20;
  uint8_t *data = chat_xmalloc(n);
  bytes_t b = {0};
  events_t ev = {0};
  chat_ws_parser_t p;
  size_t pos = 0, step = 1;
  int rc = 0;

  for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 31 + (i >> 8));
  client_frame(&b, 1, CHAT_WS_OP_BINARY, data, n, key2);
  chat_ws_parser_init(&p, n);
  /* Chunks of growing, odd sizes. */
  while (pos < b.len && rc == 0) {
    size_t k = b.len - pos < step ? b.len - pos : step;
    rc = chat_ws_parser_feed(&p, b.p + pos, k, record_cb, &ev);
    pos += k;
    step = step * 3 + 1;
  }
  T_EQ_INT(rc, 0);
  T_EQ_INT(ev.n, 1);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_BINARY, data, n));
  /* A big buffer is released after its message. */
  T_CHECK(p.msg == NULL);
  T_EQ_INT(p.msg_cap, 0);
  events_free(&ev);

  /* A small one in one piece needs no buffer; in pieces it has one until
   * the message is complete, and none after: an idle parser holds none. */
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "small", 5, key1);
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, b.len, record_cb, &ev), 0);
  T_CHECK(p.msg == NULL);
  T_CHECK(chat_ws_parser_idle(&p));
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, b.len - 2, record_cb, &ev), 0);
  T_CHECK(p.msg != NULL);
  T_CHECK(!chat_ws_parser_idle(&p));
  T_EQ_INT(chat_ws_parser_feed(&p, b.p + b.len - 2, 2, record_cb, &ev), 0);
  T_CHECK(p.msg == NULL);
  T_CHECK(chat_ws_parser_idle(&p));
  /* A header in pieces is not idle either. */
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, 1, record_cb, &ev), 0);
  T_CHECK(!chat_ws_parser_idle(&p));
  T_EQ_INT(chat_ws_parser_feed(&p, b.p + 1, b.len - 1, record_cb, &ev), 0);
  T_CHECK(chat_ws_parser_idle(&p));
  T_EQ_INT(p.msg_cap, 0);
  T_EQ_INT(ev.n, 3);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "small", 5));
  T_CHECK(event_is(&ev, 1, CHAT_WS_OP_TEXT, "small", 5));
  T_CHECK(event_is(&ev, 2, CHAT_WS_OP_TEXT, "small", 5));
  chat_ws_parser_free(&p);
  events_free(&ev);
  bytes_free(&b);
  free(data);
}

/* ---- protocol errors -------------------------------------------------- */

static void test_header_errors(void) {
  bytes_t b = {0};

  /* Reserved bits. */
  for (int rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
    client_frame_b0(&b, (uint8_t)(0x81 | rsv), "x", 1, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
  }
  /* Unknown opcodes. */
  for (int op = 0; op < 16; op++) {
    if (op <= 2 || (op >= 8 && op <= 10)) continue;
    client_frame(&b, 1, op, "x", 1, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
  }
  /* Unmasked. */
  bytes_add(&b, "\x81\x01x", 3);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  /* Fragmented control frames. */
  for (int op = CHAT_WS_OP_CLOSE; op <= CHAT_WS_OP_PONG; op++) {
    client_frame(&b, 0, op, "", 0, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
  }
  /* Control payloads over 125 bytes (with the 16-bit form), and 125 ok. */
  {
    uint8_t big[126];
    events_t ev = {0};
    memset(big, 'p', sizeof(big));
    client_frame(&b, 1, CHAT_WS_OP_PING, big, 126, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
    client_frame(&b, 1, CHAT_WS_OP_PONG, big, 126, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
    /* Also with a 7-bit length of 126 or 127 and nothing after. */
    bytes_add(&b, "\x89\xfe", 2);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
    client_frame(&b, 1, CHAT_WS_OP_PING, big, 125, key1);
    T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
    T_CHECK(event_is(&ev, 0, CHAT_WS_OP_PING, big, 125));
    events_free(&ev);
    bytes_free(&b);
  }
  /* Continuation without a message. */
  client_frame(&b, 1, CHAT_WS_OP_CONT, "x", 1, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "x", 1, key1);
  client_frame(&b, 1, CHAT_WS_OP_CONT, "x", 1, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  /* A new data frame inside a fragmented message. */
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "x", 1, key1);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "x", 1, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  client_frame(&b, 0, CHAT_WS_OP_BINARY, "x", 1, key1);
  client_frame(&b, 1, CHAT_WS_OP_PING, "", 0, key1);
  client_frame(&b, 0, CHAT_WS_OP_BINARY, "x", 1, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  /* 64-bit length with the top bit set: refused from the header alone. */
  bytes_add(&b, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01", 10);
  expect_error(&b, SIZE_MAX, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  /* Non-minimal length encodings are accepted. */
  {
    events_t ev = {0};
    bytes_add(&b, "\x81\xfe\x00\x02", 4);
    bytes_add(&b, key1, 4);
    bytes_add(&b, (uint8_t[]){'o' ^ 0x37, 'k' ^ 0xfa}, 2);
    bytes_add(&b, "\x81\xff\x00\x00\x00\x00\x00\x00\x00\x01", 10);
    bytes_add(&b, key2, 4);
    bytes_add(&b, (uint8_t[]){'!' ^ 0xa5}, 1);
    T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
    T_EQ_INT(ev.n, 2);
    T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "ok", 2));
    T_CHECK(event_is(&ev, 1, CHAT_WS_OP_TEXT, "!", 1));
    events_free(&ev);
    bytes_free(&b);
  }
}

/* An error is reported as soon as the bytes that show it arrive. */
static void test_early_detection(void) {
  chat_ws_parser_t p;
  events_t ev = {0};

  chat_ws_parser_init(&p, 1024);
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\xc1", 1, record_cb, &ev), 0);
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\x85", 1, record_cb, &ev),
           CHAT_WS_CLOSE_PROTOCOL);
  chat_ws_parser_free(&p);

  /* Too big from a 16-bit length, before the masking key. */
  chat_ws_parser_init(&p, 1000);
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\x82\xfe\x03", 3,
                               record_cb, &ev), 0);
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\xe9", 1, record_cb, &ev),
           CHAT_WS_CLOSE_TOO_BIG);
  chat_ws_parser_free(&p);
  /* Too big from a 64-bit length. */
  chat_ws_parser_init(&p, 1 << 20);
  T_EQ_INT(chat_ws_parser_feed(
               &p, (const uint8_t *)"\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00",
               10, record_cb, &ev),
           CHAT_WS_CLOSE_TOO_BIG);
  chat_ws_parser_free(&p);
  /* Too big from a 7-bit length. */
  chat_ws_parser_init(&p, 10);
  T_EQ_INT(chat_ws_parser_feed(&p, (const uint8_t *)"\x81\x8b", 2, record_cb,
                               &ev), CHAT_WS_CLOSE_TOO_BIG);
  chat_ws_parser_free(&p);
  T_EQ_INT(ev.n, 0);
}

static void test_utf8_errors(void) {
  bytes_t b = {0};
  events_t ev = {0};
  chat_ws_parser_t p;

  client_frame(&b, 1, CHAT_WS_OP_TEXT, "ok\xff", 3, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "\xed\xa0\x80", 3, key1);  /* surrogate */
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "\xc0\xaf", 2, key1);  /* overlong */
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  /* A message that ends inside a character. */
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "ok\xe4\xbd", 4, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "ok\xe4", 3, key1);
  client_frame(&b, 1, CHAT_WS_OP_CONT, "\xbd", 1, key2);
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  /* Binary messages are not checked. */
  client_frame(&b, 1, CHAT_WS_OP_BINARY, "\xff\xe4", 2, key1);
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_BINARY, "\xff\xe4", 2));
  events_free(&ev);
  bytes_free(&b);

  /* Invalid UTF-8 in the first fragment is refused before the final
   * fragment arrives, and even before the first fragment ends. */
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "abc\xfe" "defgh", 9, key1);
  chat_ws_parser_init(&p, 1024);
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, 2 + 4 + 3, record_cb, &ev), 0);
  T_EQ_INT(chat_ws_parser_feed(&p, b.p + 9, 1, record_cb, &ev),
           CHAT_WS_CLOSE_BAD_DATA);
  chat_ws_parser_free(&p);
  bytes_free(&b);
  /* A bad sequence split across fragments: E0 then 80 (overlong). */
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "a\xe0", 2, key1);
  chat_ws_parser_init(&p, 1024);
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, b.len, record_cb, &ev), 0);
  bytes_free(&b);
  client_frame(&b, 0, CHAT_WS_OP_CONT, "\x80", 1, key1);
  T_EQ_INT(chat_ws_parser_feed(&p, b.p, b.len, record_cb, &ev),
           CHAT_WS_CLOSE_BAD_DATA);
  chat_ws_parser_free(&p);
  bytes_free(&b);
  T_EQ_INT(ev.n, 0);

  /* 😀 split over four fragments is fine. */
  client_frame(&b, 0, CHAT_WS_OP_TEXT, "\xf0", 1, key1);
  client_frame(&b, 0, CHAT_WS_OP_CONT, "\x9f", 1, key2);
  client_frame(&b, 0, CHAT_WS_OP_CONT, "\x98", 1, key1);
  client_frame(&b, 1, CHAT_WS_OP_CONT, "\x80", 1, key2);
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "\xf0\x9f\x98\x80", 4));
  events_free(&ev);
  bytes_free(&b);
}

static void test_close_frames(void) {
  static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                  1010, 1011, 1012, 1013, 1014, 3000, 3999,
                                  4000, 4999};
  static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006,
                                 1015, 1016, 1100, 2000, 2999, 5000,
                                 6000, 65535};
  bytes_t b = {0};
  events_t ev = {0};

  /* Empty close. */
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "", 0, key1);
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_CLOSE, "", 0));
  events_free(&ev);
  bytes_free(&b);
  /* One byte, also after a valid close left its bytes behind. */
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03", 1, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03\xe8", 2, key1);
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03", 1, key1);
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), CHAT_WS_CLOSE_PROTOCOL);
  T_EQ_INT(ev.n, 1);
  events_free(&ev);
  bytes_free(&b);
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(good); i++) {
    uint8_t pl[2] = {(uint8_t)(good[i] >> 8), (uint8_t)good[i]};
    client_frame(&b, 1, CHAT_WS_OP_CLOSE, pl, 2, key1);
    T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
    T_CHECK(event_is(&ev, 0, CHAT_WS_OP_CLOSE, pl, 2));
    events_free(&ev);
    bytes_free(&b);
  }
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(bad); i++) {
    uint8_t pl[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
    client_frame(&b, 1, CHAT_WS_OP_CLOSE, pl, 2, key1);
    expect_error(&b, 1024, CHAT_WS_CLOSE_PROTOCOL);
    bytes_free(&b);
  }
  /* Reasons. */
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03\xe8\xe5\x86\x8d\xe8\xa7\x81", 8,
               key1);  /* 1000 再见 */
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_CLOSE,
                   "\x03\xe8\xe5\x86\x8d\xe8\xa7\x81", 8));
  events_free(&ev);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03\xe8" "bye\xff", 6, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_CLOSE, "\x03\xe8" "bye\xe5\x86", 7, key1);
  expect_error(&b, 1024, CHAT_WS_CLOSE_BAD_DATA);
  bytes_free(&b);
  T_EQ_INT(ev.n, 0);
}

static void test_max_message(void) {
  uint8_t data[100];
  bytes_t b = {0};
  events_t ev = {0};
  memset(data, 'm', sizeof(data));

  /* Exactly max_message is fine, one more is not. */
  client_frame(&b, 1, CHAT_WS_OP_TEXT, data, 100, key1);
  T_EQ_INT(parse_all(b.p, b.len, 100, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, data, 100));
  events_free(&ev);
  expect_error(&b, 99, CHAT_WS_CLOSE_TOO_BIG);
  bytes_free(&b);
  /* All fragments count; control frames in between do not. */
  client_frame(&b, 0, CHAT_WS_OP_BINARY, data, 40, key1);
  client_frame(&b, 1, CHAT_WS_OP_PING, data, 100, key2);
  client_frame(&b, 0, CHAT_WS_OP_CONT, data, 40, key2);
  client_frame(&b, 1, CHAT_WS_OP_CONT, data, 20, key1);
  T_EQ_INT(parse_all(b.p, b.len, 100, &ev), 0);
  T_EQ_INT(ev.n, 2);
  T_CHECK(event_is(&ev, 1, CHAT_WS_OP_BINARY, data, 100));
  events_free(&ev);
  expect_error(&b, 99, CHAT_WS_CLOSE_TOO_BIG);
  /* The ping was delivered before the refusal. */
  T_EQ_INT(parse_all(b.p, b.len, 99, &ev), CHAT_WS_CLOSE_TOO_BIG);
  T_EQ_INT(ev.n, 1);
  events_free(&ev);
  bytes_free(&b);
  /* The limit is per message: the next one starts from zero. */
  client_frame(&b, 1, CHAT_WS_OP_TEXT, data, 60, key1);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, data, 60, key1);
  T_EQ_INT(parse_all(b.p, b.len, 60, &ev), 0);
  T_EQ_INT(ev.n, 2);
  events_free(&ev);
  bytes_free(&b);
  /* max_message 0 allows only empty messages. */
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "", 0, key1);
  T_EQ_INT(parse_all(b.p, b.len, 0, &ev), 0);
  T_CHECK(event_is(&ev, 0, CHAT_WS_OP_TEXT, "", 0));
  events_free(&ev);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "x", 1, key1);
  expect_error(&b, 0, CHAT_WS_CLOSE_TOO_BIG);
  bytes_free(&b);
}

static void test_stop(void) {
  bytes_t b = {0}, more = {0};
  events_t ev = {0};
  chat_ws_parser_t p;

  client_frame(&b, 1, CHAT_WS_OP_TEXT, "one", 3, key1);
  client_frame(&b, 1, CHAT_WS_OP_PING, "two", 3, key2);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "three", 5, key1);

  for (int stop = 1; stop <= 3; stop++) {
    ev.stop_at = stop;
    chat_ws_parser_init(&p, 1024);
    T_EQ_INT(chat_ws_parser_feed(&p, b.p, b.len, record_cb, &ev),
             CHAT_WS_STOPPED);
    T_EQ_INT(ev.n, stop);
    /* Stopping is not an error: the parser is at a frame boundary and
     * takes the next frame. */
    ev.stop_at = 0;
    client_frame(&more, 1, CHAT_WS_OP_BINARY, "next", 4, key2);
    T_EQ_INT(chat_ws_parser_feed(&p, more.p, more.len, record_cb, &ev), 0);
    T_EQ_INT(ev.n, stop + 1);
    T_CHECK(event_is(&ev, stop, CHAT_WS_OP_BINARY, "next", 4));
    chat_ws_parser_free(&p);
    events_free(&ev);
    bytes_free(&more);
  }
  /* Stop on an empty message (delivered from the header path). */
  bytes_free(&b);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "", 0, key1);
  client_frame(&b, 1, CHAT_WS_OP_TEXT, "x", 1, key1);
  ev.stop_at = 1;
  T_EQ_INT(parse_all(b.p, b.len, 1024, &ev), CHAT_WS_STOPPED);
  T_EQ_INT(ev.n, 1);
  events_free(&ev);
  bytes_free(&b);
}

/* ---- encoder ---------------------------------------------------------- */

static void test_encoder(void) {
  static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
  uint8_t *data = chat_xmalloc(70000);
  for (size_t i = 0; i < 70000; i++) data[i] = (uint8_t)('a' + i % 26);

  T_EQ_INT(chat_ws_header_size(0), 2);
  T_EQ_INT(chat_ws_header_size(125), 2);
  T_EQ_INT(chat_ws_header_size(126), 4);
  T_EQ_INT(chat_ws_header_size(65535), 4);
  T_EQ_INT(chat_ws_header_size(65536), 10);

  for (size_t i = 0; i < CHAT_ARRAY_SIZE(sizes); i++) {
    size_t n = sizes[i];
    for (int op = CHAT_WS_OP_TEXT; op <= CHAT_WS_OP_BINARY; op++) {
      chat_rbuf_t *f = chat_ws_frame_new(op, data, n);
      uint8_t hdr[10];
      bytes_t b = {0};
      events_t ev = {0};
      size_t hs = chat_ws_header_size(n);

      T_EQ_INT(f->refs, 1);
      T_EQ_INT(f->len, hs + n);
      T_CHECK(f->cap >= f->len);
      T_EQ_INT(f->data[0], 0x80 | op);
      T_EQ_INT(chat_ws_write_header(hdr, op, n), hs);
      T_CHECK(memcmp(hdr, f->data, hs) == 0);
      if (n == 125) T_EQ_INT(f->data[1], 125);
      if (n == 126) T_CHECK(memcmp(f->data + 1, "\x7e\x00\x7e", 3) == 0);
      if (n == 65535) T_CHECK(memcmp(f->data + 1, "\x7e\xff\xff", 3) == 0);
      if (n == 65536)
        T_CHECK(memcmp(f->data + 1, "\x7f\0\0\0\0\0\x01\0\0", 9) == 0);
      T_CHECK(n == 0 || memcmp(f->data + hs, data, n) == 0);

      add_mask(&b, f->data, f->len, key2);
      T_EQ_INT(b.len, f->len + 4);
      T_EQ_INT(parse_all(b.p, b.len, 70000, &ev), 0);
      T_EQ_INT(ev.n, 1);
      T_CHECK(event_is(&ev, 0, op, data, n));
      /* Unmasked, as written, it is refused by a server parser. */
      events_free(&ev);
      T_EQ_INT(parse_all(f->data, f->len, 70000, &ev), CHAT_WS_CLOSE_PROTOCOL);
      events_free(&ev);
      bytes_free(&b);
      chat_rbuf_unref(f);
    }
  }
  /* Control frames. */
  {
    chat_rbuf_t *f = chat_ws_frame_new(CHAT_WS_OP_PING, "hb", 2);
    bytes_t b = {0};
    events_t ev = {0};
    T_CHECK(memcmp(f->data, "\x89\x02hb", 4) == 0);
    add_mask(&b, f->data, f->len, key1);
    T_EQ_INT(parse_all(b.p, b.len, 0, &ev), 0);
    T_CHECK(event_is(&ev, 0, CHAT_WS_OP_PING, "hb", 2));
    events_free(&ev);
    bytes_free(&b);
    chat_rbuf_unref(chat_rbuf_ref(f));
    T_EQ_INT(f->refs, 1);
    chat_rbuf_unref(f);
  }
  free(data);
}

static void test_close_encoder(void) {
  chat_rbuf_t *f;
  bytes_t b = {0};
  events_t ev = {0};
  char reason[400];

  f = chat_ws_close_frame_new(1000, NULL);
  T_EQ_INT(f->len, 4);
  T_CHECK(memcmp(f->data, "\x88\x02\x03\xe8", 4) == 0);
  chat_rbuf_unref(f);

  f = chat_ws_close_frame_new(CHAT_WS_CLOSE_TRY_AGAIN, "slow");
  T_EQ_INT(f->len, 8);
  T_CHECK(memcmp(f->data, "\x88\x06\x03\xf5slow", 8) == 0);
  chat_rbuf_unref(f);

  f = chat_ws_close_frame_new(1001, "");
  T_EQ_INT(f->len, 4);
  chat_rbuf_unref(f);

  /* 123 reason bytes fit exactly. */
  memset(reason, 'r', 123);
  reason[123] = '\0';
  f = chat_ws_close_frame_new(1000, reason);
  T_EQ_INT(f->len, 2 + 125);
  T_EQ_INT(f->data[1], 125);
  chat_rbuf_unref(f);

  /* Longer ASCII is cut to 123 bytes. */
  memset(reason, 'r', 300);
  reason[300] = '\0';
  f = chat_ws_close_frame_new(1000, reason);
  T_EQ_INT(f->data[1], 125);
  chat_rbuf_unref(f);

  /* Three-byte characters after 0, 1 or 2 ASCII bytes: 41 of them fill 123
   * bytes exactly; otherwise the cut falls inside the 41st, which is
   * dropped whole. */
  for (int shift = 0; shift < 3; shift++) {
    static const size_t expect[3] = {123, 121, 122};
    size_t len = 0;
    for (int i = 0; i < shift; i++) reason[len++] = 'a';
    for (int i = 0; i < 60; i++) {
      memcpy(reason + len, "\xe5\x86\x8d", 3);
      len += 3;
    }
    reason[len] = '\0';
    f = chat_ws_close_frame_new(CHAT_WS_CLOSE_POLICY, reason);
    size_t rlen = f->data[1] - 2u;
    T_EQ_INT(rlen, expect[shift]);
    T_CHECK(chat_utf8_valid(f->data + 4, rlen));
    T_CHECK(memcmp(f->data + 4, reason, rlen) == 0);
    add_mask(&b, f->data, f->len, key1);
    T_EQ_INT(parse_all(b.p, b.len, 0, &ev), 0);
    T_EQ_INT(ev.n, 1);
    T_EQ_INT(ev.opcode[0], CHAT_WS_OP_CLOSE);
    T_EQ_INT(ev.data[0][0] << 8 | ev.data[0][1], CHAT_WS_CLOSE_POLICY);
    events_free(&ev);
    bytes_free(&b);
    chat_rbuf_unref(f);
  }
}

int main(void) {
  T_RUN(test_rfc_examples);
  T_RUN(test_accept_key);
  T_RUN(test_every_split);
  T_RUN(test_large_payload);
  T_RUN(test_header_errors);
  T_RUN(test_early_detection);
  T_RUN(test_utf8_errors);
  T_RUN(test_close_frames);
  T_RUN(test_max_message);
  T_RUN(test_stop);
  T_RUN(test_encoder);
  T_RUN(test_close_encoder);
  return T_DONE();
}
