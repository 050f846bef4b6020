/* rtcsec: SRTP and SRTCP protection (RFC 3711, RFC 7714) with the keys a
 * DTLS-SRTP association exports (RFC 5764 §4.2), on top of libsrtp2.
 *
 * One rtcsec_srtp holds two libsrtp2 sessions built from one
 * rtcsec_srtp_keys: an outbound one keyed with the local key and salt (what
 * this endpoint protects with, for any SSRC it sends) and an inbound one
 * keyed with the remote key and salt (what the peer protects with, for any
 * SSRC the peer sends). All four DTLS-SRTP profiles are handled:
 * SRTP_AES128_CM_HMAC_SHA1_80 and _32 (SRTCP always with an 80-bit tag,
 * RFC 5764 §4.1.2), SRTP_AEAD_AES_128_GCM and SRTP_AEAD_AES_256_GCM
 * (RFC 7714, 16-octet tag). RTP and RTCP are always encrypted and
 * authenticated. Unless the embedder opts out, libsrtp2 runs on rtcsec's
 * own OpenSSL implementations of the ciphers, for the whole process: see
 * rtcsec_srtp_global_config() below.
 *
 * Packets are processed in place. Protecting appends a trailer (the tag,
 * and for SRTCP the E flag and 31-bit index), so the caller states the
 * capacity of its buffer; rtcsec_srtp_rtp_overhead() and
 * rtcsec_srtp_rtcp_overhead() say how much room is needed, and
 * RTCSEC_SRTP_MAX_OVERHEAD covers every profile.
 *
 * What an error means on the packet path: the packet is dropped and counted,
 * and the session goes on, with one exception: once the local key has
 * protected as many packets as RFC 3711 §9.2 allows (2^48 SRTP or 2^31
 * SRTCP packets in one stream), every later protect call fails with
 * RTCSEC_ERR_SRTP_KEY_LIMIT (sticky): new keys, that is a new DTLS
 * association, are needed. Unprotecting goes on, since the peer's key is
 * the peer's business.
 *
 * Memory is fixed at creation: the per-SSRC tables hold at most
 * max_inbound_ssrcs / max_outbound_ssrcs entries, and a packet from an SSRC
 * past the cap is refused before libsrtp2 creates a stream for it. The
 * packet path allocates nothing, copies nothing and takes no lock.
 *
 * Threads: one rtcsec_srtp is used by one thread at a time; different
 * objects may be used on different threads at once.
 */
#ifndef RTCSEC_SRTP_H
#define RTCSEC_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/export.h"
#include "rtcsec/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rtcsec_srtp rtcsec_srtp;

/* Largest trailer any profile appends: an AEAD SRTCP packet gets a 16-octet
 * tag and the 4-octet E flag + SRTCP index. */
#define RTCSEC_SRTP_MAX_OVERHEAD 20

/* Upper bound of max_inbound_ssrcs and max_outbound_ssrcs. */
#define RTCSEC_SRTP_MAX_SSRCS 4096

typedef struct rtcsec_srtp_config {
  /* SRTP replay window in packets (libsrtp2's window_size); default 1024,
   * valid 64..32767 (libsrtp2 2.5 refuses 32768 and more). The SRTCP replay
   * window is libsrtp2's fixed 128 packets. */
  size_t replay_window;
  /* 1 (default): protecting a packet whose SSRC and sequence number were
   * already protected is allowed, as RTX and NACK-driven resends need; the
   * packet MUST be identical, or the keystream is reused on different data.
   * 0: such a call fails with RTCSEC_ERR_SRTP_REPLAY. */
  int allow_repeat_tx;
  /* Distinct SSRCs the peer may send (RTP and RTCP together); default 64,
   * valid 1..RTCSEC_SRTP_MAX_SSRCS. */
  size_t max_inbound_ssrcs;
  /* Distinct SSRCs this endpoint may send; default 64, same range. */
  size_t max_outbound_ssrcs;
} rtcsec_srtp_config;

/* Fills cfg with the defaults documented above. */
RTCSEC_API void rtcsec_srtp_config_default(rtcsec_srtp_config *cfg);

