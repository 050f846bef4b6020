/* libFuzzer target: SRTP / SRTCP unprotect (srtp_bridge), with a sender and
 * a receiver keyed from fixed keys as a DTLS-SRTP association would key them.
 *
 * Input:
 *   byte 0  bits 0-1: profile (AES128_CM_SHA1_80, AES128_CM_SHA1_32,
 *           AEAD_AES_128_GCM, AEAD_AES_256_GCM)
 *           bits 2-3: replay window (1024, 64, 128, 32767)
 *           bit 4: allow_repeat_tx off;  bit 5: at most 2 inbound SSRCs
 *   then operations, one byte each plus operands; kind = op & 7,
 *   s = (op >> 3) & 3 picks one of four SSRCs:
 *     0 protect an RTP packet (seq:2, len:1, flags:1) and unprotect it on
 *       the other side
 *     1 protect an RTCP packet (len:1) and unprotect it on the other side
 *     2 unprotect own bytes as SRTP (len:2, bytes)
 *     3 unprotect own bytes as SRTCP (len:2, bytes)
 *     4 deliver again an earlier protected packet (which:1)
 *     5 flip a bit (which:1, bit:2) of an earlier protected packet, deliver
 *     6 protect an RTP packet (seq:2, len:1, flags:1) and keep it back
 *       (delivered later by 4: reordering)
 *     7 protect with too small a buffer (len:1, short:1): must refuse
 *
 * Invariants: no crash, no read or write outside the exact-size buffers
 * (ASan); unprotected output is exactly what was protected; an accepted
 * packet is never accepted again (replay protection); a protected packet with
 * any bit flipped is refused (except for the 32-bit SRTP tag of
 * AES128_CM_SHA1_32, where a forgery by chance is 2^-32 per try); own bytes
 * that are accepted are exactly what a sender with the key would have
 * made of the plaintext; the RTP (RTCP) header comes out unchanged; the
 * inbound counters agree with what was accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtcsec/srtp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 512
#define HISTORY 16
#define MAX_PKT 1500

static const rtcsec_srtp_profile profiles[4] = {
    RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AES128_CM_SHA1_32, RTCSEC_SRTP_AEAD_AES_128_GCM,
    RTCSEC_SRTP_AEAD_AES_256_GCM};
static const size_t windows[4] = {1024, 64, 128, 32767};
static const uint32_t ssrcs[4] = {0x11223344u, 0xCAFEBABEu, 0x00000001u, 0xFFFFFFFFu};

typedef struct sent {
  int rtcp;
  uint8_t plain[MAX_PKT];
  size_t plain_len;
  uint8_t prot[MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD];
  size_t prot_len;
  int accepted; /* unprotected once already */
} sent;

typedef struct run {
  rtcsec_srtp_profile profile;
  rtcsec_srtp_config cfg;
  rtcsec_srtp_keys tx_keys, rx_keys;
  rtcsec_srtp *tx, *rx;
  const uint8_t *in;
  size_t left;
  sent hist[HISTORY];
  size_t n_hist, next_hist;
  uint64_t rtp_ok, rtcp_ok;
  uint64_t rtp_bytes, rtcp_bytes;
} run;

static unsigned take(run *r, unsigned bytes) {
  unsigned v = 0;
  for (unsigned i = 0; i < bytes; i++) {
    v <<= 8;
    if (r->left > 0) {
      v |= *r->in++;
      r->left--;
    }
  }
  return v;
}

/* ---- packets ---------------------------------------------------------------- */

/* An RTP packet: flags bit 0 marker, bits 1-2 CSRC count, bit 3 a header
 * extension (RFC 8285 one-byte form), bits 4-7 the payload type offset.
 * The payload is a function of (ssrc, seq, len): a resend of the same
 * sequence number is the same packet, as allow_repeat_tx requires. */
static size_t make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload, unsigned flags) {
  size_t cc = (flags >> 1) & 3, off = 0;
  buf[off++] = (uint8_t)(0x80 | ((flags & 8) ? 0x10 : 0) | cc);
  buf[off++] = (uint8_t)(((flags & 1) ? 0x80 : 0) | (96 + (flags >> 4)));
  buf[off++] = (uint8_t)(seq >> 8);
  buf[off++] = (uint8_t)seq;
  uint32_t ts = (uint32_t)seq * 3000u;
  for (int i = 3; i >= 0; i--)
    buf[off++] = (uint8_t)(ts >> (8 * i));
  for (int i = 3; i >= 0; i--)
    buf[off++] = (uint8_t)(ssrc >> (8 * i));
  for (size_t i = 0; i < cc; i++) {
    for (int j = 0; j < 4; j++)
      buf[off++] = (uint8_t)(0xA0 + i);
  }
  if (flags & 8) {
    static const uint8_t ext[8] = {0xBE, 0xDE, 0x00, 0x01, 0x10, 0x2A, 0x00, 0x00};
    memcpy(buf + off, ext, sizeof(ext));
    off += sizeof(ext);
  }
  for (size_t i = 0; i < payload; i++)
    buf[off++] = (uint8_t)(ssrc ^ (seq * 7u) ^ (i * 13u));
  return off;
}

