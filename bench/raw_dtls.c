/* Raw OpenSSL DTLS-SRTP over memory BIOs: the baseline of the handshake and
 * memory figures. The options are rtcsec's (lib/dtls.c), restated with
 * plain OpenSSL calls: DTLS 1.2 only, the same cipher list and groups,
 * use_srtp with the profile list rtcsec offers, the client's certificate
 * required and checked against an expected SHA-256 fingerprint (in place of
 * chain validation, as WebRTC does), no tickets, no session cache, no
 * renegotiation, MTU 1200, keys exported with EXTRACTOR-dtls_srtp. */
#include "raw_dtls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const char cipher_list[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                                  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

static const char exporter_label[] = "EXTRACTOR-dtls_srtp";

/* ---- libsrtp2 sessions as the bridge makes them ------------------------------- */

int raw_srtp_session(srtp_t *s, rtcsec_srtp_profile p, const uint8_t *key, const uint8_t *salt,
                     int outbound) {
  srtp_policy_t pol;
  uint8_t master[RTCSEC_SRTP_MAX_KEY_LEN + RTCSEC_SRTP_MAX_SALT_LEN];
  size_t kl = rtcsec_srtp_profile_key_len(p), sl = rtcsec_srtp_profile_salt_len(p);

  memset(&pol, 0, sizeof(pol));
  switch (p) {
  case RTCSEC_SRTP_AES128_CM_SHA1_80:
    srtp_crypto_policy_set_rtp_default(&pol.rtp);
    srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
    break;
  case RTCSEC_SRTP_AES128_CM_SHA1_32:
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
    srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
    break;
  case RTCSEC_SRTP_AEAD_AES_128_GCM:
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    break;
  case RTCSEC_SRTP_AEAD_AES_256_GCM:
    srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
    break;
  default:
    return -1;
  }
  memcpy(master, key, kl);
  memcpy(master + kl, salt, sl);
  pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  pol.key = master;
  pol.window_size = 1024;
  pol.allow_repeat_tx = 1;
  *s = NULL;
  srtp_err_status_t st = srtp_create(s, &pol);
  OPENSSL_cleanse(master, sizeof(master));
  return st == srtp_err_status_ok ? 0 : -1;
}

/* ---- contexts --------------------------------------------------------------------- */

/* Stands in for chain validation: the peer's leaf must have the expected
 * SHA-256 fingerprint (RFC 8122), like rtcsec's verify callback. */
static int verify_cb(X509_STORE_CTX *xctx, void *arg) {
  const rtcsec_fingerprint *want = arg;
  X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (leaf == NULL || !X509_digest(leaf, EVP_sha256(), md, &mdlen) || mdlen != want->len ||
      CRYPTO_memcmp(md, want->digest, mdlen) != 0) {
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(xctx, X509_V_OK);
  return 1;
}

static int load_pem(rtcsec_cert *c, X509 **x509, EVP_PKEY **key) {
  char *buf = NULL;
  size_t need = 0;
  int ok = 0;
  for (int part = 0; part < 2; part++) {
    rtcsec_pem_part which = part == 0 ? RTCSEC_PEM_CERT : RTCSEC_PEM_KEY;
    (void)rtcsec_cert_to_pem(c, which, NULL, 0, &need);
    buf = malloc(need + 1);
    if (buf == NULL || rtcsec_cert_to_pem(c, which, buf, need + 1, NULL) != RTCSEC_OK)
      break;
    BIO *b = BIO_new_mem_buf(buf, (int)need);
    if (part == 0)
      *x509 = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    else
      *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    OPENSSL_cleanse(buf, need);
    free(buf);
    buf = NULL;
    if ((part == 0 && *x509 == NULL) || (part == 1 && *key == NULL))
      break;
    ok = part == 1;
  }
  free(buf);
  return ok ? 0 : -1;
}

/* The profile list rtcsec offers by default: its order, less what this
 * libsrtp2 cannot do. */
static void srtp_list(char *out, size_t cap) {
  static const struct {
    rtcsec_srtp_profile p;
    const char *name;
  } all[] = {{RTCSEC_SRTP_AEAD_AES_128_GCM, "SRTP_AEAD_AES_128_GCM"},
             {RTCSEC_SRTP_AEAD_AES_256_GCM, "SRTP_AEAD_AES_256_GCM"},
             {RTCSEC_SRTP_AES128_CM_SHA1_80, "SRTP_AES128_CM_SHA1_80"},
             {RTCSEC_SRTP_AES128_CM_SHA1_32, "SRTP_AES128_CM_SHA1_32"}};
  out[0] = '\0';
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    if (!rtcsec_srtp_profile_supported(all[i].p))
      continue;
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s", l ? ":" : "", all[i].name);
  }
}

