/* Internal: the TLS 1.3 key schedule (RFC 8446 §7) with the label prefix
 * as a parameter: "dtls13" for DTLS 1.3 (RFC 9147 §5.9), "tls13 " for TLS
 * 1.3, so the same code is checked against RFC 8448's TLS traces. Also the
 * transcript hash (RFC 8446 §4.4.1) and the exporter (§7.5).
 * Every function returns 0 or RTCSEC_ERR_CRYPTO; outputs are secret and
 * wiped by the caller (OPENSSL_cleanse). Not installed. */
#ifndef RTCSEC_DTLS13_KEYS_H
#define RTCSEC_DTLS13_KEYS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define RTCSEC_D13_PREFIX_DTLS "dtls13"
#define RTCSEC_D13_PREFIX_TLS "tls13 "
#define RTCSEC_D13_MAX_HASH 48 /* SHA-384 */
#define RTCSEC_D13_IV_LEN 12
#define RTCSEC_D13_MAX_KEY 32

/* RFC 5869 HKDF-Extract: prk = HMAC-Hash(salt, ikm); prk has the hash's
 * length. A NULL salt means hash-length zeros. */
int rtcsec_hkdf_extract(const EVP_MD *md, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                        size_t ikm_len, uint8_t *prk);

/* RFC 8446 §7.1 HKDF-Expand-Label(secret, label, context, length) with
 * HkdfLabel.label = prefix + label. secret has the hash's length. */
int rtcsec_hkdf_expand_label(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                             const char *label, const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                             size_t out_len);

/* RFC 8446 §7.1 Derive-Secret with the transcript hash already computed. */
int rtcsec_derive_secret(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                         const char *label, const uint8_t *transcript_hash, uint8_t *out);

/* The chain Early Secret -> Handshake Secret -> Master Secret without a
 * PSK (RFC 8446 §7.1: PSK and the first salt are hash-length zeros). */
typedef struct rtcsec_key_schedule {
  const EVP_MD *md;
  size_t hlen;
  const char *prefix;
  uint8_t secret[RTCSEC_D13_MAX_HASH]; /* the current stage's secret */
} rtcsec_key_schedule;

int rtcsec_ks_init(rtcsec_key_schedule *ks, const EVP_MD *md, const char *prefix);
/* Mixes in the (EC)DHE shared secret: secret becomes the Handshake Secret. */
int rtcsec_ks_handshake(rtcsec_key_schedule *ks, const uint8_t *ecdhe, size_t len);
/* secret becomes the Master Secret (IKM = zeros). */
int rtcsec_ks_master(rtcsec_key_schedule *ks);
/* Derive-Secret(current secret, label, transcript_hash). */
int rtcsec_ks_derive(const rtcsec_key_schedule *ks, const char *label,
                     const uint8_t *transcript_hash, uint8_t *out);
void rtcsec_ks_wipe(rtcsec_key_schedule *ks);

/* RFC 8446 §4.4.4: verify_data = HMAC(finished_key, transcript_hash) with
 * finished_key = HKDF-Expand-Label(base_key, "finished", "", Hash.length). */
int rtcsec_finished_mac(const EVP_MD *md, const char *prefix, const uint8_t *base_key,
                        const uint8_t *transcript_hash, uint8_t *out);

/* RFC 8446 §7.3 and RFC 9147 §4.2.3: write key ("key", key_len), IV
 * ("iv", 12) and, if sn_key is not NULL, the record number key ("sn",
 * key_len) of a traffic secret. */
int rtcsec_traffic_keys(const EVP_MD *md, const char *prefix, const uint8_t *secret, size_t key_len,
                        uint8_t *key, uint8_t *iv, uint8_t *sn_key);

/* RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(
 * application_traffic_secret_N, "traffic upd", "", Hash.length). */
int rtcsec_traffic_update(const EVP_MD *md, const char *prefix, const uint8_t *secret,
                          uint8_t *out);

/* RFC 8446 §7.5: TLS-Exporter(label, context, length) =
 * HKDF-Expand-Label(Derive-Secret(exporter_master, label, ""), "exporter",
 * Hash(context), length). A missing context hashes as empty (TLS 1.3 does
 * not tell the two apart). */
int rtcsec_exporter(const EVP_MD *md, const char *prefix, const uint8_t *exporter_master,
                    const char *label, const uint8_t *ctx, size_t ctx_len, uint8_t *out,
                    size_t out_len);

/* The running transcript hash over TLS-format handshake messages
 * (RFC 9147 §5.2: without message_seq and the fragment fields). */
typedef struct rtcsec_transcript {
  EVP_MD_CTX *ctx;
  const EVP_MD *md;
  size_t hlen;
} rtcsec_transcript;

int rtcsec_transcript_init(rtcsec_transcript *t, const EVP_MD *md);
void rtcsec_transcript_free(rtcsec_transcript *t);
/* Adds msg_type, uint24 length, body. */
int rtcsec_transcript_add(rtcsec_transcript *t, uint8_t type, const uint8_t *body, size_t len);
/* The hash so far (the transcript goes on). */
int rtcsec_transcript_hash(const rtcsec_transcript *t, uint8_t *out);
/* RFC 8446 §4.4.1: after a HelloRetryRequest the first ClientHello is
 * replaced by message_hash(254) || 00 00 Hash.length || Hash(ClientHello1). */
int rtcsec_transcript_to_message_hash(rtcsec_transcript *t);

#endif
