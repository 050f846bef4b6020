/* ice suite: librtcsec-ice over real sockets on loopback (127.0.0.0/8
 * only), with libnice on both ends and, for relaying, Debian's coturn
 * started by the test. Real time: every wait is bounded and each test
 * stays under 30 s, except the consent test (RFC 7675's 30 s, bounded at
 * 45 s). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rtcsec/error.h"
#include "rtcsec/ice.h"
#include "rtcsec/rtcsec.h"

#include "ice_internal.h"

#define PAYLOAD 160
#define RTP_PT 111

/* ---- one endpoint and what it saw ---------------------------------------- */

typedef struct peer {
  const char *name;
  rtcsec_ice_agent *a;
  rtcsec_cert *cert;
  rtcsec_fingerprint fp;
  GMutex m;
  GCond c;
  /* Guarded by m. */
  GPtrArray *cands; /* local candidates reported since the last reset */
  int gathering_done;
  rtcsec_ice_state state;
  int connected_events; /* STATE -> CONNECTED */
  int dtls_connected, dtls_failed, dtls_closed, consent_lost, pair_events;
  rtcsec_ice_pair_info pair;
  rtcsec_srtp_profile profile;
  int rtp_rx, bad_media;
  gint64 consent_lost_at;
  struct peer *forward; /* trickle each local candidate to it at once */
  int forward_errors;
} peer;

static void on_event(void *user, const rtcsec_event *ev) {
  peer *p = user;
  peer *fwd = NULL;
  char *cand = NULL;
  g_mutex_lock(&p->m);
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    g_ptr_array_add(p->cands, g_strdup(ev->candidate));
    fwd = p->forward;
    cand = g_strdup(ev->candidate);
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    p->gathering_done = 1;
    break;
  case RTCSEC_EVENT_ICE_STATE:
    p->state = ev->ice_state;
    if (ev->ice_state == RTCSEC_ICE_STATE_CONNECTED)
      p->connected_events++;
    break;
  case RTCSEC_EVENT_SELECTED_PAIR:
    p->pair = ev->pair;
    p->pair_events++;
    break;
  case RTCSEC_EVENT_CONNECTED:
    p->dtls_connected++;
    p->profile = ev->connected.profile;
    break;
  case RTCSEC_EVENT_FAILED:
    p->dtls_failed++;
    break;
  case RTCSEC_EVENT_CLOSED:
    p->dtls_closed++;
    break;
  case RTCSEC_EVENT_CONSENT_LOST:
    p->consent_lost++;
    p->consent_lost_at = g_get_monotonic_time();
    break;
  default:
    break;
  }
  g_cond_broadcast(&p->c);
  g_mutex_unlock(&p->m);
  /* Calling the peer agent from a callback is allowed (see ice.h). */
  if (fwd != NULL && rtcsec_ice_add_remote_candidate(fwd->a, cand) != RTCSEC_OK) {
    g_mutex_lock(&p->m);
    p->forward_errors++;
    g_mutex_unlock(&p->m);
  }
  g_free(cand);
}

/* Each packet carries a pattern derived from its sequence number. */
static size_t make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq) {
  b[0] = 0x80;
  b[1] = RTP_PT;
  b[2] = (uint8_t)(seq >> 8);
  b[3] = (uint8_t)seq;
  uint32_t ts = (uint32_t)seq * 960u;
  for (int i = 0; i < 4; i++) {
    b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
    b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
  }
  for (size_t i = 0; i < PAYLOAD; i++)
    b[12 + i] = (uint8_t)(seq + i);
  return 12 + PAYLOAD;
}

static void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len) {
  peer *p = user;
  int ok = kind == RTCSEC_PKT_RTP && len == 12 + PAYLOAD && (buf[1] & 0x7f) == RTP_PT;
  if (ok) {
    uint16_t seq = (uint16_t)((buf[2] << 8) | buf[3]);
    for (size_t i = 0; i < PAYLOAD && ok; i++)
      ok = buf[12 + i] == (uint8_t)(seq + i);
  }
  g_mutex_lock(&p->m);
  if (ok)
    p->rtp_rx++;
  else
    p->bad_media++;
  g_cond_broadcast(&p->c);
  g_mutex_unlock(&p->m);
}

