/* A data-channel association: one SCTP association (usrsctp, AF_CONN) over
 * DTLS (RFC 8261), its channels (RFC 8831), DCEP (RFC 8832). See
 * rtcsec/datachannel.h for the API and the process-wide rules, env.c for
 * usrsctp's process-wide state, dcep.c for the DCEP codec.
 *
 * State of the association (one function moves it: set_state):
 *   NEW --start--> CONNECTING --COMM_UP--> CONNECTED --close--> CLOSING
 *   CONNECTING/CONNECTED/CLOSING --SHUTDOWN_COMP, transport gone--> CLOSED
 *   CONNECTING/CONNECTED/CLOSING --COMM_LOST, CANT_STR_ASSOC--> FAILED
 * Each channel: OPENING --association up / OPEN sent / OPEN received-->
 * OPEN --close, reset from the peer--> CLOSING --both directions
 * reset--> CLOSED --CHANNEL_CLOSED polled--> freed.
 *
 * Receiving is lazy: rtcsec_dc_poll_event() reads one message or
 * notification from usrsctp per event, into the association's receive
 * buffer, so a received message is never queued by us and an application
 * that stops polling closes SCTP's receive window. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dcep.h"

/* In usrsctp 0.9.5.0's netinet/sctp.h, not in its installed usrsctp.h. */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif
#define FRAG_INTERLEAVE_LEVEL_0 0 /* RFC 6458 §8.1.20 */
#define FRAG_INTERLEAVE_LEVEL_2 2

#define SCTP_COMMON_HEADER 12u
#define MAX_PACKET 65535u
/* Receive buffer floor: the largest notification (a stream reset event
 * listing every stream) must fit one read. */
#define NOTIFICATION_ROOM(streams) (sizeof(struct sctp_stream_reset_event) + 2u * (streams) + 64u)

/* ---- small helpers ------------------------------------------------------------- */

static int is_ended(const rtcsec_dc *dc) {
  return dc->state == RTCSEC_DC_STATE_CLOSED || dc->state == RTCSEC_DC_STATE_FAILED;
}

/* RFC 8832 §6: the DTLS client uses even stream ids, the server odd. */
static int our_parity(const rtcsec_dc *dc, uint16_t id) {
  return (id & 1u) == (dc->cfg.dtls_role == RTCSEC_DTLS_CLIENT ? 0u : 1u);
}

/* Ids usable now: what was offered before the association is up, what
 * both sides agreed after (a channel needs both directions of its id). */
static uint32_t usable_streams(const rtcsec_dc *dc) {
  if (dc->state == RTCSEC_DC_STATE_NEW || dc->state == RTCSEC_DC_STATE_CONNECTING)
    return dc->cfg.max_streams;
  return dc->streams_out < dc->streams_in ? dc->streams_out : dc->streams_in;
}

static int set_opt(rtcsec_dc *dc, int level, int name, const void *v, socklen_t len) {
  return usrsctp_setsockopt(dc->sock, level, name, v, len) == 0 ? RTCSEC_OK : RTCSEC_ERR_DC_SCTP;
}

/* ---- config -------------------------------------------------------------------- */

void rtcsec_dc_config_default(rtcsec_dc_config *cfg) {
  if (cfg == NULL)
    return;
  memset(cfg, 0, sizeof(*cfg));
  cfg->dtls_role = RTCSEC_DTLS_CLIENT;
  cfg->local_port = RTCSEC_DC_DEFAULT_PORT;
  cfg->remote_port = RTCSEC_DC_DEFAULT_PORT;
  cfg->max_message_size = RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE;
  cfg->remote_max_message_size = 0;
  cfg->max_packet_size = RTCSEC_DC_DEFAULT_PACKET_SIZE;
  cfg->max_streams = 1024;
  cfg->max_channels = 512;
  cfg->max_buffered = 16u * 1024u * 1024u;
  cfg->sctp_send_buffer = 1024u * 1024u;
  cfg->sctp_receive_buffer = 1024u * 1024u;
  cfg->receive_buffer = 16u * 1024u;
  cfg->max_queued_packets = 1024;
  cfg->interleaving = 1;
  cfg->rto_initial_ms = 1000;
  cfg->rto_min_ms = 200;
  cfg->rto_max_ms = 10000;
  cfg->max_retransmissions = 10;
  cfg->sack_delay_ms = 20;
  cfg->heartbeat_ms = 10000;
  cfg->tick_ms = 10;
  cfg->idle_tick_ms = 1000;
}

static int config_valid(const rtcsec_dc_config *c) {
  if (c->dtls_role != RTCSEC_DTLS_CLIENT && c->dtls_role != RTCSEC_DTLS_SERVER)
    return 0;
  if (c->local_port == 0 || c->remote_port == 0)
    return 0;
  if (c->max_message_size == 0 || c->max_message_size > (size_t)1 << 30)
    return 0;
  if (c->max_packet_size < 512 || c->max_packet_size > MAX_PACKET)
    return 0;
  if (c->max_streams < 16 || c->max_streams > RTCSEC_DC_MAX_STREAMS)
    return 0;
  if (c->max_channels == 0 || c->max_buffered == 0 || c->max_queued_packets == 0)
    return 0;
  if (c->sctp_send_buffer < 4096 || c->sctp_send_buffer > INT32_MAX ||
      c->sctp_receive_buffer < 4096 || c->sctp_receive_buffer > INT32_MAX)
    return 0;
  if (c->receive_buffer < 1024 || c->receive_buffer > (size_t)1 << 30)
    return 0;
  if (c->rto_min_ms == 0 || c->rto_min_ms > c->rto_initial_ms || c->rto_initial_ms > c->rto_max_ms)
    return 0;
  if (c->max_retransmissions == 0 || c->max_retransmissions > 0xFFFF)
    return 0;
  if (c->tick_ms == 0 || c->idle_tick_ms < c->tick_ms || c->heartbeat_ms == 0)
    return 0;
  return 1;
}

