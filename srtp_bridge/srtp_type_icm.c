/* AES in integer counter mode (AES-ICM, RFC 3711 §4.1.1; AES-256-ICM,
 * RFC 6188) as libsrtp2 cipher types SRTP_AES_ICM_128 and SRTP_AES_ICM_256,
 * on one OpenSSL AES-CTR context keyed once per session key (srtp_types.h).
 *
 * libsrtp2's ICM layout: the key buffer is key || 14-octet salt; set_iv()
 * XORs the caller's 16-octet IV with (salt || 00 00), so the block counter
 * is the last 16 bits, starting at the IV's last two octets; the keystream
 * goes on across encrypt() calls until the next set_iv(). The counter is 16
 * bits wide: like libsrtp2's own AES-ICM (aes_icm.c), a request that would
 * need the block counter past 0xffff fails with srtp_err_status_terminus
 * rather than carry into the packet index (OpenSSL's CTR counts 128 bits). */
#include <openssl/crypto.h>
#include <stdint.h>
#include <string.h>

#include "srtp_types.h"

#define ICM_SALT_LEN SRTP_SALT_LEN /* 14 */
#define ICM_MAX_BLOCK 0xffffu

typedef struct icm_cipher {
  rtcsec_srtp_aes_obj base; /* libsrtp2's object and the AES-CTR context */
  uint8_t offset[16];       /* salt || 00 00 */
  uint32_t ctr_start;       /* block counter (last 16 bits) at set_iv() */
  uint64_t used;            /* keystream octets used since set_iv() */
} icm_cipher;

/* key_len counts the salt: 30 (AES-128) or 46 (AES-256), under either id
 * as libsrtp2's own alloc does. Its alloc also takes 38 (AES-192); rtcsec
 * does not replace AES-192-ICM (no DTLS-SRTP profile uses it), so a
 * 38-octet request here is refused, and SRTP_AES_ICM_192 keeps libsrtp2's
 * implementation. */
static const rtcsec_srtp_aes_kind icm_kinds[] = {
    {SRTP_AES_ICM_128_KEY_LEN_WSALT, &rtcsec_srtp_aes_icm_128, SRTP_AES_ICM_128,
     SRTP_AES_128_KEY_LEN},
    {SRTP_AES_ICM_256_KEY_LEN_WSALT, &rtcsec_srtp_aes_icm_256, SRTP_AES_ICM_256,
     SRTP_AES_256_KEY_LEN},
};

static srtp_err_status_t icm_alloc(srtp_cipher_t **out, int key_len, int tag_len) {
  (void)tag_len; /* no tag in counter mode */
  return rtcsec_srtp_aes_obj_new(out, icm_kinds, sizeof(icm_kinds) / sizeof(icm_kinds[0]), 'c',
                                 key_len, sizeof(icm_cipher));
}

/* The key schedule is made here, once per key, in the context alloc()
 * made; libsrtp2 calls init() again only to re-key (its self-test does). */
static srtp_err_status_t icm_init(void *state, const uint8_t *key) {
  icm_cipher *s = state;
  if (s == NULL || key == NULL)
    return srtp_err_status_bad_param;
  memcpy(s->offset, key + s->base.key_size, ICM_SALT_LEN);
  s->offset[14] = s->offset[15] = 0;
  s->ctr_start = 0;
  s->used = 0;
  if (!s->base.impl->einit(s->base.pctx, key, s->base.key_size, s->offset, sizeof(s->offset), NULL))
    return srtp_err_status_init_fail;
  return srtp_err_status_ok;
}

/* RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16);
 * libsrtp2 passes the part after the salt, we add the salt. */
static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t dir) {
  (void)dir; /* counter mode: the same keystream both ways */
  icm_cipher *s = state;
  uint8_t counter[16];
  if (s == NULL || iv == NULL)
    return srtp_err_status_bad_param;
  for (int i = 0; i < 16; i++)
    counter[i] = s->offset[i] ^ iv[i];
  s->ctr_start = (uint32_t)counter[14] << 8 | counter[15];
  s->used = 0;
  /* Key NULL: the IV only; the key schedule stays. */
  if (!s->base.impl->einit(s->base.pctx, NULL, 0, counter, sizeof(counter), NULL))
    return srtp_err_status_cipher_fail;
  return srtp_err_status_ok;
}

/* XORs the next *len octets of keystream into buf (encrypt and decrypt
 * alike). */
static srtp_err_status_t icm_encrypt(void *state, uint8_t *buf, unsigned int *len) {
  icm_cipher *s = state;
  if (s == NULL || len == NULL)
    return srtp_err_status_bad_param;
  if (*len == 0)
    return srtp_err_status_ok;
  if (buf == NULL)
    return srtp_err_status_bad_param;
  /* The blocks this call ends in, counted from set_iv(), must stay within
   * the 16-bit counter (libsrtp2 aes_icm.c's check). */
  uint64_t blocks = (s->used + *len + 15) / 16;
  if (s->ctr_start + blocks > ICM_MAX_BLOCK)
    return srtp_err_status_terminus;
  size_t out = 0;
  if (!s->base.impl->update(s->base.pctx, buf, &out, *len, buf, *len) || out != *len)
    return srtp_err_status_cipher_fail;
  s->used += *len;
  return srtp_err_status_ok;
}

