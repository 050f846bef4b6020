/* Internal: a bounds-checked cursor for reading and writing TLS wire
 * formats (RFC 8446 §3: big-endian integers, length-prefixed vectors).
 *
 * Reader: every read checks the bytes left first; a failed read clears
 * `ok`, returns 0 and reads nothing, and every later read on the same
 * cursor fails too, so a parser may check `ok` once at the end of a
 * sequence of reads. Writer: the same for the capacity; a vector's length
 * prefix is written when the vector is closed. Not installed. */
#ifndef RTCSEC_WIRE_H
#define RTCSEC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "be.h"

/* Big-endian integers of the widths TLS uses (1, 2, 3, 4, 6, 8 bytes), on
 * be.h's helpers; other widths are refused by the cursors and read as 0. */
static inline int uint_width_ok(size_t n) {
  return n == 1 || n == 2 || n == 3 || n == 4 || n == 6 || n == 8;
}

static inline void put_uint(uint8_t *p, size_t n, uint64_t v) {
  switch (n) {
  case 1:
    p[0] = (uint8_t)v;
    break;
  case 2:
    rtcsec_put_be16(p, (uint16_t)v);
    break;
  case 3:
    rtcsec_put_be24(p, (uint32_t)v);
    break;
  case 4:
    rtcsec_put_be32(p, (uint32_t)v);
    break;
  case 6:
    rtcsec_put_be48(p, v);
    break;
  case 8:
    rtcsec_put_be64(p, v);
    break;
  default:
    break;
  }
}

static inline uint64_t get_uint(const uint8_t *p, size_t n) {
  switch (n) {
  case 1:
    return p[0];
  case 2:
    return rtcsec_be16(p);
  case 3:
    return rtcsec_be24(p);
  case 4:
    return rtcsec_be32(p);
  case 6:
    return rtcsec_be48(p);
  case 8:
    return rtcsec_be64(p);
  default:
    return 0;
  }
}

typedef struct rtcsec_rd {
  const uint8_t *p;
  size_t len;
  size_t off;
  int ok;
} rtcsec_rd;

static inline void rd_init(rtcsec_rd *r, const uint8_t *p, size_t len) {
  r->p = p;
  r->len = p != NULL ? len : 0;
  r->off = 0;
  r->ok = 1;
}

static inline size_t rd_left(const rtcsec_rd *r) { return r->ok ? r->len - r->off : 0; }

/* 1 if everything was read and nothing went wrong. */
static inline int rd_done(const rtcsec_rd *r) { return r->ok && r->off == r->len; }

static inline int rd_fail(rtcsec_rd *r) {
  r->ok = 0;
  return 0;
}

/* n bytes in place (no copy); *out points into the reader's buffer. */
static inline int rd_bytes(rtcsec_rd *r, size_t n, const uint8_t **out) {
  if (!r->ok || n > r->len - r->off)
    return rd_fail(r);
  *out = r->p + r->off;
  r->off += n;
  return 1;
}

static inline int rd_copy(rtcsec_rd *r, void *dst, size_t n) {
  const uint8_t *p;
  if (!rd_bytes(r, n, &p))
    return 0;
  if (n > 0)
    memcpy(dst, p, n);
  return 1;
}

/* An unsigned big-endian integer of n bytes (1, 2, 3, 4, 6 or 8). */
static inline int rd_uint(rtcsec_rd *r, size_t n, uint64_t *v) {
  const uint8_t *p;
  if (!uint_width_ok(n) || !rd_bytes(r, n, &p))
    return rd_fail(r);
  *v = get_uint(p, n);
  return 1;
}

static inline int rd_u8(rtcsec_rd *r, uint8_t *v) {
  uint64_t x;
  if (!rd_uint(r, 1, &x))
    return 0;
  *v = (uint8_t)x;
  return 1;
}

static inline int rd_u16(rtcsec_rd *r, uint16_t *v) {
  uint64_t x;
  if (!rd_uint(r, 2, &x))
    return 0;
  *v = (uint16_t)x;
  return 1;
}

static inline int rd_u24(rtcsec_rd *r, uint32_t *v) {
  uint64_t x;
  if (!rd_uint(r, 3, &x))
    return 0;
  *v = (uint32_t)x;
  return 1;
}

/* A vector with an n-byte length prefix (n = 1, 2 or 3): *sub reads its
 * contents; the outer reader moves past it. */
static inline int rd_vec(rtcsec_rd *r, size_t n, rtcsec_rd *sub) {
  uint64_t l;
  const uint8_t *p;
  if (!rd_uint(r, n, &l) || !rd_bytes(r, (size_t)l, &p)) {
    rd_init(sub, NULL, 0);
    sub->ok = 0;
    return rd_fail(r);
  }
  rd_init(sub, p, (size_t)l);
  return 1;
}

typedef struct rtcsec_wr {
  uint8_t *p;
  size_t cap;
  size_t off;
  int ok;
} rtcsec_wr;

static inline void wr_init(rtcsec_wr *w, uint8_t *p, size_t cap) {
  w->p = p;
  w->cap = p != NULL ? cap : 0;
  w->off = 0;
  w->ok = 1;
}

static inline int wr_fail(rtcsec_wr *w) {
  w->ok = 0;
  return 0;
}

/* Reserves n bytes and returns where they start (NULL on overflow). */
static inline uint8_t *wr_reserve(rtcsec_wr *w, size_t n) {
  if (!w->ok || n > w->cap - w->off) {
    wr_fail(w);
    return NULL;
  }
  uint8_t *at = w->p + w->off;
  w->off += n;
  return at;
}

static inline int wr_bytes(rtcsec_wr *w, const void *src, size_t n) {
  uint8_t *at = wr_reserve(w, n);
  if (at == NULL)
    return 0;
  if (n > 0)
    memcpy(at, src, n);
  return 1;
}

static inline int wr_uint(rtcsec_wr *w, size_t n, uint64_t v) {
  if (!uint_width_ok(n))
    return wr_fail(w);
  uint8_t *at = wr_reserve(w, n);
  if (at == NULL)
    return 0;
  put_uint(at, n, v);
  return 1;
}

static inline int wr_u8(rtcsec_wr *w, uint8_t v) { return wr_uint(w, 1, v); }
static inline int wr_u16(rtcsec_wr *w, uint16_t v) { return wr_uint(w, 2, v); }
static inline int wr_u24(rtcsec_wr *w, uint32_t v) { return wr_uint(w, 3, v); }

/* Opens a vector with an n-byte length prefix; returns the position to
 * give wr_vec_close(). */
static inline size_t wr_vec_open(rtcsec_wr *w, size_t n) {
  size_t at = w->off;
  (void)wr_reserve(w, n);
  return at;
}

/* Writes the length of everything since wr_vec_open(); fails if it does not
 * fit the prefix. */
static inline int wr_vec_close(rtcsec_wr *w, size_t at, size_t n) {
  if (!w->ok)
    return 0;
  size_t len = w->off - at - n;
  if (n < 8 && len >> (8 * n) != 0)
    return wr_fail(w);
  put_uint(w->p + at, n, len);
  return 1;
}

/* Bitmaps of received / acknowledged bytes: bit i of bits. */
static inline int bit_get(const uint8_t *bits, size_t i) { return (bits[i / 8] >> (i % 8)) & 1; }
static inline void bit_set(uint8_t *bits, size_t i) { bits[i / 8] |= (uint8_t)(1u << (i % 8)); }

#endif
