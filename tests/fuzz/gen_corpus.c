/* Writes the seed corpora of the fuzz targets:
 *
 *   build-fuzz/tests/fuzz/gen_corpus tests/fuzz/corpus
 *
 * DTLS seeds are recorded from real in-memory handshakes between two
 * associations configured exactly as the first-flight targets configure
 * theirs (fuzz_common.c), with the fixed certificates and the deterministic
 * random streams: replayed against a target, a recorded flight gets the same
 * answers, so the seeds reach a connected association, application data and
 * close_notify. Every DTLS seed is run through the target's own driver here
 * and must do what its name says (connect, answer, fail); gen_corpus exits
 * nonzero otherwise. The output is the same on every run.
 *
 * Also written: a Chromium-like ClientHello (interop.md: DTLS 1.3 and 1.2
 * offered, X25519MLKEM768 key share, use_srtp with Chromium's three profiles
 * in its order, split over two datagrams as two handshake fragments), a
 * HelloVerifyRequest, alerts, operation scripts for dtls_stateful and
 * srtp_unprotect (with real SRTP/SRTCP packets under the fixed keys),
 * media and STUN for transport, fingerprint strings, SDP attribute lines,
 * one datagram of each demux class, client datagrams (ClientHellos and
 * others) for client_hello, and the browser's RTCP for echo_rtcp. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "gen_sctp.h"
#include "harness.h"
#include "rtcsec/stun.h"

static const char *out_dir;
static int failures;
static size_t files_written, bytes_written;

/* ---- output ------------------------------------------------------------------ */

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void b_put(buf *b, const void *p, size_t n) {
  if (n == 0)
    return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    if (b->p == NULL)
      abort();
    b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void b_u8(buf *b, unsigned v) {
  uint8_t x = (uint8_t)v;
  b_put(b, &x, 1);
}

static void b_u16(buf *b, unsigned v) {
  b_u8(b, v >> 8);
  b_u8(b, v);
}

static void b_u24(buf *b, unsigned v) {
  b_u8(b, v >> 16);
  b_u16(b, v);
}

static void b_free(buf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static void make_dir(const char *path) {
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(2);
  }
}

static void write_seed(const char *target, const char *name, const void *data, size_t len) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", out_dir, target);
  make_dir(path);
  snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
    perror(path);
    exit(2);
  }
  files_written++;
  bytes_written += len;
}

__attribute__((format(printf, 2, 3))) static void expect(int ok, const char *fmt, ...);

static void expect(int ok, const char *fmt, ...) {
  if (ok)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "gen_corpus: self-check failed: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  failures++;
}

/* ---- recording a handshake ---------------------------------------------------- */

#define MAX_REC 64

typedef struct recording {
  buf dg[2][MAX_REC]; /* dg[from][i]: 0 client, 1 server */
  size_t n[2];
} recording;

typedef struct gen_ep {
  rtcsec_dtls *d;
  int stream;
  fuzz_dtls_watch w;
  rtcsec_fingerprint fps[2];
} gen_ep;

static int ep_in(void *o, const uint8_t *p, size_t n, uint64_t now) {
  gen_ep *e = o;
  fuzz_rng_select(e->stream);
  return rtcsec_dtls_handle_datagram(e->d, p, n, now);
}
static int ep_to(void *o, uint64_t now) {
  gen_ep *e = o;
  fuzz_rng_select(e->stream);
  return rtcsec_dtls_handle_timeout(e->d, now);
}
static uint64_t ep_dl(void *o) { return rtcsec_dtls_deadline(((gen_ep *)o)->d); }
static int ep_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_dtls_poll_datagram(((gen_ep *)o)->d, b, c, n);
}

typedef struct session {
  gen_ep ep[2];
  recording rec;
  int data_sent, closing;
  rtcsec_srtp_keys client_keys; /* of the client's CONNECTED event */
} session;

static void on_send(void *user, int from, const uint8_t *data, size_t len) {
  session *s = user;
  if (s->rec.n[from] < MAX_REC)
    b_put(&s->rec.dg[from][s->rec.n[from]++], data, len);
}

/* After each step: once both are connected each sends one record, and once
 * both have the other's, the client closes. */
static int on_step(void *user, uint64_t now) {
  session *s = user;
  for (int i = 0; i < 2; i++)
    fuzz_dtls_poll_events(s->ep[i].d, &s->ep[i].w);
  gen_ep *c = &s->ep[0], *sv = &s->ep[1];
  if (c->w.failed || sv->w.failed)
    return 1;
  if (c->w.connected && sv->w.connected && !s->data_sent) {
    static const char hello[2][16] = {"hello, server", "hello, client"};
    for (int i = 0; i < 2; i++) {
      fuzz_rng_select(s->ep[i].stream);
      expect(rtcsec_dtls_send_data(s->ep[i].d, (const uint8_t *)hello[i], strlen(hello[i]), now) ==
                 0,
             "send");
    }
    s->data_sent = 1;
  }
  if (s->data_sent && c->w.data && sv->w.data && !s->closing) {
    fuzz_rng_select(c->stream);
    expect(rtcsec_dtls_close(c->d, now) == 0, "close");
    s->closing = 1;
  }
  return sv->w.closed;
}

typedef struct rec_opts {
  size_t mtu[2];
  fuzz_cert_id server_cert;
  const rtcsec_srtp_profile *profiles[2];
  size_t n_profiles[2];
  int expect_fail; /* the handshake is meant to fail */
} rec_opts;

/* Runs a handshake. Side 0 is configured like the client target's
 * association and side 1 like the server target's unless opts change the
 * side whose recording is not replayed (the server for client seeds, the
 * client for server seeds). */
static void record_handshake(session *s, const rec_opts *o) {
  memset(s, 0, sizeof(*s));
  fuzz_rng_reset();
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_config cfg;
    rtcsec_dtls_role role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    fuzz_dtls_config(&cfg, role, 1, s->ep[i].fps);
    if (o->mtu[i])
      cfg.mtu = o->mtu[i];
    if (i == 1 && o->server_cert != FUZZ_CERT_SERVER)
      cfg.cert = fuzz_cert(o->server_cert);
    if (o->n_profiles[i]) {
      memcpy(cfg.profiles, o->profiles[i], o->n_profiles[i] * sizeof(cfg.profiles[0]));
      cfg.n_profiles = o->n_profiles[i];
    }
    s->ep[i].stream = i == 0 ? FUZZ_STREAM_CLIENT : FUZZ_STREAM_SERVER;
    s->ep[i].w.expected = s->ep[i].fps;
    s->ep[i].w.n_expected = cfg.n_peer_fingerprints;
    fuzz_rng_select(s->ep[i].stream);
    if (rtcsec_dtls_new(&s->ep[i].d, &cfg) != 0)
      abort();
  }
  harness_endpoint ep[2];
  for (int i = 0; i < 2; i++)
    ep[i] = (harness_endpoint){&s->ep[i], ep_in, ep_to, ep_dl, ep_out};
  link_config lc;
  memset(&lc, 0, sizeof(lc));
  lc.seed = 1;
  sim_link *l = link_new(&lc);
  uint64_t now = FUZZ_T0;
  fuzz_rng_select(FUZZ_STREAM_CLIENT);
  if (rtcsec_dtls_start(s->ep[0].d, now) != 0)
    abort();
  harness_hooks hooks = {on_step, on_send, s};
  /* The step hook's sends wait in the associations when the link is idle
   * and harness_run returns; each run starts by flushing them. */
  for (int k = 0; k < 4; k++) {
    if (harness_run(ep, l, &now, FUZZ_T0 + 60000000u, &hooks) != HARNESS_QUIESCENT)
      break;
  }
  link_free(l);
  if (o->expect_fail)
    expect(s->ep[0].w.failed || s->ep[1].w.failed, "handshake should fail");
  else
    expect(s->ep[0].w.connected && s->ep[1].w.connected && s->ep[1].w.closed,
           "handshake should connect and close (client %d/%d, server %d/%d)", s->ep[0].w.connected,
           s->ep[0].w.error, s->ep[1].w.connected, s->ep[1].w.error);
  s->client_keys = s->ep[0].w.keys;
  for (int i = 0; i < 2; i++) {
    rtcsec_srtp_keys_wipe(&s->ep[i].w.keys);
    rtcsec_dtls_free(s->ep[i].d);
  }
}