/* ---- self-test data: RFC 3711 Appendix B.2 and RFC 6188 §7.1 ----------------- */

/* B.2: session key 2B7E151628AED2A6ABF7158809CF4F3C, session salt
 * F0F1F2F3F4F5F6F7F8F9FAFBFCFD, SSRC 0, index 0; keystream blocks by
 * counter value. */
static const uint8_t b2_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f,
    0x3c, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static const uint8_t zeros[48];
/* libsrtp2's test case struct takes a non-const IV pointer; never written. */
static uint8_t iv_zero[16];
/* Counter starting at 0xFEFF: B.2's blocks FEFF, FF00, FF01. */
static uint8_t iv_feff[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff};
static const uint8_t b2_blocks_0000[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const uint8_t b2_blocks_feff[48] = {
    0xec, 0x8c, 0xdf, 0x73, 0x98, 0x60, 0x7c, 0xb0, 0xf2, 0xd2, 0x16, 0x75, 0xea, 0x9e, 0xa1, 0xe4,
    0x36, 0x2b, 0x7c, 0x3c, 0x67, 0x73, 0x51, 0x63, 0x18, 0xa0, 0x77, 0xd7, 0xfc, 0x50, 0x73, 0xae,
    0x6a, 0x2c, 0xc3, 0x78, 0x78, 0x89, 0x37, 0x4f, 0xbe, 0xb4, 0xc8, 0x1b, 0x17, 0xba, 0x6c, 0x44};

/* The ICM cases: a key (with the salt), an IV, n octets of zeros and the
 * n octets of keystream they become. */
#define ICM_CASE(K, IV, KS, NEXT)                                                                  \
  {                                                                                                \
    .key_length_octets = (int)sizeof(K), .key = (K), .idx = (IV),                                  \
    .plaintext_length_octets = sizeof(KS), .plaintext = zeros,                                     \
    .ciphertext_length_octets = sizeof(KS), .ciphertext = (KS), .next_test_case = (NEXT),          \
  }

static const srtp_cipher_test_case_t b2_case_feff = ICM_CASE(b2_key, iv_feff, b2_blocks_feff, NULL);
static const srtp_cipher_test_case_t b2_case_0000 =
    ICM_CASE(b2_key, iv_zero, b2_blocks_0000, &b2_case_feff);

/* RFC 6188 §7.1 (AES_256_CM): session key
 * 57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98, the
 * B.2 salt, keystream blocks 0, 1, 2. */
static const uint8_t r6188_key[SRTP_AES_ICM_256_KEY_LEN_WSALT] = {
    0x57, 0xf8, 0x2f, 0xe3, 0x61, 0x3f, 0xd1, 0x70, 0xa8, 0x5e, 0xc9, 0x3c, 0x40, 0xb1, 0xf0, 0x92,
    0x2e, 0xc4, 0xcb, 0x0d, 0xc0, 0x25, 0xb5, 0x82, 0x72, 0x14, 0x7c, 0xc4, 0x38, 0x94, 0x4a, 0x98,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static const uint8_t r6188_blocks[48] = {
    0x92, 0xbd, 0xd2, 0x8a, 0x93, 0xc3, 0xf5, 0x25, 0x11, 0xc6, 0x77, 0xd0, 0x8b, 0x55, 0x15, 0xa4,
    0x9d, 0xa7, 0x1b, 0x23, 0x78, 0xa8, 0x54, 0xf6, 0x70, 0x50, 0x75, 0x6d, 0xed, 0x16, 0x5b, 0xac,
    0x63, 0xc4, 0x86, 0x8b, 0x70, 0x96, 0xd8, 0x84, 0x21, 0xb5, 0x63, 0xb8, 0xc9, 0x4c, 0x9a, 0x31};
static const srtp_cipher_test_case_t r6188_case = ICM_CASE(r6188_key, iv_zero, r6188_blocks, NULL);

#define ICM_TYPE(DESC, TESTS, ID)                                                                  \
  {                                                                                                \
    .alloc = icm_alloc, .dealloc = rtcsec_srtp_aes_obj_free, .init = icm_init,                     \
    .encrypt = icm_encrypt, .decrypt = icm_encrypt, .set_iv = icm_set_iv, .description = (DESC),   \
    .test_data = (TESTS), .id = (ID),                                                              \
  }

const srtp_cipher_type_t rtcsec_srtp_aes_icm_128 =
    ICM_TYPE("AES-128 counter mode (rtcsec, OpenSSL)", &b2_case_0000, SRTP_AES_ICM_128);
const srtp_cipher_type_t rtcsec_srtp_aes_icm_256 =
    ICM_TYPE("AES-256 counter mode (rtcsec, OpenSSL)", &r6188_case, SRTP_AES_ICM_256);
