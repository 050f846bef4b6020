/* rtcsec-sfu-load: N client legs against one single-port router on loopback.
 *
 * The process forks. The child is the server: one rtcsec_router with N
 * sessions on one UDP socket (127.0.0.1, ephemeral port), driven by
 * rtcsec_udp_mux (recvmmsg/sendmmsg + poll). The parent runs the N client
 * legs, each its own UDP socket on 127.0.0.1 (so its own 5-tuple), each a
 * controlling full-ICE agent that sends a Binding request with
 * USE-CANDIDATE (RFC 8445 §7.2.2), then a DTLS client handshake, then RTP
 * and a consent check every 5 s (RFC 7675).
 *
 * Two modes:
 *   echo (default)  every leg sends RTP at --rate; the server unprotects
 *                   each packet and protects it again back to its sender;
 *   --forward N     leg 0 publishes one RTP stream at --rate; the server
 *                   unprotects each packet once and protects it again for
 *                   each of the N other legs (the subscribers), as an SFU
 *                   forwards one stream to N receivers.
 *
 * Then, in the same run, the floor (bench/sfu_floor.h): the same legs,
 * socket, server loop and packet rate with the media in plaintext (no
 * router, no SRTP: only poll + recvmmsg + sendmmsg), and the EVP crypto
 * floor for one unprotect + one protect per echoed packet (one + N per
 * forwarded one). The server's CPU per packet over that sum is the ratio.
 * --reference N first runs N sessions at the same total packet rate, for
 * the cost-per-packet-versus-live-sessions figure.
 *
 * Printed (stable `key: value` lines): handshakes per second and time to
 * connected (first check sent to DTLS connected) p50/p99; server packets per
 * second (in + out) and loss; server CPU per packet (user and system), the
 * floor and the ratio; server memory per established session (heap in use
 * and RSS, measured inside the server process); and baselines: in-memory
 * DTLS handshakes (rtcsec_dtls pairs on one core, no ICE, no sockets), the
 * heap size of a fresh OpenSSL DTLS SSL object and of a connected
 * rtcsec_dtls association.
 *
 * Everything is bounded: --sessions, --duration, --floor, a handshake
 * deadline, a drain time; the server child dies with the parent
 * (PR_SET_PDEATHSIG) and stops by itself after the run's total time. Only
 * loopback is used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/stun.h"
#include "rtcsec/transport.h"
#include "rtcsec/udp_mux.h"
#include "sfu_floor.h"
#include "util.h"

#ifdef RTCSEC_BENCH_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

#define PROG "rtcsec-sfu-load"
#define SEC 1000000u
#define MS 1000u
#define MAX_SESSIONS 50000
#define MAX_RATE 100000u
/* sessions x rate: the offered load stays bounded */
#define MAX_OFFERED_PER_S 2000000u
#define MAX_PKT 2048
#define CHECK_RTO_US (500 * MS) /* doubled per try, up to 4 s */
#define CHECK_RTO_MAX_US (4 * SEC)
#define CHECK_TRIES 12
#define CONSENT_EVERY_US (5 * SEC)
#define DRAIN_US (1 * SEC)
#define RX_BATCH 32 /* datagrams per recvmmsg on a leg's socket */

typedef struct opts {
  unsigned sessions;
  unsigned rate; /* RTP per second per sending leg */
  unsigned duration_s;
  unsigned connect_rate; /* legs started per second, 0 = all at once */
  unsigned max_inflight; /* legs handshaking at once, 0 = no limit */
  unsigned payload;
  unsigned batch;
  unsigned sock_buf_mb;
  unsigned handshake_timeout_s;
  unsigned baseline;
  unsigned forward;            /* 0: echo; N: leg 0's stream forwarded to the N others */
  unsigned reference;          /* 0: none; else sessions of a reference run first */
  unsigned floor_s;            /* plaintext phase for the floor; 0: no floor */
  rtcsec_srtp_profile profile; /* RTCSEC_SRTP_NONE: the default list */
  int quiet;
} opts;

/* Media comes from every leg (echo) or from leg 0 only (forward). */
static unsigned n_senders(const opts *o) { return o->forward ? 1 : o->sessions; }

/* The key a line is printed under: "reference_" for the reference run. */
static const char *line_prefix = "";

#define OUT(key, ...)                                                                              \
  do {                                                                                             \
    printf("%s" key ": ", line_prefix);                                                            \
    printf(__VA_ARGS__);                                                                           \
    putchar('\n');                                                                                 \
  } while (0)

/* ---- credentials: both processes derive them from the leg index ------------------ */

static void creds(unsigned i, char *srv_ufrag, char *srv_pwd, char *cli_ufrag) {
  snprintf(srv_ufrag, 16, "srv%06u", i);
  snprintf(srv_pwd, 40, "pwd%06u+abcdefghijklmnop", i);
  snprintf(cli_ufrag, 16, "cli%06u", i);
}

static uint64_t now_us(void) { return rtcsec_udp_mux_now(); }

static uint64_t heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

/* The process's resident set size (tools/util.h), 0 if unknown. */
static uint64_t rss_kb(void) {
  long kib = tool_rss_kib();
  return kib > 0 ? (uint64_t)kib : 0;
}

/* This process's CPU time in user space and in the kernel (system calls,
 * and on loopback the receiving side's network stack too). */
static void cpu_split(uint64_t *user, uint64_t *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = (uint64_t)ru.ru_utime.tv_sec * SEC + (uint64_t)ru.ru_utime.tv_usec;
  *sys = (uint64_t)ru.ru_stime.tv_sec * SEC + (uint64_t)ru.ru_stime.tv_usec;
}

static uint64_t cpu_us(void) {
  uint64_t u = 0, k = 0;
  cpu_split(&u, &k);
  return u + k;
}

/* The 1-minute load average: these numbers mean little on a busy machine. */
static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f != NULL) {
    if (fscanf(f, "%lf", &l) != 1)
      l = -1;
    fclose(f);
  }
  return l;
}

/* The kernel's count of UDP datagrams dropped for a full receive buffer
 * (system-wide, /proc/net/snmp), or -1. */
static long long udp_rcvbuf_errors(void) {
  FILE *f = fopen("/proc/net/snmp", "r");
  if (f == NULL)
    return -1;
  char head[1024], vals[1024];
  long long v = -1;
  /* two lines per protocol: "Udp: Name Name ..." then "Udp: 1 2 ..." */
  while (v < 0 && fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
    if (strncmp(head, "Udp:", 4) != 0)
      continue;
    char *hs = NULL, *vs = NULL;
    char *h = strtok_r(head, " \n", &hs), *x = strtok_r(vals, " \n", &vs);
    while (h != NULL && x != NULL) {
      if (strcmp(h, "RcvbufErrors") == 0) {
        v = strtoll(x, NULL, 10);
        break;
      }
      h = strtok_r(NULL, " \n", &hs);
      x = strtok_r(NULL, " \n", &vs);
    }
  }
  fclose(f);
  return v;
}

static int write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes, waiting at most timeout_ms in all. */
static int read_all(int fd, void *p, size_t n, int timeout_ms) {
  uint8_t *b = p;
  uint64_t end = now_us() + (uint64_t)timeout_ms * MS;
  while (n > 0) {
    uint64_t t = now_us();
    if (t >= end)
      return -1;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, (int)((end - t) / MS) + 1) <= 0)
      continue;
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/* ---- the server (child process) --------------------------------------------------- */

typedef struct server_ready {
  uint16_t port;
  uint64_t heap_empty, rss_empty_kb; /* before any session */
} server_ready;

typedef struct server_report {
  uint64_t heap, rss_kb, cpu_us, cpu_user_us, cpu_sys_us, at_us;
  uint64_t connected, failed, expired, echoed, echo_errors;
  rtcsec_srtp_profile profile; /* of the last CONNECTED event */
  rtcsec_router_stats rs;
  rtcsec_udp_mux_stats ms;
  sfu_plain_stats ps; /* the plaintext phase */
} server_report;

