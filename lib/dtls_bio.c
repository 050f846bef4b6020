/* Datagram BIO: see dtls_bio.h for why it exists. */
#include "dtls_bio.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "rtcsec/error.h"

void rtcsec_dgram_queue_init(rtcsec_dgram_queue *q, size_t max_datagrams) {
  rtcsec_ring_init(&q->ring, sizeof(rtcsec_dgram), max_datagrams);
  q->bytes = 0;
}

int rtcsec_dgram_queue_push(rtcsec_dgram_queue *q, const uint8_t *data, size_t len) {
  rtcsec_dgram g = {malloc(len ? len : 1), len};
  if (g.data == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  if (len)
    memcpy(g.data, data, len);
  int rc = rtcsec_ring_push(&q->ring, &g);
  if (rc != RTCSEC_OK) {
    free(g.data);
    return rc;
  }
  q->bytes += len;
  return RTCSEC_OK;
}

int rtcsec_dgram_queue_pop(rtcsec_dgram_queue *q, rtcsec_dgram *out) {
  if (!rtcsec_ring_pop(&q->ring, out))
    return 0;
  q->bytes -= out->len;
  return 1;
}

const rtcsec_dgram *rtcsec_dgram_queue_peek(const rtcsec_dgram_queue *q) {
  return rtcsec_ring_peek(&q->ring);
}

void rtcsec_dgram_queue_clear(rtcsec_dgram_queue *q) {
  rtcsec_dgram d;
  while (rtcsec_dgram_queue_pop(q, &d)) {
    /* Outgoing datagrams after the handshake are ciphertext, but held
     * handshake datagrams and alerts are not secret; cleanse anyway, cheap. */
    OPENSSL_cleanse(d.data, d.len);
    free(d.data);
  }
  rtcsec_ring_clear(&q->ring);
}

/* DTLS record header: type(1) version(2) epoch(2) sequence(6) length(2). */
#define RECORD_HEADER_LEN 13

/* Length of the whole record at p (header included), 0 if p does not hold
 * one complete record. */
static size_t record_len(const uint8_t *p, size_t avail) {
  if (avail < RECORD_HEADER_LEN)
    return 0;
  size_t n = RECORD_HEADER_LEN + rtcsec_be16(p + 11);
  return n <= avail ? n : 0;
}

/* OpenSSL 3.0 packs a flight's records into datagrams itself but can
 * overshoot the MTU by a few bytes when ChangeCipherSpec and Finished
 * follow a fragment (seen at MTU 300 with an RSA CertificateVerify). Such a
 * write is re-cut here at record boundaries, so every datagram stays within
 * the MTU and no record spans two datagrams (RFC 6347 §4.1.1). */
static int push_split(rtcsec_dgram_io *io, const uint8_t *p, size_t len) {
  size_t start = 0, off = 0;
  while (off < len) {
    size_t rl = record_len(p + off, len - off);
    if (rl == 0) /* not a record sequence: leave it as OpenSSL wrote it */
      return rtcsec_dgram_queue_push(io->out, p + start, len - start);
    if (off > start && off + rl - start > io->mtu) {
      if (rtcsec_dgram_queue_push(io->out, p + start, off - start) != 0)
        return -1;
      start = off;
    }
    off += rl;
  }
  return rtcsec_dgram_queue_push(io->out, p + start, len - start);
}

static int bio_write(BIO *b, const char *data, int len) {
  rtcsec_dgram_io *io = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (io == NULL || len < 0)
    return -1;
  const uint8_t *p = (const uint8_t *)data;
  int rc = (size_t)len > io->mtu ? push_split(io, p, (size_t)len)
                                 : rtcsec_dgram_queue_push(io->out, p, (size_t)len);
  if (rc != 0) {
    io->write_failed = 1;
    return -1;
  }
  return len;
}

static int bio_read(BIO *b, char *buf, int size) {
  rtcsec_dgram_io *io = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (io == NULL || size < 0)
    return -1;
  if (io->in == NULL) {
    BIO_set_retry_read(b);
    return -1;
  }
  /* UDP semantics: a datagram larger than the reader's buffer is truncated
   * and the rest is lost; OpenSSL then discards the broken record. */
  size_t n = io->in_len < (size_t)size ? io->in_len : (size_t)size;
  memcpy(buf, io->in, n);
  io->in = NULL;
  io->in_len = 0;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  rtcsec_dgram_io *io = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH:
  case BIO_CTRL_DGRAM_SET_CONNECTED:
  case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
    return 1;
  case BIO_CTRL_PENDING:
    return io && io->in ? (long)io->in_len : 0;
  case BIO_CTRL_WPENDING:
    return 0;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
    return io ? (long)io->mtu : 0;
  case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
    /* The configured MTU already is the UDP payload size. */
    return 0;
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_destroy(BIO *b) {
  BIO_set_data(b, NULL);
  return 1;
}

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static void method_init(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rtcsec datagram");
  if (m == NULL)
    return;
  if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
      !BIO_meth_set_destroy(m, bio_destroy)) {
    BIO_meth_free(m);
    return;
  }
  method = m;
}

BIO *rtcsec_dgram_bio_new(rtcsec_dgram_io *io) {
  if (pthread_once(&method_once, method_init) != 0 || method == NULL)
    return NULL;
  BIO *b = BIO_new(method);
  if (b != NULL)
    BIO_set_data(b, io);
  return b;
}
