/* The single-port router (ice/router.c): many sessions on one port, the
 * ICE-lite responder, routing by ufrag and by address, consent, and bad
 * input. Everything runs in-process on a zero-delay in-memory network with
 * the fake clock (tests/support/router_world.h: each client leg is a small
 * controlling full-ICE agent plus a DTLS-client rtcsec_transport). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "router_world.h"
#include "rtcsec/router.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/stun.h"
#include "rtcsec/transport.h"
#include "transport_util.h"

/* ---- tests ----------------------------------------------------------------------------- */

START_TEST(two_hundred_sessions_connect_and_media_reaches_the_right_session_only) {
  world *w = world_new(200, RTCSEC_DTLS_SERVER);
  uint64_t t0 = w->now;
  connect_all(w);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.sessions, 200);
  ck_assert_uint_eq(st.nominated, 200);
  ck_assert_uint_eq(st.transports, 200);
  ck_assert_uint_eq(st.nominations, 200);
  ck_assert_uint_eq(st.moves, 0);
  ck_assert_uint_eq(st.stun_responses, 200);
  ck_assert_uint_eq(st.drop_unknown_source, 0);
  ck_assert_uint_eq(w->out_to_unknown, 0);
  /* one deadline for all: the earliest consent expiry, 30 s after the
   * sessions were added (no DTLS timer is pending once connected) */
  ck_assert(rtcsec_router_deadline(w->r) == t0 + 30 * (uint64_t)SEC);
  for (int i = 0; i < 200; i++) {
    leg *l = &w->legs[i];
    ck_assert_int_eq(l->cli_connected, 1);
    ck_assert_int_eq(l->srv_connected, 1);
    ck_assert_int_eq(l->nominated_events, 1);
    ck_assert_uint_eq(l->responses, 1);
    ck_assert_uint_eq(l->bad_responses, 0);
    ck_assert_uint_eq(l->rx[ADDR_ALT] + l->rx[ADDR_SPOOF], 0);
  }
  /* media both ways: 50 RTP from each leg, echoed by the router's side */
  for (uint16_t seq = 1; seq <= 50; seq++) {
    for (int i = 0; i < 200; i++)
      ck_assert_int_eq(send_rtp(w, &w->legs[i], ADDR_MAIN, seq), 0);
    if (seq % 10 == 0)
      settle(w);
  }
  /* and an RTCP sender report each */
  for (int i = 0; i < 200; i++) {
    uint8_t buf[128];
    size_t n = tpair_make_rtcp_sr(buf, 0x10000u + (uint32_t)i), out = 0;
    ck_assert_int_eq(rtcsec_transport_protect_rtcp(w->legs[i].t, buf, n, sizeof(buf), &out, w->now),
                     0);
    q_push(w, 1, i, ADDR_MAIN, buf, out);
  }
  settle(w);
  for (int i = 0; i < 200; i++) {
    leg *l = &w->legs[i];
    ck_assert_uint_eq(l->media_at_router, 51);
    ck_assert_uint_eq(l->media_wrong, 0);
    ck_assert_uint_eq(l->rtp_ok, 50);
    ck_assert_uint_eq(l->rtp_bad, 0);
    rtcsec_router_session_info info;
    ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
    ck_assert_uint_eq(info.media_in, 51);
    ck_assert_int_eq(info.dtls_state, RTCSEC_DTLS_STATE_CONNECTED);
  }
  st = stats_of(w);
  ck_assert_uint_eq(st.media_delivered, 200 * 51);
  ck_assert_uint_eq(st.media_dropped, 0);
  world_free(w);
}
END_TEST

START_TEST(spoofed_source_with_right_ufrag_and_wrong_password_never_gets_a_session) {
  world *w = world_new(2, RTCSEC_DTLS_SERVER);
  leg *victim = &w->legs[0];
  /* the spoofer knows the ufrags (they travel in SDP) but not the password */
  check_opts spoof = {.use_candidate = 1, .pwd = "wrongpassword0123456789"};
  for (int i = 0; i < 5; i++)
    send_check(w, victim, ADDR_SPOOF, &spoof);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_INTEGRITY);
  /* no MESSAGE-INTEGRITY at all */
  uint8_t buf[600];
  rtcsec_stun_builder b;
  uint8_t tid[12] = {1, 2, 3};
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
  rtcsec_stun_add_username(&b, "S0000ufrg:C0000", 15);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  q_push(w, 1, 0, ADDR_SPOOF, buf, n);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_BAD_REQUEST);
  /* a DTLS ClientHello and media from the spoofed address: dropped before
   * any DTLS work */
  rtcsec_transport *probe = NULL;
  rtcsec_transport_config tc;
  rtcsec_transport_config_default(&tc);
  tc.dtls.cert = w->cli_cert;
  tc.dtls.role = RTCSEC_DTLS_CLIENT;
  ck_assert_int_eq(rtcsec_transport_new(&probe, &tc), 0);
  ck_assert_int_eq(rtcsec_transport_start(probe, w->now), 0);
  ck_assert_int_eq(rtcsec_transport_poll_datagram(probe, buf, sizeof(buf), &n), 0);
  ck_assert_uint_gt(n, 0);
  q_push(w, 1, 0, ADDR_SPOOF, buf, n);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  rtcsec_transport_free(probe);
  n = tpair_make_rtp(buf, 1, 1, 100);
  q_push(w, 1, 0, ADDR_SPOOF, buf, n);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);

  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.stun_bad_integrity, 5);
  ck_assert_uint_eq(st.stun_bad_request, 1);
  ck_assert_uint_eq(st.drop_unknown_source, 2);
  ck_assert_uint_eq(st.datagrams_out, 0); /* no response at all */
  ck_assert_uint_eq(w->router_sent, 0);
  ck_assert_uint_eq(st.nominated, 0);
  ck_assert_uint_eq(st.transports, 0); /* no DTLS state for anyone */
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, victim->id, &info), 0);
  ck_assert_int_eq(info.nominated, 0);
  ck_assert_int_eq(info.has_transport, 0);
  ck_assert_uint_eq(info.checks, 0);
  /* a failed check does not refresh consent */
  ck_assert(info.consent_expires == 1000 * (uint64_t)SEC + 30 * (uint64_t)SEC);
  /* the real peers still connect afterwards */
  connect_all(w);
  ck_assert_uint_eq(w->sent_to[ADDR_SPOOF], 0);
  world_free(w);
}
END_TEST

