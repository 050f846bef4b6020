/* The STUN codec (lib/stun.c): RFC 5769 test vectors, round trips, and
 * malformed messages of every kind. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/rtcsec.h"
#include "rtcsec/stun.h"

/* ---- RFC 5769 test vectors, quoted from the RFC (§2.1 - §2.4) ------------------ */

static const uint8_t tid_2x[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                   0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};
static const char short_term_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* §2.1 Sample Request: SOFTWARE "STUN test client", USERNAME "evtj:h6vY",
 * password "VOkJxbRl1RmTxUk/WvJxBt". The USERNAME padding is three spaces. */
static const uint8_t rfc5769_request[108] = {
    0x00, 0x01, 0x00, 0x58, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x10, /* SOFTWARE attribute header */
    0x53, 0x54, 0x55, 0x4e, /* } */
    0x20, 0x74, 0x65, 0x73, /* }  User-agent... */
    0x74, 0x20, 0x63, 0x6c, /* }  ...name */
    0x69, 0x65, 0x6e, 0x74, /* } */
    0x00, 0x24, 0x00, 0x04, /* PRIORITY attribute header */
    0x6e, 0x00, 0x01, 0xff, /* ICE priority value */
    0x80, 0x29, 0x00, 0x08, /* ICE-CONTROLLED attribute header */
    0x93, 0x2f, 0xf9, 0xb1, /* }  Pseudo-random tie breaker... */
    0x51, 0x26, 0x3b, 0x36, /* }   ...for ICE control */
    0x00, 0x06, 0x00, 0x09, /* USERNAME attribute header */
    0x65, 0x76, 0x74, 0x6a, /* } */
    0x3a, 0x68, 0x36, 0x76, /* }  Username (9 bytes) and padding (3 bytes) */
    0x59, 0x20, 0x20, 0x20, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0x9a, 0xea, 0xa7, 0x0c, /* } */
    0xbf, 0xd8, 0xcb, 0x56, /* } */
    0x78, 0x1e, 0xf2, 0xb5, /* }  HMAC-SHA1 fingerprint */
    0xb2, 0xd3, 0xf2, 0x49, /* } */
    0xc1, 0xb5, 0x71, 0xa2, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xe5, 0x7a, 0x3b, 0xcf, /* CRC32 fingerprint */
};

/* §2.2 Sample IPv4 Response: SOFTWARE "test vector", mapped address
 * 192.0.2.1 port 32853. The SOFTWARE padding is one space. */
static const uint8_t rfc5769_ipv4_response[80] = {
    0x01, 0x01, 0x00, 0x3c, /* Response type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
    0x74, 0x65, 0x73, 0x74, /* } */
    0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
    0x74, 0x6f, 0x72, 0x20, /* } */
    0x00, 0x20, 0x00, 0x08, /* XOR-MAPPED-ADDRESS attribute header */
    0x00, 0x01, 0xa1, 0x47, /* Address family (IPv4) and xor'd mapped port number */
    0xe1, 0x12, 0xa6, 0x43, /* Xor'd mapped IPv4 address */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0x2b, 0x91, 0xf5, 0x99, /* } */
    0xfd, 0x9e, 0x90, 0xc3, /* } */
    0x8c, 0x74, 0x89, 0xf9, /* }  HMAC-SHA1 fingerprint */
    0x2a, 0xf9, 0xba, 0x53, /* } */
    0xf0, 0x6b, 0xe7, 0xd7, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xc0, 0x7d, 0x4c, 0x96, /* CRC32 fingerprint */
};

/* §2.3 Sample IPv6 Response: SOFTWARE "test vector", mapped address
 * 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t rfc5769_ipv6_response[92] = {
    0x01, 0x01, 0x00, 0x48, /* Response type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0xb7, 0xe7, 0xa7, 0x01, /* } */
    0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
    0xfa, 0x87, 0xdf, 0xae, /* } */
    0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
    0x74, 0x65, 0x73, 0x74, /* } */
    0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
    0x74, 0x6f, 0x72, 0x20, /* } */
    0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS attribute header */
    0x00, 0x02, 0xa1, 0x47, /* Address family (IPv6) and xor'd mapped port number */
    0x01, 0x13, 0xa9, 0xfa, /* } */
    0xa5, 0xd3, 0xf1, 0x79, /* }  Xor'd mapped IPv6 address */
    0xbc, 0x25, 0xf4, 0xb5, /* } */
    0xbe, 0xd2, 0xb9, 0xd9, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0xa3, 0x82, 0x95, 0x4e, /* } */
    0x4b, 0xe6, 0x7b, 0xf1, /* } */
    0x17, 0x84, 0xc9, 0x7c, /* }  HMAC-SHA1 fingerprint */
    0x82, 0x92, 0xc2, 0x75, /* } */
    0xbf, 0xe3, 0xed, 0x41, /* } */
    0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
    0xc8, 0xfb, 0x0b, 0x4c, /* CRC32 fingerprint */
};

