/* rtcsec: WebRTC data channels (librtcsec-datachannel).
 *
 * One rtcsec_dc is one SCTP association (RFC 4960) carried as DTLS
 * application data (RFC 8261): the data channels of one peer connection.
 * Channels are opened with DCEP (RFC 8832) or pre-agreed ("negotiated"),
 * carry string and binary messages (RFC 8831 §6.6), reliable or partially
 * reliable (RFC 3758), ordered or not, and close by resetting their SCTP
 * streams (RFC 6525). The SCTP stack is usrsctp; none of its types appear
 * here.
 *
 * Sans-IO, like the rest of rtcsec: the association never touches a
 * socket or a clock. The embedder moves SCTP packets between it and the
 * DTLS association that carries them, passes `now` (monotonic
 * microseconds) to every call that can send or decide on time, and calls
 * rtcsec_dc_handle_timeout() at rtcsec_dc_deadline().
 *
 * The embedder's loop (rtcsec_dc_pump() does steps 4-5, and
 * rtcsec_dc_pump_transport() for an rtcsec_transport):
 *   1. rtcsec_dc_new() with the DTLS role of the transport and the SCTP
 *      ports and max-message-size from the SDP (helpers at the end).
 *      Channels may be opened already (rtcsec_dc_open_channel()).
 *   2. When DTLS reports CONNECTED: rtcsec_dc_start() with its payload.
 *   3. Each DTLS application-data record: rtcsec_dc_handle_datagram().
 *   4. After every call on the association (and after the wake callback):
 *      rtcsec_dc_poll_event() until RTCSEC_EVENT_NONE, then
 *      rtcsec_dc_poll_datagram() until it gives nothing, handing each packet
 *      to DTLS as one application-data record.
 *   5. At rtcsec_dc_deadline(): rtcsec_dc_handle_timeout(), then step 4.
 *   6. DTLS closed or failed: rtcsec_dc_transport_closed(), then step 4
 *      (CHANNEL_CLOSED for each channel, then CLOSED).
 * For a clean end, rtcsec_dc_close() first (SCTP SHUTDOWN), wait for
 * CLOSED, then close DTLS.
 *
 * Process-wide state and threads. usrsctp is one stack per process: one
 * packet-output callback, one timer list and one clock for every
 * association. librtcsec-datachannel owns it: the application must not
 * call usrsctp itself. It starts usrsctp once, on the first rtcsec_dc_new,
 * with usrsctp_init_nothreads (no timer thread, no receive threads) and
 * never stops it. usrsctp 0.9.5.0 still starts one thread of its own, its
 * "SCTP iterator": it sleeps on a condition variable and is woken only for
 * address-change and send-to-all work, which AF_CONN associations without
 * ASCONF never queue; it never calls back into rtcsec.
 * Every rtcsec_dc call that can enter usrsctp takes one
 * process-wide lock, so the data-channel associations of a process run
 * one at a time (at most one core between them; an SFU that needs more
 * runs more processes). Different associations may be used from different
 * threads; one association from one thread at a time.
 *
 * Time. usrsctp's timers are process-wide and it offers no "next expiry":
 * each call's `now` advances one shared SCTP clock (in whole milliseconds,
 * never backwards), and that runs every association's due timers. So all
 * associations of a process must be given times from the same monotonic
 * clock. rtcsec_dc_deadline() is a tick: `tick_ms` (default 10 ms, the
 * period of usrsctp's own timer thread) after the shared clock while the
 * association has something that a timer will act on (handshake, unacked
 * or unsent data, a stream reset, a SACK owed, shutdown); `idle_tick_ms`
 * (default 1 s) after its last call when it is idle (heartbeats). A call on
 * one association can run another's timers: what that produces waits in
 * the other's queues, its deadline becomes "now", and its `wake` callback
 * (optional) is called. usrsctp also reads gettimeofday() for its RTT
 * estimate; the test suite's fake clock replaces it
 * (tests/support/fakeclock.c).
 *
 * Allocation: receiving a packet and receiving a message allocate nothing
 * and copy nothing in this library (usrsctp copies each packet into its
 * own buffers and each message into the association's receive buffer); a
 * message larger than the receive buffer (cfg.receive_buffer) is assembled
 * in a buffer of its own. Sending copies a message only when SCTP cannot
 * take it at once (it is queued; see rtcsec_dc_buffered_amount()).
 */
