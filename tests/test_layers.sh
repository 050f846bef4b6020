#!/usr/bin/env bash
# The include-direction check (scripts/check-layers.sh) passes on the tree
# and fails on each kind of planted violation: an include from a layer
# above, from a folder beside on the same layer, and an internal header in
# a program. Works on a copy; the tree is never touched.
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check="$src/scripts/check-layers.sh"
work=$(mktemp -d /tmp/rtcsec-layers.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "PASS: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

fresh() {
  rm -rf "$work/t"
  mkdir -p "$work/t"
  for d in lib srtp_bridge ice datachannel tools bench examples; do
    [[ -d "$src/$d" ]] && cp -r "$src/$d" "$work/t/"
  done
}

fresh
if out=$(bash "$check" "$work/t" 2>&1); then
  pass "the tree itself passes"
else
  fail "the tree itself: $out"
fi

# plant FILE INCLUDE DESCRIPTION: the check must fail and name the file
plant() {
  fresh
  local file=$1 inc=$2 what=$3
  printf '#include "%s"\n' "$inc" >>"$work/t/$file"
  local out
  if out=$(bash "$check" "$work/t" 2>&1); then
    fail "$what: not caught"
  elif ! grep -q "^$file: includes" <<<"$out"; then
    fail "$what: caught, but the report does not name $file: $out"
  else
    pass "$what: caught ($(grep "^$file" <<<"$out" | head -1))"
  fi
}

plant lib/dtls.c rtcsec/transport.h "lib/ including srtp_bridge/ (upward)"
plant lib/sdp.c rtcsec/router.h "lib/ including ice/ (upward)"
plant srtp_bridge/transport.c rtcsec/router.h "srtp_bridge/ including ice/ (upward)"
plant srtp_bridge/srtp.c rtcsec/ice.h "srtp_bridge/ including the ICE agent's header (upward)"
plant lib/dtls.c transport_internal.h "lib/ including an internal header of srtp_bridge/"
if [[ -d "$src/datachannel" ]]; then
  plant ice/router.c rtcsec/datachannel.h "ice/ including datachannel/ (beside)"
fi
plant tools/rtcsec-dtls.c ring.h "a tool including an internal header of lib/"
plant examples/embed.c dtls_internal.h "an example including an internal header"
plant examples/embed.c util.h "an example including the tools' helper"
plant lib/sdp.c util.h "lib/ including the tools' helper (upward)"

echo "$passed passed, $failed failed"
((failed == 0))
