/* libFuzzer target: the SDP attribute parsers of rtcsec/sdp.h (candidate,
 * ice-ufrag, ice-pwd, ice-options, fingerprint, setup, and the attribute
 * classifier). The input is one attribute line; every parser gets it.
 *
 * Invariants, all from the contract in sdp.h: no read past len (ASan; the
 * input is not NUL-terminated); a documented error or success; the output is
 * written only on success; len > RTCSEC_SDP_MAX_LINE is RTCSEC_ERR_TOO_LARGE;
 * the result is the same with "\r\n" appended (trailing line-end characters
 * are ignored) and with "a=" prepended (the prefix is optional); a parser
 * that accepts the line agrees with rtcsec_sdp_attr_identify about what it
 * is; formatting what was parsed and parsing that again gives the same value
 * (a candidate compares equal with memcmp, as the header promises), and the
 * formatted text is itself canonical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILL 0xA5

/* ---- running one parser --------------------------------------------------- */

typedef enum which {
  P_IDENTIFY,
  P_UFRAG,
  P_PWD,
  P_OPTIONS,
  P_CANDIDATE,
  P_FINGERPRINT,
  P_SETUP,
  P_COUNT,
} which;

/* Every parser's output, pre-filled so that "written only on success" can
 * be checked. The candidate is ~5.5 KB: static. */
typedef union output {
  rtcsec_sdp_attr attr;
  rtcsec_sdp_ice_credentials creds;
  rtcsec_sdp_ice_options opts;
  rtcsec_candidate cand;
  rtcsec_fingerprint fp;
  rtcsec_sdp_setup setup;
} output;

static size_t out_size(which w) {
  switch (w) {
  case P_IDENTIFY:
    return sizeof(rtcsec_sdp_attr);
  case P_UFRAG:
  case P_PWD:
    return sizeof(rtcsec_sdp_ice_credentials);
  case P_OPTIONS:
    return sizeof(rtcsec_sdp_ice_options);
  case P_CANDIDATE:
    return sizeof(rtcsec_candidate);
  case P_FINGERPRINT:
    return sizeof(rtcsec_fingerprint);
  case P_SETUP:
  default:
    return sizeof(rtcsec_sdp_setup);
  }
}

/* Runs parser w on an exact-size heap copy of s (ASan sees any read past
 * it). On success *o holds the result; on failure *o must be untouched. */
static int run(which w, const char *s, size_t len, output *o) {
  char *copy = malloc(len ? len : 1);
  FUZZ_CHECK(copy != NULL);
  memcpy(copy, s, len);
  memset(o, FILL, sizeof(*o));
  int rc;
  switch (w) {
  case P_IDENTIFY:
    rc = rtcsec_sdp_attr_identify(&o->attr, copy, len);
    break;
  case P_UFRAG:
    rc = rtcsec_sdp_ice_ufrag_parse(&o->creds, copy, len);
    break;
  case P_PWD:
    rc = rtcsec_sdp_ice_pwd_parse(&o->creds, copy, len);
    break;
  case P_OPTIONS:
    rc = rtcsec_sdp_ice_options_parse(&o->opts, copy, len);
    break;
  case P_CANDIDATE:
    rc = rtcsec_sdp_candidate_parse(&o->cand, copy, len);
    break;
  case P_FINGERPRINT:
    rc = rtcsec_sdp_fingerprint_parse(&o->fp, copy, len);
    break;
  case P_SETUP:
  default:
    rc = rtcsec_sdp_setup_parse(&o->setup, copy, len);
    break;
  }
  free(copy);
  if (rc != 0) {
    const uint8_t *b = (const uint8_t *)o;
    for (size_t i = 0; i < out_size(w); i++)
      FUZZ_CHECK(b[i] == FILL); /* sdp.h: "written only on success" */
  }
  return rc;
}

/* The part of the output a parser owns (ufrag leaves pwd alone, pwd leaves
 * ufrag alone), for comparing two results. */
static int same_output(which w, const output *a, const output *b) {
  switch (w) {
  case P_UFRAG:
    return strcmp(a->creds.ufrag, b->creds.ufrag) == 0;
  case P_PWD:
    return strcmp(a->creds.pwd, b->creds.pwd) == 0;
  case P_FINGERPRINT:
    return rtcsec_fingerprint_equal(&a->fp, &b->fp);
  default:
    return memcmp(a, b, out_size(w)) == 0;
  }
}

static int documented(which w, int rc) {
  if (rc == RTCSEC_ERR_TOO_LARGE || rc == RTCSEC_ERR_PARSE)
    return 1;
  if (w == P_CANDIDATE)
    return rc == RTCSEC_ERR_UNSUPPORTED || rc == RTCSEC_ERR_LIMIT;
  if (w == P_FINGERPRINT)
    return rc == RTCSEC_ERR_FINGERPRINT_MALFORMED || rc == RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH ||
           rc == RTCSEC_ERR_FINGERPRINT_LENGTH;
  return 0;
}

/* ---- format, then parse again ---------------------------------------------- */

/* Runs the formatter of w. SIZE_MAX as *len_out when there is nothing to
 * format (ice-options with only unknown tags, which it cannot write). */