#ifndef RTCSEC_DATACHANNEL_H
#define RTCSEC_DATACHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/error.h"
#include "rtcsec/event.h"
#include "rtcsec/export.h"
#include "rtcsec/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8841 §5: the default a=sctp-port. */
#define RTCSEC_DC_DEFAULT_PORT 5000
/* What we accept and announce in a=max-message-size. */
#define RTCSEC_DC_DEFAULT_MAX_MESSAGE_SIZE (256u * 1024u)
/* RFC 8841 §6.1: a peer without a=max-message-size accepts 64 KiB. */
#define RTCSEC_DC_DEFAULT_REMOTE_MAX_MESSAGE_SIZE 65536u
/* A peer's a=max-message-size:0 (RFC 8841 §6.1: any size). */
#define RTCSEC_DC_MESSAGE_SIZE_ANY SIZE_MAX
/* Largest SCTP packet by default: 1200 bytes of UDP payload (what browsers
 * use) less a DTLS 1.2 AES-GCM record's overhead (13 header + 8 explicit
 * nonce + 16 tag), so each packet is one record in one datagram. */
#define RTCSEC_DC_DEFAULT_PACKET_SIZE (1200u - 13u - 8u - 16u)
/* RFC 8832 §6: 65535 is reserved; ids are 0..65534. */
#define RTCSEC_DC_MAX_STREAMS 65535u
/* rtcsec_dc_open_channel(): let the association choose the id. */
#define RTCSEC_DC_ID_AUTO 0xFFFFu

/* RFC 8832 §5.1 priorities (W3C RTCPriorityType). */
#define RTCSEC_DC_PRIORITY_VERY_LOW 128
#define RTCSEC_DC_PRIORITY_LOW 256
#define RTCSEC_DC_PRIORITY_MEDIUM 512
#define RTCSEC_DC_PRIORITY_HIGH 1024

typedef struct rtcsec_dc rtcsec_dc;

typedef struct rtcsec_dc_config {
  /* The DTLS role of the transport that carries the association. RFC 8832
   * §6: the DTLS client opens channels on even stream ids, the server on
   * odd ones. */
  rtcsec_dtls_role dtls_role;
  uint16_t local_port;  /* our a=sctp-port; default 5000 */
  uint16_t remote_port; /* the peer's a=sctp-port; default 5000 */
  /* Largest message we accept (and announce in a=max-message-size);
   * larger ones are dropped and counted. Default 256 KiB. */
  size_t max_message_size;
  /* The peer's a=max-message-size: 0 if its SDP had none (64 KiB is
   * assumed, RFC 8841 §6.1), RTCSEC_DC_MESSAGE_SIZE_ANY if it said 0.
   * rtcsec_sdp_max_message_size_parse() gives exactly this value.
   * rtcsec_dc_send() refuses anything larger. */
  size_t remote_max_message_size;
  /* Largest SCTP packet (the SCTP path MTU, common header included). It
   * must fit one DTLS record in one datagram. Path MTU discovery is off.
   * 512..65535; default RTCSEC_DC_DEFAULT_PACKET_SIZE. */
  size_t max_packet_size;
  /* Streams offered each way in INIT; ids at or above what both sides
   * agree are unusable. 16..65535, default 1024 (usrsctp keeps a table per
   * stream: 65535 costs a few MB per association). */
  uint32_t max_streams;
  /* Channels that may be open (or opening or closing) at once. An OPEN
   * from the peer beyond it is refused (its stream is reset). Default 512. */
  size_t max_channels;
  /* Bytes queued by rtcsec_dc_send() that SCTP has not taken yet, all
   * channels together; beyond it rtcsec_dc_send() returns
   * RTCSEC_ERR_DC_BUFFER_FULL. Default 16 MiB. */
  size_t max_buffered;
  /* SCTP's own send and receive buffers (usrsctp SO_SNDBUF / SO_RCVBUF;
   * the receive buffer is the window the peer may fill). Default 1 MiB. */
  size_t sctp_send_buffer, sctp_receive_buffer;
  /* Messages up to this size are received without a copy of our own (see
   * the allocation note above). Default 16 KiB. */
  size_t receive_buffer;
  /* Outgoing packets waiting for rtcsec_dc_poll_datagram(); more are dropped
   * (SCTP retransmits them) and counted. Default 1024. */
  size_t max_queued_packets;
  /* Offer I-DATA (RFC 8260) so that one large message does not hold up the
   * other channels; used when the peer offers it too. Default 1. */
  int interleaving;
  /* SCTP timers (RFC 4960 §6.3.1, §8, §6.2; milliseconds). Defaults: RTO
   * 1000 initial, 200 min, 10000 max (WebRTC practice instead of 3 s /
   * 1 s / 60 s); 10 retransmissions before the association is given up;
   * SACK delay 20 ms; heartbeat interval 10 s. */
  uint32_t rto_initial_ms, rto_min_ms, rto_max_ms;
  uint32_t max_retransmissions;
  uint32_t sack_delay_ms;
  uint32_t heartbeat_ms;
  /* Deadline granularity (see "Time" above). Defaults 10 and 1000. */
  uint32_t tick_ms, idle_tick_ms;
  /* Optional: called when a call on another association queued a packet
   * or an event for this one (its timers are process-wide). It runs with
   * the process-wide lock held: it must not call any rtcsec_dc function;
   * typically it marks the association due in the embedder's loop. */
  void (*wake)(void *user);
  void *wake_user;
} rtcsec_dc_config;

