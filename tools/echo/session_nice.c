/* rtcsec-echo's libnice back-end: one rtcsec_ice_agent (full ICE with
 * libnice, DTLS-SRTP on the selected pair) per call, on the default
 * GMainContext. The agent calls back with events and plaintext media. */
#include <string.h>

#include "app.h"

static void nice_on_media(void *user, rtcsec_packet_class kind, uint8_t *pkt, size_t len) {
  session_on_media(user, kind, pkt, len);
}

static void nice_on_event(void *user, const rtcsec_event *ev) {
  echo_session *s = user;
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    if (ev->candidate == NULL || s->gathering_done)
      break;
    if (s->n_candidates == ECHO_MAX_LOCAL_CANDIDATES ||
        strlen(ev->candidate) >= ECHO_CANDIDATE_LEN) {
      s->candidates_dropped++;
      break;
    }
    snprintf(s->candidates[s->n_candidates++], ECHO_CANDIDATE_LEN, "%s", ev->candidate);
    slog(s, "local %s", ev->candidate);
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    if (!s->gathering_done) {
      s->gathering_done = 1;
      slog(s, "gathering done: %zu candidate(s)", s->n_candidates);
      session_complete_pending(s);
    }
    break;
  case RTCSEC_EVENT_ICE_STATE:
    s->ice_state = ev->ice_state;
    slog(s, "ICE %s", rtcsec_ice_state_name(ev->ice_state));
    break;
  case RTCSEC_EVENT_SELECTED_PAIR:
    slog(s, "selected pair %s %s:%u <-> %s %s:%u (%s)", ev->pair.local_type, ev->pair.local_address,
         ev->pair.local_port, ev->pair.remote_type, ev->pair.remote_address, ev->pair.remote_port,
         ev->pair.protocol);
    break;
  case RTCSEC_EVENT_CONNECTED:
  case RTCSEC_EVENT_DATA:
  case RTCSEC_EVENT_FAILED:
  case RTCSEC_EVENT_CLOSED:
    session_dtls_event(s, ev, s->dtls_role);
    break;
  case RTCSEC_EVENT_CONSENT_LOST:
    /* An ICE restart could bring the path back with the same DTLS, but the
     * echo does not restart: SCTP would only retransmit into nothing. */
    s->consent_lost = 1;
    slog(s, "%s", "consent lost (RFC 7675): media stopped");
    dc_dtls_ended(s);
    break;
  default:
    break;
  }
}

/* The agent is created; gathering starts with session_start(). */
int nice_session_start(echo_session *s, char *err, size_t err_cap) {
  const echo_options *o = &s->app->opt;
  rtcsec_ice_config cfg;
  rtcsec_ice_config_default(&cfg);
  cfg.role = s->rtcsec_offers ? RTCSEC_ICE_CONTROLLING : RTCSEC_ICE_CONTROLLED;
  for (size_t i = 0; i < o->n_ice_addresses; i++)
    cfg.local_addresses[i] = o->ice_addresses[i];
  cfg.n_local_addresses = o->n_ice_addresses;
  cfg.port_min = o->port_min;
  cfg.port_max = o->port_max;
  if (o->has_stun) {
    cfg.stun_server = o->stun.host;
    cfg.stun_port = o->stun.port;
  }
  if (o->has_turn) {
    cfg.turn_server = o->turn.host;
    cfg.turn_port = o->turn.port;
    cfg.turn_username = o->turn_user;
    cfg.turn_password = o->turn_pass;
  }
  cfg.context = g_main_context_default();
  cfg.transport.dtls.role = s->dtls_role;
  cfg.transport.dtls.cert = s->app->cert;
  cfg.transport.dtls.enable_dtls13 = !o->no_dtls13;
  cfg.transport.dtls.enable_mlkem = !o->no_mlkem;
  if (o->n_profiles) {
    memcpy(cfg.transport.dtls.profiles, o->profiles, o->n_profiles * sizeof(o->profiles[0]));
    cfg.transport.dtls.n_profiles = o->n_profiles;
  }
  cfg.on_event = nice_on_event;
  cfg.on_media = nice_on_media;
  cfg.user = s;
  int rc = rtcsec_ice_agent_new(&s->agent, &cfg);
  if (rc != 0) {
    snprintf(err, err_cap, "rtcsec_ice_agent_new: %s (%d)", rtcsec_strerror(rc), rc);
    return rc;
  }
  char ufrag[RTCSEC_ICE_UFRAG_MAX + 1], pwd[RTCSEC_ICE_PWD_MAX + 1];
  rc = rtcsec_ice_get_local_credentials(s->agent, ufrag, sizeof(ufrag), pwd, sizeof(pwd));
  if (rc != 0) {
    snprintf(err, err_cap, "rtcsec_ice_get_local_credentials: %s", rtcsec_strerror(rc));
    return rc;
  }
  snprintf(s->local.ice.ufrag, sizeof(s->local.ice.ufrag), "%s", ufrag);
  snprintf(s->local.ice.pwd, sizeof(s->local.ice.pwd), "%s", pwd);
  return 0;
}

/* The browser's candidates (all of them: non-trickle) and fingerprint;
 * its credentials were set by session_set_remote(). */
int nice_session_set_remote(echo_session *s, const echo_sdp *sdp, const rtcsec_fingerprint *fp,
                            char *err, size_t err_cap) {
  size_t added = 0;
  for (size_t i = 0; i < sdp->n_candidates; i++) {
    int rc = rtcsec_ice_add_remote_candidate(s->agent, sdp->candidates[i]);
    if (rc != 0)
      slog(s, "remote candidate refused (%s): %s", rtcsec_strerror(rc), sdp->candidates[i]);
    else
      added++;
  }
  slog(s, "%zu remote candidate(s) added, %zu ignored (mDNS, TCP, malformed)", added,
       sdp->candidates_ignored);
  rtcsec_ice_remote_end_of_candidates(s->agent); /* non-trickle: that was all */
  int rc = rtcsec_ice_add_peer_fingerprints(s->agent, fp, 1);
  if (rc != 0) {
    snprintf(err, err_cap, "peer fingerprint: %s", rtcsec_strerror(rc));
    return rc;
  }
  return 0;
}

int nice_session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap) {
  return rtcp ? rtcsec_ice_send_rtcp(s->agent, buf, len, cap)
              : rtcsec_ice_send_rtp(s->agent, buf, len, cap);
}

int nice_session_send_data(echo_session *s, const uint8_t *data, size_t len) {
  return rtcsec_ice_send_data(s->agent, data, len);
}

void nice_session_stop(echo_session *s) {
  rtcsec_ice_agent_free(s->agent);
  s->agent = NULL;
}
