/* rtcsec-bench: what rtcsec costs per packet, per handshake and per
 * session, each figure next to a baseline measured in the same run (raw
 * libsrtp2 calls, the raw EVP cipher floor, raw OpenSSL handshakes, bare
 * OpenSSL + libsrtp2 objects) and the ratio. A benchmark, not a test: it
 * reports targets met or missed and never fails because a shared machine
 * was slow (exit status 0 unless something did not work at all).
 *
 *   rtcsec-bench [--runs N] [--quick]
 *                [--only srtp,dtls,dtls13,mem,ice,sessions,hmac,hostile,router]
 *                [--sessions N] [--live N] [--handshakes N] [--libsrtp-ciphers]
 *                [--no-stock] [--pion PATH|none]
 *                [--json FILE] [--plot FILE.png] [--callgrind[=DIR]]
 *
 * See docs/benchmarks.md for the figures, the method and the latest numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rtcsec/srtp.h"

/* Where bench/pion/build.sh writes rtcsec-pion-bench by default. */
#ifndef RTCSEC_BENCH_PION_DEFAULT
#define RTCSEC_BENCH_PION_DEFAULT ".deps/pion/rtcsec-pion-bench"
#endif

static void usage(FILE *f) {
  fprintf(f,
          "usage: rtcsec-bench [options]\n"
          "  --runs N          measurement runs; figures are medians with min/max (default 7)\n"
          "  --quick           small counts for a CI smoke run (< 20 s; numbers are rough)\n"
          "  --only LIST       comma-separated subset of srtp,dtls,dtls13,mem,ice,sessions,\n"
          "                    hmac,hostile,router (default all)\n"
          "  --sessions N      sessions for the memory figure (default 1000)\n"
          "  --live N          live sessions for the sessions and router figures\n"
          "                    (default 10000)\n"
          "  --handshakes N    handshakes per run and variant (default 100)\n"
          "  --json FILE       write every figure as JSON\n"
          "  --plot FILE.png   draw the ratios with gnuplot (Debian package gnuplot-nox)\n"
          "  --callgrind[=DIR] instruction counts of the per-packet and handshake paths under\n"
          "                    valgrind --tool=callgrind instead of CPU time; dumps kept in DIR\n"
          "                    (default callgrind-out) for callgrind_annotate\n"
          "  --libsrtp-ciphers the whole run on libsrtp2's own cipher implementations (NSS on\n"
          "                    Debian) instead of rtcsec's (rtcsec_srtp_global_config)\n"
          "  --no-stock        no same-run stock libsrtp2 figures (normally measured by this\n"
          "                    program again with --libsrtp-ciphers, in a child process)\n"
          "  --pion PATH|none  rtcsec-pion-bench for the Pion figures (default\n"
          "                    " RTCSEC_BENCH_PION_DEFAULT ",\n"
          "                    built by bash bench/pion/build.sh)\n"
          "  -h, --help        this text\n");
}

static int parse_variants(bench_opts *o, const char *list) {
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", list);
  o->srtp_variants = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strcmp(t, "rtcsec") == 0)
      o->srtp_variants |= BENCH_VARIANT_RTCSEC;
    else if (strcmp(t, "libsrtp2") == 0)
      o->srtp_variants |= BENCH_VARIANT_LIBSRTP;
    else if (strcmp(t, "evp") == 0)
      o->srtp_variants |= BENCH_VARIANT_EVP;
    else
      return -1;
  }
  return o->srtp_variants ? 0 : -1;
}

static int parse_only(bench_opts *o, const char *list) {
  char buf[128];
  snprintf(buf, sizeof(buf), "%s", list);
  o->want_srtp = o->want_dtls = o->want_mem = o->want_ice = o->want_sessions = o->want_hmac = 0;
  o->want_hostile = o->want_router = o->want_dtls13 = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (strcmp(t, "srtp") == 0)
      o->want_srtp = 1;
    else if (strcmp(t, "dtls") == 0)
      o->want_dtls = 1;
    else if (strcmp(t, "dtls13") == 0)
      o->want_dtls13 = 1;
    else if (strcmp(t, "mem") == 0)
      o->want_mem = 1;
    else if (strcmp(t, "ice") == 0)
      o->want_ice = 1;
    else if (strcmp(t, "sessions") == 0)
      o->want_sessions = 1;
    else if (strcmp(t, "hmac") == 0)
      o->want_hmac = 1;
    else if (strcmp(t, "hostile") == 0)
      o->want_hostile = 1;
    else if (strcmp(t, "router") == 0)
      o->want_router = 1;
    else
      return -1;
  }
  return 0;
}

