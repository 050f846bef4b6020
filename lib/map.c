/* Open-addressing hash map: see map.h. */
#include "map.h"

#include <stdlib.h>

#include "rtcsec/error.h"

void rtcsec_map_init(rtcsec_map *m) {
  m->slots = NULL;
  m->cap = m->n = 0;
}

void rtcsec_map_free(rtcsec_map *m) {
  free(m->slots);
  rtcsec_map_init(m);
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  x ^= x >> 33;
  return x;
}

uint64_t rtcsec_map_hash(uint64_t seed, const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t h = UINT64_C(0xcbf29ce484222325) ^ mix64(seed);
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return mix64(h);
}

static void place(rtcsec_map_slot *slots, size_t cap, uint64_t hash, void *value) {
  size_t i = hash & (cap - 1);
  while (slots[i].value != NULL)
    i = (i + 1) & (cap - 1);
  slots[i].hash = hash;
  slots[i].value = value;
}

static int grow(rtcsec_map *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  if (cap < m->cap)
    return RTCSEC_ERR_NO_MEMORY;
  rtcsec_map_slot *s = calloc(cap, sizeof(*s));
  if (s == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slots[i].value != NULL)
      place(s, cap, m->slots[i].hash, m->slots[i].value);
  }
  free(m->slots);
  m->slots = s;
  m->cap = cap;
  return RTCSEC_OK;
}

int rtcsec_map_insert(rtcsec_map *m, uint64_t hash, void *value) {
  if (value == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (2 * (m->n + 1) > m->cap) {
    int rc = grow(m);
    if (rc != RTCSEC_OK)
      return rc;
  }
  place(m->slots, m->cap, hash, value);
  m->n++;
  return RTCSEC_OK;
}

void *rtcsec_map_find(const rtcsec_map *m, uint64_t hash, const void *key, rtcsec_map_eq eq) {
  if (m->cap == 0)
    return NULL;
  for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    const rtcsec_map_slot *s = &m->slots[i];
    if (s->value == NULL)
      return NULL;
    if (s->hash == hash && eq(s->value, key))
      return s->value;
  }
}

static int any_value(const void *value, const void *key) {
  (void)value;
  (void)key;
  return 1;
}

/* rtcsec_map_find() taking the first value with the hash. */
void *rtcsec_map_peek(const rtcsec_map *m, uint64_t hash) {
  return rtcsec_map_find(m, hash, NULL, any_value);
}

int rtcsec_map_remove(rtcsec_map *m, uint64_t hash, const void *value) {
  if (m->cap == 0)
    return 0;
  size_t mask = m->cap - 1, i = hash & mask;
  while (m->slots[i].value != value) {
    if (m->slots[i].value == NULL)
      return 0;
    i = (i + 1) & mask;
  }
  /* Backward shift: move up every later entry of the run that may sit in
   * the hole, so that lookups never stop at a false gap. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; m->slots[j].value != NULL; j = (j + 1) & mask) {
    size_t home = m->slots[j].hash & mask;
    /* j may move to hole unless its home lies cyclically in (hole, j] */
    int home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_after_hole) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].value = NULL;
  m->slots[hole].hash = 0;
  m->n--;
  return 1;
}
