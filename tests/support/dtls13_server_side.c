#include "dtls13_server_side.h"

#include <openssl/crypto.h>
#include <string.h>

#include "cert_internal.h"

/* ---- the server side ----------------------------------------------------------------- */

static int verify_peer(void *user, X509 *leaf) {
  d13s *s = user;
  s->verify_calls++;
  unsigned char *der = NULL;
  int n = i2d_X509(leaf, &der);
  rtcsec_fingerprint fp;
  int ok = n > 0 && rtcsec_fingerprint_of_der(der, (size_t)n, s->expect.hash, &fp) == 0 &&
           rtcsec_fingerprint_equal(&fp, &s->expect) && !s->expect_none;
  OPENSSL_free(der);
  return ok;
}

void d13s_init(d13s *s, rtcsec_cert *cert, const rtcsec_dtls13_config *cfg) {
  memset(s, 0, sizeof(*s));
  rtcsec_ch_collector_init(&s->col);
  if (cfg != NULL)
    s->cfg = *cfg;
  else
    rtcsec_dtls13_config_default(&s->cfg);
  if (s->cfg.n_profiles > 0) {
    memcpy(s->profiles, s->cfg.profiles, s->cfg.n_profiles * sizeof(s->profiles[0]));
    s->cfg.profiles = s->profiles;
  }
  s->cert = rtcsec_cert_ref(cert);
  s->cfg.cert = rtcsec_cert_x509(cert);
  s->cfg.key = rtcsec_cert_pkey(cert);
  s->cfg.verify_peer = verify_peer;
  s->cfg.user = s;
  s->create_rc = 1;
  s->parse_rc = 1;
}

void d13s_free(d13s *s) {
  rtcsec_dtls13_free(s->e);
  rtcsec_ch_collector_clear(&s->col);
  rtcsec_cert_free(s->cert);
  memset(s, 0, sizeof(*s));
}

int d13s_handle_datagram(d13s *s, const uint8_t *data, size_t len, uint64_t now) {
  if (s->e != NULL)
    return rtcsec_dtls13_handle_datagram(s->e, data, len, now);
  if (s->parse_rc <= 0)
    return s->parse_rc; /* refused before any engine existed */
  int rc = rtcsec_ch_collector_add(&s->col, data, len);
  if (rc != 1)
    return rc;
  size_t n = 0;
  const uint8_t *m = rtcsec_ch_collector_message(&s->col, &n);
  rtcsec_client_hello ch;
  s->parse_rc = rtcsec_client_hello_parse(&ch, m, n, &s->parse_alert);
  if (s->parse_rc != 0)
    return s->parse_rc;
  s->create_rc = rtcsec_dtls13_server_new(&s->e, &s->cfg, &ch, now);
  return s->create_rc;
}

static int s_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  return d13s_handle_datagram(o, d, n, now);
}
static int s_to(void *o, uint64_t now) {
  d13s *s = o;
  return s->e ? rtcsec_dtls13_handle_timeout(s->e, now) : 0;
}
static uint64_t s_dl(void *o) {
  d13s *s = o;
  return s->e ? rtcsec_dtls13_deadline(s->e) : UINT64_MAX;
}
static int s_out(void *o, uint8_t *b, size_t c, size_t *n) {
  d13s *s = o;
  *n = 0;
  return s->e ? rtcsec_dtls13_poll_datagram(s->e, b, c, n) : 0;
}

harness_endpoint d13s_endpoint(d13s *s) { return (harness_endpoint){s, s_in, s_to, s_dl, s_out}; }

static int c_in(void *o, const uint8_t *d, size_t n, uint64_t now) {
  return d13c_handle_datagram(o, d, n, now);
}
static int c_to(void *o, uint64_t now) { return d13c_handle_timeout(o, now); }
static uint64_t c_dl(void *o) { return d13c_deadline(o); }
static int c_out(void *o, uint8_t *b, size_t c, size_t *n) {
  return d13c_poll_datagram(o, b, c, n);
}

harness_endpoint d13c_endpoint(d13c *c) { return (harness_endpoint){c, c_in, c_to, c_dl, c_out}; }
