/* rtcsec's DTLS 1.3 server (lib/dtls13*.c, lib/client_hello.c): the key
 * schedule against RFC 8448, the record layer, the ClientHello collector and
 * parser, handshakes with the test client in memory on the fake clock,
 * impairment sweeps, and a named test for each kind of bad input. */
#include <check.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls13.h"
#include "dtls13_client.h"
#include "dtls13_conn.h"
#include "dtls13_keys.h"
#include "dtls13_msg.h"
#include "dtls13_pair.h"
#include "dtls13_record.h"
#include "dtls_client_hello.h"
#include "dtls_internal.h"
#include "fakeclock.h"
#include "harness.h"
#include "hybrid_kex.h"
#include "rtcsec/rtcsec.h"
#include "wire.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (*s) {
    if (*s == ' ' || *s == '\n') {
      s++;
      continue;
    }
    unsigned v;
    ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
    ck_assert_uint_lt(n, cap);
    out[n++] = (uint8_t)v;
    s += 2;
  }
  return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want_hex) {
  uint8_t want[512];
  size_t wn = unhex(want_hex, want, sizeof(want));
  ck_assert_uint_eq(n, wn);
  ck_assert_msg(memcmp(got, want, n) == 0, "value differs from %s", want_hex);
}

/* ---- RFC 8448 §3, "Simple 1-RTT Handshake", with the label prefix "tls13 " ---- */

static const char rfc8448_ch[] =
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302"
    "010000910000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102010301"
    "04"
    "00230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c00"
    "2b"
    "0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101"
    "00"
    "1c00024001";
static const char rfc8448_sh[] =
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e003300"
    "24001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
static const char rfc8448_ee[] =
    "080000240022000a00140012001d00170018001901000101010201030104001c0002"
    "400100000000";
static const char rfc8448_cert[] = "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092"
                                   "a864886f70d01010b0500300e310c300a"
                                   "06035504031303727361301e170d3136303733303031323335395a170d32363"
                                   "03733303031323335395a300e310c300a"
                                   "0603550403130372736130819f300d06092a864886f70d010101050003818d0"
                                   "030818902818100b4bb498f8279303d98"
                                   "0836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9"
                                   "a95137ace6c1af19eaa6af98c7ced4312"
                                   "0998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748"
                                   "030530ef0461c8ca9d9efbfae8ea6d1d0"
                                   "3e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301"
                                   "830090603551d1304023000300b060355"
                                   "1d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e"
                                   "5b9276b908c65f73a7267170618a54c5f"
                                   "8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21"
                                   "a03015156726096fd335e5e67f2dbf102"
                                   "702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e"
                                   "0a8b2f759409ba3eac9d91d402dcc0cc8"
                                   "f8961229ac9187b42b4de10000";
static const char rfc8448_cv[] =
    "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2"
    "d3"
    "3a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e4644"
    "5c"
    "9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3";
static const char rfc8448_sfin[] =
    "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718";
static const char rfc8448_cfin[] =
    "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";

/* Adds a whole handshake message (with its 4-byte header) to a transcript. */
static void tr_add_hex(rtcsec_transcript *t, const char *hexmsg, uint8_t *buf, size_t cap,
                       size_t *len) {
  size_t n = unhex(hexmsg, buf, cap);
  ck_assert_uint_ge(n, 4);
  ck_assert_uint_eq(get_uint(buf + 1, 3), n - 4);
  ck_assert_int_eq(rtcsec_transcript_add(t, buf[0], buf + 4, n - 4), 0);
  if (len)
    *len = n;
}

START_TEST(key_schedule_matches_rfc8448_simple_1rtt_with_tls13_prefix) {
  const EVP_MD *md = EVP_sha256();
  const char *P = RTCSEC_D13_PREFIX_TLS;
  uint8_t h[48], s[48], key[16], iv[12], msg[1024];
  size_t n;
  /* {client} and {server} x25519 keys; the shared secret. */
  uint8_t cpriv[32], spub[32], cpub[64];
  unhex("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005", cpriv, 32);
  unhex("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f", spub, 32);
  rtcsec_kex_client ck;
  size_t cl = 0;
  ck_assert_int_eq(
      rtcsec_kex_client_from_private(&ck, RTCSEC_GROUP_X25519, cpriv, 32, cpub, sizeof(cpub), &cl),
      0);
  assert_hex(cpub, cl, "99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c");
  uint8_t ecdhe[64];
  size_t el = 0;
  ck_assert_int_eq(rtcsec_kex_client_finish(&ck, spub, 32, ecdhe, sizeof(ecdhe), &el), 0);
  rtcsec_kex_client_clear(&ck);
  assert_hex(ecdhe, el, "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");

  rtcsec_key_schedule ks;
  ck_assert_int_eq(rtcsec_ks_init(&ks, md, P), 0);
  assert_hex(ks.secret, 32, "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a");
  uint8_t empty[32];
  unsigned int en = 0;
  ck_assert_int_eq(EVP_Digest("", 0, empty, &en, md, NULL), 1);
  ck_assert_int_eq(rtcsec_derive_secret(md, P, ks.secret, "derived", empty, s), 0);
  assert_hex(s, 32, "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba");
  ck_assert_int_eq(rtcsec_ks_handshake(&ks, ecdhe, el), 0);
  assert_hex(ks.secret, 32, "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac");

  rtcsec_transcript t;
  ck_assert_int_eq(rtcsec_transcript_init(&t, md), 0);
  tr_add_hex(&t, rfc8448_ch, msg, sizeof(msg), NULL);
  tr_add_hex(&t, rfc8448_sh, msg, sizeof(msg), NULL);
  ck_assert_int_eq(rtcsec_transcript_hash(&t, h), 0);
  uint8_t c_hs[32], s_hs[32];
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "c hs traffic", h, c_hs), 0);
  assert_hex(c_hs, 32, "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21");
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "s hs traffic", h, s_hs), 0);
  assert_hex(s_hs, 32, "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
  ck_assert_int_eq(rtcsec_derive_secret(md, P, ks.secret, "derived", empty, s), 0);
  assert_hex(s, 32, "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4");

  ck_assert_int_eq(rtcsec_traffic_keys(md, P, s_hs, 16, key, iv, NULL), 0);
  assert_hex(key, 16, "3fce516009c21727d0f2e4e86ee403bc");
  assert_hex(iv, 12, "5d313eb2671276ee13000b30");
  ck_assert_int_eq(rtcsec_traffic_keys(md, P, c_hs, 16, key, iv, NULL), 0);
  assert_hex(key, 16, "dbfaa693d1762c5b666af5d950258d01");
  assert_hex(iv, 12, "5bd3c71b836e0b76bb73265f");

  /* The server's CertificateVerify of the trace, checked with its RSA key:
   * the signed content (RFC 8446 §4.4.3) is built as in the trace. */
  tr_add_hex(&t, rfc8448_ee, msg, sizeof(msg), NULL);
  tr_add_hex(&t, rfc8448_cert, msg, sizeof(msg), &n);
  X509 *leaf = NULL;
  int alert = -1;
  ck_assert_int_eq(rtcsec_d13_read_certificate(msg + 4, n - 4, NULL, 0, &leaf, &alert), 0);
  ck_assert_ptr_nonnull(leaf);
  EVP_PKEY *rsa = X509_get_pubkey(leaf);
  X509_free(leaf);
  ck_assert_int_eq(rtcsec_transcript_hash(&t, h), 0);
  n = unhex(rfc8448_cv, msg, sizeof(msg));
  static const uint16_t pss256[] = {RTCSEC_SIG_RSA_PSS_RSAE_SHA256};
  ck_assert_int_eq(
      rtcsec_d13_check_certificate_verify(rsa, msg + 4, n - 4, 1, h, 32, pss256, 1, &alert), 0);
  /* ... and not as a client's, nor with another transcript. */
  ck_assert_int_ne(
      rtcsec_d13_check_certificate_verify(rsa, msg + 4, n - 4, 0, h, 32, pss256, 1, &alert), 0);
  ck_assert_int_eq(alert, RTCSEC_ALERT_DECRYPT_ERROR);
  EVP_PKEY_free(rsa);
  ck_assert_int_eq(rtcsec_transcript_add(&t, msg[0], msg + 4, n - 4), 0);

  ck_assert_int_eq(rtcsec_transcript_hash(&t, h), 0);
  ck_assert_int_eq(rtcsec_finished_mac(md, P, s_hs, h, s), 0);
  assert_hex(s, 32, "9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718");
  tr_add_hex(&t, rfc8448_sfin, msg, sizeof(msg), NULL);

  ck_assert_int_eq(rtcsec_ks_master(&ks), 0);
  assert_hex(ks.secret, 32, "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919");
  ck_assert_int_eq(rtcsec_transcript_hash(&t, h), 0);
  uint8_t c_ap[32], s_ap[32];
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "c ap traffic", h, c_ap), 0);
  assert_hex(c_ap, 32, "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5");
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "s ap traffic", h, s_ap), 0);
  assert_hex(s_ap, 32, "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "exp master", h, s), 0);
  assert_hex(s, 32, "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50");
  ck_assert_int_eq(rtcsec_traffic_keys(md, P, s_ap, 16, key, iv, NULL), 0);
  assert_hex(key, 16, "9f02283b6c9c07efc26bb9f2ac92e356");
  assert_hex(iv, 12, "cf782b88dd83549aadf1e984");
  ck_assert_int_eq(rtcsec_traffic_keys(md, P, c_ap, 16, key, iv, NULL), 0);
  assert_hex(key, 16, "17422dda596ed5d9acd890e3c63f5051");
  assert_hex(iv, 12, "5b78923dee08579033e523d9");

  /* The client's Finished, then the resumption master secret over the
   * whole transcript. */
  ck_assert_int_eq(rtcsec_finished_mac(md, P, c_hs, h, s), 0);
  assert_hex(s, 32, "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61");
  n = unhex(rfc8448_cfin, msg, sizeof(msg));
  ck_assert(rtcsec_d13_finished_equal(msg + 4, n - 4, s, 32));
  msg[10] ^= 1;
  ck_assert(!rtcsec_d13_finished_equal(msg + 4, n - 4, s, 32));
  ck_assert(!rtcsec_d13_finished_equal(msg + 4, n - 5, s, 32));
  msg[10] ^= 1;
  ck_assert_int_eq(rtcsec_transcript_add(&t, msg[0], msg + 4, n - 4), 0);
  ck_assert_int_eq(rtcsec_transcript_hash(&t, h), 0);
  ck_assert_int_eq(rtcsec_ks_derive(&ks, "res master", h, s), 0);
  assert_hex(s, 32, "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c");
  rtcsec_transcript_free(&t);
  rtcsec_ks_wipe(&ks);
}
END_TEST

START_TEST(dtls_label_prefix_changes_every_secret) {
  /* RFC 9147 §5.9: "dtls13" without a trailing space: the same inputs give
   * other secrets than "tls13 " (and the HkdfLabel is one byte shorter). */
  const EVP_MD *md = EVP_sha256();
  rtcsec_key_schedule a, b;
  ck_assert_int_eq(rtcsec_ks_init(&a, md, RTCSEC_D13_PREFIX_TLS), 0);
  ck_assert_int_eq(rtcsec_ks_init(&b, md, RTCSEC_D13_PREFIX_DTLS), 0);
  /* The Early Secret is an HKDF-Extract: no label involved. */
  ck_assert_mem_eq(a.secret, b.secret, 32);
  uint8_t z[32] = {0}, x[32], y[32];
  ck_assert_int_eq(rtcsec_ks_handshake(&a, z, 32), 0);
  ck_assert_int_eq(rtcsec_ks_handshake(&b, z, 32), 0);
  ck_assert(memcmp(a.secret, b.secret, 32) != 0);
  ck_assert_int_eq(rtcsec_hkdf_expand_label(md, "dtls13", a.secret, "c hs traffic", z, 32, x, 32),
                   0);
  ck_assert_int_eq(rtcsec_hkdf_expand_label(md, "tls13 ", a.secret, "c hs traffic", z, 32, y, 32),
                   0);
  ck_assert(memcmp(x, y, 32) != 0);
}
END_TEST

/* ---- handshakes in memory ----------------------------------------------------------- */

START_TEST(clean_handshake_exports_equal_srtp_keys) {
  d13_opts o;
  d13_default_opts(&o);
  d13_pair pr;
  d13_pair_init(&pr, &o);
  harness_end he = d13_pair_run(&pr, 10 * SEC);
  ck_assert_int_eq(he, HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].failed, 0);
  ck_assert_int_eq(pr.p[1].failed, 0);
  d13_assert_keys_match(&pr);
  ck_assert_str_eq(pr.p[1].info.version, "DTLSv1.3");
  ck_assert_str_eq(pr.p[1].info.cipher, "TLS_AES_128_GCM_SHA256");
  ck_assert_str_eq(rtcsec_dtls13_group_name(pr.server.e), "x25519");
  /* The server's preference (AEAD_AES_128_GCM first) among Chromium's. */
  ck_assert_int_eq(pr.p[1].info.profile, RTCSEC_SRTP_AEAD_AES_128_GCM);
  ck_assert_int_eq(pr.server.verify_calls, 1);
  ck_assert_int_eq(rtcsec_dtls13_used_hrr(pr.server.e), 0);
  ck_assert_int_eq(pr.bad_boundaries, 0);
  /* 1-RTT: client hello, server flight, client flight, ACK. */
  ck_assert_uint_eq(pr.sends[0], 2);
  ck_assert_uint_eq(pr.sends[1], 2);
  d13_pair_free(&pr);
}
END_TEST

/* ---- helpers --------------------------------------------------------------------------- */

/* Certificates shared by the tests that make many handshakes. */
static rtcsec_cert *shared_cert[2][2]; /* [key type][side] */

static rtcsec_cert *shared(rtcsec_key_type kt, int side) {
  if (shared_cert[kt][side] == NULL)
    shared_cert[kt][side] = make_cert(kt);
  return shared_cert[kt][side];
}

static void opts_shared(d13_opts *o, rtcsec_key_type client, rtcsec_key_type server) {
  d13_default_opts(o);
  o->certs[0] = shared(client, 0);
  o->certs[1] = shared(server, 1);
}

static void expect_connected(d13_pair *pr) {
  ck_assert_msg(pr->p[0].connected == 1 && pr->p[1].connected == 1,
                "client connected %d failed %d (err %d alert %d), server connected %d failed %d "
                "(err %d alert %d, parse %d)",
                pr->p[0].connected, pr->p[0].failed, pr->p[0].error, pr->p[0].alert,
                pr->p[1].connected, pr->p[1].failed, pr->p[1].error, pr->p[1].alert,
                pr->server.parse_rc);
  ck_assert_int_eq(pr->p[0].failed, 0);
  ck_assert_int_eq(pr->p[1].failed, 0);
  d13_assert_keys_match(pr);
  ck_assert_int_eq(pr->bad_boundaries, 0);
}

static void run_connected(d13_pair *pr, const d13_opts *o) {
  d13_pair_init(pr, o);
  ck_assert_int_eq(d13_pair_run(pr, 60 * SEC), HARNESS_STOPPED);
  expect_connected(pr);
}

static int keep_going(void *user, uint64_t now) {
  d13_pair *pr = user;
  pr->now = now;
  d13_peer_poll_client(pr);
  d13_peer_poll_server(pr);
  return 0;
}

/* Runs until nothing is in flight and no timer is set (or 60 s more). */
static void deliver_all(d13_pair *pr) {
  harness_hooks hooks = {keep_going, NULL, pr};
  harness_run(pr->ep, pr->link, &pr->now, pr->now + 60 * SEC, &hooks);
  d13_peer_poll_client(pr);
  d13_peer_poll_server(pr);
}

/* The server's sticky error: the engine's, or the association's. */
static int server_error(const d13_pair *pr) {
  return pr->assoc ? rtcsec_dtls_error(pr->p[1].d) : rtcsec_dtls13_error(pr->server.e);
}

/* Fail closed: a failed server holds no record key and no secret. */
static int server_secrets_wiped(const d13_pair *pr) {
  return pr->assoc ? rtcsec_dtls_test_secrets_wiped(pr->p[1].d)
                   : rtcsec_dtls13_secrets_wiped(pr->server.e);
}

/* The server refused the ClientHello: FAILED with `error`, and the one
 * datagram it sent is a plaintext fatal alert `alert`. The client (which
 * must not trust a plaintext alert) gives up on its own time. */
