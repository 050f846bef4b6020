/* The DTLS association: the contract of rtcsec/dtls.h (state, fingerprints
 * and the hold, events, statistics, time limit, failure and its detail)
 * around the engine that speaks the protocol (dtls_engine.h). */
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "dtls_bio.h"
#include "dtls_client_hello.h"
#include "dtls_engine.h"
#include "dtls_internal.h"
#include "profile_internal.h"
#include "ring.h"
#include "rtcsec/dtls.h"
#include "rtcsec/error.h"
#include "rtcsec/rtcsec.h"

/* RFC 5764 §4.2: the exporter label for DTLS-SRTP keys. */
static const char srtp_exporter_label[] = "EXTRACTOR-dtls_srtp";

/* Bounds on what is held while no expected fingerprint is known. */
#define HELD_MAX_DATAGRAMS 32
#define HELD_MAX_BYTES (64 * 1024)
/* Outgoing datagrams waiting for rtcsec_dtls_poll_datagram(). */
#define OUT_MAX_DATAGRAMS 4096
/* Events waiting for rtcsec_dtls_poll_event(), and the bytes of
 * undelivered application data they may point into. */
#define EVENTS_MAX 4096
#define DATA_PENDING_MAX (64 * 1024)

/* DTLS record and handshake message headers (RFC 6347 §4.1, §4.2.2). */
#define REC_HDR 13
#define HS_HDR 12

typedef struct event_node {
  rtcsec_event ev;
  size_t data_off; /* DATA: where its bytes are in data_buf */
} event_node;

struct rtcsec_dtls {
  rtcsec_dtls_role role;
  rtcsec_dtls_state state;
  rtcsec_cert *cert;
  const rtcsec_dtls_engine_ops *ops;
  void *engine; /* NULL while a server collects its first ClientHello */
  rtcsec_dtls_engine_env env;
  rtcsec_ch_collector *col; /* the first ClientHello, until the engine is chosen */
  rtcsec_dgram_queue out;
  rtcsec_dgram_queue held;

  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  rtcsec_fingerprint fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_fps;
  rtcsec_fingerprint matched_fp;
  int peer_verified;          /* the certificate matched a fingerprint or the CA */
  int psk_keyed;              /* the handshake is keyed by our pre-shared key */
  rtcsec_connected_info info; /* what was agreed, filled once at CONNECTED */

  /* Uses beyond WebRTC (rtcsec_dtls_config). */
  int use_srtp;
  char *ciphers;   /* NULL: the engine's default */
  char *groups;    /* NULL: the engine's default */
  X509_STORE *ca;  /* ca_file, NULL: none */
  char *peer_name; /* with ca: the name the peer's certificate must carry */
  char psk_identity[RTCSEC_DTLS_MAX_PSK_IDENTITY + 1];
  uint8_t psk[RTCSEC_DTLS_MAX_PSK];
  size_t psk_len; /* 0: no pre-shared key */

  uint64_t handshake_timeout_us;
  uint64_t start_us;

  int error;
  int alert, alert_from_peer;
  int unauth_alert_level, unauth_alert; /* last unauthenticated alert, -1: none */
  char detail[384];

  rtcsec_ring events; /* of event_node */
  size_t data_events; /* DATA events in the ring */
  uint8_t *data_buf;  /* their bytes, back to back */
  size_t data_used, data_cap;
  size_t data_room_start; /* where the engine is writing the next record */

  rtcsec_dtls_stats stats;
};

/* ---- events ----------------------------------------------------------------- */

static int push_event(rtcsec_dtls *d, const rtcsec_event *ev, size_t data_off) {
  event_node n = {*ev, data_off};
  return rtcsec_ring_push(&d->events, &n);
}

/* The detail explains this failure and nothing else (issue 14): rtcsec's
 * own reasons get rtcsec's words; the engine's words are used only for
 * what the engine decided. A check that knew more (the fingerprint
 * mismatch) has already written it. */
static void set_detail(rtcsec_dtls *d, int code, const char *engine_detail) {
  if (d->detail[0] != '\0')
    return;
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
    /* (No engine yet: a server still collecting its first ClientHello.) */
    const char *hint = d->engine != NULL && d->ops != NULL && d->ops->timeout_hint != NULL
                           ? d->ops->timeout_hint(d->engine)
                           : NULL;
    if (hint != NULL) {
      size_t used = strlen(d->detail);
      snprintf(d->detail + used, sizeof(d->detail) - used, "; %s", hint);
    }
    return;
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
  case RTCSEC_ERR_PSK_UNKNOWN_IDENTITY:
    text = "the client's pre-shared key identity is not the configured one";
    break;
  case RTCSEC_ERR_CERT_UNTRUSTED:
    text = "the peer certificate does not verify against the CA file";
    break;
  case RTCSEC_ERR_CERT_NAME_MISMATCH:
    text = "the peer certificate does not name the expected host";
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
    return;
  default:
    text = engine_detail;
    break;
  }
  if (text != NULL)
    snprintf(d->detail, sizeof(d->detail), "%s", text);
}