static void free_recording(recording *r) {
  for (int i = 0; i < 2; i++) {
    for (size_t j = 0; j < r->n[i]; j++)
      b_free(&r->dg[i][j]);
  }
}

/* ---- first-flight seeds ---------------------------------------------------------- */

/* The split format of fuzz_common.h: a count byte and datagrams with their
 * 2-byte headers; flags[i] is or-ed into datagram i's header. */
static void split_input(buf *out, uint8_t first, const buf *dgs, size_t n, const unsigned *flags) {
  b_u8(out, first);
  for (size_t i = 0; i < n; i++) {
    b_u16(out, (unsigned)dgs[i].n | (flags ? flags[i] : 0));
    b_put(out, dgs[i].p, dgs[i].n);
  }
}

typedef enum want { WANT_ANY, WANT_CONNECT, WANT_ANSWER, WANT_FAIL } want;

static void flight_seed(rtcsec_dtls_role role, const char *name, const buf *in, want w) {
  const char *target =
      role == RTCSEC_DTLS_SERVER ? "dtls_server_first_flight" : "dtls_client_first_flight";
  fuzz_flight_result res;
  memset(&res, 0, sizeof(res));
  fuzz_dtls_first_flight(role, in->p, in->n, &res);
  rtcsec_srtp_keys_wipe(&res.watch.keys);
  switch (w) {
  case WANT_ANY:
    break;
  case WANT_CONNECT:
    expect(res.watch.connected && !res.watch.failed, "%s/%s: should connect (error %d)", target,
           name, res.watch.error);
    break;
  case WANT_ANSWER:
    expect(!res.watch.failed && res.datagrams_out > (role == RTCSEC_DTLS_CLIENT ? 1u : 0u),
           "%s/%s: should be answered (error %d, %zu datagrams out)", target, name, res.watch.error,
           res.datagrams_out);
    break;
  case WANT_FAIL:
    expect(res.watch.failed, "%s/%s: should fail", target, name);
    break;
  }
  write_seed(target, name, in->p, in->n);
}

/* Seeds for the target of `role` from what the other side sent. */
static void flight_seeds(rtcsec_dtls_role role, const char *tag, const recording *r, want full,
                         want late) {
  int from = role == RTCSEC_DTLS_SERVER ? 0 : 1;
  size_t n = r->n[from];
  char name[128];
  buf in = {0};

  if (n >= 20) {
    expect(0, "%s: %zu datagrams do not fit the count byte", tag, n);
    return;
  }
  /* Each datagram alone, as it came off the wire; the server answers a
   * ClientHello. */
  for (size_t i = 0; i < n && i < 8; i++) {
    snprintf(name, sizeof(name), "%s-dgram-%02zu", tag, i);
    flight_seed(role, name, &r->dg[from][i],
                i == 0 && role == RTCSEC_DTLS_SERVER ? WANT_ANSWER : WANT_ANY);
    /* A client's datagrams: the first is OpenSSL's ClientHello, the rest
     * must not make a listener take their sender as its peer. */
    if (role == RTCSEC_DTLS_SERVER)
      write_seed("client_hello", name, r->dg[from][i].p, r->dg[from][i].n);
  }
  /* The whole conversation: connects (or fails where it should), then
   * data and close_notify. */
  split_input(&in, (uint8_t)n, r->dg[from], n, NULL);
  snprintf(name, sizeof(name), "%s-all", tag);
  flight_seed(role, name, &in, full);
  b_free(&in);

  if (full != WANT_CONNECT)
    return;
  /* Fingerprint learnt late, just before the last datagram of the peer's
   * second flight: everything before it is held, then released. */
  unsigned flags[MAX_REC] = {0};
  flags[n > 2 ? n - 2 : 0] = FUZZ_DG_ADD_FP;
  split_input(&in, (uint8_t)(FUZZ_SPLIT_LATE_FP + n), r->dg[from], n, flags);
  snprintf(name, sizeof(name), "%s-late-fingerprint", tag);
  flight_seed(role, name, &in, late);
  b_free(&in);

  /* The timer runs before the second datagram: a retransmitted flight. */
  memset(flags, 0, sizeof(flags));
  flags[1] = FUZZ_DG_TIMER;
  split_input(&in, (uint8_t)n, r->dg[from], n, flags);
  snprintf(name, sizeof(name), "%s-retransmit", tag);
  flight_seed(role, name, &in, WANT_CONNECT);
  b_free(&in);

  /* The handshake datagrams twice each (duplicates). */
  buf dup[2 * MAX_REC];
  size_t nd = 0;
  for (size_t i = 0; i < n && nd + 2 <= 19; i++) {
    dup[nd++] = r->dg[from][i];
    dup[nd++] = r->dg[from][i];
  }
  split_input(&in, (uint8_t)nd, dup, nd, NULL);
  snprintf(name, sizeof(name), "%s-duplicated", tag);
  flight_seed(role, name, &in, nd == 2 * n ? WANT_CONNECT : WANT_ANY);
  b_free(&in);
}

/* ---- transport ---------------------------------------------------------------------- */

/* An RTP packet protected with the client's keys from a recorded handshake. */
static void client_rtp(rtcsec_srtp *tx, uint16_t seq, buf *out) {
  uint8_t pkt[256];
  static const uint8_t hdr[12] = {0x80, 0x6F, 0, 0, 0, 0, 0x20, 0, 0x5E, 0xED, 0x00, 0x01};
  memcpy(pkt, hdr, sizeof(hdr));
  pkt[2] = (uint8_t)(seq >> 8);
  pkt[3] = (uint8_t)seq;
  for (size_t i = 12; i < 52; i++)
    pkt[i] = (uint8_t)(seq + i);
  size_t n = 0;
  if (rtcsec_srtp_protect_rtp(tx, pkt, 52, sizeof(pkt), &n) != 0)
    abort();
  b_put(out, pkt, n);
}

/* STUN Binding request (RFC 8489 §5): header only, magic cookie, fixed id. */
static void stun_binding(buf *out) {
  static const uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1,  2,
                                  3,    4,    5,    6,    7,    8,    9,    10,   11, 12};
  b_put(out, req, sizeof(req));
}

