/* rtcsec-call --data N: one data channel over the call's DTLS
 * (librtcsec-datachannel, SCTP over DTLS, RFC 8261), driven on a thread of
 * its own; the top of rtcsec-call.c says what goes over it. See app.h for
 * the other files.
 */
#include <string.h>

#include "app.h"

/* Offerer: bytes sent and not echoed yet. Small enough that a burst fits
 * the peer's UDP receive buffer: RTP shares that socket and every RTP
 * packet must arrive. */
#define DATA_WINDOW (64u * 1024u)
/* SCTP must be up this long after DTLS (the peer may lack --data). */
#define DATA_UP_US (5 * G_USEC_PER_SEC)

/* Message i: its size (0 to 64 KiB; the edges first, then spread), type
 * (odd: binary) and bytes (strings: ASCII letters, valid UTF-8). */
static size_t data_size(unsigned i) {
  static const size_t edges[] = {0, 0, 1, 1, 1199, 16384, 16385, 65535, 65536};
  if (i < sizeof(edges) / sizeof(edges[0]))
    return edges[i];
  return (size_t)(((uint64_t)i * 2654435761u) % 65537u);
}

static uint8_t data_byte(unsigned i, size_t k) {
  uint8_t b = (uint8_t)(i * 31u + k * 7u + (k >> 8));
  return (i & 1) ? b : (uint8_t)('a' + b % 26);
}

static int data_check(unsigned i, const rtcsec_message_info *m) {
  if (m->len != data_size(i) || m->binary != (int)(i & 1))
    return 0;
  for (size_t k = 0; k < m->len; k++)
    if (m->data[k] != data_byte(i, k))
      return 0;
  return 1;
}

static int to_agent(void *user, const uint8_t *packet, size_t len, uint64_t now) {
  (void)now;
  return rtcsec_ice_send_data(((call *)user)->agent, packet, len);
}

static void on_wake(void *user) { g_cond_broadcast(&((call *)user)->c); }

