/* The administration commands: chatd user|room|db|export|help (admin.h).
 *
 * Each command opens the store named by --db PATH or --store URL (else
 * CHAT_STORE, else CHAT_DB, else ./data/chat.db, as the server does) with
 * one connection, does its work and closes it.  They block: command-line
 * tools, never on a running loop.  Passwords come from standard input
 * (chat_admin_read_password) and are wiped after hashing; nothing printed
 * holds a password or a hash.
 *
 * A server running on the same store sees users' passwords, roles and bans
 * at once (it reads them with the session at each request; a ban or a new
 * password deletes the sessions) and new rooms (listed from the store,
 * opened on the first join), but it is not told: WebSockets it has open
 * stay, and rooms it has open keep their name until it restarts.  On a
 * running server the API does those (README.md, "Administration"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "core/auth.h"
#include "core/common.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/sb.h"
#include "core/text.h"
#include "core/utf8.h"
#include "net/proto.h"
#include "store/rooms.h"
#include "store/store.h"
#include "store/store_admin.h"

/* Messages read per page by export. */
#define EXPORT_PAGE 500

static const char help_text[] =
    "chatd administration commands (they work on the store directly; each takes\n"
    "--db PATH or --store URL like the server, default CHAT_STORE, CHAT_DB or\n"
    "./data/chat.db):\n"
    "\n"
    "  chatd user add NAME [--admin] [--email ADDR]\n"
    "                      create a user; the password is read from standard input\n"
    "  chatd user passwd NAME    set a new password (read from standard input);\n"
    "                      signs the user out everywhere\n"
    "  chatd user promote NAME   make the user an administrator\n"
    "  chatd user demote NAME    make the administrator a plain user\n"
    "  chatd user ban NAME       ban the user and sign it out everywhere\n"
    "  chatd user unban NAME     lift the ban\n"
    "  chatd user list [--json]  every user: a table, or one JSON object a line\n"
    "  chatd user bulk --prefix P --count N [--sessions FILE]\n"
    "                      for load tests: create users P_0 .. P_N-1 (existing ones\n"
    "                      are skipped) with the one password read from standard\n"
    "                      input, hashed once, in one transaction; --sessions also\n"
    "                      signs each in once and writes \"NAME TOKEN\" lines to FILE\n"
    "                      (mode 0600; the token is the sid cookie's value)\n"
    "  chatd room add NAME [--topic TEXT]\n"
    "  chatd room list [--json]\n"
    "  chatd room bulk --prefix P --count N [--topic TEXT]\n"
    "                      for load tests: create public rooms P-0 .. P-N-1 (existing\n"
    "                      ones are kept) in one transaction; prints \"ID NAME\" lines\n"
    "  chatd room rename ID|NAME NEW\n"
    "  chatd room delete ID|NAME  delete the room and its messages\n"
    "  chatd db migrate          apply the missing schema migrations; prints the\n"
    "                      schema version before and after\n"
    "  chatd db backup PATH [--force]\n"
    "                      copy a SQLite database to PATH with SQLite's online\n"
    "                      backup API (safe while chatd runs); --force replaces\n"
    "                      PATH; MySQL/MariaDB: use mariadb-dump (exit code 4)\n"
    "  chatd export ROOM [--since ID]\n"
    "                      a room's messages (ROOM: its id or name), oldest first,\n"
    "                      as JSON lines (the message objects of the API), only\n"
    "                      those with an id above ID with --since\n"
    "  chatd help            this text\n"
    "\n"
    "A user NAME is found as at login (BOB and ＢＯＢ find bob).  Passwords are\n"
    "read as one line from standard input, without echo on a terminal.\n"
    "\n"
    "exit codes: 0 done; 1 the store failed or refused (name taken, invalid\n"
    "value, no database, unreachable server); 2 bad command line or no password;\n"
    "3 no such user or room; 4 not possible with this store (db backup on MySQL).\n";

void chat_admin_help(FILE *f) { fputs(help_text, f); }

int chat_admin_is_command(const char *w) {
  return strcmp(w, "user") == 0 || strcmp(w, "room") == 0 || strcmp(w, "db") == 0 ||
         strcmp(w, "export") == 0 || strcmp(w, "help") == 0;
}

/* ---- the command line ---------------------------------------------------- */

#define MAX_POS 4

typedef struct {
  const char *pos[MAX_POS]; /* positional arguments after the command */
  int npos;
  const char *db, *store;
  const char *email, *topic, *since;
  const char *prefix, *count, *sessions; /* user bulk, room bulk */
  int admin, json, force;
  char url[4096];
} args_t;

/* Options a command takes besides --db and --store. */
enum { O_ADMIN = 1, O_EMAIL = 2, O_JSON = 4, O_TOPIC = 8, O_SINCE = 16, O_FORCE = 32 };
/* user bulk, room bulk */
enum { O_PREFIX = 64, O_COUNT = 128, O_SESSIONS = 256 };

static int usage_err(const char *fmt, const char *arg) {
  fputs("chatd: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (chatd help lists the commands)\n", stderr);
  return CHAT_ADMIN_EXIT_USAGE;
}

/* The value of option name at argv[*i] ("--x V" or "--x=V"): 1 and *out,
 * 0 if argv[*i] is another option, -1 if the value is missing. */
