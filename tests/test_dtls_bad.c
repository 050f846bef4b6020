/* DTLS rows of the bad-input matrix (docs/bad-input.md): each crafted
 * datagram is followed by a genuine record, which must still be accepted,
 * and the association must be as it was (state, counters). */
#include <check.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls_pair.h"
#include "fakeclock.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"

#define HDR 13

static pair *connected(void) {
  pair *pr = calloc(1, sizeof(*pr));
  pair_opts o;
  default_opts(&o);
  pair_init(pr, &o);
  pair_start(pr);
  ck_assert_int_eq(pair_run(pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr->p[0].connected, 1);
  ck_assert_int_eq(pr->p[1].connected, 1);
  return pr;
}

static void done(pair *pr) {
  pair_free(pr);
  free(pr);
}

/* A genuine application-data datagram from the client, not yet delivered. */
static size_t genuine(pair *pr, const char *text, uint8_t *buf, size_t cap) {
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, (const uint8_t *)text, strlen(text), pr->now),
                   0);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr->p[0].d, buf, cap, &n), 0);
  ck_assert_uint_gt(n, HDR);
  ck_assert_uint_eq(buf[0], 23);
  return n;
}

/* Delivers to the server; it must be accepted as exactly `text`. */
static void expect_accepted(pair *pr, const uint8_t *d, size_t n, const char *text) {
  int before = pr->p[1].n_data;
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr->p[1].d, d, n, pr->now), 0);
  peer_poll(&pr->p[1], pr->now);
  ck_assert_int_eq(pr->p[1].n_data, before + 1);
  ck_assert_uint_eq(pr->p[1].data_len, strlen(text));
  ck_assert_mem_eq(pr->p[1].data, text, strlen(text));
}

/* Delivers a bad datagram: dropped silently, nothing reported, still
 * connected, nothing sent back. */
static void expect_dropped(pair *pr, const uint8_t *d, size_t n) {
  rtcsec_dtls_stats before, after;
  rtcsec_dtls_get_stats(pr->p[1].d, &before);
  int events = pr->p[1].n_events;
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr->p[1].d, d, n, pr->now), 0);
  peer_poll(&pr->p[1], pr->now);
  ck_assert_int_eq(pr->p[1].n_events, events);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[1].d), RTCSEC_DTLS_STATE_CONNECTED);
  rtcsec_dtls_get_stats(pr->p[1].d, &after);
  ck_assert_uint_eq(after.datagrams_received, before.datagrams_received + 1);
  ck_assert_uint_eq(after.retransmissions, before.retransmissions);
  uint8_t out[2048];
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr->p[1].d, out, sizeof(out), &on), 0);
  ck_assert_uint_eq(on, 0);
}

