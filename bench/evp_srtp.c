/* SRTP with direct EVP calls: the floor the per-packet figures compare
 * libsrtp2 with. See evp_srtp.h. */
#include "evp_srtp.h"

#include "raw_dtls.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>

#define E_FLAG 0x80000000u

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static size_t key_len(rtcsec_srtp_profile p) { return p == RTCSEC_SRTP_AEAD_AES_256_GCM ? 32 : 16; }

/* RFC 3711 §4.3.1 with kdr 0: AES-CM keyed with the master key, counter
 * = (master salt, left-aligned in 14 octets) XOR (label at octet 7), over
 * zeros. RFC 7714 §11 uses the same KDF with the 12-octet salt. */
static int kdf(rtcsec_srtp_profile p, const uint8_t *mkey, const uint8_t *msalt, size_t salt_len,
               uint8_t label, uint8_t *out, size_t n) {
  uint8_t iv[16] = {0}, zeros[32] = {0};
  int l = 0, ok;
  memcpy(iv, msalt, salt_len);
  iv[7] ^= label;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c == NULL)
    return -1;
  ok = EVP_EncryptInit_ex(c, key_len(p) == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), NULL, mkey,
                          iv) &&
       EVP_EncryptUpdate(c, out, &l, zeros, (int)n);
  EVP_CIPHER_CTX_free(c);
  return ok ? 0 : -1;
}

static EVP_MAC_CTX *hmac_new(const uint8_t *key) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MAC_free(mac); /* the context keeps its own reference */
  if (ctx == NULL)
    return NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                         OSSL_PARAM_construct_end()};
  if (!EVP_MAC_init(ctx, key, 20, params)) {
    EVP_MAC_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static int derive(evp_srtp *e, int rtcp, const uint8_t *mkey, const uint8_t *msalt) {
  evp_srtp_keys *k = rtcp ? &e->rtcp : &e->rtp;
  uint8_t base = rtcp ? 3 : 0;
  size_t salt_len = e->aead ? 12 : 14;
  size_t klen = key_len(e->profile);
  if (kdf(e->profile, mkey, msalt, salt_len, base, k->enc, klen) != 0 ||
      kdf(e->profile, mkey, msalt, salt_len, base + 2, k->salt, salt_len) != 0)
    return -1;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c == NULL)
    return -1;
  const EVP_CIPHER *ci =
      e->aead ? (klen == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm()) : EVP_aes_128_ctr();
  if (!EVP_CipherInit_ex(c, ci, NULL, k->enc, NULL, 1)) {
    EVP_CIPHER_CTX_free(c);
    return -1;
  }
  if (rtcp)
    e->rtcp_cipher = c;
  else
    e->rtp_cipher = c;
  if (!e->aead) {
    if (kdf(e->profile, mkey, msalt, salt_len, base + 1, k->auth, 20) != 0)
      return -1;
    EVP_MAC_CTX *m = hmac_new(k->auth);
    if (m == NULL)
      return -1;
    if (rtcp)
      e->rtcp_mac = m;
    else
      e->rtp_mac = m;
  }
  return 0;
}

int evp_srtp_init(evp_srtp *e, rtcsec_srtp_profile p, const uint8_t *master_key,
                  const uint8_t *master_salt) {
  memset(e, 0, sizeof(*e));
  e->profile = p;
  switch (p) {
  case RTCSEC_SRTP_AES128_CM_SHA1_80:
    e->rtp_tag_len = 10;
    break;
  case RTCSEC_SRTP_AES128_CM_SHA1_32:
    e->rtp_tag_len = 4;
    break;
  case RTCSEC_SRTP_AEAD_AES_128_GCM:
  case RTCSEC_SRTP_AEAD_AES_256_GCM:
    e->aead = 1;
    e->rtp_tag_len = 16;
    break;
  default:
    return -1;
  }
  /* RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag with the _32 profile. */
  e->rtcp_tag_len = e->aead ? 16 : 10;
  if (derive(e, 0, master_key, master_salt) != 0 || derive(e, 1, master_key, master_salt) != 0) {
    evp_srtp_free(e);
    return -1;
  }
  return 0;
}

void evp_srtp_free(evp_srtp *e) {
  EVP_CIPHER_CTX_free(e->rtp_cipher);
  EVP_CIPHER_CTX_free(e->rtcp_cipher);
  EVP_MAC_CTX_free(e->rtp_mac);
  EVP_MAC_CTX_free(e->rtcp_mac);
  OPENSSL_cleanse(e, sizeof(*e));
}

