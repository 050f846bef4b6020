/* rtcsec: error codes.
 *
 * Every rtcsec function that can fail returns 0 on success or one of the
 * negative codes below. Codes are grouped by what the caller should do next:
 *
 *   -1  .. -19   usage: the call itself was wrong (fix the caller)
 *   -20 .. -39   parsing of caller-supplied text or files
 *   -40 .. -59   DTLS protocol: the association has failed (sticky)
 *   -60 .. -69   STUN / ICE-lite (single-port router): the datagram is
 *                dropped (or answered with a STUN error), nothing fails
 *   -70 .. -89   SRTP / media: the packet is dropped, the session goes on
 *   -90 .. -99   crypto library and resources
 *   -100 .. -109 data channels (librtcsec-datachannel): a message or packet
 *                is dropped and counted, or a call is refused; only
 *                RTCSEC_ERR_DC_ABORTED and RTCSEC_ERR_DC_TIMEOUT end an
 *                association (sticky)
 *
 * rtcsec_strerror() returns a short static English description for any code,
 * including unknown ones.
 */
#ifndef RTCSEC_ERROR_H
#define RTCSEC_ERROR_H

#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rtcsec_error {
  RTCSEC_OK = 0,

  /* usage */
  RTCSEC_ERR_INVALID_ARGUMENT = -1, /* NULL pointer, zero length, bad enum */
  RTCSEC_ERR_INVALID_STATE = -2,    /* call not allowed in the current state */
  RTCSEC_ERR_BUFFER_TOO_SMALL = -3, /* output capacity too small; nothing lost */
  RTCSEC_ERR_TOO_LARGE = -4,        /* input larger than the MTU or a limit */
  RTCSEC_ERR_UNSUPPORTED = -5,      /* valid but not supported by this build */
  RTCSEC_ERR_LIMIT = -6,            /* a configured bound was reached */

  /* parsing */
  RTCSEC_ERR_FINGERPRINT_MALFORMED = -20,    /* not "hash AB:CD:..." */
  RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH = -21, /* hash name not sha-1/224/256/384/512 */
  RTCSEC_ERR_FINGERPRINT_LENGTH = -22,       /* digest length wrong for the hash */
  RTCSEC_ERR_PEM = -23,                      /* certificate or key PEM unreadable */
  RTCSEC_ERR_KEY_MISMATCH = -24,             /* private key does not match certificate */
  RTCSEC_ERR_PROFILE_NAME = -25,             /* unknown SRTP profile name */
  RTCSEC_ERR_PARSE = -26,                    /* other malformed input text */

  /* DTLS protocol (the association is failed; the error is sticky) */
  RTCSEC_ERR_HANDSHAKE = -40,              /* handshake failed (see detail) */
  RTCSEC_ERR_HANDSHAKE_TIMEOUT = -41,      /* handshake did not finish in time */
  RTCSEC_ERR_FINGERPRINT_MISMATCH = -42,   /* peer certificate matches no fingerprint */
  RTCSEC_ERR_NO_PEER_CERTIFICATE = -43,    /* peer sent no certificate */
  RTCSEC_ERR_SRTP_NO_COMMON_PROFILE = -44, /* use_srtp offered, no profile in common */
  RTCSEC_ERR_SRTP_NOT_NEGOTIATED = -45,    /* peer sent no use_srtp extension */
  RTCSEC_ERR_SRTP_BAD_PROFILE = -46,       /* server chose a profile we did not offer */
  RTCSEC_ERR_PEER_ALERT = -47,             /* peer sent a fatal alert */
  RTCSEC_ERR_CLOSED = -48,                 /* association closed (close_notify) */
  RTCSEC_ERR_RENEGOTIATION = -49,          /* peer tried to renegotiate */
  RTCSEC_ERR_KEY_EXHAUSTED = -50,          /* sequence space for the key used up */
  RTCSEC_ERR_PSK_UNKNOWN_IDENTITY = -51,   /* client's PSK identity is not ours (RFC 4279 §2) */
  RTCSEC_ERR_CERT_UNTRUSTED = -52,         /* peer chain does not verify against the CA file */
  RTCSEC_ERR_CERT_NAME_MISMATCH = -53,     /* peer certificate does not name the expected host */

  /* STUN / ICE-lite (the datagram is dropped or answered; nothing fails) */
  RTCSEC_ERR_STUN_MALFORMED = -60,         /* not a well-formed STUN message */
  RTCSEC_ERR_STUN_INTEGRITY = -61,         /* MESSAGE-INTEGRITY missing or wrong */
  RTCSEC_ERR_STUN_FINGERPRINT = -62,       /* FINGERPRINT missing or wrong */
  RTCSEC_ERR_STUN_UNKNOWN_USER = -63,      /* USERNAME names no local ufrag */
  RTCSEC_ERR_STUN_ROLE_CONFLICT = -64,     /* answered 487 (RFC 8445 §7.3.1.1) */
  RTCSEC_ERR_STUN_BAD_REQUEST = -65,       /* request lacks what it must carry (400) */
  RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE = -66, /* comprehension-required attribute (420) */
  RTCSEC_ERR_STUN_IGNORED = -67,           /* indication, response or other method */
  RTCSEC_ERR_UNKNOWN_SOURCE = -68,         /* non-STUN from an address ICE did not nominate */
  RTCSEC_ERR_CONSENT_EXPIRED = -69,        /* no valid ICE check within the consent time */

  /* SRTP / media (the packet is dropped; the session continues) */
  RTCSEC_ERR_SRTP_AUTH = -70,       /* authentication tag did not verify */
  RTCSEC_ERR_SRTP_REPLAY = -71,     /* packet index already seen */
  RTCSEC_ERR_SRTP_TOO_OLD = -72,    /* index left of the replay window */
  RTCSEC_ERR_SRTP_MALFORMED = -73,  /* RTP/RTCP header or length invalid */
  RTCSEC_ERR_SRTP_NO_KEYS = -74,    /* media before the keys exist */
  RTCSEC_ERR_SRTP_SSRC_LIMIT = -75, /* too many inbound SSRCs */
  RTCSEC_ERR_SRTP_KEY_LIMIT = -76,  /* 2^48 SRTP / 2^31 SRTCP packets reached */
  RTCSEC_ERR_SRTP = -77,            /* other libsrtp2 failure */
  RTCSEC_ERR_DEMUX_UNKNOWN = -78,   /* first byte in no RFC 7983 range */

  /* crypto library and resources */
  RTCSEC_ERR_CRYPTO = -90,    /* OpenSSL failed (see detail) */
  RTCSEC_ERR_NO_MEMORY = -91, /* allocation failed */
  RTCSEC_ERR_IO = -92,        /* file could not be read or written */
  /* A peer's key exchange share (TLS 1.3 key_share) is unusable: the
   * handshake fails with illegal_parameter. */
  RTCSEC_ERR_KEY_SHARE_LENGTH = -93,  /* share length wrong for its group */
  RTCSEC_ERR_KEY_SHARE_INVALID = -94, /* not a valid key: ML-KEM modulus check, P-256 point */
  RTCSEC_ERR_KEY_SHARE_ZERO = -95,    /* X25519 shared secret all zero (small-order point) */

  /* data channels (SCTP over DTLS, RFC 8261 / 8831 / 8832) */
  RTCSEC_ERR_DC_DCEP_MALFORMED = -100,    /* DCEP message malformed or with bad parameters */
  RTCSEC_ERR_DC_UNKNOWN_PPID = -101,      /* message with a PPID data channels do not use */
  RTCSEC_ERR_DC_MESSAGE_TOO_LARGE = -102, /* over the max-message-size (RFC 8841 §6.1) */
  RTCSEC_ERR_DC_STREAM_ID = -103,      /* stream id in use, of the wrong parity or out of range */
  RTCSEC_ERR_DC_CHANNEL_CLOSED = -104, /* no open channel with that id */
  RTCSEC_ERR_DC_BUFFER_FULL = -105,    /* send queue full: wait for buffered-amount-low */
  RTCSEC_ERR_DC_ABORTED = -106,        /* SCTP association aborted (sticky) */
  RTCSEC_ERR_DC_TIMEOUT = -107,        /* SCTP association not set up or peer gone (sticky) */
  RTCSEC_ERR_DC_PACKET_DROPPED = -108, /* SCTP packet dropped: checksum, tag or header */
  RTCSEC_ERR_DC_SCTP = -109,           /* the SCTP stack refused an operation */
} rtcsec_error;

/* Short static description of an error code; never NULL. */
RTCSEC_API const char *rtcsec_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