static void set_seq(uint8_t *rec, uint64_t seq) {
  for (int i = 0; i < 6; i++)
    rec[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
}

static uint64_t get_seq(const uint8_t *rec) {
  uint64_t s = 0;
  for (int i = 0; i < 6; i++)
    s = s << 8 | rec[5 + i];
  return s;
}

START_TEST(record_longer_than_its_datagram_is_dropped) {
  pair *pr = connected();
  uint8_t g[2048], bad[2048];
  size_t n = genuine(pr, "after a long record", g, sizeof(g));
  memcpy(bad, g, n);
  bad[11] = 0x3f; /* length field far beyond the datagram */
  bad[12] = 0xff;
  expect_dropped(pr, bad, n);
  expect_dropped(pr, bad, 5); /* a header cut short */
  expect_accepted(pr, g, n, "after a long record");
  done(pr);
}
END_TEST

START_TEST(unknown_content_types_are_dropped) {
  pair *pr = connected();
  uint8_t g[2048], bad[2048];
  size_t n = genuine(pr, "after unknown types", g, sizeof(g));
  static const uint8_t types[] = {0, 19, 24, 25, 63, 99, 255};
  for (size_t i = 0; i < sizeof(types); i++) {
    memcpy(bad, g, n);
    bad[0] = types[i];
    set_seq(bad, get_seq(g) + 1 + i);
    expect_dropped(pr, bad, n);
  }
  expect_accepted(pr, g, n, "after unknown types");
  done(pr);
}
END_TEST

START_TEST(wrong_version_after_negotiation_is_dropped) {
  pair *pr = connected();
  uint8_t g[2048], bad[2048];
  size_t n = genuine(pr, "after wrong version", g, sizeof(g));
  static const uint8_t versions[][2] = {{0xfe, 0xff}, {0x03, 0x03}, {0xfe, 0xfc}, {0, 0}};
  for (size_t i = 0; i < 4; i++) {
    memcpy(bad, g, n);
    bad[1] = versions[i][0];
    bad[2] = versions[i][1];
    expect_dropped(pr, bad, n);
  }
  expect_accepted(pr, g, n, "after wrong version");
  done(pr);
}
END_TEST

START_TEST(epoch_far_ahead_is_dropped) {
  pair *pr = connected();
  uint8_t g[2048], bad[2048];
  size_t n = genuine(pr, "after epoch 9", g, sizeof(g));
  memcpy(bad, g, n);
  bad[3] = 0;
  bad[4] = 9;
  expect_dropped(pr, bad, n);
  bad[3] = 0xff;
  bad[4] = 0xff;
  expect_dropped(pr, bad, n);
  expect_accepted(pr, g, n, "after epoch 9");
  done(pr);
}
END_TEST

START_TEST(bad_mac_does_not_move_the_replay_window) {
  pair *pr = connected();
  uint8_t g[2048], bad[2048];
  size_t n = genuine(pr, "genuine after forgery", g, sizeof(g));
  /* the same record far ahead in sequence, with a broken tag: if the window
   * moved on it, the genuine record would now be "too old" */
  memcpy(bad, g, n);
  set_seq(bad, get_seq(g) + 100000);
  bad[n - 1] ^= 0x01;
  expect_dropped(pr, bad, n);
  memcpy(bad, g, n);
  set_seq(bad, get_seq(g) + 100000); /* the tag covers the sequence number too */
  expect_dropped(pr, bad, n);
  expect_accepted(pr, g, n, "genuine after forgery");
  /* the genuine record again is a replay: dropped */
  expect_dropped(pr, g, n);
  done(pr);
}
END_TEST

START_TEST(epoch_0_application_data_is_dropped_before_and_after_the_handshake) {
  uint8_t rec[HDR + 16] = {23, 0xfe, 0xfd, 0, 0};
  set_seq(rec, 3);
  rec[12] = 16;
  memset(rec + HDR, 'A', 16);
  /* before: a server that has answered a ClientHello */
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  uint8_t ch[1500];
  size_t chn = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[0].d, ch, sizeof(ch), &chn), 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, ch, chn, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, sizeof(rec), 0), 0);
  rec[0] = 99; /* an unknown content type is as unauthenticated */
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, sizeof(rec), 0), 0);
  rec[0] = 23;
  ck_assert_int_eq(rtcsec_dtls_get_state(pr.p[1].d), RTCSEC_DTLS_STATE_HANDSHAKING);
  peer_poll(&pr.p[1], 0);
  ck_assert_int_eq(pr.p[1].n_events, 0);
  /* the handshake still completes */
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  ck_assert_int_eq(pr.p[1].n_data, 0);
  pair_free(&pr);
  /* after */
  pair *c = connected();
  uint8_t g[2048];
  size_t n = genuine(c, "after epoch 0 data", g, sizeof(g));
  expect_dropped(c, rec, sizeof(rec));
  expect_accepted(c, g, n, "after epoch 0 data");
  done(c);
}
END_TEST

START_TEST(truncated_and_empty_datagrams_are_dropped) {
  pair *pr = connected();
  uint8_t g[2048];
  size_t n = genuine(pr, "after truncation", g, sizeof(g));
  for (size_t cut = 0; cut < n; cut += 7)
    expect_dropped(pr, g, cut);
  expect_accepted(pr, g, n, "after truncation");
  done(pr);
}
END_TEST

/* Finds the use_srtp extension (type 14) body in a ServerHello datagram and
 * returns the offset of the chosen profile's two bytes, 0 if not found. */
static size_t find_srtp_choice(const uint8_t *d, size_t n) {
  for (size_t i = HDR + 12; i + 9 <= n; i++) {
    /* ext type 14, ext len 5, profiles len 2, profile, mki len 0 */
    if (d[i] == 0 && d[i + 1] == 14 && d[i + 2] == 0 && d[i + 3] == 5 && d[i + 4] == 0 &&
        d[i + 5] == 2 && d[i + 8] == 0)
      return i + 6;
  }
  return 0;
}

START_TEST(server_choosing_a_profile_not_offered_fails_the_client) {
  static const rtcsec_srtp_profile only80[] = {RTCSEC_SRTP_AES128_CM_SHA1_80};
  pair_opts o;
  default_opts(&o);
  o.profiles[0] = o.profiles[1] = only80;
  o.n_profiles[0] = o.n_profiles[1] = 1;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  uint8_t d[1500];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[0].d, d, sizeof(d), &n), 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, d, n, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, d, sizeof(d), &n), 0);
  size_t at = find_srtp_choice(d, n);
  ck_assert_uint_gt(at, 0);
  ck_assert_uint_eq(d[at + 1], 0x01);
  d[at + 1] = 0x07; /* AEAD_AES_128_GCM, which the client did not offer */
  rtcsec_dtls_handle_datagram(pr.p[0].d, d, n, 0);
  peer_poll(&pr.p[0], 0);
  ck_assert_int_eq(pr.p[0].failed, 1);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_SRTP_BAD_PROFILE);
  ck_assert_int_ge(pr.p[0].alert, 0);
  ck_assert_int_eq(pr.p[0].connected, 0);
  pair_free(&pr);
}
END_TEST

