/* DCEP (RFC 8832) codec: see dcep.h. */
#include "dcep.h"

#include <string.h>

#include "be.h"
#include "rtcsec/error.h"

/* RFC 8832 §5.1 channel types: the high bit means unordered. */
#define CHANNEL_RELIABLE 0x00u
#define CHANNEL_PARTIAL_RELIABLE_REXMIT 0x01u
#define CHANNEL_PARTIAL_RELIABLE_TIMED 0x02u
#define CHANNEL_UNORDERED_BIT 0x80u

/* ---- cursor ---------------------------------------------------------------- */

typedef struct cursor {
  const uint8_t *p;
  size_t len, pos;
} cursor;

static size_t cur_left(const cursor *c) { return c->len - c->pos; }

static int cur_u8(cursor *c, uint8_t *v) {
  if (cur_left(c) < 1)
    return 0;
  *v = c->p[c->pos++];
  return 1;
}

static int cur_u16(cursor *c, uint16_t *v) {
  if (cur_left(c) < 2)
    return 0;
  *v = rtcsec_be16(c->p + c->pos);
  c->pos += 2;
  return 1;
}

static int cur_u32(cursor *c, uint32_t *v) {
  if (cur_left(c) < 4)
    return 0;
  *v = rtcsec_be32(c->p + c->pos);
  c->pos += 4;
  return 1;
}

/* A view of the next n bytes. */
static int cur_view(cursor *c, size_t n, const uint8_t **v) {
  if (cur_left(c) < n)
    return 0;
  *v = c->p + c->pos;
  c->pos += n;
  return 1;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

int dcep_text_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t b = p[i];
    if (b == 0)
      return 0; /* labels are handed out as C strings */
    if (b < 0x80) {
      i++;
      continue;
    }
    /* RFC 3629 §4: the lead byte gives the length and the range of the
     * second byte (which excludes overlong forms, surrogates and values
     * above U+10FFFF); the others are 80..BF. */
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
      need = 1;
    else if (b == 0xE0) {
      need = 2;
      lo = 0xA0;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
      need = 2;
    else if (b == 0xED) {
      need = 2;
      hi = 0x9F;
    } else if (b == 0xF0) {
      need = 3;
      lo = 0x90;
    } else if (b >= 0xF1 && b <= 0xF3)
      need = 3;
    else if (b == 0xF4) {
      need = 3;
      hi = 0x8F;
    } else
      return 0; /* 80..C1, F5..FF never start a character */
    if (n - i - 1 < need)
      return 0;
    if (p[i + 1] < lo || p[i + 1] > hi)
      return 0;
    for (size_t k = 2; k <= need; k++) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF)
        return 0;
    }
    i += need + 1;
  }
  return 1;
}

/* ---- parse ------------------------------------------------------------------- */

static int channel_type_decode(uint8_t type, dcep_open *o) {
  o->ordered = (type & CHANNEL_UNORDERED_BIT) == 0;
  switch (type & (uint8_t)~CHANNEL_UNORDERED_BIT) {
  case CHANNEL_RELIABLE:
    o->reliability = RTCSEC_CHANNEL_RELIABLE;
    return 1;
  case CHANNEL_PARTIAL_RELIABLE_REXMIT:
    o->reliability = RTCSEC_CHANNEL_MAX_RETRANSMITS;
    return 1;
  case CHANNEL_PARTIAL_RELIABLE_TIMED:
    o->reliability = RTCSEC_CHANNEL_MAX_LIFETIME;
    return 1;
  default:
    return 0;
  }
}

static int open_parse(cursor *c, dcep_open *o) {
  /* RFC 8832 §5.1: Message Type (1, read), Channel Type (1), Priority (2),
   * Reliability Parameter (4), Label Length (2), Protocol Length (2),
   * Label, Protocol. */
  uint8_t type;
  uint32_t param;
  if (!cur_u8(c, &type) || !cur_u16(c, &o->priority) || !cur_u32(c, &param) ||
      !cur_u16(c, &o->label_len) || !cur_u16(c, &o->protocol_len))
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  if (!channel_type_decode(type, o))
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  /* RFC 8832 §5.1: for reliable channels the parameter is ignored by the
   * receiver. */
  o->reliability_param = o->reliability == RTCSEC_CHANNEL_RELIABLE ? 0 : param;
  /* The two lengths must account for every remaining byte: no more, no
   * less. */
  if (cur_left(c) != (size_t)o->label_len + o->protocol_len)
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  if (!cur_view(c, o->label_len, &o->label) || !cur_view(c, o->protocol_len, &o->protocol))
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  /* RFC 8832 §5.1: label and protocol are UTF-8 strings. */
  if (!dcep_text_valid(o->label, o->label_len) || !dcep_text_valid(o->protocol, o->protocol_len))
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  return RTCSEC_OK;
}

int dcep_parse(const uint8_t *p, size_t len, dcep_msg *out) {
  if (p == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  cursor c = {p, len, 0};
  dcep_msg m;
  memset(&m, 0, sizeof(m));
  if (!cur_u8(&c, &m.type))
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  switch (m.type) {
  case DCEP_ACK:
    /* RFC 8832 §5.2: the ACK is the message type alone. */
    if (cur_left(&c) != 0)
      return RTCSEC_ERR_DC_DCEP_MALFORMED;
    break;
  case DCEP_OPEN: {
    int rc = open_parse(&c, &m.open);
    if (rc != RTCSEC_OK)
      return rc;
    break;
  }
  default:
    return RTCSEC_ERR_DC_DCEP_MALFORMED;
  }
  *out = m;
  return RTCSEC_OK;
}

/* ---- write -------------------------------------------------------------------- */

size_t dcep_open_size(size_t label_len, size_t protocol_len) {
  return DCEP_OPEN_HEADER + label_len + protocol_len;
}

int dcep_write_open(const dcep_open *o, uint8_t *buf, size_t cap, size_t *len) {
  if (o == NULL || buf == NULL || len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  uint8_t type;
  switch (o->reliability) {
  case RTCSEC_CHANNEL_RELIABLE:
    type = CHANNEL_RELIABLE;
    break;
  case RTCSEC_CHANNEL_MAX_RETRANSMITS:
    type = CHANNEL_PARTIAL_RELIABLE_REXMIT;
    break;
  case RTCSEC_CHANNEL_MAX_LIFETIME:
    type = CHANNEL_PARTIAL_RELIABLE_TIMED;
    break;
  default:
    return RTCSEC_ERR_INVALID_ARGUMENT;
  }
  if (!o->ordered)
    type |= CHANNEL_UNORDERED_BIT;
  size_t n = dcep_open_size(o->label_len, o->protocol_len);
  if (cap < n)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  /* RFC 8832 §5.1: a reliable channel sends its parameter as 0. */
  uint32_t param = o->reliability == RTCSEC_CHANNEL_RELIABLE ? 0 : o->reliability_param;
  buf[0] = DCEP_OPEN;
  buf[1] = type;
  rtcsec_put_be16(buf + 2, o->priority);
  rtcsec_put_be32(buf + 4, param);
  rtcsec_put_be16(buf + 8, o->label_len);
  rtcsec_put_be16(buf + 10, o->protocol_len);
  if (o->label_len > 0)
    memcpy(buf + DCEP_OPEN_HEADER, o->label, o->label_len);
  if (o->protocol_len > 0)
    memcpy(buf + DCEP_OPEN_HEADER + o->label_len, o->protocol, o->protocol_len);
  *len = n;
  return RTCSEC_OK;
}
