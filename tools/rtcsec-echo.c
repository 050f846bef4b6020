/* rtcsec-echo: a browser's camera and microphone, back through rtcsec.
 *
 * One program serves a web page and its signalling over HTTP (libsoup 3, on
 * the same GLib main loop as the ICE agents) and answers WebRTC calls: each
 * call is one rtcsec_ice_agent (ICE, DTLS-SRTP) whose plaintext RTP and RTCP
 * are rewritten into rtcsec's own SSRCs and payload types (tools/echo/
 * rtp_echo.h says exactly what is translated) and protected again with
 * rtcsec's outbound keys. Nothing is decoded.
 *
 *   GET  /, /echo.js        the page (embedded at build time)
 *   POST /offer             the browser offers; rtcsec answers a=setup:active
 *                           (rtcsec is the DTLS client); body and answer are
 *                           SDP, the answer carries X-Rtcsec-Session
 *   GET  /offer             rtcsec offers actpass, as JSON {session, type,
 *                           sdp}; rtcsec will be the DTLS server
 *   POST /answer?session=N  the browser's answer to that offer (SDP)
 *   GET  /stats[?session=N] rtcsec's own view of each call (JSON)
 *   POST /report            the page's getStats() summary; with --report FILE
 *                           each is appended as one JSON line
 *
 * Signalling is non-trickle: rtcsec answers (or offers) once its ICE
 * gathering is done, with every candidate in the description.
 *
 * --single-port ADDR:PORT: no libnice. Every call shares one UDP socket,
 * driven by one rtcsec_router (ICE-lite responder, DTLS-SRTP per session)
 * through tools/echo/lite_port.h on the same main loop. rtcsec's SDP then
 * says a=ice-lite and carries one host candidate, ADDR PORT, with fresh
 * ICE credentials per call; the browser is the controlling full agent
 * whether it offers or answers (RFC 8445 §6.1.1), and the echo itself is
 * the same.
 *
 * Threads: one. The HTTP server, the ICE agents (or the router) and their
 * callbacks all run on the default GMainContext.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <glib-unix.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo/lite_port.h"
#include "echo/rtp_echo.h"
#include "echo/sdp_session.h"
#include "echo_assets.h"
#include "rtcsec/ice.h"
#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"

#define PROG "rtcsec-echo"
#define EXIT_USAGE 2
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define MAX_SESSIONS 4      /* the oldest call is ended for a fifth */
#define GATHER_TIMEOUT_S 10 /* answer with what was gathered by then */
#define MAX_BODY 65536      /* SDP and report bodies */
#define MEDIA_BUF 2048      /* one RTP/RTCP packet + SRTP trailer */
#define MAX_EXIT_AFTER 86400
#define MAX_LOGGED_SEND_ERRORS 5

/* ---- options ------------------------------------------------------------- */

typedef struct host_port {
  char host[128];
  uint16_t port;
} host_port;

typedef struct echo_options {
  host_port listen;
  const char *ice_addresses[RTCSEC_ICE_MAX_LOCAL_ADDRESSES];
  size_t n_ice_addresses;
  uint16_t port_min, port_max;
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  int has_stun, has_turn;
  host_port stun, turn;
  const char *turn_user, *turn_pass;
  const char *report_path;
  int wrong_fingerprint;
  unsigned drop_video; /* --test-drop-video N: 0 = off */
  unsigned exit_after;
  int has_single_port; /* --single-port ADDR:PORT: ICE-lite on one socket */
  host_port single_port;
} echo_options;

/* ---- state ----------------------------------------------------------------- */

typedef struct echo_app echo_app;

typedef struct echo_session {
  echo_app *app;
  uint64_t id;
  int rtcsec_offers; /* 1: /?dtls=server (rtcsec offered), 0: /?dtls=client */
  rtcsec_dtls_role dtls_role;
  rtcsec_ice_agent *agent; /* libnice mode */
  /* --single-port mode: the router's session (0: none, or expired) */
  rtcsec_session_id rid;
  rtcsec_dtls_role rid_role; /* the role it was added with */
  int lite_expired;
  uint64_t lite_nominations, lite_moves;
  size_t lite_remote_candidates; /* in the browser's SDP (not used) */
  char lite_peer[80];            /* the nominated address, "ADDR:PORT" */
  gint64 start_us, nominated_us, connected_us, first_media_us; /* monotonic */
  echo_plan plan;
  echo_transport_desc local;
  char candidates[ECHO_MAX_LOCAL_CANDIDATES][ECHO_CANDIDATE_LEN];
  size_t n_candidates, candidates_dropped;
  int gathering_done;
  /* The HTTP request waiting for gathering (non-trickle), if any. */
  SoupServerMessage *pending;
  gulong pending_finished_id;
  guint gather_timer;
  int answered; /* offer mode: the browser's answer was applied */
  char expected_fingerprint[RTCSEC_FINGERPRINT_STRLEN];
  /* what happened */
  rtcsec_ice_state ice_state;
  int dtls_connected, dtls_failed, dtls_closed, consent_lost;
  int dtls_error, dtls_alert;
  char failure[320];
  /* the echo */
  echo_rewriter rw;
  echo_rtp_cache *video_cache;
  uint64_t send_errors;
  int last_send_error;
  uint64_t video_sent;   /* echoed video packets, for --test-drop-video */
  uint64_t test_dropped; /* ... and those it dropped */
  uint8_t buf[MEDIA_BUF];
  uint8_t rbuf[MEDIA_BUF]; /* resends from the cache */
} echo_session;

struct echo_app {
  echo_options opt;
  GMainLoop *loop;
  SoupServer *server;
  rtcsec_cert *cert;
  rtcsec_fingerprint local_fp;
  char local_fp_str[RTCSEC_FINGERPRINT_STRLEN];
  FILE *report;
  uint64_t reports;
  GQueue sessions; /* echo_session *, oldest first */
  uint64_t next_id;
  gint64 start_us;
  int exit_status;
  /* --single-port */
  echo_lite *lite;
  uint16_t lite_port;                      /* the port bound */
  char lite_candidate[ECHO_CANDIDATE_LEN]; /* "candidate:... typ host" */
};

/* ---- logging ---------------------------------------------------------------- */

static gint64 log_start_us;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  double t = (double)(g_get_monotonic_time() - log_start_us) / 1e6;
  fprintf(stderr, PROG " [%8.3f] ", t);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

#define slog(s, fmt, ...) logf_("session %llu: " fmt, (unsigned long long)(s)->id, __VA_ARGS__)

/* ---- small helpers ------------------------------------------------------------ */

static const char *dtls_role_name(rtcsec_dtls_role r) {
  return r == RTCSEC_DTLS_CLIENT ? "client" : "server";
}

/* Appends s as a JSON string literal. */
static void json_str(GString *out, const char *s) {
  g_string_append_c(out, '"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"':
      g_string_append(out, "\\\"");
      break;
    case '\\':
      g_string_append(out, "\\\\");
      break;
    case '\n':
      g_string_append(out, "\\n");
      break;
    case '\r':
      g_string_append(out, "\\r");
      break;
    case '\t':
      g_string_append(out, "\\t");
      break;
    default:
      if (*p < 0x20)
        g_string_append_printf(out, "\\u%04x", *p);
      else
        g_string_append_c(out, (char)*p);
    }
  }
  g_string_append_c(out, '"');
}

static void json_kv_str(GString *out, const char *key, const char *v, int comma) {
  g_string_append_printf(out, "%s\"%s\":", comma ? "," : "", key);
  json_str(out, v);
}

static void json_kv_u64(GString *out, const char *key, uint64_t v, int comma) {
  g_string_append_printf(out, "%s\"%s\":%llu", comma ? "," : "", key, (unsigned long long)v);
}

static void respond_text(SoupServerMessage *msg, guint status, const char *text) {
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text,
                                   strlen(text));
}

static void respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  logf_("HTTP %u: %s", status, text);
  respond_text(msg, status, text);
  g_free(text);
}

static void no_cache(SoupServerMessage *msg) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
                               "no-store");
}

/* The request body as a NUL-terminated string (caller frees), or NULL. */
static char *request_body(SoupServerMessage *msg, size_t *len) {
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  GBytes *bytes = soup_message_body_flatten(body);
  gsize n = 0;
  const char *data = g_bytes_get_data(bytes, &n);
  char *copy = NULL;
  if (n <= MAX_BODY) {
    copy = g_malloc(n + 1);
    if (n)
      memcpy(copy, data, n);
    copy[n] = '\0';
    *len = n;
  }
  g_bytes_unref(bytes);
  return copy;
}

/* ---- sessions ----------------------------------------------------------------- */

static void session_complete_pending(echo_session *s);

static void session_on_media(void *user, rtcsec_packet_class kind, uint8_t *pkt, size_t len);
static void session_on_event(void *user, const rtcsec_event *ev);

