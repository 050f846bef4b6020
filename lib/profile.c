/* SRTP protection profiles: names and key sizes (RFC 5764 §4.1.2,
 * RFC 7714 §14.2). */
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "profile_internal.h"
#include "rtcsec/error.h"
#include "rtcsec/profile.h"

struct profile_info {
  rtcsec_srtp_profile id;
  const char *rfc_name;
  const char *openssl_name;
  size_t key_len;
  size_t salt_len;
};

static const struct profile_info profiles[] = {
    {RTCSEC_SRTP_AES128_CM_SHA1_80, "SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AES128_CM_SHA1_80", 16,
     14},
    {RTCSEC_SRTP_AES128_CM_SHA1_32, "SRTP_AES128_CM_HMAC_SHA1_32", "SRTP_AES128_CM_SHA1_32", 16,
     14},
    {RTCSEC_SRTP_AEAD_AES_128_GCM, "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM", 16, 12},
    {RTCSEC_SRTP_AEAD_AES_256_GCM, "SRTP_AEAD_AES_256_GCM", "SRTP_AEAD_AES_256_GCM", 32, 12},
};

static const struct profile_info *find(rtcsec_srtp_profile p) {
  for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
    if (profiles[i].id == p)
      return &profiles[i];
  }
  return NULL;
}

const char *rtcsec_srtp_profile_name(rtcsec_srtp_profile p) {
  if (p == RTCSEC_SRTP_NONE)
    return "none";
  const struct profile_info *info = find(p);
  return info ? info->rfc_name : "unknown";
}

const rtcsec_srtp_profile rtcsec_srtp_default_profiles[RTCSEC_SRTP_N_DEFAULT_PROFILES] = {
    RTCSEC_SRTP_AEAD_AES_128_GCM, RTCSEC_SRTP_AEAD_AES_256_GCM, RTCSEC_SRTP_AES128_CM_SHA1_80,
    RTCSEC_SRTP_AES128_CM_SHA1_32};

const char *rtcsec_srtp_profile_openssl_name(rtcsec_srtp_profile p) {
  const struct profile_info *info = find(p);
  return info ? info->openssl_name : NULL;
}

size_t rtcsec_srtp_profile_key_len(rtcsec_srtp_profile p) {
  const struct profile_info *info = find(p);
  return info ? info->key_len : 0;
}

size_t rtcsec_srtp_profile_salt_len(rtcsec_srtp_profile p) {
  const struct profile_info *info = find(p);
  return info ? info->salt_len : 0;
}

static int from_name_n(const char *name, size_t n, rtcsec_srtp_profile *out) {
  for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
    const struct profile_info *pi = &profiles[i];
    if ((strlen(pi->rfc_name) == n && strncasecmp(pi->rfc_name, name, n) == 0) ||
        (strlen(pi->openssl_name) == n && strncasecmp(pi->openssl_name, name, n) == 0)) {
      *out = pi->id;
      return RTCSEC_OK;
    }
  }
  return RTCSEC_ERR_PROFILE_NAME;
}

int rtcsec_srtp_profile_from_name(const char *name, rtcsec_srtp_profile *out) {
  if (name == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  return from_name_n(name, strlen(name), out);
}

int rtcsec_srtp_profile_list_parse(const char *list, rtcsec_srtp_profile *out, size_t cap,
                                   size_t *n_out) {
  if (list == NULL || out == NULL || n_out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  size_t n = 0;
  const char *p = list;
  for (;;) {
    size_t len = strcspn(p, ",:");
    while (len > 0 && (*p == ' ' || *p == '\t')) {
      p++;
      len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      len--;
    if (len == 0)
      return RTCSEC_ERR_PARSE;
    rtcsec_srtp_profile prof;
    int rc = from_name_n(p, len, &prof);
    if (rc != RTCSEC_OK)
      return rc;
    for (size_t i = 0; i < n; i++) {
      if (out[i] == prof)
        return RTCSEC_ERR_PARSE;
    }
    if (n == cap)
      return RTCSEC_ERR_LIMIT;
    out[n++] = prof;
    p += strcspn(p, ",:");
    if (*p == '\0')
      break;
    p++;
  }
  *n_out = n;
  return RTCSEC_OK;
}

void rtcsec_srtp_keys_wipe(rtcsec_srtp_keys *keys) {
  if (keys != NULL)
    OPENSSL_cleanse(keys, sizeof(*keys));
}
