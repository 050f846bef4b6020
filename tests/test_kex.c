/* TLS 1.3 key_share helpers (lib/hybrid_kex.c): X25519 against RFC 7748,
 * secp256r1 against a key of RFC 5903 §8.1 and OpenSSL used directly here,
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) by its layout: the test takes
 * the server's share apart and recomputes each half with lib/mlkem.c's
 * decapsulation and OpenSSL's X25519; then every bad share a peer can send
 * (wrong length, bad encapsulation key, small-order X25519 point, P-256 point
 * off the curve or compressed), each with its own error. */
#include <check.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybrid_kex.h"
#include "rtcsec/error.h"

#define HYB_CLIENT RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN
#define HYB_SERVER RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN
#define HYB_SECRET RTCSEC_X25519MLKEM768_SECRET_LEN

static void unhex(const char *hex, uint8_t *out, size_t len) {
  ck_assert_uint_eq(strlen(hex), 2 * len);
  for (size_t i = 0; i < len; i++) {
    unsigned v;
    ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

static int all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

/* ECDH with OpenSSL directly: own key, peer's public key, 32 bytes. */
static void ref_derive(EVP_PKEY *own, EVP_PKEY *peer, uint8_t out[32]) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
  size_t n = 32;
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(EVP_PKEY_derive_init(ctx), 1);
  ck_assert_int_eq(EVP_PKEY_derive_set_peer(ctx, peer), 1);
  ck_assert_int_eq(EVP_PKEY_derive(ctx, out, &n), 1);
  ck_assert_uint_eq(n, 32);
  EVP_PKEY_CTX_free(ctx);
}

static EVP_PKEY *x25519_pub(const uint8_t pub[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
  ck_assert_ptr_nonnull(k);
  return k;
}

/* A P-256 key from its parts: private scalar (or NULL) and 65-byte point. */
static EVP_PKEY *p256_key(const uint8_t *priv, const uint8_t pub[65]) {
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  BIGNUM *d = priv != NULL ? BN_bin2bn(priv, 32, NULL) : NULL;
  ck_assert_ptr_nonnull(bld);
  ck_assert_int_eq(
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
  ck_assert_int_eq(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65), 1);
  if (d != NULL)
    ck_assert_int_eq(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  EVP_PKEY *k = NULL;
  ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
  ck_assert_int_eq(
      EVP_PKEY_fromdata(ctx, &k, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params), 1);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(d);
  return k;
}

/* ---- X25519 ------------------------------------------------------------------- */

START_TEST(x25519_matches_rfc_7748_vectors) {
  /* §5.2: scalar, input u-coordinate, output (the second u has its top bit
   * set, which §5 says to mask). */
  static const char *const v52[][3] = {
      {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
       "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
      {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
       "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
  };
  uint8_t k[32], u[32], want[32], share[32], secret[32];
  size_t n = 0;
  rtcsec_kex_client c;
  for (size_t i = 0; i < 2; i++) {
    unhex(v52[i][0], k, 32);
    unhex(v52[i][1], u, 32);
    unhex(v52[i][2], want, 32);
    ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519, k, 32, share, 32, &n),
                     0);
    ck_assert_int_eq(rtcsec_kex_client_finish(&c, u, 32, secret, sizeof(secret), &n), 0);
    ck_assert_uint_eq(n, 32);
    ck_assert(memcmp(secret, want, 32) == 0);
    rtcsec_kex_client_clear(&c);
  }
  /* §6.1: Alice and Bob, each public key from its private key, one secret. */
  uint8_t a[32], a_pub[32], b[32], b_pub[32];
  unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
  unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
  unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
  unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b_pub, 32);
  unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519, a, 32, share, 32, &n),
                   0);
  ck_assert(memcmp(share, a_pub, 32) == 0);
  ck_assert_int_eq(rtcsec_kex_client_finish(&c, b_pub, 32, secret, 32, &n), 0);
  ck_assert(memcmp(secret, want, 32) == 0);
  rtcsec_kex_client_clear(&c);
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519, b, 32, share, 32, &n),
                   0);
  ck_assert(memcmp(share, b_pub, 32) == 0);
  ck_assert_int_eq(rtcsec_kex_client_finish(&c, a_pub, 32, secret, 32, &n), 0);
  ck_assert(memcmp(secret, want, 32) == 0);
  rtcsec_kex_client_clear(&c);

  /* The server, given Alice's public key: Alice (OpenSSL here) derives the
   * same secret from the server's share. */
  uint8_t server_share[32];
  ck_assert_int_eq(rtcsec_x25519_server(a_pub, 32, server_share, secret), 0);
  EVP_PKEY *alice = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, a, 32);
  EVP_PKEY *srv = x25519_pub(server_share);
  ck_assert_int_eq(EVP_PKEY_get_raw_public_key(alice, share, &n), 1);
  ck_assert(memcmp(share, a_pub, 32) == 0);
  ref_derive(alice, srv, want);
  ck_assert(memcmp(secret, want, 32) == 0);
  EVP_PKEY_free(srv);
  EVP_PKEY_free(alice);
}
END_TEST

