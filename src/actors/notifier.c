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
#include "../core/imap.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/sb.h"
#include "../core/text.h"
#include "../core/utf8.h"
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
#define NOT_IN_HEAP SIZE_MAX

/* ---- data ------------------------------------------------------------- */

typedef struct item_s {
  struct item_s *next;
  int dm;             /* 1: direct message, 0: mention */
  int tries;          /* failed attempts so far */
  int64_t ts_ms;
  char *from_user;    /* shown as is: already cut and cleaned */
  char *where;        /* NULL: no room */
  char *preview;
} item_t;

/* A user's items: a list of at most max_items, and counts of the rest. */
typedef struct {
  item_t *head, *tail;
  size_t n;
  uint64_t more;        /* counted, not listed, not tried yet */
  uint64_t more_tried;  /* counted, not listed, failed once already */
} item_list_t;

typedef struct job_s job_t;

typedef struct {
  int64_t id;
  char *username;       /* as given (valid UTF-8) */
  char *email;          /* valid, checked address */
  item_list_t pending;
  uint64_t first_ms;    /* loop time of the oldest pending item */
  uint64_t last_ms;     /* loop time the previous mail was started */
  int mailed;           /* last_ms is set */
  job_t *job;           /* the mail being sent, or NULL */
  size_t heap_idx;      /* in n->heap iff job == NULL */
  uint64_t due_ms;      /* heap key */
} user_t;

/* One mail.  The worker reads url .. timeout_ms and writes off .. errbuf;
 * everything else belongs to the loop thread. */
struct job_s {
  chat_work_t work;
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
  user_t *user;         /* batched here: the user; NULL for a shared mail */
  int64_t claim;        /* a shared mail: its claim token (mailq_redis.h) */
  int64_t uid;
  char *username;       /* copies, valid UTF-8 */
  char *email;          /* checked address */
  item_list_t items;    /* what the mail lists, kept for a retry */
  uint64_t started_ms;
  int no_retry;         /* the user's items were forgotten meanwhile */
};

typedef enum { NOTIFIER_OPEN, NOTIFIER_CLOSING } notifier_state_t;

struct chat_notifier_s {
  uv_loop_t *loop;
  uv_timer_t timer;
  notifier_state_t state;
  /* configuration (copies) */
  char *smtp_url;       /* NULL: mail is off */
  char *mail_from;
  const char *domain;   /* in mail_from, for Message-IDs */
  char *site_name;
  char *base_url;       /* NULL: no link */
  uint64_t interval_ms, gather_ms;
  size_t max_items, max_sending;
  long connect_timeout_ms, timeout_ms;
  /* state */
  chat_imap_t users;    /* id -> user_t */
  user_t **heap;        /* users without a job, by due_ms */
  size_t heap_len, heap_cap;
  size_t sending;       /* jobs on the workers */
  chat_workers_t *workers; /* max_sending threads of its own (workers.h) */
  int workers_closing;
  uint64_t msg_seq;
  char msg_tag[17];     /* random hex, unique Message-IDs across restarts */
  chat_notifier_stats_t stats;
  int timer_closed;
  void (*done)(void *ud);
  void *done_ud;
  /* shared batching (mailq_redis.h); mailq NULL: batching is only here */
  chat_mailq_t *mailq;
  uv_timer_t poll;      /* the next claim */
  int poll_open;        /* poll was initialised and is not closed yet */
  uint64_t poll_ms;
  uint64_t poll_at;     /* loop time poll fires, when active */
  int claiming;         /* a claim is in flight */
  int mailq_closing;
  int fallback_logged;  /* "batching here" said for this outage */
  int backlog;          /* the last claim left mails due now */
  int shared_seen;      /* Redis was up once */
  uint64_t rng;
};

/* ---- libcurl global state --------------------------------------------- */

static uv_once_t curl_once = UV_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- text helpers ----------------------------------------------------- */

/* Characters that would break a line or reorder what is shown. */
static int is_line_breaker(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029;
}

