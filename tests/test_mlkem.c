/* ML-KEM-768 (lib/mlkem.c) against published vectors we did not make:
 *   - NIST ACVP (FIPS 203 final): keyGen, encapsulation, decapsulation and
 *     the encapsulation- and decapsulation-key checks, tests/vectors/mlkem/
 *     acvp-768.txt.gz;
 *   - C2SP CCTV: intermediate values, the "unlucky" rejection-sampling
 *     vector, the strcmp vector and the 780 bad-modulus keys,
 *     tests/vectors/mlkem/cctv-768.txt.gz (see README.md there);
 *   - the accumulated pseudo-random tests: CCTV's 10 000 iterations (FIPS 203
 *     ipd keys) and Go's 10 000 (final keys), each against its published
 *     SHAKE128 hash;
 * plus exhaustive checks of the constant-time field arithmetic and negative
 * cases (keys with a coefficient >= q, corrupted ciphertexts and keys).
 *
 * CCTV's vectors predate the final standard: they derive (rho, sigma) as
 * G(d), where FIPS 203 final uses G(d || k). Everything after that line is
 * the same, so the tests compute G(d) here with OpenSSL and hand (rho, sigma)
 * to rtcsec_mlkem768_keygen_rho_sigma(); encapsulation and decapsulation need
 * no such help. The reference hashes here (G, H, J) are OpenSSL's SHA-3 used
 * directly, not through lib/mlkem.c. */
#include <check.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mlkem.h"
#include "rtcsec/error.h"

#define EK_LEN RTCSEC_MLKEM768_EK_LEN
#define DK_LEN RTCSEC_MLKEM768_DK_LEN
#define CT_LEN RTCSEC_MLKEM768_CT_LEN
#define SS_LEN RTCSEC_MLKEM_SS_LEN
#define Q 3329

/* ---- reference hashes (OpenSSL, directly) ---------------------------------- */

static void ref_hash(const char *name, const uint8_t *a, size_t a_len, const uint8_t *b,
                     size_t b_len, uint8_t *out, size_t out_len) {
  EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  ck_assert_ptr_nonnull(md);
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(EVP_DigestInit_ex2(ctx, md, NULL), 1);
  ck_assert_int_eq(EVP_DigestUpdate(ctx, a, a_len), 1);
  if (b_len > 0)
    ck_assert_int_eq(EVP_DigestUpdate(ctx, b, b_len), 1);
  if (strncmp(name, "SHAKE", 5) == 0)
    ck_assert_int_eq(EVP_DigestFinalXOF(ctx, out, out_len), 1);
  else
    ck_assert_int_eq(EVP_DigestFinal_ex(ctx, out, NULL), 1);
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
}

/* J(z || c) of FIPS 203 §4.1: the implicit-rejection secret. */
static void ref_j(const uint8_t *z, const uint8_t *c, uint8_t out[32]) {
  ref_hash("SHAKE256", z, 32, c, CT_LEN, out, 32);
}

/* ---- vector files --------------------------------------------------------------- */

#define MAX_FIELDS 8
#define LINE_CAP 32768

typedef struct record {
  char line[LINE_CAP];
  char *f[MAX_FIELDS]; /* f[0] is the kind */
  int n;
} record;

typedef struct vec_file {
  gzFile gz;
  char path[512];
  int lineno;
} vec_file;

/* The vectors' folder: $RTCSEC_MLKEM_VECTORS_DIR, else the first folder of the
 * ':'-separated $RTCSEC_MLKEM_VECTORS (set by meson test) that has the file. */
static void vec_open(vec_file *v, const char *name) {
  const char *dir = getenv("RTCSEC_MLKEM_VECTORS_DIR");
  const char *list = dir != NULL ? dir : getenv("RTCSEC_MLKEM_VECTORS");
  ck_assert_msg(list != NULL, "neither RTCSEC_MLKEM_VECTORS_DIR nor RTCSEC_MLKEM_VECTORS is set");
  v->gz = NULL;
  v->lineno = 0;
  for (const char *p = list; v->gz == NULL && *p != '\0';) {
    size_t n = strcspn(p, ":");
    snprintf(v->path, sizeof(v->path), "%.*s/%s", (int)n, p, name);
    v->gz = gzopen(v->path, "rb");
    p += n + (p[n] == ':');
  }
  ck_assert_msg(v->gz != NULL,
                "ML-KEM vectors missing: %s is in none of %s (tests/vectors/mlkem/README.md "
                "says where they come from)",
                name, list);
}

