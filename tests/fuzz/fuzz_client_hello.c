/* libFuzzer target: the ClientHello check of rtcsec-dtls --listen
 * (tools/client_hello.c), which decides who may become the listener's peer.
 *
 * Invariants: nothing past `size` is read (ASan: the check runs on an
 * exact-size copy); the verdict has a name; an accepted datagram has every
 * property client_hello.h promises, re-derived here from the bytes; and
 * only the first record counts: an accepted datagram cut to its first
 * record, or with bytes appended, is still accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_hello.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be(const uint8_t *p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static client_hello_verdict check_copy(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, data, size);
  client_hello_verdict v = client_hello_check(size ? copy : NULL, size);
  free(copy);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  client_hello_verdict v = check_copy(data, size);
  const char *name = client_hello_verdict_name(v);
  FUZZ_CHECK(name != NULL && name[0] != '\0' && strcmp(name, "unknown") != 0);
  if (v != CLIENT_HELLO_OK)
    return 0;
  FUZZ_CHECK(size >= 27);
  uint32_t version = be(data + 1, 2), record_len = be(data + 11, 2);
  FUZZ_CHECK(data[0] == 22);
  FUZZ_CHECK(version == 0xfeff || version == 0xfefd);
  FUZZ_CHECK(be(data + 3, 2) == 0);
  FUZZ_CHECK(13 + (size_t)record_len <= size);
  FUZZ_CHECK(data[13] == 1);
  uint32_t msg_len = be(data + 14, 3), frag_off = be(data + 19, 3), frag_len = be(data + 22, 3);
  FUZZ_CHECK(frag_off == 0 && frag_len >= 2 && frag_len <= msg_len);
  FUZZ_CHECK(12 + frag_len <= record_len);
  FUZZ_CHECK(msg_len >= CLIENT_HELLO_MIN_BODY);
  uint32_t client_version = be(data + 25, 2);
  FUZZ_CHECK(client_version == 0xfeff || client_version == 0xfefd);
  FUZZ_CHECK(check_copy(data, 13 + (size_t)record_len) == CLIENT_HELLO_OK);
  uint8_t *longer = malloc(size + 16);
  FUZZ_CHECK(longer != NULL);
  memcpy(longer, data, size);
  memset(longer + size, 0xA5, 16);
  FUZZ_CHECK(client_hello_check(longer, size + 16) == CLIENT_HELLO_OK);
  free(longer);
  return 0;
}
