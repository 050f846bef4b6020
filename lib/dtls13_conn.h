/* Internal: the role-neutral part of a DTLS 1.3 association: keys per
 * epoch, the handshake transport of RFC 9147 §5 (message_seq, fragments,
 * reassembly, flights, timers), ACKs (§7), KeyUpdate (§8), alerts,
 * application data and the event queue. A role (the server in
 * dtls13_server.c, the test client in tests/support) owns one, answers the
 * complete handshake messages it delivers, and tells it which keys and
 * which flight come next.
 *
 * Rules kept here for every role:
 *   - Nothing unauthenticated has power: plaintext alerts are counted and
 *     ignored, a plaintext ACK can at most bring a retransmission forward
 *     (once per timer period) and only before the peer has sent a protected
 *     record, unauthenticated handshake fragments never displace
 *     authenticated ones, records that do not deprotect are dropped
 *     silently (RFC 9147 §4.5.2).
 *   - Sans-IO: datagrams out through a queue, events through a queue, one
 *     deadline; `now` in microseconds on every call that may act on time.
 * Not installed. */
#ifndef RTCSEC_DTLS13_CONN_H
#define RTCSEC_DTLS13_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "dtls13_record.h"
#include "dtls_bio.h"
#include "rtcsec/dtls.h"
#include "rtcsec/event.h"

#define RTCSEC_D13_FLIGHT_MSGS 8
#define RTCSEC_D13_SENT_RECORDS 64
#define RTCSEC_D13_RECORD_FRAGS 8
#define RTCSEC_D13_RX_SLOTS 8 /* messages buffered ahead of the next expected one */
#define RTCSEC_D13_MAX_MSG (16 * 1024)
#define RTCSEC_D13_MAX_ACKS 32
#define RTCSEC_D13_HS_HDR 12    /* DTLS handshake header (RFC 9147 §5.2) */
#define RTCSEC_D13_OUT_MAX 4096 /* datagrams waiting to be polled */

/* RFC 8446 §5.5 / RFC 9147 §4.5.3 limits for AES-GCM: rekey well before
 * 2^24.5 records; refuse to send past 2^24; rekey when 2^35 records failed
 * to authenticate, stop using keys at 2^36. */
#define RTCSEC_D13_REKEY_AFTER (UINT64_C(1) << 23)
#define RTCSEC_D13_SEND_LIMIT (UINT64_C(1) << 24)
#define RTCSEC_D13_FAIL_REKEY (UINT64_C(1) << 35)
#define RTCSEC_D13_FAIL_LIMIT (UINT64_C(1) << 36)

/* A complete handshake message, in order, in the epoch the role expects.
 * Returns 0 to go on; RTCSEC_D13_IGNORED to drop an unauthenticated
 * message that proves nothing (its message_seq stays expected, so the
 * genuine one still gets through); a role that fails the association
 * calls rtcsec_d13_conn_fail() and returns its error. */
#define RTCSEC_D13_IGNORED 1
typedef int (*rtcsec_d13_on_message)(void *role, uint8_t type, const uint8_t *body, size_t len,
                                     uint64_t epoch, uint64_t now);

typedef struct rtcsec_d13_conn_config {
  size_t mtu;
  uint64_t rto_initial_us, rto_max_us, handshake_timeout_us;
  const rtcsec_d13_suite *suite; /* may be set later, before any key */
  rtcsec_d13_on_message on_message;
  void *role;
  /* Record form (tests): RTCSEC_D13_SEAL_SEQ8 for 8-bit sequence numbers,
   * and zero padding per protected record. Default 0: 16-bit, no padding. */
  unsigned seal_flags;
  size_t seal_pad;
  /* Optional: a plaintext alert arrived (and was ignored). */
  void (*on_plaintext_alert)(void *role, int level, int desc);
  /* Optional: application data goes here (valid during the call) instead
   * of into a DATA event. */
  void (*on_data)(void *role, const uint8_t *data, size_t len);
} rtcsec_d13_conn_config;

typedef struct rtcsec_d13_stats {
  uint64_t datagrams_sent, bytes_sent;
  uint64_t datagrams_received, bytes_received;
  uint64_t retransmissions;      /* timer-driven flight retransmissions */
  uint64_t fast_retransmissions; /* on a partial ACK or the peer's repeated flight */
  uint64_t records_received;     /* records accepted (authenticated, or epoch-0 handshake) */
  uint64_t records_dropped;      /* malformed, failed deprotection, no keys, wrong epoch */
  uint64_t records_unopened;     /* of those: protected under keys we have, did not open */
  uint64_t records_replayed;
  uint64_t records_authenticated; /* protected records that opened once connected */
  uint64_t plaintext_ignored;     /* plaintext alerts and ACKs given no power */
  uint64_t acks_sent, acks_received;
  uint64_t key_updates_sent, key_updates_received;
  uint64_t handshake_us; /* start to connected */
} rtcsec_d13_stats;

