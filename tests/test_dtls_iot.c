/* The DTLS association beyond WebRTC: plain DTLS without use_srtp, the
 * RFC 7925 profile (pre-shared keys with TLS_PSK_WITH_AES_128_CCM_8,
 * certificates with TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 on P-256, small
 * MTUs, the slow-link timer) and certificates verified against a CA and a
 * host name (what STUN/TURN over DTLS needs, RFC 8489 §6.2.3). Driven
 * sans-IO through the in-memory link with the fake clock. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtls_pair.h"
#include "fakeclock.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/transport.h"

static const uint8_t psk_a[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t psk_b[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xfe};

/* What each side of a pair is configured with, on top of default_opts(). */
typedef struct uses {
  int use_srtp[2];
  const char *ciphers[2];
  const char *groups[2];
  const char *identity[2];
  const uint8_t *psk[2];
  size_t psk_len[2];
  int no_cert[2];
  const char *ca_file[2];
  const char *peer_name[2];
  uint64_t rto_initial_us, rto_max_us;
} uses;

static void configure(void *user, int i, rtcsec_dtls_config *cfg) {
  const uses *u = user;
  cfg->use_srtp = u->use_srtp[i];
  cfg->ciphers = u->ciphers[i];
  cfg->groups = u->groups[i];
  cfg->psk_identity = u->identity[i];
  cfg->psk = u->psk[i];
  cfg->psk_len = u->psk_len[i];
  if (u->no_cert[i])
    cfg->cert = NULL;
  cfg->ca_file = u->ca_file[i];
  cfg->peer_name = u->peer_name[i];
  if (u->rto_initial_us != 0) {
    cfg->rto_initial_us = u->rto_initial_us;
    cfg->rto_max_us = u->rto_max_us;
  }
}

/* Plain DTLS with the same pre-shared key on both sides, no certificates. */
static void psk_uses(uses *u) {
  memset(u, 0, sizeof(*u));
  for (int i = 0; i < 2; i++) {
    u->identity[i] = "device-17";
    u->psk[i] = psk_a;
    u->psk_len[i] = sizeof(psk_a);
    u->no_cert[i] = 1;
  }
}

static void pair_opts_for(pair_opts *o, uses *u) {
  default_opts(o);
  o->configure = configure;
  o->configure_user = u;
}

static void assert_exports_match(const pair *pr) {
  uint8_t a[48], b[48];
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(pr->p[0].d, "EXPORTER-test", a, sizeof(a)),
                   0);
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(pr->p[1].d, "EXPORTER-test", b, sizeof(b)),
                   0);
  ck_assert_mem_eq(a, b, sizeof(a));
  uint8_t c[48];
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(pr->p[0].d, "EXPORTER-other", c, sizeof(c)),
                   0);
  ck_assert(memcmp(a, c, sizeof(a)) != 0);
}

/* A pair made, started and run until both ended or `until`. */
static void run_pair(pair *pr, const pair_opts *o, uint64_t until) {
  pair_init(pr, o);
  pair_start(pr);
  ck_assert_int_eq(pair_run(pr, until), HARNESS_STOPPED);
}

/* Connects n seeds of a pair over a lossy link; returns the slowest
 * completion in protocol time. */
static uint64_t sweep_seeds(const uses *tmpl, const link_config *lk, uint64_t hs_timeout_us,
                            uint64_t n, uint64_t until) {
  uint64_t worst = 0;
  for (uint64_t seed = 1; seed <= n; seed++) {
    uses u = *tmpl;
    pair_opts o;
    pair_opts_for(&o, &u);
    o.link = *lk;
    o.link.seed = seed;
    if (hs_timeout_us != 0)
      o.handshake_timeout_us = hs_timeout_us;
    pair pr;
    run_pair(&pr, &o, until);
    ck_assert_msg(pr.p[0].connected && pr.p[1].connected, "seed %llu did not connect",
                  (unsigned long long)seed);
    if (pr.now > worst)
      worst = pr.now;
    pair_free(&pr);
  }
  return worst;
}

/* Application data both ways over a connected pair. */
static void assert_data_both_ways(pair *pr) {
  static const uint8_t up[] = "GET /sensors/temp";
  static const uint8_t down[] = "21.5 C";
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, up, sizeof(up), pr->now), 0);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[1].d, down, sizeof(down), pr->now), 0);
  pair_settle(pr);
  ck_assert_int_eq(pr->p[1].n_data, 1);
  ck_assert_mem_eq(pr->p[1].data, up, sizeof(up));
  ck_assert_int_eq(pr->p[0].n_data, 1);
  ck_assert_mem_eq(pr->p[0].data, down, sizeof(down));
}

