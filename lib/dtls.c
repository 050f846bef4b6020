/* The DTLS association: the contract of rtcsec/dtls.h (state, fingerprints
 * and the hold, events, statistics, time limit, failure and its detail)
 * around the engine that speaks the protocol (dtls_engine.h). */
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "dtls_bio.h"
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
  void *engine;
  rtcsec_dgram_queue out;
  rtcsec_dgram_queue held;

  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  rtcsec_fingerprint fps[RTCSEC_DTLS_MAX_FINGERPRINTS];
  size_t n_fps;
  rtcsec_fingerprint matched_fp;
  int peer_verified;
  rtcsec_connected_info info; /* what was agreed, filled once at CONNECTED */

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

int rtcsec_dtls_engine_check_peer(rtcsec_dtls *d, X509 *leaf) {
  unsigned char *der = NULL;
  int der_len = i2d_X509(leaf, &der);
  if (der_len <= 0)
    return 0;
  /* The association holds the certificate-bearing flight until a
   * fingerprint is known, so none known here is an invariant breach: fail
   * closed rather than accept. */
  int ok = d->n_fps > 0 && fingerprint_matches(d, der, (size_t)der_len);
  if (ok) {
    d->peer_verified = 1;
  } else {
    rtcsec_fingerprint got;
    char text[RTCSEC_FINGERPRINT_STRLEN];
    if (rtcsec_fingerprint_of_der(der, (size_t)der_len, RTCSEC_HASH_SHA256, &got) == RTCSEC_OK &&
        rtcsec_fingerprint_format(&got, text, sizeof(text), NULL) == RTCSEC_OK)
      snprintf(d->detail, sizeof(d->detail),
               "the peer certificate (%s) matches none of the %zu expected fingerprints", text,
               d->n_fps);
  }
  OPENSSL_free(der);
  return ok;
}

void rtcsec_dtls_engine_connected(rtcsec_dtls *d, uint64_t now) {
  /* Fail closed: nothing connects before the peer matched a fingerprint. */
  if (!d->peer_verified) {
    fail(d, RTCSEC_ERR_FINGERPRINT_MISMATCH, NULL);
    return;
  }
  rtcsec_event ev = {.type = RTCSEC_EVENT_CONNECTED};
  d->ops->connected_info(d->engine, &ev.connected);
  ev.connected.role = d->role;
  ev.connected.peer_fingerprint = d->matched_fp;
  d->info = ev.connected;
  /* RFC 5764 §4.1.2: WebRTC needs the profile the server picked. */
  if (ev.connected.profile == RTCSEC_SRTP_NONE) {
    fail(d, RTCSEC_ERR_SRTP_NOT_NEGOTIATED, NULL);
    return;
  }
  d->state = RTCSEC_DTLS_STATE_CONNECTED;
  d->stats.handshake_us = now - d->start_us;
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

int rtcsec_dtls_new(rtcsec_dtls **out, const rtcsec_dtls_config *cfg) {
  if (out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (cfg == NULL || cfg->cert == NULL || cfg->mtu < 256 || cfg->mtu > 65507 ||
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
  if (cfg->n_peer_fingerprints > 0)
    memcpy(d->fps, cfg->peer_fingerprints, cfg->n_peer_fingerprints * sizeof(d->fps[0]));
  d->n_fps = cfg->n_peer_fingerprints;
  d->cert = rtcsec_cert_ref(cfg->cert);
  int rc = set_profiles(d, cfg);
  if (rc == RTCSEC_OK) {
    rtcsec_dtls_engine_env env = {
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
    };
    d->ops = &rtcsec_dtls12_ops;
    rc = rtcsec_dtls12_new(&d->engine, &env);
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
  rtcsec_dgram_queue_clear(&d->out);
  rtcsec_dgram_queue_clear(&d->held);
  rtcsec_ring_clear(&d->events);
  if (d->data_buf != NULL) {
    OPENSSL_cleanse(d->data_buf, d->data_cap);
    free(d->data_buf);
  }
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
  int rc = d->ops->start(d->engine, now);
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
  if (d->n_fps > 0 || d->state != RTCSEC_DTLS_STATE_HANDSHAKING)
    return 0;
  return d->role == RTCSEC_DTLS_CLIENT || d->ops->has_sent(d->engine);
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

static int has_client_hello(const uint8_t *data, size_t len) {
  size_t off = 0;
  while (len - off >= REC_HDR + HS_HDR) {
    size_t rl = REC_HDR + rtcsec_be16(data + off + 11);
    if (rl > len - off)
      return 0;
    if (data[off] == 22 && rtcsec_be16(data + off + 3) == 0 && data[off + REC_HDR] == 1)
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
  int rc = d->ops->handle_timeout(d->engine, now);
  if (rc != RTCSEC_OK)
    fail(d, rc, NULL);
  return d->state == RTCSEC_DTLS_STATE_FAILED ? d->error : RTCSEC_OK;
}

uint64_t rtcsec_dtls_deadline(const rtcsec_dtls *d) {
  if (d == NULL ||
      (d->state != RTCSEC_DTLS_STATE_HANDSHAKING && d->state != RTCSEC_DTLS_STATE_CONNECTED))
    return UINT64_MAX;
  uint64_t t = d->ops->deadline(d->engine);
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

int rtcsec_dtls_pending_events(const rtcsec_dtls *d) { return rtcsec_ring_count(&d->events) > 0; }

/* ---- test hooks (dtls_internal.h) ----------------------------------------- */

void rtcsec_dtls_test_set_records_sent(rtcsec_dtls *d, uint64_t n) {
  if (d != NULL)
    rtcsec_dtls12_test_set_records_sent(d->engine, n);
}
