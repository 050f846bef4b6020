/* librtcsec-datachannel internals: the association's state and the
 * process-wide usrsctp environment. Never installed; tests and fuzz
 * targets may use the hooks at the end. */
#ifndef RTCSEC_DC_INTERNAL_H
#define RTCSEC_DC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rtcsec/datachannel.h"

struct socket; /* usrsctp */

/* A message rtcsec_dc_send() could not hand to SCTP at once. */
typedef struct dc_msg {
  struct dc_msg *next;
  uint32_t ppid;
  int unordered;
  int counted;     /* application data: part of the buffered amount (not DCEP) */
  size_t len, off; /* off: bytes SCTP has taken */
  uint8_t data[];
} dc_msg;

typedef struct dc_channel {
  uint16_t id;
  rtcsec_dc_channel_state state;
  uint8_t negotiated, ordered;
  uint8_t local; /* we opened it */
  uint8_t acked; /* RFC 8832 §6: ACK or any message received */
  uint8_t reset_out_requested, reset_out_done, reset_in_done;
  uint8_t ev_open, ev_low, ev_closed; /* events to report */
  uint8_t in_dirty, in_sendable;
  rtcsec_channel_reliability reliability;
  uint32_t reliability_param;
  uint16_t priority;
  char *label, *protocol; /* one allocation; protocol follows label's NUL */
  dc_msg *q_head, *q_tail;
  size_t buffered, low_threshold;
  struct dc_channel *dirty_next, *send_next;
  /* The deprecated partial PPIDs 52/54 (RFC 8831 §8): pieces so far. */
  uint8_t *legacy;
  size_t legacy_len, legacy_cap;
  uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
  uint64_t drop_too_large, drop_unknown_ppid;
} dc_channel;

/* A message that SCTP hands over in pieces (larger than the receive
 * buffer, or partially delivered); with fragment interleave level 2 pieces
 * of several streams can alternate. */
typedef struct dc_asm {
  uint16_t sid;
  uint32_t ppid;
  int discard; /* too large, unknown or no room: skip to its end */
  uint8_t *buf;
  size_t len, cap;
} dc_asm;

struct rtcsec_dc {
  rtcsec_dc_config cfg;
  uintptr_t handle; /* the AF_CONN address usrsctp knows us by */
  struct socket *sock;
  rtcsec_dc_state state;
  int error;
  int started;
  int transport_gone; /* DTLS is gone: output is discarded */
  int close_requested;
  int shutdown_sent;
  int ev_connected, ev_final; /* association events to report */
  rtcsec_connected_info dtls; /* given to rtcsec_dc_start(), repeated in CONNECTED */
  int woken;
  int interleaving;
  uint16_t streams_out, streams_in;
  uint64_t last_now;
  uint64_t sack_until; /* a SACK may be owed until then */
  int busy;
  /* outgoing packets */
  uint8_t **q_slot;
  uint16_t *q_len;
  size_t q_cap, q_head, q_count;
  /* channels by stream id (cfg.max_streams entries) */
  dc_channel **chan;
  size_t n_channels, n_closing;
  uint8_t *rejected; /* bitmap: outgoing reset sent for a refused OPEN */
  dc_channel *dirty_head, *dirty_tail;
  dc_channel *send_head, *send_tail;
  int locked_sid; /* without I-DATA: the stream of a half-sent message */
  size_t buffered_total;
  /* receiving */
  uint8_t *rbuf;
  size_t rbuf_cap;
  dc_asm *asms;
  size_t n_asms, cap_asms, asm_bytes;
  uint8_t *release; /* a delivered message's buffer, freed at the next poll */
  rtcsec_dc_stats st;
};

/* ---- shared by the association's files ------------------------------------- */

/* In usrsctp 0.9.5.0's netinet/sctp.h, not in its installed usrsctp.h. */
#ifndef SCTP_INTERLEAVING_SUPPORTED
#define SCTP_INTERLEAVING_SUPPORTED 0x00001206
#endif
#define SCTP_COMMON_HEADER 12u

static inline int dc_is_ended(const rtcsec_dc *dc) {
  return dc->state == RTCSEC_DC_STATE_CLOSED || dc->state == RTCSEC_DC_STATE_FAILED;
}

/* RFC 8832 §6: the DTLS client uses even stream ids, the server odd. */
static inline int dc_our_parity(const rtcsec_dc *dc, uint16_t id) {
  return (id & 1u) == (dc->cfg.dtls_role == RTCSEC_DTLS_CLIENT ? 0u : 1u);
}

/* Ids usable now: what was offered before the association is up, what
 * both sides agreed after (a channel needs both directions of its id). */