static void transport_seed(const char *name, const buf *dgs, size_t n, size_t want_rtp,
                           size_t want_rtcp, int want_closed) {
  buf in = {0};
  split_input(&in, (uint8_t)n, dgs, n, NULL);
  fuzz_transport_result res;
  memset(&res, 0, sizeof(res));
  fuzz_transport_run(in.p, in.n, &res);
  expect(res.connected && !res.failed && res.rtp_ok == want_rtp && res.rtcp_ok == want_rtcp &&
             res.closed == want_closed,
         "transport/%s: connected %d failed %d rtp %zu rtcp %zu closed %d", name, res.connected,
         res.failed, res.rtp_ok, res.rtcp_ok, res.closed);
  write_seed("transport", name, in.p, in.n);
  b_free(&in);
}

/* From the default handshake: the client's datagrams (handshake, one
 * application record, close_notify) with media and STUN between. */
static void transport_seeds(const session *s) {
  const recording *r = &s->rec;
  size_t n = r->n[0];
  if (n < 3 || n > 8) {
    expect(0, "transport: %zu client datagrams", n);
    return;
  }
  rtcsec_srtp *tx = NULL;
  if (rtcsec_srtp_new(&tx, &s->client_keys, NULL) != 0)
    abort();
  buf rtp[4] = {{0}}, rtcp = {0}, stun = {0};
  for (int i = 0; i < 4; i++)
    client_rtp(tx, (uint16_t)(1 + i), &rtp[i]);
  uint8_t rr[8 + RTCSEC_SRTP_MAX_OVERHEAD] = {0x80, 0xC9, 0x00, 0x01, 0x5E, 0xED, 0x00, 0x01};
  size_t rr_len = 0;
  if (rtcsec_srtp_protect_rtcp(tx, rr, 8, sizeof(rr), &rr_len) != 0)
    abort();
  b_put(&rtcp, rr, rr_len);
  stun_binding(&stun);

  buf dgs[19];
  size_t k = 0;
  for (size_t i = 0; i + 2 < n; i++)
    dgs[k++] = r->dg[0][i]; /* the handshake */
  dgs[k++] = rtp[0];
  dgs[k++] = rtp[2]; /* out of order */
  dgs[k++] = rtp[1];
  dgs[k++] = rtcp;
  dgs[k++] = stun;
  dgs[k++] = rtp[0];          /* replayed: refused */
  dgs[k++] = r->dg[0][n - 2]; /* application data */
  dgs[k++] = r->dg[0][n - 1]; /* close_notify */
  dgs[k++] = rtp[3];          /* after close: refused */
  transport_seed("media", dgs, k, 3, 1, 1);

  /* Media before the keys (refused), then the handshake, then it again. */
  k = 0;
  dgs[k++] = rtp[0];
  dgs[k++] = stun;
  for (size_t i = 0; i + 2 < n; i++)
    dgs[k++] = r->dg[0][i];
  dgs[k++] = rtp[0];
  transport_seed("media-before-keys", dgs, k, 1, 0, 0);

  write_seed("transport", "stun-binding", stun.p, stun.n);
  write_seed("transport", "srtp-alone", rtp[0].p, rtp[0].n);
  for (int i = 0; i < 4; i++)
    b_free(&rtp[i]);
  b_free(&rtcp);
  b_free(&stun);
  rtcsec_srtp_free(tx);
}

/* ---- hand-made DTLS ---------------------------------------------------------------- */

/* A DTLS record around body: content type, version, epoch 0, sequence. */
static void dtls_record(buf *out, unsigned type, unsigned version, uint64_t seq, const buf *body) {
  b_u8(out, type);
  b_u16(out, version);
  b_u16(out, 0);
  b_u16(out, (unsigned)(seq >> 32));
  b_u16(out, (unsigned)(seq >> 16));
  b_u16(out, (unsigned)seq);
  b_u16(out, (unsigned)body->n);
  b_put(out, body->p, body->n);
}

/* One handshake fragment (RFC 6347 §4.2.2 header) in one record. */
static void dtls_hs_fragment(buf *out, unsigned version, uint64_t rec_seq, unsigned msg_type,
                             unsigned msg_seq, const buf *msg, size_t off, size_t len) {
  buf body = {0};
  b_u8(&body, msg_type);
  b_u24(&body, (unsigned)msg->n);
  b_u16(&body, msg_seq);
  b_u24(&body, (unsigned)off);
  b_u24(&body, (unsigned)len);
  b_put(&body, msg->p + off, len);
  dtls_record(out, 22, version, rec_seq, &body);
  b_free(&body);
}

static void ext(buf *b, unsigned type, const buf *data) {
  b_u16(b, type);
  b_u16(b, (unsigned)data->n);
  b_put(b, data->p, data->n);
}

/* Pseudo-random filler (a fixed LCG), for randoms and key shares. */
static void filler(buf *b, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    b_u8(b, seed >> 16);
  }
}

/* What interop.md says Chromium 156 sends, built field by field: DTLS 1.3
 * and 1.2 in supported_versions, key shares for X25519MLKEM768 (0x11EC:
 * 1184-byte ML-KEM-768 encapsulation key + 32-byte X25519 share) and
 * x25519, groups X25519MLKEM768, x25519, P-256, P-384, use_srtp with
 * SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_256_GCM, SRTP_AEAD_AES_128_GCM. */
static void chromium_client_hello(buf *ch) {
  b_u16(ch, 0xFEFD);        /* legacy_version: DTLS 1.2 */
  filler(ch, 32, 0xC0FFEE); /* random */
  b_u8(ch, 0);              /* legacy_session_id */
  b_u8(ch, 0);              /* legacy_cookie */
  static const unsigned suites[] = {0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8,
                                    0xC02C, 0xC030, 0xC009, 0xC013, 0xC00A, 0xC014};
  b_u16(ch, 2 * (unsigned)(sizeof(suites) / sizeof(suites[0])));
  for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
    b_u16(ch, suites[i]);
  b_u8(ch, 1); /* compression: null only */
  b_u8(ch, 0);

  buf exts = {0}, e = {0};
  /* extended_master_secret (RFC 7627) */
  ext(&exts, 0x0017, &e);
  /* renegotiation_info: empty */
  b_u8(&e, 0);
  ext(&exts, 0xFF01, &e);
  b_free(&e);
  /* supported_groups */
  b_u16(&e, 8);
  b_u16(&e, 0x11EC);
  b_u16(&e, 0x001D);
  b_u16(&e, 0x0017);
  b_u16(&e, 0x0018);
  ext(&exts, 0x000A, &e);
  b_free(&e);
  /* ec_point_formats: uncompressed */
  b_u8(&e, 1);
  b_u8(&e, 0);
  ext(&exts, 0x000B, &e);
  b_free(&e);
  /* use_srtp (RFC 5764 §4.1.1), Chromium's order, no MKI */
  b_u16(&e, 6);
  b_u16(&e, 0x0001);
  b_u16(&e, 0x0008);
  b_u16(&e, 0x0007);
  b_u8(&e, 0);
  ext(&exts, 0x000E, &e);
  b_free(&e);
  /* signature_algorithms */
  static const unsigned sigs[] = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
  b_u16(&e, 2 * (unsigned)(sizeof(sigs) / sizeof(sigs[0])));
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    b_u16(&e, sigs[i]);
  ext(&exts, 0x000D, &e);
  b_free(&e);
  /* supported_versions: DTLS 1.3, DTLS 1.2 */
  b_u8(&e, 4);
  b_u16(&e, 0xFEFC);
  b_u16(&e, 0xFEFD);
  ext(&exts, 0x002B, &e);
  b_free(&e);
  /* psk_key_exchange_modes: psk_dhe_ke */
  b_u8(&e, 1);
  b_u8(&e, 1);
  ext(&exts, 0x002D, &e);
  b_free(&e);
  /* key_share: X25519MLKEM768 (1216 bytes) and x25519 (32) */
  buf shares = {0};
  b_u16(&shares, 0x11EC);
  b_u16(&shares, 1216);
  filler(&shares, 1216, 0x11EC);
  b_u16(&shares, 0x001D);
  b_u16(&shares, 32);
  filler(&shares, 32, 0x1D);
  b_u16(&e, (unsigned)shares.n);
  b_put(&e, shares.p, shares.n);
  b_free(&shares);
  ext(&exts, 0x0033, &e);
  b_free(&e);

  b_u16(ch, (unsigned)exts.n);
  b_put(ch, exts.p, exts.n);
  b_free(&exts);
}