/* Next record, comments skipped; 0 at the end of the file. */
static int vec_next(vec_file *v, record *r) {
  for (;;) {
    if (gzgets(v->gz, r->line, sizeof(r->line)) == NULL) {
      int err = 0;
      const char *msg = gzerror(v->gz, &err);
      ck_assert_msg(err == Z_OK || err == Z_STREAM_END, "%s: %s", v->path, msg);
      return 0;
    }
    v->lineno++;
    size_t len = strlen(r->line);
    ck_assert_msg(len > 0 && r->line[len - 1] == '\n', "%s:%d: line too long or cut", v->path,
                  v->lineno);
    r->line[len - 1] = '\0';
    if (r->line[0] == '#' || r->line[0] == '\0')
      continue;
    r->n = 0;
    for (char *save = NULL, *tok = strtok_r(r->line, " ", &save); tok != NULL;
         tok = strtok_r(NULL, " ", &save)) {
      ck_assert_msg(r->n < MAX_FIELDS, "%s:%d: too many fields", v->path, v->lineno);
      r->f[r->n++] = tok;
    }
    return 1;
  }
}

static void vec_close(vec_file *v) { gzclose(v->gz); }

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Exactly `len` bytes of hex, else the test fails. */
static void unhex(const char *hex, uint8_t *out, size_t len) {
  ck_assert_msg(strlen(hex) == 2 * len, "hex of %zu chars, want %zu bytes", strlen(hex), len);
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    ck_assert_msg(hi >= 0 && lo >= 0, "not hex at %zu", 2 * i);
    out[i] = (uint8_t)(hi << 4 | lo);
  }
}

/* Hex of any length into a buffer of cap bytes; returns the length. */
static size_t unhex_any(const char *hex, uint8_t *out, size_t cap) {
  size_t n = strlen(hex) / 2;
  ck_assert_msg(n <= cap && strlen(hex) % 2 == 0, "hex too long or odd");
  unhex(hex, out, n);
  return n;
}

/* "c0,c1,...,c255" into 256 coefficients below q. */
static void uncoeffs(const char *s, uint16_t out[256]) {
  for (int i = 0; i < 256; i++) {
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    ck_assert_msg(end != s && v < Q, "bad coefficient %d", i);
    out[i] = (uint16_t)v;
    s = end;
    if (i < 255) {
      ck_assert_msg(*s == ',', "coefficient list too short");
      s++;
    }
  }
  ck_assert_msg(*s == '\0', "coefficient list too long");
}

/* ByteEncode12 (FIPS 203 Alg. 5), written here again for the matrix check. */
static void encode12(const uint16_t f[256], uint8_t out[384]) {
  for (int i = 0; i < 128; i++) {
    out[3 * i] = (uint8_t)f[2 * i];
    out[3 * i + 1] = (uint8_t)((f[2 * i] >> 8) | (f[2 * i + 1] << 4));
    out[3 * i + 2] = (uint8_t)(f[2 * i + 1] >> 4);
  }
}

static void assert_mem_eq(const uint8_t *got, const uint8_t *want, size_t len, const char *what,
                          const char *tag) {
  if (memcmp(got, want, len) == 0)
    return;
  size_t i = 0;
  while (got[i] == want[i])
    i++;
  ck_abort_msg("%s (%s): first difference at byte %zu of %zu", what, tag, i, len);
}

/* An "encap" (ek m c k) or "decap" (dk c k) record, the same in both files:
 * 1 if r was one of them and matched, 0 if r is another kind. */
static int run_encap_decap(const record *r, const char *tag) {
  static uint8_t m[32], ek[EK_LEN], dk[DK_LEN], c[CT_LEN], k[SS_LEN], got_c[CT_LEN];
  uint8_t got_k[SS_LEN];
  if (strcmp(r->f[0], "encap") == 0) {
    ck_assert_int_ge(r->n, 5);
    unhex(r->f[1], ek, EK_LEN);
    unhex(r->f[2], m, 32);
    unhex(r->f[3], c, CT_LEN);
    unhex(r->f[4], k, SS_LEN);
    ck_assert_int_eq(rtcsec_mlkem768_encaps_internal(ek, m, got_c, got_k), 0);
    assert_mem_eq(got_c, c, CT_LEN, "encapsulation c", tag);
    assert_mem_eq(got_k, k, SS_LEN, "encapsulation K", tag);
    return 1;
  }
  if (strcmp(r->f[0], "decap") == 0) {
    ck_assert_int_ge(r->n, 4);
    unhex(r->f[1], dk, DK_LEN);
    unhex(r->f[2], c, CT_LEN);
    unhex(r->f[3], k, SS_LEN);
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c, got_k), 0);
    assert_mem_eq(got_k, k, SS_LEN, "decapsulation K", tag);
    return 1;
  }
  return 0;
}

