/* The server side of the DTLS 1.3 tests: the ClientHello collector in
 * front of the engine, as rtcsec_dtls will put them, with a verify_peer
 * that checks one expected sha-256 fingerprint. No test framework inside,
 * so the fuzz targets use it too. */
#ifndef RTCSEC_TEST_DTLS13_SERVER_SIDE_H
#define RTCSEC_TEST_DTLS13_SERVER_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "dtls13.h"
#include "dtls13_client.h"
#include "dtls_client_hello.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"

/* The server side: collects the first ClientHello, then runs the engine. */
typedef struct d13s {
  rtcsec_ch_collector col;
  rtcsec_dtls13 *e;
  rtcsec_dtls13_config cfg;
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  rtcsec_cert *cert;
  rtcsec_fingerprint expect; /* the client's, checked by verify_peer */
  int expect_none;           /* verify_peer says no to everything */
  int verify_calls;
  int create_rc; /* what rtcsec_dtls13_server_new returned */
  int parse_rc;  /* what rtcsec_client_hello_parse returned */
  int parse_alert;
} d13s;

/* cfg may be NULL (defaults). The certificate gets a new reference. */
void d13s_init(d13s *s, rtcsec_cert *cert, const rtcsec_dtls13_config *cfg);
void d13s_free(d13s *s);
int d13s_handle_datagram(d13s *s, const uint8_t *data, size_t len, uint64_t now);
harness_endpoint d13s_endpoint(d13s *s);
harness_endpoint d13c_endpoint(d13c *c);

#endif
