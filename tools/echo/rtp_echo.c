/* rtcsec-echo: RTP and RTCP rewriting for the echo (see rtp_echo.h).
 * RTP: RFC 3550 §5.1; RTCP: RFC 3550 §6.4, RFC 4585 §6, RFC 5104 §4.3.1;
 * REMB: draft-alvestrand-rmcat-remb. */
#include "rtp_echo.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

void echo_rewriter_init(echo_rewriter *rw) { memset(rw, 0, sizeof(*rw)); }

int echo_rewriter_add_stream(echo_rewriter *rw, int kind, uint32_t local_ssrc,
                             uint32_t remote_ssrc) {
  if (rw->n_streams == ECHO_MAX_STREAMS || local_ssrc == 0)
    return -1;
  echo_stream *s = &rw->streams[rw->n_streams];
  memset(s, 0, sizeof(*s));
  s->kind = kind;
  s->local_ssrc = local_ssrc;
  s->remote_ssrc = remote_ssrc;
  for (size_t i = 0; i < 128; i++)
    s->pt_map[i] = -1;
  return (int)rw->n_streams++;
}

void echo_rewriter_map_pt(echo_rewriter *rw, int idx, uint8_t in_pt, uint8_t out_pt) {
  if (idx < 0 || (size_t)idx >= rw->n_streams || in_pt > 127 || out_pt > 127)
    return;
  rw->streams[idx].pt_map[in_pt] = out_pt;
}

uint32_t echo_rewriter_swap(const echo_rewriter *rw, uint32_t ssrc) {
  if (ssrc == 0)
    return 0;
  for (size_t i = 0; i < rw->n_streams; i++) {
    const echo_stream *s = &rw->streams[i];
    if (s->remote_ssrc != 0 && ssrc == s->remote_ssrc)
      return s->local_ssrc;
    if (s->remote_ssrc != 0 && ssrc == s->local_ssrc)
      return s->remote_ssrc;
  }
  return ssrc;
}

static void swap_at(const echo_rewriter *rw, uint8_t *p) {
  wr32(p, echo_rewriter_swap(rw, rd32(p)));
}

int echo_rewrite_rtp(echo_rewriter *rw, uint8_t *buf, size_t len) {
  if (len < 12 || (buf[0] >> 6) != 2) {
    rw->rtp_malformed++;
    return -1;
  }
  uint8_t pt = buf[1] & 0x7f;
  uint32_t ssrc = rd32(buf + 8);
  echo_stream *s = NULL;
  for (size_t i = 0; i < rw->n_streams && s == NULL; i++)
    if (rw->streams[i].remote_ssrc == ssrc)
      s = &rw->streams[i];
  /* A browser that declared no a=ssrc: the first SSRC seen with one of a
   * stream's payload types becomes that stream's. */
  for (size_t i = 0; i < rw->n_streams && s == NULL; i++)
    if (rw->streams[i].remote_ssrc == 0 && rw->streams[i].pt_map[pt] >= 0) {
      s = &rw->streams[i];
      s->remote_ssrc = ssrc;
    }
  if (s == NULL) {
    rw->rtp_dropped_ssrc++;
    return -1;
  }
  if (s->pt_map[pt] < 0) {
    rw->rtp_dropped_pt++;
    return -1;
  }
  buf[1] = (uint8_t)((buf[1] & 0x80) | (uint8_t)s->pt_map[pt]);
  wr32(buf + 8, s->local_ssrc);
  s->packets++;
  s->bytes += len;
  return (int)(s - rw->streams);
}

/* ---- cache ----------------------------------------------------------------- */

/* Closes the rate window once it is ECHO_RATE_WINDOW_US old: the rate is
 * what was put in it over the time it really spanned (longer if no packet
 * came for a while, which lowers the rate as it should). */
static void rate_update(echo_rtp_cache *c, uint64_t now) {
  if (!c->rate_started) {
    c->rate_started = 1;
    c->window_start_us = now;
    c->window_bytes = 0;
    return;
  }
  if (now < c->window_start_us || now - c->window_start_us < ECHO_RATE_WINDOW_US)
    return;
  uint64_t span = now - c->window_start_us;
  /* Divide first, so that neither a large count nor a long silence (span
   * past 2^32 us, 71 min) overflows the product. */
  if (span > UINT32_MAX)
    c->rate_bytes_per_s = c->window_bytes / (span / 1000000u);
  else
    c->rate_bytes_per_s =
        c->window_bytes / span * 1000000u + c->window_bytes % span * 1000000u / span;
  c->window_start_us = now;
  c->window_bytes = 0;
}