/* ---- ACVP ---------------------------------------------------------------------- */

/* Records per kind in acvp-768.txt.gz (ACVP v1.1.0.40, ML-KEM-768). */
enum { ACVP_KEYGEN = 25, ACVP_ENCAP = 25, ACVP_DECAP = 10, ACVP_EKCHECK = 10, ACVP_DKCHECK = 10 };

START_TEST(acvp_keygen_encaps_decaps_and_key_checks_match_nist) {
  vec_file v;
  record *r = malloc(sizeof(*r));
  ck_assert_ptr_nonnull(r);
  vec_open(&v, "acvp-768.txt.gz");
  int keygen = 0, encap = 0, decap = 0, ekcheck = 0, dkcheck = 0, ek_pass = 0, dk_pass = 0;
  static uint8_t d[32], z[32], ek[EK_LEN], dk[DK_LEN];
  static uint8_t got_ek[EK_LEN], got_dk[DK_LEN];
  static uint8_t key[2 * DK_LEN];
  while (vec_next(&v, r)) {
    const char *kind = r->f[0];
    const char *tag = r->f[r->n - 1];
    if (strcmp(kind, "keygen") == 0) {
      ck_assert_int_eq(r->n, 6);
      unhex(r->f[1], d, 32);
      unhex(r->f[2], z, 32);
      unhex(r->f[3], ek, EK_LEN);
      unhex(r->f[4], dk, DK_LEN);
      ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(d, z, got_ek, got_dk), 0);
      assert_mem_eq(got_ek, ek, EK_LEN, "keyGen ek", tag);
      assert_mem_eq(got_dk, dk, DK_LEN, "keyGen dk", tag);
      keygen++;
    } else if (run_encap_decap(r, tag)) {
      encap += kind[0] == 'e';
      decap += kind[0] == 'd';
    } else if (strcmp(kind, "ekcheck") == 0 || strcmp(kind, "dkcheck") == 0) {
      ck_assert_int_eq(r->n, 4);
      int is_ek = kind[0] == 'e';
      size_t len = unhex_any(r->f[1], key, sizeof(key));
      int want_pass = strcmp(r->f[2], "1") == 0;
      /* The fixed-size API takes only the right length: a key of another
       * length fails before the check proper. */
      int pass;
      if (is_ek)
        pass = len == EK_LEN && rtcsec_mlkem768_check_ek(key) == 0;
      else
        pass = len == DK_LEN && rtcsec_mlkem768_check_dk(key) == 0;
      ck_assert_msg(pass == want_pass, "%s %s: check says %d, NIST says %d", kind, tag, pass,
                    want_pass);
      if (is_ek) {
        ekcheck++;
        ek_pass += pass;
      } else {
        dkcheck++;
        dk_pass += pass;
      }
    } else {
      ck_abort_msg("unknown record kind '%s' at line %d", kind, v.lineno);
    }
  }
  vec_close(&v);
  free(r);
  printf("mlkem: ACVP ML-KEM-768: keyGen %d, encapsulation %d, decapsulation %d, "
         "encapsulationKeyCheck %d (%d valid), decapsulationKeyCheck %d (%d valid)\n",
         keygen, encap, decap, ekcheck, ek_pass, dkcheck, dk_pass);
  ck_assert_int_eq(keygen, ACVP_KEYGEN);
  ck_assert_int_eq(encap, ACVP_ENCAP);
  ck_assert_int_eq(decap, ACVP_DECAP);
  ck_assert_int_eq(ekcheck, ACVP_EKCHECK);
  ck_assert_int_eq(dkcheck, ACVP_DKCHECK);
  /* Both verdicts occur, so a check that always passes or always fails
   * cannot get through. */
  ck_assert(ek_pass > 0 && ek_pass < ekcheck);
  ck_assert(dk_pass > 0 && dk_pass < dkcheck);
}
END_TEST

/* ---- CCTV ------------------------------------------------------------------------ */

/* ipd key generation: (rho, sigma) = G(d) (the draft), then the rest. */
static void ipd_keygen(const uint8_t d[32], const uint8_t z[32], uint8_t *ek, uint8_t *dk) {
  uint8_t g[64];
  ref_hash("SHA3-512", d, 32, NULL, 0, g, 64);
  ck_assert_int_eq(rtcsec_mlkem768_keygen_rho_sigma(g, g + 32, z, ek, dk), 0);
}

enum { CCTV_BADEK = 780, CCTV_ENCAP = 2, CCTV_DECAP = 3, CCTV_IPDKEYGEN = 2 };

