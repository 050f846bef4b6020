/* Shared fuzz helpers: fixed certificates, a deterministic random source for
 * OpenSSL, DTLS event checks. See fuzz_common.h. */

/* RAND_set_rand_method() is deprecated in OpenSSL 3.0 but still honoured by
 * RAND_bytes_ex() and RAND_priv_bytes_ex(), which is everything the TLS
 * stack and the default provider draw from (randoms, ECDHE keys, ECDSA
 * nonces, GCM IVs). A provider-based replacement would be much more code for
 * a test-only purpose. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "fuzz_common.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeclock.h"
#include "fuzz_certs.h"

void fuzz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "\n*** fuzz invariant failed at %s:%d: %s\n", file, line, what);
  fflush(stderr);
  __builtin_trap();
}

/* ---- fixed certificates ------------------------------------------------- */

static rtcsec_cert *certs[FUZZ_N_CERTS];

static void load_one(fuzz_cert_id id, const char *cert_pem, const char *key_pem) {
  if (rtcsec_cert_load_pem(&certs[id], cert_pem, strlen(cert_pem), key_pem, strlen(key_pem)) != 0) {
    fprintf(stderr, "fuzz: cannot load fixed certificate %d\n", (int)id);
    abort();
  }
  /* The first association on a certificate creates (and caches) its
   * SSL_CTX, which draws random bytes. Do it now, so that every fuzz input
   * sees the same random stream, the first one included. */
  rtcsec_dtls_config cfg;
  rtcsec_dtls_config_default(&cfg);
  cfg.cert = certs[id];
  rtcsec_dtls *d = NULL;
  if (rtcsec_dtls_new(&d, &cfg) != 0) {
    fprintf(stderr, "fuzz: cannot create an association\n");
    abort();
  }
  rtcsec_dtls_free(d);
}

rtcsec_cert *fuzz_cert(fuzz_cert_id id) {
  if (certs[0] == NULL) {
    load_one(FUZZ_CERT_CLIENT, fuzz_client_cert_pem, fuzz_client_key_pem);
    load_one(FUZZ_CERT_SERVER, fuzz_server_cert_pem, fuzz_server_key_pem);
    load_one(FUZZ_CERT_SERVER_RSA, fuzz_server_rsa_cert_pem, fuzz_server_rsa_key_pem);
  }
  if ((unsigned)id >= FUZZ_N_CERTS)
    abort();
  return certs[id];
}

rtcsec_fingerprint fuzz_fp(fuzz_cert_id id) {
  rtcsec_fingerprint fp;
  if (rtcsec_cert_fingerprint(fuzz_cert(id), RTCSEC_HASH_SHA256, &fp) != 0)
    abort();
  return fp;
}

/* ---- deterministic random source ---------------------------------------- */

/* splitmix64 per stream: not cryptographic, and need not be. */
static uint64_t rng_state[FUZZ_RNG_STREAMS];
static int rng_cur;

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static int rng_bytes(unsigned char *buf, int num) {
  uint64_t *s = &rng_state[rng_cur];
  for (int i = 0; i < num; i += 8) {
    uint64_t v = rng_next(s);
    for (int j = 0; j < 8 && i + j < num; j++)
      buf[i + j] = (unsigned char)(v >> (8 * j));
  }
  return 1;
}

static int rng_seed(const void *buf, int num) {
  (void)buf;
  (void)num;
  return 1;
}

static int rng_add(const void *buf, int num, double entropy) {
  (void)buf;
  (void)num;
  (void)entropy;
  return 1;
}

static int rng_status(void) { return 1; }

static RAND_METHOD rng_method = {
    .seed = rng_seed,
    .bytes = rng_bytes,
    .cleanup = NULL,
    .add = rng_add,
    .pseudorand = rng_bytes,
    .status = rng_status,
};

void fuzz_rng_reset(void) {
  for (int i = 0; i < FUZZ_RNG_STREAMS; i++)
    rng_state[i] = UINT64_C(0x7274637365632D66) + (uint64_t)i * UINT64_C(0x1000193);
  rng_cur = 0;
}

