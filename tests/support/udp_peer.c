/* Test support: an rtcsec association over a UDP socket on 127.0.0.1 (see
 * udp_peer.h). Same loop as tools/rtcsec-dtls.c: poll() until the earlier
 * of the association's deadline and the caller's, feed every datagram, run
 * due timers, then drain datagrams and events. */
#include "udp_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDP_PEER_BUF 65536

uint64_t udp_peer_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void loopback(struct sockaddr_in *a, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

void udp_peer_init(udp_peer *p) {
  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->alert = -1;
}

int udp_peer_open(udp_peer *p, uint16_t port) {
  udp_peer_init(p);
  p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    return -errno;
  }
  struct sockaddr_in a;
  loopback(&a, port);
  if (bind(p->fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
    int e = errno;
    close(p->fd);
    p->fd = -1;
    return -e;
  }
  return 0;
}

uint16_t udp_peer_local_port(const udp_peer *p) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  if (p->fd < 0 || getsockname(p->fd, (struct sockaddr *)&a, &len) != 0) {
    return 0;
  }
  return ntohs(a.sin_port);
}

int udp_peer_set_remote(udp_peer *p, uint16_t port) {
  struct sockaddr_in a;
  loopback(&a, port);
  if (connect(p->fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
    return -errno;
  }
  p->remote = a;
  p->have_remote = 1;
  return 0;
}

static void flush_datagrams(udp_peer *p) {
  static uint8_t buf[UDP_PEER_BUF];
  for (;;) {
    size_t len = 0;
    if (rtcsec_dtls_poll_datagram(p->dtls, buf, sizeof(buf), &len) != 0 || len == 0) {
      return;
    }
    if (p->have_remote) {
      (void)send(p->fd, buf, len, 0); /* losses are retransmitted */
    }
  }
}

static void drain(udp_peer *p) {
  flush_datagrams(p);
  for (;;) {
    rtcsec_event ev;
    memset(&ev, 0, sizeof(ev));
    if (rtcsec_dtls_poll_event(p->dtls, &ev) != 0 || ev.type == RTCSEC_EVENT_NONE) {
      break;
    }
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      p->connected = 1;
      p->info = ev.connected;
      rtcsec_dtls_export_srtp_keys(p->dtls, &p->keys);
      break;
    case RTCSEC_EVENT_FAILED:
      p->failed = 1;
      p->error = ev.failed.error;
      p->alert = ev.failed.alert;
      p->alert_from_peer = ev.failed.alert_from_peer;
      snprintf(p->detail, sizeof(p->detail), "%s", rtcsec_dtls_error_detail(p->dtls));
      break;
    case RTCSEC_EVENT_CLOSED:
      p->closed = 1;
      break;
    case RTCSEC_EVENT_DATA:
    case RTCSEC_EVENT_NONE:
    default:
      break;
    }
  }
  flush_datagrams(p); /* a failure's alert is queued with the event */
}

int udp_peer_start(udp_peer *p, const rtcsec_dtls_config *cfg) {
  int rc = rtcsec_dtls_new(&p->dtls, cfg);
  if (rc != 0) {
    return rc;
  }
  rc = rtcsec_dtls_start(p->dtls, udp_peer_now_us());
  if (rc != 0) {
    return rc;
  }
  drain(p);
  return 0;
}

static void read_datagrams(udp_peer *p) {
  static uint8_t buf[UDP_PEER_BUF];
  for (;;) {
    struct sockaddr_in from;
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR || errno == ECONNREFUSED) {
        continue; /* ICMP for an earlier datagram: the peer is not up yet */
      }
      return;
    }
    if (!p->have_remote) {
      /* RFC 7983: DTLS records start with 20..63; lock onto the first one. */
      if (n == 0 || buf[0] < 20 || buf[0] > 63 || from.sin_family != AF_INET ||
          connect(p->fd, (const struct sockaddr *)&from, from_len) != 0) {
        p->datagrams_ignored++;
        continue;
      }
      p->remote = from;
      p->have_remote = 1;
    } else if (from.sin_port != p->remote.sin_port ||
               from.sin_addr.s_addr != p->remote.sin_addr.s_addr) {
      p->datagrams_ignored++;
      continue;
    }
    rtcsec_dtls_handle_datagram(p->dtls, buf, (size_t)n, udp_peer_now_us());
    drain(p);
  }
}

static void step(udp_peer *p, uint64_t until) {
  uint64_t now = udp_peer_now_us();
  uint64_t wake = rtcsec_dtls_deadline(p->dtls);
  if (until < wake) {
    wake = until;
  }
  int wait_ms = 0;
  if (wake > now) {
    uint64_t ms = (wake - now + 999) / 1000;
    wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
  }
  struct pollfd pfd = {.fd = p->fd, .events = POLLIN, .revents = 0};
  if (poll(&pfd, 1, wait_ms) > 0 && (pfd.revents & (POLLIN | POLLERR)) != 0) {
    read_datagrams(p);
  }
  now = udp_peer_now_us();
  if (now >= rtcsec_dtls_deadline(p->dtls)) {
    rtcsec_dtls_handle_timeout(p->dtls, now);
    drain(p);
  }
}

int udp_peer_run(udp_peer *p, uint64_t timeout_us) {
  if (p->dtls == NULL) {
    return RTCSEC_ERR_INVALID_STATE;
  }
  uint64_t until = udp_peer_now_us() + timeout_us;
  while (!p->connected && !p->failed && !p->closed) {
    if (udp_peer_now_us() >= until) {
      return RTCSEC_ERR_HANDSHAKE_TIMEOUT;
    }
    step(p, until);
  }
  if (p->connected) {
    return 0;
  }
  return p->failed ? p->error : RTCSEC_ERR_CLOSED;
}

void udp_peer_linger(udp_peer *p, uint64_t duration_us) {
  if (p->dtls == NULL) {
    return;
  }
  uint64_t until = udp_peer_now_us() + duration_us;
  while (udp_peer_now_us() < until) {
    step(p, until);
  }
}

void udp_peer_close(udp_peer *p) {
  if (p->dtls == NULL) {
    return;
  }
  rtcsec_dtls_state s = rtcsec_dtls_get_state(p->dtls);
  if (s == RTCSEC_DTLS_STATE_FAILED || s == RTCSEC_DTLS_STATE_CLOSED) {
    return;
  }
  if (rtcsec_dtls_close(p->dtls, udp_peer_now_us()) == 0) {
    drain(p);
  }
}

void udp_peer_free(udp_peer *p) {
  rtcsec_srtp_keys_wipe(&p->keys);
  rtcsec_dtls_free(p->dtls);
  p->dtls = NULL;
  if (p->fd >= 0) {
    close(p->fd);
  }
  p->fd = -1;
}

uint16_t udp_peer_free_port(void) {
  udp_peer p;
  if (udp_peer_open(&p, 0) != 0) {
    return 0;
  }
  uint16_t port = udp_peer_local_port(&p);
  udp_peer_free(&p);
  return port;
}
