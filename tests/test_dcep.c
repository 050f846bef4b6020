/* The DCEP codec (datachannel/dcep.c, RFC 8832 §5): the wire layout byte
 * for byte, round trips, and every way a message can be malformed. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dcep.h"
#include "link.h"
#include "rtcsec/error.h"

/* RFC 8832 §5.1 by hand: OPEN, channel type 0x81
 * (DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT_UNORDERED), priority 512,
 * reliability parameter 5, label "chat" (4), protocol "x/1" (3). */
static const uint8_t open_vector[] = {
    0x03,                   /* Message Type: DATA_CHANNEL_OPEN */
    0x81,                   /* Channel Type */
    0x02, 0x00,             /* Priority */
    0x00, 0x00, 0x00, 0x05, /* Reliability Parameter */
    0x00, 0x04,             /* Label Length */
    0x00, 0x03,             /* Protocol Length */
    'c',  'h',  'a',  't',  /* Label */
    'x',  '/',  '1',        /* Protocol */
};

START_TEST(the_rfc_8832_open_layout_parses_field_by_field) {
  dcep_msg m;
  ck_assert_int_eq(dcep_parse(open_vector, sizeof(open_vector), &m), 0);
  ck_assert_uint_eq(m.type, DCEP_OPEN);
  ck_assert_int_eq(m.open.ordered, 0);
  ck_assert_int_eq(m.open.reliability, RTCSEC_CHANNEL_MAX_RETRANSMITS);
  ck_assert_uint_eq(m.open.reliability_param, 5);
  ck_assert_uint_eq(m.open.priority, 512);
  ck_assert_uint_eq(m.open.label_len, 4);
  ck_assert_int_eq(memcmp(m.open.label, "chat", 4), 0);
  ck_assert_uint_eq(m.open.protocol_len, 3);
  ck_assert_int_eq(memcmp(m.open.protocol, "x/1", 3), 0);
  /* views into the input, not copies */
  ck_assert_ptr_eq(m.open.label, open_vector + 12);
  /* and the writer produces the same bytes */
  uint8_t out[64];
  size_t n = 0;
  ck_assert_int_eq(dcep_write_open(&m.open, out, sizeof(out), &n), 0);
  ck_assert_uint_eq(n, sizeof(open_vector));
  ck_assert_int_eq(memcmp(out, open_vector, n), 0);
}
END_TEST

START_TEST(every_channel_type_round_trips) {
  static const struct {
    uint8_t wire;
    int ordered;
    rtcsec_channel_reliability rel;
  } types[] = {
      {0x00, 1, RTCSEC_CHANNEL_RELIABLE},        {0x80, 0, RTCSEC_CHANNEL_RELIABLE},
      {0x01, 1, RTCSEC_CHANNEL_MAX_RETRANSMITS}, {0x81, 0, RTCSEC_CHANNEL_MAX_RETRANSMITS},
      {0x02, 1, RTCSEC_CHANNEL_MAX_LIFETIME},    {0x82, 0, RTCSEC_CHANNEL_MAX_LIFETIME},
  };
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
    dcep_open o;
    memset(&o, 0, sizeof(o));
    o.ordered = types[t].ordered;
    o.reliability = types[t].rel;
    o.reliability_param = 0x01020304;
    o.priority = 128;
    o.label = (const uint8_t *)"\xE2\x82\xAC";
    o.label_len = 3;
    uint8_t buf[64];
    size_t n = 0;
    ck_assert_int_eq(dcep_write_open(&o, buf, sizeof(buf), &n), 0);
    ck_assert_uint_eq(n, dcep_open_size(3, 0));
    ck_assert_uint_eq(buf[1], types[t].wire);
    dcep_msg m;
    ck_assert_int_eq(dcep_parse(buf, n, &m), 0);
    ck_assert_int_eq(m.open.ordered, types[t].ordered);
    ck_assert_int_eq(m.open.reliability, types[t].rel);
    /* RFC 8832 §5.1: reliable channels send 0 and the receiver ignores it */
    ck_assert_uint_eq(m.open.reliability_param,
                      types[t].rel == RTCSEC_CHANNEL_RELIABLE ? 0 : 0x01020304);
    ck_assert_uint_eq(buf[4] | buf[5] | buf[6] | buf[7],
                      types[t].rel == RTCSEC_CHANNEL_RELIABLE ? 0 : 0x07);
  }
}
END_TEST

START_TEST(a_reliable_channel_ignores_a_nonzero_parameter) {
  uint8_t v[sizeof(open_vector)];
  memcpy(v, open_vector, sizeof(v));
  v[1] = 0x00;
  v[7] = 9;
  dcep_msg m;
  ck_assert_int_eq(dcep_parse(v, sizeof(v), &m), 0);
  ck_assert_uint_eq(m.open.reliability_param, 0);
}
END_TEST

