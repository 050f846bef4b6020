/* Figure 7 (issue 13): the single-port router's media path in user space as
 * live sessions pile up. N sessions on one rtcsec_router, each with a leg
 * of its own (a DTLS-client rtcsec_transport behind a source address that
 * exists only in memory, 127.x.y.z:40000), connected in memory: the leg's
 * nominating ICE check, then the DTLS handshake, no sockets. Then RTP
 * packets with 160-byte payloads go round-robin through the legs in
 * batches of 32, as rtcsec_udp_mux hands a recvmmsg() batch over: the legs
 * protect (not timed); the router takes each datagram, unprotects it,
 * routes it to its session, and protects the echo back to the leg's
 * address (timed, thread CPU time, the median of --runs); the legs
 * unprotect the echoes and check them (not timed).
 *   router.packet.100 / .1000 / .all   ns per echoed packet over the first
 *       100, 1000 and all N sessions, against the EVP floor (evp_floor.h)
 *       over as many keys, taken in the same order: the baseline pays
 *       for fetching N sessions' keys too, so the ratio is what the
 *       router, transport, bridge and libsrtp2 add on top;
 *   router.growth                      all against 100 (target 1.2: issue
 *       13's "the cost must not grow with live sessions", here without
 *       the kernel's part, which rtcsec-sfu-load --reference adds);
 *   router.prefetch.100 / .1000 / router.prefetch   100, 1000 and all
 *       N sessions with the batch's rtcsec_router_prefetch() (as
 *       rtcsec_udp_mux calls it, and as all figures above are measured)
 *       against the same round-robin without it.
 * --callgrind: instructions per packet over 100 and over all N sessions. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "evp_floor.h"
#include "rtcsec/router.h"

#define PAYLOAD 160
#define BATCH 32
#define PKT 512
#define PACKETS 20000 /* per measured round-robin */
#define PUMP_ROUNDS 64

typedef struct leg {
  rtcsec_transport *t;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint16_t seq;
} leg;

typedef struct rbench {
  rtcsec_router *r;
  leg *legs;
  size_t n;
  rtcsec_cert *cert[2]; /* [0] the legs', [1] the router's */
  rtcsec_fingerprint fp[2];
  uint64_t now;
} rbench;

static void leg_addr(size_t i, struct sockaddr_storage *ss, socklen_t *len) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  memset(ss, 0, sizeof(*ss));
  sin->sin_family = AF_INET;
  sin->sin_port = htons(40000);
  sin->sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)i);
  *len = sizeof(*sin);
}

/* The leg a datagram from the router goes to, or n if none. */
static size_t leg_of(const rbench *b, const struct sockaddr_storage *dst) {
  const struct sockaddr_in *sin = (const struct sockaddr_in *)dst;
  uint32_t a = ntohl(sin->sin_addr.s_addr);
  if (sin->sin_family != AF_INET || a < 0x7f000001u || a - 0x7f000001u >= b->n)
    return b->n;
  return a - 0x7f000001u;
}

static void creds(size_t i, char *ufrag, char *pwd, char *remote) {
  snprintf(ufrag, 16, "rb%06zu", i);
  snprintf(pwd, 40, "pwd%06zu+routerbenchpassword", i);
  snprintf(remote, 16, "lg%06zu", i);
}

/* Moves datagrams both ways until neither side has any (bounded); STUN
 * answers to the legs are dropped (a leg here only sends its check). */
