/* Binary min-heap of embedded nodes: see heap.h. */
#include "heap.h"

#include <stdlib.h>

#include "rtcsec/error.h"

void rtcsec_heap_init(rtcsec_heap *h) {
  h->nodes = NULL;
  h->n = h->cap = 0;
}

void rtcsec_heap_free(rtcsec_heap *h) {
  for (size_t i = 0; i < h->n; i++)
    h->nodes[i]->index = SIZE_MAX;
  free(h->nodes);
  rtcsec_heap_init(h);
}

static void place(rtcsec_heap *h, size_t i, rtcsec_heap_node *node) {
  h->nodes[i] = node;
  node->index = i;
}

static void sift_up(rtcsec_heap *h, size_t i) {
  rtcsec_heap_node *node = h->nodes[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (h->nodes[parent]->key <= node->key)
      break;
    place(h, i, h->nodes[parent]);
    i = parent;
  }
  place(h, i, node);
}

static void sift_down(rtcsec_heap *h, size_t i) {
  rtcsec_heap_node *node = h->nodes[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && h->nodes[c + 1]->key < h->nodes[c]->key)
      c++;
    if (node->key <= h->nodes[c]->key)
      break;
    place(h, i, h->nodes[c]);
    i = c;
  }
  place(h, i, node);
}

int rtcsec_heap_push(rtcsec_heap *h, rtcsec_heap_node *node) {
  if (node->index < h->n && h->nodes[node->index] == node)
    return RTCSEC_ERR_INVALID_STATE;
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    rtcsec_heap_node **n = realloc(h->nodes, cap * sizeof(*n));
    if (n == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    h->nodes = n;
    h->cap = cap;
  }
  place(h, h->n++, node);
  sift_up(h, node->index);
  return RTCSEC_OK;
}

void rtcsec_heap_remove(rtcsec_heap *h, rtcsec_heap_node *node) {
  size_t i = node->index;
  if (i >= h->n || h->nodes[i] != node)
    return;
  rtcsec_heap_node *last = h->nodes[--h->n];
  node->index = SIZE_MAX;
  if (last != node) {
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->index);
  }
}

void rtcsec_heap_update(rtcsec_heap *h, rtcsec_heap_node *node, uint64_t key) {
  size_t i = node->index;
  node->key = key;
  if (i >= h->n || h->nodes[i] != node)
    return;
  sift_up(h, i);
  sift_down(h, node->index);
}
