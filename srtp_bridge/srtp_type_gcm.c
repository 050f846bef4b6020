/* AES-GCM (RFC 7714) as libsrtp2 cipher types SRTP_AES_GCM_128 and
 * SRTP_AES_GCM_256, on one OpenSSL AES-GCM context keyed once per session
 * key (srtp_types.h).
 *
 * How libsrtp2 2.5 drives the type (srtp/srtp.c): set_iv() with the
 * 12-octet IV it formed from the salt (RFC 7714 §8.1, §9.1) and the
 * direction; set_aad() once (SRTP: the header) or twice (SRTCP: the first
 * 8 octets, then the E flag and index); then either encrypt() of the
 * payload in place and get_tag() to append the tag, or decrypt() of
 * payload || tag in place, which checks the tag and drops it from the
 * length. The key buffer is key || 12-octet salt; the salt is libsrtp2's
 * business (the IV), the cipher uses the key only. Tags of 16 octets
 * (RFC 7714) and 8 (libsrtp2's _8 policies) are taken, as libsrtp2's own
 * implementations do. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <stdint.h>
#include <string.h>

#include "srtp_types.h"

#define GCM_TAG_LEN 16
#define GCM_TAG_LEN_8 8
#define GCM_IV_LEN 12
#define DIR_NONE (-1)

typedef struct gcm_cipher {
  rtcsec_srtp_aes_obj base; /* libsrtp2's object and the AES-GCM context */
  size_t tag_len;           /* 8 or 16 */
  int dir;                  /* srtp_direction_encrypt / _decrypt from set_iv(), or DIR_NONE */
} gcm_cipher;

/* key_len counts the 12-octet salt: 28 (AES-128) or 44 (AES-256). */
static const rtcsec_srtp_aes_kind gcm_kinds[] = {
    {SRTP_AES_GCM_128_KEY_LEN_WSALT, &rtcsec_srtp_aes_gcm_128, SRTP_AES_GCM_128,
     SRTP_AES_128_KEY_LEN},
    {SRTP_AES_GCM_256_KEY_LEN_WSALT, &rtcsec_srtp_aes_gcm_256, SRTP_AES_GCM_256,
     SRTP_AES_256_KEY_LEN},
};

static srtp_err_status_t gcm_alloc(srtp_cipher_t **out, int key_len, int tag_len) {
  if (out == NULL)
    return srtp_err_status_bad_param;
  *out = NULL;
  if (tag_len != GCM_TAG_LEN && tag_len != GCM_TAG_LEN_8)
    return srtp_err_status_bad_param;
  srtp_err_status_t st = rtcsec_srtp_aes_obj_new(
      out, gcm_kinds, sizeof(gcm_kinds) / sizeof(gcm_kinds[0]), 'g', key_len, sizeof(gcm_cipher));
  if (st != srtp_err_status_ok)
    return st;
  gcm_cipher *g = (*out)->state;
  g->tag_len = (size_t)tag_len;
  g->dir = DIR_NONE;
  return srtp_err_status_ok;
}

/* The key schedule and GHASH key are made here, once per key, in the
 * context alloc() made. */
static srtp_err_status_t gcm_init(void *state, const uint8_t *key) {
  gcm_cipher *s = state;
  if (s == NULL || key == NULL)
    return srtp_err_status_bad_param;
  s->dir = DIR_NONE;
  if (!s->base.impl->einit(s->base.pctx, key, s->base.key_size, NULL, 0, NULL))
    return srtp_err_status_init_fail;
  return srtp_err_status_ok;
}

/* A new IV and direction on the keyed context (the default IV length of
 * OpenSSL's GCM is RFC 7714's 12 octets). */
static srtp_err_status_t gcm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir) {
  gcm_cipher *s = state;
  if (s == NULL || iv == NULL)
    return srtp_err_status_bad_param;
  if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  s->dir = DIR_NONE;
  const rtcsec_srtp_aes_impl *impl = s->base.impl;
  if (!(dir == srtp_direction_encrypt ? impl->einit : impl->dinit)(s->base.pctx, NULL, 0, iv,
                                                                   GCM_IV_LEN, NULL))
    return srtp_err_status_init_fail;
  s->dir = (int)dir;
  return srtp_err_status_ok;
}