/* An RTCP receiver report with `blocks` report blocks (RFC 3550 §6.4.2). */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, unsigned blocks, uint32_t salt) {
  size_t len = 8 + 24 * (size_t)blocks;
  size_t words = len / 4 - 1;
  buf[0] = (uint8_t)(0x80 | blocks);
  buf[1] = 201;
  buf[2] = (uint8_t)(words >> 8);
  buf[3] = (uint8_t)words;
  for (int i = 3; i >= 0; i--)
    buf[4 + (3 - i)] = (uint8_t)(ssrc >> (8 * i));
  for (size_t i = 8; i < len; i++)
    buf[i] = (uint8_t)(salt * 11u + i);
  return len;
}

static void record(run *r, int rtcp, const uint8_t *plain, size_t plain_len, const uint8_t *prot,
                   size_t prot_len, int accepted) {
  sent *s = &r->hist[r->next_hist];
  r->next_hist = (r->next_hist + 1) % HISTORY;
  if (r->n_hist < HISTORY)
    r->n_hist++;
  s->rtcp = rtcp;
  memcpy(s->plain, plain, plain_len);
  s->plain_len = plain_len;
  memcpy(s->prot, prot, prot_len);
  s->prot_len = prot_len;
  s->accepted = accepted;
}

/* ---- unprotect on the receiving side --------------------------------------- */

/* Unprotects an exact-size copy of pkt. Returns the rtcsec code; on success
 * the plaintext is in out (*out_len) and the invariants common to every
 * accepted packet are checked. */
static int receive(run *r, int rtcp, const uint8_t *pkt, size_t len, uint8_t *out,
                   size_t *out_len) {
  uint8_t *buf = malloc(len ? len : 1);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, pkt, len);
  size_t n = 0;
  int rc = rtcp ? rtcsec_srtp_unprotect_rtcp(r->rx, buf, len, &n)
                : rtcsec_srtp_unprotect_rtp(r->rx, buf, len, &n);
  if (rc == 0) {
    size_t overhead =
        rtcp ? rtcsec_srtp_rtcp_overhead(r->profile) : rtcsec_srtp_rtp_overhead(r->profile);
    FUZZ_CHECK(n + overhead == len);
    /* The header travels in the clear and comes out as it went in. */
    size_t hdr = rtcp ? 8 : 12;
    FUZZ_CHECK(n >= hdr && memcmp(buf, pkt, hdr) == 0);
    memcpy(out, buf, n);
    *out_len = n;
    if (rtcp) {
      r->rtcp_ok++;
      r->rtcp_bytes += n;
    } else {
      r->rtp_ok++;
      r->rtp_bytes += n;
    }
  } else {
    FUZZ_CHECK(rc < 0);
  }
  free(buf);
  return rc;
}

/* Protects an exact-capacity copy of plain on the sending side. */
static int protect(run *r, int rtcp, const uint8_t *plain, size_t len, uint8_t *out,
                   size_t *out_len) {
  size_t cap =
      len + (rtcp ? rtcsec_srtp_rtcp_overhead(r->profile) : rtcsec_srtp_rtp_overhead(r->profile));
  uint8_t *buf = malloc(cap);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, plain, len);
  size_t n = 0;
  int rc = rtcp ? rtcsec_srtp_protect_rtcp(r->tx, buf, len, cap, &n)
                : rtcsec_srtp_protect_rtp(r->tx, buf, len, cap, &n);
  if (rc == 0) {
    FUZZ_CHECK(n == cap);
    memcpy(out, buf, n);
    *out_len = n;
  }
  free(buf);
  return rc;
}

/* Own bytes were accepted: a fresh sender with the same key, given the
 * plaintext, must produce exactly those bytes (protection is deterministic
 * in key, SSRC, index and plaintext). Checked where the index is known to
 * a fresh sender: SRTP with rollover counter 0 at the receiver, SRTCP with
 * the index of a fresh sender's first packet. Anything else accepted would be a forgery. */
