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

# firefox_start NS DIR TAG URL: one headless Firefox in the namespace with a
# fresh profile whose user.js gives the fake camera and microphone without
# a prompt, plain host candidates (no mDNS names), autoplay, and no update,
# telemetry or network probes; page console messages go to its log. Its own
# process group, as for Chromium. Sets BROWSER_PID.
firefox_start() {
  local ns=$1 dir=$2 tag=$3 url=$4
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
  MOZ_HEADLESS=1 setsid ip netns exec "$ns" "$FIREFOX" --headless --no-remote \
    --profile "$profile" "$url" >"$dir/browser$tag.log" 2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by run.sh
  BROWSER_PID=$!
}

firefox_log_tail() {
  grep -vE 'Exiting due to channel error|RenderCompositorSWGL|running in headless mode' "$1" |
    tail -n 15
}
