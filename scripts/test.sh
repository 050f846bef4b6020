#!/usr/bin/env bash
# The whole test run, as CI does it (.ci/run):
#   setup -> build (build/, -Werror) -> format check -> unit tests
#   -> the same suite again under ASan+UBSan (build-asan/)
#   -> every fuzz target for FUZZ_SECONDS (default 20; clang, build-fuzz/).
# Prints every suite's result and ends with one line "N passed, N failed"
# counting the meson test results of both runs. Exits non-zero if a build, the
# format check or any test failed.
#
# Usage: bash scripts/test.sh [extra `meson test` args, e.g. a suite name]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
jobs=$(nproc)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

# Each step says when it starts, in minutes:seconds since the run began.
run_start=$SECONDS
step() { printf '\n== [%d:%02d] %s\n' $(((SECONDS - run_start) / 60)) $(((SECONDS - run_start) % 60)) "$*"; }

# configure DIR OPTION...: a new build dir, or reconfigure an existing one
# (wiped if meson cannot reconfigure it, e.g. made by another meson version).
configure() {
  local dir=$1
  shift
  if [[ -f "$dir/meson-private/coredata.dat" ]]; then
    meson setup --reconfigure "$dir" "$@" ||
      { echo "reconfigure of $dir failed; wiping it" >&2 && meson setup --wipe "$dir" "$@"; }
  else
    meson setup "$dir" "$@"
  fi
}

# run_tests LABEL DIR [meson test args...]: runs the suite and copies its
# testlog.json to a file of ours, so a stale log of an earlier run never counts.
run_tests() {
  local label=$1 dir=$2
  shift 2
  rm -f "$dir/meson-logs/testlog.json" "$results/$label.json"
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@" "${test_args[@]}" || rc=$?
  if [[ -f "$dir/meson-logs/testlog.json" ]]; then
    cp "$dir/meson-logs/testlog.json" "$results/$label.json"
  fi
  return "$rc"
}

results=$(mktemp -d /tmp/rtcsec-test.XXXXXX)
trap 'rm -rf "$results"' EXIT
test_args=("$@")
failures=()

step "setup"
bash scripts/setup.sh

step "versions"
# What this run was made with (dpkg's package versions, and what the
# programs say themselves).
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
echo "libssl3:      $(pkgver libssl3)   ($(openssl version 2>/dev/null || echo 'openssl: not found'))"
echo "libsrtp2:     $(pkgver libsrtp2-1)"
echo "libnice:      $(pkgver libnice10)"
echo "usrsctp:      $(pkgver libusrsctp2)"
echo "chromium:     $(pkgver chromium)   ($(chromium --version 2>/dev/null | tail -1 || echo 'not found'))"
echo "firefox-esr:  $(pkgver firefox-esr)   ($(firefox-esr --version 2>/dev/null | tail -1 || echo 'not found'))"
echo "meson:        $(meson --version)   gcc: $(gcc -dumpfullversion)   clang: $(clang --version | head -1)"

step "configuring build/"
configure build --buildtype=debugoptimized -Dwerror=true

step "building"
if ! meson compile -C build -j "$jobs"; then
  echo
  echo "FAILED: build (plain); no tests ran"
  exit 1
fi

step "format check"
if ! bash scripts/check-format.sh; then
  failures+=("format check (fix: scripts/check-format.sh --fix)")
fi

step "layer check (includes only from the same or a lower layer)"
if ! bash scripts/check-layers.sh; then
  failures+=("layer check (scripts/check-layers.sh)")
fi

step "unit tests (plain)"
run_tests plain build || failures+=("unit tests (plain)")
# The browser suite's per-call table (versions, cipher, profile, packets,
# frames, data channels, ICE -> DTLS ms), kept in the log of a passing run.
sed -n '/^browser: summary/,/^[0-9]* passed, [0-9]* failed$/p' build/meson-logs/testlog.txt \
  2>/dev/null || true

