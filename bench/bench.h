/* rtcsec-bench internals: figures, timing, and the parts of each benchmark.
 * See docs/benchmarks.md for what each figure means. */
#ifndef RTCSEC_BENCH_H
#define RTCSEC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "rtcsec/rtcsec.h"
#include "rtcsec/srtp.h"
#include "rtcsec/transport.h"
#include "util.h"

#define BENCH_MAX_RUNS 101

/* ---- options ------------------------------------------------------------ */

typedef struct bench_opts {
  int runs;      /* measurement runs; each figure's value is their median */
  int quick;     /* small counts for a CI smoke run */
  int callgrind; /* instruction counts of the per-packet paths (see callgrind.c) */
  int want_srtp; /* --only filter */
  int want_dtls;
  int want_dtls13;
  int want_mem;
  int want_ice;
  int want_sessions;
  int want_hmac;
  int want_hostile;
  int want_router;
  size_t mem_sessions;  /* sessions for the memory figure (1000) */
  size_t live_sessions; /* live sessions for the sessions and router figures (10000) */
  int handshakes;       /* handshakes per run and variant */
  /* --libsrtp-ciphers: the whole run on libsrtp2's own cipher
   * implementations (rtcsec_srtp_global_config(), keep_libsrtp_ciphers). */
  int keep_libsrtp;
  /* Same-run baselines from other processes: stock libsrtp2 (this program
   * again with --libsrtp-ciphers; --no-stock turns it off) and Pion
   * (rtcsec-pion-bench, bench/pion/; NULL when --pion none). */
  int stock;
  const char *pion;
  /* --child-report: print the figures as lines for the rtcsec-bench that
   * started this one, instead of the table. */
  int child_report;
  unsigned srtp_variants; /* --srtp-variants: BENCH_VARIANT_* bits */
} bench_opts;

#define BENCH_VARIANT_RTCSEC 1u
#define BENCH_VARIANT_LIBSRTP 2u
#define BENCH_VARIANT_EVP 4u
#define BENCH_VARIANT_ALL 7u

/* ---- figures -------------------------------------------------------------- */

typedef struct bench_series {
  double v[BENCH_MAX_RUNS];
  int n;
} bench_series;

void bench_series_add(bench_series *s, double v);
double bench_series_median(const bench_series *s);
double bench_series_min(const bench_series *s);
double bench_series_max(const bench_series *s);

typedef enum bench_target_kind {
  BENCH_TARGET_NONE = 0,
  BENCH_TARGET_RATIO_MAX, /* met if ratio <= target */
  BENCH_TARGET_VALUE_MAX, /* met if value <= target */
} bench_target_kind;

typedef struct bench_figure {
  char name[128];          /* stable id, e.g. srtp.rtp.protect.1200.AES_CM_128_HMAC_SHA1_80 */
  char group[24];          /* table section and plot panel */
  char label[64];          /* short label for tables and plots */
  char unit[24];           /* ns/packet, us/handshake, bytes/session, Ir/packet, ... */
  char what[40];           /* what "value" measures: rtcsec, libsrtp2, ... */
  char baseline_name[128]; /* what "baseline_value" measures; "" if none */
  bench_series val;
  bench_series base;
  bench_target_kind target_kind;
  double target;
} bench_figure;

/* Adds a figure (or returns the existing one of that name). */
bench_figure *bench_figure_get(const char *group, const char *name, const char *label,
                               const char *unit, const char *what, const char *baseline_name);
void bench_figure_set_target(bench_figure *f, bench_target_kind kind, double target);
size_t bench_figure_count(void);
bench_figure *bench_figure_at(size_t i);
double bench_figure_ratio(const bench_figure *f); /* median value / median baseline, or 0 */
/* 1 met, 0 missed, -1 no target. */
int bench_figure_target_met(const bench_figure *f);

/* A figure that was asked for but could not be measured, and why. */
void bench_not_done(const char *name, const char *reason);
size_t bench_not_done_count(void);
const char *bench_not_done_name(size_t i);
const char *bench_not_done_reason(size_t i);

/* ---- environment facts printed with the results --------------------------- */

typedef struct bench_env {
  char srtp_version[64];
  char srtp_backend[32];  /* "OpenSSL", "NSS", "mbedTLS", "built-in", "unknown" */
  char srtp_cipher[96];   /* the AES-ICM-128 cipher description of the crypto kernel */
  char srtp_gcm[96];      /* same for AES-GCM-128, "" if absent */
  char srtp_library[256]; /* path of the libsrtp2 the process runs with */
  char openssl_version[96];
  char cpu[128];
  char date[32];
  int ncpu;
  double loadavg_start, loadavg_end;
} bench_env;

void bench_env_fill(bench_env *env);

/* ---- clocks ----------------------------------------------------------------- */

/* CPU time of the calling thread in nanoseconds: what the per-packet and
 * handshake figures measure (time other processes take is not counted). */
uint64_t bench_cpu_ns(void);
/* The monotonic wall clock (the sans-IO `now`) is tools/util.h's
 * tool_now_us(). */

/* ---- allocation counting (alloc_count.c) ----------------------------------- */

/* Number of malloc/calloc/realloc calls in this process so far; 0 when
 * counting is compiled out (sanitizer builds), see bench_alloc_counting(). */
uint64_t bench_alloc_calls(void);
int bench_alloc_counting(void);

/* ---- other processes (common.c) ------------------------------------------------- */

/* This program's own path (/proc/self/exe), or NULL. */
const char *bench_self(void);

/* Runs argv (argv[0] a path) with its stdout on a pipe and calls line()
 * for every line it prints (without the newline). Returns 0 if it ran
 * and exited with status 0, else -1 (with a message on stderr). */
