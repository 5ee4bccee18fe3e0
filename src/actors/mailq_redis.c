/* The shared mail queue (mailq_redis.h): Lua scripts over a Redis client of
 * its own (store/redis.h).
 *
 * States: a queue is OPEN from chat_mailq_new, CLOSING once
 * chat_mailq_close is called (reports in flight get up to CLOSE_WAIT_MS to
 * be answered), then FINISHING (the timer and the client close; when both
 * have, the queue is freed and done runs).
 *
 * Every script gets the key prefix as ARGV[1] and runs with Redis' clock.
 * They share the prelude below: settle() puts a user that has no mail out
 * where the notifier's rule says (due, or gone when nothing waits and the
 * interval is over), back() takes a mail that is out back (failed: its
 * untried items once more, ahead of those that came meanwhile, capped at
 * max_items; given up or forgotten: dropped).
 *
 * Requests: each command's callback gets a small request struct (freed by
 * the callback).  Reports are a list of their own: one stays until Redis
 * has answered it; a reply of NULL (connection lost) leaves it to be sent
 * again when the client is up again. */
#include "mailq_redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/log.h"
#include "../store/redis.h"

#define DEFAULT_PREFIX "chat:mail:"
#define CLOSE_WAIT_MS 1000
#define PREFIX_MAX 64

/* ---- scripts ---------------------------------------------------------- */

#define PRELUDE                                                                          \
  "if redis.replicate_commands then pcall(redis.replicate_commands) end\n"               \
  "local P=ARGV[1]\n"                                                                    \
  "local function now_ms() local t=redis.call('TIME')\n"                                 \
  "  return tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000) end\n"                   \
  "local function num(v) return tonumber(v) or 0 end\n"                                  \
  "local function ukey(uid) return P..'u:'..uid end\n"                                   \
  "local function settle(uid,now,gather,interval)\n"                                     \
  "  local h=ukey(uid) local q=h..':q'\n"                                                \
  "  local f=redis.call('HMGET',h,'first','last','more','more_tried')\n"                 \
  "  local pending=redis.call('LLEN',q)+num(f[3])+num(f[4])\n"                           \
  "  local last=tonumber(f[2]) local due\n"                                              \
  "  if pending>0 then\n"                                                                \
  "    due=(tonumber(f[1]) or now)+gather\n"                                             \
  "    if last and last+interval>due then due=last+interval end\n"                       \
  "  elseif last and last+interval>now then due=last+interval\n"                         \
  "  else redis.call('ZREM',P..'due',uid) redis.call('DEL',h,q) return -1 end\n"         \
  "  redis.call('ZADD',P..'due',due,uid)\n"                                              \
  "  return due end\n"                                                                   \
  "local function back(uid,now,retry,gather,interval,max)\n"                             \
  "  local h=ukey(uid) local q=h..':q' local s=h..':s'\n"                                \
  "  redis.call('ZREM',P..'lease',uid)\n"                                                \
  "  local f=redis.call('HMGET',h,'s_more','s_more_tried','noretry','last','more',"      \
  "'more_tried')\n"                                                                      \
  "  local sent=redis.call('LRANGE',s,0,-1)\n"                                           \
  "  local smore,smt=num(f[1]),num(f[2])\n"                                              \
  "  local dropped,forgotten,kept=0,0,0\n"                                               \
  "  if f[3] then forgotten=#sent+smore+smt\n"                                           \
  "  elseif retry==0 then dropped=#sent+smore+smt\n"                                     \
  "  else\n"                                                                             \
  "    local items={}\n"                                                                 \
  "    for _,it in ipairs(sent) do\n"                                                    \
  "      if string.sub(it,1,1)=='0' then items[#items+1]='1'..string.sub(it,2)\n"        \
  "      else dropped=dropped+1 end end\n"                                               \
  "    dropped=dropped+smt kept=#items+smore\n"                                          \
  "    for _,it in ipairs(redis.call('LRANGE',q,0,-1)) do items[#items+1]=it end\n"      \
  "    local more,mt=num(f[5]),num(f[6])+smore\n"                                        \
  "    redis.call('DEL',q)\n"                                                            \
  "    for i,it in ipairs(items) do\n"                                                   \
  "      if i<=max then redis.call('RPUSH',q,it)\n"                                      \
  "      elseif string.sub(it,1,1)=='0' then more=more+1 else mt=mt+1 end end\n"         \
  "    redis.call('HSET',h,'more',more,'more_tried',mt)\n"                               \
  "    if kept>0 then redis.call('HSET',h,'first',f[4] or now) end\n"                    \
  "  end\n"                                                                              \
  "  redis.call('DEL',s)\n"                                                              \
  "  redis.call('HDEL',h,'s_more','s_more_tried','noretry','claim')\n"                   \
  "  settle(uid,now,gather,interval)\n"                                                  \
  "  return {dropped,forgotten,kept} end\n"

