/* rtcsec: SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) and the
 * SRTP master keys a DTLS association exports for them (RFC 5764 §4.2). */
#ifndef RTCSEC_PROFILE_H
#define RTCSEC_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values are the IANA DTLS-SRTP protection profile identifiers. */
typedef enum rtcsec_srtp_profile {
  RTCSEC_SRTP_NONE = 0,
  RTCSEC_SRTP_AES128_CM_SHA1_80 = 0x0001,
  RTCSEC_SRTP_AES128_CM_SHA1_32 = 0x0002,
  RTCSEC_SRTP_AEAD_AES_128_GCM = 0x0007,
  RTCSEC_SRTP_AEAD_AES_256_GCM = 0x0008,
} rtcsec_srtp_profile;

#define RTCSEC_SRTP_MAX_PROFILES 4
#define RTCSEC_SRTP_MAX_KEY_LEN 32
#define RTCSEC_SRTP_MAX_SALT_LEN 14
/* 2 * (key + salt) for the largest profile (AEAD_AES_256_GCM: 2 * (32 + 12)). */
#define RTCSEC_SRTP_MAX_MATERIAL_LEN 88

/* RFC name of a profile ("SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AEAD_AES_128_GCM",
 * ...), or "none" / "unknown". Never NULL. */
RTCSEC_API const char *rtcsec_srtp_profile_name(rtcsec_srtp_profile p);

/* Parses a profile name: the RFC names above or OpenSSL's names
 * ("SRTP_AES128_CM_SHA1_80"), case-insensitive. Returns 0 or
 * RTCSEC_ERR_PROFILE_NAME / RTCSEC_ERR_INVALID_ARGUMENT. */
RTCSEC_API int rtcsec_srtp_profile_from_name(const char *name, rtcsec_srtp_profile *out);

/* Parses a comma- or colon-separated list of names into out[] in order.
 * Duplicates are rejected (RTCSEC_ERR_PARSE), as are more than `cap` names
 * (RTCSEC_ERR_LIMIT). */
RTCSEC_API int rtcsec_srtp_profile_list_parse(const char *list, rtcsec_srtp_profile *out,
                                              size_t cap, size_t *n_out);

/* Master key and master salt lengths in bytes; 0 for an unknown profile. */
RTCSEC_API size_t rtcsec_srtp_profile_key_len(rtcsec_srtp_profile p);
RTCSEC_API size_t rtcsec_srtp_profile_salt_len(rtcsec_srtp_profile p);

/* The SRTP keys of one DTLS association, already split by role: "local" is
 * what this endpoint protects with, "remote" what the peer protects with.
 * `material` is the raw exporter output (RFC 5764 §4.2 layout: client key,
 * server key, client salt, server salt). Wipe with rtcsec_srtp_keys_wipe(). */
typedef struct rtcsec_srtp_keys {
  rtcsec_srtp_profile profile;
  size_t key_len;
  size_t salt_len;
  uint8_t local_key[RTCSEC_SRTP_MAX_KEY_LEN];
  uint8_t local_salt[RTCSEC_SRTP_MAX_SALT_LEN];
  uint8_t remote_key[RTCSEC_SRTP_MAX_KEY_LEN];
  uint8_t remote_salt[RTCSEC_SRTP_MAX_SALT_LEN];
  size_t material_len;
  uint8_t material[RTCSEC_SRTP_MAX_MATERIAL_LEN];
} rtcsec_srtp_keys;

/* Overwrites every key byte with zeros in a way the compiler cannot elide. */
RTCSEC_API void rtcsec_srtp_keys_wipe(rtcsec_srtp_keys *keys);

#ifdef __cplusplus
}
#endif
#endif
