/* Strict JSON input: one JSON value in valid UTF-8, nothing after it but
 * white space, and no string cut short at U+0000.
 *
 * cJSON reads strings into C strings, so a "\u0000" escape would end a
 * string early: "pass\u0000word" would be read as "pass", silently.  Here a
 * string value that holds U+0000 is never handed out as a string: its item
 * is kept but is not a string any more (cJSON_IsString is false,
 * cJSON_IsInvalid is true, chat_json_has_nul is true), so every reader that
 * asks for a string refuses it as a field of the wrong type, and none sees a
 * shortened text.  A member name holding U+0000 refuses the whole value (a
 * cut name could pose as another member).  Callers that want to say why
 * ask chat_json_has_nul on the value they got. */
#ifndef CHAT_CORE_JSON_H
#define CHAT_CORE_JSON_H

#include <cJSON.h>
#include <stddef.h>

/* The parsed value (free with cJSON_Delete), or NULL if s[0..len) is not
 * exactly one valid JSON value in valid UTF-8 without NUL bytes, or a
 * member name in it holds U+0000, or a \u escape in it lacks its four hex
 * digits (cJSON would read it as U+0000).  String values holding U+0000 are marked
 * as above. */
cJSON *chat_json_parse(const char *s, size_t len);

/* What a refusal for U+0000 says, on HTTP and WebSocket alike. */
#define CHAT_JSON_NUL_MESSAGE "text must not contain the NUL character (U+0000)"

/* 1 if v (from chat_json_parse) is a string value that held U+0000, or is
 * the root of a parsed value with such a string anywhere in it; 0 otherwise
 * (also for NULL).  O(1). */
int chat_json_has_nul(const cJSON *v);

#endif
