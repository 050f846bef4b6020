/* rtcsec_strerror: one table for every code. */
#include <stddef.h>

#include "rtcsec/error.h"

struct err_name {
  int code;
  const char *text;
};

static const struct err_name err_table[] = {
    {RTCSEC_OK, "success"},
    {RTCSEC_ERR_INVALID_ARGUMENT, "invalid argument"},
    {RTCSEC_ERR_INVALID_STATE, "call not allowed in the current state"},
    {RTCSEC_ERR_BUFFER_TOO_SMALL, "buffer too small"},
    {RTCSEC_ERR_TOO_LARGE, "too large"},
    {RTCSEC_ERR_UNSUPPORTED, "not supported"},
    {RTCSEC_ERR_LIMIT, "limit reached"},
    {RTCSEC_ERR_FINGERPRINT_MALFORMED, "malformed fingerprint"},
    {RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH, "unknown fingerprint hash function"},
    {RTCSEC_ERR_FINGERPRINT_LENGTH, "fingerprint length does not match its hash function"},
    {RTCSEC_ERR_PEM, "unreadable PEM certificate or key"},
    {RTCSEC_ERR_KEY_MISMATCH, "private key does not match the certificate"},
    {RTCSEC_ERR_PROFILE_NAME, "unknown SRTP profile name"},
    {RTCSEC_ERR_PARSE, "malformed input"},
    {RTCSEC_ERR_HANDSHAKE, "DTLS handshake failed"},
    {RTCSEC_ERR_HANDSHAKE_TIMEOUT, "DTLS handshake timed out"},
    {RTCSEC_ERR_FINGERPRINT_MISMATCH, "peer certificate does not match the expected fingerprint"},
    {RTCSEC_ERR_NO_PEER_CERTIFICATE, "peer sent no certificate"},
    {RTCSEC_ERR_SRTP_NO_COMMON_PROFILE, "no SRTP protection profile in common"},
    {RTCSEC_ERR_SRTP_NOT_NEGOTIATED, "peer did not negotiate use_srtp"},
    {RTCSEC_ERR_SRTP_BAD_PROFILE, "peer chose an SRTP profile that was not offered"},
    {RTCSEC_ERR_PEER_ALERT, "peer sent a fatal alert"},
    {RTCSEC_ERR_CLOSED, "association closed"},
    {RTCSEC_ERR_RENEGOTIATION, "renegotiation refused"},
    {RTCSEC_ERR_KEY_EXHAUSTED, "key exhausted: sequence number space used up"},
    {RTCSEC_ERR_PSK_UNKNOWN_IDENTITY, "unknown pre-shared key identity"},
    {RTCSEC_ERR_CERT_UNTRUSTED, "peer certificate does not verify against the CA"},
    {RTCSEC_ERR_CERT_NAME_MISMATCH, "peer certificate does not name the expected host"},
    {RTCSEC_ERR_STUN_MALFORMED, "malformed STUN message"},
    {RTCSEC_ERR_STUN_INTEGRITY, "STUN MESSAGE-INTEGRITY missing or wrong"},
    {RTCSEC_ERR_STUN_FINGERPRINT, "STUN FINGERPRINT missing or wrong"},
    {RTCSEC_ERR_STUN_UNKNOWN_USER, "STUN USERNAME matches no local ICE ufrag"},
    {RTCSEC_ERR_STUN_ROLE_CONFLICT, "ICE role conflict (487)"},
    {RTCSEC_ERR_STUN_BAD_REQUEST, "STUN request lacks a required attribute (400)"},
    {RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE, "unknown comprehension-required STUN attribute (420)"},
    {RTCSEC_ERR_STUN_IGNORED, "STUN message ignored (not a Binding request)"},
    {RTCSEC_ERR_UNKNOWN_SOURCE, "datagram from an address ICE has not nominated"},
    {RTCSEC_ERR_CONSENT_EXPIRED, "ICE consent expired"},
    {RTCSEC_ERR_SRTP_AUTH, "auth failed"},
    {RTCSEC_ERR_SRTP_REPLAY, "replayed"},
    {RTCSEC_ERR_SRTP_TOO_OLD, "too old"},
    {RTCSEC_ERR_SRTP_MALFORMED, "malformed RTP/RTCP packet"},
    {RTCSEC_ERR_SRTP_NO_KEYS, "no SRTP keys yet"},
    {RTCSEC_ERR_SRTP_SSRC_LIMIT, "too many inbound SSRCs"},
    {RTCSEC_ERR_SRTP_KEY_LIMIT, "SRTP key usage limit reached"},
    {RTCSEC_ERR_SRTP, "SRTP failure"},
    {RTCSEC_ERR_DEMUX_UNKNOWN, "unknown first byte (RFC 7983)"},
    {RTCSEC_ERR_CRYPTO, "crypto library failure"},
    {RTCSEC_ERR_NO_MEMORY, "out of memory"},
    {RTCSEC_ERR_IO, "file I/O failed"},
    {RTCSEC_ERR_KEY_SHARE_LENGTH, "key share has the wrong length for its group"},
    {RTCSEC_ERR_KEY_SHARE_INVALID, "key share is not a valid public key"},
    {RTCSEC_ERR_KEY_SHARE_ZERO, "X25519 shared secret is all zero"},
    {RTCSEC_ERR_DC_DCEP_MALFORMED, "malformed data channel establishment message"},
    {RTCSEC_ERR_DC_UNKNOWN_PPID, "SCTP payload protocol identifier not used by data channels"},
    {RTCSEC_ERR_DC_MESSAGE_TOO_LARGE, "data channel message larger than max-message-size"},
    {RTCSEC_ERR_DC_STREAM_ID, "SCTP stream id in use, of the wrong parity or out of range"},
    {RTCSEC_ERR_DC_CHANNEL_CLOSED, "no open data channel with that id"},
    {RTCSEC_ERR_DC_BUFFER_FULL, "data channel send queue full"},
    {RTCSEC_ERR_DC_ABORTED, "SCTP association aborted"},
    {RTCSEC_ERR_DC_TIMEOUT, "SCTP association could not be set up or the peer stopped answering"},
    {RTCSEC_ERR_DC_PACKET_DROPPED, "SCTP packet dropped (checksum, verification tag or header)"},
    {RTCSEC_ERR_DC_SCTP, "the SCTP stack refused the operation"},
};

const char *rtcsec_strerror(int code) {
  for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
    if (err_table[i].code == code)
      return err_table[i].text;
  }
  return "unknown error";
}
