/* The process-wide part of rtcsec's libsrtp2 types (srtp_types.h): the AES
 * implementations, looked up once, the object shared by the AES types, and
 * the registration into libsrtp2's crypto kernel. */
#include <openssl/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "srtp_types.h"

/* The four AES implementations, looked up once per process. Each EVP_CIPHER
 * is fetched once and kept for the life of the process: it holds the
 * provider (and so its function table) loaded. */
enum { IMPL_CTR128, IMPL_CTR256, IMPL_GCM128, IMPL_GCM256, N_IMPLS };
static const char *const impl_names[N_IMPLS] = {"AES-128-CTR", "AES-256-CTR", "AES-128-GCM",
                                                "AES-256-GCM"};
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;
static rtcsec_srtp_aes_impl impls[N_IMPLS];
static int impl_ok[N_IMPLS];

/* 1 if `names` (a provider's "NAME:ALIAS:OID" list) names cipher c. */
static int names_cipher(const char *names, const EVP_CIPHER *c) {
  char one[64];
  while (*names != '\0') {
    size_t n = strcspn(names, ":");
    if (n < sizeof(one)) {
      memcpy(one, names, n);
      one[n] = '\0';
      if (EVP_CIPHER_is_a(c, one))
        return 1;
    }
    names += n + (names[n] == ':');
  }
  return 0;
}

/* Fills *impl from the provider that implements the fetched cipher c;
 * returns 1 if every function is there. */
static int impl_lookup(const EVP_CIPHER *c, rtcsec_srtp_aes_impl *impl) {
  OSSL_PROVIDER *prov = (OSSL_PROVIDER *)EVP_CIPHER_get0_provider(c);
  int no_cache = 0;
  if (prov == NULL)
    return 0;
  const OSSL_ALGORITHM *algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache);
  const OSSL_ALGORITHM *alg = NULL;
  for (size_t i = 0; algs != NULL && algs[i].algorithm_names != NULL && alg == NULL; i++) {
    if (names_cipher(algs[i].algorithm_names, c))
      alg = &algs[i];
  }
  for (const OSSL_DISPATCH *f = alg ? alg->implementation : NULL; f && f->function_id; f++) {
    switch (f->function_id) {
    case OSSL_FUNC_CIPHER_NEWCTX:
      impl->newctx = OSSL_FUNC_cipher_newctx(f);
      break;
    case OSSL_FUNC_CIPHER_FREECTX:
      impl->freectx = OSSL_FUNC_cipher_freectx(f);
      break;
    case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
      impl->einit = OSSL_FUNC_cipher_encrypt_init(f);
      break;
    case OSSL_FUNC_CIPHER_DECRYPT_INIT:
      impl->dinit = OSSL_FUNC_cipher_decrypt_init(f);
      break;
    case OSSL_FUNC_CIPHER_UPDATE:
      impl->update = OSSL_FUNC_cipher_update(f);
      break;
    case OSSL_FUNC_CIPHER_FINAL:
      impl->final = OSSL_FUNC_cipher_final(f);
      break;
    case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
      impl->get_ctx_params = OSSL_FUNC_cipher_get_ctx_params(f);
      break;
    case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
      impl->set_ctx_params = OSSL_FUNC_cipher_set_ctx_params(f);
      break;
    default:
      break;
    }
  }
  if (algs != NULL)
    OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
  impl->provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
  return impl->newctx != NULL && impl->freectx != NULL && impl->einit != NULL &&
         impl->dinit != NULL && impl->update != NULL && impl->final != NULL &&
         impl->get_ctx_params != NULL && impl->set_ctx_params != NULL;
}

static void impl_run(void) {
  for (int i = 0; i < N_IMPLS; i++) {
    impls[i].cipher = EVP_CIPHER_fetch(NULL, impl_names[i], NULL);
    impl_ok[i] = impls[i].cipher != NULL && impl_lookup(impls[i].cipher, &impls[i]);
  }
}

const rtcsec_srtp_aes_impl *rtcsec_srtp_aes_impl_get(char mode, size_t key_size) {
  int i;
  if (key_size != 16 && key_size != 32)
    return NULL;
  if (mode == 'c')
    i = key_size == 16 ? IMPL_CTR128 : IMPL_CTR256;
  else if (mode == 'g')
    i = key_size == 16 ? IMPL_GCM128 : IMPL_GCM256;
  else
    return NULL;
  if (pthread_once(&impl_once, impl_run) != 0)
    return NULL;
  return impl_ok[i] ? &impls[i] : NULL;
}

srtp_err_status_t rtcsec_srtp_aes_obj_new(srtp_cipher_t **out, const rtcsec_srtp_aes_kind *kinds,
                                          size_t n_kinds, char mode, int key_len, size_t size) {
  const rtcsec_srtp_aes_kind *k = NULL;
  if (out == NULL || size < sizeof(rtcsec_srtp_aes_obj))
    return srtp_err_status_bad_param;
  *out = NULL;
  for (size_t i = 0; i < n_kinds; i++) {
    if (kinds[i].key_len == key_len)
      k = &kinds[i];
  }
  if (k == NULL)
    return srtp_err_status_bad_param;
  const rtcsec_srtp_aes_impl *impl = rtcsec_srtp_aes_impl_get(mode, k->key_size);
  if (impl == NULL)
    return srtp_err_status_cipher_fail;
  rtcsec_srtp_aes_obj *o = calloc(1, size);
  if (o == NULL)
    return srtp_err_status_alloc_fail;
  o->pctx = impl->newctx(impl->provctx);
  if (o->pctx == NULL) {
    free(o);
    return srtp_err_status_alloc_fail;
  }
  o->impl = impl;
  o->key_size = k->key_size;
  o->size = size;
  o->c.type = k->type;
  o->c.state = o;
  o->c.key_len = key_len;
  o->c.algorithm = k->algorithm;
  *out = &o->c;
  return srtp_err_status_ok;
}

srtp_err_status_t rtcsec_srtp_aes_obj_free(srtp_cipher_t *c) {
  if (c == NULL)
    return srtp_err_status_bad_param;
  rtcsec_srtp_aes_obj *o = (rtcsec_srtp_aes_obj *)c;
  o->impl->freectx(o->pctx); /* the provider wipes the key schedule */
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
