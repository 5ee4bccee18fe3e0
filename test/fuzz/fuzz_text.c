/* libFuzzer target for the text rules (built by test/fuzz/CMakeLists.txt;
 * run as the test fuzz.text).
 *
 * The input is read as a username (core/text.h with its identity key,
 * core/ident.h), as text to trim, as an e-mail address and a room name, and
 * as JSON (core/json.h, the U+0000 marks).  Besides not tripping the
 * sanitizers, what comes out must keep the rules' promises:
 *   - a name taken is its own NFKC form, is taken again unchanged, and has
 *     the same key as the name as typed; a name refused leaves out empty;
 *   - ASCII case never changes a key (the old uniqueness is kept);
 *   - trimming stays inside the input and leaves no white space at the
 *     ends;
 *   - chat_json_parse marks U+0000 only where the text has a \u0000 escape,
 *     and no string it hands out holds one. */
#define _GNU_SOURCE /* memmem */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ident.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/text.h"
#include "core/utf8.h"

static void check_username(const char *s, size_t len) {
  char out[CHAT_NAME_MAX + 1], again[CHAT_NAME_MAX + 1];
  char key[CHAT_IDENT_KEY_MAX], key2[CHAT_IDENT_KEY_MAX], nfkc[CHAT_NAME_MAX + 1];
  memset(out, 'x', sizeof(out));
  chat_username_rc_t rc = chat_username_check(s, out);
  if (chat_username_valid(s) != (rc == CHAT_USERNAME_OK)) abort();
  if (rc != CHAT_USERNAME_OK) {
    if (out[0] != '\0') abort();
    return;
  }
  size_t olen = strlen(out);
  if (olen > CHAT_NAME_MAX || !chat_utf8_valid(out, olen)) abort();
  /* NFKC is idempotent: what is stored is its own normal form. */
  if (chat_ident_nfkc(out, olen, nfkc, sizeof(nfkc)) != (int)olen || strcmp(nfkc, out) != 0)
    abort();
  if (chat_username_check(out, again) != CHAT_USERNAME_OK || strcmp(again, out) != 0) abort();
  /* The stored form and the typed one are the same identity. */
  int k1 = chat_ident_key(out, olen, key, sizeof(key));
  int k2 = chat_ident_key(s, len, key2, sizeof(key2));
  if (k1 < 0 || k1 != k2 || strcmp(key, key2) != 0) abort();
}

static void check_key_ascii_case(const char *s, size_t len) {
  char key[CHAT_IDENT_KEY_MAX], key2[CHAT_IDENT_KEY_MAX];
  int k1 = chat_ident_key(s, len, key, sizeof(key));
  if (k1 < 0) return;
  char *flipped = malloc(len + 1);
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    flipped[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32)
                 : (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
  }
  flipped[len] = '\0';
  int k2 = chat_ident_key(flipped, len, key2, sizeof(key2));
  if (k2 != k1 || strcmp(key, key2) != 0) abort();
  free(flipped);
}

/* The white space of chat_text_trim, for checking its result. */
static int is_space(uint32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 ||
         c == 0xFEFF;
}

static void check_trim(const char *s, size_t len) {
  size_t start = 0, n = 0;
  uint32_t c;
  chat_text_trim(s, len, &start, &n);
  if (start > len || n > len - start) abort();
  if (n == 0) return;
  if (chat_utf8_decode(s + start, n, &c) != 0 && is_space(c)) abort();
  /* The last character, when it is valid UTF-8. */
  size_t k = start + n - 1;
  while (k > start && start + n - k < 4 && ((uint8_t)s[k] & 0xC0) == 0x80) k--;
  if (chat_utf8_decode(s + k, start + n - k, &c) == start + n - k && is_space(c)) abort();
}

/* No string value handed out holds U+0000: one that did is marked. */
static void walk(const cJSON *v, int *marks) {
  for (; v != NULL; v = v->next) {
    if (chat_json_has_nul(v) && !cJSON_IsInvalid(v)) {
      /* Only the root may carry the "somewhere inside" mark. */
      if (cJSON_IsString(v)) abort();
    }
    if (cJSON_IsInvalid(v)) {
      if (!chat_json_has_nul(v)) abort();
      (*marks)++;
    }
    walk(v->child, marks);
  }
}

static void check_json(const char *s, size_t len) {
  cJSON *root = chat_json_parse(s, len);
  if (root == NULL) return;
  int marks = 0;
  walk(root, &marks);
  int escape = memmem(s, len, "\\u0000", 6) != NULL;
  if (marks > 0 && (!escape || !chat_json_has_nul(root))) abort();
  if (!escape && chat_json_has_nul(root)) abort();
  cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  size_t clen = strlen(s);  /* the C string a JSON field would carry */

  check_username(s, clen);
  check_key_ascii_case(s, clen);
  check_trim(s, size);
  (void)chat_email_valid(s);
  (void)chat_room_name_valid(s);
  check_json(s, size);
  free(s);
  return 0;
}
