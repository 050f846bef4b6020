/* Impairment suite (issue 7): handshakes under seeded loss, reordering and
 * duplication with the fake clock; every datagram dropped in turn; every
 * flight delivered in every order; every order of fingerprint arrival.
 * Each failure prints its seed or case so it replays exactly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls_pair.h"
#include "fakeclock.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"

/* ---- loss sweeps ------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct sweep {
  unsigned runs, connected, one_sided, timeouts, other_end;
  uint64_t p50, p90, p99, max; /* protocol time to connected (both), µs */
} sweep;

/* 1000 seeded handshakes at `loss` with 10 % reordering and 5 % duplication.
 * Every run must end by itself (both sides connected or failed). */
static sweep loss_sweep(double loss, unsigned seeds) {
  sweep sw = {0};
  uint64_t *times = calloc(seeds, sizeof(*times));
  ck_assert_ptr_nonnull(times);
  for (unsigned seed = 1; seed <= seeds; seed++) {
    pair_opts o;
    default_opts(&o);
    o.link.seed = seed;
    o.link.loss = loss;
    o.link.reorder = 0.1;
    o.link.duplicate = 0.05;
    pair pr;
    pair_init(&pr, &o);
    pair_start(&pr);
    harness_end end = pair_run(&pr, 120 * SEC);
    ck_assert_msg(end == HARNESS_STOPPED, "loss %.0f%% seed %u: did not end by itself (%d)",
                  loss * 100, seed, end);
    sw.runs++;
    if (pr.p[0].connected && pr.p[1].connected) {
      sw.connected++;
      assert_keys_match(&pr);
      times[sw.connected - 1] =
          pr.p[0].connected_at > pr.p[1].connected_at ? pr.p[0].connected_at : pr.p[1].connected_at;
    } else {
      if (pr.p[0].connected || pr.p[1].connected)
        sw.one_sided++;
      for (int i = 0; i < 2; i++) {
        if (pr.p[i].failed && pr.p[i].error == RTCSEC_ERR_HANDSHAKE_TIMEOUT)
          sw.timeouts++;
        else if (pr.p[i].failed)
          sw.other_end++;
      }
      if (loss <= 0.30)
        fprintf(stderr, "loss %.0f%% seed %u: client %s (%d), server %s (%d) at %.3f s\n",
                loss * 100, seed, rtcsec_dtls_state_name(rtcsec_dtls_get_state(pr.p[0].d)),
                pr.p[0].error, rtcsec_dtls_state_name(rtcsec_dtls_get_state(pr.p[1].d)),
                pr.p[1].error, pr.now / 1e6);
    }
    ck_assert_msg(pr.bad_boundaries == 0, "seed %u: a record spans datagrams", seed);
    pair_free(&pr);
  }
  if (sw.connected > 0) {
    qsort(times, sw.connected, sizeof(*times), cmp_u64);
    sw.p50 = times[sw.connected / 2];
    sw.p90 = times[sw.connected * 9 / 10];
    sw.p99 = times[sw.connected * 99 / 100];
    sw.max = times[sw.connected - 1];
  }
  free(times);
  printf("loss %2.0f%% (+10%% reorder, 5%% dup): %4u/%u connected, %u one-sided, %u side "
         "timeouts, %u other failures; time to connected p50 %.3f s p90 %.3f s p99 %.3f s "
         "max %.3f s\n",
         loss * 100, sw.connected, sw.runs, sw.one_sided, sw.timeouts, sw.other_end, sw.p50 / 1e6,
         sw.p90 / 1e6, sw.p99 / 1e6, sw.max / 1e6);
  fflush(stdout);
  return sw;
}

START_TEST(all_1000_seeds_connect_without_loss) {
  sweep sw = loss_sweep(0.0, 1000);
  ck_assert_uint_eq(sw.connected, 1000);
}
END_TEST

START_TEST(all_1000_seeds_connect_at_10_percent_loss) {
  sweep sw = loss_sweep(0.10, 1000);
  ck_assert_uint_eq(sw.connected, 1000);
}
END_TEST

START_TEST(all_1000_seeds_connect_at_20_percent_loss) {
  sweep sw = loss_sweep(0.20, 1000);
  ck_assert_uint_eq(sw.connected, 1000);
}
END_TEST

