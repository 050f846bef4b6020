/* tools/util.h: what every rtcsec program needs and none should write again.
 *
 * Numbers and ADDR:PORT from the command line, addresses as text, the
 * monotonic clock, the process's resident memory and the load average,
 * big-endian fields of the packets the programs build and check, and the
 * "PROG: message / Try 'PROG --help'." line. No state, no allocation; used by tools/,
 * bench/ and their tests (tests/test_tool_util.c). Not part of librtcsec.
 */
#ifndef RTCSEC_TOOL_UTIL_H
#define RTCSEC_TOOL_UTIL_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Longest host part tool_parse_host_port() accepts, plus its NUL. */
#define TOOL_HOST_MAX 256

/* A decimal number in [min, max]: digits only (no sign, no space, no
 * trailing text). Returns 0, or -1 with *out untouched. */
int tool_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* "HOST:PORT" or "[IPv6]:PORT". A bare IPv6 address ("::1:5000") is
 * refused as ambiguous. The host part is copied into host (NUL-terminated,
 * at most host_cap - 1 bytes, not resolved); the port must be in
 * [allow_zero ? 0 : 1, 65535]. Returns 0, or -1 with host and *port
 * untouched. */
int tool_parse_host_port(const char *s, char *host, size_t host_cap, uint16_t *port,
                         int allow_zero);

/* tool_parse_host_port() where the host must be a numeric IPv4 or IPv6
 * address, into a socket address. Returns 0 or -1. */
int tool_parse_ip_port(const char *s, int allow_zero, struct sockaddr_storage *out,
                       socklen_t *out_len);

/* 1 if s is a numeric IPv4 or IPv6 address (no brackets, no port, no
 * name), else 0. */
int tool_is_ip_address(const char *s);

/* "ADDR:PORT" for IPv4, "[ADDR]:PORT" for IPv6, "?" for anything else or
 * a length too short for its family. Always NUL-terminates if cap > 0. */
void tool_addr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t cap);

/* 1 if both are the same family, address and port (IPv4 or IPv6). */
int tool_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* CLOCK_MONOTONIC in microseconds: the `now` every rtcsec call takes. */
uint64_t tool_now_us(void);

/* This process's resident set size in KiB (VmRSS), or -1 if unknown. */
long tool_rss_kib(void);

/* The 1-minute load average (/proc/loadavg), or -1 if unknown: what a
 * benchmark prints beside its figures, which mean little on a busy machine. */
double tool_loadavg(void);

/* The peak resident memory from a point in time on (the end of a soak's
 * warm-up): sampled at most every `every_us`, and whenever forced. */
typedef struct tool_rss_watch {
  uint64_t next_us, every_us;
  long first, max; /* KiB; first -1 until the first sample */
} tool_rss_watch;

void tool_rss_watch_init(tool_rss_watch *w, uint64_t from_us, uint64_t every_us);
/* Takes a sample if now_us is due (or force), keeping the first and the
 * largest. */
void tool_rss_watch_sample(tool_rss_watch *w, uint64_t now_us, int force);
/* Percent the peak is above the first sample; -1 if there was no sample. */
double tool_rss_watch_growth(const tool_rss_watch *w);

/* Network byte order (big-endian) fields, as in RTP and RTCP headers, at
 * any alignment. (The library's own lib/be.h is internal: programs use
 * the socket API's byte order.) */
static inline uint16_t tool_get_be16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof(v));
  return ntohs(v);
}

static inline uint32_t tool_get_be32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return ntohl(v);
}

static inline void tool_put_be16(uint8_t *p, uint16_t v) {
  v = htons(v);
  memcpy(p, &v, sizeof(v));
}

static inline void tool_put_be32(uint8_t *p, uint32_t v) {
  v = htonl(v);
  memcpy(p, &v, sizeof(v));
}

/* Prints "PROG: <message>" and "Try 'PROG --help'." to stderr. */
void tool_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