/* ARGV: P, uid, name, email, payload, gather, interval, max_items.
 * Returns the user's due time from now, or -1 while a mail of theirs is
 * out (the report settles them). */
static const char S_ADD[] = PRELUDE
    "local uid=ARGV[2] local h=ukey(uid) local q=h..':q'\n"
    "local now=now_ms()\n"
    "redis.call('HSET',h,'name',ARGV[3],'email',ARGV[4])\n"
    "local f=redis.call('HMGET',h,'more','more_tried')\n"
    "local n=redis.call('LLEN',q)\n"
    "if n+num(f[1])+num(f[2])==0 then redis.call('HSET',h,'first',now) end\n"
    "if n<tonumber(ARGV[8]) then redis.call('RPUSH',q,'0'..ARGV[5])\n"
    "else redis.call('HINCRBY',h,'more',1) end\n"
    "if redis.call('ZSCORE',P..'lease',uid) then return -1 end\n"
    "return settle(uid,now,tonumber(ARGV[6]),tonumber(ARGV[7]))-now\n";

/* ARGV: P, max users, lease, gather, interval, max_items.  Returns
 * {next due or lease end from now (-1: none), mails taken back, items they
 * dropped, {{uid, token, name, email, more, more_tried, {items}}...}}. */
static const char S_CLAIM[] = PRELUDE
    "local now=now_ms()\n"
    "local maxu,lease=tonumber(ARGV[2]),tonumber(ARGV[3])\n"
    "local gather,interval,maxi=tonumber(ARGV[4]),tonumber(ARGV[5]),tonumber(ARGV[6])\n"
    "local reaped,rdropped=0,0\n"
    "for _,uid in ipairs(redis.call('ZRANGEBYSCORE',P..'lease','-inf',now,'LIMIT',0,100)) do\n"
    "  local r=back(uid,now,1,gather,interval,maxi)\n"
    "  reaped=reaped+1 rdropped=rdropped+r[1]+r[2] end\n"
    "local out={} local claimed=0\n"
    "for _,uid in ipairs(redis.call('ZRANGEBYSCORE',P..'due','-inf',now,'LIMIT',0,100)) do\n"
    "  local h=ukey(uid) local q=h..':q' local s=h..':s'\n"
    "  local f=redis.call('HMGET',h,'name','email','more','more_tried')\n"
    "  local n=redis.call('LLEN',q)\n"
    "  if n+num(f[3])+num(f[4])==0 then\n"
    "    redis.call('ZREM',P..'due',uid) redis.call('DEL',h,q)\n"
    "  elseif claimed<maxu then\n"
    "    claimed=claimed+1\n"
    "    redis.call('ZREM',P..'due',uid)\n"
    "    local token=redis.call('INCR',P..'claims')\n"
    "    redis.call('DEL',s)\n"
    "    if n>0 then redis.call('RENAME',q,s) end\n"
    "    redis.call('HSET',h,'last',now,'claim',token,'s_more',num(f[3]),"
    "'s_more_tried',num(f[4]),'more',0,'more_tried',0)\n"
    "    redis.call('HDEL',h,'first','noretry')\n"
    "    redis.call('ZADD',P..'lease',now+lease,uid)\n"
    "    out[#out+1]={uid,token,f[1] or '',f[2] or '',num(f[3]),num(f[4]),"
    "redis.call('LRANGE',s,0,-1)}\n"
    "  end end\n"
    "local nxt=-1\n"
    "local d=redis.call('ZRANGE',P..'due',0,0,'WITHSCORES')\n"
    "local l=redis.call('ZRANGE',P..'lease',0,0,'WITHSCORES')\n"
    "if d[2] then nxt=tonumber(d[2]) end\n"
    "if l[2] and (nxt<0 or tonumber(l[2])<nxt) then nxt=tonumber(l[2]) end\n"
    "if nxt>=0 then nxt=math.max(nxt-now,0) end\n"
    "return {nxt,reaped,rdropped,out}\n";

