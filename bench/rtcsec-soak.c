/* rtcsec-soak: long, bounded runs that look for growth and drift (issue 7).
 *
 *   rtcsec-soak --cycles N
 *       N create / handshake / media / close / destroy cycles of two
 *       in-memory transports; resident memory is sampled after a warm-up
 *       and at the end and must not grow by more than 1 %.
 *   rtcsec-soak --sessions N --duration S [--rate PPS]
 *       N transport pairs kept connected for S seconds (wall clock), RTP
 *       both ways at PPS per direction with sequence numbers starting
 *       just below the 16-bit wrap; every packet must arrive (the path is
 *       lossless memory), authenticate and be new; resident memory is
 *       sampled every 10 s and must stay within 1 % of the first sample
 *       after warm-up.
 *   rtcsec-soak --ice --sessions N --duration S [--rate PPS]
 *       the same over real UDP on loopback: N calls of two libnice agents
 *       each (ICE, DTLS-SRTP), all on one GLib context (bench/soak_ice.c).
 *
 * Only the public API is used. Exit status 0 when every check held. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rtcsec/rtcsec.h"
#include "rtcsec/transport.h"
#include "soak.h"
#include "util.h"

typedef struct leg {
  rtcsec_transport *t[2];
  uint16_t next_seq[2];
  uint16_t expect_seq[2];
  uint64_t sent[2], received[2], errors[2];
} leg;

static rtcsec_cert *certs[2];
static rtcsec_fingerprint fps[2];
static uint8_t io_buf[2048];

/* Moves every pending DTLS datagram between the two sides until quiet. */
static int shuttle(leg *l, uint64_t now) {
  int moved = 1, rounds = 0;
  while (moved && rounds++ < 64) {
    moved = 0;
    for (int i = 0; i < 2; i++) {
      size_t n = 0;
      while (rtcsec_transport_poll_datagram(l->t[i], io_buf, sizeof(io_buf), &n) == 0 && n > 0) {
        rtcsec_transport_input in;
        rtcsec_transport_handle_datagram(l->t[1 - i], io_buf, n, now, &in);
        moved = 1;
      }
    }
  }
  return rounds < 64 ? 0 : -1;
}

static int drain_events(rtcsec_transport *t, int *connected) {
  rtcsec_event ev;
  int failed = 0;
  while (rtcsec_transport_poll_event(t, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      *connected = 1;
    if (ev.type == RTCSEC_EVENT_FAILED)
      failed = 1;
  }
  return failed;
}

static int leg_open(leg *l) {
  memset(l, 0, sizeof(*l));
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_config cfg;
    rtcsec_transport_config_default(&cfg);
    cfg.dtls.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.dtls.cert = certs[i];
    cfg.dtls.peer_fingerprints = &fps[1 - i];
    cfg.dtls.n_peer_fingerprints = 1;
    if (rtcsec_transport_new(&l->t[i], &cfg) != 0)
      return -1;
    /* start 100 packets below the 16-bit wrap so every run crosses it */
    l->next_seq[i] = 65436;
    l->expect_seq[1 - i] = 65436;
  }
  uint64_t now = tool_now_us();
  if (rtcsec_transport_start(l->t[1], now) != 0 || rtcsec_transport_start(l->t[0], now) != 0)
    return -1;
  int conn[2] = {0, 0};
  for (int round = 0; round < 16 && !(conn[0] && conn[1]); round++) {
    if (shuttle(l, tool_now_us()) != 0)
      return -1;
    for (int i = 0; i < 2; i++) {
      if (drain_events(l->t[i], &conn[i]))
        return -1;
    }
  }
  return conn[0] && conn[1] ? 0 : -1;
}

static void leg_close(leg *l) {
  uint64_t now = tool_now_us();
  for (int i = 0; i < 2; i++)
    rtcsec_transport_close(l->t[i], now);
  shuttle(l, now);
  for (int i = 0; i < 2; i++) {
    int c = 0;
    drain_events(l->t[i], &c);
    rtcsec_transport_free(l->t[i]);
    l->t[i] = NULL;
  }
}

