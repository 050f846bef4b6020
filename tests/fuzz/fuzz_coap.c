/* libFuzzer target: the CoAP parser of rtcsec-dtls --coap-get / --coap-reply
 * (tools/coap.c), which reads what a DTLS peer sends. Any bytes: no crash,
 * no read outside the input; a parsed message's payload lies inside it and
 * its path is a bounded C string; the piggybacked response to it parses
 * back with the same message ID, token and payload. */
#include <stdint.h>
#include <string.h>

#include "coap.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  coap_msg m;
  if (coap_parse(data, size, &m) != 0)
    return 0;
  FUZZ_CHECK(size >= 4 && m.token_len <= COAP_MAX_TOKEN && m.type <= 3);
  FUZZ_CHECK(strlen(m.uri_path) <= COAP_MAX_PATH);
  if (m.payload != NULL)
    FUZZ_CHECK(m.payload > data && m.payload + m.payload_len == data + size && m.payload_len > 0);
  uint8_t out[1024];
  static const uint8_t text[] = "21.5 C";
  size_t n = coap_build_response(out, sizeof(out), &m, COAP_CONTENT, text, sizeof(text) - 1);
  FUZZ_CHECK(n > 0);
  coap_msg r;
  FUZZ_CHECK(coap_parse(out, n, &r) == 0);
  FUZZ_CHECK(r.type == COAP_ACK && r.code == COAP_CONTENT && r.message_id == m.message_id);
  FUZZ_CHECK(r.token_len == m.token_len && memcmp(r.token, m.token, m.token_len) == 0);
  FUZZ_CHECK(r.payload_len == sizeof(text) - 1 && memcmp(r.payload, text, r.payload_len) == 0);
  return 0;
}
