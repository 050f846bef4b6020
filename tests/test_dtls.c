/* The DTLS association: handshakes, identity, use_srtp, keys, loss, MTU,
 * timers. Driven sans-IO through the in-memory link with a fake clock that
 * OpenSSL's own timer follows (support/fakeclock.c). */
#include <check.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls_bio.h"
#include "dtls_internal.h"
#include "dtls_pair.h"
#include "fakeclock.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"

/* ---- handshakes ------------------------------------------------------------ */

static const rtcsec_srtp_profile all_profiles[] = {
    RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_80,
    RTCSEC_SRTP_AES128_CM_SHA1_32};

START_TEST(handshake_connects_for_each_profile_and_key_type) {
  /* _i: profile (4) x client key type (2) x server key type (2) */
  rtcsec_srtp_profile prof = all_profiles[_i % 4];
  pair_opts o;
  default_opts(&o);
  o.key[0] = (_i / 4) % 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256;
  o.key[1] = (_i / 8) % 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256;
  o.profiles[0] = o.profiles[1] = &prof;
  o.n_profiles[0] = o.n_profiles[1] = 1;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 1);
    ck_assert_int_eq(pr.p[i].failed, 0);
    ck_assert_int_eq(pr.p[i].info.profile, prof);
    ck_assert_str_eq(pr.p[i].info.version, "DTLSv1.2");
    ck_assert_ptr_nonnull(strstr(pr.p[i].info.cipher, "ECDHE"));
    ck_assert_ptr_nonnull(strstr(pr.p[i].info.cipher, "GCM"));
    rtcsec_fingerprint want = fp_of(pr.p[1 - i].cert, RTCSEC_HASH_SHA256);
    ck_assert(rtcsec_fingerprint_equal(&pr.p[i].info.peer_fingerprint, &want));
    ck_assert_int_eq(rtcsec_dtls_get_state(pr.p[i].d), RTCSEC_DTLS_STATE_CONNECTED);
  }
  assert_keys_match(&pr);
  ck_assert_uint_eq(pr.p[0].keys.key_len, rtcsec_srtp_profile_key_len(prof));
  ck_assert_int_eq(pr.bad_boundaries, 0);
  pair_free(&pr);
}
END_TEST

START_TEST(default_profiles_prefer_aead_and_server_order_decides) {
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].info.profile, RTCSEC_SRTP_AEAD_AES_128_GCM);
  pair_free(&pr);

  /* Client prefers CM_80, server prefers 256-GCM: the server's order wins. */
  static const rtcsec_srtp_profile cpref[] = {RTCSEC_SRTP_AES128_CM_SHA1_80,
                                              RTCSEC_SRTP_AEAD_AES_256_GCM};
  static const rtcsec_srtp_profile spref[] = {RTCSEC_SRTP_AEAD_AES_256_GCM,
                                              RTCSEC_SRTP_AES128_CM_SHA1_80};
  default_opts(&o);
  o.profiles[0] = cpref;
  o.profiles[1] = spref;
  o.n_profiles[0] = o.n_profiles[1] = 2;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].info.profile, RTCSEC_SRTP_AEAD_AES_256_GCM);
  ck_assert_int_eq(pr.p[1].info.profile, RTCSEC_SRTP_AEAD_AES_256_GCM);
  pair_free(&pr);
}
END_TEST

START_TEST(any_signalled_hash_function_authenticates_the_peer) {
  static const rtcsec_hash hashes[] = {RTCSEC_HASH_SHA1, RTCSEC_HASH_SHA224, RTCSEC_HASH_SHA256,
                                       RTCSEC_HASH_SHA384, RTCSEC_HASH_SHA512};
  pair_opts o;
  default_opts(&o);
  o.fp_known[0] = o.fp_known[1] = 0;
  pair pr;
  pair_init(&pr, &o);
  /* a wrong fingerprint first, then the right one with another hash */
  rtcsec_fingerprint bad = wrong_fp();
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[i].d, &bad, 1, 0), 0);
    rtcsec_fingerprint fp = fp_of(pr.p[1 - i].cert, hashes[_i]);
    ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[i].d, &fp, 1, 0), 0);
  }
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 1);
    ck_assert_int_eq(pr.p[i].info.peer_fingerprint.hash, hashes[_i]);
  }
  pair_free(&pr);
}
END_TEST

