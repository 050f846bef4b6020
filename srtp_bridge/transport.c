/* The media transport: demux (RFC 7983) + DTLS association + SRTP bridge.
 * See rtcsec/transport.h for the contract. */
#include <stdlib.h>
#include <string.h>

#include "dtls_internal.h"
#include "profile_internal.h"
#include "rtcsec/error.h"
#include "rtcsec/transport.h"
#include "srtp_internal.h"
#include "transport_internal.h"

/* What every media packet reads or counts comes first, in one cache line:
 * an SFU's media path finds thousands of transports in memory, not in
 * cache (the full counters, far down in `counters`, are filled in by
 * rtcsec_transport_get_stats()). */
struct rtcsec_transport {
  rtcsec_srtp *srtp; /* NULL until connected and after close/failure */
  uint64_t in_rtp, in_rtcp;
  int ended; /* closed or failed: media refused */
  int error; /* sticky failure of the transport itself */
  rtcsec_dtls *dtls;
  rtcsec_srtp_config srtp_cfg;
  rtcsec_srtp_stats srtp_final; /* counters kept when srtp is freed */
  int install_error;            /* the SRTP sessions could not be made */
  int error_pending;            /* its FAILED event is still to be polled */
  rtcsec_connected_info info;   /* profile == RTCSEC_SRTP_NONE until connected */
  char local_fp[RTCSEC_FINGERPRINT_STRLEN];
  rtcsec_transport_stats counters; /* only in_stun, in_dtls and the drop_ fields are used */
};

void rtcsec_transport_config_default(rtcsec_transport_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  rtcsec_dtls_config_default(&cfg->dtls);
  rtcsec_srtp_config_default(&cfg->srtp);
}

int rtcsec_transport_new(rtcsec_transport **out, const rtcsec_transport_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  rtcsec_dtls_config dcfg = cfg->dtls;
  /* The transport is DTLS-SRTP: its keys come from use_srtp (RFC 5764). */
  if (!dcfg.use_srtp)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (dcfg.n_profiles == 0) {
    /* The default list, less what this libsrtp2 cannot do: never offer a
     * profile that could not be used once negotiated. */
    const rtcsec_srtp_profile *defaults = rtcsec_srtp_default_profiles;
    for (size_t i = 0; i < RTCSEC_SRTP_N_DEFAULT_PROFILES; i++) {
      if (rtcsec_srtp_profile_supported(defaults[i]))
        dcfg.profiles[dcfg.n_profiles++] = defaults[i];
    }
    if (dcfg.n_profiles == 0)
      return RTCSEC_ERR_UNSUPPORTED;
  } else {
    for (size_t i = 0; i < dcfg.n_profiles && i < RTCSEC_SRTP_MAX_PROFILES; i++) {
      if (!rtcsec_srtp_profile_supported(dcfg.profiles[i]))
        return rtcsec_srtp_profile_key_len(dcfg.profiles[i]) ? RTCSEC_ERR_UNSUPPORTED
                                                             : RTCSEC_ERR_INVALID_ARGUMENT;
    }
  }
  rtcsec_transport *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  t->srtp_cfg = cfg->srtp;
  int rc = rtcsec_dtls_new(&t->dtls, &dcfg);
  if (rc != RTCSEC_OK) {
    free(t);
    return rc;
  }
  rtcsec_fingerprint fp;
  if (rtcsec_cert_fingerprint(dcfg.cert, RTCSEC_HASH_SHA256, &fp) == RTCSEC_OK)
    rtcsec_fingerprint_format(&fp, t->local_fp, sizeof(t->local_fp), NULL);
  *out = t;
  return RTCSEC_OK;
}

/* Frees the SRTP sessions (wiping their keys) and keeps their counters. */
static void end_media(rtcsec_transport *t) {
  t->ended = 1;
  if (t->srtp != NULL) {
    rtcsec_srtp_get_stats(t->srtp, &t->srtp_final);
    rtcsec_srtp_free(t->srtp);
    t->srtp = NULL;
  }
}

/* Installs the SRTP sessions the moment the association is connected (not
 * when the application gets round to the event), and drops them the moment
 * it is closed or failed. Called after every call into the association. */
