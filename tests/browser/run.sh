#!/usr/bin/env bash
# Browser interop: headless Chromium (Debian chromium) and Firefox (Debian
# firefox-esr) call rtcsec-echo and must see their own camera and
# microphone come back through rtcsec's ICE, DTLS and SRTP, in both DTLS
# roles and with every SRTP profile each browser offers; every data-channel
# message must come back byte-identical over SCTP in DTLS; NACKs must be
# answered from rtcsec's cache; a wrong fingerprint must make rtcsec refuse
# the association; two calls at once must share one port in single-port
# mode. The DTLS handshakes are captured and checked on the wire: each
# browser offers DTLS 1.3 with a ClientHello split over two datagrams, and
# the version, cipher suite and key exchange group selected are the ones the
# case expects.
#
# What is expected: rtcsec as DTLS server answers DTLS 1.3 (its own engine,
# rtcsec_dtls_config.enable_dtls13, default 1) with TLS_AES_128_GCM_SHA256
# and the post-quantum hybrid key exchange X25519MLKEM768 (enable_mlkem,
# default 1: both browsers send its key share); rtcsec as DTLS client speaks
# DTLS 1.2 (OpenSSL: rtcsec's DTLS 1.3 engine is server-only). The version
# cases show the DTLS 1.2 path still works: with 1.3 off in rtcsec
# (rtcsec-echo --no-dtls13) and with the browser told to offer 1.2 only; the
# key exchange cases show x25519 is taken when rtcsec or the browser leaves
# the hybrid group out, without a HelloRetryRequest.
#
# Everything runs inside one network namespace this script creates and
# always deletes (tests/browser/netns.sh: a veth pair with both ends inside,
# 10.77.0.1 and 10.77.0.2, and a /32 host route for Firefox). rtcsec-echo
# serves HTTP on the namespace's 127.0.0.1 (a secure context, so the page
# may use getUserMedia) and gathers ICE on 10.77.0.1. No packet leaves the
# namespace. The browsers are driven by tests/browser/chromium.sh and
# firefox.sh; no browser driver is needed: the page runs the call and POSTs
# a getStats() summary every second.
#
# Each case starts one rtcsec-echo (--report FILE, --exit-after) and one
# browser on http://127.0.0.1:PORT/?dtls=client|server; tests/browser/
# check.py reads the reports and rtcsec's /stats (bounded wait) and asserts:
#   media cases     browser: transport.dtlsState "connected", tlsVersion
#                   the case's expected version, dtlsCipher non-empty,
#                   srtpCipher the forced profile, dtlsRole the opposite of
#                   rtcsec's; an inbound audio stream with packetsReceived
#                   > 0 and an inbound video stream with framesDecoded > 0,
#                   both on the SSRCs rtcsec declared (the echoed tracks); a
#                   selected pair on 10.77.0.x. rtcsec: DTLS connected in the
#                   expected role with the forced profile, SRTP packets in
#                   and out, no SRTP authentication failure.
#   nack cases      the media checks (default profiles), with rtcsec-echo
#                   --test-drop-video 20: every 20th echoed video packet is
#                   not sent the first time; the browser must NACK (its
#                   inbound nackCount > 0), rtcsec must resend from its cache
#                   (echo.nack_resent >= half of echo.test_dropped, >= 3
#                   dropped) and video frames keep being decoded.
#   dtls12 cases    the media checks with rtcsec-echo --no-dtls13
#                   (enable_dtls13 = 0): the browser offers 1.3, rtcsec is
#                   the DTLS server and answers DTLS 1.2 (OpenSSL).
#   force12 cases   the media checks with the browser told to offer DTLS 1.2
#                   only (Chromium: --force-fieldtrials=
#                   WebRTC-ForceDtls13/Disabled/; Firefox:
#                   media.peerconnection.dtls.version.max 771): its
#                   ClientHello offers no FEFC and rtcsec answers DTLS 1.2.
#   pq cases        the media checks with the browser's post-quantum
#                   settings on explicitly (Firefox: media.webrtc.
#                   enable_pq_hybrid_kex and send_mlkem_keyshare true;
#                   Chromium: its default): X25519MLKEM768 from its share.
#   nopq cases      the browser's post-quantum key exchange off (Firefox:
#                   both prefs false; Chromium: --disable-features=
#                   WebRtcPqcForDtls): X25519MLKEM768 neither listed in
#                   supported_groups nor sent as a share (on the wire), x25519.
#   pqnoshare cases (Firefox) X25519MLKEM768 listed in supported_groups but
#                   no share of it sent (send_mlkem_keyshare false; both on
#                   the wire): x25519 at once, no HelloRetryRequest for the
#                   hybrid share.
#   nomlkem cases   rtcsec-echo --no-mlkem (enable_mlkem 0) against the
#                   browser's X25519MLKEM768 share: x25519, no retry.
#   wrongfp cases   rtcsec-echo --test-wrong-fingerprint: rtcsec's /stats
#                   says DTLS failed with the fingerprint mismatch error,
#                   no SRTP packet either way; its log says "DTLS FAILED"
#                   with the reason; the browser's dtlsState is "failed" and
#                   it received no media packet.
#   data cases      the media checks (default profiles) and the page's
#                   data-channel test (?dc=test, tools/echo/datachannel.js):
#                   a DCEP channel "echo" and a negotiated one (id 1) open;
#                   200 messages on each, 0 bytes to 64 KiB, strings and
#                   binary, each back identical and in order; then 1 MiB in
#                   16 KiB messages ("send 1 MB"), every byte back
#                   identical. rtcsec's /stats: both channels open, every
#                   message and byte echoed, no error. One missing or
#                   different message fails the case.
#   dcbad cases     rtcsec-echo --test-corrupt-echo 100: the 100th message
#                   each call echoes comes back altered; the data-channel
#                   checks must report exactly that one mismatch and nothing
#                   else (the proof that they can fail).
#   single cases    rtcsec-echo --single-port 10.77.0.1:0 (SFU mode: one UDP
#                   socket, rtcsec ICE-lite through rtcsec_router) and TWO
#                   browsers at once on the same port, one ?dtls=client, one
#                   ?dtls=server. Each call: the media checks above in its
#                   role (PROFILE forced unless "default"); rtcsec's SDP said
#                   a=ice-lite; the browser's selected pair has rtcsec's side
#                   at 10.77.0.1:the single port; the router nominated
#                   exactly the browser's side of it. Both in one /stats
#                   snapshot: different ufrags and 5-tuples, the router
#                   counting 2 sessions, 2 nominated, 2 transports. In
#                   single:default both pages run the data-channel test too
#                   (checks as above): data channels through the router.
# After the last case, tests/browser/wire.py checks every call's handshake
# in the capture (dumpcap, DTLS records only; tshark and its own reading of
# the ServerHello): the ServerHello selects the expected version (1.3: the
# expected cipher suite and key_share group, and no HelloRetryRequest; 1.2:
# the ServerKeyExchange's group); when the browser is the DTLS client, its
# first ClientHello offers FEFC (DTLS 1.3) unless the case turned that off,
# carries the X25519MLKEM768 key share when the case expects one (and then
# spans at least two datagrams), and its use_srtp list is exactly the
# driver's profile list. A case passes only if both its live checks and its
# capture checks pass. tests/browser/table.py then prints one line per call:
# versions, cipher, group, profile, packets and frames each way, ICE
# connected -> DTLS connected ms, the data-channel test's messages back and
# 1 MiB round-trip throughput; and ICE -> DTLS per browser and DTLS version.
#
# Usage: tests/browser/run.sh PATH/TO/rtcsec-echo [CASE...]
#   CASE: BROWSER:client:PROFILE, BROWSER:server:PROFILE, BROWSER:nack:ROLE,
#   BROWSER:wrongfp:ROLE, BROWSER:data:ROLE, BROWSER:dcbad:ROLE,
#   BROWSER:single:PROFILE, BROWSER:dtls12:server, BROWSER:force12:server,
#   BROWSER:pq:server, BROWSER:nopq:server, BROWSER:nomlkem:server,
#   firefox:pqnoshare:server, with BROWSER chromium or firefox, ROLE client
#   or server, PROFILE an SRTP profile name or "default". Default: for each
#   browser in $BROWSERS, both roles x every profile it offers, both nack,
#   wrongfp and data cases, single:SRTP_AEAD_AES_128_GCM and single:default,
#   dtls12:server, nopq:server and nomlkem:server; and chromium:dcbad:client,
#   firefox:force12:server, firefox:pq:server and firefox:pqnoshare:server
#   (18 for Chromium, 22 for Firefox). chromium:pq:server is the default
#   Chromium (every chromium:server case shows X25519MLKEM768); and
#   chromium:force12:server is not among them: Chromium 156 has no
#   WebRTC-ForceDtls13 field trial any more, so the case fails at once and
#   says so (tests/browser/chromium.sh).
# Environment: BROWSERS (default "chromium firefox"), BROWSER_JOBS (cases at
# once, default 3), CHROMIUM, FIREFOX (the binaries), BROWSER_KEEP=1 keeps
# the work directory (reports, logs, the capture).
# Ends with the table and "N passed, N failed"; exits 1 if any case failed.
# Never skips: a missing browser, tool or namespace support is a failure
# that says why.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Each driver says where its binary is and which Debian package has it, and
# defines BROWSER_start and BROWSER_log_tail.
declare -A DRIVER_BIN=() DRIVER_PACKAGE=()
# shellcheck source=tests/browser/netns.sh
source "$HERE/netns.sh"
# shellcheck source=tests/browser/chromium.sh
source "$HERE/chromium.sh"
# shellcheck source=tests/browser/firefox.sh
source "$HERE/firefox.sh"

