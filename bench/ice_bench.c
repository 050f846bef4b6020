/* Figure 4: time from ICE connected to DTLS connected to first media, over
 * loopback, through librtcsec-ice (libnice). Built only when ice/ is.
 *
 * Each call is a fresh pair of agents on 127.0.0.1, set up the way a
 * browser call is: the offerer is ICE-controlling and DTLS server
 * (a=setup:actpass answered with active), the answerer controlled and DTLS
 * client; candidates trickle to the peer as they are found. Both agents
 * share one GMainContext that this thread iterates, so the figure is the
 * latency of the protocol and the stack, not of thread hand-offs. The DTLS
 * client sends one RTP packet the moment its DTLS is connected. From the
 * agents' own statistics (rtcsec_ice_stats, monotonic clock):
 *   ICE -> DTLS    client's ICE connected -> client's DTLS connected (the
 *                  client is the last side to be connected)
 *   DTLS -> media  client's DTLS connected -> first media at the server
 *   retransmissions  DTLS flights retransmitted, both sides
 * The baseline of ICE -> DTLS is the wall time of the same handshake in
 * memory (two rtcsec_dtls, no sockets), measured in the same run. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "rtcsec/ice.h"

typedef struct ice_peer {
  rtcsec_ice_agent *a;
  struct ice_peer *other;
  int is_dtls_client;
  int dtls_connected, dtls_failed, media, sent, errors;
} ice_peer;

static void on_event(void *user, const rtcsec_event *ev) {
  ice_peer *p = user;
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    if (rtcsec_ice_add_remote_candidate(p->other->a, ev->candidate) != RTCSEC_OK)
      p->errors++;
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    (void)rtcsec_ice_remote_end_of_candidates(p->other->a);
    break;
  case RTCSEC_EVENT_CONNECTED:
    p->dtls_connected = 1;
    if (p->is_dtls_client && !p->sent) {
      uint8_t buf[1500];
      size_t len = bench_make_rtp(buf, 0x1ce1ce, 1, 160);
      if (rtcsec_ice_send_rtp(p->a, buf, len, sizeof(buf)) != RTCSEC_OK)
        p->errors++;
      p->sent = 1;
    }
    break;
  case RTCSEC_EVENT_FAILED:
    p->dtls_failed = 1;
    break;
  default:
    break;
  }
}

static void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len) {
  (void)buf;
  (void)len;
  ice_peer *p = user;
  if (kind == RTCSEC_PKT_RTP)
    p->media++;
}

typedef struct call_result {
  double ice_ms, ice_to_dtls_ms, dtls_to_media_ms, ice_to_media_ms;
  double retransmissions;
} call_result;

static int one_call(GMainContext *ctx, rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2],
                    call_result *r) {
  ice_peer p[2];
  memset(p, 0, sizeof(p));
  int rc = -1;
  for (int i = 0; i < 2; i++) {
    rtcsec_ice_config cfg;
    rtcsec_ice_config_default(&cfg);
    /* [0] offerer: controlling, DTLS server; [1] answerer: controlled,
     * DTLS client. */
    cfg.role = i == 0 ? RTCSEC_ICE_CONTROLLING : RTCSEC_ICE_CONTROLLED;
    cfg.local_addresses[0] = "127.0.0.1";
    cfg.n_local_addresses = 1;
    cfg.context = (rtcsec_gmain_context *)ctx;
    cfg.transport.dtls.cert = cert[i];
    cfg.transport.dtls.role = i == 0 ? RTCSEC_DTLS_SERVER : RTCSEC_DTLS_CLIENT;
    cfg.transport.dtls.peer_fingerprints = &fp[1 - i];
    cfg.transport.dtls.n_peer_fingerprints = 1;
    cfg.on_event = on_event;
    cfg.on_media = on_media;
    cfg.user = &p[i];
    p[i].other = &p[1 - i];
    p[i].is_dtls_client = i == 1;
    if (rtcsec_ice_agent_new(&p[i].a, &cfg) != RTCSEC_OK)
      goto out;
  }
  for (int i = 0; i < 2; i++) {
    char ufrag[257], pwd[257];
    if (rtcsec_ice_get_local_credentials(p[i].a, ufrag, sizeof(ufrag), pwd, sizeof(pwd)) !=
            RTCSEC_OK ||
        rtcsec_ice_set_remote_credentials(p[1 - i].a, ufrag, pwd) != RTCSEC_OK)
      goto out;
  }
  if (rtcsec_ice_gather(p[0].a) != RTCSEC_OK || rtcsec_ice_gather(p[1].a) != RTCSEC_OK)
    goto out;
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (p[0].media == 0 && !p[0].dtls_failed && !p[1].dtls_failed && p[0].errors == 0 &&
         p[1].errors == 0 && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(50); /* nothing ready: a short nap rather than a blocking wait */
  }
  if (p[0].media == 0) {
    fprintf(stderr,
            "rtcsec-bench: ICE call did not deliver media (dtls failed %d/%d, errors "
            "%d/%d)\n",
            p[0].dtls_failed, p[1].dtls_failed, p[0].errors, p[1].errors);
    goto out;
  }
  rtcsec_ice_stats s[2];
  if (rtcsec_ice_get_stats(p[0].a, &s[0]) != RTCSEC_OK ||
      rtcsec_ice_get_stats(p[1].a, &s[1]) != RTCSEC_OK)
    goto out;
  /* Absolute times on the monotonic clock (each agent counts from its own
   * creation). */
  double srv_media = (double)(s[0].start_us + s[0].first_media_us);
  double cli_ice = (double)(s[1].start_us + s[1].ice_connected_us);
  double cli_dtls = (double)(s[1].start_us + s[1].dtls_connected_us);
  double start = (double)s[0].start_us;
  r->ice_ms = (cli_ice - start) / 1000.0;
  r->ice_to_dtls_ms = (cli_dtls - cli_ice) / 1000.0;
  r->dtls_to_media_ms = (srv_media - cli_dtls) / 1000.0;
  r->ice_to_media_ms = (srv_media - cli_ice) / 1000.0;
  r->retransmissions =
      (double)(s[0].transport.dtls.retransmissions + s[1].transport.dtls.retransmissions);
  rc = 0;
