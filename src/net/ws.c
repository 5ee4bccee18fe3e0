/* RFC 6455 framing: the server-side parser and the frame encoder.
 *
 * Parser states are kept in the fields of chat_ws_parser_t:
 *   - reading a header: hdr_len bytes of it are in hdr.  The header is read
 *     in three stages (first two bytes, extended length, masking key) and
 *     each stage is checked as soon as it is complete, so a bad opcode or an
 *     oversized length is refused before any payload is read or buffered;
 *   - reading a payload: hdr holds the whole header (hdr_len equals its
 *     size) and payload_read of payload_len bytes have been consumed.
 * A frame whose payload is whole in the input being fed (and, for data, that
 * is a whole unfragmented message of at most WS_STACK_MAX bytes: nearly
 * every chat frame) is unmasked into a buffer on the stack and handed on
 * without any allocation.  Otherwise data payloads are appended to msg,
 * which holds every fragment of the message in progress, and a control
 * payload is gathered in msg after them.  msg is freed as soon as no
 * message is in progress, so an idle connection keeps no buffer. */
#include "ws.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../core/common.h"

/* The largest payload unmasked on the stack (see the top). */
#define WS_STACK_MAX 4096
/* The smallest message buffer allocated. */
#define WS_MSG_MIN 256

/* Bytes of extended payload length announced by the second header byte. */
static size_t ext_len_size(uint8_t b1) {
  uint8_t l = b1 & 0x7F;
  return l == 126 ? 2 : l == 127 ? 8 : 0;
}

/* The header size the current stage of header reading ends at. */
static size_t hdr_stage_end(const chat_ws_parser_t *p) {
  size_t len_end;
  if (p->hdr_len < 2) return 2;
  len_end = 2 + ext_len_size(p->hdr[1]);
  return p->hdr_len < len_end ? len_end : len_end + 4;
}

static int hdr_complete(const chat_ws_parser_t *p) {
  return p->hdr_len >= 2 && p->hdr_len == 6 + ext_len_size(p->hdr[1]);
}

static int fail(chat_ws_parser_t *p, int code) {
  p->failed = code;
  return code;
}

/* Checks the first two header bytes: flags, opcode, mask bit, and the rules
 * that depend only on them.  Returns 0 or a close code. */
static int check_start(chat_ws_parser_t *p) {
  uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
  int op = b0 & 0x0F;
  int fin = b0 >> 7;

  if (b0 & 0x70) return CHAT_WS_CLOSE_PROTOCOL;  /* no extension negotiated */
  switch (op) {
    case CHAT_WS_OP_CONT:
      if (p->msg_opcode == 0) return CHAT_WS_CLOSE_PROTOCOL;
      break;
    case CHAT_WS_OP_TEXT:
    case CHAT_WS_OP_BINARY:
      if (p->msg_opcode != 0) return CHAT_WS_CLOSE_PROTOCOL;
      break;
    case CHAT_WS_OP_CLOSE:
    case CHAT_WS_OP_PING:
    case CHAT_WS_OP_PONG:
      if (!fin || (b1 & 0x7F) > CHAT_WS_CONTROL_MAX) return CHAT_WS_CLOSE_PROTOCOL;
      break;
    default:
      return CHAT_WS_CLOSE_PROTOCOL;
  }
  if (!(b1 & 0x80)) return CHAT_WS_CLOSE_PROTOCOL;
  p->opcode = op;
  p->fin = fin;
  return 0;
}

/* Decodes the payload length once its bytes are all in hdr and checks it
 * against max_message.  Returns 0 or a close code. */
static int check_length(chat_ws_parser_t *p) {
  uint64_t n = p->hdr[1] & 0x7F;

  if (n == 126) {
    n = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
  } else if (n == 127) {
    n = 0;
    for (int i = 2; i < 10; i++) n = n << 8 | p->hdr[i];
    if (n >> 63) return CHAT_WS_CLOSE_PROTOCOL;
  }
  p->payload_len = n;
  if (p->opcode & 0x8) return 0;
  /* msg_len <= max_message always holds, so this cannot wrap. */
  if (n > p->max_message - p->msg_len) return CHAT_WS_CLOSE_TOO_BIG;
  if (p->opcode != CHAT_WS_OP_CONT) {
    p->msg_opcode = p->opcode;
    chat_utf8_init(&p->utf8);
  }
  return 0;
}

