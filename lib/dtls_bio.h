/* Internal: a datagram-preserving BIO between OpenSSL and the sans-IO
 * association, and the datagram queue it writes to. OpenSSL 3.0 has no
 * datagram memory BIO (BIO_s_dgram_mem came in 3.2) and BIO_s_mem would
 * merge datagrams, so rtcsec has its own: each BIO_write() is one outgoing
 * datagram (re-cut at record boundaries if OpenSSL overshoots the MTU), and
 * a read returns the one datagram the engine is currently feeding, whole. */
#ifndef RTCSEC_DTLS_BIO_H
#define RTCSEC_DTLS_BIO_H

#include <openssl/bio.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

typedef struct rtcsec_dgram {
  uint8_t *data;
  size_t len;
} rtcsec_dgram;

/* FIFO of owned datagrams (a ring of rtcsec_dgram), with a byte count. */
typedef struct rtcsec_dgram_queue {
  rtcsec_ring ring;
  size_t bytes;
} rtcsec_dgram_queue;

void rtcsec_dgram_queue_init(rtcsec_dgram_queue *q, size_t max_datagrams);
/* Copies data in. Errors: RTCSEC_ERR_LIMIT, RTCSEC_ERR_NO_MEMORY. */
int rtcsec_dgram_queue_push(rtcsec_dgram_queue *q, const uint8_t *data, size_t len);
/* Removes the head into *out (caller frees out->data); 0 if empty. */
int rtcsec_dgram_queue_pop(rtcsec_dgram_queue *q, rtcsec_dgram *out);
const rtcsec_dgram *rtcsec_dgram_queue_peek(const rtcsec_dgram_queue *q);
static inline size_t rtcsec_dgram_queue_count(const rtcsec_dgram_queue *q) {
  return rtcsec_ring_count(&q->ring);
}
/* Wipes and frees every datagram and the storage; the queue stays usable. */
void rtcsec_dgram_queue_clear(rtcsec_dgram_queue *q);

/* What the BIO reads from and writes to. */
typedef struct rtcsec_dgram_io {
  const uint8_t *in; /* the datagram being fed; NULL when none */
  size_t in_len;
  rtcsec_dgram_queue *out; /* the association's output queue */
  size_t mtu;
  int write_failed; /* allocation failure while queueing output */
} rtcsec_dgram_io;

/* A new BIO bound to io (not owned). NULL on allocation failure. */
BIO *rtcsec_dgram_bio_new(rtcsec_dgram_io *io);

#endif
