#include "fuzz_net.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

dgram *q_at(queue *q, size_t i) { return &q->items[(q->head + i) % QCAP]; }

void q_push(queue *q, const uint8_t *p, size_t n) {
  if (q->count == QCAP)
    return;
  uint8_t *copy = malloc(n ? n : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, p, n);
  *q_at(q, q->count) = (dgram){copy, n};
  q->count++;
}

int q_pop(queue *q, dgram *out) {
  if (q->count == 0)
    return 0;
  *out = *q_at(q, 0);
  q->head = (q->head + 1) % QCAP;
  q->count--;
  return 1;
}

void q_clear(queue *q) {
  dgram g;
  while (q_pop(q, &g))
    free(g.p);
}

unsigned fuzz_take(const uint8_t **in, size_t *left, unsigned bytes) {
  unsigned v = 0;
  for (unsigned i = 0; i < bytes; i++) {
    v <<= 8;
    if (*left > 0) {
      v |= **in;
      (*in)++;
      (*left)--;
    }
  }
  return v;
}

size_t make_payload(int from, uint32_t seq, size_t len, uint8_t *out) {
  if (len < 5)
    len = 5;
  out[0] = (uint8_t)('c' + from);
  out[1] = (uint8_t)(seq >> 16);
  out[2] = (uint8_t)(seq >> 8);
  out[3] = (uint8_t)seq;
  for (size_t i = 4; i < len; i++)
    out[i] = (uint8_t)(seq * 31u + i);
  return len;
}

int payload_valid(int from, uint32_t sent, const uint8_t *data, size_t len) {
  if (len < 5 || len > 256 || data[0] != (uint8_t)('c' + from))
    return 0;
  uint32_t seq = ((uint32_t)data[1] << 16) | ((uint32_t)data[2] << 8) | data[3];
  uint8_t expect[256];
  return seq < sent && make_payload(from, seq, len, expect) == len &&
         memcmp(expect, data, len) == 0;
}
