#!/usr/bin/env python3
"""Writes the ML-KEM-768 test vectors of tests/test_mlkem.c (see README.md).

Reads the published vector files (data only) and keeps ML-KEM-768, one record
per line: a kind, then its fields separated by spaces, byte strings in lower-case
hex, coefficient lists as comma-separated decimals. Lines starting with '#' are
comments. The output is gzip'd without a timestamp, so reruns are identical.

Usage: convert.py ACVP_DIR CCTV_ML_KEM_DIR OUT_DIR
  ACVP_DIR: holds acvp_v1.1.0.40_{keyGen,encapDecap}_{prompt,expectedResults}.json
  CCTV_ML_KEM_DIR: C2SP/CCTV's ML-KEM/ folder (intermediate/, unluckysample/,
  strcmp/, modulus/)
"""
import gzip
import json
import os
import re
import sys

PARAM = "ML-KEM-768"


def hx(s):
    s = s.strip().lower()
    bytes.fromhex(s)  # refuse anything that is not hex
    return s


def write_gz(path, lines):
    data = ("\n".join(lines) + "\n").encode()
    with open(path, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="", compresslevel=9) as g:
            g.write(data)


def acvp(acvp_dir, version):
    def load(mode, kind):
        name = "acvp_v%s_%s_%s.json" % (version, mode, kind)
        with open(os.path.join(acvp_dir, name)) as f:
            return json.load(f)

    out = ["# NIST ACVP-Server v%s, gen-val/json-files/ML-KEM-{keyGen,encapDecap}-FIPS203:"
           % version,
           "# prompt.json joined with expectedResults.json, %s only." % PARAM]
    for mode in ("keyGen", "encapDecap"):
        prompt, expected = load(mode, "prompt"), load(mode, "expectedResults")
        results = {}
        for g in expected["testGroups"]:
            for t in g["tests"]:
                results[(g["tgId"], t["tcId"])] = t
        for g in prompt["testGroups"]:
            if g["parameterSet"] != PARAM:
                continue
            fn = g.get("function", "keyGen")
            for t in g["tests"]:
                r = results[(g["tgId"], t["tcId"])]
                if fn == "keyGen":
                    rec = ["keygen", hx(t["d"]), hx(t["z"]), hx(r["ek"]), hx(r["dk"])]
                elif fn == "encapsulation":
                    rec = ["encap", hx(t["ek"]), hx(t["m"]), hx(r["c"]), hx(r["k"])]
                elif fn == "decapsulation":
                    rec = ["decap", hx(t["dk"]), hx(t["c"]), hx(r["k"])]
                elif fn == "encapsulationKeyCheck":
                    rec = ["ekcheck", hx(t["ek"]), "1" if r["testPassed"] else "0"]
                elif fn == "decapsulationKeyCheck":
                    rec = ["dkcheck", hx(t["dk"]), "1" if r["testPassed"] else "0"]
                else:
                    raise SystemExit("unknown ACVP function " + fn)
                out.append(" ".join(rec + ["tc%d" % t["tcId"]]))
    return out


def kv_file(path):
    """CCTV's "name = value" files, as a list of (name, value) in order. A
    polynomial shown as coefficients reads "name = {c0, ...} = hex": the value
    is then the coefficient list."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(" = ")
            pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def coeffs(value):
    m = re.fullmatch(r"\{([0-9, ]*)\}", value)
    if not m:
        raise SystemExit("not a coefficient list: " + value[:40])
    nums = [int(x) for x in m.group(1).split(",")]
    assert len(nums) == 256
    return ",".join(str(x) for x in nums)


def cctv(cctv_dir):
    out = ["# C2SP CCTV ML-KEM (github.com/C2SP/CCTV, ML-KEM/), %s only." % PARAM,
           "# These are FIPS 203 ipd keys: (rho, sigma) = G(d), not G(d || k)."]
    # intermediate/: the first value of each name, in order of appearance.
    first = {}
    for name, value in kv_file(os.path.join(cctv_dir, "intermediate", PARAM + ".txt")):
        first.setdefault(name, value)
        if name == "r" and "," not in value and len(value) == 64:
            first["r32"] = value
    out.append(" ".join(["rhosigma", hx(first["d"]), hx(first["ρ"]), hx(first["σ"])]))
    out.append(" ".join(["samplentt", hx(first["ρ"]), "0", "0", coeffs(first["A[0, 0]"])]))
    out.append(" ".join(["matrix", hx(first["ρ"]), hx(first["A"])]))
    out.append(" ".join(["ntt", coeffs(first["s[0]"]), coeffs(first["NTT(s[0])"])]))
    out.append(" ".join(["compress", "10", coeffs(first["u[0]"]),
                         coeffs(first["compress(u[0])"])]))
    out.append(" ".join(["compress", "4", coeffs(first["v"]), coeffs(first["compress(v)"])]))
    out.append(" ".join(["ipdkeygen", hx(first["d"]), hx(first["z"]), hx(first["ek"]),
                         hx(first["dk"]), "intermediate"]))
    out.append(" ".join(["encap", hx(first["ek"]), hx(first["m"]), hx(first["c"]),
                         hx(first["K"]), "intermediate"]))
    out.append(" ".join(["decap", hx(first["dk"]), hx(first["c"]), hx(first["K"]),
                         "intermediate"]))
    out.append(" ".join(["jzc", hx(first["z"]), hx(first["c"]), hx(first["KBar"]),
                         "intermediate"]))
    # unluckysample/: d, z, ek, dk, m, K, c.
    u = dict(kv_file(os.path.join(cctv_dir, "unluckysample", PARAM + ".txt")))
    out.append(" ".join(["ipdkeygen", hx(u["d"]), hx(u["z"]), hx(u["ek"]), hx(u["dk"]),
                         "unlucky"]))
    out.append(" ".join(["unlucky", hx(u["ek"])]))
    out.append(" ".join(["encap", hx(u["ek"]), hx(u["m"]), hx(u["c"]), hx(u["K"]), "unlucky"]))
    out.append(" ".join(["decap", hx(u["dk"]), hx(u["c"]), hx(u["K"]), "unlucky"]))
    # strcmp/: dk, c, K.
    s = dict(kv_file(os.path.join(cctv_dir, "strcmp", PARAM + ".txt")))
    out.append(" ".join(["decap", hx(s["dk"]), hx(s["c"]), hx(s["K"]), "strcmp"]))
    # modulus/: one invalid encapsulation key a line.
    with gzip.open(os.path.join(cctv_dir, "modulus", PARAM + ".txt.gz"), "rt") as f:
        for line in f:
            if line.strip():
                out.append("badek " + hx(line))
    return out


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    acvp_dir, cctv_dir, out_dir = sys.argv[1:]
    write_gz(os.path.join(out_dir, "acvp-768.txt.gz"), acvp(acvp_dir, "1.1.0.40"))
    write_gz(os.path.join(out_dir, "cctv-768.txt.gz"), cctv(cctv_dir))


if __name__ == "__main__":
    main()
