# shellcheck shell=bash
# Sourced by tests/browser/run.sh: the private network namespace every
# browser case runs in, and the capture of its DTLS handshakes.
#
# The namespace holds a veth pair rtb0/rtb1 with both ends inside it,
# 10.77.0.1/24 and 10.77.0.2/24 (libnice skips interfaces named veth*), and
# a /32 host route to 8.8.8.8 over rtb0: Firefox learns its default source
# address with a UDP connect() that sends nothing and gathers no candidate
# without a route; a host route resolves that connect() and nothing can
# leave the sealed pair (no default route, which would make the kernel ARP
# for outside addresses). Every address is local to the namespace, so the
# calls run over its lo, where the capture listens.

NS_ADDR_ECHO=10.77.0.1
NS_ADDR_PEER=10.77.0.2
NS_ROUTE_PROBE=8.8.8.8/32

# ns_create NS: prints nothing on success; on failure the reason, returns 1.
ns_create() {
  local ns=$1 err
  if ! err=$(ip netns add "$ns" 2>&1); then
    echo "ip netns add $ns failed: $err"
    return 1
  fi
  if ! err=$({ ip -n "$ns" link set lo up &&
    ip -n "$ns" link add rtb0 type veth peer name rtb1 &&
    ip -n "$ns" addr add "$NS_ADDR_ECHO/24" dev rtb0 &&
    ip -n "$ns" addr add "$NS_ADDR_PEER/24" dev rtb1 &&
    ip -n "$ns" link set rtb0 up &&
    ip -n "$ns" link set rtb1 up &&
    ip -n "$ns" route add "$NS_ROUTE_PROBE" dev rtb0; } 2>&1); then
    echo "setting up the veth pair in $ns failed: $err"
    return 1
  fi
  local _
  for _ in $(seq 1 50); do
    ip -n "$ns" -4 addr show dev rtb1 | grep -q "$NS_ADDR_PEER" && return 0
    sleep 0.1
  done
  echo "$NS_ADDR_PEER never appeared on rtb1 in $ns"
  return 1
}

# ns_delete NS: ends what still runs in the namespace (all of it was
# started by this run), then deletes it.
ns_delete() {
  local ns=$1 pids _
  pids=$(ip netns pids "$ns" 2>/dev/null)
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086 # one pid per word
    kill $pids 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] && break
      sleep 0.2
    done
    pids=$(ip netns pids "$ns" 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null
  fi
  ip netns del "$ns" 2>/dev/null || echo "browser: WARNING: could not delete namespace $ns" >&2
}

# capture_start NS FILE LOG: dumpcap on the namespace's lo, DTLS records
# only (RFC 7983: the first byte of a DTLS datagram is 20..63), so that RTP,
# RTCP and STUN stay out and the file stays small. Sets CAPTURE_PID.
# Returns 1 with the reason on stdout when it does not start capturing.
capture_start() {
  local ns=$1 file=$2 log=$3 _
  ip netns exec "$ns" dumpcap -i lo -f 'udp and udp[8] >= 20 and udp[8] <= 63' -s 0 \
    -w "$file" >"$log" 2>&1 </dev/null &
  CAPTURE_PID=$!
  for _ in $(seq 1 100); do
    grep -q "Capturing on" "$log" 2>/dev/null && return 0
    kill -0 "$CAPTURE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "dumpcap did not start capturing: $(tr '\n' ' ' <"$log")"
  return 1
}

# capture_stop: dumpcap closes the file on SIGINT.
capture_stop() {
  [[ -n "${CAPTURE_PID:-}" ]] || return 0
  kill -INT "$CAPTURE_PID" 2>/dev/null
  wait "$CAPTURE_PID" 2>/dev/null
  CAPTURE_PID=""
}
