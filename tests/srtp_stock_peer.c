/* srtp-stock-peer: the other side of the srtp_ciphers suite's
 * cross-implementation test (tests/test_srtp_ciphers.c). Built from the
 * same sources as the suite, but it calls rtcsec_srtp_global_config() with
 * keep_libsrtp_ciphers = 1 before anything else, so its libsrtp2 runs on
 * the implementations libsrtp2 was built with (NSS on Debian) while the
 * suite's runs on rtcsec's. The replacement is process-wide, hence the
 * second process.
 *
 * It serves one rtcsec_srtp at a time over stdin/stdout, one request and
 * one reply at a time:
 *   request: op (1 octet), length (4, big-endian), payload
 *   reply:   code (4, big-endian, an rtcsec error code), length (4), payload
 * ops:
 *   'H'  hello: code = what a second rtcsec_srtp_global_config() returned
 *        after the bridge started (RTCSEC_ERR_INVALID_STATE expected); payload
 *        = "key=value\n" lines: the descriptions of the types libsrtp2 runs
 *        (icm128, icm256, gcm128, gcm256, hmac) and attempted=0|1.
 *   'N'  new session: profile (2), key_len (1), salt_len (1), local key,
 *        local salt, remote key, remote salt (32 + 14 + 32 + 14 octets,
 *        zero-padded); code = rtcsec_srtp_new()'s.
 *   'p' / 'q' / 'u' / 'v'  protect RTP / protect RTCP / unprotect RTP /
 *        unprotect RTCP of the payload; reply payload = the result.
 *   'S'  ROC of an SSRC: ssrc (4), outbound (1); reply payload = roc (4).
 * End of input ends the program (status 0); a malformed request ends it
 * with status 1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/srtp.h"
#include "srtp_internal.h"
#include "srtp_ref.h"
#include "srtp_types.h"

#define MAX_PAYLOAD 4096

static int read_all(void *buf, size_t n) { return fread(buf, 1, n, stdin) == n ? 0 : -1; }

static int reply(int code, const uint8_t *data, size_t len) {
  uint8_t h[8];
  put_be32(h, (uint32_t)code);
  put_be32(h + 4, (uint32_t)len);
  if (fwrite(h, 1, 8, stdout) != 8 || (len > 0 && fwrite(data, 1, len, stdout) != len))
    return -1;
  return fflush(stdout) == 0 ? 0 : -1;
}

static const char *desc_c(srtp_cipher_type_id_t id) {
  const srtp_cipher_type_t *t = srtp_crypto_kernel_get_cipher_type(id);
  return t != NULL && t->description != NULL ? t->description : "(none)";
}

static int hello(void) {
  char text[1024];
  rtcsec_srtp_types_status st;
  rtcsec_srtp_global g;
  memset(&st, 0, sizeof(st));
  int rc = rtcsec_srtp_test_types_status(&st);
  if (rc != RTCSEC_OK)
    return reply(rc, NULL, 0);
  rtcsec_srtp_global_default(&g);
  int late = rtcsec_srtp_global_config(&g);
  const srtp_auth_type_t *h = srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1);
  int n = snprintf(text, sizeof(text),
                   "icm128=%s\nicm256=%s\ngcm128=%s\ngcm256=%s\nhmac=%s\nattempted=%d\n",
                   desc_c(SRTP_AES_ICM_128), desc_c(SRTP_AES_ICM_256), desc_c(SRTP_AES_GCM_128),
                   desc_c(SRTP_AES_GCM_256),
                   h != NULL && h->description != NULL ? h->description : "(none)", st.attempted);
  return reply(late, (const uint8_t *)text, n > 0 ? (size_t)n : 0);
}

static int new_session(rtcsec_srtp **s, const uint8_t *p, size_t len) {
  rtcsec_srtp_keys k;
  if (len != 4 + 2 * (RTCSEC_SRTP_MAX_KEY_LEN + RTCSEC_SRTP_MAX_SALT_LEN))
    return -1;
  memset(&k, 0, sizeof(k));
  k.profile = (rtcsec_srtp_profile)(p[0] << 8 | p[1]);
  k.key_len = p[2];
  k.salt_len = p[3];
  p += 4;
  memcpy(k.local_key, p, RTCSEC_SRTP_MAX_KEY_LEN);
  p += RTCSEC_SRTP_MAX_KEY_LEN;
  memcpy(k.local_salt, p, RTCSEC_SRTP_MAX_SALT_LEN);
  p += RTCSEC_SRTP_MAX_SALT_LEN;
  memcpy(k.remote_key, p, RTCSEC_SRTP_MAX_KEY_LEN);
  p += RTCSEC_SRTP_MAX_KEY_LEN;
  memcpy(k.remote_salt, p, RTCSEC_SRTP_MAX_SALT_LEN);
  rtcsec_srtp_free(*s);
  *s = NULL;
  int rc = rtcsec_srtp_new(s, &k, NULL);
  rtcsec_srtp_keys_wipe(&k);
  return reply(rc, NULL, 0);
}

static int packet(rtcsec_srtp *s, uint8_t op, uint8_t *buf, size_t len) {
  size_t out = 0;
  int rc;
  if (s == NULL)
    return reply(RTCSEC_ERR_INVALID_STATE, NULL, 0);
  switch (op) {
  case 'p':
    rc = rtcsec_srtp_protect_rtp(s, buf, len, MAX_PAYLOAD, &out);
    break;
  case 'q':
    rc = rtcsec_srtp_protect_rtcp(s, buf, len, MAX_PAYLOAD, &out);
    break;
  case 'u':
    rc = rtcsec_srtp_unprotect_rtp(s, buf, len, &out);
    break;
  default:
    rc = rtcsec_srtp_unprotect_rtcp(s, buf, len, &out);
    break;
  }
  return reply(rc, buf, rc == RTCSEC_OK ? out : 0);
}

static int roc(const rtcsec_srtp *s, const uint8_t *p, size_t len) {
  rtcsec_srtp_ssrc_stats st;
  uint8_t r[4];
  if (len != 5)
    return -1;
  int rc = rtcsec_srtp_get_ssrc_stats(s, get_be32(p), p[4], &st);
  put_be32(r, rc == RTCSEC_OK ? st.roc : 0);
  return reply(rc, r, 4);
}

int main(void) {
  /* Before anything else in the process touches the bridge. */
  rtcsec_srtp_global g;
  rtcsec_srtp_global_default(&g);
  g.keep_libsrtp_ciphers = 1;
  if (rtcsec_srtp_global_config(&g) != RTCSEC_OK) {
    fprintf(stderr, "srtp-stock-peer: rtcsec_srtp_global_config failed\n");
    return 1;
  }
  static uint8_t buf[MAX_PAYLOAD];
  rtcsec_srtp *s = NULL;
  int status = 0;
  for (;;) {
    uint8_t h[5];
    size_t got = fread(h, 1, 1, stdin);
    if (got == 0)
      break; /* end of input */
    if (read_all(h + 1, 4) != 0) {
      status = 1;
      break;
    }
    size_t len = get_be32(h + 1);
    if (len > MAX_PAYLOAD || read_all(buf, len) != 0) {
      status = 1;
      break;
    }
    int rc;
    switch (h[0]) {
    case 'H':
      rc = hello();
      break;
    case 'N':
      rc = new_session(&s, buf, len);
      break;
    case 'p':
    case 'q':
    case 'u':
    case 'v':
      rc = packet(s, h[0], buf, len);
      break;
    case 'S':
      rc = roc(s, buf, len);
      break;
    default:
      rc = -1;
      break;
    }
    if (rc != 0) {
      status = 1;
      break;
    }
  }
  rtcsec_srtp_free(s);
  return status;
}
