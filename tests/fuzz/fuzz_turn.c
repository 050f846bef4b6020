/* libFuzzer target: the STUN / TURN client over DTLS (ice/turn.c), fed
 * what a TURN server may send it.
 *
 * Each input runs a fresh client connected over an in-memory DTLS
 * association to a server played here (fixed certificates, deterministic
 * random source), then a sequence of operations, each
 *   [action] [flags] [length] [length bytes of record]
 * action % 8: 0 Binding, 1 Allocate, 2 CreatePermission, 3 ChannelBind,
 * 4 Refresh (lifetime = flags), 5 relay a datagram to the peer, 6 and 7
 * nothing; then the record, if any, goes from the server to the client as
 * one DTLS application record. flags bit 0: the record's bytes 8..19 take
 * the transaction ID of the client's last request (so responses can match
 * a transaction); bit 1: a MESSAGE-INTEGRITY with the long-term key of
 * realm "fuzz.realm" is appended (so success paths are reachable); bit 2:
 * the clock first jumps (flags >> 3) seconds and timers run.
 * Invariants: no crash or leak; the client stays connected (nothing the
 * server sends inside the association can fail it); every event is one of
 * the client's kinds with its pointers inside bounds; stats only grow. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "fuzz_common.h"
#include "rtcsec/stun.h"
#include "rtcsec/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define USER "fuzz"
#define PASS "fuzzpass"
#define REALM "fuzz.realm"
#define MAX_OPS 32

typedef struct world {
  rtcsec_turn *client;
  rtcsec_dtls *server;
  uint64_t now;
  uint8_t tid[RTCSEC_STUN_TID_LEN]; /* of the client's last request */
  uint8_t key[16];
} world;

static void check_event(const rtcsec_event *ev) {
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
  case RTCSEC_EVENT_MAPPED_ADDRESS:
  case RTCSEC_EVENT_ALLOCATED:
  case RTCSEC_EVENT_REFRESHED:
  case RTCSEC_EVENT_PERMISSION:
  case RTCSEC_EVENT_CHANNEL_BOUND:
    break;
  case RTCSEC_EVENT_RELAYED_DATA:
    FUZZ_CHECK(ev->turn.len <= 65536);
    FUZZ_CHECK(ev->turn.len == 0 || ev->turn.data != NULL);
    if (ev->turn.len > 0) /* touched, so ASan sees a bad pointer */
      FUZZ_CHECK(ev->turn.data[0] == ev->turn.data[0] &&
                 ev->turn.data[ev->turn.len - 1] == ev->turn.data[ev->turn.len - 1]);
    FUZZ_CHECK(ev->turn.addr_len > 0);
    break;
  case RTCSEC_EVENT_TURN_ERROR:
    FUZZ_CHECK(ev->turn.reason != NULL && strlen(ev->turn.reason) < 128);
    FUZZ_CHECK(ev->turn.error_code == 0 ||
               (ev->turn.error_code >= 300 && ev->turn.error_code <= 699));
    break;
  default:
    FUZZ_CHECK(!"unexpected event from the TURN client");
  }
}

/* Moves datagrams both ways until neither side has any; the server learns
 * the transaction ID of each request it decrypts. */