START_TEST(a_new_address_carries_media_only_after_authenticated_media_came_from_it) {
  world *w = world_new(4, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[1];
  rtcsec_transport *srv_t = rtcsec_router_session_transport(w->r, l->id);
  ck_assert_ptr_nonnull(srv_t);
  rtcsec_transport_stats before;
  ck_assert_int_eq(rtcsec_transport_get_stats(srv_t, &before), 0);
  uint64_t sent_alt0 = w->sent_to[ADDR_ALT];

  /* media from a second address: ignored */
  for (uint16_t seq = 1; seq <= 5; seq++)
    ck_assert_int_eq(send_rtp(w, l, ADDR_ALT, seq), 0);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  ck_assert_uint_eq(l->media_at_router, 0);
  ck_assert_uint_eq(stats_of(w).drop_unknown_source, 5);
  /* a check from it without USE-CANDIDATE: answered, but nothing moves */
  static const check_opts plain = {0};
  send_check(w, l, ADDR_ALT, &plain);
  settle(w);
  ck_assert_uint_eq(l->responses, 2);
  ck_assert_uint_eq(w->sent_to[ADDR_ALT], sent_alt0 + 1);
  ck_assert_int_eq(send_rtp(w, l, ADDR_ALT, 6), 0);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  ck_assert_uint_eq(l->media_at_router, 0);

  /* nominated: answered, probed, but media keeps going to the old address
   * until the new one proves the keys (RFC 9000 §9) */
  static const check_opts nominate = {.use_candidate = 1};
  send_check(w, l, ADDR_ALT, &nominate);
  settle(w);
  ck_assert_uint_eq(l->responses, 3);
  ck_assert_int_eq(l->nominated_events, 1);
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
  struct sockaddr_storage main_addr, alt;
  socklen_t main_len, alt_len;
  leg_addr(l->idx, ADDR_MAIN, &main_addr, &main_len);
  leg_addr(l->idx, ADDR_ALT, &alt, &alt_len);
  ck_assert_uint_eq(info.addr_len, main_len);
  ck_assert_mem_eq(&info.addr, &main_addr, main_len);
  ck_assert_int_eq(info.probing, 1);
  ck_assert_mem_eq(&info.probe_addr, &alt, alt_len);
  ck_assert_uint_eq(stats_of(w).probes, 1);

  /* the first authenticated packet from there moves the session: its echo
   * already goes to the new address (within one round trip); same
   * transport, no new handshake */
  l->send_from = ADDR_ALT;
  uint64_t rtp_ok0 = l->rtp_ok;
  ck_assert_int_eq(send_rtp(w, l, ADDR_ALT, 7), 0);
  settle(w);
  ck_assert_int_eq(l->nominated_events, 2);
  ck_assert_int_eq(l->moved_events, 1);
  ck_assert_uint_eq(l->rtp_ok, rtp_ok0 + 1);
  ck_assert_ptr_eq(rtcsec_router_session_transport(w->r, l->id), srv_t);
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
  ck_assert_uint_eq(info.addr_len, alt_len);
  ck_assert_mem_eq(&info.addr, &alt, alt_len);
  ck_assert_int_eq(info.probing, 0);
  for (uint16_t seq = 8; seq <= 16; seq++)
    ck_assert_int_eq(send_rtp(w, l, ADDR_ALT, seq), 0);
  settle(w);
  ck_assert_uint_eq(l->media_at_router, 10);
  ck_assert_uint_eq(l->rtp_ok, rtp_ok0 + 10); /* echoes go to the new address */
  ck_assert_uint_eq(l->rx[ADDR_ALT], 2 + 10);
  /* the old address is now a stranger */
  ck_assert_int_eq(send_rtp(w, l, ADDR_MAIN, 17), 0);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  ck_assert_uint_eq(l->media_at_router, 10);
  rtcsec_transport_stats after;
  ck_assert_int_eq(rtcsec_transport_get_stats(srv_t, &after), 0);
  ck_assert_uint_eq(after.in_dtls, before.in_dtls); /* no DTLS since */
  ck_assert_uint_eq(after.dtls.datagrams_sent, before.dtls.datagrams_sent);
  ck_assert_int_eq(l->srv_connected, 1);
  ck_assert_int_eq(l->cli_connected, 1);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.moves, 1);
  ck_assert_uint_eq(st.transports, 4);
  /* the other legs never noticed */
  for (int i = 0; i < 4; i++) {
    if (i != 1)
      ck_assert_int_eq(w->legs[i].nominated_events, 1);
  }
  world_free(w);
}
END_TEST

START_TEST(a_replayed_nominating_request_from_elsewhere_does_not_move_the_session) {
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[0];
  uint8_t tid[12];
  memcpy(tid, l->last_tid, 12); /* the nominating request's transaction */
  /* an attacker who saw it re-sends it, byte for byte, from another address */
  check_opts replay = {.use_candidate = 1, .tid = tid};
  send_check(w, l, ADDR_SPOOF, &replay);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_IGNORED);
  ck_assert_uint_eq(w->sent_to[ADDR_SPOOF], 0);
  ck_assert_int_eq(l->nominated_events, 1);
  ck_assert_uint_eq(stats_of(w).stun_replays, 1);
  /* a retransmission from the same address is answered as usual */
  check_opts again = {.use_candidate = 1, .tid = tid};
  send_check(w, l, ADDR_MAIN, &again);
  settle(w);
  ck_assert_int_eq(w->last_rc, 0);
  ck_assert_uint_eq(l->responses, 2);
  world_free(w);
}
END_TEST

