/* Writes the seed corpora of the DTLS 1.3 fuzz targets:
 *   gen_corpus_dtls13 tests/fuzz/corpus
 * dtls13_client_hello: ClientHellos from the test client (plain, browser-like
 * over two datagrams, without a share, P-256, fragmented to MTU 256, with
 * later datagrams) in that target's format; dtls13_stateful: operation
 * sequences that drive whole handshakes (clean, lossy, every configuration
 * bit, the association as the server); dtls_server_first_flight (the
 * association's target): DTLS 1.3 ClientHellos in that target's format, so
 * that it reaches the collector and the DTLS 1.3 engine behind
 * rtcsec_dtls. Deterministic: the random source is fuzz_common's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dtls13_client.h"
#include "fuzz_common.h"

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(p, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fclose(f);
}

typedef struct buf {
  uint8_t p[65536];
  size_t n;
} buf;

static void put(buf *b, const uint8_t *p, size_t n) {
  memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void put_dgram(buf *b, const uint8_t *p, size_t n) {
  uint8_t h[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  put(b, h, 2);
  put(b, p, n);
}

static uint8_t dg[16][2048];
static size_t dl[16];

/* The test client's ClientHello cut into datagrams of at most mtu bytes
 * (dg, dl); returns how many. */
static size_t client_hello_datagrams(const char *name, d13c_config *cc, size_t mtu) {
  uint8_t m[4096];
  size_t n = 0;
  fuzz_rng_reset();
  if (d13c_client_hello(cc, m, sizeof(m), &n) != 0) {
    fprintf(stderr, "no ClientHello for %s\n", name);
    exit(1);
  }
  return d13c_fragment_client_hello(m, n, mtu, dg, dl, 16);
}

static void client_hello_seed(const char *dir, const char *name, uint8_t cfg, d13c_config *cc,
                              size_t mtu, int extra) {
  size_t k = client_hello_datagrams(name, cc, mtu);
  static buf b;
  b.n = 0;
  put(&b, &cfg, 1);
  for (size_t i = 0; i < k; i++)
    put_dgram(&b, dg[i], dl[i]);
  if (extra) {
    /* a retransmission, a stray plaintext alert, a protected-looking record */
    put_dgram(&b, dg[0], dl[0]);
    static const uint8_t alert[] = {21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40};
    put_dgram(&b, alert, sizeof(alert));
    uint8_t prot[40] = {0x2e, 0x12, 0x34, 0, 35};
    put_dgram(&b, prot, sizeof(prot));
  }
  write_file(dir, name, b.p, b.n);
}

/* A DTLS 1.3 ClientHello as the first flight of fuzz_dtls_server_first_flight
 * (fuzz_common.h): the fingerprint known (count byte k) or learnt late
 * (64 + k). */
static void first_flight_seed(const char *dir, const char *name, d13c_config *cc, size_t mtu,
                              int late_fp) {
  size_t k = client_hello_datagrams(name, cc, mtu);
  static buf b;
  b.n = 0;
  uint8_t count = (uint8_t)(late_fp ? 64 + k + 1 : k + 1);
  put(&b, &count, 1);
  for (size_t i = 0; i < k; i++)
    put_dgram(&b, dg[i], dl[i]);
  /* and a timer run (the server's flight is retransmitted) */
  static const uint8_t timer[] = {0x80, 0x00};
  put(&b, timer, sizeof(timer));
  write_file(dir, name, b.p, b.n);
}

