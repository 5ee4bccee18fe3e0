/* Whether two decodings of one client frame agree (net/proto.h): the flat
 * path of chat_proto_req_decode against chat_proto_req_decode_tree.  Shared
 * by test_proto and the fuzz target fuzz.proto. */
#ifndef CHAT_TEST_REQ_SAME_H
#define CHAT_TEST_REQ_SAME_H

#include <string.h>

#include "net/proto.h"

static int req_same_str(const char *a, const char *b) {
  return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* 1 if the results (rc, the error or the request) are the same. */
static int req_same(int rca, const chat_proto_req_t *a, const chat_proto_error_t *ea, int rcb,
                    const chat_proto_req_t *b, const chat_proto_error_t *eb) {
  if (rca != rcb) return 0;
  if (rca != 0)
    return ea->code == eb->code && req_same_str(ea->message, eb->message) &&
           req_same_str(ea->cid, eb->cid);
  if (a->type != b->type || a->room != b->room || a->since != b->since ||
      a->has_since != b->has_since || a->reply_to != b->reply_to || a->id != b->id ||
      a->on != b->on || a->nfiles != b->nfiles)
    return 0;
  if (!req_same_str(a->to, b->to) || !req_same_str(a->text, b->text) ||
      !req_same_str(a->cid, b->cid) || !req_same_str(a->emoji, b->emoji))
    return 0;
  for (size_t i = 0; i < a->nfiles; i++)
    if (a->files[i] != b->files[i]) return 0;
  return 1;
}

#endif
