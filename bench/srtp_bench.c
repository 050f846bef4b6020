/* Figure 1: SRTP protect and unprotect per packet, on the same work:
 *   rtcsec    rtcsec_transport_protect_rtp/rtcp, and for unprotect the
 *             whole receive path rtcsec_transport_handle_datagram (RFC 7983
 *             demux + bridge + libsrtp2), on a transport pair connected in
 *             memory by a real DTLS handshake;
 *   libsrtp2  srtp_protect / srtp_unprotect (and _rtcp) on sessions
 *             configured here exactly as the bridge configures its own
 *             (ssrc_any_*, window 1024, allow_repeat_tx); in this process
 *             libsrtp2 runs on rtcsec's cipher types, as rtcsec's own
 *             sessions do, unless --libsrtp-ciphers;
 *   EVP       the raw cipher floor (evp_srtp.c);
 * and, from other processes in the same run (one of each per run, after
 * this process's cells of that run):
 *   stock     libsrtp2 on its own implementations (NSS on Debian): this
 *             program again with --libsrtp-ciphers, the libsrtp2 variant;
 *   Pion      Pion's SRTP (bench/pion/main.go, built by bench/pion/build.sh)
 *             on the same packets and master keys.
 *
 * Each measurement processes batches of fresh packets: the plaintext (for
 * unprotect, the packets protected by that variant's own sender) is
 * prepared outside the timed loop, so every variant sees new, increasing
 * sequence numbers and SRTCP indexes, passes its replay check, and does the
 * same work. Only the loop over the batch is timed (thread CPU time). */
#include <math.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static const unsigned variant_bit[N_VARIANTS] = {BENCH_VARIANT_RTCSEC, BENCH_VARIANT_LIBSRTP,
                                                 BENCH_VARIANT_EVP};

/* The 32 cells: profile x kind x size x op. */
#define N_CELLS (BENCH_N_PROFILES * 2 * 2 * 2)
static int cell_index(int pi, int kind, int si, int op) {
  return ((pi * 2 + kind) * 2 + si) * 2 + op;
}