typedef struct rtcsec_d13_out_msg {
  uint8_t type;
  uint16_t seq;
  uint64_t epoch;
  uint8_t *body;
  size_t len;
  uint8_t *acked; /* one bit per body byte */
  size_t n_acked;
  uint8_t *lost; /* one bit per body byte: in a record the peer skipped */
} rtcsec_d13_out_msg;

typedef struct rtcsec_d13_frag_ref {
  uint8_t msg;
  uint32_t off, len;
} rtcsec_d13_frag_ref;

typedef struct rtcsec_d13_sent_rec {
  uint64_t epoch, seq;
  uint64_t order; /* sending order within the flight */
  int done;       /* acknowledged, or already declared lost */
  uint8_t n;
  rtcsec_d13_frag_ref f[RTCSEC_D13_RECORD_FRAGS];
} rtcsec_d13_sent_rec;

typedef struct rtcsec_d13_flight {
  rtcsec_d13_out_msg msgs[RTCSEC_D13_FLIGHT_MSGS];
  size_t n;
  rtcsec_d13_sent_rec recs[RTCSEC_D13_SENT_RECORDS]; /* ring of the last records sent */
  size_t rec_head, n_recs;
  uint64_t next_order;
  int active;          /* something was sent and is not yet acknowledged */
  int needs_ack;       /* no flight answers it: only an ACK ends it (RFC 9147 §5.8) */
  int is_key_update;   /* ours: switch the sending epoch once acknowledged */
  int any_acked;       /* an ACK covered part of it */
  int early_retx_used; /* one retransmission brought forward per timer period */
} rtcsec_d13_flight;

typedef struct rtcsec_d13_in_msg {
  int used;
  uint8_t type;
  uint16_t seq;
  uint64_t epoch;
  size_t len, received;
  uint8_t *buf;
  uint8_t *filled; /* one bit per byte */
} rtcsec_d13_in_msg;

typedef struct rtcsec_d13_rn {
  uint64_t epoch, seq;
} rtcsec_d13_rn;

typedef struct rtcsec_d13_event rtcsec_d13_event;

typedef struct rtcsec_d13_conn {
  rtcsec_d13_conn_config cfg;
  rtcsec_dtls_state state;
  int error, alert, alert_from_peer;
  uint64_t start_us;
  const char *prefix; /* HKDF label prefix: "dtls13" */

  /* sending */
  uint64_t plain_seq; /* epoch 0 record sequence numbers */
  rtcsec_d13_keys w_hs;
  rtcsec_d13_keys w_app;
  uint8_t w_secret[RTCSEC_D13_MAX_HASH]; /* w_app's traffic secret, for KeyUpdate */
  uint64_t w_epoch;                      /* highest sending epoch */

  /* receiving */
  rtcsec_d13_keys r_hs;
  rtcsec_d13_keys r_app[3];              /* previous, current, next application epoch */
  uint8_t r_secret[RTCSEC_D13_MAX_HASH]; /* the newest read secret installed */
  uint64_t hs_rx_epoch;                  /* handshake messages are accepted in this epoch */
  int peer_protected;                    /* a protected record of the peer authenticated */

  /* handshake messages */
  uint16_t tx_msg_seq;
  rtcsec_d13_flight flight;
  uint64_t flight_gen; /* flights begun */
  uint16_t rx_next_seq;
  rtcsec_d13_in_msg rx[RTCSEC_D13_RX_SLOTS];
  rtcsec_d13_rn acks[RTCSEC_D13_MAX_ACKS];
  size_t n_acks;
  int acked_final; /* the peer's final flight is in: re-ACK its retransmissions */
  int ack_now;
  int responded; /* the role began a flight while a datagram was processed */
  int hs_taken;  /* a handshake fragment was buffered from that datagram */
  uint64_t ack_deadline, retx_deadline, rto;
  int ku_wanted;       /* a KeyUpdate of ours waits for the flight slot (1 + request) */
  int ku_for_failures; /* asked the peer to rekey because of failed records */

  uint8_t *tx_buf;  /* mtu bytes: the datagram being built */
  uint8_t *rec_buf; /* mtu bytes: the record content being built */

  rtcsec_dgram_queue out;
  rtcsec_d13_event *ev_head, *ev_tail, *ev_last;
  rtcsec_d13_stats stats;
} rtcsec_d13_conn;

