/* rtcsec: the media transport, one per UDP socket or ICE component.
 *
 * Everything that arrives on the socket goes in through
 * rtcsec_transport_handle_datagram(); it is told apart by its first byte
 * (RFC 7983, RFC 9443):
 *   STUN          handed back to the caller (ICE owns it), untouched;
 *   DTLS          fed to the DTLS association (RFC 5764);
 *   RTP / RTCP    unprotected in place with the negotiated SRTP keys and
 *                 handed back as plaintext (RFC 5761 rtcp-mux split);
 *   anything else dropped and counted.
 * Media that arrives before the keys exist is dropped and counted
 * (RTCSEC_ERR_SRTP_NO_KEYS): nothing is queued, so nothing unauthenticated
 * is buffered on behalf of a peer that has not finished its handshake.
 *
 * The SRTP keys never leave the transport: the CONNECTED event says what
 * was negotiated, not the keys. On close or failure both SRTP sessions are
 * freed and their keys wiped; later media in either direction is refused.
 *
 * Like rtcsec_dtls, the transport is sans-IO: after each call send what
 * rtcsec_transport_poll_datagram() gives, handle the events of
 * rtcsec_transport_poll_event(), and call rtcsec_transport_handle_timeout()
 * at rtcsec_transport_deadline(). The per-packet calls (handle_datagram for
 * media, protect_rtp/rtcp) allocate nothing, copy nothing and take no lock.
 * One transport is used by one thread at a time.
 */
#ifndef RTCSEC_TRANSPORT_H
#define RTCSEC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/demux.h"
#include "rtcsec/dtls.h"
#include "rtcsec/export.h"
#include "rtcsec/srtp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_transport rtcsec_transport;

typedef struct rtcsec_transport_config {
  rtcsec_dtls_config dtls; /* role, certificate, profiles, MTU, timers, fingerprints */
  rtcsec_srtp_config srtp; /* replay window, SSRC caps */
} rtcsec_transport_config;

/* Defaults of rtcsec_dtls_config_default() and rtcsec_srtp_config_default(). */
RTCSEC_API void rtcsec_transport_config_default(rtcsec_transport_config *cfg);

/* Errors: those of rtcsec_dtls_new(); RTCSEC_ERR_INVALID_ARGUMENT for an SRTP
 * config out of range or dtls.use_srtp == 0; RTCSEC_ERR_UNSUPPORTED if a configured profile is one
 * the installed libsrtp2 cannot do (with n_profiles == 0 the default list is
 * filtered to what it can do). */
RTCSEC_API int rtcsec_transport_new(rtcsec_transport **out, const rtcsec_transport_config *cfg);

/* Frees everything and wipes all keys. NULL is a no-op. */
RTCSEC_API void rtcsec_transport_free(rtcsec_transport *t);

/* Starts the DTLS handshake (see rtcsec_dtls_start()). */
RTCSEC_API int rtcsec_transport_start(rtcsec_transport *t, uint64_t now);

/* Adds expected peer fingerprints, all of one SDP at once (see
 * rtcsec_dtls_add_peer_fingerprints()). */
RTCSEC_API int rtcsec_transport_add_peer_fingerprints(rtcsec_transport *t,
                                                      const rtcsec_fingerprint *fps, size_t n,
                                                      uint64_t now);

/* What one received datagram turned out to be. */
typedef struct rtcsec_transport_input {
  rtcsec_packet_class kind;
  /* 1 if the datagram proved the peer holds the keys: SRTP/SRTCP whose tag
   * verified with a new index, or DTLS records after the handshake that
   * decrypted. Nothing else is proof (RFC 9000 §9 uses the same rule for
   * accepting a new path). */
  int authenticated;
  /* RTP/RTCP: length of the plaintext now at the start of the buffer.
   * STUN: the datagram length (the buffer is untouched). Else 0. */
  size_t len;
} rtcsec_transport_input;

/* Takes one received UDP payload. buf is modified in place for media.
 * Returns 0 with in->kind:
 *   RTCSEC_PKT_STUN        give buf to ICE;
 *   RTCSEC_PKT_DTLS        consumed (datagrams and events may be pending);
 *   RTCSEC_PKT_RTP / _RTCP plaintext in buf[0..in->len).
 * Or drops the datagram, counts it and returns (the transport goes on):
 *   RTCSEC_ERR_DEMUX_UNKNOWN   empty, or first byte in no RFC 7983 range;
 *   RTCSEC_ERR_UNSUPPORTED     ZRTP or TURN channel data;
 *   RTCSEC_ERR_SRTP_NO_KEYS    media before the handshake completed;
 *   RTCSEC_ERR_CLOSED          media after close or failure;
 *   RTCSEC_ERR_SRTP_*          authentication, replay, too old, malformed,
 *                              SSRC limit (see rtcsec/srtp.h).
 * A DTLS datagram that makes the association fail returns its (sticky)
 * error and queues a FAILED event. */
