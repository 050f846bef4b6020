#include "dtls_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"

/* ---- a peer: one association and what it reported ------------------------ */

void peer_take_event(peer *p, const rtcsec_event *ev, uint64_t now) {
  p->n_events++;
  switch (ev->type) {
  case RTCSEC_EVENT_CONNECTED:
    p->connected++;
    p->info = ev->connected;
    p->connected_at = now;
    break;
  case RTCSEC_EVENT_FAILED:
    p->failed++;
    p->error = ev->failed.error;
    p->alert = ev->failed.alert;
    p->alert_from_peer = ev->failed.alert_from_peer;
    break;
  case RTCSEC_EVENT_CLOSED:
    p->closed++;
    break;
  case RTCSEC_EVENT_DATA:
    p->n_data++;
    ck_assert_uint_le(ev->data.len, sizeof(p->data));
    memcpy(p->data, ev->data.data, ev->data.len);
    p->data_len = ev->data.len;
    break;
  default:
    ck_abort_msg("unexpected event %d", ev->type);
  }
}

void peer_poll(peer *p, uint64_t now) {
  rtcsec_event ev;
  for (;;) {
    ck_assert_int_eq(rtcsec_dtls_poll_event(p->d, &ev), 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    peer_take_event(p, &ev, now);
    /* The keys leave only through the export call (the event has none);
     * plain DTLS (use_srtp 0) has none to export. */
    if (ev.type == RTCSEC_EVENT_CONNECTED && ev.connected.profile != RTCSEC_SRTP_NONE)
      ck_assert_int_eq(rtcsec_dtls_export_srtp_keys(p->d, &p->keys), 0);
  }
}

int peer_done(const peer *p) { return p->connected || p->failed || p->closed; }

void default_opts(pair_opts *o) {
  memset(o, 0, sizeof(*o));
  o->fp_known[0] = o->fp_known[1] = 1;
  o->mtu = 1200;
}

rtcsec_cert *make_cert(rtcsec_key_type kt) {
  rtcsec_cert_config cc;
  rtcsec_cert_config_default(&cc);
  cc.key_type = kt;
  rtcsec_cert *c = NULL;
  ck_assert_int_eq(rtcsec_cert_generate(&c, &cc), 0);
  return c;
}

rtcsec_fingerprint fp_of(rtcsec_cert *c, rtcsec_hash h) {
  rtcsec_fingerprint fp;
  ck_assert_int_eq(rtcsec_cert_fingerprint(c, h, &fp), 0);
  return fp;
}

rtcsec_fingerprint wrong_fp(void) {
  rtcsec_cert *other = make_cert(RTCSEC_KEY_ECDSA_P256);
  rtcsec_fingerprint fp = fp_of(other, RTCSEC_HASH_SHA256);
  rtcsec_cert_free(other);
  return fp;
}

void pair_init(pair *pr, const pair_opts *o) {
  memset(pr, 0, sizeof(*pr));
  pr->mtu = o->mtu;
  for (int i = 0; i < 2; i++)
    pr->p[i].cert = o->certs[i] ? rtcsec_cert_ref(o->certs[i]) : make_cert(o->key[i]);
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_config cfg;
    rtcsec_dtls_config_default(&cfg);
    cfg.role = i == 0 ? RTCSEC_DTLS_CLIENT : RTCSEC_DTLS_SERVER;
    cfg.cert = pr->p[i].cert;
    cfg.mtu = o->mtu;
    if (o->handshake_timeout_us)
      cfg.handshake_timeout_us = o->handshake_timeout_us;
    if (o->n_profiles[i]) {
      memcpy(cfg.profiles, o->profiles[i], o->n_profiles[i] * sizeof(cfg.profiles[0]));
      cfg.n_profiles = o->n_profiles[i];
    }
    rtcsec_fingerprint fp =
        o->fp_wrong[i] ? wrong_fp() : fp_of(pr->p[1 - i].cert, RTCSEC_HASH_SHA256);
    if (o->fp_known[i]) {
      cfg.peer_fingerprints = &fp;
      cfg.n_peer_fingerprints = 1;
    }
    if (o->configure != NULL)
      o->configure(o->configure_user, i, &cfg);
    ck_assert_int_eq(rtcsec_dtls_new(&pr->p[i].d, &cfg), 0);
    pr->ep[i] = harness_dtls_endpoint(pr->p[i].d);
  }
  pr->link = link_new(&o->link);
  ck_assert_ptr_nonnull(pr->link);
}

