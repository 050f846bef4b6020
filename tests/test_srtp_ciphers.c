/* rtcsec's libsrtp2 cipher and authentication types (srtp_bridge/
 * srtp_types.h): that libsrtp2 took them and its self-tests pass, the RFC
 * vectors at type level (RFC 3711 B.2 and B.3, RFC 6188 §7.1, RFC 2202,
 * RFC 7714 §16-17), agreement with an independent reference (OpenSSL used
 * directly, support/srtp_ref.c) for every length and split, misuse, and
 * whole SRTP / SRTCP packets against libsrtp2's own implementations in a
 * second process (srtp-stock-peer, which keeps them), both ways, for every
 * profile. */
#include <check.h>
#include <errno.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
#define N_PROFILES (sizeof(all_profiles) / sizeof(all_profiles[0]))

/* A deterministic byte stream for test data. */
static uint32_t rng_state = 0x12345678u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
static void fill(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)rng();
}

/* ---- helpers at type level --------------------------------------------------- */

static srtp_cipher_t *cipher_new(const srtp_cipher_type_t *t, int key_len, int tag_len,
                                 const uint8_t *key) {
  srtp_cipher_t *c = NULL;
  ck_assert_int_eq(srtp_cipher_type_alloc(t, &c, key_len, tag_len), srtp_err_status_ok);
  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_eq(c->type, t);
  ck_assert_int_eq(srtp_cipher_init(c, key), srtp_err_status_ok);
  return c;
}

/* XORs n octets of keystream into buf in pieces of at most `chunk` (so the
 * keystream has to go on across calls and across partial blocks). */
static void icm_crypt(srtp_cipher_t *c, uint8_t *buf, size_t n, size_t chunk) {
  for (size_t off = 0; off < n; off += chunk) {
    uint32_t len = (uint32_t)(n - off < chunk ? n - off : chunk);
    ck_assert_int_eq(srtp_cipher_encrypt(c, buf + off, &len), srtp_err_status_ok);
  }
}

/* ---- 1. registration and libsrtp2's self-tests ------------------------------- */

START_TEST(libsrtp2_took_every_replacement_after_its_self_tests) {
  rtcsec_srtp_types_status st;
  ck_assert_int_eq(rtcsec_srtp_test_types_status(&st), RTCSEC_OK);
  ck_assert_int_eq(st.attempted, 1);
  /* srtp_replace_*_type() ran each type's test_data and then the test_data
   * of libsrtp2's own implementation against it; 0 = both passed. */
  ck_assert_int_eq(st.aes_icm_128, srtp_err_status_ok);
  ck_assert_int_eq(st.aes_icm_256, srtp_err_status_ok);
  ck_assert_int_eq(st.aes_gcm_128, srtp_err_status_ok);
  ck_assert_int_eq(st.aes_gcm_256, srtp_err_status_ok);
  ck_assert_int_eq(st.hmac_sha1, srtp_err_status_ok);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128), &rtcsec_srtp_aes_icm_128);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_256), &rtcsec_srtp_aes_icm_256);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128), &rtcsec_srtp_aes_gcm_128);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_256), &rtcsec_srtp_aes_gcm_256);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1), &rtcsec_srtp_hmac_sha1);
  /* What stays libsrtp2's. */
  ck_assert_ptr_ne(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_192), NULL);
  ck_assert_ptr_ne(srtp_crypto_kernel_get_cipher_type(SRTP_NULL_CIPHER), NULL);
}
END_TEST

START_TEST(libsrtp2_self_test_of_each_type_passes_again) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  ck_assert_int_eq(srtp_cipher_type_self_test(&rtcsec_srtp_aes_icm_128), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_type_self_test(&rtcsec_srtp_aes_icm_256), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_type_self_test(&rtcsec_srtp_aes_gcm_128), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_type_self_test(&rtcsec_srtp_aes_gcm_256), srtp_err_status_ok);
  ck_assert_int_eq(srtp_auth_type_self_test(&rtcsec_srtp_hmac_sha1), srtp_err_status_ok);
  /* The crypto kernel's own check of every type it holds (it exit()s the
   * process on a failure, which fails this test too). */
  ck_assert_int_eq(srtp_crypto_kernel_status(), srtp_err_status_ok);
}
END_TEST

/* The self-test can fail: a vector one bit off, or a type whose encrypt
 * does nothing, is refused, and libsrtp2 keeps what it had. */
static srtp_err_status_t encrypt_nothing(void *state, uint8_t *buf, unsigned int *len) {
  (void)state;
  (void)buf;
  (void)len;
  return srtp_err_status_ok;
}

/* A copy of the AES-ICM-128 type whose objects say they are of it (alloc
 * sets the object's type, which is what libsrtp2 dispatches on). */
static srtp_cipher_type_t broken;
static srtp_err_status_t broken_alloc(srtp_cipher_t **c, int key_len, int tag_len) {
  srtp_err_status_t st = rtcsec_srtp_aes_icm_128.alloc(c, key_len, tag_len);
  if (st == srtp_err_status_ok)
    (*c)->type = &broken;
  return st;
}

