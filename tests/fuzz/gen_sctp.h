/* gen_corpus.c's part for fuzz_sctp (gen_sctp.c). */
#ifndef RTCSEC_GEN_SCTP_H
#define RTCSEC_GEN_SCTP_H

#include <stddef.h>

typedef void (*gen_write_fn)(const char *target, const char *name, const void *data, size_t len);
typedef void (*gen_expect_fn)(int ok, const char *fmt, ...);

/* Writes tests/fuzz/corpus/sctp/ through write; each seed replayed must
 * give what its recording gave (expect() otherwise). */
void sctp_seeds(gen_write_fn write, gen_expect_fn expect);

#endif