/* Waits (bounded) until `cond`, an expression over the peer's fields, holds. */
#define WAIT_FOR(p, cond, ms)                                                                      \
  do {                                                                                             \
    gint64 end_ = g_get_monotonic_time() + (gint64)(ms)*1000;                                      \
    g_mutex_lock(&(p)->m);                                                                         \
    while (!(cond) && g_cond_wait_until(&(p)->c, &(p)->m, end_)) {                                 \
    }                                                                                              \
    int ok_ = (cond);                                                                              \
    g_mutex_unlock(&(p)->m);                                                                       \
    ck_assert_msg(ok_, "%s: timed out after %d ms waiting for %s", (p)->name, (int)(ms), #cond);   \
  } while (0)

static int read_int(peer *p, const int *field) {
  g_mutex_lock(&p->m);
  int v = *field;
  g_mutex_unlock(&p->m);
  return v;
}

static void peer_init(peer *p, const char *name) {
  memset(p, 0, sizeof(*p));
  p->name = name;
  g_mutex_init(&p->m);
  g_cond_init(&p->c);
  p->cands = g_ptr_array_new_with_free_func(g_free);
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  ck_assert_int_eq(rtcsec_cert_generate(&p->cert, &cc), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_cert_fingerprint(p->cert, RTCSEC_HASH_SHA256, &p->fp), RTCSEC_OK);
}

static void peer_config(peer *p, rtcsec_ice_config *cfg, rtcsec_ice_role role,
                        rtcsec_dtls_role dtls, const peer *other) {
  rtcsec_ice_config_default(cfg);
  cfg->role = role;
  /* libnice skips loopback when it picks interfaces itself. */
  cfg->local_addresses[0] = "127.0.0.1";
  cfg->n_local_addresses = 1;
  cfg->transport.dtls.cert = p->cert;
  cfg->transport.dtls.role = dtls;
  cfg->transport.dtls.peer_fingerprints = &other->fp;
  cfg->transport.dtls.n_peer_fingerprints = 1;
  cfg->on_event = on_event;
  cfg->on_media = on_media;
  cfg->user = p;
}

static void peer_start(peer *p, const rtcsec_ice_config *cfg) {
  ck_assert_int_eq(rtcsec_ice_agent_new(&p->a, cfg), RTCSEC_OK);
}

static void peer_free(peer *p) {
  rtcsec_ice_agent_free(p->a);
  p->a = NULL;
  rtcsec_cert_free(p->cert);
  g_ptr_array_free(p->cands, TRUE);
  g_mutex_clear(&p->m);
  g_cond_clear(&p->c);
}

static void set_forward(peer *p, peer *to) {
  g_mutex_lock(&p->m);
  p->forward = to;
  g_mutex_unlock(&p->m);
}

static void give_credentials(peer *from, peer *to) {
  char ufrag[257], pwd[257];
  ck_assert_int_eq(
      rtcsec_ice_get_local_credentials(from->a, ufrag, sizeof(ufrag), pwd, sizeof(pwd)), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(to->a, ufrag, pwd), RTCSEC_OK);
}

/* Hands every candidate `from` reported (from index *next on) to `to`. */
static int give_candidates(peer *from, peer *to, guint *next) {
  int given = 0;
  for (;;) {
    char *c = NULL;
    g_mutex_lock(&from->m);
    if (*next < from->cands->len)
      c = g_strdup(g_ptr_array_index(from->cands, *next));
    g_mutex_unlock(&from->m);
    if (c == NULL)
      break;
    ck_assert_int_eq(rtcsec_ice_add_remote_candidate(to->a, c), RTCSEC_OK);
    g_free(c);
    (*next)++;
    given++;
  }
  return given;
}

static void send_rtp(peer *p, int count, uint32_t ssrc, uint16_t seq0) {
  uint8_t buf[1500];
  for (int i = 0; i < count; i++) {
    size_t len = make_rtp(buf, ssrc, (uint16_t)(seq0 + i));
    int rc = rtcsec_ice_send_rtp(p->a, buf, len, sizeof(buf));
    ck_assert_msg(rc == RTCSEC_OK, "%s: send_rtp #%d: %s", p->name, i, rtcsec_strerror(rc));
    if (i % 10 == 9)
      g_usleep(1000); /* stay well inside the socket buffers */
  }
}

static void wait_connected(peer *a, peer *b, int ms) {
  WAIT_FOR(a, a->dtls_connected >= 1 || a->dtls_failed, ms);
  WAIT_FOR(b, b->dtls_connected >= 1 || b->dtls_failed, ms);
  ck_assert_int_eq(read_int(a, &a->dtls_failed), 0);
  ck_assert_int_eq(read_int(b, &b->dtls_failed), 0);
}

/* Media both ways; then the counters of each side must match the other's. */
static void media_both_ways(peer *a, peer *b, int count, uint64_t expect_total) {
  send_rtp(a, count, 0x11111111u, (uint16_t)(expect_total - (uint64_t)count));
  send_rtp(b, count, 0x22222222u, (uint16_t)(expect_total - (uint64_t)count));
  WAIT_FOR(a, (uint64_t)a->rtp_rx >= expect_total, 5000);
  WAIT_FOR(b, (uint64_t)b->rtp_rx >= expect_total, 5000);
  rtcsec_ice_stats sa, sb;
  ck_assert_int_eq(rtcsec_ice_get_stats(a->a, &sa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(b->a, &sb), RTCSEC_OK);
  ck_assert_uint_eq(sa.transport.srtp.outbound.rtp_packets, expect_total);
  ck_assert_uint_eq(sb.transport.srtp.outbound.rtp_packets, expect_total);
  /* Lossless loopback: sent == received, both ways, nothing forged. */
  ck_assert_uint_eq(sb.transport.srtp.inbound.rtp_packets, sa.transport.srtp.outbound.rtp_packets);
  ck_assert_uint_eq(sa.transport.srtp.inbound.rtp_packets, sb.transport.srtp.outbound.rtp_packets);
  ck_assert_uint_eq(sa.transport.srtp.inbound.auth_failures, 0);
  ck_assert_uint_eq(sb.transport.srtp.inbound.auth_failures, 0);
  ck_assert_int_eq(read_int(a, &a->bad_media) + read_int(b, &b->bad_media), 0);
  ck_assert_uint_eq((uint64_t)read_int(a, &a->rtp_rx), expect_total);
  ck_assert_uint_eq((uint64_t)read_int(b, &b->rtp_rx), expect_total);
}

static void print_timings(const char *test, peer *p) {
  rtcsec_ice_stats s;
  ck_assert_int_eq(rtcsec_ice_get_stats(p->a, &s), RTCSEC_OK);
  printf("ice: %s %s: ice %.1f ms, dtls %.1f ms, media %.1f ms, pair %s %s:%u -> %s %s:%u, %s\n",
         test, p->name, s.ice_connected_us / 1000.0, s.dtls_connected_us / 1000.0,
         s.first_media_us / 1000.0, s.pair.local_type, s.pair.local_address, s.pair.local_port,
         s.pair.remote_type, s.pair.remote_address, s.pair.remote_port,
         rtcsec_srtp_profile_name(s.transport.profile));
  fflush(stdout);
}

/* ---- two agents over loopback -------------------------------------------- */

static void loopback_call(rtcsec_dtls_role controlling_dtls, const char *test) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  rtcsec_dtls_role other =
      controlling_dtls == RTCSEC_DTLS_CLIENT ? RTCSEC_DTLS_SERVER : RTCSEC_DTLS_CLIENT;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, controlling_dtls, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, other, &a);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);

  rtcsec_ice_stats sa, sb;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &sb), RTCSEC_OK);
  ck_assert_int_eq(sa.state, RTCSEC_ICE_STATE_CONNECTED);
  ck_assert_int_eq(sb.state, RTCSEC_ICE_STATE_CONNECTED);
  ck_assert_int_eq(sa.transport.role, controlling_dtls);
  ck_assert_int_eq(sb.transport.role, other);
  ck_assert(sa.has_pair && sb.has_pair);
  ck_assert_str_eq(sa.pair.local_type, "host");
  ck_assert_str_eq(sa.pair.local_address, "127.0.0.1");
  ck_assert_str_eq(sa.pair.remote_address, "127.0.0.1");
  ck_assert_str_eq(sa.pair.protocol, "udp");
  ck_assert_uint_eq(sa.pair.remote_port, sb.pair.local_port);
  ck_assert_uint_eq(sb.pair.remote_port, sa.pair.local_port);
  ck_assert_int_ne(sa.transport.profile, RTCSEC_SRTP_NONE);
  ck_assert_int_eq(sa.transport.profile, sb.transport.profile);
  ck_assert_uint_gt(sa.ice_connected_us, 0);
  ck_assert_uint_ge(sa.dtls_connected_us, sa.ice_connected_us);
  /* libnice runs with the configured Ta (default 5 ms), not its own 20. */
  ck_assert_uint_eq(sa.check_pacing_ms, 5);
  ck_assert_uint_eq(sb.check_pacing_ms, 5);

  /* Issue 14: the DTLS client's first flight is never thrown away, even if
   * it overtakes the server side's validation of the pair (it is kept and
   * handed over): on lossless loopback nothing is retransmitted. */
  rtcsec_ice_stats client = controlling_dtls == RTCSEC_DTLS_CLIENT ? sa : sb;
  rtcsec_ice_stats server = controlling_dtls == RTCSEC_DTLS_CLIENT ? sb : sa;
  printf("ice: %s: early DTLS kept by the server side %llu, dropped %llu; client "
         "retransmissions %llu\n",
         test, (unsigned long long)server.early_dtls_kept,
         (unsigned long long)server.early_dtls_dropped,
         (unsigned long long)client.transport.dtls.retransmissions);
  ck_assert_uint_eq(server.early_dtls_dropped, 0);
  ck_assert_uint_eq(client.transport.dtls.retransmissions, 0);
  media_both_ways(&a, &b, 200, 200);
  ck_assert_uint_eq(read_int(&a, &a.forward_errors) + read_int(&b, &b.forward_errors), 0);
  ck_assert_int_eq(read_int(&a, &a.dtls_connected), 1);
  ck_assert_int_eq(read_int(&b, &b.dtls_connected), 1);
  print_timings(test, &a);
  print_timings(test, &b);
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_uint_ge(sa.first_media_us, sa.dtls_connected_us);

  set_forward(&a, NULL);
  set_forward(&b, NULL);
  peer_free(&a);
  peer_free(&b);
}

