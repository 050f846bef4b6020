/* Independent reference SRTP crypto for the srtp suites: OpenSSL's EVP and
 * HMAC() used directly, without libsrtp2 and without rtcsec's libsrtp2
 * types (srtp_bridge/srtp_types.h), so that either can be judged by it.
 * Each function is pinned to an RFC vector by the tests before it judges
 * anything (tests/test_srtp.c). Failures are Check assertions. */
#ifndef RTCSEC_TEST_SRTP_REF_H
#define RTCSEC_TEST_SRTP_REF_H

#include <stddef.h>
#include <stdint.h>

/* Hex to bytes, ignoring blanks; returns the number of bytes. */
size_t unhex(const char *hex, uint8_t *out, size_t cap);

void put_be16(uint8_t *p, uint16_t v);
void put_be32(uint8_t *p, uint32_t v);
uint32_t get_be32(const uint8_t *p);

/* AES in counter mode with a 16-octet initial counter block: n octets of
 * keystream (RFC 3711 §4.1.1; the counter is the whole block, incremented
 * as a 128-bit integer, which is what AES-CTR does). key_len 16 or 32. */
void aes_cm_keystream(const uint8_t *key, size_t key_len, const uint8_t iv[16], uint8_t *out,
                      size_t n);

/* RFC 3711 §4.3.1/§4.3.3 with key_derivation_rate 0: x = (label || 0^48)
 * XOR master_salt (112 bits), PRF input x * 2^16, AES-CM keyed with the
 * master key (AES-256 for a 256-bit master key, RFC 6188 §7). For the
 * 96-bit AEAD master salt the 112-bit x takes the salt in its leftmost
 * octets and two zero octets on the right: that is what libsrtp2 does, and
 * the plain-libsrtp2 cross-checks, not an RFC vector, pin this case. */
void ref_kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt, size_t salt_len,
             uint8_t label, uint8_t *out, size_t n);

/* HMAC-SHA1 over a || b (b may be NULL with b_len 0), a_len + b_len <= 2048. */
void hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len, const uint8_t *b,
               size_t b_len, uint8_t out[20]);

/* AES-GCM with a 12-octet IV and a 16-octet tag appended after ct.
 * key_len 16 or 32. */
void aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                  size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct_and_tag);

#endif