/* ARGV: P, uid, token, outcome (0 sent, 1 retry, 2 drop), gather, interval,
 * max_items.  Returns {0 or -1 (stale), dropped, forgotten, kept}. */
static const char S_REPORT[] = PRELUDE
    "local uid=ARGV[2] local h=ukey(uid)\n"
    "if redis.call('HGET',h,'claim')~=ARGV[3] or not redis.call('ZSCORE',P..'lease',uid) then\n"
    "  return {-1,0,0,0} end\n"
    "local now=now_ms()\n"
    "local gather,interval,maxi=tonumber(ARGV[5]),tonumber(ARGV[6]),tonumber(ARGV[7])\n"
    "if ARGV[4]=='0' then\n"
    "  redis.call('ZREM',P..'lease',uid) redis.call('DEL',h..':s')\n"
    "  redis.call('HDEL',h,'s_more','s_more_tried','noretry','claim')\n"
    "  settle(uid,now,gather,interval)\n"
    "  return {0,0,0,0} end\n"
    "local r=back(uid,now,ARGV[4]=='1' and 1 or 0,gather,interval,maxi)\n"
    "return {0,r[1],r[2],r[3]}\n";

/* ARGV: P, uid, gather, interval.  Returns how many items were dropped. */
static const char S_FORGET[] = PRELUDE
    "local uid=ARGV[2] local h=ukey(uid) local q=h..':q'\n"
    "local f=redis.call('HMGET',h,'more','more_tried')\n"
    "local n=redis.call('LLEN',q)+num(f[1])+num(f[2])\n"
    "redis.call('DEL',q)\n"
    "if redis.call('EXISTS',h)==0 then return n end\n"
    "redis.call('HSET',h,'more',0,'more_tried',0) redis.call('HDEL',h,'first')\n"
    "if redis.call('ZSCORE',P..'lease',uid) then redis.call('HSET',h,'noretry',1) return n end\n"
    "settle(uid,now_ms(),tonumber(ARGV[3]),tonumber(ARGV[4]))\n"
    "return n\n";

/* ---- data ------------------------------------------------------------- */

typedef struct report_s {
  struct report_s *next;
  chat_mailq_t *q;
  int64_t user_id, claim;
  chat_mailq_outcome_t outcome;
  int in_flight;        /* sent, no answer yet */
} report_t;

typedef enum { MAILQ_OPEN, MAILQ_CLOSING, MAILQ_FINISHING } mailq_state_t;

struct chat_mailq_s {
  uv_loop_t *loop;
  chat_redis_t *redis;
  mailq_state_t state;
  int up;
  char prefix[PREFIX_MAX + 1];
  char gather[24], interval[24], max_items[24], lease[24];  /* as script arguments */
  chat_mailq_state_cb on_state;
  void *ud;
  report_t *reports;    /* not answered yet, oldest first */
  report_t **reports_tail;
  size_t in_flight;     /* commands of any kind waiting for their answer */
  uv_timer_t timer;     /* the close's wait */
  int handles;          /* the timer and the client, while open */
  void (*done)(void *ud);
  void *done_ud;
  chat_mailq_stats_t stats;
};

/* An add or a claim waiting for its answer. */
typedef struct {
  chat_mailq_t *q;
  chat_mailq_added_cb added;
  chat_mailq_claimed_cb claimed;
  void *ud;
} req_t;

static void finish(chat_mailq_t *q);

/* ---- helpers ----------------------------------------------------------- */

/* EVAL script 0 P args...: 0 or -1 (not usable now). */
static int eval(chat_mailq_t *q, const char *script, chat_redis_reply_cb cb, void *ud,
                int nargs, const char **args, const size_t *lens) {
  const char *argv[16];
  size_t argvlen[16];
  if (nargs + 4 > 16 || !q->up || q->state == MAILQ_FINISHING) return -1;
  argv[0] = "EVAL";
  argv[1] = script;
  argv[2] = "0";
  argv[3] = q->prefix;
  for (int i = 0; i < 4; i++) argvlen[i] = strlen(argv[i]);
  for (int i = 0; i < nargs; i++) {
    argv[4 + i] = args[i];
    argvlen[4 + i] = lens ? lens[i] : strlen(args[i]);
  }
  if (chat_redis_command(q->redis, cb, ud, nargs + 4, argv, argvlen) != 0) return -1;
  q->in_flight++;
  return 0;
}

/* Every reply callback ends here: a closing queue finishes once the last
 * answer came. */
