#!/usr/bin/env bash
# Browser interop: headless Chromium (Debian's chromium) calls rtcsec-echo and
# must see its own camera and microphone come back through rtcsec's ICE, DTLS
# and SRTP, in both DTLS roles and with each SRTP profile Chromium offers; and
# a wrong fingerprint must make rtcsec refuse the DTLS association.
#
# Everything runs inside a network namespace this script creates (and always
# deletes): a veth pair rtb0/rtb1 with both ends inside, 10.77.0.1/24 and
# 10.77.0.2/24. rtcsec-echo serves HTTP on the namespace's 127.0.0.1 (a
# secure context, so the page may use getUserMedia) and gathers ICE on
# 10.77.0.1; Chromium offers its host candidates on both veth addresses.
# No packet leaves the namespace.
#
# Each case starts one rtcsec-echo (--report FILE, --exit-after) and one
# Chromium on http://127.0.0.1:PORT/?dtls=client|server; the page runs the
# call by itself and POSTs its getStats() summary every 2 s. The case reads
# those reports and rtcsec's /stats (bounded wait) and asserts:
#   media cases     browser: transport.dtlsState "connected", tlsVersion
#                   FEFD (DTLS 1.2), dtlsCipher non-empty, srtpCipher the
#                   forced profile, dtlsRole the opposite of rtcsec's; an
#                   inbound audio stream with packetsReceived > 0 and an
#                   inbound video stream with framesDecoded > 0, both on the
#                   SSRCs rtcsec declared (the echoed tracks); a selected
#                   pair on 10.77.0.x. rtcsec: DTLS connected in the expected
#                   role with the forced profile, SRTP packets in and out,
#                   no SRTP authentication failure.
#   nack cases      the media checks (default profiles), with rtcsec-echo
#                   --test-drop-video 20: every 20th echoed video packet is
#                   not sent the first time; the browser must NACK (its
#                   inbound nackCount > 0), rtcsec must resend from its cache
#                   (echo.nack_resent >= half of echo.test_dropped, >= 3
#                   dropped) and video frames keep being decoded.
#   wrong-fp cases  rtcsec-echo --test-wrong-fingerprint: rtcsec's /stats
#                   says DTLS failed with the fingerprint mismatch error,
#                   no SRTP packet either way; its log says "DTLS FAILED"
#                   with the reason; the browser's dtlsState is "failed" and
#                   it received no media packet.
#   single cases    rtcsec-echo --single-port 10.77.0.1:0 (SFU mode: one UDP
#                   socket, rtcsec ICE-lite through rtcsec_router) and TWO
#                   Chromiums at once on the same port, one ?dtls=client, one
#                   ?dtls=server. Each call: the media checks above in its
#                   role (PROFILE forced unless "default"); rtcsec's SDP said
#                   a=ice-lite; the browser's selected pair has rtcsec's side
#                   at 10.77.0.1:the single port; rtcsec's /stats says
#                   ice_mode "lite", nominated, and the peer address the
#                   router nominated is exactly the browser's local
#                   candidate of its selected pair. Both together, in one
#                   /stats snapshot: two sessions with different ufrags and
#                   different peer 5-tuples, both DTLS connected with SRTP
#                   both ways, and the router counting 2 sessions, 2
#                   nominated, 2 transports (routing by ufrag, then 5-tuple).
#
# Usage: tests/test_browser.sh PATH/TO/rtcsec-echo [CASE...]
#   CASE: client:PROFILE, server:PROFILE, nack:client, nack:server,
#   wrongfp:client, wrongfp:server, single:PROFILE (PROFILE may be
#   "default"; default: both modes x the 3 profiles Chromium offers, both
#   nack and both wrongfp cases, then single:SRTP_AEAD_AES_128_GCM and
#   single:default: 12).
# Environment: BROWSER_JOBS (cases at once, default 2), CHROMIUM (default
# /usr/bin/chromium), BROWSER_KEEP=1 keeps the work directory.
# Ends with "N passed, N failed"; exits 1 if any case failed. Never skips:
# a missing browser or namespace support is a failure that says why.
set -uo pipefail

