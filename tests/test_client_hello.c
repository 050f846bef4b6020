/* rtcsec-dtls --listen takes its peer from the first valid ClientHello
 * (tools/client_hello.c): what OpenSSL sends through rtcsec passes, and every
 * header field made wrong, every truncation and random bytes do not, each
 * for its own reason. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_hello.h"
#include "rtcsec/rtcsec.h"

/* The first datagram of a real rtcsec DTLS client (OpenSSL's ClientHello). */
static size_t real_client_hello(uint8_t *buf, size_t cap, int mtu) {
  rtcsec_cert *cert = NULL;
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  ck_assert_int_eq(rtcsec_cert_generate(&cert, &cc), 0);
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = RTCSEC_DTLS_CLIENT;
  cfg.cert = cert;
  if (mtu > 0)
    cfg.mtu = (size_t)mtu;
  rtcsec_dtls *d = NULL;
  ck_assert_int_eq(rtcsec_dtls_new(&d, &cfg), 0);
  ck_assert_int_eq(rtcsec_dtls_start(d, 1), 0);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_dtls_poll_datagram(d, buf, cap, &len), 0);
  ck_assert_uint_gt(len, 0);
  rtcsec_dtls_free(d);
  rtcsec_cert_free(cert);
  return len;
}

/* A minimal ClientHello: record (13) + handshake header (12) + a 46-byte
 * fragment of a 54-byte message starting with client_version DTLS 1.2. */
static size_t minimal(uint8_t *p) {
  static const uint8_t head[] = {22,   0xfe, 0xfd, 0,  0, 0, 0, 0, 0, 0, 0, 0,  58, /* record */
                                 1,    0,    0,    54, 0, 0, 0, 0, 0, 0, 0, 46,     /* handshake */
                                 0xfe, 0xfd};
  memset(p, 0, 71);
  memcpy(p, head, sizeof(head));
  return 71;
}

static void put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

START_TEST(openssl_client_hello_through_rtcsec_is_accepted) {
  uint8_t buf[2048];
  size_t len = real_client_hello(buf, sizeof(buf), 0);
  ck_assert_int_eq(client_hello_check(buf, len), CLIENT_HELLO_OK);
  /* With a small MTU OpenSSL may fragment it; the first fragment still
   * starts the handshake. */
  len = real_client_hello(buf, sizeof(buf), 256);
  ck_assert_int_eq(client_hello_check(buf, len), CLIENT_HELLO_OK);
  uint8_t p[80];
  ck_assert_int_eq(client_hello_check(p, minimal(p)), CLIENT_HELLO_OK);
}
END_TEST

START_TEST(every_truncation_is_refused) {
  uint8_t buf[2048];
  size_t len = real_client_hello(buf, sizeof(buf), 0);
  size_t record_end = 13 + ((size_t)buf[11] << 8 | buf[12]);
  ck_assert_uint_le(record_end, len);
  for (size_t n = 0; n < record_end; n++) {
    /* An exact-size copy: a read past it would be out of bounds. */
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, n);
    client_hello_verdict v = client_hello_check(copy, n);
    ck_assert_msg(v != CLIENT_HELLO_OK, "accepted %zu of %zu bytes", n, record_end);
    ck_assert_int_eq(v, n < 27 ? CLIENT_HELLO_SHORT : CLIENT_HELLO_BAD_RECORD_LENGTH);
    free(copy);
  }
  ck_assert_int_eq(client_hello_check(NULL, 0), CLIENT_HELLO_SHORT);
  ck_assert_int_eq(client_hello_check(NULL, 100), CLIENT_HELLO_SHORT);
}
END_TEST

/* Every value of the type byte at off in the minimal ClientHello: only
 * `good` passes, the rest fail with `bad`. */
static void sweep_type(size_t off, unsigned good, client_hello_verdict bad) {
  uint8_t p[80];
  size_t n = minimal(p);
  for (unsigned v = 0; v < 256; v++) {
    p[off] = (uint8_t)v;
    ck_assert_msg(client_hello_check(p, n) == (v == good ? CLIENT_HELLO_OK : bad), "byte %zu = %u",
                  off, v);
  }
}

/* Every value of the version field at off: only DTLS 1.0 and 1.2 pass. */
static void sweep_version(size_t off, client_hello_verdict bad) {
  uint8_t p[80];
  size_t n = minimal(p);
  for (uint32_t v = 0; v < 65536; v++) {
    put16(p + off, v);
    int ok = v == 0xfeff || v == 0xfefd;
    ck_assert_msg(client_hello_check(p, n) == (ok ? CLIENT_HELLO_OK : bad), "version %04x at %zu",
                  v, off);
  }
}