START_TEST(clean_path_needs_no_retransmission) {
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_stats st;
    ck_assert_int_eq(rtcsec_dtls_get_stats(pr.p[i].d, &st), 0);
    ck_assert_uint_eq(st.retransmissions, 0);
    ck_assert_uint_gt(st.handshake_us, 0);
    ck_assert_uint_gt(st.datagrams_sent, 0);
    ck_assert_uint_gt(st.datagrams_received, 0);
  }
  /* 4 flights at 10 ms one-way delay: the client is done after 2 round
   * trips, the server half a round trip earlier... within 50 ms either way. */
  ck_assert_uint_le(pr.now, 50 * MS);
  pair_free(&pr);
}
END_TEST

/* ---- identity ----------------------------------------------------------------- */

/* The side that detects the problem (verifier) fails at once with err and
 * sends a fatal alert. That alert is a plaintext (epoch 0) record: anyone
 * could have forged it, so the other side does not act on it (issue 11,
 * docs/bad-input.md); it counts it, fails when the handshake times out, and
 * names the alert in its detail. */
static void check_failed_pair(pair *pr, int verifier, int err) {
  peer *v = &pr->p[verifier], *o = &pr->p[1 - verifier];
  ck_assert_int_eq(v->failed, 1);
  ck_assert_int_eq(v->connected, 0);
  ck_assert_int_eq(v->error, err);
  ck_assert_int_eq(rtcsec_dtls_error(v->d), err);
  ck_assert_int_ge(v->alert, 0); /* an alert went out */
  ck_assert_int_eq(v->alert_from_peer, 0);
  ck_assert_int_eq(o->failed, 1);
  ck_assert_int_eq(o->connected, 0);
  ck_assert_int_eq(o->error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  ck_assert_int_eq(o->alert_from_peer, 0); /* nothing authenticated came from the peer */
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(o->d, &st), 0);
  ck_assert_uint_ge(st.unauthenticated_alerts, 1);
  ck_assert_msg(strstr(rtcsec_dtls_error_detail(o->d), rtcsec_dtls_alert_name(v->alert)) != NULL,
                "detail \"%s\" does not name the alert %s", rtcsec_dtls_error_detail(o->d),
                rtcsec_dtls_alert_name(v->alert));
  /* sticky: the failed association refuses further work with its error */
  uint8_t junk[20] = {22, 0xfe, 0xfd};
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(v->d, junk, sizeof(junk), pr->now), err);
  ck_assert_int_eq(rtcsec_dtls_send_data(v->d, junk, 4, pr->now), err);
}

START_TEST(handshake_fails_on_fingerprint_mismatch) {
  /* _i = 0: the server expects a wrong client fingerprint; 1: the client. */
  int verifier = _i == 0 ? 1 : 0;
  pair_opts o;
  default_opts(&o);
  o.fp_wrong[verifier] = 1;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 40 * SEC), HARNESS_STOPPED);
  check_failed_pair(&pr, verifier, RTCSEC_ERR_FINGERPRINT_MISMATCH);
  ck_assert_int_eq(pr.p[verifier].alert, 42); /* bad_certificate */
  ck_assert_str_eq(rtcsec_dtls_alert_name(pr.p[verifier].alert), "bad_certificate");
  ck_assert_str_eq(rtcsec_dtls_alert_name(-1), "unknown");
  pair_free(&pr);
}
END_TEST

START_TEST(handshake_times_out_when_no_fingerprint_is_ever_set) {
  pair_opts o;
  default_opts(&o);
  o.fp_known[_i] = 0;
  o.handshake_timeout_us = 5 * SEC;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 0);
    ck_assert_int_eq(pr.p[i].failed, 1);
    ck_assert_int_eq(pr.p[i].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  }
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[_i].d, &st);
  ck_assert_uint_gt(st.datagrams_held, 0);
  ck_assert_uint_eq(pr.now, 5 * SEC);
  pair_free(&pr);
}
END_TEST