static int sync(rtcsec_transport *t, int rc) {
  rtcsec_dtls_state s = rtcsec_dtls_get_state(t->dtls);
  if (s == RTCSEC_DTLS_STATE_CONNECTED && t->srtp == NULL && !t->ended) {
    rtcsec_srtp_keys keys;
    rtcsec_connected_info info;
    int err = rtcsec_dtls_get_connected(t->dtls, &info);
    if (err == RTCSEC_OK)
      err = rtcsec_dtls_export_srtp_keys(t->dtls, &keys);
    if (err == RTCSEC_OK)
      err = rtcsec_srtp_new(&t->srtp, &keys, &t->srtp_cfg);
    rtcsec_srtp_keys_wipe(&keys);
    if (err != RTCSEC_OK) {
      /* Up but unable to protect media: close rather than half-work. */
      t->srtp = NULL;
      t->install_error = err;
      rtcsec_dtls_close(t->dtls, 0);
      end_media(t);
      return err;
    }
    t->info = info;
  } else if (s == RTCSEC_DTLS_STATE_FAILED || s == RTCSEC_DTLS_STATE_CLOSED) {
    end_media(t);
  }
  return rc;
}

void rtcsec_transport_free(rtcsec_transport *t) {
  if (t == NULL)
    return;
  rtcsec_srtp_free(t->srtp);
  rtcsec_dtls_free(t->dtls);
  free(t);
}

int rtcsec_transport_start(rtcsec_transport *t, uint64_t now) {
  return t ? sync(t, rtcsec_dtls_start(t->dtls, now)) : RTCSEC_ERR_INVALID_ARGUMENT;
}

int rtcsec_transport_add_peer_fingerprints(rtcsec_transport *t, const rtcsec_fingerprint *fps,
                                           size_t n, uint64_t now) {
  return t ? sync(t, rtcsec_dtls_add_peer_fingerprints(t->dtls, fps, n, now))
           : RTCSEC_ERR_INVALID_ARGUMENT;
}

static int unprotect(rtcsec_transport *t, uint8_t *buf, size_t len, rtcsec_packet_class kind,
                     rtcsec_transport_input *in) {
  if (t->srtp == NULL) {
    if (t->ended) {
      t->counters.drop_closed++;
      return RTCSEC_ERR_CLOSED;
    }
    t->counters.drop_no_keys++;
    return RTCSEC_ERR_SRTP_NO_KEYS;
  }
  size_t out = 0;
  int rc = kind == RTCSEC_PKT_RTP ? rtcsec_srtp_unprotect_rtp(t->srtp, buf, len, &out)
                                  : rtcsec_srtp_unprotect_rtcp(t->srtp, buf, len, &out);
  if (rc != RTCSEC_OK)
    return rc; /* counted by the bridge, per reason */
  in->len = out;
  in->authenticated = 1; /* the tag verified and the index was new */
  return RTCSEC_OK;
}

/* The datagram path, inlined into both entries below: the per-packet cost
 * of the public call is one classification and this switch. */
static inline int handle(rtcsec_transport *t, rtcsec_packet_class kind, uint8_t *buf, size_t len,
                         uint64_t now, rtcsec_transport_input *in) {
  in->kind = kind;
  in->authenticated = 0;
  in->len = 0;
  switch (kind) {
  case RTCSEC_PKT_RTP:
    t->in_rtp++;
    return unprotect(t, buf, len, kind, in);
  case RTCSEC_PKT_RTCP:
    t->in_rtcp++;
    return unprotect(t, buf, len, kind, in);
  case RTCSEC_PKT_STUN:
    t->counters.in_stun++;
    in->len = len;
    return RTCSEC_OK;
  case RTCSEC_PKT_DTLS: {
    t->counters.in_dtls++;
    rtcsec_dtls_stats before, after;
    rtcsec_dtls_get_stats(t->dtls, &before);
    int rc = sync(t, rtcsec_dtls_handle_datagram(t->dtls, buf, len, now));
    /* Application data that decrypted is proof of the peer's keys. */
    rtcsec_dtls_get_stats(t->dtls, &after);
    in->authenticated = after.records_authenticated > before.records_authenticated;
    return rc;
  }
  case RTCSEC_PKT_ZRTP:
    t->counters.drop_zrtp++;
    return RTCSEC_ERR_UNSUPPORTED;
  case RTCSEC_PKT_TURN_CHANNEL:
    t->counters.drop_turn_channel++;
    return RTCSEC_ERR_UNSUPPORTED;
  case RTCSEC_PKT_UNKNOWN:
  default:
    t->counters.drop_unknown++;
    return RTCSEC_ERR_DEMUX_UNKNOWN;
  }
}

