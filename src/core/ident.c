/* Username identity through ICU (see ident.h).
 *
 * ICU works in UTF-16: a name goes UTF-8 -> UTF-16 -> normaliser (and
 * skeleton) -> UTF-8.  Intermediate buffers are sized from the input and
 * grown once if ICU asks for more (U_BUFFER_OVERFLOW_ERROR tells the length
 * it needs); they are freed before returning.  Input is checked with core's
 * UTF-8 rules first, so ICU never sees ill-formed text. */
#include "ident.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "common.h"
#include "utf8.h"

/* The spoof checker for skeletons: made once, then only read (ICU allows
 * concurrent const use).  It is never closed: it lives as long as the
 * process, like ICU's own normaliser instances. */
static pthread_once_t spoof_once = PTHREAD_ONCE_INIT;
static USpoofChecker *spoof;  /* NULL if ICU could not make one */

static void spoof_init(void) {
  UErrorCode e = U_ZERO_ERROR;
  USpoofChecker *sc = uspoof_open(&e);
  if (U_FAILURE(e)) {
    if (sc != NULL) uspoof_close(sc);
    return;
  }
  spoof = sc;
}

/* A UTF-16 string on the heap. */
typedef struct {
  UChar *s;
  int32_t len;
} u16_t;

/* Largest input taken: far above any name, and small enough that no
 * int32_t length below can overflow. */
#define INPUT_MAX (1 << 20)

/* s[0..len) into UTF-16; 0 or -1 (invalid UTF-8, a NUL byte, too long). */
static int to_u16(const char *s, size_t len, u16_t *out) {
  UErrorCode e = U_ZERO_ERROR;
  out->s = NULL;
  if (len > INPUT_MAX || !chat_utf8_valid(s, len) || memchr(s, '\0', len) != NULL)
    return -1;
  /* A UTF-16 string never has more units than the UTF-8 has bytes. */
  out->s = chat_xmalloc((len + 1) * sizeof(UChar));
  u_strFromUTF8(out->s, (int32_t)len + 1, &out->len, s, (int32_t)len, &e);
  if (U_FAILURE(e)) {
    free(out->s);
    out->s = NULL;
    return -1;
  }
  return 0;
}

/* in normalised by nz into *out (in is left alone); 0 or -1. */
static int normalize(const UNormalizer2 *nz, const u16_t *in, u16_t *out) {
  int32_t cap = in->len * 3 + 16;
  for (int tries = 0; tries < 2; tries++) {
    UErrorCode e = U_ZERO_ERROR;
    out->s = chat_xmalloc((size_t)cap * sizeof(UChar));
    out->len = unorm2_normalize(nz, in->s, in->len, out->s, cap, &e);
    if (U_SUCCESS(e) && out->len < cap) return 0;
    free(out->s);
    out->s = NULL;
    if (e != U_BUFFER_OVERFLOW_ERROR && e != U_STRING_NOT_TERMINATED_WARNING) return -1;
    cap = out->len + 1;
  }
  return -1;
}

/* The UTS #39 skeleton of in into *out; 0 or -1. */
static int skeleton(const u16_t *in, u16_t *out) {
  pthread_once(&spoof_once, spoof_init);
  if (spoof == NULL) return -1;
  int32_t cap = in->len * 2 + 16;
  for (int tries = 0; tries < 2; tries++) {
    UErrorCode e = U_ZERO_ERROR;
    out->s = chat_xmalloc((size_t)cap * sizeof(UChar));
    out->len = uspoof_getSkeleton(spoof, 0, in->s, in->len, out->s, cap, &e);
    if (U_SUCCESS(e) && out->len < cap) return 0;
    free(out->s);
    out->s = NULL;
    if (e != U_BUFFER_OVERFLOW_ERROR && e != U_STRING_NOT_TERMINATED_WARNING) return -1;
    cap = out->len + 1;
  }
  return -1;
}