static void session_note_send(echo_session *s, int rc, const char *what) {
  if (rc == 0)
    return;
  s->send_errors++;
  s->last_send_error = rc;
  if (s->send_errors <= MAX_LOGGED_SEND_ERRORS)
    slog(s, "sending %s failed: %s (%d)%s", what, rtcsec_strerror(rc), rc,
         s->send_errors == MAX_LOGGED_SEND_ERRORS ? "; not logging more" : "");
}

/* Protects and sends one packet back to the browser: through the call's
 * ICE agent, or through the router's session on the single port. */
static int session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap) {
  if (s->app->lite != NULL) {
    if (s->rid == 0)
      return RTCSEC_ERR_INVALID_STATE; /* consent expired: nothing more is sent */
    return rtcp ? echo_lite_send_rtcp(s->app->lite, s->rid, buf, len, cap)
                : echo_lite_send_rtp(s->app->lite, s->rid, buf, len, cap);
  }
  return rtcp ? rtcsec_ice_send_rtcp(s->agent, buf, len, cap)
              : rtcsec_ice_send_rtp(s->agent, buf, len, cap);
}

static void session_resend(void *user, const uint8_t *pkt, size_t len) {
  echo_session *s = user;
  if (len > sizeof(s->rbuf) - RTCSEC_SRTP_MAX_OVERHEAD)
    return;
  memcpy(s->rbuf, pkt, len);
  session_note_send(s, session_send(s, 0, s->rbuf, len, sizeof(s->rbuf)), "RTP resend");
}

/* Plaintext media from the browser: rewrite, protect, send back. */
static void session_on_media(void *user, rtcsec_packet_class kind, uint8_t *pkt, size_t len) {
  echo_session *s = user;
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

/* Both modes: the association was refused or broke. */
static void session_dtls_failed(echo_session *s, int error, int alert) {
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

static void session_on_event(void *user, const rtcsec_event *ev) {
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
    s->dtls_connected = 1;
    slog(s, "DTLS connected as %s: %s, SRTP %s", dtls_role_name(s->dtls_role),
         ev->connected.cipher ? ev->connected.cipher : "?",
         rtcsec_srtp_profile_name(ev->connected.profile));
    break;
  case RTCSEC_EVENT_FAILED:
    session_dtls_failed(s, ev->failed.error, ev->failed.alert);
    break;
  case RTCSEC_EVENT_CLOSED:
    s->dtls_closed = 1;
    slog(s, "%s", "DTLS closed by the browser");
    break;
  case RTCSEC_EVENT_CONSENT_LOST:
    s->consent_lost = 1;
    slog(s, "%s", "consent lost (RFC 7675): media stopped");
    break;
  case RTCSEC_EVENT_DATA:
  default:
    break;
  }
}

static void session_free(echo_session *s) {
  if (s == NULL)
    return;
  if (s->pending != NULL) {
    g_signal_handler_disconnect(s->pending, s->pending_finished_id);
    respond_error(s->pending, SOUP_STATUS_SERVICE_UNAVAILABLE, "session %llu ended",
                  (unsigned long long)s->id);
    soup_server_message_unpause(s->pending);
    g_object_unref(s->pending);
    s->pending = NULL;
  }
  if (s->gather_timer)
    g_source_remove(s->gather_timer);
  rtcsec_ice_agent_free(s->agent);
  if (s->rid != 0 && s->app->lite != NULL)
    echo_lite_remove_session(s->app->lite, s->rid); /* close_notify if connected */
  g_free(s->video_cache);
  g_free(s);
}

static echo_session *session_find(echo_app *app, uint64_t id) {
  for (GList *l = app->sessions.head; l; l = l->next) {
    echo_session *s = l->data;
    if (s->id == id)
      return s;
  }
  return NULL;
}

/* ---- --single-port: the router's sessions ------------------------------------ */

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

/* "ADDR:PORT" or "[ADDR]:PORT". */
static void sockaddr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    snprintf(buf, cap, "%s:%u", host, port);
  } else if (ss->ss_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    snprintf(buf, cap, "[%s]:%u", host, port);
  } else {
    snprintf(buf, cap, "?");
  }
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
    sockaddr_text(&ev->address.addr, ev->address.addr_len, s->lite_peer, sizeof(s->lite_peer));
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
  case RTCSEC_EVENT_CONNECTED: {
    rtcsec_transport_stats ts;
    rtcsec_transport *t = rtcsec_router_session_transport(echo_lite_router(app->lite), s->rid);
    const char *cipher = t && rtcsec_transport_get_stats(t, &ts) == 0 ? ts.dtls_cipher : NULL;
    s->dtls_connected = 1;
    s->connected_us = g_get_monotonic_time();
    slog(s, "DTLS connected as %s: %s, SRTP %s", dtls_role_name(s->rid_role),
         cipher && cipher[0] ? cipher : "?", rtcsec_srtp_profile_name(ev->connected.profile));
    break;
  }
  case RTCSEC_EVENT_FAILED:
    session_dtls_failed(s, ev->failed.error, ev->failed.alert);
    break;
  case RTCSEC_EVENT_CLOSED:
    s->dtls_closed = 1;
    slog(s, "%s", "DTLS closed by the browser");
    break;
  case RTCSEC_EVENT_EXPIRED:
    /* The router has freed the session (keys wiped) and sends nothing
     * more to the browser. */
    s->consent_lost = 1;
    s->lite_expired = 1;
    s->rid = 0;
    s->ice_state = RTCSEC_ICE_STATE_FAILED;
    slog(s, "%s", "consent expired (RFC 7675: no valid check for 30 s): session gone");
    break;
  case RTCSEC_EVENT_DATA:
  case RTCSEC_EVENT_NONE:
  default:
    break;
  }
}

/* Adds the call to the router with what is known so far: the browser's
 * ufrag and fingerprint come with its description (rtcsec offering: with
 * the answer, see session_set_remote). */