int rtcsec_transport_handle_classified(rtcsec_transport *t, rtcsec_packet_class kind, uint8_t *buf,
                                       size_t len, uint64_t now, rtcsec_transport_input *in) {
  return handle(t, kind, buf, len, now, in);
}

int rtcsec_transport_handle_datagram(rtcsec_transport *t, uint8_t *buf, size_t len, uint64_t now,
                                     rtcsec_transport_input *in) {
  if (t == NULL || in == NULL || (buf == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return handle(t, rtcsec_demux_classify(buf, len), buf, len, now, in);
}

int rtcsec_transport_handle_timeout(rtcsec_transport *t, uint64_t now) {
  return t ? sync(t, rtcsec_dtls_handle_timeout(t->dtls, now)) : RTCSEC_ERR_INVALID_ARGUMENT;
}

uint64_t rtcsec_transport_deadline(const rtcsec_transport *t) {
  return t ? rtcsec_dtls_deadline(t->dtls) : UINT64_MAX;
}

int rtcsec_transport_poll_datagram(rtcsec_transport *t, uint8_t *buf, size_t cap, size_t *out_len) {
  return t ? rtcsec_dtls_poll_datagram(t->dtls, buf, cap, out_len) : RTCSEC_ERR_INVALID_ARGUMENT;
}

static int media_ready(const rtcsec_transport *t) {
  if (t->srtp != NULL)
    return RTCSEC_OK;
  if (t->error != 0)
    return t->error;
  return t->ended ? RTCSEC_ERR_CLOSED : RTCSEC_ERR_SRTP_NO_KEYS;
}

/* RFC 3711 §9.2: once the local master key has protected 2^48 SRTP or 2^31
 * SRTCP packets it must not be used again, and WebRTC has no rekeying
 * short of a new DTLS association. The session ends here: close_notify to
 * the peer, both directions' keys wiped, a FAILED event with
 * RTCSEC_ERR_KEY_EXHAUSTED. The refused packet itself gets the bridge's
 * RTCSEC_ERR_SRTP_KEY_LIMIT; every later call gets the sticky error. */
static int protected_result(rtcsec_transport *t, int rc, uint64_t now) {
  if (rc == RTCSEC_ERR_SRTP_KEY_LIMIT && t->error == 0) {
    t->error = RTCSEC_ERR_KEY_EXHAUSTED;
    t->error_pending = 1;
    end_media(t);
    rtcsec_dtls_close(t->dtls, now);
  }
  return rc;
}

int rtcsec_transport_protect_rtp(rtcsec_transport *t, uint8_t *buf, size_t len, size_t cap,
                                 size_t *out_len, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = media_ready(t);
  return rc != RTCSEC_OK
             ? rc
             : protected_result(t, rtcsec_srtp_protect_rtp(t->srtp, buf, len, cap, out_len), now);
}

int rtcsec_transport_protect_rtcp(rtcsec_transport *t, uint8_t *buf, size_t len, size_t cap,
                                  size_t *out_len, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = media_ready(t);
  return rc != RTCSEC_OK
             ? rc
             : protected_result(t, rtcsec_srtp_protect_rtcp(t->srtp, buf, len, cap, out_len), now);
}

size_t rtcsec_transport_rtp_overhead(const rtcsec_transport *t) {
  return t && t->srtp ? rtcsec_srtp_rtp_overhead(t->info.profile) : 0;
}

size_t rtcsec_transport_rtcp_overhead(const rtcsec_transport *t) {
  return t && t->srtp ? rtcsec_srtp_rtcp_overhead(t->info.profile) : 0;
}

int rtcsec_transport_send_data(rtcsec_transport *t, const uint8_t *data, size_t len, uint64_t now) {
  return t ? sync(t, rtcsec_dtls_send_data(t->dtls, data, len, now)) : RTCSEC_ERR_INVALID_ARGUMENT;
}

int rtcsec_transport_close(rtcsec_transport *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  end_media(t);
  return rtcsec_dtls_close(t->dtls, now);
}

int rtcsec_transport_poll_event(rtcsec_transport *t, rtcsec_event *ev) {
  if (t == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ev, 0, sizeof(*ev));
  if (t->error_pending) {
    t->error_pending = 0;
    ev->type = RTCSEC_EVENT_FAILED;
    ev->failed.error = t->error;
    ev->failed.alert = -1;
    return RTCSEC_OK;
  }
  int rc = rtcsec_dtls_poll_event(t->dtls, ev);
  if (rc != RTCSEC_OK)
    return rc;
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    /* The sessions were installed by sync() already, or could not be. */
    if (t->srtp == NULL) {
      memset(ev, 0, sizeof(*ev));
      ev->type = RTCSEC_EVENT_FAILED;
      ev->failed.error = t->install_error ? t->install_error : RTCSEC_ERR_CLOSED;
      ev->failed.alert = -1;
    }
    break;
  case RTCSEC_EVENT_CLOSED:
  case RTCSEC_EVENT_FAILED:
    end_media(t);
    break;
  default:
    break;
  }
  return RTCSEC_OK;
}

rtcsec_dtls_state rtcsec_transport_get_state(const rtcsec_transport *t) {
  if (t == NULL)
    return RTCSEC_DTLS_STATE_FAILED;
  if (t->error != 0)
    return RTCSEC_DTLS_STATE_FAILED;
  rtcsec_dtls_state s = rtcsec_dtls_get_state(t->dtls);
  if (s == RTCSEC_DTLS_STATE_CONNECTED && t->srtp == NULL)
    return RTCSEC_DTLS_STATE_CLOSED; /* keys could not be installed */
  return s;
}

int rtcsec_transport_get_stats(const rtcsec_transport *t, rtcsec_transport_stats *out) {
  if (t == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = t->counters;
  out->in_rtp = t->in_rtp;
  out->in_rtcp = t->in_rtcp;
  out->state = rtcsec_transport_get_state(t);
  out->role = rtcsec_dtls_get_role(t->dtls);
  out->error = t->error != 0 ? t->error : rtcsec_dtls_error(t->dtls);
  out->dtls_version = t->info.version ? t->info.version : "";
  out->dtls_cipher = t->info.cipher ? t->info.cipher : "";
  out->dtls_group = t->info.group ? t->info.group : "";
  out->profile = t->info.profile;
  memcpy(out->local_fingerprint, t->local_fp, sizeof(out->local_fingerprint));
  out->peer_fingerprint[0] = '\0';
  if (t->info.profile != RTCSEC_SRTP_NONE)
    rtcsec_fingerprint_format(&t->info.peer_fingerprint, out->peer_fingerprint,
                              sizeof(out->peer_fingerprint), NULL);
  rtcsec_dtls_get_stats(t->dtls, &out->dtls);
  out->handshake_us = out->dtls.handshake_us;
  if (t->srtp != NULL)
    rtcsec_srtp_get_stats(t->srtp, &out->srtp);
  else
    out->srtp = t->srtp_final;
  return RTCSEC_OK;
}

int rtcsec_transport_get_ssrc_stats(const rtcsec_transport *t, uint32_t ssrc, int outbound,
                                    rtcsec_srtp_ssrc_stats *out) {
  if (t == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (t->srtp == NULL)
    return RTCSEC_ERR_SRTP_NO_KEYS;
  return rtcsec_srtp_get_ssrc_stats(t->srtp, ssrc, outbound, out);
}

void rtcsec_transport_prefetch(const rtcsec_transport *t) {
  if (t != NULL && t->srtp != NULL)
    rtcsec_srtp_prefetch(t->srtp);
}

int rtcsec_transport_pending_events(const rtcsec_transport *t) {
  return t->error_pending || rtcsec_dtls_pending_events(t->dtls);
}

/* ---- test hooks (transport_internal.h): not part of the API ---------------- */

rtcsec_srtp *rtcsec_transport_test_srtp(rtcsec_transport *t) { return t ? t->srtp : NULL; }

rtcsec_dtls *rtcsec_transport_test_dtls(rtcsec_transport *t) { return t ? t->dtls : NULL; }
