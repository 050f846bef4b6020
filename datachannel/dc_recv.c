/* Receiving: rtcsec_dc_poll_event reads one message or notification from
 * usrsctp per call into the association's receive buffer (no queue of our
 * own: an application that stops polling closes SCTP's window), handles
 * DCEP (RFC 8832), assembles messages that come in pieces, delivers the
 * application's messages (RFC 8831 §6.6) and reports events. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dcep.h"

/* ---- DCEP -------------------------------------------------------------------------------- */

static void reject_open(rtcsec_dc *dc, uint16_t sid) {
  /* RFC 8832 §6: no ACK; close the data channel on that stream. */
  dc->st.dcep_rejected++;
  dc_channel *ch = dc->chan[sid];
  if (ch != NULL) {
    dc_start_closing(dc, ch);
    return;
  }
  if (sid < dc->streams_out && !(dc->rejected[sid / 8] & (1u << (sid % 8)))) {
    dc->rejected[sid / 8] |= (uint8_t)(1u << (sid % 8));
    dc_request_reset(dc, sid);
  }
}

static void handle_open(rtcsec_dc *dc, uint16_t sid, const dcep_open *o) {
  dc->st.dcep_opens_received++;
  /* RFC 8832 §6: an unused stream, the peer's parity, valid parameters
   * (checked by the parser), and our limits. */
  if (dc->chan[sid] != NULL || (dc->rejected[sid / 8] & (1u << (sid % 8))) ||
      dc_our_parity(dc, sid) || sid >= dc_usable_streams(dc) ||
      dc->n_channels >= dc->cfg.max_channels || dc->close_requested) {
    reject_open(dc, sid);
    return;
  }
  dc_channel *ch = dc_channel_new(dc, sid, (const char *)o->label, o->label_len,
                                  (const char *)o->protocol, o->protocol_len);
  if (ch == NULL) {
    reject_open(dc, sid);
    return;
  }
  ch->ordered = o->ordered != 0;
  ch->reliability = o->reliability;
  ch->reliability_param = o->reliability_param;
  ch->priority = o->priority;
  ch->acked = 1; /* we received the OPEN: a message on this channel */
  static const uint8_t ack = DCEP_ACK;
  /* RFC 8832 §6: the ACK goes on the same stream, ordered and reliable
   * (the channel was just made: the ACK is the first in its queue). */
  if (dc_enqueue(dc, ch, DC_PPID_DCEP, 0, &ack, 1) != RTCSEC_OK) {
    dc->chan[sid] = NULL;
    dc->n_channels--;
    dc_channel_free(ch);
    reject_open(dc, sid);
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_OPEN;
  ch->ev_open = 1;
  dc->st.channels_opened++;
  dc_mark_dirty(dc, ch);
}

static void handle_dcep(rtcsec_dc *dc, uint16_t sid, const uint8_t *p, size_t len) {
  dcep_msg m;
  if (dcep_parse(p, len, &m) != RTCSEC_OK) {
    dc->st.dcep_malformed++;
    /* RFC 8832 §6: an OPEN that is not well formed closes the channel;
     * other malformed messages are dropped. */
    if (len > 0 && p[0] == DCEP_OPEN) {
      dc->st.dcep_opens_received++;
      reject_open(dc, sid);
    }
    return;
  }
  if (m.type == DCEP_OPEN) {
    handle_open(dc, sid, &m.open);
    return;
  }
  dc_channel *ch = dc->chan[sid];
  if (ch == NULL || !ch->local || ch->negotiated) {
    dc->st.dcep_malformed++; /* an ACK nobody asked for */
    return;
  }
  /* The peer's data may overtake its ACK (unordered), so acked may be set
   * already. */
  dc->st.dcep_acks_received++;
  ch->acked = 1;
}

/* ---- messages ---------------------------------------------------------------------------- */

static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n) {
  if (*len + n > *cap) {
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < *len + n)
      ncap *= 2;
    uint8_t *b = realloc(*buf, ncap);
    if (b == NULL)
      return 0;
    *buf = b;
    *cap = ncap;
  }
  if (n > 0)
    memcpy(*buf + *len, p, n);
  *len += n;
  return 1;
}