static int session_lite_register(echo_session *s, const char *remote_ufrag,
                                 const rtcsec_fingerprint *fp, char *err, size_t err_cap) {
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

/* session_new() for --single-port: no agent, no gathering. */
static echo_session *session_new_lite(echo_session *s, char *err, size_t err_cap) {
  echo_app *app = s->app;
  /* RFC 8445 §5.3: fresh credentials per call (24 / 128 random bits and
   * more); they route the browser's checks to this call. */
  int rc = rtcsec_sdp_ice_credentials_generate(&s->local.ice, 0, 0);
  if (rc != 0) {
    snprintf(err, err_cap, "ICE credentials: %s (%d)", rtcsec_strerror(rc), rc);
    session_free(s);
    return NULL;
  }
  s->local.ice_lite = 1;
  /* RFC 8445 §5.1.2: a lite agent has host candidates only, here exactly
   * one: the shared port. */
  snprintf(s->candidates[0], ECHO_CANDIDATE_LEN, "%s", app->lite_candidate);
  s->n_candidates = 1;
  s->gathering_done = 1;
  s->ice_state = RTCSEC_ICE_STATE_CHECKING;
  s->local.fingerprint = app->local_fp;
  g_queue_push_tail(&app->sessions, s);
  logf_("session %llu: new call, rtcsec %s, DTLS %s, ICE-lite on the single port",
        (unsigned long long)s->id, s->rtcsec_offers ? "offers" : "answers",
        dtls_role_name(s->dtls_role));
  return s;
}

static uint32_t random_ssrc(uint32_t avoid1, uint32_t avoid2) {
  uint32_t v;
  do {
    v = g_random_int();
  } while (v == 0 || v == avoid1 || v == avoid2);
  return v;
}

/* A new call: the agent is created and gathering starts; the caller sets
 * the remote side before or after. */
static echo_session *session_new(echo_app *app, int rtcsec_offers, rtcsec_dtls_role role, char *err,
                                 size_t err_cap) {
  while (g_queue_get_length(&app->sessions) >= MAX_SESSIONS) {
    echo_session *old = g_queue_pop_head(&app->sessions);
    logf_("session %llu: ended to make room (at most %d calls)", (unsigned long long)old->id,
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
  if (app->lite != NULL)
    return session_new_lite(s, err, err_cap);

  const echo_options *o = &app->opt;
  rtcsec_ice_config cfg;
  rtcsec_ice_config_default(&cfg);
  cfg.role = rtcsec_offers ? RTCSEC_ICE_CONTROLLING : RTCSEC_ICE_CONTROLLED;
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
  cfg.transport.dtls.role = role;
  cfg.transport.dtls.cert = app->cert;
  if (o->n_profiles) {
    memcpy(cfg.transport.dtls.profiles, o->profiles, o->n_profiles * sizeof(o->profiles[0]));
    cfg.transport.dtls.n_profiles = o->n_profiles;
  }
  cfg.on_event = session_on_event;
  cfg.on_media = session_on_media;
  cfg.user = s;
  int rc = rtcsec_ice_agent_new(&s->agent, &cfg);
  if (rc != 0) {
    snprintf(err, err_cap, "rtcsec_ice_agent_new: %s (%d)", rtcsec_strerror(rc), rc);
    session_free(s);
    return NULL;
  }
  char ufrag[RTCSEC_ICE_UFRAG_MAX + 1], pwd[RTCSEC_ICE_PWD_MAX + 1];
  rc = rtcsec_ice_get_local_credentials(s->agent, ufrag, sizeof(ufrag), pwd, sizeof(pwd));
  if (rc != 0) {
    snprintf(err, err_cap, "rtcsec_ice_get_local_credentials: %s", rtcsec_strerror(rc));
    session_free(s);
    return NULL;
  }
  snprintf(s->local.ice.ufrag, sizeof(s->local.ice.ufrag), "%s", ufrag);
  snprintf(s->local.ice.pwd, sizeof(s->local.ice.pwd), "%s", pwd);
  s->local.fingerprint = app->local_fp;
  g_queue_push_tail(&app->sessions, s);
  logf_("session %llu: new call, rtcsec %s, DTLS %s", (unsigned long long)s->id,
        rtcsec_offers ? "offers" : "answers", dtls_role_name(role));
  return s;
}

/* Sets up the rewriter from the negotiated plan. */
static void session_plan_media(echo_session *s) {
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

/* The browser's transport: credentials, candidates, fingerprint. */
/* --single-port takes only a full ICE agent: with two lite agents nobody
 * sends checks (RFC 8445 §6.1.1), and the router only answers them. Checked
 * before anything of the description is applied. */
static int lite_peer_refused(const echo_app *app, const echo_transport_desc *td) {
  return app->lite != NULL && td->ice_lite;
}

/* The fingerprint the browser's certificate must match. */
static rtcsec_fingerprint session_expect_fingerprint(echo_session *s,
                                                     const echo_transport_desc *td) {
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

/* session_set_remote() for --single-port. The browser's candidates are not
 * used: a lite agent sends no checks and learns the browser's address
 * from the browser's checks (RFC 8445 §2.5). */
static int session_set_remote_lite(echo_session *s, const echo_sdp *sdp,
                                   const echo_transport_desc *td, char *err, size_t err_cap) {
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
    return session_lite_register(s, td->ice.ufrag, &fp, err, err_cap);
  if (s->rid_role != s->dtls_role) {
    /* rtcsec offered actpass and the browser answered passive: the
     * session is added again as the DTLS client (same credentials; the
     * browser's next nominating check finds it). */
    echo_lite_remove_session(s->app->lite, s->rid);
    s->rid = 0;
    return session_lite_register(s, td->ice.ufrag, &fp, err, err_cap);
  }
  int rc = echo_lite_add_remote_fingerprint(s->app->lite, s->rid, &fp);
  if (rc != 0)
    snprintf(err, err_cap, "peer fingerprint: %s", rtcsec_strerror(rc));
  return rc;
}

static int session_set_remote(echo_session *s, const echo_sdp *sdp, const echo_transport_desc *td,
                              char *err, size_t err_cap) {
  if (s->app->lite != NULL)
    return session_set_remote_lite(s, sdp, td, err, err_cap);
  int rc = rtcsec_ice_set_remote_credentials(s->agent, td->ice.ufrag, td->ice.pwd);
  if (rc != 0) {
    snprintf(err, err_cap, "remote ICE credentials: %s", rtcsec_strerror(rc));
    return rc;
  }
  size_t added = 0;
  for (size_t i = 0; i < sdp->n_candidates; i++) {
    rc = rtcsec_ice_add_remote_candidate(s->agent, sdp->candidates[i]);
    if (rc != 0)
      slog(s, "remote candidate refused (%s): %s", rtcsec_strerror(rc), sdp->candidates[i]);
    else
      added++;
  }
  slog(s, "%zu remote candidate(s) added, %zu ignored (mDNS, TCP, malformed)", added,
       sdp->candidates_ignored);
  rtcsec_ice_remote_end_of_candidates(s->agent); /* non-trickle: that was all */
  rtcsec_fingerprint fp = session_expect_fingerprint(s, td);
  rc = rtcsec_ice_add_peer_fingerprints(s->agent, &fp, 1);
  if (rc != 0) {
    snprintf(err, err_cap, "peer fingerprint: %s", rtcsec_strerror(rc));
    return rc;
  }
  return 0;
}

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

/* Holds msg until gathering is done (non-trickle), then answers it. */
static void session_hold(echo_session *s, SoupServerMessage *msg) {
  s->pending = g_object_ref(msg);
  s->pending_finished_id = g_signal_connect(msg, "finished", G_CALLBACK(pending_finished), s);
  soup_server_message_pause(msg);
  s->gather_timer = g_timeout_add_seconds(GATHER_TIMEOUT_S, session_gather_timeout, s);
}

/* Gathering is done (or timed out): write our description into the held
 * request and let it go. */
static void session_complete_pending(echo_session *s) {
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
    respond_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
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
      respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "writing SDP: %s", rtcsec_strerror(rc));
    } else if (s->rtcsec_offers) {
      GString *j = g_string_new("{");
      json_kv_u64(j, "session", s->id, 0);
      json_kv_str(j, "type", "offer", 1);
      json_kv_str(j, "sdp", sdp, 1);
      g_string_append(j, "}");
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, j->str, j->len);
      g_string_free(j, FALSE);
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
  no_cache(msg);
  soup_server_message_unpause(msg);
  g_object_unref(msg);
}

/* Random SSRCs (other than the browser's) and CNAME for a new plan. */
static void session_ids(echo_local_ids *ids, char *cname, size_t cname_cap, uint32_t avoid_a,
                        uint32_t avoid_v) {
  snprintf(cname, cname_cap, "rtcsec-echo-%08x", g_random_int());
  ids->audio_ssrc = random_ssrc(avoid_a, avoid_v);
  ids->video_ssrc = random_ssrc(avoid_a, avoid_v);
  while (ids->video_ssrc == ids->audio_ssrc)
    ids->video_ssrc = random_ssrc(avoid_a, avoid_v);
  ids->cname = cname;
  ids->stream_id = "rtcsec-echo";
}

/* ---- HTTP handlers ----------------------------------------------------------- */

/* POST /offer: the browser offers, rtcsec answers (active: DTLS client). */
static void handle_post_offer(echo_app *app, SoupServerMessage *msg) {
  size_t len = 0;
  char *body = request_body(msg, &len);
  char err[256] = "";
  echo_sdp *offer = g_new0(echo_sdp, 1);
  echo_transport_desc remote;
  int rc;
  if (body == NULL || len == 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "POST /offer needs the offer SDP as the body");
    goto out;
  }
  if ((rc = echo_sdp_parse(offer, body, len, err, sizeof(err))) != 0 ||
      (rc = echo_sdp_transport(offer, &remote, err, sizeof(err))) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out;
  }
  if (lite_peer_refused(app, &remote)) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                  "offer refused: a=ice-lite, and --single-port needs a full ICE agent");
    goto out;
  }
  /* RFC 5763 §5: the answerer picks its role; the echo prefers active
   * (DTLS client), as RFC 5763 recommends and /?dtls=client asks. */
  rtcsec_sdp_setup answer_setup;
  rtcsec_dtls_role role;
  if ((rc = rtcsec_sdp_setup_answer(remote.setup, RTCSEC_SDP_SETUP_ACTIVE, &answer_setup)) != 0 ||
      (rc = rtcsec_sdp_setup_dtls_role(answer_setup, &role)) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: a=setup:%s leaves no DTLS role",
                  rtcsec_sdp_setup_name(remote.setup));
    goto out;
  }
  echo_local_ids ids;
  char cname[ECHO_CNAME_LEN];
  uint32_t browser_a = 0, browser_v = 0;
  for (size_t i = 0; i < offer->n_sections; i++) {
    if (offer->s[i].kind == ECHO_KIND_AUDIO && !browser_a)
      browser_a = offer->s[i].ssrc;
    if (offer->s[i].kind == ECHO_KIND_VIDEO && !browser_v)
      browser_v = offer->s[i].ssrc;
  }
  echo_session *s = session_new(app, 0, role, err, sizeof(err));
  if (s == NULL) {
    respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
    goto out;
  }
  session_ids(&ids, cname, sizeof(cname), browser_a, browser_v);
  if ((rc = echo_plan_answer(&s->plan, offer, &ids, err, sizeof(err))) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out; /* the session stays, failed, visible in /stats until evicted */
  }
  s->local.setup = answer_setup;
  session_plan_media(s);
  if ((rc = session_set_remote(s, offer, &remote, err, sizeof(err))) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "offer refused: %s", err);
    goto out;
  }
  if (s->agent != NULL && (rc = rtcsec_ice_gather(s->agent)) != 0) {
    respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "ICE gathering: %s", rtcsec_strerror(rc));
    goto out;
  }
  session_hold(s, msg);
  if (s->gathering_done) /* gathered synchronously (always with --single-port) */
    session_complete_pending(s);
