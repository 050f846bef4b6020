/* Handshake CPU of the DTLS server: rtcsec's DTLS 1.3 engine against
 * OpenSSL's DTLS 1.2 (rtcsec_dtls), in the same run. A measurement, not a
 * test: it prints numbers and never fails on them.
 *
 *   build/tests/dtls13_handshake_cost [N]          CPU time per handshake
 *   valgrind --tool=callgrind --toggle-collect='server_*' \
 *       build/tests/dtls13_handshake_cost 20       exact server instructions
 *
 * Both run in memory without loss, ECDSA P-256 certificates on both
 * sides, default SRTP profiles, x25519. The server's work is every call on
 * the server object (the server_* functions below, which the callgrind
 * command counts alone); for 1.3 it includes collecting and parsing the
 * ClientHello. The client (OpenSSL for 1.2, the test client for 1.3) is
 * not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtls13.h"
#include "dtls13_client.h"
#include "dtls13_server_side.h"
#include "dtls_client_hello.h"
#include "rtcsec/rtcsec.h"

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t server_ns;

/* ---- the server's calls, one function each, for callgrind --------------------------- */

__attribute__((noinline)) static int server_12_in(rtcsec_dtls *d, const uint8_t *p, size_t n) {
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_handle_datagram(d, p, n, 0);
  server_ns += cpu_ns() - t;
  return rc;
}

__attribute__((noinline)) static int server_12_out(rtcsec_dtls *d, uint8_t *b, size_t c,
                                                   size_t *n) {
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_poll_datagram(d, b, c, n);
  server_ns += cpu_ns() - t;
  return rc;
}

__attribute__((noinline)) static int server_13_in(d13s *s, const uint8_t *p, size_t n) {
  uint64_t t = cpu_ns();
  int rc = d13s_handle_datagram(s, p, n, 0);
  server_ns += cpu_ns() - t;
  return rc;
}

__attribute__((noinline)) static int server_13_out(d13s *s, uint8_t *b, size_t c, size_t *n) {
  uint64_t t = cpu_ns();
  *n = 0;
  int rc = s->e ? rtcsec_dtls13_poll_datagram(s->e, b, c, n) : 0;
  server_ns += cpu_ns() - t;
  return rc;
}

static int connected12(rtcsec_dtls *d) {
  return rtcsec_dtls_get_state(d) == RTCSEC_DTLS_STATE_CONNECTED;
}

static int one_12(rtcsec_cert *cc, rtcsec_cert *sc) {
  rtcsec_dtls_config cfg;
  rtcsec_fingerprint cfp, sfp;
  rtcsec_cert_fingerprint(cc, RTCSEC_HASH_SHA256, &cfp);
  rtcsec_cert_fingerprint(sc, RTCSEC_HASH_SHA256, &sfp);
  rtcsec_dtls *c = NULL, *s = NULL;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = RTCSEC_DTLS_CLIENT;
  cfg.cert = cc;
  cfg.peer_fingerprints = &sfp;
  cfg.n_peer_fingerprints = 1;
  if (rtcsec_dtls_new(&c, &cfg) != 0)
    return -1;
  cfg.role = RTCSEC_DTLS_SERVER;
  cfg.cert = sc;
  cfg.peer_fingerprints = &cfp;
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_new(&s, &cfg);
  server_ns += cpu_ns() - t;
  if (rc != 0 || rtcsec_dtls_start(c, 0) != 0)
    return -1;
  uint8_t buf[2048];
  for (int round = 0; round < 20 && !(connected12(c) && connected12(s)); round++) {
    size_t n;
    while (rtcsec_dtls_poll_datagram(c, buf, sizeof(buf), &n) == 0 && n > 0)
      server_12_in(s, buf, n);
    while (server_12_out(s, buf, sizeof(buf), &n) == 0 && n > 0)
      rtcsec_dtls_handle_datagram(c, buf, n, 0);
  }
  int ok = connected12(c) && connected12(s);
  rtcsec_dtls_free(c);
  t = cpu_ns();
  rtcsec_dtls_free(s);
  server_ns += cpu_ns() - t;
  return ok ? 0 : -1;
}

static int one_13(rtcsec_cert *cc, rtcsec_cert *sc) {
  d13c_config ccfg;
  d13c_config_default(&ccfg);
  ccfg.cert = cc;
  d13c *c = NULL;
  if (d13c_new(&c, &ccfg, 0) != 0)
    return -1;
  d13s s;
  uint64_t t = cpu_ns();
  d13s_init(&s, sc, NULL);
  server_ns += cpu_ns() - t;
  rtcsec_cert_fingerprint(cc, RTCSEC_HASH_SHA256, &s.expect);
  uint8_t buf[2048];
  for (int round = 0; round < 20; round++) {
    size_t n;
    while (d13c_poll_datagram(c, buf, sizeof(buf), &n) == 0 && n > 0)
      server_13_in(&s, buf, n);
    while (server_13_out(&s, buf, sizeof(buf), &n) == 0 && n > 0)
      d13c_handle_datagram(c, buf, n, 0);
    if (s.e && rtcsec_dtls13_state(s.e) == RTCSEC_DTLS_STATE_CONNECTED &&
        d13c_state(c) == RTCSEC_DTLS_STATE_CONNECTED)
      break;
  }
  int ok = s.e && rtcsec_dtls13_state(s.e) == RTCSEC_DTLS_STATE_CONNECTED;
  d13c_free(c);
  t = cpu_ns();
  d13s_free(&s);
  server_ns += cpu_ns() - t;
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  if (n <= 0)
    n = 200;
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  rtcsec_cert *ccert = NULL, *scert = NULL;
  if (rtcsec_cert_generate(&ccert, &cc) != 0 || rtcsec_cert_generate(&scert, &cc) != 0)
    return 1;
  /* Warm up both (OpenSSL's per-certificate SSL_CTX, lazy fetches). */
  if (one_12(ccert, scert) != 0 || one_13(ccert, scert) != 0) {
    fprintf(stderr, "a handshake failed\n");
    return 1;
  }
  uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
  for (int run = 0; run < 3; run++) {
    for (int v = 0; v < 2; v++) {
      server_ns = 0;
      for (int i = 0; i < n; i++) {
        if ((v == 0 ? one_12(ccert, scert) : one_13(ccert, scert)) != 0) {
          fprintf(stderr, "a handshake failed\n");
          return 1;
        }
      }
      if (server_ns < best[v])
        best[v] = server_ns;
    }
  }
  printf("server CPU per handshake (best of 3 runs of %d, ECDSA P-256, x25519):\n", n);
  printf("  DTLS 1.2 (OpenSSL %s): %8.1f us\n", OpenSSL_version(OPENSSL_VERSION_STRING),
         best[0] / 1e3 / n);
  printf("  DTLS 1.3 (rtcsec):        %8.1f us  (%.2fx)\n", best[1] / 1e3 / n,
         (double)best[1] / (double)best[0]);
  rtcsec_cert_free(ccert);
  rtcsec_cert_free(scert);
  return 0;
}
