/* The limiter: registrations and failed logins per address, the growing
 * delay per account, frames per user, connections per address and in all,
 * address keys. */
#include <stdio.h>

#include "actors/limiter.h"
#include "t.h"

static int64_t now_ms;
static int64_t clock_fn(void) { return now_ms; }

static chat_limiter_config_t config(void) {
  chat_limiter_config_t c = {
      .registrations = {3, 3600},
      .login_fails_addr = {4, 600},
      .login_free_fails = 3,
      .login_base_ms = 1000,
      .login_max_ms = 4000,
      .frame_rate = 5,
      .frame_burst = 10,
      .max_conns = 5,
      .max_conns_addr = 3,
  };
  return c;
}

static void test_registrations(void) {
  now_ms = 1000000;
  chat_limiter_config_t cfg = config();
  chat_limiter_t *l = chat_limiter_new(&cfg, clock_fn);
  for (int i = 0; i < 3; i++) T_EQ_INT(chat_limiter_register_begin(l, "1.2.3.4"), 0);
  /* One of three an hour comes back every 20 minutes. */
  T_EQ_INT(chat_limiter_register_begin(l, "1.2.3.4"), 1200);
  T_EQ_INT(chat_limiter_register_begin(l, "5.6.7.8"), 0);
  /* One that did not create an account gives its count back. */
  chat_limiter_register_undo(l, "1.2.3.4");
  T_EQ_INT(chat_limiter_register_begin(l, "1.2.3.4"), 0);
  T_CHECK(chat_limiter_register_begin(l, "1.2.3.4") > 0);
  now_ms += 1200 * 1000;
  T_EQ_INT(chat_limiter_register_begin(l, "1.2.3.4"), 0);
  /* Forgotten once full again. */
  now_ms += 3600 * 1000;
  chat_limiter_register_begin(l, "9.9.9.9");
  T_EQ_INT(chat_limiter_size(l), 1);
  chat_limiter_free(l);

  cfg.registrations.n = 0;  /* off */
  l = chat_limiter_new(&cfg, clock_fn);
  for (int i = 0; i < 100; i++) T_EQ_INT(chat_limiter_register_begin(l, "1.2.3.4"), 0);
  chat_limiter_free(l);
}

static void test_account_delay(void) {
  now_ms = 5000000;
  chat_limiter_config_t cfg = config();
  cfg.login_fails_addr.n = 0;
  chat_limiter_t *l = chat_limiter_new(&cfg, clock_fn);
  /* Three free failures, from any addresses. */
  const char *addrs[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
  for (int i = 0; i < 3; i++) {
    T_EQ_INT(chat_limiter_login_begin(l, addrs[i], "alice"), 0);
    chat_limiter_login_end(l, addrs[i], "alice", CHAT_LOGIN_FAILED);
  }
  /* Then a second's wait, whatever the address. */
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 1);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[0], "bob"), 0);
  now_ms += 1000;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_FAILED);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 2);
  now_ms += 2000;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_FAILED);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 4);
  now_ms += 4000;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_FAILED);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 4);  /* capped */
  /* A slow answer: the delay runs from it. */
  now_ms += 4000;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  now_ms += 3000;
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_FAILED);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 4);
  /* An attempt that was not a guess is taken back. */
  now_ms += 4000;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_UNCOUNTED);
  T_EQ_INT(chat_limiter_login_begin(l, addrs[3], "alice"), 0);
  /* A success starts the account afresh. */
  chat_limiter_login_end(l, addrs[3], "alice", CHAT_LOGIN_OK);
  for (int i = 0; i < 3; i++) {
    T_EQ_INT(chat_limiter_login_begin(l, addrs[0], "alice"), 0);
    chat_limiter_login_end(l, addrs[0], "alice", CHAT_LOGIN_FAILED);
  }
  T_EQ_INT(chat_limiter_login_begin(l, addrs[0], "alice"), 1);
  /* Parallel attempts: counted on arrival, so only the free ones go. */
  int went = 0;
  for (int i = 0; i < 10; i++) went += chat_limiter_login_begin(l, addrs[1], "carol") == 0;
  T_EQ_INT(went, 3);
  /* Forgotten an hour after the last failure. */
  now_ms += CHAT_LIMITER_ACCOUNT_FORGET_MS;
  T_EQ_INT(chat_limiter_login_begin(l, addrs[0], "alice"), 0);
  chat_limiter_free(l);
}

