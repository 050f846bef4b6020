/* Test support: one rtcsec DTLS association driven over a real UDP socket on
 * 127.0.0.1 with the real monotonic clock, for interop tests against peers
 * we did not write (the openssl command line tool).
 *
 * Nothing here asserts: every function reports through its return value and
 * the struct, so a test can clean up its child processes before it checks.
 */
#ifndef RTCSEC_TEST_UDP_PEER_H
#define RTCSEC_TEST_UDP_PEER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "rtcsec/rtcsec.h"

typedef struct udp_peer {
  int fd;
  int have_remote; /* socket connected to the remote */
  struct sockaddr_in remote;
  rtcsec_dtls *dtls; /* owned */
  /* What the association reported. */
  int connected;
  int failed;
  int closed; /* peer sent close_notify */
  int error;  /* FAILED: rtcsec error code */
  int alert;  /* FAILED: alert description, -1 if none */
  int alert_from_peer;
  char detail[256];           /* rtcsec_dtls_error_detail() at failure */
  rtcsec_connected_info info; /* CONNECTED */
  rtcsec_srtp_keys keys;      /* exported at CONNECTED; wiped by udp_peer_free() */
  uint64_t datagrams_ignored; /* from other addresses or not DTLS */
} udp_peer;

/* Monotonic clock in microseconds (CLOCK_MONOTONIC). */
uint64_t udp_peer_now_us(void);

/* Zeroes p with no socket, so that udp_peer_free() is safe on it. */
void udp_peer_init(udp_peer *p);

/* Initialises p and opens a non-blocking UDP socket bound to 127.0.0.1:port (0 = any free
 * port). Returns 0 or -errno. */
int udp_peer_open(udp_peer *p, uint16_t port);

/* The bound local port, 0 on error. */
uint16_t udp_peer_local_port(const udp_peer *p);

/* Connects the socket to 127.0.0.1:port (client role). Without this, the
 * first datagram that looks like DTLS chooses the remote (server role) and
 * datagrams from anyone else are ignored. Returns 0 or -errno. */
int udp_peer_set_remote(udp_peer *p, uint16_t port);

/* Creates the association from cfg (see rtcsec_dtls_new) and starts it.
 * Returns 0 or an rtcsec error code. */
int udp_peer_start(udp_peer *p, const rtcsec_dtls_config *cfg);

/* Runs the loop until the association is connected, failed or closed, or
 * timeout_us passed. Returns 0 once connected, the association's error if
 * it failed, RTCSEC_ERR_CLOSED if the peer closed first, and
 * RTCSEC_ERR_HANDSHAKE_TIMEOUT if time ran out. */
int udp_peer_run(udp_peer *p, uint64_t timeout_us);

/* Keeps the loop running for `duration_us` (e.g. to answer retransmissions
 * of a last flight that was lost). */
void udp_peer_linger(udp_peer *p, uint64_t duration_us);

/* Sends close_notify if the association is alive. */
void udp_peer_close(udp_peer *p);

/* Frees the association, wipes the keys, closes the socket. Idempotent. */
void udp_peer_free(udp_peer *p);

/* Picks a currently free UDP port on 127.0.0.1 (bind to 0, read, close);
 * 0 on error. Another process may take it before it is used. */
uint16_t udp_peer_free_port(void);

#endif