static void expect_client_hello_refused(const d13_opts *o, int error, int alert) {
  d13_pair pr;
  d13_pair_init(&pr, o);
  ck_assert_int_eq(d13_pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].error, error);
  ck_assert_int_eq(pr.p[1].alert, alert);
  ck_assert_int_eq(pr.p[1].alert_from_peer, 0);
  ck_assert_int_eq(server_error(&pr), error);
  ck_assert_uint_eq(pr.sends[1], 1);
  ck_assert_uint_eq(pr.last_len[1], RTCSEC_D13_PLAIN_HDR + 2);
  ck_assert_uint_eq(pr.last[1][0], RTCSEC_CT_ALERT);
  ck_assert_uint_eq(pr.last[1][13], RTCSEC_ALERT_LEVEL_FATAL);
  ck_assert_uint_eq(pr.last[1][14], (unsigned)alert);
  ck_assert_int_eq(pr.p[0].connected, 0);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  ck_assert_int_eq(server_secrets_wiped(&pr), 1);
  /* A refused association takes nothing more. */
  uint8_t junk[32] = {22};
  ck_assert_int_eq(pr.ep[1].handle_datagram(pr.ep[1].obj, junk, sizeof(junk), pr.now), error);
  d13_pair_free(&pr);
}

/* The server failed on the client's (protected) flight with `error` and
 * sent `alert` under its keys: the client sees it as the peer's alert. */
static void expect_client_flight_refused(const d13_opts *o, int error, int alert) {
  d13_pair pr;
  d13_pair_init(&pr, o);
  ck_assert_int_eq(d13_pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  deliver_all(&pr); /* the alert on its way to the client */
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].error, error);
  ck_assert_int_eq(pr.p[1].alert, alert);
  ck_assert_int_eq(pr.p[0].failed, 1);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_PEER_ALERT);
  ck_assert_int_eq(pr.p[0].alert, alert);
  ck_assert_int_eq(pr.p[0].alert_from_peer, 1);
  /* No key left the server. */
  rtcsec_srtp_keys k;
  ck_assert_int_eq(pr.assoc ? rtcsec_dtls_export_srtp_keys(pr.p[1].d, &k)
                            : rtcsec_dtls13_export_srtp(pr.server.e, &k),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(server_secrets_wiped(&pr), 1);
  d13_pair_free(&pr);
}

/* ---- record layer ------------------------------------------------------------------------ */

static void key_pair(rtcsec_d13_keys *w, rtcsec_d13_keys *r, uint16_t suite, uint64_t epoch,
                     uint8_t *secret) {
  const rtcsec_d13_suite *s = rtcsec_d13_suite_by_id(suite);
  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(RAND_bytes(secret, 48), 1);
  memset(w, 0, sizeof(*w));
  memset(r, 0, sizeof(*r));
  ck_assert_int_eq(rtcsec_d13_keys_init(w, s, RTCSEC_D13_PREFIX_DTLS, secret, epoch, 1), 0);
  ck_assert_int_eq(rtcsec_d13_keys_init(r, s, RTCSEC_D13_PREFIX_DTLS, secret, epoch, 0), 0);
}

static int open_one(rtcsec_d13_keys *r, const uint8_t *rec, size_t n, uint8_t *out, size_t *len,
                    uint8_t *type) {
  size_t off = 0;
  rtcsec_d13_record h;
  uint64_t seq;
  if (rtcsec_d13_next_record(rec, n, &off, &h) != 1 || off != n)
    return -100;
  return rtcsec_d13_open(r, &h, out, 4096, len, type, &seq);
}

START_TEST(record_round_trip_in_every_header_form_with_the_sequence_number_masked) {
  static const uint16_t suites[] = {RTCSEC_TLS_AES_128_GCM_SHA256, RTCSEC_TLS_AES_256_GCM_SHA384};
  for (int si = 0; si < 2; si++) {
    for (unsigned flags = 0; flags < 4; flags++) {
      for (size_t pad = 0; pad <= 7; pad += 7) {
        rtcsec_d13_keys w, r;
        uint8_t secret[48], rec[256], out[4096];
        key_pair(&w, &r, suites[si], 3, secret);
        w.next_seq = 0x1234;
        r.window.any = 1;
        r.window.top = 0x1233; /* the receiver expects 0x1234 next */
        size_t n = 0, len = 0;
        uint8_t type = 0;
        ck_assert_int_eq(rtcsec_d13_seal_ex(&w, RTCSEC_CT_APPLICATION_DATA,
                                            (const uint8_t *)"hello", 5, pad, flags, rec,
                                            sizeof(rec), &n),
                         0);
        size_t seq_len = (flags & RTCSEC_D13_SEAL_SEQ8) ? 1 : 2;
        size_t hdr = 1 + seq_len + ((flags & RTCSEC_D13_SEAL_NO_LENGTH) ? 0 : 2);
        ck_assert_uint_eq(n, hdr + 5 + 1 + pad + 16);
        ck_assert_uint_eq(rec[0] & 0xe0, 0x20);
        ck_assert_uint_eq(rec[0] & 3, 3);
        /* RFC 9147 §4.2.3: the sequence bytes are the low bits XOR the first
         * bytes of AES-ECB(sn_key, ciphertext[0..15]), computed here on
         * their own. */
        uint8_t key[32], iv[12], sn[32], mask[16];
        const rtcsec_d13_suite *s = rtcsec_d13_suite_by_id(suites[si]);
        ck_assert_int_eq(
            rtcsec_traffic_keys(s->md(), RTCSEC_D13_PREFIX_DTLS, secret, s->key_len, key, iv, sn),
            0);
        EVP_CIPHER_CTX *ecb = EVP_CIPHER_CTX_new();
        int ml = 0;
        ck_assert_int_eq(EVP_EncryptInit_ex(ecb, s->ecb(), NULL, sn, NULL), 1);
        EVP_CIPHER_CTX_set_padding(ecb, 0);
        ck_assert_int_eq(EVP_EncryptUpdate(ecb, mask, &ml, rec + hdr, 16), 1);
        EVP_CIPHER_CTX_free(ecb);
        uint64_t wire = get_uint(rec + 1, seq_len);
        uint64_t plain = wire ^ get_uint(mask, seq_len);
        ck_assert_uint_eq(plain, seq_len == 2 ? 0x1234 : 0x34);
        ck_assert_int_eq(open_one(&r, rec, n, out, &len, &type), 0);
        ck_assert_uint_eq(len, 5);
        ck_assert_mem_eq(out, "hello", 5);
        ck_assert_uint_eq(type, RTCSEC_CT_APPLICATION_DATA);
        ck_assert_uint_eq(r.window.top, 0x1234);
        rtcsec_d13_keys_clear(&w);
        rtcsec_d13_keys_clear(&r);
      }
    }
  }
}
END_TEST

START_TEST(record_with_any_byte_changed_does_not_open_and_the_window_stays) {
  rtcsec_d13_keys w, r;
  uint8_t secret[48], rec[256], bad[256], out[4096];
  key_pair(&w, &r, RTCSEC_TLS_AES_128_GCM_SHA256, 2, secret);
  size_t n = 0, len;
  uint8_t type;
  ck_assert_int_eq(
      rtcsec_d13_seal(&w, RTCSEC_CT_HANDSHAKE, (const uint8_t *)"0123456789", 10, rec, 256, &n), 0);
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      memcpy(bad, rec, n);
      bad[i] ^= (uint8_t)(1u << bit);
      int rc = open_one(&r, bad, n, out, &len, &type);
      ck_assert_msg(rc != 0, "byte %zu bit %d changed and the record still opened", i, bit);
      ck_assert_int_eq(r.window.any, 0);
    }
  }
  /* Every truncation too. */
  for (size_t l = 0; l < n; l++)
    ck_assert_int_ne(open_one(&r, rec, l, out, &len, &type), 0);
  ck_assert_uint_gt(r.failures, 8 * n - 100);
  ck_assert_int_eq(open_one(&r, rec, n, out, &len, &type), 0);
  ck_assert_mem_eq(out, "0123456789", 10);
  /* The same record again is a replay. */
  ck_assert_int_eq(open_one(&r, rec, n, out, &len, &type), 1);
  rtcsec_d13_keys_clear(&w);
  rtcsec_d13_keys_clear(&r);
}
END_TEST

START_TEST(replay_window_keeps_64_records_and_refuses_older) {
  rtcsec_replay w = {0};
  ck_assert(rtcsec_replay_check(&w, 0));
  ck_assert(rtcsec_replay_check(&w, 1000));
  rtcsec_replay_update(&w, 100);
  ck_assert(!rtcsec_replay_check(&w, 100));
  ck_assert(rtcsec_replay_check(&w, 99));
  ck_assert(rtcsec_replay_check(&w, 37));
  ck_assert(!rtcsec_replay_check(&w, 36)); /* 100 - 64: left of the window */
  ck_assert(rtcsec_replay_check(&w, 101));
  rtcsec_replay_update(&w, 90);
  ck_assert(!rtcsec_replay_check(&w, 90));
  rtcsec_replay_update(&w, 163);
  ck_assert(!rtcsec_replay_check(&w, 100));
  ck_assert(!rtcsec_replay_check(&w, 99)); /* slid out */
  ck_assert(rtcsec_replay_check(&w, 101));
  ck_assert(!rtcsec_replay_check(&w, 163));
  rtcsec_replay_update(&w, 1000); /* a jump clears the bitmap */
  ck_assert(!rtcsec_replay_check(&w, 1000));
  ck_assert(rtcsec_replay_check(&w, 999));
  ck_assert(!rtcsec_replay_check(&w, 163));
}
END_TEST

START_TEST(sequence_numbers_are_reconstructed_closest_to_the_next_expected) {
  /* RFC 9147 §4.2.2, 16 and 8 bits, at and across wraps. */
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0, 0, 16), 0);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0x10000, 0xffff, 16), 0xffff);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0xfffe, 0x0001, 16), 0x10001);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0x12345, 0x2340, 16), 0x12340);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0x12345, 0x9000, 16), 0x19000);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(0x1ff80, 0x0010, 16), 0x20010);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(250, 5, 8), 261);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(300, 250, 8), 250);
  ck_assert_uint_eq(rtcsec_d13_reconstruct_seq(3, 250, 8), 250);
  /* Records across a 16-bit wrap open in order and out of order. */
  rtcsec_d13_keys w, r;
  uint8_t secret[48], rec[40][64], out[4096];
  size_t n[40], len;
  uint8_t type;
  key_pair(&w, &r, RTCSEC_TLS_AES_128_GCM_SHA256, 3, secret);
  w.next_seq = 0xfff0;
  r.window.any = 1;
  r.window.top = 0xffef;
  for (int i = 0; i < 40; i++)
    ck_assert_int_eq(
        rtcsec_d13_seal_ex(&w, 23, (const uint8_t *)"x", 1, 0, i % 2, rec[i], 64, &n[i]), 0);
  static const int order[] = {0, 2, 1, 5, 3, 4, 8, 6, 7, 9};
  for (int i = 0; i < 40; i++) {
    int k = i < 10 ? order[i] : i;
    /* 8-bit numbers are ambiguous past half their range: those that fit. */
    ck_assert_int_eq(open_one(&r, rec[k], n[k], out, &len, &type), 0);
  }
  ck_assert_uint_eq(r.window.top, 0xfff0 + 39);
  rtcsec_d13_keys_clear(&w);
  rtcsec_d13_keys_clear(&r);
}
END_TEST

START_TEST(records_that_cannot_be_framed_end_the_datagram) {
  size_t off;
  rtcsec_d13_record rec;
  static const uint8_t firsts[] = {0, 19, 24, 25, 27, 31, 64, 128, 255};
  for (size_t i = 0; i < sizeof(firsts); i++) {
    uint8_t d[32] = {firsts[i]};
    off = 0;
    ck_assert_int_eq(rtcsec_d13_next_record(d, sizeof(d), &off, &rec), -1);
  }
  /* The connection ID bit: never negotiated, so unframeable. */
  uint8_t cid[32] = {0x3c | 3};
  off = 0;
  ck_assert_int_eq(rtcsec_d13_next_record(cid, sizeof(cid), &off, &rec), -1);
  /* A length past the end, plaintext and protected. */
  uint8_t pl[20] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  off = 0;
  ck_assert_int_eq(rtcsec_d13_next_record(pl, 20, &off, &rec), 1);
  off = 0;
  ck_assert_int_eq(rtcsec_d13_next_record(pl, 19, &off, &rec), -1);
  uint8_t pr[8] = {0x2c | 2, 0, 1, 0, 4};
  off = 0;
  ck_assert_int_eq(rtcsec_d13_next_record(pr, 8, &off, &rec), -1);
  /* A header cut short. */
  for (size_t l = 1; l < 5; l++) {
    off = 0;
    ck_assert_int_eq(rtcsec_d13_next_record(pr, l, &off, &rec), -1);
  }
  off = 0;
  ck_assert_int_eq(rtcsec_d13_next_record(pl, 0, &off, &rec), 0);
}
END_TEST

/* ---- ClientHello parser ---------------------------------------------------------------------- */

static size_t client_hello(const d13c_config *cfg, uint8_t *buf, size_t cap) {
  size_t n = 0;
  ck_assert_int_eq(d13c_client_hello(cfg, buf, cap, &n), 0);
  return n;
}

START_TEST(client_hello_parser_reads_every_field) {
  d13c_config cfg;
  d13c_config_default(&cfg);
  cfg.hybrid_share = 1;
  uint8_t m[4096];
  size_t n = client_hello(&cfg, m, sizeof(m));
  rtcsec_client_hello ch;
  int alert = 0;
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  ck_assert_int_eq(alert, -1);
  ck_assert_uint_eq(ch.legacy_version, RTCSEC_DTLS12_VERSION);
  ck_assert_uint_eq(ch.session_id_len, 0);
  ck_assert_uint_eq(ch.legacy_cookie_len, 0);
  ck_assert_uint_eq(ch.cipher_suites.n, 2);
  ck_assert(rtcsec_client_hello_offers(&ch, RTCSEC_DTLS13_VERSION));
  ck_assert(rtcsec_client_hello_offers(&ch, RTCSEC_DTLS12_VERSION));
  ck_assert(!rtcsec_client_hello_offers(&ch, RTCSEC_DTLS10_VERSION));
  ck_assert_uint_eq(ch.groups.n, 3);
  ck_assert_uint_eq(ch.n_key_shares, 2);
  ck_assert_uint_eq(ch.key_shares[0].group, RTCSEC_GROUP_X25519MLKEM768);
  ck_assert_uint_eq(ch.key_shares[0].len, 1216);
  ck_assert_uint_eq(ch.key_shares[1].group, RTCSEC_GROUP_X25519);
  ck_assert_uint_eq(ch.key_shares[1].len, 32);
  ck_assert_uint_eq(ch.sig_algs.n, 5);
  ck_assert(ch.has_use_srtp);
  ck_assert_uint_eq(ch.srtp_profiles.n, 3);
  ck_assert_uint_eq(rtcsec_u16_list_at(ch.srtp_profiles, 0), RTCSEC_SRTP_AES128_CM_SHA1_80);
  ck_assert_uint_eq(ch.srtp_mki_len, 0);
  ck_assert(!ch.has_cookie && !ch.has_pre_shared_key && !ch.has_connection_id);
  ck_assert_ptr_nonnull(rtcsec_client_hello_ext(&ch, 23));
  ck_assert_ptr_null(rtcsec_client_hello_ext(&ch, 0x1234));
}
END_TEST

/* The offset just after legacy_compression_methods: a ClientHello that
 * ends there is a valid DTLS 1.2 one without extensions. */
static size_t after_compression(const uint8_t *m) {
  size_t o = 2 + 32;
  o += 1 + m[o];
  o += 1 + m[o];
  o += 2 + get_uint(m + o, 2);
  o += 1 + m[o];
  return o;
}