START_TEST(consent_expires_after_30_s_without_a_valid_check_and_nothing_is_sent_after) {
  world *w = world_new(3, RTCSEC_DTLS_SERVER);
  w->echo = 0;
  uint64_t t_nom = w->now; /* the nominating checks refresh consent now */
  connect_all(w);
  leg *quiet = &w->legs[0], *alive = &w->legs[1], *wrong = &w->legs[2];
  static const check_opts keep = {0};
  check_opts bad = {.pwd = "notthepassword012345678901"};
  /* one second steps: `alive` checks every 5 s (RFC 7675) and sends media,
   * `wrong` only sends checks that fail, `quiet` sends media but no check */
  uint16_t seq = 1;
  for (int s = 1; s <= 29; s++) {
    advance_to(w, t_nom + (uint64_t)s * SEC);
    ck_assert_int_eq(send_rtp(w, quiet, ADDR_MAIN, seq), 0);
    ck_assert_int_eq(send_rtp(w, alive, ADDR_MAIN, seq++), 0);
    if (s % 5 == 0) {
      send_check(w, alive, ADDR_MAIN, &keep);
      send_check(w, wrong, ADDR_MAIN, &bad);
    }
    settle(w);
  }
  ck_assert_uint_eq(w->expired_events, 0);
  ck_assert_uint_eq(quiet->media_at_router, 29);
  ck_assert(rtcsec_router_deadline(w->r) == t_nom + 30 * (uint64_t)SEC);
  uint64_t out_quiet = quiet->rx[ADDR_MAIN], out_wrong = wrong->rx[ADDR_MAIN];
  /* Sending is refused the moment consent has run out, before any
   * handle_timeout() has noticed (RFC 7675 §5.1): by the `now` given ... */
  uint64_t t_exp = t_nom + 30 * (uint64_t)SEC;
  ck_assert_int_eq(rtcsec_router_send_data(w->r, quiet->id, (const uint8_t *)"x", 1, t_exp),
                   RTCSEC_ERR_CONSENT_EXPIRED);
  uint8_t rtp_buf[MAX_PKT];
  size_t pn = tpair_make_rtp(rtp_buf, 7, 1, 20), pout = 0;
  struct sockaddr_storage pdst;
  socklen_t pdst_len = 0;
  ck_assert_int_eq(rtcsec_router_protect_rtp(w->r, wrong->id, rtp_buf, pn, sizeof(rtp_buf), &pout,
                                             &pdst, &pdst_len, t_exp),
                   RTCSEC_ERR_CONSENT_EXPIRED);
  router_flush(w); /* takes the two EXPIRED events */
  /* 30 s after the last valid check: gone, and reported */
  advance_to(w, t_exp);
  ck_assert_int_eq(quiet->expired, 1);
  ck_assert_int_eq(wrong->expired, 1);
  ck_assert_int_eq(alive->expired, 0);
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, quiet->id, &info),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(rtcsec_router_session_transport(w->r, quiet->id));
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.sessions, 1);
  ck_assert_uint_eq(st.sessions_expired, 2);
  ck_assert_uint_eq(st.transports, 1);
  ck_assert_uint_eq(st.nominated, 1);
  /* whatever the expired peers send now gets nothing back: media, DTLS,
   * and even a check with the right credentials */
  ck_assert_int_eq(send_rtp(w, quiet, ADDR_MAIN, seq++), 0);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  ck_assert_int_eq(rtcsec_transport_send_data(quiet->t, (const uint8_t *)"x", 1, w->now), 0);
  client_flush(w, quiet);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  send_check(w, quiet, ADDR_MAIN, &keep);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_UNKNOWN_USER);
  send_check(w, wrong, ADDR_MAIN, &keep);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_UNKNOWN_USER);
  advance_to(w, w->now + 120 * (uint64_t)SEC);
  ck_assert_uint_eq(quiet->rx[ADDR_MAIN], out_quiet);
  ck_assert_uint_eq(wrong->rx[ADDR_MAIN], out_wrong);
  ck_assert_int_eq(quiet->expired, 1);
  /* and `alive`, which kept checking until t_nom + 25 s, expires 30 s later */
  ck_assert_int_eq(alive->expired, 1);
  world_free(w);
}
END_TEST

START_TEST(the_single_deadline_follows_every_session_through_the_heap) {
  /* 1000 sessions added at pseudo-random times; with no traffic each must
   * expire exactly 30 s after it was added, in order, each reported once. */
  enum { N = 1000 };
  rtcsec_cert *cert = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&cert, NULL), 0);
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert;
  rtcsec_router *r = NULL;
  ck_assert_int_eq(rtcsec_router_new(&r, &rc), 0);
  rtcsec_cert_free(cert);
  static uint64_t added[N];
  static rtcsec_session_id ids[N];
  uint64_t x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    added[i] = 10 * SEC + (x >> 33) % (20 * SEC);
    char ufrag[16], pwd[40];
    snprintf(ufrag, sizeof(ufrag), "heap%05d", i);
    snprintf(pwd, sizeof(pwd), "heappassword%05d+abcdefghi", i);
    rtcsec_router_session_config sc;
    rtcsec_router_session_config_default(&sc);
    sc.local_ufrag = ufrag;
    sc.local_pwd = pwd;
    sc.user = &added[i];
    ck_assert_int_eq(rtcsec_router_add_session(r, &sc, added[i], &ids[i]), 0);
  }
  /* removing some explicitly takes them out of the heap */
  for (int i = 0; i < N; i += 10)
    ck_assert_int_eq(rtcsec_router_remove_session(r, ids[i], 0), 0);
  ck_assert_int_eq(rtcsec_router_remove_session(r, ids[0], 0), RTCSEC_ERR_INVALID_ARGUMENT);
  uint64_t last = 0;
  int expired = 0;
  for (int guard = 0; guard < 2 * N && rtcsec_router_deadline(r) != UINT64_MAX; guard++) {
    uint64_t d = rtcsec_router_deadline(r);
    ck_assert(d >= last);
    last = d;
    ck_assert_int_eq(rtcsec_router_handle_timeout(r, d - 1), 0); /* early: nothing */
    rtcsec_event ev;
    ck_assert_int_eq(rtcsec_router_poll_event(r, &ev), 0);
    ck_assert_int_eq(ev.type, RTCSEC_EVENT_NONE);
    ck_assert_int_eq(rtcsec_router_handle_timeout(r, d), 0);
    for (;;) {
      ck_assert_int_eq(rtcsec_router_poll_event(r, &ev), 0);
      if (ev.type == RTCSEC_EVENT_NONE)
        break;
      ck_assert_int_eq(ev.type, RTCSEC_EVENT_EXPIRED);
      const uint64_t *when = ev.user;
      ck_assert(*when + 30 * (uint64_t)SEC == d);
      expired++;
    }
  }
  ck_assert_int_eq(expired, N - N / 10);
  rtcsec_router_stats st;
  rtcsec_router_get_stats(r, &st);
  ck_assert_uint_eq(st.sessions, 0);
  ck_assert_uint_eq(st.sessions_removed, N / 10);
  rtcsec_router_free(r);
}
END_TEST

