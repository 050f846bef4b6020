/* Figure 1: SRTP protect and unprotect per packet, three ways on the same
 * work:
 *   rtcsec    rtcsec_transport_protect_rtp/rtcp, and for unprotect the
 *             whole receive path rtcsec_transport_handle_datagram (RFC 7983
 *             demux + bridge + libsrtp2), on a transport pair connected in
 *             memory by a real DTLS handshake;
 *   libsrtp2  srtp_protect / srtp_unprotect (and _rtcp) on sessions
 *             configured here exactly as the bridge configures its own
 *             (ssrc_any_*, window 1024, allow_repeat_tx);
 *   EVP       the raw cipher floor (evp_srtp.c).
 *
 * Each measurement processes batches of fresh packets: the plaintext (for
 * unprotect, the packets protected by that variant's own sender) is
 * prepared outside the timed loop, so every variant sees new, increasing
 * sequence numbers and SRTCP indexes, passes its replay check, and does the
 * same work. Only the loop over the batch is timed (thread CPU time). */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "bench.h"
#include "evp_srtp.h"
#include "raw_dtls.h"

#define SSRC 0x5eb0c0deu
#define SLOT 1280 /* largest packet (1200 B payload + header) + any trailer */
#define MAX_BATCH 512

enum variant { V_RTCSEC = 0, V_LIBSRTP = 1, V_EVP = 2, N_VARIANTS = 3 };
enum op { OP_PROTECT = 0, OP_UNPROTECT = 1 };
enum kind { K_RTP = 0, K_RTCP = 1 };

static const char *variant_name[N_VARIANTS] = {"rtcsec", "libsrtp2", "evp"};
static const char *op_name[2] = {"protect", "unprotect"};
static const char *kind_name[2] = {"rtp", "rtcp"};
static const size_t sizes[2] = {160, 1200};

typedef struct prof_ctx {
  rtcsec_srtp_profile profile;
  int ok;
  bench_pair pair; /* t[0] protects, t[1] receives */
  srtp_t raw_tx, raw_rx;
  evp_srtp evp_tx, evp_rx;
  uint16_t seq[N_VARIANTS];
} prof_ctx;

typedef struct batch {
  uint8_t *buf; /* MAX_BATCH slots of SLOT bytes */
  size_t len[MAX_BATCH];
  size_t n;
} batch;

/* Allocation calls in the timed loops, per variant and profile family
 * (0 AES-CM, 1 AES-GCM), and the packets they processed. */
static uint64_t allocs[N_VARIANTS][2], alloc_packets[N_VARIANTS][2];

static int family(rtcsec_srtp_profile p) {
  return p == RTCSEC_SRTP_AEAD_AES_128_GCM || p == RTCSEC_SRTP_AEAD_AES_256_GCM;
}

/* ---- setup ---------------------------------------------------------------------- */

static int prof_setup(prof_ctx *c, rtcsec_srtp_profile p, rtcsec_cert *cert[2],
                      const rtcsec_fingerprint fp[2]) {
  memset(c, 0, sizeof(*c));
  c->profile = p;
  if (!rtcsec_srtp_profile_supported(p)) {
    fprintf(stderr, "rtcsec-bench: %s not supported by this libsrtp2: skipped\n",
            rtcsec_srtp_profile_name(p));
    return 0;
  }
  int rc = bench_pair_connect(&c->pair, cert, fp, p);
  if (rc != RTCSEC_OK) {
    fprintf(stderr, "rtcsec-bench: transport pair (%s): %s\n", rtcsec_srtp_profile_name(p),
            rtcsec_strerror(rc));
    return -1;
  }
  uint8_t master[46];
  size_t kl = rtcsec_srtp_profile_key_len(p);
  if (RAND_bytes(master, sizeof(master)) != 1 ||
      raw_srtp_session(&c->raw_tx, p, master, master + kl, 1) != 0 ||
      raw_srtp_session(&c->raw_rx, p, master, master + kl, 0) != 0 ||
      evp_srtp_init(&c->evp_tx, p, master, master + kl) != 0 ||
      evp_srtp_init(&c->evp_rx, p, master, master + kl) != 0) {
    fprintf(stderr, "rtcsec-bench: raw sessions (%s) failed\n", rtcsec_srtp_profile_name(p));
    return -1;
  }
  c->ok = 1;
  for (int v = 0; v < N_VARIANTS; v++)
    c->seq[v] = (uint16_t)(1000 * (v + 1));
  return 0;
}

