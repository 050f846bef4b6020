#include "transport_util.h"

#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"

const int all_test_profiles[4] = {RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM,
                                  RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AES128_CM_SHA1_32};

size_t tpair_make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len) {
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  uint32_t ts = (uint32_t)seq * 960u;
  buf[4] = (uint8_t)(ts >> 24);
  buf[5] = (uint8_t)(ts >> 16);
  buf[6] = (uint8_t)(ts >> 8);
  buf[7] = (uint8_t)ts;
  buf[8] = (uint8_t)(ssrc >> 24);
  buf[9] = (uint8_t)(ssrc >> 16);
  buf[10] = (uint8_t)(ssrc >> 8);
  buf[11] = (uint8_t)ssrc;
  for (size_t i = 0; i < payload_len; i++)
    buf[12 + i] = (uint8_t)(ssrc + seq * 7u + i);
  return 12 + payload_len;
}

int tpair_rtp_payload_ok(const uint8_t *buf, size_t len) {
  if (len < 12)
    return 0;
  uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
  uint32_t ssrc =
      (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
  for (size_t i = 0; i + 12 < len; i++) {
    if (buf[12 + i] != (uint8_t)(ssrc + seq * 7u + i))
      return 0;
  }
  return 1;
}

size_t tpair_make_rtcp_sr(uint8_t *buf, uint32_t ssrc) {
  memset(buf, 0, 28);
  buf[0] = 0x80; /* V=2, no reports */
  buf[1] = 200;  /* SR */
  buf[3] = 6;    /* length in 32-bit words minus one */
  buf[4] = (uint8_t)(ssrc >> 24);
  buf[5] = (uint8_t)(ssrc >> 16);
  buf[6] = (uint8_t)(ssrc >> 8);
  buf[7] = (uint8_t)ssrc;
  for (int i = 8; i < 28; i++)
    buf[i] = (uint8_t)i;
  return 28;
}

static void on_input(void *user, int rc, const rtcsec_transport_input *in, const uint8_t *buf) {
  tside *s = user;
  s->last_rc = rc;
  if (in->kind != RTCSEC_PKT_RTP && in->kind != RTCSEC_PKT_RTCP)
    return;
  if (rc != RTCSEC_OK) {
    s->media_errors++;
    if (rc == RTCSEC_ERR_SRTP_REPLAY)
      s->replays++;
    return;
  }
  if (in->kind == RTCSEC_PKT_RTCP) {
    s->rtcp_ok++;
    if (in->len != 28 || buf[1] != 200)
      s->bad_payload++;
    return;
  }
  s->rtp_ok++;
  if (!tpair_rtp_payload_ok(buf, in->len))
    s->bad_payload++;
  uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
  if (s->seen[seq / 8] & (1u << (seq % 8)))
    s->dup_delivered++;
  s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
}

static void poll_side(tside *s) {
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_transport_poll_event(s->t, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      return;
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      s->connected++;
      s->info = ev.connected;
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      s->failed++;
      s->error = ev.failed.error;
    } else if (ev.type == RTCSEC_EVENT_CLOSED)
      s->closed++;
    else if (ev.type == RTCSEC_EVENT_DATA) {
      s->n_data++;
      ck_assert_uint_le(ev.data.len, sizeof(s->data));
      memcpy(s->data, ev.data.data, ev.data.len);
      s->data_len = ev.data.len;
    }
  }
}

static int step_connect(void *user, uint64_t now) {
  tpair *tp = user;
  tp->now = now;
  poll_side(&tp->side[0]);
  poll_side(&tp->side[1]);
  for (int i = 0; i < 2; i++) {
    if (!tp->side[i].connected && !tp->side[i].failed)
      return 0;
  }
  return 1;
}

static int step_poll(void *user, uint64_t now) {
  tpair *tp = user;
  tp->now = now;
  poll_side(&tp->side[0]);
  poll_side(&tp->side[1]);
  return 0;
}

static tpair *make(const link_config *lc, rtcsec_srtp_profile profile,
                   const rtcsec_srtp_config *srtp, int wrong_fp) {
  tpair *tp = calloc(1, sizeof(*tp));
  ck_assert_ptr_nonnull(tp);
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(rtcsec_cert_generate(&tp->side[i].cert, NULL), 0);
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_config cfg;
    rtcsec_transport_config_default(&cfg);
    if (srtp)
      cfg.srtp = *srtp;
    cfg.dtls.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.dtls.cert = tp->side[i].cert;
    if (profile != RTCSEC_SRTP_NONE) {
      cfg.dtls.profiles[0] = profile;
      cfg.dtls.n_profiles = 1;
    }
    rtcsec_fingerprint fp;
    rtcsec_cert *peer = tp->side[1 - i].cert;
    rtcsec_cert *other = NULL;
    if (wrong_fp && i == 1) {
      ck_assert_int_eq(rtcsec_cert_generate(&other, NULL), 0);
      peer = other;
    }
    ck_assert_int_eq(rtcsec_cert_fingerprint(peer, RTCSEC_HASH_SHA256, &fp), 0);
    rtcsec_cert_free(other);
    cfg.dtls.peer_fingerprints = &fp;
    cfg.dtls.n_peer_fingerprints = 1;
    ck_assert_int_eq(rtcsec_transport_new(&tp->side[i].t, &cfg), 0);
    tp->side[i].ht = (harness_transport){tp->side[i].t, on_input, &tp->side[i]};
    tp->ep[i] = harness_transport_endpoint(&tp->side[i].ht);
  }
  link_config clean = {0};
  tp->link = link_new(lc ? lc : &clean);
  ck_assert_ptr_nonnull(tp->link);
  return tp;
}