static void run_late_fingerprint(int waiter, int right) {
  pair_opts o;
  default_opts(&o);
  o.fp_known[waiter] = 0;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  /* Let the handshake go as far as it can: the waiter holds the peer's
   * certificate flight; nobody connects, no key exists. */
  ck_assert_int_eq(pair_run(&pr, 2 * SEC), HARNESS_TIME_LIMIT);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].connected, 0);
    ck_assert_int_eq(pr.p[i].failed, 0);
  }
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[waiter].d, &st);
  ck_assert_int_eq(st.awaiting_fingerprint, 1);
  ck_assert_uint_gt(st.datagrams_held, 0);
  if (waiter == 1) /* RFC 5763 §5: a server answers the ClientHello meanwhile */
    ck_assert_uint_gt(st.datagrams_sent, 0);
  rtcsec_fingerprint fp = right ? fp_of(pr.p[1 - waiter].cert, RTCSEC_HASH_SHA256) : wrong_fp();
  fakeclock_set(pr.now);
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[waiter].d, &fp, 1, pr.now),
                   right ? 0 : RTCSEC_ERR_FINGERPRINT_MISMATCH);
  ck_assert_int_eq(pair_run(&pr, 40 * SEC), HARNESS_STOPPED);
  if (right) {
    ck_assert_int_eq(pr.p[0].connected, 1);
    ck_assert_int_eq(pr.p[1].connected, 1);
    assert_keys_match(&pr);
  } else {
    check_failed_pair(&pr, waiter, RTCSEC_ERR_FINGERPRINT_MISMATCH);
  }
  pair_free(&pr);
}

START_TEST(late_fingerprint_holds_the_handshake_then_connects) { run_late_fingerprint(_i, 1); }
END_TEST

START_TEST(late_wrong_fingerprint_fails_both_sides) { run_late_fingerprint(_i, 0); }
END_TEST

START_TEST(late_fingerprint_set_is_checked_as_a_whole) {
  /* An SDP with two a=fingerprint lines, the matching one second, arrives
   * while the handshake is held: given in one call, any of them matches. */
  int waiter = _i;
  pair_opts o;
  default_opts(&o);
  o.fp_known[waiter] = 0;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 1 * SEC), HARNESS_TIME_LIMIT);
  rtcsec_fingerprint set[2] = {wrong_fp(), fp_of(pr.p[1 - waiter].cert, RTCSEC_HASH_SHA384)};
  fakeclock_set(pr.now);
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[waiter].d, set, 2, pr.now), 0);
  ck_assert_int_eq(pair_run(&pr, 40 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  ck_assert_int_eq(pr.p[waiter].info.peer_fingerprint.hash, RTCSEC_HASH_SHA384);
  assert_keys_match(&pr);
  /* nothing more once connected; bad sets are refused whole */
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[waiter].d, set, 2, pr.now),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(pr.p[waiter].d, set, 0, pr.now),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  pair_free(&pr);
}
END_TEST

/* ---- use_srtp ---------------------------------------------------------------- */

START_TEST(handshake_fails_without_a_common_profile) {
  static const rtcsec_srtp_profile c[] = {RTCSEC_SRTP_AES128_CM_SHA1_80};
  static const rtcsec_srtp_profile s[] = {RTCSEC_SRTP_AEAD_AES_128_GCM};
  pair_opts o;
  default_opts(&o);
  o.profiles[0] = c;
  o.profiles[1] = s;
  o.n_profiles[0] = o.n_profiles[1] = 1;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 40 * SEC), HARNESS_STOPPED);
  check_failed_pair(&pr, 1, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE);
  ck_assert_int_eq(pr.p[1].alert, 40); /* handshake_failure */
  pair_free(&pr);
}
END_TEST

/* A plain OpenSSL DTLS 1.2 peer (no use_srtp unless asked, optional
 * certificate), driven through the same datagram BIO and fake clock. */
typedef struct raw_peer {
  SSL_CTX *ctx;
  SSL *ssl;
  rtcsec_dgram_io io;
  rtcsec_dgram_queue out;
  rtcsec_cert *cert;
  int done;
  int failed;
} raw_peer;

static int raw_accept_any(X509_STORE_CTX *x, void *arg) {
  (void)x;
  (void)arg;
  return 1;
}

