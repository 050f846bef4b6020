/* rtcsec: the single-port router: many DTLS-SRTP sessions on one UDP socket,
 * with an ICE-lite responder (RFC 8445 §2.5) in front of them, as an SFU
 * runs its media legs.
 *
 * Sans-IO, like the transport: the router never opens a socket and never
 * reads a clock. The caller owns one UDP socket (rtcsec/udp_mux.h is such
 * a loop for Linux) and
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
 * ICE ufrag and password it put in its SDP answer, the expected peer DTLS
 * fingerprint(s) and the DTLS role (default server, a=setup:passive, as SFUs
 * answer), and gets back an id. A session is removed by
 * rtcsec_router_remove_session() or when its ICE consent expires. Its
 * state (rtcsec_router_session_state) moves one way only:
 *   WAITING      added, no address nominated yet;
 *   NOMINATED    an address nominated, no DTLS association yet (a server
 *                waits for the peer's ClientHello);
 *   HANDSHAKING  the DTLS association exists and has not finished;
 *   CONNECTED    DTLS connected, SRTP keys installed: media flows;
 *   ENDED        DTLS closed by the peer or failed: no media; the session
 *                stays (for its statistics) until removed or expired.
 *
 * ICE-lite (RFC 8445 §7.3): the router never sends a check; it only answers
 * Binding requests. A request is routed by the local ufrag, the part of
 * USERNAME before ':' (RFC 8445 §7.2.2), through a hash map, and must carry
 * FINGERPRINT and a MESSAGE-INTEGRITY that verifies with the session's
 * local password (RFC 8489 §9.1.3, keyed once per session); then it is
 * answered with a success response carrying XOR-MAPPED-ADDRESS (the
 * request's source), MESSAGE-INTEGRITY and FINGERPRINT. A lite agent is
 * always controlled (RFC 8445 §6.1.1): a request carrying ICE-CONTROLLED
 * gets a 487 (Role Conflict) and changes nothing.
 *
 * Nothing unauthenticated has power (docs/bad-input.md, docs/sfu.md):
 *   - A non-STUN datagram from an address that is neither a session's media
 *     address nor its probed one is dropped before any DTLS or SRTP work
 *     (RTCSEC_ERR_UNKNOWN_SOURCE). A session's DTLS association is created
 *     only by a ClientHello from its nominated address (server role) or at
 *     its first nomination (client role).
 *   - Transaction ids of the session's last RTCSEC_ROUTER_RECENT_CHECKS
 *     genuine checks are remembered (about 5 minutes at Chromium's rate of
 *     one check per 2.5 s): the same id again from the same address is a
 *     retransmission (answered, nothing else), from another address a
 *     replay (dropped, counted, not answered).
 *   - USE-CANDIDATE with a new id nominates its address (RFC 8445
 *     §7.3.1.5). Before DTLS is connected the session moves there at once
 *     (no keys exist yet to prove anything with). Once connected, a new
 *     address only becomes the session's probed address: it is answered,
 *     and its DTLS and media are taken in, but media and DTLS keep going to
 *     the old address until an authenticated, non-replayed SRTP/SRTCP
 *     packet or DTLS record arrives from the new one (RFC 9000 §9's rule
 *     for a new path); then the session moves (NOMINATED with moved = 1).
 *   - Consent (RFC 7675 §5.1): until DTLS is connected, a genuine new check
 *     from the session's address (or any address before nomination)
 *     refreshes consent. From then on consent needs both a genuine new
 *     check and authenticated media or DTLS from the session's address
 *     within consent_timeout_us: a replayed check cannot keep a session
 *     alive whose peer is gone. A session without consent expires: its
 *     transport is freed (keys wiped), nothing more is sent, and an EXPIRED
 *     event reports it. The clock starts when the session is added.
 *   - Requests that fail authentication get no answer by default: RFC 8489
 *     §9.1.3 asks for a 400/401, but an answer to an unauthenticated request
 *     tells a prober which ufrags exist and reflects traffic to spoofed
 *     addresses; reply_unauthenticated = 1 restores the RFC behaviour.
 *   - DTLS that arrives from an address that sent a genuine check before it
 *     is nominated is kept (at most RTCSEC_ROUTER_EARLY_DATAGRAMS datagrams
 *     per session) and handed to DTLS the moment that address is nominated,
 *     so a ClientHello that overtakes the nomination costs no round trip
 *     (issue 14).
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
#include "rtcsec/event.h"
#include "rtcsec/export.h"
#include "rtcsec/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_router rtcsec_router;

/* A session id: never 0, never reused by the same router. */
typedef uint64_t rtcsec_session_id;

