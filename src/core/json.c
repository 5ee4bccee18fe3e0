/* Strict JSON input (see json.h).
 *
 * Finding the strings that held U+0000: cJSON keeps no positions and its
 * strings end at the first NUL, so the text is scanned instead.  The scan
 * runs only when the text has a "\u0000" escape at all (a raw NUL byte is
 * refused before parsing).  cJSON accepted the text, so it is valid JSON:
 * every backslash is inside a string, and the strings (member names and
 * values) come in document order.  cJSON builds its tree in the same order
 * (object members and array elements keep their order, duplicates
 * included), so a walk of the tree that visits each member name, then each
 * string value, meets the strings in the order the scan numbered them.
 *
 * Marks live in the item's type, above the bits cJSON uses (0xFF for the
 * type, cJSON_IsReference and cJSON_StringIsConst): cJSON's type tests mask
 * them off and cJSON_Delete ignores them, so a marked item is freed like any
 * other (its valuestring too). */
#define _GNU_SOURCE /* memmem */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "utf8.h"

/* A string value that held U+0000; the type is cJSON_Invalid with it. */
#define NUL_STRING (1 << 12)
/* On the root: some string in the value held U+0000. */
#define NUL_INSIDE (1 << 13)

_Static_assert(NUL_STRING > cJSON_StringIsConst && NUL_INSIDE > cJSON_StringIsConst,
               "the marks stay clear of cJSON's own type bits");

/* The ordinals (0-based, in document order) of the strings of s[0..len)
 * that hold a \u0000 escape. */
typedef struct {
  size_t *v;
  size_t n, cap;
  size_t next;   /* the walk: the next entry of v to meet */
  size_t seen;   /* the walk: strings met so far */
} nul_list_t;

static void scan(const char *s, size_t len, nul_list_t *l) {
  size_t ord = 0;
  int in_str = 0, marked = 0;

  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (!in_str) {
      if (ch == '"') in_str = 1, marked = 0;
      continue;
    }
    if (ch == '\\') {
      if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0 && !marked) {
        if (l->n == l->cap) {
          l->cap = l->cap ? 2 * l->cap : 8;
          l->v = chat_xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n++] = ord;
        marked = 1;
      }
      i++;  /* the escaped character; \uXXXX's digits are plain characters */
    } else if (ch == '"') {
      in_str = 0;
      ord++;
    }
  }
}

static int is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 if every \u escape in s[0..len) has four hex digits.  cJSON reads a
 * \u escape whose digits are not hex as U+0000 and cuts its string there
 * ("bob\u00zz" as "bob"), and says nothing; such text is not JSON. */
static int u_escapes_ok(const char *s, size_t len) {
  const char *p = memchr(s, '\\', len), *end = s + len;
  while (p != NULL) {
    /* Backslashes only occur inside strings of valid JSON, and cJSON
     * accepted the text: p escapes the character after it. */
    if (p + 1 < end && p[1] == 'u') {
      if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
        return 0;
      p += 6;
    } else {
      p += 2;
    }
    p = p < end ? memchr(p, '\\', (size_t)(end - p)) : NULL;
  }
  return 1;
}

/* 1 if the next string of the walk is the next one listed. */
static int next_is_nul(nul_list_t *l) {
  int hit = l->next < l->n && l->v[l->next] == l->seen;
  if (hit) l->next++;
  l->seen++;
  return hit;
}

/* Marks the strings of v and its children; -1 if a member name held
 * U+0000.  Recursion is bounded by cJSON's nesting limit. */
static int mark(cJSON *v, nul_list_t *l) {
  for (; v != NULL; v = v->next) {
    if (v->string != NULL && next_is_nul(l)) return -1;
    if (cJSON_IsString(v) && next_is_nul(l)) v->type = cJSON_Invalid | NUL_STRING;
    if (v->child != NULL && mark(v->child, l) != 0) return -1;
  }
  return 0;
}

cJSON *chat_json_parse(const char *s, size_t len) {
  if (s == NULL || !chat_utf8_valid(s, len) || memchr(s, '\0', len)) return NULL;
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  if (v == NULL) return NULL;
  for (const char *p = end; p < s + len; p++) {
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
      cJSON_Delete(v);
      return NULL;
    }
  }
  if (!u_escapes_ok(s, (size_t)(end - s))) {
    cJSON_Delete(v);
    return NULL;
  }
  if (memmem(s, (size_t)(end - s), "\\u0000", 6) != NULL) {
    nul_list_t l = {NULL, 0, 0, 0, 0};
    scan(s, (size_t)(end - s), &l);
    /* The root has no successor: walk it alone. */
    int rc = l.n ? mark(v, &l) : 0;
    if (l.n) v->type |= NUL_INSIDE;
    free(l.v);
    if (rc != 0) {
      cJSON_Delete(v);
      return NULL;
    }
  }
  return v;
}

int chat_json_has_nul(const cJSON *v) {
  return v != NULL && (v->type & (NUL_STRING | NUL_INSIDE)) != 0;
}
