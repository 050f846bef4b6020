/* Internal: the ICE-lite responder (RFC 8445 §2.5, §7.3): what a Binding
 * request says and whether it is genuine for a session, and the answers to
 * it. No state of its own: the router (router.c) decides what a genuine
 * check does. Not installed. */
#ifndef RTCSEC_ICE_LITE_H
#define RTCSEC_ICE_LITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rtcsec/stun.h"

typedef struct rtcsec_ice_lite_check {
  rtcsec_stun_msg msg;
  /* RFC 8445 §7.2.2: USERNAME = "<receiver's ufrag>:<sender's ufrag>" */
  const uint8_t *local_ufrag;
  size_t local_ufrag_len;
  const uint8_t *remote_ufrag;
  size_t remote_ufrag_len;
  int use_candidate; /* USE-CANDIDATE: nominates the pair (RFC 8445 §7.3.1.5) */
} rtcsec_ice_lite_check;

/* Step 1, before any session is known: a Binding request with FINGERPRINT
 * (RFC 8445 §7.2.2), USERNAME and MESSAGE-INTEGRITY (RFC 8489 §9.1.3).
 * Returns 0, or
 *   RTCSEC_ERR_STUN_MALFORMED      not a well-formed STUN message;
 *   RTCSEC_ERR_STUN_FINGERPRINT    FINGERPRINT missing or wrong;
 *   RTCSEC_ERR_STUN_IGNORED        not a Binding request (indication,
 *                                  response, other method);
 *   RTCSEC_ERR_STUN_BAD_REQUEST    no USERNAME or MESSAGE-INTEGRITY (an
 *                                  unauthenticated 400 may be sent);
 *   RTCSEC_ERR_STUN_UNKNOWN_USER   USERNAME has no "local:" part. */
int rtcsec_ice_lite_parse(rtcsec_ice_lite_check *c, const uint8_t *buf, size_t len);

/* Step 2, for the session whose local ufrag matched: the remote ufrag
 * (when the session knows it, USERNAME must be exactly local:remote),
 * MESSAGE-INTEGRITY with the session's key (constant-time), then what an
 * authenticated request may still be refused for. Returns 0, or
 *   RTCSEC_ERR_STUN_UNKNOWN_USER       the remote ufrag differs;
 *   RTCSEC_ERR_STUN_INTEGRITY          MESSAGE-INTEGRITY wrong;
 *   -- authenticated from here: answer with rtcsec_ice_lite_error() --
 *   RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE  comprehension-required attributes we
 *                                      do not know (420, RFC 8489 §6.3.1);
 *   RTCSEC_ERR_STUN_BAD_REQUEST        both ICE-CONTROLLING and -CONTROLLED;
 *   RTCSEC_ERR_STUN_ROLE_CONFLICT      ICE-CONTROLLED: a lite agent is
 *                                      always controlled (RFC 8445 §6.1.1),
 *                                      so it answers 487 (§7.3.1.1). */
int rtcsec_ice_lite_verify(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key,
                           const char *remote_ufrag, size_t remote_ufrag_len);

/* The STUN error code that answers an error of step 2 (or of step 1 for
 * unauthenticated answers); 0 for errors that get no answer. */
int rtcsec_ice_lite_error_code(int error);

/* The success response (RFC 8445 §7.3.1.2, RFC 8489 §6.3.1.1):
 * XOR-MAPPED-ADDRESS = the request's source, MESSAGE-INTEGRITY with the
 * session's key, FINGERPRINT. 192 bytes always suffice. */
int rtcsec_ice_lite_success(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key,
                            const struct sockaddr *mapped, socklen_t mapped_len, uint8_t *out,
                            size_t cap, size_t *out_len);

/* An error response with `code` (RFC 8489 §6.3.4): with MESSAGE-INTEGRITY
 * when key is not NULL (the request was authenticated), UNKNOWN-ATTRIBUTES
 * for 420, FINGERPRINT. 192 bytes always suffice. */
int rtcsec_ice_lite_error(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key, int code,
                          uint8_t *out, size_t cap, size_t *out_len);

#endif