/* RFC 6455 section 7.4: codes an endpoint may send in a close frame.  Below
 * 3000 only those assigned so far are accepted: 1000-1003, 1007-1011 and the
 * later IANA registrations 1012-1014.  1004-1006 and 1015 are reserved or
 * must never appear on the wire.  3000-4999 are for libraries and
 * applications. */
static int close_code_valid(unsigned code) {
  if (code >= 3000 && code <= 4999) return 1;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/* Copies n payload bytes from src to dst, unmasking them; off is the
 * position of src[0] in the frame's payload. */
static inline void unmask_copy(uint8_t *dst, const uint8_t *src, size_t n,
                               const uint8_t key[4], uint64_t off) {
  uint8_t m[8];
  uint64_t k, w0, w1, w2, w3;
  size_t i = 0;

  for (int j = 0; j < 8; j++) m[j] = key[(off + j) & 3];
  memcpy(&k, m, 8);
  for (; n - i >= 32; i += 32) {
    memcpy(&w0, src + i, 8);
    memcpy(&w1, src + i + 8, 8);
    memcpy(&w2, src + i + 16, 8);
    memcpy(&w3, src + i + 24, 8);
    w0 ^= k;
    w1 ^= k;
    w2 ^= k;
    w3 ^= k;
    memcpy(dst + i, &w0, 8);
    memcpy(dst + i + 8, &w1, 8);
    memcpy(dst + i + 16, &w2, 8);
    memcpy(dst + i + 24, &w3, 8);
  }
  for (; n - i >= 8; i += 8) {
    memcpy(&w0, src + i, 8);
    w0 ^= k;
    memcpy(dst + i, &w0, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ m[i & 7];
}

/* Makes room in msg for n more bytes.  The buffer grows with the bytes that
 * actually arrive (doubling, capped at max_message), not with the length a
 * header announces, so a peer that announces a large frame and sends little
 * costs little. */
static void msg_reserve(chat_ws_parser_t *p, size_t n) {
  size_t need = p->msg_len + n;
  size_t cap;

  if (need <= p->msg_cap) return;
  cap = p->msg_cap > SIZE_MAX / 2 ? SIZE_MAX : p->msg_cap * 2;
  if (cap < WS_MSG_MIN) cap = WS_MSG_MIN;
  if (cap > p->max_message) cap = p->max_message;
  if (cap < need) cap = need;
  p->msg = chat_xrealloc(p->msg, cap);
  p->msg_cap = cap;
}

/* No message in progress: the buffer goes (an idle connection keeps none). */
static void msg_release(chat_ws_parser_t *p) {
  if (p->msg_opcode != 0 || p->msg == NULL) return;
  free(p->msg);
  p->msg = NULL;
  p->msg_len = p->msg_cap = 0;
}

/* Called when the current frame's payload is complete; a control frame's
 * payload is ctl[0..len).  Returns 0, CHAT_WS_STOPPED or a close code. */
static int finish_frame(chat_ws_parser_t *p, const uint8_t *ctl, chat_ws_message_cb cb,
                        void *ud) {
  static const uint8_t empty[1];
  int op, stop;
  size_t len;

  p->hdr_len = 0;
  if (p->opcode & 0x8) {
    len = (size_t)p->payload_len;
    if (p->opcode == CHAT_WS_OP_CLOSE && len > 0) {
      if (len == 1) return fail(p, CHAT_WS_CLOSE_PROTOCOL);
      if (!close_code_valid((unsigned)ctl[0] << 8 | ctl[1]))
        return fail(p, CHAT_WS_CLOSE_PROTOCOL);
      if (!chat_utf8_valid(ctl + 2, len - 2))
        return fail(p, CHAT_WS_CLOSE_BAD_DATA);
    }
    stop = cb(ud, p->opcode, len ? ctl : empty, len);
    msg_release(p);
    return stop ? CHAT_WS_STOPPED : 0;
  }
  if (!p->fin) return 0;
  /* A text message must not end inside a character. */
  if (p->msg_opcode == CHAT_WS_OP_TEXT && p->utf8.state != 0)
    return fail(p, CHAT_WS_CLOSE_BAD_DATA);
  op = p->msg_opcode;
  len = p->msg_len;
  p->msg_opcode = 0;
  p->msg_len = 0;
  stop = cb(ud, op, p->msg ? p->msg : empty, len);
  msg_release(p);
  return stop ? CHAT_WS_STOPPED : 0;
}

/* The frame whose header is complete has its whole payload in s[0..avail)
 * and can be handed on from the stack (see the top).  Returns 1 if it was
 * (then *rc is finish_frame's result), 0 if it must be gathered. */
static int frame_from_stack(chat_ws_parser_t *p, const uint8_t *s, size_t avail, int *rc,
                            chat_ws_message_cb cb, void *ud) {
  uint8_t buf[WS_STACK_MAX];
  size_t n = (size_t)p->payload_len;
  const uint8_t *mask = p->hdr + p->hdr_len - 4;

  if (p->payload_len > avail || p->payload_len > WS_STACK_MAX) return 0;
  if (p->opcode & 0x8) {
    unmask_copy(buf, s, n, mask, 0);
    *rc = finish_frame(p, buf, cb, ud);
    return 1;
  }
  if (!p->fin || p->msg_len != 0) return 0;
  unmask_copy(buf, s, n, mask, 0);
  if (p->msg_opcode == CHAT_WS_OP_TEXT && chat_utf8_feed(&p->utf8, buf, n) == CHAT_UTF8_BAD) {
    *rc = fail(p, CHAT_WS_CLOSE_BAD_DATA);
    return 1;
  }
  p->hdr_len = 0;
  if (p->msg_opcode == CHAT_WS_OP_TEXT && p->utf8.state != 0) {
    *rc = fail(p, CHAT_WS_CLOSE_BAD_DATA);
    return 1;
  }
  int op = p->msg_opcode;
  p->msg_opcode = 0;
  *rc = cb(ud, op, buf, n) ? CHAT_WS_STOPPED : 0;
  return 1;
}

void chat_ws_parser_init(chat_ws_parser_t *p, size_t max_message) {
  memset(p, 0, sizeof(*p));
  p->max_message = max_message;
}

int chat_ws_parser_idle(const chat_ws_parser_t *p) {
  return p->hdr_len == 0 && p->msg_opcode == 0 && p->msg == NULL && p->failed == 0;
}

void chat_ws_parser_free(chat_ws_parser_t *p) {
  free(p->msg);
  memset(p, 0, sizeof(*p));
}

int chat_ws_parser_feed(chat_ws_parser_t *p, const uint8_t *data, size_t len,
                        chat_ws_message_cb cb, void *ud) {
  const uint8_t *s = data;
  size_t avail = len;
  int rc;

  assert(cb != NULL);
  if (p->failed) return p->failed;
  while (avail > 0) {
    if (!hdr_complete(p)) {
      size_t stop = hdr_stage_end(p);
      size_t n = stop - p->hdr_len;
      if (n > avail) n = avail;
      memcpy(p->hdr + p->hdr_len, s, n);
      p->hdr_len += n;
      s += n;
      avail -= n;
      if (p->hdr_len < stop) break;
      if (p->hdr_len == 2 && (rc = check_start(p)) != 0) return fail(p, rc);
      if (p->hdr_len == 2 + ext_len_size(p->hdr[1]) &&
          (rc = check_length(p)) != 0)
        return fail(p, rc);
      if (hdr_complete(p)) {
        p->payload_read = 0;
        if (frame_from_stack(p, s, avail, &rc, cb, ud)) {
          if (rc != 0) return rc;
          s += (size_t)p->payload_len;
          avail -= (size_t)p->payload_len;
        } else if (p->payload_len == 0) {
          if ((rc = finish_frame(p, NULL, cb, ud)) != 0) return rc;
        } else if (p->opcode & 0x8) {
          msg_reserve(p, (size_t)p->payload_len);  /* room after the message */
        }
      }
      continue;
    }

    uint64_t left = p->payload_len - p->payload_read;
    size_t n = left < avail ? (size_t)left : avail;
    const uint8_t *mask = p->hdr + p->hdr_len - 4;
    uint8_t *dst;
    if (p->opcode & 0x8) {
      dst = p->msg + p->msg_len + p->payload_read;
      unmask_copy(dst, s, n, mask, p->payload_read);
    } else {
      msg_reserve(p, n);
      dst = p->msg + p->msg_len;
      unmask_copy(dst, s, n, mask, p->payload_read);
      if (p->msg_opcode == CHAT_WS_OP_TEXT &&
          chat_utf8_feed(&p->utf8, dst, n) == CHAT_UTF8_BAD)
        return fail(p, CHAT_WS_CLOSE_BAD_DATA);
      p->msg_len += n;
    }
    p->payload_read += n;
    s += n;
    avail -= n;
    if (p->payload_read == p->payload_len &&
        (rc = finish_frame(p, (p->opcode & 0x8) ? p->msg + p->msg_len : NULL, cb, ud)) != 0)
      return rc;
  }
  return 0;
}

size_t chat_ws_header_size(size_t len) {
  return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
}

size_t chat_ws_write_header(uint8_t *out, int opcode, size_t len) {
  out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  return 10;
}

chat_rbuf_t *chat_ws_frame_new(int opcode, const void *payload, size_t len) {
  size_t hs = chat_ws_header_size(len);
  chat_rbuf_t *b = chat_rbuf_new(hs + len);

  chat_ws_write_header(b->data, opcode, len);
  if (len > 0) memcpy(b->data + hs, payload, len);
  b->len = hs + len;
  return b;
}

const uint8_t *chat_ws_frame_payload(const chat_rbuf_t *b, size_t *len) {
  uint8_t l = b->data[1] & 0x7F;
  size_t hs = l < 126 ? 2 : l == 126 ? 4 : 10;
  *len = b->len - hs;
  return b->data + hs;
}

chat_rbuf_t *chat_ws_close_frame_new(uint16_t code, const char *reason) {
  uint8_t payload[CHAT_WS_CONTROL_MAX];
  size_t rlen = reason ? strlen(reason) : 0;

  if (rlen > sizeof(payload) - 2) {
    rlen = sizeof(payload) - 2;
    /* Cut before the character that reason[rlen] belongs to. */
    while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80) rlen--;
  }
  payload[0] = (uint8_t)(code >> 8);
  payload[1] = (uint8_t)code;
  if (rlen > 0) memcpy(payload + 2, reason, rlen);
  return chat_ws_frame_new(CHAT_WS_OP_CLOSE, payload, 2 + rlen);
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int chat_ws_accept_key(const char *key, size_t key_len, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char buf[24 + sizeof(guid) - 1];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  int v;

  /* Tolerate optional white space the HTTP layer may have left around the
   * field value. */
  while (key_len > 0 && (key[0] == ' ' || key[0] == '\t')) {
    key++;
    key_len--;
  }
  while (key_len > 0 && (key[key_len - 1] == ' ' || key[key_len - 1] == '\t'))
    key_len--;

  /* 16 bytes encode to 22 significant characters and "=="; the last
   * significant character carries 2 bits, so its low 4 bits must be 0. */
  if (key_len != 24 || key[22] != '=' || key[23] != '=') return -1;
  for (int i = 0; i < 22; i++) {
    if ((v = b64_value(key[i])) < 0) return -1;
    if (i == 21 && (v & 0x0F) != 0) return -1;
  }

  memcpy(buf, key, 24);
  memcpy(buf + 24, guid, sizeof(guid) - 1);
  if (EVP_Digest(buf, sizeof(buf), md, &md_len, EVP_sha1(), NULL) != 1 ||
      md_len != 20)
    return -1;
  EVP_EncodeBlock((unsigned char *)out, md, 20);
  out[28] = '\0';
  return 0;
}
