/* The DTLS 1.2 engine: OpenSSL 3.0 driven sans-IO behind the association
 * (dtls_engine.h). Everything OpenSSL-specific lives here: the shared
 * SSL_CTX, the callbacks, the datagram BIO, the mapping of OpenSSL's timer
 * onto the caller's clock, and the record checks that keep unauthenticated
 * bytes from reaching code in OpenSSL that may treat them as fatal. */
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "cert_internal.h"
#include "dtls_bio.h"
#include "dtls_engine.h"
#include "profile_internal.h"
#include "rtcsec/error.h"

/* RFC 5764 §4.1.1: the use_srtp extension type. */
#define EXT_USE_SRTP 14

/* Epoch-0 record numbers remembered for replay suppression. */
#define EPOCH0_SEEN 64

/* RFC 6347 §4.1: the 48-bit record sequence number must never wrap. Stop
 * well before: records we send in epoch 1 are counted. */
#define DTLS_SEQ_LIMIT ((UINT64_C(1) << 48) - 16)

/* Largest plaintext of one record (RFC 6347 §4.1 via RFC 5246 §6.2.1). */
#define MAX_PLAINTEXT 16384

/* TLS alert descriptions used here (RFC 5246 §7.2). */
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_HANDSHAKE_FAILURE 40
#define ALERT_DECODE_ERROR 50

typedef struct dtls12 {
  rtcsec_dtls_engine_env env;
  SSL *ssl;
  rtcsec_dgram_io io;
  uint64_t retrans_deadline;
  int fail_reason; /* set by callbacks inside OpenSSL, read after it returns */
  int alert;       /* fatal alert sent or received, -1: none */
  int alert_from_peer;
  int peer_closed;
  int done;                          /* reported connected, closed or failed */
  uint64_t epoch0_next;              /* the numbers OpenSSL sees in epoch 0 */
  uint64_t epoch0_seqs[EPOCH0_SEEN]; /* the peer's last epoch-0 numbers */
  size_t epoch0_n;
  uint64_t records_sent; /* application records in epoch 1 */
  /* What OpenSSL reported doing (msg_cb, read_records): a record it
   * discards leaves no trace here. */
  uint64_t effects;
  uint32_t hs_next_read; /* message_seq of the next handshake message OpenSSL reads */
  /* Epoch-1 datagrams from the peer that left the handshake unfinished: with
   * a pre-shared key, what a different key looks like (timeout_hint). */
  uint64_t hs_epoch1_unfinished;
} dtls12;