/* ---- RFC 7925 §4.2: pre-shared keys ----------------------------------------------- */

START_TEST(psk_ccm8_connects_without_certificates_or_use_srtp) {
  uses u;
  psk_uses(&u);
  pair_opts o;
  pair_opts_for(&o, &u);
  o.fp_known[0] = o.fp_known[1] = 0; /* nothing to wait for: the key authenticates */
  pair pr;
  run_pair(&pr, &o, 10 * SEC);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 1);
    ck_assert_int_eq(pr.p[i].info.profile, RTCSEC_SRTP_NONE);
    ck_assert_str_eq(pr.p[i].info.cipher, "PSK-AES128-CCM8"); /* the default with a PSK */
    ck_assert_str_eq(pr.p[i].info.version, "DTLSv1.2");
    ck_assert_uint_eq(pr.p[i].info.peer_fingerprint.len, 0); /* no certificate at all */
    rtcsec_srtp_keys keys;
    ck_assert_int_eq(rtcsec_dtls_export_srtp_keys(pr.p[i].d, &keys),
                     RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
    rtcsec_dtls_stats st;
    rtcsec_dtls_get_stats(pr.p[i].d, &st);
    ck_assert_int_eq(st.awaiting_fingerprint, 0);
    ck_assert_uint_eq(st.datagrams_held, 0);
  }
  assert_exports_match(&pr);
  assert_data_both_ways(&pr);
  pair_free(&pr);
}
END_TEST

/* Every cipher the configuration may name, each way of keying it: the
 * record filter knows its overhead, so records pass and data flows. */
START_TEST(each_aead_suite_carries_data) {
  static const struct {
    const char *cipher;
    int psk;
  } cases[] = {
      {"PSK-AES128-CCM8", 1},
      {"PSK-AES256-CCM8", 1},
      {"PSK-AES128-CCM", 1},
      {"PSK-AES128-GCM-SHA256", 1},
      {"PSK-CHACHA20-POLY1305", 1},
      {"ECDHE-ECDSA-AES128-CCM8", 0},
      {"ECDHE-ECDSA-AES256-CCM8", 0},
      {"ECDHE-ECDSA-AES128-CCM", 0},
      {"ECDHE-ECDSA-AES128-GCM-SHA256", 0},
  };
  uses u;
  if (cases[_i].psk) {
    psk_uses(&u);
  } else {
    memset(&u, 0, sizeof(u));
  }
  u.ciphers[0] = u.ciphers[1] = cases[_i].cipher;
  pair_opts o;
  pair_opts_for(&o, &u);
  pair pr;
  run_pair(&pr, &o, 10 * SEC);
  ck_assert_msg(pr.p[0].connected && pr.p[1].connected, "%s did not connect", cases[_i].cipher);
  ck_assert_str_eq(pr.p[0].info.cipher, cases[_i].cipher);
  assert_data_both_ways(&pr);
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[1].d, &st);
  ck_assert_uint_eq(st.records_discarded, 0);
  ck_assert_uint_ge(st.records_authenticated, 1);
  pair_free(&pr);
}
END_TEST

/* A pre-shared key beside a certificate and use_srtp: DTLS-SRTP keyed by
 * the PSK (RFC 5764 allows any suite). */
START_TEST(psk_also_keys_dtls_srtp) {
  uses u;
  psk_uses(&u);
  u.use_srtp[0] = u.use_srtp[1] = 1;
  u.no_cert[0] = u.no_cert[1] = 0;
  pair_opts o;
  pair_opts_for(&o, &u);
  o.fp_known[0] = o.fp_known[1] = 0;
  pair pr;
  run_pair(&pr, &o, 10 * SEC);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  ck_assert_int_eq(pr.p[0].info.profile, RTCSEC_SRTP_AEAD_AES_128_GCM);
  assert_keys_match(&pr);
  pair_free(&pr);
}
END_TEST

START_TEST(psk_handshake_completes_under_loss_and_reordering) {
  /* _i: 0 = 20 % loss, 1 = 20 % loss + 30 % reordering + 10 % duplicates */
  uses u;
  psk_uses(&u);
  link_config lk = {.loss = 0.2};
  if (_i == 1) {
    lk.reorder = 0.3;
    lk.duplicate = 0.1;
  }
  uint64_t worst = sweep_seeds(&u, &lk, 0, 100, 60 * SEC);
  printf("psk, %s: 100 seeds connected, worst %.2f s\n",
         _i ? "20% loss + reordering + duplicates" : "20% loss", worst / 1e6);
  ck_assert_uint_lt(worst, 30 * SEC);
}
END_TEST

