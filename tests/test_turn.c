/* The STUN / TURN client over DTLS (ice/turn.c), in memory: a tiny TURN
 * server written here, on an rtcsec_dtls server association, over the
 * seeded lossy link with the fake clock. Binding, the long-term credential
 * (401 then MESSAGE-INTEGRITY, 438 stale nonce), Allocate, Refresh,
 * CreatePermission, ChannelBind, Send / Data indications, ChannelData,
 * the RFC 8489 retransmission schedule, a server that fails
 * authentication before any STUN, and hostile answers. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "dtls_pair.h"
#include "fakeclock.h"
#include "harness.h"
#include "link.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/stun.h"
#include "rtcsec/turn.h"

#define USER "alice"
#define PASS "wonderland"
#define REALM "rtcsec.test"
#define UNKNOWN_REQUIRED_ATTR 0x7ff0

static struct sockaddr_in v4(const char *ip, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
  return a;
}

static int same_v4(const struct sockaddr_storage *s, const struct sockaddr_in *a) {
  const struct sockaddr_in *x = (const struct sockaddr_in *)s;
  return s->ss_family == AF_INET && x->sin_port == a->sin_port &&
         x->sin_addr.s_addr == a->sin_addr.s_addr;
}

/* ---- the test TURN server ------------------------------------------------------ */

#define CACHE 16
#define MAX_SEEN 64

typedef struct tserver {
  rtcsec_dtls *d;
  char nonce[32];
  unsigned nonce_gen;
  uint8_t key[16];
  int allocated;
  uint32_t lifetime;
  struct sockaddr_in mapped, relayed;
  struct sockaddr_in perms[8];
  int n_perms;
  uint16_t ch[8];
  struct sockaddr_in ch_peer[8];
  int n_ch;
  /* RFC 8489 §6.3.1: answers to retransmissions are the first answers */
  uint8_t cache_tid[CACHE][12];
  uint8_t cache_msg[CACHE][512];
  size_t cache_len[CACHE];
  size_t cache_next;
  /* what arrived */
  int stun_seen, requests[16], unauthenticated[16], stale[16];
  int retransmissions_seen;
  uint8_t got[2048];
  size_t got_len;
  int got_count, got_via_channel;
  struct sockaddr_in got_peer;
  /* behaviour */
  int ignore_all;          /* answers nothing */
  int stale_next;          /* the next authenticated request gets 438 */
  int bad_integrity;       /* success responses carry a wrong MESSAGE-INTEGRITY */
  int no_integrity;        /* success responses carry none */
  int unknown_attr;        /* success responses carry an unknown required attribute */
  int mismatch;            /* Allocate answered 437 */
  uint32_t grant_lifetime; /* 0: what was asked for, capped at 3600 */
} tserver;

static void ts_send(tserver *ts, const uint8_t *p, size_t n, uint64_t now) {
  ck_assert_int_eq(rtcsec_dtls_send_data(ts->d, p, n, now), 0);
}

static void ts_cache(tserver *ts, const uint8_t *tid, const uint8_t *msg, size_t n) {
  size_t i = ts->cache_next++ % CACHE;
  memcpy(ts->cache_tid[i], tid, 12);
  ck_assert_uint_le(n, sizeof(ts->cache_msg[i]));
  memcpy(ts->cache_msg[i], msg, n);
  ts->cache_len[i] = n;
}

static void ts_new_nonce(tserver *ts) {
  snprintf(ts->nonce, sizeof(ts->nonce), "nonce-%u", ++ts->nonce_gen);
}

/* An error response: 401 and 438 with REALM and NONCE, no integrity. */
static void ts_error(tserver *ts, const rtcsec_stun_msg *m, int code, uint64_t now) {
  uint8_t out[512];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, sizeof(out), m->method, RTCSEC_STUN_ERROR, m->tid);
  rtcsec_stun_add_error_code(&b, code, code == 401 ? "Unauthenticated" : "Stale Nonce");
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_REALM, REALM, strlen(REALM));
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_NONCE, ts->nonce, strlen(ts->nonce));
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  ts_send(ts, out, n, now);
}

static int ts_has_perm(const tserver *ts, const struct sockaddr_in *a) {
  for (int i = 0; i < ts->n_perms; i++) {
    if (ts->perms[i].sin_addr.s_addr == a->sin_addr.s_addr)
      return 1;
  }
  return 0;
}

static void ts_peer_of(const rtcsec_stun_msg *m, struct sockaddr_in *out) {
  const uint8_t *v = NULL;
  size_t n = 0;
  ck_assert(rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS, &v, &n));
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  ck_assert_int_eq(rtcsec_stun_decode_xor_address(m, v, n, &ss, &sl), 0);
  memcpy(out, &ss, sizeof(*out));
}

