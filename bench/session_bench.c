/* Figure 5: what a session costs as live sessions pile up (issue 13:
 * Debian's NSS-backed libsrtp2 slowed down with thousands of them). N
 * rtcsec_srtp objects (AEAD_AES_128_GCM, local and remote key alike, so
 * each object unprotects what it protects) are created one after the
 * other, then packets go round-robin through them, then they are freed:
 *   sessions.create.first1000 / last1000  us per rtcsec_srtp_new() for the
 *       first 1000 and the last 1000 (with N - 1000 alive): their ratio
 *       says whether creation slows down with live sessions;
 *   sessions.packet.1000 / all            ns per protect + unprotect of a
 *       160-byte RTP packet, round-robin over the first 1000 and over all
 *       N sessions, against the same round-robin over the first 100
 *       (baseline). No target: with every packet on another session, each
 *       one's state (libsrtp2's session, stream and replay window, the
 *       cipher's key schedule and GHASH table) comes from memory rather
 *       than cache once N sessions' state (about 7 KB each) outgrows the
 *       caches; that is a memory cost, not work that grows with N;
 *   sessions.free                         us per rtcsec_srtp_free().
 * All timed in thread CPU time. The same
 * figures with libsrtp2 on its own ciphers come from this program again
 * with --libsrtp-ciphers (.stock), with fewer sessions when N is large
 * (NSS takes minutes for 10 000). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PAYLOAD 160
#define ROUND_ROBIN_SMALL 100

static int one_pair(rtcsec_srtp *s, uint16_t seq) {
  uint8_t buf[256];
  size_t len = bench_make_rtp(buf, 0x5e55u, seq, PAYLOAD), out = 0;
  return rtcsec_srtp_protect_rtp(s, buf, len, sizeof(buf), &out) != RTCSEC_OK ||
         rtcsec_srtp_unprotect_rtp(s, buf, out, &out) != RTCSEC_OK || out != len;
}

/* ns (thread CPU) per protect + unprotect, `rounds` times over s[0..n). */
static double round_robin(rtcsec_srtp **s, size_t n, int rounds, uint16_t *seq) {
  uint64_t t0 = bench_cpu_ns();
  int bad = 0;
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < n; i++)
      bad |= one_pair(s[i], seq[i]++);
  }
  uint64_t t = bench_cpu_ns() - t0;
  return bad ? -1 : (double)t / ((double)rounds * (double)n);
}

static void add(const char *name, const char *label, const char *unit, const char *what,
                const char *base_name, double v, double base, double target) {
  bench_figure *f = bench_figure_get("sessions", name, label, unit, what, base_name);
  if (target > 0)
    bench_figure_set_target(f, BENCH_TARGET_RATIO_MAX, target);
  bench_series_add(&f->val, v);
  if (!isnan(base))
    bench_series_add(&f->base, base);
}

static void labels(char *buf, size_t cap, const char *name, size_t n) {
  if (strcmp(name, "sessions.create.last1000") == 0)
    snprintf(buf, cap, "create, last 1000 of %zu", n);
  else if (strcmp(name, "sessions.packet.1000") == 0)
    snprintf(buf, cap, "packet, round-robin 1000");
  else if (strcmp(name, "sessions.packet.all") == 0)
    snprintf(buf, cap, "packet, round-robin %zu", n);
  else
    snprintf(buf, cap, "free, %zu sessions", n);
}

static void stock_fig(const char *name, double value, double base, void *ctx) {
  size_t n = *(const size_t *)ctx;
  char out[128], label[64];
  const bench_figure *mine = NULL;
  for (size_t i = 0; i < bench_figure_count(); i++) {
    if (strcmp(bench_figure_at(i)->name, name) == 0)
      mine = bench_figure_at(i);
  }
  if (mine == NULL || strncmp(name, "sessions.", 9) != 0)
    return;
  snprintf(out, sizeof(out), "%s.stock", name);
  labels(label, sizeof(label), name, n);
  bench_figure *f =
      bench_figure_get("sessions-stock", out, label, mine->unit, mine->what, mine->baseline_name);
  bench_series_add(&f->val, value);
  if (!isnan(base))
    bench_series_add(&f->base, base);
}

static void free_all(rtcsec_srtp **s, uint16_t *seq, size_t n) {
  for (size_t i = 0; s != NULL && i < n; i++)
    rtcsec_srtp_free(s[i]);
  free(s);
  free(seq);
}

/* Creates n sessions, each with a key of its own (as after n handshakes);
 * the CPU time (ns) of each rtcsec_srtp_new() goes to t_first (the first
 * 1000) and t_last (the last 1000). Returns 0 or -1. */
