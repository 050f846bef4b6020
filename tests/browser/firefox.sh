# shellcheck shell=bash
# Sourced by tests/browser/run.sh: the Firefox driver (Debian firefox-esr).

FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
# shellcheck disable=SC2034 # declared and read by run.sh
DRIVER_BIN["firefox"]=$FIREFOX
# shellcheck disable=SC2034
DRIVER_PACKAGE["firefox"]=firefox-esr
# What Firefox 153 offers in its ClientHello's use_srtp, in its order; the
# suite runs each in both DTLS roles and its capture check fails if the
# browser's offer stops being exactly this.
# shellcheck disable=SC2034 # used by run.sh
FIREFOX_PROFILES=(SRTP_AEAD_AES_128_GCM SRTP_AEAD_AES_256_GCM SRTP_AES128_CM_HMAC_SHA1_80
  SRTP_AES128_CM_HMAC_SHA1_32)

# The browser settings a case may ask for (run.sh's VARIANT): user.js lines.
# Firefox ESR 153 offers DTLS 1.3 (media.peerconnection.dtls.version.max
# 772, TLS 1.3's number in NSS; "force12": 771, DTLS 1.2 only) and has two
# preferences for the hybrid key exchange in WebRTC's DTLS (static prefs,
# named in its libxul; both on by default, so it sends the share):
# media.webrtc.enable_pq_hybrid_kex lists X25519MLKEM768 in
# supported_groups, media.webrtc.send_mlkem_keyshare also sends its key
# share in the first ClientHello (off: the group is listed after x25519,
# with an x25519 share only). "pq" sets both on explicitly, "nopq" both off,
# "pqnoshare" lists the group without sending its share.
# shellcheck disable=SC2034 # read by run.sh
declare -A FIREFOX_VARIANTS=(
  [force12]='user_pref("media.peerconnection.dtls.version.max", 771);'
  [pq]='user_pref("media.webrtc.enable_pq_hybrid_kex", true);
user_pref("media.webrtc.send_mlkem_keyshare", true);'
  [nopq]='user_pref("media.webrtc.enable_pq_hybrid_kex", false);
user_pref("media.webrtc.send_mlkem_keyshare", false);'
  [pqnoshare]='user_pref("media.webrtc.enable_pq_hybrid_kex", true);
user_pref("media.webrtc.send_mlkem_keyshare", false);'
)

# firefox_variant_missing VARIANT: why this Firefox cannot do it, or
# nothing. Firefox ignores a preference it does not know without a word, so
# each name must be one of its own (a static preference compiled into
# libxul, or a default in omni.ja's greprefs.js).
firefox_variant_missing() {
  local lib name missing=()
  lib=$(dirname "$(readlink -f "$FIREFOX")")
  while read -r name; do
    LC_ALL=C grep -q -a -F "$name" "$lib/libxul.so" 2>/dev/null && continue
    unzip -p "$lib/omni.ja" greprefs.js 2>/dev/null | grep -q -F "\"$name\"" && continue
    missing+=("$name")
  done < <(grep -oE 'user_pref\("[^"]+"' <<<"${FIREFOX_VARIANTS[$1]}" | cut -d'"' -f2)
  if ((${#missing[@]})); then
    echo "$("$FIREFOX" --version 2>/dev/null | tail -n 1) has no preference ${missing[*]}" \
      "(not in $lib/libxul.so nor its omni.ja): the '$1' setting cannot be made"
  fi
}

# firefox_start NS DIR TAG URL [VARIANT]: one headless Firefox in the
# namespace with a fresh profile whose user.js gives the fake camera and
# microphone without a prompt, plain host candidates (no mDNS names),
# autoplay, and no update, telemetry or network probes, and the variant's
# lines; page console messages go to its log. Its own process group, as for
# Chromium. Sets BROWSER_PID.
firefox_start() {
  local ns=$1 dir=$2 tag=$3 url=$4 variant=${5:-}
  local profile="$dir/firefox-profile$tag"
  mkdir -p "$profile"
  cat >"$profile/user.js" <<'PREFS'
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("media.autoplay.default", 0);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.region.update.enabled", false);
user_pref("browser.cache.disk.enable", false);
user_pref("browser.sessionstore.resume_from_crash", false);
user_pref("devtools.console.stdout.content", true);
PREFS
  [[ -n "$variant" ]] && printf '%s\n' "${FIREFOX_VARIANTS[$variant]}" >>"$profile/user.js"
  MOZ_HEADLESS=1 setsid ip netns exec "$ns" "$FIREFOX" --headless --no-remote \
    --profile "$profile" "$url" >"$dir/browser$tag.log" 2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by run.sh
  BROWSER_PID=$!
}

firefox_log_tail() {
  grep -vE 'Exiting due to channel error|RenderCompositorSWGL|running in headless mode' "$1" |
    tail -n 15
}