int bench_run_child(char *const argv[], void (*line)(char *text, void *ctx), void *ctx);

/* Runs this program again with `args` (a NULL-terminated list) and
 * --child-report, and calls fig() for every figure it reports (its median
 * value, and its baseline or NAN). Returns as bench_run_child(). */
int bench_run_self(const char *const args[],
                   void (*fig)(const char *name, double value, double base, void *ctx), void *ctx);

/* --child-report: every figure as "fig<TAB>name<TAB>value<TAB>baseline". */
void bench_print_child_report(void);

/* ---- shared fixtures --------------------------------------------------------- */

/* The profiles benchmarked, in table order. */
extern const rtcsec_srtp_profile bench_profiles[4];
#define BENCH_N_PROFILES 4
const char *bench_profile_short(rtcsec_srtp_profile p); /* cm80, cm32, gcm128, gcm256 */

/* The fixed master key || salt the raw sessions of profile p use (the
 * same in every process of a run, Pion's included); 46 octets. */
void bench_master_key(rtcsec_srtp_profile p, uint8_t out[46]);

/* Two rtcsec transports connected to each other in memory: t[0] is the DTLS
 * client, t[1] the server. Certificates are shared, not copied. */
typedef struct bench_pair {
  rtcsec_transport *t[2];
  uint64_t datagrams, bytes; /* DTLS datagrams and bytes exchanged, both ways */
} bench_pair;

int bench_pair_connect(bench_pair *p, rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2],
                       rtcsec_srtp_profile profile);
void bench_pair_free(bench_pair *p);

/* Two DTLS associations (rtcsec_dtls) run to connected in memory and freed;
 * the SRTP keys of both are taken from their CONNECTED events. Returns 0 or
 * an rtcsec error; *datagrams / *bytes (optional) get what was exchanged. */
int bench_dtls_handshake(rtcsec_cert *cert[2], const rtcsec_fingerprint fp[2], uint64_t *datagrams,
                         uint64_t *bytes);

/* RTP packet: 12-byte header (V=2, PT 96) and payload_len payload bytes. */
size_t bench_make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len);
/* RTCP packet: an 8-byte SR-type header for ssrc and payload_len bytes
 * (a multiple of 4). */
size_t bench_make_rtcp(uint8_t *buf, uint32_t ssrc, size_t payload_len);

/* An ICE connectivity check as a controlling full agent sends it to a lite
 * one (RFC 8445 §7.2.2): a Binding request with USERNAME "user" (the
 * receiver's ufrag, ':', the sender's), PRIORITY, ICE-CONTROLLING with
 * tiebreak, USE-CANDIDATE if nominate, MESSAGE-INTEGRITY under pwd (the
 * receiver's password) and FINGERPRINT. Returns its length, 0 if it does
 * not fit cap. */
size_t bench_ice_check(uint8_t *buf, size_t cap, const char *user, const char *pwd,
                       const uint8_t tid[12], uint64_t tiebreak, int nominate);

/* ---- the benchmarks ------------------------------------------------------------ */

/* Each adds its figures. Return 0, or nonzero on a failure that makes the
 * figures meaningless (printed to stderr). */
int bench_srtp_run(const bench_opts *o);
int bench_dtls_run(const bench_opts *o);
int bench_mem_run(const bench_opts *o);
int bench_session_run(const bench_opts *o);
int bench_hmac_run(const bench_opts *o);
int bench_router_run(const bench_opts *o);
/* Figure 4 (ice_bench.c), only when built with the ICE layer. */
int bench_ice_run(const bench_opts *o);
/* Section hostile (hostile_bench.c): CPU per hostile datagram by kind. */
int bench_hostile_run(const bench_opts *o);
/* Section dtls13 (dtls13_bench.c): DTLS 1.3 handshakes with and without
 * X25519MLKEM768, against x25519 and DTLS 1.2 in the same run. */
int bench_dtls13_run(const bench_opts *o);
/* Instruction counts (under valgrind --tool=callgrind; see callgrind.c). */
int bench_srtp_callgrind_child(const bench_opts *o);
int bench_dtls_callgrind_child(const bench_opts *o);
int bench_session_callgrind_child(const bench_opts *o);
int bench_hostile_callgrind_child(const bench_opts *o);
int bench_router_callgrind_child(const bench_opts *o);
int bench_dtls13_callgrind_child(const bench_opts *o);

/* ---- callgrind client requests (no-ops without valgrind headers) ------------ */

void bench_cg_begin(void);                /* zero the counters, start collecting */
void bench_cg_end(const char *dump_name); /* stop collecting, dump under that name */
void bench_cg_pause(void);                /* stop collecting, keep the counters */
void bench_cg_resume(void);               /* collect again, after bench_cg_pause() */
/* For counting only some calls: zero the counters without collecting,
 * switch collection on and off around each call (bench_cg_toggle), dump
 * without toggling (bench_cg_dump). */
void bench_cg_begin_off(void);
void bench_cg_toggle(void);
void bench_cg_dump(const char *dump_name);
int bench_running_on_valgrind(void);
/* Re-runs this program (argv) under callgrind, writes the dumps to dir and
 * turns them into figures (groups cg-srtp, cg-dtls). */
int bench_callgrind_parent(const bench_opts *o, const char *dir, int argc, char **argv);

/* ---- reporting (report.c) ------------------------------------------------------- */

void bench_print_table(const bench_env *env, const bench_opts *o);
int bench_write_json(const char *path, const bench_env *env, const bench_opts *o);
int bench_write_plot(const char *path, const bench_env *env);

#endif
