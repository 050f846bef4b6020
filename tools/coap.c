/* CoAP messages for rtcsec-dtls (coap.h): every read is bounds-checked
 * against the datagram. */
#include "coap.h"

#include <string.h>

#define COAP_VERSION 1
#define PAYLOAD_MARKER 0xFF

/* Reads an option's delta or length nibble with its extension (RFC 7252
 * §3.1): 13 adds one byte (+13), 14 two bytes (+269), 15 is reserved. */
static int read_ext(const uint8_t *data, size_t len, size_t *off, unsigned nibble,
                    uint32_t *value) {
  if (nibble < 13) {
    *value = nibble;
    return 0;
  }
  if (nibble == 13) {
    if (len - *off < 1)
      return -1;
    *value = 13u + data[*off];
    *off += 1;
    return 0;
  }
  if (nibble == 14) {
    if (len - *off < 2)
      return -1;
    *value = 269u + ((uint32_t)data[*off] << 8 | data[*off + 1]);
    *off += 2;
    return 0;
  }
  return -1;
}

/* Appends a Uri-Path segment to out->uri_path ('/' between segments). */
static int add_segment(coap_msg *out, const uint8_t *v, size_t n) {
  size_t used = strlen(out->uri_path);
  size_t need = (used > 0 ? 1 : 0) + n;
  if (need > COAP_MAX_PATH - used)
    return -1;
  if (used > 0)
    out->uri_path[used++] = '/';
  memcpy(out->uri_path + used, v, n);
  out->uri_path[used + n] = '\0';
  return 0;
}

int coap_parse(const uint8_t *data, size_t len, coap_msg *out) {
  if (data == NULL || out == NULL)
    return -1;
  memset(out, 0, sizeof(*out));
  /* RFC 7252 §3: Ver (2) | T (2) | TKL (4), Code, Message ID. */
  if (len < 4 || data[0] >> 6 != COAP_VERSION)
    return -1;
  out->type = (uint8_t)(data[0] >> 4 & 3u);
  out->token_len = data[0] & 0x0fu;
  out->code = data[1];
  out->message_id = (uint16_t)(data[2] << 8 | data[3]);
  /* §3: token lengths 9..15 are reserved, a message format error. */
  if (out->token_len > COAP_MAX_TOKEN || len - 4 < out->token_len)
    return -1;
  memcpy(out->token, data + 4, out->token_len);
  size_t off = 4 + out->token_len;
  uint32_t number = 0;
  while (off < len) {
    uint8_t b = data[off++];
    if (b == PAYLOAD_MARKER) {
      /* §3: a marker followed by a zero-length payload is a format error. */
      if (off == len)
        return -1;
      out->payload = data + off;
      out->payload_len = len - off;
      return 0;
    }
    uint32_t delta = 0, olen = 0;
    if (read_ext(data, len, &off, b >> 4, &delta) != 0 ||
        read_ext(data, len, &off, b & 0x0fu, &olen) != 0 || olen > len - off)
      return -1;
    number += delta;
    if (number == COAP_OPT_URI_PATH && add_segment(out, data + off, olen) != 0)
      return -1;
    off += olen;
  }
  return 0;
}

/* Writes one option header (delta and length below 269) and its value. */
static size_t put_option(uint8_t *out, size_t cap, size_t off, unsigned delta, const uint8_t *v,
                         size_t n) {
  if (delta >= 269 || n >= 269)
    return 0;
  size_t hdr = 1 + (delta >= 13) + (n >= 13);
  if (off > cap || cap - off < hdr + n)
    return 0;
  unsigned dn = delta >= 13 ? 13 : delta, ln = n >= 13 ? 13 : (unsigned)n;
  out[off++] = (uint8_t)(dn << 4 | ln);
  if (delta >= 13)
    out[off++] = (uint8_t)(delta - 13);
  if (n >= 13)
    out[off++] = (uint8_t)(n - 13);
  if (n > 0)
    memcpy(out + off, v, n);
  return off + n;
}

static size_t put_header(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint16_t mid,
                         const uint8_t *token, size_t token_len) {
  if (token_len > COAP_MAX_TOKEN || cap < 4 + token_len)
    return 0;
  out[0] = (uint8_t)(COAP_VERSION << 6 | type << 4 | token_len);
  out[1] = code;
  out[2] = (uint8_t)(mid >> 8);
  out[3] = (uint8_t)mid;
  if (token_len > 0)
    memcpy(out + 4, token, token_len);
  return 4 + token_len;
}

size_t coap_build_get(uint8_t *out, size_t cap, uint16_t message_id, const uint8_t *token,
                      size_t token_len, const char *path) {
  if (out == NULL || path == NULL || (token == NULL && token_len > 0))
    return 0;
  size_t off = put_header(out, cap, COAP_CON, COAP_GET, message_id, token, token_len);
  unsigned last = 0;
  for (const char *seg = path; off > 0 && *seg != '\0';) {
    const char *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    if (n == 0 || n > COAP_MAX_PATH)
      return 0;
    off = put_option(out, cap, off, COAP_OPT_URI_PATH - last, (const uint8_t *)seg, n);
    last = COAP_OPT_URI_PATH;
    seg += n + (end ? 1 : 0);
    if (end != NULL && *seg == '\0')
      return 0; /* a trailing '/' would be an empty segment */
  }
  return off;
}

size_t coap_build_response(uint8_t *out, size_t cap, const coap_msg *req, uint8_t code,
                           const uint8_t *payload, size_t payload_len) {
  if (out == NULL || req == NULL || (payload == NULL && payload_len > 0))
    return 0;
  size_t off = put_header(out, cap, COAP_ACK, code, req->message_id, req->token, req->token_len);
  if (off > 0 && payload_len > 0) {
    /* Content-Format 0, text/plain; charset=utf-8 (§12.3): an empty uint. */
    off = put_option(out, cap, off, COAP_OPT_CONTENT_FORMAT, NULL, 0);
    if (off == 0 || cap - off < 1 + payload_len)
      return 0;
    out[off++] = PAYLOAD_MARKER;
    memcpy(out + off, payload, payload_len);
    off += payload_len;
  }
  return off;
}
