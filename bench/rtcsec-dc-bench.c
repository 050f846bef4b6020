/* rtcsec-dc-bench: what data channels cost, against usrsctp alone.
 *
 * For each message size, one association sends messages to another in
 * memory (packets handed over by the loop, no network) on a reliable
 * ordered channel, and the receiver checks each one's length:
 *   rtcsec   two rtcsec_dc associations (librtcsec-datachannel)
 *   raw      the same with usrsctp alone: two AF_CONN sockets configured
 *            alike (baseline; in a child process forked first, because
 *            usrsctp is one stack per process and the library owns it)
 *   stack    two rtcsec_dc carried by two connected rtcsec_transports
 *            (DTLS 1.2 records in memory): what DTLS adds
 * Figures: payload MB/s (wall clock), CPU per message (both ends, one
 * thread), heap allocations per message (whole process: usrsctp's mbufs
 * included; compiled out under sanitizers), and rtcsec / raw ratios.
 * Medians of --runs runs. A benchmark prints numbers; it never fails
 * because the machine was slow (docs/testing.md §6).
 *
 * Usage: rtcsec-dc-bench [--quick] [--runs N] [--out FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "raw_sctp.h"
#include "rtcsec/datachannel.h"
#include "rtcsec/rtcsec.h"

#define N_SIZES 4
static const size_t sizes[N_SIZES] = {64, 1024, 16384, 262144};
static const uint64_t counts[N_SIZES] = {200000, 100000, 10000, 600};

enum { RAW = 0, DC = 1, STACK = 2, N_KINDS = 3 };
static const char *kind_name[N_KINDS] = {"raw usrsctp", "rtcsec", "rtcsec + DTLS"};

/* ---- two associations -------------------------------------------------------- */

typedef struct dc_pair {
  rtcsec_dc *dc[2];
  bench_pair tp; /* stack mode: the transports */
  int stack;
  uint64_t packets;
  /* stack mode: DTLS application-data datagrams received, and the heap
   * allocations made by the transport while taking them in (handle_datagram
   * and poll_event; not the SCTP stack that gets the packets after) */
  uint64_t rx_datagrams, rx_allocs;
} dc_pair;

static uint8_t pkt[65536];

/* Moves every packet both ways (through DTLS in stack mode). */
static void move(dc_pair *p, uint64_t now) {
  for (int i = 0; i < 2; i++) {
    if (!p->stack) {
      for (;;) {
        size_t n = 0;
        if (rtcsec_dc_poll_datagram(p->dc[i], pkt, sizeof(pkt), &n) != 0 || n == 0)
          break;
        rtcsec_dc_handle_datagram(p->dc[1 - i], pkt, n, now);
        p->packets++;
      }
      continue;
    }
    rtcsec_dc_pump_transport(p->dc[i], p->tp.t[i], now);
    for (;;) {
      size_t n = 0;
      if (rtcsec_transport_poll_datagram(p->tp.t[i], pkt, sizeof(pkt), &n) != 0 || n == 0)
        break;
      rtcsec_transport_input in;
      uint64_t a0 = bench_alloc_calls();
      rtcsec_transport_handle_datagram(p->tp.t[1 - i], pkt, n, now, &in);
      uint64_t allocs = bench_alloc_calls() - a0;
      p->packets++;
      rtcsec_event ev;
      for (;;) {
        a0 = bench_alloc_calls();
        int rc = rtcsec_transport_poll_event(p->tp.t[1 - i], &ev);
        allocs += bench_alloc_calls() - a0;
        if (rc != 0 || ev.type == RTCSEC_EVENT_NONE)
          break;
        if (ev.type == RTCSEC_EVENT_DATA) {
          p->rx_datagrams++;
          p->rx_allocs += allocs;
          allocs = 0;
          rtcsec_dc_handle_datagram(p->dc[1 - i], ev.data.data, ev.data.len, now);
        }
      }
    }
  }
}

static void timers(dc_pair *p, uint64_t now) {
  for (int i = 0; i < 2; i++) {
    if (rtcsec_dc_deadline(p->dc[i]) <= now)
      rtcsec_dc_handle_timeout(p->dc[i], now);
    if (p->stack && rtcsec_transport_deadline(p->tp.t[i]) <= now)
      rtcsec_transport_handle_timeout(p->tp.t[i], now);
  }
}

/* Drains side i's events; counts whole messages of `size` bytes. */
static uint64_t drain(dc_pair *p, int i, size_t size, int *connected) {
  uint64_t got = 0;
  rtcsec_event ev;
  while (rtcsec_dc_poll_event(p->dc[i], &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_MESSAGE && ev.message.len == size)
      got++;
    else if (ev.type == RTCSEC_EVENT_CONNECTED && connected != NULL)
      (*connected)++;
  }
  return got;
}

