/* usrsctp's random bytes, made replayable (fuzz_sctp and gen_corpus only).
 *
 * usrsctp 0.9.5.0 reads its randomness with syscall(SYS_getrandom, ...)
 * (user_environment.c, read_random) when an endpoint is created: its
 * verification tags, initial TSNs and cookie secret come from there. A
 * syscall() defined in the executable takes precedence over glibc's for
 * libusrsctp.so too (as the fake clock does for gettimeofday), so here it
 * answers getrandom from a fixed splitmix64 stream and passes every other
 * system call on. Test code only: never linked into a library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz_sctp_common.h"

#define STREAM_SEED UINT64_C(0x5C7B0D15EA5E)

static uint64_t stream = STREAM_SEED;

void fz_sctp_random_reset(void) { stream = STREAM_SEED; }

static uint64_t next(void) {
  uint64_t z = (stream += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

long syscall(long number, ...) {
  /* The six argument registers of the x86-64 / aarch64 system call ABI;
   * the ones a call did not pass are read but not used. */
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; i++)
    a[i] = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_getrandom) {
    uint8_t *buf = (uint8_t *)a[0];
    size_t len = (size_t)a[1];
    for (size_t i = 0; i < len; i += 8) {
      uint64_t r = next();
      memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
    return (long)len;
  }
  static long (*real)(long, ...);
  if (real == NULL)
    real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
