#include "sdnotify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/common.h"
#include "../core/log.h"

#ifdef CHAT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

struct chat_sdnotify_s {
  uv_timer_t timer;
  int watchdog;        /* the timer is initialised */
};

static void watchdog_cb(uv_timer_t *t) {
  (void)t;
  sd_notify(0, "WATCHDOG=1");
}

static void free_cb(uv_handle_t *h) { free(h->data); }

chat_sdnotify_t *chat_sdnotify_ready(uv_loop_t *loop) {
  const char *sock = getenv("NOTIFY_SOCKET");
  if (sock == NULL || *sock == '\0') return NULL;
  int rc = sd_notifyf(0, "READY=1\nMAINPID=%lu", (unsigned long)getpid());
  if (rc <= 0) {
    chat_log_warn("sd_notify READY=1 failed: %s", rc < 0 ? strerror(-rc) : "no socket");
    return NULL;
  }
  chat_sdnotify_t *sd = chat_xcalloc(1, sizeof(*sd));
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    uint64_t ms = usec / 2000;  /* half the interval */
    if (ms == 0) ms = 1;
    uv_timer_init(loop, &sd->timer);
    sd->timer.data = sd;
    uv_timer_start(&sd->timer, watchdog_cb, ms, ms);
    uv_unref((uv_handle_t *)&sd->timer);
    sd->watchdog = 1;
    sd_notify(0, "WATCHDOG=1");
    chat_log_info("systemd watchdog: a ping every %llu ms", (unsigned long long)ms);
  }
  chat_log_info("systemd notified: ready");
  return sd;
}

void chat_sdnotify_stopping(chat_sdnotify_t *sd) {
  if (sd) sd_notify(0, "STOPPING=1");
}

void chat_sdnotify_close(chat_sdnotify_t *sd) {
  if (sd == NULL) return;
  if (sd->watchdog) {
    uv_timer_stop(&sd->timer);
    uv_close((uv_handle_t *)&sd->timer, free_cb);
  } else {
    free(sd);
  }
}

#else /* built without libsystemd */

chat_sdnotify_t *chat_sdnotify_ready(uv_loop_t *loop) {
  (void)loop;
  const char *sock = getenv("NOTIFY_SOCKET");
  if (sock && *sock) chat_log_warn("NOTIFY_SOCKET is set, but chatd was built without libsystemd");
  return NULL;
}

void chat_sdnotify_stopping(chat_sdnotify_t *sd) { (void)sd; }

void chat_sdnotify_close(chat_sdnotify_t *sd) { (void)sd; }

#endif
