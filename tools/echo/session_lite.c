/* rtcsec-echo's --single-port back-end: every call on one UDP socket,
 * driven by one rtcsec_router (ICE-lite responder, DTLS-SRTP per session)
 * through echo/lite_port.h on the same main loop. rtcsec's SDP says
 * a=ice-lite and carries one host candidate, the shared port, with fresh
 * ICE credentials per call; the browser is the controlling full agent
 * whether it offers or answers (RFC 8445 §6.1.1).
 */
#include <string.h>

#include "app.h"
#include "util.h"

/* By the router's id, never by the event's user pointer: events of a
 * removed session can still be queued in the router. */
static echo_session *session_find_rid(echo_app *app, rtcsec_session_id rid) {
  if (rid == 0)
    return NULL;
  for (GList *l = app->sessions.head; l; l = l->next) {
    echo_session *s = l->data;
    if (s->rid == rid)
      return s;
  }
  return NULL;
}

static void lite_on_media(void *user, rtcsec_session_id id, rtcsec_packet_class kind, uint8_t *buf,
                          size_t len) {
  echo_session *s = session_find_rid(user, id);
  if (s != NULL)
    session_on_media(s, kind, buf, len);
}

static void lite_on_event(void *user, const rtcsec_event *ev) {
  echo_app *app = user;
  echo_session *s = session_find_rid(app, ev->session);
  if (s == NULL)
    return; /* a call already ended here */
  switch (ev->type) {
  case RTCSEC_EVENT_NOMINATED:
    tool_addr_text(&ev->address.addr, ev->address.addr_len, s->lite_peer, sizeof(s->lite_peer));
    s->lite_nominations++;
    if (ev->address.moved)
      s->lite_moves++;
    if (s->nominated_us == 0)
      s->nominated_us = g_get_monotonic_time();
    s->ice_state = RTCSEC_ICE_STATE_CONNECTED;
    slog(s, "ICE-lite: the browser nominated %s <-> %s:%u%s", s->lite_peer,
         app->opt.single_port.host, (unsigned)app->lite_port,
         ev->address.moved ? " (moved: same DTLS association, no new handshake)" : "");
    break;
  case RTCSEC_EVENT_CONNECTED:
  case RTCSEC_EVENT_DATA:
  case RTCSEC_EVENT_FAILED:
  case RTCSEC_EVENT_CLOSED:
    session_dtls_event(s, ev, s->rid_role);
    break;
  case RTCSEC_EVENT_EXPIRED:
    /* The router has freed the session (keys wiped) and sends nothing
     * more to the browser. */
    s->consent_lost = 1;
    s->lite_expired = 1;
    s->rid = 0;
    s->ice_state = RTCSEC_ICE_STATE_FAILED;
    slog(s, "%s", "consent expired (RFC 7675: no valid check for 30 s): session gone");
    dc_dtls_ended(s);
    break;
  case RTCSEC_EVENT_NONE:
  default:
    break;
  }
}

int lite_open(echo_app *app) {
  if (!app->opt.has_single_port)
    return 0;
  echo_lite_config lc;
  memset(&lc, 0, sizeof(lc));
  lc.address = app->opt.single_port.host;
  lc.port = app->opt.single_port.port;
  lc.cert = app->cert;
  lc.profiles = app->opt.profiles;
  lc.n_profiles = app->opt.n_profiles;
  lc.max_sessions = MAX_SESSIONS; /* older calls are removed to make room */
  lc.enable_dtls13 = !app->opt.no_dtls13;
  lc.enable_mlkem = !app->opt.no_mlkem;
  echo_lite_callbacks cb = {.on_media = lite_on_media, .on_event = lite_on_event, .user = app};
  char err[256] = "";
  int rc = echo_lite_open(&app->lite, &lc, &cb, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, PROG ": --single-port: %s\n", err);
    return -1;
  }
  app->lite_port = echo_lite_port(app->lite);
  /* RFC 8445 §5.1.2.1 priority: host type preference 126, the only local
   * address (local preference 65535), component 1 (rtcp-mux). */
  unsigned long priority = (126ul << 24) + (65535ul << 8) + (256ul - 1);
  snprintf(app->lite_candidate, sizeof(app->lite_candidate), "candidate:1 1 udp %lu %s %u typ host",
           priority, app->opt.single_port.host, (unsigned)app->lite_port);
  int v6 = strchr(app->opt.single_port.host, ':') != NULL;
  printf("single port: udp %s%s%s:%u (ICE-lite, every call)\n", v6 ? "[" : "",
         app->opt.single_port.host, v6 ? "]" : "", (unsigned)app->lite_port);
  echo_log("single port %s%s%s:%u: ICE-lite, one rtcsec_router for every call", v6 ? "[" : "",
           app->opt.single_port.host, v6 ? "]" : "", (unsigned)app->lite_port);
  return 0;
}

