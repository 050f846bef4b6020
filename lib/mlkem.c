/* ML-KEM-768, FIPS 203 (August 2024), on OpenSSL 3.0's SHA-3. See mlkem.h.
 *
 * Field elements are uint16_t in [0, q). Every reduction is branch-free:
 * a conditional subtraction of q through a mask, and a Barrett reduction for
 * products. Algorithm numbers and sections below are those of FIPS 203. */
#include "mlkem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "rtcsec/error.h"

#ifdef RTCSEC_MLKEM_CT_VALGRIND
/* Only in tests/test_mlkem_ct.c's copy of this file: valgrind checks that no
 * branch or address depends on the secrets the test marks undefined. A value
 * the algorithm publishes (rho is the end of ek) is declared public where it
 * is made, so that the check covers exactly what stays secret. */
#include <valgrind/memcheck.h>
#define DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

#define Q 3329
#define N 256
#define K 3    /* ML-KEM-768 (§8, Table 2) */
#define ETA1 2 /* so PRF outputs 64 * eta = 128 bytes */
#define ETA2 2
#define DU 10
#define DV 4
#define POLY12_BYTES 384 /* ByteEncode12 of one polynomial */
#define C1_BYTES (32 * DU * K)
#define C2_BYTES (32 * DV)
#define DK_PKE_BYTES (POLY12_BYTES * K)
#define EK_BYTES (DK_PKE_BYTES + 32)

#if EK_BYTES != RTCSEC_MLKEM768_EK_LEN || C1_BYTES + C2_BYTES != RTCSEC_MLKEM768_CT_LEN ||         \
    2 * DK_PKE_BYTES + 96 != RTCSEC_MLKEM768_DK_LEN
#error "ML-KEM-768 sizes do not add up"
#endif

/* Offsets inside dk (Alg. 16 line 3, Alg. 18 lines 1-4). */
#define DK_EK_OFF DK_PKE_BYTES
#define DK_H_OFF (DK_EK_OFF + EK_BYTES)
#define DK_Z_OFF (DK_H_OFF + 32)

/* SHAKE128's rate: OpenSSL squeezes whole blocks of this size. */
#define SHAKE128_RATE 168
/* SampleNTT reads three blocks first, 336 12-bit candidates of which 256 must
 * pass (each with p = 3329/4096): enough about 99 % of the time. Then it
 * squeezes again with twice the length, up to this cap, reached only if more
 * than 5120 of 5376 candidates fail: never, unless SHAKE128 is broken. */
#define XOF_FIRST (3 * SHAKE128_RATE)
#define XOF_MAX (16 * XOF_FIRST)

typedef struct poly {
  uint16_t c[N];
} poly;

/* ---- field arithmetic mod q --------------------------------------------- */

/* a - q if a >= q, for a < 2q: the sign bit of a - q selects, no branch. */
static uint16_t fq_csub(uint32_t a) {
  uint32_t r = a - Q;
  r += Q & (0u - (r >> 31));
  return (uint16_t)r;
}

/* Barrett: floor(x / q) estimated as (x * floor(2^32 / q)) >> 32, which for
 * x < 2^24 is at most one below the truth, so one conditional subtraction
 * finishes (checked for every x < 2^24 by the tests). */
#define BARRETT_M UINT64_C(1290167) /* floor(2^32 / 3329) */
static uint16_t fq_reduce(uint32_t x) {
  uint32_t quot = (uint32_t)(((uint64_t)x * BARRETT_M) >> 32);
  return fq_csub(x - quot * Q);
}

static uint16_t fq_add(uint16_t a, uint16_t b) { return fq_csub((uint32_t)a + b); }
static uint16_t fq_sub(uint16_t a, uint16_t b) { return fq_csub((uint32_t)a + Q - b); }
static uint16_t fq_mul(uint16_t a, uint16_t b) { return fq_reduce((uint32_t)a * b); }

uint16_t rtcsec_mlkem_reduce(uint32_t x) { return fq_reduce(x); }

/* §4.2.1 Compress_d(x) = round(2^d x / q) mod 2^d. q is odd, so no tie:
 * round(a / q) = floor((a + (q - 1) / 2) / q). The division is exact as
 * (n * ceil(2^33 / q)) >> 33 for every n < 2^23 (2^11 * 3328 + 1664 < 2^23);
 * a multiply-shift, not a divide instruction, whose time can depend on its
 * operands. The tests check it against exact division for every d and x. */
