/* The test suites' DTLS 1.3 client. See dtls13_client.h. */
#include "dtls13_client.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "cert_internal.h"
#include "dtls13_keys.h"
#include "dtls13_msg.h"
#include "dtls_client_hello.h"
#include "hybrid_kex.h"
#include "rtcsec/error.h"
#include "wire.h"

#define MAX_SHARES 5

typedef enum cphase {
  C_WAIT_SERVER_HELLO,
  C_WAIT_EE,
  C_WAIT_CR,
  C_WAIT_CERT,
  C_WAIT_CV,
  C_WAIT_FIN,
  C_DONE,
} cphase;

struct d13c {
  rtcsec_d13_conn c;
  d13c_config cfg;
  cphase phase;
  uint8_t random[32];
  rtcsec_kex_client kex[MAX_SHARES]; /* one key pair per share, in ClientHello order */
  uint8_t share[MAX_SHARES][RTCSEC_KEX_MAX_CLIENT_SHARE_LEN];
  size_t share_len[MAX_SHARES];
  size_t n_keys;
  int hrr;
  uint8_t cookie[256];
  size_t cookie_len;
  uint16_t hrr_group;
  const rtcsec_d13_suite *suite;
  rtcsec_transcript tr;
  int tr_ready;
  uint8_t *ch1;
  size_t ch1_len;
  rtcsec_key_schedule ks;
  uint8_t c_hs[RTCSEC_D13_MAX_HASH], s_hs[RTCSEC_D13_MAX_HASH], exporter[RTCSEC_D13_MAX_HASH];
  rtcsec_srtp_profile profile;
  uint16_t group;
  uint8_t cr_context[256];
  size_t cr_context_len;
  rtcsec_u16_list cr_sig_algs;
  uint8_t cr_sig_buf[512];
  EVP_PKEY *server_key;
};

void d13c_config_default(d13c_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  static const rtcsec_srtp_profile chromium[] = {
      RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AEAD_AES_128_GCM};
  memcpy(cfg->profiles, chromium, sizeof(chromium));
  cfg->n_profiles = 3;
  cfg->suites[0] = RTCSEC_TLS_AES_128_GCM_SHA256;
  cfg->suites[1] = RTCSEC_TLS_AES_256_GCM_SHA384;
  cfg->n_suites = 2;
  cfg->groups[0] = RTCSEC_GROUP_X25519;
  cfg->groups[1] = RTCSEC_GROUP_SECP256R1;
  cfg->n_groups = 2;
  cfg->share_groups[0] = RTCSEC_GROUP_X25519;
  cfg->n_shares = 1;
  static const uint16_t sigs[] = {RTCSEC_SIG_ECDSA_SECP256R1_SHA256, RTCSEC_SIG_RSA_PSS_RSAE_SHA256,
                                  RTCSEC_SIG_ECDSA_SECP384R1_SHA384, RTCSEC_SIG_RSA_PSS_RSAE_SHA384,
                                  RTCSEC_SIG_RSA_PSS_RSAE_SHA512};
  memcpy(cfg->sig_algs, sigs, sizeof(sigs));
  cfg->n_sig_algs = 5;
  cfg->mtu = 1200;
  cfg->rto_initial_us = 100000;
  cfg->handshake_timeout_us = 30000000;
}

/* ---- the ClientHello ----------------------------------------------------------------- */