static int pair_new(dc_pair *p, int stack, rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2]) {
  memset(p, 0, sizeof(*p));
  p->stack = stack;
  if (stack && bench_pair_connect(&p->tp, cert, fp, RTCSEC_SRTP_AEAD_AES_128_GCM) != 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    rtcsec_dc_config cfg;
    rtcsec_dc_config_default(&cfg);
    cfg.dtls_role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.remote_max_message_size = RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE;
    if (rtcsec_dc_new(&p->dc[i], &cfg) != 0)
      return -1;
    /* a pre-agreed channel: the transfer starts at once */
    rtcsec_dc_channel_config cc;
    rtcsec_dc_channel_config_default(&cc);
    cc.negotiated = 1;
    cc.id = 0;
    uint16_t id;
    if (rtcsec_dc_open_channel(p->dc[i], &cc, &id, tool_now_us()) != 0)
      return -1;
  }
  for (int i = 0; i < 2; i++) {
    /* in memory there is no DTLS to report on: the role alone */
    rtcsec_connected_info info;
    memset(&info, 0, sizeof(info));
    info.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    rtcsec_dc_start(p->dc[i], &info, tool_now_us());
  }
  int connected = 0;
  for (int k = 0; k < 100000 && connected < 2; k++) {
    uint64_t now = tool_now_us();
    move(p, now);
    drain(p, 0, 0, &connected);
    drain(p, 1, 0, &connected);
    timers(p, now);
  }
  return connected == 2 ? 0 : -1;
}

static void pair_free(dc_pair *p) {
  for (int i = 0; i < 2; i++)
    rtcsec_dc_free(p->dc[i]);
  if (p->stack)
    bench_pair_free(&p->tp);
}

static void dc_transfer(dc_pair *p, size_t size, uint64_t count, dc_bench_result *out) {
  memset(out, 0, sizeof(*out));
  uint8_t *msg = malloc(size);
  if (msg == NULL)
    return;
  memset(msg, 0x5A, size);
  uint64_t sent = 0, got = 0;
  uint64_t p0 = p->packets, d0 = p->rx_datagrams, r0 = p->rx_allocs;
  uint64_t a0 = bench_alloc_calls(), c0 = bench_cpu_ns(), w0 = tool_now_us();
  uint64_t deadline = w0 + 120u * 1000000u;
  while (got < count) {
    uint64_t now = tool_now_us();
    if (now > deadline)
      break;
    /* keep one message at most in rtcsec's own queue: what SCTP takes at
     * once is not copied */
    while (sent < count && rtcsec_dc_buffered_amount(p->dc[0], 0) == 0) {
      if (rtcsec_dc_send(p->dc[0], 0, msg, size, 1, now) != 0)
        break;
      sent++;
    }
    move(p, now);
    got += drain(p, 1, size, NULL);
    drain(p, 0, size, NULL);
    move(p, now);
    timers(p, now);
  }
  out->cpu_ns = (double)(bench_cpu_ns() - c0);
  out->seconds = (double)(tool_now_us() - w0) / 1e6;
  out->allocs = bench_alloc_calls() - a0;
  out->messages = got;
  out->bytes = got * size;
  out->packets = p->packets - p0;
  out->rx_datagrams = p->rx_datagrams - d0;
  out->rx_allocs = p->rx_allocs - r0;
  out->ok = got == count;
  if (!out->ok)
    fprintf(stderr, "rtcsec%s: %llu of %llu messages of %zu bytes arrived\n",
            p->stack ? " + DTLS" : "", (unsigned long long)got, (unsigned long long)count, size);
  free(msg);
}

/* ---- figures ---------------------------------------------------------------------- */

typedef struct figure {
  bench_series mbps, cpu_us, allocs, pkts;
  uint64_t rx_datagrams, rx_allocs; /* summed over the runs */
  int failed;
} figure;

static figure fig[N_KINDS][N_SIZES];

static void add(figure *f, const dc_bench_result *r) {
  if (!r->ok || r->messages == 0) {
    f->failed = 1;
    return;
  }
  bench_series_add(&f->mbps, (double)r->bytes / r->seconds / 1e6);
  bench_series_add(&f->cpu_us, r->cpu_ns / 1e3 / (double)r->messages);
  bench_series_add(&f->allocs, (double)r->allocs / (double)r->messages);
  bench_series_add(&f->pkts, (double)r->packets / (double)r->messages);
  f->rx_datagrams += r->rx_datagrams;
  f->rx_allocs += r->rx_allocs;
}