START_TEST(loopback_controlling_is_dtls_client) {
  loopback_call(RTCSEC_DTLS_CLIENT, "controlling=client");
}
END_TEST

START_TEST(loopback_controlling_is_dtls_server) {
  loopback_call(RTCSEC_DTLS_SERVER, "controlling=server");
}
END_TEST

static void iterate(GMainContext *ctx) {
  if (!g_main_context_iteration(ctx, FALSE))
    g_usleep(1000);
}

/* The caller's own GMainContext, iterated by the test thread: callbacks
 * arrive on it, and only while it is iterated. */
START_TEST(loopback_on_caller_context) {
  GMainContext *ctx = g_main_context_new();
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_SERVER, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_CLIENT, &a);
  ca.context = ctx;
  cb.context = ctx;
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  /* Not iterated yet: no callback may have run inside the calls. */
  ck_assert_uint_eq(a.cands->len, 0);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while ((read_int(&a, &a.dtls_connected) == 0 || read_int(&b, &b.dtls_connected) == 0) &&
         g_get_monotonic_time() < end)
    iterate(ctx);
  ck_assert_int_eq(a.dtls_connected, 1);
  ck_assert_int_eq(b.dtls_connected, 1);
  uint8_t buf[1500];
  for (uint16_t i = 0; i < 50; i++) {
    size_t len = make_rtp(buf, 0x33333333u, i);
    ck_assert_int_eq(rtcsec_ice_send_rtp(a.a, buf, len, sizeof(buf)), RTCSEC_OK);
  }
  end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (read_int(&b, &b.rtp_rx) < 50 && g_get_monotonic_time() < end)
    iterate(ctx);
  ck_assert_uint_eq(b.rtp_rx, 50);
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  peer_free(&a);
  peer_free(&b);
  g_main_context_unref(ctx);
}
END_TEST

/* ---- trickle (RFC 8838) ---------------------------------------------------- */

/* Two host addresses each (127.0.0.1 and 127.0.0.2, both loopback), so
 * each side has more than one candidate to trickle. */
static void two_addresses(rtcsec_ice_config *cfg) {
  cfg->local_addresses[0] = "127.0.0.1";
  cfg->local_addresses[1] = "127.0.0.2";
  cfg->n_local_addresses = 2;
}

/* Credentials first, then each candidate on its own as it is found. */
START_TEST(trickle_candidates_after_credentials) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_SERVER, &a);
  two_addresses(&ca);
  two_addresses(&cb);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  guint na = 0, nb = 0;
  int singles = 0;
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!(read_int(&a, &a.gathering_done) && read_int(&b, &b.gathering_done) &&
           na == a.cands->len && nb == b.cands->len) &&
         g_get_monotonic_time() < end) {
    /* One candidate per call, a short pause between: trickled. */
    int n = give_candidates(&a, &b, &na) + give_candidates(&b, &a, &nb);
    singles += n;
    g_usleep(20000);
  }
  ck_assert_uint_ge(na, 2);
  ck_assert_uint_ge(nb, 2);
  ck_assert_int_eq(singles, (int)(na + nb));
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 100, 100);
  rtcsec_ice_stats sa;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_uint_eq(sa.remote_candidates, nb);
  ck_assert_uint_eq(sa.local_candidates, na);
  print_timings("trickle-after", &a);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* The peer's candidates first (even before this side gathers), the
 * credentials only later: they are held, then used. */
