/* Remote candidate lines: checked with the core's SDP helper
 * (rtcsec_sdp_candidate_parse, RFC 8839 §5.1) before anything reaches
 * libnice, then narrowed to what this agent can use.
 *
 * libnice's own parser (nice_agent_parse_remote_candidate_sdp) is lenient:
 * it reads numbers with strtoul and truncates them, and accepts fields it
 * cannot use. It only ever sees a line rebuilt here from checked fields,
 * in its spelling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtcsec/error.h"
#include "rtcsec/ice.h"
#include "rtcsec/sdp.h"

#include "ice_internal.h"

int rtcsec_ice_candidate_check(const char *line, rtcsec_ice_candidate_line *out) {
  if (line == NULL || out == NULL)
    return RTCSEC_ERR_INVALID_ARGUMENT;
  /* strnlen: never read past the limit the parser would refuse anyway. */
  size_t len = strnlen(line, RTCSEC_ICE_MAX_CANDIDATE_LINE + 1);
  rtcsec_candidate *c = calloc(1, sizeof(*c)); /* about 6 KB */
  if (c == NULL)
    return RTCSEC_ERR_NO_MEMORY;
  int rc = rtcsec_sdp_candidate_parse(c, line, len);
  if (rc == RTCSEC_OK) {
    /* One component (BUNDLE + rtcp-mux, RFC 5761), UDP only (this agent
     * gathers no TCP candidates, RFC 6544), and addresses only: no name
     * resolution here, mDNS ".local" names included. */
    if (c->component != 1 || c->transport != RTCSEC_CANDIDATE_UDP ||
        c->addr.type == RTCSEC_CANDIDATE_ADDR_FQDN)
      rc = RTCSEC_ERR_UNSUPPORTED;
    else if (c->addr.port == 0)
      rc = RTCSEC_ERR_PARSE; /* no UDP destination */
  }
  if (rc == RTCSEC_OK) {
    int n;
    if (c->has_related && c->related.type != RTCSEC_CANDIDATE_ADDR_FQDN)
      n = snprintf(out->nice_sdp, sizeof(out->nice_sdp),
                   "a=candidate:%s 1 UDP %u %s %u typ %s raddr %s rport %u", c->foundation,
                   (unsigned)c->priority, c->addr.host, (unsigned)c->addr.port,
                   rtcsec_candidate_type_name(c->type), c->related.host, (unsigned)c->related.port);
    else
      n = snprintf(out->nice_sdp, sizeof(out->nice_sdp), "a=candidate:%s 1 UDP %u %s %u typ %s",
                   c->foundation, (unsigned)c->priority, c->addr.host, (unsigned)c->addr.port,
                   rtcsec_candidate_type_name(c->type));
    if (n < 0 || (size_t)n >= sizeof(out->nice_sdp))
      rc = RTCSEC_ERR_TOO_LARGE;
    out->port = c->addr.port;
    out->type = (int)c->type;
  }
  free(c);
  return rc;
}
