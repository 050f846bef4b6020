/* Drives two sans-IO endpoints over a sim_link with a fake clock that jumps
 * to the earliest deadline or delivery. */
#ifndef RTCSEC_TEST_HARNESS_H
#define RTCSEC_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"
#include "rtcsec/rtcsec.h"
#include "rtcsec/transport.h"

typedef struct harness_endpoint {
  void *obj;
  int (*handle_datagram)(void *obj, const uint8_t *data, size_t len, uint64_t now);
  int (*handle_timeout)(void *obj, uint64_t now);
  uint64_t (*deadline)(void *obj);
  int (*poll_datagram)(void *obj, uint8_t *buf, size_t cap, size_t *len);
} harness_endpoint;

typedef struct harness_hooks {
  /* After every step; return nonzero to stop the run. */
  int (*step)(void *user, uint64_t now);
  /* Every datagram an endpoint emits, before the link sees it. */
  void (*on_send)(void *user, int from, const uint8_t *data, size_t len);
  void *user;
} harness_hooks;

typedef enum harness_end {
  HARNESS_STOPPED = 1,   /* step hook asked to stop */
  HARNESS_QUIESCENT = 0, /* nothing in flight, no deadline */
  HARNESS_TIME_LIMIT = -1,
} harness_end;

/* Runs until the step hook stops it, nothing is left to do, or the clock
 * would pass `until`. *now is advanced (and the fake clock with it). */
harness_end harness_run(harness_endpoint ep[2], sim_link *l, uint64_t *now, uint64_t until,
                        const harness_hooks *hooks);

/* Adaptor for an rtcsec_dtls association. */
harness_endpoint harness_dtls_endpoint(rtcsec_dtls *d);

/* Moves everything an endpoint has to send onto the link now. */
void harness_flush(harness_endpoint *ep, int from, sim_link *l, uint64_t now,
                   const harness_hooks *hooks);

/* Adaptor for an rtcsec_transport. Each received datagram is offered to it;
 * on_input (optional) sees the outcome: rc, the class, and for media the
 * plaintext. */
typedef struct harness_transport {
  rtcsec_transport *t;
  void (*on_input)(void *user, int rc, const rtcsec_transport_input *in, const uint8_t *buf);
  void *user;
} harness_transport;

harness_endpoint harness_transport_endpoint(harness_transport *ht);
#endif
