/* DTLS 1.3 record layer. See dtls13_record.h. */
#include "dtls13_record.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#include "rtcsec/error.h"
#include "wire.h"

static const rtcsec_d13_suite suites[] = {
    {RTCSEC_TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", 16, EVP_sha256, EVP_aes_128_gcm,
     EVP_aes_128_ecb},
    {RTCSEC_TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", 32, EVP_sha384, EVP_aes_256_gcm,
     EVP_aes_256_ecb},
};

const rtcsec_d13_suite *rtcsec_d13_suite_by_id(uint16_t id) {
  for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
    if (suites[i].id == id)
      return &suites[i];
  }
  return NULL;
}

/* ---- replay window ------------------------------------------------------------ */

int rtcsec_replay_check(const rtcsec_replay *w, uint64_t seq) {
  if (!w->any || seq > w->top)
    return 1;
  uint64_t back = w->top - seq;
  if (back >= 64)
    return 0;
  return !((w->bits >> back) & 1);
}

void rtcsec_replay_update(rtcsec_replay *w, uint64_t seq) {
  if (!w->any) {
    w->any = 1;
    w->top = seq;
    w->bits = 1;
    return;
  }
  if (seq > w->top) {
    uint64_t shift = seq - w->top;
    w->bits = shift >= 64 ? 0 : w->bits << shift;
    w->bits |= 1;
    w->top = seq;
    return;
  }
  uint64_t back = w->top - seq;
  if (back < 64)
    w->bits |= UINT64_C(1) << back;
}

uint64_t rtcsec_d13_reconstruct_seq(uint64_t expected, uint64_t low, unsigned bits) {
  uint64_t win = UINT64_C(1) << bits, hwin = win / 2, mask = win - 1;
  uint64_t cand = (expected & ~mask) | (low & mask);
  /* As QUIC's packet number decoding (RFC 9000 §A.3). */
  if (expected >= hwin && cand <= expected - hwin && cand < UINT64_MAX - win)
    return cand + win;
  if (cand > expected + hwin && cand >= win)
    return cand - win;
  return cand;
}

/* ---- keys ---------------------------------------------------------------------- */

void rtcsec_d13_keys_clear(rtcsec_d13_keys *k) {
  EVP_CIPHER_CTX_free(k->aead); /* frees and cleanses the key schedule */
  EVP_CIPHER_CTX_free(k->sn);
  OPENSSL_cleanse(k, sizeof(*k));
}

int rtcsec_d13_keys_init(rtcsec_d13_keys *k, const rtcsec_d13_suite *suite, const char *prefix,
                         const uint8_t *secret, uint64_t epoch, int encrypt) {
  uint8_t key[RTCSEC_D13_MAX_KEY], sn_key[RTCSEC_D13_MAX_KEY];
  rtcsec_d13_keys_clear(k);
  k->suite = suite;
  k->epoch = epoch;
  k->encrypt = encrypt;
  int rc = rtcsec_traffic_keys(suite->md(), prefix, secret, suite->key_len, key, k->iv, sn_key);
  if (rc == RTCSEC_OK) {
    k->aead = EVP_CIPHER_CTX_new();
    k->sn = EVP_CIPHER_CTX_new();
    if (k->aead == NULL || k->sn == NULL)
      rc = RTCSEC_ERR_NO_MEMORY;
  }
  if (rc == RTCSEC_OK &&
      (EVP_CipherInit_ex(k->aead, suite->aead(), NULL, key, NULL, encrypt) != 1 ||
       EVP_EncryptInit_ex(k->sn, suite->ecb(), NULL, sn_key, NULL) != 1 ||
       EVP_CIPHER_CTX_set_padding(k->sn, 0) != 1))
    rc = RTCSEC_ERR_CRYPTO;
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(sn_key, sizeof(sn_key));
  if (rc != RTCSEC_OK) {
    ERR_clear_error();
    rtcsec_d13_keys_clear(k);
    return rc;
  }
  k->active = 1;
  return RTCSEC_OK;
}

/* RFC 8446 §5.3: the 64-bit record sequence number, big-endian, left-padded
 * to the IV length and XORed with the IV. RFC 9147 §4: the epoch is not
 * part of it. */
