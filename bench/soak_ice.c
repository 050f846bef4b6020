/* rtcsec-soak --ice: N calls over loopback ICE (libnice), DTLS-SRTP and RTP
 * both ways, all agents on one GMainContext driven by this thread. Each
 * stream's sequence numbers start 100 below the 16-bit wrap. Every packet
 * must arrive in order, authentic and new (loopback is lossless at these
 * rates); resident memory is sampled every 10 s and must stay within 1 % of
 * the sample after warm-up. Only the public API is used. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtcsec/ice.h"
#include "rtcsec/rtcsec.h"
#include "soak.h"
#include "util.h"

typedef struct ice_leg ice_leg;

typedef struct ice_end {
  ice_leg *leg;
  int side; /* 0 controlling (DTLS server), 1 controlled (DTLS client) */
  rtcsec_ice_agent *agent;
  int dtls_up;
  uint16_t next_seq, expect_seq;
  uint64_t sent, received, lost, bad, send_errors;
  int failed;
} ice_end;

struct ice_leg {
  ice_end end[2];
};

static void on_event(void *user, const rtcsec_event *ev) {
  ice_end *e = user;
  ice_end *peer = &e->leg->end[1 - e->side];
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    if (peer->agent != NULL && rtcsec_ice_add_remote_candidate(peer->agent, ev->candidate) != 0)
      e->failed = 1;
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    if (peer->agent != NULL)
      rtcsec_ice_remote_end_of_candidates(peer->agent);
    break;
  case RTCSEC_EVENT_CONNECTED:
    e->dtls_up = 1;
    break;
  case RTCSEC_EVENT_FAILED:
  case RTCSEC_EVENT_CLOSED:
  case RTCSEC_EVENT_CONSENT_LOST:
    e->failed = 1;
    break;
  default:
    break;
  }
}

static void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len) {
  ice_end *e = user;
  if (kind != RTCSEC_PKT_RTP || len < 12) {
    e->bad++;
    return;
  }
  uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
  if (len != 12 + 160 || buf[12] != (uint8_t)seq) {
    e->bad++;
    return;
  }
  if (seq != e->expect_seq)
    e->lost += (uint16_t)(seq - e->expect_seq); /* a gap: packets never seen */
  e->expect_seq = (uint16_t)(seq + 1);
  e->received++;
}

static int leg_start(ice_leg *l, GMainContext *ctx, rtcsec_cert *certs[2],
                     const rtcsec_fingerprint fps[2]) {
  for (int i = 0; i < 2; i++) {
    ice_end *e = &l->end[i];
    e->leg = l;
    e->side = i;
    e->next_seq = 65436;
    e->expect_seq = 65436;
    rtcsec_ice_config cfg;
    rtcsec_ice_config_default(&cfg);
    cfg.role = i == 0 ? RTCSEC_ICE_CONTROLLING : RTCSEC_ICE_CONTROLLED;
    cfg.local_addresses[0] = "127.0.0.1";
    cfg.n_local_addresses = 1;
    cfg.context = (rtcsec_gmain_context *)ctx;
    /* RFC 8842: the offerer (controlling) says actpass, the answerer picks
     * active, so the controlling side is the DTLS server. */
    cfg.transport.dtls.role = i == 0 ? RTCSEC_DTLS_SERVER : RTCSEC_DTLS_CLIENT;
    cfg.transport.dtls.cert = certs[i];
    cfg.transport.dtls.peer_fingerprints = &fps[1 - i];
    cfg.transport.dtls.n_peer_fingerprints = 1;
    cfg.on_event = on_event;
    cfg.on_media = on_media;
    cfg.user = e;
    if (rtcsec_ice_agent_new(&e->agent, &cfg) != 0)
      return -1;
  }
  for (int i = 0; i < 2; i++) {
    char ufrag[257], pwd[257];
    if (rtcsec_ice_get_local_credentials(l->end[i].agent, ufrag, sizeof(ufrag), pwd, sizeof(pwd)) !=
            0 ||
        rtcsec_ice_set_remote_credentials(l->end[1 - i].agent, ufrag, pwd) != 0)
      return -1;
  }
  for (int i = 0; i < 2; i++) {
    if (rtcsec_ice_gather(l->end[i].agent) != 0)
      return -1;
  }
  return 0;
}

static void leg_send(ice_end *e) {
  uint8_t buf[256];
  uint16_t seq = e->next_seq++;
  memset(buf, 0, 12 + 160);
  buf[0] = 0x80;
  buf[1] = 111;
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  buf[11] = (uint8_t)(e->side + 1);
  buf[12] = (uint8_t)seq;
  if (rtcsec_ice_send_rtp(e->agent, buf, 12 + 160, sizeof(buf)) == 0)
    e->sent++;
  else
    e->send_errors++;
}

static void iterate_for(GMainContext *ctx, uint64_t us) {
  uint64_t end = tool_now_us() + us;
  while (tool_now_us() < end) {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(200);
  }
}