void data_start(call *c, const rtcsec_connected_info *dtls) {
  data_run *d = &c->d;
  if (d->dc != NULL)
    return;
  rtcsec_dc_config cfg;
  rtcsec_dc_config_default(&cfg);
  cfg.dtls_role = dtls->role;
  cfg.remote_max_message_size = RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE; /* rtcsec's */
  cfg.wake = on_wake;
  cfg.wake_user = c;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  d->start_us = (gint64)now;
  int rc = rtcsec_dc_new(&d->dc, &cfg);
  if (rc == RTCSEC_OK && d->offerer) {
    rtcsec_dc_channel_config cc;
    rtcsec_dc_channel_config_default(&cc);
    cc.label = "rtcsec-call";
    rc = rtcsec_dc_open_channel(d->dc, &cc, &d->id, now);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_dc_start(d->dc, dtls, now);
  if (rc != RTCSEC_OK) {
    d->failed = 1;
    d->error = rc;
  }
  g_cond_broadcast(&c->c);
}

static void data_message(call *c, const rtcsec_message_info *m, uint64_t now) {
  data_run *d = &c->d;
  unsigned i = (unsigned)d->received++;
  int ok = i < d->n && data_check(i, m);
  if (ok)
    d->verified++;
  else
    d->bad++;
  if (d->offerer) {
    d->inflight -= i < d->n ? data_size(i) : 0;
    if (d->received == d->n)
      d->done_us = (gint64)now;
    return;
  }
  /* The answerer sends it back as it came: same channel, type, bytes. */
  if (d->first_us == 0)
    d->first_us = (gint64)now;
  const uint8_t *echo = m->data;
  size_t len = m->len;
  if (i + 1 == d->corrupt) { /* TEST ONLY: one byte off, or one byte more */
    memcpy(d->buf, m->data, len);
    if (len > 0)
      d->buf[len - 1] ^= 0x01;
    else
      d->buf[len++] = 'x';
    echo = d->buf;
  }
  if (rtcsec_dc_send(d->dc, m->channel, echo, len, m->binary, now) == RTCSEC_OK)
    d->echoed++;
  else
    d->send_errors++;
  if (d->received == d->n)
    d->done_us = (gint64)now;
}

/* One turn (under c->m): timers, events, the offerer's next messages,
 * packets out. */
static void data_step(call *c) {
  data_run *d = &c->d;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (rtcsec_dc_deadline(d->dc) <= now)
    rtcsec_dc_handle_timeout(d->dc, now);
  rtcsec_event ev;
  while (rtcsec_dc_poll_event(d->dc, &ev) == RTCSEC_OK && ev.type != RTCSEC_EVENT_NONE) {
    if (ev.type == RTCSEC_EVENT_CONNECTED) {
      d->up = 1;
    } else if (ev.type == RTCSEC_EVENT_CHANNEL_OPEN) {
      d->channel_open = 1;
      d->id = ev.channel.id;
    } else if (ev.type == RTCSEC_EVENT_CHANNEL_CLOSED) {
      d->channel_open = 0;
    } else if (ev.type == RTCSEC_EVENT_MESSAGE) {
      data_message(c, &ev.message, now);
    } else if (ev.type == RTCSEC_EVENT_CLOSED) {
      d->closed = 1;
    } else if (ev.type == RTCSEC_EVENT_FAILED) {
      d->failed = 1;
      d->error = ev.failed.error;
    }
  }
  while (d->offerer && d->channel_open && d->sent < d->n && d->inflight < DATA_WINDOW) {
    unsigned i = (unsigned)d->sent;
    size_t len = data_size(i);
    for (size_t k = 0; k < len; k++)
      d->buf[k] = data_byte(i, k);
    int rc = rtcsec_dc_send(d->dc, d->id, d->buf, len, (int)(i & 1), now);
    if (rc == RTCSEC_ERR_DC_BUFFER_FULL)
      break;
    if (rc != RTCSEC_OK) {
      d->send_errors++;
      break;
    }
    if (d->sent++ == 0)
      d->first_us = (gint64)now;
    d->inflight += len;
    d->bytes += len;
  }
  rtcsec_dc_pump(d->dc, to_agent, c, now);
}

gpointer data_thread(gpointer user) {
  call *c = user;
  g_mutex_lock(&c->m);
  while (!c->d.stop) {
    gint64 now = g_get_monotonic_time(), until = now + 50000;
    if (c->d.dc != NULL) {
      data_step(c);
      uint64_t dl = rtcsec_dc_deadline(c->d.dc);
      if (dl < (uint64_t)until)
        until = (gint64)dl > now ? (gint64)dl : now + 1000;
    }
    g_cond_wait_until(&c->c, &c->m, until);
  }
  g_mutex_unlock(&c->m);
  return NULL;
}

void data_wait(call *c, gint64 deadline) {
  g_mutex_lock(&c->m);
  for (;;) {
    gint64 now = g_get_monotonic_time();
    const data_run *d = &c->d;
    if (d->received >= d->n || d->failed || d->closed || call_broken(c) || now >= deadline ||
        (!d->up && d->start_us != 0 && now >= d->start_us + DATA_UP_US))
      break;
    g_cond_wait_until(&c->c, &c->m, now + FINISH_POLL_US * 10);
  }
  g_mutex_unlock(&c->m);
}

const char *data_verdict(const call *c, char *buf, size_t cap) {
  const data_run *d = &c->d;
  if (d->failed)
    snprintf(buf, cap, "data channel: %s", rtcsec_strerror(d->error));
  else if (!d->up)
    snprintf(buf, cap, "data channel: SCTP never came up (did the peer get --data?)");
  else if (d->send_errors > 0)
    snprintf(buf, cap, "data channel: %llu sends failed", (unsigned long long)d->send_errors);
  else if (d->received != d->n || d->verified != d->n)
    snprintf(buf, cap, "data channel: %llu of %u messages %s byte-identical (%llu differ)",
             (unsigned long long)d->verified, d->n, d->offerer ? "came back" : "arrived",
             (unsigned long long)d->bad);
  else
    return NULL;
  return buf;
}

void data_report(const call *c) {
  const data_run *d = &c->d;
  double secs = d->done_us > d->first_us ? (double)(d->done_us - d->first_us) / 1e6 : 0;
  fprintf(report, "data_messages: %u\n", d->n);
  fprintf(report, "data_sent: %llu\n", (unsigned long long)(d->offerer ? d->sent : d->echoed));
  fprintf(report, "data_received: %llu\n", (unsigned long long)d->received);
  fprintf(report, "data_verified: %llu\n", (unsigned long long)d->verified);
  fprintf(report, "data_bad: %llu\n", (unsigned long long)d->bad);
  if (d->offerer)
    fprintf(report, "data_round_trip: %llu bytes in %.3f s (%.2f MB/s each way)\n",
            (unsigned long long)d->bytes, secs, secs > 0 ? (double)d->bytes / 1e6 / secs : 0.0);
}