/* One RTP packet from side s to the other; checks it arrives in order. */
static void leg_media(leg *l, int s, size_t payload) {
  uint8_t *p = io_buf;
  uint16_t seq = l->next_seq[s]++;
  memset(p, 0, 12 + payload);
  p[0] = 0x80;
  p[1] = 111;
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  p[11] = (uint8_t)(s + 1);
  for (size_t i = 0; i < payload; i++)
    p[12 + i] = (uint8_t)(seq + i);
  size_t out = 0;
  if (rtcsec_transport_protect_rtp(l->t[s], p, 12 + payload, sizeof(io_buf), &out, tool_now_us()) !=
      0) {
    l->errors[s]++;
    return;
  }
  l->sent[s]++;
  rtcsec_transport_input in;
  int rc = rtcsec_transport_handle_datagram(l->t[1 - s], p, out, tool_now_us(), &in);
  uint16_t got = (uint16_t)(p[2] << 8 | p[3]);
  if (rc != 0 || in.len != 12 + payload || got != l->expect_seq[1 - s] || p[12] != (uint8_t)got) {
    l->errors[1 - s]++;
    return;
  }
  l->expect_seq[1 - s]++;
  l->received[1 - s]++;
}

static int run_cycles(long cycles) {
  /* OpenSSL fills process-wide caches (fetched methods) over the first few
   * hundred handshakes: sample after a third of the run. */
  long warm = cycles / 3 > 0 ? cycles / 3 : 1, rss_warm = 0;
  uint64_t t0 = tool_now_us();
  for (long c = 0; c < cycles; c++) {
    leg l;
    if (leg_open(&l) != 0) {
      fprintf(stderr, "rtcsec-soak: cycle %ld: handshake failed\n", c);
      return 1;
    }
    for (int k = 0; k < 200; k++)
      leg_media(&l, k % 2, 160);
    if (l.errors[0] || l.errors[1] || l.received[0] != 100 || l.received[1] != 100) {
      fprintf(stderr, "rtcsec-soak: cycle %ld: media errors %llu/%llu\n", c,
              (unsigned long long)l.errors[0], (unsigned long long)l.errors[1]);
      return 1;
    }
    leg_close(&l);
    if (c + 1 == warm)
      rss_warm = tool_rss_kib();
    if ((c + 1) % 100 == 0)
      printf("cycle %ld/%ld: %.1f s, rss %ld KiB\n", c + 1, cycles, (tool_now_us() - t0) / 1e6,
             tool_rss_kib());
  }
  long rss_end = tool_rss_kib();
  double growth = rss_warm > 0 ? 100.0 * (double)(rss_end - rss_warm) / (double)rss_warm : 0;
  printf("%ld cycles in %.1f s; rss after warm-up %ld KiB, at the end %ld KiB (%+.2f %%)\n", cycles,
         (tool_now_us() - t0) / 1e6, rss_warm, rss_end, growth);
  return growth <= 1.0 ? 0 : 1;
}