START_TEST(only_the_six_channel_types_are_known) {
  int known = 0;
  for (int t = 0; t < 256; t++) {
    uint8_t v[sizeof(open_vector)];
    memcpy(v, open_vector, sizeof(v));
    v[1] = (uint8_t)t;
    dcep_msg m;
    int rc = dcep_parse(v, sizeof(v), &m);
    if (rc == 0)
      known++;
    else
      ck_assert_int_eq(rc, RTCSEC_ERR_DC_DCEP_MALFORMED);
  }
  ck_assert_int_eq(known, 6);
}
END_TEST

START_TEST(the_ack_is_exactly_one_byte) {
  static const uint8_t ack[] = {DCEP_ACK, 0};
  dcep_msg m;
  ck_assert_int_eq(dcep_parse(ack, 1, &m), 0);
  ck_assert_uint_eq(m.type, DCEP_ACK);
  ck_assert_int_eq(dcep_parse(ack, 2, &m), RTCSEC_ERR_DC_DCEP_MALFORMED);
  ck_assert_int_eq(dcep_parse(ack, 0, &m), RTCSEC_ERR_DC_DCEP_MALFORMED);
  for (int t = 0; t < 256; t++) {
    if (t == DCEP_ACK || t == DCEP_OPEN)
      continue;
    uint8_t v = (uint8_t)t;
    ck_assert_int_eq(dcep_parse(&v, 1, &m), RTCSEC_ERR_DC_DCEP_MALFORMED);
  }
}
END_TEST

START_TEST(an_open_truncated_at_any_byte_is_malformed) {
  for (size_t cut = 0; cut < sizeof(open_vector); cut++) {
    /* a heap block of exactly `cut` bytes: a read past it is caught */
    uint8_t *v = malloc(cut ? cut : 1);
    ck_assert_ptr_nonnull(v);
    memcpy(v, open_vector, cut);
    dcep_msg m;
    memset(&m, 0xAB, sizeof(m));
    ck_assert_int_eq(dcep_parse(v, cut, &m), RTCSEC_ERR_DC_DCEP_MALFORMED);
    ck_assert_uint_eq(m.type, 0xAB); /* nothing written on error */
    free(v);
  }
}
END_TEST

START_TEST(every_length_field_wrong_is_malformed) {
  static const int deltas[] = {-4, -1, 1, 2, 0x7FFF, -0x8000};
  for (int field = 0; field < 2; field++) {
    for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
      uint8_t v[sizeof(open_vector)];
      memcpy(v, open_vector, sizeof(v));
      size_t at = field == 0 ? 8 : 10;
      uint16_t x = (uint16_t)(v[at] << 8 | v[at + 1]);
      x = (uint16_t)(x + deltas[d]);
      v[at] = (uint8_t)(x >> 8);
      v[at + 1] = (uint8_t)x;
      dcep_msg m;
      ck_assert_msg(dcep_parse(v, sizeof(v), &m) == RTCSEC_ERR_DC_DCEP_MALFORMED,
                    "field %d delta %d", field, deltas[d]);
    }
  }
  /* both moved so that the sum still fits: label 5, protocol 2 splits
   * "chatx" / "/1" - well formed, different strings */
  uint8_t v[sizeof(open_vector)];
  memcpy(v, open_vector, sizeof(v));
  v[9] = 5;
  v[11] = 2;
  dcep_msg m;
  ck_assert_int_eq(dcep_parse(v, sizeof(v), &m), 0);
  ck_assert_int_eq(memcmp(m.open.label, "chatx", 5), 0);
  /* one byte too many after the strings */
  uint8_t longer[sizeof(open_vector) + 1];
  memcpy(longer, open_vector, sizeof(open_vector));
  longer[sizeof(open_vector)] = 0;
  ck_assert_int_eq(dcep_parse(longer, sizeof(longer), &m), RTCSEC_ERR_DC_DCEP_MALFORMED);
}
END_TEST