ECHO_BIN=${1:-}
shift || true
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
JOBS=${BROWSER_JOBS:-2}
WAIT_MEDIA_S=25 # a media case passes as soon as a report shows everything
WAIT_FAIL_S=20  # a wrong-fp case waits for both sides to show the failure
WAIT_SINGLE_S=35 # a single-port case: two calls at once on a busy machine
START_S=10      # rtcsec-echo must print its URL within this
ECHO_LIFE_S=60  # --exit-after for each rtcsec-echo (a backstop)
NACK_DROP_EVERY=20 # nack cases: rtcsec-echo --test-drop-video
NS=rtcsec-b$$
ADDR_ECHO=10.77.0.1
ADDR_PEER=10.77.0.2

PROFILES=(SRTP_AES128_CM_HMAC_SHA1_80 SRTP_AEAD_AES_128_GCM SRTP_AEAD_AES_256_GCM)
CASES=("$@")
if ((${#CASES[@]} == 0)); then
  for mode in client server; do
    for p in "${PROFILES[@]}"; do
      CASES+=("$mode:$p")
    done
  done
  CASES+=(nack:client nack:server wrongfp:client wrongfp:server)
  CASES+=(single:SRTP_AEAD_AES_128_GCM single:default)
fi

work=""
ns_made=0
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  # The case runners (this script's own background jobs), then whatever
  # they started in the namespace.
  local jobs_left
  jobs_left=$(jobs -p)
  [[ -n "$jobs_left" ]] && kill $jobs_left 2>/dev/null
  if ((ns_made)); then
    # Everything still running in the namespace was started by this script.
    local pids
    pids=$(ip netns pids "$NS" 2>/dev/null)
    if [[ -n "$pids" ]]; then
      kill $pids 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        [[ -z "$(ip netns pids "$NS" 2>/dev/null)" ]] && break
        sleep 0.2
      done
      pids=$(ip netns pids "$NS" 2>/dev/null)
      [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null
    fi
    ip netns del "$NS" 2>/dev/null || echo "browser: WARNING: could not delete namespace $NS" >&2
  fi
  if [[ -n "$work" && "${BROWSER_KEEP:-0}" != 1 ]]; then
    rm -rf "$work"
  elif [[ -n "$work" ]]; then
    echo "browser: work directory kept: $work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail_all REASON: every case fails for one reason (no browser, no netns...).
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
if [[ ! -x "$CHROMIUM" ]]; then
  fail_all "the browser cannot be started: $CHROMIUM is missing. Install Debian's chromium" \
    "(bash scripts/setup.sh does, or: apt-get install --no-install-recommends chromium)"
fi
command -v python3 >/dev/null || fail_all "python3 is missing (it reads the reports)"
command -v ip >/dev/null || fail_all "ip (iproute2) is missing: no network namespace"
if ((EUID != 0)); then
  fail_all "creating a network namespace needs root (running as uid $EUID)"
fi

work=$(mktemp -d /tmp/rtcsec-browser.XXXXXX)

# ---- the namespace ----------------------------------------------------------
if ! err=$(ip netns add "$NS" 2>&1); then
  fail_all "ip netns add $NS failed: $err"
fi
ns_made=1
# veth names must not start with "veth" (libnice skips those); both ends
# stay inside the namespace.
if ! err=$({ ip -n "$NS" link set lo up &&
  ip -n "$NS" link add rtb0 type veth peer name rtb1 &&
  ip -n "$NS" addr add "$ADDR_ECHO/24" dev rtb0 &&
  ip -n "$NS" addr add "$ADDR_PEER/24" dev rtb1 &&
  ip -n "$NS" link set rtb0 up &&
  ip -n "$NS" link set rtb1 up; } 2>&1); then
  fail_all "setting up the veth pair in $NS failed: $err"
fi
# The addresses must be usable (no DAD for IPv4, but the links must be up).
for _ in $(seq 1 50); do
  ip -n "$NS" -4 addr show dev rtb1 | grep -q "$ADDR_PEER" && break
  sleep 0.1
done

# ---- the checker: reads reports and /stats ----------------------------------
cat >"$work/check.py" <<'PYEOF'
import json, re, sys, time, urllib.request

# check.py KIND MODE PROFILE REPORT_FILE STATS_URL LOG_FILE TIMEOUT_S [SP_ADDR SP_PORT]
# (KIND single: MODE "both", two pages reporting into one file, the single
# port's address and port last.)
kind, mode, profile, report_path, stats_url, log_path, timeout = sys.argv[1:8]
sp_addr, sp_port = (sys.argv[8], sys.argv[9]) if len(sys.argv) >= 10 else (None, None)
deadline = time.monotonic() + float(timeout)
# Names RTCTransportStats.srtpCipher may use for each profile: Chromium 156
# says "SRTP_AEAD_AES_128_GCM" (BoringSSL's names); the RFC and the
# webrtc-stats examples' spellings are accepted too.
W3C = {
    "SRTP_AES128_CM_HMAC_SHA1_80": {"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80",
                                    "AES_CM_128_HMAC_SHA1_80"},
    "SRTP_AEAD_AES_128_GCM": {"SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM"},
    "SRTP_AEAD_AES_256_GCM": {"SRTP_AEAD_AES_256_GCM", "AEAD_AES_256_GCM"},
}
rtcsec_role = "client" if mode == "client" else "server"
if profile == "default":
    W3C = {}
browser_role = "server" if rtcsec_role == "client" else "client"


def reports():
    out = []
    try:
        with open(report_path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def stats_all():
    try:
        with urllib.request.urlopen(stats_url, timeout=2) as r:
            return json.load(r)
    except Exception:
        return None


def stats():
    j = stats_all()
    return j["sessions"][0] if j and j.get("sessions") else None


def by_kind(lst, kind_):
    return [x for x in (lst or []) if x.get("kind") == kind_]


def media_problems(rep, st, m=None):
    # m: this call's mode when it is not the case's (single-port cases)
    rtcsec_role_ = rtcsec_role if m is None else ("client" if m == "client" else "server")
    browser_role_ = "server" if rtcsec_role_ == "client" else "client"
    p = []
    t = rep.get("transport") or {}
    if t.get("dtlsState") != "connected":
        p.append(f"browser dtlsState is {t.get('dtlsState')!r}, not 'connected'")
    if t.get("tlsVersion", "").upper() != "FEFD":
        p.append(f"browser tlsVersion {t.get('tlsVersion')!r}, not FEFD (DTLS 1.2)")
    if not t.get("dtlsCipher"):
        p.append("browser dtlsCipher is empty")
    if not t.get("srtpCipher"):
        p.append("browser srtpCipher is empty")
    elif profile in W3C and t.get("srtpCipher") not in W3C[profile]:
        p.append(f"browser srtpCipher {t.get('srtpCipher')!r}, forced {profile}")
    if t.get("dtlsRole") != browser_role_:
        p.append(f"browser dtlsRole {t.get('dtlsRole')!r}, expected {browser_role_!r}")
    want_a = want_v = None
    if st:
        e = st.get("echo") or {}
        want_a, want_v = e.get("audio_ssrc"), e.get("video_ssrc")
    ina = [x for x in by_kind(rep.get("inbound"), "audio") if want_a is None or x.get("ssrc") == want_a]
    inv = [x for x in by_kind(rep.get("inbound"), "video") if want_v is None or x.get("ssrc") == want_v]
    if not ina or max(x.get("packetsReceived", 0) for x in ina) <= 0:
        p.append(f"no inbound audio packets on rtcsec's SSRC {want_a}")
    if not inv or max(x.get("framesDecoded", 0) for x in inv) <= 0:
        p.append(f"no inbound video frames decoded on rtcsec's SSRC {want_v}")
    sp = rep.get("selectedPair") or {}
    addrs = [(sp.get(k) or {}).get("address", "") for k in ("local", "remote")]
    if not all(a.startswith("10.77.0.") for a in addrs):
        p.append(f"selected pair {addrs} not on the namespace's 10.77.0.x")
    if not st:
        p.append("rtcsec /stats has no session")
        return p
    tr = st.get("transport") or {}
    srtp = tr.get("srtp") or {}
    if tr.get("dtls_state") != "connected":
        p.append(f"rtcsec dtls_state {tr.get('dtls_state')!r}")
    if tr.get("dtls_role") != rtcsec_role_:
        p.append(f"rtcsec dtls_role {tr.get('dtls_role')!r}, expected {rtcsec_role_!r}")
    if profile != "default" and tr.get("srtp_profile") != profile:
            p.append(f"rtcsec srtp_profile {tr.get('srtp_profile')!r}, forced {profile!r}")
    if (srtp.get("inbound") or {}).get("rtp_packets", 0) <= 0:
        p.append("rtcsec received no SRTP packet")
    if (srtp.get("outbound") or {}).get("rtp_packets", 0) <= 0:
        p.append("rtcsec sent no SRTP packet")
    if (srtp.get("inbound") or {}).get("auth_failures", 0) != 0:
        p.append("rtcsec counted SRTP authentication failures")
    return p


def nack_problems(rep, st):
    p = media_problems(rep, st)
    e = (st or {}).get("echo") or {}
    inv = by_kind(rep.get("inbound"), "video")
    nacks = max((x.get("nackCount", 0) for x in inv), default=0)
    if e.get("test_dropped", 0) < 3:
        p.append(f"rtcsec dropped only {e.get('test_dropped')} video packets so far")
    if nacks <= 0:
        p.append("the browser sent no NACK for the dropped packets")
    if e.get("nack_resent", 0) <= 0:
        p.append("rtcsec resent nothing from its cache")
    if e.get("nack_resent", 0) < e.get("test_dropped", 0) // 2:
        p.append(f"rtcsec resent {e.get('nack_resent')} of {e.get('test_dropped')} dropped packets")
    return p


def wrongfp_problems(rep, st, log):
    p = []
    if not st:
        return ["rtcsec /stats has no session"]
    tr = st.get("transport") or {}
    srtp = tr.get("srtp") or {}
    if tr.get("dtls_state") != "failed":
        p.append(f"rtcsec dtls_state {tr.get('dtls_state')!r}, not 'failed'")
    if tr.get("error") != -42 or "fingerprint" not in st.get("failure", ""):
        p.append(f"rtcsec error {tr.get('error')} / failure {st.get('failure')!r}: "
                 "not the fingerprint mismatch (-42)")
    for d in ("inbound", "outbound"):
        if (srtp.get(d) or {}).get("rtp_packets", 0) != 0:
            p.append(f"rtcsec has {d} SRTP packets despite the refused association")
    if "DTLS FAILED" not in log or "fingerprint" not in log:
        p.append("rtcsec-echo's log does not show 'DTLS FAILED' with the fingerprint reason")
    if not rep:
        p.append("no report from the page")
        return p
    t = rep.get("transport") or {}
    if t.get("dtlsState") != "failed":
        p.append(f"browser dtlsState {t.get('dtlsState')!r}, not 'failed'")
    if any(x.get("packetsReceived", 0) > 0 for x in rep.get("inbound") or []):
        p.append("the browser received media packets")
    return p


def lite_problems(rep, st, log):
    # One call through the single port: the browser's pair ends at the
    # port, the router nominated exactly the browser's side of that pair.
    p = []
    sp = rep.get("selectedPair") or {}
    rem, loc = sp.get("remote") or {}, sp.get("local") or {}
    if rem.get("address") != sp_addr or str(rem.get("port")) != sp_port:
        p.append(f"browser's selected pair ends at {rem.get('address')}:{rem.get('port')}, "
                 f"not at the single port {sp_addr}:{sp_port}")
    what = "answer sent" if rep.get("mode") == "client" else "offer sent"
    setup = "active" if rep.get("mode") == "client" else "actpass"
    line = re.compile(rf"session {re.escape(str(rep.get('session')))}: {what} "
                      rf"\(\d+ bytes, a=setup:{setup}, a=ice-lite\)")
    if not line.search(log):
        p.append(f"rtcsec-echo's log has no '{what} (..., a=setup:{setup}, a=ice-lite)' "
                 f"for session {rep.get('session')}")
    if not st:
        return p
    if st.get("ice_mode") != "lite":
        p.append(f"rtcsec /stats ice_mode {st.get('ice_mode')!r}, not 'lite'")
    r = st.get("router") or {}
    if not r.get("nominated"):
        p.append("rtcsec's router session is not nominated")
    want_local = f"host {sp_addr}:{sp_port}"
    if (st.get("pair") or {}).get("local") != want_local:
        p.append(f"rtcsec /stats pair.local {(st.get('pair') or {}).get('local')!r}, "
                 f"want {want_local!r}")
    browser_local = f"{loc.get('address')}:{loc.get('port')}"
    if r.get("peer") != browser_local:
        p.append(f"the router nominated {r.get('peer')!r}; the browser's selected pair "
                 f"starts at {browser_local}")
    return p


def single_problems(log):
    # Two calls (one per DTLS role) through the same port, checked in ONE
    # /stats snapshot, so both are up at the same time.
    p = []
    reps = reports()
    j = stats_all()
    if not j:
        return ["rtcsec /stats unreachable"], {}, None
    by_id = {str(x.get("id")): x for x in j.get("sessions") or []}
    found = {}
    for m in ("client", "server"):
        mine = [r for r in reps if r.get("mode") == m]
        if not mine:
            p.append(f"{m}: no report from the page yet")
            continue
        rep = mine[-1]
        st = by_id.get(str(rep.get("session")))
        found[m] = (rep, st)
        p += [f"{m}: {x}" for x in media_problems(rep, st, m)]
        p += [f"{m}: {x}" for x in lite_problems(rep, st, log)]
    if len(found) == 2 and all(st for _, st in found.values()):
        a, b = found["client"][1], found["server"][1]
        ra, rb = a.get("router") or {}, b.get("router") or {}
        if a.get("id") == b.get("id"):
            p.append("both pages report the same rtcsec session")
        if not ra.get("local_ufrag") or ra.get("local_ufrag") == rb.get("local_ufrag"):
            p.append("the two calls do not have distinct ICE ufrags")
        if not ra.get("peer") or ra.get("peer") == rb.get("peer"):
            p.append(f"the two calls do not have distinct 5-tuples: {ra.get('peer')} / "
                     f"{rb.get('peer')}")
    sp = j.get("single_port") or {}
    if str(sp.get("port")) != sp_port:
        p.append(f"rtcsec /stats single_port.port {sp.get('port')}, want {sp_port}")
    r = sp.get("router") or {}
    for k in ("sessions", "nominated", "transports"):
        if r.get(k) != 2:
            p.append(f"router {k} is {r.get(k)}, want 2 at once")
    # RFC 8445 §6.1.1: against a lite agent the browser is controlling in
    # both roles, so it never claims ICE-CONTROLLED (which gets a 487).
    if r.get("stun_role_conflicts", 0) != 0:
        p.append(f"router answered {r.get('stun_role_conflicts')} role conflicts (487)")
    return p, found, j


last_problems = ["no report from the page yet"]
rep = st = None
found, snapshot = {}, None
while True:
    reps = reports()
    st = stats()
    rep = reps[-1] if reps else None
    try:
        with open(log_path, errors="replace") as f:
            log = f.read()
    except OSError:
        log = ""
    if kind == "media":
        last_problems = media_problems(rep, st) if rep else ["no report from the page yet"]
    elif kind == "nack":
        last_problems = nack_problems(rep, st) if rep else ["no report from the page yet"]
    elif kind == "single":
        last_problems, found, snapshot = single_problems(log)
    else:
        last_problems = wrongfp_problems(rep, st, log)
    if not last_problems or time.monotonic() >= deadline:
        break
    time.sleep(0.5)

def short(r):
    if not r:
        return "none"
    t = r.get("transport") or {}
    ins = ", ".join(f"{x.get('kind')} ssrc {x.get('ssrc')} {x.get('packetsReceived')} pkts "
                    f"{x.get('framesDecoded')} frames {x.get('packetsLost')} lost "
                    f"{x.get('nackCount')} NACKs {x.get('pliCount')} PLIs"
                    for x in r.get("inbound") or [])
    outs = ", ".join(f"{x.get('kind')} {x.get('packetsSent')} pkts" for x in r.get("outbound") or [])
    sp = r.get("selectedPair") or {}
    pair = f"{(sp.get('local') or {}).get('address')}:{(sp.get('local') or {}).get('port')} <-> " \
           f"{(sp.get('remote') or {}).get('address')}:{(sp.get('remote') or {}).get('port')}"
    return (f"report #{r.get('reportNumber')} at {r.get('elapsedMs')} ms: dtlsState "
            f"{t.get('dtlsState')}, tlsVersion {t.get('tlsVersion')}, dtlsCipher "
            f"{t.get('dtlsCipher')}, srtpCipher {t.get('srtpCipher')}, dtlsRole "
            f"{t.get('dtlsRole')}; inbound [{ins}]; outbound [{outs}]; pair {pair}; "
            f"remote video {r.get('remoteVideo')}; errors {r.get('errors')}")

def short_stats(s):
    if not s:
        return "none"
    tr = s.get("transport") or {}
    srtp = tr.get("srtp") or {}
    return (f"session {s.get('id')}: ICE {s.get('ice_state')}, DTLS {tr.get('dtls_state')} as "
            f"{tr.get('dtls_role')} {tr.get('dtls_version')} {tr.get('dtls_cipher')} "
            f"{tr.get('srtp_profile')}, SRTP in {(srtp.get('inbound') or {}).get('rtp_packets')} "
            f"/ out {(srtp.get('outbound') or {}).get('rtp_packets')} RTP, failure "
            f"{s.get('failure')!r}, echo {s.get('echo')}, ms {s.get('ms')}")

if kind == "single":
    for m in ("client", "server"):
        r_, s_ = found.get(m, (None, None))
        print(f"  {m} page: {short(r_)}")
        print(f"  {m} call: {short_stats(s_)}; router {(s_ or {}).get('router')}")
    sp = (snapshot or {}).get("single_port") or {}
    print(f"  single port {sp.get('address')}:{sp.get('port')}: router {sp.get('router')}; "
          f"socket {sp.get('socket')}")
else:
    print(f"  browser: {short(rep)}")
    print(f"  rtcsec:  {short_stats(st)}")
for pr in last_problems:
    print(f"  problem: {pr}")
sys.exit(0 if not last_problems else 1)
PYEOF

# run_case NAME: one call; writes $work/NAME.result ("PASS"/"FAIL ...") and
# $work/NAME.out (what to print).
run_case() {
  local name=$1 kind mode profile
  local dir="$work/${name//[:]/_}"
  mkdir -p "$dir"
  local out="$dir/case.out"
  case "$name" in
  client:* | server:*)
    kind=media
    mode=${name%%:*}
    profile=${name#*:}
    ;;
  wrongfp:client | wrongfp:server)
    kind=wrongfp
    mode=${name#*:}
    profile=default
    ;;
  nack:client | nack:server)
    kind=nack
    mode=${name#*:}
    profile=default
    ;;
  single:*)
    kind=single
    mode=both
    profile=${name#*:}
    ;;
  *)
    echo "FAIL unknown case '$name'" >"$dir/result"
    return
    ;;
  esac
  local t0=$SECONDS
  local echo_args=(--listen 127.0.0.1:0 --ice-address "$ADDR_ECHO" --report "$dir/report.jsonl"
    --exit-after "$ECHO_LIFE_S")
  # single: every call on one UDP port of rtcsec's (port 0: rtcsec picks
  # one and prints it), no libnice.
  [[ "$kind" == single ]] && echo_args=(--listen 127.0.0.1:0 --single-port "$ADDR_ECHO:0"
    --report "$dir/report.jsonl" --exit-after "$ECHO_LIFE_S")
  [[ "$kind" == media ]] && echo_args+=(--profiles "$profile")
  [[ "$kind" == single && "$profile" != default ]] && echo_args+=(--profiles "$profile")
  [[ "$kind" == wrongfp ]] && echo_args+=(--test-wrong-fingerprint)
  [[ "$kind" == nack ]] && echo_args+=(--test-drop-video "$NACK_DROP_EVERY")
  {
    echo "== $name"
    printf '+ rtcsec-echo'
    printf ' %q' "${echo_args[@]}"
    printf '\n'
  } >"$out"
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
    if [[ "$sp_addr" != "$ADDR_ECHO" || -z "$sp_port" ]]; then
      kill "$echo_pid" 2>/dev/null
      wait "$echo_pid" 2>/dev/null
      echo "FAIL $name: rtcsec-echo printed no 'single port: udp $ADDR_ECHO:PORT' line" \
        >"$dir/result"
      return
    fi
    echo "+ single port: udp $ADDR_ECHO:$sp_port" >>"$out"
    sp_args=("$ADDR_ECHO" "$sp_port")
    modes=(client server) # two calls at once through that one port
  fi
  local chrome_pids=() m
  for m in "${modes[@]}"; do
    local url="http://127.0.0.1:$port/?dtls=$m" tag=""
    [[ "$kind" == single ]] && tag="-$m"
    echo "+ chromium (headless, fake camera and microphone) $url" >>"$out"
    # Its own process group, so that the browser and its helpers can be
    # stopped by the group id this script got back.
    setsid ip netns exec "$NS" "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
      --no-first-run --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$dir/profile$tag" --use-fake-device-for-media-stream \
      --use-fake-ui-for-media-stream --disable-features=WebRtcHideLocalIpsWithMdns \
      --autoplay-policy=no-user-gesture-required "$url" >"$dir/chromium$tag.log" 2>&1 </dev/null &
    chrome_pids+=($!)
  done
  local wait_s=$WAIT_MEDIA_S
  [[ "$kind" == wrongfp ]] && wait_s=$WAIT_FAIL_S
  [[ "$kind" == single ]] && wait_s=$WAIT_SINGLE_S
  local check_rc=0
  # Chromium dying early shows up as "no report"; its log tail is printed.
  ip netns exec "$NS" python3 "$work/check.py" "$kind" "$mode" "$profile" "$dir/report.jsonl" \
    "http://127.0.0.1:$port/stats" "$dir/echo.log" "$wait_s" "${sp_args[@]}" >>"$out" 2>&1 ||
    check_rc=$?
  local chrome_alive=1 chrome_pid
  for chrome_pid in "${chrome_pids[@]}"; do
    kill -0 "$chrome_pid" 2>/dev/null || chrome_alive=0
    kill -- -"$chrome_pid" 2>/dev/null
    wait "$chrome_pid" 2>/dev/null
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
  local dt=$((SECONDS - t0))
  if ((check_rc == 0)); then
    echo "  rtcsec-echo log (DTLS lines):" >>"$out"
    grep -E 'DTLS|summary' "$dir/echo.log" | sed 's/^/    /' | head -n 8 >>"$out"
    echo "PASS $name (${dt} s)" >"$dir/result"
  else
    {
      ((chrome_alive)) || echo "  Chromium had exited before the checks ended; its log:"
      ((chrome_alive)) || grep -vE 'dbus|Fontconfig|^\[.*(bus\.cc|object_proxy)' \
        "$dir"/chromium*.log | tail -n 15 | sed 's/^/    /'
      echo "  rtcsec-echo log (last lines):"
      tail -n 25 "$dir/echo.log" | sed 's/^/    /'
    } >>"$out"
    echo "FAIL $name (${dt} s): see the problems above" >"$dir/result"
  fi
}

echo "browser: $("$CHROMIUM" --version 2>/dev/null | tail -n1), namespace $NS," \
  "${#CASES[@]} case(s), $JOBS at a time"
start=$SECONDS
running=0
for c in "${CASES[@]}"; do
  run_case "$c" &
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n
    running=$((running - 1))
  fi
done
wait

passed=0
failed=0
for c in "${CASES[@]}"; do
  dir="$work/${c//[:]/_}"
  cat "$dir/case.out" 2>/dev/null
  result=$(cat "$dir/result" 2>/dev/null || echo "FAIL $c: no result")
  echo "$result"
  if [[ "$result" == PASS* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "browser: all cases took $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
((failed == 0))
