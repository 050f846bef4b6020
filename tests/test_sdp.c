/* SDP attribute helpers (lib/sdp.c): ICE credentials and options, candidates
 * (RFC 8839 §5.1, RFC 6544), fingerprint (RFC 8122) and setup (RFC 4145,
 * RFC 5763 §5, RFC 8842): browser lines round-trip, each kind of bad input
 * gets its own error, and a seeded mutation loop never crashes.
 *
 * Every parser call goes through a heap copy of exactly the bytes given and
 * no NUL, so that AddressSanitizer reports any read past the input. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/sdp.h"

/* ---- helpers ---------------------------------------------------------------- */

static char *exact_copy(const char *s, size_t len) {
  char *p = malloc(len > 0 ? len : 1);
  ck_assert_ptr_nonnull(p);
  if (len > 0)
    memcpy(p, s, len);
  return p;
}

static int cand_parse_n(rtcsec_candidate *out, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_candidate_parse(out, p, len);
  free(p);
  return rc;
}

static int cand_parse(rtcsec_candidate *out, const char *s) {
  return cand_parse_n(out, s, strlen(s));
}

/* Parses s, which must fail with `want`, and checks that *out was left
 * alone. */
static void cand_refused(const char *s, int want) {
  rtcsec_candidate c, before;
  memset(&c, 0xA5, sizeof(c));
  memcpy(&before, &c, sizeof(c));
  int rc = cand_parse(&c, s);
  ck_assert_msg(rc == want, "\"%s\": got %d (%s), want %d (%s)", s, rc, rtcsec_strerror(rc), want,
                rtcsec_strerror(want));
  ck_assert_msg(memcmp(&c, &before, sizeof(c)) == 0, "\"%s\": output written on error", s);
}

static int ufrag_parse(rtcsec_sdp_ice_credentials *cr, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_ice_ufrag_parse(cr, p, len);
  free(p);
  return rc;
}

static int pwd_parse(rtcsec_sdp_ice_credentials *cr, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_ice_pwd_parse(cr, p, len);
  free(p);
  return rc;
}

static int options_parse(rtcsec_sdp_ice_options *o, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_ice_options_parse(o, p, len);
  free(p);
  return rc;
}

static int setup_parse(rtcsec_sdp_setup *v, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_setup_parse(v, p, len);
  free(p);
  return rc;
}

static int fp_parse(rtcsec_fingerprint *fp, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_fingerprint_parse(fp, p, len);
  free(p);
  return rc;
}

static int identify(rtcsec_sdp_attr *a, const char *s, size_t len) {
  char *p = exact_copy(s, len);
  int rc = rtcsec_sdp_attr_identify(a, p, len);
  free(p);
  return rc;
}

/* "candidate:...SP" + n extensions "eI x". */
static void line_with_extensions(char *buf, size_t cap, size_t n) {
  int w = snprintf(buf, cap, "candidate:1 1 udp 2122252543 192.168.1.10 49203 typ host");
  for (size_t i = 0; i < n; i++)
    w += snprintf(buf + w, cap - (size_t)w, " e%zu x", i);
  ck_assert_int_lt(w, (int)cap);
}

/* ---- browser candidates ------------------------------------------------------ */

struct browser_line {
  const char *line;      /* as the browser wrote it (without "a=") */
  const char *canonical; /* what format gives back */
};

/* Chromium writes lower-case "udp"/"tcp" and the generation / ufrag /
 * network-id / network-cost extensions; Firefox writes "UDP"/"TCP" and no
 * extensions but tcptype. Addresses are from the documentation ranges. */
static const struct browser_line browser_lines[] = {
    /* Chromium: srflx with raddr/rport and all four extensions. */
    {"candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 192.168.1.10 rport "
     "46154 generation 0 ufrag EsAw network-id 1 network-cost 10",
     NULL},
    /* Chromium: IPv6 host. */
    {"candidate:2999745851 1 udp 2122262783 2001:db8::1f2e:3d4c 58481 typ host generation 0 ufrag "
     "EsAw network-id 2 network-cost 10",
     NULL},
    /* Chromium: mDNS host, without network-cost. */
    {"candidate:1510613869 1 udp 2122260223 4c1b8c52-7c3a-4b8e-9b2d-6f0a3e8e1c2d.local 54400 typ "
     "host generation 0 ufrag EsAw network-id 1",
     NULL},
    /* Chromium: TCP active host (port 9, RFC 6544 §4.5). */
    {"candidate:1876313031 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active generation 0 "
     "ufrag EsAw network-id 1 network-cost 10",
     NULL},
    /* Chromium: srflx whose host address is hidden behind mDNS. */
    {"candidate:3528925834 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 "
     "generation 0 ufrag EsAw network-id 1 network-cost 10",
     NULL},
    /* Chromium: relay, RTCP component. */
    {"candidate:3745476223 2 udp 41885438 198.51.100.20 61432 typ relay raddr 203.0.113.7 rport "
     "46155 generation 0 ufrag EsAw network-id 1 network-cost 10",
     NULL},
    /* Firefox: host, srflx, TCP, IPv6 relay, mDNS. */
    {"candidate:0 1 UDP 2122252543 192.168.1.10 49203 typ host",
     "candidate:0 1 udp 2122252543 192.168.1.10 49203 typ host"},
    {"candidate:1 1 UDP 1686052863 203.0.113.7 49203 typ srflx raddr 192.168.1.10 rport 49203",
     "candidate:1 1 udp 1686052863 203.0.113.7 49203 typ srflx raddr 192.168.1.10 rport 49203"},
    {"candidate:2 1 TCP 2105524479 192.168.1.10 9 typ host tcptype active",
     "candidate:2 1 tcp 2105524479 192.168.1.10 9 typ host tcptype active"},
    {"candidate:3 1 UDP 92217087 2001:db8:85a3::8a2e:370:7334 55027 typ relay raddr "
     "2001:db8:85a3::1 rport 55027",
     "candidate:3 1 udp 92217087 2001:db8:85a3::8a2e:370:7334 55027 typ relay raddr "
     "2001:db8:85a3::1 rport 55027"},
    {"candidate:0 1 UDP 2122252543 a9e2c5c0-1234-4cde-8f00-0123456789ab.local 56132 typ host",
     "candidate:0 1 udp 2122252543 a9e2c5c0-1234-4cde-8f00-0123456789ab.local 56132 typ host"},
    /* Other peers: TCP passive / so, prflx, unknown extensions kept. */
    {"candidate:a+b/ 1 tcp 1000 10.0.0.1 5000 typ prflx raddr 10.0.0.2 rport 6000 tcptype so foo "
     "bar x-y 1=2",
     NULL},
    {"candidate:7 256 udp 2147483647 turn.example.com 65535 typ relay tcptype-like z", NULL},
};
#define N_BROWSER_LINES (sizeof(browser_lines) / sizeof(browser_lines[0]))

START_TEST(candidate_browser_lines_round_trip) {
  for (size_t i = 0; i < N_BROWSER_LINES; i++) {
    const char *line = browser_lines[i].line;
    const char *want = browser_lines[i].canonical ? browser_lines[i].canonical : line;
    rtcsec_candidate c, again;
    int rc = cand_parse(&c, line);
    ck_assert_msg(rc == 0, "line %zu: %d (%s)", i, rc, rtcsec_strerror(rc));

    char out[RTCSEC_SDP_MAX_LINE];
    size_t n = 0;
    ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, sizeof(out), &n), 0);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(n, strlen(want));

    ck_assert_int_eq(cand_parse(&again, out), 0);
    ck_assert_msg(memcmp(&c, &again, sizeof(c)) == 0, "line %zu: struct differs after round trip",
                  i);
  }
}
END_TEST

START_TEST(candidate_chromium_srflx_fields_are_decoded) {
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, browser_lines[0].line), 0);
  ck_assert_str_eq(c.foundation, "842163049");
  ck_assert_uint_eq(c.component, 1);
  ck_assert_int_eq(c.transport, RTCSEC_CANDIDATE_UDP);
  ck_assert_uint_eq(c.priority, 1677729535u);
  ck_assert_int_eq(c.addr.type, RTCSEC_CANDIDATE_ADDR_IPV4);
  ck_assert_str_eq(c.addr.host, "203.0.113.7");
  ck_assert_uint_eq(c.addr.port, 46154);
  ck_assert_int_eq(c.type, RTCSEC_CANDIDATE_SRFLX);
  ck_assert_str_eq(rtcsec_candidate_type_name(c.type), "srflx");
  ck_assert_int_eq(c.has_related, 1);
  ck_assert_str_eq(c.related.host, "192.168.1.10");
  ck_assert_uint_eq(c.related.port, 46154);
  ck_assert_int_eq(c.tcptype, RTCSEC_CANDIDATE_TCPTYPE_NONE);
  ck_assert_int_eq(c.has_generation, 1);
  ck_assert_uint_eq(c.generation, 0);
  ck_assert_str_eq(c.ufrag, "EsAw");
  ck_assert_int_eq(c.has_network_id, 1);
  ck_assert_uint_eq(c.network_id, 1);
  ck_assert_int_eq(c.has_network_cost, 1);
  ck_assert_uint_eq(c.network_cost, 10);
  ck_assert_uint_eq(c.n_ext, 0);
}
END_TEST