/* §2.4 Sample Request with Long-Term Authentication: USERNAME
 * "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>", password "TheMatrIX"
 * (after SASLprep), NONCE "f//499k954d6OL34oL9FSTvy64sA", REALM
 * "example.org". This vector has no FINGERPRINT. */
static const uint8_t rfc5769_long_term_request[116] = {
    0x00, 0x01, 0x00, 0x60, /* Request type and message length */
    0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
    0x78, 0xad, 0x34, 0x33, /* } */
    0xc6, 0xad, 0x72, 0xc0, /* }  Transaction ID */
    0x29, 0xda, 0x41, 0x2e, /* } */
    0x00, 0x06, 0x00, 0x12, /* USERNAME attribute header */
    0xe3, 0x83, 0x9e, 0xe3, /* } */
    0x83, 0x88, 0xe3, 0x83, /* } */
    0xaa, 0xe3, 0x83, 0x83, /* }  Username value (18 bytes) and padding (2 bytes) */
    0xe3, 0x82, 0xaf, 0xe3, /* } */
    0x82, 0xb9, 0x00, 0x00, /* } */
    0x00, 0x15, 0x00, 0x1c, /* NONCE attribute header */
    0x66, 0x2f, 0x2f, 0x34, /* } */
    0x39, 0x39, 0x6b, 0x39, /* } */
    0x35, 0x34, 0x64, 0x36, /* } */
    0x4f, 0x4c, 0x33, 0x34, /* }  Nonce value */
    0x6f, 0x4c, 0x39, 0x46, /* } */
    0x53, 0x54, 0x76, 0x79, /* } */
    0x36, 0x34, 0x73, 0x41, /* } */
    0x00, 0x14, 0x00, 0x0b, /* REALM attribute header */
    0x65, 0x78, 0x61, 0x6d, /* } */
    0x70, 0x6c, 0x65, 0x2e, /* }  Realm value (11 bytes) and padding (1 byte) */
    0x6f, 0x72, 0x67, 0x00, /* } */
    0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
    0xf6, 0x70, 0x24, 0x65, /* } */
    0x6d, 0xd6, 0x4a, 0x3e, /* } */
    0x02, 0xb8, 0xe0, 0x71, /* }  HMAC-SHA1 fingerprint */
    0x2e, 0x85, 0xc9, 0xa2, /* } */
    0x8c, 0xa8, 0x96, 0x66, /* } */
};

static const uint8_t *pwd_key(void) { return (const uint8_t *)short_term_pwd; }
static size_t pwd_len(void) { return strlen(short_term_pwd); }

/* Writes the 16-bit big-endian value v at p. */
static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

START_TEST(crc32_matches_the_standard_check_value) {
  /* The CRC-32 (ISO-HDLC) check value of "123456789". */
  ck_assert_uint_eq(rtcsec_stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
  ck_assert_uint_eq(rtcsec_stun_crc32(NULL, 0), 0);
}
END_TEST

START_TEST(rfc5769_request_parses_and_verifies) {
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, rfc5769_request, sizeof(rfc5769_request)), 0);
  ck_assert_int_eq(m.method, RTCSEC_STUN_BINDING);
  ck_assert_int_eq(m.cls, RTCSEC_STUN_REQUEST);
  ck_assert_mem_eq(m.tid, tid_2x, 12);
  ck_assert(m.present & RTCSEC_STUN_HAS_FINGERPRINT); /* verified by the parser */
  ck_assert(m.present & RTCSEC_STUN_HAS_INTEGRITY);
  ck_assert_uint_eq(m.username_len, 9);
  ck_assert_mem_eq(m.username, "evtj:h6vY", 9);
  ck_assert(m.present & RTCSEC_STUN_HAS_PRIORITY);
  ck_assert_uint_eq(m.priority, 0x6e0001ffu);
  ck_assert(m.present & RTCSEC_STUN_HAS_ICE_CONTROLLED);
  ck_assert(!(m.present & RTCSEC_STUN_HAS_ICE_CONTROLLING));
  ck_assert(m.ice_controlled == UINT64_C(0x932ff9b151263b36));
  ck_assert_uint_eq(m.software_len, 16);
  ck_assert_mem_eq(m.software, "STUN test client", 16);
  ck_assert_uint_eq(m.integrity_offset, 108 - 8 - 24);
  ck_assert_uint_eq(m.n_unknown, 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, pwd_key(), pwd_len()), 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", 22),
                   RTCSEC_ERR_STUN_INTEGRITY);
}
END_TEST

/* Builds the §2.1 request with the codec; the USERNAME padding is patched to
 * the RFC's spaces before MESSAGE-INTEGRITY and FINGERPRINT are computed
 * over it, so every byte is ours and must equal the RFC's. */