/* in as UTF-8 into out (cap bytes, NUL-terminated): its length or -1. */
static int to_u8(const u16_t *in, char *out, size_t cap) {
  UErrorCode e = U_ZERO_ERROR;
  int32_t n = 0;
  if (cap == 0) return -1;
  u_strToUTF8(out, cap > INT32_MAX ? INT32_MAX : (int32_t)cap, &n, in->s, in->len, &e);
  if (U_FAILURE(e) || (size_t)n >= cap) {
    out[0] = '\0';
    return -1;
  }
  out[n] = '\0';
  return n;
}

int chat_ident_nfkc(const char *s, size_t len, char *out, size_t cap) {
  UErrorCode e = U_ZERO_ERROR;
  const UNormalizer2 *nfkc = unorm2_getNFKCInstance(&e);
  u16_t in, norm;
  int n = -1;

  if (cap > 0) out[0] = '\0';
  if (U_FAILURE(e) || to_u16(s, len, &in) != 0) return -1;
  if (normalize(nfkc, &in, &norm) == 0) {
    n = to_u8(&norm, out, cap);
    free(norm.s);
  }
  free(in.s);
  return n;
}

int chat_ident_nfc(const char *s, size_t len, char *out, size_t cap) {
  UErrorCode e = U_ZERO_ERROR;
  const UNormalizer2 *nfc = unorm2_getNFCInstance(&e);
  u16_t in, norm;
  int n = -1;

  if (cap > 0) out[0] = '\0';
  if (U_FAILURE(e) || to_u16(s, len, &in) != 0) return -1;
  if (normalize(nfc, &in, &norm) == 0) {
    n = to_u8(&norm, out, cap);
    free(norm.s);
  }
  free(in.s);
  return n;
}

int chat_ident_key(const char *s, size_t len, char *out, size_t cap) {
  UErrorCode e = U_ZERO_ERROR;
  const UNormalizer2 *fold = unorm2_getNFKCCasefoldInstance(&e);
  u16_t in, folded, skel;
  int n = -1;

  if (cap > 0) out[0] = '\0';
  if (U_FAILURE(e) || to_u16(s, len, &in) != 0) return -1;
  if (normalize(fold, &in, &folded) == 0) {
    if (skeleton(&folded, &skel) == 0) {
      n = to_u8(&skel, out, cap);
      free(skel.s);
    }
    free(folded.s);
  }
  free(in.s);
  return n;
}

int chat_ident_invisible(uint32_t c) {
  if (c > 0x10FFFF) return 1;
  UChar32 u = (UChar32)c;
  /* The Hangul fillers are default-ignorable in the Unicode data; named
   * here too because they are the classic blank letters of spoofed names. */
  if (c == 0x115F || c == 0x1160 || c == 0x3164 || c == 0xFFA0) return 1;
  if (u_hasBinaryProperty(u, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) return 1;
  switch (u_charType(u)) {
    case U_FORMAT_CHAR:
    case U_CONTROL_CHAR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_UNASSIGNED:
      return 1;
    default:
      return 0;
  }
}

int chat_ident_display_forbidden(uint32_t c) {
  if (c > 0x10FFFF) return 1;
  if (c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
      (c >= 0x2066 && c <= 0x2069))
    return 1;
  switch (u_charType((UChar32)c)) {
    case U_CONTROL_CHAR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_UNASSIGNED:
      return 1;
    default:
      return 0;
  }
}

int chat_ident_alnum(uint32_t c) {
  if (c > 0x10FFFF) return 0;
  UChar32 u = (UChar32)c;
  return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) || u_charType(u) == U_DECIMAL_DIGIT_NUMBER;
}

int chat_ident_wide(uint32_t c) {
  if (c > 0x10FFFF) return 0;
  int w = u_getIntPropertyValue((UChar32)c, UCHAR_EAST_ASIAN_WIDTH);
  return w == U_EA_WIDE || w == U_EA_FULLWIDTH;
}
