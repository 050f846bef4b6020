/* rtcsec-echo's own state, shared by its files (one job each):
 *
 *   rtcsec-echo.c     options, start-up, the main loop, shutdown
 *   echo/http.c       the HTTP server: the page, /offer, /answer, /report
 *   echo/session.c    one call: offer/answer plan, the echo, the held
 *                     request, what both back-ends share
 *   echo/session_nice.c  the libnice back-end (one rtcsec_ice_agent a call)
 *   echo/session_lite.c  the --single-port back-end (one rtcsec_router,
 *                     every call on one socket, through echo/lite_port.c)
 *   echo/stats.c      /stats and the exit summary (json-glib)
 *   echo/datachannel.c  data channels: each message back on its channel
 *                     (librtcsec-datachannel over either back-end)
 *
 * Pure code with its own tests lives beside them: echo/sdp_session.c (SDP
 * parse, plan, write) and echo/rtp_echo.c (RTP/RTCP rewriting, NACK cache).
 *
 * Threads: one. Everything runs on the default GMainContext.
 */
#ifndef RTCSEC_ECHO_APP_H
#define RTCSEC_ECHO_APP_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdint.h>
#include <stdio.h>

#include "lite_port.h"
#include "rtcsec/datachannel.h"
#include "rtcsec/ice.h"
#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "rtp_echo.h"
#include "sdp_session.h"

#define PROG "rtcsec-echo"
#define MAX_SESSIONS 4      /* the oldest call is ended for a fifth */
#define GATHER_TIMEOUT_S 10 /* answer with what was gathered by then */
#define MAX_BODY 65536      /* SDP and report bodies */
#define MEDIA_BUF 2048      /* one RTP/RTCP packet + SRTP trailer */
#define MAX_LOGGED_SEND_ERRORS 5
/* The pre-agreed data channel (RFC 8832 §6: negotiated, no DCEP) the page
 * opens with { negotiated: true, id: 1 } and label "negotiated". */
#define ECHO_DC_NEGOTIATED_ID 1

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
  unsigned drop_video;   /* --test-drop-video N: 0 = off */
  unsigned corrupt_echo; /* --test-corrupt-echo N: 0 = off */
  unsigned exit_after;
  int has_single_port; /* --single-port ADDR:PORT: ICE-lite on one socket */
  host_port single_port;
  int no_dtls13; /* --no-dtls13: rtcsec_dtls_config.enable_dtls13 = 0 */
  int no_mlkem;  /* --no-mlkem: rtcsec_dtls_config.enable_mlkem = 0 */
} echo_options;

typedef struct echo_app echo_app;
typedef struct echo_dc echo_dc; /* echo/datachannel.c */

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
  echo_dc *dc;             /* data channels, once DTLS is up (NULL: none) */
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
  int exit_status;
  /* --single-port */
  echo_lite *lite;
  uint16_t lite_port;                      /* the port bound */
  char lite_candidate[ECHO_CANDIDATE_LEN]; /* "candidate:... typ host" */
};

/* ---- logging (rtcsec-echo.c) ---- */

/* One line on stderr: "rtcsec-echo [seconds since start] message". */
void echo_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define slog(s, fmt, ...) echo_log("session %llu: " fmt, (unsigned long long)(s)->id, __VA_ARGS__)

static inline const char *dtls_role_name(rtcsec_dtls_role r) {
  return r == RTCSEC_DTLS_CLIENT ? "client" : "server";
}

/* ---- HTTP (echo/http.c) ---- */

/* Serves the page and the signalling on opt.listen; prints "listening on".
 * Returns 0 or -1 after printing why. */
