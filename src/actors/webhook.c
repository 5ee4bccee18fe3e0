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
#include "../core/json.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/text.h"
#include "../core/utf8.h"
#include "batcher.h"
#include "curl_easy.h"
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



/* ---- data ------------------------------------------------------------- */

typedef struct {
  chat_batch_item_t base;  /* first: items are chat_batch_item_t in lists */
  int event;          /* CHAT_WEBHOOK_* */
  int64_t ts_ms;
  char *from;
  char *room;         /* NULL: none */
  char *text;
} item_t;

#define ITEM(p) ((item_t *)(p))

/* One POST and its attempts.  The worker reads url .. timeout_ms and writes
 * rc .. errbuf; the rest belongs to the loop thread. */
typedef struct job_s {
  chat_batch_job_t base;  /* user, uid, claim (batcher.h) */
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
  uint64_t nitems;    /* listed and counted */
  int attempts;
  uv_timer_t retry;   /* the backoff; initialised on the first retry */
  int retry_open;
  int waiting;        /* in backoff (on w->waiting) */
  struct job_s *wprev, *wnext;
  char delivery[33];
} job_t;

struct chat_webhook_s {
  uv_loop_t *loop;
  char *url, *secret, *site_name;
  int events;
  uint64_t backoff_ms;
  size_t max_queue;
  int max_attempts;
  long connect_timeout_ms, timeout_ms;
  chat_batcher_t *batcher;  /* users, timing, workers, shared queue */
  job_t *waiting;       /* jobs in backoff (held in the batcher) */
  size_t nwaiting;
  chat_webhook_stats_t stats;  /* the counts kept here; chat_webhook_stats adds the batcher's */
  void (*done)(void *ud);
  void *done_ud;
};


/* ---- helpers ---------------------------------------------------------- */

static uint64_t rnd(chat_webhook_t *w) { return chat_batcher_random(w->batcher); }