static int ppid_known(uint32_t ppid) {
  switch (ppid) {
  case DC_PPID_DCEP:
  case DC_PPID_STRING:
  case DC_PPID_BINARY_PARTIAL:
  case DC_PPID_BINARY:
  case DC_PPID_STRING_PARTIAL:
  case DC_PPID_STRING_EMPTY:
  case DC_PPID_BINARY_EMPTY:
    return 1;
  default:
    return 0;
  }
}

static size_t message_limit(const rtcsec_dc *dc, uint32_t ppid) {
  return ppid == DC_PPID_DCEP ? DCEP_OPEN_MAX : dc->cfg.max_message_size;
}

/* One complete message of stream sid. Returns 1 with *ev filled when it is
 * the application's, 0 when it was handled (DCEP) or dropped. */
static int deliver(rtcsec_dc *dc, uint16_t sid, uint32_t ppid, const uint8_t *p, size_t len,
                   rtcsec_event *ev) {
  if (ppid == DC_PPID_DCEP) {
    handle_dcep(dc, sid, p, len);
    return 0;
  }
  dc_channel *ch = sid < dc->cfg.max_streams ? dc->chan[sid] : NULL;
  if (ch == NULL || ch->state == RTCSEC_DC_CHANNEL_CLOSED ||
      ch->state == RTCSEC_DC_CHANNEL_OPENING) {
    dc->st.drop_no_channel++;
    return 0;
  }
  ch->acked = 1; /* RFC 8832 §6: any message counts as the ACK */
  if (!ppid_known(ppid)) {
    ch->drop_unknown_ppid++;
    dc->st.drop_unknown_ppid++;
    return 0;
  }
  if (len > dc->cfg.max_message_size) {
    ch->drop_too_large++;
    dc->st.drop_too_large++;
    return 0;
  }
  int binary =
      ppid == DC_PPID_BINARY || ppid == DC_PPID_BINARY_EMPTY || ppid == DC_PPID_BINARY_PARTIAL;
  if (ppid == DC_PPID_BINARY_PARTIAL || ppid == DC_PPID_STRING_PARTIAL) {
    /* RFC 8831 §8 (deprecated): a piece; the message ends with the next
     * 51 / 53 of the same kind. */
    if (ch->legacy_len > 0 && ch->legacy_len + len > dc->cfg.max_message_size) {
      ch->legacy_len = 0;
      ch->drop_too_large++;
      dc->st.drop_too_large++;
      return 0;
    }
    if (!append(&ch->legacy, &ch->legacy_len, &ch->legacy_cap, p, len)) {
      ch->legacy_len = 0;
      ch->drop_too_large++;
      dc->st.drop_too_large++;
    }
    return 0;
  }
  if (ppid == DC_PPID_STRING_EMPTY || ppid == DC_PPID_BINARY_EMPTY)
    len = 0; /* RFC 8831 §6.6: the one byte carries nothing */
  if (ch->legacy_len > 0) {
    if (ch->legacy_len + len > dc->cfg.max_message_size ||
        !append(&ch->legacy, &ch->legacy_len, &ch->legacy_cap, p, len)) {
      ch->legacy_len = 0;
      ch->drop_too_large++;
      dc->st.drop_too_large++;
      return 0;
    }
    p = ch->legacy;
    len = ch->legacy_len;
    ch->legacy_len = 0; /* the bytes stay until the next piece arrives */
  }
  ch->messages_received++;
  ch->bytes_received += len;
  dc->st.messages_received++;
  dc->st.bytes_received += len;
  ev->type = RTCSEC_EVENT_MESSAGE;
  ev->message.channel = sid;
  ev->message.binary = binary;
  ev->message.data = len ? p : (const uint8_t *)"";
  ev->message.len = len;
  return 1;
}

static dc_asm *asm_find(rtcsec_dc *dc, uint16_t sid) {
  for (size_t i = 0; i < dc->n_asms; i++) {
    if (dc->asms[i].sid == sid)
      return &dc->asms[i];
  }
  return NULL;
}

static dc_asm *asm_add(rtcsec_dc *dc, uint16_t sid, uint32_t ppid) {
  if (dc->n_asms == dc->cap_asms) {
    size_t ncap = dc->cap_asms ? dc->cap_asms * 2 : 4;
    dc_asm *a = realloc(dc->asms, ncap * sizeof(*a));
    if (a == NULL)
      return NULL;
    dc->asms = a;
    dc->cap_asms = ncap;
  }
  dc_asm *a = &dc->asms[dc->n_asms++];
  memset(a, 0, sizeof(*a));
  a->sid = sid;
  a->ppid = ppid;
  return a;
}

