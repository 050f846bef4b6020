/* libFuzzer target: rtcsec's DTLS 1.3 server (behind the ClientHello
 * collector) in a real handshake with the test client, where the input is
 * the network: deliver, drop, duplicate, damage, truncate, inject, reorder,
 * run the timers, send data, update keys, close.
 *
 * Input:
 *   byte 0  bit 0: the client sends no key share (HelloRetryRequest)
 *           bit 1: MTU 300 on both sides (1200 otherwise)
 *           bit 2: the server uses the RSA certificate
 *           bit 3: browser-like ClientHello (a 1216-byte extra share,
 *                  two datagrams at MTU 1200, shuffled extensions)
 *           bit 4: the server expects another certificate's fingerprint
 *           bit 5: 8-bit sequence numbers and padding from the client
 *           bit 6: the server asks for a cookie (HelloRetryRequest)
 *           bit 7: the server is an rtcsec_dtls association (enable_dtls13,
 *                  the collector and the engine inside it, the fingerprint
 *                  configured) instead of the bare engine; bit 6 and key
 *                  updates from the server do not apply
 *   then operations, one byte each (plus operands), on queue q = op & 1
 *   (datagrams travelling to the client (0) or the server (1)) and kind
 *   (op >> 1) & 15:
 *     0-3 deliver the head      4 drop it          5 deliver a copy, keep it
 *     6 xor a byte (pos:2, x:1) and deliver       7 truncate (len:2), deliver
 *     8 inject own bytes (len:1, bytes) to side q  9 move the head to the tail
 *     10 jump the clock to the next deadline, run the timers
 *     11 side q sends data (len:1)   12 side q updates its keys (request:1)
 *     13 side q closes               14 clock += n * 10 ms (n:1)
 *     15 deliver the whole queue
 *   The clock advances 1 ms per operation; random bytes come from one
 *   deterministic stream per side.
 *
 * Invariants: no crash or leak; datagrams within the MTU; events consistent
 * (at most one CONNECTED, nothing after FAILED or CLOSED); the server is
 * CONNECTED only after verify_peer accepted the client's certificate, and
 * never when it expects another fingerprint; once the server has answered
 * an intact ClientHello, it fails only by its time limit or by an alert
 * the client really sent (nothing unauthenticated ends it), unless the
 * HelloRetryRequest path lets damaged ClientHello bytes through (then any
 * clean failure); when both are connected, the same SRTP keys on both
 * sides; application data received is exactly data the peer sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls13_client.h"
#include "dtls13_server_side.h"
#include "dtls_internal.h"
#include "fakeclock.h"
#include "fuzz_common.h"
#include "fuzz_net.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 1024
#define MS UINT64_C(1000)
typedef struct watch {
  int connected, failed, closed, data;
  int error;
  rtcsec_srtp_keys keys;
} watch;

typedef struct world {
  d13c *client;
  d13s server;
  rtcsec_dtls *assoc; /* bit 7: the server instead of `server` */
  size_t mtu;
  int wrong_fp, hrr;
  int server_answered_intact; /* the engine answered a ClientHello we did not damage */
  int damaged_ch;             /* a damaged or injected datagram reached the collector */
  watch w[2];
  uint32_t sent[2];
  queue q[2];
  uint64_t now;
  const uint8_t *in;
  size_t left;
} world;

static unsigned take(world *w, unsigned bytes) { return fuzz_take(&w->in, &w->left, bytes); }

/* ---- the server: the bare engine or the association ------------------------------------------ */

/* 1 once the server has a DTLS 1.3 engine. */
static int srv_engine(const world *w) {
  if (w->assoc != NULL)
    return strcmp(rtcsec_dtls_test_engine_name(w->assoc), "rtcsec-dtls1.3") == 0;
  return w->server.e != NULL;
}

static rtcsec_dtls_state srv_state(const world *w) {
  return w->assoc ? rtcsec_dtls_get_state(w->assoc) : rtcsec_dtls13_state(w->server.e);
}

static int srv_error(const world *w) {
  return w->assoc ? rtcsec_dtls_error(w->assoc) : rtcsec_dtls13_error(w->server.e);
}