static void ts_request(tserver *ts, const rtcsec_stun_msg *m, uint64_t now) {
  for (size_t i = 0; i < CACHE && i < ts->cache_next; i++) {
    if (memcmp(ts->cache_tid[i], m->tid, 12) == 0) {
      ts->retransmissions_seen++;
      ts_send(ts, ts->cache_msg[i], ts->cache_len[i], now);
      return;
    }
  }
  ts->requests[m->method]++;
  uint8_t out[512];
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, sizeof(out), m->method, RTCSEC_STUN_SUCCESS, m->tid);
  if (m->method != RTCSEC_STUN_BINDING) {
    /* RFC 8489 §9.2.4: the long-term credential */
    if (!(m->present & RTCSEC_STUN_HAS_INTEGRITY) || !(m->present & RTCSEC_STUN_HAS_USERNAME)) {
      ts->unauthenticated[m->method]++;
      ts_error(ts, m, 401, now);
      return;
    }
    if (m->nonce_len != strlen(ts->nonce) || memcmp(m->nonce, ts->nonce, m->nonce_len) != 0 ||
        ts->stale_next) {
      ts->stale_next = 0;
      ts->stale[m->method]++;
      ts_new_nonce(ts);
      ts_error(ts, m, 438, now);
      return;
    }
    if (m->username_len != strlen(USER) || memcmp(m->username, USER, m->username_len) != 0 ||
        rtcsec_stun_check_integrity(m, ts->key, sizeof(ts->key)) != 0) {
      ts->unauthenticated[m->method]++;
      ts_error(ts, m, 401, now);
      return;
    }
  }
  switch (m->method) {
  case RTCSEC_STUN_BINDING:
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS,
                                (const struct sockaddr *)&ts->mapped, sizeof(ts->mapped));
    break;
  case RTCSEC_STUN_ALLOCATE: {
    if (ts->mismatch) {
      rtcsec_stun_builder_init(&b, out, sizeof(out), m->method, RTCSEC_STUN_ERROR, m->tid);
      rtcsec_stun_add_error_code(&b, 437, "Allocation Mismatch");
      break;
    }
    const uint8_t *v = NULL;
    size_t n = 0;
    ck_assert(rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_REQUESTED_TRANSPORT, &v, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(v[0], 17);
    uint32_t asked =
        rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_LIFETIME, &v, &n) ? rtcsec_be32(v) : 600;
    ts->lifetime = ts->grant_lifetime ? ts->grant_lifetime : (asked > 3600 ? 3600 : asked);
    ts->allocated = 1;
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_RELAYED_ADDRESS,
                                (const struct sockaddr *)&ts->relayed, sizeof(ts->relayed));
    rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_LIFETIME, ts->lifetime);
    rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS,
                                (const struct sockaddr *)&ts->mapped, sizeof(ts->mapped));
    break;
  }
  case RTCSEC_STUN_REFRESH: {
    const uint8_t *v = NULL;
    size_t n = 0;
    uint32_t asked =
        rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_LIFETIME, &v, &n) ? rtcsec_be32(v) : 600;
    ts->lifetime = asked > 3600 ? 3600 : asked;
    if (asked == 0)
      ts->allocated = 0;
    rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_LIFETIME, ts->lifetime);
    break;
  }
  case RTCSEC_STUN_CREATE_PERMISSION: {
    struct sockaddr_in remote;
    ts_peer_of(m, &remote);
    if (!ts_has_perm(ts, &remote)) {
      ck_assert_int_lt(ts->n_perms, 8);
      ts->perms[ts->n_perms++] = remote;
    }
    break;
  }
  case RTCSEC_STUN_CHANNEL_BIND: {
    const uint8_t *v = NULL;
    size_t n = 0;
    ck_assert(rtcsec_stun_find_attr(m, RTCSEC_STUN_ATTR_CHANNEL_NUMBER, &v, &n));
    ck_assert_uint_eq(n, 4);
    uint16_t ch = rtcsec_be16(v);
    int k = 0;
    while (k < ts->n_ch && ts->ch[k] != ch)
      k++;
    if (k == ts->n_ch) {
      ck_assert_int_lt(ts->n_ch, 8);
      ts->n_ch++;
    }
    ts->ch[k] = ch;
    ts_peer_of(m, &ts->ch_peer[k]);
    if (!ts_has_perm(ts, &ts->ch_peer[k]))
      ts->perms[ts->n_perms++] = ts->ch_peer[k];
    break;
  }
  default:
    return;
  }
  if (ts->unknown_attr)
    rtcsec_stun_add_u32(&b, UNKNOWN_REQUIRED_ATTR, 1);
  if (m->method != RTCSEC_STUN_BINDING && !ts->no_integrity) {
    static const uint8_t wrong[16] = {1};
    rtcsec_stun_add_integrity(&b, ts->bad_integrity ? wrong : ts->key, 16);
  }
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  ts_cache(ts, m->tid, out, n);
  ts_send(ts, out, n, now);
}

static void ts_record(tserver *ts, const uint8_t *p, size_t n, uint64_t now) {
  if (ts->ignore_all)
    return;
  if ((p[0] & 0xc0) == 0x40) {
    ck_assert_uint_ge(n, 4);
    uint16_t ch = rtcsec_be16(p);
    for (int k = 0; k < ts->n_ch; k++) {
      if (ts->ch[k] == ch) {
        size_t len = rtcsec_be16(p + 2);
        ck_assert_uint_eq(len + 4, n); /* no padding over DTLS */
        memcpy(ts->got, p + 4, len);
        ts->got_len = len;
        ts->got_peer = ts->ch_peer[k];
        ts->got_count++;
        ts->got_via_channel = 1;
      }
    }
    return;
  }
  rtcsec_stun_msg m;
  ck_assert_int_eq(rtcsec_stun_parse(&m, p, n), 0);
  ts->stun_seen++;
  if (m.cls == RTCSEC_STUN_REQUEST) {
    ts_request(ts, &m, now);
  } else if (m.cls == RTCSEC_STUN_INDICATION && m.method == RTCSEC_STUN_SEND) {
    struct sockaddr_in remote;
    ts_peer_of(&m, &remote);
    const uint8_t *v = NULL;
    size_t len = 0;
    ck_assert(rtcsec_stun_find_attr(&m, RTCSEC_STUN_ATTR_DATA, &v, &len));
    if (ts_has_perm(ts, &remote)) { /* RFC 8656 §10.2: else silently dropped */
      memcpy(ts->got, v, len);
      ts->got_len = len;
      ts->got_peer = remote;
      ts->got_count++;
      ts->got_via_channel = 0;
    }
  }
}

static void ts_process(tserver *ts, uint64_t now) {
  rtcsec_event ev;
  while (rtcsec_dtls_poll_event(ts->d, &ev) == 0 && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_DATA) {
      uint8_t copy[2048];
      ck_assert_uint_le(ev.data.len, sizeof(copy));
      memcpy(copy, ev.data.data, ev.data.len);
      ts_record(ts, copy, ev.data.len, now);
    }
  }
}

/* Relays `data` from a peer to the client: Data indication or ChannelData. */
static void ts_relay(tserver *ts, const struct sockaddr_in *remote, const char *data, int channel,
                     uint64_t now) {
  uint8_t out[512];
  size_t n = strlen(data);
  if (channel) {
    int k = 0;
    while (k < ts->n_ch && ts->ch_peer[k].sin_port != remote->sin_port)
      k++;
    ck_assert_int_lt(k, ts->n_ch);
    rtcsec_put_be16(out, ts->ch[k]);
    rtcsec_put_be16(out + 2, (uint16_t)n);
    memcpy(out + 4, data, n);
    ts_send(ts, out, 4 + n, now);
    return;
  }
  uint8_t tid[12] = {9, 8, 7};
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, sizeof(out), RTCSEC_STUN_DATA, RTCSEC_STUN_INDICATION, tid);
  rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_PEER_ADDRESS,
                              (const struct sockaddr *)remote, sizeof(*remote));
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_DATA, data, n);
  size_t len = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &len), 0);
  ts_send(ts, out, len, now);
}