static int pump(rbench *b, size_t i) {
  uint8_t buf[2048];
  for (int round = 0; round < PUMP_ROUNDS; round++) {
    int moved = 0;
    size_t n = 0;
    while (rtcsec_transport_poll_datagram(b->legs[i].t, buf, sizeof(buf), &n) == RTCSEC_OK &&
           n > 0) {
      rtcsec_router_input in;
      rtcsec_router_handle_datagram(b->r, buf, n, &b->legs[i].addr, b->legs[i].addr_len, b->now,
                                    &in);
      moved = 1;
    }
    struct sockaddr_storage dst;
    socklen_t dst_len = 0;
    while (rtcsec_router_poll_datagram(b->r, buf, sizeof(buf), &n, &dst, &dst_len, NULL) ==
               RTCSEC_OK &&
           n > 0) {
      size_t to = leg_of(b, &dst);
      if (to < b->n && rtcsec_demux_classify(buf, n) != RTCSEC_PKT_STUN) {
        rtcsec_transport_input tin;
        rtcsec_transport_handle_datagram(b->legs[to].t, buf, n, b->now, &tin);
      }
      moved = 1;
    }
    rtcsec_event ev;
    while (rtcsec_router_poll_event(b->r, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE)
      moved = 1;
    while (rtcsec_transport_poll_event(b->legs[i].t, &ev) == RTCSEC_OK &&
           ev.type != RTCSEC_EVENT_NONE)
      moved = 1;
    if (!moved)
      return 0;
  }
  return 0;
}

/* Session i: added, nominated by its leg's check, DTLS connected. */
static int connect_leg(rbench *b, size_t i) {
  char ufrag[16], pwd[40], remote[16], user[40];
  creds(i, ufrag, pwd, remote);
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = ufrag;
  sc.local_pwd = pwd;
  sc.remote_ufrag = remote;
  sc.peer_fingerprints = &b->fp[0];
  sc.n_peer_fingerprints = 1;
  sc.user = (void *)(uintptr_t)i;
  rtcsec_session_id id;
  if (rtcsec_router_add_session(b->r, &sc, b->now, &id) != RTCSEC_OK)
    return -1;
  leg *l = &b->legs[i];
  leg_addr(i, &l->addr, &l->addr_len);
  rtcsec_transport_config tc;
  rtcsec_transport_config_default(&tc);
  tc.dtls.cert = b->cert[0];
  tc.dtls.role = RTCSEC_DTLS_CLIENT;
  tc.dtls.peer_fingerprints = &b->fp[1];
  tc.dtls.n_peer_fingerprints = 1;
  tc.dtls.profiles[0] = RTCSEC_SRTP_AEAD_AES_128_GCM;
  tc.dtls.n_profiles = 1;
  if (rtcsec_transport_new(&l->t, &tc) != RTCSEC_OK)
    return -1;
  uint8_t tid[12] = {'r', 'b'}, check[256];
  memcpy(tid + 4, &i, sizeof(i) < 8 ? sizeof(i) : 8);
  snprintf(user, sizeof(user), "%s:%s", ufrag, remote);
  size_t n = bench_ice_check(check, sizeof(check), user, pwd, tid, 0x5eedu + i, 1);
  rtcsec_router_input in;
  if (n == 0 || rtcsec_router_handle_datagram(b->r, check, n, &l->addr, l->addr_len, b->now, &in) !=
                    RTCSEC_OK)
    return -1;
  rtcsec_transport_start(l->t, b->now);
  pump(b, i);
  rtcsec_router_session_info info;
  if (rtcsec_transport_get_state(l->t) != RTCSEC_DTLS_STATE_CONNECTED ||
      rtcsec_router_get_session_info(b->r, id, &info) != RTCSEC_OK ||
      info.state != RTCSEC_ROUTER_SESSION_CONNECTED)
    return -1;
  return 0;
}

static void rbench_free(rbench *b) {
  for (size_t i = 0; b->legs != NULL && i < b->n; i++)
    rtcsec_transport_free(b->legs[i].t);
  free(b->legs);
  rtcsec_router_free(b->r);
  rtcsec_cert_free(b->cert[0]);
  rtcsec_cert_free(b->cert[1]);
  memset(b, 0, sizeof(*b));
}

static int rbench_init(rbench *b, size_t n) {
  memset(b, 0, sizeof(*b));
  b->now = 1000000;
  b->legs = calloc(n, sizeof(*b->legs));
  if (b->legs == NULL || rtcsec_cert_generate(&b->cert[0], NULL) != RTCSEC_OK ||
      rtcsec_cert_generate(&b->cert[1], NULL) != RTCSEC_OK)
    return -1;
  b->n = n;
  for (int k = 0; k < 2; k++)
    rtcsec_cert_fingerprint(b->cert[k], RTCSEC_HASH_SHA256, &b->fp[k]);
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = b->cert[1];
  rc.max_sessions = (uint32_t)n;
  rc.hash_seed = 0x243f6a8885a308d3u;
  if (rtcsec_router_new(&b->r, &rc) != RTCSEC_OK)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (connect_leg(b, i) != 0) {
      fprintf(stderr, "rtcsec-bench: router session %zu did not connect\n", i);
      return -1;
    }
  }
  return 0;
}