out:
  g_free(offer);
  g_free(body);
}

/* GET /offer: rtcsec offers actpass and will be the DTLS server. */
static void handle_get_offer(echo_app *app, SoupServerMessage *msg) {
  char err[256] = "";
  echo_session *s = session_new(app, 1, RTCSEC_DTLS_SERVER, err, sizeof(err));
  if (s == NULL) {
    respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
    return;
  }
  echo_local_ids ids;
  char cname[ECHO_CNAME_LEN];
  session_ids(&ids, cname, sizeof(cname), 0, 0);
  echo_plan_offer(&s->plan, &ids);
  /* RFC 5763 §5: the offerer MUST say actpass. The browser answers active,
   * which makes rtcsec the DTLS server, as the agent was configured. */
  s->local.setup = RTCSEC_SDP_SETUP_ACTPASS;
  int rc;
  if (s->agent == NULL) {
    /* --single-port: the offer says a=ice-lite, so the browser, a full
     * agent, takes the controlling role although it answers (RFC 8445
     * §6.1.1) and starts its checks as soon as it has the offer, before
     * rtcsec sees the answer: the router must know the call now. The
     * fingerprint comes with the answer; no media before it matched. */
    if ((rc = session_lite_register(s, NULL, NULL, err, sizeof(err))) != 0) {
      respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", err);
      return;
    }
  } else if ((rc = rtcsec_ice_gather(s->agent)) != 0) {
    respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "ICE gathering: %s", rtcsec_strerror(rc));
    return;
  }
  session_hold(s, msg);
  if (s->gathering_done)
    session_complete_pending(s);
}

/* POST /answer?session=N: the browser's answer to rtcsec's offer. */
static void handle_post_answer(echo_app *app, SoupServerMessage *msg, GHashTable *query) {
  const char *id_s = query ? g_hash_table_lookup(query, "session") : NULL;
  char *end = NULL;
  unsigned long long id = id_s ? strtoull(id_s, &end, 10) : 0;
  echo_session *s = (id_s && end && *end == '\0') ? session_find(app, id) : NULL;
  if (s == NULL || !s->rtcsec_offers) {
    respond_error(msg, SOUP_STATUS_NOT_FOUND, "POST /answer: no offer session '%s'",
                  id_s ? id_s : "(none)");
    return;
  }
  if (s->answered) {
    respond_error(msg, SOUP_STATUS_CONFLICT, "session %llu already has an answer", id);
    return;
  }
  size_t len = 0;
  char *body = request_body(msg, &len);
  char err[256] = "";
  echo_sdp *answer = g_new0(echo_sdp, 1);
  echo_plan *plan = NULL;
  echo_transport_desc remote;
  rtcsec_dtls_role role;
  int rc;
  if (body == NULL || len == 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "POST /answer needs the answer SDP as the body");
    goto out;
  }
  /* The plan changes only once the whole answer is accepted, so that a
   * refused answer can be followed by a good one. */
  plan = g_memdup2(&s->plan, sizeof(s->plan));
  if ((rc = echo_sdp_parse(answer, body, len, err, sizeof(err))) != 0 ||
      (rc = echo_sdp_transport(answer, &remote, err, sizeof(err))) != 0 ||
      (rc = echo_plan_apply_answer(plan, answer, err, sizeof(err))) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "answer refused: %s", err);
    goto out;
  }
  if (lite_peer_refused(app, &remote)) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                  "answer refused: a=ice-lite, and --single-port needs a full ICE agent");
    goto out;
  }
  /* RFC 8842 §5.3: the answer to actpass says active or passive, and that
   * fixes rtcsec's role. Browsers say active (rtcsec is the DTLS server,
   * as the agent was made); passive is honoured too. */
  if (rtcsec_sdp_setup_dtls_role_from_remote(remote.setup, &role) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST,
                  "answer refused: a=setup:%s to rtcsec's actpass (must be active or passive)",
                  rtcsec_sdp_setup_name(remote.setup));
    goto out;
  }
  if (role != s->dtls_role) {
    /* (--single-port: session_set_remote adds the router session again.) */
    if (s->agent != NULL && (rc = rtcsec_ice_set_dtls_role(s->agent, role)) != 0) {
      respond_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "DTLS role %s: %s",
                    dtls_role_name(role), rtcsec_strerror(rc));
      goto out;
    }
    s->dtls_role = role;
  }
  s->plan = *plan;
  s->answered = 1; /* from here on the session takes no other answer */
  session_plan_media(s);
  if ((rc = session_set_remote(s, answer, &remote, err, sizeof(err))) != 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "answer refused: %s", err);
    goto out;
  }
  slog(s, "answer applied (a=setup:%s)", rtcsec_sdp_setup_name(remote.setup));
  respond_text(msg, SOUP_STATUS_OK, "ok\n");
out:
  g_free(plan);
  g_free(answer);
  g_free(body);
}

static void stats_direction(GString *j, const char *name, const rtcsec_srtp_direction_stats *d,
                            int comma) {
  g_string_append_printf(j, "%s\"%s\":{", comma ? "," : "", name);
  json_kv_u64(j, "rtp_packets", d->rtp_packets, 0);
  json_kv_u64(j, "rtp_bytes", d->rtp_bytes, 1);
  json_kv_u64(j, "rtcp_packets", d->rtcp_packets, 1);
  json_kv_u64(j, "rtcp_bytes", d->rtcp_bytes, 1);
  json_kv_u64(j, "auth_failures", d->auth_failures, 1);
  json_kv_u64(j, "replay_drops", d->replay_drops, 1);
  json_kv_u64(j, "too_old_drops", d->too_old_drops, 1);
  json_kv_u64(j, "malformed", d->malformed, 1);
  json_kv_u64(j, "ssrc_limit_drops", d->ssrc_limit_drops, 1);
  json_kv_u64(j, "other_errors", d->other_errors, 1);
  json_kv_u64(j, "ssrcs", d->ssrcs, 1);
  g_string_append_c(j, '}');
}

/* --single-port: the transport of the call's router session, if it has
 * one yet (and still: consent expiry frees it). */
static int session_lite_transport_stats(echo_session *s, rtcsec_transport_stats *out) {
  rtcsec_transport *t =
      s->rid ? rtcsec_router_session_transport(echo_lite_router(s->app->lite), s->rid) : NULL;
  return t != NULL && rtcsec_transport_get_stats(t, out) == 0;
}

static uint64_t since_ms(gint64 start, gint64 t) {
  return t > start ? (uint64_t)(t - start) / 1000 : 0;
}

/* The ICE part of a --single-port call in /stats: what the router knows. */
static void stats_lite_ice(GString *j, echo_session *s) {
  const echo_app *app = s->app;
  rtcsec_router_session_info info;
  memset(&info, 0, sizeof(info));
  int have =
      s->rid && rtcsec_router_get_session_info(echo_lite_router(app->lite), s->rid, &info) == 0;
  const char *state = s->lite_expired   ? "expired"
                      : !have           ? "new"
                      : info.nominated  ? "connected"
                      : info.checks > 0 ? "checking"
                                        : "new";
  json_kv_str(j, "ice_state", state, 1);
  char peer[80] = "";
  if (have && info.nominated) {
    char buf[200];
    sockaddr_text(&info.addr, info.addr_len, peer, sizeof(peer));
    int v6 = strchr(app->opt.single_port.host, ':') != NULL;
    g_string_append(j, ",\"pair\":{");
    snprintf(buf, sizeof(buf), "host %s%s%s:%u", v6 ? "[" : "", app->opt.single_port.host,
             v6 ? "]" : "", (unsigned)app->lite_port);
    json_kv_str(j, "local", buf, 0);
    snprintf(buf, sizeof(buf), "peer %s", peer);
    json_kv_str(j, "remote", buf, 1);
    json_kv_str(j, "protocol", "udp", 1);
    g_string_append_c(j, '}');
  } else {
    g_string_append(j, ",\"pair\":null");
  }
  g_string_append(j, ",\"ms\":{");
  json_kv_u64(j, "ice_connected", since_ms(s->start_us, s->nominated_us), 0);
  json_kv_u64(j, "dtls_connected", since_ms(s->start_us, s->connected_us), 1);
  json_kv_u64(j, "first_media", since_ms(s->start_us, s->first_media_us), 1);
  g_string_append(j, "},\"candidates\":{");
  json_kv_u64(j, "local", s->n_candidates, 0);
  json_kv_u64(j, "remote", s->lite_remote_candidates, 1);
  g_string_append_c(j, '}');
  json_kv_u64(j, "pair_changes", s->lite_moves, 1);
  json_kv_u64(j, "consent_losses", (uint64_t)s->lite_expired, 1);
  json_kv_u64(j, "dropped_unvalidated", 0, 1); /* per router: single_port.router */
  json_kv_u64(j, "ice_send_errors", 0, 1);
  g_string_append(j, ",\"router\":{");
  json_kv_u64(j, "session", s->rid, 0);
  g_string_append_printf(j, ",\"nominated\":%s", have && info.nominated ? "true" : "false");
  json_kv_str(j, "peer", peer, 1);
  json_kv_str(j, "last_peer", s->lite_peer, 1); /* the last nominated, kept after expiry */
  json_kv_str(j, "local_ufrag", s->local.ice.ufrag, 1);
  json_kv_u64(j, "nominations", s->lite_nominations, 1);
  json_kv_u64(j, "moves", s->lite_moves, 1);
  json_kv_u64(j, "checks", info.checks, 1);
  json_kv_u64(j, "media_in", info.media_in, 1);
  uint64_t now = echo_lite_now();
  json_kv_u64(j, "consent_left_ms",
              have && info.consent_expires > now ? (info.consent_expires - now) / 1000 : 0, 1);
  g_string_append_printf(j, ",\"has_transport\":%s", have && info.has_transport ? "true" : "false");
  g_string_append_printf(j, ",\"expired\":%s}", s->lite_expired ? "true" : "false");
}