static void test_address_fails(void) {
  now_ms = 0;
  chat_limiter_config_t cfg = config();
  cfg.login_base_ms = 0;  /* no per-account delay */
  chat_limiter_t *l = chat_limiter_new(&cfg, clock_fn);
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof(name), "user%d", i);
    T_EQ_INT(chat_limiter_login_begin(l, "1.1.1.1", name), 0);
    chat_limiter_login_end(l, "1.1.1.1", name, CHAT_LOGIN_FAILED);
  }
  T_EQ_INT(chat_limiter_login_begin(l, "1.1.1.1", "user9"), 150);
  T_EQ_INT(chat_limiter_login_begin(l, "2.2.2.2", "user9"), 0);
  /* Successes and uncounted attempts do not use it up. */
  for (int i = 0; i < 10; i++) {
    T_EQ_INT(chat_limiter_login_begin(l, "3.3.3.3", "dave"), 0);
    chat_limiter_login_end(l, "3.3.3.3", "dave", i % 2 ? CHAT_LOGIN_OK : CHAT_LOGIN_UNCOUNTED);
  }
  now_ms += 150 * 1000;
  T_EQ_INT(chat_limiter_login_begin(l, "1.1.1.1", "user9"), 0);
  chat_limiter_free(l);
}

static void test_frames(void) {
  now_ms = 0;
  chat_limiter_config_t cfg = config();
  chat_limiter_t *l = chat_limiter_new(&cfg, clock_fn);
  int ok = 0;
  for (int i = 0; i < 20; i++) ok += chat_limiter_frame(l, 42) == 0;
  T_EQ_INT(ok, 10);
  T_EQ_INT(chat_limiter_frame(l, 42), 200);
  T_EQ_INT(chat_limiter_frame(l, 43), 0);
  now_ms += 200;
  T_EQ_INT(chat_limiter_frame(l, 42), 0);
  T_CHECK(chat_limiter_frame(l, 42) > 0);
  chat_limiter_free(l);
  cfg.frame_rate = 0;
  l = chat_limiter_new(&cfg, clock_fn);
  for (int i = 0; i < 1000; i++) T_EQ_INT(chat_limiter_frame(l, 42), 0);
  chat_limiter_free(l);
}

static void test_conns(void) {
  chat_limiter_config_t cfg = config();
  chat_limiter_t *l = chat_limiter_new(&cfg, clock_fn);
  for (int i = 0; i < 3; i++) T_EQ_INT(chat_limiter_conn_open(l, "a"), 0);
  T_EQ_INT(chat_limiter_conn_open(l, "a"), -1);
  T_EQ_INT(chat_limiter_conn_open(l, "b"), 0);
  T_EQ_INT(chat_limiter_conn_open(l, "c"), 0);
  T_EQ_INT(chat_limiter_conn_open(l, "d"), -1);  /* five in all */
  T_EQ_INT(chat_limiter_conns(l), 5);
  chat_limiter_conn_close(l, "a");
  T_EQ_INT(chat_limiter_conn_open(l, "d"), 0);
  T_EQ_INT(chat_limiter_conn_open(l, "a"), -1);
  chat_limiter_conn_close(l, "b");
  chat_limiter_conn_close(l, "c");
  chat_limiter_conn_close(l, "d");
  for (int i = 0; i < 2; i++) chat_limiter_conn_close(l, "a");
  T_EQ_INT(chat_limiter_conns(l), 0);
  T_EQ_INT(chat_limiter_size(l), 0);
  /* "": only the total counts. */
  for (int i = 0; i < 5; i++) T_EQ_INT(chat_limiter_conn_open(l, ""), 0);
  T_EQ_INT(chat_limiter_conn_open(l, ""), -1);
  for (int i = 0; i < 5; i++) chat_limiter_conn_close(l, "");
  T_EQ_INT(chat_limiter_conns(l), 0);
  T_EQ_INT(chat_limiter_size(l), 0);
  chat_limiter_free(l);
  cfg.max_conns = cfg.max_conns_addr = 0;
  l = chat_limiter_new(&cfg, clock_fn);
  for (int i = 0; i < 1000; i++) T_EQ_INT(chat_limiter_conn_open(l, "a"), 0);
  T_EQ_INT(chat_limiter_conns(l), 1000);
  chat_limiter_free(l);
}

static void test_addr_key(void) {
  char k[CHAT_ADDR_KEY_MAX];
  chat_limiter_addr_key("192.0.2.7", k);
  T_EQ_STR(k, "192.0.2.7");
  chat_limiter_addr_key("2001:db8:1:2:3:4:5:6", k);
  T_EQ_STR(k, "2001:db8:1:2::/64");
  chat_limiter_addr_key("2001:db8:1:2:ffff::1", k);
  T_EQ_STR(k, "2001:db8:1:2::/64");
  chat_limiter_addr_key("::ffff:192.0.2.9", k);
  T_EQ_STR(k, "192.0.2.9");
  chat_limiter_addr_key("::1", k);
  T_EQ_STR(k, "0:0:0:0::/64");
  chat_limiter_addr_key("", k);
  T_EQ_STR(k, "");
}

int main(void) {
  T_RUN(test_registrations);
  T_RUN(test_account_delay);
  T_RUN(test_address_fails);
  T_RUN(test_frames);
  T_RUN(test_conns);
  T_RUN(test_addr_key);
  return T_DONE();
}
