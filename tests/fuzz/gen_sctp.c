/* Seeds for fuzz_sctp (called by gen_corpus.c): real exchanges between the
 * fuzz target's victim association and a second association, the peer,
 * recorded as the peer's packets in the target's input format
 * (fuzz_sctp_common.h). Each seed is then replayed through the target's
 * own driver and must give exactly what the recording gave (events,
 * messages, packets sent): the self-check that the seeds replay. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dcep.h"
#include "fuzz_common.h"
#include "fuzz_sctp_common.h"
#include "gen_sctp.h"

#define MAX_QUEUE 512
#define PKT_MAX 2048

typedef struct pkt {
  uint8_t b[PKT_MAX];
  size_t n;
} pkt;

typedef struct gen {
  fz_sctp_victim *v;
  rtcsec_dc *peer;
  pkt *to_peer; /* the victim's packets not yet given to the peer */
  size_t n_to_peer;
  uint8_t *seed; /* the records so far */
  size_t len, cap;
  unsigned next_flags;
  int peer_connected, peer_closed, peer_failed;
  uint64_t peer_opens;
  uint8_t peer_common[12]; /* a peer packet's common header (ports, tag) */
  gen_expect_fn expect;
} gen;

static void put(gen *g, const void *p, size_t n) {
  if (n == 0)
    return;
  if (g->len + n > g->cap) {
    size_t cap = g->cap ? g->cap * 2 : 4096;
    while (cap < g->len + n)
      cap *= 2;
    g->seed = realloc(g->seed, cap);
    if (g->seed == NULL)
      abort();
    g->cap = cap;
  }
  memcpy(g->seed + g->len, p, n);
  g->len += n;
}

static void to_peer(void *user, const uint8_t *p, size_t len) {
  gen *g = user;
  g->expect(g->n_to_peer < MAX_QUEUE && len <= PKT_MAX, "victim queue");
  if (g->n_to_peer >= MAX_QUEUE || len > PKT_MAX)
    return;
  memcpy(g->to_peer[g->n_to_peer].b, p, len);
  g->to_peer[g->n_to_peer].n = len;
  g->n_to_peer++;
}

/* One record: the flags waiting and the packet (possibly none). */
static void record(gen *g, const uint8_t *p, size_t n) {
  unsigned h = g->next_flags | (unsigned)n;
  uint8_t hdr[2] = {(uint8_t)(h >> 8), (uint8_t)h};
  put(g, hdr, 2);
  put(g, p, n);
  fz_sctp_victim_record(g->v, g->next_flags, p, n);
  g->next_flags = 0;
}

