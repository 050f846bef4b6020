/* rtcsec-sfu-load: N client legs against one single-port router on loopback.
 *
 * The process forks. The child is the server: one rtcsec_router with N
 * sessions on one UDP socket (127.0.0.1, ephemeral port), driven by
 * rtcsec_udp_mux (recvmmsg/sendmmsg + poll), echoing every RTP packet back
 * to its sender, as an SFU forwards. The parent runs the N client legs,
 * each its own UDP socket on 127.0.0.1 (so its own 5-tuple), each a
 * controlling full-ICE agent that sends a Binding request with
 * USE-CANDIDATE (RFC 8445 §7.2.2), then a DTLS client handshake, then RTP at
 * --rate packets per second and a consent check every 5 s (RFC 7675).
 *
 * Printed (stable `key: value` lines): handshakes per second and time to
 * connected (first check sent to DTLS connected) p50/p99; server packets per
 * second (in + out) and loss of the echo; server CPU per 1000 packets; server
 * memory per established session (heap in use and RSS, measured inside the
 * server process); and, in the same run, baselines: in-memory DTLS
 * handshakes (rtcsec_dtls pairs on one core, no ICE, no sockets), the heap
 * size of a fresh OpenSSL DTLS SSL object and of a connected rtcsec_dtls
 * association.
 *
 * Everything is bounded: --sessions, --duration, a handshake deadline, a
 * drain time; the server child dies with the parent (PR_SET_PDEATHSIG) and
 * stops by itself after the run's total time. Only loopback is used.
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

#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/stun.h"
#include "rtcsec/transport.h"
#include "rtcsec/udp_mux.h"
#include "util.h"

#define PROG "rtcsec-sfu-load"
#define SEC 1000000u
#define MS 1000u
#define MAX_SESSIONS 50000
#define MAX_PKT 2048
#define CHECK_RTO_US (500 * MS) /* doubled per try, up to 4 s */
#define CHECK_RTO_MAX_US (4 * SEC)
#define CHECK_TRIES 12
#define CONSENT_EVERY_US (5 * SEC)
#define DRAIN_US (1 * SEC)

typedef struct opts {
  unsigned sessions;
  unsigned rate; /* RTP per second per session */
  unsigned duration_s;
  unsigned connect_rate; /* legs started per second, 0 = all at once */
  unsigned max_inflight; /* legs handshaking at once, 0 = no limit */
  unsigned payload;
  unsigned batch;
  unsigned sock_buf_mb;
  unsigned handshake_timeout_s;
  unsigned baseline;
  rtcsec_srtp_profile profile; /* RTCSEC_SRTP_NONE: the default list */
  int quiet;
} opts;

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

static uint64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)ru.ru_utime.tv_sec * SEC + (uint64_t)ru.ru_utime.tv_usec +
         (uint64_t)ru.ru_stime.tv_sec * SEC + (uint64_t)ru.ru_stime.tv_usec;
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
  uint64_t heap, rss_kb, cpu_us, at_us;
  uint64_t connected, failed, expired, echoed, echo_errors;
  rtcsec_router_stats rs;
  rtcsec_udp_mux_stats ms;
} server_report;

typedef struct server {
  rtcsec_router *r;
  rtcsec_udp_mux *mux;
  const rtcsec_fingerprint *cli_fp;
  unsigned added;
  uint64_t connected, failed, expired, echoed, echo_errors;
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
  }
  return 0;
}

static void srv_on_media(void *user, rtcsec_udp_mux *m, const rtcsec_router_input *in, uint8_t *buf,
                         uint64_t now) {
  (void)now;
  server *s = user;
  if (in->kind != RTCSEC_PKT_RTP)
    return;
  /* An SFU forwards; this one sends each packet back to its sender. */
  size_t out = 0;
  struct sockaddr_storage dst;
  socklen_t dst_len = 0;
  if (rtcsec_router_protect_rtp(s->r, in->session, buf, in->len, MAX_PKT, &out, &dst, &dst_len,
                                now) != RTCSEC_OK ||
      rtcsec_udp_mux_send(m, buf, out, &dst, dst_len) != 0) {
    s->echo_errors++;
    return;
  }
  s->echoed++;
}