static void chromium_seeds(void) {
  buf ch = {0};
  chromium_client_hello(&ch);
  /* Two datagrams as Chromium sends them: the first 1208 bytes, the rest. */
  size_t first = 1208 - 13 - 12;
  buf dg[2] = {{0}, {0}};
  dtls_hs_fragment(&dg[0], 0xFEFD, 0, 1, 0, &ch, 0, first);
  dtls_hs_fragment(&dg[1], 0xFEFD, 1, 1, 0, &ch, first, ch.n - first);
  expect(dg[0].n == 1208, "chromium: first datagram %zu bytes", dg[0].n);

  buf in = {0};
  split_input(&in, 2, dg, 2, NULL);
  flight_seed(RTCSEC_DTLS_SERVER, "chromium-client-hello", &in, WANT_ANSWER);
  write_seed("transport", "chromium-client-hello", in.p, in.n);
  b_free(&in);
  /* The fragments the other way round. */
  buf rev[2] = {dg[1], dg[0]};
  split_input(&in, 2, rev, 2, NULL);
  flight_seed(RTCSEC_DTLS_SERVER, "chromium-client-hello-reordered", &in, WANT_ANSWER);
  b_free(&in);
  /* Each fragment alone: nothing to answer yet. */
  write_seed("dtls_server_first_flight", "chromium-fragment-1", dg[0].p, dg[0].n);
  write_seed("dtls_server_first_flight", "chromium-fragment-2", dg[1].p, dg[1].n);
  /* rtcsec-dtls --listen takes a peer from the first one, not the second. */
  write_seed("client_hello", "chromium-fragment-1", dg[0].p, dg[0].n);
  write_seed("client_hello", "chromium-fragment-2", dg[1].p, dg[1].n);
  /* Unfragmented, for the demux target too (a DTLS first byte). */
  buf whole = {0};
  dtls_hs_fragment(&whole, 0xFEFD, 0, 1, 0, &ch, 0, ch.n);
  write_seed("client_hello", "chromium-client-hello-whole", whole.p, whole.n);
  flight_seed(RTCSEC_DTLS_SERVER, "chromium-client-hello-whole", &whole, WANT_ANSWER);
  b_free(&whole);
  b_free(&dg[0]);
  b_free(&dg[1]);
  b_free(&ch);
}

/* RFC 6347 §4.2.1: HelloVerifyRequest with a cookie; the client must send
 * its ClientHello again, with the cookie. */
static void hello_verify_seed(void) {
  buf hvr = {0}, dg = {0};
  b_u16(&hvr, 0xFEFF); /* server_version: DTLS 1.0, as RFC 6347 recommends */
  b_u8(&hvr, 20);
  filler(&hvr, 20, 0xC00C1E);
  dtls_hs_fragment(&dg, 0xFEFF, 0, 3, 0, &hvr, 0, hvr.n);
  flight_seed(RTCSEC_DTLS_CLIENT, "hello-verify-request", &dg, WANT_ANSWER);
  b_free(&dg);
  b_free(&hvr);
}

/* Fatal alerts in the clear (epoch 0): handshake_failure and
 * bad_certificate; a close_notify warning. */
static void alert_seeds(void) {
  static const struct {
    const char *name;
    unsigned level, desc;
  } alerts[] = {{"alert-handshake-failure", 2, 40},
                {"alert-bad-certificate", 2, 42},
                {"alert-close-notify", 1, 0}};
  for (size_t i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++) {
    buf body = {0}, dg = {0};
    b_u8(&body, alerts[i].level);
    b_u8(&body, alerts[i].desc);
    dtls_record(&dg, 21, 0xFEFD, 0, &body);
    write_seed("dtls_server_first_flight", alerts[i].name, dg.p, dg.n);
    write_seed("dtls_client_first_flight", alerts[i].name, dg.p, dg.n);
    write_seed("client_hello", alerts[i].name, dg.p, dg.n);
    b_free(&body);
    b_free(&dg);
  }
}

static void dtls_seeds(void) {
  static const rtcsec_srtp_profile client_pick[] = {RTCSEC_SRTP_AES128_CM_SHA1_32,
                                                    RTCSEC_SRTP_AEAD_AES_256_GCM};
  static const rtcsec_srtp_profile server_pick[] = {RTCSEC_SRTP_AES128_CM_SHA1_80};
  static const rtcsec_srtp_profile only_32[] = {RTCSEC_SRTP_AES128_CM_SHA1_32};
  session s;

  /* Both sides as the targets have them. */
  rec_opts o = {0};
  o.server_cert = FUZZ_CERT_SERVER;
  record_handshake(&s, &o);
  flight_seeds(RTCSEC_DTLS_SERVER, "default", &s.rec, WANT_CONNECT, WANT_CONNECT);
  flight_seeds(RTCSEC_DTLS_CLIENT, "default", &s.rec, WANT_CONNECT, WANT_CONNECT);
  transport_seeds(&s);
  free_recording(&s.rec);

  /* Client with a 256-byte MTU (its certificate flight in fragments) and
   * its own profile list: seeds for the server target. */
  memset(&o, 0, sizeof(o));
  o.server_cert = FUZZ_CERT_SERVER;
  o.mtu[0] = 256;
  o.profiles[0] = client_pick;
  o.n_profiles[0] = 2;
  record_handshake(&s, &o);
  flight_seeds(RTCSEC_DTLS_SERVER, "client-mtu256", &s.rec, WANT_CONNECT, WANT_CONNECT);
  free_recording(&s.rec);

  /* RSA server, 256-byte MTU, SHA1_80 only: seeds for the client target. */
  memset(&o, 0, sizeof(o));
  o.server_cert = FUZZ_CERT_SERVER_RSA;
  o.mtu[1] = 256;
  o.profiles[1] = server_pick;
  o.n_profiles[1] = 1;
  record_handshake(&s, &o);
  /* The client learns the ECDSA server's fingerprint first: the held
   * flight is released at once and fails against it, before the RSA one
   * is added (see README.md, "Findings"). */
  flight_seeds(RTCSEC_DTLS_CLIENT, "rsa-server-mtu256", &s.rec, WANT_CONNECT, WANT_FAIL);
  free_recording(&s.rec);

  /* A server certificate the client does not expect: the client target
   * fails with a fingerprint mismatch. */
  memset(&o, 0, sizeof(o));
  o.server_cert = FUZZ_CERT_CLIENT;
  o.expect_fail = 1;
  record_handshake(&s, &o);
  flight_seeds(RTCSEC_DTLS_CLIENT, "wrong-server-cert", &s.rec, WANT_FAIL, WANT_ANY);
  free_recording(&s.rec);

  /* A client that offers only SHA1_32 against a server that knows it:
   * fine; against the server target (default list) also fine, but a
   * different pick. */
  memset(&o, 0, sizeof(o));
  o.server_cert = FUZZ_CERT_SERVER;
  o.profiles[0] = only_32;
  o.n_profiles[0] = 1;
  record_handshake(&s, &o);
  flight_seeds(RTCSEC_DTLS_SERVER, "client-sha1-32", &s.rec, WANT_CONNECT, WANT_CONNECT);
  free_recording(&s.rec);

  rtcsec_srtp_keys_wipe(&s.client_keys);
  chromium_seeds();
  hello_verify_seed();
  alert_seeds();
}

