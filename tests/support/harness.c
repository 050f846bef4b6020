#include "harness.h"

#include <stdlib.h>

#include "fakeclock.h"

static int dtls_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  return rtcsec_dtls_handle_datagram(o, d, n, now);
}
static int dtls_to(void *o, uint64_t now) { return rtcsec_dtls_handle_timeout(o, now); }
static uint64_t dtls_dl(void *o) { return rtcsec_dtls_deadline(o); }
static int dtls_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_dtls_poll_datagram(o, b, c, n);
}

harness_endpoint harness_dtls_endpoint(rtcsec_dtls *d) {
  return (harness_endpoint){d, dtls_in, dtls_to, dtls_dl, dtls_out};
}

void harness_flush(harness_endpoint *ep, int from, sim_link *l, uint64_t now,
                   const harness_hooks *hooks) {
  uint8_t buf[65536];
  for (;;) {
    size_t n = 0;
    if (ep->poll_datagram(ep->obj, buf, sizeof(buf), &n) != 0 || n == 0)
      break;
    if (hooks && hooks->on_send)
      hooks->on_send(hooks->user, from, buf, n);
    link_send(l, from, buf, n, now);
  }
}

harness_end harness_run(harness_endpoint ep[2], sim_link *l, uint64_t *now, uint64_t until,
                        const harness_hooks *hooks) {
  fakeclock_set(*now);
  for (;;) {
    for (int i = 0; i < 2; i++)
      harness_flush(&ep[i], i, l, *now, hooks);
    if (hooks && hooks->step && hooks->step(hooks->user, *now))
      return HARNESS_STOPPED;
    uint64_t t = link_next_delivery(l);
    for (int i = 0; i < 2; i++) {
      uint64_t dl = ep[i].deadline(ep[i].obj);
      if (dl < t)
        t = dl;
    }
    if (t == UINT64_MAX)
      return HARNESS_QUIESCENT;
    if (t > until)
      return HARNESS_TIME_LIMIT;
    if (t > *now)
      *now = t;
    fakeclock_set(*now);
    int to;
    uint8_t *data;
    size_t len;
    while (link_pop_due(l, *now, &to, &data, &len)) {
      ep[to].handle_datagram(ep[to].obj, data, len, *now);
      free(data);
      harness_flush(&ep[to], to, l, *now, hooks);
    }
    for (int i = 0; i < 2; i++) {
      if (ep[i].deadline(ep[i].obj) <= *now)
        ep[i].handle_timeout(ep[i].obj, *now);
    }
  }
}

static int tr_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  harness_transport *ht = o;
  /* The link owns its copy of the datagram; media is unprotected in place. */
  uint8_t *buf = (uint8_t *)d;
  rtcsec_transport_input in;
  int rc = rtcsec_transport_handle_datagram(ht->t, buf, n, now, &in);
  if (ht->on_input)
    ht->on_input(ht->user, rc, &in, buf);
  return rc;
}
static int tr_to(void *o, uint64_t now) {
  return rtcsec_transport_handle_timeout(((harness_transport *)o)->t, now);
}
static uint64_t tr_dl(void *o) { return rtcsec_transport_deadline(((harness_transport *)o)->t); }
static int tr_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return rtcsec_transport_poll_datagram(((harness_transport *)o)->t, b, c, n);
}

harness_endpoint harness_transport_endpoint(harness_transport *ht) {
  return (harness_endpoint){ht, tr_in, tr_to, tr_dl, tr_out};
}
