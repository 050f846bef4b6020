/* SRTP bridge (srtp_bridge/srtp.c): RFC 3711 and RFC 7714 vectors, cross-checks
 * against a plain libsrtp2 session configured here, bad input, limits, sequence
 * number wrap and the replay window.
 *
 * The reference computations (support/srtp_ref.c: AES-CM keystream, the RFC
 * 3711 §4.3 key derivation, HMAC-SHA1 tags, AES-GCM) use OpenSSL's EVP API
 * directly: they are independent of libsrtp2 and of rtcsec's cipher types,
 * which the bridge uses (by default this process runs libsrtp2 on rtcsec's
 * types: see process_runs_libsrtp2_on_rtcsec_types below), and each is
 * itself pinned to the RFC's published vectors before it is used to judge
 * the bridge. */
#include <check.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/profile.h"
#include "rtcsec/srtp.h"
#include "srtp_internal.h"
#include "srtp_ref.h"
#include "srtp_types.h"

static const rtcsec_srtp_profile all_profiles[] = {
    RTCSEC_SRTP_AES128_CM_SHA1_80,
    RTCSEC_SRTP_AES128_CM_SHA1_32,
    RTCSEC_SRTP_AEAD_AES_128_GCM,
    RTCSEC_SRTP_AEAD_AES_256_GCM,
};
#define N_ALL_PROFILES (sizeof(all_profiles) / sizeof(all_profiles[0]))

/* ---- helpers ------------------------------------------------------------ */

/* RTP packet: V=2, PT 96, no CSRC, no extension, payload of `fill`. */
static size_t make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len,
                       uint8_t fill) {
  memset(buf, 0, 12);
  buf[0] = 0x80;
  buf[1] = 96;
  put_be16(buf + 2, seq);
  put_be32(buf + 4, (uint32_t)seq * 960u);
  put_be32(buf + 8, ssrc);
  memset(buf + 12, fill, payload_len);
  return 12 + payload_len;
}

/* RTCP sender report without report blocks (RFC 3550 §6.4.1), 28 octets. */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, uint8_t fill) {
  memset(buf, fill, 28);
  buf[0] = 0x80;
  buf[1] = 200;
  put_be16(buf + 2, 6);
  put_be32(buf + 4, ssrc);
  return 28;
}

/* Keys with distinct local and remote material derived from `seed`. */
static void make_keys(rtcsec_srtp_keys *k, rtcsec_srtp_profile p, uint8_t seed) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = rtcsec_srtp_profile_key_len(p);
  k->salt_len = rtcsec_srtp_profile_salt_len(p);
  for (size_t i = 0; i < k->key_len; i++) {
    k->local_key[i] = (uint8_t)(seed + i);
    k->remote_key[i] = (uint8_t)(seed * 7 + 3 * i + 1);
  }
  for (size_t i = 0; i < k->salt_len; i++) {
    k->local_salt[i] = (uint8_t)(seed ^ (0xa0 + i));
    k->remote_salt[i] = (uint8_t)(seed ^ (0xb0 + 2 * i));
  }
}

/* What the peer holds: local and remote swapped. */
static void mirror_keys(const rtcsec_srtp_keys *k, rtcsec_srtp_keys *m) {
  *m = *k;
  memcpy(m->local_key, k->remote_key, sizeof(m->local_key));
  memcpy(m->local_salt, k->remote_salt, sizeof(m->local_salt));
  memcpy(m->remote_key, k->local_key, sizeof(m->remote_key));
  memcpy(m->remote_salt, k->local_salt, sizeof(m->remote_salt));
}

/* Two bridges that talk to each other: a's local key is b's remote key. */
struct pair {
  rtcsec_srtp *a;
  rtcsec_srtp *b;
};

static void pair_new(struct pair *pr, rtcsec_srtp_profile p, const rtcsec_srtp_config *cfg) {
  rtcsec_srtp_keys k, m;
  make_keys(&k, p, 0x42);
  mirror_keys(&k, &m);
  ck_assert_int_eq(rtcsec_srtp_new(&pr->a, &k, cfg), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_srtp_new(&pr->b, &m, cfg), RTCSEC_OK);
  rtcsec_srtp_keys_wipe(&k);
  rtcsec_srtp_keys_wipe(&m);
}

static void pair_free(struct pair *pr) {
  rtcsec_srtp_free(pr->a);
  rtcsec_srtp_free(pr->b);
}

/* a protects an RTP packet, b unprotects it: the session still works. */
static void genuine_rtp_passes(rtcsec_srtp *from, rtcsec_srtp *to, uint32_t ssrc, uint16_t seq) {
  uint8_t buf[256], orig[256];
  size_t len = make_rtp(buf, ssrc, seq, 40, (uint8_t)seq), out;
  memcpy(orig, buf, len);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(from, buf, len, sizeof(buf), &out), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(to, buf, out, &out), RTCSEC_OK);
  ck_assert_uint_eq(out, len);
  ck_assert_mem_eq(buf, orig, len);
}

static void genuine_rtcp_passes(rtcsec_srtp *from, rtcsec_srtp *to, uint32_t ssrc) {
  uint8_t buf[256], orig[256];
  size_t len = make_rtcp(buf, ssrc, 0x33), out;
  memcpy(orig, buf, len);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(from, buf, len, sizeof(buf), &out), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(to, buf, out, &out), RTCSEC_OK);
  ck_assert_uint_eq(out, len);
  ck_assert_mem_eq(buf, orig, len);
}

/* ---- independent reference crypto (OpenSSL EVP) ------------------------- */

/* SRTP AES-CM IV (RFC 3711 §4.1.1): (k_s * 2^16) XOR (SSRC * 2^64) XOR
 * (i * 2^16), i = ROC * 2^16 + SEQ. */
static void cm_rtp_iv(const uint8_t salt[14], uint32_t ssrc, uint64_t index, uint8_t iv[16]) {
  memset(iv, 0, 16);
  memcpy(iv, salt, 14);
  for (int k = 0; k < 4; k++)
    iv[4 + k] ^= (uint8_t)(ssrc >> (24 - 8 * k));
  for (int k = 0; k < 6; k++)
    iv[8 + k] ^= (uint8_t)(index >> (40 - 8 * k));
}

/* RFC 7714 §8.1 SRTP IV: (00 00 || SSRC || ROC || SEQ) XOR salt. */
static void gcm_rtp_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t roc, uint16_t seq,
                       uint8_t iv[12]) {
  uint8_t x[12] = {0};
  put_be32(x + 2, ssrc);
  put_be32(x + 6, roc);
  put_be16(x + 10, seq);
  for (int i = 0; i < 12; i++)
    iv[i] = x[i] ^ salt[i];
}

/* RFC 7714 §9.1 SRTCP IV: (00 00 || SSRC || 00 00 || 0 || index) XOR salt. */
static void gcm_rtcp_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t index, uint8_t iv[12]) {
  uint8_t x[12] = {0};
  put_be32(x + 2, ssrc);
  put_be32(x + 8, index & 0x7fffffff);
  for (int i = 0; i < 12; i++)
    iv[i] = x[i] ^ salt[i];
}

/* RFC 7714 §8 SRTP: header (AAD) || GCM(payload) || tag. */
static size_t gcm_ref_rtp(const uint8_t *key, size_t key_len, const uint8_t salt[12], uint32_t roc,
                          const uint8_t *pkt, size_t len, size_t hdr_len, uint8_t *out) {
  uint8_t iv[12];
  uint32_t ssrc =
      (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
  uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
  gcm_rtp_iv(salt, ssrc, roc, seq, iv);
  memcpy(out, pkt, hdr_len);
  aes_gcm_seal(key, key_len, iv, pkt, hdr_len, pkt + hdr_len, len - hdr_len, out + hdr_len);
  return len + 16;
}

/* RFC 7714 §9 SRTCP (E = 1): first 8 octets || GCM(rest) || tag || E+index,
 * AAD = first 8 octets || E+index. */
static size_t gcm_ref_rtcp(const uint8_t *key, size_t key_len, const uint8_t salt[12],
                           uint32_t index, const uint8_t *pkt, size_t len, uint8_t *out) {
  uint8_t iv[12], aad[12];
  uint32_t ssrc = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
  gcm_rtcp_iv(salt, ssrc, index, iv);
  memcpy(aad, pkt, 8);
  put_be32(aad + 8, 0x80000000u | index);
  memcpy(out, pkt, 8);
  aes_gcm_seal(key, key_len, iv, aad, 12, pkt + 8, len - 8, out + 8);
  put_be32(out + len + 16, 0x80000000u | index);
  return len + 20;
}

/* ---- plain libsrtp2, configured here without the bridge ------------------- */

static void plain_policy(srtp_policy_t *pol, rtcsec_srtp_profile p, uint8_t *master,
                         srtp_ssrc_type_t type) {
  memset(pol, 0, sizeof(*pol));
  switch (p) {
  case RTCSEC_SRTP_AES128_CM_SHA1_80:
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
    break;
  case RTCSEC_SRTP_AES128_CM_SHA1_32:
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol->rtp);
    /* RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag. */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
    break;
  case RTCSEC_SRTP_AEAD_AES_128_GCM:
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol->rtcp);
    break;
  case RTCSEC_SRTP_AEAD_AES_256_GCM:
    srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol->rtp);
    srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol->rtcp);
    break;
  default:
    ck_abort_msg("unknown profile");
  }
  pol->ssrc.type = type;
  pol->key = master;
  pol->window_size = 1024;
  pol->allow_repeat_tx = 0;
}