/* One round-robin over the first m legs, `packets` packets in batches:
 * ns of thread CPU per echoed packet in the router, -1 on any failure. */
static double round_robin(rbench *b, size_t m, size_t packets, int prefetch, int callgrind,
                          const char *dump) {
  static uint8_t buf[BATCH][PKT];
  size_t len[BATCH], from[BATCH], cursor = 0, done = 0;
  uint64_t spent = 0;
  int bad = 0;
  if (callgrind)
    bench_cg_begin();
  while (done < packets && !bad) {
    size_t k = packets - done < BATCH ? packets - done : BATCH;
    /* the legs protect (not timed) */
    if (callgrind)
      bench_cg_pause();
    for (size_t j = 0; j < k; j++) {
      leg *l = &b->legs[cursor];
      from[j] = cursor;
      cursor = (cursor + 1) % m;
      size_t plain = bench_make_rtp(buf[j], 0x10000u + (uint32_t)from[j], ++l->seq, PAYLOAD);
      bad |= rtcsec_transport_protect_rtp(l->t, buf[j], plain, PKT, &len[j], b->now) != RTCSEC_OK;
    }
    if (callgrind)
      bench_cg_resume();
    /* the router: in, unprotect, route, protect the echo (timed), after
     * the batch's prefetch as rtcsec_udp_mux does it */
    struct sockaddr_storage src[BATCH];
    socklen_t src_len[BATCH];
    for (size_t j = 0; j < k; j++) {
      src[j] = b->legs[from[j]].addr;
      src_len[j] = b->legs[from[j]].addr_len;
    }
    uint64_t t0 = bench_cpu_ns();
    if (prefetch)
      rtcsec_router_prefetch(b->r, src, src_len, k);
    for (size_t j = 0; j < k; j++) {
      rtcsec_router_input in;
      struct sockaddr_storage dst;
      socklen_t dst_len = 0;
      if (rtcsec_router_handle_datagram(b->r, buf[j], len[j], &src[j], src_len[j], b->now, &in) !=
              RTCSEC_OK ||
          in.kind != RTCSEC_PKT_RTP ||
          rtcsec_router_protect_rtp(b->r, in.session, buf[j], in.len, PKT, &len[j], &dst, &dst_len,
                                    b->now) != RTCSEC_OK ||
          leg_of(b, &dst) != from[j])
        bad = 1;
    }
    spent += bench_cpu_ns() - t0;
    if (callgrind)
      bench_cg_pause();
    /* the legs check their echoes (not timed) */
    for (size_t j = 0; j < k && !bad; j++) {
      rtcsec_transport_input tin;
      bad = rtcsec_transport_handle_datagram(b->legs[from[j]].t, buf[j], len[j], b->now, &tin) !=
                RTCSEC_OK ||
            tin.len != 12 + PAYLOAD;
    }
    if (callgrind)
      bench_cg_resume();
    done += k;
  }
  if (callgrind)
    bench_cg_end(dump);
  return bad ? -1 : (double)spent / (double)packets;
}