static void srv_on_event(void *user, rtcsec_udp_mux *m, const rtcsec_event *ev, uint64_t now) {
  (void)m;
  (void)now;
  server *s = user;
  if (ev->type == RTCSEC_EVENT_CONNECTED)
    s->connected++;
  else if (ev->type == RTCSEC_EVENT_FAILED)
    s->failed++;
  else if (ev->type == RTCSEC_EVENT_EXPIRED)
    s->expired++;
}

static int run_server(const opts *o, rtcsec_cert *cert, const rtcsec_fingerprint *cli_fp,
                      int ctl_fd, int rep_fd, uint64_t lifetime_us) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  server s;
  memset(&s, 0, sizeof(s));
  s.cli_fp = cli_fp;
  server_ready ready;
  memset(&ready, 0, sizeof(ready));
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert;
  rc.max_sessions = o->sessions;
  rc.hash_seed = (uint64_t)now_us() * 0x9e3779b97f4a7c15u;
  rc.max_queued_datagrams = 65536;
  if (rtcsec_router_new(&s.r, &rc) != RTCSEC_OK)
    return 1;
  ready.heap_empty = heap_in_use();
  ready.rss_empty_kb = rss_kb();
  rtcsec_udp_mux_config mc;
  rtcsec_udp_mux_config_default(&mc);
  mc.batch = o->batch;
  mc.sock_buf = (int)o->sock_buf_mb * 1024 * 1024;
  rtcsec_udp_mux_callbacks cb = {srv_on_media, srv_on_event, &s};
  if (rtcsec_udp_mux_open(&s.mux, s.r, &mc, &cb) != 0)
    return 1;
  ready.port = rtcsec_udp_mux_port(s.mux);
  if (write_all(rep_fd, &ready, sizeof(ready)) != 0)
    return 1;
  uint64_t end = now_us() + lifetime_us;
  int quit = 0;
  while (!quit && now_us() < end) {
    /* a few batches per turn, so that the control pipe is seen often */
    if (rtcsec_udp_mux_run_once(s.mux, 2, 4) < 0)
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
    } else if (cmd == 'S') {
      server_report rep;
      memset(&rep, 0, sizeof(rep));
      rep.heap = heap_in_use();
      rep.rss_kb = rss_kb();
      rep.cpu_us = cpu_us();
      rep.at_us = now_us();
      rep.connected = s.connected;
      rep.failed = s.failed;
      rep.expired = s.expired;
      rep.echoed = s.echoed;
      rep.echo_errors = s.echo_errors;
      rtcsec_router_get_stats(s.r, &rep.rs);
      rtcsec_udp_mux_get_stats(s.mux, &rep.ms);
      if (write_all(rep_fd, &rep, sizeof(rep)) != 0)
        quit = 1;
    }
  }
  rtcsec_udp_mux_close(s.mux);
  rtcsec_router_free(s.r);
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
  uint64_t sent, echoed, bad;
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
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, l->tid);
  rtcsec_stun_add_username(&b, user, strlen(user));
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e001eff);
  rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLING, ctr * 0x9e3779b97f4a7c15u);
  if (nominate)
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rtcsec_stun_add_integrity(&b, (const uint8_t *)l->srv_pwd, strlen(l->srv_pwd));
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  if (rtcsec_stun_builder_finish(&b, &n) == RTCSEC_OK)
    leg_send(c, l, buf, n);
  uint64_t rto = CHECK_RTO_US << (l->tries < 4 ? l->tries : 4);
  if (rto > CHECK_RTO_MAX_US)
    rto = CHECK_RTO_MAX_US;
  l->next_check = now + (nominate ? rto : CONSENT_EVERY_US);
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
      l->state = LEG_UP;
      l->t_up = now;
      c->up++;
      /* consent checks from now on, staggered */
      l->next_check = now + CONSENT_EVERY_US + (uint64_t)(l - c->legs) % 1000 * MS;
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
    /* nominated: start DTLS as the client (the router answers passive) */
    l->state = LEG_DTLS;
    rtcsec_transport_start(l->t, now);
    leg_flush(c, l, now);
  }
}

