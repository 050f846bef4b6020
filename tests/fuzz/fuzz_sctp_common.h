/* The data-channel fuzz target (fuzz_sctp.c) and the recorder of its seeds
 * (gen_corpus.c) drive the same "victim" association the same way.
 *
 * Input format (the seeds are recorded in it):
 *   a list of records, each a 2-byte big-endian header H, then
 *   min(H & 0x3FFF, what is left) bytes: one SCTP packet for the victim, as
 *   DTLS would hand it over (an empty record delivers nothing);
 *     H & 0x8000  first move the clock to the victim's deadline (at least
 *                 1 ms on) and run its timers
 *     H & 0x4000  after the packet, the victim acts: it sends a string and a
 *                 binary message on every channel it has open, opens a
 *                 channel, and closes the oldest channel it opened itself
 *   Every record moves the clock 1 ms first. After each record every event
 *   is polled and checked, and every packet the victim sends is taken (and
 *   checked against the packet size limit).
 *
 * Determinism: usrsctp's random bytes come from getrandom (the syscall);
 * fuzz_sctp_random.c answers it from a fixed stream, reset with every
 * input, and rtcsec_dc_test_for_replay() makes the victim the first
 * association of the process each time (same handle, same clock start, no
 * TIME-WAIT). A recorded peer's packets then meet the same verification
 * tags and TSNs, so a seed reaches an open association and its channels.
 *
 * FZ_SCTP_DEBUG=1 in the environment prints the start of every packet the
 * victim sends (to compare a recording with its replay).
 *
 * The victim: the DTLS server (odd ids), ports 5000 / 5000, 64 streams,
 * at most 8 channels, 4 KiB max-message-size (the peer is told 64 KiB, so
 * that too-large messages come), a 1 KiB receive buffer (messages in
 * pieces), I-DATA offered. Before it starts it opens a negotiated channel
 * (id 4) and a DCEP channel (id 1). */
#ifndef RTCSEC_FUZZ_SCTP_COMMON_H
#define RTCSEC_FUZZ_SCTP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/datachannel.h"

#define FZ_SCTP_TIMER 0x8000u
#define FZ_SCTP_ACT 0x4000u
#define FZ_SCTP_LEN_MASK 0x3FFFu
#define FZ_SCTP_T0 UINT64_C(1000000)

/* The victim's configuration (also the recorder's). */
void fz_sctp_victim_config(rtcsec_dc_config *cfg);
/* The configuration of the recorded peer (the DTLS client). */
void fz_sctp_peer_config(rtcsec_dc_config *cfg);

/* Resets the random stream that usrsctp reads (fuzz_sctp_random.c). */
void fz_sctp_random_reset(void);

/* What a run of the victim saw. */
typedef struct fz_sctp_result {
  int connected, closed, failed, error;
  uint64_t opens, closes, messages, message_bytes;
  uint64_t packets_out;
  rtcsec_dc_stats stats; /* at the end, before the victim is freed */
} fz_sctp_result;

/* One victim, driven record by record. out (optional) receives each packet
 * the victim sends (the recorder hands them to its peer). */
typedef void (*fz_sctp_sink)(void *user, const uint8_t *p, size_t len);

typedef struct fz_sctp_victim fz_sctp_victim;

/* Resets the random stream and the replay state, creates and starts the
 * victim (its INIT goes to out). */
fz_sctp_victim *fz_sctp_victim_new(fz_sctp_sink out, void *user);
/* One record: flags (FZ_SCTP_TIMER, FZ_SCTP_ACT) and the packet. */
void fz_sctp_victim_record(fz_sctp_victim *v, unsigned flags, const uint8_t *p, size_t len);
/* The victim's clock now (the recorder's peer shares it). */
uint64_t fz_sctp_victim_now(const fz_sctp_victim *v);
uint64_t fz_sctp_victim_deadline(const fz_sctp_victim *v);
/* Closes, polls, frees; fills res (optional). */
void fz_sctp_victim_free(fz_sctp_victim *v, fz_sctp_result *res);

/* A whole input through a fresh victim. */
void fz_sctp_run(const uint8_t *data, size_t size, fz_sctp_result *res);

#endif
