/* libFuzzer target: the one-socket classifier (rtcsec_demux_classify).
 *
 * Invariants: the class is a pure function of the first two bytes (RFC 7983
 * §7 with RFC 9443 on the first, RFC 5761 §4 on the second), it matches a
 * model written here from the RFC ranges, nothing past `len` is read (ASan),
 * and every class has a name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 7983 §7 / RFC 9443 on the first byte; RFC 5761 §4 on the second. */
static rtcsec_packet_class model(const uint8_t *data, size_t size) {
  if (size == 0)
    return RTCSEC_PKT_UNKNOWN;
  unsigned b = data[0];
  if (b <= 3)
    return RTCSEC_PKT_STUN;
  if (b >= 16 && b <= 19)
    return RTCSEC_PKT_ZRTP;
  if (b >= 20 && b <= 63)
    return RTCSEC_PKT_DTLS;
  if (b >= 64 && b <= 79)
    return RTCSEC_PKT_TURN_CHANNEL;
  if (b >= 128 && b <= 191) {
    if (size < 2)
      return RTCSEC_PKT_UNKNOWN;
    unsigned pt = data[1] & 0x7Fu; /* marker bit off: RTCP types 192..223 show as 64..95 */
    return pt >= 64 && pt <= 95 ? RTCSEC_PKT_RTCP : RTCSEC_PKT_RTP;
  }
  return RTCSEC_PKT_UNKNOWN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rtcsec_packet_class c = rtcsec_demux_classify(data, size);
  FUZZ_CHECK(c == model(data, size));
  const char *name = rtcsec_packet_class_name(c);
  FUZZ_CHECK(name != NULL && name[0] != '\0');

  /* Pure function of the first two bytes: an exact-size copy of just them
   * (ASan catches a read past it), and the same two bytes followed by
   * different bytes, classify the same. */
  size_t head = size < 2 ? size : 2;
  uint8_t *copy = malloc(head ? head : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, data, head);
  rtcsec_packet_class c_head = rtcsec_demux_classify(head ? copy : NULL, head);
  free(copy);
  FUZZ_CHECK(c_head == c);
  if (size > 2) {
    uint8_t *other = malloc(size);
    FUZZ_CHECK(other != NULL);
    memcpy(other, data, 2);
    for (size_t i = 2; i < size; i++)
      other[i] = (uint8_t)~data[i];
    FUZZ_CHECK(rtcsec_demux_classify(other, size) == c);
    free(other);
  }
  FUZZ_CHECK(rtcsec_demux_classify(NULL, 0) == RTCSEC_PKT_UNKNOWN);
  return 0;
}