static int opt(int argc, char **argv, int *i, const char *name, const char **out) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return 0;
  if (argv[*i][n] == '=') {
    *out = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0') return 0;
  if (*i + 1 >= argc) return -1;
  *out = argv[++*i];
  return 1;
}

/* Reads argv[first..] into a: positional arguments (npos of them exactly)
 * and the options allowed.  "--" ends the options.  0 or an exit code. */
static int parse(int argc, char **argv, int first, unsigned allowed, int npos, args_t *a) {
  int i, r, options = 1;
  memset(a, 0, sizeof(*a));
  for (i = first; i < argc; i++) {
    const char *arg = argv[i], *v = NULL;
    if (options && strcmp(arg, "--") == 0) {
      options = 0;
      continue;
    }
    if (!options || arg[0] != '-' || arg[1] == '\0') {
      if (a->npos == MAX_POS || a->npos == npos) return usage_err("unexpected argument %s", arg);
      a->pos[a->npos++] = arg;
      continue;
    }
    if ((r = opt(argc, argv, &i, "--db", &v)) != 0) {
      a->db = v;
    } else if ((r = opt(argc, argv, &i, "--store", &v)) != 0) {
      a->store = v;
    } else if ((allowed & O_EMAIL) && (r = opt(argc, argv, &i, "--email", &v)) != 0) {
      a->email = v;
    } else if ((allowed & O_TOPIC) && (r = opt(argc, argv, &i, "--topic", &v)) != 0) {
      a->topic = v;
    } else if ((allowed & O_SINCE) && (r = opt(argc, argv, &i, "--since", &v)) != 0) {
      a->since = v;
    } else if ((allowed & O_PREFIX) && (r = opt(argc, argv, &i, "--prefix", &v)) != 0) {
      a->prefix = v;
    } else if ((allowed & O_COUNT) && (r = opt(argc, argv, &i, "--count", &v)) != 0) {
      a->count = v;
    } else if ((allowed & O_SESSIONS) && (r = opt(argc, argv, &i, "--sessions", &v)) != 0) {
      a->sessions = v;
    } else if ((allowed & O_ADMIN) && strcmp(arg, "--admin") == 0) {
      a->admin = 1;
      continue;
    } else if ((allowed & O_JSON) && strcmp(arg, "--json") == 0) {
      a->json = 1;
      continue;
    } else if ((allowed & O_FORCE) && strcmp(arg, "--force") == 0) {
      a->force = 1;
      continue;
    } else {
      return usage_err("unknown option %s for this command", arg);
    }
    if (r < 0) return usage_err("%s needs a value", arg);
  }
  if (a->npos < npos) return usage_err("%s", "missing argument");
  /* The store: flags, then the environment, then the default. */
  const char *store = a->store, *db = a->db;
  if (!store && !db) {
    store = getenv("CHAT_STORE");
    if (store && !*store) store = NULL;
    db = getenv("CHAT_DB");
  }
  if (store)
    snprintf(a->url, sizeof(a->url), "%s", store);
  else
    snprintf(a->url, sizeof(a->url), "sqlite:%s", db && *db ? db : "./data/chat.db");
  return 0;
}

static int is_mysql(const args_t *a) { return strncmp(a->url, "mysql:", 6) == 0; }

static const char *sqlite_path(const args_t *a) {
  return strncmp(a->url, "sqlite:", 7) == 0 ? a->url + 7 : a->url;
}

/* Opens the store.  create 0: a SQLite file that does not exist is an
 * error (rather than a new empty database).  NULL after printing why. */
static chat_store_t *open_store(const args_t *a, int create) {
  chat_store_t *s = NULL;
  char err[512] = "";
  struct stat sb;
  if (!create && !is_mysql(a) && stat(sqlite_path(a), &sb) != 0) {
    fprintf(stderr, "chatd: no database at %s\n", sqlite_path(a));
    return NULL;
  }
  if (chat_store_open(a->url, 1, &s, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err[0] ? err : "cannot open the store");
    return NULL;
  }
  return s;
}

/* The exit code and message for a store result that is not 0. */
static int store_err(int rc, const char *what) {
  if (rc == CHAT_ENOTFOUND) {
    fprintf(stderr, "chatd: %s: not found\n", what);
    return CHAT_ADMIN_EXIT_NOT_FOUND;
  }
  fprintf(stderr, "chatd: %s: %s\n", what,
          rc == CHAT_EEXIST ? "the name is taken" : "the store failed");
  return CHAT_ADMIN_EXIT_FAILED;
}

/* ---- output helpers ------------------------------------------------------ */

/* Terminal columns of code point cp: 2 for East Asian wide and full-width
 * characters, 0 for combining marks and zero-width ones, else 1. */
static int cp_width(uint32_t cp) {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp == 0xfeff) return 0;
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
    return 2;
  return 1;
}

static int text_width(const char *s) {
  size_t len = strlen(s), i = 0;
  int w = 0;
  while (i < len) {
    uint32_t cp;
    i += chat_utf8_next(s + i, len - i, &cp);
    w += cp_width(cp);
  }
  return w;
}

/* Writes s padded with spaces to width columns, and a separator. */
static void cell(const char *s, int width) {
  int pad = width - text_width(s);
  fputs(s, stdout);
  while (pad-- > 0) putchar(' ');
  fputs("  ", stdout);
}

