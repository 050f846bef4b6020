/* rtcsec: ICE (RFC 8445) with libnice, carrying one rtcsec_transport.
 *
 * librtcsec-ice is the only part of rtcsec that uses GLib and libnice and
 * the only one that owns sockets. One rtcsec_ice_agent is one WebRTC peer
 * connection as browsers build it today: one stream, one component (BUNDLE
 * and rtcp-mux), with a DTLS-SRTP transport running over the selected
 * candidate pair. The DTLS handshake starts only once ICE has a validated,
 * nominated pair (RFC 8445 §12 / RFC 8826: no DTLS or media to an
 * unvalidated address); DTLS and media that arrive before are dropped and
 * counted.
 *
 * Threads and callbacks. The agent runs on a GMainContext: either the
 * caller passes one (and iterates it), or passes NULL and the agent runs
 * its own loop thread. Every function below may be called from any thread;
 * the agent serialises with an internal lock. The rule for callbacks:
 *   - every callback runs on the context's thread;
 *   - no callback runs while the agent's lock is held, and no callback
 *     runs inside a call to this API: events that a call causes (a local
 *     candidate found by rtcsec_ice_gather(), DTLS connecting after
 *     rtcsec_ice_add_peer_fingerprint(), ...) are queued and delivered
 *     afterwards from the context, in the order they happened;
 *   - so a callback may call any function of this API, on this agent or
 *     another one (e.g. hand a candidate to the peer agent, send media),
 *     except rtcsec_ice_agent_free() on its own agent.
 * on_media runs on the receive path (on the context's thread, without the
 * lock) once per authenticated RTP / RTCP packet.
 *
 * Consent freshness (RFC 7675) is libnice's: it sends consent checks on
 * the selected pair and fails the component when no authenticated
 * response came in time; libnice 0.1.21 does so about 10 s after the last
 * response (measured; RFC 7675 §5.1 allows at most 30 s). The agent then
 * reports CONSENT_LOST, moves to DISCONNECTED and stops sending media and
 * DTLS (sends fail with RTCSEC_ERR_INVALID_STATE, incoming DTLS and media
 * are dropped). An ICE restart can bring the session back with the same
 * DTLS association.
 */
#ifndef RTCSEC_ICE_H
#define RTCSEC_ICE_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _GMainContext rtcsec_gmain_context; /* a GMainContext */

typedef struct rtcsec_ice_agent rtcsec_ice_agent;

typedef enum rtcsec_ice_role {
  RTCSEC_ICE_CONTROLLING = 0, /* usually the offerer */
  RTCSEC_ICE_CONTROLLED = 1,
} rtcsec_ice_role;

typedef enum rtcsec_ice_state {
  RTCSEC_ICE_STATE_NEW = 0,
  RTCSEC_ICE_STATE_GATHERING,
  RTCSEC_ICE_STATE_CHECKING,
  RTCSEC_ICE_STATE_CONNECTED,    /* a nominated, validated pair */
  RTCSEC_ICE_STATE_FAILED,       /* no pair could be validated */
  RTCSEC_ICE_STATE_DISCONNECTED, /* consent lost (RFC 7675) */
  RTCSEC_ICE_STATE_CLOSED,
} rtcsec_ice_state;

#define RTCSEC_ICE_MAX_LOCAL_ADDRESSES 8
/* Remote candidates held while the remote credentials are unknown or
 * gathering has not started (RFC 8838 trickle before the answer). */
#define RTCSEC_ICE_MAX_PENDING_CANDIDATES 64
/* Longest candidate line accepted, counting "a=" and the line end
 * (RTCSEC_SDP_MAX_LINE). */
#define RTCSEC_ICE_MAX_CANDIDATE_LINE 1024

