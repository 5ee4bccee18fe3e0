#include "webhook.h"

#include <assert.h>
#include <cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/common.h"
#include "../core/imap.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/utf8.h"
#include "mailq_redis.h"
#include "workers.h"

#define DEFAULT_INTERVAL_MS (60 * 1000)
#define DEFAULT_GATHER_MS (10 * 1000)
#define DEFAULT_MAX_ITEMS 20
#define DEFAULT_MAX_QUEUE 10000
#define DEFAULT_MAX_SENDING 2
#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_BACKOFF_MS 1000
#define MAX_BACKOFF_MS (60 * 1000)
#define DEFAULT_CONNECT_TIMEOUT_MS (5 * 1000)
#define DEFAULT_TIMEOUT_MS (10 * 1000)
#define DEFAULT_POLL_MS 1000
#define LEASE_MARGIN_MS (30 * 1000)
#define PREVIEW_CHARS 200
#define NAME_CHARS 64
#define NOT_IN_HEAP SIZE_MAX

/* ---- data ------------------------------------------------------------- */

typedef struct item_s {
  struct item_s *next;
  int event;          /* CHAT_WEBHOOK_* */
  int64_t ts_ms;
  char *from;
  char *room;         /* NULL: none */
  char *text;
} item_t;

typedef struct {
  item_t *head, *tail;
  size_t n;
  uint64_t more;      /* counted, not listed */
} item_list_t;

typedef struct job_s job_t;

typedef struct {
  int64_t id;
  char *username;
  char *phone;        /* "" for none */
  item_list_t pending;
  uint64_t first_ms, last_ms;
  int posted;         /* last_ms is set */
  job_t *job;
  size_t heap_idx;
  uint64_t due_ms;
} user_t;

/* One POST and its attempts.  The worker reads url .. timeout_ms and writes
 * rc .. errbuf; the rest belongs to the loop thread. */
struct job_s {
  chat_work_t work;
  char *url;
  char *body;
  size_t len;
  struct curl_slist *headers;
  long connect_timeout_ms, timeout_ms;
  CURLcode rc;
  long status;
  char errbuf[CURL_ERROR_SIZE];
  /* loop thread */
  chat_webhook_t *w;
  user_t *user;       /* batched here: the user; NULL for a shared batch */
  int64_t claim;
  int64_t uid;
  uint64_t nitems;    /* listed and counted */
  int attempts;
  uv_timer_t retry;   /* the backoff; initialised on the first retry */
  int retry_open;
  int waiting;        /* in backoff (on w->waiting) */
  job_t *wprev, *wnext;
  char delivery[33];
};

typedef enum { HOOK_OPEN, HOOK_CLOSING } hook_state_t;

struct chat_webhook_s {
  uv_loop_t *loop;
  uv_timer_t timer;
  hook_state_t state;
  char *url, *secret, *site_name;
  int events;
  uint64_t interval_ms, gather_ms, backoff_ms;
  size_t max_items, max_queue, max_sending;
  int max_attempts;
  long connect_timeout_ms, timeout_ms;
  chat_imap_t users;
  user_t **heap;
  size_t heap_len, heap_cap;
  size_t queued;        /* listed items waiting here */
  size_t sending;       /* jobs on the workers */
  chat_workers_t *workers; /* max_sending threads of its own (workers.h) */
  int workers_closing;
  job_t *waiting;       /* jobs in backoff */
  size_t nwaiting;
  size_t nclosing;      /* jobs whose retry timer is closing */
  chat_webhook_stats_t stats;
  int timer_closed;
  void (*done)(void *ud);
  void *done_ud;
  /* shared batching */
  chat_mailq_t *mailq;
  uv_timer_t poll;
  int poll_open;
  uint64_t poll_ms, poll_at;
  int claiming, mailq_closing, fallback_logged, backlog, shared_seen;
  uint64_t rng;
};

static uv_once_t curl_once = UV_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rnd(chat_webhook_t *w) {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return w->rng;
}

static uint64_t jitter(chat_webhook_t *w, uint64_t max) { return max ? rnd(w) % (max + 1) : 0; }

static int has_control(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0;
  if (!chat_utf8_valid(s, len)) return 1;
  while (i < len) {
    uint32_t c;
    i += chat_utf8_next(u + i, len - i, &c);
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) return 1;
  }
  return 0;
}

/* A copy of s (valid UTF-8) cut to max_chars characters plus "…"; control
 * characters become spaces.  Chinese and every other script are kept. */
static char *cut(const char *s, size_t max_chars) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0, chars = 0;
  chat_sb_t sb;
  chat_sb_init(&sb);
  while (i < len) {
    uint32_t c;
    size_t k = chat_utf8_next(u + i, len - i, &c);
    if (chars == max_chars) {
      chat_sb_puts(&sb, "\xE2\x80\xA6");
      break;
    }
    if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
      chat_sb_append(&sb, " ", 1);
    else
      chat_sb_append(&sb, s + i, k);
    chars++;
    i += k;
  }
  return sb.buf;
}