void echo_rtp_cache_put(echo_rtp_cache *c, const uint8_t *pkt, size_t len, uint64_t now_us) {
  if (c == NULL)
    return;
  rate_update(c, now_us);
  if (c->window_bytes <= UINT64_MAX - len)
    c->window_bytes += len;
  if (len < 12 || len > ECHO_CACHE_PKT)
    return;
  uint16_t seq = rd16(pkt + 2);
  size_t i = seq & (ECHO_CACHE_SLOTS - 1);
  c->slot[i].used = 1;
  c->slot[i].seq = seq;
  c->slot[i].len = (uint16_t)len;
  c->slot[i].resent = 0;
  c->slot[i].resent_us = 0;
  memcpy(c->slot[i].data, pkt, len);
}

const uint8_t *echo_rtp_cache_get(const echo_rtp_cache *c, uint16_t seq, size_t *len) {
  if (c == NULL)
    return NULL;
  size_t i = seq & (ECHO_CACHE_SLOTS - 1);
  if (!c->slot[i].used || c->slot[i].seq != seq)
    return NULL;
  *len = c->slot[i].len;
  return c->slot[i].data;
}

#define UBYTES 1000000u /* the bucket counts millionths of a byte */
#define BUCKET_DEPTH ((uint64_t)ECHO_RESEND_BURST * UBYTES)
#define REFILL_MAX_US 10000000u /* a longer gap refills no more than 10 s would */

/* Token bucket: refills at ECHO_RESEND_RATE_PERCENT of the measured video
 * rate since the last call. rate_bytes_per_s x percent x 10 s stays far below
 * 2^64 for any rate a link can carry (1.25e9 B/s x 25 x 1e7 = 3e17). */
static void bucket_refill(echo_rtp_cache *c, uint64_t now) {
  if (!c->refill_started || now < c->refilled_us) {
    c->refill_started = 1;
    c->refilled_us = now;
    return;
  }
  uint64_t dt = now - c->refilled_us;
  if (dt > REFILL_MAX_US)
    dt = REFILL_MAX_US;
  uint64_t rate = c->rate_bytes_per_s < 1250000000u ? c->rate_bytes_per_s : 1250000000u;
  uint64_t add = rate * ECHO_RESEND_RATE_PERCENT * dt / 100u;
  c->spent_ubytes = add >= c->spent_ubytes ? 0 : c->spent_ubytes - add;
  c->refilled_us = now;
}

/* Takes len bytes from the bucket; 0 if there are not that many. */
static int bucket_take(echo_rtp_cache *c, size_t len) {
  uint64_t want = (uint64_t)len * UBYTES;
  if (c->spent_ubytes > BUCKET_DEPTH || BUCKET_DEPTH - c->spent_ubytes < want)
    return 0;
  c->spent_ubytes += want;
  return 1;
}

uint64_t echo_rewriter_rtt_window(const echo_rewriter *rw) {
  uint64_t rtt = rw->rtt_samples > 0 ? rw->rtt_us : ECHO_RTT_DEFAULT_US;
  if (rtt < ECHO_RTT_MIN_US)
    return ECHO_RTT_MIN_US;
  return rtt > ECHO_RTT_MAX_US ? ECHO_RTT_MAX_US : rtt;
}

/* ---- RTT from the browser's reports (RFC 3550 §6.4.1) ----------------------- */

/* An SR the echo forwards as its own: remember when, for the LSR it will
 * come back as. */
static void rtt_note_sr(echo_rewriter *rw, uint32_t ssrc, const uint8_t *ntp, uint64_t now) {
  size_t i = rw->sr_next % ECHO_SR_HISTORY;
  rw->sr_sent[i].ssrc = ssrc;
  rw->sr_sent[i].ntp_mid = rd32(ntp + 2);
  rw->sr_sent[i].sent_us = now;
  rw->sr_next = (i + 1) % ECHO_SR_HISTORY;
}

static int is_local_ssrc(const echo_rewriter *rw, uint32_t ssrc) {
  for (size_t i = 0; i < rw->n_streams; i++)
    if (rw->streams[i].local_ssrc == ssrc)
      return 1;
  return 0;
}

/* A report block (before the swap) from the browser: if it is about one of
 * rtcsec's streams and names an SR the echo sent (LSR), RTT = now - sent -
 * DLSR. LSR 0 means no SR was received yet (RFC 3550 §6.4.1). */
