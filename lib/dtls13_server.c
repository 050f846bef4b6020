/* rtcsec's DTLS 1.3 server: the handshake state machine on top of the
 * connection core (dtls13_conn.c). See dtls13.h for the contract and
 * docs/dtls13.md for what is implemented.
 *
 *   ClientHello ──> [HelloRetryRequest ──> ClientHello]
 *               ──> ServerHello {EncryptedExtensions} {CertificateRequest}
 *                   {Certificate} {CertificateVerify} {Finished}
 *   {Certificate} {CertificateVerify} {Finished} ──> [ACK]   (connected)
 */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls13.h"
#include "dtls13_keys.h"
#include "dtls13_msg.h"
#include "hybrid_kex.h"
#include "profile_internal.h"
#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"
#include "wire.h"

/* RFC 5764 §4.2: the exporter label for DTLS-SRTP keys. */
static const char srtp_label[] = "EXTRACTOR-dtls_srtp";

#define COOKIE_LEN 32

/* The key exchange groups in the server's order of preference
 * (lib/hybrid_kex.h does the work); X25519MLKEM768 only with
 * enable_mlkem. */
static const uint16_t server_groups[] = {RTCSEC_GROUP_X25519MLKEM768, RTCSEC_GROUP_X25519,
                                         RTCSEC_GROUP_SECP256R1};
#define N_SERVER_GROUPS (sizeof(server_groups) / sizeof(server_groups[0]))

typedef enum phase {
  PHASE_WAIT_CLIENT_HELLO2, /* HelloRetryRequest sent */
  PHASE_WAIT_CERTIFICATE,   /* server flight sent */
  PHASE_WAIT_CERTIFICATE_VERIFY,
  PHASE_WAIT_FINISHED,
  PHASE_DONE,
} phase;

/* What the server chose from a ClientHello. */
typedef struct choice {
  const rtcsec_d13_suite *suite;
  uint16_t group;                   /* 0 until chosen */
  const rtcsec_ch_key_share *share; /* NULL: HelloRetryRequest for group */
  uint16_t scheme;
  rtcsec_srtp_profile profile;
} choice;

struct rtcsec_dtls13 {
  rtcsec_d13_conn c;

  X509 *cert;
  EVP_PKEY *key;
  uint8_t *cert_der;
  size_t cert_der_len;
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  int allow_aes256, cookie_exchange, enable_mlkem;
  int (*verify_peer)(void *user, X509 *leaf);
  void *user;
  void (*keylog)(void *user, const char *line);
  void *keylog_user;
  void (*plaintext_alert)(void *user, int level, int desc);
  void (*data)(void *user, const uint8_t *data, size_t len);

  phase phase;
  choice ch;
  int hrr;
  int hrr_group; /* the HelloRetryRequest asked for a share of ch.group */
  uint8_t cookie[COOKIE_LEN];
  uint8_t *ch1; /* the first ClientHello, kept until the second arrives */
  size_t ch1_len;
  uint8_t client_random[32];
  rtcsec_transcript tr;
  rtcsec_key_schedule ks;
  uint8_t c_hs[RTCSEC_D13_MAX_HASH], s_hs[RTCSEC_D13_MAX_HASH];
  uint8_t exporter[RTCSEC_D13_MAX_HASH];
  EVP_PKEY *peer_key;
};

static size_t hlen_of(const rtcsec_dtls13 *e) { return e->tr.hlen; }

static void wipe_secrets(rtcsec_dtls13 *e);

/* Fail closed: the alert goes out, then no secret of the handshake stays
 * (record keys, handshake secrets, the key schedule, the exporter). */
static int fail(rtcsec_dtls13 *e, int error, int alert) {
  int rc = rtcsec_d13_conn_fail(&e->c, error, alert);
  wipe_secrets(e);
  return rc;
}

/* ---- key log (NSS format) ------------------------------------------------------- */

