/* Response framing (net/http.h): chat_http_response and the reason
 * phrases; every response parses back with llhttp as one whole response. */
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rbuf.h"
#include "net/http.h"
#include "t.h"

/* A response buffer as a NUL-terminated string (bodies used here hold no
 * NUL). */
static char *rbuf_str(const chat_rbuf_t *b) {
  char *s = chat_xmalloc(b->len + 1);
  memcpy(s, b->data, b->len);
  s[b->len] = '\0';
  return s;
}

/* What llhttp, as a client, reads from a response. */
typedef struct {
  int complete;
  int status;
  size_t body_len;
} parsed_resp_t;

static int resp_body_cb(llhttp_t *p, const char *at, size_t len) {
  (void)at;
  ((parsed_resp_t *)p->data)->body_len += len;
  return 0;
}

static int resp_complete_cb(llhttp_t *p) {
  parsed_resp_t *pr = p->data;
  pr->complete++;
  pr->status = llhttp_get_status_code(p);
  return 0;
}

/* Parses a whole response; returns llhttp's error code. */
static int parse_response(const chat_rbuf_t *b, parsed_resp_t *pr) {
  llhttp_t p;
  llhttp_settings_t st;
  memset(pr, 0, sizeof(*pr));
  llhttp_settings_init(&st);
  st.on_body = resp_body_cb;
  st.on_message_complete = resp_complete_cb;
  llhttp_init(&p, HTTP_RESPONSE, &st);
  p.data = pr;
  return (int)llhttp_execute(&p, (const char *)b->data, b->len);
}

static void test_response(void) {
  const char *body = "{\"ok\":true}";
  chat_rbuf_t *b = chat_http_response(200, "application/json",
                                      "X-A: 1\r\nSet-Cookie: sid=x; HttpOnly\r\n",
                                      body, strlen(body), 1, 0);
  char *s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 11\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nConnection: keep-alive\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nContent-Type: application/json\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nX-A: 1\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nSet-Cookie: sid=x; HttpOnly\r\n") != NULL);
  char *end = strstr(s, "\r\n\r\n");
  T_CHECK(end != NULL);
  if (end) T_EQ_STR(end + 4, body);
  T_EQ_INT(b->len, strlen(s));
  parsed_resp_t pr;
  T_EQ_INT(parse_response(b, &pr), HPE_OK);
  T_EQ_INT(pr.complete, 1);
  T_EQ_INT(pr.status, 200);
  T_EQ_INT(pr.body_len, strlen(body));
  free(s);
  chat_rbuf_unref(b);

  /* A long content type is written whole (no fixed-size head). */
  {
    char type[700];
    memset(type, 'x', sizeof(type) - 1);
    memcpy(type, "application/", 12);
    type[sizeof(type) - 1] = '\0';
    b = chat_http_response(200, type, "X-B: 2\r\n", "ab", 2, 1, 0);
    s = rbuf_str(b);
    T_CHECK(strstr(s, type) != NULL);
    T_CHECK(strstr(s, "\r\nX-B: 2\r\n\r\nab") != NULL);
    T_EQ_INT(parse_response(b, &pr), HPE_OK);
    T_EQ_INT(pr.complete, 1);
    T_EQ_INT(pr.body_len, 2);
    free(s);
    chat_rbuf_unref(b);
  }

  /* The response parses back with llhttp as one whole response. */
  b = chat_http_response(404, "text/plain", NULL, "nope", 4, 0, 0);
  s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
  T_CHECK(strstr(s, "\r\nConnection: close\r\n") != NULL);
  T_CHECK(strstr(s, "\r\nContent-Length: 4\r\n") != NULL);
  end = strstr(s, "\r\n\r\n");
  if (end) T_EQ_STR(end + 4, "nope");
  T_EQ_INT(parse_response(b, &pr), HPE_OK);
  T_EQ_INT(pr.complete, 1);
  T_EQ_INT(pr.status, 404);
  T_EQ_INT(pr.body_len, 4);
  free(s);
  chat_rbuf_unref(b);

  /* No content type, no extra headers, empty body. */
  b = chat_http_response(201, NULL, NULL, NULL, 0, 1, 0);
  s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 201 Created\r\n", 22) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 0\r\n") != NULL);
  T_CHECK(strstr(s, "Content-Type") == NULL);
  T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
  free(s);
  chat_rbuf_unref(b);
}

static void test_response_head(void) {
  const char *body = "hello world";
  chat_rbuf_t *b = chat_http_response(200, "text/plain", NULL, body,
                                      strlen(body), 1, 1);
  char *s = rbuf_str(b);
  T_CHECK(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0);
  T_CHECK(strstr(s, "\r\nContent-Length: 11\r\n") != NULL);
  T_CHECK(strstr(s, "hello") == NULL);
  T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
  free(s);
  chat_rbuf_unref(b);
}

static void test_response_no_body_statuses(void) {
  static const int statuses[] = {204, 304};
  for (size_t i = 0; i < CHAT_ARRAY_SIZE(statuses); i++) {
    chat_rbuf_t *b = chat_http_response(statuses[i], NULL, "ETag: \"x\"\r\n",
                                        "zzz", 3, 1, 0);
    char *s = rbuf_str(b);
    char want[64];
    snprintf(want, sizeof(want), "HTTP/1.1 %d %s\r\n", statuses[i],
             chat_http_reason(statuses[i]));
    T_CHECK(strncmp(s, want, strlen(want)) == 0);
    T_CHECK(strstr(s, "Content-Length") == NULL);
    T_CHECK(strstr(s, "zzz") == NULL);
    T_CHECK(strstr(s, "\r\nETag: \"x\"\r\n") != NULL);
    T_CHECK(b->len >= 4 && memcmp(b->data + b->len - 4, "\r\n\r\n", 4) == 0);
    parsed_resp_t pr;
    T_EQ_INT(parse_response(b, &pr), HPE_OK);
    T_EQ_INT(pr.complete, 1);
    T_EQ_INT(pr.status, statuses[i]);
    T_EQ_INT(pr.body_len, 0);
    free(s);
    chat_rbuf_unref(b);
  }
  T_EQ_STR(chat_http_reason(204), "No Content");
  T_EQ_STR(chat_http_reason(304), "Not Modified");
  T_EQ_STR(chat_http_reason(413), "Content Too Large");
  T_EQ_STR(chat_http_reason(431), "Request Header Fields Too Large");
  T_EQ_STR(chat_http_reason(100), "Continue");
  T_EQ_STR(chat_http_reason(417), "Expectation Failed");
}

int main(void) {
  T_RUN(test_response);
  T_RUN(test_response_head);
  T_RUN(test_response_no_body_statuses);
  return T_DONE();
}
