// connect-trick: the unprivileged half-open check (the seed tool's kernel trick) in as little C
// as possible, so the benchmark can report the `socket` strategy as a ratio of it.
//
// Per check: a non-blocking TCP socket with TCP_QUICKACK off (the kernel delays the ACK of the
// SYN-ACK, up to TCP_DELACK_MAX = 200 ms) and SO_LINGER {1, 0} (close() answers with a RST), a
// connect(), and an epoll loop that reads SO_ERROR once the socket is writable and closes it. One
// thread, level-triggered epoll, at most `window` checks in flight. No privilege needed.
//
// New connects are started at most BATCH per loop turn: a connect on a veth pair runs the
// target's whole SYN path inside the call, so starting thousands before the next epoll_wait
// would hold every ready socket past the delayed-ACK window (the leak issue #16 is about).
//
// Close latency: the SYN-ACK was processed at (connect start + tcpi_rtt) — the first RTT sample
// is the SYN-ACK's own, in µs — so close time minus that is how long the socket sat in the
// window. Only checks with no SYN retransmission are sampled (a retransmitted SYN's RTT is not
// measured from the first one). This costs one TCP_INFO read per open check.
//
// Output: one JSON line on stdout. Build: gcc -O2 -o connect-trick connect-trick.c (Makefile).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define EVENTS 1024

struct slot {
  double started; // ms, CLOCK_MONOTONIC; 0 when the fd is not ours
};

static struct sockaddr_in dst;
static uint64_t checks = 10000, window = 100;
static double timeout_ms = 3000, max_seconds = 90;
static struct slot *slots; // indexed by fd
static int max_fd;
static uint64_t started, open_n, closed_n, timeouts, errors, in_flight;
static double *rtts, *closes;
static uint64_t rtt_n, close_n;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "connect-trick: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, uint64_t n, double q) {
  if (n == 0) return -1;
  return v[(uint64_t)(q * (n - 1) + 0.5)];
}

// Ends check `fd` (connected or failed) with the linger-0 close.
static void finish(int fd, double now) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    struct tcp_info ti;
    len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
    close(fd);
    double closed_at = now_ms();
    open_n++;
    rtts[rtt_n++] = ti.tcpi_rtt / 1e3;
    if (ti.tcpi_total_retrans == 0) closes[close_n++] = closed_at - (slots[fd].started + ti.tcpi_rtt / 1e3);
  } else {
    close(fd);
    if (err == ECONNREFUSED) closed_n++;
    else if (err == ETIMEDOUT) timeouts++;
    else errors++;
  }
  (void)now;
  slots[fd].started = 0;
  in_flight--;
}

static void start_one(int ep) {
  started++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    errors++;
    return;
  }
  if (fd >= max_fd) {
    close(fd);
    errors++;
    return;
  }
  int off = 0;
  struct linger lg = {1, 0};
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off));
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  slots[fd].started = now_ms();
  in_flight++;
  if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS) {
    close(fd);
    slots[fd].started = 0;
    in_flight--;
    if (errno == ECONNREFUSED) closed_n++;
    else errors++;
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

int main(int argc, char **argv) {
  int c;
  dst.sin_family = AF_INET;
  while ((c = getopt(argc, argv, "d:p:n:w:t:T:")) != -1) {
    switch (c) {
      case 'd': if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1) { fprintf(stderr, "bad -d\n"); return 2; } break;
      case 'p': dst.sin_port = htons((uint16_t)atoi(optarg)); break;
      case 'n': checks = strtoull(optarg, NULL, 10); break;
      case 'w': window = strtoull(optarg, NULL, 10); break;
      case 't': timeout_ms = atof(optarg); break;
      case 'T': max_seconds = atof(optarg); break;
      default:
        fprintf(stderr, "usage: connect-trick -d IP -p PORT [-n checks] [-w window] [-t timeoutMs] [-T maxSeconds]\n");
        return 2;
    }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die("getrlimit");
  max_fd = (int)rl.rlim_cur;
  if (window + 16 > (uint64_t)max_fd) window = (uint64_t)max_fd - 16;
  slots = calloc((size_t)max_fd, sizeof(*slots));
  rtts = malloc(checks * sizeof(double));
  closes = malloc(checks * sizeof(double));
  if (!slots || !rtts || !closes) die("malloc");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event evs[EVENTS];
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  double t0 = now_ms(), last_sweep = t0;
  int truncated = 0;
  while (started < checks || in_flight > 0) {
    double now = now_ms();
    if (now - t0 > max_seconds * 1e3 && started < checks) truncated = 1;
    for (int i = 0; i < BATCH && in_flight < window && started < checks && !truncated; i++) start_one(ep);
    int n = epoll_wait(ep, evs, EVENTS, 1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    now = now_ms();
    for (int i = 0; i < n; i++) finish(evs[i].data.fd, now);
    if (now - last_sweep > 50) { // deadlines: rare with an open target, so a coarse sweep will do
      last_sweep = now;
      for (int fd = 0; fd < max_fd; fd++) {
        if (slots[fd].started > 0 && now - slots[fd].started > timeout_ms) {
          close(fd);
          slots[fd].started = 0;
          in_flight--;
          timeouts++;
        }
      }
    }
    if (truncated && in_flight == 0) break;
  }
  double elapsed = (now_ms() - t0) / 1e3;
  getrusage(RUSAGE_SELF, &ru1);
  double user = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6;
  double sys = (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) + (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  qsort(rtts, rtt_n, sizeof(double), cmp);
  qsort(closes, close_n, sizeof(double), cmp);
  printf("{\"tool\":\"connect-trick\",\"checks\":%llu,\"window\":%llu,\"started\":%llu,\"open\":%llu,\"closed\":%llu,"
         "\"timeouts\":%llu,\"errors\":%llu,\"truncated\":%s,\"elapsedS\":%.6f,\"cpuUserS\":%.6f,\"cpuSysS\":%.6f,"
         "\"maxRssKb\":%ld,\"rttP50Ms\":%.4f,\"rttP99Ms\":%.4f,\"closeSamples\":%llu,\"closeP50Ms\":%.4f,"
         "\"closeP99Ms\":%.4f,\"closeMaxMs\":%.4f}\n",
         (unsigned long long)checks, (unsigned long long)window, (unsigned long long)started, (unsigned long long)open_n,
         (unsigned long long)closed_n, (unsigned long long)timeouts, (unsigned long long)errors, truncated ? "true" : "false",
         elapsed, user, sys, ru1.ru_maxrss, pct(rtts, rtt_n, 0.5), pct(rtts, rtt_n, 0.99), (unsigned long long)close_n,
         pct(closes, close_n, 0.5), pct(closes, close_n, 0.99), close_n ? closes[close_n - 1] : -1);
  return 0;
}