START_TEST(rfc5769_request_is_rebuilt_byte_for_byte) {
  uint8_t buf[200];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_SOFTWARE, "STUN test client", 16);
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e0001ffu);
  rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLED, UINT64_C(0x932ff9b151263b36));
  rtcsec_stun_add_username(&b, "evtj:h6vY", 9);
  ck_assert_int_eq(b.error, 0);
  memset(buf + b.len - 3, 0x20, 3);
  rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
  rtcsec_stun_add_fingerprint(&b);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &len), 0);
  ck_assert_uint_eq(len, sizeof(rfc5769_request));
  ck_assert_mem_eq(buf, rfc5769_request, len);
}
END_TEST

static void check_response(const uint8_t *vec, size_t vlen, int family) {
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, vec, vlen), 0);
  ck_assert_int_eq(m.cls, RTCSEC_STUN_SUCCESS);
  ck_assert_int_eq(m.method, RTCSEC_STUN_BINDING);
  ck_assert(m.present & RTCSEC_STUN_HAS_FINGERPRINT);
  ck_assert(m.present & RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, pwd_key(), pwd_len()), 0);
  char text[INET6_ADDRSTRLEN];
  if (family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&m.xor_mapped;
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(m.xor_mapped_len, sizeof(*sin));
    ck_assert_uint_eq(ntohs(sin->sin_port), 32853);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    ck_assert_str_eq(text, "192.0.2.1");
  } else {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&m.xor_mapped;
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(ntohs(sin6->sin6_port), 32853);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    ck_assert_str_eq(text, "2001:db8:1234:5678:11:2233:4455:6677");
  }
  /* rebuilt byte for byte; SOFTWARE's one padding byte is a space */
  uint8_t buf[200];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_SUCCESS, tid_2x);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_SOFTWARE, "test vector", 11);
  buf[b.len - 1] = 0x20;
  rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS,
                              (const struct sockaddr *)&m.xor_mapped, m.xor_mapped_len);
  rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
  rtcsec_stun_add_fingerprint(&b);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &len), 0);
  ck_assert_uint_eq(len, vlen);
  ck_assert_mem_eq(buf, vec, len);
}

START_TEST(rfc5769_ipv4_response_parses_verifies_and_rebuilds) {
  check_response(rfc5769_ipv4_response, sizeof(rfc5769_ipv4_response), AF_INET);
}
END_TEST

START_TEST(rfc5769_ipv6_response_parses_verifies_and_rebuilds) {
  check_response(rfc5769_ipv6_response, sizeof(rfc5769_ipv6_response), AF_INET6);
}
END_TEST

START_TEST(rfc5769_long_term_request_verifies_with_the_md5_key) {
  static const char username[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf"
                                 "\xe3\x82\xb9";
  rtcsec_stun_msg m;
  const uint8_t *vec = rfc5769_long_term_request;
  ck_assert_int_eq(rtcsec_stun_parse(&m, vec, sizeof(rfc5769_long_term_request)), 0);
  ck_assert(!(m.present & RTCSEC_STUN_HAS_FINGERPRINT));
  ck_assert_uint_eq(m.username_len, 18);
  ck_assert_mem_eq(m.username, username, 18);
  ck_assert_uint_eq(m.nonce_len, 28);
  ck_assert_mem_eq(m.nonce, "f//499k954d6OL34oL9FSTvy64sA", 28);
  ck_assert_uint_eq(m.realm_len, 11);
  ck_assert_mem_eq(m.realm, "example.org", 11);
  uint8_t key[16];
  ck_assert_int_eq(rtcsec_stun_long_term_key(username, "example.org", "TheMatrIX", key), 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, key, sizeof(key)), 0);
  /* the short-term rule (password as the key) must not verify it */
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"TheMatrIX", 9),
                   RTCSEC_ERR_STUN_INTEGRITY);
  /* rebuilt byte for byte */
  uint8_t buf[200];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, vec + 8);
  rtcsec_stun_add_username(&b, username, 18);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_NONCE, "f//499k954d6OL34oL9FSTvy64sA", 28);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_REALM, "example.org", 11);
  rtcsec_stun_add_integrity(&b, key, sizeof(key));
  size_t len = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &len), 0);
  ck_assert_uint_eq(len, sizeof(rfc5769_long_term_request));
  ck_assert_mem_eq(buf, vec, len);
}
END_TEST

/* ---- round trips ----------------------------------------------------------------- */

/* An ICE connectivity check as a controlling agent sends it (RFC 8445 §7.1). */
static size_t make_check(uint8_t *buf, size_t cap, const uint8_t tid[12], const char *user,
                         const char *pwd, int use_candidate) {
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_add_username(&b, user, strlen(user));
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e7f1eff);
  rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLING, UINT64_C(0x0123456789abcdef));
  if (use_candidate)
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rtcsec_stun_add_integrity(&b, (const uint8_t *)pwd, strlen(pwd));
  rtcsec_stun_add_fingerprint(&b);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &len), 0);
  return len;
}