static void hex(char *out, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

static void keylog(rtcsec_dtls13 *e, const char *label, const uint8_t *secret) {
  if (e->keylog == NULL)
    return;
  char line[64 + 2 * 32 + 2 * RTCSEC_D13_MAX_HASH + 8];
  char r[65], s[2 * RTCSEC_D13_MAX_HASH + 1];
  hex(r, e->client_random, 32);
  hex(s, secret, hlen_of(e));
  snprintf(line, sizeof(line), "%s %s %s", label, r, s);
  e->keylog(e->keylog_user, line);
  OPENSSL_cleanse(line, sizeof(line));
  OPENSSL_cleanse(s, sizeof(s));
}

/* ---- choosing from a ClientHello ------------------------------------------------ */

static int refuse(int *alert, int a, int error) {
  *alert = a;
  return error;
}

static const rtcsec_ch_key_share *share_for(const rtcsec_client_hello *ch, uint16_t group) {
  for (size_t i = 0; i < ch->n_key_shares; i++) {
    if (ch->key_shares[i].group == group)
      return &ch->key_shares[i];
  }
  return NULL;
}

/* RFC 8446 §4.2.8: every share for a group the client also lists, no group
 * twice, and the exact length for each group the server knows. */
static int check_key_shares(const rtcsec_client_hello *ch, int *alert) {
  for (size_t i = 0; i < ch->n_key_shares; i++) {
    const rtcsec_ch_key_share *ks = &ch->key_shares[i];
    if (!rtcsec_u16_list_has(ch->groups, ks->group))
      return refuse(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER, RTCSEC_ERR_HANDSHAKE);
    for (size_t j = 0; j < i; j++) {
      if (ch->key_shares[j].group == ks->group)
        return refuse(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER, RTCSEC_ERR_HANDSHAKE);
    }
    size_t want = rtcsec_kex_client_share_len(ks->group);
    if (want != 0 && ks->len != want)
      return refuse(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER, RTCSEC_ERR_HANDSHAKE);
  }
  return RTCSEC_OK;
}

static int choose(rtcsec_dtls13 *e, const rtcsec_client_hello *ch, choice *out, int *alert) {
  memset(out, 0, sizeof(*out));
  if (!rtcsec_client_hello_offers(ch, RTCSEC_DTLS13_VERSION))
    return refuse(alert, RTCSEC_ALERT_PROTOCOL_VERSION, RTCSEC_ERR_HANDSHAKE);
  /* RFC 9147 §5.3: legacy_version MUST be {254, 253}; a DTLS 1.3
   * ClientHello with a non-empty legacy_cookie MUST be refused with
   * illegal_parameter. RFC 8446 §4.1.2: compression exactly {0}. */
  if (ch->legacy_version != RTCSEC_DTLS12_VERSION || ch->legacy_cookie_len != 0 ||
      ch->compression_len != 1 || ch->compression[0] != 0)
    return refuse(alert, RTCSEC_ALERT_ILLEGAL_PARAMETER, RTCSEC_ERR_HANDSHAKE);
  if (rtcsec_u16_list_has(ch->cipher_suites, RTCSEC_TLS_AES_128_GCM_SHA256))
    out->suite = rtcsec_d13_suite_by_id(RTCSEC_TLS_AES_128_GCM_SHA256);
  else if (e->allow_aes256 && rtcsec_u16_list_has(ch->cipher_suites, RTCSEC_TLS_AES_256_GCM_SHA384))
    out->suite = rtcsec_d13_suite_by_id(RTCSEC_TLS_AES_256_GCM_SHA384);
  if (out->suite == NULL)
    return refuse(alert, RTCSEC_ALERT_HANDSHAKE_FAILURE, RTCSEC_ERR_HANDSHAKE);
  /* RFC 8446 §9.2: certificate authentication needs signature_algorithms;
   * (EC)DHE needs supported_groups and key_share together. */
  if (!ch->has_signature_algorithms || !ch->has_supported_groups || !ch->has_key_share)
    return refuse(alert, RTCSEC_ALERT_MISSING_EXTENSION, RTCSEC_ERR_HANDSHAKE);
  out->scheme = rtcsec_d13_pick_sig_scheme(e->key, ch->sig_algs);
  if (out->scheme == 0)
    return refuse(alert, RTCSEC_ALERT_HANDSHAKE_FAILURE, RTCSEC_ERR_HANDSHAKE);
  int rc = check_key_shares(ch, alert);
  if (rc != RTCSEC_OK)
    return rc;
  /* RFC 5764 §4.1.1 / RFC 8827: no SRTP without use_srtp; the server picks
   * in its own order among the client's profiles. */
  if (!ch->has_use_srtp)
    return refuse(alert, RTCSEC_ALERT_HANDSHAKE_FAILURE, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
  for (size_t i = 0; i < e->n_profiles && out->profile == RTCSEC_SRTP_NONE; i++) {
    if (rtcsec_u16_list_has(ch->srtp_profiles, (uint16_t)e->profiles[i]))
      out->profile = e->profiles[i];
  }
  if (out->profile == RTCSEC_SRTP_NONE)
    return refuse(alert, RTCSEC_ALERT_HANDSHAKE_FAILURE, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE);
  /* The server's preferred group with a share; else its preferred group
   * the client supports, asked for with a HelloRetryRequest. */
  for (size_t i = 0; i < N_SERVER_GROUPS && out->group == 0; i++) {
    if (server_groups[i] == RTCSEC_GROUP_X25519MLKEM768 && !e->enable_mlkem)
      continue;
    out->share = share_for(ch, server_groups[i]);
    if (out->share != NULL)
      out->group = server_groups[i];
  }
  for (size_t i = 0; i < N_SERVER_GROUPS && out->group == 0; i++) {
    if (server_groups[i] == RTCSEC_GROUP_X25519MLKEM768 && !e->enable_mlkem)
      continue;
    if (rtcsec_u16_list_has(ch->groups, server_groups[i]))
      out->group = server_groups[i];
  }
  if (out->group == 0)
    return refuse(alert, RTCSEC_ALERT_HANDSHAKE_FAILURE, RTCSEC_ERR_HANDSHAKE);
  return RTCSEC_OK;
}

/* ---- the server's flights ---------------------------------------------------------- */

static int add_message(rtcsec_dtls13 *e, uint8_t type, const rtcsec_wr *w, uint64_t epoch) {
  if (!w->ok)
    return RTCSEC_ERR_NO_MEMORY;
  int rc = rtcsec_transcript_add(&e->tr, type, w->p, w->off);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_flight_add(&e->c, type, w->p, w->off, epoch);
  return rc;
}

static int send_hello_retry_request(rtcsec_dtls13 *e, const rtcsec_client_hello *ch, uint64_t now) {
  uint8_t buf[128];
  rtcsec_wr w;
  if (RAND_bytes(e->cookie, COOKIE_LEN) != 1)
    return RTCSEC_ERR_CRYPTO;
  /* Kept for the checks of the second ClientHello (RFC 8446 §4.1.2). */
  e->ch1 = malloc(ch->body_len);
  if (e->ch1 == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  memcpy(e->ch1, ch->body, ch->body_len);
  e->ch1_len = ch->body_len;
  /* RFC 8446 §4.4.1: the first ClientHello enters the transcript as a
   * message_hash, followed by the HelloRetryRequest. */
  int rc = rtcsec_transcript_to_message_hash(&e->tr);
  if (rc != RTCSEC_OK)
    return rc;
  wr_init(&w, buf, sizeof(buf));
  e->hrr_group = e->ch.share == NULL;
  rtcsec_d13_write_hello_retry_request(&w, RTCSEC_DTLS13_VERSION, e->ch.suite->id,
                                       e->hrr_group ? e->ch.group : 0, e->cookie, COOKIE_LEN);
  rtcsec_d13_conn_flight_begin(&e->c, 0);
  rc = add_message(e, RTCSEC_HS_SERVER_HELLO, &w, 0);
  if (rc != RTCSEC_OK)
    return rc;
  e->hrr = 1;
  e->phase = PHASE_WAIT_CLIENT_HELLO2;
  rtcsec_d13_conn_expect(&e->c, 0);
  return rtcsec_d13_conn_flight_send(&e->c, now);
}

/* ServerHello; handshake keys; EncryptedExtensions, CertificateRequest,
 * Certificate, CertificateVerify, Finished; application keys. */
static int send_server_flight(rtcsec_dtls13 *e, uint64_t now, int *alert) {
  const rtcsec_d13_suite *suite = e->ch.suite;
  const EVP_MD *md = suite->md();
  size_t hlen = hlen_of(e);
  uint8_t share[RTCSEC_KEX_MAX_SERVER_SHARE_LEN], secret[RTCSEC_KEX_MAX_SECRET_LEN], random[32];
  uint8_t h[RTCSEC_D13_MAX_HASH], s_ap[RTCSEC_D13_MAX_HASH], c_ap[RTCSEC_D13_MAX_HASH];
  size_t share_len = 0, secret_len = 0;
  size_t cap = 2048 + e->cert_der_len;
  uint8_t *buf = malloc(cap);
  rtcsec_wr w;
  if (buf == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  int rc = rtcsec_kex_server(e->ch.group, e->ch.share->key, e->ch.share->len, share, sizeof(share),
                             &share_len, secret, sizeof(secret), &secret_len);
  /* RFC 8446 §4.2.8, §7.4.2: a share that is not a key, or an all-zero
   * X25519 result, is the client's fault. */
  if (rc == RTCSEC_ERR_KEY_SHARE_LENGTH || rc == RTCSEC_ERR_KEY_SHARE_INVALID ||
      rc == RTCSEC_ERR_KEY_SHARE_ZERO) {
    *alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    rc = RTCSEC_ERR_HANDSHAKE;
  }
  if (rc == RTCSEC_OK && RAND_bytes(random, sizeof(random)) != 1)
    rc = RTCSEC_ERR_CRYPTO;
  rtcsec_d13_conn_flight_begin(&e->c, 0);
  if (rc == RTCSEC_OK) {
    wr_init(&w, buf, cap);
    rtcsec_d13_write_server_hello(&w, RTCSEC_DTLS13_VERSION, random, suite->id, e->ch.group, share,
                                  share_len);
    rc = add_message(e, RTCSEC_HS_SERVER_HELLO, &w, 0);
  }
  /* RFC 8446 §7.1: Handshake Secret and the handshake traffic secrets
   * from ClientHello..ServerHello. */
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_init(&e->ks, md, RTCSEC_D13_PREFIX_DTLS);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_handshake(&e->ks, secret, secret_len);
  OPENSSL_cleanse(secret, sizeof(secret));
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&e->tr, h);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&e->ks, "c hs traffic", h, e->c_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&e->ks, "s hs traffic", h, e->s_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&e->c, 1, 2, e->s_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&e->c, 0, 2, e->c_hs);
  if (rc == RTCSEC_OK) {
    keylog(e, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", e->c_hs);
    keylog(e, "SERVER_HANDSHAKE_TRAFFIC_SECRET", e->s_hs);
    wr_init(&w, buf, cap);
    rtcsec_d13_write_encrypted_extensions(&w, (uint16_t)e->ch.profile);
    rc = add_message(e, RTCSEC_HS_ENCRYPTED_EXTENSIONS, &w, 2);
  }
  if (rc == RTCSEC_OK) {
    /* RFC 5763 §5 / RFC 8827: the server always asks for the client's
     * certificate. */
    wr_init(&w, buf, cap);
    rtcsec_d13_write_certificate_request(&w);
    rc = add_message(e, RTCSEC_HS_CERTIFICATE_REQUEST, &w, 2);
  }
  if (rc == RTCSEC_OK) {
    wr_init(&w, buf, cap);
    rtcsec_d13_write_certificate(&w, NULL, 0, e->cert_der, e->cert_der_len);
    rc = add_message(e, RTCSEC_HS_CERTIFICATE, &w, 2);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&e->tr, h);
  if (rc == RTCSEC_OK) {
    wr_init(&w, buf, cap);
    rc = rtcsec_d13_write_certificate_verify(&w, e->key, e->ch.scheme, 1, h, hlen);
    if (rc == RTCSEC_OK)
      rc = add_message(e, RTCSEC_HS_CERTIFICATE_VERIFY, &w, 2);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&e->tr, h);
  if (rc == RTCSEC_OK) {
    wr_init(&w, buf, cap);
    uint8_t *vd = wr_reserve(&w, hlen);
    rc = vd != NULL ? rtcsec_finished_mac(md, RTCSEC_D13_PREFIX_DTLS, e->s_hs, h, vd)
                    : RTCSEC_ERR_NO_MEMORY;
    if (rc == RTCSEC_OK)
      rc = add_message(e, RTCSEC_HS_FINISHED, &w, 2);
  }
  /* Master Secret; application and exporter secrets from
   * ClientHello..server Finished (RFC 8446 §7.1). */
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_master(&e->ks);
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&e->tr, h);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&e->ks, "c ap traffic", h, c_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&e->ks, "s ap traffic", h, s_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&e->ks, "exp master", h, e->exporter);
  rtcsec_ks_wipe(&e->ks);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&e->c, 1, 3, s_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&e->c, 0, 3, c_ap);
  if (rc == RTCSEC_OK) {
    keylog(e, "CLIENT_TRAFFIC_SECRET_0", c_ap);
    keylog(e, "SERVER_TRAFFIC_SECRET_0", s_ap);
    keylog(e, "EXPORTER_SECRET", e->exporter);
  }
  OPENSSL_cleanse(c_ap, sizeof(c_ap));
  OPENSSL_cleanse(s_ap, sizeof(s_ap));
  OPENSSL_cleanse(buf, cap);
  free(buf);
  if (rc != RTCSEC_OK)
    return rc;
  e->phase = PHASE_WAIT_CERTIFICATE;
  rtcsec_d13_conn_expect(&e->c, 2);
  return rtcsec_d13_conn_flight_send(&e->c, now);
}