#define DIV_Q_M UINT64_C(2580335) /* ceil(2^33 / 3329) */
static uint16_t compress(uint16_t x, unsigned d) {
  uint64_t n = ((uint64_t)x << d) + (Q - 1) / 2;
  return (uint16_t)(((n * DIV_Q_M) >> 33) & ((1u << d) - 1));
}

/* §4.2.1 Decompress_d(y) = round(q y / 2^d), halves up: a shift. */
static uint16_t decompress(uint16_t y, unsigned d) {
  return (uint16_t)(((uint32_t)y * Q + (1u << (d - 1))) >> d);
}

uint16_t rtcsec_mlkem_compress(uint16_t x, unsigned d) { return compress(x, d); }
uint16_t rtcsec_mlkem_decompress(uint16_t y, unsigned d) { return decompress(y, d); }

/* ---- NTT (§4.3) ---------------------------------------------------------- */

/* zeta^BitRev7(i) mod q, zeta = 17 (Appendix A). */
static const uint16_t zetas[128] = {
    1,    1729, 2580, 3289, 2642, 630,  1897, 848,  1062, 1919, 193,  797,  2786, 3260, 569,  1746,
    296,  2447, 1339, 1476, 3046, 56,   2240, 1333, 1426, 2094, 535,  2882, 2393, 2879, 1974, 821,
    289,  331,  3253, 1756, 1197, 2304, 2277, 2055, 650,  1977, 2513, 632,  2865, 33,   1320, 1915,
    2319, 1435, 807,  452,  1438, 2868, 1534, 2402, 2647, 2617, 1481, 648,  2474, 3110, 1227, 910,
    17,   2761, 583,  2649, 1637, 723,  2288, 1100, 1409, 2662, 3281, 233,  756,  2156, 3015, 3050,
    1703, 1651, 2789, 1789, 1847, 952,  1461, 2687, 939,  2308, 2437, 2388, 733,  2337, 268,  641,
    1584, 2298, 2037, 3220, 375,  2549, 2090, 1645, 1063, 319,  2773, 757,  2099, 561,  2466, 2594,
    2804, 1092, 403,  1026, 1143, 2150, 2775, 886,  1722, 1212, 1874, 1029, 2110, 2935, 885,  2154,
};

/* zeta^(2 BitRev7(i) + 1) mod q, the moduli X^2 - gamma of Alg. 11. */
static const uint16_t gammas[128] = {
    17,   3312, 2761, 568,  583,  2746, 2649, 680,  1637, 1692, 723,  2606, 2288, 1041, 1100, 2229,
    1409, 1920, 2662, 667,  3281, 48,   233,  3096, 756,  2573, 2156, 1173, 3015, 314,  3050, 279,
    1703, 1626, 1651, 1678, 2789, 540,  1789, 1540, 1847, 1482, 952,  2377, 1461, 1868, 2687, 642,
    939,  2390, 2308, 1021, 2437, 892,  2388, 941,  733,  2596, 2337, 992,  268,  3061, 641,  2688,
    1584, 1745, 2298, 1031, 2037, 1292, 3220, 109,  375,  2954, 2549, 780,  2090, 1239, 1645, 1684,
    1063, 2266, 319,  3010, 2773, 556,  757,  2572, 2099, 1230, 561,  2768, 2466, 863,  2594, 735,
    2804, 525,  1092, 2237, 403,  2926, 1026, 2303, 1143, 2186, 2150, 1179, 2775, 554,  886,  2443,
    1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300, 2110, 1219, 2935, 394,  885,  2444, 2154, 1175,
};

/* 128^-1 mod q: the scaling at the end of Alg. 10. */
#define NTT_INV_SCALE 3303

/* Alg. 9. */
static void ntt(uint16_t f[N]) {
  unsigned i = 1;
  for (unsigned len = 128; len >= 2; len >>= 1) {
    for (unsigned start = 0; start < N; start += 2 * len) {
      uint16_t zeta = zetas[i++];
      for (unsigned j = start; j < start + len; j++) {
        uint16_t t = fq_mul(zeta, f[j + len]);
        f[j + len] = fq_sub(f[j], t);
        f[j] = fq_add(f[j], t);
      }
    }
  }
}

