#!/usr/bin/env bash
# The RFC 7925 profile of rtcsec-dtls (plain DTLS, docs/iot.md) against
# peers we did not write, in both roles where the peer has both:
#   - openssl s_server / s_client: TLS_PSK_WITH_AES_128_CCM_8 and
#     TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 on P-256, keying material (RFC
#     5705) and application data compared both ways; a CA-issued server
#     certificate verified by CA file and name; a 256-byte MTU;
#   - GnuTLS gnutls-serv / gnutls-cli (Debian gnutls-bin): the same two
#     suites, application data both ways;
#   - libcoap coap-server / coap-client (Debian libcoap3-bin, its OpenSSL
#     and GnuTLS builds): a CoAP GET over DTLS with a pre-shared key;
#   - bad input from a real peer: an unknown PSK identity, a wrong key.
# Loopback only; every wait is bounded.
#
# Usage: test_iot.sh PATH/TO/rtcsec-dtls
# Ends with "N passed, N failed"; exits 0 only if nothing failed.
set -u

tool=${1:?usage: test_iot.sh PATH/TO/rtcsec-dtls}
if [[ ! -x "$tool" ]]; then
  echo "test_iot: $tool is not an executable" >&2
  exit 1
fi
missing=()
for p in openssl gnutls-serv gnutls-cli coap-server-openssl coap-client-openssl \
  coap-server-gnutls coap-client-gnutls python3; do
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "test_iot: missing ${missing[*]}: apt-get install openssl gnutls-bin libcoap3-bin" \
    "python3 (scripts/setup.sh)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# shellcheck source=support/tool_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/tool_test.sh"

ID=device-17
KEY=00112233445566778899aabbccddeeff
COAP_KEY=secretPSK # libcoap takes the key as text
COAP_KEY_HEX=$(printf '%s' "$COAP_KEY" | od -An -tx1 | tr -d ' \n')
LABEL=EXPERIMENTAL-rtcsec
PSK=(--no-srtp --psk-identity "$ID" --psk "$KEY")
# GnuTLS priority strings: DTLS 1.2 only, one key exchange, one cipher.
G_PSK="NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8"
G_ECDSA="NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-CCM-8"
G_ECDSA+=":-GROUP-ALL:+GROUP-SECP256R1"

gen() { # gen NAME [openssl x509 -req args for a CA-issued one]
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=rtcsec-iot-$1" -keyout "$work/$1.key" -out "$work/$1.crt" >>"$work/req.log" 2>&1
}
if ! gen a || ! gen b || ! gen ca; then
  fail "generate certificates with openssl req" "$work/req.log"
  echo "$passed passed, $failed failed"
  exit 1
fi
fp_a=$(fingerprint "$work/a.crt")
fp_b=$(fingerprint "$work/b.crt")
# A server certificate issued by our CA, naming device.test and 127.0.0.1.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=device.test \
  -keyout "$work/dev.key" -out "$work/dev.csr" >>"$work/req.log" 2>&1
printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:device.test,IP:127.0.0.1\n' \
  >"$work/dev.ext"
openssl x509 -req -in "$work/dev.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/dev.ext" -out "$work/dev.crt" >>"$work/req.log" 2>&1

# Starts a peer in the background on stdin from a feeder: $1 = name, $2 =
# seconds before the feeder writes $3 (a line), then end of input 1.5 s
# later (openssl and gnutls-cli then close with close_notify); "" for no
# line and an input that stays open. Rest = the command.
start_peer() {
  local name=$1 delay=$2 line=$3
  shift 3
  (
    sleep "$delay"
    if [[ -n "$line" ]]; then
      echo "$line"
      sleep 1.5
    else
      sleep "$WAIT"
    fi
  ) | timeout "$WAIT" "$@" >"$work/$name.out" 2>&1 &
  peer_pid=$!
  pids+=("$peer_pid")
}

# Runs rtcsec-dtls as a client: $1 = name, rest = options.
run_client() {
  local name=$1
  shift
  timeout "$WAIT" "$tool" --timeout 8 "$@" >"$work/$name.out" 2>"$work/$name.err"
  client_status=$?
}

