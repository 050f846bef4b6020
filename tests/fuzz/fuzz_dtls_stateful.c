/* libFuzzer target: a real handshake between two associations in memory,
 * where the input is the network and the signalling.
 *
 * Input:
 *   byte 0  bit 0: the client knows the server's fingerprint at creation
 *           bit 1: the server knows the client's fingerprint at creation
 *           bit 2: the server uses the RSA certificate (ECDHE-RSA)
 *           bits 3-4 / 5-6: client / server MTU (1200, 256, 576, 1400)
 *           bit 7: 2 s handshake timeout on both sides (30 s otherwise)
 *   byte 1  bits 0-1 / 2-3: client / server SRTP profiles (default list,
 *           [SHA1_80], [AEAD_256, SHA1_32], [SHA1_32])
 *           bit 4 / 5: the server / client expects a wrong fingerprint
 *   then operations, one byte each (plus operands), on queue q = op & 1
 *   (datagrams travelling to the client (0) or the server (1)) and kind
 *   (op >> 1) & 15:
 *     0-2 deliver the head     3 drop it           4 deliver a copy, keep it
 *     5 xor a byte (pos:2, x:1) and deliver       6 truncate (len:2), deliver
 *     7 inject own bytes (len:1, bytes) to side q   8 move the head to the tail
 *     9 jump the clock to the next deadline, run the timers
 *     10 side q learns the fingerprint(s)          11 side q sends data (len:1)
 *     12 side q closes          13 clock += n * 10 ms (n:1)
 *     14 deliver the whole queue                   15 deliver head + next as one
 *   The clock advances 1 ms per operation. OpenSSL's timer follows the fake
 *   clock; random bytes come from one deterministic stream per side.
 *
 * Invariants: no crash or leak; datagrams within each side's MTU; events
 * consistent (fuzz_common.c); CONNECTED only with the true peer's
 * fingerprint, and never if that side was given a wrong one; when both
 * sides are connected: the same profile, one both offered, and keys that
 * mirror each other (client local = server remote and so on); application
 * data received is exactly data the peer sent. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 1024
#define QCAP 64
#define MS UINT64_C(1000)

typedef struct dgram {
  uint8_t *p;
  size_t n;
} dgram;

typedef struct queue {
  dgram items[QCAP];
  size_t head, count;
} queue;

typedef struct side {
  int id; /* 0 client, 1 server */
  rtcsec_dtls *d;
  size_t mtu;
  int fp_known;
  rtcsec_fingerprint configured[2]; /* what it is told to expect */
  size_t n_configured;
  rtcsec_fingerprint truth; /* the peer's real certificate */
  fuzz_dtls_watch w;
  rtcsec_srtp_profile profiles[RTCSEC_SRTP_MAX_PROFILES];
  size_t n_profiles;
  uint32_t sent; /* application payloads sent */
  struct world *world;
} side;

typedef struct world {
  side s[2];
  queue q[2]; /* q[i]: on the way to side i */
  uint64_t now;
  const uint8_t *in;
  size_t left;
} world;

static const size_t mtus[4] = {1200, 256, 576, 1400};

static const rtcsec_srtp_profile profile_sets[4][2] = {
    {RTCSEC_SRTP_NONE, RTCSEC_SRTP_NONE},
    {RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_NONE},
    {RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_32},
    {RTCSEC_SRTP_AES128_CM_SHA1_32, RTCSEC_SRTP_NONE},
};

static const rtcsec_srtp_profile default_profiles[4] = {
    RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_80,
    RTCSEC_SRTP_AES128_CM_SHA1_32};

/* ---- input ------------------------------------------------------------------ */

static unsigned take(world *w, unsigned bytes) {
  unsigned v = 0;
  for (unsigned i = 0; i < bytes; i++) {
    v <<= 8;
    if (w->left > 0) {
      v |= *w->in++;
      w->left--;
    }
  }
  return v;
}

/* ---- queues ------------------------------------------------------------------ */

static dgram *q_at(queue *q, size_t i) { return &q->items[(q->head + i) % QCAP]; }

static void q_push(queue *q, const uint8_t *p, size_t n) {
  if (q->count == QCAP)
    return; /* the network is full: lost */
  uint8_t *copy = malloc(n ? n : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, p, n);
  *q_at(q, q->count) = (dgram){copy, n};
  q->count++;
}

static int q_pop(queue *q, dgram *out) {
  if (q->count == 0)
    return 0;
  *out = *q_at(q, 0);
  q->head = (q->head + 1) % QCAP;
  q->count--;
  return 1;
}