static uint32_t srtcp_index(const run *r, const uint8_t *pkt, size_t len, size_t plain_len) {
  int aead =
      r->profile == RTCSEC_SRTP_AEAD_AES_128_GCM || r->profile == RTCSEC_SRTP_AEAD_AES_256_GCM;
  /* RFC 3711 §3.4: E+index before the tag; RFC 7714 §9 (libsrtp2): after. */
  size_t at = aead ? len - 4 : plain_len;
  return ((uint32_t)(pkt[at] & 0x7F) << 24) | ((uint32_t)pkt[at + 1] << 16) |
         ((uint32_t)pkt[at + 2] << 8) | pkt[at + 3];
}

static void check_forgery(run *r, int rtcp, const uint8_t *pkt, size_t len, const uint8_t *plain,
                          size_t plain_len) {
  if (!rtcp) {
    uint32_t ssrc =
        ((uint32_t)pkt[8] << 24) | ((uint32_t)pkt[9] << 16) | ((uint32_t)pkt[10] << 8) | pkt[11];
    rtcsec_srtp_ssrc_stats st;
    FUZZ_CHECK(rtcsec_srtp_get_ssrc_stats(r->rx, ssrc, 0, &st) == 0);
    if (st.roc != 0)
      return;
  }
  rtcsec_srtp *fresh = NULL;
  FUZZ_CHECK(rtcsec_srtp_new(&fresh, &r->tx_keys, &r->cfg) == 0);
  uint8_t buf[MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD];
  size_t n = 0;
  FUZZ_CHECK(plain_len <= MAX_PKT);
  memcpy(buf, plain, plain_len);
  rtcsec_srtp *keep = r->tx;
  r->tx = fresh;
  int rc = protect(r, rtcp, plain, plain_len, buf, &n);
  r->tx = keep;
  rtcsec_srtp_free(fresh);
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(n == len);
  /* A fresh sender's first SRTCP index is fixed; compare only at that one. */
  if (rtcp && srtcp_index(r, buf, n, plain_len) != srtcp_index(r, pkt, len, plain_len))
    return;
  FUZZ_CHECK(memcmp(buf, pkt, len) == 0);
}

/* ---- operations --------------------------------------------------------------- */

static void op_protect(run *r, int rtcp, uint32_t ssrc, int deliver) {
  uint8_t plain[MAX_PKT], prot[MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD], out[MAX_PKT];
  size_t plain_len, prot_len = 0, out_len = 0;
  if (rtcp) {
    unsigned v = take(r, 1);
    plain_len = make_rtcp(plain, ssrc, v % 32, v);
  } else {
    uint16_t seq = (uint16_t)take(r, 2);
    size_t payload = take(r, 1) * 4;
    plain_len = make_rtp(plain, ssrc, seq, payload, take(r, 1));
  }
  int rc = protect(r, rtcp, plain, plain_len, prot, &prot_len);
  if (rc != 0) {
    /* A new SSRC past the cap, a repeat with allow_repeat_tx off, a
     * sequence number too far behind: refusals, never a crash. */
    FUZZ_CHECK(rc == RTCSEC_ERR_LIMIT || rc == RTCSEC_ERR_SRTP_REPLAY ||
               rc == RTCSEC_ERR_SRTP_TOO_OLD);
    return;
  }
  int accepted = 0;
  if (deliver && receive(r, rtcp, prot, prot_len, out, &out_len) == 0) {
    FUZZ_CHECK(out_len == plain_len && memcmp(out, plain, plain_len) == 0);
    accepted = 1;
  }
  record(r, rtcp, plain, plain_len, prot, prot_len, accepted);
}

static void op_raw(run *r, int rtcp) {
  size_t len = take(r, 2) % (MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD + 1);
  if (len > r->left)
    len = r->left;
  const uint8_t *pkt = r->in;
  r->in += len;
  r->left -= len;
  uint8_t out[MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD];
  size_t out_len = 0;
  if (receive(r, rtcp, pkt, len, out, &out_len) == 0)
    check_forgery(r, rtcp, pkt, len, out, out_len);
}

static void op_replay(run *r) {
  unsigned which = take(r, 1);
  if (r->n_hist == 0)
    return;
  sent *s = &r->hist[which % r->n_hist];
  uint8_t out[MAX_PKT];
  size_t out_len = 0;
  int rc = receive(r, s->rtcp, s->prot, s->prot_len, out, &out_len);
  if (s->accepted) {
    FUZZ_CHECK(rc != 0);
    /* RFC 3711 §3.3.2: a replayed packet is discarded: as a replay, as too
     * old, or, once the rollover counter has moved so that its index is
     * estimated differently (§3.3.1), as failing authentication. */
    FUZZ_CHECK(rc == RTCSEC_ERR_SRTP_REPLAY || rc == RTCSEC_ERR_SRTP_TOO_OLD ||
               rc == RTCSEC_ERR_SRTP_AUTH);
  } else if (rc == 0) {
    FUZZ_CHECK(out_len == s->plain_len && memcmp(out, s->plain, s->plain_len) == 0);
    s->accepted = 1;
  }
}

