/* Bad input through the transport: the SRTP rows of the bad-input matrix
 * (issue 3, issue 7) and the sequence-number wrap.
 *
 * Every row runs on a connected pair (tpair) whose receiving side already
 * knows one peer SSRC, KNOWN_SSRC, at rollover counter 1 (its stream started
 * just before a 16-bit wrap). The bad datagram is handed to the receiver's
 * rtcsec_transport_handle_datagram() (tpair_offer); the test asserts the
 * exact error code, that exactly the expected counters moved and no other
 * (transport, SRTP in both directions, DTLS), that the known SSRC's ROC,
 * packet count and last sequence number did not change and that the
 * transport is still CONNECTED. Then a genuine packet is sent over the link
 * and must be accepted, again moving only what a good packet moves
 * (testing.md §7: a garbage datagram is dropped and counted, the session
 * goes on). */
#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtls_internal.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "srtp_internal.h"
#include "transport_internal.h"
#include "transport_util.h"

#define TX 0 /* the DTLS client sends the genuine media */
#define RX 1 /* the DTLS server receives it and the bad input */
#define KNOWN_SSRC 0x5eed0001u
#define PAYLOAD 100             /* payload octets of every genuine RTP packet */
#define ANY LLONG_MIN           /* expect_delta(): this counter may move */
#define MAX_DATAGRAM 65535      /* the largest UDP payload there can be */
#define BIG_DATAGRAM (1u << 20) /* larger than UDP allows: the API takes size_t */

/* ---- the receiver's state, before and after ---------------------------- */

typedef struct snap {
  rtcsec_transport_stats st;
  rtcsec_srtp_ssrc_stats known; /* inbound, KNOWN_SSRC */
  int have_known;               /* KNOWN_SSRC has authenticated packets */
  rtcsec_dtls_state state;
} snap;

/* The counters and state of side r, without the known stream. */
static void take_stats(tpair *tp, int r, snap *s) {
  memset(s, 0, sizeof(*s));
  ck_assert_int_eq(rtcsec_transport_get_stats(tp->side[r].t, &s->st), RTCSEC_OK);
  s->state = rtcsec_transport_get_state(tp->side[r].t);
}

static void take(tpair *tp, int r, snap *s) {
  take_stats(tp, r, s);
  s->have_known =
      rtcsec_transport_get_ssrc_stats(tp->side[r].t, KNOWN_SSRC, 0, &s->known) == RTCSEC_OK;
}

enum { U64, SIZE, INT };

#define COUNTER(f, type)                                                                           \
  { #f, offsetof(rtcsec_transport_stats, f), type }

/* Every counter of the stats snapshot (not the descriptive fields). */
static const struct counter {
  const char *name;
  size_t off;
  int type;
} counters[] = {
    COUNTER(in_stun, U64),
    COUNTER(in_dtls, U64),
    COUNTER(in_rtp, U64),
    COUNTER(in_rtcp, U64),
    COUNTER(drop_unknown, U64),
    COUNTER(drop_zrtp, U64),
    COUNTER(drop_turn_channel, U64),
    COUNTER(drop_no_keys, U64),
    COUNTER(drop_closed, U64),
    COUNTER(dtls.retransmissions, U64),
    COUNTER(dtls.datagrams_sent, U64),
    COUNTER(dtls.bytes_sent, U64),
    COUNTER(dtls.datagrams_received, U64),
    COUNTER(dtls.bytes_received, U64),
    COUNTER(dtls.datagrams_held, U64),
    COUNTER(dtls.datagrams_dropped, U64),
    COUNTER(srtp.local_key_exhausted, INT),
    COUNTER(srtp.inbound.rtp_packets, U64),
    COUNTER(srtp.inbound.rtp_bytes, U64),
    COUNTER(srtp.inbound.rtcp_packets, U64),
    COUNTER(srtp.inbound.rtcp_bytes, U64),
    COUNTER(srtp.inbound.auth_failures, U64),
    COUNTER(srtp.inbound.replay_drops, U64),
    COUNTER(srtp.inbound.too_old_drops, U64),
    COUNTER(srtp.inbound.malformed, U64),
    COUNTER(srtp.inbound.ssrc_limit_drops, U64),
    COUNTER(srtp.inbound.key_limit_refusals, U64),
    COUNTER(srtp.inbound.other_errors, U64),
    COUNTER(srtp.inbound.ssrcs, SIZE),
    COUNTER(srtp.outbound.rtp_packets, U64),
    COUNTER(srtp.outbound.rtp_bytes, U64),
    COUNTER(srtp.outbound.rtcp_packets, U64),
    COUNTER(srtp.outbound.rtcp_bytes, U64),
    COUNTER(srtp.outbound.auth_failures, U64),
    COUNTER(srtp.outbound.replay_drops, U64),
    COUNTER(srtp.outbound.too_old_drops, U64),
    COUNTER(srtp.outbound.malformed, U64),
    COUNTER(srtp.outbound.ssrc_limit_drops, U64),
    COUNTER(srtp.outbound.key_limit_refusals, U64),
    COUNTER(srtp.outbound.other_errors, U64),
    COUNTER(srtp.outbound.ssrcs, SIZE),
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static long long counter_value(const rtcsec_transport_stats *st, const struct counter *c) {
  const unsigned char *p = (const unsigned char *)st + c->off;
  uint64_t u = 0;
  size_t z = 0;
  int i = 0;
  switch (c->type) {
  case U64:
    memcpy(&u, p, sizeof(u));
    return (long long)u;
  case SIZE:
    memcpy(&z, p, sizeof(z));
    return (long long)z;
  case INT:
  default:
    memcpy(&i, p, sizeof(i));
    return i;
  }
}

/* Asserts that from a to b the named counters moved by the given amounts
 * (ANY: by anything) and every other counter did not move at all. The
 * arguments are pairs (const char *name, long long delta), then NULL. */
static void expect_delta(const snap *a, const snap *b, ...) {
  long long want[N_COUNTERS];
  for (size_t i = 0; i < N_COUNTERS; i++)
    want[i] = 0;
  va_list ap;
  va_start(ap, b);
  for (const char *name = va_arg(ap, const char *); name != NULL; name = va_arg(ap, const char *)) {
    long long d = va_arg(ap, long long);
    size_t i = 0;
    while (i < N_COUNTERS && strcmp(counters[i].name, name) != 0)
      i++;
    ck_assert_msg(i < N_COUNTERS, "no counter named %s", name);
    want[i] = d;
  }
  va_end(ap);
  for (size_t i = 0; i < N_COUNTERS; i++) {
    if (want[i] == ANY)
      continue;
    long long got = counter_value(&b->st, &counters[i]) - counter_value(&a->st, &counters[i]);
    ck_assert_msg(got == want[i], "counter %s moved by %lld, expected %lld", counters[i].name, got,
                  want[i]);
  }
}

/* The known peer stream is exactly as it was and the transport is up. */
static void expect_stream_unchanged(const snap *a, const snap *b) {
  ck_assert(a->have_known && b->have_known);
  ck_assert_uint_eq(b->known.roc, a->known.roc);
  ck_assert_uint_eq(b->known.rtp_packets, a->known.rtp_packets);
  ck_assert_uint_eq(b->known.rtp_bytes, a->known.rtp_bytes);
  ck_assert_uint_eq(b->known.last_seq, a->known.last_seq);
  ck_assert_int_eq(a->state, RTCSEC_DTLS_STATE_CONNECTED);
  ck_assert_int_eq(b->state, RTCSEC_DTLS_STATE_CONNECTED);
}

/* ---- the fixture ---------------------------------------------------------- */

typedef struct bad {
  tpair *tp;
  uint16_t next; /* next genuine sequence number of KNOWN_SSRC */
} bad;

/* Sends the genuine packet `next` of KNOWN_SSRC over the link and checks it
 * is accepted, intact, moving exactly what one good packet moves. */
static void genuine_passes(bad *b) {
  tpair *tp = b->tp;
  tside *rx = &tp->side[RX];
  snap s0, s1;
  take(tp, RX, &s0);
  uint64_t ok = rx->rtp_ok, errors = rx->media_errors;
  uint16_t seq = b->next++;
  ck_assert_int_eq(tpair_send_rtp(tp, TX, KNOWN_SSRC, seq, PAYLOAD), RTCSEC_OK);
  tpair_settle(tp);
  ck_assert_int_eq(rx->last_rc, RTCSEC_OK);
  ck_assert_uint_eq(rx->rtp_ok, ok + 1);
  ck_assert_uint_eq(rx->media_errors, errors);
  ck_assert_uint_eq(rx->bad_payload, 0);
  take(tp, RX, &s1);
  expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.rtp_packets", 1LL, "srtp.inbound.rtp_bytes",
               (long long)(12 + PAYLOAD), "srtp.inbound.ssrcs", (long long)!s0.have_known,
               (const char *)NULL);
  ck_assert(s1.have_known);
  ck_assert_uint_eq(s1.known.rtp_packets, s0.known.rtp_packets + 1);
  ck_assert_uint_eq(s1.known.last_seq, seq);
  /* the ROC moves on at the wrap, and only there */
  ck_assert_uint_eq(s1.known.roc, s0.known.roc + (s0.have_known && seq == 0));
  ck_assert_int_eq(s1.state, RTCSEC_DTLS_STATE_CONNECTED);
}

/* A connected pair (profile p, or the default list for RTCSEC_SRTP_NONE)
 * where RX has accepted KNOWN_SSRC 65533, 65534, 65535, 0, 1: its ROC is 1,
 * so a bad packet that moved the index estimate would show. */
static void bad_setup(bad *b, rtcsec_srtp_profile p) {
  b->tp = tpair_new(0, NULL, p);
  ck_assert_int_eq(b->tp->side[TX].connected, 1);
  ck_assert_int_eq(b->tp->side[RX].connected, 1);
  b->next = 65533;
  for (int i = 0; i < 5; i++)
    genuine_passes(b);
  ck_assert_uint_eq(b->next, 2);
  rtcsec_srtp_ssrc_stats ss;
  ck_assert_int_eq(rtcsec_transport_get_ssrc_stats(b->tp->side[RX].t, KNOWN_SSRC, 0, &ss), 0);
  ck_assert_uint_eq(ss.roc, 1);
  ck_assert_uint_eq(ss.rtp_packets, 5);
}

static void bad_free(bad *b) { tpair_free(b->tp); }

/* Offers data to RX and checks the code, the class it was taken for, that
 * the known stream is untouched; returns the snapshots for the counters. */
static void offer_expect(bad *b, const uint8_t *data, size_t len, int want_rc,
                         rtcsec_packet_class want_kind, snap *s0, snap *s1) {
  take(b->tp, RX, s0);
  rtcsec_packet_class kind;
  int rc = tpair_offer(b->tp, RX, data, len, &kind);
  ck_assert_msg(rc == want_rc, "datagram of %zu octets, first byte %d: got %s (%d), want %s (%d)",
                len, len ? data[0] : -1, rtcsec_strerror(rc), rc, rtcsec_strerror(want_rc),
                want_rc);
  ck_assert_int_eq(kind, want_kind);
  take(b->tp, RX, s1);
  expect_stream_unchanged(s0, s1);
}

/* Deterministic filler (splitmix64 of the link, seeded per use). */
static void fill_random(uint8_t *p, size_t n, uint64_t *state) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)test_rand_next(state);
}

