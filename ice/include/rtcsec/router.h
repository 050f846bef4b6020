/* rtcsec: the single-port router: many DTLS-SRTP sessions on one UDP socket,
 * with an ICE-lite responder (RFC 8445 §2.5) in front of them, as an SFU
 * runs its media legs.
 *
 * Sans-IO, like the transport: the router never opens a socket and never
 * reads a clock. The caller owns one UDP socket and
 *   1. gives every received datagram, with its source address and `now`, to
 *      rtcsec_router_handle_datagram(); media comes back from that call as
 *      plaintext, in place in the caller's buffer;
 *   2. sends every (datagram, destination) rtcsec_router_poll_datagram()
 *      gives, until it gives none;
 *   3. handles every event rtcsec_router_poll_event() gives;
 *   4. calls rtcsec_router_handle_timeout() once rtcsec_router_deadline()
 *      has passed: one deadline for all sessions together, kept in a binary
 *      min-heap of per-session deadlines (O(log n) per change, O(1) to read).
 *
 * Sessions. The application adds a session per remote peer with the local
 * ICE ufrag and password it put in its SDP answer, the expected remote DTLS
 * fingerprint(s) and the DTLS role (default server, a=setup:passive, as SFUs
 * answer), and gets back an id. A session is removed by
 * rtcsec_router_remove_session() or when its ICE consent expires.
 *
 * ICE-lite (RFC 8445 §2.5, §7.3): the router never sends a check; it only
 * answers Binding requests. A request is routed by the local ufrag, the
 * part of USERNAME before ':' (RFC 8445 §7.2.2), through a hash table, and
 * must carry FINGERPRINT (RFC 8445 §7.2.2) and a MESSAGE-INTEGRITY that
 * verifies with the session's local password (RFC 8489 §9.1.3); then it is
 * answered with a success response carrying XOR-MAPPED-ADDRESS (the
 * request's source), MESSAGE-INTEGRITY and FINGERPRINT. A request with
 * USE-CANDIDATE nominates its 5-tuple (RFC 8445 §7.3.1.5, §8.2.2): from
 * then on every non-STUN datagram is routed by its source address, through
 * a second hash table. A later nomination from another address moves the
 * session there (a network change): the DTLS association and the SRTP keys
 * stay, no new handshake.
 *
 * A lite agent is always controlled (RFC 8445 §6.1.1): a request carrying
 * ICE-CONTROLLED, i.e. a peer that also wants to be controlled, gets a 487
 * (Role Conflict) error response (RFC 8445 §7.3.1.1), integrity-protected,
 * and changes nothing.
 *
 * What is never done for an unvalidated address: a non-STUN datagram from
 * an address that no session has nominated is dropped and counted before
 * any DTLS or SRTP work (RTCSEC_ERR_UNKNOWN_SOURCE); no transport state
 * exists for it. A session's DTLS association is created only when the
 * first DTLS datagram arrives from its nominated address (server role) or
 * at its first nomination (client role). Requests that fail authentication
 * (unknown ufrag, wrong MESSAGE-INTEGRITY, no FINGERPRINT) get no answer by
 * default: RFC 8489 §9.1.3 asks for a 400/401 error response, but an
 * answer to an unauthenticated request tells a prober which ufrags exist
 * and reflects traffic to spoofed addresses; reply_unauthenticated = 1
 * restores the RFC behaviour (the error responses carry no integrity).
 *
 * Consent (RFC 7675 §5.1): a session that has not received a valid Binding
 * request for consent_timeout_us (30 s by default) expires: its transport
 * is freed (keys wiped), it leaves both tables, nothing more is ever sent
 * to its address, and an EXPIRED event reports it. Before nomination any
 * valid request refreshes consent; after nomination only those from the
 * nominated address (or a nominating one) do. The clock starts when the
 * session is added, so a session whose peer never shows up expires too.
 *
 * Threads: one router is used by one thread at a time.
 */
#ifndef RTCSEC_ROUTER_H
#define RTCSEC_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/cert.h"
#include "rtcsec/demux.h"
#include "rtcsec/dtls.h"
#include "rtcsec/export.h"
#include "rtcsec/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_router rtcsec_router;

/* A session id: never 0, never reused by the same router. */
typedef uint64_t rtcsec_session_id;

