/* Two rtcsec_dtls associations (p[0] client, p[1] server) over the seeded
 * link with the fake clock, and what each reported. Shared by the dtls and
 * impairment suites. */
#ifndef RTCSEC_TEST_DTLS_PAIR_H
#define RTCSEC_TEST_DTLS_PAIR_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "rtcsec/rtcsec.h"

#define MS 1000u
#define SEC 1000000u

typedef struct peer {
  rtcsec_cert *cert;
  rtcsec_dtls *d;
  int connected, failed, closed, n_events;
  int error, alert, alert_from_peer;
  rtcsec_connected_info info; /* the CONNECTED payload */
  rtcsec_srtp_keys keys;      /* exported at CONNECTED (rtcsec_dtls_export_srtp_keys) */
  uint64_t connected_at;
  uint8_t data[2048];
  size_t data_len;
  int n_data;
} peer;

typedef struct pair {
  peer p[2]; /* p[0] is the client, p[1] the server */
  sim_link *link;
  harness_endpoint ep[2];
  uint64_t now;
  size_t mtu;
  size_t max_seen;
  int bad_boundaries;
  uint64_t sends[2];
  uint64_t send_times[64];
  size_t n_send_times;
} pair;

typedef struct pair_opts {
  rtcsec_key_type key[2];
  rtcsec_cert *certs[2]; /* if set, used (with a new reference) instead of new ones */
  const rtcsec_srtp_profile *profiles[2];
  size_t n_profiles[2];
  int fp_known[2]; /* p[i] knows the other's fingerprint at creation */
  int fp_wrong[2]; /* ... but a wrong one */
  size_t mtu;
  uint64_t handshake_timeout_us;
  link_config link;
  /* Optional: last word on p[i]'s config before rtcsec_dtls_new(), which
   * must then succeed (plain DTLS, pre-shared keys, ciphers, CA). */
  void (*configure)(void *user, int i, rtcsec_dtls_config *cfg);
  void *configure_user;
} pair_opts;

/* Counts one event into p (CONNECTED, FAILED, CLOSED, DATA). */
void peer_take_event(peer *p, const rtcsec_event *ev, uint64_t now);
void peer_poll(peer *p, uint64_t now);
int peer_done(const peer *p);
void default_opts(pair_opts *o);
rtcsec_cert *make_cert(rtcsec_key_type kt);
rtcsec_fingerprint fp_of(rtcsec_cert *c, rtcsec_hash h);
/* The fingerprint of a fresh, unrelated certificate. */
rtcsec_fingerprint wrong_fp(void);
void pair_init(pair *pr, const pair_opts *o);
void pair_free(pair *pr);
/* Checks each datagram: MTU, whole records; records send times of p[0]. */
void on_send(void *user, int from, const uint8_t *data, size_t len);
/* Polls both; stops when both are connected, failed or closed. */
int step_until_done(void *user, uint64_t now);
harness_end pair_run(pair *pr, uint64_t until);
void pair_start(pair *pr);
/* Step hook that polls both and never stops the run. */
int step_quiet(void *user, uint64_t now);
/* Runs the pair 5 s further (data, close_notify, retransmissions). */
void pair_settle(pair *pr);
void assert_keys_match(const pair *pr);
/* A client's and a server's SRTP keys: the same material, split by role. */
void assert_srtp_keys_match(const rtcsec_srtp_keys *client, const rtcsec_srtp_keys *server);

#endif