static size_t remote_max(const rtcsec_dc *dc) {
  /* RFC 8841 §6.1: no attribute means 64 KiB. */
  return dc->cfg.remote_max_message_size == 0 ? RTCSEC_DC_DEFAULT_REMOTE_MAX_MESSAGE_SIZE
                                              : dc->cfg.remote_max_message_size;
}

/* ---- outgoing packets ------------------------------------------------------------ */

/* usrsctp produced a packet for this association (from any call: its
 * timers are process-wide). Copied into a reused slot; no allocation once
 * the queue has reached its high-water mark. */
void dc_on_output(rtcsec_dc *dc, const uint8_t *p, size_t len) {
  if (dc->transport_gone)
    return; /* nothing can carry it any more */
  if (len > dc->cfg.max_packet_size || len < SCTP_COMMON_HEADER ||
      dc->q_count >= dc->cfg.max_queued_packets) {
    dc->st.drop_queue_full++;
    return;
  }
  if (dc->q_count == dc->q_cap) {
    size_t ncap = dc->q_cap ? dc->q_cap * 2 : 16;
    if (ncap > dc->cfg.max_queued_packets)
      ncap = dc->cfg.max_queued_packets;
    uint8_t **slots = calloc(ncap, sizeof(*slots));
    uint16_t *lens = calloc(ncap, sizeof(*lens));
    if (slots == NULL || lens == NULL) {
      free(slots);
      free(lens);
      dc->st.drop_queue_full++;
      return;
    }
    /* Unroll the ring into the new arrays, then the unused old slots. */
    size_t k = 0;
    for (size_t i = 0; i < dc->q_cap; i++) {
      size_t at = (dc->q_head + i) % dc->q_cap;
      slots[k] = dc->q_slot[at];
      lens[k] = dc->q_len[at];
      k++;
    }
    free(dc->q_slot);
    free(dc->q_len);
    dc->q_slot = slots;
    dc->q_len = lens;
    dc->q_cap = ncap;
    dc->q_head = 0;
  }
  size_t at = (dc->q_head + dc->q_count) % dc->q_cap;
  if (dc->q_slot[at] == NULL) {
    dc->q_slot[at] = malloc(dc->cfg.max_packet_size);
    if (dc->q_slot[at] == NULL) {
      dc->st.drop_queue_full++;
      return;
    }
  }
  memcpy(dc->q_slot[at], p, len);
  dc->q_len[at] = (uint16_t)len;
  dc->q_count++;
  dc_env_wake(dc);
}

static void out_queue_clear(rtcsec_dc *dc) {
  dc->q_count = 0;
  dc->q_head = 0;
}