static int ts_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  tserver *ts = o;
  int rc = rtcsec_dtls_handle_datagram(ts->d, d, n, now);
  ts_process(ts, now);
  return rc;
}
static int ts_to(void *o, uint64_t now) {
  tserver *ts = o;
  int rc = rtcsec_dtls_handle_timeout(ts->d, now);
  ts_process(ts, now);
  return rc;
}
static uint64_t ts_dl(void *o) { return rtcsec_dtls_deadline(((tserver *)o)->d); }
static int ts_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_dtls_poll_datagram(((tserver *)o)->d, b, c, n);
}

/* ---- the client side ---------------------------------------------------------------- */

typedef struct tclient {
  rtcsec_turn *t;
  int connected, failed, error, closed;
  int mapped, allocated, refreshed, permissions, channels, relayed, errors;
  struct sockaddr_storage mapped_addr, relayed_addr, last_peer;
  uint32_t lifetime, refreshed_lifetime;
  uint16_t channel, last_channel;
  uint16_t error_method;
  int error_code;
  char error_reason[128];
  uint8_t data[2048];
  size_t data_len;
} tclient;

static void tc_poll(tclient *c) {
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_turn_poll_event(c->t, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      return;
    const rtcsec_turn_info *ti = &ev.turn;
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      c->connected++;
      break;
    case RTCSEC_EVENT_FAILED:
      c->failed++;
      c->error = ev.failed.error;
      break;
    case RTCSEC_EVENT_CLOSED:
      c->closed++;
      break;
    case RTCSEC_EVENT_MAPPED_ADDRESS:
      c->mapped++;
      c->mapped_addr = ti->addr;
      break;
    case RTCSEC_EVENT_ALLOCATED:
      c->allocated++;
      c->relayed_addr = ti->addr;
      c->lifetime = ti->lifetime_s;
      break;
    case RTCSEC_EVENT_REFRESHED:
      c->refreshed++;
      c->refreshed_lifetime = ti->lifetime_s;
      break;
    case RTCSEC_EVENT_PERMISSION:
      c->permissions++;
      c->last_peer = ti->addr;
      break;
    case RTCSEC_EVENT_CHANNEL_BOUND:
      c->channels++;
      c->channel = ti->channel;
      c->last_peer = ti->addr;
      break;
    case RTCSEC_EVENT_RELAYED_DATA:
      c->relayed++;
      ck_assert_uint_le(ti->len, sizeof(c->data));
      memcpy(c->data, ti->data, ti->len);
      c->data_len = ti->len;
      c->last_peer = ti->addr;
      c->last_channel = ti->channel;
      break;
    case RTCSEC_EVENT_TURN_ERROR:
      c->errors++;
      c->error_method = ti->method;
      c->error_code = ti->error_code;
      ck_assert_ptr_nonnull(ti->reason);
      snprintf(c->error_reason, sizeof(c->error_reason), "%s", ti->reason);
      break;
    default:
      ck_abort_msg("unexpected event %s", rtcsec_event_type_name(ev.type));
    }
  }
}

static int tc_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  tclient *c = o;
  int rc = rtcsec_turn_handle_datagram(c->t, d, n, now);
  tc_poll(c);
  return rc;
}
static int tc_to(void *o, uint64_t now) {
  tclient *c = o;
  int rc = rtcsec_turn_handle_timeout(c->t, now);
  tc_poll(c);
  return rc;
}
static uint64_t tc_dl(void *o) { return rtcsec_turn_deadline(((tclient *)o)->t); }
static int tc_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_turn_poll_datagram(((tclient *)o)->t, b, c, n);
}

/* ---- the fixture ------------------------------------------------------------------------- */

typedef struct fixture {
  rtcsec_cert *server_cert, *client_cert;
  tserver ts;
  tclient tc;
  harness_endpoint ep[2]; /* 0 client, 1 server */
  sim_link *link;
  uint64_t now;
  int (*until)(struct fixture *f);
} fixture;

typedef struct fixture_opts {
  link_config link;
  int wrong_fingerprint;
  const char *password;
  uint64_t rto_us;
  unsigned transmissions; /* Rc, 0: the default 7 */
} fixture_opts;

static void fixture_init(fixture *f, const fixture_opts *o) {
  memset(f, 0, sizeof(*f));
  f->server_cert = make_cert(RTCSEC_KEY_ECDSA_P256);
  f->client_cert = make_cert(RTCSEC_KEY_ECDSA_P256);
  tserver *ts = &f->ts;
  ts->mapped = v4("192.0.2.10", 40000);
  ts->relayed = v4("198.51.100.1", 50000);
  ts_new_nonce(ts);
  ck_assert_int_eq(rtcsec_stun_long_term_key(USER, REALM, PASS, ts->key), 0);
  rtcsec_dtls_config sc;
  rtcsec_dtls_config_default(&sc);
  sc.role = RTCSEC_DTLS_SERVER;
  sc.use_srtp = 0;
  sc.cert = f->server_cert;
  sc.mtu = 1400;
  rtcsec_fingerprint cfp = fp_of(f->client_cert, RTCSEC_HASH_SHA256);
  sc.peer_fingerprints = &cfp;
  sc.n_peer_fingerprints = 1;
  ck_assert_int_eq(rtcsec_dtls_new(&ts->d, &sc), 0);

  rtcsec_turn_config tc;
  rtcsec_turn_config_default(&tc);
  tc.dtls.cert = f->client_cert;
  rtcsec_fingerprint sfp =
      o->wrong_fingerprint ? wrong_fp() : fp_of(f->server_cert, RTCSEC_HASH_SHA256);
  tc.dtls.peer_fingerprints = &sfp;
  tc.dtls.n_peer_fingerprints = 1;
  tc.dtls.handshake_timeout_us = 20 * SEC;
  tc.username = USER;
  tc.password = o->password ? o->password : PASS;
  tc.software = "rtcsec test";
  if (o->rto_us)
    tc.rto_us = o->rto_us;
  if (o->transmissions)
    tc.transmissions = o->transmissions;
  ck_assert_int_eq(rtcsec_turn_new(&f->tc.t, &tc), 0);
  f->ep[0] = (harness_endpoint){&f->tc, tc_in, tc_to, tc_dl, tc_out};
  f->ep[1] = (harness_endpoint){&f->ts, ts_in, ts_to, ts_dl, ts_out};
  f->link = link_new(&o->link);
  fakeclock_set(0);
  ck_assert_int_eq(rtcsec_dtls_start(ts->d, 0), 0);
  ck_assert_int_eq(rtcsec_turn_start(f->tc.t, 0), 0);
}