void tpair_connect(tpair *tp) {
  fakeclock_set(tp->now);
  ck_assert_int_eq(rtcsec_transport_start(tp->side[1].t, tp->now), 0);
  ck_assert_int_eq(rtcsec_transport_start(tp->side[0].t, tp->now), 0);
  harness_hooks hooks = {step_connect, NULL, tp};
  ck_assert_int_eq(harness_run(tp->ep, tp->link, &tp->now, tp->now + 60 * 1000000u, &hooks),
                   HARNESS_STOPPED);
}

tpair *tpair_new_cfg(const link_config *lc, rtcsec_srtp_profile profile,
                     const rtcsec_srtp_config *srtp) {
  tpair *tp = make(lc, profile, srtp, 0);
  tpair_connect(tp);
  return tp;
}

tpair *tpair_new(int unused, const link_config *lc, rtcsec_srtp_profile profile) {
  (void)unused;
  return tpair_new_cfg(lc, profile, NULL);
}

tpair *tpair_unstarted(void) { return make(NULL, RTCSEC_SRTP_NONE, NULL, 0); }

tpair *tpair_wrong_fingerprint(void) {
  tpair *tp = make(NULL, RTCSEC_SRTP_NONE, NULL, 1);
  tpair_connect(tp);
  return tp;
}

void tpair_free(tpair *tp) {
  for (int i = 0; i < 2; i++) {
    rtcsec_transport_free(tp->side[i].t);
    rtcsec_cert_free(tp->side[i].cert);
  }
  link_free(tp->link);
  free(tp);
}

void tpair_send_raw(tpair *tp, int s, const uint8_t *data, size_t len) {
  link_send(tp->link, s, data, len, tp->now);
}

int tpair_send_rtp(tpair *tp, int s, uint32_t ssrc, uint16_t seq, size_t payload_len) {
  uint8_t buf[1600];
  size_t n = tpair_make_rtp(buf, ssrc, seq, payload_len), out = 0;
  int rc = rtcsec_transport_protect_rtp(tp->side[s].t, buf, n, sizeof(buf), &out, tp->now);
  if (rc == RTCSEC_OK)
    link_send(tp->link, s, buf, out, tp->now);
  return rc;
}

int tpair_send_rtcp(tpair *tp, int s, uint32_t ssrc) {
  uint8_t buf[128];
  size_t n = tpair_make_rtcp_sr(buf, ssrc), out = 0;
  int rc = rtcsec_transport_protect_rtcp(tp->side[s].t, buf, n, sizeof(buf), &out, tp->now);
  if (rc == RTCSEC_OK)
    link_send(tp->link, s, buf, out, tp->now);
  return rc;
}

void tpair_settle(tpair *tp) {
  harness_hooks hooks = {step_poll, NULL, tp};
  harness_run(tp->ep, tp->link, &tp->now, tp->now + 10 * 1000000u, &hooks);
}

int tpair_protect_rtp(tpair *tp, int s, uint32_t ssrc, uint16_t seq, size_t payload_len,
                      uint8_t *buf, size_t cap, size_t *len) {
  ck_assert_uint_ge(cap, 12 + payload_len);
  size_t n = tpair_make_rtp(buf, ssrc, seq, payload_len);
  *len = 0;
  return rtcsec_transport_protect_rtp(tp->side[s].t, buf, n, cap, len, tp->now);
}

int tpair_protect_rtcp(tpair *tp, int s, uint32_t ssrc, uint8_t *buf, size_t cap, size_t *len) {
  ck_assert_uint_ge(cap, 28);
  size_t n = tpair_make_rtcp_sr(buf, ssrc);
  *len = 0;
  return rtcsec_transport_protect_rtcp(tp->side[s].t, buf, n, cap, len, tp->now);
}

int tpair_offer(tpair *tp, int r, const uint8_t *data, size_t len, rtcsec_packet_class *kind) {
  uint8_t *copy = malloc(len > 0 ? len : 1);
  ck_assert_ptr_nonnull(copy);
  if (len > 0)
    memcpy(copy, data, len);
  rtcsec_transport_input in;
  memset(&in, 0, sizeof(in));
  int rc = rtcsec_transport_handle_datagram(tp->side[r].t, copy, len, tp->now, &in);
  on_input(&tp->side[r], rc, &in, copy);
  free(copy);
  if (kind != NULL)
    *kind = in.kind;
  poll_side(&tp->side[r]);
  harness_flush(&tp->ep[r], r, tp->link, tp->now, NULL);
  return rc;
}

void tpair_finish_handshake(tpair *tp) {
  harness_hooks hooks = {step_connect, NULL, tp};
  ck_assert_int_eq(harness_run(tp->ep, tp->link, &tp->now, tp->now + 60 * 1000000u, &hooks),
                   HARNESS_STOPPED);
}