/* ---- dtls_stateful ------------------------------------------------------------------ */

enum {
  OP_DELIVER = 0,
  OP_DROP = 3,
  OP_DUP = 4,
  OP_XOR = 5,
  OP_TRUNC = 6,
  OP_INJECT = 7,
  OP_ROTATE = 8,
  OP_TIMER = 9,
  OP_FP = 10,
  OP_SEND = 11,
  OP_CLOSE = 12,
  OP_SLEEP = 13,
  OP_ALL = 14,
  OP_COALESCE = 15,
};

static unsigned op(unsigned kind, int to) { return (kind << 1) | (unsigned)to; }

/* Clean exchange: deliver to the server, then to the client, many times. */
static void ops_clean(buf *b, int rounds) {
  for (int i = 0; i < rounds; i++) {
    b_u8(b, op(OP_DELIVER, 1));
    b_u8(b, op(OP_DELIVER, 0));
  }
}

static void ops_data_and_close(buf *b) {
  b_u8(b, op(OP_SEND, 0));
  b_u8(b, 40);
  b_u8(b, op(OP_SEND, 1));
  b_u8(b, 120);
  ops_clean(b, 3);
  b_u8(b, op(OP_CLOSE, 0));
  ops_clean(b, 3);
}

static void stateful_seeds(void) {
  static const struct {
    const char *name;
    uint8_t o0, o1;
  } cfgs[] = {
      {"clean", 0x03, 0x00},
      {"late-fingerprints", 0x00, 0x00},
      {"rsa-small-mtu", 0x03 | 0x04 | (1 << 3) | (1 << 5), 0x00},
      {"mtu-576-1400-profiles", 0x03 | (2 << 3) | (3 << 5), 0x02},
      {"no-common-profile", 0x03, 0x01 | (3 << 2)},
      {"server-wrong-fingerprint", 0x03, 0x10},
      {"client-wrong-fingerprint", 0x03, 0x20},
      {"short-timeout", 0x83, 0x00},
  };
  for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
    buf b = {0};
    b_u8(&b, cfgs[i].o0);
    b_u8(&b, cfgs[i].o1);
    if (!(cfgs[i].o0 & 3)) {
      /* The ClientHello and the server's first flight first, then the
       * fingerprints arrive (signalling after the first flight). */
      ops_clean(&b, 2);
      b_u8(&b, op(OP_FP, 0));
      b_u8(&b, op(OP_FP, 1));
    }
    ops_clean(&b, 12);
    ops_data_and_close(&b);
    char name[64];
    snprintf(name, sizeof(name), "%s", cfgs[i].name);
    write_seed("dtls_stateful", name, b.p, b.n);
    b_free(&b);
  }

  /* Loss and retransmission: drop the server's first flight, run the
   * timers, then go on. */
  buf b = {0};
  b_u8(&b, 0x03);
  b_u8(&b, 0x00);
  b_u8(&b, op(OP_DELIVER, 1));
  b_u8(&b, op(OP_DROP, 0));
  b_u8(&b, op(OP_DROP, 0));
  b_u8(&b, op(OP_TIMER, 0));
  b_u8(&b, op(OP_TIMER, 0));
  ops_clean(&b, 12);
  ops_data_and_close(&b);
  write_seed("dtls_stateful", "loss-retransmit", b.p, b.n);
  b_free(&b);

  /* Duplicates, reordering, coalescing. */
  b_u8(&b, 0x03);
  b_u8(&b, 0x00);
  for (int i = 0; i < 10; i++) {
    b_u8(&b, op(OP_DUP, 1));
    b_u8(&b, op(OP_ROTATE, 1));
    b_u8(&b, op(OP_ALL, 1));
    b_u8(&b, op(OP_COALESCE, 0));
    b_u8(&b, op(OP_ALL, 0));
  }
  ops_data_and_close(&b);
  write_seed("dtls_stateful", "dup-reorder-coalesce", b.p, b.n);
  b_free(&b);

  /* Damage: a flipped byte in the client's second flight, a truncated
   * server flight, injected garbage, then the retransmissions. */
  b_u8(&b, 0x03);
  b_u8(&b, 0x00);
  b_u8(&b, op(OP_DELIVER, 1));
  b_u8(&b, op(OP_ALL, 0));
  b_u8(&b, op(OP_XOR, 1));
  b_u16(&b, 100);
  b_u8(&b, 0x40);
  b_u8(&b, op(OP_TRUNC, 0));
  b_u16(&b, 30);
  b_u8(&b, op(OP_INJECT, 1));
  b_u8(&b, 13);
  static const uint8_t junk[13] = {22, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9, 0, 0};
  b_put(&b, junk, sizeof(junk));
  for (int i = 0; i < 6; i++) {
    b_u8(&b, op(OP_TIMER, 0));
    ops_clean(&b, 4);
  }
  ops_data_and_close(&b);
  write_seed("dtls_stateful", "damage", b.p, b.n);
  b_free(&b);

  /* Nobody answers: the handshake times out (timers only). */
  b_u8(&b, 0x83);
  b_u8(&b, 0x00);
  for (int i = 0; i < 12; i++)
    b_u8(&b, op(OP_TIMER, 0));
  write_seed("dtls_stateful", "timeout", b.p, b.n);
  b_free(&b);
}

/* ---- srtp_unprotect -------------------------------------------------------------- */