static void stateful_seed(const char *dir, const char *name, uint8_t cfg, int lossy) {
  static buf b;
  b.n = 0;
  put(&b, &cfg, 1);
  for (int round = 0; round < 12; round++) {
    if (lossy && round % 3 == 1) {
      const uint8_t drop[] = {(uint8_t)(4 << 1 | (round & 1))};
      put(&b, drop, 1);
    }
    const uint8_t ops[] = {15 << 1 | 1, 15 << 1 | 0, 10 << 1};
    put(&b, ops, lossy ? 3 : 2);
  }
  /* data both ways, key updates, close */
  const uint8_t tail[] = {11 << 1 | 0, 40, 11 << 1 | 1, 60,          15 << 1 | 1, 15 << 1 | 0,
                          12 << 1 | 0, 1,  15 << 1 | 1, 15 << 1 | 0, 15 << 1 | 1, 15 << 1 | 0,
                          11 << 1 | 1, 9,  15 << 1 | 0, 13 << 1 | 0, 15 << 1 | 1};
  put(&b, tail, sizeof(tail));
  write_file(dir, name, b.p, b.n);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/dtls13_client_hello", argv[1]);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return 1;
  d13c_config cc;
  d13c_config_default(&cc);
  client_hello_seed(dir, "plain", 0, &cc, 1200, 0);
  client_hello_seed(dir, "plain-then-more", 0, &cc, 1200, 1);
  client_hello_seed(dir, "cookie-exchange", 2, &cc, 1200, 1);
  client_hello_seed(dir, "rsa-server-aes256-refused", 1 | 4, &cc, 1200, 0);
  d13c_config_default(&cc);
  cc.hybrid_share = 1;
  cc.shuffle_seed = 3;
  client_hello_seed(dir, "browser-like-two-datagrams", 0, &cc, 1200, 0);
  client_hello_seed(dir, "mtu-256-fragments", 8, &cc, 256, 1);
  d13c_config_default(&cc);
  cc.n_shares_zero = 1;
  client_hello_seed(dir, "no-share-hello-retry", 0, &cc, 1200, 1);
  d13c_config_default(&cc);
  cc.share_groups[0] = 0x0017;
  client_hello_seed(dir, "p256-share", 0, &cc, 1200, 0);
  d13c_config_default(&cc);
  cc.omit_use_srtp = 1;
  client_hello_seed(dir, "no-use-srtp", 0, &cc, 1200, 0);
  d13c_config_default(&cc);
  cc.legacy_cookie_len = 4;
  client_hello_seed(dir, "legacy-cookie", 0, &cc, 1200, 0);

  snprintf(dir, sizeof(dir), "%s/dtls13_stateful", argv[1]);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return 1;
  static const struct {
    const char *name;
    uint8_t cfg;
  } cfgs[] = {{"clean", 0},
              {"hello-retry", 1},
              {"mtu-300", 2},
              {"rsa-server", 4},
              {"browser-like", 8},
              {"wrong-fingerprint", 16},
              {"seq8-padding", 32},
              {"cookie-exchange", 64},
              {"browser-rsa-mtu-300", 2 | 4 | 8},
              {"association", 128},
              {"association-hello-retry", 128 | 1},
              {"association-browser-like-mtu-300", 128 | 2 | 8},
              {"association-wrong-fingerprint", 128 | 16}};
  for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
    char name[64];
    stateful_seed(dir, cfgs[i].name, cfgs[i].cfg, 0);
    snprintf(name, sizeof(name), "%s-lossy", cfgs[i].name);
    stateful_seed(dir, name, cfgs[i].cfg, 1);
  }

  snprintf(dir, sizeof(dir), "%s/dtls_server_first_flight", argv[1]);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return 1;
  d13c_config_default(&cc);
  cc.cert = fuzz_cert(FUZZ_CERT_CLIENT);
  first_flight_seed(dir, "dtls13-client-hello", &cc, 1200, 0);
  first_flight_seed(dir, "dtls13-client-hello-late-fingerprint", &cc, 1200, 1);
  cc.hybrid_share = 1;
  cc.shuffle_seed = 5;
  first_flight_seed(dir, "dtls13-browser-like-client-hello", &cc, 1200, 0);
  first_flight_seed(dir, "dtls13-client-hello-mtu-256", &cc, 256, 0);
  d13c_config_default(&cc);
  cc.n_shares_zero = 1;
  first_flight_seed(dir, "dtls13-client-hello-no-share", &cc, 1200, 0);
  return 0;
}