typedef struct server {
  const opts *o;
  rtcsec_router *r;
  rtcsec_udp_mux *mux;
  const rtcsec_fingerprint *cli_fp;
  rtcsec_session_id *ids; /* by leg index */
  unsigned added;
  uint64_t connected, failed, expired, echoed, echo_errors;
  rtcsec_srtp_profile profile;
  uint8_t scratch[MAX_PKT]; /* a forwarded copy, protected in place */
} server;

/* Sessions are added as the legs start, as an SFU adds one when the
 * signalling of its peer completes: the consent clock starts then. */
static int add_sessions(server *s, unsigned upto) {
  uint64_t now = now_us();
  for (; s->added < upto; s->added++) {
    char su[16], sp[40], cu[16];
    creds(s->added, su, sp, cu);
    rtcsec_router_session_config sc;
    rtcsec_router_session_config_default(&sc);
    sc.local_ufrag = su;
    sc.local_pwd = sp;
    sc.remote_ufrag = cu;
    sc.peer_fingerprints = s->cli_fp;
    sc.n_peer_fingerprints = 1;
    sc.user = (void *)(uintptr_t)s->added;
    rtcsec_session_id id;
    if (rtcsec_router_add_session(s->r, &sc, now, &id) != RTCSEC_OK)
      return -1;
    if (s->ids != NULL)
      s->ids[s->added] = id;
  }
  return 0;
}

/* Protects len bytes at buf for one session and queues them to it. */
static void srv_send(server *s, rtcsec_udp_mux *m, rtcsec_session_id id, uint8_t *buf, size_t len,
                     uint64_t now) {
  size_t out = 0;
  struct sockaddr_storage dst;
  socklen_t dst_len = 0;
  if (rtcsec_router_protect_rtp(s->r, id, buf, len, MAX_PKT, &out, &dst, &dst_len, now) !=
          RTCSEC_OK ||
      rtcsec_udp_mux_send(m, buf, out, &dst, dst_len) != 0) {
    s->echo_errors++;
    return;
  }
  s->echoed++;
}

static void srv_on_media(void *user, rtcsec_udp_mux *m, const rtcsec_router_input *in, uint8_t *buf,
                         uint64_t now) {
  server *s = user;
  if (in->kind != RTCSEC_PKT_RTP)
    return;
  if (s->o->forward == 0) {
    /* An SFU forwards; this one sends each packet back to its sender. */
    srv_send(s, m, in->session, buf, in->len, now);
    return;
  }
  if ((uintptr_t)in->user != 0)
    return; /* only the publisher's stream is forwarded */
  /* Unprotected once, protected again for every subscriber, each from a
   * copy of the plaintext (protect works in place). */
  for (unsigned i = 1; i <= s->o->forward && i < s->added; i++) {
    memcpy(s->scratch, buf, in->len);
    srv_send(s, m, s->ids[i], s->scratch, in->len, now);
  }
}

static void srv_on_event(void *user, rtcsec_udp_mux *m, const rtcsec_event *ev, uint64_t now) {
  (void)m;
  (void)now;
  server *s = user;
  if (ev->type == RTCSEC_EVENT_CONNECTED) {
    s->connected++;
    s->profile = ev->connected.profile;
  } else if (ev->type == RTCSEC_EVENT_FAILED) {
    s->failed++;
  } else if (ev->type == RTCSEC_EVENT_EXPIRED) {
    s->expired++;
  }
}

static void srv_report(server *s, sfu_plain *plain, server_report *rep) {
  memset(rep, 0, sizeof(*rep));
  rep->heap = heap_in_use();
  rep->rss_kb = rss_kb();
  cpu_split(&rep->cpu_user_us, &rep->cpu_sys_us);
  rep->cpu_us = rep->cpu_user_us + rep->cpu_sys_us;
  rep->at_us = now_us();
  rep->connected = s->connected;
  rep->failed = s->failed;
  rep->expired = s->expired;
  rep->echoed = s->echoed;
  rep->echo_errors = s->echo_errors;
  rep->profile = s->profile;
  rtcsec_router_get_stats(s->r, &rep->rs);
  rtcsec_udp_mux_get_stats(s->mux, &rep->ms);
  sfu_plain_get_stats(plain, &rep->ps);
}

/* The plaintext phase forwards to the subscribers' nominated addresses. */
static int plain_targets(server *s, sfu_plain *plain) {
  unsigned n = s->o->forward;
  if (n == 0)
    return sfu_plain_set_targets(plain, NULL, NULL, 0);
  struct sockaddr_storage *dst = calloc(n, sizeof(*dst));
  socklen_t *len = calloc(n, sizeof(*len));
  size_t k = 0;
  for (unsigned i = 1; dst != NULL && len != NULL && i <= n && i < s->added; i++) {
    rtcsec_router_session_info info;
    if (rtcsec_router_get_session_info(s->r, s->ids[i], &info) != RTCSEC_OK || !info.nominated)
      continue;
    dst[k] = info.addr;
    len[k++] = info.addr_len;
  }
  int rc = dst != NULL && len != NULL ? sfu_plain_set_targets(plain, dst, len, k) : -1;
  free(dst);
  free(len);
  return rc;
}

static int run_server(const opts *o, rtcsec_cert *cert, const rtcsec_fingerprint *cli_fp,
                      int ctl_fd, int rep_fd, uint64_t lifetime_us) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  server s;
  memset(&s, 0, sizeof(s));
  s.o = o;
  s.cli_fp = cli_fp;
  s.ids = calloc(o->sessions, sizeof(*s.ids));
  server_ready ready;
  memset(&ready, 0, sizeof(ready));
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert;
  rc.max_sessions = o->sessions;
  rc.hash_seed = (uint64_t)now_us() * 0x9e3779b97f4a7c15u;
  rc.max_queued_datagrams = 65536;
  if (s.ids == NULL || rtcsec_router_new(&s.r, &rc) != RTCSEC_OK)
    return 1;
  ready.heap_empty = heap_in_use();
  ready.rss_empty_kb = rss_kb();
  rtcsec_udp_mux_config mc;
  rtcsec_udp_mux_config_default(&mc);
  mc.batch = o->batch;
  mc.sock_buf = (int)o->sock_buf_mb * 1024 * 1024;
  rtcsec_udp_mux_callbacks cb = {srv_on_media, srv_on_event, &s};
  sfu_plain *plain = NULL;
  if (rtcsec_udp_mux_open(&s.mux, s.r, &mc, &cb) != 0 ||
      sfu_plain_new(&plain, rtcsec_udp_mux_fd(s.mux), o->batch) != 0)
    return 1;
  ready.port = rtcsec_udp_mux_port(s.mux);
  if (write_all(rep_fd, &ready, sizeof(ready)) != 0)
    return 1;
  uint64_t end = now_us() + lifetime_us;
  int quit = 0, plaintext = 0;
  while (!quit && now_us() < end) {
    /* a few batches per turn, so that the control pipe is seen often; the
     * plaintext phase runs the same loop with the same limits */
    int n = plaintext ? sfu_plain_run_once(plain, 2, 4) : rtcsec_udp_mux_run_once(s.mux, 2, 4);
    if (n < 0)
      break;
    struct pollfd pf = {.fd = ctl_fd, .events = POLLIN};
    if (poll(&pf, 1, 0) <= 0)
      continue;
    char cmd = 0;
    if (read(ctl_fd, &cmd, 1) != 1) {
      quit = 1; /* the parent is gone */
      break;
    }
    if (cmd == 'Q') {
      quit = 1;
    } else if (cmd == 'A') {
      uint32_t upto = 0;
      char ack = 'k';
      if (read_all(ctl_fd, &upto, sizeof(upto), 1000) != 0 || upto > o->sessions ||
          add_sessions(&s, upto) != 0)
        ack = 'e';
      if (write_all(rep_fd, &ack, 1) != 0)
        quit = 1;
    } else if (cmd == 'S' || cmd == 'P') {
#ifdef RTCSEC_BENCH_HAVE_CALLGRIND
      /* Under valgrind --tool=callgrind: one profile per phase (handshakes,
       * media, plaintext), so that the media phase's cost reads apart. */
      CALLGRIND_DUMP_STATS_AT("report");
#endif
      if (cmd == 'P') { /* from now on the plaintext floor */
        plaintext = 1;
        if (plain_targets(&s, plain) != 0)
          quit = 1;
      }
      server_report rep;
      srv_report(&s, plain, &rep);
      if (write_all(rep_fd, &rep, sizeof(rep)) != 0)
        quit = 1;
    }
  }
  sfu_plain_free(plain);
  rtcsec_udp_mux_close(s.mux);
  rtcsec_router_free(s.r);
  free(s.ids);
  return 0;
}