START_TEST(libsrtp2_refuses_a_type_that_fails_its_vectors) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  const srtp_cipher_test_case_t *good = rtcsec_srtp_aes_icm_128.test_data;
  uint8_t ct[128];
  ck_assert_uint_le(good->ciphertext_length_octets, sizeof(ct));
  memcpy(ct, good->ciphertext, good->ciphertext_length_octets);
  ct[5] ^= 0x01;
  srtp_cipher_test_case_t bad = *good;
  bad.ciphertext = ct;
  bad.next_test_case = NULL;
  ck_assert_int_eq(srtp_cipher_type_test(&rtcsec_srtp_aes_icm_128, &bad),
                   srtp_err_status_algo_fail);

  broken = rtcsec_srtp_aes_icm_128;
  broken.alloc = broken_alloc;
  broken.encrypt = encrypt_nothing;
  broken.decrypt = encrypt_nothing;
  ck_assert_int_ne(srtp_replace_cipher_type(&broken, SRTP_AES_ICM_128), srtp_err_status_ok);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128), &rtcsec_srtp_aes_icm_128);

  const srtp_auth_test_case_t *hgood = rtcsec_srtp_hmac_sha1.test_data;
  uint8_t tag[32];
  memcpy(tag, hgood->tag, (size_t)hgood->tag_length_octets);
  tag[hgood->tag_length_octets - 1] ^= 0x80;
  srtp_auth_test_case_t hbad = *hgood;
  hbad.tag = tag;
  hbad.next_test_case = NULL;
  ck_assert_int_eq(srtp_auth_type_test(&rtcsec_srtp_hmac_sha1, &hbad), srtp_err_status_algo_fail);
}
END_TEST

START_TEST(global_config_after_the_bridge_started_is_refused) {
  rtcsec_srtp_global g;
  ck_assert_int_eq(rtcsec_srtp_global_config(NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  rtcsec_srtp_global_default(&g);
  ck_assert_int_eq(g.keep_libsrtp_ciphers, 0);
  g.keep_libsrtp_ciphers = 2;
  ck_assert_int_eq(rtcsec_srtp_global_config(&g), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_128_GCM), 1);
  g.keep_libsrtp_ciphers = 1;
  ck_assert_int_eq(rtcsec_srtp_global_config(&g), RTCSEC_ERR_INVALID_STATE);
  /* Nothing changed. */
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_GCM_128), &rtcsec_srtp_aes_gcm_128);
}
END_TEST

/* ---- 2. AES-ICM: RFC 3711 B.2, B.3, RFC 6188, the reference ------------------ */

/* RFC 3711 Appendix B.2 through the type, the whole keystream segment it
 * tabulates (counter 0x0000 to 0xFF01), produced in 1000-octet pieces. */
START_TEST(aes_icm_128_type_gives_the_rfc3711_b2_keystream) {
  static const struct {
    unsigned block;
    const char *ks;
  } b2[] = {
      {0x0000, "E03EAD0935C95E80E166B16DD92B4EB4"}, {0x0001, "D23513162B02D0F72A43A2FE4A5F97AB"},
      {0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0"}, {0xFEFF, "EC8CDF7398607CB0F2D21675EA9EA1E4"},
      {0xFF00, "362B7C3C6773516318A077D7FC5073AE"}, {0xFF01, "6A2CC3787889374FBEB4C81B17BA6C44"},
  };
  uint8_t key[30], iv[16] = {0}, want[16];
  unhex("2B7E151628AED2A6ABF7158809CF4F3C"
        "F0F1F2F3F4F5F6F7F8F9FAFBFCFD",
        key, sizeof(key));
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  srtp_cipher_t *c = cipher_new(&rtcsec_srtp_aes_icm_128, 30, 0, key);
  size_t n = 0xFF02 * 16;
  uint8_t *ks = calloc(1, n), *ref = malloc(n);
  ck_assert_ptr_nonnull(ks);
  ck_assert_ptr_nonnull(ref);
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  icm_crypt(c, ks, n, 1000);
  for (size_t i = 0; i < sizeof(b2) / sizeof(b2[0]); i++) {
    unhex(b2[i].ks, want, sizeof(want));
    ck_assert_mem_eq(ks + 16 * (size_t)b2[i].block, want, 16);
  }
  /* and every other block, against OpenSSL's CTR with the salted IV */
  uint8_t ctr[16] = {0};
  memcpy(ctr, key + 16, 14);
  aes_cm_keystream(key, 16, ctr, ref, n);
  ck_assert_int_eq(memcmp(ks, ref, n), 0);
  free(ks);
  free(ref);
  ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
}
END_TEST

/* libsrtp2's AES-ICM counter is the last 16 bits (aes_icm.c): output that
 * would need it past 0xffff is refused, not carried into the index. */
START_TEST(aes_icm_block_counter_is_16_bits_as_in_libsrtp2) {
  uint8_t key[46], iv[16] = {0}, buf[256];
  fill(key, sizeof(key));
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  const srtp_cipher_type_t *types[2] = {&rtcsec_srtp_aes_icm_128, &rtcsec_srtp_aes_icm_256};
  for (int t = 0; t < 2; t++) {
    srtp_cipher_t *c = cipher_new(types[t], t ? 46 : 30, 0, key);
    iv[14] = 0xff;
    iv[15] = 0xf0; /* blocks 0xfff0 .. 0xfffe are available: 15 */
    ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
    uint32_t len = 15 * 16 - 3;
    ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_ok);
    len = 3;
    ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_ok);
    len = 1;
    ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_terminus);
    /* a new IV starts a new segment */
    ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
    len = 16 * 16;
    ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_terminus);
    ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
  }
}
END_TEST

/* RFC 3711 Appendix B.3: libsrtp2's key derivation runs on the AES-ICM type
 * (srtp_kdf_generate: IV = label in octet 7, keystream over zeros). */
