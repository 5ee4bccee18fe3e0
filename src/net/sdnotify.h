/* systemd's service notification (sd_notify(3)) for chatd under a
 * Type=notify unit: READY=1 once the server listens and its store is open,
 * WATCHDOG=1 from a loop timer at half of WatchdogSec while the loop turns
 * (a stuck loop stops the pings, and systemd restarts the service), and
 * STOPPING=1 when a stop begins.
 *
 * Everything is a no-op when NOTIFY_SOCKET is not set (not under systemd)
 * or when chatd was built without libsystemd.  Loop thread only. */
#ifndef CHAT_NET_SDNOTIFY_H
#define CHAT_NET_SDNOTIFY_H

#include <uv.h>

typedef struct chat_sdnotify_s chat_sdnotify_t;

/* Sends READY=1 (with the MAINPID) and, when the service manager asks for a
 * watchdog for this process (WATCHDOG_USEC, and WATCHDOG_PID if set), starts
 * the timer that sends WATCHDOG=1; the timer does not keep the loop alive.
 * Returns the notifier (owned by the caller, released with
 * chat_sdnotify_close), or NULL when there is nothing to notify. */
chat_sdnotify_t *chat_sdnotify_ready(uv_loop_t *loop);
/* Sends STOPPING=1; the watchdog keeps pinging during the drain.  sd may be
 * NULL. */
void chat_sdnotify_stopping(chat_sdnotify_t *sd);
/* Stops the watchdog and frees sd once its timer is closed (before
 * uv_loop_close returns success).  sd may be NULL. */
void chat_sdnotify_close(chat_sdnotify_t *sd);

#endif