ECHO_BIN=${1:-}
shift || true
JOBS=${BROWSER_JOBS:-3}
read -r -a BROWSER_LIST <<<"${BROWSERS:-chromium firefox}"
WAIT_MEDIA_S=40  # a media case passes as soon as a report shows everything
WAIT_FAIL_S=30   # a wrong-fp case waits for both sides to show the failure
WAIT_SINGLE_S=60 # a single-port case: two calls at once on a busy machine
WAIT_DATA_S=60   # a data case: media, then 2 x 200 messages and 1 MiB back
START_S=15       # rtcsec-echo must print its URL within this
ECHO_LIFE_S=120  # --exit-after for each rtcsec-echo (a backstop)
NACK_DROP_EVERY=20
CORRUPT_ECHO=100 # dcbad: the echo altered (a test message on either channel)
NS=rtcsec-b$$
# What each call must negotiate, as getStats(), rtcsec's /stats and the
# handshake on the wire say it (versions in hex): rtcsec as DTLS server
# answers the browsers' DTLS 1.3 offer with 1.3; as DTLS client it speaks
# 1.2. The group rtcsec picks as server from the browser's key shares
# (rtcsec_kex_group_name()): both browsers send X25519MLKEM768 and x25519
# shares, and rtcsec takes the hybrid first.
SERVER_VERSION=FEFC
CLIENT_VERSION=FEFD
SERVER_GROUP=X25519MLKEM768
# rtcsec's DTLS 1.3 group when the hybrid one is out (rtcsec-echo
# --no-mlkem, or a browser that sends no share of it).
CLASSIC_GROUP=x25519
# OpenSSL's DTLS 1.2 server (rtcsec-echo --no-dtls13, or a browser offering
# 1.2 only): ECDHE over X25519, its first group.
DTLS12_GROUP=x25519

