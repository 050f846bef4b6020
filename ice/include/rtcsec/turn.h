/* rtcsec: a STUN and TURN client over DTLS (RFC 7350; `turns:` over UDP),
 * sans-IO.
 *
 * One rtcsec_turn is one DTLS association to one STUN/TURN server (client
 * role, plain DTLS without use_srtp) and the STUN transactions on top of
 * it: Binding (RFC 8489) for the server-reflexive address, and TURN (RFC
 * 8656) for a relayed address: Allocate with the long-term credential
 * mechanism (RFC 8489 §9.2: a first request without credentials, the
 * server's 401 with REALM and NONCE, the request again with USERNAME,
 * REALM, NONCE and MESSAGE-INTEGRITY; 438 Stale Nonce answered with the new
 * nonce), Refresh, CreatePermission, ChannelBind, Send and Data
 * indications and ChannelData. Allocation, permissions and channel
 * bindings are refreshed on the caller's clock before they expire (RFC
 * 8656 §8, §9, §12) until the client is closed.
 *
 * The server is authenticated by the DTLS association before any STUN is
 * sent (RFC 8489 §6.2.3): by a CA file and its host name or address
 * (dtls.ca_file + dtls.peer_name), by pinned certificate fingerprints
 * (dtls.peer_fingerprints) or by a pre-shared key. Requests made before
 * that are queued, and sent only once the association is connected; if it
 * fails they never leave. Over DTLS the STUN layer still retransmits its
 * requests (RFC 8489 §6.2.1: DTLS does not deliver application data
 * reliably): RTO 500 ms doubling, Rc 7 transmissions, Rm 16, all
 * configurable.
 *
 * The same pattern as every rtcsec object: the caller owns the UDP socket
 * to the server and the clock. After any call it sends every datagram
 * rtcsec_turn_poll_datagram() gives (to the server), handles every event
 * rtcsec_turn_poll_event() gives, and calls rtcsec_turn_handle_timeout()
 * once rtcsec_turn_deadline() has passed. Datagrams from the server go to
 * rtcsec_turn_handle_datagram(). Relayed datagrams from peers arrive as
 * RTCSEC_EVENT_RELAYED_DATA; rtcsec_turn_send() relays one to a peer.
 *
 * Media through the relay (docs/turns.md): feed what RELAYED_DATA brings
 * from the peer to an rtcsec_transport, and give each datagram the
 * transport polls to rtcsec_turn_send() for that peer. Each relayed
 * datagram costs 4 bytes (ChannelData, once a channel is bound) or 36 / 48
 * bytes (a Send indication to an IPv4 / IPv6 peer) plus the DTLS record's
 * 13 + up to 24 bytes inside this client's MTU (default 1400), so the
 * transport's own MTU must be smaller (1200 leaves room).
 *
 * Threads: one client is used by one thread at a time.
 */
#ifndef RTCSEC_TURN_H
#define RTCSEC_TURN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/dtls.h"
#include "rtcsec/event.h"
#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_turn rtcsec_turn;

typedef enum rtcsec_turn_state {
  RTCSEC_TURN_STATE_NEW = 0,    /* created, not started */
  RTCSEC_TURN_STATE_CONNECTING, /* DTLS handshake with the server; requests wait */
  RTCSEC_TURN_STATE_CONNECTED,  /* the server is authenticated: STUN flows */
  RTCSEC_TURN_STATE_CLOSED,     /* closed by rtcsec_turn_close() or the server */
  RTCSEC_TURN_STATE_FAILED,     /* the DTLS association failed; rtcsec_turn_error() */
} rtcsec_turn_state;

/* Outstanding STUN transactions (RFC 8489 §6.2: at most ten to a server). */
#define RTCSEC_TURN_MAX_TRANSACTIONS 8
/* Peers with a permission or a channel. */
#define RTCSEC_TURN_MAX_PEERS 32
/* Longest username, realm, nonce and password taken (RFC 8489 §14.3,
 * §14.9, §14.10: < 513 / < 763 bytes). */
#define RTCSEC_TURN_MAX_CREDENTIAL 512