static void srtp_seeds(void) {
  static const rtcsec_srtp_profile profiles[4] = {
      RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AES128_CM_SHA1_32, RTCSEC_SRTP_AEAD_AES_128_GCM,
      RTCSEC_SRTP_AEAD_AES_256_GCM};
  static const char *names[4] = {"sha1-80", "sha1-32", "gcm-128", "gcm-256"};
  for (unsigned p = 0; p < 4; p++) {
    /* Script: protect+deliver RTP with every flag combination, RTCP, keep
     * one back, replay, flip, short buffer. */
    buf b = {0};
    b_u8(&b, p);
    for (unsigned i = 0; i < 8; i++) {
      b_u8(&b, 0 | (i & 3) << 3); /* protect RTP, SSRC i & 3 */
      b_u16(&b, 1000 + i);
      b_u8(&b, 10 + i);
      b_u8(&b, i * 0x11);
    }
    b_u8(&b, 1);
    b_u8(&b, 2); /* RTCP with 2 report blocks */
    b_u8(&b, 6);
    b_u16(&b, 1010);
    b_u8(&b, 5);
    b_u8(&b, 0); /* kept back */
    b_u8(&b, 0);
    b_u16(&b, 1011);
    b_u8(&b, 5);
    b_u8(&b, 0);
    b_u8(&b, 4);
    b_u8(&b, 9); /* deliver the kept one late */
    b_u8(&b, 4);
    b_u8(&b, 0); /* replay */
    b_u8(&b, 5);
    b_u8(&b, 1);
    b_u16(&b, 77); /* flip */
    b_u8(&b, 7);
    b_u16(&b, 5);
    b_u8(&b, 20);
    b_u8(&b, 3); /* short buffer */
    char name[64];
    snprintf(name, sizeof(name), "script-%s", names[p]);
    write_seed("srtp_unprotect", name, b.p, b.n);
    b_free(&b);

    /* Real packets protected with the target's fixed keys, given as raw
     * input: accepted, and checked against a fresh sender. */
    rtcsec_srtp_keys tx, rx;
    fuzz_srtp_fixed_keys(profiles[p], &tx, &rx);
    rtcsec_srtp *s = NULL;
    if (rtcsec_srtp_new(&s, &tx, NULL) != 0)
      abort();
    uint8_t pkt[256];
    size_t n = 0;
    b_u8(&b, p);
    /* RTP: V=2, PT 111, seq 7, ts, SSRC 0x11223344, 20 bytes payload. */
    static const uint8_t rtp_hdr[12] = {0x80, 0x6F, 0x00, 0x07, 0x00, 0x00,
                                        0x10, 0x00, 0x11, 0x22, 0x33, 0x44};
    memcpy(pkt, rtp_hdr, 12);
    for (size_t i = 0; i < 20; i++)
      pkt[12 + i] = (uint8_t)i;
    if (rtcsec_srtp_protect_rtp(s, pkt, 32, sizeof(pkt), &n) != 0)
      abort();
    b_u8(&b, 2);
    b_u16(&b, (unsigned)n);
    b_put(&b, pkt, n);
    write_seed("srtp_unprotect", names[p], b.p, b.n); /* also a lone SRTP packet */
    /* SRTCP: an RR without blocks from SSRC 0x11223344. */
    static const uint8_t rr[8] = {0x80, 0xC9, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44};
    memcpy(pkt, rr, 8);
    if (rtcsec_srtp_protect_rtcp(s, pkt, 8, sizeof(pkt), &n) != 0)
      abort();
    b_u8(&b, 3);
    b_u16(&b, (unsigned)n);
    b_put(&b, pkt, n);
    snprintf(name, sizeof(name), "raw-%s", names[p]);
    write_seed("srtp_unprotect", name, b.p, b.n);
    b_free(&b);
    rtcsec_srtp_free(s);
    rtcsec_srtp_keys_wipe(&tx);
    rtcsec_srtp_keys_wipe(&rx);
  }
}

/* ---- fingerprint, demux ----------------------------------------------------------- */

static void fingerprint_seeds(void) {
  static const rtcsec_hash hashes[] = {RTCSEC_HASH_SHA1, RTCSEC_HASH_SHA224, RTCSEC_HASH_SHA256,
                                       RTCSEC_HASH_SHA384, RTCSEC_HASH_SHA512};
  char text[RTCSEC_FINGERPRINT_STRLEN], name[64], line[300];
  for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
    rtcsec_fingerprint fp;
    if (rtcsec_cert_fingerprint(fuzz_cert(FUZZ_CERT_CLIENT), hashes[i], &fp) != 0 ||
        rtcsec_fingerprint_format(&fp, text, sizeof(text), NULL) != 0)
      abort();
    snprintf(name, sizeof(name), "%s", rtcsec_hash_name(hashes[i]));
    write_seed("fingerprint", name, text, strlen(text));
    if (hashes[i] == RTCSEC_HASH_SHA256) {
      snprintf(line, sizeof(line), "a=fingerprint:%s", text);
      write_seed("fingerprint", "sdp-line", line, strlen(line));
      snprintf(line, sizeof(line), "  fingerprint:\t%s \r\n", text);
      for (char *c = line; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
      write_seed("fingerprint", "lower-blanks", line, strlen(line));
      /* Malformed: one hex digit short; no colons; a second word. */
      write_seed("fingerprint", "short-digit", text, strlen(text) - 1);
      snprintf(line, sizeof(line), "%s", text);
      size_t o = 0;
      for (size_t k = 0; line[k]; k++) {
        if (line[k] != ':')
          line[o++] = line[k];
      }
      line[o] = '\0';
      write_seed("fingerprint", "no-colons", line, strlen(line));
      snprintf(line, sizeof(line), "%s extra", text);
      write_seed("fingerprint", "trailing-word", line, strlen(line));
    }
  }
  static const char *bad[] = {"md5 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", "sha-256",
                              "SHA-1 0:1:2", "sha-256 GG:00"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(name, sizeof(name), "bad-%zu", i);
    write_seed("fingerprint", name, bad[i], strlen(bad[i]));
  }
}

/* SDP attribute lines as browsers and ICE agents write them. */
static void sdp_seeds(void) {
  static const struct {
    const char *name, *line;
  } lines[] = {
      {"candidate-host", "candidate:1467250027 1 udp 2122260223 192.168.1.10 46243 typ host "
                         "generation 0 ufrag EsAw network-id 1 network-cost 10"},
      {"candidate-mdns",
       "a=candidate:3065 1 udp 2113937151 0c3f2a1e-5b4d-4c1a-9e2f-0d6b7a8c9e10.local "
       "54400 typ host generation 0 ufrag EsAw network-cost 999"},
      {"candidate-srflx", "a=candidate:842163049 1 udp 1677729535 203.0.113.7 60769 typ srflx "
                          "raddr 192.168.1.10 rport 46243 generation 0 ufrag EsAw\r\n"},
      {"candidate-relay-ipv6", "candidate:3 1 UDP 41885695 2001:db8::1 3478 typ relay raddr :: "
                               "rport 0"},
      {"candidate-tcp", "candidate:2 1 TCP 2105458943 10.0.0.2 9 typ host tcptype active"},
      {"candidate-unknown-ext", "candidate:4 2 udp 100 example.org 5000 typ prflx foo bar baz 1"},
      {"candidate-sctp", "candidate:5 1 sctp 100 10.0.0.1 5000 typ host"},
      {"ice-ufrag", "a=ice-ufrag:EsAw"},
      {"ice-pwd", "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"},
      {"ice-options", "a=ice-options:trickle ice2 renomination"},
      {"ice-lite", "a=ice-lite"},
      {"end-of-candidates", "a=end-of-candidates\r\n"},
      {"setup-actpass", "a=setup:actpass"},
      {"setup-active", "setup:ACTIVE\r\n"},
      {"fingerprint", "a=fingerprint:sha-256 "
                      "19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:"
                      "E9:26:33:E8:70:88:A2"},
      {"other", "a=rtcp-mux"},
  };
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    write_seed("sdp", lines[i].name, lines[i].line, strlen(lines[i].line));
}

