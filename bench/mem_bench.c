/* Figure 3: memory per established session. N pairs are connected in
 * memory, one SRTP packet is sent each way (so libsrtp2 has made its
 * per-SSRC streams), and the heap in use (mallinfo2: uordblks + hblkhd) is
 * read before, with all pairs up, and after all clients are freed:
 *   server side per session = (after clients freed - before) / N
 *   client side per session = (all up - after clients freed) / N
 * The certificates (and so rtcsec's cached SSL_CTX) exist before the first
 * reading: they are per endpoint, not per session. The baseline is the
 * same done with bare OpenSSL SSL objects (raw_dtls.c, same options) and
 * the four libsrtp2 sessions a pair needs. RSS (VmRSS, after malloc_trim)
 * is reported alongside. After everything is freed the heap
 * must be back where it started (a leak shows as a nonzero "left" figure). */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "raw_dtls.h"

static double heap_in_use(void) {
  struct mallinfo2 mi = mallinfo2();
  return (double)(mi.uordblks + mi.hblkhd);
}

static double rss_bytes(void) {
  malloc_trim(0);
  long kib = tool_rss_kib(); /* VmRSS: the same pages as statm's resident */
  return kib > 0 ? (double)kib * 1024.0 : 0;
}

typedef struct mem_result {
  double server, client, rss_server, rss_client, left;
} mem_result;

/* One RTP packet from each side to the other through the transports. */
static int rtcsec_media(bench_pair *p) {
  uint8_t buf[256];
  for (int i = 0; i < 2; i++) {
    size_t len = bench_make_rtp(buf, 0x1000u + (uint32_t)i, 1, 160), out = 0;
    rtcsec_transport_input in;
    if (rtcsec_transport_protect_rtp(p->t[i], buf, len, sizeof(buf), &out, tool_now_us()) !=
            RTCSEC_OK ||
        rtcsec_transport_handle_datagram(p->t[1 - i], buf, out, tool_now_us(), &in) != RTCSEC_OK)
      return -1;
  }
  return 0;
}

static int measure_rtcsec(rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2], size_t n,
                          mem_result *r) {
  bench_pair *pairs = calloc(n, sizeof(*pairs));
  bench_pair warm;
  int rc = -1;
  if (pairs == NULL)
    return -1;
  /* One-time costs (library init, the certificates' SSL_CTX) before the
   * first reading. */
  if (bench_pair_connect(&warm, cert, fp, RTCSEC_SRTP_NONE) != RTCSEC_OK || rtcsec_media(&warm))
    goto out;
  bench_pair_free(&warm);
  double h0 = heap_in_use(), r0 = rss_bytes();
  for (size_t i = 0; i < n; i++) {
    if (bench_pair_connect(&pairs[i], cert, fp, RTCSEC_SRTP_NONE) != RTCSEC_OK ||
        rtcsec_media(&pairs[i]) != 0)
      goto out;
  }
  double h1 = heap_in_use(), r1 = rss_bytes();
  for (size_t i = 0; i < n; i++) {
    rtcsec_transport_free(pairs[i].t[0]);
    pairs[i].t[0] = NULL;
  }
  double h2 = heap_in_use(), r2 = rss_bytes();
  r->server = (h2 - h0) / (double)n;
  r->client = (h1 - h2) / (double)n;
  r->rss_server = (r2 - r0) / (double)n;
  r->rss_client = (r1 - r2) / (double)n;
  for (size_t i = 0; i < n; i++)
    bench_pair_free(&pairs[i]);
  r->left = heap_in_use() - h0;
  rc = 0;
out:
  for (size_t i = 0; i < n; i++)
    bench_pair_free(&pairs[i]);
  free(pairs);
  return rc;
}

