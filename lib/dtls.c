/* The DTLS 1.2 association: OpenSSL driven sans-IO. See rtcsec/dtls.h for
 * the contract; this file keeps OpenSSL's quirks away from it. */
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls_bio.h"
#include "dtls_internal.h"
#include "profile_internal.h"
#include "rtcsec/dtls.h"
#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"

/* RFC 5764 §4.2: the exporter label for DTLS-SRTP keys. */
static const char srtp_exporter_label[] = "EXTRACTOR-dtls_srtp";

/* RFC 5764 §4.1.1: the use_srtp extension type. */
#define EXT_USE_SRTP 14

/* Epoch-0 record numbers remembered for replay suppression. */
#define EPOCH0_SEEN 64

/* Bounds on what is held while no expected fingerprint is known. */
#define HELD_MAX_DATAGRAMS 32
#define HELD_MAX_BYTES (64 * 1024)

/* RFC 6347 §4.1: the 48-bit record sequence number must never wrap. Stop
 * well before: records we send in epoch 1 are counted. */
#define DTLS_SEQ_LIMIT ((UINT64_C(1) << 48) - 16)

/* TLS alert descriptions used here (RFC 5246 §7.2). */
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_BAD_CERTIFICATE 42
#define ALERT_HANDSHAKE_FAILURE 40
#define ALERT_DECODE_ERROR 50

typedef struct event_node {
  rtcsec_dtls_event ev;
  uint8_t *data; /* owned copy for DATA events */
} event_node;

struct rtcsec_dtls {
  rtcsec_dtls_role role;
  rtcsec_dtls_state state;
  rtcsec_cert *cert;
  SSL *ssl;
  rtcsec_dgram_io io;

  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  rtcsec_fingerprint fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_fps;

  uint64_t rto_initial_us, rto_max_us, handshake_timeout_us;
  void (*keylog)(void *user, const char *line);
  void *keylog_user;

  uint64_t start_us;
  uint64_t retrans_deadline;

  int error;
  int fail_reason; /* set by callbacks inside OpenSSL, read after it returns */
  int alert;
  int alert_from_peer;
  int peer_closed;
  int unauth_alert_level, unauth_alert; /* last unauthenticated alert, -1: none */
  char detail[384];

  rtcsec_fingerprint matched_fp;
  int peer_verified;

  rtcsec_dgram_queue held;
  uint64_t epoch0_next;                /* the numbers OpenSSL sees in epoch 0 */
  uint64_t epoch0_seqs[EPOCH0_SEEN];   /* the peer's last epoch-0 numbers */
  size_t epoch0_n;
  uint64_t records_sent; /* application records in epoch 1 */

  event_node *events;
  size_t ev_head, ev_count, ev_cap;
  uint8_t *last_data; /* data of the last DATA event handed out */

  rtcsec_dtls_stats stats;
};

