# shellcheck shell=bash
# Sourced by tests/browser/run.sh: the Chromium driver (Debian chromium).

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# shellcheck disable=SC2034 # declared and read by run.sh
DRIVER_BIN["chromium"]=$CHROMIUM
# shellcheck disable=SC2034
DRIVER_PACKAGE["chromium"]=chromium
# What Chromium 156 offers in its ClientHello's use_srtp, in its order; the
# suite runs each in both DTLS roles and its capture check fails if the
# browser's offer stops being exactly this.
# shellcheck disable=SC2034 # used by run.sh
CHROMIUM_PROFILES=(SRTP_AES128_CM_HMAC_SHA1_80 SRTP_AEAD_AES_256_GCM SRTP_AEAD_AES_128_GCM)

# The browser settings a case may ask for (run.sh's VARIANT): extra
# command-line switches, with "--disable-features=" ones merged into the
# driver's own list (Chromium reads only one such switch). Chromium 156
# offers DTLS 1.3 and sends an X25519MLKEM768 key share in every WebRTC
# ClientHello by default; "nopq" turns that share off with its
# WebRtcPqcForDtls feature. "force12" is the field trial older Chromium took
# to offer DTLS 1.2 only (WebRTC-ForceDtls13: Disabled or Only); Chromium
# 156 no longer has it (see chromium_variant_missing).
# shellcheck disable=SC2034 # read by run.sh
declare -A CHROMIUM_VARIANTS=(
  [force12]="--force-fieldtrials=WebRTC-ForceDtls13/Disabled/"
  [nopq]="--disable-features=WebRtcPqcForDtls"
)

# The real binary (/usr/bin/chromium is Debian's wrapper script).
chromium_binary() {
  local real=/usr/lib/chromium/chromium
  [[ "$CHROMIUM" == /usr/bin/chromium && -x "$real" ]] && echo "$real" || echo "$CHROMIUM"
}

# chromium_variant_missing VARIANT: why this Chromium cannot do it, or
# nothing. A field trial or feature Chromium does not know is ignored
# without a word, so its name must be in the binary.
chromium_variant_missing() {
  local arg=${CHROMIUM_VARIANTS[$1]} trial feature
  if [[ "$arg" == --disable-features=* ]]; then
    for feature in $(tr , " " <<<"${arg#--disable-features=}"); do
      LC_ALL=C grep -q -a -F "$feature" "$(chromium_binary)" && continue
      echo "$("$CHROMIUM" --version 2>/dev/null | tail -n 1) does not know the feature" \
        "$feature (the name is not in $(chromium_binary)): it would ignore ${arg} and" \
        "the '$1' setting cannot be made"
      return 0
    done
    return 0
  fi
  [[ "$arg" == --force-fieldtrials=* ]] || return 0
  trial=${arg#--force-fieldtrials=}
  trial=${trial%%/*}
  if ! LC_ALL=C grep -q -a -F "$trial" "$(chromium_binary)"; then
    echo "$("$CHROMIUM" --version 2>/dev/null | tail -n 1) does not know the field trial" \
      "$trial (the name is not in $(chromium_binary)): it would ignore ${arg} and go on" \
      "offering DTLS 1.3, and no other switch of it makes it offer DTLS 1.2 only"
  fi
}

# chromium_start NS DIR TAG URL [VARIANT]: one headless Chromium in the
# namespace, in a process group of its own (setsid), so that the caller can
# stop it and its helpers with kill -- -PID. Sets BROWSER_PID.
chromium_start() {
  local ns=$1 dir=$2 tag=$3 url=$4 variant=${5:-}
  local disable=WebRtcHideLocalIpsWithMdns extra=() arg
  if [[ -n "$variant" ]]; then
    for arg in ${CHROMIUM_VARIANTS[$variant]}; do
      if [[ "$arg" == --disable-features=* ]]; then
        disable+=",${arg#--disable-features=}"
      else
        extra+=("$arg")
      fi
    done
  fi
  setsid ip netns exec "$ns" "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/chromium-profile$tag" --use-fake-device-for-media-stream \
    --use-fake-ui-for-media-stream --disable-features="$disable" \
    --autoplay-policy=no-user-gesture-required "${extra[@]}" "$url" >"$dir/browser$tag.log" \
    2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by run.sh
  BROWSER_PID=$!
}

# chromium_log_tail FILE: its log without the D-Bus and font noise.
chromium_log_tail() {
  grep -vE 'dbus|Fontconfig|^\[.*(bus\.cc|object_proxy)|unexpected operator' "$1" | tail -n 15
}
