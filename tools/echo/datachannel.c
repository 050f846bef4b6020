/* rtcsec-echo: data channels. Every message a browser sends on a data
 * channel goes back on the same channel, with the same type (string or
 * binary), byte for byte.
 *
 * One librtcsec-datachannel association (rtcsec_dc) per call whose plan
 * has an accepted data section (echo/sdp_session.h), carried as DTLS
 * application data by the call's back-end: the libnice agent
 * (rtcsec_ice_send_data) or the single-port router (rtcsec_router_send_data
 * through echo/lite_port.h). It is created when DTLS connects (the role
 * and the CONNECTED payload come from that event), with one pre-agreed
 * channel: id ECHO_DC_NEGOTIATED_ID, label "negotiated" (the page opens
 * the same with negotiated: true); channels the browser opens with DCEP
 * (RFC 8832) are accepted as they come.
 *
 * Driving it (rtcsec/datachannel.h, "the embedder's loop"): each DTLS
 * application-data record goes to rtcsec_dc_handle_datagram() at once (its
 * bytes live only until the back-end's next call); everything else runs
 * in one GSource per call whose ready time is the association's deadline:
 * timers, the events (each MESSAGE sent straight back), then the packets
 * out through rtcsec_dc_pump(). A record that arrives, and usrsctp waking
 * the association from another call's timers (cfg.wake), make the source
 * ready now. Flow control: while more than ECHO_DC_HIGH_WATER bytes wait
 * to be sent back, no more messages are read, so they stay in SCTP's
 * receive window and the browser's sends slow down; the echo never drops
 * a message for lack of room.
 *
 * One clock for every association of the process (usrsctp's timers are
 * process-wide): g_get_monotonic_time(), CLOCK_MONOTONIC in microseconds,
 * the same clock the router and the agent use.
 */
#include <string.h>

#include "app.h"
#include "rtcsec/datachannel.h"

/* Bytes queued back at most before reading pauses (a few large messages). */
#define ECHO_DC_HIGH_WATER (1024u * 1024u)
/* Events handled per turn of the main loop, so HTTP and media get theirs. */
#define ECHO_DC_EVENTS_PER_TURN 256
/* While reading waits for the echo to drain, the association's deadline
 * says "now" (messages wait to be read): look again this much later, or
 * as soon as a packet (a SACK) arrives. */
#define ECHO_DC_PAUSE_RETRY_US 5000

typedef struct dc_source {
  GSource base;
  echo_session *s;
} dc_source;

struct echo_dc {
  rtcsec_dc *dc;
  dc_source *source;
  int servicing;     /* inside service(): wake-ups only re-arm */
  int transport_end; /* DTLS closed or failed: rtcsec_dc_transport_closed() given */
  int negotiated_id_open;
  uint16_t local_port, remote_port;
  size_t remote_max_message_size;
  /* the association's last events */
  int connected, closed, failed, error;
  uint64_t send_errors;
  int last_send_error;
  uint64_t paused; /* turns that stopped reading: the echo was behind */
  uint64_t echoes; /* messages handed back, for --test-corrupt-echo */
  int altered;     /* --test-corrupt-echo: the one altered echo went */
};

static uint64_t dc_now(void) { return (uint64_t)g_get_monotonic_time(); }

static const echo_plan_media *data_section(const echo_session *s) {
  for (size_t i = 0; i < s->plan.n_media; i++)
    if (s->plan.m[i].accepted && s->plan.m[i].kind == ECHO_KIND_DATA)
      return &s->plan.m[i];
  return NULL;
}

/* ---- the carrier ------------------------------------------------------------- */

static int carry(void *user, const uint8_t *packet, size_t len, uint64_t now) {
  echo_session *s = user;
  (void)now; /* the agent and the router read their own clock (the same one) */
  return s->app->lite != NULL ? lite_session_send_data(s, packet, len)
                              : nice_session_send_data(s, packet, len);
}

/* ---- events ------------------------------------------------------------------------ */

static void note_send_error(echo_session *s, int rc) {
  echo_dc *d = s->dc;
  d->send_errors++;
  d->last_send_error = rc;
  if (d->send_errors <= MAX_LOGGED_SEND_ERRORS)
    slog(s, "data channel: echoing a message failed: %s (%d)%s", rtcsec_strerror(rc), rc,
         d->send_errors == MAX_LOGGED_SEND_ERRORS ? "; not logging more" : "");
}

/* --test-corrupt-echo: the message (never empty) with its last byte
 * flipped, so that the page must catch it; its length stays, so the byte
 * counts of both sides still agree. */
static int send_altered(echo_session *s, const rtcsec_message_info *m, uint64_t now) {
  uint8_t *copy = g_malloc(m->len);
  memcpy(copy, m->data, m->len);
  size_t len = m->len;
  copy[len - 1] ^= 0x01;
  slog(s, "WARNING --test-corrupt-echo: echoing message %llu on channel %u ALTERED",
       (unsigned long long)s->dc->echoes, m->channel);
  int rc = rtcsec_dc_send(s->dc->dc, m->channel, copy, len, m->binary, now);
  g_free(copy);
  return rc;
}

