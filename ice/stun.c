/* The STUN codec (RFC 8489 / RFC 5389) with the ICE attributes (RFC 8445
 * §16.1). See rtcsec/stun.h for the contract. Every read goes through a
 * bounds check against the datagram; nothing is allocated while parsing. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "be.h"
#include "rtcsec/error.h"
#include "rtcsec/stun.h"

/* ---- byte helpers ---------------------------------------------------------- */

static size_t pad4(size_t n) { return (n + 3u) & ~(size_t)3u; }

/* ---- CRC-32 (FINGERPRINT) ---------------------------------------------------- */

/* CRC-32 of ISO-HDLC / RFC 1952 (reflected polynomial 0xEDB88320), the one
 * RFC 8489 §14.7 names. Table generated once with the classic bitwise
 * algorithm: entry n is n shifted right eight times, XOR'ing the polynomial
 * in whenever a one bit falls out. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu, 0xe963a535u,
    0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u, 0x09b64c2bu, 0x7eb17cbdu,
    0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu, 0x1adad47du,
    0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u, 0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
    0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u,
    0xa2677172u, 0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u, 0x26d930acu,
    0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
    0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u, 0x2f6f7c87u, 0x58684c11u, 0xc1611dabu,
    0xb6662d3du, 0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu,
    0x9fbfe4a5u, 0xe8b8d433u, 0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu,
    0x086d3d2du, 0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau,
    0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u, 0x4db26158u, 0x3ab551ceu,
    0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au,
    0x346ed9fcu, 0xad678846u, 0xda60b8d0u, 0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
    0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u,
    0xce61e49fu, 0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au, 0xead54739u,
    0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
    0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u, 0xf00f9344u, 0x8708a3d2u, 0x1e01f268u,
    0x6906c2feu, 0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u,
    0x10da7a5au, 0x67dd4accu, 0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u,
    0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u, 0x316e8eefu,
    0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u, 0xcc0c7795u, 0xbb0b4703u,
    0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u,
    0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du, 0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
    0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu,
    0x0cb61b38u, 0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u, 0x88085ae6u,
    0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
    0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u, 0xa7672661u, 0xd06016f7u, 0x4969474du,
    0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u,
    0x47b2cf7fu, 0x30b5ffe9u, 0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u,
    0xcdd70693u, 0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t crc_update(uint32_t c, const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++)
    c = crc_table[(c ^ data[i]) & 0xffu] ^ (c >> 8);
  return c;
}

uint32_t rtcsec_stun_crc32(const uint8_t *data, size_t len) {
  return crc_update(0xffffffffu, data, len) ^ 0xffffffffu;
}

/* RFC 8489 §14.7: CRC-32 of the message up to (excluding) the FINGERPRINT
 * attribute, with the header's length field already counting FINGERPRINT,
 * XOR'ed with 0x5354554e. `fp_off` is the offset of its attribute header. */
static uint32_t fingerprint_of(const uint8_t *msg, size_t fp_off) {
  uint8_t hdr[4];
  memcpy(hdr, msg, 4);
  rtcsec_put_be16(hdr + 2, (uint16_t)(fp_off + 8 - RTCSEC_STUN_HEADER_LEN));
  uint32_t c = crc_update(0xffffffffu, hdr, sizeof(hdr));
  c = crc_update(c, msg + sizeof(hdr), fp_off - sizeof(hdr));
  return (c ^ 0xffffffffu) ^ RTCSEC_STUN_FINGERPRINT_XOR;
}

/* ---- HMAC-SHA1 (MESSAGE-INTEGRITY) --------------------------------------------- */

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_init(void) { hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL); }

/* A MESSAGE-INTEGRITY key: an HMAC-SHA1 context keyed once. Each message
 * re-initialises it without the key (OpenSSL keeps the keyed state), so
 * a check costs no key schedule, no fetch and no new context. */
struct rtcsec_stun_key {
  EVP_MAC_CTX *ctx;
};