START_TEST(client_hello_parser_refuses_every_truncation_and_trailing_bytes) {
  d13c_config cfg;
  d13c_config_default(&cfg);
  uint8_t m[4096];
  size_t n = client_hello(&cfg, m, sizeof(m));
  size_t no_ext = after_compression(m);
  rtcsec_client_hello ch;
  for (size_t l = 0; l < n; l++) {
    int alert = 0;
    int rc = rtcsec_client_hello_parse(&ch, m, l, &alert);
    if (l == no_ext) {
      ck_assert_int_eq(rc, 0);
      ck_assert_uint_eq(ch.n_extensions, 0);
      ck_assert(!rtcsec_client_hello_offers(&ch, RTCSEC_DTLS13_VERSION));
      continue;
    }
    ck_assert_msg(rc == RTCSEC_ERR_HANDSHAKE, "a prefix of %zu bytes parsed", l);
    ck_assert_int_eq(alert, RTCSEC_ALERT_DECODE_ERROR);
  }
  m[n] = 0;
  int alert = 0;
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n + 1, &alert), RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(alert, RTCSEC_ALERT_DECODE_ERROR);
  ck_assert_int_eq(rtcsec_client_hello_parse(NULL, m, n, &alert), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

/* Rebuilds a ClientHello with its extension list replaced. */
static size_t with_extensions(const uint8_t *m, uint8_t *out, const uint8_t *exts, size_t len) {
  size_t o = after_compression(m);
  memcpy(out, m, o);
  put_uint(out + o, 2, len);
  memcpy(out + o + 2, exts, len);
  return o + 2 + len;
}

START_TEST(client_hello_parser_refuses_every_length_field_off_by_one) {
  d13c_config cfg;
  d13c_config_default(&cfg);
  uint8_t m[4096], bad[4096];
  size_t n = client_hello(&cfg, m, sizeof(m));
  rtcsec_client_hello ch;
  int alert;
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  /* Every length prefix: session id, legacy_cookie, cipher_suites,
   * compression, the extension block, each extension, and the inner
   * vectors of supported_versions, supported_groups, key_share (list and
   * entry), signature_algorithms, use_srtp (profiles and MKI). */
  size_t offs[64], sizes[64], k = 0;
  offs[k] = 34, sizes[k++] = 1;
  offs[k] = 35 + m[34], sizes[k++] = 1;
  size_t o = 36 + m[34] + m[35 + m[34]];
  offs[k] = o, sizes[k++] = 2;
  o += 2 + get_uint(m + o, 2);
  offs[k] = o, sizes[k++] = 1;
  offs[k] = after_compression(m), sizes[k++] = 2;
  for (size_t i = 0; i < ch.n_extensions; i++) {
    size_t e = (size_t)(ch.extensions[i].data - m);
    offs[k] = e - 2, sizes[k++] = 2;
    switch (ch.extensions[i].type) {
    case RTCSEC_EXT_SUPPORTED_VERSIONS:
      offs[k] = e, sizes[k++] = 1;
      break;
    case RTCSEC_EXT_KEY_SHARE:
      offs[k] = e, sizes[k++] = 2;
      offs[k] = e + 4, sizes[k++] = 2;
      break;
    case RTCSEC_EXT_USE_SRTP:
      offs[k] = e, sizes[k++] = 2;
      offs[k] = e + 2 + get_uint(m + e, 2), sizes[k++] = 1;
      break;
    case RTCSEC_EXT_SUPPORTED_GROUPS:
    case RTCSEC_EXT_SIGNATURE_ALGORITHMS:
      offs[k] = e, sizes[k++] = 2;
      break;
    default:
      break;
    }
  }
  for (size_t i = 0; i < k; i++) {
    for (int d = -1; d <= 1; d += 2) {
      memcpy(bad, m, n);
      uint64_t v = get_uint(m + offs[i], sizes[i]);
      if (d < 0 && v == 0)
        continue;
      put_uint(bad + offs[i], sizes[i], v + (uint64_t)(int64_t)d);
      alert = 0;
      ck_assert_msg(rtcsec_client_hello_parse(&ch, bad, n, &alert) == RTCSEC_ERR_HANDSHAKE,
                    "length field at %zu changed by %d still parsed", offs[i], d);
      ck_assert_int_eq(alert, RTCSEC_ALERT_DECODE_ERROR);
    }
  }
  ck_assert_uint_ge(k, 14);
}
END_TEST

START_TEST(client_hello_with_a_duplicate_or_misplaced_extension_is_illegal_parameter) {
  uint8_t m[4096], out[4096];
  d13c_config cfg;
  d13c_config_default(&cfg);
  size_t n = client_hello(&cfg, m, sizeof(m));
  (void)n;
  rtcsec_client_hello ch;
  int alert;
  /* supported_versions twice */
  static const uint8_t dup[] = {0, 43, 0, 3, 2, 0xfe, 0xfc, 0, 43, 0, 3, 2, 0xfe, 0xfd};
  size_t l = with_extensions(m, out, dup, sizeof(dup));
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, l, &alert), RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  /* pre_shared_key before another extension (RFC 8446 §4.2.11) */
  uint8_t psk[128];
  rtcsec_wr w;
  wr_init(&w, psk, sizeof(psk));
  wr_u16(&w, RTCSEC_EXT_PRE_SHARED_KEY);
  wr_u16(&w, 2 + 7 + 2 + 33);
  wr_u16(&w, 7);
  wr_bytes(&w, "\x00\x01\x41\x00\x00\x00\x00", 7);
  wr_u16(&w, 33);
  wr_u8(&w, 32);
  for (int i = 0; i < 32; i++)
    wr_u8(&w, 0);
  size_t psk_len = w.off;
  wr_bytes(&w, "\x00\x2b\x00\x03\x02\xfe\xfc", 7);
  l = with_extensions(m, out, psk, w.off);
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, l, &alert), RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  /* ... and last, it is fine (and ignored by the server). */
  uint8_t last[128];
  memcpy(last, psk + psk_len, 7);
  memcpy(last + 7, psk, psk_len);
  l = with_extensions(m, out, last, 7 + psk_len);
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, l, &alert), 0);
  ck_assert(ch.has_pre_shared_key);
  /* more key shares than the parser keeps */
  uint8_t many[512];
  wr_init(&w, many, sizeof(many));
  wr_u16(&w, RTCSEC_EXT_KEY_SHARE);
  size_t e = wr_vec_open(&w, 2), li = wr_vec_open(&w, 2);
  for (int i = 0; i < RTCSEC_CH_MAX_KEY_SHARES + 1; i++) {
    wr_u16(&w, (uint16_t)(0x100 + i));
    wr_u16(&w, 1);
    wr_u8(&w, 7);
  }
  wr_vec_close(&w, li, 2);
  wr_vec_close(&w, e, 2);
  l = with_extensions(m, out, many, w.off);
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, l, &alert), RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  /* empty key_exchange, empty cookie, non-empty early_data: syntax */
  static const uint8_t empty_share[] = {0, 51, 0, 6, 0, 4, 0, 0x1d, 0, 0};
  static const uint8_t empty_cookie[] = {0, 44, 0, 2, 0, 0};
  static const uint8_t early[] = {0, 42, 0, 1, 0};
  const uint8_t *bad[] = {empty_share, empty_cookie, early};
  size_t bl[] = {sizeof(empty_share), sizeof(empty_cookie), sizeof(early)};
  for (int i = 0; i < 3; i++) {
    l = with_extensions(m, out, bad[i], bl[i]);
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, l, &alert), RTCSEC_ERR_HANDSHAKE);
    ck_assert_int_eq(alert, RTCSEC_ALERT_DECODE_ERROR);
  }
}
END_TEST

/* ---- ClientHello collector ---------------------------------------------------------------------
 */

START_TEST(collector_reassembles_fragments_in_any_order_duplicated_and_mixed) {
  d13c_config cfg;
  d13c_config_default(&cfg);
  cfg.hybrid_share = 1;
  uint8_t m[4096];
  size_t n = client_hello(&cfg, m, sizeof(m));
  static uint8_t dg[16][2048];
  size_t dl[16];
  size_t k = d13c_fragment_client_hello(m, n, 300, dg, dl, 16);
  ck_assert_uint_ge(k, 5);
  for (int order = 0; order < 3; order++) {
    rtcsec_ch_collector c;
    rtcsec_ch_collector_init(&c);
    /* unrelated records first: application data, a ServerHello, epoch 1 */
    uint8_t junk[64] = {23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4};
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, junk, 17), 0);
    uint8_t sh[40] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13,
                      2,  0,    0,    1, 0, 0, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, sh, 26), 0);
    ck_assert_uint_eq(c.ignored, 2);
    for (size_t i = 0; i < k; i++) {
      size_t half = (k + 1) / 2; /* order 2: the even fragments, then the odd */
      size_t j = order == 0 ? i : order == 1 ? k - 1 - i : i < half ? 2 * i : 2 * (i - half) + 1;
      int rc = rtcsec_ch_collector_add(&c, dg[j], dl[j]);
      /* a duplicate of what came just before changes nothing */
      int rc2 = rtcsec_ch_collector_add(&c, dg[j], dl[j]);
      ck_assert_int_eq(rc2, rc);
      ck_assert_int_eq(rc, c.received == n);
    }
    size_t got = 0;
    const uint8_t *msg = rtcsec_ch_collector_message(&c, &got);
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_eq(got, n);
    ck_assert_mem_eq(msg, m, n);
    ck_assert_uint_eq(rtcsec_dgram_queue_count(&c.datagrams), k);
    ck_assert_uint_eq(c.resets, 0);
    /* complete: nothing more is taken */
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, dg[0], dl[0]), 1);
    ck_assert_uint_eq(rtcsec_dgram_queue_count(&c.datagrams), k);
    rtcsec_ch_collector_clear(&c);
  }
}
END_TEST

START_TEST(collector_finds_supported_versions_in_any_fragment) {
  /* Extension order shuffled as Chromium does: wherever supported_versions
   * lands, the reassembled ClientHello offers DTLS 1.3. */
  int later = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    d13c_config cfg;
    d13c_config_default(&cfg);
    cfg.hybrid_share = 1;
    cfg.shuffle_seed = seed;
    uint8_t m[4096];
    size_t n = client_hello(&cfg, m, sizeof(m));
    static uint8_t dg[4][2048];
    size_t dl[4];
    size_t k = d13c_fragment_client_hello(m, n, 1200, dg, dl, 4);
    ck_assert_uint_eq(k, 2);
    rtcsec_client_hello ch;
    int alert;
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
    const rtcsec_ch_extension *sv = rtcsec_client_hello_ext(&ch, RTCSEC_EXT_SUPPORTED_VERSIONS);
    later += (size_t)(sv->data - m) > 1200 - 25;
    rtcsec_ch_collector c;
    rtcsec_ch_collector_init(&c);
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, dg[1], dl[1]), 0);
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, dg[0], dl[0]), 1);
    size_t got;
    const uint8_t *msg = rtcsec_ch_collector_message(&c, &got);
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, msg, got, &alert), 0);
    ck_assert(rtcsec_client_hello_offers(&ch, RTCSEC_DTLS13_VERSION));
    rtcsec_ch_collector_clear(&c);
  }
  ck_assert_int_gt(later, 0); /* some seeds put it in the second datagram */
}
END_TEST

START_TEST(collector_starts_over_on_a_conflicting_fragment_and_stays_bounded) {
  d13c_config cfg;
  d13c_config_default(&cfg);
  uint8_t a[4096], b[4096];
  size_t na = client_hello(&cfg, a, sizeof(a));
  cfg.hybrid_share = 1;
  size_t nb = client_hello(&cfg, b, sizeof(b));
  static uint8_t da[8][2048], db[8][2048];
  size_t la[8], lb[8];
  size_t ka = d13c_fragment_client_hello(a, na, 100, da, la, 8);
  size_t kb = d13c_fragment_client_hello(b, nb, 1400, db, lb, 8);
  ck_assert_uint_ge(ka, 2);
  ck_assert_uint_eq(kb, 1);
  rtcsec_ch_collector c;
  rtcsec_ch_collector_init(&c);
  ck_assert_int_eq(rtcsec_ch_collector_add(&c, da[0], la[0]), 0);
  /* another length: the last writer wins, and a whole ClientHello in one
   * datagram completes at once */
  ck_assert_int_eq(rtcsec_ch_collector_add(&c, db[0], lb[0]), 1);
  ck_assert_uint_eq(c.resets, 1);
  size_t got;
  ck_assert_mem_eq(rtcsec_ch_collector_message(&c, &got), b, nb);
  ck_assert_uint_eq(rtcsec_dgram_queue_count(&c.datagrams), 1);
  rtcsec_ch_collector_clear(&c);
  /* same length, other bytes in an overlap */
  rtcsec_ch_collector_init(&c);
  ck_assert_int_eq(rtcsec_ch_collector_add(&c, da[0], la[0]), 0);
  uint8_t other[2048];
  memcpy(other, da[0], la[0]);
  other[la[0] - 1] ^= 0xff;
  ck_assert_int_eq(rtcsec_ch_collector_add(&c, other, la[0]), 0);
  ck_assert_uint_eq(c.resets, 1);
  rtcsec_ch_collector_clear(&c);
  /* Many one-byte fragments of a huge ClientHello: never more than the
   * bound is kept. */
  rtcsec_ch_collector_init(&c);
  for (int i = 0; i < 40; i++) {
    uint8_t d[32] = {22,         0xfe, 0xfd, 0, 0, 0,    0,    0, 0, 0,
                     (uint8_t)i, 0,    13,   1, 0, 0x3f, 0xff, 0, 0};
    put_uint(d + 19, 3, (uint64_t)i * 7);
    put_uint(d + 22, 3, 1);
    d[25] = 0xab;
    ck_assert_int_eq(rtcsec_ch_collector_add(&c, d, 26), 0);
    ck_assert_uint_le(rtcsec_dgram_queue_count(&c.datagrams), RTCSEC_CH_MAX_DATAGRAMS);
  }
  ck_assert_uint_ge(c.resets, 4);
  /* a declared length past the bound is not taken at all */
  uint8_t big[32] = {22, 0xfe, 0xfd, 0,    0, 0, 0, 0, 0, 0, 0, 0, 13,
                     1,  0,    0x40, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0xcd};
  size_t before = rtcsec_dgram_queue_count(&c.datagrams);
  ck_assert_int_eq(rtcsec_ch_collector_add(&c, big, 26), 0);
  ck_assert_uint_eq(rtcsec_dgram_queue_count(&c.datagrams), before);
  rtcsec_ch_collector_clear(&c);
}
END_TEST

/* ---- handshakes ------------------------------------------------------------------------------ */

static const rtcsec_srtp_profile all_profiles[] = {
    RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_80,
    RTCSEC_SRTP_AES128_CM_SHA1_32};

START_TEST(handshake_connects_for_each_profile_suite_and_group) {
  /* _i: profile (4) x suite (2) x group with a share (2) */
  rtcsec_srtp_profile prof = all_profiles[_i % 4];
  uint16_t suite = (_i / 4) % 2 ? RTCSEC_TLS_AES_256_GCM_SHA384 : RTCSEC_TLS_AES_128_GCM_SHA256;
  uint16_t group = (_i / 8) % 2 ? RTCSEC_GROUP_SECP256R1 : RTCSEC_GROUP_X25519;
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.profiles[0] = prof;
  o.client.n_profiles = 1;
  o.client.suites[0] = suite;
  o.client.n_suites = 1;
  o.client.share_groups[0] = group;
  d13_pair pr;
  run_connected(&pr, &o);
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(pr.p[i].info.profile, prof);
    ck_assert_str_eq(pr.p[i].info.version, "DTLSv1.3");
    ck_assert_str_eq(pr.p[i].info.cipher, rtcsec_d13_suite_by_id(suite)->name);
    ck_assert_uint_eq(pr.p[i].keys.key_len, rtcsec_srtp_profile_key_len(prof));
    ck_assert_uint_eq(pr.p[i].keys.salt_len, rtcsec_srtp_profile_salt_len(prof));
  }
  ck_assert_str_eq(rtcsec_dtls13_group_name(pr.server.e),
                   group == RTCSEC_GROUP_X25519 ? "x25519" : "secp256r1");
  ck_assert_str_eq(rtcsec_dtls13_cipher_name(pr.server.e), rtcsec_d13_suite_by_id(suite)->name);
  ck_assert_int_eq(rtcsec_dtls13_used_hrr(pr.server.e), 0);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(handshake_connects_for_each_certificate_key_type) {
  /* _i: client key (ECDSA, RSA) x server key (ECDSA, RSA): ECDSA P-256
   * SHA-256 or RSA-PSS CertificateVerify both ways. */
  d13_opts o;
  opts_shared(&o, _i % 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256,
              _i / 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256);
  d13_pair pr;
  run_connected(&pr, &o);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(server_order_decides_the_profile_and_aes128_is_preferred) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  static const rtcsec_srtp_profile server[] = {RTCSEC_SRTP_AES128_CM_SHA1_32,
                                               RTCSEC_SRTP_AES128_CM_SHA1_80};
  o.server.profiles = server;
  o.server.n_profiles = 2;
  o.client.suites[0] = RTCSEC_TLS_AES_256_GCM_SHA384;
  o.client.suites[1] = RTCSEC_TLS_AES_128_GCM_SHA256;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_int_eq(pr.p[1].info.profile, RTCSEC_SRTP_AES128_CM_SHA1_80);
  ck_assert_str_eq(pr.p[1].info.cipher, "TLS_AES_128_GCM_SHA256");
  d13_pair_free(&pr);
}
END_TEST