/* The ICE part of a libnice call in /stats: what its agent says. */
static void stats_full_ice(GString *j, const echo_session *s, const rtcsec_ice_stats *st,
                           int have_ice) {
  json_kv_str(j, "ice_state", rtcsec_ice_state_name(have_ice ? st->state : s->ice_state), 1);
  if (have_ice && st->has_pair) {
    char buf[200];
    g_string_append(j, ",\"pair\":{");
    snprintf(buf, sizeof(buf), "%s %s:%u", st->pair.local_type, st->pair.local_address,
             st->pair.local_port);
    json_kv_str(j, "local", buf, 0);
    snprintf(buf, sizeof(buf), "%s %s:%u", st->pair.remote_type, st->pair.remote_address,
             st->pair.remote_port);
    json_kv_str(j, "remote", buf, 1);
    json_kv_str(j, "protocol", st->pair.protocol, 1);
    g_string_append_c(j, '}');
  } else {
    g_string_append(j, ",\"pair\":null");
  }
  g_string_append(j, ",\"ms\":{");
  json_kv_u64(j, "ice_connected", st->ice_connected_us / 1000, 0);
  json_kv_u64(j, "dtls_connected", st->dtls_connected_us / 1000, 1);
  json_kv_u64(j, "first_media", st->first_media_us / 1000, 1);
  g_string_append(j, "},\"candidates\":{");
  json_kv_u64(j, "local", st->local_candidates, 0);
  json_kv_u64(j, "remote", st->remote_candidates, 1);
  g_string_append_c(j, '}');
  json_kv_u64(j, "pair_changes", st->pair_changes, 1);
  json_kv_u64(j, "consent_losses", st->consent_losses, 1);
  json_kv_u64(j, "dropped_unvalidated", st->dropped_unvalidated, 1);
  json_kv_u64(j, "ice_send_errors", st->send_errors, 1);
}

static void stats_session(GString *j, echo_session *s) {
  rtcsec_ice_stats st;
  memset(&st, 0, sizeof(st));
  int have_ice = s->agent && rtcsec_ice_get_stats(s->agent, &st) == 0;
  int have = s->agent ? have_ice : session_lite_transport_stats(s, &st.transport);
  const rtcsec_transport_stats *t = &st.transport;
  g_string_append_c(j, '{');
  json_kv_u64(j, "id", s->id, 0);
  json_kv_str(j, "mode", s->rtcsec_offers ? "server" : "client", 1);
  json_kv_str(j, "dtls_role", dtls_role_name(s->dtls_role), 1);
  json_kv_str(j, "ice_mode", s->agent ? "full" : "lite", 1);
  if (s->agent == NULL)
    stats_lite_ice(j, s);
  else
    stats_full_ice(j, s, &st, have_ice);
  json_kv_str(j, "failure", s->failure, 1);
  json_kv_str(j, "expected_fingerprint", s->expected_fingerprint, 1);
  g_string_append_printf(j, ",\"test_wrong_fingerprint\":%s",
                         s->app->opt.wrong_fingerprint ? "true" : "false");
  g_string_append(j, ",\"transport\":{");
  json_kv_str(j, "dtls_state", have ? rtcsec_dtls_state_name(t->state) : "none", 0);
  json_kv_str(j, "dtls_role", dtls_role_name(have ? t->role : s->dtls_role), 1);
  g_string_append_printf(j, ",\"error\":%d", have ? t->error : 0);
  json_kv_str(j, "error_text", have && t->error ? rtcsec_strerror(t->error) : "", 1);
  json_kv_str(j, "dtls_version", have && t->dtls_version ? t->dtls_version : "", 1);
  json_kv_str(j, "dtls_cipher", have && t->dtls_cipher ? t->dtls_cipher : "", 1);
  json_kv_str(j, "srtp_profile",
              have && t->profile != RTCSEC_SRTP_NONE ? rtcsec_srtp_profile_name(t->profile) : "",
              1);
  json_kv_str(j, "local_fingerprint", have ? t->local_fingerprint : s->app->local_fp_str, 1);
  json_kv_str(j, "peer_fingerprint", have ? t->peer_fingerprint : "", 1);
  json_kv_u64(j, "handshake_ms", t->handshake_us / 1000, 1);
  g_string_append(j, ",\"dtls\":{");
  json_kv_u64(j, "retransmissions", t->dtls.retransmissions, 0);
  json_kv_u64(j, "datagrams_sent", t->dtls.datagrams_sent, 1);
  json_kv_u64(j, "datagrams_received", t->dtls.datagrams_received, 1);
  json_kv_u64(j, "datagrams_held", t->dtls.datagrams_held, 1);
  g_string_append(j, "},\"srtp\":{");
  stats_direction(j, "inbound", &t->srtp.inbound, 0);
  stats_direction(j, "outbound", &t->srtp.outbound, 1);
  g_string_append(j, "},\"in\":{");
  json_kv_u64(j, "stun", t->in_stun, 0);
  json_kv_u64(j, "dtls", t->in_dtls, 1);
  json_kv_u64(j, "rtp", t->in_rtp, 1);
  json_kv_u64(j, "rtcp", t->in_rtcp, 1);
  g_string_append(j, "},\"drops\":{");
  json_kv_u64(j, "unknown", t->drop_unknown, 0);
  json_kv_u64(j, "no_keys", t->drop_no_keys, 1);
  json_kv_u64(j, "closed", t->drop_closed, 1);
  g_string_append(j, "}}");
  /* the echo */
  uint64_t ap = 0, vp = 0;
  uint32_t a_local = 0, a_remote = 0, v_local = 0, v_remote = 0;
  for (size_t i = 0; i < s->rw.n_streams; i++) {
    const echo_stream *es = &s->rw.streams[i];
    if (es->kind == ECHO_KIND_AUDIO) {
      ap = es->packets;
      a_local = es->local_ssrc;
      a_remote = es->remote_ssrc;
    } else {
      vp = es->packets;
      v_local = es->local_ssrc;
      v_remote = es->remote_ssrc;
    }
  }
  g_string_append(j, ",\"echo\":{");
  json_kv_u64(j, "audio_ssrc", a_local, 0);
  json_kv_u64(j, "video_ssrc", v_local, 1);
  json_kv_u64(j, "browser_audio_ssrc", a_remote, 1);
  json_kv_u64(j, "browser_video_ssrc", v_remote, 1);
  json_kv_u64(j, "audio_packets", ap, 1);
  json_kv_u64(j, "video_packets", vp, 1);
  json_kv_u64(j, "rtp_dropped_pt", s->rw.rtp_dropped_pt, 1);
  json_kv_u64(j, "rtp_dropped_ssrc", s->rw.rtp_dropped_ssrc, 1);
  json_kv_u64(j, "rtcp_forwarded", s->rw.rtcp_forwarded, 1);
  json_kv_u64(j, "rtcp_parts_dropped", s->rw.rtcp_parts_dropped, 1);
  json_kv_u64(j, "pli", s->rw.pli, 1);
  json_kv_u64(j, "fir", s->rw.fir, 1);
  json_kv_u64(j, "nack", s->rw.nack, 1);
  json_kv_u64(j, "nack_resent", s->rw.nack_resent, 1);
  json_kv_u64(j, "nack_resent_bytes", s->rw.nack_resent_bytes, 1);
  json_kv_u64(j, "nack_duplicates", s->rw.nack_duplicates, 1);
  json_kv_u64(j, "nack_refused_rtt", s->rw.nack_refused_rtt, 1);
  json_kv_u64(j, "nack_refused_rate", s->rw.nack_refused_rate, 1);
  json_kv_u64(j, "nack_rtt_window_us", echo_rewriter_rtt_window(&s->rw), 1);
  json_kv_u64(j, "rtt_samples", s->rw.rtt_samples, 1);
  json_kv_u64(j, "video_bytes_per_s", s->video_cache ? s->video_cache->rate_bytes_per_s : 0, 1);
  json_kv_u64(j, "test_dropped", s->test_dropped, 1);
  json_kv_u64(j, "send_errors", s->send_errors, 1);
  json_kv_str(j, "last_send_error", s->send_errors ? rtcsec_strerror(s->last_send_error) : "", 1);
  g_string_append(j, "},\"codecs\":[");
  int first = 1;
  for (size_t i = 0; i < s->plan.n_media; i++) {
    const echo_plan_media *m = &s->plan.m[i];
    for (size_t k = 0; m->accepted && k < m->n_codecs; k++) {
      char buf[96];
      snprintf(buf, sizeof(buf), "%s %s/%u pt %u->%u", echo_kind_name(m->kind),
               m->codecs[k].codec.name, (unsigned)m->codecs[k].codec.clock, m->codecs[k].local_pt,
               m->codecs[k].remote_pt);
      if (!first)
        g_string_append_c(j, ',');
      json_str(j, buf);
      first = 0;
    }
  }
  g_string_append(j, "]}");
}

