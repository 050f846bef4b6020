/* Constant-time check of lib/mlkem.c under valgrind (meson suite mlkem_ct).
 *
 * Valgrind's memcheck reports a conditional jump, or a memory address, that
 * depends on memory marked undefined. This program marks the secrets
 * undefined: d and z for key generation, m for encapsulation, and the secret
 * parts of dk (s and z) for decapsulation. Then it runs KeyGen, Encaps and
 * Decaps, with a valid ciphertext and with corrupted ones (the implicit
 * rejection path), marking outputs defined only to compare them. Any branch
 * or table index on a secret, in mlkem.c or in OpenSSL's SHA-3 and
 * CRYPTO_memcmp under it, makes valgrind exit with status 1.
 *
 * mlkem.c is compiled into this program with RTCSEC_MLKEM_CT_VALGRIND, which
 * declares public the one value the algorithm publishes on purpose: rho, the
 * end of ek, which steers rejection sampling.
 *
 * `--canary` adds a deliberate branch on d: valgrind must report it (the
 * suite's mlkem_ct_canary test expects the run to fail), which shows that the
 * marking and the error exit work. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include "mlkem.h"

#define EK_LEN RTCSEC_MLKEM768_EK_LEN
#define DK_LEN RTCSEC_MLKEM768_DK_LEN
#define CT_LEN RTCSEC_MLKEM768_CT_LEN
#define SS_LEN RTCSEC_MLKEM_SS_LEN
#define DK_SECRET_LEN 1152 /* s-hat: dk[0 : 384k] */
#define DK_Z_OFF (DK_LEN - 32)
#define ROUNDS 4

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "test_mlkem_ct: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static void mark_dk_secret(uint8_t *dk) {
  SECRET(dk, DK_SECRET_LEN);
  SECRET(dk + DK_Z_OFF, 32);
}

/* J(z || c) with OpenSSL, on defined copies: the expected rejection value. */
static void ref_j(const uint8_t z[32], const uint8_t *c, uint8_t out[32]) {
  EVP_MD *md = EVP_MD_fetch(NULL, "SHAKE256", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  CHECK(md != NULL && ctx != NULL);
  CHECK(EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, z, 32) == 1 &&
        EVP_DigestUpdate(ctx, c, CT_LEN) == 1 && EVP_DigestFinalXOF(ctx, out, 32) == 1);
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
}

static void one_round(int round, int canary) {
  static uint8_t d[32], z[32], m[32], z_copy[32];
  static uint8_t ek[EK_LEN], dk[DK_LEN], ct[CT_LEN], bad[CT_LEN];
  uint8_t k[SS_LEN], k2[SS_LEN], want[SS_LEN];
  CHECK(RAND_bytes(d, 32) == 1 && RAND_bytes(z, 32) == 1 && RAND_bytes(m, 32) == 1);
  memcpy(z_copy, z, 32);

  /* KeyGen with d and z secret. */
  SECRET(d, 32);
  SECRET(z, 32);
  if (canary) {
    volatile int sink = 0;
    if (d[0] & 1) /* the deliberate leak valgrind must see */
      sink++;
    (void)sink;
  }
  int rc = rtcsec_mlkem768_keygen_internal(d, z, ek, dk);
  CHECK(rc == 0);
  PUBLIC(ek, EK_LEN);                      /* ek is published */
  PUBLIC(dk + DK_SECRET_LEN, EK_LEN + 32); /* dk's copy of ek and H(ek) */

  /* Encaps with m secret; the ciphertext is published. */
  SECRET(m, 32);
  rc = rtcsec_mlkem768_encaps_internal(ek, m, ct, k);
  CHECK(rc == 0);
  PUBLIC(ct, CT_LEN);

  /* Decaps, valid ciphertext, dk's secrets undefined. */
  mark_dk_secret(dk);
  rc = rtcsec_mlkem768_decaps(dk, ct, k2);
  CHECK(rc == 0);
  PUBLIC(k, SS_LEN);
  PUBLIC(k2, SS_LEN);
  CHECK(memcmp(k, k2, SS_LEN) == 0);

  /* Decaps, corrupted ciphertexts: implicit rejection. */
  const size_t pos[] = {0, 700, CT_LEN - 1};
  for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
    memcpy(bad, ct, CT_LEN);
    bad[pos[i]] ^= (uint8_t)(1u << ((round + (int)i) % 8));
    mark_dk_secret(dk);
    rc = rtcsec_mlkem768_decaps(dk, bad, k2);
    CHECK(rc == 0);
    PUBLIC(k2, SS_LEN);
    ref_j(z_copy, bad, want);
    CHECK(memcmp(k2, want, SS_LEN) == 0);
    CHECK(memcmp(k2, k, SS_LEN) != 0);
  }
}

int main(int argc, char **argv) {
  int canary = argc > 1 && strcmp(argv[1], "--canary") == 0;
  if (!canary && !RUNNING_ON_VALGRIND) {
    fprintf(stderr, "test_mlkem_ct: not under valgrind, so nothing would be checked; run it as "
                    "meson test -C BUILD --suite mlkem_ct\n");
    return 1;
  }
  for (int round = 0; round < ROUNDS; round++)
    one_round(round, canary);
  if (failures > 0) {
    printf("test_mlkem_ct: 0 passed, %d failed\n", failures);
    return 1;
  }
  printf("test_mlkem_ct: %d rounds of KeyGen, Encaps, Decaps (valid and 3 rejected ciphertexts) "
         "with the secrets undefined%s\n",
         ROUNDS, canary ? " (canary: a branch on d was added)" : "");
  return 0;
}
