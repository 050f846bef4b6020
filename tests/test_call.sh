#!/usr/bin/env bash
# rtcsec-call end to end (issue 4): two processes, one offering and one
# answering, exchange SDP fragments, connect with ICE over loopback, run
# DTLS-SRTP and send RTP both ways; then the same through pipes, with a
# chosen profile, and with one side relayed through a real coturn; with
# --data, messages over a data channel echoed byte-identical (issue 15), a
# corrupted echo or a peer without data channels failing the call. Last,
# calls broken mid-media (the peer killed, the peer stopped): the side that
# is left must say "result: failed (...)" and exit non-zero (issue 11).
#
# Usage: tests/test_call.sh path/to/rtcsec-call
# Ends with "N passed, N failed"; exits non-zero if any case failed.
# Traffic stays on 127.0.0.1; every wait is bounded.
set -uo pipefail

CALL=${1:?usage: test_call.sh path/to/rtcsec-call}
passed=0
failed=0
work=$(mktemp -d /tmp/rtcsec-call-test.XXXXXX)
pids=()
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

pass() {
  echo "PASS $1"
  passed=$((passed + 1))
}
fail() {
  echo "FAIL $1: $2"
  for f in "$3"/*.out; do
    [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }
  done
  failed=$((failed + 1))
}

# value FILE KEY: the value of a "key: value" line
value() { grep -m1 "^$2: " "$1" | cut -d' ' -f2-; }

# check_side NAME DIR SIDE [PROFILE [PAIR_TYPE]]
check_side() {
  local out=$2/$3.out
  [[ "$(value "$out" result)" == ok ]] || return 1
  local sent recv verified peer_sent peer_verified
  sent=$(value "$out" rtp_sent)
  recv=$(value "$out" rtp_received)
  verified=$(value "$out" rtp_verified)
  peer_sent=$(value "$out" peer_sent)
  peer_verified=$(value "$out" peer_verified)
  [[ ${sent:-0} -gt 0 && ${recv:-0} -gt 0 ]] || return 1
  # Every packet each way verified, as both sides counted them.
  [[ $verified == "$peer_sent" && $peer_verified == "$sent" ]] || return 1
  [[ "$(value "$out" auth_failures)" == 0 ]] || return 1
  if [[ -n ${4:-} ]]; then
    [[ "$(value "$out" profile)" == "$4" ]] || return 1
  fi
  if [[ -n ${5:-} ]]; then
    value "$out" selected_pair | grep -q "$5" || return 1
  fi
  return 0
}

# run_files NAME OFFER_ARGS... -- ANSWER_ARGS...
run_files() {
  local name=$1
  shift
  local d=$work/$name offer_args=() answer_args=()
  mkdir -p "$d"
  while [[ $# -gt 0 && $1 != -- ]]; do
    offer_args+=("$1")
    shift
  done
  shift
  answer_args=("$@")
  timeout 60 "$CALL" --offer --local-sdp "$d/offer" --remote-sdp "$d/answer" --duration 2 \
    "${offer_args[@]}" >"$d/offer.out" 2>&1 &
  local op=$!
  pids+=("$op")
  timeout 60 "$CALL" --answer --local-sdp "$d/answer" --remote-sdp "$d/offer" --duration 2 \
    "${answer_args[@]}" >"$d/answer.out" 2>&1
  local arc=$?
  wait "$op"
  local orc=$?
  echo "$orc $arc" >"$d/rc"
}

# 1. files, defaults
run_files files --
read -r orc arc <"$work/files/rc"
if ((orc == 0 && arc == 0)) && check_side x "$work/files" offer && check_side x "$work/files" answer; then
  pass "files_exchange_connects_and_media_flows_both_ways"
else
  fail "files_exchange_connects_and_media_flows_both_ways" "exit $orc/$arc" "$work/files"
fi

# 2. pipes, SDP on stdout/stdin, the report on stderr
d=$work/pipes
mkdir -p "$d"
mkfifo "$d/o2a" "$d/a2o"
timeout 60 "$CALL" --offer --duration 2 >"$d/o2a" <"$d/a2o" 2>"$d/offer.out" &
op=$!
pids+=("$op")
timeout 60 "$CALL" --answer --duration 2 <"$d/o2a" >"$d/a2o" 2>"$d/answer.out"
arc=$?
wait "$op"
orc=$?
if ((orc == 0 && arc == 0)) && check_side x "$d" offer && check_side x "$d" answer; then
  pass "pipes_exchange_connects_and_media_flows_both_ways"
else
  fail "pipes_exchange_connects_and_media_flows_both_ways" "exit $orc/$arc" "$d"
fi

# 3. a chosen profile on both sides
run_files profile --profiles SRTP_AES128_CM_HMAC_SHA1_80 -- --profiles SRTP_AES128_CM_HMAC_SHA1_80
read -r orc arc <"$work/profile/rc"
if ((orc == 0 && arc == 0)) &&
  check_side x "$work/profile" offer SRTP_AES128_CM_HMAC_SHA1_80 &&
  check_side x "$work/profile" answer SRTP_AES128_CM_HMAC_SHA1_80; then
  pass "chosen_profile_is_negotiated"
else
  fail "chosen_profile_is_negotiated" "exit $orc/$arc" "$work/profile"
fi

# 4. relay-only through coturn on a free loopback port
turn_case=relay_only_call_goes_through_a_real_turn_server
if ! command -v turnserver >/dev/null; then
  fail "$turn_case" "turnserver (Debian package coturn) is not installed; run scripts/setup.sh" "$work"
else
  t=$work/turn
  mkdir -p "$t"
  port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  minp=$((30000 + port % 30000))
  cat >"$t/turn.conf" <<EOF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$port
min-port=$minp
max-port=$((minp + 39))
lt-cred-mech
user=u:p
realm=rtcsec.test
no-tls
no-dtls
no-tcp
no-tcp-relay
allow-loopback-peers
no-multicast-peers
no-cli
userdb=$t/turndb
pidfile=$t/turn.pid
log-file=$t/turn.log
simple-log
no-stdout-log
EOF
  turnserver -c "$t/turn.conf" </dev/null >/dev/null 2>&1 &
  tp=$!
  pids+=("$tp")
  sleep 1
  if ! kill -0 "$tp" 2>/dev/null; then
    fail "$turn_case" "turnserver exited at start" "$t"
  else
    run_files turn --relay-only --turn "127.0.0.1:$port" --turn-user u --turn-pass p --
    read -r orc arc <"$work/turn/rc"
    if ((orc == 0 && arc == 0)) && check_side x "$work/turn" offer "" relay &&
      check_side x "$work/turn" answer; then
      pass "$turn_case"
    else
      fail "$turn_case" "exit $orc/$arc" "$work/turn"
    fi
  fi
  kill "$tp" 2>/dev/null
fi

# 5. --data: 200 messages (0 to 64 KiB, strings and binary) over a data
# channel, checked by the answerer and echoed back, every echo checked by
# the offerer; media as usual.
run_files data --data 200 -- --data 200
read -r orc arc <"$work/data/rc"
dname=data_channel_messages_come_back_byte_identical
if ((orc == 0 && arc == 0)) && check_side x "$work/data" offer && check_side x "$work/data" answer &&
  [[ "$(value "$work/data/offer.out" data_verified)" == 200 &&
    "$(value "$work/data/offer.out" data_sent)" == 200 &&
    "$(value "$work/data/answer.out" data_verified)" == 200 &&
    "$(value "$work/data/answer.out" data_sent)" == 200 ]] &&
  grep -q '^data_round_trip: [0-9]* bytes in ' "$work/data/offer.out"; then
  pass "$dname ($(value "$work/data/offer.out" data_round_trip))"
else
  fail "$dname" "exit $orc/$arc" "$work/data"
fi

# 6. The answerer alters one echo (TEST ONLY option): the offerer must see
# it and fail; the answerer, which checked everything it got, is ok.
run_files corrupt --data 50 -- --data 50 --test-corrupt-echo 20
read -r orc arc <"$work/corrupt/rc"
dname=data_channel_altered_echo_fails_the_call
if ((orc == 1 && arc == 0)) &&
  grep -q '^result: failed (data channel: 49 of 50 messages came back byte-identical (1 differ))$' \
    "$work/corrupt/offer.out"; then
  pass "$dname"
else
  fail "$dname" "exit $orc/$arc (want 1/0 with the reason)" "$work/corrupt"
fi

# 7. --data on the offerer only: no SCTP answers it; the offerer fails with
# that reason (bounded by --timeout).
run_files nodata --data 20 --timeout 6 -- --timeout 6
read -r orc arc <"$work/nodata/rc"
dname=data_channel_without_the_peer_fails_with_the_reason
if ((orc == 1)) && grep -q '^result: failed (data channel: SCTP never came up' \
  "$work/nodata/offer.out"; then
  pass "$dname"
else
  fail "$dname" "offerer exit $orc (want 1 with the reason)" "$work/nodata"
fi

# 8, 9. The call broken mid-media: the answerer is killed (SIGKILL: its
# socket is gone) or stopped (SIGSTOP: silent, its socket still open) a
# second into 3 s of media. The offerer sent everything it could, but the
# media did not verify end to end: it must fail, say why, and exit 1.
for sig in KILL STOP; do
  name=broken_$sig
  t="call_broken_by_sig${sig,,}_of_the_peer_mid_media_fails"
  d=$work/$name
  mkdir -p "$d"
  timeout 60 "$CALL" --offer --local-sdp "$d/offer" --remote-sdp "$d/answer" --duration 3 \
    --timeout 5 >"$d/offer.out" 2>&1 &
  op=$!
  pids+=("$op")
  # Not under timeout(1): the signal must reach rtcsec-call itself. It is
  # killed below in any case.
  "$CALL" --answer --local-sdp "$d/answer" --remote-sdp "$d/offer" --duration 3 \
    >"$d/answer.out" 2>&1 &
  ap=$!
  pids+=("$ap")
  # The answer is written once the answerer has gathered; DTLS and media
  # follow within a few hundred ms on loopback.
  for ((i = 0; i < 100; i++)); do
    [[ -f $d/answer ]] && break
    sleep 0.1
  done
  sleep 1
  kill -"$sig" "$ap" 2>/dev/null
  wait "$op"
  orc=$?
  kill -9 "$ap" 2>/dev/null
  wait "$ap" 2>/dev/null
  verified=$(value "$d/offer.out" rtp_verified)
  if [[ ! -f $d/answer ]]; then
    fail "$t" "the answerer wrote no answer" "$d"
  elif ((orc != 1)); then
    fail "$t" "offerer exit $orc (want 1)" "$d"
  elif ! grep -q '^result: failed (.\+)$' "$d/offer.out"; then
    fail "$t" "no 'result: failed (REASON)' line" "$d"
  elif grep -q '^result: ok' "$d/offer.out"; then
    fail "$t" "said ok" "$d"
  elif ! [[ ${verified:-0} -gt 0 && $verified -lt 150 ]]; then
    # Media had flowed before the break, and stopped with it.
    fail "$t" "rtp_verified '$verified' (want 1..149: the break was not mid-media)" "$d"
  else
    pass "$t ($(value "$d/offer.out" result))"
  fi
done

echo "$passed passed, $failed failed"
((failed == 0))
