#include "curl_easy.h"

#include <uv.h>

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int chat_curl_global(void) {
  uv_once(&global_once, global_init);
  return global_rc == CURLE_OK ? 0 : -1;
}

CURL *chat_curl_easy(const char *url, const char *protocols, long proto_mask, char *errbuf,
                     long connect_timeout_ms, long timeout_ms) {
  errbuf[0] = '\0';
  CURL *c = curl_easy_init();
  if (c == NULL) return NULL;
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
  (void)proto_mask;
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protocols);
#else
  (void)protocols;
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, proto_mask);
#endif
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  return c;
}