void fuzz_rng_select(int stream) {
  if (stream < 0 || stream >= FUZZ_RNG_STREAMS)
    abort();
  rng_cur = stream;
}

void fuzz_rng_install(void) {
  fuzz_rng_reset();
  if (RAND_set_rand_method(&rng_method) != 1) {
    fprintf(stderr, "fuzz: RAND_set_rand_method failed\n");
    abort();
  }
}

/* ---- SRTP ---------------------------------------------------------------------- */

void fuzz_srtp_fixed_keys(rtcsec_srtp_profile p, rtcsec_srtp_keys *tx, rtcsec_srtp_keys *rx) {
  memset(tx, 0, sizeof(*tx));
  tx->profile = p;
  tx->key_len = rtcsec_srtp_profile_key_len(p);
  tx->salt_len = rtcsec_srtp_profile_salt_len(p);
  for (size_t i = 0; i < tx->key_len; i++) {
    tx->local_key[i] = (uint8_t)(0x10 + i);
    tx->remote_key[i] = (uint8_t)(0x80 + 3 * i);
  }
  for (size_t i = 0; i < tx->salt_len; i++) {
    tx->local_salt[i] = (uint8_t)(0x40 + i);
    tx->remote_salt[i] = (uint8_t)(0xC0 + 5 * i);
  }
  *rx = *tx;
  memcpy(rx->local_key, tx->remote_key, sizeof(rx->local_key));
  memcpy(rx->remote_key, tx->local_key, sizeof(rx->remote_key));
  memcpy(rx->local_salt, tx->remote_salt, sizeof(rx->local_salt));
  memcpy(rx->remote_salt, tx->local_salt, sizeof(rx->remote_salt));
}

/* ---- DTLS helpers ------------------------------------------------------------ */

void fuzz_dtls_config(rtcsec_dtls_config *cfg, rtcsec_dtls_role role, int know_peer,
                      rtcsec_fingerprint fps[2]) {
  rtcsec_dtls_config_default(cfg);
  cfg->role = role;
  if (role == RTCSEC_DTLS_SERVER) {
    cfg->cert = fuzz_cert(FUZZ_CERT_SERVER);
    fps[0] = fuzz_fp(FUZZ_CERT_CLIENT);
    fps[1] = fps[0];
    cfg->n_peer_fingerprints = 1;
  } else {
    cfg->cert = fuzz_cert(FUZZ_CERT_CLIENT);
    fps[0] = fuzz_fp(FUZZ_CERT_SERVER);
    fps[1] = fuzz_fp(FUZZ_CERT_SERVER_RSA);
    cfg->n_peer_fingerprints = 2;
  }
  cfg->peer_fingerprints = fps;
  if (!know_peer) {
    cfg->peer_fingerprints = NULL;
    cfg->n_peer_fingerprints = 0;
  }
}

int fuzz_dtls_add_peer_fps(rtcsec_dtls *d, rtcsec_dtls_role role, uint64_t now) {
  rtcsec_dtls_config cfg;
  rtcsec_fingerprint fps[2];
  fuzz_dtls_config(&cfg, role, 1, fps);
  int rc = 0;
  for (size_t i = 0; i < cfg.n_peer_fingerprints && rc == 0; i++) {
    /* The first one may already release a held flight and finish (or
     * fail) the handshake: then there is nothing to add any more. */
    rtcsec_dtls_state st = rtcsec_dtls_get_state(d);
    if (i > 0 && st != RTCSEC_DTLS_STATE_NEW && st != RTCSEC_DTLS_STATE_HANDSHAKING)
      break;
    rc = rtcsec_dtls_add_peer_fingerprints(d, &fps[i], 1, now);
  }
  return rc;
}