START_TEST(hello_retry_request_when_no_usable_share_is_offered) {
  /* _i 0: shares for no group; 1: P-256 supported, only an X25519 share
   * would be usable but none is sent; 2: a share for an unknown group
   * only. The server asks for its preferred group it can use. */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  if (_i == 0) {
    o.client.n_shares_zero = 1;
  } else if (_i == 1) {
    o.client.groups[0] = RTCSEC_GROUP_SECP256R1;
    o.client.n_groups = 1;
    o.client.n_shares_zero = 1;
  } else {
    /* A hybrid share only, with the hybrid group off. */
    o.client.hybrid_share = 1;
    o.client.n_shares_zero = 1;
    o.server.enable_mlkem = 0;
  }
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_int_eq(rtcsec_dtls13_used_hrr(pr.server.e), 1);
  ck_assert_int_eq(d13c_got_hrr(pr.client), 1);
  ck_assert_str_eq(rtcsec_dtls13_group_name(pr.server.e), _i == 1 ? "secp256r1" : "x25519");
  /* 2-RTT: ClientHello (two datagrams with the hybrid share), HRR,
   * ClientHello, server flight, client flight, ACK */
  ck_assert_uint_eq(pr.sends[0], 3 + (_i == 2));
  ck_assert_uint_eq(pr.sends[1], 3);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(cookie_exchange_asks_for_a_cookie_even_with_a_usable_share) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.server.cookie_exchange = 1;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_int_eq(rtcsec_dtls13_used_hrr(pr.server.e), 1);
  ck_assert_int_eq(d13c_got_hrr(pr.client), 1);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(browser_like_client_hello_over_two_datagrams_in_shuffled_orders) {
  for (uint64_t seed = 1; seed <= 20; seed++) {
    d13_opts o;
    opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
    o.client.hybrid_share = 1;
    o.client.shuffle_seed = seed;
    o.client.offer_cid = 1; /* ignored: no connection ID is negotiated */
    d13_pair pr;
    run_connected(&pr, &o);
    ck_assert_uint_eq(rtcsec_dgram_queue_count(&pr.server.col.datagrams), 2);
    ck_assert_uint_eq(pr.sends[0], 3); /* two for the ClientHello, one flight */
    d13_pair_free(&pr);
  }
}
END_TEST

START_TEST(application_data_flows_both_ways_then_close_notify) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_int_eq(d13c_send(pr.client, (const uint8_t *)"ping", 4, pr.now), 0);
  ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, (const uint8_t *)"pong!", 5, pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 1);
  ck_assert_mem_eq(pr.p[1].data, "ping", 4);
  ck_assert_int_eq(pr.p[0].n_data, 1);
  ck_assert_mem_eq(pr.p[0].data, "pong!", 5);
  /* The largest payload fits one datagram; one more byte does not. */
  size_t max = rtcsec_d13_conn_max_payload(rtcsec_dtls13_test_conn(pr.server.e));
  ck_assert_uint_eq(max, 1200 - RTCSEC_D13_OVERHEAD);
  static uint8_t big[2048];
  ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, big, max, pr.now), 0);
  ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, big, max + 1, pr.now), RTCSEC_ERR_TOO_LARGE);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[0].n_data, 2);
  ck_assert_uint_eq(pr.p[0].data_len, max);
  ck_assert_int_eq(d13c_close(pr.client, pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[1].closed, 1);
  ck_assert_int_eq(rtcsec_dtls13_state(pr.server.e), RTCSEC_DTLS_STATE_CLOSED);
  ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, (const uint8_t *)"x", 1, pr.now),
                   RTCSEC_ERR_INVALID_STATE);
  /* The record keys went with the close, not at free. */
  const rtcsec_d13_conn *sc = rtcsec_dtls13_test_conn(pr.server.e);
  ck_assert(!sc->w_hs.active && !sc->w_app.active && !sc->r_hs.active && !sc->r_app[0].active &&
            !sc->r_app[1].active && !sc->r_app[2].active);
  static const uint8_t zero[sizeof(sc->w_secret)];
  ck_assert_mem_eq(sc->w_secret, zero, sizeof(zero));
  ck_assert_mem_eq(sc->r_secret, zero, sizeof(zero));
  /* The exporter still answers after the close. */
  rtcsec_srtp_keys k;
  ck_assert_int_eq(rtcsec_dtls13_export_srtp(pr.server.e, &k), 0);
  ck_assert_mem_eq(k.material, pr.p[1].keys.material, k.material_len);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(key_updates_move_both_epochs_and_data_still_flows) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  d13_pair pr;
  run_connected(&pr, &o);
  deliver_all(&pr); /* the client's last flight acknowledged */
  rtcsec_d13_conn *cc = d13c_conn(pr.client), *sc = rtcsec_dtls13_test_conn(pr.server.e);
  ck_assert_uint_eq(cc->w_app.epoch, 3);
  /* The client asks the server to update too (RFC 8446 §4.6.3). */
  ck_assert_int_eq(d13c_key_update(pr.client, 1, pr.now), 0);
  deliver_all(&pr);
  ck_assert_uint_eq(cc->w_app.epoch, 4);
  ck_assert_uint_eq(sc->w_app.epoch, 4);
  ck_assert_uint_eq(sc->stats.key_updates_received, 1);
  ck_assert_uint_eq(sc->stats.key_updates_sent, 1);
  for (int round = 0; round < 3; round++) {
    ck_assert_int_eq(d13c_send(pr.client, (const uint8_t *)"after", 5, pr.now), 0);
    ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, (const uint8_t *)"again", 5, pr.now), 0);
    deliver_all(&pr);
    /* The server alone updates its sending keys. */
    ck_assert_int_eq(rtcsec_dtls13_key_update(pr.server.e, 0, pr.now), 0);
    deliver_all(&pr);
  }
  ck_assert_int_eq(pr.p[1].n_data, 3);
  ck_assert_int_eq(pr.p[0].n_data, 3);
  ck_assert_uint_eq(sc->w_app.epoch, 7);
  /* The client reads epoch 7 once a record of it arrives. */
  ck_assert_uint_eq(cc->r_app[2].epoch, 7);
  ck_assert_int_eq(rtcsec_dtls13_send(pr.server.e, (const uint8_t *)"last", 4, pr.now), 0);
  deliver_all(&pr);
  ck_assert_uint_eq(cc->r_app[1].epoch, 7);
  ck_assert_int_eq(pr.p[0].n_data, 4);
  ck_assert_uint_eq(cc->w_app.epoch, 4);
  ck_assert_int_eq(rtcsec_dtls13_state(pr.server.e), RTCSEC_DTLS_STATE_CONNECTED);
  d13_pair_free(&pr);
}
END_TEST

typedef struct drop_spec {
  int from;
  uint64_t index; /* per sender */
  int count;      /* how many in a row */
  int dropped;
} drop_spec;

static int drop_nth(void *user, int from, uint64_t idx, const uint8_t *d, size_t n) {
  (void)d;
  (void)n;
  drop_spec *s = user;
  if (from == s->from && idx >= s->index && idx < s->index + (uint64_t)s->count) {
    s->dropped++;
    return 1;
  }
  return 0;
}

START_TEST(a_lost_ack_makes_the_server_ack_the_client_finished_again) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  drop_spec ds = {1, 1, 1, 0}; /* the server's second datagram: its ACK */
  o.link.drop = drop_nth;
  o.link.drop_user = &ds;
  d13_pair pr;
  run_connected(&pr, &o);
  deliver_all(&pr);
  ck_assert_int_eq(ds.dropped, 1);
  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(pr.server.e, &st);
  ck_assert_uint_ge(st.acks_sent, 2);
  ck_assert_int_eq(d13c_final_acked(pr.client), 1);
  ck_assert_uint_ge(d13c_conn(pr.client)->stats.retransmissions, 1);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(a_partly_lost_flight_is_acked_and_only_the_rest_is_resent) {
  /* RSA server at MTU 300: its flight takes several datagrams; losing one
   * in the middle makes the client ACK at once (a gap) and the server
   * resend only what is missing, well before its timer. */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_RSA_2048);
  o.server.mtu = 300;
  o.client.mtu = 300;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  ck_assert_int_eq(d13_pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  uint64_t flight = pr.sends[1] - 1; /* all but the ACK */
  uint64_t clean_time = pr.p[1].connected_at;
  d13_pair_free(&pr);
  ck_assert_uint_ge(flight, 4);
  drop_spec ds = {1, flight / 2, 1, 0};
  o.link.drop = drop_nth;
  o.link.drop_user = &ds;
  d13_pair_init(&pr, &o);
  ck_assert_int_eq(d13_pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  expect_connected(&pr);
  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(pr.server.e, &st);
  ck_assert_uint_ge(st.acks_received, 1);
  ck_assert_uint_ge(st.fast_retransmissions, 1);
  ck_assert_uint_eq(st.retransmissions, 0);
  /* one datagram resent, not the flight */
  ck_assert_uint_le(pr.sends[1], flight + 1 + 2);
  ck_assert_uint_lt(pr.p[1].connected_at, clean_time + 100 * MS);
  d13_pair_free(&pr);
}
END_TEST

typedef struct send_log {
  uint64_t *now;
  uint64_t times[64];
  int n;
} send_log;

static int drop_client_after_hello(void *user, int from, uint64_t idx, const uint8_t *d, size_t n) {
  (void)d;
  (void)n;
  send_log *l = user;
  if (from == 1 && l->n < 64)
    l->times[l->n++] = *l->now;
  return from == 0 && idx >= 1;
}

START_TEST(server_retransmits_with_backoff_and_times_out_after_30_s) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  d13_pair pr;
  send_log log = {0};
  o.link.drop = drop_client_after_hello;
  o.link.drop_user = &log;
  d13_pair_init(&pr, &o);
  log.now = &pr.now;
  ck_assert_int_eq(d13_pair_run(&pr, 120 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  ck_assert_int_eq(pr.p[1].connected, 0);
  /* The server started when the ClientHello arrived (10 ms link delay) and
   * gave up 30 s later. */
  ck_assert_uint_le(pr.now, 10 * MS + 30 * SEC + 10 * MS);
  /* 100 ms, doubling, capped at 3 s (each flight is one datagram here). */
  uint64_t gap[12];
  for (int i = 1; i < 12 && i < log.n; i++)
    gap[i - 1] = log.times[i] - log.times[i - 1];
  ck_assert_int_ge(log.n, 12);
  static const uint64_t want[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
  for (int i = 0; i < 8; i++)
    ck_assert_msg(gap[i] == want[i] * MS, "retransmission %d after %llu us", i,
                  (unsigned long long)gap[i]);
  ck_assert_uint_eq(rtcsec_dtls13_deadline(pr.server.e), UINT64_MAX);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(records_in_every_header_form_and_with_padding_are_accepted) {
  /* _i 0: 8-bit sequence numbers; 1: padding; 2: both */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.seal_flags = _i != 1 ? RTCSEC_D13_SEAL_SEQ8 : 0;
  o.client.seal_pad = _i != 0 ? 33 : 0;
  d13_pair pr;
  run_connected(&pr, &o);
  for (int i = 0; i < 300; i++)
    ck_assert_int_eq(d13c_send(pr.client, (const uint8_t *)"x", 1, pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 300);
  /* A record without a length ends its datagram. */
  uint8_t rec[128];
  size_t n;
  ck_assert_int_eq(rtcsec_d13_seal_ex(&d13c_conn(pr.client)->w_app, RTCSEC_CT_APPLICATION_DATA,
                                      (const uint8_t *)"nolen", 5, 0, RTCSEC_D13_SEAL_NO_LENGTH,
                                      rec, sizeof(rec), &n),
                   0);
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr.server.e, rec, n, pr.now), 0);
  d13_peer_poll_server(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 301);
  ck_assert_mem_eq(pr.p[1].data, "nolen", 5);
  d13_pair_free(&pr);
}
END_TEST

/* ---- impairment sweeps (protocol time, fake clock) ----------------------------------------------
 */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct sweep {
  unsigned runs, connected, timeouts, other;
  uint64_t p50, p99, max;
} sweep;

typedef struct sweep_opts {
  double loss, reorder, duplicate;
  size_t mtu;
  int browser_like; /* two-datagram ClientHello */
  rtcsec_key_type server_key;
  int assoc; /* the server is an rtcsec_dtls association */
} sweep_opts;

static sweep run_sweep(const sweep_opts *so, unsigned first_seed, unsigned seeds) {
  sweep sw = {0};
  uint64_t *times = calloc(seeds, sizeof(*times));
  ck_assert_ptr_nonnull(times);
  for (unsigned seed = first_seed; seed < first_seed + seeds; seed++) {
    d13_opts o;
    opts_shared(&o, RTCSEC_KEY_ECDSA_P256, so->server_key);
    o.link.seed = seed;
    o.link.loss = so->loss;
    o.link.reorder = so->reorder;
    o.link.duplicate = so->duplicate;
    o.client.hybrid_share = so->browser_like;
    o.client.shuffle_seed = so->browser_like ? seed : 0;
    o.assoc = so->assoc;
    if (so->mtu) {
      o.client.mtu = so->mtu;
      o.server.mtu = so->mtu;
      o.link.max_len = so->mtu;
    }
    d13_pair pr;
    d13_pair_init(&pr, &o);
    harness_end end = d13_pair_run(&pr, 120 * SEC);
    ck_assert_msg(end == HARNESS_STOPPED, "loss %.0f%% seed %u: did not end by itself (%d)",
                  so->loss * 100, seed, end);
    ck_assert_msg(pr.bad_boundaries == 0, "seed %u: a datagram over the MTU or a split record",
                  seed);
    sw.runs++;
    if (pr.p[0].connected && pr.p[1].connected && !pr.p[0].failed && !pr.p[1].failed) {
      d13_assert_keys_match(&pr);
      times[sw.connected++] = pr.p[1].connected_at;
    } else {
      for (int i = 0; i < 2; i++) {
        if (pr.p[i].failed && pr.p[i].error == RTCSEC_ERR_HANDSHAKE_TIMEOUT)
          sw.timeouts++;
        else if (pr.p[i].failed)
          sw.other++;
      }
      if (so->loss <= 0.3)
        fprintf(stderr, "loss %.0f%% seed %u: client %d/%d (%d) server %d/%d (%d)\n",
                so->loss * 100, seed, pr.p[0].connected, pr.p[0].failed, pr.p[0].error,
                pr.p[1].connected, pr.p[1].failed, pr.p[1].error);
    }
    d13_pair_free(&pr);
  }
  if (sw.connected > 0) {
    qsort(times, sw.connected, sizeof(*times), cmp_u64);
    sw.p50 = times[sw.connected / 2];
    sw.p99 = times[sw.connected * 99 / 100];
    sw.max = times[sw.connected - 1];
  }
  free(times);
  printf("dtls13%s loss %2.0f%% reorder %2.0f%% dup %2.0f%% mtu %zu%s: %u/%u connected, %u side "
         "timeouts, %u other failures; server connected p50 %.3f s p99 %.3f s max %.3f s\n",
         so->assoc ? " (rtcsec_dtls)" : "", so->loss * 100, so->reorder * 100, so->duplicate * 100,
         so->mtu ? so->mtu : 1200, so->browser_like ? " (2-datagram ClientHello)" : "",
         sw.connected, sw.runs, sw.timeouts, sw.other, sw.p50 / 1e6, sw.p99 / 1e6, sw.max / 1e6);
  fflush(stdout);
  return sw;
}

START_TEST(all_1000_seeds_connect_at_0_10_and_20_percent_loss) {
  static const double losses[] = {0.0, 0.10, 0.20};
  sweep_opts so = {losses[_i], 0.1, 0.05, 0, 1, RTCSEC_KEY_ECDSA_P256, 0};
  sweep sw = run_sweep(&so, 1, 1000);
  ck_assert_uint_eq(sw.connected, 1000);
  ck_assert_uint_eq(sw.other, 0);
}
END_TEST

START_TEST(at_least_995_of_1000_seeds_connect_at_30_percent_loss) {
  sweep_opts so = {0.30, 0.1, 0.05, 0, 1, RTCSEC_KEY_ECDSA_P256, 0};
  sweep sw = run_sweep(&so, 1, 1000);
  ck_assert_uint_ge(sw.connected, 995);
  ck_assert_uint_eq(sw.other, 0);
}
END_TEST

START_TEST(every_run_ends_cleanly_at_40_and_50_percent_loss) {
  /* A connection or a clean time-out, never another failure. */
  sweep_opts so = {_i == 0 ? 0.40 : 0.50, 0.1, 0.05, 0, 1, RTCSEC_KEY_ECDSA_P256, 0};
  sweep sw = run_sweep(&so, 1, 500);
  ck_assert_uint_eq(sw.other, 0);
  ck_assert_uint_gt(sw.connected, 400);
}
END_TEST

START_TEST(heavy_reordering_and_duplication_still_connect) {
  /* _i 0: half of all datagrams held back; 1: every datagram twice; 2: both
   * with 10 % loss and 8-bit... all 300 seeds connect. */
  static const sweep_opts so[] = {{0.0, 0.5, 0.0, 0, 1, RTCSEC_KEY_ECDSA_P256, 0},
                                  {0.0, 0.0, 1.0, 0, 1, RTCSEC_KEY_ECDSA_P256, 0},
                                  {0.1, 0.5, 0.5, 576, 1, RTCSEC_KEY_RSA_2048, 0}};
  sweep sw = run_sweep(&so[_i], 1, 300);
  ck_assert_uint_eq(sw.connected, 300);
}
END_TEST

START_TEST(every_mtu_from_256_to_1500_connects_and_is_respected) {
  /* RSA server certificate, two-datagram ClientHello at 1200: the
   * server's flight is cut into many datagrams at small MTUs. Each MTU
   * with 20 seeds at 10 % loss. */
  for (size_t mtu = 256; mtu <= 1500; mtu += mtu < 600 ? 44 : 100) {
    sweep_opts so = {0.10, 0.1, 0.05, mtu, 1, RTCSEC_KEY_RSA_2048, 0};
    sweep sw = run_sweep(&so, 1, 20);
    ck_assert_msg(sw.connected == 20, "mtu %zu: %u of 20 connected", mtu, sw.connected);
  }
}
END_TEST

/* Runs the handshake of `o` once for its datagram counts, then once per
 * datagram with that one lost: every run connects, and even the client's
 * last flight is acknowledged. Gives the counts (client, server). */
static void lose_each_datagram_in_turn(d13_opts *o, uint64_t sent[2]) {
  d13_pair pr;
  run_connected(&pr, o);
  deliver_all(&pr);
  sent[0] = pr.sends[0];
  sent[1] = pr.sends[1];
  d13_pair_free(&pr);
  for (int from = 0; from < 2; from++) {
    for (uint64_t k = 0; k < sent[from]; k++) {
      drop_spec ds = {from, k, 1, 0};
      o->link.drop = drop_nth;
      o->link.drop_user = &ds;
      d13_pair_init(&pr, o);
      ck_assert_int_eq(d13_pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
      deliver_all(&pr);
      ck_assert_msg(pr.p[0].connected && pr.p[1].connected,
                    "losing datagram %llu of side %d: client %d server %d", (unsigned long long)k,
                    from, pr.p[0].connected, pr.p[1].connected);
      expect_connected(&pr);
      ck_assert_int_eq(ds.dropped, 1);
      /* Even the last ACK: the client retransmits until it gets one. */
      ck_assert_int_eq(d13c_final_acked(pr.client), 1);
      d13_pair_free(&pr);
    }
  }
  o->link.drop = NULL;
  o->link.drop_user = NULL;
}

START_TEST(losing_any_one_datagram_of_the_handshake_still_connects) {
  /* _i 0: ECDSA at MTU 1200, two-datagram ClientHello; 1: RSA server at
   * MTU 300 (many datagrams per flight); 2: with a HelloRetryRequest. */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, _i == 1 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256);
  o.client.hybrid_share = _i != 2;
  o.client.n_shares_zero = _i == 2;
  if (_i == 1) {
    o.client.mtu = o.server.mtu = 300;
  }
  uint64_t sent[2];
  lose_each_datagram_in_turn(&o, sent);
  printf("dtls13: lost each of the %llu + %llu handshake datagrams in turn (case %d): all "
         "connected\n",
         (unsigned long long)sent[0], (unsigned long long)sent[1], (int)_i);
}
END_TEST

/* ---- bad ClientHellos -------------------------------------------------------------------------
 */

START_TEST(non_empty_legacy_cookie_is_refused_with_illegal_parameter) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.legacy_cookie_len = 1 + (size_t)_i * 31;
  expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
}
END_TEST

START_TEST(bad_key_share_lengths_are_refused_with_illegal_parameter) {
  /* _i: x25519 -1, +1, -31; P-256 -1, +1, -64 */
  static const int delta[] = {-1, 1, -31, -1, 1, -64};
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.share_groups[0] = _i < 3 ? RTCSEC_GROUP_X25519 : RTCSEC_GROUP_SECP256R1;
  o.client.share_len_delta = delta[_i];
  expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
}
END_TEST

START_TEST(key_share_not_on_the_curve_or_for_an_unlisted_group_is_refused) {
  /* _i 0: a P-256 share that is not a point of the curve; 1: an x25519
   * share of a small-order point (all-zero secret, RFC 8446 §7.4.2); 2: a
   * share for a group the client does not list; 3: two shares of one
   * group. All illegal_parameter. */
  d13c_config cfg;
  d13c_config_default(&cfg);
  cfg.share_groups[0] = _i == 0 ? RTCSEC_GROUP_SECP256R1 : RTCSEC_GROUP_X25519;
  uint8_t m[4096];
  size_t n = client_hello(&cfg, m, sizeof(m));
  rtcsec_client_hello ch;
  int alert;
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  uint8_t *key = (uint8_t *)ch.key_shares[0].key;
  if (_i == 0) {
    key[64] ^= 1; /* y no longer matches x */
  } else if (_i == 1) {
    memset(key, 0, 32);
  } else if (_i == 2) {
    put_uint(key - 4, 2, RTCSEC_GROUP_SECP384R1);
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  } else {
    /* the supported_groups list says x25519 twice is fine; key_share twice is not */
    uint8_t two[256], out[4096];
    rtcsec_wr w;
    wr_init(&w, two, sizeof(two));
    wr_u16(&w, RTCSEC_EXT_KEY_SHARE);
    wr_u16(&w, 2 + 2 * 36);
    wr_u16(&w, 2 * 36);
    for (int i = 0; i < 2; i++) {
      wr_u16(&w, RTCSEC_GROUP_X25519);
      wr_u16(&w, 32);
      wr_bytes(&w, key, 32);
    }
    for (size_t i = 0; i < ch.n_extensions; i++) {
      if (ch.extensions[i].type != RTCSEC_EXT_KEY_SHARE)
        wr_bytes(&w, ch.extensions[i].data - 4, ch.extensions[i].len + 4);
    }
    n = with_extensions(m, out, two, w.off);
    memcpy(m, out, n);
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  }
  rtcsec_cert *cert = shared(RTCSEC_KEY_ECDSA_P256, 1);
  d13s s;
  d13s_init(&s, cert, NULL);
  rtcsec_dtls13 *e = NULL;
  ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &s.cfg, &ch, 0), RTCSEC_ERR_HANDSHAKE);
  ck_assert_ptr_nonnull(e);
  ck_assert_int_eq(rtcsec_dtls13_state(e), RTCSEC_DTLS_STATE_FAILED);
  rtcsec_event ev;
  ck_assert_int_eq(rtcsec_dtls13_poll_event(e, &ev), 0);
  ck_assert_int_eq(ev.type, RTCSEC_EVENT_FAILED);
  ck_assert_int_eq(ev.failed.alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  uint8_t d[64];
  size_t dl = 0;
  ck_assert_int_eq(rtcsec_dtls13_poll_datagram(e, d, sizeof(d), &dl), 0);
  ck_assert_uint_eq(dl, 15);
  ck_assert_uint_eq(d[14], RTCSEC_ALERT_ILLEGAL_PARAMETER);
  rtcsec_dtls13_free(e);
  d13s_free(&s);
}
END_TEST

START_TEST(client_hello_without_use_srtp_is_refused) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.omit_use_srtp = 1;
  expect_client_hello_refused(&o, RTCSEC_ERR_SRTP_NOT_NEGOTIATED, RTCSEC_ALERT_HANDSHAKE_FAILURE);
}
END_TEST

