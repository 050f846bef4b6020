#!/usr/bin/env python3
"""The DTLS handshakes of the browser cases, checked on the wire.

tests/browser/run.sh captures the DTLS records inside its namespace
(dumpcap); this script has tshark print one line per frame of that capture
(FIELDS below; tshark's UDP heuristic finds DTLS on any port), finds each
call's frames by its 5-tuple and time window (from the case's CASE.json,
written by check.py) and checks, per call:

  - the ServerHello selects the case's expected DTLS version (the
    supported_versions extension when present, RFC 9147 §5.3 / RFC 8446
    §4.2.1, else the legacy version): today FEFD, DTLS 1.2;
  - when the browser is the DTLS client: its first ClientHello offers DTLS
    1.3 (0xfefc in supported_versions) and spans at least two datagrams
    (its post-quantum key share makes it ~1.4 kB), and its use_srtp list is
    exactly, in order, the profiles the suite runs for that browser.

It adds what it saw to each row ("wire") and its problems to the case
("wire_problems"), rewrites CASE.json, writes a few lines per case to
CASE.wire, and exits 0; 2 when tshark cannot read the capture (the verdict
is run.sh's, from the files).

Usage: wire.py CAPTURE.pcapng --offer BROWSER=PROFILE,... CASE.json...
"""
import argparse
import json
import subprocess
import sys

FIELDS = [
    "frame.number", "frame.time_epoch", "ip.src", "udp.srcport", "ip.dst", "udp.dstport",
    "udp.length", "dtls.handshake.type", "dtls.handshake.message_seq", "dtls.handshake.length",
    "dtls.handshake.fragment_offset", "dtls.handshake.fragment_length",
    "dtls.handshake.version", "dtls.handshake.extensions.supported_version",
    "dtls.use_srtp.protection_profile", "dtls.handshake.extensions_key_share_group",
    "dtls.handshake.extensions_key_share_key_exchange_length",
]
# RFC 5764 §4.1.2 and RFC 7714 §14.2 numbers of the profiles' names.
PROFILE_IDS = {
    "SRTP_AES128_CM_HMAC_SHA1_80": 0x0001,
    "SRTP_AES128_CM_HMAC_SHA1_32": 0x0002,
    "SRTP_AEAD_AES_128_GCM": 0x0007,
    "SRTP_AEAD_AES_256_GCM": 0x0008,
}
PROFILE_NAMES = {v: k for k, v in PROFILE_IDS.items()}
GROUP_NAMES = {0x11EC: "X25519MLKEM768", 0x001D: "x25519", 0x0017: "P-256", 0x0018: "P-384"}
DTLS13, DTLS12 = 0xFEFC, 0xFEFD
CLIENT_HELLO, SERVER_HELLO = 1, 2


def ints(s):
    out = []
    for x in s.split(","):
        x = x.strip()
        if x:
            try:
                out.append(int(x, 0))
            except ValueError:
                pass
    return out


def load_frames(pcap):
    cmd = ["tshark", "-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for field in FIELDS:
        cmd += ["-e", field]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"tshark -r {pcap} failed ({res.returncode}): {res.stderr.strip()}")
    frames = []
    for line in res.stdout.splitlines():
        cols = line.rstrip("\n").split("\t")
        if len(cols) < len(FIELDS):
            cols += [""] * (len(FIELDS) - len(cols))
        d = dict(zip(FIELDS, cols))
        try:
            fr = {
                "no": int(d["frame.number"]),
                "t": float(d["frame.time_epoch"]),
                "src": (d["ip.src"], int(d["udp.srcport"])),
                "dst": (d["ip.dst"], int(d["udp.dstport"])),
                "payload": int(d["udp.length"]) - 8,
            }
        except ValueError:
            continue
        fr["types"] = ints(d["dtls.handshake.type"])
        fr["seq"] = ints(d["dtls.handshake.message_seq"])
        fr["length"] = ints(d["dtls.handshake.length"])
        fr["frag_off"] = ints(d["dtls.handshake.fragment_offset"])
        fr["frag_len"] = ints(d["dtls.handshake.fragment_length"])
        fr["version"] = ints(d["dtls.handshake.version"])
        fr["supported"] = ints(d["dtls.handshake.extensions.supported_version"])
        fr["profiles"] = ints(d["dtls.use_srtp.protection_profile"])
        fr["ks_groups"] = ints(d["dtls.handshake.extensions_key_share_group"])
        fr["ks_lens"] = ints(d["dtls.handshake.extensions_key_share_key_exchange_length"])
        frames.append(fr)
    return frames


