/* The programs' shared helpers (tools/util.c): command-line numbers and
 * addresses are taken only when exactly right, everything else is refused
 * without touching the outputs; addresses print as the programs log them;
 * big-endian fields go in and out high byte first;
 * the clock moves forward; the RSS reader finds this process's memory; the
 * load average is the kernel's. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "util.h"

START_TEST(numbers_only_when_exactly_right) {
  unsigned long v = 7;
  ck_assert_int_eq(tool_parse_ulong("0", 0, 10, &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(tool_parse_ulong("10", 0, 10, &v), 0);
  ck_assert_uint_eq(v, 10);
  ck_assert_int_eq(tool_parse_ulong("65535", 1, 65535, &v), 0);
  ck_assert_uint_eq(v, 65535);
  static const char *bad[] = {"",     "-1", "+1",  " 1",  "1 ",  "1x",
                              "0x10", "11", "1e3", "abc", "1.5", "99999999999999999999999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = 42;
    ck_assert_msg(tool_parse_ulong(bad[i], 0, 10, &v) == -1, "'%s' accepted", bad[i]);
    ck_assert_uint_eq(v, 42);
  }
  ck_assert_int_eq(tool_parse_ulong("1", 2, 10, &v), -1); /* below min */
  ck_assert_int_eq(tool_parse_ulong(NULL, 0, 10, &v), -1);
}
END_TEST

START_TEST(host_port_forms) {
  char host[64] = "untouched";
  uint16_t port = 1;
  ck_assert_int_eq(tool_parse_host_port("127.0.0.1:8080", host, sizeof(host), &port, 0), 0);
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_uint_eq(port, 8080);
  ck_assert_int_eq(tool_parse_host_port("[::1]:443", host, sizeof(host), &port, 0), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_uint_eq(port, 443);
  ck_assert_int_eq(tool_parse_host_port("localhost:0", host, sizeof(host), &port, 1), 0);
  ck_assert_str_eq(host, "localhost"); /* a name is copied, not resolved */
  ck_assert_uint_eq(port, 0);

  static const char *bad[] = {
      "127.0.0.1",       /* no port */
      "127.0.0.1:",      /* empty port */
      ":80",             /* empty host */
      "127.0.0.1:65536", /* port too big */
      "127.0.0.1:-1",
      "127.0.0.1:80x",
      "127.0.0.1: 80",
      "::1:80",      /* bare IPv6: ambiguous */
      "[::1]80",     /* no colon after the bracket */
      "[::1",        /* no closing bracket */
      "[]:80",       /* empty host in brackets */
      "127.0.0.1:0", /* port 0 without allow_zero */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    strcpy(host, "untouched");
    port = 1;
    ck_assert_msg(tool_parse_host_port(bad[i], host, sizeof(host), &port, 0) == -1, "'%s' accepted",
                  bad[i]);
    ck_assert_str_eq(host, "untouched");
    ck_assert_uint_eq(port, 1);
  }
  /* The host must fit with its NUL. */
  char small[10];
  ck_assert_int_eq(tool_parse_host_port("123456789:1", small, sizeof(small), &port, 0), 0);
  ck_assert_int_eq(tool_parse_host_port("1234567890:1", small, sizeof(small), &port, 0), -1);
  ck_assert_int_eq(tool_parse_host_port(NULL, host, sizeof(host), &port, 0), -1);
}
END_TEST

START_TEST(ip_port_into_socket_addresses) {
  struct sockaddr_storage ss;
  socklen_t len = 0;
  ck_assert_int_eq(tool_parse_ip_port("127.0.0.2:5000", 0, &ss, &len), 0);
  ck_assert_int_eq(ss.ss_family, AF_INET);
  ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
  const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
  ck_assert_uint_eq(ntohs(a4->sin_port), 5000);
  ck_assert_uint_eq(ntohl(a4->sin_addr.s_addr), 0x7f000002u);

  ck_assert_int_eq(tool_parse_ip_port("[::1]:0", 1, &ss, &len), 0);
  ck_assert_int_eq(ss.ss_family, AF_INET6);
  ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
  ck_assert(IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&ss)->sin6_addr));

  ck_assert_int_eq(tool_parse_ip_port("localhost:5000", 0, &ss, &len), -1); /* numeric only */
  ck_assert_int_eq(tool_parse_ip_port("256.0.0.1:5000", 0, &ss, &len), -1);
  ck_assert_int_eq(tool_parse_ip_port("[127.0.0.1x]:5000", 0, &ss, &len), -1);
  ck_assert_int_eq(tool_parse_ip_port("127.0.0.1:0", 0, &ss, &len), -1);
}
END_TEST

