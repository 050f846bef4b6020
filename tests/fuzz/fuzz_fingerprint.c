/* libFuzzer target: RFC 8122 fingerprint parsing (rtcsec_fingerprint_parse).
 *
 * Any bytes: no crash, no read past `size` (ASan: the input is not
 * NUL-terminated), a documented error code or a fingerprint whose digest
 * length fits its hash. On success, formatting and parsing again gives the
 * same fingerprint, and the formatted text is canonical (formatting the
 * re-parsed value gives the same text). Parsing is case-insensitive, so the
 * input with its ASCII letters lower-cased must parse to the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_documented_error(int rc) {
  return rc == RTCSEC_ERR_FINGERPRINT_MALFORMED || rc == RTCSEC_ERR_FINGERPRINT_UNKNOWN_HASH ||
         rc == RTCSEC_ERR_FINGERPRINT_LENGTH || rc == RTCSEC_ERR_INVALID_ARGUMENT;
}

static int parse(rtcsec_fingerprint *fp, const uint8_t *data, size_t size) {
  memset(fp, 0xA5, sizeof(*fp)); /* a failed parse must not matter */
  return rtcsec_fingerprint_parse(fp, (const char *)data, size);
}

static void check_round_trip(const rtcsec_fingerprint *fp) {
  FUZZ_CHECK(rtcsec_hash_len(fp->hash) != 0);
  FUZZ_CHECK(fp->len == rtcsec_hash_len(fp->hash));

  char text[RTCSEC_FINGERPRINT_STRLEN];
  size_t n = 0;
  FUZZ_CHECK(rtcsec_fingerprint_format(fp, text, sizeof(text), &n) == 0);
  FUZZ_CHECK(n == strlen(text));
  /* "name" SP then len hex pairs with len - 1 colons */
  FUZZ_CHECK(n == strlen(rtcsec_hash_name(fp->hash)) + 1 + 3 * fp->len - 1);

  /* Exactly n + 1 bytes suffice, n do not. */
  char *exact = malloc(n + 1);
  FUZZ_CHECK(exact != NULL);
  FUZZ_CHECK(rtcsec_fingerprint_format(fp, exact, n + 1, NULL) == 0);
  FUZZ_CHECK(memcmp(exact, text, n + 1) == 0);
  FUZZ_CHECK(rtcsec_fingerprint_format(fp, exact, n, NULL) == RTCSEC_ERR_BUFFER_TOO_SMALL);
  free(exact);

  rtcsec_fingerprint again;
  FUZZ_CHECK(parse(&again, (const uint8_t *)text, n) == 0);
  FUZZ_CHECK(rtcsec_fingerprint_equal(fp, &again));
  FUZZ_CHECK(again.hash == fp->hash && again.len == fp->len);
  FUZZ_CHECK(memcmp(again.digest, fp->digest, fp->len) == 0);

  char text2[RTCSEC_FINGERPRINT_STRLEN];
  FUZZ_CHECK(rtcsec_fingerprint_format(&again, text2, sizeof(text2), NULL) == 0);
  FUZZ_CHECK(strcmp(text, text2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rtcsec_fingerprint fp;
  int rc = parse(&fp, data, size);
  if (rc == 0)
    check_round_trip(&fp);
  else
    FUZZ_CHECK(is_documented_error(rc));

  /* Case-insensitivity (hash name, hex digits, the optional prefix). */
  uint8_t *lower = malloc(size ? size : 1);
  FUZZ_CHECK(lower != NULL);
  for (size_t i = 0; i < size; i++)
    lower[i] = data[i] >= 'A' && data[i] <= 'Z' ? (uint8_t)(data[i] + 32) : data[i];
  rtcsec_fingerprint fp_lower;
  int rc_lower = parse(&fp_lower, lower, size);
  free(lower);
  FUZZ_CHECK(rc_lower == rc);
  if (rc == 0)
    FUZZ_CHECK(rtcsec_fingerprint_equal(&fp, &fp_lower));
  return 0;
}
