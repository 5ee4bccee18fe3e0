#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "notifier.h"
#include "pacer.h"
#include "presence.h"
#include "storage.h"
#include "webhook.h"

static void printf_sb(chat_sb_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void printf_sb(chat_sb_t *out, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  chat_sb_append(out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void head(chat_sb_t *out, const char *name, const char *type, const char *help) {
  printf_sb(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(chat_sb_t *out, const char *name, const char *help, uint64_t v) {
  head(out, name, "counter", help);
  printf_sb(out, "%s %" PRIu64 "\n", name, v);
}

static void gauge(chat_sb_t *out, const char *name, const char *help, uint64_t v) {
  head(out, name, "gauge", help);
  printf_sb(out, "%s %" PRIu64 "\n", name, v);
}

/* One gauge per possible state, labelled state="...", 1 for the current. */
static void state_set(chat_sb_t *out, const char *name, const char *help,
                      const char *const *states, size_t n, const char *now) {
  head(out, name, "gauge", help);
  for (size_t i = 0; i < n; i++)
    printf_sb(out, "%s{state=\"%s\"} %d\n", name, states[i], strcmp(states[i], now) == 0);
}

static void histogram(chat_sb_t *out, const char *name, const char *help,
                      const chat_histo_t *h, const double *bounds, size_t nbounds) {
  head(out, name, "histogram", help);
  uint64_t cum = 0;
  for (size_t i = 0; i < nbounds; i++) {
    /* An observed histogram has its own bounds (the same ones); an unused
     * one renders the defaults with zero counts. */
    if (h->bounds && i < h->nbounds) cum += h->buckets[i];
    printf_sb(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], cum);
  }
  printf_sb(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
  printf_sb(out, "%s_sum %.9g\n", name, h->sum);
  printf_sb(out, "%s_count %" PRIu64 "\n", name, h->count);
}

void chat_metrics_render(const chat_services_t *svc, chat_sb_t *out) {
  const chat_metrics_t *m = svc->metrics;
  chat_api_stats_t st;
  chat_api_stats(svc, &st);

  /* connections */
  gauge(out, "chat_connections", "Open TCP connections.", st.conns);
  counter(out, "chat_connections_total", "Connections accepted.", st.conns_total);
  counter(out, "chat_connections_refused_total", "Connections refused: too many.",
          st.conns_refused);
  gauge(out, "chat_websockets", "Open WebSocket connections.", st.websockets);
  counter(out, "chat_ws_refused_total", "WebSockets closed at once: too many for the user.",
          st.ws_refused);
  counter(out, "chat_ws_slow_closes_total",
          "WebSockets closed with 1013: a slow consumer over its output cap.", m->slow_closes);
  /* output pacing (pacer.h) */
  head(out, "chat_loop_busy_ratio", "gauge",
       "Share of the last 0.1 s the event loop spent working (not waiting).");
  printf_sb(out, "chat_loop_busy_ratio %.3f\n", chat_pacer_busy(svc->pacer));
  head(out, "chat_ws_pace_interval_seconds", "gauge",
       "How long a busy WebSocket's next write waits for more frames (0: none).");
  printf_sb(out, "chat_ws_pace_interval_seconds %.6f\n",
            (double)chat_pacer_interval(svc->pacer) / 1e9);
  counter(out, "chat_socket_writes_total",
          "Writes of queued output to sockets (one carries every frame queued for it).",
          m->socket_writes);
  head(out, "chat_socket_write_seconds_total", "counter", "Time spent in those writes.");
  printf_sb(out, "chat_socket_write_seconds_total %.6f\n", (double)m->socket_write_ns / 1e9);
  counter(out, "chat_ws_dead_peers_total",
          "WebSockets closed as dead peers (nothing received for two ping intervals).",
          m->ws_dead_peers);
  counter(out, "chat_http_requests_total", "HTTP requests.", st.http_requests);

  /* traffic */
  gauge(out, "chat_rooms", "Rooms active (loaded) in this instance.", st.rooms);
  counter(out, "chat_ws_frames_in_total", "WebSocket messages received.", st.ws_frames_in);
  counter(out, "chat_ws_frames_limited_total", "WebSocket frames refused by flood control.",
          st.frames_limited);
  counter(out, "chat_messages_total", "Room messages stored and broadcast.", st.messages_sent);
  counter(out, "chat_dms_total", "Direct messages stored.", m->dms_in);
  counter(out, "chat_deliveries_total",
          "Message and direct message frames handed to WebSockets here.", m->deliveries);
  histogram(out, "chat_delivery_latency_seconds",
            "From a room message's arrival to its frames handed to the members' connections.",
            &m->delivery_latency, chat_histo_seconds, chat_histo_seconds_n);

  /* accounts */
  counter(out, "chat_login_failures_total", "Logins refused: wrong username or password.",
          m->logins_failed);
  gauge(out, "chat_hash_pending", "Password hashes waiting or running.", st.hash_pending);
  counter(out, "chat_hash_refused_total", "Logins and registrations answered busy.",
          st.hash_refused);

  /* store */
  static const char *const store_states[] = {"ok", "read_only", "down", "unknown"};
  const char *store_now = "unknown";
  if (svc->health && svc->health->have && svc->health->store >= 0 && svc->health->store <= 2)
    store_now = store_states[svc->health->store];
  state_set(out, "chat_store_state",
            "The store at the last health probe (GET /healthz); unknown before one.",
            store_states, 4, store_now);
  gauge(out, "chat_store_pending", "Store jobs and message inserts not finished yet.",
        chat_storage_pending(svc->storage));
  counter(out, "chat_store_batches_total", "Message batches committed.", st.store_batches);
  head(out, "chat_store_write_seconds_total", "counter", "Time spent committing batches.");
  printf_sb(out, "chat_store_write_seconds_total %.6f\n", (double)st.store_write_ns / 1e9);
  const chat_histo_t *commit, *size;
  chat_storage_histos(svc->storage, &commit, &size);
  histogram(out, "chat_store_commit_seconds", "Time to commit one batch of messages.", commit,
            chat_histo_seconds, chat_histo_seconds_n);
  histogram(out, "chat_store_batch_messages", "Messages in one committed batch.", size,
            chat_histo_sizes, chat_histo_sizes_n);
  chat_store_sync_stats_t sy;
  chat_storage_sync_stats(svc->storage, &sy);
  if (sy.have) { /* SQLite (store/sqlite_sync.c) */
    counter(out, "chat_sqlite_syncs_total",
            "fdatasyncs of the WAL; each makes every commit before it durable.", sy.syncs);
    counter(out, "chat_sqlite_checkpoints_total", "WAL checkpoints run by the checkpoint thread.",
            sy.checkpoints);
    counter(out, "chat_sqlite_wal_waits_total",
            "Commits that waited for a checkpoint because the WAL had reached"
            " chat_sqlite_wal_cap_pages.", sy.wal_waits);
    gauge(out, "chat_sqlite_wal_cap_pages",
          "WAL pages after a commit at which that commit waits for a checkpoint.",
          sy.wal_cap_pages);
  }

  /* Redis */
  static const char *const redis_states[] = {"up", "down", "off"};
  chat_presence_t *p = svc->presence;
  const char *r = p->ops->backend_state(p);
  state_set(out, "chat_redis_state", "Redis (presence and events across instances): up, "
            "down, or off when not configured.", redis_states, 3,
            strcmp(r, "ok") == 0 ? "up" : r);

  /* mail */
  chat_notifier_stats_t ns;
  memset(&ns, 0, sizeof(ns));
  if (svc->notifier) chat_notifier_stats(svc->notifier, &ns);
  gauge(out, "chat_mail_enabled", "1 when mail notifications are configured.",
        svc->notifier != NULL);
  gauge(out, "chat_mail_queue", "Missed items waiting to be mailed from this instance.",
        ns.pending);
  gauge(out, "chat_mail_sending", "Mails being sent now.", ns.sending);
  counter(out, "chat_mail_sent_total", "Mails the SMTP server accepted.", ns.sent);
  counter(out, "chat_mail_failed_total", "Mail attempts that failed.", ns.failed);
  counter(out, "chat_mail_dropped_total", "Missed items that will never be mailed.",
          ns.dropped);
  counter(out, "chat_mail_shared_items_total", "Missed items batched through Redis.",
          ns.shared);
  counter(out, "chat_mail_local_items_total",
          "Missed items batched in this instance while Redis was unreachable.", ns.local);
  gauge(out, "chat_mail_shared_up", "Mail batching is shared through Redis now.",
        ns.shared_up);

  /* webhook */
  chat_webhook_stats_t ws;
  memset(&ws, 0, sizeof(ws));
  if (svc->webhook) chat_webhook_stats(svc->webhook, &ws);
  gauge(out, "chat_webhook_enabled", "1 when webhook notifications are configured.",
        svc->webhook != NULL);
  gauge(out, "chat_webhook_queue", "Items waiting to be POSTed from this instance.", ws.pending);
  gauge(out, "chat_webhook_sending", "POSTs under way or waiting to be retried.", ws.sending);
  counter(out, "chat_webhook_sent_total", "POSTs the receiver answered with 2xx.", ws.sent);
  counter(out, "chat_webhook_failed_total", "POST attempts that failed (each retry counts).",
          ws.failed);
  counter(out, "chat_webhook_retried_total", "POST attempts made after a failure.", ws.retried);
  counter(out, "chat_webhook_dropped_total", "Items that will never be POSTed.", ws.dropped);
  counter(out, "chat_webhook_overflow_total", "Items dropped because the queue was full.",
          ws.overflow);
}