START_TEST(addresses_as_text_and_equality) {
  struct sockaddr_storage a, b;
  socklen_t la, lb;
  char buf[64];
  ck_assert_int_eq(tool_parse_ip_port("10.1.2.3:7", 0, &a, &la), 0);
  tool_addr_text(&a, la, buf, sizeof(buf));
  ck_assert_str_eq(buf, "10.1.2.3:7");
  ck_assert_int_eq(tool_parse_ip_port("[fe80::1]:65535", 0, &b, &lb), 0);
  tool_addr_text(&b, lb, buf, sizeof(buf));
  ck_assert_str_eq(buf, "[fe80::1]:65535");
  /* Too short for its family, or an unknown family: "?". */
  tool_addr_text(&b, (socklen_t)sizeof(struct sockaddr_in), buf, sizeof(buf));
  ck_assert_str_eq(buf, "?");
  struct sockaddr_storage u;
  memset(&u, 0, sizeof(u));
  u.ss_family = AF_UNIX;
  tool_addr_text(&u, sizeof(u), buf, sizeof(buf));
  ck_assert_str_eq(buf, "?");
  /* Truncated to the buffer, always terminated. */
  char tiny[5];
  tool_addr_text(&a, la, tiny, sizeof(tiny));
  ck_assert_str_eq(tiny, "10.1");

  ck_assert_int_eq(tool_addr_equal(&a, &a), 1);
  ck_assert_int_eq(tool_addr_equal(&a, &b), 0);
  struct sockaddr_storage c;
  socklen_t lc;
  ck_assert_int_eq(tool_parse_ip_port("10.1.2.3:8", 0, &c, &lc), 0);
  ck_assert_int_eq(tool_addr_equal(&a, &c), 0); /* port differs */
  ck_assert_int_eq(tool_parse_ip_port("10.1.2.4:7", 0, &c, &lc), 0);
  ck_assert_int_eq(tool_addr_equal(&a, &c), 0); /* address differs */
  ck_assert_int_eq(tool_parse_ip_port("[fe80::1]:65535", 0, &c, &lc), 0);
  ck_assert_int_eq(tool_addr_equal(&b, &c), 1);
  ck_assert_int_eq(tool_addr_equal(&u, &u), 0); /* unknown family: never equal */
}
END_TEST

