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