static const char *event_name(int e) {
  return e == CHAT_WEBHOOK_DM ? "dm" : e == CHAT_WEBHOOK_MENTION ? "mention" : "join";
}

static int event_of(const char *s) {
  if (strcmp(s, "dm") == 0) return CHAT_WEBHOOK_DM;
  if (strcmp(s, "mention") == 0) return CHAT_WEBHOOK_MENTION;
  if (strcmp(s, "join") == 0) return CHAT_WEBHOOK_JOIN;
  return 0;
}

int chat_webhook_events_parse(const char *s) {
  if (s == NULL || *s == '\0') return CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION;
  if (strcmp(s, "all") == 0) return CHAT_WEBHOOK_DM | CHAT_WEBHOOK_MENTION | CHAT_WEBHOOK_JOIN;
  int mask = 0;
  const char *p = s;
  while (*p) {
    char word[16];
    size_t k = strcspn(p, ",");
    if (k == 0 || k >= sizeof(word)) return -1;
    memcpy(word, p, k);
    word[k] = '\0';
    int e = event_of(word);
    if (e == 0) return -1;
    mask |= e;
    p += k;
    if (*p == ',') p++;
  }
  return mask;
}

int chat_webhook_phone_valid(const char *s) {
  if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9') return 0;
  size_t n = 0;
  for (const char *p = s + 1; *p; p++, n++)
    if (*p < '0' || *p > '9') return 0;
  return n >= 8 && n <= 15;
}

/* ---- items and users --------------------------------------------------- */

static void item_free(item_t *it) {
  free(it->from);
  free(it->room);
  free(it->text);
  free(it);
}

static uint64_t list_total(const item_list_t *l) { return l->n + l->more; }

static void list_append(item_list_t *l, item_t *it) {
  it->next = NULL;
  if (l->tail)
    l->tail->next = it;
  else
    l->head = it;
  l->tail = it;
  l->n++;
}

static uint64_t list_clear(item_list_t *l) {
  uint64_t total = list_total(l);
  item_t *it = l->head;
  while (it) {
    item_t *next = it->next;
    item_free(it);
    it = next;
  }
  memset(l, 0, sizeof(*l));
  return total;
}

static void heap_set(chat_webhook_t *w, size_t i, user_t *u) {
  w->heap[i] = u;
  u->heap_idx = i;
}

static void heap_up(chat_webhook_t *w, size_t i) {
  user_t *u = w->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (w->heap[p]->due_ms <= u->due_ms) break;
    heap_set(w, i, w->heap[p]);
    i = p;
  }
  heap_set(w, i, u);
}

static void heap_down(chat_webhook_t *w, size_t i) {
  user_t *u = w->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= w->heap_len) break;
    if (c + 1 < w->heap_len && w->heap[c + 1]->due_ms < w->heap[c]->due_ms) c++;
    if (u->due_ms <= w->heap[c]->due_ms) break;
    heap_set(w, i, w->heap[c]);
    i = c;
  }
  heap_set(w, i, u);
}

static void heap_put(chat_webhook_t *w, user_t *u) {
  if (u->heap_idx == NOT_IN_HEAP) {
    if (w->heap_len == w->heap_cap) {
      w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 16;
      w->heap = chat_xrealloc(w->heap, w->heap_cap * sizeof(*w->heap));
    }
    heap_set(w, w->heap_len++, u);
  }
  heap_up(w, u->heap_idx);
  heap_down(w, u->heap_idx);
}

static void heap_remove(chat_webhook_t *w, user_t *u) {
  size_t i = u->heap_idx;
  if (i == NOT_IN_HEAP) return;
  u->heap_idx = NOT_IN_HEAP;
  user_t *last = w->heap[--w->heap_len];
  if (i == w->heap_len) return;
  heap_set(w, i, last);
  heap_up(w, i);
  heap_down(w, last->heap_idx);
}

static void user_release(user_t *u) {
  list_clear(&u->pending);
  free(u->username);
  free(u->phone);
  free(u);
}

static void user_free(chat_webhook_t *w, user_t *u) {
  assert(u->job == NULL);
  heap_remove(w, u);
  chat_imap_del(&w->users, u->id);
  w->queued -= u->pending.n;
  user_release(u);
}

/* As notifier.c: in the heap at its due time while it has items or its
 * interval runs, else freed. */
static void user_settle(chat_webhook_t *w, user_t *u) {
  uint64_t now = uv_now(w->loop);
  if (u->job != NULL) return;
  if (list_total(&u->pending) > 0) {
    uint64_t due = u->first_ms + w->gather_ms;
    if (u->posted && u->last_ms + w->interval_ms > due) due = u->last_ms + w->interval_ms;
    u->due_ms = due;
  } else if (u->posted && u->last_ms + w->interval_ms > now) {
    u->due_ms = u->last_ms + w->interval_ms;
  } else {
    user_free(w, u);
    return;
  }
  heap_put(w, u);
}

