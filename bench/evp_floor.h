/* The EVP floor of SRTP (bench/evp_srtp.c, checked byte for byte against
 * libsrtp2 first) as a server meets it: packets from many streams, each
 * unprotected and protected again under keys of their own. Shared by
 * rtcsec-sfu-load and rtcsec-bench's router figure. */
#ifndef RTCSEC_BENCH_EVP_FLOOR_H
#define RTCSEC_BENCH_EVP_FLOOR_H

#include <stddef.h>

#include "rtcsec/profile.h"

/* CPU time in ns of one EVP unprotect plus the EVP protects of an RTP
 * packet with a `payload`-byte payload under profile p, on the calling
 * thread (the fastest of 5 rounds of at least 50 ms each). The packets come
 * from n_in streams in turn, each with its own key, and are protected
 * again either under their stream's own outbound session (n_out == n_in:
 * an echo) or under each of n_out sessions (n_in == 1: a forwarder). With
 * n_in == n_out == 1 every key stays in the cache: the floor of the
 * transforms; with n_in the number of live sessions, what any
 * implementation pays to fetch that many sessions' keys. -1 if the EVP
 * transforms do not reproduce libsrtp2's bytes, for bad counts, or if
 * anything fails. */
double evp_floor_ns(rtcsec_srtp_profile p, size_t payload, unsigned n_in, unsigned n_out);

#endif
