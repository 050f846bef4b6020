# Shared by the shell tests of rtcsec-dtls (test_tool.sh, test_iot.sh,
# test_turns.sh): a work folder removed on exit with every background
# process, PASS / FAIL lines and counters, bounded waits, and small
# readers of the tool's "key: value" output. Source it after setting
# $tool (the rtcsec-dtls binary); WAIT may be set before (default 15 s).
# shellcheck shell=bash

WAIT=${WAIT:-15} # seconds; every wait below is bounded by it
work=$(mktemp -d "${TMPDIR:-/tmp}/rtcsec-tool-XXXXXX")
pids=()
passed=0
failed=0

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
  echo "PASS: $1"
  passed=$((passed + 1))
}

fail() {
  echo "FAIL: $1"
  shift
  local f
  for f in "$@"; do
    [[ -f "$f" ]] && sed 's/^/    | /' "$f"
  done
  failed=$((failed + 1))
}

# Waits (bounded) for a line matching a regex in a file.
wait_for() {
  local file=$1 regex=$2 i
  for ((i = 0; i < WAIT * 10; i++)); do
    grep -qE "$regex" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Waits (bounded) for a background process and sets $status to its exit code
# (124 if it had to be killed).
wait_pid() {
  local pid=$1 i
  for ((i = 0; i < WAIT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      status=$?
      return 0
    fi
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=124
}

# "sha-256 AB:CD:..." of a PEM certificate, as openssl computes it.
fingerprint() {
  local fp
  fp=$(openssl x509 -in "$1" -noout -fingerprint -sha256) || return 1
  echo "sha-256 ${fp#*=}"
}

value() { sed -n "s/^$2: //p" "$1" | head -n 1; }
port_of() { sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1; }

# A UDP port that is free now (tiny race: someone may take it before use).
free_udp_port() {
  python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null || echo $((40000 + RANDOM % 20000))
}

# OpenSSL's "    Keying material: HEX" line (s_server and s_client alike).
openssl_km() { sed -n 's/^    Keying material: \([0-9A-F]*\)$/\1/p' "$1" | head -n 1; }

# Starts "rtcsec-dtls --listen" in the background: $1 = name, rest = options.
# Sets $server_pid and $server_port.
start_server() {
  local name=$1
  shift
  "$tool" --listen 127.0.0.1:0 --timeout "$WAIT" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_port=""
  if wait_for "$work/$name.out" '^listening on '; then
    server_port=$(port_of "$work/$name.out")
  fi
}