static void q_clear(queue *q) {
  dgram g;
  while (q_pop(q, &g))
    free(g.p);
}

/* ---- application data ------------------------------------------------------------ */

/* Payload number `seq` from side `from`: a tag, the number, a pattern. */
static size_t make_payload(int from, uint32_t seq, size_t len, uint8_t *out) {
  if (len < 5)
    len = 5;
  out[0] = (uint8_t)('c' + from);
  out[1] = (uint8_t)(seq >> 16);
  out[2] = (uint8_t)(seq >> 8);
  out[3] = (uint8_t)seq;
  for (size_t i = 4; i < len; i++)
    out[i] = (uint8_t)(seq * 31u + i);
  return len;
}

static void on_data(void *user, const uint8_t *data, size_t len) {
  side *me = user;
  side *peer = &me->world->s[1 - me->id];
  /* Only what the peer really sent arrives (DTLS authenticates it). */
  FUZZ_CHECK(len >= 5 && len <= 256);
  FUZZ_CHECK(data[0] == (uint8_t)('c' + peer->id));
  uint32_t seq = ((uint32_t)data[1] << 16) | ((uint32_t)data[2] << 8) | data[3];
  FUZZ_CHECK(seq < peer->sent);
  uint8_t expect[256];
  FUZZ_CHECK(make_payload(peer->id, seq, len, expect) == len);
  FUZZ_CHECK(memcmp(expect, data, len) == 0);
}

/* ---- driving the two sides -------------------------------------------------------- */

static void use(side *s) { fuzz_rng_select(s->id == 0 ? FUZZ_STREAM_CLIENT : FUZZ_STREAM_SERVER); }

/* Moves what both sides want to send onto the network; checks events. */
static void settle(world *w) {
  uint8_t buf[65536];
  for (int i = 0; i < 2; i++) {
    side *s = &w->s[i];
    for (;;) {
      size_t len = 0;
      FUZZ_CHECK(rtcsec_dtls_poll_datagram(s->d, buf, sizeof(buf), &len) == 0);
      if (len == 0)
        break;
      FUZZ_CHECK(len <= s->mtu);
      q_push(&w->q[1 - i], buf, len);
    }
    fuzz_dtls_poll_events(s->d, &s->w);
  }
}

static void deliver(world *w, int to, const uint8_t *p, size_t n) {
  side *s = &w->s[to];
  use(s);
  fuzz_dtls_check_rc(s->d, rtcsec_dtls_handle_datagram(s->d, p, n, w->now));
}

static void run_timers(world *w) {
  uint64_t t = UINT64_MAX;
  for (int i = 0; i < 2; i++) {
    uint64_t dl = rtcsec_dtls_deadline(w->s[i].d);
    if (dl < t)
      t = dl;
  }
  if (t == UINT64_MAX)
    return;
  if (t > w->now)
    w->now = t;
  fakeclock_set(w->now);
  for (int i = 0; i < 2; i++) {
    side *s = &w->s[i];
    if (rtcsec_dtls_deadline(s->d) <= w->now) {
      use(s);
      fuzz_dtls_check_rc(s->d, rtcsec_dtls_handle_timeout(s->d, w->now));
    }
  }
}

static void learn_fingerprints(world *w, side *s) {
  (void)w;
  if (s->fp_known)
    return;
  s->fp_known = 1;
  rtcsec_dtls_state st = rtcsec_dtls_get_state(s->d);
  use(s);
  int rc = 0;
  for (size_t i = 0; i < s->n_configured && rc == 0; i++)
    rc = rtcsec_dtls_add_peer_fingerprints(s->d, &s->configured[i], 1, w->now);
  if (st == RTCSEC_DTLS_STATE_NEW || st == RTCSEC_DTLS_STATE_HANDSHAKING)
    FUZZ_CHECK(rc == 0 || rtcsec_dtls_get_state(s->d) == RTCSEC_DTLS_STATE_FAILED);
  else
    FUZZ_CHECK(rc == RTCSEC_ERR_INVALID_STATE);
}

static void send_data(world *w, side *s, size_t len) {
  uint8_t buf[256];
  len = make_payload(s->id, s->sent, len % 200, buf);
  rtcsec_dtls_state st = rtcsec_dtls_get_state(s->d);
  use(s);
  int rc = rtcsec_dtls_send_data(s->d, buf, len, w->now);
  if (st == RTCSEC_DTLS_STATE_CONNECTED) {
    FUZZ_CHECK(rc == 0 || rtcsec_dtls_get_state(s->d) == RTCSEC_DTLS_STATE_FAILED);
    if (rc == 0)
      s->sent++;
  } else {
    FUZZ_CHECK(rc != 0);
  }
}

