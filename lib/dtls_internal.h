/* Internal: test hooks of the DTLS association. Not installed. */
#ifndef RTCSEC_DTLS_INTERNAL_H
#define RTCSEC_DTLS_INTERNAL_H

#include <stdint.h>

#include "rtcsec/dtls.h"

/* Presets the count of application records sent in epoch 1, so a test can
 * reach the 2^48 sequence limit (RFC 6347 §4.1) without sending them. */
void rtcsec_dtls_test_set_records_sent(rtcsec_dtls *d, uint64_t n);
/* Test hook: the engine in use ("openssl-dtls1.2", "rtcsec-dtls1.3"), "" before one is chosen. */
const char *rtcsec_dtls_test_engine_name(const rtcsec_dtls *d);
/* With a DTLS 1.3 engine: 1 if it holds no active record key and every
 * secret it keeps is zero (rtcsec_dtls13_secrets_wiped), else 0; -1 when
 * the association has no DTLS 1.3 engine. */
int rtcsec_dtls_test_secrets_wiped(const rtcsec_dtls *d);

/* 1 if rtcsec_dtls_poll_event() has something to give. */
int rtcsec_dtls_pending_events(const rtcsec_dtls *d);

#endif
