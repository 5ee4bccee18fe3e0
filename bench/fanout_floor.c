/*
 * fanout_floor: what writing the fan-out alone costs on this machine, with
 * no chat server at all (bench/README.md, "The write floor").
 *
 * A writer (pinned to one core, as chatd is in table.sh) owns one end of
 * rooms x members loopback TCP connections; a reader process (pinned to the
 * other core, as chatbench is) owns the other ends: two processes, so that
 * each holds one descriptor per connection, as a server and its clients do.  The writer makes
 * up messages on an open-loop schedule (message k is due at t0 + k/rate,
 * in room k % rooms) and puts one frame per member of the room into that
 * member's buffer: no socket reads, no parsing, no storage, no JSON.  Every
 * FLUSH milliseconds it writes each member that has frames, one write()
 * each, the way a server writes each connection once per pass; with a
 * flush of 0 every message is written to its members at once, one write per
 * delivery.  The reader takes each frame's due time from its first 8 bytes
 * and records arrival minus due time.
 *
 * So the figures are a floor for any server on this machine: a real one
 * must also read every message from its socket, store it, index it and
 * build the frames, on the same core.  For each flush interval it prints
 * the writes a second, the writer's CPU per write and its share of its
 * core, and the latency percentiles.  A share near 1.00 means the writes
 * alone fill the core: that interval is out of reach whatever else the
 * server does.
 *
 * Linux only (epoll, sched_setaffinity); needs no library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLUSHES 16
#define OUT_CAP (256 * 1024)  /* bytes queued for one member before frames are dropped */
#define OUT_START 4096        /* a member's first buffer; it doubles up to OUT_CAP */
#define HIST_US 2000000       /* latency buckets of 1 us up to 2 s; above goes to the last */

typedef struct {
  int rooms, members, frame, writer_cpu, reader_cpu;
  double rate, duration, warmup;
  double flushes[MAX_FLUSHES];
  int nflush;
} opts_t;

typedef struct {
  char *buf;
  size_t off, len, cap; /* unsent bytes are buf[off, len) */
} out_t;

typedef struct {
  const opts_t *o;
  double flush_ms;
  int n;                  /* connections */
  int *wfd;               /* the writer's ends */
  out_t *out;             /* what each member has queued */
  uint64_t t0, win_start, win_end;
  /* the writer's figures, from the window's start to the writer's end */
  uint64_t writes, dropped, late_max_ns;
  uint64_t msgs_win;      /* messages due in the window, each made */
  uint64_t unsent;        /* frames still queued when the writer gave up */
  double writer_cpu_s, writer_wall_s;
} run_t;

/* What the reader sends back when every connection has closed. */
typedef struct {
  uint64_t frames_win;
  double p50_ms, p99_ms;
  double cpu_win_s;       /* the reader's CPU over the window */
} reader_result_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "fanout_floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) {
    fprintf(stderr, "fanout_floor: out of memory\n");
    exit(3);
  }
  return p;
}

/* To cpu, or to every online cpu for -1. */
static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < ncpu && c < CPU_SETSIZE; c++)
    if (cpu < 0 || c == cpu) CPU_SET((int)c, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

static void sleep_until(uint64_t t) {
  struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Reads or writes exactly n bytes on a blocking descriptor; 0 or -1. */
static int full_io(int fd, void *p, size_t n, int wr) {
  char *c = p;
  while (n) {
    ssize_t k = wr ? write(fd, c, n) : read(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    c += k;
    n -= (size_t)k;
  }
  return 0;
}

static void reader_main(const opts_t *o, int n, const struct sockaddr_in *a, int go_fd,
                        int res_fd);

/* Starts the reader process, which connects n sockets to a listener of
 * ours; r->wfd gets the accepted ends (TCP_NODELAY and non-blocking, as a
 * server's).  Returns the reader's pid; *go and *res are the pipes that
 * send it t0 and bring its result. */
static pid_t start_reader(run_t *r, int *go, int *res) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) die("socket");
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0) die("bind");
  if (listen(ls, 4096) != 0) die("listen");
  if (getsockname(ls, (struct sockaddr *)&a, &al) != 0) die("getsockname");
  int gp[2], rp[2];
  if (pipe2(gp, O_CLOEXEC) != 0 || pipe2(rp, O_CLOEXEC) != 0) die("pipe");
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(ls);
    close(gp[1]);
    close(rp[0]);
    reader_main(r->o, r->n, &a, gp[0], rp[1]);
    _exit(0);
  }
  close(gp[0]);
  close(rp[1]);
  int one = 1;
  for (int i = 0; i < r->n; i++) {
    /* A reader that died shows as the end of its result pipe. */
    struct pollfd pf[2] = {{.fd = ls, .events = POLLIN}, {.fd = rp[0], .events = POLLIN}};
    int pr = poll(pf, 2, 60000);
    if (pr < 0 && errno == EINTR) {
      i--;
      continue;
    }
    if (pr <= 0 || (pf[1].revents && !(pf[0].revents & POLLIN))) {
      fprintf(stderr, "fanout_floor: the reader %s after %d of %d connections\n",
              pr == 0 ? "made no connection for 60 s" : "exited", i, r->n);
      exit(1);
    }
    int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s < 0) die("accept");
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    r->wfd[i] = s;
  }
  close(ls);
  *go = gp[1];
  *res = rp[0];
  return pid;
}