/* Alg. 10. */
static void ntt_inverse(uint16_t f[N]) {
  unsigned i = 127;
  for (unsigned len = 2; len <= 128; len <<= 1) {
    for (unsigned start = 0; start < N; start += 2 * len) {
      uint16_t zeta = zetas[i--];
      for (unsigned j = start; j < start + len; j++) {
        uint16_t t = f[j];
        f[j] = fq_add(t, f[j + len]);
        f[j + len] = fq_mul(zeta, fq_sub(f[j + len], t));
      }
    }
  }
  for (unsigned j = 0; j < N; j++)
    f[j] = fq_mul(f[j], NTT_INV_SCALE);
}

void rtcsec_mlkem_ntt(uint16_t f[256]) { ntt(f); }
void rtcsec_mlkem_ntt_inverse(uint16_t f[256]) { ntt_inverse(f); }

/* h += f x g in the NTT domain: Alg. 11 with Alg. 12 for each pair. */
static void ntt_mul_acc(poly *h, const poly *f, const poly *g) {
  for (unsigned i = 0; i < N / 2; i++) {
    uint16_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1];
    uint16_t b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
    uint16_t c0 = fq_add(fq_mul(a0, b0), fq_mul(fq_mul(a1, b1), gammas[i]));
    uint16_t c1 = fq_add(fq_mul(a0, b1), fq_mul(a1, b0));
    h->c[2 * i] = fq_add(h->c[2 * i], c0);
    h->c[2 * i + 1] = fq_add(h->c[2 * i + 1], c1);
  }
}

static void poly_add(poly *r, const poly *a) {
  for (unsigned i = 0; i < N; i++)
    r->c[i] = fq_add(r->c[i], a->c[i]);
}

/* ---- ByteEncode / ByteDecode (Alg. 5, 6) ----------------------------------
 * Bit i*d + j of the output is bit j of coefficient i (little-endian bits, as
 * Alg. 3 BitsToBytes). The loops depend on d only. */

static void byte_encode(uint8_t *out, const poly *f, unsigned d) {
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (unsigned i = 0; i < N; i++) {
    acc |= (uint32_t)f->c[i] << bits;
    bits += d;
    while (bits >= 8) {
      out[o++] = (uint8_t)acc;
      acc >>= 8;
      bits -= 8;
    }
  }
}

/* Raw d-bit values; for d = 12 they may be q or more (see decode12). */
static void byte_decode(poly *f, const uint8_t *in, unsigned d) {
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  uint32_t mask = (1u << d) - 1;
  for (unsigned i = 0; i < N; i++) {
    while (bits < d) {
      acc |= (uint32_t)in[o++] << bits;
      bits += 8;
    }
    f->c[i] = (uint16_t)(acc & mask);
    acc >>= d;
    bits -= d;
  }
}

/* ByteDecode12 is "mod q" (Alg. 6 with m = q): a 12-bit value is below 2q,
 * so one conditional subtraction. Branch-free: dk_PKE is secret. */
static void decode12(poly *f, const uint8_t *in) {
  byte_decode(f, in, 12);
  for (unsigned i = 0; i < N; i++)
    f->c[i] = fq_csub(f->c[i]);
}

/* ---- hashing (§4.1) on OpenSSL's EVP --------------------------------------
 * Fetched once per top-level call, used for all its hashes. */

typedef struct hashes {
  EVP_MD *sha3_256; /* H */
  EVP_MD *sha3_512; /* G */
  EVP_MD *shake128; /* XOF */
  EVP_MD *shake256; /* J, PRF */
  EVP_MD_CTX *ctx;
} hashes;

static void hashes_free(hashes *h) {
  EVP_MD_CTX_free(h->ctx);
  EVP_MD_free(h->sha3_256);
  EVP_MD_free(h->sha3_512);
  EVP_MD_free(h->shake128);
  EVP_MD_free(h->shake256);
  memset(h, 0, sizeof(*h));
}