static void make_nonce(const rtcsec_d13_keys *k, uint64_t seq, uint8_t nonce[RTCSEC_D13_IV_LEN]) {
  memcpy(nonce, k->iv, RTCSEC_D13_IV_LEN);
  for (int i = 0; i < 8; i++)
    nonce[RTCSEC_D13_IV_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
}

/* RFC 9147 §4.2.3: Mask = AES-ECB(sn_key, Ciphertext[0..15]). */
static int sn_mask(rtcsec_d13_keys *k, const uint8_t *ciphertext, uint8_t mask[16]) {
  int n = 0;
  return EVP_EncryptUpdate(k->sn, mask, &n, ciphertext, 16) == 1 && n == 16;
}

int rtcsec_d13_seal_ex(rtcsec_d13_keys *k, uint8_t type, const uint8_t *content, size_t len,
                       size_t pad, unsigned flags, uint8_t *out, size_t cap, size_t *out_len) {
  if (!k->active || !k->encrypt || len + pad > RTCSEC_D13_MAX_PLAINTEXT)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t seq_len = (flags & RTCSEC_D13_SEAL_SEQ8) ? 1 : 2;
  size_t hdr = 1 + seq_len + ((flags & RTCSEC_D13_SEAL_NO_LENGTH) ? 0 : 2);
  size_t body = len + 1 + pad + RTCSEC_D13_TAG_LEN;
  if (cap < hdr + body)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  uint64_t seq = k->next_seq;
  /* 001 C S L EE: never a connection ID. */
  out[0] = (uint8_t)(0x20 | (seq_len == 2 ? 0x08 : 0) |
                     ((flags & RTCSEC_D13_SEAL_NO_LENGTH) ? 0 : 0x04) | (k->epoch & 3));
  put_uint(out + 1, seq_len, seq & (seq_len == 2 ? 0xffff : 0xff));
  if (!(flags & RTCSEC_D13_SEAL_NO_LENGTH))
    put_uint(out + 1 + seq_len, 2, body);
  uint8_t nonce[RTCSEC_D13_IV_LEN];
  make_nonce(k, seq, nonce);
  uint8_t *ct = out + hdr;
  /* DTLSInnerPlaintext: content, type, zeros. */
  if (len > 0)
    memmove(ct, content, len);
  ct[len] = type;
  memset(ct + len + 1, 0, pad);
  int n = 0, m = 0, f = 0;
  int ok = EVP_EncryptInit_ex(k->aead, NULL, NULL, NULL, nonce) == 1 &&
           EVP_EncryptUpdate(k->aead, NULL, &n, out, (int)hdr) == 1 &&
           EVP_EncryptUpdate(k->aead, ct, &m, ct, (int)(len + 1 + pad)) == 1 &&
           EVP_EncryptFinal_ex(k->aead, ct + m, &f) == 1 && (size_t)(m + f) == len + 1 + pad &&
           EVP_CIPHER_CTX_ctrl(k->aead, EVP_CTRL_AEAD_GET_TAG, RTCSEC_D13_TAG_LEN,
                               ct + len + 1 + pad) == 1;
  uint8_t mask[16];
  /* RFC 9147 §4.2.3: the ciphertext is at least 1 + 16 bytes here (content
   * type and tag), so the 16 bytes the mask needs are always there. */
  if (!ok || !sn_mask(k, ct, mask)) {
    ERR_clear_error();
    OPENSSL_cleanse(out, hdr + body);
    return RTCSEC_ERR_CRYPTO;
  }
  for (size_t i = 0; i < seq_len; i++)
    out[1 + i] ^= mask[i];
  k->next_seq++;
  k->records++;
  *out_len = hdr + body;
  return RTCSEC_OK;
}

int rtcsec_d13_seal(rtcsec_d13_keys *k, uint8_t type, const uint8_t *content, size_t len,
                    uint8_t *out, size_t cap, size_t *out_len) {
  return rtcsec_d13_seal_ex(k, type, content, len, 0, 0, out, cap, out_len);
}

int rtcsec_d13_plain(uint8_t type, uint64_t seq, const uint8_t *content, size_t len, uint8_t *out,
                     size_t cap, size_t *out_len) {
  rtcsec_wr w;
  wr_init(&w, out, cap);
  if (len > RTCSEC_D13_MAX_PLAINTEXT || seq >> 48 != 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* RFC 9147 §4: legacy_record_version {254, 253}, epoch 0. */
  wr_u8(&w, type);
  wr_u16(&w, (uint16_t)RTCSEC_DTLS13_LEGACY_RECORD_VERSION);
  wr_u16(&w, 0);
  wr_uint(&w, 6, seq);
  wr_u16(&w, (uint16_t)len);
  wr_bytes(&w, content, len);
  if (!w.ok)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  *out_len = w.off;
  return RTCSEC_OK;
}

int rtcsec_d13_next_record(const uint8_t *data, size_t len, size_t *off, rtcsec_d13_record *rec) {
  if (*off >= len)
    return 0;
  rtcsec_rd r;
  rd_init(&r, data + *off, len - *off);
  uint8_t first = data[*off];
  memset(rec, 0, sizeof(*rec));
  rec->hdr = data + *off;
  /* RFC 9147 §4.1: alert, handshake and ack are plaintext records; 001xxxxx
   * is the unified header; anything else is rejected. */
  if (first == RTCSEC_CT_ALERT || first == RTCSEC_CT_HANDSHAKE || first == RTCSEC_CT_ACK ||
      first == RTCSEC_CT_CHANGE_CIPHER_SPEC || first == RTCSEC_CT_APPLICATION_DATA) {
    uint16_t version;
    rtcsec_rd frag;
    rd_u8(&r, &rec->type);
    rd_u16(&r, &version);
    rd_u16(&r, &rec->epoch);
    rd_uint(&r, 6, &rec->seq);
    if (!rd_vec(&r, 2, &frag))
      return -1;
    rec->hdr_len = RTCSEC_D13_PLAIN_HDR;
    rec->body = frag.p;
    rec->body_len = rd_left(&frag);
  } else if ((first & 0xe0) == 0x20) {
    /* C: a connection ID was never negotiated, so its length is unknown
     * and nothing after it can be framed. */
    if (first & 0x10)
      return -1;
    rec->protected_ = 1;
    rec->epoch = first & 3;
    rec->seq_bits = (first & 0x08) ? 16 : 8;
    uint8_t f;
    rd_u8(&r, &f);
    rd_uint(&r, rec->seq_bits / 8, &rec->seq);
    if (first & 0x04) {
      rtcsec_rd body;
      if (!rd_vec(&r, 2, &body))
        return -1;
      rec->hdr_len = 1 + rec->seq_bits / 8 + 2;
      rec->body = body.p;
      rec->body_len = rd_left(&body);
    } else {
      /* No length: the record is the rest of the datagram. */
      if (!r.ok)
        return -1;
      rec->hdr_len = 1 + rec->seq_bits / 8;
      rec->body = data + *off + rec->hdr_len;
      rec->body_len = len - *off - rec->hdr_len;
    }
  } else {
    return -1;
  }
  if (!r.ok)
    return -1;
  *off += rec->hdr_len + rec->body_len;
  return 1;
}

int rtcsec_d13_open(rtcsec_d13_keys *k, const rtcsec_d13_record *rec, uint8_t *out, size_t cap,
                    size_t *out_len, uint8_t *type, uint64_t *seq_out) {
  if (!k->active || k->encrypt || !rec->protected_)
    return RTCSEC_ERR_CRYPTO;
  /* RFC 9147 §4.2.3: a ciphertext under 16 bytes cannot be unmasked and
   * fails like any record that does not deprotect; a GCM record also needs
   * its tag and the inner content type. */
  if (rec->body_len < RTCSEC_D13_TAG_LEN + 1 || cap < rec->body_len - RTCSEC_D13_TAG_LEN ||
      rec->hdr_len > 8) {
    k->failures++;
    return RTCSEC_ERR_CRYPTO;
  }
  uint8_t mask[16], aad[8];
  if (!sn_mask(k, rec->body, mask)) {
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  /* The additional data is the header as sent, before record number
   * encryption: the sequence bytes unmasked. */
  memcpy(aad, rec->hdr, rec->hdr_len);
  uint64_t low = rec->seq ^ (rec->seq_bits == 16 ? get_uint(mask, 2) : mask[0]);
  if (rec->seq_bits == 16)
    rtcsec_put_be16(aad + 1, (uint16_t)low);
  else
    aad[1] = (uint8_t)low;
  uint64_t expected = k->window.any ? k->window.top + 1 : 0;
  uint64_t seq = rtcsec_d13_reconstruct_seq(expected, low, rec->seq_bits);
  uint8_t nonce[RTCSEC_D13_IV_LEN];
  make_nonce(k, seq, nonce);
  size_t ct_len = rec->body_len - RTCSEC_D13_TAG_LEN;
  int n = 0, m = 0, f = 0;
  int ok = EVP_DecryptInit_ex(k->aead, NULL, NULL, NULL, nonce) == 1 &&
           EVP_CIPHER_CTX_ctrl(k->aead, EVP_CTRL_AEAD_SET_TAG, RTCSEC_D13_TAG_LEN,
                               (void *)(rec->body + ct_len)) == 1 &&
           EVP_DecryptUpdate(k->aead, NULL, &n, aad, (int)rec->hdr_len) == 1 &&
           EVP_DecryptUpdate(k->aead, out, &m, rec->body, (int)ct_len) == 1 &&
           EVP_DecryptFinal_ex(k->aead, out + m, &f) == 1 && (size_t)(m + f) == ct_len;
  if (!ok) {
    ERR_clear_error();
    OPENSSL_cleanse(out, ct_len);
    k->failures++;
    return RTCSEC_ERR_CRYPTO;
  }
  /* RFC 9147 §4.5.1: the window is checked after deprotection and moved
   * only for a record that authenticated. */
  if (!rtcsec_replay_check(&k->window, seq)) {
    OPENSSL_cleanse(out, ct_len);
    return 1;
  }
  /* RFC 8446 §5.4: the content type is the last non-zero byte; a record of
   * zeros only is a protocol error (reported to the caller as type 0). */
  size_t i = ct_len;
  while (i > 0 && out[i - 1] == 0)
    i--;
  rtcsec_replay_update(&k->window, seq);
  k->records++;
  *type = i > 0 ? out[i - 1] : 0;
  *out_len = i > 0 ? i - 1 : 0;
  *seq_out = seq;
  return RTCSEC_OK;
}
