/* Strict JSON input: one JSON value in valid UTF-8, nothing after it but
 * white space. */
#ifndef CHAT_CORE_JSON_H
#define CHAT_CORE_JSON_H

#include <cJSON.h>
#include <stddef.h>

/* The parsed value (free with cJSON_Delete), or NULL if s[0..len) is not
 * exactly one valid JSON value in valid UTF-8 without NUL bytes. */
cJSON *chat_json_parse(const char *s, size_t len);

#endif