typedef struct rtcsec_turn_config {
  /* The DTLS association to the server. Forced: role client, use_srtp 0.
   * Required: a way to authenticate the server (ca_file + peer_name,
   * peer_fingerprints, or a pre-shared key); cert may be NULL (a fresh
   * self-signed P-256 certificate is made: a TURN server does not usually
   * ask for one). Default mtu here: 1400 (see above). */
  rtcsec_dtls_config dtls;
  /* The long-term credential (RFC 8489 §9.2), already processed with
   * OpaqueString by the caller; both NULL: Binding only (Allocate and the
   * rest refuse with RTCSEC_ERR_INVALID_STATE). Copied. */
  const char *username;
  const char *password;
  const char *software;   /* SOFTWARE attribute, optional; copied */
  uint32_t lifetime_s;    /* asked of Allocate and Refresh; default 600, 0: server's */
  uint64_t rto_us;        /* RFC 8489 §6.2.1 RTO; default 500 ms */
  unsigned transmissions; /* Rc, default 7 */
  unsigned last_wait_rto; /* Rm, default 16 */
} rtcsec_turn_config;

/* Fills cfg with the defaults documented above. */
RTCSEC_API void rtcsec_turn_config_default(rtcsec_turn_config *cfg);

/* Creates a client. The config is copied.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (no way to authenticate the server,
 * a username without password or the reverse, a credential too long,
 * rto_us or transmissions 0), and those of rtcsec_dtls_new()
 * (RTCSEC_ERR_IO / RTCSEC_ERR_PEM for ca_file, ...). */
RTCSEC_API int rtcsec_turn_new(rtcsec_turn **out, const rtcsec_turn_config *cfg);

/* Frees the client and wipes the credential. NULL is a no-op. Sends
 * nothing: rtcsec_turn_close() first deletes the allocation. */
RTCSEC_API void rtcsec_turn_free(rtcsec_turn *t);

/* Starts the DTLS handshake (the ClientHello is then ready to poll).
 * Errors: RTCSEC_ERR_INVALID_STATE (already started). */
RTCSEC_API int rtcsec_turn_start(rtcsec_turn *t, uint64_t now);

/* Feeds one datagram from the server. What is not DTLS, not a STUN
 * message or ChannelData, not an answer to an outstanding transaction,
 * or fails its MESSAGE-INTEGRITY is dropped and counted (returns 0).
 * Returns the association's sticky error once it failed. */
RTCSEC_API int rtcsec_turn_handle_datagram(rtcsec_turn *t, const uint8_t *data, size_t len,
                                           uint64_t now);

/* Runs DTLS retransmission, STUN retransmission and transaction timeouts
 * (each a TURN_ERROR event with error_code 0) and the refreshes. */
RTCSEC_API int rtcsec_turn_handle_timeout(rtcsec_turn *t, uint64_t now);

/* When rtcsec_turn_handle_timeout() is next due, UINT64_MAX for never. */
RTCSEC_API uint64_t rtcsec_turn_deadline(const rtcsec_turn *t);

/* The next datagram for the server (a DTLS record; at most the MTU), as
 * rtcsec_dtls_poll_datagram(). */
RTCSEC_API int rtcsec_turn_poll_datagram(rtcsec_turn *t, uint8_t *buf, size_t cap, size_t *out_len);

/* The next event: CONNECTED (.connected: the server authenticated), FAILED
 * (.failed), CLOSED, and the TURN ones of rtcsec/event.h (.turn). Pointers
 * in .turn (reason, data) stay valid until the next call on this client.
 * Up to 64 KiB of undelivered relayed data is kept; beyond that relayed
 * datagrams are dropped and counted. */
RTCSEC_API int rtcsec_turn_poll_event(rtcsec_turn *t, rtcsec_event *ev);

/* Requests; each queues one STUN transaction (sent at once if connected,
 * else once connected) and ends in an event. Errors:
 * RTCSEC_ERR_INVALID_STATE (closed or failed; the TURN requests also
 * without a credential, or without an allocation for permission, channel
 * and refresh), RTCSEC_ERR_LIMIT (RTCSEC_TURN_MAX_TRANSACTIONS outstanding,
 * or RTCSEC_TURN_MAX_PEERS peers), RTCSEC_ERR_INVALID_ARGUMENT (an address
 * that is not IPv4 or IPv6), RTCSEC_ERR_CRYPTO (no random transaction ID).
 * A request that cannot go out later (larger than the MTU) ends in
 * TURN_ERROR. */