static void iso_time(int64_t ms, char *buf, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes sb and a line end to standard output and empties sb: 0, or -1 if
 * standard output failed (a full disk, a closed pipe). */
static int put_line(chat_sb_t *sb) {
  chat_sb_append(sb, "\n", 1);
  int r = fwrite(sb->buf, 1, sb->len, stdout) == sb->len ? 0 : -1;
  sb->len = 0;
  sb->buf[0] = '\0';
  return r;
}

static int finish_output(void) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "chatd: cannot write the output: %s\n", strerror(errno));
    return CHAT_ADMIN_EXIT_FAILED;
  }
  return CHAT_ADMIN_EXIT_OK;
}

/* ---- users --------------------------------------------------------------- */

/* The user NAME means (as at login); prints why not and returns the exit
 * code otherwise. */
static int find_user(chat_store_t *s, const char *name, chat_user_rec_t *u) {
  int rc = chat_store_user_by_name(s, name, u);
  if (rc == CHAT_ENOTFOUND) {
    fprintf(stderr, "chatd: no user %s\n", name);
    return CHAT_ADMIN_EXIT_NOT_FOUND;
  }
  return rc ? store_err(rc, "user lookup") : 0;
}

static void audit(chat_store_t *s, const char *action, const char *target) {
  /* Actor 0: the command line, not a user. */
  chat_store_audit(s, 0, action, target, "chatd command line", chat_now_ms());
}

static int user_passwd(chat_store_t *s, const char *name) {
  chat_user_rec_t u;
  char password[256], hash[CHAT_HASH_MAX];
  int r = find_user(s, name, &u);
  if (r) return r;
  int got = chat_admin_read_password(password, sizeof(password));
  size_t plen = strlen(password);
  if (got != 0) {
    chat_auth_wipe(password, sizeof(password));
    fprintf(stderr, got == -2 ? "chatd: a password must not contain the NUL character\n"
                              : "chatd: no password given\n");
    return CHAT_ADMIN_EXIT_USAGE;
  }
  if (plen < 8 || plen > 128) {
    chat_auth_wipe(password, sizeof(password));
    fprintf(stderr, "chatd: a password has 8 to 128 bytes\n");
    return CHAT_ADMIN_EXIT_FAILED;
  }
  if (chat_auth_init() != 0 || chat_auth_hash_password(password, plen, hash) != 0) {
    chat_auth_wipe(password, sizeof(password));
    fprintf(stderr, "chatd: could not hash the password\n");
    return CHAT_ADMIN_EXIT_FAILED;
  }
  chat_auth_wipe(password, sizeof(password));
  int rc = chat_store_user_set_password(s, u.id, hash, NULL);
  chat_auth_wipe(hash, sizeof(hash));
  if (rc) return store_err(rc, "password");
  audit(s, "password", u.username);
  printf("changed the password of %s (signed out everywhere)\n", u.username);
  return CHAT_ADMIN_EXIT_OK;
}

static int user_role(chat_store_t *s, const char *name, chat_role_t role) {
  chat_user_rec_t u;
  int r = find_user(s, name, &u);
  if (r) return r;
  int rc = chat_store_user_set_role(s, u.id, role);
  if (rc) return store_err(rc, "role");
  audit(s, role == CHAT_ROLE_ADMIN ? "promote" : "demote", u.username);
  printf("%s is %s\n", u.username, role == CHAT_ROLE_ADMIN ? "an administrator" : "a user");
  return CHAT_ADMIN_EXIT_OK;
}

static int user_ban(chat_store_t *s, const char *name, int ban) {
  chat_user_rec_t u;
  int r = find_user(s, name, &u);
  if (r) return r;
  /* As POST /api/admin/users/NAME/ban: the flag and every session go. */
  int rc = chat_store_user_set_banned(s, u.id, ban);
  if (rc) return store_err(rc, ban ? "ban" : "unban");
  audit(s, ban ? "ban" : "unban", u.username);
  if (ban)
    printf("banned %s (signed out everywhere)\n", u.username);
  else
    printf("unbanned %s\n", u.username);
  return CHAT_ADMIN_EXIT_OK;
}