static void op_flip(run *r) {
  unsigned which = take(r, 1), bit = take(r, 2);
  if (r->n_hist == 0)
    return;
  sent *s = &r->hist[which % r->n_hist];
  uint8_t pkt[MAX_PKT + RTCSEC_SRTP_MAX_OVERHEAD], out[MAX_PKT];
  size_t out_len = 0;
  memcpy(pkt, s->prot, s->prot_len);
  bit %= (unsigned)(s->prot_len * 8);
  pkt[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  int rc = receive(r, s->rtcp, pkt, s->prot_len, out, &out_len);
  int weak = !s->rtcp && r->profile == RTCSEC_SRTP_AES128_CM_SHA1_32;
  if (!weak)
    FUZZ_CHECK(rc != 0);
}

static void op_short_buffer(run *r, uint32_t ssrc) {
  uint8_t plain[MAX_PKT];
  size_t len = make_rtp(plain, ssrc, (uint16_t)take(r, 2), take(r, 1), 0);
  size_t need = len + rtcsec_srtp_rtp_overhead(r->profile);
  size_t cap = len + take(r, 1) % rtcsec_srtp_rtp_overhead(r->profile); /* < need */
  uint8_t *buf = malloc(cap);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, plain, len);
  size_t n = 12345;
  FUZZ_CHECK(rtcsec_srtp_protect_rtp(r->tx, buf, len, cap, &n) == RTCSEC_ERR_BUFFER_TOO_SMALL);
  FUZZ_CHECK(cap < need && memcmp(buf, plain, len) == 0); /* untouched */
  free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  for (int i = 0; i < 4; i++) {
    if (!rtcsec_srtp_profile_supported(profiles[i]))
      abort(); /* the target would silently test less */
  }
  fuzz_keep_nss_loaded(); /* see fuzz_common.h: 4-5 times faster */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static run r; /* large (history); zeroed below */
  memset(&r, 0, sizeof(r));
  r.profile = profiles[data[0] & 3];
  rtcsec_srtp_config_default(&r.cfg);
  r.cfg.replay_window = windows[(data[0] >> 2) & 3];
  r.cfg.allow_repeat_tx = (data[0] & 0x10) ? 0 : 1;
  if (data[0] & 0x20)
    r.cfg.max_inbound_ssrcs = 2;
  fuzz_srtp_fixed_keys(r.profile, &r.tx_keys, &r.rx_keys);
  FUZZ_CHECK(rtcsec_srtp_new(&r.tx, &r.tx_keys, &r.cfg) == 0);
  FUZZ_CHECK(rtcsec_srtp_new(&r.rx, &r.rx_keys, &r.cfg) == 0);
  FUZZ_CHECK(rtcsec_srtp_get_profile(r.rx) == r.profile);
  r.in = data + 1;
  r.left = size - 1;

  for (int n = 0; n < MAX_OPS && r.left > 0; n++) {
    unsigned op = take(&r, 1);
    uint32_t ssrc = ssrcs[(op >> 3) & 3];
    switch (op & 7) {
    case 0:
      op_protect(&r, 0, ssrc, 1);
      break;
    case 1:
      op_protect(&r, 1, ssrc, 1);
      break;
    case 2:
      op_raw(&r, 0);
      break;
    case 3:
      op_raw(&r, 1);
      break;
    case 4:
      op_replay(&r);
      break;
    case 5:
      op_flip(&r);
      break;
    case 6:
      op_protect(&r, 0, ssrc, 0);
      break;
    default:
      op_short_buffer(&r, ssrc);
      break;
    }
  }

  /* The receiver counted exactly what was accepted. */
  rtcsec_srtp_stats st;
  FUZZ_CHECK(rtcsec_srtp_get_stats(r.rx, &st) == 0);
  FUZZ_CHECK(st.inbound.rtp_packets == r.rtp_ok && st.inbound.rtcp_packets == r.rtcp_ok);
  FUZZ_CHECK(st.inbound.rtp_bytes == r.rtp_bytes && st.inbound.rtcp_bytes == r.rtcp_bytes);
  FUZZ_CHECK(st.inbound.ssrcs <= r.cfg.max_inbound_ssrcs);

  rtcsec_srtp_free(r.tx);
  rtcsec_srtp_free(r.rx);
  rtcsec_srtp_keys_wipe(&r.tx_keys);
  rtcsec_srtp_keys_wipe(&r.rx_keys);
  return 0;
}
