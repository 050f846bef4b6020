/* rtcsec-echo: rewriting the browser's plaintext RTP and RTCP so that it can
 * be sent back as rtcsec's own media (pure functions on buffers; unit
 * tested in tests/test_echo_sdp.c).
 *
 * The echo has two SSRC spaces: the browser's (what its SDP declared, or
 * what it was first seen sending) and rtcsec's (the a=ssrc lines of rtcsec's
 * SDP, one per kind). They are paired per kind, and every SSRC field the
 * echo forwards is SWAPPED within its pair: browser -> rtcsec, and
 * rtcsec -> browser. That one rule makes every report come out right:
 *
 *   RTP          SSRC browser -> rtcsec; payload type from the number the
 *                browser used (rtcsec's SDP) to the browser's number for the
 *                same codec (the browser's SDP); a payload type that was
 *                not negotiated is dropped. Sequence numbers and timestamps
 *                are kept, so SRTP indexes, jitter buffers and NACKs line up.
 *   SR (200)     sender SSRC swapped: the browser's report about its stream
 *                becomes rtcsec's report about the echoed one (same packets,
 *                same timestamps); report blocks' source SSRCs swapped.
 *   RR (201)     sender and report-block SSRCs swapped: what the browser
 *                received of the echo reaches the browser's sender as a
 *                report about its own stream (loss, jitter, RTT).
 *   BYE (203)    SSRCs swapped.
 *   RTPFB (205)  generic NACK (FMT 1) only: sender and media SSRC swapped;
 *                lost packets that the echo still has in its cache (see
 *                echo_rtp_cache) are resent from there, within limits, and
 *                removed from the forwarded NACK; the rest (each sequence
 *                number once) asks the browser to resend.
 *                Other FMTs (transport-cc, TMMBR, ...) are dropped: not
 *                negotiated.
 *   PSFB (206)   PLI (FMT 1), FIR (FMT 4, its FCI SSRCs swapped) and REMB
 *                (FMT 15 "REMB", its SSRC list swapped): sender and media
 *                SSRC swapped, so a PLI about the echo asks the browser's
 *                encoder for a key frame. Other FMTs dropped.
 *   SDES, APP, XR and unknown types are dropped: the CNAME would be the
 *                browser's, not the one rtcsec declared, and XR/APP are not
 *                negotiated.
 * A compound packet is rewritten in place and compacted; a malformed one
 * (bad version, length running past the datagram) is dropped whole.
 *
 * NACKs are answered under three limits, because a NACK is a request for
 * work: one 16-byte FCI entry names up to 17 packets of up to 1500 bytes,
 * so a 1180-byte NACK of 292 entries once made the echo send 4964 packets,
 * about 6 MB. Now:
 *   - a sequence number named more than once in one NACK (the same PID
 *     twice, overlapping BLP bits) counts once (nack_duplicates);
 *   - a cached packet is resent at most once per RTT (nack_refused_rtt): a
 *     second request that arrives sooner crossed the resend on its way. The
 *     RTT comes from the browser's report blocks about rtcsec's streams
 *     (RFC 3550 §6.4.1: RTT = arrival - LSR - DLSR, where the echo knows when
 *     it sent the SR that LSR names), smoothed, clamped to
 *     [ECHO_RTT_MIN_US, ECHO_RTT_MAX_US]; until the first sample it is
 *     ECHO_RTT_DEFAULT_US (100 ms, longer than most browser paths, so that
 *     the default errs towards resending less);
 *   - resent bytes draw from a token bucket (nack_refused_rate) refilled at
 *     ECHO_RESEND_RATE_PERCENT (25 %) of the video bytes the browser sent
 *     over the last ECHO_RATE_WINDOW_US, ECHO_RESEND_BURST bytes deep, so
 *     resends cost at most a quarter of the media the browser itself pays
 *     for, plus one small burst (all there is until the first window of
 *     video has been measured).
 * A packet refused by a limit is neither resent nor asked of the browser:
 * the receiver asks again after its own RTT if it still misses it.
 */
#ifndef RTCSEC_ECHO_RTP_ECHO_H
#define RTCSEC_ECHO_RTP_ECHO_H

#include <stddef.h>
#include <stdint.h>

#define ECHO_MAX_STREAMS 2 /* one audio, one video */
#define ECHO_SR_HISTORY 8  /* SRs remembered for RTT (browsers report every ~1 s) */

typedef struct echo_stream {
  int kind;             /* echo_kind of sdp_session.h */
  uint32_t local_ssrc;  /* rtcsec's, nonzero */
  uint32_t remote_ssrc; /* the browser's; 0 until known (learned from RTP) */
  /* pt_map[pt] = payload type to send for a packet that arrived with pt,
   * or -1 to drop it. */
  int16_t pt_map[128];
  uint64_t packets, bytes; /* echoed */
} echo_stream;

