/* FIFO ring of fixed-size elements: see ring.h. */
#include "ring.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"

void rtcsec_ring_init(rtcsec_ring *r, size_t elem, size_t max) {
  memset(r, 0, sizeof(*r));
  r->elem = elem;
  r->max = max ? max : 1;
}

static int grow(rtcsec_ring *r) {
  if (r->cap >= r->max)
    return RTCSEC_ERR_LIMIT;
  size_t ncap = r->cap ? r->cap * 2 : 8;
  if (ncap > r->max || ncap < r->cap)
    ncap = r->max;
  if (ncap > SIZE_MAX / r->elem)
    return RTCSEC_ERR_NO_MEMORY;
  unsigned char *n = malloc(ncap * r->elem);
  if (n == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  /* unwrap: the oldest element goes to index 0 */
  size_t first = r->cap - r->head < r->count ? r->cap - r->head : r->count;
  if (first > 0)
    memcpy(n, r->items + r->head * r->elem, first * r->elem);
  if (r->count > first)
    memcpy(n + first * r->elem, r->items, (r->count - first) * r->elem);
  if (r->items != NULL) {
    OPENSSL_cleanse(r->items, r->cap * r->elem);
    free(r->items);
  }
  r->items = n;
  r->head = 0;
  r->cap = ncap;
  return RTCSEC_OK;
}

int rtcsec_ring_push(rtcsec_ring *r, const void *item) {
  if (r->count == r->cap) {
    int rc = grow(r);
    if (rc != RTCSEC_OK)
      return rc;
  }
  size_t tail = (r->head + r->count) % r->cap;
  memcpy(r->items + tail * r->elem, item, r->elem);
  r->count++;
  return RTCSEC_OK;
}

void *rtcsec_ring_at(const rtcsec_ring *r, size_t i) {
  if (i >= r->count)
    return NULL;
  return r->items + ((r->head + i) % r->cap) * r->elem;
}

void *rtcsec_ring_peek(const rtcsec_ring *r) { return rtcsec_ring_at(r, 0); }

int rtcsec_ring_pop(rtcsec_ring *r, void *out) {
  if (r->count == 0)
    return 0;
  unsigned char *p = r->items + r->head * r->elem;
  if (out != NULL)
    memcpy(out, p, r->elem);
  /* what left the queue may have been secret (key material in events) */
  OPENSSL_cleanse(p, r->elem);
  r->head = (r->head + 1) % r->cap;
  r->count--;
  return 1;
}

void rtcsec_ring_shrink(rtcsec_ring *r) {
  if (r->count == 0 && r->items != NULL) {
    OPENSSL_cleanse(r->items, r->cap * r->elem);
    free(r->items);
    r->items = NULL;
    r->cap = 0;
    r->head = 0;
  }
}

void rtcsec_ring_clear(rtcsec_ring *r) {
  r->count = 0;
  rtcsec_ring_shrink(r);
}