void fuzz_dtls_poll_events(rtcsec_dtls *d, fuzz_dtls_watch *w) {
  for (;;) {
    rtcsec_event ev;
    FUZZ_CHECK(rtcsec_dtls_poll_event(d, &ev) == 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    /* Nothing may follow a failure: the error is sticky. */
    FUZZ_CHECK(!w->failed);
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED: {
      FUZZ_CHECK(!w->connected && !w->closed);
      w->connected = 1;
      w->info = ev.connected;
      /* No key without a fingerprint match (RFC 8827 §6.5). */
      int ok = 0;
      for (size_t i = 0; i < w->n_expected; i++)
        ok |= rtcsec_fingerprint_equal(&ev.connected.peer_fingerprint, &w->expected[i]);
      FUZZ_CHECK(ok);
      FUZZ_CHECK(rtcsec_dtls_export_srtp_keys(d, &w->keys) == 0);
      FUZZ_CHECK(w->keys.profile == ev.connected.profile);
      FUZZ_CHECK(w->keys.key_len == rtcsec_srtp_profile_key_len(ev.connected.profile));
      FUZZ_CHECK(rtcsec_dtls_get_state(d) != RTCSEC_DTLS_STATE_NEW &&
                 rtcsec_dtls_get_state(d) != RTCSEC_DTLS_STATE_HANDSHAKING);
      break;
    }
    case RTCSEC_EVENT_DATA:
      /* Application data only ever arrives under the negotiated keys. */
      FUZZ_CHECK(w->connected);
      FUZZ_CHECK(ev.data.data != NULL || ev.data.len == 0);
      w->data++;
      if (w->on_data != NULL)
        w->on_data(w->user, ev.data.data, ev.data.len);
      break;
    case RTCSEC_EVENT_CLOSED:
      FUZZ_CHECK(!w->closed);
      w->closed = 1;
      break;
    case RTCSEC_EVENT_FAILED:
      FUZZ_CHECK(ev.failed.error < 0);
      FUZZ_CHECK(rtcsec_dtls_get_state(d) == RTCSEC_DTLS_STATE_FAILED);
      FUZZ_CHECK(rtcsec_dtls_error(d) == ev.failed.error);
      w->failed = 1;
      w->error = ev.failed.error;
      break;
    default:
      FUZZ_CHECK(!"unknown event type");
    }
  }
}

void fuzz_dtls_check_rc(rtcsec_dtls *d, int rc) {
  if (rc == 0)
    return;
  rtcsec_dtls_state st = rtcsec_dtls_get_state(d);
  FUZZ_CHECK((st == RTCSEC_DTLS_STATE_FAILED && rc == rtcsec_dtls_error(d)) ||
             (st == RTCSEC_DTLS_STATE_CLOSED && rc == RTCSEC_ERR_CLOSED));
}

void fuzz_dtls_check_final(rtcsec_dtls *d, const fuzz_dtls_watch *w) {
  rtcsec_dtls_state st = rtcsec_dtls_get_state(d);
  FUZZ_CHECK((st == RTCSEC_DTLS_STATE_FAILED) == (w->failed != 0));
  if (st == RTCSEC_DTLS_STATE_CONNECTED)
    FUZZ_CHECK(w->connected);
  if (w->connected)
    FUZZ_CHECK(st != RTCSEC_DTLS_STATE_HANDSHAKING && st != RTCSEC_DTLS_STATE_NEW);
  if (w->closed)
    FUZZ_CHECK(st == RTCSEC_DTLS_STATE_CLOSED);
}

size_t fuzz_dtls_discard_datagrams(rtcsec_dtls *d, size_t mtu) {
  uint8_t buf[65536];
  size_t n = 0;
  for (;;) {
    size_t len = 0;
    FUZZ_CHECK(rtcsec_dtls_poll_datagram(d, buf, sizeof(buf), &len) == 0);
    if (len == 0)
      break;
    FUZZ_CHECK(len <= mtu);
    n++;
  }
  return n;
}

/* ---- the first-flight targets ----------------------------------------------- */

typedef struct flight_run {
  rtcsec_dtls *d;
  rtcsec_dtls_role role;
  uint64_t now;
  size_t mtu;
  fuzz_dtls_watch w;
  size_t out;
} flight_run;