typedef struct echo_rewriter {
  size_t n_streams;
  echo_stream streams[ECHO_MAX_STREAMS];
  /* counters */
  uint64_t rtp_dropped_pt;   /* payload type not negotiated */
  uint64_t rtp_dropped_ssrc; /* SSRC of no stream (a second one of a kind) */
  uint64_t rtp_malformed;
  uint64_t rtcp_forwarded, rtcp_dropped; /* compound packets */
  uint64_t rtcp_parts_dropped;           /* SDES, APP, XR, other feedback, and
                                            NACKs answered whole from the cache */
  uint64_t pli, fir, nack;               /* feedback packets forwarded */
  uint64_t nack_resent;                  /* packets resent from the cache */
  uint64_t nack_resent_bytes;            /* ... and their RTP bytes */
  uint64_t nack_duplicates;              /* seqs named again in the same NACK */
  uint64_t nack_refused_rtt;             /* cached, but resent less than an RTT ago */
  uint64_t nack_refused_rate;            /* cached, but over the resend byte budget */
  /* The RTT to the browser (see above): smoothed estimate, 0 = no sample. */
  uint64_t rtt_us;
  uint64_t rtt_samples;
  /* The SRs the echo forwarded as its own (for LSR), newest last. */
  struct {
    uint32_t ssrc;    /* rtcsec's, as sent */
    uint32_t ntp_mid; /* the middle 32 bits of its NTP timestamp */
    uint64_t sent_us; /* when it was rewritten (caller's clock) */
  } sr_sent[ECHO_SR_HISTORY];
  size_t sr_next;
} echo_rewriter;

void echo_rewriter_init(echo_rewriter *rw);

/* Adds a stream; returns its index, or -1 if full / local_ssrc is 0. */
int echo_rewriter_add_stream(echo_rewriter *rw, int kind, uint32_t local_ssrc,
                             uint32_t remote_ssrc);

/* Maps arriving payload type in_pt to out_pt on stream idx. */
void echo_rewriter_map_pt(echo_rewriter *rw, int idx, uint8_t in_pt, uint8_t out_pt);

/* Rewrites one plaintext RTP packet in place (SSRC and payload type).
 * Returns the stream index, or -1 if the packet must be dropped (counted). */
int echo_rewrite_rtp(echo_rewriter *rw, uint8_t *buf, size_t len);

/* The SSRC a field should carry after the swap (unchanged if in no pair). */
uint32_t echo_rewriter_swap(const echo_rewriter *rw, uint32_t ssrc);

/* ---- a cache of sent RTP packets, for NACKs (RFC 4585 §6.2.1) -------------- */

#define ECHO_CACHE_SLOTS 512 /* power of two; about 1 s of video */
#define ECHO_CACHE_PKT 1500

/* The NACK limits described at the top of this file. */
#define ECHO_RTT_DEFAULT_US 100000u  /* until the first RTT sample */
#define ECHO_RTT_MIN_US 10000u       /* a forged tiny RTT cannot undo the limit */
#define ECHO_RTT_MAX_US 1000000u     /* nor a huge one stop resends for long */
#define ECHO_RESEND_RATE_PERCENT 25u /* of the measured incoming video rate */
#define ECHO_RESEND_BURST 16000u     /* bytes: the bucket's depth (~13 full packets) */
#define ECHO_RATE_WINDOW_US 1000000u /* the video rate is measured over this */

/* All zero is an empty cache with a full resend budget and no rate yet;
 * the caller sets ssrc. */
typedef struct echo_rtp_cache {
  uint32_t ssrc; /* rtcsec's SSRC of the cached stream */
  /* Incoming video rate: bytes put since window_start_us, and the rate of
   * the last window that closed (bytes per second). */
  int rate_started;
  uint64_t window_start_us, window_bytes;
  uint64_t rate_bytes_per_s; /* bytes per second */
  /* Resend budget: bytes spent beyond a full bucket, in millionths of a
   * byte (a refill of rate x percent x microseconds stays exact), and when
   * it was last refilled. */
  uint64_t spent_ubytes;
  uint64_t refilled_us;
  int refill_started;
  struct {
    int used;
    uint16_t seq;
    uint16_t len;
    int resent;         /* resent since it was put ... */
    uint64_t resent_us; /* ... last at this time */
    uint8_t data[ECHO_CACHE_PKT];
  } slot[ECHO_CACHE_SLOTS];
} echo_rtp_cache;

/* Stores a plaintext (rewritten) RTP packet that was sent at now_us (caller's
 * monotonic clock); larger ones are not cached, but every one counts
 * towards the measured video rate. */
void echo_rtp_cache_put(echo_rtp_cache *c, const uint8_t *pkt, size_t len, uint64_t now_us);

/* The RTT the NACK limit uses now: the estimate clamped, or the default. */
uint64_t echo_rewriter_rtt_window(const echo_rewriter *rw);

/* The cached packet with this sequence number, or NULL. */
const uint8_t *echo_rtp_cache_get(const echo_rtp_cache *c, uint16_t seq, size_t *len);

/* Called for every packet to resend from the cache while RTCP is rewritten. */
typedef void (*echo_resend_fn)(void *user, const uint8_t *pkt, size_t len);

/* Rewrites a plaintext RTCP compound packet that arrived at now_us (caller's
 * monotonic clock) in place as described above. cache may be NULL (then
 * every NACK is forwarded whole); resend is called for each cached packet a
 * NACK asks for that the limits allow. Returns 1 with *out_len set if
 * something is left to forward, 0 with *out_len = 0 if nothing is (all
 * parts dropped, answered from the cache or refused), -1 if the packet is
 * malformed (*out_len untouched, nothing resent). */
int echo_rewrite_rtcp(echo_rewriter *rw, uint8_t *buf, size_t len, size_t *out_len,
                      echo_rtp_cache *cache, echo_resend_fn resend, void *user, uint64_t now_us);

#endif