/* Figure 4 needs the ICE layer (librtcsec-ice, libnice); meson builds it
 * in when ice/ is part of the build. */
static int ice_figure(const bench_opts *o) {
#ifdef RTCSEC_BENCH_HAVE_ICE
  return bench_ice_run(o);
#else
  (void)o;
  bench_not_done("ice.connected_to_dtls_to_first_media",
                 "this rtcsec-bench was built without the ICE layer (ice/ with libnice "
                 "was not part of the build)");
  return 0;
#endif
}

int main(int argc, char **argv) {
  bench_opts o;
  const char *json = NULL, *plot = NULL, *cg_dir = "callgrind-out";
  unsigned long v;
  int runs_set = 0, sessions_set = 0, handshakes_set = 0, live_set = 0;

  memset(&o, 0, sizeof(o));
  o.runs = 7;
  o.want_srtp = o.want_dtls = o.want_mem = o.want_ice = o.want_sessions = o.want_hmac = 1;
  o.want_hostile = o.want_router = o.want_dtls13 = 1;
  o.mem_sessions = 1000;
  o.live_sessions = 10000;
  o.handshakes = 100;
  o.stock = 1;
  o.pion = RTCSEC_BENCH_PION_DEFAULT;
  o.srtp_variants = BENCH_VARIANT_ALL;
  int pion_set = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--quick") == 0) {
      o.quick = 1;
    } else if (strcmp(a, "--callgrind") == 0) {
      o.callgrind = 1;
    } else if (strncmp(a, "--callgrind=", 12) == 0) {
      o.callgrind = 1;
      cg_dir = a + 12;
    } else if (strcmp(a, "--runs") == 0 && next &&
               tool_parse_ulong(next, 1, BENCH_MAX_RUNS, &v) == 0) {
      o.runs = (int)v;
      runs_set = 1;
      i++;
    } else if (strcmp(a, "--sessions") == 0 && next && tool_parse_ulong(next, 1, 100000, &v) == 0) {
      o.mem_sessions = (size_t)v;
      sessions_set = 1;
      i++;
    } else if (strcmp(a, "--live") == 0 && next && tool_parse_ulong(next, 1100, 100000, &v) == 0) {
      o.live_sessions = (size_t)v;
      live_set = 1;
      i++;
    } else if (strcmp(a, "--handshakes") == 0 && next &&
               tool_parse_ulong(next, 1, 100000, &v) == 0) {
      o.handshakes = (int)v;
      handshakes_set = 1;
      i++;
    } else if (strcmp(a, "--only") == 0 && next && parse_only(&o, next) == 0) {
      i++;
    } else if (strcmp(a, "--libsrtp-ciphers") == 0) {
      o.keep_libsrtp = 1;
    } else if (strcmp(a, "--no-stock") == 0) {
      o.stock = 0;
    } else if (strcmp(a, "--pion") == 0 && next) {
      o.pion = strcmp(next, "none") == 0 ? NULL : next;
      pion_set = 1;
      i++;
    } else if (strcmp(a, "--child-report") == 0) {
      o.child_report = 1;
    } else if (strcmp(a, "--srtp-variants") == 0 && next && parse_variants(&o, next) == 0) {
      i++;
    } else if (strcmp(a, "--json") == 0 && next) {
      json = next;
      i++;
    } else if (strcmp(a, "--plot") == 0 && next) {
      plot = next;
      i++;
    } else {
      fprintf(stderr, "rtcsec-bench: bad argument: %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (o.quick) {
    if (!runs_set)
      o.runs = 3;
    if (!sessions_set)
      o.mem_sessions = 100;
    if (!handshakes_set)
      o.handshakes = 10;
    if (!live_set)
      o.live_sessions = 2000;
  }
  /* Process-wide, before anything starts the SRTP bridge. */
  if (o.keep_libsrtp) {
    rtcsec_srtp_global g;
    rtcsec_srtp_global_default(&g);
    g.keep_libsrtp_ciphers = 1;
    if (rtcsec_srtp_global_config(&g) != 0) {
      fprintf(stderr, "rtcsec-bench: rtcsec_srtp_global_config failed\n");
      return 2;
    }
  }
  /* A stock baseline only makes sense next to rtcsec's own types; the
   * processes started for baselines never start more. */
  if (o.keep_libsrtp || o.child_report)
    o.stock = 0;
  if (o.child_report)
    o.pion = NULL;
  if (o.pion != NULL && access(o.pion, X_OK) != 0) {
    if (pion_set) {
      fprintf(stderr,
              "rtcsec-bench: --pion %s: not an executable (bash bench/pion/build.sh "
              "builds it)\n",
              o.pion);
      return 2;
    }
    bench_not_done("srtp.pion", "rtcsec-pion-bench not built: run bash bench/pion/build.sh "
                                "(needs the Debian packages golang-go and "
                                "golang-github-pion-srtp.v2-dev)");
    o.pion = NULL;
  }
  /* Fail early, not after minutes of measuring. */
  if (plot != NULL && system("command -v gnuplot >/dev/null 2>&1") != 0) {
    fprintf(stderr, "rtcsec-bench: --plot needs gnuplot: install the Debian package "
                    "gnuplot-nox (apt-get install gnuplot-nox, or bash scripts/setup.sh)\n");
    return 2;
  }

  /* Child of --callgrind: measure instruction counts, the parent reports. */
  if (o.callgrind && bench_running_on_valgrind()) {
    int rc = 0;
    if (o.want_srtp)
      rc |= bench_srtp_callgrind_child(&o);
    if (o.want_dtls)
      rc |= bench_dtls_callgrind_child(&o);
    if (o.want_dtls13)
      rc |= bench_dtls13_callgrind_child(&o);
    if (o.want_sessions)
      rc |= bench_session_callgrind_child(&o);
    if (o.want_hostile)
      rc |= bench_hostile_callgrind_child(&o);
    if (o.want_router)
      rc |= bench_router_callgrind_child(&o);
    return rc ? 1 : 0;
  }

  bench_env env;
  bench_env_fill(&env);
  int failed = 0;
  if (o.callgrind) {
    failed = bench_callgrind_parent(&o, cg_dir, argc, argv) != 0;
  } else {
    if (o.want_srtp && bench_srtp_run(&o) != 0)
      failed = 1;
    if (o.want_dtls && bench_dtls_run(&o) != 0)
      failed = 1;
    if (o.want_dtls13 && bench_dtls13_run(&o) != 0)
      failed = 1;
    if (o.want_mem && bench_mem_run(&o) != 0)
      failed = 1;
    if (o.want_sessions && bench_session_run(&o) != 0)
      failed = 1;
    if (o.want_hmac && bench_hmac_run(&o) != 0)
      failed = 1;
    if (o.want_hostile && bench_hostile_run(&o) != 0)
      failed = 1;
    if (o.want_router && bench_router_run(&o) != 0)
      failed = 1;
  }
  if (o.want_ice && !o.callgrind && ice_figure(&o) != 0)
    failed = 1;
  env.loadavg_end = tool_loadavg();
  if (o.child_report) {
    bench_print_child_report();
    return failed ? 1 : 0;
  }
  bench_print_table(&env, &o);
  if (json != NULL && bench_write_json(json, &env, &o) != 0)
    failed = 1;
  if (plot != NULL && bench_write_plot(plot, &env) != 0)
    failed = 1;
  if (failed)
    fprintf(stderr, "rtcsec-bench: some figures could not be measured (see above)\n");
  return failed ? 1 : 0;
}