def hexv(v):
    return f"{v:04X}" if v is not None else "?"


def endpoint(e):
    if not e or not e.get("address") or not e.get("port"):
        return None
    return (e["address"], int(e["port"]))


def flow_frames(frames, row, single, t0, t1):
    """The frames of one call: (frames, browser endpoint, rtcsec endpoint,
    how they were found). Outside single-port mode each case has its own
    rtcsec-echo, so every DTLS datagram to or from rtcsec's address in the
    case's time window is the call's (whichever of the browser's addresses
    it came from); in single-port mode two calls share rtcsec's port and
    the browser's side of its selected pair tells them apart."""
    fl = row.get("flow") or {}
    b, r = endpoint(fl.get("browser")), endpoint(fl.get("rtcsec"))
    loc = fl.get("rtcsec_local", "")  # rtcsec's /stats: "host ADDR:PORT"
    if r is None and ":" in loc:
        addr, port = loc.split(" ")[-1].rsplit(":", 1)
        r = (addr, int(port))
    if r is None:
        return [], b, r, "no rtcsec address known"
    window = [f for f in frames if t0 - 1 <= f["t"] <= t1 + 1 and r in (f["src"], f["dst"])]
    if single:
        if b is None:
            return [], b, r, "no browser address known"
        return [f for f in window if b in (f["src"], f["dst"])], b, r, "5-tuple"
    peers = [f["src"] if f["dst"] == r else f["dst"] for f in window]
    # The browser's endpoint for the handshake: the peer that sent the
    # first datagram of it (the pair may have moved since).
    hs = [f for f in window if f["types"]]
    if hs:
        b = hs[0]["src"] if hs[0]["dst"] == r else hs[0]["dst"]
    return window, b, r, f"rtcsec's address ({len(set(peers))} browser address(es))"


def first_client_hello(frames, client):
    """The ClientHello transmissions of `client` (message_seq 0): each one
    starts at fragment offset 0. Returns (transmissions, the hello's fields)."""
    trans, info = [], {"supported": [], "profiles": [], "ks": [], "length": None}
    for f in frames:
        if f["src"] != client or CLIENT_HELLO not in f["types"]:
            continue
        i = f["types"].index(CLIENT_HELLO)
        off = f["frag_off"][i] if i < len(f["frag_off"]) else 0
        if off == 0 or not trans:
            trans.append([])
        trans[-1].append(f)
        if i < len(f["length"]):
            info["length"] = f["length"][i]
        if f["supported"] and not info["supported"]:
            info["supported"] = f["supported"]
        if f["profiles"] and not info["profiles"]:
            info["profiles"] = f["profiles"]
        if f["ks_groups"] and not info["ks"]:
            info["ks"] = list(zip(f["ks_groups"], f["ks_lens"]))
    return trans, info


def server_hello_version(frames, server):
    for f in frames:
        if f["src"] == server and SERVER_HELLO in f["types"]:
            if f["supported"]:
                return f["supported"][0]
            return f["version"][0] if f["version"] else None
    return None