static void flight_after_call(flight_run *r, int rc) {
  fuzz_dtls_check_rc(r->d, rc);
  r->out += fuzz_dtls_discard_datagrams(r->d, r->mtu);
  fuzz_dtls_poll_events(r->d, &r->w);
}

static void flight_timer(flight_run *r) {
  uint64_t dl = rtcsec_dtls_deadline(r->d);
  if (dl == UINT64_MAX)
    return;
  FUZZ_CHECK(dl >= FUZZ_T0);
  if (dl > r->now)
    r->now = dl;
  fakeclock_set(r->now);
  flight_after_call(r, rtcsec_dtls_handle_timeout(r->d, r->now));
}

static void flight_add_fp(flight_run *r, int *known) {
  if (*known)
    return;
  *known = 1;
  rtcsec_dtls_state st = rtcsec_dtls_get_state(r->d);
  int rc = fuzz_dtls_add_peer_fps(r->d, r->role, r->now);
  if (st == RTCSEC_DTLS_STATE_NEW || st == RTCSEC_DTLS_STATE_HANDSHAKING) {
    /* Adding may release held datagrams, which may fail the association. */
    FUZZ_CHECK(rc == 0 || rtcsec_dtls_get_state(r->d) == RTCSEC_DTLS_STATE_FAILED);
  } else {
    FUZZ_CHECK(rc == RTCSEC_ERR_INVALID_STATE);
  }
  flight_after_call(r, 0);
}

void fuzz_flight_input_init(fuzz_flight_input *it, const uint8_t *data, size_t size) {
  memset(it, 0, sizeof(*it));
  if (size == 0)
    return;
  uint8_t b = data[0];
  it->raw = b >= 20 && b <= 63;
  it->fp_known = it->raw || b < 20;
  it->n = it->raw ? 1 : b < 20 ? b : (size_t)(b - FUZZ_SPLIT_LATE_FP) % 20;
  it->p = it->raw ? data : data + 1;
  it->left = it->raw ? size : size - 1;
}

int fuzz_flight_input_next(fuzz_flight_input *it, const uint8_t **dg, size_t *len,
                           unsigned *flags) {
  *flags = 0;
  if (it->i == it->n)
    return 0;
  size_t n = it->left;
  if (!it->raw) {
    if (it->left < 2)
      return 0;
    unsigned h = ((unsigned)it->p[0] << 8) | it->p[1];
    it->p += 2;
    it->left -= 2;
    *flags = h & (FUZZ_DG_TIMER | FUZZ_DG_ADD_FP);
    n = h & FUZZ_DG_LEN_MASK;
    if (n > it->left)
      n = it->left;
  }
  *dg = it->p;
  *len = n;
  it->p += n;
  it->left -= n;
  it->i++;
  return 1;
}