START_TEST(an_ice_check_round_trips) {
  uint8_t buf[256];
  size_t n = make_check(buf, sizeof(buf), tid_2x, "srvU:cliU", "0123456789abcdefghijkl", 1);
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  ck_assert_uint_eq(m.username_len, 9);
  ck_assert_mem_eq(m.username, "srvU:cliU", 9);
  ck_assert(m.present & RTCSEC_STUN_HAS_USE_CANDIDATE);
  ck_assert(m.present & RTCSEC_STUN_HAS_ICE_CONTROLLING);
  ck_assert(m.ice_controlling == UINT64_C(0x0123456789abcdef));
  ck_assert_uint_eq(m.priority, 0x6e7f1eff);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"0123456789abcdefghijkl", 22),
                   0);
  /* USERNAME's padding bytes are zero as RFC 8489 §14 asks */
  ck_assert_uint_eq(buf[20 + 4 + 9], 0);
  ck_assert_uint_eq(buf[20 + 4 + 11], 0);
}
END_TEST

START_TEST(error_responses_and_unknown_attributes_round_trip) {
  uint8_t buf[256];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_ERROR, tid_2x);
  rtcsec_stun_add_error_code(&b, RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute");
  uint16_t types[3] = {0x0777, 0x0042, 0x7fff};
  rtcsec_stun_add_unknown_attributes(&b, types, 3);
  rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  ck_assert_int_eq(m.cls, RTCSEC_STUN_ERROR);
  ck_assert_int_eq(m.error_code, 420);
  ck_assert_uint_eq(m.error_reason_len, 17);
  ck_assert_mem_eq(m.error_reason, "Unknown Attribute", 17);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, pwd_key(), pwd_len()), 0);
  for (int code = 300; code <= 699; code += 29) {
    rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_ERROR, tid_2x);
    rtcsec_stun_add_error_code(&b, code, NULL);
    ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
    ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
    ck_assert_int_eq(m.error_code, code);
  }
  ck_assert_int_eq(rtcsec_stun_add_error_code(&b, 299, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(every_class_and_method_round_trips_through_the_type_field) {
  uint8_t buf[32];
  for (unsigned method = 0; method <= 0xfff; method += 0x0b5) {
    for (int cls = 0; cls < 4; cls++) {
      rtcsec_stun_builder b;
      ck_assert_int_eq(rtcsec_stun_builder_init(&b, buf, sizeof(buf), (uint16_t)method,
                                                (rtcsec_stun_class)cls, tid_2x),
                       0);
      size_t n = 0;
      ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
      rtcsec_stun_msg m;
      ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
      ck_assert_uint_eq(m.method, method);
      ck_assert_int_eq(m.cls, cls);
    }
  }
  /* RFC 8489 §5: a Binding success response is 0x0101, an error 0x0111 */
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_ERROR, tid_2x);
  ck_assert_uint_eq(buf[0], 0x01);
  ck_assert_uint_eq(buf[1], 0x11);
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_INDICATION,
                           tid_2x);
  ck_assert_uint_eq(buf[0], 0x00);
  ck_assert_uint_eq(buf[1], 0x11);
}
END_TEST

START_TEST(builder_refuses_what_would_not_fit_and_keeps_the_first_error) {
  uint8_t buf[256];
  size_t full = make_check(buf, sizeof(buf), tid_2x, "abcd:efgh", "0123456789abcdefghijkl", 1);
  /* every smaller buffer fails cleanly with BUFFER_TOO_SMALL, never writes
   * past cap (ASan watches the heap copy) */
  for (size_t cap = 0; cap < full; cap++) {
    uint8_t *small = malloc(cap ? cap : 1);
    rtcsec_stun_builder b;
    rtcsec_stun_builder_init(&b, small, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
    rtcsec_stun_add_username(&b, "abcd:efgh", 9);
    rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 1);
    rtcsec_stun_add_u64(&b, RTCSEC_STUN_ATTR_ICE_CONTROLLING, 2);
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
    rtcsec_stun_add_fingerprint(&b);
    size_t n = 99;
    ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 0);
    free(small);
  }
  /* nothing but FINGERPRINT after MESSAGE-INTEGRITY, nothing after FINGERPRINT */
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
  ck_assert_int_eq(rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 1), RTCSEC_ERR_INVALID_STATE);
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_fingerprint(&b);
  ck_assert_int_eq(rtcsec_stun_add_fingerprint(&b), RTCSEC_ERR_INVALID_STATE);
  /* a USERNAME over the limit is refused by the builder too */
  char big[RTCSEC_STUN_MAX_USERNAME + 1];
  memset(big, 'a', sizeof(big));
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  ck_assert_int_eq(rtcsec_stun_add_username(&b, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
  size_t n;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), RTCSEC_ERR_TOO_LARGE);
}
END_TEST

