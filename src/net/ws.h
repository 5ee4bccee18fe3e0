/* RFC 6455 WebSocket framing, server side.
 *
 * The parser is incremental: feed it any split of the input.  It enforces
 * the server's rules: client frames must be masked, reserved bits clear,
 * opcodes known, control frames unfragmented with payloads of at most 125
 * bytes, continuation frames only inside a fragmented message, text messages
 * valid UTF-8 (checked as fragments arrive, so a bad byte is caught before
 * the message completes), and a whole message (all fragments) at most
 * max_message bytes.
 *
 * The encoder writes unmasked server frames into reference-counted buffers,
 * so one encoded frame can be queued on many connections. */
#ifndef CHAT_NET_WS_H
#define CHAT_NET_WS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/limits.h"
#include "../core/rbuf.h"
#include "../core/utf8.h"

enum {
  CHAT_WS_OP_CONT = 0x0,
  CHAT_WS_OP_TEXT = 0x1,
  CHAT_WS_OP_BINARY = 0x2,
  CHAT_WS_OP_CLOSE = 0x8,
  CHAT_WS_OP_PING = 0x9,
  CHAT_WS_OP_PONG = 0xA,
};

/* Close codes used by the server. */
enum {
  CHAT_WS_CLOSE_NORMAL = 1000,
  CHAT_WS_CLOSE_GOING_AWAY = 1001,
  CHAT_WS_CLOSE_PROTOCOL = 1002,
  CHAT_WS_CLOSE_BAD_DATA = 1007,   /* invalid UTF-8 in a text message */
  CHAT_WS_CLOSE_POLICY = 1008,
  CHAT_WS_CLOSE_TOO_BIG = 1009,
  CHAT_WS_CLOSE_TRY_AGAIN = 1013,  /* used for slow consumers */
};

/* Called for each complete data message (opcode TEXT or BINARY, payload
 * unmasked and, for TEXT, valid UTF-8) and for each control frame (CLOSE,
 * PING, PONG).  data is valid only during the call.  Return 0 to go on, or
 * non-zero to make chat_ws_parser_feed stop at once and return
 * CHAT_WS_STOPPED (the rest of the input is left unparsed). */
typedef int (*chat_ws_message_cb)(void *ud, int opcode, const uint8_t *data,
                                  size_t len);

#define CHAT_WS_STOPPED (-1)

typedef struct {
  size_t max_message;
  /* current frame */
  uint64_t payload_len;
  uint64_t payload_read;
  /* The data message being assembled (all fragments so far), and after
   * its msg_len bytes the payload of a control frame that arrived in
   * pieces.  NULL between messages: a frame that arrives whole in one
   * feed is unmasked on the stack, so an idle connection holds no buffer. */
  uint8_t *msg;
  size_t msg_len;
  size_t msg_cap;
  chat_utf8_t utf8;
  int failed;              /* a close code once the stream is broken */
  /* frame header being read (its last 4 bytes are the mask once whole) */
  uint8_t hdr[14];
  uint8_t hdr_len;
  uint8_t opcode;
  uint8_t fin;
  uint8_t msg_opcode;      /* 0: no message in progress */
} chat_ws_parser_t;

void chat_ws_parser_init(chat_ws_parser_t *p, size_t max_message);
/* Frees what the parser allocated; the parser can be re-initialised. */
void chat_ws_parser_free(chat_ws_parser_t *p);
/* 1 if the parser holds nothing: between frames, no message in progress,
 * no buffer, no failure.  Such a parser may be dropped (chat_ws_parser_free)
 * and a fresh one initialised for the next input: the caller may keep a
 * parser only while a frame or message is in pieces. */
int chat_ws_parser_idle(const chat_ws_parser_t *p);
/* Consumes len bytes.  Returns 0 when all were consumed, CHAT_WS_STOPPED
 * when cb asked to stop, or a close code (1002, 1007, 1009) when the peer
 * broke the protocol; after a close code every later call returns it too. */
int chat_ws_parser_feed(chat_ws_parser_t *p, const uint8_t *data, size_t len,
                        chat_ws_message_cb cb, void *ud);

/* Bytes of the header of an unmasked frame carrying len payload bytes. */
size_t chat_ws_header_size(size_t len);
/* Writes that header (FIN set) into out; returns its size. */
size_t chat_ws_write_header(uint8_t *out, int opcode, size_t len);
/* A new buffer holding one complete unmasked frame (FIN set). */
chat_rbuf_t *chat_ws_frame_new(int opcode, const void *payload, size_t len);
/* The payload of a frame made by chat_ws_frame_new (or written with
 * chat_ws_write_header at the start of b): a pointer into b and its length. */
const uint8_t *chat_ws_frame_payload(const chat_rbuf_t *b, size_t *len);
/* A close frame with the code and reason (reason cut to fit 125 bytes at a
 * UTF-8 character boundary; NULL for none). */
chat_rbuf_t *chat_ws_close_frame_new(uint16_t code, const char *reason);

/* Computes Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.  Returns 0
 * and writes a NUL-terminated 28-character value into out, or -1 if the key
 * is not the base64 of 16 bytes. */
int chat_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