void fuzz_dtls_first_flight(rtcsec_dtls_role role, const uint8_t *data, size_t size,
                            fuzz_flight_result *res) {
  if (size == 0)
    return;
  fuzz_flight_input it;
  fuzz_flight_input_init(&it, data, size);
  int known = it.fp_known;

  fuzz_rng_reset();
  fuzz_rng_select(role == RTCSEC_DTLS_CLIENT ? FUZZ_STREAM_CLIENT : FUZZ_STREAM_SERVER);
  flight_run r = {.role = role, .now = FUZZ_T0};
  fakeclock_set(r.now);

  rtcsec_dtls_config cfg;
  rtcsec_fingerprint fps[2];
  fuzz_dtls_config(&cfg, role, known, fps);
  r.mtu = cfg.mtu;
  r.w.expected = fps;
  r.w.n_expected = 2;
  FUZZ_CHECK(rtcsec_dtls_new(&r.d, &cfg) == 0);
  if (role == RTCSEC_DTLS_CLIENT) {
    FUZZ_CHECK(rtcsec_dtls_start(r.d, r.now) == 0);
    r.out += fuzz_dtls_discard_datagrams(r.d, r.mtu);
    FUZZ_CHECK(r.out > 0); /* the ClientHello */
  }

  const uint8_t *dg;
  size_t len;
  unsigned flags;
  while (fuzz_flight_input_next(&it, &dg, &len, &flags)) {
    if (flags & FUZZ_DG_TIMER)
      flight_timer(&r);
    if (flags & FUZZ_DG_ADD_FP)
      flight_add_fp(&r, &known);
    r.now += 1000;
    fakeclock_set(r.now);
    flight_after_call(&r, rtcsec_dtls_handle_datagram(r.d, dg, len, r.now));
  }
  flight_add_fp(&r, &known);
  /* A retransmission or the handshake timeout, whichever is next. */
  flight_timer(&r);

  fuzz_dtls_check_final(r.d, &r.w);
  if (res != NULL) {
    res->watch = r.w;
    res->watch.expected = NULL;
    res->state = rtcsec_dtls_get_state(r.d);
    res->datagrams_out = r.out;
  }
  rtcsec_srtp_keys_wipe(&r.w.keys);
  rtcsec_dtls_free(r.d);
}

/* ---- the transport target ---------------------------------------------------- */

void fuzz_keep_nss_loaded(void) {
  static rtcsec_srtp *keep;
  if (keep != NULL)
    return;
  rtcsec_srtp_keys tx, rx;
  fuzz_srtp_fixed_keys(RTCSEC_SRTP_AEAD_AES_128_GCM, &tx, &rx);
  if (rtcsec_srtp_new(&keep, &tx, NULL) != 0)
    abort();
  rtcsec_srtp_keys_wipe(&tx);
  rtcsec_srtp_keys_wipe(&rx);
}

typedef struct transport_run {
  rtcsec_transport *t;
  uint64_t now;
  size_t mtu;
  int fp_known;
  rtcsec_fingerprint expected;
  fuzz_transport_result r;
} transport_run;

static void transport_check_rc(transport_run *x, int rc) {
  if (rc == 0)
    return;
  rtcsec_dtls_state st = rtcsec_transport_get_state(x->t);
  FUZZ_CHECK(st == RTCSEC_DTLS_STATE_FAILED || st == RTCSEC_DTLS_STATE_CLOSED);
}

static void transport_drain(transport_run *x) {
  uint8_t buf[65536];
  for (;;) {
    size_t len = 0;
    FUZZ_CHECK(rtcsec_transport_poll_datagram(x->t, buf, sizeof(buf), &len) == 0);
    if (len == 0)
      break;
    FUZZ_CHECK(len <= x->mtu);
  }
  for (;;) {
    rtcsec_event ev;
    FUZZ_CHECK(rtcsec_transport_poll_event(x->t, &ev) == 0);
    if (ev.type == RTCSEC_EVENT_NONE)
      break;
    FUZZ_CHECK(!x->r.failed); /* sticky */
    switch (ev.type) {
    case RTCSEC_EVENT_CONNECTED:
      FUZZ_CHECK(!x->r.connected && !x->r.closed);
      x->r.connected = 1;
      FUZZ_CHECK(rtcsec_fingerprint_equal(&ev.connected.peer_fingerprint, &x->expected));
      FUZZ_CHECK(rtcsec_srtp_profile_key_len(ev.connected.profile) > 0);
      break;
    case RTCSEC_EVENT_DATA:
      FUZZ_CHECK(x->r.connected);
      FUZZ_CHECK(ev.data.data != NULL || ev.data.len == 0);
      x->r.data++;
      break;
    case RTCSEC_EVENT_CLOSED:
      FUZZ_CHECK(!x->r.closed);
      x->r.closed = 1;
      break;
    case RTCSEC_EVENT_FAILED:
      FUZZ_CHECK(ev.failed.error < 0);
      FUZZ_CHECK(rtcsec_transport_get_state(x->t) == RTCSEC_DTLS_STATE_FAILED);
      x->r.failed = 1;
      break;
    default:
      FUZZ_CHECK(!"unknown transport event");
    }
  }
}

