/* The raw cipher floor of SRTP: the same bytes encrypted and authenticated
 * with direct OpenSSL EVP calls, nothing else (no replay database, no
 * stream lookup, no header checks beyond what the transform needs). One
 * object per direction and key, like one libsrtp2 stream.
 *
 * AES_CM_128_HMAC_SHA1_80/32 (RFC 3711): AES-128-CTR over the payload with
 * the per-packet IV set on a keyed context, then HMAC-SHA1 (EVP_MAC,
 * re-initialised with the same key) over header, payload and ROC (SRTP) or
 * header, payload and E+index (SRTCP). AEAD_AES_128/256_GCM (RFC 7714): one
 * EVP AES-GCM call sequence per packet with its IV, AAD and 16-octet tag.
 * Session keys come from the RFC 3711 §4.3 KDF, so with the same master key
 * the output is byte for byte what libsrtp2 produces (checked at start). */
#ifndef RTCSEC_BENCH_EVP_SRTP_H
#define RTCSEC_BENCH_EVP_SRTP_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "rtcsec/profile.h"

typedef struct evp_srtp_keys {
  uint8_t enc[32];
  uint8_t auth[20];
  uint8_t salt[14];
} evp_srtp_keys;

typedef struct evp_srtp {
  rtcsec_srtp_profile profile;
  int aead;
  size_t rtp_tag_len, rtcp_tag_len;
  EVP_CIPHER_CTX *rtp_cipher, *rtcp_cipher;
  EVP_MAC_CTX *rtp_mac, *rtcp_mac; /* AES-CM profiles only */
  evp_srtp_keys rtp, rtcp;
  /* index tracking: rollover counter from the sequence numbers seen */
  uint32_t roc;
  uint16_t last_seq;
  int have_seq;
  uint32_t rtcp_index; /* protect: last SRTCP index used */
} evp_srtp;

/* master_key: 16 or 32 bytes; master_salt: 14 (AES-CM) or 12 (GCM) bytes. */
int evp_srtp_init(evp_srtp *e, rtcsec_srtp_profile p, const uint8_t *master_key,
                  const uint8_t *master_salt);
void evp_srtp_free(evp_srtp *e);

/* In place; buf has room for the tag. Return 0 or -1. */
int evp_srtp_protect_rtp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len);
int evp_srtp_unprotect_rtp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len);
int evp_srtp_protect_rtcp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len);
int evp_srtp_unprotect_rtcp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len);

/* Protects one RTP and one RTCP packet with libsrtp2 and with this code under
 * the same master key and compares the bytes. Returns 0 if identical. */
int evp_srtp_selftest(rtcsec_srtp_profile p);

#endif
