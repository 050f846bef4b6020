/* Sending: the queue of SCTP packets usrsctp produced (for
 * rtcsec_dc_poll_datagram), the per-channel queues of messages SCTP could not
 * take yet, and rtcsec_dc_send (RFC 8831 §6.6). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "dc_internal.h"
#include "dcep.h"

/* ---- outgoing packets -------------------------------------------------------------------- */

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

void dc_out_clear(rtcsec_dc *dc) {
  dc->q_count = 0;
  dc->q_head = 0;
}

int rtcsec_dc_poll_datagram(rtcsec_dc *dc, uint8_t *buf, size_t cap, size_t *out_len) {
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

/* ---- send queues ------------------------------------------------------------------------- */

void dc_mark_sendable(rtcsec_dc *dc, dc_channel *ch) {
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

void dc_drop_queue(rtcsec_dc *dc, dc_channel *ch) {
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

int dc_enqueue(rtcsec_dc *dc, dc_channel *ch, uint32_t ppid, int unordered, const uint8_t *d,
               size_t len) {
  dc_msg *m = malloc(sizeof(*m) + len);
  if (m == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  m->ppid = ppid;
  m->unordered = unordered;
  m->counted = ppid != DC_PPID_DCEP;
  m->len = len;
  m->off = 0;
  memcpy(m->data, d, len);
  m->next = NULL;
  if (ch->q_tail)
    ch->q_tail->next = m;
  else
    ch->q_head = m;
  ch->q_tail = m;
  if (m->counted) {
    ch->buffered += len;
    dc->buffered_total += len;
  }
  dc_mark_sendable(dc, ch);
  return RTCSEC_OK;
}

static void check_low(rtcsec_dc *dc, dc_channel *ch, size_t before) {
  if (before > ch->low_threshold && ch->buffered <= ch->low_threshold &&
      ch->state == RTCSEC_DC_CHANNEL_OPEN) {
    ch->ev_low = 1;
    dc_mark_dirty(dc, ch);
  }
}

/* ---- sending ----------------------------------------------------------------------------- */

/* One call to usrsctp_sendv: bytes taken (>= 0) or a negative errno-like
 * marker: -EWOULDBLOCK when SCTP has no room, other values when it
 * refused the message. */
ssize_t dc_sctp_send(rtcsec_dc *dc, dc_channel *ch, uint16_t sid, uint32_t ppid, int unordered,
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

/* Hands queued messages to SCTP, one message per channel in turn, until
 * SCTP has no room. Without I-DATA a message SCTP took in part holds the
 * association to its stream until it is complete (RFC 4960 §6.9: the
 * fragments of a message have consecutive TSNs). */
void dc_flush(rtcsec_dc *dc) {
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
    ssize_t n =
        dc_sctp_send(dc, ch, ch->id, m->ppid, m->unordered, m->data + m->off, m->len - m->off);
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
      dc_mark_sendable(dc, ch);
    else
      dc_maybe_reset(dc, ch);
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
    return dc_enqueue(dc, ch, ppid, unordered, d, len);
  ssize_t n = dc_sctp_send(dc, ch, ch->id, ppid, unordered, d, len);
  if (n == -EWOULDBLOCK || n == 0)
    return dc_enqueue(dc, ch, ppid, unordered, d, len);
  if (n < 0)
    return RTCSEC_ERR_DC_CHANNEL_CLOSED; /* SCTP refused the stream */
  if ((size_t)n < len) {
    /* SCTP took the start; the rest follows as the same message. */
    if (!dc->interleaving)
      dc->locked_sid = ch->id;
    return dc_enqueue(dc, ch, ppid, unordered, d + n, len - (size_t)n);
  }
  return RTCSEC_OK;
}

static size_t remote_max(const rtcsec_dc *dc) {
  /* RFC 8841 §6.1: no attribute means 64 KiB. */
  return dc->cfg.remote_max_message_size == 0 ? RTCSEC_DC_DEFAULT_REMOTE_MAX_MESSAGE_SIZE
                                              : dc->cfg.remote_max_message_size;
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
  dc_enter_at(dc, now);
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
  dc_leave_at(dc, now);
  return rc;
}

int rtcsec_dc_test_send_raw(rtcsec_dc *dc, uint16_t sid, uint32_t ppid, const uint8_t *d,
                            size_t len, int unordered) {
  if (dc == NULL || (d == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  dc_env_enter(dc);
  ssize_t n = dc_sctp_send(dc, NULL, sid, ppid, unordered, d, len);
  dc_env_leave();
  return n >= 0 ? (int)n : RTCSEC_ERR_DC_SCTP;
}
