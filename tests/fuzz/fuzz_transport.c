/* libFuzzer target: one socket's worth of input into a server
 * rtcsec_transport (RFC 7983 demux, then the DTLS association, the SRTP
 * and SRTCP unprotect of srtp_bridge, STUN handed back): the real entry
 * point of everything that arrives from the network.
 *
 * Input format: as the first-flight targets (fuzz_common.h). The seeds
 * replay a recorded handshake followed by SRTP, SRTCP and STUN, so the
 * fuzzer starts from a connected transport with media flowing.
 * Invariants: the class reported is the demux class; STUN and dropped
 * classes leave the buffer untouched; no media before the handshake
 * completed (RTCSEC_ERR_SRTP_NO_KEYS) or after close/failure
 * (RTCSEC_ERR_CLOSED); accepted media keeps its header and loses exactly the
 * SRTP overhead; DTLS errors are sticky; events agree with the state; the
 * counters agree with what was accepted; no leak, no datagram over the MTU. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();
  fuzz_keep_nss_loaded();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_transport_run(data, size, NULL);
  return 0;
}