/* Appends to the AAD; before any payload (set_iv() first). */
static srtp_err_status_t gcm_set_aad(void *state, const uint8_t *aad, uint32_t aad_len) {
  gcm_cipher *s = state;
  size_t out = 0;
  if (s == NULL || s->dir == DIR_NONE)
    return srtp_err_status_bad_param;
  if (aad_len == 0)
    return srtp_err_status_ok;
  if (aad == NULL)
    return srtp_err_status_bad_param;
  if (!s->base.impl->update(s->base.pctx, NULL, &out, aad_len, aad, aad_len))
    return srtp_err_status_algo_fail;
  return srtp_err_status_ok;
}

static srtp_err_status_t gcm_encrypt(void *state, uint8_t *buf, unsigned int *len) {
  gcm_cipher *s = state;
  size_t out = 0;
  if (s == NULL || len == NULL || s->dir != srtp_direction_encrypt)
    return srtp_err_status_bad_param;
  /* libsrtp2 encrypts 0 octets (buf NULL) for SRTCP sent with E = 0. */
  if (*len == 0)
    return srtp_err_status_ok;
  if (buf == NULL)
    return srtp_err_status_bad_param;
  if (!s->base.impl->update(s->base.pctx, buf, &out, *len, buf, *len) || out != *len)
    return srtp_err_status_cipher_fail;
  return srtp_err_status_ok;
}

/* Finishes the encryption and writes the tag (tag_len octets) to tag. */
static srtp_err_status_t gcm_get_tag(void *state, uint8_t *tag, uint32_t *len) {
  gcm_cipher *s = state;
  uint8_t none[GCM_TAG_LEN];
  size_t out = 0;
  if (s == NULL || tag == NULL || len == NULL || s->dir != srtp_direction_encrypt)
    return srtp_err_status_bad_param;
  s->dir = DIR_NONE; /* one tag per IV */
  if (!s->base.impl->final(s->base.pctx, none, &out, sizeof(none)))
    return srtp_err_status_algo_fail;
  /* A shorter tag is the leftmost octets of the full one (NIST SP
   * 800-38D §5.2.1.2), which is what OpenSSL returns for a shorter length. */
  OSSL_PARAM p[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, s->tag_len),
                    OSSL_PARAM_construct_end()};
  if (!s->base.impl->get_ctx_params(s->base.pctx, p))
    return srtp_err_status_algo_fail;
  *len = (uint32_t)s->tag_len;
  return srtp_err_status_ok;
}

/* buf holds ciphertext || tag; on success the plaintext replaces the
 * ciphertext and *len loses the tag. A wrong tag is
 * srtp_err_status_auth_fail (buf then holds unauthenticated plaintext,
 * as with libsrtp2's own GCM; srtp.c drops the packet). */
static srtp_err_status_t gcm_decrypt(void *state, uint8_t *buf, unsigned int *len) {
  gcm_cipher *s = state;
  uint8_t none[GCM_TAG_LEN];
  size_t out = 0;
  if (s == NULL || len == NULL || buf == NULL || s->dir != srtp_direction_decrypt)
    return srtp_err_status_bad_param;
  s->dir = DIR_NONE;
  if (*len < s->tag_len)
    return srtp_err_status_auth_fail;
  unsigned int n = *len - (unsigned int)s->tag_len;
  const rtcsec_srtp_aes_impl *impl = s->base.impl;
  OSSL_PARAM p[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, buf + n, s->tag_len),
      OSSL_PARAM_construct_end()};
  if (!impl->set_ctx_params(s->base.pctx, p))
    return srtp_err_status_auth_fail;
  if (n > 0 && (!impl->update(s->base.pctx, buf, &out, n, buf, n) || out != n))
    return srtp_err_status_cipher_fail;
  /* The provider compares the tag (in constant time) here. */
  if (!impl->final(s->base.pctx, none, &out, sizeof(none)))
    return srtp_err_status_auth_fail;
  *len = n;
  return srtp_err_status_ok;
}

/* ---- self-test data: RFC 7714 §16.1.1, §16.2.1, §17.1, §17.2 --------------- */

