/* Section "hostile": what a datagram that carries no proof of the peer's
 * keys costs (issue 11: "never costs more than a bounded, counted amount of
 * work"), by kind, at a connected rtcsec_transport and at a connected
 * session of an rtcsec_router, each next to one genuine SRTP unprotect
 * through the same call in the same run (RTP, 160-byte payload: the
 * cheapest thing a peer legitimately asks for) and the ratio.
 *
 * Kinds (every one is dropped and counted; tests/test_hostile.c proves
 * which counter):
 *   garbage        first byte of no protocol (RFC 7983), 40 bytes;
 *   unknown_source router only: a media-looking datagram from an address
 *                  no session has (one hash lookup);
 *   dtls_filtered  a DTLS record that cannot authenticate (plaintext epoch
 *                  0 after the handshake): dropped before OpenSSL;
 *   dtls_forged    a well-formed epoch-1 application-data record, tag
 *                  broken: OpenSSL tries to decrypt it, then discards it;
 *   srtp_forged    SRTP with a flipped tag and a new index: the full
 *                  authentication (the dearest forgery: as dear as genuine);
 *   srtp_replay    a packet already received: the replay window only;
 *   stun           transport: handed to ICE untouched; router: a Binding
 *                  request with a valid FINGERPRINT and the wrong
 *                  MESSAGE-INTEGRITY (parse, CRC-32, HMAC-SHA1);
 *   stun_user      router only: an unknown ufrag (parse, CRC-32, lookup).
 *
 * Each batch is prepared outside the timed loop (fresh copies: SRTP is
 * processed in place); only the loop over the batch is timed (thread CPU
 * time), each figure keeps the fastest of 3 samples per run, runs are the
 * outer loop. The router's consent timeout is set to an hour so that a
 * long run does not expire the session it measures. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "rtcsec/router.h"
#include "rtcsec/stun.h"

#define SLOT 1280
#define MAX_BATCH 256
#define PAYLOAD 160
#define SSRC 0x4057113eu

enum target { T_TRANSPORT = 0, T_ROUTER = 1, N_TARGETS = 2 };
enum hkind {
  H_GARBAGE,
  H_UNKNOWN_SOURCE,
  H_DTLS_FILTERED,
  H_DTLS_FORGED,
  H_SRTP_FORGED,
  H_SRTP_REPLAY,
  H_STUN,
  H_STUN_USER,
  H_GENUINE, /* the baseline: a genuine SRTP packet */
  N_HKINDS
};

static const char *const target_name[N_TARGETS] = {"transport", "router"};
static const char *const hkind_name[N_HKINDS] = {"garbage",     "unknown_source", "dtls_filtered",
                                                 "dtls_forged", "srtp_forged",    "srtp_replay",
                                                 "stun",        "stun_user",      "genuine"};

static const char ufrag[] = "hostilebench";
static const char pwd[] = "hostilebenchpassword0123456789";

/* The receiving side (a transport, or a router with one session) and the
 * sending peer (a client transport) connected to it in memory. */
typedef struct target_ctx {
  rtcsec_transport *rx;  /* T_TRANSPORT: the receiver */
  rtcsec_router *router; /* T_ROUTER */
  rtcsec_transport *tx;  /* the peer: protects genuine packets */
  bench_pair pair;       /* T_TRANSPORT: tx = t[0], rx = t[1] */
  rtcsec_session_id sid; /* T_ROUTER: the session */
  struct sockaddr_storage peer, stranger;
  socklen_t peer_len, stranger_len;
  uint16_t seq;
  uint8_t replay[SLOT], dtls_record[SLOT], check[600], bad_check[600], user_check[600];
  size_t replay_len, dtls_len, check_len, bad_check_len, user_check_len;
} target_ctx;

typedef struct batch {
  uint8_t *buf;
  size_t len[MAX_BATCH];
  size_t n;
} batch;

static void addr4(struct sockaddr_storage *ss, socklen_t *len, uint32_t ip, uint16_t port) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(ip);
  sin->sin_port = htons(port);
  *len = sizeof(*sin);
}

/* A Binding request of the peer: USE-CANDIDATE, MESSAGE-INTEGRITY with
 * `key`, FINGERPRINT (RFC 8445 §7.2.2, RFC 8489 §14.5, §14.7). */