/* A plain libsrtp2 session for one direction from key || salt. */
static srtp_t plain_session(rtcsec_srtp_profile p, const uint8_t *key, const uint8_t *salt,
                            srtp_ssrc_type_t type) {
  uint8_t master[64];
  size_t kl = rtcsec_srtp_profile_key_len(p), sl = rtcsec_srtp_profile_salt_len(p);
  srtp_policy_t pol;
  srtp_t s = NULL;
  memcpy(master, key, kl);
  memcpy(master + kl, salt, sl);
  plain_policy(&pol, p, master, type);
  /* The bridge initialises libsrtp2 (srtp_init() once); a second
   * srtp_init() in libsrtp2 2.5.0 returns an error, so do not call it. */
  ck_assert_int_eq(rtcsec_srtp_profile_supported(p), 1);
  ck_assert_int_eq(srtp_create(&s, &pol), srtp_err_status_ok);
  return s;
}

/* ---- profiles, creation, configuration ---------------------------------- */

START_TEST(all_four_profiles_are_supported_by_the_installed_libsrtp2) {
  /* Debian's libsrtp2 2.5.0 is built against NSS and does AES-GCM. */
  for (size_t i = 0; i < N_ALL_PROFILES; i++)
    ck_assert_int_eq(rtcsec_srtp_profile_supported(all_profiles[i]), 1);
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_NONE), 0);
  ck_assert_int_eq(rtcsec_srtp_profile_supported((rtcsec_srtp_profile)0x0005), 0);
}
END_TEST

/* The whole suite runs libsrtp2 on rtcsec's own cipher and authentication
 * types (srtp_bridge/srtp_types.h), as every process does by default: if
 * the replacement had silently failed, the vectors and cross-checks here
 * would test libsrtp2's NSS code instead. */
START_TEST(process_runs_libsrtp2_on_rtcsec_types) {
  rtcsec_srtp_types_status st;
  ck_assert_int_eq(rtcsec_srtp_test_types_status(&st), RTCSEC_OK);
  ck_assert_int_eq(st.attempted, 1);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128), &rtcsec_srtp_aes_icm_128);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_256), &rtcsec_srtp_aes_icm_256);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128), &rtcsec_srtp_aes_gcm_128);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_256), &rtcsec_srtp_aes_gcm_256);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1), &rtcsec_srtp_hmac_sha1);
}
END_TEST

START_TEST(overheads_follow_rfc5764_and_rfc7714) {
  ck_assert_uint_eq(rtcsec_srtp_rtp_overhead(RTCSEC_SRTP_AES128_CM_SHA1_80), 10);
  ck_assert_uint_eq(rtcsec_srtp_rtp_overhead(RTCSEC_SRTP_AES128_CM_SHA1_32), 4);
  ck_assert_uint_eq(rtcsec_srtp_rtp_overhead(RTCSEC_SRTP_AEAD_AES_128_GCM), 16);
  ck_assert_uint_eq(rtcsec_srtp_rtp_overhead(RTCSEC_SRTP_AEAD_AES_256_GCM), 16);
  ck_assert_uint_eq(rtcsec_srtp_rtcp_overhead(RTCSEC_SRTP_AES128_CM_SHA1_80), 14);
  ck_assert_uint_eq(rtcsec_srtp_rtcp_overhead(RTCSEC_SRTP_AES128_CM_SHA1_32), 14);
  ck_assert_uint_eq(rtcsec_srtp_rtcp_overhead(RTCSEC_SRTP_AEAD_AES_128_GCM), 20);
  ck_assert_uint_eq(rtcsec_srtp_rtcp_overhead(RTCSEC_SRTP_AEAD_AES_256_GCM), 20);
  ck_assert_uint_eq(rtcsec_srtp_rtp_overhead(RTCSEC_SRTP_NONE), 0);
  for (size_t i = 0; i < N_ALL_PROFILES; i++) {
    ck_assert_uint_le(rtcsec_srtp_rtp_overhead(all_profiles[i]), RTCSEC_SRTP_MAX_OVERHEAD);
    ck_assert_uint_le(rtcsec_srtp_rtcp_overhead(all_profiles[i]), RTCSEC_SRTP_MAX_OVERHEAD);
  }
}
END_TEST