static int is_bidi_control(uint32_t c) {
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* A copy of s (valid UTF-8) fit for one line of text: control characters
 * and line separators become one space per run, bidi controls are removed,
 * and more than max_chars characters are cut to max_chars plus "…". */
static char *one_line(const char *s, size_t max_chars) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = strlen(s), i = 0, chars = 0;
  chat_sb_t sb;
  int in_space = 0;

  chat_sb_init(&sb);
  while (i < len) {
    uint32_t c;
    size_t k = chat_utf8_next(u + i, len - i, &c);
    if (chars == max_chars) {
      chat_sb_puts(&sb, "\xE2\x80\xA6");  /* … */
      break;
    }
    if (is_line_breaker(c)) {
      if (!in_space) {
        chat_sb_append(&sb, " ", 1);
        chars++;
      }
      in_space = 1;
    } else if (!is_bidi_control(c)) {
      chat_sb_append(&sb, s + i, k);
      chars++;
      in_space = 0;
    }
    i += k;
  }
  return sb.buf;  /* taken from the builder */
}

/* 1 if s contains a control character (C0, DEL or C1). */
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

/* ---- item lists ------------------------------------------------------- */

static void item_free(item_t *it) {
  free(it->from_user);
  free(it->where);
  free(it->preview);
  free(it);
}

static uint64_t list_total(const item_list_t *l) { return l->n + l->more + l->more_tried; }

static void list_append(item_list_t *l, item_t *it) {
  it->next = NULL;
  if (l->tail)
    l->tail->next = it;
  else
    l->head = it;
  l->tail = it;
  l->n++;
}

/* Frees every item; returns how many there were (listed and counted). */
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

/* Keeps the first max items listed; the rest become counts. */
static void list_cap(item_list_t *l, size_t max) {
  if (l->n <= max) return;
  item_t *it = l->head, *last = NULL;
  for (size_t i = 0; i < max; i++) last = it, it = it->next;
  if (last)
    last->next = NULL;
  else
    l->head = NULL;
  l->tail = last;
  l->n = max;
  while (it) {
    item_t *next = it->next;
    if (it->tries > 0)
      l->more_tried++;
    else
      l->more++;
    item_free(it);
    it = next;
  }
}

/* ---- the due-time heap ------------------------------------------------ */

static void heap_set(chat_notifier_t *n, size_t i, user_t *u) {
  n->heap[i] = u;
  u->heap_idx = i;
}

static void heap_up(chat_notifier_t *n, size_t i) {
  user_t *u = n->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (n->heap[p]->due_ms <= u->due_ms) break;
    heap_set(n, i, n->heap[p]);
    i = p;
  }
  heap_set(n, i, u);
}

static void heap_down(chat_notifier_t *n, size_t i) {
  user_t *u = n->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n->heap_len) break;
    if (c + 1 < n->heap_len && n->heap[c + 1]->due_ms < n->heap[c]->due_ms) c++;
    if (u->due_ms <= n->heap[c]->due_ms) break;
    heap_set(n, i, n->heap[c]);
    i = c;
  }
  heap_set(n, i, u);
}

/* Inserts u or moves it to its place after its due_ms changed. */
static void heap_put(chat_notifier_t *n, user_t *u) {
  if (u->heap_idx == NOT_IN_HEAP) {
    if (n->heap_len == n->heap_cap) {
      n->heap_cap = n->heap_cap ? n->heap_cap * 2 : 16;
      n->heap = chat_xrealloc(n->heap, n->heap_cap * sizeof(*n->heap));
    }
    heap_set(n, n->heap_len++, u);
  }
  heap_up(n, u->heap_idx);
  heap_down(n, u->heap_idx);
}

static void heap_remove(chat_notifier_t *n, user_t *u) {
  size_t i = u->heap_idx;
  if (i == NOT_IN_HEAP) return;
  u->heap_idx = NOT_IN_HEAP;
  user_t *last = n->heap[--n->heap_len];
  if (i == n->heap_len) return;
  heap_set(n, i, last);
  heap_up(n, i);
  heap_down(n, last->heap_idx);
}

/* ---- users ------------------------------------------------------------ */

static void user_free(chat_notifier_t *n, user_t *u) {
  assert(u->job == NULL);
  heap_remove(n, u);
  chat_imap_del(&n->users, u->id);
  list_clear(&u->pending);
  free(u->username);
  free(u->email);
  free(u);
}

/* Puts a user without a job where it belongs: in the heap at its due time
 * while it has items or its interval still runs (so the interval holds),
 * otherwise nowhere (freed). */
