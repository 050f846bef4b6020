#include "dc_pair.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc_internal.h"
#include "fakeclock.h"

/* ---- SCTP straight on the link ------------------------------------------------ */

static int dc_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  return rtcsec_dc_handle_datagram(((dside *)o)->dc, d, n, now);
}
static int dc_to(void *o, uint64_t now) { return rtcsec_dc_handle_timeout(((dside *)o)->dc, now); }
static uint64_t dc_dl(void *o) { return rtcsec_dc_deadline(((dside *)o)->dc); }
static int dc_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_dc_poll_datagram(((dside *)o)->dc, b, c, n);
}

/* ---- SCTP in DTLS: a transport and its association as one endpoint ---------- */

static void stack_poll_transport(dside *s, uint64_t now) {
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_transport_poll_event(s->ht.t, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    if (ev.type == RTCSEC_EVENT_DATA) {
      rtcsec_dc_handle_datagram(s->dc, ev.data.data, ev.data.len, now);
    } else if (ev.type == RTCSEC_EVENT_CLOSED || ev.type == RTCSEC_EVENT_FAILED) {
      s->transport_closed++;
      rtcsec_dc_transport_closed(s->dc, now);
    }
  }
}

static int st_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  dside *s = o;
  rtcsec_transport_input in;
  int rc = rtcsec_transport_handle_datagram(s->ht.t, (uint8_t *)d, n, now, &in);
  stack_poll_transport(s, now);
  return rc;
}

static int st_to(void *o, uint64_t now) {
  dside *s = o;
  if (rtcsec_transport_deadline(s->ht.t) <= now)
    rtcsec_transport_handle_timeout(s->ht.t, now);
  stack_poll_transport(s, now);
  if (rtcsec_dc_deadline(s->dc) <= now)
    rtcsec_dc_handle_timeout(s->dc, now);
  return 0;
}

static uint64_t st_dl(void *o) {
  dside *s = o;
  uint64_t a = rtcsec_transport_deadline(s->ht.t), b = rtcsec_dc_deadline(s->dc);
  return a < b ? a : b;
}

/* The association's packets become DTLS records first. */
static int st_out(void *o, uint8_t *b, size_t c, size_t *n) {
  dside *s = o;
  rtcsec_dc_pump_transport(s->dc, s->ht.t, 0);
  return rtcsec_transport_poll_datagram(s->ht.t, b, c, n);
}

/* ---- events ---------------------------------------------------------------------- */

static void count_event(dpair *p, int i, const rtcsec_event *ev) {
  dside *s = &p->side[i];
  if (s->closed || s->failed)
    s->events_after_final++;
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    s->connected++;
    if (ev->connected.role != (i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER) ||
        ev->connected.version == NULL || ev->connected.cipher == NULL)
      s->bad_event++;
    /* the same payload as the transport's (rtcsec/event.h) */
    if (p->tp != NULL &&
        (strcmp(ev->connected.version, p->tp->side[i].info.version) != 0 ||
         strcmp(ev->connected.cipher, p->tp->side[i].info.cipher) != 0 ||
         ev->connected.profile != p->tp->side[i].info.profile ||
         memcmp(&ev->connected.peer_fingerprint, &p->tp->side[i].info.peer_fingerprint,
                sizeof(rtcsec_fingerprint)) != 0))
      s->bad_event++;
    break;
  case RTCSEC_EVENT_CLOSED:
    s->closed++;
    break;
  case RTCSEC_EVENT_FAILED:
    s->failed++;
    s->error = ev->failed.error;
    break;
  case RTCSEC_EVENT_CHANNEL_OPEN:
    if (ev->channel.id < DPAIR_MAX_IDS)
      s->open_events[ev->channel.id]++;
    if (ev->channel.label == NULL || ev->channel.protocol == NULL)
      s->bad_event++;
    break;
  case RTCSEC_EVENT_CHANNEL_CLOSED:
    if (ev->channel.id < DPAIR_MAX_IDS)
      s->closed_events[ev->channel.id]++;
    break;
  case RTCSEC_EVENT_BUFFERED_AMOUNT_LOW:
    if (ev->channel.id < DPAIR_MAX_IDS)
      s->low_events[ev->channel.id]++;
    break;
  case RTCSEC_EVENT_MESSAGE:
    if (ev->message.channel < DPAIR_MAX_IDS)
      s->messages[ev->message.channel]++;
    s->messages_total++;
    if (ev->message.len > 0 && ev->message.data == NULL)
      s->bad_event++;
    break;
  default:
    s->bad_event++;
    break;
  }
  if (p->on_event)
    p->on_event(p, i, ev);
}

void dpair_poll(dpair *p) {
  for (int i = 0; i < 2; i++) {
    rtcsec_event ev;
    for (int guard = 0; guard < 1000000; guard++) {
      ck_assert_int_eq(rtcsec_dc_poll_event(p->side[i].dc, &ev), 0);
      if (ev.type == RTCSEC_EVENT_NONE)
        break;
      count_event(p, i, &ev);
    }
  }
}

/* ---- pair ----------------------------------------------------------------------- */