/* ---- OpenSSL glue: ex_data index and context ----------------------------- */

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void) { ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static dtls12 *from_ssl(const SSL *ssl) { return ssl ? SSL_get_ex_data(ssl, ex_index) : NULL; }

static void set_fail_reason(dtls12 *e, int reason) {
  if (e->fail_reason == 0)
    e->fail_reason = reason;
}

/* Replaces X509 chain validation: WebRTC certificates are self-signed and
 * authenticated only by the fingerprint from signalling (RFC 8827 §6.5),
 * which the association checks. OpenSSL still checks the CertificateVerify
 * signature on its own. */
static int verify_cb(X509_STORE_CTX *xctx, void *arg) {
  (void)arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
  dtls12 *e = from_ssl(ssl);
  if (e == NULL)
    return 0;
  /* RFC 5764 §4.1.1: a client whose offer the server ignored must not go on.
   * The ServerHello has been processed by the time the certificate is. */
  if (e->env.use_srtp && e->env.role == RTCSEC_DTLS_CLIENT &&
      SSL_get_selected_srtp_profile(ssl) == NULL) {
    set_fail_reason(e, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
  if (leaf == NULL) {
    set_fail_reason(e, RTCSEC_ERR_NO_PEER_CERTIFICATE);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  /* The chain the peer sent, for a CA (RFC 8489 §6.2.3: verified before
   * the handshake may finish, so before any STUN is sent). */
  int rc = rtcsec_dtls_engine_verify_peer(e->env.assoc, leaf, X509_STORE_CTX_get0_untrusted(xctx));
  if (rc != RTCSEC_OK) {
    set_fail_reason(e, rc);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(xctx, X509_V_OK);
  return 1;
}

/* Server side: RFC 5764 §4.1.1 use_srtp checked on the ClientHello itself,
 * so that a client without it, or without a profile in common, is refused
 * with a fatal alert inside the handshake (OpenSSL alone would just omit the
 * extension and finish). */
static int client_hello_cb(SSL *ssl, int *al, void *arg) {
  (void)arg;
  dtls12 *e = from_ssl(ssl);
  if (e == NULL)
    return SSL_CLIENT_HELLO_ERROR;
  if (!e->env.use_srtp)
    return SSL_CLIENT_HELLO_SUCCESS; /* plain DTLS: use_srtp is not ours to require */
  const unsigned char *ext = NULL;
  size_t ext_len = 0;
  if (!SSL_client_hello_get0_ext(ssl, EXT_USE_SRTP, &ext, &ext_len)) {
    set_fail_reason(e, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
    *al = ALERT_HANDSHAKE_FAILURE;
    return SSL_CLIENT_HELLO_ERROR;
  }
  /* UseSRTPData: uint16 profiles length, uint16 profiles[], uint8 mki len,
   * mki. Every length is checked before it is used. */
  size_t plen = ext_len >= 2 ? rtcsec_be16(ext) : 0;
  if (ext_len < 2 || plen < 2 || (plen & 1) || 2 + plen + 1 > ext_len ||
      2 + plen + 1 + (size_t)ext[2 + plen] != ext_len) {
    set_fail_reason(e, RTCSEC_ERR_HANDSHAKE);
    *al = ALERT_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  for (size_t off = 2; off < 2 + plen; off += 2) {
    for (size_t i = 0; i < e->env.n_profiles; i++) {
      if ((unsigned)e->env.profiles[i] == rtcsec_be16(ext + off))
        return SSL_CLIENT_HELLO_SUCCESS;
    }
  }
  set_fail_reason(e, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE);
  *al = ALERT_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

static void info_cb(const SSL *ssl, int where, int ret) {
  dtls12 *e = from_ssl(ssl);
  if (e == NULL || !(where & SSL_CB_ALERT))
    return;
  int level = (ret >> 8) & 0xff;
  int desc = ret & 0xff;
  if (where & SSL_CB_READ) {
    /* only authenticated alerts get here: plaintext ones are dropped
     * before OpenSSL sees them (check_record) */
    if (desc == ALERT_CLOSE_NOTIFY) {
      e->peer_closed = 1;
    } else if (level == SSL3_AL_FATAL && e->alert < 0) {
      e->alert = desc;
      e->alert_from_peer = 1;
    }
  } else if (level == SSL3_AL_FATAL && e->alert < 0) {
    e->alert = desc;
    e->alert_from_peer = 0;
  }
}

/* OpenSSL reports every message it reads or writes here (and, with
 * content types outside 20..22, record headers: not counted). Two uses:
 *   - a handshake message read says which message_seq OpenSSL expects next:
 *     fragments of earlier messages are retransmissions it ignores (RFC 6347
 *     §4.2.2), so check_record() drops them first and counts them;
 *   - after the handshake, a message or alert read, or anything sent in
 *     answer (a retransmitted flight, a no_renegotiation alert), is the
 *     trace of a record that authenticated (count_discarded()). */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg) {
  (void)version, (void)arg;
  dtls12 *e = from_ssl(ssl);
  if (e == NULL || content_type < 20 || content_type > 22)
    return;
  e->effects++;
  /* The DTLS handshake header: type, length (3), message_seq (2), ... */
  if (!write_p && content_type == 22 && len >= 6) {
    uint32_t seq = rtcsec_be16((const uint8_t *)buf + 4);
    if (seq + 1 > e->hs_next_read)
      e->hs_next_read = seq + 1;
  }
}

static void keylog_cb(const SSL *ssl, const char *line) {
  dtls12 *e = from_ssl(ssl);
  if (e != NULL && e->env.keylog != NULL)
    e->env.keylog(e->env.keylog_user, line);
}

/* OpenSSL asks for each timeout duration here: 0 in means the first one of
 * a flight. This is the whole retransmission schedule (RFC 6347 §4.2.4.1,
 * with the shorter initial value WebRTC uses). */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us) {
  dtls12 *e = from_ssl(ssl);
  uint64_t next = e ? e->env.rto_initial_us : 1000000;
  if (e != NULL && prev_us != 0) {
    next = (uint64_t)prev_us * 2;
    if (next > e->env.rto_max_us)
      next = e->env.rto_max_us;
  }
  return next > UINT_MAX ? UINT_MAX : (unsigned int)next;
}

/* RFC 8827 §6.5 cipher policy: ECDHE only (forward secrecy), AEAD only,
 * TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 first. */
static const char cipher_list[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                                  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";
/* Plain DTLS adds RFC 7925 §4.4's TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, last:
 * it is what a device must implement, not what is strongest. */
static const char cipher_list_plain[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-CCM8";
/* With a pre-shared key: RFC 7925 §4.2's TLS_PSK_WITH_AES_128_CCM_8 first. */
static const char cipher_list_psk[] = "PSK-AES128-CCM8:PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:"
                                      "PSK-CHACHA20-POLY1305";

/* RFC 4279 §2, client: our identity and key once the server chose a
 * pre-shared-key suite. */
static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_identity_len, unsigned char *psk,
                                  unsigned int max_psk_len) {
  (void)hint; /* RFC 7925 §4.2: the identity is configured, not chosen by a hint */
  dtls12 *e = from_ssl(ssl);
  if (e == NULL || e->env.psk_len == 0)
    return 0;
  size_t il = strlen(e->env.psk_identity);
  if (il + 1 > max_identity_len || e->env.psk_len > max_psk_len)
    return 0;
  memcpy(identity, e->env.psk_identity, il + 1);
  memcpy(psk, e->env.psk, e->env.psk_len);
  rtcsec_dtls_engine_peer_psk(e->env.assoc);
  return (unsigned int)e->env.psk_len;
}

/* RFC 4279 §2, server: the key for the client's identity, which must be
 * ours; another identity ends the handshake with unknown_psk_identity. */
static unsigned int psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                  unsigned int max_psk_len) {
  dtls12 *e = from_ssl(ssl);
  if (e == NULL || e->env.psk_len == 0 || e->env.psk_len > max_psk_len)
    return 0;
  if (identity == NULL || strcmp(identity, e->env.psk_identity) != 0) {
    set_fail_reason(e, RTCSEC_ERR_PSK_UNKNOWN_IDENTITY);
    return 0;
  }
  memcpy(psk, e->env.psk, e->env.psk_len);
  rtcsec_dtls_engine_peer_psk(e->env.assoc);
  return (unsigned int)e->env.psk_len;
}

/* The context shared by the associations of one certificate, or (cert
 * NULL: a pre-shared key only) one association's own. */
static int make_ctx(const rtcsec_cert *cert, SSL_CTX **out) {
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  if (ctx == NULL)
    return RTCSEC_ERR_CRYPTO;
  int ok = SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) &&
           SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) &&
           (cert == NULL || (SSL_CTX_use_certificate(ctx, rtcsec_cert_x509(cert)) &&
                             SSL_CTX_use_PrivateKey(ctx, rtcsec_cert_pkey(cert)) &&
                             SSL_CTX_check_private_key(ctx))) &&
           SSL_CTX_set_cipher_list(ctx, cipher_list) &&
           SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  if (!ok) {
    SSL_CTX_free(ctx);
    return RTCSEC_ERR_CRYPTO;
  }
  /* No renegotiation (RFC 8827), no compression, no tickets or session
   * cache (every association is fresh), our MTU, not the BIO's guess. */
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  /* RFC 5763 §5: the server MUST request the client's certificate. */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  SSL_CTX_set_cert_verify_callback(ctx, verify_cb, NULL);
  SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
  SSL_CTX_set_info_callback(ctx, info_cb);
  SSL_CTX_set_keylog_callback(ctx, keylog_cb);
  *out = ctx;
  return RTCSEC_OK;
}

/* ---- failure -------------------------------------------------------------- */

/* Which rtcsec error a failed OpenSSL call stands for. */
static int classify_failure(dtls12 *e) {
  if (e->fail_reason != 0)
    return e->fail_reason;
  if (e->io.write_failed)
    return RTCSEC_ERR_NO_MEMORY;
  if (e->alert >= 0 && e->alert_from_peer)
    return RTCSEC_ERR_PEER_ALERT;
  switch (ERR_GET_REASON(ERR_peek_last_error())) {
  case SSL_R_READ_TIMEOUT_EXPIRED:
    return RTCSEC_ERR_HANDSHAKE_TIMEOUT;
  case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    return RTCSEC_ERR_NO_PEER_CERTIFICATE;
  case SSL_R_BAD_SRTP_PROTECTION_PROFILE_LIST:
  case SSL_R_NO_SRTP_PROFILES:
    return RTCSEC_ERR_SRTP_BAD_PROFILE;
  case SSL_R_NO_RENEGOTIATION:
    return RTCSEC_ERR_RENEGOTIATION;
  case ERR_R_MALLOC_FAILURE:
    return RTCSEC_ERR_NO_MEMORY;
  default:
    return RTCSEC_ERR_HANDSHAKE;
  }
}

/* Reports the failure once, with OpenSSL's own words for what OpenSSL
 * decided (the association uses its own for its own reasons). */
static void fail(dtls12 *e, int code) {
  if (e->done)
    return;
  e->done = 1;
  e->retrans_deadline = UINT64_MAX;
  char text[256] = "";
  unsigned long err = ERR_peek_last_error();
  if (err != 0 && e->fail_reason == 0)
    ERR_error_string_n(err, text, sizeof(text));
  ERR_clear_error();
  rtcsec_dtls_engine_failed(e->env.assoc, code, e->alert, e->alert_from_peer,
                            text[0] ? text : NULL);
}

/* ---- what reaches OpenSSL --------------------------------------------------
 *
 * RFC 6347 §4.1.2.7: invalid records are discarded silently. Nothing that
 * arrives on the network carries proof of the peer's keys until it has
 * been decrypted, so a record that cannot possibly authenticate must never
 * reach code that may treat it as fatal. OpenSSL 3.0 does, depending on
 * the patch release: 3.0.19 fails a connected association with
 * internal_error on an encrypted record shorter than the AEAD's explicit
 * nonce + tag, and every 3.0 release ends a handshake on a plaintext alert
 * or on a handshake fragment whose lengths do not add up. The checks below
 * are rtcsec's own, so the behaviour is the same on every OpenSSL 3.0.x:
 *   - content type 20..23 only (RFC 6347 §4.1);
 *   - epoch 0 only while handshaking (the peer's flights), epoch 1 only
 *     once a cipher is being negotiated; never an epoch beyond (no
 *     renegotiation, RFC 8827);
 *   - epoch 1: version DTLS 1.2 and at least the negotiated AEAD's
 *     overhead (explicit nonce + tag); no ChangeCipherSpec;
 *   - epoch 0: version DTLS 1.0 or 1.2 (a ClientHello's record may say
 *     1.0, RFC 6347 §4.2.1); no application data; ChangeCipherSpec exactly
 *     the one byte 1; handshake fragments whose headers add up, whose
 *     message types are ones this role receives and of which at least one
 *     belongs to a message OpenSSL has not read yet; alerts are counted and
 *     dropped: an unauthenticated alert never ends a handshake (the side
 *     that detects a fingerprint mismatch still fails at once: it is its
 *     own decision).
 */

#define REC_HDR 13
#define HS_HDR 12
/* Largest handshake message taken (a certificate chain included). */
#define HS_MAX_MESSAGE (128 * 1024)

/* RFC 5246 §7.4 handshake types this role receives in epoch 0. */
static int expected_handshake_type(const dtls12 *e, uint8_t type) {
  if (e->env.role == RTCSEC_DTLS_SERVER)
    return type == 1 /* client_hello */ || type == 11 /* certificate */ ||
           type == 15 /* certificate_verify */ || type == 16 /* client_key_exchange */;
  return type == 2 /* server_hello */ || type == 3 /* hello_verify_request */ ||
         type == 11 /* certificate */ || type == 12 /* server_key_exchange */ ||
         type == 13 /* certificate_request */ || type == 14 /* server_hello_done */;
}

/* RFC 6347 §4.2.2: every fragment header in the record body adds up, and
 * at least one fragment belongs to a message OpenSSL has not read yet (it
 * ignores the others: copies of what it already has, whatever their record
 * number). */
static int handshake_fragments_useful(const dtls12 *e, const uint8_t *p, size_t n) {
  if (n == 0)
    return 0;
  size_t off = 0;
  int any_new = 0;
  while (off < n) {
    if (n - off < HS_HDR)
      return 0;
    const uint8_t *h = p + off;
    size_t msg_len = rtcsec_be24(h + 1), frag_off = rtcsec_be24(h + 6),
           frag_len = rtcsec_be24(h + 9);
    if (!expected_handshake_type(e, h[0]) || msg_len > HS_MAX_MESSAGE || frag_off > msg_len ||
        frag_len > msg_len - frag_off || frag_len > n - off - HS_HDR)
      return 0;
    if (rtcsec_be16(h + 4) >= e->hs_next_read)
      any_new = 1;
    off += HS_HDR + frag_len;
  }
  return any_new;
}

/* RFC 6655 §3 and RFC 7251 §2: the AES-CCM suites whose tag is 8 bytes
 * (the "_CCM_8" ones) by IANA number; the others have 16. */
static int is_ccm8(const SSL_CIPHER *c) {
  switch (SSL_CIPHER_get_protocol_id(c)) {
  case 0xC0A0: /* TLS_RSA_WITH_AES_128_CCM_8 */
  case 0xC0A1: /* TLS_RSA_WITH_AES_256_CCM_8 */
  case 0xC0A2: /* TLS_DHE_RSA_WITH_AES_128_CCM_8 */
  case 0xC0A3: /* TLS_DHE_RSA_WITH_AES_256_CCM_8 */
  case 0xC0A8: /* TLS_PSK_WITH_AES_128_CCM_8 (RFC 7925 §4.2) */
  case 0xC0A9: /* TLS_PSK_WITH_AES_256_CCM_8 */
  case 0xC0AA: /* TLS_PSK_DHE_WITH_AES_128_CCM_8 */
  case 0xC0AB: /* TLS_PSK_DHE_WITH_AES_256_CCM_8 */
  case 0xC0AE: /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 (RFC 7925 §4.4) */
  case 0xC0AF: /* TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8 */
    return 1;
  default:
    return 0;
  }
}

/* Bytes a record adds around its plaintext under a cipher suite; 0 for a
 * suite rtcsec does not take (only AEADs: RFC 8827 §6.5, RFC 7925 §4). GCM
 * and CCM have an 8-byte explicit nonce and a 16-byte tag (RFC 5288 §3,
 * RFC 6655 §3), CCM_8 an 8-byte tag (RFC 6655 §3), ChaCha20-Poly1305 the
 * tag only (RFC 7905 §2). */
static size_t cipher_overhead(const SSL_CIPHER *c) {
  switch (SSL_CIPHER_get_cipher_nid(c)) {
  case NID_aes_128_gcm:
  case NID_aes_256_gcm:
    return 8 + 16;
  case NID_aes_128_ccm:
  case NID_aes_256_ccm:
    return 8 + (is_ccm8(c) ? 8 : 16);
  case NID_chacha20_poly1305:
    return 16;
  default:
    return 0;
  }
}

/* The overhead of the cipher negotiated (or being negotiated); 0 if none
 * is known yet. */
static size_t aead_overhead(const dtls12 *e) {
  const SSL_CIPHER *c = SSL_get_current_cipher(e->ssl);
  if (c == NULL)
    c = SSL_get_pending_cipher(e->ssl);
  return c != NULL ? cipher_overhead(c) : 0;
}

typedef enum record_verdict {
  RECORD_KEEP = 0,
  RECORD_DROP,    /* cannot authenticate or cannot be valid here */
  RECORD_ALERT_0, /* an unauthenticated alert: counted, remembered, dropped */
} record_verdict;

static record_verdict check_record(const dtls12 *e, const uint8_t *rec, size_t rl) {
  uint8_t type = rec[0];
  size_t version = rtcsec_be16(rec + 1), epoch = rtcsec_be16(rec + 3);
  const uint8_t *body = rec + REC_HDR;
  size_t n = rl - REC_HDR;
  if (type < 20 || type > 23)
    return RECORD_DROP;
  if (epoch == 1) {
    size_t overhead = aead_overhead(e);
    if (version != 0xfefd || type == 20 || overhead == 0 || n < overhead)
      return RECORD_DROP;
    return RECORD_KEEP;
  }
  if (epoch != 0 || SSL_is_init_finished(e->ssl) || (version != 0xfefd && version != 0xfeff))
    return RECORD_DROP;
  switch (type) {
  case 20: /* change_cipher_spec: RFC 5246 §7.1, one byte of value 1 */
    return n == 1 && body[0] == 1 ? RECORD_KEEP : RECORD_DROP;
  case 21:
    return n == 2 ? RECORD_ALERT_0 : RECORD_DROP;
  case 22:
    return handshake_fragments_useful(e, body, n) ? RECORD_KEEP : RECORD_DROP;
  default: /* application data in epoch 0 */
    return RECORD_DROP;
  }
}

/* Epoch-0 record sequence numbers are not authenticated, yet OpenSSL's
 * replay window moves on them: one forged handshake fragment numbered 2^47
 * would make every genuine record of the handshake "too old", and the
 * handshake would stall. So OpenSSL never sees the peer's epoch-0 numbers:
 * each epoch-0 record it gets is renumbered from rtcsec's own counter, and
 * replay suppression for epoch 0 is done here, on the exact numbers of the
 * last EPOCH0_SEEN records (a set, not a window that forged numbers could
 * push). Duplicated handshake fragments are harmless anyway: OpenSSL's
 * reassembly ignores what it already has. Epoch 1 numbers are authenticated
 * (they are in the AEAD nonce and additional data) and left alone. */
static int epoch0_seen(dtls12 *e, uint64_t seq) {
  for (size_t i = 0; i < EPOCH0_SEEN && i < e->epoch0_n; i++) {
    if (e->epoch0_seqs[i] == seq)
      return 1;
  }
  e->epoch0_seqs[e->epoch0_n++ % EPOCH0_SEEN] = seq;
  return 0;
}

/* Writes the records worth giving to OpenSSL into out (at most len bytes),
 * epoch-0 ones renumbered; returns their total length and counts the
 * others. A datagram whose framing runs past its end keeps what came
 * before. */
static size_t filter_records(dtls12 *e, const uint8_t *data, size_t len, uint8_t *out,
                             size_t *n_kept) {
  size_t off = 0, kept = 0;
  *n_kept = 0;
  while (off < len) {
    size_t rl = len - off < REC_HDR ? 0 : REC_HDR + rtcsec_be16(data + off + 11);
    if (rl == 0 || rl > len - off) {
      e->env.stats->records_dropped++; /* a truncated record: the rest is unusable */
      break;
    }
    const uint8_t *rec = data + off;
    off += rl;
    record_verdict v = check_record(e, rec, rl);
    if (v == RECORD_KEEP && rtcsec_be16(rec + 3) == 0 && epoch0_seen(e, rtcsec_be48(rec + 5)))
      v = RECORD_DROP;
    if (v != RECORD_KEEP) {
      if (v == RECORD_ALERT_0)
        rtcsec_dtls_engine_unauthenticated_alert(e->env.assoc, rec[REC_HDR], rec[REC_HDR + 1]);
      e->env.stats->records_dropped++;
      continue;
    }
    memcpy(out + kept, rec, rl);
    if (rtcsec_be16(rec + 3) == 0)
      rtcsec_put_be48(out + kept + 5, e->epoch0_next++);
    kept += rl;
    (*n_kept)++;
  }
  return kept;
}

/* The number of records if the datagram is only well-framed epoch-1
 * records that pass check_record() (the common case after the handshake,
 * taken without a copy), else 0. */
static size_t only_epoch1_records(const dtls12 *e, const uint8_t *data, size_t len) {
  size_t off = 0, n = 0;
  while (off < len) {
    if (len - off < REC_HDR)
      return 0;
    size_t rl = REC_HDR + rtcsec_be16(data + off + 11);
    if (rl > len - off || rtcsec_be16(data + off + 3) != 1 ||
        check_record(e, data + off, rl) != RECORD_KEEP)
      return 0;
    off += rl;
    n++;
  }
  return n;
}

/* After the handshake OpenSSL discards, silently (RFC 6347 §4.1.2.7), the
 * epoch-1 records that pass check_record() but do not authenticate:
 * forged or damaged ones, repeats of a record already received, and those
 * behind its 64-record replay window. Each record handed to it that left
 * no trace (no data, no message or alert read, nothing sent in answer) is
 * counted as discarded, and a datagram none of whose records did anything
 * as dropped: every unauthenticated datagram lands in a counter. A
 * retransmitted Finished, which OpenSSL answers by resending its last
 * flight, is not counted (the answer is its trace). */
static void count_discarded(dtls12 *e, size_t handed, uint64_t effects_before) {
  uint64_t effects = e->effects - effects_before;
  if (effects < handed)
    e->env.stats->records_discarded += handed - effects;
  if (effects == 0)
    e->env.stats->datagrams_dropped++;
}

/* ---- driving OpenSSL ------------------------------------------------------- */

static void update_deadline(dtls12 *e, uint64_t now) {
  struct timeval tv;
  e->retrans_deadline = UINT64_MAX;
  if (e->done && !SSL_is_init_finished(e->ssl))
    return;
  /* Remaining time on OpenSSL's clock, moved onto the caller's clock. */
  if (DTLSv1_get_timeout(e->ssl, &tv) == 1 && tv.tv_sec >= 0 && tv.tv_usec >= 0)
    e->retrans_deadline = now + (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Application data and the peer's close, after the handshake. Each record
 * is decrypted straight into the association's event data: no copy and no
 * allocation per record once its buffer has grown. */
static void read_records(dtls12 *e) {
  for (;;) {
    ERR_clear_error();
    uint8_t *room = rtcsec_dtls_engine_data_room(e->env.assoc, MAX_PLAINTEXT);
    uint8_t scrap[256];
    int n = SSL_read(e->ssl, room ? room : scrap, room ? MAX_PLAINTEXT : (int)sizeof(scrap));
    if (n > 0) {
      e->env.stats->records_authenticated++;
      e->effects++;
      if (room != NULL)
        rtcsec_dtls_engine_data_commit(e->env.assoc, (size_t)n);
      else
        e->env.stats->data_dropped++;
      OPENSSL_cleanse(scrap, sizeof(scrap));
      continue;
    }
    int err = SSL_get_error(e->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN || e->peer_closed) {
      e->env.stats->records_authenticated++;
      e->done = 1;
      e->retrans_deadline = UINT64_MAX;
      rtcsec_dtls_engine_closed(e->env.assoc);
    } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      fail(e, classify_failure(e));
    }
    break;
  }
}

/* Moves OpenSSL forward after input or a timeout. */
static void drive(dtls12 *e, uint64_t now) {
  int connected_now = 0;
  if (!e->done && !SSL_is_init_finished(e->ssl)) {
    ERR_clear_error();
    int r = SSL_do_handshake(e->ssl);
    if (r == 1) {
      connected_now = 1;
      rtcsec_dtls_engine_connected(e->env.assoc, now);
    } else {
      int err = SSL_get_error(e->ssl, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        fail(e, classify_failure(e));
    }
  }
  /* Records after the handshake: application data, the peer's close, its
   * retransmitted Finished (OpenSSL answers it), a renegotiation attempt.
   * Also right after the handshake completed: the datagram that finished
   * it may carry more records, already in OpenSSL's read buffer. */
  if (SSL_is_init_finished(e->ssl) && (!e->done || connected_now) &&
      (e->io.in != NULL || SSL_pending(e->ssl) > 0 || SSL_has_pending(e->ssl)))
    read_records(e);
  e->io.in = NULL;
  e->io.in_len = 0;
  if (e->io.write_failed)
    fail(e, RTCSEC_ERR_NO_MEMORY);
  update_deadline(e, now);
}

/* ---- the engine operations ------------------------------------------------- */

static int set_profiles(dtls12 *e) {
  char list[128] = "";
  for (size_t i = 0; i < e->env.n_profiles; i++) {
    const char *name = rtcsec_srtp_profile_openssl_name(e->env.profiles[i]);
    if (name == NULL)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    if (i > 0)
      strcat(list, ":");
    strcat(list, name);
  }
  /* Note the inverted convention: 0 is success here. */
  return SSL_set_tlsext_use_srtp(e->ssl, list) == 0 ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

/* The cipher suites of this association: the configured list or the
 * default for its use. Every suite must be an AEAD whose overhead the
 * record filter knows (an unknown one would have every record dropped); a
 * pre-shared-key suite needs a key, and without a certificate only such
 * suites can work. */
static int set_ciphers(dtls12 *e) {
  const char *list = e->env.ciphers;
  if (list == NULL)
    list = e->env.psk_len > 0 ? cipher_list_psk : e->env.use_srtp ? cipher_list : cipher_list_plain;
  if (!SSL_set_cipher_list(e->ssl, list)) {
    ERR_clear_error();
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  STACK_OF(SSL_CIPHER) *cs = SSL_get_ciphers(e->ssl);
  int n_psk = 0, n_cert = 0;
  for (int i = 0; i < sk_SSL_CIPHER_num(cs); i++) {
    const SSL_CIPHER *c = sk_SSL_CIPHER_value(cs, i);
    if (cipher_overhead(c) == 0)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    if (SSL_CIPHER_get_auth_nid(c) == NID_auth_psk)
      n_psk++;
    else
      n_cert++;
  }
  if ((n_psk > 0 && e->env.psk_len == 0) || (e->env.cert == NULL && n_psk == 0) ||
      n_psk + n_cert == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (e->env.groups != NULL && !SSL_set1_groups_list(e->ssl, e->env.groups)) {
    ERR_clear_error();
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (e->env.psk_len > 0) {
    SSL_set_psk_client_callback(e->ssl, psk_client_cb);
    SSL_set_psk_server_callback(e->ssl, psk_server_cb);
  }
  return RTCSEC_OK;
}

static void op_free(void *p) {
  dtls12 *e = p;
  if (e == NULL)
    return;
  SSL_free(e->ssl); /* frees the BIO and OpenSSL's keys */
  OPENSSL_cleanse(e, sizeof(*e));
  free(e);
}

int rtcsec_dtls12_new(void **out, const rtcsec_dtls_engine_env *env) {
  *out = NULL;
  if (pthread_once(&ex_once, ex_init) != 0 || ex_index < 0)
    return RTCSEC_ERR_CRYPTO;
  dtls12 *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  e->env = *env;
  e->alert = -1;
  e->retrans_deadline = UINT64_MAX;
  e->io.mtu = env->mtu;
  e->io.out = env->out;
  SSL_CTX *ctx = NULL;
  /* Without a certificate (a pre-shared key only) the context is this
   * association's own: the shared ones live in certificates. */
  int rc =
      env->cert != NULL ? rtcsec_cert_ssl_ctx(env->cert, make_ctx, &ctx) : make_ctx(NULL, &ctx);
  if (rc != RTCSEC_OK)
    goto err;
  e->ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);
  rc = RTCSEC_ERR_NO_MEMORY;
  if (e->ssl == NULL)
    goto err;
  rc = RTCSEC_ERR_CRYPTO;
  if (!SSL_set_ex_data(e->ssl, ex_index, e))
    goto err;
  BIO *bio = rtcsec_dgram_bio_new(&e->io);
  if (bio == NULL)
    goto err;
  SSL_set_bio(e->ssl, bio, bio); /* same BIO both ways: one reference moves */
  /* SSL_OP_NO_QUERY_MTU is set: OpenSSL uses exactly this datagram size. */
  if (!SSL_set_mtu(e->ssl, (long)env->mtu))
    goto err;
  /* No record is ever larger than a datagram, and OpenSSL sizes its write
   * buffer from this (16 KiB by default): 15 KiB less per session. */
  if (!SSL_set_max_send_fragment(e->ssl, env->mtu < 512 ? 512 : (long)env->mtu))
    goto err;
  DTLS_set_timer_cb(e->ssl, timer_cb);
  SSL_set_msg_callback(e->ssl, msg_cb);
  rc = env->use_srtp ? set_profiles(e) : RTCSEC_OK;
  if (rc == RTCSEC_OK)
    rc = set_ciphers(e);
  if (rc != RTCSEC_OK)
    goto err;
  if (env->role == RTCSEC_DTLS_CLIENT)
    SSL_set_connect_state(e->ssl);
  else
    SSL_set_accept_state(e->ssl);
  *out = e;
  return RTCSEC_OK;
err:
  ERR_clear_error();
  op_free(e);
  return rc;
}

static int op_start(void *p, uint64_t now) {
  dtls12 *e = p;
  if (e->env.role == RTCSEC_DTLS_CLIENT)
    drive(e, now);
  return RTCSEC_OK;
}

/* Epoch-1 records among the well-framed records of data (what OpenSSL is
 * about to be given). */
static uint64_t count_epoch1_records(const uint8_t *data, size_t len) {
  uint64_t n = 0;
  for (size_t off = 0; len - off >= REC_HDR;) {
    size_t rl = REC_HDR + rtcsec_be16(data + off + 11);
    if (rl > len - off)
      break;
    if (rtcsec_be16(data + off + 3) == 1)
      n++;
    off += rl;
  }
  return n;
}

/* Gives OpenSSL the records kept. During the handshake, epoch-1 records
 * that leave it unfinished are remembered: with a pre-shared key that is
 * what a different key looks like (timeout_hint). After the handshake,
 * what OpenSSL discards is counted by count_discarded(). */
static void feed(dtls12 *e, const uint8_t *data, size_t len, uint64_t now) {
  int finished = SSL_is_init_finished(e->ssl);
  uint64_t epoch1 = finished ? 0 : count_epoch1_records(data, len);
  e->io.in = data;
  e->io.in_len = len;
  drive(e, now);
  if (epoch1 > 0 && !SSL_is_init_finished(e->ssl) && !e->done)
    e->hs_epoch1_unfinished++;
}

static int op_handle_datagram(void *p, const uint8_t *data, size_t len, uint64_t now) {
  dtls12 *e = p;
  int connected = SSL_is_init_finished(e->ssl);
  uint64_t effects = e->effects;
  size_t handed = len > 0 ? only_epoch1_records(e, data, len) : 0;
  if (handed > 0) {
    feed(e, data, len, now);
  } else {
    /* The handshake, or something to drop: the records worth keeping go
     * to OpenSSL from a copy (epoch 0 renumbered, see filter_records());
     * on the stack for datagrams up to a usual MTU. */
    uint8_t small[1500];
    uint8_t *clean = len <= sizeof(small) ? small : malloc(len);
    if (clean == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    size_t kept = len > 0 ? filter_records(e, data, len, clean, &handed) : 0;
    if (kept == 0) {
      e->env.stats->datagrams_dropped++;
    } else {
      feed(e, clean, kept, now);
    }
    if (clean != small)
      free(clean);
  }
  if (connected && handed > 0)
    count_discarded(e, handed, effects);
  return RTCSEC_OK;
}

static int op_handle_timeout(void *p, uint64_t now) {
  dtls12 *e = p;
  if (e->retrans_deadline == UINT64_MAX || now < e->retrans_deadline)
    return RTCSEC_OK;
  ERR_clear_error();
  int r = DTLSv1_handle_timeout(e->ssl);
  if (r > 0)
    e->env.stats->retransmissions++;
  else if (r < 0)
    fail(e, classify_failure(e));
  update_deadline(e, now);
  return RTCSEC_OK;
}

static uint64_t op_deadline(const void *p) { return ((const dtls12 *)p)->retrans_deadline; }

static int op_send_data(void *p, const uint8_t *data, size_t len, uint64_t now) {
  dtls12 *e = p;
  /* OpenSSL does not split application data by MTU: one record must fit
   * one datagram (RFC 6347 §4.1.1), so refuse what would not. */
  size_t room = DTLS_get_data_mtu(e->ssl);
  if (room == 0 || len > room)
    return RTCSEC_ERR_TOO_LARGE;
  if (e->records_sent >= DTLS_SEQ_LIMIT)
    return RTCSEC_ERR_KEY_EXHAUSTED;
  ERR_clear_error();
  int n = SSL_write(e->ssl, data, (int)len);
  if (n <= 0 || (size_t)n != len) {
    int code = classify_failure(e);
    fail(e, code);
    return code;
  }
  e->records_sent++;
  update_deadline(e, now);
  return RTCSEC_OK;
}

static void op_close(void *p, uint64_t now) {
  (void)now;
  dtls12 *e = p;
  if (SSL_is_init_finished(e->ssl) && !e->done) {
    ERR_clear_error();
    (void)SSL_shutdown(e->ssl); /* queues close_notify; we do not wait for the peer's */
    ERR_clear_error();
  }
  e->done = 1;
  e->retrans_deadline = UINT64_MAX;
}

static int op_export_material(const void *p, const char *label, uint8_t *out, size_t len) {
  const dtls12 *e = p;
  /* RFC 5705 §4, no context */
  if (SSL_export_keying_material(e->ssl, out, len, label, strlen(label), NULL, 0, 0) != 1) {
    ERR_clear_error();
    return RTCSEC_ERR_CRYPTO;
  }
  return RTCSEC_OK;
}

static void op_connected_info(const void *p, rtcsec_connected_info *info) {
  const dtls12 *e = p;
  const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(e->ssl);
  info->profile = sp ? (rtcsec_srtp_profile)sp->id : RTCSEC_SRTP_NONE;
  info->version = SSL_get_version(e->ssl);
  info->cipher = SSL_get_cipher_name(e->ssl);
  const char *group = SSL_group_to_name(e->ssl, SSL_get_negotiated_group(e->ssl));
  info->group = group ? group : "";
}

static int op_has_sent(const void *p) {
  const dtls12 *e = p;
  return e->env.stats->datagrams_sent > 0 || rtcsec_dgram_queue_count(e->env.out) > 0;
}

/* With a pre-shared key a different key does not fail the handshake: the
 * Finished that cannot be decrypted is dropped like any forged record
 * (RFC 6347 §4.1.2.7), and the handshake times out. Say so. */
static const char *op_timeout_hint(const void *p) {
  const dtls12 *e = p;
  if (e->env.psk_len == 0 || SSL_is_init_finished(e->ssl))
    return NULL;
  if (e->hs_epoch1_unfinished > 0)
    return "the peer's encrypted Finished never authenticated: a different pre-shared key?";
  if (e->env.role == RTCSEC_DTLS_CLIENT && SSL_get_state(e->ssl) == TLS_ST_CW_FINISHED)
    return "the server never answered our Finished: a different pre-shared key?";
  return NULL;
}

void rtcsec_dtls12_test_set_records_sent(void *p, uint64_t n) { ((dtls12 *)p)->records_sent = n; }

const rtcsec_dtls_engine_ops rtcsec_dtls12_ops = {
    .name = "openssl-dtls1.2",
    .free = op_free,
    .start = op_start,
    .handle_datagram = op_handle_datagram,
    .handle_timeout = op_handle_timeout,
    .deadline = op_deadline,
    .send_data = op_send_data,
    .close = op_close,
    .export_material = op_export_material,
    .connected_info = op_connected_info,
    .has_sent = op_has_sent,
    .timeout_hint = op_timeout_hint,
};