/* Finds use_srtp (type 14) in a ClientHello datagram: offset of the
 * extension type, 0 if not found. */
static size_t find_srtp_ext(const uint8_t *d, size_t n) {
  for (size_t i = HDR + 12; i + 6 <= n; i++) {
    if (d[i] == 0 && d[i + 1] == 14 && d[i + 2] == 0 && d[i + 3] >= 5 && d[i + 4] == 0 &&
        d[i + 5] == d[i + 3] - 3)
      return i;
  }
  return 0;
}

START_TEST(malformed_use_srtp_in_client_hello_fails_the_handshake_cleanly) {
  /* _i: 0 odd profile list length, 1 MKI length past the end */
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  uint8_t d[1500];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[0].d, d, sizeof(d), &n), 0);
  size_t at = find_srtp_ext(d, n);
  ck_assert_uint_gt(at, 0);
  size_t plen = d[at + 5];
  if (_i == 0)
    d[at + 5] = (uint8_t)(plen - 1);
  else
    d[at + 6 + plen] = 40;
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, d, n, 0), RTCSEC_ERR_HANDSHAKE);
  peer_poll(&pr.p[1], 0);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].alert, 50); /* decode_error */
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, d, sizeof(d), &on), 0);
  ck_assert_uint_gt(on, 0); /* the alert went out */
  ck_assert_uint_eq(d[0], 21);
  pair_free(&pr);
}
END_TEST

START_TEST(renegotiation_after_the_handshake_is_refused_and_the_session_goes_on) {
  /* A raw OpenSSL client asks to renegotiate; rtcsec must refuse without
   * changing keys, and go on with the association. */
  rtcsec_cert *srv = make_cert(RTCSEC_KEY_ECDSA_P256), *cli = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_dtls_config sc;
  rtcsec_dtls_config_default(&sc);
  sc.cert = srv;
  rtcsec_fingerprint cfp = fp_of(cli, RTCSEC_HASH_SHA256);
  sc.peer_fingerprints = &cfp;
  sc.n_peer_fingerprints = 1;
  peer p = {0};
  ck_assert_int_eq(rtcsec_dtls_new(&p.d, &sc), 0);

  SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_use_certificate(ctx, rtcsec_cert_x509(cli));
  SSL_CTX_use_PrivateKey(ctx, rtcsec_cert_pkey(cli));
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
  SSL *ssl = SSL_new(ctx);
  BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rb, -1);
  SSL_set_bio(ssl, rb, wb);
  SSL_set_mtu(ssl, 1200);
  SSL_set_tlsext_use_srtp(ssl, "SRTP_AES128_CM_SHA1_80");
  SSL_set_connect_state(ssl);
  fakeclock_set(0);
  uint8_t buf[4096];
  /* memory BIOs merge datagrams; with one record per write here (no
   * handshake fragmentation at these sizes) we move each BIO_read whole,
   * reading at most one flight at a time and letting DTLS re-split it */
  for (int round = 0; round < 10 && !(SSL_is_init_finished(ssl) && p.connected); round++) {
    SSL_do_handshake(ssl);
    int n;
    while ((n = BIO_read(wb, buf, sizeof(buf))) > 0)
      rtcsec_dtls_handle_datagram(p.d, buf, (size_t)n, 0);
    size_t on;
    while (rtcsec_dtls_poll_datagram(p.d, buf, sizeof(buf), &on) == 0 && on > 0)
      BIO_write(rb, buf, (int)on);
    peer_poll(&p, 0);
  }
  ck_assert(SSL_is_init_finished(ssl));
  ck_assert_int_eq(p.connected, 1);
  uint8_t keys_before[60];
  memcpy(keys_before, p.keys.material, 60);

  ck_assert_int_eq(SSL_renegotiate(ssl), 1);
  SSL_do_handshake(ssl); /* sends an encrypted ClientHello */
  int n = BIO_read(wb, buf, sizeof(buf));
  ck_assert_int_gt(n, 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(p.d, buf, (size_t)n, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_get_state(p.d), RTCSEC_DTLS_STATE_CONNECTED);
  peer_poll(&p, 0);
  ck_assert_int_eq(p.connected, 1); /* no second CONNECTED, no new keys */
  ck_assert_int_eq(p.failed, 0);
  /* rtcsec answered with a no_renegotiation warning alert (or nothing) */
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(p.d, buf, sizeof(buf), &on), 0);
  if (on > 0)
    ck_assert_uint_eq(buf[0], 21);
  /* application data from the client still arrives */
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ck_assert_mem_eq(keys_before, p.keys.material, 60);
  static const uint8_t msg[] = "server still up";
  ck_assert_int_eq(rtcsec_dtls_send_data(p.d, msg, sizeof(msg), 0), 0);
  rtcsec_srtp_keys_wipe(&p.keys);
  rtcsec_dtls_free(p.d);
  rtcsec_cert_free(srv);
  rtcsec_cert_free(cli);
}
END_TEST