START_TEST(numeric_ip_addresses_only) {
  static const char *good[] = {
      "127.0.0.1", "0.0.0.0", "255.255.255.255",           "::1",
      "::",        "fe80::1", "2001:db8::8:800:200c:417a", "::ffff:192.0.2.1"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    ck_assert_msg(tool_is_ip_address(good[i]) == 1, "'%s' refused", good[i]);
  static const char *bad[] = {
      "",          "localhost", "127.0.0.1:80", "[::1]",      "::1:80:", "256.0.0.1", "1.2.3",
      "1.2.3.4.5", " 1.2.3.4",  "1.2.3.4 ",     "fe80::1%lo", "::g",     "1::2::3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(tool_is_ip_address(bad[i]) == 0, "'%s' accepted", bad[i]);
  ck_assert_int_eq(tool_is_ip_address(NULL), 0);
}
END_TEST

START_TEST(big_endian_fields) {
  uint8_t b[8];
  memset(b, 0xee, sizeof(b));
  tool_put_be16(b + 1, 0x1234);
  tool_put_be32(b + 3, 0x89abcdefu);
  static const uint8_t want[8] = {0xee, 0x12, 0x34, 0x89, 0xab, 0xcd, 0xef, 0xee};
  ck_assert_mem_eq(b, want, sizeof(want)); /* only their own bytes, high first */
  ck_assert_uint_eq(tool_get_be16(b + 1), 0x1234);
  ck_assert_uint_eq(tool_get_be32(b + 3), 0x89abcdefu);
  /* The high bit survives both ways (no sign extension). */
  tool_put_be16(b, 0xffff);
  tool_put_be32(b + 2, 0xffffffffu);
  ck_assert_uint_eq(tool_get_be16(b), 0xffff);
  ck_assert_uint_eq(tool_get_be32(b + 2), 0xffffffffu);
  ck_assert_uint_eq(tool_get_be32(b + 1), 0xffffffffu);
}
END_TEST

/* n bytes of pages never touched before. */
static unsigned char *fresh_pages(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ck_assert(p != MAP_FAILED);
  return p;
}

START_TEST(clock_and_memory) {
  uint64_t t0 = tool_now_us();
  struct timespec ts = {0, 2000000}; /* 2 ms */
  nanosleep(&ts, NULL);
  uint64_t t1 = tool_now_us();
  ck_assert_uint_ge(t1 - t0, 2000);
  ck_assert_uint_lt(t1 - t0, 60u * 1000000u);
  long before = tool_rss_kib();
  ck_assert_int_gt(before, 0);
  /* 32 MiB touched shows up in VmRSS (mmap, not malloc: a sanitizer's
   * allocator may hand out memory that is already resident). */
  size_t n = 32u << 20;
  unsigned char *p = fresh_pages(n);
  memset(p, 0xa5, n);
  long after = tool_rss_kib();
  ck_assert_int_ge(after - before, 16 * 1024);
  ck_assert_uint_eq(p[n - 1], 0xa5);
  munmap(p, n);
}
END_TEST

/* The first field of /proc/loadavg, as this test reads it itself. */
static double proc_loadavg(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  ck_assert_msg(f != NULL, "no /proc/loadavg: this test needs Linux's procfs");
  double l = -2;
  ck_assert_int_eq(fscanf(f, "%lf", &l), 1);
  fclose(f);
  return l;
}

START_TEST(load_average_is_procs_first_field) {
  /* The kernel updates it every 5 s: it must equal what was there just
   * before or just after. */
  double before = proc_loadavg();
  double got = tool_loadavg();
  double after = proc_loadavg();
  ck_assert_double_ge(got, 0);
  double d1 = got - before, d2 = got - after;
  ck_assert_msg((d1 > -0.005 && d1 < 0.005) || (d2 > -0.005 && d2 < 0.005),
                "tool_loadavg() %.2f, /proc/loadavg %.2f then %.2f", got, before, after);
}
END_TEST

START_TEST(rss_watch_keeps_first_and_peak) {
  tool_rss_watch w;
  tool_rss_watch_init(&w, 1000, 500);
  ck_assert_double_eq(tool_rss_watch_growth(&w), -1); /* no sample: no verdict */
  tool_rss_watch_sample(&w, 999, 0);                  /* before the start: nothing */
  ck_assert_int_eq(w.first, -1);
  tool_rss_watch_sample(&w, 1000, 0);
  ck_assert_int_gt(w.first, 0);
  ck_assert_int_eq(w.max, w.first);
  ck_assert_uint_eq(w.next_us, 1500);
  size_t n = 32u << 20;
  unsigned char *p = fresh_pages(n);
  memset(p, 0x5a, n);
  tool_rss_watch_sample(&w, 1200, 0); /* not due: the peak is missed */
  ck_assert_int_eq(w.max, w.first);
  tool_rss_watch_sample(&w, 1200, 1); /* forced */
  ck_assert_int_ge(w.max - w.first, 16 * 1024);
  ck_assert_double_gt(tool_rss_watch_growth(&w), 0);
  long peak = w.max;
  munmap(p, n);
  tool_rss_watch_sample(&w, 5000, 0); /* lower now: the peak stays */
  ck_assert_int_eq(w.max, peak);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tool_util");
  TCase *tc = tcase_create("util");
  tcase_add_test(tc, numbers_only_when_exactly_right);
  tcase_add_test(tc, host_port_forms);
  tcase_add_test(tc, ip_port_into_socket_addresses);
  tcase_add_test(tc, addresses_as_text_and_equality);
  tcase_add_test(tc, numeric_ip_addresses_only);
  tcase_add_test(tc, big_endian_fields);
  tcase_add_test(tc, clock_and_memory);
  tcase_add_test(tc, rss_watch_keeps_first_and_peak);
  tcase_add_test(tc, load_average_is_procs_first_field);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
