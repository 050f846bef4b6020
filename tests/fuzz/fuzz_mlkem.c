/* libFuzzer target: ML-KEM-768 decapsulation and the TLS 1.3 key_share
 * helpers (lib/mlkem.c, lib/hybrid_kex.c), the bytes a peer controls.
 *
 * Input: one byte choosing what the rest is, then the bytes.
 *   byte % 3 == 0: a ciphertext (cut or zero-padded to 1088 bytes) for the
 *     fixed key of fuzz_mlkem_fixed(). Decapsulation must return 0, give the
 *     same secret twice, and give the fixed ciphertext's secret for that
 *     ciphertext and J(z || c) (SHAKE256, computed here) for every other one:
 *     implicit rejection, never an error, never the real secret.
 *   byte % 3 == 1: an X25519MLKEM768 client share of any length to
 *     rtcsec_x25519mlkem768_server(). The error is the one its input calls
 *     for (length, then modulus check); outputs are zero on error; when the
 *     share carries the fixed client's encapsulation key, the ML-KEM half of
 *     the secret is what the fixed client decapsulates from the server's
 *     ciphertext, and when it is the whole fixed share the client derives the
 *     same 64 bytes.
 *   byte % 3 == 2: the same bytes as an X25519 share and as a P-256 share:
 *     KEY_SHARE_LENGTH exactly when the length is not 32 / 65, and only the
 *     errors each group can give.
 * Seeds: tests/fuzz/corpus/mlkem (gen_corpus). */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtcsec/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fixed_ek[RTCSEC_MLKEM768_EK_LEN], fixed_dk[RTCSEC_MLKEM768_DK_LEN];
static uint8_t fixed_ct[RTCSEC_MLKEM768_CT_LEN], fixed_ss[RTCSEC_MLKEM_SS_LEN];
static uint8_t fixed_share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN];
static rtcsec_kex_client fixed_client;
static EVP_MD *shake256;

static void setup(void) {
  static int done;
  if (done)
    return;
  done = 1;
  fuzz_rng_install();
  fuzz_mlkem_fixed(fixed_ek, fixed_dk, fixed_ct, fixed_ss);
  fuzz_hybrid_client(&fixed_client, fixed_share);
  shake256 = EVP_MD_fetch(NULL, "SHAKE256", NULL);
  FUZZ_CHECK(shake256 != NULL);
}

static int all_zero(const uint8_t *p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++)
    acc |= p[i];
  return acc == 0;
}

static void run_decaps(const uint8_t *data, size_t size) {
  uint8_t ct[RTCSEC_MLKEM768_CT_LEN] = {0};
  uint8_t ss[RTCSEC_MLKEM_SS_LEN], again[RTCSEC_MLKEM_SS_LEN], want[RTCSEC_MLKEM_SS_LEN];
  memcpy(ct, data, size < sizeof(ct) ? size : sizeof(ct));
  FUZZ_CHECK(rtcsec_mlkem768_decaps(fixed_dk, ct, ss) == 0);
  FUZZ_CHECK(rtcsec_mlkem768_decaps(fixed_dk, ct, again) == 0);
  FUZZ_CHECK(memcmp(ss, again, sizeof(ss)) == 0);
  if (memcmp(ct, fixed_ct, sizeof(ct)) == 0) {
    FUZZ_CHECK(memcmp(ss, fixed_ss, sizeof(ss)) == 0);
    return;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  FUZZ_CHECK(ctx != NULL);
  FUZZ_CHECK(EVP_DigestInit_ex2(ctx, shake256, NULL) == 1);
  FUZZ_CHECK(EVP_DigestUpdate(ctx, fixed_dk + RTCSEC_MLKEM768_DK_LEN - 32, 32) == 1);
  FUZZ_CHECK(EVP_DigestUpdate(ctx, ct, sizeof(ct)) == 1);
  FUZZ_CHECK(EVP_DigestFinalXOF(ctx, want, sizeof(want)) == 1);
  EVP_MD_CTX_free(ctx);
  FUZZ_CHECK(memcmp(ss, want, sizeof(ss)) == 0);
  FUZZ_CHECK(memcmp(ss, fixed_ss, sizeof(ss)) != 0);
}

static void run_hybrid(const uint8_t *data, size_t size) {
  static uint8_t share[RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN];
  uint8_t secret[RTCSEC_X25519MLKEM768_SECRET_LEN], mine[RTCSEC_X25519MLKEM768_SECRET_LEN];
  memset(share, 0xAA, sizeof(share));
  memset(secret, 0xAA, sizeof(secret));
  int rc = rtcsec_x25519mlkem768_server(data, size, share, secret);
  if (size != RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN) {
    FUZZ_CHECK(rc == RTCSEC_ERR_KEY_SHARE_LENGTH);
  } else if (rtcsec_mlkem768_check_ek(data) != 0) {
    FUZZ_CHECK(rc == RTCSEC_ERR_KEY_SHARE_INVALID);
  } else {
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_KEY_SHARE_ZERO);
  }
  if (rc != 0) {
    FUZZ_CHECK(all_zero(share, sizeof(share)) && all_zero(secret, sizeof(secret)));
    return;
  }
  FUZZ_CHECK(!all_zero(secret + RTCSEC_MLKEM_SS_LEN, RTCSEC_X25519_SECRET_LEN));
  if (memcmp(data, fixed_ek, RTCSEC_MLKEM768_EK_LEN) == 0) {
    FUZZ_CHECK(rtcsec_mlkem768_decaps(fixed_dk, share, mine) == 0);
    FUZZ_CHECK(memcmp(mine, secret, RTCSEC_MLKEM_SS_LEN) == 0);
  }
  if (memcmp(data, fixed_share, sizeof(fixed_share)) == 0) {
    FUZZ_CHECK(rtcsec_x25519mlkem768_client_finish(&fixed_client, share, sizeof(share), mine) == 0);
    FUZZ_CHECK(memcmp(mine, secret, sizeof(secret)) == 0);
  }
}

static void run_ecdh(const uint8_t *data, size_t size) {
  uint8_t share[RTCSEC_P256_SHARE_LEN], secret[32];
  int rc = rtcsec_x25519_server(data, size, share, secret);
  if (size != RTCSEC_X25519_SHARE_LEN)
    FUZZ_CHECK(rc == RTCSEC_ERR_KEY_SHARE_LENGTH);
  else
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_KEY_SHARE_ZERO);
  if (rc == 0)
    FUZZ_CHECK(!all_zero(secret, sizeof(secret)));
  rc = rtcsec_p256_server(data, size, share, secret);
  if (size != RTCSEC_P256_SHARE_LEN)
    FUZZ_CHECK(rc == RTCSEC_ERR_KEY_SHARE_LENGTH);
  else
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_KEY_SHARE_INVALID);
  if (rc == 0)
    FUZZ_CHECK(data[0] == 0x04 && share[0] == 0x04);
  else
    FUZZ_CHECK(all_zero(share, sizeof(share)) && all_zero(secret, sizeof(secret)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1)
    return 0;
  fuzz_rng_reset();
  switch (data[0] % 3) {
  case 0:
    run_decaps(data + 1, size - 1);
    break;
  case 1:
    run_hybrid(data + 1, size - 1);
    break;
  default:
    run_ecdh(data + 1, size - 1);
    break;
  }
  return 0;
}