static int hashes_init(hashes *h) {
  memset(h, 0, sizeof(*h));
  h->sha3_256 = EVP_MD_fetch(NULL, "SHA3-256", NULL);
  h->sha3_512 = EVP_MD_fetch(NULL, "SHA3-512", NULL);
  h->shake128 = EVP_MD_fetch(NULL, "SHAKE128", NULL);
  h->shake256 = EVP_MD_fetch(NULL, "SHAKE256", NULL);
  h->ctx = EVP_MD_CTX_new();
  if (h->sha3_256 == NULL || h->sha3_512 == NULL || h->shake128 == NULL || h->shake256 == NULL ||
      h->ctx == NULL) {
    hashes_free(h);
    return RTCSEC_ERR_CRYPTO;
  }
  return 0;
}

/* md(a || b), out_len bytes (a SHAKE squeezes exactly out_len). */
static int hash2(hashes *h, const EVP_MD *md, const uint8_t *a, size_t a_len, const uint8_t *b,
                 size_t b_len, uint8_t *out, size_t out_len) {
  if (EVP_DigestInit_ex2(h->ctx, md, NULL) != 1 || EVP_DigestUpdate(h->ctx, a, a_len) != 1 ||
      (b_len > 0 && EVP_DigestUpdate(h->ctx, b, b_len) != 1))
    return RTCSEC_ERR_CRYPTO;
  int ok = (md == h->shake128 || md == h->shake256) ? EVP_DigestFinalXOF(h->ctx, out, out_len)
                                                    : EVP_DigestFinal_ex(h->ctx, out, NULL);
  return ok == 1 ? 0 : RTCSEC_ERR_CRYPTO;
}

/* Alg. 7 SampleNTT(rho || b32 || b33). OpenSSL 3.0 squeezes a SHAKE once per
 * context: when the first XOF_FIRST bytes run out of accepted candidates it
 * absorbs the same 34 bytes again and squeezes twice as much. SHAKE's output
 * is one stream whose prefix does not depend on the length asked (FIPS 202
 * §4, the sponge squeezes block after block), so the bytes already parsed
 * come back unchanged and parsing resumes where it stopped.
 * rho is public (it is part of ek), so the loop may depend on it. */
static int sample_ntt(hashes *h, uint16_t a[N], const uint8_t rho[32], uint8_t b32, uint8_t b33,
                      size_t *used) {
  uint8_t seed[34];
  uint8_t buf[XOF_MAX];
  memcpy(seed, rho, 32);
  seed[32] = b32;
  seed[33] = b33;
  size_t have = 0, want = XOF_FIRST, pos = 0;
  unsigned j = 0;
  while (j < N) {
    if (pos + 3 > have) {
      if (want > sizeof(buf))
        return RTCSEC_ERR_CRYPTO;
      int rc = hash2(h, h->shake128, seed, sizeof(seed), NULL, 0, buf, want);
      if (rc != 0)
        return rc;
      have = want;
      want *= 2;
    }
    /* Alg. 7 lines 5-6: two 12-bit candidates from three bytes. */
    uint16_t d1 = (uint16_t)(buf[pos] | ((buf[pos + 1] & 0x0f) << 8));
    uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));
    pos += 3;
    if (d1 < Q)
      a[j++] = d1;
    if (d2 < Q && j < N)
      a[j++] = d2;
  }
  if (used != NULL)
    *used = pos;
  return 0;
}