static uint64_t srv_deadline(const world *w) {
  if (w->assoc)
    return rtcsec_dtls_deadline(w->assoc);
  return w->server.e ? rtcsec_dtls13_deadline(w->server.e) : UINT64_MAX;
}

/* ---- events -------------------------------------------------------------------------------- */

static void take_event(world *w, int i, const rtcsec_event *ev) {
  watch *x = &w->w[i];
  FUZZ_CHECK(!x->failed && !x->closed);
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    FUZZ_CHECK(!x->connected);
    x->connected = 1;
    FUZZ_CHECK((i == 0     ? d13c_export_srtp(w->client, &x->keys)
                : w->assoc ? rtcsec_dtls_export_srtp_keys(w->assoc, &x->keys)
                           : rtcsec_dtls13_export_srtp(w->server.e, &x->keys)) == 0);
    if (i == 1) {
      /* No key before the fingerprint matched. */
      FUZZ_CHECK(w->assoc != NULL || w->server.verify_calls > 0);
      FUZZ_CHECK(!w->wrong_fp);
      if (w->assoc != NULL)
        FUZZ_CHECK(srv_engine(w));
    }
    break;
  case RTCSEC_EVENT_FAILED:
    x->failed = 1;
    x->error = ev->failed.error;
    FUZZ_CHECK(ev->failed.error < 0);
    break;
  case RTCSEC_EVENT_CLOSED:
    x->closed = 1;
    break;
  case RTCSEC_EVENT_DATA:
    FUZZ_CHECK(x->connected);
    x->data++;
    FUZZ_CHECK(payload_valid(1 - i, w->sent[1 - i], ev->data.data, ev->data.len));
    break;
  default:
    FUZZ_CHECK(0);
  }
}

static void use(int side) { fuzz_rng_select(side == 0 ? FUZZ_STREAM_CLIENT : FUZZ_STREAM_SERVER); }