typedef struct prof_ctx {
  rtcsec_srtp_profile profile;
  int ok;
  bench_pair pair; /* t[0] protects, t[1] receives */
  srtp_t raw_tx, raw_rx;
  evp_srtp evp_tx, evp_rx;
  int have_evp;
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
                      const rtcsec_fingerprint fp[2], unsigned variants) {
  memset(c, 0, sizeof(*c));
  c->profile = p;
  if (!rtcsec_srtp_profile_supported(p)) {
    fprintf(stderr, "rtcsec-bench: %s not supported by this libsrtp2: skipped\n",
            rtcsec_srtp_profile_name(p));
    return 0;
  }
  if (variants & BENCH_VARIANT_RTCSEC) {
    int rc = bench_pair_connect(&c->pair, cert, fp, p);
    if (rc != RTCSEC_OK) {
      fprintf(stderr, "rtcsec-bench: transport pair (%s): %s\n", rtcsec_srtp_profile_name(p),
              rtcsec_strerror(rc));
      return -1;
    }
  }
  uint8_t master[46];
  size_t kl = rtcsec_srtp_profile_key_len(p);
  bench_master_key(p, master);
  if (((variants & BENCH_VARIANT_LIBSRTP) &&
       (raw_srtp_session(&c->raw_tx, p, master, master + kl, 1) != 0 ||
        raw_srtp_session(&c->raw_rx, p, master, master + kl, 0) != 0)) ||
      ((variants & BENCH_VARIANT_EVP) &&
       (evp_srtp_init(&c->evp_tx, p, master, master + kl) != 0 ||
        evp_srtp_init(&c->evp_rx, p, master, master + kl) != 0))) {
    fprintf(stderr, "rtcsec-bench: raw sessions (%s) failed\n", rtcsec_srtp_profile_name(p));
    return -1;
  }
  c->ok = 1;
  c->have_evp = (variants & BENCH_VARIANT_EVP) != 0;
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
  if (c->have_evp) {
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
    uint64_t now = tool_now_us();
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

static void cell_label(char *buf, size_t cap, int kind, int op, size_t size,
                       rtcsec_srtp_profile p) {
  snprintf(buf, cap, "%s %s %s %zu", bench_profile_short(p), kind_name[kind],
           op == OP_PROTECT ? "prot" : "unprot", size);
}

/* The cell of a figure name "srtp.<kind>.<op>.<size>.<profile>.<suffix>",
 * or -1. */
static int cell_of(const char *name, const char *suffix) {
  for (int pi = 0; pi < BENCH_N_PROFILES; pi++) {
    for (int k = 0; k < 2; k++) {
      for (int si = 0; si < 2; si++) {
        for (int op = 0; op < 2; op++) {
          char cell[96], full[128];
          cell_name(cell, sizeof(cell), k, op, sizes[si], bench_profiles[pi]);
          snprintf(full, sizeof(full), "%s%s%s", cell, suffix[0] ? "." : "", suffix);
          if (strcmp(full, name) == 0)
            return cell_index(pi, k, si, op);
        }
      }
    }
  }
  return -1;
}

static void label_of_cell(char *buf, size_t cap, int c) {
  cell_label(buf, cap, (c / 4) % 2, c % 2, sizes[(c / 2) % 2], bench_profiles[c / 8]);
}

/* This run's values of every cell (ns/packet, NAN if not measured), for the
 * figures made with the other processes' values. */
static double cur[N_CELLS][N_VARIANTS];

/* One run's value (and baseline, unless NAN) of figure <cell>.<suffix>;
 * target: the largest ratio that meets it, 0 for none. */
static void add_cell(const char *group, const char *cell, const char *suffix, const char *label,
                     const char *what, const char *base_name, double v, double base,
                     double target) {
  char name[128];
  snprintf(name, sizeof(name), "%s.%s", cell, suffix);
  bench_figure *f = bench_figure_get(group, name, label, "ns/packet", what, base_name);
  if (target > 0)
    bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, target);
  bench_series_add(&f->val, v);
  if (!isnan(base))
    bench_series_add(&f->base, base);
}

static void record(int pi, int kind, int si, int op, const double ns[N_VARIANTS]) {
  char cell[96], label[64];
  rtcsec_srtp_profile p = bench_profiles[pi];
  size_t size = sizes[si];
  int have[N_VARIANTS];
  cell_name(cell, sizeof(cell), kind, op, size, p);
  cell_label(label, sizeof(label), kind, op, size, p);
  for (int v = 0; v < N_VARIANTS; v++) {
    have[v] = ns[v] >= 0;
    cur[cell_index(pi, kind, si, op)][v] = have[v] ? ns[v] : NAN;
  }
  const char *rtcsec_what =
      op == OP_PROTECT ? "rtcsec_transport_protect_*" : "rtcsec_transport_handle_datagram";

  if (have[V_RTCSEC] && have[V_LIBSRTP])
    add_cell("srtp", cell, "rtcsec", label, rtcsec_what, "libsrtp2 srtp_(un)protect(_rtcp)",
             ns[V_RTCSEC], ns[V_LIBSRTP], 1.05);
  if (have[V_LIBSRTP])
    add_cell("srtp-floor", cell, "libsrtp2", label, "libsrtp2 srtp_(un)protect(_rtcp)",
             have[V_EVP] ? "EVP floor (evp_srtp.c)" : "", ns[V_LIBSRTP],
             have[V_EVP] ? ns[V_EVP] : NAN, 0);
  /* Issue 13: the whole rtcsec path within 1.10x the EVP floor, AES-CM and
   * AES-GCM (one EVP GCM call sequence per packet), 160 and 1200 B. */
  if (have[V_RTCSEC] && have[V_EVP])
    add_cell("srtp-target", cell, "rtcsec_evp", label, rtcsec_what, "EVP floor (evp_srtp.c)",
             ns[V_RTCSEC], ns[V_EVP], 1.10);
}

static double per_packet(int v, int fam) {
  return alloc_packets[v][fam] ? (double)allocs[v][fam] / (double)alloc_packets[v][fam] : 0;
}

static const char *fam_name[2] = {"cm", "gcm"};
static const char *fam_label[2] = {"AES-CM", "AES-GCM"};

/* malloc/calloc/realloc calls per packet in the timed loops. The transport
 * promises none of its own; with rtcsec's cipher types libsrtp2 makes none
 * either, so the whole path is held to 0. */
static void record_allocs(unsigned variants) {
  char name[96], label[64];
  for (int fam = 0; fam < 2; fam++) {
    if (variants & BENCH_VARIANT_RTCSEC) {
      snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.rtcsec", fam_name[fam]);
      snprintf(label, sizeof(label), "%s: rtcsec (whole path)", fam_label[fam]);
      bench_figure *f =
          bench_figure_get("alloc", name, label, "calls/packet", "rtcsec transport",
                           (variants & BENCH_VARIANT_LIBSRTP) ? "libsrtp2 alone" : "");
      bench_figure_set_target(f, BENCH_TARGET_VALUE_MAX, 0);
      bench_series_add(&f->val, per_packet(V_RTCSEC, fam));
      if (variants & BENCH_VARIANT_LIBSRTP)
        bench_series_add(&f->base, per_packet(V_LIBSRTP, fam));
    }
    if ((variants & BENCH_VARIANT_RTCSEC) && (variants & BENCH_VARIANT_LIBSRTP)) {
      snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.rtcsec_own", fam_name[fam]);
      snprintf(label, sizeof(label), "%s: rtcsec's own", fam_label[fam]);
      bench_figure *f =
          bench_figure_get("alloc", name, label, "calls/packet", "rtcsec less libsrtp2", "");
      bench_figure_set_target(f, BENCH_TARGET_VALUE_MAX, 0);
      bench_series_add(&f->val, per_packet(V_RTCSEC, fam) - per_packet(V_LIBSRTP, fam));
    }
    if (variants & BENCH_VARIANT_LIBSRTP) {
      snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.libsrtp2", fam_name[fam]);
      snprintf(label, sizeof(label), "%s: libsrtp2 alone", fam_label[fam]);
      bench_figure *f = bench_figure_get("alloc", name, label, "calls/packet", "libsrtp2", "");
      bench_series_add(&f->val, per_packet(V_LIBSRTP, fam));
    }
    if (variants & BENCH_VARIANT_EVP) {
      snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.evp", fam_name[fam]);
      snprintf(label, sizeof(label), "%s: EVP floor", fam_label[fam]);
      bench_figure *f = bench_figure_get("alloc", name, label, "calls/packet", "EVP floor", "");
      bench_series_add(&f->val, per_packet(V_EVP, fam));
    }
  }
}

/* ---- the stock libsrtp2 child ------------------------------------------------------- */

static void stock_fig(const char *name, double value, double base, void *ctx) {
  (void)base;
  (void)ctx;
  char out[128], label[96];
  int c = cell_of(name, "libsrtp2");
  if (c >= 0) {
    /* <cell>.stock: stock libsrtp2 against this run's EVP floor */
    snprintf(out, sizeof(out), "%.*s.stock", (int)(strlen(name) - strlen(".libsrtp2")), name);
    label_of_cell(label, sizeof(label), c);
    bench_figure *f =
        bench_figure_get("srtp-stock", out, label, "ns/packet",
                         "libsrtp2 on its own ciphers (--libsrtp-ciphers child)", "EVP floor");
    bench_series_add(&f->val, value);
    if (!isnan(cur[c][V_EVP]))
      bench_series_add(&f->base, cur[c][V_EVP]);
    return;
  }
  for (int fam = 0; fam < 2; fam++) {
    char want[96];
    snprintf(want, sizeof(want), "srtp.allocs_per_packet.%s.libsrtp2", fam_name[fam]);
    if (strcmp(name, want) != 0)
      continue;
    snprintf(out, sizeof(out), "srtp.allocs_per_packet.%s.stock", fam_name[fam]);
    snprintf(label, sizeof(label), "%s: stock libsrtp2", fam_label[fam]);
    bench_figure *f =
        bench_figure_get("alloc", out, label, "calls/packet", "libsrtp2 on its own ciphers", "");
    bench_series_add(&f->val, value);
  }
}

/* One run of the libsrtp2 variant in a process that keeps libsrtp2's own
 * implementations (the replacement is process-wide). */
static int run_stock(const bench_opts *o) {
  const char *args[] = {
      "--libsrtp-ciphers",         "--only", "srtp", "--srtp-variants", "libsrtp2", "--runs", "1",
      o->quick ? "--quick" : NULL, NULL};
  return bench_run_self(args, stock_fig, NULL);
}

/* ---- Pion -------------------------------------------------------------------------------- */

static double pion_allocs[2], pion_cells[2];

static void pion_line(char *text, void *ctx) {
  (void)ctx;
  char tag[8], name[96];
  double ns, a;
  if (sscanf(text, "%7s %95s %lf %lf", tag, name, &ns, &a) != 4 || strcmp(tag, "pion") != 0)
    return;
  int c = cell_of(name, "");
  if (c < 0 || ns <= 0)
    return;
  char out[128], label[64];
  label_of_cell(label, sizeof(label), c);
  snprintf(out, sizeof(out), "%s.pion", name);
  /* rtcsec / Pion per cell: rtcsec faster than Pion means a ratio below 1. */
  bench_figure *f =
      bench_figure_get("srtp-pion", out, label, "ns/packet", "rtcsec (transport path)",
                       "Pion srtp/v2 (Go, rtcsec-pion-bench)");
  bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, 1.0);
  if (!isnan(cur[c][V_RTCSEC]))
    bench_series_add(&f->val, cur[c][V_RTCSEC]);
  bench_series_add(&f->base, ns);
  int fam = strstr(name, ".gcm") != NULL;
  pion_allocs[fam] += a;
  pion_cells[fam] += 1;
}

