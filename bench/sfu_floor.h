/* The floor rtcsec-sfu-load holds the server against, measured in the same
 * run (docs/sfu.md, "Load generator and numbers"):
 *
 *   crypto   what the SRTP transforms cost with direct EVP calls
 *            (evp_floor.h): one unprotect and one protect of an RTP packet
 *            (an echo), or one unprotect and N protects under N keys (a
 *            forwarder);
 *   syscalls the same server loop, socket, legs and packet rate with the
 *            media in plaintext: poll() + recvmmsg() + sendmmsg() and
 *            nothing else (no router, no demux, no SRTP), each datagram
 *            echoed to its sender or sent to every forwarding target.
 *
 * What the server spends above their sum is rtcsec's: the router, the
 * driver, the transport, libsrtp2's own work and the cache misses of
 * session state. Linux only, like rtcsec_udp_mux. */
#ifndef RTCSEC_BENCH_SFU_FLOOR_H
#define RTCSEC_BENCH_SFU_FLOOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "evp_floor.h"

/* A plaintext echo / forwarder on a bound UDP socket (borrowed). */
typedef struct sfu_plain sfu_plain;

typedef struct sfu_plain_stats {
  uint64_t rx_datagrams, rx_calls; /* recvmmsg calls that returned data */
  uint64_t tx_datagrams, tx_calls;
  uint64_t tx_dropped;
  uint64_t media_in; /* datagrams in the RTP/RTCP range (RFC 7983: 128..191) */
} sfu_plain_stats;

/* batch: datagrams per recvmmsg / sendmmsg (1..1024). Returns 0 or -1. */
int sfu_plain_new(sfu_plain **out, int fd, unsigned batch);
void sfu_plain_free(sfu_plain *p);

/* n > 0: every media datagram goes to each of these addresses (copied);
 * n == 0: back to its sender. Returns 0 or -1. */
int sfu_plain_set_targets(sfu_plain *p, const struct sockaddr_storage *dst, const socklen_t *len,
                          size_t n);

/* One turn, as rtcsec_udp_mux_run_once(): waits at most max_wait_ms for
 * the socket, then up to max_batches recvmmsg() calls, sending as it goes.
 * Returns the datagrams received or -1 on a socket error. */
int sfu_plain_run_once(sfu_plain *p, int max_wait_ms, unsigned max_batches);

void sfu_plain_get_stats(const sfu_plain *p, sfu_plain_stats *out);

#endif