/* ---- the two transforms ------------------------------------------------------- */

/* AES-CM IV (RFC 3711 §4.1.1): (salt << 16) XOR (SSRC << 64) XOR (index << 16). */
static void cm_iv(uint8_t iv[16], const uint8_t salt[14], const uint8_t ssrc[4], uint64_t index) {
  memcpy(iv, salt, 14);
  iv[14] = iv[15] = 0;
  for (int i = 0; i < 4; i++)
    iv[4 + i] ^= ssrc[i];
  for (int i = 0; i < 6; i++)
    iv[8 + i] ^= (uint8_t)(index >> (8 * (5 - i)));
}

static int ctr_crypt(EVP_CIPHER_CTX *c, const uint8_t iv[16], uint8_t *p, size_t n) {
  int l = 0;
  return EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) && EVP_EncryptUpdate(c, p, &l, p, (int)n) ? 0
                                                                                               : -1;
}

/* HMAC-SHA1 over a || b, reusing the context's key. */
static int hmac2(EVP_MAC_CTX *m, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                 uint8_t out[20]) {
  size_t ol = 0;
  return EVP_MAC_init(m, NULL, 0, NULL) && EVP_MAC_update(m, a, alen) &&
                 EVP_MAC_update(m, b, blen) && EVP_MAC_final(m, out, &ol, 20)
             ? 0
             : -1;
}

/* GCM in place: IV, AAD (two pieces), payload, tag. */
static int gcm_seal(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad1, size_t aad1_len,
                    const uint8_t *aad2, size_t aad2_len, uint8_t *p, size_t n, uint8_t tag[16]) {
  int l = 0;
  return EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) &&
                 EVP_EncryptUpdate(c, NULL, &l, aad1, (int)aad1_len) &&
                 (aad2_len == 0 || EVP_EncryptUpdate(c, NULL, &l, aad2, (int)aad2_len)) &&
                 EVP_EncryptUpdate(c, p, &l, p, (int)n) && EVP_EncryptFinal_ex(c, p + n, &l) &&
                 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag)
             ? 0
             : -1;
}

static int gcm_open(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad1, size_t aad1_len,
                    const uint8_t *aad2, size_t aad2_len, uint8_t *p, size_t n,
                    const uint8_t tag[16]) {
  int l = 0;
  uint8_t t[16];
  memcpy(t, tag, 16);
  /* Decrypting with an encrypt-initialised GCM context: switch direction
   * for this call only (enc = 0), key schedule kept. */
  return EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, 0) &&
                 EVP_CipherUpdate(c, NULL, &l, aad1, (int)aad1_len) &&
                 (aad2_len == 0 || EVP_CipherUpdate(c, NULL, &l, aad2, (int)aad2_len)) &&
                 EVP_CipherUpdate(c, p, &l, p, (int)n) &&
                 EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, t) &&
                 EVP_CipherFinal_ex(c, p + n, &l) > 0
             ? 0
             : -1;
}

/* ---- RTP -------------------------------------------------------------------------- */

static size_t rtp_header_len(const uint8_t *buf, size_t len) {
  if (len < 12)
    return 0;
  size_t h = 12 + 4 * (size_t)(buf[0] & 0x0f);
  if ((buf[0] & 0x10) && len >= h + 4)
    h += 4 + 4 * (size_t)((buf[h + 2] << 8) | buf[h + 3]);
  return h <= len ? h : 0;
}

/* 48-bit index from the sequence number, the ROC bumped on wrap (the
 * benchmark sends in order). */
static uint64_t next_index(evp_srtp *e, uint16_t seq) {
  if (e->have_seq && seq < e->last_seq && e->last_seq - seq > 0x8000)
    e->roc++;
  e->last_seq = seq;
  e->have_seq = 1;
  return ((uint64_t)e->roc << 16) | seq;
}