/* ---- the client legs (parent process) ---------------------------------------------- */

enum { LEG_IDLE = 0, LEG_CHECKING, LEG_DTLS, LEG_UP, LEG_FAILED };

typedef struct cleg {
  int fd;
  int state;
  rtcsec_transport *t;
  char srv_ufrag[16], srv_pwd[40], cli_ufrag[16];
  uint8_t tid[12];
  int tries;
  uint64_t t_start, t_up, next_check;
  uint16_t seq;
  uint64_t sent, echoed, bad;    /* SRTP phase: sent, received and verified */
  uint64_t plain_sent, plain_in; /* plaintext phase */
} cleg;

typedef struct client {
  const opts *o;
  cleg *legs;
  unsigned n;
  struct sockaddr_in srv;
  rtcsec_cert *cert;
  rtcsec_fingerprint srv_fp;
  int ep;
  uint64_t tid_ctr;
  unsigned up, failed;
  uint64_t stun_ok, stun_bad, media_bad;
  unsigned *handshaking; /* indices of legs in CHECKING or DTLS */
  unsigned n_handshaking;
  unsigned *consent_q; /* ring of connected legs, see consent_push() */
  unsigned q_head, q_len;
  int plaintext; /* the floor's phase: media counted, not unprotected */
  int consent;   /* consent checks are sent (not in the plaintext phase) */
  rtcsec_srtp_profile profile;
} client;

static void leg_send(client *c, cleg *l, const uint8_t *d, size_t n) {
  (void)c;
  if (send(l->fd, d, n, MSG_DONTWAIT) < 0)
    l->bad++;
}

static void send_check(client *c, cleg *l, int nominate, uint64_t now) {
  uint64_t ctr = ++c->tid_ctr;
  memcpy(l->tid, &ctr, sizeof(ctr));
  memcpy(l->tid + 8, "load", 4);
  char user[40];
  snprintf(user, sizeof(user), "%s:%s", l->srv_ufrag, l->cli_ufrag);
  uint8_t buf[256];
  size_t n = bench_ice_check(buf, sizeof(buf), user, l->srv_pwd, l->tid, ctr * 0x9e3779b97f4a7c15u,
                             nominate);
  if (n > 0)
    leg_send(c, l, buf, n);
  uint64_t rto = CHECK_RTO_US << (l->tries < 4 ? l->tries : 4);
  if (rto > CHECK_RTO_MAX_US)
    rto = CHECK_RTO_MAX_US;
  l->next_check = now + (nominate ? rto : CONSENT_EVERY_US);
}

/* Nominated legs in the order of their next consent check: every leg
 * waits the same CONSENT_EVERY_US from its nomination or its last check,
 * and those times only grow, so a FIFO is in deadline order. */
static void consent_push(client *c, unsigned leg) {
  if (c->q_len < c->n)
    c->consent_q[(c->q_head + c->q_len++) % c->n] = leg;
}