START_TEST(trickle_candidates_before_credentials) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_SERVER, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_CLIENT, &a);
  two_addresses(&ca);
  two_addresses(&cb);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  WAIT_FOR(&b, b.gathering_done, 10000);
  guint na = 0, nb = 0;
  /* b's candidates reach a before a has even started gathering. */
  ck_assert_int_ge(give_candidates(&b, &a, &nb), 2);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  WAIT_FOR(&a, a.gathering_done, 10000);
  ck_assert_int_ge(give_candidates(&a, &b, &na), 2);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(b.a), RTCSEC_OK);
  /* Without credentials nothing can be checked. */
  g_usleep(300000);
  rtcsec_ice_stats sa;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_int_ne(sa.state, RTCSEC_ICE_STATE_CONNECTED);
  ck_assert_uint_eq(sa.remote_candidates, 0); /* held, not yet given to libnice */
  ck_assert_int_eq(read_int(&a, &a.dtls_connected), 0);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 100, 100);
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_uint_eq(sa.remote_candidates, nb);
  print_timings("trickle-before", &a);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* ---- TURN: a real coturn on loopback ------------------------------------ */

typedef struct turn_server {
  pid_t pid;
  char *dir;
  uint16_t port;
} turn_server;

/* A UDP port on 127.0.0.1 that is free now, with the next one free too
 * (coturn may use port + 1 for RFC 5780). */
static uint16_t free_udp_port(void) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sin);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
    uint16_t port = ntohs(sin.sin_port);
    int s2 = socket(AF_INET, SOCK_DGRAM, 0);
    sin.sin_port = htons((uint16_t)(port + 1));
    int ok = port < 65535 && bind(s2, (struct sockaddr *)&sin, sizeof(sin)) == 0;
    close(s2);
    close(s);
    if (ok)
      return port;
  }
  ck_abort_msg("no free UDP port pair on 127.0.0.1");
  return 0;
}

/* 1 if a STUN Binding request to the server gets any answer within ms. */
static int stun_ping(uint16_t port, int ms) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0)
    return 0;
  struct sockaddr_in to;
  memset(&to, 0, sizeof(to));
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  struct timeval tv = {0, ms * 1000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  /* Binding request, no attributes, magic cookie, fixed transaction id. */
  uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
                     3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
  uint8_t resp[512];
  int ok = sendto(s, req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)) == sizeof(req) &&
           recv(s, resp, sizeof(resp), 0) >= 20;
  close(s);
  return ok;
}

static char *file_tail(const char *path) {
  gchar *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL))
    return g_strdup("(no log)");
  char *tail = g_strdup(len > 1500 ? text + len - 1500 : text);
  g_free(text);
  return tail;
}

static void turn_start(turn_server *t) {
  memset(t, 0, sizeof(*t));
  gchar *bin = g_find_program_in_path("turnserver");
  ck_assert_msg(bin != NULL, "turnserver (Debian package coturn) is not installed: the TURN test "
                             "needs it; run scripts/setup.sh or apt-get install coturn");
  t->dir = g_dir_make_tmp("rtcsec-turn-XXXXXX", NULL);
  ck_assert_ptr_nonnull(t->dir);
  t->port = free_udp_port();
  /* Relay ports: a block of 40 near the listening port, inside 1024..65535. */
  unsigned min_port = 20000u + (unsigned)(t->port % 40000u);
  gchar *conf = g_build_filename(t->dir, "turnserver.conf", NULL);
  gchar *log = g_build_filename(t->dir, "turn.log", NULL);
  gchar *text = g_strdup_printf("listening-ip=127.0.0.1\n"
                                "relay-ip=127.0.0.1\n"
                                "listening-port=%u\n"
                                "min-port=%u\n"
                                "max-port=%u\n"
                                "lt-cred-mech\n"
                                "user=u:p\n"
                                "realm=rtcsec.test\n"
                                "no-tls\n"
                                "no-dtls\n"
                                "no-tcp\n"
                                "no-tcp-relay\n"
                                "allow-loopback-peers\n"
                                "no-multicast-peers\n"
                                "no-cli\n"
                                "no-software-attribute\n"
                                "userdb=%s/turndb\n"
                                "pidfile=%s/turn.pid\n"
                                "log-file=%s\n"
                                "simple-log\n"
                                "no-stdout-log\n",
                                t->port, min_port, min_port + 39, t->dir, t->dir, log);
  ck_assert(g_file_set_contents(conf, text, -1, NULL));
  g_free(text);
  char *argv[] = {bin, "-c", conf, NULL};
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    /* Killed with the test process, even if it is killed by a timeout. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execv(bin, argv);
    _exit(127);
  }
  t->pid = pid;
  int up = 0;
  for (int i = 0; i < 50 && !up; i++) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      t->pid = 0;
      char *tail = file_tail(log);
      ck_abort_msg("turnserver exited (status %d) before answering; log:\n%s", status, tail);
    }
    up = stun_ping(t->port, 100);
  }
  if (!up) {
    char *tail = file_tail(log);
    ck_abort_msg("turnserver on 127.0.0.1:%u did not answer STUN within 5 s; log:\n%s", t->port,
                 tail);
  }
  g_free(bin);
  g_free(conf);
  g_free(log);
}

static void turn_stop(turn_server *t) {
  if (t->pid > 0) {
    kill(t->pid, SIGTERM);
    int status = 0;
    int gone = 0;
    for (int i = 0; i < 40 && !gone; i++) {
      gone = waitpid(t->pid, &status, WNOHANG) == t->pid;
      if (!gone)
        g_usleep(50000);
    }
    if (!gone) {
      kill(t->pid, SIGKILL);
      waitpid(t->pid, &status, 0);
    }
    t->pid = 0;
  }
  if (t->dir != NULL) {
    GDir *d = g_dir_open(t->dir, 0, NULL);
    const gchar *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
      gchar *p = g_build_filename(t->dir, name, NULL);
      unlink(p);
      g_free(p);
    }
    if (d != NULL)
      g_dir_close(d);
    rmdir(t->dir);
    g_free(t->dir);
    t->dir = NULL;
  }
}

START_TEST(turn_relay_only_media_flows) {
  turn_server ts;
  turn_start(&ts);
  peer a, b;
  peer_init(&a, "relayed");
  peer_init(&b, "host");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_SERVER, &a);
  ca.turn_server = "127.0.0.1";
  ca.turn_port = ts.port;
  ca.turn_username = "u";
  ca.turn_password = "p";
  ca.relay_only = 1;
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  WAIT_FOR(&a, a.gathering_done, 10000);
  g_mutex_lock(&a.m);
  guint n = a.cands->len;
  for (guint i = 0; i < n; i++)
    ck_assert_msg(strstr(g_ptr_array_index(a.cands, i), " typ relay") != NULL,
                  "relay-only agent offered: %s", (char *)g_ptr_array_index(a.cands, i));
  g_mutex_unlock(&a.m);
  ck_assert_uint_ge(n, 1);
  wait_connected(&a, &b, 15000);
  rtcsec_ice_stats sa, sb;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &sb), RTCSEC_OK);
  ck_assert_str_eq(sa.pair.local_type, "relay");
  ck_assert_str_eq(sb.pair.remote_type, "relay");
  ck_assert_str_eq(sa.pair.local_address, "127.0.0.1");
  ck_assert_uint_eq(sb.pair.remote_port, sa.pair.local_port); /* the relayed address */
  ck_assert_uint_ne(sa.pair.local_port, ts.port);
  media_both_ways(&a, &b, 200, 200);
  print_timings("turn", &a);
  print_timings("turn", &b);
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  peer_free(&a);
  peer_free(&b);
  turn_stop(&ts);
}
END_TEST

