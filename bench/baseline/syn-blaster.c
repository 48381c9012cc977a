// syn-blaster: this machine's ceiling for complete half-open TCP checks, measured with as little
// software as possible between the program and the kernel, so the benchmark can report the
// engine's numbers as ratios of it.
//
// One thread, two sockets:
//   - a raw IPv4 socket (IPPROTO_RAW, which implies IP_HDRINCL) sends Linux-looking SYNs in
//     batches with sendmmsg(2), then one RST per SYN-ACK;
//   - an AF_PACKET socket on the interface reads replies with recvmmsg(2). It taps frames before
//     netfilter, so the caller's nftables table can drop the SYN-ACKs at prerouting and the
//     kernel never answers them with a RST of its own (a raw IPPROTO_TCP socket would not see
//     them: raw IP sockets are served after the prerouting drop).
//
// At most `window` probes are in flight; probe slot s always uses source port low + s, and the
// ISN carries (generation, slot) XOR a random key, so a reply finds its probe from its ack alone
// (the 4-tuple is then compared too). No retransmissions: a probe with no answer after the
// timeout counts as a timeout. With -r RATE the SYNs are paced (open loop) instead of sent as
// fast as the window allows.
//
// Output: one JSON line on stdout. Build: gcc -O2 -o syn-blaster syn-blaster.c (see Makefile).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BATCH 64
#define SYN_LEN 60 // 20 IPv4 + 20 TCP + 20 options (MSS, SACK-permitted, timestamps, NOP, wscale)
#define RST_LEN 40
#define SLOT_BITS 13
#define MAX_WINDOW (1 << SLOT_BITS)
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct options {
  struct in_addr src;
  uint32_t dst_base; // host byte order
  uint32_t addresses;
  uint16_t port;
  uint32_t ports;
  uint64_t checks;
  uint32_t window;
  double timeout_ms;
  double rate; // checks per second; 0 = as fast as the window allows
  double max_seconds;
  const char *iface;
  uint16_t port_low;
  uint16_t port_high;
};

struct slot {
  uint8_t busy;
  uint32_t gen;
  uint32_t dst; // network byte order
  uint16_t dport;
  double sent_at; // seconds, CLOCK_MONOTONIC
};

static struct options opt;
static struct slot *slots;
static uint32_t *free_slots;
static uint32_t free_count;
static uint32_t isn_key;
static double *rtts;
static uint64_t rtt_count;

static struct {
  uint64_t sent, open, closed, timeouts, ignored, send_errors, eagain, rst_sent, rst_failed, truncated;
} count;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(const struct timeval *tv) { return (double)tv->tv_sec + (double)tv->tv_usec / 1e6; }

static void die(const char *what) {
  fprintf(stderr, "syn-blaster: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void usage(void) {
  fprintf(stderr,
          "usage: syn-blaster -i IFACE -s SRC -d DST_BASE [-a ADDRESSES] -p PORT [-P PORTS] -n CHECKS\n"
          "                   [-w WINDOW] [-t TIMEOUT_MS] [-r RATE] [-T MAX_SECONDS] [-L LOW -H HIGH]\n");
  exit(2);
}

// RFC 1071: the 16-bit one's complement sum, folded but not complemented.
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum) {
  for (; len > 1; p += 2, len -= 2) sum += (uint32_t)p[0] << 8 | p[1];
  if (len) sum += (uint32_t)p[0] << 8;
  return sum;
}

static uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

// IPv4 header (checksum included, although the kernel would fill it in for IP_HDRINCL) and the
// TCP header with its pseudo-header checksum. `tcp_len` counts the TCP header with options.
static void finish_packet(uint8_t *pkt, uint32_t src, uint32_t dst, size_t tcp_len) {
  uint8_t *ip = pkt, *tcp = pkt + 20;
  ip[0] = 0x45;
  ip[1] = 0;
  put16(ip + 2, (uint16_t)(20 + tcp_len));
  put16(ip + 4, 0);
  put16(ip + 6, 0x4000); // DF, like Linux
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  put16(ip + 10, 0);
  memcpy(ip + 12, &src, 4);
  memcpy(ip + 16, &dst, 4);
  put16(ip + 10, fold(sum16(ip, 20, 0)));

  uint32_t pseudo = sum16(ip + 12, 8, 0) + IPPROTO_TCP + (uint32_t)tcp_len;
  put16(tcp + 16, 0);
  put16(tcp + 16, fold(sum16(tcp, tcp_len, pseudo)));
}