static int measure_raw(raw_dtls_ctx *ctx, size_t n, int with_srtp, mem_result *r) {
  raw_dtls_pair *pairs = calloc(n, sizeof(*pairs));
  raw_dtls_pair warm;
  int rc = -1;
  if (pairs == NULL)
    return -1;
  if (raw_dtls_connect(ctx, &warm, with_srtp) != 0 || (with_srtp && raw_dtls_media(&warm) != 0))
    goto out;
  raw_dtls_pair_free(&warm);
  double h0 = heap_in_use(), r0 = rss_bytes();
  for (size_t i = 0; i < n; i++) {
    if (raw_dtls_connect(ctx, &pairs[i], with_srtp) != 0 ||
        (with_srtp && raw_dtls_media(&pairs[i]) != 0))
      goto out;
  }
  double h1 = heap_in_use(), r1 = rss_bytes();
  for (size_t i = 0; i < n; i++) {
    SSL_free(pairs[i].ssl[0]);
    if (with_srtp) {
      srtp_dealloc(pairs[i].srtp_out[0]);
      srtp_dealloc(pairs[i].srtp_in[0]);
    }
    pairs[i].ssl[0] = NULL;
    pairs[i].srtp_out[0] = pairs[i].srtp_in[0] = NULL;
  }
  double h2 = heap_in_use(), r2 = rss_bytes();
  r->server = (h2 - h0) / (double)n;
  r->client = (h1 - h2) / (double)n;
  r->rss_server = (r2 - r0) / (double)n;
  r->rss_client = (r1 - r2) / (double)n;
  for (size_t i = 0; i < n; i++)
    raw_dtls_pair_free(&pairs[i]);
  r->left = heap_in_use() - h0;
  rc = 0;
out:
  for (size_t i = 0; i < n; i++)
    raw_dtls_pair_free(&pairs[i]);
  free(pairs);
  return rc;
}

/* The libsrtp2 part alone: per endpoint an outbound and an inbound session
 * of the profile rtcsec negotiates by default, each with the stream its
 * first packet creates. */
static int measure_srtp(rtcsec_srtp_profile prof, size_t n, double *per_session) {
  srtp_t *s = calloc(2 * n, sizeof(*s));
  uint8_t key[RTCSEC_SRTP_MAX_KEY_LEN] = {1}, salt[RTCSEC_SRTP_MAX_SALT_LEN] = {2};
  uint8_t buf[256];
  int rc = -1;
  if (s == NULL)
    return -1;
  double h0 = heap_in_use();
  for (size_t i = 0; i < n; i++) {
    int len = (int)bench_make_rtp(buf, 0x1000u, 1, 160);
    if (raw_srtp_session(&s[2 * i], prof, key, salt, 1) != 0 ||
        raw_srtp_session(&s[2 * i + 1], prof, key, salt, 0) != 0 ||
        srtp_protect(s[2 * i], buf, &len) != srtp_err_status_ok ||
        srtp_unprotect(s[2 * i + 1], buf, &len) != srtp_err_status_ok)
      goto out;
  }
  *per_session = (heap_in_use() - h0) / (double)n;
  rc = 0;
out:
  for (size_t i = 0; i < 2 * n; i++) {
    if (s[i] != NULL)
      srtp_dealloc(s[i]);
  }
  free(s);
  return rc;
}

/* The figures of the same measurement in a process that keeps libsrtp2's
 * own cipher implementations (NSS on Debian): <name>.stock. */
static void stock_mem_fig(const char *name, double value, double base, void *ctx) {
  (void)ctx;
  char out[160], label[80];
  if (strncmp(name, "mem.", 4) != 0)
    return;
  const bench_figure *mine = NULL;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    if (strcmp(bench_figure_at(i)->name, name) == 0)
      mine = bench_figure_at(i);
  }
  snprintf(out, sizeof(out), "%s.stock", name);
  snprintf(label, sizeof(label), "%s", mine ? mine->label : name + 4);
  bench_figure *f = bench_figure_get("mem-stock", out, label, mine ? mine->unit : "bytes/session",
                                     mine ? mine->what : "", mine ? mine->baseline_name : "");
  bench_series_add(&f->val, value);
  if (!isnan(base))
    bench_series_add(&f->base, base);
}

