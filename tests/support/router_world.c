#include "router_world.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "rtcsec/stun.h"
#include "transport_util.h"

void leg_addr(int idx, int which, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (which == ADDR_MAIN && idx % 4 == 3) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)(BASE_PORT + idx));
    sin6->sin6_addr = in6addr_loopback;
    *len = sizeof(*sin6);
    return;
  }
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  sin->sin_family = AF_INET;
  sin->sin_port = htons((uint16_t)(BASE_PORT + idx));
  sin->sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)which);
  *len = sizeof(*sin);
}

/* The leg and address a router output goes to; -1 if none of ours. */
int decode_addr(const struct sockaddr_storage *ss, socklen_t len, int *which) {
  if (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    if (memcmp(&sin6->sin6_addr, &in6addr_loopback, 16) != 0)
      return -1;
    *which = ADDR_MAIN;
    return ntohs(sin6->sin6_port) - BASE_PORT;
  }
  if (ss->ss_family != AF_INET || len != sizeof(struct sockaddr_in))
    return -1;
  const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
  uint32_t a = ntohl(sin->sin_addr.s_addr);
  if (a < 0x7f000001u || a > 0x7f000003u)
    return -1;
  *which = (int)(a - 0x7f000001u);
  return ntohs(sin->sin_port) - BASE_PORT;
}

void q_push(world *w, int to_router, int leg_idx, int which, const uint8_t *d, size_t n) {
  ck_assert_uint_le(n, MAX_PKT);
  if (w->q_tail == w->q_cap) {
    if (w->q_head > 0) {
      memmove(w->q, w->q + w->q_head, (w->q_tail - w->q_head) * sizeof(pkt));
      w->q_tail -= w->q_head;
      w->q_head = 0;
    }
    if (w->q_tail == w->q_cap) {
      w->q_cap = w->q_cap ? w->q_cap * 2 : 256;
      w->q = realloc(w->q, w->q_cap * sizeof(pkt));
      ck_assert_ptr_nonnull(w->q);
    }
  }
  pkt *p = &w->q[w->q_tail++];
  p->to_router = to_router;
  p->leg = leg_idx;
  p->which = which;
  p->len = n;
  memcpy(p->data, d, n);
}

static void make_ids(leg *l, int idx) {
  l->idx = idx;
  snprintf(l->srv_ufrag, sizeof(l->srv_ufrag), "S%04dufrg", idx);
  snprintf(l->srv_pwd, sizeof(l->srv_pwd), "srvpassword%04d+ABCDEFGHIJ", idx);
  snprintf(l->cli_ufrag, sizeof(l->cli_ufrag), "C%04d", idx);
}

world *world_new(int n, rtcsec_dtls_role router_role) {
  world *w = calloc(1, sizeof(*w));
  ck_assert_ptr_nonnull(w);
  w->now = 1000 * SEC;
  fakeclock_set(w->now);
  ck_assert_int_eq(rtcsec_cert_generate(&w->srv_cert, NULL), 0);
  ck_assert_int_eq(rtcsec_cert_generate(&w->cli_cert, NULL), 0);
  ck_assert_int_eq(rtcsec_cert_fingerprint(w->srv_cert, RTCSEC_HASH_SHA256, &w->srv_fp), 0);
  ck_assert_int_eq(rtcsec_cert_fingerprint(w->cli_cert, RTCSEC_HASH_SHA256, &w->cli_fp), 0);
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = w->srv_cert;
  rc.hash_seed = 0x5eed;
  ck_assert_int_eq(rtcsec_router_new(&w->r, &rc), 0);
  w->n = n;
  w->echo = 1;
  w->legs = calloc((size_t)n, sizeof(leg));
  ck_assert_ptr_nonnull(w->legs);
  for (int i = 0; i < n; i++) {
    leg *l = &w->legs[i];
    make_ids(l, i);
    rtcsec_router_session_config sc;
    rtcsec_router_session_config_default(&sc);
    sc.local_ufrag = l->srv_ufrag;
    sc.local_pwd = l->srv_pwd;
    sc.remote_ufrag = l->cli_ufrag;
    sc.peer_fingerprints = &w->cli_fp;
    sc.n_peer_fingerprints = 1;
    sc.role = router_role;
    sc.user = l;
    ck_assert_int_eq(rtcsec_router_add_session(w->r, &sc, w->now, &l->id), 0);
    rtcsec_transport_config tc;
    rtcsec_transport_config_default(&tc);
    tc.dtls.cert = w->cli_cert;
    tc.dtls.role = router_role == RTCSEC_DTLS_SERVER ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    tc.dtls.peer_fingerprints = &w->srv_fp;
    tc.dtls.n_peer_fingerprints = 1;
    ck_assert_int_eq(rtcsec_transport_new(&l->t, &tc), 0);
  }
  return w;
}