/* A pair on the fake clock at 0, both started: the ClientHello is queued. */
static void started(pair *pr) {
  pair_opts o;
  default_opts(&o);
  pair_init(pr, &o);
  fakeclock_set(0);
  ck_assert_int_eq(rtcsec_dtls_start(pr->p[1].d, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_start(pr->p[0].d, 0), 0);
}

/* Moves every datagram `from` has queued to `to`, in order. */
static void deliver_all(rtcsec_dtls *from, rtcsec_dtls *to) {
  uint8_t d[1500];
  size_t n = 0;
  while (rtcsec_dtls_poll_datagram(from, d, sizeof(d), &n) == 0 && n > 0)
    rtcsec_dtls_handle_datagram(to, d, n, 0);
}

START_TEST(records_after_the_finished_in_one_datagram_are_read_at_once) {
  /* A peer may put its first application data in the datagram that ends
   * the handshake: both must come out of that one call. */
  pair pr;
  started(&pr);
  deliver_all(pr.p[0].d, pr.p[1].d); /* ClientHello */
  deliver_all(pr.p[1].d, pr.p[0].d); /* server's first flight */
  deliver_all(pr.p[0].d, pr.p[1].d); /* client's second flight: the server is done */
  peer_poll(&pr.p[1], 0);
  ck_assert_int_eq(pr.p[1].connected, 1);
  uint8_t last[1500], data[1500], both[3000];
  size_t nl = 0, nd = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, last, sizeof(last), &nl), 0);
  ck_assert_uint_gt(nl, 0);
  size_t more = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, data, sizeof(data), &more), 0);
  ck_assert_uint_eq(more, 0); /* the last flight is one datagram here */
  static const char text[] = "first data with the Finished";
  ck_assert_int_eq(rtcsec_dtls_send_data(pr.p[1].d, (const uint8_t *)text, sizeof(text), 0), 0);
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, data, sizeof(data), &nd), 0);
  memcpy(both, last, nl);
  memcpy(both + nl, data, nd);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[0].d, both, nl + nd, 0), 0);
  peer_poll(&pr.p[0], 0);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[0].n_data, 1);
  ck_assert_uint_eq(pr.p[0].data_len, sizeof(text));
  ck_assert_mem_eq(pr.p[0].data, text, sizeof(text));
  pair_free(&pr);
}
END_TEST

/* ---- forged records: every type x epoch x length, before, during, after ----
 *
 * Issue 11: a record that cannot authenticate never ends or stalls an
 * association. Each forged record has a 13-byte header with content type
 * 20..23, epoch 0, 1 or 2, DTLS 1.2, a sequence number (far ahead, which
 * must not move any replay window) and a body of 0..64 bytes of one of three
 * patterns. None may change anything: the association goes on and a
 * genuine record right after is accepted. */

#define FORGED_MAX_BODY 64
#define N_PATTERNS 3

static size_t forge(uint8_t *out, uint8_t type, uint16_t epoch, uint64_t seq, size_t body,
                    int pattern) {
  out[0] = type;
  out[1] = 0xfe;
  out[2] = 0xfd;
  out[3] = (uint8_t)(epoch >> 8);
  out[4] = (uint8_t)epoch;
  set_seq(out, seq);
  out[11] = (uint8_t)(body >> 8);
  out[12] = (uint8_t)body;
  uint64_t st = 0x9e3779b97f4a7c15u ^ (type * 131u + epoch * 7u + body);
  for (size_t i = 0; i < body; i++)
    out[HDR + i] = pattern == 0 ? 0 : pattern == 1 ? 0xff : (uint8_t)test_rand_next(&st);
  return HDR + body;
}

/* Delivers a forged record to side `to` of a connected pair and checks that
 * nothing happened: no event, no output, still connected. */