static dpair *pair_alloc(const rtcsec_dc_config *cfg0, const rtcsec_dc_config *cfg1) {
  /* Every pair starts its fake time at 1 s again: the process-wide SCTP
   * clock must start again with it (with CK_FORK=no one process runs every
   * test; see "Time" in rtcsec/datachannel.h). */
  rtcsec_dc_test_reset_clock();
  dpair *p = calloc(1, sizeof(*p));
  ck_assert_ptr_nonnull(p);
  const rtcsec_dc_config *given[2] = {cfg0, cfg1};
  for (int i = 0; i < 2; i++) {
    rtcsec_dc_config cfg;
    if (given[i] != NULL) {
      cfg = *given[i];
    } else {
      rtcsec_dc_config_default(&cfg);
      cfg.dtls_role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    }
    ck_assert_int_eq(rtcsec_dc_new(&p->side[i].dc, &cfg), 0);
  }
  p->now = 1000000; /* 1 s: 0 is not special */
  fakeclock_set(p->now);
  return p;
}

dpair *dpair_new(const link_config *lc, const rtcsec_dc_config *cfg0,
                 const rtcsec_dc_config *cfg1) {
  dpair *p = pair_alloc(cfg0, cfg1);
  link_config clean = {0};
  p->link = link_new(lc ? lc : &clean);
  ck_assert_ptr_nonnull(p->link);
  p->seed = lc ? lc->seed : 0;
  for (int i = 0; i < 2; i++)
    p->ep[i] = (harness_endpoint){&p->side[i], dc_in, dc_to, dc_dl, dc_out};
  return p;
}

dpair *dpair_new_stack(const link_config *lc, const rtcsec_dc_config *cfg0,
                       const rtcsec_dc_config *cfg1) {
  dpair *p = pair_alloc(cfg0, cfg1);
  p->tp = tpair_new(0, lc, RTCSEC_SRTP_NONE);
  ck_assert_int_eq(p->tp->side[0].connected, 1);
  ck_assert_int_eq(p->tp->side[1].connected, 1);
  p->link = p->tp->link;
  p->now = p->tp->now;
  p->seed = lc ? lc->seed : 0;
  fakeclock_set(p->now);
  for (int i = 0; i < 2; i++) {
    p->side[i].ht = p->tp->side[i].ht;
    p->ep[i] = (harness_endpoint){&p->side[i], st_in, st_to, st_dl, st_out};
  }
  return p;
}

void dpair_free(dpair *p) {
  if (p == NULL)
    return;
  for (int i = 0; i < 2; i++)
    rtcsec_dc_free(p->side[i].dc);
  if (p->tp != NULL)
    tpair_free(p->tp); /* frees the link */
  else
    link_free(p->link);
  free(p);
}

typedef struct run_ctx {
  dpair *p;
  int (*done)(dpair *p);
} run_ctx;

static int step(void *user, uint64_t now) {
  run_ctx *r = user;
  r->p->now = now;
  dpair_poll(r->p);
  return r->done != NULL && r->done(r->p);
}

int dpair_run(dpair *p, uint64_t limit_us, int (*done)(dpair *p)) {
  run_ctx r = {p, done};
  harness_hooks hooks = {step, NULL, &r};
  harness_end end = harness_run(p->ep, p->link, &p->now, p->now + limit_us, &hooks);
  return end == HARNESS_STOPPED;
}

static int both_connected(dpair *p) { return p->side[0].connected && p->side[1].connected; }

rtcsec_connected_info dpair_plain_dtls(rtcsec_dtls_role role) {
  rtcsec_connected_info info;
  memset(&info, 0, sizeof(info));
  info.role = role;
  info.version = info.cipher = info.group = "";
  return info;
}

void dpair_connect(dpair *p) {
  for (int i = 1; i >= 0; i--) {
    rtcsec_connected_info info =
        p->tp != NULL ? p->tp->side[i].info
                      : dpair_plain_dtls(i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER);
    ck_assert_int_eq(rtcsec_dc_start(p->side[i].dc, &info, p->now), 0);
  }
  if (!dpair_run(p, 60u * 1000000u, both_connected))
    ck_abort_msg("associations did not connect (seed %llu)", (unsigned long long)p->seed);
}

/* ---- payloads ---------------------------------------------------------------- */

static uint8_t pattern(uint16_t channel, uint32_t seq, size_t i) {
  return (uint8_t)(channel * 31u + seq * 7u + i * 13u + (i >> 8));
}

void dpair_fill(uint8_t *buf, size_t len, uint16_t channel, uint32_t seq) {
  uint8_t hdr[8] = {
      (uint8_t)(channel >> 8), (uint8_t)channel,    0xD0,        0x0D, (uint8_t)(seq >> 24),
      (uint8_t)(seq >> 16),    (uint8_t)(seq >> 8), (uint8_t)seq};
  for (size_t i = 0; i < len; i++)
    buf[i] = i < 8 ? hdr[i] : pattern(channel, seq, i);
}

int dpair_check(const uint8_t *buf, size_t len, uint16_t channel, uint32_t *seq) {
  if (len < 8 || buf[0] != (uint8_t)(channel >> 8) || buf[1] != (uint8_t)channel ||
      buf[2] != 0xD0 || buf[3] != 0x0D)
    return 0;
  uint32_t s = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
  for (size_t i = 8; i < len; i++) {
    if (buf[i] != pattern(channel, s, i))
      return 0;
  }
  *seq = s;
  return 1;
}
