/* The transport: one object per socket carrying STUN, DTLS and SRTP. Two
 * transports run over the seeded in-memory link with the fake clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "harness.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "transport_util.h"

#define SEC 1000000u

/* ---- media on a connected pair ---------------------------------------------- */

START_TEST(media_flows_both_ways_intact_after_the_handshake) {
  tpair *tp = tpair_new(0, NULL, (rtcsec_srtp_profile)all_test_profiles[_i]);
  ck_assert_int_eq(tp->side[0].connected, 1);
  ck_assert_int_eq(tp->side[1].connected, 1);
  ck_assert_int_eq(rtcsec_transport_get_state(tp->side[0].t), RTCSEC_DTLS_STATE_CONNECTED);
  /* 10 000 RTP and, every 50th, an RTCP sender report, each way */
  for (uint32_t i = 0; i < 10000; i++) {
    for (int s = 0; s < 2; s++) {
      ck_assert_int_eq(tpair_send_rtp(tp, s, 0x1000u + (uint32_t)s, (uint16_t)i, 160), 0);
      if (i % 50 == 0)
        ck_assert_int_eq(tpair_send_rtcp(tp, s, 0x1000u + (uint32_t)s), 0);
    }
    if (i % 100 == 99)
      tpair_settle(tp);
  }
  tpair_settle(tp);
  for (int s = 0; s < 2; s++) {
    tside *r = &tp->side[1 - s];
    ck_assert_uint_eq(r->rtp_ok, 10000);
    ck_assert_uint_eq(r->rtcp_ok, 200);
    ck_assert_uint_eq(r->bad_payload, 0);
    ck_assert_uint_eq(r->media_errors, 0);
    rtcsec_transport_stats st;
    ck_assert_int_eq(rtcsec_transport_get_stats(r->t, &st), 0);
    ck_assert_uint_eq(st.srtp.inbound.rtp_packets, 10000);
    ck_assert_uint_eq(st.srtp.inbound.rtcp_packets, 200);
    ck_assert_uint_eq(st.in_rtp, 10000);
    ck_assert_int_eq(st.profile, all_test_profiles[_i]);
    ck_assert_str_eq(st.dtls_version, "DTLSv1.2");
    ck_assert_uint_gt(strlen(st.peer_fingerprint), 64);
    ck_assert_uint_gt(strlen(st.local_fingerprint), 64);
    rtcsec_srtp_ssrc_stats ss;
    ck_assert_int_eq(rtcsec_transport_get_ssrc_stats(r->t, 0x1000u + (uint32_t)s, 0, &ss), 0);
    ck_assert_uint_eq(ss.rtp_packets, 10000);
    ck_assert_uint_eq(ss.last_seq, 9999);
  }
  tpair_free(tp);
}
END_TEST

START_TEST(lossy_link_delivers_each_arriving_packet_exactly_once) {
  link_config lc = {.seed = 1234, .loss = 0.10, .reorder = 0.10, .duplicate = 0.10};
  tpair *tp = tpair_new(1, &lc, RTCSEC_SRTP_NONE);
  ck_assert_int_eq(tp->side[0].connected, 1);
  ck_assert_int_eq(tp->side[1].connected, 1);
  const link_stats *ls = link_get_stats(tp->link);
  uint64_t sent0[2] = {ls->sent[0], ls->sent[1]}, lost0[2] = {ls->lost[0], ls->lost[1]};
  uint64_t dup0[2] = {ls->duplicated[0], ls->duplicated[1]};
  for (uint32_t i = 0; i < 10000; i++) {
    for (int s = 0; s < 2; s++)
      ck_assert_int_eq(tpair_send_rtp(tp, s, 0xabc0u + (uint32_t)s, (uint16_t)i, 200), 0);
    if (i % 20 == 19)
      tpair_settle(tp);
  }
  tpair_settle(tp);
  for (int s = 0; s < 2; s++) {
    tside *r = &tp->side[1 - s];
    uint64_t arrived = (ls->sent[s] - sent0[s]) - (ls->lost[s] - lost0[s]);
    uint64_t dups = ls->duplicated[s] - dup0[s];
    ck_assert_uint_gt(arrived, 8500); /* the link did lose about 10 % */
    ck_assert_uint_lt(arrived, 9500);
    ck_assert_uint_eq(r->rtp_ok, arrived);
    ck_assert_uint_eq(r->bad_payload, 0);
    ck_assert_uint_eq(r->dup_delivered, 0);
    /* every duplicate was refused as a replay, nothing else failed */
    ck_assert_uint_eq(r->replays, dups);
    ck_assert_uint_eq(r->media_errors, dups);
  }
  tpair_free(tp);
}
END_TEST