static void replace_str(char **dst, const char *src) {
  if (*dst != NULL && strcmp(*dst, src) == 0) return;
  free(*dst);
  *dst = chat_xstrdup(src);
}

/* ---- the payload ------------------------------------------------------ */

/* The body (README.md, "Notifications"):
 * {"delivery":ID,"site":S,"ts":MS,"user":{"id","username","phone"?},
 *  "items":[{"event","from","room","text","ts"}...],"more":N} */
static char *build_body(chat_webhook_t *w, job_t *job, int64_t uid, const char *username,
                        const char *phone, const item_list_t *items) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "delivery", job->delivery);
  cJSON_AddStringToObject(o, "site", w->site_name);
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  cJSON_AddNumberToObject(o, "ts", (double)(tv.tv_sec * 1000 + tv.tv_usec / 1000));
  cJSON *u = cJSON_AddObjectToObject(o, "user");
  cJSON_AddNumberToObject(u, "id", (double)uid);
  cJSON_AddStringToObject(u, "username", username);
  if (phone && *phone) cJSON_AddStringToObject(u, "phone", phone);
  cJSON *arr = cJSON_AddArrayToObject(o, "items");
  for (const item_t *it = items->head; it; it = it->next) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "event", event_name(it->event));
    cJSON_AddStringToObject(x, "from", it->from);
    if (it->room)
      cJSON_AddStringToObject(x, "room", it->room);
    else
      cJSON_AddNullToObject(x, "room");
    cJSON_AddStringToObject(x, "text", it->text);
    cJSON_AddNumberToObject(x, "ts", (double)it->ts_ms);
    cJSON_AddItemToArray(arr, x);
  }
  cJSON_AddNumberToObject(o, "more", (double)items->more);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (s == NULL) abort();  /* out of memory in cJSON */
  return s;
}

/* The headers of one attempt: a fresh timestamp, signed with the body. */
static void sign(chat_webhook_t *w, job_t *job) {
  char ts[24], hdr[192], hex[2 * EVP_MAX_MD_SIZE + 1];
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  snprintf(ts, sizeof(ts), "%lld", (long long)tv.tv_sec);

  chat_sb_t m;
  chat_sb_init(&m);
  chat_sb_puts(&m, ts);
  chat_sb_append(&m, ".", 1);
  chat_sb_append(&m, job->body, job->len);
  if (HMAC(EVP_sha256(), w->secret, (int)strlen(w->secret), (const unsigned char *)m.buf, m.len,
           mac, &maclen) == NULL)
    maclen = 0;  /* a broken signature: the receiver refuses it (logged) */
  chat_sb_free(&m);
  for (unsigned i = 0; i < maclen; i++) snprintf(hex + 2 * i, 3, "%02x", mac[i]);
  hex[2 * maclen] = '\0';

  curl_slist_free_all(job->headers);
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
  h = curl_slist_append(h, "User-Agent: chatd-webhook/1");
  h = curl_slist_append(h, "Expect:");
  snprintf(hdr, sizeof(hdr), "X-Chat-Timestamp: %s", ts);
  h = curl_slist_append(h, hdr);
  snprintf(hdr, sizeof(hdr), "X-Chat-Signature: sha256=%s", hex);
  h = curl_slist_append(h, hdr);
  snprintf(hdr, sizeof(hdr), "X-Chat-Delivery: %s", job->delivery);
  h = curl_slist_append(h, hdr);
  if (h == NULL) abort();  /* out of memory */
  job->headers = h;
}

/* ---- sending (worker thread) ------------------------------------------ */

static size_t discard_cb(char *buf, size_t size, size_t nmemb, void *ud) {
  (void)buf;
  (void)ud;
  return size * nmemb;
}

/* Runs on a worker thread and touches only job. */
static void post_work_cb(chat_work_t *wk) {
  job_t *job = container_of(wk, job_t, work);
  CURL *c = curl_easy_init();
  job->status = 0;
  job->errbuf[0] = '\0';
  if (c == NULL) {
    job->rc = CURLE_FAILED_INIT;
    return;
  }
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, job->errbuf);
  curl_easy_setopt(c, CURLOPT_URL, job->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, job->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, job->headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, job->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, job->timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  job->rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &job->status);
  curl_easy_cleanup(c);
}

/* ---- the loop side ---------------------------------------------------- */

static void process(chat_webhook_t *w);
static void post_after_cb(chat_work_t *wk);
static void poll_arm(chat_webhook_t *w, uint64_t delay);
static void mailq_closed_cb(void *ud);
static void workers_closed_cb(void *ud);