/* Starts the handshake clock at `now`. Returns 0 or RTCSEC_ERR_INVALID_ARGUMENT. */
int rtcsec_d13_conn_init(rtcsec_d13_conn *c, const rtcsec_d13_conn_config *cfg, uint64_t now);
/* Frees everything and wipes every key. */
void rtcsec_d13_conn_clear(rtcsec_d13_conn *c);

/* Installs the keys of `epoch` (2: handshake, >= 3: application) from a
 * traffic secret. Write keys of a higher epoch become the sending epoch for
 * alerts and ACKs; read keys of an application epoch become the current
 * read epoch, or the next one if there is a current one. */
int rtcsec_d13_conn_install(rtcsec_d13_conn *c, int write, uint64_t epoch, const uint8_t *secret);

/* Handshake messages are accepted in `epoch` from now on. */
void rtcsec_d13_conn_expect(rtcsec_d13_conn *c, uint64_t epoch);

/* A new outgoing flight: the previous one is over (answered), the ACK state
 * of the peer's flight is cleared (RFC 9147 §7). needs_ack: nothing will
 * answer it, only an ACK ends it. */
void rtcsec_d13_conn_flight_begin(rtcsec_d13_conn *c, int needs_ack);
/* Adds a message (body copied) with the next message_seq, sent in `epoch`. */
int rtcsec_d13_conn_flight_add(rtcsec_d13_conn *c, uint8_t type, const uint8_t *body, size_t len,
                               uint64_t epoch);
/* Sends the flight and arms the retransmission timer. */
int rtcsec_d13_conn_flight_send(rtcsec_d13_conn *c, uint64_t now);

/* The peer's final flight is complete: ACK it now and re-ACK any
 * retransmission of it later (RFC 9147 §5.8.1, §7). */
int rtcsec_d13_conn_ack_final(rtcsec_d13_conn *c, uint64_t now);

/* The handshake is complete: state CONNECTED, handshake timer off. */
void rtcsec_d13_conn_connected(rtcsec_d13_conn *c, uint64_t now);

/* Fails the association with a sticky error; sends a fatal alert (if
 * alert >= 0) under the highest sending epoch, then wipes every key
 * (rtcsec_d13_conn_wipe_keys); queues a FAILED event. Returns error. */
int rtcsec_d13_conn_fail(rtcsec_d13_conn *c, int error, int alert);
/* Frees every record key and wipes the traffic secrets: nothing can be
 * sealed or opened afterwards (the keys of every epoch are inactive). */
void rtcsec_d13_conn_wipe_keys(rtcsec_d13_conn *c);

int rtcsec_d13_conn_handle_datagram(rtcsec_d13_conn *c, const uint8_t *data, size_t len,
                                    uint64_t now);
int rtcsec_d13_conn_handle_timeout(rtcsec_d13_conn *c, uint64_t now);
uint64_t rtcsec_d13_conn_deadline(const rtcsec_d13_conn *c);
int rtcsec_d13_conn_poll_datagram(rtcsec_d13_conn *c, uint8_t *buf, size_t cap, size_t *len);

/* Events: the role queues CONNECTED; the core queues DATA, CLOSED and
 * FAILED. A polled DATA event's data stays valid until the next poll. */
int rtcsec_d13_conn_push_event(rtcsec_d13_conn *c, const rtcsec_event *ev, const uint8_t *data,
                               size_t len);
int rtcsec_d13_conn_poll_event(rtcsec_d13_conn *c, rtcsec_event *ev);

/* Application data: one record, one datagram. RTCSEC_ERR_INVALID_STATE,
 * RTCSEC_ERR_TOO_LARGE, RTCSEC_ERR_KEY_EXHAUSTED (sticky). */
int rtcsec_d13_conn_send(rtcsec_d13_conn *c, const uint8_t *data, size_t len, uint64_t now);
/* Largest application payload that fits one datagram. */
size_t rtcsec_d13_conn_max_payload(const rtcsec_d13_conn *c);

/* close_notify (RFC 8446 §6.1), then CLOSED. */
int rtcsec_d13_conn_close(rtcsec_d13_conn *c, uint64_t now);

/* Sends a KeyUpdate (RFC 8446 §4.6.3, RFC 9147 §8) once no other flight
 * is outstanding; the sending epoch moves on once it is acknowledged. */
int rtcsec_d13_conn_key_update(rtcsec_d13_conn *c, int request_update, uint64_t now);

#endif