static int run_sessions(long n, double duration, long rate) {
  leg *legs = calloc((size_t)n, sizeof(*legs));
  if (legs == NULL)
    return 1;
  for (long i = 0; i < n; i++) {
    if (leg_open(&legs[i]) != 0) {
      fprintf(stderr, "rtcsec-soak: session %ld: handshake failed\n", i);
      return 1;
    }
  }
  uint64_t t0 = tool_now_us(), end = t0 + (uint64_t)(duration * 1e6), next_report = t0 + 10000000u;
  uint64_t tick = rate > 0 ? 1000000u / (uint64_t)rate : 1000000u;
  long rss_first = -1, rss_max = 0;
  uint64_t warm_until = t0 + (uint64_t)(duration * 1e6 / 10), next_rss = warm_until;
  int ok = 1;
  for (uint64_t t = tool_now_us(); t < end; t = tool_now_us()) {
    for (long i = 0; i < n; i++) {
      leg_media(&legs[i], 0, 160);
      leg_media(&legs[i], 1, 160);
    }
    uint64_t spent = tool_now_us() - t;
    if (spent < tick)
      usleep((useconds_t)(tick - spent));
    /* RSS from the end of warm-up on, every 500 ms (and once at the end
     * below), so that a run shorter than a report still has its maximum. */
    if (tool_now_us() >= next_rss) {
      long r = tool_rss_kib();
      if (rss_first < 0)
        rss_first = r;
      rss_max = r > rss_max ? r : rss_max;
      next_rss = tool_now_us() + 500000u;
    }
    if (tool_now_us() >= next_report) {
      long r = tool_rss_kib();
      uint64_t sent = 0, errors = 0;
      for (long i = 0; i < n; i++)
        sent += legs[i].sent[0] + legs[i].sent[1], errors += legs[i].errors[0] + legs[i].errors[1];
      printf("%.0f s: %llu packets, %llu errors, rss %ld KiB\n", (tool_now_us() - t0) / 1e6,
             (unsigned long long)sent, (unsigned long long)errors, r);
      fflush(stdout);
      next_report += 10000000u;
    }
  }
  long rss_last = tool_rss_kib();
  rss_max = rss_last > rss_max ? rss_last : rss_max;
  uint64_t sent = 0, received = 0, errors = 0;
  int wrapped = 1;
  for (long i = 0; i < n; i++) {
    sent += legs[i].sent[0] + legs[i].sent[1];
    received += legs[i].received[0] + legs[i].received[1];
    errors += legs[i].errors[0] + legs[i].errors[1];
    wrapped &= legs[i].sent[0] > 100 && legs[i].sent[1] > 100;
    leg_close(&legs[i]);
  }
  long rss_end = tool_rss_kib();
  double growth = rss_first > 0 ? 100.0 * (double)(rss_max - rss_first) / (double)rss_first : 0;
  printf("%ld sessions, %.0f s: %llu sent, %llu received, %llu errors, 16-bit wrap crossed: %s; "
         "rss after warm-up %ld KiB, max %ld KiB (%+.2f %%), after close %ld KiB\n",
         n, duration, (unsigned long long)sent, (unsigned long long)received,
         (unsigned long long)errors, wrapped ? "yes" : "no", rss_first, rss_max, growth, rss_end);
  ok = errors == 0 && sent == received && wrapped && rss_first > 0 && growth <= 1.0;
  free(legs);
  return ok ? 0 : 1;
}

static void usage(FILE *f) {
  fprintf(f, "usage: rtcsec-soak --cycles N\n"
             "       rtcsec-soak [--ice] --sessions N --duration SECONDS [--rate PPS]\n");
}

int main(int argc, char **argv) {
  long cycles = 0, sessions = 0, rate = 50;
  int ice = 0;
  double duration = 0;
  static const struct option opts[] = {{"cycles", required_argument, NULL, 'c'},
                                       {"sessions", required_argument, NULL, 's'},
                                       {"duration", required_argument, NULL, 'd'},
                                       {"rate", required_argument, NULL, 'r'},
                                       {"ice", no_argument, NULL, 'i'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      cycles = strtol(optarg, NULL, 10);
      break;
    case 's':
      sessions = strtol(optarg, NULL, 10);
      break;
    case 'd':
      duration = strtod(optarg, NULL);
      break;
    case 'r':
      rate = strtol(optarg, NULL, 10);
      break;
    case 'i':
      ice = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  /* Bounded by design: at most 100 000 cycles, 10 000 sessions, 1 hour. */
  if ((cycles <= 0) == (sessions <= 0) || cycles > 100000 || sessions > 10000 ||
      (sessions > 0 && (duration <= 0 || duration > 3600)) || rate < 1 || rate > 1000 ||
      (ice && (sessions <= 0 || sessions > 500))) {
    usage(stderr);
    return 2;
  }
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&certs[i], NULL) != 0)
      return 1;
  }
  for (int i = 0; i < 2; i++)
    rtcsec_cert_fingerprint(certs[i], RTCSEC_HASH_SHA256, &fps[i]);
  int rc = cycles > 0 ? run_cycles(cycles)
           : ice      ? soak_ice(sessions, duration, rate, certs, fps)
                      : run_sessions(sessions, duration, rate);
  rtcsec_cert_free(certs[0]);
  rtcsec_cert_free(certs[1]);
  printf("%s\n", rc == 0 ? "soak: PASS" : "soak: FAIL");
  return rc;
}
