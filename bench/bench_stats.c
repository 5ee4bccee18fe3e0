/*
 * chatbench: the figures of a run.  Errors are counted by kind here; server
 * memory (VmRSS/VmHWM) and CPU time come from /proc; the report prints the
 * summary and the machine-readable RESULT line (bench.h).
 *
 * bench/run.sh and bench/stores.sh read the RESULT line's fields by key: keep
 * every key and its format.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ERROR_KINDS 32

typedef struct {
  char what[96];
  uint64_t n;
} error_kind_t;

static struct {
  uint64_t errors;
  error_kind_t kinds[MAX_ERROR_KINDS];
  int n_kinds;
} errs;

void bench_error_add(const char *fmt, ...) {
  char what[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  errs.errors++;
  for (int i = 0; i < errs.n_kinds; i++)
    if (strcmp(errs.kinds[i].what, what) == 0) {
      errs.kinds[i].n++;
      return;
    }
  /* The last slot collects whatever does not fit. */
  int i = errs.n_kinds < MAX_ERROR_KINDS - 1 ? errs.n_kinds++ : MAX_ERROR_KINDS - 1;
  if (i == MAX_ERROR_KINDS - 1) {
    if (errs.n_kinds < MAX_ERROR_KINDS) errs.n_kinds = MAX_ERROR_KINDS;
    snprintf(errs.kinds[i].what, sizeof(errs.kinds[i].what), "other kinds");
    errs.kinds[i].n++;
    return;
  }
  snprintf(errs.kinds[i].what, sizeof(errs.kinds[i].what), "%s", what);
  errs.kinds[i].n = 1;
}

rss_t bench_stats_rss(int pid) {
  rss_t r = {-1, -1};
  if (pid <= 0) return r;
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return r;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) r.rss_kb = strtol(line + 6, NULL, 10);
    if (strncmp(line, "VmHWM:", 6) == 0) r.hwm_kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  return r;
}

