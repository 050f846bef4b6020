/* tools/util.c: see util.h. */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tool_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
  if (s == NULL || s[0] < '0' || s[0] > '9')
    return -1; /* strtoul would take "-1", " 1" and "+1" */
  errno = 0;
  char *end = NULL;
  unsigned long v = strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int tool_parse_host_port(const char *s, char *host, size_t host_cap, uint16_t *port,
                         int allow_zero) {
  if (s == NULL || host == NULL || port == NULL)
    return -1;
  const char *h = s, *p;
  size_t hlen;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    h = s + 1;
    hlen = (size_t)(close - h);
    p = close + 2;
  } else {
    const char *colon = strrchr(s, ':');
    /* A bare IPv6 address is ambiguous: brackets are asked for. */
    if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
      return -1;
    hlen = (size_t)(colon - s);
    p = colon + 1;
  }
  unsigned long v;
  if (hlen == 0 || hlen >= host_cap || tool_parse_ulong(p, allow_zero ? 0 : 1, 65535, &v) != 0)
    return -1;
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  *port = (uint16_t)v;
  return 0;
}

int tool_parse_ip_port(const char *s, int allow_zero, struct sockaddr_storage *out,
                       socklen_t *out_len) {
  char host[TOOL_HOST_MAX];
  uint16_t port;
  if (out == NULL || out_len == NULL ||
      tool_parse_host_port(s, host, sizeof(host), &port, allow_zero) != 0)
    return -1;
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *a4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *out_len = sizeof(*a4);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *out_len = sizeof(*a6);
    return 0;
  }
  memset(out, 0, sizeof(*out));
  return -1;
}

int tool_is_ip_address(const char *s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return s != NULL && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

void tool_addr_text(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (buf == NULL || cap == 0)
    return;
  if (ss != NULL && ss->ss_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    snprintf(buf, cap, "%s:%u", host, (unsigned)ntohs(a->sin_port));
  } else if (ss != NULL && ss->ss_family == AF_INET6 &&
             len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    snprintf(buf, cap, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
  } else {
    snprintf(buf, cap, "?");
  }
}

int tool_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a;
    const struct sockaddr_in *y = (const struct sockaddr_in *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  return 0;
}

uint64_t tool_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

long tool_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kib;
}

double tool_loadavg(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  if (f == NULL)
    return -1;
  double l = -1;
  if (fscanf(f, "%lf", &l) != 1 || l < 0)
    l = -1;
  fclose(f);
  return l;
}

void tool_rss_watch_init(tool_rss_watch *w, uint64_t from_us, uint64_t every_us) {
  w->next_us = from_us;
  w->every_us = every_us;
  w->first = -1;
  w->max = 0;
}

void tool_rss_watch_sample(tool_rss_watch *w, uint64_t now_us, int force) {
  if (!force && now_us < w->next_us)
    return;
  long r = tool_rss_kib();
  if (r <= 0)
    return;
  if (w->first < 0)
    w->first = r;
  if (r > w->max)
    w->max = r;
  w->next_us = now_us + w->every_us;
}

double tool_rss_watch_growth(const tool_rss_watch *w) {
  if (w->first <= 0)
    return -1;
  return 100.0 * (double)(w->max - w->first) / (double)w->first;
}

void tool_usage_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry '%s --help'.\n", prog);
}