static void demux_seeds(void) {
  static const struct {
    const char *name;
    uint8_t bytes[20];
    size_t len;
  } seeds[] = {
      {"stun-binding", {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42}, 20},
      {"zrtp", {0x10, 0x00, 0x00, 0x01}, 4},
      {"dtls-handshake", {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 13},
      {"turn-channel", {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, 8},
      {"rtp", {0x80, 0x6F, 0x00, 0x01, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44}, 12},
      {"rtp-marker", {0x80, 0xE0, 0x00, 0x01, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44}, 12},
      {"rtcp-sr", {0x80, 0xC8, 0x00, 0x06, 0x11, 0x22, 0x33, 0x44}, 8},
      {"rtcp-rr", {0x81, 0xC9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44}, 8},
      {"unknown-80", {0x50, 0x00}, 2},
      {"unknown-192", {0xC0, 0x00}, 2},
      {"one-byte-rtp", {0x80}, 1},
  };
  for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
    write_seed("demux", seeds[i].name, seeds[i].bytes, seeds[i].len);
}

/* ---- echo_rtcp: the browser's RTCP to rtcsec-echo ------------------------------------ */

/* The SSRCs fuzz_echo_rtcp.c sets up: the browser's video, rtcsec's video. */
#define ECHO_BROWSER_VIDEO 0xB0B0B0B0u
#define ECHO_LOCAL_VIDEO 0x0B0B0B0Bu

static void b_u32(buf *b, uint32_t v) {
  b_u16(b, v >> 16);
  b_u16(b, v & 0xFFFF);
}

static void b_u32s(buf *b, const uint32_t *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    b_u32(b, v[i]);
}

/* An RTCP header (V=2, count) of `words` 32-bit words after it. */
static void rtcp_head(buf *b, unsigned count, unsigned type, unsigned words) {
  b_u8(b, 0x80 | count);
  b_u8(b, type);
  b_u16(b, words);
}

/* A generic NACK about rtcsec's video: n entries from pid, step apart. */
static void echo_nack(buf *b, size_t n, unsigned pid, unsigned step, unsigned blp) {
  rtcp_head(b, 1, 205, (unsigned)(2 + n));
  b_u32(b, ECHO_BROWSER_VIDEO);
  b_u32(b, ECHO_LOCAL_VIDEO);
  for (size_t i = 0; i < n; i++) {
    b_u16(b, (pid + (unsigned)i * step) & 0xFFFF);
    b_u16(b, blp);
  }
}

/* Byte 0 is the step between the target's two calls, in ms. */
static void echo_rtcp_seeds(void) {
  buf b = {0};
  /* The report of issue 11: 292 entries, every BLP bit, about cached seqs. */
  b_u8(&b, 50);
  echo_nack(&b, 292, 0, 129, 0xFFFF);
  write_seed("echo_rtcp", "nack-292-entries", b.p, b.n);
  b.n = 0;
  /* The same entry twice, and one the cache does not have. */
  b_u8(&b, 150);
  echo_nack(&b, 2, 129, 0, 0x0001);
  write_seed("echo_rtcp", "nack-duplicates", b.p, b.n);
  b.n = 0;
  /* SR (forwarded as rtcsec's, remembered for LSR), an RR naming it, a NACK. */
  /* sender, NTP timestamp, RTP timestamp, packets, octets */
  static const uint32_t sr[] = {ECHO_BROWSER_VIDEO, 0xAABB1234u, 0x5678CCDDu, 90000, 100, 12000};
  /* sender; source, lost, highest seq, jitter, LSR (the SR's), DLSR 100 ms */
  static const uint32_t rr[] = {
      ECHO_BROWSER_VIDEO, ECHO_LOCAL_VIDEO, 0, 1000, 10, 0x12345678u, 6554};
  b_u8(&b, 120);
  rtcp_head(&b, 0, 200, 6);
  b_u32s(&b, sr, sizeof(sr) / sizeof(sr[0]));
  rtcp_head(&b, 1, 201, 7);
  b_u32s(&b, rr, sizeof(rr) / sizeof(rr[0]));
  echo_nack(&b, 3, 258, 129, 0x0003);
  write_seed("echo_rtcp", "sr-rr-nack", b.p, b.n);
  b.n = 0;
  /* PLI, FIR, REMB. */
  static const uint32_t pli[] = {ECHO_BROWSER_VIDEO, ECHO_LOCAL_VIDEO};
  static const uint32_t fir[] = {ECHO_BROWSER_VIDEO, 0, ECHO_LOCAL_VIDEO, 0x09000000u};
  static const uint32_t remb[] = {ECHO_BROWSER_VIDEO, 0, 0x52454D42u /* "REMB" */, 0x01000000u,
                                  ECHO_LOCAL_VIDEO};
  b_u8(&b, 0);
  rtcp_head(&b, 1, 206, 2);
  b_u32s(&b, pli, 2);
  rtcp_head(&b, 4, 206, 4);
  b_u32s(&b, fir, 4);
  rtcp_head(&b, 15, 206, 5);
  b_u32s(&b, remb, 5);
  write_seed("echo_rtcp", "pli-fir-remb", b.p, b.n);
  b_free(&b);
}

/* ---- mlkem ------------------------------------------------------------------- */

/* fuzz_mlkem: mode byte, then a ciphertext, a hybrid client share or an ECDH
 * share (see the target). */
static void mlkem_seed(const char *name, uint8_t mode, const uint8_t *p, size_t n) {
  buf b = {0};
  b_u8(&b, mode);
  b_put(&b, p, n);
  write_seed("mlkem", name, b.p, b.n);
  b_free(&b);
}

static void mlkem_seeds(void) {
  static uint8_t ek[RTCSEC_MLKEM768_EK_LEN], dk[RTCSEC_MLKEM768_DK_LEN];
  static uint8_t ct[RTCSEC_MLKEM768_CT_LEN], share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN];
  uint8_t ss[RTCSEC_MLKEM_SS_LEN];
  fuzz_mlkem_fixed(ek, dk, ct, ss);
  mlkem_seed("decaps-valid", 0, ct, sizeof(ct));
  ct[10] ^= 0x20;
  mlkem_seed("decaps-flipped", 0, ct, sizeof(ct));
  mlkem_seed("decaps-short", 0, ct, 100);

  rtcsec_kex_client c;
  fuzz_hybrid_client(&c, share);
  rtcsec_kex_client_clear(&c);
  mlkem_seed("hybrid-valid", 1, share, sizeof(share));
  mlkem_seed("hybrid-short", 1, share, sizeof(share) - 1);
  share[0] = 0x01; /* first coefficient of t: 0xd01 = q */
  share[1] = (uint8_t)((share[1] & 0xf0) | 0x0d);
  mlkem_seed("hybrid-modulus", 1, share, sizeof(share));
  fuzz_hybrid_client(&c, share);
  rtcsec_kex_client_clear(&c);
  memset(share + RTCSEC_MLKEM768_EK_LEN, 0, RTCSEC_X25519_SHARE_LEN);
  mlkem_seed("hybrid-x25519-zero", 1, share, sizeof(share));

  uint8_t u[32] = {9};
  mlkem_seed("x25519-base-point", 2, u, sizeof(u));
  /* RFC 5903 §8.1's g^i on P-256. */
  static const uint8_t gi[65] = {0x04, 0xda, 0xd0, 0xb6, 0x53, 0x94, 0x22, 0x1c, 0xf9, 0xb0, 0x51,
                                 0xe1, 0xfe, 0xca, 0x57, 0x87, 0xd0, 0x98, 0xdf, 0xe6, 0x37, 0xfc,
                                 0x90, 0xb9, 0xef, 0x94, 0x5d, 0x0c, 0x37, 0x72, 0x58, 0x11, 0x80,
                                 0x52, 0x71, 0xa0, 0x46, 0x1c, 0xdb, 0x82, 0x52, 0xd6, 0x1f, 0x1c,
                                 0x45, 0x6f, 0xa3, 0xe5, 0x9a, 0xb1, 0xf4, 0x5b, 0x33, 0xac, 0xcf,
                                 0x5f, 0x58, 0x38, 0x9e, 0x05, 0x77, 0xb8, 0x99, 0x0b, 0xb3};
  mlkem_seed("p256-point", 2, gi, sizeof(gi));
}

/* ---- turn -------------------------------------------------------------------- */

/* fuzz_turn: operations [action][flags][length][record]; see the target.
 * The records are what a TURN server answers; the target patches in the
 * transaction ID (flags bit 0) and MESSAGE-INTEGRITY (bit 1). */
static void turn_op(buf *b, unsigned action, unsigned flags, const uint8_t *rec, size_t n) {
  b_u8(b, action);
  b_u8(b, flags);
  b_u8(b, (unsigned)n);
  b_put(b, rec, n);
}

/* A STUN message for fuzz_turn: tid zero (patched by the target). */
static size_t turn_msg(uint8_t *out, size_t cap, uint16_t method, rtcsec_stun_class cls, int error,
                       const char *nonce, int relayed, uint32_t lifetime, int mapped) {
  static const uint8_t tid[RTCSEC_STUN_TID_LEN] = {0};
  rtcsec_stun_builder sb;
  rtcsec_stun_builder_init(&sb, out, cap, method, cls, tid);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(50000);
  a.sin_addr.s_addr = htonl(0xc6336401); /* 198.51.100.1 */
  if (error != 0)
    rtcsec_stun_add_error_code(&sb, error, error == 401 ? "Unauthorized" : "Stale Nonce");
  if (nonce != NULL) {
    rtcsec_stun_add_attr(&sb, RTCSEC_STUN_ATTR_REALM, "fuzz.realm", 10);
    rtcsec_stun_add_attr(&sb, RTCSEC_STUN_ATTR_NONCE, nonce, strlen(nonce));
  }
  if (relayed)
    rtcsec_stun_add_xor_address(&sb, RTCSEC_STUN_ATTR_XOR_RELAYED_ADDRESS,
                                (const struct sockaddr *)&a, sizeof(a));
  if (lifetime != 0)
    rtcsec_stun_add_u32(&sb, RTCSEC_STUN_ATTR_LIFETIME, lifetime);
  if (mapped) {
    a.sin_addr.s_addr = htonl(0xc000020a); /* 192.0.2.10 */
    rtcsec_stun_add_xor_address(&sb, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS,
                                (const struct sockaddr *)&a, sizeof(a));
  }
  size_t n = 0;
  expect(rtcsec_stun_builder_finish(&sb, &n) == 0, "turn seed message");
  return n;
}

static void turn_seeds(void) {
  uint8_t m[256];
  size_t n;
  buf b = {0};
  /* Binding answered; a timer jump */
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_BINDING, RTCSEC_STUN_SUCCESS, 0, NULL, 0, 0, 1);
  turn_op(&b, 0, 1, m, n);
  turn_op(&b, 6, 4 | (40u << 3), NULL, 0);
  write_seed("turn", "binding", b.p, b.n);
  b.n = 0;
  /* Allocate: 401 with realm and nonce, then success with integrity; a
   * channel and ChannelData; a permission and a Data indication; 438 */
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_ALLOCATE, RTCSEC_STUN_ERROR, 401, "nonce-1", 0, 0, 0);
  turn_op(&b, 1, 1, m, n);
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_ALLOCATE, RTCSEC_STUN_SUCCESS, 0, NULL, 1, 600, 1);
  turn_op(&b, 6, 3, m, n);
  write_seed("turn", "allocate", b.p, b.n);
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_CHANNEL_BIND, RTCSEC_STUN_SUCCESS, 0, NULL, 0, 0, 0);
  turn_op(&b, 3, 3, m, n);
  static const uint8_t cdata[] = {0x40, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
  turn_op(&b, 5, 0, cdata, sizeof(cdata));
  write_seed("turn", "allocate-channel-data", b.p, b.n);
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_CREATE_PERMISSION, RTCSEC_STUN_ERROR, 438, "nonce-2", 0, 0,
               0);
  turn_op(&b, 2, 1, m, n);
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_CREATE_PERMISSION, RTCSEC_STUN_SUCCESS, 0, NULL, 0, 0, 0);
  turn_op(&b, 6, 3, m, n);
  /* a Data indication from the peer 203.0.113.5:6000 */
  static const uint8_t tid[RTCSEC_STUN_TID_LEN] = {7};
  rtcsec_stun_builder sb;
  rtcsec_stun_builder_init(&sb, m, sizeof(m), RTCSEC_STUN_DATA, RTCSEC_STUN_INDICATION, tid);
  struct sockaddr_in peer;
  memset(&peer, 0, sizeof(peer));
  peer.sin_family = AF_INET;
  peer.sin_port = htons(6000);
  peer.sin_addr.s_addr = htonl(0xcb007105);
  rtcsec_stun_add_xor_address(&sb, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS,
                              (const struct sockaddr *)&peer, sizeof(peer));
  rtcsec_stun_add_attr(&sb, RTCSEC_STUN_ATTR_DATA, "relayed", 7);
  expect(rtcsec_stun_builder_finish(&sb, &n) == 0, "turn data indication");
  turn_op(&b, 6, 0, m, n);
  n = turn_msg(m, sizeof(m), RTCSEC_STUN_REFRESH, RTCSEC_STUN_SUCCESS, 0, NULL, 0, 0, 0);
  turn_op(&b, 4, 3, m, n);
  write_seed("turn", "allocate-permission-data-refresh", b.p, b.n);
  b_free(&b);
}

