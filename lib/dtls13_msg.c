/* DTLS 1.3 handshake message bodies. See dtls13_msg.h. */
#include "dtls13_msg.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

#include "rtcsec/error.h"
#include "tls_codes.h"

const uint8_t rtcsec_d13_hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

/* ECDSA for the curves a certificate may use, RSA-PSS with rsaEncryption
 * keys; never PKCS#1 v1.5 or SHA-1 (RFC 8446 §4.4.3). */
const uint16_t rtcsec_d13_sig_schemes[] = {
    RTCSEC_SIG_ECDSA_SECP256R1_SHA256, RTCSEC_SIG_ECDSA_SECP384R1_SHA384,
    RTCSEC_SIG_ECDSA_SECP521R1_SHA512, RTCSEC_SIG_RSA_PSS_RSAE_SHA256,
    RTCSEC_SIG_RSA_PSS_RSAE_SHA384,    RTCSEC_SIG_RSA_PSS_RSAE_SHA512,
};
const size_t rtcsec_d13_n_sig_schemes =
    sizeof(rtcsec_d13_sig_schemes) / sizeof(rtcsec_d13_sig_schemes[0]);

static void write_ext_versions(rtcsec_wr *w, uint16_t version) {
  /* RFC 8446 §4.2.1: in a ServerHello, the selected version alone. */
  wr_u16(w, RTCSEC_EXT_SUPPORTED_VERSIONS);
  wr_u16(w, 2);
  wr_u16(w, version);
}

static void write_hello_start(rtcsec_wr *w, const uint8_t random[32], uint16_t suite) {
  wr_u16(w, (uint16_t)RTCSEC_DTLS12_VERSION); /* legacy_version (RFC 9147 §5.4) */
  wr_bytes(w, random, 32);
  wr_u8(w, 0); /* legacy_session_id_echo: not echoed in DTLS (RFC 9147 §5) */
  wr_u16(w, suite);
  wr_u8(w, 0); /* legacy_compression_method */
}

void rtcsec_d13_write_server_hello(rtcsec_wr *w, uint16_t version, const uint8_t random[32],
                                   uint16_t suite, uint16_t group, const uint8_t *share,
                                   size_t share_len) {
  write_hello_start(w, random, suite);
  size_t exts = wr_vec_open(w, 2);
  write_ext_versions(w, version);
  /* KeyShareServerHello: one KeyShareEntry. */
  wr_u16(w, RTCSEC_EXT_KEY_SHARE);
  size_t ks = wr_vec_open(w, 2);
  wr_u16(w, group);
  size_t kx = wr_vec_open(w, 2);
  wr_bytes(w, share, share_len);
  wr_vec_close(w, kx, 2);
  wr_vec_close(w, ks, 2);
  wr_vec_close(w, exts, 2);
}

void rtcsec_d13_write_hello_retry_request(rtcsec_wr *w, uint16_t version, uint16_t suite,
                                          uint16_t group, const uint8_t *cookie,
                                          size_t cookie_len) {
  write_hello_start(w, rtcsec_d13_hrr_random, suite);
  size_t exts = wr_vec_open(w, 2);
  write_ext_versions(w, version);
  /* KeyShareHelloRetryRequest: the selected group only; none when the
   * client's share was fine and only the cookie is asked for (RFC 8446
   * §4.1.4: a client aborts on a HelloRetryRequest that names a group it
   * already sent a share for). */
  if (group != 0) {
    wr_u16(w, RTCSEC_EXT_KEY_SHARE);
    wr_u16(w, 2);
    wr_u16(w, group);
  }
  wr_u16(w, RTCSEC_EXT_COOKIE);
  size_t ck = wr_vec_open(w, 2);
  size_t v = wr_vec_open(w, 2);
  wr_bytes(w, cookie, cookie_len);
  wr_vec_close(w, v, 2);
  wr_vec_close(w, ck, 2);
  wr_vec_close(w, exts, 2);
}

void rtcsec_d13_write_encrypted_extensions(rtcsec_wr *w, uint16_t srtp_profile) {
  size_t exts = wr_vec_open(w, 2);
  /* RFC 5764 §4.1.1 UseSRTPData: the one chosen profile and an empty MKI. */
  wr_u16(w, RTCSEC_EXT_USE_SRTP);
  wr_u16(w, 5);
  wr_u16(w, 2);
  wr_u16(w, srtp_profile);
  wr_u8(w, 0);
  wr_vec_close(w, exts, 2);
}