/* Key || salt ("Quid pro quo"), as libsrtp2 passes it to init(). */
static const uint8_t r7714_key128[28] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                         0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x51, 0x75, 0x69, 0x64,
                                         0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static const uint8_t r7714_key256[44] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f, 0x51, 0x75, 0x69, 0x64, 0x20, 0x70, 0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
/* §16.1: the IV of the RTP packet (SSRC 5501a0b2, ROC 0, SEQ f17b) and of
 * §17.1's RTCP packet (SSRC 4d617273, index 5d4), both salted. libsrtp2's
 * test case struct takes a non-const IV pointer; never written. */
static uint8_t r7714_rtp_iv[12] = {0x51, 0x75, 0x3c, 0x65, 0x80, 0xc2,
                                   0x72, 0x6f, 0x20, 0x71, 0x84, 0x14};
static uint8_t r7714_rtcp_iv[12] = {0x51, 0x75, 0x24, 0x05, 0x52, 0x03,
                                    0x72, 0x6f, 0x20, 0x71, 0x70, 0xbb};
/* AAD: the RTP header; for SRTCP the first 8 octets and E || index. */
static const uint8_t r7714_rtp_aad[12] = {0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41,
                                          0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2};
static const uint8_t r7714_rtcp_aad[12] = {0x81, 0xc8, 0x00, 0x0d, 0x4d, 0x61,
                                           0x72, 0x73, 0x80, 0x00, 0x05, 0xd4};
static const uint8_t r7714_rtp_plain[38] = {
    0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65, 0x73, 0x74, 0x20, 0x6f, 0x6d,
    0x6e, 0x69, 0x73, 0x20, 0x64, 0x69, 0x76, 0x69, 0x73, 0x61, 0x20, 0x69, 0x6e,
    0x20, 0x70, 0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72, 0x65, 0x73};
static const uint8_t r7714_rtcp_plain[44] = {
    0x4e, 0x54, 0x50, 0x31, 0x4e, 0x54, 0x50, 0x32, 0x52, 0x54, 0x50, 0x20, 0x00, 0x00, 0x04,
    0x2a, 0x00, 0x00, 0xe9, 0x30, 0x4c, 0x75, 0x6e, 0x61, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad,
    0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef};
/* Ciphertext || 16-octet tag. */
static const uint8_t r7714_srtp128[54] = {
    0xf2, 0x4d, 0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c, 0x9d, 0x7e,
    0x4b, 0xca, 0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f, 0x42, 0xa5, 0xf4, 0x7a,
    0x51, 0xc7, 0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf, 0x88, 0x33, 0x89, 0x9d, 0x7f, 0x27,
    0xbe, 0xb1, 0x6a, 0x91, 0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce};
static const uint8_t r7714_srtp256[54] = {
    0x32, 0xb1, 0xde, 0x78, 0xa8, 0x22, 0xfe, 0x12, 0xef, 0x9f, 0x78, 0xfa, 0x33, 0x2e,
    0x33, 0xaa, 0xb1, 0x80, 0x12, 0x38, 0x9a, 0x58, 0xe2, 0xf3, 0xb5, 0x0b, 0x2a, 0x02,
    0x76, 0xff, 0xae, 0x0f, 0x1b, 0xa6, 0x37, 0x99, 0xb8, 0x7b, 0x7a, 0xa3, 0xdb, 0x36,
    0xdf, 0xff, 0xd6, 0xb0, 0xf9, 0xbb, 0x78, 0x78, 0xd7, 0xa7, 0x6c, 0x13};
static const uint8_t r7714_srtcp128[60] = {
    0x63, 0xe9, 0x48, 0x85, 0xdc, 0xda, 0xb6, 0x7c, 0xa7, 0x27, 0xd7, 0x66, 0x2f, 0x6b, 0x7e,
    0x99, 0x7f, 0xf5, 0xc0, 0xf7, 0x6c, 0x06, 0xf3, 0x2d, 0xc6, 0x76, 0xa5, 0xf1, 0x73, 0x0d,
    0x6f, 0xda, 0x4c, 0xe0, 0x9b, 0x46, 0x86, 0x30, 0x3d, 0xed, 0x0b, 0xb9, 0x27, 0x5b, 0xc8,
    0x4a, 0xa4, 0x58, 0x96, 0xcf, 0x4d, 0x2f, 0xc5, 0xab, 0xf8, 0x72, 0x45, 0xd9, 0xea, 0xde};
