/* One-socket demultiplexing: RFC 7983 §7 (updated by RFC 9443) and RFC 5761 §4. */
#include "rtcsec/demux.h"

/* RFC 5761 §4: RTCP packet types 192..223 appear, with the marker bit
 * position masked off, as 64..95; RTP payload types avoid that range. */
static rtcsec_packet_class rtp_or_rtcp(const uint8_t *data, size_t len) {
  if (len < 2)
    return RTCSEC_PKT_UNKNOWN;
  uint8_t pt = data[1] & 0x7F;
  if (pt >= 64 && pt <= 95)
    return RTCSEC_PKT_RTCP;
  return RTCSEC_PKT_RTP;
}

rtcsec_packet_class rtcsec_demux_classify(const uint8_t *data, size_t len) {
  if (data == NULL || len == 0)
    return RTCSEC_PKT_UNKNOWN;
  uint8_t b = data[0];
  /* RFC 7983 §7 with RFC 9443: the first byte picks the protocol. */
  if (b <= 3)
    return RTCSEC_PKT_STUN;
  if (b >= 16 && b <= 19)
    return RTCSEC_PKT_ZRTP;
  if (b >= 20 && b <= 63)
    return RTCSEC_PKT_DTLS;
  if (b >= 64 && b <= 79)
    return RTCSEC_PKT_TURN_CHANNEL;
  if (b >= 128 && b <= 191)
    return rtp_or_rtcp(data, len);
  /* RFC 7983 §7: anything else MUST be dropped. */
  return RTCSEC_PKT_UNKNOWN;
}

const char *rtcsec_packet_class_name(rtcsec_packet_class c) {
  switch (c) {
  case RTCSEC_PKT_STUN:
    return "stun";
  case RTCSEC_PKT_ZRTP:
    return "zrtp";
  case RTCSEC_PKT_DTLS:
    return "dtls";
  case RTCSEC_PKT_TURN_CHANNEL:
    return "turn-channel";
  case RTCSEC_PKT_RTP:
    return "rtp";
  case RTCSEC_PKT_RTCP:
    return "rtcp";
  case RTCSEC_PKT_UNKNOWN:
  default:
    return "unknown";
  }
}