static void user_settle(chat_notifier_t *n, user_t *u) {
  uint64_t now = uv_now(n->loop);
  if (u->job != NULL) return;
  if (list_total(&u->pending) > 0) {
    uint64_t due = u->first_ms + n->gather_ms;
    if (u->mailed && u->last_ms + n->interval_ms > due) due = u->last_ms + n->interval_ms;
    u->due_ms = due;
  } else if (u->mailed && u->last_ms + n->interval_ms > now) {
    u->due_ms = u->last_ms + n->interval_ms;
  } else {
    user_free(n, u);
    return;
  }
  heap_put(n, u);
}

static void replace_str(char **dst, const char *src) {
  if (*dst != NULL && strcmp(*dst, src) == 0) return;
  free(*dst);
  *dst = chat_xstrdup(src);
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
  const item_list_t *l = &job->items;
  uint64_t total = list_total(l), more = l->more + l->more_tried;
  time_t now = (time_t)(chat_now_ms() / 1000);
  char *name = one_line(job->username, NAME_CHARS);
  chat_sb_t subj, body, m;

  chat_sb_init(&subj);
  chat_sb_puts(&subj, n->site_name);
  chat_sb_puts(&subj, ": ");
  if (total == 1 && l->head != NULL) {
    chat_sb_puts(&subj, l->head->from_user);
    if (l->head->dm) {
      chat_sb_puts(&subj, " sent you a direct message");
    } else {
      chat_sb_puts(&subj, " mentioned you");
      if (l->head->where) {
        chat_sb_puts(&subj, " in ");
        chat_sb_puts(&subj, l->head->where);
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
  for (const item_t *it = l->head; it; it = it->next) body_line(&body, it, now);
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
  job_t *job = container_of(w, job_t, work);
  CURL *c = curl_easy_init();
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
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, job->errbuf);
  curl_easy_setopt(c, CURLOPT_URL, job->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, job->from_env);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, job);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->len);  /* SIZE= when offered */
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, job->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, job->timeout_ms);
  /* No signals (SIGALRM for DNS timeouts) from a worker thread. */
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  job->rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &job->smtp_code);
out:
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
}

/* ---- the loop side ---------------------------------------------------- */

static void process(chat_notifier_t *n);
static void send_after_cb(chat_work_t *w);

static void mailq_closed_cb(void *ud);
static void workers_closed_cb(void *ud);

/* The last steps of a close: once the timers are closed and no mail is on
 * its threads, the shared queue closes (its reports get their chance
 * to reach Redis), the threads stop, then n goes. */
static void maybe_finish(chat_notifier_t *n) {
  if (n->state != NOTIFIER_CLOSING || !n->timer_closed || n->poll_open || n->sending > 0)
    return;
  if (n->mailq) {
    if (!n->mailq_closing) {
      n->mailq_closing = 1;
      chat_mailq_close(n->mailq, mailq_closed_cb, n);
    }
    return;
  }
  if (n->workers) {
    if (!n->workers_closing) {
      n->workers_closing = 1;
      chat_workers_close(n->workers, workers_closed_cb, n);
    }
    return;
  }
  void (*done)(void *) = n->done;
  void *ud = n->done_ud;
  free(n->heap);
  free(n->smtp_url);
  free(n->mail_from);
  free(n->site_name);
  free(n->base_url);
  free(n);
  if (done) done(ud);
}

static void mailq_closed_cb(void *ud) {
  chat_notifier_t *n = ud;
  n->mailq = NULL;
  maybe_finish(n);
}

static void workers_closed_cb(void *ud) {
  chat_notifier_t *n = ud;
  n->workers = NULL;
  maybe_finish(n);
}

static void timer_cb(uv_timer_t *t) { process(container_of(t, chat_notifier_t, timer)); }

static void poll_close_cb(uv_handle_t *h) {
  chat_notifier_t *n = container_of((uv_timer_t *)h, chat_notifier_t, poll);
  n->poll_open = 0;
  maybe_finish(n);
}

static void timer_close_cb(uv_handle_t *h) {
  chat_notifier_t *n = container_of((uv_timer_t *)h, chat_notifier_t, timer);
  n->timer_closed = 1;
  maybe_finish(n);
}

/* Starts the timer for the next due user, or stops it when there is none
 * or the next one waits for a sending slot (a finishing mail calls
 * process). */