START_TEST(new_rejects_bad_keys_and_out_of_range_config) {
  rtcsec_srtp *s = (rtcsec_srtp *)1;
  rtcsec_srtp_keys k;
  rtcsec_srtp_config cfg;
  make_keys(&k, RTCSEC_SRTP_AES128_CM_SHA1_80, 1);

  ck_assert_int_eq(rtcsec_srtp_new(NULL, &k, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_new(&s, NULL, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(s);

  k.salt_len = 12; /* AES-CM takes a 14-octet salt */
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  k.salt_len = 14;
  k.key_len = 32;
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  k.key_len = 16;
  k.profile = (rtcsec_srtp_profile)0x0005; /* SRTP_NULL_HMAC_SHA1_80: never in WebRTC */
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_ERR_UNSUPPORTED);
  k.profile = RTCSEC_SRTP_AES128_CM_SHA1_80;

  size_t bad_windows[] = {0, 63, 32768, 100000};
  for (size_t i = 0; i < sizeof(bad_windows) / sizeof(bad_windows[0]); i++) {
    rtcsec_srtp_config_default(&cfg);
    cfg.replay_window = bad_windows[i];
    ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  }
  rtcsec_srtp_config_default(&cfg);
  cfg.max_inbound_ssrcs = 0;
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  cfg.max_inbound_ssrcs = RTCSEC_SRTP_MAX_SSRCS + 1;
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_srtp_config_default(&cfg);
  cfg.max_outbound_ssrcs = 0;
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_srtp_config_default(&cfg);
  cfg.allow_repeat_tx = 2;
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_ERR_INVALID_ARGUMENT);

  size_t good_windows[] = {64, 1024, 32767};
  for (size_t i = 0; i < sizeof(good_windows) / sizeof(good_windows[0]); i++) {
    rtcsec_srtp_config_default(&cfg);
    cfg.replay_window = good_windows[i];
    cfg.max_inbound_ssrcs = RTCSEC_SRTP_MAX_SSRCS;
    ck_assert_int_eq(rtcsec_srtp_new(&s, &k, &cfg), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_get_profile(s), RTCSEC_SRTP_AES128_CM_SHA1_80);
    rtcsec_srtp_free(s);
  }
  rtcsec_srtp_free(NULL);
}
END_TEST

START_TEST(config_default_documents_its_values) {
  rtcsec_srtp_config cfg;
  rtcsec_srtp_config_default(&cfg);
  ck_assert_uint_eq(cfg.replay_window, 1024);
  ck_assert_int_eq(cfg.allow_repeat_tx, 1);
  ck_assert_uint_eq(cfg.max_inbound_ssrcs, 64);
  ck_assert_uint_eq(cfg.max_outbound_ssrcs, 64);
}
END_TEST

START_TEST(null_arguments_are_refused_on_the_packet_path) {
  struct pair pr;
  uint8_t buf[64];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  size_t len = make_rtp(buf, 1, 1, 10, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(NULL, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, NULL, len, sizeof(buf), &out),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), NULL),
                   RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.a, buf, len, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(NULL, buf, len, &out), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_get_stats(pr.a, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  pair_free(&pr);
}
END_TEST

/* ---- 1. RFC 3711 Appendix B.2 and B.3 ------------------------------------ */

/* RFC 3711 Appendix B.2 (AES-CM test vectors): session key
 * 2B7E151628AED2A6ABF7158809CF4F3C, ROC 0, SEQ 0, SSRC 0, session salt
 * F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000 ("already shifted"), keystream by
 * counter. */
static const char b2_key[] = "2B7E151628AED2A6ABF7158809CF4F3C";
static const char b2_iv[] = "F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000";
static const struct {
  unsigned block;
  const char *keystream;
} b2_blocks[] = {
    {0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"}, {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
    {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"}, {0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
    {0xFF00, "362B7C3C6773516318A077D7FC5073AE"}, {0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44"},
};

/* RFC 3711 Appendix B.3 (key derivation test vectors). */
static const char b3_master_key[] = "E1F97A0D3E018BE0D64FA32C06DE4139";
static const char b3_master_salt[] = "0EC675AD498AFEEBB6960B3AABE6";
static const char b3_cipher_key[] = "C61E7A93744F39EE10734AFE3FF7A087";
static const char b3_cipher_salt[] = "30CBBC08863D8C85D49DB34A9AE1";
/* The first 20 octets of B.3's 94-octet auth key: HMAC-SHA1 takes a
 * 160-bit key (RFC 3711 §4.2.1). The whole 94 octets are checked below. */
static const char b3_auth_key[] = "CEBE321F6FF7716B6FD4AB49AF256A15"
                                  "6D38BAA48F0A0ACF3C34E2359E6CDBCE"
                                  "E049646C43D9327AD175578EF7227098"
                                  "6371C10C9A369AC2F94A8C5FBCDDDC25"
                                  "6D6E919A48B610EF17C2041E47403576"
                                  "6B68642C59BBFC2F34DB60DBDFB2";

START_TEST(reference_aes_cm_reproduces_rfc3711_b2_keystream) {
  uint8_t key[16], iv[16], want[16];
  unhex(b2_key, key, sizeof(key));
  unhex(b2_iv, iv, sizeof(iv));
  /* The B.2 segment is 65282 blocks long; generate all of it. */
  size_t n = 65282 * 16;
  uint8_t *ks = malloc(n);
  ck_assert_ptr_nonnull(ks);
  aes_cm_keystream(key, sizeof(key), iv, ks, n);
  for (size_t i = 0; i < sizeof(b2_blocks) / sizeof(b2_blocks[0]); i++) {
    unhex(b2_blocks[i].keystream, want, sizeof(want));
    ck_assert_mem_eq(ks + 16 * (size_t)b2_blocks[i].block, want, 16);
  }
  free(ks);
}
END_TEST

START_TEST(reference_kdf_reproduces_rfc3711_b3_session_keys) {
  uint8_t mk[16], ms[14], want[94], got[94];
  unhex(b3_master_key, mk, sizeof(mk));
  unhex(b3_master_salt, ms, sizeof(ms));
  ref_kdf(mk, 16, ms, 14, 0x00, got, 16);
  unhex(b3_cipher_key, want, sizeof(want));
  ck_assert_mem_eq(got, want, 16);
  ref_kdf(mk, 16, ms, 14, 0x02, got, 14);
  unhex(b3_cipher_salt, want, sizeof(want));
  ck_assert_mem_eq(got, want, 14);
  ref_kdf(mk, 16, ms, 14, 0x01, got, 94);
  ck_assert_uint_eq(unhex(b3_auth_key, want, sizeof(want)), 94);
  ck_assert_mem_eq(got, want, 94);
}
END_TEST

/* The bridge is keyed with B.3's master key and salt; its SRTP output is
 * compared with what B.3's *session* keys (the constants above, not a
 * derivation of ours) give: payload = plaintext XOR AES-CM keystream under
 * the cipher key and an IV built from the cipher salt, tag = HMAC-SHA1
 * under the auth key over header || ciphertext || ROC (RFC 3711 §4.2).
 * So this checks libsrtp2's key derivation as the bridge sets it up (key ||
 * salt in one buffer), against B.3. The zero payload makes the ciphertext
 * the keystream itself, the quantity B.2 tabulates. */
START_TEST(bridge_keyed_with_rfc3711_b3_master_key_emits_b3_session_key_output) {
  const rtcsec_srtp_profile profs[] = {RTCSEC_SRTP_AES128_CM_SHA1_80,
                                       RTCSEC_SRTP_AES128_CM_SHA1_32};
  const struct {
    uint32_t ssrc;
    uint16_t seq;
  } pkts[] = {{0x00000000, 0x0000}, {0xCAFEBABE, 0x1234}};
  uint8_t ck[16], cs[14], ak[94];
  unhex(b3_cipher_key, ck, sizeof(ck));
  unhex(b3_cipher_salt, cs, sizeof(cs));
  unhex(b3_auth_key, ak, sizeof(ak));

  for (size_t pi = 0; pi < 2; pi++) {
    rtcsec_srtp_keys k;
    rtcsec_srtp *s;
    make_keys(&k, profs[pi], 9);
    unhex(b3_master_key, k.local_key, sizeof(k.local_key));
    unhex(b3_master_salt, k.local_salt, sizeof(k.local_salt));
    ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_OK);
    size_t tag_len = rtcsec_srtp_rtp_overhead(profs[pi]);

    for (size_t j = 0; j < 2; j++) {
      uint8_t buf[128], iv[16], ks[48], mac[20], roc[4] = {0, 0, 0, 0};
      size_t len = make_rtp(buf, pkts[j].ssrc, pkts[j].seq, 48, 0x00), out;
      ck_assert_int_eq(rtcsec_srtp_protect_rtp(s, buf, len, sizeof(buf), &out), RTCSEC_OK);
      ck_assert_uint_eq(out, len + tag_len);

      /* First packet of the stream: ROC 0, index = SEQ. */
      cm_rtp_iv(cs, pkts[j].ssrc, pkts[j].seq, iv);
      if (j == 0) {
        /* SSRC 0 and index 0: the IV is the shifted salt, as in B.2. */
        uint8_t want_iv[16];
        unhex("30CBBC08863D8C85D49DB34A9AE10000", want_iv, sizeof(want_iv));
        ck_assert_mem_eq(iv, want_iv, 16);
      }
      aes_cm_keystream(ck, 16, iv, ks, sizeof(ks));
      ck_assert_mem_eq(buf + 12, ks, 48); /* zero payload: ciphertext = keystream */

      /* RFC 3711 §4.2: M = authenticated portion || ROC. */
      hmac_sha1(ak, 20, buf, len, roc, sizeof(roc), mac);
      ck_assert_mem_eq(buf + len, mac, tag_len);
    }
    rtcsec_srtp_free(s);
  }
}
END_TEST

/* SRTCP with the B.3 master key. B.3 lists only the SRTP labels 0..2; the
 * SRTCP session keys (labels 3, 4, 5) come from the reference KDF, which
 * the test above pins to B.3. RFC 3711 §3.4/§4.1.1: the IV uses the 31-bit
 * SRTCP index, the tag covers header || ciphertext || E+index. */
START_TEST(bridge_srtcp_with_rfc3711_b3_master_key_matches_reference) {
  uint8_t mk[16], ms[14], ek[16], es[14], ak[20];
  unhex(b3_master_key, mk, sizeof(mk));
  unhex(b3_master_salt, ms, sizeof(ms));
  ref_kdf(mk, 16, ms, 14, 0x03, ek, sizeof(ek));
  ref_kdf(mk, 16, ms, 14, 0x04, ak, sizeof(ak));
  ref_kdf(mk, 16, ms, 14, 0x05, es, sizeof(es));

  rtcsec_srtp_keys k;
  rtcsec_srtp *s;
  make_keys(&k, RTCSEC_SRTP_AES128_CM_SHA1_32, 3);
  memcpy(k.local_key, mk, 16);
  memcpy(k.local_salt, ms, 14);
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_OK);

  for (uint32_t n = 1; n <= 3; n++) {
    uint8_t buf[128], plain[128], iv[16], ks[20], mac[20];
    size_t len = make_rtcp(buf, 0xDECAFBAD, (uint8_t)n), out;
    memcpy(plain, buf, len);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(s, buf, len, sizeof(buf), &out), RTCSEC_OK);
    /* 80-bit SRTCP tag even for the _32 profile (RFC 5764 §4.1.2). */
    ck_assert_uint_eq(out, len + 4 + 10);
    /* libsrtp2 numbers SRTCP packets from 1. */
    uint8_t want_idx[4] = {0x80, 0, 0, (uint8_t)n};
    ck_assert_mem_eq(buf + len, want_idx, 4);
    cm_rtp_iv(es, 0xDECAFBAD, n, iv);
    aes_cm_keystream(ek, 16, iv, ks, len - 8);
    for (size_t i = 8; i < len; i++)
      ck_assert_uint_eq(buf[i], plain[i] ^ ks[i - 8]);
    hmac_sha1(ak, 20, buf, len + 4, NULL, 0, mac);
    ck_assert_mem_eq(buf + len + 4, mac, 10);
  }
  rtcsec_srtp_free(s);
}
END_TEST

/* ---- 2. RFC 7714 §16 and §17 ----------------------------------------------- */

/* RFC 7714 §16 and §17 give the *session* key and salt that AES-GCM uses
 * directly ("Key", "Salt" are inputs to the IV formation and the cipher,
 * after the KDF), so they cannot be fed through the bridge, which takes
 * master keys. What is compared, in two steps:
 *   a. the reference AES-GCM (OpenSSL) with the RFC's key, salt and IV
 *      construction reproduces the RFC's protected packets byte for byte;
 *   b. the bridge, keyed with the same octets as *master* key and salt,
 *      protects the RFC's packets to exactly what the reference gives with
 *      the session key and salt derived from them (reference KDF, labels
 *      0/2 for SRTP and 3/5 for SRTCP), and a peer bridge unprotects them
 *      back to the RFC's plaintext. */
static const char r7714_key128[] = "000102030405060708090a0b0c0d0e0f";
static const char r7714_key256[] = "000102030405060708090a0b0c0d0e0f"
                                   "101112131415161718191a1b1c1d1e1f";
static const char r7714_salt[] = "517569642070726f2071756f"; /* "Quid pro quo" */
/* §16.1: RTP packet, SSRC 0x5501a0b2, SEQ 0xf17b, ROC 0. */
static const char r7714_rtp[] = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973"
                                "20646976 69736120 696e2070 61727465 73207472 6573";
/* §16.1.1 (AEAD_AES_128_GCM encryption): header || ciphertext || tag. */
static const char r7714_srtp128[] = "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca"
                                    "be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1"
                                    "6a9152cf 765ee439 0cce";
/* §16.2.1 (AEAD_AES_256_GCM encryption). */
static const char r7714_srtp256[] = "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa"
                                    "b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff"
                                    "d6b0f9bb 7878d7a7 6c13";
/* §17: RTCP packet, SSRC 0x4d617273 ("Mars"), SRTCP index 0x5d4. */
static const char r7714_rtcp[] = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930"
                                 "4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
/* §17.1 (AEAD_AES_128_GCM, E = 1): header || ciphertext || tag || E+index. */
static const char r7714_srtcp128[] = "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99"
                                     "7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded"
                                     "0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4";
/* §17.2 (AEAD_AES_256_GCM verification and decryption: its protected packet, E = 1). */
static const char r7714_srtcp256[] = "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28"
                                     "2c3ece5d bffe0a50 a2eaa5c1 110555be 8415f658 c61de047"
                                     "6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be 800005d4";
#define R7714_RTCP_INDEX 0x5d4u

START_TEST(reference_aes_gcm_reproduces_rfc7714_section16_and_17_vectors) {
  uint8_t key[32], salt[12], pkt[128], want[160], got[160];
  const struct {
    const char *key, *srtp, *srtcp;
  } v[] = {{r7714_key128, r7714_srtp128, r7714_srtcp128},
           {r7714_key256, r7714_srtp256, r7714_srtcp256}};
  unhex(r7714_salt, salt, sizeof(salt));
  for (size_t i = 0; i < 2; i++) {
    size_t kl = unhex(v[i].key, key, sizeof(key));
    size_t len = unhex(r7714_rtp, pkt, sizeof(pkt));
    size_t wl = unhex(v[i].srtp, want, sizeof(want));
    ck_assert_uint_eq(gcm_ref_rtp(key, kl, salt, 0, pkt, len, 12, got), wl);
    ck_assert_mem_eq(got, want, wl);

    len = unhex(r7714_rtcp, pkt, sizeof(pkt));
    wl = unhex(v[i].srtcp, want, sizeof(want));
    ck_assert_uint_eq(gcm_ref_rtcp(key, kl, salt, R7714_RTCP_INDEX, pkt, len, got), wl);
    ck_assert_mem_eq(got, want, wl);
  }
}
END_TEST

START_TEST(bridge_gcm_protects_rfc7714_packets_as_the_reference_does_and_unprotects_them) {
  const struct {
    rtcsec_srtp_profile p;
    const char *key;
  } v[] = {{RTCSEC_SRTP_AEAD_AES_128_GCM, r7714_key128},
           {RTCSEC_SRTP_AEAD_AES_256_GCM, r7714_key256}};
  for (size_t i = 0; i < 2; i++) {
    rtcsec_srtp_keys k, m;
    rtcsec_srtp *tx, *rx;
    uint8_t mk[32], ms[12], sk[32], ss[12], rk[32], rs[12];
    uint8_t plain[128], buf[160], want[160];
    size_t kl = unhex(v[i].key, mk, sizeof(mk)), len, out, wl;
    unhex(r7714_salt, ms, sizeof(ms));

    make_keys(&k, v[i].p, 5);
    memcpy(k.local_key, mk, kl);
    memcpy(k.local_salt, ms, 12);
    mirror_keys(&k, &m);
    ck_assert_int_eq(rtcsec_srtp_new(&tx, &k, NULL), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_new(&rx, &m, NULL), RTCSEC_OK);

    /* SRTP session key and salt (labels 0 and 2), SRTCP (3 and 5). */
    ref_kdf(mk, kl, ms, 12, 0x00, sk, kl);
    ref_kdf(mk, kl, ms, 12, 0x02, ss, 12);
    ref_kdf(mk, kl, ms, 12, 0x03, rk, kl);
    ref_kdf(mk, kl, ms, 12, 0x05, rs, 12);

    len = unhex(r7714_rtp, plain, sizeof(plain));
    memcpy(buf, plain, len);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(tx, buf, len, sizeof(buf), &out), RTCSEC_OK);
    wl = gcm_ref_rtp(sk, kl, ss, 0, plain, len, 12, want);
    ck_assert_uint_eq(out, wl);
    ck_assert_mem_eq(buf, want, wl);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(rx, buf, out, &out), RTCSEC_OK);
    ck_assert_uint_eq(out, len);
    ck_assert_mem_eq(buf, plain, len);

    /* libsrtp2 numbers SRTCP packets from 1: send 0x5d3 packets first so
     * the RFC's packet goes out with the RFC's index 0x5d4. */
    for (uint32_t n = 1; n < R7714_RTCP_INDEX; n++) {
      size_t l = make_rtcp(buf, 0x4d617273, 0);
      ck_assert_int_eq(rtcsec_srtp_protect_rtcp(tx, buf, l, sizeof(buf), &out), RTCSEC_OK);
    }
    len = unhex(r7714_rtcp, plain, sizeof(plain));
    memcpy(buf, plain, len);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(tx, buf, len, sizeof(buf), &out), RTCSEC_OK);
    wl = gcm_ref_rtcp(rk, kl, rs, R7714_RTCP_INDEX, plain, len, want);
    ck_assert_uint_eq(out, wl);
    ck_assert_mem_eq(buf, want, wl);
    uint8_t trailer[4] = {0x80, 0x00, 0x05, 0xd4}; /* as in §17.1 / §17.2 */
    ck_assert_mem_eq(buf + out - 4, trailer, 4);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(rx, buf, out, &out), RTCSEC_OK);
    ck_assert_uint_eq(out, len);
    ck_assert_mem_eq(buf, plain, len);

    rtcsec_srtp_free(tx);
    rtcsec_srtp_free(rx);
  }
}
END_TEST