/* The defaults above; dtls_role RTCSEC_DTLS_CLIENT. */
RTCSEC_API void rtcsec_dc_config_default(rtcsec_dc_config *cfg);

/* Creates an association (nothing is sent until rtcsec_dc_start()).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL out or cfg, a value out of the
 * ranges above, local_port or remote_port 0), RTCSEC_ERR_NO_MEMORY,
 * RTCSEC_ERR_DC_SCTP (usrsctp refused the socket or an option; a bug or
 * an incompatible usrsctp). */
RTCSEC_API int rtcsec_dc_new(rtcsec_dc **out, const rtcsec_dc_config *cfg);

/* Frees the association and its channels at once (an SCTP association
 * still up is aborted; nothing more is sent). NULL is a no-op. */
RTCSEC_API void rtcsec_dc_free(rtcsec_dc *dc);

/* Starts the SCTP association once DTLS is connected. Both sides start:
 * RFC 8841 §9.3 has both endpoints send INIT (SCTP handles the
 * simultaneous open), whatever the DTLS roles. `dtls` is the CONNECTED
 * payload of the DTLS association that carries this one (the event of the
 * transport, the router session or the ICE agent); it is copied and this
 * association's own CONNECTED event repeats it, so every object reports
 * "connected" with the same payload. Its role must be cfg.dtls_role (the
 * stream-id parity depends on it).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL dc or dtls, dtls->role is not
 * cfg.dtls_role: nothing changed, fix the caller), RTCSEC_ERR_INVALID_STATE
 * (already started, closed or failed), RTCSEC_ERR_DC_SCTP (usrsctp refused
 * to connect: the association has failed, its FAILED event follows). */
RTCSEC_API int rtcsec_dc_start(rtcsec_dc *dc, const rtcsec_connected_info *dtls, uint64_t now);

/* One SCTP packet that arrived as one DTLS application-data record.
 * Returns 0, or (the packet is dropped and counted; the association goes
 * on):
 *   RTCSEC_ERR_DC_PACKET_DROPPED  shorter than an SCTP common header, longer
 *                                 than 65535 bytes, or refused by SCTP
 *                                 (checksum, verification tag, ports: see
 *                                 the stats);
 *   RTCSEC_ERR_INVALID_STATE      before rtcsec_dc_start() or after the
 *                                 association ended.
 * RTCSEC_ERR_INVALID_ARGUMENT for NULL dc or p. */
RTCSEC_API int rtcsec_dc_handle_datagram(rtcsec_dc *dc, const uint8_t *p, size_t len, uint64_t now);