static void transport_datagram(transport_run *x, const uint8_t *dg, size_t len) {
  /* An exact-size copy (ASan sees any access past it), modified in place. */
  uint8_t *buf = malloc(len ? len : 1);
  FUZZ_CHECK(buf != NULL);
  memcpy(buf, dg, len);
  rtcsec_packet_class cls = rtcsec_demux_classify(dg, len);
  rtcsec_dtls_state before = rtcsec_transport_get_state(x->t);
  rtcsec_transport_input in;
  memset(&in, 0xA5, sizeof(in));
  int rc = rtcsec_transport_handle_datagram(x->t, buf, len, x->now, &in);
  FUZZ_CHECK(in.kind == cls);
  switch (cls) {
  case RTCSEC_PKT_STUN:
    /* Handed back to ICE untouched. */
    FUZZ_CHECK(rc == 0 && in.len == len && memcmp(buf, dg, len) == 0);
    x->r.stun++;
    break;
  case RTCSEC_PKT_ZRTP:
  case RTCSEC_PKT_TURN_CHANNEL:
    FUZZ_CHECK(rc == RTCSEC_ERR_UNSUPPORTED && memcmp(buf, dg, len) == 0);
    break;
  case RTCSEC_PKT_DTLS:
    transport_check_rc(x, rc);
    break;
  case RTCSEC_PKT_RTP:
  case RTCSEC_PKT_RTCP:
    if (before == RTCSEC_DTLS_STATE_NEW || before == RTCSEC_DTLS_STATE_HANDSHAKING) {
      /* RFC 5764 §4.1: no media before the handshake completed. */
      FUZZ_CHECK(rc == RTCSEC_ERR_SRTP_NO_KEYS);
    } else if (before != RTCSEC_DTLS_STATE_CONNECTED) {
      FUZZ_CHECK(rc == RTCSEC_ERR_CLOSED);
    } else if (rc == 0) {
      int rtp = cls == RTCSEC_PKT_RTP;
      size_t overhead =
          rtp ? rtcsec_transport_rtp_overhead(x->t) : rtcsec_transport_rtcp_overhead(x->t);
      size_t hdr = rtp ? 12 : 8;
      FUZZ_CHECK(overhead > 0 && in.len + overhead == len);
      FUZZ_CHECK(in.len >= hdr && memcmp(buf, dg, hdr) == 0); /* the header is in the clear */
      if (rtp)
        x->r.rtp_ok++;
      else
        x->r.rtcp_ok++;
    }
    FUZZ_CHECK(rc <= 0);
    break;
  case RTCSEC_PKT_UNKNOWN:
  default:
    FUZZ_CHECK(rc == RTCSEC_ERR_DEMUX_UNKNOWN && memcmp(buf, dg, len) == 0);
    break;
  }
  free(buf);
}

static void transport_add_fp(transport_run *x) {
  if (x->fp_known)
    return;
  x->fp_known = 1;
  rtcsec_dtls_state st = rtcsec_transport_get_state(x->t);
  int rc = rtcsec_transport_add_peer_fingerprints(x->t, &x->expected, 1, x->now);
  if (st == RTCSEC_DTLS_STATE_NEW || st == RTCSEC_DTLS_STATE_HANDSHAKING)
    FUZZ_CHECK(rc == 0 || rtcsec_transport_get_state(x->t) == RTCSEC_DTLS_STATE_FAILED ||
               rtcsec_transport_get_state(x->t) == RTCSEC_DTLS_STATE_CLOSED);
  else
    FUZZ_CHECK(rc == RTCSEC_ERR_INVALID_STATE);
  transport_drain(x);
}

static void transport_timer(transport_run *x) {
  uint64_t dl = rtcsec_transport_deadline(x->t);
  if (dl == UINT64_MAX)
    return;
  if (dl > x->now)
    x->now = dl;
  fakeclock_set(x->now);
  transport_check_rc(x, rtcsec_transport_handle_timeout(x->t, x->now));
  transport_drain(x);
}

