/* The simulated network of the stateful fuzz targets: queues of
 * datagrams, the input reader, the application payloads whose arrival is
 * checked. Shared by fuzz_dtls_stateful.c and fuzz_dtls13_stateful.c. */
#ifndef RTCSEC_FUZZ_NET_H
#define RTCSEC_FUZZ_NET_H

#include <stddef.h>
#include <stdint.h>

#define QCAP 64

typedef struct dgram {
  uint8_t *p;
  size_t n;
} dgram;

/* A FIFO of owned datagrams; a full queue loses what comes (the network
 * is full). */
typedef struct queue {
  dgram items[QCAP];
  size_t head, count;
} queue;

dgram *q_at(queue *q, size_t i);
void q_push(queue *q, const uint8_t *p, size_t n);
int q_pop(queue *q, dgram *out);
void q_clear(queue *q);

/* The next `bytes` input bytes as a big-endian number; zeros past the end. */
unsigned fuzz_take(const uint8_t **in, size_t *left, unsigned bytes);

/* Payload number `seq` from side `from`: a tag, the number, a pattern (at
 * least 5 bytes). Returns its length. */
size_t make_payload(int from, uint32_t seq, size_t len, uint8_t *out);
/* 1 if data is exactly a payload `from` sent (seq < sent). */
int payload_valid(int from, uint32_t sent, const uint8_t *data, size_t len);

#endif