/* Genuine checks whose transaction ids a session remembers. */
#define RTCSEC_ROUTER_RECENT_CHECKS 128
/* DTLS datagrams kept per session before its address is nominated. */
#define RTCSEC_ROUTER_EARLY_DATAGRAMS 8

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
  /* 1: answer unauthenticated Binding requests with 400/401 as RFC 8489
   * §9.1.3 says. 0 (default): drop them silently (see the top). */
  int reply_unauthenticated;
  /* Seed of the hash maps' hash function (any value; a random one makes
   * probe runs unpredictable to peers). Default 0. */
  uint64_t hash_seed;
} rtcsec_router_config;

/* Fills cfg with the defaults above and rtcsec_transport_config_default()
 * (cert = NULL). */
RTCSEC_API void rtcsec_router_config_default(rtcsec_router_config *cfg);

/* Creates a router. The config is copied; the router takes a reference to
 * the certificate. Errors: RTCSEC_ERR_INVALID_ARGUMENT (no certificate, a
 * limit of 0, consent timeout 0), those of rtcsec_transport_new() for a bad
 * transport template, RTCSEC_ERR_NO_MEMORY. */
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
   * rtcsec_router_add_peer_fingerprints(). No media before one matched. */
  const rtcsec_fingerprint *peer_fingerprints;
  size_t n_peer_fingerprints;
  rtcsec_dtls_role role; /* default RTCSEC_DTLS_SERVER (a=setup:passive) */
  void *user;            /* handed back in events and media */
} rtcsec_router_session_config;

RTCSEC_API void rtcsec_router_session_config_default(rtcsec_router_session_config *cfg);

/* Adds a session; its consent clock starts at `now`.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (missing or invalid ufrag or
 * password, a ufrag already in use, too many fingerprints, bad role),
 * RTCSEC_ERR_LIMIT (max_sessions reached), RTCSEC_ERR_NO_MEMORY,
 * RTCSEC_ERR_CRYPTO. */
RTCSEC_API int rtcsec_router_add_session(rtcsec_router *r, const rtcsec_router_session_config *cfg,
                                         uint64_t now, rtcsec_session_id *id);

/* Removes a session now. If its DTLS association is up and its consent is
 * valid, a close_notify is queued to its address first. No event follows.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (unknown id). */
RTCSEC_API int rtcsec_router_remove_session(rtcsec_router *r, rtcsec_session_id id, uint64_t now);

/* Adds expected peer fingerprints to a session, all of one SDP at once
 * (e.g. the answer came after the first checks). Errors: those of
 * rtcsec_transport_add_peer_fingerprints(); RTCSEC_ERR_INVALID_ARGUMENT
 * (unknown id). */
RTCSEC_API int rtcsec_router_add_peer_fingerprints(rtcsec_router *r, rtcsec_session_id id,
                                                   const rtcsec_fingerprint *fps, size_t n,
                                                   uint64_t now);

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
 *                                      has nominated or probed (no DTLS
 *                                      work done);
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
 *                                      or a replayed request;
 *   RTCSEC_ERR_LIMIT                   the output queue is full;
 *   anything rtcsec_transport_handle_datagram() returns (media errors,
 *   a failed handshake: see rtcsec/transport.h).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL, unsupported address family). */