START_TEST(malformed_stun_to_the_router_is_counted_and_never_crashes) {
  world *w = world_new(2, RTCSEC_DTLS_SERVER);
  leg *l = &w->legs[0];
  uint8_t good[600];
  static const check_opts nominate = {.use_candidate = 1};
  size_t gn = build_check(w, l, &nominate, good, sizeof(good));
  uint8_t buf[1200];
  /* short, bad cookie, bad length, length not a multiple of 4 */
  q_push(w, 1, 0, ADDR_MAIN, good, 19);
  memcpy(buf, good, gn);
  buf[5] ^= 0xff;
  q_push(w, 1, 0, ADDR_MAIN, buf, gn);
  memcpy(buf, good, gn);
  buf[3] += 4;
  q_push(w, 1, 0, ADDR_MAIN, buf, gn);
  memcpy(buf, good, gn);
  buf[3] -= 2;
  q_push(w, 1, 0, ADDR_MAIN, buf, gn - 2);
  settle(w);
  ck_assert_uint_eq(stats_of(w).stun_malformed, 4);
  /* attribute overrun: the USERNAME claims more than the message has */
  memcpy(buf, good, gn);
  buf[20 + 2] = 0x01; /* USERNAME length 0x010f */
  q_push(w, 1, 0, ADDR_MAIN, buf, gn);
  /* bad fingerprint; missing fingerprint */
  memcpy(buf, good, gn);
  buf[gn - 1] ^= 1;
  q_push(w, 1, 0, ADDR_MAIN, buf, gn);
  memcpy(buf, good, gn - 8);
  buf[2] = 0;
  buf[3] = (uint8_t)(gn - 8 - 20);
  q_push(w, 1, 0, ADDR_MAIN, buf, gn - 8);
  settle(w);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.stun_malformed, 5);
  ck_assert_uint_eq(st.stun_bad_fingerprint, 2);
  /* unknown ufrag; USERNAME without ':'; huge USERNAME */
  check_opts who = {.username = "nobodyhome:C0000"};
  send_check(w, l, ADDR_MAIN, &who);
  check_opts nocolon = {.username = "S0000ufrg"};
  send_check(w, l, ADDR_MAIN, &nocolon);
  check_opts wrongremote = {.username = "S0000ufrg:C9999"};
  send_check(w, l, ADDR_MAIN, &wrongremote);
  settle(w);
  ck_assert_uint_eq(stats_of(w).stun_unknown_user, 3);
  char huge[600];
  memset(huge, 'h', sizeof(huge));
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST,
                           l->last_tid);
  rtcsec_stun_add_attr(&b, RTCSEC_STUN_ATTR_USERNAME, huge, sizeof(huge));
  rtcsec_stun_add_integrity(&b, (const uint8_t *)l->srv_pwd, strlen(l->srv_pwd));
  rtcsec_stun_add_fingerprint(&b);
  size_t n = 0;
  ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
  q_push(w, 1, 0, ADDR_MAIN, buf, n);
  /* an indication, a success response, another method: ignored */
  for (int k = 0; k < 3; k++) {
    rtcsec_stun_builder_init(&b, buf, sizeof(buf), k == 2 ? 0x003 : RTCSEC_STUN_BINDING,
                             k == 0   ? RTCSEC_STUN_INDICATION
                             : k == 1 ? RTCSEC_STUN_SUCCESS
                                      : RTCSEC_STUN_REQUEST,
                             l->last_tid);
    rtcsec_stun_add_fingerprint(&b);
    ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
    q_push(w, 1, 0, ADDR_MAIN, buf, n);
  }
  settle(w);
  st = stats_of(w);
  ck_assert_uint_eq(st.stun_malformed, 6);
  ck_assert_uint_eq(st.stun_ignored, 3);
  ck_assert_uint_eq(st.datagrams_out, 0); /* none of this was answered */
  /* random damage to a valid check, many times: no crash, no answer unless
   * the damage left it valid */
  uint64_t s = 88172645463325252u;
  for (int iter = 0; iter < 20000; iter++) {
    memcpy(buf, good, gn);
    for (int e = 0; e < 3; e++) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      buf[(s >> 16) % gn] ^= (uint8_t)(1u << (s % 8));
    }
    size_t len = gn;
    if (iter % 7 == 0)
      len = (size_t)(s >> 40) % (gn + 1);
    q_push(w, 1, 0, ADDR_MAIN, buf, len);
    if (iter % 256 == 0)
      settle(w);
  }
  settle(w);
  st = stats_of(w);
  ck_assert_uint_eq(st.nominated, 0);
  ck_assert_uint_eq(st.transports, 0);
  ck_assert_uint_eq(l->responses, 0);
  /* and the leg still connects */
  connect_all(w);
  world_free(w);
}
END_TEST

START_TEST(role_conflict_and_unknown_attributes_get_authenticated_errors) {
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  leg *l = &w->legs[0];
  check_opts controlled = {.use_candidate = 1, .controlled = 1};
  send_check(w, l, ADDR_MAIN, &controlled);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_ROLE_CONFLICT);
  ck_assert_uint_eq(l->error_responses, 1);
  ck_assert_uint_eq(l->last_error_code, 487);
  ck_assert_uint_eq(l->bad_responses, 0); /* integrity verified by the client */
  ck_assert_int_eq(l->nominated_events, 0);
  check_opts unknown = {.use_candidate = 1, .extra_attr = 0x0042};
  send_check(w, l, ADDR_MAIN, &unknown);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE);
  ck_assert_uint_eq(l->error_responses, 2);
  ck_assert_uint_eq(l->last_error_code, 420);
  ck_assert_int_eq(l->nominated_events, 0);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.stun_role_conflicts, 1);
  ck_assert_uint_eq(st.stun_unknown_attribute, 1);
  ck_assert_uint_eq(st.stun_errors_sent, 2);
  ck_assert_uint_eq(st.nominated, 0);
  /* a comprehension-optional unknown attribute is fine */
  check_opts optional = {.use_candidate = 1, .extra_attr = 0xc123};
  send_check(w, l, ADDR_MAIN, &optional);
  settle(w);
  ck_assert_int_eq(l->nominated_events, 1);
  world_free(w);
}
END_TEST