static void leg_flush(client *c, cleg *l, uint64_t now) {
  uint8_t buf[MAX_PKT];
  for (int i = 0; i < 64; i++) {
    size_t n = 0;
    if (rtcsec_transport_poll_datagram(l->t, buf, sizeof(buf), &n) != RTCSEC_OK || n == 0)
      break;
    leg_send(c, l, buf, n);
  }
  rtcsec_event ev;
  for (int i = 0; i < 16; i++) {
    if (rtcsec_transport_poll_event(l->t, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      break;
    if (ev.type == RTCSEC_EVENT_CONNECTED && l->state != LEG_UP) {
      c->profile = ev.connected.profile;
      l->state = LEG_UP;
      l->t_up = now;
      c->up++;
    } else if (ev.type == RTCSEC_EVENT_FAILED && l->state != LEG_FAILED) {
      l->state = LEG_FAILED;
      c->failed++;
    }
  }
}

static void leg_stun(client *c, cleg *l, const uint8_t *d, size_t n, uint64_t now) {
  rtcsec_stun_msg m;
  if (rtcsec_stun_parse(&m, d, n) != RTCSEC_OK || !(m.present & RTCSEC_STUN_HAS_FINGERPRINT) ||
      m.cls != RTCSEC_STUN_SUCCESS || memcmp(m.tid, l->tid, 12) != 0 ||
      rtcsec_stun_check_integrity(&m, (const uint8_t *)l->srv_pwd, strlen(l->srv_pwd)) != 0) {
    c->stun_bad++;
    return;
  }
  c->stun_ok++;
  if (l->state == LEG_CHECKING) {
    /* nominated: start DTLS as the client (the router answers passive),
     * and consent checks (RFC 7675 §5.1) from now on, as browsers do: a
     * handshake slowed down by a busy machine must not cost the session.
     * Legs are nominated at different times, so their checks are spread. */
    l->state = LEG_DTLS;
    l->next_check = now + CONSENT_EVERY_US;
    consent_push(c, (unsigned)(l - c->legs));
    rtcsec_transport_start(l->t, now);
    leg_flush(c, l, now);
  }
}

static void leg_input(client *c, cleg *l, uint8_t *d, size_t n, uint64_t now) {
  if (rtcsec_demux_classify(d, n) == RTCSEC_PKT_STUN) {
    leg_stun(c, l, d, n, now);
    return;
  }
  if (c->plaintext) {
    /* The floor's phase: its plaintext is exactly the RTP the legs send;
     * an SRTP packet still in flight is longer and not counted. */
    if (n == 12 + (size_t)c->o->payload && (d[0] & 0xc0) == 0x80) {
      l->plain_in++;
      /* the same work as for an echo in the SRTP phase (see
       * media_phase()): the tag check fails on plaintext, after the
       * whole transform */
      rtcsec_transport_input in;
      (void)rtcsec_transport_handle_datagram(l->t, d, n, now, &in);
    }
    return;
  }
  rtcsec_transport_input in;
  int rc = rtcsec_transport_handle_datagram(l->t, d, n, now, &in);
  if (in.kind == RTCSEC_PKT_RTP) {
    if (rc == RTCSEC_OK)
      l->echoed++;
    else
      c->media_bad++;
    return;
  }
  leg_flush(c, l, now);
}

/* Takes what the legs' sockets have: up to RX_BATCH datagrams per
 * recvmmsg, so that the legs' own system calls do not limit the rate. */
static void receive_some(client *c, int wait_ms, uint64_t *now) {
  static uint8_t bufs[RX_BATCH][MAX_PKT];
  struct mmsghdr msg[RX_BATCH];
  struct iovec iov[RX_BATCH];
  struct epoll_event evs[256];
  int k = epoll_wait(c->ep, evs, 256, wait_ms);
  *now = now_us();
  for (int i = 0; i < k; i++) {
    cleg *l = &c->legs[evs[i].data.u32];
    for (int round = 0; round < 4; round++) {
      memset(msg, 0, sizeof(msg));
      for (int j = 0; j < RX_BATCH; j++) {
        iov[j].iov_base = bufs[j];
        iov[j].iov_len = MAX_PKT;
        msg[j].msg_hdr.msg_iov = &iov[j];
        msg[j].msg_hdr.msg_iovlen = 1;
      }
      int r = recvmmsg(l->fd, msg, RX_BATCH, MSG_DONTWAIT, NULL);
      for (int j = 0; j < r; j++)
        leg_input(c, l, bufs[j], msg[j].msg_len, *now);
      if (r < RX_BATCH)
        break;
    }
  }
}

static int open_leg_socket(const struct sockaddr_in *srv) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in me;
  memset(&me, 0, sizeof(me));
  me.sin_family = AF_INET;
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
      connect(fd, (const struct sockaddr *)srv, sizeof(*srv)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Runs timers of handshaking legs: check retransmission, DTLS timers. */
static void handshake_timers(client *c, uint64_t now) {
  unsigned w = 0;
  for (unsigned i = 0; i < c->n_handshaking; i++) {
    cleg *l = &c->legs[c->handshaking[i]];
    if (l->state == LEG_CHECKING && now >= l->next_check) {
      if (++l->tries > CHECK_TRIES) {
        l->state = LEG_FAILED;
        c->failed++;
      } else {
        send_check(c, l, 1, now);
      }
    } else if (l->state == LEG_DTLS && rtcsec_transport_deadline(l->t) <= now) {
      rtcsec_transport_handle_timeout(l->t, now);
      leg_flush(c, l, now);
    }
    if (l->state == LEG_CHECKING || l->state == LEG_DTLS)
      c->handshaking[w++] = c->handshaking[i];
  }
  c->n_handshaking = w;
}

/* Consent checks of connected legs, every 5 s each: all that are due,
 * however long the caller's loop took (a sweep of a fixed number of legs
 * per turn fell 20 s behind at 10 000 legs while the legs were busy with
 * DTLS, and the router rightly expired their sessions). */
static void consent_checks(client *c, uint64_t now) {
  while (c->consent && c->q_len > 0) {
    unsigned i = c->consent_q[c->q_head];
    cleg *l = &c->legs[i];
    int live = l->state == LEG_UP || l->state == LEG_DTLS;
    if (live && now < l->next_check)
      break;
    c->q_head = (c->q_head + 1) % c->n;
    c->q_len--;
    if (!live)
      continue; /* failed since: out of the queue */
    send_check(c, l, 0, now);
    consent_push(c, i);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Has the server add sessions up to `upto` (the signalling of the legs). */
static int ensure_added(int ctl, int rep, unsigned *added, unsigned upto) {
  if (upto <= *added)
    return 0;
  uint8_t msg[5] = {'A'};
  uint32_t v = upto;
  memcpy(msg + 1, &v, sizeof(v));
  char ack = 0;
  if (write_all(ctl, msg, sizeof(msg)) != 0 || read_all(rep, &ack, 1, 60000) != 0 || ack != 'k')
    return -1;
  *added = upto;
  return 0;
}

/* 'S': a report; 'P': a report, and the plaintext floor from then on. */
static int ask(int ctl, int rep, char cmd, server_report *out) {
  if (write_all(ctl, &cmd, 1) != 0 || read_all(rep, out, sizeof(*out), 60000) != 0) {
    fprintf(stderr, PROG ": the server did not report\n");
    return -1;
  }
  return 0;
}

/* ---- baselines in the same run ------------------------------------------------------ */

typedef struct baseline {
  double pairs_per_s;            /* in-memory handshakes, both ends on one core */
  uint64_t ssl_object_bytes;     /* SSL_new() on a DTLS SSL_CTX, fresh */
  uint64_t dtls_connected_bytes; /* a connected rtcsec_dtls server association */
  unsigned done;
} baseline;

static void move_all(rtcsec_dtls *from, rtcsec_dtls *to, uint64_t now) {
  uint8_t buf[MAX_PKT];
  for (int i = 0; i < 64; i++) {
    size_t n = 0;
    if (rtcsec_dtls_poll_datagram(from, buf, sizeof(buf), &n) != RTCSEC_OK || n == 0)
      return;
    rtcsec_dtls_handle_datagram(to, buf, n, now);
  }
}

static void run_baseline(unsigned k, rtcsec_cert *srv, rtcsec_cert *cli, baseline *b) {
  memset(b, 0, sizeof(*b));
  if (k == 0)
    return;
  rtcsec_fingerprint sfp, cfp;
  rtcsec_cert_fingerprint(srv, RTCSEC_HASH_SHA256, &sfp);
  rtcsec_cert_fingerprint(cli, RTCSEC_HASH_SHA256, &cfp);
  rtcsec_dtls **ss = calloc(k, sizeof(*ss));
  if (ss == NULL)
    return;
  uint64_t heap0 = heap_in_use();
  uint64_t t0 = now_us();
  for (unsigned i = 0; i < k; i++) {
    rtcsec_dtls_config sc, cc;
    rtcsec_dtls_config_default(&sc);
    rtcsec_dtls_config_default(&cc);
    sc.cert = srv;
    sc.role = RTCSEC_DTLS_SERVER;
    sc.peer_fingerprints = &cfp;
    sc.n_peer_fingerprints = 1;
    cc.cert = cli;
    cc.role = RTCSEC_DTLS_CLIENT;
    cc.peer_fingerprints = &sfp;
    cc.n_peer_fingerprints = 1;
    rtcsec_dtls *c = NULL;
    if (rtcsec_dtls_new(&ss[i], &sc) != RTCSEC_OK || rtcsec_dtls_new(&c, &cc) != RTCSEC_OK) {
      rtcsec_dtls_free(c);
      break;
    }
    uint64_t now = now_us();
    rtcsec_dtls_start(ss[i], now);
    rtcsec_dtls_start(c, now);
    for (int round = 0; round < 20; round++) {
      move_all(c, ss[i], now);
      move_all(ss[i], c, now);
      if (rtcsec_dtls_get_state(c) == RTCSEC_DTLS_STATE_CONNECTED &&
          rtcsec_dtls_get_state(ss[i]) == RTCSEC_DTLS_STATE_CONNECTED)
        break;
    }
    if (rtcsec_dtls_get_state(ss[i]) == RTCSEC_DTLS_STATE_CONNECTED)
      b->done++;
    rtcsec_event ev;
    for (int e = 0; e < 8; e++) { /* wipe the key copies in the event queues */
      rtcsec_dtls_poll_event(c, &ev);
      rtcsec_dtls_poll_event(ss[i], &ev);
    }
    rtcsec_dtls_free(c);
  }
  uint64_t t1 = now_us();
  b->pairs_per_s = b->done ? (double)b->done * 1e6 / (double)(t1 - t0) : 0;
  uint64_t heap1 = heap_in_use();
  b->dtls_connected_bytes = b->done && heap1 > heap0 ? (heap1 - heap0) / b->done : 0;
  for (unsigned i = 0; i < k; i++)
    rtcsec_dtls_free(ss[i]);
  free(ss);

  /* A fresh OpenSSL SSL object on a DTLS context, for scale. */
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  SSL **objs = calloc(k, sizeof(*objs));
  if (ctx != NULL && objs != NULL) {
    uint64_t h0 = heap_in_use();
    unsigned made = 0;
    for (unsigned i = 0; i < k; i++) {
      objs[i] = SSL_new(ctx);
      if (objs[i])
        made++;
    }
    uint64_t h1 = heap_in_use();
    b->ssl_object_bytes = made && h1 > h0 ? (h1 - h0) / made : 0;
    for (unsigned i = 0; i < k; i++)
      SSL_free(objs[i]);
  }
  free(objs);
  SSL_CTX_free(ctx);
}

/* Heap per session added to a router, before any peer shows up. */
static double idle_session_bytes(rtcsec_cert *cert, const rtcsec_fingerprint *cli_fp, unsigned n) {
  server s;
  memset(&s, 0, sizeof(s));
  s.cli_fp = cli_fp;
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert;
  rc.max_sessions = n;
  if (rtcsec_router_new(&s.r, &rc) != RTCSEC_OK)
    return 0;
  uint64_t h0 = heap_in_use();
  double per = add_sessions(&s, n) == 0 ? (double)(heap_in_use() - h0) / n : 0;
  rtcsec_router_free(s.r);
  return per;
}

/* Asks the server to quit, waits up to 5 s, then kills it. */
static void stop_server(int ctl, pid_t pid) {
  char q = 'Q';
  write_all(ctl, &q, 1);
  close(ctl);
  int ws = 0;
  for (int i = 0; i < 100; i++) {
    if (waitpid(pid, &ws, WNOHANG) == pid)
      return;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &ws, 0);
}

/* The client side: one socket and one DTLS-client transport per leg. */
static int legs_open(client *c, const opts *o, rtcsec_cert *cli_cert,
                     const rtcsec_fingerprint *srv_fp, uint16_t port) {
  c->o = o;
  c->n = o->sessions;
  c->cert = cli_cert;
  c->srv_fp = *srv_fp;
  c->consent = 1;
  c->srv.sin_family = AF_INET;
  c->srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c->srv.sin_port = htons(port);
  c->legs = calloc(c->n, sizeof(cleg));
  c->handshaking = calloc(c->n, sizeof(unsigned));
  c->consent_q = calloc(c->n, sizeof(unsigned));
  c->ep = epoll_create1(EPOLL_CLOEXEC);
  if (c->legs == NULL || c->handshaking == NULL || c->consent_q == NULL || c->ep < 0) {
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
  }
  for (unsigned i = 0; i < c->n; i++) {
    cleg *l = &c->legs[i];
    creds(i, l->srv_ufrag, l->srv_pwd, l->cli_ufrag);
    l->fd = open_leg_socket(&c->srv);
    rtcsec_transport_config tc;
    rtcsec_transport_config_default(&tc);
    tc.dtls.cert = cli_cert;
    tc.dtls.role = RTCSEC_DTLS_CLIENT;
    tc.dtls.peer_fingerprints = srv_fp;
    tc.dtls.n_peer_fingerprints = 1;
    if (o->profile != RTCSEC_SRTP_NONE) {
      tc.dtls.profiles[0] = o->profile;
      tc.dtls.n_profiles = 1;
    }
    if (l->fd < 0 || rtcsec_transport_new(&l->t, &tc) != RTCSEC_OK) {
      fprintf(stderr, PROG ": leg %u: socket or transport failed\n", i);
      return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(c->ep, EPOLL_CTL_ADD, l->fd, &ev);
  }
  return 0;
}

/* Phase 1: the legs start at the connect rate (at most max_inflight
 * handshaking), each nominates by a Binding request, then does its DTLS
 * handshake; until all are up or failed, or the handshake timeout. */
static int handshake_phase(client *c, int ctl, int rep, uint64_t t_begin, uint64_t *t_all) {
  const opts *o = c->o;
  uint64_t now = t_begin;
  uint64_t hs_end = t_begin + (uint64_t)o->handshake_timeout_s * SEC;
  unsigned started = 0, added = 0;
  /* Sessions are added a few legs ahead (fewer pipe round trips), but not
   * so many that a slow start (valgrind, a busy machine) lets a session's
   * consent run out before its leg even began. */
  unsigned ahead = o->max_inflight ? o->max_inflight / 8 : 32;
  ahead = ahead < 1 ? 1 : ahead > 32 ? 32 : ahead;
  while (c->up + c->failed < c->n && now < hs_end) {
    /* start legs at the connect rate */
    uint64_t want = o->connect_rate ? (now - t_begin) * o->connect_rate / SEC + 1 : c->n;
    if (want > c->n)
      want = c->n;
    while (started < c->n && started < want &&
           (o->max_inflight == 0 || c->n_handshaking < o->max_inflight)) {
      if (started >= added &&
          ensure_added(ctl, rep, &added, c->n - started > ahead ? started + ahead : c->n) != 0) {
        fprintf(stderr, PROG ": the server could not add sessions\n");
        return -1;
      }
      cleg *l = &c->legs[started];
      l->state = LEG_CHECKING;
      l->t_start = now;
      send_check(c, l, 1, now);
      c->handshaking[c->n_handshaking++] = started;
      started++;
    }
    receive_some(c, 1, &now);
    handshake_timers(c, now);
    consent_checks(c, now);
  }
  *t_all = now;
  return 0;
}

/* ---- one run: handshakes, media, the plaintext floor ------------------------------- */

/* What one media phase saw, at the legs. */
typedef struct media_result {
  double seconds; /* the sending window */
  double rate;    /* per sending leg, offered */
  unsigned duration_s;
  uint64_t sent, received, expected;
  uint64_t late; /* rounds that could not keep up */
  uint64_t send_errors;
  uint64_t client_cpu_us;
  long long rcvbuf_errors; /* kernel, system-wide; -1 unknown */
} media_result;

static void media_count(const client *c, int plaintext, media_result *mr) {
  const opts *o = c->o;
  unsigned ns = n_senders(o) < c->n ? n_senders(o) : c->n;
  uint64_t subscribers = 0;
  mr->sent = mr->received = mr->send_errors = 0;
  for (unsigned i = 0; i < c->n; i++) {
    const cleg *l = &c->legs[i];
    if (i < ns)
      mr->sent += plaintext ? l->plain_sent : l->sent;
    mr->send_errors += l->bad;
    if (o->forward == 0 || i > 0)
      mr->received += plaintext ? l->plain_in : l->echoed;
    subscribers += o->forward > 0 && i > 0 && l->state == LEG_UP;
  }
  mr->expected = o->forward ? mr->sent * subscribers : mr->sent;
}

/* Media from the sending legs at `rate` packets per second each, for
 * duration_s; then the echoes in flight are drained (until none came for
 * DRAIN_US, at most 10 s) and the server reports into *after, and a last
 * short drain takes what it had sent before its report. */
static int media_phase(client *c, int plaintext, double rate, unsigned duration_s, int ctl, int rep,
                       server_report *after, media_result *mr) {
  const opts *o = c->o;
  memset(mr, 0, sizeof(*mr));
  mr->rate = rate;
  mr->duration_s = duration_s;
  unsigned ns = n_senders(o) < c->n ? n_senders(o) : c->n, up = 0;
  for (unsigned i = 0; i < ns; i++)
    up += c->legs[i].state == LEG_UP;
  c->plaintext = plaintext;
  c->consent = !plaintext;
  uint64_t sent_total = 0, t0 = now_us(), t_end = t0 + (uint64_t)duration_s * SEC;
  uint64_t cpu0 = cpu_us();
  long long rb0 = udp_rcvbuf_errors();
  unsigned cursor = 0;
  uint8_t pkt[MAX_PKT];
  uint64_t now = t0;
  while (now < t_end && rate > 0 && up > 0) {
    uint64_t want = (uint64_t)((double)(now - t0) * up * rate / SEC);
    unsigned burst = 0, skipped = 0;
    while (sent_total < want && burst < 4096 && skipped < ns) {
      unsigned idx = cursor;
      cleg *l = &c->legs[idx];
      cursor = (cursor + 1) % ns;
      if (l->state != LEG_UP) {
        skipped++; /* a leg that failed meanwhile */
        continue;
      }
      skipped = 0;
      size_t len = bench_make_rtp(pkt, 0x10000u + idx, ++l->seq, o->payload), out = 0;
      if (plaintext) {
        /* The legs do their SRTP work in this phase too, on a copy, so
         * that the other half of the machine is as busy (and the shared
         * caches as full) as in the SRTP phase; the plaintext is sent. */
        uint8_t copy[MAX_PKT];
        memcpy(copy, pkt, len);
        (void)rtcsec_transport_protect_rtp(l->t, copy, len, sizeof(copy), &out, now);
        leg_send(c, l, pkt, len);
        l->plain_sent++;
      } else if (rtcsec_transport_protect_rtp(l->t, pkt, len, sizeof(pkt), &out, now) ==
                 RTCSEC_OK) {
        leg_send(c, l, pkt, out);
        l->sent++;
      }
      sent_total++;
      burst++;
    }
    if (sent_total < want)
      mr->late++;
    receive_some(c, 0, &now);
    consent_checks(c, now);
    if (burst == 0) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
      now = now_us();
    }
  }
  uint64_t t_done = now_us();
  mr->seconds = (double)(t_done - t0) / 1e6;
  uint64_t last_rx = t_done, before = 0;
  for (now = t_done; now < last_rx + DRAIN_US && now < t_done + 10 * SEC;) {
    receive_some(c, 10, &now);
    media_count(c, plaintext, mr);
    if (mr->received != before) {
      before = mr->received;
      last_rx = now;
    }
  }
  if (ask(ctl, rep, 'S', after) != 0)
    return -1;
  for (uint64_t t_end2 = now_us() + DRAIN_US / 4; now < t_end2;)
    receive_some(c, 10, &now);
  media_count(c, plaintext, mr);
  mr->client_cpu_us = cpu_us() - cpu0;
  long long rb1 = udp_rcvbuf_errors();
  mr->rcvbuf_errors = rb0 >= 0 && rb1 >= 0 ? rb1 - rb0 : -1;
  return 0;
}

static double per(double a, double b) { return b > 0 ? a / b : 0.0; }

/* What main needs of a run besides its lines. */
typedef struct run_summary {
  double server_us_per_packet;
  double floor_syscalls_us_per_packet;     /* 0 without the plaintext phase */
  double floor_all_sessions_us_per_packet; /* syscalls + crypto over all keys, or 0 */
  double loss_pct;
  int all_connected;
} run_summary;

/* The lines of one media phase, from the server's reports before (a) and
 * after (b) it: the router's and driver's counters, or in the plaintext
 * phase the plaintext loop's. */
static void print_media(const client *c, int plaintext, const server_report *a,
                        const server_report *b, const media_result *mr) {
  const opts *o = c->o;
  const sfu_plain_stats *pa = &a->ps, *pb = &b->ps;
  uint64_t srv_in =
      plaintext ? pb->media_in - pa->media_in : b->rs.media_delivered - a->rs.media_delivered;
  uint64_t srv_out = plaintext ? pb->tx_datagrams - pa->tx_datagrams : b->echoed - a->echoed;
  uint64_t rx =
      plaintext ? pb->rx_datagrams - pa->rx_datagrams : b->ms.rx_datagrams - a->ms.rx_datagrams;
  uint64_t rx_calls = plaintext ? pb->rx_calls - pa->rx_calls : b->ms.rx_calls - a->ms.rx_calls;
  uint64_t tx =
      plaintext ? pb->tx_datagrams - pa->tx_datagrams : b->ms.tx_datagrams - a->ms.tx_datagrams;
  uint64_t tx_calls = plaintext ? pb->tx_calls - pa->tx_calls : b->ms.tx_calls - a->ms.tx_calls;
  uint64_t srv_pkts = rx + tx;
  uint64_t cpu = b->cpu_us - a->cpu_us;
  OUT("rtp_rate_per_sender", "%.0f", mr->rate);
  OUT("media_duration_s", "%.2f", mr->seconds);
  OUT("rtp_offered", "%.0f", mr->rate * (double)n_senders(o) * (double)mr->duration_s);
  OUT("rtp_sent", "%llu", (unsigned long long)mr->sent);
  OUT("rtp_sent_per_s", "%.0f", per((double)mr->sent, mr->seconds));
  OUT("rtp_expected", "%llu", (unsigned long long)mr->expected);
  OUT("rtp_echoed", "%llu", (unsigned long long)mr->received);
  OUT("rtp_loss_pct", "%.4f",
      mr->expected ? 100.0 * ((double)mr->expected - (double)mr->received) / (double)mr->expected
                   : 0.0);
  OUT("rtp_lost_client_to_server", "%lld", (long long)mr->sent - (long long)srv_in);
  OUT("rtp_lost_server_to_client", "%lld", (long long)srv_out - (long long)mr->received);
  OUT("kernel_udp_rcvbuf_errors", "%lld", mr->rcvbuf_errors);
  OUT("client_send_errors", "%llu", (unsigned long long)mr->send_errors);
  OUT("client_late_rounds", "%llu", (unsigned long long)mr->late);
  OUT("server_packets_in", "%llu", (unsigned long long)srv_in);
  OUT("server_packets_out", "%llu", (unsigned long long)srv_out);
  OUT("server_packets_per_s", "%.0f", per((double)srv_pkts, mr->seconds));
  OUT("server_cpu_ms_per_1000_packets", "%.3f", per((double)cpu, (double)srv_pkts));
  OUT("server_cpu_pct_media", "%.1f", per(100.0 * (double)cpu / 1e6, mr->seconds));
  OUT("client_cpu_pct_media", "%.1f",
      per(100.0 * (double)mr->client_cpu_us / 1e6, mr->seconds + DRAIN_US / 1e6));
  OUT("server_rx_calls_per_datagram", "%.3f", per((double)rx_calls, (double)rx));
  OUT("server_tx_calls_per_datagram", "%.3f", per((double)tx_calls, (double)tx));
  OUT("server_us_per_packet", "%.3f", per((double)cpu, (double)srv_in));
  OUT("server_user_us_per_packet", "%.3f",
      per((double)(b->cpu_user_us - a->cpu_user_us), (double)srv_in));
  OUT("server_sys_us_per_packet", "%.3f",
      per((double)(b->cpu_sys_us - a->cpu_sys_us), (double)srv_in));
}

static int run(const opts *o, rtcsec_cert *srv_cert, rtcsec_cert *cli_cert,
               const rtcsec_fingerprint *srv_fp, const rtcsec_fingerprint *cli_fp,
               run_summary *sum) {
  memset(sum, 0, sizeof(*sum));
  double load_start = loadavg();
  int ctl[2], rep[2];
  if (pipe(ctl) != 0 || pipe(rep) != 0) {
    perror(PROG ": pipe");
    return -1;
  }
  uint64_t lifetime = ((uint64_t)o->handshake_timeout_s + o->duration_s + o->floor_s + 60) * SEC;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror(PROG ": fork");
    return -1;
  }
  if (pid == 0) {
    close(ctl[1]);
    close(rep[0]);
    int rc = run_server(o, srv_cert, cli_fp, ctl[0], rep[1], lifetime);
    _exit(rc);
  }
  close(ctl[0]);
  close(rep[1]);
  int status = -1;
  server_ready ready;
  client c;
  memset(&c, 0, sizeof(c));
  c.ep = -1;
  if (read_all(rep[0], &ready, sizeof(ready), 60000) != 0) {
    fprintf(stderr, PROG ": the server did not start\n");
    goto out;
  }
  if (legs_open(&c, o, cli_cert, srv_fp, ready.port) != 0)
    goto out;

  /* ---- phase 1: ICE + DTLS for every leg ---- */
  server_report r0, r1, r2, rp, r3;
  if (ask(ctl[1], rep[0], 'S', &r0) != 0)
    goto out;
  uint64_t t_begin = now_us(), t_all = t_begin;
  if (handshake_phase(&c, ctl[1], rep[0], t_begin, &t_all) != 0)
    goto out;
  if (ask(ctl[1], rep[0], 'S', &r1) != 0)
    goto out;

  /* ---- phase 2: SRTP media ---- */
  media_result srtp, plain;
  if (media_phase(&c, 0, o->rate, o->duration_s, ctl[1], rep[0], &r2, &srtp) != 0)
    goto out;

  /* ---- phase 3: the same media in plaintext, at the rate phase 2 reached ---- */
  int have_floor = o->floor_s > 0 && c.up > 0 && srtp.sent > 0;
  if (have_floor) {
    unsigned ns = n_senders(o) < c.n ? n_senders(o) : c.n, up = 0;
    for (unsigned i = 0; i < ns; i++)
      up += c.legs[i].state == LEG_UP;
    double reached = per((double)srtp.sent, srtp.seconds) / (up ? up : 1);
    double rate = reached < o->rate ? reached : o->rate;
    if (ask(ctl[1], rep[0], 'P', &rp) != 0 ||
        media_phase(&c, 1, rate, o->floor_s, ctl[1], rep[0], &r3, &plain) != 0)
      goto out;
  }

  /* ---- report ---- */
  uint64_t ttc_n = 0, last_up = t_begin;
  uint64_t *ttc = calloc(c.n, sizeof(uint64_t));
  for (unsigned i = 0; i < c.n && ttc; i++) {
    if (c.legs[i].state == LEG_UP) {
      ttc[ttc_n++] = c.legs[i].t_up - c.legs[i].t_start;
      if (c.legs[i].t_up > last_up)
        last_up = c.legs[i].t_up;
    }
  }
  if (ttc)
    qsort(ttc, ttc_n, sizeof(uint64_t), cmp_u64);
  double hs_window = (double)(last_up - t_begin) / 1e6;
  OUT("cpus_online", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
  OUT("loadavg_1min_at_start", "%.2f", load_start);
  OUT("mode", "%s", o->forward ? "forward" : "echo");
  OUT("sessions", "%u", c.n);
  if (o->forward)
    OUT("forward_subscribers", "%u", o->forward);
  OUT("connected", "%u", c.up);
  OUT("failed", "%u", c.n - c.up);
  OUT("server_connected_events", "%llu", (unsigned long long)r1.connected);
  OUT("connect_rate_offered_per_s", "%u", o->connect_rate);
  OUT("max_inflight", "%u", o->max_inflight);
  OUT("server_batch", "%u", o->batch);
  OUT("server_sock_buf_mb", "%u", o->sock_buf_mb);
  OUT("handshakes_per_s", "%.1f", per((double)c.up, hs_window));
  OUT("server_cpu_ms_per_handshake", "%.3f",
      per((double)(r1.cpu_us - r0.cpu_us) / 1000.0, (double)r1.connected));
  if (ttc_n > 0) {
    OUT("time_to_connected_ms_p50", "%.2f", (double)ttc[ttc_n / 2] / 1000.0);
    OUT("time_to_connected_ms_p99", "%.2f", (double)ttc[(ttc_n * 99) / 100] / 1000.0);
    OUT("time_to_connected_ms_max", "%.2f", (double)ttc[ttc_n - 1] / 1000.0);
  }
  free(ttc);
  OUT("all_connected_after_s", "%.2f", (double)(t_all - t_begin) / 1e6);
  OUT("srtp_profile", "%s",
      c.up ? rtcsec_srtp_profile_name(c.profile)
           : (o->profile == RTCSEC_SRTP_NONE ? "none" : rtcsec_srtp_profile_name(o->profile)));
  OUT("rtp_payload_bytes", "%u", o->payload);
  /* Per packet: an inbound RTP packet and all it causes (echo: unprotect,
   * protect, send back; forward: unprotect once, protect and send to each
   * subscriber), during the media phase including its drain. */
  OUT("per_packet_means", "%s",
      o->forward ? "one inbound RTP packet, unprotected once and protected and sent to each "
                   "subscriber"
                 : "one RTP packet received, unprotected, protected and sent back");
  print_media(&c, 0, &r1, &r2, &srtp);
  OUT("server_echo_errors", "%llu", (unsigned long long)(r2.echo_errors - r1.echo_errors));
  OUT("server_tx_dropped", "%llu", (unsigned long long)r2.ms.tx_dropped);
  OUT("server_drop_unknown_source", "%llu", (unsigned long long)r2.rs.drop_unknown_source);
  OUT("server_media_dropped", "%llu", (unsigned long long)r2.rs.media_dropped);
  OUT("server_sessions_expired", "%llu", (unsigned long long)r2.rs.sessions_expired);
  OUT("server_stun_requests", "%llu", (unsigned long long)r2.rs.stun_requests);

  double srv_us =
      per((double)(r2.cpu_us - r1.cpu_us), (double)(r2.rs.media_delivered - r1.rs.media_delivered));
  if (have_floor) {
    /* The plaintext phase's lines under "floor_plaintext_". */
    const char *saved = line_prefix;
    char pfx[64];
    snprintf(pfx, sizeof(pfx), "%sfloor_plaintext_", saved);
    line_prefix = pfx;
    print_media(&c, 1, &rp, &r3, &plain);
    line_prefix = saved;
    double sys_us = per((double)(r3.cpu_us - rp.cpu_us), (double)(r3.ps.media_in - rp.ps.media_in));
    double crypto_ns = evp_floor_ns(c.profile, o->payload, 1, o->forward ? o->forward : 1);
    OUT("floor_syscalls_us_per_packet", "%.3f", sys_us);
    sum->floor_syscalls_us_per_packet = sys_us;
    if (crypto_ns < 0) {
      fprintf(stderr, PROG ": the EVP crypto floor failed its check against libsrtp2\n");
    } else {
      double floor_us = crypto_ns / 1000.0 + sys_us;
      OUT("floor_crypto_us_per_packet", "%.3f", crypto_ns / 1000.0);
      OUT("floor_us_per_packet", "%.3f", floor_us);
      OUT("ratio", "%.2f", per(srv_us, floor_us));
      if (o->forward == 0 && c.up > 1) {
        /* The same transforms with as many keys as live sessions, taken
         * in turn as the legs send: the part of the server's cost any
         * implementation pays for fetching that many sessions' keys. */
        double all_ns = evp_floor_ns(c.profile, o->payload, c.up, c.up);
        if (all_ns > 0) {
          OUT("floor_crypto_all_sessions_us_per_packet", "%.3f", all_ns / 1000.0);
          OUT("ratio_to_all_sessions_floor", "%.2f", per(srv_us, all_ns / 1000.0 + sys_us));
          sum->floor_all_sessions_us_per_packet = all_ns / 1000.0 + sys_us;
        }
      }
      if (o->forward) {
        OUT("forwarded_packets_per_s_per_core", "%.0f", per(o->forward * 1e6, srv_us));
        OUT("floor_forwarded_packets_per_s_per_core", "%.0f", per(o->forward * 1e6, floor_us));
      }
    }
  }
  double per_session = c.up ? 1.0 / c.up : 0;
  OUT("server_heap_per_session_established_bytes", "%.0f",
      r1.heap > ready.heap_empty ? (double)(r1.heap - ready.heap_empty) * per_session : 0.0);
  OUT("server_rss_per_session_established_kb", "%.2f",
      r1.rss_kb > ready.rss_empty_kb ? (double)(r1.rss_kb - ready.rss_empty_kb) * per_session
                                     : 0.0);
  OUT("server_rss_total_kb", "%llu", (unsigned long long)r2.rss_kb);
  OUT("loadavg_1min_at_end", "%.2f", loadavg());
  sum->server_us_per_packet = srv_us;
  sum->loss_pct = srtp.expected ? 100.0 * ((double)srtp.expected - (double)srtp.received) /
                                      (double)srtp.expected
                                : 0.0;
  sum->all_connected = c.up == c.n;
  status = 0;

out:
  stop_server(ctl[1], pid);
  for (unsigned i = 0; c.legs && i < c.n; i++) {
    if (c.legs[i].fd > 0)
      close(c.legs[i].fd);
    rtcsec_transport_free(c.legs[i].t);
  }
  free(c.legs);
  free(c.handshaking);
  free(c.consent_q);
  if (c.ep >= 0)
    close(c.ep);
  close(rep[0]);
  return status;
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "Usage: " PROG " [options]\n"
          "  -n, --sessions N          client legs / router sessions (default 100, max %u)\n"
          "  -r, --rate PPS            RTP packets per second per sending leg (default 50)\n"
          "  -d, --duration S          media phase in seconds (default 10, max 600)\n"
          "  -f, --forward N           forwarding: leg 0 publishes, the server forwards its\n"
          "                            stream to N subscriber legs (implies -n N+1)\n"
          "  -F, --floor S             plaintext phase for the floor (default 5, 0 = none)\n"
          "  -R, --reference N         first a run with N sessions at the same total packet\n"
          "                            rate, to compare the cost per packet (echo mode)\n"
          "  -c, --connect-rate N      legs started per second, 0 = all at once (default 1000)\n"
          "  -i, --max-inflight N      legs handshaking at once, 0 = no limit (default 200):\n"
          "                            keeps an overloaded server from collapsing\n"
          "  -p, --payload BYTES       RTP payload size (default 160, max 1100)\n"
          "  -b, --batch N             server recvmmsg/sendmmsg batch (default 64)\n"
          "  -s, --sock-buf MB         server socket buffers, each way (default 64)\n"
          "  -t, --handshake-timeout S all legs must connect within this (default 60)\n"
          "  -B, --baseline N          in-memory DTLS handshakes for the baseline (default 200)\n"
          "  -P, --profile NAME        SRTP profile the legs offer, e.g. SRTP_AES128_CM_SHA1_80\n"
          "                            (default: the library's list, AEAD_AES_128_GCM first)\n"
          "  -q, --quiet               only the result lines\n",
          MAX_SESSIONS);
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
  unsigned long v;
  if (tool_parse_ulong(s, lo, hi, &v) != 0)
    return -1;
  *out = (unsigned)v;
  return 0;
}

int main(int argc, char **argv) {
  opts o = {.sessions = 100,
            .rate = 50,
            .duration_s = 10,
            .connect_rate = 1000,
            .max_inflight = 200,
            .payload = 160,
            .batch = 64,
            .sock_buf_mb = 64,
            .handshake_timeout_s = 60,
            .baseline = 200,
            .floor_s = 5};
  static const struct option longopts[] = {
      {"sessions", required_argument, NULL, 'n'},
      {"rate", required_argument, NULL, 'r'},
      {"duration", required_argument, NULL, 'd'},
      {"forward", required_argument, NULL, 'f'},
      {"floor", required_argument, NULL, 'F'},
      {"reference", required_argument, NULL, 'R'},
      {"connect-rate", required_argument, NULL, 'c'},
      {"max-inflight", required_argument, NULL, 'i'},
      {"payload", required_argument, NULL, 'p'},
      {"batch", required_argument, NULL, 'b'},
      {"sock-buf", required_argument, NULL, 's'},
      {"handshake-timeout", required_argument, NULL, 't'},
      {"baseline", required_argument, NULL, 'B'},
      {"profile", required_argument, NULL, 'P'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int ch, n_given = 0;
  while ((ch = getopt_long(argc, argv, "n:r:d:f:F:R:c:i:p:b:s:t:B:P:qh", longopts, NULL)) != -1) {
    int bad = 0;
    switch (ch) {
    case 'n':
      bad = parse_uint(optarg, 1, MAX_SESSIONS, &o.sessions);
      n_given = 1;
      break;
    case 'r':
      bad = parse_uint(optarg, 0, MAX_RATE, &o.rate);
      break;
    case 'd':
      bad = parse_uint(optarg, 0, 600, &o.duration_s);
      break;
    case 'f':
      bad = parse_uint(optarg, 1, MAX_SESSIONS - 1, &o.forward);
      break;
    case 'F':
      bad = parse_uint(optarg, 0, 600, &o.floor_s);
      break;
    case 'R':
      bad = parse_uint(optarg, 1, MAX_SESSIONS, &o.reference);
      break;
    case 'c':
      bad = parse_uint(optarg, 0, 1000000, &o.connect_rate);
      break;
    case 'i':
      bad = parse_uint(optarg, 0, MAX_SESSIONS, &o.max_inflight);
      break;
    case 'p':
      bad = parse_uint(optarg, 0, 1100, &o.payload);
      break;
    case 'b':
      bad = parse_uint(optarg, 1, 1024, &o.batch);
      break;
    case 's':
      bad = parse_uint(optarg, 0, 1024, &o.sock_buf_mb);
      break;
    case 't':
      bad = parse_uint(optarg, 1, 3600, &o.handshake_timeout_s);
      break;
    case 'B':
      bad = parse_uint(optarg, 0, 100000, &o.baseline);
      break;
    case 'P':
      bad = rtcsec_srtp_profile_from_name(optarg, &o.profile) != RTCSEC_OK;
      break;
    case 'q':
      o.quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
    if (bad) {
      fprintf(stderr, PROG ": bad value for -%c: %s\n", ch, optarg);
      return 2;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  if (o.forward > 0) {
    if (n_given && o.sessions != o.forward + 1) {
      tool_usage_error(PROG, "--forward N means N + 1 sessions; leave out -n");
      return 2;
    }
    if (o.reference > 0) {
      tool_usage_error(PROG, "--reference is for the echo mode");
      return 2;
    }
    o.sessions = o.forward + 1;
  }
  if ((uint64_t)n_senders(&o) * o.rate * (o.forward ? o.forward : 1) > MAX_OFFERED_PER_S) {
    tool_usage_error(PROG, "more than %u packets per second offered", MAX_OFFERED_PER_S);
    return 2;
  }
  if (o.floor_s > o.duration_s)
    o.floor_s = o.duration_s;
  /* The reference run: the same total packet rate over fewer sessions. */
  opts ref = o;
  if (o.reference > 0) {
    uint64_t total = (uint64_t)o.sessions * o.rate;
    ref.sessions = o.reference;
    ref.rate = (unsigned)((total + o.reference / 2) / o.reference);
    if (ref.rate == 0 || ref.rate > MAX_RATE) {
      tool_usage_error(PROG, "--reference %u: %llu packets per second per session is out of range",
                       o.reference, (unsigned long long)ref.rate);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  /* one socket per leg */
  unsigned most = o.sessions > ref.sessions ? o.sessions : ref.sessions;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < most + 64u) {
    rl.rlim_cur = most + 64u;
    if (rl.rlim_max < rl.rlim_cur)
      rl.rlim_max = rl.rlim_cur; /* needs root */
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fprintf(stderr, PROG ": cannot raise the open-file limit to %u: %s\n", most + 64u,
              strerror(errno));
      return 1;
    }
  }

  rtcsec_cert *srv_cert = NULL, *cli_cert = NULL;
  if (rtcsec_cert_generate(&srv_cert, NULL) != RTCSEC_OK ||
      rtcsec_cert_generate(&cli_cert, NULL) != RTCSEC_OK) {
    fprintf(stderr, PROG ": certificate generation failed\n");
    return 1;
  }
  rtcsec_fingerprint srv_fp, cli_fp;
  rtcsec_cert_fingerprint(srv_cert, RTCSEC_HASH_SHA256, &srv_fp);
  rtcsec_cert_fingerprint(cli_cert, RTCSEC_HASH_SHA256, &cli_fp);

  baseline base;
  run_baseline(o.baseline, srv_cert, cli_cert, &base);
  double idle_bytes = idle_session_bytes(srv_cert, &cli_fp, o.sessions);

  int status = 0;
  run_summary rs_ref, rs;
  memset(&rs_ref, 0, sizeof(rs_ref));
  if (o.reference > 0) {
    line_prefix = "reference_";
    if (run(&ref, srv_cert, cli_cert, &srv_fp, &cli_fp, &rs_ref) != 0 || !rs_ref.all_connected)
      status = 1;
    line_prefix = "";
  }
  if (run(&o, srv_cert, cli_cert, &srv_fp, &cli_fp, &rs) != 0 || !rs.all_connected)
    status = 1;
  if (o.reference > 0) {
    /* The server's growth, and how much of it the plaintext floor (the
     * kernel's part: more sockets, more peers) shows too. */
    printf("cost_growth_vs_reference: %.2f\n",
           per(rs.server_us_per_packet, rs_ref.server_us_per_packet));
    if (rs.floor_syscalls_us_per_packet > 0 && rs_ref.floor_syscalls_us_per_packet > 0)
      printf("floor_syscalls_growth_vs_reference: %.2f\n",
             per(rs.floor_syscalls_us_per_packet, rs_ref.floor_syscalls_us_per_packet));
    /* what the floor itself does between the two session counts: the
     * kernel's part and fetching N sessions' keys */
    if (rs.floor_all_sessions_us_per_packet > 0 && rs_ref.floor_all_sessions_us_per_packet > 0)
      printf("floor_all_sessions_growth_vs_reference: %.2f\n",
             per(rs.floor_all_sessions_us_per_packet, rs_ref.floor_all_sessions_us_per_packet));
  }
  printf("server_heap_per_session_idle_bytes: %.0f\n", idle_bytes);
  if (o.baseline > 0) {
    printf("baseline_inmemory_dtls_handshakes_per_s: %.1f\n", base.pairs_per_s);
    printf("baseline_openssl_ssl_object_bytes: %llu\n", (unsigned long long)base.ssl_object_bytes);
    printf("baseline_rtcsec_dtls_connected_bytes: %llu\n",
           (unsigned long long)base.dtls_connected_bytes);
  }
  rtcsec_cert_free(srv_cert);
  rtcsec_cert_free(cli_cert);
  return status;
}
