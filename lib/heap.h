/* Internal: a binary min-heap of nodes embedded in the caller's objects,
 * keyed by a 64-bit value (a deadline). Each node knows its index, so an
 * object can be re-keyed or removed in O(log n) and the minimum read in
 * O(1). The single-port router keeps one for all its sessions' deadlines.
 * Not thread-safe; not installed. */
#ifndef RTCSEC_HEAP_H
#define RTCSEC_HEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rtcsec_heap_node {
  uint64_t key;
  size_t index; /* position in the heap; SIZE_MAX when not in one */
} rtcsec_heap_node;

typedef struct rtcsec_heap {
  rtcsec_heap_node **nodes;
  size_t n, cap;
} rtcsec_heap;

void rtcsec_heap_init(rtcsec_heap *h);
/* Frees the heap's array (not the nodes). */
void rtcsec_heap_free(rtcsec_heap *h);

/* Inserts node with its key. Errors: RTCSEC_ERR_NO_MEMORY (nothing
 * changed), RTCSEC_ERR_INVALID_STATE (node already in a heap). */
int rtcsec_heap_push(rtcsec_heap *h, rtcsec_heap_node *node);

/* Removes node if it is in this heap; harmless otherwise. */
void rtcsec_heap_remove(rtcsec_heap *h, rtcsec_heap_node *node);

/* Changes node's key and restores the order. */
void rtcsec_heap_update(rtcsec_heap *h, rtcsec_heap_node *node, uint64_t key);

/* The node with the smallest key, or NULL when empty. */
static inline rtcsec_heap_node *rtcsec_heap_top(const rtcsec_heap *h) {
  return h->n ? h->nodes[0] : NULL;
}

static inline size_t rtcsec_heap_size(const rtcsec_heap *h) { return h->n; }

/* The object that embeds `ptr` as its member `member`. */
#define RTCSEC_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