void rtcsec_d13_write_certificate_request(rtcsec_wr *w) {
  wr_u8(w, 0); /* certificate_request_context: empty in the handshake */
  size_t exts = wr_vec_open(w, 2);
  wr_u16(w, RTCSEC_EXT_SIGNATURE_ALGORITHMS);
  size_t e = wr_vec_open(w, 2);
  size_t list = wr_vec_open(w, 2);
  for (size_t i = 0; i < rtcsec_d13_n_sig_schemes; i++)
    wr_u16(w, rtcsec_d13_sig_schemes[i]);
  wr_vec_close(w, list, 2);
  wr_vec_close(w, e, 2);
  wr_vec_close(w, exts, 2);
}

void rtcsec_d13_write_certificate(rtcsec_wr *w, const uint8_t *context, size_t context_len,
                                  const uint8_t *der, size_t der_len) {
  size_t ctx = wr_vec_open(w, 1);
  wr_bytes(w, context, context_len);
  wr_vec_close(w, ctx, 1);
  size_t list = wr_vec_open(w, 3);
  if (der != NULL) {
    size_t cert = wr_vec_open(w, 3);
    wr_bytes(w, der, der_len);
    wr_vec_close(w, cert, 3);
    wr_u16(w, 0); /* extensions */
  }
  wr_vec_close(w, list, 3);
}

/* The EC curve of a key, as a signature scheme's curve: 256, 384, 521 or 0. */
static int ec_bits(EVP_PKEY *key) {
  char name[64];
  size_t n = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, name, sizeof(name), &n) != 1)
    return 0;
  if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0)
    return 256;
  if (strcmp(name, "secp384r1") == 0 || strcmp(name, "P-384") == 0)
    return 384;
  if (strcmp(name, "secp521r1") == 0 || strcmp(name, "P-521") == 0)
    return 521;
  return 0;
}

/* The digest of a scheme, and whether `key` can make or check it. */
static const EVP_MD *scheme_md(uint16_t scheme, EVP_PKEY *key, int *rsa_pss) {
  *rsa_pss = 0;
  switch (scheme) {
  case RTCSEC_SIG_ECDSA_SECP256R1_SHA256:
    return ec_bits(key) == 256 ? EVP_sha256() : NULL;
  case RTCSEC_SIG_ECDSA_SECP384R1_SHA384:
    return ec_bits(key) == 384 ? EVP_sha384() : NULL;
  case RTCSEC_SIG_ECDSA_SECP521R1_SHA512:
    return ec_bits(key) == 521 ? EVP_sha512() : NULL;
  case RTCSEC_SIG_RSA_PSS_RSAE_SHA256:
  case RTCSEC_SIG_RSA_PSS_RSAE_SHA384:
  case RTCSEC_SIG_RSA_PSS_RSAE_SHA512:
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
      return NULL;
    *rsa_pss = 1;
    return scheme == RTCSEC_SIG_RSA_PSS_RSAE_SHA256   ? EVP_sha256()
           : scheme == RTCSEC_SIG_RSA_PSS_RSAE_SHA384 ? EVP_sha384()
                                                      : EVP_sha512();
  default:
    return NULL;
  }
}

uint16_t rtcsec_d13_pick_sig_scheme(EVP_PKEY *key, rtcsec_u16_list peer) {
  for (size_t i = 0; i < rtcsec_d13_n_sig_schemes; i++) {
    int pss;
    uint16_t s = rtcsec_d13_sig_schemes[i];
    if (scheme_md(s, key, &pss) != NULL && rtcsec_u16_list_has(peer, s))
      return s;
  }
  return 0;
}

/* RFC 8446 §4.4.3: the content covered by the signature. */
static size_t cv_content(uint8_t *out, int server, const uint8_t *hash, size_t hlen) {
  static const char sctx[] = "TLS 1.3, server CertificateVerify";
  static const char cctx[] = "TLS 1.3, client CertificateVerify";
  const char *ctx = server ? sctx : cctx;
  size_t clen = sizeof(sctx) - 1;
  memset(out, 0x20, 64);
  memcpy(out + 64, ctx, clen);
  out[64 + clen] = 0;
  memcpy(out + 65 + clen, hash, hlen);
  return 65 + clen + hlen;
}

#define CV_CONTENT_MAX (64 + 34 + 1 + 64)

static int setup_pss(EVP_PKEY_CTX *pctx, int pss) {
  /* RSASSA-PSS with MGF1 of the same digest and a salt as long as the
   * digest (RFC 8446 §4.2.3). */
  return !pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
}