static void settle(world *w) {
  uint8_t buf[4096];
  rtcsec_event ev;
  for (;;) {
    size_t len = 0;
    FUZZ_CHECK(d13c_poll_datagram(w->client, buf, sizeof(buf), &len) == 0);
    if (len == 0)
      break;
    FUZZ_CHECK(len <= w->mtu);
    q_push(&w->q[1], buf, len);
  }
  for (;;) {
    FUZZ_CHECK(d13c_poll_event(w->client, &ev) == 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    take_event(w, 0, &ev);
  }
  if (w->assoc != NULL) {
    for (;;) {
      size_t len = 0;
      FUZZ_CHECK(rtcsec_dtls_poll_datagram(w->assoc, buf, sizeof(buf), &len) == 0);
      if (len == 0)
        break;
      FUZZ_CHECK(len <= w->mtu);
      q_push(&w->q[0], buf, len);
    }
    for (;;) {
      FUZZ_CHECK(rtcsec_dtls_poll_event(w->assoc, &ev) == 0);
      if (ev.type == RTCSEC_EVENT_NONE)
        break;
      take_event(w, 1, &ev);
    }
    return;
  }
  rtcsec_dtls13 *e = w->server.e;
  if (e == NULL)
    return;
  for (;;) {
    size_t len = 0;
    FUZZ_CHECK(rtcsec_dtls13_poll_datagram(e, buf, sizeof(buf), &len) == 0);
    if (len == 0)
      break;
    FUZZ_CHECK(len <= w->mtu);
    q_push(&w->q[0], buf, len);
  }
  for (;;) {
    FUZZ_CHECK(rtcsec_dtls13_poll_event(e, &ev) == 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    take_event(w, 1, &ev);
  }
}

/* The server side's invariant on failures (see the top of the file). */
static void check_server(world *w) {
  if (!srv_engine(w) || srv_state(w) != RTCSEC_DTLS_STATE_FAILED)
    return;
  if (!w->server_answered_intact || w->hrr || w->wrong_fp)
    return;
  int err = srv_error(w);
  FUZZ_CHECK(err == RTCSEC_ERR_HANDSHAKE_TIMEOUT || err == RTCSEC_ERR_PEER_ALERT);
}

static void deliver(world *w, int to, const uint8_t *p, size_t n, int intact) {
  use(to);
  if (to == 0) {
    int rc = d13c_handle_datagram(w->client, p, n, w->now);
    FUZZ_CHECK(rc <= 0);
    return;
  }
  int had_engine = srv_engine(w);
  if (!had_engine && !intact)
    w->damaged_ch = 1;
  int rc = w->assoc ? rtcsec_dtls_handle_datagram(w->assoc, p, n, w->now)
                    : d13s_handle_datagram(&w->server, p, n, w->now);
  FUZZ_CHECK(rc <= 1);
  if (!had_engine && srv_engine(w) && !w->damaged_ch &&
      srv_state(w) == RTCSEC_DTLS_STATE_HANDSHAKING)
    w->server_answered_intact = 1;
  if (srv_engine(w)) {
    int err = srv_error(w);
    FUZZ_CHECK(err == 0 || rc == err || !had_engine);
  }
}

static void run_timers(world *w) {
  uint64_t t = d13c_deadline(w->client);
  if (srv_deadline(w) < t)
    t = srv_deadline(w);
  if (t == UINT64_MAX)
    return;
  if (t > w->now)
    w->now = t;
  fakeclock_set(w->now);
  use(0);
  (void)d13c_handle_timeout(w->client, w->now);
  if (w->assoc != NULL) {
    use(1);
    (void)rtcsec_dtls_handle_timeout(w->assoc, w->now);
  } else if (w->server.e != NULL) {
    use(1);
    (void)rtcsec_dtls13_handle_timeout(w->server.e, w->now);
  }
}

static void send_data(world *w, int from, size_t len) {
  uint8_t buf[256];
  size_t n = make_payload(from, w->sent[from], len, buf);
  use(from);
  int rc = from == 0     ? d13c_send(w->client, buf, n, w->now)
           : w->assoc    ? rtcsec_dtls_send_data(w->assoc, buf, n, w->now)
           : w->server.e ? rtcsec_dtls13_send(w->server.e, buf, n, w->now)
                         : RTCSEC_ERR_INVALID_STATE;
  if (rc == 0)
    w->sent[from]++;
}

static void one_op(world *w) {
  unsigned op = take(w, 1);
  int q = op & 1;
  unsigned kind = (op >> 1) & 15;
  dgram g;
  switch (kind) {
  case 0:
  case 1:
  case 2:
  case 3:
    if (q_pop(&w->q[q], &g)) {
      deliver(w, q, g.p, g.n, 1);
      free(g.p);
    }
    break;
  case 4:
    if (q_pop(&w->q[q], &g))
      free(g.p);
    break;
  case 5:
    if (w->q[q].count > 0) {
      dgram *h = q_at(&w->q[q], 0);
      deliver(w, q, h->p, h->n, 1);
    }
    break;
  case 6: {
    unsigned pos = take(w, 2), x = take(w, 1);
    if (q_pop(&w->q[q], &g)) {
      if (g.n > 0)
        g.p[pos % g.n] ^= (uint8_t)(x ? x : 1);
      deliver(w, q, g.p, g.n, 0);
      free(g.p);
    }
    break;
  }
  case 7: {
    unsigned len = take(w, 2);
    if (q_pop(&w->q[q], &g)) {
      deliver(w, q, g.p, len < g.n ? len : g.n, len >= g.n);
      free(g.p);
    }
    break;
  }
  case 8: {
    unsigned len = take(w, 1);
    uint8_t buf[256];
    unsigned n = 0;
    while (n < len && w->left > 0)
      buf[n++] = (uint8_t)take(w, 1);
    deliver(w, q, buf, n, 0);
    break;
  }
  case 9:
    if (q_pop(&w->q[q], &g)) {
      q_push(&w->q[q], g.p, g.n);
      free(g.p);
    }
    break;
  case 10:
    run_timers(w);
    break;
  case 11:
    send_data(w, q, take(w, 1));
    break;
  case 12: {
    unsigned req = take(w, 1) & 1;
    use(q);
    if (q == 0)
      (void)d13c_key_update(w->client, (int)req, w->now);
    else if (w->server.e != NULL)
      (void)rtcsec_dtls13_key_update(w->server.e, (int)req, w->now);
    break;
  }
  case 13:
    use(q);
    if (q == 0)
      (void)d13c_close(w->client, w->now);
    else if (w->assoc != NULL)
      (void)rtcsec_dtls_close(w->assoc, w->now);
    else if (w->server.e != NULL)
      (void)rtcsec_dtls13_close(w->server.e, w->now);
    break;
  case 14:
    w->now += take(w, 1) * 10 * MS;
    fakeclock_set(w->now);
    break;
  default:
    while (q_pop(&w->q[q], &g)) {
      deliver(w, q, g.p, g.n, 1);
      free(g.p);
      settle(w);
    }
    break;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();
  fakeclock_set(FUZZ_T0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static world w;
  memset(&w, 0, sizeof(w));
  w.in = data + 1;
  w.left = size - 1;
  w.now = FUZZ_T0;
  fakeclock_set(w.now);
  fuzz_rng_reset();
  unsigned cfg = data[0];
  w.mtu = (cfg & 2) ? 300 : 1200;
  w.hrr = (cfg & 1) || (cfg & 64);
  w.wrong_fp = (cfg & 16) != 0;

  rtcsec_cert *scert = fuzz_cert((cfg & 4) ? FUZZ_CERT_SERVER_RSA : FUZZ_CERT_SERVER);
  rtcsec_dtls13_config sc;
  rtcsec_dtls13_config_default(&sc);
  sc.mtu = w.mtu;
  sc.cookie_exchange = (cfg & 64) != 0;
  d13s_init(&w.server, scert, &sc);
  w.server.expect = fuzz_fp(FUZZ_CERT_CLIENT);
  if (w.wrong_fp)
    w.server.expect = fuzz_fp(FUZZ_CERT_SERVER);
  if (cfg & 128) {
    rtcsec_dtls_config dc;
    rtcsec_dtls_config_default(&dc);
    dc.role = RTCSEC_DTLS_SERVER;
    dc.cert = scert;
    dc.mtu = w.mtu;
    dc.peer_fingerprints = &w.server.expect;
    dc.n_peer_fingerprints = 1;
    w.hrr = cfg & 1;
    use(1);
    FUZZ_CHECK(rtcsec_dtls_new(&w.assoc, &dc) == 0);
  }

  d13c_config cc;
  d13c_config_default(&cc);
  cc.cert = fuzz_cert(FUZZ_CERT_CLIENT);
  rtcsec_fingerprint sfp = fuzz_fp((cfg & 4) ? FUZZ_CERT_SERVER_RSA : FUZZ_CERT_SERVER);
  cc.server_fp = &sfp;
  cc.mtu = w.mtu;
  cc.n_shares_zero = (cfg & 1) != 0;
  cc.hybrid_share = (cfg & 8) != 0;
  cc.shuffle_seed = (cfg & 8) ? 7 : 0;
  if (cfg & 32) {
    cc.seal_flags = RTCSEC_D13_SEAL_SEQ8;
    cc.seal_pad = 3;
  }
  use(0);
  FUZZ_CHECK(d13c_new(&w.client, &cc, w.now) == 0);
  settle(&w);

  for (int i = 0; i < MAX_OPS && w.left > 0; i++) {
    one_op(&w);
    settle(&w);
    check_server(&w);
    w.now += MS;
    fakeclock_set(w.now);
  }
  if (w.w[0].connected && w.w[1].connected) {
    const rtcsec_srtp_keys *c = &w.w[0].keys, *s = &w.w[1].keys;
    FUZZ_CHECK(c->profile == s->profile && c->material_len == s->material_len);
    FUZZ_CHECK(memcmp(c->material, s->material, c->material_len) == 0);
    FUZZ_CHECK(memcmp(c->local_key, s->remote_key, c->key_len) == 0);
  }
  rtcsec_srtp_keys_wipe(&w.w[0].keys);
  rtcsec_srtp_keys_wipe(&w.w[1].keys);
  q_clear(&w.q[0]);
  q_clear(&w.q[1]);
  d13c_free(w.client);
  d13s_free(&w.server);
  rtcsec_dtls_free(w.assoc);
  return 0;
}