# browser_missing BROWSER: why it cannot run, or nothing.
browser_missing() {
  local bin=${DRIVER_BIN[$1]:-}
  if [[ -z "$bin" ]]; then
    echo "unknown browser '$1' (chromium or firefox)"
  elif [[ ! -x "$bin" ]]; then
    echo "$bin is missing. Install Debian's ${DRIVER_PACKAGE[$1]} (bash scripts/setup.sh does," \
      "or: apt-get install -y --no-install-recommends ${DRIVER_PACKAGE[$1]})"
  fi
}

profiles_of() { # BROWSER: the SRTP profiles it offers
  case "$1" in
  chromium) echo "${CHROMIUM_PROFILES[*]}" ;;
  firefox) echo "${FIREFOX_PROFILES[*]}" ;;
  esac
}

CASES=("$@")
if ((${#CASES[@]} == 0)); then
  for b in "${BROWSER_LIST[@]}"; do
    for mode in client server; do
      for p in $(profiles_of "$b"); do
        CASES+=("$b:$mode:$p")
      done
    done
    CASES+=("$b:nack:client" "$b:nack:server" "$b:wrongfp:client" "$b:wrongfp:server")
    CASES+=("$b:data:client" "$b:data:server")
    [[ "$b" == chromium ]] && CASES+=("$b:dcbad:client")
    CASES+=("$b:single:SRTP_AEAD_AES_128_GCM" "$b:single:default")
    CASES+=("$b:dtls12:server" "$b:nopq:server" "$b:nomlkem:server")
    # Chromium 156 cannot be told to offer DTLS 1.2 only any more (its
    # chromium:force12:server fails and says why): Firefox's case shows it.
    [[ "$b" == firefox ]] && CASES+=("$b:force12:server" "$b:pq:server" "$b:pqnoshare:server")
  done
fi

work=""
ns_made=0
CAPTURE_PID=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  # The case runners (this script's own background jobs), then whatever
  # they started in the namespace.
  local jobs_left
  jobs_left=$(jobs -p)
  # shellcheck disable=SC2086
  [[ -n "$jobs_left" ]] && kill $jobs_left 2>/dev/null
  capture_stop
  ((ns_made)) && ns_delete "$NS"
  if [[ -n "$work" && "${BROWSER_KEEP:-0}" != 1 ]]; then
    rm -rf "$work"
  elif [[ -n "$work" ]]; then
    echo "browser: work directory kept: $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail_all REASON: every case fails for one reason (no netns, no tshark...).
fail_all() {
  echo "browser: FAILED before any call: $*" >&2
  for c in "${CASES[@]}"; do
    echo "FAIL $c: $*"
  done
  echo "0 passed, ${#CASES[@]} failed"
  exit 1
}

[[ -n "$ECHO_BIN" && -x "$ECHO_BIN" ]] ||
  fail_all "rtcsec-echo not found or not executable: '${ECHO_BIN}' (usage: $0 PATH/TO/rtcsec-echo)"
command -v python3 >/dev/null || fail_all "python3 is missing (it reads the reports)"
command -v ip >/dev/null || fail_all "ip (iproute2) is missing: no network namespace"
for tool in dumpcap tshark; do
  command -v "$tool" >/dev/null ||
    fail_all "$tool is missing: the DTLS handshakes cannot be captured and checked." \
      "Install Debian's tshark (bash scripts/setup.sh does, or: apt-get install -y" \
      "--no-install-recommends tshark)"
done
if ((EUID != 0)); then
  fail_all "creating a network namespace needs root (running as uid $EUID)"
fi
# A browser that cannot run fails its own cases, with the reason.
declare -A MISSING=()
for c in "${CASES[@]}"; do
  b=${c%%:*}
  [[ -n "${MISSING[$b]+x}" ]] && continue
  MISSING[$b]=$(browser_missing "$b")
done

work=$(mktemp -d /tmp/rtcsec-browser.XXXXXX)
if ! err=$(ns_create "$NS"); then
  ns_made=1
  fail_all "$err"
fi
ns_made=1
if ! err=$(capture_start "$NS" "$work/dtls.pcapng" "$work/dumpcap.log"); then
  fail_all "$err"
fi

case_dir() { echo "$work/${1//[:]/_}"; }

# run_case NAME: one case; writes DIR/result ("PASS ..."/"FAIL ..."),
# DIR/case.out (what to print) and, once its checks ran, DIR/case.json.
run_case() {
  local name=$1 browser kind mode profile rest variant="" echo_extra=()
  local server_version=$SERVER_VERSION server_group=$SERVER_GROUP offer13=yes mlkem_share=yes
  local mlkem_listed=any
  local dir
  dir=$(case_dir "$name")
  mkdir -p "$dir"
  local out="$dir/case.out"
  echo "== $name" >"$out"
  browser=${name%%:*}
  rest=${name#*:}
  if [[ -n "${MISSING[$browser]}" ]]; then
    echo "FAIL $name: the browser cannot be started: ${MISSING[$browser]}" >"$dir/result"
    return
  fi
  case "$rest" in
  client:* | server:*) kind=media mode=${rest%%:*} profile=${rest#*:} ;;
  wrongfp:client | wrongfp:server) kind=wrongfp mode=${rest#*:} profile=default ;;
  nack:client | nack:server) kind=nack mode=${rest#*:} profile=default ;;
  data:client | data:server) kind=data mode=${rest#*:} profile=default ;;
  dcbad:client | dcbad:server) kind=dcbad mode=${rest#*:} profile=default ;;
  single:*) kind=single mode=both profile=${rest#*:} ;;
  dtls12:server)
    kind=media mode=server profile=default echo_extra=(--no-dtls13)
    server_version=FEFD server_group=$DTLS12_GROUP
    ;;
  force12:server)
    kind=media mode=server profile=default variant=force12
    server_version=FEFD server_group=$DTLS12_GROUP offer13=no mlkem_share=no
    ;;
  pq:server)
    kind=media mode=server profile=default
    [[ "$browser" == firefox ]] && variant=pq
    ;;
  nopq:server)
    kind=media mode=server profile=default variant=nopq
    server_group=$CLASSIC_GROUP mlkem_share=no mlkem_listed=no
    ;;
  pqnoshare:server)
    kind=media mode=server profile=default variant=pqnoshare
    server_group=$CLASSIC_GROUP mlkem_share=no mlkem_listed=yes
    ;;
  nomlkem:server)
    kind=media mode=server profile=default echo_extra=(--no-mlkem)
    server_group=$CLASSIC_GROUP
    ;;
  *)
    echo "FAIL $name: unknown case (see the usage in $0)" >"$dir/result"
    return
    ;;
  esac
  if [[ -n "$variant" ]]; then
    local -n variants="${browser^^}_VARIANTS"
    if [[ -z "${variants[$variant]+x}" ]]; then
      echo "FAIL $name: $browser's driver has no '$variant' setting (tests/browser/$browser.sh)" \
        >"$dir/result"
      return
    fi
    local why
    why=$("${browser}_variant_missing" "$variant")
    if [[ -n "$why" ]]; then
      echo "FAIL $name: $why" >"$dir/result"
      return
    fi
  fi
  local t0=$SECONDS t_start
  t_start=$(date +%s.%N)
  local echo_args=(--listen 127.0.0.1:0 --report "$dir/report.jsonl" --exit-after "$ECHO_LIFE_S")
  # single: every call on one UDP port of rtcsec's (port 0: rtcsec picks
  # one and prints it), no libnice.
  if [[ "$kind" == single ]]; then
    echo_args+=(--single-port "$NS_ADDR_ECHO:0")
  else
    echo_args+=(--ice-address "$NS_ADDR_ECHO")
  fi
  [[ "$profile" != default ]] && echo_args+=(--profiles "$profile")
  [[ "$kind" == wrongfp ]] && echo_args+=(--test-wrong-fingerprint)
  [[ "$kind" == nack ]] && echo_args+=(--test-drop-video "$NACK_DROP_EVERY")
  [[ "$kind" == dcbad ]] && echo_args+=(--test-corrupt-echo "$CORRUPT_ECHO")
  echo_args+=("${echo_extra[@]}")
  {
    printf '+ rtcsec-echo'
    printf ' %q' "${echo_args[@]}"
    printf '\n'
  } >>"$out"
  # No stdbuf: its LD_PRELOAD would come before an ASan runtime; the tool
  # line-buffers its stdout itself.
  ip netns exec "$NS" "$ECHO_BIN" "${echo_args[@]}" \
    >"$dir/echo.stdout" 2>"$dir/echo.log" </dev/null &
  local echo_pid=$!
  local port="" deadline=$((SECONDS + START_S))
  while ((SECONDS < deadline)); do
    port=$(grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+/' "$dir/echo.stdout" 2>/dev/null |
      grep -oE '[0-9]+/$' | tr -d /)
    [[ -n "$port" ]] && break
    kill -0 "$echo_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    kill "$echo_pid" 2>/dev/null
    wait "$echo_pid" 2>/dev/null
    {
      echo "  rtcsec-echo printed no 'listening on' line; its output:"
      sed 's/^/    /' "$dir/echo.stdout" "$dir/echo.log"
    } >>"$out"
    echo "FAIL $name: rtcsec-echo did not start" >"$dir/result"
    return
  fi
  local sp_args=() modes=("$mode")
  if [[ "$kind" == single ]]; then
    # The port is printed before "listening on".
    local sp_addr="" sp_port=""
    read -r sp_addr sp_port < <(sed -nE 's/^single port: udp ([0-9.]+):([0-9]+) .*/\1 \2/p' \
      "$dir/echo.stdout" | head -n 1)
    if [[ "$sp_addr" != "$NS_ADDR_ECHO" || -z "$sp_port" ]]; then
      kill "$echo_pid" 2>/dev/null
      wait "$echo_pid" 2>/dev/null
      echo "FAIL $name: rtcsec-echo printed no 'single port: udp $NS_ADDR_ECHO:PORT' line" \
        >"$dir/result"
      return
    fi
    echo "+ single port: udp $NS_ADDR_ECHO:$sp_port" >>"$out"
    sp_args=(--single "$NS_ADDR_ECHO" "$sp_port")
    modes=(client server) # two calls at once through that one port
  fi
  local browser_pids=() m
  local dc_param="" dc_check=()
  if [[ "$kind" == data || "$kind" == dcbad || "$name" == *:single:default ]]; then
    dc_param="&dc=test"
    dc_check=(--data)
  fi
  for m in "${modes[@]}"; do
    local url="http://127.0.0.1:$port/?dtls=$m$dc_param" tag=""
    [[ "$kind" == single ]] && tag="-$m"
    echo "+ $browser (headless, fake camera and microphone${variant:+, $variant}) $url" >>"$out"
    "${browser}_start" "$NS" "$dir" "$tag" "$url" "$variant"
    browser_pids+=("$BROWSER_PID")
  done
  local wait_s=$WAIT_MEDIA_S
  [[ "$kind" == wrongfp ]] && wait_s=$WAIT_FAIL_S
  [[ "$kind" == single ]] && wait_s=$WAIT_SINGLE_S
  [[ "$kind" == data || "$kind" == dcbad ]] && wait_s=$WAIT_DATA_S
  local check_rc=0
  # A browser dying early shows up as "no report"; its log tail is printed.
  ip netns exec "$NS" python3 "$HERE/check.py" --kind "$kind" --mode "$mode" \
    --profile "$profile" --browser "$browser" --case "$name" \
    --expect-server-version "$server_version" --expect-client-version "$CLIENT_VERSION" \
    --expect-group "$server_group" --expect-offer13 "$offer13" --expect-mlkem-share "$mlkem_share" \
    --expect-mlkem-listed "$mlkem_listed" \
    "${dc_check[@]}" \
    --reports "$dir/report.jsonl" --stats "http://127.0.0.1:$port/stats" --log "$dir/echo.log" \
    --timeout "$wait_s" --t-start "$t_start" --out "$dir/case.json" "${sp_args[@]}" \
    >>"$out" 2>&1 || check_rc=$?
  local browser_alive=1 pid
  for pid in "${browser_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || browser_alive=0
    kill -- -"$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # SIGTERM: rtcsec-echo stops its loop, prints a summary, frees everything
  # and exits 0; under the sanitizers a leak or error makes that non-zero.
  local echo_rc=0
  kill "$echo_pid" 2>/dev/null
  wait "$echo_pid" 2>/dev/null || echo_rc=$?
  if ((echo_rc != 0)); then
    echo "  problem: rtcsec-echo exited with status $echo_rc after SIGTERM (want 0)" >>"$out"
    check_rc=1
  fi
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$dir/echo.log"; then
    echo "  problem: rtcsec-echo's log has a sanitizer report" >>"$out"
    check_rc=1
  fi
  # The browser profiles are what is big (Firefox's ~25 MB): gone now, while
  # other cases run, unless the work directory is kept.
  [[ "${BROWSER_KEEP:-0}" == 1 ]] || rm -rf "$dir"/*-profile*
  local dt=$((SECONDS - t0))
  if ((check_rc == 0)); then
    echo "  rtcsec-echo log (DTLS lines):" >>"$out"
    grep -E 'DTLS|summary' "$dir/echo.log" | sed 's/^/    /' | head -n 8 >>"$out"
    echo "PASS $name (${dt} s)" >"$dir/result"
  else
    {
      if ((!browser_alive)); then
        echo "  $browser had exited before the checks ended; its log:"
        for f in "$dir"/browser*.log; do
          "${browser}_log_tail" "$f" | sed 's/^/    /'
        done
      fi
      echo "  rtcsec-echo log (last lines):"
      tail -n 25 "$dir/echo.log" | sed 's/^/    /'
    } >>"$out"
    echo "FAIL $name (${dt} s): see the problems above" >"$dir/result"
  fi
}

for b in "${BROWSER_LIST[@]}"; do
  if [[ -z "${MISSING[$b]:-}" && -n "${MISSING[$b]+x}" ]]; then
    echo "browser: $("${DRIVER_BIN[$b]}" --version 2>/dev/null | tail -n 1)"
  fi
done
echo "browser: namespace $NS, ${#CASES[@]} case(s), $JOBS at a time"
start=$SECONDS
# Two-browser cases first: they are the longest.
ORDER=()
for c in "${CASES[@]}"; do [[ "$c" == *:single:* ]] && ORDER+=("$c"); done
for c in "${CASES[@]}"; do [[ "$c" != *:single:* ]] && ORDER+=("$c"); done
running=0
for c in "${ORDER[@]}"; do
  run_case "$c" &
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n
    running=$((running - 1))
  fi
done
wait
live_s=$((SECONDS - start))

# ---- the handshakes on the wire -----------------------------------------------
capture_stop
dirs=()
jsons=()
for c in "${CASES[@]}"; do
  d=$(case_dir "$c")
  dirs+=("$d")
  [[ -f "$d/case.json" ]] && jsons+=("$d/case.json")
done
offers=()
for b in chromium firefox; do
  offers+=(--offer "$b=$(profiles_of "$b" | tr ' ' ',')")
done
wire_err=""
if ((${#jsons[@]} > 0)) && ! python3 "$HERE/wire.py" "$work/dtls.pcapng" "${jsons[@]}" \
  "${offers[@]}" >"$work/wire.log" 2>&1; then
  wire_err="the capture check could not run: $(tail -n 5 "$work/wire.log" | tr '\n' ' ')"
fi

passed=0
failed=0
for c in "${CASES[@]}"; do
  d=$(case_dir "$c")
  cat "$d/case.out" 2>/dev/null
  cat "$d/case.wire" 2>/dev/null
  result=$(cat "$d/result" 2>/dev/null || echo "FAIL $c: no result")
  if [[ "$result" == PASS* ]]; then
    if [[ -n "$wire_err" ]]; then
      result="FAIL ${result#PASS }: $wire_err"
    elif [[ ! -f "$d/case.json" ]]; then
      result="FAIL ${result#PASS }: no case.json for the capture check"
    elif grep -q 'problem (wire)' "$d/case.wire" 2>/dev/null || [[ ! -f "$d/case.wire" ]]; then
      result="FAIL ${result#PASS }: the capture check failed (see 'problem (wire)')"
    fi
    echo "$result" >"$d/result"
  fi
  echo "$result"
  if [[ "$result" == PASS* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo
echo "browser: summary, one line per call (RTP and frames: browser>rtcsec / rtcsec>browser;"
echo "ICE>DTLS: ICE connected to DTLS connected, rtcsec's view / the browser's; data: test"
echo "messages back identical / sent on both channels, and the 1 MiB round trip in MB/s)"
python3 "$HERE/table.py" "${dirs[@]}"
echo
echo "browser: the calls took $live_s s, all cases with the capture check $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
((failed == 0))
