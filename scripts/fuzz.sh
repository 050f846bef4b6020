#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, each for SECONDS (default 60), on
# a temporary copy of its seed corpus (tests/fuzz/corpus/<target>, plus the
# reproducers tests/fuzz/crashes/<target>-*; nothing new is written into the
# repository). Crash reproducers and logs go to fuzz-out/.
# Configures and builds build-fuzz (clang, ASan + UBSan) when needed.
# Prints one line per target and "N passed, N failed"; exits 1 if any target
# crashed, leaked, hung or failed an invariant, 2 on a usage or build error.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   TARGET: fingerprint demux dtls_server_first_flight dtls_client_first_flight
#           dtls_stateful srtp_unprotect transport sdp stun client_hello
#           echo_rtcp mlkem echo_sdp dtls13_client_hello dtls13_stateful
#           turn coap sctp (default: all)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_ARGS (more libFuzzer
#   options, e.g. "-use_value_profile=1"), FUZZ_OUT (default fuzz-out).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# target -> -max_len: a little above the largest meaningful input (the
# first-flight targets take a whole recorded handshake, up to ~19 datagrams).
declare -A MAX_LEN=(
  [fingerprint]=512
  [demux]=64
  [dtls_server_first_flight]=8192
  [dtls_client_first_flight]=8192
  [dtls_stateful]=4096
  [srtp_unprotect]=4096
  [transport]=8192
  [sdp]=1100
  [stun]=2048
  [client_hello]=256
  [echo_rtcp]=1500
  [mlkem]=1400
  [echo_sdp]=16384
  [dtls13_client_hello]=8192
  [dtls13_stateful]=4096
  [turn]=2048
  [coap]=600
  [sctp]=16384
)
ALL_TARGETS=(fingerprint demux dtls_server_first_flight dtls_client_first_flight
  dtls_stateful srtp_unprotect transport sdp stun client_hello echo_rtcp mlkem echo_sdp
  dtls13_client_hello dtls13_stateful turn coap sctp)

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
OUT=${FUZZ_OUT:-fuzz-out}
GRACE=30 # s past SECONDS before a stuck run is killed (and counted as failed)

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

seconds=60
if (($# > 0)); then
  case "$1" in
  -h | --help) usage 0 ;;
  *[!0-9]*) ;; # not a number: a target name
  *)
    seconds=$1
    shift
    ;;
  esac
fi
if ((seconds < 1)); then
  echo "fuzz: SECONDS must be at least 1" >&2
  exit 2
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
  if [[ -z "${MAX_LEN[$t]:-}" ]]; then
    echo "fuzz: unknown target '$t' (known: ${ALL_TARGETS[*]})" >&2
    exit 2
  fi
done

# ---- build -------------------------------------------------------------------
if [[ ! -f "$BUILD/build.ninja" ]]; then
  echo "fuzz: configuring $BUILD"
  CC=clang meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dtests=true -Dc_args=-fsanitize=fuzzer-no-link >"$BUILD.setup.log" 2>&1 || {
    cat "$BUILD.setup.log" >&2
    echo "fuzz: meson setup failed" >&2
    exit 2
  }
  rm -f "$BUILD.setup.log"
fi
ninja_targets=()
for t in "${targets[@]}"; do
  ninja_targets+=("tests/fuzz/fuzz_$t")
done
if ! ninja -C "$BUILD" "${ninja_targets[@]}" >/dev/null; then
  ninja -C "$BUILD" "${ninja_targets[@]}" >&2 || true
  echo "fuzz: build failed (is $BUILD configured with -Dfuzz=true? see tests/fuzz/README.md)" >&2
  exit 2
fi

# ---- run -------------------------------------------------------------------------
mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/rtcsec-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# UBSan reports are crashes here, not warnings; leaks are checked (ASan).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Last value of a libFuzzer "stat::name: value" or "name: value" field.
field() { grep -Eo "(^| )$1: *[0-9]+" "$2" | tail -n 1 | grep -Eo '[0-9]+$' || echo "?"; }

passed=0
failed=0
failed_names=()
printf '%-26s %8s %12s %9s %7s %6s  %s\n' target seconds execs exec/s cov ft result
for t in "${targets[@]}"; do
  exe="$BUILD/tests/fuzz/fuzz_$t"
  corpus="$work/$t"
  mkdir -p "$corpus"
  if [[ -d "tests/fuzz/corpus/$t" ]]; then
    cp -R "tests/fuzz/corpus/$t/." "$corpus/"
  fi
  # Past crashes run first, with the seeds: a regression fails at once.
  for c in tests/fuzz/crashes/"$t"-*; do
    [[ -f "$c" ]] && cp "$c" "$corpus/"
  done
  log="$OUT/$t.log"
  rm -f "$OUT/$t"-crash-* "$OUT/$t"-leak-* "$OUT/$t"-timeout-* "$OUT/$t"-oom-*
  start=$(date +%s)
  rc=0
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  timeout -k 5 $((seconds + GRACE)) "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -max_len="${MAX_LEN[$t]}" -print_final_stats=1 \
    -artifact_prefix="$OUT/$t-" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(field 'stat::number_of_executed_units' "$log")
  speed=$(field 'stat::average_exec_per_sec' "$log")
  cov=$(field 'cov' "$log")
  ft=$(field 'ft' "$log")
  artifacts=$(ls "$OUT/$t"-{crash,leak,timeout,oom}-* 2>/dev/null || true)
  if ((rc == 0)) && [[ -z "$artifacts" ]]; then
    result=ok
    passed=$((passed + 1))
  else
    if ((rc == 124 || rc == 137)); then
      result="FAILED (killed after $((seconds + GRACE)) s)"
    else
      result="FAILED (exit $rc)"
    fi
    failed=$((failed + 1))
    failed_names+=("$t")
  fi
  printf '%-26s %8s %12s %9s %7s %6s  %s\n' "$t" "$elapsed" "$execs" "$speed" "$cov" "$ft" "$result"
  for a in $artifacts; do
    echo "    reproducer: $a  (run: $exe $a)"
  done
  if [[ "$result" != ok ]]; then
    # The sanitizer's or the invariant's report, for the CI log.
    grep -E -m 1 -A 25 '(==[0-9]+== ?ERROR|\*\*\* fuzz invariant|runtime error:|ERROR: libFuzzer)' \
      "$log" | sed 's/^/    | /' || true
    echo "    full log: $log"
  fi
done

echo "$passed passed, $failed failed"
if ((failed > 0)); then
  echo "failed: ${failed_names[*]} (see tests/fuzz/README.md: turning a crash into a regression test)"
  exit 1
fi
exit 0