typedef struct ext_block {
  uint8_t data[2048];
  size_t len;
} ext_block;

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* One extension per block, so they can be shuffled. */
static size_t build_extensions(d13c *c, const d13c_config *cfg, ext_block *b, int second) {
  size_t n = 0;
  rtcsec_wr w;
  /* supported_versions: DTLS 1.3 and 1.2 (RFC 8446 §4.2.1). */
  wr_init(&w, b[n].data, sizeof(b[n].data));
  wr_u16(&w, RTCSEC_EXT_SUPPORTED_VERSIONS);
  wr_u16(&w, 5);
  wr_u8(&w, 4);
  wr_u16(&w, (uint16_t)RTCSEC_DTLS13_VERSION);
  wr_u16(&w, (uint16_t)RTCSEC_DTLS12_VERSION);
  b[n++].len = w.off;
  /* supported_groups */
  wr_init(&w, b[n].data, sizeof(b[n].data));
  wr_u16(&w, RTCSEC_EXT_SUPPORTED_GROUPS);
  size_t e = wr_vec_open(&w, 2), l = wr_vec_open(&w, 2);
  if (cfg->hybrid_share)
    wr_u16(&w, RTCSEC_GROUP_X25519MLKEM768);
  for (size_t i = 0; i < cfg->n_groups; i++)
    wr_u16(&w, cfg->groups[i]);
  wr_vec_close(&w, l, 2);
  wr_vec_close(&w, e, 2);
  b[n++].len = w.off;
  /* key_share */
  wr_init(&w, b[n].data, sizeof(b[n].data));
  wr_u16(&w, RTCSEC_EXT_KEY_SHARE);
  e = wr_vec_open(&w, 2);
  l = wr_vec_open(&w, 2);
  int first_classic = 1;
  for (size_t i = 0; i < c->n_keys; i++) {
    const uint8_t *share = c->share[i];
    size_t sl = c->share_len[i];
    size_t len = sl;
    int hybrid = c->kex[i].group == RTCSEC_GROUP_X25519MLKEM768;
    /* The length error goes into the first share that is not the hybrid. */
    if (!hybrid && first_classic) {
      first_classic = 0;
      len = (size_t)((long)sl + cfg->share_len_delta);
    }
    if (hybrid)
      len = (size_t)((long)sl + cfg->hybrid_len_delta);
    wr_u16(&w, c->kex[i].group);
    wr_u16(&w, (uint16_t)len);
    for (size_t k = 0; k < len; k++) {
      uint8_t v = k < sl ? share[k] : 0x5a;
      /* FIPS 203 §7.2: ByteEncode12 puts coefficient 0 in the low 12 bits
       * of the first 3 bytes; 4095 is no value mod q = 3329. */
      if (hybrid && cfg->hybrid_bad_ek && k == 0)
        v = 0xff;
      else if (hybrid && cfg->hybrid_bad_ek && k == 1)
        v |= 0x0f;
      wr_u8(&w, v);
    }
  }
  wr_vec_close(&w, l, 2);
  wr_vec_close(&w, e, 2);
  b[n++].len = w.off;
  /* signature_algorithms */
  wr_init(&w, b[n].data, sizeof(b[n].data));
  wr_u16(&w, RTCSEC_EXT_SIGNATURE_ALGORITHMS);
  e = wr_vec_open(&w, 2);
  l = wr_vec_open(&w, 2);
  for (size_t i = 0; i < cfg->n_sig_algs; i++)
    wr_u16(&w, cfg->sig_algs[i]);
  wr_vec_close(&w, l, 2);
  wr_vec_close(&w, e, 2);
  b[n++].len = w.off;
  /* use_srtp (RFC 5764 §4.1.1), empty MKI */
  if (!cfg->omit_use_srtp) {
    wr_init(&w, b[n].data, sizeof(b[n].data));
    wr_u16(&w, RTCSEC_EXT_USE_SRTP);
    e = wr_vec_open(&w, 2);
    l = wr_vec_open(&w, 2);
    for (size_t i = 0; i < cfg->n_profiles; i++)
      wr_u16(&w, (uint16_t)cfg->profiles[i]);
    wr_vec_close(&w, l, 2);
    wr_u8(&w, 0);
    wr_vec_close(&w, e, 2);
    b[n++].len = w.off;
  }
  if ((second && c->cookie_len > 0) || cfg->cookie_in_first) {
    static const uint8_t fake[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t *ck = second ? c->cookie : fake;
    size_t cl = second ? c->cookie_len : sizeof(fake);
    wr_init(&w, b[n].data, sizeof(b[n].data));
    wr_u16(&w, RTCSEC_EXT_COOKIE);
    e = wr_vec_open(&w, 2);
    l = wr_vec_open(&w, 2);
    wr_bytes(&w, ck, cl);
    wr_vec_close(&w, l, 2);
    wr_vec_close(&w, e, 2);
    b[n++].len = w.off;
  }
  if (cfg->offer_cid) {
    wr_init(&w, b[n].data, sizeof(b[n].data));
    wr_u16(&w, RTCSEC_EXT_CONNECTION_ID);
    wr_u16(&w, 1);
    wr_u8(&w, 0);
    b[n++].len = w.off;
  }
  /* extended_master_secret and renegotiation_info, as a DTLS 1.2 fallback
   * would offer; ignored by a 1.3 server. */
  wr_init(&w, b[n].data, sizeof(b[n].data));
  wr_u16(&w, 23);
  wr_u16(&w, 0);
  b[n++].len = w.off;
  if (cfg->shuffle_seed != 0) {
    uint64_t s = cfg->shuffle_seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = n; i > 1; i--) {
      size_t j = (size_t)(xorshift(&s) % i);
      ext_block t = b[i - 1];
      b[i - 1] = b[j];
      b[j] = t;
    }
  }
  return n;
}

