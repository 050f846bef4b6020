/* Figure 6: the ways OpenSSL 3.0 can compute an SRTP HMAC-SHA1 tag with a
 * key set up once, per message of an RTP packet's authenticated length
 * (160- and 1200-byte payloads: 12 + payload + 4 octets of ROC), and the
 * allocations each makes: why srtp_bridge/srtp_type_hmac.c keeps two SHA-1
 * states (issue 13 asked to measure EVP_MAC_CTX_dup against HMAC_CTX
 * reuse):
 *   evp_mac_reinit  EVP_MAC_init(ctx, NULL key) on a keyed EVP_MAC_CTX (what
 *                   libsrtp2's OpenSSL backend and the EVP floor do);
 *   evp_mac_dup     EVP_MAC_CTX_dup() of a keyed template per message;
 *   hmac_ctx_reuse  HMAC_Init_ex(ctx, NULL key) on a keyed HMAC_CTX
 *                   (deprecated in 3.0);
 *   sha1_states     copies of the SHA-1 states after the keyed pad blocks
 *                   (rtcsec's type; SHA1_* deprecated in 3.0).
 * All four are checked to give the same tag first. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum { H_REINIT, H_DUP, H_HMAC_CTX, H_SHA1, N_WAYS };
static const char *way_name[N_WAYS] = {"evp_mac_reinit", "evp_mac_dup", "hmac_ctx_reuse",
                                       "sha1_states"};
static const char *way_what[N_WAYS] = {"EVP_MAC_init(NULL key)", "EVP_MAC_CTX_dup(template)",
                                       "HMAC_Init_ex(NULL key)", "SHA_CTX copies (rtcsec)"};

typedef struct hmac_ways {
  EVP_MAC_CTX *mac;
  HMAC_CTX *hctx;
  SHA_CTX inner, outer;
} hmac_ways;

static int ways_init(hmac_ways *w, const uint8_t key[20]) {
  uint8_t pad[64];
  memset(w, 0, sizeof(*w));
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  w->mac = m ? EVP_MAC_CTX_new(m) : NULL;
  EVP_MAC_free(m);
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                    OSSL_PARAM_construct_end()};
  w->hctx = HMAC_CTX_new();
  if (w->mac == NULL || !EVP_MAC_init(w->mac, key, 20, p) || w->hctx == NULL ||
      !HMAC_Init_ex(w->hctx, key, 20, EVP_sha1(), NULL))
    return -1;
  memset(pad, 0x36, sizeof(pad));
  for (int i = 0; i < 20; i++)
    pad[i] ^= key[i];
  SHA1_Init(&w->inner);
  SHA1_Update(&w->inner, pad, sizeof(pad));
  memset(pad, 0x5c, sizeof(pad));
  for (int i = 0; i < 20; i++)
    pad[i] ^= key[i];
  SHA1_Init(&w->outer);
  SHA1_Update(&w->outer, pad, sizeof(pad));
  return 0;
}

static void ways_free(hmac_ways *w) {
  EVP_MAC_CTX_free(w->mac);
  HMAC_CTX_free(w->hctx);
  memset(w, 0, sizeof(*w));
}

/* The tag of msg (n octets, then the 4-octet ROC) one way; 0 or -1. */
static int tag(hmac_ways *w, int way, const uint8_t *msg, size_t n, const uint8_t roc[4],
               uint8_t out[20]) {
  size_t ol = 0;
  unsigned int hl = 0;
  switch (way) {
  case H_REINIT:
    return EVP_MAC_init(w->mac, NULL, 0, NULL) && EVP_MAC_update(w->mac, msg, n) &&
                   EVP_MAC_update(w->mac, roc, 4) && EVP_MAC_final(w->mac, out, &ol, 20)
               ? 0
               : -1;
  case H_DUP: {
    EVP_MAC_CTX *d = EVP_MAC_CTX_dup(w->mac);
    int ok = d != NULL && EVP_MAC_init(d, NULL, 0, NULL) && EVP_MAC_update(d, msg, n) &&
             EVP_MAC_update(d, roc, 4) && EVP_MAC_final(d, out, &ol, 20);
    EVP_MAC_CTX_free(d);
    return ok ? 0 : -1;
  }
  case H_HMAC_CTX:
    return HMAC_Init_ex(w->hctx, NULL, 0, NULL, NULL) && HMAC_Update(w->hctx, msg, n) &&
                   HMAC_Update(w->hctx, roc, 4) && HMAC_Final(w->hctx, out, &hl)
               ? 0
               : -1;
  default: {
    SHA_CTX c = w->inner;
    uint8_t h[20];
    SHA1_Update(&c, msg, n);
    SHA1_Update(&c, roc, 4);
    SHA1_Final(h, &c);
    c = w->outer;
    SHA1_Update(&c, h, 20);
    SHA1_Final(out, &c);
    return 0;
  }
  }
}

int bench_hmac_run(const bench_opts *o) {
  static const size_t sizes[2] = {160, 1200};
  uint8_t key[20], msg[1300], roc[4] = {0, 0, 0, 1}, want[20], got[20];
  hmac_ways w;
  int rc = -1, n_msgs = o->quick ? 2000 : 20000;
  for (int i = 0; i < 20; i++)
    key[i] = (uint8_t)(i * 13 + 5);
  if (ways_init(&w, key) != 0) {
    fprintf(stderr, "rtcsec-bench: HMAC set-up failed\n");
    goto out;
  }
  for (size_t i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)i;
  for (int way = 0; way < N_WAYS; way++) {
    if (tag(&w, way, msg, 172, roc, got) != 0 || (way > 0 && memcmp(got, want, 20) != 0)) {
      fprintf(stderr, "rtcsec-bench: HMAC way %s disagrees\n", way_name[way]);
      goto out;
    }
    if (way == 0)
      memcpy(want, got, 20);
  }
  for (int run = 0; run < o->runs; run++) {
    for (int si = 0; si < 2; si++) {
      size_t n = 12 + sizes[si];
      double ns[N_WAYS], allocs[N_WAYS];
      for (int j = 0; j < N_WAYS; j++) {
        int way = (j + run) % N_WAYS, bad = 0;
        uint64_t a0 = bench_alloc_calls(), t0 = bench_cpu_ns();
        for (int m = 0; m < n_msgs; m++) {
          msg[3] = (uint8_t)m;
          bad |= tag(&w, way, msg, n, roc, got);
        }
        ns[way] = (double)(bench_cpu_ns() - t0) / n_msgs;
        allocs[way] = (double)(bench_alloc_calls() - a0) / n_msgs;
        if (bad)
          goto out;
      }
      for (int way = 0; way < N_WAYS; way++) {
        char name[96], label[64];
        snprintf(name, sizeof(name), "hmac.%zu.%s", sizes[si], way_name[way]);
        snprintf(label, sizeof(label), "%s %zu B", way_name[way], sizes[si]);
        bench_figure *f =
            bench_figure_get("hmac", name, label, "ns/message", way_what[way], "evp_mac_reinit");
        bench_series_add(&f->val, ns[way]);
        bench_series_add(&f->base, ns[H_REINIT]);
        if (!bench_alloc_counting())
          continue;
        snprintf(name, sizeof(name), "hmac.%zu.%s.allocs", sizes[si], way_name[way]);
        snprintf(label, sizeof(label), "  allocations, %s", way_name[way]);
        f = bench_figure_get("hmac", name, label, "calls/message", way_what[way], "");
        bench_series_add(&f->val, allocs[way]);
      }
    }
  }
  rc = 0;
out:
  ways_free(&w);
  return rc;
}