START_TEST(use_srtp_without_a_common_profile_is_refused) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.profiles[0] = RTCSEC_SRTP_AES128_CM_SHA1_32;
  o.client.profiles[1] = (rtcsec_srtp_profile)0x0005; /* unknown to rtcsec */
  o.client.n_profiles = 2;
  static const rtcsec_srtp_profile server[] = {RTCSEC_SRTP_AEAD_AES_128_GCM};
  o.server.profiles = server;
  o.server.n_profiles = 1;
  expect_client_hello_refused(&o, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE,
                              RTCSEC_ALERT_HANDSHAKE_FAILURE);
}
END_TEST

START_TEST(client_hello_the_server_cannot_serve_is_refused_with_the_right_alert) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  int alert = RTCSEC_ALERT_HANDSHAKE_FAILURE;
  switch (_i) {
  case 0: /* no AES-GCM suite */
    o.client.suites[0] = 0x1303;
    o.client.n_suites = 1;
    break;
  case 1: /* AES-256 only, and the server does not allow it */
    o.client.suites[0] = RTCSEC_TLS_AES_256_GCM_SHA384;
    o.client.n_suites = 1;
    o.server.allow_aes256 = 0;
    break;
  case 2: /* no group in common */
    o.client.groups[0] = RTCSEC_GROUP_SECP384R1;
    o.client.n_groups = 1;
    o.client.n_shares_zero = 1;
    break;
  case 3: /* no signature scheme for the server's ECDSA key */
    o.client.sig_algs[0] = RTCSEC_SIG_RSA_PSS_RSAE_SHA256;
    o.client.n_sig_algs = 1;
    break;
  case 4: /* legacy_version other than {254, 253} (RFC 9147 §5.3) */
    o.client.legacy_version = RTCSEC_DTLS10_VERSION;
    alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    break;
  case 5: /* a cookie the server never gave */
    o.client.cookie_in_first = 1;
    alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    break;
  case 6: /* no signature_algorithms at all */
    alert = RTCSEC_ALERT_MISSING_EXTENSION;
    break;
  default:
    ck_abort();
  }
  if (_i == 6) {
    /* the test client always writes the extension: build the ClientHello
     * and drop it by hand */
    uint8_t m[4096], exts[4096], out[4096];
    size_t n = client_hello(&o.client, m, sizeof(m));
    rtcsec_client_hello ch;
    int a;
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &a), 0);
    size_t el = 0;
    for (size_t i = 0; i < ch.n_extensions; i++) {
      if (ch.extensions[i].type == RTCSEC_EXT_SIGNATURE_ALGORITHMS)
        continue;
      memcpy(exts + el, ch.extensions[i].data - 4, ch.extensions[i].len + 4);
      el += ch.extensions[i].len + 4;
    }
    n = with_extensions(m, out, exts, el);
    ck_assert_int_eq(rtcsec_client_hello_parse(&ch, out, n, &a), 0);
    d13s s;
    d13s_init(&s, shared(RTCSEC_KEY_ECDSA_P256, 1), NULL);
    rtcsec_dtls13 *e = NULL;
    ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &s.cfg, &ch, 0), RTCSEC_ERR_HANDSHAKE);
    rtcsec_event ev;
    rtcsec_dtls13_poll_event(e, &ev);
    ck_assert_int_eq(ev.failed.alert, alert);
    rtcsec_dtls13_free(e);
    d13s_free(&s);
    return;
  }
  expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, alert);
}
END_TEST

START_TEST(a_second_client_hello_that_differs_is_refused) {
  /* After a HelloRetryRequest, another random (RFC 8446 §4.1.2). */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.n_shares_zero = 1;
  o.client.change_second_hello = 1;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  ck_assert_int_eq(d13_pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(pr.p[1].alert, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  ck_assert_int_eq(pr.p[0].connected, 0);
  d13_pair_free(&pr);
}
END_TEST

/* A forged second ClientHello without the cookie arrives first: dropped,
 * and the genuine one still completes the handshake. */
typedef struct forge_ctx {
  d13_pair *pr;
  int injected;
} forge_ctx;

static int forge_step(void *user, uint64_t now) {
  forge_ctx *f = user;
  d13_pair *pr = f->pr;
  pr->now = now;
  if (!f->injected && pr->server.e != NULL && rtcsec_dtls13_used_hrr(pr->server.e)) {
    f->injected = 1;
    d13c_config cfg;
    d13c_config_default(&cfg);
    uint8_t m[4096], rec[2048], dg[2048];
    size_t n = client_hello(&cfg, m, sizeof(m)), dl;
    rec[0] = RTCSEC_HS_CLIENT_HELLO;
    put_uint(rec + 1, 3, n);
    put_uint(rec + 4, 2, 1); /* message_seq of a second ClientHello */
    put_uint(rec + 6, 3, 0);
    put_uint(rec + 9, 3, n);
    memcpy(rec + 12, m, n);
    ck_assert_int_eq(rtcsec_d13_plain(RTCSEC_CT_HANDSHAKE, 7, rec, 12 + n, dg, sizeof(dg), &dl), 0);
    ck_assert_int_eq(d13s_handle_datagram(&pr->server, dg, dl, now), 0);
    ck_assert_int_eq(rtcsec_dtls13_state(pr->server.e), RTCSEC_DTLS_STATE_HANDSHAKING);
  }
  d13_peer_poll_client(pr);
  d13_peer_poll_server(pr);
  return (pr->p[0].connected || pr->p[0].failed) && (pr->p[1].connected || pr->p[1].failed);
}

START_TEST(a_forged_second_client_hello_without_the_cookie_is_dropped) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.n_shares_zero = 1;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  forge_ctx f = {&pr, 0};
  harness_hooks hooks = {forge_step, NULL, &f};
  ck_assert_int_eq(harness_run(pr.ep, pr.link, &pr.now, 60 * SEC, &hooks), HARNESS_STOPPED);
  ck_assert_int_eq(f.injected, 1);
  expect_connected(&pr);
  d13_pair_free(&pr);
}
END_TEST

/* ---- bad client flights ---------------------------------------------------------------------- */

START_TEST(a_bad_finished_fails_with_decrypt_error) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.client.corrupt_finished = 1;
  expect_client_flight_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECRYPT_ERROR);
}
END_TEST

START_TEST(a_bad_certificate_verify_fails_with_decrypt_error) {
  /* _i 0: a flipped bit; 1: signed with another ECDSA key; 2: RSA client
   * with a flipped bit; 3: signed with an RSA key for an ECDSA certificate
   * (a scheme that does not fit the key: illegal_parameter). */
  d13_opts o;
  opts_shared(&o, _i == 2 ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  rtcsec_cert *other = NULL;
  if (_i == 1 || _i == 3) {
    other = shared(_i == 1 ? RTCSEC_KEY_ECDSA_P256 : RTCSEC_KEY_RSA_2048, 1);
    o.client.sign_with = other;
  } else {
    o.client.corrupt_cv = 1;
  }
  expect_client_flight_refused(&o, RTCSEC_ERR_HANDSHAKE,
                               _i == 3 ? RTCSEC_ALERT_ILLEGAL_PARAMETER
                                       : RTCSEC_ALERT_DECRYPT_ERROR);
}
END_TEST

START_TEST(a_certificate_that_does_not_match_the_fingerprint_fails_before_any_key) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.wrong_fp = 1;
  expect_client_flight_refused(&o, RTCSEC_ERR_FINGERPRINT_MISMATCH, RTCSEC_ALERT_BAD_CERTIFICATE);
}
END_TEST

START_TEST(a_missing_client_certificate_fails_with_certificate_required) {
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.no_client_cert = 1;
  expect_client_flight_refused(&o, RTCSEC_ERR_NO_PEER_CERTIFICATE,
                               RTCSEC_ALERT_CERTIFICATE_REQUIRED);
}
END_TEST

