/* rtcsec-echo --single-port: every call on one UDP socket, rtcsec an
 * ICE-lite agent (RFC 8445 §2.5), on the GLib main loop that serves HTTP.
 *
 * This is the glue between rtcsec_router (rtcsec/router.h, sans-IO), the
 * Linux driver rtcsec_udp_mux (rtcsec/udp_mux.h: recvmmsg/sendmmsg) and GLib:
 * one GSource carries both the socket (a unix fd watch for G_IO_IN) and the
 * router's one deadline (the source's ready time, re-armed after every
 * turn and after every call that may change it). When either fires, one
 * rtcsec_udp_mux_run_once() turn receives a few batches, runs the router's timers,
 * hands media and events to the callbacks and sends everything queued.
 *
 * Sessions are keyed by the router's session id, never by a user pointer:
 * the router's event queue can still hold events of a session the
 * application has removed, so callbacks get the id and look it up.
 *
 * Sends made from inside a callback are queued and go out at the end of the
 * turn (one sendmmsg); sends and session changes made elsewhere (an HTTP
 * handler) are flushed at once.
 *
 * Linux only (the driver is); elsewhere echo_lite_open() says
 * RTCSEC_ERR_UNSUPPORTED.
 */
#ifndef RTCSEC_ECHO_LITE_PORT_H
#define RTCSEC_ECHO_LITE_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"

typedef struct echo_lite echo_lite;

typedef struct echo_lite_callbacks {
  /* Plaintext RTP / RTCP of session `id` in buf[0..len) (writable, valid
   * during the call). */
  void (*on_media)(void *user, rtcsec_session_id id, rtcsec_packet_class kind, uint8_t *buf,
                   size_t len);
  /* Every router event (nominated, connected, data, failed, closed,
   * expired); ev->user is not to be trusted, see above. */
  void (*on_event)(void *user, const rtcsec_event *ev);
  void *user;
} echo_lite_callbacks;

typedef struct echo_lite_config {
  const char *address; /* numeric IPv4 or IPv6 to bind (not a wildcard) */
  uint16_t port;       /* 0: an ephemeral port, see echo_lite_port() */
  rtcsec_cert *cert;   /* every session's certificate (the router takes a reference) */
  const rtcsec_srtp_profile *profiles; /* preference order; n_profiles 0: rtcsec's default */
  size_t n_profiles;
  size_t max_sessions; /* router limit */
  int enable_dtls13;   /* rtcsec_dtls_config.enable_dtls13 of every session */
  int enable_mlkem;    /* rtcsec_dtls_config.enable_mlkem of every session */
} echo_lite_config;

/* Creates the router, opens the socket and attaches the source to the
 * default GMainContext. Returns 0 or an rtcsec error, with a reason in err
 * (RTCSEC_ERR_IO for a socket that cannot be bound). */
int echo_lite_open(echo_lite **out, const echo_lite_config *cfg, const echo_lite_callbacks *cb,
                   char *err, size_t err_cap);
/* Detaches the source, closes the socket, frees the router (and every
 * session in it). NULL is a no-op. */
void echo_lite_close(echo_lite *l);

uint16_t echo_lite_port(const echo_lite *l);
/* CLOCK_MONOTONIC in microseconds: the router's clock. */
uint64_t echo_lite_now(void);

/* rtcsec_router_add_session / _remove_session / _add_remote_fingerprint,
 * then the outputs are sent and the deadline re-armed. */
int echo_lite_add_session(echo_lite *l, const rtcsec_router_session_config *sc,
                          rtcsec_session_id *id);
int echo_lite_remove_session(echo_lite *l, rtcsec_session_id id);
int echo_lite_add_remote_fingerprint(echo_lite *l, rtcsec_session_id id,
                                     const rtcsec_fingerprint *fp);

/* Protects buf[0..len) in place (cap: room for the SRTP trailer) and sends
 * it to the session's nominated address. */
int echo_lite_send_rtp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap);
int echo_lite_send_rtcp(echo_lite *l, rtcsec_session_id id, uint8_t *buf, size_t len, size_t cap);

/* DTLS application data (an SCTP packet) for session id, queued in the
 * router (rtcsec_router_send_data()); echo_lite_flush() sends what is
 * queued, at once outside a turn (inside one, the turn's end does). */
int echo_lite_send_data(echo_lite *l, rtcsec_session_id id, const uint8_t *data, size_t len);
void echo_lite_flush(echo_lite *l);

/* The router, for its statistics and session information (read only). */
rtcsec_router *echo_lite_router(echo_lite *l);

typedef struct echo_lite_stats {
  uint64_t turns;         /* rtcsec_udp_mux_run_once() calls */
  uint64_t rx_datagrams;  /* from the socket */
  uint64_t tx_datagrams;  /* to the socket */
  uint64_t tx_dropped;    /* refused by the socket */
  uint64_t rx_refused;    /* the router dropped them (counted by reason there) */
  uint64_t socket_errors; /* recvmmsg failures */
  int last_socket_error;  /* errno of the last one */
} echo_lite_stats;

void echo_lite_get_stats(const echo_lite *l, echo_lite_stats *out);

#endif
