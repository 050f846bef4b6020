/* rtcsec-echo: one call, whichever back-end carries it.
 *
 * A call is created by an HTTP handler (echo/http.c) with the plan of the
 * offer/answer exchange (echo/sdp_session.h); its back-end (echo/
 * session_nice.c or echo/session_lite.c) delivers the browser's plaintext
 * media here, where it is rewritten into rtcsec's own SSRCs and payload
 * types (echo/rtp_echo.h) and sent back through the same back-end.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "app.h"

/* ---- the echo ------------------------------------------------------------ */

static void session_note_send(echo_session *s, int rc, const char *what) {
  if (rc == 0)
    return;
  s->send_errors++;
  s->last_send_error = rc;
  if (s->send_errors <= MAX_LOGGED_SEND_ERRORS)
    slog(s, "sending %s failed: %s (%d)%s", what, rtcsec_strerror(rc), rc,
         s->send_errors == MAX_LOGGED_SEND_ERRORS ? "; not logging more" : "");
}

/* Protects and sends one packet back to the browser. */
static int session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap) {
  return s->app->lite != NULL ? lite_session_send(s, rtcp, buf, len, cap)
                              : nice_session_send(s, rtcp, buf, len, cap);
}

static void session_resend(void *user, const uint8_t *pkt, size_t len) {
  echo_session *s = user;
  if (len > sizeof(s->rbuf) - RTCSEC_SRTP_MAX_OVERHEAD)
    return;
  memcpy(s->rbuf, pkt, len);
  session_note_send(s, session_send(s, 0, s->rbuf, len, sizeof(s->rbuf)), "RTP resend");
}

void session_on_media(echo_session *s, rtcsec_packet_class kind, uint8_t *pkt, size_t len) {
  if (len > sizeof(s->buf) - RTCSEC_SRTP_MAX_OVERHEAD)
    return;
  if (s->first_media_us == 0)
    s->first_media_us = g_get_monotonic_time();
  memcpy(s->buf, pkt, len);
  if (kind == RTCSEC_PKT_RTP) {
    int idx = echo_rewrite_rtp(&s->rw, s->buf, len);
    if (idx < 0)
      return;
    if (s->rw.streams[idx].kind == ECHO_KIND_VIDEO) {
      echo_rtp_cache_put(s->video_cache, s->buf, len, (uint64_t)g_get_monotonic_time());
      /* --test-drop-video N: every Nth echoed video packet is "lost" on
       * its way out (it is in the cache), so the browser must NACK it. */
      unsigned n = s->app->opt.drop_video;
      if (n && ++s->video_sent % n == 0) {
        s->test_dropped++;
        return;
      }
    }
    session_note_send(s, session_send(s, 0, s->buf, len, sizeof(s->buf)), "RTP");
  } else if (kind == RTCSEC_PKT_RTCP) {
    size_t out = 0;
    if (echo_rewrite_rtcp(&s->rw, s->buf, len, &out, s->video_cache, session_resend, s,
                          (uint64_t)g_get_monotonic_time()) == 1)
      session_note_send(s, session_send(s, 1, s->buf, out, sizeof(s->buf)), "RTCP");
  }
}

void session_dtls_failed(echo_session *s, int error, int alert) {
  s->dtls_failed = 1;
  s->dtls_error = error;
  s->dtls_alert = alert;
  if (alert >= 0)
    snprintf(s->failure, sizeof(s->failure), "%s (%d), TLS alert %s (%d)", rtcsec_strerror(error),
             error, rtcsec_dtls_alert_name(alert), alert);
  else
    snprintf(s->failure, sizeof(s->failure), "%s (%d)", rtcsec_strerror(error), error);
  slog(s, "DTLS FAILED, association refused: %s", s->failure);
}

int session_dtls_event(echo_session *s, const rtcsec_event *ev, rtcsec_dtls_role role) {
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    s->dtls_connected = 1;
    s->connected_us = g_get_monotonic_time();
    slog(s, "DTLS connected as %s: %s %s, group %s, SRTP %s", dtls_role_name(role),
         ev->connected.version && ev->connected.version[0] ? ev->connected.version : "?",
         ev->connected.cipher && ev->connected.cipher[0] ? ev->connected.cipher : "?",
         ev->connected.group && ev->connected.group[0] ? ev->connected.group : "?",
         rtcsec_srtp_profile_name(ev->connected.profile));
    dc_dtls_connected(s, &ev->connected);
    return 1;
  case RTCSEC_EVENT_DATA:
    dc_dtls_data(s, ev->data.data, ev->data.len);
    return 1;
  case RTCSEC_EVENT_FAILED:
    session_dtls_failed(s, ev->failed.error, ev->failed.alert);
    dc_dtls_ended(s);
    return 1;
  case RTCSEC_EVENT_CLOSED:
    s->dtls_closed = 1;
    slog(s, "%s", "DTLS closed by the browser");
    dc_dtls_ended(s);
    return 1;
  default:
    return 0;
  }
}

