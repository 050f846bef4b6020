/* Internal: test hooks of the DTLS association. Not installed. */
#ifndef RTCSEC_DTLS_INTERNAL_H
#define RTCSEC_DTLS_INTERNAL_H

#include <stdint.h>

#include "rtcsec/dtls.h"

/* Presets the count of application records sent in epoch 1, so a test can
 * reach the 2^48 sequence limit (RFC 6347 §4.1) without sending them. */
void rtcsec_dtls_test_set_records_sent(rtcsec_dtls *d, uint64_t n);

/* For the transport: once connected, the SRTP keys again (same exporter
 * call, RFC 5705), the profile, version, cipher and matched fingerprint.
 * RTCSEC_ERR_INVALID_STATE unless connected. The caller wipes the keys. */
int rtcsec_dtls_get_connected(rtcsec_dtls *d, rtcsec_dtls_connected_info *info);
#endif
