#!/usr/bin/env bash
# STUN and TURN over DTLS (RFC 7350, `turns:` over UDP; docs/turns.md)
# against Debian's coturn, started here on loopback with a certificate
# from a CA made here and its DTLS listener (never the Debian service):
#   - Binding over DTLS returns the reflexive address (server verified by
#     CA file + name, and by a pinned fingerprint);
#   - Allocate over DTLS with the long-term credential (401, then
#     MESSAGE-INTEGRITY), a relayed address from coturn's range;
#   - two rtcsec-dtls endpoints exchange DTLS-SRTP media through the
#     relay, one of them reaching coturn over DTLS, the other on plain UDP;
#   - a server certificate that does not verify (another CA, another name,
#     another fingerprint) is refused before any STUN: coturn's log shows
#     each session ended after the ClientHello, with no STUN processed;
#   - a wrong password ends in 401.
# Loopback only; every wait is bounded.
#
# Usage: test_turns.sh PATH/TO/rtcsec-dtls
# Ends with "N passed, N failed"; exits 0 only if nothing failed.
set -u

tool=${1:?usage: test_turns.sh PATH/TO/rtcsec-dtls}
if [[ ! -x "$tool" ]]; then
  echo "test_turns: $tool is not an executable" >&2
  exit 1
fi
for p in turnserver openssl python3; do
  if ! command -v "$p" >/dev/null 2>&1; then
    echo "test_turns: $p is missing: apt-get install coturn openssl python3 (scripts/setup.sh)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

# shellcheck source=support/tool_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/tool_test.sh"

# ---- certificates: a CA, coturn's certificate from it, the endpoints' own ----
mk() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "$@" >>"$work/req.log" 2>&1
}
mk -x509 -days 2 -subj /CN=rtcsec-turns-ca -keyout "$work/ca.key" -out "$work/ca.crt" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
  mk -x509 -days 2 -subj /CN=another-ca -keyout "$work/ca2.key" -out "$work/ca2.crt" \
    -addext basicConstraints=critical,CA:TRUE &&
  mk -subj /CN=turn.test -keyout "$work/turn.key" -out "$work/turn.csr" &&
  printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:turn.test,IP:127.0.0.1\n' \
    >"$work/turn.ext" &&
  openssl x509 -req -in "$work/turn.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/turn.ext" -out "$work/turn.crt" \
    >>"$work/req.log" 2>&1 &&
  mk -x509 -days 2 -subj /CN=endpoint-a -keyout "$work/a.key" -out "$work/a.crt" &&
  mk -x509 -days 2 -subj /CN=endpoint-b -keyout "$work/b.key" -out "$work/b.crt"
if [[ $? -ne 0 ]]; then
  fail "generate certificates with openssl" "$work/req.log"
  echo "$passed passed, $failed failed"
  exit 1
fi
fp_a=$(fingerprint "$work/a.crt")
fp_b=$(fingerprint "$work/b.crt")
fp_turn=$(fingerprint "$work/turn.crt")

# ---- coturn on loopback: DTLS on tport, plain UDP on port, no TCP/TLS -------
port=$(free_udp_port)
tport=$(free_udp_port)
minp=$((30000 + port % 30000))
maxp=$((minp + 39))
log=$work/turn.log
cat >"$work/turn.conf" <<EOF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$port
tls-listening-port=$tport
min-port=$minp
max-port=$maxp
cert=$work/turn.crt
pkey=$work/turn.key
lt-cred-mech
user=u:p
realm=rtcsec.test
no-tls
no-tcp
no-tcp-relay
allow-loopback-peers
no-multicast-peers
no-cli
userdb=$work/turndb
pidfile=$work/turn.pid
log-file=$log
simple-log
no-stdout-log
verbose
EOF
turnserver -c "$work/turn.conf" </dev/null >"$work/turnserver.out" 2>&1 &
pids+=("$!")
if ! wait_for "$log" "DTLS/UDP listener opened on: 127.0.0.1:$tport"; then
  fail "coturn did not open its DTLS listener on 127.0.0.1:$tport" "$log" "$work/turnserver.out"
  echo "$passed passed, $failed failed"
  exit 1