/* ---- before, around and after the keys -------------------------------------- */

START_TEST(media_before_the_handshake_is_refused_and_counted) {
  tpair *tp = tpair_unstarted();
  uint8_t pkt[256];
  size_t n = tpair_make_rtp(pkt, 1, 1, 100);
  size_t out = 0;
  ck_assert_int_eq(rtcsec_transport_protect_rtp(tp->side[0].t, pkt, n, sizeof(pkt), &out, tp->now),
                   RTCSEC_ERR_SRTP_NO_KEYS);
  rtcsec_transport_input in;
  ck_assert_int_eq(rtcsec_transport_handle_datagram(tp->side[1].t, pkt, n, 0, &in),
                   RTCSEC_ERR_SRTP_NO_KEYS);
  ck_assert_int_eq(in.kind, RTCSEC_PKT_RTP);
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(tp->side[1].t, &st);
  ck_assert_uint_eq(st.drop_no_keys, 1);
  ck_assert_uint_eq(rtcsec_transport_rtp_overhead(tp->side[0].t), 0);
  /* ... and the handshake then completes and media flows */
  tpair_connect(tp);
  ck_assert_int_eq(tpair_send_rtp(tp, 0, 5, 1, 100), 0);
  tpair_settle(tp);
  ck_assert_uint_eq(tp->side[1].rtp_ok, 1);
  tpair_free(tp);
}
END_TEST

START_TEST(stun_is_handed_back_and_unknown_bytes_are_dropped) {
  tpair *tp = tpair_new(0, NULL, RTCSEC_SRTP_NONE);
  rtcsec_transport *t = tp->side[1].t;
  rtcsec_transport_input in;
  /* a STUN Binding request header: type 0x0001, length 0, magic cookie */
  uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
  ck_assert_int_eq(rtcsec_transport_handle_datagram(t, stun, sizeof(stun), tp->now, &in), 0);
  ck_assert_int_eq(in.kind, RTCSEC_PKT_STUN);
  ck_assert_uint_eq(in.len, sizeof(stun));
  uint8_t b[32] = {0};
  ck_assert_int_eq(rtcsec_transport_handle_datagram(t, b, 0, tp->now, &in),
                   RTCSEC_ERR_DEMUX_UNKNOWN);
  b[0] = 16; /* ZRTP */
  ck_assert_int_eq(rtcsec_transport_handle_datagram(t, b, 32, tp->now, &in),
                   RTCSEC_ERR_UNSUPPORTED);
  b[0] = 64; /* TURN channel */
  ck_assert_int_eq(rtcsec_transport_handle_datagram(t, b, 32, tp->now, &in),
                   RTCSEC_ERR_UNSUPPORTED);
  for (int first = 192; first < 256; first += 7) {
    b[0] = (uint8_t)first;
    ck_assert_int_eq(rtcsec_transport_handle_datagram(t, b, 32, tp->now, &in),
                     RTCSEC_ERR_DEMUX_UNKNOWN);
  }
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(t, &st);
  ck_assert_uint_eq(st.in_stun, 1);
  ck_assert_uint_eq(st.drop_zrtp, 1);
  ck_assert_uint_eq(st.drop_turn_channel, 1);
  ck_assert_uint_eq(st.drop_unknown, 1 + 10);
  /* still working */
  ck_assert_int_eq(tpair_send_rtp(tp, 0, 9, 9, 50), 0);
  tpair_settle(tp);
  ck_assert_uint_eq(tp->side[1].rtp_ok, 1);
  tpair_free(tp);
}
END_TEST

