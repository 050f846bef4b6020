/* The CoAP messages of rtcsec-dtls (tools/coap.c): building and parsing
 * against RFC 7252's encoding, and every length field wrong. */
#include <check.h>
#include <string.h>

#include "coap.h"

START_TEST(get_request_encodes_as_rfc7252_says) {
  static const uint8_t token[4] = {0xde, 0xad, 0xbe, 0xef};
  uint8_t out[64];
  size_t n = coap_build_get(out, sizeof(out), 0x1234, token, sizeof(token), "sensors/temp");
  /* Ver 1, CON, TKL 4 | GET | MID | token | Uri-Path (delta 11, len 7) |
   * Uri-Path (delta 0, len 4) */
  static const uint8_t want[] = {0x44, 0x01, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0xb7, 's', 'e',
                                 'n',  's',  'o',  'r',  's',  0x04, 't',  'e',  'm',  'p'};
  ck_assert_uint_eq(n, sizeof(want));
  ck_assert_mem_eq(out, want, sizeof(want));
  coap_msg m;
  ck_assert_int_eq(coap_parse(out, n, &m), 0);
  ck_assert_uint_eq(m.type, COAP_CON);
  ck_assert_uint_eq(m.code, COAP_GET);
  ck_assert_uint_eq(m.message_id, 0x1234);
  ck_assert_uint_eq(m.token_len, 4);
  ck_assert_mem_eq(m.token, token, 4);
  ck_assert_str_eq(m.uri_path, "sensors/temp");
  ck_assert_ptr_null(m.payload);
  /* the root: no option at all */
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 4, ""), 8);
  /* a 13..268-byte segment takes the one-byte extended length */
  char seg[40];
  memset(seg, 'x', sizeof(seg) - 1);
  seg[sizeof(seg) - 1] = '\0';
  n = coap_build_get(out, sizeof(out), 1, token, 4, seg);
  ck_assert_uint_eq(n, 8 + 2 + 39);
  ck_assert_uint_eq(out[8], 0xbd);
  ck_assert_uint_eq(out[9], 39 - 13);
  ck_assert_int_eq(coap_parse(out, n, &m), 0);
  ck_assert_str_eq(m.uri_path, seg);
}
END_TEST

START_TEST(piggybacked_response_matches_the_request) {
  static const uint8_t token[2] = {0x01, 0x02};
  uint8_t req[32], out[64];
  size_t n = coap_build_get(req, sizeof(req), 0xbeef, token, sizeof(token), "time");
  coap_msg r;
  ck_assert_int_eq(coap_parse(req, n, &r), 0);
  n = coap_build_response(out, sizeof(out), &r, COAP_CONTENT, (const uint8_t *)"21.5 C", 6);
  static const uint8_t want[] = {0x62, 0x45, 0xbe, 0xef, 0x01, 0x02, 0xc0,
                                 0xff, '2',  '1',  '.',  '5',  ' ',  'C'};
  ck_assert_uint_eq(n, sizeof(want));
  ck_assert_mem_eq(out, want, sizeof(want));
  coap_msg m;
  ck_assert_int_eq(coap_parse(out, n, &m), 0);
  ck_assert_uint_eq(m.type, COAP_ACK);
  ck_assert_uint_eq(m.payload_len, 6);
  ck_assert_mem_eq(m.payload, "21.5 C", 6);
  /* no payload: no Content-Format, no marker */
  ck_assert_uint_eq(coap_build_response(out, sizeof(out), &r, COAP_NOT_FOUND, NULL, 0), 6);
  /* too small a buffer is refused, never overrun */
  for (size_t cap = 0; cap < sizeof(want); cap++)
    ck_assert_uint_eq(coap_build_response(out, cap, &r, COAP_CONTENT, (const uint8_t *)"21.5 C", 6),
                      0);
}
END_TEST

START_TEST(bad_paths_and_tokens_are_refused) {
  static const uint8_t token[9] = {0};
  uint8_t out[600];
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 9, "a"), 0);
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 2, "a//b"), 0);
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 2, "a/"), 0);
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 2, "/a"), 0);
  char big[300];
  memset(big, 'y', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ck_assert_uint_eq(coap_build_get(out, sizeof(out), 1, token, 2, big), 0);
  for (size_t cap = 0; cap < 9; cap++)
    ck_assert_uint_eq(coap_build_get(out, cap, 1, token, 2, "abc"), 0);
}
END_TEST

/* Every malformation of RFC 7252 §3 is refused: short header, version,
 * token length 9..15 and past the end, option delta or length 15 (not the
 * marker), extended bytes missing, option value past the end, a marker
 * without payload. */
START_TEST(malformed_messages_are_refused) {
  static const struct {
    const char *what;
    uint8_t bytes[12];
    size_t len;
  } cases[] = {
      {"3 bytes", {0x40, 0x01, 0x00}, 3},
      {"version 2", {0x80, 0x01, 0x00, 0x01}, 4},
      {"token length 9", {0x49, 0x01, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, 12},
      {"token past the end", {0x44, 0x01, 0x00, 0x01, 1, 2}, 6},
      {"delta 15", {0x40, 0x01, 0x00, 0x01, 0xf1, 'a'}, 6},
      {"length 15", {0x40, 0x01, 0x00, 0x01, 0x1f, 'a'}, 6},
      {"delta 13 without its byte", {0x40, 0x01, 0x00, 0x01, 0xd0}, 5},
      {"delta 14 with one byte", {0x40, 0x01, 0x00, 0x01, 0xe0, 0x00}, 6},
      {"length 13 without its byte", {0x40, 0x01, 0x00, 0x01, 0xbd}, 5},
      {"value past the end", {0x40, 0x01, 0x00, 0x01, 0xb5, 'a', 'b'}, 7},
      {"marker, no payload", {0x40, 0x01, 0x00, 0x01, 0xff}, 5},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    coap_msg m;
    ck_assert_msg(coap_parse(cases[i].bytes, cases[i].len, &m) == -1, "%s was accepted",
                  cases[i].what);
  }
  coap_msg m;
  ck_assert_int_eq(coap_parse(NULL, 4, &m), -1);
  /* a Uri-Path longer than COAP_MAX_PATH in all */
  uint8_t longp[4 + 3 * (3 + 200)];
  size_t n = 4;
  longp[0] = 0x40;
  longp[1] = 0x01;
  longp[2] = longp[3] = 0;
  for (int k = 0; k < 3; k++) {
    longp[n++] = k == 0 ? 0xbd : 0x0d;
    longp[n++] = 200 - 13;
    memset(longp + n, 'z', 200);
    n += 200;
  }
  ck_assert_int_eq(coap_parse(longp, n, &m), -1);
  /* the smallest message (an empty ACK) is fine */
  static const uint8_t empty_ack[] = {0x60, 0x00, 0x12, 0x34};
  ck_assert_int_eq(coap_parse(empty_ack, sizeof(empty_ack), &m), 0);
  ck_assert_uint_eq(m.type, COAP_ACK);
  ck_assert_uint_eq(m.code, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("coap");
  TCase *tc = tcase_create("messages");
  tcase_add_test(tc, get_request_encodes_as_rfc7252_says);
  tcase_add_test(tc, piggybacked_response_matches_the_request);
  tcase_add_test(tc, bad_paths_and_tokens_are_refused);
  tcase_add_test(tc, malformed_messages_are_refused);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
