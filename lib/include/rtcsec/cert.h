/* rtcsec: local certificates and RFC 8122 fingerprints.
 *
 * A WebRTC endpoint has one self-signed certificate, usually for its whole
 * life, and shows its fingerprint in SDP (`a=fingerprint:sha-256 AB:CD:...`).
 * rtcsec_cert holds the certificate and its private key. It is reference
 * counted and immutable after creation, so one certificate may be shared by
 * any number of DTLS associations on any threads.
 */
#ifndef RTCSEC_CERT_H
#define RTCSEC_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- fingerprints (RFC 8122 §5) ---------------------------------------- */

typedef enum rtcsec_hash {
  RTCSEC_HASH_SHA1 = 1,
  RTCSEC_HASH_SHA224 = 2,
  RTCSEC_HASH_SHA256 = 3,
  RTCSEC_HASH_SHA384 = 4,
  RTCSEC_HASH_SHA512 = 5,
} rtcsec_hash;

#define RTCSEC_FINGERPRINT_MAX_DIGEST 64
/* Longest formatted fingerprint incl. the NUL: "sha-512 " + 64 * 3 - 1 + 1. */
#define RTCSEC_FINGERPRINT_STRLEN 200

typedef struct rtcsec_fingerprint {
  rtcsec_hash hash;
  size_t len; /* digest length, fixed by `hash` */
  uint8_t digest[RTCSEC_FINGERPRINT_MAX_DIGEST];
} rtcsec_fingerprint;

/* "sha-1", "sha-224", "sha-256", "sha-384", "sha-512"; "unknown" otherwise. */
RTCSEC_API const char *rtcsec_hash_name(rtcsec_hash hash);

/* Digest length of a hash in bytes, 0 if unknown. */
RTCSEC_API size_t rtcsec_hash_len(rtcsec_hash hash);

/* Formats `fp` as "sha-256 AB:CD:..." (upper-case hex, colons) with a NUL.
 * *len_out (optional) gets the length without the NUL.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_fingerprint_format(const rtcsec_fingerprint *fp, char *buf, size_t cap,
                                         size_t *len_out);

/* Parses "HASH XX:XX:..." (len bytes, no NUL needed). The hash name and the
 * hex are case-insensitive; an optional "a=fingerprint:" or "fingerprint:"
 * prefix and surrounding blanks are accepted.
 * Errors: RTCSEC_ERR_FINGERPRINT_MALFORMED (syntax),
 * RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH, RTCSEC_ERR_FINGERPRINT_LENGTH
 * (number of bytes does not fit the hash), RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_fingerprint_parse(rtcsec_fingerprint *out, const char *s, size_t len);

/* 1 if equal (same hash, same digest), else 0. Constant time in the digest. */
RTCSEC_API int rtcsec_fingerprint_equal(const rtcsec_fingerprint *a, const rtcsec_fingerprint *b);

/* Fingerprint of a DER-encoded certificate. */
RTCSEC_API int rtcsec_fingerprint_of_der(const uint8_t *der, size_t der_len, rtcsec_hash hash,
                                         rtcsec_fingerprint *out);

/* ---- certificates ------------------------------------------------------ */

typedef struct rtcsec_cert rtcsec_cert;

typedef enum rtcsec_key_type {
  RTCSEC_KEY_ECDSA_P256 = 0, /* what browsers use; the default */
  RTCSEC_KEY_RSA_2048 = 1,
} rtcsec_key_type;

typedef struct rtcsec_cert_config {
  rtcsec_key_type key_type;    /* default RTCSEC_KEY_ECDSA_P256 */
  const char *common_name;     /* default "rtcsec"; copied */
  uint32_t validity_days;      /* default 30 */
  int64_t not_before_offset_s; /* notBefore = now + this; default -86400 (clock skew) */
} rtcsec_cert_config;

RTCSEC_API void rtcsec_cert_config_default(rtcsec_cert_config *cfg);

/* Generates a key pair and a self-signed certificate (SHA-256 signature,
 * random 64-bit positive serial). Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_CRYPTO, RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_cert_generate(rtcsec_cert **out, const rtcsec_cert_config *cfg);

/* Loads a certificate and its private key from PEM text (either may also
 * be in one buffer: pass it twice). Errors: RTCSEC_ERR_PEM,
 * RTCSEC_ERR_KEY_MISMATCH, RTCSEC_ERR_UNSUPPORTED (key type other than
 * EC P-256 or RSA), RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_cert_load_pem(rtcsec_cert **out, const char *cert_pem, size_t cert_len,
                                    const char *key_pem, size_t key_len);

/* Same from files. Adds RTCSEC_ERR_IO. */
RTCSEC_API int rtcsec_cert_load_pem_file(rtcsec_cert **out, const char *cert_path,
                                         const char *key_path);

/* Writes the certificate (which = RTCSEC_PEM_CERT) or the unencrypted
 * PKCS#8 private key (RTCSEC_PEM_KEY) as PEM with a NUL. *len_out
 * (optional) excludes the NUL. Errors: RTCSEC_ERR_BUFFER_TOO_SMALL (with
 * *len_out set to the length needed), RTCSEC_ERR_INVALID_ARGUMENT. */
typedef enum rtcsec_pem_part { RTCSEC_PEM_CERT = 0, RTCSEC_PEM_KEY = 1 } rtcsec_pem_part;
RTCSEC_API int rtcsec_cert_to_pem(const rtcsec_cert *cert, rtcsec_pem_part which, char *buf,
                                  size_t cap, size_t *len_out);

/* Saves both to files; the key file is created with mode 0600. */
RTCSEC_API int rtcsec_cert_save_pem_file(const rtcsec_cert *cert, const char *cert_path,
                                         const char *key_path);

RTCSEC_API int rtcsec_cert_fingerprint(const rtcsec_cert *cert, rtcsec_hash hash,
                                       rtcsec_fingerprint *out);

RTCSEC_API rtcsec_key_type rtcsec_cert_key_type(const rtcsec_cert *cert);

/* Takes another reference; returns cert. Thread-safe. */
RTCSEC_API rtcsec_cert *rtcsec_cert_ref(rtcsec_cert *cert);

/* Drops a reference; frees (and wipes the key) on the last. NULL is a no-op. */
RTCSEC_API void rtcsec_cert_free(rtcsec_cert *cert);

#ifdef __cplusplus
}
#endif
#endif
