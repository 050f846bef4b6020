#!/usr/bin/env bash
# Tests the rtcsec-dtls tool as a program: two copies against each other
# (both authenticating the other by fingerprint), against openssl s_server
# and s_client, a loopback call with SRTP media both ways (--send-rtp), and
# its failure and usage exits. Loopback only.
#
# Usage: test_tool.sh PATH/TO/rtcsec-dtls
# Ends with "N passed, N failed"; exits 0 only if nothing failed.
set -u

tool=${1:?usage: test_tool.sh PATH/TO/rtcsec-dtls}
if [[ ! -x "$tool" ]]; then
  echo "test_tool: $tool is not an executable" >&2
  exit 1
fi
if ! command -v openssl >/dev/null 2>&1; then
  echo "test_tool: the openssl command line tool is required (apt-get install openssl)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# shellcheck source=support/tool_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/tool_test.sh"

for who in a b c; do
  if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=rtcsec-tool-$who" -keyout "$work/$who.key" -out "$work/$who.crt" \
    >"$work/req.log" 2>&1; then
    fail "generate certificate $who with openssl req" "$work/req.log"
    echo "$passed passed, $failed failed"
    exit 1
  fi
done
fp_a=$(fingerprint "$work/a.crt")
fp_b=$(fingerprint "$work/b.crt")
fp_c=$(fingerprint "$work/c.crt")