START_TEST(after_close_no_media_passes_either_way) {
  tpair *tp = tpair_new(0, NULL, RTCSEC_SRTP_NONE);
  uint8_t held[256];
  size_t n = tpair_make_rtp(held, 7, 1, 64), out = 0;
  ck_assert_int_eq(
      rtcsec_transport_protect_rtp(tp->side[0].t, held, n, sizeof(held), &out, tp->now), 0);
  ck_assert_int_eq(rtcsec_transport_close(tp->side[0].t, tp->now), 0);
  ck_assert_int_eq(rtcsec_transport_get_state(tp->side[0].t), RTCSEC_DTLS_STATE_CLOSED);
  tpair_settle(tp);
  ck_assert_int_eq(tp->side[1].closed, 1);
  ck_assert_int_eq(rtcsec_transport_get_state(tp->side[1].t), RTCSEC_DTLS_STATE_CLOSED);
  /* a packet protected before the close is no longer accepted by the peer */
  rtcsec_transport_input in;
  ck_assert_int_eq(rtcsec_transport_handle_datagram(tp->side[1].t, held, out, tp->now, &in),
                   RTCSEC_ERR_CLOSED);
  uint8_t pkt[256];
  n = tpair_make_rtp(pkt, 7, 2, 64);
  for (int s = 0; s < 2; s++)
    ck_assert_int_eq(
        rtcsec_transport_protect_rtp(tp->side[s].t, pkt, n, sizeof(pkt), &out, tp->now),
        RTCSEC_ERR_CLOSED);
  rtcsec_transport_stats st;
  rtcsec_transport_get_stats(tp->side[1].t, &st);
  ck_assert_uint_eq(st.drop_closed, 1);
  ck_assert_uint_eq(st.srtp.inbound.rtp_packets, 0); /* counters survive the close */
  tpair_free(tp);
}
END_TEST

START_TEST(a_failed_handshake_never_installs_keys) {
  tpair *tp = tpair_wrong_fingerprint();
  ck_assert_int_eq(tp->side[0].failed + tp->side[1].failed, 2);
  ck_assert_int_eq(tp->side[0].connected + tp->side[1].connected, 0);
  uint8_t pkt[256];
  size_t n = tpair_make_rtp(pkt, 1, 1, 10), out;
  for (int s = 0; s < 2; s++) {
    ck_assert_int_eq(
        rtcsec_transport_protect_rtp(tp->side[s].t, pkt, n, sizeof(pkt), &out, tp->now),
        RTCSEC_ERR_CLOSED);
    rtcsec_transport_stats st;
    rtcsec_transport_get_stats(tp->side[s].t, &st);
    ck_assert_int_eq(st.state, RTCSEC_DTLS_STATE_FAILED);
    ck_assert_int_ne(st.error, 0);
    ck_assert_int_eq(st.profile, RTCSEC_SRTP_NONE);
    ck_assert_str_eq(st.peer_fingerprint, "");
  }
  tpair_free(tp);
}
END_TEST

START_TEST(data_channel_bytes_ride_dtls_application_data) {
  tpair *tp = tpair_new(0, NULL, RTCSEC_SRTP_NONE);
  static const uint8_t sctp[] = {0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4};
  ck_assert_int_eq(rtcsec_transport_send_data(tp->side[0].t, sctp, sizeof(sctp), tp->now), 0);
  tpair_settle(tp);
  ck_assert_int_eq(tp->side[1].n_data, 1);
  ck_assert_uint_eq(tp->side[1].data_len, sizeof(sctp));
  ck_assert_mem_eq(tp->side[1].data, sctp, sizeof(sctp));
  tpair_free(tp);
}
END_TEST

int main(void) {
  Suite *s = suite_create("transport");
  TCase *media = tcase_create("media");
  tcase_set_timeout(media, 120);
  tcase_add_loop_test(media, media_flows_both_ways_intact_after_the_handshake, 0, 4);
  tcase_add_test(media, lossy_link_delivers_each_arriving_packet_exactly_once);
  suite_add_tcase(s, media);
  TCase *life = tcase_create("lifecycle");
  tcase_add_test(life, media_before_the_handshake_is_refused_and_counted);
  tcase_add_test(life, stun_is_handed_back_and_unknown_bytes_are_dropped);
  tcase_add_test(life, after_close_no_media_passes_either_way);
  tcase_add_test(life, a_failed_handshake_never_installs_keys);
  tcase_add_test(life, data_channel_bytes_ride_dtls_application_data);
  suite_add_tcase(s, life);
  transport_bad_input_cases(s);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