static size_t binding_request(uint8_t *buf, size_t cap, const char *user, const char *key,
                              uint8_t tid_last) {
  uint8_t tid[12] = {0x68, 0x6f, 0x73, 0x74, 0x69, 0x6c, 0x65, 0x21, 0, 0, 0, tid_last};
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_add_username(&b, user, strlen(user));
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e001eff);
  rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLING, UINT64_C(0x486f7374696c6521));
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rtcsec_stun_add_integrity(&b, (const uint8_t *)key, strlen(key));
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  return rtcsec_stun_builder_finish(&b, &n) == RTCSEC_OK ? n : 0;
}

/* Moves DTLS both ways between the peer and the router until both are
 * connected (in memory, real clock for the timers). */
static int router_handshake(target_ctx *c) {
  uint8_t buf[2048];
  for (int round = 0; round < 1000; round++) {
    size_t n = 0;
    int moved = 0;
    while (rtcsec_transport_poll_datagram(c->tx, buf, sizeof(buf), &n) == RTCSEC_OK && n > 0) {
      rtcsec_router_input in;
      rtcsec_router_handle_datagram(c->router, buf, n, &c->peer, c->peer_len, tool_now_us(), &in);
      moved = 1;
    }
    struct sockaddr_storage dst;
    socklen_t dst_len = 0;
    while (rtcsec_router_poll_datagram(c->router, buf, sizeof(buf), &n, &dst, &dst_len, NULL) ==
               RTCSEC_OK &&
           n > 0) {
      rtcsec_transport_input in;
      if (rtcsec_demux_classify(buf, n) != RTCSEC_PKT_STUN)
        rtcsec_transport_handle_datagram(c->tx, buf, n, tool_now_us(), &in);
      moved = 1;
    }
    rtcsec_event ev;
    while (rtcsec_router_poll_event(c->router, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
      if (ev.type == RTCSEC_EVENT_FAILED)
        return -1;
    }
    while (rtcsec_transport_poll_event(c->tx, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
      if (ev.type == RTCSEC_EVENT_FAILED)
        return -1;
    }
    rtcsec_router_session_info info;
    if (rtcsec_router_get_session_info(c->router, c->sid, &info) == RTCSEC_OK &&
        info.state == RTCSEC_ROUTER_SESSION_CONNECTED &&
        rtcsec_transport_get_state(c->tx) == RTCSEC_DTLS_STATE_CONNECTED)
      return 0;
    if (!moved) {
      uint64_t now = tool_now_us();
      rtcsec_router_handle_timeout(c->router, now);
      rtcsec_transport_handle_timeout(c->tx, now);
    }
  }
  return -1;
}

static int router_connect(target_ctx *c, rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2]) {
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert[1];
  rc.consent_timeout_us = 3600 * UINT64_C(1000000);
  if (rtcsec_router_new(&c->router, &rc) != RTCSEC_OK)
    return -1;
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = ufrag;
  sc.local_pwd = pwd;
  sc.peer_fingerprints = &fp[0];
  sc.n_peer_fingerprints = 1;
  if (rtcsec_router_add_session(c->router, &sc, tool_now_us(), &c->sid) != RTCSEC_OK)
    return -1;
  rtcsec_transport_config tc;
  rtcsec_transport_config_default(&tc);
  tc.dtls.role = RTCSEC_DTLS_CLIENT;
  tc.dtls.cert = cert[0];
  tc.dtls.peer_fingerprints = &fp[1];
  tc.dtls.n_peer_fingerprints = 1;
  if (rtcsec_transport_new(&c->tx, &tc) != RTCSEC_OK)
    return -1;
  uint8_t copy[600];
  memcpy(copy, c->check, c->check_len);
  rtcsec_router_input in;
  if (rtcsec_router_handle_datagram(c->router, copy, c->check_len, &c->peer, c->peer_len,
                                    tool_now_us(), &in) != RTCSEC_OK ||
      rtcsec_transport_start(c->tx, tool_now_us()) != RTCSEC_OK)
    return -1;
  return router_handshake(c);
}

/* The next genuine SRTP packet of the peer. */
static int genuine(target_ctx *c, uint8_t *p, size_t *len) {
  size_t n = bench_make_rtp(p, SSRC, c->seq++, PAYLOAD);
  return rtcsec_transport_protect_rtp(c->tx, p, n, SLOT, len, tool_now_us());
}

/* One received packet and one DTLS application-data record of the peer,
 * to copy forgeries from. */
static int capture(target_ctx *c, int t) {
  uint8_t p[SLOT];
  size_t n = 0;
  if (genuine(c, p, &n) != RTCSEC_OK)
    return -1;
  memcpy(c->replay, p, n);
  c->replay_len = n;
  if (t == T_TRANSPORT) {
    rtcsec_transport_input in;
    if (rtcsec_transport_handle_datagram(c->rx, p, n, tool_now_us(), &in) != RTCSEC_OK)
      return -1;
  } else {
    rtcsec_router_input in;
    if (rtcsec_router_handle_datagram(c->router, p, n, &c->peer, c->peer_len, tool_now_us(), &in) !=
        RTCSEC_OK)
      return -1;
  }
  /* A slow run (valgrind) may have left retransmitted flights queued:
   * drop them, then take one application-data record (epoch 1, alone). */
  while (rtcsec_transport_poll_datagram(c->tx, c->dtls_record, SLOT, &c->dtls_len) == RTCSEC_OK &&
         c->dtls_len > 0) {
  }
  static const char text[] = "sctp would go here";
  if (rtcsec_transport_send_data(c->tx, (const uint8_t *)text, sizeof(text), tool_now_us()) !=
          RTCSEC_OK ||
      rtcsec_transport_poll_datagram(c->tx, c->dtls_record, SLOT, &c->dtls_len) != RTCSEC_OK ||
      c->dtls_len < 13 + 24 || c->dtls_record[0] != 23 || c->dtls_record[4] != 1 ||
      13 + (size_t)(c->dtls_record[11] << 8 | c->dtls_record[12]) != c->dtls_len)
    return -1;
  return 0;
}

static int target_setup(target_ctx *c, int t, rtcsec_cert *cert[2],
                        const rtcsec_fingerprint fp[2]) {
  memset(c, 0, sizeof(*c));
  c->seq = 1000;
  addr4(&c->peer, &c->peer_len, 0x7f000001u, 40000);
  addr4(&c->stranger, &c->stranger_len, 0x7f000002u, 40001);
  char user[64];
  snprintf(user, sizeof(user), "%s:peer", ufrag);
  c->check_len = binding_request(c->check, sizeof(c->check), user, pwd, 1);
  c->bad_check_len =
      binding_request(c->bad_check, sizeof(c->bad_check), user, "notthepassword0123456789", 2);
  c->user_check_len =
      binding_request(c->user_check, sizeof(c->user_check), "nosuchufrag:peer", pwd, 3);
  if (c->check_len == 0 || c->bad_check_len == 0 || c->user_check_len == 0)
    return -1;
  if (t == T_TRANSPORT) {
    if (bench_pair_connect(&c->pair, cert, fp, RTCSEC_SRTP_AEAD_AES_128_GCM) != RTCSEC_OK)
      return -1;
    c->tx = c->pair.t[0];
    c->rx = c->pair.t[1];
  } else if (router_connect(c, cert, fp) != 0) {
    return -1;
  }
  return capture(c, t);
}

static void target_free(target_ctx *c, int t) {
  if (t == T_TRANSPORT) {
    bench_pair_free(&c->pair);
  } else {
    rtcsec_transport_free(c->tx);
    rtcsec_router_free(c->router);
  }
}

static int applies(int t, int k) {
  if (t == T_TRANSPORT)
    return k != H_UNKNOWN_SOURCE && k != H_STUN_USER;
  return 1;
}

/* Fills the batch with datagrams of kind k. Not timed. */
static int prepare(target_ctx *c, int t, int k, batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    uint8_t *p = b->buf + i * SLOT;
    size_t n = 0;
    switch (k) {
    case H_GARBAGE:
      n = 40;
      memset(p, 0xc8, n); /* 200: no protocol's first byte */
      break;
    case H_UNKNOWN_SOURCE:
    case H_SRTP_REPLAY:
      n = c->replay_len;
      memcpy(p, c->replay, n);
      break;
    case H_DTLS_FILTERED:
      n = c->dtls_len;
      memcpy(p, c->dtls_record, n);
      p[3] = p[4] = 0; /* epoch 0: plaintext, after the handshake */
      break;
    case H_DTLS_FORGED: { /* far ahead in sequence, a broken tag */
      n = c->dtls_len;
      memcpy(p, c->dtls_record, n);
      uint64_t seq = (UINT64_C(1) << 40) + i;
      for (int j = 0; j < 6; j++)
        p[5 + j] = (uint8_t)(seq >> (8 * (5 - j)));
      p[n - 1] ^= 0x01;
      break;
    }
    case H_SRTP_FORGED:
    case H_GENUINE:
      if (genuine(c, p, &n) != RTCSEC_OK)
        return -1;
      if (k == H_SRTP_FORGED)
        p[n - 1] ^= 0x01;
      break;
    case H_STUN:
      n = t == T_TRANSPORT ? c->check_len : c->bad_check_len;
      memcpy(p, t == T_TRANSPORT ? c->check : c->bad_check, n);
      break;
    case H_STUN_USER:
    default:
      n = c->user_check_len;
      memcpy(p, c->user_check, n);
      break;
    }
    b->len[i] = n;
  }
  return 0;
}

