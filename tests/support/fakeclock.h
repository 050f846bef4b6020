/* Fake clock for deterministic DTLS tests. */
#ifndef RTCSEC_TEST_FAKECLOCK_H
#define RTCSEC_TEST_FAKECLOCK_H

#include <stdint.h>

/* From now on gettimeofday() in this process returns a fixed epoch plus
 * now_us; OpenSSL's DTLS timer reads exactly that. */
void fakeclock_set(uint64_t now_us);

#endif
