#!/usr/bin/env bash
# Builds libsrtp2 2.5 from Debian's own source package with its OpenSSL
# crypto backend (--enable-openssl) into a local prefix, so that rtcsec can
# link against it instead of Debian's libsrtp2, which is built on NSS and is
# about 4x slower for AES_CM_128_HMAC_SHA1_80 (see docs/benchmarks.md).
#
# Usage: bash scripts/build-libsrtp-openssl.sh [--force] [--check] [PREFIX]
#   PREFIX   install prefix, default .deps/libsrtp-openssl (git-ignored)
#   --force  rebuild even if PREFIX already holds this build
#   --check  also build and run libsrtp2's own test suite (make runtest)
#
# Then configure a build directory against it:
#   PKG_CONFIG_PATH=$PWD/.deps/libsrtp-openssl/lib/pkgconfig \
#     meson setup build-ossl -Dsrtp_openssl=true
# or equivalently with meson's built-in -Dpkg_config_path=... . The installed
# libsrtp2.pc carries -Wl,-rpath so the programs find the library without
# LD_LIBRARY_PATH. -Dsrtp_openssl=true makes the configure step fail unless
# the libsrtp2 it found is this one (it is a guard; the default build keeps
# Debian's package).
#
# Source: `apt-get source libsrtp2` from a deb-src entry for the Debian suite
# and mirror the machine already uses. If there is none and we run as root,
# /etc/apt/sources.list.d/rtcsec-deb-src.sources is written from the first
# deb822 / one-line "deb" entry of the main suite and `apt-get update` is run.
# Build dependencies: build-essential, dpkg-dev, libssl-dev, pkg-config
# (scripts/setup.sh installs them). Compiler flags are Debian's own for this
# package (dpkg-buildflags, with debian/rules' -O4 -funroll-loops ...), so
# the only difference from Debian's libsrtp2 is the crypto backend.
set -euo pipefail

log() { printf 'build-libsrtp-openssl: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
force=0
check=0
prefix=""
for arg in "$@"; do
  case "$arg" in
  --force) force=1 ;;
  --check) check=1 ;;
  -h | --help)
    sed -n '2,30p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  -*) die "unknown option $arg" ;;
  *) prefix=$arg ;;
  esac
done
prefix=${prefix:-$repo/.deps/libsrtp-openssl}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
stamp=$prefix/.rtcsec-build-stamp
want_stamp="libsrtp2 from Debian source, --enable-openssl, script v1"

if [[ $force == 0 && -f $stamp && "$(cat "$stamp")" == "$want_stamp" &&
  -f $prefix/lib/pkgconfig/libsrtp2.pc ]]; then
  log "already built in $prefix (use --force to rebuild)"
  log "PKG_CONFIG_PATH=$prefix/lib/pkgconfig meson setup build-ossl -Dsrtp_openssl=true"
  exit 0
fi

for tool in apt-get apt-cache dpkg-source dpkg-buildflags make cc; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found: install build-essential dpkg-dev (bash scripts/setup.sh)"
done
[[ -f /usr/include/openssl/evp.h ]] || die "OpenSSL headers missing: apt-get install libssl-dev"

# ---- a deb-src entry for the suite and mirror already in use ----------------

have_source() { apt-cache showsrc libsrtp2 2>/dev/null | grep -q '^Version:'; }

# Prints "URI SUITE" of the first main-archive binary entry (deb822 first,
# then one-line sources.list syntax); skips security and -updates suites.
main_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = uri = suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)  { types = $i;  sub(/^Types:[ \t]*/, "", types) }
          if ($i ~ /^URIs:/)   { uri = $i;    sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
          if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
        }
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && uri != "") {
          n = split(suites, s, /[ \t]+/)
          for (j = 1; j <= n; j++)
            if (s[j] != "" && s[j] !~ /-(security|updates|backports)$/) { print uri, s[j]; exit }
        }
      }' "$f"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" {
           i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
           if ($(i + 1) !~ /-(security|updates|backports)$/) { print $i, $(i + 1); exit }
         }'
}

if ! have_source; then
  read -r mirror suite < <(main_mirror || true) || true
  [[ -n ${mirror:-} && -n ${suite:-} ]] ||
    die "no deb-src entry for libsrtp2 and no Debian mirror found in /etc/apt/sources.list*"
  ((EUID == 0)) || die "no deb-src entry for libsrtp2; as root this script would add
  'deb-src $mirror $suite main' in /etc/apt/sources.list.d/rtcsec-deb-src.sources"
  log "adding deb-src $mirror $suite main (/etc/apt/sources.list.d/rtcsec-deb-src.sources)"
  cat >/etc/apt/sources.list.d/rtcsec-deb-src.sources <<EOF
