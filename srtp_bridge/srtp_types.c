/* The process-wide part of rtcsec's libsrtp2 types (srtp_types.h): the
 * EVP_CIPHERs, fetched once, and the registration into libsrtp2's crypto
 * kernel. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "srtp_types.h"

/* Fetched once and kept for the life of the process: an implicit fetch
 * (EVP_aes_128_ctr() and friends) would look the algorithm up in the
 * provider's table at every key set-up, an explicit one per cipher object
 * would cost a fetch per session. */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *ctr128, *ctr256, *gcm128, *gcm256;

static void fetch_run(void) {
  ctr128 = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
  ctr256 = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
  gcm128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  gcm256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

const EVP_CIPHER *rtcsec_srtp_evp_cipher(char mode, size_t key_size) {
  if (pthread_once(&fetch_once, fetch_run) != 0)
    return NULL;
  if (mode == 'c')
    return key_size == 16 ? ctr128 : key_size == 32 ? ctr256 : NULL;
  if (mode == 'g')
    return key_size == 16 ? gcm128 : key_size == 32 ? gcm256 : NULL;
  return NULL;
}

srtp_err_status_t rtcsec_srtp_evp_obj_new(srtp_cipher_t **out, const rtcsec_srtp_evp_kind *kinds,
                                          size_t n_kinds, char mode, int key_len, size_t size) {
  const rtcsec_srtp_evp_kind *k = NULL;
  if (out == NULL || size < sizeof(rtcsec_srtp_evp_obj))
    return srtp_err_status_bad_param;
  *out = NULL;
  for (size_t i = 0; i < n_kinds; i++) {
    if (kinds[i].key_len == key_len)
      k = &kinds[i];
  }
  if (k == NULL)
    return srtp_err_status_bad_param;
  const EVP_CIPHER *evp = rtcsec_srtp_evp_cipher(mode, k->key_size);
  if (evp == NULL)
    return srtp_err_status_cipher_fail;
  rtcsec_srtp_evp_obj *o = calloc(1, size);
  if (o == NULL)
    return srtp_err_status_alloc_fail;
  o->ctx = EVP_CIPHER_CTX_new();
  if (o->ctx == NULL || !EVP_CipherInit_ex2(o->ctx, evp, NULL, NULL, 1, NULL)) {
    EVP_CIPHER_CTX_free(o->ctx);
    free(o);
    return srtp_err_status_alloc_fail;
  }
  o->key_size = k->key_size;
  o->size = size;
  o->c.type = k->type;
  o->c.state = o;
  o->c.key_len = key_len;
  o->c.algorithm = k->algorithm;
  *out = &o->c;
  return srtp_err_status_ok;
}

srtp_err_status_t rtcsec_srtp_evp_obj_free(srtp_cipher_t *c) {
  if (c == NULL)
    return srtp_err_status_bad_param;
  rtcsec_srtp_evp_obj *o = (rtcsec_srtp_evp_obj *)c;
  EVP_CIPHER_CTX_free(o->ctx);
  OPENSSL_cleanse(o, o->size);
  free(o);
  return srtp_err_status_ok;
}

void rtcsec_srtp_types_register(rtcsec_srtp_types_status *st) {
  /* libsrtp2 runs each type's self-test (our test_data: RFC 3711 B.2,
   * RFC 6188 §7.1, RFC 7714 §16-17, RFC 2202) and then the replaced
   * implementation's test_data against it before it swaps the pointer;
   * on any failure it keeps its own, so a broken type can only leave
   * libsrtp2 as it was. AES-ICM is replaced for both key sizes because
   * libsrtp2's key derivation (RFC 3711 §4.3) runs on it for every
   * profile, AES-GCM-256's included (an AES-256-ICM KDF). */
  st->attempted = 1;
  st->aes_icm_128 = srtp_replace_cipher_type(&rtcsec_srtp_aes_icm_128, SRTP_AES_ICM_128);
  st->aes_icm_256 = srtp_replace_cipher_type(&rtcsec_srtp_aes_icm_256, SRTP_AES_ICM_256);
  st->aes_gcm_128 = srtp_replace_cipher_type(&rtcsec_srtp_aes_gcm_128, SRTP_AES_GCM_128);
  st->aes_gcm_256 = srtp_replace_cipher_type(&rtcsec_srtp_aes_gcm_256, SRTP_AES_GCM_256);
  st->hmac_sha1 = srtp_replace_auth_type(&rtcsec_srtp_hmac_sha1, SRTP_HMAC_SHA1);
}