static void maybe_finish(chat_webhook_t *w) {
  if (w->state != HOOK_CLOSING || !w->timer_closed || w->poll_open || w->sending > 0 ||
      w->nwaiting > 0 || w->nclosing > 0)
    return;
  if (w->mailq) {
    if (!w->mailq_closing) {
      w->mailq_closing = 1;
      chat_mailq_close(w->mailq, mailq_closed_cb, w);
    }
    return;
  }
  if (w->workers) {
    if (!w->workers_closing) {
      w->workers_closing = 1;
      chat_workers_close(w->workers, workers_closed_cb, w);
    }
    return;
  }
  void (*done)(void *) = w->done;
  void *ud = w->done_ud;
  free(w->heap);
  free(w->url);
  free(w->secret);
  free(w->site_name);
  free(w);
  if (done) done(ud);
}

static void mailq_closed_cb(void *ud) {
  chat_webhook_t *w = ud;
  w->mailq = NULL;
  maybe_finish(w);
}

static void workers_closed_cb(void *ud) {
  chat_webhook_t *w = ud;
  w->workers = NULL;
  maybe_finish(w);
}

static void timer_cb(uv_timer_t *t) { process(container_of(t, chat_webhook_t, timer)); }

static void timer_close_cb(uv_handle_t *h) {
  chat_webhook_t *w = container_of((uv_timer_t *)h, chat_webhook_t, timer);
  w->timer_closed = 1;
  maybe_finish(w);
}

static void poll_close_cb(uv_handle_t *h) {
  chat_webhook_t *w = container_of((uv_timer_t *)h, chat_webhook_t, poll);
  w->poll_open = 0;
  maybe_finish(w);
}

static void arm(chat_webhook_t *w) {
  if (w->state != HOOK_OPEN) return;
  if (w->heap_len == 0) {
    uv_timer_stop(&w->timer);
    return;
  }
  user_t *u = w->heap[0];
  uint64_t now = uv_now(w->loop), timeout = 0;
  if (u->due_ms > now)
    timeout = u->due_ms - now;
  else if (list_total(&u->pending) > 0 && w->sending >= w->max_sending) {
    uv_timer_stop(&w->timer);
    return;
  }
  uv_timer_start(&w->timer, timer_cb, timeout, 0);
}

static void attempt(chat_webhook_t *w, job_t *job) {
  job->attempts++;
  if (job->attempts > 1) w->stats.retried++;
  sign(w, job);
  w->sending++;
  chat_workers_queue(w->workers, &job->work, post_work_cb, post_after_cb);
}

/* A new job for a batch; items are only read. */
static job_t *job_new(chat_webhook_t *w, int64_t uid, const char *username, const char *phone,
                      const item_list_t *items) {
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->w = w;
  job->uid = uid;
  job->nitems = list_total(items);
  snprintf(job->delivery, sizeof(job->delivery), "%016" PRIx64 "%016" PRIx64, rnd(w), rnd(w));
  job->body = build_body(w, job, uid, username, phone, items);
  job->len = strlen(job->body);
  job->url = chat_xstrdup(w->url);
  job->connect_timeout_ms = w->connect_timeout_ms;
  job->timeout_ms = w->timeout_ms;
  return job;
}

static void job_free(job_t *job) {
  free(job->url);
  free(job->body);
  curl_slist_free_all(job->headers);
  free(job);
}

static void dispatch(chat_webhook_t *w, user_t *u) {
  heap_remove(w, u);
  job_t *job = job_new(w, u->id, u->username, u->phone, &u->pending);
  job->user = u;
  w->queued -= u->pending.n;
  list_clear(&u->pending);
  u->last_ms = uv_now(w->loop);
  u->posted = 1;
  u->job = job;
  attempt(w, job);
}

static void process(chat_webhook_t *w) {
  if (w->state != HOOK_OPEN) return;
  uint64_t now = uv_now(w->loop);
  while (w->heap_len > 0 && w->heap[0]->due_ms <= now) {
    user_t *u = w->heap[0];
    if (list_total(&u->pending) == 0)
      user_free(w, u);
    else if (w->sending < w->max_sending)
      dispatch(w, u);
    else
      break;
  }
  arm(w);
}

static void retry_freed_cb(uv_handle_t *h) {
  job_t *job = container_of((uv_timer_t *)h, job_t, retry);
  chat_webhook_t *w = job->w;
  w->nclosing--;
  job_free(job);
  maybe_finish(w);
}

/* The batch is done (sent 1, or given up 0): reports, frees the job (after
 * its retry timer is closed, if it has one) and schedules the user's next
 * batch.  While closing, a shared batch goes back to Redis (not dropped). */