START_TEST(at_least_995_of_1000_seeds_connect_at_30_percent_loss) {
  sweep sw = loss_sweep(0.30, 1000);
  ck_assert_uint_ge(sw.connected, 995);
}
END_TEST

START_TEST(every_run_ends_cleanly_at_40_and_50_percent_loss) {
  /* Success or a clean handshake timeout; loss_sweep already asserts that
   * each run ended by itself, and sanitizers check for leaks. */
  sweep sw = loss_sweep(_i == 0 ? 0.40 : 0.50, 1000);
  ck_assert_uint_eq(sw.other_end, 0);
  ck_assert_uint_gt(sw.connected, 500);
}
END_TEST

/* ---- every single datagram lost ------------------------------------------------ */

typedef struct drop_one {
  uint64_t target; /* global index (both directions) of the datagram to lose */
  uint64_t seen;
} drop_one;

static int drop_kth(void *user, int from, uint64_t idx, const uint8_t *d, size_t n) {
  (void)from;
  (void)idx;
  (void)d;
  (void)n;
  drop_one *k = user;
  return k->seen++ == k->target;
}

START_TEST(losing_any_one_datagram_of_the_handshake_still_connects) {
  /* _i: 0 ECDSA at MTU 1200, 1 RSA at MTU 576 (more datagrams per flight) */
  pair_opts o;
  default_opts(&o);
  if (_i == 1) {
    o.key[0] = o.key[1] = RTCSEC_KEY_RSA_2048;
    o.mtu = 576;
  }
  /* count the datagrams of a clean handshake */
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  uint64_t total = pr.sends[0] + pr.sends[1];
  pair_free(&pr);
  ck_assert_uint_ge(total, 4);
  for (uint64_t k = 0; k < total; k++) {
    drop_one d = {k, 0};
    o.link.drop = drop_kth;
    o.link.drop_user = &d;
    pair_init(&pr, &o);
    pair_start(&pr);
    ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
    ck_assert_msg(pr.p[0].connected && pr.p[1].connected,
                  "dropping datagram %llu of %llu: client %d server %d", (unsigned long long)k,
                  (unsigned long long)total, pr.p[0].connected, pr.p[1].connected);
    assert_keys_match(&pr);
    pair_free(&pr);
  }
  printf("lost each of the %llu handshake datagrams in turn (%s): all connected\n",
         (unsigned long long)total, _i ? "RSA, MTU 576" : "ECDSA, MTU 1200");
}
END_TEST

START_TEST(every_datagram_duplicated_still_connects) {
  pair_opts o;
  default_opts(&o);
  o.link.duplicate = 1.0;
  pair pr;
  pair_init(&pr, &o);
  pair_start(&pr);
  ck_assert_int_eq(pair_run(&pr, 10 * SEC), HARNESS_STOPPED);
  ck_assert_int_eq(pr.p[0].connected, 1);
  ck_assert_int_eq(pr.p[1].connected, 1);
  assert_keys_match(&pr);
  pair_free(&pr);
}
END_TEST

/* ---- every flight in every order ------------------------------------------------- */

#define MAX_FLIGHT 8

typedef struct flight_buf {
  uint8_t data[MAX_FLIGHT][1600];
  size_t len[MAX_FLIGHT];
  size_t n;
} flight_buf;

static void collect(rtcsec_dtls *d, flight_buf *f) {
  f->n = 0;
  for (;;) {
    size_t n = 0;
    ck_assert_uint_lt(f->n, MAX_FLIGHT);
    ck_assert_int_eq(rtcsec_dtls_poll_datagram(d, f->data[f->n], sizeof(f->data[0]), &n), 0);
    if (n == 0)
      return;
    f->len[f->n++] = n;
  }
}

/* Runs a handshake at MTU 300 flight by flight, with no clock movement, and
 * delivers flight number `which` (0 ClientHello, 1 server's first flight,
 * 2 client's second, 3 server's last) in the order perm[]. Returns the
 * flight sizes in sizes[], the retransmissions needed, and whether both
 * connected. */
static rtcsec_cert *flight_certs[2];