/* --single-port: the socket and the router's own counters (all calls). */
static void stats_single_port(GString *j, echo_app *app) {
  if (app->lite == NULL) {
    g_string_append(j, ",\"single_port\":null");
    return;
  }
  rtcsec_router_stats rs;
  memset(&rs, 0, sizeof(rs));
  rtcsec_router_get_stats(echo_lite_router(app->lite), &rs);
  echo_lite_stats ls;
  echo_lite_get_stats(app->lite, &ls);
  g_string_append(j, ",\"single_port\":{");
  json_kv_str(j, "address", app->opt.single_port.host, 0);
  json_kv_u64(j, "port", app->lite_port, 1);
  json_kv_str(j, "candidate", app->lite_candidate, 1);
  g_string_append(j, ",\"socket\":{");
  json_kv_u64(j, "turns", ls.turns, 0);
  json_kv_u64(j, "rx_datagrams", ls.rx_datagrams, 1);
  json_kv_u64(j, "tx_datagrams", ls.tx_datagrams, 1);
  json_kv_u64(j, "tx_dropped", ls.tx_dropped, 1);
  json_kv_u64(j, "rx_refused", ls.rx_refused, 1);
  json_kv_u64(j, "socket_errors", ls.socket_errors, 1);
  g_string_append(j, "},\"router\":{");
  json_kv_u64(j, "sessions", rs.sessions, 0);
  json_kv_u64(j, "nominated", rs.nominated, 1);
  json_kv_u64(j, "transports", rs.transports, 1);
  json_kv_u64(j, "sessions_added", rs.sessions_added, 1);
  json_kv_u64(j, "sessions_removed", rs.sessions_removed, 1);
  json_kv_u64(j, "sessions_expired", rs.sessions_expired, 1);
  json_kv_u64(j, "datagrams_in", rs.datagrams_in, 1);
  json_kv_u64(j, "datagrams_out", rs.datagrams_out, 1);
  json_kv_u64(j, "stun_requests", rs.stun_requests, 1);
  json_kv_u64(j, "stun_responses", rs.stun_responses, 1);
  json_kv_u64(j, "stun_errors_sent", rs.stun_errors_sent, 1);
  json_kv_u64(j, "stun_malformed", rs.stun_malformed, 1);
  json_kv_u64(j, "stun_bad_fingerprint", rs.stun_bad_fingerprint, 1);
  json_kv_u64(j, "stun_unknown_user", rs.stun_unknown_user, 1);
  json_kv_u64(j, "stun_bad_integrity", rs.stun_bad_integrity, 1);
  json_kv_u64(j, "stun_bad_request", rs.stun_bad_request, 1);
  json_kv_u64(j, "stun_unknown_attribute", rs.stun_unknown_attribute, 1);
  json_kv_u64(j, "stun_role_conflicts", rs.stun_role_conflicts, 1);
  json_kv_u64(j, "stun_ignored", rs.stun_ignored, 1);
  json_kv_u64(j, "stun_replays", rs.stun_replays, 1);
  json_kv_u64(j, "nominations", rs.nominations, 1);
  json_kv_u64(j, "moves", rs.moves, 1);
  json_kv_u64(j, "drop_unknown_source", rs.drop_unknown_source, 1);
  json_kv_u64(j, "drop_queue_full", rs.drop_queue_full, 1);
  json_kv_u64(j, "dtls_in", rs.dtls_in, 1);
  json_kv_u64(j, "media_in", rs.media_in, 1);
  json_kv_u64(j, "media_delivered", rs.media_delivered, 1);
  json_kv_u64(j, "media_dropped", rs.media_dropped, 1);
  json_kv_u64(j, "address_takeovers", rs.address_takeovers, 1);
  g_string_append(j, "}}");
}

/* GET /stats[?session=N] */
static void handle_stats(echo_app *app, SoupServerMessage *msg, GHashTable *query) {
  const char *id_s = query ? g_hash_table_lookup(query, "session") : NULL;
  unsigned long long want = id_s ? strtoull(id_s, NULL, 10) : 0;
  GString *j = g_string_new("{");
  json_kv_str(j, "server", PROG " " RTCSEC_VERSION_STRING, 0);
  json_kv_str(j, "local_fingerprint", app->local_fp_str, 1);
  json_kv_u64(j, "reports", app->reports, 1);
  stats_single_port(j, app);
  g_string_append(j, ",\"sessions\":[");
  int first = 1;
  for (GList *l = app->sessions.tail; l; l = l->prev) { /* newest first */
    echo_session *s = l->data;
    if (id_s && s->id != want)
      continue;
    if (!first)
      g_string_append_c(j, ',');
    stats_session(j, s);
    first = 0;
  }
  g_string_append(j, "]}\n");
  no_cache(msg);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_TAKE, j->str, j->len);
  g_string_free(j, FALSE);
}

/* POST /report: the page's getStats() summary, appended as one JSON line. */
static void handle_report(echo_app *app, SoupServerMessage *msg) {
  size_t len = 0;
  char *body = request_body(msg, &len);
  if (body == NULL || len == 0) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "POST /report needs a JSON body");
    g_free(body);
    return;
  }
  JsonParser *parser = json_parser_new();
  GError *error = NULL;
  if (!json_parser_load_from_data(parser, body, (gssize)len, &error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    respond_error(msg, SOUP_STATUS_BAD_REQUEST, "report is not a JSON object: %s",
                  error ? error->message : "wrong type");
    g_clear_error(&error);
    g_object_unref(parser);
    g_free(body);
    return;
  }
  app->reports++;
  if (app->report != NULL) {
    /* Serialised again without newlines: one report, one line. */
    char *line = json_to_string(json_parser_get_root(parser), FALSE);
    fprintf(app->report, "%s\n", line);
    fflush(app->report);
    g_free(line);
  }
  JsonObject *o = json_node_get_object(json_parser_get_root(parser));
  if (json_object_has_member(o, "transport") &&
      JSON_NODE_HOLDS_OBJECT(json_object_get_member(o, "transport"))) {
    JsonObject *t = json_object_get_object_member(o, "transport");
    const char *dtls = json_object_has_member(t, "dtlsState")
                           ? json_object_get_string_member_with_default(t, "dtlsState", "?")
                           : "?";
    logf_("report %llu from the page: dtlsState %s", (unsigned long long)app->reports, dtls);
  }
  g_object_unref(parser);
  g_free(body);
  respond_text(msg, SOUP_STATUS_OK, "ok\n");
}

static void handle_asset(SoupServerMessage *msg, const char *path) {
  if (strcmp(path, "/") == 0)
    path = "/index.html";
  for (size_t i = 0; i < sizeof(echo_assets) / sizeof(echo_assets[0]); i++) {
    if (strcmp(echo_assets[i].path, path) == 0) {
      no_cache(msg);
      soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response(msg, echo_assets[i].content_type, SOUP_MEMORY_STATIC,
                                       (const char *)echo_assets[i].data, echo_assets[i].len);
      return;
    }
  }
  respond_text(msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

static void http_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user) {
  (void)server;
  echo_app *app = user;
  const char *method = soup_server_message_get_method(msg);
  int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  int post = strcmp(method, "POST") == 0;
  if (strcmp(path, "/offer") == 0 && post)
    handle_post_offer(app, msg);
  else if (strcmp(path, "/offer") == 0 && get)
    handle_get_offer(app, msg);
  else if (strcmp(path, "/answer") == 0 && post)
    handle_post_answer(app, msg, query);
  else if (strcmp(path, "/stats") == 0 && get)
    handle_stats(app, msg, query);
  else if (strcmp(path, "/report") == 0 && post)
    handle_report(app, msg);
  else if (get)
    handle_asset(msg, path);
  else
    respond_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
}

/* Refuses a body larger than MAX_BODY before it is read (libsoup calls
 * early handlers once the headers are in; a status set here ends it). */
static void http_early_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
                               GHashTable *query, gpointer user) {
  (void)server, (void)path, (void)query, (void)user;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  goffset n = soup_message_headers_get_content_length(h);
  if (n > MAX_BODY || soup_message_headers_get_encoding(h) == SOUP_ENCODING_CHUNKED) /* unbounded */
    respond_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "request body over %d bytes",
                  MAX_BODY);
}

