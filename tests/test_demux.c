/* One-socket demultiplexing (lib/demux.c): RFC 7983 §7, RFC 9443, RFC 5761 §4. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/demux.h"

/* The first-byte ranges, written out from the RFC 7983 / RFC 9443 figure.
 * Bytes in no range are RTCSEC_PKT_UNKNOWN. For 128..191 the class also
 * depends on the second byte; the table gives the class for a second byte
 * of 0 (payload type 0, RTP). */
struct range {
  int lo, hi;
  rtcsec_packet_class cls;
};

static const struct range first_byte_ranges[] = {
    {0, 3, RTCSEC_PKT_STUN},           {16, 19, RTCSEC_PKT_ZRTP},  {20, 63, RTCSEC_PKT_DTLS},
    {64, 79, RTCSEC_PKT_TURN_CHANNEL}, {128, 191, RTCSEC_PKT_RTP},
};

static rtcsec_packet_class expected_for_first_byte(int b) {
  for (size_t i = 0; i < sizeof(first_byte_ranges) / sizeof(first_byte_ranges[0]); i++) {
    if (b >= first_byte_ranges[i].lo && b <= first_byte_ranges[i].hi)
      return first_byte_ranges[i].cls;
  }
  return RTCSEC_PKT_UNKNOWN;
}

static int is_rtp_range(int b) { return b >= 128 && b <= 191; }

/* Classifies from a heap buffer of exactly len bytes, so that ASan reports
 * any read past the datagram. */
static rtcsec_packet_class classify_exact(const uint8_t *bytes, size_t len) {
  uint8_t *p = malloc(len > 0 ? len : 1);
  ck_assert_ptr_nonnull(p);
  if (len > 0)
    memcpy(p, bytes, len);
  rtcsec_packet_class c = rtcsec_demux_classify(p, len);
  free(p);
  return c;
}

START_TEST(demux_classifies_every_first_byte_per_rfc_7983_and_9443) {
  int counts[7] = {0};
  for (int b = 0; b < 256; b++) {
    /* A typical datagram: first byte, second byte 0, some payload. */
    uint8_t pkt[12] = {(uint8_t)b, 0x00, 0x12, 0x34};
    rtcsec_packet_class want = expected_for_first_byte(b);
    rtcsec_packet_class got = classify_exact(pkt, sizeof(pkt));
    ck_assert_msg(got == want, "first byte %d: got %s, want %s", b, rtcsec_packet_class_name(got),
                  rtcsec_packet_class_name(want));
    counts[got]++;

    /* Two bytes are enough everywhere. */
    ck_assert_int_eq(classify_exact(pkt, 2), want);
    /* One byte is enough everywhere but in the RTP/RTCP range. */
    ck_assert_int_eq(classify_exact(pkt, 1), is_rtp_range(b) ? RTCSEC_PKT_UNKNOWN : want);
  }
  /* The range sizes, counted independently of the table lookups above. */
  ck_assert_int_eq(counts[RTCSEC_PKT_STUN], 4);
  ck_assert_int_eq(counts[RTCSEC_PKT_ZRTP], 4);
  ck_assert_int_eq(counts[RTCSEC_PKT_DTLS], 44);
  ck_assert_int_eq(counts[RTCSEC_PKT_TURN_CHANNEL], 16);
  ck_assert_int_eq(counts[RTCSEC_PKT_RTP], 64);
  ck_assert_int_eq(counts[RTCSEC_PKT_RTCP], 0);
  ck_assert_int_eq(counts[RTCSEC_PKT_UNKNOWN], 256 - 4 - 4 - 44 - 16 - 64);
}
END_TEST

