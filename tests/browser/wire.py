#!/usr/bin/env python3
"""The DTLS handshakes of the browser cases, checked on the wire.

tests/browser/run.sh captures the DTLS datagrams inside its namespace
(dumpcap); this script has tshark print one line per frame of that capture
(FIELDS below; tshark's UDP heuristic finds DTLS on any port, and its raw
UDP payload), finds each call's frames by its 5-tuple and time window (from
the case's CASE.json, written by check.py) and checks, per call:

  - the ServerHello (read here from the raw datagrams: tshark 4.0 does not
    dissect a datagram that carries DTLS 1.3's unified-header records after
    the plaintext ServerHello) selects the row's expected version: the
    supported_versions extension when present (RFC 9147 §5.3, RFC 8446
    §4.2.1), else legacy_version. DTLS 1.3: TLS_AES_128_GCM_SHA256, and the
    key_share's group and length (RFC 8446 §4.2.8) are the row's expected
    group (X25519MLKEM768: a 1120-byte share, ML-KEM-768 ciphertext and
    X25519); no HelloRetryRequest (the browsers send a share of the group
    rtcsec picks, so one would only add a round trip). DTLS 1.2 (OpenSSL):
    the group of the ServerKeyExchange (RFC 8422 §5.4);
  - when the browser is the DTLS client: its first ClientHello offers DTLS
    1.3 (0xfefc in supported_versions) or, where the case turned that off in
    the browser, does not; it carries an X25519MLKEM768 key share (1216
    bytes) or not, as the case expects, and then spans at least two
    datagrams; it lists X25519MLKEM768 in supported_groups or not, where
    the case says (Firefox's share turned off, the group still listed:
    rtcsec must answer the x25519 share, no HelloRetryRequest); its use_srtp list is exactly, in order, the profiles the
    suite runs for that browser.

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
    "dtls.use_srtp.protection_profile", "dtls.handshake.extensions_supported_group",
    "dtls.handshake.extensions_key_share_group",
    "dtls.handshake.extensions_key_share_key_exchange_length", "udp.payload",
]
# RFC 5764 §4.1.2 and RFC 7714 §14.2 numbers of the profiles' names.
PROFILE_IDS = {
    "SRTP_AES128_CM_HMAC_SHA1_80": 0x0001,
    "SRTP_AES128_CM_HMAC_SHA1_32": 0x0002,
    "SRTP_AEAD_AES_128_GCM": 0x0007,
    "SRTP_AEAD_AES_256_GCM": 0x0008,
}
PROFILE_NAMES = {v: k for k, v in PROFILE_IDS.items()}
# rtcsec's names (rtcsec_kex_group_name(), OpenSSL's for DTLS 1.2).
GROUP_NAMES = {0x11EC: "X25519MLKEM768", 0x001D: "x25519", 0x0017: "secp256r1",
               0x0018: "secp384r1", 0x0019: "secp521r1", 0x0100: "ffdhe2048",
               0x0101: "ffdhe3072"}
# The server's key_exchange length per group (RFC 8446 §4.2.8.2, RFC 7748;
# X25519MLKEM768: the ML-KEM-768 ciphertext, 1088, then X25519, 32).
SERVER_SHARE_LEN = {0x11EC: 1120, 0x001D: 32, 0x0017: 65}
MLKEM_CLIENT_SHARE_LEN = 1216  # ML-KEM-768 encapsulation key (1184) + X25519
TLS_AES_128_GCM_SHA256 = 0x1301
SUITE_NAMES = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384"}
DTLS13, DTLS12 = 0xFEFC, 0xFEFD
CLIENT_HELLO, SERVER_HELLO, SERVER_KEY_EXCHANGE = 1, 2, 12
# RFC 8446 §4.1.3: the random of a HelloRetryRequest (SHA-256 of
# "HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE = 0x002B, 0x0033


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
        fr["groups"] = ints(d["dtls.handshake.extensions_supported_group"])
        fr["ks_groups"] = ints(d["dtls.handshake.extensions_key_share_group"])
        fr["ks_lens"] = ints(d["dtls.handshake.extensions_key_share_key_exchange_length"])
        try:
            fr["raw"] = bytes.fromhex(d["udp.payload"].replace(":", ""))
        except ValueError:
            fr["raw"] = b""
        frames.append(fr)
    return frames


# ---- the server's hello, from the raw datagrams ----------------------------------


class Cursor:
    """A bounds-checked reader: every read past the end raises ValueError."""

    def __init__(self, b):
        self.b, self.off = b, 0

    def take(self, n):
        if n < 0 or self.off + n > len(self.b):
            raise ValueError("truncated")
        v = self.b[self.off:self.off + n]
        self.off += n
        return v

    def u(self, n):
        return int.from_bytes(self.take(n), "big")

    def vec(self, len_bytes):
        return self.take(self.u(len_bytes))

    def left(self):
        return len(self.b) - self.off


def plaintext_handshake(raw):
    """The handshake fragments in the epoch-0 records of one datagram:
    (type, message_seq, total length, fragment offset, bytes). Records with
    DTLS 1.3's unified header (RFC 9147 §4: first byte 001CSLEE) are
    encrypted and skipped; one with a connection ID ends the walk (never
    negotiated here)."""
    out, c = [], Cursor(raw)
    try:
        while c.left() > 0:
            first = c.u(1)
            if first & 0xE0 == 0x20:
                if first & 0x10:
                    break
                c.take(2 if first & 0x08 else 1)
                if first & 0x04:
                    c.vec(2)
                    continue
                break  # no length: the record runs to the end of the datagram
            c.take(2)  # legacy record version
            epoch = c.u(2)
            c.take(6)
            body = c.vec(2)
            if first != 22 or epoch != 0:
                continue
            h = Cursor(body)
            while h.left() >= 12:
                mtype, length, seq = h.u(1), h.u(3), h.u(2)
                off, flen = h.u(3), h.u(3)
                out.append((mtype, seq, length, off, h.take(flen)))
    except ValueError:
        pass
    return out


def messages(frames, sender, types):
    """Whole handshake messages of `types` from `sender`, reassembled from
    their fragments (RFC 9147 §5.5), in the order they completed:
    [(type, message_seq, body)]. Retransmissions complete nothing twice."""
    parts, done = {}, []
    for f in frames:
        if f["src"] != sender:
            continue
        for mtype, seq, length, off, frag in plaintext_handshake(f.get("raw") or b""):
            if mtype not in types or off + len(frag) > length:
                continue
            key = (mtype, seq)
            if key in [(t, q) for t, q, _ in done]:
                continue
            buf, have = parts.setdefault(key, (bytearray(length), set()))
            buf[off:off + len(frag)] = frag
            have.update(range(off, off + len(frag)))
            if len(have) == length:
                done.append((mtype, seq, bytes(buf)))
    return done


def parse_server_hello(body):
    """RFC 8446 §4.1.3 / RFC 6347 §4.2.1: the fields the checks need."""
    c = Cursor(body)
    sh = {"legacy_version": c.u(2)}
    sh["hrr"] = c.take(32) == HRR_RANDOM
    c.vec(1)  # legacy_session_id_echo
    sh["suite"] = c.u(2)
    c.u(1)
    sh["selected_version"] = sh["group"] = sh["share_len"] = None
    exts = Cursor(c.vec(2)) if c.left() else Cursor(b"")
    while exts.left():
        etype, e = exts.u(2), Cursor(exts.vec(2))
        if etype == EXT_SUPPORTED_VERSIONS:
            sh["selected_version"] = e.u(2)
        elif etype == EXT_KEY_SHARE:
            sh["group"] = e.u(2)  # a HelloRetryRequest has only the group
            if not sh["hrr"]:
                sh["share_len"] = len(e.vec(2))
    sh["version"] = sh["selected_version"] or sh["legacy_version"]
    return sh


def parse_ske_group(body):
    """RFC 8422 §5.4: ECParameters of a DTLS 1.2 ServerKeyExchange."""
    c = Cursor(body)
    return c.u(2) if c.u(1) == 3 else None  # named_curve


def server_hellos(frames, server):
    """The server's HelloRetryRequest (or None), its ServerHello (or None)
    and, for DTLS 1.2, the ServerKeyExchange's group."""
    hrr = sh = None
    ske = None
    for mtype, _seq, body in messages(frames, server, (SERVER_HELLO, SERVER_KEY_EXCHANGE)):
        try:
            if mtype == SERVER_KEY_EXCHANGE and ske is None:
                ske = parse_ske_group(body)
                continue
            if mtype != SERVER_HELLO:
                continue
            h = parse_server_hello(body)
        except ValueError:
            continue
        if h["hrr"] and hrr is None and sh is None:
            hrr = h
        elif not h["hrr"] and sh is None:
            sh = h
    return hrr, sh, ske


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
    trans, info = [], {"supported": [], "profiles": [], "groups": [], "ks": [], "length": None}
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
        if f["groups"] and not info["groups"]:
            info["groups"] = f["groups"]
        if f["ks_groups"] and not info["ks"]:
            info["ks"] = list(zip(f["ks_groups"], f["ks_lens"]))
    return trans, info