int rtcsec_stun_key_new(rtcsec_stun_key **out, const uint8_t *key, size_t key_len) {
  if (out == NULL || (key == NULL && key_len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out = NULL;
  if (pthread_once(&hmac_once, hmac_init) != 0 || hmac_alg == NULL)
    return RTCSEC_ERR_CRYPTO;
  rtcsec_stun_key *k = calloc(1, sizeof(*k));
  if (k == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  k->ctx = EVP_MAC_CTX_new(hmac_alg);
  char digest[] = "SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
  static const uint8_t empty = 0;
  if (k->ctx == NULL || EVP_MAC_init(k->ctx, key_len ? key : &empty, key_len, params) != 1) {
    rtcsec_stun_key_free(k);
    return k->ctx == NULL ? RTCSEC_ERR_NO_MEMORY : RTCSEC_ERR_CRYPTO;
  }
  *out = k;
  return RTCSEC_OK;
}

void rtcsec_stun_key_free(rtcsec_stun_key *k) {
  if (k == NULL)
    return;
  EVP_MAC_CTX_free(k->ctx); /* OpenSSL cleanses the keyed state */
  free(k);
}

/* RFC 8489 §14.5: HMAC-SHA1 over the message up to (excluding) the
 * MESSAGE-INTEGRITY attribute at `mi_off`, the header's length field set
 * to count the attributes up to and including MESSAGE-INTEGRITY (so that
 * FINGERPRINT, which may follow, is not covered). */
static int integrity_of(const uint8_t *msg, size_t mi_off, rtcsec_stun_key *k,
                        uint8_t out[RTCSEC_STUN_INTEGRITY_LEN]) {
  uint8_t hdr[RTCSEC_STUN_HEADER_LEN];
  memcpy(hdr, msg, sizeof(hdr));
  rtcsec_put_be16(hdr + 2,
                  (uint16_t)(mi_off + 4 + RTCSEC_STUN_INTEGRITY_LEN - RTCSEC_STUN_HEADER_LEN));
  size_t out_len = 0;
  int ok =
      EVP_MAC_init(k->ctx, NULL, 0, NULL) == 1 && EVP_MAC_update(k->ctx, hdr, sizeof(hdr)) == 1 &&
      EVP_MAC_update(k->ctx, msg + RTCSEC_STUN_HEADER_LEN, mi_off - RTCSEC_STUN_HEADER_LEN) == 1 &&
      EVP_MAC_final(k->ctx, out, &out_len, RTCSEC_STUN_INTEGRITY_LEN) == 1 &&
      out_len == RTCSEC_STUN_INTEGRITY_LEN;
  return ok ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

int rtcsec_stun_check_integrity_key(const rtcsec_stun_msg *m, rtcsec_stun_key *k) {
  if (m == NULL || k == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (!(m->present & RTCSEC_STUN_HAS_INTEGRITY) || m->data == NULL ||
      m->integrity_offset < RTCSEC_STUN_HEADER_LEN ||
      m->integrity_offset + 4 + RTCSEC_STUN_INTEGRITY_LEN > m->len)
    return RTCSEC_ERR_STUN_INTEGRITY;
  uint8_t mac[RTCSEC_STUN_INTEGRITY_LEN];
  int rc = integrity_of(m->data, m->integrity_offset, k, mac);
  if (rc != RTCSEC_OK)
    return rc;
  /* Constant-time: a timing difference must not tell an attacker how much
   * of a forged MAC was right. */
  int diff = CRYPTO_memcmp(mac, m->data + m->integrity_offset + 4, sizeof(mac));
  OPENSSL_cleanse(mac, sizeof(mac));
  return diff == 0 ? RTCSEC_OK : RTCSEC_ERR_STUN_INTEGRITY;
}

int rtcsec_stun_check_integrity(const rtcsec_stun_msg *m, const uint8_t *key, size_t key_len) {
  rtcsec_stun_key *k = NULL;
  int rc = m == NULL ? RTCSEC_ERR_INVALID_ARGUMENT : rtcsec_stun_key_new(&k, key, key_len);
  if (rc == RTCSEC_OK)
    rc = rtcsec_stun_check_integrity_key(m, k);
  rtcsec_stun_key_free(k);
  return rc;
}

int rtcsec_stun_long_term_key(const char *username, const char *realm, const char *password,
                              uint8_t out[16]) {
  if (username == NULL || realm == NULL || password == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  unsigned int n = 0;
  int ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
           EVP_DigestUpdate(ctx, username, strlen(username)) == 1 &&
           EVP_DigestUpdate(ctx, ":", 1) == 1 && EVP_DigestUpdate(ctx, realm, strlen(realm)) == 1 &&
           EVP_DigestUpdate(ctx, ":", 1) == 1 &&
           EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
           EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 16;
  EVP_MD_CTX_free(ctx);
  return ok ? RTCSEC_OK : RTCSEC_ERR_CRYPTO;
}

/* ---- parsing ------------------------------------------------------------------ */

/* RFC 8489 §5: the class bits C1 C0 sit at bits 8 and 4 of the type; the
 * method's 12 bits fill the rest. */
static uint16_t type_of(uint16_t method, rtcsec_stun_class cls) {
  unsigned c = (unsigned)cls;
  return (uint16_t)((method & 0x000fu) | (method & 0x0070u) << 1 | (method & 0x0f80u) << 2 |
                    (c & 1u) << 4 | (c & 2u) << 7);
}

static void split_type(uint16_t type, uint16_t *method, rtcsec_stun_class *cls) {
  *method = (uint16_t)((type & 0x000fu) | (type & 0x00e0u) >> 1 | (type & 0x3e00u) >> 2);
  *cls = (rtcsec_stun_class)((type >> 4 & 1u) | (type >> 7 & 2u));
}

int rtcsec_stun_is_message(const uint8_t *buf, size_t len) {
  if (buf == NULL || len < RTCSEC_STUN_HEADER_LEN)
    return 0;
  /* RFC 8489 §6.3: the two most significant bits are zero, the cookie is
   * right, and (over UDP) the message fills the datagram exactly. */
  if ((buf[0] & 0xc0u) != 0 || rtcsec_be32(buf + 4) != RTCSEC_STUN_MAGIC_COOKIE)
    return 0;
  size_t body = rtcsec_be16(buf + 2);
  return body % 4 == 0 && body == len - RTCSEC_STUN_HEADER_LEN;
}

/* Decodes an (XOR-)address value (RFC 8489 §14.1, §14.2). */
static int parse_xor_address(const rtcsec_stun_msg *m, const uint8_t *v, size_t vlen,
                             struct sockaddr_storage *out, socklen_t *out_len) {
  if (vlen < 4)
    return RTCSEC_ERR_STUN_MALFORMED;
  uint8_t family = v[1];
  uint16_t port = (uint16_t)(rtcsec_be16(v + 2) ^ (RTCSEC_STUN_MAGIC_COOKIE >> 16));
  memset(out, 0, sizeof(*out));
  if (family == 0x01 && vlen == 8) {
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    uint32_t a = rtcsec_be32(v + 4) ^ RTCSEC_STUN_MAGIC_COOKIE;
    sin->sin_addr.s_addr = htonl(a);
    *out_len = sizeof(*sin);
    return RTCSEC_OK;
  }
  if (family == 0x02 && vlen == 20) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    /* IPv6: XOR'ed with the cookie followed by the transaction ID. */
    uint8_t mask[16];
    rtcsec_put_be32(mask, RTCSEC_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, m->tid, RTCSEC_STUN_TID_LEN);
    for (int i = 0; i < 16; i++)
      sin6->sin6_addr.s6_addr[i] = (uint8_t)(v[4 + i] ^ mask[i]);
    *out_len = sizeof(*sin6);
    return RTCSEC_OK;
  }
  return RTCSEC_ERR_STUN_MALFORMED;
}

/* Comprehension-required attributes this codec understands (RFC 8489
 * §18.3.1, RFC 8445 §16.1); those not decoded are still "known" so that a
 * request carrying them is not refused with 420. */
static int known_required(uint16_t type) {
  switch (type) {
  case RTCSEC_STUN_ATTR_MAPPED_ADDRESS:
  case RTCSEC_STUN_ATTR_USERNAME:
  case RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY:
  case RTCSEC_STUN_ATTR_ERROR_CODE:
  case RTCSEC_STUN_ATTR_UNKNOWN_ATTRIBUTES:
  case RTCSEC_STUN_ATTR_REALM:
  case RTCSEC_STUN_ATTR_NONCE:
  case RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
  case RTCSEC_STUN_ATTR_PASSWORD_ALGORITHM:
  case RTCSEC_STUN_ATTR_USERHASH:
  case RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS:
  case RTCSEC_STUN_ATTR_PRIORITY:
  case RTCSEC_STUN_ATTR_USE_CANDIDATE:
    return 1;
  default:
    return 0;
  }
}

/* Takes one attribute before MESSAGE-INTEGRITY into m. */
static int take_attr(rtcsec_stun_msg *m, uint16_t type, const uint8_t *v, size_t vlen) {
  unsigned bit = 0;
  switch (type) {
  case RTCSEC_STUN_ATTR_USERNAME:
    bit = RTCSEC_STUN_HAS_USERNAME;
    if (vlen > RTCSEC_STUN_MAX_USERNAME)
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_PRIORITY:
    bit = RTCSEC_STUN_HAS_PRIORITY;
    if (vlen != 4)
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_USE_CANDIDATE:
    bit = RTCSEC_STUN_HAS_USE_CANDIDATE;
    if (vlen != 0) /* RFC 8445 §16.1: no content */
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_ICE_CONTROLLING:
    bit = RTCSEC_STUN_HAS_ICE_CONTROLLING;
    if (vlen != 8)
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_ICE_CONTROLLED:
    bit = RTCSEC_STUN_HAS_ICE_CONTROLLED;
    if (vlen != 8)
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS:
    bit = RTCSEC_STUN_HAS_XOR_MAPPED_ADDRESS;
    break;
  case RTCSEC_STUN_ATTR_ERROR_CODE:
    bit = RTCSEC_STUN_HAS_ERROR_CODE;
    if (vlen < 4 || vlen - 4 > RTCSEC_STUN_MAX_REASON)
      return RTCSEC_ERR_STUN_MALFORMED;
    break;
  case RTCSEC_STUN_ATTR_REALM:
    bit = RTCSEC_STUN_HAS_REALM;
    break;
  case RTCSEC_STUN_ATTR_NONCE:
    bit = RTCSEC_STUN_HAS_NONCE;
    break;
  case RTCSEC_STUN_ATTR_SOFTWARE:
    bit = RTCSEC_STUN_HAS_SOFTWARE;
    break;
  default:
    if (type < 0x8000u && !known_required(type)) {
      if (m->n_unknown < RTCSEC_STUN_MAX_UNKNOWN)
        m->unknown[m->n_unknown] = type;
      m->n_unknown++;
    }
    return RTCSEC_OK;
  }
  /* RFC 8489 §14: only the first of repeated attributes is processed. The
   * repeat is still length-checked above, so a bad one is malformed. */
  if (m->present & bit) {
    m->n_duplicates++;
    return RTCSEC_OK;
  }
  switch (type) {
  case RTCSEC_STUN_ATTR_USERNAME:
    m->username = v;
    m->username_len = vlen;
    break;
  case RTCSEC_STUN_ATTR_PRIORITY:
    m->priority = rtcsec_be32(v);
    break;
  case RTCSEC_STUN_ATTR_ICE_CONTROLLING:
    m->ice_controlling = rtcsec_be64(v);
    break;
  case RTCSEC_STUN_ATTR_ICE_CONTROLLED:
    m->ice_controlled = rtcsec_be64(v);
    break;
  case RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS: {
    int rc = parse_xor_address(m, v, vlen, &m->xor_mapped, &m->xor_mapped_len);
    if (rc != RTCSEC_OK)
      return rc;
    break;
  }
  case RTCSEC_STUN_ATTR_ERROR_CODE: {
    /* RFC 8489 §14.8: 21 reserved bits, class 3..6, number 0..99. */
    unsigned cls = v[2] & 0x07u, num = v[3];
    if (cls < 3 || cls > 6 || num > 99)
      return RTCSEC_ERR_STUN_MALFORMED;
    m->error_code = (int)(cls * 100 + num);
    m->error_reason = v + 4;
    m->error_reason_len = vlen - 4;
    break;
  }
  case RTCSEC_STUN_ATTR_REALM:
    m->realm = v;
    m->realm_len = vlen;
    break;
  case RTCSEC_STUN_ATTR_NONCE:
    m->nonce = v;
    m->nonce_len = vlen;
    break;
  case RTCSEC_STUN_ATTR_SOFTWARE:
    m->software = v;
    m->software_len = vlen;
    break;
  default:
    break;
  }
  m->present |= bit;
  return RTCSEC_OK;
}

int rtcsec_stun_parse(rtcsec_stun_msg *m, const uint8_t *buf, size_t len) {
  if (m == NULL || (buf == NULL && len > 0))
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(m, 0, sizeof(*m));
  if (!rtcsec_stun_is_message(buf, len))
    return RTCSEC_ERR_STUN_MALFORMED;
  m->data = buf;
  m->len = len;
  split_type(rtcsec_be16(buf), &m->method, &m->cls);
  memcpy(m->tid, buf + 8, RTCSEC_STUN_TID_LEN);

  size_t off = RTCSEC_STUN_HEADER_LEN;
  int after_integrity = 0;
  while (off < len) {
    if (m->n_attributes >= RTCSEC_STUN_MAX_ATTRIBUTES)
      return RTCSEC_ERR_STUN_MALFORMED;
    /* RFC 8489 §14.7: FINGERPRINT is the last attribute. */
    if (m->present & RTCSEC_STUN_HAS_FINGERPRINT)
      return RTCSEC_ERR_STUN_MALFORMED;
    if (len - off < 4)
      return RTCSEC_ERR_STUN_MALFORMED;
    uint16_t type = rtcsec_be16(buf + off);
    size_t vlen = rtcsec_be16(buf + off + 2);
    /* The value and its padding must fit the message (§14). */
    if (pad4(vlen) > len - off - 4)
      return RTCSEC_ERR_STUN_MALFORMED;
    const uint8_t *v = buf + off + 4;
    m->n_attributes++;
    if (type == RTCSEC_STUN_ATTR_FINGERPRINT) {
      if (vlen != 4)
        return RTCSEC_ERR_STUN_MALFORMED;
      if (off + 8 != len)
        return RTCSEC_ERR_STUN_MALFORMED; /* something follows it */
      if (rtcsec_be32(v) != fingerprint_of(buf, off))
        return RTCSEC_ERR_STUN_FINGERPRINT;
      m->present |= RTCSEC_STUN_HAS_FINGERPRINT;
    } else if (after_integrity) {
      /* RFC 8489 §14.5: everything else after MESSAGE-INTEGRITY is ignored. */
    } else if (type == RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY) {
      if (vlen != RTCSEC_STUN_INTEGRITY_LEN)
        return RTCSEC_ERR_STUN_MALFORMED;
      m->present |= RTCSEC_STUN_HAS_INTEGRITY;
      m->integrity_offset = off;
      after_integrity = 1;
    } else {
      int rc = take_attr(m, type, v, vlen);
      if (rc != RTCSEC_OK)
        return rc;
    }
    off += 4 + pad4(vlen);
  }
  return RTCSEC_OK;
}

int rtcsec_stun_find_attr(const rtcsec_stun_msg *m, uint16_t type, const uint8_t **value,
                          size_t *len) {
  if (m == NULL || m->data == NULL || value == NULL || len == NULL)
    return 0;
  /* The message was walked by rtcsec_stun_parse(): every header fits. */
  size_t end = (m->present & RTCSEC_STUN_HAS_INTEGRITY) ? m->integrity_offset : m->len;
  for (size_t off = RTCSEC_STUN_HEADER_LEN; end - off >= 4;) {
    uint16_t t = rtcsec_be16(m->data + off);
    size_t vlen = rtcsec_be16(m->data + off + 2);
    if (pad4(vlen) > m->len - off - 4)
      return 0;
    if (t == type) {
      *value = m->data + off + 4;
      *len = vlen;
      return 1;
    }
    off += 4 + pad4(vlen);
    if (off > end)
      return 0;
  }
  return 0;
}

int rtcsec_stun_decode_xor_address(const rtcsec_stun_msg *m, const uint8_t *value, size_t len,
                                   struct sockaddr_storage *out, socklen_t *out_len) {
  if (m == NULL || value == NULL || out == NULL || out_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return parse_xor_address(m, value, len, out, out_len);
}

const char *rtcsec_stun_class_name(rtcsec_stun_class c) {
  switch (c) {
  case RTCSEC_STUN_REQUEST:
    return "request";
  case RTCSEC_STUN_INDICATION:
    return "indication";
  case RTCSEC_STUN_SUCCESS:
    return "success response";
  case RTCSEC_STUN_ERROR:
    return "error response";
  default:
    return "unknown";
  }
}

/* ---- building ---------------------------------------------------------------- */

static int fail(rtcsec_stun_builder *b, int rc) {
  if (b->error == RTCSEC_OK)
    b->error = rc;
  return rc;
}

int rtcsec_stun_builder_init(rtcsec_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
                             rtcsec_stun_class cls, const uint8_t tid[RTCSEC_STUN_TID_LEN]) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  memset(b, 0, sizeof(*b));
  b->buf = buf;
  b->cap = cap;
  if (buf == NULL || tid == NULL || method > 0x0fffu || (unsigned)cls > 3u)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  if (cap < RTCSEC_STUN_HEADER_LEN)
    return fail(b, RTCSEC_ERR_BUFFER_TOO_SMALL);
  rtcsec_put_be16(buf, type_of(method, cls));
  rtcsec_put_be16(buf + 2, 0);
  rtcsec_put_be32(buf + 4, RTCSEC_STUN_MAGIC_COOKIE);
  memcpy(buf + 8, tid, RTCSEC_STUN_TID_LEN);
  b->len = RTCSEC_STUN_HEADER_LEN;
  return RTCSEC_OK;
}

/* Reserves room for an attribute of vlen bytes and writes its header and
 * zero padding; returns the value's position or NULL (error recorded). */
static uint8_t *reserve(rtcsec_stun_builder *b, uint16_t type, size_t vlen, int closing) {
  if (b == NULL)
    return NULL;
  if (b->error != RTCSEC_OK)
    return NULL;
  if (b->buf == NULL) {
    fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
    return NULL;
  }
  if (b->has_fingerprint || (b->has_integrity && !closing)) {
    fail(b, RTCSEC_ERR_INVALID_STATE);
    return NULL;
  }
  if (vlen > 0xffffu || b->len - RTCSEC_STUN_HEADER_LEN + 4 + pad4(vlen) > 0xfffcu) {
    fail(b, RTCSEC_ERR_TOO_LARGE);
    return NULL;
  }
  size_t need = 4 + pad4(vlen);
  if (b->cap - b->len < need) {
    fail(b, RTCSEC_ERR_BUFFER_TOO_SMALL);
    return NULL;
  }
  uint8_t *p = b->buf + b->len;
  rtcsec_put_be16(p, type);
  rtcsec_put_be16(p + 2, (uint16_t)vlen);
  memset(p + 4 + vlen, 0, pad4(vlen) - vlen);
  b->len += need;
  rtcsec_put_be16(b->buf + 2, (uint16_t)(b->len - RTCSEC_STUN_HEADER_LEN));
  return p + 4;
}

int rtcsec_stun_add_attr(rtcsec_stun_builder *b, uint16_t type, const void *value, size_t len) {
  if (b != NULL && value == NULL && len > 0)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  uint8_t *p = reserve(b, type, len, 0);
  if (p == NULL)
    return b ? b->error : RTCSEC_ERR_INVALID_ARGUMENT;
  if (len > 0)
    memcpy(p, value, len);
  return RTCSEC_OK;
}

int rtcsec_stun_add_u32(rtcsec_stun_builder *b, uint16_t type, uint32_t v) {
  uint8_t x[4];
  rtcsec_put_be32(x, v);
  return rtcsec_stun_add_attr(b, type, x, sizeof(x));
}

int rtcsec_stun_add_u64(rtcsec_stun_builder *b, uint16_t type, uint64_t v) {
  uint8_t x[8];
  rtcsec_put_be32(x, (uint32_t)(v >> 32));
  rtcsec_put_be32(x + 4, (uint32_t)v);
  return rtcsec_stun_add_attr(b, type, x, sizeof(x));
}

int rtcsec_stun_add_username(rtcsec_stun_builder *b, const char *username, size_t len) {
  if (b != NULL && len > RTCSEC_STUN_MAX_USERNAME)
    return fail(b, RTCSEC_ERR_TOO_LARGE);
  return rtcsec_stun_add_attr(b, RTCSEC_STUN_ATTR_USERNAME, username, len);
}

int rtcsec_stun_add_xor_address(rtcsec_stun_builder *b, uint16_t type, const struct sockaddr *addr,
                                socklen_t addr_len) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (addr == NULL)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  uint8_t v[20];
  size_t vlen;
  if (addr->sa_family == AF_INET && addr_len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    v[0] = 0;
    v[1] = 0x01;
    rtcsec_put_be16(v + 2, (uint16_t)(ntohs(sin->sin_port) ^ (RTCSEC_STUN_MAGIC_COOKIE >> 16)));
    rtcsec_put_be32(v + 4, ntohl(sin->sin_addr.s_addr) ^ RTCSEC_STUN_MAGIC_COOKIE);
    vlen = 8;
  } else if (addr->sa_family == AF_INET6 && addr_len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
    v[0] = 0;
    v[1] = 0x02;
    rtcsec_put_be16(v + 2, (uint16_t)(ntohs(sin6->sin6_port) ^ (RTCSEC_STUN_MAGIC_COOKIE >> 16)));
    uint8_t mask[16];
    rtcsec_put_be32(mask, RTCSEC_STUN_MAGIC_COOKIE);
    memcpy(mask + 4, b->buf ? b->buf + 8 : mask, RTCSEC_STUN_TID_LEN);
    for (int i = 0; i < 16; i++)
      v[4 + i] = (uint8_t)(sin6->sin6_addr.s6_addr[i] ^ mask[i]);
    vlen = 20;
  } else {
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  }
  return rtcsec_stun_add_attr(b, type, v, vlen);
}

int rtcsec_stun_add_error_code(rtcsec_stun_builder *b, int code, const char *reason) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t rlen = reason ? strlen(reason) : 0;
  if (code < 300 || code > 699 || rlen > RTCSEC_STUN_MAX_REASON)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  uint8_t *p = reserve(b, RTCSEC_STUN_ATTR_ERROR_CODE, 4 + rlen, 0);
  if (p == NULL)
    return b->error;
  p[0] = 0;
  p[1] = 0;
  p[2] = (uint8_t)(code / 100);
  p[3] = (uint8_t)(code % 100);
  if (rlen > 0)
    memcpy(p + 4, reason, rlen);
  return RTCSEC_OK;
}

int rtcsec_stun_add_unknown_attributes(rtcsec_stun_builder *b, const uint16_t *types, size_t n) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if ((types == NULL && n > 0) || n > 0x7fffu)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  uint8_t *p = reserve(b, RTCSEC_STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n, 0);
  if (p == NULL)
    return b->error;
  for (size_t i = 0; i < n; i++)
    rtcsec_put_be16(p + 2 * i, types[i]);
  return RTCSEC_OK;
}

int rtcsec_stun_add_integrity_key(rtcsec_stun_builder *b, rtcsec_stun_key *k) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  if (k == NULL)
    return fail(b, RTCSEC_ERR_INVALID_ARGUMENT);
  size_t off = b->len;
  uint8_t *p = reserve(b, RTCSEC_STUN_ATTR_MESSAGE_INTEGRITY, RTCSEC_STUN_INTEGRITY_LEN, 0);
  if (p == NULL)
    return b->error;
  int rc = integrity_of(b->buf, off, k, p);
  if (rc != RTCSEC_OK)
    return fail(b, rc);
  b->has_integrity = 1;
  return RTCSEC_OK;
}

int rtcsec_stun_add_integrity(rtcsec_stun_builder *b, const uint8_t *key, size_t key_len) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  rtcsec_stun_key *k = NULL;
  int rc = rtcsec_stun_key_new(&k, key, key_len);
  rc = rc == RTCSEC_OK ? rtcsec_stun_add_integrity_key(b, k) : fail(b, rc);
  rtcsec_stun_key_free(k);
  return rc;
}

int rtcsec_stun_add_fingerprint(rtcsec_stun_builder *b) {
  if (b == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t off = b->len;
  uint8_t *p = reserve(b, RTCSEC_STUN_ATTR_FINGERPRINT, 4, 1);
  if (p == NULL)
    return b->error;
  rtcsec_put_be32(p, fingerprint_of(b->buf, off));
  b->has_fingerprint = 1;
  return RTCSEC_OK;
}

int rtcsec_stun_builder_finish(const rtcsec_stun_builder *b, size_t *out_len) {
  if (b == NULL || out_len == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  *out_len = 0;
  if (b->error != RTCSEC_OK)
    return b->error;
  if (b->buf == NULL || b->len < RTCSEC_STUN_HEADER_LEN)
    return RTCSEC_ERR_INVALID_STATE;
  *out_len = b->len;
  return RTCSEC_OK;
}