static int write_client_hello(d13c *c, const d13c_config *cfg, uint8_t *body, size_t cap,
                              size_t *len, int second) {
  ext_block *b = calloc(10, sizeof(*b));
  if (b == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  size_t n = build_extensions(c, cfg, b, second);
  rtcsec_wr w;
  wr_init(&w, body, cap);
  wr_u16(&w, cfg->legacy_version ? cfg->legacy_version : (uint16_t)RTCSEC_DTLS12_VERSION);
  wr_bytes(&w, c->random, 32);
  wr_u8(&w, 0); /* legacy_session_id */
  size_t ck = wr_vec_open(&w, 1);
  for (size_t i = 0; i < cfg->legacy_cookie_len; i++)
    wr_u8(&w, 0xc0);
  wr_vec_close(&w, ck, 1);
  size_t cs = wr_vec_open(&w, 2);
  for (size_t i = 0; i < cfg->n_suites; i++)
    wr_u16(&w, cfg->suites[i]);
  wr_vec_close(&w, cs, 2);
  wr_u8(&w, 1);
  wr_u8(&w, 0);
  size_t exts = wr_vec_open(&w, 2);
  for (size_t i = 0; i < n; i++)
    wr_bytes(&w, b[i].data, b[i].len);
  wr_vec_close(&w, exts, 2);
  free(b);
  if (!w.ok)
    return RTCSEC_ERR_BUFFER_TOO_SMALL;
  *len = w.off;
  return RTCSEC_OK;
}

static int add_share(d13c *c, uint16_t group) {
  if (c->n_keys == MAX_SHARES)
    return RTCSEC_ERR_LIMIT;
  size_t i = c->n_keys;
  int rc = rtcsec_kex_client_keygen(&c->kex[i], group, c->share[i], sizeof(c->share[i]),
                                    &c->share_len[i]);
  if (rc == RTCSEC_OK)
    c->n_keys++;
  return rc;
}

static void free_shares(d13c *c) {
  for (size_t i = 0; i < c->n_keys; i++)
    rtcsec_kex_client_clear(&c->kex[i]);
  c->n_keys = 0;
}

/* A real X25519MLKEM768 share first when browser-like, then the
 * configured ones. */
static int make_shares(d13c *c, const d13c_config *cfg) {
  int rc = cfg->hybrid_share ? add_share(c, RTCSEC_GROUP_X25519MLKEM768) : RTCSEC_OK;
  size_t n = cfg->n_shares_zero ? 0 : cfg->n_shares;
  for (size_t i = 0; i < n && rc == RTCSEC_OK; i++)
    rc = add_share(c, cfg->share_groups[i]);
  if (rc == RTCSEC_OK && RAND_bytes(c->random, 32) != 1)
    rc = RTCSEC_ERR_CRYPTO;
  return rc;
}

int d13c_client_hello(const d13c_config *cfg, uint8_t *body, size_t cap, size_t *len) {
  d13c tmp;
  memset(&tmp, 0, sizeof(tmp));
  int rc = make_shares(&tmp, cfg);
  if (rc == RTCSEC_OK)
    rc = write_client_hello(&tmp, cfg, body, cap, len, 0);
  free_shares(&tmp);
  return rc;
}

size_t d13c_fragment_client_hello(const uint8_t *body, size_t len, size_t mtu, uint8_t out[][2048],
                                  size_t lens[], size_t max) {
  size_t n = 0, off = 0;
  uint64_t seq = 0;
  while (off < len && n < max) {
    size_t room = mtu - RTCSEC_D13_PLAIN_HDR - RTCSEC_D13_HS_HDR;
    size_t f = len - off < room ? len - off : room;
    uint8_t rec[2048];
    rec[0] = RTCSEC_HS_CLIENT_HELLO;
    put_uint(rec + 1, 3, len);
    put_uint(rec + 4, 2, 0);
    put_uint(rec + 6, 3, off);
    put_uint(rec + 9, 3, f);
    memcpy(rec + 12, body + off, f);
    if (rtcsec_d13_plain(RTCSEC_CT_HANDSHAKE, seq++, rec, 12 + f, out[n], 2048, &lens[n]) != 0)
      break;
    n++;
    off += f;
  }
  return n;
}

/* ---- the server's messages ---------------------------------------------------------------- */

static int cfail(d13c *c, int error, int alert) {
  return rtcsec_d13_conn_fail(&c->c, error, alert);
}

static const uint8_t *find_ext(rtcsec_rd exts, uint16_t type, size_t *len) {
  while (rd_left(&exts) > 0) {
    uint16_t t;
    rtcsec_rd v;
    if (!rd_u16(&exts, &t) || !rd_vec(&exts, 2, &v))
      return NULL;
    if (t == type) {
      *len = rd_left(&v);
      return v.p;
    }
  }
  return NULL;
}

static int send_client_hello(d13c *c, uint64_t now, int second) {
  uint8_t body[4096];
  size_t len = 0;
  int rc = write_client_hello(c, &c->cfg, body, sizeof(body), &len, second);
  if (rc != RTCSEC_OK)
    return rc;
  if (!second) {
    c->ch1 = malloc(len);
    if (c->ch1 == NULL)
      return RTCSEC_ERR_NO_MEMORY;
    memcpy(c->ch1, body, len);
    c->ch1_len = len;
  } else {
    rc = rtcsec_transcript_add(&c->tr, RTCSEC_HS_CLIENT_HELLO, body, len);
    if (rc != RTCSEC_OK)
      return rc;
  }
  rtcsec_d13_conn_flight_begin(&c->c, 0);
  rc = rtcsec_d13_conn_flight_add(&c->c, RTCSEC_HS_CLIENT_HELLO, body, len, 0);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_flight_send(&c->c, now);
  return rc;
}

static int on_hello_retry_request(d13c *c, rtcsec_rd exts, uint64_t now) {
  size_t ks_len = 0, ck_len = 0;
  const uint8_t *ks = find_ext(exts, RTCSEC_EXT_KEY_SHARE, &ks_len);
  const uint8_t *ck = find_ext(exts, RTCSEC_EXT_COOKIE, &ck_len);
  /* RFC 8446 §4.1.4: one HelloRetryRequest, and it must change something. */
  if (c->hrr || (ks == NULL && ck == NULL) || (ks != NULL && ks_len != 2))
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
  c->hrr = 1;
  if (ck != NULL) {
    rtcsec_rd r, v;
    rd_init(&r, ck, ck_len);
    if (!rd_vec(&r, 2, &v) || !rd_done(&r) || rd_left(&v) > sizeof(c->cookie))
      return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
    memcpy(c->cookie, v.p, rd_left(&v));
    c->cookie_len = rd_left(&v);
  }
  if (ks != NULL) {
    /* One new share of the group the server asked for, which must be one
     * the client offered without a share. */
    c->hrr_group = (uint16_t)get_uint(ks, 2);
    for (size_t i = 0; i < c->n_keys; i++) {
      if (c->kex[i].group == c->hrr_group)
        return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
    }
    free_shares(c);
    if (add_share(c, c->hrr_group) != RTCSEC_OK)
      return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  }
  if (c->cfg.change_second_hello)
    c->random[0] ^= 1;
  int rc = send_client_hello(c, now, 1);
  return rc == RTCSEC_OK ? rc : cfail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
}

static int on_server_hello(d13c *c, const uint8_t *body, size_t len, uint64_t now) {
  rtcsec_rd r, sid, exts;
  uint16_t version = 0, suite = 0;
  uint8_t comp = 1;
  const uint8_t *random = NULL;
  rd_init(&r, body, len);
  rd_u16(&r, &version);
  rd_bytes(&r, 32, &random);
  rd_vec(&r, 1, &sid);
  rd_u16(&r, &suite);
  rd_u8(&r, &comp);
  rd_vec(&r, 2, &exts);
  if (!rd_done(&r) || version != RTCSEC_DTLS12_VERSION || rd_left(&sid) != 0 || comp != 0)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  const rtcsec_d13_suite *s = rtcsec_d13_suite_by_id(suite);
  if (s == NULL || (c->suite != NULL && s != c->suite))
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  size_t vl = 0;
  const uint8_t *v = find_ext(exts, RTCSEC_EXT_SUPPORTED_VERSIONS, &vl);
  if (v == NULL || vl != 2 || get_uint(v, 2) != RTCSEC_DTLS13_VERSION)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  if (!c->tr_ready) {
    c->suite = s;
    c->c.cfg.suite = s;
    if (rtcsec_transcript_init(&c->tr, s->md()) != RTCSEC_OK ||
        rtcsec_transcript_add(&c->tr, RTCSEC_HS_CLIENT_HELLO, c->ch1, c->ch1_len) != RTCSEC_OK)
      return cfail(c, RTCSEC_ERR_CRYPTO, RTCSEC_ALERT_INTERNAL_ERROR);
    c->tr_ready = 1;
  }
  if (memcmp(random, rtcsec_d13_hrr_random, 32) == 0) {
    if (rtcsec_transcript_to_message_hash(&c->tr) != RTCSEC_OK ||
        rtcsec_transcript_add(&c->tr, RTCSEC_HS_SERVER_HELLO, body, len) != RTCSEC_OK)
      return cfail(c, RTCSEC_ERR_CRYPTO, RTCSEC_ALERT_INTERNAL_ERROR);
    return on_hello_retry_request(c, exts, now);
  }
  size_t ksl = 0;
  const uint8_t *ks = find_ext(exts, RTCSEC_EXT_KEY_SHARE, &ksl);
  if (ks == NULL || ksl < 4 || get_uint(ks + 2, 2) != ksl - 4)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  uint16_t group = (uint16_t)get_uint(ks, 2);
  rtcsec_kex_client *key = NULL;
  for (size_t i = 0; i < c->n_keys; i++) {
    if (c->kex[i].group == group)
      key = &c->kex[i];
  }
  uint8_t secret[RTCSEC_KEX_MAX_SECRET_LEN], h[RTCSEC_D13_MAX_HASH];
  uint8_t server_share[RTCSEC_KEX_MAX_SERVER_SHARE_LEN];
  size_t sl = 0;
  if (ksl - 4 > sizeof(server_share))
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  memcpy(server_share, ks + 4, ksl - 4);
  /* As if the network had damaged it: ML-KEM's decapsulation rejects
   * implicitly, with a secret the server does not have (FIPS 203 §6.3). */
  if (c->cfg.corrupt_server_share && group == RTCSEC_GROUP_X25519MLKEM768)
    server_share[100] ^= 0x10;
  if (key == NULL || rtcsec_kex_client_finish(key, server_share, ksl - 4, secret, sizeof(secret),
                                              &sl) != RTCSEC_OK)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  c->group = group;
  int rc = rtcsec_transcript_add(&c->tr, RTCSEC_HS_SERVER_HELLO, body, len);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_init(&c->ks, s->md(), RTCSEC_D13_PREFIX_DTLS);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_handshake(&c->ks, secret, sl);
  OPENSSL_cleanse(secret, sizeof(secret));
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&c->tr, h);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&c->ks, "c hs traffic", h, c->c_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&c->ks, "s hs traffic", h, c->s_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&c->c, 0, 2, c->s_hs);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&c->c, 1, 2, c->c_hs);
  if (rc != RTCSEC_OK)
    return cfail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  rtcsec_d13_conn_expect(&c->c, 2);
  c->phase = C_WAIT_EE;
  return RTCSEC_OK;
}

