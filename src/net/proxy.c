/* Trusted proxies (proxy.h). */
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/common.h"

/* Parses an address (no brackets, no port) of len bytes. */
static int addr_parse(const char *s, size_t len, uint8_t out[16], int *v6) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (len == 0 || len >= sizeof(buf)) return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  memset(out, 0, 16);
  if (inet_pton(AF_INET, buf, out) == 1) {
    *v6 = 0;
    return 0;
  }
  if (inet_pton(AF_INET6, buf, out) != 1) return -1;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(out, mapped, 12) == 0) {
    memmove(out, out + 12, 4);
    memset(out + 4, 0, 12);
    *v6 = 0;
  } else {
    *v6 = 1;
  }
  return 0;
}

static int cidr_has(const chat_cidr_t *n, const uint8_t a[16], int v6) {
  if (n->v6 != v6) return 0;
  int bits = n->bits;
  for (int i = 0; bits > 0; i++, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
    if ((a[i] & mask) != n->addr[i]) return 0;
  }
  return 1;
}

static const char *trim(const char *s, size_t *len) {
  while (*len && (*s == ' ' || *s == '\t')) s++, (*len)--;
  while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t')) (*len)--;
  return s;
}

int chat_proxies_parse(const char *spec, chat_proxies_t *out, char *err, size_t errlen) {
  out->nets = NULL;
  out->n = 0;
  if (spec == NULL) return 0;
  size_t cap = 0;
  const char *p = spec;
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *e = trim(p, &len);
    if (len > 0) {
      chat_cidr_t n;
      const char *slash = memchr(e, '/', len);
      size_t alen = slash ? (size_t)(slash - e) : len;
      int ok = addr_parse(e, alen, n.addr, &n.v6) == 0;
      int written_v6 = memchr(e, ':', alen) != NULL;
      int max = written_v6 ? 128 : 32;
      n.bits = max;
      if (ok && slash) {
        char *end;
        char num[8];
        size_t nlen = len - alen - 1;
        ok = nlen > 0 && nlen < sizeof(num);
        if (ok) {
          memcpy(num, slash + 1, nlen);
          num[nlen] = '\0';
          long b = strtol(num, &end, 10);
          ok = *end == '\0' && num[0] >= '0' && num[0] <= '9' && b >= 0 && b <= max;
          n.bits = (int)b;
        }
      }
      /* An IPv4-mapped network ("::ffff:10.0.0.0/104") is its IPv4 part. */
      if (ok && written_v6 && !n.v6) n.bits -= 96;
      if (!ok || n.bits < 0) {
        snprintf(err, errlen, "bad trusted proxy \"%.*s\" (want ADDR or ADDR/BITS)", (int)len,
                 e);
        chat_proxies_free(out);
        return CHAT_EINVAL;
      }
      for (int i = 0, bits = n.bits; i < 16; i++, bits -= 8)
        n.addr[i] &= bits >= 8 ? 0xff : bits > 0 ? (uint8_t)(0xff << (8 - bits)) : 0;
      if (out->n == cap) {
        cap = cap ? cap * 2 : 4;
        out->nets = chat_xrealloc(out->nets, cap * sizeof(*out->nets));
      }
      out->nets[out->n++] = n;
    }
    if (comma == NULL) break;
    p = comma + 1;
  }
  return 0;
}

void chat_proxies_free(chat_proxies_t *p) {
  free(p->nets);
  p->nets = NULL;
  p->n = 0;
}

int chat_proxies_trusts(const chat_proxies_t *p, const char *addr, size_t len) {
  uint8_t a[16];
  int v6;
  if (p == NULL || p->n == 0 || addr_parse(addr, len, a, &v6) != 0) return 0;
  for (size_t i = 0; i < p->n; i++)
    if (cidr_has(&p->nets[i], a, v6)) return 1;
  return 0;
}

/* An X-Forwarded-For entry without brackets or port: "[::1]:80" -> "::1",
 * "192.0.2.1:80" -> "192.0.2.1". */
static const char *entry_addr(const char *s, size_t *len) {
  if (*len && s[0] == '[') {
    const char *close = memchr(s, ']', *len);
    if (close == NULL) return s;
    *len = (size_t)(close - s - 1);
    return s + 1;
  }
  const char *colon = memchr(s, ':', *len);
  if (colon && memchr(colon + 1, ':', *len - (size_t)(colon - s) - 1) == NULL)
    *len = (size_t)(colon - s);
  return s;
}

static int header_is(const chat_http_req_t *r, int i, const char *name) {
  const chat_http_header_t *h = &r->headers[i];
  return h->name_len == strlen(name) && strncasecmp(r->head + h->name_off, name, h->name_len) == 0;
}

static void set_client(char *client, size_t clen, const char *s, size_t len) {
  if (clen == 0) return;
  if (len >= clen) len = clen - 1;
  memcpy(client, s, len);
  client[len] = '\0';
}

int chat_proxies_client(const chat_proxies_t *p, const char *peer, const chat_http_req_t *r,
                        char *client, size_t clen, int *https) {
  *https = 0;
  set_client(client, clen, peer, strlen(peer));
  if (!chat_proxies_trusts(p, peer, strlen(peer))) return 0;

  /* Right to left over every X-Forwarded-For entry, the last header first. */
  const char *good = NULL;   /* the leftmost trusted address so far */
  size_t good_len = 0;
  int done = 0;
  for (int i = r->nheaders - 1; i >= 0 && !done; i--) {
    if (!header_is(r, i, "x-forwarded-for")) continue;
    const char *v = r->head + r->headers[i].val_off;
    size_t end = r->headers[i].val_len;
    for (;;) {
      size_t start = end;
      while (start > 0 && v[start - 1] != ',') start--;
      size_t len = end - start;
      const char *e = trim(v + start, &len);
      if (len > 0) {
        e = entry_addr(e, &len);
        uint8_t a[16];
        int v6;
        if (addr_parse(e, len, a, &v6) != 0) {
          done = 1;
          break;
        }
        good = e;
        good_len = len;
        if (!chat_proxies_trusts(p, e, len)) {
          done = 1;
          break;
        }
      }
      if (start == 0) break;
      end = start - 1;
    }
  }
  if (good) set_client(client, clen, good, good_len);

  for (int i = r->nheaders - 1; i >= 0; i--) {
    if (!header_is(r, i, "x-forwarded-proto")) continue;
    const char *v = r->head + r->headers[i].val_off;
    size_t len = r->headers[i].val_len;
    const char *comma = NULL;
    for (size_t k = 0; k < len; k++)
      if (v[k] == ',') comma = v + k;
    if (comma) {
      len -= (size_t)(comma + 1 - v);
      v = comma + 1;
    }
    v = trim(v, &len);
    *https = len == 5 && strncasecmp(v, "https", 5) == 0;
    break;
  }
  return 1;
}