static void raw_init(raw_peer *r, int client, int with_cert, const char *srtp) {
  memset(r, 0, sizeof(*r));
  r->ctx = SSL_CTX_new(DTLS_method());
  ck_assert_ptr_nonnull(r->ctx);
  SSL_CTX_set_min_proto_version(r->ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(r->ctx, DTLS1_2_VERSION);
  r->cert = make_cert(RTCSEC_KEY_ECDSA_P256);
  if (with_cert) {
    ck_assert_int_eq(SSL_CTX_use_certificate(r->ctx, rtcsec_cert_x509(r->cert)), 1);
    ck_assert_int_eq(SSL_CTX_use_PrivateKey(r->ctx, rtcsec_cert_pkey(r->cert)), 1);
  }
  SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_cert_verify_callback(r->ctx, raw_accept_any, NULL);
  SSL_CTX_set_options(r->ctx, SSL_OP_NO_QUERY_MTU);
  r->ssl = SSL_new(r->ctx);
  r->io.mtu = 1200;
  rtcsec_dgram_queue_init(&r->out, 4096);
  r->io.out = &r->out;
  BIO *b = rtcsec_dgram_bio_new(&r->io);
  SSL_set_bio(r->ssl, b, b);
  SSL_set_mtu(r->ssl, 1200);
  if (srtp)
    ck_assert_int_eq(SSL_set_tlsext_use_srtp(r->ssl, srtp), 0);
  if (client)
    SSL_set_connect_state(r->ssl);
  else
    SSL_set_accept_state(r->ssl);
}

static void raw_drive(raw_peer *r) {
  if (r->done || r->failed)
    return;
  ERR_clear_error();
  int rc = SSL_do_handshake(r->ssl);
  if (rc == 1) {
    r->done = 1;
  } else {
    int e = SSL_get_error(r->ssl, rc);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      r->failed = 1;
  }
  r->io.in = NULL;
  ERR_clear_error();
}

static int raw_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  (void)now;
  raw_peer *r = o;
  r->io.in = d;
  r->io.in_len = n;
  raw_drive(r);
  return 0;
}

static int raw_to(void *o, uint64_t now) {
  (void)now;
  raw_peer *r = o;
  if (!r->done && !r->failed && DTLSv1_handle_timeout(r->ssl) < 0)
    r->failed = 1;
  return 0;
}

static uint64_t raw_now;

static uint64_t raw_dl(void *o) {
  raw_peer *r = o;
  struct timeval tv;
  if (r->done || r->failed || DTLSv1_get_timeout(r->ssl, &tv) != 1)
    return UINT64_MAX;
  return raw_now + (uint64_t)tv.tv_sec * SEC + (uint64_t)tv.tv_usec;
}

static int raw_out(void *o, uint8_t *b, size_t c, size_t *n) {
  raw_peer *r = o;
  rtcsec_dgram g;
  *n = 0;
  if (!rtcsec_dgram_queue_pop(&r->out, &g))
    return 0;
  ck_assert_uint_le(g.len, c);
  memcpy(b, g.data, g.len);
  *n = g.len;
  free(g.data);
  return 0;
}

static void raw_free(raw_peer *r) {
  SSL_free(r->ssl);
  SSL_CTX_free(r->ctx);
  rtcsec_dgram_queue_clear(&r->out);
  rtcsec_cert_free(r->cert);
}

typedef struct raw_run {
  peer *p;
  raw_peer *r;
} raw_run;

static int raw_step(void *user, uint64_t now) {
  raw_run *rr = user;
  raw_now = now;
  peer_poll(rr->p, now);
  return peer_done(rr->p) && (rr->r->done || rr->r->failed);
}

/* Runs rtcsec (role) against a raw OpenSSL peer; returns rtcsec's peer. */
static void run_against_raw(int rtcsec_client, int raw_cert, const char *raw_srtp, peer *p,
                            raw_peer *r) {
  memset(p, 0, sizeof(*p));
  raw_init(r, !rtcsec_client, raw_cert, raw_srtp);
  p->cert = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = rtcsec_client ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
  cfg.cert = p->cert;
  rtcsec_fingerprint fp = fp_of(r->cert, RTCSEC_HASH_SHA256);
  cfg.peer_fingerprints = &fp;
  cfg.n_peer_fingerprints = 1;
  ck_assert_int_eq(rtcsec_dtls_new(&p->d, &cfg), 0);
  link_config lc = {0};
  sim_link *l = link_new(&lc);
  harness_endpoint ep[2];
  raw_now = 0;
  fakeclock_set(0);
  int me = rtcsec_client ? 0 : 1;
  ep[me] = harness_dtls_endpoint(p->d);
  ep[1 - me] = (harness_endpoint){r, raw_in, raw_to, raw_dl, raw_out};
  if (rtcsec_client)
    ck_assert_int_eq(rtcsec_dtls_start(p->d, 0), 0);
  else
    raw_drive(r);
  raw_run rr = {p, r};
  harness_hooks hooks = {raw_step, NULL, &rr};
  uint64_t now = 0;
  ck_assert_int_eq(harness_run(ep, l, &now, 40 * SEC, &hooks), HARNESS_STOPPED);
  link_free(l);
}

