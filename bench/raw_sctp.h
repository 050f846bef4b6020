/* The baseline of rtcsec-dc-bench: usrsctp alone, two AF_CONN sockets in
 * one process moving packets in memory, configured like librtcsec-
 * datachannel's associations (the same MTU, buffers, I-DATA, Nagle off).
 * usrsctp is one stack per process and librtcsec-datachannel owns it, so
 * this runs in a child process forked before the library starts it. */
#ifndef RTCSEC_BENCH_RAW_SCTP_H
#define RTCSEC_BENCH_RAW_SCTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dc_bench_result {
  double seconds;    /* wall clock of the transfer */
  double cpu_ns;     /* CPU time of the process (both ends) */
  uint64_t messages; /* delivered, checked for length */
  uint64_t bytes;    /* payload delivered */
  uint64_t allocs;   /* malloc/calloc/realloc calls during the transfer */
  uint64_t packets;  /* SCTP packets moved, both ways */
  /* through DTLS only: application-data datagrams received, and the heap
   * allocations the transport made taking them in */
  uint64_t rx_datagrams, rx_allocs;
  int ok; /* 0: the transfer failed (see stderr) */
} dc_bench_result;

/* Sends `count` messages of `size` bytes from one socket to the other;
 * every message is received whole. */
void raw_sctp_transfer(size_t size, uint64_t count, dc_bench_result *out);

#endif