/* Anyone may try any identity: the server refuses one that is not its own
 * with unknown_psk_identity (RFC 4279 §2). That alert is plaintext, so the
 * client does not act on it; it times out and names it. */
START_TEST(unknown_psk_identity_fails_the_server_with_its_own_error) {
  uses u;
  psk_uses(&u);
  u.identity[0] = "device-18";
  pair_opts o;
  pair_opts_for(&o, &u);
  o.handshake_timeout_us = 20 * SEC;
  pair pr;
  run_pair(&pr, &o, 60 * SEC);
  peer *srv = &pr.p[1], *cli = &pr.p[0];
  ck_assert_int_eq(srv->failed, 1);
  ck_assert_int_eq(srv->error, RTCSEC_ERR_PSK_UNKNOWN_IDENTITY);
  ck_assert_int_eq(srv->alert, 115);
  ck_assert_int_eq(srv->alert_from_peer, 0);
  ck_assert_str_eq(rtcsec_dtls_alert_name(115), "unknown_psk_identity");
  ck_assert_ptr_nonnull(strstr(rtcsec_dtls_error_detail(srv->d), "identity"));
  ck_assert_int_eq(cli->failed, 1);
  ck_assert_int_eq(cli->connected, 0);
  ck_assert_int_eq(cli->error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(cli->d, &st);
  ck_assert_uint_ge(st.unauthenticated_alerts, 1);
  ck_assert_int_eq(st.last_unauthenticated_alert, 115);
  ck_assert_ptr_nonnull(strstr(rtcsec_dtls_error_detail(cli->d), "unknown_psk_identity"));
  pair_free(&pr);
}
END_TEST

/* A different key fails nothing at once: the Finished that cannot be
 * decrypted is dropped like any forged record (RFC 6347 §4.1.2.7). Both
 * time out, and both details say what it likely was. */
START_TEST(wrong_psk_times_out_and_says_why) {
  uses u;
  psk_uses(&u);
  u.psk[0] = psk_b;
  pair_opts o;
  pair_opts_for(&o, &u);
  o.handshake_timeout_us = 20 * SEC;
  pair pr;
  run_pair(&pr, &o, 60 * SEC);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 0);
    ck_assert_int_eq(pr.p[i].n_data, 0);
    ck_assert_int_eq(pr.p[i].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  }
  ck_assert_ptr_nonnull(
      strstr(rtcsec_dtls_error_detail(pr.p[1].d), "encrypted Finished never authenticated"));
  ck_assert_ptr_nonnull(strstr(rtcsec_dtls_error_detail(pr.p[0].d), "never answered our Finished"));
  ck_assert_ptr_nonnull(strstr(rtcsec_dtls_error_detail(pr.p[0].d), "pre-shared key"));
  pair_free(&pr);
}
END_TEST

/* ---- CCM_8 records: the filter's overhead, a bad tag --------------------------------- */

static pair *connected_psk_pair(pair *pr, uses *u) {
  psk_uses(u);
  pair_opts o;
  pair_opts_for(&o, u);
  run_pair(pr, &o, 10 * SEC);
  ck_assert_int_eq(pr->p[0].connected, 1);
  ck_assert_int_eq(pr->p[1].connected, 1);
  return pr;
}

/* One application record from the client, taken off its queue. */
static size_t take_record(pair *pr, const uint8_t *msg, size_t len, uint8_t *out, size_t cap) {
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, msg, len, pr->now), 0);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(pr->p[0].d, out, cap, &n), 0);
  return n;
}