static int on_encrypted_extensions(d13c *c, const uint8_t *body, size_t len) {
  rtcsec_rd r, exts;
  rd_init(&r, body, len);
  rd_vec(&r, 2, &exts);
  if (!rd_done(&r))
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
  size_t sl = 0;
  const uint8_t *srtp = find_ext(exts, RTCSEC_EXT_USE_SRTP, &sl);
  /* RFC 5764 §4.1.1: exactly one profile the client offered. */
  if (srtp == NULL)
    return cfail(c, RTCSEC_ERR_SRTP_NOT_NEGOTIATED, RTCSEC_ALERT_HANDSHAKE_FAILURE);
  if (sl != 5 || get_uint(srtp, 2) != 2 || srtp[4] != 0)
    return cfail(c, RTCSEC_ERR_SRTP_BAD_PROFILE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  rtcsec_srtp_profile p = (rtcsec_srtp_profile)get_uint(srtp + 2, 2);
  int offered = 0;
  for (size_t i = 0; i < c->cfg.n_profiles; i++)
    offered |= c->cfg.profiles[i] == p;
  if (!offered)
    return cfail(c, RTCSEC_ERR_SRTP_BAD_PROFILE, RTCSEC_ALERT_ILLEGAL_PARAMETER);
  c->profile = p;
  c->phase = C_WAIT_CR;
  return RTCSEC_OK;
}

static int on_certificate_request(d13c *c, const uint8_t *body, size_t len) {
  rtcsec_rd r, ctx, exts;
  rd_init(&r, body, len);
  rd_vec(&r, 1, &ctx);
  rd_vec(&r, 2, &exts);
  size_t sl = 0;
  const uint8_t *sa = rd_done(&r) ? find_ext(exts, RTCSEC_EXT_SIGNATURE_ALGORITHMS, &sl) : NULL;
  if (sa == NULL || sl < 4 || sl > sizeof(c->cr_sig_buf) || get_uint(sa, 2) != sl - 2 ||
      sl % 2 != 0)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECODE_ERROR);
  memcpy(c->cr_context, ctx.p, rd_left(&ctx));
  c->cr_context_len = rd_left(&ctx);
  memcpy(c->cr_sig_buf, sa + 2, sl - 2);
  c->cr_sig_algs = (rtcsec_u16_list){c->cr_sig_buf, (sl - 2) / 2};
  c->phase = C_WAIT_CERT;
  return RTCSEC_OK;
}