/* ---- consent freshness (RFC 7675) ------------------------------------------ */

START_TEST(consent_lost_when_peer_goes_silent) {
  peer a, b;
  peer_init(&a, "survivor");
  peer_init(&b, "silent");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_SERVER, &a);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 20, 20);
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  /* b's sockets close, no close_notify: a hears nothing more at all. */
  gint64 t0 = g_get_monotonic_time();
  rtcsec_ice_test_vanish(b.a);
  WAIT_FOR(&a, a.consent_lost >= 1, 45000);
  double secs = (double)(a.consent_lost_at - t0) / G_USEC_PER_SEC;
  printf("ice: consent lost %.1f s after the peer went silent\n", secs);
  fflush(stdout);
  ck_assert_msg(secs <= 40.0, "consent lost only after %.1f s (RFC 7675: 30 s)", secs);
  ck_assert_int_eq(read_int(&a, &a.dtls_closed), 0);
  uint8_t buf[1500];
  size_t len = make_rtp(buf, 0x11111111u, 1000);
  ck_assert_int_eq(rtcsec_ice_send_rtp(a.a, buf, len, sizeof(buf)), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_ice_send_data(a.a, (const uint8_t *)"x", 1), RTCSEC_ERR_INVALID_STATE);
  rtcsec_ice_stats sa;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_int_eq(sa.state, RTCSEC_ICE_STATE_DISCONNECTED);
  ck_assert_uint_eq(sa.consent_losses, 1);
  ck_assert_uint_eq(sa.transport.srtp.outbound.rtp_packets, 20);
  peer_free(&b);
  peer_free(&a);
}
END_TEST

/* ---- ICE restart (RFC 8445 §9) ------------------------------------------- */

static void reset_candidates(peer *p) {
  g_mutex_lock(&p->m);
  g_ptr_array_set_size(p->cands, 0);
  p->gathering_done = 0;
  g_mutex_unlock(&p->m);
}

START_TEST(restart_keeps_dtls_and_srtp) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_SERVER, &a);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 100, 100);
  rtcsec_ice_stats before_a, before_b;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &before_a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &before_b), RTCSEC_OK);
  char old_ufrag[257], pwd[257];
  ck_assert_int_eq(
      rtcsec_ice_get_local_credentials(a.a, old_ufrag, sizeof(old_ufrag), pwd, sizeof(pwd)),
      RTCSEC_OK);

  /* Signalling by hand from here on: candidates of the new generation go
   * over only once both sides have restarted. */
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  WAIT_FOR(&a, a.gathering_done, 5000);
  reset_candidates(&a);
  reset_candidates(&b);
  int pairs_a = read_int(&a, &a.pair_events);
  int connected_a = read_int(&a, &a.connected_events);
  ck_assert_int_eq(rtcsec_ice_restart(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_restart(b.a), RTCSEC_OK);
  char new_ufrag[257];
  ck_assert_int_eq(
      rtcsec_ice_get_local_credentials(a.a, new_ufrag, sizeof(new_ufrag), pwd, sizeof(pwd)),
      RTCSEC_OK);
  ck_assert_str_ne(old_ufrag, new_ufrag);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  WAIT_FOR(&a, a.gathering_done, 5000);
  WAIT_FOR(&b, b.gathering_done, 5000);
  guint na = 0, nb = 0;
  ck_assert_int_ge(give_candidates(&a, &b, &na), 1);
  ck_assert_int_ge(give_candidates(&b, &a, &nb), 1);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(b.a), RTCSEC_OK);
  /* A pair of the new generation is selected and validated. */
  WAIT_FOR(&a, a.pair_events > pairs_a && a.state == RTCSEC_ICE_STATE_CONNECTED, 10000);
  printf("ice: restart: %d pair event(s), %d connected event(s) before, %d / %d after\n", pairs_a,
         connected_a, read_int(&a, &a.pair_events), read_int(&a, &a.connected_events));
  media_both_ways(&a, &b, 100, 200);

  /* One handshake for the whole session; the same SRTP sessions went on. */
  rtcsec_ice_stats sa, sb;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &sb), RTCSEC_OK);
  ck_assert_int_eq(read_int(&a, &a.dtls_connected), 1);
  ck_assert_int_eq(read_int(&b, &b.dtls_connected), 1);
  ck_assert_uint_eq(sa.dtls_handshakes, 1);
  ck_assert_uint_eq(sb.dtls_handshakes, 1);
  ck_assert_uint_eq(sa.restarts, 1);
  ck_assert_uint_eq(sb.restarts, 1);
  ck_assert_uint_eq(sa.transport.handshake_us, before_a.transport.handshake_us);
  ck_assert_str_eq(sa.transport.peer_fingerprint, before_a.transport.peer_fingerprint);
  ck_assert_uint_eq(sa.transport.dtls.datagrams_sent, before_a.transport.dtls.datagrams_sent);
  ck_assert_uint_eq(sb.transport.dtls.datagrams_sent, before_b.transport.dtls.datagrams_sent);
  ck_assert_uint_eq(sa.transport.srtp.inbound.auth_failures, 0);
  print_timings("restart", &a);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* Consent revoked by the peer (RFC 7675 §5.2: 403 to consent checks):
 * sending stops; an ICE restart on both sides brings media back on the
 * same DTLS association. */