/* u-coordinates whose X25519 result is zero for every scalar: 0, 1, the
 * points of order 8, and p - 1, p, p + 1 (non-canonical encodings). */
static const char *const small_order[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};
#define N_SMALL_ORDER (sizeof(small_order) / sizeof(small_order[0]))

START_TEST(x25519_small_order_peer_key_gives_the_all_zero_error) {
  uint8_t u[32], share[32], secret[32];
  for (size_t i = 0; i < N_SMALL_ORDER; i++) {
    unhex(small_order[i], u, 32);
    memset(share, 0xAA, sizeof(share));
    memset(secret, 0xAA, sizeof(secret));
    ck_assert_msg(rtcsec_x25519_server(u, 32, share, secret) == RTCSEC_ERR_KEY_SHARE_ZERO,
                  "small-order point %zu accepted", i);
    ck_assert(all_zero(share, 32) && all_zero(secret, 32));
    /* The client refuses the same from a server. */
    rtcsec_kex_client c;
    size_t n;
    ck_assert_int_eq(rtcsec_kex_client_keygen(&c, RTCSEC_GROUP_X25519, share, 32, &n), 0);
    ck_assert_int_eq(rtcsec_kex_client_finish(&c, u, 32, secret, 32, &n),
                     RTCSEC_ERR_KEY_SHARE_ZERO);
    rtcsec_kex_client_clear(&c);
  }
}
END_TEST

