#!/usr/bin/env bash
# Runs the DTLS and hostile-input suites of an already-built tree against
# every libssl3 release of Debian 12's archive other than the installed one,
# unpacked (not installed) into .deps/libssl/VERSION, through LD_LIBRARY_PATH.
# rtcsec's defences against unauthenticated records are its own: the suites
# must pass on each release (issue 11: 3.0.19 and 3.0.22 behaved differently).
#
# Usage: bash scripts/test-libssl.sh BUILD_DIR [VERSION...]
# Needs apt-get (network) the first time a version is fetched.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:?usage: test-libssl.sh BUILD_DIR [VERSION...]}
shift
# srtp and srtp_ciphers: rtcsec's libsrtp2 cipher types call the provider's
# cipher functions (srtp_bridge/srtp_types.c), looked up at run time.
SUITES=(dtls dtls_bad transport interop router hostile srtp srtp_ciphers)

installed=$(dpkg-query -W -f='${Version}' libssl3 2>/dev/null)
if (($# > 0)); then
  versions=("$@")
else
  mapfile -t versions < <(apt-cache madison libssl3 | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
    sort -u | grep -vxF "$installed")
fi
if ((${#versions[@]} == 0)); then
  echo "test-libssl: the archive lists no libssl3 other than the installed $installed" \
    "(apt-get update first?)" >&2
  exit 1
fi

arch=$(dpkg --print-architecture)
failed=0
for v in "${versions[@]}"; do
  dir=.deps/libssl/$v
  lib=$dir/usr/lib/$(gcc -print-multiarch)
  if [[ ! -f $lib/libssl.so.3 ]]; then
    mkdir -p "$dir"
    tmp=$(mktemp -d /tmp/rtcsec-libssl.XXXXXX)
    if ! (cd "$tmp" && apt-get download "libssl3=$v" >/dev/null 2>&1); then
      echo "test-libssl: cannot download libssl3 $v ($arch)" >&2
      rm -rf "$tmp"
      failed=1
      continue
    fi
    dpkg-deb -x "$tmp"/libssl3_*.deb "$dir"
    rm -rf "$tmp"
  fi
  present=()
  for s in "${SUITES[@]}"; do
    [[ -x "$build/tests/test_$s" ]] && present+=("$s")
  done
  echo "== libssl3 $v: ${present[*]}"
  # Prove the tests really load this libssl: ask one of them.
  loaded=$(LD_LIBRARY_PATH="$lib" ldd "$build/tests/test_dtls" | awk '/libssl.so.3/ {print $3}')
  echo "   libssl.so.3 -> $loaded"
  if [[ "$loaded" != "$lib"/* ]]; then
    echo "test-libssl: the tests do not load $lib/libssl.so.3" >&2
    failed=1
    continue
  fi
  if ! LD_LIBRARY_PATH="$lib" meson test -C "$build" --no-rebuild --print-errorlogs \
    --num-processes "$(nproc)" "${present[@]}"; then
    echo "test-libssl: FAILED with libssl3 $v" >&2
    failed=1
  fi
done
exit $failed