int evp_srtp_protect_rtp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len) {
  size_t h = rtp_header_len(buf, len);
  if (h == 0)
    return -1;
  uint64_t index = next_index(e, (uint16_t)(buf[2] << 8 | buf[3]));
  uint8_t roc[4];
  put32(roc, (uint32_t)(index >> 16));
  if (e->aead) {
    /* RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt. */
    uint8_t iv[12] = {0};
    memcpy(iv + 2, buf + 8, 4);
    memcpy(iv + 6, roc, 4);
    iv[10] = buf[2];
    iv[11] = buf[3];
    for (int i = 0; i < 12; i++)
      iv[i] ^= e->rtp.salt[i];
    if (gcm_seal(e->rtp_cipher, iv, buf, h, NULL, 0, buf + h, len - h, buf + len) != 0)
      return -1;
  } else {
    uint8_t iv[16], tag[20];
    cm_iv(iv, e->rtp.salt, buf + 8, index);
    if (ctr_crypt(e->rtp_cipher, iv, buf + h, len - h) != 0 ||
        hmac2(e->rtp_mac, buf, len, roc, 4, tag) != 0)
      return -1;
    memcpy(buf + len, tag, e->rtp_tag_len);
  }
  *out_len = len + e->rtp_tag_len;
  return 0;
}

int evp_srtp_unprotect_rtp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len) {
  if (len < 12 + e->rtp_tag_len)
    return -1;
  size_t n = len - e->rtp_tag_len;
  size_t h = rtp_header_len(buf, n);
  if (h == 0)
    return -1;
  uint64_t index = next_index(e, (uint16_t)(buf[2] << 8 | buf[3]));
  uint8_t roc[4];
  put32(roc, (uint32_t)(index >> 16));
  if (e->aead) {
    uint8_t iv[12] = {0};
    memcpy(iv + 2, buf + 8, 4);
    memcpy(iv + 6, roc, 4);
    iv[10] = buf[2];
    iv[11] = buf[3];
    for (int i = 0; i < 12; i++)
      iv[i] ^= e->rtp.salt[i];
    if (gcm_open(e->rtp_cipher, iv, buf, h, NULL, 0, buf + h, n - h, buf + n) != 0)
      return -1;
  } else {
    uint8_t iv[16], tag[20];
    if (hmac2(e->rtp_mac, buf, n, roc, 4, tag) != 0 ||
        CRYPTO_memcmp(tag, buf + n, e->rtp_tag_len) != 0)
      return -1;
    cm_iv(iv, e->rtp.salt, buf + 8, index);
    if (ctr_crypt(e->rtp_cipher, iv, buf + h, n - h) != 0)
      return -1;
  }
  *out_len = n;
  return 0;
}

/* ---- RTCP ----------------------------------------------------------------------------- */

int evp_srtp_protect_rtcp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len) {
  if (len < 8)
    return -1;
  uint32_t index = ++e->rtcp_index & 0x7fffffffu;
  uint8_t eidx[4];
  put32(eidx, E_FLAG | index);
  if (e->aead) {
    /* RFC 7714 §9.1: IV = (00 00 || SSRC || 00 00 || 0 || index) XOR salt;
     * AAD = first 8 octets || E+index; packet = hdr || ct || tag || E+index. */
    uint8_t iv[12] = {0};
    memcpy(iv + 2, buf + 4, 4);
    put32(iv + 8, index);
    for (int i = 0; i < 12; i++)
      iv[i] ^= e->rtcp.salt[i];
    if (gcm_seal(e->rtcp_cipher, iv, buf, 8, eidx, 4, buf + 8, len - 8, buf + len) != 0)
      return -1;
    memcpy(buf + len + 16, eidx, 4);
    *out_len = len + 20;
  } else {
    /* RFC 3711 §3.4: hdr || ct || E+index || tag; tag over all before it. */
    uint8_t iv[16], tag[20];
    cm_iv(iv, e->rtcp.salt, buf + 4, index);
    if (ctr_crypt(e->rtcp_cipher, iv, buf + 8, len - 8) != 0)
      return -1;
    memcpy(buf + len, eidx, 4);
    if (hmac2(e->rtcp_mac, buf, len + 4, NULL, 0, tag) != 0)
      return -1;
    memcpy(buf + len + 4, tag, e->rtcp_tag_len);
    *out_len = len + 4 + e->rtcp_tag_len;
  }
  return 0;
}

