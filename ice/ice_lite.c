/* The ICE-lite responder: see ice_lite.h. */
#include "ice_lite.h"

#include <string.h>

#include "rtcsec/error.h"

int rtcsec_ice_lite_parse(rtcsec_ice_lite_check *c, const uint8_t *buf, size_t len) {
  memset(c, 0, sizeof(*c));
  int rc = rtcsec_stun_parse(&c->msg, buf, len);
  if (rc == RTCSEC_ERR_STUN_FINGERPRINT)
    return rc;
  if (rc != RTCSEC_OK)
    return RTCSEC_ERR_STUN_MALFORMED; /* RFC 8489 §6.3: discarded */
  const rtcsec_stun_msg *m = &c->msg;
  /* Indications (RFC 8445 §11 keepalives) need no answer; a lite agent
   * sends no requests, so any response is unsolicited. */
  if (m->cls != RTCSEC_STUN_REQUEST || m->method != RTCSEC_STUN_BINDING)
    return RTCSEC_ERR_STUN_IGNORED;
  /* RFC 8445 §7.2.2: connectivity checks carry FINGERPRINT. */
  if (!(m->present & RTCSEC_STUN_HAS_FINGERPRINT))
    return RTCSEC_ERR_STUN_FINGERPRINT;
  /* RFC 8489 §9.1.3: no MESSAGE-INTEGRITY or no USERNAME: 400. */
  if (!(m->present & RTCSEC_STUN_HAS_INTEGRITY) || !(m->present & RTCSEC_STUN_HAS_USERNAME))
    return RTCSEC_ERR_STUN_BAD_REQUEST;
  const uint8_t *colon = memchr(m->username, ':', m->username_len);
  if (colon == NULL || colon == m->username)
    return RTCSEC_ERR_STUN_UNKNOWN_USER;
  c->local_ufrag = m->username;
  c->local_ufrag_len = (size_t)(colon - m->username);
  c->remote_ufrag = colon + 1;
  c->remote_ufrag_len = m->username_len - c->local_ufrag_len - 1;
  c->use_candidate = (m->present & RTCSEC_STUN_HAS_USE_CANDIDATE) != 0;
  return RTCSEC_OK;
}

int rtcsec_ice_lite_verify(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key,
                           const char *remote_ufrag, size_t remote_ufrag_len) {
  if (remote_ufrag != NULL && (c->remote_ufrag_len != remote_ufrag_len ||
                               memcmp(c->remote_ufrag, remote_ufrag, remote_ufrag_len) != 0))
    return RTCSEC_ERR_STUN_UNKNOWN_USER;
  /* RFC 8489 §9.1.3: HMAC keyed by the local password (short-term
   * credentials, RFC 8445 §7.2.2); compared in constant time. */
  int rc = rtcsec_stun_check_integrity_key(&c->msg, key);
  if (rc != RTCSEC_OK)
    return rc == RTCSEC_ERR_STUN_INTEGRITY ? rc : RTCSEC_ERR_STUN_INTEGRITY;
  if (c->msg.n_unknown > 0)
    return RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE;
  int controlling = (c->msg.present & RTCSEC_STUN_HAS_ICE_CONTROLLING) != 0;
  int controlled = (c->msg.present & RTCSEC_STUN_HAS_ICE_CONTROLLED) != 0;
  if (controlling && controlled)
    return RTCSEC_ERR_STUN_BAD_REQUEST;
  /* RFC 8445 §7.3.1.1: we are controlled and so is the peer. A lite agent
   * never takes the controlling role (§6.1.1), so it answers 487 whatever
   * the tie-breakers, and keeps its role. */
  if (controlled)
    return RTCSEC_ERR_STUN_ROLE_CONFLICT;
  return RTCSEC_OK;
}

int rtcsec_ice_lite_error_code(int error) {
  switch (error) {
  case RTCSEC_ERR_STUN_BAD_REQUEST:
    return RTCSEC_STUN_ERR_BAD_REQUEST;
  case RTCSEC_ERR_STUN_UNKNOWN_USER:
  case RTCSEC_ERR_STUN_INTEGRITY:
    return RTCSEC_STUN_ERR_UNAUTHENTICATED;
  case RTCSEC_ERR_STUN_UNKNOWN_ATTRIBUTE:
    return RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE;
  case RTCSEC_ERR_STUN_ROLE_CONFLICT:
    return RTCSEC_STUN_ERR_ROLE_CONFLICT;
  default:
    return 0;
  }
}

static const char *reason_of(int code) {
  switch (code) {
  case RTCSEC_STUN_ERR_BAD_REQUEST:
    return "Bad Request";
  case RTCSEC_STUN_ERR_UNAUTHENTICATED:
    return "Unauthenticated";
  case RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE:
    return "Unknown Attribute";
  case RTCSEC_STUN_ERR_ROLE_CONFLICT:
    return "Role Conflict";
  default:
    return NULL;
  }
}

int rtcsec_ice_lite_success(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key,
                            const struct sockaddr *mapped, socklen_t mapped_len, uint8_t *out,
                            size_t cap, size_t *out_len) {
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_SUCCESS, c->msg.tid);
  rtcsec_stun_add_xor_address(&b, RTCSEC_STUN_ATTR_XOR_MAPPED_ADDRESS, mapped, mapped_len);
  rtcsec_stun_add_integrity_key(&b, key);
  rtcsec_stun_add_fingerprint(&b);
  return rtcsec_stun_builder_finish(&b, out_len);
}

int rtcsec_ice_lite_error(const rtcsec_ice_lite_check *c, rtcsec_stun_key *key, int code,
                          uint8_t *out, size_t cap, size_t *out_len) {
  rtcsec_stun_builder b;
  rtcsec_stun_builder_init(&b, out, cap, RTCSEC_STUN_BINDING, RTCSEC_STUN_ERROR, c->msg.tid);
  rtcsec_stun_add_error_code(&b, code, reason_of(code));
  if (code == RTCSEC_STUN_ERR_UNKNOWN_ATTRIBUTE) {
    size_t n =
        c->msg.n_unknown < RTCSEC_STUN_MAX_UNKNOWN ? c->msg.n_unknown : RTCSEC_STUN_MAX_UNKNOWN;
    rtcsec_stun_add_unknown_attributes(&b, c->msg.unknown, n);
  }
  if (key != NULL)
    rtcsec_stun_add_integrity_key(&b, key);
  rtcsec_stun_add_fingerprint(&b);
  return rtcsec_stun_builder_finish(&b, out_len);
}
