/* @mentions and reaction emoji (mention.h). */
#include "mention.h"

#include <string.h>

#include "utf8.h"

static int name_cp(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '_' || cp == '.' || cp == '-';
  if (cp <= 0xBF) return 0;
  if (cp >= 0x2000 && cp <= 0x206F) return 0;
  if (cp >= 0x2190 && cp <= 0x2BFF) return 0;
  if (cp >= 0x3000 && cp <= 0x303F) return 0;
  if (cp >= 0xFE10 && cp <= 0xFE1F) return 0;
  if (cp >= 0xFE30 && cp <= 0xFE4F) return 0;
  if ((cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
      (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
    return 0;
  if (cp >= 0x1F000) return 0;
  return 1;
}

size_t chat_mention_scan(const char *text, size_t len, chat_mention_t *out, size_t max) {
  size_t n = 0, i = 0;
  while (i < len && n < max) {
    const char *at = memchr(text + i, '@', len - i);
    if (at == NULL) break;
    size_t start = (size_t)(at - text) + 1, end = start;
    while (end < len) {
      uint32_t cp;
      size_t k = chat_utf8_next(text + end, len - end, &cp);
      if (!name_cp(cp) || end + k - start > CHAT_NAME_MAX) break;
      end += k;
    }
    size_t stop = end;
    while (end > start && (text[end - 1] == '.' || text[end - 1] == '-')) end--;
    if (end > start) {
      int dup = 0;
      for (size_t k = 0; k < n && !dup; k++)
        dup = out[k].len == end - start && memcmp(out[k].name, text + start, end - start) == 0;
      if (!dup) {
        out[n].name = text + start;
        out[n].len = end - start;
        n++;
      }
    }
    i = stop > start ? stop : start;
  }
  return n;
}

size_t chat_mention_prefix(const char *s, size_t len, size_t n) {
  size_t i = 0;
  while (i < len && n > 0) {
    uint32_t cp;
    i += chat_utf8_next(s + i, len - i, &cp);
    n--;
  }
  return i;
}

static int pictograph(uint32_t cp) {
  return cp == 0xA9 || cp == 0xAE || cp == 0x203C || cp == 0x2049 || cp == 0x2122 ||
         cp == 0x2139 || (cp >= 0x2194 && cp <= 0x21AA) || (cp >= 0x231A && cp <= 0x23FF) ||
         cp == 0x24C2 || (cp >= 0x25AA && cp <= 0x25FE) || (cp >= 0x2600 && cp <= 0x27BF) ||
         cp == 0x2934 || cp == 0x2935 || (cp >= 0x2B05 && cp <= 0x2B55) || cp == 0x3030 ||
         cp == 0x303D || cp == 0x3297 || cp == 0x3299 ||
         (cp >= 0x1F000 && cp <= 0x1FAFF && !(cp >= 0x1F1E6 && cp <= 0x1F1FF) &&
          !(cp >= 0x1F3FB && cp <= 0x1F3FF));
}

int chat_emoji_check(const char *s, size_t len) {
  uint32_t cp[CHAT_EMOJI_MAX];
  size_t n = 0, i = 0;
  if (len == 0 || len > CHAT_EMOJI_MAX || !chat_utf8_valid(s, len)) return 0;
  while (i < len) i += chat_utf8_next(s + i, len - i, &cp[n++]);
  i = 0;
  /* Flags and keycaps stand alone. */
  if (cp[0] >= 0x1F1E6 && cp[0] <= 0x1F1FF)
    return n == 2 && cp[1] >= 0x1F1E6 && cp[1] <= 0x1F1FF;
  if ((cp[0] >= '0' && cp[0] <= '9') || cp[0] == '#' || cp[0] == '*') {
    size_t k = 1;
    if (k < n && cp[k] == 0xFE0F) k++;
    return k + 1 == n && cp[k] == 0x20E3;
  }
  for (;;) {
    if (i >= n || !pictograph(cp[i])) return 0;
    uint32_t base = cp[i++];
    if (i < n && cp[i] == 0xFE0F) i++;
    if (i < n && cp[i] >= 0x1F3FB && cp[i] <= 0x1F3FF) i++;
    if (base == 0x1F3F4 && i < n && cp[i] >= 0xE0020 && cp[i] <= 0xE007E) {
      while (i < n && cp[i] >= 0xE0020 && cp[i] <= 0xE007E) i++;
      if (i >= n || cp[i] != 0xE007F) return 0;
      i++;
    }
    if (i == n) return 1;
    if (cp[i] != 0x200D) return 0;
    i++;
  }
}
