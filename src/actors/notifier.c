#include "notifier.h"

#include <assert.h>
#include <cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
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

#define DEFAULT_INTERVAL_MS (10 * 60 * 1000)
#define DEFAULT_GATHER_MS (30 * 1000)
#define DEFAULT_MAX_ITEMS 20
#define DEFAULT_MAX_SENDING 1
#define DEFAULT_CONNECT_TIMEOUT_MS (10 * 1000)
#define DEFAULT_TIMEOUT_MS (60 * 1000)
#define DEFAULT_POLL_MS 1000
#define LEASE_MARGIN_MS (30 * 1000)  /* a claimed mail's lease: its timeouts plus this */

#define PREVIEW_CHARS 200   /* a message's preview */
#define NAME_CHARS 64       /* user and room names as shown */
#define MAX_TRIES 2         /* attempts per item: the first and one retry */
/* Raw bytes per RFC 2047 encoded-word: 36 bytes are 48 base64 characters,
 * a 60-character word, so "Subject: " plus one word stays under 78. */
#define WORD_BYTES 36


/* ---- data ------------------------------------------------------------- */

typedef struct {
  chat_batch_item_t base;  /* first: items are chat_batch_item_t in lists */
  int dm;             /* 1: direct message, 0: mention */
  int64_t ts_ms;
  char *from_user;    /* shown as is: already cut and cleaned */
  char *where;        /* NULL: no room */
  char *preview;
} item_t;

#define ITEM(p) ((item_t *)(p))

/* One mail.  The worker reads url .. timeout_ms and writes off .. errbuf;
 * everything else belongs to the loop thread. */
typedef struct {
  chat_batch_job_t base;  /* user, uid, claim, forgotten (batcher.h) */
  /* worker: in */
  char *url;
  char *from_env;       /* "<addr>" */
  char *rcpt_env;       /* "<addr>" */
  char *data;           /* the whole message, CRLF lines */
  size_t len;
  long connect_timeout_ms, timeout_ms;
  /* worker: out */
  size_t off;           /* bytes handed to curl */
  CURLcode rc;
  long smtp_code;       /* the server's last reply code, 0 if none */
  char errbuf[CURL_ERROR_SIZE];
  /* loop thread */
  chat_notifier_t *n;
  char *username;       /* copies, valid UTF-8 */
  char *email;          /* checked address */
  chat_batch_list_t items;  /* what the mail lists, kept for a retry */
  uint64_t started_ms;
} job_t;

struct chat_notifier_s {
  uv_loop_t *loop;
  /* configuration (copies) */
  char *smtp_url;       /* NULL: mail is off */
  char *mail_from;
  const char *domain;   /* in mail_from, for Message-IDs */
  char *site_name;
  char *base_url;       /* NULL: no link */
  long connect_timeout_ms, timeout_ms;
  /* state */
  chat_batcher_t *batcher;  /* users, timing, workers, shared queue */
  uint64_t msg_seq;
  char msg_tag[17];     /* random hex, unique Message-IDs across restarts */
  chat_notifier_stats_t stats;  /* the counts kept here; chat_notifier_stats adds the batcher's */
  void (*done)(void *ud);
  void *done_ud;
};

/* ---- text helpers ----------------------------------------------------- */

/* 1 if s is an address that is safe in the SMTP envelope and in a header:
 * chat_email_valid (no white space or control characters, one '@', a dotted
 * domain) and none of the characters that delimit addresses. */
static int address_ok(const char *s) {
  return s != NULL && chat_email_valid(s) && strpbrk(s, "<>()[],;:\"\\") == NULL;
}

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_append(chat_sb_t *sb, const unsigned char *s, size_t len) {
  chat_sb_reserve(sb, (len + 2) / 3 * 4);
  char *o = sb->buf + sb->len;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[(v >> 12) & 63];
    *o++ = b64_chars[(v >> 6) & 63];
    *o++ = b64_chars[v & 63];
  }
  if (i < len) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (i + 1 < len) v |= (uint32_t)s[i + 1] << 8;
    *o++ = b64_chars[v >> 18];
    *o++ = b64_chars[(v >> 12) & 63];
    *o++ = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
  sb->len = (size_t)(o - sb->buf);
  sb->buf[sb->len] = '\0';
}