/* ---- 3. cross-check with plain libsrtp2 ------------------------------------ */

/* Both sides run in this process, so both on rtcsec's cipher types: this
 * checks the bridge's use of libsrtp2. The same against libsrtp2's own
 * implementations, in a second process, is the srtp_ciphers suite's
 * every_profile_interoperates_with_libsrtp2_own_ciphers_in_another_process. */

START_TEST(bridge_and_plain_libsrtp2_understand_each_other_for_every_profile) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    rtcsec_srtp_profile p = all_profiles[pi];
    rtcsec_srtp_keys k;
    rtcsec_srtp *s;
    make_keys(&k, p, (uint8_t)(0x10 + pi));
    ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_OK);
    /* The peer as plain libsrtp2: it receives with our local key and
     * sends with our remote key. */
    srtp_t peer_rx = plain_session(p, k.local_key, k.local_salt, ssrc_any_inbound);
    srtp_t peer_tx = plain_session(p, k.remote_key, k.remote_salt, ssrc_any_outbound);

    for (uint32_t ssrc = 0x1000; ssrc < 0x1003; ssrc++) {
      for (uint16_t seq = 65500; seq != 40; seq++) { /* crosses the wrap */
        uint8_t buf[256], plain[256];
        size_t len = make_rtp(buf, ssrc, seq, 1 + seq % 100, (uint8_t)seq), out;
        int ilen;
        memcpy(plain, buf, len);
        /* bridge -> plain libsrtp2 */
        ck_assert_int_eq(rtcsec_srtp_protect_rtp(s, buf, len, sizeof(buf), &out), RTCSEC_OK);
        ck_assert_uint_eq(out, len + rtcsec_srtp_rtp_overhead(p));
        ilen = (int)out;
        ck_assert_int_eq(srtp_unprotect(peer_rx, buf, &ilen), srtp_err_status_ok);
        ck_assert_int_eq(ilen, (int)len);
        ck_assert_mem_eq(buf, plain, len);
        /* plain libsrtp2 -> bridge */
        ilen = (int)len;
        ck_assert_int_eq(srtp_protect(peer_tx, buf, &ilen), srtp_err_status_ok);
        ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(s, buf, (size_t)ilen, &out), RTCSEC_OK);
        ck_assert_uint_eq(out, len);
        ck_assert_mem_eq(buf, plain, len);
      }
      for (int n = 0; n < 20; n++) {
        uint8_t buf[256], plain[256];
        size_t len = make_rtcp(buf, ssrc, (uint8_t)n), out;
        int ilen;
        memcpy(plain, buf, len);
        ck_assert_int_eq(rtcsec_srtp_protect_rtcp(s, buf, len, sizeof(buf), &out), RTCSEC_OK);
        ck_assert_uint_eq(out, len + rtcsec_srtp_rtcp_overhead(p));
        ilen = (int)out;
        ck_assert_int_eq(srtp_unprotect_rtcp(peer_rx, buf, &ilen), srtp_err_status_ok);
        ck_assert_int_eq(ilen, (int)len);
        ck_assert_mem_eq(buf, plain, len);
        ilen = (int)len;
        ck_assert_int_eq(srtp_protect_rtcp(peer_tx, buf, &ilen), srtp_err_status_ok);
        ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(s, buf, (size_t)ilen, &out), RTCSEC_OK);
        ck_assert_uint_eq(out, len);
        ck_assert_mem_eq(buf, plain, len);
      }
    }
    rtcsec_srtp_stats st;
    ck_assert_int_eq(rtcsec_srtp_get_stats(s, &st), RTCSEC_OK);
    ck_assert_uint_eq(st.outbound.rtp_packets, 3 * 76);
    ck_assert_uint_eq(st.inbound.rtp_packets, 3 * 76);
    ck_assert_uint_eq(st.outbound.rtcp_packets, 60);
    ck_assert_uint_eq(st.inbound.rtcp_packets, 60);
    ck_assert_uint_eq(st.inbound.ssrcs, 3);
    ck_assert_uint_eq(st.outbound.ssrcs, 3);
    ck_assert_uint_eq(st.inbound.auth_failures, 0);
    srtp_dealloc(peer_rx);
    srtp_dealloc(peer_tx);
    rtcsec_srtp_free(s);
  }
}
END_TEST

