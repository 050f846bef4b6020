/* libFuzzer target: rtcsec-echo's whole-SDP parser, planner and writer
 * (tools/echo/sdp_session.h), which every browser offer and answer that
 * reaches rtcsec-echo's HTTP signalling goes through. The input is one SDP
 * document.
 *
 * Invariants besides no crash, leak or read past len (ASan; the input is
 * not NUL-terminated): echo_sdp_parse() returns 0 or a negative error with a reason;
 * for a document that parses, echo_sdp_transport() returns 0 or
 * RTCSEC_ERR_PARSE, echo_plan_answer() 0 or RTCSEC_ERR_UNSUPPORTED, and
 * when the answer is planned: exactly one accepted section is not
 * bundle_only when the offer has a BUNDLE group (RFC 8843 §7.3.1), the
 * answer is written and parses again with the same number of sections and
 * mids,
 * and each accepted section comes back with a port or as bundle-only, each
 * rejected one with port 0 and without bundle-only (§7.3.3); at most one
 * data-channel section is accepted (RFC 8831 §6.1: one SCTP association),
 * with the peer's sctp-port in 1..65535, and it is written back as a
 * data section with the echo's a=sctp-port and a=max-message-size (RFC
 * 8841 §5, §6); applied as an answer to the echo's own offer, the document
 * gives 0 or RTCSEC_ERR_PARSE, and an accepted data section keeps a port. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sdp_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cands[] = {"candidate:1 1 UDP 2015363583 10.77.0.1 5000 typ host"};

static echo_transport_desc local_transport(void) {
  echo_transport_desc t;
  memset(&t, 0, sizeof(t));
  memcpy(t.ice.ufrag, "fuzz", 5);
  memcpy(t.ice.pwd, "0123456789abcdefghijkl", 23);
  t.fingerprint = fuzz_fp(FUZZ_CERT_SERVER);
  t.setup = RTCSEC_SDP_SETUP_ACTIVE;
  return t;
}

static void check_answer(const echo_sdp *offer, const echo_plan *plan) {
  size_t tagged = 0, data = 0;
  for (size_t i = 0; i < plan->n_media; i++) {
    tagged += plan->m[i].accepted && !plan->m[i].bundle_only;
    if (plan->m[i].accepted && plan->m[i].kind == ECHO_KIND_DATA) {
      data++;
      FUZZ_CHECK(plan->m[i].remote_sctp_port != 0);
      FUZZ_CHECK(offer->s[i].kind == ECHO_KIND_DATA);
    }
  }
  FUZZ_CHECK(data <= 1);
  if (offer->n_bundle > 0)
    FUZZ_CHECK(tagged == 1);
  echo_transport_desc local = local_transport();
  char *buf = malloc(ECHO_SDP_MAX_LEN);
  echo_sdp *again = malloc(sizeof(*again));
  FUZZ_CHECK(buf != NULL && again != NULL);
  size_t len = 0;
  int rc = echo_sdp_write(plan, &local, cands, 1, 1, buf, ECHO_SDP_MAX_LEN, &len);
  FUZZ_CHECK(rc == 0);
  {
    char err[256];
    rc = echo_sdp_parse(again, buf, len, err, sizeof(err));
    if (rc != 0) /* the reason and the document, for the crash report */
      fprintf(stderr, "the answer does not parse again: %s\n%.*s\n", err, (int)len, buf);
    FUZZ_CHECK(rc == 0);
    {
      FUZZ_CHECK(again->n_sections == plan->n_media);
      for (size_t i = 0; i < plan->n_media; i++) {
        const echo_section *s = &again->s[i];
        FUZZ_CHECK(strcmp(s->mid, plan->m[i].mid) == 0);
        if (plan->m[i].accepted && plan->m[i].kind == ECHO_KIND_DATA)
          FUZZ_CHECK(s->kind == ECHO_KIND_DATA && s->sctp_port == ECHO_SCTP_PORT &&
                     s->max_message_size == ECHO_MAX_MESSAGE_SIZE);
        if (plan->m[i].accepted && plan->m[i].bundle_only)
          FUZZ_CHECK(s->port == 0 && s->bundle_only);
        else if (plan->m[i].accepted)
          FUZZ_CHECK(s->port != 0 && !s->bundle_only);
        else
          FUZZ_CHECK(s->port == 0 && !s->bundle_only);
      }
    }
  }
  free(again);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = malloc(size ? size : 1);
  echo_sdp *sdp = malloc(sizeof(*sdp));
  echo_plan *plan = malloc(sizeof(*plan));
  FUZZ_CHECK(copy != NULL && sdp != NULL && plan != NULL);
  memcpy(copy, data, size);
  char err[256] = "";
  int rc = echo_sdp_parse(sdp, copy, size, err, sizeof(err));
  /* Every refusal is a negative rtcsec error with a reason. */
  FUZZ_CHECK(rc == 0 || (rc < 0 && (rc == RTCSEC_ERR_NO_MEMORY || err[0] != '\0')));
  if (rc == 0) {
    echo_transport_desc td;
    rc = echo_sdp_transport(sdp, &td, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_PARSE);
    static const echo_local_ids ids = {1111, 2222, "rtcsec-echo-fuzz", "rtcsec-echo"};
    rc = echo_plan_answer(plan, sdp, &ids, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_UNSUPPORTED);
    if (rc == 0)
      check_answer(sdp, plan);
    /* The same document as a browser's answer to the echo's own offer. */
    echo_plan_offer(plan, &ids);
    rc = echo_plan_apply_answer(plan, sdp, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == RTCSEC_ERR_PARSE);
    for (size_t i = 0; rc == 0 && i < plan->n_media; i++)
      if (plan->m[i].accepted && plan->m[i].kind == ECHO_KIND_DATA)
        FUZZ_CHECK(plan->m[i].remote_sctp_port != 0 && sdp->s[i].kind == ECHO_KIND_DATA);
  }
  free(plan);
  free(sdp);
  free(copy);
  return 0;
}
