/* A DTLS 1.3 client for the test suites, on the library's connection core
 * (lib/dtls13_conn.h) and message codecs, so the in-memory suites can run
 * handshakes against the server engine under loss, reordering and
 * duplication. It also misbehaves on request, for the negative tests.
 * The server is what ships; this client is test code (independent proof
 * comes from NSS: tests/test_dtls13_nss.c). */
#ifndef RTCSEC_TEST_DTLS13_CLIENT_H
#define RTCSEC_TEST_DTLS13_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "dtls13_conn.h"
#include "rtcsec/rtcsec.h"

#define D13C_MAX_LIST 8

typedef struct d13c_config {
  rtcsec_cert *cert; /* NULL: an empty Certificate message */
  /* The expected server certificate (sha-256 fingerprint); NULL: none
   * checked. */
  const rtcsec_fingerprint *server_fp;
  rtcsec_srtp_profile profiles[D13C_MAX_LIST];
  size_t
      n_profiles; /* 0: AES128_CM_SHA1_80, AEAD_AES_256_GCM, AEAD_AES_128_GCM (Chromium's order) */
  uint16_t suites[D13C_MAX_LIST];
  size_t n_suites; /* 0: 0x1301, 0x1302 */
  uint16_t groups[D13C_MAX_LIST];
  size_t n_groups; /* supported_groups; 0: x25519, secp256r1 */
  uint16_t share_groups[D13C_MAX_LIST];
  size_t n_shares; /* groups given a key share; default x25519 (set n_shares_zero for none) */
  int n_shares_zero;
  uint16_t sig_algs[D13C_MAX_LIST];
  size_t n_sig_algs; /* 0: ecdsa P-256/384, rsa_pss_rsae sha256/384/512 */
  size_t mtu;        /* 0: 1200 */
  uint64_t rto_initial_us, handshake_timeout_us; /* 0: 100 ms, 30 s */
  /* Browser-like ClientHello: a real X25519MLKEM768 share (1216 bytes) in
   * front, so the ClientHello takes two datagrams at MTU 1200. */
  int hybrid_share;
  uint64_t shuffle_seed; /* nonzero: extensions in a seeded random order */

  /* Misbehaviour for negative tests. */
  int omit_use_srtp;
  size_t legacy_cookie_len;
  int share_len_delta;      /* added to the first real key share's length */
  int hybrid_len_delta;     /* added to the X25519MLKEM768 share's length */
  int hybrid_bad_ek;        /* the ML-KEM ek's first coefficient is 4095 (>= q) */
  int corrupt_server_share; /* flip a bit of the ML-KEM ciphertext before decapsulating */
  uint16_t legacy_version;  /* 0: 0xfefd */
  int corrupt_finished;     /* flip a bit of the client's verify_data */
  int corrupt_cv;           /* flip a bit of the CertificateVerify signature */
  rtcsec_cert *sign_with;   /* sign the CertificateVerify with this certificate's key */
  int offer_cid;            /* a connection_id extension (the server must ignore it) */
  int cookie_in_first;      /* a cookie extension in the first ClientHello */
  int change_second_hello;  /* another random in the ClientHello after a HelloRetryRequest */
  unsigned seal_flags;      /* record form: RTCSEC_D13_SEAL_SEQ8 */
  size_t seal_pad;          /* zero padding in every protected record */

  void (*keylog)(void *user, const char *line);
  void *keylog_user;
} d13c_config;

typedef struct d13c d13c;

void d13c_config_default(d13c_config *cfg);
/* Creates the client and queues its ClientHello. */
int d13c_new(d13c **out, const d13c_config *cfg, uint64_t now);
void d13c_free(d13c *c);

int d13c_handle_datagram(d13c *c, const uint8_t *data, size_t len, uint64_t now);
int d13c_handle_timeout(d13c *c, uint64_t now);
uint64_t d13c_deadline(const d13c *c);
int d13c_poll_datagram(d13c *c, uint8_t *buf, size_t cap, size_t *len);
int d13c_poll_event(d13c *c, rtcsec_event *ev);
int d13c_send(d13c *c, const uint8_t *data, size_t len, uint64_t now);
int d13c_close(d13c *c, uint64_t now);
int d13c_key_update(d13c *c, int update_requested, uint64_t now);
rtcsec_dtls_state d13c_state(const d13c *c);
int d13c_export(d13c *c, const char *label, uint8_t *out, size_t len);
/* The SRTP keys (RFC 5764 §4.2), split for the client's side. */
int d13c_export_srtp(d13c *c, rtcsec_srtp_keys *keys);
rtcsec_d13_conn *d13c_conn(d13c *c);
/* 1 once the server's HelloRetryRequest was answered. */
int d13c_got_hrr(const d13c *c);
/* 1 once the client's last flight was acknowledged. */
int d13c_final_acked(const d13c *c);

/* A ClientHello body as d13c_new would send it, with fresh key shares
 * (for the parser and collector tests). */
int d13c_client_hello(const d13c_config *cfg, uint8_t *body, size_t cap, size_t *len);

/* Cuts a ClientHello body into epoch-0 records of at most `mtu` bytes per
 * datagram (message_seq 0). Returns the number of datagrams written into
 * out[i] / lens[i]. */
size_t d13c_fragment_client_hello(const uint8_t *body, size_t len, size_t mtu, uint8_t out[][2048],
                                  size_t lens[], size_t max);

#endif
