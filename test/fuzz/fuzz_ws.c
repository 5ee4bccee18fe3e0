/* libFuzzer target for the WebSocket frame parser (built by
 * test/fuzz/CMakeLists.txt; run as the test fuzz.ws).
 *
 * The first input byte picks a split point and a max_message; the rest is
 * fed once whole, once in two chunks split there, and once byte by byte.
 * All three must deliver the same messages and end with the same result,
 * and every delivered message must obey the parser's contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "net/ws.h"

#define MAX_LOG 64

typedef struct {
  size_t max_message;
  int n;
  int opcode[MAX_LOG];
  size_t len[MAX_LOG];
  uint64_t hash[MAX_LOG];
} run_t;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int message_cb(void *ud, int opcode, const uint8_t *data, size_t len) {
  run_t *r = ud;

  if (data == NULL) abort();
  switch (opcode) {
    case CHAT_WS_OP_TEXT:
      if (!chat_utf8_valid(data, len)) abort();
      /* fall through */
    case CHAT_WS_OP_BINARY:
      if (len > r->max_message) abort();
      break;
    case CHAT_WS_OP_CLOSE:
      if (len == 1 || len > 125) abort();
      if (len >= 2 && !chat_utf8_valid(data + 2, len - 2)) abort();
      break;
    case CHAT_WS_OP_PING:
    case CHAT_WS_OP_PONG:
      if (len > 125) abort();
      break;
    default:
      abort();
  }
  if (r->n < MAX_LOG) {
    r->opcode[r->n] = opcode;
    r->len[r->n] = len;
    r->hash[r->n] = fnv1a(data, len);
  }
  r->n++;
  return 0;
}

static int same(const run_t *a, const run_t *b) {
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n && i < MAX_LOG; i++) {
    if (a->opcode[i] != b->opcode[i] || a->len[i] != b->len[i] ||
        a->hash[i] != b->hash[i])
      return 0;
  }
  return 1;
}

/* Feeds data to a fresh parser in chunks of step bytes, or, when step is
 * 0, in two chunks split at cut.  Stops at the first non-zero result and
 * returns it. */
static int run(run_t *r, const uint8_t *data, size_t len, size_t step,
               size_t cut) {
  chat_ws_parser_t p;
  size_t pos = 0;
  int rc = 0;

  chat_ws_parser_init(&p, r->max_message);
  while (pos < len && rc == 0) {
    size_t end;
    if (step != 0)
      end = pos + step < len ? pos + step : len;
    else
      end = pos < cut ? cut : len;
    rc = chat_ws_parser_feed(&p, data + pos, end - pos, message_cb, r);
    pos = end;
  }
  if (rc == 0) rc = chat_ws_parser_feed(&p, NULL, 0, message_cb, r);
  /* A close code sticks. */
  if (rc > 0 &&
      chat_ws_parser_feed(&p, (const uint8_t *)"\x81\x80", 2, message_cb, r) !=
          rc)
    abort();
  chat_ws_parser_free(&p);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t max_messages[4] = {0, 16, 300, 70000};
  run_t whole = {0}, split = {0}, bytes = {0};
  int rc_whole, rc_split, rc_bytes;
  size_t cut;

  if (size == 0) return 0;
  cut = (size_t)(data[0] >> 2) * (size - 1) / 63;
  whole.max_message = split.max_message = bytes.max_message =
      max_messages[data[0] & 3];
  data++;
  size--;

  rc_whole = run(&whole, data, size, size ? size : 1, 0);
  rc_split = run(&split, data, size, 0, cut);
  rc_bytes = run(&bytes, data, size, 1, 0);
  if (rc_whole != rc_split || rc_whole != rc_bytes) abort();
  if (!same(&whole, &split) || !same(&whole, &bytes)) abort();
  if (rc_whole != 0 && rc_whole != CHAT_WS_CLOSE_PROTOCOL &&
      rc_whole != CHAT_WS_CLOSE_BAD_DATA && rc_whole != CHAT_WS_CLOSE_TOO_BIG)
    abort();
  return 0;
}