static void fixture_free(fixture *f) {
  rtcsec_turn_free(f->tc.t);
  rtcsec_dtls_free(f->ts.d);
  rtcsec_cert_free(f->server_cert);
  rtcsec_cert_free(f->client_cert);
  link_free(f->link);
}

static int fixture_step(void *user, uint64_t now) {
  fixture *f = user;
  f->now = now;
  tc_poll(&f->tc);
  ts_process(&f->ts, now);
  return f->until != NULL && f->until(f);
}

/* Runs until the condition holds (1) or `span` of protocol time passed. */
static int run_until(fixture *f, int (*until)(fixture *f), uint64_t span) {
  f->until = until;
  harness_hooks hooks = {fixture_step, NULL, f};
  harness_end e = harness_run(f->ep, f->link, &f->now, f->now + span, &hooks);
  f->until = NULL;
  return e == HARNESS_STOPPED;
}

static int has_connected(fixture *f) { return f->tc.connected > 0 || f->tc.failed > 0; }
static int has_mapped(fixture *f) { return f->tc.mapped > 0 || f->tc.errors > 0; }
static int has_allocated(fixture *f) { return f->tc.allocated > 0 || f->tc.errors > 0; }
static int has_permission(fixture *f) { return f->tc.permissions > 0 || f->tc.errors > 0; }
static int has_channel(fixture *f) { return f->tc.channels > 0 || f->tc.errors > 0; }
static int has_error(fixture *f) { return f->tc.errors > 0; }
static int has_refreshed(fixture *f) { return f->tc.refreshed > 0 || f->tc.errors > 0; }
static int server_got(fixture *f) { return f->ts.got_count > 0; }
static int client_got(fixture *f) { return f->tc.relayed > 0; }
static int never(fixture *f) {
  (void)f;
  return 0;
}

static void allocate(fixture *f) {
  ck_assert_int_eq(rtcsec_turn_allocate(f->tc.t, f->now), 0);
  ck_assert(run_until(f, has_allocated, 120 * SEC));
  ck_assert_int_eq(f->tc.errors, 0);
  ck_assert_int_eq(f->tc.allocated, 1);
}

/* ---- tests ------------------------------------------------------------------------------------
 */

START_TEST(binding_returns_the_reflexive_address_over_dtls) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  /* asked before the handshake: queued, sent once the server is verified */
  ck_assert_int_eq(rtcsec_turn_binding(f.tc.t, 0), 0);
  ck_assert_int_eq(rtcsec_turn_get_state(f.tc.t), RTCSEC_TURN_STATE_CONNECTING);
  ck_assert(run_until(&f, has_mapped, 60 * SEC));
  ck_assert_int_eq(f.tc.connected, 1);
  ck_assert_int_eq(f.tc.mapped, 1);
  ck_assert(same_v4(&f.tc.mapped_addr, &f.ts.mapped));
  ck_assert_int_eq(f.ts.requests[RTCSEC_STUN_BINDING], 1);
  rtcsec_turn_stats st;
  ck_assert_int_eq(rtcsec_turn_get_stats(f.tc.t, &st), 0);
  ck_assert_uint_eq(st.requests_sent, 1);
  ck_assert_uint_eq(st.retransmissions, 0);
  ck_assert_uint_eq(st.dtls.records_authenticated, 1);
  fixture_free(&f);
}
END_TEST

/* The whole life of an allocation: 401 then the credential, permission,
 * Send / Data indications, a channel, ChannelData both ways, delete. */
START_TEST(allocation_relays_both_ways_by_indication_and_channel) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  allocate(&f);
  ck_assert_int_eq(f.ts.unauthenticated[RTCSEC_STUN_ALLOCATE], 1); /* the first: no credential */
  ck_assert_int_eq(f.ts.requests[RTCSEC_STUN_ALLOCATE], 2);
  ck_assert_int_eq(f.tc.mapped, 1);
  ck_assert(same_v4(&f.tc.relayed_addr, &f.ts.relayed));
  ck_assert_uint_eq(f.tc.lifetime, 600);
  struct sockaddr_storage rel;
  socklen_t rel_len = 0;
  ck_assert_int_eq(rtcsec_turn_get_relayed(f.tc.t, &rel, &rel_len), 0);
  ck_assert(same_v4(&rel, &f.ts.relayed));

  struct sockaddr_in remote = v4("203.0.113.5", 6000);
  const struct sockaddr *pa = (const struct sockaddr *)&remote;
  static const uint8_t hello[] = "hello remote";
  /* no permission yet: refused here, never sent */
  ck_assert_int_eq(rtcsec_turn_send(f.tc.t, pa, sizeof(remote), hello, sizeof(hello), f.now),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_turn_create_permission(f.tc.t, pa, sizeof(remote), f.now), 0);
  ck_assert(run_until(&f, has_permission, 60 * SEC));
  ck_assert_int_eq(f.tc.errors, 0);
  ck_assert(same_v4(&f.tc.last_peer, &remote));
  ck_assert_int_eq(f.ts.n_perms, 1);

  ck_assert_int_eq(rtcsec_turn_send(f.tc.t, pa, sizeof(remote), hello, sizeof(hello), f.now), 0);
  ck_assert(run_until(&f, server_got, 10 * SEC));
  ck_assert_int_eq(f.ts.got_via_channel, 0);
  ck_assert_uint_eq(f.ts.got_len, sizeof(hello));
  ck_assert_mem_eq(f.ts.got, hello, sizeof(hello));
  ts_relay(&f.ts, &remote, "hello client", 0, f.now);
  ck_assert(run_until(&f, client_got, 10 * SEC));
  ck_assert_uint_eq(f.tc.data_len, 12);
  ck_assert_mem_eq(f.tc.data, "hello client", 12);
  ck_assert_uint_eq(f.tc.last_channel, 0);
  ck_assert(same_v4(&f.tc.last_peer, &remote));

  ck_assert_int_eq(rtcsec_turn_bind_channel(f.tc.t, pa, sizeof(remote), f.now), 0);
  ck_assert(run_until(&f, has_channel, 60 * SEC));
  ck_assert_int_eq(f.tc.errors, 0);
  ck_assert_uint_eq(f.tc.channel, 0x4000);
  /* bound already: nothing new */
  ck_assert_int_eq(rtcsec_turn_bind_channel(f.tc.t, pa, sizeof(remote), f.now), 0);
  f.ts.got_count = 0;
  ck_assert_int_eq(rtcsec_turn_send(f.tc.t, pa, sizeof(remote), hello, 5, f.now), 0);
  ck_assert(run_until(&f, server_got, 10 * SEC));
  ck_assert_int_eq(f.ts.got_via_channel, 1);
  ck_assert_mem_eq(f.ts.got, hello, 5);
  f.tc.relayed = 0;
  ts_relay(&f.ts, &remote, "over the channel", 1, f.now);
  ck_assert(run_until(&f, client_got, 10 * SEC));
  ck_assert_uint_eq(f.tc.last_channel, 0x4000);
  ck_assert_mem_eq(f.tc.data, "over the channel", 16);

  rtcsec_turn_stats st;
  rtcsec_turn_get_stats(f.tc.t, &st);
  ck_assert_uint_eq(st.indications_sent, 1);
  ck_assert_uint_eq(st.channel_data_sent, 1);
  ck_assert_uint_eq(st.relayed_received, 2);
  ck_assert_uint_eq(st.auth_retries, 1);
  ck_assert_uint_eq(st.dropped, 0);

  ck_assert_int_eq(rtcsec_turn_refresh(f.tc.t, 0, f.now), 0);
  ck_assert(run_until(&f, has_refreshed, 60 * SEC));
  ck_assert_uint_eq(f.tc.refreshed_lifetime, 0);
  ck_assert_int_eq(f.ts.allocated, 0);
  ck_assert_int_eq(rtcsec_turn_get_relayed(f.tc.t, &rel, &rel_len), RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_turn_send(f.tc.t, pa, sizeof(remote), hello, 5, f.now),
                   RTCSEC_ERR_INVALID_STATE);
  fixture_free(&f);
}
END_TEST