/* ---- malformed input ------------------------------------------------------------- */

/* A copy of the §2.1 vector to damage. */
static void vec_copy(uint8_t *buf) { memcpy(buf, rfc5769_request, sizeof(rfc5769_request)); }

/* Builds a message from raw attribute bytes (already padded) with a
 * correct header, optionally followed by MESSAGE-INTEGRITY and FINGERPRINT. */
static size_t raw_message(uint8_t *buf, const uint8_t *attrs, size_t attrs_len) {
  put16(buf, 0x0001);
  put16(buf + 2, (uint16_t)attrs_len);
  put32(buf + 4, RTCSEC_STUN_MAGIC_COOKIE);
  memcpy(buf + 8, tid_2x, 12);
  memcpy(buf + 20, attrs, attrs_len);
  return 20 + attrs_len;
}

START_TEST(short_datagrams_are_malformed) {
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, NULL, 0), RTCSEC_ERR_STUN_MALFORMED);
  for (size_t len = 0; len < 20; len++) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, rfc5769_request, len);
    ck_assert_int_eq(rtcsec_stun_parse(&m, p, len), RTCSEC_ERR_STUN_MALFORMED);
    ck_assert_int_eq(rtcsec_stun_is_message(p, len), 0);
    free(p);
  }
  /* every truncation of a valid message is refused (length field mismatch) */
  for (size_t len = 20; len < sizeof(rfc5769_request); len++) {
    uint8_t *p = malloc(len);
    memcpy(p, rfc5769_request, len);
    ck_assert_int_ne(rtcsec_stun_parse(&m, p, len), 0);
    free(p);
  }
}
END_TEST

START_TEST(header_errors_are_malformed) {
  uint8_t buf[sizeof(rfc5769_request) + 8];
  rtcsec_stun_msg m;
  /* bad cookie */
  vec_copy(buf);
  buf[7] ^= 1;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  /* top two bits set */
  vec_copy(buf);
  buf[0] |= 0x40;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  vec_copy(buf);
  buf[0] |= 0x80;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  /* length field larger, smaller, and not a multiple of 4 */
  vec_copy(buf);
  put16(buf + 2, 0x5c);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  put16(buf + 2, 0x54);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  put16(buf + 2, 0x59);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 109), RTCSEC_ERR_STUN_MALFORMED);
  put16(buf + 2, 0xffff);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 108), RTCSEC_ERR_STUN_MALFORMED);
  /* trailing bytes after the message in the datagram */
  vec_copy(buf);
  memset(buf + 108, 0, 4);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, 112), RTCSEC_ERR_STUN_MALFORMED);
  /* not a multiple of 4 although consistent */
  uint8_t odd[23] = {0x00, 0x01, 0x00, 0x03, 0x21, 0x12, 0xa4, 0x42};
  ck_assert_int_eq(rtcsec_stun_parse(&m, odd, sizeof(odd)), RTCSEC_ERR_STUN_MALFORMED);
  /* DTLS, RTP: not STUN */
  uint8_t dtls[40] = {22, 0xfe, 0xfd};
  ck_assert_int_eq(rtcsec_stun_parse(&m, dtls, sizeof(dtls)), RTCSEC_ERR_STUN_MALFORMED);
  ck_assert_int_eq(rtcsec_stun_parse(NULL, dtls, sizeof(dtls)), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(attribute_overrun_and_truncated_headers_are_malformed) {
  uint8_t buf[128], attrs[64];
  rtcsec_stun_msg m;
  /* a USERNAME that claims 9 bytes in a 8-byte body */
  memset(attrs, 0, sizeof(attrs));
  put16(attrs, RTCSEC_STUN_ATTR_USERNAME);
  put16(attrs + 2, 9);
  memcpy(attrs + 4, "abcd", 4);
  size_t n = raw_message(buf, attrs, 8);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), RTCSEC_ERR_STUN_MALFORMED);
  /* the value fits but its padding does not */
  put16(attrs + 2, 5);
  n = raw_message(buf, attrs, 8);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), RTCSEC_ERR_STUN_MALFORMED);
  /* a huge length */
  put16(attrs + 2, 0xfff0);
  n = raw_message(buf, attrs, 8);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), RTCSEC_ERR_STUN_MALFORMED);
  /* a valid attribute and then 4 bytes that claim more */
  put16(attrs + 2, 4);
  put16(attrs + 8, RTCSEC_STUN_ATTR_PRIORITY);
  put16(attrs + 10, 4);
  n = raw_message(buf, attrs, 12);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), RTCSEC_ERR_STUN_MALFORMED);
  /* the same, well-formed, parses */
  n = raw_message(buf, attrs, 16);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
}
END_TEST