typedef struct rtcsec_ice_config {
  rtcsec_ice_role role; /* default CONTROLLING */
  int ice_lite;         /* answer as an ICE-lite agent (RFC 8445 §2.5); controlled only */
  /* Host candidates only on these addresses (e.g. "127.0.0.1", "::1"); none:
   * libnice's choice of interfaces (which skips loopback and veth*,
   * docker*, virbr*). Numeric addresses only. Copied. */
  const char *local_addresses[RTCSEC_ICE_MAX_LOCAL_ADDRESSES];
  size_t n_local_addresses;
  uint16_t port_min, port_max; /* 0: any */
  const char *stun_server;     /* IP address; NULL: no server-reflexive. Copied. */
  uint16_t stun_port;          /* default 3478 */
  const char *turn_server;     /* IP address; NULL: no relay. Copied. */
  uint16_t turn_port;          /* default 3478; TURN over UDP */
  const char *turn_username;   /* copied */
  const char *turn_password;   /* copied */
  int relay_only;              /* offer and use only relay candidates; needs turn_server */
  int consent_freshness;       /* RFC 7675; default 1 */
  /* Ta (RFC 8445 §14.2): the pace of connectivity checks, one new check
   * per Ta, in ms; 5..1000, default (and 0) 5 (libnice's own is 20, the
   * RFC's 50). As controlling agent (regular nomination) the pair is
   * selected about two Ta after its check succeeds; a browser that is
   * DTLS client sends its ClientHello when its own check succeeds and
   * retransmits after 50 ms, so a slower pace costs it a retransmission
   * (early DTLS is kept either way, README "ICE and rtcsec-call"). At 5 ms
   * a check of about 100 bytes every 5 ms is 20 KB/s while checking. */
  unsigned check_pacing_ms;
  rtcsec_gmain_context *context; /* NULL: own loop thread. Referenced. */
  /* DTLS role, certificate (referenced), SRTP profiles, fingerprints
   * (copied). The DTLS role may still be changed with
   * rtcsec_ice_set_dtls_role() until the handshake starts. */
  rtcsec_transport_config transport;
  /* Callbacks (on the context's thread, see the rule at the top). on_event
   * gets the stack's one event type (rtcsec/event.h): LOCAL_CANDIDATE
   * (.candidate), GATHERING_DONE, ICE_STATE (.ice_state, an
   * rtcsec_ice_state), SELECTED_PAIR (.pair), CONNECTED (.connected: DTLS
   * up, SRTP keys installed), DATA (.data), CLOSED, FAILED (.failed),
   * CONSENT_LOST; pointers in it are valid during the call. on_media gets
   * plaintext RTP/RTCP (kind RTCSEC_PKT_RTP or _RTCP), decrypted in place in
   * libnice's receive buffer, which it may modify, valid during the call. */
  void (*on_event)(void *user, const rtcsec_event *ev);
  void (*on_media)(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len);
  void *user;
} rtcsec_ice_config;

/* Defaults as documented above; the transport part is
 * rtcsec_transport_config_default() (no certificate: set one). */
RTCSEC_API void rtcsec_ice_config_default(rtcsec_ice_config *cfg);

/* Creates the agent, its libnice agent (RFC 5245/8445 compatibility,
 * regular nomination, trickle, no UPnP, UDP only) and the transport.
 * Nothing is sent before rtcsec_ice_gather().
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL, no certificate, a local
 * address or server that is not a numeric IP address, port_min >
 * port_max, ice_lite with CONTROLLING, relay_only without a TURN server,
 * TURN without username or password, too many local addresses), those of
 * rtcsec_transport_new(), check_pacing_ms neither 0 nor 5..1000
 * (RTCSEC_ERR_INVALID_ARGUMENT), RTCSEC_ERR_UNSUPPORTED (consent freshness asked
 * for and the installed libnice has none), RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_ice_agent_new(rtcsec_ice_agent **out, const rtcsec_ice_config *cfg);

/* Sends DTLS close_notify if connected, stops the loop thread if any,
 * frees everything (keys are wiped). No callback runs after it returns.
 * NULL: no-op. With an own loop thread: from any thread but not from a
 * callback of this agent. With a caller's context: from the thread that
 * iterates it, or while no thread does, and not from a callback. */
RTCSEC_API void rtcsec_ice_agent_free(rtcsec_ice_agent *a);

/* Local ICE credentials (generated at creation by libnice, new after a
 * restart), NUL-terminated. A capacity of 257 always suffices (RFC 8839
 * allows 256 characters). Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_BUFFER_TOO_SMALL (nothing written). */
RTCSEC_API int rtcsec_ice_get_local_credentials(rtcsec_ice_agent *a, char *ufrag, size_t ufrag_cap,
                                                char *pwd, size_t pwd_cap);
/* The peer's a=ice-ufrag and a=ice-pwd values (without "a=ice-ufrag:").
 * Candidates added before are applied now. Setting credentials again with
 * new values (after rtcsec_ice_restart()) starts checks with them.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL), RTCSEC_ERR_PARSE (ufrag not
 * 4..256, password not 22..256 ice-chars, RFC 8839 §5.4),
 * RTCSEC_ERR_INVALID_STATE (libnice refused them). */
RTCSEC_API int rtcsec_ice_set_remote_credentials(rtcsec_ice_agent *a, const char *ufrag,
                                                 const char *pwd);
/* Starts gathering; candidates arrive as LOCAL_CANDIDATE events (trickle),
 * then GATHERING_DONE. Errors: RTCSEC_ERR_INVALID_STATE (called twice),
 * RTCSEC_ERR_IO (libnice could not gather, e.g. no usable address). */
RTCSEC_API int rtcsec_ice_gather(rtcsec_ice_agent *a);
/* A remote "candidate:..." line (with or without "a=", trailing CR LF
 * ignored), at any time, before or after the remote credentials (RFC
 * 8838); held until the credentials are set and gathering has started.
 * Errors:
 *   RTCSEC_ERR_INVALID_ARGUMENT  NULL agent or line.
 *   RTCSEC_ERR_TOO_LARGE         longer than RTCSEC_ICE_MAX_CANDIDATE_LINE.
 *   RTCSEC_ERR_PARSE             not a candidate line (RFC 8839 §5.1):
 *                                missing field, bad number, port 0 or
 *                                above 65535, bad IP address, ...
 *   RTCSEC_ERR_UNSUPPORTED       well-formed but unusable here: a transport
 *                                other than UDP, a type other than host /
 *                                srflx / prflx / relay, a component other
 *                                than 1 (rtcp-mux), a host name (FQDN or
 *                                mDNS .local) instead of an IP address.
 *                                The caller should ignore the candidate.
 *   RTCSEC_ERR_LIMIT             more than RTCSEC_ICE_MAX_PENDING_CANDIDATES
 *                                held, or more than 16 extensions.
 *   RTCSEC_ERR_INVALID_STATE     libnice refused it. */
