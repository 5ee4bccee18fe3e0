/* Shared basics: error codes, the out-of-memory policy, container_of.
 *
 * Out-of-memory policy: the chat_x* allocators abort the process with a
 * message when malloc fails.  A chat server that cannot allocate a few
 * hundred bytes cannot make progress in any useful way, and a single policy
 * keeps every call site free of unreachable error paths.  Code that allocates
 * sizes chosen by a peer (bodies, frames) checks its limits *before*
 * allocating, so a peer can never make us ask for an absurd amount. */
#ifndef CHAT_CORE_COMMON_H
#define CHAT_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

#define CHAT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Error codes: 0 is success, failures are these negative values. */
enum {
  CHAT_OK = 0,
  CHAT_ENOTFOUND = -1,   /* no such row / object */
  CHAT_EEXIST = -2,      /* unique constraint: name taken */
  CHAT_EUNAVAIL = -3,    /* the store (or another service) is down */
  CHAT_EINVAL = -4,      /* caller passed something invalid */
  CHAT_EIO = -5,         /* I/O error */
  CHAT_EAGAIN = -6,      /* try again later */
};

void *chat_xmalloc(size_t n);
void *chat_xcalloc(size_t n, size_t size);
void *chat_xrealloc(void *p, size_t n);
char *chat_xstrdup(const char *s);
char *chat_xstrndup(const char *s, size_t n);

/* Milliseconds since the Unix epoch (wall clock). */
int64_t chat_now_ms(void);

#endif
