/* The victim association of the data-channel fuzz target: see
 * fuzz_sctp_common.h. */
#include "fuzz_sctp_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc_internal.h"
#include "dcep.h"
#include "fakeclock.h"
#include "fuzz_common.h"

#define VICTIM_STREAMS 64u
#define VICTIM_CHANNELS 8u
#define VICTIM_MAX_MESSAGE 4096u

struct fz_sctp_victim {
  rtcsec_dc *dc;
  uint64_t now;
  fz_sctp_sink out;
  void *user;
  uint8_t open[VICTIM_STREAMS]; /* CHANNEL_OPEN reported, no CHANNEL_CLOSED yet */
  uint16_t own[64];             /* ids the victim opened, oldest first */
  size_t n_own;
  int ended;
  fz_sctp_result res;
};

void fz_sctp_victim_config(rtcsec_dc_config *cfg) {
  rtcsec_dc_config_default(cfg);
  cfg->dtls_role = RTCSEC_DTLS_SERVER;
  cfg->max_streams = VICTIM_STREAMS;
  cfg->max_channels = VICTIM_CHANNELS;
  cfg->max_message_size = VICTIM_MAX_MESSAGE;
  cfg->remote_max_message_size = 65536;
  cfg->receive_buffer = 1024;
  cfg->max_buffered = 64 * 1024;
  cfg->max_queued_packets = 256;
}

void fz_sctp_peer_config(rtcsec_dc_config *cfg) {
  rtcsec_dc_config_default(cfg);
  cfg->dtls_role = RTCSEC_DTLS_CLIENT;
  cfg->max_streams = VICTIM_STREAMS;
  cfg->remote_max_message_size = RTCSEC_DC_MESSAGE_SIZE_ANY; /* it may break the rules */
}

static void drain(fz_sctp_victim *v) {
  static uint8_t buf[65535];
  for (;;) {
    size_t n = 0;
    FUZZ_CHECK(rtcsec_dc_poll_datagram(v->dc, buf, sizeof(buf), &n) == RTCSEC_OK);
    if (n == 0)
      return;
    FUZZ_CHECK(n >= 12 && n <= RTCSEC_DC_DEFAULT_PACKET_SIZE);
    v->res.packets_out++;
    if (getenv("FZ_SCTP_DEBUG")) {
      fprintf(stderr, "victim out %zu:", n);
      for (size_t i = 0; i < 24 && i < n; i++)
        fprintf(stderr, " %02x", buf[i]);
      fprintf(stderr, "\n");
    }
    if (v->out != NULL)
      v->out(v->user, buf, n);
  }
}

static void check_text(const char *s) {
  FUZZ_CHECK(s != NULL);
  FUZZ_CHECK(dcep_text_valid((const uint8_t *)s, strlen(s)));
}

