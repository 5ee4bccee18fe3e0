/* The admin tool: what `chatd user add` and the other administration
 * commands do, apart from the server.
 *
 * chat_admin_create_user (chat.h) writes a user straight into a store;
 * chat_admin_user_add is the command around it (password from standard
 * input, a line of output); admin_cli.c has the others (chat_admin_main).
 * All block: for command-line tools, never on a running loop. */
#ifndef CHAT_ADMIN_H
#define CHAT_ADMIN_H

#include <stddef.h>
#include <stdio.h>

/* Reads the password (one line from standard input; asked for without echo
 * when that is a terminal) and creates user name with email (admin: 0 or
 * 1) in the store at store_url.  Prints "created ..." on standard output,
 * or the reason on standard error.  Returns the process exit code: 0, 1
 * (the store refused or failed) or 2 (no password given). */
int chat_admin_user_add(const char *store_url, const char *name, const char *email, int admin);

/* Reads one line of password from standard input (without the line end),
 * asking for it without echo when that is a terminal.  buf gets at most
 * len - 1 bytes.  Returns 0, -1 if there is none, -2 if it holds a NUL
 * byte.  The caller wipes buf when done. */
int chat_admin_read_password(char *buf, size_t len);

/* ---- the administration commands (admin_cli.c) ----------------------- */

/* 1 if word (argv[1]) names an administration command: user, room, db,
 * export or help. */
int chat_admin_is_command(const char *word);
/* Runs the command argv[1..] (chat_admin_is_command(argv[1])) and returns
 * the process exit code, CHAT_ADMIN_EXIT_* below.  Output on standard
 * output, errors on standard error; never a password. */
int chat_admin_main(int argc, char **argv);
/* Writes the commands, their options and the exit codes to f. */
void chat_admin_help(FILE *f);

enum {
  CHAT_ADMIN_EXIT_OK = 0,
  CHAT_ADMIN_EXIT_FAILED = 1,      /* the store failed or refused the change */
  CHAT_ADMIN_EXIT_USAGE = 2,       /* bad command line, or no password given */
  CHAT_ADMIN_EXIT_NOT_FOUND = 3,   /* no such user or room */
  CHAT_ADMIN_EXIT_UNSUPPORTED = 4, /* not for this kind of store (db backup
                                      on MySQL: use mariadb-dump) */
};

#endif