static void rtt_note_block(echo_rewriter *rw, const uint8_t *block, uint64_t now) {
  uint32_t source = rd32(block), lsr = rd32(block + 16), dlsr = rd32(block + 20);
  if (lsr == 0 || !is_local_ssrc(rw, source))
    return;
  for (size_t i = 0; i < ECHO_SR_HISTORY; i++) {
    if (rw->sr_sent[i].ssrc != source || rw->sr_sent[i].ntp_mid != lsr)
      continue;
    /* DLSR is in units of 1/65536 s. */
    uint64_t delay = (uint64_t)dlsr * 1000000u / 65536u;
    uint64_t sent = rw->sr_sent[i].sent_us;
    if (now < sent || now - sent < delay)
      return; /* the report claims more delay than there was: no sample */
    uint64_t sample = now - sent - delay;
    if (rw->rtt_samples == 0) {
      rw->rtt_us = sample;
    } else if (sample >= rw->rtt_us) {
      rw->rtt_us += (sample - rw->rtt_us) / 8; /* RFC 6298 §2.3's alpha = 1/8 */
    } else {
      rw->rtt_us -= (rw->rtt_us - sample) / 8;
    }
    rw->rtt_samples++;
    return;
  }
}

/* ---- RTCP ------------------------------------------------------------------ */

#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_BYE 203
#define RTCP_RTPFB 205
#define RTCP_PSFB 206

/* What rewrite_one() needs besides the packet. */
typedef struct rtcp_ctx {
  echo_rewriter *rw;
  echo_rtp_cache *cache;
  echo_resend_fn resend;
  void *user;
  uint64_t now;
} rtcp_ctx;

/* A set of 16-bit sequence numbers, one bit each (8 KB). */
typedef struct seq_set {
  uint64_t bits[65536 / 64];
} seq_set;

/* Adds seq; returns 0 if it was already there. */
static int seq_set_add(seq_set *s, uint16_t seq) {
  uint64_t bit = (uint64_t)1 << (seq % 64);
  if (s->bits[seq / 64] & bit)
    return 0;
  s->bits[seq / 64] |= bit;
  return 1;
}

/* One sequence number a NACK names, in the cache: resend it if the limits
 * allow. Returns 1 if it is accounted for (resent or refused), 0 if the
 * cache does not have it (the browser must be asked). */
static int nack_answer(rtcp_ctx *x, uint16_t seq) {
  echo_rtp_cache *c = x->cache;
  size_t i = seq & (ECHO_CACHE_SLOTS - 1);
  if (!c->slot[i].used || c->slot[i].seq != seq)
    return 0;
  if (c->slot[i].resent && x->now >= c->slot[i].resent_us &&
      x->now - c->slot[i].resent_us < echo_rewriter_rtt_window(x->rw)) {
    x->rw->nack_refused_rtt++;
    return 1;
  }
  bucket_refill(c, x->now);
  if (!bucket_take(c, c->slot[i].len)) {
    x->rw->nack_refused_rate++;
    return 1;
  }
  c->slot[i].resent = 1;
  c->slot[i].resent_us = x->now;
  x->resend(x->user, c->slot[i].data, c->slot[i].len);
  x->rw->nack_resent++;
  x->rw->nack_resent_bytes += c->slot[i].len;
  return 1;
}

/* Generic NACK (RFC 4585 §6.2.1) whose media SSRC is the cached stream:
 * resends what the cache has (within the limits) and rewrites the FCI to
 * what it does not, each sequence number once, in order from the first
 * PID. Returns the new packet length (0: nothing left to ask for). */
static size_t nack_from_cache(rtcp_ctx *x, uint8_t *p, size_t plen) {
  seq_set named, missing; /* 16 KB of stack, no state kept between calls */
  memset(&named, 0, sizeof(named));
  memset(&missing, 0, sizeof(missing));
  size_t n_fci = (plen - 12) / 4, n_missing = 0;
  if (n_fci == 0)
    return 0; /* asks for nothing */
  uint16_t first = rd16(p + 12);
  rate_update(x->cache, x->now);
  for (size_t f = 0; f < n_fci; f++) {
    const uint8_t *fci = p + 12 + 4 * f;
    uint16_t pid = rd16(fci), blp = rd16(fci + 2);
    for (unsigned b = 0; b <= 16; b++) {
      if (b > 0 && !(blp & (1u << (b - 1))))
        continue;
      uint16_t seq = (uint16_t)(pid + b);
      if (!seq_set_add(&named, seq)) {
        x->rw->nack_duplicates++;
        continue;
      }
      if (!nack_answer(x, seq)) {
        seq_set_add(&missing, seq);
        n_missing++;
      }
    }
  }
  /* Re-encode in sequence order from the first PID: each entry a PID and
   * the 16 following in its bitmask. Sorted and without duplicates, this
   * needs no more entries than the request had. */
  size_t out = 0, left = n_missing;
  for (uint32_t k = 0; k < 65536 && left > 0; k++) {
    uint16_t pid = (uint16_t)(first + k);
    if (!(missing.bits[pid / 64] & ((uint64_t)1 << (pid % 64))))
      continue;
    uint16_t blp = 0;
    left--;
    for (unsigned d = 1; d <= 16 && k + d < 65536 && left > 0; d++) {
      uint16_t s = (uint16_t)(pid + d);
      if (missing.bits[s / 64] & ((uint64_t)1 << (s % 64))) {
        blp |= (uint16_t)(1u << (d - 1));
        left--;
      }
    }
    k += 16;
    if (out == n_fci)
      return plen; /* cannot happen (see above); keep the original */
    wr16(p + 12 + 4 * out, pid);
    wr16(p + 12 + 4 * out + 2, blp);
    out++;
  }
  if (out == 0)
    return 0;
  size_t newlen = 12 + 4 * out;
  wr16(p + 2, (uint16_t)(newlen / 4 - 1));
  return newlen;
}