START_TEST(client_fails_when_server_ignores_use_srtp) {
  peer p;
  raw_peer r;
  run_against_raw(1, 1, NULL, &p, &r);
  ck_assert_int_eq(p.failed, 1);
  ck_assert_int_eq(p.connected, 0);
  ck_assert_int_eq(p.error, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
  ck_assert_int_eq(p.alert, 40);
  ck_assert_int_eq(r.done, 0); /* the raw server saw the alert, not a finished handshake */
  ck_assert_int_eq(r.failed, 1);
  rtcsec_dtls_free(p.d);
  rtcsec_cert_free(p.cert);
  raw_free(&r);
}
END_TEST

START_TEST(server_fails_when_client_offers_no_use_srtp) {
  peer p;
  raw_peer r;
  run_against_raw(0, 1, NULL, &p, &r);
  ck_assert_int_eq(p.failed, 1);
  ck_assert_int_eq(p.error, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
  ck_assert_int_eq(p.alert, 40);
  ck_assert_int_eq(r.failed, 1);
  rtcsec_dtls_free(p.d);
  rtcsec_cert_free(p.cert);
  raw_free(&r);
}
END_TEST

START_TEST(server_fails_when_client_sends_no_certificate) {
  peer p;
  raw_peer r;
  run_against_raw(0, 0, "SRTP_AEAD_AES_128_GCM", &p, &r);
  ck_assert_int_eq(p.failed, 1);
  ck_assert_int_eq(p.connected, 0);
  ck_assert_int_eq(p.error, RTCSEC_ERR_NO_PEER_CERTIFICATE);
  ck_assert_int_ge(p.alert, 0);
  ck_assert_int_eq(r.failed, 1);
  rtcsec_dtls_free(p.d);
  rtcsec_cert_free(p.cert);
  raw_free(&r);
}
END_TEST

START_TEST(raw_openssl_peer_with_use_srtp_interoperates) {
  peer p;
  raw_peer r;
  run_against_raw(_i, 1, "SRTP_AES128_CM_SHA1_32:SRTP_AES128_CM_SHA1_80", &p, &r);
  ck_assert_int_eq(p.connected, 1);
  ck_assert_int_eq(r.done, 1);
  /* our keys equal what OpenSSL exports on the other side */
  uint8_t mat[60];
  ck_assert_int_eq(
      SSL_export_keying_material(r.ssl, mat, 60, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
  ck_assert_uint_eq(p.keys.material_len, 60);
  ck_assert_mem_eq(mat, p.keys.material, 60);
  rtcsec_srtp_keys_wipe(&p.keys);
  rtcsec_dtls_free(p.d);
  rtcsec_cert_free(p.cert);
  raw_free(&r);
}
END_TEST

/* ---- loss, MTU, timers -------------------------------------------------------- */

START_TEST(every_datagram_fits_the_mtu) {
  static const size_t mtus[] = {300, 576, 1200, 1500};
  pair_opts o;
  default_opts(&o);
  o.mtu = mtus[_i % 4];
  o.key[0] = o.key[1] = _i >= 4 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256;
  o.link.max_len = o.mtu; /* anything larger would be lost */
  o.link.seed = 7;
  o.link.loss = 0.1;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  ck_assert_uint_le(pr.max_seen, o.mtu);
  ck_assert_int_eq(pr.bad_boundaries, 0);
  /* application data too: the largest that fits is accepted, one more
   * byte is refused rather than sent as an oversized datagram */
  uint8_t big[1500] = {0};
  size_t fit = 0;
  for (size_t n = 1; n <= o.mtu; n++) {
    if (rtcsec_dtls_send_data(pr.p[0].d, big, n, pr.now) == 0)
      fit = n;
    else
      break;
  }
  ck_assert_uint_gt(fit, o.mtu - 64);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr.p[0].d, big, fit + 1, pr.now), RTCSEC_ERR_TOO_LARGE);
  uint8_t buf[2000];
  size_t n;
  while (rtcsec_dtls_poll_datagram(pr.p[0].d, buf, sizeof(buf), &n) == 0 && n > 0)
    ck_assert_uint_le(n, o.mtu);
  pair_free(&pr);
}
END_TEST

static int drop_all(void *u, int from, uint64_t idx, const uint8_t *d, size_t n) {
  (void)u;
  (void)from;
  (void)idx;
  (void)d;
  (void)n;
  return 1;
}

START_TEST(total_loss_follows_the_retransmission_schedule_then_fails) {
  /* _i = 0: handshake timeout 10 s ends it; 1: OpenSSL's limit of 12
   * retransmissions of one flight ends it first (default 30 s timeout). */
  pair_opts o;
  default_opts(&o);
  o.handshake_timeout_us = _i == 0 ? 10 * SEC : 30 * SEC;
  o.link.drop = drop_all;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 100 * SEC), HARNESS_STOPPED);
  /* Expected schedule from the configured timer, computed independently:
   * 100 ms doubling to a 3 s cap. */
  uint64_t expect[16], t = 0, rto = 100 * MS;
  size_t n = 0;
  expect[n++] = 0;
  for (;;) {
    t += rto;
    rto = rto * 2 > 3 * SEC ? 3 * SEC : rto * 2;
    if (t >= o.handshake_timeout_us || n == 13)
      break;
    expect[n++] = t;
  }
  uint64_t end = n == 13 ? t : o.handshake_timeout_us;
  ck_assert_uint_eq(pr.n_send_times, n);
  for (size_t i = 0; i < n; i++)
    ck_assert_uint_eq(pr.send_times[i], expect[i]);
  rtcsec_dtls_stats st;
  rtcsec_dtls_get_stats(pr.p[0].d, &st);
  ck_assert_uint_eq(st.retransmissions, n - 1);
  ck_assert_int_eq(pr.p[0].failed, 1);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  ck_assert_uint_eq(pr.p[0].connected_at, 0);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr.p[0].d), RTCSEC_DTLS_STATE_FAILED);
  /* the server never heard anything: it is still waiting, and is ended by
   * its own handshake timeout, which started when it was started */
  ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  printf("100%% loss, timeout %.0f s: %zu retransmissions, failed at %.1f s\n",
         o.handshake_timeout_us / 1e6, n - 1, end / 1e6);
  ck_assert_uint_le(end, pr.now);
  pair_free(&pr);
}
END_TEST