/* The first ClientHello: choose, then answer. */
static int answer_client_hello(rtcsec_dtls13 *e, const rtcsec_client_hello *ch, uint64_t now) {
  int alert = RTCSEC_ALERT_INTERNAL_ERROR;
  int rc = choose(e, ch, &e->ch, &alert);
  /* RFC 8446 §4.2.2: a client does not send a cookie it was not given. */
  if (rc == RTCSEC_OK && ch->has_cookie) {
    alert = RTCSEC_ALERT_ILLEGAL_PARAMETER;
    rc = RTCSEC_ERR_HANDSHAKE;
  }
  if (rc != RTCSEC_OK)
    return fail(e, rc, alert);
  e->c.cfg.suite = e->ch.suite;
  memcpy(e->client_random, ch->random, 32);
  rc = rtcsec_transcript_init(&e->tr, e->ch.suite->md());
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_add(&e->tr, RTCSEC_HS_CLIENT_HELLO, ch->body, ch->body_len);
  if (rc != RTCSEC_OK)
    return fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  if (e->ch.share == NULL || e->cookie_exchange) {
    rc = send_hello_retry_request(e, ch, now);
    e->ch.share = NULL; /* pointed into the caller's ClientHello */
    return rc == RTCSEC_OK ? rc : fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  }
  alert = RTCSEC_ALERT_INTERNAL_ERROR;
  rc = send_server_flight(e, now, &alert);
  e->ch.share = NULL; /* pointed into the caller's ClientHello */
  return rc == RTCSEC_OK ? rc : fail(e, rc, alert);
}