fi
TURNS=(--turns "127.0.0.1:$tport")
BY_CA=(--turn-ca "$work/ca.crt" --turn-name turn.test)
CRED=(--turn-user u --turn-pass p)

run() { # run NAME OPTIONS...: rtcsec-dtls, status in $rs
  local name=$1
  shift
  timeout "$WAIT" "$tool" --timeout 8 "$@" >"$work/$name.out" 2>"$work/$name.err"
  rs=$?
}
in_range() { # in_range ADDR: 127.0.0.1:PORT with PORT in coturn's relay range
  local p=${1##*:}
  [[ ${1%:*} == 127.0.0.1 && $p -ge $minp && $p -le $maxp ]]
}

# ---- Binding over DTLS ------------------------------------------------------------
t="binding_over_dtls_returns_the_reflexive_address"
run b1 --connect 127.0.0.1:9 "${TURNS[@]}" "${BY_CA[@]}" --turn-only binding
mapped=$(value "$work/b1.out" "mapped address")
if [[ $rs -ne 0 || ! $mapped =~ ^127\.0\.0\.1:[0-9]+$ ]]; then
  fail "$t: exit $rs, mapped '$mapped'" "$work/b1.out" "$work/b1.err"
elif [[ "$(value "$work/b1.out" "turn server fingerprint")" != "$fp_turn" ]] ||
  ! grep -q '^turn server: connected, DTLSv1.2' "$work/b1.out"; then
  fail "$t: not the coturn certificate, or not DTLS 1.2" "$work/b1.out"
else
  pass "$t ($mapped)"
fi

t="binding_over_dtls_with_a_pinned_server_fingerprint"
run b2 --connect 127.0.0.1:9 "${TURNS[@]}" --turn-fingerprint "$fp_turn" --turn-only binding
if [[ $rs -ne 0 ]] || ! grep -qE '^mapped address: 127\.0\.0\.1:[0-9]+$' "$work/b2.out"; then
  fail "$t: exit $rs" "$work/b2.out" "$work/b2.err"
else
  pass "$t"
fi

# ---- Allocate over DTLS -----------------------------------------------------------
t="allocation_over_dtls_with_the_long_term_credential"
run a1 --connect 127.0.0.1:9 "${TURNS[@]}" "${BY_CA[@]}" "${CRED[@]}" --turn-only allocation
relayed=$(value "$work/a1.out" "relayed address")
sleep 0.5 # coturn writes its log asynchronously
if [[ $rs -ne 0 ]] || ! in_range "$relayed"; then
  fail "$t: exit $rs, relayed '$relayed' (range $minp-$maxp)" "$work/a1.out" "$work/a1.err"
elif ! grep -q 'error 401' "$log" || ! grep -q 'ALLOCATE processed, success' "$log" ||
  ! grep -q 'method=DTLSv1.2' "$log"; then
  fail "$t: coturn's log lacks the 401, the allocation or DTLS" "$log"
else
  pass "$t ($relayed)"
fi

# ---- DTLS-SRTP media through the relay ---------------------------------------------
t="dtls_srtp_media_through_a_relay_reached_over_dtls"
start_server mb --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --send-rtp 300
if [[ -z "$server_port" ]]; then
  fail "$t: endpoint B did not listen" "$work/mb.out" "$work/mb.err"
else
  run ma --connect "127.0.0.1:$server_port" --cert "$work/a.crt" --key "$work/a.key" \
    --fingerprint "$fp_b" "${TURNS[@]}" "${BY_CA[@]}" "${CRED[@]}" --send-rtp 300
  wait_pid "$server_pid"
  relayed=$(value "$work/ma.out" "relayed address")
  b_peer=$(sed -n 's/^rtcsec-dtls: peer //p' "$work/mb.err" | head -n 1)
  if [[ $rs -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit A=$rs B=$status" "$work/ma.out" "$work/ma.err" "$work/mb.out" "$work/mb.err"
  elif ! grep -qx 'media: verified' "$work/ma.out" || ! grep -qx 'media: verified' "$work/mb.out"; then
    fail "$t: media did not verify both ways" "$work/ma.out" "$work/mb.out"
  elif ! in_range "$relayed" || [[ "$b_peer" != "$relayed" ]]; then
    # B must have heard A from the relayed address, nowhere else
    fail "$t: B's peer '$b_peer' is not A's relayed address '$relayed'" "$work/ma.out" \
      "$work/mb.err"
  elif [[ "$(value "$work/ma.out" "turn channel")" != 0x4000 ]] ||
    ! grep -q 'CHANNEL_BIND processed, success' "$log"; then
    fail "$t: no channel binding" "$work/ma.out" "$log"
  else
    pass "$t ($(value "$work/ma.out" profile), 300 RTP each way, via $relayed)"
  fi
fi

# ---- a server that does not verify is refused before any STUN -------------------
t="wrong_server_certificate_is_refused_before_any_stun"
before=$(wc -l <"$log")
run w1 --connect 127.0.0.1:9 "${TURNS[@]}" --turn-ca "$work/ca2.crt" --turn-name turn.test \
  "${CRED[@]}"
s1=$rs
run w2 --connect 127.0.0.1:9 "${TURNS[@]}" --turn-ca "$work/ca.crt" --turn-name other.test \
  "${CRED[@]}"
s2=$rs
run w3 --connect 127.0.0.1:9 "${TURNS[@]}" --turn-fingerprint "$fp_a" "${CRED[@]}"
s3=$rs
# coturn logs a session's usage when it closes it: wait (bounded) for three
for ((i = 0; i < WAIT * 10; i++)); do
  [[ $(tail -n +"$((before + 1))" "$log" | grep -c 'session [0-9]*: usage:') -ge 3 ]] && break
  sleep 0.1
done
tail -n +"$((before + 1))" "$log" >"$work/wrong.log"
accepted=$(grep -c 'Accepted connection' "$work/wrong.log")
usage_one=$(grep -cE 'session [0-9]+: usage: .*username=<>, rp=1,' "$work/wrong.log")
if [[ $s1 -ne 1 || $s2 -ne 1 || $s3 -ne 1 ]]; then
  fail "$t: exits $s1 $s2 $s3 (want 1)" "$work/w1.err" "$work/w2.err" "$work/w3.err"
elif ! grep -q 'does not verify against the CA' "$work/w1.err" ||
  ! grep -q 'does not name the expected host' "$work/w2.err" ||
  ! grep -q 'does not match the expected fingerprint' "$work/w3.err"; then
  fail "$t: the reasons are not the certificate's" "$work/w1.err" "$work/w2.err" "$work/w3.err"
elif [[ $accepted -ne 3 || $usage_one -ne 3 ]] ||
  grep -qE 'incoming packet|: new, realm|refreshed' "$work/wrong.log"; then
  # each session: one datagram (the ClientHello) and no STUN processed
  fail "$t: coturn saw more than a ClientHello ($accepted sessions, $usage_one with rp=1)" \
    "$work/wrong.log"
elif grep -qE '^(mapped|relayed) address' "$work/w1.out" "$work/w2.out" "$work/w3.out"; then
  fail "$t: an address was printed" "$work/w1.out" "$work/w2.out" "$work/w3.out"
else
  pass "$t"
fi

t="wrong_password_ends_the_allocation_with_401"
run p1 --connect 127.0.0.1:9 "${TURNS[@]}" "${BY_CA[@]}" --turn-user u --turn-pass nope \
  --turn-only allocation
if [[ $rs -ne 1 ]] || ! grep -q 'TURN request 0x003 failed: 401' "$work/p1.err" ||
  grep -q '^relayed address' "$work/p1.out"; then
  fail "$t: exit $rs" "$work/p1.out" "$work/p1.err"
else
  pass "$t"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
