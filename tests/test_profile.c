/* SRTP profile names and sizes (RFC 5764 §4.1.2, RFC 7714 §14.2). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/profile.h"

START_TEST(profile_names_round_trip_rfc_and_openssl_forms) {
  rtcsec_srtp_profile p;
  ck_assert_int_eq(rtcsec_srtp_profile_from_name("SRTP_AES128_CM_HMAC_SHA1_80", &p), 0);
  ck_assert_int_eq(p, RTCSEC_SRTP_AES128_CM_SHA1_80);
  ck_assert_int_eq(rtcsec_srtp_profile_from_name("SRTP_AES128_CM_SHA1_32", &p), 0);
  ck_assert_int_eq(p, RTCSEC_SRTP_AES128_CM_SHA1_32);
  ck_assert_int_eq(rtcsec_srtp_profile_from_name("srtp_aead_aes_256_gcm", &p), 0);
  ck_assert_int_eq(p, RTCSEC_SRTP_AEAD_AES_256_GCM);
  ck_assert_str_eq(rtcsec_srtp_profile_name(RTCSEC_SRTP_AEAD_AES_128_GCM), "SRTP_AEAD_AES_128_GCM");
  ck_assert_str_eq(rtcsec_srtp_profile_name((rtcsec_srtp_profile)0x0005), "unknown");
  ck_assert_int_eq(rtcsec_srtp_profile_from_name("SRTP_NULL_SHA1_80", &p), RTCSEC_ERR_PROFILE_NAME);
  ck_assert_int_eq(rtcsec_srtp_profile_from_name("SRTP_AES128_CM_SHA1_8", &p),
                   RTCSEC_ERR_PROFILE_NAME);
}
END_TEST

START_TEST(profile_key_and_salt_lengths_follow_the_rfcs) {
  ck_assert_uint_eq(rtcsec_srtp_profile_key_len(RTCSEC_SRTP_AES128_CM_SHA1_80), 16);
  ck_assert_uint_eq(rtcsec_srtp_profile_salt_len(RTCSEC_SRTP_AES128_CM_SHA1_80), 14);
  ck_assert_uint_eq(rtcsec_srtp_profile_key_len(RTCSEC_SRTP_AEAD_AES_128_GCM), 16);
  ck_assert_uint_eq(rtcsec_srtp_profile_salt_len(RTCSEC_SRTP_AEAD_AES_128_GCM), 12);
  ck_assert_uint_eq(rtcsec_srtp_profile_key_len(RTCSEC_SRTP_AEAD_AES_256_GCM), 32);
  ck_assert_uint_eq(rtcsec_srtp_profile_salt_len(RTCSEC_SRTP_AEAD_AES_256_GCM), 12);
  ck_assert_uint_eq(rtcsec_srtp_profile_key_len(RTCSEC_SRTP_NONE), 0);
}
END_TEST

START_TEST(profile_list_parse_keeps_order_and_rejects_bad_lists) {
  rtcsec_srtp_profile out[4];
  size_t n = 0;
  ck_assert_int_eq(
      rtcsec_srtp_profile_list_parse("SRTP_AES128_CM_SHA1_80: SRTP_AEAD_AES_128_GCM", out, 4, &n),
      0);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(out[0], RTCSEC_SRTP_AES128_CM_SHA1_80);
  ck_assert_int_eq(out[1], RTCSEC_SRTP_AEAD_AES_128_GCM);
  ck_assert_int_eq(rtcsec_srtp_profile_list_parse("", out, 4, &n), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_srtp_profile_list_parse("SRTP_AEAD_AES_128_GCM,,", out, 4, &n),
                   RTCSEC_ERR_PARSE);
  ck_assert_int_eq(
      rtcsec_srtp_profile_list_parse("SRTP_AEAD_AES_128_GCM,SRTP_AEAD_AES_128_GCM", out, 4, &n),
      RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_srtp_profile_list_parse("SRTP_AEAD_AES_128_GCM,bogus", out, 4, &n),
                   RTCSEC_ERR_PROFILE_NAME);
  ck_assert_int_eq(
      rtcsec_srtp_profile_list_parse("SRTP_AEAD_AES_128_GCM,SRTP_AEAD_AES_256_GCM", out, 1, &n),
      RTCSEC_ERR_LIMIT);
}
END_TEST

START_TEST(keys_wipe_clears_every_byte) {
  rtcsec_srtp_keys k;
  memset(&k, 0xA5, sizeof(k));
  rtcsec_srtp_keys_wipe(&k);
  const unsigned char *b = (const unsigned char *)&k;
  for (size_t i = 0; i < sizeof(k); i++)
    ck_assert_uint_eq(b[i], 0);
}
END_TEST

START_TEST(strerror_names_every_code_and_unknown_ones) {
  ck_assert_str_eq(rtcsec_strerror(RTCSEC_ERR_SRTP_AUTH), "auth failed");
  ck_assert_str_eq(rtcsec_strerror(RTCSEC_ERR_SRTP_REPLAY), "replayed");
  ck_assert_str_eq(rtcsec_strerror(RTCSEC_ERR_SRTP_TOO_OLD), "too old");
  ck_assert_str_eq(rtcsec_strerror(-12345), "unknown error");
  for (int c = 0; c >= -99; c--) {
    const char *s = rtcsec_strerror(c);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_gt(strlen(s), 0);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("profile");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, profile_names_round_trip_rfc_and_openssl_forms);
  tcase_add_test(tc, profile_key_and_salt_lengths_follow_the_rfcs);
  tcase_add_test(tc, profile_list_parse_keeps_order_and_rejects_bad_lists);
  tcase_add_test(tc, keys_wipe_clears_every_byte);
  tcase_add_test(tc, strerror_names_every_code_and_unknown_ones);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