static int on_certificate(d13c *c, const uint8_t *body, size_t len) {
  X509 *leaf = NULL;
  int alert = RTCSEC_ALERT_DECODE_ERROR;
  if (rtcsec_d13_read_certificate(body, len, NULL, 0, &leaf, &alert) != RTCSEC_OK)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, alert);
  if (leaf == NULL)
    return cfail(c, RTCSEC_ERR_NO_PEER_CERTIFICATE, RTCSEC_ALERT_DECODE_ERROR);
  if (c->cfg.server_fp != NULL) {
    unsigned char *der = NULL;
    int dl = i2d_X509(leaf, &der);
    rtcsec_fingerprint fp;
    int ok = dl > 0 &&
             rtcsec_fingerprint_of_der(der, (size_t)dl, c->cfg.server_fp->hash, &fp) == 0 &&
             rtcsec_fingerprint_equal(&fp, c->cfg.server_fp);
    OPENSSL_free(der);
    if (!ok) {
      X509_free(leaf);
      return cfail(c, RTCSEC_ERR_FINGERPRINT_MISMATCH, RTCSEC_ALERT_BAD_CERTIFICATE);
    }
  }
  c->server_key = X509_get_pubkey(leaf);
  X509_free(leaf);
  if (c->server_key == NULL)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_BAD_CERTIFICATE);
  c->phase = C_WAIT_CV;
  return RTCSEC_OK;
}