RTCSEC_API int rtcsec_ice_add_remote_candidate(rtcsec_ice_agent *a, const char *line);
/* The peer's a=end-of-candidates (RFC 8838 §4.4): checks may now fail. */
RTCSEC_API int rtcsec_ice_remote_end_of_candidates(rtcsec_ice_agent *a);
/* Peer fingerprints from its SDP, all of them in one call (see
 * rtcsec_dtls_add_peer_fingerprints()). */
RTCSEC_API int rtcsec_ice_add_peer_fingerprints(rtcsec_ice_agent *a, const rtcsec_fingerprint *fps,
                                                size_t n);
/* Sets the DTLS role once known (an offerer that said a=setup:actpass
 * learns it from the answer, RFC 8842 §5.3). Errors:
 * RTCSEC_ERR_INVALID_STATE once the handshake has started,
 * RTCSEC_ERR_INVALID_ARGUMENT, those of rtcsec_transport_new(). */
RTCSEC_API int rtcsec_ice_set_dtls_role(rtcsec_ice_agent *a, rtcsec_dtls_role role);

/* Protects (in place; cap is the buffer's room) and sends one RTP / RTCP
 * packet on the selected pair. Errors: RTCSEC_ERR_SRTP_NO_KEYS before DTLS
 * is connected (so also before ICE has a validated pair; nothing written);
 * RTCSEC_ERR_INVALID_STATE once consent is lost (RFC 7675 §5.1; until a
 * restart connects again) or once rtcsec_ice_agent_free() has begun; the
 * other errors of rtcsec_transport_protect_rtp(); RTCSEC_ERR_IO if libnice
 * could not send it (the packet was protected: buf holds SRTP). */
RTCSEC_API int rtcsec_ice_send_rtp(rtcsec_ice_agent *a, uint8_t *buf, size_t len, size_t cap);
RTCSEC_API int rtcsec_ice_send_rtcp(rtcsec_ice_agent *a, uint8_t *buf, size_t len, size_t cap);
/* DTLS application data; errors as rtcsec_transport_send_data() and
 * RTCSEC_ERR_INVALID_STATE without a validated pair or consent. */
RTCSEC_API int rtcsec_ice_send_data(rtcsec_ice_agent *a, const uint8_t *data, size_t len);

/* ICE restart (RFC 8445 §9): new local credentials; the local candidates
 * are reported again (LOCAL_CANDIDATE events, then GATHERING_DONE); the
 * DTLS association and SRTP keys are kept. The application signals the
 * new credentials and candidates and must set the peer's new ones; the
 * side answering a restart calls this too. Remote candidates of the old
 * generation are forgotten. Errors: RTCSEC_ERR_INVALID_STATE (before
 * rtcsec_ice_gather(), or libnice refused). */
RTCSEC_API int rtcsec_ice_restart(rtcsec_ice_agent *a);

typedef struct rtcsec_ice_stats {
  rtcsec_ice_state state;
  int has_pair;
  rtcsec_ice_pair_info pair;
  uint64_t start_us;          /* monotonic clock (g_get_monotonic_time) at creation */
  uint64_t ice_connected_us;  /* first validated pair, relative to start; 0 until then */
  uint64_t dtls_connected_us; /* relative to start; 0 until then */
  uint64_t first_media_us;    /* first plaintext media delivered, relative; 0 until then */
  uint64_t local_candidates, remote_candidates; /* reported / handed to libnice */
  uint64_t pair_changes;                        /* SELECTED_PAIR events */
  uint64_t restarts;                            /* rtcsec_ice_restart() calls that succeeded */
  uint64_t dtls_handshakes;     /* DTLS_CONNECTED events: 1 for the session's life */
  uint64_t consent_losses;      /* CONSENT_LOST events */
  uint64_t dropped_unvalidated; /* DTLS / media in or out without a validated pair or consent */
  uint64_t remote_candidates_refused; /* checked lines libnice would not take */
  uint64_t early_dtls_kept;    /* DTLS kept before the pair was validated, then handed over */
  uint64_t early_dtls_dropped; /* ... over the bound, or the pair never validated */
  uint64_t send_errors;        /* libnice refused a datagram */
  unsigned check_pacing_ms;    /* the Ta libnice runs with (check_pacing_ms) */
  rtcsec_transport_stats transport;
} rtcsec_ice_stats;

RTCSEC_API int rtcsec_ice_get_stats(rtcsec_ice_agent *a, rtcsec_ice_stats *out);
/* "new", "gathering", "checking", "connected", "failed", "disconnected",
 * "closed"; "unknown" otherwise. */
RTCSEC_API const char *rtcsec_ice_state_name(rtcsec_ice_state s);

#ifdef __cplusplus
}
#endif
#endif