static void job_end(chat_webhook_t *w, job_t *job, int sent) {
  user_t *u = job->user;
  int back = !sent && u == NULL && w->mailq && w->state != HOOK_OPEN;
  if (!sent && !back) w->stats.dropped += job->nitems;
  if (u == NULL && w->mailq)
    chat_mailq_report(w->mailq, job->uid, job->claim,
                      sent ? CHAT_MAILQ_SENT : back ? CHAT_MAILQ_RETRY : CHAT_MAILQ_DROP);
  if (job->retry_open) {
    w->nclosing++;
    uv_close((uv_handle_t *)&job->retry, retry_freed_cb);
  } else {
    job_free(job);
  }
  if (u) {
    u->job = NULL;
    if (w->state != HOOK_OPEN)
      user_release(u);  /* closing: the map is gone, the user stayed for this job */
    else
      user_settle(w, u);
  }
}

static void waiting_unlink(chat_webhook_t *w, job_t *job) {
  if (job->wprev)
    job->wprev->wnext = job->wnext;
  else
    w->waiting = job->wnext;
  if (job->wnext) job->wnext->wprev = job->wprev;
  job->wprev = job->wnext = NULL;
  job->waiting = 0;
}

static void retry_cb(uv_timer_t *t) {
  job_t *job = container_of(t, job_t, retry);
  chat_webhook_t *w = job->w;
  waiting_unlink(w, job);
  w->nwaiting--;
  attempt(w, job);
}

static void post_after_cb(chat_work_t *wk) {
  job_t *job = container_of(wk, job_t, work);
  chat_webhook_t *w = job->w;
  assert(w->sending > 0);
  w->sending--;
  int ok = job->rc == CURLE_OK && job->status >= 200 && job->status < 300;
  if (ok) {
    w->stats.sent++;
    chat_log_debug("webhook: user %" PRId64 ": %" PRIu64 " items delivered (HTTP %ld)", job->uid,
                   job->nitems, job->status);
    job_end(w, job, 1);
  } else {
    int retryable = job->rc != CURLE_OK || job->status >= 500 || job->status == 408 ||
                    job->status == 429;
    /* Never the body, the URL or the secret. */
    const char *why = job->rc == CURLE_OK ? "refused"
                      : job->errbuf[0]    ? job->errbuf
                                          : curl_easy_strerror(job->rc);
    w->stats.failed++;
    if (retryable && job->attempts < w->max_attempts && w->state == HOOK_OPEN) {
      uint64_t d = w->backoff_ms;
      for (int i = 1; i < job->attempts && d < MAX_BACKOFF_MS; i++) d *= 2;
      if (d > MAX_BACKOFF_MS) d = MAX_BACKOFF_MS;
      d = d / 2 + jitter(w, d / 2);
      chat_log_warn("webhook: user %" PRId64 ": attempt %d failed: %s (HTTP %ld); retry in %" PRIu64
                    " ms",
                    job->uid, job->attempts, why, job->status, d);
      if (!job->retry_open) {
        uv_timer_init(w->loop, &job->retry);
        job->retry_open = 1;
      }
      job->waiting = 1;
      job->wnext = w->waiting;
      if (w->waiting) w->waiting->wprev = job;
      w->waiting = job;
      w->nwaiting++;
      uv_timer_start(&job->retry, retry_cb, d, 0);
    } else {
      chat_log_warn("webhook: user %" PRId64 ": attempt %d failed: %s (HTTP %ld); %" PRIu64
                    " items dropped%s",
                    job->uid, job->attempts, why, job->status, job->nitems,
                    retryable ? " (out of attempts)" : " (not retried)");
      job_end(w, job, 0);
    }
  }
  if (w->state != HOOK_OPEN) {
    maybe_finish(w);
    return;
  }
  process(w);
  if (w->backlog) poll_arm(w, 0);
}

/* ---- shared batching -------------------------------------------------- */

static void poll_cb(uv_timer_t *t);

static void poll_arm(chat_webhook_t *w, uint64_t delay) {
  if (w->mailq == NULL || w->state != HOOK_OPEN) return;
  uint64_t at = uv_now(w->loop) + delay;
  if (uv_is_active((uv_handle_t *)&w->poll) && w->poll_at <= at) return;
  w->poll_at = at;
  uv_timer_start(&w->poll, poll_cb, delay, 0);
}

static void poll_set(chat_webhook_t *w, uint64_t delay) {
  if (w->state != HOOK_OPEN) return;
  w->poll_at = uv_now(w->loop) + delay;
  uv_timer_start(&w->poll, poll_cb, delay, 0);
}

static void fallback_note(chat_webhook_t *w) {
  w->stats.local++;
  if (w->fallback_logged) return;
  w->fallback_logged = 1;
  chat_log_warn("webhook: Redis is unreachable: notifications are batched in this instance "
                "until it is back");
}