# ---- 1. tool server <-> tool client, default profiles ---------------------
t="tool_server_and_tool_client_agree_on_profile_and_keys"
start_server s1 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" \
  --export-keying-material
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/s1.out" "$work/s1.err"
else
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --export-keying-material \
    >"$work/c1.out" 2>"$work/c1.err"
  client_status=$?
  wait_pid "$server_pid"
  km_s=$(value "$work/s1.out" "keying material")
  km_c=$(value "$work/c1.out" "keying material")
  if [[ $client_status -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status" "$work/s1.err" "$work/c1.err"
  elif ! grep -qx connected "$work/s1.out" || ! grep -qx connected "$work/c1.out"; then
    fail "$t: no 'connected' line" "$work/s1.out" "$work/c1.out"
  elif [[ "$(value "$work/s1.out" profile)" != "SRTP_AEAD_AES_128_GCM" ||
    "$(value "$work/c1.out" profile)" != "SRTP_AEAD_AES_128_GCM" ]]; then
    # RFC 8827 asks for AEAD first: the default list starts with AES-128-GCM.
    fail "$t: expected default profile SRTP_AEAD_AES_128_GCM" "$work/s1.out" "$work/c1.out"
  elif [[ ${#km_s} -ne 112 || "$km_s" != "$km_c" ]]; then
    fail "$t: keying material differs or is not 56 bytes" "$work/s1.out" "$work/c1.out"
  elif [[ "$(value "$work/s1.out" "peer fingerprint")" != "$fp_b" ||
    "$(value "$work/c1.out" "peer fingerprint")" != "$fp_a" ||
    "$(value "$work/s1.out" "local fingerprint")" != "$fp_a" ]]; then
    fail "$t: fingerprints printed do not match the certificates" "$work/s1.out" "$work/c1.out"
  elif [[ "$(value "$work/s1.out" role)" != server || "$(value "$work/c1.out" role)" != client ||
    "$(value "$work/c1.out" version)" != DTLSv1.2 ]] ||
    ! grep -qE '^handshake: [0-9]+ ms, [0-9]+ retransmissions$' "$work/c1.out" ||
    ! grep -q 'secret' "$work/c1.err"; then
    fail "$t: role/version/handshake/secret-warning lines" "$work/s1.out" "$work/c1.out" \
      "$work/c1.err"
  else
    pass "$t"
  fi
fi

# ---- 2. tool server <-> tool client over IPv6, chosen profile, keylog -----
t="tool_pair_over_ipv6_with_chosen_profile_and_keylog"
"$tool" --listen '[::1]:0' --timeout "$WAIT" --cert "$work/a.crt" --key "$work/a.key" \
  --fingerprint "$fp_b" --export-keying-material --profiles SRTP_AES128_CM_HMAC_SHA1_80 \
  >"$work/s2.out" 2>"$work/s2.err" &
server_pid=$!
pids+=("$server_pid")
server_port=""
wait_for "$work/s2.out" '^listening on \[::1\]:' && server_port=$(port_of "$work/s2.out")
if [[ -z "$server_port" ]]; then
  if grep -q 'Cannot assign requested address\|Address family not supported' "$work/s2.err"; then
    pass "$t (skipped: no IPv6 loopback on this machine)"
  else
    fail "$t: server printed no 'listening on [::1]:PORT'" "$work/s2.out" "$work/s2.err"
  fi
else
  timeout "$WAIT" "$tool" --connect "[::1]:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --export-keying-material \
    --profiles SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80 --keylog "$work/keylog" --mtu 400 \
    >"$work/c2.out" 2>"$work/c2.err"
  client_status=$?
  wait_pid "$server_pid"
  km_s=$(value "$work/s2.out" "keying material")
  km_c=$(value "$work/c2.out" "keying material")
  if [[ $client_status -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status" "$work/s2.err" "$work/c2.err"
  elif [[ "$(value "$work/c2.out" profile)" != "SRTP_AES128_CM_HMAC_SHA1_80" ]]; then
    fail "$t: the server's only profile was not chosen" "$work/c2.out"
  elif [[ ${#km_s} -ne 120 || "$km_s" != "$km_c" ]]; then
    fail "$t: keying material differs or is not 60 bytes" "$work/s2.out" "$work/c2.out"
  elif ! grep -qE '^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$' "$work/keylog"; then
    fail "$t: no CLIENT_RANDOM line in the key log" "$work/keylog"
  elif [[ "$(stat -c %a "$work/keylog")" != 600 ]]; then
    fail "$t: key log is not mode 0600"
  else
    pass "$t"
  fi
fi

# ---- 3. tool client <-> openssl s_server ----------------------------------
# openssl's s_server and s_client quit at EOF on stdin: give them a FIFO.
t="tool_client_and_openssl_s_server_agree_on_keys"
port=$(free_udp_port)
mkfifo "$work/in3"
openssl s_server -dtls1_2 -accept "127.0.0.1:$port" -cert "$work/c.crt" -key "$work/c.key" \
  -use_srtp SRTP_AEAD_AES_128_GCM -keymatexport EXTRACTOR-dtls_srtp -keymatexportlen 56 \
  -verify 1 -naccept 1 <"$work/in3" >"$work/ossl3.out" 2>&1 &
ossl_pid=$!
pids+=("$ossl_pid")
exec 7>"$work/in3" # keeps s_server's stdin open until we close it
if ! wait_for "$work/ossl3.out" '^ACCEPT$'; then
  fail "$t: openssl s_server did not start" "$work/ossl3.out"
else
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$port" --timeout "$WAIT" --cert "$work/b.crt" \
    --key "$work/b.key" --fingerprint "$fp_c" --export-keying-material \
    --profiles SRTP_AEAD_AES_128_GCM >"$work/c3.out" 2>"$work/c3.err"
  client_status=$?
  wait_for "$work/ossl3.out" '^    Keying material: [0-9A-F]+$'
  km_o=$(openssl_km "$work/ossl3.out")
  km_c=$(value "$work/c3.out" "keying material")
  if [[ $client_status -ne 0 ]]; then
    fail "$t: tool exit code $client_status" "$work/c3.err" "$work/ossl3.out"
  elif [[ "$(value "$work/c3.out" profile)" != "SRTP_AEAD_AES_128_GCM" ]] ||
    ! grep -q 'SRTP Extension negotiated, profile=SRTP_AEAD_AES_128_GCM' "$work/ossl3.out"; then
    fail "$t: profile" "$work/c3.out" "$work/ossl3.out"
  elif [[ ${#km_o} -ne 112 || "$km_o" != "$km_c" ]]; then
    fail "$t: keying material differs (tool $km_c, openssl $km_o)" "$work/ossl3.out"
  else
    pass "$t"
  fi
fi
exec 7>&-
wait_pid "$ossl_pid"

# ---- 4. openssl s_client <-> tool server -----------------------------------
t="openssl_s_client_and_tool_server_agree_on_keys"
start_server s4 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_c" \
  --export-keying-material --profiles SRTP_AES128_CM_SHA1_80
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/s4.out" "$work/s4.err"
else
  mkfifo "$work/in4"
  openssl s_client -dtls1_2 -connect "127.0.0.1:$server_port" -cert "$work/c.crt" \
    -key "$work/c.key" -use_srtp SRTP_AES128_CM_SHA1_80 -keymatexport EXTRACTOR-dtls_srtp \
    -keymatexportlen 60 <"$work/in4" >"$work/ossl4.out" 2>&1 &
  ossl_pid=$!
  pids+=("$ossl_pid")
  exec 8>"$work/in4"
  wait_pid "$server_pid"
  wait_for "$work/ossl4.out" '^    Keying material: [0-9A-F]+$'
  km_o=$(openssl_km "$work/ossl4.out")
  km_s=$(value "$work/s4.out" "keying material")
  if [[ $status -ne 0 ]]; then
    fail "$t: tool exit code $status" "$work/s4.err" "$work/ossl4.out"
  elif [[ "$(value "$work/s4.out" profile)" != "SRTP_AES128_CM_HMAC_SHA1_80" ]]; then
    fail "$t: profile" "$work/s4.out"
  elif [[ ${#km_o} -ne 120 || "$km_o" != "$km_s" ]]; then
    fail "$t: keying material differs (tool $km_s, openssl $km_o)" "$work/ossl4.out"
  else
    pass "$t"
  fi
  exec 8>&-
  wait_pid "$ossl_pid"
fi

# ---- 5. wrong fingerprint: both fail, exit 1, one-line reason
# The listener drops the failed handshake and waits for another client until
# its --timeout (3 s here), then fails with the reason of the one it dropped.
t="tool_pair_with_wrong_fingerprint_fails_with_exit_1"
start_server s5 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" --timeout 3
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/s5.out" "$work/s5.err"
else
  # The client expects c's certificate, the server presents a's.
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_c" \
    >"$work/c5.out" 2>"$work/c5.err"
  client_status=$?
  wait_pid "$server_pid"
  if [[ $client_status -ne 1 || $status -ne 1 ]]; then
    fail "$t: exit codes client=$client_status server=$status (want 1, 1)" "$work/c5.err" \
      "$work/s5.err"
  elif ! grep -q '^rtcsec-dtls: handshake failed: .*fingerprint.*(.*)$' "$work/c5.err"; then
    fail "$t: client's reason" "$work/c5.err"
  elif ! grep -q '^rtcsec-dtls: handshake failed: .*timed out (.*alert bad_certificate (unauthenticated).*)$' \
    "$work/s5.err"; then
    # the client's alert is plaintext: the server does not act on it (anyone
    # could forge it) but names it when its handshake times out
    fail "$t: server's reason should name the unauthenticated alert" "$work/s5.err"
  elif ! grep -qx 'failed_handshakes: 1' "$work/s5.out"; then
    fail "$t: server's failed_handshakes" "$work/s5.out"
  elif grep -q '^connected$\|^keying material' "$work/c5.out" "$work/s5.out"; then
    fail "$t: printed connected/keys although it failed" "$work/c5.out" "$work/s5.out"
  else
    pass "$t"
  fi
fi

# ---- 6. no --fingerprint: warned, then times out (fail closed) -------------
t="tool_without_fingerprint_warns_and_times_out"
start_server s6 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b"
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/s6.out" "$work/s6.err"
else
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout 2 \
    --cert "$work/b.crt" --key "$work/b.key" >"$work/c6.out" 2>"$work/c6.err"
  client_status=$?
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  if [[ $client_status -ne 1 ]]; then
    fail "$t: exit code $client_status (want 1)" "$work/c6.err"
  elif ! grep -q 'warning: no --fingerprint' "$work/c6.err" ||
    ! grep -q '^rtcsec-dtls: handshake failed: .*fingerprint' "$work/c6.err"; then
    fail "$t: warning and reason" "$work/c6.err"
  elif grep -q '^connected$' "$work/c6.out"; then
    fail "$t: connected without a fingerprint" "$work/c6.out"
  else
    pass "$t"
  fi
fi

# ---- 7. usage errors exit 2 -------------------------------------------------
t="tool_usage_errors_exit_2"
bad=0
for args in "" "--bogus" "--listen 127.0.0.1" "--connect 127.0.0.1:0" \
  "--listen 127.0.0.1:0 --connect 127.0.0.1:9" "--connect ::1:9" \
  "--connect 127.0.0.1:9 --profiles SRTP_BOGUS" "--connect 127.0.0.1:9 --fingerprint sha-256" \
  "--connect 127.0.0.1:9 --mtu 10" "--connect 127.0.0.1:9 --timeout 0" \
  "--connect 127.0.0.1:9 --cert $work/a.crt" "--connect 127.0.0.1:9 extra" \
  "--connect 127.0.0.1:9 --send-rtp -1" "--connect 127.0.0.1:9 --send-rtp 10000001" \
  "--connect 127.0.0.1:9 --send-rtp many" "--connect 127.0.0.1:9 --rate 1000001" \
  "--connect 127.0.0.1:9 --rate fast" \
  "--connect 127.0.0.1:9 --send-rtp 10 --export-keying-material"; do
  # shellcheck disable=SC2086 # word splitting of $args is intended
  timeout "$WAIT" "$tool" $args >"$work/u.out" 2>"$work/u.err"
  st=$?
  if [[ $st -ne 2 ]]; then
    echo "    '$args' exited $st"
    bad=1
  fi
done
timeout "$WAIT" "$tool" --help >"$work/u.out" 2>&1
st=$?
if [[ $bad -ne 0 ]]; then
  fail "$t"
elif [[ $st -ne 0 ]] || ! grep -q -- '--fingerprint' "$work/u.out" ||
  ! grep -q -- '--send-rtp' "$work/u.out"; then
  fail "$t: --help" "$work/u.out"
else
  pass "$t"
fi

# ---- 8. loopback call: SRTP media both ways, two profiles -------------------
# Each side sends 2000 RTP packets (an RTCP sender report after every 50th)
# and verifies every packet of the other: the counters must say so exactly.
MEDIA_N=2000
MEDIA_SR=$((MEDIA_N / 50))
want_counters="rtp sent: $MEDIA_N, rtp received: $MEDIA_N, verified: $MEDIA_N, rtcp sent: $MEDIA_SR, rtcp received: $MEDIA_SR, auth failures: 0, replays: 0, drops: 0"
# profile (RFC name), then extra options for both sides
for spec in "SRTP_AEAD_AES_128_GCM:" "SRTP_AES128_CM_HMAC_SHA1_80:--rate 2000"; do
  profile=${spec%%:*}
  extra=${spec#*:}
  t="loopback_call_sends_and_verifies_${MEDIA_N}_rtp_each_way_with_$profile"
  # shellcheck disable=SC2086 # word splitting of $extra is intended
  start_server m_$profile --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" \
    --profiles "$profile" --send-rtp "$MEDIA_N" $extra
  if [[ -z "$server_port" ]]; then
    fail "$t: server printed no 'listening on'" "$work/m_$profile.out" "$work/m_$profile.err"
    continue
  fi
  # shellcheck disable=SC2086
  timeout $((2 * WAIT)) "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --profiles "$profile" \
    --send-rtp "$MEDIA_N" $extra >"$work/mc_$profile.out" 2>"$work/mc_$profile.err"
  client_status=$?
  wait_pid "$server_pid"
  so="$work/m_$profile.out"
  co="$work/mc_$profile.out"
  if [[ $client_status -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status" "$so" "$work/m_$profile.err" \
      "$co" "$work/mc_$profile.err"
  elif [[ "$(value "$so" profile)" != "$profile" || "$(value "$co" profile)" != "$profile" ]]; then
    fail "$t: profile" "$so" "$co"
  elif ! grep -qxF "$want_counters" "$so" || ! grep -qxF "$want_counters" "$co"; then
    fail "$t: counters (want '$want_counters')" "$so" "$co"
  elif [[ "$(value "$so" "peer sent")" != "$MEDIA_N rtp, $MEDIA_SR rtcp" ||
    "$(value "$co" "peer sent")" != "$MEDIA_N rtp, $MEDIA_SR rtcp" ]] ||
    ! grep -qx 'missing: 0, duplicates: 0, bad: 0, out of order: 0' "$so" ||
    ! grep -qx 'missing: 0, duplicates: 0, bad: 0, out of order: 0' "$co"; then
    fail "$t: peer count / missing / duplicates" "$so" "$co"
  elif ! grep -qx 'media: verified' "$so" || ! grep -qx 'media: verified' "$co"; then
    fail "$t: no 'media: verified'" "$so" "$co"
  else
    pass "$t"
  fi
done

# ---- 9. media against a peer without a media phase: exit 1, say why -------
t="send_rtp_against_a_handshake_only_peer_fails_with_exit_1"
start_server m9 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b"
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/m9.out" "$work/m9.err"
else
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --send-rtp 100 \
    >"$work/mc9.out" 2>"$work/mc9.err"
  client_status=$?
  wait_pid "$server_pid"
  if [[ $client_status -ne 1 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status (want 1, 0)" "$work/mc9.err" \
      "$work/m9.err"
  elif ! grep -q '^rtcsec-dtls: media failed: .*peer closed' "$work/mc9.err" ||
    ! grep -qx 'media: failed' "$work/mc9.out"; then
    fail "$t: reason" "$work/mc9.out" "$work/mc9.err"
  else
    pass "$t"
  fi
fi

# ---- the listener on a hostile network (issue 11) ---------------------------
# A helper that sends from its own UDP socket on 127.0.0.1 (another port
# than the client's): garbage of every kind the listener could mistake for a
# peer, a replay of a real ClientHello, or it captures a client's first
# datagram. Every mode is bounded in count and time.
cat >"$work/udp.py" <<'EOF_PY'
import os, socket, sys, time

def garbage(seed):
    # Datagrams that are not a valid ClientHello, first bytes of every class.
    hello = bytes.fromhex("16fefd000000000000000000" "3a" "01000036000000000000002e" "fefd") + bytes(44)
    out = [b"", b"\x00", b"\x16", bytes(range(64)), os.urandom(200),
           b"\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12),              # STUN
           b"\x80\x60" + bytes(170),                                    # RTP
           b"\x15\xfe\xfd" + bytes(8) + b"\x00\x02\x02\x28",             # epoch-0 alert
           b"\x17\xfe\xfd\x00\x01" + bytes(6) + b"\x00\x02ab",           # short epoch-1 data
           b"\x14\xfe\xfd\x00\x00" + bytes(6) + b"\x00\x01\x01"]        # CCS
    for i, (at, val) in enumerate([(0, 0x17), (1, 0x00), (2, 0xfc), (4, 1), (11, 0xff),
                                   (12, 0xff), (13, 2), (19, 1), (22, 0xff), (16, 4),
                                   (25, 0x03)]):
        b = bytearray(hello)
        b[at] = val
        out.append(bytes(b))
    out.append(hello[:30])
    for n in range(1, 65):
        out.append(bytes([20 + (seed + n) % 44]) + os.urandom(n))
    return out

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
mode, args = sys.argv[1], sys.argv[2:]
if mode == "garbage":          # PORT SECONDS: a burst, "sent N", then more until SECONDS
    dst = ("127.0.0.1", int(args[0]))
    n = 0
    for g in garbage(0):
        s.sendto(g, dst); n += 1
    print("sent", n, flush=True)
    end = time.monotonic() + float(args[1])
    k = 1
    while time.monotonic() < end:
        for g in garbage(k):
            s.sendto(g, dst)
        k += 1
        time.sleep(0.02)
elif mode == "capture":        # OUTFILE SECONDS: print the port, save the first datagram
    print("port", s.getsockname()[1], flush=True)
    s.settimeout(float(args[1]))
    data, _ = s.recvfrom(65535)
    open(args[0], "wb").write(data)
elif mode == "replay":         # PORT FILE SECONDS: send it once, STUN and RTP, then silence
    dst = ("127.0.0.1", int(args[0]))
    s.sendto(open(args[1], "rb").read(), dst)
    for i in range(10):
        s.sendto(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12), dst)
        s.sendto(b"\x80\x60" + os.urandom(170), dst)
    print("sent", flush=True)
    time.sleep(float(args[2]))
EOF_PY

# ---- 10. garbage from another address before and during the handshake -----
t="listener_ignores_garbage_from_another_address_and_the_real_client_completes_with_media"
start_server g10 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" --send-rtp 200
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/g10.out" "$work/g10.err"
else
  python3 "$work/udp.py" garbage "$server_port" 3 >"$work/g10.py" 2>&1 &
  py_pid=$!
  pids+=("$py_pid")
  wait_for "$work/g10.py" '^sent '
  burst=$(sed -n 's/^sent //p' "$work/g10.py")
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --send-rtp 200 \
    >"$work/c10.out" 2>"$work/c10.err"
  client_status=$?
  wait_pid "$server_pid"
  wait "$py_pid" 2>/dev/null
  ignored=$(value "$work/g10.out" ignored_datagrams)
  n_ignored=${ignored%% *}
  if [[ -z "$burst" ]]; then
    fail "$t: the garbage sender did not start" "$work/g10.py"
  elif [[ $client_status -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status" "$work/g10.out" "$work/g10.err" \
      "$work/c10.err"
  elif ! grep -qx 'media: verified' "$work/g10.out" || ! grep -qx 'media: verified' "$work/c10.out"; then
    fail "$t: media not verified" "$work/g10.out" "$work/c10.out"
  elif [[ ! $ignored =~ ^[0-9]+\ from\ 1\ addresses$ || $n_ignored -lt $burst ]]; then
    fail "$t: ignored_datagrams '$ignored' (want at least the $burst sent before, from 1 address)" \
      "$work/g10.out"
  elif ! grep -qx 'failed_handshakes: 0' "$work/g10.out"; then
    fail "$t: failed_handshakes" "$work/g10.out"
  else
    pass "$t (ignored $ignored)"
  fi
fi

# ---- 11. failed handshakes, then a good client, within one --timeout -------
t="listener_goes_on_after_failed_handshakes_and_takes_the_next_client"
start_server l11 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b"
if [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/l11.out" "$work/l11.err"
else
  # The server refuses this one (c's certificate, it wants b's) ...
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout 5 \
    --cert "$work/c.crt" --key "$work/c.key" --fingerprint "$fp_a" \
    >"$work/c11a.out" 2>"$work/c11a.err"
  st_a=$?
  # ... this one refuses the server (it wants c's certificate) ...
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout 5 \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_c" \
    >"$work/c11b.out" 2>"$work/c11b.err"
  st_b=$?
  # ... and this one is right.
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout 5 \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --export-keying-material \
    >"$work/c11c.out" 2>"$work/c11c.err"
  st_c=$?
  wait_pid "$server_pid"
  if [[ $st_a -ne 1 || $st_b -ne 1 || $st_c -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes clients=$st_a,$st_b,$st_c server=$status (want 1,1,0 and 0)" \
      "$work/l11.out" "$work/l11.err" "$work/c11a.err" "$work/c11b.err" "$work/c11c.err"
  elif ! grep -qx connected "$work/l11.out" || ! grep -qx 'failed_handshakes: 2' "$work/l11.out"; then
    fail "$t: server output" "$work/l11.out" "$work/l11.err"
  elif [[ $(grep -c '^rtcsec-dtls: handshake with .* dropped: ' "$work/l11.err") -ne 2 ]]; then
    fail "$t: the two dropped handshakes are not reported" "$work/l11.err"
  elif [[ "$(value "$work/l11.out" "peer fingerprint")" != "$fp_b" ]]; then
    fail "$t: connected to the wrong client" "$work/l11.out"
  else
    pass "$t"
  fi
fi

# ---- 12. a ClientHello from an address that never answers ------------------
# A real client's first datagram is captured and replayed from another
# socket, with some STUN and RTP after it, which then stays silent: the
# listener takes it (it is a valid ClientHello), drops it once it has been
# silent for the idle limit, and takes the real client's retransmitted
# ClientHello; nothing the first peer sent counts against the second.
t="listener_drops_a_silent_client_hello_and_takes_the_real_client"
python3 "$work/udp.py" capture "$work/hello.bin" 10 >"$work/cap.out" 2>&1 &
cap_pid=$!
pids+=("$cap_pid")
wait_for "$work/cap.out" '^port '
cap_port=$(sed -n 's/^port //p' "$work/cap.out")
timeout 3 "$tool" --connect "127.0.0.1:${cap_port:-9}" --timeout 2 --cert "$work/b.crt" \
  --key "$work/b.key" --fingerprint "$fp_a" >/dev/null 2>&1
wait "$cap_pid" 2>/dev/null
start_server l12 --cert "$work/a.crt" --key "$work/a.key" --fingerprint "$fp_b" --send-rtp 100
if [[ ! -s "$work/hello.bin" ]]; then
  fail "$t: no ClientHello captured" "$work/cap.out"
elif [[ -z "$server_port" ]]; then
  fail "$t: server printed no 'listening on'" "$work/l12.out" "$work/l12.err"
else
  python3 "$work/udp.py" replay "$server_port" "$work/hello.bin" 12 >"$work/l12.py" 2>&1 &
  py_pid=$!
  pids+=("$py_pid")
  wait_for "$work/l12.py" '^sent'
  timeout "$WAIT" "$tool" --connect "127.0.0.1:$server_port" --timeout "$WAIT" \
    --cert "$work/b.crt" --key "$work/b.key" --fingerprint "$fp_a" --send-rtp 100 \
    >"$work/c12.out" 2>"$work/c12.err"
  client_status=$?
  wait_pid "$server_pid"
  kill "$py_pid" 2>/dev/null
  wait "$py_pid" 2>/dev/null
  if [[ $client_status -ne 0 || $status -ne 0 ]]; then
    fail "$t: exit codes client=$client_status server=$status" "$work/l12.out" "$work/l12.err" \
      "$work/c12.err"
  elif ! grep -q '^rtcsec-dtls: handshake with .* dropped: .*sent nothing' "$work/l12.err" ||
    ! grep -qx 'failed_handshakes: 1' "$work/l12.out"; then
    fail "$t: the silent peer was not dropped as such" "$work/l12.out" "$work/l12.err"
  elif ! grep -qx 'media: verified' "$work/l12.out" || ! grep -qx 'media: verified' "$work/c12.out"; then
    fail "$t: media not verified" "$work/l12.out" "$work/c12.out"
  else
    pass "$t"
  fi
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