START_TEST(aes_icm_128_type_derives_the_rfc3711_b3_session_keys) {
  uint8_t mk[30], iv[16], out[94], want[94];
  unhex("E1F97A0D3E018BE0D64FA32C06DE4139"
        "0EC675AD498AFEEBB6960B3AABE6",
        mk, sizeof(mk));
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  srtp_cipher_t *c = cipher_new(&rtcsec_srtp_aes_icm_128, 30, 0, mk);
  const struct {
    uint8_t label;
    const char *hex;
  } v[] = {
      {0x00, "C61E7A93744F39EE10734AFE3FF7A087"},
      {0x02, "30CBBC08863D8C85D49DB34A9AE1"},
      {0x01, "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
             "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
             "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"},
  };
  for (size_t i = 0; i < 3; i++) {
    size_t n = unhex(v[i].hex, want, sizeof(want));
    memset(iv, 0, sizeof(iv));
    iv[7] = v[i].label;
    memset(out, 0, sizeof(out));
    uint32_t len = (uint32_t)n;
    ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
    ck_assert_int_eq(srtp_cipher_encrypt(c, out, &len), srtp_err_status_ok);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(out, want, n);
  }
  ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
}
END_TEST

/* RFC 6188 §7.1 through the AES-256 type, then both key sizes against the
 * reference for random keys, IVs (index and SSRC bits), lengths and piece
 * sizes, re-keying the same object. */
START_TEST(aes_icm_types_match_rfc6188_and_the_reference) {
  uint8_t key[46], iv[16] = {0}, buf[1500], ref[1500], ctr[16];
  unhex("57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98"
        "f0f1f2f3f4f5f6f7f8f9fafbfcfd",
        key, sizeof(key));
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_256_GCM), 1);
  srtp_cipher_t *c256 = cipher_new(&rtcsec_srtp_aes_icm_256, 46, 0, key);
  uint8_t want[48];
  unhex("92bdd28a93c3f52511c677d08b5515a4 9da71b2378a854f67050756ded165bac"
        "63c4868b7096d88421b563b8c94c9a31",
        want, sizeof(want));
  memset(buf, 0, 48);
  ck_assert_int_eq(srtp_cipher_set_iv(c256, iv, srtp_direction_decrypt), srtp_err_status_ok);
  icm_crypt(c256, buf, 48, 7);
  ck_assert_mem_eq(buf, want, 48);

  srtp_cipher_t *c128 = cipher_new(&rtcsec_srtp_aes_icm_128, 30, 0, key);
  for (int round = 0; round < 400; round++) {
    int big = round & 1;
    srtp_cipher_t *c = big ? c256 : c128;
    size_t klen = big ? 32 : 16;
    if (round % 50 == 0) {
      fill(key, sizeof(key));
      ck_assert_int_eq(srtp_cipher_init(c128, key), srtp_err_status_ok);
      ck_assert_int_eq(srtp_cipher_init(c256, key), srtp_err_status_ok);
    }
    size_t n = rng() % sizeof(buf);
    fill(iv, 14); /* libsrtp2's IV: 0 || SSRC || index << 16 */
    iv[14] = iv[15] = 0;
    fill(buf, n);
    memcpy(ref, buf, n);
    ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
    icm_crypt(c, buf, n, 1 + rng() % 100);
    for (int i = 0; i < 16; i++)
      ctr[i] = (uint8_t)((i < 14 ? key[klen + i] : 0) ^ iv[i]);
    uint8_t ks[1500];
    aes_cm_keystream(key, klen, ctr, ks, n);
    for (size_t i = 0; i < n; i++)
      ck_assert_uint_eq(buf[i], ref[i] ^ ks[i]);
  }
  ck_assert_int_eq(srtp_cipher_dealloc(c128), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_dealloc(c256), srtp_err_status_ok);
}
END_TEST

START_TEST(aes_icm_refuses_other_key_lengths) {
  srtp_cipher_t *c = NULL;
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  const int bad[] = {0, 16, 29, 31, 32, 38, 45, 47, -1};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_int_eq(srtp_cipher_type_alloc(&rtcsec_srtp_aes_icm_128, &c, bad[i], 0),
                     srtp_err_status_bad_param);
    ck_assert_ptr_null(c);
  }
  /* Either key size under either id, as libsrtp2's own alloc does. */
  ck_assert_int_eq(srtp_cipher_type_alloc(&rtcsec_srtp_aes_icm_128, &c, 46, 0), srtp_err_status_ok);
  ck_assert_ptr_eq(c->type, &rtcsec_srtp_aes_icm_256);
  ck_assert_int_eq(c->algorithm, SRTP_AES_ICM_256);
  ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
}
END_TEST

/* ---- 3. HMAC-SHA1: RFC 2202 and the reference ---------------------------------- */

static void hmac_tag(srtp_auth_t *a, const uint8_t *msg, size_t n, size_t split, uint8_t *tag) {
  ck_assert_int_eq(srtp_auth_start(a), srtp_err_status_ok);
  size_t off = 0;
  while (n - off > split) {
    ck_assert_int_eq(srtp_auth_update(a, msg + off, (int)split), srtp_err_status_ok);
    off += split;
  }
  ck_assert_int_eq(srtp_auth_compute(a, msg + off, (int)(n - off), tag), srtp_err_status_ok);
}