static int on_certificate_verify(d13c *c, const uint8_t *body, size_t len, const uint8_t *h) {
  int alert = RTCSEC_ALERT_DECODE_ERROR;
  if (rtcsec_d13_check_certificate_verify(c->server_key, body, len, 1, h, c->tr.hlen,
                                          c->cfg.sig_algs, c->cfg.n_sig_algs, &alert) != RTCSEC_OK)
    return cfail(c, RTCSEC_ERR_HANDSHAKE, alert);
  c->phase = C_WAIT_FIN;
  return RTCSEC_OK;
}

/* The client's last flight: Certificate, CertificateVerify, Finished. */
static int send_client_flight(d13c *c, uint64_t now) {
  const EVP_MD *md = c->suite->md();
  size_t hlen = c->tr.hlen;
  uint8_t h[RTCSEC_D13_MAX_HASH];
  uint8_t *buf = malloc(8192);
  rtcsec_wr w;
  if (buf == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  rtcsec_d13_conn_flight_begin(&c->c, 1);
  unsigned char *der = NULL;
  int dl = c->cfg.cert != NULL ? i2d_X509(rtcsec_cert_x509(c->cfg.cert), &der) : 0;
  wr_init(&w, buf, 8192);
  rtcsec_d13_write_certificate(&w, c->cr_context, c->cr_context_len, der, dl > 0 ? (size_t)dl : 0);
  OPENSSL_free(der);
  int rc = w.ok ? rtcsec_transcript_add(&c->tr, RTCSEC_HS_CERTIFICATE, buf, w.off)
                : RTCSEC_ERR_NO_MEMORY;
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_flight_add(&c->c, RTCSEC_HS_CERTIFICATE, buf, w.off, 2);
  if (rc == RTCSEC_OK && c->cfg.cert != NULL) {
    rtcsec_cert *signer = c->cfg.sign_with ? c->cfg.sign_with : c->cfg.cert;
    EVP_PKEY *key = rtcsec_cert_pkey(signer);
    uint16_t scheme = rtcsec_d13_pick_sig_scheme(key, c->cr_sig_algs);
    rc = rtcsec_transcript_hash(&c->tr, h);
    wr_init(&w, buf, 8192);
    if (rc == RTCSEC_OK)
      rc = rtcsec_d13_write_certificate_verify(&w, key, scheme, 0, h, hlen);
    if (rc == RTCSEC_OK && c->cfg.corrupt_cv)
      buf[w.off - 3] ^= 0x01;
    if (rc == RTCSEC_OK)
      rc = rtcsec_transcript_add(&c->tr, RTCSEC_HS_CERTIFICATE_VERIFY, buf, w.off);
    if (rc == RTCSEC_OK)
      rc = rtcsec_d13_conn_flight_add(&c->c, RTCSEC_HS_CERTIFICATE_VERIFY, buf, w.off, 2);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&c->tr, h);
  if (rc == RTCSEC_OK)
    rc = rtcsec_finished_mac(md, RTCSEC_D13_PREFIX_DTLS, c->c_hs, h, buf);
  if (rc == RTCSEC_OK && c->cfg.corrupt_finished)
    buf[0] ^= 0x80;
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_flight_add(&c->c, RTCSEC_HS_FINISHED, buf, hlen, 2);
  free(buf);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_flight_send(&c->c, now);
  return rc;
}

static int on_finished(d13c *c, const uint8_t *body, size_t len, const uint8_t *h, uint64_t now) {
  const EVP_MD *md = c->suite->md();
  uint8_t want[RTCSEC_D13_MAX_HASH], c_ap[RTCSEC_D13_MAX_HASH], s_ap[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_finished_mac(md, RTCSEC_D13_PREFIX_DTLS, c->s_hs, h, want);
  if (rc != RTCSEC_OK || !rtcsec_d13_finished_equal(body, len, want, c->tr.hlen))
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_DECRYPT_ERROR);
  rc = rtcsec_transcript_add(&c->tr, RTCSEC_HS_FINISHED, body, len);
  uint8_t h2[RTCSEC_D13_MAX_HASH];
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_master(&c->ks);
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_hash(&c->tr, h2);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&c->ks, "c ap traffic", h2, c_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&c->ks, "s ap traffic", h2, s_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_ks_derive(&c->ks, "exp master", h2, c->exporter);
  if (rc == RTCSEC_OK)
    rc = send_client_flight(c, now);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&c->c, 1, 3, c_ap);
  if (rc == RTCSEC_OK)
    rc = rtcsec_d13_conn_install(&c->c, 0, 3, s_ap);
  OPENSSL_cleanse(c_ap, sizeof(c_ap));
  OPENSSL_cleanse(s_ap, sizeof(s_ap));
  if (rc != RTCSEC_OK)
    return cfail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  c->phase = C_DONE;
  rtcsec_d13_conn_connected(&c->c, now);
  rtcsec_event ev = {.type = RTCSEC_EVENT_CONNECTED};
  ev.connected.profile = c->profile;
  ev.connected.version = "DTLSv1.3";
  ev.connected.cipher = c->suite->name;
  ev.connected.group = rtcsec_kex_group_name(c->group);
  ev.connected.role = RTCSEC_DTLS_CLIENT;
  return rtcsec_d13_conn_push_event(&c->c, &ev, NULL, 0);
}