void pair_free(pair *pr) {
  for (int i = 0; i < 2; i++) {
    rtcsec_dtls_free(pr->p[i].d);
    rtcsec_cert_free(pr->p[i].cert);
    rtcsec_srtp_keys_wipe(&pr->p[i].keys);
  }
  link_free(pr->link);
}

/* Every datagram: within the MTU, and made of whole DTLS records (13-byte
 * header + length), so no record spans two datagrams (RFC 6347 §4.1.1). */
void on_send(void *user, int from, const uint8_t *data, size_t len) {
  pair *pr = user;
  if (len > pr->max_seen)
    pr->max_seen = len;
  if (getenv("DTLS_DEBUG_MTU") && len > pr->mtu) {
    for (size_t o = 0; o + 13 <= len;) {
      size_t rl = ((size_t)data[o + 11] << 8) | data[o + 12];
      fprintf(stderr, "oversize dgram %zu: record type %u epoch %u len %zu hs %u\n", len, data[o],
              data[o + 3] << 8 | data[o + 4], rl, o + 13 < len ? data[o + 13] : 0);
      o += 13 + rl;
    }
  }
  if (pr->n_send_times < 64 && from == 0)
    pr->send_times[pr->n_send_times++] = pr->now;
  pr->sends[from]++;
  size_t off = 0;
  while (off < len) {
    if (len - off < 13) {
      pr->bad_boundaries++;
      return;
    }
    size_t rl = ((size_t)data[off + 11] << 8) | data[off + 12];
    off += 13 + rl;
  }
  if (off != len)
    pr->bad_boundaries++;
}

int step_until_done(void *user, uint64_t now) {
  pair *pr = user;
  pr->now = now;
  peer_poll(&pr->p[0], now);
  peer_poll(&pr->p[1], now);
  return peer_done(&pr->p[0]) && peer_done(&pr->p[1]);
}

harness_end pair_run(pair *pr, uint64_t until) {
  harness_hooks hooks = {step_until_done, on_send, pr};
  return harness_run(pr->ep, pr->link, &pr->now, until, &hooks);
}

int step_quiet(void *user, uint64_t now) {
  pair *pr = user;
  pr->now = now;
  peer_poll(&pr->p[0], now);
  peer_poll(&pr->p[1], now);
  return 0;
}

void pair_settle(pair *pr) {
  harness_hooks hooks = {step_quiet, on_send, pr};
  harness_run(pr->ep, pr->link, &pr->now, pr->now + 5 * SEC, &hooks);
}

void pair_start(pair *pr) {
  fakeclock_set(pr->now);
  ck_assert_int_eq(rtcsec_dtls_start(pr->p[1].d, pr->now), 0);
  ck_assert_int_eq(rtcsec_dtls_start(pr->p[0].d, pr->now), 0);
}

void assert_srtp_keys_match(const rtcsec_srtp_keys *c, const rtcsec_srtp_keys *s) {
  ck_assert_int_eq(c->profile, s->profile);
  ck_assert_uint_gt(c->key_len, 0);
  ck_assert_uint_eq(c->material_len, 2 * (c->key_len + c->salt_len));
  ck_assert_uint_eq(c->material_len, s->material_len);
  ck_assert_mem_eq(c->material, s->material, c->material_len);
  ck_assert_mem_eq(c->local_key, s->remote_key, c->key_len);
  ck_assert_mem_eq(c->remote_key, s->local_key, c->key_len);
  ck_assert_mem_eq(c->local_salt, s->remote_salt, c->salt_len);
  ck_assert_mem_eq(c->remote_salt, s->local_salt, c->salt_len);
  /* RFC 5764 §4.2 layout: client key | server key | client salt | server salt */
  size_t k = c->key_len;
  ck_assert_mem_eq(c->material, c->local_key, k);
  ck_assert_mem_eq(c->material + k, c->remote_key, k);
  ck_assert_mem_eq(c->material + 2 * k, c->local_salt, c->salt_len);
  ck_assert_mem_eq(c->material + 2 * k + c->salt_len, c->remote_salt, c->salt_len);
  /* The two directions use different keys. */
  ck_assert(memcmp(c->local_key, c->remote_key, k) != 0);
}

void assert_keys_match(const pair *pr) { assert_srtp_keys_match(&pr->p[0].keys, &pr->p[1].keys); }