/* Rewrites one RTCP packet p[0..plen); returns the length to keep (0: drop). */
static size_t rewrite_one(rtcp_ctx *x, uint8_t *p, size_t plen) {
  echo_rewriter *rw = x->rw;
  uint8_t type = p[1];
  unsigned count = p[0] & 0x1f;
  int padded = (p[0] & 0x20) != 0;
  switch (type) {
  case RTCP_SR:
  case RTCP_RR: {
    size_t head = type == RTCP_SR ? 28 : 8;
    if (plen < head + 24 * (size_t)count)
      return 0;
    swap_at(rw, p + 4);
    if (type == RTCP_SR && is_local_ssrc(rw, rd32(p + 4)))
      rtt_note_sr(rw, rd32(p + 4), p + 8, x->now);
    for (unsigned i = 0; i < count; i++) {
      rtt_note_block(rw, p + head + 24 * i, x->now);
      swap_at(rw, p + head + 24 * i);
    }
    return plen;
  }
  case RTCP_BYE:
    if (plen < 4 + 4 * (size_t)count)
      return 0;
    for (unsigned i = 0; i < count; i++)
      swap_at(rw, p + 4 + 4 * i);
    return plen;
  case RTCP_RTPFB: {
    if (count != 1 || plen < 12)
      return 0; /* only generic NACK is negotiated */
    uint32_t media = rd32(p + 8);
    swap_at(rw, p + 4);
    swap_at(rw, p + 8);
    if (!padded && x->cache != NULL && x->resend != NULL && media == x->cache->ssrc)
      plen = nack_from_cache(x, p, plen);
    if (plen > 0)
      rw->nack++;
    return plen;
  }
  case RTCP_PSFB:
    if (plen < 12)
      return 0;
    if (count == 1) { /* PLI, RFC 4585 §6.3.1 */
      swap_at(rw, p + 4);
      swap_at(rw, p + 8);
      rw->pli++;
      return plen;
    }
    if (count == 4) { /* FIR, RFC 5104 §4.3.1: FCI = SSRC, seq nr, reserved */
      swap_at(rw, p + 4);
      swap_at(rw, p + 8);
      for (size_t off = 12; off + 8 <= plen; off += 8)
        swap_at(rw, p + off);
      rw->fir++;
      return plen;
    }
    if (count == 15 && plen >= 20 && memcmp(p + 12, "REMB", 4) == 0) {
      size_t n = p[16];
      if (plen < 20 + 4 * n)
        return 0;
      swap_at(rw, p + 4);
      swap_at(rw, p + 8);
      for (size_t i = 0; i < n; i++)
        swap_at(rw, p + 20 + 4 * i);
      return plen;
    }
    return 0;
  default:
    return 0; /* SDES, APP, XR, ... */
  }
}

int echo_rewrite_rtcp(echo_rewriter *rw, uint8_t *buf, size_t len, size_t *out_len,
                      echo_rtp_cache *cache, echo_resend_fn resend, void *user, uint64_t now_us) {
  rtcp_ctx x = {rw, cache, resend, user, now_us};
  /* Validate the whole compound first: a malformed one is dropped whole
   * and nothing is resent for it. */
  for (size_t pos = 0; pos < len;) {
    if (len - pos < 4 || (buf[pos] >> 6) != 2) {
      rw->rtcp_dropped++;
      return -1;
    }
    size_t plen = ((size_t)rd16(buf + pos + 2) + 1) * 4;
    if (plen > len - pos) {
      rw->rtcp_dropped++;
      return -1;
    }
    pos += plen;
  }
  if (len == 0) {
    rw->rtcp_dropped++;
    return -1;
  }
  size_t out = 0;
  for (size_t pos = 0; pos < len;) {
    size_t plen = ((size_t)rd16(buf + pos + 2) + 1) * 4;
    size_t keep = rewrite_one(&x, buf + pos, plen);
    if (keep > 0) {
      memmove(buf + out, buf + pos, keep);
      out += keep;
    } else {
      rw->rtcp_parts_dropped++;
    }
    pos += plen;
  }
  *out_len = out;
  if (out == 0) {
    rw->rtcp_dropped++;
    return 0;
  }
  rw->rtcp_forwarded++;
  return 1;
}