int d13c_export_srtp(d13c *c, rtcsec_srtp_keys *k) {
  memset(k, 0, sizeof(*k));
  size_t kl = rtcsec_srtp_profile_key_len(c->profile),
         sl = rtcsec_srtp_profile_salt_len(c->profile);
  if (kl == 0)
    return RTCSEC_ERR_INVALID_STATE;
  k->profile = c->profile;
  k->key_len = kl;
  k->salt_len = sl;
  k->material_len = 2 * (kl + sl);
  int rc = d13c_export(c, "EXTRACTOR-dtls_srtp", k->material, k->material_len);
  const uint8_t *ck = k->material, *sk = ck + kl, *cs = sk + kl, *ss = cs + sl;
  memcpy(k->local_key, ck, kl);
  memcpy(k->remote_key, sk, kl);
  memcpy(k->local_salt, cs, sl);
  memcpy(k->remote_salt, ss, sl);
  return rc;
}

static int on_message(void *role, uint8_t type, const uint8_t *body, size_t len, uint64_t epoch,
                      uint64_t now) {
  d13c *c = role;
  (void)epoch;
  static const uint8_t expect[] = {
      [C_WAIT_SERVER_HELLO] = RTCSEC_HS_SERVER_HELLO, [C_WAIT_EE] = RTCSEC_HS_ENCRYPTED_EXTENSIONS,
      [C_WAIT_CR] = RTCSEC_HS_CERTIFICATE_REQUEST,    [C_WAIT_CERT] = RTCSEC_HS_CERTIFICATE,
      [C_WAIT_CV] = RTCSEC_HS_CERTIFICATE_VERIFY,     [C_WAIT_FIN] = RTCSEC_HS_FINISHED,
  };
  if (c->phase >= C_DONE || type != expect[c->phase]) {
    if (c->phase == C_WAIT_SERVER_HELLO)
      return RTCSEC_D13_IGNORED; /* unauthenticated */
    return cfail(c, RTCSEC_ERR_HANDSHAKE, RTCSEC_ALERT_UNEXPECTED_MESSAGE);
  }
  if (c->phase == C_WAIT_SERVER_HELLO)
    return on_server_hello(c, body, len, now);
  uint8_t h[RTCSEC_D13_MAX_HASH];
  int rc = rtcsec_transcript_hash(&c->tr, h);
  if (rc != RTCSEC_OK)
    return cfail(c, rc, RTCSEC_ALERT_INTERNAL_ERROR);
  switch (c->phase) {
  case C_WAIT_EE:
    rc = on_encrypted_extensions(c, body, len);
    break;
  case C_WAIT_CR:
    rc = on_certificate_request(c, body, len);
    break;
  case C_WAIT_CERT:
    rc = on_certificate(c, body, len);
    break;
  case C_WAIT_CV:
    rc = on_certificate_verify(c, body, len, h);
    break;
  default:
    return on_finished(c, body, len, h, now);
  }
  if (rc == RTCSEC_OK)
    rc = rtcsec_transcript_add(&c->tr, type, body, len);
  return rc;
}