START_TEST(ccm8_record_with_a_bad_tag_is_dropped_and_counted) {
  pair pr;
  uses u;
  connected_psk_pair(&pr, &u);
  static const uint8_t msg[] = "temperature=21.5";
  uint8_t rec[256];
  size_t n = take_record(&pr, msg, sizeof(msg), rec, sizeof(rec));
  /* 13-byte header, 8-byte explicit nonce, the text, 8-byte tag (RFC 6655 §3) */
  ck_assert_uint_eq(n, 13 + 8 + sizeof(msg) + 8);
  ck_assert_uint_eq(rec[0], 23);
  uint8_t bad[256];
  for (size_t pos = 0; pos < 3; pos++) {
    memcpy(bad, rec, n);
    /* a flipped bit in the tag, in the ciphertext, in the explicit nonce */
    size_t at = pos == 0 ? n - 1 : pos == 1 ? 13 + 8 + 2 : 13 + 3;
    bad[at] ^= 0x01;
    ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, bad, n, pr.now), 0);
  }
  /* shorter than nonce + tag: never reaches OpenSSL */
  uint8_t shorty[13 + 15];
  memcpy(shorty, rec, 13);
  shorty[11] = 0;
  shorty[12] = 15;
  memset(shorty + 13, 0xab, 15);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, shorty, sizeof(shorty), pr.now), 0);
  peer_poll(&pr.p[1], pr.now);
  ck_assert_int_eq(pr.p[1].n_data, 0);
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[1].d, &st);
  ck_assert_uint_eq(st.records_discarded, 3);
  ck_assert_uint_ge(st.records_dropped, 1);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr.p[1].d), RTCSEC_DTLS_STATE_CONNECTED);
  /* the genuine record still authenticates; its replay does not */
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, n, pr.now), 0);
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[1].d, rec, n, pr.now), 0);
  peer_poll(&pr.p[1], pr.now);
  ck_assert_int_eq(pr.p[1].n_data, 1);
  ck_assert_mem_eq(pr.p[1].data, msg, sizeof(msg));
  rtcsec_dtls_get_stats(pr.p[1].d, &st);
  ck_assert_uint_eq(st.records_discarded, 4);
  pair_free(&pr);
}
END_TEST

/* RFC 7925 §11 / constrained links: every datagram within 256 bytes, and
 * the largest record that fits carries data. */
START_TEST(ccm8_at_the_smallest_mtu) {
  uses u;
  psk_uses(&u);
  if (_i == 1) { /* certificates: ECDHE-ECDSA-AES128-CCM8 on P-256, the bigger flights */
    memset(&u, 0, sizeof(u));
    u.ciphers[0] = u.ciphers[1] = "ECDHE-ECDSA-AES128-CCM8";
    u.groups[0] = u.groups[1] = "P-256";
  }
  pair_opts o;
  pair_opts_for(&o, &u);
  o.mtu = 256;
  pair pr;
  run_pair(&pr, &o, 10 * SEC);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  ck_assert_uint_le(pr.max_seen, 256);
  ck_assert_int_eq(pr.bad_boundaries, 0);
  uint8_t big[256];
  memset(big, 0x5a, sizeof(big));
  /* 256 - 13 (header) - 16 (CCM_8 nonce + tag) */
  size_t room = 256 - 13 - 16;
  ck_assert_int_eq(rtcsec_dtls_send_data(pr.p[0].d, big, room + 1, pr.now), RTCSEC_ERR_TOO_LARGE);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr.p[0].d, big, room, pr.now), 0);
  pair_settle(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 1);
  ck_assert_uint_eq(pr.p[1].data_len, room);
  ck_assert_uint_eq(pr.max_seen, 256);
  pair_free(&pr);
}
END_TEST

/* RFC 7925 §4.4 with §4.4's curve: ECDHE and ECDSA on secp256r1. */
START_TEST(ecdhe_ecdsa_ccm8_on_p256_with_fingerprints) {
  uses u;
  memset(&u, 0, sizeof(u));
  u.ciphers[0] = u.ciphers[1] = "ECDHE-ECDSA-AES128-CCM8";
  u.groups[0] = u.groups[1] = "P-256";
  pair_opts o;
  pair_opts_for(&o, &u);
  pair pr;
  run_pair(&pr, &o, 10 * SEC);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 1);
    ck_assert_str_eq(pr.p[i].info.cipher, "ECDHE-ECDSA-AES128-CCM8");
    ck_assert_str_eq(pr.p[i].info.group, "secp256r1");
    ck_assert_int_eq(pr.p[i].info.profile, RTCSEC_SRTP_NONE);
    rtcsec_fingerprint want = fp_of(pr.p[1 - i].cert, RTCSEC_HASH_SHA256);
    ck_assert(rtcsec_fingerprint_equal(&pr.p[i].info.peer_fingerprint, &want));
  }
  assert_exports_match(&pr);
  assert_data_both_ways(&pr);
  pair_free(&pr);
}
END_TEST

/* Plain DTLS keeps the fingerprint hold of WebRTC: no fingerprint, no CA,
 * no key, no connection. */
START_TEST(plain_dtls_without_any_authenticator_holds_then_times_out) {
  uses u;
  memset(&u, 0, sizeof(u));
  pair_opts o;
  pair_opts_for(&o, &u);
  o.fp_known[0] = 0;
  o.handshake_timeout_us = 10 * SEC;
  pair pr;
  run_pair(&pr, &o, 60 * SEC);
  ck_assert_int_eq(pr.p[0].connected, 0);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[0].d, &st);
  ck_assert_uint_gt(st.datagrams_held, 0);
  ck_assert_int_eq(pr.p[1].connected, 0);
  pair_free(&pr);
}
END_TEST