static int run_flights(int which, const size_t *perm, size_t sizes[4], size_t *n_flights,
                       uint64_t *retrans) {
  pair_opts o;
  default_opts(&o);
  o.mtu = 300;
  o.certs[0] = flight_certs[0];
  o.certs[1] = flight_certs[1];
  pair pr;
  pair_init(&pr, &o);
  fakeclock_set(0);
  ck_assert_int_eq(rtcsec_dtls_start(pr.p[1].d, 0), 0);
  ck_assert_int_eq(rtcsec_dtls_start(pr.p[0].d, 0), 0);
  static flight_buf f;
  int from = 0;
  size_t flight = 0;
  while (flight < 6) {
    collect(pr.p[from].d, &f);
    if (f.n == 0)
      break;
    if (flight < 4)
      sizes[flight] = f.n;
    for (size_t i = 0; i < f.n; i++) {
      size_t j = (int)flight == which && perm != NULL ? perm[i] : i;
      rtcsec_dtls_handle_datagram(pr.p[1 - from].d, f.data[j], f.len[j], 0);
    }
    flight++;
    from = 1 - from;
  }
  *n_flights = flight;
  /* Some orders leave a message the peer could not use yet (a
   * ChangeCipherSpec ahead of the message it follows is dropped, RFC 6347
   * §4.1): the retransmission timer then repairs it. Finish on the clock. */
  ck_assert_int_eq(pair_run(&pr, 60 * SEC), HARNESS_STOPPED);
  int ok = pr.p[0].connected && pr.p[1].connected;
  if (ok)
    assert_keys_match(&pr);
  rtcsec_dtls_stats st[2];
  rtcsec_dtls_get_stats(pr.p[0].d, &st[0]);
  rtcsec_dtls_get_stats(pr.p[1].d, &st[1]);
  *retrans = st[0].retransmissions + st[1].retransmissions;
  pair_free(&pr);
  return ok;
}

static int next_permutation(size_t *a, size_t n) {
  if (n < 2)
    return 0;
  size_t i = n - 1;
  while (i > 0 && a[i - 1] >= a[i])
    i--;
  if (i == 0)
    return 0;
  size_t j = n - 1;
  while (a[j] <= a[i - 1])
    j--;
  size_t t = a[i - 1];
  a[i - 1] = a[j];
  a[j] = t;
  for (size_t l = i, r = n - 1; l < r; l++, r--) {
    t = a[l];
    a[l] = a[r];
    a[r] = t;
  }
  return 1;
}

START_TEST(every_flight_in_every_order_at_mtu_300_connects) {
  /* _i: 0 ECDSA P-256 certificates, 1 RSA-2048 (larger flights) */
  for (int i = 0; i < 2; i++)
    flight_certs[i] = make_cert(_i ? RTCSEC_KEY_RSA_2048 : RTCSEC_KEY_ECDSA_P256);
  size_t sizes[4] = {0}, n_flights = 0;
  uint64_t retrans = 0;
  ck_assert(run_flights(-1, NULL, sizes, &n_flights, &retrans));
  ck_assert_uint_eq(n_flights, 4);
  ck_assert_uint_eq(retrans, 0);
  unsigned total = 0, repaired = 0;
  for (int which = 0; which < 4; which++) {
    size_t perm[MAX_FLIGHT];
    for (size_t i = 0; i < sizes[which]; i++)
      perm[i] = i;
    unsigned count = 0;
    do {
      size_t s2[4], nf;
      ck_assert_msg(run_flights(which, perm, s2, &nf, &retrans), "flight %d order %u failed", which,
                    count);
      repaired += retrans > 0;
      count++;
    } while (next_permutation(perm, sizes[which]));
    total += count;
  }
  rtcsec_cert_free(flight_certs[0]);
  rtcsec_cert_free(flight_certs[1]);
  printf(
      "%s, MTU 300: flights of %zu, %zu, %zu, %zu datagrams: %u orders delivered, all connected, "
      "%u of them after a timer retransmission\n",
      _i ? "RSA" : "ECDSA", sizes[0], sizes[1], sizes[2], sizes[3], total, repaired);
}
END_TEST

/* ---- the order of fingerprint, ClientHello and handshake end ------------------------ */

typedef struct order_run {
  pair *pr;
  int waiter; /* side whose expected fingerprint comes late */
  int order;  /* 0: before anything, 1: after the ClientHello arrived, 2: once held */
  int right;
  int injected;
  int inject_rc;
} order_run;

