/* Data channels of an association: the channel table, opening (DCEP OPEN,
 * RFC 8832 §6; negotiated channels), closing by stream reset (RFC 8831
 * §6.7, RFC 6525), the buffered-amount threshold. See dc.c for the states. */
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dcep.h"

/* ---- the channel table ------------------------------------------------------------------- */

void dc_mark_dirty(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->in_dirty)
    return;
  ch->in_dirty = 1;
  ch->dirty_next = NULL;
  if (dc->dirty_tail)
    dc->dirty_tail->dirty_next = ch;
  else
    dc->dirty_head = ch;
  dc->dirty_tail = ch;
  dc_env_wake(dc);
}

void dc_channel_free(dc_channel *ch) {
  free(ch->label);
  free(ch->legacy);
  free(ch);
}

dc_channel *dc_channel_new(rtcsec_dc *dc, uint16_t id, const char *label, size_t label_len,
                           const char *protocol, size_t protocol_len) {
  dc_channel *ch = calloc(1, sizeof(*ch));
  char *text = malloc(label_len + protocol_len + 2);
  if (ch == NULL || text == NULL) {
    free(ch);
    free(text);
    return NULL;
  }
  memcpy(text, label, label_len);
  text[label_len] = '\0';
  memcpy(text + label_len + 1, protocol, protocol_len);
  text[label_len + 1 + protocol_len] = '\0';
  ch->label = text;
  ch->protocol = text + label_len + 1;
  ch->id = id;
  ch->state = RTCSEC_DC_CHANNEL_OPENING;
  dc->chan[id] = ch;
  dc->n_channels++;
  return ch;
}

/* CLOSED, to be reported; what it had queued is dropped. */
void dc_channel_closed(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    return;
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSING)
    dc->n_closing--;
  ch->state = RTCSEC_DC_CHANNEL_CLOSED;
  dc_drop_queue(dc, ch);
  ch->ev_low = 0; /* an OPEN not reported yet still is, before the CLOSED */
  ch->ev_closed = 1;
  dc->st.channels_closed++;
  dc_mark_dirty(dc, ch);
}

/* Every channel is CLOSED: the association ended. */
void dc_close_all_channels(rtcsec_dc *dc) {
  for (uint32_t i = 0; i < dc->cfg.max_streams; i++) {
    if (dc->chan[i] != NULL)
      dc_channel_closed(dc, dc->chan[i]);
  }
}

/* ---- opening ----------------------------------------------------------------------------- */

/* The OPEN of a channel we open (RFC 8832 §5.1), first in its queue. */
static int send_open(rtcsec_dc *dc, dc_channel *ch) {
  dcep_open o;
  memset(&o, 0, sizeof(o));
  o.ordered = ch->ordered;
  o.reliability = ch->reliability;
  o.reliability_param = ch->reliability_param;
  o.priority = ch->priority;
  o.label = (const uint8_t *)ch->label;
  o.label_len = (uint16_t)strlen(ch->label);
  o.protocol = (const uint8_t *)ch->protocol;
  o.protocol_len = (uint16_t)strlen(ch->protocol);
  size_t cap = dcep_open_size(o.label_len, o.protocol_len), n = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  int rc = dcep_write_open(&o, buf, cap, &n);
  if (rc == RTCSEC_OK)
    rc = dc_enqueue(dc, ch, DC_PPID_DCEP, 0, buf, n);
  free(buf);
  return rc;
}

/* The channel becomes usable: the association is up. */
void dc_activate(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->id >= dc_usable_streams(dc)) {
    /* The peer agreed to fewer streams than this id needs. */
    dc_channel_closed(dc, ch);
    return;
  }
  if (!ch->negotiated && send_open(dc, ch) != RTCSEC_OK) {
    dc_channel_closed(dc, ch);
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_OPEN;
  ch->ev_open = 1;
  dc->st.channels_opened++;
  dc_mark_dirty(dc, ch);
}

void rtcsec_dc_channel_config_default(rtcsec_dc_channel_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->ordered = 1;
  cfg->reliability = RTCSEC_CHANNEL_RELIABLE;
  cfg->priority = RTCSEC_DC_PRIORITY_LOW;
  cfg->id = RTCSEC_DC_ID_AUTO;
}

static int text_ok(const char *s, size_t *len) {
  const char *t = s ? s : "";
  size_t n = strnlen(t, 65536);
  if (n > 65535 || !dcep_text_valid((const uint8_t *)t, n))
    return 0;
  *len = n;
  return 1;
}

