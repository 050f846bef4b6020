/* rtcsec-dtls --listen: the ClientHello check (see client_hello.h). */
#include "client_hello.h"

#define RECORD_HEADER 13    /* type 1, version 2, epoch 2, sequence 6, length 2 */
#define HANDSHAKE_HEADER 12 /* type 1, length 3, message_seq 2, offset 3, fragment length 3 */
#define CONTENT_HANDSHAKE 22
#define HANDSHAKE_CLIENT_HELLO 1

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

static uint32_t rd24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }

/* DTLS 1.0 {254, 255} or DTLS 1.2 {254, 253} (RFC 6347 §4.1). */
static int dtls_version(uint32_t v) { return v == 0xfeffu || v == 0xfefdu; }

client_hello_verdict client_hello_check(const uint8_t *data, size_t len) {
  /* Both headers and client_version, or there is nothing to judge. */
  if (data == NULL || len < RECORD_HEADER + HANDSHAKE_HEADER + 2)
    return CLIENT_HELLO_SHORT;
  if (data[0] != CONTENT_HANDSHAKE)
    return CLIENT_HELLO_NOT_HANDSHAKE;
  if (!dtls_version(rd16(data + 1)))
    return CLIENT_HELLO_BAD_RECORD_VERSION;
  if (rd16(data + 3) != 0)
    return CLIENT_HELLO_BAD_EPOCH;
  size_t record_len = rd16(data + 11);
  if (record_len > len - RECORD_HEADER || record_len < HANDSHAKE_HEADER + 2)
    return CLIENT_HELLO_BAD_RECORD_LENGTH;
  const uint8_t *hs = data + RECORD_HEADER;
  if (hs[0] != HANDSHAKE_CLIENT_HELLO)
    return CLIENT_HELLO_NOT_CLIENT_HELLO;
  uint32_t msg_len = rd24(hs + 1);
  uint32_t frag_off = rd24(hs + 6);
  uint32_t frag_len = rd24(hs + 9);
  /* The first fragment (the peer is taken from the start of the message),
   * inside its record and inside the message (RFC 6347 §4.2.3). */
  if (frag_off != 0 || frag_len > record_len - HANDSHAKE_HEADER || frag_len > msg_len ||
      frag_len < 2)
    return CLIENT_HELLO_BAD_FRAGMENT;
  if (msg_len < CLIENT_HELLO_MIN_BODY)
    return CLIENT_HELLO_BAD_LENGTH;
  if (!dtls_version(rd16(hs + HANDSHAKE_HEADER)))
    return CLIENT_HELLO_BAD_CLIENT_VERSION;
  return CLIENT_HELLO_OK;
}

const char *client_hello_verdict_name(client_hello_verdict v) {
  switch (v) {
  case CLIENT_HELLO_OK:
    return "ok";
  case CLIENT_HELLO_SHORT:
    return "short";
  case CLIENT_HELLO_NOT_HANDSHAKE:
    return "not a handshake record";
  case CLIENT_HELLO_BAD_RECORD_VERSION:
    return "bad record version";
  case CLIENT_HELLO_BAD_EPOCH:
    return "epoch not 0";
  case CLIENT_HELLO_BAD_RECORD_LENGTH:
    return "bad record length";
  case CLIENT_HELLO_NOT_CLIENT_HELLO:
    return "not a ClientHello";
  case CLIENT_HELLO_BAD_FRAGMENT:
    return "bad fragment";
  case CLIENT_HELLO_BAD_LENGTH:
    return "message too short";
  case CLIENT_HELLO_BAD_CLIENT_VERSION:
    return "bad client_version";
  default:
    return "unknown";
  }
}
