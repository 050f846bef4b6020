/* The test binary's own gettimeofday().
 *
 * OpenSSL 3.0 reads gettimeofday() for its DTLS retransmission timer (the
 * only clock it reads during a handshake). A definition in the executable
 * takes precedence over libc's for every shared object in the process, so
 * linking this file into a test makes OpenSSL's timer follow the test's
 * fake clock, and a handshake under loss replays exactly from its seed.
 * Until fakeclock_set() is first called the real clock is used. The library
 * itself never does this: it maps OpenSSL's remaining time onto the
 * caller's clock (lib/dtls.c, update_deadline). */
#include "fakeclock.h"

#include <stddef.h>
#include <sys/time.h>
#include <time.h>

static int fake_on;
static uint64_t fake_now_us;

/* An arbitrary fixed wall-clock epoch: 2023-11-14T22:13:20Z. */
#define FAKE_EPOCH_S 1700000000u

void fakeclock_set(uint64_t now_us) {
  fake_on = 1;
  fake_now_us = now_us;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  (void)tz; /* glibc declares tv nonnull */
  if (!fake_on) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
  }
  tv->tv_sec = (time_t)(FAKE_EPOCH_S + fake_now_us / 1000000u);
  tv->tv_usec = (suseconds_t)(fake_now_us % 1000000u);
  return 0;
}
