/* libFuzzer target: the first ClientHello: the collector, the strict
 * parser, and the DTLS 1.3 server's answer to whatever parses, then the
 * rest of the input to that server.
 *
 * Input:
 *   byte 0  bit 0: the server uses the RSA certificate
 *           bit 1: the server asks for a cookie (HelloRetryRequest)
 *           bit 2: the server refuses TLS_AES_256_GCM_SHA384
 *           bit 3: MTU 256 (1200 otherwise)
 *   then datagrams: a 2-byte big-endian length, then that many bytes (or
 *   what is left).
 *
 * Invariants: no crash or leak; the collector keeps at most its bounds and
 * only ever reports completion with a message of the declared length; a
 * parsed ClientHello only points inside the message; the server either
 * answers (HANDSHAKING, a ServerHello or HelloRetryRequest queued, every
 * datagram within the MTU, a deadline set) or refuses with one plaintext
 * fatal alert and a FAILED event carrying that alert; later datagrams never
 * end it unless it already failed, and never make it CONNECTED (no client
 * certificate can be forged here). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtls13.h"
#include "dtls13_server_side.h"
#include "dtls_client_hello.h"
#include "fakeclock.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const rtcsec_client_hello *ch, const uint8_t *p, size_t n) {
  return n == 0 ||
         (p >= ch->body && n <= ch->body_len && p - ch->body <= (ptrdiff_t)(ch->body_len - n));
}

static void check_parsed(const rtcsec_client_hello *ch) {
  FUZZ_CHECK(inside(ch, ch->random, 32));
  FUZZ_CHECK(inside(ch, ch->session_id, ch->session_id_len) && ch->session_id_len <= 32);
  FUZZ_CHECK(inside(ch, ch->legacy_cookie, ch->legacy_cookie_len));
  FUZZ_CHECK(inside(ch, ch->cipher_suites.p, 2 * ch->cipher_suites.n) && ch->cipher_suites.n > 0);
  FUZZ_CHECK(inside(ch, ch->compression, ch->compression_len) && ch->compression_len > 0);
  FUZZ_CHECK(ch->n_extensions <= RTCSEC_CH_MAX_EXTENSIONS);
  for (size_t i = 0; i < ch->n_extensions; i++) {
    FUZZ_CHECK(inside(ch, ch->extensions[i].data, ch->extensions[i].len));
    for (size_t j = 0; j < i; j++)
      FUZZ_CHECK(ch->extensions[i].type != ch->extensions[j].type);
  }
  FUZZ_CHECK(ch->n_key_shares <= RTCSEC_CH_MAX_KEY_SHARES);
  for (size_t i = 0; i < ch->n_key_shares; i++)
    FUZZ_CHECK(inside(ch, ch->key_shares[i].key, ch->key_shares[i].len) &&
               ch->key_shares[i].len > 0);
  if (ch->has_supported_versions)
    FUZZ_CHECK(inside(ch, ch->versions.p, 2 * ch->versions.n) && ch->versions.n > 0);
  if (ch->has_use_srtp)
    FUZZ_CHECK(inside(ch, ch->srtp_profiles.p, 2 * ch->srtp_profiles.n) &&
               inside(ch, ch->srtp_mki, ch->srtp_mki_len));
  if (ch->has_cookie)
    FUZZ_CHECK(inside(ch, ch->cookie, ch->cookie_len) && ch->cookie_len > 0);
}

static size_t drain(rtcsec_dtls13 *e, size_t mtu, uint8_t *first, size_t *first_len) {
  uint8_t buf[4096];
  size_t n = 0;
  for (;;) {
    size_t len = 0;
    FUZZ_CHECK(rtcsec_dtls13_poll_datagram(e, buf, sizeof(buf), &len) == 0);
    if (len == 0)
      return n;
    FUZZ_CHECK(len <= mtu);
    if (n == 0 && first != NULL) {
      memcpy(first, buf, len);
      *first_len = len;
    }
    n++;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  (void)fuzz_cert(FUZZ_CERT_CLIENT);
  fuzz_rng_install();
  fakeclock_set(FUZZ_T0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  fuzz_rng_reset();
  fuzz_rng_select(FUZZ_STREAM_SERVER);
  unsigned cfg = data[0];
  const uint8_t *p = data + 1;
  size_t left = size - 1;
  uint64_t now = FUZZ_T0;
  size_t mtu = (cfg & 8) ? 256 : 1200;

  rtcsec_dtls13_config sc;
  rtcsec_dtls13_config_default(&sc);
  sc.mtu = mtu;
  sc.cookie_exchange = (cfg & 2) != 0;
  sc.allow_aes256 = !(cfg & 4);
  d13s s;
  d13s_init(&s, fuzz_cert((cfg & 1) ? FUZZ_CERT_SERVER_RSA : FUZZ_CERT_SERVER), &sc);
  s.expect = fuzz_fp(FUZZ_CERT_CLIENT);

  rtcsec_ch_collector *col = &s.col;
  int failed_at_start = 0;
  while (left >= 2) {
    size_t n = ((size_t)p[0] << 8) | p[1];
    p += 2;
    left -= 2;
    if (n > left)
      n = left;
    const uint8_t *dg = p;
    p += n;
    left -= n;
    now += 1000;
    if (s.e == NULL) {
      int rc = rtcsec_ch_collector_add(col, dg, n);
      FUZZ_CHECK(rc == 0 || rc == 1);
      FUZZ_CHECK(rtcsec_dgram_queue_count(&col->datagrams) <= RTCSEC_CH_MAX_DATAGRAMS);
      FUZZ_CHECK(col->datagrams.bytes <= RTCSEC_CH_MAX_BYTES);
      if (rc == 0)
        continue;
      size_t ml = 0;
      const uint8_t *m = rtcsec_ch_collector_message(col, &ml);
      FUZZ_CHECK(m != NULL && ml == col->msg_len && ml > 0 && ml <= RTCSEC_CH_MAX_MSG);
      rtcsec_client_hello ch;
      int alert = 0;
      rc = rtcsec_client_hello_parse(&ch, m, ml, &alert);
      if (rc != 0) {
        FUZZ_CHECK(rc == RTCSEC_ERR_HANDSHAKE);
        FUZZ_CHECK(alert == RTCSEC_ALERT_DECODE_ERROR || alert == RTCSEC_ALERT_ILLEGAL_PARAMETER);
        break;
      }
      check_parsed(&ch);
      rc = rtcsec_dtls13_server_new(&s.e, &s.cfg, &ch, now);
      if (rc == 0) {
        FUZZ_CHECK(rtcsec_dtls13_state(s.e) == RTCSEC_DTLS_STATE_HANDSHAKING);
        FUZZ_CHECK(rtcsec_dtls13_deadline(s.e) != UINT64_MAX);
        uint8_t first[4096];
        size_t fl = 0;
        FUZZ_CHECK(drain(s.e, mtu, first, &fl) >= 1);
        /* a plaintext handshake record holding a ServerHello (or HRR) */
        FUZZ_CHECK(fl > 13 + 12 && first[0] == RTCSEC_CT_HANDSHAKE &&
                   first[13] == RTCSEC_HS_SERVER_HELLO);
      } else {
        FUZZ_CHECK(s.e != NULL && rc == rtcsec_dtls13_error(s.e));
        uint8_t first[4096];
        size_t fl = 0;
        FUZZ_CHECK(drain(s.e, mtu, first, &fl) == 1);
        FUZZ_CHECK(fl == 15 && first[0] == RTCSEC_CT_ALERT && first[13] == 2);
        rtcsec_event ev;
        FUZZ_CHECK(rtcsec_dtls13_poll_event(s.e, &ev) == 0);
        FUZZ_CHECK(ev.type == RTCSEC_EVENT_FAILED && ev.failed.alert == first[14]);
        failed_at_start = 1;
      }
      continue;
    }
    /* The rest goes to the server, with its timers in between. */
    int before = rtcsec_dtls13_error(s.e);
    int rc = rtcsec_dtls13_handle_datagram(s.e, dg, n, now);
    FUZZ_CHECK(rc <= 0);
    if ((n & 3) == 0 && rtcsec_dtls13_deadline(s.e) != UINT64_MAX) {
      now = rtcsec_dtls13_deadline(s.e);
      fakeclock_set(now);
      (void)rtcsec_dtls13_handle_timeout(s.e, now);
    }
    drain(s.e, mtu, NULL, NULL);
    rtcsec_event ev;
    for (;;) {
      FUZZ_CHECK(rtcsec_dtls13_poll_event(s.e, &ev) == 0);
      if (ev.type == RTCSEC_EVENT_NONE)
        break;
      FUZZ_CHECK(ev.type != RTCSEC_EVENT_CONNECTED && ev.type != RTCSEC_EVENT_DATA);
      /* Only the time limit ends it, or a second ClientHello that carried
       * the cookie of our HelloRetryRequest (its random bytes come from the
       * fuzzer's fixed stream, so an input could in theory hold it). */
      FUZZ_CHECK(ev.type != RTCSEC_EVENT_FAILED ||
                 ev.failed.error == RTCSEC_ERR_HANDSHAKE_TIMEOUT ||
                 (rtcsec_dtls13_used_hrr(s.e) && ev.failed.error == RTCSEC_ERR_HANDSHAKE));
    }
    FUZZ_CHECK(failed_at_start || before == 0 || before == RTCSEC_ERR_HANDSHAKE_TIMEOUT ||
               (rtcsec_dtls13_used_hrr(s.e) && before == RTCSEC_ERR_HANDSHAKE));
  }
  d13s_free(&s);
  return 0;
}