int raw_dtls_ctx_init(raw_dtls_ctx *r, rtcsec_cert *cert[2], const char *groups,
                      long max_send_fragment) {
  char profiles[160];
  memset(r, 0, sizeof(*r));
  srtp_list(profiles, sizeof(profiles));
  for (int i = 0; i < 2; i++) {
    if (load_pem(cert[i], &r->x509[i], &r->key[i]) != 0)
      goto err;
    if (rtcsec_cert_fingerprint(cert[1 - i], RTCSEC_HASH_SHA256, &r->expect[i]) != RTCSEC_OK)
      goto err;
  }
  for (int i = 0; i < 2; i++) {
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    r->ctx[i] = ctx;
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) ||
        !SSL_CTX_use_certificate(ctx, r->x509[i]) || !SSL_CTX_use_PrivateKey(ctx, r->key[i]) ||
        !SSL_CTX_set_cipher_list(ctx, cipher_list) || !SSL_CTX_set1_groups_list(ctx, groups) ||
        SSL_CTX_set_tlsext_use_srtp(ctx, profiles) != 0)
      goto err;
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (max_send_fragment != 0 && !SSL_CTX_set_max_send_fragment(ctx, max_send_fragment))
      goto err;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_cb, &r->expect[i]);
  }
  return 0;
err:
  fprintf(stderr, "rtcsec-bench: raw OpenSSL context setup failed\n");
  ERR_print_errors_fp(stderr);
  raw_dtls_ctx_free(r);
  return -1;
}

void raw_dtls_ctx_free(raw_dtls_ctx *r) {
  for (int i = 0; i < 2; i++) {
    SSL_CTX_free(r->ctx[i]);
    X509_free(r->x509[i]);
    EVP_PKEY_free(r->key[i]);
  }
  memset(r, 0, sizeof(*r));
}

/* ---- a handshake --------------------------------------------------------------------- */

/* Counts what OpenSSL writes: each BIO_write on a DTLS SSL's write BIO is
 * one datagram. */
static long count_cb(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                     size_t *processed) {
  (void)argp;
  (void)len;
  (void)argi;
  (void)argl;
  if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && processed != NULL) {
    raw_dtls_pair *p = (raw_dtls_pair *)BIO_get_callback_arg(b);
    p->datagrams++;
    p->bytes += *processed;
  }
  return ret;
}

static int transfer(SSL *from, SSL *to) {
  BIO *w = SSL_get_wbio(from), *r = SSL_get_rbio(to);
  char buf[4096];
  while (BIO_ctrl_pending(w) > 0) {
    int n = BIO_read(w, buf, sizeof(buf));
    if (n <= 0 || BIO_write(r, buf, n) != n)
      return -1;
  }
  return 0;
}

/* Exports endpoint i's SRTP keys (RFC 5764 §4.2) and, if asked, makes its
 * outbound and inbound libsrtp2 sessions from them. */