/* Binding: ends in MAPPED_ADDRESS or TURN_ERROR. */
RTCSEC_API int rtcsec_turn_binding(rtcsec_turn *t, uint64_t now);
/* Allocate (UDP relay, RFC 8656 §7.1): ends in MAPPED_ADDRESS then
 * ALLOCATED, or TURN_ERROR (e.g. 401 for a wrong credential, 437). */
RTCSEC_API int rtcsec_turn_allocate(rtcsec_turn *t, uint64_t now);
/* CreatePermission for the peer's IP address (RFC 8656 §9): ends in
 * PERMISSION or TURN_ERROR; refreshed every 4 minutes. */
RTCSEC_API int rtcsec_turn_create_permission(rtcsec_turn *t, const struct sockaddr *peer,
                                             socklen_t peer_len, uint64_t now);
/* ChannelBind of the next free channel number (0x4000 up) to the peer
 * (RFC 8656 §12), which also installs its permission: ends in
 * CHANNEL_BOUND or TURN_ERROR; refreshed every 9 minutes. A peer already
 * bound: RTCSEC_OK, nothing new is sent. */
RTCSEC_API int rtcsec_turn_bind_channel(rtcsec_turn *t, const struct sockaddr *peer,
                                        socklen_t peer_len, uint64_t now);
/* Refresh with lifetime_s now (RFC 8656 §8); 0 deletes the allocation.
 * Ends in REFRESHED or TURN_ERROR. */
RTCSEC_API int rtcsec_turn_refresh(rtcsec_turn *t, uint32_t lifetime_s, uint64_t now);

/* Relays one datagram to a peer: as ChannelData once its channel is bound,
 * else in a Send indication (RFC 8656 §10). Unreliable, like UDP.
 * Errors: RTCSEC_ERR_INVALID_STATE (not connected, no allocation, or no
 * permission or channel requested for the peer's IP address),
 * RTCSEC_ERR_TOO_LARGE (does not fit the MTU), RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_CRYPTO (no random transaction ID); the association's error if
 * it failed meanwhile. Nothing is queued: the caller drops the datagram, as
 * UDP would. */
RTCSEC_API int rtcsec_turn_send(rtcsec_turn *t, const struct sockaddr *peer, socklen_t peer_len,
                                const uint8_t *data, size_t len, uint64_t now);

/* Deletes the allocation (a Refresh with lifetime 0, not waited for),
 * sends close_notify and moves to CLOSED. */
RTCSEC_API int rtcsec_turn_close(rtcsec_turn *t, uint64_t now);

RTCSEC_API rtcsec_turn_state rtcsec_turn_get_state(const rtcsec_turn *t);
/* The relayed address once allocated. Errors: RTCSEC_ERR_INVALID_STATE. */
RTCSEC_API int rtcsec_turn_get_relayed(const rtcsec_turn *t, struct sockaddr_storage *out,
                                       socklen_t *out_len);
/* The sticky error of a FAILED client, else 0; its words ("" if none). */
RTCSEC_API int rtcsec_turn_error(const rtcsec_turn *t);
RTCSEC_API const char *rtcsec_turn_error_detail(const rtcsec_turn *t);
RTCSEC_API const char *rtcsec_turn_state_name(rtcsec_turn_state s);

typedef struct rtcsec_turn_stats {
  rtcsec_turn_state state;
  int allocated;
  uint64_t requests_sent;       /* first transmissions */
  uint64_t retransmissions;     /* of requests, on the STUN timer */
  uint64_t responses;           /* matched to a transaction and accepted */
  uint64_t auth_retries;        /* requests sent again after 401 / 438 */
  uint64_t transactions_failed; /* TURN_ERROR events */
  uint64_t indications_sent, channel_data_sent;
  uint64_t relayed_received; /* RELAYED_DATA events */
  /* Dropped from the server: not STUN or ChannelData, malformed, no such
   * transaction, MESSAGE-INTEGRITY missing or wrong, unknown
   * comprehension-required attributes, a peer without permission, an
   * unbound channel, the relayed-data buffer full. */
  uint64_t dropped;
  rtcsec_dtls_stats dtls;
} rtcsec_turn_stats;

RTCSEC_API int rtcsec_turn_get_stats(const rtcsec_turn *t, rtcsec_turn_stats *out);

#ifdef __cplusplus
}
#endif
#endif