/* Appends s (valid UTF-8) as RFC 2047 encoded-words ("=?UTF-8?B?...?="),
 * each at most WORD_BYTES raw bytes and never splitting a character, folded
 * onto continuation lines ("\r\n "). */
static void encoded_words(chat_sb_t *sb, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0;
  do {
    size_t end = i;
    while (end < len) {
      uint32_t c;
      size_t k = chat_utf8_next(u + end, len - end, &c);
      if (end + k - i > WORD_BYTES) break;
      end += k;
    }
    if (i > 0) chat_sb_puts(sb, "\r\n ");
    chat_sb_puts(sb, "=?UTF-8?B?");
    b64_append(sb, u + i, end - i);
    chat_sb_puts(sb, "?=");
    i = end;
  } while (i < len);
}

/* Appends a display name: as is when it is plain ASCII words, otherwise as
 * encoded-words. */
static void display_name(chat_sb_t *sb, const char *s) {
  static const char atext[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
      "!#$%&'*+/=?^_`{|}~- ";
  size_t len = strlen(s);
  if (len > 0 && len < 64 && strspn(s, atext) == len && s[0] != ' ' && s[len - 1] != ' ')
    chat_sb_puts(sb, s);
  else
    encoded_words(sb, s);
}

/* "HH:MM" in local time, with the date in front when it is not today. */
static void format_time(chat_sb_t *sb, int64_t ts_ms, time_t now) {
  time_t t = (time_t)(ts_ms / 1000);
  struct tm tm, today;
  char buf[32];
  localtime_r(&t, &tm);
  localtime_r(&now, &today);
  if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
    snprintf(buf, sizeof buf, "%02d:%02d", tm.tm_hour, tm.tm_min);
  else
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday, tm.tm_hour, tm.tm_min);
  chat_sb_puts(sb, buf);
}

/* An RFC 5322 date in UTC, independent of the locale. */
static void format_date(chat_sb_t *sb, time_t now) {
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct tm tm;
  char buf[64];
  gmtime_r(&now, &tm);
  snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
           tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  chat_sb_puts(sb, buf);
}

/* ---- items ------------------------------------------------------------ */

static void item_free(chat_batch_item_t *b) {
  item_t *it = ITEM(b);
  free(it->from_user);
  free(it->where);
  free(it->preview);
  free(it);
}

/* ---- the message ------------------------------------------------------ */

static void body_line(chat_sb_t *sb, const item_t *it, time_t now) {
  chat_sb_puts(sb, it->from_user);
  if (it->dm) {
    chat_sb_puts(sb, " sent you a direct message, ");
  } else if (it->where) {
    chat_sb_puts(sb, " in ");
    chat_sb_puts(sb, it->where);
    chat_sb_puts(sb, ", ");
  } else {
    chat_sb_puts(sb, " mentioned you, ");
  }
  format_time(sb, it->ts_ms, now);
  chat_sb_puts(sb, ": ");
  chat_sb_puts(sb, it->preview);
  chat_sb_puts(sb, "\r\n");
}

/* Builds the whole message for job's user and items into job->data, and
 * the envelope. */