expect_cipher() { [[ "$(value "$1" cipher)" == "$2" ]]; }

# ---- openssl, pre-shared key ---------------------------------------------------
t="openssl_s_server_psk_ccm8_and_rtcsec_client_agree_on_keys_and_data"
port=$(free_udp_port)
start_peer os1 2 reply-from-openssl openssl s_server -dtls1_2 -accept "127.0.0.1:$port" -nocert \
  -psk_identity "$ID" -psk "$KEY" -cipher PSK-AES128-CCM8 -keymatexport "$LABEL" \
  -keymatexportlen 32
wait_for "$work/os1.out" '^ACCEPT'
run_client rc1 --connect "127.0.0.1:$port" "${PSK[@]}" --cipher PSK-AES128-CCM8 \
  --send-data hello-from-rtcsec --export-keying-material --export-label "$LABEL"
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 0 ]]; then
  fail "$t: rtcsec exit $client_status" "$work/rc1.out" "$work/rc1.err" "$work/os1.out"
elif ! expect_cipher "$work/rc1.out" PSK-AES128-CCM8 ||
  [[ "$(value "$work/rc1.out" profile)" != none ]]; then
  fail "$t: cipher or profile" "$work/rc1.out"
elif [[ -z "$(openssl_km "$work/os1.out")" ||
  "$(value "$work/rc1.out" "keying material")" != "$(openssl_km "$work/os1.out")" ]]; then
  fail "$t: RFC 5705 keying material differs" "$work/rc1.out" "$work/os1.out"
elif ! grep -qx 'data: reply-from-openssl\\x0A' "$work/rc1.out" ||
  ! grep -q hello-from-rtcsec "$work/os1.out"; then
  fail "$t: application data did not cross both ways" "$work/rc1.out" "$work/os1.out"
else
  pass "$t"
fi

t="openssl_s_client_psk_ccm8_and_rtcsec_server_agree_on_keys_and_data"
start_server rs2 "${PSK[@]}" --echo --export-keying-material --export-label "$LABEL"
start_peer oc2 0.5 hello-from-openssl openssl s_client -dtls1_2 \
  -connect "127.0.0.1:$server_port" -psk_identity "$ID" -psk "$KEY" -cipher PSK-AES128-CCM8 \
  -keymatexport "$LABEL" -keymatexportlen 32
wait_pid "$server_pid" # ends when s_client closes
if ! expect_cipher "$work/rs2.out" PSK-AES128-CCM8; then
  fail "$t: no PSK-AES128-CCM8 connection" "$work/rs2.out" "$work/rs2.err" "$work/oc2.out"
elif [[ -z "$(openssl_km "$work/oc2.out")" ||
  "$(value "$work/rs2.out" "keying material")" != "$(openssl_km "$work/oc2.out")" ]]; then
  fail "$t: RFC 5705 keying material differs" "$work/rs2.out" "$work/oc2.out"
elif ! grep -qx 'data: hello-from-openssl\\x0A' "$work/rs2.out" ||
  ! grep -qx hello-from-openssl "$work/oc2.out"; then
  # s_client prints what it receives: the line is there only if it came back
  fail "$t: the echo did not come back" "$work/rs2.out" "$work/oc2.out"
else
  pass "$t"
fi

# ---- openssl, certificates: ECDHE-ECDSA-AES128-CCM8 on P-256 ---------------------
t="openssl_s_server_ecdhe_ecdsa_ccm8_p256_and_rtcsec_client"
port=$(free_udp_port)
start_peer os3 2 reply-ecdsa openssl s_server -dtls1_2 -accept "127.0.0.1:$port" \
  -cert "$work/a.crt" -key "$work/a.key" -cipher ECDHE-ECDSA-AES128-CCM8 -groups P-256 \
  -keymatexport "$LABEL" -keymatexportlen 48
