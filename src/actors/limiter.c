#include "limiter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../core/common.h"
#include "../core/keytab.h"
#include "../core/rate.h"

typedef struct {
  size_t n;
} count_t;

struct chat_limiter_s {
  chat_limiter_config_t cfg;
  int64_t (*clock)(void);
  chat_keytab_t *registrations;  /* address -> chat_bucket_t */
  chat_keytab_t *addr_fails;     /* address -> chat_bucket_t */
  chat_keytab_t *accounts;       /* account -> chat_backoff_t */
  chat_keytab_t *frames;         /* user id -> chat_bucket_t */
  chat_keytab_t *conns;          /* address -> count_t */
  size_t nconns;
};

static int64_t mono_ms(void) { return (int64_t)(uv_hrtime() / 1000000); }

static double rate_of(const chat_rate_cfg_t *r) {
  return r->n > 0 && r->period_s > 0 ? r->n / r->period_s : 0;
}

static chat_keytab_t *bucket_table(double rate, double burst) {
  return chat_keytab_new(sizeof(chat_bucket_t), CHAT_LIMITER_MAX_KEYS,
                         chat_bucket_full_ms(rate, burst));
}

chat_limiter_t *chat_limiter_new(const chat_limiter_config_t *cfg, int64_t (*clock)(void)) {
  chat_limiter_t *l = chat_xcalloc(1, sizeof(*l));
  l->cfg = *cfg;
  l->clock = clock ? clock : mono_ms;
  l->registrations = bucket_table(rate_of(&cfg->registrations), cfg->registrations.n);
  l->addr_fails = bucket_table(rate_of(&cfg->login_fails_addr), cfg->login_fails_addr.n);
  l->accounts = chat_keytab_new(sizeof(chat_backoff_t), CHAT_LIMITER_MAX_KEYS,
                                CHAT_LIMITER_ACCOUNT_FORGET_MS);
  l->frames = bucket_table(cfg->frame_rate, cfg->frame_burst);
  l->conns = chat_keytab_new(sizeof(count_t), 0, 0);
  return l;
}

void chat_limiter_free(chat_limiter_t *l) {
  if (l == NULL) return;
  chat_keytab_free(l->registrations);
  chat_keytab_free(l->addr_fails);
  chat_keytab_free(l->accounts);
  chat_keytab_free(l->frames);
  chat_keytab_free(l->conns);
  free(l);
}

void chat_limiter_addr_key(const char *peer, char out[CHAT_ADDR_KEY_MAX]) {
  unsigned char a[16];
  if (uv_inet_pton(AF_INET6, peer, a) == 0) {
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof(mapped)) == 0)
      snprintf(out, CHAT_ADDR_KEY_MAX, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    else
      snprintf(out, CHAT_ADDR_KEY_MAX, "%x:%x:%x:%x::/64", a[0] << 8 | a[1], a[2] << 8 | a[3],
               a[4] << 8 | a[5], a[6] << 8 | a[7]);
    return;
  }
  snprintf(out, CHAT_ADDR_KEY_MAX, "%s", peer);
}

/* ---- connections -------------------------------------------------------- */

int chat_limiter_conn_open(chat_limiter_t *l, const char *addr) {
  if (l->cfg.max_conns && l->nconns >= l->cfg.max_conns) return -1;
  if (l->cfg.max_conns_addr && addr[0]) {
    int created;
    count_t *c = chat_keytab_put(l->conns, addr, 0, &created);
    if (c->n >= l->cfg.max_conns_addr) return -1;
    c->n++;
  }
  l->nconns++;
  return 0;
}

void chat_limiter_conn_close(chat_limiter_t *l, const char *addr) {
  if (l->nconns > 0) l->nconns--;
  if (l->cfg.max_conns_addr && addr[0]) {
    count_t *c = chat_keytab_get(l->conns, addr, 0);
    if (c && --c->n == 0) chat_keytab_del(l->conns, addr);
  }
}