int rtcsec_d13_write_certificate_verify(rtcsec_wr *w, EVP_PKEY *key, uint16_t scheme, int server,
                                        const uint8_t *hash, size_t hlen) {
  uint8_t content[CV_CONTENT_MAX];
  int pss;
  const EVP_MD *md = scheme_md(scheme, key, &pss);
  if (md == NULL || hlen > 64)
    return RTCSEC_ERR_CRYPTO;
  size_t clen = cv_content(content, server, hash, hlen);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  size_t sig_len = 0;
  int ok = ctx != NULL && EVP_DigestSignInit(ctx, &pctx, md, NULL, key) == 1 &&
           setup_pss(pctx, pss) && EVP_DigestSign(ctx, NULL, &sig_len, content, clen) == 1;
  wr_u16(w, scheme);
  size_t at = wr_vec_open(w, 2);
  uint8_t *sig = ok ? wr_reserve(w, sig_len) : NULL;
  ok = ok && sig != NULL && EVP_DigestSign(ctx, sig, &sig_len, content, clen) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) {
    w->ok = 0;
    return RTCSEC_ERR_CRYPTO;
  }
  /* ECDSA signatures vary in length: give back what was not used. */
  w->off = at + 2 + sig_len;
  wr_vec_close(w, at, 2);
  return RTCSEC_OK;
}

int rtcsec_d13_check_certificate_verify(EVP_PKEY *signer, const uint8_t *body, size_t len,
                                        int server, const uint8_t *hash, size_t hlen,
                                        const uint16_t *allowed, size_t n_allowed, int *alert) {
  rtcsec_rd r, sig;
  uint16_t scheme = 0;
  rd_init(&r, body, len);
  rd_u16(&r, &scheme);
  rd_vec(&r, 2, &sig);
  if (!rd_done(&r) || rd_left(&sig) == 0 || hlen > 64) {
    *alert = RTCSEC_ALERT_DECODE_ERROR;
    return RTCSEC_ERR_HANDSHAKE;
  }
  int offered = 0;
  for (size_t i = 0; i < n_allowed; i++)
    offered |= allowed[i] == scheme;
  int pss;
  const EVP_MD *md = scheme_md(scheme, signer, &pss);
  /* RFC 8446 §4.4.3: the scheme must be one that was offered and fit the
   * certificate's key. */
  if (!offered || md == NULL) {
    *alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    return RTCSEC_ERR_HANDSHAKE;
  }
  uint8_t content[CV_CONTENT_MAX];
  size_t clen = cv_content(content, server, hash, hlen);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, &pctx, md, NULL, signer) == 1 &&
           setup_pss(pctx, pss) && EVP_DigestVerify(ctx, sig.p, rd_left(&sig), content, clen) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) {
    *alert = RTCSEC_ALERT_DECRYPT_ERROR;
    return RTCSEC_ERR_HANDSHAKE;
  }
  return RTCSEC_OK;
}

int rtcsec_d13_read_certificate(const uint8_t *body, size_t len, const uint8_t *context,
                                size_t context_len, X509 **leaf, int *alert) {
  rtcsec_rd r, ctx, list;
  *leaf = NULL;
  rd_init(&r, body, len);
  rd_vec(&r, 1, &ctx);
  rd_vec(&r, 3, &list);
  if (!rd_done(&r)) {
    *alert = RTCSEC_ALERT_DECODE_ERROR;
    return RTCSEC_ERR_HANDSHAKE;
  }
  if (rd_left(&ctx) != context_len ||
      (context_len > 0 && CRYPTO_memcmp(ctx.p, context, context_len) != 0)) {
    *alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    return RTCSEC_ERR_HANDSHAKE;
  }
  const uint8_t *leaf_der = NULL;
  size_t leaf_len = 0;
  while (rd_left(&list) > 0) {
    rtcsec_rd cert, exts;
    /* CertificateEntry: opaque cert_data<1..2^24-1>; Extension
     * extensions<0..2^16-1>. */
    if (!rd_vec(&list, 3, &cert) || rd_left(&cert) == 0 || !rd_vec(&list, 2, &exts)) {
      *alert = RTCSEC_ALERT_DECODE_ERROR;
      return RTCSEC_ERR_HANDSHAKE;
    }
    if (rd_left(&exts) > 0) {
      *alert = RTCSEC_ALERT_UNSUPPORTED_EXTENSION;
      return RTCSEC_ERR_HANDSHAKE;
    }
    if (leaf_der == NULL) {
      leaf_der = cert.p;
      leaf_len = rd_left(&cert);
    }
  }
  if (leaf_der == NULL)
    return RTCSEC_OK;
  const unsigned char *p = leaf_der;
  X509 *x = d2i_X509(NULL, &p, (long)leaf_len);
  ERR_clear_error();
  if (x == NULL || p != leaf_der + leaf_len) {
    X509_free(x);
    *alert = RTCSEC_ALERT_BAD_CERTIFICATE;
    return RTCSEC_ERR_HANDSHAKE;
  }
  *leaf = x;
  return RTCSEC_OK;
}

int rtcsec_d13_finished_equal(const uint8_t *body, size_t len, const uint8_t *expected,
                              size_t hlen) {
  return len == hlen && CRYPTO_memcmp(body, expected, hlen) == 0;
}
