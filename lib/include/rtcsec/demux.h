/* rtcsec: telling apart the protocols that share one UDP socket.
 *
 * A WebRTC endpoint receives STUN, DTLS, SRTP and SRTCP (and perhaps ZRTP
 * and TURN channel data) on one 5-tuple. RFC 7983 §7 (which replaces the
 * scheme of RFC 5764 §5.1.2), as updated by RFC 9443, sorts a datagram by
 * its first byte; RFC 5761 §4 then splits RTP from RTCP by the second.
 * These are pure functions: no state, no allocation, any thread.
 */
#ifndef RTCSEC_DEMUX_H
#define RTCSEC_DEMUX_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rtcsec_packet_class {
  RTCSEC_PKT_UNKNOWN = 0,      /* in no range below: drop it (and count it) */
  RTCSEC_PKT_STUN = 1,         /* first byte 0..3 (RFC 8489 message) */
  RTCSEC_PKT_ZRTP = 2,         /* first byte 16..19 */
  RTCSEC_PKT_DTLS = 3,         /* first byte 20..63 (record content type) */
  RTCSEC_PKT_TURN_CHANNEL = 4, /* first byte 64..79 (channel 0x4000..0x4FFF) */
  RTCSEC_PKT_RTP = 5,          /* first byte 128..191, not an RTCP type */
  RTCSEC_PKT_RTCP = 6,         /* first byte 128..191, packet type 192..223 */
} rtcsec_packet_class;

/* Classifies one received datagram of `len` bytes.
 *
 * RFC 7983 §7 / RFC 9443, on the first byte B:
 *   0..3 STUN, 16..19 ZRTP, 20..63 DTLS, 64..79 TURN channel,
 *   128..191 RTP or RTCP, anything else (and len 0) RTCSEC_PKT_UNKNOWN.
 * RFC 5761 §4, for B in 128..191: the packet is RTCP when the second byte
 * without its top bit (the RTP marker bit) is 64..95, i.e. the RTCP packet
 * type is 192..223; otherwise RTP. A one-byte datagram in 128..191 cannot
 * be told apart and is RTCSEC_PKT_UNKNOWN.
 *
 * Only the first two bytes are read and only within `len`; nothing is
 * validated beyond them (a DTLS or SRTP layer rejects bad packets).
 * `data` may be NULL only when len is 0. */
RTCSEC_API rtcsec_packet_class rtcsec_demux_classify(const uint8_t *data, size_t len);

/* "unknown", "stun", "zrtp", "dtls", "turn-channel", "rtp", "rtcp"; for logs.
 * Never NULL; "unknown" for values outside the enum. */
RTCSEC_API const char *rtcsec_packet_class_name(rtcsec_packet_class c);

#ifdef __cplusplus
}
#endif
#endif