START_TEST(candidate_addresses_are_classified_ipv6_mdns_tcp) {
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, browser_lines[1].line), 0);
  ck_assert_int_eq(c.addr.type, RTCSEC_CANDIDATE_ADDR_IPV6);
  ck_assert_str_eq(c.addr.host, "2001:db8::1f2e:3d4c");
  ck_assert_int_eq(c.has_network_cost, 1);

  ck_assert_int_eq(cand_parse(&c, browser_lines[2].line), 0);
  ck_assert_int_eq(c.addr.type, RTCSEC_CANDIDATE_ADDR_FQDN);
  ck_assert_int_eq(c.addr.mdns, 1);
  ck_assert_int_eq(c.has_network_cost, 0);

  ck_assert_int_eq(cand_parse(&c, browser_lines[3].line), 0);
  ck_assert_int_eq(c.transport, RTCSEC_CANDIDATE_TCP);
  ck_assert_int_eq(c.tcptype, RTCSEC_CANDIDATE_TCPTYPE_ACTIVE);
  ck_assert_uint_eq(c.addr.port, 9);

  ck_assert_int_eq(cand_parse(&c, browser_lines[11].line), 0);
  ck_assert_int_eq(c.tcptype, RTCSEC_CANDIDATE_TCPTYPE_SO);
  ck_assert_int_eq(c.type, RTCSEC_CANDIDATE_PRFLX);
  ck_assert_uint_eq(c.n_ext, 2);
  ck_assert_str_eq(c.ext[0].name, "foo");
  ck_assert_str_eq(c.ext[0].value, "bar");
  ck_assert_str_eq(c.ext[1].name, "x-y");
  ck_assert_str_eq(c.ext[1].value, "1=2");

  ck_assert_int_eq(cand_parse(&c, browser_lines[12].line), 0);
  ck_assert_int_eq(c.addr.type, RTCSEC_CANDIDATE_ADDR_FQDN);
  ck_assert_int_eq(c.addr.mdns, 0);
  ck_assert_uint_eq(c.component, 256);
  ck_assert_uint_eq(c.priority, 2147483647u);
  ck_assert_uint_eq(c.addr.port, 65535);
}
END_TEST

START_TEST(candidate_accepts_a_prefix_line_end_and_any_case) {
  rtcsec_candidate plain, c;
  ck_assert_int_eq(cand_parse(&plain, browser_lines[7].line), 0);
  char buf[512];
  snprintf(buf, sizeof(buf), "a=%s\r\n", browser_lines[7].line);
  ck_assert_int_eq(cand_parse(&c, buf), 0);
  ck_assert_mem_eq(&c, &plain, sizeof(c));
  snprintf(buf, sizeof(buf), "%s \t\n", browser_lines[7].line);
  ck_assert_int_eq(cand_parse(&c, buf), 0);
  ck_assert_mem_eq(&c, &plain, sizeof(c));
  /* RFC 5234 §2.3: ABNF literals are case-insensitive. */
  ck_assert_int_eq(
      cand_parse(&c, "CANDIDATE:1 1 UDP 1686052863 203.0.113.7 49203 TYP SRFLX RADDR 192.168.1.10 "
                     "RPORT 49203"),
      0);
  ck_assert_mem_eq(&c, &plain, sizeof(c));
  /* Leading zeros are digits like any other (1*DIGIT). */
  ck_assert_int_eq(cand_parse(&c, "candidate:1 001 udp 0000001 10.0.0.1 00080 typ host"), 0);
  ck_assert_uint_eq(c.component, 1);
  ck_assert_uint_eq(c.priority, 1);
  ck_assert_uint_eq(c.addr.port, 80);
}
END_TEST

/* ---- bad candidates: one test per kind --------------------------------------- */