static int run_pion(const bench_opts *o, int batch_n, int batches, int reps) {
  char keys[512] = "", bn[16], bs[16], rp[16];
  size_t used = 0;
  /* Pion 2.0.12 (Debian 12) has no AEAD_AES_256_GCM. */
  for (int i = 0; i < 3; i++) {
    uint8_t m[46];
    rtcsec_srtp_profile p = bench_profiles[i];
    size_t kl = rtcsec_srtp_profile_key_len(p), sl = rtcsec_srtp_profile_salt_len(p);
    bench_master_key(p, m);
    used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s=", i ? "," : "",
                             bench_profile_short(p));
    for (size_t j = 0; j < kl + sl; j++) {
      used +=
          (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%02x", j == kl ? ":" : "", m[j]);
    }
  }
  snprintf(bn, sizeof(bn), "%d", batch_n);
  snprintf(bs, sizeof(bs), "%d", batches);
  snprintf(rp, sizeof(rp), "%d", reps);
  char *argv[] = {(char *)o->pion, "-runs", "1",     "-batch", bn,  "-batches", bs,
                  "-reps",         rp,      "-keys", keys,     NULL};
  return bench_run_child(argv, pion_line, NULL);
}

static void record_pion_allocs(void) {
  for (int fam = 0; fam < 2; fam++) {
    char name[96], label[64];
    if (pion_cells[fam] == 0)
      continue;
    snprintf(name, sizeof(name), "srtp.allocs_per_packet.%s.pion", fam_name[fam]);
    snprintf(label, sizeof(label), "%s: Pion (Go mallocs)", fam_label[fam]);
    bench_figure *f =
        bench_figure_get("alloc", name, label, "calls/packet", "Pion runtime.MemStats.Mallocs", "");
    bench_series_add(&f->val, pion_allocs[fam] / pion_cells[fam]);
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
  int rc = -1, stock = o->stock, pion = o->pion != NULL;
  unsigned want = o->srtp_variants;

  memset(ctx, 0, sizeof(ctx));
  b.n = o->quick ? 64 : 256;
  b.buf = malloc((size_t)MAX_BATCH * SLOT);
  int batches = o->quick ? 2 : 4;
  int reps = o->quick ? 1 : 3;
  if (b.buf == NULL || ((want & BENCH_VARIANT_RTCSEC) && load_certs(cert, fp) != 0))
    goto out;
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    /* Byte for byte what libsrtp2 (on whichever implementation this
     * process runs) produces. */
    if ((want & BENCH_VARIANT_EVP) && evp_srtp_selftest(bench_profiles[i]) != 0) {
      fprintf(stderr, "rtcsec-bench: EVP floor for %s does not match libsrtp2's output\n",
              rtcsec_srtp_profile_name(bench_profiles[i]));
      goto out;
    }
    if (prof_setup(&ctx[i], bench_profiles[i], cert, fp, want) != 0)
      goto out;
  }
  /* Warm-up: first packets create libsrtp2 streams and fill caches. */
  for (int i = 0; i < BENCH_N_PROFILES; i++) {
    for (int v = 0; ctx[i].ok && v < N_VARIANTS; v++) {
      for (int k = 0; (want & variant_bit[v]) && k < 2; k++) {
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
   * alternate and each keeps its fastest of `reps` samples. The stock and
   * Pion processes run between this process's runs. */
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
                if (!(want & variant_bit[v]))
                  continue;
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
            record(i, k, si, op, best);
          }
        }
      }
    }
    if (stock && run_stock(o) != 0) {
      bench_not_done("srtp.stock", "the --libsrtp-ciphers child process failed (see above)");
      stock = 0;
    }
    if (pion && run_pion(o, (int)b.n, batches, reps) != 0) {
      bench_not_done("srtp.pion", "rtcsec-pion-bench failed (see above)");
      pion = 0;
    }
  }
  if (o->pion != NULL)
    bench_not_done("srtp.pion.gcm256", "Pion's srtp/v2 2.0.12 (Debian 12) has no "
                                       "AEAD_AES_256_GCM");

  if (bench_alloc_counting()) {
    record_allocs(want);
    record_pion_allocs();
  } else {
    bench_not_done("srtp.allocs_per_packet", "allocation counting is compiled out in "
                                             "sanitizer builds");
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
    if (prof_setup(&ctx[i], bench_profiles[i], cert, fp, BENCH_VARIANT_ALL) != 0)
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