START_TEST(unauthenticated_requests_get_400_and_401_only_when_asked) {
  rtcsec_cert *cert = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&cert, NULL), 0);
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  rc.transport.dtls.cert = cert;
  rc.reply_unauthenticated = 1;
  rtcsec_router *r = NULL;
  ck_assert_int_eq(rtcsec_router_new(&r, &rc), 0);
  rtcsec_cert_free(cert);
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = "abcd";
  sc.local_pwd = "0123456789012345678901";
  rtcsec_session_id id;
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), 0);
  struct sockaddr_storage src;
  socklen_t src_len;
  leg_addr(0, ADDR_MAIN, &src, &src_len);
  const char *users[3] = {"zzzz:peer", "abcd:peer", "abcd:peer"};
  const char *pwds[3] = {"0123456789012345678901", "wrongwrongwrongwrongwr", NULL};
  const int codes[3] = {401, 401, 400};
  for (int k = 0; k < 3; k++) {
    uint8_t buf[300], tid[12] = {9, 9, (uint8_t)k};
    rtcsec_stun_builder b;
    rtcsec_stun_builder_init(&b, buf, sizeof(buf), RTCSEC_STUN_BINDING, RTCSEC_STUN_REQUEST, tid);
    rtcsec_stun_add_username(&b, users[k], strlen(users[k]));
    if (pwds[k] != NULL) /* else: no MESSAGE-INTEGRITY: 400 */
      rtcsec_stun_add_integrity(&b, (const uint8_t *)pwds[k], strlen(pwds[k]));
    rtcsec_stun_add_fingerprint(&b);
    size_t n = 0;
    ck_assert_int_eq(rtcsec_stun_builder_finish(&b, &n), 0);
    rtcsec_router_input in;
    rtcsec_router_handle_datagram(r, buf, n, &src, src_len, 0, &in);
    uint8_t out[1500];
    struct sockaddr_storage dst;
    socklen_t dst_len;
    ck_assert_int_eq(rtcsec_router_poll_datagram(r, out, sizeof(out), &n, &dst, &dst_len, NULL), 0);
    ck_assert_uint_gt(n, 0);
    rtcsec_stun_msg m;
    ck_assert_int_eq(rtcsec_stun_parse(&m, out, n), 0);
    ck_assert_int_eq(m.cls, RTCSEC_STUN_ERROR);
    ck_assert_int_eq(m.error_code, codes[k]);
    ck_assert(!(m.present & RTCSEC_STUN_HAS_INTEGRITY));
    ck_assert_mem_eq(m.tid, tid, 12);
  }
  rtcsec_router_free(r);
}
END_TEST

START_TEST(a_lost_flight_is_retransmitted_when_the_router_deadline_comes) {
  world *w = world_new(2, RTCSEC_DTLS_SERVER);
  static const check_opts nominate = {.use_candidate = 1};
  /* leg 1 starts DTLS before ICE: its hello comes from an address nobody
   * nominated and is dropped without any DTLS state */
  leg *early = &w->legs[1];
  ck_assert_int_eq(rtcsec_transport_start(early->t, w->now), 0);
  early->dtls_started = 1;
  client_flush(w, early);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_UNKNOWN_SOURCE);
  ck_assert_uint_eq(stats_of(w).transports, 0);
  /* the router's first DTLS datagram is lost on the way */
  w->drop_router_dtls = 1;
  send_check(w, &w->legs[0], ADDR_MAIN, &nominate);
  send_check(w, early, ADDR_MAIN, &nominate);
  settle(w);
  ck_assert_int_eq(w->dropped, 1);
  ck_assert(!all_connected(w));
  /* the router's single deadline is now a DTLS retransmission timer, well
   * before any consent expiry */
  ck_assert(rtcsec_router_deadline(w->r) < w->now + 5 * (uint64_t)SEC);
  for (int round = 0; round < 100 && !all_connected(w); round++)
    advance_to(w, w->now + 100 * MS);
  ck_assert(all_connected(w));
  uint64_t retrans = 0;
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_stats st;
    ck_assert_int_eq(
        rtcsec_transport_get_stats(rtcsec_router_session_transport(w->r, w->legs[i].id), &st), 0);
    retrans += st.dtls.retransmissions;
  }
  ck_assert_uint_ge(retrans, 1);
  world_free(w);
}
END_TEST

START_TEST(router_as_dtls_client_starts_the_handshake_at_nomination) {
  world *w = world_new(3, RTCSEC_DTLS_CLIENT);
  for (int i = 0; i < 3; i++)
    w->legs[i].dtls_started = 1; /* DTLS servers wait for the router's hello */
  static const check_opts nominate = {.use_candidate = 1};
  for (int i = 0; i < 3; i++)
    send_check(w, &w->legs[i], ADDR_MAIN, &nominate);
  for (int round = 0; round < 100 && !all_connected(w); round++)
    advance_to(w, w->now + 50 * MS);
  ck_assert(all_connected(w));
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(send_rtp(w, &w->legs[i], ADDR_MAIN, 1), 0);
  settle(w);
  for (int i = 0; i < 3; i++) {
    ck_assert_uint_eq(w->legs[i].media_at_router, 1);
    ck_assert_uint_eq(w->legs[i].rtp_ok, 1);
  }
  world_free(w);
}
END_TEST

START_TEST(removing_a_session_closes_it_politely_and_forgets_it) {
  world *w = world_new(2, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[0];
  ck_assert_int_eq(rtcsec_router_remove_session(w->r, l->id, w->now), 0);
  router_flush(w);
  settle(w);
  rtcsec_dtls_state s = rtcsec_transport_get_state(l->t);
  ck_assert_int_eq(s, RTCSEC_DTLS_STATE_CLOSED); /* close_notify arrived */
  ck_assert_int_eq(send_rtp(w, &w->legs[1], ADDR_MAIN, 1), 0);
  settle(w);
  ck_assert_uint_eq(w->legs[1].media_at_router, 1);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.sessions, 1);
  ck_assert_uint_eq(st.sessions_removed, 1);
  /* the ufrag is free again */
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  sc.local_ufrag = l->srv_ufrag;
  sc.local_pwd = l->srv_pwd;
  rtcsec_session_id id2;
  ck_assert_int_eq(rtcsec_router_add_session(w->r, &sc, w->now, &id2), 0);
  ck_assert(id2 != l->id);
  ck_assert_int_eq(rtcsec_router_add_session(w->r, &sc, w->now, &id2),
                   RTCSEC_ERR_INVALID_ARGUMENT); /* in use */
  world_free(w);
}
END_TEST

