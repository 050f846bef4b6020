/* rtcsec: symbol visibility. The libraries are built with hidden visibility;
 * only declarations marked RTCSEC_API are exported. */
#ifndef RTCSEC_EXPORT_H
#define RTCSEC_EXPORT_H

#if defined(RTCSEC_BUILDING) && defined(__GNUC__)
#define RTCSEC_API __attribute__((visibility("default")))
#else
#define RTCSEC_API
#endif

#endif
