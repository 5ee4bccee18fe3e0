#include "access.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "../core/auth.h"

int chat_access_is_loopback(const char *addr) {
  unsigned char a[16];
  if (addr == NULL) return 0;
  if (inet_pton(AF_INET, addr, a) == 1) return a[0] == 127;
  if (inet_pton(AF_INET6, addr, a) != 1) return 0;
  static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(a, loop6, 16) == 0) return 1;
  return memcmp(a, mapped, 12) == 0 && a[12] == 127;
}

/* Compares two byte strings in time that depends on neither: their
 * SHA-256 digests are compared in full. */
static int same_secret(const char *a, size_t alen, const char *b, size_t blen) {
  uint8_t ha[CHAT_TOKEN_HASH_LEN], hb[CHAT_TOKEN_HASH_LEN];
  chat_auth_token_hash(a, alen, ha);
  chat_auth_token_hash(b, blen, hb);
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < CHAT_TOKEN_HASH_LEN; i++) diff |= (uint8_t)(ha[i] ^ hb[i]);
  return diff == 0;
}

int chat_access_bearer_ok(const chat_http_req_t *r, const char *token) {
  if (token == NULL || *token == '\0') return 0;
  const char *v = NULL;
  size_t n = 0;
  for (int i = 0; i < r->nheaders; i++) {
    const chat_http_header_t *h = &r->headers[i];
    if (h->name_len != 13 || strncasecmp(r->head + h->name_off, "authorization", 13) != 0)
      continue;
    if (v) return 0;  /* more than one */
    v = r->head + h->val_off;
    n = h->val_len;
  }
  if (v == NULL || n < 7 || strncasecmp(v, "bearer ", 7) != 0) return 0;
  v += 7, n -= 7;
  while (n > 0 && (*v == ' ' || *v == '\t')) v++, n--;
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  return same_secret(v, n, token, strlen(token));
}

int chat_access_allowed(const chat_http_req_t *r, const char *peer, chat_access_mode_t mode,
                        const char *token) {
  if (mode == CHAT_ACCESS_OPEN) return 1;
  if (chat_access_bearer_ok(r, token)) return 1;
  return mode == CHAT_ACCESS_LOCAL && chat_access_is_loopback(peer);
}