static void step(world *w, unsigned op) {
  int qi = (int)(op & 1);
  queue *q = &w->q[qi];
  dgram g;
  switch ((op >> 1) & 15) {
  case 0:
  case 1:
  case 2:
    if (q_pop(q, &g)) {
      deliver(w, qi, g.p, g.n);
      free(g.p);
    }
    break;
  case 3:
    if (q_pop(q, &g))
      free(g.p);
    break;
  case 4:
    if (q->count > 0) {
      dgram *h = q_at(q, 0);
      uint8_t *copy = malloc(h->n ? h->n : 1);
      FUZZ_CHECK(copy != NULL);
      memcpy(copy, h->p, h->n);
      deliver(w, qi, copy, h->n);
      free(copy);
    }
    break;
  case 5: {
    unsigned pos = take(w, 2), x = take(w, 1);
    if (q_pop(q, &g)) {
      if (g.n > 0)
        g.p[pos % g.n] ^= (uint8_t)(x ? x : 1);
      deliver(w, qi, g.p, g.n);
      free(g.p);
    }
    break;
  }
  case 6: {
    unsigned len = take(w, 2);
    if (q_pop(q, &g)) {
      deliver(w, qi, g.p, g.n ? len % g.n : 0);
      free(g.p);
    }
    break;
  }
  case 7: {
    size_t len = take(w, 1);
    if (len > w->left)
      len = w->left;
    /* An exact-size copy: ASan sees any read past it. */
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, w->in, len);
    w->in += len;
    w->left -= len;
    deliver(w, qi, copy, len);
    free(copy);
    break;
  }
  case 8:
    if (q_pop(q, &g)) {
      *q_at(q, q->count) = g;
      q->count++;
    }
    break;
  case 9:
    run_timers(w);
    break;
  case 10:
    learn_fingerprints(w, &w->s[qi]);
    break;
  case 11:
    send_data(w, &w->s[qi], take(w, 1));
    break;
  case 12: {
    side *s = &w->s[qi];
    use(s);
    int rc = rtcsec_dtls_close(s->d, w->now);
    FUZZ_CHECK(rc <= 0);
    break;
  }
  case 13:
    w->now += (uint64_t)take(w, 1) * 10 * MS;
    break;
  case 14:
    while (q_pop(q, &g)) {
      deliver(w, qi, g.p, g.n);
      free(g.p);
    }
    break;
  case 15:
    if (q->count >= 2) {
      dgram a, b;
      q_pop(q, &a);
      q_pop(q, &b);
      uint8_t *both = malloc(a.n + b.n + 1);
      FUZZ_CHECK(both != NULL);
      memcpy(both, a.p, a.n);
      memcpy(both + a.n, b.p, b.n);
      deliver(w, qi, both, a.n + b.n);
      free(both);
      free(a.p);
      free(b.p);
    }
    break;
  default:
    break;
  }
}

/* ---- setup and the final checks -------------------------------------------------- */

static void side_init(world *w, int id, uint8_t o0, uint8_t o1) {
  side *s = &w->s[id];
  s->id = id;
  s->world = w;
  int rsa = (o0 >> 2) & 1;
  fuzz_cert_id mine = id == 0 ? FUZZ_CERT_CLIENT : rsa ? FUZZ_CERT_SERVER_RSA : FUZZ_CERT_SERVER;
  fuzz_cert_id peer = id == 0 ? (rsa ? FUZZ_CERT_SERVER_RSA : FUZZ_CERT_SERVER) : FUZZ_CERT_CLIENT;
  int wrong = (o1 >> (id == 0 ? 5 : 4)) & 1;

  s->truth = fuzz_fp(peer);
  s->configured[0] = wrong ? fuzz_fp(mine) : s->truth; /* own fingerprint: never the peer's */
  s->n_configured = 1;
  s->fp_known = (o0 >> id) & 1;
  s->w.expected = wrong ? NULL : &s->truth;
  s->w.n_expected = wrong ? 0 : 1;
  s->w.on_data = on_data;
  s->w.user = s;
  s->mtu = mtus[(o0 >> (id == 0 ? 3 : 5)) & 3];

  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.role = id == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
  cfg.cert = fuzz_cert(mine);
  cfg.mtu = s->mtu;
  if (o0 & 0x80)
    cfg.handshake_timeout_us = 2000 * MS;
  const rtcsec_srtp_profile *set = profile_sets[(o1 >> (id == 0 ? 0 : 2)) & 3];
  for (size_t i = 0; i < 2 && set[i] != RTCSEC_SRTP_NONE; i++)
    cfg.profiles[cfg.n_profiles++] = set[i];
  if (cfg.n_profiles) {
    memcpy(s->profiles, cfg.profiles, cfg.n_profiles * sizeof(cfg.profiles[0]));
    s->n_profiles = cfg.n_profiles;
  } else {
    memcpy(s->profiles, default_profiles, sizeof(default_profiles));
    s->n_profiles = 4;
  }
  if (s->fp_known) {
    cfg.peer_fingerprints = s->configured;
    cfg.n_peer_fingerprints = s->n_configured;
  }
  use(s);
  FUZZ_CHECK(rtcsec_dtls_new(&s->d, &cfg) == 0);
}