static void build_message(chat_notifier_t *n, job_t *job) {
  const chat_batch_list_t *l = &job->items;
  const item_t *first = ITEM(l->head);
  uint64_t total = chat_batch_list_total(l), more = l->more + l->more_tried;
  time_t now = (time_t)(chat_now_ms() / 1000);
  char *name = chat_text_one_line(job->username, NAME_CHARS);
  chat_sb_t subj, body, m;

  chat_sb_init(&subj);
  chat_sb_puts(&subj, n->site_name);
  chat_sb_puts(&subj, ": ");
  if (total == 1 && first != NULL) {
    chat_sb_puts(&subj, first->from_user);
    if (first->dm) {
      chat_sb_puts(&subj, " sent you a direct message");
    } else {
      chat_sb_puts(&subj, " mentioned you");
      if (first->where) {
        chat_sb_puts(&subj, " in ");
        chat_sb_puts(&subj, first->where);
      }
    }
  } else {
    chat_sb_int(&subj, (int64_t)total);
    chat_sb_puts(&subj, " new messages while you were away");
  }

  chat_sb_init(&body);
  chat_sb_puts(&body, "Hello ");
  chat_sb_puts(&body, name);
  chat_sb_puts(&body, ",\r\n\r\nWhile you were away on ");
  chat_sb_puts(&body, n->site_name);
  chat_sb_puts(&body, ":\r\n\r\n");
  for (const chat_batch_item_t *it = l->head; it; it = it->next) body_line(&body, ITEM(it), now);
  if (more > 0) {
    chat_sb_puts(&body, "and ");
    chat_sb_int(&body, (int64_t)more);
    chat_sb_puts(&body, " more\r\n");
  }
  if (n->base_url) {
    chat_sb_puts(&body, "\r\nRead them on ");
    chat_sb_puts(&body, n->site_name);
    chat_sb_puts(&body, ": ");
    chat_sb_puts(&body, n->base_url);
    chat_sb_puts(&body, "\r\n");
  }

  chat_sb_init(&m);
  chat_sb_puts(&m, "From: ");
  display_name(&m, n->site_name);
  chat_sb_puts(&m, " <");
  chat_sb_puts(&m, n->mail_from);
  chat_sb_puts(&m, ">\r\nTo: ");
  if (name[0] != '\0') {
    display_name(&m, name);
    chat_sb_puts(&m, " ");
  }
  chat_sb_puts(&m, "<");
  chat_sb_puts(&m, job->email);
  chat_sb_puts(&m, ">\r\nSubject: ");
  encoded_words(&m, subj.buf);
  chat_sb_puts(&m, "\r\nDate: ");
  format_date(&m, now);
  char id[128];
  snprintf(id, sizeof id, "\r\nMessage-ID: <%" PRId64 ".%" PRIu64 ".%s@", chat_now_ms(),
           ++n->msg_seq, n->msg_tag);
  chat_sb_puts(&m, id);
  chat_sb_puts(&m, n->domain);
  chat_sb_puts(&m,
               ">\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n"
               "Auto-Submitted: auto-generated\r\n"
               "\r\n");
  /* Lines of 76 base64 characters (57 bytes each). */
  for (size_t i = 0; i < body.len; i += 57) {
    size_t k = body.len - i < 57 ? body.len - i : 57;
    b64_append(&m, (const unsigned char *)body.buf + i, k);
    chat_sb_puts(&m, "\r\n");
  }

  job->data = m.buf;
  job->len = m.len;
  chat_sb_free(&subj);
  chat_sb_free(&body);
  free(name);

  size_t alen = strlen(n->mail_from) + 3;
  job->from_env = chat_xmalloc(alen);
  snprintf(job->from_env, alen, "<%s>", n->mail_from);
  alen = strlen(job->email) + 3;
  job->rcpt_env = chat_xmalloc(alen);
  snprintf(job->rcpt_env, alen, "<%s>", job->email);
  job->url = chat_xstrdup(n->smtp_url);
  job->connect_timeout_ms = n->connect_timeout_ms;
  job->timeout_ms = n->timeout_ms;
}

/* ---- sending (worker thread) ------------------------------------------ */

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud) {
  job_t *job = ud;
  size_t room = size * nmemb, left = job->len - job->off;
  size_t k = left < room ? left : room;
  memcpy(buf, job->data + job->off, k);
  job->off += k;
  return k;
}