int http_listen(echo_app *app);
void http_respond_text(SoupServerMessage *msg, guint status, const char *text);
/* Logs the text too. */
void http_respond_error(SoupServerMessage *msg, guint status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_no_cache(SoupServerMessage *msg);
/* Takes json (a complete document) as the response body. */
void http_respond_json(SoupServerMessage *msg, char *json, size_t len);
/* The builder's document as compact JSON (caller g_free()s); frees b. */
char *http_json_finish(JsonBuilder *b, size_t *len);

/* ---- one call (echo/session.c) ---- */

/* A new call in the back-end of the app's mode; NULL with a reason in err.
 * The oldest call is ended first if MAX_SESSIONS are live. */
echo_session *session_new(echo_app *app, int rtcsec_offers, rtcsec_dtls_role role, char *err,
                          size_t err_cap);
void session_free(echo_session *s);
echo_session *session_find(echo_app *app, uint64_t id);
/* Random SSRCs (other than the browser's) and CNAME for a new plan. */
void session_ids(echo_local_ids *ids, char *cname, size_t cname_cap, uint32_t avoid_a,
                 uint32_t avoid_v);
/* Sets up the rewriter from the negotiated plan. */
void session_plan_media(echo_session *s);
/* The browser's transport description: credentials, candidates,
 * fingerprint. Returns 0 or an rtcsec error with a reason in err. */
int session_set_remote(echo_session *s, const echo_sdp *sdp, const echo_transport_desc *td,
                       char *err, size_t err_cap);
/* The fingerprint the browser's certificate must match (flipped by
 * --test-wrong-fingerprint); kept in s->expected_fingerprint. */
rtcsec_fingerprint session_expect_fingerprint(echo_session *s, const echo_transport_desc *td);
/* Starts gathering (libnice) and holds msg until our description is
 * ready, then answers it (non-trickle). Returns 0 or an rtcsec error. */
int session_start(echo_session *s, SoupServerMessage *msg);
/* Gathering is done (or timed out): our description goes out. */
void session_complete_pending(echo_session *s);
/* Both back-ends: plaintext media from the browser, and a refused or
 * broken association. */
void session_on_media(echo_session *s, rtcsec_packet_class kind, uint8_t *pkt, size_t len);
void session_dtls_failed(echo_session *s, int error, int alert);
/* Both back-ends: CONNECTED (logged with `role`), DATA (SCTP for the data
 * channels), FAILED and CLOSED. Returns 1 if ev was one of them. */
int session_dtls_event(echo_session *s, const rtcsec_event *ev, rtcsec_dtls_role role);

/* ---- the libnice back-end (echo/session_nice.c) ---- */

int nice_session_start(echo_session *s, char *err, size_t err_cap);
int nice_session_set_remote(echo_session *s, const echo_sdp *sdp, const rtcsec_fingerprint *fp,
                            char *err, size_t err_cap);
int nice_session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap);
/* One DTLS application-data record (an SCTP packet). */
int nice_session_send_data(echo_session *s, const uint8_t *data, size_t len);
void nice_session_stop(echo_session *s);

/* ---- the --single-port back-end (echo/session_lite.c) ---- */

/* Opens the one socket and its router; prints "single port: ...". No-op
 * without --single-port. Returns 0 or -1 after printing why. */
int lite_open(echo_app *app);
int lite_session_start(echo_session *s, char *err, size_t err_cap);
/* Adds the call to the router with what is known so far (the browser's
 * ufrag and fingerprint come with its description). */
int lite_session_register(echo_session *s, const char *remote_ufrag, const rtcsec_fingerprint *fp,
                          char *err, size_t err_cap);
int lite_session_set_remote(echo_session *s, const echo_sdp *sdp, const echo_transport_desc *td,
                            char *err, size_t err_cap);
int lite_session_send(echo_session *s, int rtcp, uint8_t *buf, size_t len, size_t cap);
/* One DTLS application-data record (an SCTP packet), queued in the router;
 * lite_session_flush() sends what is queued (at once outside a turn). */
int lite_session_send_data(echo_session *s, const uint8_t *data, size_t len);
void lite_session_flush(echo_session *s);
void lite_session_stop(echo_session *s);
/* --single-port takes only a full ICE agent: with two lite agents nobody
 * sends checks (RFC 8445 §6.1.1). */
int lite_peer_refused(const echo_app *app, const echo_transport_desc *td);
/* The call's transport in the router, if it has one yet (and still:
 * consent expiry frees it). 1 if *out was filled. */
int lite_session_transport_stats(echo_session *s, rtcsec_transport_stats *out);

/* ---- data channels (echo/datachannel.c) ---- */

/* DTLS connected: starts the call's data channels if its plan has them
 * (the role and payload of info), with the negotiated channel open. */
void dc_dtls_connected(echo_session *s, const rtcsec_connected_info *info);
/* A DTLS application-data record of the call (valid during the call). */
void dc_dtls_data(echo_session *s, const uint8_t *p, size_t len);
/* DTLS closed or failed, or the path is gone: the channels close. */
void dc_dtls_ended(echo_session *s);
void dc_free(echo_session *s);

typedef struct echo_dc_info {
  const char *state;  /* "none" (not negotiated), "waiting for DTLS", "refused",
                         or rtcsec_dc_state_name() */
  rtcsec_dc_stats st; /* channels, messages and bytes each way, drops */
  int error;          /* the association's failure, 0 if none */
  uint16_t local_port, remote_port;
  size_t remote_max_message_size; /* as the peer's SDP said (0: nothing) */
  int negotiated_open;            /* the pre-agreed channel is open */
  uint64_t send_errors;           /* messages that could not be echoed */
  int last_send_error;
  uint64_t dropped; /* packets and messages the association refused */
  uint64_t paused;  /* turns in which reading waited for the echo to drain */
} echo_dc_info;

/* Returns 1 when the call has an association (out filled), 0 otherwise
 * (out->state says why). */
int dc_get_info(const echo_session *s, echo_dc_info *out);

/* ---- statistics (echo/stats.c) ---- */

/* The /stats document: every call newest first, or only call `only` if
 * has_only. Returns a NUL-terminated string the caller g_free()s. */
char *stats_json(echo_app *app, int has_only, uint64_t only, size_t *len);
/* One summary line per call on stderr, at exit. */
void stats_print_summary(echo_app *app);

#endif