size_t chat_limiter_conns(const chat_limiter_t *l) { return l->nconns; }

/* ---- registrations ------------------------------------------------------ */

int chat_limiter_register_begin(chat_limiter_t *l, const char *addr) {
  double rate = rate_of(&l->cfg.registrations);
  if (rate <= 0) return 0;
  int64_t now = l->clock();
  chat_bucket_t *b = chat_keytab_put(l->registrations, addr, now, NULL);
  int64_t wait = chat_bucket_take(b, now, rate, l->cfg.registrations.n);
  return wait ? chat_rate_retry_after(wait) : 0;
}

void chat_limiter_register_undo(chat_limiter_t *l, const char *addr) {
  if (rate_of(&l->cfg.registrations) <= 0) return;
  chat_bucket_t *b = chat_keytab_get(l->registrations, addr, l->clock());
  if (b) chat_bucket_refund(b);
}

/* ---- logins ------------------------------------------------------------- */

int chat_limiter_login_begin(chat_limiter_t *l, const char *addr, const char *account) {
  const chat_limiter_config_t *cfg = &l->cfg;
  int64_t now = l->clock();
  chat_backoff_t *acct = chat_keytab_get(l->accounts, account, now);
  if (acct) {
    int64_t wait = chat_backoff_wait(acct, now, cfg->login_free_fails, cfg->login_base_ms,
                                     cfg->login_max_ms);
    if (wait) return chat_rate_retry_after(wait);
  }
  double rate = rate_of(&cfg->login_fails_addr);
  if (rate > 0) {
    chat_bucket_t *b = chat_keytab_put(l->addr_fails, addr, now, NULL);
    int64_t wait = chat_bucket_take(b, now, rate, cfg->login_fails_addr.n);
    if (wait) return chat_rate_retry_after(wait);
  }
  if (cfg->login_base_ms > 0)
    chat_backoff_fail(chat_keytab_put(l->accounts, account, now, NULL), now);
  return 0;
}

void chat_limiter_login_end(chat_limiter_t *l, const char *addr, const char *account,
                            chat_login_outcome_t outcome) {
  int64_t now = l->clock();
  if (outcome == CHAT_LOGIN_FAILED) {
    /* The delay runs from the answer, not from the arrival. */
    chat_backoff_t *acct = chat_keytab_get(l->accounts, account, now);
    if (acct) chat_backoff_settle(acct, now);
    return;
  }
  if (rate_of(&l->cfg.login_fails_addr) > 0) {
    chat_bucket_t *b = chat_keytab_get(l->addr_fails, addr, now);
    if (b) chat_bucket_refund(b);
  }
  if (outcome == CHAT_LOGIN_OK) {
    chat_keytab_del(l->accounts, account);
  } else {
    chat_backoff_t *acct = chat_keytab_get(l->accounts, account, now);
    if (acct) chat_backoff_unfail(acct);
  }
}

/* ---- frames ------------------------------------------------------------- */

void chat_limiter_set_frame_rate(chat_limiter_t *l, double rate, double burst) {
  if (l == NULL) return;
  l->cfg.frame_rate = rate;
  l->cfg.frame_burst = burst;
  chat_keytab_free(l->frames);
  l->frames = bucket_table(rate, burst);
}

int64_t chat_limiter_frame(chat_limiter_t *l, int64_t user_id) {
  if (l->cfg.frame_rate <= 0) return 0;
  char key[24];
  snprintf(key, sizeof(key), "%" PRId64, user_id);
  int64_t now = l->clock();
  chat_bucket_t *b = chat_keytab_put(l->frames, key, now, NULL);
  return chat_bucket_take(b, now, l->cfg.frame_rate, l->cfg.frame_burst);
}

size_t chat_limiter_size(const chat_limiter_t *l) {
  return chat_keytab_size(l->registrations) + chat_keytab_size(l->addr_fails) +
         chat_keytab_size(l->accounts) + chat_keytab_size(l->frames) +
         chat_keytab_size(l->conns);
}