/* Runs on a worker thread and touches only job. */
static void send_work_cb(chat_work_t *w) {
  job_t *job = container_of(w, job_t, base.work);
  CURL *c = chat_curl_easy(job->url, "smtp,smtps", (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS),
                           job->errbuf, job->connect_timeout_ms, job->timeout_ms);
  struct curl_slist *rcpt = NULL;

  if (c == NULL) {
    job->rc = CURLE_FAILED_INIT;
    return;
  }
  rcpt = curl_slist_append(NULL, job->rcpt_env);
  if (rcpt == NULL) {
    job->rc = CURLE_OUT_OF_MEMORY;
    goto out;
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, job->from_env);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, job);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->len);  /* SIZE= when offered */
  job->rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &job->smtp_code);
out:
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
}


/* ---- the loop side ---------------------------------------------------- */

static void job_free(job_t *job) {
  chat_batch_list_clear(job->n->batcher, &job->items);
  free(job->username);
  free(job->email);
  free(job->url);
  free(job->from_env);
  free(job->rcpt_env);
  free(job->data);
  free(job);
}

/* Builds job's message; the batcher then hands it to the threads. */
static void job_prepare(chat_notifier_t *n, job_t *job) {
  job->n = n;
  job->started_ms = uv_now(n->loop);
  build_message(n, job);
}

/* ops->start: a mail of u's items (taken). */
static chat_batch_job_t *start_cb(void *ud, chat_batch_user_t *u, chat_batch_list_t *items) {
  chat_notifier_t *n = ud;
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->username = chat_xstrdup(u->username);
  job->email = chat_xstrdup(u->address);
  job->items = *items;
  memset(items, 0, sizeof(*items));
  job_prepare(n, job);
  return &job->base;
}

/* Puts a failed mail's items back in front of the user's pending ones for
 * one retry; those that failed before are dropped.  Returns how many are
 * kept for the retry. */
static uint64_t requeue(chat_notifier_t *n, chat_batch_user_t *u, job_t *job) {
  chat_batch_list_t keep = {0};
  chat_batch_item_t *it = job->items.head;
  while (it) {
    chat_batch_item_t *next = it->next;
    if (++it->tries >= MAX_TRIES) {
      n->stats.dropped++;
      item_free(it);
    } else {
      chat_batch_list_append(&keep, it);
    }
    it = next;
  }
  n->stats.dropped += job->items.more_tried;
  keep.more_tried = job->items.more;
  memset(&job->items, 0, sizeof(job->items));
  uint64_t kept = chat_batch_list_total(&keep);
  chat_batcher_putback(n->batcher, u, &keep, job->started_ms);
  return kept;
}

/* ops->finished: a mail is done, sent or not; it ends here (a failed
 * mail's items are retried in the user's next mail, not by this job). */
static void finished_cb(void *ud, chat_batch_job_t *base) {
  chat_notifier_t *n = ud;
  job_t *job = container_of(base, job_t, base);
  chat_batch_user_t *u = base->user;
  chat_mailq_t *mailq = chat_batcher_mailq(n->batcher);
  int open = chat_batcher_open(n->batcher);
  int ok = job->rc == CURLE_OK;

  if (ok) {
    n->stats.sent++;
    chat_log_debug("notifier: mailed user %" PRId64 " (%" PRIu64 " items%s)", base->uid,
                   chat_batch_list_total(&job->items), u ? "" : ", shared");
  } else {
    /* Never the body, the address or the URL (it may hold a password). */
    const char *why = job->errbuf[0] ? job->errbuf : curl_easy_strerror(job->rc);
    int permanent = job->smtp_code >= 500 && job->smtp_code < 600;
    uint64_t retry = 0;
    n->stats.failed++;
    if (u == NULL) {
      /* Shared: Redis takes the items back (and counts what it drops),
       * also while closing: another instance can still send them. */
      if (!permanent) {
        retry = job->items.more;
        for (const chat_batch_item_t *it = job->items.head; it; it = it->next)
          retry += it->tries == 0;
      }
    } else if (!open || permanent) {
      n->stats.dropped += chat_batch_list_total(&job->items);
    } else if (base->forgotten) {
      n->stats.forgotten += chat_batch_list_total(&job->items);
    } else {
      retry = requeue(n, u, job);
    }
    chat_log_warn("notifier: mail to user %" PRId64 " failed: %s (SMTP %ld); %" PRIu64
                  " items to retry",
                  base->uid, why, job->smtp_code, retry);
    if (u == NULL)
      chat_mailq_report(mailq, base->uid, base->claim,
                        permanent ? CHAT_MAILQ_DROP : CHAT_MAILQ_RETRY);
  }
  if (ok && u == NULL) chat_mailq_report(mailq, base->uid, base->claim, CHAT_MAILQ_SENT);
  job_free(job);
  if (u) chat_batcher_user_done(n->batcher, u);
}