START_TEST(stale_nonce_438_is_answered_with_the_new_nonce) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  allocate(&f);
  f.ts.stale_next = 1;
  struct sockaddr_in remote = v4("203.0.113.5", 6000);
  ck_assert_int_eq(rtcsec_turn_create_permission(f.tc.t, (const struct sockaddr *)&remote,
                                                 sizeof(remote), f.now),
                   0);
  ck_assert(run_until(&f, has_permission, 60 * SEC));
  ck_assert_int_eq(f.tc.errors, 0);
  ck_assert_int_eq(f.tc.permissions, 1);
  ck_assert_int_eq(f.ts.stale[RTCSEC_STUN_CREATE_PERMISSION], 1);
  ck_assert_int_eq(f.ts.requests[RTCSEC_STUN_CREATE_PERMISSION], 2);
  rtcsec_turn_stats st;
  rtcsec_turn_get_stats(f.tc.t, &st);
  ck_assert_uint_eq(st.auth_retries, 2); /* the 401 of Allocate, the 438 here */
  fixture_free(&f);
}
END_TEST

START_TEST(wrong_password_ends_the_allocation_with_401) {
  fixture f;
  fixture_opts o = {.password = "not it"};
  fixture_init(&f, &o);
  ck_assert_int_eq(rtcsec_turn_allocate(f.tc.t, 0), 0);
  ck_assert(run_until(&f, has_allocated, 60 * SEC));
  ck_assert_int_eq(f.tc.allocated, 0);
  ck_assert_int_eq(f.tc.errors, 1);
  ck_assert_uint_eq(f.tc.error_method, RTCSEC_STUN_ALLOCATE);
  ck_assert_int_eq(f.tc.error_code, 401);
  ck_assert_ptr_nonnull(strstr(f.tc.error_reason, "401"));
  /* once with no credential, once with the wrong one: no loop */
  ck_assert_int_eq(f.ts.requests[RTCSEC_STUN_ALLOCATE], 2);
  ck_assert_int_eq(f.ts.allocated, 0);
  fixture_free(&f);
}
END_TEST

START_TEST(allocation_mismatch_437_is_reported) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  f.ts.mismatch = 1;
  ck_assert_int_eq(rtcsec_turn_allocate(f.tc.t, 0), 0);
  ck_assert(run_until(&f, has_error, 60 * SEC));
  ck_assert_int_eq(f.tc.error_code, 437);
  ck_assert_uint_eq(f.tc.error_method, RTCSEC_STUN_ALLOCATE);
  ck_assert_int_eq(f.tc.allocated, 0);
  fixture_free(&f);
}
END_TEST

/* RFC 8656 §8, §9, §12: the allocation a minute before it expires, the
 * permission at 4 minutes, the channel at 9, for as long as it runs. */
