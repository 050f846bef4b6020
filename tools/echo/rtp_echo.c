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

void echo_rtp_cache_put(echo_rtp_cache *c, const uint8_t *pkt, size_t len) {
  if (c == NULL || len < 12 || len > ECHO_CACHE_PKT)
    return;
  uint16_t seq = rd16(pkt + 2);
  size_t i = seq & (ECHO_CACHE_SLOTS - 1);
  c->slot[i].used = 1;
  c->slot[i].seq = seq;
  c->slot[i].len = (uint16_t)len;
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

/* ---- RTCP ------------------------------------------------------------------ */

#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_BYE 203
#define RTCP_RTPFB 205
#define RTCP_PSFB 206
#define MAX_NACKED 1024

/* Generic NACK (RFC 4585 §6.2.1) whose media SSRC is the cached stream:
 * resends what the cache has and rewrites the FCI to what it does not.
 * Returns the new packet length (0: nothing left to ask for). */
static size_t nack_from_cache(echo_rewriter *rw, uint8_t *p, size_t plen,
                              const echo_rtp_cache *cache, echo_resend_fn resend, void *user) {
  uint16_t missing[MAX_NACKED];
  size_t n_missing = 0, n_fci = (plen - 12) / 4;
  int overflow = 0;
  for (size_t f = 0; f < n_fci; f++) {
    const uint8_t *fci = p + 12 + 4 * f;
    uint16_t pid = rd16(fci), blp = rd16(fci + 2);
    for (unsigned b = 0; b <= 16; b++) {
      if (b > 0 && !(blp & (1u << (b - 1))))
        continue;
      uint16_t seq = (uint16_t)(pid + b);
      size_t len;
      const uint8_t *pkt = echo_rtp_cache_get(cache, seq, &len);
      if (pkt != NULL && resend != NULL) {
        resend(user, pkt, len);
        rw->nack_resent++;
      } else if (n_missing < MAX_NACKED) {
        missing[n_missing++] = seq;
      } else {
        overflow = 1;
      }
    }
  }
  if (overflow)
    return plen; /* forward the request as it was */
  /* Re-encode: each entry a PID and the 16 following in its bitmask. */
  size_t out = 0;
  for (size_t i = 0; i < n_missing;) {
    uint16_t pid = missing[i], blp = 0;
    size_t j = i + 1;
    while (j < n_missing) {
      uint16_t d = (uint16_t)(missing[j] - pid);
      if (d < 1 || d > 16)
        break;
      blp |= (uint16_t)(1u << (d - 1));
      j++;
    }
    if (out == n_fci)
      return plen; /* cannot happen for sorted input; keep the original */
    wr16(p + 12 + 4 * out, pid);
    wr16(p + 12 + 4 * out + 2, blp);
    out++;
    i = j;
  }
  if (out == 0)
    return 0;
  size_t newlen = 12 + 4 * out;
  wr16(p + 2, (uint16_t)(newlen / 4 - 1));
  return newlen;
}

/* Rewrites one RTCP packet p[0..plen); returns the length to keep (0: drop). */
static size_t rewrite_one(echo_rewriter *rw, uint8_t *p, size_t plen, const echo_rtp_cache *cache,
                          echo_resend_fn resend, void *user) {
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
    for (unsigned i = 0; i < count; i++)
      swap_at(rw, p + head + 24 * i);
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
    if (!padded && cache != NULL && media == cache->ssrc)
      plen = nack_from_cache(rw, p, plen, cache, resend, user);
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
                      const echo_rtp_cache *cache, echo_resend_fn resend, void *user) {
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
    size_t keep = rewrite_one(rw, buf + pos, plen, cache, resend, user);
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