static void arm(chat_notifier_t *n) {
  if (n->state != NOTIFIER_OPEN) return;
  if (n->heap_len == 0) {
    uv_timer_stop(&n->timer);
    return;
  }
  user_t *u = n->heap[0];
  uint64_t now = uv_now(n->loop), timeout = 0;
  if (u->due_ms > now)
    timeout = u->due_ms - now;
  else if (list_total(&u->pending) > 0 && n->sending >= n->max_sending) {
    uv_timer_stop(&n->timer);
    return;
  }
  uv_timer_start(&n->timer, timer_cb, timeout, 0);
}

/* Builds job's message and hands it to the threads. */
static void job_start(chat_notifier_t *n, job_t *job) {
  job->n = n;
  job->started_ms = uv_now(n->loop);
  build_message(n, job);
  n->sending++;
  chat_workers_queue(n->workers, &job->work, send_work_cb, send_after_cb);
}

/* Takes u's pending items into a mail and hands it to the threads. */
static void dispatch(chat_notifier_t *n, user_t *u) {
  job_t *job = chat_xcalloc(1, sizeof(*job));

  heap_remove(n, u);
  job->user = u;
  job->uid = u->id;
  job->username = chat_xstrdup(u->username);
  job->email = chat_xstrdup(u->email);
  job->items = u->pending;
  memset(&u->pending, 0, sizeof(u->pending));
  u->last_ms = uv_now(n->loop);
  u->mailed = 1;
  u->job = job;
  job_start(n, job);
}

/* Mails every due user while there are sending slots, frees users whose
 * interval is over, and re-arms the timer. */
static void process(chat_notifier_t *n) {
  if (n->state != NOTIFIER_OPEN) return;
  uint64_t now = uv_now(n->loop);
  while (n->heap_len > 0 && n->heap[0]->due_ms <= now) {
    user_t *u = n->heap[0];
    if (list_total(&u->pending) == 0) {
      user_free(n, u);
    } else if (n->sending < n->max_sending) {
      dispatch(n, u);
    } else {
      break;
    }
  }
  arm(n);
}

static void job_free(job_t *job) {
  list_clear(&job->items);
  free(job->username);
  free(job->email);
  free(job->url);
  free(job->from_env);
  free(job->rcpt_env);
  free(job->data);
  free(job);
}

/* Puts a failed mail's items back in front of the user's pending ones for
 * one retry; those that failed before are dropped.  Returns how many are
 * kept for the retry. */
static uint64_t requeue(chat_notifier_t *n, user_t *u, job_t *job) {
  item_list_t keep = {0};
  item_t *it = job->items.head;
  while (it) {
    item_t *next = it->next;
    if (++it->tries >= MAX_TRIES) {
      n->stats.dropped++;
      item_free(it);
    } else {
      list_append(&keep, it);
    }
    it = next;
  }
  n->stats.dropped += job->items.more_tried;
  keep.more_tried = job->items.more;
  memset(&job->items, 0, sizeof(job->items));
  uint64_t kept = list_total(&keep);

  /* keep + the items that arrived meanwhile, capped again. */
  if (keep.tail) {
    keep.tail->next = u->pending.head;
    if (u->pending.tail) keep.tail = u->pending.tail;
  } else {
    keep.head = u->pending.head;
    keep.tail = u->pending.tail;
  }
  keep.n += u->pending.n;
  keep.more += u->pending.more;
  keep.more_tried += u->pending.more_tried;
  list_cap(&keep, n->max_items);
  u->pending = keep;
  u->first_ms = job->started_ms;
  return kept;
}

static void poll_arm(chat_notifier_t *n, uint64_t delay);