START_TEST(cctv_intermediate_unlucky_strcmp_and_bad_modulus_vectors) {
  vec_file v;
  record *r = malloc(sizeof(*r));
  ck_assert_ptr_nonnull(r);
  vec_open(&v, "cctv-768.txt.gz");
  int badek = 0, encap = 0, decap = 0, ipdkeygen = 0, intermediate = 0, unlucky = 0;
  static uint8_t d[32], z[32], m[32], ek[EK_LEN], dk[DK_LEN], c[CT_LEN], k[SS_LEN];
  static uint8_t got_ek[EK_LEN], got_dk[DK_LEN], got_c[CT_LEN], got_k[SS_LEN];
  static uint16_t want[256], got[256];
  while (vec_next(&v, r)) {
    const char *kind = r->f[0];
    const char *tag = r->f[r->n - 1];
    if (strcmp(kind, "badek") == 0) {
      /* modulus/: every value q..4095 at every position: all refused, by the
       * check and by encapsulation, which writes nothing but zeros. */
      unhex(r->f[1], ek, EK_LEN);
      ck_assert_int_eq(rtcsec_mlkem768_check_ek(ek), RTCSEC_ERR_INVALID_ARGUMENT);
      memset(got_c, 0xAA, sizeof(got_c));
      memset(got_k, 0xAA, sizeof(got_k));
      memset(m, 0x42, sizeof(m));
      ck_assert_int_eq(rtcsec_mlkem768_encaps_internal(ek, m, got_c, got_k),
                       RTCSEC_ERR_INVALID_ARGUMENT);
      static const uint8_t zero[CT_LEN];
      ck_assert(memcmp(got_c, zero, CT_LEN) == 0 && memcmp(got_k, zero, SS_LEN) == 0);
      badek++;
    } else if (strcmp(kind, "rhosigma") == 0) {
      /* The ipd's G(d), and the final G(d || k) differs from it. */
      uint8_t g[64], want_g[64], final_g[64], kbyte = 3;
      unhex(r->f[1], d, 32);
      unhex(r->f[2], want_g, 32);
      unhex(r->f[3], want_g + 32, 32);
      ref_hash("SHA3-512", d, 32, NULL, 0, g, 64);
      assert_mem_eq(g, want_g, 64, "G(d) = rho || sigma", "intermediate");
      ref_hash("SHA3-512", d, 32, &kbyte, 1, final_g, 64);
      ck_assert(memcmp(final_g, g, 64) != 0);
      intermediate++;
    } else if (strcmp(kind, "samplentt") == 0) {
      uint8_t rho[32];
      unhex(r->f[1], rho, 32);
      uncoeffs(r->f[4], want);
      ck_assert_int_eq(
          rtcsec_mlkem_sample_ntt(rho, (uint8_t)atoi(r->f[2]), (uint8_t)atoi(r->f[3]), got, NULL),
          0);
      ck_assert(memcmp(got, want, sizeof(got)) == 0);
      intermediate++;
    } else if (strcmp(kind, "matrix") == 0) {
      /* A-hat in row-major order, A-hat[i, j] = SampleNTT(rho || j || i). */
      uint8_t rho[32], want_a[9 * 384], got_a[9 * 384];
      unhex(r->f[1], rho, 32);
      unhex(r->f[2], want_a, sizeof(want_a));
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
          ck_assert_int_eq(rtcsec_mlkem_sample_ntt(rho, (uint8_t)j, (uint8_t)i, got, NULL), 0);
          encode12(got, got_a + 384 * (3 * i + j));
        }
      }
      assert_mem_eq(got_a, want_a, sizeof(got_a), "A-hat", "intermediate");
      intermediate++;
    } else if (strcmp(kind, "ntt") == 0) {
      uncoeffs(r->f[1], got);
      uncoeffs(r->f[2], want);
      uint16_t orig[256];
      memcpy(orig, got, sizeof(orig));
      rtcsec_mlkem_ntt(got);
      ck_assert(memcmp(got, want, sizeof(got)) == 0);
      rtcsec_mlkem_ntt_inverse(got);
      ck_assert(memcmp(got, orig, sizeof(got)) == 0);
      intermediate++;
    } else if (strcmp(kind, "compress") == 0) {
      unsigned bits = (unsigned)atoi(r->f[1]);
      uncoeffs(r->f[2], got);
      uncoeffs(r->f[3], want);
      for (int i = 0; i < 256; i++)
        ck_assert_uint_eq(rtcsec_mlkem_compress(got[i], bits), want[i]);
      intermediate++;
    } else if (strcmp(kind, "ipdkeygen") == 0) {
      unhex(r->f[1], d, 32);
      unhex(r->f[2], z, 32);
      unhex(r->f[3], ek, EK_LEN);
      unhex(r->f[4], dk, DK_LEN);
      ipd_keygen(d, z, got_ek, got_dk);
      assert_mem_eq(got_ek, ek, EK_LEN, "ipd keygen ek", tag);
      assert_mem_eq(got_dk, dk, DK_LEN, "ipd keygen dk", tag);
      /* The final standard's key from the same d is another key. */
      ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(d, z, got_ek, got_dk), 0);
      ck_assert(memcmp(got_ek, ek, EK_LEN) != 0);
      ipdkeygen++;
    } else if (strcmp(kind, "unlucky") == 0) {
      /* The point of the vector: some matrix entry needs more than 575
       * bytes of SHAKE128, past the first squeeze (504 bytes). */
      unhex(r->f[1], ek, EK_LEN);
      size_t most = 0;
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
          size_t used = 0;
          ck_assert_int_eq(
              rtcsec_mlkem_sample_ntt(ek + EK_LEN - 32, (uint8_t)j, (uint8_t)i, got, &used), 0);
          if (used > most)
            most = used;
        }
      }
      printf("mlkem: CCTV unlucky ML-KEM-768: SampleNTT read up to %zu SHAKE128 bytes\n", most);
      ck_assert_uint_gt(most, 575);
      unlucky++;
    } else if (run_encap_decap(r, tag)) {
      encap += kind[0] == 'e';
      decap += kind[0] == 'd';
    } else if (strcmp(kind, "jzc") == 0) {
      /* KBar: pins this test's own J, used below to judge implicit
       * rejection. */
      unhex(r->f[1], z, 32);
      unhex(r->f[2], c, CT_LEN);
      unhex(r->f[3], k, SS_LEN);
      ref_j(z, c, got_k);
      assert_mem_eq(got_k, k, SS_LEN, "J(z || c)", tag);
      intermediate++;
    } else {
      ck_abort_msg("unknown record kind '%s' at line %d", kind, v.lineno);
    }
  }
  vec_close(&v);
  free(r);
  printf("mlkem: CCTV ML-KEM-768: bad-modulus keys %d, intermediate checks %d, ipd keygen %d, "
         "encaps %d, decaps %d, unlucky %d\n",
         badek, intermediate, ipdkeygen, encap, decap, unlucky);
  ck_assert_int_eq(badek, CCTV_BADEK);
  ck_assert_int_eq(intermediate, 7);
  ck_assert_int_eq(ipdkeygen, CCTV_IPDKEYGEN);
  ck_assert_int_eq(encap, CCTV_ENCAP);
  ck_assert_int_eq(decap, CCTV_DECAP);
  ck_assert_int_eq(unlucky, 1);
}
END_TEST

