/* Handshake CPU of the DTLS server (rtcsec_dtls): rtcsec's DTLS 1.3 engine
 * against OpenSSL's DTLS 1.2, in the same run. A measurement, not a
 * test: it prints numbers and never fails on them.
 *
 *   build/tests/dtls13_handshake_cost [N]          CPU time per handshake
 *   valgrind --tool=callgrind --toggle-collect='server_*' \
 *       build/tests/dtls13_handshake_cost 20 12|13 exact server instructions
 *                                                  of 3 x 20 + 1 handshakes
 *                                                  of that version only
 *
 * Both run in memory without loss, ECDSA P-256 certificates on both
 * sides, default SRTP profiles, x25519. The server's work is every call on
 * the server association (the server_* functions below, which the
 * callgrind command counts alone), which for both versions includes
 * collecting and parsing the ClientHello. The client (OpenSSL for 1.2, the
 * test client for 1.3) is not counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtls13_client.h"
#include "rtcsec/rtcsec.h"

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t server_ns;

/* ---- the server's calls, one function each, for callgrind --------------------------- */

__attribute__((noinline)) static int server_in(rtcsec_dtls *d, const uint8_t *p, size_t n) {
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_handle_datagram(d, p, n, 0);
  server_ns += cpu_ns() - t;
  return rc;
}

__attribute__((noinline)) static int server_out(rtcsec_dtls *d, uint8_t *b, size_t c, size_t *n) {
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_poll_datagram(d, b, c, n);
  server_ns += cpu_ns() - t;
  return rc;
}

__attribute__((noinline)) static rtcsec_dtls *server_new(rtcsec_cert *sc,
                                                         const rtcsec_fingerprint *cfp) {
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = RTCSEC_DTLS_SERVER;
  cfg.cert = sc;
  cfg.peer_fingerprints = cfp;
  cfg.n_peer_fingerprints = 1;
  rtcsec_dtls *s = NULL;
  uint64_t t = cpu_ns();
  int rc = rtcsec_dtls_new(&s, &cfg);
  server_ns += cpu_ns() - t;
  return rc == 0 ? s : NULL;
}

__attribute__((noinline)) static void server_free(rtcsec_dtls *s) {
  uint64_t t = cpu_ns();
  rtcsec_dtls_free(s);
  server_ns += cpu_ns() - t;
}

static int connected(rtcsec_dtls *d) {
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
  s = server_new(sc, &cfp);
  if (s == NULL || rtcsec_dtls_start(c, 0) != 0)
    return -1;
  uint8_t buf[2048];
  for (int round = 0; round < 20 && !(connected(c) && connected(s)); round++) {
    size_t n;
    while (rtcsec_dtls_poll_datagram(c, buf, sizeof(buf), &n) == 0 && n > 0)
      server_in(s, buf, n);
    while (server_out(s, buf, sizeof(buf), &n) == 0 && n > 0)
      rtcsec_dtls_handle_datagram(c, buf, n, 0);
  }
  int ok = connected(c) && connected(s);
  rtcsec_dtls_free(c);
  server_free(s);
  return ok ? 0 : -1;
}

static int one_13(rtcsec_cert *cc, rtcsec_cert *sc) {
  d13c_config ccfg;
  d13c_config_default(&ccfg);
  ccfg.cert = cc;
  d13c *c = NULL;
  if (d13c_new(&c, &ccfg, 0) != 0)
    return -1;
  rtcsec_fingerprint cfp;
  rtcsec_cert_fingerprint(cc, RTCSEC_HASH_SHA256, &cfp);
  rtcsec_dtls *s = server_new(sc, &cfp);
  if (s == NULL)
    return -1;
  uint8_t buf[2048];
  for (int round = 0; round < 20; round++) {
    size_t n;
    while (d13c_poll_datagram(c, buf, sizeof(buf), &n) == 0 && n > 0)
      server_in(s, buf, n);
    while (server_out(s, buf, sizeof(buf), &n) == 0 && n > 0)
      d13c_handle_datagram(c, buf, n, 0);
    if (connected(s) && d13c_state(c) == RTCSEC_DTLS_STATE_CONNECTED)
      break;
  }
  rtcsec_connected_info info;
  int ok = connected(s) && rtcsec_dtls_get_connected(s, &info) == 0 &&
           strcmp(info.version, "DTLSv1.3") == 0;
  d13c_free(c);
  server_free(s);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  if (n <= 0)
    n = 200;
  /* "12" or "13": that version only (for callgrind's counts). */
  int only = argc > 2 ? atoi(argv[2]) : 0;
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  rtcsec_cert *ccert = NULL, *scert = NULL;
  if (rtcsec_cert_generate(&ccert, &cc) != 0 || rtcsec_cert_generate(&scert, &cc) != 0)
    return 1;
  /* Warm up both (OpenSSL's per-certificate SSL_CTX, lazy fetches). */
  if ((only != 13 && one_12(ccert, scert) != 0) || (only != 12 && one_13(ccert, scert) != 0)) {
    fprintf(stderr, "a handshake failed\n");
    return 1;
  }
  uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
  for (int run = 0; run < 3; run++) {
    for (int v = 0; v < 2; v++) {
      if ((only == 12 && v == 1) || (only == 13 && v == 0))
        continue;
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
  if (only != 13)
    printf("  DTLS 1.2 (OpenSSL %s): %8.1f us\n", OpenSSL_version(OPENSSL_VERSION_STRING),
           best[0] / 1e3 / n);
  if (only != 12)
    printf("  DTLS 1.3 (rtcsec):        %8.1f us\n", best[1] / 1e3 / n);
  if (only == 0)
    printf("  1.3 / 1.2: %.2f\n", (double)best[1] / (double)best[0]);
  rtcsec_cert_free(ccert);
  rtcsec_cert_free(scert);
  return 0;
}
