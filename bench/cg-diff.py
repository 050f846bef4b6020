#!/usr/bin/env python3
"""Per-function instruction counts of two rtcsec-bench callgrind dumps, and
their difference: where the instructions one path adds over another go.

Usage:
  bench/cg-diff.py DIR CELL VARIANT BASELINE [--top N]
e.g.
  rtcsec-bench --callgrind=cg-out
  bench/cg-diff.py cg-out srtp.rtp.unprotect.160.gcm128 rtcsec libsrtp2

DIR is the --callgrind directory (its index-PID.txt files map each dump to
"cell|variant"; the newest index is used). Counts are exclusive (self) Ir
per packet (or per handshake), from callgrind_annotate --inclusive=no.
"""
import glob
import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(.*?)(?: \[(.*)\])?\s*$")


def dump_for(index, cell, variant):
    with open(index) as f:
        for line in f:
            path, name, _ = line.rstrip("\n").split("\t")
            if name == cell + "|" + variant:
                return path
    sys.exit("no dump for %s|%s in %s" % (cell, variant, index))


def count_and_total(path):
    count, total = 1.0, 0
    with open(path) as f:
        for line in f:
            if line.startswith("desc: Trigger: Client Request: "):
                count = float(line.rsplit("|", 1)[1])
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split(":", 1)[1].split()[0])
    return count, total


def self_costs(path):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no", path],
        check=True, capture_output=True, text=True).stdout
    costs, started = {}, False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        m = LINE.match(line)
        if not started or not m or "PROGRAM TOTALS" in line:
            continue
        fn = m.group(2)
        fn = fn.split(":", 1)[1] if ":" in fn else fn
        obj = os.path.basename(m.group(3) or "")
        key = "%s [%s]" % (fn, obj)
        costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return costs


def main():
    args = sys.argv[1:]
    top = 30
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 4:
        sys.exit(__doc__)
    d, cell, variant, baseline = args
    indexes = sorted(glob.glob(os.path.join(d, "index-*.txt")), key=os.path.getmtime)
    if not indexes:
        sys.exit("no index-*.txt in %s (run rtcsec-bench --callgrind=%s first)" % (d, d))
    a_path, b_path = dump_for(indexes[-1], cell, variant), dump_for(indexes[-1], cell, baseline)
    a, b = self_costs(a_path), self_costs(b_path)
    (na, sa), (nb, sb) = count_and_total(a_path), count_and_total(b_path)
    # The functions the measured loop was called from carry the whole
    # total in these dumps (collection was switched on below them): drop.
    for costs, total in ((a, sa), (b, sb)):
        for k in [k for k, v in costs.items() if v == total]:
            del costs[k]
    rows = []
    for k in set(a) | set(b):
        x, y = a.get(k, 0) / na, b.get(k, 0) / nb
        rows.append((x - y, x, y, k))
    rows.sort(key=lambda r: -abs(r[0]))
    ta, tb = sa / na, sb / nb
    print("%s: %s %.0f Ir vs %s %.0f Ir per unit: %+.0f" % (cell, variant, ta, baseline, tb, ta - tb))
    print("%9s %9s %9s  function [object]" % ("diff", variant[:9], baseline[:9]))
    for diff, x, y, k in rows[:top]:
        if abs(diff) < 0.5:
            break
        print("%+9.1f %9.1f %9.1f  %s" % (diff, x, y, k))


if __name__ == "__main__":
    main()