# Added by rtcsec scripts/build-libsrtp-openssl.sh: Debian source packages
# from the same mirror and suite as the binary entries (apt-get source libsrtp2).
Types: deb-src
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  aptlog=$(mktemp /tmp/rtcsec-srtp-apt.XXXXXX)
  if ! apt-get -q -o DPkg::Lock::Timeout=300 update >"$aptlog" 2>&1; then
    tail -n 20 "$aptlog" >&2
    rm -f "$aptlog"
    die "apt-get update failed (deb-src unreachable?): see the lines above"
  fi
  rm -f "$aptlog"
  have_source || die "apt-get update succeeded but the mirror has no source for libsrtp2"
fi

version=$(apt-cache showsrc libsrtp2 | awk '/^Version:/ { print $2; exit }')
[[ $version == 2.5.* ]] || die "Debian's libsrtp2 source is $version, expected 2.5.x"

# ---- fetch, configure, build, install ----------------------------------------

work=$repo/.deps/src
rm -rf "$work"
mkdir -p "$work"
log "apt-get source libsrtp2 ($version) into $work"
(cd "$work" && apt-get -q source libsrtp2 >"$work/apt-source.log" 2>&1) || {
  tail -n 20 "$work/apt-source.log" >&2
  die "apt-get source libsrtp2 failed"
}
src=$(find "$work" -maxdepth 1 -type d -name 'libsrtp2-2.5*' | head -n 1)
[[ -n $src && -x $src/configure ]] || die "unpacked source not found in $work"

# debian/rules: Debian's hardening flags with -O2 replaced by
# "-O4 -fexpensive-optimizations -funroll-loops", plus -D_REENTRANT.
cflags="$(DEB_BUILD_MAINT_OPTIONS= dpkg-buildflags --get CFLAGS | sed 's/-O2//')"
cflags="$cflags -O4 -fexpensive-optimizations -funroll-loops -D_REENTRANT"
ldflags="$(dpkg-buildflags --get LDFLAGS)"

log "configure --enable-openssl --prefix=$prefix"
(cd "$src" && CFLAGS="$cflags" LDFLAGS="$ldflags" ./configure --prefix="$prefix" \
  --enable-openssl >"$work/configure.log" 2>&1) || {
  tail -n 30 "$work/configure.log" >&2
  die "configure failed (full log: $work/configure.log)"
}
grep -q '^#define OPENSSL 1' "$src/crypto/include/config.h" ||
  die "configure did not enable the OpenSSL backend (see $work/configure.log)"

jobs=$(nproc 2>/dev/null || echo 2)
log "make (-j$jobs)"
(cd "$src" && make -j"$jobs" libsrtp2.a shared_library >"$work/make.log" 2>&1) || {
  tail -n 30 "$work/make.log" >&2
  die "make failed (full log: $work/make.log)"
}
if ((check)); then
  log "make runtest (libsrtp2's own tests against the OpenSSL backend)"
  (cd "$src" && make -j"$jobs" test >>"$work/make.log" 2>&1 &&
    LD_LIBRARY_PATH="$src" make runtest >"$work/runtest.log" 2>&1) || {
    tail -n 30 "$work/runtest.log" >&2
    die "libsrtp2's tests failed (full log: $work/runtest.log)"
  }
fi

rm -rf "$prefix/include/srtp2" "$prefix/lib"
(cd "$src" && make install >"$work/install.log" 2>&1) || {
  tail -n 30 "$work/install.log" >&2
  die "make install failed"
}
pc=$prefix/lib/pkgconfig/libsrtp2.pc
[[ -f $pc ]] || die "make install wrote no $pc"
# Programs linked against the prefix find the library at run time without
# LD_LIBRARY_PATH. OpenSSL goes into Libs too: the static archive and the
# shared library both need libcrypto.
sed -i 's|^Libs: .*|Libs: -L${libdir} -Wl,-rpath,${libdir} -lsrtp2 -lcrypto|' "$pc"
printf '%s\n' "$want_stamp" >"$stamp"

log "installed libsrtp2 $version (OpenSSL backend) in $prefix"
log "configure rtcsec against it with:"
log "  PKG_CONFIG_PATH=$prefix/lib/pkgconfig meson setup build-ossl -Dsrtp_openssl=true"
