#include "admin.h"

#include <chat.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/common.h"
#include "core/text.h"
#include "store/store.h"

int chat_admin_create_user(const char *store_url, const char *username, const char *email,
                           const char *password, int role_admin, char *err,
                           size_t errlen) {
  if (chat_auth_init() != 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return CHAT_EIO;
  }
  char name[CHAT_NAME_MAX + 1];  /* the NFKC form: stored and shown */
  chat_username_rc_t urc = chat_username_check(username, name);
  if (urc != CHAT_USERNAME_OK) {
    snprintf(err, errlen, "invalid username: %s", chat_username_message(urc));
    return CHAT_EINVAL;
  }
  size_t plen = strlen(password);
  if (plen < 8 || plen > 128) {
    snprintf(err, errlen, "a password has 8 to 128 bytes");
    return CHAT_EINVAL;
  }
  if (!chat_email_valid(email)) {
    snprintf(err, errlen, "invalid e-mail address");
    return CHAT_EINVAL;
  }
  chat_store_t *store;
  int rc = chat_store_open(store_url, 1, &store, err, errlen);
  if (rc != 0) return rc;
  char hash[CHAT_HASH_MAX];
  if (chat_auth_hash_password(password, plen, hash) != 0) {
    chat_store_close(store);
    snprintf(err, errlen, "could not hash the password");
    return CHAT_EIO;
  }
  chat_user_rec_t u;
  rc = chat_store_user_create(store, name, email, hash,
                              role_admin ? CHAT_ROLE_ADMIN : CHAT_ROLE_USER, chat_now_ms(), &u);
  chat_store_close(store);
  if (rc == CHAT_EEXIST)
    snprintf(err, errlen, "username taken");
  else if (rc != 0)
    snprintf(err, errlen, "the store failed");
  return rc;
}

int chat_admin_read_password(char *buf, size_t len) {
  int tty = isatty(STDIN_FILENO);
  struct termios old, quiet;
  if (tty) {
    fprintf(stderr, "Password: ");
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  /* Byte by byte rather than fgets, so a NUL is seen, not cut at. */
  size_t n = 0;
  int c, any = 0, nul = 0;
  while ((c = getchar()) != EOF) {
    any = 1;
    if (c == '\n') break;
    if (c == '\0') nul = 1;
    if (n + 1 < len) buf[n++] = (char)c;
  }
  buf[n] = '\0';
  if (n > 0 && buf[n - 1] == '\r') buf[--n] = '\0';
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
  }
  if (!any) return -1;
  return nul ? -2 : 0;
}

int chat_admin_user_add(const char *store_url, const char *name, const char *email, int admin) {
  char password[256];
  int got = chat_admin_read_password(password, sizeof(password));
  if (got != 0) {
    memset(password, 0, sizeof(password));
    fprintf(stderr, got == -2 ? "chatd: a password must not contain the NUL character\n"
                              : "chatd: no password given\n");
    return 2;
  }
  char err[256] = "";
  int rc = chat_admin_create_user(store_url, name, email, password, admin, err, sizeof(err));
  memset(password, 0, sizeof(password));
  if (rc != 0) {
    fprintf(stderr, "chatd: %s\n", err);
    return 1;
  }
  printf("created %s%s\n", admin ? "administrator " : "user ", name);
  return 0;
}