/* use_srtp on one side only: the WebRTC side refuses the plain one. */
START_TEST(use_srtp_mismatch_fails_the_webrtc_side) {
  uses u;
  memset(&u, 0, sizeof(u));
  u.use_srtp[_i] = 1; /* _i = 0: the client wants SRTP; 1: the server */
  pair_opts o;
  pair_opts_for(&o, &u);
  o.handshake_timeout_us = 10 * SEC;
  pair pr;
  run_pair(&pr, &o, 60 * SEC);
  ck_assert_int_eq(pr.p[_i].failed, 1);
  ck_assert_int_eq(pr.p[_i].error, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
  ck_assert_int_eq(pr.p[1 - _i].connected, 0);
  pair_free(&pr);
}
END_TEST

/* ---- RFC 7925 §11: the slow-link timer -------------------------------------------- */

static int drop_all(void *user, int from, uint64_t index, const uint8_t *data, size_t len) {
  (void)user, (void)from, (void)index, (void)data, (void)len;
  return 1;
}

START_TEST(slow_link_timer_follows_rfc7925_schedule) {
  uses u;
  psk_uses(&u);
  u.rto_initial_us = RTCSEC_DTLS_RFC7925_RTO_INITIAL_US;
  u.rto_max_us = RTCSEC_DTLS_RFC7925_RTO_MAX_US;
  pair_opts o;
  pair_opts_for(&o, &u);
  o.handshake_timeout_us = 900 * SEC;
  o.link.drop = drop_all;
  pair pr;
  run_pair(&pr, &o, 1000 * SEC);
  /* 0, then 9 s doubling to a 60 s cap, until OpenSSL's 12 retransmissions */
  uint64_t expect[13] = {0}, t = 0, rto = 9 * SEC;
  for (size_t n = 1; n < 13; n++) {
    t += rto;
    expect[n] = t;
    rto = rto * 2 > 60 * SEC ? 60 * SEC : rto * 2;
  }
  ck_assert_uint_eq(pr.n_send_times, 13);
  for (size_t n = 0; n < 13; n++)
    ck_assert_uint_eq(pr.send_times[n], expect[n]);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  printf("RFC 7925 timer: 12 retransmissions, the last at %.0f s\n", expect[12] / 1e6);
  pair_free(&pr);
}
END_TEST

START_TEST(slow_link_timer_connects_through_heavy_loss) {
  uses u;
  psk_uses(&u);
  u.rto_initial_us = RTCSEC_DTLS_RFC7925_RTO_INITIAL_US;
  u.rto_max_us = RTCSEC_DTLS_RFC7925_RTO_MAX_US;
  link_config lk = {.loss = 0.4, .delay_us = 500 * MS}; /* a slow radio */
  uint64_t worst = sweep_seeds(&u, &lk, 900 * SEC, 50, 1000 * SEC);
  printf("RFC 7925 timer, 40%% loss, 500 ms one way: 50 seeds connected, worst %.0f s\n",
         worst / 1e6);
}
END_TEST

/* ---- certificates verified against a CA (RFC 5280, RFC 6125) --------------------- */

typedef struct test_ca {
  EVP_PKEY *key;
  X509 *cert;
  char path[64];
} test_ca;

static X509 *make_x509(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int is_ca,
                       const char *san, long not_before_days, long not_after_days) {
  X509 *x = X509_new();
  ck_assert_ptr_nonnull(x);
  ck_assert_int_eq(X509_set_version(x, 2), 1);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after_days * 86400);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  const char *bc = is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, bc);
  ck_assert_ptr_nonnull(ext);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (is_ca) {
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (san != NULL) {
    ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    ck_assert_ptr_nonnull(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
  return x;
}

static void ca_init(test_ca *ca, const char *cn) {
  ca->key = EVP_EC_gen("P-256");
  ck_assert_ptr_nonnull(ca->key);
  ca->cert = make_x509(ca->key, cn, NULL, NULL, 1, NULL, -1, 30);
  snprintf(ca->path, sizeof(ca->path), "/tmp/rtcsec-ca-XXXXXX");
  int fd = mkstemp(ca->path);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(PEM_write_X509(f, ca->cert), 1);
  fclose(f);
}

static void ca_free(test_ca *ca) {
  unlink(ca->path);
  X509_free(ca->cert);
  EVP_PKEY_free(ca->key);
}

/* A leaf certificate issued by ca, as an rtcsec_cert. */
static rtcsec_cert *issue(const test_ca *ca, const char *cn, const char *san, long nb, long na) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = make_x509(key, cn, ca->cert, ca->key, 0, san, nb, na);
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  ck_assert_int_eq(PEM_write_bio_X509(cb, x), 1);
  ck_assert_int_eq(PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL), 1);
  char *cp = NULL, *kp = NULL;
  long cl = BIO_get_mem_data(cb, &cp), kl = BIO_get_mem_data(kb, &kp);
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_load_pem(&c, cp, (size_t)cl, kp, (size_t)kl), 0);
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return c;
}

