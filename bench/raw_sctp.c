/* rtcsec-dc-bench's baseline: usrsctp alone (see raw_sctp.h). */
#include "raw_sctp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <usrsctp.h>

#include "bench.h"

#define RING 8192
#define PACKET 1163 /* RTCSEC_DC_DEFAULT_PACKET_SIZE */
#define SCTP_INTERLEAVING_SUPPORTED_OPT 0x00001206

typedef struct side {
  struct socket *s;
  /* packets this side sent, not yet handed to the other */
  uint8_t (*q)[PACKET];
  uint16_t len[RING];
  size_t head, count;
  uint64_t dropped;
} side;

static side sides[2];

static int output(void *addr, void *buf, size_t len, uint8_t tos, uint8_t df) {
  (void)tos;
  (void)df;
  side *s = addr;
  if (len > PACKET || s->count == RING) {
    s->dropped++;
    return 0;
  }
  size_t at = (s->head + s->count) % RING;
  memcpy(s->q[at], buf, len);
  s->len[at] = (uint16_t)len;
  s->count++;
  return 0;
}

static int opt(struct socket *s, int level, int name, const void *v, socklen_t n) {
  return usrsctp_setsockopt(s, level, name, v, n);
}

static int setup(side *sd) {
  struct socket *s = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (s == NULL)
    return -1;
  sd->s = s;
  int on = 1, level = 2, buf = 1024 * 1024;
  struct sctp_paddrparams spp;
  memset(&spp, 0, sizeof(spp));
  spp.spp_assoc_id = SCTP_FUTURE_ASSOC;
  spp.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_ENABLE;
  spp.spp_pathmtu = PACKET - 12;
  spp.spp_hbinterval = 10000;
  struct sctp_initmsg init = {1024, 1024, 10, 10000};
  struct sctp_assoc_value il = {SCTP_FUTURE_ASSOC, 1};
  struct sctp_sack_info sack = {SCTP_FUTURE_ASSOC, 20, 2};
  if (usrsctp_set_non_blocking(s, 1) || opt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)) ||
      opt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)) ||
      opt(s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &spp, sizeof(spp)) ||
      opt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)) ||
      opt(s, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, sizeof(sack)) ||
      opt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf)) ||
      opt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) ||
      opt(s, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, sizeof(level)) ||
      opt(s, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED_OPT, &il, sizeof(il)))
    return -1;
  usrsctp_register_address(sd);
  struct sockaddr_conn sc;
  memset(&sc, 0, sizeof(sc));
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(5000);
  sc.sconn_addr = sd;
  if (usrsctp_bind(s, (struct sockaddr *)&sc, sizeof(sc)) != 0)
    return -1;
  if (usrsctp_connect(s, (struct sockaddr *)&sc, sizeof(sc)) != 0 && errno != EINPROGRESS)
    return -1;
  return 0;
}

/* Hands every queued packet to the other side; the packet count. */
static uint64_t move_packets(void) {
  uint64_t n = 0;
  for (int i = 0; i < 2; i++) {
    side *from = &sides[i];
    while (from->count > 0) {
      size_t at = from->head;
      from->head = (from->head + 1) % RING;
      from->count--;
      usrsctp_conninput(&sides[1 - i], from->q[at], from->len[at], 0);
      n++;
    }
  }
  return n;
}

static uint64_t last_ms;

/* usrsctp's timers on a 10 ms tick, as an rtcsec_dc's deadline runs them
 * while it is busy (and as usrsctp's own timer thread would). */
static void timers(void) {
  uint64_t ms = tool_now_us() / 1000u;
  if (last_ms == 0)
    last_ms = ms;
  if (ms >= last_ms + 10) {
    usrsctp_handle_timers((uint32_t)(ms - last_ms));
    last_ms = ms;
  }
}

static int established(struct socket *s) {
  struct sctp_status st;
  socklen_t len = sizeof(st);
  memset(&st, 0, sizeof(st));
  return usrsctp_getsockopt(s, IPPROTO_SCTP, SCTP_STATUS, &st, &len) == 0 &&
         st.sstat_state == SCTP_ESTABLISHED;
}

static int started;

static int start(void) {
  if (started)
    return 0;
  usrsctp_init_nothreads(0, output, NULL);
  usrsctp_sysctl_set_sctp_max_chunks_on_queue(4096); /* as librtcsec-datachannel */
  for (int i = 0; i < 2; i++) {
    sides[i].q = malloc(sizeof(*sides[i].q) * RING);
    if (sides[i].q == NULL || setup(&sides[i]) != 0)
      return -1;
  }
  for (int k = 0; k < 10000 && !(established(sides[0].s) && established(sides[1].s)); k++) {
    move_packets();
    timers();
  }
  started = 1;
  return established(sides[0].s) && established(sides[1].s) ? 0 : -1;
}

void raw_sctp_transfer(size_t size, uint64_t count, dc_bench_result *out) {
  memset(out, 0, sizeof(*out));
  if (start() != 0) {
    fprintf(stderr, "raw usrsctp: the association did not come up\n");
    return;
  }
  uint8_t *msg = malloc(size);
  uint8_t *rbuf = malloc(size + 1);
  if (msg == NULL || rbuf == NULL) {
    free(msg);
    free(rbuf);
    return;
  }
  memset(msg, 0x5A, size);
  struct sctp_sndinfo snd;
  memset(&snd, 0, sizeof(snd));
  snd.snd_ppid = htonl(53); /* WebRTC binary, as a data channel sends */
  uint64_t sent = 0, got = 0, bytes = 0, packets = 0;
  size_t partial = 0;
  uint64_t a0 = bench_alloc_calls(), c0 = bench_cpu_ns(), w0 = tool_now_us();
  uint64_t deadline = w0 + 120u * 1000000u;
  while (got < count && tool_now_us() < deadline) {
    while (sent < count) {
      ssize_t n =
          usrsctp_sendv(sides[0].s, msg, size, NULL, 0, &snd, sizeof(snd), SCTP_SENDV_SNDINFO, 0);
      if (n < 0)
        break; /* no room: let packets move */
      sent++;
    }
    packets += move_packets();
    for (;;) {
      struct sctp_rcvinfo info;
      socklen_t infolen = sizeof(info);
      unsigned int infotype = 0;
      int flags = 0;
      ssize_t n =
          usrsctp_recvv(sides[1].s, rbuf, size + 1, NULL, NULL, &info, &infolen, &infotype, &flags);
      if (n <= 0)
        break;
      partial += (size_t)n;
      if (flags & MSG_EOR) {
        if (partial == size) {
          got++;
          bytes += size;
        }
        partial = 0;
      }
    }
    packets += move_packets();
    timers();
  }
  out->cpu_ns = (double)(bench_cpu_ns() - c0);
  out->seconds = (double)(tool_now_us() - w0) / 1e6;
  out->allocs = bench_alloc_calls() - a0;
  out->messages = got;
  out->bytes = bytes;
  out->packets = packets;
  out->ok = got == count;
  if (!out->ok)
    fprintf(stderr, "raw usrsctp: %llu of %llu messages of %zu bytes arrived\n",
            (unsigned long long)got, (unsigned long long)count, size);
  free(msg);
  free(rbuf);
}
