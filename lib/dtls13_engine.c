/* The DTLS 1.3 engine of the association (dtls_engine.h): rtcsec's own
 * server (dtls13_server.c) behind the same operations as OpenSSL's 1.2.
 * The association decides, from the reassembled ClientHello, which engine
 * answers (dtls.c); this file only translates: datagrams into the
 * association's queue, the engine's events into the rtcsec_dtls_engine_*()
 * calls, the client's certificate into the association's fingerprint
 * check, its counters into the association's statistics. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls13.h"
#include "dtls_engine.h"
#include "rtcsec/error.h"

/* The association enforces the handshake time limit; the engine's own is
 * only a backstop. */
#define ENGINE_HANDSHAKE_LIMIT_US (24 * 3600 * UINT64_C(1000000))

typedef struct dtls13_engine {
  rtcsec_dtls_engine_env env;
  rtcsec_dtls13 *e;
  uint8_t *dgram;        /* env.mtu bytes: one datagram on its way to env.out */
  rtcsec_d13_stats seen; /* counters already added to env.stats */
} dtls13_engine;

/* ---- callbacks from the engine ------------------------------------------------ */

static int verify_peer(void *user, X509 *leaf) {
  dtls13_engine *x = user;
  return rtcsec_dtls_engine_check_peer(x->env.assoc, leaf);
}

static void plaintext_alert(void *user, int level, int desc) {
  dtls13_engine *x = user;
  rtcsec_dtls_engine_unauthenticated_alert(x->env.assoc, level, desc);
}

static void data(void *user, const uint8_t *p, size_t len) {
  dtls13_engine *x = user;
  uint8_t *room = rtcsec_dtls_engine_data_room(x->env.assoc, len);
  if (room == NULL) {
    x->env.stats->data_dropped++;
    return;
  }
  memcpy(room, p, len);
  rtcsec_dtls_engine_data_commit(x->env.assoc, len);
}

/* ---- after every call: datagrams, counters, events ------------------------------ */

