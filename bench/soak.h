/* rtcsec-soak: shared helpers of the soak modes. */
#ifndef RTCSEC_SOAK_H
#define RTCSEC_SOAK_H

#include <stdint.h>

#include "rtcsec/rtcsec.h"

/* Monotonic clock in microseconds. */
uint64_t soak_now_us(void);
/* Resident set size of this process in KiB, -1 if unknown. */
long soak_rss_kib(void);
/* N calls over loopback ICE for `duration` seconds at `rate` packets per
 * second each way (bench/soak_ice.c). Returns the exit status. */
int soak_ice(long n, double duration, long rate, rtcsec_cert *certs[2],
             const rtcsec_fingerprint fps[2]);

#endif