static void mailq_state_cb(void *ud, int up) {
  chat_webhook_t *w = ud;
  if (!up || w->state != HOOK_OPEN) return;
  if (w->fallback_logged)
    chat_log_info("webhook: Redis is back: batching is shared again");
  else if (!w->shared_seen)
    chat_log_info("webhook: batching is shared through Redis");
  w->shared_seen = 1;
  w->fallback_logged = 0;
  poll_arm(w, jitter(w, w->poll_ms / 4));
}

static char *item_payload(const item_t *it) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "e", event_name(it->event));
  cJSON_AddStringToObject(o, "f", it->from);
  if (it->room) cJSON_AddStringToObject(o, "r", it->room);
  cJSON_AddNumberToObject(o, "t", (double)it->ts_ms);
  cJSON_AddStringToObject(o, "x", it->text);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (s == NULL) abort();  /* out of memory in cJSON */
  return s;
}

static const char *json_str(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) && chat_utf8_valid(v->valuestring, strlen(v->valuestring))
             ? v->valuestring
             : NULL;
}

static item_t *item_decode(const char *payload, size_t len) {
  cJSON *o = chat_json_parse(payload, len);
  const char *e = json_str(o, "e"), *f = json_str(o, "f"), *r = json_str(o, "r"),
             *x = json_str(o, "x");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
  item_t *it = NULL;
  if (e && f && x && cJSON_IsNumber(t) && event_of(e)) {
    it = chat_xcalloc(1, sizeof(*it));
    it->event = event_of(e);
    it->ts_ms = (int64_t)t->valuedouble;
    it->from = cut(f, NAME_CHARS);
    it->room = r ? cut(r, NAME_CHARS) : NULL;
    it->text = cut(x, PREVIEW_CHARS);
  }
  cJSON_Delete(o);
  return it;
}

static void shared_dispatch(chat_webhook_t *w, const chat_mailq_mail_t *m) {
  item_list_t items = {0};
  for (size_t i = 0; i < m->n; i++) {
    item_t *it = item_decode(m->items[i], m->lens[i]);
    if (it == NULL) {
      w->stats.dropped++;
      continue;
    }
    list_append(&items, it);
  }
  items.more = m->more + m->more_tried;
  const char *phone = chat_webhook_phone_valid(m->email) ? m->email : "";
  if (list_total(&items) == 0 || !chat_utf8_valid(m->username, strlen(m->username))) {
    chat_mailq_report(w->mailq, m->user_id, m->claim, CHAT_MAILQ_SENT);  /* nothing to say */
    list_clear(&items);
    return;
  }
  job_t *job = job_new(w, m->user_id, m->username, phone, &items);
  list_clear(&items);
  job->claim = m->claim;
  attempt(w, job);
}

static void claimed_cb(void *ud, int ok, const chat_mailq_mail_t *mails, size_t nm,
                       int64_t next_in) {
  chat_webhook_t *w = ud;
  w->claiming = 0;
  for (size_t i = 0; i < nm; i++) {
    if (w->state == HOOK_OPEN)
      shared_dispatch(w, &mails[i]);
    else
      chat_mailq_report(w->mailq, mails[i].user_id, mails[i].claim, CHAT_MAILQ_RETRY);
  }
  if (w->state != HOOK_OPEN) return;
  w->backlog = ok && next_in == 0;
  if (w->backlog && w->sending >= w->max_sending) {
    uv_timer_stop(&w->poll);
    return;
  }
  if (ok && next_in >= 0 && (uint64_t)next_in < w->poll_ms)
    poll_set(w, (uint64_t)next_in + jitter(w, 20));
  else
    poll_set(w, w->poll_ms + jitter(w, w->poll_ms / 4));
}

static void poll_cb(uv_timer_t *t) {
  chat_webhook_t *w = container_of(t, chat_webhook_t, poll);
  if (w->state != HOOK_OPEN || w->claiming) return;
  if (w->sending >= w->max_sending) {
    w->backlog = 1;
    return;
  }
  if (chat_mailq_claim(w->mailq, (unsigned)(w->max_sending - w->sending), claimed_cb, w) == 0) {
    w->claiming = 1;
    return;
  }
  poll_set(w, w->poll_ms + jitter(w, w->poll_ms / 4));
}

/* ---- API -------------------------------------------------------------- */

void chat_webhook_config_init(chat_webhook_config_t *cfg) { memset(cfg, 0, sizeof(*cfg)); }

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen > 0) snprintf(err, errlen, "%s", msg);
}