/* The client (p[0]) verifies the server by the CA and a name; the server
 * verifies the client by its fingerprint, as before. */
static void run_ca_case(rtcsec_cert *server_cert, const char *ca_path, const char *name, pair *pr,
                        uses *u) {
  memset(u, 0, sizeof(*u));
  u->ca_file[0] = ca_path;
  u->peer_name[0] = name;
  pair_opts o;
  pair_opts_for(&o, u);
  o.certs[1] = server_cert;
  o.fp_known[0] = 0;
  o.handshake_timeout_us = 10 * SEC;
  run_pair(pr, &o, 60 * SEC);
}

START_TEST(ca_and_name_authenticate_the_server) {
  test_ca ca;
  ca_init(&ca, "rtcsec test CA");
  static const char *names[] = {"turn.example.net", "127.0.0.1", "relay.example.net", "::1"};
  rtcsec_cert *srv = issue(&ca, "turn server",
                           "DNS:turn.example.net,DNS:*.example.net,"
                           "IP:127.0.0.1,IP:::1",
                           -1, 30);
  pair pr;
  uses u;
  run_ca_case(srv, ca.path, names[_i], &pr, &u);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  /* CONNECTED names the certificate that was verified, by its SHA-256 */
  rtcsec_fingerprint want = fp_of(srv, RTCSEC_HASH_SHA256);
  ck_assert(rtcsec_fingerprint_equal(&pr.p[0].info.peer_fingerprint, &want));
  assert_data_both_ways(&pr);
  pair_free(&pr);
  rtcsec_cert_free(srv);
  ca_free(&ca);
}
END_TEST

START_TEST(server_refused_before_any_data_when_the_ca_or_name_is_wrong) {
  /* _i: 0 wrong name, 1 another CA, 2 expired, 3 wildcard too deep,
   * 4 IP literal not in the certificate, 5 self-signed (the CA's own name) */
  test_ca ca, other;
  ca_init(&ca, "rtcsec test CA");
  ca_init(&other, "another CA");
  rtcsec_cert *srv = NULL;
  const char *name = "turn.example.net";
  int want = RTCSEC_ERR_CERT_NAME_MISMATCH;
  const char *why = "does not name";
  switch (_i) {
  case 0:
    srv = issue(&ca, "turn server", "DNS:stun.example.net", -1, 30);
    break;
  case 1:
    srv = issue(&other, "turn server", "DNS:turn.example.net", -1, 30);
    want = RTCSEC_ERR_CERT_UNTRUSTED;
    why = "unable to get local issuer certificate";
    break;
  case 2:
    srv = issue(&ca, "turn server", "DNS:turn.example.net", -10, -1);
    want = RTCSEC_ERR_CERT_UNTRUSTED;
    why = "certificate has expired";
    break;
  case 3:
    srv = issue(&ca, "turn server", "DNS:*.example.net", -1, 30);
    name = "a.turn.example.net";
    break;
  case 4:
    srv = issue(&ca, "turn server", "DNS:turn.example.net,IP:127.0.0.2", -1, 30);
    name = "127.0.0.1";
    break;
  default:
    srv = make_cert(RTCSEC_KEY_ECDSA_P256);
    want = RTCSEC_ERR_CERT_UNTRUSTED;
    why = "self-signed certificate";
    break;
  }
  pair pr;
  uses u;
  run_ca_case(srv, ca.path, name, &pr, &u);
  peer *cli = &pr.p[0];
  ck_assert_int_eq(cli->connected, 0);
  ck_assert_int_eq(cli->failed, 1);
  ck_assert_int_eq(cli->error, want);
  ck_assert_int_eq(cli->alert, 42); /* bad_certificate, sent */
  ck_assert_int_eq(cli->alert_from_peer, 0);
  ck_assert_msg(strstr(rtcsec_dtls_error_detail(cli->d), why) != NULL, "detail '%s' lacks '%s'",
                rtcsec_dtls_error_detail(cli->d), why);
  /* nothing was sent after the handshake: no application data can exist */
  ck_assert_int_eq(rtcsec_dtls_send_data(cli->d, (const uint8_t *)"x", 1, pr.now), want);
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(pr.p[1].n_data, 0);
  pair_free(&pr);
  rtcsec_cert_free(srv);
  ca_free(&ca);
  ca_free(&other);
}
END_TEST