step "configuring build-asan/"
# -Werror stays off here: warnings are the plain build's job, and GCC's
# sanitizer instrumentation produces a few warnings of its own.
configure build-asan --buildtype=debugoptimized -Dwerror=false \
  -Db_sanitize=address,undefined -Db_lundef=false

step "building (ASan+UBSan)"
if meson compile -C build-asan -j "$jobs"; then
  step "unit tests (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_tests asan build-asan --timeout-multiplier 3 ||
    failures+=("unit tests (ASan+UBSan)")
else
  failures+=("build (ASan+UBSan)")
fi

# The DTLS and hostile-input suites again against every other libssl3
# Debian 12's archive has (security and point releases): rtcsec's defences
# must be its own, never an accident of one OpenSSL patch release. The
# packages are unpacked into .deps/libssl/VERSION (not installed) and the
# already-built tests run with LD_LIBRARY_PATH pointing there.
if ((${#test_args[@]} == 0)); then
  step "DTLS suites against the other libssl3 releases in the archive"
  if ! bash scripts/test-libssl.sh build; then
    failures+=("DTLS suites against other libssl3 releases (scripts/test-libssl.sh)")
  fi
fi

# Fuzzing (tests/fuzz/README.md): every target for FUZZ_SECONDS (default 20: the whole run stays under 30 minutes on 2 cores; longer runs: FUZZ_SECONDS=600 or scripts/fuzz.sh)
# on a copy of its seed corpus, with memory and time limits; a crash fails.
# Each target counts as one test in the totals below.
fuzz_passed=0
fuzz_failed=0
if ((${#test_args[@]} == 0)); then
  step "fuzzing (${FUZZ_SECONDS:-20} s per target)"
  fuzz_log="$results/fuzz.log"
  if ! bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee "$fuzz_log"; then
    failures+=("fuzzing")
  fi
  if line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$fuzz_log" | tail -1); then
    read -r fuzz_passed _ fuzz_failed _ <<<"$line"
  else
    failures+=("fuzzing (no result line)")
  fi
fi

step "results"
# Per suite: run, name, result, time and Check's own summary line. Then the
# totals: OK and EXPECTEDFAIL pass; FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS fail;
# SKIP is counted apart.
summary=$("$PY" - "$results" <<'EOF'
import json, os, re, sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}
check_re = re.compile(r"^\d+%: Checks: \d+, Failures: \d+, Errors: \d+", re.M)
passed = failed = skipped = 0
for label in ("plain", "asan"):
    path = os.path.join(sys.argv[1], label + ".json")
    if not os.path.exists(path):
        print(f"{label:<6} (no test results)")
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            res = t.get("result", "?")
            if res in PASS:
                passed += 1
            elif res in SKIP:
                skipped += 1
            else:
                failed += 1
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            checks = check_re.findall(out)
            print(f"{label:<6} {t.get('name', '?'):<12} {res:<8} {t.get('duration', 0):7.2f}s  "
                  f"{checks[-1] if checks else ''}".rstrip())
if skipped:
    print(f"{skipped} skipped")
print(f"TOTALS {passed} {failed}")
EOF
) || { echo "FAILED: could not read the test logs"; exit 1; }
grep -v '^TOTALS ' <<<"$summary"
read -r _ passed failed < <(grep '^TOTALS ' <<<"$summary")
if ((fuzz_passed + fuzz_failed > 0)); then
  echo "fuzz   $fuzz_passed targets without a crash, $fuzz_failed with one"
  # Which target, and the first lines of its report, at the end of the log
  # too: a CI log is often read from its tail only.
  grep -E '^failed: |^    reproducer: |^    \| ' "$fuzz_log" | head -n 40 || true
fi
passed=$((passed + fuzz_passed))
failed=$((failed + fuzz_failed))

for f in "${failures[@]}"; do
  echo "FAILED: $f"
done
printf 'time: %d:%02d\n' $(((SECONDS - run_start) / 60)) $(((SECONDS - run_start) % 60))
echo "$passed passed, $failed failed"
if ((${#failures[@]} > 0 || failed > 0)); then
  exit 1
fi