/* The timed loop: thread CPU ns, or UINT64_MAX if a datagram was not
 * treated as its kind must be (a genuine one refused, a hostile one
 * accepted). */
static uint64_t process(target_ctx *c, int t, int k, batch *b) {
  int bad = 0;
  uint64_t now = tool_now_us();
  const struct sockaddr_storage *src = k == H_UNKNOWN_SOURCE ? &c->stranger : &c->peer;
  socklen_t src_len = k == H_UNKNOWN_SOURCE ? c->stranger_len : c->peer_len;
  uint64_t t0 = bench_cpu_ns();
  if (t == T_TRANSPORT) {
    rtcsec_transport_input in;
    for (size_t i = 0; i < b->n; i++) {
      int rc = rtcsec_transport_handle_datagram(c->rx, b->buf + i * SLOT, b->len[i], now, &in);
      bad |= k == H_GENUINE
                 ? rc != RTCSEC_OK
                 : (rc == RTCSEC_OK && in.kind != RTCSEC_PKT_DTLS && in.kind != RTCSEC_PKT_STUN);
    }
  } else {
    rtcsec_router_input in;
    for (size_t i = 0; i < b->n; i++) {
      int rc = rtcsec_router_handle_datagram(c->router, b->buf + i * SLOT, b->len[i], src, src_len,
                                             now, &in);
      bad |= k == H_GENUINE ? rc != RTCSEC_OK : (rc == RTCSEC_OK && in.kind != RTCSEC_PKT_DTLS);
    }
  }
  uint64_t d = bench_cpu_ns() - t0;
  return bad ? UINT64_MAX : d;
}