static void prof_free(prof_ctx *c) {
  bench_pair_free(&c->pair);
  if (c->raw_tx)
    srtp_dealloc(c->raw_tx);
  if (c->raw_rx)
    srtp_dealloc(c->raw_rx);
  if (c->ok) {
    evp_srtp_free(&c->evp_tx);
    evp_srtp_free(&c->evp_rx);
  }
  memset(c, 0, sizeof(*c));
}

/* ---- one batch ------------------------------------------------------------------ */

static int protect_one(prof_ctx *c, int v, int kind, uint8_t *p, size_t len, size_t *out) {
  switch (v) {
  case V_RTCSEC:
    return kind == K_RTP ? rtcsec_transport_protect_rtp(c->pair.t[0], p, len, SLOT, out, 0)
                         : rtcsec_transport_protect_rtcp(c->pair.t[0], p, len, SLOT, out, 0);
  case V_LIBSRTP: {
    int il = (int)len;
    srtp_err_status_t st =
        kind == K_RTP ? srtp_protect(c->raw_tx, p, &il) : srtp_protect_rtcp(c->raw_tx, p, &il);
    *out = (size_t)il;
    return st == srtp_err_status_ok ? 0 : -1;
  }
  default:
    return kind == K_RTP ? evp_srtp_protect_rtp(&c->evp_tx, p, len, out)
                         : evp_srtp_protect_rtcp(&c->evp_tx, p, len, out);
  }
}

/* Fills the batch with fresh plaintext; for unprotect, protects it with the
 * variant's own sender. Not timed. */
static int prepare(prof_ctx *c, int v, int op, int kind, size_t size, batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    uint8_t *p = b->buf + i * SLOT;
    size_t len =
        kind == K_RTP ? bench_make_rtp(p, SSRC, c->seq[v]++, size) : bench_make_rtcp(p, SSRC, size);
    if (op == OP_UNPROTECT && protect_one(c, v, kind, p, len, &len) != 0)
      return -1;
    b->len[i] = len;
  }
  return 0;
}

/* The timed loop. Returns the thread CPU time or UINT64_MAX on failure. */
static uint64_t process(prof_ctx *c, int v, int op, int kind, batch *b) {
  size_t out = 0;
  int bad = 0;
  uint64_t a0 = bench_alloc_calls();
  uint64_t t0 = bench_cpu_ns();
  if (op == OP_PROTECT) {
    for (size_t i = 0; i < b->n; i++)
      bad |= protect_one(c, v, kind, b->buf + i * SLOT, b->len[i], &out);
  } else if (v == V_RTCSEC) {
    rtcsec_transport *t = c->pair.t[1];
    rtcsec_transport_input in;
    uint64_t now = bench_mono_us();
    for (size_t i = 0; i < b->n; i++)
      bad |= rtcsec_transport_handle_datagram(t, b->buf + i * SLOT, b->len[i], now, &in);
  } else if (v == V_LIBSRTP) {
    for (size_t i = 0; i < b->n; i++) {
      int il = (int)b->len[i];
      srtp_err_status_t st = kind == K_RTP ? srtp_unprotect(c->raw_rx, b->buf + i * SLOT, &il)
                                           : srtp_unprotect_rtcp(c->raw_rx, b->buf + i * SLOT, &il);
      bad |= st != srtp_err_status_ok;
    }
  } else {
    for (size_t i = 0; i < b->n; i++)
      bad |= kind == K_RTP
                 ? evp_srtp_unprotect_rtp(&c->evp_rx, b->buf + i * SLOT, b->len[i], &out)
                 : evp_srtp_unprotect_rtcp(&c->evp_rx, b->buf + i * SLOT, b->len[i], &out);
  }
  uint64_t t = bench_cpu_ns() - t0;
  allocs[v][family(c->profile)] += bench_alloc_calls() - a0;
  alloc_packets[v][family(c->profile)] += b->n;
  return bad ? UINT64_MAX : t;
}

/* ns per packet over `batches` fresh batches. */
static double sample(prof_ctx *c, int v, int op, int kind, size_t size, batch *b, int batches) {
  uint64_t total = 0;
  for (int i = 0; i < batches; i++) {
    if (prepare(c, v, op, kind, size, b) != 0)
      return -1;
    uint64_t t = process(c, v, op, kind, b);
    if (t == UINT64_MAX)
      return -1;
    total += t;
  }
  return (double)total / ((double)batches * (double)b->n);
}

/* ---- figures ----------------------------------------------------------------------- */

static void cell_name(char *buf, size_t cap, int kind, int op, size_t size, rtcsec_srtp_profile p) {
  snprintf(buf, cap, "srtp.%s.%s.%zu.%s", kind_name[kind], op_name[op], size,
           bench_profile_short(p));
}