START_TEST(refreshes_run_on_the_callers_clock) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  f.ts.grant_lifetime = 300;
  allocate(&f);
  ck_assert_uint_eq(f.tc.lifetime, 300);
  struct sockaddr_in p1 = v4("203.0.113.5", 6000), p2 = v4("203.0.113.6", 7000);
  ck_assert_int_eq(
      rtcsec_turn_create_permission(f.tc.t, (const struct sockaddr *)&p1, sizeof(p1), f.now), 0);
  ck_assert_int_eq(
      rtcsec_turn_bind_channel(f.tc.t, (const struct sockaddr *)&p2, sizeof(p2), f.now), 0);
  ck_assert(run_until(&f, has_channel, 60 * SEC));
  ck_assert(f.tc.permissions == 1 || run_until(&f, has_permission, 60 * SEC));
  uint64_t t0 = f.now;
  f.ts.grant_lifetime = 0;
  /* an hour of protocol time: refreshes only, on schedule */
  run_until(&f, never, 3600 * SEC);
  ck_assert_uint_ge(f.now, t0 + 3300 * SEC); /* the last refresh */
  ck_assert_int_eq(f.tc.errors, 0);
  ck_assert_int_eq(f.ts.allocated, 1);
  /* allocation: at 240 s (300 - 60), then every 540 s (600 - 60): 7 */
  ck_assert_int_ge(f.ts.requests[RTCSEC_STUN_REFRESH], 6);
  ck_assert_int_le(f.ts.requests[RTCSEC_STUN_REFRESH], 8);
  /* permission every 240 s: 15; channel every 540 s: 6 (+ the first) */
  ck_assert_int_ge(f.ts.requests[RTCSEC_STUN_CREATE_PERMISSION], 14);
  ck_assert_int_le(f.ts.requests[RTCSEC_STUN_CREATE_PERMISSION], 16);
  ck_assert_int_ge(f.ts.requests[RTCSEC_STUN_CHANNEL_BIND], 7);
  ck_assert_int_le(f.ts.requests[RTCSEC_STUN_CHANNEL_BIND], 8);
  ck_assert_int_eq(f.tc.channels, 1); /* a refreshed binding is not news */
  ck_assert_int_ge(f.tc.refreshed, 6);
  ck_assert_uint_eq(f.tc.refreshed_lifetime, 600);
  printf("one hour: %d refreshes, %d permissions, %d channel binds\n",
         f.ts.requests[RTCSEC_STUN_REFRESH], f.ts.requests[RTCSEC_STUN_CREATE_PERMISSION],
         f.ts.requests[RTCSEC_STUN_CHANNEL_BIND]);
  fixture_free(&f);
}
END_TEST

/* A refresh that gets no answer is reported and tried again 20 s later,
 * while the allocation still lives. */
START_TEST(failed_refresh_is_tried_again_before_the_allocation_expires) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  f.ts.grant_lifetime = 300;
  allocate(&f);
  uint64_t t_alloc = f.now;
  f.ts.ignore_all = 1;
  ck_assert(run_until(&f, has_error, 400 * SEC));
  ck_assert_uint_eq(f.tc.error_method, RTCSEC_STUN_REFRESH);
  ck_assert_int_eq(f.tc.error_code, 0);
  ck_assert_uint_eq(f.now - t_alloc, 240 * SEC + 39500 * MS); /* due at 240 s, 39.5 s of tries */
  f.ts.ignore_all = 0;
  f.ts.grant_lifetime = 0;
  f.tc.errors = 0;
  ck_assert(run_until(&f, has_refreshed, 60 * SEC));
  ck_assert_int_eq(f.tc.errors, 0);
  ck_assert_int_eq(f.tc.refreshed, 1);
  ck_assert_uint_eq(f.tc.refreshed_lifetime, 600);
  ck_assert_uint_lt(f.now - t_alloc, 300 * SEC); /* before the allocation expired */
  ck_assert_int_eq(f.ts.allocated, 1);
  fixture_free(&f);
}
END_TEST

/* RFC 8489 §6.2.1 over DTLS: sent at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s,
 * failed at 39.5 s, whatever DTLS does underneath. */
START_TEST(unanswered_request_follows_the_rfc8489_schedule) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  ck_assert(run_until(&f, has_connected, 60 * SEC));
  f.ts.ignore_all = 1;
  uint64_t t0 = f.now;
  ck_assert_int_eq(rtcsec_turn_binding(f.tc.t, f.now), 0);
  ck_assert(run_until(&f, has_error, 120 * SEC));
  ck_assert_uint_eq(f.now - t0, 39500 * MS);
  ck_assert_int_eq(f.tc.error_code, 0);
  ck_assert_uint_eq(f.tc.error_method, RTCSEC_STUN_BINDING);
  rtcsec_turn_stats st;
  rtcsec_turn_get_stats(f.tc.t, &st);
  ck_assert_uint_eq(st.requests_sent, 1);
  ck_assert_uint_eq(st.retransmissions, 6);
  ck_assert_uint_eq(st.transactions_failed, 1);
  fixture_free(&f);
}
END_TEST

/* Lost and reordered datagrams on the DTLS leg: the handshake and the
 * STUN layer each retransmit; every seed allocates and relays. A
 * transaction fails only if all Rc transmissions or their answers are
 * lost: at 20 % loss each way about 0.36^Rc, 8e-4 for RFC 8489's Rc = 7
 * (seed 23 of this sweep loses 7 ChannelBind requests or their answers in
 * a row), 4e-5 for the Rc = 10 used here (the last at 255.5 s). */
START_TEST(lossy_dtls_leg_still_allocates_and_relays) {
  uint64_t worst = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    fixture f;
    fixture_opts o = {.link = {.seed = seed, .loss = 0.2, .reorder = 0.2, .duplicate = 0.05},
                      .transmissions = 10};
    fixture_init(&f, &o);
    ck_assert_int_eq(rtcsec_turn_allocate(f.tc.t, 0), 0);
    ck_assert_msg(run_until(&f, has_allocated, 300 * SEC) && f.tc.allocated == 1,
                  "seed %llu: no allocation (errors %d)", (unsigned long long)seed, f.tc.errors);
    struct sockaddr_in remote = v4("203.0.113.5", 6000);
    const struct sockaddr *pa = (const struct sockaddr *)&remote;
    ck_assert_int_eq(rtcsec_turn_bind_channel(f.tc.t, pa, sizeof(remote), f.now), 0);
    int got_channel = run_until(&f, has_channel, 300 * SEC) && f.tc.channels == 1;
    ck_assert_msg(got_channel,
                  "seed %llu: no channel (error %d %s, method %u; server saw %d + %d again, %d "
                  "stale, %d unauth)",
                  (unsigned long long)seed, f.tc.error_code, f.tc.error_reason, f.tc.error_method,
                  f.ts.requests[RTCSEC_STUN_CHANNEL_BIND], f.ts.retransmissions_seen,
                  f.ts.stale[RTCSEC_STUN_CHANNEL_BIND],
                  f.ts.unauthenticated[RTCSEC_STUN_CHANNEL_BIND]);
    /* relayed data is unreliable like UDP: send until one arrives */
    for (int k = 0; k < 50 && f.ts.got_count == 0; k++) {
      ck_assert_int_eq(rtcsec_turn_send(f.tc.t, pa, sizeof(remote), (const uint8_t *)"x", 1, f.now),
                       0);
      run_until(&f, server_got, 100 * MS);
    }
    ck_assert_msg(f.ts.got_count > 0, "seed %llu: nothing relayed out", (unsigned long long)seed);
    for (int k = 0; k < 50 && f.tc.relayed == 0; k++) {
      ts_relay(&f.ts, &remote, "y", 1, f.now);
      run_until(&f, client_got, 100 * MS);
    }
    ck_assert_msg(f.tc.relayed > 0, "seed %llu: nothing relayed in", (unsigned long long)seed);
    if (f.now > worst)
      worst = f.now;
    fixture_free(&f);
  }
  printf("20%% loss, 20%% reordering: 40 seeds allocated and relayed, worst %.1f s\n", worst / 1e6);
}
END_TEST