/* ---- bad records on a connected association ------------------------------------------------- */

static d13_pair *connected_pair(void) {
  d13_pair *pr = calloc(1, sizeof(*pr));
  ck_assert_ptr_nonnull(pr);
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  run_connected(pr, &o);
  deliver_all(pr);
  return pr;
}

static void done_pair(d13_pair *pr) {
  d13_pair_free(pr);
  free(pr);
}

/* A genuine protected record from the client, not delivered. */
static size_t client_record(d13_pair *pr, uint8_t type, const char *text, uint8_t *out) {
  size_t n = 0;
  ck_assert_int_eq(rtcsec_d13_seal(&d13c_conn(pr->client)->w_app, type, (const uint8_t *)text,
                                   strlen(text), out, 2048, &n),
                   0);
  return n;
}

static void expect_dropped(d13_pair *pr, const uint8_t *d, size_t n) {
  rtcsec_d13_stats before, after;
  rtcsec_dtls13_get_stats(pr->server.e, &before);
  int events = pr->p[1].n_events;
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr->server.e, d, n, pr->now), 0);
  d13_peer_poll_server(pr);
  ck_assert_int_eq(pr->p[1].n_events, events);
  ck_assert_int_eq(rtcsec_dtls13_state(pr->server.e), RTCSEC_DTLS_STATE_CONNECTED);
  rtcsec_dtls13_get_stats(pr->server.e, &after);
  ck_assert_uint_eq(after.datagrams_received, before.datagrams_received + 1);
  ck_assert_uint_eq(after.records_received, before.records_received);
  uint8_t out[2048];
  size_t on = 0;
  ck_assert_int_eq(rtcsec_dtls13_poll_datagram(pr->server.e, out, sizeof(out), &on), 0);
  ck_assert_uint_eq(on, 0);
}

static void expect_accepted(d13_pair *pr, const uint8_t *d, size_t n, const char *text) {
  int before = pr->p[1].n_data;
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr->server.e, d, n, pr->now), 0);
  d13_peer_poll_server(pr);
  ck_assert_int_eq(pr->p[1].n_data, before + 1);
  ck_assert_uint_eq(pr->p[1].data_len, strlen(text));
  ck_assert_mem_eq(pr->p[1].data, text, strlen(text));
}

START_TEST(records_with_the_connection_id_bit_are_dropped) {
  d13_pair *pr = connected_pair();
  uint8_t g[2048], bad[2048];
  size_t n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "after cid", g);
  memcpy(bad, g, n);
  bad[0] |= 0x10;
  expect_dropped(pr, bad, n);
  /* ... also behind a genuine record in the same datagram: the rest of
   * the datagram cannot be framed, the genuine one before it counts */
  uint8_t two[4096];
  size_t m = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "first", two);
  memcpy(two + m, bad, n);
  expect_accepted(pr, two, m + n, "first");
  expect_accepted(pr, g, n, "after cid");
  done_pair(pr);
}
END_TEST

START_TEST(replayed_records_are_dropped) {
  d13_pair *pr = connected_pair();
  uint8_t g[2048];
  size_t n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "once", g);
  expect_accepted(pr, g, n, "once");
  for (int i = 0; i < 3; i++)
    expect_dropped(pr, g, n);
  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(pr->server.e, &st);
  ck_assert_uint_eq(st.records_replayed, 3);
  /* An old record still inside the window is new once, then a replay. */
  uint8_t old[2048], newer[2048];
  size_t on = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "old", old);
  size_t nn = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "newer", newer);
  expect_accepted(pr, newer, nn, "newer");
  expect_accepted(pr, old, on, "old");
  expect_dropped(pr, old, on);
  done_pair(pr);
}
END_TEST

START_TEST(truncated_flipped_and_garbage_records_of_every_length_are_dropped) {
  d13_pair *pr = connected_pair();
  uint8_t g[2048], bad[2048];
  size_t n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "the genuine record", g);
  for (size_t l = 0; l < n; l++)
    expect_dropped(pr, g, l);
  for (size_t i = 0; i < n; i++) {
    memcpy(bad, g, n);
    bad[i] ^= 0x40;
    expect_dropped(pr, bad, n);
  }
  uint64_t seed = 7;
  for (size_t l = 0; l <= 400; l++) {
    for (size_t i = 0; i < l; i++)
      bad[i] = (uint8_t)test_rand_next(&seed);
    if (l > 0 && l % 2 == 0)
      bad[0] = (uint8_t)(0x20 | (bad[0] & 0x1f)); /* half of them look protected */
    if (l > 0 && l % 5 == 0)
      bad[0] = (uint8_t)(20 + l % 7); /* some look like plaintext records */
    expect_dropped(pr, bad, l);
  }
  /* Epoch bits with no keys (1: early data), and the handshake epoch with
   * a forged record. */
  memcpy(bad, g, n);
  bad[0] = (uint8_t)((bad[0] & ~3) | 1);
  expect_dropped(pr, bad, n);
  bad[0] = (uint8_t)((bad[0] & ~3) | 2);
  expect_dropped(pr, bad, n);
  expect_accepted(pr, g, n, "the genuine record");
  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(pr->server.e, &st);
  ck_assert_uint_ge(st.records_dropped, 2 * n);
  done_pair(pr);
}
END_TEST

START_TEST(plaintext_alerts_and_acks_have_no_power) {
  d13_pair *pr = connected_pair();
  /* A fatal handshake_failure and a close_notify, in plaintext. */
  uint8_t a[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40};
  expect_dropped(pr, a, sizeof(a));
  a[13] = 1;
  a[14] = 0;
  expect_dropped(pr, a, sizeof(a));
  uint8_t ack[] = {26, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 10, 0, 2, 0, 0};
  expect_dropped(pr, ack, sizeof(ack));
  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(pr->server.e, &st);
  ck_assert_uint_eq(st.plaintext_ignored, 3);
  uint8_t g[2048];
  size_t n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "still here", g);
  expect_accepted(pr, g, n, "still here");
  done_pair(pr);
}
END_TEST

/* Injects into the server, once, right after it sent its encrypted
 * flight: a plaintext fatal alert, garbage of every length, every
 * truncation of the client's first datagram. The handshake must go on. */
typedef struct inject_ctx {
  d13_pair *pr;
  int done;
} inject_ctx;

/* 1 once the server (engine or association) has sent its first flight. */
static int server_has_answered(const d13_pair *pr) {
  if (pr->assoc) {
    rtcsec_dtls_stats st;
    ck_assert_int_eq(rtcsec_dtls_get_stats(pr->p[1].d, &st), 0);
    return st.datagrams_sent > 0;
  }
  return pr->server.e != NULL && rtcsec_dtls13_test_conn(pr->server.e)->stats.datagrams_sent > 0;
}

static int inject_step(void *user, uint64_t now) {
  inject_ctx *x = user;
  d13_pair *pr = x->pr;
  pr->now = now;
  if (!x->done && server_has_answered(pr) && pr->p[1].connected == 0) {
    x->done = 1;
    harness_endpoint *ep = &pr->ep[1];
    uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 5, 0, 2, 2, 40};
    ck_assert_int_eq(ep->handle_datagram(ep->obj, alert, sizeof(alert), now), 0);
    uint64_t seed = 99;
    uint8_t g[512];
    for (size_t l = 0; l <= 300; l++) {
      for (size_t i = 0; i < l; i++)
        g[i] = (uint8_t)test_rand_next(&seed);
      if (l > 0)
        g[0] = (uint8_t)(l % 3 == 0 ? 22 : l % 3 == 1 ? (0x20 | (g[0] & 0x0f)) : g[0]);
      ck_assert_int_eq(ep->handle_datagram(ep->obj, g, l, now), 0);
    }
    /* a handshake record in epoch 2 that does not authenticate */
    g[0] = 0x2e;
    ck_assert_int_eq(ep->handle_datagram(ep->obj, g, 100, now), 0);
    if (pr->assoc) {
      rtcsec_dtls_stats st;
      ck_assert_int_eq(rtcsec_dtls_get_state(pr->p[1].d), RTCSEC_DTLS_STATE_HANDSHAKING);
      ck_assert_int_eq(rtcsec_dtls_get_stats(pr->p[1].d, &st), 0);
      ck_assert_uint_ge(st.unauthenticated_alerts, 1);
      ck_assert_int_eq(st.last_unauthenticated_alert, 40);
    } else {
      ck_assert_int_eq(rtcsec_dtls13_state(pr->server.e), RTCSEC_DTLS_STATE_HANDSHAKING);
      ck_assert_uint_ge(rtcsec_dtls13_test_conn(pr->server.e)->stats.plaintext_ignored, 1);
    }
  }
  d13_peer_poll_client(pr);
  d13_peer_poll_server(pr);
  return (pr->p[0].connected || pr->p[0].failed) && (pr->p[1].connected || pr->p[1].failed);
}

START_TEST(a_plaintext_alert_and_garbage_after_the_encrypted_flight_are_ignored) {
  /* _i 0: the engine; 1: the rtcsec_dtls association. */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.assoc = _i;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  inject_ctx x = {&pr, 0};
  harness_hooks hooks = {inject_step, NULL, &x};
  ck_assert_int_eq(harness_run(pr.ep, pr.link, &pr.now, 60 * SEC, &hooks), HARNESS_STOPPED);
  ck_assert_int_eq(x.done, 1);
  expect_connected(&pr);
  d13_pair_free(&pr);
}
END_TEST

/* Sends a handshake message from the client under its current keys. */
static void client_handshake_message(d13_pair *pr, uint8_t type, const uint8_t *body, size_t len) {
  rtcsec_d13_conn *c = d13c_conn(pr->client);
  rtcsec_d13_conn_flight_begin(c, 1);
  ck_assert_int_eq(rtcsec_d13_conn_flight_add(c, type, body, len, c->w_app.epoch), 0);
  ck_assert_int_eq(rtcsec_d13_conn_flight_send(c, pr->now), 0);
  deliver_all(pr);
}

START_TEST(bad_post_handshake_messages_fail_the_association) {
  /* _i 0: KeyUpdate with request_update 2 (illegal_parameter); 1: a
   * KeyUpdate of two bytes (decode_error); 2: a Finished after the
   * handshake (unexpected_message); 3: a handshake message declared
   * larger than rtcsec buffers (decode_error). */
  d13_pair *pr = connected_pair();
  static const int alerts[] = {RTCSEC_ALERT_ILLEGAL_PARAMETER, RTCSEC_ALERT_DECODE_ERROR,
                               RTCSEC_ALERT_UNEXPECTED_MESSAGE, RTCSEC_ALERT_DECODE_ERROR};
  if (_i == 0) {
    client_handshake_message(pr, RTCSEC_HS_KEY_UPDATE, (const uint8_t *)"\x02", 1);
  } else if (_i == 1) {
    client_handshake_message(pr, RTCSEC_HS_KEY_UPDATE, (const uint8_t *)"\x00\x00", 2);
  } else if (_i == 2) {
    uint8_t fin[32] = {0};
    client_handshake_message(pr, RTCSEC_HS_FINISHED, fin, sizeof(fin));
  } else {
    uint8_t frag[12 + 4] = {RTCSEC_HS_KEY_UPDATE};
    put_uint(frag + 1, 3, RTCSEC_D13_MAX_MSG + 1);
    put_uint(frag + 4, 2, 9);
    put_uint(frag + 9, 3, 4);
    uint8_t rec[128];
    size_t n;
    ck_assert_int_eq(rtcsec_d13_seal(&d13c_conn(pr->client)->w_app, RTCSEC_CT_HANDSHAKE, frag,
                                     sizeof(frag), rec, sizeof(rec), &n),
                     0);
    rtcsec_dtls13_handle_datagram(pr->server.e, rec, n, pr->now);
    d13_peer_poll_server(pr);
  }
  ck_assert_int_eq(pr->p[1].failed, 1);
  ck_assert_int_eq(pr->p[1].error, RTCSEC_ERR_HANDSHAKE);
  ck_assert_int_eq(pr->p[1].alert, alerts[_i]);
  done_pair(pr);
}
END_TEST

START_TEST(an_authenticated_fatal_alert_fails_with_peer_alert) {
  d13_pair *pr = connected_pair();
  uint8_t rec[64];
  size_t n;
  const uint8_t a[2] = {2, RTCSEC_ALERT_INTERNAL_ERROR};
  ck_assert_int_eq(
      rtcsec_d13_seal(&d13c_conn(pr->client)->w_app, RTCSEC_CT_ALERT, a, 2, rec, sizeof(rec), &n),
      0);
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr->server.e, rec, n, pr->now),
                   RTCSEC_ERR_PEER_ALERT);
  d13_peer_poll_server(pr);
  ck_assert_int_eq(pr->p[1].error, RTCSEC_ERR_PEER_ALERT);
  ck_assert_int_eq(pr->p[1].alert, RTCSEC_ALERT_INTERNAL_ERROR);
  ck_assert_int_eq(pr->p[1].alert_from_peer, 1);
  /* sticky */
  ck_assert_int_eq(rtcsec_dtls13_send(pr->server.e, (const uint8_t *)"x", 1, pr->now),
                   RTCSEC_ERR_PEER_ALERT);
  ck_assert_int_eq(rtcsec_dtls13_handle_timeout(pr->server.e, pr->now), RTCSEC_ERR_PEER_ALERT);
  done_pair(pr);
}
END_TEST

START_TEST(the_aead_limits_rekey_early_and_never_send_past_the_limit) {
  d13_pair *pr = connected_pair();
  rtcsec_d13_conn *sc = rtcsec_dtls13_test_conn(pr->server.e);
  /* Confidentiality: past 2^23 records a KeyUpdate goes out by itself. */
  sc->w_app.records = RTCSEC_D13_REKEY_AFTER;
  ck_assert_int_eq(rtcsec_dtls13_send(pr->server.e, (const uint8_t *)"x", 1, pr->now), 0);
  ck_assert_uint_eq(sc->stats.key_updates_sent, 1);
  deliver_all(pr);
  ck_assert_uint_eq(sc->w_app.epoch, 4);
  ck_assert_uint_lt(sc->w_app.records, 10);
  /* Never past 2^24 under one key. */
  sc->w_app.records = RTCSEC_D13_SEND_LIMIT;
  sc->flight.is_key_update = 1; /* as if the KeyUpdate were still unacknowledged */
  ck_assert_int_eq(rtcsec_dtls13_send(pr->server.e, (const uint8_t *)"x", 1, pr->now),
                   RTCSEC_ERR_KEY_EXHAUSTED);
  ck_assert_int_eq(rtcsec_dtls13_error(pr->server.e), RTCSEC_ERR_KEY_EXHAUSTED);
  done_pair(pr);
}
END_TEST

START_TEST(records_failing_authentication_lead_to_a_rekey_then_to_dropped_keys) {
  d13_pair *pr = connected_pair();
  rtcsec_d13_conn *sc = rtcsec_dtls13_test_conn(pr->server.e);
  uint8_t g[2048];
  size_t n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "forged", g);
  g[n - 1] ^= 1;
  sc->r_app[1].failures = RTCSEC_D13_FAIL_REKEY - 1;
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr->server.e, g, n, pr->now), 0);
  /* RFC 9147 §4.5.3: a KeyUpdate with update_requested. */
  ck_assert_uint_eq(sc->stats.key_updates_sent, 1);
  deliver_all(pr);
  ck_assert_uint_eq(d13c_conn(pr->client)->w_app.epoch, 4);
  uint8_t ok[2048];
  size_t on = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "fresh keys", ok);
  expect_accepted(pr, ok, on, "fresh keys");
  /* At the limit the keys are no longer used at all. */
  sc->r_app[1].failures = RTCSEC_D13_FAIL_LIMIT - 1;
  n = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "forged again", g);
  g[n - 1] ^= 1;
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(pr->server.e, g, n, pr->now), 0);
  ck_assert_int_eq(sc->r_app[1].active, 0);
  on = client_record(pr, RTCSEC_CT_APPLICATION_DATA, "too late", ok);
  expect_dropped(pr, ok, on);
  done_pair(pr);
}
END_TEST