static void answered(chat_mailq_t *q) {
  q->in_flight--;
  if (q->state == MAILQ_CLOSING && q->in_flight == 0) finish(q);
}

static int64_t int_of(const redisReply *r) {
  if (r == NULL) return 0;
  if (r->type == REDIS_REPLY_INTEGER) return (int64_t)r->integer;
  if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
  return 0;
}

static void log_error_reply(const char *what, const redisReply *r) {
  if (r && r->type == REDIS_REPLY_ERROR)
    chat_log_warn("mail queue: %s: %.*s", what, (int)r->len, r->str);
}

/* ---- add --------------------------------------------------------------- */

static void add_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  req_t *rq = ud;
  chat_mailq_t *q = rq->q;
  chat_mailq_added_cb cb = rq->added;
  int ok = reply != NULL && reply->type == REDIS_REPLY_INTEGER;
  log_error_reply("add", reply);
  if (cb) cb(rq->ud, ok, ok ? (int64_t)reply->integer : -1);
  free(rq);
  answered(q);
}

int chat_mailq_add(chat_mailq_t *q, int64_t user_id, const char *username, const char *email,
                   const char *payload, size_t len, chat_mailq_added_cb cb, void *cb_ud) {
  char uid[24];
  snprintf(uid, sizeof(uid), "%" PRId64, user_id);
  const char *args[] = {uid, username, email, payload, q->gather, q->interval, q->max_items};
  size_t lens[] = {strlen(uid), strlen(username), strlen(email), len,
                   strlen(q->gather), strlen(q->interval), strlen(q->max_items)};
  req_t *rq = chat_xcalloc(1, sizeof(*rq));
  rq->q = q;
  rq->added = cb;
  rq->ud = cb_ud;
  if (q->state != MAILQ_OPEN || eval(q, S_ADD, add_reply, rq, 7, args, lens) != 0) {
    free(rq);
    return -1;
  }
  return 0;
}

/* ---- claim ------------------------------------------------------------- */

/* Turns one {uid, token, name, email, more, more_tried, {items}} entry into
 * m (pointing into the reply and into the arrays given).  0 or -1. */
static int mail_of(const redisReply *e, chat_mailq_mail_t *m, const char **items, size_t *lens,
                   int *tries, size_t cap) {
  if (e->type != REDIS_REPLY_ARRAY || e->elements != 7 ||
      e->element[2]->type != REDIS_REPLY_STRING || e->element[3]->type != REDIS_REPLY_STRING ||
      e->element[6]->type != REDIS_REPLY_ARRAY)
    return -1;
  const redisReply *list = e->element[6];
  memset(m, 0, sizeof(*m));
  m->user_id = int_of(e->element[0]);
  m->claim = int_of(e->element[1]);
  m->username = e->element[2]->str;
  m->email = e->element[3]->str;
  int64_t more = int_of(e->element[4]), more_tried = int_of(e->element[5]);
  m->more = more > 0 ? (uint64_t)more : 0;
  m->more_tried = more_tried > 0 ? (uint64_t)more_tried : 0;
  if (m->user_id <= 0 || m->claim <= 0) return -1;
  size_t n = 0;
  for (size_t i = 0; i < list->elements && n < cap; i++) {
    const redisReply *it = list->element[i];
    if (it->type != REDIS_REPLY_STRING || it->len < 1) continue;
    tries[n] = it->str[0] == '0' ? 0 : 1;
    items[n] = it->str + 1;
    lens[n] = it->len - 1;
    n++;
  }
  m->n = n;
  m->items = items;
  m->lens = lens;
  m->tries = tries;
  return 0;
}