/* ---- 4. bad input: each is dropped, counted, and the session goes on ------- */

START_TEST(empty_and_one_byte_packets_are_malformed) {
  struct pair pr;
  uint8_t buf[64] = {0x80};
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  for (size_t len = 0; len < 2; len++) {
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                     RTCSEC_ERR_SRTP_MALFORMED);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out),
                     RTCSEC_ERR_SRTP_MALFORMED);
  }
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(pr.b, &st);
  ck_assert_uint_eq(st.inbound.malformed, 4);
  rtcsec_srtp_get_stats(pr.a, &st);
  ck_assert_uint_eq(st.outbound.malformed, 4);
  genuine_rtp_passes(pr.a, pr.b, 7, 1);
  genuine_rtcp_passes(pr.a, pr.b, 7);
  pair_free(&pr);
}
END_TEST

START_TEST(rtp_shorter_than_the_fixed_header_is_malformed) {
  struct pair pr;
  uint8_t buf[64];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AEAD_AES_128_GCM, NULL);
  make_rtp(buf, 7, 1, 20, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, 11, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_MALFORMED);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, 11, &out), RTCSEC_ERR_SRTP_MALFORMED);
  /* 12 octets of header but no room for the 16-octet tag. */
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, 12 + 15, &out), RTCSEC_ERR_SRTP_MALFORMED);
  /* RTCP: 8 octets of header + 20 of trailer at least. */
  make_rtcp(buf, 7, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, 7, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_MALFORMED);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, 27, &out), RTCSEC_ERR_SRTP_MALFORMED);
  genuine_rtp_passes(pr.a, pr.b, 7, 2);
  genuine_rtcp_passes(pr.a, pr.b, 7);
  pair_free(&pr);
}
END_TEST

START_TEST(rtp_and_rtcp_with_version_other_than_2_are_malformed) {
  struct pair pr;
  uint8_t buf[128];
  size_t out, len;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  for (uint8_t v = 0; v < 4; v++) {
    if (v == 2)
      continue;
    len = make_rtp(buf, 7, 1, 40, 0);
    buf[0] = (uint8_t)(v << 6);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                     RTCSEC_ERR_SRTP_MALFORMED);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
    len = make_rtcp(buf, 7, 0);
    buf[0] = (uint8_t)(v << 6);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
  }
  genuine_rtp_passes(pr.a, pr.b, 7, 2);
  pair_free(&pr);
}
END_TEST

START_TEST(csrc_count_running_past_the_end_is_malformed) {
  struct pair pr;
  uint8_t buf[128];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  size_t len = make_rtp(buf, 7, 1, 20, 0);
  buf[0] = 0x80 | 15; /* 15 CSRCs = 60 octets, only 20 follow */
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_MALFORMED);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
  /* Exactly filling the packet is a header without payload: fine to protect. */
  len = make_rtp(buf, 7, 2, 8, 0);
  buf[0] = 0x80 | 2;
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_OK);
  genuine_rtp_passes(pr.a, pr.b, 7, 3);
  pair_free(&pr);
}
END_TEST

START_TEST(header_extension_length_running_past_the_end_is_malformed) {
  struct pair pr;
  uint8_t buf[128];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AEAD_AES_256_GCM, NULL);
  size_t len = make_rtp(buf, 7, 1, 20, 0);
  buf[0] = 0x90;              /* X bit */
  put_be16(buf + 12, 0xBEDE); /* RFC 8285 one-byte header profile */
  put_be16(buf + 14, 5);      /* 20 octets claimed, 16 present */
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_MALFORMED);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, len, &out), RTCSEC_ERR_SRTP_MALFORMED);
  /* X bit set but not even the 4-octet extension header fits. */
  len = make_rtp(buf, 7, 1, 2, 0);
  buf[0] = 0x90;
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_MALFORMED);
  /* A valid extension goes through, header extension included. */
  len = make_rtp(buf, 7, 2, 20, 0x11);
  buf[0] = 0x90;
  put_be16(buf + 12, 0xBEDE);
  put_be16(buf + 14, 1);
  uint8_t plain[128];
  memcpy(plain, buf, len);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_OK);
  ck_assert_uint_eq(out, len);
  ck_assert_mem_eq(buf, plain, len);
  genuine_rtp_passes(pr.a, pr.b, 7, 3);
  pair_free(&pr);
}
END_TEST

START_TEST(tampered_payload_fails_authentication_for_every_profile) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    struct pair pr;
    uint8_t buf[128];
    size_t out;
    pair_new(&pr, all_profiles[pi], NULL);
    size_t len = make_rtp(buf, 7, 1, 40, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    buf[20] ^= 0x01;
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_ERR_SRTP_AUTH);
    len = make_rtcp(buf, 7, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    buf[12] ^= 0x80;
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, out, &out), RTCSEC_ERR_SRTP_AUTH);
    rtcsec_srtp_stats st;
    rtcsec_srtp_get_stats(pr.b, &st);
    ck_assert_uint_eq(st.inbound.auth_failures, 2);
    /* A forged packet from an unknown SSRC takes no place in the table. */
    ck_assert_uint_eq(st.inbound.ssrcs, 0);
    genuine_rtp_passes(pr.a, pr.b, 7, 2);
    genuine_rtcp_passes(pr.a, pr.b, 7);
    pair_free(&pr);
  }
}
END_TEST

START_TEST(tampered_tag_fails_authentication_for_every_profile) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    struct pair pr;
    uint8_t buf[128];
    size_t out;
    pair_new(&pr, all_profiles[pi], NULL);
    genuine_rtp_passes(pr.a, pr.b, 7, 1);
    size_t len = make_rtp(buf, 7, 2, 40, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    buf[out - 1] ^= 0x01;
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_ERR_SRTP_AUTH);
    len = make_rtcp(buf, 7, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    buf[out - 1] ^= 0x01;
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, out, &out), RTCSEC_ERR_SRTP_AUTH);
    /* The damaged seq 2 never entered the replay window: the sender's
     * retransmission of it (same packet) is accepted. */
    len = make_rtp(buf, 7, 2, 40, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_OK);
    genuine_rtp_passes(pr.a, pr.b, 7, 3);
    genuine_rtcp_passes(pr.a, pr.b, 7);
    pair_free(&pr);
  }
}
END_TEST

START_TEST(replayed_packet_is_rejected_as_replay) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    struct pair pr;
    uint8_t buf[128], copy[128];
    size_t out, out2;
    pair_new(&pr, all_profiles[pi], NULL);
    size_t len = make_rtp(buf, 7, 1, 40, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    memcpy(copy, buf, out);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out2), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, copy, out, &out2), RTCSEC_ERR_SRTP_REPLAY);
    len = make_rtcp(buf, 7, 0x5a);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_OK);
    memcpy(copy, buf, out);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, out, &out2), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, copy, out, &out2), RTCSEC_ERR_SRTP_REPLAY);
    rtcsec_srtp_stats st;
    rtcsec_srtp_get_stats(pr.b, &st);
    ck_assert_uint_eq(st.inbound.replay_drops, 2);
    genuine_rtp_passes(pr.a, pr.b, 7, 2);
    genuine_rtcp_passes(pr.a, pr.b, 7);
    pair_free(&pr);
  }
}
END_TEST

START_TEST(index_left_of_the_replay_window_is_too_old) {
  struct pair pr;
  uint8_t old[128], buf[128];
  size_t out, old_len;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  size_t len = make_rtp(old, 7, 10, 40, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, old, len, sizeof(old), &old_len), RTCSEC_OK);
  /* Deliver seq 2000 first: seq 10 is then 1990 behind, past the window of
   * 1024, never having been seen. */
  genuine_rtp_passes(pr.a, pr.b, 7, 2000);
  memcpy(buf, old, old_len);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, old_len, &out), RTCSEC_ERR_SRTP_TOO_OLD);
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(pr.b, &st);
  ck_assert_uint_eq(st.inbound.too_old_drops, 1);
  genuine_rtp_passes(pr.a, pr.b, 7, 2001);
  pair_free(&pr);
}
END_TEST