static int user_list(chat_store_t *s, int json) {
  chat_user_rec_t *v = NULL;
  size_t n = 0, i;
  int rc = chat_store_user_list(s, &v, &n);
  if (rc) return store_err(rc, "user list");
  chat_sb_t sb;
  chat_sb_init(&sb);
  char when[32];
  if (json) {
    for (i = 0; i < n; i++) {
      chat_sb_puts(&sb, "{\"id\":");
      chat_sb_int(&sb, v[i].id);
      chat_sb_puts(&sb, ",\"username\":");
      chat_sb_json_str(&sb, v[i].username, strlen(v[i].username));
      chat_sb_puts(&sb, ",\"display_name\":");
      chat_sb_json_str(&sb, v[i].display_name, strlen(v[i].display_name));
      chat_sb_puts(&sb, ",\"email\":");
      chat_sb_json_str(&sb, v[i].email, strlen(v[i].email));
      chat_sb_puts(&sb, v[i].role == CHAT_ROLE_ADMIN ? ",\"role\":\"admin\"" : ",\"role\":\"user\"");
      chat_sb_puts(&sb, v[i].banned ? ",\"banned\":true" : ",\"banned\":false");
      chat_sb_puts(&sb, ",\"created_ms\":");
      chat_sb_int(&sb, v[i].created_ms);
      chat_sb_puts(&sb, "}");
      if (put_line(&sb) != 0) break;
    }
  } else {
    int wid = 2, wname = 8, wdisp = 12;
    char num[32];
    for (i = 0; i < n; i++) {
      int w;
      snprintf(num, sizeof(num), "%" PRId64, v[i].id);
      if ((w = (int)strlen(num)) > wid) wid = w;
      if ((w = text_width(v[i].username)) > wname) wname = w;
      if ((w = text_width(v[i].display_name)) > wdisp) wdisp = w;
    }
    cell("ID", wid);
    cell("USERNAME", wname);
    cell("DISPLAY NAME", wdisp);
    cell("ROLE", 5);
    cell("STATUS", 6);
    cell("CREATED (UTC)", 20);
    fputs("EMAIL\n", stdout);
    for (i = 0; i < n; i++) {
      snprintf(num, sizeof(num), "%" PRId64, v[i].id);
      printf("%*s  ", wid, num);
      cell(v[i].username, wname);
      cell(v[i].display_name, wdisp);
      cell(v[i].role == CHAT_ROLE_ADMIN ? "admin" : "user", 5);
      cell(v[i].banned ? "banned" : "active", 6);
      iso_time(v[i].created_ms, when, sizeof(when));
      cell(when, 20);
      puts(v[i].email[0] ? v[i].email : "-");
    }
  }
  chat_sb_free(&sb);
  free(v);
  return finish_output();
}

/* ---- bulk provisioning for load tests ------------------------------------ */

/* Lifetime of the sessions user bulk mints. */
#define BULK_SESSION_MS ((int64_t)30 * 24 * 3600 * 1000)
#define BULK_MAX 1000000

/* --count N: 1..BULK_MAX, else prints why and returns 0. */
static long bulk_count(const args_t *a) {
  char *end;
  if (a->prefix == NULL || a->count == NULL) {
    usage_err("%s", "bulk needs --prefix P and --count N");
    return 0;
  }
  errno = 0;
  long n = strtol(a->count, &end, 10);
  if (errno || *end || end == a->count || n < 1 || n > BULK_MAX) {
    usage_err("--count wants 1 to 1000000, got %s", a->count);
    return 0;
  }
  return n;
}

/* chatd user bulk: users P_0 .. P_N-1 with one password hash (argon2id is
 * slow on purpose: hashing it once is what makes this fast), all rows in
 * one transaction.  With --sessions FILE, one session each, as a login
 * makes them (a random token; the store keeps its SHA-256), and the tokens
 * in FILE, created with mode 0600 and written only after the commit. */