int rtcsec_dc_poll_packet(rtcsec_dc *dc, uint8_t *buf, size_t cap, size_t *out_len) {
  if (dc == NULL || out_len == NULL || (buf == NULL && cap > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(dc);
  int rc = RTCSEC_OK;
  *out_len = 0;
  if (dc->q_count > 0) {
    size_t n = dc->q_len[dc->q_head];
    if (cap < n) {
      *out_len = n;
      rc = RTCSEC_ERR_BUFFER_TOO_SMALL;
    } else {
      memcpy(buf, dc->q_slot[dc->q_head], n);
      *out_len = n;
      dc->q_head = (dc->q_head + 1) % dc->q_cap;
      dc->q_count--;
      dc->st.packets_out++;
      dc->st.bytes_out += n;
    }
  }
  dc_env_leave();
  return rc;
}

/* ---- channels ---------------------------------------------------------------------- */

static void mark_dirty(rtcsec_dc *dc, dc_channel *ch) {
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

static void mark_sendable(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->in_sendable)
    return;
  ch->in_sendable = 1;
  ch->send_next = NULL;
  if (dc->send_tail)
    dc->send_tail->send_next = ch;
  else
    dc->send_head = ch;
  dc->send_tail = ch;
}

static void unlink_sendable(rtcsec_dc *dc, dc_channel *ch) {
  if (!ch->in_sendable)
    return;
  dc_channel **pp = &dc->send_head;
  dc_channel *prev = NULL;
  while (*pp != NULL && *pp != ch) {
    prev = *pp;
    pp = &(*pp)->send_next;
  }
  if (*pp == ch) {
    *pp = ch->send_next;
    if (dc->send_tail == ch)
      dc->send_tail = prev;
  }
  ch->in_sendable = 0;
  ch->send_next = NULL;
}

static void drop_queue(rtcsec_dc *dc, dc_channel *ch) {
  for (dc_msg *m = ch->q_head; m != NULL;) {
    dc_msg *next = m->next;
    free(m);
    m = next;
  }
  ch->q_head = ch->q_tail = NULL;
  dc->buffered_total -= ch->buffered;
  ch->buffered = 0;
  unlink_sendable(dc, ch);
  if (dc->locked_sid == ch->id)
    dc->locked_sid = -1;
}

static void channel_free(dc_channel *ch) {
  free(ch->label);
  free(ch->legacy);
  free(ch);
}

static dc_channel *channel_new(rtcsec_dc *dc, uint16_t id, const char *label, size_t label_len,
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
static void channel_set_closed(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    return;
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSING)
    dc->n_closing--;
  ch->state = RTCSEC_DC_CHANNEL_CLOSED;
  drop_queue(dc, ch);
  ch->ev_low = 0; /* an OPEN not reported yet still is, before the CLOSED */
  ch->ev_closed = 1;
  dc->st.channels_closed++;
  mark_dirty(dc, ch);
}

/* Every channel is CLOSED: the association ended. */
static void close_all_channels(rtcsec_dc *dc) {
  for (uint32_t i = 0; i < dc->cfg.max_streams; i++) {
    if (dc->chan[i] != NULL)
      channel_set_closed(dc, dc->chan[i]);
  }
}

static void set_state(rtcsec_dc *dc, rtcsec_dc_state s, int error) {
  if (is_ended(dc))
    return; /* sticky */
  dc->state = s;
  if (s == RTCSEC_DC_STATE_FAILED || s == RTCSEC_DC_STATE_CLOSED) {
    dc->error = s == RTCSEC_DC_STATE_FAILED ? error : 0;
    close_all_channels(dc);
    dc->ev_final = 1;
    dc_env_wake(dc);
  }
}

/* ---- sending -------------------------------------------------------------------------- */

/* One call to usrsctp_sendv: bytes taken (>= 0) or a negative errno-like
 * marker: -EWOULDBLOCK when SCTP has no room, other values when it
 * refused the message. */
static ssize_t sctp_send(rtcsec_dc *dc, dc_channel *ch, uint16_t sid, uint32_t ppid, int unordered,
                         const uint8_t *d, size_t len) {
  struct sctp_sendv_spa spa;
  memset(&spa, 0, sizeof(spa));
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = sid;
  /* usrsctp carries the PPID as it stands on the wire. */
  spa.sendv_sndinfo.snd_ppid = htonl(ppid);
  /* Explicit EOR mode: the message ends with the call that has it all. */
  spa.sendv_sndinfo.snd_flags = SCTP_EOR | (unordered ? SCTP_UNORDERED : 0);
  if (ch != NULL && ppid != DC_PPID_DCEP && ch->reliability != RTCSEC_CHANNEL_RELIABLE) {
    /* RFC 8831 §6.1, RFC 7496: partial reliability per message. */
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        ch->reliability == RTCSEC_CHANNEL_MAX_RETRANSMITS ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = ch->reliability_param;
  }
  ssize_t n =
      usrsctp_sendv(dc->sock, d, len, NULL, 0, &spa, (socklen_t)sizeof(spa), SCTP_SENDV_SPA, 0);
  if (n >= 0)
    return n;
  if (errno == EWOULDBLOCK || errno == EAGAIN)
    return -EWOULDBLOCK;
  return errno > 0 ? -errno : -EIO;
}

/* RFC 8832 §6: until the ACK (or any message) has arrived, the opener
 * sends everything ordered, whatever the channel's type. */
static int send_unordered(const dc_channel *ch, uint32_t ppid) {
  return ppid != DC_PPID_DCEP && !ch->ordered && ch->acked;
}

static void check_low(rtcsec_dc *dc, dc_channel *ch, size_t before) {
  if (before > ch->low_threshold && ch->buffered <= ch->low_threshold &&
      ch->state == RTCSEC_DC_CHANNEL_OPEN) {
    ch->ev_low = 1;
    mark_dirty(dc, ch);
  }
}

static int enqueue(rtcsec_dc *dc, dc_channel *ch, uint32_t ppid, int unordered, const uint8_t *d,
                   size_t len, int front) {
  dc_msg *m = malloc(sizeof(*m) + len);
  if (m == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  m->ppid = ppid;
  m->unordered = unordered;
  m->counted = ppid != DC_PPID_DCEP;
  m->len = len;
  m->off = 0;
  memcpy(m->data, d, len);
  if (front) {
    m->next = ch->q_head;
    ch->q_head = m;
    if (ch->q_tail == NULL)
      ch->q_tail = m;
  } else {
    m->next = NULL;
    if (ch->q_tail)
      ch->q_tail->next = m;
    else
      ch->q_head = m;
    ch->q_tail = m;
  }
  if (m->counted) {
    ch->buffered += len;
    dc->buffered_total += len;
  }
  mark_sendable(dc, ch);
  return RTCSEC_OK;
}

static void request_reset(rtcsec_dc *dc, uint16_t sid);

/* A channel in CLOSING whose queue is empty resets its outgoing stream
 * (RFC 8831 §6.7); usrsctp sends the request once what it holds for the
 * stream is out (RFC 6525 §5.1.2). */
static void maybe_reset(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state != RTCSEC_DC_CHANNEL_CLOSING || ch->q_head != NULL || ch->reset_out_requested)
    return;
  ch->reset_out_requested = 1;
  request_reset(dc, ch->id);
  if (ch->reset_out_done && ch->reset_in_done)
    channel_set_closed(dc, ch);
}

/* Hands queued messages to SCTP, one message per channel in turn, until
 * SCTP has no room. Without I-DATA a message SCTP took in part holds the
 * association to its stream until it is complete (RFC 4960 §6.9: the
 * fragments of a message have consecutive TSNs). */
static void flush(rtcsec_dc *dc) {
  if (dc->state != RTCSEC_DC_STATE_CONNECTED && dc->state != RTCSEC_DC_STATE_CLOSING)
    return;
  while (dc->send_head != NULL) {
    dc_channel *ch = dc->locked_sid >= 0 ? dc->chan[dc->locked_sid] : dc->send_head;
    if (ch == NULL || ch->q_head == NULL) {
      dc->locked_sid = -1;
      if (ch == NULL)
        break;
      unlink_sendable(dc, ch);
      continue;
    }
    dc_msg *m = ch->q_head;
    ssize_t n = sctp_send(dc, ch, ch->id, m->ppid, m->unordered, m->data + m->off, m->len - m->off);
    if (n == -EWOULDBLOCK || n == 0)
      break;
    size_t before = ch->buffered;
    if (n < 0) {
      /* Refused (the stream is being reset, the association is going):
       * the message cannot go; drop it rather than retry forever. */
      n = (ssize_t)(m->len - m->off);
      m->off = m->len;
    } else {
      m->off += (size_t)n;
    }
    if (m->counted) {
      ch->buffered -= (size_t)n;
      dc->buffered_total -= (size_t)n;
    }
    if (m->off < m->len) {
      if (!dc->interleaving)
        dc->locked_sid = ch->id;
      check_low(dc, ch, before);
      break; /* SCTP's buffer is full */
    }
    dc->locked_sid = -1;
    ch->q_head = m->next;
    if (ch->q_head == NULL)
      ch->q_tail = NULL;
    free(m);
    check_low(dc, ch, before);
    /* Round robin: the channel goes to the back, or leaves the list. */
    unlink_sendable(dc, ch);
    if (ch->q_head != NULL)
      mark_sendable(dc, ch);
    else
      maybe_reset(dc, ch);
  }
}

static void count_sent(rtcsec_dc *dc, dc_channel *ch, size_t len) {
  ch->messages_sent++;
  ch->bytes_sent += len;
  dc->st.messages_sent++;
  dc->st.bytes_sent += len;
}

/* Sends (or queues) one message on ch. The fast path (nothing queued on the
 * channel, SCTP has room) copies nothing here. */
static int send_message(rtcsec_dc *dc, dc_channel *ch, uint32_t ppid, const uint8_t *d,
                        size_t len) {
  int unordered = send_unordered(ch, ppid);
  int can_direct = ch->q_head == NULL && dc->state == RTCSEC_DC_STATE_CONNECTED &&
                   (dc->locked_sid < 0 || dc->locked_sid == ch->id);
  if (!can_direct)
    return enqueue(dc, ch, ppid, unordered, d, len, 0);
  ssize_t n = sctp_send(dc, ch, ch->id, ppid, unordered, d, len);
  if (n == -EWOULDBLOCK || n == 0)
    return enqueue(dc, ch, ppid, unordered, d, len, 0);
  if (n < 0)
    return RTCSEC_ERR_DC_CHANNEL_CLOSED; /* SCTP refused the stream */
  if ((size_t)n < len) {
    /* SCTP took the start; the rest follows as the same message. */
    if (!dc->interleaving)
      dc->locked_sid = ch->id;
    return enqueue(dc, ch, ppid, unordered, d + n, len - (size_t)n, 0);
  }
  return RTCSEC_OK;
}

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
    rc = enqueue(dc, ch, DC_PPID_DCEP, 0, buf, n, 1);
  free(buf);
  return rc;
}

/* The channel becomes usable: the association is up. */
static void activate(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->id >= usable_streams(dc)) {
    /* The peer agreed to fewer streams than this id needs. */
    channel_set_closed(dc, ch);
    return;
  }
  if (!ch->negotiated && send_open(dc, ch) != RTCSEC_OK) {
    channel_set_closed(dc, ch);
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_OPEN;
  ch->ev_open = 1;
  dc->st.channels_opened++;
  mark_dirty(dc, ch);
}

/* ---- stream resets ------------------------------------------------------------------- */

static void request_reset(rtcsec_dc *dc, uint16_t sid) {
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

static void start_closing(rtcsec_dc *dc, dc_channel *ch) {
  if (ch->state == RTCSEC_DC_CHANNEL_CLOSING || ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    return;
  if (ch->state == RTCSEC_DC_CHANNEL_OPENING) {
    channel_set_closed(dc, ch); /* never reached the wire */
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_CLOSING;
  dc->n_closing++;
  ch->ev_low = 0;
  maybe_reset(dc, ch);
}

/* ---- association setup ------------------------------------------------------------- */

static int socket_setup(rtcsec_dc *dc) {
  const rtcsec_dc_config *c = &dc->cfg;
  if (usrsctp_set_non_blocking(dc->sock, 1) != 0)
    return RTCSEC_ERR_DC_SCTP;
  /* Nothing may be sent once we let go (the DTLS under it may be gone):
   * closing aborts at once. */
  struct linger lg = {1, 0};
  int rc = set_opt(dc, SOL_SOCKET, SO_LINGER, &lg, (socklen_t)sizeof(lg));
  int on = 1;
  struct sctp_assoc_value av = {SCTP_FUTURE_ASSOC, SCTP_ENABLE_RESET_STREAM_REQ};
  /* RFC 8831 §6.7: channels close by stream reset (RFC 6525). */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, (socklen_t)sizeof(av));
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, (socklen_t)sizeof(on));
  /* Messages of any size go in pieces as SCTP has room; the last piece
   * carries SCTP_EOR. */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_EXPLICIT_EOR, &on, (socklen_t)sizeof(on));
  /* RFC 8831 §6.6: the sender SHOULD disable the Nagle algorithm. */
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_NODELAY, &on, (socklen_t)sizeof(on));
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                    SCTP_PARTIAL_DELIVERY_EVENT, SCTP_SHUTDOWN_EVENT};
  for (size_t i = 0; rc == RTCSEC_OK && i < sizeof(events) / sizeof(events[0]); i++) {
    struct sctp_event ev = {SCTP_FUTURE_ASSOC, events[i], 1};
    rc = set_opt(dc, IPPROTO_SCTP, SCTP_EVENT, &ev, (socklen_t)sizeof(ev));
  }
  /* RFC 8261 §5: path MTU discovery off, a fixed size that fits one DTLS
   * record in one datagram. usrsctp's figure excludes the common header. */
  struct sctp_paddrparams spp;
  memset(&spp, 0, sizeof(spp));
  spp.spp_assoc_id = SCTP_FUTURE_ASSOC;
  spp.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_ENABLE;
  spp.spp_pathmtu = (uint32_t)(c->max_packet_size - SCTP_COMMON_HEADER);
  spp.spp_hbinterval = c->heartbeat_ms;
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &spp, (socklen_t)sizeof(spp));
  struct sctp_initmsg init;
  memset(&init, 0, sizeof(init));
  init.sinit_num_ostreams = (uint16_t)c->max_streams;
  init.sinit_max_instreams = (uint16_t)c->max_streams;
  init.sinit_max_attempts = (uint16_t)c->max_retransmissions;
  init.sinit_max_init_timeo = (uint16_t)(c->rto_max_ms > 0xFFFF ? 0xFFFF : c->rto_max_ms);
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_INITMSG, &init, (socklen_t)sizeof(init));
  struct sctp_rtoinfo rto = {SCTP_FUTURE_ASSOC, c->rto_initial_ms, c->rto_max_ms, c->rto_min_ms};
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_RTOINFO, &rto, (socklen_t)sizeof(rto));
  struct sctp_assocparams ap;
  memset(&ap, 0, sizeof(ap));
  ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  ap.sasoc_asocmaxrxt = (uint16_t)c->max_retransmissions;
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, (socklen_t)sizeof(ap));
  struct sctp_sack_info sack = {SCTP_FUTURE_ASSOC, c->sack_delay_ms, 2};
  rc = rc ? rc : set_opt(dc, IPPROTO_SCTP, SCTP_DELAYED_SACK, &sack, (socklen_t)sizeof(sack));
  int sndbuf = (int)c->sctp_send_buffer, rcvbuf = (int)c->sctp_receive_buffer;
  rc = rc ? rc : set_opt(dc, SOL_SOCKET, SO_SNDBUF, &sndbuf, (socklen_t)sizeof(sndbuf));
  rc = rc ? rc : set_opt(dc, SOL_SOCKET, SO_RCVBUF, &rcvbuf, (socklen_t)sizeof(rcvbuf));
  /* Over DTLS: no ECN (no IP header to mark), no ASCONF (one address),
   * no AUTH (DTLS authenticates); PR-SCTP (RFC 3758) and RE-CONFIG
   * (RFC 6525) are required by RFC 8831 §6.2. */
  static const struct {
    int opt, value;
  } features[] = {{SCTP_ECN_SUPPORTED, 0},
                  {SCTP_ASCONF_SUPPORTED, 0},
                  {SCTP_AUTH_SUPPORTED, 0},
                  {SCTP_PR_SUPPORTED, 1},
                  {SCTP_RECONFIG_SUPPORTED, 1}};
  for (size_t i = 0; rc == RTCSEC_OK && i < sizeof(features) / sizeof(features[0]); i++) {
    struct sctp_assoc_value fv = {SCTP_FUTURE_ASSOC, (uint32_t)features[i].value};
    rc = set_opt(dc, IPPROTO_SCTP, features[i].opt, &fv, (socklen_t)sizeof(fv));
  }
  /* RFC 8260: I-DATA needs fragment interleave level 2 on the receiving
   * side (pieces of messages of different streams may alternate). */
  uint32_t level = c->interleaving ? FRAG_INTERLEAVE_LEVEL_2 : FRAG_INTERLEAVE_LEVEL_0;
  rc = rc ? rc
          : set_opt(dc, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &level, (socklen_t)sizeof(level));
  if (rc == RTCSEC_OK && c->interleaving) {
    struct sctp_assoc_value iv = {SCTP_FUTURE_ASSOC, 1};
    rc = set_opt(dc, IPPROTO_SCTP, SCTP_INTERLEAVING_SUPPORTED, &iv, (socklen_t)sizeof(iv));
  }
  return rc;
}

