/* libFuzzer target: a fresh DTLS server association (expecting the client
 * certificate of fuzz_certs.h) gets the input as datagram(s) from a client:
 * ClientHellos of every shape, fragments, records of every type, the rest of
 * a recorded handshake (the seed corpus replays a complete one, so the
 * fuzzer also reaches the connected state), close_notify, alerts.
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
  fuzz_dtls_first_flight(RTCSEC_DTLS_SERVER, data, size, NULL);
  return 0;
}