START_TEST(hmac_type_gives_rfc2202_tags_and_the_reference_for_any_key_and_split) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  /* RFC 2202 §3 test cases 3 and 4 (1, 2, 5 and 6 are the type's own
   * self-test data). */
  const struct {
    const char *key, *data, *tag;
  } v[] = {
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
       "dddddddddddddddddd",
       "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
      {"0102030405060708090a0b0c0d0e0f10111213141516171819",
       "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
       "cdcdcdcdcdcdcdcd",
       "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
  };
  for (size_t i = 0; i < 2; i++) {
    uint8_t key[64], data[64], want[20], tag[20];
    size_t kl = unhex(v[i].key, key, sizeof(key)), dl = unhex(v[i].data, data, sizeof(data));
    unhex(v[i].tag, want, sizeof(want));
    srtp_auth_t *a = NULL;
    ck_assert_int_eq(srtp_auth_type_alloc(&rtcsec_srtp_hmac_sha1, &a, (int)kl, 20),
                     srtp_err_status_ok);
    ck_assert_int_eq(srtp_auth_init(a, key), srtp_err_status_ok);
    hmac_tag(a, data, dl, 7, tag);
    ck_assert_mem_eq(tag, want, 20);
    ck_assert_int_eq(srtp_auth_dealloc(a), srtp_err_status_ok);
  }

  /* Keys shorter than, equal to and longer than the 64-octet block; tags
   * of 4, 10 and 20 octets; messages in pieces; the same object re-keyed
   * and reused for many messages. */
  const int key_lens[] = {0, 1, 20, 63, 64, 65, 100};
  const int tag_lens[] = {4, 10, 20};
  for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
    for (size_t t = 0; t < 3; t++) {
      uint8_t key[100], msg[1500], tag[20], ref[20];
      srtp_auth_t *a = NULL;
      ck_assert_int_eq(srtp_auth_type_alloc(&rtcsec_srtp_hmac_sha1, &a, key_lens[k], tag_lens[t]),
                       srtp_err_status_ok);
      ck_assert_int_eq(srtp_auth_get_tag_length(a), tag_lens[t]);
      ck_assert_int_eq(srtp_auth_get_prefix_length(a), 0);
      for (int rekey = 0; rekey < 2; rekey++) {
        fill(key, sizeof(key));
        ck_assert_int_eq(srtp_auth_init(a, key), srtp_err_status_ok);
        for (int m = 0; m < 20; m++) {
          size_t n = rng() % sizeof(msg);
          fill(msg, n);
          hmac_tag(a, msg, n, 1 + rng() % 200, tag);
          hmac_sha1(key, (size_t)key_lens[k], msg, n, NULL, 0, ref);
          ck_assert_mem_eq(tag, ref, (size_t)tag_lens[t]);
        }
      }
      ck_assert_int_eq(srtp_auth_dealloc(a), srtp_err_status_ok);
    }
  }
}
END_TEST

START_TEST(hmac_type_refuses_tags_longer_than_sha1) {
  srtp_auth_t *a = NULL;
  ck_assert_int_eq(srtp_auth_type_alloc(&rtcsec_srtp_hmac_sha1, &a, 20, 21),
                   srtp_err_status_bad_param);
  ck_assert_ptr_null(a);
  ck_assert_int_eq(srtp_auth_type_alloc(&rtcsec_srtp_hmac_sha1, &a, -1, 10),
                   srtp_err_status_bad_param);
  /* start() before a key is refused rather than authenticating with none */
  ck_assert_int_eq(srtp_auth_type_alloc(&rtcsec_srtp_hmac_sha1, &a, 20, 10), srtp_err_status_ok);
  ck_assert_int_ne(srtp_auth_start(a), srtp_err_status_ok);
  ck_assert_int_eq(srtp_auth_dealloc(a), srtp_err_status_ok);
}
END_TEST

/* ---- 4. AES-GCM: RFC 7714 at type level, the reference, misuse ----------------- */

/* RFC 7714 §16-17 as libsrtp2 feeds them to the type: key || salt, the
 * salted IV, the AAD in one piece (SRTP) or two (SRTCP: the 8-octet header,
 * then E || index, as srtp_protect_rtcp_aead() does). */
static const char r7714_salt[] = "517569642070726f2071756f";
static const char r7714_rtp_aad[] = "8040f17b8041f8d35501a0b2";
static const char r7714_rtp_iv[] = "51753c6580c2726f20718414";
static const char r7714_rtp_pt[] = "47616c6c 69612065 7374206f 6d6e6973 20646976 69736120"
                                   "696e2070 61727465 73207472 6573";
static const char r7714_rtcp_aad[] = "81c8000d4d617273 800005d4";
static const char r7714_rtcp_iv[] = "517524055203726f207170bb";
static const char r7714_rtcp_pt[] = "4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
                                    "deadbeef deadbeef deadbeef deadbeef deadbeef";
static const struct {
  const srtp_cipher_type_t *type;
  const char *key, *srtp_ct, *srtcp_ct; /* ciphertext || tag */
} r7714[] = {
    {&rtcsec_srtp_aes_gcm_128, "000102030405060708090a0b0c0d0e0f",
     "f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf"
     "8833899d 7f27beb1 6a9152cf 765ee439 0cce",
     "63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46"
     "86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade"},
    {&rtcsec_srtp_aes_gcm_256, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799"
     "b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13",
     "d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d bffe0a50 a2eaa5c1 110555be 8415f658"
     "c61de047 6f1b6fad 1d1eb30c 4446839f 57ff6f6c b26ac3be"},
};