/* ---- life cycle ------------------------------------------------------------ */

void session_free(echo_session *s) {
  if (s == NULL)
    return;
  if (s->pending != NULL) {
    g_signal_handler_disconnect(s->pending, s->pending_finished_id);
    http_respond_error(s->pending, SOUP_STATUS_SERVICE_UNAVAILABLE, "session %llu ended",
                       (unsigned long long)s->id);
    soup_server_message_unpause(s->pending);
    g_object_unref(s->pending);
    s->pending = NULL;
  }
  if (s->gather_timer)
    g_source_remove(s->gather_timer);
  dc_free(s); /* sends nothing: the association is aborted where it stands */
  nice_session_stop(s);
  lite_session_stop(s); /* close_notify if connected */
  g_free(s->video_cache);
  g_free(s);
}

echo_session *session_find(echo_app *app, uint64_t id) {
  for (GList *l = app->sessions.head; l; l = l->next) {
    echo_session *s = l->data;
    if (s->id == id)
      return s;
  }
  return NULL;
}

echo_session *session_new(echo_app *app, int rtcsec_offers, rtcsec_dtls_role role, char *err,
                          size_t err_cap) {
  while (g_queue_get_length(&app->sessions) >= MAX_SESSIONS) {
    echo_session *old = g_queue_pop_head(&app->sessions);
    echo_log("session %llu: ended to make room (at most %d calls)", (unsigned long long)old->id,
             MAX_SESSIONS);
    session_free(old);
  }
  echo_session *s = g_new0(echo_session, 1);
  s->app = app;
  s->id = ++app->next_id;
  s->rtcsec_offers = rtcsec_offers;
  s->dtls_role = role;
  s->video_cache = g_new0(echo_rtp_cache, 1);
  echo_rewriter_init(&s->rw);
  s->start_us = g_get_monotonic_time();
  s->local.fingerprint = app->local_fp;
  int rc =
      app->lite != NULL ? lite_session_start(s, err, err_cap) : nice_session_start(s, err, err_cap);
  if (rc != 0) {
    session_free(s);
    return NULL;
  }
  g_queue_push_tail(&app->sessions, s);
  echo_log("session %llu: new call, rtcsec %s, DTLS %s%s", (unsigned long long)s->id,
           rtcsec_offers ? "offers" : "answers", dtls_role_name(role),
           app->lite != NULL ? ", ICE-lite on the single port" : "");
  return s;
}

static uint32_t random_ssrc(uint32_t avoid1, uint32_t avoid2) {
  uint32_t v;
  do {
    v = g_random_int();
  } while (v == 0 || v == avoid1 || v == avoid2);
  return v;
}

void session_ids(echo_local_ids *ids, char *cname, size_t cname_cap, uint32_t avoid_a,
                 uint32_t avoid_v) {
  snprintf(cname, cname_cap, "rtcsec-echo-%08x", g_random_int());
  ids->audio_ssrc = random_ssrc(avoid_a, avoid_v);
  ids->video_ssrc = random_ssrc(avoid_a, avoid_v);
  while (ids->video_ssrc == ids->audio_ssrc)
    ids->video_ssrc = random_ssrc(avoid_a, avoid_v);
  ids->cname = cname;
  ids->stream_id = "rtcsec-echo";
}

void session_plan_media(echo_session *s) {
  for (size_t i = 0; i < s->plan.n_media; i++) {
    const echo_plan_media *m = &s->plan.m[i];
    if (!m->accepted || (m->kind != ECHO_KIND_AUDIO && m->kind != ECHO_KIND_VIDEO))
      continue;
    int idx = echo_rewriter_add_stream(&s->rw, m->kind, m->local_ssrc, m->remote_ssrc);
    if (idx < 0)
      continue;
    for (size_t k = 0; k < m->n_codecs; k++)
      echo_rewriter_map_pt(&s->rw, idx, m->codecs[k].local_pt, m->codecs[k].remote_pt);
    if (m->kind == ECHO_KIND_VIDEO)
      s->video_cache->ssrc = m->local_ssrc;
    for (size_t k = 0; k < m->n_codecs; k++) {
      const echo_codec *c = &m->codecs[k].codec;
      slog(s, "%s mid %s: %s/%u PT %u in, PT %u out; SSRC browser %u -> rtcsec %u",
           echo_kind_name(m->kind), m->mid, c->name, (unsigned)c->clock, m->codecs[k].local_pt,
           m->codecs[k].remote_pt, (unsigned)m->remote_ssrc, (unsigned)m->local_ssrc);
    }
  }
}

rtcsec_fingerprint session_expect_fingerprint(echo_session *s, const echo_transport_desc *td) {
  rtcsec_fingerprint fp = td->fingerprint;
  if (s->app->opt.wrong_fingerprint) {
    /* --test-wrong-fingerprint: one bit of the browser's fingerprint is
     * flipped, so its certificate cannot match and DTLS must fail. */
    fp.digest[fp.len - 1] ^= 0x01;
  }
  rtcsec_fingerprint_format(&fp, s->expected_fingerprint, sizeof(s->expected_fingerprint), NULL);
  if (s->app->opt.wrong_fingerprint)
    slog(s, "WARNING --test-wrong-fingerprint: expecting the WRONG fingerprint %s",
         s->expected_fingerprint);
  return fp;
}