START_TEST(bad_arguments_are_refused) {
  rtcsec_router *r = NULL;
  rtcsec_router_config rc;
  rtcsec_router_config_default(&rc);
  ck_assert_int_eq(rtcsec_router_new(&r, &rc), RTCSEC_ERR_INVALID_ARGUMENT); /* no cert */
  rtcsec_cert *cert = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&cert, NULL), 0);
  rc.transport.dtls.cert = cert;
  rc.max_sessions = 2;
  ck_assert_int_eq(rtcsec_router_new(&r, &rc), 0);
  rtcsec_cert_free(cert);
  rtcsec_router_session_config sc;
  rtcsec_router_session_config_default(&sc);
  rtcsec_session_id id;
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), RTCSEC_ERR_INVALID_ARGUMENT);
  sc.local_ufrag = "abc"; /* too short */
  sc.local_pwd = "0123456789012345678901";
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), RTCSEC_ERR_INVALID_ARGUMENT);
  sc.local_ufrag = "ab:c"; /* not an ice-char */
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), RTCSEC_ERR_INVALID_ARGUMENT);
  sc.local_ufrag = "abcd";
  sc.local_pwd = "short";
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), RTCSEC_ERR_INVALID_ARGUMENT);
  sc.local_pwd = "0123456789012345678901";
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), 0);
  sc.local_ufrag = "efgh";
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &id), 0);
  rtcsec_session_id over = 7;
  sc.local_ufrag = "ijkl";
  ck_assert_int_eq(rtcsec_router_add_session(r, &sc, 0, &over), RTCSEC_ERR_LIMIT);
  ck_assert(over == 0);
  uint8_t buf[64] = {0x80, 96};
  struct sockaddr_storage bad;
  memset(&bad, 0, sizeof(bad));
  bad.ss_family = AF_UNIX;
  rtcsec_router_input in;
  ck_assert_int_eq(rtcsec_router_handle_datagram(r, buf, sizeof(buf), &bad, sizeof(bad), 0, &in),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_router_handle_datagram(r, buf, sizeof(buf), NULL, 0, 0, &in),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  size_t out = 0;
  struct sockaddr_storage dst;
  socklen_t dst_len;
  ck_assert_int_eq(rtcsec_router_protect_rtp(r, id, buf, 20, sizeof(buf), &out, &dst, &dst_len, 0),
                   RTCSEC_ERR_INVALID_STATE);
  ck_assert_int_eq(
      rtcsec_router_protect_rtp(r, 12345, buf, 20, sizeof(buf), &out, &dst, &dst_len, 0),
      RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_router_send_data(r, id, buf, 4, 0), RTCSEC_ERR_INVALID_STATE);
  rtcsec_router_free(r);
  rtcsec_router_free(NULL);
}
END_TEST

/* ---- issue 11: nothing unauthenticated moves a session or keeps it alive ---------- */

START_TEST(a_nominating_check_replayed_after_n_later_checks_moves_nothing_and_extends_no_consent) {
  /* _i: N = 1..64 later genuine checks (Chromium sends USE-CANDIDATE on
   * every check to a lite agent), then the captured one replayed from the
   * attacker's address and from the peer's own (spoofed). */
  int n_later = _i;
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[0];
  static const check_opts nominate = {.use_candidate = 1};
  uint8_t captured[600];
  size_t captured_len = build_check(w, l, &nominate, captured, sizeof(captured));
  q_push(w, 1, l->idx, ADDR_MAIN, captured, captured_len);
  settle(w);
  ck_assert_int_eq(w->last_rc, 0);
  uint16_t seq = 1;
  for (int k = 0; k < n_later; k++) {
    advance_to(w, w->now + 500 * MS);
    send_check(w, l, ADDR_MAIN, &nominate);
    ck_assert_int_eq(send_rtp(w, l, ADDR_MAIN, seq++), 0);
    settle(w);
  }
  uint64_t answers_spoof = w->sent_to[ADDR_SPOOF];
  uint64_t consent0 = consent_of(w, l);
  advance_to(w, w->now + 100 * MS);
  /* from the attacker's address: a replay, dropped unanswered */
  q_push(w, 1, l->idx, ADDR_SPOOF, captured, captured_len);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_STUN_IGNORED);
  ck_assert_uint_eq(w->sent_to[ADDR_SPOOF], answers_spoof);
  ck_assert(addr_is(w, l, ADDR_MAIN));
  ck_assert_int_eq(l->nominated_events, 1);
  ck_assert_uint_eq(stats_of(w).probes, 0);
  /* from the peer's own address: a retransmission, answered, no effect */
  q_push(w, 1, l->idx, ADDR_MAIN, captured, captured_len);
  settle(w);
  ck_assert_int_eq(w->last_rc, 0);
  ck_assert_uint_eq(consent_of(w, l), consent0);
  ck_assert_uint_eq(stats_of(w).stun_replays, 1);
  ck_assert_uint_eq(stats_of(w).stun_retransmissions, 1);
  /* media still flows both ways on the old address */
  media_round_trip(w, l, ADDR_MAIN, seq++);
  world_free(w);
}
END_TEST

START_TEST(replayed_checks_do_not_keep_a_session_alive_whose_peer_is_gone) {
  /* The peer sends checks and media for a while, then vanishes. An
   * attacker who captured all its checks replays them every 5 s, from the
   * peer's own address, even ones the router no longer remembers: consent
   * needs authenticated traffic too, so the session expires 30 s after the
   * peer's last packet. */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  w->echo = 0;
  connect_all(w);
  leg *l = &w->legs[0];
  static const check_opts nominate = {.use_candidate = 1};
  enum { CAPTURED = 200 }; /* more than the router remembers */
  uint8_t(*cap)[600] = calloc(CAPTURED, 600);
  size_t *cap_len = calloc(CAPTURED, sizeof(size_t));
  uint16_t seq = 1;
  for (int k = 0; k < CAPTURED; k++) {
    advance_to(w, w->now + 100 * MS);
    cap_len[k] = build_check(w, l, &nominate, cap[k], 600);
    q_push(w, 1, l->idx, ADDR_MAIN, cap[k], cap_len[k]);
    ck_assert_int_eq(send_rtp(w, l, ADDR_MAIN, seq++), 0);
    settle(w);
  }
  uint64_t gone = w->now;
  ck_assert_int_eq(l->expired, 0);
  for (int k = 0; k < 20 && !l->expired; k++) {
    advance_to(w, w->now + 5 * SEC);
    q_push(w, 1, l->idx, ADDR_MAIN, cap[k], cap_len[k]);
    settle(w);
  }
  ck_assert_int_eq(l->expired, 1);
  ck_assert_uint_le(w->now, gone + 35 * (uint64_t)SEC);
  ck_assert_uint_ge(w->now, gone + 30 * (uint64_t)SEC);
  free(cap);
  free(cap_len);
  world_free(w);
}
END_TEST