/* ---- OpenSSL glue: ex_data index and context ----------------------------- */

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void) { ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static rtcsec_dtls *from_ssl(const SSL *ssl) { return ssl ? SSL_get_ex_data(ssl, ex_index) : NULL; }

static void set_fail_reason(rtcsec_dtls *d, int reason) {
  if (d->fail_reason == 0)
    d->fail_reason = reason;
}

/* Digest of the peer's leaf certificate checked against every expected
 * fingerprint (RFC 8122 §5: any listed hash function). CRYPTO_memcmp keeps
 * the comparison constant-time in the digest. */
static int fingerprint_matches(rtcsec_dtls *d, X509 *leaf) {
  unsigned char *der = NULL;
  int der_len = i2d_X509(leaf, &der);
  if (der_len <= 0)
    return 0;
  int matched = 0;
  for (size_t i = 0; i < d->n_fps; i++) {
    rtcsec_fingerprint got;
    if (rtcsec_fingerprint_of_der(der, (size_t)der_len, d->fps[i].hash, &got) != RTCSEC_OK)
      continue;
    if (rtcsec_fingerprint_equal(&got, &d->fps[i]) && !matched) {
      d->matched_fp = got;
      matched = 1;
    }
  }
  OPENSSL_free(der);
  return matched;
}

/* The detail of a mismatch names the certificate that was refused. */
static void describe_mismatch(rtcsec_dtls *d, X509 *leaf) {
  unsigned char *der = NULL;
  int der_len = i2d_X509(leaf, &der);
  rtcsec_fingerprint got;
  char text[RTCSEC_FINGERPRINT_STRLEN];
  if (der_len > 0 &&
      rtcsec_fingerprint_of_der(der, (size_t)der_len, RTCSEC_HASH_SHA256, &got) == RTCSEC_OK &&
      rtcsec_fingerprint_format(&got, text, sizeof(text), NULL) == RTCSEC_OK)
    snprintf(d->detail, sizeof(d->detail),
             "the peer certificate (%s) matches none of the %zu expected fingerprints", text,
             d->n_fps);
  OPENSSL_free(der);
}

/* Replaces X509 chain validation: WebRTC certificates are self-signed and
 * authenticated only by the fingerprint from signalling (RFC 8827 §6.5).
 * OpenSSL still checks the CertificateVerify signature on its own. */
static int verify_cb(X509_STORE_CTX *xctx, void *arg) {
  (void)arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(xctx, SSL_get_ex_data_X509_STORE_CTX_idx());
  rtcsec_dtls *d = from_ssl(ssl);
  if (d == NULL)
    return 0;
  /* RFC 5764 §4.1.1: a client whose offer the server ignored must not go on.
   * The ServerHello has been processed by the time the certificate is. */
  if (d->role == RTCSEC_DTLS_CLIENT && SSL_get_selected_srtp_profile(ssl) == NULL) {
    set_fail_reason(d, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  X509 *leaf = X509_STORE_CTX_get0_cert(xctx);
  if (leaf == NULL) {
    set_fail_reason(d, RTCSEC_ERR_NO_PEER_CERTIFICATE);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  /* The association holds the certificate-bearing flight until a
   * fingerprint is known, so none known here is an invariant breach: fail
   * closed rather than accept. */
  if (d->n_fps == 0 || !fingerprint_matches(d, leaf)) {
    describe_mismatch(d, leaf);
    set_fail_reason(d, RTCSEC_ERR_FINGERPRINT_MISMATCH);
    X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  d->peer_verified = 1;
  X509_STORE_CTX_set_error(xctx, X509_V_OK);
  return 1;
}

/* Server side: RFC 5764 §4.1.1 use_srtp checked on the ClientHello itself,
 * so that a client without it, or without a profile in common, is refused
 * with a fatal alert inside the handshake (OpenSSL alone would just omit the
 * extension and finish). */
static int client_hello_cb(SSL *ssl, int *al, void *arg) {
  (void)arg;
  rtcsec_dtls *d = from_ssl(ssl);
  if (d == NULL)
    return SSL_CLIENT_HELLO_ERROR;
  const unsigned char *ext = NULL;
  size_t ext_len = 0;
  if (!SSL_client_hello_get0_ext(ssl, EXT_USE_SRTP, &ext, &ext_len)) {
    set_fail_reason(d, RTCSEC_ERR_SRTP_NOT_NEGOTIATED);
    *al = ALERT_HANDSHAKE_FAILURE;
    return SSL_CLIENT_HELLO_ERROR;
  }
  /* UseSRTPData: uint16 profiles length, uint16 profiles[], uint8 mki len,
   * mki. Every length is checked before it is used. */
  if (ext_len < 2) {
    set_fail_reason(d, RTCSEC_ERR_HANDSHAKE);
    *al = ALERT_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  size_t plen = ((size_t)ext[0] << 8) | ext[1];
  if (plen < 2 || (plen & 1) || 2 + plen + 1 > ext_len ||
      2 + plen + 1 + (size_t)ext[2 + plen] != ext_len) {
    set_fail_reason(d, RTCSEC_ERR_HANDSHAKE);
    *al = ALERT_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  for (size_t off = 2; off < 2 + plen; off += 2) {
    unsigned id = ((unsigned)ext[off] << 8) | ext[off + 1];
    for (size_t i = 0; i < d->n_profiles; i++) {
      if ((unsigned)d->profiles[i] == id)
        return SSL_CLIENT_HELLO_SUCCESS;
    }
  }
  set_fail_reason(d, RTCSEC_ERR_SRTP_NO_COMMON_PROFILE);
  *al = ALERT_HANDSHAKE_FAILURE;
  return SSL_CLIENT_HELLO_ERROR;
}

static void info_cb(const SSL *ssl, int where, int ret) {
  rtcsec_dtls *d = from_ssl(ssl);
  if (d == NULL || !(where & SSL_CB_ALERT))
    return;
  int level = (ret >> 8) & 0xff;
  int desc = ret & 0xff;
  if (where & SSL_CB_READ) {
    if (desc == ALERT_CLOSE_NOTIFY) {
      d->peer_closed = 1;
    } else if (level == SSL3_AL_FATAL && d->alert < 0) {
      d->alert = desc;
      d->alert_from_peer = 1;
    }
  } else if (level == SSL3_AL_FATAL && d->alert < 0) {
    d->alert = desc;
    d->alert_from_peer = 0;
  }
}

static void keylog_cb(const SSL *ssl, const char *line) {
  rtcsec_dtls *d = from_ssl(ssl);
  if (d != NULL && d->keylog != NULL)
    d->keylog(d->keylog_user, line);
}

/* OpenSSL asks for each timeout duration here: 0 in means the first one of
 * a flight. This is the whole retransmission schedule (RFC 6347 §4.2.4.1,
 * with the shorter initial value WebRTC uses). */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us) {
  rtcsec_dtls *d = from_ssl(ssl);
  uint64_t next = d ? d->rto_initial_us : 1000000;
  if (d != NULL && prev_us != 0) {
    next = (uint64_t)prev_us * 2;
    if (next > d->rto_max_us)
      next = d->rto_max_us;
  }
  return next > UINT_MAX ? UINT_MAX : (unsigned int)next;
}

/* RFC 8827 §6.5 cipher policy: ECDHE only (forward secrecy), AEAD only,
 * TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 first. */
static const char cipher_list[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
                                  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

static int make_ctx(const rtcsec_cert *cert, SSL_CTX **out) {
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  if (ctx == NULL)
    return RTCSEC_ERR_CRYPTO;
  int ok = SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) &&
           SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) &&
           SSL_CTX_use_certificate(ctx, rtcsec_cert_x509(cert)) &&
           SSL_CTX_use_PrivateKey(ctx, rtcsec_cert_pkey(cert)) && SSL_CTX_check_private_key(ctx) &&
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

/* ---- events --------------------------------------------------------------- */

static int push_event(rtcsec_dtls *d, const rtcsec_dtls_event *ev, const uint8_t *data,
                      size_t len) {
  if (d->ev_count == d->ev_cap) {
    size_t ncap = d->ev_cap ? d->ev_cap * 2 : 8;
    event_node *n = calloc(ncap, sizeof(*n));
    if (n == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    for (size_t i = 0; i < d->ev_count; i++)
      n[i] = d->events[(d->ev_head + i) % d->ev_cap];
    if (d->events != NULL)
      OPENSSL_cleanse(d->events, d->ev_cap * sizeof(*d->events));
    free(d->events);
    d->events = n;
    d->ev_head = 0;
    d->ev_cap = ncap;
  }
  event_node *node = &d->events[(d->ev_head + d->ev_count) % d->ev_cap];
  node->ev = *ev;
  node->data = NULL;
  if (data != NULL) {
    node->data = malloc(len ? len : 1);
    if (node->data == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    memcpy(node->data, data, len);
    node->ev.data_len = len;
  }
  d->ev_count++;
  return RTCSEC_OK;
}

/* The detail explains this failure and nothing else (issue 14: OpenSSL's
 * queue may hold leftovers of an earlier step that contradict the real
 * reason). rtcsec's own reasons get rtcsec's words; OpenSSL's queue is read
 * only for failures OpenSSL decided. A callback that knew more (the
 * fingerprint check) has already written it. */
static void set_detail(rtcsec_dtls *d, int code) {
  if (d->detail[0] != '\0') {
    ERR_clear_error();
    return;
  }
  const char *text = NULL;
  switch (code) {
  case RTCSEC_ERR_HANDSHAKE_TIMEOUT:
    if (d->unauth_alert >= 0)
      snprintf(d->detail, sizeof(d->detail),
               "no authenticated answer within the handshake timeout; the last plaintext alert "
               "received was %s %s (%d), not acted on because it is not authenticated",
               d->unauth_alert_level == 2 ? "fatal" : "warning",
               rtcsec_dtls_alert_name(d->unauth_alert), d->unauth_alert);
    else
      snprintf(d->detail, sizeof(d->detail),
               "no authenticated answer within the handshake timeout (%llu retransmissions)",
               (unsigned long long)d->stats.retransmissions);
    break;
  case RTCSEC_ERR_SRTP_NOT_NEGOTIATED:
    text = d->role == RTCSEC_DTLS_SERVER ? "the ClientHello carried no use_srtp extension"
                                         : "the ServerHello carried no use_srtp extension";
    break;
  case RTCSEC_ERR_SRTP_NO_COMMON_PROFILE:
    text = "the ClientHello offered no SRTP protection profile this side allows";
    break;
  case RTCSEC_ERR_NO_PEER_CERTIFICATE:
    text = "the peer sent no certificate";
    break;
  case RTCSEC_ERR_FINGERPRINT_MISMATCH:
    text = "the peer certificate matches none of the expected fingerprints";
    break;
  case RTCSEC_ERR_KEY_EXHAUSTED:
    text = "the record sequence space of the key is used up (RFC 6347 §4.1)";
    break;
  case RTCSEC_ERR_NO_MEMORY:
    text = "out of memory";
    break;
  case RTCSEC_ERR_PEER_ALERT:
    snprintf(d->detail, sizeof(d->detail), "the peer sent the fatal alert %s (%d)",
             rtcsec_dtls_alert_name(d->alert), d->alert);
    break;
  default: {
    unsigned long e = ERR_peek_last_error();
    if (e != 0)
      ERR_error_string_n(e, d->detail, sizeof(d->detail));
    break;
  }
  }
  if (text != NULL)
    snprintf(d->detail, sizeof(d->detail), "%s", text);
  ERR_clear_error();
}

static void fail(rtcsec_dtls *d, int code) {
  if (d->state == RTCSEC_DTLS_STATE_FAILED)
    return;
  set_detail(d, code);
  d->state = RTCSEC_DTLS_STATE_FAILED;
  d->error = code;
  d->retrans_deadline = UINT64_MAX;
  rtcsec_dgram_queue_clear(&d->held);
  rtcsec_dtls_event ev = {.type = RTCSEC_DTLS_EVENT_FAILED,
                          .error = code,
                          .alert = d->alert,
                          .alert_from_peer = d->alert_from_peer};
  /* If even this allocation fails the state still says FAILED. */
  (void)push_event(d, &ev, NULL, 0);
}

/* Which rtcsec error a failed OpenSSL call stands for. */
static int classify_failure(rtcsec_dtls *d) {
  if (d->fail_reason != 0)
    return d->fail_reason;
  if (d->io.write_failed)
    return RTCSEC_ERR_NO_MEMORY;
  unsigned long e = ERR_peek_last_error();
  int reason = ERR_GET_REASON(e);
  if (d->alert >= 0 && d->alert_from_peer)
    return RTCSEC_ERR_PEER_ALERT;
  switch (reason) {
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

/* ---- the handshake -------------------------------------------------------- */

static void update_deadline(rtcsec_dtls *d, uint64_t now) {
  struct timeval tv;
  d->retrans_deadline = UINT64_MAX;
  if (d->state != RTCSEC_DTLS_STATE_HANDSHAKING && d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return;
  /* Remaining time on OpenSSL's clock, moved onto the caller's clock. */
  if (DTLSv1_get_timeout(d->ssl, &tv) == 1 && tv.tv_sec >= 0 && tv.tv_usec >= 0)
    d->retrans_deadline = now + (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static int export_keys(rtcsec_dtls *d, rtcsec_srtp_keys *keys) {
  const SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(d->ssl);
  if (sp == NULL)
    return RTCSEC_ERR_SRTP_NOT_NEGOTIATED;
  rtcsec_srtp_profile p = (rtcsec_srtp_profile)sp->id;
  size_t k = rtcsec_srtp_profile_key_len(p);
  size_t s = rtcsec_srtp_profile_salt_len(p);
  if (k == 0)
    return RTCSEC_ERR_SRTP_BAD_PROFILE;
  memset(keys, 0, sizeof(*keys));
  keys->profile = p;
  keys->key_len = k;
  keys->salt_len = s;
  keys->material_len = 2 * (k + s);
  /* RFC 5764 §4.2: no context, length 2 * (key + salt). */
  if (SSL_export_keying_material(d->ssl, keys->material, keys->material_len, srtp_exporter_label,
                                 sizeof(srtp_exporter_label) - 1, NULL, 0, 0) != 1)
    return RTCSEC_ERR_CRYPTO;
  /* RFC 5764 §4.2: client_write_SRTP_master_key | server_write_SRTP_master_key
   * | client_write_SRTP_master_salt | server_write_SRTP_master_salt. */
  const uint8_t *ck = keys->material, *sk = ck + k, *cs = sk + k, *ss = cs + s;
  int client = d->role == RTCSEC_DTLS_CLIENT;
  memcpy(keys->local_key, client ? ck : sk, k);
  memcpy(keys->remote_key, client ? sk : ck, k);
  memcpy(keys->local_salt, client ? cs : ss, s);
  memcpy(keys->remote_salt, client ? ss : cs, s);
  return RTCSEC_OK;
}

static void handshake_done(rtcsec_dtls *d, uint64_t now) {
  /* Fail closed: no key leaves before the peer matched a fingerprint. */
  if (!d->peer_verified) {
    set_fail_reason(d, RTCSEC_ERR_FINGERPRINT_MISMATCH);
    fail(d, d->fail_reason);
    return;
  }
  rtcsec_dtls_event ev = {.type = RTCSEC_DTLS_EVENT_CONNECTED, .alert = -1};
  int rc = export_keys(d, &ev.connected.keys);
  if (rc != RTCSEC_OK) {
    rtcsec_srtp_keys_wipe(&ev.connected.keys);
    fail(d, rc);
    return;
  }
  ev.connected.profile = ev.connected.keys.profile;
  ev.connected.version = SSL_get_version(d->ssl);
  ev.connected.cipher = SSL_get_cipher_name(d->ssl);
  ev.connected.peer_fingerprint = d->matched_fp;
  d->state = RTCSEC_DTLS_STATE_CONNECTED;
  d->stats.handshake_us = now - d->start_us;
  rc = push_event(d, &ev, NULL, 0);
  rtcsec_srtp_keys_wipe(&ev.connected.keys);
  if (rc != RTCSEC_OK)
    fail(d, rc);
}

static void read_records(rtcsec_dtls *d) {
  /* A datagram can carry several records; one SSL_read returns one. */
  uint8_t buf[16384 + 2048];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(d->ssl, buf, (int)sizeof(buf));
    if (n > 0) {
      rtcsec_dtls_event ev = {.type = RTCSEC_DTLS_EVENT_DATA, .alert = -1};
      if (push_event(d, &ev, buf, (size_t)n) != RTCSEC_OK) {
        fail(d, RTCSEC_ERR_NO_MEMORY);
        break;
      }
      continue;
    }
    int err = SSL_get_error(d->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN || d->peer_closed) {
      d->state = RTCSEC_DTLS_STATE_CLOSED;
      d->retrans_deadline = UINT64_MAX;
      rtcsec_dtls_event ev = {.type = RTCSEC_DTLS_EVENT_CLOSED, .alert = -1};
      (void)push_event(d, &ev, NULL, 0);
    } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      fail(d, classify_failure(d));
    }
    break;
  }
  OPENSSL_cleanse(buf, sizeof(buf));
}

/* Moves OpenSSL forward after input or a timeout. */
static void drive(rtcsec_dtls *d, uint64_t now) {
  if (d->state == RTCSEC_DTLS_STATE_HANDSHAKING && !SSL_is_init_finished(d->ssl)) {
    ERR_clear_error();
    int r = SSL_do_handshake(d->ssl);
    if (r == 1) {
      handshake_done(d, now);
    } else {
      int err = SSL_get_error(d->ssl, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        fail(d, classify_failure(d));
    }
  }
  /* Records after the handshake: application data, the peer's close, its
   * retransmitted Finished (OpenSSL answers it), a renegotiation attempt.
   * Also right after the handshake completed: the datagram that finished
   * it may carry more records, already in OpenSSL's read buffer. */
  if (d->state == RTCSEC_DTLS_STATE_CONNECTED &&
      (d->io.in != NULL || SSL_pending(d->ssl) > 0 || SSL_has_pending(d->ssl)))
    read_records(d);
  d->io.in = NULL;
  d->io.in_len = 0;
  if (d->io.write_failed && d->state != RTCSEC_DTLS_STATE_FAILED)
    fail(d, RTCSEC_ERR_NO_MEMORY);
  update_deadline(d, now);
}

/* Until an expected fingerprint is known, the flight that carries the
 * peer's certificate is held back: a client holds everything after its
 * ClientHello, a server everything after its first flight (so it still
 * answers a ClientHello that arrives before the SDP answer, RFC 5763 §5). */
static int must_hold(const rtcsec_dtls *d) {
  if (d->n_fps > 0 || d->state != RTCSEC_DTLS_STATE_HANDSHAKING)
    return 0;
  return d->role == RTCSEC_DTLS_CLIENT || d->stats.datagrams_sent > 0 || d->io.out.count > 0;
}

static int feed(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  d->io.in = data;
  d->io.in_len = len;
  drive(d, now);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

/* ---- public API ----------------------------------------------------------- */

void rtcsec_dtls_config_default(rtcsec_dtls_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = RTCSEC_DTLS_SERVER;
  cfg->mtu = 1200;
  cfg->rto_initial_us = 100000;
  cfg->rto_max_us = 3000000;
  cfg->handshake_timeout_us = 30000000;
}

static int set_profiles(rtcsec_dtls *d, const rtcsec_dtls_config *cfg) {
  const rtcsec_srtp_profile *src = cfg->n_profiles ? cfg->profiles : rtcsec_srtp_default_profiles;
  size_t n = cfg->n_profiles ? cfg->n_profiles : RTCSEC_SRTP_N_DEFAULT_PROFILES;
  if (n > RTCSEC_SRTP_MAX_PROFILES)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char list[128] = "";
  for (size_t i = 0; i < n; i++) {
    const char *name = rtcsec_srtp_profile_openssl_name(src[i]);
    if (name == NULL)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    for (size_t j = 0; j < i; j++) {
      if (src[j] == src[i])
        return RTCSEC_ERR_INVALID_ARGUMENT;
    }
    if (i > 0)
      strcat(list, ":");
    strcat(list, name);
    d->profiles[i] = src[i];
  }
  d->n_profiles = n;
  /* Note the inverted convention: 0 is success here. */
  return SSL_set_tlsext_use_srtp(d->ssl, list) == 0 ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

int rtcsec_dtls_new(rtcsec_dtls **out, const rtcsec_dtls_config *cfg) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg == NULL || cfg->cert == NULL || cfg->mtu < 256 || cfg->mtu > 65507 ||
      cfg->rto_initial_us == 0 || cfg->rto_max_us < cfg->rto_initial_us ||
      cfg->handshake_timeout_us == 0 ||
      (cfg->role != RTCSEC_DTLS_CLIENT && cfg->role != RTCSEC_DTLS_SERVER) ||
      cfg->n_peer_fingerprints > RTCSEC_DTLS_MAX_FINGERPRINTS ||
      (cfg->n_peer_fingerprints > 0 && cfg->peer_fingerprints == NULL))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < cfg->n_peer_fingerprints; i++) {
    if (rtcsec_hash_len(cfg->peer_fingerprints[i].hash) == 0 ||
        cfg->peer_fingerprints[i].len != rtcsec_hash_len(cfg->peer_fingerprints[i].hash))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (rtcsec_init() != RTCSEC_OK || pthread_once(&ex_once, ex_init) != 0 || ex_index < 0)
    return RTCSEC_ERR_CRYPTO;

  rtcsec_dtls *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  d->role = cfg->role;
  d->state = RTCSEC_DTLS_STATE_NEW;
  d->rto_initial_us = cfg->rto_initial_us;
  d->rto_max_us = cfg->rto_max_us;
  d->handshake_timeout_us = cfg->handshake_timeout_us;
  d->keylog = cfg->keylog;
  d->keylog_user = cfg->keylog_user;
  d->retrans_deadline = UINT64_MAX;
  d->alert = -1;
  d->unauth_alert = -1;
  d->unauth_alert_level = -1;
  d->io.mtu = cfg->mtu;
  d->stats.role = cfg->role;
  for (size_t i = 0; i < cfg->n_peer_fingerprints; i++)
    d->fps[i] = cfg->peer_fingerprints[i];
  d->n_fps = cfg->n_peer_fingerprints;
  d->cert = rtcsec_cert_ref(cfg->cert);

  SSL_CTX *ctx = NULL;
  int rc = rtcsec_cert_ssl_ctx(d->cert, make_ctx, &ctx);
  if (rc != RTCSEC_OK)
    goto err;
  d->ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);
  rc = RTCSEC_ERR_NO_MEMORY;
  if (d->ssl == NULL)
    goto err;
  rc = RTCSEC_ERR_CRYPTO;
  if (!SSL_set_ex_data(d->ssl, ex_index, d))
    goto err;
  BIO *bio = rtcsec_dgram_bio_new(&d->io);
  if (bio == NULL)
    goto err;
  SSL_set_bio(d->ssl, bio, bio); /* same BIO both ways: one reference moves */
  /* SSL_OP_NO_QUERY_MTU is set: OpenSSL uses exactly this datagram size. */
  if (!SSL_set_mtu(d->ssl, (long)cfg->mtu))
    goto err;
  /* No record is ever larger than a datagram, and OpenSSL sizes its write
   * buffer from this (16 KiB by default): 15 KiB less per session. */
  if (!SSL_set_max_send_fragment(d->ssl, cfg->mtu < 512 ? 512 : (long)cfg->mtu))
    goto err;
  DTLS_set_timer_cb(d->ssl, timer_cb);
  rc = set_profiles(d, cfg);
  if (rc != RTCSEC_OK)
    goto err;
  if (d->role == RTCSEC_DTLS_CLIENT)
    SSL_set_connect_state(d->ssl);
  else
    SSL_set_accept_state(d->ssl);
  *out = d;
  return RTCSEC_OK;
err:
  ERR_clear_error();
  rtcsec_dtls_free(d);
  return rc;
}

void rtcsec_dtls_free(rtcsec_dtls *d) {
  if (d == NULL)
    return;
  SSL_free(d->ssl); /* frees the BIO and OpenSSL's keys */
  rtcsec_dgram_queue_clear(&d->io.out);
  rtcsec_dgram_queue_clear(&d->held);
  for (size_t i = 0; i < d->ev_count; i++) {
    event_node *n = &d->events[(d->ev_head + i) % d->ev_cap];
    free(n->data);
  }
  if (d->events != NULL) {
    OPENSSL_cleanse(d->events, d->ev_cap * sizeof(*d->events));
    free(d->events);
  }
  free(d->last_data);
  rtcsec_cert_free(d->cert);
  OPENSSL_cleanse(d, sizeof(*d));
  free(d);
}

int rtcsec_dtls_start(rtcsec_dtls *d, uint64_t now) {
  if (d == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state != RTCSEC_DTLS_STATE_NEW)
    return RTCSEC_ERR_INVALID_STATE;
  d->start_us = now;
  d->state = RTCSEC_DTLS_STATE_HANDSHAKING;
  if (d->role == RTCSEC_DTLS_CLIENT)
    drive(d, now);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

static int accept_datagram(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now);

static int release_held(rtcsec_dtls *d, uint64_t now) {
  rtcsec_dgram g;
  while (d->state == RTCSEC_DTLS_STATE_HANDSHAKING && rtcsec_dgram_queue_pop(&d->held, &g)) {
    feed(d, g.data, g.len, now);
    free(g.data);
  }
  rtcsec_dgram_queue_clear(&d->held);
  d->stats.awaiting_fingerprint = 0;
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

int rtcsec_dtls_add_peer_fingerprints(rtcsec_dtls *d, const rtcsec_fingerprint *fps, size_t n,
                                      uint64_t now) {
  if (d == NULL || fps == NULL || n == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < n; i++) {
    if (rtcsec_hash_len(fps[i].hash) == 0 || fps[i].len != rtcsec_hash_len(fps[i].hash))
      return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (d->state == RTCSEC_DTLS_STATE_FAILED || d->state == RTCSEC_DTLS_STATE_CLOSED ||
      d->state == RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  if (n > RTCSEC_DTLS_MAX_FINGERPRINTS - d->n_fps)
    return RTCSEC_ERR_LIMIT;
  /* All of them first: the held flight is checked against the whole set
   * (RFC 8122 allows several a=fingerprint lines). */
  for (size_t i = 0; i < n; i++)
    d->fps[d->n_fps++] = fps[i];
  if (d->held.count > 0)
    return release_held(d, now);
  d->stats.awaiting_fingerprint = 0;
  return RTCSEC_OK;
}

int rtcsec_dtls_add_peer_fingerprint(rtcsec_dtls *d, const rtcsec_fingerprint *fp, uint64_t now) {
  return rtcsec_dtls_add_peer_fingerprints(d, fp, 1, now);
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
 *     the one byte 1; handshake fragments whose headers add up and whose
 *     message types are ones this role receives; alerts are counted and
 *     dropped: an unauthenticated alert never ends a handshake (the side
 *     that detects a fingerprint mismatch still fails at once: it is its
 *     own decision).
 */

#define REC_HDR 13
#define HS_HDR 12
/* Largest handshake message taken (a certificate chain included). */
#define HS_MAX_MESSAGE (128 * 1024)

static size_t be16_at(const uint8_t *p) { return ((size_t)p[0] << 8) | p[1]; }
static size_t be24_at(const uint8_t *p) {
  return ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2];
}

/* RFC 5246 §7.4 handshake types this role receives in epoch 0. */
static int expected_handshake_type(const rtcsec_dtls *d, uint8_t type) {
  if (d->role == RTCSEC_DTLS_SERVER)
    return type == 1 /* client_hello */ || type == 11 /* certificate */ ||
           type == 15 /* certificate_verify */ || type == 16 /* client_key_exchange */;
  return type == 2 /* server_hello */ || type == 3 /* hello_verify_request */ ||
         type == 11 /* certificate */ || type == 12 /* server_key_exchange */ ||
         type == 13 /* certificate_request */ || type == 14 /* server_hello_done */;
}

/* RFC 6347 §4.2.2: every fragment header in the record body adds up. */
static int handshake_fragments_sane(const rtcsec_dtls *d, const uint8_t *p, size_t n) {
  if (n == 0)
    return 0;
  size_t off = 0;
  while (off < n) {
    if (n - off < HS_HDR)
      return 0;
    const uint8_t *h = p + off;
    size_t msg_len = be24_at(h + 1), frag_off = be24_at(h + 6), frag_len = be24_at(h + 9);
    if (!expected_handshake_type(d, h[0]) || msg_len > HS_MAX_MESSAGE || frag_off > msg_len ||
        frag_len > msg_len - frag_off || frag_len > n - off - HS_HDR)
      return 0;
    off += HS_HDR + frag_len;
  }
  return 1;
}

/* Bytes an epoch-1 record adds around its plaintext under the cipher
 * negotiated (or being negotiated); 0 if none is known yet. Every suite
 * rtcsec offers is an AEAD (RFC 8827 §6.5): GCM has an 8-byte explicit
 * nonce and a 16-byte tag (RFC 5288 §3), ChaCha20-Poly1305 the tag only
 * (RFC 7905 §2). */
static size_t aead_overhead(const rtcsec_dtls *d) {
  const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
  if (c == NULL)
    c = SSL_get_pending_cipher(d->ssl);
  if (c == NULL)
    return 0;
  switch (SSL_CIPHER_get_cipher_nid(c)) {
  case NID_aes_128_gcm:
  case NID_aes_256_gcm:
    return 8 + 16;
  case NID_chacha20_poly1305:
    return 16;
  default:
    return 0;
  }
}

typedef enum record_verdict {
  RECORD_KEEP = 0,
  RECORD_DROP,    /* cannot authenticate or cannot be valid here */
  RECORD_ALERT_0, /* an unauthenticated alert: counted, remembered, dropped */
} record_verdict;

static record_verdict check_record(const rtcsec_dtls *d, const uint8_t *rec, size_t rl) {
  uint8_t type = rec[0];
  size_t version = be16_at(rec + 1), epoch = be16_at(rec + 3);
  const uint8_t *body = rec + REC_HDR;
  size_t n = rl - REC_HDR;
  if (type < 20 || type > 23)
    return RECORD_DROP;
  if (epoch == 1) {
    size_t overhead = aead_overhead(d);
    if (version != 0xfefd || type == 20 || overhead == 0 || n < overhead)
      return RECORD_DROP;
    return RECORD_KEEP;
  }
  if (epoch != 0 || d->state != RTCSEC_DTLS_STATE_HANDSHAKING ||
      (version != 0xfefd && version != 0xfeff))
    return RECORD_DROP;
  switch (type) {
  case 20: /* change_cipher_spec: RFC 5246 §7.1, one byte of value 1 */
    return n == 1 && body[0] == 1 ? RECORD_KEEP : RECORD_DROP;
  case 21:
    return n == 2 ? RECORD_ALERT_0 : RECORD_DROP;
  case 22:
    return handshake_fragments_sane(d, body, n) ? RECORD_KEEP : RECORD_DROP;
  default: /* application data in epoch 0 */
    return RECORD_DROP;
  }
}

/* An unauthenticated alert is kept only as a hint for the failure detail,
 * should the handshake time out. */
static void note_unauthenticated_alert(rtcsec_dtls *d, const uint8_t *rec) {
  d->stats.unauthenticated_alerts++;
  d->unauth_alert_level = rec[REC_HDR];
  d->unauth_alert = rec[REC_HDR + 1];
}

static uint64_t be48_at(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; i++)
    v = v << 8 | p[i];
  return v;
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
static int epoch0_seen(rtcsec_dtls *d, uint64_t seq) {
  for (size_t i = 0; i < EPOCH0_SEEN && i < d->epoch0_n; i++) {
    if (d->epoch0_seqs[i] == seq)
      return 1;
  }
  d->epoch0_seqs[d->epoch0_n++ % EPOCH0_SEEN] = seq;
  return 0;
}

static void put_be48(uint8_t *p, uint64_t v) {
  for (int i = 5; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

/* Writes the records worth giving to OpenSSL into out (at most len bytes),
 * epoch-0 ones renumbered; returns their total length and counts the
 * others. A datagram whose framing runs past its end keeps what came
 * before. */
static size_t filter_records(rtcsec_dtls *d, const uint8_t *data, size_t len, uint8_t *out) {
  size_t off = 0, kept = 0;
  while (off < len) {
    size_t rl = len - off < REC_HDR ? 0 : REC_HDR + be16_at(data + off + 11);
    if (rl == 0 || rl > len - off) {
      d->stats.records_dropped++; /* a truncated record: the rest is unusable */
      break;
    }
    const uint8_t *rec = data + off;
    off += rl;
    record_verdict v = check_record(d, rec, rl);
    if (v == RECORD_KEEP && be16_at(rec + 3) == 0 && epoch0_seen(d, be48_at(rec + 5)))
      v = RECORD_DROP;
    if (v != RECORD_KEEP) {
      if (v == RECORD_ALERT_0)
        note_unauthenticated_alert(d, rec);
      d->stats.records_dropped++;
      continue;
    }
    memcpy(out + kept, rec, rl);
    if (be16_at(rec + 3) == 0)
      put_be48(out + kept + 5, d->epoch0_next++);
    kept += rl;
  }
  return kept;
}

/* 1 if the datagram is only well-framed epoch-1 records that pass
 * check_record(): the common case after the handshake, taken without a
 * copy. */
static int only_epoch1_records(const rtcsec_dtls *d, const uint8_t *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    if (len - off < REC_HDR)
      return 0;
    size_t rl = REC_HDR + be16_at(data + off + 11);
    if (rl > len - off || be16_at(data + off + 3) != 1 ||
        check_record(d, data + off, rl) != RECORD_KEEP)
      return 0;
    off += rl;
  }
  return 1;
}

/* A server starts its handshake clock on a ClientHello, not on any bytes:
 * garbage before the first ClientHello is dropped and leaves it NEW. */
static int has_client_hello(const uint8_t *data, size_t len) {
  size_t off = 0;
  while (len - off >= REC_HDR + HS_HDR) {
    size_t rl = REC_HDR + be16_at(data + off + 11);
    if (rl > len - off)
      return 0;
    if (data[off] == 22 && be16_at(data + off + 3) == 0 && data[off + REC_HDR] == 1)
      return 1;
    off += rl;
  }
  return 0;
}

int rtcsec_dtls_handle_datagram(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  if (d == NULL || (data == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_FAILED || d->state == RTCSEC_DTLS_STATE_CLOSED) {
    d->stats.datagrams_dropped++;
    return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_ERR_CLOSED;
  }
  if (d->state == RTCSEC_DTLS_STATE_NEW) {
    if (d->role == RTCSEC_DTLS_CLIENT)
      return RTCSEC_ERR_INVALID_STATE;
    if (!has_client_hello(data, len)) {
      d->stats.datagrams_received++;
      d->stats.bytes_received += len;
      d->stats.datagrams_dropped++;
      return RTCSEC_OK;
    }
    int rc = rtcsec_dtls_start(d, now);
    if (rc != RTCSEC_OK)
      return rc;
  }
  d->stats.datagrams_received++;
  d->stats.bytes_received += len;
  if (len > 0 && only_epoch1_records(d, data, len))
    return accept_datagram(d, data, len, now);
  /* The handshake, or something to drop: the records worth keeping go to
   * OpenSSL from a copy (epoch 0 renumbered, see filter_records()). */
  uint8_t *clean = len > 0 ? malloc(len) : NULL;
  if (len > 0 && clean == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  size_t kept = len > 0 ? filter_records(d, data, len, clean) : 0;
  int rc = RTCSEC_OK;
  if (kept == 0)
    d->stats.datagrams_dropped++;
  else
    rc = accept_datagram(d, clean, kept, now);
  free(clean);
  return rc;
}

/* A datagram of valid records: held while waiting for a fingerprint, else
 * given to OpenSSL. */
static int accept_datagram(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  if (must_hold(d)) {
    d->stats.awaiting_fingerprint = 1;
    if (d->held.count >= HELD_MAX_DATAGRAMS || d->held.bytes + len > HELD_MAX_BYTES) {
      d->stats.datagrams_dropped++;
      return RTCSEC_OK;
    }
    if (rtcsec_dgram_queue_push(&d->held, data, len) != 0)
      return RTCSEC_ERR_NO_MEMORY;
    d->stats.datagrams_held++;
    return RTCSEC_OK;
  }
  return feed(d, data, len, now);
}

int rtcsec_dtls_handle_timeout(rtcsec_dtls *d, uint64_t now) {
  if (d == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_FAILED)
    return d->error;
  if (d->state != RTCSEC_DTLS_STATE_HANDSHAKING && d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_OK;
  if (d->state == RTCSEC_DTLS_STATE_HANDSHAKING && now - d->start_us >= d->handshake_timeout_us) {
    fail(d, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
    return d->error;
  }
  if (d->retrans_deadline != UINT64_MAX && now >= d->retrans_deadline) {
    ERR_clear_error();
    int r = DTLSv1_handle_timeout(d->ssl);
    if (r > 0)
      d->stats.retransmissions++;
    else if (r < 0)
      fail(d, classify_failure(d));
    update_deadline(d, now);
  }
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

uint64_t rtcsec_dtls_deadline(const rtcsec_dtls *d) {
  if (d == NULL)
    return UINT64_MAX;
  uint64_t t = d->retrans_deadline;
  if (d->state == RTCSEC_DTLS_STATE_HANDSHAKING) {
    uint64_t hs = d->start_us + d->handshake_timeout_us;
    if (hs < t)
      t = hs;
  }
  return t;
}

int rtcsec_dtls_poll_datagram(rtcsec_dtls *d, uint8_t *buf, size_t cap, size_t *len) {
  if (d == NULL || len == NULL || (buf == NULL && cap > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *len = 0;
  const rtcsec_dgram *head = rtcsec_dgram_queue_peek(&d->io.out);
  if (head == NULL)
    return RTCSEC_OK;
  if (head->len > cap)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  rtcsec_dgram g;
  rtcsec_dgram_queue_pop(&d->io.out, &g);
  memcpy(buf, g.data, g.len);
  *len = g.len;
  d->stats.datagrams_sent++;
  d->stats.bytes_sent += g.len;
  free(g.data);
  return RTCSEC_OK;
}

int rtcsec_dtls_poll_event(rtcsec_dtls *d, rtcsec_dtls_event *ev) {
  if (d == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  free(d->last_data);
  d->last_data = NULL;
  memset(ev, 0, sizeof(*ev));
  ev->alert = -1;
  if (d->ev_count == 0)
    return RTCSEC_OK;
  event_node *n = &d->events[d->ev_head];
  *ev = n->ev;
  if (n->data != NULL) {
    d->last_data = n->data;
    ev->data = n->data;
  }
  /* The queued copy of any key material is wiped once handed out. */
  OPENSSL_cleanse(n, sizeof(*n));
  d->ev_head = (d->ev_head + 1) % d->ev_cap;
  d->ev_count--;
  if (d->ev_count == 0) {
    /* An idle association keeps no queue (thousands of them in an SFU). */
    OPENSSL_cleanse(d->events, d->ev_cap * sizeof(*d->events));
    free(d->events);
    d->events = NULL;
    d->ev_cap = 0;
    d->ev_head = 0;
  }
  return RTCSEC_OK;
}

int rtcsec_dtls_send(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  (void)now;
  if (d == NULL || (data == NULL && len > 0) || len == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_FAILED)
    return d->error;
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  /* OpenSSL does not split application data by MTU: one record must fit
   * one datagram (RFC 6347 §4.1.1), so refuse what would not. */
  size_t room = DTLS_get_data_mtu(d->ssl);
  if (room == 0 || len > room)
    return RTCSEC_ERR_TOO_LARGE;
  if (d->records_sent >= DTLS_SEQ_LIMIT) {
    fail(d, RTCSEC_ERR_KEY_EXHAUSTED);
    return d->error;
  }
  ERR_clear_error();
  int n = SSL_write(d->ssl, data, (int)len);
  if (n <= 0 || (size_t)n != len) {
    fail(d, classify_failure(d));
    return d->error;
  }
  d->records_sent++;
  return RTCSEC_OK;
}

int rtcsec_dtls_close(rtcsec_dtls *d, uint64_t now) {
  (void)now;
  if (d == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_CLOSED || d->state == RTCSEC_DTLS_STATE_FAILED)
    return RTCSEC_OK;
  if (d->state == RTCSEC_DTLS_STATE_CONNECTED) {
    ERR_clear_error();
    (void)SSL_shutdown(d->ssl); /* queues close_notify; we do not wait for the peer's */
    ERR_clear_error();
  }
  d->state = RTCSEC_DTLS_STATE_CLOSED;
  d->retrans_deadline = UINT64_MAX;
  rtcsec_dgram_queue_clear(&d->held);
  return RTCSEC_OK;
}

rtcsec_dtls_state rtcsec_dtls_get_state(const rtcsec_dtls *d) {
  return d ? d->state : RTCSEC_DTLS_STATE_FAILED;
}

rtcsec_dtls_role rtcsec_dtls_get_role(const rtcsec_dtls *d) {
  return d ? d->role : RTCSEC_DTLS_CLIENT;
}

int rtcsec_dtls_error(const rtcsec_dtls *d) {
  return d == NULL ? RTCSEC_ERR_INVALID_ARGUMENT
                   : (d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK);
}

const char *rtcsec_dtls_error_detail(const rtcsec_dtls *d) { return d ? d->detail : ""; }

const char *rtcsec_dtls_state_name(rtcsec_dtls_state s) {
  switch (s) {
  case RTCSEC_DTLS_STATE_NEW:
    return "new";
  case RTCSEC_DTLS_STATE_HANDSHAKING:
    return "handshaking";
  case RTCSEC_DTLS_STATE_CONNECTED:
    return "connected";
  case RTCSEC_DTLS_STATE_CLOSED:
    return "closed";
  case RTCSEC_DTLS_STATE_FAILED:
    return "failed";
  default:
    return "unknown";
  }
}

const char *rtcsec_dtls_alert_name(int alert) {
  /* RFC 5246 §7.2 and RFC 8446 §6 names, as protocol analysers print them. */
  static const struct {
    int code;
    const char *name;
  } names[] = {{0, "close_notify"},
               {10, "unexpected_message"},
               {20, "bad_record_mac"},
               {22, "record_overflow"},
               {40, "handshake_failure"},
               {42, "bad_certificate"},
               {43, "unsupported_certificate"},
               {44, "certificate_revoked"},
               {45, "certificate_expired"},
               {46, "certificate_unknown"},
               {47, "illegal_parameter"},
               {48, "unknown_ca"},
               {49, "access_denied"},
               {50, "decode_error"},
               {51, "decrypt_error"},
               {70, "protocol_version"},
               {71, "insufficient_security"},
               {80, "internal_error"},
               {86, "inappropriate_fallback"},
               {90, "user_canceled"},
               {100, "no_renegotiation"},
               {109, "missing_extension"},
               {110, "unsupported_extension"},
               {112, "unrecognized_name"},
               {116, "certificate_required"},
               {120, "no_application_protocol"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (names[i].code == alert)
      return names[i].name;
  }
  return "unknown";
}

int rtcsec_dtls_get_stats(const rtcsec_dtls *d, rtcsec_dtls_stats *out) {
  if (d == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = d->stats;
  out->last_unauthenticated_alert = d->unauth_alert;
  out->state = d->state;
  out->role = d->role;
  return RTCSEC_OK;
}

/* ---- test hooks (dtls_internal.h) ----------------------------------------- */

void rtcsec_dtls_test_set_records_sent(rtcsec_dtls *d, uint64_t n) {
  if (d != NULL)
    d->records_sent = n;
}

int rtcsec_dtls_get_connected(rtcsec_dtls *d, rtcsec_dtls_connected_info *info) {
  if (d == NULL || info == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  /* The CONNECTED event still queued has the keys already: no second
   * export (it costs a PRF run per side). */
  for (size_t i = 0; i < d->ev_count; i++) {
    const event_node *n = &d->events[(d->ev_head + i) % d->ev_cap];
    if (n->ev.type == RTCSEC_DTLS_EVENT_CONNECTED) {
      *info = n->ev.connected;
      return RTCSEC_OK;
    }
  }
  int rc = export_keys(d, &info->keys);
  if (rc != RTCSEC_OK) {
    rtcsec_srtp_keys_wipe(&info->keys);
    return rc;
  }
  info->profile = info->keys.profile;
  info->version = SSL_get_version(d->ssl);
  info->cipher = SSL_get_cipher_name(d->ssl);
  info->peer_fingerprint = d->matched_fp;
  return RTCSEC_OK;
}
