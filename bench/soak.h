/* rtcsec-soak's ICE mode (bench/soak_ice.c), called by rtcsec-soak.c;
 * the clock and RSS reader both use come from tools/util.h. */
#ifndef RTCSEC_SOAK_H
#define RTCSEC_SOAK_H

#include <stdint.h>

#include "rtcsec/rtcsec.h"

/* N calls over loopback ICE for `duration` seconds at `rate` packets per
 * second each way (bench/soak_ice.c). Returns the exit status. */
int soak_ice(long n, double duration, long rate, rtcsec_cert *certs[2],
             const rtcsec_fingerprint fps[2]);

#endif
