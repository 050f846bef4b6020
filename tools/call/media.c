/* rtcsec-call: what the agent reports, the media both ways and the count
 * exchange that judges it (the top of rtcsec-call.c describes both). See
 * app.h for the other files.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"

/* ---- what the agent reports ------------------------------------------------ */

static void send_control(call *c, rtcsec_ice_agent *agent, const char *msg) {
  if (rtcsec_ice_send_data(agent, (const uint8_t *)msg, strlen(msg)) != RTCSEC_OK)
    c->data_send_errors++;
}

/* "done N" / "got K": a decimal count, nothing else. */
static int parse_count(const char *msg, size_t len, const char *word, uint64_t *out) {
  size_t wl = strlen(word);
  if (len <= wl + 1 || len > wl + 1 + 20 || memcmp(msg, word, wl) != 0 || msg[wl] != ' ')
    return -1;
  uint64_t v = 0;
  for (size_t i = wl + 1; i < len; i++) {
    if (msg[i] < '0' || msg[i] > '9' || v > (UINT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (uint64_t)(msg[i] - '0');
  }
  *out = v;
  return 0;
}

/* DTLS application data from the peer (under c->m). */
static void on_data(call *c, const uint8_t *data, size_t len) {
  uint64_t v;
  if (parse_count((const char *)data, len, "done", &v) == 0) {
    if (!c->got_done) {
      c->got_done = 1;
      c->peer_sent = v;
      c->done_at = g_get_monotonic_time();
    }
    /* A resent "done": our "got" was lost; answer again once decided. */
    if (c->receipt_final && c->agent != NULL) {
      char msg[32];
      snprintf(msg, sizeof(msg), "got %llu", (unsigned long long)c->receipt);
      send_control(c, c->agent, msg);
    }
  } else if (parse_count((const char *)data, len, "got", &v) == 0) {
    c->got_receipt = 1;
    c->peer_verified = v;
  } else if (c->d.dc != NULL) {
    rtcsec_dc_handle_datagram(c->d.dc, data, len, (uint64_t)g_get_monotonic_time());
  } else if (c->d.n > 0) {
    c->d.early++; /* SCTP before our association exists: SCTP repeats it */
  } else {
    c->data_unknown++;
  }
}

void on_event(void *user, const rtcsec_event *ev) {
  call *c = user;
  g_mutex_lock(&c->m);
  switch (ev->type) {
  case RTCSEC_EVENT_LOCAL_CANDIDATE:
    g_ptr_array_add(c->cands, g_strdup(ev->candidate));
    break;
  case RTCSEC_EVENT_GATHERING_DONE:
    c->gathering_done = 1;
    break;
  case RTCSEC_EVENT_CONNECTED:
    c->dtls_connected = 1;
    c->profile = ev->connected.profile;
    c->cipher = ev->connected.cipher;
    if (c->d.n > 0)
      data_start(c, &ev->connected);
    break;
  case RTCSEC_EVENT_FAILED:
    c->dtls_failed = 1;
    c->dtls_error = ev->failed.error;
    break;
  case RTCSEC_EVENT_CLOSED:
    c->dtls_closed = 1;
    break;
  case RTCSEC_EVENT_CONSENT_LOST:
    c->consent_lost = 1;
    break;
  case RTCSEC_EVENT_DATA:
    on_data(c, ev->data.data, ev->data.len);
    break;
  default:
    break;
  }
  g_cond_broadcast(&c->c);
  g_mutex_unlock(&c->m);
}

/* A packet as make_rtp() builds it: V=2, PT, length, the payload derived
 * from its sequence number. */
static int rtp_well_formed(rtcsec_packet_class kind, const uint8_t *b, size_t len) {
  if (kind != RTCSEC_PKT_RTP || len != 12 + RTP_PAYLOAD || b[0] != 0x80 || b[1] != RTP_PT)
    return 0;
  uint16_t seq = tool_get_be16(b + 2);
  for (size_t i = 0; i < RTP_PAYLOAD; i++)
    if (b[12 + i] != (uint8_t)(seq ^ i))
      return 0;
  return 1;
}

/* Authenticated media from the peer: verified if well formed and from the
 * peer's one SSRC. SRTP's replay check (RFC 3711 §3.3.2) has already
 * dropped any second copy, so each verified packet is a distinct one. */
void on_media(void *user, rtcsec_packet_class kind, uint8_t *buf, size_t len) {
  call *c = user;
  int ok = rtp_well_formed(kind, buf, len);
  uint32_t ssrc = ok ? tool_get_be32(buf + 8) : 0;
  g_mutex_lock(&c->m);
  c->rtp_received++;
  if (ok && !c->have_peer_ssrc) {
    c->have_peer_ssrc = 1;
    c->peer_ssrc = ssrc;
  }
  if (ok && ssrc == c->peer_ssrc)
    c->rtp_verified++;
  else
    c->rtp_bad++;
  g_cond_broadcast(&c->c);
  g_mutex_unlock(&c->m);
}

int wait_flag(call *c, const int *flag, const int *fail, gint64 deadline) {
  g_mutex_lock(&c->m);
  while (!*flag && !(fail && *fail) && g_cond_wait_until(&c->c, &c->m, deadline)) {
  }
  int v = *flag;
  g_mutex_unlock(&c->m);
  return v;
}

/* ---- media ----------------------------------------------------------------- */

static size_t make_rtp(uint8_t *b, uint32_t ssrc, uint16_t seq, uint32_t ts) {
  b[0] = 0x80;
  b[1] = RTP_PT;
  tool_put_be16(b + 2, seq);
  tool_put_be32(b + 4, ts);
  tool_put_be32(b + 8, ssrc);
  for (size_t i = 0; i < RTP_PAYLOAD; i++)
    b[12 + i] = (uint8_t)(seq ^ i);
  return 12 + RTP_PAYLOAD;
}

void media_send(call *c, rtcsec_ice_agent *agent, const options *o, media_sent *out) {
  uint32_t ssrc = g_random_int() | 1u;
  uint16_t seq = (uint16_t)g_random_int();
  uint32_t ts = g_random_int();
  memset(out, 0, sizeof(*out));
  out->total = (uint64_t)o->duration_s * o->rate;
  gint64 media_start = g_get_monotonic_time();
  uint8_t buf[MEDIA_BUF];
  for (uint64_t i = 0; i < out->total; i++) {
    gint64 due = media_start + (gint64)(i * G_USEC_PER_SEC / o->rate);
    gint64 now = g_get_monotonic_time();
    if (due > now)
      g_usleep((gulong)(due - now));
    g_mutex_lock(&c->m);
    int broken = call_broken(c);
    g_mutex_unlock(&c->m);
    if (broken)
      break; /* nothing more can arrive: say so now, not after the duration */
    size_t len = make_rtp(buf, ssrc, (uint16_t)(seq + i), ts + (uint32_t)i * RTP_CLOCK_STEP);
    int rc = rtcsec_ice_send_rtp(agent, buf, len, sizeof(buf));
    if (rc == RTCSEC_OK) {
      out->sent++;
    } else {
      out->send_errors++;
      out->last_error = rc;
    }
  }
}

/* ---- the count exchange and its verdict ------------------------------------ */

int call_broken(const call *c) { return c->dtls_failed || c->dtls_closed || c->consent_lost; }

/* Takes c->end (under c->m). */
static void take_end(call *c, rtcsec_ice_agent *agent) {
  c->end.dtls_failed = c->dtls_failed;
  c->end.dtls_error = c->dtls_error;
  c->end.dtls_closed = c->dtls_closed;
  c->end.consent_lost = c->consent_lost;
  c->end.verified = c->receipt_final ? c->receipt : c->rtp_verified;
  rtcsec_ice_get_stats(agent, &c->end.st);
}

void finish(call *c, rtcsec_ice_agent *agent, uint64_t sent, gint64 deadline) {
  char done[32];
  snprintf(done, sizeof(done), "done %llu", (unsigned long long)sent);
  gint64 next_done = 0, linger_until = 0;
  g_mutex_lock(&c->m);
  for (;;) {
    gint64 now = g_get_monotonic_time();
    if (now >= deadline || call_broken(c) || (linger_until != 0 && now >= linger_until))
      break;
    if (!c->got_receipt && now >= next_done) {
      send_control(c, agent, done);
      next_done = now + RESEND_US;
    }
    if (c->got_done && !c->receipt_final &&
        (c->rtp_verified >= c->peer_sent || now >= c->done_at + DRAIN_US)) {
      c->receipt_final = 1;
      c->receipt = c->rtp_verified;
      char got[32];
      snprintf(got, sizeof(got), "got %llu", (unsigned long long)c->receipt);
      send_control(c, agent, got);
    }
    if (c->got_receipt && c->receipt_final && linger_until == 0) {
      take_end(c, agent);
      linger_until = now + LINGER_US;
    }
    g_cond_wait_until(&c->c, &c->m, now + FINISH_POLL_US);
  }
  if (linger_until == 0)
    take_end(c, agent);
  g_mutex_unlock(&c->m);
}

const char *call_verdict(const call *c, const media_sent *ms, char *buf, size_t cap) {
  uint64_t total = ms->total, sent = ms->sent, send_errors = ms->send_errors;
  int last_error = ms->last_error;
  const rtcsec_ice_stats *st = &c->end.st;
  const rtcsec_srtp_direction_stats *in = &st->transport.srtp.inbound;
  if (c->end.dtls_failed)
    snprintf(buf, cap, "DTLS failed: %s", rtcsec_strerror(c->end.dtls_error));
  else if (c->end.dtls_closed)
    snprintf(buf, cap, "the peer closed the DTLS association");
  else if (c->end.consent_lost)
    snprintf(buf, cap, "ICE consent lost (RFC 7675)");
  else if (send_errors > 0)
    snprintf(buf, cap, "%llu of %llu RTP sends failed, last: %s", (unsigned long long)send_errors,
             (unsigned long long)total, rtcsec_strerror(last_error));
  else if (sent != total)
    snprintf(buf, cap, "sent %llu of %llu RTP packets", (unsigned long long)sent,
             (unsigned long long)total);
  else if (c->rtp_bad > 0)
    snprintf(buf, cap, "%llu packets from the peer failed verification",
             (unsigned long long)c->rtp_bad);
  else if (in->auth_failures > 0)
    snprintf(buf, cap, "%llu packets failed SRTP authentication",
             (unsigned long long)in->auth_failures);
  else if (!c->got_done)
    snprintf(buf, cap, "the peer never said how many packets it sent (verified %llu)",
             (unsigned long long)c->rtp_verified);
  else if (c->peer_sent == 0)
    snprintf(buf, cap, "the peer sent no media");
  else if (c->end.verified != c->peer_sent)
    snprintf(buf, cap, "verified %llu of the %llu packets the peer sent",
             (unsigned long long)c->end.verified, (unsigned long long)c->peer_sent);
  else if (!c->got_receipt)
    snprintf(buf, cap, "the peer never confirmed what it received");
  else if (c->peer_verified != sent)
    snprintf(buf, cap, "the peer verified %llu of the %llu packets we sent",
             (unsigned long long)c->peer_verified, (unsigned long long)sent);
  else if (st->transport.state != RTCSEC_DTLS_STATE_CONNECTED ||
           st->state != RTCSEC_ICE_STATE_CONNECTED)
    snprintf(buf, cap, "at the end DTLS is %s and ICE %s",
             rtcsec_dtls_state_name(st->transport.state), rtcsec_ice_state_name(st->state));
  else
    return NULL;
  return buf;
}