/* Every event, checked against what the API promises. */
static void poll_events(fz_sctp_victim *v) {
  for (int guard = 0; guard < 100000; guard++) {
    rtcsec_event ev;
    FUZZ_CHECK(rtcsec_dc_poll_event(v->dc, &ev) == RTCSEC_OK);
    if (ev.type == RTCSEC_EVENT_NONE)
      return;
    FUZZ_CHECK(!v->ended); /* nothing after CLOSED or FAILED */
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      FUZZ_CHECK(v->res.connected == 0);
      v->res.connected++;
      break;
    case RTCSEC_EVENT_CHANNEL_OPEN:
      FUZZ_CHECK(ev.channel.id < VICTIM_STREAMS && !v->open[ev.channel.id]);
      check_text(ev.channel.label);
      check_text(ev.channel.protocol);
      v->open[ev.channel.id] = 1;
      v->res.opens++;
      break;
    case RTCSEC_EVENT_CHANNEL_CLOSED:
      FUZZ_CHECK(ev.channel.id < VICTIM_STREAMS);
      v->open[ev.channel.id] = 0;
      v->res.closes++;
      break;
    case RTCSEC_EVENT_BUFFERED_AMOUNT_LOW:
      FUZZ_CHECK(ev.channel.id < VICTIM_STREAMS && v->open[ev.channel.id]);
      break;
    case RTCSEC_EVENT_MESSAGE: {
      FUZZ_CHECK(ev.message.channel < VICTIM_STREAMS && v->open[ev.message.channel]);
      FUZZ_CHECK(ev.message.len <= VICTIM_MAX_MESSAGE);
      FUZZ_CHECK(ev.message.len == 0 || ev.message.data != NULL);
      /* read every byte: the sanitizer checks the buffer is what it says */
      unsigned sum = 0;
      for (size_t i = 0; i < ev.message.len; i++)
        sum += ev.message.data[i];
      (void)sum;
      v->res.messages++;
      v->res.message_bytes += ev.message.len;
      break;
    }
    case RTCSEC_EVENT_CLOSED:
      v->res.closed++;
      v->ended = 1;
      break;
    case RTCSEC_EVENT_FAILED:
      FUZZ_CHECK(ev.failed.error == RTCSEC_ERR_DC_ABORTED ||
                 ev.failed.error == RTCSEC_ERR_DC_TIMEOUT);
      v->res.failed++;
      v->res.error = ev.failed.error;
      v->ended = 1;
      break;
    default:
      FUZZ_CHECK(0);
    }
  }
  FUZZ_CHECK(0); /* an endless stream of events */
}

static void settle(fz_sctp_victim *v) {
  poll_events(v);
  drain(v);
  rtcsec_dc_stats st;
  FUZZ_CHECK(rtcsec_dc_get_stats(v->dc, &st) == RTCSEC_OK);
  FUZZ_CHECK(st.channels <= VICTIM_CHANNELS);
  FUZZ_CHECK(st.buffered_amount <= 64 * 1024 + 4096);
}

static int send_rc_ok(int rc) {
  return rc == RTCSEC_OK || rc == RTCSEC_ERR_DC_CHANNEL_CLOSED || rc == RTCSEC_ERR_DC_BUFFER_FULL ||
         rc == RTCSEC_ERR_CLOSED || rc == RTCSEC_ERR_DC_ABORTED || rc == RTCSEC_ERR_DC_TIMEOUT;
}

static void open_one(fz_sctp_victim *v, int negotiated, uint16_t id) {
  rtcsec_dc_channel_config cc;
  rtcsec_dc_channel_config_default(&cc);
  cc.label = "fz";
  cc.negotiated = negotiated;
  cc.id = id;
  cc.ordered = (v->n_own % 2) == 0;
  cc.reliability = v->n_own % 3 == 2 ? RTCSEC_CHANNEL_MAX_RETRANSMITS : RTCSEC_CHANNEL_RELIABLE;
  uint16_t got = 0;
  int rc = rtcsec_dc_open_channel(v->dc, &cc, &got, v->now);
  FUZZ_CHECK(rc == RTCSEC_OK || rc == RTCSEC_ERR_LIMIT || rc == RTCSEC_ERR_DC_STREAM_ID ||
             rc == RTCSEC_ERR_INVALID_STATE);
  if (rc == RTCSEC_OK && v->n_own < sizeof(v->own) / sizeof(v->own[0]))
    v->own[v->n_own++] = got;
}

static void act(fz_sctp_victim *v) {
  static const uint8_t bin[3] = {0, 1, 2};
  for (uint16_t id = 0; id < VICTIM_STREAMS; id++) {
    if (!v->open[id])
      continue;
    FUZZ_CHECK(send_rc_ok(rtcsec_dc_send(v->dc, id, (const uint8_t *)"fz", 2, 0, v->now)));
    FUZZ_CHECK(send_rc_ok(rtcsec_dc_send(v->dc, id, bin, sizeof(bin), 1, v->now)));
  }
  open_one(v, 0, RTCSEC_DC_ID_AUTO);
  if (v->n_own > 0) {
    int rc = rtcsec_dc_close_channel(v->dc, v->own[0], v->now);
    FUZZ_CHECK(rc == RTCSEC_OK || rc == RTCSEC_ERR_DC_CHANNEL_CLOSED);
    memmove(v->own, v->own + 1, (v->n_own - 1) * sizeof(v->own[0]));
    v->n_own--;
  }
}