int soak_ice(long n, double duration, long rate, rtcsec_cert *certs[2],
             const rtcsec_fingerprint fps[2]) {
  GMainContext *ctx = g_main_context_new();
  ice_leg *legs = calloc((size_t)n, sizeof(*legs));
  if (ctx == NULL || legs == NULL)
    return 1;
  uint64_t t0 = tool_now_us();
  for (long i = 0; i < n; i++) {
    if (leg_start(&legs[i], ctx, certs, fps) != 0) {
      fprintf(stderr, "rtcsec-soak: call %ld: could not start its agents\n", i);
      return 1;
    }
  }
  /* all calls connect, bounded */
  long up = 0;
  for (uint64_t end = tool_now_us() + 60000000u; tool_now_us() < end && up < n;) {
    iterate_for(ctx, 10000);
    up = 0;
    for (long i = 0; i < n; i++)
      up += legs[i].end[0].dtls_up && legs[i].end[1].dtls_up;
  }
  printf("%ld/%ld calls connected over ICE + DTLS in %.1f s\n", up, n, (tool_now_us() - t0) / 1e6);
  fflush(stdout);
  int ok = up == n;
  uint64_t m0 = tool_now_us(), end = m0 + (uint64_t)(duration * 1e6);
  uint64_t tick = 1000000u / (uint64_t)rate, next_tick = m0, next_report = m0 + 10000000u;
  uint64_t warm_until = m0 + (uint64_t)(duration * 1e6 / 10);
  /* RSS from the end of warm-up on, sampled every 500 ms and once at the
   * end, so that a run shorter than a report still has its maximum. */
  long rss_first = -1, rss_max = 0;
  uint64_t next_rss = warm_until;
  while (ok && tool_now_us() < end) {
    if (tool_now_us() >= next_tick) {
      for (long i = 0; i < n; i++) {
        leg_send(&legs[i].end[0]);
        leg_send(&legs[i].end[1]);
      }
      next_tick += tick;
    }
    iterate_for(ctx, 1000);
    if (tool_now_us() >= next_rss) {
      long r = tool_rss_kib();
      if (rss_first < 0)
        rss_first = r;
      rss_max = r > rss_max ? r : rss_max;
      next_rss = tool_now_us() + 500000u;
    }
    if (tool_now_us() >= next_report) {
      long r = tool_rss_kib();
      uint64_t sent = 0, recv = 0;
      for (long i = 0; i < n; i++)
        for (int s = 0; s < 2; s++)
          sent += legs[i].end[s].sent, recv += legs[i].end[s].received;
      printf("%.0f s: %llu sent, %llu received, rss %ld KiB\n", (tool_now_us() - m0) / 1e6,
             (unsigned long long)sent, (unsigned long long)recv, r);
      fflush(stdout);
      next_report += 10000000u;
    }
  }
  iterate_for(ctx, 500000); /* the last packets in flight */
  long rss_last = tool_rss_kib();
  rss_max = rss_last > rss_max ? rss_last : rss_max;
  uint64_t sent = 0, recv = 0, lost = 0, bad = 0, send_errors = 0, auth = 0, replay = 0;
  int failed = 0, wrapped = 1;
  for (long i = 0; i < n; i++) {
    for (int s = 0; s < 2; s++) {
      ice_end *e = &legs[i].end[s];
      rtcsec_ice_stats st;
      if (rtcsec_ice_get_stats(e->agent, &st) == 0) {
        auth += st.transport.srtp.inbound.auth_failures;
        replay += st.transport.srtp.inbound.replay_drops + st.transport.srtp.inbound.too_old_drops;
      }
      sent += e->sent;
      recv += e->received;
      lost += e->lost;
      bad += e->bad;
      send_errors += e->send_errors;
      failed += e->failed;
      wrapped &= e->sent > 100;
    }
  }
  /* what the peers sent but never arrived, beyond gaps already counted */
  uint64_t missing = sent > recv ? sent - recv : 0;
  for (long i = 0; i < n; i++)
    for (int s = 0; s < 2; s++)
      rtcsec_ice_agent_free(legs[i].end[s].agent);
  iterate_for(ctx, 200000);
  long rss_end = tool_rss_kib();
  double growth = rss_first > 0 ? 100.0 * (double)(rss_max - rss_first) / (double)rss_first : 0;
  printf("%ld calls over ICE, %.0f s of media: %llu sent, %llu received, %llu missing, %llu "
         "bad, %llu auth failures, %llu replays, %llu send errors, %d failures; 16-bit wrap "
         "crossed: %s; rss after warm-up %ld KiB, max %ld KiB (%+.2f %%), after close %ld KiB\n",
         n, duration, (unsigned long long)sent, (unsigned long long)recv,
         (unsigned long long)missing, (unsigned long long)bad, (unsigned long long)auth,
         (unsigned long long)replay, (unsigned long long)send_errors, failed,
         wrapped ? "yes" : "no", rss_first, rss_max, growth, rss_end);
  ok = ok && missing == 0 && lost == 0 && bad == 0 && auth == 0 && replay == 0 &&
       send_errors == 0 && failed == 0 && wrapped && rss_first > 0 && growth <= 1.0;
  free(legs);
  g_main_context_unref(ctx);
  return ok ? 0 : 1;
}