static void poll_peer(gen *g) {
  rtcsec_event ev;
  for (;;) {
    if (rtcsec_dc_poll_event(g->peer, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      return;
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      g->peer_connected++;
    else if (ev.type == RTCSEC_EVENT_CLOSED)
      g->peer_closed++;
    else if (ev.type == RTCSEC_EVENT_FAILED)
      g->peer_failed++;
    else if (ev.type == RTCSEC_EVENT_CHANNEL_OPEN)
      g->peer_opens++;
  }
}

/* Moves packets both ways until neither side has any. */
static void exchange(gen *g) {
  for (int round = 0; round < 1000; round++) {
    uint64_t now = fz_sctp_victim_now(g->v);
    size_t n = g->n_to_peer;
    for (size_t i = 0; i < n; i++)
      rtcsec_dc_handle_datagram(g->peer, g->to_peer[i].b, g->to_peer[i].n, now);
    g->n_to_peer = 0;
    poll_peer(g);
    int moved = n > 0;
    pkt p;
    for (;;) {
      p.n = 0;
      if (rtcsec_dc_poll_datagram(g->peer, p.b, sizeof(p.b), &p.n) != RTCSEC_OK || p.n == 0)
        break;
      if (p.n >= 12)
        memcpy(g->peer_common, p.b, 12); /* the latest: with the victim's tag */
      record(g, p.b, p.n);
      moved = 1;
    }
    if (!moved)
      return;
  }
}

/* Lets time pass: both sides' timers (SACKs, retransmissions). */
static void pass_time(gen *g, int ticks) {
  for (int i = 0; i < ticks; i++) {
    g->next_flags |= FZ_SCTP_TIMER;
    record(g, NULL, 0);
    rtcsec_dc_handle_timeout(g->peer, fz_sctp_victim_now(g->v));
    exchange(g);
  }
}

static void gen_init(gen *g, gen_expect_fn expect) {
  memset(g, 0, sizeof(*g));
  g->expect = expect;
  g->to_peer = calloc(MAX_QUEUE, sizeof(*g->to_peer));
  if (g->to_peer == NULL)
    abort();
  g->v = fz_sctp_victim_new(to_peer, g);
  rtcsec_dc_config cfg;
  fz_sctp_peer_config(&cfg);
  expect(rtcsec_dc_new(&g->peer, &cfg) == RTCSEC_OK, "peer");
  rtcsec_connected_info info;
  memset(&info, 0, sizeof(info));
  info.role = cfg.dtls_role;
  expect(rtcsec_dc_start(g->peer, &info, fz_sctp_victim_now(g->v)) == RTCSEC_OK, "peer start");
  exchange(g);
  for (int i = 0; i < 50 && !g->peer_connected; i++)
    pass_time(g, 1);
  expect(g->peer_connected == 1, "the peer connects");
}

static uint16_t peer_open(gen *g, const char *label, int ordered, rtcsec_channel_reliability rel,
                          uint32_t param) {
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  cc.label = label;
  cc.protocol = "seed";
  cc.ordered = ordered;
  cc.reliability = rel;
  cc.reliability_param = param;
  uint16_t id = 0;
  g->expect(rtcsec_dc_open_channel(g->peer, &cc, &id, fz_sctp_victim_now(g->v)) == RTCSEC_OK,
            "peer open");
  return id;
}

static void peer_send(gen *g, uint16_t id, size_t len, int binary) {
  uint8_t *b = malloc(len ? len : 1);
  if (b == NULL)
    abort();
  for (size_t i = 0; i < len; i++)
    b[i] = (uint8_t)('a' + i % 26);
  g->expect(rtcsec_dc_send(g->peer, id, b, len, binary, fz_sctp_victim_now(g->v)) == RTCSEC_OK,
            "peer send %zu", len);
  free(b);
}

static void peer_raw(gen *g, uint16_t sid, uint32_t ppid, const void *d, size_t n) {
  g->expect(rtcsec_dc_test_send_raw(g->peer, sid, ppid, d, n, 0) > 0, "raw send");
}

/* What a seed must reach when replayed (beyond matching its recording). */
typedef struct reach {
  uint64_t min_opens, min_messages;
  int closed, failed_error;
  uint64_t min_malformed, min_rejected, min_too_large, min_unknown_ppid, min_no_channel;
} reach;

/* Ends a recording: the seed, checked by replaying it. */
static void finish(gen *g, const char *name, gen_write_fn write, const reach *want) {
  fz_sctp_result rec, rep;
  fz_sctp_victim_free(g->v, &rec);
  rtcsec_dc_free(g->peer);
  write("sctp", name, g->seed, g->len);
  fz_sctp_run(g->seed, g->len, &rep);
  int same = rec.connected == rep.connected && rec.closed == rep.closed &&
             rec.failed == rep.failed && rec.opens == rep.opens && rec.closes == rep.closes &&
             rec.messages == rep.messages && rec.message_bytes == rep.message_bytes &&
             rec.packets_out == rep.packets_out;
  g->expect(same,
            "sctp/%s does not replay: recorded %d connected, %llu opens, %llu messages, %llu "
            "packets; replayed %d, %llu, %llu, %llu",
            name, rec.connected, (unsigned long long)rec.opens, (unsigned long long)rec.messages,
            (unsigned long long)rec.packets_out, rep.connected, (unsigned long long)rep.opens,
            (unsigned long long)rep.messages, (unsigned long long)rep.packets_out);
  g->expect(rec.connected == 1, "sctp/%s: the victim connects", name);
  g->expect(rep.opens >= want->min_opens && rep.messages >= want->min_messages,
            "sctp/%s: %llu opens, %llu messages", name, (unsigned long long)rep.opens,
            (unsigned long long)rep.messages);
  g->expect(rep.closed == want->closed && rep.error == want->failed_error,
            "sctp/%s: closed %d, error %d", name, rep.closed, rep.error);
  g->expect(rep.stats.dcep_malformed >= want->min_malformed &&
                rep.stats.dcep_rejected >= want->min_rejected &&
                rep.stats.drop_too_large >= want->min_too_large &&
                rep.stats.drop_unknown_ppid >= want->min_unknown_ppid &&
                rep.stats.drop_no_channel >= want->min_no_channel,
            "sctp/%s: bad input not reached (%llu malformed, %llu refused, %llu too large, %llu "
            "unknown PPID, %llu without channel)",
            name, (unsigned long long)rep.stats.dcep_malformed,
            (unsigned long long)rep.stats.dcep_rejected,
            (unsigned long long)rep.stats.drop_too_large,
            (unsigned long long)rep.stats.drop_unknown_ppid,
            (unsigned long long)rep.stats.drop_no_channel);
  printf("gen_corpus: sctp/%s: %zu bytes, %llu opens, %llu messages, %llu packets back\n", name,
         g->len, (unsigned long long)rep.opens, (unsigned long long)rep.messages,
         (unsigned long long)rep.packets_out);
  free(g->seed);
  free(g->to_peer);
}

/* The peer's DCEP channels, every kind of message, bad input of every
 * kind; `act` makes the victim act after every packet too. */
static void conversation(gen *g, int act) {
  uint16_t a = peer_open(g, "seed-a", 1, RTCSEC_CHANNEL_RELIABLE, 0);
  uint16_t b = peer_open(g,
                         "s\xC3\xA9"
                         "ed-b",
                         0, RTCSEC_CHANNEL_MAX_RETRANSMITS, 2);
  exchange(g);
  pass_time(g, 3);
  if (act)
    g->next_flags |= FZ_SCTP_ACT;
  peer_send(g, a, 5, 0);
  peer_send(g, a, 3, 1);
  peer_send(g, a, 0, 0);
  peer_send(g, a, 0, 1);
  peer_send(g, b, 500, 1);
  peer_send(g, a, 3000, 1); /* in pieces: over the victim's 1 KiB buffer */
  peer_send(g, a, 6000, 0); /* over the victim's 4 KiB max-message-size */
  exchange(g);
  pass_time(g, 3);
  /* RFC 8831 §8 deprecated partial PPIDs, an unknown PPID */
  peer_raw(g, a, DC_PPID_STRING_PARTIAL, "part-", 5);
  peer_raw(g, a, DC_PPID_STRING, "end", 3);
  peer_raw(g, a, 99, "??", 2);
  /* a malformed OPEN, an OPEN of the wrong parity, data without a channel */
  static const uint8_t short_open[] = {DCEP_OPEN, 0, 0, 1, 0, 0, 0, 0, 0, 9, 0, 0, 'x'};
  peer_raw(g, 6, DC_PPID_DCEP, short_open, sizeof(short_open));
  uint8_t open[64];
  size_t n = 0;
  dcep_open o;
  memset(&o, 0, sizeof(o));
  o.ordered = 1;
  o.reliability = RTCSEC_CHANNEL_RELIABLE;
  o.label = (const uint8_t *)"odd";
  o.label_len = 3;
  g->expect(dcep_write_open(&o, open, sizeof(open), &n) == RTCSEC_OK, "open");
  peer_raw(g, 3, DC_PPID_DCEP, open, n);
  peer_raw(g, 8, DC_PPID_BINARY, "x", 1);
  if (act)
    g->next_flags |= FZ_SCTP_ACT;
  exchange(g);
  pass_time(g, 5);
  g->expect(rtcsec_dc_close_channel(g->peer, b, fz_sctp_victim_now(g->v)) == RTCSEC_OK, "close");
  exchange(g);
  pass_time(g, 10);
}

/* An ABORT from the peer, built on a real packet's common header. */
static void peer_abort(gen *g) {
  uint8_t p[16];
  memcpy(p, g->peer_common, 12);
  p[12] = 6; /* ABORT (RFC 4960 §3.3.7), T bit clear */
  p[13] = 0;
  p[14] = 0;
  p[15] = 4;
  memset(p + 8, 0, 4);
  uint32_t crc = usrsctp_crc32c(p, sizeof(p));
  memcpy(p + 8, &crc, 4);
  record(g, p, sizeof(p));
}

void sctp_seeds(gen_write_fn write, gen_expect_fn expect) {
  gen g;
  /* The victim's own two channels and the peer's two open; of the peer's
   * messages 4 + 1 + 1 get through, the 6000-byte one is too large, the two
   * partial-PPID pieces make one, the unknown PPID is dropped: 7. The
   * victim's own close at the end is not answered (the recording stops),
   * so only the peer's shutdown and the ABORT end an association. */
  const reach handshake = {2, 0, 0, 0, 0, 0, 0, 0, 0};
  const reach channels = {4, 7, 0, 0, 1, 2, 1, 1, 1};
  const reach shutdown = {4, 7, 1, 0, 1, 2, 1, 1, 1};
  const reach aborted = {2, 0, 0, RTCSEC_ERR_DC_ABORTED, 0, 0, 0, 0, 0};

  gen_init(&g, expect);
  finish(&g, "handshake", write, &handshake);

  gen_init(&g, expect);
  conversation(&g, 0);
  finish(&g, "channels-and-bad-input", write, &channels);

  gen_init(&g, expect);
  conversation(&g, 1);
  finish(&g, "channels-victim-acts", write, &channels);

  gen_init(&g, expect);
  conversation(&g, 0);
  expect(rtcsec_dc_close(g.peer, fz_sctp_victim_now(g.v)) == RTCSEC_OK, "shutdown");
  exchange(&g);
  pass_time(&g, 5);
  expect(g.peer_closed == 1, "the peer's shutdown completes");
  finish(&g, "shutdown", write, &shutdown);

  gen_init(&g, expect);
  exchange(&g);
  peer_abort(&g);
  finish(&g, "abort", write, &aborted);
}