static void on_event(echo_session *s, const rtcsec_event *ev, uint64_t now) {
  echo_dc *d = s->dc;
  switch (ev->type) {
  case RTCSEC_EVENT_MESSAGE: {
    /* The message's bytes are valid until the next poll: sent back as
     * they are (rtcsec_dc_send copies what SCTP cannot take at once). */
    const rtcsec_message_info *m = &ev->message;
    /* The first non-empty message from the Nth on: the page sends empty
     * ones too, in an order between its channels that varies. */
    int alter = s->app->opt.corrupt_echo && ++d->echoes >= s->app->opt.corrupt_echo &&
                !d->altered && m->len > 0;
    d->altered |= alter;
    int rc = alter ? send_altered(s, m, now)
                   : rtcsec_dc_send(d->dc, m->channel, m->data, m->len, m->binary, now);
    if (rc != RTCSEC_OK)
      note_send_error(s, rc);
    break;
  }
  case RTCSEC_EVENT_CHANNEL_OPEN:
    if (ev->channel.id == ECHO_DC_NEGOTIATED_ID && ev->channel.negotiated)
      d->negotiated_id_open = 1;
    slog(s, "data channel %u open: label '%.64s', protocol '%.64s', %s%s, %s", ev->channel.id,
         ev->channel.label, ev->channel.protocol, ev->channel.ordered ? "ordered" : "unordered",
         ev->channel.reliability == RTCSEC_CHANNEL_RELIABLE ? ", reliable" : ", partially reliable",
         ev->channel.negotiated ? "negotiated" : "DCEP");
    break;
  case RTCSEC_EVENT_CHANNEL_CLOSED:
    if (ev->channel.id == ECHO_DC_NEGOTIATED_ID)
      d->negotiated_id_open = 0;
    slog(s, "data channel %u closed", ev->channel.id);
    break;
  case RTCSEC_EVENT_CONNECTED:
    d->connected = 1;
    slog(s, "data channels: SCTP association up (sctp-port %u -> %u)", d->local_port,
         d->remote_port);
    break;
  case RTCSEC_EVENT_CLOSED:
    d->closed = 1;
    slog(s, "%s", "data channels: SCTP association closed");
    break;
  case RTCSEC_EVENT_FAILED:
    d->failed = 1;
    d->error = ev->failed.error;
    slog(s, "data channels: SCTP association FAILED: %s (%d)", rtcsec_strerror(ev->failed.error),
         ev->failed.error);
    break;
  case RTCSEC_EVENT_BUFFERED_AMOUNT_LOW: /* reading resumes on its own (see above) */
  default:
    break;
  }
}

/* Sets the source's ready time to the association's deadline (not
 * before `not_before`). */
static void rearm(echo_dc *d, uint64_t not_before) {
  uint64_t deadline = rtcsec_dc_deadline(d->dc);
  if (deadline == UINT64_MAX) {
    g_source_set_ready_time(&d->source->base, -1);
    return;
  }
  uint64_t now = dc_now();
  uint64_t at = deadline > now ? deadline : now;
  if (at < not_before)
    at = not_before;
  g_source_set_ready_time(&d->source->base, (gint64)at);
}

static void service(echo_session *s) {
  echo_dc *d = s->dc;
  uint64_t now = dc_now(), not_before = 0;
  d->servicing = 1;
  if (rtcsec_dc_deadline(d->dc) <= now)
    rtcsec_dc_handle_timeout(d->dc, now);
  for (int n = 0; n < ECHO_DC_EVENTS_PER_TURN; n++) {
    rtcsec_dc_stats st;
    if (rtcsec_dc_get_stats(d->dc, &st) == RTCSEC_OK && st.buffered_amount > ECHO_DC_HIGH_WATER) {
      d->paused++;
      not_before = now + ECHO_DC_PAUSE_RETRY_US;
      break;
    }
    rtcsec_event ev;
    if (rtcsec_dc_poll_event(d->dc, &ev) != RTCSEC_OK || ev.type == RTCSEC_EVENT_NONE)
      break;
    on_event(s, &ev, now);
  }
  if (!d->transport_end) {
    rtcsec_dc_pump(d->dc, carry, s, now);
    if (s->app->lite != NULL)
      lite_session_flush(s);
  }
  d->servicing = 0;
  rearm(d, not_before);
}