static void build_syn(uint8_t *pkt, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t isn, uint32_t tsval) {
  uint8_t *tcp = pkt + 20;
  put16(tcp, sport);
  put16(tcp + 2, dport);
  put32(tcp + 4, isn);
  put32(tcp + 8, 0);
  tcp[12] = (40 / 4) << 4;
  tcp[13] = TCP_SYN;
  put16(tcp + 14, 64240);
  put16(tcp + 18, 0);
  uint8_t *o = tcp + 20;
  o[0] = 2, o[1] = 4, put16(o + 2, 1460);    // MSS
  o[4] = 4, o[5] = 2;                        // SACK permitted
  o[6] = 8, o[7] = 10, put32(o + 8, tsval);  // timestamps
  put32(o + 12, 0);
  o[16] = 1;                                 // NOP
  o[17] = 3, o[18] = 3, o[19] = 7;           // window scale 7
  finish_packet(pkt, opt.src.s_addr, dst, 40);
}

static void build_rst(uint8_t *pkt, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq) {
  uint8_t *tcp = pkt + 20;
  put16(tcp, sport);
  put16(tcp + 2, dport);
  put32(tcp + 4, seq); // RFC 9293 §3.10.7.3: the reset takes its seq from the segment's ack
  put32(tcp + 8, 0);
  tcp[12] = (20 / 4) << 4;
  tcp[13] = TCP_RST;
  put16(tcp + 14, 0);
  put16(tcp + 18, 0);
  finish_packet(pkt, src, dst, 20);
}

static uint32_t slot_isn(uint32_t s, uint32_t gen) { return ((gen << SLOT_BITS) | s) ^ isn_key; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double q) {
  if (rtt_count == 0) return -1;
  size_t i = (size_t)(q * (double)(rtt_count - 1) + 0.5);
  return rtts[i];
}

static void parse_args(int argc, char **argv) {
  opt.addresses = 1;
  opt.ports = 1;
  opt.window = 4096;
  opt.timeout_ms = 1000;
  opt.max_seconds = 60;
  opt.port_low = 61000;
  opt.port_high = 65535;
  int c;
  const char *src = NULL, *dst = NULL;
  while ((c = getopt(argc, argv, "i:s:d:a:p:P:n:w:t:r:T:L:H:")) != -1) {
    switch (c) {
      case 'i': opt.iface = optarg; break;
      case 's': src = optarg; break;
      case 'd': dst = optarg; break;
      case 'a': opt.addresses = (uint32_t)strtoul(optarg, NULL, 10); break;
      case 'p': opt.port = (uint16_t)strtoul(optarg, NULL, 10); break;
      case 'P': opt.ports = (uint32_t)strtoul(optarg, NULL, 10); break;
      case 'n': opt.checks = strtoull(optarg, NULL, 10); break;
      case 'w': opt.window = (uint32_t)strtoul(optarg, NULL, 10); break;
      case 't': opt.timeout_ms = strtod(optarg, NULL); break;
      case 'r': opt.rate = strtod(optarg, NULL); break;
      case 'T': opt.max_seconds = strtod(optarg, NULL); break;
      case 'L': opt.port_low = (uint16_t)strtoul(optarg, NULL, 10); break;
      case 'H': opt.port_high = (uint16_t)strtoul(optarg, NULL, 10); break;
      default: usage();
    }
  }
  struct in_addr base;
  if (!opt.iface || !src || !dst || !opt.port || !opt.checks || opt.addresses == 0 || opt.ports == 0) usage();
  if (inet_pton(AF_INET, src, &opt.src) != 1 || inet_pton(AF_INET, dst, &base) != 1) usage();
  opt.dst_base = ntohl(base.s_addr);
  if (opt.port_high < opt.port_low) usage();
  // Slot s owns source port low + s, so two probes in flight never share a 4-tuple.
  uint32_t width = (uint32_t)(opt.port_high - opt.port_low) + 1;
  if (opt.window > width) opt.window = width;
  if (opt.window > MAX_WINDOW) opt.window = MAX_WINDOW;
  if (opt.window == 0) usage();
}