static void expect_dropped_at(pair *pr, int to, const uint8_t *d, size_t n, const char *what) {
  int events = pr->p[to].n_events;
  int rc = rtcsec_dtls_handle_datagram(pr->p[to].d, d, n, pr->now);
  ck_assert_msg(rc == 0, "%s: handle_datagram returned %s", what, rtcsec_strerror(rc));
  peer_poll(&pr->p[to], pr->now);
  ck_assert_msg(pr->p[to].n_events == events, "%s: an event was reported", what);
  ck_assert_msg(rtcsec_dtls_get_state(pr->p[to].d) == RTCSEC_DTLS_STATE_CONNECTED,
                "%s: no longer connected (%s)", what, rtcsec_dtls_error_detail(pr->p[to].d));
  uint8_t out[2048];
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr->p[to].d, out, sizeof(out), &on), 0);
  ck_assert_msg(on == 0, "%s: %zu bytes sent in answer", what, on);
}

/* A genuine record from the other side reaches `to` intact. */
static void genuine_reaches(pair *pr, int to, const char *text) {
  uint8_t g[2048];
  ck_assert_int_eq(
      rtcsec_dtls_send_data(pr->p[1 - to].d, (const uint8_t *)text, strlen(text), pr->now), 0);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr->p[1 - to].d, g, sizeof(g), &n), 0);
  int before = pr->p[to].n_data;
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr->p[to].d, g, n, pr->now), 0);
  peer_poll(&pr->p[to], pr->now);
  ck_assert_msg(pr->p[to].n_data == before + 1, "genuine record after forgeries not accepted");
  ck_assert_mem_eq(pr->p[to].data, text, strlen(text));
}

START_TEST(forged_records_after_the_handshake_change_nothing_in_either_role) {
  pair *pr = connected();
  uint8_t rec[HDR + FORGED_MAX_BODY];
  char what[96];
  unsigned count = 0;
  for (int to = 0; to < 2; to++) {
    for (uint8_t type = 20; type <= 23; type++) {
      for (uint16_t epoch = 0; epoch <= 2; epoch++) {
        for (size_t body = 0; body <= FORGED_MAX_BODY; body++) {
          for (int pat = 0; pat < N_PATTERNS; pat++) {
            /* numbers far ahead: a window moved on them would refuse the
             * genuine record below as too old */
            size_t n = forge(rec, type, epoch, 1000000 + body * 8 + (uint64_t)pat, body, pat);
            snprintf(what, sizeof(what), "%s gets type %u epoch %u body %zu pattern %d",
                     to ? "server" : "client", type, epoch, body, pat);
            expect_dropped_at(pr, to, rec, n, what);
            count++;
          }
        }
        genuine_reaches(pr, to, "still here");
      }
    }
  }
  ck_assert_uint_eq(count, 2 * 4 * 3 * (FORGED_MAX_BODY + 1) * N_PATTERNS);
  done(pr);
}
END_TEST

/* During the handshake: every time a genuine datagram is sent, the forged
 * records of one kind (all body lengths) reach its receiver first. */
typedef struct forger {
  pair *pr;
  uint8_t type;
  uint16_t epoch;
  int pattern;
  uint64_t seq;
  unsigned injected;
} forger;

static int forge_before_each(void *user, int from, uint64_t index, const uint8_t *data,
                             size_t len) {
  (void)index, (void)data, (void)len;
  forger *f = user;
  int to = 1 - from;
  if (rtcsec_dtls_get_state(f->pr->p[to].d) != RTCSEC_DTLS_STATE_HANDSHAKING)
    return 0;
  uint8_t rec[HDR + FORGED_MAX_BODY];
  for (size_t body = 0; body <= FORGED_MAX_BODY; body++) {
    size_t n = forge(rec, f->type, f->epoch, f->seq++, body, f->pattern);
    int rc = rtcsec_dtls_handle_datagram(f->pr->p[to].d, rec, n, f->pr->now);
    ck_assert_msg(rc == 0, "type %u epoch %u body %zu pattern %d to %s: %s", f->type, f->epoch,
                  body, f->pattern, to ? "server" : "client", rtcsec_strerror(rc));
    f->injected++;
  }
  return 0; /* the genuine datagram itself goes through */
}

