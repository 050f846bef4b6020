/* DCEP (RFC 8832) message codec and the PPIDs of RFC 8831 §8 (internal).
 *
 * The parser reads through a bounds-checked cursor and gives views into
 * the caller's buffer; it checks every length field against the bytes
 * there are, the channel type against the ones RFC 8832 §5.1 defines, and
 * the label and protocol for UTF-8 (RFC 3629) without NUL. */
#ifndef RTCSEC_DCEP_H
#define RTCSEC_DCEP_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/event.h"

/* RFC 8831 §8 / RFC 8832 §8.1: SCTP payload protocol identifiers. */
enum {
  DC_PPID_DCEP = 50,
  DC_PPID_STRING = 51,
  DC_PPID_BINARY_PARTIAL = 52, /* deprecated: received, never sent */
  DC_PPID_BINARY = 53,
  DC_PPID_STRING_PARTIAL = 54, /* deprecated: received, never sent */
  DC_PPID_STRING_EMPTY = 56,
  DC_PPID_BINARY_EMPTY = 57,
};

/* RFC 8832 §8.2.1: message types. */
enum {
  DCEP_ACK = 0x02,
  DCEP_OPEN = 0x03,
};

/* RFC 8832 §5.1: the OPEN's fixed part, before label and protocol. */
#define DCEP_OPEN_HEADER 12u
/* Largest OPEN: both 16-bit lengths at their maximum. */
#define DCEP_OPEN_MAX (DCEP_OPEN_HEADER + 2u * 65535u)

typedef struct dcep_open {
  int ordered;
  rtcsec_channel_reliability reliability;
  uint32_t reliability_param; /* 0 for reliable channels */
  uint16_t priority;
  const uint8_t *label; /* not NUL-terminated */
  uint16_t label_len;
  const uint8_t *protocol;
  uint16_t protocol_len;
} dcep_open;

typedef struct dcep_msg {
  uint8_t type; /* DCEP_OPEN or DCEP_ACK */
  dcep_open open;
} dcep_msg;

/* Parses one DCEP message (the whole SCTP message of PPID 50).
 * RTCSEC_ERR_DC_DCEP_MALFORMED: empty, unknown message type, an ACK that is
 * not exactly one byte, an OPEN shorter than its header or whose length
 * fields do not add up to its size exactly (short or long), an unknown
 * channel type, a label or protocol that is not UTF-8 or has a NUL.
 * *out is written only on success. */
int dcep_parse(const uint8_t *p, size_t len, dcep_msg *out);

/* Size of the OPEN for these lengths. */
size_t dcep_open_size(size_t label_len, size_t protocol_len);

/* Writes an OPEN; RTCSEC_ERR_BUFFER_TOO_SMALL if cap is short,
 * RTCSEC_ERR_INVALID_ARGUMENT for an unknown reliability. The text is
 * written as given (the caller checks it with dcep_text_valid()). */
int dcep_write_open(const dcep_open *o, uint8_t *buf, size_t cap, size_t *len);

/* 1 if p[0..n) is UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) without a NUL. */
int dcep_text_valid(const uint8_t *p, size_t n);

#endif
