/* The role-neutral core of a DTLS 1.3 association. See dtls13_conn.h. */
#include "dtls13_conn.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "wire.h"

/* RFC 8446 §5.2: a protected record's content is at most 2^14 + 256. */
#define MAX_RECORD_BODY (RTCSEC_D13_MAX_PLAINTEXT + 256)
/* A fragment shorter than this starts a new record or datagram instead,
 * unless it is the rest of the message. */
#define MIN_FRAGMENT 32

struct rtcsec_d13_event {
  rtcsec_d13_event *next;
  rtcsec_event ev;
  size_t len;
  uint8_t data[];
};

static int handshaking(const rtcsec_d13_conn *c) {
  return c->state == RTCSEC_DTLS_STATE_HANDSHAKING;
}

static int live(const rtcsec_d13_conn *c) {
  return c->state == RTCSEC_DTLS_STATE_HANDSHAKING || c->state == RTCSEC_DTLS_STATE_CONNECTED;
}

/* ---- events ------------------------------------------------------------------------ */

int rtcsec_d13_conn_push_event(rtcsec_d13_conn *c, const rtcsec_event *ev, const uint8_t *data,
                               size_t len) {
  rtcsec_d13_event *e = malloc(sizeof(*e) + len);
  if (e == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  e->next = NULL;
  e->ev = *ev;
  e->len = len;
  if (ev->type == RTCSEC_EVENT_DATA) {
    if (len > 0)
      memcpy(e->data, data, len);
    e->ev.data.data = NULL;
    e->ev.data.len = len;
  }
  if (c->ev_tail != NULL)
    c->ev_tail->next = e;
  else
    c->ev_head = e;
  c->ev_tail = e;
  return RTCSEC_OK;
}

static void event_free(rtcsec_d13_event *e) {
  if (e == NULL)
    return;
  OPENSSL_cleanse(e, sizeof(*e) + e->len);
  free(e);
}

int rtcsec_d13_conn_poll_event(rtcsec_d13_conn *c, rtcsec_event *ev) {
  event_free(c->ev_last);
  c->ev_last = NULL;
  memset(ev, 0, sizeof(*ev));
  rtcsec_d13_event *e = c->ev_head;
  if (e == NULL)
    return RTCSEC_OK;
  c->ev_head = e->next;
  if (c->ev_head == NULL)
    c->ev_tail = NULL;
  *ev = e->ev;
  if (ev->type == RTCSEC_EVENT_DATA)
    ev->data.data = e->data;
  /* The node stays until the next poll, so that ev->data stays valid. */
  c->ev_last = e;
  return RTCSEC_OK;
}

/* ---- life cycle -------------------------------------------------------------------- */

int rtcsec_d13_conn_init(rtcsec_d13_conn *c, const rtcsec_d13_conn_config *cfg, uint64_t now) {
  memset(c, 0, sizeof(*c));
  if (cfg == NULL || cfg->mtu < 256 || cfg->mtu > 65507 || cfg->rto_initial_us == 0 ||
      cfg->rto_max_us < cfg->rto_initial_us || cfg->handshake_timeout_us == 0 ||
      cfg->on_message == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  c->cfg = *cfg;
  c->tx_buf = malloc(cfg->mtu);
  c->rec_buf = malloc(cfg->mtu);
  if (c->tx_buf == NULL || c->rec_buf == NULL) {
    rtcsec_d13_conn_clear(c);
    return RTCSEC_ERR_NO_MEMORY;
  }
  rtcsec_dgram_queue_init(&c->out, RTCSEC_D13_OUT_MAX);
  c->state = RTCSEC_DTLS_STATE_HANDSHAKING;
  c->start_us = now;
  c->prefix = RTCSEC_D13_PREFIX_DTLS;
  c->alert = -1;
  c->ack_deadline = UINT64_MAX;
  c->retx_deadline = UINT64_MAX;
  c->rto = cfg->rto_initial_us;
  return RTCSEC_OK;
}

static void flight_clear(rtcsec_d13_flight *f) {
  for (size_t i = 0; i < f->n; i++) {
    OPENSSL_cleanse(f->msgs[i].body, f->msgs[i].len);
    free(f->msgs[i].body);
    free(f->msgs[i].acked);
    free(f->msgs[i].lost);
  }
  memset(f, 0, sizeof(*f));
}

static void slot_clear(rtcsec_d13_in_msg *s) {
  if (s->buf != NULL)
    OPENSSL_cleanse(s->buf, s->len);
  free(s->buf);
  free(s->filled);
  memset(s, 0, sizeof(*s));
}

void rtcsec_d13_conn_clear(rtcsec_d13_conn *c) {
  if (c == NULL)
    return;
  rtcsec_d13_keys_clear(&c->w_hs);
  rtcsec_d13_keys_clear(&c->w_app);
  rtcsec_d13_keys_clear(&c->r_hs);
  for (int i = 0; i < 3; i++)
    rtcsec_d13_keys_clear(&c->r_app[i]);
  flight_clear(&c->flight);
  for (int i = 0; i < RTCSEC_D13_RX_SLOTS; i++)
    slot_clear(&c->rx[i]);
  rtcsec_dgram_queue_clear(&c->out);
  while (c->ev_head != NULL) {
    rtcsec_d13_event *e = c->ev_head;
    c->ev_head = e->next;
    event_free(e);
  }
  event_free(c->ev_last);
  if (c->tx_buf != NULL)
    OPENSSL_cleanse(c->tx_buf, c->cfg.mtu);
  if (c->rec_buf != NULL)
    OPENSSL_cleanse(c->rec_buf, c->cfg.mtu);
  free(c->tx_buf);
  free(c->rec_buf);
  OPENSSL_cleanse(c, sizeof(*c));
}

/* ---- keys -------------------------------------------------------------------------- */

int rtcsec_d13_conn_install(rtcsec_d13_conn *c, int write, uint64_t epoch, const uint8_t *secret) {
  const rtcsec_d13_suite *s = c->cfg.suite;
  if (s == NULL || epoch < 2)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t hlen = (size_t)EVP_MD_get_size(s->md());
  rtcsec_d13_keys *k;
  if (write) {
    k = epoch == 2 ? &c->w_hs : &c->w_app;
    if (epoch > 2)
      memcpy(c->w_secret, secret, hlen);
  } else if (epoch == 2) {
    k = &c->r_hs;
  } else {
    memcpy(c->r_secret, secret, hlen);
    k = c->r_app[1].active ? &c->r_app[2] : &c->r_app[1];
    /* The two epoch bits must name one set of read keys (RFC 9147
     * §4.2.2): a new epoch with the handshake's bits retires them. */
    if ((epoch & 3) == 2)
      rtcsec_d13_keys_clear(&c->r_hs);
  }
  int rc = rtcsec_d13_keys_init(k, s, c->prefix, secret, epoch, write);
  if (rc == RTCSEC_OK && write && epoch > c->w_epoch)
    c->w_epoch = epoch;
  return rc;
}

void rtcsec_d13_conn_expect(rtcsec_d13_conn *c, uint64_t epoch) { c->hs_rx_epoch = epoch; }

static rtcsec_d13_keys *write_keys(rtcsec_d13_conn *c, uint64_t epoch) {
  if (epoch == 2 && c->w_hs.active)
    return &c->w_hs;
  if (epoch >= 3 && c->w_app.active && c->w_app.epoch == epoch)
    return &c->w_app;
  return NULL;
}

static rtcsec_d13_keys *read_keys(rtcsec_d13_conn *c, unsigned bits) {
  if (c->r_hs.active && bits == 2)
    return &c->r_hs;
  for (int i = 0; i < 3; i++) {
    if (c->r_app[i].active && (c->r_app[i].epoch & 3) == bits)
      return &c->r_app[i];
  }
  return NULL;
}

/* A record protected with the next read epoch authenticated: the peer has
 * switched (RFC 9147 §8: keep the old keys until then). */
static void rotate_read(rtcsec_d13_conn *c) {
  rtcsec_d13_keys_clear(&c->r_app[0]);
  c->r_app[0] = c->r_app[1];
  c->r_app[1] = c->r_app[2];
  memset(&c->r_app[2], 0, sizeof(c->r_app[2]));
}

/* ---- sending records ---------------------------------------------------------------- */

static int queue_datagram(rtcsec_d13_conn *c, const uint8_t *d, size_t len) {
  return rtcsec_dgram_queue_push(&c->out, d, len);
}

/* One record of `epoch` (0: plaintext) into out. *seq gets its number. */
static int put_record(rtcsec_d13_conn *c, uint64_t epoch, uint8_t type, const uint8_t *content,
                      size_t len, uint8_t *out, size_t cap, size_t *n, uint64_t *seq) {
  if (epoch == 0) {
    if (c->plain_seq >> 48 != 0)
      return RTCSEC_ERR_KEY_EXHAUSTED;
    *seq = c->plain_seq;
    int rc = rtcsec_d13_plain(type, c->plain_seq, content, len, out, cap, n);
    if (rc == RTCSEC_OK)
      c->plain_seq++;
    return rc;
  }
  rtcsec_d13_keys *k = write_keys(c, epoch);
  if (k == NULL)
    return RTCSEC_ERR_INVALID_STATE;
  *seq = k->next_seq;
  return rtcsec_d13_seal_ex(k, type, content, len, c->cfg.seal_pad,
                            c->cfg.seal_flags & RTCSEC_D13_SEAL_SEQ8, out, cap, n);
}

/* A record alone in a datagram under the highest sending epoch. */
static int send_single(rtcsec_d13_conn *c, uint8_t type, const uint8_t *content, size_t len) {
  size_t n = 0;
  uint64_t seq;
  int rc = put_record(c, c->w_epoch, type, content, len, c->tx_buf, c->cfg.mtu, &n, &seq);
  if (rc == RTCSEC_OK)
    rc = queue_datagram(c, c->tx_buf, n);
  return rc;
}

static void send_alert(rtcsec_d13_conn *c, uint8_t level, uint8_t desc) {
  const uint8_t a[2] = {level, desc};
  /* Alerts are not retransmitted (RFC 9147 §5.10); a failure to queue one
   * changes nothing about the outcome. */
  (void)send_single(c, RTCSEC_CT_ALERT, a, sizeof(a));
}

/* Fail closed: a failed association keeps no key. Every record key and
 * traffic secret goes as soon as the last alert is sealed. */
void rtcsec_d13_conn_wipe_keys(rtcsec_d13_conn *c) {
  rtcsec_d13_keys_clear(&c->w_hs);
  rtcsec_d13_keys_clear(&c->w_app);
  rtcsec_d13_keys_clear(&c->r_hs);
  for (int i = 0; i < 3; i++)
    rtcsec_d13_keys_clear(&c->r_app[i]);
  OPENSSL_cleanse(c->w_secret, sizeof(c->w_secret));
  OPENSSL_cleanse(c->r_secret, sizeof(c->r_secret));
}

int rtcsec_d13_conn_fail(rtcsec_d13_conn *c, int error, int alert) {
  if (!live(c))
    return c->state == RTCSEC_DTLS_STATE_FAILED ? c->error : error;
  if (alert >= 0) {
    send_alert(c, RTCSEC_ALERT_LEVEL_FATAL, (uint8_t)alert);
    c->alert = alert;
    c->alert_from_peer = 0;
  }
  rtcsec_d13_conn_wipe_keys(c);
  c->state = RTCSEC_DTLS_STATE_FAILED;
  c->error = error;
  c->flight.active = 0;
  c->retx_deadline = UINT64_MAX;
  c->ack_deadline = UINT64_MAX;
  rtcsec_event ev = {.type = RTCSEC_EVENT_FAILED};
  ev.failed.error = error;
  ev.failed.alert = c->alert;
  ev.failed.alert_from_peer = c->alert_from_peer;
  /* If even this allocation fails the state still says FAILED. */
  (void)rtcsec_d13_conn_push_event(c, &ev, NULL, 0);
  return error;
}

/* ---- ACKs (RFC 9147 §7) ---------------------------------------------------------------- */

static void ack_add(rtcsec_d13_conn *c, uint64_t epoch, uint64_t seq) {
  size_t i = 0;
  while (i < c->n_acks &&
         (c->acks[i].epoch < epoch || (c->acks[i].epoch == epoch && c->acks[i].seq < seq)))
    i++;
  if (i < c->n_acks && c->acks[i].epoch == epoch && c->acks[i].seq == seq)
    return;
  if (c->n_acks == RTCSEC_D13_MAX_ACKS) {
    /* Full: forget the oldest (RFC 9147 §7.1 favours the newest). */
    memmove(c->acks, c->acks + 1, (c->n_acks - 1) * sizeof(c->acks[0]));
    c->n_acks--;
    if (i > 0)
      i--;
  }
  memmove(c->acks + i + 1, c->acks + i, (c->n_acks - i) * sizeof(c->acks[0]));
  c->acks[i] = (rtcsec_d13_rn){epoch, seq};
  c->n_acks++;
}

static int send_ack(rtcsec_d13_conn *c) {
  uint8_t buf[2 + 16 * RTCSEC_D13_MAX_ACKS];
  size_t room = (c->cfg.mtu - RTCSEC_D13_OVERHEAD - c->cfg.seal_pad - 2) / 16;
  size_t first = c->n_acks > room ? c->n_acks - room : 0;
  rtcsec_wr w;
  wr_init(&w, buf, sizeof(buf));
  /* struct { RecordNumber record_numbers<0..2^16-1>; } ACK, in
   * numerically increasing order. */
  size_t at = wr_vec_open(&w, 2);
  for (size_t i = first; i < c->n_acks; i++) {
    wr_uint(&w, 8, c->acks[i].epoch);
    wr_uint(&w, 8, c->acks[i].seq);
  }
  wr_vec_close(&w, at, 2);
  c->ack_now = 0;
  c->ack_deadline = UINT64_MAX;
  if (!w.ok)
    return RTCSEC_ERR_INVALID_STATE;
  c->stats.acks_sent++;
  return send_single(c, RTCSEC_CT_ACK, buf, w.off);
}

/* ---- flights ----------------------------------------------------------------------------- */

void rtcsec_d13_conn_flight_begin(rtcsec_d13_conn *c, int needs_ack) {
  flight_clear(&c->flight);
  c->flight_gen++;
  c->flight.needs_ack = needs_ack;
  c->retx_deadline = UINT64_MAX;
  c->responded = 1;
  /* The peer's flight is answered by this one: its ACK state goes
   * (RFC 9147 §7: "clearing their ACK list upon receiving the start of the
   * next flight"). After the handshake, ACK state stays for re-ACKs. */
  if (handshaking(c)) {
    c->n_acks = 0;
    c->ack_now = 0;
    c->ack_deadline = UINT64_MAX;
  }
}

int rtcsec_d13_conn_flight_add(rtcsec_d13_conn *c, uint8_t type, const uint8_t *body, size_t len,
                               uint64_t epoch) {
  rtcsec_d13_flight *f = &c->flight;
  if (f->n == RTCSEC_D13_FLIGHT_MSGS || len == 0 || len > 0xffffff)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_d13_out_msg *m = &f->msgs[f->n];
  m->body = malloc(len);
  m->acked = calloc((len + 7) / 8, 1);
  m->lost = calloc((len + 7) / 8, 1);
  if (m->body == NULL || m->acked == NULL || m->lost == NULL) {
    free(m->body);
    free(m->acked);
    free(m->lost);
    memset(m, 0, sizeof(*m));
    return RTCSEC_ERR_NO_MEMORY;
  }
  memcpy(m->body, body, len);
  m->len = len;
  m->type = type;
  m->epoch = epoch;
  m->seq = c->tx_msg_seq++;
  f->n++;
  return RTCSEC_OK;
}

static size_t header_overhead(const rtcsec_d13_conn *c, uint64_t epoch) {
  return epoch == 0 ? RTCSEC_D13_PLAIN_HDR : RTCSEC_D13_OVERHEAD + c->cfg.seal_pad;
}

/* The record being built while a flight is cut into datagrams. */
typedef struct emitter {
  size_t used;    /* bytes of tx_buf holding finished records */
  size_t rec_len; /* bytes of rec_buf */
  uint64_t epoch;
  int open;
  rtcsec_d13_sent_rec rec;
} emitter;

static int close_record(rtcsec_d13_conn *c, emitter *e) {
  if (!e->open)
    return RTCSEC_OK;
  size_t n = 0;
  uint64_t seq = 0;
  int rc = put_record(c, e->epoch, RTCSEC_CT_HANDSHAKE, c->rec_buf, e->rec_len, c->tx_buf + e->used,
                      c->cfg.mtu - e->used, &n, &seq);
  if (rc != RTCSEC_OK)
    return rc;
  e->used += n;
  e->rec.epoch = e->epoch;
  e->rec.seq = seq;
  rtcsec_d13_flight *f = &c->flight;
  e->rec.order = f->next_order++;
  e->rec.done = 0;
  f->recs[(f->rec_head + f->n_recs) % RTCSEC_D13_SENT_RECORDS] = e->rec;
  if (f->n_recs < RTCSEC_D13_SENT_RECORDS)
    f->n_recs++;
  else
    f->rec_head = (f->rec_head + 1) % RTCSEC_D13_SENT_RECORDS;
  e->open = 0;
  e->rec_len = 0;
  e->rec.n = 0;
  return RTCSEC_OK;
}

static int flush_datagram(rtcsec_d13_conn *c, emitter *e) {
  int rc = close_record(c, e);
  if (rc == RTCSEC_OK && e->used > 0)
    rc = queue_datagram(c, c->tx_buf, e->used);
  e->used = 0;
  return rc;
}

/* Appends one fragment [off, off + n) of message i to the open record. */
static void add_fragment_out(rtcsec_d13_conn *c, emitter *e, size_t i, size_t off, size_t n) {
  const rtcsec_d13_out_msg *m = &c->flight.msgs[i];
  uint8_t *p = c->rec_buf + e->rec_len;
  /* RFC 9147 §5.2: msg_type, length, message_seq, fragment_offset,
   * fragment_length, body. */
  p[0] = m->type;
  put_uint(p + 1, 3, m->len);
  put_uint(p + 4, 2, m->seq);
  put_uint(p + 6, 3, off);
  put_uint(p + 9, 3, n);
  memcpy(p + RTCSEC_D13_HS_HDR, m->body + off, n);
  e->rec_len += RTCSEC_D13_HS_HDR + n;
  e->rec.f[e->rec.n++] = (rtcsec_d13_frag_ref){(uint8_t)i, (uint32_t)off, (uint32_t)n};
  e->epoch = m->epoch;
  e->open = 1;
}

/* The bytes [a, b) of one unacknowledged run, cut to the MTU. */
static int emit_range(rtcsec_d13_conn *c, emitter *e, size_t i, size_t a, size_t b) {
  const rtcsec_d13_out_msg *m = &c->flight.msgs[i];
  size_t mtu = c->cfg.mtu;
  while (a < b) {
    int rc = RTCSEC_OK;
    if (e->open && (e->epoch != m->epoch || e->rec.n == RTCSEC_D13_RECORD_FRAGS))
      rc = close_record(c, e);
    if (rc != RTCSEC_OK)
      return rc;
    /* What the datagram holds once this fragment's header is added: the
     * open record's overhead is counted once, a new record's here. */
    size_t committed = e->used + header_overhead(c, m->epoch) + e->rec_len + RTCSEC_D13_HS_HDR;
    size_t room = committed < mtu ? mtu - committed : 0;
    if (room == 0 || (room < MIN_FRAGMENT && room < b - a)) {
      if (e->open)
        rc = close_record(c, e);
      else if (e->used > 0)
        rc = flush_datagram(c, e);
      else
        rc = RTCSEC_ERR_INVALID_STATE; /* an MTU that carries no fragment at all */
      if (rc != RTCSEC_OK)
        return rc;
      continue;
    }
    size_t n = b - a < room ? b - a : room;
    add_fragment_out(c, e, i, a, n);
    a += n;
  }
  return RTCSEC_OK;
}

/* Whether byte i of m goes out: not acknowledged, and (for a selective
 * retransmission) in a record the peer skipped. */
static int to_send(const rtcsec_d13_out_msg *m, size_t i, int only_lost) {
  return !bit_get(m->acked, i) && (!only_lost || bit_get(m->lost, i));
}

/* Sends every byte of the flight not yet acknowledged (only_lost: only
 * those of records the peer's ACKs skipped), packed into records and
 * datagrams of at most the MTU (each record in one datagram, RFC 9147
 * §4.3). Retransmissions reuse each message's epoch (§4.2.1). */
static int emit_flight(rtcsec_d13_conn *c, int only_lost) {
  emitter e = {0};
  rtcsec_d13_flight *f = &c->flight;
  for (size_t i = 0; i < f->n; i++) {
    rtcsec_d13_out_msg *m = &f->msgs[i];
    size_t a = 0;
    while (a < m->len) {
      while (a < m->len && !to_send(m, a, only_lost))
        a++;
      size_t b = a;
      while (b < m->len && to_send(m, b, only_lost))
        b++;
      if (a < b) {
        int rc = emit_range(c, &e, i, a, b);
        if (rc != RTCSEC_OK)
          return rc;
      }
      a = b;
    }
    memset(m->lost, 0, (m->len + 7) / 8);
  }
  return flush_datagram(c, &e);
}

int rtcsec_d13_conn_flight_send(rtcsec_d13_conn *c, uint64_t now) {
  int rc = emit_flight(c, 0);
  if (rc != RTCSEC_OK)
    return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  c->flight.active = 1;
  c->rto = c->cfg.rto_initial_us;
  c->retx_deadline = now + c->rto;
  return RTCSEC_OK;
}

static int retransmit(rtcsec_d13_conn *c, uint64_t now, int early) {
  int rc = emit_flight(c, early == 2);
  if (rc != RTCSEC_OK)
    return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  if (early == 2) {
    c->stats.fast_retransmissions++; /* selective: the timer keeps running */
    return RTCSEC_OK;
  }
  if (early) {
    c->stats.fast_retransmissions++;
    c->flight.early_retx_used = 1;
  } else {
    c->stats.retransmissions++;
    c->flight.early_retx_used = 0;
    c->rto = c->rto * 2 > c->cfg.rto_max_us ? c->cfg.rto_max_us : c->rto * 2;
  }
  c->retx_deadline = now + c->rto;
  return RTCSEC_OK;
}

static int start_key_update(rtcsec_d13_conn *c, int request, uint64_t now);

/* The whole flight is acknowledged (explicitly or by the peer's answer). */
static int flight_done(rtcsec_d13_conn *c, uint64_t now) {
  rtcsec_d13_flight *f = &c->flight;
  int was_ku = f->is_key_update && f->active;
  f->active = 0;
  c->retx_deadline = UINT64_MAX;
  if (was_ku) {
    /* RFC 9147 §8: the sending epoch moves on only once the KeyUpdate is
     * acknowledged. */
    f->is_key_update = 0;
    uint8_t next[RTCSEC_D13_MAX_HASH];
    int rc = rtcsec_traffic_update(c->cfg.suite->md(), c->prefix, c->w_secret, next);
    if (rc == RTCSEC_OK)
      rc = rtcsec_d13_conn_install(c, 1, c->w_app.epoch + 1, next);
    OPENSSL_cleanse(next, sizeof(next));
    if (rc != RTCSEC_OK)
      return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  }
  if (c->ku_wanted && c->state == RTCSEC_DTLS_STATE_CONNECTED) {
    int request = c->ku_wanted - 1;
    c->ku_wanted = 0;
    return start_key_update(c, request, now);
  }
  return RTCSEC_OK;
}

static void mark_acked(rtcsec_d13_out_msg *m, size_t off, size_t len, size_t *newly) {
  for (size_t i = off; i < off + len && i < m->len; i++) {
    if (!bit_get(m->acked, i)) {
      bit_set(m->acked, i);
      m->n_acked++;
      (*newly)++;
    }
  }
}

/* An authenticated ACK: record numbers of our flight's records the peer
 * has (RFC 9147 §7.2). */
static int handle_ack(rtcsec_d13_conn *c, const uint8_t *p, size_t len, uint64_t now) {
  rtcsec_rd r, list;
  rd_init(&r, p, len);
  if (!rd_vec(&r, 2, &list) || !rd_done(&r) || rd_left(&list) % 16 != 0)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
  c->stats.acks_received++;
  rtcsec_d13_flight *f = &c->flight;
  if (!f->active)
    return RTCSEC_OK;
  size_t newly = 0;
  uint64_t highest = 0;
  int any = 0;
  while (rd_left(&list) > 0) {
    uint64_t epoch = 0, seq = 0;
    rd_uint(&list, 8, &epoch);
    rd_uint(&list, 8, &seq);
    for (size_t k = 0; k < f->n_recs; k++) {
      rtcsec_d13_sent_rec *s = &f->recs[(f->rec_head + k) % RTCSEC_D13_SENT_RECORDS];
      if (s->epoch != epoch || s->seq != seq)
        continue;
      for (size_t j = 0; j < s->n; j++)
        mark_acked(&f->msgs[s->f[j].msg], s->f[j].off, s->f[j].len, &newly);
      s->done = 1;
      if (!any || s->order > highest)
        highest = s->order;
      any = 1;
    }
  }
  if (newly == 0)
    return RTCSEC_OK;
  f->any_acked = 1;
  int complete = 1;
  for (size_t i = 0; i < f->n; i++)
    complete &= f->msgs[i].n_acked == f->msgs[i].len;
  if (complete)
    return flight_done(c, now);
  /* Part of the flight is in (RFC 9147 §7.2): resend now what went out in
   * records the peer skipped (sent before one it acknowledged), each such
   * record once; what it may still be receiving waits for the timer. */
  int lost = 0;
  for (size_t k = 0; k < f->n_recs; k++) {
    rtcsec_d13_sent_rec *s = &f->recs[(f->rec_head + k) % RTCSEC_D13_SENT_RECORDS];
    if (s->done || s->order >= highest)
      continue;
    s->done = 1;
    for (size_t j = 0; j < s->n; j++) {
      rtcsec_d13_out_msg *m = &f->msgs[s->f[j].msg];
      for (size_t b = s->f[j].off; b < s->f[j].off + s->f[j].len && b < m->len; b++) {
        if (!bit_get(m->acked, b)) {
          bit_set(m->lost, b);
          lost = 1;
        }
      }
    }
  }
  return lost ? retransmit(c, now, 2) : RTCSEC_OK;
}

/* ---- receiving handshake messages ---------------------------------------------------------- */

static rtcsec_d13_in_msg *slot_of(rtcsec_d13_conn *c, uint16_t seq) {
  return &c->rx[seq % RTCSEC_D13_RX_SLOTS];
}

static int slot_start(rtcsec_d13_in_msg *s, uint8_t type, uint16_t seq, uint64_t epoch,
                      size_t len) {
  slot_clear(s);
  s->buf = malloc(len ? len : 1);
  s->filled = calloc(len ? (len + 7) / 8 : 1, 1);
  if (s->buf == NULL || s->filled == NULL) {
    slot_clear(s);
    return RTCSEC_ERR_NO_MEMORY;
  }
  s->used = 1;
  s->type = type;
  s->seq = seq;
  s->epoch = epoch;
  s->len = len;
  return RTCSEC_OK;
}

static size_t first_hole(const rtcsec_d13_in_msg *s) {
  size_t i = 0;
  while (i < s->len && bit_get(s->filled, i))
    i++;
  return i;
}

/* Buffers one fragment of a message at or after rx_next_seq. Returns 0,
 * 1 if the fragment was not taken, or a (sticky) error. *gap is set when it
 * is out of order (RFC 9147 §7.1: a reason to ACK at once). */
static int take_fragment(rtcsec_d13_conn *c, uint64_t epoch, uint8_t type, size_t len, uint16_t seq,
                         size_t off, const uint8_t *p, size_t n, int *gap) {
  rtcsec_d13_in_msg *s = slot_of(c, seq);
  if (s->used && s->epoch != epoch) {
    /* A protected fragment displaces unauthenticated ones, never the
     * other way round. */
    if (epoch < s->epoch)
      return 1;
    slot_clear(s);
  }
  int conflict = s->used && (s->type != type || s->len != len);
  for (size_t i = 0; s->used && !conflict && i < n; i++)
    conflict = bit_get(s->filled, off + i) && s->buf[off + i] != p[i];
  if (conflict) {
    /* RFC 9147 §5.5: changed bytes SHOULD abort the handshake. Only the
     * authenticated peer can be held to that; unauthenticated bytes are
     * replaced, last writer wins. */
    if (epoch != 0)
      return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    slot_clear(s);
  }
  if (!s->used) {
    int rc = slot_start(s, type, seq, epoch, len);
    if (rc != RTCSEC_OK)
      return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  }
  /* In order: at or before the first byte still missing across the
   * messages buffered so far. */
  uint16_t fseq = c->rx_next_seq;
  while (fseq != seq && slot_of(c, fseq)->used && slot_of(c, fseq)->seq == fseq &&
         slot_of(c, fseq)->received == slot_of(c, fseq)->len)
    fseq++;
  if (seq != fseq || off > first_hole(s))
    *gap = 1;
  for (size_t i = 0; i < n; i++) {
    if (!bit_get(s->filled, off + i)) {
      bit_set(s->filled, off + i);
      s->buf[off + i] = p[i];
      s->received++;
    }
  }
  return RTCSEC_OK;
}

static int handle_post_handshake(rtcsec_d13_conn *c, uint8_t type, const uint8_t *body, size_t len,
                                 uint64_t epoch, uint64_t now);

/* Hands every complete message at rx_next_seq to the role, in order. */
static int deliver(rtcsec_d13_conn *c, uint64_t now) {
  while (live(c)) {
    rtcsec_d13_in_msg *s = slot_of(c, c->rx_next_seq);
    if (!s->used || s->seq != c->rx_next_seq || s->received < s->len)
      return RTCSEC_OK;
    int connected = c->state == RTCSEC_DTLS_STATE_CONNECTED;
    uint64_t want = c->hs_rx_epoch;
    if ((!connected && s->epoch < want) || (connected && s->epoch < 3)) {
      /* Unauthenticated (or stale) bytes where protected ones belong: drop
       * them and wait for the real message. */
      slot_clear(s);
      return RTCSEC_OK;
    }
    if (!connected && s->epoch > want)
      return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
    rtcsec_d13_in_msg m = *s;
    memset(s, 0, sizeof(*s));
    c->rx_next_seq++;
    uint64_t gen = c->flight_gen;
    int rc = connected ? handle_post_handshake(c, m.type, m.buf, m.len, m.epoch, now)
                       : c->cfg.on_message(c->cfg.role, m.type, m.buf, m.len, m.epoch, now);
    slot_clear(&m);
    if (rc == RTCSEC_D13_IGNORED) {
      c->rx_next_seq--;
      c->stats.records_dropped++;
      return RTCSEC_OK;
    }
    if (rc != RTCSEC_OK)
      return rc;
    /* The message was accepted: it answers our flight, unless the role
     * already began a new one. */
    if (gen == c->flight_gen && c->flight.active && !c->flight.needs_ack) {
      rc = flight_done(c, now);
      if (rc != RTCSEC_OK)
        return rc;
    }
  }
  return c->error;
}

/* The handshake fragments of one record (plaintext epoch 0, or protected
 * and authenticated). */
static int handle_handshake(rtcsec_d13_conn *c, uint64_t epoch, uint64_t rseq, const uint8_t *p,
                            size_t len, uint64_t now) {
  rtcsec_rd r;
  rd_init(&r, p, len);
  int taken = 0, old = 0, gap = 0;
  int connected = c->state == RTCSEC_DTLS_STATE_CONNECTED;
  while (rd_left(&r) > 0) {
    uint8_t type = 0;
    uint32_t mlen = 0, off = 0, flen = 0;
    uint16_t seq = 0;
    const uint8_t *frag = NULL;
    rd_u8(&r, &type);
    rd_u24(&r, &mlen);
    rd_u16(&r, &seq);
    rd_u24(&r, &off);
    rd_u24(&r, &flen);
    int ok = rd_bytes(&r, flen, &frag) && off <= mlen && flen <= mlen - off &&
             mlen <= RTCSEC_D13_MAX_MSG;
    if (!ok) {
      /* Malformed framing: the authenticated peer broke the protocol;
       * unauthenticated bytes are just dropped. */
      if (epoch != 0)
        return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
      c->stats.records_dropped++;
      break;
    }
    /* RFC 8446 §5.1: a KeyUpdate precedes a key change and must end its
     * record. */
    if (type == RTCSEC_HS_KEY_UPDATE && epoch != 0 && rd_left(&r) > 0)
      return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
    if (seq < c->rx_next_seq) {
      old = 1; /* RFC 9147 §5.2: already processed: discard */
      continue;
    }
    if (seq >= c->rx_next_seq + RTCSEC_D13_RX_SLOTS || (!connected && epoch < c->hs_rx_epoch) ||
        (connected && epoch < 3))
      continue; /* not buffered, so not acknowledged (RFC 9147 §7) */
    int rc = take_fragment(c, epoch, type, mlen, seq, off, frag, flen, &gap);
    if (rc < 0)
      return rc;
    taken |= rc == 0;
  }
  if (taken) {
    c->hs_taken = 1;
    c->stats.records_received++;
    ack_add(c, epoch, rseq);
    /* RFC 9147 §7.2: a record of the peer's next flight implicitly
     * acknowledges the whole flight it answers. An unauthenticated one
     * proves nothing: epoch 0 counts only once its message is accepted
     * (deliver). */
    if (epoch != 0 && c->flight.active && !c->flight.needs_ack) {
      int rc = flight_done(c, now);
      if (rc != RTCSEC_OK)
        return rc;
    }
    if (gap)
      c->ack_now = 1;
  }
  if (old) {
    /* A retransmission of the peer's final (or post-handshake) flight:
     * our ACK was lost; ACK again (RFC 9147 §5.8.1, §7). */
    if (epoch != 0 && (c->acked_final || connected)) {
      ack_add(c, epoch, rseq);
      c->ack_now = 1;
    }
    /* A repeated flight of the peer while ours is unacknowledged: part of
     * ours was lost, send it now (RFC 9147 §5.8.1, case 3), once per timer
     * period since this may be unauthenticated. */
    rtcsec_d13_flight *f = &c->flight;
    if (f->active && !f->any_acked && !f->early_retx_used) {
      int rc = retransmit(c, now, 1);
      if (rc != RTCSEC_OK)
        return rc;
    }
  }
  return deliver(c, now);
}

static int start_key_update(rtcsec_d13_conn *c, int request, uint64_t now) {
  /* RFC 9147 §8: no new KeyUpdate before the previous one is acknowledged;
   * one flight at a time here. */
  if (c->flight.active) {
    if (c->ku_wanted < 1 + request)
      c->ku_wanted = 1 + request;
    return RTCSEC_OK;
  }
  /* RFC 9147 §8: the sending epoch never exceeds 2^48-1. */
  if (c->w_app.epoch + 1 >= (UINT64_C(1) << 48))
    return RTCSEC_OK;
  const uint8_t body[1] = {(uint8_t)request};
  rtcsec_d13_conn_flight_begin(c, 1);
  c->flight.is_key_update = 1;
  int rc = rtcsec_d13_conn_flight_add(c, RTCSEC_HS_KEY_UPDATE, body, 1, c->w_app.epoch);
  if (rc != RTCSEC_OK)
    return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  c->stats.key_updates_sent++;
  return rtcsec_d13_conn_flight_send(c, now);
}

int rtcsec_d13_conn_key_update(rtcsec_d13_conn *c, int request_update, uint64_t now) {
  if (c->state != RTCSEC_DTLS_STATE_CONNECTED)
    return c->state == RTCSEC_DTLS_STATE_FAILED ? c->error : RTCSEC_ERR_INVALID_STATE;
  return start_key_update(c, request_update ? 1 : 0, now);
}

/* RFC 8446 §4.6.3 / RFC 9147 §8: the peer's KeyUpdate. */
static int handle_key_update(rtcsec_d13_conn *c, const uint8_t *body, size_t len, uint64_t epoch,
                             uint64_t now) {
  if (len != 1)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
  if (body[0] > 1)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  /* It must come in the newest read epoch: a second one before ours was
   * used breaks RFC 9147 §8. */
  if (c->r_app[2].active || !c->r_app[1].active || epoch != c->r_app[1].epoch)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
  uint8_t next[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_traffic_update(c->cfg.suite->md(), c->prefix, c->r_secret, next);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(c, 0, epoch + 1, next);
  OPENSSL_cleanse(next, sizeof(next));
  if (rc != RTCSEC_OK)
    return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  c->stats.key_updates_received++;
  c->ack_now = 1; /* RFC 9147 §8: KeyUpdates MUST be acknowledged */
  if (body[0] == 1)
    return start_key_update(c, 0, now);
  return RTCSEC_OK;
}

static int handle_post_handshake(rtcsec_d13_conn *c, uint8_t type, const uint8_t *body, size_t len,
                                 uint64_t epoch, uint64_t now) {
  if (type == RTCSEC_HS_KEY_UPDATE)
    return handle_key_update(c, body, len, epoch, now);
  /* No tickets, no post-handshake authentication, no connection IDs. */
  return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
}

int rtcsec_d13_conn_ack_final(rtcsec_d13_conn *c, uint64_t now) {
  (void)now;
  c->acked_final = 1;
  return send_ack(c);
}

void rtcsec_d13_conn_connected(rtcsec_d13_conn *c, uint64_t now) {
  c->state = RTCSEC_DTLS_STATE_CONNECTED;
  c->stats.handshake_us = now - c->start_us;
}

/* ---- receiving records -------------------------------------------------------------------- */

/* RFC 8446 §6: an authenticated alert. */
static int handle_alert(rtcsec_d13_conn *c, const uint8_t *p, size_t len, uint64_t now) {
  if (len != 2)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
  uint8_t desc = p[1];
  if (desc == RTCSEC_ALERT_USER_CANCELED)
    return RTCSEC_OK;
  if (desc == RTCSEC_ALERT_CLOSE_NOTIFY) {
    /* RFC 8446 §6.1: answer with our own close_notify, then closed. */
    rtcsec_d13_conn_close(c, now);
    rtcsec_event ev = {.type = RTCSEC_EVENT_CLOSED};
    (void)rtcsec_d13_conn_push_event(c, &ev, NULL, 0);
    return RTCSEC_OK;
  }
  /* Every other alert is fatal in TLS 1.3, whatever its level. */
  c->alert = desc;
  c->alert_from_peer = 1;
  return rtcsec_d13_conn_fail(c, RTCSEC_ERR_PEER_ALERT, -1);
}

static int handle_content(rtcsec_d13_conn *c, uint64_t epoch, uint64_t seq, uint8_t type,
                          const uint8_t *p, size_t len, uint64_t now) {
  switch (type) {
  case RTCSEC_CT_HANDSHAKE:
    return handle_handshake(c, epoch, seq, p, len, now);
  case RTCSEC_CT_ALERT:
    c->stats.records_received++;
    return handle_alert(c, p, len, now);
  case RTCSEC_CT_ACK:
    c->stats.records_received++;
    return handle_ack(c, p, len, now);
  case RTCSEC_CT_APPLICATION_DATA:
    if (epoch < 3)
      return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
    if (c->state != RTCSEC_DTLS_STATE_CONNECTED) {
      /* RFC 9147 §5.8.1: data before the peer's Finished is discarded. */
      c->stats.records_dropped++;
      return RTCSEC_OK;
    }
    c->stats.records_received++;
    if (c->cfg.on_data != NULL) {
      c->cfg.on_data(c->cfg.role, p, len);
      return RTCSEC_OK;
    }
    rtcsec_event ev = {.type = RTCSEC_EVENT_DATA};
    if (rtcsec_d13_conn_push_event(c, &ev, p, len) != RTCSEC_OK)
      return rtcsec_d13_conn_fail(c, RTCSEC_ERR_NO_MEMORY, RTCSEC_ALERT_INTERNAL_ERROR);
    return RTCSEC_OK;
  default:
    /* RFC 8446 §5 / §5.4: an unknown type or a record of zeros only. */
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
  }
}

static int handle_plaintext(rtcsec_d13_conn *c, const rtcsec_d13_record *rec, uint64_t now) {
  if (rec->epoch != 0 || rec->body_len > RTCSEC_D13_MAX_PLAINTEXT) {
    c->stats.records_dropped++;
    return RTCSEC_OK;
  }
  switch (rec->type) {
  case RTCSEC_CT_HANDSHAKE:
    return handle_handshake(c, 0, rec->seq, rec->body, rec->body_len, now);
  case RTCSEC_CT_ACK: {
    /* Unauthenticated: at most a hint to retransmit early, and only while
     * the peer has no keys to protect its ACKs with. */
    rtcsec_d13_flight *f = &c->flight;
    if (!c->peer_protected && f->active && !f->any_acked && !f->early_retx_used)
      return retransmit(c, now, 1);
    c->stats.plaintext_ignored++;
    return RTCSEC_OK;
  }
  case RTCSEC_CT_ALERT:
    /* Nothing unauthenticated ends an association. */
    c->stats.plaintext_ignored++;
    if (c->cfg.on_plaintext_alert != NULL && rec->body_len == 2)
      c->cfg.on_plaintext_alert(c->cfg.role, rec->body[0], rec->body[1]);
    return RTCSEC_OK;
  default:
    c->stats.records_dropped++;
    return RTCSEC_OK;
  }
}

static int handle_protected(rtcsec_d13_conn *c, const rtcsec_d13_record *rec, uint64_t now) {
  rtcsec_d13_keys *k = read_keys(c, rec->epoch);
  if (k == NULL || rec->body_len > MAX_RECORD_BODY) {
    c->stats.records_dropped++;
    return RTCSEC_OK;
  }
  uint8_t pt[MAX_RECORD_BODY];
  size_t len = 0;
  uint8_t type = 0;
  uint64_t seq = 0;
  int rc = rtcsec_d13_open(k, rec, pt, sizeof(pt), &len, &type, &seq);
  if (rc != RTCSEC_OK) {
    if (rc == 1) {
      c->stats.records_replayed++;
    } else {
      c->stats.records_dropped++;
      c->stats.records_unopened++;
    }
    /* RFC 9147 §4.5.3: count failures per key; ask for new keys before the
     * limit, stop using these at it. */
    if (k->failures >= RTCSEC_D13_FAIL_LIMIT)
      rtcsec_d13_keys_clear(k);
    else if (k->failures >= RTCSEC_D13_FAIL_REKEY && k == &c->r_app[1] && !c->ku_for_failures &&
             c->state == RTCSEC_DTLS_STATE_CONNECTED) {
      c->ku_for_failures = 1;
      return start_key_update(c, 1, now);
    }
    return RTCSEC_OK;
  }
  uint64_t epoch = k->epoch;
  c->peer_protected = 1;
  if (c->state == RTCSEC_DTLS_STATE_CONNECTED)
    c->stats.records_authenticated++;
  if (k == &c->r_app[2])
    rotate_read(c);
  rc = handle_content(c, epoch, seq, type, pt, len, now);
  OPENSSL_cleanse(pt, len + 1);
  return rc;
}

int rtcsec_d13_conn_handle_datagram(rtcsec_d13_conn *c, const uint8_t *data, size_t len,
                                    uint64_t now) {
  if (!live(c)) {
    c->stats.records_dropped++;
    return c->state == RTCSEC_DTLS_STATE_FAILED ? c->error : RTCSEC_ERR_CLOSED;
  }
  c->stats.datagrams_received++;
  c->stats.bytes_received += len;
  c->responded = 0;
  c->hs_taken = 0;
  size_t off = 0;
  rtcsec_d13_record rec;
  int r;
  while (live(c) && (r = rtcsec_d13_next_record(data, len, &off, &rec)) != 0) {
    if (r < 0) {
      c->stats.records_dropped++;
      break; /* the rest of the datagram cannot be framed */
    }
    int rc = rec.protected_ ? handle_protected(c, &rec, now) : handle_plaintext(c, &rec, now);
    if (rc < 0)
      break;
  }
  if (!live(c))
    return c->state == RTCSEC_DTLS_STATE_FAILED ? c->error : RTCSEC_OK;
  if (c->ack_now && c->n_acks > 0) {
    int rc = send_ack(c);
    if (rc != RTCSEC_OK)
      return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  } else if (c->hs_taken && !c->responded && c->ack_deadline == UINT64_MAX && handshaking(c)) {
    /* Part of the peer's flight is in and nothing answers it yet: ACK
     * after a quarter of the timer unless the rest comes (RFC 9147 §7.1). */
    c->ack_deadline = now + c->rto / 4;
  }
  return RTCSEC_OK;
}

int rtcsec_d13_conn_handle_timeout(rtcsec_d13_conn *c, uint64_t now) {
  if (c->state == RTCSEC_DTLS_STATE_FAILED)
    return c->error;
  if (!live(c))
    return RTCSEC_OK;
  uint64_t hs_end = c->start_us + c->cfg.handshake_timeout_us;
  if (handshaking(c) && now >= hs_end)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_HANDSHAKE_TIMEOUT, -1);
  if (now >= c->ack_deadline && c->n_acks > 0) {
    int rc = send_ack(c);
    if (rc != RTCSEC_OK)
      return rtcsec_d13_conn_fail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  }
  c->ack_deadline = now >= c->ack_deadline ? UINT64_MAX : c->ack_deadline;
  if (c->flight.active && now >= c->retx_deadline) {
    /* The last handshake flight (a client's) is not retransmitted past the
     * handshake time limit; post-handshake flights go on at the cap. */
    if (c->flight.needs_ack && !c->flight.is_key_update && now >= hs_end) {
      c->flight.active = 0;
      c->retx_deadline = UINT64_MAX;
      return RTCSEC_OK;
    }
    return retransmit(c, now, 0);
  }
  return RTCSEC_OK;
}

uint64_t rtcsec_d13_conn_deadline(const rtcsec_d13_conn *c) {
  if (!live(c))
    return UINT64_MAX;
  uint64_t t = c->ack_deadline;
  if (c->flight.active && c->retx_deadline < t)
    t = c->retx_deadline;
  uint64_t hs_end = c->start_us + c->cfg.handshake_timeout_us;
  if (handshaking(c) && hs_end < t)
    t = hs_end;
  return t;
}

int rtcsec_d13_conn_poll_datagram(rtcsec_d13_conn *c, uint8_t *buf, size_t cap, size_t *len) {
  *len = 0;
  const rtcsec_dgram *head = rtcsec_dgram_queue_peek(&c->out);
  if (head == NULL)
    return RTCSEC_OK;
  if (head->len > cap)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  rtcsec_dgram g;
  rtcsec_dgram_queue_pop(&c->out, &g);
  memcpy(buf, g.data, g.len);
  *len = g.len;
  c->stats.datagrams_sent++;
  c->stats.bytes_sent += g.len;
  free(g.data);
  return RTCSEC_OK;
}

size_t rtcsec_d13_conn_max_payload(const rtcsec_d13_conn *c) {
  size_t room = c->cfg.mtu - RTCSEC_D13_OVERHEAD - c->cfg.seal_pad;
  return room > RTCSEC_D13_MAX_PLAINTEXT ? RTCSEC_D13_MAX_PLAINTEXT : room;
}

int rtcsec_d13_conn_send(rtcsec_d13_conn *c, const uint8_t *data, size_t len, uint64_t now) {
  if (c->state == RTCSEC_DTLS_STATE_FAILED)
    return c->error;
  if (c->state != RTCSEC_DTLS_STATE_CONNECTED || !c->w_app.active)
    return RTCSEC_ERR_INVALID_STATE;
  if (len > rtcsec_d13_conn_max_payload(c))
    return RTCSEC_ERR_TOO_LARGE;
  /* RFC 8446 §5.5: AES-GCM protects at most 2^24.5 records per key. Rekey
   * early; never send past the limit. */
  if (c->w_app.records >= RTCSEC_D13_SEND_LIMIT)
    return rtcsec_d13_conn_fail(c, RTCSEC_ERR_KEY_EXHAUSTED, -1);
  if (c->w_app.records >= RTCSEC_D13_REKEY_AFTER && !c->flight.is_key_update) {
    int rc = start_key_update(c, 0, now);
    if (rc != RTCSEC_OK)
      return rc;
  }
  size_t n = 0;
  uint64_t seq;
  int rc = put_record(c, c->w_app.epoch, RTCSEC_CT_APPLICATION_DATA, data, len, c->tx_buf,
                      c->cfg.mtu, &n, &seq);
  if (rc == RTCSEC_OK)
    rc = queue_datagram(c, c->tx_buf, n);
  if (rc != RTCSEC_OK)
    return rtcsec_d13_conn_fail(c, rc, -1);
  return RTCSEC_OK;
}

int rtcsec_d13_conn_close(rtcsec_d13_conn *c, uint64_t now) {
  (void)now;
  if (!live(c))
    return RTCSEC_OK;
  if (c->state == RTCSEC_DTLS_STATE_CONNECTED)
    send_alert(c, RTCSEC_ALERT_LEVEL_WARNING, RTCSEC_ALERT_CLOSE_NOTIFY);
  c->state = RTCSEC_DTLS_STATE_CLOSED;
  c->flight.active = 0;
  c->retx_deadline = UINT64_MAX;
  c->ack_deadline = UINT64_MAX;
  /* Nothing is sealed or opened after close (the close_notify is already
   * sealed in its datagram): the record keys go now, not at free. */
  rtcsec_d13_conn_wipe_keys(c);
  return RTCSEC_OK;
}
