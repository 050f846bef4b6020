/* Two data-channel associations (rtcsec_dc) over the seeded in-memory link
 * with the fake clock: SCTP packets go straight onto the link (no DTLS),
 * or, with dpair_new_stack(), through two connected rtcsec_transports. */
#ifndef RTCSEC_TEST_DC_PAIR_H
#define RTCSEC_TEST_DC_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "link.h"
#include "rtcsec/datachannel.h"
#include "transport_util.h"

#define DPAIR_MAX_IDS 1024

typedef struct dpair dpair;

typedef struct dside {
  rtcsec_dc *dc;
  int connected, closed, failed, error;
  int open_events[DPAIR_MAX_IDS];   /* CHANNEL_OPEN per id */
  int closed_events[DPAIR_MAX_IDS]; /* CHANNEL_CLOSED per id */
  int low_events[DPAIR_MAX_IDS];
  uint64_t messages[DPAIR_MAX_IDS]; /* MESSAGE per channel */
  uint64_t messages_total;
  int events_after_final; /* anything after CLOSED / FAILED: a bug */
  int bad_event;          /* an event that breaks the API's promises */
  /* whole stack only */
  harness_transport ht;
  int transport_closed;
} dside;

struct dpair {
  dside side[2]; /* side[0]: the DTLS client (even ids) */
  sim_link *link;
  harness_endpoint ep[2];
  uint64_t now;
  uint64_t seed;
  tpair *tp; /* whole stack: the transports (NULL otherwise) */
  /* Optional: every event, after it was counted. */
  void (*on_event)(dpair *p, int side, const rtcsec_event *ev);
  void *user;
};

/* A pair over the link lc (NULL: clean, 10 ms delay); cfg[i] NULL takes
 * the defaults with the right DTLS role. Not started. */
dpair *dpair_new(const link_config *lc, const rtcsec_dc_config *cfg0, const rtcsec_dc_config *cfg1);
/* A pair carried by two connected rtcsec_transports (DTLS over the link). */
dpair *dpair_new_stack(const link_config *lc, const rtcsec_dc_config *cfg0,
                       const rtcsec_dc_config *cfg1);
void dpair_free(dpair *p);

/* What a DTLS association of `role` reports as connected, for associations
 * carried by no DTLS (the role only; strings ""). */
rtcsec_connected_info dpair_plain_dtls(rtcsec_dtls_role role);

/* Starts both associations (with the transports' CONNECTED payloads in a
 * whole-stack pair) and runs until both report CONNECTED (fails the test
 * otherwise, printing the seed). */
void dpair_connect(dpair *p);
/* Runs until done(p) returns nonzero or `limit_us` of fake time passes.
 * Returns 1 if done. */
int dpair_run(dpair *p, uint64_t limit_us, int (*done)(dpair *p));
/* Polls both sides' events now (and puts what they send on the link). */
void dpair_poll(dpair *p);

/* Message payloads that carry their own check: 8-byte header (channel,
 * sequence) then bytes derived from both. */
void dpair_fill(uint8_t *buf, size_t len, uint16_t channel, uint32_t seq);
/* 1 if buf is what dpair_fill wrote for some sequence; *seq gets it. */
int dpair_check(const uint8_t *buf, size_t len, uint16_t channel, uint32_t *seq);

#endif