/* Where the E flag is in an SRTCP packet of len octets: in the E+index
 * word that AES-CM puts before the tag (RFC 3711 §3.4) and AEAD after it
 * (RFC 7714 §9, see the §17 vectors above). */
static size_t srtcp_e_flag_at(rtcsec_srtp_profile p, size_t len) {
  if (p == RTCSEC_SRTP_AEAD_AES_128_GCM || p == RTCSEC_SRTP_AEAD_AES_256_GCM)
    return len - 4;
  return len - rtcsec_srtp_rtcp_overhead(p);
}

/* RFC 3711 §3.4: E = 0 announces an unencrypted SRTCP payload. The bridge
 * always encrypts SRTCP, so it must refuse such a packet. */
START_TEST(srtcp_with_e_flag_cleared_is_refused_for_every_profile) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    rtcsec_srtp_profile p = all_profiles[pi];
    rtcsec_srtp_keys k;
    rtcsec_srtp *s;
    make_keys(&k, p, 0x21);
    ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_OK);

    /* A genuine unencrypted SRTCP packet: a plain libsrtp2 peer with an
     * authentication-only SRTCP policy and the right key. libsrtp2 2.5.0
     * itself accepts such a packet under an encrypting AES-GCM policy;
     * the bridge must not. */
    uint8_t master[64], buf[128];
    size_t kl = k.key_len;
    memcpy(master, k.remote_key, kl);
    memcpy(master + kl, k.remote_salt, k.salt_len);
    srtp_policy_t pol;
    srtp_t auth_only = NULL;
    plain_policy(&pol, p, master, ssrc_any_outbound);
    pol.rtcp.sec_serv = sec_serv_auth;
    ck_assert_int_eq(srtp_create(&auth_only, &pol), srtp_err_status_ok);
    size_t len = make_rtcp(buf, 0x77, 1), out;
    int ilen = (int)len;
    ck_assert_int_eq(srtp_protect_rtcp(auth_only, buf, &ilen), srtp_err_status_ok);
    ck_assert_uint_eq(buf[srtcp_e_flag_at(p, (size_t)ilen)] & 0x80, 0);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(s, buf, (size_t)ilen, &out),
                     RTCSEC_ERR_SRTP_MALFORMED);

    /* A genuine encrypted packet with the E flag flipped off in transit. */
    srtp_t peer_tx = plain_session(p, k.remote_key, k.remote_salt, ssrc_any_outbound);
    len = make_rtcp(buf, 0x78, 2);
    ilen = (int)len;
    ck_assert_int_eq(srtp_protect_rtcp(peer_tx, buf, &ilen), srtp_err_status_ok);
    ck_assert_uint_eq(buf[srtcp_e_flag_at(p, (size_t)ilen)] & 0x80, 0x80);
    buf[srtcp_e_flag_at(p, (size_t)ilen)] &= 0x7f;
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(s, buf, (size_t)ilen, &out),
                     RTCSEC_ERR_SRTP_MALFORMED);

    rtcsec_srtp_stats st;
    rtcsec_srtp_get_stats(s, &st);
    ck_assert_uint_eq(st.inbound.malformed, 2);
    ck_assert_uint_eq(st.inbound.rtcp_packets, 0);

    /* The session goes on: a genuine encrypted packet is accepted. */
    len = make_rtcp(buf, 0x78, 3);
    ilen = (int)len;
    ck_assert_int_eq(srtp_protect_rtcp(peer_tx, buf, &ilen), srtp_err_status_ok);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(s, buf, (size_t)ilen, &out), RTCSEC_OK);
    ck_assert_uint_eq(out, len);

    srtp_dealloc(auth_only);
    srtp_dealloc(peer_tx);
    rtcsec_srtp_free(s);
  }
}
END_TEST

/* The peer (a plain libsrtp2 sender with the right key, so every packet
 * authenticates) sends from 10 000 SSRCs. The bridge admits 64, refuses
 * the rest before libsrtp2 creates a stream for them, and stays bounded. */
START_TEST(peer_sending_10000_new_ssrcs_is_capped_and_memory_stays_bounded) {
  rtcsec_srtp_keys k;
  rtcsec_srtp *s;
  make_keys(&k, RTCSEC_SRTP_AEAD_AES_128_GCM, 0x31);
  ck_assert_int_eq(rtcsec_srtp_new(&s, &k, NULL), RTCSEC_OK);
  srtp_t peer_tx = plain_session(k.profile, k.remote_key, k.remote_salt, ssrc_any_outbound);
  uint8_t buf[128];
  size_t out;

  /* Forged packets from new SSRCs first: they take no place. */
  for (uint32_t i = 0; i < 200; i++) {
    size_t len = make_rtp(buf, 0xF0000000u + i, 1, 40, 0);
    memset(buf + len, 0xEE, 16);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(s, buf, len + 16, &out), RTCSEC_ERR_SRTP_AUTH);
  }
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(s, &st);
  ck_assert_uint_eq(st.inbound.ssrcs, 0);
  ck_assert_int_eq(rtcsec_srtp_test_libsrtp_has_stream(s, 0xF0000000u, 0), 0);

  for (uint32_t i = 0; i < 10000; i++) {
    uint32_t ssrc = 0x10000u + i;
    size_t len = make_rtp(buf, ssrc, 1, 40, 0);
    int ilen = (int)len;
    ck_assert_int_eq(srtp_protect(peer_tx, buf, &ilen), srtp_err_status_ok);
    int rc = rtcsec_srtp_unprotect_rtp(s, buf, (size_t)ilen, &out);
    ck_assert_int_eq(rc, i < 64 ? RTCSEC_OK : RTCSEC_ERR_SRTP_SSRC_LIMIT);
    rtcsec_srtp_get_stats(s, &st);
    ck_assert_uint_le(st.inbound.ssrcs, 64);
  }
  /* An RTCP sender SSRC counts against the same cap. */
  size_t len = make_rtcp(buf, 0x20000u, 0);
  int ilen = (int)len;
  ck_assert_int_eq(srtp_protect_rtcp(peer_tx, buf, &ilen), srtp_err_status_ok);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(s, buf, (size_t)ilen, &out),
                   RTCSEC_ERR_SRTP_SSRC_LIMIT);

  rtcsec_srtp_get_stats(s, &st);
  ck_assert_uint_eq(st.inbound.ssrcs, 64);
  ck_assert_uint_eq(st.inbound.rtp_packets, 64);
  ck_assert_uint_eq(st.inbound.ssrc_limit_drops, 10000 - 64 + 1);
  /* libsrtp2 holds a stream for each admitted SSRC and none for the others. */
  for (uint32_t i = 0; i < 10000; i++)
    ck_assert_int_eq(rtcsec_srtp_test_libsrtp_has_stream(s, 0x10000u + i, 0), i < 64);

  /* The session goes on for known SSRCs. */
  len = make_rtp(buf, 0x10000u, 2, 40, 0);
  ilen = (int)len;
  ck_assert_int_eq(srtp_protect(peer_tx, buf, &ilen), srtp_err_status_ok);
  ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(s, buf, (size_t)ilen, &out), RTCSEC_OK);
  ck_assert_uint_eq(out, len);

  srtp_dealloc(peer_tx);
  rtcsec_srtp_free(s);
}
END_TEST

START_TEST(new_outbound_ssrc_past_the_cap_is_refused) {
  struct pair pr;
  rtcsec_srtp_config cfg;
  uint8_t buf[128];
  size_t out;
  rtcsec_srtp_config_default(&cfg);
  cfg.max_outbound_ssrcs = 2;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, &cfg);
  genuine_rtp_passes(pr.a, pr.b, 1, 1);
  genuine_rtcp_passes(pr.a, pr.b, 2);
  size_t len = make_rtp(buf, 3, 1, 40, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_ERR_LIMIT);
  len = make_rtcp(buf, 3, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out), RTCSEC_ERR_LIMIT);
  ck_assert_int_eq(rtcsec_srtp_test_libsrtp_has_stream(pr.a, 3, 1), 0);
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(pr.a, &st);
  ck_assert_uint_eq(st.outbound.ssrcs, 2);
  ck_assert_uint_eq(st.outbound.ssrc_limit_drops, 2);
  genuine_rtp_passes(pr.a, pr.b, 2, 1);
  pair_free(&pr);
}
END_TEST