static void send_after_cb(chat_work_t *w) {
  job_t *job = container_of(w, job_t, work);
  chat_notifier_t *n = job->n;
  user_t *u = job->user;
  int ok = job->rc == CURLE_OK;

  assert(n->sending > 0);
  n->sending--;
  if (u) u->job = NULL;
  if (ok) {
    n->stats.sent++;
    chat_log_debug("notifier: mailed user %" PRId64 " (%" PRIu64 " items%s)", job->uid,
                   list_total(&job->items), u ? "" : ", shared");
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
        for (const item_t *it = job->items.head; it; it = it->next) retry += it->tries == 0;
      }
    } else if (n->state != NOTIFIER_OPEN || permanent) {
      n->stats.dropped += list_total(&job->items);
    } else if (job->no_retry) {
      n->stats.forgotten += list_total(&job->items);
    } else {
      retry = requeue(n, u, job);
    }
    chat_log_warn("notifier: mail to user %" PRId64 " failed: %s (SMTP %ld); %" PRIu64
                  " items to retry",
                  job->uid, why, job->smtp_code, retry);
    if (u == NULL)
      chat_mailq_report(n->mailq, job->uid, job->claim,
                        permanent ? CHAT_MAILQ_DROP : CHAT_MAILQ_RETRY);
  }
  if (ok && u == NULL) chat_mailq_report(n->mailq, job->uid, job->claim, CHAT_MAILQ_SENT);
  job_free(job);

  if (n->state != NOTIFIER_OPEN) {
    if (u) {
      /* Closing: the user stayed only for this job; its map is gone. */
      list_clear(&u->pending);
      free(u->username);
      free(u->email);
      free(u);
    }
    maybe_finish(n);
    return;
  }
  if (u) user_settle(n, u);
  process(n);
  if (n->backlog) poll_arm(n, 0);  /* more shared mails were due: a slot is free */
}

/* ---- shared batching (mailq_redis.h) ----------------------------------- */

/* A random delay of up to max ms, so that instances do not poll Redis in
 * step. */
static uint64_t jitter(chat_notifier_t *n, uint64_t max) {
  n->rng ^= n->rng << 13;
  n->rng ^= n->rng >> 7;
  n->rng ^= n->rng << 17;
  return max ? n->rng % (max + 1) : 0;
}

static void poll_cb(uv_timer_t *t);

/* The next claim within delay ms: sooner than planned, never later. */
static void poll_arm(chat_notifier_t *n, uint64_t delay) {
  if (n->mailq == NULL || n->state != NOTIFIER_OPEN) return;
  uint64_t at = uv_now(n->loop) + delay;
  if (uv_is_active((uv_handle_t *)&n->poll) && n->poll_at <= at) return;
  n->poll_at = at;
  uv_timer_start(&n->poll, poll_cb, delay, 0);
}

/* The next claim in delay ms, whatever was planned. */
static void poll_set(chat_notifier_t *n, uint64_t delay) {
  if (n->state != NOTIFIER_OPEN) return;
  n->poll_at = uv_now(n->loop) + delay;
  uv_timer_start(&n->poll, poll_cb, delay, 0);
}

/* "Batching here" is said once an outage. */
static void fallback_note(chat_notifier_t *n) {
  n->stats.local++;
  if (n->fallback_logged) return;
  n->fallback_logged = 1;
  chat_log_warn("notifier: Redis is unreachable: mail is batched in this instance until it is "
                "back (meanwhile a user may get a mail from each instance)");
}

static void mailq_state_cb(void *ud, int up) {
  chat_notifier_t *n = ud;
  if (!up || n->state != NOTIFIER_OPEN) return;
  if (n->fallback_logged)
    chat_log_info("notifier: Redis is back: mail batching is shared again");
  else if (!n->shared_seen)
    chat_log_info("notifier: mail batching is shared through Redis");
  n->shared_seen = 1;
  n->fallback_logged = 0;
  poll_arm(n, jitter(n, n->poll_ms / 4));
}

/* The item as stored in Redis: {"k":KIND,"f":FROM,"w":WHERE?,"t":TS,"p":PREVIEW}
 * with the strings already cut and cleaned. */
static char *item_payload(const item_t *it) {
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

/* An item back from Redis, cleaned again (what is in Redis is not trusted
 * to be what this code wrote); NULL if malformed. */
static item_t *item_decode(const char *payload, size_t len) {
  cJSON *o = chat_json_parse(payload, len);
  const char *k = json_str(o, "k"), *f = json_str(o, "f"), *w = json_str(o, "w"),
             *p = json_str(o, "p");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "t");
  item_t *it = NULL;
  if (k && f && p && cJSON_IsNumber(t) && (strcmp(k, "dm") == 0 || strcmp(k, "mention") == 0)) {
    it = chat_xcalloc(1, sizeof(*it));
    it->dm = strcmp(k, "dm") == 0;
    it->ts_ms = (int64_t)t->valuedouble;
    it->from_user = one_line(f, NAME_CHARS);
    it->where = it->dm || w == NULL ? NULL : one_line(w, NAME_CHARS);
    it->preview = one_line(p, PREVIEW_CHARS);
  }
  cJSON_Delete(o);
  return it;
}