static int pick_id(const rtcsec_dc *dc, const rtcsec_dc_channel_config *cfg, uint16_t *id) {
  uint32_t limit = dc_usable_streams(dc);
  if (cfg->id != RTCSEC_DC_ID_AUTO) {
    if (cfg->id >= limit || dc->chan[cfg->id] != NULL)
      return RTCSEC_ERR_DC_STREAM_ID;
    /* RFC 8832 §6: a DCEP opener picks an id of its own parity. */
    if (!cfg->negotiated && !dc_our_parity(dc, cfg->id))
      return RTCSEC_ERR_DC_STREAM_ID;
    *id = cfg->id;
    return RTCSEC_OK;
  }
  for (uint32_t i = dc->cfg.dtls_role == RTCSEC_DTLS_CLIENT ? 0 : 1; i < limit; i += 2) {
    if (dc->chan[i] == NULL && !(dc->rejected[i / 8] & (1u << (i % 8)))) {
      *id = (uint16_t)i;
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_LIMIT;
}

int rtcsec_dc_open_channel(rtcsec_dc *dc, const rtcsec_dc_channel_config *cfg, uint16_t *id,
                           uint64_t now) {
  if (dc == NULL || cfg == NULL || id == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t label_len = 0, protocol_len = 0;
  if (!text_ok(cfg->label, &label_len) || !text_ok(cfg->protocol, &protocol_len))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->reliability != RTCSEC_CHANNEL_RELIABLE &&
      cfg->reliability != RTCSEC_CHANNEL_MAX_RETRANSMITS &&
      cfg->reliability != RTCSEC_CHANNEL_MAX_LIFETIME)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (cfg->negotiated && cfg->id == RTCSEC_DC_ID_AUTO)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  int rc = RTCSEC_OK;
  uint16_t pick = 0;
  if (dc->state == RTCSEC_DC_STATE_CLOSING || dc_is_ended(dc) || dc->close_requested)
    rc = RTCSEC_ERR_INVALID_STATE;
  else if (dc->n_channels >= dc->cfg.max_channels)
    rc = RTCSEC_ERR_LIMIT;
  else
    rc = pick_id(dc, cfg, &pick);
  dc_channel *ch = NULL;
  if (rc == RTCSEC_OK) {
    ch = dc_channel_new(dc, pick, cfg->label ? cfg->label : "", label_len,
                        cfg->protocol ? cfg->protocol : "", protocol_len);
    if (ch == NULL)
      rc = RTCSEC_ERR_NO_MEMORY;
  }
  if (rc == RTCSEC_OK) {
    ch->local = 1;
    ch->negotiated = cfg->negotiated != 0;
    ch->acked = ch->negotiated; /* no DCEP: nothing to wait for */
    ch->ordered = cfg->ordered != 0;
    ch->reliability = cfg->reliability;
    ch->reliability_param =
        cfg->reliability == RTCSEC_CHANNEL_RELIABLE ? 0 : cfg->reliability_param;
    ch->priority = cfg->priority;
    if (dc->state == RTCSEC_DC_STATE_CONNECTED)
      dc_activate(dc, ch);
    *id = pick;
  }
  dc_leave_at(dc, now);
  return rc;
}

/* ---- closing: stream resets -------------------------------------------------------------- */

void dc_request_reset(rtcsec_dc *dc, uint16_t sid) {
  if (dc->state != RTCSEC_DC_STATE_CONNECTED || sid >= dc->streams_out)
    return;
  uint8_t raw[sizeof(struct sctp_reset_streams) + sizeof(uint16_t)];
  struct sctp_reset_streams *srs = (struct sctp_reset_streams *)(void *)raw;
  memset(raw, 0, sizeof(raw));
  srs->srs_assoc_id = SCTP_ALL_ASSOC;
  srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
  srs->srs_number_streams = 1;
  srs->srs_stream_list[0] = sid;
  /* Outgoing resets are marked pending and sent, batched, as soon as no
   * other request is outstanding (usrsctp, RFC 6525 §5.1.2). */
  if (usrsctp_setsockopt(dc->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, (socklen_t)sizeof(raw)) !=
      0) {
    /* The peer cannot reset streams (no RE-CONFIG): the channel can only
     * be forgotten locally. */
    dc->st.stream_resets_failed++;
    dc_channel *ch = dc->chan[sid];
    if (ch != NULL) {
      ch->reset_out_done = 1;
      ch->reset_in_done = 1;
    }
  }
}

/* A channel in CLOSING whose queue is empty resets its outgoing stream
 * (RFC 8831 §6.7); usrsctp sends the request once what it holds for the
 * stream is out (RFC 6525 §5.1.2). */
void dc_maybe_reset(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state != RTCSEC_DC_CHANNEL_CLOSING || ch->q_head != NULL || ch->reset_out_requested)
    return;
  ch->reset_out_requested = 1;
  dc_request_reset(dc, ch->id);
  if (ch->reset_out_done && ch->reset_in_done)
    dc_channel_closed(dc, ch);
}

void dc_start_closing(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSING || ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    return;
  if (ch->state == RTCSEC_DC_CHANNEL_OPENING) {
    dc_channel_closed(dc, ch); /* never reached the wire */
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_CLOSING;
  dc->n_closing++;
  ch->ev_low = 0;
  dc_maybe_reset(dc, ch);
}

int rtcsec_dc_close_channel(rtcsec_dc *dc, uint16_t id, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_enter_at(dc, now);
  int rc = RTCSEC_OK;
  dc_channel *ch = id < dc->cfg.max_streams ? dc->chan[id] : NULL;
  if (ch == NULL || ch->state == RTCSEC_DC_CHANNEL_CLOSING || ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  else
    dc_start_closing(dc, ch);
  dc_leave_at(dc, now);
  return rc;
}

/* ---- buffered amount --------------------------------------------------------------------- */

size_t rtcsec_dc_buffered_amount(const rtcsec_dc *dc, uint16_t id) {
  if (dc == NULL || id >= dc->cfg.max_streams)
    return 0;
  dc_env_enter(NULL);
  const dc_channel *ch = dc->chan[id];
  size_t n = ch ? ch->buffered : 0;
  dc_env_leave();
  return n;
}

int rtcsec_dc_set_buffered_amount_low_threshold(rtcsec_dc *dc, uint16_t id, size_t threshold) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(dc);
  int rc = RTCSEC_OK;
  dc_channel *ch = id < dc->cfg.max_streams ? dc->chan[id] : NULL;
  if (ch == NULL || ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  else
    ch->low_threshold = threshold;
  dc_env_leave();
  return rc;
}
