/* rtcsec-kem-bench: the cost of the TLS 1.3 key exchanges rtcsec offers, in
 * one run on one core, so the numbers compare:
 *   - ML-KEM-768 (lib/mlkem.c) KeyGen, Encaps, Decaps;
 *   - X25519 and P-256 ECDH as a server does it (a fresh key pair, then the
 *     derivation with the peer's key) straight on OpenSSL's EVP: the
 *     baseline;
 *   - the server side of each TLS group through lib/hybrid_kex.c (what the
 *     DTLS 1.3 engine calls), and the client side of X25519MLKEM768.
 * Each line: operations per second, microseconds per operation, and the ratio
 * to the X25519 baseline measured in the same run. A benchmark, not a test: it
 * never fails because the machine is slow.
 *
 * Usage: rtcsec-kem-bench [--seconds S] [--out FILE]
 *   --seconds S  time per measurement, 0.05 to 10 (default 0.5)
 *   --out FILE   also write the table to FILE */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hybrid_kex.h"
#include "mlkem.h"
#include "util.h"

#define MAX_ITERATIONS 10000000L

typedef struct bench_state {
  uint8_t ek[RTCSEC_MLKEM768_EK_LEN], dk[RTCSEC_MLKEM768_DK_LEN];
  uint8_t ct[RTCSEC_MLKEM768_CT_LEN], ss[RTCSEC_MLKEM_SS_LEN];
  uint8_t x25519_share[RTCSEC_X25519_SHARE_LEN], p256_share[RTCSEC_P256_SHARE_LEN];
  uint8_t hybrid_share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN];
  uint8_t server_share[RTCSEC_KEX_MAX_SERVER_SHARE_LEN], secret[RTCSEC_KEX_MAX_SECRET_LEN];
  EVP_PKEY *x25519_peer, *p256_peer;
  rtcsec_kex_client hybrid_client;
} bench_state;

static void die(const char *what) {
  fprintf(stderr, "rtcsec-kem-bench: %s failed\n", what);
  exit(1);
}

/* ---- the operations ---------------------------------------------------------- */

static int op_mlkem_keygen(bench_state *s) { return rtcsec_mlkem768_keygen(s->ek, s->dk); }
static int op_mlkem_encaps(bench_state *s) { return rtcsec_mlkem768_encaps(s->ek, s->ct, s->ss); }
static int op_mlkem_decaps(bench_state *s) { return rtcsec_mlkem768_decaps(s->dk, s->ct, s->ss); }

/* A server's ECDH on EVP: fresh key pair, derive with the peer. */
static int evp_ecdh(EVP_PKEY *peer, int x25519, uint8_t *secret) {
  EVP_PKEY *own = x25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "X25519")
                         : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  EVP_PKEY_CTX *ctx = own != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL) : NULL;
  size_t n = 32;
  int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
           EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, secret, &n) == 1;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(own);
  return ok ? 0 : -1;
}

static int op_evp_x25519(bench_state *s) { return evp_ecdh(s->x25519_peer, 1, s->secret); }
static int op_evp_p256(bench_state *s) { return evp_ecdh(s->p256_peer, 0, s->secret); }

static int op_x25519_server(bench_state *s) {
  return rtcsec_x25519_server(s->x25519_share, sizeof(s->x25519_share), s->server_share, s->secret);
}
static int op_p256_server(bench_state *s) {
  return rtcsec_p256_server(s->p256_share, sizeof(s->p256_share), s->server_share, s->secret);
}
static int op_hybrid_server(bench_state *s) {
  return rtcsec_x25519mlkem768_server(s->hybrid_share, sizeof(s->hybrid_share), s->server_share,
                                      s->secret);
}
static int op_hybrid_client(bench_state *s) {
  rtcsec_kex_client c;
  int rc = rtcsec_x25519mlkem768_client_keygen(&c, s->hybrid_share);
  if (rc == 0)
    rc = rtcsec_x25519mlkem768_client_finish(&c, s->server_share,
                                             RTCSEC_X25519MLKEM768_SERVER_SHARE_LEN, s->secret);
  rtcsec_kex_client_clear(&c);
  return rc;
}

/* ---- measuring ------------------------------------------------------------------- */

typedef struct bench_op {
  const char *name;
  int (*run)(bench_state *s);
  double per_s;
} bench_op;

/* Runs op for about `seconds` (bounded by MAX_ITERATIONS); operations per
 * second. */