fz_sctp_victim *fz_sctp_victim_new(fz_sctp_sink out, void *user) {
  /* usrsctp's start (on the first call) probes getrandom once: the
   * stream starts again after it. */
  FUZZ_CHECK(rtcsec_dc_test_for_replay() == RTCSEC_OK);
  fz_sctp_random_reset();
  fz_sctp_victim *v = calloc(1, sizeof(*v));
  FUZZ_CHECK(v != NULL);
  v->out = out;
  v->user = user;
  v->now = FZ_SCTP_T0;
  fakeclock_set(v->now);
  rtcsec_dc_config cfg;
  fz_sctp_victim_config(&cfg);
  FUZZ_CHECK(rtcsec_dc_new(&v->dc, &cfg) == RTCSEC_OK);
  open_one(v, 1, 4);
  open_one(v, 0, RTCSEC_DC_ID_AUTO);
  FUZZ_CHECK(v->n_own == 2 && v->own[1] == 1);
  rtcsec_connected_info info;
  memset(&info, 0, sizeof(info));
  info.role = cfg.dtls_role;
  FUZZ_CHECK(rtcsec_dc_start(v->dc, &info, v->now) == RTCSEC_OK);
  settle(v);
  return v;
}

void fz_sctp_victim_record(fz_sctp_victim *v, unsigned flags, const uint8_t *p, size_t len) {
  v->now += 1000;
  if (flags & FZ_SCTP_TIMER) {
    uint64_t dl = rtcsec_dc_deadline(v->dc);
    if (dl != UINT64_MAX && dl > v->now)
      v->now = dl;
    fakeclock_set(v->now);
    FUZZ_CHECK(rtcsec_dc_handle_timeout(v->dc, v->now) == RTCSEC_OK);
    settle(v);
  }
  fakeclock_set(v->now);
  if (len > 0) {
    int rc = rtcsec_dc_handle_datagram(v->dc, p, len, v->now);
    FUZZ_CHECK(rc == RTCSEC_OK || rc == RTCSEC_ERR_DC_PACKET_DROPPED ||
               (rc == RTCSEC_ERR_INVALID_STATE && v->ended));
    settle(v);
  }
  if (flags & FZ_SCTP_ACT) {
    act(v);
    settle(v);
  }
}

uint64_t fz_sctp_victim_now(const fz_sctp_victim *v) { return v->now; }

uint64_t fz_sctp_victim_deadline(const fz_sctp_victim *v) { return rtcsec_dc_deadline(v->dc); }

void fz_sctp_victim_free(fz_sctp_victim *v, fz_sctp_result *res) {
  v->now += 1000;
  fakeclock_set(v->now);
  FUZZ_CHECK(rtcsec_dc_close(v->dc, v->now) == RTCSEC_OK);
  settle(v);
  FUZZ_CHECK(rtcsec_dc_get_stats(v->dc, &v->res.stats) == RTCSEC_OK);
  if (res != NULL)
    *res = v->res;
  rtcsec_dc_free(v->dc);
  free(v);
}

void fz_sctp_run(const uint8_t *data, size_t size, fz_sctp_result *res) {
  fz_sctp_victim *v = fz_sctp_victim_new(NULL, NULL);
  size_t at = 0;
  while (size - at >= 2) {
    unsigned h = (unsigned)data[at] << 8 | data[at + 1];
    at += 2;
    size_t n = h & FZ_SCTP_LEN_MASK;
    if (n > size - at)
      n = size - at;
    fz_sctp_victim_record(v, h & (FZ_SCTP_TIMER | FZ_SCTP_ACT), data + at, n);
    at += n;
  }
  fz_sctp_victim_free(v, res);
}