RTCSEC_API int rtcsec_transport_handle_datagram(rtcsec_transport *t, uint8_t *buf, size_t len,
                                                uint64_t now, rtcsec_transport_input *in);

RTCSEC_API int rtcsec_transport_handle_timeout(rtcsec_transport *t, uint64_t now);
RTCSEC_API uint64_t rtcsec_transport_deadline(const rtcsec_transport *t);

/* The next DTLS datagram to send (see rtcsec_dtls_poll_datagram()). */
RTCSEC_API int rtcsec_transport_poll_datagram(rtcsec_transport *t, uint8_t *buf, size_t cap,
                                              size_t *out_len);

/* Protects an RTP / RTCP packet in place for sending (see
 * rtcsec_srtp_protect_rtp()). RTCSEC_ERR_SRTP_NO_KEYS before connected (RFC
 * 5764 §4.1: no media before the handshake completes), RTCSEC_ERR_CLOSED
 * after close or failure. When the local key reaches its usage limit (RFC
 * 3711 §9.2) the packet is refused with RTCSEC_ERR_SRTP_KEY_LIMIT and the
 * transport fails: close_notify goes to the peer, both directions' keys
 * are wiped, a FAILED event carries RTCSEC_ERR_KEY_EXHAUSTED, and every
 * later call returns that error. */
RTCSEC_API int rtcsec_transport_protect_rtp(rtcsec_transport *t, uint8_t *buf, size_t len,
                                            size_t cap, size_t *out_len, uint64_t now);
RTCSEC_API int rtcsec_transport_protect_rtcp(rtcsec_transport *t, uint8_t *buf, size_t len,
                                             size_t cap, size_t *out_len, uint64_t now);

/* Bytes of tail room protect needs beyond the packet, 0 before connected. */
RTCSEC_API size_t rtcsec_transport_rtp_overhead(const rtcsec_transport *t);
RTCSEC_API size_t rtcsec_transport_rtcp_overhead(const rtcsec_transport *t);

/* DTLS application data (SCTP for data channels), see rtcsec_dtls_send(). */
RTCSEC_API int rtcsec_transport_send_data(rtcsec_transport *t, const uint8_t *data, size_t len,
                                          uint64_t now);

/* Sends close_notify, wipes the SRTP keys, refuses media from now on. */
RTCSEC_API int rtcsec_transport_close(rtcsec_transport *t, uint64_t now);

/* Takes the next event (rtcsec/event.h): CONNECTED (.connected: the SRTP
 * sessions are installed, media may flow), DATA (.data: DTLS application
 * data, valid until the next call other than poll_event), CLOSED (the
 * peer closed), FAILED (.failed). RTCSEC_EVENT_NONE when there is none. */
RTCSEC_API int rtcsec_transport_poll_event(rtcsec_transport *t, rtcsec_event *ev);

RTCSEC_API rtcsec_dtls_state rtcsec_transport_get_state(const rtcsec_transport *t);

typedef struct rtcsec_transport_stats {
  rtcsec_dtls_state state;
  rtcsec_dtls_role role;
  int error;                /* sticky error once failed */
  const char *dtls_version; /* "" before connected */
  const char *dtls_cipher;  /* "" before connected */
  const char *dtls_group;   /* key exchange group, "" before connected */
  rtcsec_srtp_profile profile;
  char local_fingerprint[RTCSEC_FINGERPRINT_STRLEN]; /* sha-256 */
  char peer_fingerprint[RTCSEC_FINGERPRINT_STRLEN];  /* "" before connected */
  uint64_t handshake_us;
  rtcsec_dtls_stats dtls; /* retransmissions, datagrams, held */
  rtcsec_srtp_stats srtp; /* per direction; kept after close */
  /* datagrams handed in, by class, and drops by reason */
  uint64_t in_stun, in_dtls, in_rtp, in_rtcp;
  uint64_t drop_unknown, drop_zrtp, drop_turn_channel;
  uint64_t drop_no_keys, drop_closed;
  /* SRTP drops (auth, replay, too old, malformed, SSRC limit) are in srtp */
} rtcsec_transport_stats;

RTCSEC_API int rtcsec_transport_get_stats(const rtcsec_transport *t, rtcsec_transport_stats *out);

/* Per-SSRC counters, see rtcsec_srtp_get_ssrc_stats(). */
RTCSEC_API int rtcsec_transport_get_ssrc_stats(const rtcsec_transport *t, uint32_t ssrc,
                                               int outbound, rtcsec_srtp_ssrc_stats *out);

#ifdef __cplusplus
}
#endif
#endif