static int same_list(rtcsec_u16_list a, rtcsec_u16_list b) {
  return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, 2 * a.n) == 0);
}

/* RFC 8446 §4.1.2: the second ClientHello repeats the first except for
 * key_share (now one share of the selected group), the cookie, early_data
 * and padding. */
static int consistent(const rtcsec_client_hello *a, const rtcsec_client_hello *b) {
  return a->legacy_version == b->legacy_version && memcmp(a->random, b->random, 32) == 0 &&
         a->session_id_len == b->session_id_len &&
         memcmp(a->session_id, b->session_id, a->session_id_len) == 0 &&
         same_list(a->cipher_suites, b->cipher_suites) &&
         a->compression_len == b->compression_len &&
         memcmp(a->compression, b->compression, a->compression_len) == 0 &&
         same_list(a->versions, b->versions) && same_list(a->groups, b->groups) &&
         same_list(a->sig_algs, b->sig_algs) && same_list(a->srtp_profiles, b->srtp_profiles) &&
         a->has_use_srtp == b->has_use_srtp;
}

/* The second ClientHello (epoch 0, unauthenticated). Without our cookie it
 * proves nothing and is dropped (RFC 9147 §5.1 would send
 * illegal_parameter; a forged datagram must not end the handshake). With
 * it, the sender saw our HelloRetryRequest, and every error is fatal. */