wait_for "$work/os3.out" '^ACCEPT'
run_client rc3 --connect "127.0.0.1:$port" --no-srtp --cert "$work/b.crt" --key "$work/b.key" \
  --fingerprint "$fp_a" --cipher ECDHE-ECDSA-AES128-CCM8 --groups P-256 --send-data hi-ecdsa \
  --export-keying-material --export-label "$LABEL" --export-len 48
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 0 ]] || ! expect_cipher "$work/rc3.out" ECDHE-ECDSA-AES128-CCM8 ||
  [[ "$(value "$work/rc3.out" group)" != secp256r1 ]]; then
  fail "$t: exit $client_status, or not ECDHE-ECDSA-AES128-CCM8 on P-256" "$work/rc3.out" \
    "$work/rc3.err" "$work/os3.out"
elif [[ "$(value "$work/rc3.out" "keying material")" != "$(openssl_km "$work/os3.out")" ]]; then
  fail "$t: keying material differs" "$work/rc3.out" "$work/os3.out"
elif [[ "$(value "$work/rc3.out" "peer fingerprint")" != "$fp_a" ]] ||
  ! grep -qx 'data: reply-ecdsa\\x0A' "$work/rc3.out" || ! grep -q hi-ecdsa "$work/os3.out"; then
  fail "$t: fingerprint or data" "$work/rc3.out" "$work/os3.out"
else
  pass "$t"
fi

t="openssl_s_client_ecdhe_ecdsa_ccm8_p256_and_rtcsec_server"
start_server rs4 --no-srtp --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" \
  --cipher ECDHE-ECDSA-AES128-CCM8 --groups P-256 --echo --export-keying-material \
  --export-label "$LABEL"
start_peer oc4 0.5 echo-me openssl s_client -dtls1_2 -connect "127.0.0.1:$server_port" \
  -cert "$work/b.crt" -key "$work/b.key" -cipher ECDHE-ECDSA-AES128-CCM8 -groups P-256 \
  -keymatexport "$LABEL" -keymatexportlen 32
wait_pid "$server_pid"
if ! expect_cipher "$work/rs4.out" ECDHE-ECDSA-AES128-CCM8 ||
  [[ "$(value "$work/rs4.out" group)" != secp256r1 ||
  "$(value "$work/rs4.out" "peer fingerprint")" != "$fp_b" ]]; then
  fail "$t: suite, group or client certificate" "$work/rs4.out" "$work/rs4.err" "$work/oc4.out"
elif [[ "$(value "$work/rs4.out" "keying material")" != "$(openssl_km "$work/oc4.out")" ]] ||
  ! grep -qx echo-me "$work/oc4.out"; then
  fail "$t: keying material or echo" "$work/rs4.out" "$work/oc4.out"
else
  pass "$t"
fi

# ---- a CA-issued server certificate, verified by CA file and name -------------------
t="rtcsec_client_verifies_a_ca_issued_server_by_name_and_refuses_a_wrong_name"
port=$(free_udp_port)
start_peer os5 2 ca-ok openssl s_server -dtls1_2 -accept "127.0.0.1:$port" \
  -cert "$work/dev.crt" -key "$work/dev.key" -cipher ECDHE-ECDSA-AES128-CCM8
wait_for "$work/os5.out" '^ACCEPT'
run_client rc5 --connect "127.0.0.1:$port" --no-srtp --ca-file "$work/ca.crt" \
  --peer-name 127.0.0.1 --cipher ECDHE-ECDSA-AES128-CCM8 --send-data via-ca
ok_status=$client_status
run_client rc5b --connect "127.0.0.1:$port" --no-srtp --ca-file "$work/ca.crt" \
  --peer-name other.test --cipher ECDHE-ECDSA-AES128-CCM8 --send-data never-sent
bad_status=$client_status
kill "$peer_pid" 2>/dev/null
if [[ $ok_status -ne 0 ]] || ! grep -qx 'data: ca-ok\\x0A' "$work/rc5.out"; then
  fail "$t: the CA-verified connection failed" "$work/rc5.out" "$work/rc5.err" "$work/os5.out"
elif [[ $bad_status -ne 1 ]] || ! grep -q 'does not name other.test' "$work/rc5b.err" ||
  grep -q never-sent "$work/os5.out"; then
  fail "$t: a wrong name was not refused before any data" "$work/rc5b.out" "$work/rc5b.err" \
    "$work/os5.out"
else
  pass "$t"
fi