/* ---- coap ------------------------------------------------------------------- */

static void coap_seeds(void) {
  static const uint8_t get[] = {0x44, 0x01, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xb7, 's', 'e',
                                'n',  's',  'o',  'r',  's',  0x04, 't',  'e',  'm',  'p'};
  write_seed("coap", "get-sensors-temp", get, sizeof(get));
  static const uint8_t ack[] = {0x62, 0x45, 0xbe, 0xef, 0x01, 0x02, 0xc0,
                                0xff, '2',  '1',  '.',  '5',  ' ',  'C'};
  write_seed("coap", "ack-content", ack, sizeof(ack));
  static const uint8_t ext[] = {0x40, 0x01, 0x00, 0x01, 0xbd, 0x02, 'a', 'b', 'c', 'd', 'e',
                                'f',  'g',  'h',  'i',  'j',  'k',  'l', 'm', 'n', 'o'};
  write_seed("coap", "extended-length", ext, sizeof(ext));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTPUT_DIR (normally tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  make_dir(out_dir);
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();

  fingerprint_seeds();
  demux_seeds();
  sdp_seeds();
  dtls_seeds();
  stateful_seeds();
  srtp_seeds();
  echo_rtcp_seeds();
  mlkem_seeds();
  turn_seeds();
  coap_seeds();
  sctp_seeds(write_seed, expect);

  printf("gen_corpus: %zu files, %zu bytes in %s\n", files_written, bytes_written, out_dir);
  if (failures) {
    fprintf(stderr, "gen_corpus: %d self-check(s) failed\n", failures);
    return 1;
  }
  return 0;
}