START_TEST(forged_records_during_the_handshake_change_nothing_in_either_role) {
  /* _i: type (4) x epoch (3) x pattern (3) */
  forger f = {.type = (uint8_t)(20 + _i % 4),
              .epoch = (uint16_t)(_i / 4 % 3),
              .pattern = _i / 12,
              .seq = 1u << 20};
  pair_opts o;
  default_opts(&o);
  o.link.drop = forge_before_each;
  o.link.drop_user = &f;
  pair pr;
  f.pr = &pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_msg(pr.p[0].connected && pr.p[1].connected,
                "type %u epoch %u pattern %d: client %s, server %s", f.type, f.epoch, f.pattern,
                rtcsec_dtls_error_detail(pr.p[0].d), rtcsec_dtls_error_detail(pr.p[1].d));
  ck_assert_uint_gt(f.injected, 0);
  assert_keys_match(&pr);
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_stats st;
    rtcsec_dtls_get_stats(pr.p[i].d, &st);
    /* nothing was lost on the link, so nothing had to be sent twice */
    ck_assert_uint_eq(st.retransmissions, 0);
  }
  genuine_reaches(&pr, 1, "after a forged handshake");
  genuine_reaches(&pr, 0, "after a forged handshake");
  pair_free(&pr);
}
END_TEST

START_TEST(forged_records_before_the_handshake_leave_the_server_waiting) {
  /* _i: type (4) x epoch (3) x pattern (3). A server not yet started by a
   * ClientHello stays NEW through all of them, then completes with the
   * genuine client. */
  uint8_t type = (uint8_t)(20 + _i % 4);
  uint16_t epoch = (uint16_t)(_i / 4 % 3);
  int pattern = _i / 12;
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  fakeclock_set(pr.now);
  uint8_t rec[HDR + FORGED_MAX_BODY];
  for (size_t body = 0; body <= FORGED_MAX_BODY; body++) {
    size_t n = forge(rec, type, epoch, 5000 + body, body, pattern);
    ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, n, pr.now), 0);
    ck_assert_msg(rtcsec_dtls_get_state(pr.p[1].d) == RTCSEC_DTLS_STATE_NEW,
                  "type %u epoch %u body %zu pattern %d started the server", type, epoch, body,
                  pattern);
    size_t on = 0;
    ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, rec, sizeof(rec), &on), 0);
    ck_assert_uint_eq(on, 0);
  }
  ck_assert_int_eq(rtcsec_dtls_start(pr.p[0].d, pr.now), 0);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert(pr.p[0].connected && pr.p[1].connected);
  assert_keys_match(&pr);
  pair_free(&pr);
}
END_TEST

/* The first genuine datagram each side sends is first delivered as a copy
 * whose epoch-0 records are renumbered near 2^48: the copy's content is
 * right, so it is processed, but if its numbers reached a replay window the
 * window would jump and every later genuine record would be "too old". */
typedef struct far_ahead {
  pair *pr;
  uint64_t next;
  unsigned copies;
  int done[2];
} far_ahead;

static int copy_far_ahead_first(void *user, int from, uint64_t index, const uint8_t *data,
                                size_t len) {
  (void)index;
  far_ahead *f = user;
  int to = 1 - from;
  if (f->done[from] || len > 2048)
    return 0;
  f->done[from] = 1;
  uint8_t copy[2048];
  memcpy(copy, data, len);
  int any = 0;
  for (size_t off = 0; off + HDR <= len;) {
    size_t rl = HDR + ((size_t)copy[off + 11] << 8 | copy[off + 12]);
    if (rl > len - off)
      break;
    if (copy[off + 3] == 0 && copy[off + 4] == 0) {
      set_seq(copy + off, f->next++);
      any = 1;
    }
    off += rl;
  }
  if (any) {
    ck_assert_int_eq(rtcsec_dtls_handle_datagram(f->pr->p[to].d, copy, len, f->pr->now), 0);
    f->copies++;
  }
  return 0;
}

START_TEST(epoch_0_numbers_far_ahead_do_not_stall_the_handshake) {
  far_ahead f = {.next = (UINT64_C(1) << 48) - 1000};
  pair_opts o;
  default_opts(&o);
  o.link.drop = copy_far_ahead_first;
  o.link.drop_user = &f;
  pair pr;
  f.pr = &pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 40 * SEC), HARNESS_STOPPED);
  ck_assert_uint_eq(f.copies, 2);
  ck_assert_msg(pr.p[0].connected && pr.p[1].connected, "client: %s; server: %s",
                rtcsec_dtls_error_detail(pr.p[0].d), rtcsec_dtls_error_detail(pr.p[1].d));
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_stats st;
    rtcsec_dtls_get_stats(pr.p[i].d, &st);
    ck_assert_uint_eq(st.retransmissions, 0);
  }
  assert_keys_match(&pr);
  pair_free(&pr);
}
END_TEST

/* ---- every unauthenticated datagram is counted (issue 11, the hostile suite) ---- */

static rtcsec_dtls_stats stats_now(rtcsec_dtls *d) {
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
  return st;
}

/* Delivers to the server of a connected pair and checks the counters that
 * moved: records discarded by OpenSSL, datagrams dropped, data delivered. */