typedef struct rtcsec_router_config {
  /* Template for every session's transport: the local certificate
   * (required; each transport takes a reference), SRTP profiles, MTU,
   * retransmission timers, SRTP limits. The role and the peer fingerprints
   * come from each session; those fields here are ignored. */
  rtcsec_transport_config transport;
  uint64_t consent_timeout_us; /* default 30 s (RFC 7675 §5.1) */
  size_t max_sessions;         /* default 100 000 */
  /* Outputs queued by the router itself (STUN responses, close_notify of
   * removed sessions) waiting for rtcsec_router_poll_datagram(); past this
   * a new one is dropped and counted (the peer retransmits). Default 4096. */
  size_t max_queued_datagrams;
  /* DTLS application data events waiting for rtcsec_router_poll_event();
   * past this, data is dropped and counted. Default 1024. */
  size_t max_queued_data_events;
  /* 1: answer unauthenticated Binding requests with 400/401 as RFC 8489
   * §9.1.3 says. 0 (default): drop them silently (see the top). */
  int reply_unauthenticated;
  /* Seed of the hash tables' hash function (any value; a random one
   * makes chain lengths unpredictable to peers). Default 0. */
  uint64_t hash_seed;
} rtcsec_router_config;

/* Fills cfg with the defaults above and rtcsec_transport_config_default()
 * (cert = NULL). */
RTCSEC_API void rtcsec_router_config_default(rtcsec_router_config *cfg);

/* Creates a router. The config is copied; the router takes a reference to
 * the certificate. Errors: RTCSEC_ERR_INVALID_ARGUMENT (no certificate, a
 * limit of 0, consent timeout 0), RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_router_new(rtcsec_router **out, const rtcsec_router_config *cfg);

/* Frees every session (wiping keys and passwords). Sends nothing. NULL is a
 * no-op. */
RTCSEC_API void rtcsec_router_free(rtcsec_router *r);

typedef struct rtcsec_router_session_config {
  /* ICE credentials this side put in its SDP (a=ice-ufrag, a=ice-pwd);
   * NUL-terminated, copied. RFC 8445 §5.3: ufrag 4..256 and password
   * 22..256 ice-chars (ALPHA / DIGIT / "+" / "/"). Required. */
  const char *local_ufrag;
  const char *local_pwd;
  /* Optional: the peer's ufrag. When set, USERNAME must be exactly
   * "local_ufrag:remote_ufrag" (RFC 8445 §7.2.2); when NULL only the local
   * part is checked (the password authenticates the request anyway). */
  const char *remote_ufrag;
  /* Expected peer certificate fingerprints (copied, at most
   * RTCSEC_DTLS_MAX_FINGERPRINTS); may be 0 and added later with
   * rtcsec_router_add_remote_fingerprint(). No media before one matched. */
  const rtcsec_fingerprint *remote_fingerprints;
  size_t n_remote_fingerprints;
  rtcsec_dtls_role role; /* default RTCSEC_DTLS_SERVER (a=setup:passive) */
  void *user;            /* handed back in events and media */
} rtcsec_router_session_config;

RTCSEC_API void rtcsec_router_session_config_default(rtcsec_router_session_config *cfg);

/* Adds a session; its consent clock starts at `now`.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (missing or invalid ufrag or
 * password, a ufrag already in use, too many fingerprints, bad role),
 * RTCSEC_ERR_LIMIT (max_sessions reached), RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_router_add_session(rtcsec_router *r, const rtcsec_router_session_config *cfg,
                                         uint64_t now, rtcsec_session_id *id);

/* Removes a session now. If its DTLS association is up and its consent is
 * valid, a close_notify is queued to its address first. No event follows.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (unknown id). */
RTCSEC_API int rtcsec_router_remove_session(rtcsec_router *r, rtcsec_session_id id, uint64_t now);

/* Adds an expected remote fingerprint to a session (e.g. the answer came
 * after the first checks). Errors: those of
 * rtcsec_transport_add_peer_fingerprint(); RTCSEC_ERR_LIMIT;
 * RTCSEC_ERR_INVALID_ARGUMENT (unknown id). */
RTCSEC_API int rtcsec_router_add_remote_fingerprint(rtcsec_router *r, rtcsec_session_id id,
                                                    const rtcsec_fingerprint *fp, uint64_t now);

/* What one received datagram turned out to be. */
typedef struct rtcsec_router_input {
  rtcsec_packet_class kind;  /* by the first byte (RFC 7983) */
  rtcsec_session_id session; /* the session it was routed to, 0 if none */
  void *user;                /* that session's user pointer */
  /* RTP / RTCP: length of the plaintext now at the start of buf. */
  size_t len;
} rtcsec_router_input;