START_TEST(labels_must_be_utf8_without_nul) {
  static const struct {
    const char *s;
    size_t n;
    int ok;
  } cases[] = {
      {"plain", 5, 1},
      {"", 0, 1},
      {"\xC3\xA4", 2, 1},         /* U+00E4 */
      {"\xE2\x82\xAC", 3, 1},     /* U+20AC */
      {"\xF0\x9F\x98\x80", 4, 1}, /* U+1F600 */
      {"\xF4\x8F\xBF\xBF", 4, 1}, /* U+10FFFF */
      {"\xED\x9F\xBF", 3, 1},     /* U+D7FF, just below the surrogates */
      {"a\0b", 3, 0},             /* NUL */
      {"\xC0\x80", 2, 0},         /* overlong NUL */
      {"\xC1\xBF", 2, 0},         /* overlong */
      {"\xE0\x80\x80", 3, 0},     /* overlong */
      {"\xE0\x9F\xBF", 3, 0},     /* overlong */
      {"\xF0\x8F\xBF\xBF", 4, 0}, /* overlong */
      {"\xED\xA0\x80", 3, 0},     /* surrogate U+D800 */
      {"\xED\xBF\xBF", 3, 0},     /* surrogate U+DFFF */
      {"\xF4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
      {"\xF5\x80\x80\x80", 4, 0},
      {"\xFF", 1, 0},
      {"\x80", 1, 0},         /* a continuation byte alone */
      {"\xC3", 1, 0},         /* cut short */
      {"\xE2\x82", 2, 0},     /* cut short */
      {"\xF0\x9F\x98", 3, 0}, /* cut short */
      {"\xC3\x28", 2, 0},     /* not a continuation */
      {"\xE2\x28\xA1", 3, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_msg(dcep_text_valid((const uint8_t *)cases[i].s, cases[i].n) == cases[i].ok,
                  "case %zu", i);
    /* the same text as label and as protocol of an OPEN */
    for (int where = 0; where < 2; where++) {
      dcep_open o;
      memset(&o, 0, sizeof(o));
      o.ordered = 1;
      o.reliability = RTCSEC_CHANNEL_RELIABLE;
      if (where == 0) {
        o.label = (const uint8_t *)cases[i].s;
        o.label_len = (uint16_t)cases[i].n;
      } else {
        o.protocol = (const uint8_t *)cases[i].s;
        o.protocol_len = (uint16_t)cases[i].n;
      }
      uint8_t buf[32];
      size_t n = 0;
      ck_assert_int_eq(dcep_write_open(&o, buf, sizeof(buf), &n), 0);
      dcep_msg m;
      ck_assert_int_eq(dcep_parse(buf, n, &m) == 0, cases[i].ok);
    }
  }
}
END_TEST

START_TEST(the_longest_open_parses_and_the_writer_checks_its_buffer) {
  size_t n = dcep_open_size(65535, 65535);
  ck_assert_uint_eq(n, DCEP_OPEN_MAX);
  uint8_t *text = malloc(65535);
  uint8_t *buf = malloc(n);
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_nonnull(buf);
  memset(text, 'L', 65535);
  dcep_open o;
  memset(&o, 0, sizeof(o));
  o.ordered = 1;
  o.reliability = RTCSEC_CHANNEL_MAX_LIFETIME;
  o.reliability_param = UINT32_MAX;
  o.label = text;
  o.label_len = 65535;
  o.protocol = text;
  o.protocol_len = 65535;
  size_t got = 0;
  ck_assert_int_eq(dcep_write_open(&o, buf, n - 1, &got), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_int_eq(dcep_write_open(&o, buf, n, &got), 0);
  ck_assert_uint_eq(got, n);
  dcep_msg m;
  ck_assert_int_eq(dcep_parse(buf, n, &m), 0);
  ck_assert_uint_eq(m.open.label_len, 65535);
  ck_assert_uint_eq(m.open.protocol_len, 65535);
  ck_assert_uint_eq(m.open.reliability_param, UINT32_MAX);
  o.reliability = (rtcsec_channel_reliability)3;
  ck_assert_int_eq(dcep_write_open(&o, buf, n, &got), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(dcep_parse(NULL, 1, &m), RTCSEC_ERR_INVALID_ARGUMENT);
  free(text);
  free(buf);
}
END_TEST

START_TEST(random_and_damaged_messages_never_crash_the_parser) {
  uint64_t rng = 99;
  for (int k = 0; k < 200000; k++) {
    size_t len = (size_t)(test_rand_next(&rng) % 64);
    uint8_t *v = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(v);
    if (k % 2 && len >= 1) {
      /* a real OPEN with a few bytes changed */
      size_t n = len < sizeof(open_vector) ? len : sizeof(open_vector);
      memcpy(v, open_vector, n);
      for (size_t i = n; i < len; i++)
        v[i] = (uint8_t)test_rand_next(&rng);
      v[test_rand_next(&rng) % len] = (uint8_t)test_rand_next(&rng);
    } else {
      for (size_t i = 0; i < len; i++)
        v[i] = (uint8_t)test_rand_next(&rng);
    }
    dcep_msg m;
    int rc = dcep_parse(v, len, &m);
    ck_assert(rc == 0 || rc == RTCSEC_ERR_DC_DCEP_MALFORMED);
    if (rc == 0 && m.type == DCEP_OPEN) {
      /* what parses is consistent with its own size */
      ck_assert_uint_eq(dcep_open_size(m.open.label_len, m.open.protocol_len), len);
      ck_assert(dcep_text_valid(m.open.label, m.open.label_len));
    }
    free(v);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("dcep");
  TCase *t = tcase_create("codec");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, the_rfc_8832_open_layout_parses_field_by_field);
  tcase_add_test(t, every_channel_type_round_trips);
  tcase_add_test(t, a_reliable_channel_ignores_a_nonzero_parameter);
  tcase_add_test(t, only_the_six_channel_types_are_known);
  tcase_add_test(t, the_ack_is_exactly_one_byte);
  tcase_add_test(t, an_open_truncated_at_any_byte_is_malformed);
  tcase_add_test(t, every_length_field_wrong_is_malformed);
  tcase_add_test(t, labels_must_be_utf8_without_nul);
  tcase_add_test(t, the_longest_open_parses_and_the_writer_checks_its_buffer);
  tcase_add_test(t, random_and_damaged_messages_never_crash_the_parser);
  suite_add_tcase(s, t);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
