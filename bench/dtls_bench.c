/* Figure 2: DTLS-SRTP handshakes, CPU time of both endpoints together (one
 * thread, in memory), with the same certificates reused for every
 * handshake (one per endpoint, as browsers do):
 *   rtcsec_dtls       two rtcsec_dtls associations, keys taken from the
 *                     CONNECTED events (bench_dtls_handshake);
 *   raw OpenSSL       the same options with plain OpenSSL over memory BIOs
 *                     (raw_dtls.c), keys exported;
 *   rtcsec_transport  two transports (DTLS + SRTP sessions installed) vs raw
 *                     OpenSSL + four libsrtp2 sessions;
 *   P-256 ECDHE       raw OpenSSL with groups "P-256" (for reference: the
 *                     issue's measured number);
 *   public-key floor  what no implementation can avoid: two ECDSA P-256
 *                     signatures, two verifications, two X25519 key pairs
 *                     and two X25519 derivations. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "raw_dtls.h"

enum { D_RTCSEC_DTLS, D_RAW, D_RTCSEC_TRANSPORT, D_RAW_SRTP, D_RAW_P256, D_FLOOR, N_D };

static const char *d_name[N_D] = {"rtcsec_dtls",      "raw_openssl",      "rtcsec_transport",
                                  "raw_openssl_srtp", "raw_openssl_p256", "pubkey_floor"};

typedef struct dtls_fixture {
  rtcsec_cert *cert[2];
  rtcsec_fingerprint fp[2];
  raw_dtls_ctx raw, raw_p256;
  EVP_PKEY *pub[2]; /* the certificates' public keys */
} dtls_fixture;

static int fixture_init(dtls_fixture *f) {
  memset(f, 0, sizeof(*f));
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&f->cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(f->cert[i], RTCSEC_HASH_SHA256, &f->fp[i]) != RTCSEC_OK)
      return -1;
  }
  if (raw_dtls_ctx_init(&f->raw, f->cert, "X25519:P-256:P-384", 0) != 0 ||
      raw_dtls_ctx_init(&f->raw_p256, f->cert, "P-256", 0) != 0)
    return -1;
  for (int i = 0; i < 2; i++)
    f->pub[i] = X509_get0_pubkey(f->raw.x509[i]);
  return 0;
}

static void fixture_free(dtls_fixture *f) {
  raw_dtls_ctx_free(&f->raw);
  raw_dtls_ctx_free(&f->raw_p256);
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(f->cert[i]);
}

/* ---- the public-key floor ---------------------------------------------------- */

static int sign_verify(EVP_PKEY *key, EVP_PKEY *pub) {
  uint8_t msg[128], sig[128];
  size_t siglen = sizeof(sig);
  memset(msg, 0x42, sizeof(msg));
  EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
  int ok = s && v && EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, key) == 1 &&
           EVP_DigestSign(s, sig, &siglen, msg, sizeof(msg)) == 1 &&
           EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, pub) == 1 &&
           EVP_DigestVerify(v, sig, siglen, msg, sizeof(msg)) == 1;
  EVP_MD_CTX_free(s);
  EVP_MD_CTX_free(v);
  return ok ? 0 : -1;
}

static int x25519_derive(EVP_PKEY *mine, EVP_PKEY *peer) {
  uint8_t secret[64];
  size_t len = sizeof(secret);
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(mine, NULL);
  int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
           EVP_PKEY_derive(c, secret, &len) == 1;
  EVP_PKEY_CTX_free(c);
  return ok ? 0 : -1;
}

static int pubkey_floor(dtls_fixture *f) {
  int rc = 0;
  /* ServerKeyExchange and CertificateVerify: one signature each side,
   * verified by the other. */
  for (int i = 0; i < 2 && rc == 0; i++)
    rc = sign_verify(f->raw.key[i], f->pub[i]);
  EVP_PKEY *eph[2] = {EVP_PKEY_Q_keygen(NULL, NULL, "X25519"),
                      EVP_PKEY_Q_keygen(NULL, NULL, "X25519")};
  if (eph[0] == NULL || eph[1] == NULL)
    rc = -1;
  for (int i = 0; i < 2 && rc == 0; i++)
    rc = x25519_derive(eph[i], eph[1 - i]);
  EVP_PKEY_free(eph[0]);
  EVP_PKEY_free(eph[1]);
  return rc;
}

/* ---- one handshake of each kind -------------------------------------------------- */

static int one(dtls_fixture *f, int d, uint64_t *datagrams, uint64_t *bytes) {
  raw_dtls_pair rp;
  bench_pair bp;
  int rc = 0;
  switch (d) {
  case D_RTCSEC_DTLS:
    return bench_dtls_handshake(f->cert, f->fp, datagrams, bytes) == RTCSEC_OK ? 0 : -1;
  case D_RAW:
  case D_RAW_SRTP:
  case D_RAW_P256:
    if (raw_dtls_connect(d == D_RAW_P256 ? &f->raw_p256 : &f->raw, &rp, d == D_RAW_SRTP) != 0)
      return -1;
    if (datagrams)
      *datagrams += rp.datagrams;
    if (bytes)
      *bytes += rp.bytes;
    raw_dtls_pair_free(&rp);
    return 0;
  case D_RTCSEC_TRANSPORT:
    if (bench_pair_connect(&bp, f->cert, f->fp, RTCSEC_SRTP_NONE) != RTCSEC_OK)
      return -1;
    if (datagrams)
      *datagrams += bp.datagrams;
    if (bytes)
      *bytes += bp.bytes;
    bench_pair_free(&bp);
    return 0;
  case D_FLOOR:
    rc = pubkey_floor(f);
    return rc;
  default:
    return -1;
  }
}