/* ---- accumulated pseudo-random tests ---------------------------------------------- */

/* SHAKE128("") read as one stream: OpenSSL 3.0 squeezes once, so the whole
 * stream the test needs is squeezed up front. */
static uint8_t *shake128_stream(size_t len) {
  uint8_t *buf = malloc(len);
  ck_assert_ptr_nonnull(buf);
  ref_hash("SHAKE128", (const uint8_t *)"", 0, NULL, 0, buf, len);
  return buf;
}

static void hex32(const uint8_t *b, char out[65]) {
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The two published accumulated tests draw the same inputs from
 * SHAKE128(""), per test d, z, m and a random ciphertext (Go reads d || z as
 * one 64-byte seed), and absorb the outputs into another SHAKE128:
 *   - C2SP CCTV ML-KEM README, "Accumulated pq-crystals vectors": ipd keys
 *     (G(d)); absorbs ek, dk, ct, K and Decaps(dk, random ct);
 *   - Go's crypto/internal/mlkem768 TestAccumulated: final keys (G(d || k));
 *     absorbs ek, ct, K and Decaps(dk, random ct).
 * Both check Decaps(dk, ct) = K on the way. */
#define ACC_N 10000
static void accumulate(int ipd, const char *label, const char *want) {
  const size_t per = 32 + 32 + 32 + CT_LEN;
  uint8_t *rng = shake128_stream(per * ACC_N);
  EVP_MD *shake = EVP_MD_fetch(NULL, "SHAKE128", NULL);
  EVP_MD_CTX *acc = EVP_MD_CTX_new();
  ck_assert_int_eq(EVP_DigestInit_ex2(acc, shake, NULL), 1);
  static uint8_t ek[EK_LEN], dk[DK_LEN], c[CT_LEN], k[SS_LEN], k2[SS_LEN], kr[SS_LEN];
  for (int i = 0; i < ACC_N; i++) {
    const uint8_t *d = rng + per * i, *z = d + 32, *m = z + 32, *ct_rand = m + 32;
    if (ipd)
      ipd_keygen(d, z, ek, dk);
    else
      ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(d, z, ek, dk), 0);
    ck_assert_int_eq(rtcsec_mlkem768_encaps_internal(ek, m, c, k), 0);
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c, k2), 0);
    ck_assert_msg(memcmp(k, k2, SS_LEN) == 0, "iteration %d: Decaps(Encaps) differs", i);
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, ct_rand, kr), 0);
    EVP_DigestUpdate(acc, ek, EK_LEN);
    if (ipd)
      EVP_DigestUpdate(acc, dk, DK_LEN);
    EVP_DigestUpdate(acc, c, CT_LEN);
    EVP_DigestUpdate(acc, k, SS_LEN);
    EVP_DigestUpdate(acc, kr, SS_LEN);
  }
  uint8_t h[32];
  char hex[65];
  ck_assert_int_eq(EVP_DigestFinalXOF(acc, h, sizeof(h)), 1);
  hex32(h, hex);
  printf("mlkem: %s ML-KEM-768, %d tests: %s\n", label, ACC_N, hex);
  ck_assert_str_eq(hex, want);
  EVP_MD_CTX_free(acc);
  EVP_MD_free(shake);
  free(rng);
}

