#include "link.h"

#include <stdlib.h>
#include <string.h>

typedef struct flight {
  uint64_t at;
  uint64_t order; /* FIFO among equal times */
  int to;
  uint8_t *data;
  size_t len;
} flight;

struct sim_link {
  link_config cfg;
  uint64_t rng;
  flight *items;
  size_t n, cap;
  uint64_t order;
  uint64_t index[2];
  link_stats stats;
};

uint64_t test_rand_next(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

double test_rand_unit(uint64_t *state) {
  return (double)(test_rand_next(state) >> 11) / (double)(UINT64_C(1) << 53);
}

sim_link *link_new(const link_config *cfg) {
  sim_link *l = calloc(1, sizeof(*l));
  if (l == NULL)
    return NULL;
  l->cfg = *cfg;
  if (!cfg->zero_delay && cfg->delay_us == 0)
    l->cfg.delay_us = 10000;
  if (cfg->reorder_delay_us == 0)
    l->cfg.reorder_delay_us = 25000;
  l->rng = cfg->seed * 2654435761u + 1;
  return l;
}

void link_free(sim_link *l) {
  if (l == NULL)
    return;
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i].data);
  free(l->items);
  free(l);
}

static void enqueue(sim_link *l, int to, const uint8_t *data, size_t len, uint64_t at) {
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 64;
    flight *n = realloc(l->items, ncap * sizeof(*n));
    if (n == NULL)
      abort(); /* test infrastructure only */
    l->items = n;
    l->cap = ncap;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (copy == NULL)
    abort();
  memcpy(copy, data, len);
  l->items[l->n++] = (flight){at, l->order++, to, copy, len};
}

void link_send(sim_link *l, int from, const uint8_t *data, size_t len, uint64_t now) {
  uint64_t idx = l->index[from]++;
  l->stats.sent[from]++;
  if (len > l->stats.max_len)
    l->stats.max_len = len;
  /* Draw every random number for every datagram so that the pattern of one
   * impairment does not shift when another's probability changes. */
  double r_loss = test_rand_unit(&l->rng);
  double r_dup = test_rand_unit(&l->rng);
  double r_reorder = test_rand_unit(&l->rng);
  int lost = r_loss < l->cfg.loss || (l->cfg.max_len && len > l->cfg.max_len) ||
             (l->cfg.drop && l->cfg.drop(l->cfg.drop_user, from, idx, data, len));
  if (lost) {
    l->stats.lost[from]++;
    return;
  }
  uint64_t at = now + l->cfg.delay_us;
  if (r_reorder < l->cfg.reorder)
    at += l->cfg.reorder_delay_us;
  enqueue(l, 1 - from, data, len, at);
  if (r_dup < l->cfg.duplicate) {
    l->stats.duplicated[from]++;
    enqueue(l, 1 - from, data, len, at + l->cfg.delay_us / 2 + 1);
  }
}

uint64_t link_next_delivery(const sim_link *l) {
  uint64_t t = UINT64_MAX;
  for (size_t i = 0; i < l->n; i++) {
    if (l->items[i].at < t)
      t = l->items[i].at;
  }
  return t;
}

int link_pop_due(sim_link *l, uint64_t now, int *to, uint8_t **data, size_t *len) {
  size_t best = l->n;
  for (size_t i = 0; i < l->n; i++) {
    if (l->items[i].at > now)
      continue;
    if (best == l->n || l->items[i].at < l->items[best].at ||
        (l->items[i].at == l->items[best].at && l->items[i].order < l->items[best].order))
      best = i;
  }
  if (best == l->n)
    return 0;
  flight f = l->items[best];
  l->items[best] = l->items[--l->n];
  *to = f.to;
  *data = f.data;
  *len = f.len;
  l->stats.delivered[1 - f.to]++;
  return 1;
}

const link_stats *link_get_stats(const sim_link *l) { return &l->stats; }