/* ---- after the handshake ---------------------------------------------------------- */

static pair *connected_pair(void) {
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

START_TEST(application_data_flows_both_ways_and_close_is_reported) {
  pair *pr = connected_pair();
  static const uint8_t hello[] = "sctp packet one";
  static const uint8_t back[] = "and one back";
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, hello, sizeof(hello), pr->now), 0);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[1].d, back, sizeof(back), pr->now), 0);
  pair_settle(pr);
  ck_assert_int_eq(pr->p[1].n_data, 1);
  ck_assert_uint_eq(pr->p[1].data_len, sizeof(hello));
  ck_assert_mem_eq(pr->p[1].data, hello, sizeof(hello));
  ck_assert_int_eq(pr->p[0].n_data, 1);
  ck_assert_mem_eq(pr->p[0].data, back, sizeof(back));
  /* empty and NULL sends are refused */
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, hello, 0, pr->now),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dtls_close(pr->p[0].d, pr->now), 0);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[0].d), RTCSEC_DTLS_STATE_CLOSED);
  pair_settle(pr);
  ck_assert_int_eq(pr->p[1].closed, 1);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[1].d), RTCSEC_DTLS_STATE_CLOSED);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, hello, 4, pr->now), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[1].d, hello, 4, pr->now), RTCSEC_ERR_INVALID_STATE);
  pair_free(pr);
  free(pr);
}
END_TEST

START_TEST(garbage_datagrams_are_dropped_without_harm) {
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  uint64_t rng = 99;
  /* random bytes that look like DTLS (first byte 20..63) to both sides,
   * before, during and after the handshake */
  for (int round = 0; round < 3; round++) {
    for (int k = 0; k < 50; k++) {
      uint8_t junk[300];
      size_t len = 1 + test_rand_next(&rng) % sizeof(junk);
      for (size_t i = 0; i < len; i++)
        junk[i] = (uint8_t)test_rand_next(&rng);
      junk[0] = (uint8_t)(20 + junk[0] % 44);
      if (len > 2) {
        junk[1] = 0xfe;
        junk[2] = 0xfd;
      }
      for (int i = 0; i < 2; i++)
        ck_assert_int_eq(rtcsec_dtls_handle_datagram(pr.p[i].d, junk, len, pr.now), 0);
    }
    if (round == 0)
      ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  }
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  static const uint8_t msg[] = "still fine";
  ck_assert_int_eq(rtcsec_dtls_send_data(pr.p[0].d, msg, sizeof(msg), pr.now), 0);
  pair_settle(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 1);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr.p[1].d), RTCSEC_DTLS_STATE_CONNECTED);
  pair_free(&pr);
}
END_TEST

