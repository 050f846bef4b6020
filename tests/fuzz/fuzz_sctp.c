/* libFuzzer target: inbound SCTP through the data-channel layer.
 *
 * The input is a list of SCTP packets (and timer and "act" marks) for one
 * association, the DTLS server side, as DTLS would hand them over: see
 * fuzz_sctp_common.h for the format and the victim. Seeds
 * (tests/fuzz/corpus/sctp, written by gen_corpus) are recorded from real
 * exchanges with a second association and replay exactly: the handshake,
 * DCEP opens and acks, string / binary / empty / large / partial-PPID
 * messages, unknown PPIDs, stream resets, shutdown.
 *
 * Checked besides "no crash, no leak, no out-of-bounds access": nothing is
 * reported after CLOSED or FAILED; CONNECTED at most once; CHANNEL_OPEN
 * only for an id not already open, with UTF-8 label and protocol; messages
 * only on open channels and never over the victim's max-message-size; every
 * packet it sends fits the packet size limit; the channel count stays
 * within its limit; every call returns one of its documented codes. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_sctp_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_sctp_run(data, size, NULL);
  return 0;
}