/* Seals pt with the cipher as srtp.c does; returns ct || tag length. */
static size_t gcm_seal_with(srtp_cipher_t *c, uint8_t *iv, const uint8_t *aad, size_t aad_len,
                            size_t aad_split, const uint8_t *pt, size_t n, uint8_t *out) {
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_set_aad(c, aad, (uint32_t)aad_split), srtp_err_status_ok);
  if (aad_len > aad_split)
    ck_assert_int_eq(srtp_cipher_set_aad(c, aad + aad_split, (uint32_t)(aad_len - aad_split)),
                     srtp_err_status_ok);
  memcpy(out, pt, n);
  uint32_t len = (uint32_t)n, tag_len = 0;
  ck_assert_int_eq(srtp_cipher_encrypt(c, out, &len), srtp_err_status_ok);
  ck_assert_uint_eq(len, n);
  ck_assert_int_eq(srtp_cipher_get_tag(c, out + n, &tag_len), srtp_err_status_ok);
  return n + tag_len;
}

/* Opens ct || tag in place; returns the status and *out_len. */
static srtp_err_status_t gcm_open_with(srtp_cipher_t *c, uint8_t *iv, const uint8_t *aad,
                                       size_t aad_len, size_t aad_split, uint8_t *buf, size_t n,
                                       uint32_t *out_len) {
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_set_aad(c, aad, (uint32_t)aad_split), srtp_err_status_ok);
  if (aad_len > aad_split)
    ck_assert_int_eq(srtp_cipher_set_aad(c, aad + aad_split, (uint32_t)(aad_len - aad_split)),
                     srtp_err_status_ok);
  *out_len = (uint32_t)n;
  return srtp_cipher_decrypt(c, buf, out_len);
}

START_TEST(aes_gcm_types_give_rfc7714_packets_and_refuse_any_changed_octet) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_128_GCM), 1);
  for (size_t v = 0; v < 2; v++) {
    uint8_t key[44], iv[12], aad[12], pt[64], want[80], out[80], buf[80];
    size_t kl = unhex(r7714[v].key, key, sizeof(key));
    unhex(r7714_salt, key + kl, 12);
    for (int rtcp = 0; rtcp < 2; rtcp++) {
      unhex(rtcp ? r7714_rtcp_iv : r7714_rtp_iv, iv, sizeof(iv));
      size_t al = unhex(rtcp ? r7714_rtcp_aad : r7714_rtp_aad, aad, sizeof(aad));
      size_t n = unhex(rtcp ? r7714_rtcp_pt : r7714_rtp_pt, pt, sizeof(pt));
      size_t wl = unhex(rtcp ? r7714[v].srtcp_ct : r7714[v].srtp_ct, want, sizeof(want));
      size_t split = rtcp ? 8 : al;
      for (int tag_len = 16; tag_len >= 8; tag_len -= 8) {
        srtp_cipher_t *c = cipher_new(r7714[v].type, (int)kl + 12, tag_len, key);
        size_t ol = gcm_seal_with(c, iv, aad, al, split, pt, n, out);
        /* an 8-octet tag is the leftmost half of the 16-octet one */
        ck_assert_uint_eq(ol, n + (size_t)tag_len);
        ck_assert_uint_eq(wl, n + 16);
        ck_assert_mem_eq(out, want, ol);
        uint32_t len;
        memcpy(buf, out, ol);
        ck_assert_int_eq(gcm_open_with(c, iv, aad, al, split, buf, ol, &len), srtp_err_status_ok);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(buf, pt, n);
        /* every octet of ciphertext and tag, and of the AAD, matters */
        for (size_t i = 0; i < ol + al; i++) {
          uint8_t a2[12];
          memcpy(buf, out, ol);
          memcpy(a2, aad, al);
          if (i < ol)
            buf[i] ^= 0x20;
          else
            a2[i - ol] ^= 0x01;
          ck_assert_int_eq(gcm_open_with(c, iv, a2, al, split, buf, ol, &len),
                           srtp_err_status_auth_fail);
        }
        /* and the IV */
        memcpy(buf, out, ol);
        iv[11] ^= 1;
        ck_assert_int_eq(gcm_open_with(c, iv, aad, al, split, buf, ol, &len),
                         srtp_err_status_auth_fail);
        iv[11] ^= 1;
        /* A forged packet leaves nothing in OpenSSL's error queue (that
         * would cost an allocation per forged packet, and other code on
         * the thread would find it). */
        ck_assert_uint_eq(ERR_peek_error(), 0);
        ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
      }
    }
  }
}
END_TEST

START_TEST(aes_gcm_types_match_the_reference_for_every_length) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_128_GCM), 1);
  for (size_t v = 0; v < 2; v++) {
    size_t kl = v ? 32 : 16;
    uint8_t key[44], iv[12], aad[64], pt[1500], out[1516], ref[1516];
    fill(key, sizeof(key));
    srtp_cipher_t *c = cipher_new(r7714[v].type, (int)kl + 12, 16, key);
    for (size_t n = 0; n <= 1400; n += 1 + (n > 64 ? rng() % 40 : 0)) {
      size_t al = rng() % sizeof(aad);
      fill(iv, sizeof(iv));
      fill(aad, al);
      fill(pt, n);
      ck_assert_uint_eq(gcm_seal_with(c, iv, aad, al, al / 2, pt, n, out), n + 16);
      aes_gcm_seal(key, kl, iv, aad, al, pt, n, ref);
      ck_assert_mem_eq(out, ref, n + 16);
      uint32_t len;
      ck_assert_int_eq(gcm_open_with(c, iv, aad, al, al, out, n + 16, &len), srtp_err_status_ok);
      ck_assert_uint_eq(len, n);
      if (n > 0)
        ck_assert_mem_eq(out, pt, n);
    }
    ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
  }
}
END_TEST

