/* srtp_bridge internals shared with tests/test_srtp.c; never installed. */
#ifndef RTCSEC_SRTP_INTERNAL_H
#define RTCSEC_SRTP_INTERNAL_H

#include <stdint.h>

#include "rtcsec/srtp.h"

/* RFC 3711 §9.2: at most 2^48 SRTP packets and 2^31 SRTCP packets per
 * stream (SSRC) under one master key; the first stream to get there ends
 * the key for all of them. */
#define RTCSEC_SRTP_LIMIT_SRTP_PACKETS (UINT64_C(1) << 48)
#define RTCSEC_SRTP_LIMIT_SRTCP_PACKETS (UINT64_C(1) << 31)

/* A hint (rtcsec_router_prefetch() through rtcsec_transport_prefetch()):
 * starts loading the lines of this object that protecting and unprotecting
 * a packet read (its libsrtp2 sessions, SSRC tables' headers, counters).
 * Changes nothing. */
void rtcsec_srtp_prefetch(const rtcsec_srtp *s);

/* Test hook: presets the numbers of SRTP and SRTCP packets already
 * protected for the outbound ssrc (adding it to the outbound table if it is
 * new), so that a test reaches the key usage limit in a few packets.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_LIMIT (table full). */
int rtcsec_srtp_test_preset_sent(rtcsec_srtp *s, uint32_t ssrc, uint64_t srtp_packets,
                                 uint64_t srtcp_packets);

/* Test hook: 1 if libsrtp2 holds a stream for ssrc in the outbound
 * (outbound != 0) or inbound session, else 0. */
int rtcsec_srtp_test_libsrtp_has_stream(const rtcsec_srtp *s, uint32_t ssrc, int outbound);

/* Test hook: initialises the bridge (as its first use does) and returns
 * what registering rtcsec's cipher and authentication types into libsrtp2
 * gave (srtp_types.h; attempted = 0 if the process kept libsrtp2's own).
 * Errors: those of the bridge's initialisation (RTCSEC_ERR_SRTP). */
struct rtcsec_srtp_types_status;
int rtcsec_srtp_test_types_status(struct rtcsec_srtp_types_status *out);

#endif