static int offers(const side *s, rtcsec_srtp_profile p) {
  for (size_t i = 0; i < s->n_profiles; i++) {
    if (s->profiles[i] == p)
      return 1;
  }
  return 0;
}

static void check_keys(const side *c, const side *sv) {
  const rtcsec_connected_info *a = &c->w.info, *b = &sv->w.info;
  FUZZ_CHECK(a->profile == b->profile);
  FUZZ_CHECK(offers(c, a->profile) && offers(sv, a->profile));
  const rtcsec_srtp_keys *ka = &c->w.keys, *kb = &sv->w.keys;
  FUZZ_CHECK(ka->key_len == kb->key_len && ka->salt_len == kb->salt_len);
  FUZZ_CHECK(ka->key_len == rtcsec_srtp_profile_key_len(a->profile));
  FUZZ_CHECK(ka->salt_len == rtcsec_srtp_profile_salt_len(a->profile));
  FUZZ_CHECK(ka->material_len == 2 * (ka->key_len + ka->salt_len));
  FUZZ_CHECK(kb->material_len == ka->material_len);
  FUZZ_CHECK(memcmp(ka->material, kb->material, ka->material_len) == 0);
  FUZZ_CHECK(memcmp(ka->local_key, kb->remote_key, ka->key_len) == 0);
  FUZZ_CHECK(memcmp(ka->remote_key, kb->local_key, ka->key_len) == 0);
  FUZZ_CHECK(memcmp(ka->local_salt, kb->remote_salt, ka->salt_len) == 0);
  FUZZ_CHECK(memcmp(ka->remote_salt, kb->local_salt, ka->salt_len) == 0);
  /* RFC 5764 §4.2: the client sends with the client key, the first one. */
  FUZZ_CHECK(memcmp(ka->local_key, ka->material, ka->key_len) == 0);
}

/* FUZZ_VERBOSE=1: one line per input with how each side ended (to see
 * what a seed or a reproducer does). */
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  static world w; /* large (queues); zeroed below */
  memset(&w, 0, sizeof(w));
  w.in = data + 2;
  w.left = size - 2;
  w.now = FUZZ_T0;
  fakeclock_set(w.now);
  fuzz_rng_reset();

  for (int i = 0; i < 2; i++)
    side_init(&w, i, data[0], data[1]);
  use(&w.s[0]);
  FUZZ_CHECK(rtcsec_dtls_start(w.s[0].d, w.now) == 0);
  settle(&w);

  for (int n = 0; n < MAX_OPS && w.left > 0; n++) {
    step(&w, take(&w, 1));
    settle(&w);
    w.now += MS;
    fakeclock_set(w.now);
  }

  for (int i = 0; i < 2; i++)
    fuzz_dtls_check_final(w.s[i].d, &w.s[i].w);
  if (w.s[0].w.connected && w.s[1].w.connected)
    check_keys(&w.s[0], &w.s[1]);
  if (verbose) {
    for (int i = 0; i < 2; i++) {
      const side *s = &w.s[i];
      fprintf(stderr, "%s: %s connected %d data %d closed %d error %d (%s)%s",
              i ? "server" : "client", rtcsec_dtls_state_name(rtcsec_dtls_get_state(s->d)),
              s->w.connected, s->w.data, s->w.closed, s->w.error, rtcsec_strerror(s->w.error),
              i ? "\n" : "; ");
    }
  }

  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_free(w.s[i].d);
    rtcsec_srtp_keys_wipe(&w.s[i].w.keys);
    q_clear(&w.q[i]);
  }
  return 0;
}