START_TEST(cctv_accumulated_10000_ipd_vectors_hash_as_published) {
  accumulate(1, "CCTV accumulated (ipd)",
             "f7db260e1137a742e05fe0db9525012812b004d29040a5b606aad3d134b548d3");
}
END_TEST

START_TEST(go_accumulated_10000_final_vectors_hash_as_published) {
  accumulate(0, "Go accumulated (final)",
             "8a518cc63da366322a8e7a818c7a0d63483cb3528d34a4cf42f35d5ad73f22fc");
}
END_TEST

/* ---- field arithmetic, exhaustively ------------------------------------------------- */

START_TEST(barrett_reduction_is_exact_for_every_product) {
  /* Every input below 2^24 (products of two field elements are below q^2). */
  for (uint32_t x = 0; x < (1u << 24); x++) {
    if (rtcsec_mlkem_reduce(x) != x % Q)
      ck_abort_msg("reduce(%u) = %u, want %u", x, rtcsec_mlkem_reduce(x), x % Q);
  }
}
END_TEST

START_TEST(compress_and_decompress_round_exactly_for_every_input) {
  for (unsigned d = 1; d <= 11; d++) {
    for (uint32_t x = 0; x < Q; x++) {
      /* round(2^d x / q), halves up, mod 2^d, in exact integers. */
      uint32_t want = (((x << (d + 1)) + Q) / (2 * Q)) & ((1u << d) - 1);
      ck_assert_msg(rtcsec_mlkem_compress((uint16_t)x, d) == want, "Compress_%u(%u)", d, x);
    }
    for (uint32_t y = 0; y < (1u << d); y++) {
      uint32_t want = (2 * Q * y + (1u << d)) >> (d + 1); /* round(q y / 2^d) */
      uint16_t got = rtcsec_mlkem_decompress((uint16_t)y, d);
      ck_assert_msg(got == want, "Decompress_%u(%u)", d, y);
      /* FIPS 203 §4.2.1: Compress(Decompress(y)) = y. */
      ck_assert_uint_eq(rtcsec_mlkem_compress(got, d), y);
    }
  }
}
END_TEST

START_TEST(ntt_is_linear_and_undone_by_its_inverse) {
  /* On random polynomials: NTT(f + g) = NTT(f) + NTT(g), outputs below q,
   * NTT^-1(NTT(f)) = f. (The products in the NTT domain are checked by every
   * vector above: keygen and encryption are made of them.) */
  uint16_t f[256], g[256], sum[256];
  srand(1);
  for (int trial = 0; trial < 50; trial++) {
    for (int i = 0; i < 256; i++) {
      f[i] = (uint16_t)(rand() % Q);
      g[i] = (uint16_t)(rand() % Q);
      sum[i] = (uint16_t)((f[i] + g[i]) % Q);
    }
    uint16_t ff[256], gg[256];
    memcpy(ff, f, sizeof(ff));
    memcpy(gg, g, sizeof(gg));
    rtcsec_mlkem_ntt(ff);
    rtcsec_mlkem_ntt(gg);
    rtcsec_mlkem_ntt(sum);
    for (int i = 0; i < 256; i++) {
      ck_assert_uint_lt(ff[i], Q);
      ck_assert_uint_eq(sum[i], (ff[i] + gg[i]) % Q);
    }
    rtcsec_mlkem_ntt_inverse(ff);
    ck_assert(memcmp(ff, f, sizeof(f)) == 0);
  }
}
END_TEST

