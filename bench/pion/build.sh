#!/usr/bin/env bash
# Builds rtcsec-pion-bench (bench/pion/main.go): Pion's SRTP timed on
# rtcsec-bench's packets, so that rtcsec-bench can report rtcsec next to
# Pion in the same run (docs/benchmarks.md). Offline: Debian's Go
# (golang-go, Go 1.19) in GOPATH mode against Debian's Pion packages in
# /usr/share/gocode (golang-github-pion-srtp.v2-dev and its dependencies);
# no module download, no network.
#
# Usage: bash bench/pion/build.sh [OUTPUT]
#   OUTPUT  the program to write, default .deps/pion/rtcsec-pion-bench
#           (git-ignored), where rtcsec-bench looks for it by default
#
# Not part of the test run. Needs the two Debian packages; without them it
# stops with the apt-get command to run (as root, it installs them itself
# when RTCSEC_PION_INSTALL=1 is set).
set -euo pipefail

log() { printf 'pion/build.sh: %s\n' "$*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$repo/.deps/pion/rtcsec-pion-bench}
gocode=/usr/share/gocode/src/github.com/pion
packages=(golang-go golang-github-pion-srtp.v2-dev)

missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] ||
    missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  if [[ "${RTCSEC_PION_INSTALL:-0}" == 1 && $EUID == 0 ]]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  else
    log "missing Debian packages: ${missing[*]}"
    log "install them (apt-get install --no-install-recommends ${missing[*]}),"
    log "or run this script as root with RTCSEC_PION_INSTALL=1"
    exit 1
  fi
fi
command -v go >/dev/null || {
  log "go not found on PATH after installing golang-go"
  exit 1
}
[[ -d $gocode/srtp/v2 ]] || {
  log "$gocode/srtp/v2 not found (golang-github-pion-srtp.v2-dev)"
  exit 1
}

# A GOPATH of symbolic links, as Debian's own Go packaging builds: the
# module paths with a /v2 suffix (srtp/v2, transport/v2) map onto the
# directories Debian installs them in.
gopath=$(mktemp -d /tmp/rtcsec-pion-gopath.XXXXXX)
trap 'rm -rf "$gopath"' EXIT
# (Only links are made, inside the temporary GOPATH: nothing is written
# under /usr/share/gocode.)
src=$gopath/src/github.com/pion
mkdir -p "$src/srtp" "$src/transport" "$gopath/src/rtcsec-pion-bench"
ln -s "$gocode/srtp/v2" "$src/srtp/v2"
ln -s "$gocode/transport" "$src/transport/v2"
for m in rtp rtcp logging randutil; do
  ln -s "$gocode/$m" "$src/$m"
done
cp "$repo/bench/pion/main.go" "$gopath/src/rtcsec-pion-bench/"

mkdir -p "$(dirname "$out")"
log "go $(go env GOVERSION), pion/srtp $(dpkg-query -W -f='${Version}' golang-github-pion-srtp.v2-dev)"
GO111MODULE=off GOPATH=$gopath GOPROXY=off GOFLAGS= GOCACHE=$gopath/cache \
  go build -o "$out" rtcsec-pion-bench
log "built $out"