static uint64_t jitter(chat_webhook_t *w, uint64_t max) {
  return chat_batcher_jitter(w->batcher, max);
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


/* ---- items ------------------------------------------------------------ */

static void item_free(chat_batch_item_t *b) {
  item_t *it = ITEM(b);
  free(it->from);
  free(it->room);
  free(it->text);
  free(it);
}

/* ---- the payload ------------------------------------------------------ */

/* The body (README.md, "Notifications"):
 * {"delivery":ID,"site":S,"ts":MS,"user":{"id","username","phone"?},
 *  "items":[{"event","from","room","text","ts"}...],"more":N} */
static char *build_body(chat_webhook_t *w, job_t *job, int64_t uid, const char *username,
                        const char *phone, const chat_batch_list_t *items) {
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
  for (const chat_batch_item_t *b = items->head; b; b = b->next) {
    const item_t *it = ITEM(b);
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
  cJSON_AddNumberToObject(o, "more", (double)(items->more + items->more_tried));
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
  job_t *job = container_of(wk, job_t, base.work);
  CURL *c = chat_curl_easy(job->url, "http,https", (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS),
                           job->errbuf, job->connect_timeout_ms, job->timeout_ms);
  job->status = 0;
  if (c == NULL) {
    job->rc = CURLE_FAILED_INIT;
    return;
  }
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, job->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, job->headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  job->rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &job->status);
  curl_easy_cleanup(c);
}


/* ---- the loop side ---------------------------------------------------- */

/* Readies the next attempt: counted and signed afresh. */
static void attempt_prepare(chat_webhook_t *w, job_t *job) {
  job->attempts++;
  if (job->attempts > 1) w->stats.retried++;
  sign(w, job);
}

static void attempt(chat_webhook_t *w, job_t *job) {
  attempt_prepare(w, job);
  chat_batcher_run(w->batcher, &job->base);
}

/* A new job for a batch; items are only read. */
static job_t *job_new(chat_webhook_t *w, int64_t uid, const char *username, const char *phone,
                      const chat_batch_list_t *items) {
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->w = w;
  job->base.uid = uid;
  job->nitems = chat_batch_list_total(items);
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

/* ops->start: a POST of u's items (taken: only its body keeps them). */
static chat_batch_job_t *start_cb(void *ud, chat_batch_user_t *u, chat_batch_list_t *items) {
  chat_webhook_t *w = ud;
  job_t *job = job_new(w, u->id, u->username, u->address, items);
  chat_batch_list_clear(w->batcher, items);
  attempt_prepare(w, job);
  return &job->base;
}

static void retry_freed_cb(uv_handle_t *h) {
  job_t *job = container_of((uv_timer_t *)h, job_t, retry);
  chat_webhook_t *w = job->w;
  job_free(job);
  chat_batcher_release(w->batcher);
}

/* The batch is done (sent 1, or given up 0): reports, frees the job (after
 * its retry timer is closed, if it has one) and schedules the user's next
 * batch.  While closing, a shared batch goes back to Redis (not dropped). */
static void job_end(chat_webhook_t *w, job_t *job, int sent) {
  chat_batch_user_t *u = job->base.user;
  chat_mailq_t *mailq = chat_batcher_mailq(w->batcher);
  int back = !sent && u == NULL && mailq && !chat_batcher_open(w->batcher);
  if (!sent && !back) w->stats.dropped += job->nitems;
  if (u == NULL && mailq)
    chat_mailq_report(mailq, job->base.uid, job->base.claim,
                      sent ? CHAT_MAILQ_SENT : back ? CHAT_MAILQ_RETRY : CHAT_MAILQ_DROP);
  if (job->retry_open) {
    chat_batcher_hold(w->batcher);  /* until the timer is closed */
    uv_close((uv_handle_t *)&job->retry, retry_freed_cb);
  } else {
    job_free(job);
  }
  if (u) chat_batcher_user_done(w->batcher, u);
}

static void waiting_unlink(chat_webhook_t *w, job_t *job) {
  if (job->wprev)
    job->wprev->wnext = job->wnext;
  else
    w->waiting = job->wnext;
  if (job->wnext) job->wnext->wprev = job->wprev;
  job->wprev = job->wnext = NULL;
  job->waiting = 0;
  w->nwaiting--;
}

static void retry_cb(uv_timer_t *t) {
  job_t *job = container_of(t, job_t, retry);
  chat_webhook_t *w = job->w;
  waiting_unlink(w, job);
  attempt(w, job);
  chat_batcher_release(w->batcher);
}

/* ops->finished: delivered, retried after a backoff (the job waits on
 * w->waiting, held in the batcher), or given up. */
static void finished_cb(void *ud, chat_batch_job_t *base) {
  chat_webhook_t *w = ud;
  job_t *job = container_of(base, job_t, base);
  int ok = job->rc == CURLE_OK && job->status >= 200 && job->status < 300;
  if (ok) {
    w->stats.sent++;
    chat_log_debug("webhook: user %" PRId64 ": %" PRIu64 " items delivered (HTTP %ld)",
                   base->uid, job->nitems, job->status);
    job_end(w, job, 1);
    return;
  }
  int retryable = job->rc != CURLE_OK || job->status >= 500 || job->status == 408 ||
                  job->status == 429;
  /* Never the body, the URL or the secret. */
  const char *why = job->rc == CURLE_OK ? "refused"
                    : job->errbuf[0]    ? job->errbuf
                                        : curl_easy_strerror(job->rc);
  w->stats.failed++;
  if (retryable && job->attempts < w->max_attempts && chat_batcher_open(w->batcher)) {
    uint64_t d = w->backoff_ms;
    for (int i = 1; i < job->attempts && d < MAX_BACKOFF_MS; i++) d *= 2;
    if (d > MAX_BACKOFF_MS) d = MAX_BACKOFF_MS;
    d = d / 2 + jitter(w, d / 2);
    chat_log_warn("webhook: user %" PRId64 ": attempt %d failed: %s (HTTP %ld); retry in %" PRIu64
                  " ms",
                  base->uid, job->attempts, why, job->status, d);
    if (!job->retry_open) {
      uv_timer_init(w->loop, &job->retry);
      job->retry_open = 1;
    }
    job->waiting = 1;
    job->wnext = w->waiting;
    if (w->waiting) w->waiting->wprev = job;
    w->waiting = job;
    w->nwaiting++;
    chat_batcher_hold(w->batcher);
    uv_timer_start(&job->retry, retry_cb, d, 0);
  } else {
    chat_log_warn("webhook: user %" PRId64 ": attempt %d failed: %s (HTTP %ld); %" PRIu64
                  " items dropped%s",
                  base->uid, job->attempts, why, job->status, job->nitems,
                  retryable ? " (out of attempts)" : " (not retried)");
    job_end(w, job, 0);
  }
}

/* ops->closing: retries that wait are given up (a shared batch goes back
 * to Redis). */
static void closing_cb(void *ud) {
  chat_webhook_t *w = ud;
  while (w->waiting) {
    job_t *job = w->waiting;
    waiting_unlink(w, job);
    uv_timer_stop(&job->retry);
    job_end(w, job, 0);
    chat_batcher_release(w->batcher);
  }
}

/* ---- shared batching (mailq_redis.h) ----------------------------------- */

/* ops->item_encode: {"e":EVENT,"f":FROM,"r":ROOM?,"t":TS,"x":TEXT}. */
static char *item_payload(const chat_batch_item_t *b) {
  const item_t *it = ITEM(b);
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

/* ops->item_decode: cut and cleaned again; NULL if malformed. */
static chat_batch_item_t *item_decode(const char *payload, size_t len) {
  cJSON *o = chat_json_parse(payload, len);
  const char *e = json_str(o, "e"), *f = json_str(o, "f"), *r = json_str(o, "r"),
             *x = json_str(o, "x");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
  item_t *it = NULL;
  if (e && f && x && cJSON_IsNumber(t) && event_of(e)) {
    it = chat_xcalloc(1, sizeof(*it));
    it->event = event_of(e);
    it->ts_ms = (int64_t)t->valuedouble;
    it->from = chat_text_one_line(f, NAME_CHARS);
    it->room = r ? chat_text_one_line(r, NAME_CHARS) : NULL;
    it->text = chat_text_one_line(x, PREVIEW_CHARS);
  }
  cJSON_Delete(o);
  return it ? &it->base : NULL;
}


/* ops->claimed: POSTs a batch claimed from Redis. */
static void claimed_cb(void *ud, const chat_mailq_mail_t *m) {
  chat_webhook_t *w = ud;
  chat_batch_list_t items = {0};
  chat_batcher_decode(w->batcher, m, &items);
  const char *phone = chat_webhook_phone_valid(m->email) ? m->email : "";
  if (chat_batch_list_total(&items) == 0 || !chat_utf8_valid(m->username, strlen(m->username))) {
    /* nothing to say */
    chat_mailq_report(chat_batcher_mailq(w->batcher), m->user_id, m->claim, CHAT_MAILQ_SENT);
    chat_batch_list_clear(w->batcher, &items);
    return;
  }
  job_t *job = job_new(w, m->user_id, m->username, phone, &items);
  chat_batch_list_clear(w->batcher, &items);
  job->base.claim = m->claim;
  attempt(w, job);
}

static const chat_batcher_ops_t webhook_ops = {
    .item_free = item_free,
    .item_encode = item_payload,
    .item_decode = item_decode,
    .start = start_cb,
    .claimed = claimed_cb,
    .work = post_work_cb,
    .finished = finished_cb,
    .closing = closing_cb,
};

/* ---- API -------------------------------------------------------------- */

void chat_webhook_config_init(chat_webhook_config_t *cfg) { memset(cfg, 0, sizeof(*cfg)); }

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen > 0) snprintf(err, errlen, "%s", msg);
}

chat_webhook_t *chat_webhook_new(uv_loop_t *loop, const chat_webhook_config_t *cfg, char *err,
                                 size_t errlen) {
  const char *site = cfg->site_name && cfg->site_name[0] ? cfg->site_name : "chatd";
  int events = chat_webhook_events_parse(cfg->events);
  if (cfg->url == NULL || chat_text_has_control(cfg->url) ||
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
  if (chat_text_has_control(site)) {
    set_err(err, errlen, "webhook: site_name must be UTF-8 without control characters");
    return NULL;
  }
  if (chat_curl_global() != 0) {
    set_err(err, errlen, "webhook: curl_global_init failed");
    return NULL;
  }
  chat_webhook_t *w = chat_xcalloc(1, sizeof(*w));
  w->loop = loop;
  w->url = chat_xstrdup(cfg->url);
  w->secret = chat_xstrdup(cfg->secret);
  w->site_name = chat_xstrdup(site);
  w->events = events;
  w->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : DEFAULT_BACKOFF_MS;
  w->max_queue = cfg->max_queue ? cfg->max_queue : DEFAULT_MAX_QUEUE;
  w->max_attempts = (int)(cfg->max_attempts ? cfg->max_attempts : DEFAULT_MAX_ATTEMPTS);
  w->connect_timeout_ms =
      (long)(cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
  w->timeout_ms = (long)(cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
  unsigned char r[8] = {0};
  uint64_t seed;
  (void)uv_random(NULL, NULL, r, sizeof r, 0, NULL);
  memcpy(&seed, r, sizeof(seed));
  seed ^= (uint64_t)uv_hrtime();

  chat_batcher_config_t bc = {
      .gather_ms = cfg->gather_ms ? cfg->gather_ms : DEFAULT_GATHER_MS,
      .interval_ms = cfg->interval_ms ? cfg->interval_ms : DEFAULT_INTERVAL_MS,
      .max_items = cfg->max_items ? cfg->max_items : DEFAULT_MAX_ITEMS,
      .max_sending = cfg->max_sending ? cfg->max_sending : DEFAULT_MAX_SENDING,
      .thread_name = "chatd-webhook",
      .seed = seed,
      .redis_url = cfg->redis_url,
      .poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS,
      .log_fallback = "webhook: Redis is unreachable: notifications are batched in this "
                      "instance until it is back",
      .log_back = "webhook: Redis is back: batching is shared again",
      .log_shared = "webhook: batching is shared through Redis",
  };
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
      .gather_ms = bc.gather_ms,
      .interval_ms = bc.interval_ms,
      .max_items = (unsigned)bc.max_items,
      .lease_ms = lease,
  };
  bc.mailq = &qc;
  w->batcher = chat_batcher_new(loop, &bc, &webhook_ops, w, err, errlen);
  if (w->batcher == NULL) {
    free(w->url);
    free(w->secret);
    free(w->site_name);
    free(w);
    return NULL;
  }
  return w;
}

int chat_webhook_wants(const chat_webhook_t *w, int event) {
  return w != NULL && chat_batcher_open(w->batcher) && (w->events & event) != 0;
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
  size_t queued = chat_batcher_queued(w->batcher);
  if (queued >= w->max_queue) {
    w->stats.dropped++;
    if (w->stats.overflow++ % 1000 == 0)
      chat_log_warn("webhook: the queue is full (%zu items): item for user %" PRId64
                    " dropped (%" PRIu64 " dropped so far)",
                    queued, user_id, w->stats.overflow);
    return;
  }
  item_t *it = chat_xcalloc(1, sizeof(*it));
  it->event = event;
  it->ts_ms = ts_ms;
  it->from = chat_text_one_line(from, NAME_CHARS);
  it->room = room ? chat_text_one_line(room, NAME_CHARS) : NULL;
  it->text = chat_text_one_line(text, PREVIEW_CHARS);
  chat_batcher_add(w->batcher, user_id, username, phone, &it->base);
}

void chat_webhook_forget(chat_webhook_t *w, int64_t user_id) {
  if (w == NULL) return;
  chat_batcher_forget(w->batcher, user_id);
}

void chat_webhook_stats(const chat_webhook_t *w, chat_webhook_stats_t *out) {
  chat_batcher_stats_t b;
  chat_batcher_stats(w->batcher, &b);
  *out = w->stats;
  out->dropped += b.dropped;
  out->forgotten += b.forgotten;
  out->local += b.local;
  out->shared += b.shared;
  out->pending = b.pending;
  out->sending = b.sending + w->nwaiting;
  chat_mailq_t *mailq = chat_batcher_mailq(w->batcher);
  if (mailq) {
    chat_mailq_stats_t q;
    chat_mailq_stats(mailq, &q);
    out->dropped += q.dropped;
    out->forgotten += q.forgotten;
  }
}

/* The batcher is gone: so is w. */
static void batcher_closed_cb(void *ud) {
  chat_webhook_t *w = ud;
  void (*done)(void *) = w->done;
  void *done_ud = w->done_ud;
  free(w->url);
  free(w->secret);
  free(w->site_name);
  free(w);
  if (done) done(done_ud);
}

void chat_webhook_close(chat_webhook_t *w, void (*done)(void *ud), void *ud) {
  w->done = done;
  w->done_ud = ud;
  chat_batcher_close(w->batcher, batcher_closed_cb, w);
}