/* One write of what member i has; what the socket does not take stays. */
static void flush_one(run_t *r, out_t *m, int i, int counted) {
  ssize_t w = write(r->wfd[i], m->buf + m->off, m->len - m->off);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return; /* the socket is full: next pass */
    die("write (did the reader exit?)");
  }
  if (counted) r->writes++;
  m->off += (size_t)w;
  if (m->off == m->len) m->off = m->len = 0;
}

/* Whether member m has bytes to send. */
static int pending(const out_t *m) { return m->len > m->off; }

/* Message k's due time: t0 + k/rate, without a rounded period's drift. */
static uint64_t due_of(const run_t *r, uint64_t k) {
  return r->t0 + (uint64_t)((double)k * 1e9 / r->o->rate);
}

static void writer(run_t *r) {
  const opts_t *o = r->o;
  out_t *out = r->out;
  int *dirty = xcalloc((size_t)r->n, sizeof(int)); /* members with frames, in order */
  char *is_dirty = xcalloc((size_t)r->n, 1);
  int ndirty = 0;
  uint64_t flush_ns = (uint64_t)(r->flush_ms * 1e6);
  uint64_t end = r->win_end;
  uint64_t next_flush = r->t0 + flush_ns;
  uint64_t k = 0, wall0 = 0;
  double cpu0 = 0;
  int in_window = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (!in_window && t >= r->win_start) {
      in_window = 1;
      cpu0 = thread_cpu_s();
      wall0 = t;
    }
    /* Done once every message due before the end is made; a writer that
     * fell a whole window behind stops all the same (the run is not ok). */
    if (due_of(r, k) >= end || t >= end + (end - r->win_start)) break;
    /* The messages due by now.  With a flush of 0 making one is writing
     * it, so at most about a millisecond of them at a time: a writer behind
     * its schedule still gets to the end of the run. */
    for (int made = 0;; made++) {
      uint64_t due = due_of(r, k);
      if (due > t || due >= end) break;
      if (flush_ns == 0 && (made & 63) == 63 && now_ns() - t > 1000000u) break;
      /* How late the writer is: past each message's due time, or with
       * passes, past each pass's (below). */
      if (flush_ns == 0 && in_window && t - due > r->late_max_ns) r->late_max_ns = t - due;
      if (due >= r->win_start && due < r->win_end) r->msgs_win++;
      int room = (int)(k % (uint64_t)o->rooms);
      for (int j = 0; j < o->members; j++) {
        int i = room * o->members + j;
        out_t *m = &out[i];
        if (m->len + (size_t)o->frame > m->cap) {
          if (m->off) { /* what is sent makes room first */
            memmove(m->buf, m->buf + m->off, m->len - m->off);
            m->len -= m->off;
            m->off = 0;
          }
          size_t cap = m->cap;
          while (m->len + (size_t)o->frame > cap && cap * 2 <= OUT_CAP) cap *= 2;
          if (m->len + (size_t)o->frame > cap) {
            r->dropped++;
            continue;
          }
          if (cap != m->cap) {
            m->buf = realloc(m->buf, cap);
            if (!m->buf) die("realloc");
            m->cap = cap;
          }
        }
        memcpy(m->buf + m->len, &due, sizeof(due));
        memset(m->buf + m->len + sizeof(due), 'x', (size_t)o->frame - sizeof(due));
        m->len += (size_t)o->frame;
        if (flush_ns == 0) flush_one(r, m, i, in_window);
        if (pending(m) && !is_dirty[i]) {
          is_dirty[i] = 1;
          dirty[ndirty++] = i;
        }
      }
      k++;
    }
    /* The pass: one write to each member with frames (with a flush of 0,
     * to each that the last write did not empty). */
    if (flush_ns == 0 || t >= next_flush) {
      int keep = 0;
      for (int d = 0; d < ndirty; d++) {
        int i = dirty[d];
        flush_one(r, &out[i], i, in_window);
        if (pending(&out[i]))
          dirty[keep++] = i;
        else
          is_dirty[i] = 0;
      }
      ndirty = keep;
      if (flush_ns) {
        if (in_window && t - next_flush > r->late_max_ns) r->late_max_ns = t - next_flush;
        next_flush += flush_ns;
        if (next_flush < t) next_flush = t + flush_ns; /* behind: no burst of passes */
      }
    }
    /* With passes, messages are made at the pass (each frame carries its
     * due time, so the latency is the same): one wakeup a pass, as a
     * server's loop that writes once per turn. */
    uint64_t wake = flush_ns ? next_flush : due_of(r, k);
    if (wake > now_ns()) sleep_until(wake);
  }
  /* What the last pass has not written yet: the window's last frames. */
  for (int tries = 0; ndirty && tries < 2000; tries++) {
    int keep = 0;
    for (int d = 0; d < ndirty; d++) {
      int i = dirty[d];
      flush_one(r, &out[i], i, in_window);
      if (pending(&out[i])) dirty[keep++] = i;
    }
    ndirty = keep;
    if (ndirty) sleep_until(now_ns() + 1000000u);
  }
  for (int d = 0; d < ndirty; d++) {
    const out_t *m = &out[dirty[d]];
    r->unsent += (m->len - m->off + (size_t)o->frame - 1) / (size_t)o->frame;
  }
  r->writer_cpu_s = thread_cpu_s() - cpu0;
  r->writer_wall_s = in_window ? (double)(now_ns() - wall0) / 1e9 : 0;
  free(dirty);
  free(is_dirty);
}

