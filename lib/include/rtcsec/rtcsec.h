/* rtcsec: WebRTC media security (DTLS-SRTP) for programs that are not
 * browsers. This umbrella header includes the DTLS core (layer 1, lib/);
 * the layers above have their own headers: rtcsec/srtp.h and
 * rtcsec/transport.h (the SRTP bridge), rtcsec/stun.h, rtcsec/router.h,
 * rtcsec/udp_mux.h and rtcsec/ice.h (ICE), rtcsec/datachannel.h. */
#ifndef RTCSEC_H
#define RTCSEC_H

#include "rtcsec/cert.h"
#include "rtcsec/demux.h"
#include "rtcsec/dtls.h"
#include "rtcsec/error.h"
#include "rtcsec/event.h"
#include "rtcsec/export.h"
#include "rtcsec/profile.h"
#include "rtcsec/sdp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RTCSEC_VERSION_STRING "0.1.0"

/* Library version, e.g. "0.1.0". */
RTCSEC_API const char *rtcsec_version(void);

/* One-time library initialisation (OpenSSL). Idempotent and thread-safe;
 * every constructor calls it, so calling it is optional. Returns 0 or
 * RTCSEC_ERR_CRYPTO. */
RTCSEC_API int rtcsec_init(void);

#ifdef __cplusplus
}
#endif
#endif