/* Every datagram dropped anywhere on the target's path, counted: the
 * transport's drops, its SRTP drops, its DTLS datagrams dropped, and the
 * router's own (STUN, unknown source, other class); for STUN at a
 * transport, what it handed to ICE. */
static uint64_t counted(target_ctx *c, int t, int k) {
  rtcsec_transport_stats ts;
  rtcsec_transport *rx =
      t == T_TRANSPORT ? c->rx : rtcsec_router_session_transport(c->router, c->sid);
  if (rx == NULL || rtcsec_transport_get_stats(rx, &ts) != RTCSEC_OK)
    return 0;
  if (t == T_TRANSPORT && k == H_STUN)
    return ts.in_stun;
  const rtcsec_srtp_direction_stats *in = &ts.srtp.inbound;
  uint64_t n = ts.drop_unknown + ts.drop_zrtp + ts.drop_turn_channel + ts.drop_no_keys +
               ts.drop_closed + in->auth_failures + in->replay_drops + in->too_old_drops +
               in->malformed + in->ssrc_limit_drops + in->other_errors + ts.dtls.datagrams_dropped;
  rtcsec_router_stats rs;
  if (t == T_ROUTER && rtcsec_router_get_stats(c->router, &rs) == RTCSEC_OK)
    n += rs.stun_malformed + rs.stun_bad_fingerprint + rs.stun_unknown_user +
         rs.stun_bad_integrity + rs.stun_bad_request + rs.stun_unknown_attribute +
         rs.stun_role_conflicts + rs.stun_ignored + rs.drop_unknown_source + rs.drop_other_class;
  return n;
}

/* ns per datagram over `batches` fresh batches; -1 if a hostile datagram
 * was not counted as dropped (or a genuine one was). */
static double sample(target_ctx *c, int t, int k, batch *b, int batches) {
  uint64_t total = 0;
  for (int i = 0; i < batches; i++) {
    if (prepare(c, t, k, b) != 0)
      return -1;
    uint64_t before = counted(c, t, k);
    uint64_t d = process(c, t, k, b);
    if (d == UINT64_MAX || counted(c, t, k) - before != (k == H_GENUINE ? 0 : b->n))
      return -1;
    total += d;
  }
  return (double)total / ((double)batches * (double)b->n);
}

/* Certificates, the two connected targets and a batch buffer. */
typedef struct fixture {
  rtcsec_cert *cert[2];
  rtcsec_fingerprint fp[2];
  target_ctx ctx[N_TARGETS];
  int ready[N_TARGETS];
  batch b;
} fixture;