static void shuttle(world *w) {
  uint8_t buf[2048];
  for (int round = 0; round < 64; round++) {
    int moved = 0;
    size_t n = 0;
    fuzz_rng_select(FUZZ_STREAM_CLIENT);
    while (rtcsec_turn_poll_datagram(w->client, buf, sizeof(buf), &n) == 0 && n > 0) {
      fuzz_rng_select(FUZZ_STREAM_SERVER);
      rtcsec_dtls_handle_datagram(w->server, buf, n, w->now);
      moved = 1;
    }
    rtcsec_event ev;
    while (rtcsec_dtls_poll_event(w->server, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
      if (ev.type == RTCSEC_EVENT_DATA && ev.data.len >= RTCSEC_STUN_HEADER_LEN &&
          rtcsec_stun_is_message(ev.data.data, ev.data.len))
        memcpy(w->tid, ev.data.data + 8, RTCSEC_STUN_TID_LEN);
    }
    fuzz_rng_select(FUZZ_STREAM_SERVER);
    while (rtcsec_dtls_poll_datagram(w->server, buf, sizeof(buf), &n) == 0 && n > 0) {
      fuzz_rng_select(FUZZ_STREAM_CLIENT);
      rtcsec_turn_handle_datagram(w->client, buf, n, w->now);
      moved = 1;
    }
    while (rtcsec_turn_poll_event(w->client, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE)
      check_event(&ev);
    if (!moved)
      return;
  }
}

static int world_init(world *w) {
  memset(w, 0, sizeof(*w));
  w->now = FUZZ_T0;
  fakeclock_set(w->now);
  FUZZ_CHECK(rtcsec_stun_long_term_key(USER, REALM, PASS, w->key) == 0);
  rtcsec_dtls_config sc;
  rtcsec_dtls_config_default(&sc);
  sc.role = RTCSEC_DTLS_SERVER;
  sc.use_srtp = 0;
  sc.mtu = 1400;
  sc.cert = fuzz_cert(FUZZ_CERT_SERVER);
  rtcsec_fingerprint cfp = fuzz_fp(FUZZ_CERT_CLIENT), sfp = fuzz_fp(FUZZ_CERT_SERVER);
  sc.peer_fingerprints = &cfp;
  sc.n_peer_fingerprints = 1;
  fuzz_rng_select(FUZZ_STREAM_SERVER);
  FUZZ_CHECK(rtcsec_dtls_new(&w->server, &sc) == 0);
  rtcsec_turn_config tc;
  rtcsec_turn_config_default(&tc);
  tc.dtls.cert = fuzz_cert(FUZZ_CERT_CLIENT);
  tc.dtls.peer_fingerprints = &sfp;
  tc.dtls.n_peer_fingerprints = 1;
  tc.username = USER;
  tc.password = PASS;
  fuzz_rng_select(FUZZ_STREAM_CLIENT);
  FUZZ_CHECK(rtcsec_turn_new(&w->client, &tc) == 0);
  FUZZ_CHECK(rtcsec_dtls_start(w->server, w->now) == 0);
  FUZZ_CHECK(rtcsec_turn_start(w->client, w->now) == 0);
  shuttle(w);
  return rtcsec_turn_get_state(w->client) == RTCSEC_TURN_STATE_CONNECTED;
}

static void act(world *w, unsigned action, unsigned flags) {
  struct sockaddr_in peer;
  memset(&peer, 0, sizeof(peer));
  peer.sin_family = AF_INET;
  peer.sin_port = htons(6000);
  peer.sin_addr.s_addr = htonl(0xcb007105); /* 203.0.113.5 */
  const struct sockaddr *pa = (const struct sockaddr *)&peer;
  fuzz_rng_select(FUZZ_STREAM_CLIENT);
  switch (action % 8) {
  case 0:
    (void)rtcsec_turn_binding(w->client, w->now);
    break;
  case 1:
    (void)rtcsec_turn_allocate(w->client, w->now);
    break;
  case 2:
    (void)rtcsec_turn_create_permission(w->client, pa, sizeof(peer), w->now);
    break;
  case 3:
    (void)rtcsec_turn_bind_channel(w->client, pa, sizeof(peer), w->now);
    break;
  case 4:
    (void)rtcsec_turn_refresh(w->client, flags, w->now);
    break;
  case 5:
    (void)rtcsec_turn_send(w->client, pa, sizeof(peer), (const uint8_t *)"media", 5, w->now);
    break;
  default:
    break;
  }
}

/* The record the server sends: the fuzz bytes, with the last request's
 * transaction ID and a MESSAGE-INTEGRITY if the flags say so. */
static size_t make_record(const world *w, unsigned flags, const uint8_t *p, size_t n, uint8_t *out,
                          size_t cap) {
  memcpy(out, p, n);
  if ((flags & 1u) && n >= RTCSEC_STUN_HEADER_LEN)
    memcpy(out + 8, w->tid, RTCSEC_STUN_TID_LEN);
  if ((flags & 2u) && n >= RTCSEC_STUN_HEADER_LEN && n % 4 == 0) {
    rtcsec_stun_builder b = {.buf = out, .cap = cap, .len = n};
    if (rtcsec_stun_add_integrity(&b, w->key, sizeof(w->key)) == 0)
      n = b.len;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_rng_install();
  fuzz_rng_reset();
  world w;
  if (!world_init(&w)) {
    rtcsec_turn_free(w.client);
    rtcsec_dtls_free(w.server);
    return 0;
  }
  rtcsec_turn_stats before;
  FUZZ_CHECK(rtcsec_turn_get_stats(w.client, &before) == 0);
  size_t off = 0;
  for (int op = 0; op < MAX_OPS && size - off >= 3; op++) {
    unsigned action = data[off], flags = data[off + 1];
    size_t n = data[off + 2];
    off += 3;
    if (n > size - off)
      n = size - off;
    if (flags & 4u) {
      w.now += (uint64_t)(flags >> 3) * 1000000u;
      fakeclock_set(w.now);
      fuzz_rng_select(FUZZ_STREAM_CLIENT);
      rtcsec_turn_handle_timeout(w.client, w.now);
      fuzz_rng_select(FUZZ_STREAM_SERVER);
      rtcsec_dtls_handle_timeout(w.server, w.now);
    }
    act(&w, action, flags);
    shuttle(&w);
    if (n > 0) {
      uint8_t rec[512];
      size_t len = make_record(&w, flags, data + off, n, rec, sizeof(rec));
      fuzz_rng_select(FUZZ_STREAM_SERVER);
      FUZZ_CHECK(rtcsec_dtls_send_data(w.server, rec, len, w.now) == 0);
      shuttle(&w);
    }
    off += n;
    /* nothing inside the association can fail or close it */
    FUZZ_CHECK(rtcsec_turn_get_state(w.client) == RTCSEC_TURN_STATE_CONNECTED);
    rtcsec_turn_stats st;
    FUZZ_CHECK(rtcsec_turn_get_stats(w.client, &st) == 0);
    FUZZ_CHECK(st.dropped >= before.dropped && st.responses >= before.responses &&
               st.requests_sent >= before.requests_sent);
    FUZZ_CHECK(st.responses <= st.requests_sent + st.retransmissions + st.auth_retries);
    before = st;
  }
  fuzz_rng_select(FUZZ_STREAM_CLIENT);
  rtcsec_turn_close(w.client, w.now);
  rtcsec_turn_free(w.client);
  rtcsec_dtls_free(w.server);
  return 0;
}