static size_t n_sessions(const bench_opts *o) {
  return o->live_sessions < 1000 ? 1000 : o->live_sessions;
}

int bench_router_callgrind_child(const bench_opts *o) {
  rbench b;
  size_t n = n_sessions(o);
  int rc = -1;
  if (rbench_init(&b, n) == 0 && round_robin(&b, n, n, 1, 0, NULL) >= 0) {
    char d100[64], dall[64];
    snprintf(d100, sizeof(d100), "router.packet|100|%d", PACKETS / 4);
    snprintf(dall, sizeof(dall), "router.packet|all|%d", PACKETS / 4);
    if (round_robin(&b, 100, PACKETS / 4, 1, 1, d100) >= 0 &&
        round_robin(&b, n, PACKETS / 4, 1, 1, dall) >= 0)
      rc = 0;
  }
  rbench_free(&b);
  return rc;
}

static void add(const char *name, const char *label, const char *what, const char *base_name,
                double v, double base, double target) {
  bench_figure *f = bench_figure_get("router", name, label, "ns/packet", what, base_name);
  if (target > 0)
    bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, target);
  bench_series_add(&f->val, v);
  if (!isnan(base))
    bench_series_add(&f->base, base);
}

int bench_router_run(const bench_opts *o) {
  rbench b;
  size_t n = n_sessions(o);
  size_t sizes[3] = {100, 1000, n};
  double floor[3];
  int rc = -1;
  uint64_t t0 = tool_now_us();
  if (rbench_init(&b, n) != 0)
    goto out;
  fprintf(stderr, "rtcsec-bench: %zu router sessions connected in memory in %.1f s\n", n,
          (double)(tool_now_us() - t0) / 1e6);
  /* warm-up: each session's first packet makes its libsrtp2 streams */
  if (round_robin(&b, n, n, 1, 0, NULL) < 0)
    goto out;
  for (int k = 0; k < 3; k++) {
    floor[k] =
        evp_floor_ns(RTCSEC_SRTP_AEAD_AES_128_GCM, PAYLOAD, (unsigned)sizes[k], (unsigned)sizes[k]);
    if (floor[k] < 0)
      goto out;
  }
  for (int run = 0; run < o->runs; run++) {
    double v[3], plain[3];
    int failed = 0;
    for (int k = 0; k < 3 && !failed; k++) {
      size_t packets = PACKETS > sizes[k] ? PACKETS : sizes[k];
      v[k] = round_robin(&b, sizes[k], packets, 1, 0, NULL);
      plain[k] = round_robin(&b, sizes[k], packets, 0, 0, NULL);
      failed = v[k] < 0 || plain[k] < 0;
    }
    if (failed) {
      fprintf(stderr, "rtcsec-bench: a router echo failed\n");
      goto out;
    }
    char label[64];
    add("router.packet.100", "echo, round-robin 100", "unprotect + route + protect",
        "EVP floor, 100 keys", v[0], floor[0], 0);
    add("router.packet.1000", "echo, round-robin 1000", "unprotect + route + protect",
        "EVP floor, 1000 keys", v[1], floor[1], 0);
    snprintf(label, sizeof(label), "echo, round-robin %zu", n);
    add("router.packet.all", label, "unprotect + route + protect", "EVP floor, as many keys", v[2],
        floor[2], 0);
    add("router.growth", label, "over all N sessions", "over 100 sessions", v[2], v[0], 1.2);
    add("router.prefetch.100", "echo, round-robin 100", "with rtcsec_router_prefetch()", "without",
        v[0], plain[0], 0);
    add("router.prefetch.1000", "echo, round-robin 1000", "with rtcsec_router_prefetch()",
        "without", v[1], plain[1], 0);
    add("router.prefetch", label, "with rtcsec_router_prefetch()", "without", v[2], plain[2], 0);
  }
  rc = 0;
out:
  rbench_free(&b);
  return rc;
}
