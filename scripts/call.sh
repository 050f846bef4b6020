#!/usr/bin/env bash
# A DTLS-SRTP call over loopback between two rtcsec-dtls processes, each
# verifying the other's certificate fingerprint; prints both sides' output.
# (This was scripts/run.sh before the browser demo became the main job.)
#
# Both certificates are made here with the openssl CLI first, so each side can
# be given the other's fingerprint at start (the server could not learn the
# client's otherwise).
#
# After the handshake each side sends 2000 RTP packets (and an RTCP sender
# report every 50) through its transport; each verifies every packet of the
# other (payload, sequence, no loss, no replay) and prints its counters.
#
# Usage: bash scripts/call.sh [extra rtcsec-dtls options for both sides,
#                             e.g. --profiles SRTP_AEAD_AES_128_GCM]
#        SEND_RTP=N bash scripts/call.sh   (N packets each way; default 2000)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOOL=build/tools/rtcsec-dtls
TARGET=rtcsec-dtls
START_TIMEOUT=10 # s for the server to print its port
CALL_TIMEOUT=60  # s for the client to finish
SERVER_GRACE=5   # s for the server to finish after the client

die() {
  echo "call: $*" >&2
  exit 1
}
step() { printf '\n== %s\n' "$*"; }
show_cmd() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
}

tmp=""
server_pid=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$tmp" ]]; then
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "setup"
bash scripts/setup.sh

step "building"
# Same options as scripts/test.sh, so switching between the two does not
# rebuild everything.
if [[ ! -f build/meson-private/coredata.dat ]]; then
  meson setup build --buildtype=debugoptimized -Dwerror=true
fi
# Only the tool: a test that does not compile must not stop the demo.
if grep -q "\"name\": \"$TARGET\"" build/meson-info/intro-targets.json 2>/dev/null; then
  meson compile -C build -j "$(nproc)" "$TARGET"
else
  meson compile -C build -j "$(nproc)"
fi
[[ -x "$TOOL" ]] || die "$TOOL was not built: tools/meson.build does not define the '$TARGET' program yet"

tmp=$(mktemp -d /tmp/rtcsec-call.XXXXXX)

# make_cert NAME: NAME.pem + NAME.key (self-signed EC P-256, as browsers use);
# prints the fingerprint as SDP writes it: "sha-256 AB:CD:...".
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=rtcsec -keyout "$tmp/$1.key" -out "$tmp/$1.pem" >/dev/null 2>&1 ||
    die "openssl req failed to make the $1 certificate"
  local fp
  fp=$(openssl x509 -noout -fingerprint -sha256 -in "$tmp/$1.pem") ||
    die "openssl x509 failed on the $1 certificate"
  # OpenSSL 3 prints "sha256 Fingerprint=AB:..", 1.1 "SHA256 Fingerprint=AB:..".
  echo "sha-256 ${fp#*=}"
}

# wait_line FILE REGEX PID: the first line of FILE matching REGEX, waiting up
# to START_TIMEOUT s while process PID is alive.
wait_line() {
  local file=$1 re=$2 pid=$3 line
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if line=$(grep -m1 -E "$re" "$file" 2>/dev/null); then
      printf '%s\n' "$line"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # One last look: the process may have printed the line and exited.
  grep -m1 -E "$re" "$file" 2>/dev/null
}

step "certificates"
server_fp=$(make_cert server)
client_fp=$(make_cert client)
echo "server: $server_fp"
echo "client: $client_fp"

step "DTLS-SRTP call over loopback"
server_cmd=("$TOOL" --listen 127.0.0.1:0 --cert "$tmp/server.pem" --key "$tmp/server.key"
  --fingerprint "$client_fp" --send-rtp "${SEND_RTP:-2000}" "$@")
show_cmd "${server_cmd[@]}"
# stdbuf: line-buffered stdout even into a file, so the port line shows at once.
stdbuf -oL -eL "${server_cmd[@]}" </dev/null >"$tmp/server.out" 2>&1 &
server_pid=$!

