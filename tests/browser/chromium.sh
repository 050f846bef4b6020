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

# chromium_start NS DIR TAG URL: one headless Chromium in the namespace, in
# a process group of its own (setsid), so that the caller can stop it and
# its helpers with kill -- -PID. Sets BROWSER_PID.
chromium_start() {
  local ns=$1 dir=$2 tag=$3 url=$4
  setsid ip netns exec "$ns" "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/chromium-profile$tag" --use-fake-device-for-media-stream \
    --use-fake-ui-for-media-stream --disable-features=WebRtcHideLocalIpsWithMdns \
    --autoplay-policy=no-user-gesture-required "$url" >"$dir/browser$tag.log" 2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by run.sh
  BROWSER_PID=$!
}

# chromium_log_tail FILE: its log without the D-Bus and font noise.
chromium_log_tail() {
  grep -vE 'dbus|Fontconfig|^\[.*(bus\.cc|object_proxy)|unexpected operator' "$1" | tail -n 15
}