/* RFC 8489 §6.2.3: a server whose certificate does not verify never sees
 * a STUN message, not even the requests asked for before the handshake. */
START_TEST(wrong_server_certificate_is_refused_before_any_stun) {
  fixture f;
  fixture_opts o = {.wrong_fingerprint = 1};
  fixture_init(&f, &o);
  ck_assert_int_eq(rtcsec_turn_binding(f.tc.t, 0), 0);
  ck_assert_int_eq(rtcsec_turn_allocate(f.tc.t, 0), 0);
  ck_assert(run_until(&f, has_connected, 60 * SEC));
  ck_assert_int_eq(f.tc.failed, 1);
  ck_assert_int_eq(f.tc.connected, 0);
  ck_assert_int_eq(f.tc.error, RTCSEC_ERR_FINGERPRINT_MISMATCH);
  ck_assert_int_eq(rtcsec_turn_get_state(f.tc.t), RTCSEC_TURN_STATE_FAILED);
  ck_assert_int_eq(rtcsec_turn_error(f.tc.t), RTCSEC_ERR_FINGERPRINT_MISMATCH);
  ck_assert_ptr_nonnull(strstr(rtcsec_turn_error_detail(f.tc.t), "fingerprint"));
  run_until(&f, never, 60 * SEC);
  ck_assert_int_eq(f.ts.stun_seen, 0);
  rtcsec_dtls_stats sst;
  rtcsec_dtls_get_stats(f.ts.d, &sst);
  ck_assert_uint_eq(sst.records_authenticated, 0);
  rtcsec_turn_stats st;
  rtcsec_turn_get_stats(f.tc.t, &st);
  ck_assert_uint_eq(st.requests_sent, 0);
  ck_assert_int_eq(rtcsec_turn_binding(f.tc.t, f.now), RTCSEC_ERR_INVALID_STATE);
  fixture_free(&f);
}
END_TEST

/* What the (authenticated) server may still get wrong: a response whose
 * MESSAGE-INTEGRITY fails or is missing is treated as never received
 * (RFC 8489 §9.2.5) and the request times out; an unknown
 * comprehension-required attribute fails the transaction (§6.3.3). */
START_TEST(responses_that_do_not_authenticate_are_ignored) {
  for (int k = 0; k < 3; k++) {
    fixture f;
    fixture_opts o = {.rto_us = 100 * MS};
    fixture_init(&f, &o);
    allocate(&f);
    f.ts.bad_integrity = k == 0;
    f.ts.no_integrity = k == 1;
    f.ts.unknown_attr = k == 2;
    struct sockaddr_in remote = v4("203.0.113.5", 6000);
    ck_assert_int_eq(rtcsec_turn_create_permission(f.tc.t, (const struct sockaddr *)&remote,
                                                   sizeof(remote), f.now),
                     0);
    ck_assert(run_until(&f, has_permission, 60 * SEC));
    ck_assert_int_eq(f.tc.permissions, 0);
    ck_assert_int_eq(f.tc.errors, 1);
    ck_assert_uint_eq(f.tc.error_method, RTCSEC_STUN_CREATE_PERMISSION);
    rtcsec_turn_stats st;
    rtcsec_turn_get_stats(f.tc.t, &st);
    if (k < 2) {
      ck_assert_int_eq(f.tc.error_code, 0); /* timed out: nothing authentic came */
      ck_assert_uint_ge(st.dropped, 7);
    } else {
      ck_assert_ptr_nonnull(strstr(f.tc.error_reason, "unknown comprehension-required"));
    }
    fixture_free(&f);
  }
}
END_TEST

