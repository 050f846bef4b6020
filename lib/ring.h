/* Internal: a FIFO ring of fixed-size elements that grows by doubling up to
 * a bound. Used by every queue in rtcsec (DTLS events and datagrams, the
 * router's outputs and events). Not thread-safe; not installed.
 *
 * Elements are copied in and out by value. An empty ring may hold no
 * memory at all (rtcsec_ring_shrink()), so thousands of idle objects cost
 * nothing. */
#ifndef RTCSEC_RING_H
#define RTCSEC_RING_H

#include <stddef.h>

typedef struct rtcsec_ring {
  unsigned char *items;
  size_t elem;  /* element size in bytes */
  size_t head;  /* index of the oldest element */
  size_t count; /* elements held */
  size_t cap;   /* elements room is allocated for */
  size_t max;   /* the bound: pushes past it fail with RTCSEC_ERR_LIMIT */
} rtcsec_ring;

/* An empty ring of elem-byte elements holding at most max (max >= 1). */
void rtcsec_ring_init(rtcsec_ring *r, size_t elem, size_t max);

/* Copies *item in at the tail. Errors: RTCSEC_ERR_LIMIT (max reached,
 * nothing changed), RTCSEC_ERR_NO_MEMORY (growing failed, nothing
 * changed). */
int rtcsec_ring_push(rtcsec_ring *r, const void *item);

/* The oldest element, or NULL when empty; valid until the next push/pop. */
void *rtcsec_ring_peek(const rtcsec_ring *r);

/* The i-th oldest element (0 = the head), or NULL if i >= count. */
void *rtcsec_ring_at(const rtcsec_ring *r, size_t i);

/* Copies the oldest element to *out (if out is not NULL) and removes it.
 * Returns 1, or 0 when empty. */
int rtcsec_ring_pop(rtcsec_ring *r, void *out);

static inline size_t rtcsec_ring_count(const rtcsec_ring *r) { return r->count; }

/* Frees the storage if the ring is empty (the next push allocates again). */
void rtcsec_ring_shrink(rtcsec_ring *r);

/* Wipes (OPENSSL_cleanse) and frees the storage; the ring is empty and
 * reusable. Elements that own memory must be released by the caller first. */
void rtcsec_ring_clear(rtcsec_ring *r);

#endif