START_TEST(every_header_field_made_wrong_is_refused_for_its_reason) {
  sweep_type(0, 22, CLIENT_HELLO_NOT_HANDSHAKE);
  sweep_version(1, CLIENT_HELLO_BAD_RECORD_VERSION);
  sweep_type(13, 1, CLIENT_HELLO_NOT_CLIENT_HELLO);
  sweep_version(25, CLIENT_HELLO_BAD_CLIENT_VERSION);
  uint8_t p[80];
  size_t n = minimal(p);
  put16(p + 3, 1);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_EPOCH);
  put16(p + 3, 0xffff);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_EPOCH);
  /* The record length: from 0 to past the datagram. */
  n = minimal(p);
  for (uint32_t l = 0; l < 65536; l++) {
    put16(p + 11, l);
    client_hello_verdict want = CLIENT_HELLO_BAD_RECORD_LENGTH;
    if (l >= 58 && l <= n - 13)
      want = CLIENT_HELLO_OK;
    else if (l >= 14 && l < 58)
      want = CLIENT_HELLO_BAD_FRAGMENT; /* the fragment no longer fits */
    ck_assert_msg(client_hello_check(p, n) == want, "record length %u", l);
  }
  /* Fragment offset: only the first fragment starts a handshake. */
  n = minimal(p);
  put24(p + 19, 1);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_FRAGMENT);
  put24(p + 19, 0xffffff);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_FRAGMENT);
  /* Fragment length: 0, 1, past the record, past the message. */
  n = minimal(p);
  for (uint32_t fl = 0; fl < 70; fl++) {
    put24(p + 22, fl);
    client_hello_verdict want = fl >= 2 && fl <= 46 ? CLIENT_HELLO_OK : CLIENT_HELLO_BAD_FRAGMENT;
    ck_assert_msg(client_hello_check(p, n) == want, "fragment length %u", fl);
  }
  put24(p + 22, 0xffffff);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_FRAGMENT);
  /* Message length: shorter than the fragment, shorter than any
   * ClientHello, huge (a fragment of a long message is fine). */
  n = minimal(p);
  put24(p + 14, 45);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_FRAGMENT);
  put24(p + 22, 2);
  put24(p + 14, CLIENT_HELLO_MIN_BODY - 1);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_BAD_LENGTH);
  put24(p + 14, CLIENT_HELLO_MIN_BODY);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_OK);
  put24(p + 14, 0xffffff);
  ck_assert_int_eq(client_hello_check(p, n), CLIENT_HELLO_OK);
  /* What follows the first record is not looked at. */
  n = minimal(p);
  p[n] = 0xff;
  ck_assert_int_eq(client_hello_check(p, n + 1), CLIENT_HELLO_OK);
}
END_TEST

START_TEST(random_bytes_are_refused_or_well_formed) {
  uint32_t x = 2024;
  uint8_t p[128];
  unsigned ok = 0;
  for (int i = 0; i < 200000; i++) {
    x = x * 1103515245u + 12345u;
    size_t n = (x >> 16) % sizeof(p);
    for (size_t k = 0; k < n; k++) {
      x = x * 1103515245u + 12345u;
      p[k] = (uint8_t)(x >> 16);
    }
    /* Keep most of the fixed bytes right, so that the later checks run. */
    if (n > 26 && (i & 1)) {
      p[0] = 22;
      p[1] = 0xfe;
      p[2] = 0xfd;
      p[3] = p[4] = 0;
      p[13] = 1;
      p[19] = p[20] = p[21] = 0;
      p[25] = 0xfe;
      p[26] = 0xfd;
      if (i & 2) { /* lengths that fit, most of the time */
        put16(p + 11, (uint32_t)(n - 13));
        put24(p + 22, (x >> 8) % (uint32_t)(n - 24));
      }
    }
    client_hello_verdict v = client_hello_check(p, n);
    const char *name = client_hello_verdict_name(v);
    ck_assert(name != NULL && name[0] != '\0' && strcmp(name, "unknown") != 0);
    if (v == CLIENT_HELLO_OK) {
      ok++;
      size_t rl = (size_t)p[11] << 8 | p[12];
      ck_assert_uint_le(13 + rl, n);
    }
  }
  ck_assert_uint_gt(ok, 0); /* the well-formed ones were reached too */
  ck_assert_str_eq(client_hello_verdict_name((client_hello_verdict)99), "unknown");
}
END_TEST

int main(void) {
  Suite *s = suite_create("client_hello");
  TCase *tc = tcase_create("check");
  tcase_add_test(tc, openssl_client_hello_through_rtcsec_is_accepted);
  tcase_add_test(tc, every_truncation_is_refused);
  tcase_add_test(tc, every_header_field_made_wrong_is_refused_for_its_reason);
  tcase_add_test(tc, random_bytes_are_refused_or_well_formed);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