/* A server may also take clients on a CA (devices with certificates from
 * one authority, RFC 7925 §4.4.2), here without a name check. */
START_TEST(server_verifies_clients_against_a_ca) {
  test_ca ca;
  ca_init(&ca, "device CA");
  rtcsec_cert *dev = issue(&ca, "device 17", NULL, -1, 30);
  rtcsec_cert *stranger = make_cert(RTCSEC_KEY_ECDSA_P256);
  uses u;
  memset(&u, 0, sizeof(u));
  u.ca_file[1] = ca.path;
  u.ciphers[0] = u.ciphers[1] = "ECDHE-ECDSA-AES128-CCM8";
  pair_opts o;
  pair_opts_for(&o, &u);
  o.certs[0] = _i == 0 ? dev : stranger;
  o.fp_known[1] = 0;
  o.handshake_timeout_us = 10 * SEC;
  pair pr;
  run_pair(&pr, &o, 60 * SEC);
  if (_i == 0) {
    ck_assert_int_eq(pr.p[1].connected, 1);
    ck_assert_int_eq(pr.p[0].connected, 1);
  } else {
    ck_assert_int_eq(pr.p[1].connected, 0);
    ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_CERT_UNTRUSTED);
    ck_assert_int_eq(pr.p[0].connected, 0);
  }
  pair_free(&pr);
  rtcsec_cert_free(dev);
  rtcsec_cert_free(stranger);
  ca_free(&ca);
}
END_TEST

/* ---- configuration errors ---------------------------------------------------------- */