START_TEST(an_eavesdropper_cannot_kill_a_session_with_two_datagrams) {
  /* Issue 11 item 5: a replayed nominating check from the attacker's own
   * address, then a 15-byte forged DTLS record from there (and spoofed
   * from the peer's address). _i == 1: the replayed check is one the
   * router no longer remembers, so its address is probed. */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[0];
  static const check_opts nominate = {.use_candidate = 1};
  uint8_t captured[600];
  size_t captured_len = build_check(w, l, &nominate, captured, sizeof(captured));
  q_push(w, 1, l->idx, ADDR_MAIN, captured, captured_len);
  settle(w);
  uint16_t seq = 1;
  int later = _i ? 2 * RTCSEC_ROUTER_RECENT_CHECKS : 3;
  for (int k = 0; k < later; k++) {
    advance_to(w, w->now + 100 * MS);
    send_check(w, l, ADDR_MAIN, &nominate);
    ck_assert_int_eq(send_rtp(w, l, ADDR_MAIN, seq++), 0);
    settle(w);
  }
  /* the two datagrams */
  q_push(w, 1, l->idx, ADDR_SPOOF, captured, captured_len);
  settle(w);
  uint8_t forged[15] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 2, 0x41, 0x42};
  q_push(w, 1, l->idx, ADDR_SPOOF, forged, sizeof(forged));
  q_push(w, 1, l->idx, ADDR_MAIN, forged, sizeof(forged));
  settle(w);
  /* nothing moved, nothing failed, media goes on both ways */
  ck_assert(addr_is(w, l, ADDR_MAIN));
  ck_assert_int_eq(l->nominated_events, 1);
  ck_assert_int_eq(l->srv_failed, 0);
  ck_assert_int_eq(l->cli_failed, 0);
  rtcsec_router_session_info info;
  ck_assert_int_eq(rtcsec_router_get_session_info(w->r, l->id, &info), 0);
  ck_assert_int_eq(info.state, RTCSEC_ROUTER_SESSION_CONNECTED);
  uint64_t ok0 = l->rtp_ok, at0 = l->media_at_router;
  for (int k = 0; k < 5; k++)
    ck_assert_int_eq(send_rtp(w, l, ADDR_MAIN, seq++), 0);
  settle(w);
  ck_assert_uint_eq(l->media_at_router, at0 + 5);
  ck_assert_uint_eq(l->rtp_ok, ok0 + 5);
  ck_assert_uint_eq(w->sent_to[ADDR_SPOOF], (uint64_t)_i); /* a forgotten check is answered */
  world_free(w);
}
END_TEST

START_TEST(dtls_application_data_from_a_probed_address_moves_the_session) {
  /* A data-channel-only peer proves a new path with DTLS records. */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  w->echo = 0;
  connect_all(w);
  leg *l = &w->legs[0];
  static const check_opts nominate = {.use_candidate = 1};
  send_check(w, l, ADDR_ALT, &nominate);
  settle(w);
  ck_assert(addr_is(w, l, ADDR_MAIN));
  l->send_from = ADDR_ALT;
  ck_assert_int_eq(rtcsec_transport_send_data(l->t, (const uint8_t *)"sctp", 4, w->now), 0);
  client_flush(w, l);
  settle(w);
  ck_assert(addr_is(w, l, ADDR_ALT));
  ck_assert_int_eq(l->moved_events, 1);
  world_free(w);
}
END_TEST

START_TEST(a_client_hello_that_overtakes_the_nomination_is_kept_and_costs_no_round_trip) {
  /* Issue 14: the peer checks (no USE-CANDIDATE yet), starts DTLS at once,
   * and nominates after. The router keeps the early ClientHello and
   * answers it the moment the address is nominated: nothing is
   * retransmitted. */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  leg *l = &w->legs[0];
  static const check_opts plain = {0};
  send_check(w, l, ADDR_MAIN, &plain); /* its answer starts the client's DTLS */
  settle(w);
  ck_assert_int_eq(l->dtls_started, 1);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.transports, 0); /* kept, no DTLS state yet */
  ck_assert_uint_eq(st.drop_unknown_source, 0);
  static const check_opts nominate = {.use_candidate = 1};
  send_check(w, l, ADDR_MAIN, &nominate);
  for (int round = 0; round < 20 && !all_connected(w); round++)
    advance_to(w, w->now + 1 * MS);
  ck_assert(all_connected(w));
  st = stats_of(w);
  ck_assert_uint_ge(st.early_dtls_kept, 1);
  rtcsec_transport_stats ts;
  ck_assert_int_eq(rtcsec_transport_get_stats(l->t, &ts), 0);
  ck_assert_uint_eq(ts.dtls.retransmissions, 0);
  world_free(w);
}
END_TEST

START_TEST(datagrams_of_no_known_class_from_a_session_address_are_counted) {
  /* RFC 7983 §7: unknown first bytes, ZRTP and TURN channel data from a
   * connected session's own address are dropped, and counted (issue 11:
   * every unauthenticated datagram lands in a counter). */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  connect_all(w);
  leg *l = &w->legs[0];
  static const uint8_t firsts[] = {4, 15, 16, 19, 64, 79, 80, 127, 192, 255};
  uint8_t buf[64];
  for (size_t i = 0; i < sizeof(firsts); i++) {
    memset(buf, 0xa5, sizeof(buf));
    buf[0] = firsts[i];
    q_push(w, 1, l->idx, ADDR_MAIN, buf, 1 + i * 5);
  }
  q_push(w, 1, l->idx, ADDR_MAIN, buf, 0); /* empty */
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_DEMUX_UNKNOWN);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.drop_other_class, sizeof(firsts) + 1);
  ck_assert_uint_eq(st.drop_unknown_source, 0);
  ck_assert_uint_eq(st.media_dropped, 0);
  media_round_trip(w, l, ADDR_MAIN, 1);
  world_free(w);
}
END_TEST

START_TEST(media_from_a_checked_address_before_nomination_is_counted) {
  /* Before nomination no keys exist: media from an address that sent a
   * genuine check is dropped and counted as media dropped. */
  world *w = world_new(1, RTCSEC_DTLS_SERVER);
  leg *l = &w->legs[0];
  static const check_opts plain = {0};
  send_check(w, l, ADDR_MAIN, &plain);
  settle(w);
  uint8_t buf[200];
  size_t n = tpair_make_rtp(buf, 0x10000u, 1, 100);
  q_push(w, 1, l->idx, ADDR_MAIN, buf, n);
  settle(w);
  ck_assert_int_eq(w->last_rc, RTCSEC_ERR_SRTP_NO_KEYS);
  rtcsec_router_stats st = stats_of(w);
  ck_assert_uint_eq(st.media_in, 1);
  ck_assert_uint_eq(st.media_dropped, 1);
  ck_assert_uint_eq(st.nominated, 0);
  static const check_opts nominate = {.use_candidate = 1};
  send_check(w, l, ADDR_MAIN, &nominate);
  for (int round = 0; round < 20 && !all_connected(w); round++)
    advance_to(w, w->now + 1 * MS);
  ck_assert(all_connected(w));
  world_free(w);
}
END_TEST