/* Takes one received UDP payload and its source address (AF_INET or
 * AF_INET6; an IPv4-mapped IPv6 address counts as the IPv4 one). buf is
 * modified in place for media. Returns 0 with in->kind:
 *   RTCSEC_PKT_STUN          a Binding request answered (the response is
 *                            queued for rtcsec_router_poll_datagram());
 *   RTCSEC_PKT_DTLS          consumed by the session's association;
 *   RTCSEC_PKT_RTP / _RTCP   plaintext for in->session in buf[0..in->len).
 * Or drops the datagram, counts it and returns (the router goes on):
 *   RTCSEC_ERR_UNKNOWN_SOURCE          non-STUN from an address no session
 *                                      has nominated (no DTLS work done);
 *   RTCSEC_ERR_STUN_MALFORMED          not a well-formed STUN message;
 *   RTCSEC_ERR_STUN_FINGERPRINT        FINGERPRINT missing or wrong;
 *   RTCSEC_ERR_STUN_UNKNOWN_USER       no session has this local ufrag;
 *   RTCSEC_ERR_STUN_INTEGRITY          MESSAGE-INTEGRITY missing or wrong;
 *   RTCSEC_ERR_STUN_BAD_REQUEST        no USERNAME/MESSAGE-INTEGRITY, or both
 *                                      ICE-CONTROLLING and ICE-CONTROLLED
 *                                      (400 sent when authenticated);
 *   RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE  420 sent (RFC 8489 §6.3.1);
 *   RTCSEC_ERR_STUN_ROLE_CONFLICT      487 sent (RFC 8445 §7.3.1.1);
 *   RTCSEC_ERR_STUN_IGNORED            indication, response, other method,
 *                                      or a replayed nominating request;
 *   RTCSEC_ERR_LIMIT                   the output queue is full;
 *   anything rtcsec_transport_handle_datagram() returns (media errors,
 *   a failed handshake: see rtcsec/transport.h).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL, unsupported address family). */
RTCSEC_API int rtcsec_router_handle_datagram(rtcsec_router *r, uint8_t *buf, size_t len,
                                             const struct sockaddr_storage *src, socklen_t src_len,
                                             uint64_t now, rtcsec_router_input *in);

/* Runs every session whose deadline has passed: DTLS retransmissions and
 * handshake timeouts, consent expiry. Harmless if early. */
RTCSEC_API int rtcsec_router_handle_timeout(rtcsec_router *r, uint64_t now);

/* The earliest deadline of all sessions (caller's clock), or UINT64_MAX. */
RTCSEC_API uint64_t rtcsec_router_deadline(const rtcsec_router *r);

/* Takes the next datagram to send and its destination. Returns 0 with
 * *len = 0 when there is none. RTCSEC_ERR_BUFFER_TOO_SMALL leaves it
 * queued; a buffer of the configured MTU (at least 1200 bytes) always
 * suffices. *session (optional) says whose it is. */
RTCSEC_API int rtcsec_router_poll_datagram(rtcsec_router *r, uint8_t *buf, size_t cap, size_t *len,
                                           struct sockaddr_storage *dst, socklen_t *dst_len,
                                           rtcsec_session_id *session);

/* Protects an RTP / RTCP packet in place for a session and gives the
 * address to send it to (the nominated one), for the caller to send
 * directly: nothing is copied or queued. Errors: RTCSEC_ERR_INVALID_ARGUMENT
 * (unknown id), RTCSEC_ERR_INVALID_STATE (no nominated address or no
 * transport yet), RTCSEC_ERR_CONSENT_EXPIRED (consent ran out by the latest
 * `now` the router was given: the session expires here, with its EXPIRED
 * event, and nothing is sent), and those of rtcsec_transport_protect_rtp(). */
RTCSEC_API int rtcsec_router_protect_rtp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf,
                                         size_t len, size_t cap, size_t *out_len,
                                         struct sockaddr_storage *dst, socklen_t *dst_len);
RTCSEC_API int rtcsec_router_protect_rtcp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf,
                                          size_t len, size_t cap, size_t *out_len,
                                          struct sockaddr_storage *dst, socklen_t *dst_len);

/* Sends DTLS application data (SCTP) on a session; goes out through
 * rtcsec_router_poll_datagram(). Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_INVALID_STATE (no transport), those of
 * rtcsec_transport_send_data(). */
RTCSEC_API int rtcsec_router_send_data(rtcsec_router *r, rtcsec_session_id id, const uint8_t *data,
                                       size_t len, uint64_t now);

