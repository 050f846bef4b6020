#!/usr/bin/env python3
"""rtcsec-echo's HTTP side without a browser (suite echo_http).

Starts rtcsec-echo on loopback twice (--single-port, then libnice with
-a 127.0.0.1) and checks what the browser suite takes for granted: the
page, rtcsec's offer as JSON with its data-channel section (RFC 8841), the
/stats document's fields and types (built with json-glib in
tools/echo/stats.c; the per-call "datachannel" object), a browser offer with
data channels answered in kind, every refusal with its status code
(bad SDP, unknown session, a second answer, an oversized or chunked body,
a report that is not JSON, a wrong method), the --report file, and a clean
exit on SIGTERM with its summary. Each check prints one line; the first
failure ends the run with exit 1.

Usage: test_echo_http.py PATH/TO/rtcsec-echo
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ECHO = sys.argv[1] if len(sys.argv) > 1 else "build/tools/rtcsec-echo"
DEADLINE = time.monotonic() + 100  # the whole run, bounded


CURRENT = []  # the rtcsec-echo under test, for its log on failure


def fail(msg):
    print("FAIL:", msg, flush=True)
    for e in CURRENT:
        e.p.kill()
        e.p.wait()
        e.log.seek(0)
        print("rtcsec-echo's log (last 3000 bytes):\n" + e.log.read()[-3000:], flush=True)
    sys.exit(1)


def ok(msg):
    print("ok:", msg, flush=True)


class Echo:
    def __init__(self, args, report=None):
        cmd = [ECHO, "--listen", "127.0.0.1:0", "--exit-after", "90"] + args
        if report:
            cmd += ["--report", report]
        self.log = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        CURRENT[:] = [self]
        self.port = None
        self.single_port = None
        for line in self.p.stdout:
            m = re.match(r"single port: udp 127\.0\.0\.1:(\d+)", line)
            if m:
                self.single_port = int(m.group(1))
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
            if time.monotonic() > DEADLINE:
                break
        if self.port is None:
            fail(f"{cmd}: no 'listening on' line")

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheader("Content-Type") or "", r.read()
        except (OSError, http.client.HTTPException) as e:
            fail(f"{method} {path}: {e!r} (rtcsec-echo exit status {self.p.poll()})")
        finally:
            c.close()

    def json(self, path):
        st, ctype, body = self.req("GET", path)
        if st != 200 or not ctype.startswith("application/json"):
            fail(f"GET {path}: {st} {ctype} {body[:200]!r}")
        try:
            return json.loads(body)
        except ValueError as e:
            fail(f"GET {path}: not JSON ({e}): {body[:300]!r}")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            fail("no exit within 20 s of SIGTERM")
        CURRENT.clear()
        self.log.seek(0)
        return self.p.returncode, self.log.read()


def expect(cond, msg):
    if not cond:
        fail(msg)
    ok(msg)


def expect_status(e, method, path, want, body=None, headers=None, text=None):
    st, _, b = e.req(method, path, body, headers)
    if st != want or (text is not None and text.encode() not in b):
        fail(f"{method} {path}: {st} {b[:200]!r}, want {want}" + (f" with {text!r}" if text else ""))
    ok(f"{method} {path} -> {want}" + (f" ({text})" if text else ""))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_types(obj, spec, where):
    """spec: {name: type or nested spec}; every name must be there with that type."""
    for k, t in spec.items():
        if k not in obj:
            fail(f"{where}: no field {k!r} in {sorted(obj)}")
        v = obj[k]
        if isinstance(t, dict):
            if not isinstance(v, dict):
                fail(f"{where}.{k}: {v!r} is not an object")
            check_types(v, t, f"{where}.{k}")
        elif t is int:
            if not is_int(v) or v < 0 and k != "error":
                fail(f"{where}.{k}: {v!r} is not a counter")
        elif not isinstance(v, t):
            fail(f"{where}.{k}: {v!r} is not {t.__name__}")


DIRECTION = {k: int for k in ("rtp_packets", "rtp_bytes", "rtcp_packets", "rtcp_bytes",
                              "auth_failures", "replay_drops", "too_old_drops", "malformed",
                              "ssrc_limit_drops", "other_errors", "ssrcs")}
SESSION = {
    "id": int, "mode": str, "dtls_role": str, "ice_mode": str, "ice_state": str,
    "ms": {"ice_connected": int, "dtls_connected": int, "first_media": int},
    "candidates": {"local": int, "remote": int},
    "pair_changes": int, "consent_losses": int, "dropped_unvalidated": int,
    "ice_send_errors": int, "failure": str, "expected_fingerprint": str,
    "test_wrong_fingerprint": bool,
    "transport": {
        "dtls_state": str, "dtls_role": str, "error": int, "error_text": str,
        "dtls_version": str, "dtls_cipher": str, "dtls_group": str, "srtp_profile": str,
        "local_fingerprint": str, "peer_fingerprint": str, "handshake_ms": int,
        "dtls": {"retransmissions": int, "datagrams_sent": int, "datagrams_received": int,
                 "datagrams_held": int},
        "srtp": {"inbound": DIRECTION, "outbound": DIRECTION},
        "in": {"stun": int, "dtls": int, "rtp": int, "rtcp": int},
        "drops": {"unknown": int, "no_keys": int, "closed": int},
    },
    "echo": {k: int for k in (
        "audio_ssrc", "video_ssrc", "browser_audio_ssrc", "browser_video_ssrc",
        "audio_packets", "video_packets", "rtp_dropped_pt", "rtp_dropped_ssrc",
        "rtcp_forwarded", "rtcp_parts_dropped", "pli", "fir", "nack", "nack_resent",
        "nack_resent_bytes", "nack_duplicates", "nack_refused_rtt", "nack_refused_rate",
        "nack_rtt_window_us", "rtt_samples", "video_bytes_per_s", "test_dropped",
        "send_errors")},
    "codecs": list,
    "datachannel": {
        "state": str, "channels": int, "channels_opened": int, "channels_closed": int,
        "negotiated_open": bool, "messages_in": int, "bytes_in": int, "messages_out": int,
        "bytes_out": int, "buffered": int, "errors": int, "send_errors": int, "dropped": int,
        "error": int, "error_text": str, "packets_in": int, "packets_out": int,
        "dcep_opens": int, "interleaving": bool, "sctp_port": int, "remote_sctp_port": int,
        "remote_max_message_size": int, "reading_paused": int,
    },
}
# A browser's offer of data channels only (Chromium's shape, RFC 8841 §4.1),
# with the bundled transport's attributes in the section.
DATA_OFFER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
    "a=fingerprint:sha-256 "
    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:"
    "1E:1F\r\n"
    "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:65536\r\n")
FP_RE = re.compile(r"^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def common_checks(e, lite):
    st, ctype, page = e.req("GET", "/")
    expect(st == 200 and ctype.startswith("text/html") and b"echo.js" in page,
           "GET / serves the page")
    st, ctype, js = e.req("GET", "/echo.js")
    expect(st == 200 and "javascript" in ctype and b"RTCPeerConnection" in js,
           "GET /echo.js serves the script")
    st, ctype, js = e.req("GET", "/datachannel.js")
    expect(st == 200 and "javascript" in ctype and b"createDataChannel" in js
           and b"datachannel.js" in page and b'id="dcBulk"' in page,
           "GET /datachannel.js serves the data-channel script; the page has its controls")
    expect_status(e, "GET", "/nothing-here", 404)
    expect_status(e, "PUT", "/offer", 405, body=b"x")

    doc = e.json("/stats")
    expect(doc.get("server", "").startswith("rtcsec-echo "), "/stats names the server")
    expect(FP_RE.match(doc.get("local_fingerprint", "")) is not None,
           "/stats local_fingerprint is 'sha-256 XX:...'")
    expect(doc.get("sessions") == [] and is_int(doc.get("reports")), "/stats: no call yet")
    if lite:
        sp = doc.get("single_port")
        if not isinstance(sp, dict):
            fail(f"/stats single_port {sp!r}")
        check_types(sp, {"address": str, "port": int, "candidate": str,
                         "socket": {"turns": int, "rx_datagrams": int, "tx_datagrams": int},
                         "router": {"sessions": int, "stun_requests": int, "media_in": int}},
                    "single_port")
        expect(sp["port"] == e.single_port and f" {e.single_port} typ host" in sp["candidate"],
               f"/stats single_port is the bound port {e.single_port}")
    else:
        expect(doc.get("single_port") is None, "/stats single_port is null without --single-port")

    # rtcsec offers (the browser would be the DTLS client).
    st, ctype, body = e.req("GET", "/offer")
    if st != 200:
        fail(f"GET /offer: {st} {body[:300]!r}")
    offer = json.loads(body)
    expect(offer.get("type") == "offer" and is_int(offer.get("session")),
           "GET /offer: JSON {session, type: offer, sdp}")
    sdp = offer["sdp"]
    expect("a=setup:actpass\r\n" in sdp and "a=fingerprint:sha-256 " in sdp,
           "the offer says actpass and carries the fingerprint")
    if lite:
        expect("a=ice-lite\r\n" in sdp and f" 127.0.0.1 {e.single_port} typ host" in sdp,
               "the single-port offer is ICE-lite with the one host candidate")
    else:
        expect("a=ice-lite" not in sdp and re.search(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 ", sdp, re.I),
               "the libnice offer is full ICE with a 127.0.0.1 candidate")
    # RFC 8841: the data channels ride the BUNDLE group, bundle-only.
    expect("a=group:BUNDLE 0 1 2\r\n" in sdp and
           "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
           "a=bundle-only\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"
           in sdp, "the offer has the data-channel section (sctp-port 5000, 256 KiB messages)")
    sid = offer["session"]

    doc = e.json(f"/stats?session={sid}")
    if len(doc["sessions"]) != 1:
        fail(f"/stats?session={sid}: {len(doc['sessions'])} sessions")
    s = doc["sessions"][0]
    check_types(s, SESSION, "session")
    expect(s["id"] == sid and s["mode"] == "server" and s["dtls_role"] == "server",
           "/stats?session=N: that call, rtcsec the DTLS server")
    expect(s["ice_mode"] == ("lite" if lite else "full"), f"ice_mode {s['ice_mode']}")
    expect(s["pair"] is None, "no pair before the browser's checks (null)")
    expect(s["transport"]["local_fingerprint"] == doc["local_fingerprint"],
           "the call's local fingerprint is the server's")
    expect(all(isinstance(c, str) and re.match(r"(audio|video) \S+/\d+ pt \d+->\d+", c)
               for c in s["codecs"]) and s["codecs"], "codecs: 'kind NAME/CLOCK pt A->B' strings")
    expect(e.json("/stats?session=999999")["sessions"] == [], "/stats?session=unknown: empty")
    dc = s["datachannel"]
    expect(dc["state"] == "waiting for DTLS" and dc["channels"] == 0 and dc["messages_in"] == 0
           and dc["errors"] == 0 and dc["error"] == 0,
           "datachannel: negotiated in the plan, waiting for DTLS, nothing counted yet")

    # Refusals: each with its status, the call left as it was.
    expect_status(e, "POST", "/answer?session=999999", 404, body=b"v=0\r\n")
    expect_status(e, "POST", "/answer", 404, body=b"v=0\r\n")
    expect_status(e, "POST", f"/answer?session={sid}", 400, body=b"", text="needs the answer")
    expect_status(e, "POST", f"/answer?session={sid}", 400,
                  body=b"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", text="answer refused")
    expect_status(e, "POST", "/offer", 400, body=b"not sdp at all", text="offer refused")
    expect_status(e, "POST", "/offer", 400, body=b"", text="needs the offer")
    expect_status(e, "POST", "/offer", 413, body=b"v" * 70000)
    st, _, _ = e.req("POST", "/offer", body=iter([b"v=0\r\n"] * 3),
                     headers={"Transfer-Encoding": "chunked"})
    expect(st == 413, f"POST /offer chunked (unbounded) -> 413 (got {st})")
    s2 = e.json(f"/stats?session={sid}")["sessions"][0]
    expect(s2["failure"] == "" and s2["transport"]["error"] == 0,
           "the call is untouched by the refused answers")

    # A malformed data-channel attribute refuses the whole offer.
    expect_status(e, "POST", "/offer", 400,
                  body=DATA_OFFER.replace("sctp-port:5000", "sctp-port:0").encode(),
                  text="RFC 8841")
    expect_status(e, "POST", "/report", 400, body=b"{not json", text="not a JSON object")
    expect_status(e, "POST", "/report", 400, body=b"[1,2]", text="not a JSON object")
    rep = {"transport": {"dtlsState": "new\"quoted\\"}, "note": "line\nbreak"}
    expect_status(e, "POST", "/report", 200, body=json.dumps(rep).encode())
    expect(e.json("/stats")["reports"] == 1, "/stats counts the report")
    return rep


def main():
    if not os.access(ECHO, os.X_OK):
        fail(f"{ECHO}: not an executable (build rtcsec-echo first)")
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "reports.jsonl")
        print("== --single-port (ICE-lite, one rtcsec_router)", flush=True)
        e = Echo(["--single-port", "127.0.0.1:0"], report=report)
        rep = common_checks(e, lite=True)
        # The browser offers data channels only: answered in kind, at once
        # (the single port needs no gathering).
        st, ctype, body = e.req("POST", "/offer?dtls=client", body=DATA_OFFER.encode())
        ans = body.decode(errors="replace")
        if st != 200:
            fail(f"POST /offer (data channels): {st} {ans[:300]!r}")
        expect(ctype.startswith("application/sdp") and
               f"m=application {e.single_port} UDP/DTLS/SCTP webrtc-datachannel\r\n" in ans and
               "a=sctp-port:5000\r\na=max-message-size:262144\r\n" in ans and
               "a=setup:active\r\n" in ans and "a=rtcp-mux" not in ans,
               "a data-channel offer is answered with the data section on the single port")
        calls = e.json("/stats")["sessions"]
        dc = calls[0]["datachannel"]
        expect(calls[0]["mode"] == "client" and dc["state"] == "waiting for DTLS" and
               calls[0]["codecs"] == [], "that call has data channels and no media")
        rc, err = e.stop()
        expect(rc == 0, f"exit status 0 after SIGTERM (got {rc})")
        expect("signal: stopping" in err, "the log says why it stopped")
        lines = open(report).read().splitlines()
        expect(len(lines) == 1 and json.loads(lines[0]) == rep,
               "--report: the report is one JSON line, equal to what was posted")

        expect("DTLS: 1.3 as server when the browser offers it (rtcsec's engine, key exchange "
               "X25519MLKEM768 first, then x25519)" in err,
               "the log says DTLS 1.3 with X25519MLKEM768 first is answered by default")

        print("== libnice (full ICE, -a 127.0.0.1), --no-dtls13", flush=True)
        e = Echo(["-a", "127.0.0.1", "--no-dtls13", "--no-mlkem"])
        common_checks(e, lite=False)
        # A fifth call ends the oldest (MAX_SESSIONS 4).
        ids = []
        for _ in range(4):
            st, _, body = e.req("GET", "/offer")
            if st != 200:
                fail(f"GET /offer: {st} {body[:200]!r}")
            ids.append(json.loads(body)["session"])
        live = [s["id"] for s in e.json("/stats")["sessions"]]
        expect(len(live) == 4 and live == sorted(ids, reverse=True),
               f"at most 4 calls, newest first: {live}")
        rc, err = e.stop()
        expect(rc == 0, f"exit status 0 after SIGTERM (got {rc})")
        expect("DTLS: 1.2 only (--no-dtls13)" in err, "--no-dtls13: the log says DTLS 1.2 only")
    print("echo_http: all checks passed", flush=True)


if __name__ == "__main__":
    main()