def check_row(frames, case, row, offers):
    p, w = [], {}
    tag = f"{row['mode']}: " if case.get("kind") == "single" else ""
    mine, b, r, how = flow_frames(frames, row, case.get("kind") == "single", case["t_start"],
                                  case["t_end"])
    w["frames"] = len(mine)
    w["found_by"] = how
    if not mine:
        return [f"{tag}no DTLS datagram of this call in the capture ({how})"], w
    browser_is_client = row["rtcsec_role"] == "server"
    client, server = (b, r) if browser_is_client else (r, b)
    v = server_hello_version(mine, server)
    w["server_hello_version"] = hexv(v)
    want = int(row["expect_version"], 16)
    if v is None:
        p.append(f"{tag}no ServerHello from {'rtcsec' if browser_is_client else 'the browser'}")
    elif v != want:
        p.append(f"{tag}the ServerHello selects {hexv(v)}, expected {row['expect_version']}")
    trans, info = first_client_hello(mine, client)
    w["client_hello_sent"] = len(trans)
    w["offered_versions"] = [hexv(x) for x in info["supported"]]
    w["offered_profiles"] = [PROFILE_NAMES.get(x, hexv(x)) for x in info["profiles"]]
    w["key_shares"] = [f"{GROUP_NAMES.get(g, hexv(g))}:{n}" for g, n in info["ks"]]
    if trans:
        w["client_hello_bytes"] = info["length"]
        w["client_hello_datagrams"] = [f["payload"] for f in trans[0]]
    if not browser_is_client:
        return p, w  # rtcsec's own ClientHello: recorded, not the point here
    if not trans:
        p.append(f"{tag}no ClientHello from the browser in the capture")
        return p, w
    if len(trans[0]) < 2:
        p.append(f"{tag}the browser's first ClientHello ({info['length']} bytes) came in "
                 f"{len(trans[0])} datagram(s), expected it split over at least 2")
    if DTLS13 not in info["supported"]:
        p.append(f"{tag}the browser's ClientHello does not offer DTLS 1.3 (FEFC): "
                 f"supported_versions {w['offered_versions']}")
    if want not in info["supported"]:
        p.append(f"{tag}the browser's ClientHello does not offer the expected "
                 f"{row['expect_version']}")
    expected = offers.get(row["browser"])
    if expected is not None and info["profiles"] != expected:
        p.append(f"{tag}the browser's use_srtp offers {w['offered_profiles']}, the suite runs "
                 f"{[PROFILE_NAMES.get(x) for x in expected]} (update the driver's list)")
    return p, w


def describe(row, w):
    s = (f"  wire: {row['mode']}: {w.get('frames')} DTLS datagram(s) by {w.get('found_by')}; "
         f"ServerHello {w.get('server_hello_version')}")
    if w.get("client_hello_sent"):
        who = "browser" if row["rtcsec_role"] == "server" else "rtcsec"
        dg = "+".join(str(x) for x in w.get("client_hello_datagrams") or [])
        s += (f"; {who}'s ClientHello {w.get('client_hello_bytes')} bytes in datagrams of {dg}"
              f" bytes, sent {w['client_hello_sent']} time(s), offering versions "
              f"{','.join(w.get('offered_versions') or []) or '(legacy only)'}, use_srtp "
              f"{','.join(w.get('offered_profiles') or [])}, key shares "
              f"{','.join(w.get('key_shares') or []) or '-'}")
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("cases", nargs="+")
    ap.add_argument("--offer", action="append", default=[],
                    help="BROWSER=PROFILE,PROFILE,...: its expected use_srtp list")
    a = ap.parse_args()
    offers = {}
    for o in a.offer:
        name, _, lst = o.partition("=")
        offers[name] = [PROFILE_IDS[x] for x in lst.split(",") if x]
    try:
        frames = load_frames(a.pcap)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"wire.py: {e}", file=sys.stderr)
        return 2
    for path in a.cases:
        try:
            with open(path) as f:
                case = json.load(f)
        except (OSError, ValueError):
            continue  # the case never got to its checks; its result says why
        problems, lines = [], []
        for row in case.get("rows") or []:
            p, w = check_row(frames, case, row, offers)
            row["wire"] = w
            problems += p
            lines.append(describe(row, w))
        case["wire_problems"] = problems
        with open(path, "w") as f:
            json.dump(case, f)
        with open(path[:-len(".json")] + ".wire", "w") as f:
            for line in lines:
                f.write(line + "\n")
            for pr in problems:
                f.write(f"  problem (wire): {pr}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
