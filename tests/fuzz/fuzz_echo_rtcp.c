/* libFuzzer target: rtcsec-echo's RTCP rewriting (tools/echo/rtp_echo.c),
 * which takes the browser's RTCP compound packets (after SRTCP) and answers
 * NACKs from its cache of sent video.
 *
 * Input: byte 0 picks the clock step between the two calls (x 1 ms), the
 * rest is one RTCP compound packet, rewritten twice (a copy each time).
 * Before, a full cache of 100-byte video packets (sequence numbers k * 129)
 * and a measured video rate.
 *
 * Invariants: nothing past the packet is read or written (ASan: exact-size
 * copies); what is left to forward is no longer than what came; within one
 * call no packet is resent twice; no packet is resent again sooner than the
 * RTT window allows; the resent bytes never exceed the bucket (its depth
 * plus 25 % of the video rate over the time passed); the counters match
 * the resend callback. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtp_echo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOCAL_VIDEO 0x0B0B0B0Bu
#define PKT_LEN 100u

/* Only cached packets are resent, and each has its own slot (k * 129 with
 * 129 odd): per-packet state is kept per slot. */
typedef struct resends {
  const echo_rewriter *rw;
  uint64_t n, bytes;
  uint64_t last_us[ECHO_CACHE_SLOTS]; /* 0: never */
  uint8_t call_seen[ECHO_CACHE_SLOTS];
  uint64_t now;
} resends;

static void on_resend(void *user, const uint8_t *pkt, size_t len) {
  resends *r = user;
  FUZZ_CHECK(len == PKT_LEN);
  size_t slot = (size_t)(pkt[2] << 8 | pkt[3]) % ECHO_CACHE_SLOTS;
  FUZZ_CHECK(!r->call_seen[slot]); /* once per call */
  r->call_seen[slot] = 1;
  /* The window in force now: an RR earlier in the same packet may have
   * changed it. */
  if (r->last_us[slot] != 0)
    FUZZ_CHECK(r->now - r->last_us[slot] >= echo_rewriter_rtt_window(r->rw));
  r->last_us[slot] = r->now;
  r->n++;
  r->bytes += len;
}

static void rewrite(echo_rewriter *rw, echo_rtp_cache *c, resends *r, const uint8_t *pkt,
                    size_t len, uint64_t now) {
  uint8_t *copy = malloc(len ? len : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, pkt, len);
  memset(r->call_seen, 0, sizeof(r->call_seen));
  r->now = now;
  r->rw = rw;
  size_t out = (size_t)-1;
  int rc = echo_rewrite_rtcp(rw, copy, len, &out, c, on_resend, r, now);
  FUZZ_CHECK(rc >= -1 && rc <= 1);
  if (rc >= 0)
    FUZZ_CHECK(out <= len && (rc == 1) == (out > 0));
  else
    FUZZ_CHECK(out == (size_t)-1);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static echo_rewriter rw;
  static echo_rtp_cache cache;
  static resends r;
  echo_rewriter_init(&rw);
  FUZZ_CHECK(echo_rewriter_add_stream(&rw, 0, 0x0A0A0A0Au, 0xA0A0A0A0u) == 0);
  FUZZ_CHECK(echo_rewriter_add_stream(&rw, 1, LOCAL_VIDEO, 0xB0B0B0B0u) == 1);
  memset(&r, 0, sizeof(r));
  /* 2 s of video at 256 packets/s: the rate is measured, the cache full.
   * Built once; each input starts from the state it had then (only the
   * resend marks and the fields before the slots change). */
  static int built;
  static echo_rtp_cache head;
  if (!built) {
    cache.ssrc = LOCAL_VIDEO;
    uint8_t pkt[PKT_LEN];
    memset(pkt, 0x5A, sizeof(pkt));
    pkt[0] = 0x80;
    pkt[1] = 96;
    for (unsigned k = 0; k < 2 * ECHO_CACHE_SLOTS; k++) {
      uint16_t seq = (uint16_t)(k % ECHO_CACHE_SLOTS * 129u);
      pkt[2] = (uint8_t)(seq >> 8);
      pkt[3] = (uint8_t)seq;
      echo_rtp_cache_put(&cache, pkt, sizeof(pkt), 1000000u + k * 3906u);
    }
    memcpy(&head, &cache, offsetof(echo_rtp_cache, slot));
    built = 1;
  }
  memcpy(&cache, &head, offsetof(echo_rtp_cache, slot));
  for (size_t i = 0; i < ECHO_CACHE_SLOTS; i++) {
    cache.slot[i].resent = 0;
    cache.slot[i].resent_us = 0;
  }
  uint64_t t0 = 5000000u, t1 = t0 + (uint64_t)data[0] * 1000u;
  rewrite(&rw, &cache, &r, data + 1, size - 1, t0);
  FUZZ_CHECK(r.bytes <= ECHO_RESEND_BURST);
  uint64_t rate = cache.rate_bytes_per_s; /* measured by now; t1 closes no window */
  FUZZ_CHECK(rate > 0);
  rewrite(&rw, &cache, &r, data + 1, size - 1, t1);
  FUZZ_CHECK(r.bytes <=
             ECHO_RESEND_BURST + rate * ECHO_RESEND_RATE_PERCENT / 100 * (t1 - t0) / 1000000u);
  FUZZ_CHECK(rw.nack_resent == r.n && rw.nack_resent_bytes == r.bytes);
  return 0;
}