if ! listen_line=$(wait_line "$tmp/server.out" '^listening on [0-9.]+:[0-9]+' "$server_pid"); then
  echo "--- server output"
  cat "$tmp/server.out"
  die "the server printed no 'listening on 127.0.0.1:PORT' line (it exited, or took over ${START_TIMEOUT} s)"
fi
port=${listen_line##*:}
port=${port//[!0-9]/}
echo "server is listening on 127.0.0.1:$port"

client_cmd=("$TOOL" --connect "127.0.0.1:$port" --cert "$tmp/client.pem" --key "$tmp/client.key"
  --fingerprint "$server_fp" --send-rtp "${SEND_RTP:-2000}" "$@")
show_cmd "${client_cmd[@]}"
client_rc=0
timeout "$CALL_TIMEOUT" stdbuf -oL -eL "${client_cmd[@]}" </dev/null >"$tmp/client.out" 2>&1 || client_rc=$?

# The server runs one association and exits once the client has closed it:
# give it a moment, then stop it.
for ((i = 0; i < SERVER_GRACE * 10; i++)); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_state="still running ${SERVER_GRACE} s after the client finished; stopped"
  server_rc=stuck
else
  server_rc=0
  wait "$server_pid" || server_rc=$?
  server_state="exit status $server_rc"
fi
server_pid=""

echo "--- server output ($server_state)"
cat "$tmp/server.out"
echo "--- client output (exit status $client_rc)"
cat "$tmp/client.out"
echo "---"

status=0
# expect_fp FILE LABEL WANT WHO: if FILE has a "LABEL: ..." line, it must
# show the fingerprint WANT (case-insensitive).
expect_fp() {
  local line
  line=$(grep -m1 "^$2: " "$1") || return 0
  line=${line#"$2: "}
  if [[ "${line,,}" != "${3,,}" ]]; then
    echo "FAILED: $4 prints $2 '$line', expected '$3'"
    status=1
  fi
}
# The tools' own view of their certificates must be what openssl computed.
expect_fp "$tmp/server.out" "local fingerprint" "$server_fp" server
expect_fp "$tmp/client.out" "local fingerprint" "$client_fp" client
expect_fp "$tmp/server.out" "peer fingerprint" "$client_fp" server
expect_fp "$tmp/client.out" "peer fingerprint" "$server_fp" client

# Both sides derive the same exported keying material (RFC 5705, as
# `openssl s_client -keymatexport` prints it). Compared only when each side
# prints exactly one hex value on a "keying material" line.
material() {
  local hex
  hex=$(grep -i 'keying material' "$1" | grep -oiE '[0-9a-f:]{32,}' | tr -d ':' | tr 'a-f' 'A-F')
  [[ -n "$hex" && "$hex" != *$'\n'* ]] && printf '%s\n' "$hex"
}
server_km=$(material "$tmp/server.out" || true)
client_km=$(material "$tmp/client.out" || true)

if ((client_rc == 124)); then
  echo "FAILED: the client did not finish within ${CALL_TIMEOUT} s"
  status=1
elif ((client_rc != 0)); then
  echo "FAILED: the client exited with status $client_rc"
  status=1
fi
if [[ "$server_rc" == stuck ]]; then
  echo "FAILED: the server did not finish its one association"
  status=1
elif ((server_rc != 0)); then
  echo "FAILED: the server exited with status $server_rc"
  status=1
fi
for side in server client; do
  if ! grep -q '^media: verified' "$tmp/$side.out"; then
    echo "FAILED: the $side did not verify the media it received"
    status=1
  fi
done
if [[ -n "$server_km" && -n "$client_km" ]]; then
  if [[ "$server_km" == "$client_km" ]]; then
    echo "keying material: identical on both sides"
  else
    echo "FAILED: keying material differs between server and client"
    status=1
  fi
else
  echo "keying material: not found in both outputs, not compared"
fi
if ((status == 0)); then
  echo "call OK"
fi
exit "$status"
