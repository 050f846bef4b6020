/* Internal to librtcsec-ice; never installed. */
#ifndef RTCSEC_ICE_INTERNAL_H
#define RTCSEC_ICE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/ice.h"

/* What the checker learned from a remote candidate line. */
typedef struct rtcsec_ice_candidate_line {
  /* "a=candidate:F 1 UDP P ADDR PORT typ T [raddr A rport R]" with a NUL:
   * the fields libnice reads, in its spelling; extensions are dropped. */
  char nice_sdp[RTCSEC_ICE_MAX_CANDIDATE_LINE + 16];
  uint16_t port;
  int type; /* 0 host, 1 srflx, 2 prflx, 3 relay */
} rtcsec_ice_candidate_line;

/* Validates one remote candidate line with rtcsec_sdp_candidate_parse()
 * (the rules of rtcsec/sdp.h: RFC 8839 §5.1 grammar, optional "a=",
 * trailing CR/LF/SP/HTAB ignored) and keeps only what this agent can use:
 * UDP, component 1, numeric IPv4/IPv6 address, port 1..65535. Errors as
 * rtcsec_ice_add_remote_candidate(). */
int rtcsec_ice_candidate_check(const char *line, rtcsec_ice_candidate_line *out);

/* Test hook: the agent stops answering and sending anything (its sockets
 * are closed, without a DTLS close_notify), as if its process had died.
 * Only rtcsec_ice_agent_free() may follow. */
void rtcsec_ice_test_vanish(rtcsec_ice_agent *a);

/* Test hook: while set (> 0), every remote candidate waits that many
 * microseconds between the generation check and the hand-over to libnice,
 * so a test can put an ICE restart in that window. Process-wide; 0 (the
 * default) costs nothing. */
void rtcsec_ice_test_set_candidate_pause(unsigned long us);
void rtcsec_ice_test_candidate_pause(void);

/* Test hook: the next candidate handed to libnice is treated as refused by
 * it (libnice 0.1.21 takes every candidate this agent's checker passes, so
 * a refusal cannot be provoked from outside). Process-wide, once. */
void rtcsec_ice_test_refuse_next_candidate(void);
int rtcsec_ice_test_take_refusal(void);

/* Test hook: revokes this side's consent to receive (RFC 7675 §5.2): the
 * peer's consent checks get 403 until an ICE restart. */
void rtcsec_ice_test_revoke_consent(rtcsec_ice_agent *a);

#endif