static void asm_remove(rtcsec_dc *dc, dc_asm *a, int keep_buffer) {
  dc->asm_bytes -= a->cap;
  if (keep_buffer) {
    free(dc->release);
    dc->release = a->buf; /* the event points into it until the next poll */
  } else {
    free(a->buf);
  }
  *a = dc->asms[--dc->n_asms];
}

/* A piece of a message of stream sid. Returns 1 with *ev when a message
 * completed for the application. Memory: all assemblies together may hold
 * at most 4 x max_message_size (+ one DCEP OPEN); a piece beyond that is
 * dropped with its message. */
static int piece(rtcsec_dc *dc, uint16_t sid, uint32_t ppid, const uint8_t *p, size_t n, int eor,
                 rtcsec_event *ev) {
  dc_asm *a = asm_find(dc, sid);
  if (a == NULL) {
    a = asm_add(dc, sid, ppid);
    if (a == NULL) {
      dc->st.drop_too_large++;
      return 0; /* the rest of it arrives as pieces of no message: dropped */
    }
    a->discard = !ppid_known(ppid);
    if (a->discard) {
      dc->st.drop_unknown_ppid++;
      dc_channel *ch = sid < dc->cfg.max_streams ? dc->chan[sid] : NULL;
      if (ch != NULL)
        ch->drop_unknown_ppid++;
    }
  }
  if (!a->discard) {
    size_t budget = 4u * dc->cfg.max_message_size + DCEP_OPEN_MAX;
    size_t old_cap = a->cap;
    if (a->len + n > message_limit(dc, a->ppid) || dc->asm_bytes + (a->len + n) > budget ||
        !append(&a->buf, &a->len, &a->cap, p, n)) {
      a->discard = 1;
      dc->st.drop_too_large++;
      dc_channel *ch = sid < dc->cfg.max_streams ? dc->chan[sid] : NULL;
      if (ch != NULL)
        ch->drop_too_large++;
      free(a->buf);
      dc->asm_bytes -= old_cap;
      a->buf = NULL;
      a->len = a->cap = 0;
    } else {
      dc->asm_bytes += a->cap - old_cap;
    }
  }
  if (!eor)
    return 0;
  int got = 0;
  if (!a->discard) {
    got = deliver(dc, sid, a->ppid, a->buf, a->len, ev);
  }
  asm_remove(dc, a, got);
  return got;
}

/* ---- notifications ----------------------------------------------------------------------- */

static void on_comm_up(rtcsec_dc *dc, const struct sctp_assoc_change *sac) {
  if (dc->state != RTCSEC_DC_STATE_CONNECTING)
    return;
  dc->state = RTCSEC_DC_STATE_CONNECTED;
  dc->streams_out = sac->sac_outbound_streams;
  dc->streams_in = sac->sac_inbound_streams;
  struct sctp_assoc_value av = {SCTP_ALL_ASSOC, 0};
  socklen_t len = (socklen_t)sizeof(av);
  if (usrsctp_getsockopt(dc->sock, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &av, &len) == 0)
    dc->interleaving = av.assoc_value != 0;
  dc->ev_connected = 1;
  dc_env_wake(dc);
  for (uint32_t i = 0; i < dc->cfg.max_streams; i++) {
    dc_channel *ch = dc->chan[i];
    if (ch != NULL && ch->state == RTCSEC_DC_CHANNEL_OPENING)
      dc_activate(dc, ch);
  }
  if (dc->close_requested)
    dc_maybe_shutdown(dc);
}

static void on_assoc_change(rtcsec_dc *dc, const struct sctp_assoc_change *sac, size_t len) {
  switch (sac->sac_state) {
  case SCTP_COMM_UP:
    on_comm_up(dc, sac);
    break;
  case SCTP_COMM_LOST: {
    /* The notification carries the ABORT chunk when one was sent or
     * received; without one the peer stopped answering (RFC 4960 §8.1). */
    int abort = len > sizeof(*sac) && sac->sac_info[0] == SCTP_ABORT_ASSOCIATION;
    dc_set_state(dc, RTCSEC_DC_STATE_FAILED, abort ? RTCSEC_ERR_DC_ABORTED : RTCSEC_ERR_DC_TIMEOUT);
    break;
  }
  case SCTP_RESTART:
    /* The peer started a new association with us: the channels we had are
     * gone on its side. */
    dc_set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_ABORTED);
    break;
  case SCTP_CANT_STR_ASSOC:
    dc_set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_TIMEOUT);
    break;
  case SCTP_SHUTDOWN_COMP:
    dc_set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
    break;
  default:
    break;
  }
}