/* ---- shared batching (mailq_redis.h) ----------------------------------- */

/* ops->item_encode: the item as stored in Redis:
 * {"k":KIND,"f":FROM,"w":WHERE?,"t":TS,"p":PREVIEW} with the strings
 * already cut and cleaned. */
static char *item_payload(const chat_batch_item_t *b) {
  const item_t *it = ITEM(b);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "k", it->dm ? "dm" : "mention");
  cJSON_AddStringToObject(o, "f", it->from_user);
  if (it->where) cJSON_AddStringToObject(o, "w", it->where);
  cJSON_AddNumberToObject(o, "t", (double)it->ts_ms);
  cJSON_AddStringToObject(o, "p", it->preview);
  char *s = cJSON_PrintUnformatted(o);  /* NULL: out of memory in cJSON */
  cJSON_Delete(o);
  return s;
}

static const char *json_str(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) && chat_utf8_valid(v->valuestring, strlen(v->valuestring))
             ? v->valuestring
             : NULL;
}

/* ops->item_decode: an item back from Redis, cleaned again (what is in Redis is not trusted
 * to be what this code wrote); NULL if malformed. */
static chat_batch_item_t *item_decode(const char *payload, size_t len) {
  cJSON *o = chat_json_parse(payload, len);
  const char *k = json_str(o, "k"), *f = json_str(o, "f"), *w = json_str(o, "w"),
             *p = json_str(o, "p");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
  item_t *it = NULL;
  if (k && f && p && cJSON_IsNumber(t) && (strcmp(k, "dm") == 0 || strcmp(k, "mention") == 0)) {
    it = chat_xcalloc(1, sizeof(*it));
    it->dm = strcmp(k, "dm") == 0;
    it->ts_ms = (int64_t)t->valuedouble;
    it->from_user = chat_text_one_line(f, NAME_CHARS);
    it->where = it->dm || w == NULL ? NULL : chat_text_one_line(w, NAME_CHARS);
    it->preview = chat_text_one_line(p, PREVIEW_CHARS);
  }
  cJSON_Delete(o);
  return it ? &it->base : NULL;
}


/* ops->claimed: sends a mail claimed from Redis. */
static void claimed_cb(void *ud, const chat_mailq_mail_t *m) {
  chat_notifier_t *n = ud;
  chat_mailq_t *mailq = chat_batcher_mailq(n->batcher);
  if (!chat_utf8_valid(m->username, strlen(m->username)) || !address_ok(m->email)) {
    chat_log_warn("notifier: the shared mail of user %" PRId64 " has no valid address; dropped",
                  m->user_id);
    chat_mailq_report(mailq, m->user_id, m->claim, CHAT_MAILQ_DROP);
    return;
  }
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->n = n;
  job->base.uid = m->user_id;
  job->base.claim = m->claim;
  job->username = chat_xstrdup(m->username);
  job->email = chat_xstrdup(m->email);
  chat_batcher_decode(n->batcher, m, &job->items);
  if (chat_batch_list_total(&job->items) == 0) {
    chat_mailq_report(mailq, m->user_id, m->claim, CHAT_MAILQ_SENT);  /* nothing to say */
    job_free(job);
    return;
  }
  job_prepare(n, job);
  chat_batcher_run(n->batcher, &job->base);
}