static double measure(bench_state *s, const bench_op *op, double seconds) {
  for (int i = 0; i < 3; i++) { /* warm up: first-call costs out */
    if (op->run(s) != 0)
      die(op->name);
  }
  long n = 0;
  uint64_t start = tool_now_us();
  double elapsed = 0;
  while (elapsed < seconds && n < MAX_ITERATIONS) {
    for (int i = 0; i < 16; i++) {
      if (op->run(s) != 0)
        die(op->name);
    }
    n += 16;
    elapsed = (double)(tool_now_us() - start) / 1e6;
  }
  return (double)n / elapsed;
}

static void setup(bench_state *s) {
  memset(s, 0, sizeof(*s));
  if (rtcsec_mlkem768_keygen(s->ek, s->dk) != 0 || rtcsec_mlkem768_encaps(s->ek, s->ct, s->ss))
    die("ML-KEM setup");
  rtcsec_kex_client c;
  size_t n = 0;
  if (rtcsec_kex_client_keygen(&c, RTCSEC_GROUP_X25519, s->x25519_share, sizeof(s->x25519_share),
                               &n) != 0)
    die("X25519 setup");
  s->x25519_peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, s->x25519_share, 32);
  rtcsec_kex_client_clear(&c);
  if (rtcsec_kex_client_keygen(&c, RTCSEC_GROUP_SECP256R1, s->p256_share, sizeof(s->p256_share),
                               &n) != 0)
    die("P-256 setup");
  s->p256_peer = EVP_PKEY_dup(c.ecdh);
  rtcsec_kex_client_clear(&c);
  if (s->x25519_peer == NULL || s->p256_peer == NULL)
    die("peer key setup");
  if (rtcsec_x25519mlkem768_client_keygen(&s->hybrid_client, s->hybrid_share) != 0 ||
      rtcsec_x25519mlkem768_server(s->hybrid_share, sizeof(s->hybrid_share), s->server_share,
                                   s->secret) != 0)
    die("X25519MLKEM768 setup");
}

int main(int argc, char **argv) {
  double seconds = 0.5;
  const char *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--seconds S] [--out FILE]\n", argv[0]);
      return 2;
    }
  }
  if (!(seconds >= 0.05 && seconds <= 10)) {
    fprintf(stderr, "rtcsec-kem-bench: --seconds must be between 0.05 and 10\n");
    return 2;
  }

  static bench_state s;
  setup(&s);
  bench_op ops[] = {
      {"X25519 keygen+derive (EVP)", op_evp_x25519, 0},
      {"P-256 keygen+derive (EVP)", op_evp_p256, 0},
      {"ML-KEM-768 keygen", op_mlkem_keygen, 0},
      {"ML-KEM-768 encaps", op_mlkem_encaps, 0},
      {"ML-KEM-768 decaps", op_mlkem_decaps, 0},
      {"server x25519", op_x25519_server, 0},
      {"server secp256r1", op_p256_server, 0},
      {"server X25519MLKEM768", op_hybrid_server, 0},
      {"client X25519MLKEM768 (keygen+finish)", op_hybrid_client, 0},
  };
  const size_t n_ops = sizeof(ops) / sizeof(ops[0]);
  for (size_t i = 0; i < n_ops; i++)
    ops[i].per_s = measure(&s, &ops[i], seconds);

  char table[4096];
  size_t len = 0;
  len += (size_t)snprintf(table + len, sizeof(table) - len, "%-40s %12s %10s %14s\n", "operation",
                          "ops/s", "us/op", "x X25519 cost");
  for (size_t i = 0; i < n_ops; i++) {
    len += (size_t)snprintf(table + len, sizeof(table) - len, "%-40s %12.0f %10.1f %14.2f\n",
                            ops[i].name, ops[i].per_s, 1e6 / ops[i].per_s,
                            ops[0].per_s / ops[i].per_s);
  }
  len += (size_t)snprintf(table + len, sizeof(table) - len,
                          "(%s %.2f s per line; the last column is the time of one operation "
                          "over one X25519 keygen+derive)\n",
                          OpenSSL_version(OPENSSL_VERSION), seconds);
  fputs(table, stdout);
  if (out_path != NULL) {
    FILE *f = fopen(out_path, "w");
    if (f == NULL || fputs(table, f) < 0 || fclose(f) != 0) {
      perror(out_path);
      return 1;
    }
  }
  rtcsec_kex_client_clear(&s.hybrid_client);
  EVP_PKEY_free(s.x25519_peer);
  EVP_PKEY_free(s.p256_peer);
  return 0;
}
