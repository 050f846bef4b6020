/* Internal: a hash map from a caller-computed 64-bit hash (and a caller's
 * equality test) to an object pointer. Open addressing with linear probing
 * at a load of at most 1/2, deletion by backward shift (no tombstones).
 * The single-port router keeps two: local ufrag -> session and address ->
 * session. Not thread-safe; not installed.
 *
 * Keys hashed with rtcsec_map_hash() under a seed the peers cannot see
 * spread evenly even when peers choose the keys (source addresses). */
#ifndef RTCSEC_MAP_H
#define RTCSEC_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rtcsec_map_slot {
  uint64_t hash;
  void *value; /* NULL: empty */
} rtcsec_map_slot;

typedef struct rtcsec_map {
  rtcsec_map_slot *slots;
  size_t cap; /* a power of two, or 0 */
  size_t n;
} rtcsec_map;

/* Tells whether `value` is stored under `key` (1) or not (0). */
typedef int (*rtcsec_map_eq)(const void *value, const void *key);

void rtcsec_map_init(rtcsec_map *m);
void rtcsec_map_free(rtcsec_map *m);

/* Seeded hash of len bytes (FNV-1a from a seed-dependent basis, finished
 * with a 64-bit mixer). */
uint64_t rtcsec_map_hash(uint64_t seed, const void *data, size_t len);

/* Stores value (not NULL) under hash; the same value may not be stored
 * twice. Errors: RTCSEC_ERR_NO_MEMORY (nothing changed). */
int rtcsec_map_insert(rtcsec_map *m, uint64_t hash, void *value);

/* The value stored under hash for which eq(value, key), or NULL. */
void *rtcsec_map_find(const rtcsec_map *m, uint64_t hash, const void *key, rtcsec_map_eq eq);

/* For a batch of lookups (rtcsec_router_prefetch()): starts loading the
 * slot where hash is looked for. */
static inline void rtcsec_map_prefetch(const rtcsec_map *m, uint64_t hash) {
  if (m->cap != 0)
    __builtin_prefetch(&m->slots[hash & (m->cap - 1)]);
}

/* The first value stored under hash, without the caller's equality test:
 * only a guess (another key with the same 64-bit hash would give its
 * value), for hints that read what the value points to; NULL if none. */
void *rtcsec_map_peek(const rtcsec_map *m, uint64_t hash);

/* Removes value, stored under hash. Returns 1, or 0 if it was not there. */
int rtcsec_map_remove(rtcsec_map *m, uint64_t hash, const void *value);

static inline size_t rtcsec_map_size(const rtcsec_map *m) { return m->n; }

#endif