START_TEST(known_attributes_with_wrong_lengths_are_malformed) {
  static const struct {
    uint16_t type;
    uint16_t len;
  } bad[] = {
      {RTCSEC_STUN_ATTR_PRIORITY, 3},
      {RTCSEC_STUN_ATTR_PRIORITY, 8},
      {RTCSEC_STUN_ATTR_USE_CANDIDATE, 4},
      {RTCSEC_STUN_ATTR_ICE_CONTROLLING, 4},
      {RTCSEC_STUN_ATTR_ICE_CONTROLLED, 12},
      {RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY, 16},
      {RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY, 32},
      {RTCSEC_STUN_ATTR_FINGERPRINT, 8},
      {RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS, 4},
      {RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS, 20}, /* family says IPv4 */
      {RTCSEC_STUN_ATTR_ERROR_CODE, 2},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t attrs[64] = {0}, buf[128];
    put16(attrs, bad[i].type);
    put16(attrs + 2, bad[i].len);
    attrs[5] = 0x01; /* an IPv4 family for the address attributes */
    size_t n = raw_message(buf, attrs, 4 + ((bad[i].len + 3u) & ~3u));
    rtcsec_stun_msg m;
    ck_assert_msg(rtcsec_stun_parse(&m, buf, n) == RTCSEC_ERR_STUN_MALFORMED,
                  "type 0x%04x len %u accepted", bad[i].type, bad[i].len);
  }
  /* ERROR-CODE with class 7 and with number 100 */
  uint8_t attrs[8] = {0x00, 0x09, 0x00, 0x04, 0, 0, 7, 0}, buf[64];
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, raw_message(buf, attrs, 8)),
                   RTCSEC_ERR_STUN_MALFORMED);
  attrs[6] = 4;
  attrs[7] = 100;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, raw_message(buf, attrs, 8)),
                   RTCSEC_ERR_STUN_MALFORMED);
  /* XOR-MAPPED-ADDRESS with an unknown family */
  uint8_t xa[12] = {0x00, 0x20, 0x00, 0x08, 0, 0x03, 0, 0};
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, raw_message(buf, xa, 12)), RTCSEC_ERR_STUN_MALFORMED);
}
END_TEST

START_TEST(a_huge_username_is_malformed) {
  static uint8_t buf[1200], attrs[1100];
  for (size_t ulen = RTCSEC_STUN_MAX_USERNAME - 1; ulen <= RTCSEC_STUN_MAX_USERNAME + 400;
       ulen += 1 + ulen / 4) {
    memset(attrs, 'u', sizeof(attrs));
    put16(attrs, RTCSEC_STUN_ATTR_USERNAME);
    put16(attrs + 2, (uint16_t)ulen);
    size_t alen = 4 + ((ulen + 3) & ~(size_t)3);
    size_t n = raw_message(buf, attrs, alen);
    rtcsec_stun_msg m;
    int rc = rtcsec_stun_parse(&m, buf, n);
    if (ulen <= RTCSEC_STUN_MAX_USERNAME)
      ck_assert_int_eq(rc, 0);
    else
      ck_assert_int_eq(rc, RTCSEC_ERR_STUN_MALFORMED);
  }
}
END_TEST

START_TEST(bad_integrity_is_detected_and_missing_integrity_too) {
  uint8_t buf[256];
  size_t n = make_check(buf, sizeof(buf), tid_2x, "abcd:efgh", "0123456789abcdefghijkl", 1);
  /* flip each bit of the MAC and fix FINGERPRINT up, so that only the MAC
   * is wrong: every one is refused */
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  size_t mi = m.integrity_offset;
  for (size_t bit = 0; bit < 160; bit++) {
    uint8_t c[256];
    memcpy(c, buf, n);
    c[mi + 4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    uint32_t fp = rtcsec_stun_crc32(c, n - 8) ^ RTCSEC_STUN_FINGERPRINT_XOR;
    put32(c + n - 4, fp);
    ck_assert_int_eq(rtcsec_stun_parse(&m, c, n), 0);
    ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"0123456789abcdefghijkl", 22),
                     RTCSEC_ERR_STUN_INTEGRITY);
  }
  /* a change in a covered attribute (priority), FINGERPRINT fixed up */
  uint8_t c[256];
  memcpy(c, buf, n);
  c[20 + 4 + 12 + 4 + 3] ^= 1;
  put32(c + n - 4, rtcsec_stun_crc32(c, n - 8) ^ RTCSEC_STUN_FINGERPRINT_XOR);
  ck_assert_int_eq(rtcsec_stun_parse(&m, c, n), 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"0123456789abcdefghijkl", 22),
                   RTCSEC_ERR_STUN_INTEGRITY);
  /* no MESSAGE-INTEGRITY at all */
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_username(&b, "abcd:efgh", 9);
  rtcsec_stun_add_fingerprint(&b);
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, (const uint8_t *)"0123456789abcdefghijkl", 22),
                   RTCSEC_ERR_STUN_INTEGRITY);
}
END_TEST