int session_set_remote(echo_session *s, const echo_sdp *sdp, const echo_transport_desc *td,
                       char *err, size_t err_cap) {
  if (s->app->lite != NULL)
    return lite_session_set_remote(s, sdp, td, err, err_cap);
  int rc = rtcsec_ice_set_remote_credentials(s->agent, td->ice.ufrag, td->ice.pwd);
  if (rc != 0) {
    snprintf(err, err_cap, "remote ICE credentials: %s", rtcsec_strerror(rc));
    return rc;
  }
  rtcsec_fingerprint fp = session_expect_fingerprint(s, td);
  return nice_session_set_remote(s, sdp, &fp, err, err_cap);
}

/* ---- the held request (non-trickle signalling) ----------------------------------- */

static gboolean session_gather_timeout(gpointer user) {
  echo_session *s = user;
  s->gather_timer = 0;
  if (!s->gathering_done) {
    slog(s, "gathering not done after %d s: answering with %zu candidate(s)", GATHER_TIMEOUT_S,
         s->n_candidates);
    session_complete_pending(s);
  }
  return G_SOURCE_REMOVE;
}

static void pending_finished(SoupServerMessage *msg, gpointer user) {
  echo_session *s = user;
  if (s->pending == msg) {
    slog(s, "%s", "the browser went away before the description was ready");
    g_signal_handler_disconnect(msg, s->pending_finished_id);
    s->pending = NULL;
    g_object_unref(msg);
  }
}

int session_start(echo_session *s, SoupServerMessage *msg) {
  int rc = s->agent != NULL ? rtcsec_ice_gather(s->agent) : 0;
  if (rc != 0)
    return rc;
  s->pending = g_object_ref(msg);
  s->pending_finished_id = g_signal_connect(msg, "finished", G_CALLBACK(pending_finished), s);
  soup_server_message_pause(msg);
  s->gather_timer = g_timeout_add_seconds(GATHER_TIMEOUT_S, session_gather_timeout, s);
  if (s->gathering_done) /* gathered synchronously (always with --single-port) */
    session_complete_pending(s);
  return 0;
}

/* {"session": N, "type": "offer", "sdp": "..."}: rtcsec's offer. */
static char *offer_json(uint64_t id, const char *sdp, size_t *len) {
  JsonBuilder *b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "session");
  json_builder_add_int_value(b, (gint64)id);
  json_builder_set_member_name(b, "type");
  json_builder_add_string_value(b, "offer");
  json_builder_set_member_name(b, "sdp");
  json_builder_add_string_value(b, sdp);
  json_builder_end_object(b);
  return http_json_finish(b, len);
}

void session_complete_pending(echo_session *s) {
  SoupServerMessage *msg = s->pending;
  if (msg == NULL)
    return;
  g_signal_handler_disconnect(msg, s->pending_finished_id);
  s->pending = NULL;
  if (s->gather_timer) {
    g_source_remove(s->gather_timer);
    s->gather_timer = 0;
  }
  if (s->n_candidates == 0) {
    http_respond_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                       "session %llu: rtcsec gathered no ICE candidate (see --ice-address)",
                       (unsigned long long)s->id);
  } else {
    const char *cands[ECHO_MAX_LOCAL_CANDIDATES];
    for (size_t i = 0; i < s->n_candidates; i++)
      cands[i] = s->candidates[i];
    char *sdp = g_malloc(ECHO_SDP_MAX_LEN);
    size_t len = 0;
    int rc = echo_sdp_write(&s->plan, &s->local, cands, s->n_candidates, s->id, sdp,
                            ECHO_SDP_MAX_LEN, &len);
    if (rc != 0) {
      http_respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "writing SDP: %s",
                         rtcsec_strerror(rc));
    } else if (s->rtcsec_offers) {
      size_t jlen = 0;
      char *j = offer_json(s->id, sdp, &jlen);
      http_respond_json(msg, j, jlen);
      slog(s, "offer sent (%zu bytes, a=setup:actpass%s)", len,
           s->local.ice_lite ? ", a=ice-lite" : "");
    } else {
      char id[32];
      snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
      soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                   "X-Rtcsec-Session", id);
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response(msg, "application/sdp", SOUP_MEMORY_COPY, sdp, len);
      slog(s, "answer sent (%zu bytes, a=setup:%s%s)", len, rtcsec_sdp_setup_name(s->local.setup),
           s->local.ice_lite ? ", a=ice-lite" : "");
    }
    g_free(sdp);
  }
  http_no_cache(msg);
  soup_server_message_unpause(msg);
  g_object_unref(msg);
}