/* Sends a mail claimed from Redis. */
static void shared_dispatch(chat_notifier_t *n, const chat_mailq_mail_t *m) {
  if (!chat_utf8_valid(m->username, strlen(m->username)) || !address_ok(m->email)) {
    chat_log_warn("notifier: the shared mail of user %" PRId64 " has no valid address; dropped",
                  m->user_id);
    chat_mailq_report(n->mailq, m->user_id, m->claim, CHAT_MAILQ_DROP);
    return;
  }
  job_t *job = chat_xcalloc(1, sizeof(*job));
  job->uid = m->user_id;
  job->claim = m->claim;
  job->username = chat_xstrdup(m->username);
  job->email = chat_xstrdup(m->email);
  for (size_t i = 0; i < m->n; i++) {
    item_t *it = item_decode(m->items[i], m->lens[i]);
    if (it == NULL) {
      n->stats.dropped++;
      continue;
    }
    it->tries = m->tries[i];
    list_append(&job->items, it);
  }
  job->items.more = m->more;
  job->items.more_tried = m->more_tried;
  if (list_total(&job->items) == 0) {
    chat_mailq_report(n->mailq, m->user_id, m->claim, CHAT_MAILQ_SENT);  /* nothing to say */
    job_free(job);
    return;
  }
  job_start(n, job);
}

static void claimed_cb(void *ud, int ok, const chat_mailq_mail_t *mails, size_t nm,
                       int64_t next_in) {
  chat_notifier_t *n = ud;
  n->claiming = 0;
  for (size_t i = 0; i < nm; i++) {
    if (n->state == NOTIFIER_OPEN)
      shared_dispatch(n, &mails[i]);
    else  /* closing: another instance sends it (this costs it a try) */
      chat_mailq_report(n->mailq, mails[i].user_id, mails[i].claim, CHAT_MAILQ_RETRY);
  }
  if (n->state != NOTIFIER_OPEN) return;
  n->backlog = ok && next_in == 0;
  if (n->backlog && n->sending >= n->max_sending) {
    uv_timer_stop(&n->poll);  /* send_after_cb claims when a slot is free */
    return;
  }
  if (ok && next_in >= 0 && (uint64_t)next_in < n->poll_ms)
    poll_set(n, (uint64_t)next_in + jitter(n, 20));
  else
    poll_set(n, n->poll_ms + jitter(n, n->poll_ms / 4));
}