START_TEST(configuration_errors_are_refused) {
  rtcsec_cert *c = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_dtls_config cfg;
  rtcsec_dtls *d = NULL;
  char long_id[RTCSEC_DTLS_MAX_PSK_IDENTITY + 2];
  memset(long_id, 'i', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = '\0';
  uint8_t long_key[RTCSEC_DTLS_MAX_PSK + 1] = {0};
  char empty_pem[] = "/tmp/rtcsec-empty-XXXXXX";
  int fd = mkstemp(empty_pem);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "not a certificate\n", 18), 18);
  close(fd);
  static const struct {
    const char *what;
    int rc;
  } cases[] = {
      {"CBC suite", RTCSEC_ERR_INVALID_ARGUMENT},
      {"no suite matches", RTCSEC_ERR_INVALID_ARGUMENT},
      {"PSK suite without a key", RTCSEC_ERR_INVALID_ARGUMENT},
      {"key without identity", RTCSEC_ERR_INVALID_ARGUMENT},
      {"identity without key", RTCSEC_ERR_INVALID_ARGUMENT},
      {"identity too long", RTCSEC_ERR_INVALID_ARGUMENT},
      {"key too long", RTCSEC_ERR_INVALID_ARGUMENT},
      {"no certificate and no key", RTCSEC_ERR_INVALID_ARGUMENT},
      {"no certificate and certificate suites only", RTCSEC_ERR_INVALID_ARGUMENT},
      {"client CA without a name", RTCSEC_ERR_INVALID_ARGUMENT},
      {"name without CA", RTCSEC_ERR_INVALID_ARGUMENT},
      {"CA file missing", RTCSEC_ERR_IO},
      {"CA file without a certificate", RTCSEC_ERR_PEM},
      {"unknown group", RTCSEC_ERR_INVALID_ARGUMENT},
      {"empty cipher string", RTCSEC_ERR_INVALID_ARGUMENT},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rtcsec_dtls_config_default(&cfg);
    cfg.cert = c;
    cfg.use_srtp = 0;
    cfg.role = RTCSEC_DTLS_CLIENT;
    switch (i) {
    case 0:
      cfg.ciphers = "ECDHE-ECDSA-AES128-SHA256";
      break;
    case 1:
      cfg.ciphers = "NO-SUCH-SUITE";
      break;
    case 2:
      cfg.ciphers = "PSK-AES128-CCM8";
      break;
    case 3:
      cfg.psk = psk_a;
      cfg.psk_len = sizeof(psk_a);
      break;
    case 4:
      cfg.psk_identity = "device";
      break;
    case 5:
      cfg.psk_identity = long_id;
      cfg.psk = psk_a;
      cfg.psk_len = sizeof(psk_a);
      break;
    case 6:
      cfg.psk_identity = "device";
      cfg.psk = long_key;
      cfg.psk_len = sizeof(long_key);
      break;
    case 7:
      cfg.cert = NULL;
      break;
    case 8:
      cfg.cert = NULL;
      cfg.psk_identity = "device";
      cfg.psk = psk_a;
      cfg.psk_len = sizeof(psk_a);
      cfg.ciphers = "ECDHE-ECDSA-AES128-CCM8";
      break;
    case 9:
      cfg.ca_file = "/etc/ssl/certs/ca-certificates.crt";
      break;
    case 10:
      cfg.peer_name = "turn.example.net";
      break;
    case 11:
      cfg.ca_file = "/nonexistent/ca.pem";
      cfg.peer_name = "turn.example.net";
      break;
    case 12:
      cfg.ca_file = empty_pem;
      cfg.peer_name = "turn.example.net";
      break;
    case 13:
      cfg.groups = "P-255";
      break;
    default:
      cfg.ciphers = "";
      break;
    }
    int rc = rtcsec_dtls_new(&d, &cfg);
    ck_assert_msg(rc == cases[i].rc, "%s: got %d (%s), want %d", cases[i].what, rc,
                  rtcsec_strerror(rc), cases[i].rc);
    ck_assert_ptr_null(d);
  }
  unlink(empty_pem);
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_PSK_UNKNOWN_IDENTITY), "unknown error");
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_CERT_UNTRUSTED), "unknown error");
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_CERT_NAME_MISMATCH), "unknown error");

  /* the transport is DTLS-SRTP only */
  rtcsec_transport_config tcfg;
  rtcsec_transport_config_default(&tcfg);
  tcfg.dtls.cert = c;
  tcfg.dtls.use_srtp = 0;
  rtcsec_transport *t = NULL;
  ck_assert_int_eq(rtcsec_transport_new(&t, &tcfg), RTCSEC_ERR_INVALID_ARGUMENT);

  /* the exporter before connecting, and its arguments */
  rtcsec_dtls_config_default(&cfg);
  cfg.cert = c;
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), 0);
  uint8_t out[32];
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(d, "EXPORTER-x", out, sizeof(out)),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(d, "", out, sizeof(out)),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(d, "EXPORTER-x", out, 0),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(
      rtcsec_dtls_export_keying_material(d, "EXPORTER-x", out, RTCSEC_DTLS_MAX_EXPORT + 1),
      RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dtls_export_keying_material(NULL, "EXPORTER-x", out, sizeof(out)),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_dtls_free(d);
  rtcsec_cert_free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtls_iot");
  TCase *psk = tcase_create("psk");
  tcase_add_test(psk, psk_ccm8_connects_without_certificates_or_use_srtp);
  tcase_add_loop_test(psk, each_aead_suite_carries_data, 0, 9);
  tcase_add_test(psk, psk_also_keys_dtls_srtp);
  tcase_add_loop_test(psk, psk_handshake_completes_under_loss_and_reordering, 0, 2);
  tcase_add_test(psk, unknown_psk_identity_fails_the_server_with_its_own_error);
  tcase_add_test(psk, wrong_psk_times_out_and_says_why);
  suite_add_tcase(s, psk);

  TCase *rec = tcase_create("records");
  tcase_add_test(rec, ccm8_record_with_a_bad_tag_is_dropped_and_counted);
  tcase_add_loop_test(rec, ccm8_at_the_smallest_mtu, 0, 2);
  tcase_add_test(rec, ecdhe_ecdsa_ccm8_on_p256_with_fingerprints);
  tcase_add_test(rec, plain_dtls_without_any_authenticator_holds_then_times_out);
  tcase_add_loop_test(rec, use_srtp_mismatch_fails_the_webrtc_side, 0, 2);
  suite_add_tcase(s, rec);

  TCase *timer = tcase_create("timer");
  tcase_add_test(timer, slow_link_timer_follows_rfc7925_schedule);
  tcase_add_test(timer, slow_link_timer_connects_through_heavy_loss);
  suite_add_tcase(s, timer);

  TCase *ca = tcase_create("ca");
  tcase_add_loop_test(ca, ca_and_name_authenticate_the_server, 0, 4);
  tcase_add_loop_test(ca, server_refused_before_any_data_when_the_ca_or_name_is_wrong, 0, 6);
  tcase_add_loop_test(ca, server_verifies_clients_against_a_ca, 0, 2);
  tcase_add_test(ca, configuration_errors_are_refused);
  suite_add_tcase(s, ca);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