static gboolean dc_dispatch(GSource *src, GSourceFunc callback, gpointer user) {
  (void)callback, (void)user;
  echo_session *s = ((dc_source *)src)->s;
  if (s->dc != NULL && s->dc->dc != NULL)
    service(s);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs dc_source_funcs = {
    .dispatch = dc_dispatch,
};

/* cfg.wake: runs inside another association's call, with usrsctp's lock
 * held; it only makes the source ready. */
static void on_wake(void *user) {
  echo_dc *d = user;
  if (d->source != NULL && !d->servicing)
    g_source_set_ready_time(&d->source->base, 0);
}

/* ---- life cycle -------------------------------------------------------------------- */

void dc_dtls_connected(echo_session *s, const rtcsec_connected_info *info) {
  const echo_plan_media *m = data_section(s);
  if (m == NULL || s->dc != NULL)
    return;
  echo_dc *d = g_new0(echo_dc, 1);
  d->local_port = ECHO_SCTP_PORT;
  d->remote_port = m->remote_sctp_port ? m->remote_sctp_port : RTCSEC_DC_DEFAULT_PORT;
  d->remote_max_message_size = m->remote_max_message_size;
  rtcsec_dc_config cfg;
  rtcsec_dc_config_default(&cfg);
  cfg.dtls_role = info->role;
  cfg.local_port = d->local_port;
  cfg.remote_port = d->remote_port;
  cfg.max_message_size = ECHO_MAX_MESSAGE_SIZE; /* what our SDP says */
  cfg.remote_max_message_size = d->remote_max_message_size;
  cfg.wake = on_wake;
  cfg.wake_user = d;
  int rc = rtcsec_dc_new(&d->dc, &cfg);
  uint16_t id = 0;
  if (rc == RTCSEC_OK) {
    rtcsec_dc_channel_config cc;
    rtcsec_dc_channel_config_default(&cc);
    cc.label = "negotiated";
    cc.negotiated = 1;
    cc.id = ECHO_DC_NEGOTIATED_ID;
    rc = rtcsec_dc_open_channel(d->dc, &cc, &id, dc_now());
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_dc_start(d->dc, info, dc_now());
  if (rc != RTCSEC_OK) {
    slog(s, "data channels refused: %s (%d)", rtcsec_strerror(rc), rc);
    d->failed = 1;
    d->error = rc;
    rtcsec_dc_free(d->dc);
    d->dc = NULL;
    s->dc = d; /* kept for /stats: the failure shows there */
    return;
  }
  d->source = (dc_source *)g_source_new(&dc_source_funcs, sizeof(dc_source));
  d->source->s = s;
  g_source_set_name(&d->source->base, "rtcsec-echo data channels");
  g_source_attach(&d->source->base, NULL);
  s->dc = d;
  slog(s, "data channels: SCTP over DTLS as %s, sctp-port %u -> %u, peer max-message-size %zu%s",
       dtls_role_name(info->role), d->local_port, d->remote_port, d->remote_max_message_size,
       d->remote_max_message_size ? "" : " (none said: 64 KiB)");
  service(s); /* the INIT goes out */
}

void dc_dtls_data(echo_session *s, const uint8_t *p, size_t len) {
  echo_dc *d = s->dc;
  if (d == NULL || d->dc == NULL || d->transport_end)
    return;
  /* Dropped packets are counted by the association (stats). */
  (void)rtcsec_dc_handle_datagram(d->dc, p, len, dc_now());
  g_source_set_ready_time(&d->source->base, 0);
}

void dc_dtls_ended(echo_session *s) {
  echo_dc *d = s->dc;
  if (d == NULL || d->dc == NULL || d->transport_end)
    return;
  d->transport_end = 1;
  rtcsec_dc_transport_closed(d->dc, dc_now());
  service(s); /* CHANNEL_CLOSED for each, then CLOSED */
}

void dc_free(echo_session *s) {
  echo_dc *d = s->dc;
  if (d == NULL)
    return;
  if (d->source != NULL) {
    g_source_destroy(&d->source->base);
    g_source_unref(&d->source->base);
  }
  rtcsec_dc_free(d->dc);
  g_free(d);
  s->dc = NULL;
}

int dc_get_info(const echo_session *s, echo_dc_info *out) {
  memset(out, 0, sizeof(*out));
  const echo_dc *d = s->dc;
  if (d == NULL) {
    out->state = data_section(s) != NULL ? "waiting for DTLS" : "none";
    return 0;
  }
  if (d->dc != NULL)
    rtcsec_dc_get_stats(d->dc, &out->st);
  out->state = d->dc == NULL ? "refused" : rtcsec_dc_state_name(out->st.state);
  out->error = d->error ? d->error : out->st.error;
  out->local_port = d->local_port;
  out->remote_port = d->remote_port;
  out->remote_max_message_size = d->remote_max_message_size;
  out->negotiated_open = d->negotiated_id_open;
  out->send_errors = d->send_errors;
  out->last_send_error = d->last_send_error;
  out->paused = d->paused;
  const rtcsec_dc_stats *st = &out->st;
  out->dropped = st->drop_malformed + st->drop_checksum + st->drop_vtag + st->drop_other +
                 st->drop_queue_full + st->dcep_malformed + st->drop_unknown_ppid +
                 st->drop_too_large + st->drop_no_channel;
  return 1;
}