static inline uint32_t dc_usable_streams(const rtcsec_dc *dc) {
  if (dc->state == RTCSEC_DC_STATE_NEW || dc->state == RTCSEC_DC_STATE_CONNECTING)
    return dc->cfg.max_streams;
  return dc->streams_out < dc->streams_in ? dc->streams_out : dc->streams_in;
}

/* dc.c: the association */
void dc_set_state(rtcsec_dc *dc, rtcsec_dc_state s, int error);
void dc_enter_at(rtcsec_dc *dc, uint64_t now);
void dc_leave_at(rtcsec_dc *dc, uint64_t now);
void dc_maybe_shutdown(rtcsec_dc *dc);

/* dc_channel.c: the channel table, opening, closing */
void dc_mark_dirty(rtcsec_dc *dc, dc_channel *ch);
dc_channel *dc_channel_new(rtcsec_dc *dc, uint16_t id, const char *label, size_t label_len,
                           const char *protocol, size_t protocol_len);
void dc_channel_free(dc_channel *ch);
void dc_channel_closed(rtcsec_dc *dc, dc_channel *ch);
void dc_close_all_channels(rtcsec_dc *dc);
void dc_activate(rtcsec_dc *dc, dc_channel *ch);
void dc_request_reset(rtcsec_dc *dc, uint16_t sid);
void dc_maybe_reset(rtcsec_dc *dc, dc_channel *ch);
void dc_start_closing(rtcsec_dc *dc, dc_channel *ch);

/* dc_send.c: packets out, message queues */
void dc_out_clear(rtcsec_dc *dc);
void dc_mark_sendable(rtcsec_dc *dc, dc_channel *ch);
void dc_drop_queue(rtcsec_dc *dc, dc_channel *ch);
/* Appends a message to the channel's queue. The DCEP OPEN and ACK are the
 * first message of a channel just made, so they lead its queue. */
int dc_enqueue(rtcsec_dc *dc, dc_channel *ch, uint32_t ppid, int unordered, const uint8_t *d,
               size_t len);
void dc_flush(rtcsec_dc *dc);
/* bytes taken, -EWOULDBLOCK without room, another negative errno if refused */
ssize_t dc_sctp_send(rtcsec_dc *dc, dc_channel *ch, uint16_t sid, uint32_t ppid, int unordered,
                     const uint8_t *d, size_t len);

/* dc_recv.c: events */
int dc_has_events(const rtcsec_dc *dc);

/* ---- the process-wide usrsctp environment (env.c) ------------------------- */

/* Starts usrsctp once per process (no threads). RTCSEC_OK or
 * RTCSEC_ERR_DC_SCTP. */
int dc_env_init(void);
/* The lock every call that enters usrsctp holds; `dc` becomes the current
 * association (packets and readiness for others wake them). */
void dc_env_enter(rtcsec_dc *dc);
void dc_env_leave(void);
/* Moves the shared SCTP clock to `now` (whole milliseconds, forwards
 * only), running every association's due timers. Under the lock. */
void dc_env_advance(uint64_t now);
/* The shared clock in microseconds (0 before the first call). */
uint64_t dc_env_clock(void);
/* A handle for usrsctp's AF_CONN address of dc; 0 if out of memory. */
uintptr_t dc_env_register(rtcsec_dc *dc);
void dc_env_unregister(uintptr_t handle);

/* Called by env.c for usrsctp's callbacks (under the lock). */
void dc_on_output(rtcsec_dc *dc, const uint8_t *p, size_t len);
void dc_on_upcall(rtcsec_dc *dc);
/* Calls dc's wake callback once until its next call (under the lock). */
void dc_env_wake(rtcsec_dc *dc);
/* 1 if dc is the association whose call is running. */
int dc_env_is_current(const rtcsec_dc *dc);

/* ---- hooks for tests and fuzz targets -------------------------------------- */

/* Sends one message of any PPID on stream sid, bypassing every check (a
 * misbehaving peer). Returns bytes taken by SCTP or a negative error. */
int rtcsec_dc_test_send_raw(rtcsec_dc *dc, uint16_t sid, uint32_t ppid, const uint8_t *d,
                            size_t len, int unordered);
/* Forgets the shared clock, so that a run that starts its time again from
 * the same value replays (fuzz targets). Under no lock; no association may
 * be in use. */
void rtcsec_dc_test_reset_clock(void);
/* For replaying recorded SCTP exchanges (fuzz targets, their seeds): the
 * clock is forgotten as above, handles start again from the first (only
 * when no association exists: RTCSEC_ERR_INVALID_STATE otherwise), and
 * usrsctp keeps no verification tag in TIME-WAIT, so the association
 * created next gets the same handle and, with the same random bytes, the
 * same tags and TSNs as in the recording. */
int rtcsec_dc_test_for_replay(void);

#endif