static int create_all(rtcsec_srtp **s, size_t n, uint64_t *t_first, uint64_t *t_last) {
  rtcsec_srtp_keys k;
  memset(&k, 0, sizeof(k));
  k.profile = RTCSEC_SRTP_AEAD_AES_128_GCM;
  k.key_len = rtcsec_srtp_profile_key_len(k.profile);
  k.salt_len = rtcsec_srtp_profile_salt_len(k.profile);
  *t_first = *t_last = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < k.key_len; j++)
      k.local_key[j] = k.remote_key[j] = (uint8_t)(i * 31 + j * 7 + (i >> 8));
    memcpy(k.local_salt, k.local_key, k.salt_len);
    memcpy(k.remote_salt, k.local_key, k.salt_len);
    uint64_t t0 = bench_cpu_ns();
    if (rtcsec_srtp_new(&s[i], &k, NULL) != RTCSEC_OK) {
      fprintf(stderr, "rtcsec-bench: rtcsec_srtp_new failed at %zu live sessions\n", i);
      rtcsec_srtp_keys_wipe(&k);
      return -1;
    }
    uint64_t t = bench_cpu_ns() - t0;
    if (i < 1000)
      *t_first += t;
    if (i >= n - 1000)
      *t_last += t;
  }
  rtcsec_srtp_keys_wipe(&k);
  return 0;
}

/* --callgrind: instructions per packet round-robin over 100 and over all
 * N sessions; equal counts mean that the time difference is memory. */
int bench_session_callgrind_child(const bench_opts *o) {
  size_t n = o->live_sessions < 1100 ? 1100 : o->live_sessions;
  rtcsec_srtp **s = calloc(n, sizeof(*s));
  uint16_t *seq = calloc(n, sizeof(*seq));
  uint64_t t1, t2;
  int rc = -1;
  if (s == NULL || seq == NULL || create_all(s, n, &t1, &t2) != 0 || round_robin(s, n, 1, seq) < 0)
    goto out;
  const struct {
    const char *variant;
    size_t m;
  } rr[] = {{"100", ROUND_ROBIN_SMALL}, {"all", n}};
  for (int i = 0; i < 2; i++) {
    int rounds = rr[i].m >= 20000 ? 1 : (int)(20000 / rr[i].m);
    char dump[96];
    snprintf(dump, sizeof(dump), "sessions.packet|%s|%zu", rr[i].variant, (size_t)rounds * rr[i].m);
    bench_cg_begin();
    double ns = round_robin(s, rr[i].m, rounds, seq);
    bench_cg_end(dump);
    if (ns < 0)
      goto out;
  }
  rc = 0;
out:
  free_all(s, seq, n);
  return rc;
}

int bench_session_run(const bench_opts *o) {
  size_t n = o->live_sessions < 1100 ? 1100 : o->live_sessions;
  rtcsec_srtp **s = calloc(n, sizeof(*s));
  uint16_t *seq = calloc(n, sizeof(*seq));
  uint64_t t_first, t_last;
  int rc = -1;
  char label[64];

  if (s == NULL || seq == NULL || create_all(s, n, &t_first, &t_last) != 0)
    goto out;
  /* Warm-up (first packet of each session creates its libsrtp2 streams),
   * then the round-robins, about 20 000 packets each. */
  if (round_robin(s, n, 1, seq) < 0)
    goto out;
  double small = round_robin(s, ROUND_ROBIN_SMALL, 20000 / ROUND_ROBIN_SMALL, seq);
  double mid = round_robin(s, 1000, 20, seq);
  double all = round_robin(s, n, n >= 20000 ? 1 : (int)(20000 / n), seq);
  if (small < 0 || mid < 0 || all < 0)
    goto out;
  uint64_t t0 = bench_cpu_ns();
  for (size_t i = 0; i < n; i++) {
    rtcsec_srtp_free(s[i]);
    s[i] = NULL;
  }
  double t_free = (double)(bench_cpu_ns() - t0) / 1000.0 / (double)n;

  labels(label, sizeof(label), "sessions.create.last1000", n);
  add("sessions.create.last1000", label, "us/session", "rtcsec_srtp_new, N-1000 alive",
      "the first 1000", (double)t_last / 1e6, (double)t_first / 1e6, 1.2);
  add("sessions.packet.1000", "packet, round-robin 1000", "ns/packet",
      "protect + unprotect, over 1000", "over 100 sessions", mid, small, 0);
  labels(label, sizeof(label), "sessions.packet.all", n);
  add("sessions.packet.all", label, "ns/packet", "protect + unprotect, over all N",
      "over 100 sessions", all, small, 0);
  labels(label, sizeof(label), "sessions.free", n);
  add("sessions.free", label, "us/session", "rtcsec_srtp_free", "", t_free, NAN, 0);

  /* Both builds in the same run: libsrtp2 on its own ciphers, in another
   * process (the choice is process-wide), with at most 4000 sessions. */
  if (o->stock) {
    char live[24];
    size_t stock_n = n < 4000 ? n : 4000;
    snprintf(live, sizeof(live), "%zu", stock_n);
    const char *args[] = {
        "--libsrtp-ciphers", "--only", "sessions", "--live", live, "--runs", "1", NULL};
    if (bench_run_self(args, stock_fig, &stock_n) != 0)
      bench_not_done("sessions.stock", "the --libsrtp-ciphers child process failed (see above)");
  }
  rc = 0;
out:
  free_all(s, seq, n);
  return rc;
}
