/* HMAC-SHA1 (RFC 2104; RFC 3711 §4.2.1) as libsrtp2 authentication type
 * SRTP_HMAC_SHA1, keyed once per session key (srtp_types.h).
 *
 * init() hashes the key's inner and outer pad blocks once and keeps the two
 * SHA-1 states; per packet, start() copies the inner state, update() and
 * compute() hash the packet and the ROC (or the SRTCP trailer), and the
 * outer state finishes the tag. OpenSSL 3.0's EVP HMAC cannot do this
 * without the heap: EVP_MAC_init() with a NULL key (and HMAC_Init_ex(), which
 * it calls) duplicates the digest context twice per message
 * (EVP_MD_CTX_copy_ex() frees and allocates the provider's context), and
 * EVP_MAC_CTX_dup() of a keyed template allocates more. rtcsec-bench --only
 * hmac (docs/benchmarks.md), OpenSSL 3.0.19, the tag of a 160-byte RTP
 * payload: 283 ns and 2 allocations with EVP_MAC re-initialised, 635 ns and
 * 12 with EVP_MAC_CTX_dup, 234 ns and 2 with HMAC_CTX reuse, 175 ns and none
 * with the two SHA-1 states.
 *
 * The states are OpenSSL's SHA_CTX, run by SHA1_Update()/SHA1_Final(): the
 * same SHA-1 code (SHA-NI where the CPU has it) the default provider runs,
 * without the EVP dispatch. Those functions are deprecated in OpenSSL 3.0
 * (present unless OpenSSL is built with no-deprecated, which Debian's is
 * not); their use is confined to this file. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srtp_types.h"

#define SHA1_LEN 20
#define SHA1_BLOCK 64

typedef struct hmac_state {
  SHA_CTX inner; /* after the key XOR ipad block */
  SHA_CTX outer; /* after the key XOR opad block */
  SHA_CTX work;  /* the message being authenticated */
  int keyed;
} hmac_state;

typedef struct hmac_auth {
  srtp_auth_t a;
  hmac_state s;
} hmac_auth;

static srtp_err_status_t hmac_dealloc(srtp_auth_t *a) {
  if (a == NULL)
    return srtp_err_status_bad_param;
  hmac_auth *ha = (hmac_auth *)a;
  OPENSSL_cleanse(ha, sizeof(*ha)); /* the keyed pad states are the key */
  free(ha);
  return srtp_err_status_ok;
}

/* out_len: the tag length, at most 20 (libsrtp2's limit); the key may have
 * any length (RFC 2104 §3; SRTP's is 20). */
static srtp_err_status_t hmac_alloc(srtp_auth_t **out, int key_len, int out_len) {
  if (out == NULL)
    return srtp_err_status_bad_param;
  *out = NULL;
  if (out_len < 0 || out_len > SHA1_LEN || key_len < 0)
    return srtp_err_status_bad_param;
  hmac_auth *ha = calloc(1, sizeof(*ha));
  if (ha == NULL)
    return srtp_err_status_alloc_fail;
  ha->a.type = &rtcsec_srtp_hmac_sha1;
  ha->a.state = &ha->s;
  ha->a.out_len = out_len;
  ha->a.key_len = key_len;
  ha->a.prefix_len = 0;
  *out = &ha->a;
  return srtp_err_status_ok;
}

static int pad_state(SHA_CTX *st, const uint8_t k[SHA1_BLOCK], uint8_t pad) {
  uint8_t block[SHA1_BLOCK];
  for (int i = 0; i < SHA1_BLOCK; i++)
    block[i] = k[i] ^ pad;
  int ok = SHA1_Init(st) && SHA1_Update(st, block, sizeof(block));
  OPENSSL_cleanse(block, sizeof(block));
  return ok;
}

/* RFC 2104 §2: K is the key, hashed first if longer than the block, and
 * zero-padded to the block; the states after (K XOR ipad) and (K XOR opad)
 * are all that is kept. */
static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len) {
  hmac_state *s = state;
  uint8_t k[SHA1_BLOCK];
  if (s == NULL || key_len < 0 || (key_len > 0 && key == NULL))
    return srtp_err_status_bad_param;
  memset(k, 0, sizeof(k));
  if (key_len > SHA1_BLOCK) {
    if (SHA1(key, (size_t)key_len, k) == NULL)
      return srtp_err_status_auth_fail;
  } else if (key_len > 0) {
    memcpy(k, key, (size_t)key_len);
  }
  int ok = pad_state(&s->inner, k, 0x36) && pad_state(&s->outer, k, 0x5c);
  OPENSSL_cleanse(k, sizeof(k));
  s->keyed = ok;
  return ok ? srtp_err_status_ok : srtp_err_status_auth_fail;
}

static srtp_err_status_t hmac_start(void *state) {
  hmac_state *s = state;
  if (s == NULL || !s->keyed)
    return srtp_err_status_auth_fail;
  s->work = s->inner;
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *msg, int len) {
  hmac_state *s = state;
  if (s == NULL || len < 0 || (len > 0 && msg == NULL))
    return srtp_err_status_bad_param;
  if (len > 0 && !SHA1_Update(&s->work, msg, (size_t)len))
    return srtp_err_status_auth_fail;
  return srtp_err_status_ok;
}