static void fixture_free(fixture *f) {
  for (int t = 0; t < N_TARGETS; t++) {
    if (f->ready[t])
      target_free(&f->ctx[t], t);
  }
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(f->cert[i]);
  free(f->b.buf);
  free(f);
}

static fixture *fixture_new(size_t batch_n) {
  fixture *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return NULL;
  f->b.n = batch_n;
  f->b.buf = malloc((size_t)MAX_BATCH * SLOT);
  for (int i = 0; i < 2; i++) {
    if (f->b.buf == NULL || rtcsec_cert_generate(&f->cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(f->cert[i], RTCSEC_HASH_SHA256, &f->fp[i]) != RTCSEC_OK) {
      fixture_free(f);
      return NULL;
    }
  }
  for (int t = 0; t < N_TARGETS; t++) {
    f->ready[t] = target_setup(&f->ctx[t], t, f->cert, f->fp) == 0;
    if (!f->ready[t]) {
      fprintf(stderr, "rtcsec-bench: hostile: connecting the %s failed\n", target_name[t]);
      fixture_free(f);
      return NULL;
    }
  }
  return f;
}

static void record(int t, int k, double hostile_ns, double genuine_ns) {
  char name[96], label[64];
  snprintf(name, sizeof(name), "hostile.%s.%s", target_name[t], hkind_name[k]);
  snprintf(label, sizeof(label), "%s %s", target_name[t], hkind_name[k]);
  bench_figure *f = bench_figure_get("hostile", name, label, "ns/datagram",
                                     t == T_TRANSPORT ? "rtcsec_transport_handle_datagram"
                                                      : "rtcsec_router_handle_datagram",
                                     "one genuine SRTP unprotect (160 B), same call");
  bench_series_add(&f->val, hostile_ns);
  bench_series_add(&f->base, genuine_ns);
}

int bench_hostile_run(const bench_opts *o) {
  fixture *f = fixture_new(o->quick ? 64 : MAX_BATCH);
  if (f == NULL)
    return -1;
  int batches = o->quick ? 2 : 4, reps = 3;
  for (int run = -1; run < o->runs; run++) { /* run -1: warm-up, not recorded */
    for (int t = 0; t < N_TARGETS; t++) {
      double best[N_HKINDS];
      for (int k = 0; k < N_HKINDS; k++)
        best[k] = -1;
      for (int r = 0; r < reps; r++) {
        for (int j = 0; j < N_HKINDS; j++) {
          int k = (j + r + run + 1) % N_HKINDS;
          if (!applies(t, k))
            continue;
          double ns = sample(&f->ctx[t], t, k, &f->b, batches);
          if (ns < 0) {
            fprintf(stderr, "rtcsec-bench: hostile %s %s: a datagram was not treated as its kind\n",
                    target_name[t], hkind_name[k]);
            fixture_free(f);
            return -1;
          }
          if (best[k] < 0 || ns < best[k])
            best[k] = ns;
        }
      }
      for (int k = 0; run >= 0 && k < H_GENUINE; k++) {
        if (applies(t, k))
          record(t, k, best[k], best[H_GENUINE]);
      }
    }
  }
  fixture_free(f);
  return 0;
}

/* ---- instruction counts (run under callgrind by the parent) ------------------------- */

int bench_hostile_callgrind_child(const bench_opts *o) {
  fixture *f = fixture_new(o->quick ? 32 : 128);
  if (f == NULL)
    return -1;
  for (int t = 0; t < N_TARGETS; t++) {
    for (int k = 0; k < H_GENUINE; k++) {
      if (!applies(t, k))
        continue;
      /* the cell's hostile batch and a genuine one, each after a warm-up */
      int kinds[2] = {k, H_GENUINE};
      for (int v = 0; v < 2; v++) {
        char dump[160];
        target_ctx *c = &f->ctx[t];
        int ok = sample(c, t, kinds[v], &f->b, 1) >= 0 && prepare(c, t, kinds[v], &f->b) == 0;
        snprintf(dump, sizeof(dump), "hostile.%s.%s|%s|%zu", target_name[t], hkind_name[k],
                 v == 0 ? "hostile" : "genuine", f->b.n);
        bench_cg_begin();
        ok = ok && process(c, t, kinds[v], &f->b) != UINT64_MAX;
        bench_cg_end(dump);
        if (!ok) {
          fixture_free(f);
          return -1;
        }
      }
    }
  }
  fixture_free(f);
  return 0;
}