RTCSEC_API int rtcsec_router_handle_datagram(rtcsec_router *r, uint8_t *buf, size_t len,
                                             const struct sockaddr_storage *src, socklen_t src_len,
                                             uint64_t now, rtcsec_router_input *in);

/* Datagrams rtcsec_router_prefetch() looks at in one go (more are taken in
 * chunks of this many). */
#define RTCSEC_ROUTER_PREFETCH_MAX 64

/* Optional, for a loop that receives datagrams in batches (recvmmsg();
 * rtcsec_udp_mux does this): before handing a batch's n datagrams to
 * rtcsec_router_handle_datagram() one by one, pass their source addresses
 * here, in the same order. With thousands of sessions, what a datagram's
 * handling reads (its session, transport and SRTP state) is in memory
 * rather than in the CPU's cache, and one datagram after the other each
 * waits for it; here the router looks up the session of every source of
 * the batch and asks the CPU to start loading that state for all of them
 * at once, so that the waits overlap. A hint only: nothing changes, nothing
 * is counted, a source without a session costs a hash and a table probe;
 * skipping the call changes nothing but the time. src[i] and src_len[i] as
 * for rtcsec_router_handle_datagram(); a NULL router or arrays, or an
 * unusable address, are ignored. */
RTCSEC_API void rtcsec_router_prefetch(const rtcsec_router *r, const struct sockaddr_storage *src,
                                       const socklen_t *src_len, size_t n);

/* Runs every session whose deadline has passed: DTLS retransmissions and
 * handshake timeouts, consent expiry. Harmless if early. */
RTCSEC_API int rtcsec_router_handle_timeout(rtcsec_router *r, uint64_t now);

/* The earliest deadline of all sessions (caller's clock), or UINT64_MAX. */
RTCSEC_API uint64_t rtcsec_router_deadline(const rtcsec_router *r);

/* Takes the next datagram to send and its destination. Returns 0 with
 * *out_len = 0 when there is none. RTCSEC_ERR_BUFFER_TOO_SMALL leaves it
 * queued; a buffer of the configured MTU (at least 1200 bytes) always
 * suffices. *session (optional) says whose it is. */
RTCSEC_API int rtcsec_router_poll_datagram(rtcsec_router *r, uint8_t *buf, size_t cap,
                                           size_t *out_len, struct sockaddr_storage *dst,
                                           socklen_t *dst_len, rtcsec_session_id *session);

/* Protects an RTP / RTCP packet in place for a session and gives the
 * address to send it to (the session's media address), for the caller to
 * send directly: nothing is copied or queued. Errors:
 * RTCSEC_ERR_INVALID_ARGUMENT (unknown id), RTCSEC_ERR_INVALID_STATE (not
 * CONNECTED), RTCSEC_ERR_CONSENT_EXPIRED (consent ran out by `now`: the
 * session expires here, with its EXPIRED event, and nothing is sent), and
 * those of rtcsec_transport_protect_rtp(). */
RTCSEC_API int rtcsec_router_protect_rtp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf,
                                         size_t len, size_t cap, size_t *out_len,
                                         struct sockaddr_storage *dst, socklen_t *dst_len,
                                         uint64_t now);
RTCSEC_API int rtcsec_router_protect_rtcp(rtcsec_router *r, rtcsec_session_id id, uint8_t *buf,
                                          size_t len, size_t cap, size_t *out_len,
                                          struct sockaddr_storage *dst, socklen_t *dst_len,
                                          uint64_t now);

/* Sends DTLS application data (SCTP) on a session; goes out through
 * rtcsec_router_poll_datagram(). Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_INVALID_STATE (no transport), RTCSEC_ERR_CONSENT_EXPIRED,
 * those of rtcsec_transport_send_data(). */
RTCSEC_API int rtcsec_router_send_data(rtcsec_router *r, rtcsec_session_id id, const uint8_t *data,
                                       size_t len, uint64_t now);