int evp_srtp_unprotect_rtcp(evp_srtp *e, uint8_t *buf, size_t len, size_t *out_len) {
  size_t trailer = 4 + e->rtcp_tag_len;
  if (len < 8 + trailer)
    return -1;
  size_t n = len - trailer;
  if (e->aead) {
    const uint8_t *eidx = buf + len - 4;
    uint32_t index = get32(eidx) & 0x7fffffffu;
    uint8_t iv[12] = {0};
    memcpy(iv + 2, buf + 4, 4);
    put32(iv + 8, index);
    for (int i = 0; i < 12; i++)
      iv[i] ^= e->rtcp.salt[i];
    if (gcm_open(e->rtcp_cipher, iv, buf, 8, eidx, 4, buf + 8, n - 8, buf + n) != 0)
      return -1;
  } else {
    uint8_t iv[16], tag[20];
    uint32_t index = get32(buf + n) & 0x7fffffffu;
    if (hmac2(e->rtcp_mac, buf, n + 4, NULL, 0, tag) != 0 ||
        CRYPTO_memcmp(tag, buf + n + 4, e->rtcp_tag_len) != 0)
      return -1;
    cm_iv(iv, e->rtcp.salt, buf + 4, index);
    if (ctr_crypt(e->rtcp_cipher, iv, buf + 8, n - 8) != 0)
      return -1;
  }
  *out_len = n;
  return 0;
}

/* ---- self-test against libsrtp2 -------------------------------------------------------- */

int evp_srtp_selftest(rtcsec_srtp_profile p) {
  uint8_t master[46];
  size_t kl = key_len(p);
  for (size_t i = 0; i < sizeof(master); i++)
    master[i] = (uint8_t)(i * 37 + 11);
  srtp_t s = NULL;
  if (raw_srtp_session(&s, p, master, master + kl, 1) != 0)
    return -1;
  evp_srtp e, r;
  if (evp_srtp_init(&e, p, master, master + kl) != 0) {
    srtp_dealloc(s);
    return -1;
  }
  if (evp_srtp_init(&r, p, master, master + kl) != 0) {
    evp_srtp_free(&e);
    srtp_dealloc(s);
    return -1;
  }
  int bad = 0;
  uint8_t a[1300], b[1300];
  /* Several RTP packets, crossing a sequence number wrap (ROC 0 -> 1). */
  for (int i = 0; i < 4 && !bad; i++) {
    uint16_t seq = (uint16_t)(0xfffe + i);
    size_t len = 12 + 200;
    memset(a, 0, sizeof(a));
    a[0] = 0x80;
    a[1] = 96;
    a[2] = (uint8_t)(seq >> 8);
    a[3] = (uint8_t)seq;
    put32(a + 4, 1234 + (uint32_t)i);
    put32(a + 8, 0x11223344);
    for (size_t j = 12; j < len; j++)
      a[j] = (uint8_t)j;
    memcpy(b, a, len);
    int il = (int)len;
    size_t ol = 0, pl = 0;
    bad = srtp_protect(s, a, &il) != srtp_err_status_ok ||
          evp_srtp_protect_rtp(&e, b, len, &ol) != 0 || (size_t)il != ol || memcmp(a, b, ol) != 0 ||
          evp_srtp_unprotect_rtp(&r, b, ol, &pl) != 0 || pl != len;
  }
  /* Two RTCP packets: the SRTCP index libsrtp2 chose is taken from its
   * output, then the bytes must match. */
  for (int i = 0; i < 2 && !bad; i++) {
    size_t len = 8 + 100;
    memset(a, 0, sizeof(a));
    a[0] = 0x80;
    a[1] = 200;
    a[3] = (uint8_t)(len / 4 - 1);
    put32(a + 4, 0x11223344);
    for (size_t j = 8; j < len; j++)
      a[j] = (uint8_t)(j * 3);
    memcpy(b, a, len);
    int il = (int)len;
    size_t ol = 0, pl = 0;
    if (srtp_protect_rtcp(s, a, &il) != srtp_err_status_ok) {
      bad = 1;
      break;
    }
    size_t eat = e.aead ? (size_t)il - 4 : len;
    e.rtcp_index = (get32(a + eat) & 0x7fffffffu) - 1;
    bad = evp_srtp_protect_rtcp(&e, b, len, &ol) != 0 || (size_t)il != ol ||
          memcmp(a, b, ol) != 0 || evp_srtp_unprotect_rtcp(&r, b, ol, &pl) != 0 || pl != len;
  }
  evp_srtp_free(&e);
  evp_srtp_free(&r);
  srtp_dealloc(s);
  OPENSSL_cleanse(master, sizeof(master));
  return bad ? -1 : 0;
}
