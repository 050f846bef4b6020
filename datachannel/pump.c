/* The association carried by an rtcsec_transport: the one place that knows
 * the carrier (rtcsec/datachannel.h, rtcsec_dc_pump_transport). */
#include "rtcsec/datachannel.h"

int rtcsec_dc_pump_transport(rtcsec_dc *dc, rtcsec_transport *t, uint64_t now) {
  if (dc == NULL || t == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* One SCTP packet per DTLS record (RFC 8261 §5); the largest possible
   * packet, on the stack: no allocation per packet. */
  uint8_t buf[65535];
  int sent = 0, first_error = RTCSEC_OK;
  for (;;) {
    size_t n = 0;
    int rc = rtcsec_dc_poll_packet(dc, buf, sizeof(buf), &n);
    if (rc != RTCSEC_OK || n == 0)
      break;
    rc = rtcsec_transport_send_data(t, buf, n, now);
    if (rc == RTCSEC_OK)
      sent++;
    else if (first_error == RTCSEC_OK)
      first_error = rc; /* the packet is lost; SCTP retransmits what matters */
  }
  return sent > 0 || first_error == RTCSEC_OK ? sent : first_error;
}