# ---- constrained links: 256-byte datagrams, the slow-link timer ------------------------
t="ccm8_handshake_and_data_at_a_256_byte_mtu_with_the_rfc7925_timer"
port=$(free_udp_port)
start_peer os6 2 small openssl s_server -dtls1_2 -accept "127.0.0.1:$port" -mtu 256 \
  -cert "$work/a.crt" -key "$work/a.key" -cipher ECDHE-ECDSA-AES128-CCM8 -groups P-256
wait_for "$work/os6.out" '^ACCEPT'
run_client rc6 --connect "127.0.0.1:$port" --no-srtp --cert "$work/b.crt" --key "$work/b.key" \
  --fingerprint "$fp_a" --cipher ECDHE-ECDSA-AES128-CCM8 --mtu 256 --rto-initial-ms 9000 \
  --rto-max-ms 60000 --send-data tiny-link
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 0 ]] || ! grep -qx 'data: small\\x0A' "$work/rc6.out" ||
  ! grep -q tiny-link "$work/os6.out"; then
  fail "$t: exit $client_status" "$work/rc6.out" "$work/rc6.err" "$work/os6.out"
else
  pass "$t"
fi

# ---- GnuTLS -----------------------------------------------------------------------------
printf '%s:%s\n' "$ID" "$KEY" >"$work/psk.txt"
t="gnutls_serv_psk_ccm8_echoes_rtcsec_client_data"
port=$(free_udp_port)
start_peer gs7 0 "" gnutls-serv -u -p "$port" --pskpasswd "$work/psk.txt" --priority "$G_PSK" \
  --echo
wait_for "$work/gs7.out" 'listening on IPv4'
run_client rc7 --connect "127.0.0.1:$port" "${PSK[@]}" --send-data hello-gnutls
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 0 ]] || ! expect_cipher "$work/rc7.out" PSK-AES128-CCM8 ||
  ! grep -qx 'data: hello-gnutls' "$work/rc7.out"; then
  fail "$t: exit $client_status" "$work/rc7.out" "$work/rc7.err" "$work/gs7.out"
else
  pass "$t"
fi

t="gnutls_cli_psk_ccm8_gets_its_data_back_from_rtcsec_server"
start_server rs8 "${PSK[@]}" --echo
start_peer gc8 1 hello-from-gnutls gnutls-cli -u -p "$server_port" --pskusername "$ID" \
  --pskkey "$KEY" --priority "$G_PSK" 127.0.0.1
wait_pid "$server_pid"
if ! expect_cipher "$work/rs8.out" PSK-AES128-CCM8 ||
  ! grep -qx 'data: hello-from-gnutls\\x0A' "$work/rs8.out" ||
  ! grep -qx hello-from-gnutls "$work/gc8.out" ||
  ! grep -q '(PSK)-(AES-128-CCM-8)' "$work/gc8.out"; then
  fail "$t" "$work/rs8.out" "$work/rs8.err" "$work/gc8.out"
else
  pass "$t"
fi

t="gnutls_serv_ecdhe_ecdsa_ccm8_p256_echoes_rtcsec_client_data"
port=$(free_udp_port)
start_peer gs9 0 "" gnutls-serv -u -p "$port" --x509certfile "$work/a.crt" \
  --x509keyfile "$work/a.key" --priority "$G_ECDSA" --echo
wait_for "$work/gs9.out" 'listening on IPv4'
run_client rc9 --connect "127.0.0.1:$port" --no-srtp --cert "$work/b.crt" --key "$work/b.key" \
  --fingerprint "$fp_a" --cipher ECDHE-ECDSA-AES128-CCM8 --send-data hi-gnutls-ecdsa
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 0 ]] || ! expect_cipher "$work/rc9.out" ECDHE-ECDSA-AES128-CCM8 ||
  [[ "$(value "$work/rc9.out" group)" != secp256r1 ]] ||
  ! grep -qx 'data: hi-gnutls-ecdsa' "$work/rc9.out"; then
  fail "$t: exit $client_status" "$work/rc9.out" "$work/rc9.err" "$work/gs9.out"
else
  pass "$t"
fi