/* The next SCTP packet to send as one DTLS application-data record.
 * Returns 0 with *out_len > 0, or 0 with *out_len = 0 when there is none.
 * RTCSEC_ERR_BUFFER_TOO_SMALL: cap is smaller than the packet (it stays
 * queued; *out_len gives its size). A buffer of cfg.max_packet_size
 * always suffices. */
RTCSEC_API int rtcsec_dc_poll_datagram(rtcsec_dc *dc, uint8_t *buf, size_t cap, size_t *out_len);

/* Runs timers (those of every association: see "Time"), takes what SCTP
 * can accept from the send queues. Errors: RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_dc_handle_timeout(rtcsec_dc *dc, uint64_t now);

/* When to call rtcsec_dc_handle_timeout(): UINT64_MAX if never (not
 * started, closed, failed); the time of the last call if something is
 * already waiting to be polled. */
RTCSEC_API uint64_t rtcsec_dc_deadline(const rtcsec_dc *dc);

typedef struct rtcsec_dc_channel_config {
  const char *label;    /* UTF-8, no NUL inside, up to 65535 bytes; NULL = "" */
  const char *protocol; /* sub-protocol, same rules; NULL = "" */
  int ordered;          /* default 1 */
  /* RFC 8831 §6.1 partial reliability: reliable (default), at most
   * `reliability_param` retransmissions, or at most `reliability_param`
   * milliseconds (RFC 3758 / RFC 7496). */
  rtcsec_channel_reliability reliability;
  uint32_t reliability_param;
  uint16_t priority; /* RFC 8832 §5.1; default RTCSEC_DC_PRIORITY_LOW */
  /* 1: the channel and its id were agreed out of band (both sides open it
   * with the same id and parameters, no DCEP). The id must then be given. */
  int negotiated;
  /* RTCSEC_DC_ID_AUTO (default): the lowest free id of our parity. Any
   * other value: that id (negotiated channels: required; others: it must
   * have our parity, RFC 8832 §6). */
  uint16_t id;
} rtcsec_dc_channel_config;

RTCSEC_API void rtcsec_dc_channel_config_default(rtcsec_dc_channel_config *cfg);

/* Opens a channel; *id gets its stream id. Allowed before the association
 * is up: the channel then opens (DCEP OPEN sent, or ready when negotiated)
 * once it is. CHANNEL_OPEN is reported when the channel can carry data:
 * for a DCEP channel we open, once the OPEN is handed to SCTP (RFC 8832 §6
 * lets data follow the OPEN before the ACK); for a negotiated one, once
 * the association is up. Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL, label
 * or protocol not UTF-8, with a NUL, or too long; unknown reliability;
 * negotiated without an id), RTCSEC_ERR_DC_STREAM_ID (the id is in use, of
 * the peer's parity for a DCEP channel, or >= the streams available),
 * RTCSEC_ERR_LIMIT (max_channels open, or no free id),
 * RTCSEC_ERR_INVALID_STATE (the association is closing, closed or failed),
 * RTCSEC_ERR_NO_MEMORY. */
RTCSEC_API int rtcsec_dc_open_channel(rtcsec_dc *dc, const rtcsec_dc_channel_config *cfg,
                                      uint16_t *id, uint64_t now);

/* Sends one message: `binary` 1 with PPID 53 (57 when empty), 0 for a
 * UTF-8 string with PPID 51 (56 when empty); RFC 8831 §6.6 sends an empty
 * message as one zero byte. The string is not checked for UTF-8. What SCTP
 * cannot take at once is queued (copied); see rtcsec_dc_buffered_amount().
 * Errors (nothing is sent): RTCSEC_ERR_INVALID_ARGUMENT (NULL dc, NULL d
 * with len > 0), RTCSEC_ERR_DC_CHANNEL_CLOSED (no such channel, or it is
 * not open: opening, closing or closed), RTCSEC_ERR_DC_MESSAGE_TOO_LARGE
 * (over the peer's max-message-size), RTCSEC_ERR_DC_BUFFER_FULL (the
 * queue would pass cfg.max_buffered: wait for BUFFERED_AMOUNT_LOW or for
 * packets to be acknowledged), RTCSEC_ERR_NO_MEMORY, the association's
 * sticky error once it failed, RTCSEC_ERR_CLOSED once closed. */