int rtcsec_mlkem_sample_ntt(const uint8_t rho[32], uint8_t b32, uint8_t b33, uint16_t a[256],
                            size_t *xof_bytes) {
  if (rho == NULL || a == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  hashes h;
  int rc = hashes_init(&h);
  if (rc == 0)
    rc = sample_ntt(&h, a, rho, b32, b33, xof_bytes);
  hashes_free(&h);
  return rc;
}

/* Alg. 8 SamplePolyCBD_eta(PRF_eta(s, n)) with PRF = SHAKE256(s || n),
 * 64 eta bytes (§4.1). Coefficient i is (sum of eta bits) - (sum of the next
 * eta bits): arithmetic on bits, no branch. */
static int sample_cbd(hashes *h, poly *f, const uint8_t s[32], uint8_t n, unsigned eta) {
  uint8_t buf[64 * 3];
  int rc = hash2(h, h->shake256, s, 32, &n, 1, buf, 64 * eta);
  if (rc != 0)
    return rc;
  for (unsigned i = 0; i < N; i++) {
    uint16_t x = 0, y = 0;
    for (unsigned j = 0; j < eta; j++) {
      unsigned bx = 2 * i * eta + j, by = 2 * i * eta + eta + j;
      x += (buf[bx >> 3] >> (bx & 7)) & 1;
      y += (buf[by >> 3] >> (by & 7)) & 1;
    }
    f->c[i] = fq_sub(x, y);
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return 0;
}

/* ---- K-PKE (§5) ------------------------------------------------------------ */

/* Secret intermediates of one operation, wiped at the end. */
typedef struct work {
  poly s[K], e[K];                    /* KeyGen: s-hat, e-hat; Encrypt: y-hat, e1 */
  poly t[K];                          /* KeyGen: t-hat; Encrypt/Decrypt: t-hat or u */
  poly a, v, e2;                      /* a matrix entry; v; e2 or mu */
  uint8_t g[64];                      /* G output */
  uint8_t m[32];                      /* Decaps: m' */
  uint8_t kbar[32];                   /* Decaps: J(z || c) */
  uint8_t ct[RTCSEC_MLKEM768_CT_LEN]; /* Decaps: c' */
} work;

/* Alg. 13 lines 2-20 with (rho, sigma) given. */
static int kpke_keygen(hashes *h, work *w, const uint8_t rho[32], const uint8_t sigma[32],
                       uint8_t ek[EK_BYTES], uint8_t dk_pke[DK_PKE_BYTES]) {
  int rc = 0;
  uint8_t n = 0;
  for (unsigned i = 0; i < K && rc == 0; i++)
    rc = sample_cbd(h, &w->s[i], sigma, n++, ETA1);
  for (unsigned i = 0; i < K && rc == 0; i++)
    rc = sample_cbd(h, &w->e[i], sigma, n++, ETA1);
  if (rc != 0)
    return rc;
  for (unsigned i = 0; i < K; i++) {
    ntt(w->s[i].c);
    ntt(w->e[i].c);
  }
  /* t-hat = A-hat s-hat + e-hat, with A-hat[i, j] = SampleNTT(rho || j || i)
   * (line 6) made one entry at a time. */
  for (unsigned i = 0; i < K; i++) {
    w->t[i] = w->e[i];
    for (unsigned j = 0; j < K; j++) {
      rc = sample_ntt(h, w->a.c, rho, (uint8_t)j, (uint8_t)i, NULL);
      if (rc != 0)
        return rc;
      ntt_mul_acc(&w->t[i], &w->a, &w->s[j]);
    }
  }
  for (unsigned i = 0; i < K; i++) {
    byte_encode(ek + POLY12_BYTES * i, &w->t[i], 12);
    byte_encode(dk_pke + POLY12_BYTES * i, &w->s[i], 12);
  }
  memcpy(ek + DK_PKE_BYTES, rho, 32);
  return 0;
}

/* Alg. 14 K-PKE.Encrypt(ek, m, r); ek has passed the modulus check (or
 * comes from our own dk). */
static int kpke_encrypt(hashes *h, work *w, const uint8_t ek[EK_BYTES], const uint8_t m[32],
                        const uint8_t r[32], uint8_t c[RTCSEC_MLKEM768_CT_LEN]) {
  const uint8_t *rho = ek + DK_PKE_BYTES;
  poly *y = w->s, *e1 = w->e, *u = w->t;
  int rc = 0;
  uint8_t n = 0;
  for (unsigned i = 0; i < K && rc == 0; i++)
    rc = sample_cbd(h, &y[i], r, n++, ETA1);
  for (unsigned i = 0; i < K && rc == 0; i++)
    rc = sample_cbd(h, &e1[i], r, n++, ETA2);
  if (rc == 0)
    rc = sample_cbd(h, &w->e2, r, n++, ETA2);
  if (rc != 0)
    return rc;
  for (unsigned i = 0; i < K; i++)
    ntt(y[i].c);

  /* u = NTT^-1(A-hat^T y-hat) + e1 (line 19): row i of A-hat^T is column i
   * of A-hat, A-hat[j, i] = SampleNTT(rho || i || j). */
  for (unsigned i = 0; i < K; i++) {
    memset(&u[i], 0, sizeof(u[i]));
    for (unsigned j = 0; j < K; j++) {
      rc = sample_ntt(h, w->a.c, rho, (uint8_t)i, (uint8_t)j, NULL);
      if (rc != 0)
        return rc;
      ntt_mul_acc(&u[i], &w->a, &y[j]);
    }
    ntt_inverse(u[i].c);
    poly_add(&u[i], &e1[i]);
  }

  /* v = NTT^-1(t-hat^T y-hat) + e2 + mu (lines 20-21), t-hat decoded into
   * w->a one polynomial at a time; mu = Decompress1(ByteDecode1(m)) is
   * 1665 where the bit of m is set, by mask. */
  memset(&w->v, 0, sizeof(w->v));
  for (unsigned i = 0; i < K; i++) {
    decode12(&w->a, ek + POLY12_BYTES * i);
    ntt_mul_acc(&w->v, &w->a, &y[i]);
  }
  ntt_inverse(w->v.c);
  poly_add(&w->v, &w->e2);
  for (unsigned i = 0; i < N; i++) {
    uint16_t bit = (m[i >> 3] >> (i & 7)) & 1;
    w->e2.c[i] = (uint16_t)((0u - bit) & ((Q + 1) / 2));
  }
  poly_add(&w->v, &w->e2);

  /* c1 = ByteEncode_du(Compress_du(u)), c2 = ByteEncode_dv(Compress_dv(v)). */
  for (unsigned i = 0; i < K; i++) {
    for (unsigned j = 0; j < N; j++)
      u[i].c[j] = compress(u[i].c[j], DU);
    byte_encode(c + 32 * DU * i, &u[i], DU);
  }
  for (unsigned j = 0; j < N; j++)
    w->v.c[j] = compress(w->v.c[j], DV);
  byte_encode(c + C1_BYTES, &w->v, DV);
  return 0;
}

/* Alg. 15 K-PKE.Decrypt(dk_PKE, c) into w->m. */
static void kpke_decrypt(work *w, const uint8_t dk_pke[DK_PKE_BYTES],
                         const uint8_t c[RTCSEC_MLKEM768_CT_LEN]) {
  poly *u = w->t;
  /* w = v' - NTT^-1(s-hat^T NTT(u')) (line 6). */
  memset(&w->e2, 0, sizeof(w->e2));
  for (unsigned i = 0; i < K; i++) {
    byte_decode(&u[i], c + 32 * DU * i, DU);
    for (unsigned j = 0; j < N; j++)
      u[i].c[j] = decompress(u[i].c[j], DU);
    ntt(u[i].c);
    decode12(&w->s[i], dk_pke + POLY12_BYTES * i);
    ntt_mul_acc(&w->e2, &w->s[i], &u[i]);
  }
  ntt_inverse(w->e2.c);
  byte_decode(&w->v, c + C1_BYTES, DV);
  memset(w->m, 0, sizeof(w->m));
  for (unsigned j = 0; j < N; j++) {
    uint16_t x = fq_sub(decompress(w->v.c[j], DV), w->e2.c[j]);
    /* m = ByteEncode1(Compress1(w)) (line 7). */
    w->m[j >> 3] |= (uint8_t)(compress(x, 1) << (j & 7));
  }
}

/* ---- ML-KEM (§6, §7) ---------------------------------------------------------- */

static int check_ek(const uint8_t ek[EK_BYTES]) {
  /* §7.2 line 2: the 12-bit values of ByteDecode12 before "mod q" must all
   * be below q. ek is public: no need to hide which one is not. */
  poly t;
  for (unsigned i = 0; i < K; i++) {
    byte_decode(&t, ek + POLY12_BYTES * i, 12);
    for (unsigned j = 0; j < N; j++) {
      if (t.c[j] >= Q)
        return RTCSEC_ERR_INVALID_ARGUMENT;
    }
  }
  return 0;
}

int rtcsec_mlkem768_check_ek(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN]) {
  if (ek == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return check_ek(ek);
}

int rtcsec_mlkem768_check_dk(const uint8_t dk[RTCSEC_MLKEM768_DK_LEN]) {
  if (dk == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  hashes h;
  uint8_t test[32];
  int rc = hashes_init(&h);
  if (rc != 0)
    return rc;
  /* §7.3 line 3: H(dk[384k : 768k + 32]) must equal dk[768k + 32 : 768k + 64]. */
  rc = hash2(&h, h.sha3_256, dk + DK_EK_OFF, EK_BYTES, NULL, 0, test, sizeof(test));
  hashes_free(&h);
  if (rc != 0)
    return rc;
  return CRYPTO_memcmp(test, dk + DK_H_OFF, 32) == 0 ? 0 : RTCSEC_ERR_INVALID_ARGUMENT;
}

static int keygen_rho_sigma(hashes *h, work *w, const uint8_t rho[32], const uint8_t sigma[32],
                            const uint8_t z[32], uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                            uint8_t dk[RTCSEC_MLKEM768_DK_LEN]) {
  int rc = kpke_keygen(h, w, rho, sigma, ek, dk);
  if (rc != 0)
    return rc;
  /* Alg. 16 line 3: dk = dk_PKE || ek || H(ek) || z. */
  memcpy(dk + DK_EK_OFF, ek, EK_BYTES);
  rc = hash2(h, h->sha3_256, ek, EK_BYTES, NULL, 0, dk + DK_H_OFF, 32);
  if (rc != 0)
    return rc;
  memcpy(dk + DK_Z_OFF, z, 32);
  return 0;
}

static void keygen_fail(uint8_t *ek, uint8_t *dk) {
  OPENSSL_cleanse(ek, RTCSEC_MLKEM768_EK_LEN);
  OPENSSL_cleanse(dk, RTCSEC_MLKEM768_DK_LEN);
}

int rtcsec_mlkem768_keygen_internal(const uint8_t d[RTCSEC_MLKEM_SEED_LEN],
                                    const uint8_t z[RTCSEC_MLKEM_SEED_LEN],
                                    uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                    uint8_t dk[RTCSEC_MLKEM768_DK_LEN]) {
  if (d == NULL || z == NULL || ek == NULL || dk == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  hashes h;
  work w;
  int rc = hashes_init(&h);
  if (rc != 0) {
    keygen_fail(ek, dk);
    return rc;
  }
  /* Alg. 13 line 1: (rho, sigma) = G(d || k), k as one byte: the domain
   * separation the final standard added to the draft. */
  uint8_t kbyte = K;
  rc = hash2(&h, h.sha3_512, d, 32, &kbyte, 1, w.g, 64);
  if (rc == 0) {
    DECLASSIFY(w.g, 32); /* rho: published as the end of ek */
    rc = keygen_rho_sigma(&h, &w, w.g, w.g + 32, z, ek, dk);
  }
  hashes_free(&h);
  OPENSSL_cleanse(&w, sizeof(w));
  if (rc != 0)
    keygen_fail(ek, dk);
  return rc;
}

int rtcsec_mlkem768_keygen_rho_sigma(const uint8_t rho[32], const uint8_t sigma[32],
                                     const uint8_t z[RTCSEC_MLKEM_SEED_LEN],
                                     uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                     uint8_t dk[RTCSEC_MLKEM768_DK_LEN]) {
  if (rho == NULL || sigma == NULL || z == NULL || ek == NULL || dk == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  hashes h;
  work w;
  int rc = hashes_init(&h);
  if (rc == 0)
    rc = keygen_rho_sigma(&h, &w, rho, sigma, z, ek, dk);
  hashes_free(&h);
  OPENSSL_cleanse(&w, sizeof(w));
  if (rc != 0)
    keygen_fail(ek, dk);
  return rc;
}

int rtcsec_mlkem768_encaps_internal(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                    const uint8_t m[RTCSEC_MLKEM_SEED_LEN],
                                    uint8_t ct[RTCSEC_MLKEM768_CT_LEN],
                                    uint8_t ss[RTCSEC_MLKEM_SS_LEN]) {
  if (ek == NULL || m == NULL || ct == NULL || ss == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ct, 0, RTCSEC_MLKEM768_CT_LEN);
  memset(ss, 0, RTCSEC_MLKEM_SS_LEN);
  /* §7.2: the modulus check before anything else. */
  int rc = check_ek(ek);
  if (rc != 0)
    return rc;
  hashes h;
  work w;
  rc = hashes_init(&h);
  if (rc != 0)
    return rc;
  /* Alg. 17 line 1: (K, r) = G(m || H(ek)). */
  uint8_t hek[32];
  rc = hash2(&h, h.sha3_256, ek, EK_BYTES, NULL, 0, hek, sizeof(hek));
  if (rc == 0)
    rc = hash2(&h, h.sha3_512, m, 32, hek, sizeof(hek), w.g, 64);
  if (rc == 0)
    rc = kpke_encrypt(&h, &w, ek, m, w.g + 32, ct);
  if (rc == 0)
    memcpy(ss, w.g, RTCSEC_MLKEM_SS_LEN);
  else
    memset(ct, 0, RTCSEC_MLKEM768_CT_LEN);
  hashes_free(&h);
  OPENSSL_cleanse(&w, sizeof(w));
  return rc;
}

int rtcsec_mlkem768_decaps(const uint8_t dk[RTCSEC_MLKEM768_DK_LEN],
                           const uint8_t ct[RTCSEC_MLKEM768_CT_LEN],
                           uint8_t ss[RTCSEC_MLKEM_SS_LEN]) {
  if (dk == NULL || ct == NULL || ss == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ss, 0, RTCSEC_MLKEM_SS_LEN);
  hashes h;
  work w;
  int rc = hashes_init(&h);
  if (rc != 0)
    return rc;
  /* Alg. 18: m' = Decrypt(dk_PKE, c); (K', r') = G(m' || h);
   * K-bar = J(z || c); c' = Encrypt(ek_PKE, m', r'). */
  kpke_decrypt(&w, dk, ct);
  rc = hash2(&h, h.sha3_512, w.m, 32, dk + DK_H_OFF, 32, w.g, 64);
  if (rc == 0)
    rc = hash2(&h, h.shake256, dk + DK_Z_OFF, 32, ct, RTCSEC_MLKEM768_CT_LEN, w.kbar, 32);
  if (rc == 0)
    rc = kpke_encrypt(&h, &w, dk + DK_EK_OFF, w.m, w.g + 32, w.ct);
  if (rc == 0) {
    /* Lines 9-11: K' if c == c', else K-bar, chosen by a mask from a
     * constant-time comparison (a nonzero x has the top bit of x | -x set). */
    uint32_t diff = (uint32_t)CRYPTO_memcmp(ct, w.ct, RTCSEC_MLKEM768_CT_LEN);
    uint8_t keep = (uint8_t)(((diff | (0u - diff)) >> 31) - 1); /* 0xff if equal */
    for (unsigned i = 0; i < RTCSEC_MLKEM_SS_LEN; i++)
      ss[i] = (uint8_t)((w.g[i] & keep) | (w.kbar[i] & (uint8_t)~keep));
  }
  hashes_free(&h);
  OPENSSL_cleanse(&w, sizeof(w));
  return rc;
}

int rtcsec_mlkem768_keygen(uint8_t ek[RTCSEC_MLKEM768_EK_LEN], uint8_t dk[RTCSEC_MLKEM768_DK_LEN]) {
  if (ek == NULL || dk == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  uint8_t dz[64];
  int rc = RTCSEC_ERR_CRYPTO;
  if (RAND_priv_bytes(dz, sizeof(dz)) == 1)
    rc = rtcsec_mlkem768_keygen_internal(dz, dz + 32, ek, dk);
  else
    keygen_fail(ek, dk);
  OPENSSL_cleanse(dz, sizeof(dz));
  return rc;
}

int rtcsec_mlkem768_encaps(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                           uint8_t ct[RTCSEC_MLKEM768_CT_LEN], uint8_t ss[RTCSEC_MLKEM_SS_LEN]) {
  if (ek == NULL || ct == NULL || ss == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  uint8_t m[32];
  int rc;
  if (RAND_priv_bytes(m, sizeof(m)) == 1) {
    rc = rtcsec_mlkem768_encaps_internal(ek, m, ct, ss);
  } else {
    memset(ct, 0, RTCSEC_MLKEM768_CT_LEN);
    memset(ss, 0, RTCSEC_MLKEM_SS_LEN);
    rc = RTCSEC_ERR_CRYPTO;
  }
  OPENSSL_cleanse(m, sizeof(m));
  return rc;
}