START_TEST(protect_fails_closed_after_2_pow_48_srtp_packets_of_one_stream) {
  struct pair pr;
  uint8_t buf[128];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, NULL);
  ck_assert_int_eq(rtcsec_srtp_test_preset_sent(pr.a, 7, RTCSEC_SRTP_LIMIT_SRTP_PACKETS - 2, 0),
                   RTCSEC_OK);
  genuine_rtp_passes(pr.a, pr.b, 7, 1); /* packet 2^48 - 1 */
  genuine_rtp_passes(pr.a, pr.b, 7, 2); /* packet 2^48: the last one */
  uint8_t before[128];
  memset(buf, 0xA5, sizeof(buf));
  size_t len = make_rtp(buf, 7, 3, 40, 0);
  memcpy(before, buf, sizeof(buf));
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  ck_assert_mem_eq(buf, before, sizeof(buf));
  /* RFC 3711 §9.2: the key is done for every stream, SRTCP included. */
  len = make_rtp(buf, 8, 1, 40, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  len = make_rtcp(buf, 7, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(pr.a, &st);
  ck_assert_int_eq(st.local_key_exhausted, 1);
  ck_assert_uint_eq(st.outbound.key_limit_refusals, 3);
  /* The peer's key is not ours: what it sends is still accepted. */
  genuine_rtp_passes(pr.b, pr.a, 9, 1);
  genuine_rtcp_passes(pr.b, pr.a, 9);
  pair_free(&pr);
}
END_TEST

START_TEST(protect_fails_closed_after_2_pow_31_srtcp_packets_of_one_stream) {
  struct pair pr;
  uint8_t buf[128];
  size_t out;
  pair_new(&pr, RTCSEC_SRTP_AEAD_AES_128_GCM, NULL);
  ck_assert_int_eq(rtcsec_srtp_test_preset_sent(pr.a, 7, 0, RTCSEC_SRTP_LIMIT_SRTCP_PACKETS - 1),
                   RTCSEC_OK);
  genuine_rtcp_passes(pr.a, pr.b, 7); /* packet 2^31: the last one */
  size_t len = make_rtcp(buf, 7, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  len = make_rtp(buf, 7, 1, 40, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_KEY_LIMIT);
  genuine_rtp_passes(pr.b, pr.a, 9, 1);
  pair_free(&pr);
}
END_TEST

/* ---- 5. buffer capacity ------------------------------------------------------ */

START_TEST(capacity_one_short_of_the_trailer_is_buffer_too_small_and_buffer_unchanged) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    rtcsec_srtp_profile p = all_profiles[pi];
    struct pair pr;
    uint8_t buf[128], before[128];
    size_t out = 12345;
    pair_new(&pr, p, NULL);

    size_t len = make_rtp(buf, 7, 1, 40, 0x3c);
    memset(buf + len, 0xA5, sizeof(buf) - len);
    memcpy(before, buf, sizeof(buf));
    size_t need = len + rtcsec_srtp_rtp_overhead(p);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, need - 1, &out),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_mem_eq(buf, before, sizeof(buf));
    ck_assert_uint_eq(out, 12345);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, len - 1, &out),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_mem_eq(buf, before, sizeof(buf));
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, need, &out), RTCSEC_OK);
    ck_assert_uint_eq(out, need);
    ck_assert_mem_eq(buf + need, before + need, sizeof(buf) - need); /* nothing past cap */
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, buf, out, &out), RTCSEC_OK);

    len = make_rtcp(buf, 7, 0x3c);
    memset(buf + len, 0xA5, sizeof(buf) - len);
    memcpy(before, buf, sizeof(buf));
    need = len + rtcsec_srtp_rtcp_overhead(p);
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, need - 1, &out),
                     RTCSEC_ERR_BUFFER_TOO_SMALL);
    ck_assert_mem_eq(buf, before, sizeof(buf));
    ck_assert_int_eq(rtcsec_srtp_protect_rtcp(pr.a, buf, len, need, &out), RTCSEC_OK);
    ck_assert_uint_eq(out, need);
    ck_assert_mem_eq(buf + need, before + need, sizeof(buf) - need);
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtcp(pr.b, buf, out, &out), RTCSEC_OK);

    /* A refused call used no SRTCP index: the next packets go through. */
    genuine_rtcp_passes(pr.a, pr.b, 7);
    genuine_rtp_passes(pr.a, pr.b, 7, 2);
    pair_free(&pr);
  }
}
END_TEST

/* ---- 6. sequence number wrap ----------------------------------------------- */

/* Deterministic ~1 % loss in the 6000 packets around the wrap. */
static int lost(uint32_t ext_seq, uint32_t ssrc) {
  if (ext_seq < 65536 - 3000 || ext_seq > 65536 + 3000)
    return 0;
  uint32_t h = (ext_seq ^ ssrc) * 2654435761u;
  return (h >> 16) % 100 == 0;
}

START_TEST(seventy_thousand_packets_per_ssrc_across_the_wrap_with_loss_both_ways_end_at_roc_1) {
  const rtcsec_srtp_profile profs[] = {RTCSEC_SRTP_AES128_CM_SHA1_80, RTCSEC_SRTP_AEAD_AES_128_GCM};
  for (size_t pi = 0; pi < 2; pi++) {
    struct pair pr;
    pair_new(&pr, profs[pi], NULL);
    const uint32_t start = 65536 - 35000, n = 70000;
    /* a sends on two SSRCs, b on two others; packets interleaved. */
    const struct {
      uint32_t ssrc;
      int from_a;
    } streams[] = {{0xA1, 1}, {0xA2, 1}, {0xB1, 0}, {0xB2, 0}};
    uint64_t delivered[4] = {0};
    for (uint32_t i = 0; i < n; i++) {
      for (size_t sidx = 0; sidx < 4; sidx++) {
        rtcsec_srtp *tx = streams[sidx].from_a ? pr.a : pr.b;
        rtcsec_srtp *rx = streams[sidx].from_a ? pr.b : pr.a;
        uint32_t ext = start + i;
        uint8_t buf[128], plain[128];
        size_t len = make_rtp(buf, streams[sidx].ssrc, (uint16_t)ext, 24, (uint8_t)i), out;
        memcpy(plain, buf, len);
        ck_assert_int_eq(rtcsec_srtp_protect_rtp(tx, buf, len, sizeof(buf), &out), RTCSEC_OK);
        if (lost(ext, streams[sidx].ssrc))
          continue;
        int rc = rtcsec_srtp_unprotect_rtp(rx, buf, out, &out);
        if (rc != RTCSEC_OK)
          ck_abort_msg("profile %s ssrc %x packet %u: %s", rtcsec_srtp_profile_name(profs[pi]),
                       streams[sidx].ssrc, i, rtcsec_strerror(rc));
        ck_assert_mem_eq(buf, plain, len);
        delivered[sidx]++;
      }
    }
    for (size_t sidx = 0; sidx < 4; sidx++) {
      rtcsec_srtp *tx = streams[sidx].from_a ? pr.a : pr.b;
      rtcsec_srtp *rx = streams[sidx].from_a ? pr.b : pr.a;
      rtcsec_srtp_ssrc_stats ss;
      ck_assert_uint_gt(delivered[sidx], n - n / 100); /* some, not many, lost */
      ck_assert_uint_lt(delivered[sidx], n);
      ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(tx, streams[sidx].ssrc, 1, &ss), RTCSEC_OK);
      ck_assert_uint_eq(ss.rtp_packets, n);
      ck_assert_uint_eq(ss.roc, 1);
      ck_assert_uint_eq(ss.last_seq, (uint16_t)(start + n - 1));
      ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(rx, streams[sidx].ssrc, 0, &ss), RTCSEC_OK);
      ck_assert_uint_eq(ss.rtp_packets, delivered[sidx]);
      ck_assert_uint_eq(ss.rtp_bytes, delivered[sidx] * 36);
      ck_assert_uint_eq(ss.roc, 1);
    }
    rtcsec_srtp_stats st;
    rtcsec_srtp_get_stats(pr.b, &st);
    ck_assert_uint_eq(st.inbound.auth_failures + st.inbound.replay_drops +
                          st.inbound.too_old_drops + st.inbound.malformed,
                      0);
    ck_assert_uint_eq(st.inbound.rtp_packets, delivered[0] + delivered[1]);
    ck_assert_uint_eq(st.outbound.rtp_packets, 2 * n);
    pair_free(&pr);
  }
}
END_TEST

START_TEST(ssrc_stats_are_refused_for_unknown_ssrcs) {
  struct pair pr;
  rtcsec_srtp_ssrc_stats ss;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_32, NULL);
  ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(pr.a, 7, 1, &ss), RTCSEC_ERR_INVALID_ARGUMENT);
  genuine_rtp_passes(pr.a, pr.b, 7, 0x1234);
  genuine_rtcp_passes(pr.a, pr.b, 7);
  ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(pr.a, 7, 1, &ss), RTCSEC_OK);
  ck_assert_uint_eq(ss.ssrc, 7);
  ck_assert_uint_eq(ss.rtp_packets, 1);
  ck_assert_uint_eq(ss.rtp_bytes, 52);
  ck_assert_uint_eq(ss.rtcp_packets, 1);
  ck_assert_uint_eq(ss.rtcp_bytes, 28);
  ck_assert_uint_eq(ss.last_seq, 0x1234);
  ck_assert_uint_eq(ss.roc, 0);
  ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(pr.a, 7, 0, &ss), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(pr.b, 7, 0, &ss), RTCSEC_OK);
  ck_assert_uint_eq(ss.rtp_packets, 1);
  pair_free(&pr);
}
END_TEST