static const chat_batcher_ops_t notifier_ops = {
    .item_free = item_free,
    .item_encode = item_payload,
    .item_decode = item_decode,
    .start = start_cb,
    .claimed = claimed_cb,
    .work = send_work_cb,
    .finished = finished_cb,
    .closing = NULL,
};

/* ---- API -------------------------------------------------------------- */

void chat_notifier_config_init(chat_notifier_config_t *cfg) { memset(cfg, 0, sizeof(*cfg)); }

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen > 0) snprintf(err, errlen, "%s", msg);
}

chat_notifier_t *chat_notifier_new(uv_loop_t *loop, const chat_notifier_config_t *cfg,
                                   char *err, size_t errlen) {
  int enabled = cfg->smtp_url != NULL && cfg->smtp_url[0] != '\0';
  const char *site = cfg->site_name && cfg->site_name[0] ? cfg->site_name : "chatd";
  const char *base = cfg->base_url && cfg->base_url[0] ? cfg->base_url : NULL;

  if (enabled) {
    if (chat_text_has_control(cfg->smtp_url) || (strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
                                       strncmp(cfg->smtp_url, "smtps://", 8) != 0)) {
      set_err(err, errlen, "notifier: the SMTP URL must be smtp://HOST:PORT or smtps://");
      return NULL;
    }
    if (!address_ok(cfg->mail_from)) {
      set_err(err, errlen, "notifier: mail_from must be a plain e-mail address");
      return NULL;
    }
  }
  if (chat_text_has_control(site) || (base && chat_text_has_control(base))) {
    set_err(err, errlen,
            "notifier: site_name and base_url must be UTF-8 without control characters");
    return NULL;
  }
  if (enabled) {
    if (chat_curl_global() != 0) {
      set_err(err, errlen, "notifier: curl_global_init failed");
      return NULL;
    }
  }

  chat_notifier_t *n = chat_xcalloc(1, sizeof(*n));
  n->loop = loop;
  if (enabled) {
    n->smtp_url = chat_xstrdup(cfg->smtp_url);
    n->mail_from = chat_xstrdup(cfg->mail_from);
    n->domain = strchr(n->mail_from, '@') + 1;
  }
  n->site_name = chat_xstrdup(site);
  n->base_url = base ? chat_xstrdup(base) : NULL;
  n->connect_timeout_ms =
      (long)(cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
  n->timeout_ms = (long)(cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);

  unsigned char rnd[8] = {0};
  /* Zeros if it fails: Message-IDs stay unique within the process. */
  (void)uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
  for (size_t i = 0; i < sizeof rnd; i++) snprintf(n->msg_tag + 2 * i, 3, "%02x", rnd[i]);
  uint64_t seed;
  memcpy(&seed, rnd, sizeof(seed));

  chat_batcher_config_t bc = {
      .gather_ms = cfg->gather_ms ? cfg->gather_ms : DEFAULT_GATHER_MS,
      .interval_ms = cfg->interval_ms ? cfg->interval_ms : DEFAULT_INTERVAL_MS,
      .max_items = cfg->max_items ? cfg->max_items : DEFAULT_MAX_ITEMS,
      .max_sending = cfg->max_sending ? cfg->max_sending : DEFAULT_MAX_SENDING,
      .thread_name = enabled ? "chatd-mail" : NULL,
      .seed = seed,
      .redis_url = enabled ? cfg->redis_url : NULL,
      .poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS,
      .log_fallback = "notifier: Redis is unreachable: mail is batched in this instance until it "
                      "is back (meanwhile a user may get a mail from each instance)",
      .log_back = "notifier: Redis is back: mail batching is shared again",
      .log_shared = "notifier: mail batching is shared through Redis",
  };
  chat_mailq_config_t qc = {
      .prefix = cfg->redis_prefix,
      .gather_ms = bc.gather_ms,
      .interval_ms = bc.interval_ms,
      .max_items = (unsigned)bc.max_items,
      .lease_ms = cfg->lease_ms ? cfg->lease_ms
                                : (uint64_t)n->connect_timeout_ms + (uint64_t)n->timeout_ms +
                                      LEASE_MARGIN_MS,
  };
  bc.mailq = &qc;
  n->batcher = chat_batcher_new(loop, &bc, &notifier_ops, n, err, errlen);
  if (n->batcher == NULL) {
    free(n->smtp_url);
    free(n->mail_from);
    free(n->site_name);
    free(n->base_url);
    free(n);
    return NULL;
  }
  return n;
}

/* An item with its strings cut and cleaned for the mail. */
static item_t *item_new(int dm, const char *from_user, const char *where, const char *text,
                        int64_t ts_ms) {
  item_t *it = chat_xcalloc(1, sizeof(*it));
  it->dm = dm;
  it->ts_ms = ts_ms;
  it->from_user = chat_text_one_line(from_user, NAME_CHARS);
  it->where = dm || where == NULL ? NULL : chat_text_one_line(where, NAME_CHARS);
  it->preview = chat_text_one_line(text, PREVIEW_CHARS);
  return it;
}

void chat_notifier_add(chat_notifier_t *n, int64_t user_id, const char *username,
                       const char *email, const char *kind, const char *from_user,
                       const char *where, const char *text, int64_t ts_ms) {
  int dm;
  if (kind != NULL && strcmp(kind, "dm") == 0)
    dm = 1;
  else if (kind != NULL && strcmp(kind, "mention") == 0)
    dm = 0;
  else
    dm = -1;

  if (!chat_batcher_open(n->batcher) || n->smtp_url == NULL || user_id == 0 || dm < 0 ||
      username == NULL || from_user == NULL || text == NULL || !address_ok(email) ||
      !chat_utf8_valid(username, strlen(username)) ||
      !chat_utf8_valid(from_user, strlen(from_user)) ||
      !chat_utf8_valid(text, strlen(text)) ||
      (where != NULL && !chat_utf8_valid(where, strlen(where)))) {
    n->stats.dropped++;
    return;
  }
  item_t *it = item_new(dm, from_user, where, text, ts_ms);
  chat_batcher_add(n->batcher, user_id, username, email, &it->base);
}

void chat_notifier_forget(chat_notifier_t *n, int64_t user_id) {
  chat_batcher_forget(n->batcher, user_id);
}

void chat_notifier_stats(const chat_notifier_t *n, chat_notifier_stats_t *out) {
  chat_batcher_stats_t b;
  chat_batcher_stats(n->batcher, &b);
  *out = n->stats;
  out->dropped += b.dropped;
  out->forgotten += b.forgotten;
  out->local += b.local;
  out->shared += b.shared;
  out->pending = b.pending;
  out->sending = b.sending;
  chat_mailq_t *mailq = chat_batcher_mailq(n->batcher);
  if (mailq) {
    chat_mailq_stats_t q;
    chat_mailq_stats(mailq, &q);
    out->failed += q.reaped;
    out->dropped += q.dropped;
    out->forgotten += q.forgotten;
    out->shared_up = (uint64_t)chat_mailq_is_up(mailq);
  }
}

/* The batcher is gone: so is n. */
static void batcher_closed_cb(void *ud) {
  chat_notifier_t *n = ud;
  void (*done)(void *) = n->done;
  void *done_ud = n->done_ud;
  free(n->smtp_url);
  free(n->mail_from);
  free(n->site_name);
  free(n->base_url);
  free(n);
  if (done) done(done_ud);
}

void chat_notifier_close(chat_notifier_t *n, void (*done)(void *ud), void *ud) {
  n->done = done;
  n->done_ud = ud;
  chat_batcher_close(n->batcher, batcher_closed_cb, n);
}