static bench_figure *fig(const char *name, const char *label, const char *unit, int d, int base) {
  return bench_figure_get("dtls", name, label, unit, d_name[d], base >= 0 ? d_name[base] : "");
}

int bench_dtls_run(const bench_opts *o) {
  dtls_fixture f;
  int rc = -1;
  if (fixture_init(&f) != 0) {
    fprintf(stderr, "rtcsec-bench: DTLS fixture setup failed\n");
    goto out;
  }
  for (int d = 0; d < N_D; d++) {
    for (int w = 0; w < 2; w++) {
      if (one(&f, d, NULL, NULL) != 0) {
        fprintf(stderr, "rtcsec-bench: %s handshake failed\n", d_name[d]);
        goto out;
      }
    }
  }
  /* Bytes and datagrams are the same every time on a clean link. */
  uint64_t dg[2] = {0, 0}, by[2] = {0, 0};
  if (one(&f, D_RTCSEC_DTLS, &dg[0], &by[0]) != 0 || one(&f, D_RAW, &dg[1], &by[1]) != 0)
    goto out;

  int n = o->handshakes;
  for (int run = 0; run < o->runs; run++) {
    uint64_t ns[N_D] = {0};
    for (int h = 0; h < n; h++) {
      for (int j = 0; j < N_D; j++) {
        int d = (j + h + run) % N_D;
        uint64_t t0 = bench_cpu_ns();
        if (one(&f, d, NULL, NULL) != 0) {
          fprintf(stderr, "rtcsec-bench: %s handshake failed\n", d_name[d]);
          goto out;
        }
        ns[d] += bench_cpu_ns() - t0;
      }
    }
    double us[N_D];
    for (int d = 0; d < N_D; d++)
      us[d] = (double)ns[d] / 1000.0 / n;

    bench_figure *x = fig("dtls.handshake.rtcsec_dtls", "handshake rtcsec_dtls", "us/handshake",
                          D_RTCSEC_DTLS, D_RAW);
    bench_figure_set_target(x, BENCH_TARGET_RATIO_MAX, 1.10);
    bench_series_add(&x->val, us[D_RTCSEC_DTLS]);
    bench_series_add(&x->base, us[D_RAW]);

    x = fig("dtls.handshakes_per_s.rtcsec_dtls", "handshakes/s (1 core)", "handshakes/s",
            D_RTCSEC_DTLS, D_RAW);
    bench_series_add(&x->val, 1e6 / us[D_RTCSEC_DTLS]);
    bench_series_add(&x->base, 1e6 / us[D_RAW]);

    x = fig("dtls.handshake.rtcsec_transport", "handshake transport", "us/handshake",
            D_RTCSEC_TRANSPORT, D_RAW_SRTP);
    bench_figure_set_target(x, BENCH_TARGET_RATIO_MAX, 1.10);
    bench_series_add(&x->val, us[D_RTCSEC_TRANSPORT]);
    bench_series_add(&x->base, us[D_RAW_SRTP]);

    x = fig("dtls.handshake.raw_openssl", "raw OpenSSL vs pk floor", "us/handshake", D_RAW,
            D_FLOOR);
    bench_series_add(&x->val, us[D_RAW]);
    bench_series_add(&x->base, us[D_FLOOR]);

    x = fig("dtls.handshake.raw_openssl_p256", "raw OpenSSL P-256 ECDHE", "us/handshake",
            D_RAW_P256, D_RAW);
    bench_series_add(&x->val, us[D_RAW_P256]);
    bench_series_add(&x->base, us[D_RAW]);

    x = fig("dtls.datagrams_per_handshake", "datagrams/handshake", "datagrams", D_RTCSEC_DTLS,
            D_RAW);
    bench_series_add(&x->val, (double)dg[0]);
    bench_series_add(&x->base, (double)dg[1]);
    x = fig("dtls.bytes_per_handshake", "bytes/handshake", "bytes", D_RTCSEC_DTLS, D_RAW);
    bench_series_add(&x->val, (double)by[0]);
    bench_series_add(&x->base, (double)by[1]);
  }
  rc = 0;
out:
  fixture_free(&f);
  return rc;
}

int bench_dtls_callgrind_child(const bench_opts *o) {
  dtls_fixture f;
  int rc = -1;
  int n = o->quick ? 1 : 4;
  if (fixture_init(&f) != 0)
    goto out;
  for (int d = 0; d < N_D; d++) {
    char dump[128];
    if (one(&f, d, NULL, NULL) != 0) /* warm-up, not counted */
      goto out;
    snprintf(dump, sizeof(dump), "dtls.handshake|%s|%d", d_name[d], n);
    bench_cg_begin();
    for (int h = 0; h < n; h++) {
      if (one(&f, d, NULL, NULL) != 0) {
        bench_cg_end(dump);
        goto out;
      }
    }
    bench_cg_end(dump);
  }
  rc = 0;
out:
  fixture_free(&f);
  return rc;
}