/* ---- process-wide: the ciphers libsrtp2 runs ---------------------------------
 *
 * libsrtp2 looks its cipher and authentication implementations up in one
 * table per process (its crypto kernel), and lets a program replace them
 * (srtp_replace_cipher_type(), srtp_replace_auth_type()). Debian's libsrtp2
 * is built on NSS, which costs several times the cipher itself per packet
 * and slows down as live sessions pile up (docs/benchmarks.md). So on its
 * first use (the first rtcsec_srtp_profile_supported() or rtcsec_srtp_new(),
 * which rtcsec_transport_new() makes), the bridge calls srtp_init() once and
 * replaces libsrtp2's AES-ICM-128, AES-ICM-256 (the CM profiles and the key
 * derivation), AES-GCM-128, AES-GCM-256 and HMAC-SHA1 with its own, on
 * OpenSSL 3 (srtp_bridge/srtp_types.h): each keyed once per session key, with
 * no allocation or lookup per packet. libsrtp2 runs each replacement's
 * self-test (RFC 3711, RFC 6188, RFC 7714, RFC 2202 vectors) and the one of
 * the implementation it replaces before it switches, and keeps its own on
 * any failure.
 *
 * What that means for the rest of the process: every libsrtp2 session
 * created afterwards, by rtcsec or by any other code in the process that
 * uses libsrtp2, runs on rtcsec's implementations of these five types
 * (byte for byte the same SRTP, as the tests show against libsrtp2's own);
 * sessions that exist already keep the implementation they were created
 * with; AES-ICM-192 and the null cipher and authentication stay
 * libsrtp2's. The replacement is not undone: a program that calls
 * srtp_shutdown() empties libsrtp2's table (and cannot use rtcsec's bridge
 * any more either, as libsrtp2 2.5 cannot be initialised twice). Code that
 * uses libsrtp2 on other threads should let the bridge initialise first
 * (e.g. call rtcsec_srtp_profile_supported() at start-up), since libsrtp2's
 * table has no lock. The SHA-1 of HMAC-SHA1 runs through OpenSSL's SHA1_*
 * functions, not through a provider (see srtp_type_hmac.c for why). */

typedef struct rtcsec_srtp_global {
  /* 0 (default): replace libsrtp2's implementations as described above.
   * 1: leave libsrtp2's own in place (e.g. to compare, or when the process
   * must run only the crypto library libsrtp2 was built with). */
  int keep_libsrtp_ciphers;
} rtcsec_srtp_global;

/* Fills g with the defaults (replace). */
RTCSEC_API void rtcsec_srtp_global_default(rtcsec_srtp_global *g);

/* Sets the process-wide choice above. It takes effect at the bridge's
 * first use, so it must be called before that: before any
 * rtcsec_srtp_profile_supported(), rtcsec_srtp_new() or
 * rtcsec_transport_new() in the process. It may be called several times
 * before; the last call counts. Thread-safe.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL g, keep_libsrtp_ciphers not 0
 * or 1), RTCSEC_ERR_INVALID_STATE (the bridge is already in use: the choice
 * made then stays; nothing was changed). */
RTCSEC_API int rtcsec_srtp_global_config(const rtcsec_srtp_global *g);

/* 1 if the libsrtp2 this process runs with can protect and unprotect with
 * profile p, else 0 (also for RTCSEC_SRTP_NONE and unknown values). Each
 * profile is tried once, on first use, with a throwaway session and a
 * dummy key; the answer is cached. Offer only profiles for which this
 * returns 1. Thread-safe. */
RTCSEC_API int rtcsec_srtp_profile_supported(rtcsec_srtp_profile p);

/* Bytes protecting one RTP (RTCP) packet appends with profile p: 10, 4, 16,
 * 16 (RTCP: 14, 14, 20, 20) for AES128_CM_SHA1_80, AES128_CM_SHA1_32,
 * AEAD_AES_128_GCM, AEAD_AES_256_GCM. 0 for an unknown profile. */
RTCSEC_API size_t rtcsec_srtp_rtp_overhead(rtcsec_srtp_profile p);
RTCSEC_API size_t rtcsec_srtp_rtcp_overhead(rtcsec_srtp_profile p);