static double percentile_ms(const uint64_t *h, uint64_t n, double q);

static void reader_main(const opts_t *o, int n, const struct sockaddr_in *a, int go_fd,
                        int res_fd) {
  pin(o->reader_cpu);
  int *fd = xcalloc((size_t)n, sizeof(int));
  int one = 1;
  for (int i = 0; i < n; i++) {
    fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd[i] < 0) die("socket (the descriptor limit: ulimit -n)");
    if (connect(fd[i], (const struct sockaddr *)a, sizeof(*a)) != 0) die("connect");
    setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
  }
  uint64_t win[2];
  if (full_io(go_fd, win, sizeof(win), 0) != 0) _exit(1);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  size_t *have = xcalloc((size_t)n, sizeof(size_t)); /* bytes of a split frame */
  char *part = xcalloc((size_t)n, (size_t)o->frame);
  for (int i = 0; i < n; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev) != 0) die("epoll_ctl");
  }
  enum { EV = 256, BUF = 65536 };
  struct epoll_event evs[EV];
  char *buf = xcalloc(BUF, 1);
  uint64_t *hist = xcalloc(HIST_US + 1, sizeof(uint64_t));
  reader_result_t res;
  memset(&res, 0, sizeof(res));
  int open_n = n, phase = 0; /* 0 before the window, 1 in it, 2 after */
  double cpu_a = 0;
  while (open_n > 0) {
    int ne = epoll_wait(ep, evs, EV, phase < 2 ? 5 : -1);
    if (phase < 2) { /* the reader's CPU over the window, to 5 ms */
      uint64_t now = now_ns();
      if (phase == 0 && now >= win[0]) {
        cpu_a = thread_cpu_s();
        phase = 1;
      }
      if (phase == 1 && now >= win[1]) {
        res.cpu_win_s = thread_cpu_s() - cpu_a;
        phase = 2;
      }
    }
    for (int e = 0; e < ne; e++) {
      int i = (int)evs[e].data.u32;
      ssize_t got = read(fd[i], buf, BUF);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) { /* the writer is done with this one */
        close(fd[i]);
        open_n--;
        continue;
      }
      uint64_t t = now_ns();
      char *pi = part + (size_t)i * (size_t)o->frame;
      size_t p = 0, g = (size_t)got;
      while (p < g) {
        size_t take = (size_t)o->frame - have[i];
        if (take > g - p) take = g - p;
        memcpy(pi + have[i], buf + p, take);
        have[i] += take;
        p += take;
        if (have[i] < (size_t)o->frame) break;
        have[i] = 0;
        uint64_t due;
        memcpy(&due, pi, sizeof(due));
        if (due >= win[0] && due < win[1]) {
          uint64_t us = t > due ? (t - due) / 1000u : 0;
          hist[us < HIST_US ? us : HIST_US]++;
          res.frames_win++;
        }
      }
    }
  }
  if (phase == 1) res.cpu_win_s = thread_cpu_s() - cpu_a;
  res.p50_ms = percentile_ms(hist, res.frames_win, 0.50);
  res.p99_ms = percentile_ms(hist, res.frames_win, 0.99);
  (void)full_io(res_fd, &res, sizeof(res), 1);
}