RTCSEC_API int rtcsec_dc_send(rtcsec_dc *dc, uint16_t id, const uint8_t *d, size_t len, int binary,
                              uint64_t now);

/* Closes a channel: what is queued on it is still sent, then its outgoing
 * stream is reset (RFC 8831 §6.7, RFC 6525); the peer resets its own, and
 * CHANNEL_CLOSED follows once both directions are reset. Sends are refused
 * from now on. Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_DC_CHANNEL_CLOSED (no such channel, or already closing). */
RTCSEC_API int rtcsec_dc_close_channel(rtcsec_dc *dc, uint16_t id, uint64_t now);

/* Ends the association cleanly (SCTP SHUTDOWN, RFC 4960 §9.2) after what
 * is queued is sent: CHANNEL_CLOSED for every channel, then CLOSED.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT; 0 if already closed or failed. */
RTCSEC_API int rtcsec_dc_close(rtcsec_dc *dc, uint64_t now);

/* The DTLS association under this one closed or failed: nothing can be
 * sent any more. Every channel gets CHANNEL_CLOSED, then the association
 * CLOSED (unless it had failed already); queued packets are discarded.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_dc_transport_closed(rtcsec_dc *dc, uint64_t now);

/* The next event, or RTCSEC_EVENT_NONE. Kinds:
 *   CONNECTED        the SCTP association is up; .connected is the DTLS
 *                    payload given to rtcsec_dc_start().
 *   CHANNEL_OPEN     .channel: id, label, protocol, parameters; for a
 *                    channel the peer opened, ours to use from now on.
 *   MESSAGE          .message: channel, binary, data, len (valid until the
 *                    next rtcsec_dc_poll_event() or rtcsec_dc_free() of this
 *                    association: it may be given straight to
 *                    rtcsec_dc_send(), as an echo does).
 *   BUFFERED_AMOUNT_LOW  .channel.id: its buffered amount fell to or below
 *                    its threshold (from above it).
 *   CHANNEL_CLOSED   .channel.id: both directions of its stream reset, or
 *                    the association ended; the id may be reused after.
 *   CLOSED           the association ended cleanly (shutdown, or
 *                    rtcsec_dc_transport_closed()); the last event.
 *   FAILED           .failed.error RTCSEC_ERR_DC_ABORTED (ABORT) or
 *                    RTCSEC_ERR_DC_TIMEOUT (no answer); alert -1. The last
 *                    event, after CHANNEL_CLOSED for every channel.
 * Messages are read from SCTP by this call, one per event, so a message
 * stays in SCTP's receive window until it is polled. Polling may queue
 * packets (DCEP ACKs, window updates): poll packets after events.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_dc_poll_event(rtcsec_dc *dc, rtcsec_event *ev);

/* Bytes given to rtcsec_dc_send() on channel id that SCTP has not taken
 * yet (0 for an unknown id). SCTP's own send buffer (cfg.sctp_send_buffer,
 * shared by the channels) holds what it has taken until it is
 * acknowledged; that part is not counted here. */
RTCSEC_API size_t rtcsec_dc_buffered_amount(const rtcsec_dc *dc, uint16_t id);

/* BUFFERED_AMOUNT_LOW fires when the buffered amount goes from above
 * `threshold` to at most it. Default 0. Errors:
 * RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_DC_CHANNEL_CLOSED. */
RTCSEC_API int rtcsec_dc_set_buffered_amount_low_threshold(rtcsec_dc *dc, uint16_t id,
                                                           size_t threshold);

typedef enum rtcsec_dc_state {
  RTCSEC_DC_STATE_NEW = 0,    /* not started */
  RTCSEC_DC_STATE_CONNECTING, /* INIT sent */
  RTCSEC_DC_STATE_CONNECTED,
  RTCSEC_DC_STATE_CLOSING, /* shutdown under way */
  RTCSEC_DC_STATE_CLOSED,
  RTCSEC_DC_STATE_FAILED,
} rtcsec_dc_state;