/* Creates the outbound and inbound sessions from keys (copied into
 * libsrtp2; the caller may wipe keys right after). cfg may be NULL for the
 * defaults; it is copied.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL out or keys, key or salt
 * length that does not fit the profile, a config value out of range),
 * RTCSEC_ERR_UNSUPPORTED (profile unknown or not supported by libsrtp2,
 * see rtcsec_srtp_profile_supported()), RTCSEC_ERR_NO_MEMORY,
 * RTCSEC_ERR_SRTP (libsrtp2 refused the policy or failed to initialise). */
RTCSEC_API int rtcsec_srtp_new(rtcsec_srtp **out, const rtcsec_srtp_keys *keys,
                               const rtcsec_srtp_config *cfg);

/* Frees both sessions; every key copy is wiped. NULL is a no-op. */
RTCSEC_API void rtcsec_srtp_free(rtcsec_srtp *s);

/* The profile the object was created with. */
RTCSEC_API rtcsec_srtp_profile rtcsec_srtp_get_profile(const rtcsec_srtp *s);

/* Protects the RTP packet buf[0..len) in place; buf has room for cap bytes.
 * On success *out_len is the SRTP packet length (len + the RTP overhead).
 * Errors (nothing is written to buf unless noted):
 *   RTCSEC_ERR_INVALID_ARGUMENT  NULL s, buf or out_len.
 *   RTCSEC_ERR_SRTP_MALFORMED    not an RTP packet: shorter than 12 octets,
 *                                version not 2, or CSRC list or header
 *                                extension running past len.
 *   RTCSEC_ERR_TOO_LARGE         len beyond what libsrtp2 can take (INT_MAX).
 *   RTCSEC_ERR_BUFFER_TOO_SMALL  cap < len + rtcsec_srtp_rtp_overhead().
 *   RTCSEC_ERR_LIMIT             a new SSRC past max_outbound_ssrcs.
 *   RTCSEC_ERR_SRTP_KEY_LIMIT    the local key is used up (sticky, see top).
 *   RTCSEC_ERR_SRTP_REPLAY       SSRC and sequence number already protected
 *                                and allow_repeat_tx is 0.
 *   RTCSEC_ERR_SRTP_TOO_OLD      sequence number far behind the ones sent.
 *   RTCSEC_ERR_SRTP              other libsrtp2 failure (buf undefined). */
RTCSEC_API int rtcsec_srtp_protect_rtp(rtcsec_srtp *s, uint8_t *buf, size_t len, size_t cap,
                                       size_t *out_len);

/* Protects the RTCP (compound) packet buf[0..len) in place, encrypted (E
 * flag set) with the next SRTCP index of its sender SSRC.
 * Errors: as rtcsec_srtp_protect_rtp(), where "malformed" means shorter than
 * 8 octets or version not 2, and the room needed is
 * rtcsec_srtp_rtcp_overhead(). */
RTCSEC_API int rtcsec_srtp_protect_rtcp(rtcsec_srtp *s, uint8_t *buf, size_t len, size_t cap,
                                        size_t *out_len);

/* Verifies and decrypts the SRTP packet buf[0..len) in place; *out_len is
 * the RTP packet length. On error the packet must be dropped; buf is then
 * undefined (it may be partly decrypted).
 * Errors:
 *   RTCSEC_ERR_INVALID_ARGUMENT  NULL s, buf or out_len.
 *   RTCSEC_ERR_SRTP_MALFORMED    the RTP header is invalid (as for protect)
 *                                or there is no room for the tag.
 *   RTCSEC_ERR_TOO_LARGE         len > INT_MAX.
 *   RTCSEC_ERR_SRTP_SSRC_LIMIT   a new SSRC while max_inbound_ssrcs SSRCs
 *                                are known; libsrtp2 never saw it.
 *   RTCSEC_ERR_SRTP_AUTH         the tag does not verify (forged, damaged,
 *                                or keyed differently).
 *   RTCSEC_ERR_SRTP_REPLAY       this index was already accepted.
 *   RTCSEC_ERR_SRTP_TOO_OLD      the index is left of the replay window.
 *   RTCSEC_ERR_SRTP_KEY_LIMIT    libsrtp2 reports the peer's key used up.
 *   RTCSEC_ERR_SRTP              other libsrtp2 failure.
 * An SSRC counts as known, for the cap and in the statistics, only once one
 * of its packets authenticated. */
