/* libFuzzer target: a DTLS client association is started (it has sent
 * its ClientHello) and gets the input as the server's reply datagram(s):
 * HelloVerifyRequest, ServerHello flights, fragments, the recorded rest of a
 * complete handshake (from the seed corpus), close_notify, alerts.
 *
 * Input format: fuzz_common.h (one raw datagram, or a count byte and
 * length-prefixed datagrams with timer / late-fingerprint flags).
 * Invariants: no crash, no leak (the association is freed every run), every
 * datagram within the MTU, events consistent with the state, CONNECTED only
 * with an expected fingerprint, errors sticky. */
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  (void)fuzz_cert(FUZZ_CERT_CLIENT); /* loads all of them, once */
  fuzz_rng_install();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_dtls_first_flight(RTCSEC_DTLS_CLIENT, data, size, NULL);
  return 0;
}
