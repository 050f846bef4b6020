/* The few bytes of CoAP (RFC 7252) that rtcsec-dtls speaks as a device or
 * as a server over DTLS (--coap-get, --coap-reply): a confirmable GET with
 * Uri-Path options, and a piggybacked response to it. Not a CoAP stack: no
 * observe, blocks, proxying or deduplication beyond the message ID.
 *
 * Pure functions over caller buffers; any thread. */
#ifndef RTCSEC_TOOLS_COAP_H
#define RTCSEC_TOOLS_COAP_H

#include <stddef.h>
#include <stdint.h>

/* RFC 7252 §3: message types. */
#define COAP_CON 0
#define COAP_NON 1
#define COAP_ACK 2
#define COAP_RST 3
/* RFC 7252 §12.1: codes as class << 5 | detail. */
#define COAP_GET 0x01
#define COAP_CONTENT 0x45   /* 2.05 */
#define COAP_NOT_FOUND 0x84 /* 4.04 */
/* RFC 7252 §5.10: option numbers used here. */
#define COAP_OPT_URI_PATH 11
#define COAP_OPT_CONTENT_FORMAT 12
#define COAP_MAX_TOKEN 8
#define COAP_MAX_PATH 255 /* each Uri-Path segment is at most 255 bytes (§5.10) */

typedef struct coap_msg {
  uint8_t type;
  uint8_t code;
  uint16_t message_id;
  uint8_t token[COAP_MAX_TOKEN];
  size_t token_len;
  /* Uri-Path options joined with '/', NUL-terminated (truncated paths are
   * malformed: longer than COAP_MAX_PATH in all). */
  char uri_path[COAP_MAX_PATH + 1];
  const uint8_t *payload; /* into the parsed buffer; NULL if none */
  size_t payload_len;
} coap_msg;

/* Parses one CoAP message (RFC 7252 §3): version 1, token length 0..8, the
 * options in order with their 13/14 extended delta and length forms (15 is
 * reserved: malformed), the payload after a 0xFF marker (a marker with no
 * payload is malformed, §3). Returns 0, or -1 if malformed. */
int coap_parse(const uint8_t *data, size_t len, coap_msg *out);

/* A confirmable GET for path ("a/b": one Uri-Path option per segment; ""
 * for the root). Returns the length written, or 0 if it does not fit cap,
 * the token is longer than 8 bytes, or a segment is empty or too long. */
size_t coap_build_get(uint8_t *out, size_t cap, uint16_t message_id, const uint8_t *token,
                      size_t token_len, const char *path);

/* The piggybacked response to a confirmable request (RFC 7252 §5.2.1): an
 * ACK with the request's message ID and token, `code`, Content-Format
 * text/plain (0) when there is a payload. Returns the length, or 0 if it
 * does not fit. */
size_t coap_build_response(uint8_t *out, size_t cap, const coap_msg *req, uint8_t code,
                           const uint8_t *payload, size_t payload_len);

#endif