void fuzz_transport_run(const uint8_t *data, size_t size, fuzz_transport_result *res) {
  if (size == 0)
    return;
  fuzz_flight_input it;
  fuzz_flight_input_init(&it, data, size);

  fuzz_rng_reset();
  fuzz_rng_select(FUZZ_STREAM_SERVER);
  transport_run x = {.now = FUZZ_T0, .fp_known = it.fp_known};
  fakeclock_set(x.now);
  rtcsec_transport_config cfg;
  rtcsec_transport_config_default(&cfg);
  rtcsec_fingerprint fps[2];
  fuzz_dtls_config(&cfg.dtls, RTCSEC_DTLS_SERVER, it.fp_known, fps);
  x.expected = fps[0];
  x.mtu = cfg.dtls.mtu;
  FUZZ_CHECK(rtcsec_transport_new(&x.t, &cfg) == 0);

  const uint8_t *dg;
  size_t len;
  unsigned flags;
  while (fuzz_flight_input_next(&it, &dg, &len, &flags)) {
    if (flags & FUZZ_DG_TIMER)
      transport_timer(&x);
    if (flags & FUZZ_DG_ADD_FP)
      transport_add_fp(&x);
    x.now += 1000;
    fakeclock_set(x.now);
    transport_datagram(&x, dg, len);
    transport_drain(&x);
  }
  transport_add_fp(&x);
  transport_timer(&x);

  rtcsec_dtls_state st = rtcsec_transport_get_state(x.t);
  FUZZ_CHECK((st == RTCSEC_DTLS_STATE_FAILED) == (x.r.failed != 0));
  if (st == RTCSEC_DTLS_STATE_CONNECTED)
    FUZZ_CHECK(x.r.connected);
  /* Every accepted packet was counted as such. */
  rtcsec_transport_stats ts;
  FUZZ_CHECK(rtcsec_transport_get_stats(x.t, &ts) == 0);
  FUZZ_CHECK(ts.srtp.inbound.rtp_packets == x.r.rtp_ok);
  FUZZ_CHECK(ts.srtp.inbound.rtcp_packets == x.r.rtcp_ok);
  FUZZ_CHECK(ts.in_stun == x.r.stun);
  if (res != NULL)
    *res = x.r;
  rtcsec_transport_free(x.t);
}

/* ---- the mlkem target ------------------------------------------------------------ */

void fuzz_mlkem_fixed(uint8_t ek[RTCSEC_MLKEM768_EK_LEN], uint8_t dk[RTCSEC_MLKEM768_DK_LEN],
                      uint8_t ct[RTCSEC_MLKEM768_CT_LEN], uint8_t ss[RTCSEC_MLKEM_SS_LEN]) {
  uint8_t d[32], z[32], m[32];
  memset(d, 0x01, sizeof(d));
  memset(z, 0x02, sizeof(z));
  memset(m, 0x03, sizeof(m));
  if (rtcsec_mlkem768_keygen_internal(d, z, ek, dk) != 0 ||
      rtcsec_mlkem768_encaps_internal(ek, m, ct, ss) != 0) {
    fprintf(stderr, "fuzz: ML-KEM-768 failed\n");
    abort();
  }
}

void fuzz_hybrid_client(rtcsec_kex_client *c,
                        uint8_t share[RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN]) {
  uint8_t priv[96];
  size_t n = 0;
  memset(priv, 0x01, 32);
  memset(priv + 32, 0x02, 32);
  memset(priv + 64, 0x04, 32);
  if (rtcsec_kex_client_from_private(c, RTCSEC_GROUP_X25519MLKEM768, priv, sizeof(priv), share,
                                     RTCSEC_X25519MLKEM768_CLIENT_SHARE_LEN, &n) != 0) {
    fprintf(stderr, "fuzz: X25519MLKEM768 client failed\n");
    abort();
  }
}