static void on_stream_reset(rtcsec_dc *dc, const struct sctp_stream_reset_event *e, size_t len) {
  size_t n = (len - sizeof(*e)) / sizeof(uint16_t);
  int failed = (e->strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED)) != 0;
  int incoming = (e->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) != 0;
  int outgoing = (e->strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN) != 0;
  uint32_t count = n > 0 ? (uint32_t)n : dc->cfg.max_streams; /* none listed: all */
  for (uint32_t i = 0; i < count; i++) {
    uint16_t sid = n > 0 ? e->strreset_stream_list[i] : (uint16_t)i;
    if (sid >= dc->cfg.max_streams)
      continue;
    dc_channel *ch = dc->chan[sid];
    if (ch == NULL) {
      /* The peer's half of closing a stream whose OPEN we refused. */
      if (incoming)
        dc->rejected[sid / 8] &= (uint8_t) ~(1u << (sid % 8));
      continue;
    }
    if (failed)
      dc->st.stream_resets_failed++;
    if (outgoing || (failed && !incoming))
      ch->reset_out_done = 1; /* a refused reset is not retried */
    if (incoming && !failed) {
      /* RFC 8831 §6.7: the peer closed; reset our side too. */
      ch->reset_in_done = 1;
      ch->legacy_len = 0;
      dc_start_closing(dc, ch);
    }
    if (ch->state == RTCSEC_DC_CHANNEL_CLOSING && ch->reset_out_done && ch->reset_in_done)
      dc_channel_closed(dc, ch);
  }
}

static void on_notification(rtcsec_dc *dc, const uint8_t *p, size_t len) {
  const union sctp_notification *n = (const union sctp_notification *)(const void *)p;
  if (len < sizeof(n->sn_header) || n->sn_header.sn_length > len)
    return;
  len = n->sn_header.sn_length;
  switch (n->sn_header.sn_type) {
  case SCTP_ASSOC_CHANGE:
    if (len >= sizeof(struct sctp_assoc_change))
      on_assoc_change(dc, &n->sn_assoc_change, len);
    break;
  case SCTP_STREAM_RESET_EVENT:
    if (len >= sizeof(struct sctp_stream_reset_event))
      on_stream_reset(dc, &n->sn_strreset_event, len);
    break;
  case SCTP_PARTIAL_DELIVERY_EVENT:
    /* A partially delivered message was abandoned (PR-SCTP): its pieces
     * so far go. */
    if (len >= sizeof(struct sctp_pdapi_event) &&
        n->sn_pdapi_event.pdapi_indication == SCTP_PARTIAL_DELIVERY_ABORTED) {
      dc_asm *a = asm_find(dc, (uint16_t)n->sn_pdapi_event.pdapi_stream);
      if (a != NULL)
        asm_remove(dc, a, 0);
    }
    break;
  case SCTP_SHUTDOWN_EVENT:
    /* RFC 4960 §9.2: the peer shuts down; nothing more may be sent. */
    if (dc->state == RTCSEC_DC_STATE_CONNECTED)
      dc->state = RTCSEC_DC_STATE_CLOSING;
    break;
  default:
    break;
  }
}

/* Reads one message or notification. Returns 1 with *ev filled, 0 when it
 * was handled inside (try again), -1 when there is nothing to read. */