chat_webhook_t *chat_webhook_new(uv_loop_t *loop, const chat_webhook_config_t *cfg, char *err,
                                 size_t errlen) {
  const char *site = cfg->site_name && cfg->site_name[0] ? cfg->site_name : "chatd";
  int events = chat_webhook_events_parse(cfg->events);
  if (cfg->url == NULL || has_control(cfg->url) ||
      (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
    set_err(err, errlen, "webhook: the URL must be http://... or https://...");
    return NULL;
  }
  if (cfg->secret == NULL || cfg->secret[0] == '\0') {
    set_err(err, errlen, "webhook: a secret is required (--webhook-secret)");
    return NULL;
  }
  if (events < 0) {
    set_err(err, errlen, "webhook: events must be a list of dm, mention, join (or all)");
    return NULL;
  }
  if (has_control(site)) {
    set_err(err, errlen, "webhook: site_name must be UTF-8 without control characters");
    return NULL;
  }
  uv_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK) {
    set_err(err, errlen, "webhook: curl_global_init failed");
    return NULL;
  }
  chat_webhook_t *w = chat_xcalloc(1, sizeof(*w));
  w->loop = loop;
  w->state = HOOK_OPEN;
  w->url = chat_xstrdup(cfg->url);
  w->secret = chat_xstrdup(cfg->secret);
  w->site_name = chat_xstrdup(site);
  w->events = events;
  w->interval_ms = cfg->interval_ms ? cfg->interval_ms : DEFAULT_INTERVAL_MS;
  w->gather_ms = cfg->gather_ms ? cfg->gather_ms : DEFAULT_GATHER_MS;
  w->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : DEFAULT_BACKOFF_MS;
  w->max_items = cfg->max_items ? cfg->max_items : DEFAULT_MAX_ITEMS;
  w->max_queue = cfg->max_queue ? cfg->max_queue : DEFAULT_MAX_QUEUE;
  w->max_sending = cfg->max_sending ? cfg->max_sending : DEFAULT_MAX_SENDING;
  w->max_attempts = (int)(cfg->max_attempts ? cfg->max_attempts : DEFAULT_MAX_ATTEMPTS);
  w->connect_timeout_ms =
      (long)(cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
  w->timeout_ms = (long)(cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
  chat_imap_init(&w->users);
  unsigned char r[8] = {0};
  (void)uv_random(NULL, NULL, r, sizeof r, 0, NULL);
  memcpy(&w->rng, r, sizeof(w->rng));
  w->rng ^= (uint64_t)uv_hrtime();
  w->rng |= 1;

  w->workers = chat_workers_new(loop, (int)w->max_sending, "chatd-webhook", 0, err, errlen);
  if (w->workers == NULL) goto fail;

  if (cfg->redis_url && cfg->redis_url[0]) {
    /* The lease covers every attempt and every backoff. */
    uint64_t lease = LEASE_MARGIN_MS, d = w->backoff_ms;
    for (int i = 0; i < w->max_attempts; i++) {
      lease += (uint64_t)w->connect_timeout_ms + (uint64_t)w->timeout_ms;
      if (i > 0) {
        lease += d;
        d = d * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : d * 2;
      }
    }
    chat_mailq_config_t qc = {
        .prefix = cfg->redis_prefix ? cfg->redis_prefix : "chat:webhook:",
        .gather_ms = w->gather_ms,
        .interval_ms = w->interval_ms,
        .max_items = (unsigned)w->max_items,
        .lease_ms = lease,
    };
    w->mailq = chat_mailq_new(loop, cfg->redis_url, &qc, mailq_state_cb, w, err, errlen);
    if (w->mailq == NULL) {
      chat_workers_close(w->workers, NULL, NULL);
      goto fail;
    }
    w->poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS;
    uv_timer_init(loop, &w->poll);
    w->poll_open = 1;
  }
  int rc = uv_timer_init(loop, &w->timer);
  assert(rc == 0);
  (void)rc;
  return w;

fail:
  free(w->url);
  free(w->secret);
  free(w->site_name);
  free(w);
  return NULL;
}

int chat_webhook_wants(const chat_webhook_t *w, int event) {
  return w != NULL && w->state == HOOK_OPEN && (w->events & event) != 0;
}

static void local_add(chat_webhook_t *w, int64_t uid, const char *username, const char *phone,
                      item_t *it) {
  user_t *u = chat_imap_get(&w->users, uid);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    u->id = uid;
    u->heap_idx = NOT_IN_HEAP;
    chat_imap_put(&w->users, uid, u);
  }
  replace_str(&u->username, username);
  replace_str(&u->phone, phone);
  if (list_total(&u->pending) == 0) u->first_ms = uv_now(w->loop);
  if (u->pending.n < w->max_items) {
    list_append(&u->pending, it);
    w->queued++;
  } else {
    u->pending.more++;
    item_free(it);
  }
  if (u->job == NULL) {
    user_settle(w, u);
    arm(w);
  }
}

typedef struct {
  chat_webhook_t *w;
  int64_t uid;
  char *username, *phone;
  item_t *it;
} add_req_t;

static void add_req_free(add_req_t *r) {
  if (r->it) item_free(r->it);
  free(r->username);
  free(r->phone);
  free(r);
}

static void added_cb(void *ud, int ok, int64_t due_in) {
  add_req_t *r = ud;
  chat_webhook_t *w = r->w;
  if (ok) {
    w->stats.shared++;
    if (due_in >= 0) poll_arm(w, (uint64_t)due_in + jitter(w, 20));
  } else if (w->state != HOOK_OPEN) {
    w->stats.dropped++;
  } else {
    fallback_note(w);
    local_add(w, r->uid, r->username, r->phone, r->it);
    r->it = NULL;
  }
  add_req_free(r);
}

void chat_webhook_add(chat_webhook_t *w, int64_t user_id, const char *username,
                      const char *phone, int event, const char *from, const char *room,
                      const char *text, int64_t ts_ms) {
  if (w == NULL) return;
  if (phone == NULL) phone = "";
  if (text == NULL) text = "";
  if (!chat_webhook_wants(w, event)) return;  /* not configured: not an item at all */
  if (user_id == 0 || username == NULL || from == NULL ||
      (*phone && !chat_webhook_phone_valid(phone)) ||
      !chat_utf8_valid(username, strlen(username)) || !chat_utf8_valid(from, strlen(from)) ||
      !chat_utf8_valid(text, strlen(text)) || (room && !chat_utf8_valid(room, strlen(room)))) {
    w->stats.dropped++;
    return;
  }
  if (w->queued >= w->max_queue) {
    w->stats.dropped++;
    if (w->stats.overflow++ % 1000 == 0)
      chat_log_warn("webhook: the queue is full (%zu items): item for user %" PRId64
                    " dropped (%" PRIu64 " dropped so far)",
                    w->queued, user_id, w->stats.overflow);
    return;
  }
  item_t *it = chat_xcalloc(1, sizeof(*it));
  it->event = event;
  it->ts_ms = ts_ms;
  it->from = cut(from, NAME_CHARS);
  it->room = room ? cut(room, NAME_CHARS) : NULL;
  it->text = cut(text, PREVIEW_CHARS);
  if (w->mailq) {
    if (chat_mailq_is_up(w->mailq)) {
      char *payload = item_payload(it);
      add_req_t *r = chat_xcalloc(1, sizeof(*r));
      r->w = w;
      r->uid = user_id;
      r->username = chat_xstrdup(username);
      r->phone = chat_xstrdup(phone);
      r->it = it;
      int rc = chat_mailq_add(w->mailq, user_id, username, phone, payload, strlen(payload),
                              added_cb, r);
      free(payload);
      if (rc == 0) return;
      r->it = NULL;
      add_req_free(r);
    }
    fallback_note(w);
  }
  local_add(w, user_id, username, phone, it);
}

void chat_webhook_forget(chat_webhook_t *w, int64_t user_id) {
  if (w == NULL || w->state != HOOK_OPEN) return;
  if (w->mailq) (void)chat_mailq_forget(w->mailq, user_id);
  user_t *u = chat_imap_get(&w->users, user_id);
  if (u == NULL) return;
  w->queued -= u->pending.n;
  w->stats.forgotten += list_clear(&u->pending);
  if (u->job) return;
  user_settle(w, u);
  arm(w);
}

void chat_webhook_stats(const chat_webhook_t *w, chat_webhook_stats_t *out) {
  *out = w->stats;
  out->pending = 0;
  for (size_t i = 0; i < w->users.cap; i++)
    if (w->users.slots[i].key)
      out->pending += list_total(&((user_t *)w->users.slots[i].val)->pending);
  out->sending = w->sending + w->nwaiting;
  if (w->mailq) {
    chat_mailq_stats_t q;
    chat_mailq_stats(w->mailq, &q);
    out->dropped += q.dropped;
    out->forgotten += q.forgotten;
  }
}

void chat_webhook_close(chat_webhook_t *w, void (*done)(void *ud), void *ud) {
  assert(w->state == HOOK_OPEN);
  w->state = HOOK_CLOSING;
  w->done = done;
  w->done_ud = ud;
  uv_timer_stop(&w->timer);
  for (size_t i = 0; i < w->users.cap; i++) {
    user_t *u = w->users.slots[i].val;
    if (w->users.slots[i].key == 0) continue;
    w->stats.dropped += list_clear(&u->pending);
    if (u->job == NULL) user_release(u);
  }
  chat_imap_free(&w->users);
  w->heap_len = 0;
  w->queued = 0;
  /* Retries that wait are given up (a shared batch goes back to Redis). */
  while (w->waiting) {
    job_t *job = w->waiting;
    waiting_unlink(w, job);
    w->nwaiting--;
    uv_timer_stop(&job->retry);
    job_end(w, job, 0);
  }
  uv_close((uv_handle_t *)&w->timer, timer_close_cb);
  if (w->poll_open) {
    uv_timer_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, poll_close_cb);
  }
}