RTCSEC_API int rtcsec_srtp_unprotect_rtp(rtcsec_srtp *s, uint8_t *buf, size_t len, size_t *out_len);

/* Verifies and decrypts the SRTCP packet buf[0..len) in place.
 * Errors: as rtcsec_srtp_unprotect_rtp(); RTCSEC_ERR_SRTP_MALFORMED also
 * for a packet shorter than 8 octets + tag + index, and for an SRTCP packet
 * with the E flag clear: every profile here encrypts SRTCP, so an
 * unencrypted one is refused before libsrtp2 sees it (RFC 3711 §3.4 lets
 * the E flag announce unencrypted SRTCP; this policy does not allow it). */
RTCSEC_API int rtcsec_srtp_unprotect_rtcp(rtcsec_srtp *s, uint8_t *buf, size_t len,
                                          size_t *out_len);

/* Counters of one direction. "Bytes" count RTP/RTCP packets before
 * protection and after unprotection (header included, trailer excluded). */
typedef struct rtcsec_srtp_direction_stats {
  uint64_t rtp_packets; /* protected (outbound) or accepted (inbound) */
  uint64_t rtp_bytes;
  uint64_t rtcp_packets;
  uint64_t rtcp_bytes;
  uint64_t auth_failures;      /* RTCSEC_ERR_SRTP_AUTH */
  uint64_t replay_drops;       /* RTCSEC_ERR_SRTP_REPLAY */
  uint64_t too_old_drops;      /* RTCSEC_ERR_SRTP_TOO_OLD */
  uint64_t malformed;          /* RTCSEC_ERR_SRTP_MALFORMED */
  uint64_t ssrc_limit_drops;   /* inbound RTCSEC_ERR_SRTP_SSRC_LIMIT, outbound RTCSEC_ERR_LIMIT */
  uint64_t key_limit_refusals; /* RTCSEC_ERR_SRTP_KEY_LIMIT */
  uint64_t other_errors;       /* RTCSEC_ERR_SRTP, RTCSEC_ERR_TOO_LARGE */
  size_t ssrcs;                /* distinct SSRCs known, at most the configured cap */
} rtcsec_srtp_direction_stats;

typedef struct rtcsec_srtp_stats {
  rtcsec_srtp_direction_stats outbound;
  rtcsec_srtp_direction_stats inbound;
  int local_key_exhausted; /* 1 once protect fails with RTCSEC_ERR_SRTP_KEY_LIMIT */
} rtcsec_srtp_stats;

/* Fills *out. Errors: RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_srtp_get_stats(const rtcsec_srtp *s, rtcsec_srtp_stats *out);

/* Counters of one SSRC in one direction. */
typedef struct rtcsec_srtp_ssrc_stats {
  uint32_t ssrc;
  uint64_t rtp_packets; /* protected (outbound) or accepted (inbound) */
  uint64_t rtp_bytes;
  uint64_t rtcp_packets; /* with this SSRC as the RTCP sender SSRC */
  uint64_t rtcp_bytes;
  uint16_t last_seq; /* sequence number of the latest RTP packet; valid if rtp_packets > 0 */
  uint32_t roc;      /* libsrtp2's rollover counter for this SSRC (srtp_get_stream_roc) */
} rtcsec_srtp_ssrc_stats;

/* Fills *out for ssrc in the outbound (outbound != 0) or inbound direction.
 * Not on the packet path: asks libsrtp2 for the rollover counter.
 * Errors: RTCSEC_ERR_INVALID_ARGUMENT (NULL pointer, or an SSRC that has
 * not been protected / authenticated in that direction). */
RTCSEC_API int rtcsec_srtp_get_ssrc_stats(const rtcsec_srtp *s, uint32_t ssrc, int outbound,
                                          rtcsec_srtp_ssrc_stats *out);

#ifdef __cplusplus
}
#endif
#endif