START_TEST(restart_after_consent_loss_resumes_media) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_SERVER, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_CLIENT, &a);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 50, 50);
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  WAIT_FOR(&a, a.gathering_done, 5000);
  WAIT_FOR(&b, b.gathering_done, 5000);

  gint64 t0 = g_get_monotonic_time();
  rtcsec_ice_test_revoke_consent(b.a);
  WAIT_FOR(&a, a.consent_lost >= 1, 20000);
  printf("ice: consent revoked: lost after %.1f s\n",
         (double)(a.consent_lost_at - t0) / G_USEC_PER_SEC);
  uint8_t buf[1500];
  size_t len = make_rtp(buf, 0x11111111u, 50);
  ck_assert_int_eq(rtcsec_ice_send_rtp(a.a, buf, len, sizeof(buf)), RTCSEC_ERR_INVALID_STATE);

  reset_candidates(&a);
  reset_candidates(&b);
  ck_assert_int_eq(rtcsec_ice_restart(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_restart(b.a), RTCSEC_OK);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  WAIT_FOR(&a, a.gathering_done, 5000);
  WAIT_FOR(&b, b.gathering_done, 5000);
  guint na = 0, nb = 0;
  give_candidates(&a, &b, &na);
  give_candidates(&b, &a, &nb);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_remote_end_of_candidates(b.a), RTCSEC_OK);
  WAIT_FOR(&a, a.state == RTCSEC_ICE_STATE_CONNECTED, 10000);
  WAIT_FOR(&b, b.state == RTCSEC_ICE_STATE_CONNECTED, 10000);
  media_both_ways(&a, &b, 50, 100);
  rtcsec_ice_stats sa;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &sa), RTCSEC_OK);
  ck_assert_uint_eq(sa.dtls_handshakes, 1);
  ck_assert_uint_eq(sa.consent_losses, 1);
  ck_assert_int_eq(read_int(&a, &a.dtls_connected), 1);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* ---- ICE-lite (RFC 8445 §2.5) ----------------------------------------------- */

START_TEST(lite_answerer_connects) {
  peer a, b;
  peer_init(&a, "full");
  peer_init(&b, "lite");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_SERVER, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_CLIENT, &a);
  cb.ice_lite = 1;
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  media_both_ways(&a, &b, 50, 50);
  set_forward(&a, NULL);
  set_forward(&b, NULL);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------- */

static rtcsec_ice_agent *lone_agent(peer *p, peer *other) {
  rtcsec_ice_config cfg;
  peer_config(p, &cfg, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_CLIENT, other);
  peer_start(p, &cfg);
  return p->a;
}