static void conn_addr(const rtcsec_dc *dc, uint16_t port, struct sockaddr_conn *sc) {
  memset(sc, 0, sizeof(*sc));
  sc->sconn_family = AF_CONN;
  sc->sconn_port = htons(port);
  sc->sconn_addr = (void *)dc->handle;
}

void dc_on_upcall(rtcsec_dc *dc) { dc_env_wake(dc); }

static void upcall(struct socket *so, void *arg, int flags) {
  (void)so;
  (void)flags;
  dc_on_upcall(arg);
}

void rtcsec_dc_free(rtcsec_dc *dc) {
  if (dc == NULL)
    return;
  dc_env_enter(dc);
  dc->transport_gone = 1; /* the ABORT of the close goes nowhere */
  if (dc->sock != NULL) {
    usrsctp_set_upcall(dc->sock, NULL, NULL);
    usrsctp_close(dc->sock);
  }
  if (dc->handle != 0) {
    usrsctp_deregister_address((void *)dc->handle);
    dc_env_unregister(dc->handle);
  }
  if (dc->chan != NULL) {
    for (uint32_t i = 0; i < dc->cfg.max_streams; i++) {
      if (dc->chan[i] != NULL) {
        drop_queue(dc, dc->chan[i]);
        channel_free(dc->chan[i]);
      }
    }
  }
  dc_env_leave();
  for (size_t i = 0; i < dc->q_cap; i++)
    free(dc->q_slot[i]);
  free(dc->q_slot);
  free(dc->q_len);
  for (size_t i = 0; i < dc->n_asms; i++)
    free(dc->asms[i].buf);
  free(dc->asms);
  free(dc->release);
  free(dc->rbuf);
  free(dc->rejected);
  free(dc->chan);
  free(dc);
}