static void claim_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  req_t *rq = ud;
  chat_mailq_t *q = rq->q;
  chat_mailq_claimed_cb cb = rq->claimed;
  void *cb_ud = rq->ud;
  free(rq);
  log_error_reply("claim", reply);
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
      reply->element[3]->type != REDIS_REPLY_ARRAY) {
    cb(cb_ud, 0, NULL, 0, -1);
    answered(q);
    return;
  }
  q->stats.reaped += (uint64_t)int_of(reply->element[1]);
  q->stats.dropped += (uint64_t)int_of(reply->element[2]);
  const redisReply *list = reply->element[3];
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < list->elements; i++)
    if (list->element[i]->type == REDIS_REPLY_ARRAY && list->element[i]->elements == 7 &&
        list->element[i]->element[6]->type == REDIS_REPLY_ARRAY)
      cap += list->element[i]->element[6]->elements;
  chat_mailq_mail_t *mails = chat_xcalloc(list->elements + 1, sizeof(*mails));
  const char **items = chat_xcalloc(cap + 1, sizeof(*items));
  size_t *lens = chat_xcalloc(cap + 1, sizeof(*lens));
  int *tries = chat_xcalloc(cap + 1, sizeof(*tries));
  size_t used = 0;
  for (size_t i = 0; i < list->elements; i++) {
    if (mail_of(list->element[i], &mails[n], items + used, lens + used, tries + used,
                cap - used) != 0) {
      chat_log_warn("mail queue: a claimed mail is malformed; it is taken back when its "
                    "lease runs out");
      continue;
    }
    used += mails[n].n;
    n++;
  }
  cb(cb_ud, 1, mails, n, int_of(reply->element[0]));
  free(mails);
  free(items);
  free(lens);
  free(tries);
  answered(q);
}

int chat_mailq_claim(chat_mailq_t *q, unsigned max, chat_mailq_claimed_cb cb, void *cb_ud) {
  char smax[24];
  snprintf(smax, sizeof(smax), "%u", max ? max : 1);
  const char *args[] = {smax, q->lease, q->gather, q->interval, q->max_items};
  req_t *rq = chat_xcalloc(1, sizeof(*rq));
  rq->q = q;
  rq->claimed = cb;
  rq->ud = cb_ud;
  if (q->state != MAILQ_OPEN || eval(q, S_CLAIM, claim_reply, rq, 5, args, NULL) != 0) {
    free(rq);
    return -1;
  }
  return 0;
}

/* ---- reports ----------------------------------------------------------- */

static void report_send(chat_mailq_t *q, report_t *rp);

static void report_unlink(chat_mailq_t *q, report_t *rp) {
  report_t **pp = &q->reports;
  while (*pp != rp) pp = &(*pp)->next;
  *pp = rp->next;
  if (q->reports_tail == &rp->next) q->reports_tail = pp;
}

static void report_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  report_t *rp = ud;
  chat_mailq_t *q = rp->q;
  rp->in_flight = 0;
  if (reply == NULL) {
    /* No answer: sent again once Redis is back (unless closing). */
    answered(q);
    return;
  }
  log_error_reply("report", reply);
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 4) {
    if (int_of(reply->element[0]) < 0) q->stats.stale++;
    q->stats.dropped += (uint64_t)int_of(reply->element[1]);
    q->stats.forgotten += (uint64_t)int_of(reply->element[2]);
  }
  report_unlink(q, rp);
  free(rp);
  answered(q);
}

static void report_send(chat_mailq_t *q, report_t *rp) {
  char uid[24], claim[24], outcome[4];
  snprintf(uid, sizeof(uid), "%" PRId64, rp->user_id);
  snprintf(claim, sizeof(claim), "%" PRId64, rp->claim);
  snprintf(outcome, sizeof(outcome), "%d", (int)rp->outcome);
  const char *args[] = {uid, claim, outcome, q->gather, q->interval, q->max_items};
  if (rp->in_flight || q->state == MAILQ_FINISHING) return;
  if (eval(q, S_REPORT, report_reply, rp, 6, args, NULL) == 0) rp->in_flight = 1;
}

void chat_mailq_report(chat_mailq_t *q, int64_t user_id, int64_t claim,
                       chat_mailq_outcome_t outcome) {
  if (q->state == MAILQ_FINISHING) {
    q->stats.lost++;
    return;
  }
  report_t *rp = chat_xcalloc(1, sizeof(*rp));
  rp->q = q;
  rp->user_id = user_id;
  rp->claim = claim;
  rp->outcome = outcome;
  *q->reports_tail = rp;
  q->reports_tail = &rp->next;
  report_send(q, rp);
}

/* ---- forget ------------------------------------------------------------ */

static void forget_reply(chat_redis_t *r, const redisReply *reply, void *ud) {
  chat_mailq_t *q = ud;
  log_error_reply("forget", reply);
  if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
    q->stats.forgotten += (uint64_t)reply->integer;
  answered(q);
}

int chat_mailq_forget(chat_mailq_t *q, int64_t user_id) {
  char uid[24];
  snprintf(uid, sizeof(uid), "%" PRId64, user_id);
  const char *args[] = {uid, q->gather, q->interval};
  if (q->state != MAILQ_OPEN) return -1;
  return eval(q, S_FORGET, forget_reply, q, 3, args, NULL);
}