static void poll_cb(uv_timer_t *t) {
  chat_notifier_t *n = container_of(t, chat_notifier_t, poll);
  if (n->state != NOTIFIER_OPEN || n->claiming) return;
  if (n->sending >= n->max_sending) {
    n->backlog = 1;  /* send_after_cb claims when a slot is free */
    return;
  }
  if (chat_mailq_claim(n->mailq, (unsigned)(n->max_sending - n->sending), claimed_cb, n) == 0) {
    n->claiming = 1;
    return;
  }
  poll_set(n, n->poll_ms + jitter(n, n->poll_ms / 4));  /* Redis is not usable now */
}

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
    if (has_control(cfg->smtp_url) || (strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
                                       strncmp(cfg->smtp_url, "smtps://", 8) != 0)) {
      set_err(err, errlen, "notifier: the SMTP URL must be smtp://HOST:PORT or smtps://");
      return NULL;
    }
    if (!address_ok(cfg->mail_from)) {
      set_err(err, errlen, "notifier: mail_from must be a plain e-mail address");
      return NULL;
    }
  }
  if (has_control(site) || (base && has_control(base))) {
    set_err(err, errlen,
            "notifier: site_name and base_url must be UTF-8 without control characters");
    return NULL;
  }
  if (enabled) {
    uv_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
      set_err(err, errlen, "notifier: curl_global_init failed");
      return NULL;
    }
  }

  chat_notifier_t *n = chat_xcalloc(1, sizeof(*n));
  n->loop = loop;
  n->state = NOTIFIER_OPEN;
  if (enabled) {
    n->smtp_url = chat_xstrdup(cfg->smtp_url);
    n->mail_from = chat_xstrdup(cfg->mail_from);
    n->domain = strchr(n->mail_from, '@') + 1;
  }
  n->site_name = chat_xstrdup(site);
  n->base_url = base ? chat_xstrdup(base) : NULL;
  n->interval_ms = cfg->interval_ms ? cfg->interval_ms : DEFAULT_INTERVAL_MS;
  n->gather_ms = cfg->gather_ms ? cfg->gather_ms : DEFAULT_GATHER_MS;
  n->max_items = cfg->max_items ? cfg->max_items : DEFAULT_MAX_ITEMS;
  n->max_sending = cfg->max_sending ? cfg->max_sending : DEFAULT_MAX_SENDING;
  n->connect_timeout_ms =
      (long)(cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
  n->timeout_ms = (long)(cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS);
  chat_imap_init(&n->users);

  unsigned char rnd[8] = {0};
  /* Zeros if it fails: Message-IDs stay unique within the process. */
  (void)uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL);
  for (size_t i = 0; i < sizeof rnd; i++) snprintf(n->msg_tag + 2 * i, 3, "%02x", rnd[i]);
  memcpy(&n->rng, rnd, sizeof(n->rng));
  n->rng |= 1;  /* xorshift needs a non-zero state */

  if (enabled) {
    n->workers = chat_workers_new(loop, (int)n->max_sending, "chatd-mail", 0, err, errlen);
    if (n->workers == NULL) goto fail;
  }

  if (enabled && cfg->redis_url && cfg->redis_url[0]) {
    chat_mailq_config_t qc = {
        .prefix = cfg->redis_prefix,
        .gather_ms = n->gather_ms,
        .interval_ms = n->interval_ms,
        .max_items = (unsigned)n->max_items,
        .lease_ms = cfg->lease_ms ? cfg->lease_ms
                                  : (uint64_t)n->connect_timeout_ms + (uint64_t)n->timeout_ms +
                                        LEASE_MARGIN_MS,
    };
    n->mailq = chat_mailq_new(loop, cfg->redis_url, &qc, mailq_state_cb, n, err, errlen);
    if (n->mailq == NULL) {
      chat_workers_close(n->workers, NULL, NULL);
      goto fail;
    }
    n->poll_ms = cfg->poll_ms ? cfg->poll_ms : DEFAULT_POLL_MS;
    uv_timer_init(loop, &n->poll);
    n->poll_open = 1;
  }

  int rc = uv_timer_init(loop, &n->timer);
  assert(rc == 0);  /* cannot fail on a live loop */
  (void)rc;
  return n;

fail:
  free(n->smtp_url);
  free(n->mail_from);
  free(n->site_name);
  free(n->base_url);
  free(n);
  return NULL;
}

/* An item with its strings cut and cleaned for the mail. */
static item_t *item_new(int dm, const char *from_user, const char *where, const char *text,
                        int64_t ts_ms) {
  item_t *it = chat_xcalloc(1, sizeof(*it));
  it->dm = dm;
  it->ts_ms = ts_ms;
  it->from_user = one_line(from_user, NAME_CHARS);
  it->where = dm || where == NULL ? NULL : one_line(where, NAME_CHARS);
  it->preview = one_line(text, PREVIEW_CHARS);
  return it;
}

/* Batches it (taken) here, in this instance. */
static void local_add(chat_notifier_t *n, int64_t user_id, const char *username,
                      const char *email, item_t *it) {
  user_t *u = chat_imap_get(&n->users, user_id);
  if (u == NULL) {
    u = chat_xcalloc(1, sizeof(*u));
    u->id = user_id;
    u->heap_idx = NOT_IN_HEAP;
    chat_imap_put(&n->users, user_id, u);
  }
  replace_str(&u->username, username);
  replace_str(&u->email, email);

  if (list_total(&u->pending) == 0) u->first_ms = uv_now(n->loop);
  if (u->pending.n < n->max_items) {
    list_append(&u->pending, it);
  } else {
    u->pending.more++;
    item_free(it);
  }
  if (u->job == NULL) {
    user_settle(n, u);
    arm(n);
  }
}

/* An item on its way to Redis, kept until Redis has it. */
typedef struct {
  chat_notifier_t *n;
  int64_t uid;
  char *username;
  char *email;
  item_t *it;
} add_req_t;

