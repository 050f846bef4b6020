#!/usr/bin/env python3
"""One browser case, checked while it runs (tests/browser/run.sh).

Polls the page's getStats() reports (rtcsec-echo --report FILE, one JSON
line each) and rtcsec-echo's /stats until every check of the case's kind
passes or the bounded wait ends, prints what both sides said and each
problem left, and writes CASE.json: the per-call summary rows (the suite's
table), the calls' 5-tuples and the time window for the capture check
(wire.py), and the problems. Exit 0 only when no problem is left.

Kinds (see run.sh): media, nack, wrongfp, single, data, dcbad. "data" (and
"single" with --data, whose pages run the data-channel test too) add the
data-channel checks: both channels open, every one of the page's 200 test
messages per channel back and identical, the 1 MiB run back and
identical, and rtcsec's /stats counting what it echoed, without errors.
"dcbad" proves those checks can fail: rtcsec-echo alters one echo, and the
case passes only if exactly that one mismatch is what they report.

What each call must negotiate comes from run.sh, per DTLS role: the
version (--expect-server-version when rtcsec is the DTLS server,
--expect-client-version when it is the client) as both the browser's
getStats() and rtcsec's /stats say it; with DTLS 1.3 the cipher suite
TLS_AES_128_GCM_SHA256 on both sides; with rtcsec as server the key
exchange group rtcsec reports (--expect-group). The capture check
(wire.py) holds each row to the same expectations, plus what the browser's
ClientHello must offer (--expect-offer13, --expect-mlkem-share, --expect-mlkem-listed).
"""
import argparse
import json
import re
import sys
import time
import urllib.request

# Names RTCTransportStats.srtpCipher may use for each profile: Chromium 156
# and Firefox 153 say "SRTP_AEAD_AES_128_GCM" style names; the RFC's and
# the webrtc-stats examples' spellings are accepted too.
SRTP_NAMES = {
    "SRTP_AES128_CM_HMAC_SHA1_80": {"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80",
                                    "AES_CM_128_HMAC_SHA1_80"},
    "SRTP_AES128_CM_HMAC_SHA1_32": {"SRTP_AES128_CM_SHA1_32", "SRTP_AES128_CM_HMAC_SHA1_32",
                                    "AES_CM_128_HMAC_SHA1_32"},
    "SRTP_AEAD_AES_128_GCM": {"SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM"},
    "SRTP_AEAD_AES_256_GCM": {"SRTP_AEAD_AES_256_GCM", "AEAD_AES_256_GCM"},
}
# RTCTransportStats.tlsVersion: both browsers print the wire version in hex;
# rtcsec's /stats says rtcsec_dtls_stats.version.
VERSION_NAMES = {"FEFD": "DTLS 1.2", "FEFC": "DTLS 1.3"}
RTCSEC_VERSION = {"FEFD": "DTLSv1.2", "FEFC": "DTLSv1.3"}
# The one DTLS 1.3 suite rtcsec takes when the client offers it (both
# browsers do), as getStats() dtlsCipher and rtcsec name it.
DTLS13_CIPHER = "TLS_AES_128_GCM_SHA256"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--kind", required=True,
                   choices=["media", "nack", "wrongfp", "single", "data", "dcbad"])
    p.add_argument("--mode", required=True, help="client, server or both (single)")
    p.add_argument("--profile", required=True, help="the forced SRTP profile or 'default'")
    p.add_argument("--browser", required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--expect-server-version", required=True,
                   help="negotiated DTLS version (hex) when rtcsec is the DTLS server")
    p.add_argument("--expect-client-version", default="FEFD",
                   help="negotiated DTLS version (hex) when rtcsec is the DTLS client")
    p.add_argument("--expect-group", default="",
                   help="the key exchange group rtcsec (DTLS server) reports; '' unchecked")
    p.add_argument("--expect-offer13", choices=["yes", "no"], default="yes",
                   help="the browser's ClientHello offers DTLS 1.3 (capture check)")
    p.add_argument("--expect-mlkem-share", choices=["yes", "no", "any"], default="any",
                   help="the browser's ClientHello carries an X25519MLKEM768 share")
    p.add_argument("--expect-mlkem-listed", choices=["yes", "no", "any"], default="any",
                   help="the browser's ClientHello lists X25519MLKEM768 in supported_groups")
    p.add_argument("--reports", required=True)
    p.add_argument("--stats", required=True, help="rtcsec-echo's /stats URL")
    p.add_argument("--log", required=True, help="rtcsec-echo's log")
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("--t-start", type=float, required=True, help="wall clock at the case start")
    p.add_argument("--out", required=True)
    p.add_argument("--single", nargs=2, metavar=("ADDR", "PORT"))
    p.add_argument("--data", action="store_true", help="the pages run the data-channel test")
    return p.parse_args()