int bench_mem_run(const bench_opts *o) {
  rtcsec_cert *cert[2] = {NULL, NULL};
  rtcsec_fingerprint fp[2];
  raw_dtls_ctx raw, raw_msf;
  int rc = -1, have_raw = 0, have_rel = 0;
  size_t n = o->mem_sessions;
  int runs = o->runs < 3 ? o->runs : 3; /* the figures hardly vary */

  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(cert[i], RTCSEC_HASH_SHA256, &fp[i]) != RTCSEC_OK)
      goto out;
  }
  if (raw_dtls_ctx_init(&raw, cert, "X25519:P-256:P-384", 0) != 0)
    goto out;
  have_raw = 1;
  /* The MTU as the largest record this side writes (rtcsec never writes a
   * record larger than one datagram of the MTU anyway). */
  if (raw_dtls_ctx_init(&raw_msf, cert, "X25519:P-256:P-384", 1200) != 0)
    goto out;
  have_rel = 1;

  char label[64];
  snprintf(label, sizeof(label), "%zu sessions", n);
  for (int run = 0; run < runs; run++) {
    mem_result a, b, c, d;
    double srtp_only = 0;
    rtcsec_srtp_profile prof = rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_128_GCM)
                                   ? RTCSEC_SRTP_AEAD_AES_128_GCM
                                   : RTCSEC_SRTP_AES128_CM_SHA1_80;
    if (measure_rtcsec(cert, fp, n, &a) != 0 || measure_raw(&raw, n, 1, &b) != 0 ||
        measure_raw(&raw_msf, n, 1, &c) != 0 || measure_raw(&raw, n, 0, &d) != 0 ||
        measure_srtp(prof, n, &srtp_only) != 0) {
      fprintf(stderr, "rtcsec-bench: memory run failed\n");
      goto out;
    }
    bench_figure *f = bench_figure_get(
        "mem", "mem.session.server.rtcsec_transport", "server session (heap)", "bytes/session",
        "rtcsec_transport, established", "SSL + 2 libsrtp2 sessions (raw)");
    bench_figure_set_target(f, BENCH_TARGET_VALUE_MAX, 65536);
    bench_series_add(&f->val, a.server);
    bench_series_add(&f->base, b.server);
    f = bench_figure_get("mem", "mem.session.client.rtcsec_transport", "client session (heap)",
                         "bytes/session", "rtcsec_transport, established",
                         "SSL + 2 libsrtp2 sessions (raw)");
    bench_figure_set_target(f, BENCH_TARGET_VALUE_MAX, 65536);
    bench_series_add(&f->val, a.client);
    bench_series_add(&f->base, b.client);
    f = bench_figure_get("mem", "mem.session.server.rss.rtcsec_transport", "server session (RSS)",
                         "bytes/session", "rtcsec_transport, RSS", "raw, RSS");
    bench_series_add(&f->val, a.rss_server);
    bench_series_add(&f->base, b.rss_server);
    f = bench_figure_get("mem", "mem.session.server.raw_max_send_fragment",
                         "raw, max_send_fragment 1200", "bytes/session",
                         "raw + SSL_CTX_set_max_send_fragment(1200)", "raw (as rtcsec: 16384)");
    bench_series_add(&f->val, c.server);
    bench_series_add(&f->base, b.server);
    /* Where the baseline goes: the SSL object alone, libsrtp2 alone. */
    f = bench_figure_get("mem", "mem.session.server.raw_ssl_only", "  of which: SSL only",
                         "bytes/session", "raw SSL, established, keys exported", "");
    bench_series_add(&f->val, d.server);
    f = bench_figure_get("mem", "mem.session.libsrtp2_only", "  of which: libsrtp2 only",
                         "bytes/session", "2 libsrtp2 sessions + streams", "");
    bench_series_add(&f->val, srtp_only);
    f = bench_figure_get("mem", "mem.left_after_free.rtcsec_transport", "heap left after free",
                         "bytes/session", "rtcsec, all sessions freed", "raw, all sessions freed");
    bench_series_add(&f->val, a.left / (double)n);
    bench_series_add(&f->base, b.left / (double)n);
  }
  /* Both builds' memory in the same run: libsrtp2 on its own ciphers, in
   * another process since the choice is process-wide. */
  if (o->stock) {
    char nruns[16], nsess[24];
    snprintf(nruns, sizeof(nruns), "%d", runs);
    snprintf(nsess, sizeof(nsess), "%zu", n);
    const char *args[] = {"--libsrtp-ciphers", "--only", "mem", "--runs", nruns,
                          "--sessions",        nsess,    NULL};
    if (bench_run_self(args, stock_mem_fig, NULL) != 0)
      bench_not_done("mem.stock", "the --libsrtp-ciphers child process failed (see above)");
  }
  rc = 0;
out:
  if (have_raw)
    raw_dtls_ctx_free(&raw);
  if (have_rel)
    raw_dtls_ctx_free(&raw_msf);
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(cert[i]);
  return rc;
}
