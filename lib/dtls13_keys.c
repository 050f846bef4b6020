/* TLS 1.3 key schedule with a label prefix parameter. See dtls13_keys.h. */
#include "dtls13_keys.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <string.h>

#include "rtcsec/error.h"
#include "tls_codes.h"
#include "wire.h"

/* The longest HkdfLabel: uint16 length, label<7..255>, context<0..255>. */
#define HKDF_LABEL_MAX (2 + 1 + 255 + 1 + 255)

static int hmac(const EVP_MD *md, const uint8_t *key, size_t key_len, const uint8_t *data,
                size_t len, uint8_t *out) {
  unsigned int out_len = 0;
  if (key_len > INT32_MAX || HMAC(md, key, (int)key_len, data, len, out, &out_len) == NULL ||
      out_len != (unsigned int)EVP_MD_get_size(md))
    return RTCSEC_ERR_CRYPTO;
  return RTCSEC_OK;
}

int rtcsec_hkdf_extract(const EVP_MD *md, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                        size_t ikm_len, uint8_t *prk) {
  static const uint8_t zeros[RTCSEC_D13_MAX_HASH] = {0};
  size_t hlen = (size_t)EVP_MD_get_size(md);
  if (hlen == 0 || hlen > RTCSEC_D13_MAX_HASH)
    return RTCSEC_ERR_CRYPTO;
  if (salt == NULL) {
    salt = zeros;
    salt_len = hlen;
  }
  return hmac(md, salt, salt_len, ikm, ikm_len, prk);
}

/* RFC 5869 §2.3 HKDF-Expand: T(i) = HMAC(PRK, T(i-1) | info | i). */
static int hkdf_expand(const EVP_MD *md, const uint8_t *prk, size_t hlen, const uint8_t *info,
                       size_t info_len, uint8_t *out, size_t out_len) {
  uint8_t block[RTCSEC_D13_MAX_HASH + HKDF_LABEL_MAX + 1];
  uint8_t t[RTCSEC_D13_MAX_HASH];
  if (info_len > HKDF_LABEL_MAX || out_len > 255 * hlen)
    return RTCSEC_ERR_CRYPTO;
  size_t done = 0, prev = 0;
  int rc = RTCSEC_OK;
  for (uint8_t i = 1; done < out_len; i++) {
    memcpy(block, t, prev);
    memcpy(block + prev, info, info_len);
    block[prev + info_len] = i;
    rc = hmac(md, prk, hlen, block, prev + info_len + 1, t);
    if (rc != RTCSEC_OK)
      break;
    size_t n = out_len - done < hlen ? out_len - done : hlen;
    memcpy(out + done, t, n);
    done += n;
    prev = hlen;
  }
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(t, sizeof(t));
  return rc;
}

int rtcsec_hkdf_expand_label(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                             const char *label, const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                             size_t out_len) {
  size_t hlen = (size_t)EVP_MD_get_size(md);
  size_t plen = strlen(prefix), llen = strlen(label);
  uint8_t info[HKDF_LABEL_MAX];
  rtcsec_wr w;
  wr_init(&w, info, sizeof(info));
  /* struct { uint16 length; opaque label<7..255> = prefix + Label;
   *          opaque context<0..255>; } HkdfLabel; */
  if (hlen == 0 || hlen > RTCSEC_D13_MAX_HASH || out_len > 0xffff || plen + llen > 255 ||
      ctx_len > 255)
    return RTCSEC_ERR_CRYPTO;
  wr_u16(&w, (uint16_t)out_len);
  wr_u8(&w, (uint8_t)(plen + llen));
  wr_bytes(&w, prefix, plen);
  wr_bytes(&w, label, llen);
  wr_u8(&w, (uint8_t)ctx_len);
  wr_bytes(&w, ctx, ctx_len);
  if (!w.ok)
    return RTCSEC_ERR_CRYPTO;
  return hkdf_expand(md, secret, hlen, info, w.off, out, out_len);
}

int rtcsec_derive_secret(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                         const char *label, const uint8_t *transcript_hash, uint8_t *out) {
  size_t hlen = (size_t)EVP_MD_get_size(md);
  return rtcsec_hkdf_expand_label(md, prefix, secret, label, transcript_hash, hlen, out, hlen);
}