int lite_session_register(echo_session *s, const char *remote_ufrag, const rtcsec_fingerprint *fp,
                          char *err, size_t err_cap) {
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = s->local.ice.ufrag;
  sc.local_pwd = s->local.ice.pwd;
  sc.remote_ufrag = remote_ufrag;
  sc.peer_fingerprints = fp;
  sc.n_peer_fingerprints = fp ? 1 : 0;
  sc.role = s->dtls_role;
  sc.user = NULL; /* calls are found by id (session_find_rid) */
  int rc = echo_lite_add_session(s->app->lite, &sc, &s->rid);
  if (rc != 0) {
    s->rid = 0;
    snprintf(err, err_cap, "rtcsec_router_add_session: %s (%d)", rtcsec_strerror(rc), rc);
    return rc;
  }
  s->rid_role = s->dtls_role;
  slog(s, "ICE-lite: router session %llu, ufrag %s, DTLS %s, %s", (unsigned long long)s->rid,
       s->local.ice.ufrag, dtls_role_name(s->rid_role),
       fp ? "browser fingerprint known" : "browser fingerprint comes with its answer");
  return 0;
}

/* No agent, no gathering: the one candidate is known. */
int lite_session_start(echo_session *s, char *err, size_t err_cap) {
  /* RFC 8445 §5.3: fresh credentials per call (24 / 128 random bits and
   * more); they route the browser's checks to this call. */
  int rc = rtcsec_sdp_ice_credentials_generate(&s->local.ice, 0, 0);
  if (rc != 0) {
    snprintf(err, err_cap, "ICE credentials: %s (%d)", rtcsec_strerror(rc), rc);
    return rc;
  }
  s->local.ice_lite = 1;
  /* RFC 8445 §5.1.2: a lite agent has host candidates only, here exactly
   * one: the shared port. */
  snprintf(s->candidates[0], ECHO_CANDIDATE_LEN, "%s", s->app->lite_candidate);
  s->n_candidates = 1;
  s->gathering_done = 1;
  s->ice_state = RTCSEC_ICE_STATE_CHECKING;
  return 0;
}

int lite_peer_refused(const echo_app *app, const echo_transport_desc *td) {
  return app->lite != NULL && td->ice_lite;
}

/* The browser's candidates are not used: a lite agent sends no checks and
 * learns the browser's address from the browser's checks (RFC 8445 §2.5). */
int lite_session_set_remote(echo_session *s, const echo_sdp *sdp, const echo_transport_desc *td,
                            char *err, size_t err_cap) {
  if (s->lite_expired) {
    snprintf(err, err_cap, "session %llu expired (no ICE check for 30 s)",
             (unsigned long long)s->id);
    return RTCSEC_ERR_INVALID_STATE;
  }
  s->lite_remote_candidates = sdp->n_candidates;
  slog(s, "%zu remote candidate(s) not used: ICE-lite learns the browser's address from its checks",
       sdp->n_candidates);
  rtcsec_fingerprint fp = session_expect_fingerprint(s, td);
  if (s->rid == 0) /* rtcsec answers: the session starts now, complete */
    return lite_session_register(s, td->ice.ufrag, &fp, err, err_cap);
  if (s->rid_role != s->dtls_role) {
    /* rtcsec offered actpass and the browser answered passive: the
     * session is added again as the DTLS client (same credentials; the
     * browser's next nominating check finds it). */
    echo_lite_remove_session(s->app->lite, s->rid);
    s->rid = 0;
    return lite_session_register(s, td->ice.ufrag, &fp, err, err_cap);
  }
  int rc = echo_lite_add_remote_fingerprint(s->app->lite, s->rid, &fp);
  if (rc != 0)
    snprintf(err, err_cap, "peer fingerprint: %s", rtcsec_strerror(rc));
  return rc;
}

int lite_session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap) {
  if (s->rid == 0)
    return RTCSEC_ERR_INVALID_STATE; /* consent expired: nothing more is sent */
  return rtcp ? echo_lite_send_rtcp(s->app->lite, s->rid, buf, len, cap)
              : echo_lite_send_rtp(s->app->lite, s->rid, buf, len, cap);
}

int lite_session_send_data(echo_session *s, const uint8_t *data, size_t len) {
  if (s->rid == 0)
    return RTCSEC_ERR_INVALID_STATE; /* consent expired: nothing more is sent */
  return echo_lite_send_data(s->app->lite, s->rid, data, len);
}

void lite_session_flush(echo_session *s) { echo_lite_flush(s->app->lite); }

void lite_session_stop(echo_session *s) {
  if (s->rid != 0 && s->app->lite != NULL)
    echo_lite_remove_session(s->app->lite, s->rid); /* close_notify if connected */
  s->rid = 0;
}

int lite_session_transport_stats(echo_session *s, rtcsec_transport_stats *out) {
  rtcsec_transport *t =
      s->rid ? rtcsec_router_session_transport(echo_lite_router(s->app->lite), s->rid) : NULL;
  return t != NULL && rtcsec_transport_get_stats(t, out) == 0;
}