int rtcsec_dc_new(rtcsec_dc **out, const rtcsec_dc_config *cfg) {
  if (out == NULL || cfg == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (!config_valid(cfg))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  int rc = dc_env_init();
  if (rc != RTCSEC_OK)
    return rc;
  rtcsec_dc *dc = calloc(1, sizeof(*dc));
  if (dc == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  dc->cfg = *cfg;
  dc->locked_sid = -1;
  dc->state = RTCSEC_DC_STATE_NEW;
  dc->rbuf_cap = cfg->receive_buffer;
  if (dc->rbuf_cap < NOTIFICATION_ROOM(cfg->max_streams))
    dc->rbuf_cap = NOTIFICATION_ROOM(cfg->max_streams);
  dc->rbuf = malloc(dc->rbuf_cap);
  dc->chan = calloc(cfg->max_streams, sizeof(*dc->chan));
  dc->rejected = calloc((cfg->max_streams + 7) / 8, 1);
  if (dc->rbuf == NULL || dc->chan == NULL || dc->rejected == NULL) {
    rtcsec_dc_free(dc);
    return RTCSEC_ERR_NO_MEMORY;
  }
  dc_env_enter(dc);
  dc->handle = dc_env_register(dc);
  if (dc->handle == 0) {
    dc_env_leave();
    rtcsec_dc_free(dc);
    return RTCSEC_ERR_NO_MEMORY;
  }
  rc = RTCSEC_ERR_DC_SCTP;
  usrsctp_register_address((void *)dc->handle);
  dc->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (dc->sock != NULL) {
    usrsctp_set_upcall(dc->sock, upcall, dc);
    rc = socket_setup(dc);
  }
  if (rc == RTCSEC_OK) {
    struct sockaddr_conn local;
    conn_addr(dc, cfg->local_port, &local);
    if (usrsctp_bind(dc->sock, (struct sockaddr *)&local, (socklen_t)sizeof(local)) != 0)
      rc = RTCSEC_ERR_DC_SCTP;
  }
  dc_env_leave();
  if (rc != RTCSEC_OK) {
    rtcsec_dc_free(dc);
    return rc;
  }
  *out = dc;
  return RTCSEC_OK;
}

/* What the association has that a timer will act on: then the deadline is
 * the next tick, else the idle tick (see "Time" in datachannel.h). */
static void update_busy(rtcsec_dc *dc, uint64_t now) {
  dc->busy = 0;
  switch (dc->state) {
  case RTCSEC_DC_STATE_CONNECTING:
  case RTCSEC_DC_STATE_CLOSING:
    dc->busy = 1;
    return;
  case RTCSEC_DC_STATE_CONNECTED:
    break;
  default:
    return;
  }
  if (dc->send_head != NULL || dc->n_closing > 0 || now < dc->sack_until) {
    dc->busy = 1;
    return;
  }
  struct sctp_status status;
  socklen_t len = (socklen_t)sizeof(status);
  memset(&status, 0, sizeof(status));
  if (usrsctp_getsockopt(dc->sock, IPPROTO_SCTP, SCTP_STATUS, &status, &len) != 0) {
    dc->busy = 1;
    return;
  }
  /* Unacknowledged data (T3-rtx, window probes), and received data held
   * for a gap (a SACK with gap reports is owed). */
  dc->busy = status.sstat_unackdata > 0 || status.sstat_penddata > 0;
}

/* Every call that carries `now`: the shared clock first (timers due
 * before this input run before it). */
static void enter_at(rtcsec_dc *dc, uint64_t now) {
  dc_env_enter(dc);
  if (now > dc->last_now)
    dc->last_now = now;
  dc_env_advance(now);
}

static void leave_at(rtcsec_dc *dc, uint64_t now) {
  flush(dc);
  update_busy(dc, now);
  dc_env_leave();
}

int rtcsec_dc_start(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  int rc = RTCSEC_OK;
  if (dc->started || dc->state != RTCSEC_DC_STATE_NEW) {
    rc = RTCSEC_ERR_INVALID_STATE;
  } else {
    dc->started = 1;
    dc->state = RTCSEC_DC_STATE_CONNECTING;
    struct sockaddr_conn remote;
    conn_addr(dc, dc->cfg.remote_port, &remote);
    /* RFC 8841 §9.3: both ends connect (SCTP's simultaneous open). */
    if (usrsctp_connect(dc->sock, (struct sockaddr *)&remote, (socklen_t)sizeof(remote)) != 0 &&
        errno != EINPROGRESS) {
      set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_SCTP);
      rc = RTCSEC_ERR_DC_SCTP;
    }
  }
  leave_at(dc, now);
  return rc;
}

/* ---- input and time ------------------------------------------------------------------- */

int rtcsec_dc_handle_packet(rtcsec_dc *dc, const uint8_t *p, size_t len, uint64_t now) {
  if (dc == NULL || p == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  int rc = RTCSEC_OK;
  if (!dc->started || is_ended(dc)) {
    rc = RTCSEC_ERR_INVALID_STATE;
  } else if (len < SCTP_COMMON_HEADER || len > MAX_PACKET) {
    dc->st.drop_malformed++;
    rc = RTCSEC_ERR_DC_PACKET_DROPPED;
  } else {
    dc->st.packets_in++;
    dc->st.bytes_in += len;
    /* usrsctp counts what it drops only process-wide; under the lock the
     * difference around this one packet is this packet's fate. */
    struct sctpstat before, after;
    usrsctp_get_stat(&before);
    usrsctp_conninput((void *)dc->handle, p, len, 0);
    usrsctp_get_stat(&after);
    if (after.sctps_badsum != before.sctps_badsum) {
      dc->st.drop_checksum++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else if (after.sctps_badvtag != before.sctps_badvtag) {
      dc->st.drop_vtag++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else if (after.sctps_hdrops != before.sctps_hdrops ||
               after.sctps_noport != before.sctps_noport ||
               after.sctps_outoftheblue != before.sctps_outoftheblue) {
      dc->st.drop_other++;
      rc = RTCSEC_ERR_DC_PACKET_DROPPED;
    } else {
      /* A delayed SACK may now be owed (RFC 4960 §6.2). */
      dc->sack_until = now + (uint64_t)(dc->cfg.sack_delay_ms + dc->cfg.tick_ms) * 1000u;
    }
  }
  leave_at(dc, now);
  return rc;
}

int rtcsec_dc_handle_timeout(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  dc->st.wakeups++;
  leave_at(dc, now);
  return RTCSEC_OK;
}

static int has_events(const rtcsec_dc *dc) {
  return dc->ev_connected || dc->dirty_head != NULL || dc->ev_final;
}

uint64_t rtcsec_dc_deadline(const rtcsec_dc *dc) {
  if (dc == NULL)
    return UINT64_MAX;
  rtcsec_dc *m = (rtcsec_dc *)dc; /* the lock, not the object, changes */
  dc_env_enter(NULL);
  uint64_t dl;
  if (m->q_count > 0 || has_events(m) ||
      (m->started && !is_ended(m) && (usrsctp_get_events(m->sock) & SCTP_EVENT_READ))) {
    dl = m->last_now; /* something is waiting to be polled */
  } else if (!m->started || is_ended(m)) {
    dl = UINT64_MAX;
  } else if (m->busy) {
    dl = dc_env_clock() + (uint64_t)m->cfg.tick_ms * 1000u;
  } else {
    uint64_t base = dc_env_clock() > m->last_now ? dc_env_clock() : m->last_now;
    dl = base + (uint64_t)m->cfg.idle_tick_ms * 1000u;
  }
  dc_env_leave();
  return dl;
}

/* ---- channels: the public calls ----------------------------------------------------------- */

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
  uint32_t limit = usable_streams(dc);
  if (cfg->id != RTCSEC_DC_ID_AUTO) {
    if (cfg->id >= limit || dc->chan[cfg->id] != NULL)
      return RTCSEC_ERR_DC_STREAM_ID;
    /* RFC 8832 §6: a DCEP opener picks an id of its own parity. */
    if (!cfg->negotiated && !our_parity(dc, cfg->id))
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
  enter_at(dc, now);
  int rc = RTCSEC_OK;
  uint16_t pick = 0;
  if (dc->state == RTCSEC_DC_STATE_CLOSING || is_ended(dc) || dc->close_requested)
    rc = RTCSEC_ERR_INVALID_STATE;
  else if (dc->n_channels >= dc->cfg.max_channels)
    rc = RTCSEC_ERR_LIMIT;
  else
    rc = pick_id(dc, cfg, &pick);
  dc_channel *ch = NULL;
  if (rc == RTCSEC_OK) {
    ch = channel_new(dc, pick, cfg->label ? cfg->label : "", label_len,
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
      activate(dc, ch);
    *id = pick;
  }
  leave_at(dc, now);
  return rc;
}

static dc_channel *open_channel_by_id(const rtcsec_dc *dc, uint16_t id) {
  if (id >= dc->cfg.max_streams)
    return NULL;
  dc_channel *ch = dc->chan[id];
  return ch != NULL && ch->state == RTCSEC_DC_CHANNEL_OPEN ? ch : NULL;
}

int rtcsec_dc_send(rtcsec_dc *dc, uint16_t id, const uint8_t *d, size_t len, int binary,
                   uint64_t now) {
  if (dc == NULL || (d == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  int rc = RTCSEC_OK;
  dc_channel *ch = open_channel_by_id(dc, id);
  if (dc->state == RTCSEC_DC_STATE_FAILED)
    rc = dc->error;
  else if (dc->state == RTCSEC_DC_STATE_CLOSED)
    rc = RTCSEC_ERR_CLOSED;
  else if (ch == NULL || dc->close_requested)
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  else if (len > remote_max(dc))
    rc = RTCSEC_ERR_DC_MESSAGE_TOO_LARGE; /* RFC 8841 §6.1 */
  else if (dc->buffered_total > 0 && dc->buffered_total + len > dc->cfg.max_buffered)
    rc = RTCSEC_ERR_DC_BUFFER_FULL; /* an empty queue takes any one message */
  if (rc == RTCSEC_OK) {
    /* RFC 8831 §6.6: an empty message is one zero byte with PPID 56 / 57. */
    static const uint8_t zero = 0;
    uint32_t ppid = binary ? (len ? DC_PPID_BINARY : DC_PPID_BINARY_EMPTY)
                           : (len ? DC_PPID_STRING : DC_PPID_STRING_EMPTY);
    rc = send_message(dc, ch, ppid, len ? d : &zero, len ? len : 1);
    if (rc == RTCSEC_OK)
      count_sent(dc, ch, len);
  }
  leave_at(dc, now);
  return rc;
}

int rtcsec_dc_close_channel(rtcsec_dc *dc, uint16_t id, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  int rc = RTCSEC_OK;
  dc_channel *ch = id < dc->cfg.max_streams ? dc->chan[id] : NULL;
  if (ch == NULL || ch->state == RTCSEC_DC_CHANNEL_CLOSING || ch->state == RTCSEC_DC_CHANNEL_CLOSED)
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  else
    start_closing(dc, ch);
  leave_at(dc, now);
  return rc;
}

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

/* ---- ending the association ---------------------------------------------------------------- */

/* rtcsec_dc_close(): every channel closes; once their queues are out,
 * SCTP SHUTDOWN (RFC 4960 §9.2: it waits for outstanding data itself). */
static void maybe_shutdown(rtcsec_dc *dc) {
  if (!dc->close_requested || dc->shutdown_sent || dc->send_head != NULL ||
      dc->state != RTCSEC_DC_STATE_CONNECTED)
    return;
  dc->shutdown_sent = 1;
  set_state(dc, RTCSEC_DC_STATE_CLOSING, 0);
  if (usrsctp_shutdown(dc->sock, SHUT_WR) != 0)
    set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
}

int rtcsec_dc_close(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  if (!is_ended(dc) && !dc->close_requested) {
    dc->close_requested = 1;
    if (dc->state == RTCSEC_DC_STATE_CONNECTED) {
      flush(dc);
      maybe_shutdown(dc);
    } else if (dc->state != RTCSEC_DC_STATE_CLOSING) {
      /* Not up (yet): nothing to shut down cleanly; an INIT still being
       * retried goes nowhere. */
      dc->transport_gone = 1;
      out_queue_clear(dc);
      set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
    }
  }
  leave_at(dc, now);
  return RTCSEC_OK;
}

int rtcsec_dc_transport_closed(rtcsec_dc *dc, uint64_t now) {
  if (dc == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  enter_at(dc, now);
  dc->transport_gone = 1;
  out_queue_clear(dc);
  set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
  leave_at(dc, now);
  return RTCSEC_OK;
}

/* ---- receiving: DCEP ------------------------------------------------------------------------ */

static void reject_open(rtcsec_dc *dc, uint16_t sid) {
  /* RFC 8832 §6: no ACK; close the data channel on that stream. */
  dc->st.dcep_rejected++;
  dc_channel *ch = dc->chan[sid];
  if (ch != NULL) {
    start_closing(dc, ch);
    return;
  }
  if (sid < dc->streams_out && !(dc->rejected[sid / 8] & (1u << (sid % 8)))) {
    dc->rejected[sid / 8] |= (uint8_t)(1u << (sid % 8));
    request_reset(dc, sid);
  }
}

static void handle_open(rtcsec_dc *dc, uint16_t sid, const dcep_open *o) {
  dc->st.dcep_opens_received++;
  /* RFC 8832 §6: an unused stream, the peer's parity, valid parameters
   * (checked by the parser), and our limits. */
  if (dc->chan[sid] != NULL || (dc->rejected[sid / 8] & (1u << (sid % 8))) || our_parity(dc, sid) ||
      sid >= usable_streams(dc) || dc->n_channels >= dc->cfg.max_channels || dc->close_requested) {
    reject_open(dc, sid);
    return;
  }
  dc_channel *ch = channel_new(dc, sid, (const char *)o->label, o->label_len,
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
   * (enqueue() keeps the channel's queue order; the ACK is first). */
  if (enqueue(dc, ch, DC_PPID_DCEP, 0, &ack, 1, 1) != RTCSEC_OK) {
    dc->chan[sid] = NULL;
    dc->n_channels--;
    channel_free(ch);
    reject_open(dc, sid);
    return;
  }
  ch->state = RTCSEC_DC_CHANNEL_OPEN;
  ch->ev_open = 1;
  dc->st.channels_opened++;
  mark_dirty(dc, ch);
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

/* ---- receiving: messages ----------------------------------------------------------------------
 */

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

/* ---- receiving: notifications ------------------------------------------------------------------
 */

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
      activate(dc, ch);
  }
  if (dc->close_requested)
    maybe_shutdown(dc);
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
    set_state(dc, RTCSEC_DC_STATE_FAILED, abort ? RTCSEC_ERR_DC_ABORTED : RTCSEC_ERR_DC_TIMEOUT);
    break;
  }
  case SCTP_RESTART:
    /* The peer started a new association with us: the channels we had are
     * gone on its side. */
    set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_ABORTED);
    break;
  case SCTP_CANT_STR_ASSOC:
    set_state(dc, RTCSEC_DC_STATE_FAILED, RTCSEC_ERR_DC_TIMEOUT);
    break;
  case SCTP_SHUTDOWN_COMP:
    set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
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
      start_closing(dc, ch);
    }
    if (ch->state == RTCSEC_DC_CHANNEL_CLOSING && ch->reset_out_done && ch->reset_in_done)
      channel_set_closed(dc, ch);
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
    if (!is_ended(dc) && dc->state != RTCSEC_DC_STATE_CONNECTING)
      set_state(dc, RTCSEC_DC_STATE_CLOSED, 0);
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

/* ---- events ---------------------------------------------------------------------------------- */

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
        channel_free(ch);
      }
    }
    if (ev->type != RTCSEC_EVENT_NONE)
      return 1;
  }
  return 0;
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
      ev->connected.role = dc->cfg.dtls_role;
      ev->connected.version = "";
      ev->connected.cipher = "";
      ev->connected.group = "";
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
  flush(dc);
  maybe_shutdown(dc);
  dc_env_leave();
  return RTCSEC_OK;
}

/* ---- stats -------------------------------------------------------------------------------------
 */

const char *rtcsec_dc_state_name(rtcsec_dc_state s) {
  switch (s) {
  case RTCSEC_DC_STATE_NEW:
    return "new";
  case RTCSEC_DC_STATE_CONNECTING:
    return "connecting";
  case RTCSEC_DC_STATE_CONNECTED:
    return "connected";
  case RTCSEC_DC_STATE_CLOSING:
    return "closing";
  case RTCSEC_DC_STATE_CLOSED:
    return "closed";
  case RTCSEC_DC_STATE_FAILED:
    return "failed";
  default:
    return "unknown";
  }
}

int rtcsec_dc_get_stats(const rtcsec_dc *dc, rtcsec_dc_stats *out) {
  if (dc == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(NULL);
  *out = dc->st;
  out->state = dc->state;
  out->error = dc->state == RTCSEC_DC_STATE_FAILED ? dc->error : 0;
  out->interleaving = dc->interleaving;
  out->streams_out = dc->streams_out;
  out->streams_in = dc->streams_in;
  out->channels = dc->n_channels;
  out->buffered_amount = dc->buffered_total;
  dc_env_leave();
  return RTCSEC_OK;
}

int rtcsec_dc_get_channel_stats(const rtcsec_dc *dc, uint16_t id, rtcsec_dc_channel_stats *out) {
  if (dc == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(NULL);
  int rc = RTCSEC_OK;
  const dc_channel *ch = id < dc->cfg.max_streams ? dc->chan[id] : NULL;
  if (ch == NULL) {
    rc = RTCSEC_ERR_DC_CHANNEL_CLOSED;
  } else {
    memset(out, 0, sizeof(*out));
    out->id = ch->id;
    out->state = ch->state;
    out->acked = ch->acked;
    out->messages_sent = ch->messages_sent;
    out->bytes_sent = ch->bytes_sent;
    out->messages_received = ch->messages_received;
    out->bytes_received = ch->bytes_received;
    out->drop_too_large = ch->drop_too_large;
    out->drop_unknown_ppid = ch->drop_unknown_ppid;
    out->buffered_amount = ch->buffered;
  }
  dc_env_leave();
  return rc;
}

/* ---- test hook ------------------------------------------------------------------------------- */

int rtcsec_dc_test_send_raw(rtcsec_dc *dc, uint16_t sid, uint32_t ppid, const uint8_t *d,
                            size_t len, int unordered) {
  if (dc == NULL || (d == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(dc);
  ssize_t n = sctp_send(dc, NULL, sid, ppid, unordered, d, len);
  dc_env_leave();
  return n >= 0 ? (int)n : RTCSEC_ERR_DC_SCTP;
}