double bench_stats_server_cpu(int pid) {
  if (pid <= 0) return -1;
  char path[64], line[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(line, 1, sizeof(line) - 1, f);
  fclose(f);
  line[n] = '\0';
  /* Fields after the parenthesised command name: state is field 3, utime 14, stime 15. */
  char *p = strrchr(line, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  long tck = sysconf(_SC_CLK_TCK);
  return tck > 0 ? (double)(ut + st) / (double)tck : -1;
}

double bench_stats_self_cpu(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static const char *cpu_str(double a, double b, char *out, size_t n) {
  if (a < 0 || b < 0)
    snprintf(out, n, "na");
  else
    snprintf(out, n, "%.2f", b - a);
  return out;
}

static const char *kb_str(long kb, char *out, size_t n) {
  if (kb < 0)
    snprintf(out, n, "na");
  else
    snprintf(out, n, "%ld", kb);
  return out;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in ms. */
static double pct_ms(const uint32_t *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)(p * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1] / 1000.0;
}

void bench_report(const opts_t *o, figures_t *fig) {
  uint64_t now = uv_hrtime();
  double setup_s = ((fig->t_setup_done ? fig->t_setup_done : now) - fig->t_start) / 1e9;
  double secs = fig->t_send0 && fig->t_last > fig->t_send0 ? (fig->t_last - fig->t_send0) / 1e9 : 0;
  double mps = secs > 0 ? fig->acked / secs : 0;
  double dps = secs > 0 ? fig->deliveries / secs : 0;
  qsort(fig->lat_echo, fig->n_lat_echo, sizeof(uint32_t), cmp_u32);
  qsort(fig->lat_ack, fig->n_lat_ack, sizeof(uint32_t), cmp_u32);
  int echo = fig->n_lat_echo > 0;
  const uint32_t *lat = echo ? fig->lat_echo : fig->lat_ack;
  size_t nlat = echo ? fig->n_lat_echo : fig->n_lat_ack;
  double p50 = pct_ms(lat, nlat, 0.50), p90 = pct_ms(lat, nlat, 0.90);
  double p99 = pct_ms(lat, nlat, 0.99), pmax = nlat ? lat[nlat - 1] / 1000.0 : 0;
  uint64_t total = (uint64_t)fig->ready_at_start * (uint64_t)o->messages;
  uint64_t missing = fig->expected > fig->deliveries ? fig->expected - fig->deliveries : 0;
  char a[24], b[24], c[24], d[24], e[24], f[24], sc[24], cc[24];
  cpu_str(fig->srv_cpu0, fig->srv_cpu1, sc, sizeof sc);
  cpu_str(fig->cli_cpu0, fig->cli_cpu1, cc, sizeof cc);

  printf("chatbench %s: %s, %d clients, %d room(s), %d msgs/client, window %d, %d-byte texts\n",
         o->label, o->url, o->clients, o->rooms, o->messages, o->window, o->size);
  printf("  setup    %d/%d clients joined in %.2f s (registered %" PRIu64 ", existing %" PRIu64
         ", logged in %" PRIu64 ")\n",
         fig->ready_at_start ? fig->ready_at_start : fig->ready, o->clients, setup_s,
         fig->registered, fig->existed, fig->logged_in);
  printf("  sends    %" PRIu64 "/%" PRIu64 " acked, %" PRIu64 " refused, %" PRIu64
         " abandoned in %.3f s: %.0f msgs/s\n",
         fig->acked, total, fig->failed, fig->abandoned, secs, mps);
  printf("  fan-out  %" PRIu64 " message frames received (expected %" PRIu64 ", missing %" PRIu64
         "): %.0f deliveries/s\n",
         fig->deliveries, fig->expected, missing, dps);
  if (nlat)
    printf("  latency  %s, ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%zu)\n",
           echo ? "send -> own message frame" : "send -> ack (no echo seen)", p50, p90, p99, pmax,
           nlat);
  else
    printf("  latency  no samples\n");
  if (echo)
    printf("  ack      ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%zu)\n",
           pct_ms(fig->lat_ack, fig->n_lat_ack, 0.5), pct_ms(fig->lat_ack, fig->n_lat_ack, 0.9),
           pct_ms(fig->lat_ack, fig->n_lat_ack, 0.99),
           fig->n_lat_ack ? fig->lat_ack[fig->n_lat_ack - 1] / 1000.0 : 0, fig->n_lat_ack);
  if (o->pid > 0)
    printf("  server   pid %d VmRSS kB: before %s, joined %s, after %s; VmHWM kB: before %s, after %s\n",
           o->pid, kb_str(fig->rss_before.rss_kb, a, sizeof a), kb_str(fig->rss_joined.rss_kb, b, sizeof b),
           kb_str(fig->rss_after.rss_kb, c, sizeof c), kb_str(fig->rss_before.hwm_kb, d, sizeof d),
           kb_str(fig->rss_after.hwm_kb, e, sizeof e));
  if (fig->t_send0) {
    double wall = (fig->t_last > fig->t_send0 ? fig->t_last - fig->t_send0 : 0) / 1e9;
    printf("  cpu      send phase (%.3f s): server %s s, chatbench %s s\n", wall, sc, cc);
  }
  printf("  errors   %" PRIu64 "%s\n", errs.errors,
         fig->timed_out ? " (timed out)" : fig->interrupted ? " (interrupted)" : "");
  for (int i = 0; i < errs.n_kinds; i++)
    printf("           %6" PRIu64 "  %s\n", errs.kinds[i].n, errs.kinds[i].what);
  printf("RESULT server=%s clients=%d rooms=%d messages=%" PRIu64
         " seconds=%.3f msgs_per_s=%.0f deliveries_per_s=%.0f p50_ms=%.2f p99_ms=%.2f"
         " rss_before_kb=%s rss_after_kb=%s errors=%" PRIu64
         " p90_ms=%.2f max_ms=%.2f latency=%s deliveries=%" PRIu64 " missing_deliveries=%" PRIu64
         " ready=%d rss_joined_kb=%s hwm_after_kb=%s setup_s=%.2f server_cpu_s=%s client_cpu_s=%s"
         " timed_out=%d\n",
         o->label, o->clients, o->rooms, fig->acked, secs, mps, dps, p50, p99,
         kb_str(fig->rss_before.rss_kb, a, sizeof a), kb_str(fig->rss_after.rss_kb, c, sizeof c),
         errs.errors,
         p90, pmax, echo ? "echo" : "ack", fig->deliveries, missing, fig->ready_at_start,
         kb_str(fig->rss_joined.rss_kb, b, sizeof b), kb_str(fig->rss_after.hwm_kb, f, sizeof f),
         setup_s, sc, cc, fig->timed_out);
  fflush(stdout);
}

/* ---------------------------------------------------------------------- */
/* open loop (--rate) and idle runs                                       */

void bench_hist_add(hist_t *h, uint64_t us) {
  size_t idx;
  if (us < 2048) {
    idx = (size_t)us;
  } else {
    int e = 63 - __builtin_clzll(us); /* 11.. */
    size_t sub = (size_t)(us >> (e - 10)) & 1023;
    idx = 2048 + (size_t)(e - 11) * 1024 + sub;
    if (idx >= HIST_BUCKETS) idx = HIST_BUCKETS - 1;
  }
  h->b[idx]++;
  h->n++;
  if (us > h->max_us) h->max_us = us;
}

/* The smallest value of bucket idx, in us. */
static uint64_t hist_value(size_t idx) {
  if (idx < 2048) return idx;
  size_t e = (idx - 2048) / 1024 + 11, sub = (idx - 2048) % 1024;
  return (uint64_t)(1024 + sub) << (e - 10);
}

double bench_hist_pct_ms(const hist_t *h, double p) {
  if (h->n == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > h->n) rank = h->n;
  uint64_t seen = 0;
  for (size_t i = 0; i < HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t v = hist_value(i);
      return (v > h->max_us ? h->max_us : v) / 1000.0;
    }
  }
  return h->max_us / 1000.0;
}

void bench_errors_reset(void) { memset(&errs, 0, sizeof(errs)); }

int bench_report_rate(const opts_t *o, figures_t *fig, const rate_figures_t *rf) {
  uint64_t now = uv_hrtime();
  double setup_s = ((fig->t_setup_done ? fig->t_setup_done : now) - fig->t_start) / 1e9;
  char a[24], b[24], c[24], d[24], f[24], sc[24], cc[24];
  cpu_str(fig->srv_cpu0, fig->srv_cpu1, sc, sizeof sc);
  cpu_str(fig->cli_cpu0, fig->cli_cpu1, cc, sizeof cc);
  int ready = fig->ready_at_start ? fig->ready_at_start : fig->ready;
  if (!rf) {
    /* idle: connections held, memory per connection */
    long before = fig->rss_before.rss_kb, joined = fig->rss_joined.rss_kb;
    long held = fig->rss_after.rss_kb >= 0 ? fig->rss_after.rss_kb : joined;
    double per = before >= 0 && held >= 0 && ready > 0 ? (double)(held - before) / ready : -1;
    char per_s[24];
    if (per < 0)
      snprintf(per_s, sizeof per_s, "na");
    else
      snprintf(per_s, sizeof per_s, "%.2f", per);
    printf("chatbench %s: %s, idle, %d connections (%d per user)%s\n", o->label, o->url, o->clients,
           o->conns_per_user, o->no_join ? ", no join" : "");
    printf("  setup    %d/%d connected%s in %.2f s (%.0f connections/s)\n", ready, o->clients,
           o->no_join ? "" : " and joined", setup_s, setup_s > 0 ? ready / setup_s : 0);
    if (o->pid > 0)
      printf("  server   pid %d VmRSS kB: before %s, connected %s, after hold %s; VmHWM kB %s;"
             " %s KiB per connection\n",
             o->pid, kb_str(before, a, sizeof a), kb_str(joined, b, sizeof b),
             kb_str(fig->rss_after.rss_kb, c, sizeof c), kb_str(fig->rss_after.hwm_kb, d, sizeof d),
             per_s);
    printf("  errors   %" PRIu64 "%s\n", errs.errors,
           fig->timed_out ? " (timed out)" : fig->interrupted ? " (interrupted)" : "");
    for (int i = 0; i < errs.n_kinds; i++)
      printf("           %6" PRIu64 "  %s\n", errs.kinds[i].n, errs.kinds[i].what);
    printf("RESULT server=%s mode=idle clients=%d ready=%d conns_per_user=%d setup_s=%.2f"
           " conns_per_s=%.0f rss_before_kb=%s rss_joined_kb=%s rss_after_kb=%s hwm_after_kb=%s"
           " kib_per_conn=%s errors=%" PRIu64 " timed_out=%d\n",
           o->label, o->clients, ready, o->conns_per_user, setup_s,
           setup_s > 0 ? ready / setup_s : 0, kb_str(before, a, sizeof a),
           kb_str(joined, b, sizeof b), kb_str(fig->rss_after.rss_kb, c, sizeof c),
           kb_str(fig->rss_after.hwm_kb, d, sizeof d), per_s, errs.errors, fig->timed_out);
    fflush(stdout);
    return ready > 0;
  }
  double ws = rf->window_s > 0 ? rf->window_s : 0;
  double mps = ws > 0 ? rf->sent_window / ws : 0;
  double dps = ws > 0 ? rf->deliveries_window / ws : 0;
  const hist_t *dl = rf->deliver, *ak = rf->ack;
  double p50 = bench_hist_pct_ms(dl, 0.5), p90 = bench_hist_pct_ms(dl, 0.9);
  double p99 = bench_hist_pct_ms(dl, 0.99), pmax = dl->max_us / 1000.0;
  uint64_t unacked = rf->sent > rf->acked ? rf->sent - rf->acked : 0;
  int ok = dl->n > 0 && p99 < 100.0 && rf->missing == 0 && unacked == 0 && rf->unsent == 0 &&
           mps >= 0.97 * o->rate;
  printf("chatbench %s: %s, open loop %d msgs/s for %.1f s (+%.1f s warm-up), %d clients"
         " (%d sending), %d room(s), %d-byte texts\n",
         o->label, o->url, o->rate, o->duration_s, o->warmup_s, o->clients, rf->senders, o->rooms,
         o->size);
  printf("  setup    %d/%d clients ready in %.2f s\n", ready, o->clients, setup_s);
  printf("  sends    %" PRIu64 " scheduled, %" PRIu64 " sent, %" PRIu64 " acked, %" PRIu64
         " refused, %" PRIu64 " not sent; in the window: %.0f msgs/s (target %d, %.1f%%)\n",
         rf->scheduled, rf->sent, rf->acked, rf->refused, rf->unsent, mps, o->rate,
         o->rate ? 100.0 * mps / o->rate : 0);
  printf("  fan-out  %" PRIu64 " message frames (expected %" PRIu64 ", missing %" PRIu64
         ", extra %" PRIu64 "); in the window: %.0f deliveries/s%s\n",
         rf->deliveries, rf->expected, rf->missing, rf->extra, dps,
         rf->drain_cut ? " (wait for late frames cut by --drain-max: missing includes late)" : "");
  printf("  lag      chatbench's own lateness (actual send - due), ms: p50 %.2f  p99 %.2f  max %.2f\n",
         bench_hist_pct_ms(rf->lag, 0.5), bench_hist_pct_ms(rf->lag, 0.99), rf->lag->max_us / 1000.0);
  printf("  latency  scheduled send -> each delivery, ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f"
         "  (n=%" PRIu64 ")\n",
         p50, p90, p99, pmax, dl->n);
  printf("  ack      scheduled send -> ack, ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%" PRIu64
         ")\n",
         bench_hist_pct_ms(ak, 0.5), bench_hist_pct_ms(ak, 0.9), bench_hist_pct_ms(ak, 0.99),
         ak->max_us / 1000.0, ak->n);
  if (o->pid > 0)
    printf("  server   pid %d VmRSS kB: before %s, joined %s, after %s; VmHWM kB %s\n", o->pid,
           kb_str(fig->rss_before.rss_kb, a, sizeof a), kb_str(fig->rss_joined.rss_kb, b, sizeof b),
           kb_str(fig->rss_after.rss_kb, c, sizeof c), kb_str(fig->rss_after.hwm_kb, d, sizeof d));
  printf("  cpu      window (%.2f s): server %s s, chatbench %s s\n", ws, sc, cc);
  printf("  errors   %" PRIu64 "%s\n", errs.errors,
         fig->timed_out ? " (timed out)" : fig->interrupted ? " (interrupted)" : "");
  for (int i = 0; i < errs.n_kinds; i++)
    printf("           %6" PRIu64 "  %s\n", errs.kinds[i].n, errs.kinds[i].what);
  printf("  verdict  %s (ok: p99 < 100 ms, nothing missing or unacked, >= 97%% of the rate)\n",
         ok ? "ok" : "NOT ok");
  printf("RESULT server=%s mode=rate clients=%d rooms=%d rate=%d msgs_per_s=%.0f"
         " deliveries_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f"
         " ack_p50_ms=%.2f ack_p99_ms=%.2f ack_max_ms=%.2f scheduled=%" PRIu64 " sent=%" PRIu64
         " acked=%" PRIu64 " unacked=%" PRIu64 " refused=%" PRIu64 " unsent=%" PRIu64
         " deliveries=%" PRIu64 " missing_deliveries=%" PRIu64 " extra_deliveries=%" PRIu64
         " errors=%" PRIu64 " seconds=%.3f ready=%d senders=%d setup_s=%.2f rss_before_kb=%s"
         " rss_joined_kb=%s rss_after_kb=%s hwm_after_kb=%s server_cpu_s=%s client_cpu_s=%s"
         " timed_out=%d send_lag_p99_ms=%.2f drain_cut=%d ok=%d\n",
         o->label, o->clients, o->rooms, o->rate, mps, dps, p50, p90, p99, pmax,
         bench_hist_pct_ms(ak, 0.5), bench_hist_pct_ms(ak, 0.99), ak->max_us / 1000.0,
         rf->scheduled, rf->sent, rf->acked, unacked, rf->refused, rf->unsent, rf->deliveries,
         rf->missing, rf->extra, errs.errors, ws, ready, rf->senders, setup_s,
         kb_str(fig->rss_before.rss_kb, a, sizeof a), kb_str(fig->rss_joined.rss_kb, b, sizeof b),
         kb_str(fig->rss_after.rss_kb, c, sizeof c), kb_str(fig->rss_after.hwm_kb, f, sizeof f), sc,
         cc, fig->timed_out, bench_hist_pct_ms(rf->lag, 0.99), rf->drain_cut, ok);
  fflush(stdout);
  return ok;
}