START_TEST(aes_gcm_refuses_misuse) {
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AEAD_AES_128_GCM), 1);
  srtp_cipher_t *c = NULL;
  uint8_t key[44] = {1}, iv[12] = {2}, buf[64] = {0}, tag[16];
  uint32_t len;
  /* key and tag lengths libsrtp2's GCM does not take */
  ck_assert_int_eq(srtp_cipher_type_alloc(&rtcsec_srtp_aes_gcm_128, &c, 30, 16),
                   srtp_err_status_bad_param);
  ck_assert_int_eq(srtp_cipher_type_alloc(&rtcsec_srtp_aes_gcm_128, &c, 28, 12),
                   srtp_err_status_bad_param);
  ck_assert_int_eq(srtp_cipher_type_alloc(&rtcsec_srtp_aes_gcm_256, &c, 44, 4),
                   srtp_err_status_bad_param);
  ck_assert_ptr_null(c);
  c = cipher_new(&rtcsec_srtp_aes_gcm_128, 28, 16, key);
  /* nothing before set_iv() */
  ck_assert_int_eq(srtp_cipher_set_aad(c, buf, 4), srtp_err_status_bad_param);
  len = 8;
  ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_bad_param);
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_any), srtp_err_status_bad_param);
  /* no encrypt or tag in the decrypt direction, and the reverse */
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_decrypt), srtp_err_status_ok);
  len = 8;
  ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_bad_param);
  ck_assert_int_eq(srtp_cipher_get_tag(c, tag, &len), srtp_err_status_bad_param);
  /* a buffer shorter than the tag cannot authenticate */
  len = 15;
  ck_assert_int_eq(srtp_cipher_decrypt(c, buf, &len), srtp_err_status_auth_fail);
  ck_assert_int_eq(srtp_cipher_set_iv(c, iv, srtp_direction_encrypt), srtp_err_status_ok);
  len = 16;
  ck_assert_int_eq(srtp_cipher_decrypt(c, buf, &len), srtp_err_status_bad_param);
  /* one tag per IV */
  len = 8;
  ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_ok);
  ck_assert_int_eq(srtp_cipher_get_tag(c, tag, &len), srtp_err_status_ok);
  ck_assert_uint_eq(len, 16);
  len = 8;
  ck_assert_int_eq(srtp_cipher_encrypt(c, buf, &len), srtp_err_status_bad_param);
  ck_assert_int_eq(srtp_cipher_dealloc(c), srtp_err_status_ok);
}
END_TEST

/* ---- 5. whole packets against libsrtp2's own implementations ------------------- */

/* The other process: srtp-stock-peer (tests/srtp_stock_peer.c), its path
 * in RTCSEC_SRTP_STOCK_PEER (set by tests/meson.build). */
typedef struct peer {
  pid_t pid;
  FILE *to, *from;
} peer;

