/* Carrying the association: its packets handed to a DTLS association, one
 * record each (rtcsec/datachannel.h, rtcsec_dc_pump). */
#include "rtcsec/datachannel.h"

int rtcsec_dc_pump(rtcsec_dc *dc, rtcsec_dc_send_fn send, void *user, uint64_t now) {
  if (dc == NULL || send == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* One SCTP packet per DTLS record (RFC 8261 §5); the largest possible
   * packet, on the stack: no allocation per packet. */
  uint8_t buf[65535];
  int sent = 0, first_error = RTCSEC_OK;
  for (;;) {
    size_t n = 0;
    int rc = rtcsec_dc_poll_datagram(dc, buf, sizeof(buf), &n);
    if (rc != RTCSEC_OK || n == 0)
      break;
    rc = send(user, buf, n, now);
    if (rc == RTCSEC_OK)
      sent++;
    else if (first_error == RTCSEC_OK)
      first_error = rc; /* the packet is lost; SCTP retransmits what matters */
  }
  return sent > 0 || first_error == RTCSEC_OK ? sent : first_error;
}

static int to_transport(void *user, const uint8_t *packet, size_t len, uint64_t now) {
  return rtcsec_transport_send_data(user, packet, len, now);
}

int rtcsec_dc_pump_transport(rtcsec_dc *dc, rtcsec_transport *t, uint64_t now) {
  if (t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return rtcsec_dc_pump(dc, to_transport, t, now);
}