static int format_into(which w, const output *o, char *buf, size_t cap, size_t *n) {
  switch (w) {
  case P_UFRAG:
    return rtcsec_sdp_ice_ufrag_format(&o->creds, buf, cap, n);
  case P_PWD:
    return rtcsec_sdp_ice_pwd_format(&o->creds, buf, cap, n);
  case P_OPTIONS:
    return rtcsec_sdp_ice_options_format(&o->opts, buf, cap, n);
  case P_CANDIDATE:
    return rtcsec_sdp_candidate_format(&o->cand, buf, cap, n);
  case P_FINGERPRINT:
    return rtcsec_sdp_fingerprint_format(&o->fp, buf, cap, n);
  case P_SETUP:
  default:
    return rtcsec_sdp_setup_format(o->setup, buf, cap, n);
  }
}

static void check_round_trip(which w, const output *parsed) {
  if (w == P_OPTIONS && !parsed->opts.trickle && !parsed->opts.ice2)
    return; /* only unknown tags: nothing the formatter can write */
  static char text[RTCSEC_SDP_MAX_LINE + 64], text2[RTCSEC_SDP_MAX_LINE + 64];
  size_t n = 0;
  int rc = format_into(w, parsed, text, sizeof(text), &n);
  /* The parser takes up to RTCSEC_SDP_MAX_LINE characters without "a=" and
   * a line end; the formatter leaves room for them (MAX_LINE - 4): a
   * candidate of 1021..1024 characters parses but does not format. */
  if (w == P_CANDIDATE && rc == RTCSEC_ERR_TOO_LARGE)
    return;
  FUZZ_CHECK(rc == 0);
  FUZZ_CHECK(n == strlen(text) && n <= RTCSEC_SDP_MAX_LINE - 4);

  /* One byte short: BUFFER_TOO_SMALL with the length, and nothing written. */
  static char small[RTCSEC_SDP_MAX_LINE + 64];
  memset(small, 'Z', sizeof(small));
  size_t need = 0;
  FUZZ_CHECK(format_into(w, parsed, small, n, &need) == RTCSEC_ERR_BUFFER_TOO_SMALL);
  FUZZ_CHECK(need == n);
  for (size_t i = 0; i < sizeof(small); i++)
    FUZZ_CHECK(small[i] == 'Z');

  static output again;
  FUZZ_CHECK(run(w, text, n, &again) == 0);
  if (w == P_OPTIONS) {
    FUZZ_CHECK(again.opts.trickle == parsed->opts.trickle && again.opts.ice2 == parsed->opts.ice2);
    FUZZ_CHECK(again.opts.n_unknown == 0);
  } else {
    FUZZ_CHECK(same_output(w, parsed, &again));
  }
  /* Canonical: formatting the re-parsed value gives the same text. */
  size_t n2 = 0;
  FUZZ_CHECK(format_into(w, &again, text2, sizeof(text2), &n2) == 0);
  FUZZ_CHECK(n2 == n && memcmp(text, text2, n + 1) == 0);
}

/* ---- the target ----------------------------------------------------------------- */

static const rtcsec_sdp_attr kind_of[P_COUNT] = {
    [P_UFRAG] = RTCSEC_SDP_ATTR_ICE_UFRAG,         [P_PWD] = RTCSEC_SDP_ATTR_ICE_PWD,
    [P_OPTIONS] = RTCSEC_SDP_ATTR_ICE_OPTIONS,     [P_CANDIDATE] = RTCSEC_SDP_ATTR_CANDIDATE,
    [P_FINGERPRINT] = RTCSEC_SDP_ATTR_FINGERPRINT, [P_SETUP] = RTCSEC_SDP_ATTR_SETUP,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > RTCSEC_SDP_MAX_LINE + 16)
    return 0; /* the length rule is checked just past the limit; more adds nothing */
  const char *s = (const char *)data;
  static output res[P_COUNT], alt;
  int rc[P_COUNT];
  static char line[RTCSEC_SDP_MAX_LINE + 32];

  for (int w = 0; w < P_COUNT; w++) {
    rc[w] = run((which)w, s, size, &res[w]);
    if (size > RTCSEC_SDP_MAX_LINE) {
      FUZZ_CHECK(rc[w] == RTCSEC_ERR_TOO_LARGE);
      continue;
    }
    FUZZ_CHECK(rc[w] == 0 || documented((which)w, rc[w]));

    /* Trailing CR LF ignored. */
    if (size + 2 <= RTCSEC_SDP_MAX_LINE) {
      memcpy(line, s, size);
      memcpy(line + size, "\r\n", 2);
      FUZZ_CHECK(run((which)w, line, size + 2, &alt) == rc[w]);
      if (rc[w] == 0)
        FUZZ_CHECK(same_output((which)w, &res[w], &alt));
    }
    /* "a=" optional (when the line does not already start with it). */
    if (size + 2 <= RTCSEC_SDP_MAX_LINE && !(size >= 2 && s[1] == '=')) {
      memcpy(line, "a=", 2);
      memcpy(line + 2, s, size);
      FUZZ_CHECK(run((which)w, line, size + 2, &alt) == rc[w]);
      if (rc[w] == 0)
        FUZZ_CHECK(same_output((which)w, &res[w], &alt));
    }
  }
  if (size > RTCSEC_SDP_MAX_LINE)
    return 0;

  for (int w = P_UFRAG; w < P_COUNT; w++) {
    /* A parser that takes the line agrees with the classifier. */
    if (rc[w] == 0 || (w == P_CANDIDATE && rc[w] == RTCSEC_ERR_UNSUPPORTED))
      FUZZ_CHECK(rc[P_IDENTIFY] == 0 && res[P_IDENTIFY].attr == kind_of[w]);
    if (rc[w] == 0)
      check_round_trip((which)w, &res[w]);
  }
  return 0;
}