static void add_req_free(add_req_t *r) {
  if (r->it) item_free(r->it);
  free(r->username);
  free(r->email);
  free(r);
}

static void added_cb(void *ud, int ok, int64_t due_in) {
  add_req_t *r = ud;
  chat_notifier_t *n = r->n;
  if (ok) {
    n->stats.shared++;
    /* This instance claims it when it is due (others within a poll). */
    if (due_in >= 0) poll_arm(n, (uint64_t)due_in + jitter(n, 20));
  } else if (n->state != NOTIFIER_OPEN) {
    n->stats.dropped++;
  } else {
    /* Not known to be stored (the answer was lost): batched here rather
     * than lost; it may then be mailed twice. */
    fallback_note(n);
    local_add(n, r->uid, r->username, r->email, r->it);
    r->it = NULL;
  }
  add_req_free(r);
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

  if (n->state != NOTIFIER_OPEN || n->smtp_url == NULL || user_id == 0 || dm < 0 ||
      username == NULL || from_user == NULL || text == NULL || !address_ok(email) ||
      !chat_utf8_valid(username, strlen(username)) ||
      !chat_utf8_valid(from_user, strlen(from_user)) ||
      !chat_utf8_valid(text, strlen(text)) ||
      (where != NULL && !chat_utf8_valid(where, strlen(where)))) {
    n->stats.dropped++;
    return;
  }

  item_t *it = item_new(dm, from_user, where, text, ts_ms);
  if (n->mailq) {
    char *payload = chat_mailq_is_up(n->mailq) ? item_payload(it) : NULL;
    if (payload) {
      add_req_t *r = chat_xcalloc(1, sizeof(*r));
      r->n = n;
      r->uid = user_id;
      r->username = chat_xstrdup(username);
      r->email = chat_xstrdup(email);
      r->it = it;
      int rc = chat_mailq_add(n->mailq, user_id, username, email, payload, strlen(payload),
                              added_cb, r);
      free(payload);
      if (rc == 0) return;
      r->it = NULL;
      add_req_free(r);
    }
    fallback_note(n);
  }
  local_add(n, user_id, username, email, it);
}

void chat_notifier_forget(chat_notifier_t *n, int64_t user_id) {
  if (n->state != NOTIFIER_OPEN) return;
  if (n->mailq) (void)chat_mailq_forget(n->mailq, user_id);  /* best effort */
  user_t *u = chat_imap_get(&n->users, user_id);
  if (u == NULL) return;
  n->stats.forgotten += list_clear(&u->pending);
  if (u->job) {
    u->job->no_retry = 1;
    return;
  }
  user_settle(n, u);
  arm(n);
}

void chat_notifier_stats(const chat_notifier_t *n, chat_notifier_stats_t *out) {
  *out = n->stats;
  out->pending = 0;
  for (size_t i = 0; i < n->users.cap; i++)
    if (n->users.slots[i].key)
      out->pending += list_total(&((user_t *)n->users.slots[i].val)->pending);
  out->sending = n->sending;
  if (n->mailq) {
    chat_mailq_stats_t q;
    chat_mailq_stats(n->mailq, &q);
    out->failed += q.reaped;
    out->dropped += q.dropped;
    out->forgotten += q.forgotten;
    out->shared_up = (uint64_t)chat_mailq_is_up(n->mailq);
  }
}

void chat_notifier_close(chat_notifier_t *n, void (*done)(void *ud), void *ud) {
  assert(n->state == NOTIFIER_OPEN);
  n->state = NOTIFIER_CLOSING;
  n->done = done;
  n->done_ud = ud;
  uv_timer_stop(&n->timer);
  /* Users with a mail in flight stay (the job points at them) and are
   * freed when it returns; the others go now. */
  for (size_t i = 0; i < n->users.cap; i++) {
    user_t *u = n->users.slots[i].val;
    if (n->users.slots[i].key == 0) continue;
    n->stats.dropped += list_clear(&u->pending);
    if (u->job == NULL) {
      free(u->username);
      free(u->email);
      free(u);
    }
  }
  chat_imap_free(&n->users);
  n->heap_len = 0;
  uv_close((uv_handle_t *)&n->timer, timer_close_cb);
  if (n->poll_open) {
    uv_timer_stop(&n->poll);
    uv_close((uv_handle_t *)&n->poll, poll_close_cb);
  }
}