/* ---- 7. replay window and repeated transmission ---------------------------- */

static int deliver_behind(size_t window, uint16_t head, uint16_t behind) {
  struct pair pr;
  rtcsec_srtp_config cfg;
  uint8_t old[128], buf[128];
  size_t old_len, out;
  rtcsec_srtp_config_default(&cfg);
  cfg.replay_window = window;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, &cfg);
  size_t len = make_rtp(old, 7, (uint16_t)(head - behind), 40, 0);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, old, len, sizeof(old), &old_len), RTCSEC_OK);
  genuine_rtp_passes(pr.a, pr.b, 7, head);
  memcpy(buf, old, old_len);
  int rc = rtcsec_srtp_unprotect_rtp(pr.b, buf, old_len, &out);
  genuine_rtp_passes(pr.a, pr.b, 7, (uint16_t)(head + 1));
  pair_free(&pr);
  return rc;
}

START_TEST(window_64_rejects_a_packet_100_behind_as_too_old) {
  ck_assert_int_eq(deliver_behind(64, 1000, 100), RTCSEC_ERR_SRTP_TOO_OLD);
  ck_assert_int_eq(deliver_behind(64, 1000, 60), RTCSEC_OK);
}
END_TEST

START_TEST(window_1024_accepts_an_unseen_packet_100_behind) {
  ck_assert_int_eq(deliver_behind(1024, 1000, 100), RTCSEC_OK);
  ck_assert_int_eq(deliver_behind(1024, 3000, 1030), RTCSEC_ERR_SRTP_TOO_OLD);
}
END_TEST

START_TEST(allow_repeat_tx_lets_the_same_packet_be_protected_twice) {
  for (size_t pi = 0; pi < N_ALL_PROFILES; pi++) {
    struct pair pr;
    uint8_t b1[128], b2[128];
    size_t l1, l2, out;
    pair_new(&pr, all_profiles[pi], NULL); /* default: allow_repeat_tx = 1 */
    size_t len = make_rtp(b1, 7, 5, 40, 0x77);
    memcpy(b2, b1, len);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, b1, len, sizeof(b1), &l1), RTCSEC_OK);
    ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, b2, len, sizeof(b2), &l2), RTCSEC_OK);
    ck_assert_uint_eq(l1, l2);
    ck_assert_mem_eq(b1, b2, l1); /* same index, same keystream, same packet */
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, b1, l1, &out), RTCSEC_OK);
    /* The receiver still sees the second copy as a replay. */
    ck_assert_int_eq(rtcsec_srtp_unprotect_rtp(pr.b, b2, l2, &out), RTCSEC_ERR_SRTP_REPLAY);
    genuine_rtp_passes(pr.a, pr.b, 7, 6);
    pair_free(&pr);
  }
}
END_TEST

START_TEST(repeat_tx_is_refused_as_replay_when_disabled) {
  struct pair pr;
  rtcsec_srtp_config cfg;
  uint8_t buf[128];
  size_t out;
  rtcsec_srtp_config_default(&cfg);
  cfg.allow_repeat_tx = 0;
  pair_new(&pr, RTCSEC_SRTP_AES128_CM_SHA1_80, &cfg);
  genuine_rtp_passes(pr.a, pr.b, 7, 5);
  size_t len = make_rtp(buf, 7, 5, 40, (uint8_t)5);
  ck_assert_int_eq(rtcsec_srtp_protect_rtp(pr.a, buf, len, sizeof(buf), &out),
                   RTCSEC_ERR_SRTP_REPLAY);
  rtcsec_srtp_stats st;
  rtcsec_srtp_get_stats(pr.a, &st);
  ck_assert_uint_eq(st.outbound.replay_drops, 1);
  genuine_rtp_passes(pr.a, pr.b, 7, 6);
  pair_free(&pr);
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

/* Runs in a fresh process (Check forks per test), so the one-time libsrtp2
 * init and profile probe race here too. */
static void *thread_session(void *arg) {
  rtcsec_srtp_profile p = *(const rtcsec_srtp_profile *)arg;
  rtcsec_srtp_keys k, m;
  rtcsec_srtp *a = NULL, *b = NULL;
  intptr_t bad = 0;
  make_keys(&k, p, 0x61);
  mirror_keys(&k, &m);
  if (rtcsec_srtp_profile_supported(p) != 1 || rtcsec_srtp_new(&a, &k, NULL) != RTCSEC_OK ||
      rtcsec_srtp_new(&b, &m, NULL) != RTCSEC_OK)
    bad = 1;
  for (uint16_t seq = 0; seq < 2000 && !bad; seq++) {
    uint8_t buf[128];
    size_t len = make_rtp(buf, 0x5151, seq, 60, (uint8_t)seq), out;
    if (rtcsec_srtp_protect_rtp(seq % 2 ? a : b, buf, len, sizeof(buf), &out) != RTCSEC_OK ||
        rtcsec_srtp_unprotect_rtp(seq % 2 ? b : a, buf, out, &out) != RTCSEC_OK || out != len)
      bad = 1;
  }
  rtcsec_srtp_free(a);
  rtcsec_srtp_free(b);
  return (void *)bad;
}

START_TEST(sessions_on_several_threads_at_once_work_from_a_cold_start) {
  pthread_t t[N_ALL_PROFILES * 2];
  for (size_t i = 0; i < N_ALL_PROFILES * 2; i++)
    ck_assert_int_eq(
        pthread_create(&t[i], NULL, thread_session, (void *)&all_profiles[i % N_ALL_PROFILES]), 0);
  for (size_t i = 0; i < N_ALL_PROFILES * 2; i++) {
    void *bad = (void *)1;
    ck_assert_int_eq(pthread_join(t[i], &bad), 0);
    ck_assert_ptr_null(bad);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("srtp");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, all_four_profiles_are_supported_by_the_installed_libsrtp2);
  tcase_add_test(tc, process_runs_libsrtp2_on_rtcsec_types);
  tcase_add_test(tc, overheads_follow_rfc5764_and_rfc7714);
  tcase_add_test(tc, new_rejects_bad_keys_and_out_of_range_config);
  tcase_add_test(tc, config_default_documents_its_values);
  tcase_add_test(tc, null_arguments_are_refused_on_the_packet_path);
  tcase_add_test(tc, reference_aes_cm_reproduces_rfc3711_b2_keystream);
  tcase_add_test(tc, reference_kdf_reproduces_rfc3711_b3_session_keys);
  tcase_add_test(tc, bridge_keyed_with_rfc3711_b3_master_key_emits_b3_session_key_output);
  tcase_add_test(tc, bridge_srtcp_with_rfc3711_b3_master_key_matches_reference);
  tcase_add_test(tc, reference_aes_gcm_reproduces_rfc7714_section16_and_17_vectors);
  tcase_add_test(tc, bridge_gcm_protects_rfc7714_packets_as_the_reference_does_and_unprotects_them);
  tcase_add_test(tc, bridge_and_plain_libsrtp2_understand_each_other_for_every_profile);
  tcase_add_test(tc, empty_and_one_byte_packets_are_malformed);
  tcase_add_test(tc, rtp_shorter_than_the_fixed_header_is_malformed);
  tcase_add_test(tc, rtp_and_rtcp_with_version_other_than_2_are_malformed);
  tcase_add_test(tc, csrc_count_running_past_the_end_is_malformed);
  tcase_add_test(tc, header_extension_length_running_past_the_end_is_malformed);
  tcase_add_test(tc, tampered_payload_fails_authentication_for_every_profile);
  tcase_add_test(tc, tampered_tag_fails_authentication_for_every_profile);
  tcase_add_test(tc, replayed_packet_is_rejected_as_replay);
  tcase_add_test(tc, index_left_of_the_replay_window_is_too_old);
  tcase_add_test(tc, srtcp_with_e_flag_cleared_is_refused_for_every_profile);
  tcase_add_test(tc, peer_sending_10000_new_ssrcs_is_capped_and_memory_stays_bounded);
  tcase_add_test(tc, new_outbound_ssrc_past_the_cap_is_refused);
  tcase_add_test(tc, protect_fails_closed_after_2_pow_48_srtp_packets_of_one_stream);
  tcase_add_test(tc, protect_fails_closed_after_2_pow_31_srtcp_packets_of_one_stream);
  tcase_add_test(tc, capacity_one_short_of_the_trailer_is_buffer_too_small_and_buffer_unchanged);
  tcase_add_test(
      tc, seventy_thousand_packets_per_ssrc_across_the_wrap_with_loss_both_ways_end_at_roc_1);
  tcase_add_test(tc, ssrc_stats_are_refused_for_unknown_ssrcs);
  tcase_add_test(tc, window_64_rejects_a_packet_100_behind_as_too_old);
  tcase_add_test(tc, window_1024_accepts_an_unseen_packet_100_behind);
  tcase_add_test(tc, allow_repeat_tx_lets_the_same_packet_be_protected_twice);
  tcase_add_test(tc, repeat_tx_is_refused_as_replay_when_disabled);
  tcase_add_test(tc, sessions_on_several_threads_at_once_work_from_a_cold_start);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