static int read_one(rtcsec_dc *dc, rtcsec_event *ev) {
  struct sctp_rcvinfo info;
  socklen_t infolen = (socklen_t)sizeof(info);
  unsigned int infotype = 0;
  int flags = 0;
  memset(&info, 0, sizeof(info));
  ssize_t n = usrsctp_recvv(dc->sock, dc->rbuf, dc->rbuf_cap, NULL, NULL, &info, &infolen,
                            &infotype, &flags);
  if (n < 0)
    return -1; /* EWOULDBLOCK, or the socket is gone */
  if (n == 0) {
    /* End of stream: the association has shut down. */
    if (!dc_is_ended(dc) && dc->state != RTCSEC_DC_STATE_CONNECTING)
      dc_set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
    return -1;
  }
  if (flags & MSG_NOTIFICATION) {
    if (flags & MSG_EOR) /* the buffer holds any notification whole */
      on_notification(dc, dc->rbuf, (size_t)n);
    return 0;
  }
  if (infotype != SCTP_RECVV_RCVINFO)
    return 0;
  uint16_t sid = info.rcv_sid;
  uint32_t ppid = ntohl(info.rcv_ppid);
  int eor = (flags & MSG_EOR) != 0;
  if (eor && asm_find(dc, sid) == NULL)
    return deliver(dc, sid, ppid, dc->rbuf, (size_t)n, ev); /* no copy */
  return piece(dc, sid, ppid, dc->rbuf, (size_t)n, eor, ev);
}

/* ---- events ------------------------------------------------------------------------------ */

static void channel_info(const dc_channel *ch, rtcsec_channel_info *info, int full) {
  memset(info, 0, sizeof(*info));
  info->id = ch->id;
  info->label = full ? ch->label : "";
  info->protocol = full ? ch->protocol : "";
  info->ordered = ch->ordered;
  info->reliability = ch->reliability;
  info->reliability_param = ch->reliability_param;
  info->priority = ch->priority;
  info->negotiated = ch->negotiated;
}

/* The first event of the first channel that has one. A channel whose
 * CHANNEL_CLOSED is reported is freed (the event holds no pointer into
 * it). */
static int channel_event(rtcsec_dc *dc, rtcsec_event *ev) {
  while (dc->dirty_head != NULL) {
    dc_channel *ch = dc->dirty_head;
    if (ch->ev_open) {
      ch->ev_open = 0;
      ev->type = RTCSEC_EVENT_CHANNEL_OPEN;
      channel_info(ch, &ev->channel, 1);
    } else if (ch->ev_low) {
      ch->ev_low = 0;
      ev->type = RTCSEC_EVENT_BUFFERED_AMOUNT_LOW;
      channel_info(ch, &ev->channel, 0);
    } else if (ch->ev_closed) {
      ch->ev_closed = 0;
      ev->type = RTCSEC_EVENT_CHANNEL_CLOSED;
      channel_info(ch, &ev->channel, 0);
    }
    if (!ch->ev_open && !ch->ev_low && !ch->ev_closed) {
      dc->dirty_head = ch->dirty_next;
      if (dc->dirty_head == NULL)
        dc->dirty_tail = NULL;
      ch->in_dirty = 0;
      if (ch->state == RTCSEC_DC_CHANNEL_CLOSED) {
        dc->chan[ch->id] = NULL;
        dc->n_channels--;
        dc_channel_free(ch);
      }
    }
    if (ev->type != RTCSEC_EVENT_NONE)
      return 1;
  }
  return 0;
}

int dc_has_events(const rtcsec_dc *dc) {
  return dc->ev_connected || dc->dirty_head != NULL || dc->ev_final;
}

int rtcsec_dc_poll_event(rtcsec_dc *dc, rtcsec_event *ev) {
  if (dc == NULL || ev == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(ev, 0, sizeof(*ev));
  ev->type = RTCSEC_EVENT_NONE;
  dc_env_enter(dc);
  free(dc->release);
  dc->release = NULL;
  for (;;) {
    if (dc->ev_connected) {
      dc->ev_connected = 0;
      ev->type = RTCSEC_EVENT_CONNECTED;
      ev->connected = dc->dtls;
      break;
    }
    if (channel_event(dc, ev))
      break;
    if (dc->started && !dc->transport_gone && dc->state != RTCSEC_DC_STATE_FAILED) {
      int r = read_one(dc, ev);
      if (r > 0)
        break;
      if (r == 0)
        continue;
    }
    if (dc->ev_final) {
      dc->ev_final = 0;
      if (dc->state == RTCSEC_DC_STATE_FAILED) {
        ev->type = RTCSEC_EVENT_FAILED;
        ev->failed.error = dc->error;
        ev->failed.alert = -1;
      } else {
        ev->type = RTCSEC_EVENT_CLOSED;
      }
    }
    break;
  }
  /* Reading may have freed SCTP buffer room or queued ACKs. */
  dc_flush(dc);
  dc_maybe_shutdown(dc);
  dc_env_leave();
  return RTCSEC_OK;
}