static void leg_input(client *c, cleg *l, uint8_t *d, size_t n, uint64_t now) {
  if (rtcsec_demux_classify(d, n) == RTCSEC_PKT_STUN) {
    leg_stun(c, l, d, n, now);
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

static void receive_some(client *c, int wait_ms, uint64_t *now) {
  struct epoll_event evs[256];
  int k = epoll_wait(c->ep, evs, 256, wait_ms);
  *now = now_us();
  uint8_t buf[MAX_PKT];
  for (int i = 0; i < k; i++) {
    cleg *l = &c->legs[evs[i].data.u32];
    for (int j = 0; j < 32; j++) {
      ssize_t r = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r <= 0)
        break;
      leg_input(c, l, buf, (size_t)r, *now);
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

/* Consent checks of connected legs, every 5 s each (staggered). */
static void consent_checks(client *c, uint64_t now, unsigned *cursor) {
  for (unsigned k = 0; k < 256 && c->n > 0; k++) {
    cleg *l = &c->legs[*cursor];
    *cursor = (*cursor + 1) % c->n;
    if (l->state == LEG_UP && now >= l->next_check)
      send_check(c, l, 0, now);
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

static int ask(int ctl, int rep, server_report *out) {
  char cmd = 'S';
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

/* ---- main ----------------------------------------------------------------------------- */

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

static void usage(FILE *f) {
  fprintf(f,
          "Usage: " PROG " [options]\n"
          "  -n, --sessions N          client legs / router sessions (default 100, max %u)\n"
          "  -r, --rate PPS            RTP packets per second per leg (default 50)\n"
          "  -d, --duration S          media phase in seconds (default 10, max 600)\n"
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
            .baseline = 200};
  static const struct option longopts[] = {
      {"sessions", required_argument, NULL, 'n'},
      {"rate", required_argument, NULL, 'r'},
      {"duration", required_argument, NULL, 'd'},
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
  int ch;
  while ((ch = getopt_long(argc, argv, "n:r:d:c:i:p:b:s:t:B:P:qh", longopts, NULL)) != -1) {
    int bad = 0;
    switch (ch) {
    case 'n':
      bad = parse_uint(optarg, 1, MAX_SESSIONS, &o.sessions);
      break;
    case 'r':
      bad = parse_uint(optarg, 0, 1000, &o.rate);
      break;
    case 'd':
      bad = parse_uint(optarg, 0, 600, &o.duration_s);
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
  signal(SIGPIPE, SIG_IGN);
  /* one socket per leg */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < o.sessions + 64u) {
    rl.rlim_cur = o.sessions + 64u;
    if (rl.rlim_max < rl.rlim_cur)
      rl.rlim_max = rl.rlim_cur; /* needs root */
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fprintf(stderr, PROG ": cannot raise the open-file limit to %u: %s\n", o.sessions + 64u,
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

  double load_start = loadavg();
  baseline base;
  run_baseline(o.baseline, srv_cert, cli_cert, &base);
  double idle_bytes = idle_session_bytes(srv_cert, &cli_fp, o.sessions);

  int ctl[2], rep[2];
  if (pipe(ctl) != 0 || pipe(rep) != 0) {
    perror(PROG ": pipe");
    return 1;
  }
  uint64_t lifetime = ((uint64_t)o.handshake_timeout_s + o.duration_s + 30) * SEC;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror(PROG ": fork");
    return 1;
  }
  if (pid == 0) {
    close(ctl[1]);
    close(rep[0]);
    int rc = run_server(&o, srv_cert, &cli_fp, ctl[0], rep[1], lifetime);
    _exit(rc);
  }
  close(ctl[0]);
  close(rep[1]);
  int status = 1;
  server_ready ready;
  if (read_all(rep[0], &ready, sizeof(ready), 60000) != 0) {
    fprintf(stderr, PROG ": the server did not start\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }

  client c;
  memset(&c, 0, sizeof(c));
  c.o = &o;
  c.n = o.sessions;
  c.cert = cli_cert;
  c.srv_fp = srv_fp;
  c.srv.sin_family = AF_INET;
  c.srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  c.srv.sin_port = htons(ready.port);
  c.legs = calloc(c.n, sizeof(cleg));
  c.handshaking = calloc(c.n, sizeof(unsigned));
  c.ep = epoll_create1(EPOLL_CLOEXEC);
  if (c.legs == NULL || c.handshaking == NULL || c.ep < 0) {
    fprintf(stderr, PROG ": out of memory\n");
    goto out;
  }
  for (unsigned i = 0; i < c.n; i++) {
    cleg *l = &c.legs[i];
    creds(i, l->srv_ufrag, l->srv_pwd, l->cli_ufrag);
    l->fd = open_leg_socket(&c.srv);
    rtcsec_transport_config tc;
    rtcsec_transport_config_default(&tc);
    tc.dtls.cert = cli_cert;
    tc.dtls.role = RTCSEC_DTLS_CLIENT;
    tc.dtls.peer_fingerprints = &srv_fp;
    tc.dtls.n_peer_fingerprints = 1;
    if (o.profile != RTCSEC_SRTP_NONE) {
      tc.dtls.profiles[0] = o.profile;
      tc.dtls.n_profiles = 1;
    }
    if (l->fd < 0 || rtcsec_transport_new(&l->t, &tc) != RTCSEC_OK) {
      fprintf(stderr, PROG ": leg %u: socket or transport failed\n", i);
      goto out;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(c.ep, EPOLL_CTL_ADD, l->fd, &ev);
  }

  /* ---- phase 1: ICE + DTLS for every leg ---- */
  server_report r0, r1, r2;
  if (ask(ctl[1], rep[0], &r0) != 0)
    goto out;
  uint64_t t_begin = now_us(), now = t_begin;
  uint64_t hs_end = t_begin + (uint64_t)o.handshake_timeout_s * SEC;
  unsigned started = 0, consent_cursor = 0, added = 0;
  while (c.up + c.failed < c.n && now < hs_end) {
    /* start legs at the connect rate */
    uint64_t want = o.connect_rate ? (now - t_begin) * o.connect_rate / SEC + 1 : c.n;
    if (want > c.n)
      want = c.n;
    while (started < c.n && started < want &&
           (o.max_inflight == 0 || c.n_handshaking < o.max_inflight)) {
      if (started >= added &&
          ensure_added(ctl[1], rep[0], &added, started + 32 < c.n ? started + 32 : c.n) != 0) {
        fprintf(stderr, PROG ": the server could not add sessions\n");
        goto out;
      }
      cleg *l = &c.legs[started];
      l->state = LEG_CHECKING;
      l->t_start = now;
      send_check(&c, l, 1, now);
      c.handshaking[c.n_handshaking++] = started;
      started++;
    }
    receive_some(&c, 1, &now);
    handshake_timers(&c, now);
    consent_checks(&c, now, &consent_cursor);
  }
  uint64_t t_all = now;
  if (ask(ctl[1], rep[0], &r1) != 0)
    goto out;

  uint64_t *ttc = calloc(c.n, sizeof(uint64_t));
  unsigned n_ttc = 0;
  uint64_t last_up = t_begin;
  for (unsigned i = 0; i < c.n && ttc; i++) {
    if (c.legs[i].state == LEG_UP) {
      ttc[n_ttc++] = c.legs[i].t_up - c.legs[i].t_start;
      if (c.legs[i].t_up > last_up)
        last_up = c.legs[i].t_up;
    }
  }
  if (ttc)
    qsort(ttc, n_ttc, sizeof(uint64_t), cmp_u64);

  /* ---- phase 2: media at the given rate ---- */
  uint64_t sent_total = 0, t_media = now_us(), t_media_end = t_media + o.duration_s * SEC;
  uint64_t cpu_client0 = cpu_us(), late = 0;
  long long rcvbuf0 = udp_rcvbuf_errors();
  unsigned cursor = 0;
  uint8_t pkt[MAX_PKT];
  now = t_media;
  while (now < t_media_end && o.rate > 0 && c.up > 0) {
    uint64_t want = (now - t_media) * (uint64_t)c.up * o.rate / SEC;
    unsigned burst = 0;
    while (sent_total < want && burst < 4096) {
      cleg *l = &c.legs[cursor];
      cursor = (cursor + 1) % c.n;
      if (l->state != LEG_UP)
        continue;
      uint32_t ssrc = 0x10000u + (uint32_t)(l - c.legs);
      uint16_t seq = ++l->seq;
      pkt[0] = 0x80;
      pkt[1] = 96;
      pkt[2] = (uint8_t)(seq >> 8);
      pkt[3] = (uint8_t)seq;
      uint32_t ts = (uint32_t)seq * 960u;
      for (int b = 0; b < 4; b++) {
        pkt[4 + b] = (uint8_t)(ts >> (24 - 8 * b));
        pkt[8 + b] = (uint8_t)(ssrc >> (24 - 8 * b));
      }
      memset(pkt + 12, (int)(seq & 0xff), o.payload);
      size_t out = 0;
      if (rtcsec_transport_protect_rtp(l->t, pkt, 12 + o.payload, sizeof(pkt), &out, now) ==
          RTCSEC_OK) {
        leg_send(&c, l, pkt, out);
        l->sent++;
      }
      sent_total++;
      burst++;
    }
    if (sent_total < want)
      late++;
    receive_some(&c, 0, &now);
    consent_checks(&c, now, &consent_cursor);
    if (burst == 0) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
      now = now_us();
    }
  }
  uint64_t t_media_done = now_us();
  /* drain the echoes still in flight: until none came for DRAIN_US (at
   * most 10 s), then once more after the server's final report, which it
   * gives only after what it had already received */
  uint64_t last_rx = t_media_done, echoed_before = 0;
  for (now = now_us(); now < last_rx + DRAIN_US && now < t_media_done + 10 * SEC;) {
    receive_some(&c, 10, &now);
    uint64_t e = 0;
    for (unsigned i = 0; i < c.n; i++)
      e += c.legs[i].echoed;
    if (e != echoed_before) {
      echoed_before = e;
      last_rx = now;
    }
  }
  if (ask(ctl[1], rep[0], &r2) != 0)
    goto out;
  for (uint64_t t_end = now_us() + DRAIN_US / 4; now < t_end;)
    receive_some(&c, 10, &now);
  uint64_t cpu_client = cpu_us() - cpu_client0;
  long long rcvbuf1 = udp_rcvbuf_errors();

  uint64_t sent = 0, echoed = 0, tx_bad = 0;
  for (unsigned i = 0; i < c.n; i++) {
    sent += c.legs[i].sent;
    echoed += c.legs[i].echoed;
    tx_bad += c.legs[i].bad;
  }

  /* ---- report ---- */
  double hs_window = (double)(last_up - t_begin) / 1e6;
  double media_s = (double)(t_media_done - t_media) / 1e6;
  uint64_t srv_pkts =
      (r2.ms.rx_datagrams - r1.ms.rx_datagrams) + (r2.ms.tx_datagrams - r1.ms.tx_datagrams);
  uint64_t srv_cpu_media = r2.cpu_us - r1.cpu_us;
  uint64_t srv_cpu_hs = r1.cpu_us - r0.cpu_us;
  printf("cpus_online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
  printf("loadavg_1min_at_start: %.2f\n", load_start);
  printf("loadavg_1min_at_end: %.2f\n", loadavg());
  printf("sessions: %u\n", c.n);
  printf("connected: %u\n", c.up);
  printf("failed: %u\n", c.failed + (c.n - c.up - c.failed));
  printf("server_connected_events: %llu\n", (unsigned long long)r1.connected);
  printf("connect_rate_offered_per_s: %u\n", o.connect_rate);
  printf("max_inflight: %u\n", o.max_inflight);
  printf("server_batch: %u\n", o.batch);
  printf("server_sock_buf_mb: %u\n", o.sock_buf_mb);
  printf("handshakes_per_s: %.1f\n", hs_window > 0 ? c.up / hs_window : 0.0);
  printf("server_cpu_ms_per_handshake: %.3f\n",
         r1.connected ? (double)srv_cpu_hs / 1000.0 / (double)r1.connected : 0.0);
  if (n_ttc > 0) {
    printf("time_to_connected_ms_p50: %.2f\n", (double)ttc[n_ttc / 2] / 1000.0);
    printf("time_to_connected_ms_p99: %.2f\n", (double)ttc[(n_ttc * 99) / 100] / 1000.0);
    printf("time_to_connected_ms_max: %.2f\n", (double)ttc[n_ttc - 1] / 1000.0);
  }
  printf("all_connected_after_s: %.2f\n", (double)(t_all - t_begin) / 1e6);
  printf("srtp_profile: %s\n", o.profile == RTCSEC_SRTP_NONE ? "default (AEAD_AES_128_GCM first)"
                                                             : rtcsec_srtp_profile_name(o.profile));
  printf("rtp_rate_per_session: %u\n", o.rate);
  printf("media_duration_s: %.2f\n", media_s);
  printf("rtp_offered: %.0f\n", (double)c.up * o.rate * (double)o.duration_s);
  printf("rtp_sent: %llu\n", (unsigned long long)sent);
  printf("rtp_sent_per_s: %.0f\n", media_s > 0 ? (double)sent / media_s : 0.0);
  printf("rtp_echoed: %llu\n", (unsigned long long)echoed);
  printf("rtp_loss_pct: %.4f\n", sent ? 100.0 * (double)(sent - echoed) / (double)sent : 0.0);
  uint64_t srv_media = r2.rs.media_delivered - r1.rs.media_delivered;
  uint64_t srv_echo = r2.echoed - r1.echoed;
  printf("rtp_lost_client_to_server: %lld\n", (long long)sent - (long long)srv_media);
  printf("rtp_lost_server_to_client: %lld\n", (long long)srv_echo - (long long)echoed);
  printf("kernel_udp_rcvbuf_errors: %lld\n",
         rcvbuf0 >= 0 && rcvbuf1 >= 0 ? rcvbuf1 - rcvbuf0 : -1LL);
  printf("client_send_errors: %llu\n", (unsigned long long)tx_bad);
  printf("client_late_rounds: %llu\n", (unsigned long long)late);
  printf("server_packets_per_s: %.0f\n", media_s > 0 ? (double)srv_pkts / media_s : 0.0);
  printf("server_cpu_ms_per_1000_packets: %.3f\n",
         srv_pkts ? (double)srv_cpu_media / 1000.0 / ((double)srv_pkts / 1000.0) : 0.0);
  printf("server_cpu_pct_media: %.1f\n",
         media_s > 0 ? 100.0 * (double)srv_cpu_media / 1e6 / media_s : 0.0);
  printf("client_cpu_pct_media: %.1f\n",
         media_s > 0 ? 100.0 * (double)cpu_client / 1e6 / (media_s + DRAIN_US / 1e6) : 0.0);
  printf("server_rx_calls_per_datagram: %.3f\n",
         r2.ms.rx_datagrams ? (double)r2.ms.rx_calls / (double)r2.ms.rx_datagrams : 0.0);
  printf("server_tx_dropped: %llu\n", (unsigned long long)r2.ms.tx_dropped);
  printf("server_echo_errors: %llu\n", (unsigned long long)r2.echo_errors);
  printf("server_drop_unknown_source: %llu\n", (unsigned long long)r2.rs.drop_unknown_source);
  printf("server_media_dropped: %llu\n", (unsigned long long)r2.rs.media_dropped);
  printf("server_sessions_expired: %llu\n", (unsigned long long)r2.rs.sessions_expired);
  printf("server_stun_requests: %llu\n", (unsigned long long)r2.rs.stun_requests);
  double per = c.up ? 1.0 / c.up : 0;
  printf("server_heap_per_session_idle_bytes: %.0f\n", idle_bytes);
  printf("server_heap_per_session_established_bytes: %.0f\n",
         r1.heap > ready.heap_empty ? (double)(r1.heap - ready.heap_empty) * per : 0.0);
  printf("server_rss_per_session_established_kb: %.2f\n",
         r1.rss_kb > ready.rss_empty_kb ? (double)(r1.rss_kb - ready.rss_empty_kb) * per : 0.0);
  printf("server_rss_total_kb: %llu\n", (unsigned long long)r2.rss_kb);
  if (o.baseline > 0) {
    printf("baseline_inmemory_dtls_handshakes_per_s: %.1f\n", base.pairs_per_s);
    printf("baseline_openssl_ssl_object_bytes: %llu\n", (unsigned long long)base.ssl_object_bytes);
    printf("baseline_rtcsec_dtls_connected_bytes: %llu\n",
           (unsigned long long)base.dtls_connected_bytes);
  }
  free(ttc);
  status = (c.up == c.n) ? 0 : 1;

out:
  stop_server(ctl[1], pid);
  for (unsigned i = 0; c.legs && i < c.n; i++) {
    if (c.legs[i].fd > 0)
      close(c.legs[i].fd);
    rtcsec_transport_free(c.legs[i].t);
  }
  free(c.legs);
  free(c.handshaking);
  if (c.ep >= 0)
    close(c.ep);
  close(rep[0]);
  rtcsec_cert_free(srv_cert);
  rtcsec_cert_free(cli_cert);
  return status;
}