static int export_keys(raw_dtls_pair *p, int i, int with_srtp) {
  SSL *ssl = p->ssl[i];
  const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(ssl);
  if (sp == NULL)
    return -1;
  rtcsec_srtp_profile prof = (rtcsec_srtp_profile)sp->id;
  size_t k = rtcsec_srtp_profile_key_len(prof), s = rtcsec_srtp_profile_salt_len(prof);
  uint8_t m[RTCSEC_SRTP_MAX_MATERIAL_LEN];
  if (k == 0 || SSL_export_keying_material(ssl, m, 2 * (k + s), exporter_label,
                                           sizeof(exporter_label) - 1, NULL, 0, 0) != 1)
    return -1;
  int rc = 0;
  if (with_srtp) {
    /* client key | server key | client salt | server salt */
    const uint8_t *ck = m, *sk = m + k, *cs = m + 2 * k, *ss = m + 2 * k + s;
    int client = i == 0;
    rc = raw_srtp_session(&p->srtp_out[i], prof, client ? ck : sk, client ? cs : ss, 1) ||
         raw_srtp_session(&p->srtp_in[i], prof, client ? sk : ck, client ? ss : cs, 0);
  }
  OPENSSL_cleanse(m, sizeof(m));
  return rc ? -1 : 0;
}

int raw_dtls_connect(raw_dtls_ctx *r, raw_dtls_pair *p, int with_srtp) {
  memset(p, 0, sizeof(*p));
  for (int i = 0; i < 2; i++) {
    SSL *ssl = SSL_new(r->ctx[i]);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    p->ssl[i] = ssl;
    if (ssl == NULL || rb == NULL || wb == NULL) {
      BIO_free(rb);
      BIO_free(wb);
      goto err;
    }
    BIO_set_mem_eof_return(rb, -1);
    BIO_set_mem_eof_return(wb, -1);
    BIO_set_callback_ex(wb, count_cb);
    BIO_set_callback_arg(wb, (char *)p);
    SSL_set_bio(ssl, rb, wb);
    if (!SSL_set_mtu(ssl, 1200))
      goto err;
    if (i == 0)
      SSL_set_connect_state(ssl);
    else
      SSL_set_accept_state(ssl);
  }
  for (int round = 0; round < 32; round++) {
    for (int i = 0; i < 2; i++) {
      if (!SSL_is_init_finished(p->ssl[i])) {
        int rc = SSL_do_handshake(p->ssl[i]);
        int e = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(p->ssl[i], rc);
        if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
          goto err;
      }
      if (transfer(p->ssl[i], p->ssl[1 - i]) != 0)
        goto err;
    }
    if (SSL_is_init_finished(p->ssl[0]) && SSL_is_init_finished(p->ssl[1])) {
      for (int i = 0; i < 2; i++) {
        if (export_keys(p, i, with_srtp) != 0)
          goto err;
      }
      return 0;
    }
  }
err:
  ERR_clear_error();
  raw_dtls_pair_free(p);
  return -1;
}

int raw_dtls_media(raw_dtls_pair *p) {
  uint8_t buf[256];
  for (int i = 0; i < 2; i++) {
    if (p->srtp_out[i] == NULL || p->srtp_in[1 - i] == NULL)
      return -1;
    int len = (int)bench_make_rtp(buf, 0x1000u + (uint32_t)i, 1, 160);
    if (srtp_protect(p->srtp_out[i], buf, &len) != srtp_err_status_ok ||
        srtp_unprotect(p->srtp_in[1 - i], buf, &len) != srtp_err_status_ok)
      return -1;
  }
  return 0;
}

void raw_dtls_pair_free(raw_dtls_pair *p) {
  for (int i = 0; i < 2; i++) {
    SSL_free(p->ssl[i]); /* frees its BIOs */
    if (p->srtp_out[i] != NULL)
      srtp_dealloc(p->srtp_out[i]);
    if (p->srtp_in[i] != NULL)
      srtp_dealloc(p->srtp_in[i]);
    p->ssl[i] = NULL;
    p->srtp_out[i] = p->srtp_in[i] = NULL;
  }
}
