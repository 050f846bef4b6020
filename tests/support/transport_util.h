/* Two rtcsec_transport objects over the seeded link, connected, with
 * helpers to send and check RTP / RTCP. Shared by the transport suites. */
#ifndef RTCSEC_TEST_TRANSPORT_UTIL_H
#define RTCSEC_TEST_TRANSPORT_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"

extern const int all_test_profiles[4];

typedef struct tside {
  rtcsec_cert *cert;
  rtcsec_transport *t;
  harness_transport ht;
  int connected, failed, closed, error, n_data;
  rtcsec_connected_info info; /* the CONNECTED payload */
  uint64_t rtp_ok, rtcp_ok, bad_payload, media_errors, replays, dup_delivered;
  int last_rc; /* outcome of the last datagram offered */
  uint8_t data[2048];
  size_t data_len;
  uint8_t seen[65536 / 8]; /* RTP sequence numbers delivered (any SSRC) */
} tside;

typedef struct tpair {
  tside side[2]; /* side[0] is the DTLS client */
  sim_link *link;
  harness_endpoint ep[2];
  uint64_t now;
} tpair;

/* New pair, handshake run to completion. lc may be NULL (clean link);
 * profile RTCSEC_SRTP_NONE keeps the default list. */
tpair *tpair_new(int unused, const link_config *lc, rtcsec_srtp_profile profile);
/* Same but with the SRTP config given to both sides. */
tpair *tpair_new_cfg(const link_config *lc, rtcsec_srtp_profile profile,
                     const rtcsec_srtp_config *srtp);
/* New pair on a clean link, not started. */
tpair *tpair_unstarted(void);
/* Starts both and runs the handshake to completion. */
void tpair_connect(tpair *tp);
/* A pair whose server expects a wrong fingerprint; handshake run (fails). */
tpair *tpair_wrong_fingerprint(void);
void tpair_free(tpair *tp);

/* Writes an RTP packet (V=2, PT 96, no CSRC) with a payload derived from
 * ssrc and seq into buf; returns its length. */
size_t tpair_make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len);
/* Writes an RTCP sender report for ssrc; returns its length (28). */
size_t tpair_make_rtcp_sr(uint8_t *buf, uint32_t ssrc);
/* 1 if buf[0..len) is exactly what tpair_make_rtp wrote for its header. */
int tpair_rtp_payload_ok(const uint8_t *buf, size_t len);

/* Protects and puts on the link (sender side s). Returns the protect rc. */
int tpair_send_rtp(tpair *tp, int s, uint32_t ssrc, uint16_t seq, size_t payload_len);
int tpair_send_rtcp(tpair *tp, int s, uint32_t ssrc);
/* Puts raw bytes on the link from side s, as they are. */
void tpair_send_raw(tpair *tp, int s, const uint8_t *data, size_t len);
/* Runs the link until nothing is in flight (at most 10 s of fake time). */
void tpair_settle(tpair *tp);

/* Protects an RTP packet (tpair_make_rtp) or RTCP sender report
 * (tpair_make_rtcp_sr) on side s into buf[0..cap) without sending it, so a
 * test can hold, copy, alter or replay it. Returns the protect rc; *len is
 * the SRTP / SRTCP length. */
int tpair_protect_rtp(tpair *tp, int s, uint32_t ssrc, uint16_t seq, size_t payload_len,
                      uint8_t *buf, size_t cap, size_t *len);
int tpair_protect_rtcp(tpair *tp, int s, uint32_t ssrc, uint8_t *buf, size_t cap, size_t *len);
/* Hands a copy of data[0..len) (in a heap block of exactly len bytes, so a
 * sanitizer sees any read past it) to side r's transport as if it had just
 * arrived, without the link. The side's counters and last_rc see it as they
 * would see a delivered datagram; its events are polled and what it has to
 * send goes onto the link. Returns the rc of
 * rtcsec_transport_handle_datagram(); *kind (if not NULL) is the class. */
int tpair_offer(tpair *tp, int r, const uint8_t *data, size_t len, rtcsec_packet_class *kind);
/* Runs the handshake of a pair whose sides were started by the caller to
 * completion (or failure), like tpair_connect() without the starts. */
void tpair_finish_handshake(tpair *tp);

/* Registers the bad-input test case (tests/test_transport_bad.c). */
void transport_bad_input_cases(Suite *s);

#endif