static void expect_counts(pair *pr, const uint8_t *d, size_t n, uint64_t discarded,
                          uint64_t dropped, int data) {
  rtcsec_dtls_stats b = stats_now(pr->p[1].d);
  int n_data = pr->p[1].n_data;
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr->p[1].d, d, n, pr->now), 0);
  peer_poll(&pr->p[1], pr->now);
  rtcsec_dtls_stats a = stats_now(pr->p[1].d);
  ck_assert_uint_eq(a.records_discarded - b.records_discarded, discarded);
  ck_assert_uint_eq(a.datagrams_dropped - b.datagrams_dropped, dropped);
  ck_assert_uint_eq(a.records_dropped, b.records_dropped);
  ck_assert_int_eq(pr->p[1].n_data - n_data, data);
  ck_assert_uint_eq(a.records_authenticated - b.records_authenticated, (uint64_t)data);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[1].d), RTCSEC_DTLS_STATE_CONNECTED);
}

START_TEST(records_openssl_discards_after_the_handshake_are_counted) {
  /* Well-formed epoch-1 records pass rtcsec's checks and reach OpenSSL,
   * which discards them silently when they do not authenticate: each is
   * counted, and a datagram of nothing else as dropped. */
  pair *pr = connected();
  uint8_t g[2048], bad[4096];
  size_t n = genuine(pr, "counted", g, sizeof(g));
  memcpy(bad, g, n);
  bad[n - 1] ^= 0x01; /* a broken tag */
  expect_counts(pr, bad, n, 1, 1, 0);
  memcpy(bad, g, n);
  set_seq(bad, get_seq(g) + 1000000); /* far ahead: the tag covers the number */
  expect_counts(pr, bad, n, 1, 1, 0);
  expect_counts(pr, g, n, 0, 0, 1); /* the genuine record */
  expect_counts(pr, g, n, 1, 1, 0); /* a replay of it */
  memcpy(bad, g, n);
  memcpy(bad + n, g, n);
  expect_counts(pr, bad, 2 * n, 2, 1, 0); /* two replays in one datagram */
  size_t m = genuine(pr, "with a forgery", bad, sizeof(bad));
  memcpy(bad + m, g, n); /* a genuine record and a replay */
  expect_counts(pr, bad, m + n, 1, 0, 1);
  genuine_reaches(pr, 1, "still here");
  done(pr);
}
END_TEST

/* Renumbers every epoch-0 record of a datagram (the numbers are not
 * authenticated): a copy that a replay set keyed on numbers cannot catch. */
static void renumber(uint8_t *d, size_t n, uint64_t from) {
  for (size_t off = 0; off + HDR <= n;) {
    size_t rl = HDR + ((size_t)d[off + 11] << 8 | d[off + 12]);
    if (rl > n - off)
      break;
    if (d[off + 3] == 0 && d[off + 4] == 0)
      set_seq(d + off, from++);
    off += rl;
  }
}

/* Delivers a renumbered copy of an earlier datagram to `to`, still
 * handshaking: every record is dropped before OpenSSL and counted, nothing
 * is sent in answer. */
static void expect_copy_dropped(rtcsec_dtls *to, const uint8_t *orig, size_t n, size_t records,
                                uint64_t seq) {
  uint8_t copy[1500];
  memcpy(copy, orig, n);
  renumber(copy, n, seq);
  rtcsec_dtls_stats b = stats_now(to);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(to, copy, n, 0), 0);
  rtcsec_dtls_stats a = stats_now(to);
  ck_assert_uint_eq(a.records_dropped - b.records_dropped, records);
  ck_assert_uint_eq(a.datagrams_dropped - b.datagrams_dropped, 1);
  ck_assert_int_eq(rtcsec_dtls_get_state(to), RTCSEC_DTLS_STATE_HANDSHAKING);
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(to, copy, sizeof(copy), &on), 0);
  ck_assert_uint_eq(on, 0);
}

START_TEST(copies_of_handshake_messages_already_read_are_dropped_and_counted) {
  /* OpenSSL ignores fragments of handshake messages it has read (RFC 6347
   * §4.2.2), whatever their record number; rtcsec drops them first, so
   * they are counted. Far ahead and far behind, to both roles. */
  pair pr;
  started(&pr);
  uint8_t ch[1500], f2[1500], f3[1500];
  size_t chn = 0, f2n = 0, f3n = 0, more = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[0].d, ch, sizeof(ch), &chn), 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, ch, chn, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, f2, sizeof(f2), &f2n), 0);
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[1].d, f3, sizeof(f3), &more), 0);
  ck_assert_uint_eq(more, 0); /* the server's flight is one datagram here */
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[0].d, f2, f2n, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr.p[0].d, f3, sizeof(f3), &f3n), 0);
  ck_assert_uint_gt(f3n, 0);
  expect_copy_dropped(pr.p[1].d, ch, chn, 1, 1000);
  expect_copy_dropped(pr.p[1].d, ch, chn, 1, (UINT64_C(1) << 48) - 10);
  expect_copy_dropped(pr.p[0].d, f2, f2n, 5, 0);
  expect_copy_dropped(pr.p[0].d, f2, f2n, 5, 1u << 30);
  /* the handshake goes on as if nothing had come */
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, f3, f3n, 0), 0);
  deliver_all(pr.p[1].d, pr.p[0].d);
  peer_poll(&pr.p[0], 0);
  peer_poll(&pr.p[1], 0);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  assert_keys_match(&pr);
  for (int i = 0; i < 2; i++)
    ck_assert_uint_eq(stats_now(pr.p[i].d).retransmissions, 0);
  pair_free(&pr);
}
END_TEST