START_TEST(candidate_missing_fields_are_refused) {
  /* Every cut before the candidate type leaves a required field out. */
  const char *full = "candidate:1 1 udp 2122252543 192.168.1.10 49203 typ host";
  size_t type_at = strlen(full) - strlen("host");
  for (size_t cut = 0; cut < type_at; cut++) {
    rtcsec_candidate c;
    int rc = cand_parse_n(&c, full, cut);
    ck_assert_msg(rc == RTCSEC_ERR_PARSE, "cut at %zu: %d", cut, rc);
  }
  cand_refused("candidate:", RTCSEC_ERR_PARSE);
  cand_refused("candidate", RTCSEC_ERR_PARSE);
  cand_refused("a=candidate:", RTCSEC_ERR_PARSE);
  cand_refused("", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 49203 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 192.168.1.10 49203 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ ", RTCSEC_ERR_PARSE);
  /* Not a candidate attribute at all. */
  cand_refused("a=ice-ufrag:EsAw", RTCSEC_ERR_PARSE);
  cand_refused("a=candidates:1 1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
}
END_TEST

START_TEST(candidate_non_numeric_or_out_of_range_component_is_refused) {
  const char *bad[] = {"x", "1a", "a1", "0", "257", "1000", "-1", "+1", "1.0", "0x1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "candidate:1 %s udp 2122252543 192.168.1.10 49203 typ host",
             bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
}
END_TEST

START_TEST(candidate_priority_zero_or_above_2_31_minus_1_is_refused) {
  const char *bad[] = {
      "0", "2147483648", "4294967295", "4294967296", "99999999999", "-1", "+5", "1e3", ""};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "candidate:1 1 udp %s 192.168.1.10 49203 typ host", bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, "candidate:1 1 udp 2147483647 192.168.1.10 49203 typ host"), 0);
  ck_assert_int_eq(cand_parse(&c, "candidate:1 1 udp 1 192.168.1.10 49203 typ host"), 0);
}
END_TEST

START_TEST(candidate_bad_ip_address_is_refused) {
  const char *bad[] = {
      "1.2.3.256",     "1.2.3", "1.2.3.4.5",   "256.1.1.1",   "1..2.3",       "1.2.3.4.",
      ".1.2.3.4",      "::g",   "1:2:3",       "12345::1",    "fe80::1%eth0", "2001:db8:::1",
      "[2001:db8::1]", ":::",   "host..local", "-host.local", "host-.local",  "host_name.local",
      "host.local.",   "a.1",   "hö.local",    "a,b",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "candidate:1 1 udp 2122252543 %s 49203 typ host", bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
    /* The same in raddr. */
    snprintf(line, sizeof(line),
             "candidate:1 1 udp 1686052863 203.0.113.7 49203 typ srflx raddr %s rport 1", bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
  /* A label of 64 characters, and a name of 254. */
  char line[512], name[300];
  memset(name, 'a', 64);
  strcpy(name + 64, ".local");
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 %s 1 typ host", name);
  cand_refused(line, RTCSEC_ERR_PARSE);
  for (size_t i = 0; i < 254; i++)
    name[i] = (i % 2 == 0) ? 'a' : '.';
  name[253] = 'b';
  name[254] = '\0';
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 %s 1 typ host", name);
  cand_refused(line, RTCSEC_ERR_PARSE);
  name[253] = '\0'; /* 253 characters: the longest name */
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 %s 1 typ host", name);
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, line), 0);
  ck_assert_uint_eq(strlen(c.addr.host), 253);
}
END_TEST

START_TEST(candidate_port_out_of_range_or_with_junk_is_refused) {
  const char *bad[] = {"65536", "-1", "80x", "x80", "+80", "123456", "099999", "8 0", "0x50"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "candidate:1 1 udp 2122252543 192.168.1.10 %s typ host", bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
    snprintf(line, sizeof(line),
             "candidate:1 1 udp 1686052863 203.0.113.7 49203 typ srflx raddr 10.0.0.1 rport %s",
             bad[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, "candidate:1 1 udp 1 192.168.1.10 0 typ host"), 0);
  ck_assert_uint_eq(c.addr.port, 0);
  ck_assert_int_eq(cand_parse(&c, "candidate:1 1 udp 1 192.168.1.10 65535 typ host"), 0);
  ck_assert_uint_eq(c.addr.port, 65535);
}
END_TEST

START_TEST(candidate_unknown_transport_is_unsupported) {
  cand_refused("candidate:1 1 SCTP 2122252543 192.168.1.10 49203 typ host", RTCSEC_ERR_UNSUPPORTED);
  cand_refused("candidate:1 1 tls 2122252543 192.168.1.10 49203 typ host", RTCSEC_ERR_UNSUPPORTED);
  cand_refused("candidate:1 1 udpx 2122252543 192.168.1.10 49203 typ host", RTCSEC_ERR_UNSUPPORTED);
  /* Unknown, and malformed elsewhere: the syntax error wins. */
  cand_refused("candidate:1 1 SCTP 0 192.168.1.10 49203 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 SCTP 1 192.168.1.10 49203 typ host foo", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 SCTP", RTCSEC_ERR_PARSE);
  /* Not even a token. */
  cand_refused("candidate:1 1 u(p 2122252543 192.168.1.10 49203 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1  2122252543 192.168.1.10 49203 typ host", RTCSEC_ERR_PARSE);
}
END_TEST

START_TEST(candidate_unknown_type_is_unsupported) {
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ foo", RTCSEC_ERR_UNSUPPORTED);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ hos", RTCSEC_ERR_UNSUPPORTED);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ h(st", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ foo raddr 1.2.3.4",
               RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typ foo generation 0",
               RTCSEC_ERR_UNSUPPORTED);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 type host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 2122252543 192.168.1.10 49203 typhost", RTCSEC_ERR_PARSE);
}
END_TEST

START_TEST(candidate_raddr_without_rport_is_refused) {
  const char *head = "candidate:1 1 udp 1686052863 203.0.113.7 49203 typ srflx";
  const char *tails[] = {
      " raddr 192.168.1.10",
      " raddr 192.168.1.10 generation 0",
      " raddr 192.168.1.10 rport",
      " raddr 192.168.1.10 rport ",
      " raddr rport 49203",
      " raddr",
      " rport 49203",
      " rport 49203 raddr 192.168.1.10",
      " generation 0 raddr 192.168.1.10 rport 49203",
      " raddr 192.168.1.10 rport 49203 raddr 192.168.1.10 rport 49203",
      " raddr 192.168.1.10 rport 49203 rport 1",
  };
  for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "%s%s", head, tails[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
}
END_TEST

START_TEST(candidate_tcptype_must_match_the_transport) {
  /* RFC 6544 §4.5: TCP candidates carry tcptype; UDP ones do not. */
  cand_refused("candidate:1 1 tcp 1518280447 192.168.1.10 9 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 1518280447 192.168.1.10 9 typ host tcptype active",
               RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 tcp 1518280447 192.168.1.10 9 typ host tcptype simultaneous",
               RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active tcptype so",
               RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 tcp 1518280447 192.168.1.10 9 typ host tcptype", RTCSEC_ERR_PARSE);
  rtcsec_candidate c;
  ck_assert_int_eq(
      cand_parse(&c, "candidate:1 1 tcp 1518280447 192.168.1.10 9 typ host tcptype PASSIVE"), 0);
  ck_assert_int_eq(c.tcptype, RTCSEC_CANDIDATE_TCPTYPE_PASSIVE);
}
END_TEST

START_TEST(candidate_with_too_many_extensions_is_refused) {
  char line[1024];
  rtcsec_candidate c;
  line_with_extensions(line, sizeof(line), RTCSEC_CANDIDATE_MAX_EXTENSIONS);
  ck_assert_int_eq(cand_parse(&c, line), 0);
  ck_assert_uint_eq(c.n_ext, RTCSEC_CANDIDATE_MAX_EXTENSIONS);
  line_with_extensions(line, sizeof(line), RTCSEC_CANDIDATE_MAX_EXTENSIONS + 1);
  cand_refused(line, RTCSEC_ERR_LIMIT);
  line_with_extensions(line, sizeof(line), 100);
  cand_refused(line, RTCSEC_ERR_LIMIT);
  /* Decoded extensions count too. */
  char tcp[1024];
  int w = snprintf(tcp, sizeof(tcp),
                   "candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype active generation 0");
  for (size_t i = 0; i < RTCSEC_CANDIDATE_MAX_EXTENSIONS - 1; i++)
    w += snprintf(tcp + w, sizeof(tcp) - (size_t)w, " e%zu x", i);
  cand_refused(tcp, RTCSEC_ERR_LIMIT);
}
END_TEST

START_TEST(candidate_repeated_or_valueless_extensions_are_refused) {
  const char *head = "candidate:1 1 udp 2122252543 192.168.1.10 49203 typ host";
  const char *tails[] = {
      " generation 0 generation 1",
      " ufrag EsAw ufrag EsAw",
      " network-id 1 network-id 1",
      " network-cost 10 network-cost 10",
      " foo 1 foo 2",
      " foo 1 FOO 2",
      " foo",
      " foo ",
      " generation",
      " generation x",
      " generation 4294967296",
      " network-cost -1",
      " ufrag abc",
      " ufrag ab-cd",
      " f(o 1",
      " foo h\xc3\xb6",
      " generation 0  network-id 1",
  };
  for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line), "%s%s", head, tails[i]);
    cand_refused(line, RTCSEC_ERR_PARSE);
  }
  rtcsec_candidate c;
  char line[256];
  snprintf(line, sizeof(line), "%s generation 4294967295", head);
  ck_assert_int_eq(cand_parse(&c, line), 0);
  ck_assert_uint_eq(c.generation, 4294967295u);
}
END_TEST

START_TEST(candidate_oversized_extension_is_too_large) {
  char line[1024], big[300];
  memset(big, 'n', RTCSEC_CANDIDATE_EXT_NAME_MAX + 1);
  big[RTCSEC_CANDIDATE_EXT_NAME_MAX + 1] = '\0';
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 10.0.0.1 1 typ host %s v", big);
  cand_refused(line, RTCSEC_ERR_TOO_LARGE);
  memset(big, 'v', RTCSEC_CANDIDATE_EXT_VALUE_MAX + 1);
  big[RTCSEC_CANDIDATE_EXT_VALUE_MAX + 1] = '\0';
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 10.0.0.1 1 typ host n %s", big);
  cand_refused(line, RTCSEC_ERR_TOO_LARGE);
  /* At the limits it fits. */
  big[RTCSEC_CANDIDATE_EXT_VALUE_MAX] = '\0';
  snprintf(line, sizeof(line), "candidate:1 1 udp 1 10.0.0.1 1 typ host n %s", big);
  rtcsec_candidate c;
  ck_assert_int_eq(cand_parse(&c, line), 0);
  ck_assert_uint_eq(strlen(c.ext[0].value), RTCSEC_CANDIDATE_EXT_VALUE_MAX);
}
END_TEST

START_TEST(candidate_bad_foundation_or_spacing_is_refused) {
  cand_refused("candidate:123456789012345678901234567890123 1 udp 1 10.0.0.1 1 typ host",
               RTCSEC_ERR_PARSE);
  cand_refused("candidate:ab-c 1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate: 1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1  1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1 1 udp 1 10.0.0.1 1  typ host", RTCSEC_ERR_PARSE);
  cand_refused(" candidate:1 1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  cand_refused("candidate:1\t1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  cand_refused("a=a=candidate:1 1 udp 1 10.0.0.1 1 typ host", RTCSEC_ERR_PARSE);
  rtcsec_candidate c;
  ck_assert_int_eq(
      cand_parse(&c, "candidate:12345678901234567890123456789012 1 udp 1 10.0.0.1 1 typ host"), 0);
}
END_TEST

/* ---- limits shared by all parsers --------------------------------------------- */

START_TEST(sdp_lines_over_1024_bytes_are_too_large) {
  /* A valid value padded with trailing blanks: 1024 bytes pass, 1025 not. */
  char line[2048];
  memset(line, ' ', sizeof(line));
  memcpy(line, "a=setup:active", 14);
  rtcsec_sdp_setup v;
  ck_assert_int_eq(setup_parse(&v, line, RTCSEC_SDP_MAX_LINE), 0);
  ck_assert_int_eq(setup_parse(&v, line, RTCSEC_SDP_MAX_LINE + 1), RTCSEC_ERR_TOO_LARGE);

  /* 2 KB of every kind. */
  char big[2048];
  memset(big, 'A', sizeof(big));
  const char *prefixes[] = {"a=candidate:", "a=ice-ufrag:",   "a=ice-pwd:", "a=ice-options:",
                            "a=setup:",     "a=fingerprint:", "a=unknown:"};
  for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
    memcpy(big, prefixes[i], strlen(prefixes[i]));
    rtcsec_candidate c;
    rtcsec_sdp_ice_credentials cr;
    rtcsec_sdp_ice_options o;
    rtcsec_fingerprint fp;
    rtcsec_sdp_attr a;
    ck_assert_int_eq(cand_parse_n(&c, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(ufrag_parse(&cr, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(pwd_parse(&cr, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(options_parse(&o, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(setup_parse(&v, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(fp_parse(&fp, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
    ck_assert_int_eq(identify(&a, big, sizeof(big)), RTCSEC_ERR_TOO_LARGE);
  }
}
END_TEST

START_TEST(sdp_embedded_nul_is_refused) {
  static const char cand[] = "candidate:1 1 udp 1 10.0.0.1 1 typ host\0 generation 0";
  static const char cand_end[] = "candidate:1 1 udp 1 10.0.0.1 1 typ host\0";
  static const char ufrag[] = "a=ice-ufrag:Es\0Aw";
  static const char pwd[] = "a=ice-pwd:0123456789\0abcdefghijklmnop";
  static const char setup[] = "a=setup:act\0ive";
  static const char fp[] = "a=fingerprint:sha-1 \0";
  rtcsec_candidate c;
  rtcsec_sdp_ice_credentials cr;
  rtcsec_sdp_setup v;
  rtcsec_fingerprint f;
  rtcsec_sdp_attr a;
  ck_assert_int_eq(cand_parse_n(&c, cand, sizeof(cand) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(cand_parse_n(&c, cand_end, sizeof(cand_end) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(ufrag_parse(&cr, ufrag, sizeof(ufrag) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(pwd_parse(&cr, pwd, sizeof(pwd) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(setup_parse(&v, setup, sizeof(setup) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(fp_parse(&f, fp, sizeof(fp) - 1), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(identify(&a, ufrag, sizeof(ufrag) - 1), RTCSEC_ERR_PARSE);
  /* A line that ends at its NUL is fine when len stops before it. */
  ck_assert_int_eq(cand_parse_n(&c, cand, strlen(cand)), 0);
}
END_TEST

/* rtcsec_sdp_attr_value / rtcsec_sdp_line_body: the line rules for the
 * attributes other libraries own (data channels: RFC 8841). */
START_TEST(attr_value_and_line_body_apply_the_line_rules) {
  const char *v = NULL;
  size_t n = 99;
  static const char line[] = "a=SCTP-Port:5000 \r\n";
  ck_assert_int_eq(rtcsec_sdp_attr_value(line, sizeof(line) - 1, "sctp-port", &v, &n), 0);
  ck_assert_uint_eq(n, 4);
  ck_assert_ptr_eq(v, line + 12);
  ck_assert_int_eq(rtcsec_sdp_attr_value("max-message-size:", 17, "max-message-size", &v, &n), 0);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(rtcsec_sdp_attr_value("a=sctp-portx:1", 14, "sctp-port", &v, &n),
                   RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_sdp_attr_value("a=sctp-port", 11, "sctp-port", &v, &n), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_sdp_attr_value("a=sctp-port:1\x01", 14, "sctp-port", &v, &n),
                   RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_sdp_attr_value(NULL, 0, "x", &v, &n), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_attr_value("a=x:1", 5, NULL, &v, &n), RTCSEC_ERR_INVALID_ARGUMENT);
  char big[RTCSEC_SDP_MAX_LINE + 1];
  memset(big, '1', sizeof(big));
  memcpy(big, "a=x:", 4);
  ck_assert_int_eq(rtcsec_sdp_attr_value(big, sizeof(big), "x", &v, &n), RTCSEC_ERR_TOO_LARGE);
  static const char m[] = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
  ck_assert_int_eq(rtcsec_sdp_line_body(m, sizeof(m) - 1, &v, &n), 0);
  ck_assert_ptr_eq(v, m);
  ck_assert_uint_eq(n, sizeof(m) - 3);
  /* an "a=" stays part of a line that is not taken as an attribute */
  ck_assert_int_eq(rtcsec_sdp_line_body("a=b", 3, &v, &n), 0);
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(rtcsec_sdp_line_body(" \r\n", 3, &v, &n), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_sdp_line_body("m=\0", 3, &v, &n), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(rtcsec_sdp_line_body("m=", 2, NULL, &n), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(sdp_unterminated_inputs_are_read_within_len_only) {
  /* Each parser sees a heap block of exactly len bytes (ASan checks the
   * bounds); a longer buffer cut short parses what is inside len. */
  for (size_t i = 0; i < N_BROWSER_LINES; i++) {
    rtcsec_candidate c;
    ck_assert_int_eq(cand_parse_n(&c, browser_lines[i].line, strlen(browser_lines[i].line)), 0);
  }
  const char *text = "a=setup:activeXYZ";
  rtcsec_sdp_setup v;
  ck_assert_int_eq(setup_parse(&v, text, strlen("a=setup:active")), 0);
  ck_assert_int_eq(v, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_int_eq(setup_parse(&v, text, strlen(text)), RTCSEC_ERR_PARSE);
  /* Two lines in one input: the second is not ignored. */
  ck_assert_int_eq(setup_parse(&v, "a=setup:active\r\na=mid:0", 23), RTCSEC_ERR_PARSE);
  ck_assert_int_eq(setup_parse(&v, "a=setup:active\r\n\r\n", 18), 0);
  /* Zero length. */
  ck_assert_int_eq(setup_parse(&v, "", 0), RTCSEC_ERR_PARSE);
  rtcsec_sdp_attr a;
  ck_assert_int_eq(identify(&a, "", 0), RTCSEC_ERR_PARSE);
}
END_TEST

START_TEST(sdp_null_arguments_are_invalid) {
  rtcsec_candidate c;
  rtcsec_sdp_ice_credentials cr;
  rtcsec_sdp_ice_options o;
  rtcsec_sdp_setup v;
  rtcsec_fingerprint fp;
  rtcsec_sdp_attr a;
  rtcsec_dtls_role role;
  ck_assert_int_eq(rtcsec_sdp_candidate_parse(NULL, "x", 1), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_candidate_parse(&c, NULL, 1), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_parse(NULL, "x", 1), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_pwd_parse(&cr, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_options_parse(&o, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_parse(&v, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_fingerprint_parse(&fp, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_attr_identify(&a, NULL, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_attr_identify(NULL, "a=x", 3), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_candidate_format(NULL, NULL, 0, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(NULL, 0, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_ACTIVE, NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTIVE, NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  (void)c;
  (void)role;
}
END_TEST

/* ---- candidate formatting -------------------------------------------------- */

static void valid_candidate(rtcsec_candidate *c) {
  ck_assert_int_eq(cand_parse(c, browser_lines[0].line), 0);
}

START_TEST(candidate_format_refuses_invalid_fields) {
  rtcsec_candidate c;
  char out[RTCSEC_SDP_MAX_LINE];
#define EXPECT_FORMAT_ERROR(mutation, want)                                                        \
  do {                                                                                             \
    valid_candidate(&c);                                                                           \
    mutation;                                                                                      \
    memset(out, 'Z', sizeof(out));                                                                 \
    int rc_ = rtcsec_sdp_candidate_format(&c, out, sizeof(out), NULL);                             \
    ck_assert_msg(rc_ == (want), "%s: got %d", #mutation, rc_);                                    \
    ck_assert_int_eq(out[0], 'Z');                                                                 \
  } while (0)

  EXPECT_FORMAT_ERROR(c.foundation[0] = '\0', RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.foundation[0] = '-', RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(memset(c.foundation, '1', sizeof(c.foundation)), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.component = 0, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.component = 257, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.priority = 0, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.priority = 0x80000000u, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.transport = (rtcsec_candidate_transport)7, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.type = (rtcsec_candidate_type)9, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(strcpy(c.addr.host, "1.2.3.256"), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(strcpy(c.addr.host, ""), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(memset(c.addr.host, 'a', sizeof(c.addr.host)), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(strcpy(c.related.host, "x y"), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.tcptype = RTCSEC_CANDIDATE_TCPTYPE_ACTIVE, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.transport = RTCSEC_CANDIDATE_TCP, RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(strcpy(c.ufrag, "abc"), RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(
      (c.n_ext = 1, strcpy(c.ext[0].name, "generation"), strcpy(c.ext[0].value, "1")),
      RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR((c.n_ext = 1, strcpy(c.ext[0].name, "raddr"), strcpy(c.ext[0].value, "1")),
                      RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR((c.n_ext = 1, strcpy(c.ext[0].name, "foo"), strcpy(c.ext[0].value, "a b")),
                      RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR((c.n_ext = 1, strcpy(c.ext[0].name, "foo"), c.ext[0].value[0] = '\0'),
                      RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR((c.n_ext = 2, strcpy(c.ext[0].name, "foo"), strcpy(c.ext[0].value, "1"),
                       strcpy(c.ext[1].name, "foo"), strcpy(c.ext[1].value, "2")),
                      RTCSEC_ERR_INVALID_ARGUMENT);
  EXPECT_FORMAT_ERROR(c.n_ext = RTCSEC_CANDIDATE_MAX_EXTENSIONS + 1, RTCSEC_ERR_LIMIT);
  /* 4 decoded extensions + 13 others = 17. */
  EXPECT_FORMAT_ERROR(c.n_ext = RTCSEC_CANDIDATE_MAX_EXTENSIONS - 3, RTCSEC_ERR_LIMIT);
#undef EXPECT_FORMAT_ERROR
}
END_TEST

START_TEST(candidate_format_reports_the_length_a_small_buffer_needs) {
  rtcsec_candidate c;
  valid_candidate(&c);
  size_t need = 0;
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, NULL, 0, &need), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(need, strlen(browser_lines[0].line));
  char out[RTCSEC_SDP_MAX_LINE];
  memset(out, 'Z', sizeof(out));
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, need, &n), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(n, need);
  ck_assert_int_eq(out[0], 'Z');
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, need + 1, &n), 0);
  ck_assert_str_eq(out, browser_lines[0].line);
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, NULL, 5, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(candidate_format_refuses_a_line_over_the_limit) {
  rtcsec_candidate c;
  valid_candidate(&c);
  c.n_ext = 8;
  for (size_t i = 0; i < c.n_ext; i++) {
    snprintf(c.ext[i].name, sizeof(c.ext[i].name), "e%zu", i);
    memset(c.ext[i].value, 'v', RTCSEC_CANDIDATE_EXT_VALUE_MAX);
    c.ext[i].value[RTCSEC_CANDIDATE_EXT_VALUE_MAX] = '\0';
  }
  char out[4096];
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, sizeof(out), NULL), RTCSEC_ERR_TOO_LARGE);
  /* With "a=" and CRLF added, a formatted line always parses again. */
  c.n_ext = 2;
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, sizeof(out), &n), 0);
  ck_assert_uint_le(n + 4, RTCSEC_SDP_MAX_LINE);
}
END_TEST

START_TEST(candidate_built_by_hand_formats_and_parses) {
  /* An application filling the struct itself: type/mdns are derived. */
  rtcsec_candidate c;
  memset(&c, 0, sizeof(c));
  strcpy(c.foundation, "1");
  c.component = 1;
  c.transport = RTCSEC_CANDIDATE_UDP;
  c.priority = 2130706431u;
  strcpy(c.addr.host, "host-1.local");
  c.addr.port = 5000;
  c.type = RTCSEC_CANDIDATE_HOST;
  char out[RTCSEC_SDP_MAX_LINE];
  ck_assert_int_eq(rtcsec_sdp_candidate_format(&c, out, sizeof(out), NULL), 0);
  ck_assert_str_eq(out, "candidate:1 1 udp 2130706431 host-1.local 5000 typ host");
  rtcsec_candidate back;
  ck_assert_int_eq(cand_parse(&back, out), 0);
  ck_assert_int_eq(back.addr.type, RTCSEC_CANDIDATE_ADDR_FQDN);
  ck_assert_int_eq(back.addr.mdns, 1);
  ck_assert_str_eq(rtcsec_candidate_type_name((rtcsec_candidate_type)42), "unknown");
}
END_TEST

/* ---- ICE credentials and options ------------------------------------------------ */

START_TEST(ice_credentials_parse_browser_lines) {
  rtcsec_sdp_ice_credentials cr;
  memset(&cr, 0, sizeof(cr));
  const char *u = "a=ice-ufrag:EsAw\r\n";
  const char *p = "a=ice-pwd:P+rl5LArdcKl/ey5lyXLBwB/\r\n";
  ck_assert_int_eq(ufrag_parse(&cr, u, strlen(u)), 0);
  ck_assert_str_eq(cr.ufrag, "EsAw");
  ck_assert_str_eq(cr.pwd, "");
  ck_assert_int_eq(pwd_parse(&cr, p, strlen(p)), 0);
  ck_assert_str_eq(cr.pwd, "P+rl5LArdcKl/ey5lyXLBwB/");
  ck_assert_str_eq(cr.ufrag, "EsAw");
  /* Firefox style, without "a=". */
  const char *fu = "ice-ufrag:9a1b2c3d";
  const char *fpw = "ice-pwd:0123456789abcdef0123456789abcdef";
  ck_assert_int_eq(ufrag_parse(&cr, fu, strlen(fu)), 0);
  ck_assert_str_eq(cr.ufrag, "9a1b2c3d");
  ck_assert_int_eq(pwd_parse(&cr, fpw, strlen(fpw)), 0);
  ck_assert_str_eq(cr.pwd, "0123456789abcdef0123456789abcdef");

  char out[512];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, sizeof(out), &n), 0);
  ck_assert_str_eq(out, "ice-ufrag:9a1b2c3d");
  ck_assert_uint_eq(n, strlen(out));
  ck_assert_int_eq(rtcsec_sdp_ice_pwd_format(&cr, out, sizeof(out), &n), 0);
  ck_assert_str_eq(out, "ice-pwd:0123456789abcdef0123456789abcdef");
  rtcsec_sdp_ice_credentials back;
  memset(&back, 0, sizeof(back));
  ck_assert_int_eq(pwd_parse(&back, out, n), 0);
  ck_assert_str_eq(back.pwd, cr.pwd);
}
END_TEST

/* Each of these must fail with PARSE and leave both fields alone. */
static void cred_refused(int pwd, const char *s) {
  rtcsec_sdp_ice_credentials cr, before;
  memset(&cr, 0x5A, sizeof(cr));
  memcpy(&before, &cr, sizeof(cr));
  int rc = pwd ? pwd_parse(&cr, s, strlen(s)) : ufrag_parse(&cr, s, strlen(s));
  ck_assert_msg(rc == RTCSEC_ERR_PARSE, "\"%s\": %d", s, rc);
  ck_assert_mem_eq(&cr, &before, sizeof(cr));
}

START_TEST(ice_ufrag_and_pwd_too_short_or_long_are_refused) {
  cred_refused(0, "a=ice-ufrag:abc");
  cred_refused(1, "a=ice-pwd:012345678901234567890"); /* 21 */
  char line[600];
  strcpy(line, "a=ice-ufrag:");
  memset(line + 12, 'a', 257);
  line[12 + 257] = '\0';
  cred_refused(0, line);
  line[12 + 256] = '\0';
  rtcsec_sdp_ice_credentials cr;
  ck_assert_int_eq(ufrag_parse(&cr, line, strlen(line)), 0);
  ck_assert_uint_eq(strlen(cr.ufrag), 256);
  strcpy(line, "a=ice-pwd:");
  memset(line + 10, 'p', 257);
  line[10 + 257] = '\0';
  cred_refused(1, line);
  const char *p22 = "a=ice-pwd:0123456789012345678901";
  ck_assert_int_eq(pwd_parse(&cr, p22, strlen(p22)), 0);
}
END_TEST

START_TEST(ice_credentials_with_bad_characters_are_refused) {
  const char *bad[] = {"ab-cd", "abcd=", "abcd efgh",   "ab_cd",
                       "ab.cd", "ab:cd", "h\xc3\xb6he", "abcd\x7f"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char line[128];
    snprintf(line, sizeof(line), "a=ice-ufrag:%s", bad[i]);
    cred_refused(0, line);
    snprintf(line, sizeof(line), "a=ice-pwd:%s0123456789012345678901", bad[i]);
    cred_refused(1, line);
  }
  cred_refused(0, "a=ice-ufrag: abcd");
  cred_refused(0, "a=ice-pwd:0123456789012345678901"); /* the other attribute */
  cred_refused(1, "a=ice-ufrag:0123456789012345678901");
}
END_TEST

START_TEST(ice_missing_credentials_are_refused) {
  cred_refused(0, "a=ice-ufrag:");
  cred_refused(0, "a=ice-ufrag:\r\n");
  cred_refused(0, "a=ice-ufrag:   \r\n");
  cred_refused(0, "a=ice-ufrag");
  cred_refused(1, "a=ice-pwd:");
  cred_refused(1, "a=ice-pwd: \t\r\n");
  cred_refused(1, "a=ice-pwd");
  cred_refused(1, "");
}
END_TEST

START_TEST(ice_credentials_format_refuses_invalid_values) {
  rtcsec_sdp_ice_credentials cr;
  memset(&cr, 0, sizeof(cr));
  char out[600];
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, sizeof(out), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  strcpy(cr.ufrag, "ab-c");
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, sizeof(out), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  memset(cr.ufrag, 'a', sizeof(cr.ufrag)); /* no NUL */
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, sizeof(out), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  strcpy(cr.pwd, "short");
  ck_assert_int_eq(rtcsec_sdp_ice_pwd_format(&cr, out, sizeof(out), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  strcpy(cr.ufrag, "abcd");
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, 14, &n), RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_uint_eq(n, 14);
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, 15, &n), 0);
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(NULL, out, 15, &n), RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

static int ice_char_index(char ch) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = strchr(alphabet, ch);
  return (ch != '\0' && p != NULL) ? (int)(p - alphabet) : -1;
}

START_TEST(ice_credentials_generate_default_lengths_that_parse) {
  rtcsec_sdp_ice_credentials cr;
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 0, 0), 0);
  ck_assert_uint_eq(strlen(cr.ufrag), RTCSEC_ICE_UFRAG_DEFAULT_LEN);
  ck_assert_uint_eq(strlen(cr.pwd), RTCSEC_ICE_PWD_DEFAULT_LEN);
  /* What we generate, we accept. */
  char line[600];
  size_t n;
  rtcsec_sdp_ice_credentials back;
  ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, line, sizeof(line), &n), 0);
  ck_assert_int_eq(ufrag_parse(&back, line, n), 0);
  ck_assert_int_eq(rtcsec_sdp_ice_pwd_format(&cr, line, sizeof(line), &n), 0);
  ck_assert_int_eq(pwd_parse(&back, line, n), 0);
  ck_assert_str_eq(back.ufrag, cr.ufrag);
  ck_assert_str_eq(back.pwd, cr.pwd);

  /* The RFC 8445 §5.3 minimums and the RFC 8839 maximums. */
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 4, 22), 0);
  ck_assert_uint_eq(strlen(cr.ufrag), 4);
  ck_assert_uint_eq(strlen(cr.pwd), 22);
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 256, 256), 0);
  ck_assert_uint_eq(strlen(cr.ufrag), 256);
  ck_assert_uint_eq(strlen(cr.pwd), 256);

  memset(&cr, 0x5A, sizeof(cr));
  rtcsec_sdp_ice_credentials before = cr;
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 3, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 257, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 0, 21), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&cr, 0, 257), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_mem_eq(&cr, &before, sizeof(cr));
}
END_TEST

START_TEST(ice_credentials_generate_uses_every_ice_char_evenly) {
  /* 1000 x (256 + 256) characters: each of the 64 symbols is expected
   * 8000 times (sd ~ 89). A modulo-biased or narrowed mapping would fall
   * far outside +-6 sd; a fair one essentially never does. */
  long counts[64] = {0};
  long not_ice_chars = 0, repeats = 0, failures = 0;
  rtcsec_sdp_ice_credentials cr, first;
  ck_assert_int_eq(rtcsec_sdp_ice_credentials_generate(&first, 256, 256), 0);
  /* Asserting once at the end: a Check assertion per character is slow. */
  for (int round = 0; round < 1000; round++) {
    if (rtcsec_sdp_ice_credentials_generate(&cr, 256, 256) != 0) {
      failures++;
      continue;
    }
    repeats += strcmp(cr.pwd, first.pwd) == 0;
    for (int i = 0; i < 256; i++) {
      int a = ice_char_index(cr.ufrag[i]);
      int b = ice_char_index(cr.pwd[i]);
      if (a < 0 || b < 0) {
        not_ice_chars++;
        continue;
      }
      counts[a]++;
      counts[b]++;
    }
  }
  ck_assert_int_eq(failures, 0);
  ck_assert_int_eq(repeats, 0);
  ck_assert_int_eq(not_ice_chars, 0);
  for (int i = 0; i < 64; i++)
    ck_assert_msg(counts[i] > 7460 && counts[i] < 8540, "symbol %d seen %ld times", i, counts[i]);
}
END_TEST

START_TEST(ice_options_detect_trickle_and_ice2) {
  rtcsec_sdp_ice_options o;
  const char *chrome = "a=ice-options:trickle\r\n";
  ck_assert_int_eq(options_parse(&o, chrome, strlen(chrome)), 0);
  ck_assert_int_eq(o.trickle, 1);
  ck_assert_int_eq(o.ice2, 0);
  ck_assert_uint_eq(o.n_unknown, 0);
  const char *more = "ice-options:trickle renomination ice2";
  ck_assert_int_eq(options_parse(&o, more, strlen(more)), 0);
  ck_assert_int_eq(o.trickle, 1);
  ck_assert_int_eq(o.ice2, 1);
  ck_assert_uint_eq(o.n_unknown, 1);
  const char *other = "a=ice-options:ice2";
  ck_assert_int_eq(options_parse(&o, other, strlen(other)), 0);
  ck_assert_int_eq(o.trickle, 0);

  char out[64];
  size_t n;
  o.trickle = 1;
  o.ice2 = 1;
  ck_assert_int_eq(rtcsec_sdp_ice_options_format(&o, out, sizeof(out), &n), 0);
  ck_assert_str_eq(out, "ice-options:trickle ice2");
  o.ice2 = 0;
  ck_assert_int_eq(rtcsec_sdp_ice_options_format(&o, out, sizeof(out), &n), 0);
  ck_assert_str_eq(out, "ice-options:trickle");
  o.trickle = 0;
  ck_assert_int_eq(rtcsec_sdp_ice_options_format(&o, out, sizeof(out), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(ice_options_malformed_are_refused) {
  const char *bad[] = {"a=ice-options:",
                       "a=ice-options",
                       "a=ice-options: trickle",
                       "a=ice-options:trickle  ice2",
                       "a=ice-options:trickle,ice2",
                       "a=ice-options:tri-ckle",
                       "a=ice-option:trickle"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rtcsec_sdp_ice_options o;
    memset(&o, 0x5A, sizeof(o));
    rtcsec_sdp_ice_options before = o;
    ck_assert_int_eq(options_parse(&o, bad[i], strlen(bad[i])), RTCSEC_ERR_PARSE);
    ck_assert_mem_eq(&o, &before, sizeof(o));
  }
}
END_TEST

START_TEST(attr_identify_sorts_lines_and_flags) {
  struct {
    const char *line;
    int rc;
    rtcsec_sdp_attr attr;
  } cases[] = {
      {"a=ice-ufrag:EsAw", 0, RTCSEC_SDP_ATTR_ICE_UFRAG},
      {"a=ice-pwd:x", 0, RTCSEC_SDP_ATTR_ICE_PWD},
      {"a=ice-options:trickle", 0, RTCSEC_SDP_ATTR_ICE_OPTIONS},
      {"a=ice-lite\r\n", 0, RTCSEC_SDP_ATTR_ICE_LITE},
      {"a=end-of-candidates", 0, RTCSEC_SDP_ATTR_END_OF_CANDIDATES},
      {"end-of-candidates", 0, RTCSEC_SDP_ATTR_END_OF_CANDIDATES},
      {"a=candidate:1 1 udp 1 10.0.0.1 1 typ host", 0, RTCSEC_SDP_ATTR_CANDIDATE},
      {"candidate:garbage", 0, RTCSEC_SDP_ATTR_CANDIDATE},
      {"a=fingerprint:sha-256 AB", 0, RTCSEC_SDP_ATTR_FINGERPRINT},
      {"a=setup:actpass", 0, RTCSEC_SDP_ATTR_SETUP},
      {"a=SETUP:actpass", 0, RTCSEC_SDP_ATTR_SETUP},
      {"a=mid:0", 0, RTCSEC_SDP_ATTR_OTHER},
      {"a=recvonly", 0, RTCSEC_SDP_ATTR_OTHER},
      {"a=ice-lite:yes", RTCSEC_ERR_PARSE, 0},
      {"a=end-of-candidates:", RTCSEC_ERR_PARSE, 0},
      {"m=audio 9 UDP/TLS/RTP/SAVPF 111", RTCSEC_ERR_PARSE, 0},
      {"a=", RTCSEC_ERR_PARSE, 0},
      {"a=:x", RTCSEC_ERR_PARSE, 0},
      {"a=ice lite", RTCSEC_ERR_PARSE, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rtcsec_sdp_attr a = (rtcsec_sdp_attr)99;
    int rc = identify(&a, cases[i].line, strlen(cases[i].line));
    ck_assert_msg(rc == cases[i].rc, "\"%s\": %d", cases[i].line, rc);
    if (rc == 0)
      ck_assert_msg(a == cases[i].attr, "\"%s\": attr %d", cases[i].line, (int)a);
    else
      ck_assert_int_eq(a, 99);
  }
}
END_TEST

/* ---- fingerprint ------------------------------------------------------------- */

START_TEST(sdp_fingerprint_round_trips_through_cert_h) {
  const char *line = "a=fingerprint:sha-256 "
                     "D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:"
                     "EA:6F:AF:52:CE:E6:0F\r\n";
  rtcsec_fingerprint fp, back;
  ck_assert_int_eq(fp_parse(&fp, line, strlen(line)), 0);
  ck_assert_int_eq(fp.hash, RTCSEC_HASH_SHA256);
  ck_assert_uint_eq(fp.len, 32);
  ck_assert_uint_eq(fp.digest[0], 0xD2);
  ck_assert_uint_eq(fp.digest[31], 0x0F);
  char out[RTCSEC_FINGERPRINT_STRLEN + 16];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_sdp_fingerprint_format(&fp, out, sizeof(out), &n), 0);
  ck_assert_uint_eq(n, strlen(line) - 4);
  ck_assert_int_eq(strncmp(out, line + 2, n), 0);
  ck_assert_int_eq(fp_parse(&back, out, n), 0);
  ck_assert_int_eq(rtcsec_fingerprint_equal(&fp, &back), 1);

  ck_assert_int_eq(rtcsec_sdp_fingerprint_format(&fp, out, n, &n), RTCSEC_ERR_BUFFER_TOO_SMALL);
  fp.len = 5;
  ck_assert_int_eq(rtcsec_sdp_fingerprint_format(&fp, out, sizeof(out), &n),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(sdp_fingerprint_errors_are_those_of_cert_h) {
  struct {
    const char *line;
    int rc;
  } cases[] = {
      {"a=fingerprint:md5 AB:CD", RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH},
      {"a=fingerprint:sha-1 AB:CD", RTCSEC_ERR_FINGERPRINT_LENGTH},
      {"a=fingerprint:", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"a=fingerprint:sha-256", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"a=fingerprint:fingerprint:sha-1 AB", RTCSEC_ERR_FINGERPRINT_MALFORMED},
      {"a=fingerprint:sha-1 AB:CD\r\na=setup:active", RTCSEC_ERR_PARSE},
      {"a=setup:active", RTCSEC_ERR_PARSE},
      {"fingerprints:sha-1 AB", RTCSEC_ERR_PARSE},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rtcsec_fingerprint fp;
    int rc = fp_parse(&fp, cases[i].line, strlen(cases[i].line));
    ck_assert_msg(rc == cases[i].rc, "\"%s\": %d", cases[i].line, rc);
  }
}
END_TEST

/* ---- setup and the DTLS role -------------------------------------------------- */

START_TEST(setup_parse_and_format_every_role) {
  const rtcsec_sdp_setup all[] = {RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTIVE,
                                  RTCSEC_SDP_SETUP_PASSIVE, RTCSEC_SDP_SETUP_HOLDCONN};
  const char *names[] = {"actpass", "active", "passive", "holdconn"};
  for (size_t i = 0; i < 4; i++) {
    char out[32], line[64];
    size_t n;
    ck_assert_str_eq(rtcsec_sdp_setup_name(all[i]), names[i]);
    ck_assert_int_eq(rtcsec_sdp_setup_format(all[i], out, sizeof(out), &n), 0);
    snprintf(line, sizeof(line), "setup:%s", names[i]);
    ck_assert_str_eq(out, line);
    rtcsec_sdp_setup v;
    ck_assert_int_eq(setup_parse(&v, out, n), 0);
    ck_assert_int_eq(v, all[i]);
    snprintf(line, sizeof(line), "a=setup:%s\r\n", names[i]);
    ck_assert_int_eq(setup_parse(&v, line, strlen(line)), 0);
    ck_assert_int_eq(v, all[i]);
  }
  rtcsec_sdp_setup v;
  ck_assert_int_eq(setup_parse(&v, "a=setup:ACTPASS", 15), 0);
  ck_assert_int_eq(v, RTCSEC_SDP_SETUP_ACTPASS);
  char out[32];
  ck_assert_int_eq(rtcsec_sdp_setup_format((rtcsec_sdp_setup)9, out, sizeof(out), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_format(RTCSEC_SDP_SETUP_ACTIVE, out, 12, NULL),
                   RTCSEC_ERR_BUFFER_TOO_SMALL);
  ck_assert_str_eq(rtcsec_sdp_setup_name((rtcsec_sdp_setup)9), "unknown");
}
END_TEST

START_TEST(setup_parse_refuses_other_values) {
  const char *bad[] = {"a=setup:",         "a=setup",         "a=setup:act",
                       "a=setup:activex",  "a=setup: active", "a=setup:active passive",
                       "a=setup:actpass;", "a=setups:active", "a=setup:\xc3\xa4"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    rtcsec_sdp_setup v = (rtcsec_sdp_setup)77;
    ck_assert_msg(setup_parse(&v, bad[i], strlen(bad[i])) == RTCSEC_ERR_PARSE, "%s", bad[i]);
    ck_assert_int_eq(v, 77);
  }
}
END_TEST

START_TEST(setup_answer_follows_rfc_4145_and_5763) {
  rtcsec_sdp_setup a;
  /* Offer actpass: the preference, or active by default (RFC 5763 §5). */
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTPASS, &a),
                   0);
  ck_assert_int_eq(a, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_ACTIVE, &a),
                   0);
  ck_assert_int_eq(a, RTCSEC_SDP_SETUP_ACTIVE);
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_PASSIVE, &a),
                   0);
  ck_assert_int_eq(a, RTCSEC_SDP_SETUP_PASSIVE);
  /* Offer active / passive: the other one, whatever the preference. */
  for (int pref = RTCSEC_SDP_SETUP_ACTPASS; pref <= RTCSEC_SDP_SETUP_PASSIVE; pref++) {
    ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTIVE, (rtcsec_sdp_setup)pref, &a),
                     0);
    ck_assert_int_eq(a, RTCSEC_SDP_SETUP_PASSIVE);
    ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_PASSIVE, (rtcsec_sdp_setup)pref, &a),
                     0);
    ck_assert_int_eq(a, RTCSEC_SDP_SETUP_ACTIVE);
  }
}
END_TEST

START_TEST(setup_answer_refuses_holdconn_and_bad_values) {
  rtcsec_sdp_setup a = (rtcsec_sdp_setup)77;
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_HOLDCONN, RTCSEC_SDP_SETUP_ACTPASS, &a),
                   RTCSEC_ERR_UNSUPPORTED);
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, RTCSEC_SDP_SETUP_HOLDCONN, &a),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_answer((rtcsec_sdp_setup)9, RTCSEC_SDP_SETUP_ACTPASS, &a),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_answer(RTCSEC_SDP_SETUP_ACTPASS, (rtcsec_sdp_setup)-1, &a),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(a, 77);
}
END_TEST

START_TEST(setup_dtls_role_active_is_client_passive_is_server) {
  rtcsec_dtls_role r;
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_ACTIVE, &r), 0);
  ck_assert_int_eq(r, RTCSEC_DTLS_CLIENT);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_PASSIVE, &r), 0);
  ck_assert_int_eq(r, RTCSEC_DTLS_SERVER);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_ACTPASS, &r),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(RTCSEC_SDP_SETUP_HOLDCONN, &r),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role((rtcsec_sdp_setup)9, &r),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role_from_remote(RTCSEC_SDP_SETUP_ACTIVE, &r), 0);
  ck_assert_int_eq(r, RTCSEC_DTLS_SERVER);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role_from_remote(RTCSEC_SDP_SETUP_PASSIVE, &r), 0);
  ck_assert_int_eq(r, RTCSEC_DTLS_CLIENT);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role_from_remote(RTCSEC_SDP_SETUP_ACTPASS, &r),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_sdp_setup_dtls_role_from_remote(RTCSEC_SDP_SETUP_ACTIVE, NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(setup_offer_answer_always_gives_one_client_and_one_server) {
  /* Offerer says actpass; whatever the answerer prefers, the roles the two
   * sides derive are complementary. */
  for (int pref = RTCSEC_SDP_SETUP_ACTPASS; pref <= RTCSEC_SDP_SETUP_PASSIVE; pref++) {
    char offer_line[32], answer_line[32];
    size_t n;
    ck_assert_int_eq(
        rtcsec_sdp_setup_format(RTCSEC_SDP_SETUP_ACTPASS, offer_line, sizeof(offer_line), &n), 0);
    rtcsec_sdp_setup offer, answer, answer_seen;
    ck_assert_int_eq(setup_parse(&offer, offer_line, n), 0);
    ck_assert_int_eq(rtcsec_sdp_setup_answer(offer, (rtcsec_sdp_setup)pref, &answer), 0);
    ck_assert_int_eq(rtcsec_sdp_setup_format(answer, answer_line, sizeof(answer_line), &n), 0);
    ck_assert_int_eq(setup_parse(&answer_seen, answer_line, n), 0);
    rtcsec_dtls_role answerer, offerer;
    ck_assert_int_eq(rtcsec_sdp_setup_dtls_role(answer, &answerer), 0);
    ck_assert_int_eq(rtcsec_sdp_setup_dtls_role_from_remote(answer_seen, &offerer), 0);
    ck_assert_int_ne(answerer, offerer);
  }
}
END_TEST

/* ---- seeded mutations ------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rng_next(void) {
  /* xorshift64*: fixed seed, same sequence on every run. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static const char *mutation_seeds[] = {
    "a=ice-ufrag:EsAw\r\n",
    "a=ice-pwd:P+rl5LArdcKl/ey5lyXLBwB/",
    "a=ice-options:trickle ice2",
    "a=setup:actpass",
    "a=ice-lite",
    "a=fingerprint:sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
};

/* Applies 1..4 random edits to buf[0..*len) (capacity cap). */
static void mutate(char *buf, size_t *len, size_t cap) {
  static const char interesting[] = " :.0123456789-+/\r\n\0\t\xff"
                                    "aZ";
  int edits = 1 + (int)(rng_next() % 4);
  for (int e = 0; e < edits; e++) {
    size_t n = *len;
    size_t at = n > 0 ? rng_next() % n : 0;
    switch (rng_next() % 8) {
    case 0: /* flip bits */
      if (n > 0)
        buf[at] = (char)(buf[at] ^ (1 << (rng_next() % 8)));
      break;
    case 1: /* replace with an interesting byte */
      if (n > 0)
        buf[at] = interesting[rng_next() % (sizeof(interesting) - 1)];
      break;
    case 2: /* insert */
      if (n < cap) {
        memmove(buf + at + 1, buf + at, n - at);
        buf[at] = interesting[rng_next() % (sizeof(interesting) - 1)];
        (*len)++;
      }
      break;
    case 3: /* delete */
      if (n > 0) {
        memmove(buf + at, buf + at + 1, n - at - 1);
        (*len)--;
      }
      break;
    case 4: /* truncate */
      *len = at;
      break;
    case 5: { /* duplicate a piece */
      size_t piece = n > at ? 1 + rng_next() % (n - at) : 0;
      if (n + piece <= cap) {
        memmove(buf + at + piece, buf + at, n - at);
        (*len) += piece;
      }
      break;
    }
    case 6: /* a long run of digits (numbers out of range) */
      if (n > 0 && n + 12 <= cap) {
        memmove(buf + at + 12, buf + at, n - at);
        memset(buf + at, '9', 12);
        (*len) += 12;
      }
      break;
    default: /* swap two bytes */
      if (n > 1) {
        size_t other = rng_next() % n;
        char t = buf[at];
        buf[at] = buf[other];
        buf[other] = t;
      }
      break;
    }
  }
}

/* Runs every parser; whatever a parser accepts must format and parse back
 * to the same value. */
static void check_all_parsers(const char *p, size_t len, uint64_t seed, int iter) {
  rtcsec_candidate c, back;
  rtcsec_sdp_ice_credentials cr;
  rtcsec_sdp_ice_options o;
  rtcsec_sdp_setup v;
  rtcsec_fingerprint fp;
  rtcsec_sdp_attr a;
  char out[RTCSEC_SDP_MAX_LINE];
  size_t n;

  memset(&c, 0, sizeof(c));
  if (rtcsec_sdp_candidate_parse(&c, p, len) == 0) {
    int rc = rtcsec_sdp_candidate_format(&c, out, sizeof(out), &n);
    ck_assert_msg(rc == 0 || (rc == RTCSEC_ERR_TOO_LARGE && len > RTCSEC_SDP_MAX_LINE - 4),
                  "seed %llu iteration %d: accepted candidate does not format (%d)",
                  (unsigned long long)seed, iter, rc);
    if (rc == 0) {
      ck_assert_msg(rtcsec_sdp_candidate_parse(&back, out, n) == 0 &&
                        memcmp(&c, &back, sizeof(c)) == 0,
                    "seed %llu iteration %d: candidate round trip differs: %s",
                    (unsigned long long)seed, iter, out);
    }
  }
  memset(&cr, 0, sizeof(cr));
  if (rtcsec_sdp_ice_ufrag_parse(&cr, p, len) == 0) {
    ck_assert_int_eq(rtcsec_sdp_ice_ufrag_format(&cr, out, sizeof(out), &n), 0);
  }
  if (rtcsec_sdp_ice_pwd_parse(&cr, p, len) == 0) {
    ck_assert_int_eq(rtcsec_sdp_ice_pwd_format(&cr, out, sizeof(out), &n), 0);
  }
  (void)rtcsec_sdp_ice_options_parse(&o, p, len);
  if (rtcsec_sdp_setup_parse(&v, p, len) == 0) {
    ck_assert_int_eq(rtcsec_sdp_setup_format(v, out, sizeof(out), &n), 0);
  }
  if (rtcsec_sdp_fingerprint_parse(&fp, p, len) == 0) {
    rtcsec_fingerprint fp2;
    ck_assert_int_eq(rtcsec_sdp_fingerprint_format(&fp, out, sizeof(out), &n), 0);
    ck_assert_int_eq(rtcsec_sdp_fingerprint_parse(&fp2, out, n), 0);
    ck_assert_int_eq(rtcsec_fingerprint_equal(&fp, &fp2), 1);
  }
  (void)rtcsec_sdp_attr_identify(&a, p, len);
}

START_TEST(sdp_random_mutations_never_crash) {
  const uint64_t seed = 0x5d9c0ffee1234567ULL;
  rng_state = seed;
  const size_t n_seeds = N_BROWSER_LINES + sizeof(mutation_seeds) / sizeof(mutation_seeds[0]);
  int accepted = 0;
  for (int iter = 0; iter < 10000; iter++) {
    size_t pick = rng_next() % n_seeds;
    const char *src =
        pick < N_BROWSER_LINES ? browser_lines[pick].line : mutation_seeds[pick - N_BROWSER_LINES];
    char buf[RTCSEC_SDP_MAX_LINE + 64];
    size_t len = strlen(src);
    memcpy(buf, src, len);
    mutate(buf, &len, sizeof(buf));
    char *p = exact_copy(buf, len);
    rtcsec_candidate probe;
    if (rtcsec_sdp_candidate_parse(&probe, p, len) == 0)
      accepted++;
    check_all_parsers(p, len, seed, iter);
    free(p);
  }
  /* The loop must exercise both sides: some mutants are still candidates. */
  ck_assert_int_gt(accepted, 100);
  ck_assert_int_lt(accepted, 9000);
}
END_TEST

int main(void) {
  Suite *s = suite_create("sdp");

  TCase *cand = tcase_create("candidate");
  tcase_add_test(cand, candidate_browser_lines_round_trip);
  tcase_add_test(cand, candidate_chromium_srflx_fields_are_decoded);
  tcase_add_test(cand, candidate_addresses_are_classified_ipv6_mdns_tcp);
  tcase_add_test(cand, candidate_accepts_a_prefix_line_end_and_any_case);
  tcase_add_test(cand, candidate_missing_fields_are_refused);
  tcase_add_test(cand, candidate_non_numeric_or_out_of_range_component_is_refused);
  tcase_add_test(cand, candidate_priority_zero_or_above_2_31_minus_1_is_refused);
  tcase_add_test(cand, candidate_bad_ip_address_is_refused);
  tcase_add_test(cand, candidate_port_out_of_range_or_with_junk_is_refused);
  tcase_add_test(cand, candidate_unknown_transport_is_unsupported);
  tcase_add_test(cand, candidate_unknown_type_is_unsupported);
  tcase_add_test(cand, candidate_raddr_without_rport_is_refused);
  tcase_add_test(cand, candidate_tcptype_must_match_the_transport);
  tcase_add_test(cand, candidate_with_too_many_extensions_is_refused);
  tcase_add_test(cand, candidate_repeated_or_valueless_extensions_are_refused);
  tcase_add_test(cand, candidate_oversized_extension_is_too_large);
  tcase_add_test(cand, candidate_bad_foundation_or_spacing_is_refused);
  tcase_add_test(cand, candidate_format_refuses_invalid_fields);
  tcase_add_test(cand, candidate_format_reports_the_length_a_small_buffer_needs);
  tcase_add_test(cand, candidate_format_refuses_a_line_over_the_limit);
  tcase_add_test(cand, candidate_built_by_hand_formats_and_parses);
  suite_add_tcase(s, cand);

  TCase *lines = tcase_create("lines");
  tcase_add_test(lines, sdp_lines_over_1024_bytes_are_too_large);
  tcase_add_test(lines, sdp_embedded_nul_is_refused);
  tcase_add_test(lines, attr_value_and_line_body_apply_the_line_rules);
  tcase_add_test(lines, sdp_unterminated_inputs_are_read_within_len_only);
  tcase_add_test(lines, sdp_null_arguments_are_invalid);
  tcase_add_test(lines, attr_identify_sorts_lines_and_flags);
  tcase_add_test(lines, sdp_random_mutations_never_crash);
  suite_add_tcase(s, lines);

  TCase *ice = tcase_create("ice");
  tcase_add_test(ice, ice_credentials_parse_browser_lines);
  tcase_add_test(ice, ice_ufrag_and_pwd_too_short_or_long_are_refused);
  tcase_add_test(ice, ice_credentials_with_bad_characters_are_refused);
  tcase_add_test(ice, ice_missing_credentials_are_refused);
  tcase_add_test(ice, ice_credentials_format_refuses_invalid_values);
  tcase_add_test(ice, ice_credentials_generate_default_lengths_that_parse);
  tcase_add_test(ice, ice_credentials_generate_uses_every_ice_char_evenly);
  tcase_add_test(ice, ice_options_detect_trickle_and_ice2);
  tcase_add_test(ice, ice_options_malformed_are_refused);
  suite_add_tcase(s, ice);

  TCase *dtls = tcase_create("fingerprint-setup");
  tcase_add_test(dtls, sdp_fingerprint_round_trips_through_cert_h);
  tcase_add_test(dtls, sdp_fingerprint_errors_are_those_of_cert_h);
  tcase_add_test(dtls, setup_parse_and_format_every_role);
  tcase_add_test(dtls, setup_parse_refuses_other_values);
  tcase_add_test(dtls, setup_answer_follows_rfc_4145_and_5763);
  tcase_add_test(dtls, setup_answer_refuses_holdconn_and_bad_values);
  tcase_add_test(dtls, setup_dtls_role_active_is_client_passive_is_server);
  tcase_add_test(dtls, setup_offer_answer_always_gives_one_client_and_one_server);
  suite_add_tcase(s, dtls);

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