/* ---- negative cases ------------------------------------------------------------------ */

/* Sets coefficient j of polynomial i of t inside ek to a 12-bit value. */
static void set_coeff(uint8_t *ek, int i, int j, uint16_t val) {
  uint8_t *p = ek + 384 * i + 3 * (j / 2);
  if (j % 2 == 0) {
    p[0] = (uint8_t)val;
    p[1] = (uint8_t)((p[1] & 0xf0) | (val >> 8));
  } else {
    p[1] = (uint8_t)((p[1] & 0x0f) | ((val & 0x0f) << 4));
    p[2] = (uint8_t)(val >> 4);
  }
}

START_TEST(encapsulation_key_with_a_coefficient_of_q_or_more_is_refused) {
  static uint8_t ek[EK_LEN], dk[DK_LEN], bad[EK_LEN], c[CT_LEN], k[SS_LEN];
  ck_assert_int_eq(rtcsec_mlkem768_keygen(ek, dk), 0);
  ck_assert_int_eq(rtcsec_mlkem768_check_ek(ek), 0);
  const struct {
    int i, j;
    uint16_t val;
    int ok;
  } cases[] = {
      {0, 0, Q - 1, 1}, {0, 0, Q, 0},       {1, 1, Q, 0},       {2, 255, 4095, 0},
      {2, 254, Q, 0},   {1, 128, Q - 1, 1}, {0, 77, 0x0fff, 0}, {2, 255, Q - 1, 1},
  };
  for (size_t n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
    memcpy(bad, ek, EK_LEN);
    set_coeff(bad, cases[n].i, cases[n].j, cases[n].val);
    int want = cases[n].ok ? 0 : RTCSEC_ERR_INVALID_ARGUMENT;
    ck_assert_int_eq(rtcsec_mlkem768_check_ek(bad), want);
    ck_assert_int_eq(rtcsec_mlkem768_encaps(bad, c, k), want);
  }
  /* rho is any 32 bytes: not checked. */
  memcpy(bad, ek, EK_LEN);
  memset(bad + EK_LEN - 32, 0xff, 32);
  ck_assert_int_eq(rtcsec_mlkem768_check_ek(bad), 0);
}
END_TEST

START_TEST(corrupted_ciphertext_gives_j_of_z_and_c_without_error) {
  static uint8_t ek[EK_LEN], dk[DK_LEN], c[CT_LEN], bad[CT_LEN];
  uint8_t k[SS_LEN], got[SS_LEN], want[SS_LEN];
  ck_assert_int_eq(rtcsec_mlkem768_keygen(ek, dk), 0);
  ck_assert_int_eq(rtcsec_mlkem768_encaps(ek, c, k), 0);
  ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c, got), 0);
  ck_assert(memcmp(got, k, SS_LEN) == 0);
  /* A flipped bit in c1, in c2, at the ends, and a zero byte (strcmp would
   * stop there): each gives J(z || c'), not K, and returns 0. */
  const size_t pos[] = {0, 1, 319, 960, CT_LEN - 128, CT_LEN - 1, 500};
  for (size_t n = 0; n < sizeof(pos) / sizeof(pos[0]); n++) {
    memcpy(bad, c, CT_LEN);
    bad[pos[n]] ^= (uint8_t)(1u << (n % 8));
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, bad, got), 0);
    ref_j(dk + DK_LEN - 32, bad, want);
    ck_assert_msg(memcmp(got, want, SS_LEN) == 0, "byte %zu: not J(z || c)", pos[n]);
    ck_assert(memcmp(got, k, SS_LEN) != 0);
  }
  /* The real ciphertext still gives K afterwards. */
  ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c, got), 0);
  ck_assert(memcmp(got, k, SS_LEN) == 0);
}
END_TEST