t="gnutls_cli_ecdhe_ecdsa_ccm8_p256_gets_its_data_back_from_rtcsec_server"
start_server rs10 --no-srtp --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" \
  --cipher ECDHE-ECDSA-AES128-CCM8 --echo
start_peer gc10 1 hello-ecdsa gnutls-cli -u -p "$server_port" --insecure \
  --x509certfile "$work/b.crt" --x509keyfile "$work/b.key" --priority "$G_ECDSA" 127.0.0.1
wait_pid "$server_pid"
if ! expect_cipher "$work/rs10.out" ECDHE-ECDSA-AES128-CCM8 ||
  [[ "$(value "$work/rs10.out" "peer fingerprint")" != "$fp_b" ]] ||
  ! grep -qx hello-ecdsa "$work/gc10.out"; then
  fail "$t" "$work/rs10.out" "$work/rs10.err" "$work/gc10.out"
else
  pass "$t"
fi

# ---- libcoap: a CoAP GET over DTLS with a pre-shared key ---------------------------------
# Two adjacent free UDP ports: coap-server takes PORT and PORT + 1 (coaps).
free_udp_port_pair() {
  python3 -c 'import socket
for _ in range(50):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    p = a.getsockname()[1]
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        continue
    print(p)
    break'
}

for lib in openssl gnutls; do
  t="coap_server_${lib}_answers_rtcsec_coap_get_over_psk_dtls"
  port=$(free_udp_port_pair)
  timeout "$WAIT" "coap-server-$lib" -A 127.0.0.1 -p "$port" -k "$COAP_KEY" \
    >"$work/cs-$lib.out" 2>&1 &
  peer_pid=$!
  pids+=("$peer_pid")
  sleep 1
  # coap-server listens for DTLS on port + 1
  run_client rcc-$lib --connect "127.0.0.1:$((port + 1))" --no-srtp --psk-identity "$ID" \
    --psk "$COAP_KEY_HEX" --coap-get time
  kill "$peer_pid" 2>/dev/null
  if [[ $client_status -ne 0 ]] ||
    [[ "$(value "$work/rcc-$lib.out" "coap response")" != 2.05 ]] ||
    ! grep -qE '^coap payload: [A-Z][a-z][a-z] [0-9]{2} [0-9:]{8}$' "$work/rcc-$lib.out"; then
    fail "$t: exit $client_status" "$work/rcc-$lib.out" "$work/rcc-$lib.err" \
      "$work/cs-$lib.out"
  else
    pass "$t ($(value "$work/rcc-$lib.out" cipher))"
  fi

  t="coap_client_${lib}_get_is_answered_by_rtcsec_over_psk_dtls"
  start_server rcs-$lib --no-srtp --psk-identity "$ID" --psk "$COAP_KEY_HEX" \
    --coap-reply "21.5 C" --timeout 3
  timeout "$WAIT" "coap-client-$lib" -k "$COAP_KEY" -u "$ID" -B 5 \
    "coaps://127.0.0.1:$server_port/sensors/temp" >"$work/cc-$lib.out" 2>&1
  cstatus=$?
  wait_pid "$server_pid" # ends when coap-client closes, or 3 s after its request
  if [[ $cstatus -ne 0 ]] || ! grep -qx '21.5 C' "$work/cc-$lib.out" ||
    ! grep -qx 'coap request: 0.01 /sensors/temp' "$work/rcs-$lib.out"; then
    fail "$t: coap-client exit $cstatus" "$work/cc-$lib.out" "$work/rcs-$lib.out" \
      "$work/rcs-$lib.err"
  else
    pass "$t ($(value "$work/rcs-$lib.out" cipher))"
  fi
done

# ---- bad input from a real peer -----------------------------------------------------------
t="unknown_psk_identity_from_openssl_is_refused_with_its_own_error"
start_server rs11 "${PSK[@]}" --echo --timeout 4
start_peer oc11 0.5 never-echoed openssl s_client -dtls1_2 -connect "127.0.0.1:$server_port" \
  -psk_identity intruder -psk "$KEY" -cipher PSK-AES128-CCM8