/* "new", "connecting", ...; "unknown" for other values. */
RTCSEC_API const char *rtcsec_dc_state_name(rtcsec_dc_state s);

typedef struct rtcsec_dc_stats {
  rtcsec_dc_state state;
  int error;                        /* the sticky error once failed */
  int interleaving;                 /* 1: I-DATA (RFC 8260) in use */
  uint16_t streams_out, streams_in; /* agreed in INIT / INIT-ACK */
  size_t channels;                  /* open, opening or closing now */
  uint64_t channels_opened, channels_closed;
  size_t buffered_amount; /* all channels */
  /* SCTP packets through rtcsec_dc_handle_datagram / rtcsec_dc_poll_datagram */
  uint64_t packets_in, bytes_in, packets_out, bytes_out;
  /* packets refused: shorter than a header or too long, bad CRC32c, bad
   * verification tag, other (no association for the ports, malformed) */
  uint64_t drop_malformed, drop_checksum, drop_vtag, drop_other;
  uint64_t drop_queue_full; /* outgoing, cfg.max_queued_packets reached */
  /* messages (payload bytes, without PPID or SCTP headers) */
  uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
  /* DCEP (RFC 8832) */
  uint64_t dcep_opens_received, dcep_acks_received;
  uint64_t dcep_rejected;  /* OPEN refused: stream reset instead of ACK (§6) */
  uint64_t dcep_malformed; /* not a DCEP message, or an unexpected one */
  /* received messages dropped */
  uint64_t drop_unknown_ppid, drop_too_large, drop_no_channel;
  uint64_t stream_resets_failed; /* the peer refused a reset */
  uint64_t wakeups;              /* rtcsec_dc_handle_timeout() calls */
} rtcsec_dc_stats;

/* Errors: RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_dc_get_stats(const rtcsec_dc *dc, rtcsec_dc_stats *out);

typedef enum rtcsec_dc_channel_state {
  RTCSEC_DC_CHANNEL_OPENING = 0, /* waiting for the association */
  RTCSEC_DC_CHANNEL_OPEN,
  RTCSEC_DC_CHANNEL_CLOSING, /* stream reset under way */
  RTCSEC_DC_CHANNEL_CLOSED,  /* CHANNEL_CLOSED not polled yet */
} rtcsec_dc_channel_state;

typedef struct rtcsec_dc_channel_stats {
  uint16_t id;
  rtcsec_dc_channel_state state;
  int acked; /* DCEP: ACK (or any message) received; negotiated: 1 */
  uint64_t messages_sent, bytes_sent, messages_received, bytes_received;
  uint64_t drop_too_large, drop_unknown_ppid;
  size_t buffered_amount;
} rtcsec_dc_channel_stats;

/* Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_DC_CHANNEL_CLOSED (no
 * channel with that id). */
RTCSEC_API int rtcsec_dc_get_channel_stats(const rtcsec_dc *dc, uint16_t id,
                                           rtcsec_dc_channel_stats *out);

/* ---- carrying the association ------------------------------------------ */

/* Where the association's packets go: one call per SCTP packet, to be sent
 * as one DTLS application-data record (RFC 8261 §5). Returns 0 or a
 * negative rtcsec error (the packet is lost; SCTP retransmits). */
typedef int (*rtcsec_dc_send_fn)(void *user, const uint8_t *packet, size_t len, uint64_t now);

/* Steps 4-5 of the loop for any carrier: hands every packet waiting in dc
 * to send(user, ...) through a 64 KiB buffer on the stack (no allocation):
 * rtcsec_router_send_data() for a router session, rtcsec_ice_send_data()
 * for the ICE agent, your own DTLS. Returns the number of packets handed
 * over (>= 0). A packet the carrier refuses is dropped (SCTP retransmits
 * what matters); the first such error is returned negative only if no
 * packet went through (RTCSEC_ERR_INVALID_STATE: DTLS not connected;
 * RTCSEC_ERR_TOO_LARGE: cfg.max_packet_size does not fit one record, a
 * configuration error; the carrier's sticky error).
 * RTCSEC_ERR_INVALID_ARGUMENT for NULL dc or send. */
