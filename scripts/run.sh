#!/usr/bin/env bash
# The main job: installs what is missing, builds rtcsec-echo and starts it.
# Open the URL it prints in a browser on this machine: the page sends your
# camera and microphone to rtcsec-echo and shows them coming back through
# rtcsec's ICE, DTLS and SRTP, with live statistics from both sides.
# Stop it with Ctrl-C.
#
# Usage: bash scripts/run.sh [rtcsec-echo options]
#   e.g. bash scripts/run.sh --listen 127.0.0.1:8081
#        bash scripts/run.sh --ice-address 192.168.1.20 --exit-after 600
#   (build-demo/tools/rtcsec-echo --help lists them all)
#
# The DTLS-SRTP call between two rtcsec-dtls processes over loopback that
# this script used to run is scripts/call.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Its own build tree, without the test suites: the main job installs only
# what rtcsec-echo needs (scripts/setup.sh --demo), not the test tools.
BUILD=build-demo
TOOL=$BUILD/tools/rtcsec-echo
TARGET=rtcsec-echo

die() {
  echo "run: $*" >&2
  exit 1
}
step() { printf '\n== %s\n' "$*"; }

step "setup"
bash scripts/setup.sh --demo

step "building"
if [[ ! -f $BUILD/meson-private/coredata.dat ]]; then
  meson setup "$BUILD" --buildtype=debugoptimized -Dtests=false -Dinterop=false -Dbrowser=false
fi
meson compile -C "$BUILD" -j "$(nproc)" "$TARGET"
[[ -x "$TOOL" ]] || die "$TOOL was not built: tools/meson.build does not define the '$TARGET' program"

step "starting rtcsec-echo"
cat <<'EOF'
Open the URL below in Chrome, Chromium or Firefox on this machine and allow the
camera and the microphone. Your video appears twice: on the left straight from
the camera, on the right after the round trip through rtcsec. Use headphones
(the echoed sound is played). ?dtls=client makes rtcsec the DTLS client (the
browser offers), ?dtls=server the DTLS server (rtcsec offers). Ctrl-C stops.
EOF
echo
exec "$TOOL" "$@"