/* ---- options ------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: " PROG " [options]\n"
          "\n"
          "Serves a web page that sends the browser's camera and microphone to rtcsec\n"
          "and shows them coming back through rtcsec's ICE, DTLS and SRTP.\n"
          "Open http://ADDR:PORT/?dtls=client (the browser offers, rtcsec is the DTLS\n"
          "client) or /?dtls=server (rtcsec offers and is the DTLS server).\n"
          "\n"
          "  -l, --listen ADDR:PORT     HTTP address (default " DEFAULT_LISTEN "; port 0 picks\n"
          "                             one; IPv6 as [ADDR]:PORT)\n"
          "  -a, --ice-address ADDR     gather host candidates on this address only\n"
          "                             (repeatable, up to %d; default: libnice's choice\n"
          "                             of interfaces, which skips loopback)\n"
          "      --port-range MIN-MAX   UDP ports for ICE candidates\n"
          "  -p, --profiles LIST        SRTP profiles in preference order, comma or colon\n"
          "                             separated (default: rtcsec's, AEAD first)\n"
          "      --stun ADDR:PORT       STUN server (IP address) for srflx candidates\n"
          "      --turn ADDR:PORT       TURN server (IP address) for relay candidates,\n"
          "      --turn-user USER       with these credentials\n"
          "      --turn-pass PASS\n"
          "      --single-port ADDR:PORT\n"
          "                             SFU mode: every call on this one UDP port, rtcsec\n"
          "                             an ICE-lite agent with the one host candidate\n"
          "                             ADDR PORT (an IP address, not a wildcard; port 0\n"
          "                             picks one); no libnice, so none of -a,\n"
          "                             --port-range, --stun, --turn\n"
          "  -r, --report FILE          append each report the page POSTs to /report as\n"
          "                             one JSON line\n"
          "      --exit-after SECONDS   stop after this long (for bounded test runs)\n"
          "      --test-wrong-fingerprint\n"
          "                             TEST ONLY: expect a wrong fingerprint from every\n"
          "                             browser, so every DTLS association is refused\n"
          "      --test-drop-video N    TEST ONLY: do not send every Nth echoed video\n"
          "                             packet the first time (2..1000), so that the\n"
          "                             browser NACKs it and it is resent from the cache\n"
          "  -h, --help                 this text\n",
          RTCSEC_ICE_MAX_LOCAL_ADDRESSES);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  fputs(PROG ": ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\nTry '" PROG " --help'.\n", stderr);
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
  if (s[0] < '0' || s[0] > '9')
    return -1;
  errno = 0;
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* "ADDR:PORT" or "[V6]:PORT"; port 0 allowed only if allow_zero. */
static int parse_host_port(const char *s, host_port *out, int allow_zero) {
  const char *colon;
  const char *host = s;
  size_t host_len;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    host = s + 1;
    host_len = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL)
      return -1;
    host_len = (size_t)(colon - s);
  }
  unsigned long port;
  if (host_len == 0 || host_len >= sizeof(out->host) ||
      parse_ulong(colon + 1, allow_zero ? 0 : 1, 65535, &port) != 0)
    return -1;
  memcpy(out->host, host, host_len);
  out->host[host_len] = '\0';
  out->port = (uint16_t)port;
  return 0;
}

enum {
  OPT_PORT_RANGE = 256,
  OPT_STUN,
  OPT_TURN,
  OPT_TURN_USER,
  OPT_TURN_PASS,
  OPT_EXIT_AFTER,
  OPT_WRONG_FP,
  OPT_DROP_VIDEO,
  OPT_SINGLE_PORT,
};