static void print(FILE *f, int runs, int quick) {
  fprintf(f,
          "rtcsec-dc-bench: messages on one reliable ordered channel, in memory; medians of %d "
          "run(s)%s\n",
          runs, quick ? " (--quick: 1/20 of the messages)" : "");
  fprintf(f, "allocations: %s\n",
          bench_alloc_counting() ? "malloc/calloc/realloc calls of the whole process per message"
                                 : "not counted (sanitizer build)");
  fprintf(f, "%-9s %-14s %10s %12s %12s %11s\n", "size", "", "MB/s", "CPU us/msg", "allocs/msg",
          "packets/msg");
  for (int s = 0; s < N_SIZES; s++) {
    for (int k = 0; k < N_KINDS; k++) {
      figure *g = &fig[k][s];
      if (g->failed || g->mbps.n == 0) {
        fprintf(f, "%-9zu %-14s %10s\n", sizes[s], kind_name[k], "failed");
        continue;
      }
      fprintf(f, "%-9zu %-14s %10.1f %12.3f %12.2f %11.3f\n", sizes[s], kind_name[k],
              bench_series_median(&g->mbps), bench_series_median(&g->cpu_us),
              bench_series_median(&g->allocs), bench_series_median(&g->pkts));
    }
    figure *raw = &fig[RAW][s], *dc = &fig[DC][s];
    if (!raw->failed && !dc->failed && raw->mbps.n && dc->mbps.n)
      fprintf(f, "%-9s %-14s %10.2f %12.2f   (rtcsec / raw)\n", "", "ratio",
              bench_series_median(&dc->mbps) / bench_series_median(&raw->mbps),
              bench_series_median(&dc->cpu_us) / bench_series_median(&raw->cpu_us));
  }
  if (!bench_alloc_counting())
    return;
  /* The figure: what the DTLS layer allocates per application-data
   * datagram it receives (rtcsec_transport_handle_datagram and
   * rtcsec_transport_poll_event only; SCTP's own buffers come after). */
  fprintf(f, "DTLS receive path, allocations per application-data datagram (all runs):\n");
  for (int s = 0; s < N_SIZES; s++) {
    const figure *g = &fig[STACK][s];
    if (g->rx_datagrams == 0)
      continue;
    fprintf(f, "%-9zu %10llu datagrams %10llu allocations %8.4f per datagram\n", sizes[s],
            (unsigned long long)g->rx_datagrams, (unsigned long long)g->rx_allocs,
            (double)g->rx_allocs / (double)g->rx_datagrams);
  }
}

int main(int argc, char **argv) {
  int runs = 5, quick = 0;
  const char *out_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = 1;
      runs = 1;
    } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--quick] [--runs N] [--out FILE]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1 || runs > BENCH_MAX_RUNS)
    runs = 5;
  uint64_t div = quick ? 20 : 1;

  /* The baseline first, in a child: usrsctp must not be started here yet. */
  int fds[2];
  if (pipe(fds) != 0) {
    perror("pipe");
    return 2;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 2;
  }
  if (child == 0) {
    close(fds[0]);
    for (int s = 0; s < N_SIZES; s++) {
      for (int r = 0; r < runs; r++) {
        dc_bench_result res;
        raw_sctp_transfer(sizes[s], counts[s] / div, &res);
        if (write(fds[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
          _exit(1);
      }
    }
    _exit(0);
  }
  close(fds[1]);
  for (int s = 0; s < N_SIZES; s++) {
    for (int r = 0; r < runs; r++) {
      dc_bench_result res;
      if (read(fds[0], &res, sizeof(res)) != (ssize_t)sizeof(res)) {
        fig[RAW][s].failed = 1;
        continue;
      }
      add(&fig[RAW][s], &res);
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);

  rtcsec_cert *cert[2] = {NULL, NULL};
  rtcsec_fingerprint fp[2];
  for (int i = 0; i < 2; i++) {
    if (rtcsec_cert_generate(&cert[i], NULL) != 0 ||
        rtcsec_cert_fingerprint(cert[i], RTCSEC_HASH_SHA256, &fp[i]) != 0) {
      fprintf(stderr, "certificate generation failed\n");
      return 1;
    }
  }
  for (int k = DC; k <= STACK; k++) {
    dc_pair p;
    if (pair_new(&p, k == STACK, cert, fp) != 0) {
      fprintf(stderr, "%s: the associations did not connect\n", kind_name[k]);
      for (int s = 0; s < N_SIZES; s++)
        fig[k][s].failed = 1;
      continue;
    }
    for (int s = 0; s < N_SIZES; s++) {
      for (int r = 0; r < runs; r++) {
        dc_bench_result res;
        dc_transfer(&p, sizes[s], counts[s] / div, &res);
        add(&fig[k][s], &res);
      }
    }
    pair_free(&p);
  }
  for (int i = 0; i < 2; i++)
    rtcsec_cert_free(cert[i]);

  print(stdout, runs, quick);
  if (out_path != NULL) {
    FILE *f = fopen(out_path, "w");
    if (f == NULL) {
      perror(out_path);
      return 1;
    }
    print(f, runs, quick);
    fclose(f);
  }
  return 0;
}