static const uint8_t r7714_srtcp256[60] = {
    0xd5, 0x0a, 0xe4, 0xd1, 0xf5, 0xce, 0x5d, 0x30, 0x4b, 0xa2, 0x97, 0xe4, 0x7d, 0x47, 0x0c,
    0x28, 0x2c, 0x3e, 0xce, 0x5d, 0xbf, 0xfe, 0x0a, 0x50, 0xa2, 0xea, 0xa5, 0xc1, 0x11, 0x05,
    0x55, 0xbe, 0x84, 0x15, 0xf6, 0x58, 0xc6, 0x1d, 0xe0, 0x47, 0x6f, 0x1b, 0x6f, 0xad, 0x1d,
    0x1e, 0xb3, 0x0c, 0x44, 0x46, 0x83, 0x9f, 0x57, 0xff, 0x6f, 0x6c, 0xb2, 0x6a, 0xc3, 0xbe};

/* Each vector also with an 8-octet tag: the same ciphertext and the
 * leftmost 8 octets of the tag (a prefix of the arrays above). */
#define GCM_CASE(K, IV, PT, CT, AAD, TAG, NEXT)                                                    \
  {                                                                                                \
    .key_length_octets = (int)sizeof(K), .key = (K), .idx = (IV),                                  \
    .plaintext_length_octets = sizeof(PT), .plaintext = (PT),                                      \
    .ciphertext_length_octets = sizeof(PT) + (TAG), .ciphertext = (CT),                            \
    .aad_length_octets = (int)sizeof(AAD), .aad = (AAD), .tag_length_octets = (TAG),               \
    .next_test_case = (NEXT),                                                                      \
  }

/* The chain of four cases for one key: SRTP and SRTCP, 16- and 8-octet
 * tags; `name` is the first. */
#define GCM_CASES(name, K, SRTP, SRTCP)                                                            \
  static const srtp_cipher_test_case_t name##_rtcp8 =                                              \
      GCM_CASE(K, r7714_rtcp_iv, r7714_rtcp_plain, SRTCP, r7714_rtcp_aad, 8, NULL);                \
  static const srtp_cipher_test_case_t name##_rtp8 =                                               \
      GCM_CASE(K, r7714_rtp_iv, r7714_rtp_plain, SRTP, r7714_rtp_aad, 8, &name##_rtcp8);           \
  static const srtp_cipher_test_case_t name##_rtcp =                                               \
      GCM_CASE(K, r7714_rtcp_iv, r7714_rtcp_plain, SRTCP, r7714_rtcp_aad, 16, &name##_rtp8);       \
  static const srtp_cipher_test_case_t name =                                                      \
      GCM_CASE(K, r7714_rtp_iv, r7714_rtp_plain, SRTP, r7714_rtp_aad, 16, &name##_rtcp)

GCM_CASES(g128_rtp, r7714_key128, r7714_srtp128, r7714_srtcp128);
GCM_CASES(g256_rtp, r7714_key256, r7714_srtp256, r7714_srtcp256);

#define GCM_TYPE(DESC, TESTS, ID)                                                                  \
  {                                                                                                \
    .alloc = gcm_alloc, .dealloc = rtcsec_srtp_aes_obj_free, .init = gcm_init,                     \
    .set_aad = gcm_set_aad, .encrypt = gcm_encrypt, .decrypt = gcm_decrypt, .set_iv = gcm_set_iv,  \
    .get_tag = gcm_get_tag, .description = (DESC), .test_data = (TESTS), .id = (ID),               \
  }

const srtp_cipher_type_t rtcsec_srtp_aes_gcm_128 =
    GCM_TYPE("AES-128 GCM (rtcsec, OpenSSL)", &g128_rtp, SRTP_AES_GCM_128);
const srtp_cipher_type_t rtcsec_srtp_aes_gcm_256 =
    GCM_TYPE("AES-256 GCM (rtcsec, OpenSSL)", &g256_rtp, SRTP_AES_GCM_256);