A = parse_args()
SP_ADDR, SP_PORT = A.single if A.single else (None, None)


def role_of(mode):
    return "client" if mode == "client" else "server"


def expect_version(mode):
    v = A.expect_client_version if role_of(mode) == "client" else A.expect_server_version
    return v.upper()


def expect_group(mode):
    return A.expect_group if role_of(mode) == "server" else ""


def reports():
    out = []
    try:
        with open(A.reports) as f:
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
        with urllib.request.urlopen(A.stats, timeout=2) as r:
            return json.load(r)
    except Exception:
        return None


def read_log():
    try:
        with open(A.log, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def by_kind(lst, kind_):
    return [x for x in (lst or []) if x.get("kind") == kind_]


def media_problems(rep, st, mode):
    rtcsec_role = role_of(mode)
    browser_role = "server" if rtcsec_role == "client" else "client"
    want = expect_version(mode)
    p = []
    t = rep.get("transport") or {}
    if t.get("dtlsState") != "connected":
        p.append(f"browser dtlsState is {t.get('dtlsState')!r}, not 'connected'")
    if t.get("tlsVersion", "").upper() != want:
        p.append(f"browser tlsVersion {t.get('tlsVersion')!r}, expected {want} "
                 f"({VERSION_NAMES.get(want, '?')})")
    if not t.get("dtlsCipher"):
        p.append("browser dtlsCipher is empty")
    elif want == "FEFC" and t.get("dtlsCipher") != DTLS13_CIPHER:
        p.append(f"browser dtlsCipher {t.get('dtlsCipher')!r}, expected {DTLS13_CIPHER}")
    if not t.get("srtpCipher"):
        p.append("browser srtpCipher is empty")
    elif A.profile in SRTP_NAMES and t.get("srtpCipher") not in SRTP_NAMES[A.profile]:
        p.append(f"browser srtpCipher {t.get('srtpCipher')!r}, forced {A.profile}")
    if t.get("dtlsRole") != browser_role:
        p.append(f"browser dtlsRole {t.get('dtlsRole')!r}, expected {browser_role!r}")
    want_a = want_v = None
    if st:
        e = st.get("echo") or {}
        want_a, want_v = e.get("audio_ssrc"), e.get("video_ssrc")
    ina = [x for x in by_kind(rep.get("inbound"), "audio")
           if want_a is None or x.get("ssrc") == want_a]
    inv = [x for x in by_kind(rep.get("inbound"), "video")
           if want_v is None or x.get("ssrc") == want_v]
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
    if tr.get("dtls_role") != rtcsec_role:
        p.append(f"rtcsec dtls_role {tr.get('dtls_role')!r}, expected {rtcsec_role!r}")
    if tr.get("dtls_version") != RTCSEC_VERSION.get(want):
        p.append(f"rtcsec dtls_version {tr.get('dtls_version')!r}, expected "
                 f"{RTCSEC_VERSION.get(want)!r}")
    if want == "FEFC" and tr.get("dtls_cipher") != DTLS13_CIPHER:
        p.append(f"rtcsec dtls_cipher {tr.get('dtls_cipher')!r}, expected {DTLS13_CIPHER}")
    if expect_group(mode) and tr.get("dtls_group") != expect_group(mode):
        p.append(f"rtcsec dtls_group {tr.get('dtls_group')!r}, expected {expect_group(mode)!r}")
    if A.profile != "default" and tr.get("srtp_profile") != A.profile:
        p.append(f"rtcsec srtp_profile {tr.get('srtp_profile')!r}, forced {A.profile!r}")
    if (srtp.get("inbound") or {}).get("rtp_packets", 0) <= 0:
        p.append("rtcsec received no SRTP packet")
    if (srtp.get("outbound") or {}).get("rtp_packets", 0) <= 0:
        p.append("rtcsec sent no SRTP packet")
    if (srtp.get("inbound") or {}).get("auth_failures", 0) != 0:
        p.append("rtcsec counted SRTP authentication failures")
    return p


def nack_problems(rep, st, mode):
    p = media_problems(rep, st, mode)
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


# What the page's data-channel test sends (tools/echo/datachannel.js).
DC_TEST_MESSAGES = 200
DC_BULK_BYTES = 1 << 20
DC_CHANNELS = ("echo", "negotiated")


def data_problems(rep, st):
    """The data-channel test (?dc=test): the page's side, then rtcsec's."""
    p = []
    d = (rep or {}).get("datachannel") or {}
    chans = d.get("channels") or {}
    sent_bytes = 0
    for name in DC_CHANNELS:
        c = chans.get(name)
        if not c:
            p.append(f"data channel {name!r} is not in the page's report")
            continue
        sent_bytes += c.get("bytesSent", 0)
        if c.get("state") != "open":
            p.append(f"data channel {name!r} is {c.get('state')!r}, not open")
        if c.get("testEchoed") != DC_TEST_MESSAGES or c.get("testSent") != DC_TEST_MESSAGES:
            p.append(f"data channel {name!r}: {c.get('testEchoed')} of {DC_TEST_MESSAGES} test "
                     f"messages came back ({c.get('testSent')} sent)")
        if c.get("mismatches", 0) != 0:
            p.append(f"data channel {name!r}: {c.get('mismatches')} echoed messages differ "
                     "from what was sent")
        if c.get("unexpected", 0) != 0:
            p.append(f"data channel {name!r}: {c.get('unexpected')} messages came back that "
                     "were never sent")
    neg = chans.get("negotiated") or {}
    if neg and (neg.get("id") != 1 or neg.get("negotiated") is not True):
        p.append(f"the negotiated channel has id {neg.get('id')}, negotiated "
                 f"{neg.get('negotiated')} (want id 1, negotiated)")
    if (chans.get("echo") or {}).get("negotiated") is not False and chans.get("echo"):
        p.append("the 'echo' channel is not a DCEP channel")
    b = d.get("bulk") or {}
    if not b.get("done") or b.get("verifiedBytes") != DC_BULK_BYTES or b.get("mismatches", 0):
        p.append(f"send 1 MB: {b.get('verifiedBytes')} of {DC_BULK_BYTES} bytes came back "
                 f"identical, {b.get('mismatches')} chunks differ, done {b.get('done')}")
    if d.get("errors"):
        p.append(f"the page's data channels reported errors: {d.get('errors')[:3]}")
    if not st:
        p.append("rtcsec /stats has no session for the data channels")
        return p
    dc = st.get("datachannel") or {}
    if dc.get("state") != "connected":
        p.append(f"rtcsec datachannel state {dc.get('state')!r}, not 'connected'")
    if dc.get("channels", 0) < 2 or not dc.get("negotiated_open") or dc.get("dcep_opens", 0) < 1:
        p.append(f"rtcsec has {dc.get('channels')} channels open (negotiated open: "
                 f"{dc.get('negotiated_open')}, DCEP opens {dc.get('dcep_opens')}); want both")
    want = DC_TEST_MESSAGES * len(DC_CHANNELS) + DC_BULK_BYTES // (16 << 10)
    if dc.get("messages_in", 0) < want or dc.get("messages_out") != dc.get("messages_in"):
        p.append(f"rtcsec received {dc.get('messages_in')} and echoed {dc.get('messages_out')} "
                 f"messages; the page sent at least {want}")
    if dc.get("bytes_in", 0) < sent_bytes or dc.get("bytes_out") != dc.get("bytes_in"):
        p.append(f"rtcsec received {dc.get('bytes_in')} and echoed {dc.get('bytes_out')} bytes; "
                 f"the page sent {sent_bytes}")
    if dc.get("errors", 0) != 0 or dc.get("error", 0) != 0:
        p.append(f"rtcsec datachannel errors {dc.get('errors')} (send {dc.get('send_errors')}, "
                 f"dropped {dc.get('dropped')}), error {dc.get('error_text')!r}")
    return p


def dcbad_problems(rep, st):
    """rtcsec-echo --test-corrupt-echo: the data-channel checks must catch the
    one altered echo, and find nothing else wrong."""
    got = data_problems(rep, st)
    caught = [x for x in got if "echoed messages differ" in x]
    chans = ((rep or {}).get("datachannel") or {}).get("channels") or {}
    altered = sum((c or {}).get("mismatches", 0) for c in chans.values())
    p = []
    if len(caught) != 1 or altered != 1:
        p.append(f"the altered echo was not caught exactly once ({altered} mismatches): {got}")
    # The page reports the mismatch as an error; anything else is a problem.
    p += [f"besides the altered echo: {x}" for x in got
          if x not in caught and "reported errors" not in x]
    return p


def wrongfp_problems(rep, st, log):
    if not st:
        return ["rtcsec /stats has no session"]
    p = []
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
    if rem.get("address") != SP_ADDR or str(rem.get("port")) != SP_PORT:
        p.append(f"browser's selected pair ends at {rem.get('address')}:{rem.get('port')}, "
                 f"not at the single port {SP_ADDR}:{SP_PORT}")
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
    want_local = f"host {SP_ADDR}:{SP_PORT}"
    if (st.get("pair") or {}).get("local") != want_local:
        p.append(f"rtcsec /stats pair.local {(st.get('pair') or {}).get('local')!r}, "
                 f"want {want_local!r}")
    browser_local = f"{loc.get('address')}:{loc.get('port')}"
    if r.get("peer") != browser_local:
        p.append(f"the router nominated {r.get('peer')!r}; the browser's selected pair "
                 f"starts at {browser_local}")
    return p


def single_problems(log, j):
    # Two calls (one per DTLS role) through the same port, checked in ONE
    # /stats snapshot, so both are up at the same time.
    p = []
    reps = reports()
    if not j:
        return ["rtcsec /stats unreachable"], {}
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
        if A.data:
            p += [f"{m}: {x}" for x in data_problems(rep, st)]
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
    if str(sp.get("port")) != SP_PORT:
        p.append(f"rtcsec /stats single_port.port {sp.get('port')}, want {SP_PORT}")
    r = sp.get("router") or {}
    for k in ("sessions", "nominated", "transports"):
        if r.get(k) != 2:
            p.append(f"router {k} is {r.get(k)}, want 2 at once")
    # RFC 8445 §6.1.1: against a lite agent the browser is controlling in
    # both roles, so it never claims ICE-CONTROLLED (which gets a 487).
    if r.get("stun_role_conflicts", 0) != 0:
        p.append(f"router answered {r.get('stun_role_conflicts')} role conflicts (487)")
    return p, found


def short(r):
    if not r:
        return "none"
    t = r.get("transport") or {}
    ins = ", ".join(f"{x.get('kind')} ssrc {x.get('ssrc')} {x.get('packetsReceived')} pkts "
                    f"{x.get('framesDecoded')} frames {x.get('packetsLost')} lost "
                    f"{x.get('nackCount')} NACKs {x.get('pliCount')} PLIs"
                    for x in r.get("inbound") or [])
    outs = ", ".join(f"{x.get('kind')} {x.get('packetsSent')} pkts"
                     for x in r.get("outbound") or [])
    sp = r.get("selectedPair") or {}
    loc, rem = sp.get("local") or {}, sp.get("remote") or {}
    pair = f"{loc.get('address')}:{loc.get('port')} <-> {rem.get('address')}:{rem.get('port')}"
    d = r.get("datachannel") or {}
    dcs = "; ".join(f"{n} {c.get('state')} id {c.get('id')} sent {c.get('sent')} echoed "
                    f"{c.get('echoed')} mismatches {c.get('mismatches')}"
                    for n, c in (d.get("channels") or {}).items())
    b = d.get("bulk") or {}
    if dcs:
        dcs = (f"; data channels [{dcs}] test {d.get('test')}, 1 MiB "
               f"{b.get('verifiedBytes')} B back in {b.get('ms')} ms ({b.get('mbps')} MB/s)")
    return (f"report #{r.get('reportNumber')} at {r.get('elapsedMs')} ms: dtlsState "
            f"{t.get('dtlsState')}, tlsVersion {t.get('tlsVersion')}, dtlsCipher "
            f"{t.get('dtlsCipher')}, srtpCipher {t.get('srtpCipher')}, dtlsRole "
            f"{t.get('dtlsRole')}; inbound [{ins}]; outbound [{outs}]; pair {pair}; "
            f"timing {r.get('timing')}; remote video {r.get('remoteVideo')}; "
            f"errors {r.get('errors')}{dcs}")


def short_stats(s):
    if not s:
        return "none"
    tr = s.get("transport") or {}
    srtp = tr.get("srtp") or {}
    return (f"session {s.get('id')}: ICE {s.get('ice_state')}, DTLS {tr.get('dtls_state')} as "
            f"{tr.get('dtls_role')} {tr.get('dtls_version')} {tr.get('dtls_cipher')} "
            f"{tr.get('dtls_group')} {tr.get('srtp_profile')}, SRTP in {(srtp.get('inbound') or {}).get('rtp_packets')} "
            f"/ out {(srtp.get('outbound') or {}).get('rtp_packets')} RTP, failure "
            f"{s.get('failure')!r}, echo {s.get('echo')}, ms {s.get('ms')}, dropped_unvalidated "
            f"{s.get('dropped_unvalidated')}, dtls {tr.get('dtls')}, datachannel "
            f"{s.get('datachannel')}")


def endpoint(c):
    c = c or {}
    return {"address": c.get("address"), "port": c.get("port")}


def ms_between(a, b):
    if a is None or b is None:
        return None
    return round(b - a, 1)


def data_row(rep, st):
    """The data-channel test's figures, or None when the case ran none."""
    d = rep.get("datachannel") or {}
    if not (d.get("test") or {}).get("requested"):
        return None
    chans = d.get("channels") or {}
    b = d.get("bulk") or {}
    dc = st.get("datachannel") or {}
    return {
        "test_echoed": sum((chans.get(n) or {}).get("testEchoed", 0) for n in DC_CHANNELS),
        "test_sent": DC_TEST_MESSAGES * len(DC_CHANNELS),
        "mismatches": sum((chans.get(n) or {}).get("mismatches", 0) for n in DC_CHANNELS),
        "test_ms": (d.get("test") or {}).get("ms"),
        "bulk_ok": bool(b.get("done")) and b.get("verifiedBytes") == DC_BULK_BYTES
        and not b.get("mismatches"),
        "bulk_ms": b.get("ms"),
        "bulk_mbps": b.get("mbps"),
        "rtcsec_messages_in": dc.get("messages_in"),
        "rtcsec_messages_out": dc.get("messages_out"),
    }


def row(mode, rep, st):
    """The table row of one call, and what the capture check needs."""
    rep, st = rep or {}, st or {}
    t = rep.get("transport") or {}
    tr = st.get("transport") or {}
    srtp = tr.get("srtp") or {}
    inv = by_kind(rep.get("inbound"), "video")
    outv = by_kind(rep.get("outbound"), "video")
    ms = st.get("ms") or {}
    ice_ms, dtls_ms = ms.get("ice_connected", 0), ms.get("dtls_connected", 0)
    timing = rep.get("timing") or {}
    sp = rep.get("selectedPair") or {}
    rtcsec_local = (st.get("pair") or {}).get("local", "")  # "host ADDR:PORT"
    return {
        "browser": A.browser,
        "case": A.case,
        "mode": mode,
        "rtcsec_role": role_of(mode),
        "expect_version": expect_version(mode),
        "expect_group": expect_group(mode),
        "expect_offer13": A.expect_offer13 == "yes",
        "expect_mlkem_share": {"yes": True, "no": False}.get(A.expect_mlkem_share),
        "expect_mlkem_listed": {"yes": True, "no": False}.get(A.expect_mlkem_listed),
        "tls_version": t.get("tlsVersion", ""),
        "rtcsec_dtls_version": tr.get("dtls_version", ""),
        "dtls_cipher": tr.get("dtls_cipher", ""),
        "dtls_group": tr.get("dtls_group", ""),
        "browser_dtls_cipher": t.get("dtlsCipher", ""),
        "srtp_profile": tr.get("srtp_profile", ""),
        "browser_srtp_cipher": t.get("srtpCipher", ""),
        "dtls_state": tr.get("dtls_state", ""),
        "browser_dtls_state": t.get("dtlsState", ""),
        "rtp_browser_to_rtcsec": (srtp.get("inbound") or {}).get("rtp_packets", 0),
        "rtp_rtcsec_to_browser": (srtp.get("outbound") or {}).get("rtp_packets", 0),
        "browser_rtp_sent": sum(x.get("packetsSent", 0) for x in rep.get("outbound") or []),
        "browser_rtp_received": sum(x.get("packetsReceived", 0) for x in rep.get("inbound") or []),
        "frames_browser_to_rtcsec": max((x.get("framesEncoded", 0) for x in outv), default=0),
        "frames_rtcsec_to_browser": max((x.get("framesDecoded", 0) for x in inv), default=0),
        "ice_to_dtls_ms": (dtls_ms - ice_ms) if ice_ms and dtls_ms else None,
        "browser_ice_to_dtls_ms": ms_between(timing.get("iceConnectedMs"),
                                             timing.get("connectedMs")),
        "dropped_unvalidated": st.get("dropped_unvalidated"),
        "dtls_retransmissions": (tr.get("dtls") or {}).get("retransmissions"),
        "data": data_row(rep, st),
        "flow": {
            "browser": endpoint(sp.get("local")),
            "rtcsec": endpoint(sp.get("remote")),
            "rtcsec_local": rtcsec_local,
        },
    }


last_problems = ["no report from the page yet"]
rep = st = None
found = {}
START = time.monotonic()
while True:
    log = read_log()
    if A.kind == "single":
        j = stats_all()
        last_problems, found = single_problems(log, j)
    else:
        reps = reports()
        j = stats_all()
        st = j["sessions"][0] if j and j.get("sessions") else None
        rep = reps[-1] if reps else None
        if A.kind == "wrongfp":
            last_problems = wrongfp_problems(rep, st, log)
        elif not rep:
            last_problems = ["no report from the page yet"]
        elif A.kind == "nack":
            last_problems = nack_problems(rep, st, A.mode)
        elif A.kind == "data":
            last_problems = media_problems(rep, st, A.mode) + data_problems(rep, st)
        elif A.kind == "dcbad":
            last_problems = dcbad_problems(rep, st)
        else:
            last_problems = media_problems(rep, st, A.mode)
    if not last_problems or time.monotonic() - START >= A.timeout:
        break
    time.sleep(0.5)

if A.kind == "single":
    rows = []
    for m in ("client", "server"):
        r_, s_ = found.get(m, (None, None))
        print(f"  {m} page: {short(r_)}")
        print(f"  {m} call: {short_stats(s_)}; router {(s_ or {}).get('router')}")
        rows.append(row(m, r_, s_))
else:
    print(f"  browser: {short(rep)}")
    print(f"  rtcsec:  {short_stats(st)}")
    rows = [row(A.mode, rep, st)]
for pr in last_problems:
    print(f"  problem: {pr}")
with open(A.out, "w") as f:
    json.dump({"case": A.case, "browser": A.browser, "kind": A.kind, "t_start": A.t_start,
               "t_end": time.time(), "rows": rows, "live_problems": last_problems}, f)
sys.exit(0 if not last_problems else 1)