START_TEST(bytes_that_cannot_be_a_client_hello_leave_the_server_new) {
  /* A server starts its handshake clock on a ClientHello only: a record
   * with the ClientHello type byte but a wrong version, a fragment header
   * that does not add up, or a later fragment first, starts nothing. */
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  fakeclock_set(0);
  uint8_t rec[HDR + 40];
  for (int k = 0; k < 4; k++) {
    memset(rec, 0, sizeof(rec));
    rec[0] = 22;
    rec[1] = 0xfe;
    rec[2] = 0xfd;
    set_seq(rec, (uint64_t)k);
    rec[12] = 40;
    uint8_t *h = rec + HDR;
    h[0] = 1;   /* client_hello */
    h[3] = 28;  /* length */
    h[11] = 28; /* fragment length */
    if (k == 0)
      rec[2] = 0x01; /* version 0xfe01 */
    else if (k == 1)
      h[11] = 60; /* fragment past the record */
    else if (k == 2)
      h[8] = 4; /* a fragment at offset 4 */
    else
      h[3] = 20; /* fragment longer than the message */
    ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, sizeof(rec), 0), 0);
    ck_assert_msg(rtcsec_dtls_get_state(pr.p[1].d) == RTCSEC_DTLS_STATE_NEW,
                  "case %d started the server", k);
  }
  ck_assert_uint_eq(stats_now(pr.p[1].d).datagrams_dropped, 4);
  ck_assert_int_eq(rtcsec_dtls_start(pr.p[0].d, 0), 0);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert(pr.p[0].connected && pr.p[1].connected);
  assert_keys_match(&pr);
  pair_free(&pr);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtls_bad");
  TCase *tc = tcase_create("records");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, record_longer_than_its_datagram_is_dropped);
  tcase_add_test(tc, unknown_content_types_are_dropped);
  tcase_add_test(tc, wrong_version_after_negotiation_is_dropped);
  tcase_add_test(tc, epoch_far_ahead_is_dropped);
  tcase_add_test(tc, bad_mac_does_not_move_the_replay_window);
  tcase_add_test(tc, epoch_0_application_data_is_dropped_before_and_after_the_handshake);
  tcase_add_test(tc, truncated_and_empty_datagrams_are_dropped);
  suite_add_tcase(s, tc);
  TCase *hs = tcase_create("handshake");
  tcase_set_timeout(hs, 60);
  tcase_add_test(hs, server_choosing_a_profile_not_offered_fails_the_client);
  tcase_add_loop_test(hs, malformed_use_srtp_in_client_hello_fails_the_handshake_cleanly, 0, 2);
  tcase_add_test(hs, renegotiation_after_the_handshake_is_refused_and_the_session_goes_on);
  tcase_add_test(hs, records_after_the_finished_in_one_datagram_are_read_at_once);
  suite_add_tcase(s, hs);
  TCase *fg = tcase_create("forged");
  tcase_set_timeout(fg, 120);
  tcase_add_test(fg, forged_records_after_the_handshake_change_nothing_in_either_role);
  tcase_add_loop_test(fg, forged_records_during_the_handshake_change_nothing_in_either_role, 0, 36);
  tcase_add_loop_test(fg, forged_records_before_the_handshake_leave_the_server_waiting, 0, 36);
  tcase_add_test(fg, epoch_0_numbers_far_ahead_do_not_stall_the_handshake);
  suite_add_tcase(s, fg);
  TCase *ct = tcase_create("counted");
  tcase_set_timeout(ct, 60);
  tcase_add_test(ct, records_openssl_discards_after_the_handshake_are_counted);
  tcase_add_test(ct, copies_of_handshake_messages_already_read_are_dropped_and_counted);
  tcase_add_test(ct, bytes_that_cannot_be_a_client_hello_leave_the_server_new);
  suite_add_tcase(s, ct);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
