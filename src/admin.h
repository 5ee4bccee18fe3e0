/* The admin tool: what `chatd user add` does, apart from the server.
 *
 * chat_admin_create_user (chat.h) writes a user straight into a store;
 * chat_admin_user_add is the command around it (password from standard
 * input, a line of output).  Both block: for command-line tools, never on a
 * running loop. */
#ifndef CHAT_ADMIN_H
#define CHAT_ADMIN_H

/* Reads the password (one line from standard input; asked for without echo
 * when that is a terminal) and creates user name with email (admin: 0 or
 * 1) in the store at store_url.  Prints "created ..." on standard output,
 * or the reason on standard error.  Returns the process exit code: 0, 1
 * (the store refused or failed) or 2 (no password given). */
int chat_admin_user_add(const char *store_url, const char *name, const char *email, int admin);

#endif
