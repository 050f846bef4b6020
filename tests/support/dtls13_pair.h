/* DTLS 1.3 in memory: the test client (p[0]) and the server engine (p[1])
 * behind a ClientHello collector, as rtcsec_dtls will put it, over the
 * seeded link with the fake clock. Shared by the dtls13 suite and the
 * fuzz targets' corpus generator. */
#ifndef RTCSEC_TEST_DTLS13_PAIR_H
#define RTCSEC_TEST_DTLS13_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "dtls13_client.h"
#include "dtls13_server_side.h"
#include "dtls_pair.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"

typedef struct d13_opts {
  d13c_config client;
  rtcsec_dtls13_config server; /* cert, key, verify_peer are filled in */
  rtcsec_key_type key[2];
  rtcsec_cert *certs[2]; /* if set, used (a new reference) instead of new ones */
  int wrong_fp;          /* the server expects another certificate */
  int no_client_cert;
  /* The server is an rtcsec_dtls association (p[1].d) as applications get
   * it (enable_dtls13 on) instead of the bare engine; its config is taken
   * from `server` (profiles, mtu, timers). */
  int assoc;
  int assoc_late_fp; /* ... and it is given no fingerprint at creation */
  link_config link;
} d13_opts;

typedef struct d13_pair {
  rtcsec_cert *cert[2];
  rtcsec_fingerprint server_fp;
  d13c *client;
  d13s server; /* unused with opts.assoc: p[1].d is the server */
  int assoc;
  peer p[2]; /* what each side reported (peer.d and peer.cert unused) */
  sim_link *link;
  harness_endpoint ep[2];
  uint64_t now;
  size_t mtu[2];
  size_t max_seen[2];
  int bad_boundaries;
  uint64_t sends[2];
  uint8_t last[2][2048]; /* the last datagram each side sent */
  size_t last_len[2];
} d13_pair;

void d13_default_opts(d13_opts *o);
void d13_pair_init(d13_pair *pr, const d13_opts *o);
void d13_pair_free(d13_pair *pr);
/* Runs until both ends are connected, failed or closed (or `until`). */
harness_end d13_pair_run(d13_pair *pr, uint64_t until);
void d13_peer_poll_server(d13_pair *pr);
void d13_peer_poll_client(d13_pair *pr);
/* Both sides connected with the same SRTP keying material, split by role. */
void d13_assert_keys_match(const d13_pair *pr);

#endif