START_TEST(bad_candidate_lines_are_refused) {
  peer a, b;
  peer_init(&a, "a");
  peer_init(&b, "b");
  rtcsec_ice_agent *ag = lone_agent(&a, &b);
  static const struct {
    const char *line;
    int rc;
  } cases[] = {
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_OK},
      {"a=candidate:1 1 UDP 2130706431 127.0.0.1 5000 typ host\r\n", RTCSEC_OK},
      {"candidate:1 1 udp 2130706431 ::1 5000 typ host generation 0 network-id 1", RTCSEC_OK},
      {"candidate:2 1 udp 1694498815 127.0.0.1 5001 typ srflx raddr 0.0.0.0 rport 0", RTCSEC_OK},
      {"", RTCSEC_ERR_PARSE},
      {"a=", RTCSEC_ERR_PARSE},
      {"candidate:", RTCSEC_ERR_PARSE},
      {"candidate", RTCSEC_ERR_PARSE},
      {"foo:1 1 udp 1 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 host host", RTCSEC_ERR_PARSE},
      /* bad ports */
      {"candidate:1 1 udp 2130706431 127.0.0.1 70000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 65536 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 0 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 -1 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5a00 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 000005000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 4294972296 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2 127.0.0.1 5000 typ srflx raddr 1.2.3.4 rport 99999", RTCSEC_ERR_PARSE},
      /* unknown or unusable transports, types, components, addresses */
      {"candidate:1 1 sctp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 1 tcp 2130706431 127.0.0.1 9 typ host tcptype active", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ bogus", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 2 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 1 udp 2130706431 abcd.local 5000 typ host", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 1 udp 2130706431 turn.example.org 5000 typ host", RTCSEC_ERR_UNSUPPORTED},
      {"candidate:1 1 u/dp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      /* malformed fields */
      {"candidate:1 0 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 257 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 0 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2147483648 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 99999999999 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 999.1.1.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 1.2.3 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 1.2.3.4.5 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 ::g 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 -bad-.org 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1  1 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {" candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\nx", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\tx 1", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host \x01 1", RTCSEC_ERR_PARSE},
      {"candidate:\xc3\xa9 1 udp 2130706431 127.0.0.1 5000 typ host", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host generation", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host raddr 1.2.3.4", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host x 1 x 2", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host tcptype active", RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host a 1 raddr 1.2.3.4 rport 1",
       RTCSEC_ERR_PARSE},
      {"candidate:123456789012345678901234567890123 1 udp 1 127.0.0.1 5000 typ host",
       RTCSEC_ERR_PARSE},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ host e1 1 e2 2 e3 3 e4 4 e5 5 e6 6 e7 7 e8 8 e9 9 "
       "e10 1 e11 1 e12 1 e13 1 e14 1 e15 1 e16 1 e17 1",
       RTCSEC_ERR_LIMIT},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = rtcsec_ice_add_remote_candidate(ag, cases[i].line);
    ck_assert_msg(rc == cases[i].rc, "case %zu \"%s\": got %d (%s), want %d", i, cases[i].line, rc,
                  rtcsec_strerror(rc), cases[i].rc);
  }
  ck_assert_int_eq(rtcsec_ice_add_remote_candidate(ag, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_ice_add_remote_candidate(NULL, "candidate:1 1 udp 1 1.2.3.4 5 typ host"),
                   RTCSEC_ERR_INVALID_ARGUMENT);

  /* Oversized: a 4 KB line, and one just past the SDP line limit. */
  char big[4097];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  memcpy(big, "candidate:1 1 udp 1 127.0.0.1 5000 typ host e ", 46);
  ck_assert_int_eq(rtcsec_ice_add_remote_candidate(ag, big), RTCSEC_ERR_TOO_LARGE);
  big[RTCSEC_ICE_MAX_CANDIDATE_LINE + 1] = '\0';
  ck_assert_int_eq(rtcsec_ice_add_remote_candidate(ag, big), RTCSEC_ERR_TOO_LARGE);
  /* An extension value over 256 characters inside the line limit. */
  big[46 + 300] = '\0';
  ck_assert_int_eq(rtcsec_ice_add_remote_candidate(ag, big), RTCSEC_ERR_TOO_LARGE);

  /* Candidates without credentials are held, up to the bound. */
  int held = 4; /* the valid ones above */
  for (; held < RTCSEC_ICE_MAX_PENDING_CANDIDATES; held++)
    ck_assert_int_eq(
        rtcsec_ice_add_remote_candidate(ag, "candidate:9 1 udp 5 127.0.0.1 6000 typ host"),
        RTCSEC_OK);
  ck_assert_int_eq(
      rtcsec_ice_add_remote_candidate(ag, "candidate:9 1 udp 5 127.0.0.1 6001 typ host"),
      RTCSEC_ERR_LIMIT);

  /* Random bytes and mutations of a good line: an error or OK, never a
   * crash (ASan run). */
  GRand *rnd = g_rand_new_with_seed(4242);
  const char *good = "candidate:842163049 1 udp 1677729535 127.0.0.1 53705 typ srflx raddr "
                     "0.0.0.0 rport 0 generation 0 ufrag 2S1k network-cost 999";
  char line[512];
  for (int i = 0; i < 3000; i++) {
    size_t n = strlen(good);
    memcpy(line, good, n + 1);
    int edits = g_rand_int_range(rnd, 1, 6);
    for (int e = 0; e < edits; e++) {
      size_t pos = (size_t)g_rand_int_range(rnd, 0, (gint32)n);
      switch (g_rand_int_range(rnd, 0, 3)) {
      case 0:
        line[pos] = (char)g_rand_int_range(rnd, 1, 256);
        break;
      case 1:
        line[pos] = ' ';
        break;
      default:
        line[pos] = '\0';
        n = pos > 0 ? pos : 1;
        break;
      }
    }
    int rc = rtcsec_ice_add_remote_candidate(ag, line);
    ck_assert_int_le(rc, 0);
  }
  g_rand_free(rnd);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

START_TEST(bad_credentials_and_config_are_refused) {
  peer a, b;
  peer_init(&a, "a");
  peer_init(&b, "b");
  rtcsec_ice_agent *ag = lone_agent(&a, &b);
  const char *pwd = "abcdefghijklmnopqrstuv"; /* 22 */
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, NULL, pwd), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "abcd", NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "", pwd), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "abc", pwd), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "ab d", pwd), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "abcd", "short"), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "abcd", "abcdefghijklmnopqrstu:"),
                   RTCSEC_ERR_PARSE);
  char longv[300];
  memset(longv, 'a', sizeof(longv) - 1);
  longv[sizeof(longv) - 1] = '\0';
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, longv, pwd), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "abcd", longv), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(ag, "ab+/", pwd), RTCSEC_OK);

  char u[4], p[64];
  ck_assert_int_eq(rtcsec_ice_get_local_credentials(ag, u, sizeof(u), p, sizeof(p)),
                   RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_int_eq(rtcsec_ice_get_local_credentials(ag, NULL, 0, p, sizeof(p)),
                   RTCSEC_ERR_INVALID_ARGUMENT);

  /* Before the path exists: no keys, nothing sent. */
  uint8_t buf[1500];
  size_t len = make_rtp(buf, 1, 1);
  ck_assert_int_eq(rtcsec_ice_send_rtp(ag, buf, len, sizeof(buf)), RTCSEC_ERR_SRTP_NO_KEYS);
  ck_assert_int_eq(rtcsec_ice_send_data(ag, (const uint8_t *)"x", 1), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_ice_restart(ag), RTCSEC_ERR_INVALID_STATE); /* not gathering */
  ck_assert_int_eq(rtcsec_ice_set_dtls_role(ag, RTCSEC_DTLS_SERVER), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_set_dtls_role(ag, (rtcsec_dtls_role)7), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_ice_add_peer_fingerprints(ag, NULL, 1), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_ice_gather(ag), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(ag), RTCSEC_ERR_INVALID_STATE);

  /* Configurations that cannot work are refused at creation. */
  rtcsec_ice_config cfg;
  rtcsec_ice_agent *x = NULL;
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.transport.dtls.cert = NULL;
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.ice_lite = 1; /* a lite agent is never controlling */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.relay_only = 1; /* without a TURN server */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.turn_server = "127.0.0.1"; /* without credentials */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.local_addresses[0] = "localhost";
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.local_addresses[0] = "999.0.0.1";
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.n_local_addresses = RTCSEC_ICE_MAX_LOCAL_ADDRESSES + 1;
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.port_min = 5000;
  cfg.port_max = 4000;
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.check_pacing_ms = 4; /* below RFC 8445's floor */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.check_pacing_ms = 1001;
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.check_pacing_ms = 1000; /* the bounds themselves are taken, and applied */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_OK);
  rtcsec_ice_stats xs;
  ck_assert_int_eq(rtcsec_ice_get_stats(x, &xs), RTCSEC_OK);
  ck_assert_uint_eq(xs.check_pacing_ms, 1000);
  rtcsec_ice_agent_free(x);
  x = NULL;
  cfg.check_pacing_ms = 0; /* a zeroed field is the default, not libnice's */
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(x, &xs), RTCSEC_OK);
  ck_assert_uint_eq(xs.check_pacing_ms, 5);
  rtcsec_ice_agent_free(x);
  x = NULL;
  peer_config(&b, &cfg, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &a);
  cfg.stun_server = "stun.example.org";
  ck_assert_int_eq(rtcsec_ice_agent_new(&x, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(x);
  rtcsec_ice_agent_free(NULL);
  ck_assert_str_eq(rtcsec_ice_state_name(RTCSEC_ICE_STATE_DISCONNECTED), "disconnected");
  ck_assert_str_eq(rtcsec_ice_state_name((rtcsec_ice_state)99), "unknown");
  peer_free(&a);
  peer_free(&b);
}
END_TEST

/* ---- suite ----------------------------------------------------------------- */

/* Issue 14: a candidate on its way to libnice while the application
 * restarts ICE must not land in the new generation. The candidate's
 * hand-over is held 300 ms (test hook) after its generation was checked;
 * rtcsec_ice_restart() called meanwhile waits for it, so the candidate is
 * part of the old generation, which the restart discards. Without the
 * serialisation the restart returns at once and the candidate arrives
 * after it. */
typedef struct racer {
  rtcsec_ice_agent *a;
  const char *line;
  int rc;
} racer;

static gpointer race_add(gpointer data) {
  racer *r = data;
  r->rc = rtcsec_ice_add_remote_candidate(r->a, r->line);
  return NULL;
}

START_TEST(a_candidate_racing_a_restart_does_not_join_the_new_generation) {
  peer a, b;
  peer_init(&a, "controlling");
  peer_init(&b, "controlled");
  rtcsec_ice_config ca, cb;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_config(&b, &cb, RTCSEC_ICE_CONTROLLED, RTCSEC_DTLS_SERVER, &a);
  peer_start(&a, &ca);
  peer_start(&b, &cb);
  set_forward(&a, &b);
  set_forward(&b, &a);
  give_credentials(&a, &b);
  give_credentials(&b, &a);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(b.a), RTCSEC_OK);
  wait_connected(&a, &b, 10000);
  set_forward(&a, NULL);
  set_forward(&b, NULL);

  racer r = {b.a, "candidate:99 1 udp 2130706431 127.0.0.1 40999 typ host", -1};
  rtcsec_ice_test_set_candidate_pause(300000);
  GThread *th = g_thread_new("racer", race_add, &r);
  g_usleep(50000); /* the racer is now past its generation check */
  gint64 t0 = g_get_monotonic_time();
  ck_assert_int_eq(rtcsec_ice_restart(b.a), RTCSEC_OK);
  gint64 waited = g_get_monotonic_time() - t0;
  rtcsec_ice_stats at_restart;
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &at_restart), RTCSEC_OK);
  g_thread_join(th);
  rtcsec_ice_test_set_candidate_pause(0);
  rtcsec_ice_stats after;
  ck_assert_int_eq(rtcsec_ice_get_stats(b.a, &after), RTCSEC_OK);
  printf("ice: restart race: restart waited %.0f ms, candidate rc %d\n", waited / 1000.0, r.rc);
  ck_assert_int_eq(r.rc, RTCSEC_OK);
  /* nothing reached libnice after the restart had returned */
  ck_assert_uint_eq(after.remote_candidates, at_restart.remote_candidates);
  ck_assert_int_ge(waited, 150000);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