wait_pid "$server_pid"
kill "$peer_pid" 2>/dev/null
if [[ $status -ne 1 ]] || ! grep -q 'unknown pre-shared key identity' "$work/rs11.err" ||
  grep -q '^connected' "$work/rs11.out" || grep -qx never-echoed "$work/oc11.out"; then
  fail "$t: server exit $status" "$work/rs11.out" "$work/rs11.err" "$work/oc11.out"
else
  pass "$t"
fi

t="wrong_psk_from_openssl_never_connects_and_the_reason_says_so"
start_server rs12 "${PSK[@]}" --echo --timeout 4
start_peer oc12 0.5 never-echoed openssl s_client -dtls1_2 -connect "127.0.0.1:$server_port" \
  -psk_identity "$ID" -psk 00112233445566778899aabbccddeefe -cipher PSK-AES128-CCM8
wait_pid "$server_pid"
kill "$peer_pid" 2>/dev/null
if [[ $status -ne 1 ]] || grep -q '^connected' "$work/rs12.out" ||
  ! grep -q 'pre-shared key this is what a different key' "$work/rs12.err"; then
  fail "$t: server exit $status" "$work/rs12.out" "$work/rs12.err" "$work/oc12.out"
else
  pass "$t"
fi

t="rtcsec_client_with_a_wrong_psk_fails_against_openssl_and_sends_no_data"
port=$(free_udp_port)
start_peer os13 0 "" openssl s_server -dtls1_2 -accept "127.0.0.1:$port" -nocert \
  -psk_identity "$ID" -psk "$KEY" -cipher PSK-AES128-CCM8
wait_for "$work/os13.out" '^ACCEPT'
timeout "$WAIT" "$tool" --timeout 3 --connect "127.0.0.1:$port" --no-srtp --psk-identity "$ID" \
  --psk 00112233445566778899aabbccddeefe --send-data never-sent >"$work/rc13.out" \
  2>"$work/rc13.err"
client_status=$?
kill "$peer_pid" 2>/dev/null
if [[ $client_status -ne 1 ]] || grep -q '^connected' "$work/rc13.out" ||
  grep -q never-sent "$work/os13.out" || ! grep -q 'pre-shared key' "$work/rc13.err"; then
  fail "$t: exit $client_status" "$work/rc13.out" "$work/rc13.err" "$work/os13.out"
else
  pass "$t"
fi

# ---- option errors: exit 2 with the reason, nothing sent ---------------------------
t="plain_dtls_and_turns_option_errors_exit_2_with_the_reason"
bad=0
while IFS='|' read -r why args; do
  read -ra argv <<<"$args"
  "$tool" "${argv[@]}" >"$work/u.out" 2>"$work/u.err"
  st=$?
  if [[ $st -ne 2 ]] || ! grep -q -- "$why" "$work/u.err"; then
    echo "    | '$args': exit $st, want 2 and '$why':"
    sed 's/^/    |   /' "$work/u.err"
    bad=1
  fi
done <<'CASES'
--psk-identity and --psk go together|--connect 127.0.0.1:9 --no-srtp --psk 0011
need --no-srtp|--connect 127.0.0.1:9 --psk-identity d --psk 0011 --echo
not with --send-rtp|--connect 127.0.0.1:9 --no-srtp --send-rtp 10
--ca-file needs --peer-name|--connect 127.0.0.1:9 --no-srtp --ca-file /dev/null
--peer-name needs --ca-file|--listen 127.0.0.1:0 --no-srtp --peer-name x
expected 1 to 64 bytes in hex|--connect 127.0.0.1:9 --no-srtp --psk-identity d --psk 0g
AEAD suites only|--connect 127.0.0.1:9 --no-srtp --psk-identity d --psk 0011 --cipher AES128-SHA
--turns needs --connect|--listen 127.0.0.1:0 --turns 127.0.0.1:9 --turn-ca /dev/null --turn-name x
must be authenticated before any STUN|--connect 127.0.0.1:9 --turns 127.0.0.1:9 --turn-user u --turn-pass p
expected binding or allocation|--connect 127.0.0.1:9 --turns 127.0.0.1:9 --turn-only all
CASES
if [[ $bad -ne 0 ]]; then
  fail "$t"
else
  pass "$t"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
