/* Internal: test hooks of the media transport. Not installed. */
#ifndef RTCSEC_TRANSPORT_INTERNAL_H
#define RTCSEC_TRANSPORT_INTERNAL_H

#include "rtcsec/dtls.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"

/* The SRTP sessions the transport installed at connect, so that a test can
 * use the bridge's own hooks (srtp_internal.h), e.g. to reach the key usage
 * limit. NULL before connected and after close or failure. The transport
 * keeps ownership. */
rtcsec_srtp *rtcsec_transport_test_srtp(rtcsec_transport *t);

/* The DTLS association the transport drives, so that a test can export the
 * negotiated SRTP keys again (rtcsec_dtls_get_connected()) and act as the
 * peer beyond what one rtcsec_srtp allows (e.g. thousands of SSRCs). The
 * transport keeps ownership. NULL only for a NULL transport. */
rtcsec_dtls *rtcsec_transport_test_dtls(rtcsec_transport *t);

/* rtcsec_transport_handle_datagram() for a datagram the caller has already
 * classified with rtcsec_demux_classify() (the router does, to route it):
 * every datagram is classified once. */
int rtcsec_transport_handle_classified(rtcsec_transport *t, rtcsec_packet_class kind, uint8_t *buf,
                                       size_t len, uint64_t now, rtcsec_transport_input *in);

/* A hint for the router's rtcsec_router_prefetch(), once the transport
 * object itself is in cache: starts loading the SRTP state a media packet
 * reads. Changes nothing. */
void rtcsec_transport_prefetch(const rtcsec_transport *t);

/* 1 if rtcsec_transport_poll_event() has something to give. */
int rtcsec_transport_pending_events(const rtcsec_transport *t);

#endif
