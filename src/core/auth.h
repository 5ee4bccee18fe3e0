/* Password hashing and session tokens (libsodium).
 *
 * chat_auth_hash_password and chat_auth_verify_password are deliberately
 * slow (argon2id): call them on worker threads only. */
#ifndef CHAT_CORE_AUTH_H
#define CHAT_CORE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_TOKEN_BYTES 32
#define CHAT_TOKEN_CHARS 43  /* base64url of 32 bytes, no padding */
#define CHAT_TOKEN_HASH_LEN 32 /* bytes of SHA-256 of a session token */
#define CHAT_HASH_MAX 160    /* an argon2id string from libsodium fits */

/* Initialises libsodium; 0 or -1. Safe to call more than once. */
int chat_auth_init(void);
/* Writes an argon2id hash string (with salt and parameters) into out
 * (CHAT_HASH_MAX bytes).  0 or -1. */
int chat_auth_hash_password(const char *password, size_t len, char *out);
/* 1 if password matches hash, else 0.  Constant-time in the password. */
int chat_auth_verify_password(const char *hash, const char *password, size_t len);
/* A new random token as CHAT_TOKEN_CHARS characters of base64url plus NUL. */
void chat_auth_new_token(char out[CHAT_TOKEN_CHARS + 1]);
/* Overwrites n bytes at p with zeros (not optimised away): for secrets
 * before their memory is freed. */
void chat_auth_wipe(void *p, size_t n);
/* SHA-256 of a token string: what the store keeps. */
void chat_auth_token_hash(const char *token, size_t len, uint8_t out[CHAT_TOKEN_HASH_LEN]);

#endif