START_TEST(bad_fingerprint_is_refused) {
  uint8_t buf[sizeof(rfc5769_request)];
  rtcsec_stun_msg m;
  for (size_t i = 0; i < 32; i++) {
    vec_copy(buf);
    buf[104 + i / 8] ^= (uint8_t)(1u << (i % 8));
    ck_assert_int_eq(rtcsec_stun_parse(&m, buf, sizeof(buf)), RTCSEC_ERR_STUN_FINGERPRINT);
  }
  /* a flipped bit anywhere in an attribute value breaks the CRC */
  for (size_t pos = 24; pos < 100; pos += 5) {
    vec_copy(buf);
    if ((pos & 3) == 0 && pos >= 24)
      continue;
    buf[pos] ^= 0x10;
    int rc = rtcsec_stun_parse(&m, buf, sizeof(buf));
    ck_assert_int_ne(rc, 0);
  }
}
END_TEST

START_TEST(an_attribute_after_fingerprint_is_malformed) {
  uint8_t buf[256];
  size_t n = make_check(buf, sizeof(buf), tid_2x, "abcd:efgh", "0123456789abcdefghijkl", 0);
  /* append a SOFTWARE attribute after FINGERPRINT, header length fixed up */
  memcpy(buf + n, "\x80\x22\x00\x04test", 8);
  put16(buf + 2, (uint16_t)(n + 8 - 20));
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n + 8), RTCSEC_ERR_STUN_MALFORMED);
  /* two FINGERPRINTs: the first is then not last */
  n = make_check(buf, sizeof(buf), tid_2x, "abcd:efgh", "0123456789abcdefghijkl", 0);
  memcpy(buf + n, buf + n - 8, 8);
  put16(buf + 2, (uint16_t)(n + 8 - 20));
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n + 8), RTCSEC_ERR_STUN_MALFORMED);
}
END_TEST

START_TEST(duplicates_keep_the_first_and_attributes_after_integrity_are_ignored) {
  uint8_t buf[256];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_username(&b, "frst:user", 9);
  rtcsec_stun_add_username(&b, "scnd:user", 9);
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 7);
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 8);
  rtcsec_stun_add_integrity(&b, pwd_key(), pwd_len());
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  /* after MESSAGE-INTEGRITY: a USE-CANDIDATE and an unknown
   * comprehension-required attribute, neither covered by the MAC */
  memcpy(buf + n, "\x00\x25\x00\x00\x00\x77\x00\x00", 8);
  n += 8;
  put16(buf + 2, (uint16_t)(n - 20));
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  ck_assert_mem_eq(m.username, "frst:user", 9);
  ck_assert_uint_eq(m.priority, 7);
  ck_assert_uint_eq(m.n_duplicates, 2);
  ck_assert(!(m.present & RTCSEC_STUN_HAS_USE_CANDIDATE));
  ck_assert_uint_eq(m.n_unknown, 0);
  ck_assert_int_eq(rtcsec_stun_check_integrity(&m, pwd_key(), pwd_len()), 0);
}
END_TEST

START_TEST(unknown_required_attributes_are_listed_optional_ones_ignored) {
  uint8_t buf[256];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid_2x);
  rtcsec_stun_add_attr(&b, 0x0077, "x", 1);
  rtcsec_stun_add_attr(&b, 0xc057, "opt", 3); /* comprehension-optional */
  for (uint16_t t = 0x0100; t < 0x010a; t++)
    rtcsec_stun_add_attr(&b, t, NULL, 0);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n), 0);
  ck_assert_uint_eq(m.n_unknown, 11);
  ck_assert_uint_eq(m.unknown[0], 0x0077);
  ck_assert_uint_eq(m.unknown[1], 0x0100);
  ck_assert_uint_eq(m.unknown[RTCSEC_STUN_MAX_UNKNOWN - 1], 0x0100 + RTCSEC_STUN_MAX_UNKNOWN - 2);
}
END_TEST

START_TEST(too_many_attributes_are_malformed) {
  static uint8_t buf[2048];
  rtcsec_stun_builder b;
  for (size_t count = RTCSEC_STUN_MAX_ATTRIBUTES; count <= RTCSEC_STUN_MAX_ATTRIBUTES + 1;
       count++) {
    rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST,
                             tid_2x);
    for (size_t i = 0; i < count; i++)
      rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_SOFTWARE, NULL, 0);
    size_t n = 0;
    ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
    rtcsec_stun_msg m;
    ck_assert_int_eq(rtcsec_stun_parse(&m, buf, n),
                     count <= RTCSEC_STUN_MAX_ATTRIBUTES ? 0 : RTCSEC_ERR_STUN_MALFORMED);
  }
}
END_TEST

