/* rtcsec_udp_mux: runs an rtcsec_router on one real UDP socket (Linux), with
 * batched I/O: recvmmsg() to take up to `batch` datagrams per system call,
 * sendmmsg() to send what the router (and the application) queued, and a
 * poll() loop that sleeps until the socket is readable or the router's one
 * deadline comes. It is the I/O half of the single-port SFU mode, used by
 * rtcsec-sfu-load and meant as an example for embedders: the router itself
 * stays sans-IO (rtcsec/router.h).
 *
 * One mux, one thread. Media arrives through the on_media callback with
 * the plaintext in the receive buffer (valid during the call); to forward
 * media, protect it with rtcsec_router_protect_rtp() and give the result
 * to rtcsec_udp_mux_send(), which batches it into the next sendmmsg().
 */
#ifndef RTCSEC_UDP_MUX_H
#define RTCSEC_UDP_MUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/export.h"
#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"

typedef struct rtcsec_udp_mux rtcsec_udp_mux;

typedef struct rtcsec_udp_mux_callbacks {
  /* Plaintext RTP / RTCP of a session, in place in the receive buffer
   * (which may be modified; it is reused after the call). */
  void (*on_media)(void *user, rtcsec_udp_mux *m, const rtcsec_router_input *in, uint8_t *buf,
                   uint64_t now);
  /* Every router event (nominated, connected, failed, closed, expired). */
  void (*on_event)(void *user, rtcsec_udp_mux *m, const rtcsec_event *ev, uint64_t now);
  void *user;
} rtcsec_udp_mux_callbacks;

typedef struct rtcsec_udp_mux_config {
  const char *bind_addr; /* numeric IPv4 or IPv6; default "127.0.0.1" */
  uint16_t port;         /* 0: an ephemeral port (see rtcsec_udp_mux_port()) */
  unsigned batch;        /* datagrams per recvmmsg / sendmmsg; default 64, max 1024 */
  int sock_buf;          /* SO_RCVBUF / SO_SNDBUF in bytes; default 32 MB */
} rtcsec_udp_mux_config;

typedef struct rtcsec_udp_mux_stats {
  uint64_t rx_datagrams, rx_calls; /* recvmmsg calls that returned data */
  uint64_t tx_datagrams, tx_calls;
  uint64_t tx_dropped; /* send buffer full for too long, or a send error */
  uint64_t rx_dropped; /* the router refused them (counted by reason there) */
} rtcsec_udp_mux_stats;

RTCSEC_API void rtcsec_udp_mux_config_default(rtcsec_udp_mux_config *cfg);

/* Opens and binds the socket (non-blocking). The router is borrowed: it
 * must outlive the mux. Returns 0 or -errno (-EINVAL for a bad config). */
RTCSEC_API int rtcsec_udp_mux_open(rtcsec_udp_mux **out, rtcsec_router *r,
                                   const rtcsec_udp_mux_config *cfg,
                                   const rtcsec_udp_mux_callbacks *cb);
RTCSEC_API void rtcsec_udp_mux_close(rtcsec_udp_mux *m);

RTCSEC_API int rtcsec_udp_mux_fd(const rtcsec_udp_mux *m);
RTCSEC_API uint16_t rtcsec_udp_mux_port(const rtcsec_udp_mux *m);

/* CLOCK_MONOTONIC in microseconds: the clock the mux gives the router. */
RTCSEC_API uint64_t rtcsec_udp_mux_now(void);

/* One turn of the loop: waits at most max_wait_ms (and no later than the
 * router's deadline) for the socket, receives and handles up to
 * `max_batches` batches, runs the router's timers, polls its events and
 * sends everything queued. Returns the number of datagrams received, or
 * -errno on a socket error. */
RTCSEC_API int rtcsec_udp_mux_run_once(rtcsec_udp_mux *m, int max_wait_ms, unsigned max_batches);

/* Queues a datagram for the next sendmmsg (copied). Flushes first when the
 * batch is full. Returns 0 or -errno. */
RTCSEC_API int rtcsec_udp_mux_send(rtcsec_udp_mux *m, const uint8_t *buf, size_t len,
                                   const struct sockaddr_storage *dst, socklen_t dst_len);

/* Sends everything queued by rtcsec_udp_mux_send() and the router. */
RTCSEC_API int rtcsec_udp_mux_flush(rtcsec_udp_mux *m);

RTCSEC_API void rtcsec_udp_mux_get_stats(const rtcsec_udp_mux *m, rtcsec_udp_mux_stats *out);

#endif
