/* rtcsec_udp_mux: an rtcsec_router on one UDP socket with recvmmsg/sendmmsg
 * and poll(). See rtcsec/udp_mux.h. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "rtcsec/udp_mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOT 2048 /* >= the router's MTU + SRTP overhead */
#define MAX_BATCH 1024
#define SEND_RETRIES 3
#define SEND_WAIT_MS 5

struct rtcsec_udp_mux {
  rtcsec_router *r;
  rtcsec_udp_mux_callbacks cb;
  int fd;
  uint16_t port;
  unsigned batch;

  uint8_t *rx_buf;
  struct mmsghdr *rx_msg;
  struct iovec *rx_iov;
  struct sockaddr_storage *rx_addr;
  socklen_t *rx_addr_len; /* for rtcsec_router_prefetch() */

  uint8_t *tx_buf;
  struct mmsghdr *tx_msg;
  struct iovec *tx_iov;
  struct sockaddr_storage *tx_addr;
  unsigned tx_n;

  rtcsec_udp_mux_stats stats;
};

uint64_t rtcsec_udp_mux_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void rtcsec_udp_mux_config_default(rtcsec_udp_mux_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->bind_addr = "127.0.0.1";
  cfg->batch = 64;
  cfg->sock_buf = 32 * 1024 * 1024;
}