START_TEST(send_fails_closed_before_the_record_sequence_wraps) {
  pair *pr = connected_pair();
  rtcsec_dtls_test_set_records_sent(pr->p[0].d, (UINT64_C(1) << 48) - 17);
  static const uint8_t msg[] = "x";
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, msg, 1, pr->now), 0);
  ck_assert_int_eq(rtcsec_dtls_send_data(pr->p[0].d, msg, 1, pr->now), RTCSEC_ERR_KEY_EXHAUSTED);
  ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[0].d), RTCSEC_DTLS_STATE_FAILED);
  ck_assert_int_eq(rtcsec_dtls_error(pr->p[0].d), RTCSEC_ERR_KEY_EXHAUSTED);
  pair_free(pr);
  free(pr);
}
END_TEST

static int keylog_lines;
static void count_keylog(void *user, const char *line) {
  (void)user;
  ck_assert_int_eq(strncmp(line, "CLIENT_RANDOM ", 14), 0);
  /* label, 32-byte random, 48-byte master secret in hex */
  ck_assert_uint_eq(strlen(line), 14 + 64 + 1 + 96);
  keylog_lines++;
}

START_TEST(keylog_callback_gets_nss_key_log_lines) {
  rtcsec_cert *c = make_cert(RTCSEC_KEY_ECDSA_P256), *s = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_dtls_config cc, sc;
  rtcsec_dtls_config_default(&cc);
  rtcsec_dtls_config_default(&sc);
  cc.role = RTCSEC_DTLS_CLIENT;
  cc.cert = c;
  sc.cert = s;
  rtcsec_fingerprint cfp = fp_of(s, RTCSEC_HASH_SHA256), sfp = fp_of(c, RTCSEC_HASH_SHA256);
  cc.peer_fingerprints = &cfp;
  cc.n_peer_fingerprints = 1;
  sc.peer_fingerprints = &sfp;
  sc.n_peer_fingerprints = 1;
  cc.keylog = count_keylog;
  pair pr = {0};
  ck_assert_int_eq(rtcsec_dtls_new(&pr.p[0].d, &cc), 0);
  ck_assert_int_eq(rtcsec_dtls_new(&pr.p[1].d, &sc), 0);
  pr.ep[0] = harness_dtls_endpoint(pr.p[0].d);
  pr.ep[1] = harness_dtls_endpoint(pr.p[1].d);
  link_config lc = {0};
  pr.link = link_new(&lc);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(keylog_lines, 1);
  pr.p[0].cert = c;
  pr.p[1].cert = s;
  pair_free(&pr);
}
END_TEST

START_TEST(config_and_state_errors_are_reported) {
  rtcsec_cert *c = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_dtls_config cfg;
  rtcsec_dtls *d = NULL;
  rtcsec_dtls_config_default(&cfg);
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), RTCSEC_ERR_INVALID_ARGUMENT); /* no cert */
  cfg.cert = c;
  cfg.mtu = 100;
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.mtu = 1200;
  cfg.n_profiles = 2;
  cfg.profiles[0] = cfg.profiles[1] = RTCSEC_SRTP_AES128_CM_SHA1_80;
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), RTCSEC_ERR_INVALID_ARGUMENT); /* duplicate */
  cfg.profiles[1] = (rtcsec_srtp_profile)5;                                 /* NULL cipher */
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.n_profiles = 0;
  cfg.rto_initial_us = 0;
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_dtls_config_default(&cfg);
  cfg.cert = c;
  cfg.role = RTCSEC_DTLS_CLIENT;
  fakeclock_set(0);
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), 0);
  uint8_t b[16] = {22};
  ck_assert_int_eq(rtcsec_dtls_handle_datagram(d, b, sizeof(b), 0), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dtls_send_data(d, b, 4, 0), RTCSEC_ERR_INVALID_STATE);
  ck_assert_uint_eq(rtcsec_dtls_deadline(d), UINT64_MAX);
  ck_assert_int_eq(rtcsec_dtls_start(d, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_start(d, 0), RTCSEC_ERR_INVALID_STATE);
  ck_assert_uint_eq(rtcsec_dtls_deadline(d), 100 * MS);
  /* a buffer too small keeps the datagram queued */
  size_t n = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(d, b, sizeof(b), &n), RTCSEC_ERR_BUFFER_TOO_SMALL);
  uint8_t big[1200];
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(d, big, sizeof(big), &n), 0);
  ck_assert_uint_gt(n, 100);
  ck_assert_uint_eq(big[0], 22);
  rtcsec_fingerprint bad = {.hash = RTCSEC_HASH_SHA256, .len = 20};
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(d, &bad, 1, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_fingerprint good = fp_of(c, RTCSEC_HASH_SHA1);
  for (int i = 0; i < RTCSEC_DTLS_MAX_FINGERPRINTS; i++)
    ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(d, &good, 1, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_add_peer_fingerprints(d, &good, 1, 0), RTCSEC_ERR_LIMIT);
  rtcsec_dtls_free(d);
  rtcsec_dtls_free(NULL);
  rtcsec_cert_free(c);
}
END_TEST