static void peer_start(peer *p) {
  const char *path = getenv("RTCSEC_SRTP_STOCK_PEER");
  ck_assert_msg(path != NULL && access(path, X_OK) == 0,
                "the srtp-stock-peer helper is missing (%s): it is built with the tests "
                "(meson compile -C BUILD tests/srtp-stock-peer) and its path is passed in "
                "RTCSEC_SRTP_STOCK_PEER by `meson test`",
                path ? path : "RTCSEC_SRTP_STOCK_PEER not set");
  int in[2], out[2];
  ck_assert_int_eq(pipe(in), 0);
  ck_assert_int_eq(pipe(out), 0);
  signal(SIGPIPE, SIG_IGN);
  p->pid = fork();
  ck_assert_int_ge(p->pid, 0);
  if (p->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execl(path, path, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  p->to = fdopen(in[1], "w");
  p->from = fdopen(out[0], "r");
  ck_assert_ptr_nonnull(p->to);
  ck_assert_ptr_nonnull(p->from);
}

static void peer_stop(peer *p) {
  int status = 0;
  fclose(p->to);
  fclose(p->from);
  ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "srtp-stock-peer ended with status %d", status);
}

/* One request; returns the peer's code, the reply in out (*out_len). */
static int peer_call(peer *p, uint8_t op, const uint8_t *data, size_t len, uint8_t *out, size_t cap,
                     size_t *out_len) {
  uint8_t h[8] = {op};
  put_be32(h + 1, (uint32_t)len);
  ck_assert_int_eq(fwrite(h, 1, 5, p->to), 5);
  if (len > 0)
    ck_assert_uint_eq(fwrite(data, 1, len, p->to), len);
  ck_assert_int_eq(fflush(p->to), 0);
  ck_assert_msg(fread(h, 1, 8, p->from) == 8, "srtp-stock-peer did not answer (op %c)", op);
  int code = (int)get_be32(h);
  size_t n = get_be32(h + 4);
  ck_assert_uint_le(n, cap);
  if (n > 0)
    ck_assert_uint_eq(fread(out, 1, n, p->from), n);
  *out_len = n;
  return code;
}

static void make_keys(rtcsec_srtp_keys *k, rtcsec_srtp_profile p) {
  memset(k, 0, sizeof(*k));
  k->profile = p;
  k->key_len = rtcsec_srtp_profile_key_len(p);
  k->salt_len = rtcsec_srtp_profile_salt_len(p);
  fill(k->local_key, k->key_len);
  fill(k->local_salt, k->salt_len);
  fill(k->remote_key, k->key_len);
  fill(k->remote_salt, k->salt_len);
}

/* The peer's session: our remote key is its local one. */
static void peer_new(peer *p, const rtcsec_srtp_keys *k) {
  uint8_t msg[4 + 2 * (RTCSEC_SRTP_MAX_KEY_LEN + RTCSEC_SRTP_MAX_SALT_LEN)], *q = msg + 4, r[8];
  size_t rl;
  put_be16(msg, (uint16_t)k->profile);
  msg[2] = (uint8_t)k->key_len;
  msg[3] = (uint8_t)k->salt_len;
  memcpy(q, k->remote_key, RTCSEC_SRTP_MAX_KEY_LEN);
  memcpy(q + RTCSEC_SRTP_MAX_KEY_LEN, k->remote_salt, RTCSEC_SRTP_MAX_SALT_LEN);
  q += RTCSEC_SRTP_MAX_KEY_LEN + RTCSEC_SRTP_MAX_SALT_LEN;
  memcpy(q, k->local_key, RTCSEC_SRTP_MAX_KEY_LEN);
  memcpy(q + RTCSEC_SRTP_MAX_KEY_LEN, k->local_salt, RTCSEC_SRTP_MAX_SALT_LEN);
  ck_assert_int_eq(peer_call(p, 'N', msg, sizeof(msg), r, sizeof(r), &rl), RTCSEC_OK);
}

#define XSSRC 0x0badcafeu
#define MAX_PKT 1500

static size_t make_rtp(uint8_t *buf, uint16_t seq, size_t payload) {
  buf[0] = 0x80;
  buf[1] = 111;
  put_be16(buf + 2, seq);
  put_be32(buf + 4, 48000u + 960u * seq);
  put_be32(buf + 8, XSSRC);
  fill(buf + 12, payload);
  return 12 + payload;
}

static size_t make_rtcp(uint8_t *buf, size_t body) {
  buf[0] = 0x80;
  buf[1] = 200;
  put_be16(buf + 2, (uint16_t)((8 + body) / 4 - 1));
  put_be32(buf + 4, XSSRC);
  fill(buf + 8, body);
  return 8 + body;
}

/* Octets to change in a protected packet of plaintext length len and
 * protected length out: a header octet, the SSRC, the first and the last
 * payload octet, the first and the last tag octet (SRTCP: the SRTCP index
 * instead of the first tag octet, changed into a future index so that the
 * replay check, which comes first, does not answer instead). */
static void tamper_positions(int rtcp, int aead, size_t len, size_t out, size_t at[6]) {
  at[0] = rtcp ? 1 : 5;
  at[1] = rtcp ? 7 : 11;
  at[2] = rtcp ? 8 : 12;
  at[3] = len - 1;
  /* RFC 3711 §3.4: AES-CM SRTCP has E || index right after the payload;
   * RFC 7714 §9: AEAD SRTCP has it last, after the tag. */
  at[4] = !rtcp ? len : aead ? out - 3 : len + 1;
  at[5] = rtcp && aead ? len : out - 1;
}

/* One packet each way: `ours` protects with rtcsec's types and the peer
 * unprotects with libsrtp2's, then the peer protects and `ours` unprotects.
 * With `tamper`, changed copies are offered first, each of which must fail
 * authentication on the receiving side and leave its stream untouched. */
static void both_ways(peer *p, rtcsec_srtp *ours, int aead, int rtcp, const uint8_t *plain,
                      size_t len, int tamper) {
  uint8_t buf[MAX_PKT], got[MAX_PKT];
  size_t out, gl, at[6];
  uint8_t prot = rtcp ? 'q' : 'p', unprot = rtcp ? 'v' : 'u';

  /* rtcsec's types -> libsrtp2's */
  memcpy(buf, plain, len);
  ck_assert_int_eq(rtcp ? rtcsec_srtp_protect_rtcp(ours, buf, len, sizeof(buf), &out)
                        : rtcsec_srtp_protect_rtp(ours, buf, len, sizeof(buf), &out),
                   RTCSEC_OK);
  tamper_positions(rtcp, aead, len, out, at);
  for (size_t i = 0; tamper && i < 6; i++) {
    uint8_t bad[MAX_PKT];
    memcpy(bad, buf, out);
    bad[at[i]] ^= 0x04;
    int rc = peer_call(p, unprot, bad, out, got, sizeof(got), &gl);
    ck_assert_msg(rc == RTCSEC_ERR_SRTP_AUTH,
                  "libsrtp2's ciphers took a packet changed at octet %zu of %zu (rc %d)", at[i],
                  out, rc);
  }
  ck_assert_int_eq(peer_call(p, unprot, buf, out, got, sizeof(got), &gl), RTCSEC_OK);
  ck_assert_uint_eq(gl, len);
  ck_assert_mem_eq(got, plain, len);

  /* libsrtp2's -> rtcsec's types */
  ck_assert_int_eq(peer_call(p, prot, plain, len, got, sizeof(got), &gl), RTCSEC_OK);
  ck_assert_uint_eq(gl, out);
  tamper_positions(rtcp, aead, len, gl, at);
  for (size_t i = 0; tamper && i < 6; i++) {
    memcpy(buf, got, gl);
    buf[at[i]] ^= 0x04;
    int rc = rtcp ? rtcsec_srtp_unprotect_rtcp(ours, buf, gl, &out)
                  : rtcsec_srtp_unprotect_rtp(ours, buf, gl, &out);
    ck_assert_msg(rc == RTCSEC_ERR_SRTP_AUTH,
                  "rtcsec's types took a packet changed at octet %zu of %zu (rc %d)", at[i], gl,
                  rc);
  }
  memcpy(buf, got, gl);
  ck_assert_int_eq(rtcp ? rtcsec_srtp_unprotect_rtcp(ours, buf, gl, &out)
                        : rtcsec_srtp_unprotect_rtp(ours, buf, gl, &out),
                   RTCSEC_OK);
  ck_assert_uint_eq(out, len);
  ck_assert_mem_eq(buf, plain, len);
}

START_TEST(every_profile_interoperates_with_libsrtp2_own_ciphers_in_another_process) {
  peer p;
  uint8_t r[1024];
  size_t rl;
  ck_assert_int_eq(rtcsec_srtp_profile_supported(RTCSEC_SRTP_AES128_CM_SHA1_80), 1);
  peer_start(&p);

  /* The peer really runs libsrtp2's own implementations (NSS on Debian),
   * and refused a configuration change once it had started. */
  ck_assert_int_eq(peer_call(&p, 'H', NULL, 0, r, sizeof(r) - 1, &rl), RTCSEC_ERR_INVALID_STATE);
  r[rl] = '\0';
  ck_assert_msg(strstr((char *)r, "attempted=0") != NULL, "peer: %s", r);
  ck_assert_msg(strstr((char *)r, "rtcsec") == NULL, "the peer runs rtcsec's types: %s", r);
  ck_assert_msg(strstr((char *)r, "icm128=(none)") == NULL, "peer: %s", r);
  ck_assert_ptr_eq(srtp_crypto_kernel_get_cipher_type(SRTP_AES_ICM_128), &rtcsec_srtp_aes_icm_128);

  for (size_t pi = 0; pi < N_PROFILES; pi++) {
    rtcsec_srtp_keys k;
    rtcsec_srtp *ours;
    int aead = all_profiles[pi] == RTCSEC_SRTP_AEAD_AES_128_GCM ||
               all_profiles[pi] == RTCSEC_SRTP_AEAD_AES_256_GCM;
    make_keys(&k, all_profiles[pi]);
    ck_assert_int_eq(rtcsec_srtp_new(&ours, &k, NULL), RTCSEC_OK);
    peer_new(&p, &k);
    rtcsec_srtp_keys_wipe(&k);

    /* Payload lengths 0..1400, one packet each, RTP sequence numbers
     * running from 65536 - 700 across the wrap: the rollover counter
     * becomes 1 on both sides (RFC 3711 §3.3.1). */
    uint16_t seq = (uint16_t)(65536 - 700);
    for (size_t n = 0; n <= 1400; n++, seq++) {
      uint8_t plain[MAX_PKT];
      int tamper = n % 97 == 1 || n == 700 || n == 1400;
      size_t len = make_rtp(plain, seq, n);
      both_ways(&p, ours, aead, 0, plain, len, tamper);
      len = make_rtcp(plain, n);
      both_ways(&p, ours, aead, 1, plain, len, tamper);
    }
    rtcsec_srtp_ssrc_stats ss;
    ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(ours, XSSRC, 1, &ss), RTCSEC_OK);
    ck_assert_uint_eq(ss.roc, 1);
    ck_assert_uint_eq(ss.rtp_packets, 1401);
    ck_assert_int_eq(rtcsec_srtp_get_ssrc_stats(ours, XSSRC, 0, &ss), RTCSEC_OK);
    ck_assert_uint_eq(ss.roc, 1);
    ck_assert_uint_eq(ss.rtp_packets, 1401);
    uint8_t q[5];
    put_be32(q, XSSRC);
    for (q[4] = 0; q[4] < 2; q[4]++) {
      ck_assert_int_eq(peer_call(&p, 'S', q, 5, r, sizeof(r), &rl), RTCSEC_OK);
      ck_assert_uint_eq(rl, 4);
      ck_assert_uint_eq(r[3], 1); /* the peer's ROC too */
    }
    rtcsec_srtp_stats st;
    ck_assert_int_eq(rtcsec_srtp_get_stats(ours, &st), RTCSEC_OK);
    ck_assert_uint_eq(st.inbound.rtp_packets, 1401);
    ck_assert_uint_eq(st.inbound.rtcp_packets, 1401);
    ck_assert_uint_eq(st.inbound.auth_failures, 6 * 2 * 17);
    rtcsec_srtp_free(ours);
  }
  peer_stop(&p);
}
END_TEST

