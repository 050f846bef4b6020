#!/usr/bin/env python3
"""The browser suite's summary: one line per call (tests/browser/run.sh).

Usage: table.py CASE_DIR...   (each with case.json and result, in order)

Columns: the browser; the case; rtcsec's DTLS role; the DTLS version the
browser's getStats() reports / the ServerHello on the wire selects; the
DTLS cipher suite rtcsec negotiated; the key exchange group rtcsec reports /
the handshake on the wire shows (DTLS 1.3: the ServerHello's key_share;
1.2: the ServerKeyExchange; "HRR" marks a HelloRetryRequest); the SRTP
profile; RTP packets
browser->rtcsec / rtcsec->browser (rtcsec's SRTP counters); video frames
browser->rtcsec (the browser encoded and sent) / rtcsec->browser (the
browser decoded); ICE connected -> DTLS connected in ms, rtcsec's view
(rtcsec_ice_get_stats, or the router's times in single-port mode) / the
browser's (iceConnectionState connected -> connectionState connected);
what the browser's first ClientHello offered (versions, datagrams, times
sent) when the browser is the DTLS client; the data-channel test (data and
single cases): messages back identical / sent on both channels, and the
1 MiB run's round-trip throughput ("-" when the case ran none); the
case's result.

Then ICE connected -> DTLS connected by browser and DTLS version, for the
calls where rtcsec is the DTLS server and the case passed (the handshake
rtcsec's DTLS 1.3 engine shortens by a round trip): the median and range
of rtcsec's view and of the browser's, and how many calls.
"""
import json
import os
import statistics
import sys

VERSION = {"FEFD": "1.2", "FEFC": "1.3"}


def version(v):
    v = (v or "").upper()
    return VERSION.get(v, v or "-")


def num(x):
    if x is None or x == "":
        return "-"
    if isinstance(x, float):
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return str(x)


SHORT_GROUP = {"X25519MLKEM768": "MLKEM", "x25519": "x25519", "secp256r1": "P256"}


def client_hello(row):
    w = row.get("wire") or {}
    if row.get("rtcsec_role") != "server" or not w.get("client_hello_sent"):
        return "-"
    vs = "+".join(version(v) for v in w.get("offered_versions") or []) or "1.2"
    shares = "+".join(SHORT_GROUP.get(k.split(":")[0], k.split(":")[0])
                      for k in w.get("key_shares") or []) or "no shares"
    return (f"{vs} {shares} in {len(w.get('client_hello_datagrams') or [])} dgrams, "
            f"x{w['client_hello_sent']}")


def group(row):
    w = row.get("wire") or {}
    s = f"{row.get('dtls_group') or '-'}/{w.get('group') or '-'}"
    return s + (" HRR" if w.get("hrr_group") else "")


def timing_summary(rows):
    """ICE -> DTLS per browser and version, rtcsec as DTLS server, passed."""
    by = {}
    for row, result in rows:
        if row.get("rtcsec_role") != "server" or result != "PASS":
            continue
        key = (row["browser"], version(row.get("tls_version")))
        r, b = row.get("ice_to_dtls_ms"), row.get("browser_ice_to_dtls_ms")
        if r is None or b is None:
            continue
        by.setdefault(key, ([], []))
        by[key][0].append(r)
        by[key][1].append(b)
    if not by:
        return
    print()
    print("ICE connected -> DTLS connected, rtcsec as DTLS server (ms; median [min-max]):")
    for (br, v), (r, b) in sorted(by.items()):
        print(f"  {br:<9} DTLS {v}: rtcsec {num(statistics.median(r))} [{num(min(r))}-"
              f"{num(max(r))}], browser {num(statistics.median(b))} [{num(min(b))}-"
              f"{num(max(b))}], {len(r)} call(s)")


def data(row):
    d = row.get("data")
    if not d:
        return "-"
    ok = d["test_echoed"] - d["mismatches"]
    bulk = f"1MiB {num(d.get('bulk_mbps'))} MB/s" if d.get("bulk_ok") else "1MiB FAILED"
    return f"{ok}/{d['test_sent']}, {bulk}"


def main():
    head = ["browser", "case", "rtcsec", "DTLS stats/wire", "DTLS cipher", "group stats/wire",
            "SRTP",
            "RTP b>r/r>b", "frames b>r/r>b", "ICE>DTLS ms r/b", "browser ClientHello", "data",
            "result"]
    lines = []
    rows = []
    for d in sys.argv[1:]:
        try:
            with open(os.path.join(d, "result")) as f:
                result = f.read().split()[0]
        except (OSError, IndexError):
            result = "FAIL"
        try:
            with open(os.path.join(d, "case.json")) as f:
                case = json.load(f)
        except (OSError, ValueError):
            lines.append(["?", os.path.basename(d), "-", "-", "-", "-", "-", "-", "-", "-", "-",
                          "-", result])
            continue
        for row in case.get("rows") or []:
            name = row["case"].split(":", 1)[1]
            if case.get("kind") == "single":
                name += f" ({row['mode']})"
            w = row.get("wire") or {}
            rows.append((row, result))
            lines.append([
                row["browser"], name, row["rtcsec_role"],
                f"{version(row.get('tls_version'))}/{version(w.get('server_hello_version'))}",
                row.get("dtls_cipher") or "-",
                group(row),
                row.get("srtp_profile") or "-",
                f"{num(row.get('rtp_browser_to_rtcsec'))}/{num(row.get('rtp_rtcsec_to_browser'))}",
                f"{num(row.get('frames_browser_to_rtcsec'))}/"
                f"{num(row.get('frames_rtcsec_to_browser'))}",
                f"{num(row.get('ice_to_dtls_ms'))}/{num(row.get('browser_ice_to_dtls_ms'))}",
                client_hello(row),
                data(row),
                result,
            ])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    for ln in lines:
        print(fmt.format(*ln))
    timing_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
