/* rtcsec's own implementations of the libsrtp2 cipher and authentication
 * types its four profiles use, on OpenSSL 3, and their registration into
 * libsrtp2's crypto kernel (srtp_replace_cipher_type(),
 * srtp_replace_auth_type(), libsrtp2's installed srtp2/cipher.h and
 * srtp2/auth.h). Internal to srtp_bridge/ and its tests; never installed.
 *
 * Each type keeps what a key needs for the life of that key: the cipher
 * types one OpenSSL provider context (AES-CTR or AES-GCM) keyed in init(),
 * the HMAC the SHA-1 states after the keyed inner and outer pad blocks. Per
 * packet only the IV, the AAD, the data and the tag are processed: no key
 * schedule, no allocation, no provider fetch or lookup (done once per
 * process). Every key and key schedule is wiped in dealloc().
 *
 * The semantics are libsrtp2 2.5's for these type ids (crypto/cipher/
 * aes_icm*.c, aes_gcm*.c, crypto/hash/hmac*.c): the key lengths include
 * the salt (SRTP_AES_ICM_128_KEY_LEN_WSALT, ...), AES-ICM's IV is XORed
 * with (salt || 00 00) and its 16-bit block counter is the last two octets,
 * AES-GCM takes its 12-octet IV as is, its AAD in one or more set_aad()
 * calls, and decrypt() gets the tag at the end of the buffer. */
#ifndef RTCSEC_SRTP_TYPES_H
#define RTCSEC_SRTP_TYPES_H

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>

/* AES-ICM (RFC 3711 §4.1.1; AES-256: RFC 6188): key_len 30 or 46 (key +
 * 14-octet salt), for SRTP_AES_ICM_128 and SRTP_AES_ICM_256. */
extern const srtp_cipher_type_t rtcsec_srtp_aes_icm_128;
extern const srtp_cipher_type_t rtcsec_srtp_aes_icm_256;
/* AES-GCM (RFC 7714): key_len 28 or 44 (key + 12-octet salt), tag 8 or 16. */
extern const srtp_cipher_type_t rtcsec_srtp_aes_gcm_128;
extern const srtp_cipher_type_t rtcsec_srtp_aes_gcm_256;
/* HMAC-SHA1 (RFC 2104, RFC 3711 §4.2.1): any key length, tag up to 20. */
extern const srtp_auth_type_t rtcsec_srtp_hmac_sha1;

/* ---- shared by the AES types (srtp_types.c) ---- */

/* The functions of one AES mode and key size in the provider the process
 * fetches it from (OpenSSL's default provider, normally), looked up once
 * per process. The AES types call them directly rather than through
 * EVP_CIPHER_CTX: OpenSSL 3.0's EVP layer asks the provider for the IV
 * length on every EVP_CipherInit_ex2() and goes through parameter lookups
 * on every call, which measured 30 % of the instructions of a 160-byte
 * AES-GCM packet (docs/benchmarks.md); the provider functions are the same
 * code those EVP calls end in (public API: OSSL_PROVIDER_query_operation(),
 * <openssl/core_dispatch.h>). */
typedef struct rtcsec_srtp_aes_impl {
  EVP_CIPHER *cipher; /* fetched once, never freed: holds the provider loaded */
  void *provctx;
  OSSL_FUNC_cipher_newctx_fn *newctx;
  OSSL_FUNC_cipher_freectx_fn *freectx;
  OSSL_FUNC_cipher_encrypt_init_fn *einit;
  OSSL_FUNC_cipher_decrypt_init_fn *dinit;
  OSSL_FUNC_cipher_update_fn *update;
  OSSL_FUNC_cipher_final_fn *final;
  OSSL_FUNC_cipher_get_ctx_params_fn *get_ctx_params;
  OSSL_FUNC_cipher_set_ctx_params_fn *set_ctx_params;
} rtcsec_srtp_aes_impl;

/* The implementation of mode 'c' (AES-CTR) or 'g' (AES-GCM) with a key of
 * key_size octets (16 or 32); NULL if the provider lacks it or any of the
 * functions above. Thread-safe; looked up on first use. */
const rtcsec_srtp_aes_impl *rtcsec_srtp_aes_impl_get(char mode, size_t key_size);

/* One key size a type's alloc() takes: the key length libsrtp2 passes
 * (key and salt), and what it makes. */
typedef struct rtcsec_srtp_aes_kind {
  int key_len;
  const srtp_cipher_type_t *type;
  int algorithm;
  size_t key_size; /* the AES key alone: 16 or 32 */
} rtcsec_srtp_aes_kind;

/* The start of every object of rtcsec's AES types: libsrtp2's cipher
 * object, whose state points back at this object, and the provider's
 * context. */
typedef struct rtcsec_srtp_aes_obj {
  srtp_cipher_t c;
  const rtcsec_srtp_aes_impl *impl;
  void *pctx; /* made by alloc(), keyed by init() */
  size_t key_size;
  size_t size; /* of the whole object */
} rtcsec_srtp_aes_obj;

/* alloc() of an AES type: finds key_len in kinds[n_kinds] (else
 * srtp_err_status_bad_param) and allocates a zeroed object of `size`
 * octets (at least sizeof(rtcsec_srtp_aes_obj)) with the provider's
 * context for the mode (without a key yet). Everything the object needs
 * from the heap is taken here, so init() and the per-packet calls allocate
 * nothing. (That also keeps allocation failures out of init(): libsrtp2
 * 2.5's srtp_stream_init_keys() returns on an init() failure without
 * freeing its key-derivation cipher.) Errors: srtp_err_status_bad_param,
 * srtp_err_status_cipher_fail (no implementation),
 * srtp_err_status_alloc_fail. */
srtp_err_status_t rtcsec_srtp_aes_obj_new(srtp_cipher_t **out, const rtcsec_srtp_aes_kind *kinds,
                                          size_t n_kinds, char mode, int key_len, size_t size);

/* dealloc() of an AES type: frees the provider's context (the provider
 * wipes its key schedule) and wipes and frees the object. */
srtp_err_status_t rtcsec_srtp_aes_obj_free(srtp_cipher_t *c);

/* What srtp_replace_cipher_type() / srtp_replace_auth_type() returned for
 * each type (libsrtp2 runs the type's own test_data, then the test_data of
 * the implementation it replaces, and keeps the old one on any failure). */
typedef struct rtcsec_srtp_types_status {
  int attempted; /* 0: the embedder kept libsrtp2's own (or not yet run) */
  srtp_err_status_t aes_icm_128;
  srtp_err_status_t aes_icm_256;
  srtp_err_status_t aes_gcm_128;
  srtp_err_status_t aes_gcm_256;
  srtp_err_status_t hmac_sha1;
} rtcsec_srtp_types_status;

/* libsrtp2 2.x exports these crypto-kernel functions but does not install
 * their declarations (its crypto/include/crypto_kernel.h): the
 * implementation the kernel holds for a type id, and the self-test of every
 * type it holds (which exit()s the process on a failure). For tests and
 * diagnostics. */
const srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);
const srtp_auth_type_t *srtp_crypto_kernel_get_auth_type(srtp_auth_type_id_t id);
srtp_err_status_t srtp_crypto_kernel_status(void);

/* Replaces libsrtp2's implementations of the five types with rtcsec's.
 * srtp_init() must have run. Not thread-safe by itself: the bridge calls it
 * once, under pthread_once (srtp.c). */
void rtcsec_srtp_types_register(rtcsec_srtp_types_status *st);

#endif