void world_free(world *w) {
  rtcsec_router_free(w->r);
  for (int i = 0; i < w->n; i++)
    rtcsec_transport_free(w->legs[i].t);
  free(w->legs);
  free(w->q);
  rtcsec_cert_free(w->srv_cert);
  rtcsec_cert_free(w->cli_cert);
  free(w);
}

/* ---- the client's ICE: a controlling full agent (RFC 8445 §7.2.2) --------------------- */

size_t build_check(world *w, leg *l, const check_opts *o, uint8_t *buf, size_t cap) {
  uint8_t tid[12];
  if (o->tid) {
    memcpy(tid, o->tid, 12);
  } else {
    uint64_t c = ++w->tid_counter;
    memset(tid, 0xa5, 12);
    memcpy(tid, &c, sizeof(c));
    tid[11] = (uint8_t)l->idx;
  }
  memcpy(l->last_tid, tid, 12);
  char user[64];
  if (o->username)
    snprintf(user, sizeof(user), "%s", o->username);
  else
    snprintf(user, sizeof(user), "%s:%s", l->srv_ufrag, l->cli_ufrag);
  const char *pwd = o->pwd ? o->pwd : l->srv_pwd;
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_add_username(&b, user, strlen(user));
  rtcsec_stun_add_u32(&b, RTCSEC_STUN_ATTR_PRIORITY, 0x6e001eff);
  rtcsec_stun_add_u64(
      &b, o->controlled ? RTCSEC_STUN_ATTR_ICE_CONTROLLED : RTCSEC_STUN_ATTR_ICE_CONTROLLING,
      UINT64_C(0x1122334455667788) + (uint64_t)l->idx);
  if (o->use_candidate)
    rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  if (o->extra_attr)
    rtcsec_stun_add_attr(&b, o->extra_attr, NULL, 0);
  rtcsec_stun_add_integrity(&b, (const uint8_t *)pwd, strlen(pwd));
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  return n;
}

void send_check(world *w, leg *l, int from, const check_opts *o) {
  uint8_t buf[600];
  size_t n = build_check(w, l, o, buf, sizeof(buf));
  q_push(w, 1, l->idx, from, buf, n);
}

void client_flush(world *w, leg *l) {
  uint8_t buf[MAX_PKT];
  for (int i = 0; i < 100; i++) {
    size_t n = 0;
    ck_assert_int_eq(rtcsec_transport_poll_datagram(l->t, buf, sizeof(buf), &n), 0);
    if (n == 0)
      break;
    q_push(w, 1, l->idx, l->send_from, buf, n);
  }
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_transport_poll_event(l->t, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      l->cli_connected++;
    else if (ev.type == RTCSEC_EVENT_FAILED)
      l->cli_failed++;
  }
}

/* A STUN answer at the client: must be ours, authenticated by the
 * server's password, with FINGERPRINT, mapping our own address. */
static void client_stun(world *w, leg *l, int which, const uint8_t *d, size_t n) {
  rtcsec_stun_msg m;
  if (rtcsec_stun_parse(&m, d, n) != 0 || !(m.present & RTCSEC_STUN_HAS_FINGERPRINT) ||
      memcmp(m.tid, l->last_tid, 12) != 0 ||
      rtcsec_stun_check_integrity(&m, (const uint8_t *)l->srv_pwd, strlen(l->srv_pwd)) != 0) {
    l->bad_responses++;
    return;
  }
  if (m.cls == RTCSEC_STUN_ERROR) {
    l->error_responses++;
    l->last_error_code = (uint64_t)m.error_code;
    return;
  }
  struct sockaddr_storage mine;
  socklen_t mine_len;
  leg_addr(l->idx, which, &mine, &mine_len);
  if (m.cls != RTCSEC_STUN_SUCCESS || !(m.present & RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS) ||
      m.xor_mapped_len != mine_len || memcmp(&m.xor_mapped, &mine, mine_len) != 0) {
    l->bad_responses++;
    return;
  }
  l->responses++;
  /* The controlling agent nominated this pair; DTLS may start now. */
  if (!l->dtls_started) {
    l->dtls_started = 1;
    ck_assert_int_eq(rtcsec_transport_start(l->t, w->now), 0);
    client_flush(w, l);
  }
}

