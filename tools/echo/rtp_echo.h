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
 *                echo_rtp_cache) are resent from there and removed from the
 *                forwarded NACK, the rest asks the browser to resend.
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
 */
#ifndef RTCSEC_ECHO_RTP_ECHO_H
#define RTCSEC_ECHO_RTP_ECHO_H

#include <stddef.h>
#include <stdint.h>

#define ECHO_MAX_STREAMS 2 /* one audio, one video */

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

typedef struct echo_rtp_cache {
  uint32_t ssrc; /* rtcsec's SSRC of the cached stream */
  struct {
    int used;
    uint16_t seq;
    uint16_t len;
    uint8_t data[ECHO_CACHE_PKT];
  } slot[ECHO_CACHE_SLOTS];
} echo_rtp_cache;

/* Stores a plaintext (rewritten) RTP packet; larger ones are not cached. */
void echo_rtp_cache_put(echo_rtp_cache *c, const uint8_t *pkt, size_t len);

/* The cached packet with this sequence number, or NULL. */
const uint8_t *echo_rtp_cache_get(const echo_rtp_cache *c, uint16_t seq, size_t *len);

/* Called for every packet to resend from the cache while RTCP is rewritten. */
typedef void (*echo_resend_fn)(void *user, const uint8_t *pkt, size_t len);

/* Rewrites a plaintext RTCP compound packet in place as described above.
 * cache may be NULL (then every NACK is forwarded whole); resend is called
 * for each cached packet a NACK asks for. Returns 1 with *out_len set if
 * something is left to forward, 0 with *out_len = 0 if nothing is (all
 * parts dropped or answered from the cache), -1 if the packet is malformed
 * (*out_len untouched, nothing resent). */
int echo_rewrite_rtcp(echo_rewriter *rw, uint8_t *buf, size_t len, size_t *out_len,
                      const echo_rtp_cache *cache, echo_resend_fn resend, void *user);

#endif