/* Takes the next event (rtcsec/event.h), with ev->session and ev->user set:
 *   NOMINATED  .address: the session's media address, set or moved;
 *   CONNECTED  .connected: DTLS up, SRTP keys installed: media may flow;
 *   DATA       .data: DTLS application data (valid until the next call on
 *              the router other than rtcsec_router_poll_event());
 *   FAILED     .failed: DTLS failed (the session stays, ENDED);
 *   CLOSED     the peer sent close_notify (the session stays, ENDED);
 *   EXPIRED    .address (the last one): consent expired, the session is
 *              gone (events of its DTLS association not yet taken are
 *              dropped with it).
 * Events of one session come in order. RTCSEC_EVENT_NONE when none. */
RTCSEC_API int rtcsec_router_poll_event(rtcsec_router *r, rtcsec_event *ev);

typedef struct rtcsec_router_stats {
  size_t sessions;   /* now */
  size_t nominated;  /* sessions with a media address now */
  size_t transports; /* sessions with a DTLS association now */
  uint64_t sessions_added, sessions_removed, sessions_expired;
  uint64_t datagrams_in, datagrams_out;
  uint64_t stun_requests;    /* Binding requests seen */
  uint64_t stun_responses;   /* success responses sent */
  uint64_t stun_errors_sent; /* 400/401/420/487 error responses sent */
  uint64_t stun_malformed, stun_bad_fingerprint, stun_unknown_user, stun_bad_integrity;
  uint64_t stun_bad_request, stun_unknown_attribute, stun_role_conflicts, stun_ignored;
  uint64_t stun_retransmissions; /* a remembered id from the same address: answered only */
  uint64_t stun_replays;         /* a remembered id from another address: dropped */
  uint64_t nominations;          /* USE-CANDIDATE that set or moved an address */
  uint64_t moves;                /* ... that moved one (before connected, or probe proven) */
  uint64_t probes;               /* new addresses probed while connected */
  uint64_t probe_unproven;       /* datagrams from a probed address that proved nothing */
  uint64_t drop_unknown_source;  /* non-STUN from an unknown address */
  /* non-STUN from a session's address that is neither DTLS nor RTP/RTCP by
   * its first byte (RFC 7983: unknown, ZRTP, TURN channel data) */
  uint64_t drop_other_class;
  uint64_t drop_queue_full;    /* router outputs or events dropped: queue full */
  uint64_t early_dtls_kept;    /* DTLS kept before nomination, then handed over */
  uint64_t early_dtls_dropped; /* ... over the bound, or never nominated */
  uint64_t dtls_in, media_in, media_delivered, media_dropped;
  uint64_t address_takeovers; /* nomination of an address another session had */
} rtcsec_router_stats;

RTCSEC_API int rtcsec_router_get_stats(const rtcsec_router *r, rtcsec_router_stats *out);

typedef enum rtcsec_router_session_state {
  RTCSEC_ROUTER_SESSION_WAITING = 0,
  RTCSEC_ROUTER_SESSION_NOMINATED,
  RTCSEC_ROUTER_SESSION_HANDSHAKING,
  RTCSEC_ROUTER_SESSION_CONNECTED,
  RTCSEC_ROUTER_SESSION_ENDED,
} rtcsec_router_session_state;

/* "waiting", "nominated", "handshaking", "connected", "ended"; "unknown"
 * otherwise. */
RTCSEC_API const char *rtcsec_router_session_state_name(rtcsec_router_session_state s);

/* The state of one session, for logs and tests. */
typedef struct rtcsec_router_session_info {
  void *user;
  rtcsec_router_session_state state;
  int nominated;                /* has a media address */
  struct sockaddr_storage addr; /* the media address */
  socklen_t addr_len;
  int probing;                        /* a new address waits for proof */
  struct sockaddr_storage probe_addr; /* that address */
  socklen_t probe_addr_len;
  uint64_t consent_expires; /* caller's clock */
  uint64_t deadline;        /* the session's key in the heap */
  int has_transport;
  rtcsec_dtls_state dtls_state; /* RTCSEC_DTLS_STATE_NEW without a transport */
  uint64_t checks;              /* genuine new Binding requests answered */
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