RTCSEC_API int rtcsec_dc_pump(rtcsec_dc *dc, rtcsec_dc_send_fn send, void *user, uint64_t now);

/* rtcsec_dc_pump() with rtcsec_transport_send_data(t) as the carrier. The
 * receive direction is one call: for each DATA event of the transport,
 * rtcsec_dc_handle_datagram(dc, ev.data.data, ev.data.len, now). */
RTCSEC_API int rtcsec_dc_pump_transport(rtcsec_dc *dc, rtcsec_transport *t, uint64_t now);

/* ---- SDP (RFC 8841) ---------------------------------------------------- */
/* Same line rules as rtcsec/sdp.h: input (s, len), optional "a=", trailing
 * CRLF and blanks ignored, at most RTCSEC_SDP_MAX_LINE; formatters write
 * without "a=" and line end, with a NUL, *len_out as in sdp.h. */

typedef enum rtcsec_sdp_dc_proto {
  RTCSEC_SDP_DC_UDP_DTLS_SCTP = 0, /* "UDP/DTLS/SCTP" (over ICE/UDP) */
  RTCSEC_SDP_DC_TCP_DTLS_SCTP = 1, /* "TCP/DTLS/SCTP" */
} rtcsec_sdp_dc_proto;

/* Parses "m=application PORT UDP/DTLS/SCTP webrtc-datachannel" (RFC 8841
 * §4.1; also TCP/DTLS/SCTP). *port is the m-line port (9 with ICE; 0 means
 * the section is rejected or disabled). Errors: RTCSEC_ERR_INVALID_ARGUMENT,
 * RTCSEC_ERR_TOO_LARGE, RTCSEC_ERR_PARSE (not an m-line, bad port, a
 * missing or extra field), RTCSEC_ERR_UNSUPPORTED (a well-formed m-line of
 * other media, other transport or format, including the pre-RFC 8841
 * "DTLS/SCTP 5000" form: not a data-channel section). */
RTCSEC_API int rtcsec_sdp_dc_media_parse(uint16_t *port, rtcsec_sdp_dc_proto *proto, const char *s,
                                         size_t len);

/* Writes "m=application PORT UDP/DTLS/SCTP webrtc-datachannel" (with "m=").
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (unknown proto, buf NULL with
 * cap > 0), RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_dc_media_format(uint16_t port, rtcsec_sdp_dc_proto proto, char *buf,
                                          size_t cap, size_t *len_out);

/* "a=sctp-port:PORT" (RFC 8841 §5), PORT 1..65535 in 1..5 digits.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE. */
RTCSEC_API int rtcsec_sdp_sctp_port_parse(uint16_t *port, const char *s, size_t len);
/* Writes "sctp-port:PORT". Errors: RTCSEC_ERR_INVALID_ARGUMENT (port 0,
 * buf NULL with cap > 0), RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_sctp_port_format(uint16_t port, char *buf, size_t cap, size_t *len_out);

/* "a=max-message-size:SIZE" (RFC 8841 §6), SIZE 1*DIGIT. *size gets the
 * value, or RTCSEC_DC_MESSAGE_SIZE_ANY for 0 ("any size", §6.1), ready for
 * rtcsec_dc_config.remote_max_message_size (leave that 0 when the SDP has
 * no such line). A value beyond SIZE_MAX - 1 is RTCSEC_DC_MESSAGE_SIZE_ANY
 * as well. Errors: RTCSEC_ERR_INVALID_ARGUMENT, RTCSEC_ERR_TOO_LARGE,
 * RTCSEC_ERR_PARSE (empty, not digits). */
RTCSEC_API int rtcsec_sdp_max_message_size_parse(size_t *size, const char *s, size_t len);
/* Writes "max-message-size:SIZE" (RTCSEC_DC_MESSAGE_SIZE_ANY as 0).
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (size 0, buf NULL with cap > 0),
 * RTCSEC_ERR_BUFFER_TOO_SMALL. */
RTCSEC_API int rtcsec_sdp_max_message_size_format(size_t size, char *buf, size_t cap,
                                                  size_t *len_out);

#ifdef __cplusplus
}
#endif
#endif
