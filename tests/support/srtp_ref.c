/* Reference SRTP crypto for the tests: see srtp_ref.h. */
#include "srtp_ref.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

size_t unhex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  int hi = -1;
  for (const char *p = hex; *p != '\0'; p++) {
    int v;
    if (*p >= '0' && *p <= '9')
      v = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      v = *p - 'a' + 10;
    else if (*p >= 'A' && *p <= 'F')
      v = *p - 'A' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      ck_assert_uint_lt(n, cap);
      out[n++] = (uint8_t)(hi << 4 | v);
      hi = -1;
    }
  }
  ck_assert_int_eq(hi, -1);
  return n;
}

void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void aes_cm_keystream(const uint8_t *key, size_t key_len, const uint8_t iv[16], uint8_t *out,
                      size_t n) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  ck_assert_ptr_nonnull(ctx);
  const EVP_CIPHER *c = key_len == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr();
  ck_assert_int_eq(EVP_EncryptInit_ex(ctx, c, NULL, key, iv), 1);
  memset(out, 0, n);
  int outl = 0;
  ck_assert_int_eq(EVP_EncryptUpdate(ctx, out, &outl, out, (int)n), 1);
  ck_assert_int_eq(outl, (int)n);
  EVP_CIPHER_CTX_free(ctx);
}

void ref_kdf(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt, size_t salt_len,
             uint8_t label, uint8_t *out, size_t n) {
  uint8_t iv[16] = {0};
  memcpy(iv, master_salt, salt_len);
  iv[7] ^= label;
  aes_cm_keystream(master_key, key_len, iv, out, n);
}

void hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len, const uint8_t *b,
               size_t b_len, uint8_t out[20]) {
  uint8_t msg[2048];
  unsigned int out_len = 0;
  ck_assert_uint_le(a_len + b_len, sizeof(msg));
  if (a_len > 0)
    memcpy(msg, a, a_len);
  if (b_len > 0)
    memcpy(msg + a_len, b, b_len);
  ck_assert_ptr_nonnull(HMAC(EVP_sha1(), key, (int)key_len, msg, a_len + b_len, out, &out_len));
  ck_assert_uint_eq(out_len, 20);
}

void aes_gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[12], const uint8_t *aad,
                  size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct_and_tag) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  ck_assert_ptr_nonnull(ctx);
  const EVP_CIPHER *c = key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
  int outl = 0;
  ck_assert_int_eq(EVP_EncryptInit_ex(ctx, c, NULL, NULL, NULL), 1);
  ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
  ck_assert_int_eq(EVP_EncryptInit_ex(ctx, NULL, NULL, key, iv), 1);
  if (aad_len > 0)
    ck_assert_int_eq(EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len), 1);
  if (pt_len > 0) {
    ck_assert_int_eq(EVP_EncryptUpdate(ctx, ct_and_tag, &outl, pt, (int)pt_len), 1);
    ck_assert_int_eq(outl, (int)pt_len);
  }
  ck_assert_int_eq(EVP_EncryptFinal_ex(ctx, ct_and_tag + pt_len, &outl), 1);
  ck_assert_int_eq(outl, 0);
  ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, ct_and_tag + pt_len), 1);
  EVP_CIPHER_CTX_free(ctx);
}
