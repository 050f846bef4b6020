/* rtcsec's own implementations of the libsrtp2 cipher and authentication
 * types its four profiles use, on OpenSSL 3, and their registration into
 * libsrtp2's crypto kernel (srtp_replace_cipher_type(),
 * srtp_replace_auth_type(), libsrtp2's installed srtp2/cipher.h and
 * srtp2/auth.h). Internal to srtp_bridge/ and its tests; never installed.
 *
 * Each type keeps what a key needs for the life of that key: the cipher
 * types one EVP_CIPHER_CTX keyed in init(), the HMAC the SHA-1 states after
 * the keyed inner and outer pad blocks. Per packet only the IV, the AAD,
 * the data and the tag are processed: no key schedule, no allocation, no
 * provider fetch (the EVP_CIPHERs are fetched once per process). Every key
 * and key schedule is wiped in dealloc().
 *
 * The semantics are libsrtp2 2.5's for these type ids (crypto/cipher/
 * aes_icm*.c, aes_gcm*.c, crypto/hash/hmac*.c): the key lengths include
 * the salt (SRTP_AES_ICM_128_KEY_LEN_WSALT, ...), AES-ICM's IV is XORed
 * with (salt || 00 00) and its 16-bit block counter is the last two octets,
 * AES-GCM takes its 12-octet IV as is, its AAD in one or more set_aad()
 * calls, and decrypt() gets the tag at the end of the buffer. */
#ifndef RTCSEC_SRTP_TYPES_H
#define RTCSEC_SRTP_TYPES_H

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

/* The EVP_CIPHER for an AES mode and key size in octets, fetched once per
 * process (thread-safe); NULL if the provider does not have it. mode: 'c'
 * for CTR, 'g' for GCM. */
const EVP_CIPHER *rtcsec_srtp_evp_cipher(char mode, size_t key_size);

/* ---- shared by the AES types (srtp_types.c) ---- */

/* One key size a type's alloc() takes: the key length libsrtp2 passes
 * (key and salt), and what it makes. */
typedef struct rtcsec_srtp_evp_kind {
  int key_len;
  const srtp_cipher_type_t *type;
  int algorithm;
  size_t key_size; /* the AES key alone: 16 or 32 */
} rtcsec_srtp_evp_kind;

/* The start of every object of rtcsec's AES types: libsrtp2's cipher
 * object, whose state points back at this object, and one EVP context. */
typedef struct rtcsec_srtp_evp_obj {
  srtp_cipher_t c;
  EVP_CIPHER_CTX *ctx; /* the cipher from alloc(), keyed by init() */
  size_t key_size;
  size_t size; /* of the whole object */
} rtcsec_srtp_evp_obj;

/* alloc() of an AES type: finds key_len in kinds[n_kinds] (else
 * srtp_err_status_bad_param) and allocates a zeroed object of `size`
 * octets (at least sizeof(rtcsec_srtp_evp_obj)) whose context holds the
 * EVP cipher (mode 'c' CTR or 'g' GCM) without a key yet. Everything the
 * object needs from the heap is taken here, the provider's context
 * included, so init() and the per-packet calls allocate nothing. (That also
 * keeps allocation failures out of init(): libsrtp2 2.5's
 * srtp_stream_init_keys() returns on an init() failure without freeing its
 * key-derivation cipher.) Errors: srtp_err_status_bad_param,
 * srtp_err_status_cipher_fail (the provider lacks the cipher),
 * srtp_err_status_alloc_fail. */
srtp_err_status_t rtcsec_srtp_evp_obj_new(srtp_cipher_t **out, const rtcsec_srtp_evp_kind *kinds,
                                          size_t n_kinds, char mode, int key_len, size_t size);

/* dealloc() of an AES type: frees the context (the provider wipes its key
 * schedule) and wipes and frees the object. */
srtp_err_status_t rtcsec_srtp_evp_obj_free(srtp_cipher_t *c);

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
