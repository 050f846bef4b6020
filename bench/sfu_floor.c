/* The plaintext floor of rtcsec-sfu-load. See sfu_floor.h. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "sfu_floor.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* ---- the syscall floor: plaintext through the same loop -------------------------- */

#define SLOT 2048
#define SEND_RETRIES 3
#define SEND_WAIT_MS 5

struct sfu_plain {
  int fd;
  unsigned batch;
  uint8_t *rx_buf;
  struct mmsghdr *rx_msg, *tx_msg;
  struct iovec *rx_iov, *tx_iov;
  struct sockaddr_storage *rx_addr;
  unsigned tx_n;
  struct sockaddr_storage *targets;
  socklen_t *target_len;
  size_t n_targets;
  sfu_plain_stats stats;
};

int sfu_plain_new(sfu_plain **out, int fd, unsigned batch) {
  *out = NULL;
  if (fd < 0 || batch == 0 || batch > 1024)
    return -1;
  sfu_plain *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return -1;
  p->fd = fd;
  p->batch = batch;
  p->rx_buf = malloc((size_t)batch * SLOT);
  p->rx_msg = calloc(batch, sizeof(*p->rx_msg));
  p->tx_msg = calloc(batch, sizeof(*p->tx_msg));
  p->rx_iov = calloc(batch, sizeof(*p->rx_iov));
  p->tx_iov = calloc(batch, sizeof(*p->tx_iov));
  p->rx_addr = calloc(batch, sizeof(*p->rx_addr));
  if (!p->rx_buf || !p->rx_msg || !p->tx_msg || !p->rx_iov || !p->tx_iov || !p->rx_addr) {
    sfu_plain_free(p);
    return -1;
  }
  *out = p;
  return 0;
}

void sfu_plain_free(sfu_plain *p) {
  if (p == NULL)
    return;
  free(p->rx_buf);
  free(p->rx_msg);
  free(p->tx_msg);
  free(p->rx_iov);
  free(p->tx_iov);
  free(p->rx_addr);
  free(p->targets);
  free(p->target_len);
  free(p);
}

int sfu_plain_set_targets(sfu_plain *p, const struct sockaddr_storage *dst, const socklen_t *len,
                          size_t n) {
  free(p->targets);
  free(p->target_len);
  p->targets = NULL;
  p->target_len = NULL;
  p->n_targets = 0;
  if (n == 0)
    return 0;
  p->targets = malloc(n * sizeof(*p->targets));
  p->target_len = malloc(n * sizeof(*p->target_len));
  if (p->targets == NULL || p->target_len == NULL)
    return -1;
  memcpy(p->targets, dst, n * sizeof(*dst));
  memcpy(p->target_len, len, n * sizeof(*len));
  p->n_targets = n;
  return 0;
}

void sfu_plain_get_stats(const sfu_plain *p, sfu_plain_stats *out) { *out = p->stats; }

/* sendmmsg() of what is queued, as rtcsec_udp_mux does it (a full send
 * buffer is waited for a little, then the datagram is dropped). */
static void plain_send(sfu_plain *p) {
  unsigned off = 0;
  int retries = 0;
  while (off < p->tx_n) {
    int n = sendmmsg(p->fd, p->tx_msg + off, p->tx_n - off, 0);
    if (n > 0) {
      off += (unsigned)n;
      p->stats.tx_datagrams += (uint64_t)n;
      p->stats.tx_calls++;
      retries = 0;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && retries < SEND_RETRIES) {
      struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
      poll(&pf, 1, SEND_WAIT_MS);
      retries++;
      continue;
    }
    p->stats.tx_dropped++;
    off++;
    retries = 0;
  }
  p->tx_n = 0;
}

/* Queues one datagram: the iovec points at the received bytes (no copy;
 * they stay put until the batch is sent, which is before the next
 * recvmmsg). */
static void plain_queue(sfu_plain *p, uint8_t *buf, size_t len, struct sockaddr_storage *dst,
                        socklen_t dst_len) {
  if (p->tx_n == p->batch)
    plain_send(p);
  unsigned i = p->tx_n++;
  p->tx_iov[i].iov_base = buf;
  p->tx_iov[i].iov_len = len;
  memset(&p->tx_msg[i], 0, sizeof(p->tx_msg[i]));
  p->tx_msg[i].msg_hdr.msg_iov = &p->tx_iov[i];
  p->tx_msg[i].msg_hdr.msg_iovlen = 1;
  p->tx_msg[i].msg_hdr.msg_name = dst;
  p->tx_msg[i].msg_hdr.msg_namelen = dst_len;
}

static int plain_batch(sfu_plain *p) {
  for (unsigned i = 0; i < p->batch; i++) {
    p->rx_iov[i].iov_base = p->rx_buf + (size_t)i * SLOT;
    p->rx_iov[i].iov_len = SLOT;
    memset(&p->rx_msg[i], 0, sizeof(p->rx_msg[i]));
    p->rx_msg[i].msg_hdr.msg_iov = &p->rx_iov[i];
    p->rx_msg[i].msg_hdr.msg_iovlen = 1;
    p->rx_msg[i].msg_hdr.msg_name = &p->rx_addr[i];
    p->rx_msg[i].msg_hdr.msg_namelen = sizeof(p->rx_addr[i]);
  }
  int n;
  do {
    n = recvmmsg(p->fd, p->rx_msg, p->batch, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
  p->stats.rx_calls++;
  p->stats.rx_datagrams += (uint64_t)n;
  for (int i = 0; i < n; i++) {
    uint8_t *buf = p->rx_buf + (size_t)i * SLOT;
    size_t len = p->rx_msg[i].msg_len;
    if (len == 0 || buf[0] < 128 || buf[0] > 191) /* RFC 7983: media only */
      continue;
    p->stats.media_in++;
    if (p->n_targets == 0) {
      plain_queue(p, buf, len, &p->rx_addr[i], p->rx_msg[i].msg_hdr.msg_namelen);
      continue;
    }
    for (size_t k = 0; k < p->n_targets; k++)
      plain_queue(p, buf, len, &p->targets[k], p->target_len[k]);
  }
  if (p->tx_n > 0)
    plain_send(p); /* before the receive buffers are reused */
  return n;
}

int sfu_plain_run_once(sfu_plain *p, int max_wait_ms, unsigned max_batches) {
  struct pollfd pf = {.fd = p->fd, .events = POLLIN};
  int pr = poll(&pf, 1, max_wait_ms < 0 ? 0 : max_wait_ms);
  if (pr < 0 && errno != EINTR)
    return -1;
  int total = 0;
  for (unsigned b = 0; pr > 0 && b < max_batches; b++) {
    int n = plain_batch(p);
    if (n < 0)
      return -1;
    total += n;
    if ((unsigned)n < p->batch)
      break;
  }
  return total;
}