START_TEST(x25519_share_of_the_wrong_length_is_refused) {
  uint8_t in[80] = {9}, share[32], secret[32];
  const size_t lens[] = {0, 1, 31, 33, 64, 65, 80};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
    ck_assert_int_eq(rtcsec_x25519_server(in, lens[i], share, secret), RTCSEC_ERR_KEY_SHARE_LENGTH);
  ck_assert_int_eq(rtcsec_x25519_server(in, 32, share, secret), 0); /* u = 9: the base point */
  ck_assert_int_eq(rtcsec_x25519_server(NULL, 32, share, secret), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- secp256r1 --------------------------------------------------------------------- */

/* RFC 5903 §8.1 (ECP-256): the initiator's i and g^i, the responder's g^r,
 * and the x-coordinate of g^ir. Pinned first, so the reference is sound. */
static const char p256_i[] = "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433";
static const char p256_gi[] = "04"
                              "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180"
                              "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3";
static const char p256_gr[] = "04"
                              "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63"
                              "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab";
static const char p256_gir[] = "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de";

START_TEST(p256_server_agrees_with_openssl_and_rfc_5903_key) {
  uint8_t i[32], gi[65], gr[65], want[32], got[32];
  unhex(p256_i, i, 32);
  unhex(p256_gi, gi, 65);
  unhex(p256_gr, gr, 65);
  unhex(p256_gir, want, 32);
  EVP_PKEY *ki = p256_key(i, gi), *kr = p256_key(NULL, gr);
  ref_derive(ki, kr, got);
  ck_assert(memcmp(got, want, 32) == 0);

  /* The server, given g^i: the initiator derives the server's secret. */
  uint8_t share[65], secret[32];
  ck_assert_int_eq(rtcsec_p256_server(gi, 65, share, secret), 0);
  ck_assert_uint_eq(share[0], 0x04);
  EVP_PKEY *srv = p256_key(NULL, share);
  ref_derive(ki, srv, got);
  ck_assert(memcmp(got, secret, 32) == 0);
  EVP_PKEY_free(srv);
  EVP_PKEY_free(kr);
  EVP_PKEY_free(ki);

  /* And our own client with our server. */
  rtcsec_kex_client c;
  size_t n = 0;
  uint8_t cshare[65], csecret[32];
  ck_assert_int_eq(rtcsec_kex_client_keygen(&c, RTCSEC_GROUP_SECP256R1, cshare, 65, &n), 0);
  ck_assert_uint_eq(n, 65);
  ck_assert_int_eq(rtcsec_p256_server(cshare, 65, share, secret), 0);
  ck_assert_int_eq(rtcsec_kex_client_finish(&c, share, 65, csecret, 32, &n), 0);
  ck_assert(memcmp(csecret, secret, 32) == 0);
  rtcsec_kex_client_clear(&c);
}
END_TEST

START_TEST(p256_bad_points_and_lengths_are_refused) {
  uint8_t gi[65], bad[66], share[65], secret[32];
  unhex(p256_gi, gi, 65);
  /* Compressed (0x02/0x03 || X, 33 bytes) is not TLS 1.3's form; other
   * lengths neither. */
  const size_t lens[] = {0, 1, 33, 64, 66};
  memcpy(bad, gi, 65);
  bad[65] = 0;
  for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
    ck_assert_int_eq(rtcsec_p256_server(bad, lens[k], share, secret), RTCSEC_ERR_KEY_SHARE_LENGTH);
  /* 65 bytes with another first byte: 0x02, 0x03 (compressed tags), 0x06
   * (hybrid form), 0x00. */
  const uint8_t tags[] = {0x00, 0x02, 0x03, 0x06, 0x07};
  for (size_t k = 0; k < sizeof(tags); k++) {
    memcpy(bad, gi, 65);
    bad[0] = tags[k];
    ck_assert_int_eq(rtcsec_p256_server(bad, 65, share, secret), RTCSEC_ERR_KEY_SHARE_INVALID);
  }
  /* Off the curve: y changed; x and y zero; x = p (out of the field). */
  memcpy(bad, gi, 65);
  bad[64] ^= 1;
  ck_assert_int_eq(rtcsec_p256_server(bad, 65, share, secret), RTCSEC_ERR_KEY_SHARE_INVALID);
  memset(bad, 0, 65);
  bad[0] = 0x04;
  ck_assert_int_eq(rtcsec_p256_server(bad, 65, share, secret), RTCSEC_ERR_KEY_SHARE_INVALID);
  memcpy(bad, gi, 65);
  unhex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", bad + 1, 32);
  ck_assert_int_eq(rtcsec_p256_server(bad, 65, share, secret), RTCSEC_ERR_KEY_SHARE_INVALID);
  ck_assert(all_zero(share, 65) && all_zero(secret, 32));
  /* The good point still works. */
  ck_assert_int_eq(rtcsec_p256_server(gi, 65, share, secret), 0);
}
END_TEST

/* ---- X25519MLKEM768 ------------------------------------------------------------------ */

START_TEST(hybrid_round_trip_and_share_layout) {
  static uint8_t cshare[HYB_CLIENT], sshare[HYB_SERVER];
  uint8_t ssecret[HYB_SECRET], csecret[HYB_SECRET], half[32];
  rtcsec_kex_client c;
  for (int trial = 0; trial < 5; trial++) {
    ck_assert_int_eq(rtcsec_x25519mlkem768_client_keygen(&c, cshare), 0);
    /* The client share is ek || X25519: the last 32 bytes are the X25519
     * public key of the client's key pair. */
    size_t n = 32;
    ck_assert_int_eq(EVP_PKEY_get_raw_public_key(c.ecdh, half, &n), 1);
    ck_assert(memcmp(half, cshare + RTCSEC_MLKEM768_EK_LEN, 32) == 0);
    ck_assert(memcmp(c.mlkem_dk + 1152, cshare, RTCSEC_MLKEM768_EK_LEN) == 0);

    ck_assert_int_eq(rtcsec_x25519mlkem768_server(cshare, HYB_CLIENT, sshare, ssecret), 0);
    ck_assert_int_eq(rtcsec_x25519mlkem768_client_finish(&c, sshare, HYB_SERVER, csecret), 0);
    ck_assert(memcmp(csecret, ssecret, HYB_SECRET) == 0);

    /* Server share = ciphertext || X25519, secret = ML-KEM || X25519:
     * recomputed half by half. */
    ck_assert_int_eq(rtcsec_mlkem768_decaps(c.mlkem_dk, sshare, half), 0);
    ck_assert(memcmp(half, ssecret, 32) == 0);
    EVP_PKEY *srv = x25519_pub(sshare + RTCSEC_MLKEM768_CT_LEN);
    ref_derive(c.ecdh, srv, half);
    ck_assert(memcmp(half, ssecret + 32, 32) == 0);
    EVP_PKEY_free(srv);
    rtcsec_kex_client_clear(&c);
  }
}
END_TEST

START_TEST(hybrid_bad_client_shares_get_distinct_errors) {
  static uint8_t cshare[HYB_CLIENT + 64], sshare[HYB_SERVER], bad[HYB_CLIENT];
  uint8_t secret[HYB_SECRET];
  rtcsec_kex_client c;
  ck_assert_int_eq(rtcsec_x25519mlkem768_client_keygen(&c, cshare), 0);
  rtcsec_kex_client_clear(&c);

  /* Wrong lengths: empty, the ek alone, an X25519 share alone, one short,
   * one long, a P-256-sized hybrid (1184 + 65). */
  const size_t lens[] = {0, 32, 1184, 1215, 1217, 1249, HYB_CLIENT + 64};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    memset(sshare, 0xAA, sizeof(sshare));
    ck_assert_int_eq(rtcsec_x25519mlkem768_server(cshare, lens[i], sshare, secret),
                     RTCSEC_ERR_KEY_SHARE_LENGTH);
    ck_assert(all_zero(sshare, sizeof(sshare)));
  }
  /* An ek with a coefficient of q (the first one: bytes 0-1 = 0xd01). */
  memcpy(bad, cshare, HYB_CLIENT);
  bad[0] = 0x01;
  bad[1] = (uint8_t)((bad[1] & 0xf0) | 0x0d);
  ck_assert_int_eq(rtcsec_x25519mlkem768_server(bad, HYB_CLIENT, sshare, secret),
                   RTCSEC_ERR_KEY_SHARE_INVALID);
  ck_assert(all_zero(sshare, sizeof(sshare)) && all_zero(secret, sizeof(secret)));
  /* A small-order X25519 half. */
  uint8_t u[32];
  for (size_t i = 0; i < N_SMALL_ORDER; i++) {
    memcpy(bad, cshare, HYB_CLIENT);
    unhex(small_order[i], u, 32);
    memcpy(bad + RTCSEC_MLKEM768_EK_LEN, u, 32);
    ck_assert_int_eq(rtcsec_x25519mlkem768_server(bad, HYB_CLIENT, sshare, secret),
                     RTCSEC_ERR_KEY_SHARE_ZERO);
    ck_assert(all_zero(sshare, sizeof(sshare)) && all_zero(secret, sizeof(secret)));
  }
  /* Three different codes, each with a message. */
  ck_assert_int_ne(RTCSEC_ERR_KEY_SHARE_LENGTH, RTCSEC_ERR_KEY_SHARE_INVALID);
  ck_assert_int_ne(RTCSEC_ERR_KEY_SHARE_INVALID, RTCSEC_ERR_KEY_SHARE_ZERO);
  ck_assert_int_ne(RTCSEC_ERR_KEY_SHARE_LENGTH, RTCSEC_ERR_KEY_SHARE_ZERO);
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_KEY_SHARE_LENGTH), "unknown error");
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_KEY_SHARE_INVALID), "unknown error");
  ck_assert_str_ne(rtcsec_strerror(RTCSEC_ERR_KEY_SHARE_ZERO), "unknown error");
  /* The untouched share still works. */
  ck_assert_int_eq(rtcsec_x25519mlkem768_server(cshare, HYB_CLIENT, sshare, secret), 0);
}
END_TEST