START_TEST(prefetching_a_batch_changes_nothing_and_media_still_reaches_its_session) {
  /* rtcsec_router_prefetch() is a hint for the CPU's cache: whatever the
   * sources (sessions', unknown, unusable), however many, no counter, no
   * session, no deadline may change, and the datagrams handled after it go
   * exactly where they would have. */
  enum { LEGS = 80, SRCS = LEGS * 2 + 4 };
  world *w = world_new(LEGS, RTCSEC_DTLS_SERVER);
  connect_all(w);
  static struct sockaddr_storage src[SRCS];
  static socklen_t src_len[SRCS];
  size_t n = 0;
  for (int i = 0; i < LEGS; i++) {
    leg_addr(i, ADDR_MAIN, &src[n], &src_len[n]);
    n++;
    leg_addr(i, ADDR_SPOOF, &src[n], &src_len[n]); /* nobody's */
    n++;
  }
  memset(&src[n], 0, sizeof(src[n]));
  src[n].ss_family = AF_UNIX; /* unusable family */
  src_len[n++] = sizeof(src[0]);
  leg_addr(0, ADDR_MAIN, &src[n], &src_len[n]);
  src_len[n++] = 2; /* too short for its family */
  leg_addr(1, ADDR_MAIN, &src[n], &src_len[n]);
  src_len[n++] = sizeof(src[0]) + 1; /* longer than any address */
  leg_addr(2, ADDR_MAIN, &src[n], &src_len[n]);
  n++;
  ck_assert_uint_eq(n, SRCS);
  ck_assert_uint_gt(n, RTCSEC_ROUTER_PREFETCH_MAX); /* taken in chunks */

  rtcsec_router_stats before = stats_of(w);
  uint64_t deadline = rtcsec_router_deadline(w->r);
  static rtcsec_router_session_info info_before[LEGS];
  for (int i = 0; i < LEGS; i++)
    ck_assert_int_eq(rtcsec_router_get_session_info(w->r, w->legs[i].id, &info_before[i]), 0);
  /* past every consent expiry, with no handle_timeout(): a hint takes no
   * time and acts on none */
  w->now += 31 * (uint64_t)SEC;
  rtcsec_router_prefetch(w->r, src, src_len, n);
  rtcsec_router_prefetch(w->r, src, src_len, 0);
  rtcsec_router_prefetch(w->r, src + 1, src_len + 1, 1);
  rtcsec_router_prefetch(NULL, src, src_len, n);
  rtcsec_router_prefetch(w->r, NULL, src_len, n);
  rtcsec_router_prefetch(w->r, src, NULL, n);
  rtcsec_router_stats after = stats_of(w);
  ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
  ck_assert(rtcsec_router_deadline(w->r) == deadline);
  for (int i = 0; i < LEGS; i++) {
    rtcsec_router_session_info info;
    ck_assert_int_eq(rtcsec_router_get_session_info(w->r, w->legs[i].id, &info), 0);
    ck_assert(memcmp(&info, &info_before[i], sizeof(info)) == 0);
  }
  w->now -= 31 * (uint64_t)SEC;

  /* a batch as a receive loop has it: prefetched, then handled in order */
  for (int i = 0; i < LEGS; i++)
    ck_assert_int_eq(send_rtp(w, &w->legs[i], ADDR_MAIN, 1), 0);
  rtcsec_router_prefetch(w->r, src, src_len, n);
  settle(w);
  for (int i = 0; i < LEGS; i++) {
    leg *l = &w->legs[i];
    ck_assert_uint_eq(l->media_at_router, 1);
    ck_assert_uint_eq(l->media_wrong, 0);
    ck_assert_uint_eq(l->rtp_ok, 1);
  }
  after = stats_of(w);
  ck_assert_uint_eq(after.media_delivered, before.media_delivered + LEGS);
  ck_assert_uint_eq(after.drop_unknown_source, before.drop_unknown_source);
  world_free(w);
}
END_TEST

int main(void) {
  Suite *s = suite_create("router");
  TCase *scale = tcase_create("scale");
  tcase_set_timeout(scale, 300);
  tcase_add_test(scale, two_hundred_sessions_connect_and_media_reaches_the_right_session_only);
  tcase_add_test(scale, the_single_deadline_follows_every_session_through_the_heap);
  tcase_add_test(scale, prefetching_a_batch_changes_nothing_and_media_still_reaches_its_session);
  suite_add_tcase(s, scale);
  TCase *ice = tcase_create("ice_lite");
  tcase_set_timeout(ice, 120);
  tcase_add_test(ice, spoofed_source_with_right_ufrag_and_wrong_password_never_gets_a_session);
  tcase_add_test(ice, a_new_address_carries_media_only_after_authenticated_media_came_from_it);
  tcase_add_test(ice, a_replayed_nominating_request_from_elsewhere_does_not_move_the_session);
  tcase_add_test(ice, consent_expires_after_30_s_without_a_valid_check_and_nothing_is_sent_after);
  tcase_add_test(ice, role_conflict_and_unknown_attributes_get_authenticated_errors);
  tcase_add_loop_test(
      ice, a_nominating_check_replayed_after_n_later_checks_moves_nothing_and_extends_no_consent, 1,
      65);
  tcase_add_test(ice, replayed_checks_do_not_keep_a_session_alive_whose_peer_is_gone);
  tcase_add_loop_test(ice, an_eavesdropper_cannot_kill_a_session_with_two_datagrams, 0, 2);
  tcase_add_test(ice, dtls_application_data_from_a_probed_address_moves_the_session);
  tcase_add_test(ice, a_client_hello_that_overtakes_the_nomination_is_kept_and_costs_no_round_trip);
  tcase_add_test(ice, unauthenticated_requests_get_400_and_401_only_when_asked);
  suite_add_tcase(s, ice);
  TCase *life = tcase_create("lifecycle");
  tcase_set_timeout(life, 120);
  tcase_add_test(life, a_lost_flight_is_retransmitted_when_the_router_deadline_comes);
  tcase_add_test(life, router_as_dtls_client_starts_the_handshake_at_nomination);
  tcase_add_test(life, removing_a_session_closes_it_politely_and_forgets_it);
  tcase_add_test(life, bad_arguments_are_refused);
  suite_add_tcase(s, life);
  TCase *bad = tcase_create("bad_input");
  tcase_set_timeout(bad, 120);
  tcase_add_test(bad, malformed_stun_to_the_router_is_counted_and_never_crashes);
  tcase_add_test(bad, datagrams_of_no_known_class_from_a_session_address_are_counted);
  tcase_add_test(bad, media_from_a_checked_address_before_nomination_is_counted);
  suite_add_tcase(s, bad);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