/* ---- API ------------------------------------------------------------------------------------ */

int d13c_new(d13c **out, const d13c_config *cfg, uint64_t now) {
  *out = NULL;
  d13c *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  c->cfg = *cfg;
  rtcsec_d13_conn_config cc = {.mtu = cfg->mtu ? cfg->mtu : 1200,
                               .rto_initial_us = cfg->rto_initial_us ? cfg->rto_initial_us : 100000,
                               .rto_max_us = 3000000,
                               .handshake_timeout_us =
                                   cfg->handshake_timeout_us ? cfg->handshake_timeout_us : 30000000,
                               .on_message = on_message,
                               .role = c,
                               .seal_flags = cfg->seal_flags,
                               .seal_pad = cfg->seal_pad};
  int rc = rtcsec_d13_conn_init(&c->c, &cc, now);
  if (rc == RTCSEC_OK)
    rc = make_shares(c, cfg);
  if (rc == RTCSEC_OK)
    rc = send_client_hello(c, now, 0);
  if (rc != RTCSEC_OK) {
    d13c_free(c);
    return rc;
  }
  *out = c;
  return RTCSEC_OK;
}

void d13c_free(d13c *c) {
  if (c == NULL)
    return;
  rtcsec_d13_conn_clear(&c->c);
  free_shares(c);
  EVP_PKEY_free(c->server_key);
  free(c->ch1);
  if (c->tr_ready)
    rtcsec_transcript_free(&c->tr);
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

int d13c_handle_datagram(d13c *c, const uint8_t *data, size_t len, uint64_t now) {
  int rc = rtcsec_d13_conn_handle_datagram(&c->c, data, len, now);
  ERR_clear_error();
  return rc;
}

int d13c_handle_timeout(d13c *c, uint64_t now) {
  return rtcsec_d13_conn_handle_timeout(&c->c, now);
}
uint64_t d13c_deadline(const d13c *c) { return rtcsec_d13_conn_deadline(&c->c); }
int d13c_poll_datagram(d13c *c, uint8_t *buf, size_t cap, size_t *len) {
  return rtcsec_d13_conn_poll_datagram(&c->c, buf, cap, len);
}
int d13c_poll_event(d13c *c, rtcsec_event *ev) { return rtcsec_d13_conn_poll_event(&c->c, ev); }
int d13c_send(d13c *c, const uint8_t *data, size_t len, uint64_t now) {
  return rtcsec_d13_conn_send(&c->c, data, len, now);
}
int d13c_close(d13c *c, uint64_t now) { return rtcsec_d13_conn_close(&c->c, now); }
int d13c_key_update(d13c *c, int update_requested, uint64_t now) {
  return rtcsec_d13_conn_key_update(&c->c, update_requested, now);
}
rtcsec_dtls_state d13c_state(const d13c *c) { return c->c.state; }
rtcsec_d13_conn *d13c_conn(d13c *c) { return &c->c; }
int d13c_got_hrr(const d13c *c) { return c->hrr; }
int d13c_final_acked(const d13c *c) { return c->phase == C_DONE && !c->c.flight.active; }

int d13c_export(d13c *c, const char *label, uint8_t *out, size_t len) {
  if (c->phase != C_DONE && c->c.state != RTCSEC_DTLS_STATE_CONNECTED)
    return RTCSEC_ERR_INVALID_STATE;
  return rtcsec_exporter(c->suite->md(), RTCSEC_D13_PREFIX_DTLS, c->exporter, label, NULL, 0, out,
                         len);
}