static int open_socket(const rtcsec_udp_mux_config *cfg, uint16_t *port_out) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof(ss));
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, cfg->bind_addr, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(cfg->port);
    len = sizeof(*sin);
  } else if (inet_pton(AF_INET6, cfg->bind_addr, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(cfg->port);
    len = sizeof(*sin6);
  } else {
    return -EINVAL;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (cfg->sock_buf > 0) {
    /* Bursts of thousands of peers: a deep queue rather than drops. The
     * kernel caps these at net.core.{r,w}mem_max (root may force more). */
    int v = cfg->sock_buf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  *port_out = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
  return fd;
}

int rtcsec_udp_mux_open(rtcsec_udp_mux **out, rtcsec_router *r, const rtcsec_udp_mux_config *cfg,
                        const rtcsec_udp_mux_callbacks *cb) {
  if (out == NULL || r == NULL)
    return -EINVAL;
  *out = NULL;
  rtcsec_udp_mux_config def;
  rtcsec_udp_mux_config_default(&def);
  if (cfg == NULL)
    cfg = &def;
  if (cfg->batch == 0 || cfg->batch > MAX_BATCH || cfg->bind_addr == NULL)
    return -EINVAL;
  rtcsec_udp_mux *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return -ENOMEM;
  m->r = r;
  if (cb != NULL)
    m->cb = *cb;
  m->batch = cfg->batch;
  m->rx_buf = malloc((size_t)m->batch * SLOT);
  m->rx_msg = calloc(m->batch, sizeof(*m->rx_msg));
  m->rx_iov = calloc(m->batch, sizeof(*m->rx_iov));
  m->rx_addr = calloc(m->batch, sizeof(*m->rx_addr));
  m->rx_addr_len = calloc(m->batch, sizeof(*m->rx_addr_len));
  m->tx_buf = malloc((size_t)m->batch * SLOT);
  m->tx_msg = calloc(m->batch, sizeof(*m->tx_msg));
  m->tx_iov = calloc(m->batch, sizeof(*m->tx_iov));
  m->tx_addr = calloc(m->batch, sizeof(*m->tx_addr));
  m->fd = -1;
  if (!m->rx_buf || !m->rx_msg || !m->rx_iov || !m->rx_addr || !m->rx_addr_len || !m->tx_buf ||
      !m->tx_msg || !m->tx_iov || !m->tx_addr) {
    rtcsec_udp_mux_close(m);
    return -ENOMEM;
  }
  int fd = open_socket(cfg, &m->port);
  if (fd < 0) {
    rtcsec_udp_mux_close(m);
    return fd;
  }
  m->fd = fd;
  *out = m;
  return 0;
}

void rtcsec_udp_mux_close(rtcsec_udp_mux *m) {
  if (m == NULL)
    return;
  if (m->fd >= 0)
    close(m->fd);
  free(m->rx_buf);
  free(m->rx_msg);
  free(m->rx_iov);
  free(m->rx_addr);
  free(m->rx_addr_len);
  free(m->tx_buf);
  free(m->tx_msg);
  free(m->tx_iov);
  free(m->tx_addr);
  free(m);
}

int rtcsec_udp_mux_fd(const rtcsec_udp_mux *m) { return m ? m->fd : -1; }
uint16_t rtcsec_udp_mux_port(const rtcsec_udp_mux *m) { return m ? m->port : 0; }

void rtcsec_udp_mux_get_stats(const rtcsec_udp_mux *m, rtcsec_udp_mux_stats *out) {
  if (m && out)
    *out = m->stats;
}

/* ---- sending ------------------------------------------------------------------ */

static int send_batch(rtcsec_udp_mux *m) {
  unsigned off = 0;
  int retries = 0;
  while (off < m->tx_n) {
    int n = sendmmsg(m->fd, m->tx_msg + off, m->tx_n - off, 0);
    if (n > 0) {
      off += (unsigned)n;
      m->stats.tx_datagrams += (uint64_t)n;
      m->stats.tx_calls++;
      retries = 0;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && retries < SEND_RETRIES) {
      /* The send buffer is full: wait a little for it to drain. */
      struct pollfd p = {.fd = m->fd, .events = POLLOUT};
      poll(&p, 1, SEND_WAIT_MS);
      retries++;
      continue;
    }
    /* Give up on this datagram (buffer still full, or e.g. an ICMP error
     * reported on the socket) and go on with the rest. */
    m->stats.tx_dropped++;
    off++;
    retries = 0;
  }
  m->tx_n = 0;
  return 0;
}

/* The next free send slot, flushing a full batch first. */
static unsigned tx_slot(rtcsec_udp_mux *m) {
  if (m->tx_n == m->batch)
    send_batch(m);
  return m->tx_n;
}

static void tx_commit(rtcsec_udp_mux *m, unsigned i, size_t len, socklen_t dst_len) {
  m->tx_iov[i].iov_base = m->tx_buf + (size_t)i * SLOT;
  m->tx_iov[i].iov_len = len;
  memset(&m->tx_msg[i], 0, sizeof(m->tx_msg[i]));
  m->tx_msg[i].msg_hdr.msg_iov = &m->tx_iov[i];
  m->tx_msg[i].msg_hdr.msg_iovlen = 1;
  m->tx_msg[i].msg_hdr.msg_name = &m->tx_addr[i];
  m->tx_msg[i].msg_hdr.msg_namelen = dst_len;
  m->tx_n++;
}

int rtcsec_udp_mux_send(rtcsec_udp_mux *m, const uint8_t *buf, size_t len,
                        const struct sockaddr_storage *dst, socklen_t dst_len) {
  if (m == NULL || buf == NULL || dst == NULL || len > SLOT || dst_len > (socklen_t)sizeof(*dst))
    return -EINVAL;
  unsigned i = tx_slot(m);
  memcpy(m->tx_buf + (size_t)i * SLOT, buf, len);
  memcpy(&m->tx_addr[i], dst, dst_len);
  tx_commit(m, i, len, dst_len);
  return 0;
}

int rtcsec_udp_mux_flush(rtcsec_udp_mux *m) {
  if (m == NULL)
    return -EINVAL;
  /* Everything the router has (STUN answers, DTLS flights), straight into
   * the send slots, then out in batches. */
  for (unsigned guard = 0; guard < 1000000; guard++) {
    unsigned i = tx_slot(m);
    size_t len = 0;
    socklen_t dst_len = 0;
    int rc = rtcsec_router_poll_datagram(m->r, m->tx_buf + (size_t)i * SLOT, SLOT, &len,
                                         &m->tx_addr[i], &dst_len, NULL);
    if (rc != RTCSEC_OK || len == 0)
      break;
    tx_commit(m, i, len, dst_len);
  }
  if (m->tx_n > 0)
    send_batch(m);
  return 0;
}

/* ---- receiving ---------------------------------------------------------------- */

static void poll_events(rtcsec_udp_mux *m, uint64_t now) {
  rtcsec_event ev;
  for (unsigned guard = 0; guard < 1000000; guard++) {
    if (rtcsec_router_poll_event(m->r, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      break;
    if (m->cb.on_event)
      m->cb.on_event(m->cb.user, m, &ev, now);
  }
}

static int receive_batch(rtcsec_udp_mux *m) {
  for (unsigned i = 0; i < m->batch; i++) {
    m->rx_iov[i].iov_base = m->rx_buf + (size_t)i * SLOT;
    m->rx_iov[i].iov_len = SLOT;
    memset(&m->rx_msg[i], 0, sizeof(m->rx_msg[i]));
    m->rx_msg[i].msg_hdr.msg_iov = &m->rx_iov[i];
    m->rx_msg[i].msg_hdr.msg_iovlen = 1;
    m->rx_msg[i].msg_hdr.msg_name = &m->rx_addr[i];
    m->rx_msg[i].msg_hdr.msg_namelen = sizeof(m->rx_addr[i]);
  }
  int n;
  do {
    n = recvmmsg(m->fd, m->rx_msg, m->batch, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  m->stats.rx_calls++;
  m->stats.rx_datagrams += (uint64_t)n;
  uint64_t now = rtcsec_udp_mux_now();
  /* The batch's sessions start loading into the cache all at once (see
   * rtcsec_router_prefetch()); with thousands of sessions each would
   * otherwise wait for memory in turn. */
  for (int i = 0; i < n; i++)
    m->rx_addr_len[i] = m->rx_msg[i].msg_hdr.msg_namelen;
  rtcsec_router_prefetch(m->r, m->rx_addr, m->rx_addr_len, (size_t)n);
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &m->rx_msg[i].msg_hdr;
    if (h->msg_flags & MSG_TRUNC) {
      m->stats.rx_dropped++; /* larger than any datagram we take */
      continue;
    }
    uint8_t *buf = m->rx_buf + (size_t)i * SLOT;
    rtcsec_router_input in;
    int rc = rtcsec_router_handle_datagram(m->r, buf, m->rx_msg[i].msg_len, &m->rx_addr[i],
                                           h->msg_namelen, now, &in);
    if (rc != RTCSEC_OK) {
      m->stats.rx_dropped++;
      continue;
    }
    if ((in.kind == RTCSEC_PKT_RTP || in.kind == RTCSEC_PKT_RTCP) && m->cb.on_media)
      m->cb.on_media(m->cb.user, m, &in, buf, now);
  }
  return n;
}

int rtcsec_udp_mux_run_once(rtcsec_udp_mux *m, int max_wait_ms, unsigned max_batches) {
  if (m == NULL)
    return -EINVAL;
  uint64_t now = rtcsec_udp_mux_now();
  uint64_t deadline = rtcsec_router_deadline(m->r);
  int wait = max_wait_ms < 0 ? 0 : max_wait_ms;
  if (deadline != UINT64_MAX) {
    uint64_t left = deadline > now ? (deadline - now + 999) / 1000 : 0;
    if (left < (uint64_t)wait)
      wait = (int)left;
  }
  struct pollfd p = {.fd = m->fd, .events = POLLIN};
  int pr = poll(&p, 1, wait);
  if (pr < 0 && errno != EINTR)
    return -errno;
  int total = 0;
  if (pr > 0) {
    for (unsigned b = 0; b < max_batches; b++) {
      int n = receive_batch(m);
      if (n < 0)
        return n;
      total += n;
      poll_events(m, rtcsec_udp_mux_now());
      rtcsec_udp_mux_flush(m); /* answer each batch at once: checks and flights wait less */
      if ((unsigned)n < m->batch)
        break;
    }
  }
  now = rtcsec_udp_mux_now();
  if (rtcsec_router_deadline(m->r) <= now)
    rtcsec_router_handle_timeout(m->r, now);
  poll_events(m, now);
  rtcsec_udp_mux_flush(m);
  return total;
}