START_TEST(a_candidate_libnice_refuses_is_counted_and_reported) {
  peer a, b;
  peer_init(&a, "a");
  peer_init(&b, "b");
  rtcsec_ice_config ca;
  peer_config(&a, &ca, RTCSEC_ICE_CONTROLLING, RTCSEC_DTLS_CLIENT, &b);
  peer_start(&a, &ca);
  ck_assert_int_eq(rtcsec_ice_set_remote_credentials(a.a, "abcd", "abcdefghij0123456789ab"),
                   RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_gather(a.a), RTCSEC_OK);
  rtcsec_ice_stats s0, s1;
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &s0), RTCSEC_OK);
  rtcsec_ice_test_refuse_next_candidate();
  ck_assert_int_eq(
      rtcsec_ice_add_remote_candidate(a.a, "candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host"),
      RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(
      rtcsec_ice_add_remote_candidate(a.a, "candidate:2 1 udp 2130706431 127.0.0.1 40002 typ host"),
      RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ice_get_stats(a.a, &s1), RTCSEC_OK);
  ck_assert_uint_eq(s1.remote_candidates_refused, s0.remote_candidates_refused + 1);
  ck_assert_uint_eq(s1.remote_candidates, s0.remote_candidates + 1);
  peer_free(&a);
  peer_free(&b);
}
END_TEST

static Suite *ice_suite(void) {
  Suite *s = suite_create("ice");
  TCase *tc = tcase_create("loopback");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, loopback_controlling_is_dtls_client);
  tcase_add_test(tc, loopback_controlling_is_dtls_server);
  tcase_add_test(tc, loopback_on_caller_context);
  tcase_add_test(tc, lite_answerer_connects);
  suite_add_tcase(s, tc);

  tc = tcase_create("trickle");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, trickle_candidates_after_credentials);
  tcase_add_test(tc, trickle_candidates_before_credentials);
  suite_add_tcase(s, tc);

  tc = tcase_create("turn");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, turn_relay_only_media_flows);
  suite_add_tcase(s, tc);

  tc = tcase_create("restart");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, restart_keeps_dtls_and_srtp);
  tcase_add_test(tc, a_candidate_racing_a_restart_does_not_join_the_new_generation);
  tcase_add_test(tc, restart_after_consent_loss_resumes_media);
  suite_add_tcase(s, tc);

  /* RFC 7675's 30 s are real time here: bounded at 45 s. */
  tc = tcase_create("consent");
  tcase_set_timeout(tc, 45);
  tcase_add_test(tc, consent_lost_when_peer_goes_silent);
  suite_add_tcase(s, tc);

  tc = tcase_create("bad_input");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, bad_candidate_lines_are_refused);
  tcase_add_test(tc, a_candidate_libnice_refuses_is_counted_and_reported);
  tcase_add_test(tc, bad_credentials_and_config_are_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(ice_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