typedef enum rtcsec_router_event_type {
  RTCSEC_ROUTER_EVENT_NONE = 0,
  RTCSEC_ROUTER_EVENT_NOMINATED, /* addr: the session's 5-tuple, first or moved */
  RTCSEC_ROUTER_EVENT_CONNECTED, /* DTLS up, SRTP keys installed: media may flow */
  RTCSEC_ROUTER_EVENT_DATA,      /* DTLS application data */
  RTCSEC_ROUTER_EVENT_FAILED,    /* DTLS failed: error, alert (session stays) */
  RTCSEC_ROUTER_EVENT_CLOSED,    /* the peer sent close_notify (session stays) */
  RTCSEC_ROUTER_EVENT_EXPIRED,   /* consent expired: the session is gone */
} rtcsec_router_event_type;

typedef struct rtcsec_router_event {
  rtcsec_router_event_type type;
  rtcsec_session_id session;
  void *user;
  struct sockaddr_storage addr;        /* NOMINATED; EXPIRED: the last nominated one */
  socklen_t addr_len;                  /* 0 if none */
  int moved;                           /* NOMINATED: 1 if the session had another address */
  int error;                           /* FAILED: rtcsec error code; EXPIRED: CONSENT_EXPIRED */
  int alert;                           /* FAILED: TLS alert, -1 if none */
  int alert_from_peer;                 /* FAILED */
  rtcsec_srtp_profile profile;         /* CONNECTED */
  rtcsec_fingerprint peer_fingerprint; /* CONNECTED */
  const uint8_t *data;                 /* DATA: valid until the next poll */
  size_t data_len;
} rtcsec_router_event;

/* Takes the next event; ev->type == RTCSEC_ROUTER_EVENT_NONE when none. */
RTCSEC_API int rtcsec_router_poll_event(rtcsec_router *r, rtcsec_router_event *ev);

typedef struct rtcsec_router_stats {
  size_t sessions;   /* now */
  size_t nominated;  /* sessions with an address now */
  size_t transports; /* sessions with a DTLS association now */
  uint64_t sessions_added, sessions_removed, sessions_expired;
  uint64_t datagrams_in, datagrams_out;
  uint64_t stun_requests;    /* Binding requests seen */
  uint64_t stun_responses;   /* success responses sent */
  uint64_t stun_errors_sent; /* 400/401/420/487 error responses sent */
  uint64_t stun_malformed, stun_bad_fingerprint, stun_unknown_user, stun_bad_integrity;
  uint64_t stun_bad_request, stun_unknown_attribute, stun_role_conflicts, stun_ignored;
  uint64_t stun_replays;        /* nominating request replayed from another address */
  uint64_t nominations;         /* USE-CANDIDATE that set or moved an address */
  uint64_t moves;               /* ... that moved one */
  uint64_t drop_unknown_source; /* non-STUN from an unnominated address */
  uint64_t drop_queue_full;     /* outputs or data events dropped: queue full */
  uint64_t dtls_in, media_in, media_delivered, media_dropped;
  uint64_t address_takeovers; /* nomination of an address another session had */
} rtcsec_router_stats;

RTCSEC_API int rtcsec_router_get_stats(const rtcsec_router *r, rtcsec_router_stats *out);

/* The state of one session, for logs and tests. */
typedef struct rtcsec_router_session_info {
  void *user;
  int nominated;                /* has an address */
  struct sockaddr_storage addr; /* the nominated one */
  socklen_t addr_len;
  uint64_t consent_expires; /* caller's clock */
  uint64_t deadline;        /* the session's key in the heap */
  int has_transport;
  rtcsec_dtls_state dtls_state; /* RTCSEC_DTLS_STATE_NEW without a transport */
  uint64_t checks;              /* valid Binding requests answered */
  uint64_t media_in;            /* media datagrams routed to it */
} rtcsec_router_session_info;

/* Errors: RTCSEC_ERR_INVALID_ARGUMENT (unknown id). */
RTCSEC_API int rtcsec_router_get_session_info(const rtcsec_router *r, rtcsec_session_id id,
                                              rtcsec_router_session_info *out);

/* The transport of a session (NULL if none yet or unknown id), for its
 * statistics. Owned by the router; valid until the session is removed. */
RTCSEC_API rtcsec_transport *rtcsec_router_session_transport(rtcsec_router *r,
                                                             rtcsec_session_id id);

#ifdef __cplusplus
}
#endif
#endif