/* The one way into FAILED: sticky, keys gone, one event. */
static void fail(rtcsec_dtls *d, int code, const char *engine_detail) {
  if (d->state == RTCSEC_DTLS_STATE_FAILED)
    return;
  set_detail(d, code, engine_detail);
  d->state = RTCSEC_DTLS_STATE_FAILED;
  d->error = code;
  rtcsec_dgram_queue_clear(&d->held);
  /* Fail closed: an engine that can drops its secrets now. */
  if (d->engine != NULL && d->ops->abort != NULL)
    d->ops->abort(d->engine, code);
  rtcsec_event ev = {.type = RTCSEC_EVENT_FAILED};
  ev.failed.error = code;
  ev.failed.alert = d->alert;
  ev.failed.alert_from_peer = d->alert_from_peer;
  /* If even this allocation fails the state still says FAILED. */
  (void)push_event(d, &ev, 0);
}

/* ---- what engines call (dtls_engine.h) ---------------------------------------- */

/* Digest of the peer's leaf certificate checked against every expected
 * fingerprint (RFC 8122 §5: any listed hash function); rtcsec_fingerprint_
 * equal() compares in constant time. */
static int fingerprint_matches(rtcsec_dtls *d, const uint8_t *der, size_t der_len) {
  int matched = 0;
  for (size_t i = 0; i < d->n_fps; i++) {
    rtcsec_fingerprint got;
    if (rtcsec_fingerprint_of_der(der, der_len, d->fps[i].hash, &got) != RTCSEC_OK)
      continue;
    if (rtcsec_fingerprint_equal(&got, &d->fps[i]) && !matched) {
      d->matched_fp = got;
      matched = 1;
    }
  }
  return matched;
}

/* "sha-256 AB:CD:..." of a DER certificate into buf ("" if it fails). */
static void describe_der(const uint8_t *der, size_t der_len, char *buf, size_t cap) {
  rtcsec_fingerprint got;
  buf[0] = '\0';
  if (rtcsec_fingerprint_of_der(der, der_len, RTCSEC_HASH_SHA256, &got) != RTCSEC_OK ||
      rtcsec_fingerprint_format(&got, buf, cap, NULL) != RTCSEC_OK)
    buf[0] = '\0';
}

/* RFC 8489 §6.2.3 (RFC 6125): a DNS-ID, or the CN without DNS names, with
 * at most a whole leftmost wildcard label; an IP address literal must be
 * an iPAddress entry. */
