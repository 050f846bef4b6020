/* Internal: what other lib/ modules need from the profile table. */
#ifndef RTCSEC_PROFILE_INTERNAL_H
#define RTCSEC_PROFILE_INTERNAL_H

#include "rtcsec/profile.h"

/* OpenSSL's name of a profile, for SSL_set_tlsext_use_srtp(); NULL if unknown. */
const char *rtcsec_srtp_profile_openssl_name(rtcsec_srtp_profile p);

/* The default preference order (RFC 8827: AEAD first): AEAD_AES_128_GCM,
 * AEAD_AES_256_GCM, AES128_CM_SHA1_80, AES128_CM_SHA1_32. */
#define RTCSEC_SRTP_N_DEFAULT_PROFILES 4
extern const rtcsec_srtp_profile rtcsec_srtp_default_profiles[RTCSEC_SRTP_N_DEFAULT_PROFILES];

#endif
