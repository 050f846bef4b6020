#include "dtls13_pair.h"

#include <check.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls13_record.h"
#include "fakeclock.h"

/* ---- the pair ----------------------------------------------------------------------------- */

void d13_default_opts(d13_opts *o) {
  memset(o, 0, sizeof(*o));
  d13c_config_default(&o->client);
  rtcsec_dtls13_config_default(&o->server);
}

void d13_pair_init(d13_pair *pr, const d13_opts *o) {
  memset(pr, 0, sizeof(*pr));
  for (int i = 0; i < 2; i++)
    pr->cert[i] = o->certs[i] ? rtcsec_cert_ref(o->certs[i]) : make_cert(o->key[i]);
  d13s_init(&pr->server, pr->cert[1], &o->server);
  if (o->wrong_fp) {
    rtcsec_cert *other = make_cert(RTCSEC_KEY_ECDSA_P256);
    pr->server.expect = fp_of(other, RTCSEC_HASH_SHA256);
    rtcsec_cert_free(other);
  } else {
    pr->server.expect = fp_of(pr->cert[0], RTCSEC_HASH_SHA256);
  }
  pr->assoc = o->assoc;
  if (o->assoc) {
    rtcsec_dtls_config dc;
    rtcsec_dtls_config_default(&dc);
    dc.role = RTCSEC_DTLS_SERVER;
    dc.cert = pr->cert[1];
    ck_assert_uint_le(o->server.n_profiles, RTCSEC_SRTP_MAX_PROFILES);
    for (size_t i = 0; i < o->server.n_profiles; i++)
      dc.profiles[i] = o->server.profiles[i];
    dc.n_profiles = o->server.n_profiles;
    dc.mtu = o->server.mtu;
    dc.rto_initial_us = o->server.rto_initial_us;
    dc.rto_max_us = o->server.rto_max_us;
    dc.handshake_timeout_us = o->server.handshake_timeout_us;
    dc.enable_mlkem = o->server.enable_mlkem;
    if (!o->assoc_late_fp) {
      dc.peer_fingerprints = &pr->server.expect;
      dc.n_peer_fingerprints = 1;
    }
    ck_assert_int_eq(rtcsec_dtls_new(&pr->p[1].d, &dc), 0);
  }
  d13c_config cc = o->client;
  pr->server_fp = fp_of(pr->cert[1], RTCSEC_HASH_SHA256);
  cc.cert = o->no_client_cert ? NULL : pr->cert[0];
  cc.server_fp = &pr->server_fp; /* the pair does not move while the client lives */
  pr->mtu[0] = cc.mtu ? cc.mtu : 1200;
  pr->mtu[1] = o->server.mtu;
  fakeclock_set(pr->now);
  ck_assert_int_eq(d13c_new(&pr->client, &cc, pr->now), 0);
  pr->ep[0] = d13c_endpoint(pr->client);
  pr->ep[1] = o->assoc ? harness_dtls_endpoint(pr->p[1].d) : d13s_endpoint(&pr->server);
  pr->link = link_new(&o->link);
  ck_assert_ptr_nonnull(pr->link);
}

void d13_pair_free(d13_pair *pr) {
  d13c_free(pr->client);
  d13s_free(&pr->server);
  rtcsec_dtls_free(pr->p[1].d);
  for (int i = 0; i < 2; i++) {
    rtcsec_cert_free(pr->cert[i]);
    rtcsec_srtp_keys_wipe(&pr->p[i].keys);
  }
  link_free(pr->link);
}

void d13_peer_poll_client(d13_pair *pr) {
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(d13c_poll_event(pr->client, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    peer_take_event(&pr->p[0], &ev, pr->now);
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      ck_assert_int_eq(d13c_export_srtp(pr->client, &pr->p[0].keys), 0);
  }
}

void d13_peer_poll_server(d13_pair *pr) {
  rtcsec_event ev;
  if (pr->assoc) {
    peer_poll(&pr->p[1], pr->now);
    return;
  }
  if (pr->server.e == NULL)
    return;
  for (;;) {
    ck_assert_int_eq(rtcsec_dtls13_poll_event(pr->server.e, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    peer_take_event(&pr->p[1], &ev, pr->now);
    if (ev.type == RTCSEC_EVENT_CONNECTED)
      ck_assert_int_eq(rtcsec_dtls13_export_srtp(pr->server.e, &pr->p[1].keys), 0);
  }
}

static int d13_step(void *user, uint64_t now) {
  d13_pair *pr = user;
  pr->now = now;
  d13_peer_poll_client(pr);
  d13_peer_poll_server(pr);
  /* A server that refused the ClientHello before an engine existed. */
  if (pr->server.parse_rc < 0 && !pr->p[1].failed) {
    pr->p[1].failed = 1;
    pr->p[1].error = pr->server.parse_rc;
  }
  return peer_done(&pr->p[0]) && peer_done(&pr->p[1]);
}

/* Each datagram within the sender's MTU and made of whole records. */
static void d13_on_send(void *user, int from, const uint8_t *data, size_t len) {
  d13_pair *pr = user;
  pr->sends[from]++;
  if (len > pr->max_seen[from])
    pr->max_seen[from] = len;
  if (len > pr->mtu[from])
    pr->bad_boundaries++;
  if (len <= sizeof(pr->last[from])) {
    memcpy(pr->last[from], data, len);
    pr->last_len[from] = len;
  }
  size_t off = 0;
  rtcsec_d13_record rec;
  int r;
  while ((r = rtcsec_d13_next_record(data, len, &off, &rec)) > 0)
    ;
  if (r < 0)
    pr->bad_boundaries++;
}

harness_end d13_pair_run(d13_pair *pr, uint64_t until) {
  harness_hooks hooks = {d13_step, d13_on_send, pr};
  return harness_run(pr->ep, pr->link, &pr->now, until, &hooks);
}

void d13_assert_keys_match(const d13_pair *pr) {
  ck_assert_int_eq(pr->p[0].connected, 1);
  ck_assert_int_eq(pr->p[1].connected, 1);
  assert_srtp_keys_match(&pr->p[0].keys, &pr->p[1].keys);
}