/* Hash("") for Derive-Secret(., "derived", "") and the exporter. */
static int empty_hash(const EVP_MD *md, uint8_t *out) {
  unsigned int n = 0;
  return EVP_Digest("", 0, out, &n, md, NULL) == 1 ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

int rtcsec_ks_init(rtcsec_key_schedule *ks, const EVP_MD *md, const char *prefix) {
  static const uint8_t zeros[RTCSEC_D13_MAX_HASH] = {0};
  memset(ks, 0, sizeof(*ks));
  ks->md = md;
  ks->hlen = (size_t)EVP_MD_get_size(md);
  ks->prefix = prefix;
  if (ks->hlen == 0 || ks->hlen > RTCSEC_D13_MAX_HASH)
    return RTCSEC_ERR_CRYPTO;
  /* Early Secret = HKDF-Extract(salt = 0, IKM = PSK or zeros). */
  return rtcsec_hkdf_extract(md, NULL, 0, zeros, ks->hlen, ks->secret);
}

/* secret = HKDF-Extract(Derive-Secret(secret, "derived", ""), ikm) */
static int ks_next(rtcsec_key_schedule *ks, const uint8_t *ikm, size_t ikm_len) {
  uint8_t h[RTCSEC_D13_MAX_HASH], salt[RTCSEC_D13_MAX_HASH];
  int rc = empty_hash(ks->md, h);
  if (rc == RTCSEC_OK)
    rc = rtcsec_derive_secret(ks->md, ks->prefix, ks->secret, "derived", h, salt);
  if (rc == RTCSEC_OK)
    rc = rtcsec_hkdf_extract(ks->md, salt, ks->hlen, ikm, ikm_len, ks->secret);
  OPENSSL_cleanse(salt, sizeof(salt));
  return rc;
}

int rtcsec_ks_handshake(rtcsec_key_schedule *ks, const uint8_t *ecdhe, size_t len) {
  return ks_next(ks, ecdhe, len);
}

int rtcsec_ks_master(rtcsec_key_schedule *ks) {
  static const uint8_t zeros[RTCSEC_D13_MAX_HASH] = {0};
  return ks_next(ks, zeros, ks->hlen);
}

int rtcsec_ks_derive(const rtcsec_key_schedule *ks, const char *label,
                     const uint8_t *transcript_hash, uint8_t *out) {
  return rtcsec_derive_secret(ks->md, ks->prefix, ks->secret, label, transcript_hash, out);
}

void rtcsec_ks_wipe(rtcsec_key_schedule *ks) { OPENSSL_cleanse(ks->secret, sizeof(ks->secret)); }

int rtcsec_finished_mac(const EVP_MD *md, const char *prefix, const uint8_t *base_key,
                        const uint8_t *transcript_hash, uint8_t *out) {
  size_t hlen = (size_t)EVP_MD_get_size(md);
  uint8_t fk[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_hkdf_expand_label(md, prefix, base_key, "finished", NULL, 0, fk, hlen);
  if (rc == RTCSEC_OK)
    rc = hmac(md, fk, hlen, transcript_hash, hlen, out);
  OPENSSL_cleanse(fk, sizeof(fk));
  return rc;
}

int rtcsec_traffic_keys(const EVP_MD *md, const char *prefix, const uint8_t *secret, size_t key_len,
                        uint8_t *key, uint8_t *iv, uint8_t *sn_key) {
  int rc = rtcsec_hkdf_expand_label(md, prefix, secret, "key", NULL, 0, key, key_len);
  if (rc == RTCSEC_OK)
    rc = rtcsec_hkdf_expand_label(md, prefix, secret, "iv", NULL, 0, iv, RTCSEC_D13_IV_LEN);
  if (rc == RTCSEC_OK && sn_key != NULL)
    rc = rtcsec_hkdf_expand_label(md, prefix, secret, "sn", NULL, 0, sn_key, key_len);
  return rc;
}

int rtcsec_traffic_update(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                          uint8_t *out) {
  size_t hlen = (size_t)EVP_MD_get_size(md);
  return rtcsec_hkdf_expand_label(md, prefix, secret, "traffic upd", NULL, 0, out, hlen);
}

int rtcsec_exporter(const EVP_MD *md, const char *prefix, const uint8_t *exporter_master,
                    const char *label, const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                    size_t out_len) {
  uint8_t h[RTCSEC_D13_MAX_HASH], hctx[RTCSEC_D13_MAX_HASH], s[RTCSEC_D13_MAX_HASH];
  unsigned int n = 0;
  size_t hlen = (size_t)EVP_MD_get_size(md);
  int rc = empty_hash(md, h);
  if (rc == RTCSEC_OK && EVP_Digest(ctx != NULL ? ctx : (const uint8_t *)"",
                                    ctx != NULL ? ctx_len : 0, hctx, &n, md, NULL) != 1)
    rc = RTCSEC_ERR_CRYPTO;
  if (rc == RTCSEC_OK)
    rc = rtcsec_derive_secret(md, prefix, exporter_master, label, h, s);
  if (rc == RTCSEC_OK)
    rc = rtcsec_hkdf_expand_label(md, prefix, s, "exporter", hctx, hlen, out, out_len);
  OPENSSL_cleanse(s, sizeof(s));
  return rc;
}

/* ---- transcript ---------------------------------------------------------------- */

int rtcsec_transcript_init(rtcsec_transcript *t, const EVP_MD *md) {
  t->md = md;
  t->hlen = (size_t)EVP_MD_get_size(md);
  t->ctx = EVP_MD_CTX_new();
  if (t->ctx == NULL || EVP_DigestInit_ex(t->ctx, md, NULL) != 1) {
    rtcsec_transcript_free(t);
    return RTCSEC_ERR_CRYPTO;
  }
  return RTCSEC_OK;
}

void rtcsec_transcript_free(rtcsec_transcript *t) {
  EVP_MD_CTX_free(t->ctx);
  t->ctx = NULL;
}

int rtcsec_transcript_add(rtcsec_transcript *t, uint8_t type, const uint8_t *body, size_t len) {
  uint8_t hdr[4] = {type};
  if (len > 0xffffff)
    return RTCSEC_ERR_CRYPTO;
  put_uint(hdr + 1, 3, len);
  if (EVP_DigestUpdate(t->ctx, hdr, 4) != 1 ||
      (len > 0 && EVP_DigestUpdate(t->ctx, body, len) != 1))
    return RTCSEC_ERR_CRYPTO;
  return RTCSEC_OK;
}

int rtcsec_transcript_hash(const rtcsec_transcript *t, uint8_t *out) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned int n = 0;
  int ok = c != NULL && EVP_MD_CTX_copy_ex(c, t->ctx) == 1 && EVP_DigestFinal_ex(c, out, &n) == 1;
  EVP_MD_CTX_free(c);
  return ok ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

int rtcsec_transcript_to_message_hash(rtcsec_transcript *t) {
  uint8_t h[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_transcript_hash(t, h);
  if (rc != RTCSEC_OK)
    return rc;
  if (EVP_DigestInit_ex(t->ctx, t->md, NULL) != 1)
    return RTCSEC_ERR_CRYPTO;
  return rtcsec_transcript_add(t, RTCSEC_HS_MESSAGE_HASH, h, t->hlen);
}
