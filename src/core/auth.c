#include "auth.h"

#include <sodium.h>
#include <string.h>

/* OPSLIMIT/MEMLIMIT_INTERACTIVE: about 64 MiB and tens of milliseconds a
 * hash, libsodium's recommendation for online logins. */
_Static_assert(crypto_pwhash_STRBYTES <= CHAT_HASH_MAX, "hash fits");
_Static_assert(crypto_hash_sha256_BYTES == CHAT_TOKEN_HASH_LEN, "token hash size");

int chat_auth_init(void) { return sodium_init() < 0 ? -1 : 0; }

int chat_auth_hash_password(const char *password, size_t len, char *out) {
  return crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
             ? 0
             : -1;
}

int chat_auth_verify_password(const char *hash, const char *password, size_t len) {
  return crypto_pwhash_str_verify(hash, password, len) == 0;
}

void chat_auth_new_token(char out[CHAT_TOKEN_CHARS + 1]) {
  unsigned char raw[CHAT_TOKEN_BYTES];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(out, CHAT_TOKEN_CHARS + 1, raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
}

void chat_auth_token_hash(const char *token, size_t len, uint8_t out[CHAT_TOKEN_HASH_LEN]) {
  crypto_hash_sha256(out, (const unsigned char *)token, len);
}

void chat_auth_wipe(void *p, size_t n) { sodium_memzero(p, n); }
