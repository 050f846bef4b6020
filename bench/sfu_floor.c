/* The floors of rtcsec-sfu-load. See sfu_floor.h. */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "sfu_floor.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "evp_srtp.h"

/* ---- the crypto floor ------------------------------------------------------------ */

#define FLOOR_BATCH 256
#define FLOOR_ROUNDS 5
#define FLOOR_ROUND_NS (50 * 1000 * 1000ull)
#define FLOOR_PKT 1400

/* An inbound stream: protected by its peer (tx, not timed), unprotected
 * here (rx). */
typedef struct floor_in {
  evp_srtp tx, rx;
  uint16_t seq;
} floor_in;

typedef struct crypto_floor {
  floor_in *in;  /* n_in streams, taken in turn */
  evp_srtp *out; /* n_out outbound sessions, each its own key */
  unsigned n_in, n_out;
  unsigned next; /* the stream of the next packet */
  uint8_t (*wire)[FLOOR_PKT];
  size_t wire_len[FLOOR_BATCH];
  unsigned wire_in[FLOOR_BATCH];
  uint8_t work[FLOOR_PKT];
} crypto_floor;

static void crypto_floor_free(crypto_floor *f) {
  for (unsigned i = 0; f->in != NULL && i < f->n_in; i++) {
    evp_srtp_free(&f->in[i].tx);
    evp_srtp_free(&f->in[i].rx);
  }
  for (unsigned i = 0; f->out != NULL && i < f->n_out; i++)
    evp_srtp_free(&f->out[i]);
  free(f->in);
  free(f->out);
  free(f->wire);
}

/* Keys of their own for every stream and session (the EVP contexts of N
 * sessions take N times the cache, as rtcsec's do). */
static void floor_key(rtcsec_srtp_profile p, unsigned id, uint8_t master[46]) {
  bench_master_key(p, master);
  master[0] = (uint8_t)id;
  master[1] = (uint8_t)(id >> 8);
  master[2] = (uint8_t)(id >> 16);
}

static int crypto_floor_init(crypto_floor *f, rtcsec_srtp_profile p, unsigned n_in,
                             unsigned n_out) {
  memset(f, 0, sizeof(*f));
  size_t kl = rtcsec_srtp_profile_key_len(p);
  uint8_t master[46];
  f->in = calloc(n_in, sizeof(*f->in));
  f->out = calloc(n_out, sizeof(*f->out));
  f->wire = malloc(sizeof(*f->wire) * FLOOR_BATCH);
  int bad = f->in == NULL || f->out == NULL || f->wire == NULL;
  for (unsigned i = 0; !bad && i < n_in; i++) {
    floor_key(p, i, master);
    bad = evp_srtp_init(&f->in[i].tx, p, master, master + kl) != 0;
    if (!bad && evp_srtp_init(&f->in[i].rx, p, master, master + kl) != 0) {
      evp_srtp_free(&f->in[i].tx);
      bad = 1;
    }
    f->n_in = bad ? i : i + 1;
  }
  for (unsigned i = 0; !bad && i < n_out; i++) {
    floor_key(p, 0x800000u + i, master);
    bad = evp_srtp_init(&f->out[i], p, master, master + kl) != 0;
    f->n_out = bad ? i : i + 1;
  }
  OPENSSL_cleanse(master, sizeof(master));
  if (bad)
    crypto_floor_free(f);
  return bad ? -1 : 0;
}

/* The peers' side, not timed: a batch of protected packets, the streams
 * taken in turn. */
static int crypto_floor_fill(crypto_floor *f, size_t payload) {
  for (unsigned i = 0; i < FLOOR_BATCH; i++) {
    floor_in *in = &f->in[f->next];
    f->wire_in[i] = f->next;
    f->next = (f->next + 1) % f->n_in;
    size_t len = bench_make_rtp(f->wire[i], 0x10000u + f->wire_in[i], ++in->seq, payload);
    if (evp_srtp_protect_rtp(&in->tx, f->wire[i], len, &f->wire_len[i]) != 0)
      return -1;
  }
  return 0;
}

/* The timed part: unprotect each packet once, then protect it again: in
 * place under its stream's own session when every stream has one (an
 * echo), or from a copy of the plaintext under each of the n_out sessions
 * (a forwarder). */
static int crypto_floor_pass(crypto_floor *f) {
  for (unsigned i = 0; i < FLOOR_BATCH; i++) {
    size_t plain = 0, out = 0;
    unsigned s = f->wire_in[i];
    if (evp_srtp_unprotect_rtp(&f->in[s].rx, f->wire[i], f->wire_len[i], &plain) != 0)
      return -1;
    if (f->n_out == f->n_in) {
      if (evp_srtp_protect_rtp(&f->out[s], f->wire[i], plain, &out) != 0)
        return -1;
      continue;
    }
    for (unsigned k = 0; k < f->n_out; k++) {
      memcpy(f->work, f->wire[i], plain);
      if (evp_srtp_protect_rtp(&f->out[k], f->work, plain, &out) != 0)
        return -1;
    }
  }
  return 0;
}

double sfu_crypto_floor_ns(rtcsec_srtp_profile p, size_t payload, unsigned n_in, unsigned n_out) {
  if (n_in == 0 || n_out == 0 || (n_in > 1 && n_out != n_in) || payload + 12 + 16 > FLOOR_PKT ||
      evp_srtp_selftest(p) != 0)
    return -1;
  crypto_floor f;
  if (crypto_floor_init(&f, p, n_in, n_out) != 0)
    return -1;
  bench_series s;
  memset(&s, 0, sizeof(s));
  int bad = 0;
  for (int round = 0; round < FLOOR_ROUNDS && !bad; round++) {
    uint64_t spent = 0, packets = 0;
    /* bounded: a round ends after its time or 1 << 20 packets */
    while (spent < FLOOR_ROUND_NS && packets < (1u << 20) && !bad) {
      if (crypto_floor_fill(&f, payload) != 0) {
        bad = 1;
        break;
      }
      uint64_t t0 = bench_cpu_ns();
      bad = crypto_floor_pass(&f) != 0;
      spent += bench_cpu_ns() - t0;
      packets += FLOOR_BATCH;
    }
    if (!bad && packets > 0)
      bench_series_add(&s, (double)spent / (double)packets);
  }
  crypto_floor_free(&f);
  /* a floor: the fastest round (the others met other work's cache) */
  return bad ? -1 : bench_series_min(&s);
}

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
