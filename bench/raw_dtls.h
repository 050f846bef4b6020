/* The raw OpenSSL baseline for the handshake and memory figures: DTLS 1.2
 * over memory BIOs with the options rtcsec uses (see raw_dtls.c), one
 * SSL_CTX per endpoint made once, as rtcsec caches its SSL_CTX in the
 * certificate. */
#ifndef RTCSEC_BENCH_RAW_DTLS_H
#define RTCSEC_BENCH_RAW_DTLS_H

#include <openssl/ssl.h>
#include <srtp2/srtp.h>
#include <stdint.h>

#include "rtcsec/rtcsec.h"

typedef struct raw_dtls_ctx {
  SSL_CTX *ctx[2];              /* [0] client, [1] server */
  rtcsec_fingerprint expect[2]; /* what endpoint i expects of its peer */
  EVP_PKEY *key[2];
  X509 *x509[2];
} raw_dtls_ctx;

/* groups: OpenSSL groups list ("X25519:P-256:P-384" as rtcsec, or "P-256").
 * max_send_fragment: 0 for OpenSSL's default (16384, as rtcsec), else
 * SSL_CTX_set_max_send_fragment(): the write buffer is sized from it.
 * (SSL_MODE_RELEASE_BUFFERS would be the other knob, but OpenSSL 3.0 never
 * releases DTLS record buffers: ssl/record/rec_layer_s3.c tests
 * !SSL_IS_DTLS(s).) */
int raw_dtls_ctx_init(raw_dtls_ctx *r, rtcsec_cert *cert[2], const char *groups,
                      long max_send_fragment);
void raw_dtls_ctx_free(raw_dtls_ctx *r);

/* One established association pair and, optionally, its libsrtp2 sessions
 * (an outbound and an inbound one per endpoint, as the bridge makes). */
typedef struct raw_dtls_pair {
  SSL *ssl[2];
  srtp_t srtp_out[2], srtp_in[2];
  uint64_t datagrams, bytes;
} raw_dtls_pair;

/* Handshake to completion, SRTP keys exported on both sides (and sessions
 * made if with_srtp). Returns 0 or -1. */
int raw_dtls_connect(raw_dtls_ctx *r, raw_dtls_pair *p, int with_srtp);
/* One SRTP packet each way through the raw sessions (creates the streams). */
int raw_dtls_media(raw_dtls_pair *p);
void raw_dtls_pair_free(raw_dtls_pair *p);

/* A libsrtp2 session configured exactly as srtp_bridge/srtp.c configures
 * its own (same crypto policies, ssrc_any_outbound or ssrc_any_inbound,
 * replay window 1024, allow_repeat_tx). key/salt lengths are the
 * profile's. Returns 0 or -1. */
int raw_srtp_session(srtp_t *s, rtcsec_srtp_profile p, const uint8_t *key, const uint8_t *salt,
                     int outbound);

#endif