static int parse_options(int argc, char **argv, echo_options *o, int *help) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"ice-address", required_argument, NULL, 'a'},
      {"port-range", required_argument, NULL, OPT_PORT_RANGE},
      {"profiles", required_argument, NULL, 'p'},
      {"stun", required_argument, NULL, OPT_STUN},
      {"turn", required_argument, NULL, OPT_TURN},
      {"turn-user", required_argument, NULL, OPT_TURN_USER},
      {"turn-pass", required_argument, NULL, OPT_TURN_PASS},
      {"report", required_argument, NULL, 'r'},
      {"exit-after", required_argument, NULL, OPT_EXIT_AFTER},
      {"test-wrong-fingerprint", no_argument, NULL, OPT_WRONG_FP},
      {"test-drop-video", required_argument, NULL, OPT_DROP_VIDEO},
      {"single-port", required_argument, NULL, OPT_SINGLE_PORT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof(*o));
  parse_host_port(DEFAULT_LISTEN, &o->listen, 1);
  *help = 0;
  int c;
  unsigned long v;
  while ((c = getopt_long(argc, argv, "l:a:p:r:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'l':
      if (parse_host_port(optarg, &o->listen, 1) != 0) {
        usage_error("--listen '%s': expected ADDR:PORT", optarg);
        return EXIT_USAGE;
      }
      break;
    case 'a': {
      if (o->n_ice_addresses == RTCSEC_ICE_MAX_LOCAL_ADDRESSES) {
        usage_error("at most %d --ice-address options", RTCSEC_ICE_MAX_LOCAL_ADDRESSES);
        return EXIT_USAGE;
      }
      GInetAddress *ia = g_inet_address_new_from_string(optarg);
      if (ia == NULL) {
        usage_error("--ice-address '%s': not an IP address", optarg);
        return EXIT_USAGE;
      }
      g_object_unref(ia);
      o->ice_addresses[o->n_ice_addresses++] = optarg;
      break;
    }
    case OPT_PORT_RANGE: {
      char *dash = strchr(optarg, '-');
      unsigned long lo, hi;
      if (dash == NULL) {
        usage_error("--port-range '%s': expected MIN-MAX", optarg);
        return EXIT_USAGE;
      }
      *dash = '\0';
      int bad = parse_ulong(optarg, 1, 65535, &lo) != 0 || parse_ulong(dash + 1, 1, 65535, &hi);
      *dash = '-';
      if (bad || lo > hi) {
        usage_error("--port-range '%s': expected MIN-MAX with 1 <= MIN <= MAX <= 65535", optarg);
        return EXIT_USAGE;
      }
      o->port_min = (uint16_t)lo;
      o->port_max = (uint16_t)hi;
      break;
    }
    case 'p': {
      int rc = rtcsec_srtp_profile_list_parse(optarg, o->profiles, RTCSEC_SRTP_MAX_PROFILES,
                                              &o->n_profiles);
      if (rc != 0) {
        usage_error("--profiles '%s': %s", optarg, rtcsec_strerror(rc));
        return EXIT_USAGE;
      }
      for (size_t i = 0; i < o->n_profiles; i++)
        if (!rtcsec_srtp_profile_supported(o->profiles[i])) {
          usage_error("--profiles: %s is not supported by this libsrtp2",
                      rtcsec_srtp_profile_name(o->profiles[i]));
          return EXIT_USAGE;
        }
      break;
    }
    case OPT_STUN:
    case OPT_TURN: {
      host_port *hp = c == OPT_STUN ? &o->stun : &o->turn;
      GInetAddress *ia = NULL;
      if (parse_host_port(optarg, hp, 0) != 0 ||
          (ia = g_inet_address_new_from_string(hp->host)) == NULL) {
        usage_error("--%s '%s': expected IP-ADDRESS:PORT", c == OPT_STUN ? "stun" : "turn", optarg);
        return EXIT_USAGE;
      }
      g_object_unref(ia);
      if (c == OPT_STUN)
        o->has_stun = 1;
      else
        o->has_turn = 1;
      break;
    }
    case OPT_TURN_USER:
      o->turn_user = optarg;
      break;
    case OPT_TURN_PASS:
      o->turn_pass = optarg;
      break;
    case 'r':
      o->report_path = optarg;
      break;
    case OPT_EXIT_AFTER:
      if (parse_ulong(optarg, 1, MAX_EXIT_AFTER, &v) != 0) {
        usage_error("--exit-after '%s': expected 1..%d seconds", optarg, MAX_EXIT_AFTER);
        return EXIT_USAGE;
      }
      o->exit_after = (unsigned)v;
      break;
    case OPT_WRONG_FP:
      o->wrong_fingerprint = 1;
      break;
    case OPT_SINGLE_PORT: {
      GInetAddress *ia = NULL;
      if (parse_host_port(optarg, &o->single_port, 1) != 0 ||
          (ia = g_inet_address_new_from_string(o->single_port.host)) == NULL) {
        usage_error("--single-port '%s': expected IP-ADDRESS:PORT", optarg);
        return EXIT_USAGE;
      }
      /* The address is the candidate the browser sends its checks to. */
      int any = g_inet_address_get_is_any(ia);
      g_object_unref(ia);
      if (any) {
        usage_error("--single-port '%s': a wildcard address cannot be an ICE candidate; "
                    "give the address the browser can reach",
                    optarg);
        return EXIT_USAGE;
      }
      o->has_single_port = 1;
      break;
    }
    case OPT_DROP_VIDEO:
      if (parse_ulong(optarg, 2, 1000, &v) != 0) {
        usage_error("--test-drop-video '%s': expected 2..1000", optarg);
        return EXIT_USAGE;
      }
      o->drop_video = (unsigned)v;
      break;
    case 'h':
      *help = 1;
      return 0;
    default:
      usage_error("unknown option");
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    usage_error("unexpected argument '%s'", argv[optind]);
    return EXIT_USAGE;
  }
  if (o->has_single_port && (o->n_ice_addresses || o->port_min || o->has_stun || o->has_turn)) {
    usage_error("--single-port runs its own ICE-lite responder on one port: "
                "-a, --port-range, --stun and --turn do not apply");
    return EXIT_USAGE;
  }
  if (o->has_turn && (o->turn_user == NULL || o->turn_pass == NULL)) {
    usage_error("--turn needs --turn-user and --turn-pass");
    return EXIT_USAGE;
  }
  return 0;
}

/* ---- main --------------------------------------------------------------------- */

static gboolean on_quit_signal(gpointer user) {
  echo_app *app = user;
  logf_("%s", "signal: stopping");
  g_main_loop_quit(app->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean on_exit_after(gpointer user) {
  echo_app *app = user;
  logf_("--exit-after %u s reached: stopping", app->opt.exit_after);
  g_main_loop_quit(app->loop);
  return G_SOURCE_REMOVE;
}

static void print_summary(echo_app *app) {
  for (GList *l = app->sessions.head; l; l = l->next) {
    echo_session *s = l->data;
    rtcsec_ice_stats st;
    memset(&st, 0, sizeof(st));
    const char *ice;
    if (s->agent != NULL) {
      if (rtcsec_ice_get_stats(s->agent, &st) != 0)
        continue;
      ice = rtcsec_ice_state_name(st.state);
    } else {
      if (!session_lite_transport_stats(s, &st.transport))
        continue;
      ice = s->lite_peer[0] ? "lite, nominated" : "lite";
    }
    const rtcsec_srtp_stats *sr = &st.transport.srtp;
    logf_("session %llu summary: DTLS %s as %s, ICE %s, %s%s%s; SRTP in %llu RTP %llu RTCP, out "
          "%llu RTP %llu RTCP%s%s",
          (unsigned long long)s->id, rtcsec_dtls_state_name(st.transport.state),
          dtls_role_name(s->dtls_role), ice,
          st.transport.profile ? rtcsec_srtp_profile_name(st.transport.profile) : "no SRTP",
          st.transport.dtls_cipher && st.transport.dtls_cipher[0] ? " " : "",
          st.transport.dtls_cipher ? st.transport.dtls_cipher : "",
          (unsigned long long)sr->inbound.rtp_packets, (unsigned long long)sr->inbound.rtcp_packets,
          (unsigned long long)sr->outbound.rtp_packets,
          (unsigned long long)sr->outbound.rtcp_packets, s->failure[0] ? "; failure: " : "",
          s->failure);
  }
}

/* --single-port: the socket, the router and the one candidate every call
 * gets. Printed before "listening on", so whoever waits for that line can
 * read this one too. */
static int open_single_port(echo_app *app) {
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
  logf_("single port %s%s%s:%u: ICE-lite, one rtcsec_router for every call", v6 ? "[" : "",
        app->opt.single_port.host, v6 ? "]" : "", (unsigned)app->lite_port);
  return 0;
}

static int listen_http(echo_app *app) {
  GError *error = NULL;
  GSocketAddress *sa =
      g_inet_socket_address_new_from_string(app->opt.listen.host, app->opt.listen.port);
  if (sa == NULL) {
    fprintf(stderr, PROG ": --listen: '%s' is not an IP address\n", app->opt.listen.host);
    return -1;
  }
  app->server = soup_server_new("server-header", PROG " ", NULL);
  soup_server_add_early_handler(app->server, NULL, http_early_handler, app, NULL);
  soup_server_add_handler(app->server, NULL, http_handler, app, NULL);
  if (!soup_server_listen(app->server, sa, 0, &error)) {
    fprintf(stderr, PROG ": cannot listen on %s:%u: %s\n", app->opt.listen.host,
            app->opt.listen.port, error->message);
    g_error_free(error);
    g_object_unref(sa);
    return -1;
  }
  g_object_unref(sa);
  /* The port actually bound (port 0 picks one). */
  GSList *uris = soup_server_get_uris(app->server);
  int port = uris ? g_uri_get_port(uris->data) : app->opt.listen.port;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  int v6 = strchr(app->opt.listen.host, ':') != NULL;
  char base[200];
  snprintf(base, sizeof(base), "http://%s%s%s:%d/", v6 ? "[" : "", app->opt.listen.host,
           v6 ? "]" : "", port);
  printf("listening on %s\n", base);
  printf("open %s?dtls=client  (the browser offers, rtcsec is the DTLS client)\n", base);
  printf("  or %s?dtls=server  (rtcsec offers, rtcsec is the DTLS server)\n", base);
  printf("rtcsec fingerprint: %s\n", app->local_fp_str);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  static echo_app app; /* large: sessions are separate allocations */
  int help = 0;
  log_start_us = g_get_monotonic_time();
  setvbuf(stdout, NULL, _IOLBF, 0);
  int rc = parse_options(argc, argv, &app.opt, &help);
  if (rc != 0)
    return rc;
  if (help) {
    usage(stdout);
    return 0;
  }
  if (app.opt.wrong_fingerprint) {
    for (int i = 0; i < 3; i++)
      fprintf(stderr, PROG ": WARNING: --test-wrong-fingerprint: every browser's fingerprint is "
                           "altered; every DTLS association WILL BE REFUSED (test only)\n");
  }
  if (app.opt.drop_video)
    fprintf(stderr,
            PROG ": WARNING: --test-drop-video %u: every %uth echoed video packet is dropped "
                 "on its first send (test only)\n",
            app.opt.drop_video, app.opt.drop_video);
  if (rtcsec_init() != 0) {
    fprintf(stderr, PROG ": rtcsec_init failed\n");
    return 1;
  }
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  cc.common_name = "rtcsec-echo";
  if ((rc = rtcsec_cert_generate(&app.cert, &cc)) != 0 ||
      (rc = rtcsec_cert_fingerprint(app.cert, RTCSEC_HASH_SHA256, &app.local_fp)) != 0 ||
      (rc = rtcsec_fingerprint_format(&app.local_fp, app.local_fp_str, sizeof(app.local_fp_str),
                                      NULL)) != 0) {
    fprintf(stderr, PROG ": certificate: %s\n", rtcsec_strerror(rc));
    rtcsec_cert_free(app.cert);
    return 1;
  }
  if (app.opt.report_path) {
    app.report = fopen(app.opt.report_path, "a");
    if (app.report == NULL) {
      fprintf(stderr, PROG ": --report %s: %s\n", app.opt.report_path, strerror(errno));
      rtcsec_cert_free(app.cert);
      return 1;
    }
  }
  g_queue_init(&app.sessions);
  app.loop = g_main_loop_new(NULL, FALSE);
  signal(SIGPIPE, SIG_IGN);
  if (open_single_port(&app) != 0 || listen_http(&app) != 0) {
    app.exit_status = 1;
  } else {
    guint sig_int = g_unix_signal_add(SIGINT, on_quit_signal, &app);
    guint sig_term = g_unix_signal_add(SIGTERM, on_quit_signal, &app);
    guint exit_timer =
        app.opt.exit_after ? g_timeout_add_seconds(app.opt.exit_after, on_exit_after, &app) : 0;
    g_main_loop_run(app.loop);
    g_source_remove(sig_int);
    g_source_remove(sig_term);
    if (exit_timer && g_main_context_find_source_by_id(NULL, exit_timer))
      g_source_remove(exit_timer);
    print_summary(&app);
  }
  echo_session *s;
  while ((s = g_queue_pop_head(&app.sessions)) != NULL)
    session_free(s);
  echo_lite_close(app.lite); /* after the sessions: their close_notify went out */
  if (app.server) {
    soup_server_disconnect(app.server);
    g_object_unref(app.server);
  }
  g_main_loop_unref(app.loop);
  if (app.report)
    fclose(app.report);
  rtcsec_cert_free(app.cert);
  return app.exit_status;
}