START_TEST(hybrid_corrupted_ciphertext_gives_the_client_another_secret_without_error) {
  static uint8_t cshare[HYB_CLIENT], sshare[HYB_SERVER];
  uint8_t ssecret[HYB_SECRET], csecret[HYB_SECRET], want[32];
  rtcsec_kex_client c;
  ck_assert_int_eq(rtcsec_x25519mlkem768_client_keygen(&c, cshare), 0);
  ck_assert_int_eq(rtcsec_x25519mlkem768_server(cshare, HYB_CLIENT, sshare, ssecret), 0);
  sshare[100] ^= 0x40;
  ck_assert_int_eq(rtcsec_x25519mlkem768_client_finish(&c, sshare, HYB_SERVER, csecret), 0);
  /* ML-KEM half: J(z || c'), computed here with SHAKE256; X25519 half: the
   * same as the server's. So the handshake fails later, at Finished. */
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_MD *shake = EVP_MD_fetch(NULL, "SHAKE256", NULL);
  ck_assert_int_eq(EVP_DigestInit_ex2(ctx, shake, NULL), 1);
  ck_assert_int_eq(EVP_DigestUpdate(ctx, c.mlkem_dk + RTCSEC_MLKEM768_DK_LEN - 32, 32), 1);
  ck_assert_int_eq(EVP_DigestUpdate(ctx, sshare, RTCSEC_MLKEM768_CT_LEN), 1);
  ck_assert_int_eq(EVP_DigestFinalXOF(ctx, want, 32), 1);
  EVP_MD_free(shake);
  EVP_MD_CTX_free(ctx);
  ck_assert(memcmp(csecret, want, 32) == 0);
  ck_assert(memcmp(csecret, ssecret, 32) != 0);
  ck_assert(memcmp(csecret + 32, ssecret + 32, 32) == 0);
  /* A server share of the wrong length is an error on the client too. */
  ck_assert_int_eq(rtcsec_x25519mlkem768_client_finish(&c, sshare, HYB_SERVER - 1, csecret),
                   RTCSEC_ERR_KEY_SHARE_LENGTH);
  rtcsec_kex_client_clear(&c);
}
END_TEST