static Suite *srtp_ciphers_suite(void) {
  Suite *s = suite_create("srtp_ciphers");
  TCase *tc = tcase_create("types");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, libsrtp2_took_every_replacement_after_its_self_tests);
  tcase_add_test(tc, libsrtp2_self_test_of_each_type_passes_again);
  tcase_add_test(tc, libsrtp2_refuses_a_type_that_fails_its_vectors);
  tcase_add_test(tc, global_config_after_the_bridge_started_is_refused);
  tcase_add_test(tc, aes_icm_128_type_gives_the_rfc3711_b2_keystream);
  tcase_add_test(tc, aes_icm_block_counter_is_16_bits_as_in_libsrtp2);
  tcase_add_test(tc, aes_icm_128_type_derives_the_rfc3711_b3_session_keys);
  tcase_add_test(tc, aes_icm_types_match_rfc6188_and_the_reference);
  tcase_add_test(tc, aes_icm_refuses_other_key_lengths);
  tcase_add_test(tc, hmac_type_gives_rfc2202_tags_and_the_reference_for_any_key_and_split);
  tcase_add_test(tc, hmac_type_refuses_tags_longer_than_sha1);
  tcase_add_test(tc, aes_gcm_types_give_rfc7714_packets_and_refuse_any_changed_octet);
  tcase_add_test(tc, aes_gcm_types_match_the_reference_for_every_length);
  tcase_add_test(tc, aes_gcm_refuses_misuse);
  tcase_add_test(tc, every_profile_interoperates_with_libsrtp2_own_ciphers_in_another_process);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(srtp_ciphers_suite());
  srunner_run_all(sr, CK_ENV);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