START_TEST(demux_splits_rtp_and_rtcp_at_the_rfc_5761_boundaries) {
  struct {
    uint8_t second;
    rtcsec_packet_class want;
  } cases[] = {
      /* payload type 63 | 64 ... 95 | 96, marker bit clear */
      {0x3F, RTCSEC_PKT_RTP},
      {0x40, RTCSEC_PKT_RTCP},
      {0x5F, RTCSEC_PKT_RTCP},
      {0x60, RTCSEC_PKT_RTP},
      /* the same with the marker bit (0x80) set: RTCP types 192 and 223 */
      {0xBF, RTCSEC_PKT_RTP},
      {0xC0, RTCSEC_PKT_RTCP},
      {0xDF, RTCSEC_PKT_RTCP},
      {0xE0, RTCSEC_PKT_RTP},
      /* real RTCP types (SR 200, RR 201, BYE 203, RTPFB 205, PSFB 206) */
      {200, RTCSEC_PKT_RTCP},
      {201, RTCSEC_PKT_RTCP},
      {203, RTCSEC_PKT_RTCP},
      {205, RTCSEC_PKT_RTCP},
      {206, RTCSEC_PKT_RTCP},
      /* common RTP payload types: PCMU 0, dynamic 96, 111, with marker */
      {0x00, RTCSEC_PKT_RTP},
      {96, RTCSEC_PKT_RTP},
      {111, RTCSEC_PKT_RTP},
      {0x80 | 111, RTCSEC_PKT_RTP},
      {0x7F, RTCSEC_PKT_RTP},
      {0xFF, RTCSEC_PKT_RTP},
  };
  /* Both ends of the RTP/RTCP first-byte range and the usual V=2 byte. */
  static const uint8_t firsts[] = {0x80, 0x81, 0x90, 0xBF};
  for (size_t f = 0; f < sizeof(firsts); f++) {
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      uint8_t pkt[2] = {firsts[f], cases[i].second};
      rtcsec_packet_class got = classify_exact(pkt, sizeof(pkt));
      ck_assert_msg(got == cases[i].want, "bytes %02X %02X: got %s", firsts[f], cases[i].second,
                    rtcsec_packet_class_name(got));
    }
  }
}
END_TEST

START_TEST(demux_second_byte_matters_only_in_the_rtp_range) {
  for (int b = 0; b < 256; b++) {
    for (int s = 0; s < 256; s++) {
      uint8_t pkt[2] = {(uint8_t)b, (uint8_t)s};
      rtcsec_packet_class want = expected_for_first_byte(b);
      if (is_rtp_range(b)) {
        /* RTCP packet types 192..223 with or without the top bit. */
        int rtcp = (s >= 0x40 && s <= 0x5F) || (s >= 0xC0 && s <= 0xDF);
        want = rtcp ? RTCSEC_PKT_RTCP : RTCSEC_PKT_RTP;
      }
      ck_assert_int_eq(rtcsec_demux_classify(pkt, sizeof(pkt)), want);
    }
  }
}
END_TEST

START_TEST(demux_empty_and_one_byte_datagrams) {
  static const uint8_t rtp[] = {0x80, 0xC8};
  static const uint8_t dtls[] = {0x16};
  static const uint8_t stun[] = {0x00};
  ck_assert_int_eq(rtcsec_demux_classify(NULL, 0), RTCSEC_PKT_UNKNOWN);
  ck_assert_int_eq(rtcsec_demux_classify(dtls, 0), RTCSEC_PKT_UNKNOWN);
  ck_assert_int_eq(classify_exact(dtls, 0), RTCSEC_PKT_UNKNOWN);
  /* A single byte in 128..191 cannot say RTP or RTCP. */
  ck_assert_int_eq(classify_exact(rtp, 1), RTCSEC_PKT_UNKNOWN);
  ck_assert_int_eq(classify_exact(rtp, 2), RTCSEC_PKT_RTCP);
  ck_assert_int_eq(classify_exact(dtls, 1), RTCSEC_PKT_DTLS);
  ck_assert_int_eq(classify_exact(stun, 1), RTCSEC_PKT_STUN);
}
END_TEST

START_TEST(demux_class_names_are_stable_for_logs) {
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_UNKNOWN), "unknown");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_STUN), "stun");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_ZRTP), "zrtp");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_DTLS), "dtls");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_TURN_CHANNEL), "turn-channel");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_RTP), "rtp");
  ck_assert_str_eq(rtcsec_packet_class_name(RTCSEC_PKT_RTCP), "rtcp");
  ck_assert_str_eq(rtcsec_packet_class_name((rtcsec_packet_class)99), "unknown");
  ck_assert_str_eq(rtcsec_packet_class_name((rtcsec_packet_class)-1), "unknown");
}
END_TEST

int main(void) {
  Suite *s = suite_create("demux");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, demux_classifies_every_first_byte_per_rfc_7983_and_9443);
  tcase_add_test(tc, demux_splits_rtp_and_rtcp_at_the_rfc_5761_boundaries);
  tcase_add_test(tc, demux_second_byte_matters_only_in_the_rtp_range);
  tcase_add_test(tc, demux_empty_and_one_byte_datagrams);
  tcase_add_test(tc, demux_class_names_are_stable_for_logs);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