/* ---- state, life cycle -------------------------------------------------- */

static void on_state(chat_redis_t *r, int up, void *ud) {
  chat_mailq_t *q = ud;
  q->up = up;
  if (up) {
    for (report_t *rp = q->reports; rp; rp = rp->next) report_send(q, rp);
  }
  if (q->state == MAILQ_OPEN && q->on_state) q->on_state(q->ud, up);
}

int chat_mailq_is_up(const chat_mailq_t *q) { return q->up && q->state == MAILQ_OPEN; }

void chat_mailq_stats(const chat_mailq_t *q, chat_mailq_stats_t *out) { *out = q->stats; }

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen > 0) snprintf(err, errlen, "%s", msg);
}

chat_mailq_t *chat_mailq_new(uv_loop_t *loop, const char *url, const chat_mailq_config_t *cfg,
                             chat_mailq_state_cb on_state_cb, void *ud, char *err,
                             size_t errlen) {
  const char *prefix = cfg->prefix && cfg->prefix[0] ? cfg->prefix : DEFAULT_PREFIX;
  if (strlen(prefix) > PREFIX_MAX || cfg->gather_ms == 0 || cfg->interval_ms == 0 ||
      cfg->max_items == 0 || cfg->lease_ms == 0) {
    set_err(err, errlen, "mail queue: bad configuration");
    return NULL;
  }
  chat_mailq_t *q = chat_xcalloc(1, sizeof(*q));
  static const chat_redis_events_t ev = {on_state, NULL};
  q->redis = chat_redis_new(loop, url, &ev, q, err, errlen);
  if (q->redis == NULL) {
    free(q);
    return NULL;
  }
  q->loop = loop;
  q->state = MAILQ_OPEN;
  snprintf(q->prefix, sizeof(q->prefix), "%s", prefix);
  snprintf(q->gather, sizeof(q->gather), "%" PRIu64, cfg->gather_ms);
  snprintf(q->interval, sizeof(q->interval), "%" PRIu64, cfg->interval_ms);
  snprintf(q->max_items, sizeof(q->max_items), "%u", cfg->max_items);
  snprintf(q->lease, sizeof(q->lease), "%" PRIu64, cfg->lease_ms);
  q->on_state = on_state_cb;
  q->ud = ud;
  q->reports_tail = &q->reports;
  uv_timer_init(loop, &q->timer);
  q->timer.data = q;
  q->handles = 2;
  chat_redis_start(q->redis);
  return q;
}

static void maybe_freed(chat_mailq_t *q) {
  if (q->handles > 0) return;
  void (*done)(void *) = q->done;
  void *done_ud = q->done_ud;
  while (q->reports) {
    report_t *rp = q->reports;
    q->reports = rp->next;
    free(rp);
  }
  free(q);
  if (done) done(done_ud);
}

static void timer_closed(uv_handle_t *h) {
  chat_mailq_t *q = h->data;
  q->handles--;
  maybe_freed(q);
}

static void redis_closed(chat_redis_t *r, void *ud) {
  chat_mailq_t *q = ud;
  q->redis = NULL;
  q->handles--;
  maybe_freed(q);
}

/* Closes the handles; reports not answered by now are given up (their
 * leases run out in Redis). */
static void finish(chat_mailq_t *q) {
  if (q->state == MAILQ_FINISHING) return;
  q->state = MAILQ_FINISHING;
  for (report_t *rp = q->reports; rp; rp = rp->next) q->stats.lost++;
  if (q->stats.lost)
    chat_log_warn("mail queue: %" PRIu64 " mail reports not answered by Redis; those mails "
                  "count as failed when their leases run out",
                  q->stats.lost);
  uv_timer_stop(&q->timer);
  uv_close((uv_handle_t *)&q->timer, timer_closed);
  /* Completes what is pending with NULL: the callbacks only count. */
  chat_redis_close(q->redis, redis_closed);
}

static void close_timeout(uv_timer_t *t) { finish(t->data); }

void chat_mailq_close(chat_mailq_t *q, void (*done)(void *ud), void *ud) {
  q->state = MAILQ_CLOSING;
  q->done = done;
  q->done_ud = ud;
  if (q->in_flight == 0) {
    finish(q);
    return;
  }
  uv_timer_start(&q->timer, close_timeout, CLOSE_WAIT_MS, 0);
}