static int names_peer(X509 *leaf, const char *name) {
  uint8_t addr[16];
  if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
    return X509_check_ip_asc(leaf, name, 0) == 1;
  return X509_check_host(leaf, name, strlen(name), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/* RFC 5280 path validation against the CA file, for the TLS purpose of the
 * peer's role, then the name. The detail names what failed. */
static int verify_with_ca(rtcsec_dtls *d, X509 *leaf, STACK_OF(X509) * chain, const char *fp) {
  X509_STORE_CTX *x = X509_STORE_CTX_new();
  if (x == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  int purpose = d->role == RTCSEC_DTLS_CLIENT ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT;
  int rc = RTCSEC_ERR_CERT_UNTRUSTED;
  if (X509_STORE_CTX_init(x, d->ca, leaf, chain) == 1 &&
      X509_STORE_CTX_set_purpose(x, purpose) == 1) {
    if (X509_verify_cert(x) == 1)
      rc = RTCSEC_OK;
    else
      snprintf(d->detail, sizeof(d->detail),
               "the peer certificate (%s) does not verify against the CA file: %s", fp,
               X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
  }
  X509_STORE_CTX_free(x);
  ERR_clear_error();
  if (rc == RTCSEC_OK && d->peer_name != NULL && !names_peer(leaf, d->peer_name)) {
    snprintf(d->detail, sizeof(d->detail), "the peer certificate (%s) does not name %s", fp,
             d->peer_name);
    rc = RTCSEC_ERR_CERT_NAME_MISMATCH;
  }
  return rc;
}

int rtcsec_dtls_engine_verify_peer(rtcsec_dtls *d, X509 *leaf, STACK_OF(X509) * chain) {
  unsigned char *der = NULL;
  int der_len = i2d_X509(leaf, &der);
  if (der_len <= 0)
    return RTCSEC_ERR_FINGERPRINT_MISMATCH;
  char fp[RTCSEC_FINGERPRINT_STRLEN];
  describe_der(der, (size_t)der_len, fp, sizeof(fp));
  /* The association holds the certificate-bearing flight until a
   * fingerprint is known (unless a CA or a pre-shared key can stand in),
   * so none known here is an invariant breach or a peer that chose a
   * certificate where a key was expected: fail closed rather than accept. */
  int rc = RTCSEC_ERR_FINGERPRINT_MISMATCH;
  if (d->n_fps > 0 && fingerprint_matches(d, der, (size_t)der_len)) {
    rc = RTCSEC_OK;
  } else if (d->ca != NULL) {
    rc = verify_with_ca(d, leaf, chain, fp);
    if (rc == RTCSEC_OK) /* remembered as the certificate's SHA-256 */
      (void)rtcsec_fingerprint_of_der(der, (size_t)der_len, RTCSEC_HASH_SHA256, &d->matched_fp);
  } else if (d->n_fps > 0) {
    snprintf(d->detail, sizeof(d->detail),
             "the peer certificate (%s) matches none of the %zu expected fingerprints", fp,
             d->n_fps);
  } else {
    snprintf(d->detail, sizeof(d->detail),
             "the peer authenticated with a certificate (%s), but no fingerprint or CA is "
             "configured to verify it",
             fp);
  }
  OPENSSL_free(der);
  if (rc == RTCSEC_OK)
    d->peer_verified = 1;
  return rc;
}

int rtcsec_dtls_engine_check_peer(rtcsec_dtls *d, X509 *leaf) {
  return rtcsec_dtls_engine_verify_peer(d, leaf, NULL) == RTCSEC_OK;
}

void rtcsec_dtls_engine_peer_psk(rtcsec_dtls *d) { d->psk_keyed = d->psk_len > 0; }

void rtcsec_dtls_engine_connected(rtcsec_dtls *d, uint64_t now) {
  /* Fail closed: nothing connects before the peer matched a fingerprint
   * (or the CA), or proved the pre-shared key with its Finished. */
  if (!d->peer_verified && !d->psk_keyed) {
    fail(d, RTCSEC_ERR_FINGERPRINT_MISMATCH, NULL);
    return;
  }
  rtcsec_event ev = {.type = RTCSEC_EVENT_CONNECTED};
  d->ops->connected_info(d->engine, &ev.connected);
  ev.connected.role = d->role;
  ev.connected.peer_fingerprint = d->matched_fp;
  d->info = ev.connected;
  /* RFC 5764 §4.1.2: WebRTC needs the profile the server picked. */
  if (d->use_srtp && ev.connected.profile == RTCSEC_SRTP_NONE) {
    fail(d, RTCSEC_ERR_SRTP_NOT_NEGOTIATED, NULL);
    return;
  }
  d->state = RTCSEC_DTLS_STATE_CONNECTED;
  d->stats.handshake_us = now - d->start_us;
  d->stats.group = ev.connected.group;
  if (push_event(d, &ev, 0) != RTCSEC_OK)
    fail(d, RTCSEC_ERR_NO_MEMORY, NULL);
}

uint8_t *rtcsec_dtls_engine_data_room(rtcsec_dtls *d, size_t need) {
  /* Undelivered data stays where it is; once all of it was handed out the
   * buffer starts over. */
  if (d->data_events == 0)
    d->data_used = 0;
  if (d->data_used >= DATA_PENDING_MAX)
    return NULL;
  if (d->data_used + need > d->data_cap) {
    /* Room for two records at least: the engine asks for room again after
     * each record while the previous one is still undelivered, and sizing
     * to that exact sum would grow the buffer with every new largest record
     * (an allocation per datagram while sizes vary). */
    size_t cap = d->data_used + need < 2 * need ? 2 * need : d->data_used + need;
    uint8_t *n = malloc(cap);
    if (n == NULL)
      return NULL;
    if (d->data_buf != NULL) {
      memcpy(n, d->data_buf, d->data_used);
      OPENSSL_cleanse(d->data_buf, d->data_cap);
      free(d->data_buf);
    }
    d->data_buf = n;
    d->data_cap = cap;
  }
  d->data_room_start = d->data_used;
  return d->data_buf + d->data_used;
}

void rtcsec_dtls_engine_data_commit(rtcsec_dtls *d, size_t len) {
  rtcsec_event ev = {.type = RTCSEC_EVENT_DATA};
  ev.data.len = len;
  if (push_event(d, &ev, d->data_room_start) != RTCSEC_OK) {
    d->stats.data_dropped++;
    return;
  }
  d->data_used = d->data_room_start + len;
  d->data_events++;
}

void rtcsec_dtls_engine_closed(rtcsec_dtls *d) {
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED && d->state != RTCSEC_DTLS_STATE_HANDSHAKING)
    return;
  d->state = RTCSEC_DTLS_STATE_CLOSED;
  rtcsec_event ev = {.type = RTCSEC_EVENT_CLOSED};
  (void)push_event(d, &ev, 0);
}

void rtcsec_dtls_engine_failed(rtcsec_dtls *d, int code, int alert, int alert_from_peer,
                               const char *detail) {
  if (d->alert < 0) {
    d->alert = alert;
    d->alert_from_peer = alert_from_peer;
  }
  fail(d, code, detail);
}

void rtcsec_dtls_engine_unauthenticated_alert(rtcsec_dtls *d, int level, int desc) {
  d->stats.unauthenticated_alerts++;
  d->unauth_alert_level = level;
  d->unauth_alert = desc;
}

/* ---- life cycle ------------------------------------------------------------- */

void rtcsec_dtls_config_default(rtcsec_dtls_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = RTCSEC_DTLS_SERVER;
  cfg->mtu = 1200;
  cfg->rto_initial_us = 100000;
  cfg->rto_max_us = 3000000;
  cfg->handshake_timeout_us = 30000000;
  cfg->enable_dtls13 = 1;
  cfg->enable_mlkem = 1;
  cfg->use_srtp = 1;
}

static int valid_fingerprints(const rtcsec_fingerprint *fps, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (rtcsec_hash_len(fps[i].hash) == 0 || fps[i].len != rtcsec_hash_len(fps[i].hash))
      return 0;
  }
  return 1;
}

static int set_profiles(rtcsec_dtls *d, const rtcsec_dtls_config *cfg) {
  const rtcsec_srtp_profile *src = cfg->n_profiles ? cfg->profiles : rtcsec_srtp_default_profiles;
  size_t n = cfg->n_profiles ? cfg->n_profiles : RTCSEC_SRTP_N_DEFAULT_PROFILES;
  if (n > RTCSEC_SRTP_MAX_PROFILES)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < n; i++) {
    if (rtcsec_srtp_profile_key_len(src[i]) == 0)
      return RTCSEC_ERR_INVALID_ARGUMENT;
    for (size_t j = 0; j < i; j++) {
      if (src[j] == src[i])
        return RTCSEC_ERR_INVALID_ARGUMENT;
    }
    d->profiles[i] = src[i];
  }
  d->n_profiles = n;
  return RTCSEC_OK;
}

static int make_dtls12(rtcsec_dtls *d) {
  d->ops = &rtcsec_dtls12_ops;
  d->stats.version = "DTLSv1.2";
  return rtcsec_dtls12_new(&d->engine, &d->env);
}

/* The pre-shared key and its identity go together, within RFC 4279's
 * lengths; the identity is a C string. */
static int valid_psk(const rtcsec_dtls_config *cfg) {
  if (cfg->psk_identity == NULL && cfg->psk == NULL && cfg->psk_len == 0)
    return 1;
  if (cfg->psk_identity == NULL || cfg->psk == NULL || cfg->psk_len == 0 ||
      cfg->psk_len > RTCSEC_DTLS_MAX_PSK)
    return 0;
  size_t il = strnlen(cfg->psk_identity, RTCSEC_DTLS_MAX_PSK_IDENTITY + 1);
  return il > 0 && il <= RTCSEC_DTLS_MAX_PSK_IDENTITY;
}

/* Reads every certificate of a PEM file into a fresh store. */
static int load_ca_file(const char *path, X509_STORE **out) {
  *out = NULL;
  BIO *b = BIO_new_file(path, "r");
  if (b == NULL) {
    ERR_clear_error();
    return RTCSEC_ERR_IO;
  }
  STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
  BIO_free(b);
  X509_STORE *st = infos != NULL ? X509_STORE_new() : NULL;
  size_t n = 0;
  for (int i = 0; st != NULL && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *info = sk_X509_INFO_value(infos, i);
    if (info->x509 != NULL && X509_STORE_add_cert(st, info->x509) == 1)
      n++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (n == 0) {
    X509_STORE_free(st);
    return RTCSEC_ERR_PEM;
  }
  *out = st;
  return RTCSEC_OK;
}

/* Copies the uses beyond WebRTC into the association. */
static int set_uses(rtcsec_dtls *d, const rtcsec_dtls_config *cfg) {
  d->use_srtp = cfg->use_srtp != 0;
  if (cfg->psk_len > 0) {
    memcpy(d->psk, cfg->psk, cfg->psk_len);
    d->psk_len = cfg->psk_len;
    snprintf(d->psk_identity, sizeof(d->psk_identity), "%s", cfg->psk_identity);
  }
  if (cfg->ciphers != NULL && (d->ciphers = strdup(cfg->ciphers)) == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  if (cfg->groups != NULL && (d->groups = strdup(cfg->groups)) == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  if (cfg->peer_name != NULL && (d->peer_name = strdup(cfg->peer_name)) == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  return cfg->ca_file != NULL ? load_ca_file(cfg->ca_file, &d->ca) : RTCSEC_OK;
}

int rtcsec_dtls_new(rtcsec_dtls **out, const rtcsec_dtls_config *cfg) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg == NULL || !valid_psk(cfg) || (cfg->cert == NULL && cfg->psk_len == 0) ||
      (cfg->ca_file != NULL && cfg->role == RTCSEC_DTLS_CLIENT && cfg->peer_name == NULL) ||
      (cfg->peer_name != NULL && (cfg->ca_file == NULL || cfg->peer_name[0] == '\0')) ||
      (cfg->ciphers != NULL && cfg->ciphers[0] == '\0') ||
      (cfg->groups != NULL && cfg->groups[0] == '\0') || cfg->mtu < 256 || cfg->mtu > 65507 ||
      cfg->rto_initial_us == 0 || cfg->rto_max_us < cfg->rto_initial_us ||
      cfg->handshake_timeout_us == 0 ||
      (cfg->role != RTCSEC_DTLS_CLIENT && cfg->role != RTCSEC_DTLS_SERVER) ||
      cfg->n_peer_fingerprints > RTCSEC_DTLS_MAX_FINGERPRINTS ||
      (cfg->n_peer_fingerprints > 0 && cfg->peer_fingerprints == NULL) ||
      !valid_fingerprints(cfg->peer_fingerprints, cfg->n_peer_fingerprints))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (rtcsec_init() != RTCSEC_OK)
    return RTCSEC_ERR_CRYPTO;

  rtcsec_dtls *d = calloc(1, sizeof(*d));
  if (d == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  d->role = cfg->role;
  d->state = RTCSEC_DTLS_STATE_NEW;
  d->handshake_timeout_us = cfg->handshake_timeout_us;
  d->alert = -1;
  d->unauth_alert = d->unauth_alert_level = -1;
  d->stats.role = cfg->role;
  rtcsec_dgram_queue_init(&d->out, OUT_MAX_DATAGRAMS);
  rtcsec_dgram_queue_init(&d->held, HELD_MAX_DATAGRAMS);
  rtcsec_ring_init(&d->events, sizeof(event_node), EVENTS_MAX);
  if (cfg->n_peer_fingerprints > 0) /* (memcpy from NULL is undefined even for 0 bytes) */
    memcpy(d->fps, cfg->peer_fingerprints, cfg->n_peer_fingerprints * sizeof(d->fps[0]));
  d->n_fps = cfg->n_peer_fingerprints;
  d->cert = rtcsec_cert_ref(cfg->cert);
  int rc = set_profiles(d, cfg);
  if (rc == RTCSEC_OK)
    rc = set_uses(d, cfg);
  if (rc == RTCSEC_OK) {
    d->env = (rtcsec_dtls_engine_env){
        .assoc = d,
        .role = d->role,
        .cert = d->cert,
        .profiles = d->profiles,
        .n_profiles = d->n_profiles,
        .mtu = cfg->mtu,
        .rto_initial_us = cfg->rto_initial_us,
        .rto_max_us = cfg->rto_max_us,
        .keylog = cfg->keylog,
        .keylog_user = cfg->keylog_user,
        .out = &d->out,
        .stats = &d->stats,
        .use_srtp = d->use_srtp,
        .ciphers = d->ciphers,
        .groups = d->groups,
        .psk_identity = d->psk_identity,
        .psk = d->psk,
        .psk_len = d->psk_len,
        .enable_mlkem = cfg->enable_mlkem != 0,
    };
    /* rtcsec's DTLS 1.3 engine speaks WebRTC's profile only (certificate
     * + fingerprint, use_srtp); the uses beyond it stay on DTLS 1.2. */
    int dtls13 = cfg->enable_dtls13 && d->role == RTCSEC_DTLS_SERVER && d->use_srtp &&
                 d->psk_len == 0 && d->ciphers == NULL && d->groups == NULL && d->ca == NULL;
    if (dtls13) {
      /* The version is chosen from the whole first ClientHello. */
      d->col = malloc(sizeof(*d->col));
      rc = d->col != NULL ? RTCSEC_OK : RTCSEC_ERR_NO_MEMORY;
      rtcsec_ch_collector_init(d->col);
    } else {
      rc = make_dtls12(d);
    }
  }
  if (rc != RTCSEC_OK) {
    rtcsec_dtls_free(d);
    return rc;
  }
  *out = d;
  return RTCSEC_OK;
}

void rtcsec_dtls_free(rtcsec_dtls *d) {
  if (d == NULL)
    return;
  if (d->engine != NULL)
    d->ops->free(d->engine);
  if (d->col != NULL) {
    rtcsec_ch_collector_clear(d->col);
    free(d->col);
  }
  rtcsec_dgram_queue_clear(&d->out);
  rtcsec_dgram_queue_clear(&d->held);
  rtcsec_ring_clear(&d->events);
  if (d->data_buf != NULL) {
    OPENSSL_cleanse(d->data_buf, d->data_cap);
    free(d->data_buf);
  }
  rtcsec_cert_free(d->cert);
  X509_STORE_free(d->ca);
  free(d->ciphers);
  free(d->groups);
  free(d->peer_name);
  OPENSSL_cleanse(d, sizeof(*d)); /* the pre-shared key with the rest */
  free(d);
}

int rtcsec_dtls_start(rtcsec_dtls *d, uint64_t now) {
  if (d == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state != RTCSEC_DTLS_STATE_NEW)
    return RTCSEC_ERR_INVALID_STATE;
  d->start_us = now;
  d->state = RTCSEC_DTLS_STATE_HANDSHAKING;
  int rc = d->engine != NULL ? d->ops->start(d->engine, now) : RTCSEC_OK;
  if (rc != RTCSEC_OK)
    fail(d, rc, NULL);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

/* ---- input ------------------------------------------------------------------- */

static int feed(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  int rc = d->ops->handle_datagram(d->engine, data, len, now);
  if (rc != RTCSEC_OK)
    fail(d, rc, NULL);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

/* Until an expected fingerprint is known, the flight that carries the
 * peer's certificate is held back: a client holds everything after its
 * ClientHello, a server everything after its first flight (so it still
 * answers a ClientHello that arrives before the SDP answer, RFC 5763 §5). */
static int must_hold(const rtcsec_dtls *d) {
  /* A CA or a pre-shared key authenticates without a fingerprint. */
  if (d->n_fps > 0 || d->ca != NULL || d->psk_len > 0 || d->state != RTCSEC_DTLS_STATE_HANDSHAKING)
    return 0;
  return d->role == RTCSEC_DTLS_CLIENT || (d->engine != NULL && d->ops->has_sent(d->engine));
}

/* The first ClientHello is complete: DTLS 1.3 if it offers it (rtcsec's
 * engine answers the parsed message), else OpenSSL's DTLS 1.2 is given the
 * datagrams exactly as they came (it judges anything that did not parse
 * too, as it always did). */
static int choose_engine(rtcsec_dtls *d, uint64_t now) {
  size_t len = 0;
  const uint8_t *m = rtcsec_ch_collector_message(d->col, &len);
  rtcsec_client_hello ch;
  int alert;
  int rc;
  if (rtcsec_client_hello_parse(&ch, m, len, &alert) == RTCSEC_OK &&
      rtcsec_client_hello_offers(&ch, RTCSEC_DTLS13_VERSION)) {
    d->ops = &rtcsec_dtls13_ops;
    d->stats.version = "DTLSv1.3";
    rc = rtcsec_dtls13_engine_new(&d->engine, &d->env, &ch, now);
    if (rc != RTCSEC_OK)
      fail(d, rc, NULL);
  } else {
    rc = make_dtls12(d);
    if (rc == RTCSEC_OK)
      rc = d->ops->start(d->engine, now);
    if (rc != RTCSEC_OK)
      fail(d, rc, NULL);
    rtcsec_dgram g;
    while (d->state == RTCSEC_DTLS_STATE_HANDSHAKING &&
           rtcsec_dgram_queue_pop(&d->col->datagrams, &g)) {
      feed(d, g.data, g.len, now);
      free(g.data);
    }
  }
  rtcsec_ch_collector_clear(d->col);
  free(d->col);
  d->col = NULL;
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

/* A datagram the ClientHello collector had no use for: its records are
 * counted as the engines' record filters count them (every complete one,
 * a truncated tail as one more), and an epoch-0 alert among them is an
 * unauthenticated alert (counted and remembered, never acted on). */
static void drop_records(rtcsec_dtls *d, const uint8_t *data, size_t len) {
  size_t off = 0;
  d->stats.datagrams_dropped++;
  while (off < len) {
    d->stats.records_dropped++;
    size_t rl = len - off < REC_HDR ? 0 : REC_HDR + rtcsec_be16(data + off + 11);
    if (rl == 0 || rl > len - off)
      break;
    const uint8_t *rec = data + off;
    size_t version = rtcsec_be16(rec + 1);
    if (rec[0] == 21 && rtcsec_be16(rec + 3) == 0 && rl == REC_HDR + 2 &&
        (version == 0xfefd || version == 0xfeff))
      rtcsec_dtls_engine_unauthenticated_alert(d, rec[REC_HDR], rec[REC_HDR + 1]);
    off += rl;
  }
}

/* A server that has no engine yet reassembles the first ClientHello. */
static int collect(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  d->stats.datagrams_collected++;
  uint64_t ignored = d->col->ignored;
  int rc = rtcsec_ch_collector_add(d->col, data, len);
  if (rc < 0) {
    fail(d, rc, NULL);
    return d->error;
  }
  if (d->col->ignored != ignored) /* nothing new in it: dropped, as everywhere */
    drop_records(d, data, len);
  return rc == 0 ? RTCSEC_OK : choose_engine(d, now);
}

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
  if (d == NULL || fps == NULL || n == 0 || !valid_fingerprints(fps, n))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_FAILED || d->state == RTCSEC_DTLS_STATE_CLOSED ||
      d->state == RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  if (n > RTCSEC_DTLS_MAX_FINGERPRINTS - d->n_fps)
    return RTCSEC_ERR_LIMIT;
  /* All of them first: the held flight is checked against the whole set
   * (RFC 8122 allows several a=fingerprint lines). */
  memcpy(d->fps + d->n_fps, fps, n * sizeof(*fps));
  d->n_fps += n;
  if (rtcsec_dgram_queue_count(&d->held) > 0)
    return release_held(d, now);
  d->stats.awaiting_fingerprint = 0;
  return RTCSEC_OK;
}

/* A record that can be a fragment of a ClientHello: handshake, epoch 0,
 * DTLS 1.0 or 1.2 (RFC 6347 §4.2.1), a ClientHello fragment whose header
 * adds up (§4.2.2), at any offset: a browser's ClientHello spans two
 * datagrams and the second may arrive first (the collector takes fragments
 * in any order). Anything else leaves a server NEW: bytes that cannot be a
 * ClientHello must not start its handshake clock. */
static int is_client_hello(const uint8_t *rec, size_t rl) {
  size_t version = rtcsec_be16(rec + 1);
  if (rl < REC_HDR + HS_HDR || rec[0] != 22 || rtcsec_be16(rec + 3) != 0 ||
      (version != 0xfefd && version != 0xfeff))
    return 0;
  const uint8_t *h = rec + REC_HDR;
  size_t msg_len = rtcsec_be24(h + 1), frag_off = rtcsec_be24(h + 6), frag_len = rtcsec_be24(h + 9);
  return h[0] == 1 && frag_len > 0 && frag_off <= msg_len && frag_len <= msg_len - frag_off &&
         frag_len <= rl - REC_HDR - HS_HDR;
}

static int has_client_hello(const uint8_t *data, size_t len) {
  size_t off = 0;
  while (len - off >= REC_HDR + HS_HDR) {
    size_t rl = REC_HDR + rtcsec_be16(data + off + 11);
    if (rl > len - off)
      return 0;
    if (is_client_hello(data + off, rl))
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
  d->stats.datagrams_received++;
  d->stats.bytes_received += len;
  if (d->state == RTCSEC_DTLS_STATE_NEW) {
    if (d->role == RTCSEC_DTLS_CLIENT)
      return RTCSEC_ERR_INVALID_STATE;
    /* A server starts its handshake clock on a ClientHello, not on any
     * bytes: garbage before the first ClientHello leaves it NEW. */
    if (!has_client_hello(data, len)) {
      d->stats.datagrams_dropped++;
      return RTCSEC_OK;
    }
    int rc = rtcsec_dtls_start(d, now);
    if (rc != RTCSEC_OK)
      return rc;
  }
  if (len == 0) {
    d->stats.datagrams_dropped++;
    return RTCSEC_OK;
  }
  if (d->engine == NULL && d->col != NULL)
    return collect(d, data, len, now);
  if (must_hold(d)) {
    d->stats.awaiting_fingerprint = 1;
    if (rtcsec_dgram_queue_count(&d->held) >= HELD_MAX_DATAGRAMS ||
        d->held.bytes + len > HELD_MAX_BYTES) {
      d->stats.datagrams_dropped++;
      return RTCSEC_OK;
    }
    if (rtcsec_dgram_queue_push(&d->held, data, len) != RTCSEC_OK)
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
    fail(d, RTCSEC_ERR_HANDSHAKE_TIMEOUT, NULL);
    return d->error;
  }
  int rc = d->engine != NULL ? d->ops->handle_timeout(d->engine, now) : RTCSEC_OK;
  if (rc != RTCSEC_OK)
    fail(d, rc, NULL);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

uint64_t rtcsec_dtls_deadline(const rtcsec_dtls *d) {
  if (d == NULL ||
      (d->state != RTCSEC_DTLS_STATE_HANDSHAKING && d->state != RTCSEC_DTLS_STATE_CONNECTED))
    return UINT64_MAX;
  uint64_t t = d->engine != NULL ? d->ops->deadline(d->engine) : UINT64_MAX;
  if (d->state == RTCSEC_DTLS_STATE_HANDSHAKING) {
    uint64_t hs = d->start_us + d->handshake_timeout_us;
    if (hs < t)
      t = hs;
  }
  return t;
}

/* ---- output ------------------------------------------------------------------ */

int rtcsec_dtls_poll_datagram(rtcsec_dtls *d, uint8_t *buf, size_t cap, size_t *out_len) {
  if (d == NULL || out_len == NULL || (buf == NULL && cap > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out_len = 0;
  const rtcsec_dgram *head = rtcsec_dgram_queue_peek(&d->out);
  if (head == NULL)
    return RTCSEC_OK;
  if (head->len > cap)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  rtcsec_dgram g;
  rtcsec_dgram_queue_pop(&d->out, &g);
  memcpy(buf, g.data, g.len);
  *out_len = g.len;
  d->stats.datagrams_sent++;
  d->stats.bytes_sent += g.len;
  free(g.data);
  return RTCSEC_OK;
}

int rtcsec_dtls_poll_event(rtcsec_dtls *d, rtcsec_event *ev) {
  if (d == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ev, 0, sizeof(*ev));
  event_node n;
  if (!rtcsec_ring_pop(&d->events, &n)) {
    /* An idle association keeps no queue (thousands of them in an SFU).
     * One that carries application data (data channels: one DATA event
     * per datagram) keeps its ring as it keeps data_buf, so that taking
     * in a datagram allocates nothing. */
    if (d->data_buf == NULL)
      rtcsec_ring_shrink(&d->events);
    return RTCSEC_OK;
  }
  *ev = n.ev;
  if (ev->type == RTCSEC_EVENT_DATA) {
    ev->data.data = d->data_buf + n.data_off;
    d->data_events--;
  }
  return RTCSEC_OK;
}

int rtcsec_dtls_get_connected(const rtcsec_dtls *d, rtcsec_connected_info *out) {
  if (d == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  *out = d->info;
  return RTCSEC_OK;
}

int rtcsec_dtls_send_data(rtcsec_dtls *d, const uint8_t *data, size_t len, uint64_t now) {
  if (d == NULL || data == NULL || len == 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_FAILED)
    return d->error;
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  int rc = d->ops->send_data(d->engine, data, len, now);
  if (rc == RTCSEC_ERR_KEY_EXHAUSTED)
    fail(d, rc, NULL);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : rc;
}

int rtcsec_dtls_close(rtcsec_dtls *d, uint64_t now) {
  if (d == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state == RTCSEC_DTLS_STATE_CLOSED || d->state == RTCSEC_DTLS_STATE_FAILED)
    return RTCSEC_OK;
  if (d->engine != NULL)
    d->ops->close(d->engine, now);
  d->state = RTCSEC_DTLS_STATE_CLOSED;
  rtcsec_dgram_queue_clear(&d->held);
  return RTCSEC_OK;
}

int rtcsec_dtls_export_srtp_keys(const rtcsec_dtls *d, rtcsec_srtp_keys *keys) {
  if (d == NULL || keys == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(keys, 0, sizeof(*keys));
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  size_t k = rtcsec_srtp_profile_key_len(d->info.profile);
  size_t s = rtcsec_srtp_profile_salt_len(d->info.profile);
  if (k == 0)
    return RTCSEC_ERR_SRTP_NOT_NEGOTIATED;
  keys->profile = d->info.profile;
  keys->key_len = k;
  keys->salt_len = s;
  keys->material_len = 2 * (k + s);
  /* RFC 5764 §4.2: no context, length 2 * (key + salt). */
  int rc =
      d->ops->export_material(d->engine, srtp_exporter_label, keys->material, keys->material_len);
  if (rc != RTCSEC_OK) {
    rtcsec_srtp_keys_wipe(keys);
    return rc;
  }
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

int rtcsec_dtls_export_keying_material(const rtcsec_dtls *d, const char *label, uint8_t *out,
                                       size_t len) {
  if (d == NULL || label == NULL || label[0] == '\0' || out == NULL || len == 0 ||
      len > RTCSEC_DTLS_MAX_EXPORT)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (d->state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  /* RFC 5705 §4: no context. */
  int rc = d->ops->export_material(d->engine, label, out, len);
  if (rc != RTCSEC_OK)
    OPENSSL_cleanse(out, len);
  return rc;
}

/* ---- introspection ----------------------------------------------------------- */

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
               {115, "unknown_psk_identity"},
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
  if (out->version == NULL)
    out->version = "";
  if (out->group == NULL)
    out->group = "";
  out->last_unauthenticated_alert = d->unauth_alert;
  out->state = d->state;
  out->role = d->role;
  return RTCSEC_OK;
}

int rtcsec_dtls_pending_events(const rtcsec_dtls *d) { return rtcsec_ring_count(&d->events) > 0; }

/* ---- test hooks (dtls_internal.h) ----------------------------------------- */

void rtcsec_dtls_test_set_records_sent(rtcsec_dtls *d, uint64_t n) {
  if (d != NULL && d->ops == &rtcsec_dtls12_ops && d->engine != NULL)
    rtcsec_dtls12_test_set_records_sent(d->engine, n);
}

int rtcsec_dtls_test_secrets_wiped(const rtcsec_dtls *d) {
  if (d == NULL || d->ops != &rtcsec_dtls13_ops || d->engine == NULL)
    return -1;
  return rtcsec_dtls13_engine_secrets_wiped(d->engine);
}

const char *rtcsec_dtls_test_engine_name(const rtcsec_dtls *d) {
  return d != NULL && d->ops != NULL ? d->ops->name : "";
}