int main(int argc, char **argv) {
  parse_args(argc, argv);

  int tx = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_RAW);
  if (tx < 0) die("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)");
  int sndbuf = 4 << 20;
  if (setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0) setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  int rx = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_IP));
  if (rx < 0) die("socket(AF_PACKET)");
  int one = 1, rcvbuf = 32 << 20;
  if (setsockopt(rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) die("PACKET_IGNORE_OUTGOING");
  if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = (int)if_nametoindex(opt.iface)};
  if (ll.sll_ifindex == 0) die(opt.iface);
  if (bind(rx, (struct sockaddr *)&ll, sizeof ll) < 0) die("bind(AF_PACKET)");

  if (getrandom(&isn_key, sizeof isn_key, 0) != sizeof isn_key) die("getrandom");
  slots = calloc(opt.window, sizeof *slots);
  free_slots = malloc(opt.window * sizeof *free_slots);
  rtts = malloc(opt.checks * sizeof *rtts);
  if (!slots || !free_slots || !rtts) die("malloc");
  for (uint32_t s = 0; s < opt.window; s++) free_slots[free_count++] = opt.window - 1 - s;

  static uint8_t syn_buf[BATCH][SYN_LEN], rst_buf[BATCH][RST_LEN], rx_buf[BATCH][128];
  static struct mmsghdr syn_msgs[BATCH], rst_msgs[BATCH], rx_msgs[BATCH];
  static struct iovec syn_iov[BATCH], rst_iov[BATCH], rx_iov[BATCH];
  static struct sockaddr_in syn_to[BATCH], rst_to[BATCH];
  static uint32_t batch_slot[BATCH];
  for (int b = 0; b < BATCH; b++) {
    syn_iov[b] = (struct iovec){syn_buf[b], SYN_LEN};
    syn_msgs[b].msg_hdr = (struct msghdr){.msg_name = &syn_to[b], .msg_namelen = sizeof syn_to[b], .msg_iov = &syn_iov[b], .msg_iovlen = 1};
    rst_iov[b] = (struct iovec){rst_buf[b], RST_LEN};
    rst_msgs[b].msg_hdr = (struct msghdr){.msg_name = &rst_to[b], .msg_namelen = sizeof rst_to[b], .msg_iov = &rst_iov[b], .msg_iovlen = 1};
    rx_iov[b] = (struct iovec){rx_buf[b], sizeof rx_buf[b]};
    rx_msgs[b].msg_hdr = (struct msghdr){.msg_iov = &rx_iov[b], .msg_iovlen = 1};
  }

  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  const double start = now_s();
  const double timeout_s = opt.timeout_ms / 1000.0;
  uint64_t next = 0, finished = 0;
  double last_sweep = start, last_reply = start;
  int stopped = 0;

  while (finished < next || (next < opt.checks && !stopped)) {
    double now = now_s();
    if (now - start > opt.max_seconds) {
      stopped = 1;
      if (finished >= next || now - last_reply > timeout_s) break;
    }

    // --- send: as many SYNs as the window (and the pace) allows, BATCH per syscall -----------
    uint64_t due = opt.checks;
    if (opt.rate > 0) {
      due = (uint64_t)((now - start) * opt.rate) + 1;
      if (due > opt.checks) due = opt.checks;
    }
    while (!stopped && next < due && free_count > 0) {
      int n = 0;
      uint32_t tsval = (uint32_t)(now * 1000);
      while (n < BATCH && next + (uint64_t)n < due && free_count > 0) {
        uint64_t i = next + (uint64_t)n;
        uint32_t s = free_slots[--free_count];
        struct slot *sl = &slots[s];
        sl->busy = 1;
        sl->gen++;
        sl->dst = htonl(opt.dst_base + (uint32_t)(i % opt.addresses));
        sl->dport = (uint16_t)(opt.port + (i / opt.addresses) % opt.ports);
        build_syn(syn_buf[n], sl->dst, (uint16_t)(opt.port_low + s), sl->dport, slot_isn(s, sl->gen), tsval);
        syn_to[n] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = sl->dst};
        batch_slot[n] = s;
        n++;
      }
      const double sent_at = now_s();
      int sent = sendmmsg(tx, syn_msgs, (unsigned)n, 0);
      if (sent < 0) {
        if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
          count.eagain++;
          sent = 0;
        } else {
          count.send_errors++;
          sent = 0;
        }
      }
      now = now_s();
      for (int b = 0; b < n; b++) {
        uint32_t s = batch_slot[b];
        if (b < sent) {
          slots[s].sent_at = sent_at;
        } else {
          slots[s].busy = 0; // not sent: give the slot back, the check is retried below
          free_slots[free_count++] = s;
        }
      }
      next += (uint64_t)sent;
      count.sent += (uint64_t)sent;
      if (sent < n) break; // socket buffer full: read replies first
    }

    // --- receive: SYN-ACK -> RST + open; RST-ACK -> closed; anything else ignored ------------
    int got = recvmmsg(rx, rx_msgs, BATCH, MSG_DONTWAIT, NULL);
    if (got > 0) {
      double at = now_s();
      last_reply = at;
      int rsts = 0;
      for (int b = 0; b < got; b++) {
        const uint8_t *ip = rx_buf[b];
        size_t len = rx_msgs[b].msg_len;
        if (len < 40 || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP) { count.ignored++; continue; }
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (len < ihl + 20) { count.ignored++; continue; }
        const uint8_t *tcp = ip + ihl;
        uint8_t flags = tcp[13];
        uint16_t sport = get16(tcp), dport = get16(tcp + 2);
        uint32_t ack = get32(tcp + 8);
        if (dport < opt.port_low || dport > opt.port_high || !(flags & TCP_ACK)) { count.ignored++; continue; }
        uint32_t v = (ack - 1) ^ isn_key;
        uint32_t s = v & (MAX_WINDOW - 1), gen = v >> SLOT_BITS;
        uint32_t peer;
        memcpy(&peer, ip + 12, 4);
        if (s >= opt.window || s != (uint32_t)(dport - opt.port_low)) { count.ignored++; continue; }
        struct slot *sl = &slots[s];
        if (!sl->busy || (sl->gen & ((1u << (32 - SLOT_BITS)) - 1)) != gen || sl->dst != peer || sl->dport != sport) {
          count.ignored++;
          continue;
        }
        if ((flags & (TCP_SYN | TCP_RST)) == TCP_SYN) {
          uint32_t local;
          memcpy(&local, ip + 16, 4);
          build_rst(rst_buf[rsts], local, peer, dport, sport, ack);
          rst_to[rsts] = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = peer};
          rsts++;
          count.open++;
        } else if (flags & TCP_RST) {
          count.closed++;
        } else {
          count.ignored++;
          continue;
        }
        if (rtt_count < opt.checks) rtts[rtt_count++] = (at - sl->sent_at) * 1000.0;
        sl->busy = 0;
        free_slots[free_count++] = s;
        finished++;
      }
      if (rsts > 0) {
        int r = sendmmsg(tx, rst_msgs, (unsigned)rsts, 0);
        int ok = r < 0 ? 0 : r;
        count.rst_sent += (uint64_t)ok;
        count.rst_failed += (uint64_t)(rsts - ok);
      }
    }

    // --- timeouts, checked every 5 ms ---------------------------------------------------------
    now = now_s();
    if (now - last_sweep > 0.005) {
      last_sweep = now;
      for (uint32_t s = 0; s < opt.window; s++) {
        if (slots[s].busy && now - slots[s].sent_at > timeout_s) {
          slots[s].busy = 0;
          free_slots[free_count++] = s;
          count.timeouts++;
          finished++;
        }
      }
    }

    // --- idle: nothing arrived and nothing may be sent yet, so sleep on the capture ----------
    if (got <= 0) {
      int can_send = !stopped && next < opt.checks && free_count > 0;
      if (opt.rate > 0 && can_send) {
        double wait_s = (double)next / opt.rate - (now - start);
        can_send = wait_s <= 0;
        if (!can_send) {
          // Sleep until the next SYN is due or a reply arrives; ppoll, not poll: the gap
          // between paced SYNs is often under the millisecond poll() counts in.
          struct pollfd p = {.fd = rx, .events = POLLIN};
          struct timespec ts = {.tv_sec = (time_t)wait_s, .tv_nsec = (long)((wait_s - (double)(time_t)wait_s) * 1e9)};
          ppoll(&p, 1, &ts, NULL);
          continue;
        }
      }
      if (!can_send) {
        struct pollfd p = {.fd = rx, .events = POLLIN};
        poll(&p, 1, 1);
      }
    }
  }

  const double elapsed = now_s() - start;
  getrusage(RUSAGE_SELF, &ru1);
  count.truncated = opt.checks - next;
  qsort(rtts, rtt_count, sizeof *rtts, cmp_double);
  const double user = cpu_s(&ru1.ru_utime) - cpu_s(&ru0.ru_utime);
  const double sys = cpu_s(&ru1.ru_stime) - cpu_s(&ru0.ru_stime);
  printf("{\"tool\":\"syn-blaster\",\"checks\":%llu,\"window\":%u,\"sent\":%llu,\"open\":%llu,\"closed\":%llu,"
         "\"timeouts\":%llu,\"notSent\":%llu,\"ignored\":%llu,\"sendErrors\":%llu,\"sendBlocked\":%llu,"
         "\"rstSent\":%llu,\"rstFailed\":%llu,\"elapsedS\":%.6f,\"cpuUserS\":%.6f,\"cpuSysS\":%.6f,"
         "\"maxRssKb\":%ld,\"rttP50Ms\":%.4f,\"rttP99Ms\":%.4f,\"rttMaxMs\":%.4f}\n",
         (unsigned long long)opt.checks, opt.window, (unsigned long long)count.sent, (unsigned long long)count.open,
         (unsigned long long)count.closed, (unsigned long long)count.timeouts, (unsigned long long)count.truncated,
         (unsigned long long)count.ignored, (unsigned long long)count.send_errors, (unsigned long long)count.eagain,
         (unsigned long long)count.rst_sent, (unsigned long long)count.rst_failed, elapsed, user, sys, ru1.ru_maxrss,
         percentile(0.5), percentile(0.99), rtt_count ? rtts[rtt_count - 1] : -1.0);
  close(tx);
  close(rx);
  return 0;
}