static int order_step(void *user, uint64_t now) {
  order_run *r = user;
  pair *pr = r->pr;
  pr->now = now;
  if (!r->injected) {
    rtcsec_dtls_stats srv, w;
    rtcsec_dtls_get_stats(pr->p[1].d, &srv);
    rtcsec_dtls_get_stats(pr->p[r->waiter].d, &w);
    int go =
        (r->order == 1 && srv.datagrams_received >= 1) || (r->order == 2 && w.datagrams_held >= 1);
    if (go) {
      rtcsec_fingerprint fp =
          r->right ? fp_of(pr->p[1 - r->waiter].cert, RTCSEC_HASH_SHA256) : wrong_fp();
      r->inject_rc = rtcsec_dtls_add_peer_fingerprints(pr->p[r->waiter].d, &fp, 1, now);
      r->injected = 1;
      /* the released datagrams may have produced output: send it now */
      harness_flush(&pr->ep[r->waiter], r->waiter, pr->link, now, NULL);
    }
  }
  return step_until_done(pr, now);
}

/* on_send records into the pair, not into the order_run. */
static void order_on_send(void *user, int from, const uint8_t *data, size_t len) {
  on_send(((order_run *)user)->pr, from, data, len);
}

START_TEST(fingerprint_arrival_order_decides_nothing_but_the_outcome) {
  /* _i: waiter (2) x order (3) x right/wrong (2) */
  order_run r = {.waiter = _i % 2, .order = (_i / 2) % 3, .right = _i / 6 == 0};
  pair_opts o;
  default_opts(&o);
  o.fp_known[r.waiter] = r.order == 0;
  o.fp_wrong[r.waiter] = r.order == 0 && !r.right;
  pair pr;
  pair_init(&pr, &o);
  r.pr = &pr;
  r.injected = r.order == 0;
  pair_start(&pr);
  harness_hooks hooks = {order_step, order_on_send, &r};
  ck_assert_int_eq(harness_run(pr.ep, pr.link, &pr.now, 60 * SEC, &hooks), HARNESS_STOPPED);
  ck_assert_msg(r.injected, "case %d: fingerprint never injected", _i);
  uint64_t retrans = 0;
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_stats st;
    rtcsec_dtls_get_stats(pr.p[i].d, &st);
    retrans += st.retransmissions;
  }
  if (r.right) {
    ck_assert_msg(pr.p[0].connected && pr.p[1].connected, "case %d: not connected", _i);
    ck_assert_uint_eq(retrans, 0);
    assert_keys_match(&pr);
  } else {
    for (int i = 0; i < 2; i++) {
      ck_assert_msg(pr.p[i].failed == 1 && pr.p[i].connected == 0, "case %d side %d", _i, i);
      ck_assert_uint_eq(pr.p[i].keys.material_len, 0); /* no keys ever handed out */
    }
    ck_assert_int_eq(pr.p[r.waiter].error, RTCSEC_ERR_FINGERPRINT_MISMATCH);
    /* the other side gets only a plaintext alert, which it does not act
     * on (anyone could forge it): it fails at its handshake timeout */
    ck_assert_int_eq(pr.p[1 - r.waiter].error, RTCSEC_ERR_HANDSHAKE_TIMEOUT);
  }
  pair_free(&pr);
}
END_TEST

int main(void) {
  Suite *s = suite_create("impair");
  TCase *loss = tcase_create("loss");
  tcase_set_timeout(loss, 600); /* 1000 handshakes each; slower under sanitizers */
  tcase_add_test(loss, all_1000_seeds_connect_without_loss);
  tcase_add_test(loss, all_1000_seeds_connect_at_10_percent_loss);
  tcase_add_test(loss, all_1000_seeds_connect_at_20_percent_loss);
  tcase_add_test(loss, at_least_995_of_1000_seeds_connect_at_30_percent_loss);
  tcase_add_loop_test(loss, every_run_ends_cleanly_at_40_and_50_percent_loss, 0, 2);
  suite_add_tcase(s, loss);
  TCase *each = tcase_create("each");
  tcase_set_timeout(each, 300);
  tcase_add_loop_test(each, losing_any_one_datagram_of_the_handshake_still_connects, 0, 2);
  tcase_add_test(each, every_datagram_duplicated_still_connects);
  tcase_add_loop_test(each, every_flight_in_every_order_at_mtu_300_connects, 0, 2);
  tcase_add_loop_test(each, fingerprint_arrival_order_decides_nothing_but_the_outcome, 0, 12);
  suite_add_tcase(s, each);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