static int user_bulk(const args_t *a) {
  long n = bulk_count(a);
  if (n == 0) return CHAT_ADMIN_EXIT_USAGE;
  typedef char name_t[CHAT_NAME_MAX + 1];
  name_t *names = chat_xcalloc((size_t)n, sizeof(name_t));
  chat_bulk_user_t *v = chat_xcalloc((size_t)n, sizeof(*v));
  char (*tokens)[CHAT_TOKEN_CHARS + 1] = NULL;
  char password[256], hash[CHAT_HASH_MAX];
  int r = CHAT_ADMIN_EXIT_FAILED, fd = -1;
  chat_store_t *s = NULL;
  for (long i = 0; i < n; i++) {
    char raw[CHAT_NAME_MAX + 32];
    snprintf(raw, sizeof(raw), "%s_%ld", a->prefix, i);
    chat_username_rc_t urc = chat_username_check(raw, names[i]);
    if (urc != CHAT_USERNAME_OK) {
      fprintf(stderr, "chatd: invalid username %s: %s\n", raw, chat_username_message(urc));
      goto out;
    }
    v[i].username = names[i];
    v[i].email = "bench@localhost.localdomain";
  }
  int got = chat_admin_read_password(password, sizeof(password));
  size_t plen = strlen(password);
  if (got != 0 || plen < 8 || plen > 128) {
    chat_auth_wipe(password, sizeof(password));
    fprintf(stderr, got == -2 ? "chatd: a password must not contain the NUL character\n"
                    : got != 0 ? "chatd: no password given\n"
                               : "chatd: a password has 8 to 128 bytes\n");
    r = got != 0 ? CHAT_ADMIN_EXIT_USAGE : CHAT_ADMIN_EXIT_FAILED;
    goto out;
  }
  if (chat_auth_init() != 0 || chat_auth_hash_password(password, plen, hash) != 0) {
    chat_auth_wipe(password, sizeof(password));
    fprintf(stderr, "chatd: could not hash the password\n");
    goto out;
  }
  chat_auth_wipe(password, sizeof(password));
  if (a->sessions) {
    /* Opened first, so that a bad path fails before anything is written. */
    fd = open(a->sessions, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
      fprintf(stderr, "chatd: %s: %s\n", a->sessions, strerror(errno));
      goto out;
    }
    tokens = chat_xcalloc((size_t)n, sizeof(*tokens));
    for (long i = 0; i < n; i++) {
      chat_auth_new_token(tokens[i]);
      chat_auth_token_hash(tokens[i], CHAT_TOKEN_CHARS, v[i].token_hash);
    }
  }
  s = open_store(a, 1);
  if (s == NULL) goto out;
  size_t created = 0;
  int64_t now = chat_now_ms();
  int rc = chat_store_users_bulk(s, v, (size_t)n, hash, now, a->sessions != NULL,
                                 now + BULK_SESSION_MS, &created);
  if (rc) {
    r = store_err(rc, "user bulk");
    goto out;
  }
  audit(s, "user_bulk", a->prefix);
  if (fd >= 0) {
    chat_sb_t sb;
    chat_sb_init(&sb);
    for (long i = 0; i < n; i++) {
      chat_sb_puts(&sb, names[i]);
      chat_sb_puts(&sb, " ");
      chat_sb_puts(&sb, tokens[i]);
      chat_sb_puts(&sb, "\n");
    }
    size_t off = 0;
    while (off < sb.len) {
      ssize_t w = write(fd, sb.buf + off, sb.len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    chat_auth_wipe(sb.buf, sb.len);
    size_t len = sb.len;
    chat_sb_free(&sb);
    if (off != len || fsync(fd) != 0) {
      fprintf(stderr, "chatd: %s: %s\n", a->sessions, strerror(errno));
      goto out;
    }
  }
  printf("users %s_0 .. %s_%ld: %zu created, %zu existed", a->prefix, a->prefix, n - 1, created,
         (size_t)n - created);
  if (fd >= 0) printf("; %ld sessions written to %s", n, a->sessions);
  printf("\n");
  r = CHAT_ADMIN_EXIT_OK;
out:
  chat_auth_wipe(hash, sizeof(hash));
  if (fd >= 0) close(fd);
  if (tokens) {
    chat_auth_wipe(tokens, (size_t)n * sizeof(*tokens));
    free(tokens);
  }
  if (s) chat_store_close(s);
  free(v);
  free(names);
  return r == CHAT_ADMIN_EXIT_OK ? finish_output() : r;
}

/* chatd room bulk: public rooms P-0 .. P-N-1 in one transaction; prints
 * every room's "ID NAME", existing rooms included. */
static int room_bulk(const args_t *a) {
  long n = bulk_count(a);
  if (n == 0) return CHAT_ADMIN_EXIT_USAGE;
  typedef char name_t[CHAT_NAME_MAX + 1];
  name_t *names = chat_xcalloc((size_t)n, sizeof(name_t));
  chat_bulk_room_t *v = chat_xcalloc((size_t)n, sizeof(*v));
  int r = CHAT_ADMIN_EXIT_FAILED;
  chat_store_t *s = NULL;
  for (long i = 0; i < n; i++) {
    snprintf(names[i], sizeof(names[i]), "%s-%ld", a->prefix, i);
    if (!chat_room_name_valid(names[i])) {
      fprintf(stderr, "chatd: invalid room name %s\n", names[i]);
      goto out;
    }
    v[i].name = names[i];
  }
  s = open_store(a, 1);
  if (s == NULL) goto out;
  size_t created = 0;
  int rc = chat_store_rooms_bulk(s, v, (size_t)n, a->topic, chat_now_ms(), &created);
  if (rc) {
    r = store_err(rc, "room bulk");
    goto out;
  }
  audit(s, "room_bulk", a->prefix);
  for (long i = 0; i < n; i++) printf("%" PRId64 " %s\n", v[i].id, v[i].name);
  fprintf(stderr, "rooms %s-0 .. %s-%ld: %zu created, %zu existed\n", a->prefix, a->prefix, n - 1,
          created, (size_t)n - created);
  r = finish_output();
out:
  if (s) chat_store_close(s);
  free(v);
  free(names);
  return r;
}

static int cmd_user(int argc, char **argv) {
  const char *sub = argc >= 3 ? argv[2] : "";
  args_t a;
  int r;
  if (strcmp(sub, "add") == 0) {
    if ((r = parse(argc, argv, 3, O_ADMIN | O_EMAIL, 1, &a)) != 0) return r;
    /* The e-mail field is required; a local placeholder keeps it valid
     * until the user sets a real one. */
    return chat_admin_user_add(a.url, a.pos[0], a.email ? a.email : "admin@localhost.localdomain",
                               a.admin);
  }
  if (strcmp(sub, "bulk") == 0) {
    if ((r = parse(argc, argv, 3, O_PREFIX | O_COUNT | O_SESSIONS, 0, &a)) != 0) return r;
    return user_bulk(&a);
  }
  int list = strcmp(sub, "list") == 0;
  if (!list && strcmp(sub, "passwd") != 0 && strcmp(sub, "promote") != 0 &&
      strcmp(sub, "demote") != 0 && strcmp(sub, "ban") != 0 && strcmp(sub, "unban") != 0) {
    if (!*sub)
      return usage_err("%s", "user needs a command: add, passwd, promote, demote, ban, unban, list or bulk");
    return usage_err("unknown command: user %s", sub);
  }
  if ((r = parse(argc, argv, 3, list ? O_JSON : 0, list ? 0 : 1, &a)) != 0) return r;
  chat_store_t *s = open_store(&a, 0);
  if (s == NULL) return CHAT_ADMIN_EXIT_FAILED;
  if (list)
    r = user_list(s, a.json);
  else if (strcmp(sub, "passwd") == 0)
    r = user_passwd(s, a.pos[0]);
  else if (strcmp(sub, "promote") == 0)
    r = user_role(s, a.pos[0], CHAT_ROLE_ADMIN);
  else if (strcmp(sub, "demote") == 0)
    r = user_role(s, a.pos[0], CHAT_ROLE_USER);
  else
    r = user_ban(s, a.pos[0], strcmp(sub, "ban") == 0);
  chat_store_close(s);
  return r;
}

/* ---- rooms --------------------------------------------------------------- */

/* The room ref names: a number is an id (if there is such a room), else a
 * name, exact or ASCII case aside (names are unique that way). */
static int find_room(chat_store_t *s, const char *ref, chat_room_rec_t *out) {
  char *end;
  errno = 0;
  long long id = strtoll(ref, &end, 10);
  if (ref[0] >= '0' && ref[0] <= '9' && *end == '\0' && errno == 0 && id > 0) {
    int rc = chat_store_room_get(s, (int64_t)id, out);
    if (rc == 0) return 0;
    if (rc != CHAT_ENOTFOUND) return store_err(rc, "room lookup");
  }
  chat_room_rec_t *v = NULL;
  size_t n = 0, i, hit = (size_t)-1;
  int rc = chat_store_room_list(s, &v, &n);
  if (rc) return store_err(rc, "room list");
  for (i = 0; i < n && hit == (size_t)-1; i++)
    if (strcmp(v[i].name, ref) == 0) hit = i;
  for (i = 0; i < n && hit == (size_t)-1; i++)
    if (strcasecmp(v[i].name, ref) == 0) hit = i;
  if (hit != (size_t)-1) *out = v[hit];
  free(v);
  if (hit == (size_t)-1) {
    fprintf(stderr, "chatd: no room %s\n", ref);
    return CHAT_ADMIN_EXIT_NOT_FOUND;
  }
  return 0;
}

/* The rules of POST /api/rooms; prints why not. */
static int room_name_ok(const char *name) {
  if (chat_room_name_valid(name)) return 1;
  fprintf(stderr,
          "chatd: invalid room name: a room name has 1 to 64 characters, no control "
          "characters and no white space at either end\n");
  return 0;
}

static int room_add(chat_store_t *s, const char *name, const char *topic) {
  if (!room_name_ok(name)) return CHAT_ADMIN_EXIT_FAILED;
  if (topic && (strlen(topic) > CHAT_TOPIC_MAX_BYTES || !chat_utf8_valid(topic, strlen(topic)))) {
    fprintf(stderr, "chatd: a topic is UTF-8 of at most %d bytes\n", CHAT_TOPIC_MAX_BYTES);
    return CHAT_ADMIN_EXIT_FAILED;
  }
  chat_room_rec_t r;
  int rc = chat_store_room_create(s, name, topic ? topic : "", &r);
  if (rc == CHAT_EEXIST) {
    fprintf(stderr, "chatd: a room named %s exists\n", name);
    return CHAT_ADMIN_EXIT_FAILED;
  }
  if (rc) return store_err(rc, "room add");
  audit(s, "room_create", r.name);
  printf("created room %" PRId64 " %s\n", r.id, r.name);
  return CHAT_ADMIN_EXIT_OK;
}

/* The name a room is shown by (a private room's title; a group
 * conversation's members, "、"-separated) into out, and whether it is
 * private.  The public room's own name if its details cannot be read. */
static void room_shown(chat_store_t *s, const chat_room_rec_t *r, char *out, size_t cap,
                       int *priv) {
  chat_room_info_t *info = chat_xcalloc(1, sizeof(*info));
  *priv = 0;
  snprintf(out, cap, "%s", r->name);
  if (chat_store_room_info(s, r->id, 0, info) == 0) {
    *priv = info->priv;
    if (info->name[0] != '\0' || !info->priv) {
      snprintf(out, cap, "%s", info->name);
    } else {
      size_t len = 0;
      out[0] = '\0';
      for (size_t k = 0; k < info->nnames && len < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", k ? "\xe3\x80\x81" : "",
                                info->names[k]);
    }
  }
  free(info);
}

static int room_list(chat_store_t *s, int json) {
  chat_room_rec_t *v = NULL;
  size_t n = 0, i;
  int rc = chat_store_room_list(s, &v, &n);
  if (rc) return store_err(rc, "room list");
  /* Shown names and visibility, one lookup per room. */
  char (*shown)[CHAT_ROOM_TITLE_MAX] = chat_xcalloc(n ? n : 1, sizeof(*shown));
  int *priv = chat_xcalloc(n ? n : 1, sizeof(*priv));
  for (i = 0; i < n; i++) room_shown(s, &v[i], shown[i], sizeof(shown[i]), &priv[i]);
  chat_sb_t sb;
  chat_sb_init(&sb);
  if (json) {
    for (i = 0; i < n; i++) {
      chat_sb_puts(&sb, "{\"id\":");
      chat_sb_int(&sb, v[i].id);
      chat_sb_puts(&sb, ",\"name\":");
      chat_sb_json_str(&sb, shown[i], strlen(shown[i]));
      chat_sb_puts(&sb, ",\"topic\":");
      chat_sb_json_str(&sb, v[i].topic, strlen(v[i].topic));
      chat_sb_puts(&sb, priv[i] ? ",\"visibility\":\"private\"}" : ",\"visibility\":\"public\"}");
      if (put_line(&sb) != 0) break;
    }
  } else {
    int wid = 2, wname = 4;
    char num[32];
    for (i = 0; i < n; i++) {
      int w;
      snprintf(num, sizeof(num), "%" PRId64, v[i].id);
      if ((w = (int)strlen(num)) > wid) wid = w;
      if ((w = text_width(shown[i])) > wname) wname = w;
    }
    cell("ID", wid);
    cell("NAME", wname);
    cell("VISIBILITY", 10);
    fputs("TOPIC\n", stdout);
    for (i = 0; i < n; i++) {
      snprintf(num, sizeof(num), "%" PRId64, v[i].id);
      printf("%*s  ", wid, num);
      cell(shown[i], wname);
      cell(priv[i] ? "private" : "public", 10);
      /* A topic is one line here. */
      for (const char *p = v[i].topic; *p; p++) putchar(*p == '\n' || *p == '\r' ? ' ' : *p);
      putchar('\n');
    }
  }
  chat_sb_free(&sb);
  free(shown);
  free(priv);
  free(v);
  return finish_output();
}

static int room_rename(chat_store_t *s, const char *ref, const char *name) {
  chat_room_rec_t r, out;
  int rc = find_room(s, ref, &r);
  if (rc) return rc;
  if (!room_name_ok(name)) return CHAT_ADMIN_EXIT_FAILED;
  /* A public room's unique name, or a private room's title. */
  rc = chat_store_room_patch(s, r.id, name, NULL, NULL);
  if (rc == 0) rc = chat_store_room_get(s, r.id, &out);
  if (rc == CHAT_EEXIST) {
    fprintf(stderr, "chatd: a room named %s exists\n", name);
    return CHAT_ADMIN_EXIT_FAILED;
  }
  if (rc) return store_err(rc, "room rename");
  audit(s, "room_rename", name);
  printf("renamed room %" PRId64 " to %s\n", r.id, name);
  return CHAT_ADMIN_EXIT_OK;
}

static int room_delete(chat_store_t *s, const char *ref) {
  chat_room_rec_t r;
  int rc = find_room(s, ref, &r);
  if (rc) return rc;
  rc = chat_store_room_delete(s, r.id);
  if (rc) return store_err(rc, "room delete");
  audit(s, "room_delete", r.name);
  printf("deleted room %" PRId64 " %s and its messages\n", r.id, r.name);
  return CHAT_ADMIN_EXIT_OK;
}

static int cmd_room(int argc, char **argv) {
  const char *sub = argc >= 3 ? argv[2] : "";
  args_t a;
  int r, npos;
  unsigned allowed = 0;
  if (strcmp(sub, "bulk") == 0) {
    if ((r = parse(argc, argv, 3, O_PREFIX | O_COUNT | O_TOPIC, 0, &a)) != 0) return r;
    return room_bulk(&a);
  }
  if (strcmp(sub, "add") == 0) {
    npos = 1;
    allowed = O_TOPIC;
  } else if (strcmp(sub, "list") == 0) {
    npos = 0;
    allowed = O_JSON;
  } else if (strcmp(sub, "rename") == 0) {
    npos = 2;
  } else if (strcmp(sub, "delete") == 0) {
    npos = 1;
  } else {
    if (!*sub) return usage_err("%s", "room needs a command: add, list, rename, delete or bulk");
    return usage_err("unknown command: room %s", sub);
  }
  if ((r = parse(argc, argv, 3, allowed, npos, &a)) != 0) return r;
  chat_store_t *s = open_store(&a, strcmp(sub, "add") == 0);
  if (s == NULL) return CHAT_ADMIN_EXIT_FAILED;
  if (strcmp(sub, "add") == 0)
    r = room_add(s, a.pos[0], a.topic);
  else if (strcmp(sub, "list") == 0)
    r = room_list(s, a.json);
  else if (strcmp(sub, "rename") == 0)
    r = room_rename(s, a.pos[0], a.pos[1]);
  else
    r = room_delete(s, a.pos[0]);
  chat_store_close(s);
  return r;
}

/* ---- db ------------------------------------------------------------------ */

static int db_migrate(const args_t *a) {
  int before = 0, after = 0, known = 0;
  char err[512] = "";
  if (chat_store_schema_peek(a->url, &before, &known, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err[0] ? err : "cannot read the schema version");
    return CHAT_ADMIN_EXIT_FAILED;
  }
  if (before > known) {
    fprintf(stderr,
            "chatd: schema version %d, this chatd knows %d: the database is newer "
            "(use a newer chatd)\n",
            before, known);
    return CHAT_ADMIN_EXIT_FAILED;
  }
  chat_store_t *s = open_store(a, 1); /* opening migrates */
  if (s == NULL) return CHAT_ADMIN_EXIT_FAILED;
  chat_store_close(s);
  if (chat_store_schema_peek(a->url, &after, &known, err, sizeof(err)) != 0) {
    fprintf(stderr, "chatd: %s\n", err[0] ? err : "cannot read the schema version");
    return CHAT_ADMIN_EXIT_FAILED;
  }
  printf("schema version before: %d\n", before);
  printf("schema version after: %d\n", after);
  if (after == before)
    printf("up to date (this chatd knows %d)\n", known);
  else
    printf("applied %d migration%s\n", after - before, after - before == 1 ? "" : "s");
  return finish_output();
}

static int db_backup(const args_t *a, const char *dest) {
  char err[512] = "";
  if (is_mysql(a)) {
    char dump[1200] = "DATABASE";
    chat_store_mysql_dump_args(a->url, dump, sizeof(dump));
    fprintf(stderr,
            "chatd: db backup copies SQLite databases only.  Back up MySQL/MariaDB with its\n"
            "own tool, which takes a consistent snapshot while chatd runs, e.g.:\n"
            "  mariadb-dump --single-transaction --quick -p %s > chat.sql\n"
            "(mysqldump takes the same options; -p asks for the password)\n",
            dump);
    return CHAT_ADMIN_EXIT_UNSUPPORTED;
  }
  int pages = 0;
  int rc = chat_store_sqlite_backup(a->url, dest, a->force, &pages, err, sizeof(err));
  if (rc) {
    fprintf(stderr, "chatd: %s%s\n", err[0] ? err : "the backup failed",
            rc == CHAT_EEXIST ? " (--force replaces it)" : "");
    return CHAT_ADMIN_EXIT_FAILED;
  }
  printf("backed up %s to %s (%d pages)\n", sqlite_path(a), dest, pages);
  return finish_output();
}

static int cmd_db(int argc, char **argv) {
  const char *sub = argc >= 3 ? argv[2] : "";
  args_t a;
  int r;
  if (strcmp(sub, "migrate") == 0) {
    if ((r = parse(argc, argv, 3, 0, 0, &a)) != 0) return r;
    return db_migrate(&a);
  }
  if (strcmp(sub, "backup") == 0) {
    if ((r = parse(argc, argv, 3, O_FORCE, 1, &a)) != 0) return r;
    return db_backup(&a, a.pos[0]);
  }
  if (!*sub) return usage_err("%s", "db needs a command: migrate or backup");
  return usage_err("unknown command: db %s", sub);
}

/* ---- export -------------------------------------------------------------- */

/* Writes the messages of room with id > since, oldest first, one message
 * object (the API's, chat_proto_msg_obj) a line, EXPORT_PAGE at a time by
 * their numbers in the room (ids grow with them), so memory stays bounded
 * whatever the history. */
static int export_room(chat_store_t *s, const chat_room_rec_t *room, int64_t since) {
  int64_t from = 1, count = 0;
  chat_sb_t sb;
  int r = CHAT_ADMIN_EXIT_OK;
  chat_sb_init(&sb);
  for (;;) {
    chat_msg_rec_t *v = NULL;
    size_t n = 0, i;
    int rc = chat_store_msg_by_seq(s, room->id, from, INT64_MAX, EXPORT_PAGE, &v, &n);
    if (rc) {
      r = store_err(rc, "export");
      break;
    }
    for (i = 0; i < n && r == 0; i++) {
      if (v[i].id <= since) continue;
      chat_proto_msg_t m = {.id = v[i].id,
                            .room = v[i].room,
                            .to = NULL,
                            .sender = v[i].sender,
                            .text = v[i].text,
                            .text_len = strlen(v[i].text),
                            .ts = v[i].ts,
                            .seq = v[i].seq};
      chat_proto_msg_obj(&sb, &m);
      if (put_line(&sb) != 0) r = finish_output();
      count++;
    }
    if (n > 0) from = v[n - 1].seq + 1;
    chat_store_msgs_free(v, n);
    if (r || n < EXPORT_PAGE) break;
  }
  chat_sb_free(&sb);
  if (r == 0) r = finish_output();
  if (r == 0)
    fprintf(stderr, "exported %" PRId64 " message%s of room %" PRId64 " %s\n", count,
            count == 1 ? "" : "s", room->id, room->name);
  return r;
}

static int cmd_export(int argc, char **argv) {
  args_t a;
  int r;
  if ((r = parse(argc, argv, 2, O_SINCE, 1, &a)) != 0) return r;
  int64_t since = 0;
  if (a.since) {
    char *end;
    errno = 0;
    long long v = strtoll(a.since, &end, 10);
    if (errno || end == a.since || *end || v < 0)
      return usage_err("bad --since %s (want a message id, 0 or more)", a.since);
    since = v;
  }
  chat_store_t *s = open_store(&a, 0);
  if (s == NULL) return CHAT_ADMIN_EXIT_FAILED;
  chat_room_rec_t room;
  r = find_room(s, a.pos[0], &room);
  if (r == 0) r = export_room(s, &room, since);
  chat_store_close(s);
  return r;
}

/* ---- dispatch ------------------------------------------------------------ */

int chat_admin_main(int argc, char **argv) {
  const char *cmd = argv[1];
  /* The store's info lines (migrations applied...) are not this tool's
   * output; CHAT_LOG still chooses. */
  if (getenv("CHAT_LOG") == NULL) chat_log_set_level(CHAT_LOG_WARN);
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      chat_admin_help(stdout);
      return CHAT_ADMIN_EXIT_OK;
    }
  }
  if (strcmp(cmd, "help") == 0) {
    chat_admin_help(stdout);
    fputs("\nchatd --help lists the server's options.\n", stdout);
    return CHAT_ADMIN_EXIT_OK;
  }
  if (strcmp(cmd, "user") == 0) return cmd_user(argc, argv);
  if (strcmp(cmd, "room") == 0) return cmd_room(argc, argv);
  if (strcmp(cmd, "db") == 0) return cmd_db(argc, argv);
  if (strcmp(cmd, "export") == 0) return cmd_export(argc, argv);
  return usage_err("unknown command %s", cmd);
}