/* Hashes the last part of the message and writes the leftmost tag_len
 * octets of the HMAC (RFC 3711 §4.2.1: the tag is truncated). */
static srtp_err_status_t hmac_compute(void *state, const uint8_t *msg, int len, int tag_len,
                                      uint8_t *tag) {
  hmac_state *s = state;
  uint8_t h[SHA1_LEN];
  if (s == NULL || tag == NULL || tag_len < 0 || tag_len > SHA1_LEN)
    return srtp_err_status_bad_param;
  srtp_err_status_t st = hmac_update(state, msg, len);
  if (st != srtp_err_status_ok)
    return st;
  int ok = SHA1_Final(h, &s->work);
  s->work = s->outer;
  ok = ok && SHA1_Update(&s->work, h, sizeof(h)) && SHA1_Final(h, &s->work);
  if (ok)
    memcpy(tag, h, (size_t)tag_len);
  OPENSSL_cleanse(h, sizeof(h));
  OPENSSL_cleanse(&s->work, sizeof(s->work));
  return ok ? srtp_err_status_ok : srtp_err_status_auth_fail;
}

/* ---- self-test data: RFC 2202 §3 (HMAC-SHA-1) ----------------------------------- */

/* Test case 1: key 0x0b x 20, "Hi There". */
static const uint8_t t1_key[20] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                   0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t t1_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t t1_tag[20] = {0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
                                   0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
/* Test case 2: key "Jefe", "what do ya want for nothing?". */
static const uint8_t t2_key[4] = {'J', 'e', 'f', 'e'};
static const uint8_t t2_data[28] = {'w', 'h', 'a', 't', ' ', 'd', 'o', ' ', 'y', 'a',
                                    ' ', 'w', 'a', 'n', 't', ' ', 'f', 'o', 'r', ' ',
                                    'n', 'o', 't', 'h', 'i', 'n', 'g', '?'};
static const uint8_t t2_tag[20] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
                                   0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
/* Test case 5: key 0x0c x 20, "Test With Truncation", the 80-bit tag an
 * SRTP_AES128_CM_HMAC_SHA1_80 packet carries. */
static const uint8_t t5_key[20] = {0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
                                   0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c};
static const uint8_t t5_data[20] = {'T', 'e', 's', 't', ' ', 'W', 'i', 't', 'h', ' ',
                                    'T', 'r', 'u', 'n', 'c', 'a', 't', 'i', 'o', 'n'};
static const uint8_t t5_tag[10] = {0x4c, 0x1a, 0x03, 0x42, 0x4b, 0x55, 0xe0, 0x7f, 0xe7, 0xf2};
/* Test case 6: key 0xaa x 80 (longer than a block: hashed first). */
static const uint8_t t6_key[80] = {
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
static const uint8_t t6_data[54] = {
    'T', 'e', 's', 't', ' ', 'U', 's', 'i', 'n', 'g', ' ', 'L', 'a', 'r', 'g', 'e', 'r', ' ',
    'T', 'h', 'a', 'n', ' ', 'B', 'l', 'o', 'c', 'k', '-', 'S', 'i', 'z', 'e', ' ', 'K', 'e',
    'y', ' ', '-', ' ', 'H', 'a', 's', 'h', ' ', 'K', 'e', 'y', ' ', 'F', 'i', 'r', 's', 't'};
static const uint8_t t6_tag[20] = {0xaa, 0x4a, 0xe5, 0xe1, 0x52, 0x72, 0xd0, 0x0e, 0x95, 0x70,
                                   0x56, 0x37, 0xce, 0x8a, 0x3b, 0x55, 0xed, 0x40, 0x21, 0x12};

#define HMAC_CASE(K, D, T, NEXT)                                                                   \
  {                                                                                                \
    .key_length_octets = (int)sizeof(K), .key = (K), .data_length_octets = (int)sizeof(D),         \
    .data = (D), .tag_length_octets = (int)sizeof(T), .tag = (T), .next_test_case = (NEXT),        \
  }

static const srtp_auth_test_case_t t6 = HMAC_CASE(t6_key, t6_data, t6_tag, NULL);
static const srtp_auth_test_case_t t5 = HMAC_CASE(t5_key, t5_data, t5_tag, &t6);
static const srtp_auth_test_case_t t2 = HMAC_CASE(t2_key, t2_data, t2_tag, &t5);
static const srtp_auth_test_case_t t1 = HMAC_CASE(t1_key, t1_data, t1_tag, &t2);

const srtp_auth_type_t rtcsec_srtp_hmac_sha1 = {
    .alloc = hmac_alloc,
    .dealloc = hmac_dealloc,
    .init = hmac_init,
    .compute = hmac_compute,
    .update = hmac_update,
    .start = hmac_start,
    .description = "HMAC-SHA1 (rtcsec, OpenSSL SHA-1)",
    .test_data = &t1,
    .id = SRTP_HMAC_SHA1,
};
