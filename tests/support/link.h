/* A seeded in-memory datagram link between two endpoints (0 and 1) that
 * drops, duplicates, reorders and delays, deterministically from its seed. */
#ifndef RTCSEC_TEST_LINK_H
#define RTCSEC_TEST_LINK_H

#include <stddef.h>
#include <stdint.h>

typedef struct link_config {
  uint64_t seed;
  double loss;               /* probability a datagram is lost */
  double duplicate;          /* probability it arrives twice */
  double reorder;            /* probability it is held back (arrives late) */
  uint64_t delay_us;         /* one-way delay; default 10 ms when 0 and !zero_delay */
  uint64_t reorder_delay_us; /* extra delay of a held-back datagram; default 25 ms */
  size_t max_len;            /* longer datagrams are lost (MTU clamp); 0 = none */
  int zero_delay;            /* deliver at the send time */
  /* Optional: return 1 to lose datagram number `index` (counted per sender
   * from 0) on top of the random loss. */
  int (*drop)(void *user, int from, uint64_t index, const uint8_t *data, size_t len);
  void *drop_user;
} link_config;

typedef struct link_stats {
  uint64_t sent[2];
  uint64_t lost[2];
  uint64_t duplicated[2];
  uint64_t delivered[2]; /* by sender */
  size_t max_len;
} link_stats;

typedef struct sim_link sim_link;

sim_link *link_new(const link_config *cfg);
void link_free(sim_link *l);
void link_send(sim_link *l, int from, const uint8_t *data, size_t len, uint64_t now);
/* Earliest delivery time in flight, UINT64_MAX if none. */
uint64_t link_next_delivery(const sim_link *l);
/* Takes one datagram due at `now`: returns 1 and sets *to, *data (malloc'd,
 * caller frees), *len; 0 if none is due. */
int link_pop_due(sim_link *l, uint64_t now, int *to, uint8_t **data, size_t *len);
const link_stats *link_get_stats(const sim_link *l);

/* Deterministic PRNG (splitmix64) shared by the tests. */
uint64_t test_rand_next(uint64_t *state);
double test_rand_unit(uint64_t *state);

#endif