static void write_rtp_header(uint8_t *p, uint8_t b0, uint16_t seq, uint32_t ssrc) {
  p[0] = b0;
  p[1] = 96;
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  memset(p + 4, 0x11, 4);
  p[8] = (uint8_t)(ssrc >> 24);
  p[9] = (uint8_t)(ssrc >> 16);
  p[10] = (uint8_t)(ssrc >> 8);
  p[11] = (uint8_t)ssrc;
}

/* Where the E flag of an SRTCP packet of len octets is: in the E+index word,
 * which AES-CM puts before the tag (RFC 3711 §3.4) and AEAD after it
 * (RFC 7714 §9). */
static size_t e_flag_at(rtcsec_srtp_profile p, size_t len) {
  if (p == RTCSEC_SRTP_AEAD_AES_128_GCM || p == RTCSEC_SRTP_AEAD_AES_256_GCM)
    return len - 4;
  return len - rtcsec_srtp_rtcp_overhead(p);
}

/* ---- empty, short, and first bytes in no media range ------------------- */

START_TEST(empty_datagram_is_dropped_as_unknown_and_media_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  snap s0, s1;
  offer_expect(&b, (const uint8_t *)"", 0, RTCSEC_ERR_DEMUX_UNKNOWN, RTCSEC_PKT_UNKNOWN, &s0, &s1);
  expect_delta(&s0, &s1, "drop_unknown", 1LL, (const char *)NULL);
  /* A NULL buffer of length 0 is the same empty datagram. */
  rtcsec_transport_input in;
  take(b.tp, RX, &s0);
  ck_assert_int_eq(rtcsec_transport_handle_datagram(b.tp->side[RX].t, NULL, 0, b.tp->now, &in),
                   RTCSEC_ERR_DEMUX_UNKNOWN);
  ck_assert_int_eq(in.kind, RTCSEC_PKT_UNKNOWN);
  take(b.tp, RX, &s1);
  expect_delta(&s0, &s1, "drop_unknown", 1LL, (const char *)NULL);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* Each of the 256 one-octet datagrams gets the outcome of its RFC 7983
 * range; 128..191 cannot be told RTP or RTCP (RFC 5761 §4 needs the second
 * octet) and is dropped as unknown; 20..63 goes to DTLS, which drops a
 * record that short silently. */
START_TEST(one_byte_datagrams_get_the_outcome_of_their_range_and_media_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  snap s0, s1;
  take(b.tp, RX, &s0);
  for (int v = 0; v < 256; v++) {
    uint8_t one = (uint8_t)v;
    rtcsec_packet_class kind;
    int rc = tpair_offer(b.tp, RX, &one, 1, &kind);
    int want = RTCSEC_ERR_DEMUX_UNKNOWN;
    rtcsec_packet_class want_kind = RTCSEC_PKT_UNKNOWN;
    if (v <= 3) {
      want = RTCSEC_OK;
      want_kind = RTCSEC_PKT_STUN;
    } else if (v >= 16 && v <= 19) {
      want = RTCSEC_ERR_UNSUPPORTED;
      want_kind = RTCSEC_PKT_ZRTP;
    } else if (v >= 20 && v <= 63) {
      want = RTCSEC_OK;
      want_kind = RTCSEC_PKT_DTLS;
    } else if (v >= 64 && v <= 79) {
      want = RTCSEC_ERR_UNSUPPORTED;
      want_kind = RTCSEC_PKT_TURN_CHANNEL;
    }
    ck_assert_msg(rc == want && kind == want_kind, "first byte %d: rc %d kind %d", v, rc,
                  (int)kind);
  }
  take(b.tp, RX, &s1);
  expect_stream_unchanged(&s0, &s1);
  expect_delta(&s0, &s1, "in_stun", 4LL, "drop_zrtp", 4LL, "in_dtls", 44LL, "drop_turn_channel",
               16LL, "drop_unknown", (long long)(12 + 48 + 64 + 64), "dtls.datagrams_received",
               44LL, "dtls.bytes_received", 44LL, "dtls.datagrams_dropped", 44LL,
               (const char *)NULL);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* Datagrams of several lengths for every first byte in [lo, hi]: each is
 * refused with want_rc and counted under `counter`, nothing else moves. */
static void first_byte_range_is_dropped(int lo, int hi, int want_rc, rtcsec_packet_class want_kind,
                                        const char *counter) {
  static const size_t lens[] = {1, 2, 12, 13, 28, 100, 1200, 1500};
  const size_t n_lens = sizeof(lens) / sizeof(lens[0]);
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t buf[1500];
  uint64_t rng = (uint64_t)lo * 1000 + (uint64_t)hi;
  snap s0, s1, t0, t1;
  take(b.tp, RX, &t0);
  for (int v = lo; v <= hi; v++) {
    for (size_t i = 0; i < n_lens; i++) {
      fill_random(buf, lens[i], &rng);
      buf[0] = (uint8_t)v;
      offer_expect(&b, buf, lens[i], want_rc, want_kind, &s0, &s1);
      expect_delta(&s0, &s1, counter, 1LL, (const char *)NULL);
    }
  }
  take(b.tp, RX, &t1);
  expect_delta(&t0, &t1, counter, (long long)((size_t)(hi - lo + 1) * n_lens), (const char *)NULL);
  genuine_passes(&b);
  bad_free(&b);
}

START_TEST(first_bytes_4_to_15_are_dropped_as_unknown) {
  first_byte_range_is_dropped(4, 15, RTCSEC_ERR_DEMUX_UNKNOWN, RTCSEC_PKT_UNKNOWN, "drop_unknown");
}
END_TEST

START_TEST(zrtp_first_bytes_16_to_19_are_dropped_as_unsupported) {
  first_byte_range_is_dropped(16, 19, RTCSEC_ERR_UNSUPPORTED, RTCSEC_PKT_ZRTP, "drop_zrtp");
}
END_TEST

START_TEST(turn_channel_first_bytes_64_to_79_are_dropped_as_unsupported) {
  first_byte_range_is_dropped(64, 79, RTCSEC_ERR_UNSUPPORTED, RTCSEC_PKT_TURN_CHANNEL,
                              "drop_turn_channel");
}
END_TEST

START_TEST(first_bytes_80_to_127_are_dropped_as_unknown) {
  first_byte_range_is_dropped(80, 127, RTCSEC_ERR_DEMUX_UNKNOWN, RTCSEC_PKT_UNKNOWN,
                              "drop_unknown");
}
END_TEST

START_TEST(first_bytes_192_to_255_are_dropped_as_unknown) {
  first_byte_range_is_dropped(192, 255, RTCSEC_ERR_DEMUX_UNKNOWN, RTCSEC_PKT_UNKNOWN,
                              "drop_unknown");
}
END_TEST

/* ---- oversized ---------------------------------------------------------- */

/* 65 535 octets (and 1 MiB, more than UDP can carry) of well-formed RTP
 * header and random "payload" and "tag", for the known SSRC at a sequence
 * number ahead and for a new SSRC: the tag does not verify. One claiming an
 * index far behind (seq 40000 while the known stream is at ROC 1, seq ~2:
 * libsrtp2 guesses ROC 0) is refused as too old before the tag is checked:
 * libsrtp2 consults the replay window first; nothing moves either way. */
START_TEST(oversized_srtp_datagram_fails_authentication_and_media_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t *big = malloc(BIG_DATAGRAM);
  ck_assert_ptr_nonnull(big);
  uint64_t rng = 65535;
  const size_t lens[] = {MAX_DATAGRAM, BIG_DATAGRAM};
  const struct {
    uint32_t ssrc;
    uint16_t seq;
    int rc;
    const char *counter;
  } cases[] = {
      {KNOWN_SSRC, 100, RTCSEC_ERR_SRTP_AUTH, "srtp.inbound.auth_failures"},
      {0x0badf00du, 100, RTCSEC_ERR_SRTP_AUTH, "srtp.inbound.auth_failures"},
      {0x0badf00du, 40000, RTCSEC_ERR_SRTP_AUTH, "srtp.inbound.auth_failures"},
      {KNOWN_SSRC, 40000, RTCSEC_ERR_SRTP_TOO_OLD, "srtp.inbound.too_old_drops"},
  };
  for (size_t li = 0; li < 2; li++) {
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
      fill_random(big, lens[li], &rng);
      write_rtp_header(big, 0x80, cases[ci].seq, cases[ci].ssrc);
      snap s0, s1;
      offer_expect(&b, big, lens[li], cases[ci].rc, RTCSEC_PKT_RTP, &s0, &s1);
      expect_delta(&s0, &s1, "in_rtp", 1LL, cases[ci].counter, 1LL, (const char *)NULL);
    }
  }
  free(big);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

START_TEST(oversized_srtcp_datagram_fails_authentication_and_media_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t *big = malloc(MAX_DATAGRAM);
  ck_assert_ptr_nonnull(big);
  uint64_t rng = 200;
  fill_random(big, MAX_DATAGRAM, &rng);
  big[0] = 0x80;
  big[1] = 200; /* SR */
  big[4] = (uint8_t)(KNOWN_SSRC >> 24);
  big[5] = (uint8_t)(KNOWN_SSRC >> 16);
  big[6] = (uint8_t)(KNOWN_SSRC >> 8);
  big[7] = (uint8_t)KNOWN_SSRC;
  /* E set wherever the profile has it: the packet gets as far as the tag. */
  big[MAX_DATAGRAM - 4] |= 0x80;
  big[MAX_DATAGRAM - 14] |= 0x80;
  snap s0, s1;
  offer_expect(&b, big, MAX_DATAGRAM, RTCSEC_ERR_SRTP_AUTH, RTCSEC_PKT_RTCP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtcp", 1LL, "srtp.inbound.auth_failures", 1LL, (const char *)NULL);
  free(big);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

START_TEST(oversized_dtls_datagram_is_dropped_and_the_session_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t *big = malloc(MAX_DATAGRAM);
  ck_assert_ptr_nonnull(big);
  uint64_t rng = 23;
  for (int type = 20; type <= 23; type++) {
    fill_random(big, MAX_DATAGRAM, &rng);
    /* a DTLS 1.2 record header, epoch 1, claiming the whole datagram */
    big[0] = (uint8_t)type;
    big[1] = 0xfe;
    big[2] = 0xfd;
    big[3] = 0;
    big[4] = 1;
    big[11] = (uint8_t)((MAX_DATAGRAM - 13) >> 8);
    big[12] = (uint8_t)(MAX_DATAGRAM - 13);
    snap s0, s1;
    offer_expect(&b, big, MAX_DATAGRAM, RTCSEC_OK, RTCSEC_PKT_DTLS, &s0, &s1);
    expect_delta(&s0, &s1, "in_dtls", 1LL, "dtls.datagrams_received", ANY, "dtls.bytes_received",
                 ANY, "dtls.datagrams_dropped", ANY, (const char *)NULL);
  }
  free(big);
  ck_assert_int_eq(b.tp->side[RX].failed, 0);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* ---- malformed RTP / RTCP ------------------------------------------------- */

START_TEST(rtp_shorter_than_12_bytes_is_malformed) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t buf[12];
  write_rtp_header(buf, 0x80, b.next, KNOWN_SSRC);
  for (size_t len = 2; len < 12; len++) {
    snap s0, s1;
    offer_expect(&b, buf, len, RTCSEC_ERR_SRTP_MALFORMED, RTCSEC_PKT_RTP, &s0, &s1);
    expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.malformed", 1LL, (const char *)NULL);
  }
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* An SRTCP packet must hold the 8-octet header, the E+index word and the
 * tag (RFC 3711 §3.4). */
START_TEST(srtcp_shorter_than_header_index_and_tag_is_malformed) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t full[128];
  size_t full_len;
  ck_assert_int_eq(tpair_protect_rtcp(b.tp, TX, KNOWN_SSRC, full, sizeof(full), &full_len), 0);
  size_t need = 8 + rtcsec_transport_rtcp_overhead(b.tp->side[RX].t);
  ck_assert_uint_eq(need, 28); /* AEAD_AES_128_GCM: 16-octet tag + 4 */
  for (size_t len = 2; len < need; len++) {
    snap s0, s1;
    offer_expect(&b, full, len, RTCSEC_ERR_SRTP_MALFORMED, RTCSEC_PKT_RTCP, &s0, &s1);
    expect_delta(&s0, &s1, "in_rtcp", 1LL, "srtp.inbound.malformed", 1LL, (const char *)NULL);
  }
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* RFC 3550 §5.1: CC counts 32-bit CSRC identifiers after the fixed header.
 * A list running past the datagram, or into the room of the tag, is
 * malformed. */
START_TEST(csrc_count_past_the_end_is_malformed) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t buf[12 + 60 + 16];
  uint64_t rng = 15;
  for (unsigned cc = 1; cc <= 15; cc++) {
    fill_random(buf, sizeof(buf), &rng);
    write_rtp_header(buf, (uint8_t)(0x80 | cc), b.next, KNOWN_SSRC);
    /* one octet short of the list; and the list, but no room for the tag */
    const size_t lens[] = {12 + 4 * cc - 1, 12 + 4 * cc, 12 + 4 * cc + 15};
    for (size_t i = 0; i < 3; i++) {
      snap s0, s1;
      offer_expect(&b, buf, lens[i], RTCSEC_ERR_SRTP_MALFORMED, RTCSEC_PKT_RTP, &s0, &s1);
      expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.malformed", 1LL, (const char *)NULL);
    }
  }
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* RFC 3550 §5.3.1: X set means a 4-octet extension header whose length
 * field counts the 32-bit words that follow it. */
START_TEST(header_extension_length_past_the_end_is_malformed) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint8_t buf[12 + 8 + 4 + 400];
  uint64_t rng = 0x1000;
  struct {
    unsigned cc;
    uint16_t words;
    size_t len;
  } cases[] = {
      {0, 0, 13},                 /* extension header cut after one octet */
      {0, 0, 15},                 /* ... after three */
      {0, 0xffff, 12 + 4 + 400},  /* 262 140 octets claimed */
      {0, 100, 12 + 4 + 399},     /* one octet short */
      {0, 96, 12 + 4 + 384 + 15}, /* the extension fits, the tag does not */
      {2, 98, 12 + 8 + 4 + 391},  /* after two CSRCs, one octet short */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fill_random(buf, sizeof(buf), &rng);
    write_rtp_header(buf, (uint8_t)(0x90 | cases[i].cc), b.next, KNOWN_SSRC);
    size_t at = 12 + 4 * cases[i].cc;
    buf[at + 2] = (uint8_t)(cases[i].words >> 8);
    buf[at + 3] = (uint8_t)cases[i].words;
    snap s0, s1;
    offer_expect(&b, buf, cases[i].len, RTCSEC_ERR_SRTP_MALFORMED, RTCSEC_PKT_RTP, &s0, &s1);
    expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.malformed", 1LL, (const char *)NULL);
  }
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* ---- tampering, replay, age: every profile ---------------------------------- */

/* A protected packet `next` of KNOWN_SSRC, held (not sent). */
static size_t hold_next(bad *b, uint8_t *buf, size_t cap) {
  size_t len;
  ck_assert_int_eq(tpair_protect_rtp(b->tp, TX, KNOWN_SSRC, b->next++, PAYLOAD, buf, cap, &len),
                   RTCSEC_OK);
  return len;
}

/* Offers the held genuine packet; it must be accepted. */
static void held_is_accepted(bad *b, const uint8_t *pkt, size_t len) {
  snap s0, s1;
  take(b->tp, RX, &s0);
  uint64_t ok = b->tp->side[RX].rtp_ok;
  ck_assert_int_eq(tpair_offer(b->tp, RX, pkt, len, NULL), RTCSEC_OK);
  ck_assert_uint_eq(b->tp->side[RX].rtp_ok, ok + 1);
  ck_assert_uint_eq(b->tp->side[RX].bad_payload, 0);
  take(b->tp, RX, &s1);
  expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.rtp_packets", 1LL, "srtp.inbound.rtp_bytes",
               (long long)(12 + PAYLOAD), (const char *)NULL);
  ck_assert_uint_eq(s1.known.roc, s0.known.roc);
}

/* A tampered copy fails; the untampered original is accepted afterwards,
 * so the failure moved neither the replay window nor the ROC. */
static void tampered_copy_fails(bad *b, size_t at_from_end, int flip_header_at) {
  uint8_t pkt[256], copy[256];
  size_t len = hold_next(b, pkt, sizeof(pkt));
  memcpy(copy, pkt, len);
  if (flip_header_at >= 0)
    copy[flip_header_at] ^= 0x10; /* seq: + 16, unseen: the tag decides */
  else
    copy[len - at_from_end] ^= 0x80;
  snap s0, s1;
  offer_expect(b, copy, len, RTCSEC_ERR_SRTP_AUTH, RTCSEC_PKT_RTP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.auth_failures", 1LL, (const char *)NULL);
  held_is_accepted(b, pkt, len);
}

START_TEST(tampered_payload_byte_fails_authentication) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  size_t tag = rtcsec_transport_rtp_overhead(b.tp->side[RX].t);
  tampered_copy_fails(&b, tag + PAYLOAD, -1); /* first payload octet */
  tampered_copy_fails(&b, tag + 1, -1);       /* last payload octet */
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

START_TEST(tampered_tag_fails_authentication) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  size_t tag = rtcsec_transport_rtp_overhead(b.tp->side[RX].t);
  tampered_copy_fails(&b, tag, -1); /* first tag octet */
  tampered_copy_fails(&b, 1, -1);   /* last tag octet */
  /* a tag cut short by one octet */
  uint8_t pkt[256];
  size_t len = hold_next(&b, pkt, sizeof(pkt));
  snap s0, s1;
  offer_expect(&b, pkt, len - 1, RTCSEC_ERR_SRTP_AUTH, RTCSEC_PKT_RTP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.auth_failures", 1LL, (const char *)NULL);
  held_is_accepted(&b, pkt, len);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* The RTP header is authenticated too (RFC 3711 §4.2, RFC 7714 §8.2: it is
 * associated data): sequence number, timestamp and SSRC cannot be changed. */
START_TEST(tampered_rtp_header_fails_authentication) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  tampered_copy_fails(&b, 0, 1);  /* marker / payload type */
  tampered_copy_fails(&b, 0, 3);  /* sequence number */
  tampered_copy_fails(&b, 0, 7);  /* timestamp */
  tampered_copy_fails(&b, 0, 11); /* SSRC: unknown SSRC, forged: no table slot */
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(b.tp->side[RX].t, &st);
  ck_assert_uint_eq(st.srtp.inbound.ssrcs, 1);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

START_TEST(replayed_srtp_packet_is_refused_as_replay) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  uint8_t pkt[256];
  size_t len = hold_next(&b, pkt, sizeof(pkt));
  held_is_accepted(&b, pkt, len);
  for (int i = 0; i < 3; i++) {
    snap s0, s1;
    offer_expect(&b, pkt, len, RTCSEC_ERR_SRTP_REPLAY, RTCSEC_PKT_RTP, &s0, &s1);
    expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.replay_drops", 1LL, (const char *)NULL);
  }
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

START_TEST(replayed_srtcp_packet_is_refused_as_replay) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  uint8_t pkt[128];
  size_t len;
  ck_assert_int_eq(tpair_protect_rtcp(b.tp, TX, KNOWN_SSRC, pkt, sizeof(pkt), &len), 0);
  ck_assert_int_eq(tpair_offer(b.tp, RX, pkt, len, NULL), RTCSEC_OK);
  ck_assert_uint_eq(b.tp->side[RX].rtcp_ok, 1);
  snap s0, s1;
  offer_expect(&b, pkt, len, RTCSEC_ERR_SRTP_REPLAY, RTCSEC_PKT_RTCP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtcp", 1LL, "srtp.inbound.replay_drops", 1LL, (const char *)NULL);
  ck_assert_int_eq(tpair_send_rtcp(b.tp, TX, KNOWN_SSRC), 0);
  tpair_settle(b.tp);
  ck_assert_int_eq(b.tp->side[RX].last_rc, RTCSEC_OK);
  ck_assert_uint_eq(b.tp->side[RX].rtcp_ok, 2);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* Default replay window 1024: with packet N accepted, N - 1023 (never seen)
 * is still inside it and accepted, N - 1024 is too old. */
START_TEST(index_older_than_the_replay_window_is_refused_as_too_old) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  uint8_t oldest[256], inside[256];
  size_t oldest_len = hold_next(&b, oldest, sizeof(oldest)); /* N - 1024 */
  size_t inside_len = hold_next(&b, inside, sizeof(inside)); /* N - 1023 */
  b.next = (uint16_t)(b.next + 1022);                        /* N */
  genuine_passes(&b);
  snap s0, s1;
  offer_expect(&b, oldest, oldest_len, RTCSEC_ERR_SRTP_TOO_OLD, RTCSEC_PKT_RTP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtp", 1LL, "srtp.inbound.too_old_drops", 1LL, (const char *)NULL);
  held_is_accepted(&b, inside, inside_len);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* RFC 3711 §3.4: E = 0 announces an unencrypted SRTCP payload; every
 * profile here encrypts SRTCP, so the bridge refuses it as malformed before
 * libsrtp2 sees it. For AES-CM, libsrtp2 would refuse it anyway (the E bit
 * is authenticated, the tag fails). For AEAD_AES_128/256_GCM, libsrtp2 2.5
 * alone would take E = 0 as "authenticated only" (RFC 7714 §9.2, the whole
 * packet as associated data): the flipped bit would then fail the tag, but
 * an authentic unencrypted SRTCP packet would be accepted. The transport
 * returns RTCSEC_ERR_SRTP_MALFORMED for all four. */
START_TEST(srtcp_with_e_bit_cleared_is_refused_as_malformed) {
  rtcsec_srtp_profile p = (rtcsec_srtp_profile)all_test_profiles[_i];
  bad b;
  bad_setup(&b, p);
  uint8_t pkt[128], copy[128];
  size_t len;
  ck_assert_int_eq(tpair_protect_rtcp(b.tp, TX, KNOWN_SSRC, pkt, sizeof(pkt), &len), 0);
  ck_assert_uint_eq(pkt[e_flag_at(p, len)] & 0x80, 0x80);
  memcpy(copy, pkt, len);
  copy[e_flag_at(p, len)] &= 0x7f;
  snap s0, s1;
  offer_expect(&b, copy, len, RTCSEC_ERR_SRTP_MALFORMED, RTCSEC_PKT_RTCP, &s0, &s1);
  expect_delta(&s0, &s1, "in_rtcp", 1LL, "srtp.inbound.malformed", 1LL, (const char *)NULL);
  /* the refused copy did not use up the SRTCP index: the original passes */
  take(b.tp, RX, &s0);
  ck_assert_int_eq(tpair_offer(b.tp, RX, pkt, len, NULL), RTCSEC_OK);
  ck_assert_uint_eq(b.tp->side[RX].rtcp_ok, 1);
  take(b.tp, RX, &s1);
  expect_delta(&s0, &s1, "in_rtcp", 1LL, "srtp.inbound.rtcp_packets", 1LL,
               "srtp.inbound.rtcp_bytes", 28LL, (const char *)NULL);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* Random datagrams in the media range (first byte 128..191, any second
 * byte, so RTP and RTCP), half of them claiming the known SSRC, of every
 * length up to 1500: each is refused with a media error, none is accepted,
 * and the known stream, the SSRC table and the accepted counters stay as
 * they were. */
START_TEST(random_media_datagrams_are_all_refused_and_change_nothing) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  uint64_t rng = 0x5eed;
  uint8_t buf[1500];
  snap t0, t1;
  take(b.tp, RX, &t0);
  const int n = 20000;
  uint64_t rtp = 0;
  for (int i = 0; i < n; i++) {
    size_t len = 2 + (size_t)(test_rand_next(&rng) % (sizeof(buf) - 1));
    fill_random(buf, len, &rng);
    buf[0] = (uint8_t)(128 + buf[0] % 64);
    if (i % 2 == 0 && len >= 12) {
      int rtcp = (buf[1] & 0x7f) >= 64 && (buf[1] & 0x7f) <= 95;
      size_t at = rtcp ? 4 : 8;
      buf[at] = (uint8_t)(KNOWN_SSRC >> 24);
      buf[at + 1] = (uint8_t)(KNOWN_SSRC >> 16);
      buf[at + 2] = (uint8_t)(KNOWN_SSRC >> 8);
      buf[at + 3] = (uint8_t)KNOWN_SSRC;
    }
    rtcsec_packet_class kind;
    int rc = tpair_offer(b.tp, RX, buf, len, &kind);
    ck_assert_msg(rc == RTCSEC_ERR_SRTP_AUTH || rc == RTCSEC_ERR_SRTP_MALFORMED ||
                      rc == RTCSEC_ERR_SRTP_TOO_OLD || rc == RTCSEC_ERR_SRTP_REPLAY,
                  "datagram %d (%zu octets): %s", i, len, rtcsec_strerror(rc));
    ck_assert(kind == RTCSEC_PKT_RTP || kind == RTCSEC_PKT_RTCP);
    rtp += kind == RTCSEC_PKT_RTP;
  }
  take(b.tp, RX, &t1);
  expect_stream_unchanged(&t0, &t1);
  expect_delta(&t0, &t1, "in_rtp", (long long)rtp, "in_rtcp", (long long)(n - (long long)rtp),
               "srtp.inbound.auth_failures", ANY, "srtp.inbound.malformed", ANY,
               "srtp.inbound.too_old_drops", ANY, "srtp.inbound.replay_drops", ANY,
               (const char *)NULL);
  long long refused = 0;
  const char *const reasons[] = {"srtp.inbound.auth_failures", "srtp.inbound.malformed",
                                 "srtp.inbound.too_old_drops", "srtp.inbound.replay_drops"};
  for (size_t r = 0; r < 4; r++) {
    for (size_t i = 0; i < N_COUNTERS; i++) {
      if (strcmp(counters[i].name, reasons[r]) == 0)
        refused += counter_value(&t1.st, &counters[i]) - counter_value(&t0.st, &counters[i]);
    }
  }
  ck_assert_int_eq(refused, n);
  ck_assert_uint_eq(b.tp->side[RX].rtp_ok, 5); /* the fixture's, nothing since */
  ck_assert_uint_eq(b.tp->side[RX].rtcp_ok, 0);
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* ---- before the keys ----------------------------------------------------------- */

/* A real SRTP and SRTCP packet (from another session) reaching a transport
 * that has not started, and one that is half-way through its handshake:
 * dropped with RTCSEC_ERR_SRTP_NO_KEYS, nothing queued; the handshake then
 * completes and media flows. */
static int server_heard_dtls(void *user, uint64_t now) {
  (void)now;
  tpair *tp = user;
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(tp->side[RX].t, &st);
  return st.in_dtls > 0;
}

START_TEST(srtp_before_the_handshake_is_refused_with_no_keys) {
  tpair *other = tpair_new(0, NULL, RTCSEC_SRTP_NONE);
  uint8_t rtp[256], rtcp[128];
  size_t rtp_len, rtcp_len;
  ck_assert_int_eq(tpair_protect_rtp(other, TX, KNOWN_SSRC, 1, PAYLOAD, rtp, sizeof(rtp), &rtp_len),
                   0);
  ck_assert_int_eq(tpair_protect_rtcp(other, TX, KNOWN_SSRC, rtcp, sizeof(rtcp), &rtcp_len), 0);
  tpair_free(other);

  tpair *tp = tpair_unstarted();
  for (int phase = 0; phase < 2; phase++) {
    if (phase == 1) {
      /* started, ClientHello received by the server, not finished */
      ck_assert_int_eq(rtcsec_transport_start(tp->side[RX].t, tp->now), 0);
      ck_assert_int_eq(rtcsec_transport_start(tp->side[TX].t, tp->now), 0);
      harness_hooks hooks = {server_heard_dtls, NULL, tp};
      ck_assert_int_eq(harness_run(tp->ep, tp->link, &tp->now, tp->now + 1000000u, &hooks),
                       HARNESS_STOPPED);
      ck_assert_int_eq(rtcsec_transport_get_state(tp->side[RX].t), RTCSEC_DTLS_STATE_HANDSHAKING);
    }
    for (int r = 0; r < 2; r++) {
      rtcsec_transport_stats a, z;
      rtcsec_transport_get_stats(tp->side[r].t, &a);
      rtcsec_packet_class kind;
      ck_assert_int_eq(tpair_offer(tp, r, rtp, rtp_len, &kind), RTCSEC_ERR_SRTP_NO_KEYS);
      ck_assert_int_eq(kind, RTCSEC_PKT_RTP);
      ck_assert_int_eq(tpair_offer(tp, r, rtcp, rtcp_len, &kind), RTCSEC_ERR_SRTP_NO_KEYS);
      ck_assert_int_eq(kind, RTCSEC_PKT_RTCP);
      rtcsec_transport_get_stats(tp->side[r].t, &z);
      ck_assert_uint_eq(z.drop_no_keys, a.drop_no_keys + 2);
      ck_assert_uint_eq(z.in_rtp, a.in_rtp + 1);
      ck_assert_uint_eq(z.in_rtcp, a.in_rtcp + 1);
      ck_assert_uint_eq(z.drop_unknown + z.drop_closed, 0);
      ck_assert_uint_eq(z.in_dtls, a.in_dtls);
      ck_assert_uint_eq(z.srtp.inbound.rtp_packets + z.srtp.inbound.auth_failures, 0);
      ck_assert_int_ne(z.state, RTCSEC_DTLS_STATE_FAILED);
      ck_assert_int_eq(tp->side[r].failed, 0);
    }
  }
  tpair_finish_handshake(tp);
  ck_assert_int_eq(tp->side[TX].connected + tp->side[RX].connected, 2);
  /* nothing was held back for replay once the keys existed */
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(tp->side[RX].t, &st);
  ck_assert_uint_eq(st.srtp.inbound.rtp_packets + st.srtp.inbound.rtcp_packets, 0);
  ck_assert_uint_eq(st.srtp.inbound.auth_failures, 0);
  ck_assert_uint_eq(st.drop_no_keys, 4);
  ck_assert_int_eq(tpair_send_rtp(tp, TX, KNOWN_SSRC, 1, PAYLOAD), 0);
  ck_assert_int_eq(tpair_send_rtp(tp, RX, KNOWN_SSRC + 1, 1, PAYLOAD), 0);
  tpair_settle(tp);
  ck_assert_uint_eq(tp->side[RX].rtp_ok, 1);
  ck_assert_uint_eq(tp->side[TX].rtp_ok, 1);
  ck_assert_uint_eq(tp->side[RX].bad_payload + tp->side[TX].bad_payload, 0);
  tpair_free(tp);
}
END_TEST

/* ---- a peer opening 10 000 SSRCs ------------------------------------------------ */

#define FLOOD_SSRCS 10000
#define FLOOD_FIRST 0x00100000u

/* The peer (TX) is authentic: its own exported keys protect every packet,
 * so each one would authenticate. One rtcsec_srtp can send at most
 * RTCSEC_SRTP_MAX_SSRCS SSRCs, so a few are made from the same keys. RX
 * admits max_inbound_ssrcs (default 64) SSRCs, refuses the rest with
 * RTCSEC_ERR_SRTP_SSRC_LIMIT before libsrtp2 creates a stream for them, and
 * the known SSRC goes on. */
START_TEST(peer_opening_10000_ssrcs_is_capped_at_max_inbound_ssrcs) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  rtcsec_srtp_keys keys;
  ck_assert_int_eq(
      rtcsec_dtls_export_srtp_keys(rtcsec_transport_test_dtls(b.tp->side[TX].t), &keys), RTCSEC_OK);
  rtcsec_srtp_config cfg;
  rtcsec_srtp_config_default(&cfg);
  cfg.max_outbound_ssrcs = RTCSEC_SRTP_MAX_SSRCS;
  enum { N_FLOODERS = (FLOOD_SSRCS + RTCSEC_SRTP_MAX_SSRCS - 1) / RTCSEC_SRTP_MAX_SSRCS };
  rtcsec_srtp *flood[N_FLOODERS];
  for (int i = 0; i < N_FLOODERS; i++)
    ck_assert_int_eq(rtcsec_srtp_new(&flood[i], &keys, &cfg), RTCSEC_OK);
  rtcsec_srtp_keys_wipe(&keys);

  rtcsec_srtp *rx_srtp = rtcsec_transport_test_srtp(b.tp->side[RX].t);
  ck_assert_ptr_nonnull(rx_srtp);
  const size_t cap = 64; /* rtcsec_srtp_config_default() */
  snap t0, t1;
  take(b.tp, RX, &t0);
  ck_assert_uint_eq(t0.st.srtp.inbound.ssrcs, 1); /* KNOWN_SSRC */
  size_t admitted = 0;
  for (uint32_t i = 0; i < FLOOD_SSRCS; i++) {
    uint8_t pkt[256];
    size_t n = tpair_make_rtp(pkt, FLOOD_FIRST + i, 1, PAYLOAD), len;
    ck_assert_int_eq(
        rtcsec_srtp_protect_rtp(flood[i / RTCSEC_SRTP_MAX_SSRCS], pkt, n, sizeof(pkt), &len),
        RTCSEC_OK);
    int want = i < cap - 1 ? RTCSEC_OK : RTCSEC_ERR_SRTP_SSRC_LIMIT;
    int rc = tpair_offer(b.tp, RX, pkt, len, NULL);
    ck_assert_msg(rc == want, "SSRC #%u: %s", i, rtcsec_strerror(rc));
    admitted += rc == RTCSEC_OK;
    rtcsec_transport_stats st;
    rtcsec_transport_get_stats(b.tp->side[RX].t, &st);
    ck_assert_uint_le(st.srtp.inbound.ssrcs, cap);
  }
  /* an RTCP sender SSRC counts against the same cap */
  uint8_t sr[128];
  size_t sr_len, n = tpair_make_rtcp_sr(sr, FLOOD_FIRST + FLOOD_SSRCS);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(flood[N_FLOODERS - 1], sr, n, sizeof(sr), &sr_len),
                   RTCSEC_OK);
  ck_assert_int_eq(tpair_offer(b.tp, RX, sr, sr_len, NULL), RTCSEC_ERR_SRTP_SSRC_LIMIT);
  /* and so does a new SSRC from the peer's own transport */
  ck_assert_int_eq(tpair_send_rtp(b.tp, TX, 0x7777u, 1, PAYLOAD), RTCSEC_OK);
  tpair_settle(b.tp);
  ck_assert_int_eq(b.tp->side[RX].last_rc, RTCSEC_ERR_SRTP_SSRC_LIMIT);

  take(b.tp, RX, &t1);
  expect_stream_unchanged(&t0, &t1);
  expect_delta(&t0, &t1, "in_rtp", (long long)FLOOD_SSRCS + 1, "in_rtcp", 1LL,
               "srtp.inbound.rtp_packets", (long long)(cap - 1), "srtp.inbound.rtp_bytes",
               (long long)((cap - 1) * (12 + PAYLOAD)), "srtp.inbound.ssrcs", (long long)(cap - 1),
               "srtp.inbound.ssrc_limit_drops", (long long)(FLOOD_SSRCS - (cap - 1) + 2),
               (const char *)NULL);
  ck_assert_uint_eq(t1.st.srtp.inbound.ssrcs, cap);
  ck_assert_uint_eq(admitted, cap - 1);
  /* Memory stays bounded: libsrtp2 holds a stream for the admitted SSRCs
   * only, none for the 9 937 refused ones. */
  for (uint32_t i = 0; i < FLOOD_SSRCS; i++)
    ck_assert_int_eq(rtcsec_srtp_test_libsrtp_has_stream(rx_srtp, FLOOD_FIRST + i, 0), i < cap - 1);
  ck_assert_int_eq(rtcsec_srtp_test_libsrtp_has_stream(rx_srtp, 0x7777u, 0), 0);
  for (int i = 0; i < N_FLOODERS; i++)
    rtcsec_srtp_free(flood[i]);
  /* the known SSRC and an admitted one keep working */
  genuine_passes(&b);
  ck_assert_int_eq(tpair_send_rtp(b.tp, TX, FLOOD_FIRST + 5, 2, PAYLOAD), RTCSEC_OK);
  tpair_settle(b.tp);
  ck_assert_int_eq(b.tp->side[RX].last_rc, RTCSEC_OK);
  bad_free(&b);
}
END_TEST

/* ---- the local key used up (RFC 3711 §9.2) --------------------------------------- */

/* TX's key has protected 2^48 - 1 packets of KNOWN_SSRC (bridge test hook):
 * one more is allowed. The next protect call is refused with
 * RTCSEC_ERR_SRTP_KEY_LIMIT, writes nothing and puts no media on the wire,
 * and the session closes with RTCSEC_ERR_KEY_EXHAUSTED (RFC 3711 §9.2:
 * WebRTC cannot rekey short of a new DTLS association): a FAILED event,
 * close_notify to the peer, every later call refused in both directions. */
static void key_limit_is_final(bad *b, uint64_t srtp_sent, uint64_t srtcp_sent, int last_is_rtcp) {
  tpair *tp = b->tp;
  rtcsec_srtp *tx_srtp = rtcsec_transport_test_srtp(tp->side[TX].t);
  ck_assert_ptr_nonnull(tx_srtp);
  ck_assert_int_eq(rtcsec_srtp_test_preset_sent(tx_srtp, KNOWN_SSRC, srtp_sent, srtcp_sent),
                   RTCSEC_OK);
  /* the last packet the key may protect */
  if (last_is_rtcp) {
    ck_assert_int_eq(tpair_send_rtcp(tp, TX, KNOWN_SSRC), RTCSEC_OK);
    tpair_settle(tp);
    ck_assert_uint_eq(tp->side[RX].rtcp_ok, 1);
  } else {
    genuine_passes(b);
  }
  snap tx0;
  take_stats(tp, TX, &tx0);
  uint64_t rx_media0 = tp->side[RX].rtp_ok + tp->side[RX].rtcp_ok;
  uint8_t buf[256], before[256];
  memset(buf, 0xa5, sizeof(buf));
  size_t n = tpair_make_rtp(buf, KNOWN_SSRC, b->next, PAYLOAD), out = 12345;
  memcpy(before, buf, sizeof(buf));
  ck_assert_int_eq(rtcsec_transport_protect_rtp(tp->side[TX].t, buf, n, sizeof(buf), &out, tp->now),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  ck_assert_mem_eq(buf, before, sizeof(buf));
  ck_assert_uint_eq(out, 12345);
  /* the session is over, with its reason */
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(tp->side[TX].t, &st);
  ck_assert_int_eq(st.state, RTCSEC_DTLS_STATE_FAILED);
  ck_assert_int_eq(st.error, RTCSEC_ERR_KEY_EXHAUSTED);
  ck_assert_int_eq(st.srtp.local_key_exhausted, 1);
  ck_assert_uint_eq(st.srtp.outbound.key_limit_refusals,
                    tx0.st.srtp.outbound.key_limit_refusals + 1);
  ck_assert_int_eq(tpair_send_rtp(tp, TX, 0x4242u, 1, PAYLOAD), RTCSEC_ERR_KEY_EXHAUSTED);
  ck_assert_int_eq(tpair_send_rtcp(tp, TX, KNOWN_SSRC), RTCSEC_ERR_KEY_EXHAUSTED);
  ck_assert_ptr_null(rtcsec_transport_test_srtp(tp->side[TX].t)); /* keys wiped */
  int failed_before = tp->side[TX].failed;
  tpair_settle(tp);
  ck_assert_int_eq(tp->side[TX].failed, failed_before + 1);
  ck_assert_int_eq(tp->side[TX].error, RTCSEC_ERR_KEY_EXHAUSTED);
  /* the peer got close_notify and ends too; no media reached it */
  ck_assert_int_eq(tp->side[RX].closed, 1);
  ck_assert_uint_eq(tp->side[RX].rtp_ok + tp->side[RX].rtcp_ok, rx_media0);
  ck_assert_int_eq(tpair_send_rtp(tp, RX, 0x99u, 1, PAYLOAD), RTCSEC_ERR_CLOSED);
}

START_TEST(srtp_key_limit_refuses_the_packet_and_closes_the_session_as_key_exhausted) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  key_limit_is_final(&b, RTCSEC_SRTP_LIMIT_SRTP_PACKETS - 1, 0, 0);
  bad_free(&b);
}
END_TEST

START_TEST(srtcp_key_limit_refuses_the_packet_and_closes_the_session_as_key_exhausted) {
  bad b;
  bad_setup(&b, (rtcsec_srtp_profile)all_test_profiles[_i]);
  key_limit_is_final(&b, 0, RTCSEC_SRTP_LIMIT_SRTCP_PACKETS - 1, 1);
  bad_free(&b);
}
END_TEST

/* ---- DTLS garbage once connected ---------------------------------------------- */

/* RFC 6347 §4.1.2.7: invalid records, including bad MACs, SHOULD be
 * silently discarded. Random datagrams with a DTLS first byte, and random
 * records with a plausible DTLS 1.2 header (epoch 0 and 1, every content
 * type) reach the association and are dropped; the association neither
 * fails nor answers; DTLS application data and SRTP go on both ways. */
START_TEST(dtls_garbage_after_connected_is_dropped_and_the_session_goes_on) {
  bad b;
  bad_setup(&b, RTCSEC_SRTP_NONE);
  tpair *tp = b.tp;
  uint64_t rng = 0xd71500;
  uint8_t buf[1500];
  snap t0, t1;
  take(tp, RX, &t0);
  const int n = 3000;
  for (int i = 0; i < n; i++) {
    size_t len = 1 + (size_t)(test_rand_next(&rng) % sizeof(buf));
    fill_random(buf, len, &rng);
    buf[0] = (uint8_t)(20 + test_rand_next(&rng) % 44);
    if (i % 2 == 1 && len >= 13) {
      /* plausible header: type 20..23, DTLS 1.2, epoch 0 or 1, length
       * right, too long or too short */
      buf[0] = (uint8_t)(20 + i % 4);
      buf[1] = 0xfe;
      buf[2] = 0xfd;
      buf[3] = 0;
      buf[4] = (uint8_t)((i / 4) % 2);
      size_t body = len - 13 + (size_t)(i % 3) - 1;
      buf[11] = (uint8_t)(body >> 8);
      buf[12] = (uint8_t)body;
    }
    snap s0, s1;
    offer_expect(&b, buf, len, RTCSEC_OK, RTCSEC_PKT_DTLS, &s0, &s1);
  }
  take(tp, RX, &t1);
  expect_delta(&t0, &t1, "in_dtls", (long long)n, "dtls.datagrams_received", ANY,
               "dtls.bytes_received", ANY, "dtls.datagrams_dropped", ANY, (const char *)NULL);
  tpair_settle(tp);
  ck_assert_int_eq(tp->side[RX].failed + tp->side[TX].failed, 0);
  ck_assert_int_eq(tp->side[RX].closed + tp->side[TX].closed, 0);
  ck_assert_int_eq(tp->side[RX].n_data, 0);
  /* DTLS itself still works both ways ... */
  static const uint8_t hello[] = {0x13, 0x88, 0x13, 0x88, 0xde, 0xad};
  for (int s = 0; s < 2; s++) {
    ck_assert_int_eq(rtcsec_transport_send_data(tp->side[s].t, hello, sizeof(hello), tp->now), 0);
    tpair_settle(tp);
    ck_assert_int_eq(tp->side[1 - s].n_data, 1);
    ck_assert_mem_eq(tp->side[1 - s].data, hello, sizeof(hello));
  }
  /* ... and so does media */
  genuine_passes(&b);
  bad_free(&b);
}
END_TEST

/* ---- sequence-number wrap ------------------------------------------------------ */

#define WRAP_PACKETS 70000u
#define WRAP_FIRST_SEQ 65000u /* ext. seq 65000 .. 134999: wraps at 65536 and 131072 */
#define WRAP_NEAR 600u        /* "around the wrap": within this of 65535 -> 0 */

typedef struct wrap_loss {
  uint64_t dropped[2]; /* by sender */
} wrap_loss;

/* Deterministic ~2 % loss of the RTP packets within WRAP_NEAR of a 16-bit
 * wrap, before and after it (both wraps: the decision sees only the 16-bit
 * sequence number); nothing else is lost. */
static int drop_near_wrap(void *user, int from, uint64_t index, const uint8_t *data, size_t len) {
  (void)index;
  wrap_loss *wl = user;
  if (len < 12 || data[0] < 128 || data[0] > 191 || (data[1] & 0x7f) != 96)
    return 0;
  uint16_t seq = (uint16_t)(data[2] << 8 | data[3]);
  if (seq < 65536u - WRAP_NEAR && seq >= WRAP_NEAR)
    return 0;
  uint32_t ssrc =
      (uint32_t)data[8] << 24 | (uint32_t)data[9] << 16 | (uint32_t)data[10] << 8 | data[11];
  uint32_t h = ((uint32_t)seq * 2654435761u) ^ (ssrc * 40503u);
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  if (h % 50 != 0)
    return 0;
  wl->dropped[from]++;
  return 1;
}

START_TEST(seventy_thousand_packets_per_ssrc_cross_the_sequence_wrap_both_ways) {
  rtcsec_srtp_profile p = (rtcsec_srtp_profile)all_test_profiles[_i];
  wrap_loss wl = {{0, 0}};
  link_config lc = {
      .seed = 0x77a9 + (uint64_t)_i, .reorder = 0.02, .drop = drop_near_wrap, .drop_user = &wl};
  tpair *tp = tpair_new(0, &lc, p);
  ck_assert_int_eq(tp->side[0].connected + tp->side[1].connected, 2);
  const uint32_t ssrc[2] = {0xa0a0a0a0u, 0xb1b1b1b1u}; /* sent by side 0, side 1 */
  for (uint32_t i = 0; i < WRAP_PACKETS; i++) {
    uint16_t seq = (uint16_t)(WRAP_FIRST_SEQ + i);
    for (int s = 0; s < 2; s++) {
      int rc = tpair_send_rtp(tp, s, ssrc[s], seq, 40);
      if (rc != RTCSEC_OK)
        ck_abort_msg("%s: side %d packet %u: protect %s", rtcsec_srtp_profile_name(p), s, i,
                     rtcsec_strerror(rc));
    }
    if (i % 100 == 99) {
      tpair_settle(tp);
      for (int s = 0; s < 2; s++) {
        if (tp->side[s].media_errors != 0)
          ck_abort_msg("%s: side %d: %s near packet %u (seed %llu)", rtcsec_srtp_profile_name(p), s,
                       rtcsec_strerror(tp->side[s].last_rc), i, (unsigned long long)lc.seed);
      }
    }
  }
  tpair_settle(tp);
  const uint32_t last = WRAP_FIRST_SEQ + WRAP_PACKETS - 1;
  for (int s = 0; s < 2; s++) {
    tside *rx = &tp->side[1 - s];
    ck_assert_uint_gt(wl.dropped[s], 10); /* the loss did happen, ~2 % of 2 x 1200 */
    ck_assert_uint_lt(wl.dropped[s], 100);
    ck_assert_uint_eq(rx->rtp_ok, WRAP_PACKETS - wl.dropped[s]);
    ck_assert_uint_eq(rx->media_errors, 0);
    ck_assert_uint_eq(rx->bad_payload, 0);
    rtcsec_srtp_ssrc_stats in, out;
    ck_assert_int_eq(rtcsec_transport_get_ssrc_stats(rx->t, ssrc[s], 0, &in), 0);
    ck_assert_int_eq(rtcsec_transport_get_ssrc_stats(tp->side[s].t, ssrc[s], 1, &out), 0);
    ck_assert_uint_eq(out.rtp_packets, WRAP_PACKETS);
    ck_assert_uint_eq(out.roc, last >> 16); /* 2: crossed twice */
    ck_assert_uint_eq(in.roc, 2);
    ck_assert_uint_eq(in.rtp_packets, WRAP_PACKETS - wl.dropped[s]);
    ck_assert_uint_eq(in.rtp_bytes, in.rtp_packets * 52);
    rtcsec_transport_stats st;
    rtcsec_transport_get_stats(rx->t, &st);
    ck_assert_uint_eq(st.srtp.inbound.auth_failures + st.srtp.inbound.replay_drops +
                          st.srtp.inbound.too_old_drops + st.srtp.inbound.malformed +
                          st.srtp.inbound.other_errors,
                      0);
    ck_assert_int_eq(st.state, RTCSEC_DTLS_STATE_CONNECTED);
  }
  tpair_free(tp);
}
END_TEST

/* ---- registration ---------------------------------------------------------------- */

void transport_bad_input_cases(Suite *s) {
  TCase *tc = tcase_create("bad_input");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, empty_datagram_is_dropped_as_unknown_and_media_goes_on);
  tcase_add_test(tc, one_byte_datagrams_get_the_outcome_of_their_range_and_media_goes_on);
  tcase_add_test(tc, first_bytes_4_to_15_are_dropped_as_unknown);
  tcase_add_test(tc, zrtp_first_bytes_16_to_19_are_dropped_as_unsupported);
  tcase_add_test(tc, turn_channel_first_bytes_64_to_79_are_dropped_as_unsupported);
  tcase_add_test(tc, first_bytes_80_to_127_are_dropped_as_unknown);
  tcase_add_test(tc, first_bytes_192_to_255_are_dropped_as_unknown);
  tcase_add_test(tc, oversized_srtp_datagram_fails_authentication_and_media_goes_on);
  tcase_add_test(tc, oversized_srtcp_datagram_fails_authentication_and_media_goes_on);
  tcase_add_test(tc, oversized_dtls_datagram_is_dropped_and_the_session_goes_on);
  tcase_add_test(tc, rtp_shorter_than_12_bytes_is_malformed);
  tcase_add_test(tc, srtcp_shorter_than_header_index_and_tag_is_malformed);
  tcase_add_test(tc, csrc_count_past_the_end_is_malformed);
  tcase_add_test(tc, header_extension_length_past_the_end_is_malformed);
  tcase_add_loop_test(tc, tampered_payload_byte_fails_authentication, 0, 4);
  tcase_add_loop_test(tc, tampered_tag_fails_authentication, 0, 4);
  tcase_add_loop_test(tc, tampered_rtp_header_fails_authentication, 0, 4);
  tcase_add_loop_test(tc, replayed_srtp_packet_is_refused_as_replay, 0, 4);
  tcase_add_loop_test(tc, replayed_srtcp_packet_is_refused_as_replay, 0, 4);
  tcase_add_loop_test(tc, index_older_than_the_replay_window_is_refused_as_too_old, 0, 4);
  tcase_add_loop_test(tc, srtcp_with_e_bit_cleared_is_refused_as_malformed, 0, 4);
  tcase_add_test(tc, random_media_datagrams_are_all_refused_and_change_nothing);
  tcase_add_test(tc, srtp_before_the_handshake_is_refused_with_no_keys);
  tcase_add_test(tc, peer_opening_10000_ssrcs_is_capped_at_max_inbound_ssrcs);
  tcase_add_loop_test(tc, srtp_key_limit_refuses_the_packet_and_closes_the_session_as_key_exhausted,
                      0, 4);
  tcase_add_loop_test(
      tc, srtcp_key_limit_refuses_the_packet_and_closes_the_session_as_key_exhausted, 0, 4);
  tcase_add_test(tc, dtls_garbage_after_connected_is_dropped_and_the_session_goes_on);
  suite_add_tcase(s, tc);

  TCase *wrap = tcase_create("sequence_wrap");
  tcase_set_timeout(wrap, 120);
  tcase_add_loop_test(wrap, seventy_thousand_packets_per_ssrc_cross_the_sequence_wrap_both_ways, 0,
                      4);
  suite_add_tcase(s, wrap);
}