static void record(rtcsec_srtp_profile p, int kind, int op, size_t size, const double ns[3]) {
  char cell[96], name[128], label[64];
  cell_name(cell, sizeof(cell), kind, op, size, p);
  snprintf(label, sizeof(label), "%s %s %s %zu", bench_profile_short(p), kind_name[kind],
           op == OP_PROTECT ? "prot" : "unprot", size);

  snprintf(name, sizeof(name), "%s.rtcsec", cell);
  bench_figure *f = bench_figure_get("srtp", name, label, "ns/packet",
                                     op == OP_PROTECT ? "rtcsec_transport_protect_*"
                                                      : "rtcsec_transport_handle_datagram",
                                     "libsrtp2 srtp_(un)protect(_rtcp)");
  bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, 1.05);
  bench_series_add(&f->val, ns[V_RTCSEC]);
  bench_series_add(&f->base, ns[V_LIBSRTP]);

  snprintf(name, sizeof(name), "%s.libsrtp2", cell);
  f = bench_figure_get("srtp-floor", name, label, "ns/packet", "libsrtp2 srtp_(un)protect(_rtcp)",
                       "EVP floor (evp_srtp.c)");
  /* Issue 6 targets for the OpenSSL-backed libsrtp2, at 1200 B. */
  if (size == 1200 && kind == K_RTP && p == RTCSEC_SRTP_AES128_CM_SHA1_80)
    bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, 1.25);
  if (size == 1200 && kind == K_RTP && p == RTCSEC_SRTP_AEAD_AES_128_GCM)
    bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, 1.10);
  bench_series_add(&f->val, ns[V_LIBSRTP]);
  bench_series_add(&f->base, ns[V_EVP]);
}

static double per_packet(int v, int fam) {
  return alloc_packets[v][fam] ? (double)allocs[v][fam] / (double)alloc_packets[v][fam] : 0;
}

/* malloc/calloc/realloc calls per packet in the timed loops. What rtcsec
 * adds itself is its count less libsrtp2's on the same packets: the
 * transport promises 0. */
static void record_allocs(void) {
  static const char *fam_name[2] = {"cm", "gcm"};
  static const char *fam_label[2] = {"AES-CM", "AES-GCM"};
  char name[96], label[64];
  for (int fam = 0; fam < 2; fam++) {
    snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.rtcsec", fam_name[fam]);
    snprintf(label, sizeof(label), "%s: rtcsec vs libsrtp2", fam_label[fam]);
    bench_figure *f = bench_figure_get("alloc", name, label, "calls/packet", "rtcsec transport",
                                       "libsrtp2 alone");
    bench_series_add(&f->val, per_packet(V_RTCSEC, fam));
    bench_series_add(&f->base, per_packet(V_LIBSRTP, fam));
    snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.rtcsec_own", fam_name[fam]);
    snprintf(label, sizeof(label), "%s: rtcsec's own", fam_label[fam]);
    f = bench_figure_get("alloc", name, label, "calls/packet", "rtcsec less libsrtp2", "");
    bench_figure_set_target(f, BENCH_TARGET_VALUE_MAX, 0);
    bench_series_add(&f->val, per_packet(V_RTCSEC, fam) - per_packet(V_LIBSRTP, fam));
    snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.evp", fam_name[fam]);
    snprintf(label, sizeof(label), "%s: EVP floor", fam_label[fam]);
    f = bench_figure_get("alloc", name, label, "calls/packet", "EVP floor", "");
    bench_series_add(&f->val, per_packet(V_EVP, fam));
  }
}

static int load_certs(rtcsec_cert *cert[2], rtcsec_fingerprint fp[2]) {
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(cert[i], RTCSEC_HASH_SHA256, &fp[i]) != RTCSEC_OK) {
      fprintf(stderr, "rtcsec-bench: certificate generation failed\n");
      return -1;
    }
  }
  return 0;
}