START_TEST(many_associations_share_one_certificate) {
  rtcsec_cert *a = make_cert(RTCSEC_KEY_ECDSA_P256), *b = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_fingerprint fa = fp_of(a, RTCSEC_HASH_SHA256), fb = fp_of(b, RTCSEC_HASH_SHA256);
  for (int k = 0; k < 20; k++) {
    pair pr = {0};
    rtcsec_dtls_config cc, sc;
    rtcsec_dtls_config_default(&cc);
    rtcsec_dtls_config_default(&sc);
    cc.role = RTCSEC_DTLS_CLIENT;
    cc.cert = a;
    cc.peer_fingerprints = &fb;
    cc.n_peer_fingerprints = 1;
    sc.cert = b;
    sc.peer_fingerprints = &fa;
    sc.n_peer_fingerprints = 1;
    ck_assert_int_eq(rtcsec_dtls_new(&pr.p[0].d, &cc), 0);
    ck_assert_int_eq(rtcsec_dtls_new(&pr.p[1].d, &sc), 0);
    pr.ep[0] = harness_dtls_endpoint(pr.p[0].d);
    pr.ep[1] = harness_dtls_endpoint(pr.p[1].d);
    link_config lc = {.seed = (uint64_t)k, .loss = 0.1};
    pr.link = link_new(&lc);
    pair_start(&pr);
    ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
    ck_assert_int_eq(pr.p[0].connected, 1);
    ck_assert_int_eq(pr.p[1].connected, 1);
    assert_keys_match(&pr);
    pair_free(&pr); /* frees certs NULL: ours are kept */
  }
  rtcsec_cert_free(a);
  rtcsec_cert_free(b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtls");
  TCase *hs = tcase_create("handshake");
  tcase_set_timeout(hs, 60); /* RSA key generation */
  tcase_add_loop_test(hs, handshake_connects_for_each_profile_and_key_type, 0, 16);
  tcase_add_test(hs, default_profiles_prefer_aead_and_server_order_decides);
  tcase_add_loop_test(hs, any_signalled_hash_function_authenticates_the_peer, 0, 5);
  tcase_add_test(hs, clean_path_needs_no_retransmission);
  tcase_add_test(hs, many_associations_share_one_certificate);
  suite_add_tcase(s, hs);

  TCase *id = tcase_create("identity");
  tcase_add_loop_test(id, handshake_fails_on_fingerprint_mismatch, 0, 2);
  tcase_add_loop_test(id, handshake_times_out_when_no_fingerprint_is_ever_set, 0, 2);
  tcase_add_loop_test(id, late_fingerprint_holds_the_handshake_then_connects, 0, 2);
  tcase_add_loop_test(id, late_wrong_fingerprint_fails_both_sides, 0, 2);
  tcase_add_loop_test(id, late_fingerprint_set_is_checked_as_a_whole, 0, 2);
  tcase_add_test(id, server_fails_when_client_sends_no_certificate);
  suite_add_tcase(s, id);

  TCase *srtp = tcase_create("use_srtp");
  tcase_add_test(srtp, handshake_fails_without_a_common_profile);
  tcase_add_test(srtp, client_fails_when_server_ignores_use_srtp);
  tcase_add_test(srtp, server_fails_when_client_offers_no_use_srtp);
  tcase_add_loop_test(srtp, raw_openssl_peer_with_use_srtp_interoperates, 0, 2);
  suite_add_tcase(s, srtp);

  TCase *net = tcase_create("network");
  tcase_set_timeout(net, 120); /* 100 % loss runs; slower under sanitizers */
  tcase_add_loop_test(net, every_datagram_fits_the_mtu, 0, 8);
  tcase_add_loop_test(net, total_loss_follows_the_retransmission_schedule_then_fails, 0, 2);
  suite_add_tcase(s, net);

  TCase *after = tcase_create("connected");
  tcase_add_test(after, application_data_flows_both_ways_and_close_is_reported);
  tcase_add_test(after, garbage_datagrams_are_dropped_without_harm);
  tcase_add_test(after, send_fails_closed_before_the_record_sequence_wraps);
  tcase_add_test(after, keylog_callback_gets_nss_key_log_lines);
  tcase_add_test(after, config_and_state_errors_are_reported);
  suite_add_tcase(s, after);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