static double percentile_ms(const uint64_t *h, uint64_t n, double q) {
  if (n == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)n + 0.999999), seen = 0;
  if (rank < 1) rank = 1;
  for (int us = 0; us <= HIST_US; us++) {
    seen += h[us];
    if (seen >= rank) return (double)us / 1000.0;
  }
  return (double)HIST_US / 1000.0;
}

static void one_run(const opts_t *o, double flush_ms) {
  run_t r;
  memset(&r, 0, sizeof(r));
  r.o = o;
  r.flush_ms = flush_ms;
  r.n = o->rooms * o->members;
  r.wfd = xcalloc((size_t)r.n, sizeof(int));
  /* Allocated (and touched) before t0: the writer starts on time. */
  r.out = xcalloc((size_t)r.n, sizeof(out_t));
  for (int i = 0; i < r.n; i++) {
    r.out[i].cap = OUT_START;
    r.out[i].buf = xcalloc(OUT_START, 1);
  }
  int go, resfd;
  pid_t pid = start_reader(&r, &go, &resfd);
  r.t0 = now_ns() + 50000000u;
  r.win_start = r.t0 + (uint64_t)(o->warmup * 1e9);
  r.win_end = r.win_start + (uint64_t)(o->duration * 1e9);
  uint64_t win[2] = {r.win_start, r.win_end};
  if (full_io(go, win, sizeof(win), 1) != 0) die("the reader");
  writer(&r);
  for (int i = 0; i < r.n; i++) close(r.wfd[i]); /* the reader ends when all are read */
  reader_result_t rr;
  int got = full_io(resfd, &rr, sizeof(rr), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "fanout_floor: the reader failed (status %d)\n", status);
    exit(1);
  }
  close(go);
  close(resfd);
  /* Messages due in the window by the schedule, and their frames. */
  uint64_t sched = 0;
  for (uint64_t k = (uint64_t)(o->warmup * o->rate); k <= (uint64_t)((o->warmup + o->duration) * o->rate) + 1; k++) {
    uint64_t due = due_of(&r, k);
    if (due >= r.win_start && due < r.win_end) sched++;
  }
  uint64_t expect = sched * (uint64_t)o->members;
  uint64_t made = r.msgs_win * (uint64_t)o->members; /* frames made for the window */
  double span = r.writer_wall_s > 0 ? r.writer_wall_s : o->duration;
  double share = r.writer_cpu_s / span;
  double rshare = rr.cpu_win_s / o->duration;
  double us_write = r.writes ? r.writer_cpu_s * 1e6 / (double)r.writes : 0;
  /* ok as chatbench judges a step: p99 under 100 ms, nothing missing. */
  int complete = made == expect && rr.frames_win == made && r.dropped == 0 && r.unsent == 0;
  int ok = complete && rr.p99_ms < 100;
  int full = share >= 0.95 || r.late_max_ns > 100000000u;
  const char *verdict = ok ? (full ? "ok, core full" : "ok")
                           : !complete ? "no, frames missing"
                           : full ? "no, core full" : "no";
  printf("%8.1f %12.0f %12.0f %8.2f %6.2f %9.2f %9.2f %9.2f %7.2f  %s%s\n", flush_ms,
         (double)rr.frames_win / o->duration, (double)r.writes / span, us_write, share,
         rr.p50_ms, rr.p99_ms, (double)r.late_max_ns / 1e6, rshare, verdict,
         rshare >= 0.9 ? " (reader full)" : "");
  printf("RESULT flush_ms=%.2f rooms=%d members=%d rate=%.0f frame=%d deliveries_per_s=%.0f"
         " writes_per_s=%.0f us_per_write=%.3f writer_share=%.3f p50_ms=%.3f p99_ms=%.3f"
         " late_max_ms=%.3f reader_share=%.3f frames=%llu made=%llu expected=%llu dropped=%llu"
         " unsent=%llu ok=%d core_full=%d reader_full=%d\n",
         flush_ms, o->rooms, o->members, o->rate, o->frame, (double)rr.frames_win / o->duration,
         (double)r.writes / span, us_write, share, rr.p50_ms, rr.p99_ms,
         (double)r.late_max_ns / 1e6, rshare, (unsigned long long)rr.frames_win,
         (unsigned long long)made, (unsigned long long)expect, (unsigned long long)r.dropped,
         (unsigned long long)r.unsent, ok, full, rshare >= 0.9);
  fflush(stdout);
  for (int i = 0; i < r.n; i++) free(r.out[i].buf);
  free(r.out);
  free(r.wfd);
}

