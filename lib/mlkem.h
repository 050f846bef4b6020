/* ML-KEM-768 (FIPS 203), written for rtcsec on OpenSSL 3.0's SHA-3 (internal,
 * not installed).
 *
 * OpenSSL 3.0 has SHA3-256, SHA3-512, SHAKE128 and SHAKE256 but no ML-KEM;
 * this module is the rest of FIPS 203 for the one parameter set the
 * X25519MLKEM768 TLS group uses (k = 3, eta1 = eta2 = 2, du = 10, dv = 4).
 *
 * Constant time: nothing secret (d, z, m, the decapsulation key's s and z,
 * the decrypted message, the re-encryption result) decides a branch or a
 * table index; divisions by q are multiply-and-shift; the ciphertext
 * comparison of implicit rejection is CRYPTO_memcmp and a mask. The one value
 * derived from d that does steer a loop, rho (rejection sampling of the
 * matrix), is public: it is the last 32 bytes of ek. tests/test_mlkem_ct.c
 * checks all this under valgrind with the secrets marked undefined.
 *
 * Buffers have the fixed sizes below; the functions never read or write
 * outside them. Every function returns 0 or a negative rtcsec_error code:
 *   RTCSEC_ERR_INVALID_ARGUMENT  a NULL pointer, or a key that fails its
 *                                FIPS 203 check (the caller drops the key:
 *                                for a peer's key that is a protocol error,
 *                                TLS illegal_parameter);
 *   RTCSEC_ERR_CRYPTO            OpenSSL failed (out of memory, or SHA-3 not
 *                                available): the outputs are zeroed, retrying
 *                                later may work.
 * Thread rule: no shared state; any function may run on any thread at once. */
#ifndef RTCSEC_MLKEM_H
#define RTCSEC_MLKEM_H

#include <stddef.h>
#include <stdint.h>

#define RTCSEC_MLKEM768_EK_LEN 1184 /* encapsulation key: ByteEncode12(t) || rho */
#define RTCSEC_MLKEM768_DK_LEN 2400 /* decapsulation key: s || ek || H(ek) || z */
#define RTCSEC_MLKEM768_CT_LEN 1088 /* ciphertext: c1 (du = 10) || c2 (dv = 4) */
#define RTCSEC_MLKEM_SS_LEN 32      /* shared secret */
#define RTCSEC_MLKEM_SEED_LEN 32    /* d, z, m */

/* FIPS 203 Alg. 16 ML-KEM.KeyGen_internal(d, z): deterministic key pair. */
int rtcsec_mlkem768_keygen_internal(const uint8_t d[RTCSEC_MLKEM_SEED_LEN],
                                    const uint8_t z[RTCSEC_MLKEM_SEED_LEN],
                                    uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                    uint8_t dk[RTCSEC_MLKEM768_DK_LEN]);

/* FIPS 203 Alg. 17 ML-KEM.Encaps_internal(ek, m), after the §7.2 input check
 * of ek (every coefficient of t below q). A key that fails the check gives
 * RTCSEC_ERR_INVALID_ARGUMENT and zeroed outputs. */
int rtcsec_mlkem768_encaps_internal(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                    const uint8_t m[RTCSEC_MLKEM_SEED_LEN],
                                    uint8_t ct[RTCSEC_MLKEM768_CT_LEN],
                                    uint8_t ss[RTCSEC_MLKEM_SS_LEN]);

/* FIPS 203 Alg. 18 ML-KEM.Decaps_internal(dk, c), constant time. A ciphertext
 * that does not re-encrypt to itself is not an error: implicit rejection
 * returns 0 with ss = J(z || c), which the peer cannot predict, so the
 * handshake fails later at Finished. The key is taken as valid (ours); run
 * rtcsec_mlkem768_check_dk() first on a key from elsewhere. */
int rtcsec_mlkem768_decaps(const uint8_t dk[RTCSEC_MLKEM768_DK_LEN],
                           const uint8_t ct[RTCSEC_MLKEM768_CT_LEN],
                           uint8_t ss[RTCSEC_MLKEM_SS_LEN]);

/* FIPS 203 §7.2 modulus check: ByteEncode12(ByteDecode12(t)) == t, that is,
 * no 12-bit coefficient of t is q or more. 0 if the key passes. */
int rtcsec_mlkem768_check_ek(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN]);

/* FIPS 203 §7.3 hash check: H(ek inside dk) equals the H(ek) stored in dk.
 * 0 if the key passes. */
int rtcsec_mlkem768_check_dk(const uint8_t dk[RTCSEC_MLKEM768_DK_LEN]);

/* FIPS 203 Alg. 19 ML-KEM.KeyGen: d and z from RAND_priv_bytes. */
int rtcsec_mlkem768_keygen(uint8_t ek[RTCSEC_MLKEM768_EK_LEN], uint8_t dk[RTCSEC_MLKEM768_DK_LEN]);

/* FIPS 203 Alg. 20 ML-KEM.Encaps: m from RAND_priv_bytes, then as
 * rtcsec_mlkem768_encaps_internal (including the §7.2 check). */
int rtcsec_mlkem768_encaps(const uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                           uint8_t ct[RTCSEC_MLKEM768_CT_LEN], uint8_t ss[RTCSEC_MLKEM_SS_LEN]);

/* ---- for the tests only ---------------------------------------------------
 * Pieces of the algorithm exposed so that tests/test_mlkem.c can check them
 * against published intermediate values and exhaustively. */

/* Alg. 13 from line 2 on (then Alg. 16) with rho and sigma given instead of
 * G(d || k). The FIPS 203 draft (ipd) derived them as G(d), without the k
 * byte: C2SP CCTV's intermediate, unlucky and accumulated vectors are ipd
 * keys, so the tests compute G(d) themselves and call this. Never a way to
 * make real keys. */
int rtcsec_mlkem768_keygen_rho_sigma(const uint8_t rho[32], const uint8_t sigma[32],
                                     const uint8_t z[RTCSEC_MLKEM_SEED_LEN],
                                     uint8_t ek[RTCSEC_MLKEM768_EK_LEN],
                                     uint8_t dk[RTCSEC_MLKEM768_DK_LEN]);

/* Alg. 7 SampleNTT(rho || b32 || b33) into a[256]; *xof_bytes is how many
 * SHAKE128 output bytes the rejection sampling read (more than the first
 * squeeze when it had to squeeze again). */
int rtcsec_mlkem_sample_ntt(const uint8_t rho[32], uint8_t b32, uint8_t b33, uint16_t a[256],
                            size_t *xof_bytes);

/* Compress_d / Decompress_d of FIPS 203 §4.2.1; x < q, y < 2^d, 1 <= d <= 11. */
uint16_t rtcsec_mlkem_compress(uint16_t x, unsigned d);
uint16_t rtcsec_mlkem_decompress(uint16_t y, unsigned d);

/* x mod q for x < 2^24 (the Barrett reduction every product goes through). */
uint16_t rtcsec_mlkem_reduce(uint32_t x);

/* Alg. 9 NTT and Alg. 10 NTT^-1, in place, coefficients below q. */
void rtcsec_mlkem_ntt(uint16_t f[256]);
void rtcsec_mlkem_ntt_inverse(uint16_t f[256]);

#endif
