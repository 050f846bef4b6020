#!/usr/bin/env bash
# Installs the Debian 12 packages rtcsec needs to build and test, and only the
# ones that are missing. Idempotent: when everything is installed it only runs
# dpkg-query and exits, without network and without root.
#
# Usage: bash scripts/setup.sh [--demo] [EXTRA_PACKAGE...]
#   --demo   only what the main job (scripts/run.sh, rtcsec-echo) needs
#   default  everything the test run (scripts/test.sh) needs
set -euo pipefail

# One package per line. Real package names only (no virtual packages):
# a virtual name never shows as installed, so it would trigger apt every run.
# Installed with --no-install-recommends: list anything a recommend would
# have brought in (fonts for chromium, ...) explicitly here.
#
# DEMO_PACKAGES: what the main job needs to build and run rtcsec-echo
# (scripts/run.sh). TEST_PACKAGES: what the whole test run needs on top.
DEMO_PACKAGES=(
  build-essential
  meson
  ninja-build
  pkg-config
  libssl-dev
  libsrtp2-dev
  libnice-dev
  libglib2.0-dev
  # rtcsec-echo: HTTP, JSON, its page embedded at build time
  libsoup-3.0-dev
  libjson-glib-dev
  python3
  # librtcsec-datachannel (datachannel/; the echo's data channels): SCTP
  # (usrsctp 0.9.5.0, the stack inside Chromium's and Firefox's) over DTLS
  libusrsctp-dev
)
TEST_PACKAGES=(
  openssl
  check
  clang-format
  clang
  libclang-rt-14-dev
  git
  iproute2
  ca-certificates
  # the browser suite (tests/browser/run.sh: both browsers, and tshark, which
  # brings dumpcap, for the DTLS capture check)
  chromium
  firefox-esr
  tshark
  # rtcsec-bench (docs/benchmarks.md): --plot, --callgrind. Its Pion figures
  # need golang-go and golang-github-pion-srtp.v2-dev, which bench/pion/build.sh
  # asks for (or installs, as root, with RTCSEC_PION_INSTALL=1); the test run
  # does not need them.
  gnuplot-nox
  valgrind
  # tests/test_mlkem.c reads the gzip'd FIPS 203 vectors; test_mlkem_ct runs
  # under valgrind (above)
  zlib1g-dev
  # librtcsec-ice's TURN test (tests/test_ice.c) starts coturn's turnserver
  # itself on 127.0.0.1; the Debian service is never started (see below).
  # tests/test_turns.sh does the same with its DTLS listener (RFC 7350).
  coturn
  # The RFC 7925 interop peers of tests/test_iot.sh (docs/iot.md): GnuTLS's
  # gnutls-serv / gnutls-cli and libcoap's coap-server / coap-client
  gnutls-bin
  libcoap3-bin
)

# Packages whose Debian scripts enable and start a system service on
# install. None may be left running: their start is refused during the
# install (policy-rc.d) and the service disabled after it.
SERVICES=(coturn)

mode=tests
if [[ "${1:-}" == "--demo" ]]; then
  mode=demo
  shift
fi
if [[ $mode == demo ]]; then
  PACKAGES=("${DEMO_PACKAGES[@]}")
else
  PACKAGES=("${DEMO_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
fi

log() { printf 'setup: %s\n' "$*" >&2; }

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  log "dpkg-query not found: this script expects Debian 12 (bookworm)"
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}" "$@"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages present"
  exit 0
fi

if ((EUID != 0)); then
  log "missing packages: ${missing[*]}"
  log "run this script as root (or install them: sudo apt-get install ${missing[*]})"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
aptlog=$(mktemp /tmp/rtcsec-setup.XXXXXX)
trap 'rm -f "$aptlog"' EXIT

run_apt() {
  if ! apt-get "${apt_opts[@]}" "$@" </dev/null >"$aptlog" 2>&1; then
    log "apt-get $1 failed; last lines of its output:"
    tail -n 40 "$aptlog" >&2
    exit 1
  fi
}

# Refuse every service start while installing (Debian's invoke-rc.d and
# deb-systemd-invoke ask /usr/sbin/policy-rc.d; 101 = action forbidden).
policy=/usr/sbin/policy-rc.d
saved_policy=""
if [[ -e $policy ]]; then
  saved_policy=$(mktemp /tmp/rtcsec-policy.XXXXXX)
  cp -p "$policy" "$saved_policy"
fi
restore_policy() {
  if [[ -n $saved_policy ]]; then
    cp -p "$saved_policy" "$policy"
    rm -f "$saved_policy"
  else
    rm -f "$policy"
  fi
}
trap 'restore_policy; rm -f "$aptlog"' EXIT
printf '#!/bin/sh\n# rtcsec scripts/setup.sh: no service starts during the install\nexit 101\n' >"$policy"
chmod 755 "$policy"

log "installing ${#missing[@]} missing package(s): ${missing[*]}"
start=$SECONDS
log "apt-get update"
run_apt update
run_apt install --no-install-recommends "${missing[@]}"
restore_policy
trap 'rm -f "$aptlog"' EXIT

# ... and never at boot either: disabled for init scripts and systemd alike.
for svc in "${SERVICES[@]}"; do
  if is_installed "$svc"; then
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
    fi
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
    fi
    log "$svc: system service disabled (tests start their own instance on loopback)"
  fi
done

still=()
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
if ((${#still[@]} > 0)); then
  log "still not installed after apt-get install: ${still[*]}"
  exit 1
fi
log "installed ${missing[*]} in $((SECONDS - start)) s"
