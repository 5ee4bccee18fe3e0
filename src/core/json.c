#include "json.h"

#include <string.h>

#include "utf8.h"

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
  return v;
}
