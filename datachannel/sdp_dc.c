/* SDP for data channels (RFC 8841): the m-line, a=sctp-port and
 * a=max-message-size. The line rules are the core's (rtcsec_sdp_attr_value,
 * rtcsec_sdp_line_body in lib/sdp.c); this file only reads the values. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rtcsec/datachannel.h"
#include "rtcsec/sdp.h"

/* s[0..n) is 1..max_digits decimal digits; *out its value. */
static int decimal(const char *s, size_t n, size_t max_digits, uint64_t *out) {
  if (n == 0 || n > max_digits)
    return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10u + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 1;
}

/* Copies text out under the formatters' rules (rtcsec/sdp.h). */
static int finish(const char *text, int n, char *buf, size_t cap, size_t *len_out) {
  if (n < 0)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (len_out != NULL)
    *len_out = (size_t)n;
  if (cap < (size_t)n + 1)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  memcpy(buf, text, (size_t)n + 1);
  return RTCSEC_OK;
}

/* ---- m=application ---------------------------------------------------------- */

static const char *proto_name(rtcsec_sdp_dc_proto p) {
  switch (p) {
  case RTCSEC_SDP_DC_UDP_DTLS_SCTP:
    return "UDP/DTLS/SCTP";
  case RTCSEC_SDP_DC_TCP_DTLS_SCTP:
    return "TCP/DTLS/SCTP";
  default:
    return NULL;
  }
}

/* The next SP-separated field of [*at, end); exactly one SP between
 * fields, as RFC 8866 §9 writes them. */
static int field(const char **at, const char *end, const char **f, size_t *n) {
  const char *p = *at;
  if (p >= end)
    return 0;
  const char *sp = memchr(p, ' ', (size_t)(end - p));
  const char *stop = sp ? sp : end;
  *f = p;
  *n = (size_t)(stop - p);
  *at = sp ? sp + 1 : end;
  return *n > 0;
}

static int word_is(const char *f, size_t n, const char *w) {
  return strlen(w) == n && strncasecmp(f, w, n) == 0;
}

int rtcsec_sdp_dc_media_parse(uint16_t *port, rtcsec_sdp_dc_proto *proto, const char *s,
                              size_t len) {
  if (port == NULL || proto == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  const char *body = NULL;
  size_t body_len = 0;
  int rc = rtcsec_sdp_line_body(s, len, &body, &body_len);
  if (rc != RTCSEC_OK)
    return rc;
  /* RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
  if (body_len < 2 || body[0] != 'm' || body[1] != '=')
    return RTCSEC_ERR_PARSE;
  const char *at = body + 2, *end = body + body_len;
  const char *media, *port_s, *proto_s, *fmt;
  size_t media_n, port_n, proto_n, fmt_n;
  if (!field(&at, end, &media, &media_n) || !field(&at, end, &port_s, &port_n) ||
      !field(&at, end, &proto_s, &proto_n) || !field(&at, end, &fmt, &fmt_n))
    return RTCSEC_ERR_PARSE;
  uint64_t v;
  if (!decimal(port_s, port_n, 5, &v) || v > 65535)
    return RTCSEC_ERR_PARSE; /* includes "9/2": several ports make no sense here */
  rtcsec_sdp_dc_proto p;
  if (word_is(proto_s, proto_n, "UDP/DTLS/SCTP"))
    p = RTCSEC_SDP_DC_UDP_DTLS_SCTP;
  else if (word_is(proto_s, proto_n, "TCP/DTLS/SCTP"))
    p = RTCSEC_SDP_DC_TCP_DTLS_SCTP;
  else
    return RTCSEC_ERR_UNSUPPORTED; /* "DTLS/SCTP 5000" (pre-RFC 8841), RTP/... */
  /* RFC 8841 §4.1: the one format is "webrtc-datachannel". */
  if (!word_is(media, media_n, "application") || !word_is(fmt, fmt_n, "webrtc-datachannel"))
    return RTCSEC_ERR_UNSUPPORTED;
  if (at != end || body[body_len - 1] == ' ')
    return RTCSEC_ERR_PARSE; /* another format, or a stray blank */
  *port = (uint16_t)v;
  *proto = p;
  return RTCSEC_OK;
}

int rtcsec_sdp_dc_media_format(uint16_t port, rtcsec_sdp_dc_proto proto, char *buf, size_t cap,
                               size_t *len_out) {
  const char *name = proto_name(proto);
  if (name == NULL || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char text[80];
  int n =
      snprintf(text, sizeof(text), "m=application %u %s webrtc-datachannel", (unsigned)port, name);
  return finish(text, n, buf, cap, len_out);
}

/* ---- a=sctp-port -------------------------------------------------------------- */

int rtcsec_sdp_sctp_port_parse(uint16_t *port, const char *s, size_t len) {
  if (port == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  const char *v = NULL;
  size_t n = 0;
  int rc = rtcsec_sdp_attr_value(s, len, "sctp-port", &v, &n);
  if (rc != RTCSEC_OK)
    return rc;
  /* RFC 8841 §5.1: sctp-port-value = 1*5DIGIT; SCTP has no port 0. */
  uint64_t p;
  if (!decimal(v, n, 5, &p) || p == 0 || p > 65535)
    return RTCSEC_ERR_PARSE;
  *port = (uint16_t)p;
  return RTCSEC_OK;
}

int rtcsec_sdp_sctp_port_format(uint16_t port, char *buf, size_t cap, size_t *len_out) {
  if (port == 0 || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char text[32];
  int n = snprintf(text, sizeof(text), "sctp-port:%u", (unsigned)port);
  return finish(text, n, buf, cap, len_out);
}

/* ---- a=max-message-size -------------------------------------------------------- */

int rtcsec_sdp_max_message_size_parse(size_t *size, const char *s, size_t len) {
  if (size == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  const char *v = NULL;
  size_t n = 0;
  int rc = rtcsec_sdp_attr_value(s, len, "max-message-size", &v, &n);
  if (rc != RTCSEC_OK)
    return rc;
  /* RFC 8841 §6: max-message-size-value = 1*DIGIT. Leading zeros change
   * nothing; more digits than a uint64_t holds are "huge". */
  size_t first = 0;
  while (first + 1 < n && v[first] == '0')
    first++;
  uint64_t m = 0;
  if (n == 0)
    return RTCSEC_ERR_PARSE;
  if (n - first > 19) {
    for (size_t i = first; i < n; i++) {
      if (v[i] < '0' || v[i] > '9')
        return RTCSEC_ERR_PARSE;
    }
    *size = RTCSEC_DC_MESSAGE_SIZE_ANY;
    return RTCSEC_OK;
  }
  if (!decimal(v + first, n - first, 19, &m))
    return RTCSEC_ERR_PARSE;
  /* §6.1: 0 means any size. */
  *size = (m == 0 || m >= (uint64_t)SIZE_MAX) ? RTCSEC_DC_MESSAGE_SIZE_ANY : (size_t)m;
  return RTCSEC_OK;
}

int rtcsec_sdp_max_message_size_format(size_t size, char *buf, size_t cap, size_t *len_out) {
  if (size == 0 || (buf == NULL && cap != 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  char text[48];
  unsigned long long v = size == RTCSEC_DC_MESSAGE_SIZE_ANY ? 0ull : (unsigned long long)size;
  int n = snprintf(text, sizeof(text), "max-message-size:%llu", v);
  return finish(text, n, buf, cap, len_out);
}
