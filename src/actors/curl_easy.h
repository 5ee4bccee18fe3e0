/* libcurl for the worker threads that mail notifications (notifier.c) and
 * post webhooks (webhook.c): the global setup, once, and an easy handle
 * with the options both need. */
#ifndef CHAT_ACTORS_CURL_EASY_H
#define CHAT_ACTORS_CURL_EASY_H

#include <curl/curl.h>

/* curl_global_init, once for the process (any thread); 0, or -1 if it
 * failed (then every later call fails too). */
int chat_curl_global(void);

/* A new easy handle for url, limited to protocols (libcurl's names, e.g.
 * "smtp,smtps"; proto_mask is the same as CURLPROTO_* bits, for libcurl
 * before 7.85), its errors written to errbuf (CURL_ERROR_SIZE bytes), with
 * the two timeouts, and no signals (a worker thread must not get SIGALRM
 * for DNS timeouts).  errbuf is emptied first.  NULL if libcurl could not
 * make one.  The caller sets
 * the rest and cleans it up. */
CURL *chat_curl_easy(const char *url, const char *protocols, long proto_mask, char *errbuf,
                     long connect_timeout_ms, long timeout_ms);

#endif