out:
  for (int i = 0; i < 2; i++)
    rtcsec_ice_agent_free(p[i].a);
  /* Let sources the agents detached finish on the context. */
  while (g_main_context_iteration(ctx, FALSE)) {
  }
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double p99(const double *v, int n) {
  double *t = malloc((size_t)n * sizeof(double));
  if (t == NULL)
    return 0;
  memcpy(t, v, (size_t)n * sizeof(double));
  qsort(t, (size_t)n, sizeof(double), cmp_double);
  int k = (99 * n + 99) / 100 - 1; /* nearest rank */
  double r = t[k < 0 ? 0 : k];
  free(t);
  return r;
}

int bench_ice_run(const bench_opts *o) {
  rtcsec_cert *cert[2] = {NULL, NULL};
  rtcsec_fingerprint fp[2];
  int n = o->quick ? 10 : 100;
  int rc = -1;
  double *v[5];
  for (int k = 0; k < 5; k++)
    v[k] = calloc((size_t)n, sizeof(double));
  GMainContext *ctx = g_main_context_new();
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&cert[i], NULL) != RTCSEC_OK ||
        rtcsec_cert_fingerprint(cert[i], RTCSEC_HASH_SHA256, &fp[i]) != RTCSEC_OK)
      goto out;
  }
  for (int k = 0; k < 5; k++) {
    if (v[k] == NULL)
      goto out;
  }
  call_result warm;
  if (one_call(ctx, cert, fp, &warm) != 0)
    goto out;
  bench_figure *f[6];
  f[0] = bench_figure_get("ice", "ice.connected_to_dtls.median", "ICE -> DTLS (median)", "ms",
                          "over loopback (libnice)", "in-memory handshake, wall");
  f[1] = bench_figure_get("ice", "ice.dtls_to_first_media.median", "DTLS -> media (median)", "ms",
                          "over loopback (libnice)", "");
  f[2] = bench_figure_get("ice", "ice.connected_to_first_media.median", "ICE -> media (median)",
                          "ms", "over loopback (libnice)", "");
  f[3] = bench_figure_get("ice", "ice.start_to_connected.median", "start -> ICE (median)", "ms",
                          "gathering + checks", "");
  f[4] = bench_figure_get("ice", "ice.dtls_retransmissions", "DTLS retransmissions/call", "flights",
                          "both sides", "");
  for (int c = 0; c < n; c++) {
    call_result r;
    if (one_call(ctx, cert, fp, &r) != 0)
      goto out;
    v[0][c] = r.ice_to_dtls_ms;
    v[1][c] = r.dtls_to_media_ms;
    v[2][c] = r.ice_to_media_ms;
    v[3][c] = r.ice_ms;
    v[4][c] = r.retransmissions;
    for (int k = 0; k < 5; k++)
      bench_series_add(&f[k]->val, v[k][c]);
    /* Baseline: the same handshake in memory, wall clock. */
    uint64_t t0 = tool_now_us();
    if (bench_dtls_handshake(cert, fp, NULL, NULL) != RTCSEC_OK)
      goto out;
    bench_series_add(&f[0]->base, (double)(tool_now_us() - t0) / 1000.0);
  }
  static const char *p99_names[3] = {"ice.connected_to_dtls.p99", "ice.dtls_to_first_media.p99",
                                     "ice.connected_to_first_media.p99"};
  static const char *p99_labels[3] = {"ICE -> DTLS (p99)", "DTLS -> media (p99)",
                                      "ICE -> media (p99)"};
  for (int k = 0; k < 3; k++) {
    f[5] =
        bench_figure_get("ice", p99_names[k], p99_labels[k], "ms", "over loopback (libnice)", "");
    bench_series_add(&f[5]->val, p99(v[k], n));
  }
  rc = 0;
out:
  if (rc != 0)
    fprintf(stderr, "rtcsec-bench: ICE figure failed\n");
  for (int k = 0; k < 5; k++)
    free(v[k]);
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(cert[i]);
  g_main_context_unref(ctx);
  return rc;
}