START_TEST(hybrid_client_from_fixed_seeds_is_deterministic) {
  /* d || z || X25519 scalar: the ML-KEM key is KeyGen_internal(d, z) and the
   * X25519 half is the scalar's public key (RFC 7748 §6.1's Alice). */
  uint8_t priv[96], ek[RTCSEC_MLKEM768_EK_LEN], dk[RTCSEC_MLKEM768_DK_LEN], a_pub[32];
  static uint8_t share[HYB_CLIENT], share2[HYB_CLIENT];
  for (int i = 0; i < 64; i++)
    priv[i] = (uint8_t)i;
  unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", priv + 64, 32);
  unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", a_pub, 32);
  ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(priv, priv + 32, ek, dk), 0);
  rtcsec_kex_client c;
  size_t n = 0;
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519MLKEM768, priv, 96, share,
                                                  sizeof(share), &n),
                   0);
  ck_assert_uint_eq(n, HYB_CLIENT);
  ck_assert(memcmp(share, ek, sizeof(ek)) == 0);
  ck_assert(memcmp(share + sizeof(ek), a_pub, 32) == 0);
  ck_assert(memcmp(c.mlkem_dk, dk, sizeof(dk)) == 0);
  rtcsec_kex_client_clear(&c);
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519MLKEM768, priv, 96, share2,
                                                  sizeof(share2), &n),
                   0);
  ck_assert(memcmp(share, share2, sizeof(share)) == 0);
  rtcsec_kex_client_clear(&c);
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_X25519MLKEM768, priv, 95, share2,
                                                  sizeof(share2), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_kex_client_from_private(&c, RTCSEC_GROUP_SECP256R1, priv, 32, share2,
                                                  sizeof(share2), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

/* ---- by group ------------------------------------------------------------------------- */

START_TEST(every_group_through_the_dispatcher) {
  const uint16_t groups[] = {RTCSEC_GROUP_X25519MLKEM768, RTCSEC_GROUP_X25519,
                             RTCSEC_GROUP_SECP256R1};
  const char *const names[] = {"X25519MLKEM768", "x25519", "secp256r1"};
  const size_t lens[][3] = {{1216, 1120, 64}, {32, 32, 32}, {65, 65, 32}};
  static uint8_t cshare[RTCSEC_KEX_MAX_CLIENT_SHARE_LEN], sshare[RTCSEC_KEX_MAX_SERVER_SHARE_LEN];
  uint8_t ssecret[RTCSEC_KEX_MAX_SECRET_LEN], csecret[RTCSEC_KEX_MAX_SECRET_LEN];
  for (size_t g = 0; g < 3; g++) {
    ck_assert(rtcsec_kex_group_supported(groups[g]));
    ck_assert_str_eq(rtcsec_kex_group_name(groups[g]), names[g]);
    ck_assert_uint_eq(rtcsec_kex_client_share_len(groups[g]), lens[g][0]);
    ck_assert_uint_eq(rtcsec_kex_server_share_len(groups[g]), lens[g][1]);
    ck_assert_uint_eq(rtcsec_kex_secret_len(groups[g]), lens[g][2]);
    rtcsec_kex_client c;
    size_t cn = 0, sn = 0, kn = 0, ckn = 0;
    /* Too small for the client share: nothing made. */
    ck_assert_int_eq(rtcsec_kex_client_keygen(&c, groups[g], cshare, lens[g][0] - 1, &cn),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(rtcsec_kex_client_keygen(&c, groups[g], cshare, sizeof(cshare), &cn), 0);
    ck_assert_uint_eq(cn, lens[g][0]);
    ck_assert_int_eq(rtcsec_kex_server(groups[g], cshare, cn, sshare, lens[g][1] - 1, &sn, ssecret,
                                       sizeof(ssecret), &kn),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(rtcsec_kex_server(groups[g], cshare, cn, sshare, sizeof(sshare), &sn, ssecret,
                                       lens[g][2] - 1, &kn),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(rtcsec_kex_server(groups[g], cshare, cn - 1, sshare, sizeof(sshare), &sn,
                                       ssecret, sizeof(ssecret), &kn),
                     RTCSEC_ERR_KEY_SHARE_LENGTH);
    ck_assert_int_eq(rtcsec_kex_server(groups[g], cshare, cn, sshare, sizeof(sshare), &sn, ssecret,
                                       sizeof(ssecret), &kn),
                     0);
    ck_assert_uint_eq(sn, lens[g][1]);
    ck_assert_uint_eq(kn, lens[g][2]);
    ck_assert_int_eq(rtcsec_kex_client_finish(&c, sshare, sn, csecret, sizeof(csecret), &ckn), 0);
    ck_assert_uint_eq(ckn, kn);
    ck_assert(memcmp(csecret, ssecret, kn) == 0);
    ck_assert(!all_zero(ssecret, kn));
    rtcsec_kex_client_clear(&c);
    rtcsec_kex_client_clear(NULL);
  }
  size_t sn = 1, kn = 1, cn = 1;
  ck_assert(!rtcsec_kex_group_supported(0x0018));
  ck_assert_str_eq(rtcsec_kex_group_name(0x6399), "unknown");
  ck_assert_uint_eq(rtcsec_kex_client_share_len(0x0018), 0);
  ck_assert_int_eq(rtcsec_kex_server(0x0018, cshare, 97, sshare, sizeof(sshare), &sn, ssecret,
                                     sizeof(ssecret), &kn),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_uint_eq(sn, 0);
  ck_assert_uint_eq(kn, 0);
  rtcsec_kex_client c;
  ck_assert_int_eq(rtcsec_kex_client_keygen(&c, 0x0018, cshare, sizeof(cshare), &cn),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_kex_client_finish(&c, sshare, 32, csecret, sizeof(csecret), &cn),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  /* A plain X25519 client is not a hybrid one. */
  ck_assert_int_eq(rtcsec_kex_client_keygen(&c, RTCSEC_GROUP_X25519, cshare, sizeof(cshare), &cn),
                   0);
  ck_assert_int_eq(rtcsec_x25519mlkem768_client_finish(&c, sshare, HYB_SERVER, csecret),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_kex_client_clear(&c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kex");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, x25519_matches_rfc_7748_vectors);
  tcase_add_test(tc, x25519_small_order_peer_key_gives_the_all_zero_error);
  tcase_add_test(tc, x25519_share_of_the_wrong_length_is_refused);
  tcase_add_test(tc, p256_server_agrees_with_openssl_and_rfc_5903_key);
  tcase_add_test(tc, p256_bad_points_and_lengths_are_refused);
  tcase_add_test(tc, hybrid_round_trip_and_share_layout);
  tcase_add_test(tc, hybrid_bad_client_shares_get_distinct_errors);
  tcase_add_test(tc, hybrid_corrupted_ciphertext_gives_the_client_another_secret_without_error);
  tcase_add_test(tc, hybrid_client_from_fixed_seeds_is_deterministic);
  tcase_add_test(tc, every_group_through_the_dispatcher);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