static int on_client_hello2(rtcsec_dtls13 *e, const uint8_t *body, size_t len, uint64_t now) {
  rtcsec_client_hello ch2, ch1;
  int alert = RTCSEC_ALERT_DECODE_ERROR;
  if (rtcsec_client_hello_parse(&ch2, body, len, &alert) != RTCSEC_OK || !ch2.has_cookie ||
      ch2.cookie_len != COOKIE_LEN || CRYPTO_memcmp(ch2.cookie, e->cookie, COOKIE_LEN) != 0)
    return RTCSEC_D13_IGNORED;
  if (rtcsec_client_hello_parse(&ch1, e->ch1, e->ch1_len, &alert) != RTCSEC_OK)
    return fail(e, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_INTERNAL_ERROR);
  choice c2;
  int rc = choose(e, &ch2, &c2, &alert);
  if (rc != RTCSEC_OK)
    return fail(e, rc, alert);
  /* The same suite and group; after a request for a group, exactly one
   * share, of that group (RFC 8446 §4.1.4, §4.2.8); after a cookie-only
   * request, the shares of the first ClientHello. */
  int shares_ok = e->hrr_group ? ch2.n_key_shares == 1 && ch2.key_shares[0].group == e->ch.group
                               : c2.share != NULL;
  if (!consistent(&ch1, &ch2) || c2.suite != e->ch.suite || c2.group != e->ch.group || !shares_ok ||
      c2.profile != e->ch.profile)
    return fail(e, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  e->ch.share = c2.share;
  free(e->ch1);
  e->ch1 = NULL;
  rc = rtcsec_transcript_add(&e->tr, RTCSEC_HS_CLIENT_HELLO, body, len);
  if (rc != RTCSEC_OK)
    return fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  alert = RTCSEC_ALERT_INTERNAL_ERROR;
  rc = send_server_flight(e, now, &alert);
  e->ch.share = NULL; /* pointed into ch2 */
  return rc == RTCSEC_OK ? rc : fail(e, rc, alert);
}

/* ---- the client's flight ------------------------------------------------------------- */

static int on_certificate(rtcsec_dtls13 *e, const uint8_t *body, size_t len) {
  X509 *leaf = NULL;
  int alert = RTCSEC_ALERT_DECODE_ERROR;
  if (rtcsec_d13_read_certificate(body, len, NULL, 0, &leaf, &alert) != RTCSEC_OK)
    return fail(e, RTCSEC_ERR_HANDSHAKE, alert);
  /* RFC 8446 §4.4.2.4: no certificate where one is required:
   * certificate_required. */
  if (leaf == NULL)
    return fail(e, RTCSEC_ERR_NO_PEER_CERTIFICATE, RTCSEC_ALERT_CERTIFICATE_REQUIRED);
  /* RFC 8827 §6.5: the certificate must match a signalled fingerprint,
   * checked before any key exists. */
  int ok = e->verify_peer(e->user, leaf);
  e->peer_key = ok == 1 ? X509_get_pubkey(leaf) : NULL;
  X509_free(leaf);
  if (ok != 1)
    return fail(e, RTCSEC_ERR_FINGERPRINT_MISMATCH, RTCSEC_ALERT_BAD_CERTIFICATE);
  if (e->peer_key == NULL)
    return fail(e, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_BAD_CERTIFICATE);
  e->phase = PHASE_WAIT_CERTIFICATE_VERIFY;
  return RTCSEC_OK;
}

static int on_certificate_verify(rtcsec_dtls13 *e, const uint8_t *body, size_t len,
                                 const uint8_t *hash) {
  int alert = RTCSEC_ALERT_DECODE_ERROR;
  if (rtcsec_d13_check_certificate_verify(e->peer_key, body, len, 0, hash, hlen_of(e),
                                          rtcsec_d13_sig_schemes, rtcsec_d13_n_sig_schemes,
                                          &alert) != RTCSEC_OK)
    return fail(e, RTCSEC_ERR_HANDSHAKE, alert);
  e->phase = PHASE_WAIT_FINISHED;
  return RTCSEC_OK;
}

static void wipe_handshake_secrets(rtcsec_dtls13 *e) {
  OPENSSL_cleanse(e->c_hs, sizeof(e->c_hs));
  OPENSSL_cleanse(e->s_hs, sizeof(e->s_hs));
  rtcsec_ks_wipe(&e->ks);
}

static void wipe_secrets(rtcsec_dtls13 *e) {
  wipe_handshake_secrets(e);
  OPENSSL_cleanse(e->exporter, sizeof(e->exporter));
  rtcsec_d13_conn_wipe_keys(&e->c);
}

static int on_finished(rtcsec_dtls13 *e, const uint8_t *body, size_t len, const uint8_t *hash,
                       uint64_t now) {
  uint8_t want[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_finished_mac(e->ch.suite->md(), RTCSEC_D13_PREFIX_DTLS, e->c_hs, hash, want);
  if (rc != RTCSEC_OK)
    return fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  int ok = rtcsec_d13_finished_equal(body, len, want, hlen_of(e));
  OPENSSL_cleanse(want, sizeof(want));
  /* RFC 8446 §4.4.4: a wrong Finished is decrypt_error. */
  if (!ok)
    return fail(e, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECRYPT_ERROR);
  wipe_handshake_secrets(e);
  EVP_PKEY_free(e->peer_key);
  e->peer_key = NULL;
  e->phase = PHASE_DONE;
  /* RFC 9147 §5.8: the client's last flight is acknowledged explicitly;
   * the epoch-2 read keys stay for its retransmissions. */
  rc = rtcsec_d13_conn_ack_final(&e->c, now);
  if (rc != RTCSEC_OK)
    return fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  rtcsec_d13_conn_connected(&e->c, now);
  /* The keys stay inside: the caller exports them (rtcsec_dtls13_export). */
  rtcsec_event ev = {.type = RTCSEC_EVENT_CONNECTED};
  ev.connected.profile = e->ch.profile;
  ev.connected.version = "DTLSv1.3";
  ev.connected.cipher = e->ch.suite->name;
  ev.connected.group = rtcsec_kex_group_name(e->ch.group);
  ev.connected.role = RTCSEC_DTLS_SERVER;
  rc = rtcsec_d13_conn_push_event(&e->c, &ev, NULL, 0);
  return rc == RTCSEC_OK ? rc : fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
}

/* The connection core hands over each complete handshake message here. */
static int on_message(void *role, uint8_t type, const uint8_t *body, size_t len, uint64_t epoch,
                      uint64_t now) {
  rtcsec_dtls13 *e = role;
  (void)epoch; /* the core delivers only in the epoch we expect */
  if (e->phase == PHASE_WAIT_CLIENT_HELLO2)
    return type == RTCSEC_HS_CLIENT_HELLO ? on_client_hello2(e, body, len, now)
                                          : RTCSEC_D13_IGNORED;
  static const uint8_t expect[] = {
      [PHASE_WAIT_CERTIFICATE] = RTCSEC_HS_CERTIFICATE,
      [PHASE_WAIT_CERTIFICATE_VERIFY] = RTCSEC_HS_CERTIFICATE_VERIFY,
      [PHASE_WAIT_FINISHED] = RTCSEC_HS_FINISHED,
  };
  if (e->phase > PHASE_WAIT_FINISHED || type != expect[e->phase])
    return fail(e, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
  /* CertificateVerify and Finished cover the transcript before them. */
  uint8_t h[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_transcript_hash(&e->tr, h);
  if (rc != RTCSEC_OK)
    return fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  switch (e->phase) {
  case PHASE_WAIT_CERTIFICATE:
    rc = on_certificate(e, body, len);
    break;
  case PHASE_WAIT_CERTIFICATE_VERIFY:
    rc = on_certificate_verify(e, body, len, h);
    break;
  default:
    rc = on_finished(e, body, len, h, now);
    break;
  }
  if (rc == RTCSEC_OK && e->phase != PHASE_DONE)
    rc = rtcsec_transcript_add(&e->tr, type, body, len);
  return rc == RTCSEC_OK || e->c.state == RTCSEC_DTLS_STATE_FAILED
             ? rc
             : fail(e, rc, RTCSEC_ALERT_INTERNAL_ERROR);
}

static void on_plaintext_alert(void *role, int level, int desc) {
  rtcsec_dtls13 *e = role;
  if (e->plaintext_alert != NULL)
    e->plaintext_alert(e->user, level, desc);
}

static void on_data(void *role, const uint8_t *data, size_t len) {
  rtcsec_dtls13 *e = role;
  e->data(e->user, data, len);
}

/* ---- API ------------------------------------------------------------------------------- */

void rtcsec_dtls13_config_default(rtcsec_dtls13_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->mtu = 1200;
  cfg->rto_initial_us = 100000;
  cfg->rto_max_us = 3000000;
  cfg->handshake_timeout_us = 30000000;
  cfg->allow_aes256 = 1;
  cfg->enable_mlkem = 1;
}

static int copy_config(rtcsec_dtls13 *e, const rtcsec_dtls13_config *cfg) {
  const rtcsec_srtp_profile *src = cfg->n_profiles ? cfg->profiles : rtcsec_srtp_default_profiles;
  size_t n = cfg->n_profiles ? cfg->n_profiles : RTCSEC_SRTP_N_DEFAULT_PROFILES;
  if (n > RTCSEC_SRTP_MAX_PROFILES || (cfg->n_profiles > 0 && cfg->profiles == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < n; i++) {
    if (rtcsec_srtp_profile_key_len(src[i]) == 0)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    e->profiles[i] = src[i];
  }
  e->n_profiles = n;
  int len = i2d_X509(cfg->cert, &e->cert_der);
  if (len <= 0)
    return RTCSEC_ERR_CRYPTO;
  e->cert_der_len = (size_t)len;
  /* Each reference is kept as soon as it is taken: rtcsec_dtls13_free()
   * drops what a failed copy took. */
  if (X509_up_ref(cfg->cert) != 1)
    return RTCSEC_ERR_CRYPTO;
  e->cert = cfg->cert;
  if (EVP_PKEY_up_ref(cfg->key) != 1)
    return RTCSEC_ERR_CRYPTO;
  e->key = cfg->key;
  e->allow_aes256 = cfg->allow_aes256;
  e->cookie_exchange = cfg->cookie_exchange;
  e->enable_mlkem = cfg->enable_mlkem;
  e->verify_peer = cfg->verify_peer;
  e->user = cfg->user;
  e->keylog = cfg->keylog;
  e->keylog_user = cfg->keylog_user;
  e->plaintext_alert = cfg->plaintext_alert;
  e->data = cfg->data;
  return RTCSEC_OK;
}

int rtcsec_dtls13_server_new(rtcsec_dtls13 **out, const rtcsec_dtls13_config *cfg,
                             const rtcsec_client_hello *ch, uint64_t now) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg == NULL || ch == NULL || ch->body == NULL || ch->random == NULL || cfg->cert == NULL ||
      cfg->key == NULL || cfg->verify_peer == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (rtcsec_init() != RTCSEC_OK)
    return RTCSEC_ERR_CRYPTO;
  rtcsec_dtls13 *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  rtcsec_d13_conn_config cc = {.mtu = cfg->mtu,
                               .rto_initial_us = cfg->rto_initial_us,
                               .rto_max_us = cfg->rto_max_us,
                               .handshake_timeout_us = cfg->handshake_timeout_us,
                               .on_message = on_message,
                               .role = e,
                               .on_plaintext_alert = on_plaintext_alert,
                               .on_data = cfg->data != NULL ? on_data : NULL};
  int rc = rtcsec_d13_conn_init(&e->c, &cc, now);
  if (rc == RTCSEC_OK)
    rc = copy_config(e, cfg);
  if (rc != RTCSEC_OK) {
    rtcsec_dtls13_free(e);
    return rc;
  }
  /* The ClientHello (message_seq 0) was reassembled by the caller. */
  e->c.rx_next_seq = 1;
  rc = answer_client_hello(e, ch, now);
  ERR_clear_error();
  if (rc == RTCSEC_ERR_NO_MEMORY || (rc != RTCSEC_OK && e->c.state != RTCSEC_DTLS_STATE_FAILED)) {
    rtcsec_dtls13_free(e);
    return rc;
  }
  *out = e;
  return rc;
}

void rtcsec_dtls13_free(rtcsec_dtls13 *e) {
  if (e == NULL)
    return;
  rtcsec_d13_conn_clear(&e->c);
  X509_free(e->cert);
  EVP_PKEY_free(e->key);
  EVP_PKEY_free(e->peer_key);
  OPENSSL_free(e->cert_der);
  free(e->ch1);
  rtcsec_transcript_free(&e->tr);
  OPENSSL_cleanse(e, sizeof(*e));
  free(e);
}

/* The connection core fails on its own too (the handshake time limit, the
 * peer's alert, the AEAD limits): the server's secrets go with its keys. */
static int after(rtcsec_dtls13 *e, int rc) {
  if (e->c.state == RTCSEC_DTLS_STATE_FAILED)
    wipe_secrets(e);
  ERR_clear_error();
  return rc;
}

int rtcsec_dtls13_handle_datagram(rtcsec_dtls13 *e, const uint8_t *data, size_t len, uint64_t now) {
  if (e == NULL || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return after(e, rtcsec_d13_conn_handle_datagram(&e->c, data, len, now));
}

int rtcsec_dtls13_handle_timeout(rtcsec_dtls13 *e, uint64_t now) {
  if (e == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return after(e, rtcsec_d13_conn_handle_timeout(&e->c, now));
}

uint64_t rtcsec_dtls13_deadline(const rtcsec_dtls13 *e) {
  return e == NULL ? UINT64_MAX : rtcsec_d13_conn_deadline(&e->c);
}

int rtcsec_dtls13_poll_datagram(rtcsec_dtls13 *e, uint8_t *buf, size_t cap, size_t *len) {
  if (e == NULL || len == NULL || (buf == NULL && cap > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_d13_conn_poll_datagram(&e->c, buf, cap, len);
}

int rtcsec_dtls13_poll_event(rtcsec_dtls13 *e, rtcsec_event *ev) {
  if (e == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_d13_conn_poll_event(&e->c, ev);
}

int rtcsec_dtls13_send(rtcsec_dtls13 *e, const uint8_t *data, size_t len, uint64_t now) {
  if (e == NULL || data == NULL || len == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return after(e, rtcsec_d13_conn_send(&e->c, data, len, now));
}

int rtcsec_dtls13_close(rtcsec_dtls13 *e, uint64_t now) {
  if (e == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_d13_conn_close(&e->c, now);
}

int rtcsec_dtls13_key_update(rtcsec_dtls13 *e, int update_requested, uint64_t now) {
  if (e == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return after(e, rtcsec_d13_conn_key_update(&e->c, update_requested, now));
}

rtcsec_dtls_state rtcsec_dtls13_state(const rtcsec_dtls13 *e) {
  return e == NULL ? RTCSEC_DTLS_STATE_FAILED : e->c.state;
}

void rtcsec_dtls13_abort(rtcsec_dtls13 *e, int error) {
  if (e == NULL)
    return;
  (void)rtcsec_d13_conn_fail(&e->c, error, -1);
  wipe_secrets(e);
}

int rtcsec_dtls13_secrets_wiped(const rtcsec_dtls13 *e) {
  static const uint8_t zero[RTCSEC_D13_MAX_HASH];
  const rtcsec_d13_conn *c = &e->c;
  int keys = c->w_hs.active || c->w_app.active || c->r_hs.active || c->r_app[0].active ||
             c->r_app[1].active || c->r_app[2].active;
  return !keys && memcmp(e->c_hs, zero, sizeof(zero)) == 0 &&
         memcmp(e->s_hs, zero, sizeof(zero)) == 0 && memcmp(e->exporter, zero, sizeof(zero)) == 0 &&
         memcmp(c->w_secret, zero, sizeof(zero)) == 0 &&
         memcmp(c->r_secret, zero, sizeof(zero)) == 0 &&
         memcmp(e->ks.secret, zero, sizeof(zero)) == 0;
}

const char *rtcsec_dtls13_timeout_hint(const rtcsec_dtls13 *e) {
  if (e != NULL && e->phase == PHASE_WAIT_CLIENT_HELLO2)
    return "DTLS 1.3: no second ClientHello with the cookie answered the HelloRetryRequest";
  if (e == NULL || e->phase != PHASE_WAIT_CERTIFICATE)
    return NULL;
  if (e->c.stats.records_unopened > 0)
    return "DTLS 1.3: records of the client's encrypted flight did not decrypt, so the two "
           "sides derived different handshake secrets (a key share damaged on the way, or an "
           "ML-KEM ciphertext the client could not decapsulate: implicit rejection)";
  return "DTLS 1.3: the client sent nothing after the server's flight that could be read";
}

int rtcsec_dtls13_error(const rtcsec_dtls13 *e) {
  if (e == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return e->c.state == RTCSEC_DTLS_STATE_FAILED ? e->c.error : RTCSEC_OK;
}

int rtcsec_dtls13_export(rtcsec_dtls13 *e, const char *label, const uint8_t *context,
                         size_t context_len, uint8_t *out, size_t len) {
  if (e == NULL || label == NULL || out == NULL || (context == NULL && context_len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (e->phase != PHASE_DONE ||
      (e->c.state != RTCSEC_DTLS_STATE_CONNECTED && e->c.state != RTCSEC_DTLS_STATE_CLOSED))
    return RTCSEC_ERR_INVALID_STATE;
  int rc = rtcsec_exporter(e->ch.suite->md(), RTCSEC_D13_PREFIX_DTLS, e->exporter, label, context,
                           context_len, out, len);
  ERR_clear_error();
  return rc;
}

int rtcsec_dtls13_export_srtp(rtcsec_dtls13 *e, rtcsec_srtp_keys *keys) {
  if (e == NULL || keys == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_srtp_profile p = e->ch.profile;
  size_t k = rtcsec_srtp_profile_key_len(p), s = rtcsec_srtp_profile_salt_len(p);
  memset(keys, 0, sizeof(*keys));
  if (k == 0)
    return RTCSEC_ERR_INVALID_STATE;
  keys->profile = p;
  keys->key_len = k;
  keys->salt_len = s;
  keys->material_len = 2 * (k + s);
  /* RFC 5764 §4.2: no context, length 2 * (key + salt). */
  int rc = rtcsec_dtls13_export(e, srtp_label, NULL, 0, keys->material, keys->material_len);
  if (rc != RTCSEC_OK) {
    rtcsec_srtp_keys_wipe(keys);
    return rc;
  }
  /* client key | server key | client salt | server salt; the server
   * protects with the server's. */
  const uint8_t *ck = keys->material, *sk = ck + k, *cs = sk + k, *ss = cs + s;
  memcpy(keys->local_key, sk, k);
  memcpy(keys->remote_key, ck, k);
  memcpy(keys->local_salt, ss, s);
  memcpy(keys->remote_salt, cs, s);
  return RTCSEC_OK;
}

const char *rtcsec_dtls13_cipher_name(const rtcsec_dtls13 *e) {
  return e != NULL && e->ch.suite != NULL ? e->ch.suite->name : "";
}

const char *rtcsec_dtls13_group_name(const rtcsec_dtls13 *e) {
  return e != NULL && e->ch.group != 0 ? rtcsec_kex_group_name(e->ch.group) : "";
}

rtcsec_srtp_profile rtcsec_dtls13_profile(const rtcsec_dtls13 *e) {
  return e != NULL ? e->ch.profile : RTCSEC_SRTP_NONE;
}

int rtcsec_dtls13_used_hrr(const rtcsec_dtls13 *e) { return e != NULL && e->hrr; }

int rtcsec_dtls13_get_stats(const rtcsec_dtls13 *e, rtcsec_d13_stats *out) {
  if (e == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = e->c.stats;
  return RTCSEC_OK;
}

rtcsec_d13_conn *rtcsec_dtls13_test_conn(rtcsec_dtls13 *e) { return e != NULL ? &e->c : NULL; }