static void client_input(world *w, leg *l, int which, uint8_t *d, size_t n) {
  l->rx[which]++;
  if (rtcsec_demux_classify(d, n) == RTCSEC_PKT_STUN) {
    client_stun(w, l, which, d, n);
    return;
  }
  rtcsec_transport_input in;
  int rc = rtcsec_transport_handle_datagram(l->t, d, n, w->now, &in);
  if (in.kind == RTCSEC_PKT_RTP) {
    uint32_t ssrc = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11];
    if (rc == 0 && ssrc == 0x20000u + (uint32_t)l->idx && tpair_rtp_payload_ok(d, in.len))
      l->rtp_ok++;
    else
      l->rtp_bad++;
  }
  client_flush(w, l);
}

/* ---- the router side ----------------------------------------------------------------- */

void router_flush(world *w) {
  uint8_t buf[MAX_PKT];
  for (int i = 0; i < 100000; i++) {
    size_t n = 0;
    struct sockaddr_storage dst;
    socklen_t dst_len = 0;
    ck_assert_int_eq(rtcsec_router_poll_datagram(w->r, buf, sizeof(buf), &n, &dst, &dst_len, NULL),
                     0);
    if (n == 0)
      break;
    w->router_sent++;
    int which = 0, idx = decode_addr(&dst, dst_len, &which);
    if (idx < 0 || idx >= w->n) {
      w->out_to_unknown++;
      continue;
    }
    w->sent_to[which]++;
    if (w->drop_router_dtls > 0 && rtcsec_demux_classify(buf, n) == RTCSEC_PKT_DTLS) {
      w->drop_router_dtls--;
      w->dropped++;
      continue;
    }
    q_push(w, 0, idx, which, buf, n);
  }
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_router_poll_event(w->r, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    leg *l = ev.user;
    ck_assert_ptr_nonnull(l);
    ck_assert(ev.session == l->id);
    switch (ev.type) {
    case RTCSEC_EVENT_NOMINATED:
      l->nominated_events++;
      l->moved_events += ev.address.moved;
      break;
    case RTCSEC_EVENT_CONNECTED:
      l->srv_connected++;
      ck_assert(rtcsec_fingerprint_equal(&ev.connected.peer_fingerprint, &w->cli_fp));
      break;
    case RTCSEC_EVENT_FAILED:
      l->srv_failed++;
      break;
    case RTCSEC_EVENT_CLOSED:
      l->srv_closed++;
      break;
    case RTCSEC_EVENT_EXPIRED:
      l->expired++;
      w->expired_events++;
      break;
    default:
      w->other_events++;
      break;
    }
  }
}

static void router_input(world *w, pkt *p) {
  struct sockaddr_storage src;
  socklen_t src_len;
  leg_addr(p->leg, p->which, &src, &src_len);
  rtcsec_router_input in;
  w->last_rc = rtcsec_router_handle_datagram(w->r, p->data, p->len, &src, src_len, w->now, &in);
  if (w->last_rc == 0 && (in.kind == RTCSEC_PKT_RTP || in.kind == RTCSEC_PKT_RTCP)) {
    leg *l = in.user;
    ck_assert_ptr_nonnull(l);
    const uint8_t *d = p->data;
    uint32_t ssrc = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11];
    if (in.kind == RTCSEC_PKT_RTCP)
      ssrc = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    /* the right session only: the one whose leg sent it */
    if (l->idx != p->leg || in.session != l->id || ssrc != 0x10000u + (uint32_t)p->leg ||
        (in.kind == RTCSEC_PKT_RTP && !tpair_rtp_payload_ok(d, in.len))) {
      l->media_wrong++;
      return;
    }
    l->media_at_router++;
    if (w->echo && in.kind == RTCSEC_PKT_RTP) {
      uint8_t buf[MAX_PKT];
      uint16_t seq = (uint16_t)(d[2] << 8 | d[3]);
      size_t n = tpair_make_rtp(buf, 0x20000u + (uint32_t)l->idx, seq, 100), out = 0;
      struct sockaddr_storage dst;
      socklen_t dst_len = 0;
      ck_assert_int_eq(
          rtcsec_router_protect_rtp(w->r, l->id, buf, n, sizeof(buf), &out, &dst, &dst_len, w->now),
          0);
      int which = 0;
      ck_assert_int_eq(decode_addr(&dst, dst_len, &which), l->idx);
      w->sent_to[which]++;
      q_push(w, 0, l->idx, which, buf, out);
    }
  }
  router_flush(w);
}