static int flush(dtls13_engine *x, uint64_t now) {
  int rc = RTCSEC_OK;
  for (;;) {
    size_t len = 0;
    if (rtcsec_dtls13_poll_datagram(x->e, x->dgram, x->env.mtu, &len) != RTCSEC_OK || len == 0)
      break;
    rc = rtcsec_dgram_queue_push(x->env.out, x->dgram, len);
    if (rc != RTCSEC_OK)
      break;
  }

  rtcsec_d13_stats st;
  rtcsec_dtls13_get_stats(x->e, &st);
  rtcsec_dtls_stats *s = x->env.stats;
  s->retransmissions += st.retransmissions - x->seen.retransmissions;
  s->records_dropped += (st.records_dropped - x->seen.records_dropped) +
                        (st.records_replayed - x->seen.records_replayed);
  s->records_authenticated += st.records_authenticated - x->seen.records_authenticated;
  x->seen = st;

  rtcsec_event ev;
  for (;;) {
    if (rtcsec_dtls13_poll_event(x->e, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      break;
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      rtcsec_dtls_engine_connected(x->env.assoc, now);
      break;
    case RTCSEC_EVENT_CLOSED:
      rtcsec_dtls_engine_closed(x->env.assoc);
      break;
    case RTCSEC_EVENT_FAILED: {
      char detail[128];
      if (ev.failed.alert >= 0)
        snprintf(detail, sizeof(detail), "DTLS 1.3: the handshake failed, alert %s (%d) %s",
                 rtcsec_dtls_alert_name(ev.failed.alert), ev.failed.alert,
                 ev.failed.alert_from_peer ? "received" : "sent");
      else
        snprintf(detail, sizeof(detail), "DTLS 1.3: %s", rtcsec_strerror(ev.failed.error));
      rtcsec_dtls_engine_failed(x->env.assoc, ev.failed.error, ev.failed.alert,
                                ev.failed.alert_from_peer, detail);
      break;
    }
    default:
      break; /* DATA goes through data() */
    }
  }
  return rc;
}

/* ---- the operations -------------------------------------------------------------- */

static void op_free(void *p) {
  dtls13_engine *x = p;
  if (x == NULL)
    return;
  rtcsec_dtls13_free(x->e);
  if (x->dgram != NULL)
    OPENSSL_cleanse(x->dgram, x->env.mtu);
  free(x->dgram);
  OPENSSL_cleanse(x, sizeof(*x));
  free(x);
}

/* Created by the association once the ClientHello is in: nothing to start. */
static int op_start(void *p, uint64_t now) {
  (void)p;
  (void)now;
  return RTCSEC_OK;
}

/* The engine's failures reach the association through flush(); the return
 * value only says whether something other than the protocol broke. */
static int after(dtls13_engine *x, int rc, uint64_t now) {
  int frc = flush(x, now);
  if (frc != RTCSEC_OK)
    return frc;
  return rc == RTCSEC_ERR_NO_MEMORY || rc == RTCSEC_ERR_CRYPTO ? rc : RTCSEC_OK;
}

static int op_handle_datagram(void *p, const uint8_t *d, size_t len, uint64_t now) {
  dtls13_engine *x = p;
  return after(x, rtcsec_dtls13_handle_datagram(x->e, d, len, now), now);
}

static int op_handle_timeout(void *p, uint64_t now) {
  dtls13_engine *x = p;
  return after(x, rtcsec_dtls13_handle_timeout(x->e, now), now);
}

static uint64_t op_deadline(const void *p) {
  const dtls13_engine *x = p;
  return rtcsec_dtls13_deadline(x->e);
}

static int op_send_data(void *p, const uint8_t *d, size_t len, uint64_t now) {
  dtls13_engine *x = p;
  int rc = rtcsec_dtls13_send(x->e, d, len, now);
  int frc = flush(x, now);
  return frc != RTCSEC_OK ? frc : rc;
}

static void op_close(void *p, uint64_t now) {
  dtls13_engine *x = p;
  (void)rtcsec_dtls13_close(x->e, now);
  /* Only the close_notify datagram: the association is closing itself. */
  size_t len = 0;
  while (rtcsec_dtls13_poll_datagram(x->e, x->dgram, x->env.mtu, &len) == RTCSEC_OK && len > 0)
    (void)rtcsec_dgram_queue_push(x->env.out, x->dgram, len);
}

static int op_export_material(const void *p, const char *label, uint8_t *out, size_t len) {
  const dtls13_engine *x = p;
  return rtcsec_dtls13_export(x->e, label, NULL, 0, out, len);
}

static void op_connected_info(const void *p, rtcsec_connected_info *info) {
  const dtls13_engine *x = p;
  info->profile = rtcsec_dtls13_profile(x->e);
  info->version = "DTLSv1.3";
  info->cipher = rtcsec_dtls13_cipher_name(x->e);
  info->group = rtcsec_dtls13_group_name(x->e);
}

static const char *op_timeout_hint(const void *p) {
  const dtls13_engine *x = p;
  return rtcsec_dtls13_timeout_hint(x->e);
}

static void op_abort(void *p, int error) {
  dtls13_engine *x = p;
  rtcsec_dtls13_abort(x->e, error);
}

/* It answers the ClientHello when it is made. */
static int op_has_sent(const void *p) {
  (void)p;
  return 1;
}

const rtcsec_dtls_engine_ops rtcsec_dtls13_ops = {
    .name = "rtcsec-dtls1.3",
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
    .abort = op_abort,
};

int rtcsec_dtls13_engine_secrets_wiped(const void *p) {
  const dtls13_engine *x = p;
  return rtcsec_dtls13_secrets_wiped(x->e);
}

int rtcsec_dtls13_engine_new(void **out, const rtcsec_dtls_engine_env *env,
                             const rtcsec_client_hello *ch, uint64_t now) {
  *out = NULL;
  if (env->role != RTCSEC_DTLS_SERVER)
    return RTCSEC_ERR_UNSUPPORTED;
  dtls13_engine *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  x->env = *env;
  x->dgram = malloc(env->mtu);
  if (x->dgram == NULL) {
    free(x);
    return RTCSEC_ERR_NO_MEMORY;
  }
  rtcsec_dtls13_config cfg;
  rtcsec_dtls13_config_default(&cfg);
  cfg.cert = rtcsec_cert_x509(env->cert);
  cfg.key = rtcsec_cert_pkey(env->cert);
  cfg.profiles = env->profiles;
  cfg.n_profiles = env->n_profiles;
  cfg.mtu = env->mtu;
  cfg.rto_initial_us = env->rto_initial_us;
  cfg.rto_max_us = env->rto_max_us;
  cfg.handshake_timeout_us = ENGINE_HANDSHAKE_LIMIT_US;
  cfg.enable_mlkem = env->enable_mlkem;
  cfg.verify_peer = verify_peer;
  cfg.user = x;
  cfg.keylog = env->keylog;
  cfg.keylog_user = env->keylog_user;
  cfg.plaintext_alert = plaintext_alert;
  cfg.data = data;
  int rc = rtcsec_dtls13_server_new(&x->e, &cfg, ch, now);
  if (x->e == NULL) {
    op_free(x);
    return rc;
  }
  /* A refused ClientHello leaves a FAILED engine whose alert and FAILED
   * event flush() hands to the association. */
  int frc = flush(x, now);
  if (frc != RTCSEC_OK) {
    op_free(x);
    return frc;
  }
  *out = x;
  return RTCSEC_OK;
}