/* xorshift64*: a deterministic mutation source. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * UINT64_C(2685821657736338717);
}

START_TEST(random_damage_never_crashes_the_parser) {
  const uint8_t *seeds[4] = {rfc5769_request, rfc5769_ipv4_response, rfc5769_ipv6_response,
                             rfc5769_long_term_request};
  const size_t lens[4] = {sizeof(rfc5769_request), sizeof(rfc5769_ipv4_response),
                          sizeof(rfc5769_ipv6_response), sizeof(rfc5769_long_term_request)};
  uint64_t s = 0x9e3779b97f4a7c15u;
  size_t ok = 0;
  for (int iter = 0; iter < 200000; iter++) {
    int k = iter % 4;
    size_t n = lens[k];
    uint8_t *buf = malloc(n + 16); /* exact-size heap copy: ASan sees any overread */
    memcpy(buf, seeds[k], n);
    int edits = 1 + (int)(rng_next(&s) % 4);
    for (int e = 0; e < edits; e++) {
      uint64_t r = rng_next(&s);
      size_t pos = (size_t)(r >> 8) % n;
      switch (r % 4) {
      case 0:
        buf[pos] ^= (uint8_t)(1u << (r >> 40) % 8);
        break;
      case 1:
        buf[pos] = (uint8_t)(r >> 32);
        break;
      case 2: /* keep the header's length consistent so attributes get walked */
        if (pos >= 20)
          n = pos & ~(size_t)3;
        put16(buf + 2, (uint16_t)(n - 20));
        break;
      default:
        if (n > 20) /* an attribute length field */
          buf[20 + (pos % (n - 20)) / 4 * 4 + 2] = (uint8_t)(r >> 24);
        break;
      }
    }
    uint8_t *exact = malloc(n);
    memcpy(exact, buf, n);
    rtcsec_stun_msg m;
    if (rtcsec_stun_parse(&m, exact, n) == 0) {
      ok++;
      rtcsec_stun_check_integrity(&m, pwd_key(), pwd_len());
    }
    free(exact);
    free(buf);
  }
  ck_assert_uint_gt(ok, 0);
}
END_TEST

START_TEST(class_names_and_error_strings_exist) {
  ck_assert_str_eq(rtcsec_stun_class_name(RTCSEC_STUN_REQUEST), "request");
  ck_assert_str_eq(rtcsec_stun_class_name((rtcsec_stun_class)9), "unknown");
  for (int code = -60; code >= -69; code--)
    ck_assert_str_ne(rtcsec_strerror(code), "unknown error");
}
END_TEST

int main(void) {
  Suite *s = suite_create("stun");
  TCase *vec = tcase_create("rfc5769");
  tcase_add_test(vec, crc32_matches_the_standard_check_value);
  tcase_add_test(vec, rfc5769_request_parses_and_verifies);
  tcase_add_test(vec, rfc5769_request_is_rebuilt_byte_for_byte);
  tcase_add_test(vec, rfc5769_ipv4_response_parses_verifies_and_rebuilds);
  tcase_add_test(vec, rfc5769_ipv6_response_parses_verifies_and_rebuilds);
  tcase_add_test(vec, rfc5769_long_term_request_verifies_with_the_md5_key);
  suite_add_tcase(s, vec);
  TCase *rt = tcase_create("round_trip");
  tcase_add_test(rt, an_ice_check_round_trips);
  tcase_add_test(rt, error_responses_and_unknown_attributes_round_trip);
  tcase_add_test(rt, every_class_and_method_round_trips_through_the_type_field);
  tcase_add_test(rt, builder_refuses_what_would_not_fit_and_keeps_the_first_error);
  tcase_add_test(rt, class_names_and_error_strings_exist);
  suite_add_tcase(s, rt);
  TCase *bad = tcase_create("malformed");
  tcase_set_timeout(bad, 60);
  tcase_add_test(bad, short_datagrams_are_malformed);
  tcase_add_test(bad, header_errors_are_malformed);
  tcase_add_test(bad, attribute_overrun_and_truncated_headers_are_malformed);
  tcase_add_test(bad, known_attributes_with_wrong_lengths_are_malformed);
  tcase_add_test(bad, a_huge_username_is_malformed);
  tcase_add_test(bad, bad_integrity_is_detected_and_missing_integrity_too);
  tcase_add_test(bad, bad_fingerprint_is_refused);
  tcase_add_test(bad, an_attribute_after_fingerprint_is_malformed);
  tcase_add_test(bad, duplicates_keep_the_first_and_attributes_after_integrity_are_ignored);
  tcase_add_test(bad, unknown_required_attributes_are_listed_optional_ones_ignored);
  tcase_add_test(bad, too_many_attributes_are_malformed);
  tcase_add_test(bad, random_damage_never_crashes_the_parser);
  suite_add_tcase(s, bad);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