/* Delivers everything in flight (zero delay), then what it causes. */
void settle(world *w) {
  for (int i = 0; i < 10000000 && w->q_head < w->q_tail; i++) {
    pkt p = w->q[w->q_head++];
    if (p.to_router)
      router_input(w, &p);
    else
      client_input(w, &w->legs[p.leg], p.which, p.data, p.len);
  }
  ck_assert_uint_eq(w->q_head, w->q_tail);
  w->q_head = w->q_tail = 0;
}

/* Advances the clock to `t`, running every deadline on the way. */
void advance_to(world *w, uint64_t t) {
  for (int guard = 0; guard < 100000; guard++) {
    settle(w);
    uint64_t next = rtcsec_router_deadline(w->r);
    for (int i = 0; i < w->n; i++) {
      uint64_t d = rtcsec_transport_deadline(w->legs[i].t);
      if (d < next)
        next = d;
    }
    if (next > t)
      break;
    if (next > w->now)
      w->now = next;
    fakeclock_set(w->now);
    rtcsec_router_handle_timeout(w->r, w->now);
    router_flush(w);
    for (int i = 0; i < w->n; i++) {
      if (rtcsec_transport_deadline(w->legs[i].t) <= w->now) {
        rtcsec_transport_handle_timeout(w->legs[i].t, w->now);
        client_flush(w, &w->legs[i]);
      }
    }
  }
  settle(w);
  if (t > w->now)
    w->now = t;
  fakeclock_set(w->now);
}

int all_connected(const world *w) {
  for (int i = 0; i < w->n; i++) {
    if (!w->legs[i].cli_connected || !w->legs[i].srv_connected)
      return 0;
  }
  return 1;
}

/* Each leg nominates its primary address; handshakes run to the end. */
void connect_all(world *w) {
  static const check_opts nominate = {.use_candidate = 1};
  for (int i = 0; i < w->n; i++)
    send_check(w, &w->legs[i], ADDR_MAIN, &nominate);
  for (int round = 0; round < 200 && !all_connected(w); round++)
    advance_to(w, w->now + 50 * MS);
  ck_assert_msg(all_connected(w), "not all legs connected");
}

int send_rtp(world *w, leg *l, int from, uint16_t seq) {
  uint8_t buf[MAX_PKT];
  size_t n = tpair_make_rtp(buf, 0x10000u + (uint32_t)l->idx, seq, 160), out = 0;
  int rc = rtcsec_transport_protect_rtp(l->t, buf, n, sizeof(buf), &out, w->now);
  if (rc == 0)
    q_push(w, 1, l->idx, from, buf, out);
  return rc;
}

void media_round_trip(world *w, leg *l, int from, uint16_t seq) {
  uint64_t ok0 = l->rtp_ok;
  ck_assert_int_eq(send_rtp(w, l, from, seq), 0);
  settle(w);
  ck_assert_uint_eq(l->rtp_ok, ok0 + 1);
}

rtcsec_router_stats stats_of(const world *w) {
  rtcsec_router_stats st;
  ck_assert_int_eq(rtcsec_router_get_stats(w->r, &st), 0);
  return st;
}

uint64_t consent_of(const world *w, const leg *l) {
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
  return info.consent_expires;
}

int addr_is(const world *w, const leg *l, int which) {
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
  struct sockaddr_storage a;
  socklen_t alen;
  leg_addr(l->idx, which, &a, &alen);
  return info.addr_len == alen && memcmp(&info.addr, &a, alen) == 0;
}