static void usage(void) {
  fprintf(stderr,
          "usage: fanout_floor [--rooms N] [--members N] [--rate MSGS_PER_S] [--frame BYTES]\n"
          "                    [--flush MS[,MS...]] [--duration S] [--warmup S]\n"
          "                    [--writer-cpu N] [--reader-cpu N]\n"
          "defaults: 10 rooms of 50, 8000 msgs/s, 160-byte frames, flush 0,1,2,3,4,6,8 ms,\n"
          "4 s measured after 1 s, writer on cpu 0, reader on cpu 1 (-1: not pinned);\n"
          "at most 100000 connections, 16 flush intervals, frames of 8 to 131072 bytes\n");
  exit(2);
}

int main(int argc, char **argv) {
  opts_t o = {.rooms = 10, .members = 50, .frame = 160, .writer_cpu = 0, .reader_cpu = 1,
              .rate = 8000, .duration = 4, .warmup = 1};
  const char *flush = "0,1,2,3,4,6,8";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--rooms") == 0) o.rooms = atoi(v);
    else if (strcmp(a, "--members") == 0) o.members = atoi(v);
    else if (strcmp(a, "--rate") == 0) o.rate = atof(v);
    else if (strcmp(a, "--frame") == 0) o.frame = atoi(v);
    else if (strcmp(a, "--flush") == 0) flush = v;
    else if (strcmp(a, "--duration") == 0) o.duration = atof(v);
    else if (strcmp(a, "--warmup") == 0) o.warmup = atof(v);
    else if (strcmp(a, "--writer-cpu") == 0) o.writer_cpu = atoi(v);
    else if (strcmp(a, "--reader-cpu") == 0) o.reader_cpu = atoi(v);
    else usage();
    i++;
  }
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (o.rooms < 1 || o.members < 1 || o.rooms > 100000 || o.members > 100000 ||
      (long)o.rooms * o.members > 100000 || !(o.rate > 0 && o.rate <= 1e8) || o.frame < 8 ||
      o.frame > OUT_CAP / 2 || !(o.duration > 0 && o.duration <= 3600) ||
      !(o.warmup >= 0 && o.warmup <= 3600) || o.writer_cpu < -1 || o.writer_cpu >= ncpu ||
      o.reader_cpu < -1 || o.reader_cpu >= ncpu)
    usage();
  for (const char *p = flush; *p;) {
    char *end;
    if (o.nflush == MAX_FLUSHES) usage();
    double f = strtod(p, &end);
    if (end == p || !(f >= 0 && f <= 10000)) usage();
    o.flushes[o.nflush++] = f;
    p = *end == ',' ? end + 1 : end;
  }
  signal(SIGPIPE, SIG_IGN); /* a reader gone shows as EPIPE from a write */
  struct rlimit rl;
  int need = o.rooms * o.members + 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  printf("fanout_floor: %d rooms x %d members, %.0f msgs/s (%.0f deliveries/s), %d-byte frames,"
         " writer on cpu %d, reader on cpu %d, %.0f s measured\n",
         o.rooms, o.members, o.rate, o.rate * o.members, o.frame, o.writer_cpu, o.reader_cpu,
         o.duration);
  printf("%8s %12s %12s %8s %6s %9s %9s %9s %7s  %s\n", "flush_ms", "deliveries/s", "writes/s",
         "us/write", "share", "p50_ms", "p99_ms", "late_ms", "reader", "");
  pin(o.writer_cpu);
  for (int f = 0; f < o.nflush; f++) one_run(&o, o.flushes[f]);
  return 0;
}