def group_name(g):
    return GROUP_NAMES.get(g, hexv(g)) if g is not None else "?"


def check_server(frames, row, server, who, tag, w):
    """The server's hello against the row's expectations."""
    p = []
    hrr, sh, ske = server_hellos(frames, server)
    want = int(row["expect_version"], 16)
    if hrr is not None:
        w["hrr_group"] = group_name(hrr["group"])
        p.append(f"{tag}{who} sent a HelloRetryRequest (group {w['hrr_group']}): the browser "
                 "sent a share rtcsec takes, so it must get a ServerHello at once")
    if sh is None:
        w["server_hello_version"] = "?"
        p.append(f"{tag}no ServerHello from {who} in the capture")
        return p
    w["server_hello_version"] = hexv(sh["version"])
    if sh["version"] != want:
        p.append(f"{tag}the ServerHello selects {hexv(sh['version'])}, expected "
                 f"{row['expect_version']}")
    if sh["version"] == DTLS13:
        w["cipher"] = SUITE_NAMES.get(sh["suite"], hexv(sh["suite"]))
        w["group"] = group_name(sh["group"])
        w["server_share_len"] = sh["share_len"]
        if sh["suite"] != TLS_AES_128_GCM_SHA256:
            p.append(f"{tag}the ServerHello's cipher suite is {w['cipher']}, expected "
                     "TLS_AES_128_GCM_SHA256")
        if sh["group"] is None or sh["share_len"] != SERVER_SHARE_LEN.get(sh["group"]):
            p.append(f"{tag}the ServerHello's key_share is group {w['group']} with "
                     f"{sh['share_len']} bytes, not a well-formed share")
    elif ske is not None:
        w["group"] = group_name(ske)
    want_group = row.get("expect_group")
    if want_group and w.get("group") != want_group:
        p.append(f"{tag}the {who}'s key exchange group on the wire is {w.get('group', '?')}, "
                 f"expected {want_group}")
    return p


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
    p += check_server(mine, row, server, "rtcsec" if browser_is_client else "the browser", tag, w)
    trans, info = first_client_hello(mine, client)
    w["client_hello_sent"] = len(trans)
    w["offered_versions"] = [hexv(x) for x in info["supported"]]
    w["offered_profiles"] = [PROFILE_NAMES.get(x, hexv(x)) for x in info["profiles"]]
    w["offered_groups"] = [group_name(g) for g in info["groups"]]
    w["key_shares"] = [f"{GROUP_NAMES.get(g, hexv(g))}:{n}" for g, n in info["ks"]]
    if trans:
        w["client_hello_bytes"] = info["length"]
        w["client_hello_datagrams"] = [f["payload"] for f in trans[0]]
    if not browser_is_client:
        return p, w  # rtcsec's own ClientHello: recorded, not the point here
    if not trans:
        p.append(f"{tag}no ClientHello from the browser in the capture")
        return p, w
    offer13 = row.get("expect_offer13", True)
    if offer13 and DTLS13 not in info["supported"]:
        p.append(f"{tag}the browser's ClientHello does not offer DTLS 1.3 (FEFC): "
                 f"supported_versions {w['offered_versions']}")
    if not offer13 and DTLS13 in info["supported"]:
        p.append(f"{tag}the browser's ClientHello offers DTLS 1.3 (FEFC) although the case "
                 f"turned it off: supported_versions {w['offered_versions']}")
    want = int(row["expect_version"], 16)
    if want == DTLS13 and want not in info["supported"]:
        p.append(f"{tag}the browser's ClientHello does not offer the expected "
                 f"{row['expect_version']}")
    mlkem = (0x11EC, MLKEM_CLIENT_SHARE_LEN) in info["ks"]
    want_mlkem = row.get("expect_mlkem_share")
    if want_mlkem is True and not mlkem:
        p.append(f"{tag}the browser's ClientHello carries no {MLKEM_CLIENT_SHARE_LEN}-byte "
                 f"X25519MLKEM768 key share: key shares {w['key_shares'] or '(none)'}")
    if want_mlkem is False and any(g == 0x11EC for g, _ in info["ks"]):
        p.append(f"{tag}the browser's ClientHello carries an X25519MLKEM768 key share although "
                 "the case turned it off")
    # Listed without a share: rtcsec must take the x25519 share at once
    # (the HelloRetryRequest check above), not ask for the hybrid one.
    listed = 0x11EC in info["groups"]
    want_listed = row.get("expect_mlkem_listed")
    if want_listed is not None and listed != want_listed:
        p.append(f"{tag}the browser's supported_groups {'lists' if listed else 'does not list'} "
                 f"X25519MLKEM768, the case expects {'it' if want_listed else 'not'}: "
                 f"{w['offered_groups'] or '(none)'}")
    # The post-quantum share alone is 1216 bytes: such a ClientHello cannot
    # fit one datagram of the browsers' MTU.
    if mlkem and len(trans[0]) < 2:
        p.append(f"{tag}the browser's first ClientHello ({info['length']} bytes) came in "
                 f"{len(trans[0])} datagram(s), expected it split over at least 2")
    expected = offers.get(row["browser"])
    if expected is not None and info["profiles"] != expected:
        p.append(f"{tag}the browser's use_srtp offers {w['offered_profiles']}, the suite runs "
                 f"{[PROFILE_NAMES.get(x) for x in expected]} (update the driver's list)")
    return p, w


def describe(row, w):
    s = (f"  wire: {row['mode']}: {w.get('frames')} DTLS datagram(s) by {w.get('found_by')}; "
         f"ServerHello {w.get('server_hello_version')} {w.get('cipher', '')} group "
         f"{w.get('group', '?')}"
         f"{' (share ' + str(w['server_share_len']) + ' bytes)' if w.get('server_share_len') else ''}"
         f"{'; HelloRetryRequest for ' + w['hrr_group'] if w.get('hrr_group') else ''}")
    if w.get("client_hello_sent"):
        who = "browser" if row["rtcsec_role"] == "server" else "rtcsec"
        dg = "+".join(str(x) for x in w.get("client_hello_datagrams") or [])
        s += (f"; {who}'s ClientHello {w.get('client_hello_bytes')} bytes in datagrams of {dg}"
              f" bytes, sent {w['client_hello_sent']} time(s), offering versions "
              f"{','.join(w.get('offered_versions') or []) or '(legacy only)'}, use_srtp "
              f"{','.join(w.get('offered_profiles') or [])}, groups "
              f"{','.join(w.get('offered_groups') or []) or '-'}, key shares "
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