/* Records the server sends that the client must drop and count. */
START_TEST(hostile_server_records_are_dropped_and_counted) {
  fixture f;
  fixture_opts o = {0};
  fixture_init(&f, &o);
  allocate(&f);
  struct sockaddr_in remote = v4("203.0.113.5", 6000), stranger = v4("203.0.113.99", 6000);
  const struct sockaddr *pa = (const struct sockaddr *)&remote;
  ck_assert_int_eq(rtcsec_turn_bind_channel(f.tc.t, pa, sizeof(remote), f.now), 0);
  ck_assert(run_until(&f, has_channel, 60 * SEC));
  rtcsec_turn_stats before, after;
  rtcsec_turn_get_stats(f.tc.t, &before);
  f.tc.relayed = 0;
  uint8_t rec[64];
  /* a Data indication from a peer without permission (RFC 8656 §11.4) */
  ts_relay(&f.ts, &stranger, "spoofed", 0, f.now);
  /* ChannelData on a channel never bound, out of range, length past the
   * end, more than 3 bytes of padding, 3 bytes */
  static const struct {
    uint8_t b[12];
    size_t n;
  } bad[] = {
      {{0x40, 0x01, 0x00, 0x01, 'a'}, 5},
      {{0x50, 0x00, 0x00, 0x01, 'a'}, 5},
      {{0x40, 0x00, 0x00, 0x09, 'a'}, 5},
      {{0x40, 0x00, 0x00, 0x01, 'a', 0, 0, 0, 0}, 9},
      {{0x40, 0x00, 0x00}, 3},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ts_send(&f.ts, bad[i].b, bad[i].n, f.now);
  /* not STUN, not ChannelData; STUN that does not parse; a response to no
   * transaction; a request (servers do not ask) */
  memset(rec, 0x80, sizeof(rec));
  ts_send(&f.ts, rec, 20, f.now);
  memset(rec, 0, sizeof(rec));
  ts_send(&f.ts, rec, 19, f.now);
  uint8_t tid[12] = {0x55};
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, rec, sizeof(rec), RTCSEC_STUN_BINDING, RTCSEC_STUN_SUCCESS, tid);
  size_t n = 0;
  rtcsec_stun_builder_finish(&b, &n);
  ts_send(&f.ts, rec, n, f.now);
  rtcsec_stun_builder_init(&b, rec, sizeof(rec), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_builder_finish(&b, &n);
  ts_send(&f.ts, rec, n, f.now);
  /* a padded ChannelData is fine (RFC 8656 §12.5) */
  static const uint8_t padded[] = {0x40, 0x00, 0x00, 0x01, 'z', 0, 0, 0};
  ts_send(&f.ts, padded, sizeof(padded), f.now);
  run_until(&f, never, 5 * SEC);
  rtcsec_turn_get_stats(f.tc.t, &after);
  ck_assert_uint_eq(after.dropped - before.dropped, 10);
  ck_assert_int_eq(f.tc.relayed, 1);
  ck_assert_uint_eq(f.tc.data_len, 1);
  ck_assert_uint_eq(f.tc.data[0], 'z');
  ck_assert_int_eq(rtcsec_turn_get_state(f.tc.t), RTCSEC_TURN_STATE_CONNECTED);
  /* datagrams that are not DTLS never reach the association */
  static const uint8_t stun_in_clear[20] = {0x01, 0x01};
  ck_assert_int_eq(rtcsec_turn_handle_datagram(f.tc.t, stun_in_clear, 20, f.now), 0);
  rtcsec_turn_get_stats(f.tc.t, &before);
  ck_assert_uint_eq(before.dropped, after.dropped + 1);
  fixture_free(&f);
}
END_TEST

START_TEST(api_misuse_is_refused) {
  rtcsec_turn_config c;
  rtcsec_turn_config_default(&c);
  rtcsec_turn *t = NULL;
  /* no way to authenticate the server */
  ck_assert_int_eq(rtcsec_turn_new(&t, &c), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_fingerprint fp = wrong_fp();
  c.dtls.peer_fingerprints = &fp;
  c.dtls.n_peer_fingerprints = 1;
  c.username = "u";
  ck_assert_int_eq(rtcsec_turn_new(&t, &c), RTCSEC_ERR_INVALID_ARGUMENT); /* no password */
  c.username = NULL;
  c.transmissions = 0;
  ck_assert_int_eq(rtcsec_turn_new(&t, &c), RTCSEC_ERR_INVALID_ARGUMENT);
  c.transmissions = 7;
  char big[RTCSEC_TURN_MAX_CREDENTIAL + 2];
  memset(big, 'u', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  c.username = big;
  c.password = "p";
  ck_assert_int_eq(rtcsec_turn_new(&t, &c), RTCSEC_ERR_INVALID_ARGUMENT);
  c.username = NULL;
  c.password = NULL;
  /* Binding only: no credential, a certificate made for us */
  ck_assert_int_eq(rtcsec_turn_new(&t, &c), 0);
  ck_assert_int_eq(rtcsec_turn_allocate(t, 0), RTCSEC_ERR_INVALID_STATE);
  struct sockaddr_in remote = v4("203.0.113.5", 6000);
  const struct sockaddr *pa = (const struct sockaddr *)&remote;
  ck_assert_int_eq(rtcsec_turn_create_permission(t, pa, sizeof(remote), 0),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(rtcsec_turn_send(t, pa, sizeof(remote), (const uint8_t *)"x", 1, 0),
                   RTCSEC_ERR_INVALID_STATE);
  struct sockaddr bad = {.sa_family = AF_UNIX};
  ck_assert_int_eq(rtcsec_turn_create_permission(t, &bad, sizeof(bad), 0),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_turn_create_permission(t, pa, 4, 0), RTCSEC_ERR_INVALID_ARGUMENT);
  /* the transaction table is bounded (RFC 8489 §6.2) */
  for (int i = 0; i < RTCSEC_TURN_MAX_TRANSACTIONS; i++)
    ck_assert_int_eq(rtcsec_turn_binding(t, 0), 0);
  ck_assert_int_eq(rtcsec_turn_binding(t, 0), RTCSEC_ERR_LIMIT);
  ck_assert_int_eq(rtcsec_turn_start(t, 0), 0);
  ck_assert_int_eq(rtcsec_turn_start(t, 0), RTCSEC_ERR_INVALID_STATE);
  uint8_t buf[1500];
  size_t n = 0;
  ck_assert_int_eq(rtcsec_turn_poll_datagram(t, buf, sizeof(buf), &n), 0);
  ck_assert_uint_gt(n, 0);
  ck_assert_uint_eq(buf[0], 22); /* the ClientHello: nothing but DTLS before the handshake */
  ck_assert_int_eq(rtcsec_turn_close(t, 0), 0);
  ck_assert_int_eq(rtcsec_turn_get_state(t), RTCSEC_TURN_STATE_CLOSED);
  ck_assert_int_eq(rtcsec_turn_binding(t, 0), RTCSEC_ERR_INVALID_STATE);
  ck_assert_str_eq(rtcsec_turn_state_name(RTCSEC_TURN_STATE_CONNECTED), "connected");
  ck_assert_str_eq(rtcsec_event_type_name(RTCSEC_EVENT_RELAYED_DATA), "relayed-data");
  rtcsec_turn_free(t);
  rtcsec_turn_free(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("turn");
  TCase *tc = tcase_create("turn");
  tcase_add_test(tc, binding_returns_the_reflexive_address_over_dtls);
  tcase_add_test(tc, allocation_relays_both_ways_by_indication_and_channel);
  tcase_add_test(tc, stale_nonce_438_is_answered_with_the_new_nonce);
  tcase_add_test(tc, wrong_password_ends_the_allocation_with_401);
  tcase_add_test(tc, allocation_mismatch_437_is_reported);
  tcase_add_test(tc, refreshes_run_on_the_callers_clock);
  tcase_add_test(tc, failed_refresh_is_tried_again_before_the_allocation_expires);
  tcase_add_test(tc, unanswered_request_follows_the_rfc8489_schedule);
  tcase_add_test(tc, lossy_dtls_leg_still_allocates_and_relays);
  tcase_add_test(tc, wrong_server_certificate_is_refused_before_any_stun);
  tcase_add_test(tc, responses_that_do_not_authenticate_are_ignored);
  tcase_add_test(tc, hostile_server_records_are_dropped_and_counted);
  tcase_add_test(tc, api_misuse_is_refused);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