START_TEST(decapsulation_key_check_catches_a_changed_key_or_hash) {
  static uint8_t ek[EK_LEN], dk[DK_LEN], bad[DK_LEN];
  ck_assert_int_eq(rtcsec_mlkem768_keygen(ek, dk), 0);
  ck_assert_int_eq(rtcsec_mlkem768_check_dk(dk), 0);
  /* The ek inside dk, then H(ek), changed: refused. s and z are not covered
   * by the hash (FIPS 203 §7.3 checks only these). */
  const size_t changed[] = {1152, 1152 + 1183, 2336, 2367};
  for (size_t n = 0; n < sizeof(changed) / sizeof(changed[0]); n++) {
    memcpy(bad, dk, DK_LEN);
    bad[changed[n]] ^= 0x01;
    ck_assert_int_eq(rtcsec_mlkem768_check_dk(bad), RTCSEC_ERR_INVALID_ARGUMENT);
  }
  memcpy(bad, dk, DK_LEN);
  bad[0] ^= 1;
  bad[DK_LEN - 1] ^= 1;
  ck_assert_int_eq(rtcsec_mlkem768_check_dk(bad), 0);
}
END_TEST

START_TEST(random_round_trips_agree_and_differ_from_each_other) {
  static uint8_t ek[EK_LEN], dk[DK_LEN], ek2[EK_LEN], dk2[DK_LEN], c[CT_LEN], c2[CT_LEN];
  uint8_t k[SS_LEN], k2[SS_LEN], got[SS_LEN];
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(rtcsec_mlkem768_keygen(ek, dk), 0);
    ck_assert_int_eq(rtcsec_mlkem768_keygen(ek2, dk2), 0);
    ck_assert(memcmp(ek, ek2, EK_LEN) != 0);
    ck_assert_int_eq(rtcsec_mlkem768_check_dk(dk), 0);
    ck_assert_int_eq(rtcsec_mlkem768_encaps(ek, c, k), 0);
    ck_assert_int_eq(rtcsec_mlkem768_encaps(ek, c2, k2), 0);
    ck_assert(memcmp(c, c2, CT_LEN) != 0 && memcmp(k, k2, SS_LEN) != 0);
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c, got), 0);
    ck_assert(memcmp(got, k, SS_LEN) == 0);
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, c2, got), 0);
    ck_assert(memcmp(got, k2, SS_LEN) == 0);
    /* The wrong key implicitly rejects. */
    ck_assert_int_eq(rtcsec_mlkem768_decaps(dk2, c, got), 0);
    ck_assert(memcmp(got, k, SS_LEN) != 0);
  }
}
END_TEST

START_TEST(null_arguments_are_refused) {
  static uint8_t ek[EK_LEN], dk[DK_LEN], c[CT_LEN];
  uint8_t k[SS_LEN], seed[32] = {0};
  ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(NULL, seed, ek, dk),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_keygen_internal(seed, seed, NULL, dk),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_keygen(ek, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_encaps_internal(NULL, seed, c, k), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_encaps(ek, NULL, k), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_decaps(dk, NULL, k), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_decaps(NULL, c, k), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_check_ek(NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem768_check_dk(NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_mlkem_sample_ntt(NULL, 0, 0, NULL, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* the counts reach the log even if a check fails */
  Suite *s = suite_create("mlkem");
  /* The vector files (tests/vectors/mlkem/README.md) are a suite of their
   * own, mlkem_vectors (tag "vector-files"), run where the files are. */
  TCase *files = tcase_create("vector_files");
  tcase_set_tags(files, "vector-files");
  tcase_add_test(files, acvp_keygen_encaps_decaps_and_key_checks_match_nist);
  tcase_add_test(files, cctv_intermediate_unlucky_strcmp_and_bad_modulus_vectors);
  suite_add_tcase(s, files);
  TCase *accumulated = tcase_create("accumulated");
  tcase_set_timeout(accumulated, 300);
  tcase_add_test(accumulated, cctv_accumulated_10000_ipd_vectors_hash_as_published);
  tcase_add_test(accumulated, go_accumulated_10000_final_vectors_hash_as_published);
  suite_add_tcase(s, accumulated);
  TCase *field = tcase_create("field");
  tcase_add_test(field, barrett_reduction_is_exact_for_every_product);
  tcase_add_test(field, compress_and_decompress_round_exactly_for_every_input);
  tcase_add_test(field, ntt_is_linear_and_undone_by_its_inverse);
  suite_add_tcase(s, field);
  TCase *neg = tcase_create("negative");
  tcase_add_test(neg, encapsulation_key_with_a_coefficient_of_q_or_more_is_refused);
  tcase_add_test(neg, corrupted_ciphertext_gives_j_of_z_and_c_without_error);
  tcase_add_test(neg, decapsulation_key_check_catches_a_changed_key_or_hash);
  tcase_add_test(neg, random_round_trips_agree_and_differ_from_each_other);
  tcase_add_test(neg, null_arguments_are_refused);
  suite_add_tcase(s, neg);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