START_TEST(engine_refuses_bad_arguments_and_wrong_states) {
  rtcsec_dtls13 *e = (rtcsec_dtls13 *)1;
  rtcsec_dtls13_config cfg;
  rtcsec_dtls13_config_default(&cfg);
  rtcsec_client_hello ch;
  memset(&ch, 0, sizeof(ch));
  ck_assert_int_eq(rtcsec_dtls13_server_new(NULL, &cfg, &ch, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &cfg, &ch, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(e);
  d13s s;
  d13s_init(&s, shared(RTCSEC_KEY_ECDSA_P256, 1), NULL);
  d13c_config cc;
  d13c_config_default(&cc);
  uint8_t m[4096];
  size_t n = client_hello(&cc, m, sizeof(m));
  int alert;
  ck_assert_int_eq(rtcsec_client_hello_parse(&ch, m, n, &alert), 0);
  s.cfg.mtu = 255;
  ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &s.cfg, &ch, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  s.cfg.mtu = 1200;
  static const rtcsec_srtp_profile unknown[] = {(rtcsec_srtp_profile)5};
  s.cfg.profiles = unknown;
  s.cfg.n_profiles = 1;
  ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &s.cfg, &ch, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  s.cfg.n_profiles = 0;
  ck_assert_int_eq(rtcsec_dtls13_server_new(&e, &s.cfg, &ch, 0), 0);
  ck_assert_int_eq(rtcsec_dtls13_state(e), RTCSEC_DTLS_STATE_HANDSHAKING);
  ck_assert_int_eq(rtcsec_dtls13_send(e, (const uint8_t *)"x", 1, 0), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_dtls13_key_update(e, 0, 0), RTCSEC_ERR_INVALID_STATE);
  uint8_t out[16];
  ck_assert_int_eq(rtcsec_dtls13_export(e, "x", NULL, 0, out, 16), RTCSEC_ERR_INVALID_STATE);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_dtls13_poll_datagram(e, out, sizeof(out), &len),
                   RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(rtcsec_dtls13_deadline(e), 100 * MS);
  ck_assert_int_eq(rtcsec_dtls13_handle_datagram(e, NULL, 3, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_dtls13_free(e);
  rtcsec_dtls13_free(NULL);
  d13s_free(&s);
}
END_TEST

/* ---- X25519MLKEM768 (issue 17) -------------------------------------------------------------- */

/* The browsers' shape: X25519MLKEM768 and x25519 shares, the hybrid group
 * first in supported_groups; _i selects the bare engine (0) or rtcsec_dtls
 * as applications get it (1). */
static void hybrid_opts(d13_opts *o, int assoc) {
  opts_shared(o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o->assoc = assoc;
  o->client.hybrid_share = 1;
}

/* The group the server agreed on, as the association or the engine says. */
static const char *server_group(const d13_pair *pr) {
  if (!pr->assoc)
    return rtcsec_dtls13_group_name(pr->server.e);
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(pr->p[1].d, &st), 0);
  return st.group;
}

static int server_used_hrr(const d13_pair *pr) {
  return pr->assoc ? d13c_got_hrr(pr->client) : rtcsec_dtls13_used_hrr(pr->server.e);
}

START_TEST(hybrid_group_is_taken_first_when_the_client_sends_its_share) {
  d13_opts o;
  hybrid_opts(&o, _i);
  d13_pair pr;
  run_connected(&pr, &o);
  /* Both sides: the client decapsulated the server's ciphertext and got the
   * same secret (the SRTP keys match), the group named everywhere. */
  ck_assert_str_eq(pr.p[0].info.group, "X25519MLKEM768");
  ck_assert_str_eq(pr.p[1].info.group, "X25519MLKEM768");
  ck_assert_str_eq(server_group(&pr), "X25519MLKEM768");
  ck_assert_int_eq(server_used_hrr(&pr), 0);
  ck_assert_int_eq(d13c_got_hrr(pr.client), 0);
  ck_assert_uint_eq(pr.sends[0], 3); /* the ClientHello in two datagrams, the client flight */
  if (pr.assoc) {
    rtcsec_connected_info info;
    ck_assert_int_eq(rtcsec_dtls_get_connected(pr.p[1].d, &info), 0);
    ck_assert_str_eq(info.group, "X25519MLKEM768");
    ck_assert_str_eq(info.version, "DTLSv1.3");
  }
  d13_pair_free(&pr);
}
END_TEST

START_TEST(hybrid_group_off_takes_x25519_from_the_same_client_hello) {
  /* enable_mlkem 0: the browsers' ClientHello gets x25519 at once. */
  d13_opts o;
  hybrid_opts(&o, _i);
  o.server.enable_mlkem = 0;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_str_eq(pr.p[1].info.group, "x25519");
  ck_assert_str_eq(server_group(&pr), "x25519");
  ck_assert_int_eq(d13c_got_hrr(pr.client), 0);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(hybrid_group_listed_without_a_share_gets_x25519_not_a_retry) {
  /* Firefox with media.webrtc.send_mlkem_keyshare off: X25519MLKEM768 in
   * supported_groups, an x25519 share only. rtcsec takes the share it has
   * rather than spend a round trip on a HelloRetryRequest (_i 0: listed
   * after x25519, as Firefox does; 1: listed first). */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.assoc = 1;
  o.client.groups[0] = _i ? RTCSEC_GROUP_X25519MLKEM768 : RTCSEC_GROUP_X25519;
  o.client.groups[1] = _i ? RTCSEC_GROUP_X25519 : RTCSEC_GROUP_X25519MLKEM768;
  o.client.groups[2] = RTCSEC_GROUP_SECP256R1;
  o.client.n_groups = 3;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_str_eq(server_group(&pr), "x25519");
  ck_assert_int_eq(d13c_got_hrr(pr.client), 0);
  ck_assert_uint_eq(pr.sends[0], 2); /* one ClientHello, the client flight */
  d13_pair_free(&pr);
}
END_TEST

START_TEST(hybrid_group_offered_without_any_share_gets_a_hello_retry_request_for_it) {
  /* No share at all, X25519MLKEM768 listed (_i 0: alone; 1: with x25519
   * after it; 2: the same through rtcsec_dtls): the server's first group the
   * client lists is asked for, and the second ClientHello carries its 1216
   * bytes over two datagrams. */
  d13_opts o;
  opts_shared(&o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o.assoc = _i == 2;
  o.client.groups[0] = RTCSEC_GROUP_X25519MLKEM768;
  o.client.groups[1] = RTCSEC_GROUP_X25519;
  o.client.n_groups = _i == 0 ? 1 : 2;
  o.client.n_shares_zero = 1;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_int_eq(d13c_got_hrr(pr.client), 1);
  ck_assert_str_eq(server_group(&pr), "X25519MLKEM768");
  ck_assert_str_eq(pr.p[0].info.group, "X25519MLKEM768");
  /* ClientHello, the second ClientHello in two datagrams, client flight. */
  ck_assert_uint_eq(pr.sends[0], 4);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(hybrid_share_of_the_wrong_length_is_refused) {
  /* FIPS 203 sizes (draft-ietf-tls-ecdhe-mlkem §3): the client's share is
   * exactly 1184 + 32 bytes. _i / 2: one short, one long, the X25519 part
   * only (32), the ML-KEM part only (1184); _i % 2: engine, association. */
  static const int delta[] = {-1, 1, -1184, -32};
  d13_opts o;
  hybrid_opts(&o, _i % 2);
  o.client.hybrid_len_delta = delta[_i / 2];
  expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
}
END_TEST

START_TEST(hybrid_share_with_an_invalid_encapsulation_key_is_refused) {
  /* FIPS 203 §7.2: ek's coefficients must be below q; the first is 4095.
   * Refused before any encapsulation, illegal_parameter (RFC 8446 §4.2.8). */
  d13_opts o;
  hybrid_opts(&o, _i);
  o.client.hybrid_bad_ek = 1;
  expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
}
END_TEST

START_TEST(hybrid_invalid_encapsulation_key_is_never_looked_at_with_the_group_off) {
  /* enable_mlkem 0: the hybrid share is not the one used (its length is
   * still checked); x25519 connects. */
  d13_opts o;
  hybrid_opts(&o, 1);
  o.server.enable_mlkem = 0;
  o.client.hybrid_bad_ek = 1;
  d13_pair pr;
  run_connected(&pr, &o);
  ck_assert_str_eq(server_group(&pr), "x25519");
  d13_pair_free(&pr);
}
END_TEST

START_TEST(corrupted_ml_kem_ciphertext_fails_the_handshake_cleanly) {
  /* The client's copy of the server's ML-KEM ciphertext is damaged: its
   * decapsulation rejects implicitly (FIPS 203 §6.3), so the two sides hold
   * different handshake secrets. Nothing authenticates: no key, no
   * CONNECTED, the handshake times out on both sides with a reason that
   * says so, and the server keeps no secret afterwards. _i: engine,
   * association. */
  d13_opts o;
  hybrid_opts(&o, _i);
  o.client.corrupt_server_share = 1;
  o.server.handshake_timeout_us = 20 * SEC;
  o.client.handshake_timeout_us = 20 * SEC;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  ck_assert_int_eq(d13_pair_run(&pr, 120 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(pr.p[1].failed, 1);
  ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  ck_assert_int_eq(pr.p[0].connected, 0);
  ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  rtcsec_srtp_keys k;
  if (pr.assoc) {
    rtcsec_dtls *d = pr.p[1].d;
    ck_assert_int_eq(rtcsec_dtls_export_srtp_keys(d, &k), RTCSEC_ERR_INVALID_STATE);
    const char *detail = rtcsec_dtls_error_detail(d);
    ck_assert_msg(strstr(detail, "did not decrypt") != NULL &&
                      strstr(detail, "implicit rejection") != NULL,
                  "detail: %s", detail);
    rtcsec_dtls_stats st;
    ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
    ck_assert_uint_gt(st.records_dropped, 0);
  } else {
    ck_assert_int_eq(rtcsec_dtls13_export_srtp(pr.server.e, &k), RTCSEC_ERR_INVALID_STATE);
    ck_assert_ptr_nonnull(strstr(rtcsec_dtls13_timeout_hint(pr.server.e), "did not decrypt"));
    ck_assert_uint_gt(rtcsec_dtls13_test_conn(pr.server.e)->stats.records_dropped, 0);
  }
  ck_assert_int_eq(server_secrets_wiped(&pr), 1);
  d13_pair_free(&pr);
}
END_TEST

/* ---- through the association: rtcsec_dtls as applications get it ---------------------------- */

static void assoc_opts(d13_opts *o) {
  opts_shared(o, RTCSEC_KEY_ECDSA_P256, RTCSEC_KEY_ECDSA_P256);
  o->assoc = 1;
}

START_TEST(association_answers_a_dtls13_client_hello_with_dtls13) {
  /* _i 0: plain ClientHello; 1: browser-like over two datagrams, shuffled;
   * 2: no key share (HelloRetryRequest); 3: RSA server, P-256 share. The
   * browser-like one carries an X25519MLKEM768 share: that group. */
  d13_opts o;
  assoc_opts(&o);
  if (_i == 1) {
    o.client.hybrid_share = 1;
    o.client.shuffle_seed = 7;
  } else if (_i == 2) {
    o.client.n_shares_zero = 1;
  } else if (_i == 3) {
    o.certs[1] = shared(RTCSEC_KEY_RSA_2048, 1);
    o.client.share_groups[0] = RTCSEC_GROUP_SECP256R1;
    o.client.n_shares = 1;
  }
  d13_pair pr;
  run_connected(&pr, &o);
  rtcsec_dtls *d = pr.p[1].d;
  ck_assert_str_eq(pr.p[1].info.version, "DTLSv1.3");
  ck_assert_str_eq(pr.p[1].info.cipher, "TLS_AES_128_GCM_SHA256");
  ck_assert_str_eq(pr.p[1].info.group, _i == 3   ? "secp256r1"
                                       : _i == 1 ? "X25519MLKEM768"
                                                 : "x25519");
  ck_assert_int_eq(pr.p[1].info.role, RTCSEC_DTLS_SERVER);
  ck_assert_int_eq(pr.p[1].info.profile, RTCSEC_SRTP_AEAD_AES_128_GCM);
  ck_assert_str_eq(rtcsec_dtls_test_engine_name(d), "rtcsec-dtls1.3");
  rtcsec_connected_info info;
  ck_assert_int_eq(rtcsec_dtls_get_connected(d, &info), 0);
  ck_assert_str_eq(info.version, "DTLSv1.3");
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
  ck_assert_str_eq(st.version, "DTLSv1.3");
  ck_assert_uint_eq(st.datagrams_collected, _i == 1 ? 2 : 1);
  ck_assert_int_eq(st.awaiting_fingerprint, 0);
  ck_assert_uint_eq(st.datagrams_held, 0);
  ck_assert_uint_gt(st.handshake_us, 0);
  ck_assert_uint_ge(st.datagrams_sent, 2);

  /* Data both ways, then close_notify from the association. */
  deliver_all(&pr);
  static const char up[] = "client to server";
  ck_assert_int_eq(d13c_send(pr.client, (const uint8_t *)up, sizeof(up), pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[1].n_data, 1);
  ck_assert_mem_eq(pr.p[1].data, up, sizeof(up));
  static const char down[] = "server to client";
  ck_assert_int_eq(rtcsec_dtls_send_data(d, (const uint8_t *)down, sizeof(down), pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[0].n_data, 1);
  ck_assert_mem_eq(pr.p[0].data, down, sizeof(down));
  ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
  ck_assert_uint_ge(st.records_authenticated, 1);
  ck_assert_int_eq(rtcsec_dtls_close(d, pr.now), 0);
  deliver_all(&pr);
  ck_assert_int_eq(pr.p[0].closed, 1);
  ck_assert_int_eq(rtcsec_dtls_get_state(d), RTCSEC_DTLS_STATE_CLOSED);
  d13_pair_free(&pr);
}
END_TEST

typedef struct hold_ctx {
  d13_pair *pr;
  int held;
} hold_ctx;

static int stop_when_held(void *user, uint64_t now) {
  hold_ctx *x = user;
  x->pr->now = now;
  d13_peer_poll_client(x->pr);
  d13_peer_poll_server(x->pr);
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(x->pr->p[1].d, &st), 0);
  x->held = st.datagrams_held > 0;
  return x->held;
}

START_TEST(association_holds_the_client_flight_until_a_late_fingerprint) {
  /* _i 0: the right fingerprint comes late: the held flight goes on and
   * the association connects. 1: a wrong one: bad_certificate, no keys. */
  d13_opts o;
  assoc_opts(&o);
  o.assoc_late_fp = 1;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  hold_ctx x = {&pr, 0};
  harness_hooks hooks = {stop_when_held, NULL, &x};
  ck_assert_int_eq(harness_run(pr.ep, pr.link, &pr.now, 10 * SEC, &hooks), HARNESS_STOPPED);
  rtcsec_dtls *d = pr.p[1].d;
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
  ck_assert_int_eq(st.awaiting_fingerprint, 1);
  ck_assert_str_eq(st.version, "DTLSv1.3");
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(pr.p[1].failed, 0);
  /* While held, the client retransmits and the association keeps it all
   * (bounded); nothing reaches the engine. */
  harness_run(pr.ep, pr.link, &pr.now, pr.now + 2 * SEC, &(harness_hooks){keep_going, NULL, &pr});
  ck_assert_int_eq(pr.p[1].connected, 0);
  ck_assert_int_eq(rtcsec_dtls_get_state(d), RTCSEC_DTLS_STATE_HANDSHAKING);
  rtcsec_fingerprint fp = _i == 0 ? fp_of(pr.cert[0], RTCSEC_HASH_SHA256) : wrong_fp();
  int rc = rtcsec_dtls_add_peer_fingerprints(d, &fp, 1, pr.now);
  d13_peer_poll_server(&pr);
  if (_i == 0) {
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(pr.p[1].connected, 1);
    ck_assert_int_eq(d13_pair_run(&pr, pr.now + 60 * SEC), HARNESS_STOPPED);
    expect_connected(&pr);
    ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
    ck_assert_int_eq(st.awaiting_fingerprint, 0);
    ck_assert_uint_ge(st.datagrams_held, 1);
  } else {
    ck_assert_int_eq(rc, RTCSEC_ERR_FINGERPRINT_MISMATCH);
    ck_assert_int_eq(pr.p[1].failed, 1);
    ck_assert_int_eq(pr.p[1].error, RTCSEC_ERR_FINGERPRINT_MISMATCH);
    ck_assert_int_eq(pr.p[1].alert, RTCSEC_ALERT_BAD_CERTIFICATE);
    ck_assert_int_eq(pr.p[1].connected, 0);
    rtcsec_srtp_keys k;
    ck_assert_int_eq(rtcsec_dtls_export_srtp_keys(d, &k), RTCSEC_ERR_INVALID_STATE);
    deliver_all(&pr);
    ck_assert_int_eq(pr.p[0].failed, 1);
    ck_assert_int_eq(pr.p[0].error, RTCSEC_ERR_PEER_ALERT);
    ck_assert_int_eq(pr.p[0].alert, RTCSEC_ALERT_BAD_CERTIFICATE);
  }
  d13_pair_free(&pr);
}
END_TEST

START_TEST(association_refuses_what_the_engine_refuses) {
  /* _i 0: no use_srtp; 1: no common profile; 2: non-empty legacy_cookie;
   * 3: a short x25519 share; 4: wrong fingerprint; 5: no client certificate. */
  d13_opts o;
  assoc_opts(&o);
  static const rtcsec_srtp_profile gcm128[] = {RTCSEC_SRTP_AEAD_AES_128_GCM};
  switch (_i) {
  case 0:
    o.client.omit_use_srtp = 1;
    expect_client_hello_refused(&o, RTCSEC_ERR_SRTP_NOT_NEGOTIATED, RTCSEC_ALERT_HANDSHAKE_FAILURE);
    break;
  case 1:
    o.client.profiles[0] = RTCSEC_SRTP_AES128_CM_SHA1_32;
    o.client.n_profiles = 1;
    o.server.profiles = gcm128;
    o.server.n_profiles = 1;
    expect_client_hello_refused(&o, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE,
                                RTCSEC_ALERT_HANDSHAKE_FAILURE);
    break;
  case 2:
    o.client.legacy_cookie_len = 8;
    expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    break;
  case 3:
    o.client.share_len_delta = -1;
    expect_client_hello_refused(&o, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    break;
  case 4:
    o.wrong_fp = 1;
    expect_client_flight_refused(&o, RTCSEC_ERR_FINGERPRINT_MISMATCH, RTCSEC_ALERT_BAD_CERTIFICATE);
    break;
  default:
    o.no_client_cert = 1;
    expect_client_flight_refused(&o, RTCSEC_ERR_NO_PEER_CERTIFICATE,
                                 RTCSEC_ALERT_CERTIFICATE_REQUIRED);
    break;
  }
}
END_TEST

START_TEST(association_survives_client_hello_fragments_that_never_complete) {
  /* Before the real ClientHello: 40 datagrams of ClientHello fragments
   * (epoch 0, message_seq 0) for messages of other lengths that never
   * complete. The collector stays bounded, the real one still wins. */
  d13_opts o;
  assoc_opts(&o);
  o.client.hybrid_share = 1;
  d13_pair pr;
  d13_pair_init(&pr, &o);
  rtcsec_dtls *d = pr.p[1].d;
  uint64_t seed = 11;
  for (unsigned k = 0; k < 40; k++) {
    uint8_t g[1200];
    size_t frag = 1000;
    uint32_t total = 2000 + k * 300;
    uint32_t off = (uint32_t)(test_rand_next(&seed) % (total - frag));
    for (size_t i = 0; i < sizeof(g); i++)
      g[i] = (uint8_t)test_rand_next(&seed);
    uint8_t hdr[25] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, (uint8_t)k, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t rec_len = 12 + frag;
    hdr[11] = (uint8_t)(rec_len >> 8);
    hdr[12] = (uint8_t)rec_len;
    hdr[13] = 1; /* client_hello */
    hdr[14] = (uint8_t)(total >> 16);
    hdr[15] = (uint8_t)(total >> 8);
    hdr[16] = (uint8_t)total;
    hdr[17] = hdr[18] = 0; /* message_seq 0 */
    hdr[19] = (uint8_t)(off >> 16);
    hdr[20] = (uint8_t)(off >> 8);
    hdr[21] = (uint8_t)off;
    hdr[22] = (uint8_t)(frag >> 16);
    hdr[23] = (uint8_t)(frag >> 8);
    hdr[24] = (uint8_t)frag;
    memcpy(g, hdr, 25);
    ck_assert_int_eq(rtcsec_dtls_handle_datagram(d, g, 25 + frag, pr.now), 0);
  }
  ck_assert_int_eq(rtcsec_dtls_get_state(d), RTCSEC_DTLS_STATE_HANDSHAKING);
  ck_assert_str_eq(rtcsec_dtls_test_engine_name(d), "");
  size_t n = 0;
  uint8_t out[2048];
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(d, out, sizeof(out), &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(d13_pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  expect_connected(&pr);
  rtcsec_dtls_stats st;
  ck_assert_int_eq(rtcsec_dtls_get_stats(d, &st), 0);
  ck_assert_uint_eq(st.datagrams_collected, 42);
  d13_pair_free(&pr);
}
END_TEST

START_TEST(association_answers_dtls12_when_dtls13_is_off_or_not_offered) {
  /* _i 0: two rtcsec_dtls (OpenSSL's client offers only DTLS 1.2): the
   * collector hands OpenSSL the datagrams; 1: enable_dtls13 = 0: no
   * collection at all. */
  pair_opts o;
  default_opts(&o);
  pair pr;
  pair_init(&pr, &o);
  if (_i == 1) {
    /* Recreate the server with DTLS 1.3 off. */
    rtcsec_dtls_free(pr.p[1].d);
    rtcsec_dtls_config cfg;
    rtcsec_dtls_config_default(&cfg);
    ck_assert_int_eq(cfg.enable_dtls13, 1);
    cfg.enable_dtls13 = 0;
    cfg.role = RTCSEC_DTLS_SERVER;
    cfg.cert = pr.p[1].cert;
    rtcsec_fingerprint fp = fp_of(pr.p[0].cert, RTCSEC_HASH_SHA256);
    cfg.peer_fingerprints = &fp;
    cfg.n_peer_fingerprints = 1;
    ck_assert_int_eq(rtcsec_dtls_new(&pr.p[1].d, &cfg), 0);
    pr.ep[1] = harness_dtls_endpoint(pr.p[1].d);
    ck_assert_str_eq(rtcsec_dtls_test_engine_name(pr.p[1].d), "openssl-dtls1.2");
  } else {
    ck_assert_str_eq(rtcsec_dtls_test_engine_name(pr.p[1].d), "");
  }
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  assert_keys_match(&pr);
  for (int i = 0; i < 2; i++) {
    ck_assert_str_eq(pr.p[i].info.version, "DTLSv1.2");
    ck_assert_str_eq(rtcsec_dtls_test_engine_name(pr.p[i].d), "openssl-dtls1.2");
    rtcsec_dtls_stats st;
    ck_assert_int_eq(rtcsec_dtls_get_stats(pr.p[i].d, &st), 0);
    ck_assert_str_eq(st.version, "DTLSv1.2");
    ck_assert_uint_eq(st.datagrams_collected, i == 1 && _i == 0 ? 1 : 0);
  }
  pair_free(&pr);
}
END_TEST

START_TEST(association_sweeps_loss_reordering_and_mtu) {
  /* _i 0: 300 seeds at 20 % loss; 1: 300 seeds at 30 %; 2: 100 at 50 %
   * (ends cleanly); 3: MTU 256 and 576, RSA server, 50 seeds each. */
  if (_i < 3) {
    static const double losses[] = {0.20, 0.30, 0.50};
    sweep_opts so = {losses[_i], 0.1, 0.05, 0, 1, RTCSEC_KEY_ECDSA_P256, 1};
    sweep sw = run_sweep(&so, 1, _i == 2 ? 100 : 300);
    ck_assert_uint_eq(sw.other, 0);
    if (_i == 0)
      ck_assert_uint_eq(sw.connected, 300);
    else if (_i == 1)
      ck_assert_uint_ge(sw.connected, 298);
    else
      ck_assert_uint_gt(sw.connected, 80);
  } else {
    static const size_t mtus[] = {256, 576};
    for (size_t i = 0; i < 2; i++) {
      sweep_opts so = {0.10, 0.1, 0.05, mtus[i], 1, RTCSEC_KEY_RSA_2048, 1};
      sweep sw = run_sweep(&so, 1, 50);
      ck_assert_uint_eq(sw.connected, 50);
    }
  }
}
END_TEST

START_TEST(association_loses_any_one_datagram_of_the_handshake_and_still_connects) {
  d13_opts o;
  assoc_opts(&o);
  o.client.hybrid_share = 1;
  uint64_t sent[2];
  lose_each_datagram_in_turn(&o, sent);
  ck_assert_uint_ge(sent[0], 3); /* two for the ClientHello, the client flight */
  ck_assert_uint_ge(sent[1], 2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtls13");
  TCase *ks = tcase_create("key_schedule");
  tcase_add_test(ks, key_schedule_matches_rfc8448_simple_1rtt_with_tls13_prefix);
  tcase_add_test(ks, dtls_label_prefix_changes_every_secret);
  suite_add_tcase(s, ks);

  TCase *rec = tcase_create("record");
  tcase_add_test(rec, record_round_trip_in_every_header_form_with_the_sequence_number_masked);
  tcase_add_test(rec, record_with_any_byte_changed_does_not_open_and_the_window_stays);
  tcase_add_test(rec, replay_window_keeps_64_records_and_refuses_older);
  tcase_add_test(rec, sequence_numbers_are_reconstructed_closest_to_the_next_expected);
  tcase_add_test(rec, records_that_cannot_be_framed_end_the_datagram);
  suite_add_tcase(s, rec);

  TCase *ch = tcase_create("client_hello");
  tcase_add_test(ch, client_hello_parser_reads_every_field);
  tcase_add_test(ch, client_hello_parser_refuses_every_truncation_and_trailing_bytes);
  tcase_add_test(ch, client_hello_parser_refuses_every_length_field_off_by_one);
  tcase_add_test(ch, client_hello_with_a_duplicate_or_misplaced_extension_is_illegal_parameter);
  tcase_add_test(ch, collector_reassembles_fragments_in_any_order_duplicated_and_mixed);
  tcase_add_test(ch, collector_finds_supported_versions_in_any_fragment);
  tcase_add_test(ch, collector_starts_over_on_a_conflicting_fragment_and_stays_bounded);
  suite_add_tcase(s, ch);

  TCase *hs = tcase_create("handshake");
  tcase_add_test(hs, clean_handshake_exports_equal_srtp_keys);
  tcase_add_loop_test(hs, handshake_connects_for_each_profile_suite_and_group, 0, 16);
  tcase_add_loop_test(hs, handshake_connects_for_each_certificate_key_type, 0, 4);
  tcase_add_test(hs, server_order_decides_the_profile_and_aes128_is_preferred);
  tcase_add_loop_test(hs, hello_retry_request_when_no_usable_share_is_offered, 0, 3);
  tcase_add_test(hs, cookie_exchange_asks_for_a_cookie_even_with_a_usable_share);
  tcase_add_test(hs, browser_like_client_hello_over_two_datagrams_in_shuffled_orders);
  tcase_add_test(hs, application_data_flows_both_ways_then_close_notify);
  tcase_add_test(hs, key_updates_move_both_epochs_and_data_still_flows);
  tcase_add_test(hs, a_lost_ack_makes_the_server_ack_the_client_finished_again);
  tcase_add_test(hs, a_partly_lost_flight_is_acked_and_only_the_rest_is_resent);
  tcase_add_test(hs, server_retransmits_with_backoff_and_times_out_after_30_s);
  tcase_add_loop_test(hs, records_in_every_header_form_and_with_padding_are_accepted, 0, 3);
  suite_add_tcase(s, hs);

  TCase *bad = tcase_create("bad_input");
  tcase_add_loop_test(bad, non_empty_legacy_cookie_is_refused_with_illegal_parameter, 0, 2);
  tcase_add_loop_test(bad, bad_key_share_lengths_are_refused_with_illegal_parameter, 0, 6);
  tcase_add_loop_test(bad, key_share_not_on_the_curve_or_for_an_unlisted_group_is_refused, 0, 4);
  tcase_add_test(bad, client_hello_without_use_srtp_is_refused);
  tcase_add_test(bad, use_srtp_without_a_common_profile_is_refused);
  tcase_add_loop_test(bad, client_hello_the_server_cannot_serve_is_refused_with_the_right_alert, 0,
                      7);
  tcase_add_test(bad, a_second_client_hello_that_differs_is_refused);
  tcase_add_test(bad, a_forged_second_client_hello_without_the_cookie_is_dropped);
  tcase_add_test(bad, a_bad_finished_fails_with_decrypt_error);
  tcase_add_loop_test(bad, a_bad_certificate_verify_fails_with_decrypt_error, 0, 4);
  tcase_add_test(bad, a_certificate_that_does_not_match_the_fingerprint_fails_before_any_key);
  tcase_add_test(bad, a_missing_client_certificate_fails_with_certificate_required);
  tcase_add_test(bad, records_with_the_connection_id_bit_are_dropped);
  tcase_add_test(bad, replayed_records_are_dropped);
  tcase_add_test(bad, truncated_flipped_and_garbage_records_of_every_length_are_dropped);
  tcase_add_test(bad, plaintext_alerts_and_acks_have_no_power);
  tcase_add_loop_test(bad, a_plaintext_alert_and_garbage_after_the_encrypted_flight_are_ignored, 0,
                      2);
  tcase_add_loop_test(bad, bad_post_handshake_messages_fail_the_association, 0, 4);
  tcase_add_test(bad, an_authenticated_fatal_alert_fails_with_peer_alert);
  tcase_add_test(bad, the_aead_limits_rekey_early_and_never_send_past_the_limit);
  tcase_add_test(bad, records_failing_authentication_lead_to_a_rekey_then_to_dropped_keys);
  tcase_add_test(bad, engine_refuses_bad_arguments_and_wrong_states);
  suite_add_tcase(s, bad);

  TCase *imp = tcase_create("impairment");
  tcase_set_timeout(imp, 900);
  tcase_add_loop_test(imp, all_1000_seeds_connect_at_0_10_and_20_percent_loss, 0, 3);
  tcase_add_test(imp, at_least_995_of_1000_seeds_connect_at_30_percent_loss);
  tcase_add_loop_test(imp, every_run_ends_cleanly_at_40_and_50_percent_loss, 0, 2);
  tcase_add_loop_test(imp, heavy_reordering_and_duplication_still_connect, 0, 3);
  tcase_add_test(imp, every_mtu_from_256_to_1500_connects_and_is_respected);
  tcase_add_loop_test(imp, losing_any_one_datagram_of_the_handshake_still_connects, 0, 3);
  suite_add_tcase(s, imp);

  TCase *as = tcase_create("association");
  tcase_set_timeout(as, 600);
  tcase_add_loop_test(as, association_answers_a_dtls13_client_hello_with_dtls13, 0, 4);
  tcase_add_loop_test(as, association_holds_the_client_flight_until_a_late_fingerprint, 0, 2);
  tcase_add_loop_test(as, association_refuses_what_the_engine_refuses, 0, 6);
  tcase_add_test(as, association_survives_client_hello_fragments_that_never_complete);
  tcase_add_loop_test(as, association_answers_dtls12_when_dtls13_is_off_or_not_offered, 0, 2);
  tcase_add_loop_test(as, association_sweeps_loss_reordering_and_mtu, 0, 4);
  tcase_add_test(as, association_loses_any_one_datagram_of_the_handshake_and_still_connects);
  suite_add_tcase(s, as);
  TCase *pq = tcase_create("hybrid");
  tcase_set_timeout(pq, 120);
  tcase_add_loop_test(pq, hybrid_group_is_taken_first_when_the_client_sends_its_share, 0, 2);
  tcase_add_loop_test(pq, hybrid_group_off_takes_x25519_from_the_same_client_hello, 0, 2);
  tcase_add_loop_test(pq, hybrid_group_listed_without_a_share_gets_x25519_not_a_retry, 0, 2);
  tcase_add_loop_test(pq, hybrid_group_offered_without_any_share_gets_a_hello_retry_request_for_it,
                      0, 3);
  tcase_add_loop_test(pq, hybrid_share_of_the_wrong_length_is_refused, 0, 8);
  tcase_add_loop_test(pq, hybrid_share_with_an_invalid_encapsulation_key_is_refused, 0, 2);
  tcase_add_test(pq, hybrid_invalid_encapsulation_key_is_never_looked_at_with_the_group_off);
  tcase_add_loop_test(pq, corrupted_ml_kem_ciphertext_fails_the_handshake_cleanly, 0, 2);
  suite_add_tcase(s, pq);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      rtcsec_cert_free(shared_cert[i][j]);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