int bench_srtp_run(const bench_opts *o) {
  rtcsec_cert *cert[2] = {NULL, NULL};
  rtcsec_fingerprint fp[2];
  prof_ctx ctx[BENCH_N_PROFILES];
  batch b;
  int rc = -1;

  memset(ctx, 0, sizeof(ctx));
  b.n = o->quick ? 64 : 256;
  b.buf = malloc((size_t)MAX_BATCH * SLOT);
  int batches = o->quick ? 2 : 4;
  int reps = o->quick ? 1 : 3;
  if (b.buf == NULL || load_certs(cert, fp) != 0)
    goto out;
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    if (evp_srtp_selftest(bench_profiles[i]) != 0) {
      fprintf(stderr, "rtcsec-bench: EVP floor for %s does not match libsrtp2's output\n",
              rtcsec_srtp_profile_name(bench_profiles[i]));
      goto out;
    }
    if (prof_setup(&ctx[i], bench_profiles[i], cert, fp) != 0)
      goto out;
  }
  /* Warm-up: first packets create libsrtp2 streams and fill caches. */
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    for (int v = 0; ctx[i].ok && v < N_VARIANTS; v++) {
      for (int k = 0; k < 2; k++) {
        for (int op = 0; op < 2; op++) {
          if (sample(&ctx[i], v, op, k, 1200, &b, 1) < 0) {
            fprintf(stderr, "rtcsec-bench: %s %s %s %s failed\n", variant_name[v], kind_name[k],
                    op_name[op], bench_profile_short(ctx[i].profile));
            goto out;
          }
        }
      }
    }
  }
  for (int v = 0; v < N_VARIANTS; v++)
    allocs[v][0] = allocs[v][1] = alloc_packets[v][0] = alloc_packets[v][1] = 0;

  /* Runs outermost, so a burst of load from other processes hits one run
   * of many figures, not every run of one; within a cell the variants
   * alternate and each keeps its fastest of `reps` samples. */
  for (int run = 0; run < o->runs; run++) {
    for (int i = 0; i < BENCH_N_PROFILES; i++) {
      if (!ctx[i].ok)
        continue;
      for (int k = 0; k < 2; k++) {
        for (int si = 0; si < 2; si++) {
          for (int op = 0; op < 2; op++) {
            double best[N_VARIANTS] = {-1, -1, -1};
            for (int r = 0; r < reps; r++) {
              for (int j = 0; j < N_VARIANTS; j++) {
                int v = (j + r + run) % N_VARIANTS;
                double ns = sample(&ctx[i], v, op, k, sizes[si], &b, batches);
                if (ns < 0) {
                  fprintf(stderr, "rtcsec-bench: %s %s %s failed\n", variant_name[v], kind_name[k],
                          op_name[op]);
                  goto out;
                }
                if (best[v] < 0 || ns < best[v])
                  best[v] = ns;
              }
            }
            record(ctx[i].profile, k, op, sizes[si], best);
          }
        }
      }
    }
  }

  if (bench_alloc_counting())
    record_allocs();
  else
    bench_not_done("srtp.allocs_per_packet", "allocation counting is compiled out in "
                                             "sanitizer builds");
  rc = 0;
out:
  for (int i = 0; i < BENCH_N_PROFILES; i++)
    prof_free(&ctx[i]);
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(cert[i]);
  free(b.buf);
  return rc;
}

/* ---- instruction counts (run under callgrind by the parent) ------------------------- */

int bench_srtp_callgrind_child(const bench_opts *o) {
  rtcsec_cert *cert[2] = {NULL, NULL};
  rtcsec_fingerprint fp[2];
  prof_ctx ctx[BENCH_N_PROFILES];
  batch b;
  int rc = -1;

  memset(ctx, 0, sizeof(ctx));
  b.n = o->quick ? 32 : 128;
  b.buf = malloc((size_t)MAX_BATCH * SLOT);
  if (b.buf == NULL || load_certs(cert, fp) != 0)
    goto out;
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    if (prof_setup(&ctx[i], bench_profiles[i], cert, fp) != 0)
      goto out;
  }
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    for (int k = 0; ctx[i].ok && k < 2; k++) {
      for (int si = 0; si < 2; si++) {
        for (int op = 0; op < 2; op++) {
          for (int v = 0; v < N_VARIANTS; v++) {
            char cell[96], dump[160];
            /* warm-up batch (not counted), then the counted one */
            if (sample(&ctx[i], v, op, k, sizes[si], &b, 1) < 0 ||
                prepare(&ctx[i], v, op, k, sizes[si], &b) != 0)
              goto out;
            cell_name(cell, sizeof(cell), k, op, sizes[si], ctx[i].profile);
            snprintf(dump, sizeof(dump), "%s|%s|%zu", cell, variant_name[v], b.n);
            bench_cg_begin();
            uint64_t t = process(&ctx[i], v, op, k, &b);
            bench_cg_end(dump);
            if (t == UINT64_MAX)
              goto out;
          }
        }
      }
    }
  }
  rc = 0;
out:
  for (int i = 0; i < BENCH_N_PROFILES; i++)
    prof_free(&ctx[i]);
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(cert[i]);
  free(b.buf);
  return rc;
}
