/* Counts heap allocations, so the benchmark can show that a per-packet
 * path allocates nothing (transport.h promises it). malloc, calloc and
 * realloc defined in the executable take precedence over glibc's for the
 * whole process, libraries included; they count and forward to glibc's
 * implementation (__libc_*), so free() and the rest stay glibc's own.
 * Disabled (the count stays 0 and is reported as unavailable) under
 * sanitizers, whose own interceptors must see every allocation. */
#include <stddef.h>
#include <stdint.h>

#include "bench.h"

#ifdef RTCSEC_BENCH_COUNT_ALLOCS
#include <stdatomic.h>
#include <stdlib.h> /* the prototypes of what is replaced */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static atomic_uint_fast64_t calls;

void *malloc(size_t size) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return __libc_realloc(p, size);
}

uint64_t bench_alloc_calls(void) { return atomic_load_explicit(&calls, memory_order_relaxed); }
int bench_alloc_counting(void) { return 1; }
#else
uint64_t bench_alloc_calls(void) { return 0; }
int bench_alloc_counting(void) { return 0; }
#endif
